/* When acknowledged writes reach the disk (the appendfsync option). Every write is appended
 * to RocksDB's WAL before its reply, so a process crash loses nothing; a power loss loses
 * what the OS had not yet written out. The WAL is synced:
 *   always   — before the reply: a write's reply is held until a sync covers it, and one sync
 *              covers every write made meanwhile, by all clients (group commit);
 *   everysec — by a background thread once a second (at most about a second lost);
 *   no       — never by tidekv (the OS decides). */
#ifndef TIDEKV_DURABLE_H
#define TIDEKV_DURABLE_H

#include <stdint.h>

enum fsync_mode { FSYNC_ALWAYS = 0, FSYNC_EVERYSEC = 1, FSYNC_NO = 2 };

/* Starts the sync thread; after_sync runs on it after every sync attempt, successful or
 * not. 0 or -1. */
int durable_start(void (*after_sync)(void));
/* Stops the thread (after a last sync, whatever the mode). */
void durable_stop(void);
/* Keeps the thread from syncing (waiting for a sync under way), and lets it go on (reopened: over
 * a store opened meanwhile, which a full sync swapped in). */
void durable_pause(void);
void durable_resume(int reopened);
/* Every write with a sequence up to this one is on disk. */
uint64_t durable_synced_sequence(void);
/* Asks for a sync soon (a reply is waiting for one). */
void durable_request_sync(void);
/* How many syncs ran, and how many failed. */
uint64_t durable_sync_count(void);
uint64_t durable_sync_failures(void);

#endif
