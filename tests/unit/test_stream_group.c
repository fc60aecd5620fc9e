/* Unit tests for streams' consumer groups (src/types/stream_group.h): the record and subkey
 * encodings (names sort bytewise, escapes), and groups, deliveries, acks and claims through
 * txns on a database in a temporary directory. */
#include <rocksdb/c.h>

#include "store_fixture.h"
#include "type_fixture.h"
#include "types/stream_group.h"

#define ID(ms, seq) ((stream_id){(ms), (seq)})

static slice sl(const char *s) { return (slice){(char *)s, strlen(s)}; }

static void test_record_encodings(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    sg_group g = {ID(5, 6), -1, 7, 8}, g2;
    sg_group_encode(&b, &g);
    assert_int_equal(b.len, SG_GROUP_BYTES);
    assert_int_equal(sg_group_decode(b.data, b.len, &g2), 0);
    assert_true(g2.last_id.ms == 5 && g2.last_id.seq == 6 && g2.entries_read == -1 && g2.pending == 7 &&
                g2.consumers == 8);
    assert_int_equal(sg_group_decode(b.data, b.len - 1, &g2), -1);
    buf_clear(&b);
    sg_consumer c = {1234, 3}, c2;
    sg_consumer_encode(&b, &c);
    assert_int_equal(sg_consumer_decode(b.data, b.len, &c2), 0);
    assert_true(c2.seen_ms == 1234 && c2.pending == 3);
    assert_int_equal(sg_consumer_decode(b.data, b.len + 0 - 1, &c2), -1);
    buf_clear(&b);
    sg_nack n = {99, 2, sl("alice")}, n2;
    sg_nack_encode(&b, &n);
    assert_int_equal(sg_nack_decode(b.data, b.len, &n2), 0);
    assert_true(n2.delivery_ms == 99 && n2.count == 2 && n2.consumer.len == 5);
    assert_memory_equal(n2.consumer.ptr, "alice", 5);
    assert_int_equal(sg_nack_decode(b.data, 15, &n2), -1);
    buf_free(&b);
}

static void encode_sub(buf *b, uint8_t tag, slice g, slice c, stream_id id) {
    buf_clear(b);
    sg_subkey_encode(b, tag, g, c, id);
}

static void test_subkeys_round_trip_and_sort(void **state) {
    (void)state;
    buf a, b;
    buf_init(&a);
    buf_init(&b);
    sg_subkey s;
    buf_init(&s.group);
    buf_init(&s.consumer);
    slice zero_name = {"a\0b", 3};
    encode_sub(&a, SG_TAG_OWNED, zero_name, sl("c\0"), ID(1, 2));
    assert_int_equal(sg_subkey_decode(a.data, a.len, &s), 0);
    assert_int_equal(s.tag, SG_TAG_OWNED);
    assert_int_equal(s.group.len, 3);
    assert_memory_equal(s.group.data, "a\0b", 3);
    assert_int_equal(s.consumer.len, 1);
    assert_true(s.id.ms == 1 && s.id.seq == 2);
    /* Names sort bytewise, a prefix first, whatever their lengths. */
    const char *names[][2] = {{"a", "ab"}, {"a", "b"}, {"ab", "b"}, {"", "a"}};
    for (size_t i = 0; i < 4; i++) {
        encode_sub(&a, SG_TAG_GROUP, sl(names[i][0]), sl(""), ID(0, 0));
        encode_sub(&b, SG_TAG_GROUP, sl(names[i][1]), sl(""), ID(0, 0));
        assert_true(bytes_compare(a.data, a.len, b.data, b.len) < 0);
    }
    encode_sub(&a, SG_TAG_CONSUMER, sl("g"), (slice){"a", 1}, ID(0, 0));
    encode_sub(&b, SG_TAG_CONSUMER, sl("g"), (slice){"a\0", 2}, ID(0, 0));
    assert_true(bytes_compare(a.data, a.len, b.data, b.len) < 0);
    /* Malformed: unknown tag, unterminated name, bad escape, trailing bytes, short id. */
    const struct {
        const char *p;
        size_t len;
    } bad[] = {{"", 0}, {"X" "g\0\1", 4}, {"Gg", 2}, {"Gg\0", 3}, {"Gg\0\7", 4}, {"Gg\0\1x", 5}, {"Pg\0\1" "1234", 8}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sg_subkey_decode(bad[i].p, bad[i].len, &s), -1);
    buf_free(&a);
    buf_free(&b);
    buf_free(&s.group);
    buf_free(&s.consumer);
}

