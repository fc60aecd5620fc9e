/* Unit tests for the stream type (src/types/stream.h): id parsing and formatting as Redis 7
 * reads ids, the entry value and metadata encodings, and XADD / XTRIM / XDEL / XRANGE through
 * txns on a database in a temporary directory. */
#include "store_fixture.h"
#include "type_fixture.h"
#include "types/stream.h"

#define ID(ms, seq) ((stream_id){(ms), (seq)})
#define U64_MAX_TEXT "18446744073709551615"

static void assert_id(stream_id got, uint64_t ms, uint64_t seq) {
    assert_true(got.ms == ms);
    assert_true(got.seq == seq);
}

/* Parses text (a C string) non-strict with missing seq 7 and no "ms-*". */
static int parse(const char *text, stream_id *id) { return stream_id_parse(text, strlen(text), 7, 0, NULL, id); }

static void test_id_parse(void **state) {
    (void)state;
    stream_id id;
    assert_int_equal(parse("1-2", &id), 0);
    assert_id(id, 1, 2);
    assert_int_equal(parse("15", &id), 0);
    assert_id(id, 15, 7); /* the missing seq */
    assert_int_equal(parse("007-010", &id), 0); /* leading zeros, as Redis's strtoull */
    assert_id(id, 7, 10);
    assert_int_equal(parse(U64_MAX_TEXT "-" U64_MAX_TEXT, &id), 0);
    assert_id(id, UINT64_MAX, UINT64_MAX);
    assert_int_equal(parse("-", &id), 0);
    assert_id(id, 0, 0);
    assert_int_equal(parse("+", &id), 0);
    assert_id(id, UINT64_MAX, UINT64_MAX);
    const char *invalid[] = {"", "18446744073709551616", "1-18446744073709551616", "1-", "-1", "1-2-3", "a", "1-a",
                             "1-*", "*", "1 ", "1.5", "++", "--", "0x10", "1--3", "1-+-3", "1- ", "1-+",
                             "1-" U64_MAX_TEXT "0", "1- -18446744073709551616"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) assert_int_equal(parse(invalid[i], &id), -1);
    /* Each part as strtoull reads it, after Redis has refused a strictly written negative. */
    assert_int_equal(parse(" 5-0", &id), 0);
    assert_id(id, 5, 0);
    assert_int_equal(parse("+6-\t+2", &id), 0);
    assert_id(id, 6, 2);
    assert_int_equal(parse("9- -3", &id), 0);
    assert_id(id, 9, UINT64_MAX - 2);
    assert_int_equal(parse("9--0", &id), 0); /* not strict: "-0" */
    assert_id(id, 9, 0);
    assert_int_equal(parse("9--007", &id), 0); /* not strict: a leading zero */
    assert_id(id, 9, UINT64_MAX - 6);
    assert_int_equal(parse("9--9223372036854775808", &id), -1); /* LLONG_MIN: strict */
    assert_int_equal(parse("9--9223372036854775809", &id), 0); /* below it: strtoull's */
    assert_id(id, 9, 9223372036854775807ULL);
    /* Strict: no "-" or "+". */
    assert_int_equal(stream_id_parse("-", 1, 0, 1, NULL, &id), -1);
    assert_int_equal(stream_id_parse("+", 1, 0, 1, NULL, &id), -1);
    /* "ms-*" only where a seq_given is asked for. */
    int seq_given = -1;
    assert_int_equal(stream_id_parse("5-*", 3, 0, 1, &seq_given, &id), 0);
    assert_int_equal(seq_given, 0);
    assert_id(id, 5, 0);
    assert_int_equal(stream_id_parse("5-3", 3, 0, 1, &seq_given, &id), 0);
    assert_int_equal(seq_given, 1);
    assert_int_equal(stream_id_parse("5", 1, 0, 1, &seq_given, &id), 0);
    assert_int_equal(seq_given, 1);
    assert_id(id, 5, 0);
    assert_int_equal(stream_id_parse("5-**", 4, 0, 1, &seq_given, &id), -1);
    /* An argument longer than Redis's 127-byte buffer is no id, leading zeros or not. */
    char longer[130];
    memset(longer, '0', sizeof(longer));
    longer[127] = '1';
    assert_int_equal(stream_id_parse(longer, 127, 0, 0, NULL, &id), 0);
    assert_int_equal(stream_id_parse(longer, 128, 0, 0, NULL, &id), -1);
    /* Bytes past the length are not read: "12" of "123". */
    assert_int_equal(stream_id_parse("123", 2, 0, 0, NULL, &id), 0);
    assert_id(id, 12, 0);
}

