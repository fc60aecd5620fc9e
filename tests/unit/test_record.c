/* Unit tests for the change record encoder/decoder (src/cdc/record.h, spec: shared/CDC.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cdc/record.h"
#include "storage/encoding.h"

#define TIME_MS 1700000000123LL

/* Adds a command given as NUL-free C strings. */
static void add_strs(record_writer *w, int db, uint8_t type, int argc, const char *const *argv) {
    size_t lens[16];
    assert_true(argc <= 16);
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    record_writer_add(w, db, type, argc, argv, lens);
}

static void expect_arg(const record *r, size_t cmd, size_t arg, const char *want, size_t len) {
    assert_true(cmd < r->ncmds);
    assert_true(arg < r->cmds[cmd].argc);
    assert_int_equal(r->cmds[cmd].argv[arg].len, len);
    if (len) assert_memory_equal(r->cmds[cmd].argv[arg].ptr, want, len);
}

#define EXPECT_ARG(r, c, a, lit) expect_arg((r), (c), (a), (lit), sizeof(lit) - 1)

/* A small record with several commands, binary and empty arguments. */
static void build_sample(buf *out, int db) {
    record_writer w;
    record_writer_init(&w);
    const char *set[] = {"SET", "foo", "bar"};
    add_strs(&w, db, TYPE_STRING, 3, set);
    const char *bin[] = {"HSET", "h\0k", "", "\xff\x00\xfe"};
    const size_t binlen[] = {4, 3, 0, 3};
    record_writer_add(&w, db, TYPE_HASH, 4, bin, binlen);
    const char *del[] = {"DEL"};
    add_strs(&w, db, TYPE_NONE, 1, del);
    record_writer_finish(&w, TIME_MS, out);
    record_writer_free(&w);
}

static void test_round_trip(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_sample(&b, 5);
    /* Header: magic, version, time (big-endian), db and count varints. */
    assert_memory_equal(b.data, "TK\x01", 3);
    assert_memory_equal(b.data + 3, "\x00\x00\x01\x8b\xcf\xe5\x68\x7b", 8);
    assert_int_equal((uint8_t)b.data[11], 5);
    assert_int_equal((uint8_t)b.data[12], 3);
    /* First command: type, argc 3, then "SET" "foo" "bar" with length prefixes. */
    assert_memory_equal(b.data + 13, "\x01\x03\x03SET\x03" "foo\x03" "bar", 14);

    record r;
    assert_int_equal(record_decode(b.data, b.len, &r), 0);
    assert_int_equal(r.version, RECORD_VERSION);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.time_ms, TIME_MS);
    assert_int_equal(r.db, 5);
    assert_int_equal(r.ncmds, 3);
    assert_int_equal(r.cmds[0].type, TYPE_STRING);
    assert_int_equal(r.cmds[0].argc, 3);
    EXPECT_ARG(&r, 0, 0, "SET");
    EXPECT_ARG(&r, 0, 1, "foo");
    EXPECT_ARG(&r, 0, 2, "bar");
    assert_int_equal(r.cmds[1].type, TYPE_HASH);
    assert_int_equal(r.cmds[1].argc, 4);
    EXPECT_ARG(&r, 1, 0, "HSET");
    EXPECT_ARG(&r, 1, 1, "h\0k");
    EXPECT_ARG(&r, 1, 2, "");
    EXPECT_ARG(&r, 1, 3, "\xff\x00\xfe");
    assert_int_equal(r.cmds[2].type, TYPE_NONE);
    assert_int_equal(r.cmds[2].argc, 1);
    EXPECT_ARG(&r, 2, 0, "DEL");
    /* Arguments point into the blob. */
    assert_true(r.cmds[0].argv[0].ptr >= b.data && r.cmds[0].argv[0].ptr < b.data + b.len);
    record_free(&r);
    assert_null(r.cmds);
    assert_int_equal(r.ncmds, 0);
    buf_free(&b);
}

