/* A Lua state for the fuzz targets of a script library (fuzz_msgpack.c, fuzz_struct.c): the
 * standard libraries, the library under test as a global, and the target's harness code as the
 * global function `harness`. Made once per process. */
#ifndef TIDEKV_FUZZ_LUA_HARNESS_H
#define TIDEKV_FUZZ_LUA_HARNESS_H

#include <lauxlib.h>
#include <lualib.h>

#include "fuzz.h"

static inline lua_State *lua_harness(const char *library, lua_CFunction open, const char *harness) {
    static lua_State *L;
    if (L) return L;
    L = luaL_newstate();
    if (!L) fuzz_fail("no Lua state", __FILE__, __LINE__);
    luaL_openlibs(L);
    open(L);
    lua_setglobal(L, library);
    if (luaL_loadstring(L, harness) != 0) fuzz_fail(lua_tostring(L, -1), __FILE__, __LINE__);
    lua_setglobal(L, "harness");
    return L;
}

#endif
