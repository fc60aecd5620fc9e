/* Unit tests for the incremental RESP request parser (src/proto/resp.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "util/buf.h"

#define MAX_BULK (512LL * 1024 * 1024)

/* Checks argument i of the parsed request against len bytes of want. */
static void check_arg(const resp_parser *p, int i, const char *want, size_t len) {
    assert_true(i < p->argc);
    assert_int_equal(p->argv[i].len, len);
    if (len) assert_memory_equal(p->argv[i].ptr, want, len);
    /* Arguments are NUL terminated for convenience. */
    assert_int_equal(p->argv[i].ptr[len], '\0');
}

#define CHECK_ARG(p, i, lit) check_arg((p), (i), (lit), sizeof(lit) - 1)

static void test_simple_multibulk(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    const char req[] = "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$5\r\nhello\r\n";
    size_t consumed = 12345;
    assert_int_equal(resp_parse(&p, req, sizeof(req) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(req) - 1);
    assert_int_equal(p.argc, 3);
    CHECK_ARG(&p, 0, "SET");
    CHECK_ARG(&p, 1, "foo");
    CHECK_ARG(&p, 2, "hello");
    /* The parser is back between requests. */
    assert_int_equal(p.multibulk_left, 0);
    assert_int_equal(p.bulk_len, -1);
    resp_parser_free(&p);
}

static void test_pipeline(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    const char *reqs[] = {
        "*1\r\n$4\r\nPING\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n",
        "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
    };
    const size_t n = sizeof(reqs) / sizeof(reqs[0]);
    char all[256] = {0};
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(all + total, reqs[i], strlen(reqs[i]));
        total += strlen(reqs[i]);
    }
    const int want_argc[] = {1, 2, 3, 2};
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t consumed = 0;
        assert_int_equal(resp_parse(&p, all + pos, total - pos, &consumed), RESP_DONE);
        assert_int_equal(consumed, strlen(reqs[i]));
        assert_int_equal(p.argc, want_argc[i]);
        pos += consumed;
        switch (i) {
        case 0:
            CHECK_ARG(&p, 0, "PING");
            break;
        case 1:
            CHECK_ARG(&p, 0, "GET");
            CHECK_ARG(&p, 1, "k");
            break;
        case 2:
            CHECK_ARG(&p, 0, "SET");
            CHECK_ARG(&p, 1, "k");
            CHECK_ARG(&p, 2, "0123456789");
            break;
        case 3:
            CHECK_ARG(&p, 0, "ECHO");
            CHECK_ARG(&p, 1, "");
            break;
        }
        resp_parser_reset_args(&p);
        assert_int_equal(p.argc, 0);
    }
    assert_int_equal(pos, total);
    size_t consumed = 99;
    assert_int_equal(resp_parse(&p, all + pos, 0, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, 0);
    resp_parser_free(&p);
}

/* Feeds req one byte at a time, keeping unconsumed bytes as a network reader would.
 * Every call before the last byte must say NEED_MORE; the last must say DONE. */
static void feed_bytewise(resp_parser *p, const char *req, size_t len) {
    char *pending = malloc(len);
    assert_non_null(pending);
    size_t plen = 0, total_consumed = 0;
    for (size_t i = 0; i < len; i++) {
        pending[plen++] = req[i];
        size_t consumed = 0;
        resp_status st = resp_parse(p, pending, plen, &consumed);
        assert_true(consumed <= plen);
        total_consumed += consumed;
        memmove(pending, pending + consumed, plen - consumed);
        plen -= consumed;
        if (i + 1 < len) {
            assert_int_equal(st, RESP_NEED_MORE);
        } else {
            assert_int_equal(st, RESP_DONE);
        }
    }
    assert_int_equal(plen, 0);
    assert_int_equal(total_consumed, len);
    free(pending);
}

/* A big bulk (gathered in its own buffer as it arrives) fed in pieces of 1000 bytes, then
 * followed by a small request in the same input: the input is consumed as it comes, never
 * held back until the bulk is whole. */
