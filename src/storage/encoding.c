#include "storage/encoding.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/num.h"
#include "util/timeutil.h"

void enc_namespace(buf *out, int db) {
    char ns[32];
    int n = db == 0 ? snprintf(ns, sizeof(ns), "__namespace") : snprintf(ns, sizeof(ns), "__db%d", db);
    buf_put_u8(out, (uint8_t)n);
    buf_append(out, ns, (size_t)n);
}

int enc_namespace_db(const char *key, size_t len, size_t *ns_total) {
    if (len < 1 || (size_t)(uint8_t)key[0] + 1 > len) return -1;
    size_t ns_len = (uint8_t)key[0];
    *ns_total = ns_len + 1;
    if (ns_len == 11 && memcmp(key + 1, "__namespace", 11) == 0) return 0;
    long long db;
    if (ns_len > 4 && memcmp(key + 1, "__db", 4) == 0 && num_parse_ll(key + 5, ns_len - 4, &db) == 0 && db > 0 &&
        db < 0x7fffffff)
        return (int)db;
    return -1;
}

void enc_meta_key(buf *out, int db, const char *key, size_t klen) {
    enc_namespace(out, db);
    buf_append(out, key, klen);
}

void enc_subkey_length_prefix(buf *out, int db, size_t klen) {
    enc_namespace(out, db);
    buf_put_u32be(out, (uint32_t)klen);
}

void enc_subkey(buf *out, int db, const char *key, size_t klen, uint64_t version, const char *sub, size_t sublen) {
    enc_subkey_length_prefix(out, db, klen);
    buf_append(out, key, klen);
    buf_put_u64be(out, version);
    buf_append(out, sub, sublen);
}

void enc_prefix_end(buf *out, const char *prefix, size_t len) {
    /* Drop trailing 0xFF bytes, then increment the last one: the smallest key past the prefix. */
    while (len > 0 && (uint8_t)prefix[len - 1] == 0xFF) len--;
    buf_append(out, prefix, len);
    if (len > 0) out->data[out->len - 1] = (char)((uint8_t)out->data[out->len - 1] + 1);
}

void enc_string_meta(buf *out, int64_t expire_ms, const char *value, size_t len) {
    buf_put_u8(out, META_FLAG_64BIT | TYPE_STRING);
    buf_put_u64be(out, (uint64_t)expire_ms);
    buf_append(out, value, len);
}

void enc_compound_meta(buf *out, const meta *m) {
    /* Room for the longest (a stream's) at once, rather than growing it a field at a time. */
    buf_reserve(out, META_COMPOUND_HEADER + META_STREAM_EXTRAS_MAX);
    buf_put_u8(out, META_FLAG_64BIT | (uint8_t)m->type);
    buf_put_u64be(out, (uint64_t)m->expire_ms);
    buf_put_u64be(out, m->version);
    buf_put_u64be(out, m->size);
    if (m->type == TYPE_LIST) {
        buf_put_u64be(out, m->list_head);
        buf_put_u64be(out, m->list_tail);
    }
    if (m->type == TYPE_STREAM) {
        const stream_extras *x = &m->stream;
        const stream_id *ids[] = {&x->last_generated, &x->recorded_first, &x->max_deleted, &x->first, &x->last};
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            buf_put_u64be(out, ids[i]->ms);
            buf_put_u64be(out, ids[i]->seq);
        }
        buf_put_u64be(out, x->entries_added);
        buf_put_u64be(out, x->groups);
    }
}

/* What every reader relies on: a size that fits a signed count, and list positions that span
 * exactly size items (items live at head <= i < tail). Anything else is corrupt. */
static int compound_meta_is_consistent(const meta *m) {
    if (m->size > (uint64_t)INT64_MAX) return 0;
    return m->type != TYPE_LIST || (m->list_head <= m->list_tail && m->list_tail - m->list_head == m->size);
}

/* Reads a stream's extras (p at them, len bytes left): 0, or -1 if too short. */
static int decode_stream_extras(const uint8_t *p, size_t len, stream_extras *x) {
    if (len < META_STREAM_EXTRAS) return -1;
    stream_id *ids[] = {&x->last_generated, &x->recorded_first, &x->max_deleted, &x->first, &x->last};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++, p += 16) {
        ids[i]->ms = buf_get_u64be(p);
        ids[i]->seq = buf_get_u64be(p + 8);
    }
    x->entries_added = buf_get_u64be(p);
    x->groups = len >= META_STREAM_EXTRAS_MAX ? buf_get_u64be(p + 8) : 0;
    return 0;
}

/* Legacy form: flags, expire u32 seconds, then version u64 and size u32 for compound types. */
static int decode_legacy(const uint8_t *p, size_t len, meta *m) {
    if (len < 5) return -1;
    m->expire_ms = (int64_t)buf_get_u32be(p + 1) * 1000;
    if (m->type == TYPE_STRING) {
        m->value = (const char *)p + 5;
        m->value_len = len - 5;
        return 0;
    }
    if (len < 17) return -1;
    m->version = buf_get_u64be(p + 5);
    m->size = buf_get_u32be(p + 13);
    if (m->type == TYPE_LIST) {
        if (len < 33) return -1;
        m->list_head = buf_get_u64be(p + 17);
        m->list_tail = buf_get_u64be(p + 25);
    }
    if (m->type == TYPE_STREAM && decode_stream_extras(p + 17, len - 17, &m->stream) < 0) return -1;
    return compound_meta_is_consistent(m) ? 0 : -1;
}

