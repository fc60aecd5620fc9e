#include "script/convert.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/num.h"

/* ---- replies → Lua ---- */

/* The length of the header line at p (up to CRLF, without it), or -1 if it is not whole. */
static long line_length(const char *p, size_t len) {
    for (size_t i = 0; i + 1 < len; i++)
        if (p[i] == '\r' && p[i + 1] == '\n') return (long)i;
    return -1;
}

static void set_field_bool(lua_State *L, const char *name, int value) {
    lua_pushstring(L, name);
    lua_pushboolean(L, value);
    lua_rawset(L, -3);
}

/* Wraps the value on top of the stack as {name=value}. */
static void wrap_in_field(lua_State *L, const char *name) {
    lua_newtable(L);
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_remove(L, -2);
}

void script_push_error(lua_State *L, const char *text, size_t len) {
    buf msg;
    buf_init(&msg);
    /* "-CODE message" keeps its code (one word alone is a message); any other text gets ERR. */
    int coded = len > 0 && text[0] == '-';
    if (coded) text++, len--;
    if (!coded || !memchr(text, ' ', len)) buf_append_str(&msg, "ERR ");
    while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == '\n')) len--;
    buf_append(&msg, text, len);
    lua_newtable(L);
    lua_pushstring(L, "err");
    lua_pushlstring(L, msg.data, msg.len);
    lua_rawset(L, -3);
    buf_free(&msg);
}

static size_t push_value(lua_State *L, const char *p, size_t len);

/* Pushes n values that follow one another from p into the table on top: as an array (index
 * i), or as pairs (key then value, with as_set: members mapped to true). */
static size_t push_elements(lua_State *L, const char *p, size_t len, long long n, int pairs, int as_set) {
    size_t at = 0;
    for (long long i = 1; i <= n; i++) {
        size_t used = push_value(L, p + at, len - at);
        if (used == 0) return 0;
        at += used;
        if (!pairs) {
            lua_rawseti(L, -2, (int)i);
            continue;
        }
        if (as_set) {
            lua_pushboolean(L, 1);
        } else {
            used = push_value(L, p + at, len - at);
            if (used == 0) {
                lua_pop(L, 1);
                return 0;
            }
            at += used;
        }
        if (lua_isnil(L, -2)) lua_pop(L, 2); /* a null key has no place in a table */
        else lua_rawset(L, -3);
    }
    return at;
}

/* An aggregate of n elements after its header (hlen bytes): array, map, set or push. */
static size_t push_aggregate(lua_State *L, char type, long long n, const char *p, size_t len, size_t hlen) {
    if (n < 0) { /* a RESP2 null array */
        lua_pushboolean(L, 0);
        return hlen;
    }
    lua_newtable(L);
    int pairs = type == '%' || type == '~' || type == '|';
    size_t used = n == 0 ? 0 : push_elements(L, p + hlen, len - hlen, n, pairs, type == '~');
    if (n != 0 && used == 0) {
        lua_pop(L, 1);
        return 0;
    }
    if (type == '%') wrap_in_field(L, "map");
    if (type == '~') wrap_in_field(L, "set");
    if (type == '|') { /* attributes are dropped: the reply is the value that follows */
        lua_pop(L, 1);
        size_t next = push_value(L, p + hlen + used, len - hlen - used);
        return next == 0 ? 0 : hlen + used + next;
    }
    return hlen + used;
}

/* A bulk or verbatim string of n bytes after its header. */
static size_t push_bulk(lua_State *L, char type, long long n, const char *p, size_t len, size_t hlen) {
    if (n < 0) {
        lua_pushboolean(L, 0);
        return hlen;
    }
    if ((unsigned long long)n + 2 > len - hlen) return 0;
    const char *s = p + hlen;
    if (s[n] != '\r' || s[n + 1] != '\n') return 0;
    if (type == '=' && n >= 4) { /* "txt:…" */
        lua_newtable(L);
        lua_pushstring(L, "format");
        lua_pushlstring(L, s, 3);
        lua_rawset(L, -3);
        lua_pushstring(L, "string");
        lua_pushlstring(L, s + 4, (size_t)n - 4);
        lua_rawset(L, -3);
        wrap_in_field(L, "verbatim_string");
    } else {
        lua_pushlstring(L, s, (size_t)n);
    }
    return hlen + (size_t)n + 2;
}

