/* Unit tests for the set type (src/types/set.h): adds, removes, membership, pops, moves and
 * the set operations through txns on a database in a temporary directory, with the statuses
 * for a missing key, a key of another type and a corrupt metadata record. */
#include "store_fixture.h"
#include "type_fixture.h"
#include "types/set.h"

/* Collects visits as "member;". */
static int collect(void *arg, const char *m, size_t ml, const char *v, size_t vl) {
    (void)v, (void)vl;
    buf *out = arg;
    buf_append(out, m, ml);
    buf_append(out, ";", 1);
    return 0;
}

/* Collects membership answers as "member+;" (in) or "member-;" (not in). */
static int collect_answer(void *arg, const char *m, size_t ml, const char *v, size_t vl) {
    (void)vl;
    buf *out = arg;
    buf_append(out, m, ml);
    buf_append(out, v ? "+;" : "-;", 2);
    return 0;
}

/* Asserts the members of the set at key, in order, as "a;b;". */
static void assert_members(txn *t, const char *key, const char *want) {
    buf out;
    buf_init(&out);
    long long size;
    type_status st = set_members(t, 0, key, strlen(key), &size, collect, &out);
    assert_int_equal(st, *want ? ST_OK : ST_MISSING);
    assert_text(&out, want);
    long long card;
    assert_int_equal(set_card(t, 0, key, strlen(key), &card), st);
    assert_int_equal(card, size);
    buf_free(&out);
}

static void add(txn *t, const char *key, const slice *members, int n, long long want_added) {
    long long added;
    buf out;
    buf_init(&out);
    assert_int_equal(set_add(t, 0, key, strlen(key), members, n, collect, &out, &added), ST_OK);
    assert_int_equal(added, want_added);
    buf_free(&out);
}

static void test_add_remove(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice m[] = {S("b"), S("a"), S("b"), S("c")};
    buf out;
    buf_init(&out);
    long long changed;
    /* What SADD reports (and records) is what it really added: b once. */
    assert_int_equal(set_add(&t, 0, KEY("s"), m, 4, collect, &out, &changed), ST_OK);
    assert_int_equal(changed, 3);
    assert_text(&out, "b;a;c;");
    commit(&t);
    assert_members(&t, "s", "a;b;c;");
    slice r[] = {S("a"), S("zz"), S("a")};
    assert_int_equal(set_remove(&t, 0, KEY("s"), r, 3, collect, &out, &changed), ST_OK);
    assert_int_equal(changed, 1);
    assert_text(&out, "a;");
    assert_int_equal(set_remove(&t, 0, KEY("nokey"), r, 1, collect, &out, &changed), ST_MISSING);
    assert_int_equal(changed, 0);
    commit(&t);
    assert_members(&t, "s", "b;c;");
    slice q[] = {S("a"), S("b"), S("c")};
    assert_int_equal(set_are_members(&t, 0, KEY("s"), q, 3, collect_answer, &out), ST_OK);
    assert_text(&out, "a-;b+;c+;");
    assert_int_equal(set_are_members(&t, 0, KEY("nokey"), q, 1, collect_answer, &out), ST_OK);
    assert_text(&out, "a-;");
    slice all[] = {S("b"), S("c")};
    assert_int_equal(set_remove(&t, 0, KEY("s"), all, 2, collect, &out, &changed), ST_OK);
    commit(&t);
    assert_members(&t, "s", ""); /* emptied, the key is gone */
    buf_free(&out);
    txn_free(&t);
}

static void test_pop(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice m[] = {S("a"), S("b"), S("c"), S("d"), S("e")};
    add(&t, "p", m, 5, 5);
    commit(&t);
    picked *p;
    long long n;
    assert_int_equal(set_pop(&t, 0, KEY("p"), 2, &p, &n), ST_OK);
    assert_int_equal(n, 2);
    assert_true(p[0].sub.len == 1 && p[1].sub.len == 1 && p[0].sub.data[0] != p[1].sub.data[0]);
    picked_free(p, n);
    commit(&t);
    long long card;
    assert_int_equal(set_card(&t, 0, KEY("p"), &card), ST_OK);
    assert_int_equal(card, 3);
    assert_int_equal(set_pop(&t, 0, KEY("p"), 10, &p, &n), ST_OK); /* more than it has: all */
    assert_int_equal(n, 3);
    picked_free(p, n);
    commit(&t);
    assert_members(&t, "p", "");
    assert_int_equal(set_pop(&t, 0, KEY("p"), 1, &p, &n), ST_MISSING);
    assert_int_equal(n, 0);
    txn_free(&t);
}

