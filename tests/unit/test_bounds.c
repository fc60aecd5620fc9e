/* Unit tests for the remembered bounds of live keys (src/storage/bounds.h): what a bound
 * answers, how puts widen it, prefixes and column families kept apart, forgetting, and the
 * bytewise order (bytes_compare) the bounds rely on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <stdlib.h>

#include "storage/bounds.h"
#include "storage/txn.h"
#include "util/buf.h"

#define P "prefix/"

static int has(int cf, const char *prefix, enum bound_side side, const char *want) {
    buf out;
    buf_init(&out);
    int known = bounds_get(cf, prefix, strlen(prefix), side, &out);
    int same = known && want && out.len == strlen(want) && memcmp(out.data, want, out.len) == 0;
    buf_free(&out);
    return want ? same : !known;
}

/* A txn with nothing staged: the puts below only touch published bounds. */
static txn idle_txn;

static void put(int cf, const char *key) { bounds_note_put(&idle_txn, cf, key, strlen(key), strlen(P)); }

static void set(int cf, enum bound_side side, const char *key) {
    bounds_set(cf, P, strlen(P), side, key, strlen(key));
}

static void test_unknown_until_set(void **state) {
    (void)state;
    bounds_forget_all();
    assert_true(has(0, P, BOUND_LOW, NULL));
    set(0, BOUND_LOW, P "b");
    assert_true(has(0, P, BOUND_LOW, P "b"));
    assert_true(has(0, P, BOUND_HIGH, NULL));
}

static void test_puts_widen_only_outward(void **state) {
    (void)state;
    bounds_forget_all();
    set(0, BOUND_LOW, P "m");
    set(0, BOUND_HIGH, P "p");
    put(0, P "n"); /* inside: nothing changes */
    assert_true(has(0, P, BOUND_LOW, P "m"));
    assert_true(has(0, P, BOUND_HIGH, P "p"));
    put(0, P "a");
    put(0, P "z");
    assert_true(has(0, P, BOUND_LOW, P "a"));
    assert_true(has(0, P, BOUND_HIGH, P "z"));
    put(0, P ""); /* the empty member is below everything */
    assert_true(has(0, P, BOUND_LOW, P));
}

static void test_prefixes_and_column_families_apart(void **state) {
    (void)state;
    bounds_forget_all();
    set(0, BOUND_LOW, P "m");
    assert_true(has(1, P, BOUND_LOW, NULL));
    assert_true(has(0, "prefix", BOUND_LOW, NULL));
    bounds_note_put(&idle_txn, 1, P "a", strlen(P "a"), strlen(P));
    bounds_note_put(&idle_txn, 0, "prefiy/a", 8, 7); /* another prefix of the same length */
    assert_true(has(0, P, BOUND_LOW, P "m"));
}

static void test_forget_all(void **state) {
    (void)state;
    set(0, BOUND_LOW, P "m");
    set(2, BOUND_HIGH, P "q");
    bounds_forget_all();
    assert_true(has(0, P, BOUND_LOW, NULL));
    assert_true(has(2, P, BOUND_HIGH, NULL));
    set(0, BOUND_HIGH, P "x"); /* a slot claimed again starts without its old low bound */
    assert_true(has(0, P, BOUND_LOW, NULL));
}

/* Stages a bound in t as a walk would. */
static void stage_in(txn *t, enum bound_side side, const char *key) {
    staged_bounds *s = &t->bounds;
    s->items = realloc(s->items, (s->n + 1) * sizeof(*s->items));
    assert_non_null(s->items);
    staged_bound *b = &s->items[s->n++];
    b->cf = 0;
    b->side = side;
    buf_init(&b->prefix);
    buf_init(&b->key);
    buf_append(&b->prefix, P, strlen(P));
    buf_append(&b->key, key, strlen(key));
}

static void test_staged_until_published(void **state) {
    (void)state;
    bounds_forget_all();
    txn t;
    txn_init(&t);
    stage_in(&t, BOUND_LOW, P "m");
    stage_in(&t, BOUND_HIGH, P "p");
    assert_true(has(0, P, BOUND_LOW, NULL)); /* nothing published before the commit */
    /* A later put of the same txn widens what it staged. */
    bounds_note_put(&t, 0, P "c", strlen(P "c"), strlen(P));
    bounds_note_put(&t, 0, P "n", strlen(P "n"), strlen(P));
    bounds_publish(&t.bounds);
    assert_int_equal(t.bounds.n, 0);
    assert_true(has(0, P, BOUND_LOW, P "c"));
    assert_true(has(0, P, BOUND_HIGH, P "p"));
    /* A txn that does not commit publishes nothing. */
    stage_in(&t, BOUND_LOW, P "x");
    staged_bounds_clear(&t.bounds);
    assert_true(has(0, P, BOUND_LOW, P "c"));
    txn_free(&t);
}

static void test_bytes_compare_is_bytewise(void **state) {
    (void)state;
    assert_true(bytes_compare("a", 1, "b", 1) < 0);
    assert_true(bytes_compare("ab", 2, "a", 1) > 0);
    assert_true(bytes_compare("a", 1, "ab", 2) < 0);
    assert_int_equal(bytes_compare("", 0, "", 0), 0);
    assert_int_equal(bytes_compare(NULL, 0, "", 0), 0);
    assert_true(bytes_compare("\xff", 1, "\x01", 1) > 0); /* unsigned bytes */
    assert_true(bytes_compare(NULL, 0, "\x00", 1) < 0);
}

int main(void) {
    txn_init(&idle_txn);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_until_set),
        cmocka_unit_test(test_puts_widen_only_outward),
        cmocka_unit_test(test_prefixes_and_column_families_apart),
        cmocka_unit_test(test_forget_all),
        cmocka_unit_test(test_staged_until_published),
        cmocka_unit_test(test_bytes_compare_is_bytewise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