static size_t push_value(lua_State *L, const char *p, size_t len) {
    if (len < 3 || !lua_checkstack(L, 6)) return 0;
    long line = line_length(p, len);
    if (line < 1) return 0;
    const char *body = p + 1;
    size_t blen = (size_t)line - 1, hlen = (size_t)line + 2;
    long long n = 0;
    switch (p[0]) {
    case '+':
        lua_newtable(L);
        lua_pushstring(L, "ok");
        lua_pushlstring(L, body, blen);
        lua_rawset(L, -3);
        return hlen;
    case '-':
        script_push_error(L, p, blen + 1);
        set_field_bool(L, "ignore_error_stats_update", 1); /* Redis marks errors a command replied */
        return hlen;
    case ':':
        if (num_parse_ll(body, blen, &n) < 0) return 0;
        lua_pushnumber(L, (lua_Number)n);
        return hlen;
    case '_':
        lua_pushnil(L);
        return hlen;
    case '#':
        lua_pushboolean(L, blen == 1 && body[0] == 't');
        return hlen;
    case ',': {
        char tmp[64];
        size_t k = blen < sizeof(tmp) - 1 ? blen : sizeof(tmp) - 1;
        memcpy(tmp, body, k);
        tmp[k] = '\0';
        lua_pushnumber(L, strtod(tmp, NULL));
        wrap_in_field(L, "double");
        return hlen;
    }
    case '(':
        lua_pushlstring(L, body, blen);
        wrap_in_field(L, "big_number");
        return hlen;
    case '$':
    case '=':
        if (num_parse_ll(body, blen, &n) < 0) return 0;
        return push_bulk(L, p[0], n, p, len, hlen);
    case '*':
    case '>':
    case '%':
    case '~':
    case '|':
        if (num_parse_ll(body, blen, &n) < 0) return 0;
        return push_aggregate(L, p[0], n, p, len, hlen);
    default:
        return 0;
    }
}

size_t script_push_reply(lua_State *L, const char *p, size_t len) {
    int top = lua_gettop(L);
    size_t used = push_value(L, p, len);
    if (used == 0) lua_settop(L, top);
    return used;
}

/* ---- Lua → replies ---- */

const char *script_push_error_text(lua_State *L, int idx) {
    if (!lua_istable(L, idx)) return NULL;
    lua_pushstring(L, "err");
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    if (lua_isstring(L, -1)) return lua_tostring(L, -1); /* a number becomes its text, as in Redis */
    lua_pop(L, 1);
    return NULL;
}

/* A status or error line: CR and LF become spaces so that it stays one line. */
static void reply_line(reply *r, char type, const char *s, size_t len) {
    buf line;
    buf_init(&line);
    buf_append_byte(&line, (uint8_t)type);
    for (size_t i = 0; i < len; i++) buf_append_byte(&line, (s[i] == '\r' || s[i] == '\n') ? ' ' : (uint8_t)s[i]);
    buf_append(&line, "\r\n", 2);
    reply_encoded(r, line.data, line.len);
    buf_free(&line);
}

/* Lua numbers become integers as C truncates them; one no integer holds (NaN, ±huge) becomes
 * what x86's conversion gives, as in Redis. */
static long long lua_number_to_ll(lua_Number v) {
    if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
    return (long long)v;
}

/* Pushes the field `name` of the table at the top; returns its Lua type (it stays pushed). */
static int get_field(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    return lua_type(L, -1);
}

