/* SNAPSHOT CREATE/READ/RELEASE/LIST's registry (shared/CDC.md): snapshots pinned at a sequence,
 * kept in memory until released, idle for their TTL, or the server stops. */
#ifndef TIDEKV_SNAPSHOTS_H
#define TIDEKV_SNAPSHOTS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

#define SNAPSHOT_ID_LEN 16 /* hex characters */

typedef enum { SNAPSHOT_OK, SNAPSHOT_TOO_MANY, SNAPSHOT_UNKNOWN } snapshot_status;

typedef struct snapshot_info {
    char id[SNAPSHOT_ID_LEN + 1];
    uint64_t sequence;  /* holds exactly the changes up to and including it */
    int64_t created_ms; /* wall time when taken: keys dead then are no part of it */
    int64_t read_ms;    /* last created or read (monotonic ms), for idle expiry */
    int ttl_s;
} snapshot_info;

/* A snapshot being read: it stays valid until snapshot_put, even if released meanwhile. */
typedef struct snapshot_ref {
    struct snapshot_entry *e;
    const store_snapshot *snap;
    snapshot_info info;
} snapshot_ref;

/* Takes a snapshot of the latest data (at most cdc-max-snapshots exist). */
snapshot_status snapshots_create(int ttl_s, snapshot_info *out);
/* Finds a snapshot to read and renews its TTL. */
snapshot_status snapshots_get(const char *id, size_t len, snapshot_ref *ref);
void snapshots_put(snapshot_ref *ref);
snapshot_status snapshots_release(const char *id, size_t len);
/* A copy of every snapshot's info (malloc'd, *n of them), oldest first. */
snapshot_info *snapshots_all(size_t *n);
size_t snapshots_count(void);
/* Releases the snapshots idle for longer than their TTL (also done on every access). */
void snapshots_expire(void);
/* Releases them all (shutdown). */
void snapshots_close(void);

#endif