static void test_id_format_and_steps(void **state) {
    (void)state;
    char text[STREAM_ID_TEXT_MAX];
    assert_int_equal(stream_id_format(text, ID(0, 0)), 3);
    assert_string_equal(text, "0-0");
    assert_int_equal(stream_id_format(text, STREAM_ID_MAX), 41);
    assert_string_equal(text, U64_MAX_TEXT "-" U64_MAX_TEXT);
    stream_id id = ID(3, UINT64_MAX);
    assert_int_equal(stream_id_incr(&id), 0);
    assert_id(id, 4, 0);
    assert_int_equal(stream_id_decr(&id), 0);
    assert_id(id, 3, UINT64_MAX);
    id = STREAM_ID_MAX;
    assert_int_equal(stream_id_incr(&id), -1);
    id = ID(0, 0);
    assert_int_equal(stream_id_decr(&id), -1);
    assert_true(stream_id_compare(ID(1, 5), ID(2, 0)) < 0);
    assert_true(stream_id_compare(ID(2, 1), ID(2, 0)) > 0);
    assert_int_equal(stream_id_compare(ID(2, 1), ID(2, 1)), 0);
}

static int bound(const char *text, int is_end, stream_id *id) {
    return stream_range_bound(text, strlen(text), is_end, id);
}

static void test_range_bounds(void **state) {
    (void)state;
    stream_id id;
    assert_int_equal(bound("5", 0, &id), 0);
    assert_id(id, 5, 0);
    assert_int_equal(bound("5", 1, &id), 0);
    assert_id(id, 5, UINT64_MAX);
    assert_int_equal(bound("(5-3", 0, &id), 0);
    assert_id(id, 5, 4);
    assert_int_equal(bound("(5-0", 1, &id), 0);
    assert_id(id, 4, UINT64_MAX);
    assert_int_equal(bound("(5", 0, &id), 0); /* 5-0 excluded */
    assert_id(id, 5, 1);
    assert_int_equal(bound("-", 0, &id), 0);
    assert_id(id, 0, 0);
    assert_int_equal(bound("+", 1, &id), 0);
    assert_id(id, UINT64_MAX, UINT64_MAX);
    assert_int_equal(bound("(", 0, &id), STREAM_BOUND_INVALID);
    assert_int_equal(bound("(-", 0, &id), STREAM_BOUND_INVALID); /* exclusive bounds are strict */
    assert_int_equal(bound("(+", 1, &id), STREAM_BOUND_INVALID);
    assert_int_equal(bound("x", 1, &id), STREAM_BOUND_INVALID);
    assert_int_equal(bound("(" U64_MAX_TEXT "-" U64_MAX_TEXT, 0, &id), STREAM_BOUND_NO_STEP);
    assert_int_equal(bound("(0-0", 1, &id), STREAM_BOUND_NO_STEP);
}

static void test_entry_encoding(void **state) {
    (void)state;
    char big[300];
    memset(big, 'x', sizeof(big));
    slice items[] = {S("f"), S(""), {big, sizeof(big)}, S("v")};
    buf v;
    buf_init(&v);
    stream_entry_encode(&v, items, 4);
    /* Varint32 lengths: 300 takes two bytes (AC 02). */
    assert_int_equal(v.len, 1 + 1 + 1 + 2 + 300 + 1 + 1);
    assert_memory_equal(v.data, "\x01" "f" "\x00" "\xac\x02", 5);
    size_t n = 0;
    assert_int_equal(stream_entry_check(v.data, v.len, &n), 0);
    assert_int_equal(n, 4);
    stream_entry_reader r;
    stream_entry_reader_init(&r, v.data, v.len);
    const char *s;
    size_t len;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(stream_entry_next(&r, &s, &len), 1);
        assert_int_equal(len, items[i].len);
        if (len) assert_memory_equal(s, items[i].ptr, len);
    }
    assert_int_equal(stream_entry_next(&r, &s, &len), 0);
    /* Malformed: cut short, an odd count, none, a varint past 5 bytes or UINT32_MAX. */
    assert_int_equal(stream_entry_check(v.data, v.len - 1, &n), -1);
    assert_int_equal(stream_entry_check(v.data, 2, &n), -1);
    assert_int_equal(stream_entry_check("", 0, &n), -1);
    assert_int_equal(stream_entry_check("\x80\x80\x80\x80\x80\x00", 6, &n), -1);
    assert_int_equal(stream_entry_check("\xff\xff\xff\xff\x1f", 5, &n), -1);
    assert_int_equal(stream_entry_check("\x00\x00", 2, &n), 0); /* two empty strings */
    buf_free(&v);
}

