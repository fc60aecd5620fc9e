/* Unit tests for the Kvrocks-compatible key/metadata layout (src/storage/encoding.h,
 * spec: shared/ENCODING.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "storage/encoding.h"
#include "util/timeutil.h"

/* Asserts that b holds exactly len bytes equal to want, then frees it. */
static void expect_buf(buf *b, const char *want, size_t len) {
    assert_int_equal(b->len, len);
    if (len) assert_memory_equal(b->data, want, len);
    buf_free(b);
}

#define EXPECT_BUF(b, lit) expect_buf((b), (lit), sizeof(lit) - 1)

#define NS "\x0b__namespace"

static void test_namespace(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    enc_namespace(&b, 0);
    EXPECT_BUF(&b, "\x0b\x5f\x5f\x6e\x61\x6d\x65\x73\x70\x61\x63\x65");
    buf_init(&b);
    enc_namespace(&b, 3);
    EXPECT_BUF(&b, "\x05__db3");
    buf_init(&b);
    enc_namespace(&b, 15);
    EXPECT_BUF(&b, "\x06__db15");
}

static void test_set_foo_bar_example(void **state) {
    (void)state;
    buf key, val;
    buf_init(&key);
    enc_meta_key(&key, 0, "foo", 3);
    EXPECT_BUF(&key, "\x0b\x5f\x5f\x6e\x61\x6d\x65\x73\x70\x61\x63\x65\x66\x6f\x6f");
    buf_init(&val);
    enc_string_meta(&val, 0, "bar", 3);
    EXPECT_BUF(&val, "\x81\x00\x00\x00\x00\x00\x00\x00\x00\x62\x61\x72");

    /* Another database uses its own namespace; a binary key is copied as is. */
    buf_init(&key);
    enc_meta_key(&key, 3, "k\0\xff", 3);
    EXPECT_BUF(&key, "\x05__db3k\0\xff");

    /* The expiry is an absolute ms time, big-endian. */
    buf_init(&val);
    enc_string_meta(&val, 0x0102030405060708LL, "", 0);
    EXPECT_BUF(&val, "\x81\x01\x02\x03\x04\x05\x06\x07\x08");
}

static const uint64_t V = 0x0123456789ABCDEFULL;
#define V_BYTES "\x01\x23\x45\x67\x89\xab\xcd\xef"

static void test_hset_example(void **state) {
    (void)state;
    buf sub, key, val;
    buf_init(&sub);
    enc_subkey(&sub, 0, "h", 1, V, "f", 1);
    EXPECT_BUF(&sub, "\x0b\x5f\x5f\x6e\x61\x6d\x65\x73\x70\x61\x63\x65"
                     "\x00\x00\x00\x01"
                     "\x68" V_BYTES "\x66");

    buf_init(&key);
    enc_meta_key(&key, 0, "h", 1);
    EXPECT_BUF(&key, NS "\x68");

    meta m = {0};
    m.type = TYPE_HASH;
    m.expire_ms = 0;
    m.version = V;
    m.size = 1;
    buf_init(&val);
    enc_compound_meta(&val, &m);
    EXPECT_BUF(&val, "\x82"
                     "\x00\x00\x00\x00\x00\x00\x00\x00" V_BYTES "\x00\x00\x00\x00\x00\x00\x00\x01");

    /* A longer key: its length is a big-endian u32. */
    char longkey[300];
    memset(longkey, 'x', sizeof(longkey));
    buf_init(&sub);
    enc_subkey(&sub, 2, longkey, sizeof(longkey), 7, "", 0);
    assert_int_equal(sub.len, 6 + 4 + 300 + 8);
    assert_memory_equal(sub.data, "\x05__db2\x00\x00\x01\x2c", 10);
    assert_memory_equal(sub.data + 10, longkey, 300);
    assert_memory_equal(sub.data + 10 + 300, "\x00\x00\x00\x00\x00\x00\x00\x07", 8);
    buf_free(&sub);
}