static void test_large_db_and_time(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    const char *ping[] = {"SELECT", "300"};
    add_strs(&w, 300, TYPE_NONE, 2, ping);
    buf b;
    buf_init(&b);
    record_writer_finish(&w, 0x7FFFFFFFFFFFFFFFLL, &b);
    /* 300 as a varint is AC 02. */
    assert_int_equal((uint8_t)b.data[11], 0xAC);
    assert_int_equal((uint8_t)b.data[12], 0x02);
    record r;
    assert_int_equal(record_decode(b.data, b.len, &r), 0);
    assert_int_equal(r.db, 300);
    assert_int_equal(r.time_ms, 0x7FFFFFFFFFFFFFFFLL);
    assert_int_equal(r.ncmds, 1);
    EXPECT_ARG(&r, 0, 1, "300");
    record_free(&r);
    buf_free(&b);

    /* Reset empties the writer; a record may hold no commands. */
    record_writer_reset(&w);
    buf_init(&b);
    record_writer_finish(&w, 1, &b);
    assert_int_equal(b.len, 13);
    assert_int_equal(record_decode(b.data, b.len, &r), 0);
    assert_int_equal(r.ncmds, 0);
    assert_int_equal(r.db, 0);
    assert_int_equal(r.time_ms, 1);
    record_free(&r);
    buf_free(&b);
    record_writer_free(&w);
}

/* Commands in another database than the previous one get a SELECT before them; the
 * record's db is the first command's. */
static void test_select_between_databases(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    const char *a[] = {"SET", "a", "1"}, *b2[] = {"SET", "b", "2"}, *c[] = {"SET", "c", "3"};
    add_strs(&w, 4, TYPE_STRING, 3, a);
    add_strs(&w, 4, TYPE_STRING, 3, a);
    add_strs(&w, 7, TYPE_STRING, 3, b2);
    add_strs(&w, 4, TYPE_STRING, 3, c);
    buf out;
    buf_init(&out);
    record_writer_finish(&w, TIME_MS, &out);
    record r;
    assert_int_equal(record_decode(out.data, out.len, &r), 0);
    assert_int_equal(r.db, 4);
    assert_int_equal(r.ncmds, 6);
    EXPECT_ARG(&r, 2, 0, "SELECT");
    EXPECT_ARG(&r, 2, 1, "7");
    assert_int_equal(r.cmds[2].type, TYPE_NONE);
    EXPECT_ARG(&r, 3, 1, "b");
    EXPECT_ARG(&r, 4, 1, "4");
    EXPECT_ARG(&r, 5, 1, "c");
    record_free(&r);
    buf_free(&out);
    record_writer_free(&w);
}

static void test_large_arg(void **state) {
    (void)state;
    const size_t big_len = 100 * 1000;
    char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)(i * 31 + 7);
    record_writer w;
    record_writer_init(&w);
    const char *argv[] = {"SET", "k", big};
    const size_t lens[] = {3, 1, big_len};
    record_writer_add(&w, 0, TYPE_STRING, 3, argv, lens);
    buf b;
    buf_init(&b);
    record_writer_finish(&w, TIME_MS, &b);
    record_writer_free(&w);
    record r;
    assert_int_equal(record_decode(b.data, b.len, &r), 0);
    assert_int_equal(r.ncmds, 1);
    assert_int_equal(r.cmds[0].argc, 3);
    assert_int_equal(r.cmds[0].argv[2].len, big_len);
    assert_memory_equal(r.cmds[0].argv[2].ptr, big, big_len);
    record_free(&r);
    /* Cut inside the big argument: rejected. */
    assert_int_equal(record_decode(b.data, b.len - 1, &r), -1);
    assert_int_equal(record_decode(b.data, b.len - big_len / 2, &r), -1);
    buf_free(&b);
    free(big);
}

/* record_writer_encoded_len is what record_writer_finish writes, whatever the time. */
static void expect_encoded_len(const record_writer *w) {
    const int64_t times[] = {0, TIME_MS, INT64_MAX};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        buf b;
        buf_init(&b);
        record_writer_finish(w, times[i], &b);
        assert_int_equal(record_writer_encoded_len(w), b.len);
        buf_free(&b);
    }
}

