#include "types/string.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "config.h"
#include "types/bitmap.h"
#include "types/compound.h"
#include "types/keyspace.h"
#include "util/num.h"

void string_val_init(string_val *v) {
    memset(v, 0, sizeof(*v));
    buf_init(&v->raw);
}

void string_val_free(string_val *v) { buf_free(&v->raw); }

/* The status of a bitmap operation's result. */
static type_status bitmap_status(int rc) {
    if (rc == BITMAP_CORRUPT) return ST_CORRUPT;
    return rc < 0 ? ST_ERROR : ST_OK;
}

/* Whether a value of that many bytes is too long to read whole: a bitmap's size is only a
 * number, so a wrong one must not make a reply allocate it. */
static int too_long_to_read(uint64_t len) { return len > (uint64_t)CONFIG_READ(proto_max_bulk_len); }

/* A bitmap read as the string it holds. */
static type_status read_bitmap(txn *t, int db, const char *key, size_t klen, const meta *m, string_val *out) {
    compound c;
    compound_attach(&c, t, db, key, klen, m, 1);
    type_status s = bitmap_status(bitmap_read(&c, &out->raw)); /* the metadata record in raw is no longer needed */
    compound_free(&c);
    if (s != ST_OK) return s;
    out->ptr = out->raw.data;
    out->len = out->raw.len;
    out->expire_ms = m->expire_ms;
    out->exists = 1;
    return ST_OK;
}

/* string_get, but a bitmap longer than max bytes answers too_long without being read. */
static type_status read_value(txn *t, int db, const char *key, size_t klen, string_val *out, uint64_t max,
                                type_status too_long) {
    meta m;
    int rc = ks_lookup(t, db, key, klen, &m, &out->raw);
    if (rc == KS_ERROR) return ST_ERROR;
    if (rc == KS_CORRUPT) return ST_CORRUPT;
    if (rc == KS_MISSING) return ST_MISSING;
    if (m.type == TYPE_BITMAP) return m.size > max ? too_long : read_bitmap(t, db, key, klen, &m, out);
    if (m.type != TYPE_STRING) {
        out->expire_ms = m.expire_ms; /* SET … KEEPTTL over another type keeps it, as in Redis */
        return ST_WRONGTYPE;
    }
    out->ptr = m.value;
    out->len = m.value_len;
    out->expire_ms = m.expire_ms;
    out->exists = 1;
    return ST_OK;
}

type_status string_get(txn *t, int db, const char *key, size_t klen, string_val *out) {
    return read_value(t, db, key, klen, out, (uint64_t)CONFIG_READ(proto_max_bulk_len), ST_TOO_BIG);
}

/* A string's or a bitmap's length in bytes. */
static long long value_length(const meta *m) {
    return m->type == TYPE_BITMAP ? (long long)m->size : (long long)m->value_len;
}

/* Looks a key up for a string command that reads no whole value: ST_OK with its metadata
 * (a string's value then points into raw), ST_MISSING, ST_WRONGTYPE, ST_CORRUPT or ST_ERROR. */
static type_status lookup(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw) {
    int rc = ks_lookup(t, db, key, klen, m, raw);
    if (rc == KS_ERROR) return ST_ERROR;
    if (rc == KS_CORRUPT) return ST_CORRUPT;
    if (rc == KS_MISSING) return ST_MISSING;
    return m->type == TYPE_STRING || m->type == TYPE_BITMAP ? ST_OK : ST_WRONGTYPE;
}

