/* Unit tests for the RocksDB write-batch decoder (src/cdc/batch.h, spec: shared/ENCODING.md).
 * Batches are built here byte by byte, with a varint encoder of the test's own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "cdc/record.h"
#include "storage/encoding.h"
#include "util/buf.h"

/* Record tags (RocksDB dbformat.h), spelled out independently of batch.c. */
#define T_DELETE 0x00
#define T_PUT 0x01
#define T_MERGE 0x02
#define T_LOG_DATA 0x03
#define T_CF_DELETE 0x04
#define T_CF_PUT 0x05
#define T_CF_MERGE 0x06
#define T_SINGLE_DELETE 0x07
#define T_CF_SINGLE_DELETE 0x08
#define T_BEGIN_PREPARE 0x09
#define T_END_PREPARE 0x0A
#define T_COMMIT 0x0B
#define T_ROLLBACK 0x0C
#define T_NOOP 0x0D
#define T_CF_DELETE_RANGE 0x0E
#define T_DELETE_RANGE 0x0F
#define T_CF_BLOB_INDEX 0x10
#define T_BLOB_INDEX 0x11

#define NO_CF (-1L)

/* ---- batch builder ---- */

static void put_byte(buf *b, uint8_t c) { buf_append(b, &c, 1); }

static void put_header(buf *b, uint64_t seq, uint32_t count) {
    for (int i = 0; i < 8; i++) put_byte(b, (uint8_t)(seq >> (8 * i)));
    for (int i = 0; i < 4; i++) put_byte(b, (uint8_t)(count >> (8 * i)));
}

/* LEB128 written the other way round: count the groups first, then emit them. */
static void put_v32(buf *b, uint32_t v) {
    int groups = 1;
    for (uint32_t t = v >> 7; t; t >>= 7) groups++;
    for (int g = 0; g < groups; g++) {
        uint8_t byte = (uint8_t)((v >> (7 * g)) & 0x7F);
        if (g + 1 < groups) byte |= 0x80;
        put_byte(b, byte);
    }
}

static void put_slice(buf *b, const char *s, size_t len) {
    put_v32(b, (uint32_t)len);
    buf_append(b, s, len);
}

/* A record with a tag, an optional CF id, and zero, one or two slices. */
static void put_rec(buf *b, uint8_t tag, long cf, int nslices, const char *s1, size_t l1, const char *s2,
                    size_t l2) {
    put_byte(b, tag);
    if (cf != NO_CF) put_v32(b, (uint32_t)cf);
    if (nslices >= 1) put_slice(b, s1, l1);
    if (nslices >= 2) put_slice(b, s2, l2);
}

#define L(s) (s), (sizeof(s) - 1)
#define REC0(b, tag, cf) put_rec((b), (tag), (cf), 0, NULL, 0, NULL, 0)
#define REC1(b, tag, cf, s) put_rec((b), (tag), (cf), 1, L(s), NULL, 0)
#define REC2(b, tag, cf, s, t) put_rec((b), (tag), (cf), 2, L(s), L(t))

/* A copy of exactly len bytes, so the sanitizer build flags any read past the end. */
static char *exact_copy(const char *data, size_t len) {
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len) memcpy(p, data, len);
    return p;
}

/* ---- expectations ---- */

static void expect_slice(const batch_slice *s, const char *want, size_t len) {
    assert_int_equal(s->len, len);
    if (len) {
        assert_non_null(s->ptr);
        assert_memory_equal(s->ptr, want, len);
    }
}

static void expect_in(const batch_slice *s, const char *base, size_t len) {
    if (s->len == 0) return;
    assert_true(s->ptr >= base);
    assert_true(s->ptr + s->len <= base + len);
}

/* Reads the next record and checks it; a NULL key/value means an empty slice. */
static void expect_next(batch_reader *r, batch_op op, uint32_t cf, const char *k, size_t kl, const char *v,
                        size_t vl, uint32_t seen) {
    batch_record rec;
    memset(&rec, 0xAB, sizeof(rec));
    assert_int_equal(batch_reader_next(r, &rec), 1);
    assert_int_equal(rec.op, op);
    assert_int_equal(rec.cf, cf);
    expect_slice(&rec.key, k, kl);
    expect_slice(&rec.value, v, vl);
    assert_int_equal(r->seen, seen);
}