/* Adds a command of argc arguments, each len bytes long. */
static void add_sized(record_writer *w, int db, int argc, size_t len) {
    char *bytes = calloc(len ? len : 1, 1);
    const char **argv = calloc(argc ? (size_t)argc : 1, sizeof(*argv));
    size_t *lens = calloc(argc ? (size_t)argc : 1, sizeof(*lens));
    assert_non_null(bytes);
    assert_non_null(argv);
    assert_non_null(lens);
    for (int i = 0; i < argc; i++) {
        argv[i] = bytes;
        lens[i] = len;
    }
    record_writer_add(w, db, TYPE_STRING, argc, argv, lens);
    free(lens);
    free(argv);
    free(bytes);
}

/* Lengths around each varint's change of width: 1 to 2 bytes, 2 to 3, 3 to 4. */
static const size_t varint_edges[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152};
#define NEDGES (sizeof(varint_edges) / sizeof(varint_edges[0]))

static void test_encoded_len_of_empty_records(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    expect_encoded_len(&w); /* no command at all */
    add_sized(&w, 0, 0, 0); /* a command without arguments */
    expect_encoded_len(&w);
    add_sized(&w, 0, 3, 0); /* empty arguments */
    expect_encoded_len(&w);
    record_writer_reset(&w);
    expect_encoded_len(&w);
    record_writer_free(&w);
}

static void test_encoded_len_across_varint_widths(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    for (size_t i = 0; i < NEDGES; i++) { /* argument lengths */
        record_writer_reset(&w);
        add_sized(&w, 0, 2, varint_edges[i]);
        expect_encoded_len(&w);
    }
    for (size_t i = 0; i < NEDGES && varint_edges[i] <= 16384; i++) { /* argument counts */
        record_writer_reset(&w);
        add_sized(&w, 0, (int)varint_edges[i], 1);
        expect_encoded_len(&w);
    }
    const int dbs[] = {0, 1, 127, 128, 16383, 16384, 2097152, INT32_MAX};
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) { /* the record's db, then SELECTs */
        record_writer_reset(&w);
        add_sized(&w, dbs[i], 1, 3);
        expect_encoded_len(&w);
        add_sized(&w, dbs[(i + 1) % 8], 1, 3);
        add_sized(&w, dbs[i], 1, 3);
        expect_encoded_len(&w);
    }
    record_writer_free(&w);
}

/* Command counts across the count's varint widths, of varied argument counts and lengths. */
static void test_encoded_len_of_many_commands(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    for (size_t n = 1; n <= 16385; n++) {
        add_sized(&w, 3, (int)(n % 4), varint_edges[n % 4]);
        if (n % 1000 == 0 || n == 127 || n == 128 || n == 16383 || n == 16384 || n == 16385) expect_encoded_len(&w);
    }
    record_writer_free(&w);
}

/* A record whose SET value refers to write 1 of its commit, from offset 2 (a header). */
static void build_with_ref(buf *out, uint64_t op, uint64_t offset, size_t len) {
    record_writer w;
    record_writer_init(&w);
    const char *argv[] = {"SET", "k", "ignored"};
    size_t lens[] = {3, 1, len};
    record_src srcs[] = {{-1, 0}, {-1, 0}, {(int64_t)op, offset}};
    record_writer_add_refs(&w, 0, TYPE_STRING, 3, argv, lens, srcs);
    const char *del[] = {"DEL", "gone"};
    add_strs(&w, 0, TYPE_STRING, 2, del);
    size_t start = out->len;
    record_writer_finish(&w, TIME_MS, out);
    assert_int_equal(record_writer_encoded_len(&w), out->len - start);
    record_writer_free(&w);
}

/* Appends a batch record: tag, then length-prefixed slices (varints below 128 here). */
static void put_slices(buf *b, uint8_t tag, const char *key, size_t klen, const char *val, size_t vlen) {
    buf_put_u8(b, tag);
    buf_put_varint(b, klen);
    buf_append(b, key, klen);
    if (val) {
        buf_put_varint(b, vlen);
        buf_append(b, val, vlen);
    }
}

/* A commit: header, the change record, a Delete, then a Put of "\x01\x02hello". */
static void build_commit(buf *out, const buf *rec) {
    static const char header[12] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0};
    buf_append(out, header, sizeof(header));
    put_slices(out, 0x03, rec->data, rec->len, NULL, 0);
    put_slices(out, 0x00, "old", 3, NULL, 0);
    put_slices(out, 0x01, "k", 1, "\x01\x02hello", 7);
}

