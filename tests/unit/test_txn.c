/* Unit tests for txns (src/storage/txn.h): how a txn lays out its batch (one commit, or
 * several sealed commits in one batch, each led by its own change record, split back apart
 * the way POLLUPDATES reads them, src/cdc/commits.h), which needs no database since writes
 * are only indexed when a read asks for them; and reads through a txn of its own writes and
 * range deletions, against a database in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/commits.h"
#include "cdc/record.h"
#include "storage/encoding.h"
#include "storage/keycount.h"
#include "storage/store.h"
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

/* Builds the txn's batch, checks its header's count, then its commits (expect_commits). */
static void expect_batch(txn *t, uint32_t count, uint64_t sequence, int n, const uint32_t *counts,
                         const char **keys) {
    buf out;
    buf_init(&out);
    txn_build_batch(t, &out);
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, out.data, out.len), 0);
    assert_int_equal(r.count, count);
    expect_commits(&out, sequence, n, counts, keys);
    buf_free(&out);
}

/* The record of the commit that begins the batch, its references resolved against it. */
static void decode_first_commit(const buf *batch, record *out) {
    batch_reader br;
    batch_record rec;
    assert_int_equal(batch_reader_init(&br, batch->data, batch->len), 0);
    assert_int_equal(batch_reader_next(&br, &rec), 1);
    assert_int_equal(rec.op, BATCH_LOG_DATA);
    assert_int_equal(record_decode(rec.key.ptr, rec.key.len, out), 0);
    assert_int_equal(record_resolve(out, batch->data, batch->len), 0);
}

/* A big argument that a Put of the commit stores is recorded as a reference to it (the
 * batch carries the bytes once); a small one, or one no Put stores, is written out. */
static void test_big_arguments_refer_to_their_puts(void **state) {
    (void)state;
    size_t n = RECORD_REF_MIN_BYTES + 7;
    char *value = malloc(n), *other = malloc(n);
    assert_non_null(value);
    assert_non_null(other);
    for (size_t i = 0; i < n; i++) value[i] = (char)(i * 31), other[i] = (char)(i * 17 + 1);
    txn t;
    txn_init(&t);
    txn_put(&t, 0, "x", 1, "small", 5);
    txn_put_parts(&t, 1, "k", 1, "HEAD", 4, value, n);
    const char *argv[] = {"SET", "k", value, "ALSO", other};
    size_t lens[] = {3, 1, n, 4, n};
    txn_record(&t, 0, 1, 5, argv, lens);
    buf out;
    buf_init(&out);
    txn_build_batch(&t, &out);
    assert_true(out.len < 2 * n + 100); /* value once (its Put), other once (written out) */
    record r;
    decode_first_commit(&out, &r);
    assert_int_equal(r.version, RECORD_VERSION_REFS);
    assert_int_equal(r.nrefs, 1);
    assert_int_equal(r.refs[0].op, 1);
    assert_int_equal(r.refs[0].offset, 4);
    assert_int_equal(r.cmds[0].argv[2].len, n);
    assert_memory_equal(r.cmds[0].argv[2].ptr, value, n);
    assert_int_equal(r.cmds[0].argv[4].len, n);
    assert_memory_equal(r.cmds[0].argv[4].ptr, other, n);
    record_free(&r);
    buf_free(&out);
    txn_free(&t);
    free(value);
    free(other);
}

/* A reference never reaches into an earlier commit of the batch: each commit's writes are
 * numbered from its own change record. */