#define NEXT2(r, op, cf, k, v, seen) expect_next((r), (op), (cf), L(k), L(v), (seen))
#define NEXT1(r, op, cf, k, seen) expect_next((r), (op), (cf), L(k), NULL, 0, (seen))
#define NEXTV(r, op, cf, v, seen) expect_next((r), (op), (cf), NULL, 0, L(v), (seen))
#define NEXT0(r, op, cf, seen) expect_next((r), (op), (cf), NULL, 0, NULL, 0, (seen))

static void expect_end(batch_reader *r) {
    batch_record rec;
    assert_int_equal(batch_reader_next(r, &rec), 0);
    /* Staying at the end. */
    assert_int_equal(batch_reader_next(r, &rec), 0);
}

/* ---- tests ---- */

static void test_builder_bytes(void **state) {
    (void)state;
    /* The builder itself, so the other tests rest on known bytes. */
    buf b;
    buf_init(&b);
    put_header(&b, 0x0102030405060708ULL, 0xA1B2C3D4u);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "\x08\x07\x06\x05\x04\x03\x02\x01\xD4\xC3\xB2\xA1", 12);
    buf_clear(&b);
    put_v32(&b, 0);
    put_v32(&b, 127);
    put_v32(&b, 128);
    put_v32(&b, 200);
    put_v32(&b, 300);
    put_v32(&b, 16384);
    put_v32(&b, 0xFFFFFFFFu);
    assert_int_equal(b.len, 1 + 1 + 2 + 2 + 2 + 3 + 5);
    assert_memory_equal(b.data, "\x00\x7F\x80\x01\xC8\x01\xAC\x02\x80\x80\x01\xFF\xFF\xFF\xFF\x0F", 16);
    buf_free(&b);
}

static void test_header(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    put_header(&b, 0x0102030405060708ULL, 0xA1B2C3D4u);
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(r.sequence, 0x0102030405060708ULL);
    assert_int_equal(r.count, 0xA1B2C3D4u);
    assert_int_equal(r.seen, 0);
    assert_ptr_equal(r.pos, (const uint8_t *)p + 12);
    assert_ptr_equal(r.end, (const uint8_t *)p + 12);
    expect_end(&r);
    /* No records but a count of 0xA1B2C3D4: not valid. */
    assert_int_equal(batch_validate(p, b.len), -1);
    free(p);

    /* Highest sequence, count 0. */
    buf_clear(&b);
    put_header(&b, UINT64_MAX, 0);
    p = exact_copy(b.data, b.len);
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_true(r.sequence == UINT64_MAX);
    assert_int_equal(r.count, 0);
    free(p);

    /* Shorter than a header: every length 0..11 fails. */
    buf_clear(&b);
    put_header(&b, 5, 0);
    for (size_t len = 0; len < BATCH_HEADER_SIZE; len++) {
        p = exact_copy(b.data, len);
        assert_int_equal(batch_reader_init(&r, p, len), -1);
        assert_int_equal(batch_validate(p, len), -1);
        free(p);
    }
    buf_free(&b);
}

static void test_empty_batch(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    put_header(&b, 42, 0);
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(r.sequence, 42);
    assert_int_equal(r.count, 0);
    expect_end(&r);
    assert_int_equal(r.seen, 0);
    assert_int_equal(batch_validate(p, b.len), 0);
    free(p);

    /* Count 1 with no record is not. */
    buf_clear(&b);
    put_header(&b, 42, 1);
    p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), -1);
    free(p);
    buf_free(&b);
}

/* Every data tag without a CF id lands in CF 0. */
static void test_default_cf_tags(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    put_header(&b, 1000, 6);
    REC2(&b, T_PUT, NO_CF, "pk", "pv");
    REC1(&b, T_DELETE, NO_CF, "dk");
    REC1(&b, T_SINGLE_DELETE, NO_CF, "sk");
    REC2(&b, T_MERGE, NO_CF, "mk", "mv\0x");
    REC2(&b, T_DELETE_RANGE, NO_CF, "a", "zz");
    REC2(&b, T_BLOB_INDEX, NO_CF, "bk", "\x01\x02\x03");
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(r.sequence, 1000);
    assert_int_equal(r.count, 6);
    NEXT2(&r, BATCH_PUT, 0, "pk", "pv", 1);
    NEXT1(&r, BATCH_DELETE, 0, "dk", 2);
    NEXT1(&r, BATCH_SINGLE_DELETE, 0, "sk", 3);
    NEXT2(&r, BATCH_MERGE, 0, "mk", "mv\0x", 4);
    NEXT2(&r, BATCH_DELETE_RANGE, 0, "a", "zz", 5);
    NEXT2(&r, BATCH_BLOB_INDEX, 0, "bk", "\x01\x02\x03", 6);
    expect_end(&r);
    assert_int_equal(r.sequence, 1000);
    assert_int_equal(r.count, 6);
    assert_int_equal(batch_validate(p, b.len), 0);
    free(p);
    buf_free(&b);
}

