/* Unit tests for the sorted set type (src/types/zset.h): adds and increments under ZADD's
 * conditions, infinite scores, ranges by rank, score and lex (exclusive bounds, limits,
 * reverse), pops, removes, unions / intersections / differences (sets read as score 1),
 * wrong types, corrupt data and empty keys deleted, through a txn on a store in a temporary
 * directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"
#include "storage/txn.h"
#include "types/compound.h"
#include "types/keyspace.h"
#include "types/string.h"
#include "types/zset.h"

static slice sl(const char *s) { return (slice){(char *)s, strlen(s)}; }

/* ZADD key [flags] score member: the status, the result in *res. */
static type_status add_flags(txn *t, const char *key, int flags, double score, const char *m, zset_add_result *res) {
    zset_pair p = {score, sl(m)};
    return zset_add(t, 0, key, strlen(key), flags, &p, 1, NULL, NULL, res);
}

static void add(txn *t, const char *key, double score, const char *m) {
    zset_add_result res;
    assert_int_equal(add_flags(t, key, 0, score, m, &res), ST_OK);
}

static double score_of(txn *t, const char *key, const char *m) {
    double score = NAN;
    assert_int_equal(zset_score(t, 0, key, strlen(key), m, strlen(m), &score), ST_OK);
    return score;
}

static long long card(txn *t, const char *key) {
    long long n = -1;
    assert_int_equal(zset_card(t, 0, key, strlen(key), &n), ST_OK);
    return n;
}

/* Appends "member:score" to a text of entries. */
static void append_entry(buf *b, const char *m, size_t ml, double score) {
    if (b->len) buf_append(b, " ", 1);
    buf_append(b, m, ml);
    buf_printf(b, ":%g", score);
}

static int text_visit(void *arg, const char *m, size_t ml, double score) {
    append_entry(arg, m, ml, score);
    return 0;
}

/* Checks a range's entries, as "member:score …". */
static void expect_range(txn *t, const char *key, const zset_range *r, const char *want) {
    buf b;
    buf_init(&b);
    long long n = -1;
    assert_int_equal(zset_range_visit(t, 0, key, strlen(key), r, text_visit, &b, &n), ST_OK);
    buf_append(&b, "", 1);
    assert_string_equal(b.data, want);
    long long words = *want ? 1 : 0;
    for (const char *p = want; *p; p++) words += *p == ' ';
    assert_int_equal(n, words);
    buf_free(&b);
}