static void test_references_stay_within_their_commit(void **state) {
    (void)state;
    size_t n = RECORD_REF_MIN_BYTES;
    char *value = malloc(n);
    assert_non_null(value);
    memset(value, 'v', n);
    txn t;
    txn_init(&t);
    txn_put(&t, 1, "a", 1, value, n);
    record_set(&t, "a", "small");
    txn_seal(&t);
    txn_put(&t, 1, "b", 1, "zz", 2);
    const char *argv[] = {"SET", "b", value};
    size_t lens[] = {3, 1, n};
    txn_record(&t, 0, 1, 3, argv, lens);
    txn_seal(&t);
    buf out;
    buf_init(&out);
    txn_build_batch(&t, &out);
    wal_batch whole = {1, 2, out.data, out.len};
    commit_split cs;
    wal_batch b;
    assert_int_equal(commit_split_init(&cs, &whole), 0);
    assert_int_equal(commit_split_next(&cs, &b), 1);
    assert_int_equal(commit_split_next(&cs, &b), 1);
    buf second;
    buf_init(&second);
    buf_append(&second, b.data, b.len);
    record r;
    decode_first_commit(&second, &r);
    assert_int_equal(r.nrefs, 0); /* the second commit's Put does not hold it: written out */
    assert_int_equal(r.cmds[0].argv[2].len, n);
    assert_memory_equal(r.cmds[0].argv[2].ptr, value, n);
    record_free(&r);
    buf_free(&second);
    commit_split_free(&cs);
    buf_free(&out);
    txn_free(&t);
    free(value);
}

static void test_one_commit(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    record_set(&t, "a", "1");
    txn_put(&t, 1, "a", 1, "1", 1);
    txn_put(&t, 0, "a-sub", 5, "x", 1);
    expect_batch(&t, 2, 7, 1, (uint32_t[]){2}, (const char *[]){"a"});
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
    expect_batch(&t, 5, 100, 3, (uint32_t[]){1, 3, 1}, (const char *[]){"a", "b", "e"});
    txn_reset(&t);
    assert_false(txn_has_writes(&t));
    txn_free(&t);
}

/* 1 and the value if the txn sees key, else 0. */
static int txn_sees(txn *t, const char *key, const char *value) {
    buf out;
    buf_init(&out);
    int found = txn_get(t, 0, key, strlen(key), &out);
    assert_int_not_equal(found, -1);
    if (found) {
        assert_int_equal(out.len, strlen(value));
        assert_memory_equal(out.data, value, out.len);
    }
    buf_free(&out);
    return found;
}

/* The keys an iterator over [begin, end) through the txn sees, concatenated. */
static void iterated_keys(txn *t, const char *begin, const char *end, buf *out) {
    store_iter *it = txn_iter_new(t, 0, begin, strlen(begin), end, strlen(end));
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t len;
        const char *k = store_iter_key(it, &len);
        if (bytes_compare(k, len, end, strlen(end)) >= 0) break;
        buf_append(out, k, len);
    }
    store_iter_free(it);
}

/* Opens a store in a new temporary directory (dir: a mkdtemp template). */
static void open_temp_store(char *dir) {
    assert_non_null(mkdtemp(dir));
    store_settings s = {.dir = dir, .block_cache_bytes = 8 << 20, .write_buffer_bytes = 4 << 20, .min_blob_size = -1};
    char *err = NULL;
    assert_int_equal(store_open(&s, &err), 0);
}

