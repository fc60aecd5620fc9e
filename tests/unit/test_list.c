/* Unit tests for the list type (src/types/list.h): pushes and pops at both ends, index, set,
 * insert, remove, trim, pos, moves, WRONGTYPE, empty-list deletion, the no-room refusal of a
 * list near the edge of the positions, and a corrupt list, through txns on a store in a
 * temporary directory. The index arithmetic is tested in test_collections.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"
#include "storage/txn.h"
#include "types/compound.h"
#include "types/list.h"
#include "types/string.h"

#define KEY(k) (k), strlen(k)

/* Pushes the NULL-ended items at one end; returns the new length. */
static uint64_t push(txn *t, const char *key, int at_head, ...) {
    slice items[16];
    int n = 0;
    va_list ap;
    va_start(ap, at_head);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) items[n++] = (slice){(char *)s, strlen(s)};
    va_end(ap);
    uint64_t len = 0;
    assert_int_equal(list_push(t, 0, KEY(key), at_head, 0, items, n, &len), ST_OK);
    return len;
}

/* What a walk or a search visited, as text: one buffer, emptied before each use. */
static buf notes;

static buf *notes_fresh(void) {
    buf_free(&notes);
    buf_init(&notes);
    return &notes;
}

/* The notes as a C string. */
static const char *notes_text(void) {
    buf_append(&notes, "", 1);
    return notes.data;
}

/* Items a walk visited, joined by ',' after a "[n]" header. */
static void note_count(void *arg, uint64_t n) {
    char head[32];
    snprintf(head, sizeof(head), "[%llu]", (unsigned long long)n);
    buf_append(arg, head, strlen(head));
}

static int note_item(void *arg, const char *item, size_t len) {
    buf *out = arg;
    if (out->len > 0 && out->data[out->len - 1] != ']') buf_append(out, ",", 1);
    buf_append(out, item, len);
    return 0;
}

/* The whole list as "[n]a,b,c" (with the status checked against want). */
static const char *range(txn *t, const char *key, type_status want) {
    assert_int_equal(list_range(t, 0, KEY(key), 0, -1, note_count, note_item, notes_fresh()), want);
    return notes_text();
}

static const char *pop(txn *t, const char *key, int at_head, long long count, long long *popped) {
    type_status s = list_pop(t, 0, KEY(key), at_head, count, note_count, note_item, notes_fresh(), popped);
    assert_true(s == ST_OK || s == ST_MISSING);
    return notes_text();
}

static void test_push_both_ends_and_pop_counts(void **state) {
    txn *t = *state;
    assert_int_equal(push(t, "l", 0, "b", "c", NULL), 2);
    assert_int_equal(push(t, "l", 1, "a", "z", NULL), 4); /* LPUSH z comes first */
    store_fixture_commit(t);
    assert_string_equal(range(t, "l", ST_OK), "[4]z,a,b,c");
    uint64_t len;
    assert_int_equal(list_length(t, 0, KEY("l"), &len), ST_OK);
    assert_int_equal(len, 4);

    long long popped;
    assert_string_equal(pop(t, "l", 1, 1, &popped), "[1]z");
    assert_int_equal(popped, 1);
    assert_string_equal(pop(t, "l", 0, 2, &popped), "[2]c,b");
    assert_int_equal(popped, 2);
    assert_string_equal(pop(t, "l", 0, 0, &popped), "[0]"); /* count 0: nothing */
    assert_int_equal(popped, 0);
    store_fixture_commit(t);
    assert_string_equal(range(t, "l", ST_OK), "[1]a");
    /* Popping more than there is pops all, and the empty list is deleted. */
    assert_string_equal(pop(t, "l", 1, 10, &popped), "[1]a");
    store_fixture_commit(t);
    assert_int_equal(list_length(t, 0, KEY("l"), &len), ST_MISSING);
    assert_int_equal(len, 0);
    string_val v;
    string_val_init(&v);
    assert_int_equal(string_get(t, 0, KEY("l"), &v), ST_MISSING); /* no key of any type left */
    string_val_free(&v);
    assert_string_equal(pop(t, "l", 1, 1, &popped), ""); /* missing: nothing visited */
    assert_int_equal(popped, 0);
}