static void test_meta_encoding(void **state) {
    (void)state;
    meta m;
    memset(&m, 0, sizeof(m));
    m.type = TYPE_STREAM;
    m.version = 42;
    m.size = 2;
    m.stream = (stream_extras){ID(9, 1), ID(3, 0), ID(4, 4), ID(3, 0), ID(9, 1), 5, 0};
    buf raw;
    buf_init(&raw);
    enc_compound_meta(&raw, &m);
    assert_int_equal(raw.len, META_COMPOUND_HEADER + META_STREAM_EXTRAS_MAX);
    assert_int_equal(raw.len, 121);
    /* last generated id right after the header, then recorded first, max deleted, first, last */
    assert_memory_equal(raw.data + 25, "\0\0\0\0\0\0\0\x09\0\0\0\0\0\0\0\x01", 16);
    assert_memory_equal(raw.data + 25 + 5 * 16, "\0\0\0\0\0\0\0\x05", 8);
    meta back;
    assert_int_equal(enc_decode_meta(raw.data, raw.len, &back), 0);
    assert_int_equal(back.type, TYPE_STREAM);
    assert_true(back.size == 2 && back.version == 42);
    assert_memory_equal(&back.stream, &m.stream, sizeof(m.stream));
    /* Kvrocks's older form without the group count reads as 0 groups; shorter is corrupt. */
    assert_int_equal(enc_decode_meta(raw.data, raw.len - 8, &back), 0);
    assert_true(back.stream.groups == 0 && back.stream.entries_added == 5);
    assert_int_equal(enc_decode_meta(raw.data, raw.len - 9, &back), -1);
    /* An empty stream is a key; an empty hash is not. */
    m.size = 0;
    assert_int_equal(enc_meta_is_dead(&m, 1000), 0);
    m.type = TYPE_HASH;
    assert_int_equal(enc_meta_is_dead(&m, 1000), 1);
    buf_free(&raw);
}

/* ---- operations ---- */

static type_status add(txn *t, const char *key, const char *id_text, stream_id *added) {
    stream_add_args a;
    memset(&a, 0, sizeof(a));
    if (strcmp(id_text, "*") != 0) {
        assert_int_equal(stream_id_parse(id_text, strlen(id_text), 0, 1, &a.seq_given, &a.id), 0);
        a.id_given = 1;
    }
    slice items[] = {S("field"), S("value")};
    stream_trimmed tr;
    return stream_add(t, 0, key, strlen(key), &a, items, 2, added, &tr);
}

/* Collects visited ids as "ms-seq ". */
static int collect_ids(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    (void)fields;
    assert_int_equal(nitems, 2);
    char text[STREAM_ID_TEXT_MAX];
    buf_append(arg, text, stream_id_format(text, id));
    buf_append(arg, " ", 1);
    return 0;
}

static void assert_range(txn *t, const char *key, stream_id start, stream_id end, long long count, int rev,
                         const char *want) {
    buf got;
    buf_init(&got);
    long long n;
    type_status st = stream_range(t, 0, key, strlen(key), start, end, count, rev, collect_ids, &got, &n);
    assert_int_equal(st, strcmp(key, "nokey") == 0 ? ST_MISSING : ST_OK);
    assert_text(&got, want);
    buf_free(&got);
}

static meta meta_of(txn *t, const char *key) {
    meta m;
    assert_int_equal(stream_meta(t, 0, key, strlen(key), &m), ST_OK);
    return m;
}