static void close_temp_store(const char *dir) {
    store_close();
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Opens a temporary store (dir: a mkdtemp template) holding key = "stored", and a txn on it. */
static void open_with_stored_key(char *dir, txn *t, const char *key) {
    open_temp_store(dir);
    char *err = NULL;
    txn_init(t);
    record_set(t, key, "stored");
    txn_put(t, 0, key, strlen(key), "stored", 6);
    assert_int_equal(txn_commit(t, &err), 0);
}

static void test_reads_see_own_writes_and_range_deletions(void **state) {
    (void)state;
    char dir[] = "/tmp/tidekv-test-txn-XXXXXX";
    txn t;
    open_with_stored_key(dir, &t, "x");

    txn_put(&t, 0, "a", 1, "1", 1);
    assert_true(txn_sees(&t, "a", "1")); /* the first read builds the index */
    assert_true(txn_sees(&t, "x", "stored"));
    txn_put(&t, 0, "b", 1, "2", 1); /* a write after the index was built */
    assert_true(txn_sees(&t, "b", "2"));
    txn_delete_range(&t, 0, "a", 1, "c", 1);
    assert_false(txn_sees(&t, "a", NULL));
    assert_false(txn_sees(&t, "b", NULL));
    txn_put(&t, 0, "b", 1, "3", 1);
    txn_delete_range(&t, 0, "w", 1, "y", 1); /* covers the stored key */
    assert_true(txn_sees(&t, "b", "3"));
    assert_false(txn_sees(&t, "x", NULL));
    buf keys;
    buf_init(&keys);
    iterated_keys(&t, "a", "c", &keys);
    assert_int_equal(keys.len, 1);
    assert_memory_equal(keys.data, "b", 1);
    buf_free(&keys);
    txn_free(&t);
    close_temp_store(dir);
}

/* Reads of a key among the txn's newest writes (found there without the read index): the
 * newest write of the key wins, a deletion hides the stored value, another key of the same
 * prefix or column family is not taken for it, a write further back is still seen, a rolled
 * back write is not, and a prefix read gets at most its bytes. */
static void test_reads_of_recent_writes(void **state) {
    (void)state;
    char dir[] = "/tmp/tidekv-test-txn-XXXXXX";
    txn t;
    open_with_stored_key(dir, &t, "k");

    txn_put(&t, 0, "k", 1, "first", 5);
    txn_put(&t, 0, "k", 1, "second", 6);
    assert_true(txn_sees(&t, "k", "second"));
    txn_put(&t, 0, "kk", 2, "longer", 6);
    txn_put(&t, 1, "k", 1, "other cf", 8);
    assert_true(txn_sees(&t, "k", "second"));
    txn_delete(&t, 0, "k", 1);
    assert_false(txn_sees(&t, "k", NULL));
    for (int i = 0; i < 8; i++) txn_put(&t, 0, "filler", 6, "x", 1); /* the deletion is far back now */
    assert_false(txn_sees(&t, "k", NULL));
    txn_mark before;
    txn_savepoint(&t, &before);
    txn_put(&t, 0, "k", 1, "rolled back", 11);
    txn_rollback(&t, &before);
    assert_false(txn_sees(&t, "k", NULL));
    txn_put(&t, 0, "k", 1, "third", 5);
    buf out;
    buf_init(&out);
    assert_int_equal(txn_get_prefix(&t, 0, "k", 1, 3, &out), 1);
    assert_int_equal(out.len, 3);
    assert_memory_equal(out.data, "thi", 3);
    buf_free(&out);
    txn_free(&t);
    close_temp_store(dir);
}

/* The recording check (txn_wrote_unrecorded): writes since the mark with no change record
 * added with them are caught, in the commit being gathered or in one sealed since the mark;
 * a command that wrote nothing, recorded what it wrote, or was rolled back is not. */
static void test_writes_without_a_record_are_caught(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    txn_mark m;
    txn_savepoint(&t, &m);
    assert_false(txn_wrote_unrecorded(&t, &m)); /* wrote nothing */
    txn_put(&t, 0, "a", 1, "1", 1);
    assert_true(txn_wrote_unrecorded(&t, &m));
    record_set(&t, "a", "1");
    assert_false(txn_wrote_unrecorded(&t, &m));
    /* The next command (MULTI): the first one's record does not cover its write. */
    txn_savepoint(&t, &m);
    txn_delete(&t, 0, "b", 1);
    assert_true(txn_wrote_unrecorded(&t, &m));
    txn_rollback(&t, &m);
    assert_false(txn_wrote_unrecorded(&t, &m));
    /* A command that seals commits of its own (APPLYBATCH): each needs its record. */
    txn_savepoint(&t, &m);
    txn_put(&t, 0, "c", 1, "1", 1);
    record_set(&t, "c", "1");
    txn_seal(&t);
    assert_false(txn_wrote_unrecorded(&t, &m));
    txn_put(&t, 0, "d", 1, "1", 1);
    assert_true(txn_wrote_unrecorded(&t, &m)); /* the commit being gathered has no record */
    txn_seal(&t);
    assert_true(txn_wrote_unrecorded(&t, &m)); /* nor had it once sealed */
    /* A commit whose record is whole with no command (APPLYBATCH of writes without effect). */
    txn_savepoint(&t, &m);
    txn_put(&t, 0, "f", 1, "1", 1);
    txn_record_described(&t);
    txn_seal(&t);
    assert_false(txn_wrote_unrecorded(&t, &m));
    /* A write group: the next command begins after a seal. */
    txn_savepoint(&t, &m);
    assert_false(txn_wrote_unrecorded(&t, &m));
    txn_put(&t, 0, "e", 1, "1", 1);
    record_set(&t, "e", "1");
    assert_false(txn_wrote_unrecorded(&t, &m));
    txn_free(&t);
}

/* What the events hook was last given. */
static char published[64];
static size_t published_len;
static int publishes;

static void on_events(const char *events, size_t len) {
    assert_true(len <= sizeof(published));
    memcpy(published, events, len);
    published_len = len;
    publishes++;
}

/* Keyspace notifications ride the txn: a rollback drops those of the commands it undoes, a
 * commit publishes the rest after writing, one that writes nothing too, a failed one none. */
static void test_events_follow_the_commit(void **state) {
    (void)state;
    char dir[] = "/tmp/tidekv-test-txn-XXXXXX";
    open_temp_store(dir);
    char *err = NULL;
    txn_set_events_hook(on_events);
    txn t;
    txn_init(&t);
    record_set(&t, "a", "1");
    txn_put(&t, 0, "a", 1, "1", 1);
    txn_add_event(&t, "first", 5);
    txn_mark m;
    txn_savepoint(&t, &m);
    txn_add_event(&t, "undone", 6);
    txn_rollback(&t, &m);
    txn_add_event(&t, "second", 6);
    assert_int_equal(publishes, 0); /* nothing before the commit */
    assert_int_equal(txn_commit(&t, &err), 0);
    assert_int_equal(publishes, 1);
    assert_int_equal(published_len, 11);
    assert_memory_equal(published, "firstsecond", 11);

    txn_add_event(&t, "nowrite", 7); /* a command that notifies without writing */
    assert_int_equal(txn_commit(&t, &err), 0);
    assert_int_equal(publishes, 2);
    assert_memory_equal(published, "nowrite", 7);

    assert_int_equal(txn_commit(&t, &err), 0); /* the commit emptied the txn: nothing again */
    assert_int_equal(publishes, 2);
    txn_set_events_hook(NULL);
    txn_free(&t);
    close_temp_store(dir);
}

/* ---- keys replaced by another type ---- */

static buf committed; /* the last batch the commit hook was given */

static void on_commit(const char *batch, size_t len) {
    buf_clear(&committed);
    buf_append(&committed, batch, len);
}

/* A command writing one key's metadata (a string, or an empty hash's that counts: a stream
 * would do, a hash with a size of 1 is simpler) and recording itself, as a handler does. */
static void write_key(txn *t, int db, const char *key, enum key_type type, const char *name) {
    txn_command_begins(t);
    buf mk, v;
    buf_init(&mk);
    buf_init(&v);
    enc_meta_key(&mk, db, key, strlen(key));
    if (type == TYPE_STRING) {
        enc_string_meta(&v, 0, "v", 1);
    } else {
        meta m = {.type = type, .version = 1, .size = 1};
        enc_compound_meta(&v, &m);
    }
    txn_put(t, CF_METADATA, mk.data, mk.len, v.data, v.len);
    const char *argv[] = {name, key};
    size_t lens[] = {strlen(name), strlen(key)};
    txn_record(t, db, (uint8_t)type, 2, argv, lens);
    buf_free(&mk);
    buf_free(&v);
}

/* The commands of each commit of the last batch committed, as "TYPE:ARG ARG…" lines. */
static void committed_commands(buf *out) {
    wal_batch whole = {1, 0, committed.data, committed.len};
    batch_reader r;
    assert_int_equal(batch_reader_init(&r, committed.data, committed.len), 0);
    whole.count = r.count;
    commit_split cs;
    assert_int_equal(commit_split_init(&cs, &whole), 0);
    wal_batch b;
    while (commit_split_next(&cs, &b) == 1) {
        batch_reader br;
        batch_record rec;
        assert_int_equal(batch_reader_init(&br, b.data, b.len), 0);
        assert_int_equal(batch_reader_next(&br, &rec), 1);
        record d;
        assert_int_equal(record_decode(rec.key.ptr, rec.key.len, &d), 0);
        buf_printf(out, "db%u|", d.db);
        for (size_t i = 0; i < d.ncmds; i++) {
            buf_printf(out, "%u:", d.cmds[i].type);
            for (size_t a = 0; a < d.cmds[i].argc; a++)
                buf_printf(out, "%s%.*s", a ? " " : "", (int)d.cmds[i].argv[a].len, d.cmds[i].argv[a].ptr);
            buf_append_str(out, ";");
        }
        buf_append_str(out, "\n");
        record_free(&d);
    }
    commit_split_free(&cs);
    buf_append_byte(out, 0);
}

static void expect_committed(const char *want) {
    buf got;
    buf_init(&got);
    committed_commands(&got);
    assert_string_equal(got.data, want);
    buf_free(&got);
}

/* A write replacing a key of another type gets a DEL of the key typed with the old type where
 * its command begins (a lone command's commit, or after the commands before it in one commit);
 * a write over the same type (a bitmap is a string) or a new key gets none, nor does a key
 * its own command deleted first (a STORE, which records that DEL itself), nor a commit recorded
 * whole (APPLYBATCH). */
static void test_replaced_keys_are_deleted_by_their_old_type(void **state) {
    (void)state;
    char dir[] = "/tmp/tidekv-test-txn-XXXXXX";
    open_temp_store(dir);
    assert_int_equal(keycount_load(2), 0);
    char *err = NULL;
    txn t;
    txn_init(&t);
    write_key(&t, 0, "h", TYPE_HASH, "HSET");
    write_key(&t, 0, "s", TYPE_STRING, "SET");
    write_key(&t, 1, "z", TYPE_ZSET, "ZADD");
    write_key(&t, 0, "b", TYPE_BITMAP, "SETBIT");
    write_key(&t, 0, "d", TYPE_LIST, "RPUSH");
    write_key(&t, 0, "a", TYPE_SET, "SADD");
    assert_int_equal(txn_commit(&t, &err), 0);
    txn_set_commit_hook(on_commit);

    write_key(&t, 0, "h", TYPE_STRING, "SET"); /* a write group: a lone command's commit */
    txn_seal(&t);
    write_key(&t, 0, "s", TYPE_STRING, "SET");   /* same type */
    write_key(&t, 0, "new", TYPE_STRING, "SET"); /* no key before */
    write_key(&t, 0, "b", TYPE_STRING, "SET");   /* a bitmap is a string */
    write_key(&t, 1, "z", TYPE_STRING, "SET");   /* after commands, in another database */
    write_key(&t, 1, "z", TYPE_LIST, "RPUSH");   /* over the string this commit wrote */
    txn_seal(&t);
    txn_command_begins(&t); /* a STORE: deletes and records DEL itself, then writes */
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, 0, "d", 1);
    txn_delete(&t, CF_METADATA, mk.data, mk.len);
    txn_record(&t, 0, TYPE_LIST, 2, (const char *[]){"DEL", "d"}, (const size_t[]){3, 1});
    write_key(&t, 0, "d", TYPE_ZSET, "ZADD");
    txn_seal(&t);
    write_key(&t, 0, "a", TYPE_STRING, "SET"); /* recorded whole: left alone */
    txn_record_described(&t);
    assert_int_equal(txn_commit(&t, &err), 0);
    expect_committed("db0|2:DEL h;1:SET h;\n"
                     "db0|1:SET s;1:SET new;1:SET b;0:SELECT 1;5:DEL z;0:SELECT 0;0:SELECT 1;1:SET z;"
                     "1:DEL z;3:RPUSH z;\n"
                     "db0|3:DEL d;5:ZADD d;\n"
                     "db0|1:SET a;\n");
    buf_free(&mk);
    txn_set_commit_hook(NULL);
    txn_free(&t);
    keycount_free();
    close_temp_store(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_commit),
        cmocka_unit_test(test_big_arguments_refer_to_their_puts),
        cmocka_unit_test(test_references_stay_within_their_commit),
        cmocka_unit_test(test_sealed_commits_share_a_batch),
        cmocka_unit_test(test_reads_see_own_writes_and_range_deletions),
        cmocka_unit_test(test_reads_of_recent_writes),
        cmocka_unit_test(test_writes_without_a_record_are_caught),
        cmocka_unit_test(test_events_follow_the_commit),
        cmocka_unit_test(test_replaced_keys_are_deleted_by_their_old_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
