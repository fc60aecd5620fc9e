#include "types/string.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "types/keyspace.h"
#include "util/num.h"

void string_val_init(string_val *v) {
    memset(v, 0, sizeof(*v));
    buf_init(&v->raw);
}

void string_val_free(string_val *v) { buf_free(&v->raw); }

string_status string_get(txn *t, int db, const char *key, size_t klen, string_val *out) {
    meta m;
    int rc = ks_lookup(t, db, key, klen, &m, &out->raw);
    if (rc == KS_ERROR) return ST_ERROR;
    if (rc == KS_CORRUPT) return ST_CORRUPT;
    if (rc == KS_MISSING) return ST_MISSING;
    if (m.type != TYPE_STRING) return ST_WRONGTYPE;
    out->ptr = m.value;
    out->len = m.value_len;
    out->expire_ms = m.expire_ms;
    out->exists = 1;
    return ST_OK;
}

void string_put(txn *t, int db, const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms) {
    buf mk, value;
    buf_init(&mk);
    buf_init(&value);
    enc_meta_key(&mk, db, key, klen);
    enc_string_meta(&value, expire_ms, val, vlen);
    txn_put(t, CF_METADATA, mk.data, mk.len, value.data, value.len);
    txn_touch(t, db, key, klen);
    buf_free(&mk);
    buf_free(&value);
}

/* Reads a string that a write will modify: a missing key reads as empty, no expiry. */
static string_status read_for_update(txn *t, int db, const char *key, size_t klen, string_val *v) {
    string_status s = string_get(t, db, key, klen, v);
    if (s == ST_MISSING) {
        v->ptr = "";
        v->len = 0;
        v->expire_ms = 0;
        return ST_OK;
    }
    return s;
}

string_status string_incrby(txn *t, int db, const char *key, size_t klen, long long by, long long *result,
                            int64_t *expire_ms) {
    string_val v;
    string_val_init(&v);
    string_status s = read_for_update(t, db, key, klen, &v);
    long long cur = 0;
    if (s == ST_OK && v.exists && num_parse_ll(v.ptr, v.len, &cur) < 0) s = ST_NOT_INTEGER;
    if (s == ST_OK && ((by < 0 && cur < LLONG_MIN - by) || (by > 0 && cur > LLONG_MAX - by))) s = ST_OVERFLOW;
    if (s == ST_OK) {
        char text[32];
        *result = cur + by;
        *expire_ms = v.expire_ms;
        string_put(t, db, key, klen, text, num_format_ll(text, *result), v.expire_ms);
    }
    string_val_free(&v);
    return s;
}

string_status string_incrbyfloat(txn *t, int db, const char *key, size_t klen, long double by, buf *out,
                                 int64_t *expire_ms) {
    string_val v;
    string_val_init(&v);
    string_status s = read_for_update(t, db, key, klen, &v);
    long double cur = 0;
    if (s == ST_OK && v.exists && num_parse_ld(v.ptr, v.len, &cur) < 0) s = ST_NOT_FLOAT;
    if (s == ST_OK) {
        long double result = cur + by;
        if (isnan(result) || isinf(result)) {
            s = ST_NAN_OR_INF;
        } else {
            char text[5120];
            size_t n = num_format_ld(text, sizeof(text), result);
            buf_append(out, text, n);
            *expire_ms = v.expire_ms;
            string_put(t, db, key, klen, text, n, v.expire_ms);
        }
    }
    string_val_free(&v);
    return s;
}

string_status string_setrange(txn *t, int db, const char *key, size_t klen, long long offset, const char *bytes,
                              size_t blen, long long max_len, int append, buf *out, int64_t *expire_ms) {
    string_val v;
    string_val_init(&v);
    string_status s = read_for_update(t, db, key, klen, &v);
    if (s == ST_OK) {
        if (append) offset = (long long)v.len;
        if ((long long)blen > max_len || offset > max_len - (long long)blen) { /* no overflow */
            s = ST_TOO_BIG;
        } else {
            buf_append(out, v.ptr, v.len);
            size_t need = (size_t)offset + blen;
            if (need > out->len) {
                buf_reserve(out, need - out->len);
                memset(out->data + out->len, 0, need - out->len);
                out->len = need;
            }
            if (blen) memcpy(out->data + offset, bytes, blen);
            *expire_ms = v.expire_ms;
            string_put(t, db, key, klen, out->data ? out->data : "", out->len, v.expire_ms);
        }
    }
    string_val_free(&v);
    return s;
}

int string_getbit(const char *v, size_t len, uint64_t bit) {
    uint64_t byte = bit >> 3;
    if (byte >= len) return 0;
    /* Redis numbers bits from the most significant bit of the first byte. */
    return ((uint8_t)v[byte] >> (7 - (bit & 7))) & 1;
}

string_status string_setbit(txn *t, int db, const char *key, size_t klen, uint64_t bit, int on, int *old, buf *out,
                            int64_t *expire_ms) {
    string_val v;
    string_val_init(&v);
    string_status s = read_for_update(t, db, key, klen, &v);
    if (s == ST_OK) {
        *old = string_getbit(v.ptr, v.len, bit);
        buf_append(out, v.ptr, v.len);
        size_t need = (size_t)(bit >> 3) + 1;
        if (need > out->len) {
            buf_reserve(out, need - out->len);
            memset(out->data + out->len, 0, need - out->len);
            out->len = need;
        }
        uint8_t mask = (uint8_t)(1 << (7 - (bit & 7)));
        uint8_t *byte = (uint8_t *)out->data + (bit >> 3);
        *byte = on ? (*byte | mask) : (*byte & (uint8_t)~mask);
        *expire_ms = v.expire_ms;
        string_put(t, db, key, klen, out->data, out->len, v.expire_ms);
    }
    string_val_free(&v);
    return s;
}

long long string_bitcount(const char *v, long long start, long long end) {
    long long count = 0;
    for (long long i = start; i <= end; i++) count += __builtin_popcount((uint8_t)v[i]);
    return count;
}

int string_clamp_range(long long *start, long long *end, long long len) {
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= len) *end = len - 1;
    return !(len == 0 || *start > *end);
}