static void test_add_and_range(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    stream_id id;
    assert_int_equal(add(&t, "s", "5-1", &id), ST_OK);
    assert_int_equal(add(&t, "s", "5-*", &id), ST_OK);
    assert_id(id, 5, 2);
    assert_int_equal(add(&t, "s", "5-2", &id), ST_ID_TOO_SMALL);
    assert_int_equal(add(&t, "s", "4-*", &id), ST_ID_TOO_SMALL);
    assert_int_equal(add(&t, "s", "7", &id), ST_OK);
    assert_id(id, 7, 0);
    t.now_ms = 3; /* a clock behind the last id: "*" goes on from it */
    assert_int_equal(add(&t, "s", "*", &id), ST_OK);
    assert_id(id, 7, 1);
    t.now_ms = 100;
    assert_int_equal(add(&t, "s", "*", &id), ST_OK);
    assert_id(id, 100, 0);
    commit(&t);
    long long len;
    assert_int_equal(stream_len(&t, 0, KEY("s"), &len), ST_OK);
    assert_int_equal(len, 5);
    assert_range(&t, "s", ID(0, 0), STREAM_ID_MAX, 0, 0, "5-1 5-2 7-0 7-1 100-0 ");
    assert_range(&t, "s", ID(0, 0), STREAM_ID_MAX, 0, 1, "100-0 7-1 7-0 5-2 5-1 ");
    assert_range(&t, "s", ID(5, 2), ID(7, 0), 0, 0, "5-2 7-0 ");
    assert_range(&t, "s", ID(5, 2), ID(7, 0), 0, 1, "7-0 5-2 ");
    assert_range(&t, "s", ID(0, 0), STREAM_ID_MAX, 2, 0, "5-1 5-2 ");
    assert_range(&t, "s", ID(0, 0), STREAM_ID_MAX, 2, 1, "100-0 7-1 ");
    assert_range(&t, "s", ID(7, 0), ID(6, 0), 0, 0, ""); /* start after end */
    assert_range(&t, "nokey", ID(0, 0), STREAM_ID_MAX, 0, 0, "");
    meta m = meta_of(&t, "s");
    assert_id(m.stream.first, 5, 1);
    assert_id(m.stream.recorded_first, 5, 1);
    assert_id(m.stream.last, 100, 0);
    assert_id(m.stream.last_generated, 100, 0);
    assert_true(m.stream.entries_added == 5);
    /* NOMKSTREAM: nothing for a missing key. */
    stream_add_args a;
    memset(&a, 0, sizeof(a));
    a.nomkstream = 1;
    slice items[] = {S("f"), S("v")};
    stream_trimmed tr;
    assert_int_equal(stream_add(&t, 0, KEY("nokey"), &a, items, 2, &id, &tr), ST_MISSING);
    assert_int_equal(stream_len(&t, 0, KEY("nokey"), &len), ST_MISSING);
    /* The greatest id: then nothing more, "*" or not. */
    assert_int_equal(add(&t, "top", U64_MAX_TEXT "-" U64_MAX_TEXT, &id), ST_OK);
    assert_int_equal(add(&t, "top", "*", &id), ST_ID_EXHAUSTED);
    assert_int_equal(add(&t, "top2", U64_MAX_TEXT "-5", &id), ST_OK);
    assert_int_equal(add(&t, "top2", "*", &id), ST_OK);
    assert_id(id, UINT64_MAX, 6);
    assert_int_equal(add(&t, "top3", "9-" U64_MAX_TEXT, &id), ST_OK);
    assert_int_equal(add(&t, "top3", "9-*", &id), ST_TOO_BIG);
    assert_int_equal(add(&t, "top3", "*", &id), ST_OK); /* the next ms */
    txn_free(&t);
}

static type_status trim(txn *t, const char *key, stream_trim_strategy how, long long maxlen, stream_id minid,
                        long long limit, stream_trimmed *tr) {
    stream_trim_args a = {how, maxlen, minid, limit};
    return stream_trim(t, 0, key, strlen(key), &a, tr);
}

static void fill(txn *t, const char *key, int n) {
    char text[32];
    stream_id id;
    for (int i = 1; i <= n; i++) {
        snprintf(text, sizeof(text), "%d-0", i);
        assert_int_equal(add(t, key, text, &id), ST_OK);
    }
    commit(t);
}