/* What APPLYBATCH takes of a record's value (sg_record_check): what the server writes, and
 * nothing a later command would compute an idle time, a RETRYCOUNT or a lag from wrongly. */
static int record_ok(uint8_t tag, stream_id id, const buf *v) {
    sg_subkey s = {.tag = tag, .id = id};
    return sg_record_check(&s, v->data ? v->data : "", v->len);
}

static void test_record_values_applybatch_takes(void **state) {
    (void)state;
    buf v;
    buf_init(&v);
    sg_group g = {ID(5, 6), -1, 7, 8};
    sg_group_encode(&v, &g);
    assert_int_equal(record_ok(SG_TAG_GROUP, ID(0, 0), &v), 0);
    buf_clear(&v);
    g.entries_read = -2;
    sg_group_encode(&v, &g);
    assert_int_equal(record_ok(SG_TAG_GROUP, ID(0, 0), &v), -1);
    buf_clear(&v);
    sg_consumer c = {0, 3};
    sg_consumer_encode(&v, &c);
    assert_int_equal(record_ok(SG_TAG_CONSUMER, ID(0, 0), &v), 0);
    assert_int_equal(record_ok(SG_TAG_GROUP, ID(0, 0), &v), -1); /* a consumer's size */
    buf_clear(&v);
    c.seen_ms = -1;
    sg_consumer_encode(&v, &c);
    assert_int_equal(record_ok(SG_TAG_CONSUMER, ID(0, 0), &v), -1);
    const struct {
        sg_nack n;
        stream_id id;
        int ok;
    } nacks[] = {{{0, (uint64_t)INT64_MAX, sl("")}, ID(0, 1), 0},
                 {{-1, 1, sl("c")}, ID(1, 0), -1},
                 {{1, (uint64_t)INT64_MAX + 1, sl("c")}, ID(1, 0), -1},
                 {{1, 1, sl("c")}, ID(0, 0), -1}};
    for (size_t i = 0; i < sizeof(nacks) / sizeof(nacks[0]); i++) {
        buf_clear(&v);
        sg_nack_encode(&v, &nacks[i].n);
        assert_int_equal(record_ok(SG_TAG_PEL, nacks[i].id, &v), nacks[i].ok);
    }
    buf_clear(&v);
    assert_int_equal(record_ok(SG_TAG_OWNED, ID(1, 0), &v), 0);
    buf_append(&v, "x", 1);
    assert_int_equal(record_ok(SG_TAG_OWNED, ID(1, 0), &v), -1);
    buf_free(&v);
}

static void add(txn *t, const char *key, stream_id id) {
    stream_add_args a = {0};
    a.id_given = a.seq_given = 1;
    a.id = id;
    slice items[2] = {S("f"), S("v")};
    stream_id added;
    stream_trimmed tr;
    assert_int_equal(stream_add(t, 0, key, strlen(key), &a, items, 2, &added, &tr), ST_OK);
}

static int count_entry(void *arg, stream_id id, stream_entry_reader *f, size_t n) {
    (void)id, (void)f, (void)n;
    ++*(int *)arg;
    return 0;
}

static void note_delivery(void *arg, stream_id id, const sg_nack *n, stream_id last) { (void)arg, (void)id, (void)n, (void)last; }