static int decode_and_resolve(const buf *rec, record *r) {
    buf commit;
    buf_init(&commit);
    build_commit(&commit, rec);
    int rc = record_decode(rec->data, rec->len, r);
    if (rc == 0) {
        assert_null(r->cmds[0].argv[2].ptr); /* unresolved until the commit is given */
        rc = record_resolve(r, commit.data, commit.len);
        if (rc == 0) {
            EXPECT_ARG(r, 0, 2, "hello");
            EXPECT_ARG(r, 1, 1, "gone");
        }
        record_free(r);
    }
    buf_free(&commit);
    return rc;
}

static void test_references_round_trip(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_with_ref(&b, 1, 2, 5);
    assert_memory_equal(b.data, "TK\x02", 3);
    record r;
    assert_int_equal(decode_and_resolve(&b, &r), 0);
    buf_free(&b);
}

/* References to no write, to a Delete, or past the Put's value fail to resolve. */
static void test_references_that_name_nothing(void **state) {
    (void)state;
    const struct {
        uint64_t op, offset;
        size_t len;
    } bad[] = {{2, 0, 1}, {0, 0, 0}, {1, 2, 6}, {1, 8, 0}, {1, UINT64_MAX, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf b;
        buf_init(&b);
        build_with_ref(&b, bad[i].op, bad[i].offset, bad[i].len);
        record r;
        assert_int_equal(decode_and_resolve(&b, &r), -1);
        buf_free(&b);
    }
}

/* References listed in another order than the writes they name all resolve, in one walk. */
static void test_references_in_any_order(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    const char *argv[] = {"SET", "k", "ignored"};
    size_t lens[] = {3, 1, 3};
    record_src later[] = {{-1, 0}, {-1, 0}, {2, 1}}, earlier[] = {{-1, 0}, {-1, 0}, {0, 0}};
    record_writer_add_refs(&w, 0, TYPE_STRING, 3, argv, lens, later);
    record_writer_add_refs(&w, 0, TYPE_STRING, 3, argv, lens, earlier);
    buf rec, commit;
    buf_init(&rec);
    buf_init(&commit);
    record_writer_finish(&w, TIME_MS, &rec);
    record_writer_free(&w);
    static const char header[12] = {1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0};
    buf_append(&commit, header, sizeof(header));
    put_slices(&commit, 0x03, rec.data, rec.len, NULL, 0);
    put_slices(&commit, 0x01, "a", 1, "one", 3);
    put_slices(&commit, 0x00, "old", 3, NULL, 0);
    put_slices(&commit, 0x01, "b", 1, "xtwo", 4);
    record r;
    assert_int_equal(record_decode(rec.data, rec.len, &r), 0);
    assert_int_equal(record_resolve(&r, commit.data, commit.len), 0);
    EXPECT_ARG(&r, 0, 2, "two");
    EXPECT_ARG(&r, 1, 2, "one");
    record_free(&r);
    buf_free(&rec);
    buf_free(&commit);
}

/* A references table must name empty arguments of existing commands, each once. */
static void test_rejects_bad_references_table(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_with_ref(&b, 1, 2, 5);
    record r;
    size_t table = b.len - 6; /* nrefs 1, then cmd 0 | arg 2 | op 1 | offset 2 | len 5 */
    assert_memory_equal(b.data + table, "\x01\x00\x02\x01\x02\x05", 6);
    const struct {
        size_t at;
        char byte;
    } edits[] = {{0, 0}, {0, 2}, {1, 2}, {2, 3}, {2, 0}, {2, 1}};
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char saved = b.data[table + edits[i].at];
        b.data[table + edits[i].at] = edits[i].byte;
        assert_int_equal(record_decode(b.data, b.len, &r), -1);
        b.data[table + edits[i].at] = saved;
    }
    /* The same reference twice. */
    b.data[table] = 2;
    buf_append(&b, "\x00\x02\x01\x02\x05", 5);
    assert_int_equal(record_decode(b.data, b.len, &r), -1);
    buf_free(&b);
}

