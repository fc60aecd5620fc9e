/* Change history retention, tidekv's job rather than RocksDB's: RocksDB archives every WAL file
 * it no longer needs and never deletes one (storage/store.c), and a thread here, once a
 * second, deletes the archived files that wal-ttl-seconds and wal-size-limit-mb let go, except
 * those holding changes after an active consumer's position (cdc/consumers.h) or a hold
 * (retention_hold), and writes the consumers' latest acknowledgements. */
#ifndef TIDEKV_RETENTION_H
#define TIDEKV_RETENTION_H

#include <stdint.h>

/* Keeps, beyond the limits, every WAL file holding a sequence after this one, until
 * retention_unhold(the handle returned): a replica's checkpoint pins the history it continues
 * from (repl/checkpoints.h). Taken when sequence is the latest, a hold is never late: a pass
 * that has not seen it deletes only files listed before it was taken, which hold nothing after
 * the latest sequence of that time. */
uint64_t retention_hold(uint64_t sequence);
void retention_unhold(uint64_t handle);

/* One pass: consumers over their cap become lost, then unpinned history past the limits goes. */
void retention_pass(void);
/* Keeps the thread from starting a pass (waiting for one under way), and lets it go on: a full
 * sync replaces the store in between. */
void retention_pause(void);
void retention_resume(void);
/* Starts the once-a-second thread; 0 or -1. */
int retention_start(void);
/* Stops it, after a last write of the consumers. */
void retention_stop(void);

#endif
