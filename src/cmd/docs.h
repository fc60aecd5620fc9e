/* COMMAND DOCS argument lists, built from a compact syntax string per command, in the
 * form redis-cli turns into its typing hints. */
#ifndef TIDEKV_DOCS_H
#define TIDEKV_DOCS_H

#include "proto/reply.h"

/* Replies the "arguments" array for a syntax like
 *   "key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]"
 * Lowercase words are arguments (named key… → type key), UPPERCASE words tokens, an UPPERCASE
 * word followed by a lowercase one a token with a value, [..] optional, a|b one of, "..." after
 * an item repeats it. */
void docs_reply_arguments(reply *r, const char *syntax);
/* How many top-level arguments a syntax has. */
int docs_count_arguments(const char *syntax);

#endif