/* The *_CF tags with CF ids 0, 1, 2, 6 and ids needing 2, 3 and 5 varint bytes. */
static void test_cf_tags(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    put_header(&b, 0x1122334455667788ULL, 11);
    REC2(&b, T_CF_PUT, 1, "meta", "value1");
    REC2(&b, T_CF_PUT, 0, "sub", "");
    REC1(&b, T_CF_DELETE, 2, "score");
    REC1(&b, T_CF_SINGLE_DELETE, 6, "srch");
    REC2(&b, T_CF_MERGE, 1, "m", "+1");
    REC2(&b, T_CF_DELETE_RANGE, 2, "from", "to");
    REC2(&b, T_CF_BLOB_INDEX, 6, "blob", "idx");
    size_t before = b.len;
    REC2(&b, T_CF_PUT, 200, "k200", "v200");
    /* Tag, then 200 as the two bytes C8 01. */
    assert_memory_equal(b.data + before, "\x05\xC8\x01\x04k200", 8);
    REC1(&b, T_CF_DELETE, 128, "k128");
    REC2(&b, T_CF_MERGE, 16384, "k16384", "x");
    REC2(&b, T_CF_PUT, 0xFFFFFFFFu, "kmax", "vmax");
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(r.sequence, 0x1122334455667788ULL);
    assert_int_equal(r.count, 11);
    NEXT2(&r, BATCH_PUT, 1, "meta", "value1", 1);
    NEXT2(&r, BATCH_PUT, 0, "sub", "", 2);
    NEXT1(&r, BATCH_DELETE, 2, "score", 3);
    NEXT1(&r, BATCH_SINGLE_DELETE, 6, "srch", 4);
    NEXT2(&r, BATCH_MERGE, 1, "m", "+1", 5);
    NEXT2(&r, BATCH_DELETE_RANGE, 2, "from", "to", 6);
    NEXT2(&r, BATCH_BLOB_INDEX, 6, "blob", "idx", 7);
    NEXT2(&r, BATCH_PUT, 200, "k200", "v200", 8);
    NEXT1(&r, BATCH_DELETE, 128, "k128", 9);
    NEXT2(&r, BATCH_MERGE, 16384, "k16384", "x", 10);
    NEXT2(&r, BATCH_PUT, 0xFFFFFFFFu, "kmax", "vmax", 11);
    expect_end(&r);
    assert_int_equal(batch_validate(p, b.len), 0);
    free(p);
    buf_free(&b);
}

/* A record's CF after a non-CF record is not carried over (default CF again is 0). */
static void test_cf_not_carried_over(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    put_header(&b, 1, 3);
    REC2(&b, T_CF_PUT, 5, "a", "1");
    REC2(&b, T_PUT, NO_CF, "b", "2");
    REC1(&b, T_CF_DELETE, 300, "c");
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    NEXT2(&r, BATCH_PUT, 5, "a", "1", 1);
    NEXT2(&r, BATCH_PUT, 0, "b", "2", 2);
    NEXT1(&r, BATCH_DELETE, 300, "c", 3);
    expect_end(&r);
    free(p);
    buf_free(&b);
}

