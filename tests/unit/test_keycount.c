/* Unit tests for the key counts (src/storage/keycount.h) kept by txn commits, against a
 * database in a temporary directory: what a record counts for, writes of one key several
 * times in a commit, range deletions, expiry as time passes, avg_ttl, and a txn's own
 * uncommitted writes. */
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"
#include "storage/encoding.h"
#include "storage/keycount.h"
#include "util/timeutil.h"

static int close_store(void **state) {
    keycount_free();
    return store_fixture_close(state);
}

static void put_string(txn *t, int db, const char *key, int64_t expire_ms) {
    buf mk, v;
    buf_init(&mk);
    buf_init(&v);
    enc_meta_key(&mk, db, key, strlen(key));
    enc_string_meta(&v, expire_ms, "v", 1);
    txn_put(t, CF_METADATA, mk.data, mk.len, v.data, v.len);
    buf_free(&mk);
    buf_free(&v);
}

static void put_hash(txn *t, int db, const char *key, uint64_t size) {
    buf mk, v;
    buf_init(&mk);
    buf_init(&v);
    enc_meta_key(&mk, db, key, strlen(key));
    meta m = {.type = TYPE_HASH, .version = 1, .size = size};
    enc_compound_meta(&v, &m);
    txn_put(t, CF_METADATA, mk.data, mk.len, v.data, v.len);
    buf_free(&mk);
    buf_free(&v);
}

static void put_raw(txn *t, int db, const char *key, const char *value) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, strlen(key));
    txn_put(t, CF_METADATA, mk.data, mk.len, value, strlen(value));
    buf_free(&mk);
}

static void delete_key(txn *t, int db, const char *key) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, strlen(key));
    txn_delete(t, CF_METADATA, mk.data, mk.len);
    buf_free(&mk);
}

static void flush(txn *t, int db) {
    buf begin, end;
    buf_init(&begin);
    buf_init(&end);
    enc_namespace(&begin, db);
    enc_prefix_end(&end, begin.data, begin.len);
    txn_delete_range(t, CF_METADATA, begin.data, begin.len, end.data, end.len);
    buf_free(&begin);
    buf_free(&end);
}

static keycount_stats counts_at(int db, int64_t now_ms) {
    keycount_stats n;
    assert_int_equal(keycount_get(db, now_ms, NULL, &n), 0);
    return n;
}

static void expect(int db, int64_t now_ms, long long keys, long long expires) {
    keycount_stats n = counts_at(db, now_ms);
    assert_int_equal(n.keys, keys);
    assert_int_equal(n.expires, expires);
}

static void test_counts(void **state) {
    (void)state;
    /* The counts are read at this time and later: ahead of the clock, so that no read comes
     * before the time they were loaded at (a read never goes back before an earlier one). */
    int64_t now = time_now_ms() + 60000;
    txn t;
    txn_init(&t);
    t.now_ms = now; /* the txn's clock is the reads' */
    /* Before the counts are loaded: a live string, a key expired already, an empty hash, a
     * record that does not decode (listed as a key), and one in db 1. */
    put_string(&t, 0, "live", 0);
    put_string(&t, 0, "expired", now - 1000);
    put_hash(&t, 0, "empty", 0);
    put_raw(&t, 0, "corrupt", "");
    put_string(&t, 1, "other", now + 100000);
    store_fixture_commit(&t);
    assert_int_equal(keycount_load(2), 0);
    expect(0, now, 2, 0);
    expect(1, now, 1, 1);

    /* One commit writing a key several times, and an overwrite that adds an expiry. */
    put_string(&t, 0, "k", 0);
    delete_key(&t, 0, "k");
    put_string(&t, 0, "k", now + 5000);
    put_string(&t, 0, "live", now + 3000);
    put_hash(&t, 0, "h", 2);
    put_hash(&t, 0, "h", 0); /* emptied */
    store_fixture_commit(&t);
    expect(0, now, 3, 2);
    assert_int_equal(counts_at(0, now).avg_ttl_ms, 4000);

    /* A txn sees its own writes before it commits. */
    keycount_stats n;
    delete_key(&t, 0, "live");
    put_string(&t, 0, "new", 0);
    assert_int_equal(txn_key_counts(&t, 0, &n), 0);
    assert_int_equal(n.keys, 3);
    assert_int_equal(n.expires, 1);
    txn_reset(&t);
    expect(0, now, 3, 2);

    /* Time passes: "live" expires at now + 3000 (alive through that ms), then "k". */
    expect(0, now + 3000, 3, 2);
    expect(0, now + 3001, 2, 1);
    assert_int_equal(counts_at(0, now + 3001).avg_ttl_ms, 1999);
    /* Deleting a key whose expiry passed changes nothing more. */
    delete_key(&t, 0, "live");
    store_fixture_commit(&t);
    expect(0, now + 3001, 2, 1);

    /* A range deletion empties its database only; writes after it in the commit count. */
    put_string(&t, 0, "gone", 0);
    flush(&t, 0);
    put_string(&t, 0, "after", now + 900000);
    store_fixture_commit(&t);
    expect(0, now + 3001, 1, 1);
    expect(1, now + 3001, 1, 1);
    txn_free(&t);
}

