#include "script/guards.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

/* ---- unpack ----
 * Lua 5.1's unpack counts its results in an int: unpack({}, 0, 2^31 - 1) overflows and writes
 * past the stack (CVE-2025-46817). This one counts in 64 bits, as Lua's later fix does. */
static int safe_unpack(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int first = luaL_optint(L, 2, 1);
    int last = luaL_opt(L, luaL_checkint, 3, (int)lua_objlen(L, 1));
    if (first > last) return 0;
    long long n = (long long)last - first + 1;
    if (n >= INT_MAX || !lua_checkstack(L, (int)n)) return luaL_error(L, "too many results to unpack");
    for (long long i = 0; i < n; i++) lua_rawgeti(L, 1, (int)(first + i));
    return (int)n;
}

/* ---- bit.tohex ----
 * Lua BitOp negates its digit count: INT32_MIN stays negative and overruns its buffer
 * (CVE-2024-31449). The count is taken as BitOp takes numbers (modulo 2^32) and INT32_MIN is
 * replaced by INT32_MIN + 1, which asks for the same (at most 8 upper-case digits). */
static int32_t as_bitop_int(lua_Number n) {
    union {
        lua_Number n;
        uint64_t bits;
    } u = {.n = n + 6755399441055744.0}; /* 2^52 + 2^51: the low 32 bits of the mantissa are n mod 2^32 */
    return (int32_t)(uint32_t)u.bits;
}

static int safe_tohex(lua_State *L) {
    if (lua_type(L, 2) == LUA_TNUMBER && as_bitop_int(lua_tonumber(L, 2)) == INT32_MIN) {
        lua_pushnumber(L, (lua_Number)INT32_MIN + 1);
        lua_replace(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* ---- cjson.encode ----
 * lua-cjson sizes its output buffer in an int: a string whose escaped form (up to 6 bytes per
 * byte) passes INT_MAX, or output that large in all, overflows it (CVE-2022-24834). The value is
 * measured first, at the most it could take, and refused past a bound well below that. */
#define ENCODE_MAX_BYTES ((long long)INT_MAX / 2)
/* Deeper than cjson's own limit can be raised usefully: past it cjson reports the depth itself. */
#define ENCODE_MEASURE_DEPTH 10000

/* The most bytes the value at idx can take once encoded, stopping once over the bound. */
static long long encoded_bound(lua_State *L, int idx, int depth, long long so_far) {
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: return so_far + 6 * (long long)lua_objlen(L, idx) + 2;
    case LUA_TTABLE: break;
    default: return so_far + 32; /* numbers, booleans, nil; other types are cjson's errors */
    }
    if (depth >= ENCODE_MEASURE_DEPTH || !lua_checkstack(L, 3)) return so_far;
    so_far += 2;
    lua_pushnil(L);
    while (so_far <= ENCODE_MAX_BYTES && lua_next(L, idx < 0 ? idx - 1 : idx)) {
        so_far = encoded_bound(L, lua_gettop(L) - 1, depth + 1, so_far + 1); /* the key */
        so_far = encoded_bound(L, lua_gettop(L), depth + 1, so_far);
        lua_pop(L, 1);
    }
    if (so_far > ENCODE_MAX_BYTES) lua_pop(L, 1); /* the key lua_next left */
    return so_far;
}

static int safe_encode(lua_State *L) {
    if (lua_gettop(L) >= 1 && encoded_bound(L, 1, 0, 0) > ENCODE_MAX_BYTES)
        return luaL_error(L, "Cannot serialise: the encoded value would be too long");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replaces table[name] (the table on top of the stack) with fn, which gets the old one as its
 * upvalue. */
static void wrap_field(lua_State *L, const char *name, lua_CFunction fn) {
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

void script_guard_builtins(lua_State *L) {
    lua_pushcfunction(L, safe_unpack);
    lua_setglobal(L, "unpack");
    lua_getglobal(L, "bit");
    wrap_field(L, "tohex", safe_tohex);
    lua_pop(L, 1);
    lua_getglobal(L, "cjson");
    wrap_field(L, "encode", safe_encode);
    lua_pop(L, 1);
}