static void expect_entries(const zset_entries *es, const char *want) {
    buf b;
    buf_init(&b);
    for (size_t i = 0; i < es->n; i++) append_entry(&b, es->items[i].member, es->items[i].len, es->items[i].score);
    buf_append(&b, "", 1);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

/* Whether key has a metadata record. */
static int key_exists(txn *t, const char *key) {
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = ks_lookup(t, 0, key, strlen(key), &m, &raw);
    buf_free(&raw);
    assert_true(rc == KS_FOUND || rc == KS_MISSING);
    return rc == KS_FOUND;
}

/* a:1 b:2 c:3 d:4 e:5 in key. */
static void add_abcde(txn *t, const char *key) {
    const char *m[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) add(t, key, i + 1, m[i]);
}

static int record_changed(void *arg, const char *m, size_t ml, double score) {
    append_entry(arg, m, ml, score);
    return 0;
}

static void test_add_and_flags(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    zset_add_result res;
    zset_pair pairs[] = {{1, sl("a")}, {2, sl("b")}, {1, sl("a")}};
    buf changed;
    buf_init(&changed);
    assert_int_equal(zset_add(&t, 0, "fl", 2, 0, pairs, 3, record_changed, &changed, &res), ST_OK);
    assert_int_equal(res.added, 2);
    assert_int_equal(res.changed, 2); /* the repeated a:1 changes nothing */
    buf_append(&changed, "", 1);
    assert_string_equal(changed.data, "a:1 b:2");
    buf_free(&changed);
    store_fixture_commit(&t);
    assert_int_equal(card(&t, "fl"), 2);

    /* NX: only new members; XX: only existing ones. */
    assert_int_equal(add_flags(&t, "fl", ZSET_NX, 9, "a", &res), ST_OK);
    assert_true(res.skipped && res.changed == 0);
    assert_int_equal(add_flags(&t, "fl", ZSET_NX, 3, "c", &res), ST_OK);
    assert_true(!res.skipped && res.added == 1);
    assert_int_equal(add_flags(&t, "fl", ZSET_XX, 4, "d", &res), ST_OK);
    assert_true(res.skipped && res.added == 0);
    assert_int_equal(add_flags(&t, "fl", ZSET_XX, 5, "a", &res), ST_OK);
    assert_true(!res.skipped && res.added == 0 && res.changed == 1);
    assert_true(score_of(&t, "fl", "a") == 5);
    /* GT / LT: only moves up / down; a new member is always added. */
    assert_int_equal(add_flags(&t, "fl", ZSET_GT, 4, "a", &res), ST_OK);
    assert_true(res.skipped);
    assert_int_equal(add_flags(&t, "fl", ZSET_GT, 6, "a", &res), ST_OK);
    assert_true(!res.skipped && res.changed == 1);
    assert_int_equal(add_flags(&t, "fl", ZSET_GT, 6, "a", &res), ST_OK); /* not greater: skipped (INCR answers nil) */
    assert_true(res.skipped);
    assert_int_equal(add_flags(&t, "fl", ZSET_LT, 7, "a", &res), ST_OK);
    assert_true(res.skipped);
    assert_int_equal(add_flags(&t, "fl", ZSET_LT, -1, "a", &res), ST_OK);
    assert_true(score_of(&t, "fl", "a") == -1);
    assert_int_equal(add_flags(&t, "fl", ZSET_GT | ZSET_CH, 0, "new", &res), ST_OK);
    assert_true(res.added == 1 && res.changed == 1);
    /* The same score again: not a change. */
    assert_int_equal(add_flags(&t, "fl", ZSET_CH, -1, "a", &res), ST_OK);
    assert_true(!res.skipped && res.changed == 0);
    store_fixture_commit(&t);
    zset_range all = zset_range_all(ZSET_BY_RANK);
    expect_range(&t, "fl", &all, "a:-1 new:0 b:2 c:3");
    txn_free(&t);
}

static void test_incr(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    zset_add_result res;
    assert_int_equal(add_flags(&t, "in", ZSET_INCR, 2.5, "m", &res), ST_OK); /* a new member starts at 0 */
    assert_true(res.score == 2.5 && res.added == 1);
    assert_int_equal(add_flags(&t, "in", ZSET_INCR, -1, "m", &res), ST_OK);
    assert_true(res.score == 1.5 && res.added == 0 && res.changed == 1);
    /* INCR with GT: a decrement is skipped. */
    assert_int_equal(add_flags(&t, "in", ZSET_INCR | ZSET_GT, -1, "m", &res), ST_OK);
    assert_true(res.skipped);
    assert_true(score_of(&t, "in", "m") == 1.5);
    /* -0 on a new member answers -0 but stores 0. */
    assert_int_equal(add_flags(&t, "in", ZSET_INCR, -0.0, "z", &res), ST_OK);
    assert_true(res.score == 0 && signbit(res.score));
    assert_false(signbit(score_of(&t, "in", "z")));
    /* inf + -inf is NaN: refused, nothing changed. */
    assert_int_equal(add_flags(&t, "in", 0, INFINITY, "m", &res), ST_OK);
    assert_int_equal(add_flags(&t, "in", ZSET_INCR, -INFINITY, "m", &res), ST_NAN_OR_INF);
    assert_true(score_of(&t, "in", "m") == INFINITY);
    store_fixture_commit(&t);
    assert_true(score_of(&t, "in", "m") == INFINITY);
    txn_free(&t);
}

static void test_infinite_scores(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add(&t, "inf", INFINITY, "top");
    add(&t, "inf", -INFINITY, "bottom");
    add(&t, "inf", 0, "zero");
    add(&t, "inf", -1e308, "low");
    store_fixture_commit(&t);
    zset_range r = zset_range_all(ZSET_BY_SCORE);
    expect_range(&t, "inf", &r, "bottom:-inf low:-1e+308 zero:0 top:inf");
    r.rev = 1;
    expect_range(&t, "inf", &r, "top:inf zero:0 low:-1e+308 bottom:-inf");
    r.minex = r.maxex = 1; /* (-inf (+inf leaves out the infinite ones */
    expect_range(&t, "inf", &r, "zero:0 low:-1e+308");
    r.rev = 0;
    r.min = r.max = INFINITY;
    r.minex = r.maxex = 0;
    expect_range(&t, "inf", &r, "top:inf");
    long long rank = -1;
    assert_int_equal(zset_rank(&t, 0, "inf", 3, "top", 3, 0, &rank), ST_OK);
    assert_int_equal(rank, 3);
    assert_int_equal(zset_rank(&t, 0, "inf", 3, "top", 3, 1, &rank), ST_OK);
    assert_int_equal(rank, 0);
    txn_free(&t);
}

static void test_range_by_rank(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "rk");
    store_fixture_commit(&t);
    zset_range r = zset_range_all(ZSET_BY_RANK);
    expect_range(&t, "rk", &r, "a:1 b:2 c:3 d:4 e:5");
    r.start = 1, r.stop = 2;
    expect_range(&t, "rk", &r, "b:2 c:3");
    r.start = -2, r.stop = -1;
    expect_range(&t, "rk", &r, "d:4 e:5");
    r.start = -100, r.stop = 100;
    expect_range(&t, "rk", &r, "a:1 b:2 c:3 d:4 e:5");
    r.start = 3, r.stop = 1;
    expect_range(&t, "rk", &r, "");
    r.start = 5, r.stop = 10;
    expect_range(&t, "rk", &r, "");
    r.rev = 1, r.start = 0, r.stop = 1;
    expect_range(&t, "rk", &r, "e:5 d:4");
    expect_range(&t, "missing", &r, "");
    txn_free(&t);
}

