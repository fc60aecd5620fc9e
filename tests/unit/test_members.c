/* Unit tests for what the collection types share (src/types/members.h): random picks
 * (distinct, repeated, with values, counts past the size, sizes that lie), walks of all
 * members and scan pages, through txns on a database in a temporary directory. */
#include <stdio.h>

#include "store_fixture.h"
#include "type_fixture.h"
#include "types/members.h"

/* Stores a hash-shaped collection `key` of n members "m<i>" (zero-padded) with values "v<i>",
 * whose metadata says `size` members (n when it tells the truth). */
static void make_collection(const char *key, int n, uint64_t size) {
    txn t;
    txn_init(&t);
    compound c;
    assert_int_equal(compound_open(&c, &t, 0, key, strlen(key), TYPE_HASH), CK_MISSING);
    for (int i = 0; i < n; i++) {
        char m[16], v[16];
        snprintf(m, sizeof(m), "m%05d", i);
        snprintf(v, sizeof(v), "v%05d", i);
        compound_put(&c, m, strlen(m), v, strlen(v));
    }
    c.m.size = size;
    compound_save(&c);
    compound_free(&c);
    commit(&t);
    txn_free(&t);
}

/* The index of a member "m<i>", checking that its value (if any) is "v<i>". */
static int member_index(const char *m, size_t ml, const char *v, size_t vl) {
    assert_int_equal(ml, 6);
    assert_int_equal(m[0], 'm');
    int i = atoi(m + 1);
    if (vl) {
        assert_int_equal(vl, 6);
        assert_int_equal(v[0], 'v');
        assert_memory_equal(v + 1, m + 1, 5);
    }
    return i;
}

/* Picks count from key (a hash of `size` members), checks they are members, distinct when
 * count >= 0, and returns how many. */
static long long check_picks(txn *t, const char *key, int size, long long count, int with_values) {
    picked *p;
    long long n;
    assert_int_equal(members_pick(t, 0, key, strlen(key), TYPE_HASH, count, with_values, SIZE_MAX, &p, &n), ST_OK);
    char *seen = calloc((size_t)size, 1);
    for (long long i = 0; i < n; i++) {
        if (with_values) assert_true(p[i].val.len > 0);
        else assert_int_equal(p[i].val.len, 0);
        int at = member_index(p[i].sub.data, p[i].sub.len, p[i].val.data, p[i].val.len);
        assert_true(at >= 0 && at < size);
        if (count >= 0) assert_int_equal(seen[at], 0);
        seen[at] = 1;
    }
    free(seen);
    picked_free(p, n);
    return n;
}

static void test_picks(void **state) {
    (void)state;
    make_collection("small", 10, 10);
    make_collection("big", 1000, 1000); /* few picks of many members are made by seeking */
    txn t;
    txn_init(&t);
    assert_int_equal(check_picks(&t, "small", 10, 5, 0), 5);
    assert_int_equal(check_picks(&t, "small", 10, 10, 1), 10);
    assert_int_equal(check_picks(&t, "small", 10, 50, 1), 10); /* no more than the size */
    assert_int_equal(check_picks(&t, "small", 10, -50, 1), 50); /* repeats: as many as asked */
    assert_int_equal(check_picks(&t, "small", 10, 0, 0), 0);
    assert_int_equal(check_picks(&t, "big", 1000, 20, 1), 20);
    assert_int_equal(check_picks(&t, "big", 1000, -20, 0), 20);
    assert_int_equal(check_picks(&t, "big", 1000, 700, 0), 700);
    txn_free(&t);
}

static void test_pick_bounds(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    picked *p;
    long long n = -1;
    /* Picking stops once the picks hold more than max_bytes. */
    assert_int_equal(members_pick(&t, 0, "small", 5, TYPE_HASH, 10, 1, 30, &p, &n), ST_OK);
    assert_true(n >= 1 && n < 10);
    picked_free(p, n);
    assert_int_equal(members_pick(&t, 0, "nokey", 5, TYPE_HASH, 3, 0, SIZE_MAX, &p, &n), ST_MISSING);
    assert_int_equal(n, 0);
    assert_int_equal(members_pick(&t, 0, "small", 5, TYPE_SET, 3, 0, SIZE_MAX, &p, &n), ST_WRONGTYPE);
    txn_free(&t);
}

