/* Change history retention, tidekv's job rather than RocksDB's: RocksDB archives every WAL file
 * it no longer needs and never deletes one (storage/store.c), and a thread here, once a
 * second, deletes the archived files that wal-ttl-seconds and wal-size-limit-mb let go, except
 * those holding changes after an active consumer's position (cdc/consumers.h), and writes the
 * consumers' latest acknowledgements. */
#ifndef TIDEKV_RETENTION_H
#define TIDEKV_RETENTION_H

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