int enc_decode_meta(const char *raw, size_t len, meta *m) {
    const uint8_t *p = (const uint8_t *)raw;
    memset(m, 0, sizeof(*m));
    if (len < 1) return -1;
    m->type = (enum key_type)(p[0] & 0x0F);
    if (m->type == TYPE_NONE) return -1;
    if (!(p[0] & META_FLAG_64BIT)) return decode_legacy(p, len, m);
    if (len < META_STRING_HEADER) return -1;
    m->expire_ms = (int64_t)buf_get_u64be(p + 1);
    if (m->type == TYPE_STRING) {
        m->value = raw + META_STRING_HEADER;
        m->value_len = len - META_STRING_HEADER;
        return 0;
    }
    if (len < META_COMPOUND_HEADER) return -1;
    m->version = buf_get_u64be(p + 9);
    m->size = buf_get_u64be(p + 17);
    if (m->type == TYPE_LIST) {
        if (len < META_COMPOUND_HEADER + 16) return -1;
        m->list_head = buf_get_u64be(p + 25);
        m->list_tail = buf_get_u64be(p + 33);
    }
    if (m->type == TYPE_STREAM &&
        decode_stream_extras(p + META_COMPOUND_HEADER, len - META_COMPOUND_HEADER, &m->stream) < 0)
        return -1;
    return compound_meta_is_consistent(m) ? 0 : -1;
}

int64_t enc_meta_expire(const char *raw, size_t len) {
    const uint8_t *p = (const uint8_t *)raw;
    if (len < 1 || (p[0] & 0x0F) == TYPE_NONE) return 0; /* not a record enc_decode_meta reads */
    if (p[0] & META_FLAG_64BIT) return len < META_STRING_HEADER ? 0 : (int64_t)buf_get_u64be(p + 1);
    return len < 5 ? 0 : (int64_t)buf_get_u32be(p + 1) * 1000; /* legacy: seconds */
}

void enc_expire_key(buf *out, int64_t expire_ms, const char *meta_key, size_t mlen) {
    buf_put_u64be(out, (uint64_t)expire_ms);
    buf_append(out, meta_key, mlen);
}

int enc_decode_expire_key(const char *key, size_t len, int64_t *expire_ms, const char **meta_key, size_t *mlen) {
    if (len < 8 + 1) return -1;
    *expire_ms = (int64_t)buf_get_u64be((const uint8_t *)key);
    *meta_key = key + 8;
    *mlen = len - 8;
    return 0;
}

int enc_meta_is_dead(const meta *m, int64_t now_ms) {
    if (m->expire_ms != 0 && m->expire_ms < now_ms) return 1; /* alive through its last ms, as in Redis */
    return enc_meta_is_empty_collection(m);
}

uint64_t enc_new_version(void) {
    static atomic_uint_fast64_t counter;
    uint64_t n = atomic_fetch_add(&counter, 1);
    return ((uint64_t)time_now_us() << 11) + (n % 2048);
}

void enc_ordered_double(uint8_t out[8], double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    if (bits & 0x8000000000000000ULL)
        bits = ~bits;
    else
        bits |= 0x8000000000000000ULL;
    buf_set_u64be(out, bits);
}

int enc_decode_score(const char *value, size_t len, double *score) {
    if (len != 8) return -1;
    *score = enc_decode_ordered_double((const uint8_t *)value);
    return 0;
}

double enc_decode_ordered_double(const uint8_t in[8]) {
    uint64_t bits = buf_get_u64be(in);
    if (bits & 0x8000000000000000ULL)
        bits &= ~0x8000000000000000ULL;
    else
        bits = ~bits;
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

size_t enc_fragment_name(char *out, uint64_t offset) {
    return (size_t)snprintf(out, 24, "%llu", (unsigned long long)offset);
}

int enc_fragment_offset(const char *name, size_t len, uint64_t *offset) {
    if (len == 0 || len > 20 || (name[0] == '0' && len > 1)) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned digit = (unsigned)(name[i] - '0');
        if (digit > 9 || v > (UINT64_MAX - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    if (v % BITMAP_FRAGMENT_BYTES != 0) return -1;
    *offset = v;
    return 0;
}

uint8_t enc_reverse_bits(uint8_t b) {
    b = (uint8_t)((b & 0xF0) >> 4 | (b & 0x0F) << 4);
    b = (uint8_t)((b & 0xCC) >> 2 | (b & 0x33) << 2);
    return (uint8_t)((b & 0xAA) >> 1 | (b & 0x55) << 1);
}

static const char *type_names[] = {"none", "string", "hash", "list", "set", "zset", "string", "sortedint", "stream"};

const char *enc_type_name(enum key_type t) {
    if ((int)t < 0 || (size_t)t >= sizeof(type_names) / sizeof(type_names[0])) return "none";
    return type_names[t];
}

enum key_type enc_type_from_name(const char *name) {
    static const enum key_type types[] = {TYPE_STRING, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_STREAM};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(name, type_names[types[i]]) == 0) return types[i];
    return TYPE_NONE;
}
