/* Fuzzes the scripts' struct library (src/script/struct.c). The first byte says how many of
 * the next bytes are the format (up to 31); the rest is the data struct.unpack reads. Each
 * call must return or raise an error message, never crash or read past the data; unpack's
 * next position lies inside the data (or just past it), and its values pack again. */
#include "lua_harness.h"
#include "script/lualibs.h"

static const char HARNESS[] =
    "local fmt, data = ...\n"
    "local function pack_n(...) return {n = select('#', ...), ...} end\n"
    "local function check(r) assert(r[1] or type(r[2]) == 'string', 'raised a non-message') end\n"
    "check(pack_n(pcall(struct.size, fmt)))\n"
    "local r = pack_n(pcall(struct.unpack, fmt, data))\n"
    "check(r)\n"
    "if r[1] then\n"
    "  local pos = r[r.n]\n"
    "  assert(pos >= 1 and pos <= #data + 1, 'position outside the data')\n"
    "  check(pack_n(pcall(struct.pack, fmt, unpack(r, 2, r.n - 1))))\n"
    "end\n"
    "check(pack_n(pcall(struct.unpack, fmt, data, #data)))\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t format_len = data[0] % 32;
    if (format_len > size - 1) format_len = size - 1;
    lua_State *L = lua_harness("struct", script_open_struct, HARNESS);
    lua_getglobal(L, "harness");
    lua_pushlstring(L, (const char *)data + 1, format_len);
    lua_pushlstring(L, (const char *)data + 1 + format_len, size - 1 - format_len);
    if (lua_pcall(L, 2, 0, 0) != 0) fuzz_fail(lua_tostring(L, -1), __FILE__, __LINE__);
    FUZZ_CHECK(lua_gettop(L) == 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
