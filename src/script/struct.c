/* struct for scripts: binary records as the struct library Redis bundles reads and writes
 * them. A format is a string of options:
 *   > < = !n   big, little, native endianness; items aligned to min(size, n) (! alone: the
 *              machine's largest alignment; at first nothing is aligned)
 *   x          a zero byte of padding
 *   b B h H l L T   signed and unsigned char, short, long; size_t
 *   in In      a signed or unsigned integer of n bytes (n up to 32, int's size without)
 *   f d        float, double
 *   s          a zero-terminated string
 *   cn         n bytes (pack: the whole string for c0; unpack: c0 takes the length it just read)
 * Spaces are ignored. Integers travel as Lua numbers (doubles). */
#include <ctype.h>
#include <float.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "script/lualibs.h"

#define MAX_INT_SIZE 32

/* The machine's largest alignment, what "!" alone sets. */
struct widest_alignment {
    char c;
    union {
        double d;
        void *p;
        long l;
    } u;
};
#define NATIVE_ALIGN offsetof(struct widest_alignment, u)

typedef struct format {
    const char *p;
    int little; /* endianness of the items that follow */
    size_t align;
} format;

static int native_little(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void format_init(format *f, const char *p) {
    f->p = p;
    f->little = native_little();
    f->align = 1;
}

/* The number after an option, or fallback when none is written. */
static size_t read_count(lua_State *L, format *f, size_t fallback) {
    if (!isdigit((unsigned char)*f->p)) return fallback;
    size_t n = 0;
    while (isdigit((unsigned char)*f->p)) {
        int digit = *f->p++ - '0';
        if (n > (size_t)(INT_MAX - digit) / 10) luaL_error(L, "integral size overflow");
        n = n * 10 + (size_t)digit;
    }
    return n;
}

/* The next item of the format: its option in *opt and its size (0 for s and for the options
 * that only change endianness or alignment). Returns 0 at the end of the format. */
static int next_item(lua_State *L, format *f, char *opt, size_t *size) {
    for (;;) {
        char c = *f->p;
        if (c == '\0') return 0;
        f->p++;
        *opt = c;
        switch (c) {
        case ' ': continue;
        case '>': f->little = 0; continue;
        case '<': f->little = 1; continue;
        case '=': f->little = native_little(); continue;
        case '!': {
            size_t a = read_count(L, f, NATIVE_ALIGN);
            if (a == 0 || (a & (a - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", (int)a);
            f->align = a;
            continue;
        }
        case 'x': case 'b': case 'B': *size = 1; return 1;
        case 'h': case 'H': *size = sizeof(short); return 1;
        case 'l': case 'L': *size = sizeof(long); return 1;
        case 'T': *size = sizeof(size_t); return 1;
        case 'f': *size = sizeof(float); return 1;
        case 'd': *size = sizeof(double); return 1;
        case 's': *size = 0; return 1;
        case 'c': *size = read_count(L, f, 1); return 1;
        case 'i': case 'I':
            *size = read_count(L, f, sizeof(int));
            if (*size > MAX_INT_SIZE)
                luaL_error(L, "integral size %d is larger than limit of %d", (int)*size, MAX_INT_SIZE);
            return 1;
        default:
            return luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", c));
        }
    }
}

/* The padding before an item of that size at offset pos. An item whose size is no power of 2
 * (i3) gets the padding Redis's struct gives it, which is what this formula makes of it. */
static size_t padding(const format *f, char opt, size_t size, size_t pos) {
    if (size <= 1 || opt == 'c') return 0;
    size_t align = size < f->align ? size : f->align;
    return (align - (pos & (align - 1))) & (align - 1);
}

static int is_integer_option(char opt) { return strchr("bBhHlLTiI", opt) != NULL; }

static int is_signed_option(char opt) { return strchr("bhli", opt) != NULL; }

/* n as the 64-bit pattern it packs as, truncated toward zero. Out of range it packs as Redis's
 * does on x86-64: below -2^63 as -2^63, from 2^64 on (and NaN) as 0. */
static uint64_t integer_bits(lua_Number n) {
    if (n < 0) return n >= -9223372036854775808.0 ? (uint64_t)(int64_t)n : (uint64_t)INT64_MIN;
    return n < 18446744073709551616.0 ? (uint64_t)n : 0;
}

/* Writes the size bytes of v (bytes past its eight are 0) in the format's endianness. */
static void put_bytes(luaL_Buffer *b, const format *f, uint64_t v, size_t size) {
    char bytes[MAX_INT_SIZE] = {0};
    for (size_t i = 0; i < size && i < 8; i++) bytes[f->little ? i : size - 1 - i] = (char)(v >> (8 * i));
    luaL_addlstring(b, bytes, size);
}

/* Turns a float or double's bytes between native order and the format's. */
static void order_native(const format *f, unsigned char *bytes, size_t size) {
    if (f->little == native_little()) return;
    for (size_t i = 0; i < size / 2; i++) {
        unsigned char t = bytes[i];
        bytes[i] = bytes[size - 1 - i];
        bytes[size - 1 - i] = t;
    }
}

/* Writes a float or double's native bytes in the format's endianness. */
static void put_native(luaL_Buffer *b, const format *f, const void *value, size_t size) {
    unsigned char bytes[sizeof(double)];
    memcpy(bytes, value, size);
    order_native(f, bytes, size);
    luaL_addlstring(b, (const char *)bytes, size);
}

/* Packs one item from argument arg; returns its size. */
static size_t pack_item(lua_State *L, luaL_Buffer *b, const format *f, char opt, size_t size, int arg) {
    if (is_integer_option(opt)) {
        put_bytes(b, f, integer_bits(luaL_checknumber(L, arg)), size);
        return size;
    }
    switch (opt) {
    case 'x':
        luaL_addchar(b, '\0');
        return size;
    case 'f': {
        lua_Number n = luaL_checknumber(L, arg);
        /* A finite double beyond float's range does not convert (undefined behaviour). */
        float v = fabs(n) <= FLT_MAX || !isfinite(n) ? (float)n : (n > 0 ? HUGE_VALF : -HUGE_VALF);
        put_native(b, f, &v, sizeof(v));
        return size;
    }
    case 'd': {
        double v = luaL_checknumber(L, arg);
        put_native(b, f, &v, sizeof(v));
        return size;
    }
    case 'c': {
        size_t len;
        const char *s = luaL_checklstring(L, arg, &len);
        if (size == 0) size = len;
        luaL_argcheck(L, len >= size, arg + 1, "string too short"); /* Redis's names the next one */
        luaL_addlstring(b, s, size);
        return size;
    }
    default: { /* 's': the string and the zero Lua keeps after every string (zeros inside stay) */
        size_t len;
        const char *s = luaL_checklstring(L, arg, &len);
        luaL_addlstring(b, s, len + 1);
        return len + 1;
    }
    }
}

/* struct.pack(fmt, v, …) */
static int struct_pack(lua_State *L) {
    format f;
    format_init(&f, luaL_checkstring(L, 1));
    /* A nil after the arguments: the first one missing reads as nil, as in Redis's errors. */
    lua_pushnil(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int arg = 2;
    size_t pos = 0, size;
    char opt;
    while (next_item(L, &f, &opt, &size)) {
        for (size_t pad = padding(&f, opt, size, pos); pad > 0; pad--, pos++) luaL_addchar(&b, '\0');
        pos += pack_item(L, &b, &f, opt, size, opt == 'x' ? arg : arg++);
    }
    luaL_pushresult(&b);
    return 1;
}

/* The integer of size bytes at p, as a number. Of an integer wider than eight bytes only the
 * low eight count, as in Redis's struct. */
static lua_Number get_integer(const format *f, const uint8_t *p, size_t size, int is_signed) {
    uint64_t v = 0;
    for (size_t i = size < 8 ? size : 8; i-- > 0;) v = v << 8 | p[f->little ? i : size - 1 - i];
    if (!is_signed) return (lua_Number)v;
    if (size < 8 && size > 0) {
        uint64_t sign = (uint64_t)1 << (8 * size - 1);
        if (v & sign) return -(lua_Number)((~v & (sign - 1)) + 1);
        return (lua_Number)v;
    }
    return v >> 63 ? -(lua_Number)(~v) - 1 : (lua_Number)v;
}

static void get_native(const format *f, const uint8_t *p, void *value, size_t size) {
    unsigned char bytes[sizeof(double)];
    memcpy(bytes, p, size);
    order_native(f, bytes, size);
    memcpy(value, bytes, size);
}

/* Pushes one item read at data + pos (first values index of this unpack's results); returns
 * its size. */
static size_t unpack_item(lua_State *L, const format *f, char opt, size_t size, const uint8_t *data, size_t len,
                          size_t pos, int first_value) {
    const uint8_t *p = data + pos;
    if (opt == 's') {
        const uint8_t *end = memchr(p, '\0', len - pos);
        if (!end) luaL_error(L, "unfinished string in data");
        lua_pushlstring(L, (const char *)p, (size_t)(end - p));
        return (size_t)(end - p) + 1;
    }
    if (opt == 'c' && size == 0) { /* c0: as many bytes as the number just read says */
        if (lua_gettop(L) < first_value || lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "format 'c0' needs a previous size");
        lua_Number n = lua_tonumber(L, -1);
        lua_pop(L, 1);
        luaL_argcheck(L, n >= 0 && n <= (lua_Number)(len - pos), 2, "data string too short");
        size = (size_t)n;
    }
    luaL_argcheck(L, size <= len - pos, 2, "data string too short");
    if (is_integer_option(opt)) {
        lua_pushnumber(L, get_integer(f, p, size, is_signed_option(opt)));
    } else if (opt == 'f') {
        float v;
        get_native(f, p, &v, sizeof(v));
        lua_pushnumber(L, (lua_Number)v);
    } else if (opt == 'd') {
        double v;
        get_native(f, p, &v, sizeof(v));
        lua_pushnumber(L, (lua_Number)v);
    } else if (opt == 'c') {
        lua_pushlstring(L, (const char *)p, size);
    } /* 'x': skipped */
    return size;
}

/* struct.unpack(fmt, data [, pos]): the values, then the position after them. */
static int struct_unpack(lua_State *L) {
    format f;
    format_init(&f, luaL_checkstring(L, 1));
    size_t len;
    const uint8_t *data = (const uint8_t *)luaL_checklstring(L, 2, &len);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, start > 0, 3, "offset must be 1 or greater");
    lua_settop(L, 2);
    size_t pos = (size_t)start - 1, size;
    char opt;
    while (next_item(L, &f, &opt, &size)) {
        luaL_argcheck(L, pos <= len, 2, "data string too short");
        pos += padding(&f, opt, size, pos);
        luaL_argcheck(L, pos <= len, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        pos += unpack_item(L, &f, opt, size, data, len, pos, 3);
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return lua_gettop(L) - 2;
}

/* struct.size(fmt): the bytes a record of that format takes. */
static int struct_size(lua_State *L) {
    format f;
    format_init(&f, luaL_checkstring(L, 1));
    size_t pos = 0, size;
    char opt;
    while (next_item(L, &f, &opt, &size)) {
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        pos += padding(&f, opt, size, pos) + size;
    }
    lua_pushnumber(L, (lua_Number)pos);
    return 1;
}

int script_open_struct(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"pack", struct_pack},
        {"unpack", struct_unpack},
        {"size", struct_size},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_register(L, NULL, functions);
    return 1;
}