static long long count_pairs(lua_State *L) {
    long long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

/* The table on top is the map or set of a {map=…} / {set=…} reply. */
static void reply_pairs(lua_State *L, reply *r, int script_resp, int as_set) {
    long long n = count_pairs(L);
    if (as_set) reply_set(r, n);
    else reply_map(r, n);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2); /* a copy of the key, which lua_next needs back untouched */
        script_reply_value(L, r, script_resp);
        if (as_set) lua_pop(L, 1);
        else script_reply_value(L, r, script_resp);
    }
}

static void reply_array_table(lua_State *L, reply *r, int script_resp) {
    int n = 0;
    for (;; n++) {
        lua_rawgeti(L, -1, n + 1);
        int end = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (end) break;
    }
    reply_array(r, n);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        script_reply_value(L, r, script_resp);
    }
}

/* The table on top is {format=…, string=…}: a verbatim string (a bulk string in RESP2).
 * Returns 0, replying nothing, if it is not one. */
static int reply_verbatim_table(lua_State *L, reply *r) {
    lua_getfield(L, -1, "format");
    lua_getfield(L, -2, "string");
    size_t flen, slen;
    const char *format = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &flen) : NULL;
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &slen) : NULL;
    int ok = format && s && flen == 3;
    if (ok && r->resp == 3) {
        char header[32];
        int n = snprintf(header, sizeof(header), "=%zu\r\n", slen + 4);
        reply_encoded(r, header, (size_t)n);
        reply_encoded(r, format, 3);
        reply_encoded(r, ":", 1);
        reply_encoded(r, s, slen);
        reply_encoded(r, "\r\n", 2);
    } else if (ok) {
        reply_bulk(r, s, slen);
    }
    lua_pop(L, 2);
    return ok;
}

/* A table: a reply of the kind its fields say, or an array. */
static void reply_table(lua_State *L, reply *r, int script_resp) {
    size_t len;
    if (get_field(L, "err") == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &len);
        while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n')) len--;
        reply_line(r, '-', s, len);
    } else if (lua_pop(L, 1), get_field(L, "ok") == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &len);
        reply_line(r, '+', s, len);
    } else if (lua_pop(L, 1), get_field(L, "double") == LUA_TNUMBER) {
        reply_double(r, lua_tonumber(L, -1));
    } else if (lua_pop(L, 1), get_field(L, "big_number") == LUA_TSTRING) {
        const char *s = lua_tolstring(L, -1, &len);
        if (r->resp == 3) reply_line(r, '(', s, len);
        else reply_bulk(r, s, len);
    } else if (lua_pop(L, 1), get_field(L, "map") == LUA_TTABLE) {
        reply_pairs(L, r, script_resp, 0);
    } else if (lua_pop(L, 1), get_field(L, "set") == LUA_TTABLE) {
        reply_pairs(L, r, script_resp, 1);
    } else if (lua_pop(L, 1), get_field(L, "verbatim_string") == LUA_TTABLE && reply_verbatim_table(L, r)) {
    } else {
        lua_pop(L, 1);
        reply_array_table(L, r, script_resp);
        return;
    }
    lua_pop(L, 1);
}

void script_reply_value(lua_State *L, reply *r, int script_resp) {
    if (!lua_checkstack(L, 6)) { /* a table that holds itself, or nests too deep */
        reply_error(r, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    size_t len;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        const char *s = lua_tolstring(L, -1, &len);
        reply_bulk(r, s, len);
        break;
    }
    case LUA_TBOOLEAN: /* as the script's protocol has them: RESP2's 1 and null, or RESP3's booleans */
        if (script_resp == 2 && lua_toboolean(L, -1)) reply_int(r, 1);
        else if (script_resp == 2) reply_null(r);
        else if (r->resp == 3) reply_encoded(r, lua_toboolean(L, -1) ? "#t\r\n" : "#f\r\n", 4);
        else reply_int(r, lua_toboolean(L, -1));
        break;
    case LUA_TNUMBER:
        reply_int(r, lua_number_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE:
        reply_table(L, r, script_resp);
        break;
    default:
        reply_null(r);
    }
    lua_pop(L, 1);
}