static void test_size_that_lies(void **state) {
    (void)state;
    make_collection("liar", 3, 100);
    make_collection("short", 100, 50); /* more members than its size */
    txn t;
    txn_init(&t);
    picked *p;
    long long n;
    assert_int_equal(members_pick(&t, 0, "liar", 4, TYPE_HASH, 50, 0, SIZE_MAX, &p, &n), ST_CORRUPT);
    assert_int_equal(members_pick(&t, 0, "liar", 4, TYPE_HASH, -50, 0, SIZE_MAX, &p, &n), ST_CORRUPT);
    txn_free(&t);
}

/* A visitor counting visits and checking members; stops after `stop_at` visits (0: never). */
typedef struct tally {
    int visits, stop_at, last;
    int in_order;
    char *seen;
} tally;

static int count_visit(void *arg, const char *m, size_t ml, const char *v, size_t vl) {
    tally *ta = arg;
    int at = member_index(m, ml, v, vl);
    if (ta->in_order) assert_true(at > ta->last);
    ta->last = at;
    if (ta->seen) ta->seen[at]++;
    ta->visits++;
    return ta->stop_at && ta->visits == ta->stop_at;
}

static void test_pick_repeated(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    tally ta = {0};
    assert_int_equal(members_pick_repeated(&t, 0, "small", 5, TYPE_HASH, 1000, 1, count_visit, &ta), ST_OK);
    assert_int_equal(ta.visits, 1000); /* from a copy of the members */
    ta = (tally){.stop_at = 7};
    assert_int_equal(members_pick_repeated(&t, 0, "big", 3, TYPE_HASH, 100, 0, count_visit, &ta), ST_OK);
    assert_int_equal(ta.visits, 7); /* made a batch at a time, stopped by the visitor */
    ta = (tally){0};
    assert_int_equal(members_pick_repeated(&t, 0, "nokey", 5, TYPE_HASH, 10, 0, count_visit, &ta), ST_MISSING);
    assert_int_equal(ta.visits, 0);
    assert_int_equal(members_pick_repeated(&t, 0, "liar", 4, TYPE_HASH, 1000, 0, count_visit, &ta), ST_CORRUPT);
    txn_free(&t);
}

static void test_all(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    long long size;
    tally ta = {.in_order = 1, .last = -1};
    assert_int_equal(members_all(&t, 0, "small", 5, TYPE_HASH, &size, count_visit, &ta), ST_OK);
    assert_int_equal(size, 10);
    assert_int_equal(ta.visits, 10);
    ta = (tally){.in_order = 1, .last = -1};
    assert_int_equal(members_all(&t, 0, "liar", 4, TYPE_HASH, &size, count_visit, &ta), ST_CORRUPT);
    ta = (tally){.in_order = 1, .last = -1};
    assert_int_equal(members_all(&t, 0, "short", 5, TYPE_HASH, &size, count_visit, &ta), ST_CORRUPT);
    ta = (tally){.stop_at = 2, .in_order = 1, .last = -1}; /* stopped early: no size check */
    assert_int_equal(members_all(&t, 0, "liar", 4, TYPE_HASH, &size, count_visit, &ta), ST_OK);
    assert_int_equal(members_all(&t, 0, "nokey", 5, TYPE_HASH, &size, count_visit, &ta), ST_MISSING);
    assert_int_equal(size, 0);
    long long count;
    assert_int_equal(members_count(&t, 0, "big", 3, TYPE_HASH, &count), ST_OK);
    assert_int_equal(count, 1000);
    txn_free(&t);
}

static void test_score(void **state) {
    (void)state;
    uint8_t stored[8];
    enc_ordered_double(stored, -2.5);
    double score = 0;
    assert_int_equal(members_score((const char *)stored, 8, &score), ST_OK);
    assert_true(score == -2.5);
    assert_int_equal(members_score((const char *)stored, 7, &score), ST_CORRUPT);
}