static void test_group_lifecycle(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    sg_group g;
    assert_int_equal(stream_group_create(&t, 0, KEY("s"), sl("g"), NULL, -1, 0, &g), ST_MISSING);
    for (uint64_t i = 1; i <= 5; i++) add(&t, "s", ID(i, 0));
    assert_int_equal(stream_group_create(&t, 0, KEY("s"), sl("g"), &ID(0, 0), -1, 0, &g), ST_OK);
    assert_int_equal(stream_group_create(&t, 0, KEY("s"), sl("g"), NULL, -1, 0, &g), ST_EXISTS);
    commit(&t);
    int served = 0;
    sg_read_hooks hooks = {&served, count_entry, note_delivery};
    sg_read_result res;
    assert_int_equal(stream_group_read(&t, 0, KEY("s"), sl("g"), sl("c1"), NULL, 3, 0, 0, &hooks, &res), ST_OK);
    assert_true(res.served && res.consumer_created && res.n == 3 && served == 3);
    assert_true(res.group.last_id.ms == 3 && res.group.entries_read == 3 && res.group.pending == 3);
    commit(&t);
    /* Acks go by id; an unknown one counts nothing. */
    stream_id ids[] = {ID(1, 0), ID(9, 0)};
    long long acked;
    assert_int_equal(stream_group_ack(&t, 0, KEY("s"), sl("g"), ids, 2, &acked), ST_OK);
    assert_int_equal(acked, 1);
    meta m;
    assert_int_equal(stream_group_get(&t, 0, KEY("s"), sl("g"), &m, &g), ST_OK);
    assert_int_equal(g.pending, 2);
    assert_int_equal(m.stream.groups, 1);
    /* The rest is read; nothing more to serve after. */
    assert_int_equal(stream_group_read(&t, 0, KEY("s"), sl("g"), sl("c1"), NULL, 0, 0, 0, &hooks, &res), ST_OK);
    assert_true(res.served && res.n == 2 && !res.consumer_created);
    assert_int_equal(stream_group_read(&t, 0, KEY("s"), sl("g"), sl("c2"), NULL, 0, 0, 0, &hooks, &res), ST_OK);
    assert_false(res.served);
    /* A reader a new entry woke is served once the last id passed the group's, entries or not. */
    assert_int_equal(stream_group_read(&t, 0, KEY("s"), sl("g"), sl("c2"), NULL, 0, 0, 1, &hooks, &res), ST_OK);
    assert_false(res.served);
    enum stream_setid_refusal refused;
    assert_int_equal(stream_set_id(&t, 0, KEY("s"), ID(9, 0), -1, NULL, &refused), ST_OK);
    assert_int_equal(stream_group_read(&t, 0, KEY("s"), sl("g"), sl("c2"), NULL, 0, 0, 0, &hooks, &res), ST_OK);
    assert_false(res.served);
    assert_int_equal(stream_group_read(&t, 0, KEY("s"), sl("g"), sl("c2"), NULL, 0, 0, 1, &hooks, &res), ST_OK);
    assert_true(res.served && res.n == 0 && res.consumer_created);
    commit(&t);
    long long pending;
    assert_int_equal(stream_consumer_delete(&t, 0, KEY("s"), sl("g"), sl("c1"), &pending), ST_OK);
    assert_int_equal(pending, 4);
    assert_int_equal(stream_group_get(&t, 0, KEY("s"), sl("g"), &m, &g), ST_OK);
    assert_true(g.pending == 0 && g.consumers == 1); /* c2 */
    int destroyed;
    assert_int_equal(stream_group_destroy(&t, 0, KEY("s"), sl("g"), &destroyed), ST_OK);
    assert_int_equal(destroyed, 1);
    assert_int_equal(stream_group_get(&t, 0, KEY("s"), sl("g"), &m, &g), ST_NO_GROUP);
    assert_int_equal(m.stream.groups, 0);
    assert_int_equal(stream_group_read(&t, 0, KEY("str"), sl("g"), sl("c"), NULL, 0, 0, 0, &hooks, &res), ST_NO_GROUP);
    commit(&t);
    txn_free(&t);
}

static int n_claimed, n_dropped, n_created;
static int on_claimed(void *arg, stream_id id, const sg_nack *n, stream_entry_reader *f, size_t nitems) {
    (void)arg, (void)id, (void)n, (void)f, (void)nitems;
    n_claimed++;
    return 0;
}
static void on_dropped(void *arg, stream_id id) { (void)arg, (void)id, n_dropped++; }
static void on_created(void *arg) { (void)arg, n_created++; }