static void test_move(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice m[] = {S("x"), S("y")};
    add(&t, "src", m, 2, 2);
    add(&t, "dst", m + 1, 1, 1);
    string_put(&t, 0, KEY("str"), "v", 1, 0);
    commit(&t);
    slice src = S("src"), dst = S("dst"), none = S("none"), str = S("str"), x = S("x"), y = S("y"), z = S("z");
    int moved, which;
    assert_int_equal(set_move(&t, 0, &src, &dst, &x, &moved, &which), ST_OK);
    assert_int_equal(moved, 1);
    assert_int_equal(set_move(&t, 0, &src, &dst, &z, &moved, &which), ST_OK);
    assert_int_equal(moved, 0);
    assert_int_equal(set_move(&t, 0, &src, &src, &y, &moved, &which), ST_OK); /* to itself: stays */
    assert_int_equal(moved, 1);
    /* A missing source moves nothing, whatever the destination is. */
    assert_int_equal(set_move(&t, 0, &none, &str, &x, &moved, &which), ST_OK);
    assert_int_equal(moved, 0);
    assert_int_equal(set_move(&t, 0, &src, &str, &y, &moved, &which), ST_WRONGTYPE);
    assert_int_equal(which, 1);
    assert_int_equal(set_move(&t, 0, &str, &dst, &y, &moved, &which), ST_WRONGTYPE);
    assert_int_equal(which, 0);
    commit(&t);
    assert_members(&t, "src", "y;");
    assert_members(&t, "dst", "x;y;");
    assert_int_equal(set_move(&t, 0, &src, &dst, &y, &moved, &which), ST_OK); /* dst has it already */
    commit(&t);
    assert_members(&t, "src", "");
    assert_members(&t, "dst", "x;y;");
    txn_free(&t);
}

/* Runs op over keys and asserts the result as "a;b;". */
static void assert_combine(txn *t, enum set_op op, const slice *keys, int n, size_t limit, const char *want) {
    set_result r = {0};
    int which;
    assert_int_equal(set_combine(t, 0, keys, n, op, limit, SIZE_MAX, &r, &which), ST_OK);
    buf out;
    buf_init(&out);
    for (size_t i = 0; i < r.n; i++) collect(&out, r.items[i].data, r.items[i].len, NULL, 0);
    assert_text(&out, want);
    buf_free(&out);
    set_result_free(&r);
}

static void test_operations(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice a[] = {S("1"), S("2"), S("3"), S("4")}, b[] = {S("3"), S("4"), S("5")}, c[] = {S("4"), S("6")};
    add(&t, "A", a, 4, 4);
    add(&t, "B", b, 3, 3);
    add(&t, "C", c, 2, 2);
    commit(&t);
    slice keys[] = {S("A"), S("B"), S("C"), S("none")};
    assert_combine(&t, SET_INTER, keys, 2, 0, "3;4;");
    assert_combine(&t, SET_INTER, keys, 3, 0, "4;");
    assert_combine(&t, SET_INTER, keys, 4, 0, "");
    assert_combine(&t, SET_INTER, keys, 2, 1, "3;"); /* SINTERCARD's LIMIT */
    assert_combine(&t, SET_UNION, keys, 4, 0, "1;2;3;4;5;6;");
    assert_combine(&t, SET_DIFF, keys, 2, 0, "1;2;");
    assert_combine(&t, SET_DIFF, keys, 3, 0, "1;2;");
    assert_combine(&t, SET_DIFF, keys + 3, 1, 0, "");
    /* Stored at a (deleted) key, the result is a set like any other. */
    set_result r = {0};
    int which;
    assert_int_equal(set_combine(&t, 0, keys, 3, SET_UNION, 0, SIZE_MAX, &r, &which), ST_OK);
    assert_int_equal(set_store(&t, 0, KEY("U"), &r), ST_OK);
    set_result_free(&r);
    commit(&t);
    assert_members(&t, "U", "1;2;3;4;5;6;");
    txn_free(&t);
}

