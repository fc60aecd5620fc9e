/* Unit tests for the RESP2/RESP3 reply writer (src/proto/reply.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "proto/reply.h"

/* Asserts the buffer holds exactly want (len bytes), then empties it. */
static void expect_bytes(buf *out, const char *want, size_t len) {
    if (out->len != len || memcmp(out->data, want, len) != 0) {
        print_error("reply bytes differ: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"\n", out->len, (int)out->len,
                    out->data ? out->data : "", len, (int)len, want);
        fail();
    }
    buf_clear(out);
}

#define EXPECT(out, lit) expect_bytes((out), (lit), sizeof(lit) - 1)

static void test_null(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_null(&r2);
    EXPECT(out, "$-1\r\n");
    reply_null(&r3);
    EXPECT(out, "_\r\n");
    reply_null_array(&r2);
    EXPECT(out, "*-1\r\n");
    reply_null_array(&r3);
    EXPECT(out, "_\r\n");
    buf_free(&b);
}

static void test_map_and_set(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_map(&r2, 2);
    EXPECT(out, "*4\r\n");
    reply_map(&r3, 2);
    EXPECT(out, "%2\r\n");
    reply_map(&r2, 0);
    EXPECT(out, "*0\r\n");
    reply_map(&r3, 0);
    EXPECT(out, "%0\r\n");
    reply_set(&r2, 3);
    EXPECT(out, "*3\r\n");
    reply_set(&r3, 3);
    EXPECT(out, "~3\r\n");
    reply_array(&r2, 5);
    EXPECT(out, "*5\r\n");
    reply_array(&r3, 5);
    EXPECT(out, "*5\r\n");

    /* A whole map in both protocols. */
    reply_map(&r3, 1);
    reply_bulk_str(&r3, "k");
    reply_int(&r3, 7);
    EXPECT(out, "%1\r\n$1\r\nk\r\n:7\r\n");
    reply_map(&r2, 1);
    reply_bulk_str(&r2, "k");
    reply_int(&r2, 7);
    EXPECT(out, "*2\r\n$1\r\nk\r\n:7\r\n");
    buf_free(&b);
}

static void test_double(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_double(&r2, 1.5);
    EXPECT(out, "$3\r\n1.5\r\n");
    reply_double(&r3, 1.5);
    EXPECT(out, ",1.5\r\n");
    reply_double(&r3, -2);
    EXPECT(out, ",-2\r\n");
    reply_double(&r2, 0.1);
    EXPECT(out, "$19\r\n0.10000000000000001\r\n");
    reply_double(&r3, INFINITY);
    EXPECT(out, ",inf\r\n");
    reply_double(&r3, -INFINITY);
    EXPECT(out, ",-inf\r\n");
    reply_double(&r2, -INFINITY);
    EXPECT(out, "$4\r\n-inf\r\n");
    buf_free(&b);
}

static void test_verbatim(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_verbatim(&r3, "hello", 5);
    EXPECT(out, "=9\r\ntxt:hello\r\n");
    reply_verbatim(&r2, "hello", 5);
    EXPECT(out, "$5\r\nhello\r\n");
    reply_verbatim(&r3, "a\r\nb", 4);
    EXPECT(out, "=8\r\ntxt:a\r\nb\r\n");
    reply_verbatim(&r3, "", 0);
    EXPECT(out, "=4\r\ntxt:\r\n");
    buf_free(&b);
}