type_status string_get_range(txn *t, int db, const char *key, size_t klen, long long start, long long end,
                               string_val *out) {
    meta m;
    type_status s = lookup(t, db, key, klen, &m, &out->raw);
    out->ptr = "";
    out->len = 0;
    if (s != ST_OK) return s;
    long long len = value_length(&m);
    if ((start < 0 && end < 0 && start > end) || !string_clamp_range(&start, &end, len)) return ST_OK;
    if (m.type == TYPE_STRING) {
        out->ptr = m.value + start;
        out->len = (size_t)(end - start + 1);
        return ST_OK;
    }
    if (too_long_to_read((uint64_t)(end - start) + 1)) return ST_TOO_BIG;
    /* Only the fragments in the range: a few bytes of a 512 MB bitmap cost one read. */
    out->len = (size_t)(end - start + 1);
    compound c;
    compound_attach(&c, t, db, key, klen, &m, 1);
    s = bitmap_status(bitmap_read_range(&c, (uint64_t)start, out->len, &out->raw));
    compound_free(&c);
    out->ptr = out->raw.data;
    if (s != ST_OK) out->len = 0;
    return s;
}

type_status string_count_bits(txn *t, int db, const char *key, size_t klen, long long start, long long end,
                                long long *count) {
    meta m;
    buf raw;
    buf_init(&raw);
    *count = 0;
    type_status s = lookup(t, db, key, klen, &m, &raw);
    if (s == ST_OK && !(start < 0 && end < 0 && start > end) && string_clamp_range(&start, &end, value_length(&m))) {
        if (m.type == TYPE_STRING) {
            *count = string_bitcount(m.value, start, end);
        } else {
            /* Over the fragments that exist: a sparse 512 MB bitmap is not assembled. */
            compound c;
            compound_attach(&c, t, db, key, klen, &m, 1);
            s = bitmap_status(bitmap_count(&c, (uint64_t)start, (uint64_t)end, count));
            compound_free(&c);
        }
    }
    buf_free(&raw);
    return s;
}

/* The first bit equal to `bit` in [first, last] (bit positions within the value); -1 if none. */
static long long find_bit(const char *v, size_t len, int bit, long long first, long long last) {
    uint8_t skip = bit ? 0x00 : 0xFF;
    for (long long b = first; b <= last;) {
        if ((b & 7) == 0 && b + 7 <= last && (uint8_t)v[b >> 3] == skip) {
            b += 8;
            continue;
        }
        if (string_getbit(v, len, (uint64_t)b) == bit) return b;
        b++;
    }
    return -1;
}

/* BITPOS over a key found, as string_bitpos. */
static type_status bitpos_found(compound *c, int bit, long long start, long long end, int bits, int has_end,
                                  long long *pos) {
    long long len = value_length(&c->m), total = bits ? len * 8 : len;
    /* A bitmap's size is only a number: no bit positions past any real string. */
    if (too_long_to_read((uint64_t)len)) return ST_TOO_BIG;
    if ((start < 0 && end < 0 && start > end) || !string_clamp_range(&start, &end, total)) return ST_OK;
    long long first = bits ? start : start * 8, last = bits ? end : end * 8 + 7;
    type_status s = ST_OK;
    if (c->m.type == TYPE_STRING)
        *pos = find_bit(c->m.value, c->m.value_len, bit, first, last);
    else
        s = bitmap_status(bitmap_find_bit(c, bit, (uint64_t)first, (uint64_t)last, pos));
    if (s == ST_OK && *pos < 0 && bit == 0 && !has_end) *pos = last + 1; /* the bits past the value are clear */
    return s;
}

type_status string_bitpos(txn *t, int db, const char *key, size_t klen, int bit, long long start, long long end,
                            int bits, int has_end, long long *pos) {
    meta m;
    buf raw;
    buf_init(&raw);
    type_status s = lookup(t, db, key, klen, &m, &raw);
    *pos = s == ST_MISSING && !bit ? 0 : -1;
    if (s == ST_OK) {
        compound c;
        compound_attach(&c, t, db, key, klen, &m, 1);
        s = bitpos_found(&c, bit, start, end, bits, has_end, pos);
        compound_free(&c);
    }
    buf_free(&raw);
    return s;
}

type_status string_strlen(txn *t, int db, const char *key, size_t klen, long long *len) {
    meta m;
    buf raw;
    buf_init(&raw);
    type_status s = lookup(t, db, key, klen, &m, &raw);
    *len = s == ST_OK ? value_length(&m) : 0;
    buf_free(&raw);
    return s;
}