static void test_list_meta_layout(void **state) {
    (void)state;
    meta m = {0};
    m.type = TYPE_LIST;
    m.expire_ms = 1000;
    m.version = V;
    m.size = 2;
    m.list_head = LIST_INITIAL_INDEX - 1;
    m.list_tail = LIST_INITIAL_INDEX + 1;
    buf val;
    buf_init(&val);
    enc_compound_meta(&val, &m);
    EXPECT_BUF(&val, "\x83"
                     "\x00\x00\x00\x00\x00\x00\x03\xe8" V_BYTES "\x00\x00\x00\x00\x00\x00\x00\x02"
                     "\x7f\xff\xff\xff\xff\xff\xff\xfe"
                     "\x80\x00\x00\x00\x00\x00\x00\x00");
}

static void hex8(const uint8_t b[8], char out[17]) {
    static const char digits[] = "0123456789ABCDEF";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[16] = '\0';
}

static void expect_ordered(double v, const char *hex) {
    uint8_t b[8];
    char got[17];
    enc_ordered_double(b, v);
    hex8(b, got);
    assert_string_equal(got, hex);
}

static void test_ordered_double_vectors(void **state) {
    (void)state;
    expect_ordered(1.0, "BFF0000000000000");
    expect_ordered(-1.0, "400FFFFFFFFFFFFF");
    expect_ordered(0.0, "8000000000000000");
    expect_ordered(INFINITY, "FFF0000000000000");
    expect_ordered(-INFINITY, "000FFFFFFFFFFFFF");
    expect_ordered(-0.0, "7FFFFFFFFFFFFFFF");
}

static void test_ordered_double_sorts(void **state) {
    (void)state;
    const double values[] = {-INFINITY, -1e300, -1.0, -0.5, 0.0, 1e-300, 0.5, 1.0, 1e300, INFINITY};
    const size_t n = sizeof(values) / sizeof(values[0]);
    uint8_t enc[sizeof(values) / sizeof(values[0])][8];
    for (size_t i = 0; i < n; i++) enc_ordered_double(enc[i], values[i]);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = memcmp(enc[i], enc[j], 8);
            if (i < j)
                assert_true(c < 0);
            else if (i > j)
                assert_true(c > 0);
            else
                assert_int_equal(c, 0);
        }
    }
    /* Decoding gives back the exact bits, -0.0 included. */
    const double more[] = {-INFINITY, -1e300, -1.0, -0.5, -0.0, 0.0,  1e-300, 0.5,
                           1.0,       1e300,  INFINITY, 3.14159, -2.5e-310, 4.9e-324};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        uint8_t b[8];
        enc_ordered_double(b, more[i]);
        double back = enc_decode_ordered_double(b);
        assert_memory_equal(&back, &more[i], sizeof(double));
    }
}

static void test_decode_string_64bit(void **state) {
    (void)state;
    buf val;
    buf_init(&val);
    enc_string_meta(&val, 1700000000123LL, "bar", 3);
    meta m;
    assert_int_equal(enc_decode_meta(val.data, val.len, &m), 0);
    assert_int_equal(m.type, TYPE_STRING);
    assert_int_equal(m.expire_ms, 1700000000123LL);
    assert_int_equal(m.value_len, 3);
    assert_ptr_equal(m.value, val.data + 9);
    assert_memory_equal(m.value, "bar", 3);

    /* An empty string value is valid; anything shorter than the header is not. */
    assert_int_equal(enc_decode_meta(val.data, 9, &m), 0);
    assert_int_equal(m.value_len, 0);
    for (size_t len = 0; len < 9; len++) assert_int_equal(enc_decode_meta(val.data, len, &m), -1);
    buf_free(&val);
}

