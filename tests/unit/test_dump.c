/* Unit tests for snapshot dumps (src/types/dump.h): the cursor's encoding and its checks, and
 * the commands that rebuild each type, from a snapshot taken before later writes, in pieces of
 * at most COUNT elements, resumed through the cursor, with filters. */
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
#include "types/dump.h"
#include "types/keyspace.h"
#include "types/list.h"
#include "types/string.h"
#include "types/zset.h"
#include "util/timeutil.h"

#define KEY(k) (k), strlen(k)
#define DATABASES 16

/* ---- cursors ---- */

static void roundtrip(int db, const char *key, size_t klen, int in_key, const char *member, size_t mlen) {
    dump_pos p, q;
    dump_pos_init(&p);
    dump_pos_init(&q);
    p.db = db;
    buf_append(&p.key, key, klen);
    p.in_key = in_key;
    buf_append(&p.member, member, mlen);
    buf cur;
    buf_init(&cur);
    dump_cursor_encode(&p, &cur);
    assert_int_equal(dump_cursor_decode(cur.data, cur.len, DATABASES, &q), 0);
    assert_int_equal(q.db, db);
    assert_int_equal(q.in_key, in_key);
    assert_int_equal(q.key.len, klen);
    assert_int_equal(q.member.len, mlen);
    if (klen) assert_memory_equal(q.key.data, key, klen);
    if (mlen) assert_memory_equal(q.member.data, member, mlen);
    buf_free(&cur);
    dump_pos_free(&p);
    dump_pos_free(&q);
}

static void test_cursor_roundtrip(void **state) {
    (void)state;
    roundtrip(0, "", 0, 0, "", 0);
    roundtrip(0, "key", 3, 0, "", 0);
    roundtrip(15, "k\0y", 3, 1, "\x00\x01\xff", 3);
    roundtrip(3, "", 0, 1, "", 0); /* an empty key's empty member */
    roundtrip(DUMP_LIBRARIES, "lib", 3, 0, "", 0);
}

static void test_cursor_start_is_zero(void **state) {
    (void)state;
    dump_pos p;
    dump_pos_init(&p);
    buf cur;
    buf_init(&cur);
    dump_cursor_encode(&p, &cur);
    assert_int_equal(cur.len, 1);
    assert_int_equal(cur.data[0], '0');
    p.db = 5;
    assert_int_equal(dump_cursor_decode("0", 1, DATABASES, &p), 0);
    assert_int_equal(p.db, DUMP_LIBRARIES);
    assert_int_equal(p.key.len, 0);
    buf_free(&cur);
    dump_pos_free(&p);
}

static void test_cursor_rejects_malformed(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",                                /* nothing */
        "00",                              /* too short */
        "5",                               /* odd length */
        "zz000000000000000000",            /* not hex */
        "580000000000000000",              /* unknown phase 'X' */
        "530000001000000000",              /* database 16 of 16 */
        "53000000000000000161",            /* key length 1, key present: valid below */
        "53000000000000000261",            /* key length 2, one byte */
        "5300000000000000006162",          /* 'S' with a member */
        "4D000000000000000A",              /* 'M' with a key longer than the rest */
        "4C0000000000000000",              /* 'L' without a name: the start is "0" */
        "4C000000010000000161",            /* 'L' in database 1 */
        "4C00000000000000016162",          /* 'L' with a member */
    };
    dump_pos p;
    dump_pos_init(&p);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int want = i == 6 ? 0 : -1;
        assert_int_equal(dump_cursor_decode(bad[i], strlen(bad[i]), DATABASES, &p), want);
    }
    dump_pos_free(&p);
}

/* ---- dumps ---- */

/* What a walk produced, as text: "db:" before each key's part, commands as words joined by
 * ' ' and ended by ';', '|' after each part. */
static buf out;

static void on_begin(void *arg, int db) {
    (void)arg;
    buf_printf(&out, "%d:", db);
}

static void on_command(void *arg, size_t argc, const char *const *argv, const size_t *lens) {
    (void)arg;
    for (size_t i = 0; i < argc; i++) {
        if (i) buf_append_byte(&out, ' ');
        buf_append(&out, argv[i], lens[i]);
    }
    buf_append_byte(&out, ';');
}