/* Scans key in pages of count until the cursor comes back to 0; returns the pages. */
static int scan_all(txn *t, const char *key, const char *pattern, long long count, tally *ta) {
    uint64_t cursor = 0;
    int pages = 0;
    slice match = {(char *)pattern, pattern ? strlen(pattern) : 0};
    do {
        assert_int_equal(members_scan(t, 0, key, strlen(key), TYPE_HASH, cursor, pattern ? &match : NULL, count,
                                      count_visit, ta, &cursor),
                         ST_OK);
        pages++;
    } while (cursor != 0 && pages < 10000);
    return pages;
}

static void test_scan_pages(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    tally ta = {.seen = calloc(1000, 1)};
    int pages = scan_all(&t, "big", NULL, 10, &ta);
    assert_true(pages >= 50 && pages <= 101);
    for (int i = 0; i < 1000; i++) assert_true(ta.seen[i] >= 1); /* every member, once or more */
    assert_true(ta.visits < 1100);
    memset(ta.seen, 0, 1000);
    ta.visits = 0;
    scan_all(&t, "big", "m0001*", 25, &ta); /* m00010 … m00019 */
    assert_int_equal(ta.visits, 10);
    for (int i = 10; i < 20; i++) assert_int_equal(ta.seen[i], 1);
    free(ta.seen);
    ta = (tally){0};
    assert_int_equal(scan_all(&t, "nokey", NULL, 10, &ta), 1); /* a missing key: one empty page */
    assert_int_equal(ta.visits, 0);
    uint64_t next;
    assert_int_equal(members_scan(&t, 0, "big", 3, TYPE_SET, 0, NULL, 10, count_visit, &ta, &next), ST_WRONGTYPE);
    txn_free(&t);
}

/* Operations for test_read_errors: picks by walking and by seeking, repeated picks from a
 * copy and in batches, a walk of all members and a scan page. */
static type_status pick(txn *t, const char *key, long long count) {
    picked *p;
    long long n;
    type_status st = members_pick(t, 0, key, strlen(key), TYPE_HASH, count, 1, SIZE_MAX, &p, &n);
    if (st == ST_OK) picked_free(p, n);
    return st;
}

static type_status op_walk_pick(txn *t) { return pick(t, "small", 3); }
static type_status op_seek_pick(txn *t) { return pick(t, "big", 5); }
static type_status op_pool_picks(txn *t) {
    return members_pick_repeated(t, 0, KEY("small"), TYPE_HASH, 100, 1, visit_nothing, NULL);
}
static type_status op_batch_picks(txn *t) {
    return members_pick_repeated(t, 0, KEY("big"), TYPE_HASH, 100, 0, visit_nothing, NULL);
}
static type_status op_all(txn *t) {
    long long size;
    return members_all(t, 0, KEY("small"), TYPE_HASH, &size, visit_nothing, NULL);
}
static type_status op_scan(txn *t) {
    uint64_t next;
    return members_scan(t, 0, KEY("big"), TYPE_HASH, 0, NULL, 20, visit_nothing, NULL, &next);
}

static void test_read_errors(void **state) {
    (void)state;
    assert_true(assert_read_errors_fail(op_walk_pick) >= 4); /* the metadata, members up to the third pick */
    assert_true(assert_read_errors_fail(op_seek_pick) >= 6);
    assert_int_equal(assert_read_errors_fail(op_pool_picks), 12);
    assert_true(assert_read_errors_fail(op_batch_picks) >= 101);
    assert_int_equal(assert_read_errors_fail(op_all), 12);
    assert_true(assert_read_errors_fail(op_scan) >= 21);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_picks),         cmocka_unit_test(test_pick_bounds),
        cmocka_unit_test(test_size_that_lies), cmocka_unit_test(test_pick_repeated),
        cmocka_unit_test(test_all),           cmocka_unit_test(test_scan_pages),
        cmocka_unit_test(test_score),         cmocka_unit_test(test_read_errors),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