static void test_wrongtype_and_corrupt(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice m[] = {S("m")};
    add(&t, "A2", m, 1, 1);
    put_wrong_keys(&t);
    buf out;
    buf_init(&out);
    long long n;
    picked *p;
    const char *const *keys = wrong_keys;
    const type_status *want = wrong_key_status;
    for (int i = 0; i < 2; i++) {
        size_t kl = strlen(keys[i]);
        assert_int_equal(set_add(&t, 0, keys[i], kl, m, 1, collect, &out, &n), want[i]);
        assert_int_equal(set_remove(&t, 0, keys[i], kl, m, 1, collect, &out, &n), want[i]);
        assert_int_equal(set_card(&t, 0, keys[i], kl, &n), want[i]);
        assert_int_equal(set_are_members(&t, 0, keys[i], kl, m, 1, collect_answer, &out), want[i]);
        assert_int_equal(set_members(&t, 0, keys[i], kl, &n, collect, &out), want[i]);
        assert_int_equal(set_pop(&t, 0, keys[i], kl, 1, &p, &n), want[i]);
        /* An operation names the key that failed. */
        slice ops[] = {S("A2"), {(char *)keys[i], kl}};
        set_result r = {0};
        int which = -1;
        assert_int_equal(set_combine(&t, 0, ops, 2, SET_UNION, 0, SIZE_MAX, &r, &which), want[i]);
        assert_int_equal(which, 1);
        set_result_free(&r);
    }
    assert_int_equal(out.len, 0);
    assert_false(txn_has_writes(&t));
    buf_free(&out);
    txn_free(&t);
}

/* Operations on the sets "r1", "r2" for test_read_errors. */
static type_status op_add(txn *t) {
    slice m[] = {S("a"), S("new")};
    long long n;
    return set_add(t, 0, KEY("r1"), m, 2, visit_nothing, NULL, &n);
}

static type_status op_are_members(txn *t) {
    slice m[] = {S("a"), S("zz"), S("b")};
    return set_are_members(t, 0, KEY("r1"), m, 3, visit_nothing, NULL);
}

static type_status op_pop(txn *t) {
    picked *p;
    long long n;
    type_status st = set_pop(t, 0, KEY("r1"), 2, &p, &n);
    if (st == ST_OK) picked_free(p, n);
    return st;
}

static type_status op_move(txn *t) {
    slice src = S("r1"), dst = S("r2"), m = S("a");
    int moved, which;
    return set_move(t, 0, &src, &dst, &m, &moved, &which);
}

static type_status op_inter(txn *t) {
    slice keys[] = {S("r1"), S("r2")};
    set_result r = {0};
    int which;
    type_status st = set_combine(t, 0, keys, 2, SET_INTER, 0, SIZE_MAX, &r, &which);
    set_result_free(&r);
    return st;
}

static void test_read_errors(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    slice m[] = {S("a"), S("b"), S("c")};
    add(&t, "r1", m, 3, 3);
    add(&t, "r2", m + 1, 2, 2);
    commit(&t);
    txn_free(&t);
    /* The metadata of each key, then a read a member (a walk: a step a member, and the end). */
    assert_int_equal(assert_read_errors_fail(op_add), 3);
    assert_int_equal(assert_read_errors_fail(op_are_members), 4);
    assert_true(assert_read_errors_fail(op_pop) >= 3);
    assert_int_equal(assert_read_errors_fail(op_move), 4);
    assert_true(assert_read_errors_fail(op_inter) >= 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_remove), cmocka_unit_test(test_pop),
        cmocka_unit_test(test_move),       cmocka_unit_test(test_operations),
        cmocka_unit_test(test_wrongtype_and_corrupt), cmocka_unit_test(test_read_errors),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
