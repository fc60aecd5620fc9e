/* Unit tests for hex encoding and decoding (src/util/hex.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/hex.h"

/* A copy of exactly len bytes, so the sanitizer build flags any read past the end. */
static char *exact_copy(const char *data, size_t len) {
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len) memcpy(p, data, len);
    return p;
}

static void expect_buf(const buf *b, const char *want, size_t len) {
    assert_int_equal(b->len, len);
    if (len) assert_memory_equal(b->data, want, len);
}

#define EXPECT_BUF(b, lit) expect_buf((b), (lit), sizeof(lit) - 1)

static int decode(buf *out, const char *s, size_t len) {
    char *p = exact_copy(s, len);
    int rc = hex_decode(out, p, len);
    free(p);
    return rc;
}

#define DECODE(out, lit) decode((out), (lit), sizeof(lit) - 1)

static void test_encode(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    hex_encode(&b, "", 0);
    assert_int_equal(b.len, 0);
    hex_encode(&b, "\x00\x01\xAB\xCD\xEF\xFF\x5A\x10", 8);
    EXPECT_BUF(&b, "0001ABCDEFFF5A10");
    buf_clear(&b);
    hex_encode(&b, "Hi!", 3);
    EXPECT_BUF(&b, "486921");
    /* Appends after what is there. */
    hex_encode(&b, "\x9C", 1);
    EXPECT_BUF(&b, "4869219C");
    buf_free(&b);
}

static void test_decode(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    assert_int_equal(DECODE(&b, ""), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(DECODE(&b, "0001ABCDEFFF"), 0);
    EXPECT_BUF(&b, "\x00\x01\xAB\xCD\xEF\xFF");
    buf_clear(&b);
    assert_int_equal(DECODE(&b, "abcdef"), 0);
    EXPECT_BUF(&b, "\xAB\xCD\xEF");
    buf_clear(&b);
    /* Mixed case, within a byte too. */
    assert_int_equal(DECODE(&b, "aBcD0f9A"), 0);
    EXPECT_BUF(&b, "\xAB\xCD\x0F\x9A");
    /* Appends after what is there. */
    assert_int_equal(DECODE(&b, "7e"), 0);
    EXPECT_BUF(&b, "\xAB\xCD\x0F\x9A\x7E");
    buf_free(&b);
}

static void test_decode_rejects(void **state) {
    (void)state;
    static const char *const bad[] = {
        "0",  "abc", "00112",                  /* odd length */
        "0g", "g0",  "G0",   "0G",             /* just past f/F */
        "/0", "0/",  ":0",   "0:",             /* around 0-9 */
        "@0", "0@",  "`0",   "0`",             /* just before A/a */
        "  ", "0x",  "-1",   "+1",   "\xC3\xA9", /* spaces, prefixes, UTF-8 */
        "00zz", "abcdef0 ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf b;
        buf_init(&b);
        int rc = decode(&b, bad[i], strlen(bad[i]));
        if (rc != -1) {
            print_error("hex_decode accepted \"%s\"\n", bad[i]);
            fail();
        }
        buf_free(&b);
    }
    /* Odd length even when the byte just past the end is a hex digit. */
    buf b0;
    buf_init(&b0);
    assert_int_equal(hex_decode(&b0, "abcd", 3), -1);
    assert_int_equal(hex_decode(&b0, "0123", 1), -1);
    buf_free(&b0);
    /* An embedded NUL is not a digit either. */
    buf b;
    buf_init(&b);
    assert_int_equal(decode(&b, "1\0", 2), -1);
    assert_int_equal(decode(&b, "\0" "1", 2), -1);
    assert_int_equal(decode(&b, "\x80\x30", 2), -1);
    buf_free(&b);
}

/* Every byte value: encoded as two uppercase digits, and back from either case. */
static void test_round_trip_all_bytes(void **state) {
    (void)state;
    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    buf enc;
    buf_init(&enc);
    hex_encode(&enc, all, sizeof(all));
    assert_int_equal(enc.len, 512);
    for (int i = 0; i < 256; i++) {
        char want[3];
        snprintf(want, sizeof(want), "%02X", i);
        if (memcmp(enc.data + 2 * i, want, 2) != 0) {
            print_error("byte %d encoded as %.2s, want %s\n", i, enc.data + 2 * i, want);
            fail();
        }
    }
    buf dec;
    buf_init(&dec);
    assert_int_equal(decode(&dec, enc.data, enc.len), 0);
    expect_buf(&dec, all, sizeof(all));

    /* The lowercase form decodes to the same bytes. */
    char *lower = exact_copy(enc.data, enc.len);
    for (size_t i = 0; i < enc.len; i++)
        if (lower[i] >= 'A' && lower[i] <= 'F') lower[i] = (char)(lower[i] - 'A' + 'a');
    buf_clear(&dec);
    assert_int_equal(hex_decode(&dec, lower, enc.len), 0);
    expect_buf(&dec, all, sizeof(all));
    free(lower);

    /* Decoding a single pair of every case of every byte. */
    for (int i = 0; i < 256; i++) {
        char pair[3];
        snprintf(pair, sizeof(pair), "%02x", i);
        buf one;
        buf_init(&one);
        assert_int_equal(decode(&one, pair, 2), 0);
        assert_int_equal(one.len, 1);
        assert_int_equal((uint8_t)one.data[0], i);
        buf_free(&one);
    }
    buf_free(&dec);
    buf_free(&enc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_round_trip_all_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