static void test_error(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_error(&r2, "ERR unknown command");
    EXPECT(out, "-ERR unknown command\r\n");
    reply_error(&r3, "WRONGTYPE Operation against a key holding the wrong kind of value");
    EXPECT(out, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    reply_error(&r2, "ERR bad\r\nline\nhere\r");
    EXPECT(out, "-ERR bad  line here \r\n");
    reply_errorf(&r2, "ERR unknown command '%s', with args beginning with: %d", "x\ny", 3);
    EXPECT(out, "-ERR unknown command 'x y', with args beginning with: 3\r\n");
    buf_free(&b);
}

static void test_simple_and_ok(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r = {.out = out, .resp = 2};
    reply_ok(&r);
    EXPECT(out, "+OK\r\n");
    reply_simple(&r, "PONG");
    EXPECT(out, "+PONG\r\n");
    buf_free(&b);
}

static void test_integers(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_int(&r2, 0);
    EXPECT(out, ":0\r\n");
    reply_int(&r3, -42);
    EXPECT(out, ":-42\r\n");
    /* Around the one-digit shortcut of headers. */
    reply_int(&r2, 9);
    EXPECT(out, ":9\r\n");
    reply_int(&r2, 10);
    EXPECT(out, ":10\r\n");
    reply_int(&r2, -1);
    EXPECT(out, ":-1\r\n");
    reply_array(&r2, 9);
    EXPECT(out, "*9\r\n");
    reply_bulk(&r2, "0123456789", 10);
    EXPECT(out, "$10\r\n0123456789\r\n");
    reply_int(&r2, 9223372036854775807LL);
    EXPECT(out, ":9223372036854775807\r\n");
    reply_int(&r2, -9223372036854775807LL - 1);
    EXPECT(out, ":-9223372036854775808\r\n");
    reply_bulk_ll(&r2, 12345);
    EXPECT(out, "$5\r\n12345\r\n");
    reply_bulk_ll(&r3, -1);
    EXPECT(out, "$2\r\n-1\r\n");
    buf_free(&b);
}

static void test_bulk(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r2 = {.out = out, .resp = 2}, r3 = {.out = out, .resp = 3};
    reply_bulk(&r2, "bar", 3);
    EXPECT(out, "$3\r\nbar\r\n");
    reply_bulk(&r3, "bar", 3);
    EXPECT(out, "$3\r\nbar\r\n");
    reply_bulk(&r2, "", 0);
    EXPECT(out, "$0\r\n\r\n");
    reply_bulk(&r2, "a\0\r\n\xff", 5);
    EXPECT(out, "$5\r\na\0\r\n\xff\r\n");
    reply_bulk_str(&r2, "hello world");
    EXPECT(out, "$11\r\nhello world\r\n");

    /* A large bulk keeps every byte. */
    static char big[100000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)(i * 7);
    reply_bulk(&r2, big, sizeof(big));
    assert_int_equal(out->len, 9 + sizeof(big) + 2);
    assert_memory_equal(out->data, "$100000\r\n", 9);
    assert_memory_equal(out->data + 9, big, sizeof(big));
    assert_memory_equal(out->data + 9 + sizeof(big), "\r\n", 2);
    buf_clear(out);
    buf_free(&b);
}

static void test_appends(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf *out = &b;
    reply r = {.out = out, .resp = 2};
    reply_array(&r, 3);
    reply_bulk_str(&r, "a");
    reply_null(&r);
    reply_int(&r, 1);
    EXPECT(out, "*3\r\n$1\r\na\r\n$-1\r\n:1\r\n");
    buf_free(&b);
}

/* An array of bulk strings at once: the same bytes as reply_array and reply_bulk each, and,
 * near a bound, the same cut. */
static void test_bulk_array(void **state) {
    (void)state;
    buf b, want;
    buf_init(&b);
    buf_init(&want);
    const char *argv[] = {"HSET", "key", "", "a\0\r\n", "0123456789"};
    const size_t lens[] = {4, 3, 0, 4, 10};
    reply r = {.out = &b, .resp = 2}, w = {.out = &want, .resp = 2};
    reply_bulk_array(&r, 5, argv, lens);
    EXPECT(&b, "*5\r\n$4\r\nHSET\r\n$3\r\nkey\r\n$0\r\n\r\n$4\r\na\0\r\n\r\n$10\r\n0123456789\r\n");
    reply_bulk_array(&r, 0, NULL, NULL);
    EXPECT(&b, "*0\r\n");
    for (size_t max = 1; max <= 60; max++) {
        int cut = 0, want_cut = 0;
        r = (reply){.out = &b, .resp = 2, .max = max, .overflowed = &cut};
        w = (reply){.out = &want, .resp = 2, .max = max, .overflowed = &want_cut};
        buf_append(&b, "x", 1);
        buf_append(&want, "x", 1);
        reply_bulk_array(&r, 5, argv, lens);
        reply_array(&w, 5);
        for (size_t i = 0; i < 5; i++) reply_bulk(&w, argv[i], lens[i]);
        assert_int_equal(cut, want_cut);
        expect_bytes(&b, want.data, want.len);
        buf_clear(&want);
    }
    buf_free(&b);
    buf_free(&want);
}

/* A bounded reply stops growing at its bound and says it was cut. */
static void test_bounded_reply_is_cut(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    int cut = 0;
    reply r = {.out = &b, .resp = 2, .max = 100, .overflowed = &cut};
    reply_array(&r, 3);
    reply_bulk(&r, "small", 5);
    assert_int_equal(cut, 0);
    char big[200];
    memset(big, 'x', sizeof(big));
    reply_bulk(&r, big, sizeof(big));
    reply_bulk_hex(&r, big, sizeof(big));
    assert_int_equal(cut, 1);
    assert_true(b.len <= 100);
    buf_free(&b);
}

/* An array header inserted before elements already written: the same bytes as written first;
 * one that would pass the bound is not written, and the reply is cut. */
static void test_insert_array(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    reply r = {.out = &b, .resp = 2};
    reply_bulk(&r, "key", 3);
    size_t at = b.len;
    for (int i = 0; i < 12; i++) reply_bulk(&r, "v", 1);
    reply_insert_array(&r, at, 12);
    size_t len = b.len;
    EXPECT(&b, "$3\r\nkey\r\n*12\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n"
                "$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n");
    assert_int_equal(len, 9 + 5 + 12 * 7);
    reply_insert_array(&r, 0, 0); /* into an empty reply */
    EXPECT(&b, "*0\r\n");

    int cut = 0;
    reply bounded = {.out = &b, .resp = 2, .max = 8, .overflowed = &cut};
    reply_bulk(&bounded, "v", 1);
    reply_insert_array(&bounded, 0, 1);
    assert_int_equal(cut, 1);
    EXPECT(&b, "$1\r\nv\r\n");
    buf_free(&b);
}

/* A push message: ">n" in RESP3; in RESP2 the plain array Redis sends pub/sub messages as,
 * with the same elements. */
static void test_push(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    reply r2 = {.out = &b, .resp = 2}, r3 = {.out = &b, .resp = 3};
    reply_push(&r3, 3);
    reply_bulk_str(&r3, "message");
    reply_bulk_str(&r3, "news");
    reply_bulk_str(&r3, "hello");
    EXPECT(&b, ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    reply_push(&r2, 3);
    reply_bulk_str(&r2, "message");
    reply_bulk_str(&r2, "news");
    reply_bulk_str(&r2, "hello");
    EXPECT(&b, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
    reply_push(&r3, 0);
    EXPECT(&b, ">0\r\n");
    reply_push(&r2, 0);
    EXPECT(&b, "*0\r\n");
    /* A bounded push is cut like any reply. */
    int cut = 0;
    reply small = {.out = &b, .resp = 3, .max = 4, .overflowed = &cut};
    reply_push(&small, 12);
    assert_int_equal(cut, 1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_map_and_set),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_verbatim),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_simple_and_ok),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_bulk),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_bulk_array),
        cmocka_unit_test(test_bounded_reply_is_cut),
        cmocka_unit_test(test_insert_array),
        cmocka_unit_test(test_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