static void test_pushx_needs_a_list(void **state) {
    txn *t = *state;
    slice one = {"x", 1};
    uint64_t len = 9;
    assert_int_equal(list_push(t, 0, KEY("px"), 1, 1, &one, 1, &len), ST_MISSING);
    assert_int_equal(len, 0);
    assert_string_equal(range(t, "px", ST_MISSING), "[0]");
    push(t, "px", 0, "a", NULL);
    assert_int_equal(list_push(t, 0, KEY("px"), 0, 1, &one, 1, &len), ST_OK);
    assert_int_equal(len, 2);
    store_fixture_commit(t);
}

static void test_index_and_set(void **state) {
    txn *t = *state;
    push(t, "ix", 0, "a", "b", "c", NULL);
    store_fixture_commit(t);
    buf v;
    buf_init(&v);
    assert_int_equal(list_index(t, 0, KEY("ix"), -1, &v), ST_OK);
    assert_memory_equal(v.data, "c", 1);
    assert_int_equal(list_index(t, 0, KEY("ix"), 3, &v), ST_MISSING);
    assert_int_equal(list_index(t, 0, KEY("nope"), 0, &v), ST_MISSING);
    assert_int_equal(list_set(t, 0, KEY("ix"), 1, "B", 1), ST_OK);
    assert_int_equal(list_set(t, 0, KEY("ix"), -4, "x", 1), ST_OUT_OF_RANGE);
    assert_int_equal(list_set(t, 0, KEY("nope"), 0, "x", 1), ST_MISSING);
    store_fixture_commit(t);
    assert_string_equal(range(t, "ix", ST_OK), "[3]a,B,c");
    buf_free(&v);
}

static void test_insert(void **state) {
    txn *t = *state;
    push(t, "in", 0, "a", "b", "c", "d", NULL);
    long long len;
    /* Near the head the items before move; near the tail those after. */
    assert_int_equal(list_insert(t, 0, KEY("in"), 1, "b", 1, "x", 1, &len), ST_OK);
    assert_int_equal(len, 5);
    assert_int_equal(list_insert(t, 0, KEY("in"), 0, "c", 1, "y", 1, &len), ST_OK);
    assert_int_equal(len, 6);
    assert_int_equal(list_insert(t, 0, KEY("in"), 0, "d", 1, "z", 1, &len), ST_OK); /* after the last */
    assert_int_equal(list_insert(t, 0, KEY("in"), 1, "a", 1, "0", 1, &len), ST_OK); /* before the first */
    assert_int_equal(len, 8);
    assert_int_equal(list_insert(t, 0, KEY("in"), 1, "none", 4, "q", 1, &len), ST_OK);
    assert_int_equal(len, -1);
    assert_int_equal(list_insert(t, 0, KEY("nope"), 1, "a", 1, "q", 1, &len), ST_MISSING);
    store_fixture_commit(t);
    assert_string_equal(range(t, "in", ST_OK), "[8]0,a,x,b,c,y,d,z");
}