static void test_decode_hash_64bit(void **state) {
    (void)state;
    meta in = {0};
    in.type = TYPE_HASH;
    in.expire_ms = 42;
    in.version = V;
    in.size = 0x100000001ULL;
    buf val;
    buf_init(&val);
    enc_compound_meta(&val, &in);
    assert_int_equal(val.len, META_COMPOUND_HEADER);
    meta m;
    assert_int_equal(enc_decode_meta(val.data, val.len, &m), 0);
    assert_int_equal(m.type, TYPE_HASH);
    assert_int_equal(m.expire_ms, 42);
    assert_int_equal(m.version, V);
    assert_int_equal(m.size, 0x100000001ULL);
    assert_int_equal(m.list_head, 0);
    assert_int_equal(m.list_tail, 0);
    for (size_t len = 0; len < val.len; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, val.data, len);
        assert_int_equal(enc_decode_meta(copy, len, &m), -1);
        free(copy);
    }
    buf_free(&val);
}

static void test_decode_list_64bit(void **state) {
    (void)state;
    meta in = {0};
    in.type = TYPE_LIST;
    in.version = V;
    in.size = 3;
    in.list_head = LIST_INITIAL_INDEX - 2;
    in.list_tail = LIST_INITIAL_INDEX + 1;
    buf val;
    buf_init(&val);
    enc_compound_meta(&val, &in);
    assert_int_equal(val.len, META_COMPOUND_HEADER + 16);
    meta m;
    assert_int_equal(enc_decode_meta(val.data, val.len, &m), 0);
    assert_int_equal(m.type, TYPE_LIST);
    assert_int_equal(m.expire_ms, 0);
    assert_int_equal(m.version, V);
    assert_int_equal(m.size, 3);
    assert_int_equal(m.list_head, LIST_INITIAL_INDEX - 2);
    assert_int_equal(m.list_tail, LIST_INITIAL_INDEX + 1);
    for (size_t len = 0; len < val.len; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, val.data, len);
        assert_int_equal(enc_decode_meta(copy, len, &m), -1);
        free(copy);
    }
    buf_free(&val);
}

static void test_decode_legacy(void **state) {
    (void)state;
    meta m;
    /* String: flags 0x01, expire u32 seconds, value. */
    const char s[] = "\x01\x65\x53\xf1\x00val";
    assert_int_equal(enc_decode_meta(s, sizeof(s) - 1, &m), 0);
    assert_int_equal(m.type, TYPE_STRING);
    assert_int_equal(m.expire_ms, 0x6553f100LL * 1000);
    assert_int_equal(m.value_len, 3);
    assert_memory_equal(m.value, "val", 3);
    for (size_t len = 0; len < 5; len++) assert_int_equal(enc_decode_meta(s, len, &m), -1);

    /* Hash: flags 0x02, expire u32, version u64, size u32. */
    const char h[] = "\x02\x00\x00\x00\x0a" V_BYTES "\x00\x00\x01\x00";
    assert_int_equal(sizeof(h) - 1, 17);
    assert_int_equal(enc_decode_meta(h, sizeof(h) - 1, &m), 0);
    assert_int_equal(m.type, TYPE_HASH);
    assert_int_equal(m.expire_ms, 10000);
    assert_int_equal(m.version, V);
    assert_int_equal(m.size, 256);
    for (size_t len = 0; len < sizeof(h) - 1; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, h, len);
        assert_int_equal(enc_decode_meta(copy, len, &m), -1);
        free(copy);
    }

    /* List: as a hash, then head u64 and tail u64. */
    const char l[] = "\x03\x00\x00\x00\x00" V_BYTES "\x00\x00\x00\x02"
                     "\x7f\xff\xff\xff\xff\xff\xff\xff"
                     "\x80\x00\x00\x00\x00\x00\x00\x01";
    assert_int_equal(sizeof(l) - 1, 33);
    assert_int_equal(enc_decode_meta(l, sizeof(l) - 1, &m), 0);
    assert_int_equal(m.type, TYPE_LIST);
    assert_int_equal(m.expire_ms, 0);
    assert_int_equal(m.version, V);
    assert_int_equal(m.size, 2);
    assert_int_equal(m.list_head, 0x7fffffffffffffffULL);
    assert_int_equal(m.list_tail, 0x8000000000000001ULL);
    for (size_t len = 0; len < sizeof(l) - 1; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, l, len);
        assert_int_equal(enc_decode_meta(copy, len, &m), -1);
        free(copy);
    }
}