static void test_rejects_bad_header(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_sample(&b, 0);
    record r;
    char *copy = malloc(b.len);
    assert_non_null(copy);

    memcpy(copy, b.data, b.len);
    copy[0] = 'X';
    assert_int_equal(record_decode(copy, b.len, &r), -1);
    memcpy(copy, b.data, b.len);
    copy[1] = 'k';
    assert_int_equal(record_decode(copy, b.len, &r), -1);
    memcpy(copy, b.data, b.len);
    copy[2] = 3; /* unknown version */
    assert_int_equal(record_decode(copy, b.len, &r), -1);
    copy[2] = 0;
    assert_int_equal(record_decode(copy, b.len, &r), -1);

    free(copy);
    buf_free(&b);
}

/* Every proper prefix of a valid record is rejected, reading only its own bytes. */
static void test_rejects_every_truncation(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_sample(&b, 130); /* a two-byte db varint */
    record r;
    assert_int_equal(record_decode(b.data, b.len, &r), 0);
    record_free(&r);
    for (size_t len = 0; len < b.len; len++) {
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, b.data, len);
        if (record_decode(copy, len, &r) != -1) {
            print_error("prefix of %zu of %zu bytes was accepted\n", len, b.len);
            record_free(&r);
            free(copy);
            fail();
        }
        assert_null(r.cmds);
        free(copy);
    }
    buf_free(&b);
}

static void test_rejects_trailing_garbage(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_sample(&b, 0);
    buf_append_byte(&b, 0);
    record r;
    assert_int_equal(record_decode(b.data, b.len, &r), -1);
    buf_append(&b, "\x01\x01x", 3);
    assert_int_equal(record_decode(b.data, b.len, &r), -1);
    buf_free(&b);
}

/* A hand-made record: header for db 0 followed by body bytes. */
static int decode_with_body(const char *body, size_t len, record *r) {
    buf b;
    buf_init(&b);
    buf_append(&b, "TK\x01\0\0\0\0\0\0\0\x07", 11);
    buf_append(&b, body, len);
    char *copy = malloc(b.len);
    assert_non_null(copy);
    memcpy(copy, b.data, b.len);
    int rc = record_decode(copy, b.len, r);
    if (rc == 0) {
        /* Arguments point into copy; the callers only check counts. */
        for (size_t i = 0; i < r->ncmds; i++)
            for (size_t j = 0; j < r->cmds[i].argc; j++) r->cmds[i].argv[j].ptr = NULL;
    }
    free(copy);
    buf_free(&b);
    return rc;
}

#define DECODE_BODY(lit, r) decode_with_body((lit), sizeof(lit) - 1, (r))

static void test_rejects_bad_counts(void **state) {
    (void)state;
    record r;
    /* The hand-made header itself is fine: db 0, one command (type 5, argc 1, "x"). */
    assert_int_equal(DECODE_BODY("\x00\x01\x05\x01\x01x", &r), 0);
    assert_int_equal(r.ncmds, 1);
    assert_int_equal(r.time_ms, 7);
    assert_int_equal(r.cmds[0].type, 5);
    assert_int_equal(r.cmds[0].argc, 1);
    record_free(&r);

    /* ncommands larger than the bytes left. */
    assert_int_equal(DECODE_BODY("\x00\x05\x01\x01\x01x", &r), -1);
    assert_int_equal(DECODE_BODY("\x00\x02\x01\x01\x01x", &r), -1);
    assert_int_equal(DECODE_BODY("\x00\xff\xff\xff\xff\x0f\x01\x01\x01x", &r), -1);
    assert_int_equal(DECODE_BODY("\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", &r), -1);
    /* argc larger than the bytes left. */
    assert_int_equal(DECODE_BODY("\x00\x01\x01\x09\x01x", &r), -1);
    assert_int_equal(DECODE_BODY("\x00\x01\x01\xff\xff\xff\xff\x0f\x01x", &r), -1);
    /* An argument length larger than the bytes left. */
    assert_int_equal(DECODE_BODY("\x00\x01\x01\x01\x02x", &r), -1);
    assert_int_equal(DECODE_BODY("\x00\x01\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f", &r), -1);
    /* argc 0 is not a command. */
    assert_int_equal(DECODE_BODY("\x00\x01\x01\x00\x00", &r), -1);
    assert_int_equal(DECODE_BODY("\x00\x02\x01\x01\x01x\x01\x00\x00", &r), -1);
    /* A db beyond u32. */
    assert_int_equal(DECODE_BODY("\x80\x80\x80\x80\x10\x00", &r), -1);
    /* An over-long varint. */
    assert_int_equal(DECODE_BODY("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00\x00", &r), -1);
}

