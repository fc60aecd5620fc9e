/* Read-only tables for the scripts' sandbox. Redis 7 patches its Lua so that the libraries
 * and the globals are read-only in place; stock Lua 5.1 cannot refuse a write to a key a table
 * already has, so tidekv shows scripts a view instead: an empty table whose hidden metatable
 * reads through to the real one and refuses writes. The readers scripts get here (next, pairs,
 * ipairs, rawget, table.foreach) see through a view, so a view walks and reads as the table it
 * shows, while nothing hands a script the real table. */
#ifndef TIDEKV_SCRIPT_READONLY_H
#define TIDEKV_SCRIPT_READONLY_H

#include <lua.h>

#define ERR_READONLY_TABLE "Attempt to modify a readonly table"

/* Replaces the table on top with a read-only view of it. */
void readonly_view_make(lua_State *L);
/* Whether the value at idx is a read-only view. */
int readonly_view_is(lua_State *L, int idx);
/* When the value at idx is a view, pushes the table it shows and returns 1; else 0. For C
 * code that reads a table whole (cmsgpack.pack), which must not hand it to a script. */
int readonly_view_push_shown(lua_State *L, int idx);

/* Replaces field name of the table on top (rawset, table.insert, …: a function that writes raw
 * into its first argument) with one that refuses a view first: a raw field in a view would
 * shadow the table it shows for every later script on the state. */
void readonly_guard_raw_write(lua_State *L, const char *name);

/* Replaces next, pairs, ipairs, rawget, getmetatable, setmetatable and table.foreach in the
 * real globals (before they are protected) with versions that treat a view as the table it
 * shows: reads see its entries, getmetatable gives nil, setmetatable refuses. */
void readonly_open_readers(lua_State *L);

#endif
