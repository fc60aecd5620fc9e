/* Unit tests for the CDC tail cache (src/cdc/tail.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cdc/tail.h"

/* A minimal batch: header (sequence, count) and `count` puts of one byte each. */
static size_t make_batch(char *out, uint64_t seq, uint32_t count) {
    memcpy(out, &seq, 8); /* the tests run on little-endian machines, as RocksDB's format is */
    memcpy(out + 8, &count, 4);
    size_t len = 12;
    for (uint32_t i = 0; i < count; i++) {
        const char put[] = {0x01, 0x01, 'k', 0x01, 'v'};
        memcpy(out + len, put, sizeof(put));
        len += sizeof(put);
    }
    return len;
}

static void append(uint64_t seq, uint32_t count) {
    char b[256];
    tail_append(b, make_batch(b, seq, count));
}

/* The sequences of the batches a read returned. */
static int read_seqs(uint64_t from, int max, uint64_t *seqs) {
    buf out;
    buf_init(&out);
    int n;
    if (tail_read(from, max, &out, &n) == TAIL_TOO_OLD) {
        buf_free(&out);
        return -1;
    }
    const char *p = out.data;
    for (int i = 0; i < n; i++) {
        uint32_t len;
        memcpy(&len, p, 4);
        memcpy(&seqs[i], p + 4, 8);
        p += 4 + len;
    }
    buf_free(&out);
    return n;
}

static int setup(void **state) {
    (void)state;
    tail_init(1 << 20);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tail_free();
    return 0;
}

static void test_reads_in_order_from_a_position(void **state) {
    (void)state;
    append(10, 1);
    append(11, 3); /* 11..13 */
    append(14, 1);
    uint64_t seqs[8];
    assert_int_equal(read_seqs(10, 8, seqs), 3);
    assert_int_equal(seqs[0], 10);
    assert_int_equal(seqs[2], 14);
    /* A position inside a batch returns that batch whole. */
    assert_int_equal(read_seqs(12, 8, seqs), 2);
    assert_int_equal(seqs[0], 11);
    assert_int_equal(read_seqs(15, 8, seqs), 0);
    assert_int_equal(read_seqs(10, 2, seqs), 2);
    /* Before the first batch seen, the WAL must answer. */
    assert_int_equal(read_seqs(9, 8, seqs), -1);
}

static void test_out_of_order_commits_never_expose_a_gap(void **state) {
    (void)state;
    append(10, 1);
    append(12, 1); /* 11 is still on its way */
    uint64_t seqs[8];
    assert_int_equal(read_seqs(10, 8, seqs), 1);
    assert_int_equal(read_seqs(11, 8, seqs), 0);
    append(11, 1);
    assert_int_equal(read_seqs(10, 8, seqs), 3);
    assert_int_equal(seqs[1], 11);
    assert_int_equal(seqs[2], 12);
}

static void test_eviction_sends_old_positions_to_the_wal(void **state) {
    (void)state;
    tail_init(200); /* about six one-put batches (29 bytes each) */
    for (uint64_t s = 1; s <= 20; s++) append(s, 1);
    uint64_t seqs[32];
    assert_int_equal(read_seqs(1, 32, seqs), -1);
    int n = read_seqs(20, 32, seqs);
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0], 20);
    n = read_seqs(15, 32, seqs);
    assert_int_equal(n, 6);
    assert_int_equal(seqs[5], 20);
}

static void test_growth_keeps_order(void **state) {
    (void)state;
    for (uint64_t s = 100; s < 5100; s++) append(s, 1); /* past the initial entry array */
    uint64_t seqs[5000];
    assert_int_equal(read_seqs(100, 5000, seqs), 5000);
    for (int i = 0; i < 5000; i++) assert_int_equal(seqs[i], 100 + (uint64_t)i);
}

static void test_disabled_cache_defers_to_the_wal(void **state) {
    (void)state;
    tail_init(0);
    append(1, 1);
    uint64_t seqs[2];
    assert_int_equal(read_seqs(1, 2, seqs), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_in_order_from_a_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_commits_never_expose_a_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_sends_old_positions_to_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_cache_defers_to_the_wal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