/* LogData and the transaction markers carry data but no sequence numbers. */
static void test_log_data_and_markers(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    put_header(&b, 77, 3);
    REC1(&b, T_LOG_DATA, NO_CF, "blob\0bytes");
    REC0(&b, T_NOOP, NO_CF);
    REC0(&b, T_BEGIN_PREPARE, NO_CF);
    REC2(&b, T_PUT, NO_CF, "k", "v");
    REC1(&b, T_LOG_DATA, NO_CF, "");
    REC1(&b, T_CF_DELETE, 1, "d");
    REC1(&b, T_END_PREPARE, NO_CF, "xid-1");
    REC1(&b, T_COMMIT, NO_CF, "xid-1");
    REC1(&b, T_ROLLBACK, NO_CF, "xid-2");
    REC2(&b, T_CF_MERGE, 2, "m", "mv");
    REC0(&b, T_NOOP, NO_CF);
    REC1(&b, T_LOG_DATA, NO_CF, "tail");
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(r.sequence, 77);
    assert_int_equal(r.count, 3);
    NEXT1(&r, BATCH_LOG_DATA, 0, "blob\0bytes", 0);
    NEXT0(&r, BATCH_MARKER, 0, 0);
    NEXT0(&r, BATCH_MARKER, 0, 0);
    NEXT2(&r, BATCH_PUT, 0, "k", "v", 1);
    NEXT0(&r, BATCH_LOG_DATA, 0, 1);
    NEXT1(&r, BATCH_DELETE, 1, "d", 2);
    NEXTV(&r, BATCH_MARKER, 0, "xid-1", 2);
    NEXTV(&r, BATCH_MARKER, 0, "xid-1", 2);
    NEXTV(&r, BATCH_MARKER, 0, "xid-2", 2);
    NEXT2(&r, BATCH_MERGE, 2, "m", "mv", 3);
    NEXT0(&r, BATCH_MARKER, 0, 3);
    NEXT1(&r, BATCH_LOG_DATA, 0, "tail", 3);
    expect_end(&r);
    assert_int_equal(batch_validate(p, b.len), 0);
    free(p);

    /* Only LogData and markers: count 0 is right, count 1 is not. */
    for (uint32_t count = 0; count <= 1; count++) {
        buf_clear(&b);
        put_header(&b, 9, count);
        REC1(&b, T_LOG_DATA, NO_CF, "x");
        REC0(&b, T_NOOP, NO_CF);
        REC0(&b, T_BEGIN_PREPARE, NO_CF);
        REC1(&b, T_END_PREPARE, NO_CF, "x1");
        REC1(&b, T_COMMIT, NO_CF, "x1");
        REC1(&b, T_ROLLBACK, NO_CF, "x2");
        p = exact_copy(b.data, b.len);
        assert_int_equal(batch_validate(p, b.len), count == 0 ? 0 : -1);
        assert_int_equal(batch_reader_init(&r, p, b.len), 0);
        batch_record rec;
        int n = 0, rc;
        while ((rc = batch_reader_next(&r, &rec)) == 1) n++;
        assert_int_equal(rc, 0);
        assert_int_equal(n, 6);
        assert_int_equal(r.seen, 0);
        free(p);
    }
    buf_free(&b);
}

/* Big slices: length varints of 2 and 3 bytes. */
static void test_long_slices(void **state) {
    (void)state;
    const size_t klen = 300, vlen = 20000;
    char *k = malloc(klen), *v = malloc(vlen);
    assert_non_null(k);
    assert_non_null(v);
    for (size_t i = 0; i < klen; i++) k[i] = (char)(i * 7 + 1);
    for (size_t i = 0; i < vlen; i++) v[i] = (char)(i * 13 + 5);
    buf b;
    buf_init(&b);
    put_header(&b, 3, 1);
    put_rec(&b, T_CF_PUT, 129, 2, k, klen, v, vlen);
    put_rec(&b, T_LOG_DATA, NO_CF, 1, v, 128, NULL, 0);
    assert_int_equal(b.len, 12 + 1 + 2 + 2 + klen + 3 + vlen + 1 + 2 + 128);
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    expect_next(&r, BATCH_PUT, 129, k, klen, v, vlen, 1);
    expect_next(&r, BATCH_LOG_DATA, 0, v, 128, NULL, 0, 1);
    expect_end(&r);
    assert_int_equal(batch_validate(p, b.len), 0);
    free(p);
    buf_free(&b);
    free(k);
    free(v);
}

