/* Unit tests for list index arithmetic and room (src/types/list.h) and the zset score-index keys
 * (ordered doubles inside subkeys, src/storage/encoding.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "storage/encoding.h"
#include "types/list.h"

static void test_index_position(void **state) {
    (void)state;
    uint64_t head = LIST_INITIAL_INDEX - 3, pos;
    assert_int_equal(list_index_position(head, 5, 0, &pos), 0);
    assert_true(pos == head);
    assert_int_equal(list_index_position(head, 5, 4, &pos), 0);
    assert_true(pos == head + 4);
    assert_int_equal(list_index_position(head, 5, -1, &pos), 0);
    assert_true(pos == head + 4);
    assert_int_equal(list_index_position(head, 5, -5, &pos), 0);
    assert_true(pos == head);
    assert_int_equal(list_index_position(head, 5, 5, &pos), -1);
    assert_int_equal(list_index_position(head, 5, -6, &pos), -1);
    assert_int_equal(list_index_position(head, 0, 0, &pos), -1);
    assert_int_equal(list_index_position(head, 0, -1, &pos), -1);
}

static void test_clamp_range(void **state) {
    (void)state;
    long long a, b;
    a = 0, b = -1;
    assert_int_equal(list_clamp_range(10, &a, &b), 1);
    assert_int_equal(a, 0);
    assert_int_equal(b, 9);
    a = -3, b = 100;
    assert_int_equal(list_clamp_range(10, &a, &b), 1);
    assert_int_equal(a, 7);
    assert_int_equal(b, 9);
    a = -100, b = 2;
    assert_int_equal(list_clamp_range(10, &a, &b), 1);
    assert_int_equal(a, 0);
    assert_int_equal(b, 2);
    a = 5, b = 2;
    assert_int_equal(list_clamp_range(10, &a, &b), 0);
    a = 10, b = 20;
    assert_int_equal(list_clamp_range(10, &a, &b), 0);
    a = 0, b = -11;
    assert_int_equal(list_clamp_range(10, &a, &b), 0);
    a = 0, b = 0;
    assert_int_equal(list_clamp_range(0, &a, &b), 0);
}

static void test_has_room(void **state) {
    (void)state;
    uint64_t mid = LIST_INITIAL_INDEX;
    assert_true(list_has_room(mid, mid, 1, 1000));
    assert_true(list_has_room(mid, mid, 0, 1000));
    /* head 2: two more at the head (positions 1 and 0), not three */
    assert_true(list_has_room(2, 5, 1, 2));
    assert_false(list_has_room(2, 5, 1, 3));
    assert_false(list_has_room(0, 1, 1, 1));
    assert_true(list_has_room(0, 1, 0, 1));
    /* tail 2^64 - 3: two more at the tail (the last position used is 2^64 - 2) */
    assert_true(list_has_room(UINT64_MAX - 4, UINT64_MAX - 2, 0, 2));
    assert_false(list_has_room(UINT64_MAX - 4, UINT64_MAX - 2, 0, 3));
    assert_false(list_has_room(UINT64_MAX - 1, UINT64_MAX, 0, 1));
    assert_true(list_has_room(UINT64_MAX - 1, UINT64_MAX, 1, 1));
    assert_true(list_has_room(0, UINT64_MAX, 0, 0)); /* nothing always fits */
}

/* The score-index key of (score, member): subkey with the ordered score then the member. */
static void index_key(buf *out, double score, const char *member) {
    uint8_t s[8];
    enc_ordered_double(s, score);
    buf sub;
    buf_init(&sub);
    buf_append(&sub, s, 8);
    buf_append(&sub, member, strlen(member));
    enc_subkey(out, 0, "z", 1, 0x0102030405060708ULL, sub.data, sub.len);
    buf_free(&sub);
}

static int compare_bytes(const buf *a, const buf *b) {
    int c = memcmp(a->data, b->data, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void test_score_index_orders_by_score_then_member(void **state) {
    (void)state;
    /* In the order ZRANGE must return them. */
    struct {
        double score;
        const char *member;
    } entries[] = {{-INFINITY, "a"}, {-1e300, "a"}, {-2.5, "z"}, {-2.5, "zz"}, {-0.5, "a"}, {0, ""},
                   {0, "a"},         {0, "b"},      {1e-300, "a"}, {1, "a"},   {1, "b"},    {1.5, ""},
                   {1e300, "a"},     {INFINITY, ""}, {INFINITY, "a"}};
    size_t n = sizeof(entries) / sizeof(entries[0]);
    buf prev, cur;
    buf_init(&prev);
    buf_init(&cur);
    index_key(&prev, entries[0].score, entries[0].member);
    for (size_t i = 1; i < n; i++) {
        buf_clear(&cur);
        index_key(&cur, entries[i].score, entries[i].member);
        assert_true(compare_bytes(&prev, &cur) < 0);
        buf_clear(&prev);
        buf_append(&prev, cur.data, cur.len);
    }
    /* Layout: [ns][key_len u32][key][version u64][score 8][member]. */
    buf_clear(&cur);
    index_key(&cur, 1.0, "m");
    const uint8_t expected_tail[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                     0xBF, 0xF0, 0, 0, 0, 0, 0, 0, 'm'};
    assert_int_equal(cur.len, 1 + 11 + 4 + 1 + sizeof(expected_tail));
    assert_memory_equal(cur.data + cur.len - sizeof(expected_tail), expected_tail, sizeof(expected_tail));
    buf_free(&prev);
    buf_free(&cur);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_position),
        cmocka_unit_test(test_clamp_range),
        cmocka_unit_test(test_has_room),
        cmocka_unit_test(test_score_index_orders_by_score_then_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
