/* cmsgpack for scripts: MessagePack (github.com/msgpack/msgpack, spec.md) as Redis's bundled
 * library packs and unpacks it. Integral numbers pack as the smallest integer format, other
 * numbers as float 32 when that keeps them exact, else float 64; strings as str; a table whose
 * keys are exactly 1..n as an array, any other as a map; nil, functions and the rest as nil. */
#include <float.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "script/lualibs.h"
#include "script/readonly.h"
#include "util/buf.h"

/* Tables nested deeper than this pack as nil, as Redis's do: a table holding itself ends. */
#define PACK_MAX_NESTING 16
/* The Lua stack slots packing takes at most: a table's level holds three (the table behind a
 * protected library, a key and a value). */
#define PACK_STACK_SLOTS (3 * (PACK_MAX_NESTING + 1))

#define ERR_TRUNCATED "Missing bytes in input."
#define ERR_BAD_FORMAT "Bad data format in input."
#define ERR_TOO_MANY "too many return values at once; use unpack_one or unpack_limit instead."

/* ---- pack ---- */

/* A format byte and the low `bytes` bytes of v, big-endian. */
static void put_tagged(buf *out, uint8_t tag, uint64_t v, int bytes) {
    buf_append_byte(out, tag);
    for (int i = bytes - 1; i >= 0; i--) buf_append_byte(out, (uint8_t)(v >> (8 * i)));
}

static void pack_integer(buf *out, int64_t v) {
    uint64_t u = (uint64_t)v;
    if (v >= 0) {
        if (v <= 0x7f) buf_append_byte(out, (uint8_t)v);
        else if (v <= 0xff) put_tagged(out, 0xcc, u, 1);
        else if (v <= 0xffff) put_tagged(out, 0xcd, u, 2);
        else if (v <= 0xffffffff) put_tagged(out, 0xce, u, 4);
        else put_tagged(out, 0xcf, u, 8);
    } else {
        if (v >= -32) buf_append_byte(out, (uint8_t)u); /* negative fixint: the byte is v */
        else if (v >= INT8_MIN) put_tagged(out, 0xd0, u, 1);
        else if (v >= INT16_MIN) put_tagged(out, 0xd1, u, 2);
        else if (v >= INT32_MIN) put_tagged(out, 0xd2, u, 4);
        else put_tagged(out, 0xd3, u, 8);
    }
}

static void pack_number(buf *out, lua_Number n) {
    /* 2^63 is exact as a double; every integral value below it and from -2^63 fits int64. */
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && floor(n) == n) {
        pack_integer(out, (int64_t)n);
        return;
    }
    /* A finite double beyond float's range does not convert (undefined behaviour). */
    int float_fits = !isfinite(n) || fabs(n) <= FLT_MAX;
    float f = float_fits ? (float)n : 0;
    if (float_fits && (lua_Number)f == n) {
        uint32_t bits;
        memcpy(&bits, &f, sizeof(bits));
        put_tagged(out, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &n, sizeof(bits));
        put_tagged(out, 0xcb, bits, 8);
    }
}

static void pack_string(buf *out, const char *s, size_t len) {
    if (len < 32) buf_append_byte(out, (uint8_t)(0xa0 | len));
    else if (len <= 0xff) put_tagged(out, 0xd9, len, 1);
    else if (len <= 0xffff) put_tagged(out, 0xda, len, 2);
    else put_tagged(out, 0xdb, len, 4);
    buf_append(out, s, len);
}

/* The header of an array (map) of n entries: fix, 16 or 32 bits. */
static void pack_container(buf *out, uint8_t fix, uint8_t tag16, size_t n) {
    if (n <= 15) buf_append_byte(out, (uint8_t)(fix | n));
    else if (n <= 0xffff) put_tagged(out, tag16, n, 2);
    else put_tagged(out, tag16 + 1, n, 4);
}

/* Counts the table's entries into *count; whether its keys are exactly 1..count. */
static int table_is_array(lua_State *L, int idx, size_t *count) {
    size_t n = 0;
    lua_Number max = 0;
    int array = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
        lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k >= 1 && floor(k) == k) max = k > max ? k : max;
        else array = 0;
    }
    *count = n;
    return array && max == (lua_Number)n;
}

static void pack_value(lua_State *L, int idx, buf *out, int level);