/* Encodes a list record with the given size, head and tail, and decodes it. */
static int decode_list(uint64_t size, uint64_t head, uint64_t tail) {
    meta in = {0}, m;
    in.type = TYPE_LIST;
    in.version = V;
    in.size = size;
    in.list_head = head;
    in.list_tail = tail;
    buf val;
    buf_init(&val);
    enc_compound_meta(&val, &in);
    int rc = enc_decode_meta(val.data, val.len, &m);
    buf_free(&val);
    return rc;
}

static void test_decode_rejects_list_positions_that_disagree_with_size(void **state) {
    (void)state;
    const uint64_t h = LIST_INITIAL_INDEX;
    assert_int_equal(decode_list(2, h, h + 2), 0);
    assert_int_equal(decode_list(1ULL << 62, h, h + 2), -1); /* size lies */
    assert_int_equal(decode_list(2, h, h + 3), -1);
    assert_int_equal(decode_list(2, h + 2, h), -1);          /* tail before head */
    assert_int_equal(decode_list(1, h, h), -1);
    assert_int_equal(decode_list(1ULL << 62, 0, 1ULL << 62), 0); /* huge, but consistent */
    /* The legacy form is checked the same way. */
    meta m;
    const char l[] = "\x03\x00\x00\x00\x00" V_BYTES "\x00\x00\x00\x05"
                     "\x7f\xff\xff\xff\xff\xff\xff\xff"
                     "\x80\x00\x00\x00\x00\x00\x00\x01";
    assert_int_equal(enc_decode_meta(l, sizeof(l) - 1, &m), -1);
}

static void test_decode_rejects_a_size_above_int64_max(void **state) {
    (void)state;
    meta in = {0}, m;
    in.type = TYPE_SET;
    in.version = V;
    in.size = (uint64_t)INT64_MAX;
    buf val;
    buf_init(&val);
    enc_compound_meta(&val, &in);
    assert_int_equal(enc_decode_meta(val.data, val.len, &m), 0);
    buf_clear(&val);
    in.size = (uint64_t)INT64_MAX + 1;
    enc_compound_meta(&val, &in);
    assert_int_equal(enc_decode_meta(val.data, val.len, &m), -1);
    buf_free(&val);
    assert_int_equal(decode_list(UINT64_MAX, 0, UINT64_MAX), -1);
}

static void test_decode_score_wants_eight_bytes(void **state) {
    (void)state;
    uint8_t b[9];
    enc_ordered_double(b, -2.5);
    double score = 0;
    assert_int_equal(enc_decode_score((const char *)b, 8, &score), 0);
    assert_true(score == -2.5);
    score = 7;
    for (size_t len = 0; len <= 9; len++)
        if (len != 8) assert_int_equal(enc_decode_score((const char *)b, len, &score), -1);
    assert_true(score == 7); /* untouched when refused */
    assert_int_equal(enc_decode_score(NULL, 0, &score), -1);
}

static void test_decode_rejects_type_none(void **state) {
    (void)state;
    meta m;
    assert_int_equal(enc_decode_meta("\x80\0\0\0\0\0\0\0\0", 9, &m), -1);
    assert_int_equal(enc_decode_meta("\x00\0\0\0\0", 5, &m), -1);
    assert_int_equal(enc_decode_meta("", 0, &m), -1);
}