static void test_range_by_score(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "sc");
    store_fixture_commit(&t);
    zset_range r = zset_range_all(ZSET_BY_SCORE);
    r.min = 2, r.max = 4;
    expect_range(&t, "sc", &r, "b:2 c:3 d:4");
    r.minex = 1;
    expect_range(&t, "sc", &r, "c:3 d:4");
    r.maxex = 1;
    expect_range(&t, "sc", &r, "c:3");
    r.minex = r.maxex = 0;
    r.offset = 1, r.limit = 1;
    expect_range(&t, "sc", &r, "c:3");
    r.offset = -1; /* a negative offset selects nothing, as in Redis */
    expect_range(&t, "sc", &r, "");
    r.offset = 0, r.limit = -1, r.rev = 1;
    expect_range(&t, "sc", &r, "d:4 c:3 b:2");
    r.maxex = 1;
    expect_range(&t, "sc", &r, "c:3 b:2");
    r.maxex = 0, r.offset = 2, r.limit = 5;
    expect_range(&t, "sc", &r, "b:2");
    r = zset_range_all(ZSET_BY_SCORE);
    r.min = 3, r.max = 2;
    expect_range(&t, "sc", &r, "");
    long long n = -1;
    r.min = 1.5, r.max = INFINITY;
    assert_int_equal(zset_range_visit(&t, 0, "sc", 2, &r, NULL, NULL, &n), ST_OK); /* ZCOUNT */
    assert_int_equal(n, 4);
    txn_free(&t);
}

static zset_lex_bound lex(int inf, int exclusive, const char *v) {
    return (zset_lex_bound){inf, exclusive, v, v ? strlen(v) : 0};
}

