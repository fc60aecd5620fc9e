#include "script/readonly.h"

#include <lauxlib.h>

/* An assignment into a view: the error where the script assigns, as Redis words it. */
static int refuse_write(lua_State *L) { return luaL_error(L, ERR_READONLY_TABLE); }

/* A write into a view through a library function (rawset, setmetatable, …): Redis raises
 * that one from inside the function, so its text has no script position. */
static int refuse_raw_write(lua_State *L) {
    lua_pushliteral(L, ERR_READONLY_TABLE);
    return lua_error(L);
}

void readonly_view_make(lua_State *L) {
    lua_newtable(L); /* the view */
    lua_newtable(L); /* its metatable */
    lua_pushstring(L, "__index");
    lua_pushvalue(L, -4);
    lua_rawset(L, -3);
    lua_pushstring(L, "__newindex");
    lua_pushcfunction(L, refuse_write);
    lua_rawset(L, -3);
    /* getmetatable gets this, not the metatable: the table behind stays out of reach. */
    lua_pushstring(L, "__metatable");
    lua_pushboolean(L, 0);
    lua_rawset(L, -3);
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

int readonly_view_is(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
    lua_pushstring(L, "__newindex");
    lua_rawget(L, -2);
    int view = lua_tocfunction(L, -1) == refuse_write;
    lua_pop(L, 2);
    return view;
}

int readonly_view_push_shown(lua_State *L, int idx) {
    if (!readonly_view_is(L, idx)) return 0;
    lua_getmetatable(L, idx);
    lua_pushstring(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    return 1;
}

/* Replaces the value at idx (absolute), when it is a view, with the table it shows. Only the
 * readers below use it, and none of them gives that table to a script. */
static void see_through(lua_State *L, int idx) {
    if (readonly_view_push_shown(L, idx)) lua_replace(L, idx);
}

/* ---- writes into a view through raw functions ---- */

static int guarded_raw_write(lua_State *L) {
    if (readonly_view_is(L, 1)) return refuse_raw_write(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void readonly_guard_raw_write(lua_State *L, const char *name) {
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, guarded_raw_write, 1);
    lua_setfield(L, -2, name);
}

/* ---- the readers: Lua 5.1's, seeing through views ---- */

/* next(t [, key]): the entry after key, as the table the view shows has it. */
static int see_through_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    see_through(L, 1);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

/* pairs(t): the iterator over t itself (the view, not the table behind it). */
static int see_through_pairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* see_through_next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int ipairs_step(lua_State *L) {
    int i = luaL_checkint(L, 2) + 1;
    luaL_checktype(L, 1, LUA_TTABLE);
    see_through(L, 1);
    lua_pushinteger(L, i);
    lua_rawgeti(L, 1, i);
    return lua_isnil(L, -1) ? 0 : 2;
}

static int see_through_ipairs(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* ipairs_step */
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

static int see_through_rawget(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    see_through(L, 1);
    lua_rawget(L, 1);
    return 1;
}

/* table.foreach(t, f): f(key, value) for each entry until one returns a value. */
static int see_through_foreach(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    see_through(L, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pushvalue(L, 2);
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_call(L, 2, 1);
        if (!lua_isnil(L, -1)) return 1;
        lua_pop(L, 2);
    }
    return 0;
}

/* getmetatable(v): Lua's, of the table behind a view. The view's own metatable stays hidden,
 * and so does any real one behind a view that has no __metatable stand-in. */
static int view_getmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    int view = readonly_view_is(L, 1);
    see_through(L, 1);
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (luaL_getmetafield(L, 1, "__metatable")) return 1;
    if (view) lua_pushnil(L);
    return 1;
}

/* setmetatable(t, mt): refused for a view as any write. */
static int view_setmetatable(lua_State *L) {
    int type = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table expected");
    if (readonly_view_is(L, 1)) return refuse_raw_write(L);
    if (luaL_getmetafield(L, 1, "__metatable")) return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

void readonly_open_readers(lua_State *L) {
    lua_pushcfunction(L, see_through_next);
    lua_setglobal(L, "next");
    lua_pushcfunction(L, see_through_next); /* pairs's own, not equal to next, as in Lua 5.1 */
    lua_pushcclosure(L, see_through_pairs, 1);
    lua_setglobal(L, "pairs");
    lua_pushcfunction(L, ipairs_step);
    lua_pushcclosure(L, see_through_ipairs, 1);
    lua_setglobal(L, "ipairs");
    lua_pushcfunction(L, see_through_rawget);
    lua_setglobal(L, "rawget");
    lua_pushcfunction(L, view_getmetatable);
    lua_setglobal(L, "getmetatable");
    lua_pushcfunction(L, view_setmetatable);
    lua_setglobal(L, "setmetatable");
    lua_getglobal(L, "table");
    lua_pushcfunction(L, see_through_foreach);
    lua_setfield(L, -2, "foreach");
    lua_pop(L, 1);
}
