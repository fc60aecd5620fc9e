/* Unit tests for how a txn lays out its batch (src/storage/txn.h): one commit, or several
 * sealed commits in one batch, each led by its own change record, split back apart the way
 * POLLUPDATES reads them (src/cdc/commits.h). No database is needed: writes are only
 * indexed when a read asks for them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cdc/commits.h"
#include "cdc/record.h"
#include "storage/txn.h"

static void record_set(txn *t, const char *key, const char *value) {
    const char *argv[] = {"SET", key, value};
    size_t lens[] = {3, strlen(key), strlen(value)};
    txn_record(t, 0, 1, 3, argv, lens);
}

/* Splits the batch (given the sequence RocksDB would assign) and checks each commit:
 * its first sequence, its count, and the key of the first command of its record. */
static void expect_commits(const buf *batch, uint64_t sequence, int n, const uint32_t *counts, const char **keys) {
    wal_batch whole = {sequence, 0, batch->data, batch->len};
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, batch->data, batch->len), 0);
    whole.count = r.count;
    commit_split cs;
    assert_int_equal(commit_split_init(&cs, &whole), 0);
    wal_batch b;
    uint64_t expected = sequence;
    for (int i = 0; i < n; i++) {
        assert_int_equal(commit_split_next(&cs, &b), 1);
        assert_true(b.sequence == expected);
        assert_int_equal(b.count, counts[i]);
        batch_reader br;
        batch_record rec;
        assert_int_equal(batch_reader_init(&br, b.data, b.len), 0);
        assert_int_equal(batch_reader_next(&br, &rec), 1);
        assert_int_equal(rec.op, BATCH_LOG_DATA);
        record decoded;
        assert_int_equal(record_decode(rec.key.ptr, rec.key.len, &decoded), 0);
        assert_int_equal(decoded.ncmds, 1);
        assert_int_equal(decoded.cmds[0].argv[1].len, strlen(keys[i]));
        assert_memory_equal(decoded.cmds[0].argv[1].ptr, keys[i], strlen(keys[i]));
        record_free(&decoded);
        expected += counts[i];
    }
    assert_int_equal(commit_split_next(&cs, &b), 0);
    commit_split_free(&cs);
}

static void test_one_commit(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    record_set(&t, "a", "1");
    txn_put(&t, 1, "a", 1, "1", 1);
    txn_put(&t, 0, "a-sub", 5, "x", 1);
    buf out;
    buf_init(&out);
    txn_build_batch(&t, &out);
    expect_commits(&out, 7, 1, (uint32_t[]){2}, (const char *[]){"a"});
    buf_free(&out);
    txn_free(&t);
}

static void test_sealed_commits_share_a_batch(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    record_set(&t, "a", "1");
    txn_put(&t, 1, "a", 1, "1", 1);
    assert_int_equal(txn_seal(&t), 1);
    assert_int_equal(txn_seal(&t), 0); /* nothing new */
    record_set(&t, "dropped", "x");     /* a command that recorded but wrote nothing */
    assert_int_equal(txn_seal(&t), 0);
    record_set(&t, "b", "2");
    txn_put(&t, 1, "b", 1, "2", 1);
    txn_delete(&t, 0, "b-old", 5);
    txn_delete_range(&t, 0, "c", 1, "d", 1);
    assert_int_equal(txn_seal(&t), 1);
    record_set(&t, "e", "3");
    txn_put(&t, 1, "e", 1, "3", 1); /* left open: the commit seals it */
    buf out;
    buf_init(&out);
    txn_build_batch(&t, &out);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, out.data, out.len), 0);
    assert_int_equal(r.count, 5);
    expect_commits(&out, 100, 3, (uint32_t[]){1, 3, 1}, (const char *[]){"a", "b", "e"});
    buf_free(&out);
    txn_reset(&t);
    assert_false(txn_has_writes(&t));
    txn_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_commit),
        cmocka_unit_test(test_sealed_commits_share_a_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