static void test_big_bulk_in_pieces(void **state) {
    (void)state;
    const size_t big = 200 * 1024;
    buf req;
    buf_init(&req);
    buf_printf(&req, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", big);
    for (size_t i = 0; i < big; i++) buf_append_byte(&req, (uint8_t)('a' + i % 23));
    buf_append_str(&req, "\r\n*1\r\n$4\r\nPING\r\n");
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t pos = 0, consumed = 0;
    resp_status st = RESP_NEED_MORE;
    while (st == RESP_NEED_MORE) {
        size_t piece = req.len - pos < 1000 ? req.len - pos : 1000;
        st = resp_parse(&p, req.data + pos, piece, &consumed);
        assert_int_equal(consumed, st == RESP_NEED_MORE ? piece : consumed); /* all taken */
        pos += consumed;
    }
    assert_int_equal(st, RESP_DONE);
    assert_int_equal(p.argc, 3);
    check_arg(&p, 2, req.data + req.len - big - 2 - 14, big);
    resp_parser_reset_args(&p);
    assert_int_equal(resp_parse(&p, req.data + pos, req.len - pos, &consumed), RESP_DONE);
    CHECK_ARG(&p, 0, "PING");
    /* A big bulk cut off mid-way is freed with the parser (ASan checks for the leak). */
    resp_parser_reset_args(&p);
    assert_int_equal(resp_parse(&p, req.data, 5000, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, 5000);
    resp_parser_free(&p);
    buf_free(&req);
}

/* A header announcing 512 MB reserves memory as the bytes arrive, not at once. */
static void test_big_bulk_grows_as_it_arrives(void **state) {
    (void)state;
    const char *head = "*2\r\n$3\r\nGET\r\n$536870912\r\n";
    resp_parser p;
    resp_parser_init(&p, MAX_BULK * 1024);
    size_t consumed = 0;
    /* The header alone (the read ended there), then the first bytes. */
    assert_int_equal(resp_parse(&p, head, strlen(head), &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, strlen(head));
    assert_int_equal(resp_parse(&p, "abc", 3, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, 3);
    assert_true(resp_parser_memory(&p) < 1024 * 1024);
    resp_parser_free(&p);
}

static void test_bytewise_multibulk(void **state) {
    (void)state;
    const char req[] = "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$12\r\nhello\r\nworld\r\n";
    resp_parser whole, bytes;
    resp_parser_init(&whole, MAX_BULK);
    resp_parser_init(&bytes, MAX_BULK);
    size_t consumed;
    assert_int_equal(resp_parse(&whole, req, sizeof(req) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(req) - 1);
    feed_bytewise(&bytes, req, sizeof(req) - 1);
    assert_int_equal(bytes.argc, 3);
    assert_int_equal(whole.argc, bytes.argc);
    for (int i = 0; i < whole.argc; i++) {
        assert_int_equal(whole.argv[i].len, bytes.argv[i].len);
        assert_memory_equal(whole.argv[i].ptr, bytes.argv[i].ptr, whole.argv[i].len);
    }
    CHECK_ARG(&bytes, 2, "hello\r\nworld");
    resp_parser_free(&whole);
    resp_parser_free(&bytes);
}

static void test_bytewise_inline(void **state) {
    (void)state;
    const char req[] = "SET key \"a b\"\r\n";
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    feed_bytewise(&p, req, sizeof(req) - 1);
    assert_int_equal(p.argc, 3);
    CHECK_ARG(&p, 0, "SET");
    CHECK_ARG(&p, 1, "key");
    CHECK_ARG(&p, 2, "a b");
    resp_parser_free(&p);
}

static void test_binary_safe_bulk(void **state) {
    (void)state;
    const char req[] = "*2\r\n$4\r\nECHO\r\n$8\r\na\0b\r\n\xff\0c\r\n";
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t consumed;
    assert_int_equal(resp_parse(&p, req, sizeof(req) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(req) - 1);
    assert_int_equal(p.argc, 2);
    CHECK_ARG(&p, 1, "a\0b\r\n\xff\0c");
    resp_parser_free(&p);
}

static void test_empty_bulk(void **state) {
    (void)state;
    const char req[] = "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n";
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t consumed;
    assert_int_equal(resp_parse(&p, req, sizeof(req) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(req) - 1);
    assert_int_equal(p.argc, 3);
    CHECK_ARG(&p, 0, "SET");
    CHECK_ARG(&p, 1, "");
    CHECK_ARG(&p, 2, "");
    resp_parser_free(&p);
}

/* Parses one inline line that must give DONE and consume it all. */
static void parse_inline_ok(resp_parser *p, const char *line) {
    size_t consumed = 0;
    assert_int_equal(resp_parse(p, line, strlen(line), &consumed), RESP_DONE);
    assert_int_equal(consumed, strlen(line));
}

static void test_inline(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);

    parse_inline_ok(&p, "PING\r\n");
    assert_int_equal(p.argc, 1);
    CHECK_ARG(&p, 0, "PING");
    resp_parser_reset_args(&p);

    parse_inline_ok(&p, "SET a \"hello world\"\r\n");
    assert_int_equal(p.argc, 3);
    CHECK_ARG(&p, 0, "SET");
    CHECK_ARG(&p, 1, "a");
    CHECK_ARG(&p, 2, "hello world");
    resp_parser_reset_args(&p);

    parse_inline_ok(&p, "SET 'a b' 'it\\'s'\r\n");
    assert_int_equal(p.argc, 3);
    CHECK_ARG(&p, 1, "a b");
    CHECK_ARG(&p, 2, "it's");
    resp_parser_reset_args(&p);

    /* Inside single quotes, other backslashes are literal. */
    parse_inline_ok(&p, "ECHO 'a\\nb'\r\n");
    assert_int_equal(p.argc, 2);
    CHECK_ARG(&p, 1, "a\\nb");
    resp_parser_reset_args(&p);

    parse_inline_ok(&p, "ECHO \"\\x41\\x7a\\n\\t\\\"\"\r\n");
    assert_int_equal(p.argc, 2);
    CHECK_ARG(&p, 1, "Az\n\t\"");
    resp_parser_reset_args(&p);

    /* \x00 gives a binary zero byte. */
    parse_inline_ok(&p, "ECHO \"a\\x00b\"\r\n");
    assert_int_equal(p.argc, 2);
    CHECK_ARG(&p, 1, "a\0b");
    resp_parser_reset_args(&p);

    /* A bare \n ends the line too; runs of spaces and tabs separate arguments. */
    parse_inline_ok(&p, "  GET \t key  \n");
    assert_int_equal(p.argc, 2);
    CHECK_ARG(&p, 0, "GET");
    CHECK_ARG(&p, 1, "key");
    resp_parser_reset_args(&p);

    /* An empty quoted argument is an argument. */
    parse_inline_ok(&p, "SET k \"\"\r\n");
    assert_int_equal(p.argc, 3);
    CHECK_ARG(&p, 2, "");
    resp_parser_reset_args(&p);

    /* No newline yet: more input needed, nothing consumed. */
    size_t consumed = 7;
    assert_int_equal(resp_parse(&p, "PING", 4, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, 0);
    assert_int_equal(p.argc, 0);

    resp_parser_free(&p);
}

/* Empty lines are skipped within one call, so a request after them in the same buffer is
 * parsed at once (redis-cli --pipe ends its data with "\r\n" then an ECHO). */
static void test_inline_empty_line_skipped(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    const char data[] = "\r\n\n   \r\nPING\r\n";
    size_t consumed;
    assert_int_equal(resp_parse(&p, data, sizeof(data) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(data) - 1);
    assert_int_equal(p.argc, 1);
    CHECK_ARG(&p, 0, "PING");
    resp_parser_free(&p);

    resp_parser_init(&p, MAX_BULK);
    const char only_blank[] = "\r\n\r\n";
    assert_int_equal(resp_parse(&p, only_blank, sizeof(only_blank) - 1, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, sizeof(only_blank) - 1);
    assert_int_equal(p.argc, 0);
    resp_parser_free(&p);
}

static void test_blank_line_then_multibulk(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    const char data[] = "\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
    size_t consumed;
    assert_int_equal(resp_parse(&p, data, sizeof(data) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(data) - 1);
    assert_int_equal(p.argc, 2);
    CHECK_ARG(&p, 0, "ECHO");
    CHECK_ARG(&p, 1, "hi");
    resp_parser_free(&p);
}

static void test_empty_multibulk_skipped(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    const char data[] = "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n";
    size_t consumed;
    assert_int_equal(resp_parse(&p, data, sizeof(data) - 1, &consumed), RESP_DONE);
    assert_int_equal(consumed, sizeof(data) - 1);
    assert_int_equal(p.argc, 1);
    CHECK_ARG(&p, 0, "PING");
    resp_parser_free(&p);
}

/* Feeds len bytes of data to p and expects a protocol error with exactly msg. */
static void expect_error(resp_parser *p, const char *data, size_t len, const char *msg) {
    size_t consumed;
    assert_int_equal(resp_parse(p, data, len, &consumed), RESP_ERROR);
    assert_string_equal(p->error, msg);
}

/* The same on a new parser with the given bulk limit. */
static void expect_error_fresh(const char *data, size_t len, long long max_bulk, const char *msg) {
    resp_parser p;
    resp_parser_init(&p, max_bulk);
    expect_error(&p, data, len, msg);
    resp_parser_free(&p);
}

#define EXPECT_ERROR(lit, msg) expect_error_fresh((lit), sizeof(lit) - 1, MAX_BULK, (msg))

static void test_error_multibulk_length(void **state) {
    (void)state;
    EXPECT_ERROR("*abc\r\n", "ERR Protocol error: invalid multibulk length");
    EXPECT_ERROR("*\r\n", "ERR Protocol error: invalid multibulk length");
    EXPECT_ERROR("*1x\r\n", "ERR Protocol error: invalid multibulk length");

    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    p.max_multibulk_len = 10;
    size_t consumed;
    /* At the limit is fine. */
    const char ok[] = "*10\r\n";
    assert_int_equal(resp_parse(&p, ok, sizeof(ok) - 1, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, sizeof(ok) - 1);
    resp_parser_free(&p);

    resp_parser_init(&p, MAX_BULK);
    p.max_multibulk_len = 10;
    expect_error(&p, "*11\r\n", 5, "ERR Protocol error: invalid multibulk length");
    resp_parser_free(&p);

    /* The default limit (1 GiB of arguments) applies too. */
    EXPECT_ERROR("*1073741825\r\n", "ERR Protocol error: invalid multibulk length");
}

static void test_error_expected_dollar(void **state) {
    (void)state;
    EXPECT_ERROR("*1\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'");
    EXPECT_ERROR("*2\r\n$1\r\na\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'");

    /* The same error when the bad byte arrives in a later read. */
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t consumed;
    assert_int_equal(resp_parse(&p, "*1\r\n", 4, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, 4);
    expect_error(&p, "x", 1, "ERR Protocol error: expected '$', got 'x'");
    resp_parser_free(&p);
}

static void test_error_bulk_length(void **state) {
    (void)state;
    EXPECT_ERROR("*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length");
    EXPECT_ERROR("*1\r\n$-3\r\n", "ERR Protocol error: invalid bulk length");
    EXPECT_ERROR("*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length");
    EXPECT_ERROR("*1\r\n$\r\n", "ERR Protocol error: invalid bulk length");

    const char at_limit[] = "*1\r\n$1024\r\n";
    resp_parser p;
    resp_parser_init(&p, 1024);
    size_t consumed;
    assert_int_equal(resp_parse(&p, at_limit, sizeof(at_limit) - 1, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, sizeof(at_limit) - 1);
    assert_int_equal(p.bulk_len, 1024);
    resp_parser_free(&p);

    const char over[] = "*1\r\n$1025\r\n";
    expect_error_fresh(over, sizeof(over) - 1, 1024, "ERR Protocol error: invalid bulk length");
}

static void test_error_too_big_inline(void **state) {
    (void)state;
    size_t len = RESP_INLINE_MAX + 1;
    char *data = malloc(len);
    assert_non_null(data);
    memset(data, 'a', len);
    /* Exactly the limit without a newline still waits for more. */
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t consumed;
    assert_int_equal(resp_parse(&p, data, RESP_INLINE_MAX, &consumed), RESP_NEED_MORE);
    assert_int_equal(consumed, 0);
    resp_parser_free(&p);
    expect_error_fresh(data, len, MAX_BULK, "ERR Protocol error: too big inline request");
    free(data);
}

static void test_error_unbalanced_quotes(void **state) {
    (void)state;
    EXPECT_ERROR("SET a \"hello\r\n", "ERR Protocol error: unbalanced quotes in request");
    EXPECT_ERROR("SET a 'hello\r\n", "ERR Protocol error: unbalanced quotes in request");
    /* A closing quote must be followed by a space or the end of the line. */
    EXPECT_ERROR("SET a \"hello\"x\r\n", "ERR Protocol error: unbalanced quotes in request");
}

static void test_error_too_big_mbulk_count(void **state) {
    (void)state;
    size_t len = RESP_INLINE_MAX + 2;
    char *data = malloc(len);
    assert_non_null(data);
    data[0] = '*';
    memset(data + 1, '1', len - 1);
    expect_error_fresh(data, len, MAX_BULK, "ERR Protocol error: too big mbulk count string");
    free(data);
}

static void test_take_args(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    const char req[] = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    size_t consumed;
    assert_int_equal(resp_parse(&p, req, sizeof(req) - 1, &consumed), RESP_DONE);
    int argc = -1;
    resp_arg *args = resp_parser_take_args(&p, &argc);
    assert_int_equal(argc, 2);
    assert_int_equal(p.argc, 0);
    assert_int_equal(args[0].len, 3);
    assert_memory_equal(args[0].ptr, "GET", 3);
    assert_int_equal(args[1].len, 3);
    assert_memory_equal(args[1].ptr, "key", 3);
    /* The parser goes on independently of the taken arguments. */
    assert_int_equal(resp_parse(&p, "PING\r\n", 6, &consumed), RESP_DONE);
    CHECK_ARG(&p, 0, "PING");
    for (int i = 0; i < argc; i++) free(args[i].ptr);
    free(args);
    resp_parser_free(&p);
}

/* The arguments of a request still arriving count for more than their bytes, and the array
 * grown for a huge request is not kept after it. */
static void test_parsed_arguments_memory(void **state) {
    (void)state;
    resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t empty = resp_parser_memory(&p), consumed;
    assert_int_equal(empty, 0);
    const char head[] = "*100000\r\n";
    assert_int_equal(resp_parse(&p, head, sizeof(head) - 1, &consumed), RESP_NEED_MORE);
    const char arg[] = "$0\r\n\r\n";
    size_t before = resp_parser_memory(&p);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(resp_parse(&p, arg, sizeof(arg) - 1, &consumed), RESP_NEED_MORE);
        assert_int_equal(consumed, sizeof(arg) - 1); /* nothing is left unparsed */
    }
    assert_true(resp_parser_memory(&p) - before >= 2000 * (sizeof(arg) - 1 + sizeof(resp_arg)));
    for (int i = 2000; i < 100000; i++) resp_parse(&p, arg, sizeof(arg) - 1, &consumed);
    assert_int_equal(p.argc, 100000);
    resp_parser_reset_args(&p);
    assert_true(resp_parser_memory(&p) < 100000);
    resp_parser_free(&p);
}

static void free_args(resp_arg *args, int n) {
    for (int i = 0; i < n; i++) free(args[i].ptr);
    free(args);
}

static void test_split_inline(void **state) {
    (void)state;
    resp_arg *args = NULL;
    const char l1[] = "set key \"va lue\" 'x y' \"\\x4a\\x4B\" plain";
    int n = resp_split_inline(l1, sizeof(l1) - 1, &args);
    assert_int_equal(n, 6);
    assert_int_equal(args[0].len, 3);
    assert_memory_equal(args[0].ptr, "set", 3);
    assert_int_equal(args[2].len, 6);
    assert_memory_equal(args[2].ptr, "va lue", 6);
    assert_int_equal(args[3].len, 3);
    assert_memory_equal(args[3].ptr, "x y", 3);
    assert_int_equal(args[4].len, 2);
    assert_memory_equal(args[4].ptr, "JK", 2);
    assert_int_equal(args[4].ptr[2], '\0');
    assert_int_equal(args[5].len, 5);
    assert_memory_equal(args[5].ptr, "plain", 5);
    free_args(args, n);

    /* Only len bytes are looked at. */
    args = NULL;
    n = resp_split_inline("a b c", 3, &args);
    assert_int_equal(n, 2);
    assert_memory_equal(args[1].ptr, "b", 2);
    free_args(args, n);

    /* Blank input gives no arguments. */
    args = NULL;
    n = resp_split_inline(" \t ", 3, &args);
    assert_int_equal(n, 0);
    free(args);

    /* Escapes in double quotes: \n \r \t \b \a, a backslash before anything else is dropped. */
    args = NULL;
    const char l2[] = "\"\\n\\r\\t\\b\\a\\q\\\\\"";
    n = resp_split_inline(l2, sizeof(l2) - 1, &args);
    assert_int_equal(n, 1);
    assert_int_equal(args[0].len, 7);
    assert_memory_equal(args[0].ptr, "\n\r\t\b\aq\\", 7);
    free_args(args, n);

    /* An incomplete \x escape is kept literally, without the backslash. */
    args = NULL;
    const char l3[] = "\"\\xZ1\"";
    n = resp_split_inline(l3, sizeof(l3) - 1, &args);
    assert_int_equal(n, 1);
    assert_int_equal(args[0].len, 3);
    assert_memory_equal(args[0].ptr, "xZ1", 3);
    free_args(args, n);

    /* Unbalanced quotes. */
    args = NULL;
    assert_int_equal(resp_split_inline("\"abc", 4, &args), -1);
    assert_int_equal(resp_split_inline("'abc", 4, &args), -1);
    assert_int_equal(resp_split_inline("'abc'def", 8, &args), -1);
    /* A quote closed only by the escaped quote is still open. */
    assert_int_equal(resp_split_inline("\"abc\\\"", 6, &args), -1);
}

/* One parse of a request by a parser whose client has not authenticated. */
static resp_status parse_unauthenticated(const char *req, resp_parser *p) {
    resp_parser_init(p, 1 << 20);
    p->unauthenticated = 1;
    size_t consumed;
    return resp_parse(p, req, strlen(req), &consumed);
}

static void test_unauthenticated_limits(void **state) {
    (void)state;
    resp_parser p;
    assert_int_equal(parse_unauthenticated("*11\r\n", &p), RESP_ERROR);
    assert_string_equal(p.error, "ERR Protocol error: unauthenticated multibulk length");
    resp_parser_free(&p);
    assert_int_equal(parse_unauthenticated("*2\r\n$4\r\nAUTH\r\n$16385\r\n", &p), RESP_ERROR);
    assert_string_equal(p.error, "ERR Protocol error: unauthenticated bulk length");
    resp_parser_free(&p);
    /* At the limits: still parsing. */
    assert_int_equal(parse_unauthenticated("*10\r\n$16384\r\n", &p), RESP_NEED_MORE);
    resp_parser_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_multibulk),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_bytewise_multibulk),
        cmocka_unit_test(test_bytewise_inline),
        cmocka_unit_test(test_binary_safe_bulk),
        cmocka_unit_test(test_empty_bulk),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_inline_empty_line_skipped),
        cmocka_unit_test(test_blank_line_then_multibulk),
        cmocka_unit_test(test_empty_multibulk_skipped),
        cmocka_unit_test(test_error_multibulk_length),
        cmocka_unit_test(test_error_expected_dollar),
        cmocka_unit_test(test_error_bulk_length),
        cmocka_unit_test(test_error_too_big_inline),
        cmocka_unit_test(test_error_unbalanced_quotes),
        cmocka_unit_test(test_error_too_big_mbulk_count),
        cmocka_unit_test(test_take_args),
        cmocka_unit_test(test_parsed_arguments_memory),
        cmocka_unit_test(test_big_bulk_in_pieces),
        cmocka_unit_test(test_big_bulk_grows_as_it_arrives),
        cmocka_unit_test(test_unauthenticated_limits),
        cmocka_unit_test(test_split_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
