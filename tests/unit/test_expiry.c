/* Unit tests for the expiry index (src/storage/expire_index.h: written by the txn beside
 * metadata with an expiry, backfilled once) and the active expiry's cycle (src/types/expiry.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"
#include "storage/encoding.h"
#include "storage/expire_index.h"
#include "store_fixture.h"
#include "types/expiry.h"
#include "types/keyspace.h"
#include "types/string.h"
#include "util/timeutil.h"

#define KEY(k) (k), strlen(k)
#define DATABASES 16

/* How many index entries there are for a key of db 0 (any expiry), the last one's expiry in *at. */
static int entries_of(const char *key, int64_t *at) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, 0, KEY(key));
    int n = 0;
    store_iter *it = store_iter_new(CF_EXPIRE, "", 0, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, mlen;
        const char *k = store_iter_key(it, &kl), *got;
        int64_t expire_ms;
        assert_int_equal(enc_decode_expire_key(k, kl, &expire_ms, &got, &mlen), 0);
        if (mlen != mk.len || memcmp(got, mk.data, mlen) != 0) continue;
        n++;
        if (at) *at = expire_ms;
    }
    assert_false(store_iter_failed(it));
    store_iter_free(it);
    buf_free(&mk);
    return n;
}

static int exists(const char *key) {
    buf mk, raw;
    buf_init(&mk);
    buf_init(&raw);
    enc_meta_key(&mk, 0, KEY(key));
    int found = store_get(CF_METADATA, mk.data, mk.len, &raw);
    buf_free(&mk);
    buf_free(&raw);
    return found;
}

static void set(const char *key, int64_t expire_ms) {
    txn t;
    txn_init(&t);
    string_put(&t, 0, KEY(key), "v", 1, expire_ms);
    store_fixture_commit(&t);
    txn_free(&t);
}

/* A record with an expiry is indexed in its own commit; one without adds nothing. */
static void test_index_written_with_the_expiry(void **state) {
    (void)state;
    set("plain", 0);
    assert_int_equal(entries_of("plain", NULL), 0);
    int64_t at = time_now_ms() + 100000, got = 0;
    set("ttl", at);
    assert_int_equal(entries_of("ttl", &got), 1);
    assert_int_equal(got, at);
}

/* Replacing an expiry (EXPIRE, PERSIST) deletes the entry of the old one. */
static void test_set_expire_drops_the_old_entry(void **state) {
    (void)state;
    int64_t at = time_now_ms() + 100000, got = 0;
    set("refreshed", at);
    txn t;
    txn_init(&t);
    meta m;
    buf raw;
    buf_init(&raw);
    assert_int_equal(ks_lookup(&t, 0, KEY("refreshed"), &m, &raw), KS_FOUND);
    ks_set_expire(&t, 0, KEY("refreshed"), &raw, at + 5000);
    store_fixture_commit(&t);
    assert_int_equal(entries_of("refreshed", &got), 1);
    assert_int_equal(got, at + 5000);
    assert_int_equal(ks_lookup(&t, 0, KEY("refreshed"), &m, &raw), KS_FOUND);
    ks_set_expire(&t, 0, KEY("refreshed"), &raw, 0); /* PERSIST */
    store_fixture_commit(&t);
    assert_int_equal(entries_of("refreshed", NULL), 0);
    buf_free(&raw);
    txn_free(&t);
}

/* The cycle removes an expired key and its entry, and skips a stale entry (a key re-set
 * without an expiry) without touching the key. */
static void test_cycle_removes_only_expired_keys(void **state) {
    (void)state;
    int64_t soon = time_now_ms() + 30;
    set("dies", soon);
    set("revived", soon);
    set("revived", 0);
    set("later", soon + 100000);
    long before = atomic_load(&stats.expired_keys);
    usleep(80 * 1000);
    assert_int_equal(expiry_cycle(DATABASES, time_now_ms(), 1000000), 1);
    assert_int_equal(exists("dies"), 0);
    assert_int_equal(entries_of("dies", NULL), 0);
    assert_int_equal(exists("revived"), 1);
    assert_int_equal(exists("later"), 1);
    assert_int_equal(atomic_load(&stats.expired_keys), before + 1);
    assert_int_equal(expiry_cycle(DATABASES, time_now_ms(), 1000000), 0); /* nothing more is due */
}

/* An entry written behind where the walk stands (an expiry already past) is still found. */
static void test_cycle_goes_back_for_a_past_expiry(void **state) {
    (void)state;
    set("first", time_now_ms() + 20);
    usleep(50 * 1000);
    assert_int_equal(expiry_cycle(DATABASES, time_now_ms(), 1000000), 1);
    set("behind", time_now_ms() - 60000); /* earlier than everything the walk passed */
    assert_int_equal(expiry_cycle(DATABASES, time_now_ms(), 1000000), 1);
    assert_int_equal(exists("behind"), 0);
}

/* A key re-set with another expiry by a write that did not delete its old entry has two
 * entries; when both are due in one batch it is removed once (one DEL, counted once). */
static void test_key_with_two_due_entries_removed_once(void **state) {
    (void)state;
    int64_t soon = time_now_ms() + 30;
    set("twice", soon + 10);
    set("twice", soon);
    assert_int_equal(entries_of("twice", NULL), 2);
    long before = atomic_load(&stats.expired_keys);
    usleep(80 * 1000);
    assert_int_equal(expiry_cycle(DATABASES, time_now_ms(), 1000000), 1);
    assert_int_equal(exists("twice"), 0);
    assert_int_equal(atomic_load(&stats.expired_keys), before + 1);
}

/* Records written without the index (by an older tidekv) are indexed once at start-up. */
static void test_backfill_indexes_old_records_once(void **state) {
    (void)state;
    int64_t at = time_now_ms() + 100000, got = 0;
    buf mk, val;
    buf_init(&mk);
    buf_init(&val);
    enc_meta_key(&mk, 0, KEY("old"));
    enc_string_meta(&val, at, "v", 1);
    char *err = NULL;
    rocksdb_put_cf(store_db(), store_write_options(), store_cf(CF_METADATA), mk.data, mk.len, val.data, val.len, &err);
    assert_null(err);
    assert_int_equal(entries_of("old", NULL), 0);
    assert_int_equal(expire_index_backfill(), 0);
    assert_int_equal(entries_of("old", &got), 1);
    assert_int_equal(got, at);
    /* done once: a record written behind the index's back now stays unindexed */
    buf_clear(&mk);
    enc_meta_key(&mk, 0, KEY("older"));
    rocksdb_put_cf(store_db(), store_write_options(), store_cf(CF_METADATA), mk.data, mk.len, val.data, val.len, &err);
    assert_null(err);
    assert_int_equal(expire_index_backfill(), 0);
    assert_int_equal(entries_of("older", NULL), 0);
    buf_free(&mk);
    buf_free(&val);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_written_with_the_expiry),
        cmocka_unit_test(test_set_expire_drops_the_old_entry),
        cmocka_unit_test(test_cycle_removes_only_expired_keys),
        cmocka_unit_test(test_cycle_goes_back_for_a_past_expiry),
        cmocka_unit_test(test_key_with_two_due_entries_removed_once),
        cmocka_unit_test(test_backfill_indexes_old_records_once),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
