/* Unit tests for the bitmap type (src/types/bitmap.h): the Kvrocks layout of its fragments
 * (decimal byte-offset names, bit-reversed bytes, trailing zeros left out, empty fragments
 * deleted), and reads and writes across fragment edges, through a txn on a database in a
 * temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"
#include "store_fixture.h"
#include "storage/txn.h"
#include "types/bitmap.h"


/* Opens key as a bitmap in t (a new one if missing). */
static void open_bitmap(compound *c, txn *t, const char *key) {
    int rc = compound_open(c, t, 0, key, strlen(key), TYPE_BITMAP);
    assert_true(rc == CK_FOUND || rc == CK_MISSING);
}

/* The stored bytes of a fragment: its length, or -1 if it is not there. */
static long fragment(compound *c, const char *name, buf *out) {
    int rc = compound_get(c, name, strlen(name), out);
    assert_true(rc >= 0);
    return rc ? (long)out->len : -1;
}

static void test_reverse_bits(void **state) {
    (void)state;
    assert_int_equal(enc_reverse_bits(0x01), 0x80);
    assert_int_equal(enc_reverse_bits(0x80), 0x01);
    assert_int_equal(enc_reverse_bits(0x32), 0x4C);
    assert_int_equal(enc_reverse_bits(0xF0), 0x0F);
    for (int b = 0; b < 256; b++) assert_int_equal(enc_reverse_bits(enc_reverse_bits((uint8_t)b)), b);
}

static void test_setbit_layout(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    compound c;
    open_bitmap(&c, &t, "b");
    int old = -1;
    /* Redis bit 8*2050+1 is byte 2050's second most significant bit: stored as 0x02 at 2 in "2048". */
    assert_int_equal(bitmap_setbit(&c, 8 * 2050 + 1, 1, &old), 0);
    assert_int_equal(old, 0);
    assert_true(c.m.size == 2051);
    buf v;
    buf_init(&v);
    assert_int_equal(fragment(&c, "2048", &v), 3);
    assert_memory_equal(v.data, "\x00\x00\x02", 3);
    assert_int_equal(fragment(&c, "0", &v), -1);
    int bit = -1;
    assert_int_equal(bitmap_getbit(&c, 8 * 2050 + 1, &bit), 0);
    assert_int_equal(bit, 1);
    assert_int_equal(bitmap_getbit(&c, 8 * 2050, &bit), 0);
    assert_int_equal(bit, 0);
    assert_int_equal(bitmap_getbit(&c, 8 * 5000, &bit), 0); /* past the end */
    assert_int_equal(bit, 0);
    /* Clearing the only bit deletes the fragment; the length stays. */
    assert_int_equal(bitmap_setbit(&c, 8 * 2050 + 1, 0, &old), 0);
    assert_int_equal(old, 1);
    assert_int_equal(fragment(&c, "2048", &v), -1);
    assert_true(c.m.size == 2051);
    assert_int_equal(bitmap_read(&c, &v), 0);
    assert_int_equal(v.len, 2051);
    for (size_t i = 0; i < v.len; i++) assert_int_equal(v.data[i], 0);
    buf_free(&v);
    compound_free(&c);
    txn_free(&t);
}

static void test_write_across_fragments(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    compound c;
    open_bitmap(&c, &t, "w");
    char text[3000];
    for (size_t i = 0; i < sizeof(text); i++) text[i] = (char)('a' + i % 26);
    assert_int_equal(bitmap_write(&c, 1000, text, sizeof(text)), 0);
    assert_true(c.m.size == 4000);
    buf v;
    buf_init(&v);
    assert_int_equal(fragment(&c, "0", &v), 1024); /* bytes 1000..1023 */
    assert_int_equal((uint8_t)v.data[1000], enc_reverse_bits('a'));
    assert_int_equal(fragment(&c, "3072", &v), 928);
    assert_int_equal(fragment(&c, "4096", &v), -1);
    /* A second write over an edge merges with what is there. */
    assert_int_equal(bitmap_write(&c, 2046, "XYZ", 3), 0);
    assert_int_equal(bitmap_read_range(&c, 2044, 6, &v), 0);
    assert_int_equal(v.len, 6);
    const char expected[6] = {text[1044], text[1045], 'X', 'Y', 'Z', text[1049]};
    assert_memory_equal(v.data, expected, 6);
    assert_int_equal(bitmap_read(&c, &v), 0);
    assert_int_equal(v.len, 4000);
    for (size_t i = 0; i < 1000; i++) assert_int_equal(v.data[i], 0);
    assert_memory_equal(v.data + 1000, text, 1046);
    assert_memory_equal(v.data + 2049, text + 1049, sizeof(text) - 1049);
    buf_free(&v);
    compound_free(&c);
    txn_free(&t);
}

static void test_new_bitmap_writes_no_zero_fragments(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    compound c;
    open_bitmap(&c, &t, "z");
    char zeros[5000] = {0};
    zeros[4999] = 1;
    assert_int_equal(bitmap_write(&c, 0, zeros, sizeof(zeros)), 0);
    assert_true(c.m.size == 5000);
    buf v;
    buf_init(&v);
    assert_int_equal(fragment(&c, "0", &v), -1);
    assert_int_equal(fragment(&c, "3072", &v), -1);
    assert_int_equal(fragment(&c, "4096", &v), 904);
    assert_int_equal(bitmap_read_range(&c, 4990, 10, &v), 0);
    assert_memory_equal(v.data, "\0\0\0\0\0\0\0\0\0\x01", 10);
    long long count = -1;
    assert_int_equal(bitmap_count(&c, 0, 4999, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(bitmap_count(&c, 0, 4998, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(bitmap_write(&c, 100, "\xff\x03", 2), 0);
    assert_int_equal(bitmap_count(&c, 101, 4999, &count), 0);
    assert_int_equal(count, 3);
    buf_free(&v);
    compound_free(&c);
    txn_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_bits),
        cmocka_unit_test(test_setbit_layout),
        cmocka_unit_test(test_write_across_fragments),
        cmocka_unit_test(test_new_bitmap_writes_no_zero_fragments),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