static void test_remove(void **state) {
    txn *t = *state;
    push(t, "rm", 0, "x", "a", "x", "b", "x", "c", "x", NULL);
    long long n;
    assert_int_equal(list_remove(t, 0, KEY("rm"), 2, "x", 1, &n), ST_OK); /* the first two */
    assert_int_equal(n, 2);
    assert_string_equal(range(t, "rm", ST_OK), "[5]a,b,x,c,x");
    assert_int_equal(list_remove(t, 0, KEY("rm"), -1, "x", 1, &n), ST_OK); /* the last one */
    assert_int_equal(n, 1);
    assert_string_equal(range(t, "rm", ST_OK), "[4]a,b,x,c");
    assert_int_equal(list_remove(t, 0, KEY("rm"), 0, "q", 1, &n), ST_OK);
    assert_int_equal(n, 0);
    store_fixture_commit(t);
    assert_int_equal(list_remove(t, 0, KEY("rm"), 0, "x", 1, &n), ST_OK);
    assert_int_equal(n, 1);
    assert_string_equal(range(t, "rm", ST_OK), "[3]a,b,c");
    push(t, "rm2", 0, "x", "x", NULL);
    assert_int_equal(list_remove(t, 0, KEY("rm2"), 0, "x", 1, &n), ST_OK); /* all: the list goes */
    assert_int_equal(n, 2);
    store_fixture_commit(t);
    assert_int_equal(list_remove(t, 0, KEY("rm2"), 0, "x", 1, &n), ST_MISSING);
    assert_int_equal(n, 0);
}

static void test_trim(void **state) {
    txn *t = *state;
    push(t, "tr", 0, "a", "b", "c", "d", "e", NULL);
    assert_int_equal(list_trim(t, 0, KEY("tr"), 1, -2), ST_OK);
    store_fixture_commit(t);
    assert_string_equal(range(t, "tr", ST_OK), "[3]b,c,d");
    assert_int_equal(list_trim(t, 0, KEY("tr"), -100, 100), ST_OK); /* keeps all */
    assert_string_equal(range(t, "tr", ST_OK), "[3]b,c,d");
    assert_int_equal(list_trim(t, 0, KEY("tr"), 2, 1), ST_OK); /* an empty range deletes it */
    store_fixture_commit(t);
    assert_string_equal(range(t, "tr", ST_MISSING), "[0]");
    assert_int_equal(list_trim(t, 0, KEY("tr"), 0, 1), ST_MISSING);
}

/* LPOS matches, as "i,j,k". */
static int note_match(void *arg, long long index) {
    buf *out = arg;
    char num[32];
    snprintf(num, sizeof(num), "%s%lld", out->len ? "," : "", index);
    buf_append(out, num, strlen(num));
    return 0;
}

static const char *pos(txn *t, long long rank, long long max_matches, long long maxlen) {
    assert_int_equal(list_pos(t, 0, KEY("ps"), "x", 1, rank, max_matches, maxlen, note_match, notes_fresh()), ST_OK);
    return notes_text();
}

static void test_pos_rank_count_maxlen(void **state) {
    txn *t = *state;
    push(t, "ps", 0, "x", "a", "x", "b", "x", "x", NULL); /* x at 0, 2, 4, 5 */
    store_fixture_commit(t);
    assert_string_equal(pos(t, 1, 1, 0), "0");
    assert_string_equal(pos(t, 2, 1, 0), "2");
    assert_string_equal(pos(t, -1, 1, 0), "5");
    assert_string_equal(pos(t, -2, 0, 0), "4,2,0");
    assert_string_equal(pos(t, 1, 0, 0), "0,2,4,5");
    assert_string_equal(pos(t, 1, 2, 0), "0,2");
    assert_string_equal(pos(t, 1, 0, 3), "0,2");   /* MAXLEN 3 looks at indexes 0..2 */
    assert_string_equal(pos(t, -1, 0, 2), "5,4");  /* from the tail: 5 and 4 */
    assert_string_equal(pos(t, 5, 0, 0), "");      /* fewer matches than the rank */
}