static void test_meta_is_dead(void **state) {
    (void)state;
    const int64_t now = 1700000000000LL;
    meta m = {0};
    m.type = TYPE_STRING;
    assert_int_equal(enc_meta_is_dead(&m, now), 0); /* no expiry */
    m.expire_ms = now + 1000;
    assert_int_equal(enc_meta_is_dead(&m, now), 0);
    m.expire_ms = now - 1;
    assert_int_equal(enc_meta_is_dead(&m, now), 1);

    memset(&m, 0, sizeof(m));
    m.type = TYPE_HASH;
    m.size = 0;
    assert_int_equal(enc_meta_is_dead(&m, now), 1); /* empty compound */
    m.size = 1;
    assert_int_equal(enc_meta_is_dead(&m, now), 0); /* live */
    m.expire_ms = now + 1;
    assert_int_equal(enc_meta_is_dead(&m, now), 0);
    m.expire_ms = now - 1000;
    assert_int_equal(enc_meta_is_dead(&m, now), 1); /* expired */

    /* An empty string is a live key. */
    memset(&m, 0, sizeof(m));
    m.type = TYPE_STRING;
    m.size = 0;
    assert_int_equal(enc_meta_is_dead(&m, now), 0);
}

/* ENCODING.md: "Dead key: expire != 0 and expire < now (ms)" — a key whose expiry equals
 * the current millisecond is still alive (as in Redis, where a key expires when now > when). */
static void test_meta_alive_at_exact_expiry(void **state) {
    (void)state;
    const int64_t now = 1700000000000LL;
    meta m = {0};
    m.type = TYPE_STRING;
    m.expire_ms = now;
    assert_int_equal(enc_meta_is_dead(&m, now), 0);
    m.type = TYPE_SET;
    m.size = 5;
    assert_int_equal(enc_meta_is_dead(&m, now), 0);
}

static void test_prefix_end(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    enc_prefix_end(&b, "abc", 3);
    EXPECT_BUF(&b, "abd");
    buf_init(&b);
    enc_prefix_end(&b, "a\xff\xff", 3);
    EXPECT_BUF(&b, "b");
    buf_init(&b);
    enc_prefix_end(&b, "\x01\xfe", 2);
    EXPECT_BUF(&b, "\x01\xff");
    buf_init(&b);
    enc_prefix_end(&b, "a\0", 2);
    EXPECT_BUF(&b, "a\x01");
    /* Nothing comes after a prefix of only 0xFF bytes: empty (no upper bound). */
    buf_init(&b);
    enc_prefix_end(&b, "\xff\xff", 2);
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* The bound sorts after every key with the prefix and no key sorts between. */
    buf p;
    buf_init(&p);
    enc_meta_key(&p, 0, "k\xff", 2);
    buf_init(&b);
    enc_prefix_end(&b, p.data, p.len);
    assert_int_equal(b.len, p.len - 1);
    assert_memory_equal(b.data, p.data, p.len - 2);
    assert_int_equal((uint8_t)b.data[b.len - 1], (uint8_t)'k' + 1);
    buf_free(&b);
    buf_free(&p);
}

/* Version = (unix_us << 11) + (counter mod 2048). Within one microsecond the counter orders
 * versions; when it wraps from 2047 to 0 a version may be smaller than the one before (as in
 * Kvrocks), so the guarantee is: increasing except at a wrap, never repeated, time part current. */
static void test_new_version(void **state) {
    (void)state;
    int64_t before = time_now_us();
    uint64_t prev = enc_new_version();
    int wraps = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t v = enc_new_version();
        assert_int_equal(v & 0x7FF, ((prev & 0x7FF) + 1) & 0x7FF);
        assert_true((v >> 11) >= (prev >> 11));
        if ((v & 0x7FF) == 0)
            wraps++;
        else
            assert_true(v > prev);
        assert_true(v != prev);
        prev = v;
    }
    int64_t after = time_now_us();
    assert_true(wraps >= 2);
    assert_true((prev >> 11) >= (uint64_t)before);
    assert_true((prev >> 11) <= (uint64_t)after);
}

