/* Unit tests for hex encoding (src/util/hex.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/hex.h"

static void expect_buf(const buf *b, const char *want, size_t len) {
    assert_int_equal(b->len, len);
    if (len) assert_memory_equal(b->data, want, len);
}

#define EXPECT_BUF(b, lit) expect_buf((b), (lit), sizeof(lit) - 1)

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

static void test_encode_all_bytes(void **state) {
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
    buf_free(&enc);
}

static void test_decode(void **state) {
    (void)state;
    buf out;
    buf_init(&out);
    assert_int_equal(hex_decode(&out, "00fFa1", 6), 0);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "\x00\xff\xa1", 3);
    assert_int_equal(hex_decode(&out, "", 0), 0);
    assert_int_equal(out.len, 3);
    assert_int_equal(hex_decode(&out, "abc", 3), -1); /* odd */
    assert_int_equal(hex_decode(&out, "0g", 2), -1);  /* not a digit */
    buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_all_bytes),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