static void pack_map(lua_State *L, int idx, buf *out, size_t n, int level) {
    pack_container(out, 0x80, 0xde, n);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);
        pack_value(L, top - 1, out, level + 1);
        pack_value(L, top, out, level + 1);
        lua_pop(L, 1);
    }
}

static void pack_table(lua_State *L, int idx, buf *out, int level) {
    size_t n;
    /* A protected library packs as the table it shows, as Redis's read-only tables do. */
    int shown = readonly_view_push_shown(L, idx);
    if (shown) idx = lua_gettop(L);
    if (table_is_array(L, idx, &n)) {
        pack_container(out, 0x90, 0xdc, n);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (int)i);
            pack_value(L, lua_gettop(L), out, level + 1);
            lua_pop(L, 1);
        }
    } else {
        pack_map(L, idx, out, n, level);
    }
    if (shown) lua_pop(L, 1);
}

static void pack_value(lua_State *L, int idx, buf *out, int level) {
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        buf_append_byte(out, lua_toboolean(L, idx) ? 0xc3 : 0xc2);
        break;
    case LUA_TNUMBER:
        pack_number(out, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        pack_string(out, s, len);
        break;
    }
    case LUA_TTABLE:
        if (level < PACK_MAX_NESTING) pack_table(L, idx, out, level);
        else buf_append_byte(out, 0xc0); /* too deep: nil */
        break;
    default:
        buf_append_byte(out, 0xc0);
        break;
    }
}

/* cmsgpack.pack(v, …): each argument packed, one after the other. */
static int msgpack_pack(lua_State *L) {
    int n = lua_gettop(L);
    if (n == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    luaL_checkstack(L, PACK_STACK_SLOTS, "too many arguments to pack"); /* no error once out is allocated */
    buf out;
    buf_init(&out);
    for (int i = 1; i <= n; i++) pack_value(L, i, &out, 0);
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    buf_free(&out);
    return 1;
}

/* ---- unpack ---- */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static void need(lua_State *L, const reader *r, uint64_t n) {
    if ((uint64_t)(r->end - r->p) < n) luaL_error(L, ERR_TRUNCATED);
}

static uint64_t read_uint(lua_State *L, reader *r, int bytes) {
    need(L, r, (uint64_t)bytes);
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | r->p[i];
    r->p += bytes;
    return v;
}

/* The signed value of the low `bytes` bytes of u (two's complement). */
static int64_t sign_extend(uint64_t u, int bytes) {
    uint64_t sign = (uint64_t)1 << (8 * bytes - 1);
    if (!(u & sign)) return (int64_t)u;
    uint64_t magnitude = ((~u) & (sign - 1)) + 1; /* up to 2^63, as uint64 */
    return magnitude == sign && bytes == 8 ? INT64_MIN : -(int64_t)magnitude;
}

static void push_bytes(lua_State *L, reader *r, uint64_t len) {
    need(L, r, len);
    lua_pushlstring(L, (const char *)r->p, (size_t)len);
    r->p += len;
}

static void push_value(lua_State *L, reader *r, int depth);

/* An array or map of n entries, read one by one: nothing is allocated for what the input only
 * declares (and, as in Redis, a nil in an array leaves a hole that # may stop at). */
static void push_container(lua_State *L, reader *r, uint64_t n, int map, int depth) {
    if (depth >= MSGPACK_MAX_DEPTH)
        luaL_error(L, "MessagePack input nested too deep (more than %d levels)", MSGPACK_MAX_DEPTH);
    luaL_checkstack(L, 3, "MessagePack input nested too deep");
    lua_newtable(L);
    for (uint64_t i = 1; i <= n; i++) {
        if (map) {
            push_value(L, r, depth + 1);
            push_value(L, r, depth + 1);
            lua_rawset(L, -3);
        } else {
            push_value(L, r, depth + 1);
            lua_rawseti(L, -2, (int)i); /* i < 2^31: each entry took a byte of the input */
        }
    }
}

static void push_double_bits(lua_State *L, uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof(d));
    lua_pushnumber(L, d);
}

static void push_float_bits(lua_State *L, uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof(f));
    lua_pushnumber(L, (lua_Number)f);
}

