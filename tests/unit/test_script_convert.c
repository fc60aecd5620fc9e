/* Unit tests for the reply ↔ Lua conversions of scripts (src/script/convert.h) and the
 * shebang parser (src/script/shebang.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "script/convert.h"
#include "script/shebang.h"
#include "util/sha1.h"

/* ---- replies → Lua ---- */

/* Pushes the reply and runs check (a Lua expression over `v`, the value) in L; true expected. */
static void expect_lua(const char *resp, const char *check) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    size_t used = script_push_reply(L, resp, strlen(resp));
    assert_int_equal(used, strlen(resp));
    assert_int_equal(lua_gettop(L), 1);
    lua_setglobal(L, "v");
    char code[512];
    snprintf(code, sizeof(code), "return %s", check);
    assert_int_equal(luaL_dostring(L, code), 0);
    if (!lua_toboolean(L, -1)) {
        print_error("check failed for %s: %s\n", resp, check);
        fail();
    }
    lua_close(L);
}

static void test_resp2_to_lua(void **state) {
    (void)state;
    expect_lua(":42\r\n", "v == 42");
    expect_lua(":-7\r\n", "v == -7");
    expect_lua("$3\r\nabc\r\n", "v == 'abc'");
    expect_lua("$0\r\n\r\n", "v == ''");
    expect_lua("$-1\r\n", "v == false");
    expect_lua("*-1\r\n", "v == false");
    expect_lua("+OK\r\n", "type(v) == 'table' and v.ok == 'OK'");
    expect_lua("-ERR bad thing\r\n", "v.err == 'ERR bad thing' and v.ignore_error_stats_update == true");
    expect_lua("-WRONGTYPE Operation\r\n", "v.err == 'WRONGTYPE Operation'");
    expect_lua("-oneword\r\n", "v.err == 'ERR oneword'");
    expect_lua("*3\r\n:1\r\n$1\r\nx\r\n*1\r\n$-1\r\n", "v[1] == 1 and v[2] == 'x' and v[3][1] == false and #v == 3");
    expect_lua("*0\r\n", "type(v) == 'table' and #v == 0");
}

static void test_resp3_to_lua(void **state) {
    (void)state;
    expect_lua("_\r\n", "v == nil");
    expect_lua("#t\r\n", "v == true");
    expect_lua("#f\r\n", "v == false");
    expect_lua(",3.5\r\n", "v.double == 3.5");
    expect_lua(",inf\r\n", "v.double == math.huge");
    expect_lua("(12345678901234567890\r\n", "v.big_number == '12345678901234567890'");
    expect_lua("%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n", "v.map.a == 1 and v.map.b == nil");
    expect_lua("~2\r\n$1\r\nx\r\n$1\r\ny\r\n", "v.set.x == true and v.set.y == true");
    expect_lua("=8\r\ntxt:abcd\r\n", "v.verbatim_string.format == 'txt' and v.verbatim_string.string == 'abcd'");
    expect_lua("|1\r\n$1\r\nk\r\n$1\r\nv\r\n:5\r\n", "v == 5");
    expect_lua(">2\r\n$1\r\na\r\n:2\r\n", "v[1] == 'a' and v[2] == 2");
    expect_lua("*3\r\n:1\r\n_\r\n:3\r\n", "v[1] == 1 and v[2] == nil and v[3] == 3");
}

static void test_malformed_replies_push_nothing(void **state) {
    (void)state;
    static const char *const bad[] = {"", ":1", "$5\r\nab\r\n", "*2\r\n:1\r\n", "?x\r\n", ":x\r\n",
                                      "%1\r\n$1\r\na\r\n", "$-", "*1\r\n$3\r\nabcde"};
    lua_State *L = luaL_newstate();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(script_push_reply(L, bad[i], strlen(bad[i])), 0);
        assert_int_equal(lua_gettop(L), 0);
    }
    lua_close(L);
}

/* ---- Lua → replies ---- */

/* Evaluates expr in Lua and expects its reply (RESP version resp) to be want. */
static void expect_reply_from(int script_resp, int resp, const char *expr, const char *want) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char code[512];
    snprintf(code, sizeof(code), "return %s", expr);
    assert_int_equal(luaL_dostring(L, code), 0);
    buf out;
    buf_init(&out);
    reply r = {.out = &out, .resp = resp};
    script_reply_value(L, &r, script_resp);
    assert_int_equal(lua_gettop(L), 0);
    if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0) {
        print_error("%s (RESP%d): got \"%.*s\", want \"%s\"\n", expr, resp, (int)out.len, out.data ? out.data : "",
                    want);
        fail();
    }
    buf_free(&out);
    lua_close(L);
}

/* A script that kept RESP2 (the default) replying to a caller of protocol resp. */
static void expect_reply(int resp, const char *expr, const char *want) { expect_reply_from(2, resp, expr, want); }

