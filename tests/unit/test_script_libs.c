/* Unit tests for the scripts' cmsgpack and struct libraries (src/script/lualibs.h) and the
 * read-only views of the sandbox (src/script/readonly.h), each run in a bare Lua state. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "script/lualibs.h"
#include "script/readonly.h"

/* A state with the standard libraries, cmsgpack, struct, hex(s) and a read-only view `ro` of
 * the table {a = 1, b = 'two', 10} with the view readers installed. */
static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    script_open_cmsgpack(L);
    lua_setglobal(L, "cmsgpack");
    script_open_struct(L);
    lua_setglobal(L, "struct");
    readonly_open_readers(L);
    assert_int_equal(luaL_dostring(L, "function hex(s) return (s:gsub('.', function(c) "
                                      "return string.format('%02x', c:byte()) end)) end "
                                      "ro = {a = 1, b = 'two', 10}"),
                     0);
    lua_getglobal(L, "ro");
    readonly_view_make(L);
    lua_setglobal(L, "ro");
    return L;
}

/* Runs `return <expr>` and expects true. */
static void expect_true(lua_State *L, const char *expr) {
    char code[1024];
    snprintf(code, sizeof(code), "return %s", expr);
    if (luaL_dostring(L, code) != 0) {
        print_error("%s raised: %s\n", expr, lua_tostring(L, -1));
        fail();
    }
    if (!lua_toboolean(L, -1)) {
        print_error("false: %s\n", expr);
        fail();
    }
    lua_settop(L, 0);
}

/* Runs code and expects an error whose message contains text. */
static void expect_error(lua_State *L, const char *code, const char *text) {
    if (luaL_dostring(L, code) == 0) {
        print_error("no error from: %s\n", code);
        fail();
    }
    const char *msg = lua_tostring(L, -1);
    if (!msg || !strstr(msg, text)) {
        print_error("%s raised %s, not %s\n", code, msg ? msg : "(not a string)", text);
        fail();
    }
    lua_settop(L, 0);
}

static void test_msgpack_pack_bytes(void **state) {
    (void)state;
    lua_State *L = new_state();
    expect_true(L, "hex(cmsgpack.pack(nil, true, false)) == 'c0c3c2'");
    expect_true(L, "hex(cmsgpack.pack(0, 127, 128, 255, 256, 65535, 65536)) == "
                   "'007fcc80ccffcd0100cdffffce00010000'");
    expect_true(L, "hex(cmsgpack.pack(4294967295, 4294967296)) == 'ceffffffffcf0000000100000000'");
    expect_true(L, "hex(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769)) == "
                   "'ffe0d0dfd080d1ff7fd18000d2ffff7fff'");
    expect_true(L, "hex(cmsgpack.pack(-2147483649)) == 'd3ffffffff7fffffff'");
    expect_true(L, "hex(cmsgpack.pack(1.5, 0.1)) == 'ca3fc00000cb3fb999999999999a'");
    expect_true(L, "hex(cmsgpack.pack(2^63)) == 'ca5f000000'");
    expect_true(L, "hex(cmsgpack.pack('', 'ab')) == 'a0a26162'");
    expect_true(L, "hex(cmsgpack.pack(string.rep('x', 32))):sub(1, 4) == 'd920'");
    expect_true(L, "hex(cmsgpack.pack(string.rep('x', 256))):sub(1, 6) == 'da0100'");
    expect_true(L, "hex(cmsgpack.pack({1, 2}, {a = 1}, {[2] = 1}, {})) == '920102' .. '81a16101' .. '810201' .. '90'");
    /* A table holding itself: arrays 16 deep, then nil. */
    expect_true(L, "(function() local t = {} t[1] = t return hex(cmsgpack.pack(t)) end)() == "
                   "string.rep('91', 16) .. 'c0'");
    expect_error(L, "cmsgpack.pack()", "MessagePack pack needs input.");
    lua_close(L);
}