static void test_range_by_lex(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    const char *m[] = {"a", "b", "bb", "c", "d"};
    for (int i = 0; i < 5; i++) add(&t, "lx", 0, m[i]);
    store_fixture_commit(&t);
    zset_range r = zset_range_all(ZSET_BY_LEX);
    expect_range(&t, "lx", &r, "a:0 b:0 bb:0 c:0 d:0");
    r.lmin = lex(0, 0, "b"), r.lmax = lex(0, 0, "c");
    expect_range(&t, "lx", &r, "b:0 bb:0 c:0");
    r.lmin = lex(0, 1, "b"), r.lmax = lex(0, 1, "c");
    expect_range(&t, "lx", &r, "bb:0");
    r.lmin = lex(-1, 0, NULL), r.lmax = lex(0, 1, "bb");
    expect_range(&t, "lx", &r, "a:0 b:0");
    r.rev = 1;
    expect_range(&t, "lx", &r, "b:0 a:0");
    r.rev = 0, r.lmin = lex(0, 0, "b"), r.lmax = lex(1, 0, NULL), r.offset = 1, r.limit = 2;
    expect_range(&t, "lx", &r, "bb:0 c:0");
    r.offset = 0, r.limit = -1, r.lmin = lex(1, 0, NULL), r.lmax = lex(-1, 0, NULL);
    expect_range(&t, "lx", &r, "");
    txn_free(&t);
}

/* A visitor that stops after two entries, as a reply cut at the client's bound does. */
static int stop_after_two(void *arg, const char *m, size_t ml, double score) {
    (void)m, (void)ml, (void)score;
    return ++*(int *)arg == 2;
}

static void test_visit_stops_early(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "st");
    int seen = 0;
    long long n = -1;
    zset_range r = zset_range_all(ZSET_BY_RANK);
    assert_int_equal(zset_range_visit(&t, 0, "st", 2, &r, stop_after_two, &seen, &n), ST_OK);
    assert_int_equal(seen, 2);
    assert_int_equal(n, 2);
    txn_free(&t);
}

static void test_scores_and_ranks(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "sr");
    store_fixture_commit(&t);
    double score;
    assert_int_equal(zset_score(&t, 0, "sr", 2, "zz", 2, &score), ST_MISSING);
    assert_int_equal(zset_score(&t, 0, "nokey", 5, "a", 1, &score), ST_MISSING);
    slice members[] = {sl("e"), sl("zz"), sl("a")};
    double scores[3];
    int found[3];
    assert_int_equal(zset_scores(&t, 0, "sr", 2, members, 3, scores, found), ST_OK);
    assert_true(found[0] && scores[0] == 5 && !found[1] && found[2] && scores[2] == 1);
    assert_int_equal(zset_scores(&t, 0, "nokey", 5, members, 3, scores, found), ST_OK);
    assert_true(!found[0] && !found[1] && !found[2]);
    long long rank;
    assert_int_equal(zset_rank(&t, 0, "sr", 2, "c", 1, 0, &rank), ST_OK);
    assert_int_equal(rank, 2);
    assert_int_equal(zset_rank(&t, 0, "sr", 2, "a", 1, 1, &rank), ST_OK);
    assert_int_equal(rank, 4);
    assert_int_equal(zset_rank(&t, 0, "sr", 2, "zz", 2, 0, &rank), ST_MISSING);
    assert_int_equal(card(&t, "nokey"), 0);
    txn_free(&t);
}

static void test_pops(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "pp");
    store_fixture_commit(&t);
    zset_entries es;
    zset_entries_init(&es);
    assert_int_equal(zset_pop(&t, 0, "pp", 2, 0, 2, &es), ST_OK);
    expect_entries(&es, "a:1 b:2");
    zset_entries_free(&es);
    zset_entries_init(&es);
    assert_int_equal(zset_pop(&t, 0, "pp", 2, 1, 1, &es), ST_OK);
    expect_entries(&es, "e:5");
    zset_entries_free(&es);
    zset_entries_init(&es);
    assert_int_equal(zset_pop(&t, 0, "pp", 2, 0, 0, &es), ST_OK); /* COUNT 0 */
    assert_int_equal(es.n, 0);
    store_fixture_commit(&t);
    assert_int_equal(card(&t, "pp"), 2);
    /* More than there are: all of them, and the key is gone. */
    assert_int_equal(zset_pop(&t, 0, "pp", 2, 0, 10, &es), ST_OK);
    expect_entries(&es, "c:3 d:4");
    zset_entries_free(&es);
    store_fixture_commit(&t);
    assert_false(key_exists(&t, "pp"));
    zset_entries_init(&es);
    assert_int_equal(zset_pop(&t, 0, "pp", 2, 0, 1, &es), ST_MISSING);
    assert_int_equal(es.n, 0);
    zset_entries_free(&es);
    txn_free(&t);
}