/* Many keys with random expiries, changed at random, against a plain list of what each holds. */
static void test_random_expiries(void **state) {
    (void)state;
    enum { N = 500 };
    int64_t base = time_now_ms() + 1000000, expiry[N] = {0}; /* -1 missing, 0 none */
    for (int i = 0; i < N; i++) expiry[i] = -1;
    txn t;
    txn_init(&t);
    flush(&t, 1);
    store_fixture_commit(&t);
    srand(7);
    int64_t now = base;
    for (int round = 0; round < 40; round++) {
        for (int j = 0; j < 50; j++) {
            int i = rand() % N;
            char key[16];
            snprintf(key, sizeof(key), "r%d", i);
            if (rand() % 4 == 0) {
                delete_key(&t, 1, key);
                expiry[i] = -1;
            } else {
                expiry[i] = rand() % 3 == 0 ? 0 : now + rand() % 2000;
                put_string(&t, 1, key, expiry[i]);
            }
        }
        store_fixture_commit(&t);
        now += rand() % 100;
        long long keys = 0, expires = 0, sum = 0;
        for (int i = 0; i < N; i++) {
            if (expiry[i] < 0 || (expiry[i] > 0 && expiry[i] < now)) continue;
            keys++;
            if (expiry[i] > 0) expires++, sum += expiry[i] - now;
        }
        keycount_stats n = counts_at(1, now);
        assert_int_equal(n.keys, keys);
        assert_int_equal(n.expires, expires);
        if (expires) assert_true(llabs(n.avg_ttl_ms - sum / expires) <= 1);
    }
    txn_free(&t);
}

static void put_big_string(txn *t, int db, const char *key, int64_t expire_ms) {
    buf mk, v;
    buf_init(&mk);
    buf_init(&v);
    enc_meta_key(&mk, db, key, strlen(key));
    char *value = calloc(1, 100000);
    assert_non_null(value);
    enc_string_meta(&v, expire_ms, value, 100000);
    txn_put(t, CF_METADATA, mk.data, mk.len, v.data, v.len);
    free(value);
    buf_free(&mk);
    buf_free(&v);
}

/* Whether a blind SET of the key reads the record it replaces: that record is deleted behind the
 * counts' back first, so a read finds nothing (the count grows) where a table of the counts
 * says it existed (the count stays). */
static int blind_set_reads(txn *t, int db, const char *key, int64_t now) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, strlen(key));
    char *err = NULL;
    rocksdb_delete_cf(store_db(), store_write_options(), store_cf(CF_METADATA), mk.data, mk.len, &err);
    assert_null(err);
    buf_free(&mk);
    long long before = counts_at(db, now).keys;
    put_string(t, db, key, 0);
    store_fixture_commit(t);
    return counts_at(db, now).keys == before + 1;
}