static void test_msgpack_round_trips(void **state) {
    (void)state;
    lua_State *L = new_state();
    expect_true(L, "(function() local a, b, c, d = cmsgpack.unpack(cmsgpack.pack(1, 'x', true, -2.5)) "
                   "return a == 1 and b == 'x' and c == true and d == -2.5 end)()");
    expect_true(L, "cmsgpack.unpack(cmsgpack.pack({a = {1, 2, {b = false}}})).a[3].b == false");
    expect_true(L, "cmsgpack.unpack(cmsgpack.pack(-2^63)) == -2^63");
    expect_true(L, "cmsgpack.unpack(cmsgpack.pack(2^64)) == 2^64");
    expect_true(L, "#cmsgpack.unpack(cmsgpack.pack(string.rep('z', 70000))) == 70000");
    expect_true(L, "cmsgpack.unpack('\\208\\128') == -128");
    expect_true(L, "cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255') == -1"); /* as Redis */
    expect_true(L, "cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0') == -2^63");
    expect_true(L, "select('#', cmsgpack.unpack('')) == 0");
    /* unpack_one and unpack_limit: the next offset first, -1 at the end. */
    expect_true(L, "(function() local o, v = cmsgpack.unpack_one('\\1\\2\\3') return o == 1 and v == 1 end)()");
    expect_true(L, "(function() local o, v = cmsgpack.unpack_one('\\1\\2\\3', 2) return o == -1 and v == 3 end)()");
    expect_true(L, "(function() local o, a, b = cmsgpack.unpack_limit('\\1\\2\\3', 2, 1) "
                   "return o == -1 and a == 2 and b == 3 end)()");
    expect_true(L, "select('#', cmsgpack.unpack_limit('\\1\\2\\3', 0)) == 3");
    lua_close(L);
}

static void test_msgpack_hostile_input(void **state) {
    (void)state;
    lua_State *L = new_state();
    expect_error(L, "cmsgpack.unpack('\\146\\1')", "Missing bytes in input.");
    expect_error(L, "cmsgpack.unpack('\\193')", "Bad data format in input.");
    expect_error(L, "cmsgpack.unpack('\\212\\1x')", "Bad data format in input."); /* ext */
    expect_error(L, "cmsgpack.unpack('\\196\\2ab')", "Bad data format in input."); /* bin, as Redis */
    /* Declared lengths far past the input: an error, and nothing allocated for them. */
    expect_error(L, "cmsgpack.unpack('\\221\\255\\255\\255\\255')", "Missing bytes in input.");
    expect_error(L, "cmsgpack.unpack('\\223\\255\\255\\255\\255\\1')", "Missing bytes in input.");
    expect_error(L, "cmsgpack.unpack('\\219\\255\\255\\255\\255ab')", "Missing bytes in input.");
    expect_error(L, "cmsgpack.unpack('\\203\\1\\2')", "Missing bytes in input.");
    expect_error(L, "cmsgpack.unpack('\\129\\192\\1')", "table index is nil");
    expect_error(L, "cmsgpack.unpack(string.rep('\\145', 100000) .. '\\1')", "nested too deep");
    expect_error(L, "cmsgpack.unpack(string.rep('\\129\\1', 3001) .. '\\1')", "nested too deep");
    expect_true(L, "type(cmsgpack.unpack(string.rep('\\145', 3000) .. '\\1')) == 'table'");
    expect_error(L, "cmsgpack.unpack_one('\\1', -1)", "Invalid request to unpack with offset of -1");
    expect_error(L, "cmsgpack.unpack_one('\\1', 5)", "Start offset 5 greater than input length 1.");
    lua_close(L);
}