/* ---- inserting commands at marks ---- */

/* Checks command i of a decoded record: its type and its arguments (NUL-free strings). */
static void expect_cmd(const record *r, size_t i, uint8_t type, int argc, const char *const *argv) {
    assert_true(i < r->ncmds);
    assert_int_equal(r->cmds[i].type, type);
    assert_int_equal(r->cmds[i].argc, argc);
    for (int a = 0; a < argc; a++) expect_arg(r, i, (size_t)a, argv[a], strlen(argv[a]));
}

static const char *const del_argv[] = {"DEL", "old"};
static const size_t del_lens[] = {3, 3};

static record_insertion del_at(const record_mark *at, int db, uint8_t type) {
    return (record_insertion){*at, db, type, 2, del_argv, del_lens};
}

/* Inserts into a whole record and decodes the result. */
static void insert_and_decode(const buf *rec, const record_insertion *ins, size_t n, buf *out, record *r) {
    assert_int_equal(record_insert(rec->data, rec->len, ins, n, out), 0);
    assert_int_equal(record_decode(out->data, out->len, r), 0);
}

/* At the start of a record: before its first command, in its database or after a SELECT of
 * another that a SELECT back ends; the time stays. */
static void test_insert_at_the_start(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    record_mark start;
    record_writer_mark(&w, &start);
    const char *set[] = {"SET", "k", "v"};
    add_strs(&w, 3, TYPE_STRING, 3, set);
    buf rec, out;
    buf_init(&rec);
    buf_init(&out);
    record_writer_finish(&w, TIME_MS, &rec);
    record r;

    record_insertion same = del_at(&start, 3, TYPE_HASH);
    insert_and_decode(&rec, &same, 1, &out, &r);
    assert_int_equal(r.version, RECORD_VERSION);
    assert_int_equal(r.time_ms, TIME_MS);
    assert_int_equal(r.db, 3);
    assert_int_equal(r.ncmds, 2);
    expect_cmd(&r, 0, TYPE_HASH, 2, del_argv);
    expect_cmd(&r, 1, TYPE_STRING, 3, set);
    record_free(&r);

    buf_clear(&out);
    record_insertion other = del_at(&start, 5, TYPE_ZSET);
    insert_and_decode(&rec, &other, 1, &out, &r);
    assert_int_equal(r.db, 5);
    assert_int_equal(r.ncmds, 3);
    expect_cmd(&r, 0, TYPE_ZSET, 2, del_argv);
    expect_cmd(&r, 1, 0, 2, (const char *[]){"SELECT", "3"});
    expect_cmd(&r, 2, TYPE_STRING, 3, set);
    record_free(&r);
    record_writer_free(&w);
    buf_free(&rec);
    buf_free(&out);
}

/* Between commands: where the mark was taken, the database a replay is in then restored after
 * it; several at one mark go together; references still name their arguments. */