static void test_fragment_names(void **state) {
    (void)state;
    char name[24];
    uint64_t offset = 1;
    assert_int_equal(enc_fragment_name(name, 0), 1);
    assert_int_equal(enc_fragment_offset(name, 1, &offset), 0);
    assert_int_equal(offset, 0);
    size_t len = enc_fragment_name(name, 4398046510080ULL);
    assert_int_equal(enc_fragment_offset(name, len, &offset), 0);
    assert_true(offset == 4398046510080ULL);
    static const char *const bad[] = {"", "1000", "01024", "+1024", "-1024", "1024 ", "abc", "18446744073709552640",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(enc_fragment_offset(bad[i], strlen(bad[i]), &offset), -1);
    assert_int_equal(enc_fragment_offset("18446744073709550592", 20, &offset), 0); /* the last one */
}

static void test_type_names(void **state) {
    (void)state;
    assert_string_equal(enc_type_name(TYPE_NONE), "none");
    assert_string_equal(enc_type_name(TYPE_STRING), "string");
    assert_string_equal(enc_type_name(TYPE_HASH), "hash");
    assert_string_equal(enc_type_name(TYPE_LIST), "list");
    assert_string_equal(enc_type_name(TYPE_SET), "set");
    assert_string_equal(enc_type_name(TYPE_ZSET), "zset");
    assert_string_equal(enc_type_name(TYPE_STREAM), "stream");
    assert_string_equal(enc_type_name((enum key_type)99), "none");

    assert_int_equal(enc_type_from_name("string"), TYPE_STRING);
    assert_int_equal(enc_type_from_name("hash"), TYPE_HASH);
    assert_int_equal(enc_type_from_name("list"), TYPE_LIST);
    assert_int_equal(enc_type_from_name("set"), TYPE_SET);
    assert_int_equal(enc_type_from_name("zset"), TYPE_ZSET);
    assert_int_equal(enc_type_from_name("stream"), TYPE_STREAM);
    assert_int_equal(enc_type_from_name("HASH"), TYPE_HASH);
    assert_int_equal(enc_type_from_name("none"), TYPE_NONE);
    assert_int_equal(enc_type_from_name(""), TYPE_NONE);
    assert_int_equal(enc_type_from_name("hashes"), TYPE_NONE);
}

/* ---- the expiry index (CF_EXPIRE, storage/expire_index.h) ---- */

static void test_expire_key_layout(void **state) {
    (void)state;
    buf mk, b;
    buf_init(&mk);
    buf_init(&b);
    enc_meta_key(&mk, 0, "foo", 3);
    enc_expire_key(&b, 0x0102030405060708LL, mk.data, mk.len);
    EXPECT_BUF(&b, "\x01\x02\x03\x04\x05\x06\x07\x08" NS "foo");
    buf_free(&mk);
}

static void test_expire_key_round_trip(void **state) {
    (void)state;
    buf mk, b;
    buf_init(&mk);
    buf_init(&b);
    enc_meta_key(&mk, 7, "k\0ey", 4);
    enc_expire_key(&b, 1700000000123LL, mk.data, mk.len);
    int64_t expire_ms;
    const char *got;
    size_t glen;
    assert_int_equal(enc_decode_expire_key(b.data, b.len, &expire_ms, &got, &glen), 0);
    assert_int_equal(expire_ms, 1700000000123LL);
    assert_int_equal(glen, mk.len);
    assert_memory_equal(got, mk.data, mk.len);
    size_t ns;
    assert_int_equal(enc_namespace_db(got, glen, &ns), 7);
    assert_int_equal(glen - ns, 4);
    assert_memory_equal(got + ns, "k\0ey", 4);
    /* too short to hold an expiry and a namespace */
    assert_int_equal(enc_decode_expire_key(b.data, 8, &expire_ms, &got, &glen), -1);
    assert_int_equal(enc_decode_expire_key("", 0, &expire_ms, &got, &glen), -1);
    buf_free(&mk);
    buf_free(&b);
}

/* Entries sort by expiry first (big-endian), whatever their keys: the walk finds the earliest
 * first and stops at the first one not yet due. */
static void test_expire_keys_sort_by_time(void **state) {
    (void)state;
    buf a, b, mka, mkb;
    buf_init(&a);
    buf_init(&b);
    buf_init(&mka);
    buf_init(&mkb);
    enc_meta_key(&mka, 0, "zzz", 3);
    enc_meta_key(&mkb, 0, "aaa", 3);
    enc_expire_key(&a, 255, mka.data, mka.len);
    enc_expire_key(&b, 256, mkb.data, mkb.len);
    assert_true(bytes_compare(a.data, a.len, b.data, b.len) < 0);
    buf_free(&a);
    buf_free(&b);
    buf_free(&mka);
    buf_free(&mkb);
}

/* enc_meta_expire reads what enc_decode_meta would, for every form of record. */
static void test_meta_expire_peek(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    enc_string_meta(&b, 1234567, "v", 1);
    assert_int_equal(enc_meta_expire(b.data, b.len), 1234567);
    assert_int_equal(enc_meta_expire(b.data, META_STRING_HEADER), 1234567);
    assert_int_equal(enc_meta_expire(b.data, META_STRING_HEADER - 1), 0); /* cut short */
    buf_clear(&b);
    enc_string_meta(&b, 0, "v", 1);
    assert_int_equal(enc_meta_expire(b.data, b.len), 0);
    buf_clear(&b);
    meta m = {.type = TYPE_LIST, .expire_ms = 99, .version = 5, .size = 0, .list_head = LIST_INITIAL_INDEX,
              .list_tail = LIST_INITIAL_INDEX};
    enc_compound_meta(&b, &m);
    assert_int_equal(enc_meta_expire(b.data, b.len), 99);
    buf_free(&b);
    /* legacy: flags without the 64-bit bit, expiry in u32 seconds */
    assert_int_equal(enc_meta_expire("\x01\x00\x00\x00\x0a" "abc", 8), 10000);
    meta legacy;
    assert_int_equal(enc_decode_meta("\x01\x00\x00\x00\x0a" "abc", 8, &legacy), 0);
    assert_int_equal(legacy.expire_ms, 10000);
    /* no type: not a record */
    assert_int_equal(enc_meta_expire("\x80\x00\x00\x00\x00\x00\x00\x00\x09", 9), 0);
    assert_int_equal(enc_meta_expire("", 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_set_foo_bar_example),
        cmocka_unit_test(test_hset_example),
        cmocka_unit_test(test_list_meta_layout),
        cmocka_unit_test(test_ordered_double_vectors),
        cmocka_unit_test(test_ordered_double_sorts),
        cmocka_unit_test(test_decode_string_64bit),
        cmocka_unit_test(test_decode_hash_64bit),
        cmocka_unit_test(test_decode_rejects_list_positions_that_disagree_with_size),
        cmocka_unit_test(test_decode_rejects_a_size_above_int64_max),
        cmocka_unit_test(test_decode_score_wants_eight_bytes),
        cmocka_unit_test(test_decode_list_64bit),
        cmocka_unit_test(test_decode_legacy),
        cmocka_unit_test(test_decode_rejects_type_none),
        cmocka_unit_test(test_meta_is_dead),
        cmocka_unit_test(test_meta_alive_at_exact_expiry),
        cmocka_unit_test(test_prefix_end),
        cmocka_unit_test(test_new_version),
        cmocka_unit_test(test_fragment_names),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_expire_key_layout),
        cmocka_unit_test(test_expire_key_round_trip),
        cmocka_unit_test(test_expire_keys_sort_by_time),
        cmocka_unit_test(test_meta_expire_peek),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