static void test_removes(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "rm");
    store_fixture_commit(&t);
    slice members[] = {sl("a"), sl("zz"), sl("a"), sl("c")};
    buf removed;
    buf_init(&removed);
    long long n = -1;
    assert_int_equal(zset_remove(&t, 0, "rm", 2, members, 4, record_changed, &removed, &n), ST_OK);
    assert_int_equal(n, 2);
    buf_append(&removed, "", 1);
    assert_string_equal(removed.data, "a:1 c:3");
    buf_free(&removed);
    store_fixture_commit(&t);
    zset_range all = zset_range_all(ZSET_BY_RANK);
    expect_range(&t, "rm", &all, "b:2 d:4 e:5");

    zset_entries es;
    zset_entries_init(&es);
    zset_range r = zset_range_all(ZSET_BY_SCORE);
    r.min = 4, r.minex = 1;
    assert_int_equal(zset_remove_range(&t, 0, "rm", 2, &r, &es), ST_OK);
    expect_entries(&es, "e:5");
    zset_entries_free(&es);
    zset_entries_init(&es);
    r = zset_range_all(ZSET_BY_LEX);
    r.lmax = lex(0, 1, "d");
    assert_int_equal(zset_remove_range(&t, 0, "rm", 2, &r, &es), ST_OK);
    expect_entries(&es, "b:2");
    zset_entries_free(&es);
    store_fixture_commit(&t);
    assert_int_equal(card(&t, "rm"), 1);
    /* The last member removed by rank: the key is deleted. */
    zset_entries_init(&es);
    r = zset_range_all(ZSET_BY_RANK);
    r.start = -1;
    assert_int_equal(zset_remove_range(&t, 0, "rm", 2, &r, &es), ST_OK);
    expect_entries(&es, "d:4");
    zset_entries_free(&es);
    store_fixture_commit(&t);
    assert_false(key_exists(&t, "rm"));
    /* ZREM of the last member deletes the key too; of a missing key removes nothing. */
    add(&t, "rm2", 1, "x");
    store_fixture_commit(&t);
    slice x = sl("x");
    assert_int_equal(zset_remove(&t, 0, "rm2", 3, &x, 1, NULL, NULL, &n), ST_OK);
    assert_int_equal(n, 1);
    store_fixture_commit(&t);
    assert_false(key_exists(&t, "rm2"));
    assert_int_equal(zset_remove(&t, 0, "rm2", 3, &x, 1, NULL, NULL, &n), ST_OK);
    assert_int_equal(n, 0);
    txn_free(&t);
}

static void test_range_copy_and_store(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add_abcde(&t, "src");
    store_fixture_commit(&t);
    zset_entries es;
    zset_entries_init(&es);
    zset_range r = zset_range_all(ZSET_BY_RANK);
    r.start = 1, r.stop = 3, r.rev = 1;
    assert_int_equal(zset_range_copy(&t, 0, "src", 3, &r, &es), ST_OK);
    expect_entries(&es, "d:4 c:3 b:2");
    assert_int_equal(zset_store(&t, 0, "dst", 3, &es), ST_OK);
    zset_entries_free(&es);
    store_fixture_commit(&t);
    zset_range all = zset_range_all(ZSET_BY_RANK);
    expect_range(&t, "dst", &all, "b:2 c:3 d:4");
    assert_int_equal(card(&t, "dst"), 3);
    txn_free(&t);
}

/* Combines keys; checks the result as "member:score …". */
static void expect_combine(txn *t, enum zset_combine_op op, enum zset_aggregate agg, const char *const *keys, int n,
                           const double *weights, const char *want) {
    slice k[4];
    double ones[4] = {1, 1, 1, 1};
    for (int i = 0; i < n; i++) k[i] = sl(keys[i]);
    zset_combine_spec spec = {op, agg, k, n, weights ? weights : ones};
    zset_entries es;
    zset_entries_init(&es);
    int bad = -1;
    assert_int_equal(zset_combine(t, 0, &spec, SIZE_MAX, &es, &bad), ST_OK);
    expect_entries(&es, want);
    zset_entries_free(&es);
}