static void on_end(void *arg) {
    (void)arg;
    buf_append_byte(&out, '|');
}

static const dump_sink sink = {on_begin, on_command, on_end, NULL, NULL};

/* One walk of count elements from pos through the snapshot; returns what it produced. */
static const char *walk(const store_snapshot *s, const dump_filter *f, dump_pos *pos, size_t count) {
    buf_clear(&out);
    txn t;
    txn_init_at(&t, s, time_now_ms());
    assert_int_equal(dump_walk(&t, DATABASES, f, pos, count, &sink), 0);
    txn_free(&t);
    buf_append_byte(&out, 0);
    return out.data;
}

static const dump_filter no_filter = {NULL, 0, 0, -1};

static void add_compound(txn *t, int db, const char *key, enum key_type type, const char *const *subs,
                         const char *const *vals, int n) {
    compound c;
    assert_int_equal(compound_open(&c, t, db, KEY(key), type), CK_MISSING);
    for (int i = 0; i < n; i++) compound_put(&c, KEY(subs[i]), vals ? vals[i] : "", vals ? strlen(vals[i]) : 0);
    c.m.size = (uint64_t)n;
    compound_save(&c);
    compound_free(&c);
}

static void test_every_type(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    string_put(&t, 0, KEY("a:str"), "v", 1, 0);
    string_put(&t, 0, KEY("a:ttl"), "w", 1, 4102444800000LL);
    static const char *const fields[] = {"f1", "f2"}, *const values[] = {"1", "2"};
    add_compound(&t, 0, "b:hash", TYPE_HASH, fields, values, 2);
    static const char *const members[] = {"m1", "m2"};
    add_compound(&t, 0, "c:set", TYPE_SET, members, NULL, 2);
    slice items[3] = {{"x", 1}, {"y", 1}, {"z", 1}};
    uint64_t len;
    assert_int_equal(list_push(&t, 0, KEY("d:list"), 0, 0, items, 3, &len), ST_OK);
    slice head = {"w", 1};
    assert_int_equal(list_push(&t, 0, KEY("d:list"), 1, 0, &head, 1, &len), ST_OK);
    zset_pair pairs[2] = {{0.1, {"a", 1}}, {-2.5, {"b", 1}}};
    zset_add_result zr;
    assert_int_equal(zset_add(&t, 1, KEY("e:zset"), 0, pairs, 2, NULL, NULL, &zr), ST_OK);
    store_fixture_commit(&t);

    uint64_t seq;
    store_snapshot *s = store_snapshot_take(&seq);
    /* after the snapshot: not in it */
    string_put(&t, 0, KEY("a:str"), "changed", 7, 0);
    string_put(&t, 0, KEY("a:new"), "n", 1, 0);
    store_fixture_commit(&t);
    txn_free(&t);

    dump_pos pos;
    dump_pos_init(&pos);
    assert_string_equal(walk(s, &no_filter, &pos, 100),
                        "0:DEL a:str;SET a:str v;|0:DEL a:ttl;SET a:ttl w PXAT 4102444800000;|"
                        "0:DEL b:hash;HSET b:hash f1 1 f2 2;|0:DEL c:set;SADD c:set m1 m2;|"
                        "0:DEL d:list;RPUSH d:list w x y z;|1:DEL e:zset;ZADD e:zset 0.10000000000000001 a -2.5 b;|");
    assert_int_equal(pos.db, DATABASES);

    /* Two elements per walk: pieces, resumed inside keys through the cursor. */
    dump_pos_free(&pos);
    dump_pos_init(&pos);
    const char *want[] = {
        "0:DEL a:str;SET a:str v;|0:DEL a:ttl;SET a:ttl w PXAT 4102444800000;|",
        "0:DEL b:hash;HSET b:hash f1 1 f2 2;|",
        "0:DEL c:set;SADD c:set m1 m2;|",
        "0:DEL d:list;RPUSH d:list w x;|",
        "0:RPUSH d:list y z;|",
        "1:DEL e:zset;ZADD e:zset 0.10000000000000001 a -2.5 b;|",
        "",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        buf cur;
        buf_init(&cur);
        dump_cursor_encode(&pos, &cur);
        dump_pos_free(&pos);
        dump_pos_init(&pos);
        assert_int_equal(dump_cursor_decode(cur.data, cur.len, DATABASES, &pos), 0);
        buf_free(&cur);
        assert_string_equal(walk(s, &no_filter, &pos, 2), want[i]);
    }
    assert_int_equal(pos.db, DATABASES);

    /* Filters: a glob, a type, a database. */
    dump_filter glob = {"?:s*", 4, 0, -1}, sets = {NULL, 0, TYPE_SET, -1}, db1 = {NULL, 0, 0, 1};
    dump_pos_free(&pos);
    dump_pos_init(&pos);
    assert_string_equal(walk(s, &glob, &pos, 100), "0:DEL a:str;SET a:str v;|0:DEL c:set;SADD c:set m1 m2;|");
    dump_pos_free(&pos);
    dump_pos_init(&pos);
    assert_string_equal(walk(s, &sets, &pos, 100), "0:DEL c:set;SADD c:set m1 m2;|");
    dump_pos_free(&pos);
    dump_pos_init(&pos);
    assert_string_equal(walk(s, &db1, &pos, 100), "1:DEL e:zset;ZADD e:zset 0.10000000000000001 a -2.5 b;|");
    dump_pos_free(&pos);
    store_snapshot_release(s);
}

