/* The replication history this node belongs to (Redis's PSYNC2 ids): replid names it;
 * replid2 names the history it continued from when it was promoted, up to (not including)
 * second_offset. Offsets are sequence numbers, the same on every node of a history. Kept in
 * <dir>/replication-id, never in RocksDB (a write there would take a sequence number). */
#ifndef TIDEKV_REPL_IDENTITY_H
#define TIDEKV_REPL_IDENTITY_H

#include <stdint.h>

#define REPLID_LEN 40

/* Whether s is a replid: 40 lowercase hex digits. */
int identity_is_replid(const char *s);

typedef struct repl_identity {
    char replid[REPLID_LEN + 1];
    char replid2[REPLID_LEN + 1]; /* 40 zeros when there is none */
    int64_t second_offset;        /* -1 when there is none */
    int following;                /* the node followed a master when it last adopted or promoted */
} repl_identity;

/* A new random id of 40 lowercase hex characters (replids, the run id, checkpoint ids). */
void identity_new_id(char out[REPLID_LEN + 1]);
/* Loads the identity from dir, or makes a new one (and saves it) if there is none. 0 or -1. */
int identity_load(const char *dir);
/* A copy of the current identity (safe from any thread). */
repl_identity identity_get(void);
/* A replica adopts its master's history once it follows it, holding everything before
 * next_sequence; the history it leaves becomes replid2 (its own replicas continue from it, as
 * in Redis). 1 if the history changed, 0 if not, -1 if it cannot be saved. */
int identity_adopt(const char *master_replid, uint64_t next_sequence);
/* After a full sync the node holds its master's data and history only: it takes the master's
 * replid, with no replid2 (its own history is gone). 0, or -1 if it cannot be saved. */
int identity_replace(const char *master_replid);
/* A promoted replica starts a new history that continues the old one from next_sequence. */
int identity_promote(uint64_t next_sequence);
/* The 40 hex characters INFO shows as run_id: new at every start of the process (Sentinel
 * notices restarts by it). */
const char *identity_run_id(void);
/* Whether a replica of history replid, holding everything up to sequence, belongs to ours. */
int identity_knows(const char *replid, uint64_t sequence);

#endif