type_status string_read_bit(txn *t, int db, const char *key, size_t klen, uint64_t bit, int *value) {
    meta m;
    buf raw;
    buf_init(&raw);
    *value = 0;
    type_status s = lookup(t, db, key, klen, &m, &raw);
    if (s == ST_OK && m.type == TYPE_BITMAP) {
        compound c;
        compound_attach(&c, t, db, key, klen, &m, 1);
        s = bitmap_status(bitmap_getbit(&c, bit, value));
        compound_free(&c);
    } else if (s == ST_OK) {
        *value = string_getbit(m.value, m.value_len, bit);
    }
    buf_free(&raw);
    return s;
}

void string_put(txn *t, int db, const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms) {
    buf mk, header;
    buf_init(&mk);
    buf_init(&header);
    enc_meta_key(&mk, db, key, klen);
    enc_string_meta(&header, expire_ms, NULL, 0);
    txn_put_parts(t, CF_METADATA, mk.data, mk.len, header.data, header.len, val, vlen); /* no copy of a big value */
    txn_touch(t, db, key, klen);
    buf_free(&mk);
    buf_free(&header);
}

/* Reads a string that a write will modify: a missing key reads as empty, no expiry. */
/* Longer than any number INCR or INCRBYFLOAT reads (Redis's limit for a long double's text). */
#define NUMBER_MAX_BYTES 5120

/* The value INCR … INCRBYFLOAT change (empty if missing); a bitmap too long to hold a number
 * answers not_a_number without being assembled. */
static type_status read_for_update(txn *t, int db, const char *key, size_t klen, string_val *v,
                                     type_status not_a_number) {
    type_status s = read_value(t, db, key, klen, v, NUMBER_MAX_BYTES, not_a_number);
    if (s == ST_MISSING) {
        v->ptr = "";
        v->len = 0;
        v->expire_ms = 0;
        return ST_OK;
    }
    return s;
}

