/* Unit tests for what APPLYBATCH takes (src/cdc/apply.h) from a key's metadata: a list must
 * leave room for pushes at both ends of its u64 positions, a bitmap may not be longer than a
 * string may be. Batches are built with a txn and applied against a database in a temporary
 * directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply.h"
#include "storage/encoding.h"
#include "storage/store.h"
#include "store_fixture.h"
#include "storage/txn.h"

#define VERSION 9
#define ROOM (1ULL << 32) /* what apply.c keeps free at each end (LIST_EDGE_ROOM) */

static const apply_limits limits = {16, 1024 * 1024, NULL, 0};
static char err[256];

/* Applies a batch that writes key k's metadata m and, for a list, its items (a bitmap gets
 * no fragment: it reads as zeros). Returns what cdc_apply_batch does; nothing is committed. */
static int apply_key(const meta *m) {
    txn b;
    txn_init(&b);
    buf k, out;
    buf_init(&k);
    buf_init(&out);
    enc_meta_key(&k, 0, "k", 1);
    enc_compound_meta(&out, m);
    txn_put(&b, CF_METADATA, k.data, k.len, out.data, out.len);
    for (uint64_t i = 0; m->type == TYPE_LIST && i < m->size; i++) {
        char pos[8];
        buf_set_u64be(pos, m->list_head + i);
        buf_clear(&k);
        enc_subkey(&k, 0, "k", 1, VERSION, pos, 8);
        txn_put(&b, CF_DEFAULT, k.data, k.len, "item", 4);
    }
    buf_clear(&out);
    txn_build_batch(&b, &out);
    txn t;
    txn_init(&t);
    int rc = cdc_apply_batch(&t, out.data, out.len, &limits, err, sizeof(err));
    txn_free(&t);
    txn_free(&b);
    buf_free(&k);
    buf_free(&out);
    return rc;
}

static int apply_list(uint64_t head, uint64_t size) {
    meta m = {.type = TYPE_LIST, .version = VERSION, .size = size, .list_head = head, .list_tail = head + size};
    return apply_key(&m);
}

static int apply_bitmap(uint64_t size) {
    meta m = {.type = TYPE_BITMAP, .version = VERSION, .size = size};
    return apply_key(&m);
}

static void test_list_needs_room_at_both_ends(void **state) {
    (void)state;
    assert_int_equal(apply_list(LIST_INITIAL_INDEX, 3), 1);
    assert_int_equal(apply_list(ROOM, 2), 1);              /* the least room at the head */
    assert_int_equal(apply_list(UINT64_MAX - ROOM - 2, 2), 1); /* and at the tail */
    assert_int_equal(apply_list(0, 1), -1);
    assert_string_equal(err, "ERR APPLYBATCH: list 'k' has positions too near the edge (head 0, tail 1)");
    assert_int_equal(apply_list(ROOM - 1, 1), -1);
    assert_int_equal(apply_list(UINT64_MAX - 1, 1), -1);
    assert_string_equal(err, "ERR APPLYBATCH: list 'k' has positions too near the edge "
                             "(head 18446744073709551614, tail 18446744073709551615)");
    assert_int_equal(apply_list(UINT64_MAX - ROOM - 1, 2), -1);
}

static void test_bitmap_is_no_longer_than_a_string(void **state) {
    (void)state;
    assert_int_equal(apply_bitmap(limits.max_string_len), 1);
    assert_int_equal(apply_bitmap(limits.max_string_len + 1), -1);
    assert_string_equal(err, "ERR APPLYBATCH: bitmap 'k' of 1048577 bytes is longer than proto-max-bulk-len");
    assert_int_equal(apply_bitmap(1ULL << 40), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_needs_room_at_both_ends),
        cmocka_unit_test(test_bitmap_is_no_longer_than_a_string),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