static void test_trim(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    fill(&t, "t", 600); /* more than a trim deletes in one batch */
    stream_trimmed tr;
    assert_int_equal(trim(&t, "t", STREAM_TRIM_MAXLEN, 700, ID(0, 0), 0, &tr), ST_OK);
    assert_int_equal(tr.removed, 0);
    assert_int_equal(trim(&t, "t", STREAM_TRIM_MAXLEN, 50, ID(0, 0), 0, &tr), ST_OK);
    assert_int_equal(tr.removed, 550);
    assert_id(tr.last_removed, 550, 0);
    assert_int_equal(trim(&t, "t", STREAM_TRIM_MINID, 0, ID(560, 0), 3, &tr), ST_OK); /* a limit */
    assert_int_equal(tr.removed, 3);
    assert_id(tr.last_removed, 553, 0);
    commit(&t);
    meta m = meta_of(&t, "t");
    assert_true(m.size == 47);
    assert_id(m.stream.first, 554, 0);
    assert_id(m.stream.recorded_first, 554, 0);
    assert_id(m.stream.max_deleted, 0, 0); /* trims are not deletions */
    assert_int_equal(trim(&t, "t", STREAM_TRIM_MINID, 0, ID(560, 0), 0, &tr), ST_OK);
    assert_int_equal(tr.removed, 6);
    assert_int_equal(trim(&t, "t", STREAM_TRIM_MINID, 0, ID(560, 0), 0, &tr), ST_OK);
    assert_int_equal(tr.removed, 0);
    assert_int_equal(trim(&t, "t", STREAM_TRIM_MAXLEN, 0, ID(0, 0), 0, &tr), ST_OK);
    assert_int_equal(tr.removed, 41);
    assert_id(tr.last_removed, 600, 0);
    commit(&t);
    /* Empty, the stream stays, with its last id. */
    m = meta_of(&t, "t");
    assert_true(m.size == 0 && m.stream.entries_added == 600);
    assert_id(m.stream.first, 0, 0);
    assert_id(m.stream.last, 0, 0);
    assert_id(m.stream.last_generated, 600, 0);
    stream_id id;
    assert_int_equal(add(&t, "t", "600-0", &id), ST_ID_TOO_SMALL);
    assert_int_equal(trim(&t, "nokey", STREAM_TRIM_MAXLEN, 0, ID(0, 0), 0, &tr), ST_MISSING);
    /* XADD with MAXLEN 0 removes what it added. */
    stream_add_args a;
    memset(&a, 0, sizeof(a));
    a.trim.strategy = STREAM_TRIM_MAXLEN;
    slice items[] = {S("f"), S("v")};
    assert_int_equal(stream_add(&t, 0, KEY("t"), &a, items, 2, &id, &tr), ST_OK);
    assert_int_equal(tr.removed, 1);
    assert_int_equal(stream_id_compare(tr.last_removed, id), 0);
    commit(&t);
    m = meta_of(&t, "t");
    assert_true(m.size == 0 && m.stream.entries_added == 601);
    txn_free(&t);
}

static void note_id(void *arg, stream_id id) {
    char text[STREAM_ID_TEXT_MAX];
    buf_append(arg, text, stream_id_format(text, id));
    buf_append(arg, " ", 1);
}

static void test_delete(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    fill(&t, "d", 5);
    stream_id ids[] = {ID(1, 0), ID(3, 0), ID(3, 0), ID(9, 9)};
    buf seen;
    buf_init(&seen);
    long long deleted;
    assert_int_equal(stream_delete(&t, 0, KEY("d"), ids, 4, note_id, &seen, &deleted), ST_OK);
    assert_int_equal(deleted, 2);
    assert_text(&seen, "1-0 3-0 ");
    commit(&t);
    meta m = meta_of(&t, "d");
    assert_true(m.size == 3);
    assert_id(m.stream.first, 2, 0);
    assert_id(m.stream.recorded_first, 2, 0);
    assert_id(m.stream.max_deleted, 3, 0);
    stream_id last[] = {ID(5, 0)};
    assert_int_equal(stream_delete(&t, 0, KEY("d"), last, 1, note_id, &seen, &deleted), ST_OK);
    commit(&t);
    m = meta_of(&t, "d");
    assert_id(m.stream.last, 4, 0);
    assert_id(m.stream.last_generated, 5, 0);
    assert_id(m.stream.max_deleted, 5, 0);
    assert_range(&t, "d", ID(0, 0), STREAM_ID_MAX, 0, 0, "2-0 4-0 ");
    stream_id rest[] = {ID(4, 0), ID(2, 0)};
    assert_int_equal(stream_delete(&t, 0, KEY("d"), rest, 2, note_id, &seen, &deleted), ST_OK);
    commit(&t);
    m = meta_of(&t, "d");
    assert_true(m.size == 0);
    assert_id(m.stream.first, 0, 0);
    assert_id(m.stream.max_deleted, 5, 0);
    assert_int_equal(stream_delete(&t, 0, KEY("nokey"), rest, 2, note_id, &seen, &deleted), ST_MISSING);
    buf_free(&seen);
    txn_free(&t);
}