static void test_lua_to_resp2(void **state) {
    (void)state;
    expect_reply(2, "'abc'", "$3\r\nabc\r\n");
    expect_reply(2, "42", ":42\r\n");
    expect_reply(2, "3.99", ":3\r\n");
    expect_reply(2, "-3.99", ":-3\r\n");
    expect_reply(2, "0/0", ":-9223372036854775808\r\n");
    expect_reply(2, "true", ":1\r\n");
    expect_reply(2, "false", "$-1\r\n");
    expect_reply(2, "nil", "$-1\r\n");
    expect_reply(2, "{1, 'a', {2}}", "*3\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n");
    expect_reply(2, "{1, 2, nil, 4}", "*2\r\n:1\r\n:2\r\n");
    expect_reply(2, "{ok='fine'}", "+fine\r\n");
    expect_reply(2, "{ok='two\\r\\nlines'}", "+two  lines\r\n");
    expect_reply(2, "{err='ERR bad'}", "-ERR bad\r\n");
    expect_reply(2, "{err='ERR bad\\n'}", "-ERR bad\r\n");
    expect_reply(2, "{err='ERR x', ok='y'}", "-ERR x\r\n");
    expect_reply(2, "{double=1.5}", "$3\r\n1.5\r\n");
    expect_reply(2, "{big_number='123'}", "$3\r\n123\r\n");
    expect_reply(2, "{map={a=1}}", "*2\r\n$1\r\na\r\n:1\r\n");
    expect_reply(2, "{set={a=true}}", "*1\r\n$1\r\na\r\n");
    expect_reply(2, "{err=5}", "*0\r\n"); /* a non-string err is no error: an (empty) array */
}

static void test_lua_to_resp3(void **state) {
    (void)state;
    expect_reply(3, "true", ":1\r\n");
    expect_reply(3, "false", "_\r\n");
    expect_reply_from(3, 3, "true", "#t\r\n");
    expect_reply_from(3, 3, "false", "#f\r\n");
    expect_reply_from(3, 2, "true", ":1\r\n");
    expect_reply_from(3, 2, "false", ":0\r\n");
    expect_reply(3, "nil", "_\r\n");
    expect_reply(3, "{verbatim_string={format='txt', string='abc'}}", "=7\r\ntxt:abc\r\n");
    expect_reply(2, "{verbatim_string={format='txt', string='abc'}}", "$3\r\nabc\r\n");
    expect_reply(3, "{double=1.5}", ",1.5\r\n");
    expect_reply(3, "{big_number='123'}", "(123\r\n");
    expect_reply(3, "{map={a=1}}", "%1\r\n$1\r\na\r\n:1\r\n");
    expect_reply(3, "{set={a=true}}", "~1\r\n$1\r\na\r\n");
}

static void test_self_referencing_table(void **state) {
    (void)state;
    lua_State *L = luaL_newstate();
    assert_int_equal(luaL_dostring(L, "local t = {} t[1] = t return t"), 0);
    buf out;
    buf_init(&out);
    reply r = {.out = &out, .resp = 2};
    script_reply_value(L, &r, 2);
    assert_non_null(strstr(out.data, "-ERR reached lua stack limit\r\n"));
    buf_free(&out);
    lua_close(L);
}

/* ---- shebang ---- */

static void expect_shebang(const char *body, int rc, int flags, size_t line, const char *err) {
    buf e;
    buf_init(&e);
    int got_flags;
    size_t got_line;
    assert_int_equal(script_parse_shebang(body, strlen(body), &got_flags, &got_line, &e), rc);
    if (rc == 0) {
        assert_int_equal(got_flags, flags);
        assert_int_equal(got_line, line);
    } else {
        assert_int_equal(e.len, strlen(err));
        assert_memory_equal(e.data, err, e.len);
    }
    buf_free(&e);
}

static void test_shebang(void **state) {
    (void)state;
    expect_shebang("return 1", 0, SCRIPT_FLAG_EVAL_COMPAT, 0, NULL);
    expect_shebang("#!lua\nreturn 1", 0, 0, 5, NULL);
    expect_shebang("#!lua flags=no-writes\nx", 0, SCRIPT_FLAG_NO_WRITES, 21, NULL);
    expect_shebang("#!lua   flags=no-writes,allow-oom  \nx", 0, SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM, 35, NULL);
    expect_shebang("#!lua flags=\nx", 0, 0, 12, NULL);
    expect_shebang("#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\n", 0,
                   SCRIPT_FLAG_ALLOW_STALE | SCRIPT_FLAG_NO_CLUSTER | SCRIPT_FLAG_ALLOW_CROSS_SLOT, 56, NULL);
    expect_shebang("#!lua", -1, 0, 0, "Invalid script shebang");
    expect_shebang("#!luajit\n", -1, 0, 0, "Unexpected engine in script shebang: #!luajit");
    expect_shebang("#!lua flags=no-writes,bad\n", -1, 0, 0, "Unexpected flag in script shebang: bad");
    expect_shebang("#!lua flags=no-writes,\n", -1, 0, 0, "Unexpected flag in script shebang: ");
    expect_shebang("#!lua name=lib\n", -1, 0, 0, "Unknown lua shebang option: name=lib");
}

/* ---- SHA-1 (script names) ---- */

static void test_sha1(void **state) {
    (void)state;
    char hex[41];
    sha1_hex("", 0, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    sha1_hex("abc", 3, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: a second block */
    sha1_hex(two_blocks, strlen(two_blocks), hex);
    assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char million[1000];
    memset(million, 'a', sizeof(million));
    sha1_hex(million, sizeof(million), hex);
    assert_string_equal(hex, "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp2_to_lua),
        cmocka_unit_test(test_resp3_to_lua),
        cmocka_unit_test(test_malformed_replies_push_nothing),
        cmocka_unit_test(test_lua_to_resp2),
        cmocka_unit_test(test_lua_to_resp3),
        cmocka_unit_test(test_self_referencing_table),
        cmocka_unit_test(test_shebang),
        cmocka_unit_test(test_sha1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
