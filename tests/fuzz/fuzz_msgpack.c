/* Fuzzes the scripts' MessagePack decoder (src/script/msgpack.c): the input is what a script
 * hands cmsgpack.unpack. It must unpack or raise an error message, never crash or read past
 * the input; what it unpacks packs again into as many objects (unless a table nested too deep
 * to pack was a key); unpack_limit's next offset lies inside the input. */
#include "lua_harness.h"
#include "script/lualibs.h"

static const char HARNESS[] =
    "local data = ...\n"
    "local function pack_n(...) return {n = select('#', ...), ...} end\n"
    "local r = pack_n(pcall(cmsgpack.unpack, data))\n"
    "if not r[1] then\n"
    "  assert(type(r[2]) == 'string', 'unpack raised a non-message')\n"
    "elseif r.n > 1 then\n"
    "  local again = pack_n(pcall(cmsgpack.unpack, cmsgpack.pack(unpack(r, 2, r.n))))\n"
    /* A table nested 16 deep packs as nil, which as a map key does not unpack. */
    "  assert(again[1] and again.n == r.n or again[2] == 'table index is nil', 'repacking changed the objects')\n"
    "end\n"
    "if #data > 0 then\n"
    "  local offset = data:byte(1) % (#data + 1)\n"
    "  local ok, next_offset = pcall(cmsgpack.unpack_limit, data, data:byte(#data) % 3, offset)\n"
    "  if ok and data:byte(#data) % 3 > 0 then\n"
    "    assert(next_offset == -1 or (next_offset > offset and next_offset < #data), 'bad next offset')\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = lua_harness("cmsgpack", script_open_cmsgpack, HARNESS);
    lua_getglobal(L, "harness");
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != 0) fuzz_fail(lua_tostring(L, -1), __FILE__, __LINE__);
    FUZZ_CHECK(lua_gettop(L) == 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
