/* Guards around the Lua builtins that Debian's libraries ship without Redis's fixes: unpack
 * (Lua 5.1), bit.tohex (Lua BitOp) and cjson.encode (lua-cjson) each crash the server on one
 * crafted call otherwise. */
#ifndef TIDEKV_SCRIPT_GUARDS_H
#define TIDEKV_SCRIPT_GUARDS_H

#include <lua.h>

/* Replaces unpack, bit.tohex and cjson.encode of a new state (its libraries open, not yet
 * protected) with checked versions that behave the same on every sound call. */
void script_guard_builtins(lua_State *L);

#endif
