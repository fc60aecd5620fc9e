/* The replica's half of a full sync (REPL-CONTEXT.md, README "Replication"): after the
 * master answered PSYNC with +FULLRESYNC <replid> <sequence> <checkpoint id>, the replica
 * downloads the checkpoint's files over the same link (FULLSYNC FILES, then FULLSYNC READ in
 * 4 MiB chunks) into a new directory beside its store, checks their sizes, syncs them, and
 * swaps that copy in as its store (dataset.h). Meanwhile it serves its old data. */
#ifndef TIDEKV_REPL_FULLSYNC_H
#define TIDEKV_REPL_FULLSYNC_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "util/buf.h"

/* The link's request/reply call (NULL: the link failed or the replica stops) and stop flag. */
typedef struct fullsync_link {
    redisContext *c;
    redisReply *(*call)(redisContext *c, int argc, const char **argv);
    int (*stopping)(void);
} fullsync_link;

/* The most a replica asks for in one FULLSYNC READ. */
#define FULLSYNC_CHUNK (4 * 1024 * 1024)

/* Downloads checkpoint id, which holds the master's data up to sequence, and makes it the
 * store. 0 once swapped in; -1 (logged) with the old data kept and the download removed. */
int fullsync_run(const fullsync_link *link, const char *id, uint64_t sequence);
/* INFO replication's master_sync_* lines: master_sync_in_progress, and while a download runs
 * its bytes and progress (Redis's names). */
void fullsync_info(buf *out);
/* Whether a full sync is under way (ROLE says "sync"). */
int fullsync_in_progress(void);

#endif