static void test_dead_keys_left_out(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    ks_flush_db(&t, 0);
    ks_flush_db(&t, 1);
    string_put(&t, 0, KEY("old"), "v", 1, 1000); /* long expired */
    string_put(&t, 0, KEY("live"), "v", 1, 0);
    store_fixture_commit(&t);
    txn_free(&t);
    uint64_t seq;
    store_snapshot *s = store_snapshot_take(&seq);
    dump_pos pos;
    dump_pos_init(&pos);
    assert_string_equal(walk(s, &no_filter, &pos, 100), "0:DEL live;SET live v;|");
    dump_pos_free(&pos);
    store_snapshot_release(s);
}

/* Walks the whole snapshot in walks of count elements, each resumed through its cursor as a
 * client would, and puts all they produced in all. */
static void walk_all(const store_snapshot *s, const dump_filter *f, size_t count, buf *all) {
    buf_clear(all);
    dump_pos pos;
    dump_pos_init(&pos);
    for (;;) {
        const char *part = walk(s, f, &pos, count);
        buf_append(all, part, strlen(part));
        if (pos.db >= DATABASES) break;
        buf cur;
        buf_init(&cur);
        dump_cursor_encode(&pos, &cur);
        assert_int_equal(dump_cursor_decode(cur.data, cur.len, DATABASES, &pos), 0);
        buf_free(&cur);
    }
    dump_pos_free(&pos);
    buf_append_byte(all, 0);
}

