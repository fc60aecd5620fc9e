/* Helpers for the unit tests of collection types (test_hash.c, test_set.c, …) over a store
 * opened with store_fixture.h. Header-only: each test is one file. */
#ifndef TIDEKV_TYPE_FIXTURE_H
#define TIDEKV_TYPE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "types/string.h"
#include "util/slice.h"

/* A slice of a string literal, and a key argument (pointer, length) of one. */
#define S(text) ((slice){(char *)(text), sizeof(text) - 1})
#define KEY(text) text, sizeof(text) - 1

/* Commits t and starts it afresh. */
static inline void commit(txn *t) {
    char *err = NULL;
    assert_int_equal(txn_commit(t, &err), 0);
    txn_free(t);
    txn_init(t);
}

/* Asserts b holds want, and empties it. */
static inline void assert_text(buf *b, const char *want) {
    assert_int_equal(b->len, strlen(want));
    if (b->len) assert_memory_equal(b->data, want, b->len);
    buf_clear(b);
}

/* Stores the string key "str" and a key "bad" whose metadata record does not decode, so that
 * operations can be checked for ST_WRONGTYPE and ST_CORRUPT; commits them. */
static inline void put_wrong_keys(txn *t) {
    string_put(t, 0, KEY("str"), "v", 1, 0);
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, 0, KEY("bad"));
    txn_put(t, CF_METADATA, mk.data, mk.len, "\x7f", 1);
    buf_free(&mk);
    commit(t);
}

/* The keys put_wrong_keys stores, and what an operation on each returns. */
static const char *const wrong_keys[] = {"str", "bad"};
static const type_status wrong_key_status[] = {ST_WRONGTYPE, ST_CORRUPT};

/* A member_visit_fn for when what is visited does not matter. */
static inline int visit_nothing(void *arg, const char *m, size_t ml, const char *v, size_t vl) {
    (void)arg, (void)m, (void)ml, (void)v, (void)vl;
    return 0;
}

/* Runs op, each time in a fresh txn (dropped after), with its n-th storage read failing, for
 * n = 1, 2, … until op reads fewer than n times: every run that met the failure must return
 * ST_ERROR (a read error never passes for "missing" or "not a member"). Returns how many
 * reads op makes. */
static inline int assert_read_errors_fail(type_status (*op)(txn *t)) {
    for (int n = 1;; n++) {
        txn t;
        txn_init(&t);
        store_fail_read_after(n);
        type_status st = op(&t);
        txn_free(&t);
        /* Still pending (it fails one of these reads) if op read fewer than n times. */
        int pending = 0;
        for (int i = 0; i < n && !pending; i++) pending = store_read_faults();
        store_fail_read_after(0);
        if (pending) return n - 1;
        assert_int_equal(st, ST_ERROR);
    }
}

#endif