/* A set with the given members (read as a zset of score-1 members). */
static void make_set(txn *t, const char *key, const char *const *members, int n) {
    compound c;
    assert_int_equal(compound_open(&c, t, 0, key, strlen(key), TYPE_SET), CK_MISSING);
    for (int i = 0; i < n; i++) {
        compound_put(&c, members[i], strlen(members[i]), "", 0);
        c.m.size++;
    }
    compound_save(&c);
    compound_free(&c);
}

static void test_combine(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    add(&t, "z1", 1, "a");
    add(&t, "z1", 2, "b");
    add(&t, "z1", INFINITY, "c");
    add(&t, "z2", 10, "b");
    add(&t, "z2", -INFINITY, "c");
    add(&t, "z2", 5, "d");
    const char *set[] = {"a", "d", "s"};
    make_set(&t, "s1", set, 3);
    store_fixture_commit(&t);
    const char *z12[] = {"z1", "z2"}, *z1s[] = {"z1", "s1"}, *z1m[] = {"z1", "nokey"};
    /* inf + -inf sums to 0, as in Redis. */
    expect_combine(&t, ZSET_UNION, ZSET_AGG_SUM, z12, 2, NULL, "c:0 a:1 d:5 b:12");
    expect_combine(&t, ZSET_UNION, ZSET_AGG_MIN, z12, 2, NULL, "c:-inf a:1 b:2 d:5");
    expect_combine(&t, ZSET_UNION, ZSET_AGG_MAX, z12, 2, NULL, "a:1 d:5 b:10 c:inf");
    double w[] = {2, 0.5};
    expect_combine(&t, ZSET_UNION, ZSET_AGG_SUM, z12, 2, w, "c:0 a:2 d:2.5 b:9");
    expect_combine(&t, ZSET_INTER, ZSET_AGG_SUM, z12, 2, w, "c:0 b:9");
    expect_combine(&t, ZSET_DIFF, ZSET_AGG_SUM, z12, 2, NULL, "a:1");
    expect_combine(&t, ZSET_UNION, ZSET_AGG_SUM, z1s, 2, NULL, "d:1 s:1 a:2 b:2 c:inf");
    expect_combine(&t, ZSET_INTER, ZSET_AGG_MAX, z1s, 2, NULL, "a:1");
    expect_combine(&t, ZSET_INTER, ZSET_AGG_SUM, z1m, 2, NULL, "");
    expect_combine(&t, ZSET_DIFF, ZSET_AGG_SUM, z1m, 2, NULL, "a:1 b:2 c:inf");
    /* A weight of 0 times inf is NaN: counted as 0. */
    double w0[] = {0, 1};
    expect_combine(&t, ZSET_UNION, ZSET_AGG_SUM, z1m, 2, w0, "a:0 b:0 c:0");
    txn_free(&t);
}

static void test_union_stops_past_room(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    char m[16];
    for (int i = 0; i < 200; i++) {
        snprintf(m, sizeof(m), "member%03d", i);
        add(&t, "big", i, m);
    }
    store_fixture_commit(&t);
    slice k = sl("big");
    double one = 1;
    zset_combine_spec spec = {ZSET_UNION, ZSET_AGG_SUM, &k, 1, &one};
    zset_entries es;
    zset_entries_init(&es);
    int bad = -1;
    assert_int_equal(zset_combine(&t, 0, &spec, 100, &es, &bad), ST_OK);
    assert_true(es.n > 0 && es.n < 200); /* 14 bytes a member in a reply: it stops soon after 100 */
    zset_entries_free(&es);
    /* An intersection reads everything whatever the room. */
    spec.op = ZSET_INTER;
    zset_entries_init(&es);
    assert_int_equal(zset_combine(&t, 0, &spec, 100, &es, &bad), ST_OK);
    assert_int_equal(es.n, 200);
    zset_entries_free(&es);
    txn_free(&t);
}