/* Joins the pieces of each key that walks split: "…m2;|0:SADD k m3;|" becomes "…m2 m3;|". */
static void join_pieces(const char *text, buf *joined) {
    buf_clear(joined);
    for (const char *p = text; *p;) {
        const char *end = strstr(p, ";|"), *cmd = p + 2; /* past "<db>:" */
        assert_non_null(end);
        if (strncmp(cmd, "DEL ", 4) == 0) {
            buf_append(joined, p, (size_t)(end + 2 - p));
        } else { /* "<db>:SADD key args": the args go to the piece before */
            const char *args = strchr(strchr(cmd, ' ') + 1, ' ');
            assert_true(joined->len >= 2);
            joined->len -= 2;
            buf_append(joined, args, (size_t)(end - args));
            buf_append_str(joined, ";|");
        }
        p = end + 2;
    }
    buf_append_byte(joined, 0);
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A walk reads the members of many keys through iterators it keeps, one per key length (more
 * lengths than it keeps at once here), moved forward over the keys it skips and the subkeys
 * of older versions of a key: it must read every key's members as a walk per key would. */
static void test_many_keys_through_kept_iterators(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    ks_flush_db(&t, 0);
    ks_flush_db(&t, 1);
    store_fixture_commit(&t);
    /* 4 x 12 keys: a, ax, axx … b, bx … (key order cycles through 12 lengths), sets and
     * hashes of 1 … 5 members. */
    char *keys[48];
    int nkeys = 0;
    for (int j = 0; j < 4; j++) {
        for (int len = 1; len <= 12; len++) {
            char *key = calloc(1, 16);
            key[0] = (char)('a' + j);
            memset(key + 1, 'x', (size_t)len - 1);
            keys[nkeys++] = key;
            int n = (len + j) % 5 + 1;
            const char *subs[5] = {"m0", "m1", "m2", "m3", "m4"};
            const char *vals[5] = {"v0", "v1", "v2", "v3", "v4"};
            add_compound(&t, 0, key, j % 2 ? TYPE_HASH : TYPE_SET, subs, j % 2 ? vals : NULL, n);
        }
    }
    store_fixture_commit(&t);
    /* r:1 recreated: its first version's members stay under the old version until compacted. */
    static const char *const old_members[] = {"old1", "old2"}, *const new_members[] = {"new1"};
    static const char *const few[] = {"m1", "m2", "m3"};
    add_compound(&t, 0, "r:1", TYPE_SET, old_members, NULL, 2);
    store_fixture_commit(&t);
    ks_delete(&t, 0, KEY("r:1"));
    store_fixture_commit(&t);
    add_compound(&t, 0, "r:1", TYPE_SET, new_members, NULL, 1);
    add_compound(&t, 0, "q:1", TYPE_SET, few, NULL, 3);
    /* t:1 between s:1 and u:1 (one length): a filter that skips it moves past its members. */
    const char *many[40];
    char names[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "n%02d", i);
        many[i] = names[i];
    }
    add_compound(&t, 0, "s:1", TYPE_SET, few, NULL, 3);
    add_compound(&t, 0, "t:1", TYPE_SET, many, NULL, 40);
    add_compound(&t, 0, "u:1", TYPE_SET, few, NULL, 3);
    store_fixture_commit(&t);
    txn_free(&t);
    uint64_t seq;
    store_snapshot *s = store_snapshot_take(&seq);

    /* What a walk must produce: the keys in key order, each as DEL and one piece. */
    qsort(keys, (size_t)nkeys, sizeof(keys[0]), compare_strings);
    buf want;
    buf_init(&want);
    for (int i = 0; i < nkeys; i++) {
        int len = (int)strlen(keys[i]), j = keys[i][0] - 'a', n = (len + j) % 5 + 1;
        buf_printf(&want, "0:DEL %s;%s %s", keys[i], j % 2 ? "HSET" : "SADD", keys[i]);
        for (int m = 0; m < n; m++) {
            if (j % 2) buf_printf(&want, " m%d v%d", m, m);
            else buf_printf(&want, " m%d", m);
        }
        buf_append_str(&want, ";|");
        free(keys[i]);
    }
    buf_append_str(&want, "0:DEL q:1;SADD q:1 m1 m2 m3;|0:DEL r:1;SADD r:1 new1;|0:DEL s:1;SADD s:1 m1 m2 m3;|");
    buf_append_str(&want, "0:DEL t:1;SADD t:1");
    for (int i = 0; i < 40; i++) buf_printf(&want, " n%02d", i);
    buf_append_str(&want, ";|0:DEL u:1;SADD u:1 m1 m2 m3;|");
    buf_append_byte(&want, 0);
    buf got, joined;
    buf_init(&got);
    buf_init(&joined);
    walk_all(s, &no_filter, 10000, &got);
    assert_string_equal(got.data, want.data);
    /* In walks of 7 elements: the same commands once the pieces are joined. */
    walk_all(s, &no_filter, 7, &got);
    assert_non_null(strstr(got.data, ";|0:SADD t:1 "));
    join_pieces(got.data, &joined);
    assert_string_equal(joined.data, want.data);
    dump_filter su = {"[su]:1", 6, 0, -1};
    walk_all(s, &su, 10000, &got);
    assert_string_equal(got.data, "0:DEL s:1;SADD s:1 m1 m2 m3;|0:DEL u:1;SADD u:1 m1 m2 m3;|");
    buf_free(&got);
    buf_free(&joined);
    buf_free(&want);
    store_snapshot_release(s);
}

int main(void) {
    buf_init(&out);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_roundtrip),
        cmocka_unit_test(test_cursor_start_is_zero),
        cmocka_unit_test(test_cursor_rejects_malformed),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_dead_keys_left_out),
        cmocka_unit_test(test_many_keys_through_kept_iterators),
    };
    int rc = cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
    buf_free(&out);
    return rc;
}