static void test_insert_between_commands(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    const char *hset[] = {"HSET", "h", "f", "v"};
    add_strs(&w, 0, TYPE_HASH, 4, hset);
    record_mark second, third;
    record_writer_mark(&w, &second);
    const char *setref[] = {"SET", "k", "ignored"};
    record_src srcs[] = {{-1, 0}, {-1, 0}, {1, 2}};
    record_writer_add_refs(&w, 0, TYPE_STRING, 3, setref, (const size_t[]){3, 1, 5}, srcs);
    record_writer_mark(&w, &third);
    const char *set2[] = {"SET", "g", "w"};
    add_strs(&w, 2, TYPE_STRING, 3, set2); /* after a SELECT 2 */
    buf rec, out;
    buf_init(&rec);
    buf_init(&out);
    record_writer_finish(&w, TIME_MS, &rec);

    record_insertion ins[] = {del_at(&second, 0, TYPE_HASH), del_at(&second, 1, TYPE_LIST),
                              del_at(&third, 2, TYPE_SET)};
    record r;
    insert_and_decode(&rec, ins, 3, &out, &r);
    assert_int_equal(r.version, RECORD_VERSION_REFS);
    assert_int_equal(r.db, 0);
    const char *sel0[] = {"SELECT", "0"}, *sel1[] = {"SELECT", "1"}, *sel2[] = {"SELECT", "2"};
    assert_int_equal(r.ncmds, 11);
    expect_cmd(&r, 0, TYPE_HASH, 4, hset);
    expect_cmd(&r, 1, TYPE_HASH, 2, del_argv);
    expect_cmd(&r, 2, 0, 2, sel1);
    expect_cmd(&r, 3, TYPE_LIST, 2, del_argv);
    expect_cmd(&r, 4, 0, 2, sel0);
    expect_cmd(&r, 6, 0, 2, sel2);
    expect_cmd(&r, 7, TYPE_SET, 2, del_argv);
    expect_cmd(&r, 8, 0, 2, sel0); /* back to where the record's own SELECT 2 follows */
    expect_cmd(&r, 9, 0, 2, sel2);
    expect_cmd(&r, 10, TYPE_STRING, 3, set2);
    /* The SET with the reference moved from command 1 to 5; the commit's write 1 holds it. */
    assert_int_equal(r.nrefs, 1);
    assert_int_equal(r.refs[0].cmd, 5);
    assert_int_equal(r.refs[0].arg, 2);
    assert_int_equal(r.refs[0].op, 1);
    assert_int_equal(r.refs[0].offset, 2);
    assert_int_equal(r.refs[0].len, 5);
    record_free(&r);
    record_writer_free(&w);
    buf_free(&rec);
    buf_free(&out);
}

/* A mark past the record's commands, or marks out of order, are refused. */
static void test_insert_refuses_bad_marks(void **state) {
    (void)state;
    record_writer w;
    record_writer_init(&w);
    record_mark start, end;
    record_writer_mark(&w, &start);
    const char *set[] = {"SET", "k", "v"};
    add_strs(&w, 0, TYPE_STRING, 3, set);
    record_writer_mark(&w, &end);
    buf rec, out;
    buf_init(&rec);
    buf_init(&out);
    record_writer_finish(&w, TIME_MS, &rec);
    end.ncmds++;
    record_insertion past = del_at(&end, 0, TYPE_HASH);
    assert_int_equal(record_insert(rec.data, rec.len, &past, 1, &out), -1);
    end.ncmds--;
    record_insertion backwards[] = {del_at(&end, 0, TYPE_HASH), del_at(&start, 0, TYPE_HASH)};
    assert_int_equal(record_insert(rec.data, rec.len, backwards, 2, &out), -1);
    assert_int_equal(record_insert("TK", 2, backwards, 1, &out), -1);
    record_writer_free(&w);
    buf_free(&rec);
    buf_free(&out);
}

static void test_is_tidekv(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    build_sample(&b, 0);
    assert_true(record_is_tidekv(b.data, b.len));
    assert_true(record_is_tidekv("TK\x01", 3));
    assert_false(record_is_tidekv("TK", 2));
    assert_false(record_is_tidekv("", 0));
    assert_false(record_is_tidekv("TX\x01", 3));
    assert_false(record_is_tidekv("\x01\x00\x00", 3));
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_large_db_and_time),
        cmocka_unit_test(test_select_between_databases),
        cmocka_unit_test(test_large_arg),
        cmocka_unit_test(test_encoded_len_of_empty_records),
        cmocka_unit_test(test_encoded_len_across_varint_widths),
        cmocka_unit_test(test_encoded_len_of_many_commands),
        cmocka_unit_test(test_references_round_trip),
        cmocka_unit_test(test_references_that_name_nothing),
        cmocka_unit_test(test_references_in_any_order),
        cmocka_unit_test(test_rejects_bad_references_table),
        cmocka_unit_test(test_rejects_bad_header),
        cmocka_unit_test(test_rejects_every_truncation),
        cmocka_unit_test(test_rejects_trailing_garbage),
        cmocka_unit_test(test_rejects_bad_counts),
        cmocka_unit_test(test_insert_at_the_start),
        cmocka_unit_test(test_insert_between_commands),
        cmocka_unit_test(test_insert_refuses_bad_marks),
        cmocka_unit_test(test_is_tidekv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