/* A blind write of a key a commit wrote lately, or of a big record, does not read the record it
 * replaces; any other does. */
static void test_known_records_are_not_read(void **state) {
    (void)state;
    int64_t now = time_now_ms() + 60000;
    txn t;
    txn_init(&t);
    assert_true(blind_set_reads(&t, 0, "unknown", now));
    put_string(&t, 0, "fresh", 0);
    store_fixture_commit(&t);
    assert_false(blind_set_reads(&t, 0, "fresh", now));

    put_big_string(&t, 0, "big", 0);
    store_fixture_commit(&t);
    keycount_free(); /* recent shares forgotten: only the walk's big records are known */
    assert_int_equal(keycount_load(2), 0);
    assert_true(blind_set_reads(&t, 0, "fresh", now));
    assert_false(blind_set_reads(&t, 0, "big", now));

    /* An emptied database's keys are not known from before. */
    flush(&t, 0);
    store_fixture_commit(&t);
    put_string(&t, 0, "big", 0);
    store_fixture_commit(&t);
    expect(0, now, 1, 0);
    txn_free(&t);
}

/* A key named prefix<n> whose metadata key hashes to the same bucket of recent shares (its 17
 * low bits) as `key`'s. */
static void colliding_key(const char *key, const char *prefix, char *out, size_t size) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, 0, key, strlen(key));
    uint64_t want = keycount_key_hash(mk.data, mk.len) & ((1 << 17) - 1);
    for (long i = 0;; i++) {
        snprintf(out, size, "%s%ld", prefix, i);
        buf_clear(&mk);
        enc_meta_key(&mk, 0, out, strlen(out));
        if ((keycount_key_hash(mk.data, mk.len) & ((1 << 17) - 1)) == want) break;
    }
    buf_free(&mk);
}

/* Two keys sharing a bucket both stay known; a third pushes out the one written longest ago. */
static void test_recent_buckets_keep_two_keys(void **state) {
    (void)state;
    int64_t now = time_now_ms() + 60000;
    char b[32], c[32];
    colliding_key("a", "b", b, sizeof(b));
    colliding_key("a", "c", c, sizeof(c));
    txn t;
    txn_init(&t);
    put_string(&t, 0, "a", 0);
    put_string(&t, 0, b, 0);
    store_fixture_commit(&t);
    assert_false(blind_set_reads(&t, 0, "a", now));
    assert_false(blind_set_reads(&t, 0, b, now));
    assert_false(blind_set_reads(&t, 0, "a", now));
    put_string(&t, 0, c, 0); /* b was written longest ago */
    store_fixture_commit(&t);
    assert_false(blind_set_reads(&t, 0, "a", now));
    assert_true(blind_set_reads(&t, 0, b, now));
    txn_free(&t);
}

/* A txn kept for many commits (a worker's write group) numbers its stagings: past the last
 * number, a commit still learns what its writes replace. */
static void test_stagings_wrap_around(void **state) {
    (void)state;
    int64_t now = time_now_ms() + 60000;
    txn t;
    txn_init(&t);
    flush(&t, 1);
    put_string(&t, 1, "w", 0);
    store_fixture_commit(&t);
    expect(1, now, 1, 0);
    t.counts.staging = UINT32_MAX;
    delete_key(&t, 1, "w");
    store_fixture_commit(&t);
    expect(1, now, 0, 0);
    txn_free(&t);
}

/* With no read to take them out, times long past go all the same: a commit adding an expiry
 * an hour on takes out the times before its clock less CUT_LAG_MS. (A read at an earlier time
 * counts as at the last cut: the set cannot take back what it dropped.) */