type_status string_incrby(txn *t, int db, const char *key, size_t klen, long long by, long long *result,
                            int64_t *expire_ms) {
    string_val v;
    string_val_init(&v);
    type_status s = read_for_update(t, db, key, klen, &v, ST_NOT_INTEGER);
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

type_status string_incrbyfloat(txn *t, int db, const char *key, size_t klen, long double by, buf *out,
                                 int64_t *expire_ms) {
    string_val v;
    string_val_init(&v);
    type_status s = read_for_update(t, db, key, klen, &v, ST_NOT_FLOAT);
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

/* Opens a key that SETBIT, SETRANGE or APPEND edits: ST_OK with a bitmap (c->found) or a
 * string (c->m.type, its value in c->raw), ST_MISSING with c a new, empty bitmap,
 * ST_WRONGTYPE or ST_ERROR. */
static type_status open_for_edit(compound *c, txn *t, int db, const char *key, size_t klen) {
    int rc = compound_open(c, t, db, key, klen, TYPE_BITMAP);
    if (rc == CK_ERROR) return ST_ERROR;
    if (rc == CK_CORRUPT) return ST_CORRUPT;
    if (rc == CK_WRONGTYPE) return c->m.type == TYPE_STRING ? ST_OK : ST_WRONGTYPE;
    return rc == CK_FOUND ? ST_OK : ST_MISSING;
}

/* The key's string value (empty if missing), zero-extended to at least len bytes, into out. */
static void copy_extended(const compound *c, size_t len, buf *out) {
    buf_append(out, c->m.value, c->m.value_len);
    if (out->len < len) {
        buf_reserve(out, len - out->len);
        memset(out->data + out->len, 0, len - out->len);
        out->len = len;
    }
}

/* Starts a bitmap b in place of c's string, holding its value, with its expiry: an edit that
 * leaves a string long goes to the bitmap, so that neither it nor the next edit rewrites the
 * whole value (nor fills a far offset's gap with zeros). */
static type_status string_to_bitmap(compound *c, compound *b) {
    meta fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.type = TYPE_BITMAP;
    fresh.expire_ms = c->m.expire_ms;
    fresh.version = enc_new_version();
    compound_attach(b, c->t, c->db, c->key, c->klen, &fresh, 0);
    return bitmap_status(bitmap_write(b, 0, c->m.value ? c->m.value : "", c->m.value_len));
}

/* Whether an edit of c's string that reaches `len` bytes leaves it long enough for a bitmap. */
static int edit_makes_long(const compound *c, uint64_t len) {
    return (len > c->m.value_len ? len : c->m.value_len) > STRING_BITMAP_MIN_BYTES;
}

type_status string_setrange(txn *t, int db, const char *key, size_t klen, long long offset, const char *bytes,
                              size_t blen, long long max_len, int append, long long *new_len, int64_t *expire_ms) {
    compound c;
    type_status s = open_for_edit(&c, t, db, key, klen);
    *expire_ms = c.m.expire_ms;
    if (s == ST_OK || s == ST_MISSING) {
        long long cur = value_length(&c.m);
        if (append) offset = cur;
        if ((long long)blen > max_len || offset > max_len - (long long)blen) { /* no overflow */
            s = ST_TOO_BIG;
        } else if (c.m.type == TYPE_BITMAP && (c.found || offset + (long long)blen > STRING_BITMAP_MIN_BYTES)) {
            /* A bitmap, or a long new string: written fragment by fragment, gaps left sparse. */
            s = bitmap_status(bitmap_write(&c, (uint64_t)offset, bytes, blen));
            *new_len = (long long)c.m.size;
        } else if (edit_makes_long(&c, (uint64_t)offset + blen)) {
            compound b;
            s = string_to_bitmap(&c, &b);
            if (s == ST_OK) s = bitmap_status(bitmap_write(&b, (uint64_t)offset, bytes, blen));
            *new_len = (long long)b.m.size;
            compound_free(&b);
        } else {
            buf value;
            buf_init(&value);
            copy_extended(&c, (size_t)offset + blen, &value);
            if (blen) memcpy(value.data + offset, bytes, blen);
            string_put(t, db, key, klen, value.data ? value.data : "", value.len, c.m.expire_ms);
            *new_len = (long long)value.len;
            buf_free(&value);
        }
    }
    compound_free(&c);
    return s;
}

int string_getbit(const char *v, size_t len, uint64_t bit) {
    uint64_t byte = bit >> 3;
    if (byte >= len) return 0;
    /* Redis numbers bits from the most significant bit of the first byte. */
    return ((uint8_t)v[byte] >> (7 - (bit & 7))) & 1;
}

type_status string_setbit(txn *t, int db, const char *key, size_t klen, uint64_t bit, int on, int *old,
                            int64_t *expire_ms) {
    compound c;
    type_status s = open_for_edit(&c, t, db, key, klen);
    *expire_ms = c.m.expire_ms;
    if (s == ST_MISSING || (s == ST_OK && c.found)) {
        /* A missing key becomes a bitmap, as in Kvrocks: a far bit costs one fragment. */
        s = bitmap_status(bitmap_setbit(&c, bit, on, old));
    } else if (s == ST_OK && edit_makes_long(&c, (bit >> 3) + 1)) {
        compound b;
        s = string_to_bitmap(&c, &b);
        if (s == ST_OK) s = bitmap_status(bitmap_setbit(&b, bit, on, old));
        compound_free(&b);
    } else if (s == ST_OK) {
        *old = string_getbit(c.m.value, c.m.value_len, bit);
        buf value;
        buf_init(&value);
        copy_extended(&c, (size_t)(bit >> 3) + 1, &value);
        uint8_t mask = (uint8_t)(1 << (7 - (bit & 7)));
        uint8_t *byte = (uint8_t *)value.data + (bit >> 3);
        *byte = on ? (*byte | mask) : (*byte & (uint8_t)~mask);
        string_put(t, db, key, klen, value.data, value.len, c.m.expire_ms);
        buf_free(&value);
    }
    compound_free(&c);
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