static void test_move_between_lists_and_to_itself(void **state) {
    txn *t = *state;
    push(t, "src", 0, "a", "b", "c", NULL);
    buf v;
    buf_init(&v);
    int at_dst;
    assert_int_equal(list_move(t, 0, KEY("src"), KEY("dst"), 0, 1, &v, &at_dst), ST_OK); /* RPOPLPUSH */
    assert_memory_equal(v.data, "c", 1);
    assert_int_equal(list_move(t, 0, KEY("src"), KEY("dst"), 1, 0, &v, &at_dst), ST_OK);
    assert_memory_equal(v.data, "a", 1);
    store_fixture_commit(t);
    assert_string_equal(range(t, "src", ST_OK), "[1]b");
    assert_string_equal(range(t, "dst", ST_OK), "[2]c,a");
    /* The same list rotates, at both ends and at one. */
    push(t, "rot", 0, "1", "2", "3", NULL);
    assert_int_equal(list_move(t, 0, KEY("rot"), KEY("rot"), 0, 1, &v, &at_dst), ST_OK);
    assert_string_equal(range(t, "rot", ST_OK), "[3]3,1,2");
    assert_int_equal(list_move(t, 0, KEY("rot"), KEY("rot"), 1, 1, &v, &at_dst), ST_OK);
    assert_string_equal(range(t, "rot", ST_OK), "[3]3,1,2");
    /* The last item moved away deletes the source. */
    assert_int_equal(list_move(t, 0, KEY("src"), KEY("dst"), 1, 1, &v, &at_dst), ST_OK);
    store_fixture_commit(t);
    assert_string_equal(range(t, "src", ST_MISSING), "[0]");
    assert_int_equal(list_move(t, 0, KEY("src"), KEY("dst"), 1, 1, &v, &at_dst), ST_MISSING);
    buf_free(&v);
}

static void test_wrongtype(void **state) {
    txn *t = *state;
    string_put(t, 0, KEY("str"), "v", 1, 0);
    push(t, "ok", 0, "a", NULL);
    store_fixture_commit(t);
    slice one = {"x", 1};
    uint64_t len;
    long long n;
    buf v;
    buf_init(&v);
    int at_dst;
    assert_int_equal(list_push(t, 0, KEY("str"), 1, 0, &one, 1, &len), ST_WRONGTYPE);
    assert_int_equal(list_length(t, 0, KEY("str"), &len), ST_WRONGTYPE);
    assert_int_equal(list_pop(t, 0, KEY("str"), 1, 1, note_count, note_item, &v, &n), ST_WRONGTYPE);
    assert_int_equal(list_index(t, 0, KEY("str"), 0, &v), ST_WRONGTYPE);
    assert_int_equal(list_insert(t, 0, KEY("str"), 1, "a", 1, "b", 1, &n), ST_WRONGTYPE);
    assert_int_equal(list_trim(t, 0, KEY("str"), 0, 1), ST_WRONGTYPE);
    assert_int_equal(list_move(t, 0, KEY("str"), KEY("ok"), 1, 1, &v, &at_dst), ST_WRONGTYPE);
    assert_int_equal(at_dst, 0);
    assert_int_equal(list_move(t, 0, KEY("ok"), KEY("str"), 1, 1, &v, &at_dst), ST_WRONGTYPE);
    assert_int_equal(at_dst, 1);
    /* A missing source answers first, whatever the destination is. */
    assert_int_equal(list_move(t, 0, KEY("none"), KEY("str"), 1, 1, &v, &at_dst), ST_MISSING);
    assert_string_equal(range(t, "ok", ST_OK), "[1]a"); /* the failed move left it alone */
    buf_free(&v);
}

/* Stores a list by hand: positions [head, head + n) hold items "0", "1", … except `gap`
 * (none when gap >= n), and the metadata says size n. */
static void make_list(txn *t, const char *key, uint64_t head, uint64_t n, uint64_t gap) {
    compound l;
    int rc = compound_open(&l, t, 0, KEY(key), TYPE_LIST);
    assert_true(rc == CK_MISSING);
    for (uint64_t i = 0; i < n; i++) {
        if (i == gap) continue;
        char p[8], v[24];
        buf_set_u64be(p, head + i);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)i);
        compound_put(&l, p, 8, v, strlen(v));
    }
    l.m.list_head = head;
    l.m.list_tail = head + n;
    l.m.size = n;
    compound_save(&l);
    compound_free(&l);
    store_fixture_commit(t);
}

