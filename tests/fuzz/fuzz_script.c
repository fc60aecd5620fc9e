/* Fuzzes the parsers of the scripting layer: the shebang line (src/script/shebang.h) and the
 * reply → Lua conversion (src/script/convert.h), whose Lua value is then written back as a
 * reply. The input is both a script body and a reply's bytes. */
#include <lauxlib.h>
#include <string.h>

#include "fuzz.h"
#include "script/convert.h"
#include "script/shebang.h"

static void fuzz_shebang(const char *data, size_t size) {
    buf err;
    buf_init(&err);
    int flags;
    size_t line;
    if (script_parse_shebang(data, size, &flags, &line, &err) < 0) {
        FUZZ_CHECK(err.len > 0);
    } else {
        FUZZ_CHECK(line <= size);
        FUZZ_CHECK(line == 0 || data[line] == '\n');
    }
    buf_free(&err);
}

static void fuzz_reply(const char *data, size_t size) {
    static lua_State *L;
    if (!L) L = luaL_newstate();
    size_t used = script_push_reply(L, data, size);
    FUZZ_CHECK(used <= size);
    FUZZ_CHECK(lua_gettop(L) == (used ? 1 : 0));
    if (!used) return;
    buf out;
    buf_init(&out);
    reply r = {.out = &out, .resp = 3};
    script_reply_value(L, &r, 3);
    FUZZ_CHECK(lua_gettop(L) == 0);
    /* What a script returns is always one whole reply. */
    FUZZ_CHECK(script_push_reply(L, out.data, out.len) == out.len);
    lua_settop(L, 0);
    buf_free(&out);
    lua_gc(L, LUA_GCCOLLECT, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = fuzz_alloc(size);
    memcpy(copy, data, size);
    fuzz_shebang(copy, size);
    fuzz_reply(copy, size);
    free(copy);
    return 0;
}
