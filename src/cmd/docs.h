/* COMMAND DOCS argument trees, built from a compact syntax string per command, in the
 * shape Redis 7 replies and redis-cli turns into its typing hints. */
#ifndef TIDEKV_DOCS_H
#define TIDEKV_DOCS_H

#include "proto/reply.h"

/* Replies the "arguments" array for a syntax such as
 *   "key:key@0 value condition[NX|XX] [GET] expiration[EX seconds:int|PX milliseconds:int|KEEPTTL]"
 * Items are separated by spaces:
 *   name            a string argument; name:TYPE gives its type (int, double, key, pattern, time
 *                   for unix-time) and name:key@N also its key_spec_index N
 *   TOKEN           a pure token named after it in lowercase; name=TOKEN names it otherwise
 *   name[a|b …]     an optional group, name(a|b …) a required one: with several alternatives a
 *                   oneof, with one sequence of several items a block (name is the oneof's or
 *                   block's name). A group's sequence that starts with a TOKEN gives the token to
 *                   what follows it: "[EX seconds:int]" is one optional argument with token EX,
 *                   "offset_count[LIMIT offset:int count:int]" a block with token LIMIT.
 *   item...         the item repeats (flag multiple); item+... repeats with its token each time
 *                   (multiple_token too).
 * Returns -1 (replying nothing) if the syntax is malformed, which the unit tests rule out. */
int docs_reply_arguments(reply *r, const char *syntax);
/* How many top-level arguments a syntax has, -1 if it is malformed. */
int docs_count_arguments(const char *syntax);

#endif