static void test_no_room_near_the_edges(void **state) {
    txn *t = *state;
    make_list(t, "low", 1, 1, 1); /* one free position below the head */
    slice two[2] = {{"a", 1}, {"b", 1}};
    uint64_t len;
    assert_int_equal(list_push(t, 0, KEY("low"), 1, 0, two, 2, &len), ST_NO_ROOM_AT_HEAD);
    assert_string_equal(range(t, "low", ST_OK), "[1]0"); /* nothing written */
    assert_int_equal(list_push(t, 0, KEY("low"), 1, 0, two, 1, &len), ST_OK);
    assert_int_equal(list_push(t, 0, KEY("low"), 1, 0, two, 1, &len), ST_NO_ROOM_AT_HEAD);
    assert_int_equal(list_push(t, 0, KEY("low"), 0, 0, two, 2, &len), ST_OK); /* the tail has room */
    store_fixture_commit(t);
    assert_string_equal(range(t, "low", ST_OK), "[4]a,0,a,b");
    /* Inserting near the head moves items towards it: refused too. */
    long long n;
    assert_int_equal(list_insert(t, 0, KEY("low"), 1, "0", 1, "x", 1, &n), ST_NO_ROOM_AT_HEAD);
    buf v;
    buf_init(&v);
    int at_dst;
    assert_int_equal(list_move(t, 0, KEY("low"), KEY("low"), 0, 1, &v, &at_dst), ST_NO_ROOM_AT_HEAD);
    assert_int_equal(list_move(t, 0, KEY("low"), KEY("low"), 1, 1, &v, &at_dst), ST_OK); /* same end: fits */
    make_list(t, "high", UINT64_MAX - 2, 2, 2); /* tail at UINT64_MAX: no room after it */
    assert_int_equal(list_push(t, 0, KEY("high"), 0, 0, two, 1, &len), ST_NO_ROOM_AT_TAIL);
    assert_int_equal(list_move(t, 0, KEY("low"), KEY("high"), 1, 0, &v, &at_dst), ST_NO_ROOM_AT_TAIL);
    assert_string_equal(range(t, "high", ST_OK), "[2]0,1");
    buf_free(&v);
}

static void test_corrupt_list(void **state) {
    txn *t = *state;
    make_list(t, "bad", 1000, 4, 2); /* size 4, item 2 missing */
    buf v;
    buf_init(&v);
    long long n;
    assert_string_equal(range(t, "bad", ST_CORRUPT), "[4]0,1");
    assert_int_equal(list_index(t, 0, KEY("bad"), 2, &v), ST_CORRUPT);
    assert_int_equal(list_index(t, 0, KEY("bad"), 3, &v), ST_OK);
    assert_int_equal(list_pop(t, 0, KEY("bad"), 0, 3, note_count, note_item, &v, &n), ST_CORRUPT);
    assert_int_equal(n, 0);
    assert_int_equal(list_insert(t, 0, KEY("bad"), 1, "3", 1, "x", 1, &n), ST_CORRUPT);
    assert_int_equal(list_remove(t, 0, KEY("bad"), 0, "0", 1, &n), ST_CORRUPT);
    assert_int_equal(list_trim(t, 0, KEY("bad"), 3, 3), ST_CORRUPT);
    /* Nothing the failed operations did is visible: the pop read all before removing. */
    assert_int_equal(list_index(t, 0, KEY("bad"), 3, &v), ST_OK);
    assert_memory_equal(v.data, "3", 1);
    buf_free(&v);
}

/* Each test runs in a txn of its own. */
static int txn_open(void **state) {
    txn *t = malloc(sizeof(*t));
    if (!t) return -1;
    txn_init(t);
    *state = t;
    return 0;
}

static int txn_close(void **state) {
    txn_free(*state);
    free(*state);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_both_ends_and_pop_counts, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_pushx_needs_a_list, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_index_and_set, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_insert, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_remove, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_trim, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_pos_rank_count_maxlen, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_move_between_lists_and_to_itself, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_wrongtype, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_no_room_near_the_edges, txn_open, txn_close),
        cmocka_unit_test_setup_teardown(test_corrupt_list, txn_open, txn_close),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