static void test_commits_take_out_times_long_past(void **state) {
    (void)state;
    int64_t later = time_now_ms() + 10000000;
    txn t;
    txn_init(&t);
    flush(&t, 1);
    put_string(&t, 1, "soon", later);
    store_fixture_commit(&t);
    t.now_ms = later + 3600000;
    put_string(&t, 1, "next", later + 7200000);
    store_fixture_commit(&t);
    expect(1, later, 1, 1);
    txn_free(&t);
}

/* Keys come from clients: the tables' hash changes from one load to the next, so that no set
 * of keys collides in every server. */
static void test_key_hash_is_seeded(void **state) {
    (void)state;
    uint64_t before = keycount_key_hash("key", 3);
    keycount_free();
    usleep(10); /* the seed includes the time in microseconds */
    assert_int_equal(keycount_load(2), 0);
    assert_int_not_equal(keycount_key_hash("key", 3), before);
}

/* A big record that expired is forgotten by the commits that follow (the compaction filter
 * would drop it without one); one without an expiry stays. */
static void test_expired_big_records_are_forgotten(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    put_big_string(&t, 1, "expiring", t.now_ms + 1000);
    put_big_string(&t, 1, "kept", 0);
    store_fixture_commit(&t);
    size_t known = keycount_big_records();
    t.now_ms += 2000;
    for (int i = 0; i < 1000; i++) { /* enough commits to go round the table */
        put_string(&t, 1, "small", 0);
        store_fixture_commit(&t);
    }
    assert_int_equal(keycount_big_records(), known - 1);
    txn_free(&t);
}

/* A read at an earlier clock than one before it (a transaction whose clock was taken just
 * before another client's read) counts the keys alive at its own time. */
static void test_reads_at_earlier_clocks_count_exactly(void **state) {
    (void)state;
    int64_t at = time_now_ms() + 20000000; /* later than the other tests' clocks */
    txn t;
    txn_init(&t);
    t.now_ms = at;
    flush(&t, 1);
    put_string(&t, 1, "first", at + 100);
    put_string(&t, 1, "second", at + 200);
    store_fixture_commit(&t);
    expect(1, at + 150, 1, 1);
    expect(1, at + 50, 2, 2);
    assert_int_equal(counts_at(1, at + 50).avg_ttl_ms, 100);
    expect(1, at + 250, 0, 0);
    txn_free(&t);
}

/* A key read while lookups keep expired keys (SORT's BY/GET patterns) is not locked by the
 * txn: another client may write it before the txn does, so that read must not stand for the
 * record the txn's own write replaces (a worker's write group runs a SORT and, later, a blind
 * SET of a key it read). */
static void test_unlocked_reads_are_no_base(void **state) {
    (void)state;
    txn t, other;
    txn_init(&t);
    txn_init(&other);
    flush(&t, 1);
    store_fixture_commit(&t);
    buf mk, out;
    buf_init(&mk);
    buf_init(&out);
    enc_meta_key(&mk, 1, "w", 1);
    t.keep_expired = 1;
    assert_int_equal(txn_get(&t, CF_METADATA, mk.data, mk.len, &out), 0); /* missing */
    t.keep_expired = 0;
    put_string(&other, 1, "w", 0); /* another client writes the key meanwhile */
    store_fixture_commit(&other);
    put_string(&t, 1, "w", 0); /* then the txn writes it blind */
    store_fixture_commit(&t);
    expect(1, time_now_ms(), 1, 0);
    buf_free(&mk);
    buf_free(&out);
    txn_free(&t);
    txn_free(&other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_random_expiries),
        cmocka_unit_test(test_known_records_are_not_read),
        cmocka_unit_test(test_recent_buckets_keep_two_keys),
        cmocka_unit_test(test_stagings_wrap_around),
        cmocka_unit_test(test_commits_take_out_times_long_past),
        cmocka_unit_test(test_expired_big_records_are_forgotten),
        cmocka_unit_test(test_reads_at_earlier_clocks_count_exactly),
        cmocka_unit_test(test_key_hash_is_seeded),
        cmocka_unit_test(test_unlocked_reads_are_no_base),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, close_store);
}