static void test_count_mismatch(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    batch_reader r;
    batch_record rec;

    /* The header says 3, there are 2 (plus a LogData that does not count). */
    put_header(&b, 1, 3);
    REC1(&b, T_LOG_DATA, NO_CF, "L");
    REC2(&b, T_PUT, NO_CF, "a", "1");
    REC1(&b, T_DELETE, NO_CF, "b");
    char *p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), -1);
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(batch_reader_next(&r, &rec), 1);
    assert_int_equal(batch_reader_next(&r, &rec), 1);
    assert_int_equal(batch_reader_next(&r, &rec), 1);
    assert_int_equal(batch_reader_next(&r, &rec), 0);
    assert_int_equal(r.seen, 2);
    free(p);

    /* Same records with count 2: valid. */
    b.data[8] = 2;
    p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), 0);
    free(p);

    /* Count 1: the second counted record is one too many. */
    b.data[8] = 1;
    p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), -1);
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(batch_reader_next(&r, &rec), 1);
    assert_int_equal(rec.op, BATCH_LOG_DATA);
    assert_int_equal(batch_reader_next(&r, &rec), 1);
    assert_int_equal(rec.op, BATCH_PUT);
    assert_int_equal(batch_reader_next(&r, &rec), -1);
    free(p);

    /* Count 0 with one put. */
    buf_clear(&b);
    put_header(&b, 1, 0);
    REC2(&b, T_PUT, NO_CF, "a", "1");
    p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), -1);
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(batch_reader_next(&r, &rec), -1);
    free(p);

    /* A count byte other than the lowest matters: 0x0100 + 2 is not 2. */
    buf_clear(&b);
    put_header(&b, 1, 0x102);
    REC2(&b, T_PUT, NO_CF, "a", "1");
    REC2(&b, T_PUT, NO_CF, "b", "2");
    p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), -1);
    free(p);
    buf_free(&b);
}

/* A batch with every kind of record; its last record is a counted one, so that no
 * proper prefix can be a whole valid batch. */
static void build_multi(buf *b) {
    put_header(b, 0xDEADBEEF01ULL, 9);
    REC1(b, T_LOG_DATA, NO_CF, "TK-log-data");
    REC2(b, T_CF_PUT, 1, "\x0b__namespacekey", "\x81\0\0\0\0\0\0\0\0value");
    REC0(b, T_NOOP, NO_CF);
    REC1(b, T_CF_DELETE, 2, "score-key");
    REC2(b, T_PUT, NO_CF, "subkey", "x");
    REC1(b, T_SINGLE_DELETE, NO_CF, "sd");
    REC2(b, T_CF_DELETE_RANGE, 200, "begin", "end");
    REC0(b, T_BEGIN_PREPARE, NO_CF);
    REC1(b, T_END_PREPARE, NO_CF, "xid");
    REC1(b, T_COMMIT, NO_CF, "xid");
    REC2(b, T_CF_MERGE, 6, "merge", "op");
    REC2(b, T_BLOB_INDEX, NO_CF, "blobkey", "blobidx");
    REC1(b, T_ROLLBACK, NO_CF, "xid2");
    REC2(b, T_CF_BLOB_INDEX, 16384, "bk", "bi");
    REC2(b, T_CF_PUT, 130, "last", "value-of-the-last");
}

static void test_every_truncation(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_multi(&b);
    /* The whole batch is valid: 15 records, 9 counted. */
    char *p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), 0);
    batch_reader r;
    batch_record rec;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    int n = 0, rc;
    while ((rc = batch_reader_next(&r, &rec)) == 1) {
        expect_in(&rec.key, p, b.len);
        expect_in(&rec.value, p, b.len);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 15);
    assert_int_equal(r.seen, 9);
    free(p);

    for (size_t len = 0; len < b.len; len++) {
        p = exact_copy(b.data, len);
        if (batch_validate(p, len) != -1) {
            print_error("prefix of %zu of %zu bytes validated\n", len, b.len);
            free(p);
            fail();
        }
        if (batch_reader_init(&r, p, len) < 0) {
            assert_true(len < BATCH_HEADER_SIZE);
        } else {
            assert_true(len >= BATCH_HEADER_SIZE);
            while ((rc = batch_reader_next(&r, &rec)) == 1) {
                expect_in(&rec.key, p, len);
                expect_in(&rec.value, p, len);
                assert_true(r.pos <= r.end);
            }
            /* Either corrupt, or it stopped at a record boundary short of the count. */
            if (rc == 0 && r.seen >= r.count) {
                print_error("prefix of %zu of %zu bytes read as whole (seen %u)\n", len, b.len, r.seen);
                free(p);
                fail();
            }
        }
        free(p);
    }
    buf_free(&b);
}