/* XCLAIM and XAUTOCLAIM move pending entries between consumers, keeping every count true. */
static void test_claims(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    for (uint64_t i = 1; i <= 4; i++) add(&t, "c", ID(i, 0));
    sg_group g;
    assert_int_equal(stream_group_create(&t, 0, KEY("c"), sl("g"), &ID(0, 0), -1, 0, &g), ST_OK);
    int served = 0;
    sg_read_hooks rh = {&served, count_entry, note_delivery};
    sg_read_result res;
    assert_int_equal(stream_group_read(&t, 0, KEY("c"), sl("g"), sl("a"), NULL, 0, 0, 0, &rh, &res), ST_OK);
    commit(&t);
    sg_claim_hooks hooks = {NULL, on_claimed, on_dropped, on_created};
    sg_claim_args args = {sl("b"), 0, -1, -1, 0, 1, ID(0, 0)};
    stream_id ids[] = {ID(1, 0), ID(2, 0), ID(9, 0)};
    int moved;
    assert_int_equal(stream_group_claim(&t, 0, KEY("c"), sl("g"), &args, ids, 3, &hooks, &moved, &g), ST_OK);
    assert_true(n_claimed == 2 && n_dropped == 0 && n_created == 1 && !moved);
    assert_true(g.pending == 4 && g.consumers == 2);
    /* An entry deleted is dropped from the PEL; the cursor says where to go on. */
    stream_id del = ID(3, 0);
    long long deleted;
    assert_int_equal(stream_delete(&t, 0, KEY("c"), &del, 1, on_dropped, NULL, &deleted), ST_OK);
    n_dropped = 0;
    stream_id next;
    args.consumer = sl("b");
    assert_int_equal(stream_group_autoclaim(&t, 0, KEY("c"), sl("g"), &args, ID(3, 0), 1, &hooks, &next), ST_OK);
    assert_true(n_dropped == 1 && next.ms == 4);
    meta m;
    assert_int_equal(stream_group_get(&t, 0, KEY("c"), sl("g"), &m, &g), ST_OK);
    assert_int_equal(g.pending, 3);
    long long pending;
    assert_int_equal(stream_consumer_delete(&t, 0, KEY("c"), sl("g"), sl("a"), &pending), ST_OK);
    assert_int_equal(pending, 1); /* 4-0: a's last */
    assert_int_equal(stream_consumer_delete(&t, 0, KEY("c"), sl("g"), sl("b"), &pending), ST_OK);
    assert_int_equal(pending, 2);
    assert_int_equal(stream_group_get(&t, 0, KEY("c"), sl("g"), &m, &g), ST_OK);
    assert_true(g.pending == 0 && g.consumers == 0);
    commit(&t);
    txn_free(&t);
}

static void test_lag_rules(void **state) {
    (void)state;
    meta m = {0};
    m.type = TYPE_STREAM;
    sg_group g = {ID(0, 0), -1, 0, 0};
    long long lag;
    assert_int_equal(stream_group_lag(&m, &g, &lag), 0);
    assert_int_equal(lag, 0); /* nothing ever added */
    m.size = 3;
    m.stream.entries_added = 3;
    m.stream.last_generated = m.stream.last = ID(3, 0);
    m.stream.first = m.stream.recorded_first = ID(1, 0);
    assert_int_equal(stream_group_lag(&m, &g, &lag), 0);
    assert_int_equal(lag, 3);
    g.last_id = ID(3, 0);
    assert_int_equal(stream_group_lag(&m, &g, &lag), 0);
    assert_int_equal(lag, 0);
    m.stream.max_deleted = ID(2, 0); /* a tombstone ahead of 1-5: unknown */
    g.last_id = ID(1, 5);
    assert_int_equal(stream_group_lag(&m, &g, &lag), -1);
}

/* A data directory made before the stream_group column family existed opens with it added,
 * under its documented id (raw batches name families by id). */
static void test_old_data_dir_opens(void **state) {
    (void)state;
    char dir[] = "/tmp/tidekv-unit-oldcfs-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char *old_names[] = {"default", "metadata", "zset_score", "pubsub",
                                      "propagate", "stream", "search", "expire"};
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    const rocksdb_options_t *cf_opts[8];
    rocksdb_column_family_handle_t *cfs[8];
    for (int i = 0; i < 8; i++) cf_opts[i] = o;
    char *err = NULL;
    rocksdb_t *db = rocksdb_open_column_families(o, dir, 8, old_names, cf_opts, cfs, &err);
    assert_null(err);
    for (int i = 0; i < 8; i++) rocksdb_column_family_handle_destroy(cfs[i]);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    store_settings s = {.dir = dir, .block_cache_bytes = 8 << 20, .write_buffer_bytes = 4 << 20, .min_blob_size = -1};
    assert_int_equal(store_open(&s, &err), 0);
    assert_int_equal(rocksdb_column_family_handle_get_id(store_cf(CF_STREAM_GROUP)), CF_STREAM_GROUP);
    txn t;
    txn_init(&t);
    add(&t, "s", ID(1, 0));
    sg_group g;
    assert_int_equal(stream_group_create(&t, 0, KEY("s"), sl("g"), NULL, -1, 0, &g), ST_OK);
    commit(&t);
    meta m;
    assert_int_equal(stream_group_get(&t, 0, KEY("s"), sl("g"), &m, &g), ST_OK);
    txn_free(&t);
    store_close();
    char cmd[80];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest upgrade[] = {cmocka_unit_test(test_old_data_dir_opens)};
    int failed = cmocka_run_group_tests(upgrade, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_encodings),
        cmocka_unit_test(test_subkeys_round_trip_and_sort),
        cmocka_unit_test(test_record_values_applybatch_takes),
        cmocka_unit_test(test_group_lifecycle),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_lag_rules),
    };
    return failed + cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
