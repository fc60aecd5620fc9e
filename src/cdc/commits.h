/* Splitting a WAL record back into the commits it holds. RocksDB's group commit writes the
 * batches of concurrent writers as one record; each of tidekv's begins with its change
 * record (LogData), which is where the next commit starts. */
#ifndef TIDEKV_COMMITS_H
#define TIDEKV_COMMITS_H

#include "cdc/batch.h"
#include "cdc/wal.h"
#include "util/buf.h"

typedef struct commit_split {
    const wal_batch *w;
    batch_reader r;
    const uint8_t *start, *at;
    uint32_t ops_before; /* sequences used by the commits already returned */
    buf raw;             /* the current commit rebuilt with its own header */
    int done;
} commit_split;

/* Returns -1 if the batch's header is unreadable. */
int commit_split_init(commit_split *cs, const wal_batch *w);
/* 1 with the next commit in *out (valid until the next call), 0 at the end, -1 if corrupt. */
int commit_split_next(commit_split *cs, wal_batch *out);
void commit_split_free(commit_split *cs);

/* The commit time in a batch's change record; 0 if it has none. */
int64_t commit_time_ms(const wal_batch *b);

#endif
