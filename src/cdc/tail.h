/* The tail cache: the most recent committed batches, kept in memory in sequence order, so
 * consumers that follow the stream closely read it without touching the WAL. Older
 * positions are read from the WAL (cdc/wal.h). */
#ifndef TIDEKV_TAIL_H
#define TIDEKV_TAIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Sets the memory budget (bytes of batches kept); 0 disables the cache. */
void tail_init(size_t capacity_bytes);
void tail_free(void);
/* Records a committed batch; its header carries the sequence RocksDB assigned. */
void tail_append(const char *batch, size_t len);

typedef enum {
    TAIL_TOO_OLD,  /* from is before what the cache holds: read the WAL */
    TAIL_OK,       /* batches (possibly none yet) were copied */
} tail_status;

/* Copies up to max_batches whole batches holding sequences >= from, in order and without
 * gaps, into out as [u32 length][bytes] records; *n is how many. */
tail_status tail_read(uint64_t from, int max_batches, buf *out, int *n);

#endif
