/* The string type: values stored whole in the metadata record, or as a bitmap (types/bitmap.h)
 * when SETBIT made the key or an edit made it long; both read as strings. */
#ifndef TIDEKV_TYPES_STRING_H
#define TIDEKV_TYPES_STRING_H

#include <stddef.h>
#include <stdint.h>

#include "storage/txn.h"
#include "types/status.h"
#include "util/buf.h"

/* A string read: value bytes and expiry. The value lives in raw. */
typedef struct string_val {
    buf raw;
    const char *ptr;
    size_t len;
    int64_t expire_ms;
    int exists;
} string_val;

void string_val_init(string_val *v);
void string_val_free(string_val *v);

/* Edits (SETBIT, SETRANGE, APPEND) leaving a string longer than this store it as a bitmap. */
#define STRING_BITMAP_MIN_BYTES (64 * 1024)

/* ST_OK, ST_MISSING, ST_WRONGTYPE, ST_CORRUPT or ST_ERROR. A bitmap reads as its whole string,
 * or ST_TOO_BIG when longer than proto-max-bulk-len (nothing is allocated then). */
type_status string_get(txn *t, int db, const char *key, size_t klen, string_val *out);
void string_put(txn *t, int db, const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms);

/* INCRBY: the new value in *result; keeps the key's expiry (returned in *expire_ms). */
type_status string_incrby(txn *t, int db, const char *key, size_t klen, long long by, long long *result,
                            int64_t *expire_ms);
/* INCRBYFLOAT: the new value's text in out. */
type_status string_incrbyfloat(txn *t, int db, const char *key, size_t klen, long double by, buf *out,
                                 int64_t *expire_ms);
/* GETRANGE: the bytes of [start, end] (Redis-style indexes) in out->ptr/len, empty if none;
 * ST_TOO_BIG for more than proto-max-bulk-len bytes of a bitmap. */
type_status string_get_range(txn *t, int db, const char *key, size_t klen, long long start, long long end,
                               string_val *out);
/* BITCOUNT over bytes [start, end] (Redis-style indexes); 0 for a missing key. */
type_status string_count_bits(txn *t, int db, const char *key, size_t klen, long long start, long long end,
                                long long *count);
/* BITPOS: the first bit equal to bit in [start, end] (Redis-style byte indexes, or bit indexes
 * when bits), -1 if none; a clear bit looked for with no end given is found past the value.
 * For a missing key, ST_MISSING with -1 for a set bit and 0 for a clear one. */
type_status string_bitpos(txn *t, int db, const char *key, size_t klen, int bit, long long start, long long end,
                            int bits, int has_end, long long *pos);
/* STRLEN (0 for a missing key). */
type_status string_strlen(txn *t, int db, const char *key, size_t klen, long long *len);
/* GETBIT (0 past the end or for a missing key). */
type_status string_read_bit(txn *t, int db, const char *key, size_t klen, uint64_t bit, int *value);
/* SETRANGE / APPEND (offset = current length): writes bytes at offset, zero-padding, keeping
 * the expiry (returned in *expire_ms); the new length in *new_len. */
type_status string_setrange(txn *t, int db, const char *key, size_t klen, long long offset, const char *bytes,
                              size_t blen, long long max_len, int append, long long *new_len, int64_t *expire_ms);
/* SETBIT, keeping the expiry (returned in *expire_ms): the old bit in *old. */
type_status string_setbit(txn *t, int db, const char *key, size_t klen, uint64_t bit, int on, int *old,
                            int64_t *expire_ms);

/* Pure helpers over a value. */
int string_getbit(const char *v, size_t len, uint64_t bit);
/* Population count of bytes [start, end] (inclusive, already clamped). */
long long string_bitcount(const char *v, long long start, long long end);
/* Normalizes Redis-style inclusive [start, end] indexes against len; returns 0 if the range is empty. */
int string_clamp_range(long long *start, long long *end, long long len);

#endif