static void test_unknown_tag(void **state) {
    (void)state;
    static const uint8_t bad_tags[] = {0x7F, 0xFF, 0x18, 0x80};
    for (size_t i = 0; i < sizeof(bad_tags); i++) {
        buf b;
        buf_init(&b);
        put_header(&b, 1, 2);
        REC2(&b, T_PUT, NO_CF, "a", "1");
        /* The unknown tag followed by what would be a fine slice. */
        put_byte(&b, bad_tags[i]);
        put_slice(&b, L("b"));
        put_slice(&b, L("2"));
        char *p = exact_copy(b.data, b.len);
        batch_reader r;
        batch_record rec;
        assert_int_equal(batch_reader_init(&r, p, b.len), 0);
        NEXT2(&r, BATCH_PUT, 0, "a", "1", 1);
        assert_int_equal(batch_reader_next(&r, &rec), -1);
        assert_int_equal(batch_validate(p, b.len), -1);
        free(p);
        buf_free(&b);
    }
}

/* Runs a batch of header + body (copied to its own buffer) and returns what the first
 * record read gives, checking batch_validate agrees. */
static int first_next(const char *body, size_t len) {
    buf b;
    buf_init(&b);
    put_header(&b, 1, 1);
    buf_append(&b, body, len);
    char *p = exact_copy(b.data, b.len);
    batch_reader r;
    batch_record rec;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    int rc = batch_reader_next(&r, &rec);
    if (rc == 1) {
        expect_in(&rec.key, p, b.len);
        expect_in(&rec.value, p, b.len);
    }
    int valid = batch_validate(p, b.len);
    if (rc == -1) assert_int_equal(valid, -1);
    free(p);
    buf_free(&b);
    return rc;
}

#define FIRST(lit) first_next((lit), sizeof(lit) - 1)

static void test_slice_too_long(void **state) {
    (void)state;
    /* Sanity: the same shapes with correct lengths are read. */
    assert_int_equal(FIRST("\x01\x01k\x01v"), 1);
    assert_int_equal(FIRST("\x00\x03key"), 1);
    assert_int_equal(FIRST("\x05\x01\x01k\x00"), 1);
    /* Key length larger than what remains. */
    assert_int_equal(FIRST("\x01\x0Ak\x01v"), -1);
    assert_int_equal(FIRST("\x00\x04key"), -1);
    assert_int_equal(FIRST("\x00\x01"), -1);
    /* Value length one more than what remains. */
    assert_int_equal(FIRST("\x01\x01k\x02v"), -1);
    assert_int_equal(FIRST("\x05\x01\x01k\x01"), -1);
    /* Range end, LogData blob, xid. */
    assert_int_equal(FIRST("\x0F\x01" "a\x05zz"), -1);
    assert_int_equal(FIRST("\x03\x05" "abcd"), -1);
    assert_int_equal(FIRST("\x0B\x03xi"), -1);
    assert_int_equal(FIRST("\x0A\x80\x01xid"), -1);
    /* Lengths of 2^32-1 and beyond. */
    assert_int_equal(FIRST("\x01\xFF\xFF\xFF\xFF\x0Fk"), -1);
    assert_int_equal(FIRST("\x01\xFF\xFF\xFF\xFF\x7Fk"), -1);
    assert_int_equal(FIRST("\x01\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x7Fk"), -1);
    /* Tag with nothing after it. */
    assert_int_equal(FIRST("\x01"), -1);
    assert_int_equal(FIRST("\x05"), -1);
    assert_int_equal(FIRST("\x0B"), -1);
    assert_int_equal(FIRST("\x03"), -1);
    /* Markers without data are complete after the tag. */
    assert_int_equal(FIRST("\x0D"), 1);
    assert_int_equal(FIRST("\x09"), 1);
}

static void test_bad_varints(void **state) {
    (void)state;
    /* 11 continuation bytes then a terminator, as a key length, a value length and a CF id. */
    assert_int_equal(FIRST("\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00k"), -1);
    assert_int_equal(FIRST("\x01\x01k\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00v"), -1);
    assert_int_equal(FIRST("\x05\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00\x01k\x01v"), -1);
    /* A varint cut off by the end of the batch. */
    assert_int_equal(FIRST("\x00\x80"), -1);
    assert_int_equal(FIRST("\x01\x01k\x81"), -1);
    assert_int_equal(FIRST("\x05\xC8"), -1);
    assert_int_equal(FIRST("\x05\xFF\xFF\xFF\xFF"), -1);
    /* A CF id past 32 bits (2^32). */
    assert_int_equal(FIRST("\x05\x80\x80\x80\x80\x10\x01k\x01v"), -1);
    /* A non-minimal but in-range varint (01 as 81 00) is still a length of 1. */
    assert_int_equal(FIRST("\x00\x81\x00k"), 1);
}

