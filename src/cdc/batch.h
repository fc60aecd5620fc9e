/* Decoder for the raw RocksDB write-batch format (what WAL iterators return and RAW shows).
 *
 * Layout: sequence u64 LE | count u32 LE | records. Each record is a tag byte, a varint32
 * column family id for the *_CF tags, then varint32-length-prefixed slices: key and value
 * for puts and merges, key for deletes, begin and end for range deletes, a blob for LogData.
 * Every record but LogData and the transaction markers consumes one sequence number. */
#ifndef TIDEKV_BATCH_H
#define TIDEKV_BATCH_H

#include <stddef.h>
#include <stdint.h>

#define BATCH_HEADER_SIZE 12

typedef enum {
    BATCH_PUT,
    BATCH_DELETE,
    BATCH_SINGLE_DELETE,
    BATCH_DELETE_RANGE,
    BATCH_MERGE,
    BATCH_LOG_DATA,
    BATCH_BLOB_INDEX,
    BATCH_PUT_ENTITY, /* a wide-column put */
    BATCH_MARKER, /* noop, prepare/commit/rollback markers: no data */
} batch_op;

typedef struct batch_slice {
    const char *ptr;
    size_t len;
} batch_slice;

typedef struct batch_record {
    batch_op op;
    uint32_t cf;
    batch_slice key;   /* key, range begin, or LogData blob */
    batch_slice value; /* value, range end, or xid for markers */
} batch_record;

typedef struct batch_reader {
    const uint8_t *pos, *end;
    uint64_t sequence;
    uint32_t count;
    uint32_t seen; /* records that consumed a sequence number so far */
} batch_reader;

/* Writes a batch header: sequence and count, little-endian. */
void batch_write_header(uint8_t out[BATCH_HEADER_SIZE], uint64_t sequence, uint32_t count);
/* Reads the header; returns 0, or -1 if data is shorter than a header. */
int batch_reader_init(batch_reader *r, const char *data, size_t len);
/* Reads the next record: 1 with *rec filled, 0 at the end, -1 if corrupt or truncated
 * (an unknown tag, a slice running past the end, or more records than the header's count). */
int batch_reader_next(batch_reader *r, batch_record *rec);
/* Walks a whole batch to check it; returns 0 if well formed and its count matches. */
int batch_validate(const char *data, size_t len);

#endif
