/* Reading committed write batches back from RocksDB's write-ahead log, in order.
 * Cursors are pooled: a poll that continues where the previous one ended reuses the
 * previous WAL iterator instead of seeking from the start of a WAL file again. */
#ifndef TIDEKV_WAL_H
#define TIDEKV_WAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct wal_batch {
    uint64_t sequence; /* first sequence of the batch */
    uint32_t count;    /* sequences it uses: sequence … sequence+count-1 */
    const char *data;  /* raw batch bytes, valid until the next wal_next or wal_close */
    size_t len;
} wal_batch;

typedef struct wal_cursor wal_cursor;

/* A cursor over the batches holding sequences >= from. */
wal_cursor *wal_open(uint64_t from);
/* 1 with the next batch, 0 at the end of the log, -1 on a read error (message in *err, malloc'd). */
int wal_next(wal_cursor *c, wal_batch *b, char **err);
/* Returns the cursor to the pool, ready to continue at its next sequence. */
void wal_close(wal_cursor *c);
/* The oldest sequence still in the log (0 if the log is empty). */
uint64_t wal_oldest_sequence(void);
/* The same, computed at most once a second (for every poll). */
uint64_t wal_oldest_sequence_recent(void);
/* Drops every pooled cursor (at shutdown). */
void wal_pool_clear(void);
/* Forgets everything read from the WAL (pooled cursors, the oldest sequence, the files' first
 * sequences): another store took the place of the one read (a full sync). */
void wal_forget(void);

#endif