/* A batch shaped like tidekv's writes: a change record as LogData, then the puts. */
static void test_change_record_in_log_data(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    const char *set[] = {"SET", "foo", "b\0r"};
    const size_t setl[] = {3, 3, 3};
    record_writer_add(&w, 2, TYPE_STRING, 3, set, setl);
    const char *hset[] = {"HSET", "h", "f", ""};
    const size_t hsetl[] = {4, 1, 1, 0};
    record_writer_add(&w, 2, TYPE_HASH, 4, hset, hsetl);
    buf blob;
    buf_init(&blob);
    record_writer_finish(&w, 1700000000456LL, &blob);
    record_writer_free(&w);

    buf b;
    buf_init(&b);
    put_header(&b, 500, 3);
    put_rec(&b, T_LOG_DATA, NO_CF, 1, blob.data, blob.len, NULL, 0);
    REC2(&b, T_CF_PUT, 1, "\x01" "2foo", "\x81\0\0\0\0\0\0\0\0b\0r");
    REC2(&b, T_CF_PUT, 1, "\x01" "2h", "meta");
    REC2(&b, T_PUT, NO_CF, "\x01" "2\0\0\0\x01h\0\0\0\0\0\0\0\x01" "f", "");
    char *p = exact_copy(b.data, b.len);
    assert_int_equal(batch_validate(p, b.len), 0);

    batch_reader r;
    batch_record rec;
    assert_int_equal(batch_reader_init(&r, p, b.len), 0);
    assert_int_equal(r.sequence, 500);
    assert_int_equal(batch_reader_next(&r, &rec), 1);
    assert_int_equal(rec.op, BATCH_LOG_DATA);
    assert_int_equal(r.seen, 0);
    expect_slice(&rec.key, blob.data, blob.len);
    assert_int_equal(record_is_tidekv(rec.key.ptr, rec.key.len), 1);

    record cr;
    assert_int_equal(record_decode(rec.key.ptr, rec.key.len, &cr), 0);
    assert_int_equal(cr.version, 1);
    assert_int_equal(cr.time_ms, 1700000000456LL);
    assert_int_equal(cr.db, 2);
    assert_int_equal(cr.ncmds, 2);
    assert_int_equal(cr.cmds[0].type, TYPE_STRING);
    assert_int_equal(cr.cmds[0].argc, 3);
    for (size_t i = 0; i < 3; i++) expect_slice(&(batch_slice){cr.cmds[0].argv[i].ptr, cr.cmds[0].argv[i].len}, set[i], setl[i]);
    assert_int_equal(cr.cmds[1].type, TYPE_HASH);
    assert_int_equal(cr.cmds[1].argc, 4);
    for (size_t i = 0; i < 4; i++) expect_slice(&(batch_slice){cr.cmds[1].argv[i].ptr, cr.cmds[1].argv[i].len}, hset[i], hsetl[i]);
    /* The arguments point into the batch itself. */
    assert_true(cr.cmds[0].argv[1].ptr > p && cr.cmds[0].argv[1].ptr < p + b.len);
    record_free(&cr);

    NEXT2(&r, BATCH_PUT, 1, "\x01" "2foo", "\x81\0\0\0\0\0\0\0\0b\0r", 1);
    NEXT2(&r, BATCH_PUT, 1, "\x01" "2h", "meta", 2);
    NEXT2(&r, BATCH_PUT, 0, "\x01" "2\0\0\0\x01h\0\0\0\0\0\0\0\x01" "f", "", 3);
    expect_end(&r);
    free(p);

    /* A LogData blob from someone else is not a change record. */
    assert_int_equal(record_is_tidekv("hello", 5), 0);
    buf_free(&b);
    buf_free(&blob);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_bytes),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_default_cf_tags),
        cmocka_unit_test(test_cf_tags),
        cmocka_unit_test(test_cf_not_carried_over),
        cmocka_unit_test(test_log_data_and_markers),
        cmocka_unit_test(test_long_slices),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_unknown_tag),
        cmocka_unit_test(test_slice_too_long),
        cmocka_unit_test(test_bad_varints),
        cmocka_unit_test(test_change_record_in_log_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