static void test_struct(void **state) {
    (void)state;
    lua_State *L = new_state();
    expect_true(L, "hex(struct.pack('<h>hb', 258, 258, -1)) == '02010102ff'");
    expect_true(L, "hex(struct.pack('<i3I', -2, 7)) == 'feffff07000000'");
    expect_true(L, "hex(struct.pack('<i10', -1)) == 'ffffffffffffffff0000'");
    expect_true(L, "hex(struct.pack('>fd', 1.5, 0.1)) == '3fc000003fb999999999999a'");
    expect_true(L, "hex(struct.pack('sc2c0x', 'ab', 'xyz', 'q')) == '61620078797100'");
    expect_true(L, "hex(struct.pack('!4bd', 1, 0)) == '01000000' .. '0000000000000000'");
    expect_true(L, "struct.size('!4bd') == 12 and struct.size('bhiT') == 15 and struct.size('!bhiT') == 16");
    expect_true(L, "(function() local a, b, n = struct.unpack('>hB', '\\255\\254\\7') "
                   "return a == -2 and b == 7 and n == 4 end)()");
    expect_true(L, "(function() local s, n = struct.unpack('bc0', '\\3abcd') return s == 'abc' and n == 5 end)()");
    expect_true(L, "(function() local s, n = struct.unpack('s', 'ab\\0cd') return s == 'ab' and n == 4 end)()");
    expect_true(L, "(function() local v, n = struct.unpack('b', '\\1\\2\\3', 3) return v == 3 and n == 4 end)()");
    expect_true(L, "struct.unpack('<i10', string.rep('\\255', 10)) == -1");
    expect_true(L, "struct.unpack('<i10', '\\1\\0\\0\\0\\0\\0\\0\\0\\0\\1') == 1"); /* the low 8 bytes */
    expect_true(L, "struct.unpack('i0', '') == 0 and hex(struct.pack('!bi3', 1, 2)) == '010000020000'");
    expect_error(L, "struct.unpack('i', 'abc')", "data string too short");
    expect_error(L, "struct.unpack('s', 'abc')", "unfinished string in data");
    expect_error(L, "struct.unpack('c0', 'abc')", "format 'c0' needs a previous size");
    expect_error(L, "struct.unpack('bc0', '\\9abc')", "data string too short");
    expect_error(L, "struct.unpack('b', 'a', 0)", "offset must be 1 or greater");
    expect_error(L, "struct.unpack('b', 'a', 5)", "data string too short");
    expect_error(L, "struct.pack('i33', 1)", "integral size 33 is larger than limit of 32");
    expect_error(L, "struct.pack('i99999999999', 1)", "integral size overflow");
    expect_error(L, "struct.pack('y')", "invalid format option 'y'");
    expect_error(L, "struct.pack('c5', 'abc')", "string too short");
    expect_error(L, "struct.pack('!3')", "alignment 3 is not a power of 2");
    expect_error(L, "struct.size('s')", "option 's' has no fixed size");
    lua_close(L);
}

static void test_readonly_views(void **state) {
    (void)state;
    lua_State *L = new_state();
    expect_true(L, "(function() local n = 0 for k, v in pairs(ro) do n = n + 1 end return n == 3 end)()");
    expect_true(L, "next(ro) ~= nil and rawget(ro, 'b') == 'two' and rawget(ro, 'zz') == nil");
    expect_true(L, "(function() local n = 0 for i, v in ipairs(ro) do n = n + v end return n == 10 end)()");
    expect_true(L, "(function() local n = 0 table.foreach(ro, function() n = n + 1 end) return n == 3 end)()");
    expect_true(L, "getmetatable(ro) == nil and type(ro) == 'table'");
    /* No reader hands out the table behind: every value it gives is the view's own. */
    expect_true(L, "select(2, pairs(ro)) == ro and select(2, ipairs(ro)) == ro");
    expect_error(L, "ro.a = 2", ERR_READONLY_TABLE);
    expect_error(L, "ro.new = 2", ERR_READONLY_TABLE);
    expect_error(L, "setmetatable(ro, {})", ERR_READONLY_TABLE);
    expect_error(L, "setmetatable(ro, nil)", ERR_READONLY_TABLE);
    expect_true(L, "rawget(ro, 'a') == 1 and ro.a == 1");
    /* Plain tables are as before. */
    expect_true(L, "getmetatable(setmetatable({}, {__metatable = 'x'})) == 'x'");
    expect_error(L, "setmetatable(setmetatable({}, {__metatable = 1}), {})", "cannot change a protected metatable");
    lua_close(L);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgpack_pack_bytes), cmocka_unit_test(test_msgpack_round_trips),
        cmocka_unit_test(test_msgpack_hostile_input), cmocka_unit_test(test_struct),
        cmocka_unit_test(test_readonly_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