static void test_set_id_and_walk(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    enum stream_setid_refusal refused;
    assert_int_equal(stream_set_id(&t, 0, KEY("nokey"), ID(1, 1), -1, NULL, &refused), ST_MISSING);
    fill(&t, "w", 4);
    assert_int_equal(stream_set_id(&t, 0, KEY("w"), ID(3, 9), -1, NULL, &refused), ST_OK);
    assert_int_equal(refused, SETID_BELOW_TOP);
    assert_int_equal(stream_set_id(&t, 0, KEY("w"), ID(9, 0), 3, NULL, &refused), ST_OK);
    assert_int_equal(refused, SETID_ENTRIES_BELOW_LENGTH);
    stream_id max_deleted = ID(2, 5);
    assert_int_equal(stream_set_id(&t, 0, KEY("w"), ID(9, 0), 40, &max_deleted, &refused), ST_OK);
    assert_int_equal(refused, SETID_DONE);
    commit(&t);
    meta m = meta_of(&t, "w");
    assert_id(m.stream.last_generated, 9, 0);
    assert_id(m.stream.max_deleted, 2, 5);
    assert_true(m.stream.entries_added == 40 && m.size == 4);
    /* A walk from an id on, as a snapshot's dump resumes one. */
    buf got;
    buf_init(&got);
    stream_id from = ID(2, 1);
    assert_int_equal(stream_walk_entries(&t, 0, KEY("w"), &m, &from, collect_ids, &got), ST_OK);
    assert_text(&got, "3-0 4-0 ");
    assert_int_equal(stream_walk_entries(&t, 0, KEY("w"), &m, NULL, collect_ids, &got), ST_OK);
    assert_text(&got, "1-0 2-0 3-0 4-0 ");
    buf_free(&got);
    txn_free(&t);
}

static void test_wrongtype_and_corrupt(void **state) {
    (void)state;
    txn t;
    txn_init(&t);
    put_wrong_keys(&t);
    for (size_t i = 0; i < 2; i++) {
        const char *k = wrong_keys[i];
        stream_id id;
        long long n;
        stream_trimmed tr;
        assert_int_equal(add(&t, k, "1-1", &id), wrong_key_status[i]);
        assert_int_equal(stream_len(&t, 0, k, strlen(k), &n), wrong_key_status[i]);
        assert_int_equal(trim(&t, k, STREAM_TRIM_MAXLEN, 0, ID(0, 0), 0, &tr), wrong_key_status[i]);
        assert_int_equal(stream_delete(&t, 0, k, strlen(k), &id, 1, note_id, NULL, &n), wrong_key_status[i]);
        assert_int_equal(stream_range(&t, 0, k, strlen(k), ID(0, 0), STREAM_ID_MAX, 0, 0, collect_ids, NULL, &n),
                         wrong_key_status[i]);
    }
    /* An entry whose value does not decode. */
    fill(&t, "c", 2);
    meta m = meta_of(&t, "c");
    buf k;
    buf_init(&k);
    uint8_t idb[16] = {0};
    idb[7] = 2;
    enc_subkey(&k, 0, KEY("c"), m.version, (const char *)idb, 16);
    txn_put(&t, CF_STREAM, k.data, k.len, "\x05" "ab", 3);
    commit(&t);
    long long n;
    assert_int_equal(stream_range(&t, 0, KEY("c"), ID(2, 0), STREAM_ID_MAX, 0, 0, collect_ids, NULL, &n), ST_CORRUPT);
    buf_free(&k);
    txn_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_parse),
        cmocka_unit_test(test_id_format_and_steps),
        cmocka_unit_test(test_range_bounds),
        cmocka_unit_test(test_entry_encoding),
        cmocka_unit_test(test_meta_encoding),
        cmocka_unit_test(test_add_and_range),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_set_id_and_walk),
        cmocka_unit_test(test_wrongtype_and_corrupt),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
