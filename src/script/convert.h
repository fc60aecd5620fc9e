/* Values between Redis replies and Lua, as Redis converts them for scripts:
 * a command's reply (RESP2 or RESP3 bytes) becomes a Lua value for redis.call, and a script's
 * result becomes the reply to its caller. */
#ifndef TIDEKV_SCRIPT_CONVERT_H
#define TIDEKV_SCRIPT_CONVERT_H

#include <lua.h>
#include <stddef.h>

#include "proto/reply.h"

/* Pushes the Lua value of the one reply at p (RESP2: integer → number, bulk → string, null →
 * false, array → table, status → {ok=…}, error → {err=…}; RESP3 adds map → {map={…}}, set →
 * {set={…}}, null → nil, boolean, double → {double=…}, big number → {big_number=…}, verbatim →
 * {verbatim_string={format=…, string=…}}). Returns the bytes it used, or 0 (nothing pushed)
 * if p holds no whole well-formed reply. */
size_t script_push_reply(lua_State *L, const char *p, size_t len);

/* Pushes an error table {err="CODE message"} as Redis builds it from an error text: "-CODE
 * message" (an error reply's line) keeps its code, any other text gets "ERR " before it.
 * Trailing CR/LF go. */
void script_push_error(lua_State *L, const char *text, size_t len);

/* Writes the value on the top of L's stack as a reply into r (and pops it): string → bulk,
 * number → integer (truncated), true → 1 and false → null (a script that chose RESP3 with
 * redis.setresp: booleans), nil → null, a table with err / ok / double / big_number / map / set /
 * verbatim_string → that reply, any other table → an array up to its first nil. */
void script_reply_value(lua_State *L, reply *r, int script_resp);

/* The error message of an error table (its "err" field, a string or a number as its text),
 * pushed and returned; NULL (nothing pushed) if the value at idx has none. */
const char *script_push_error_text(lua_State *L, int idx);

#endif