static void test_wrongtype(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    string_put(&t, 0, "str", 3, "v", 1, 0);
    add(&t, "okz", 1, "a");
    store_fixture_commit(&t);
    zset_add_result res;
    long long n;
    double score;
    int found;
    slice a = sl("a");
    zset_range r = zset_range_all(ZSET_BY_RANK);
    zset_entries es;
    zset_entries_init(&es);
    assert_int_equal(add_flags(&t, "str", 0, 1, "a", &res), ST_WRONGTYPE);
    assert_int_equal(zset_remove(&t, 0, "str", 3, &a, 1, NULL, NULL, &n), ST_WRONGTYPE);
    assert_int_equal(zset_card(&t, 0, "str", 3, &n), ST_WRONGTYPE);
    assert_int_equal(zset_score(&t, 0, "str", 3, "a", 1, &score), ST_WRONGTYPE);
    assert_int_equal(zset_scores(&t, 0, "str", 3, &a, 1, &score, &found), ST_WRONGTYPE);
    assert_int_equal(zset_rank(&t, 0, "str", 3, "a", 1, 0, &n), ST_WRONGTYPE);
    assert_int_equal(zset_range_visit(&t, 0, "str", 3, &r, NULL, NULL, &n), ST_WRONGTYPE);
    assert_int_equal(zset_range_copy(&t, 0, "str", 3, &r, &es), ST_WRONGTYPE);
    assert_int_equal(zset_remove_range(&t, 0, "str", 3, &r, &es), ST_WRONGTYPE);
    assert_int_equal(zset_pop(&t, 0, "str", 3, 0, 1, &es), ST_WRONGTYPE);
    slice keys[] = {sl("okz"), sl("str")};
    double w[] = {1, 1};
    zset_combine_spec spec = {ZSET_UNION, ZSET_AGG_SUM, keys, 2, w};
    int bad = -1;
    assert_int_equal(zset_combine(&t, 0, &spec, SIZE_MAX, &es, &bad), ST_WRONGTYPE);
    assert_int_equal(bad, 1);
    assert_int_equal(es.n, 0);
    zset_entries_free(&es);
    assert_false(txn_has_writes(&t));
    txn_free(&t);
}

/* A zset whose member "bad" holds a value that is no score, and whose size says one member
 * more than it holds. */
static void make_corrupt(txn *t, const char *key) {
    add(t, key, 1, "good");
    compound c;
    assert_int_equal(compound_open(&c, t, 0, key, strlen(key), TYPE_ZSET), CK_FOUND);
    compound_put(&c, "bad", 3, "xyz", 3);
    c.m.size += 2;
    compound_save(&c);
    compound_free(&c);
}

static void test_corrupt(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    make_corrupt(&t, "bad");
    store_fixture_commit(&t);
    double score;
    zset_add_result res;
    assert_int_equal(zset_score(&t, 0, "bad", 3, "bad", 3, &score), ST_CORRUPT);
    assert_int_equal(add_flags(&t, "bad", 0, 2, "bad", &res), ST_CORRUPT);
    slice keys[] = {sl("bad")};
    double w = 1;
    zset_combine_spec spec = {ZSET_UNION, ZSET_AGG_SUM, keys, 1, &w};
    zset_entries es;
    zset_entries_init(&es);
    int bad = -1;
    assert_int_equal(zset_combine(&t, 0, &spec, SIZE_MAX, &es, &bad), ST_CORRUPT);
    assert_int_equal(bad, 0);
    /* The index holds one entry of the three the size says: a pop pops nothing. */
    assert_int_equal(zset_pop(&t, 0, "bad", 3, 0, 5, &es), ST_CORRUPT);
    assert_int_equal(es.n, 0);
    zset_entries_free(&es);
    txn_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_flags),
        cmocka_unit_test(test_incr),
        cmocka_unit_test(test_infinite_scores),
        cmocka_unit_test(test_range_by_rank),
        cmocka_unit_test(test_range_by_score),
        cmocka_unit_test(test_range_by_lex),
        cmocka_unit_test(test_visit_stops_early),
        cmocka_unit_test(test_scores_and_ranks),
        cmocka_unit_test(test_pops),
        cmocka_unit_test(test_removes),
        cmocka_unit_test(test_range_copy_and_store),
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_union_stops_past_room),
        cmocka_unit_test(test_wrongtype),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
