/* The libraries Redis bundles for scripts that Debian has no package of: cmsgpack
 * (MessagePack) and struct (binary records), written for tidekv after their documented
 * behaviour. Their decoders take hostile input: they never read past it, never allocate from a
 * declared length before checking that the input holds it, and raise a Lua error for anything
 * malformed or nested too deep. */
#ifndef TIDEKV_SCRIPT_LUALIBS_H
#define TIDEKV_SCRIPT_LUALIBS_H

#include <lua.h>

/* Objects nested deeper than this in a cmsgpack.unpack input are an error (Redis's own
 * cmsgpack runs out of Lua stack somewhere between 3,000 and 7,000 levels). */
#define MSGPACK_MAX_DEPTH 3000

/* Each pushes its library's table (cmsgpack.pack, unpack, unpack_one, unpack_limit;
 * struct.pack, unpack, size) and returns 1, as a luaopen_ function does. */
int script_open_cmsgpack(lua_State *L);
int script_open_struct(lua_State *L);

#endif