static void push_value(lua_State *L, reader *r, int depth) {
    need(L, r, 1);
    uint8_t tag = *r->p++;
    if (tag <= 0x7f) lua_pushnumber(L, tag);
    else if (tag <= 0x8f) push_container(L, r, tag & 0x0f, 1, depth);
    else if (tag <= 0x9f) push_container(L, r, tag & 0x0f, 0, depth);
    else if (tag <= 0xbf) push_bytes(L, r, tag & 0x1f);
    else if (tag >= 0xe0) lua_pushnumber(L, (lua_Number)(int8_t)tag);
    else switch (tag) {
        case 0xc0: lua_pushnil(L); break;
        case 0xc2: lua_pushboolean(L, 0); break;
        case 0xc3: lua_pushboolean(L, 1); break;
        case 0xd9: push_bytes(L, r, read_uint(L, r, 1)); break;
        case 0xda: push_bytes(L, r, read_uint(L, r, 2)); break;
        case 0xdb: push_bytes(L, r, read_uint(L, r, 4)); break;
        case 0xca: push_float_bits(L, (uint32_t)read_uint(L, r, 4)); break;
        case 0xcb: push_double_bits(L, read_uint(L, r, 8)); break;
        case 0xcc: lua_pushnumber(L, (lua_Number)read_uint(L, r, 1)); break;
        case 0xcd: lua_pushnumber(L, (lua_Number)read_uint(L, r, 2)); break;
        case 0xce: lua_pushnumber(L, (lua_Number)read_uint(L, r, 4)); break;
        /* uint 64 reads as int 64 (2^64 - 1 is -1), as Redis's cmsgpack reads it. */
        case 0xcf: lua_pushnumber(L, (lua_Number)sign_extend(read_uint(L, r, 8), 8)); break;
        case 0xd0: lua_pushnumber(L, (lua_Number)sign_extend(read_uint(L, r, 1), 1)); break;
        case 0xd1: lua_pushnumber(L, (lua_Number)sign_extend(read_uint(L, r, 2), 2)); break;
        case 0xd2: lua_pushnumber(L, (lua_Number)sign_extend(read_uint(L, r, 4), 4)); break;
        case 0xd3: lua_pushnumber(L, (lua_Number)sign_extend(read_uint(L, r, 8), 8)); break;
        case 0xdc: push_container(L, r, read_uint(L, r, 2), 0, depth); break;
        case 0xdd: push_container(L, r, read_uint(L, r, 4), 0, depth); break;
        case 0xde: push_container(L, r, read_uint(L, r, 2), 1, depth); break;
        case 0xdf: push_container(L, r, read_uint(L, r, 4), 1, depth); break;
        default: luaL_error(L, ERR_BAD_FORMAT); /* 0xc1 (never used), bin and ext, as in Redis */
        }
}

/* Unpacks up to limit objects of the string at 1 from byte offset on (all of them when
 * both are 0). Returns them, after the offset of the next object (-1 when none is left) unless
 * all were asked for. */
static int unpack_from(lua_State *L, lua_Integer limit, lua_Integer offset) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    int all = limit == 0 && offset == 0;
    lua_settop(L, 1);
    reader r = {(const uint8_t *)s + offset, (const uint8_t *)s + len};
    int count = 0;
    while (r.p < r.end && (all || count < limit)) {
        luaL_checkstack(L, 1, ERR_TOO_MANY);
        push_value(L, &r, 0);
        count++;
    }
    if (all) return count;
    luaL_checkstack(L, 1, ERR_TOO_MANY);
    lua_pushinteger(L, r.p == r.end ? -1 : (lua_Integer)(r.p - (const uint8_t *)s));
    lua_insert(L, 2);
    return count + 1;
}

static int msgpack_unpack(lua_State *L) { return unpack_from(L, 0, 0); }

static int msgpack_unpack_one(lua_State *L) { return unpack_from(L, 1, luaL_optinteger(L, 2, 0)); }

static int msgpack_unpack_limit(lua_State *L) {
    return unpack_from(L, luaL_checkinteger(L, 2), luaL_optinteger(L, 3, 0));
}

int script_open_cmsgpack(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"pack", msgpack_pack},
        {"unpack", msgpack_unpack},
        {"unpack_one", msgpack_unpack_one},
        {"unpack_limit", msgpack_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, functions);
    /* The fields Redis's cmsgpack table has besides its functions. */
    static const char *const fields[][2] = {
        {"_NAME", "cmsgpack"},
        {"_VERSION", "lua-cmsgpack 0.4.0"},
        {"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"},
        {"_DESCRIPTION", "MessagePack C implementation for Lua"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        lua_pushstring(L, fields[i][1]);
        lua_setfield(L, -2, fields[i][0]);
    }
    return 1;
}
