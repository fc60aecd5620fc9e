/* The scripts known to the server (EVAL, SCRIPT LOAD), shared by every worker: SHA-1 → body.
 * Each worker's Lua state compiles a script from here the first time it runs it; SCRIPT FLUSH
 * empties the cache and moves the generation on, which makes each Lua state start afresh. */
#ifndef TIDEKV_SCRIPT_CACHE_H
#define TIDEKV_SCRIPT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Adds a body under its lowercase hex SHA-1 (a script already there is kept). */
void script_cache_add(const char sha[41], const char *body, size_t len);
/* Copies the body of sha (any case) into out: 1, or 0 if the cache does not hold it. */
int script_cache_get(const char *sha, size_t sha_len, buf *out);
int script_cache_exists(const char *sha, size_t sha_len);
/* Forgets every script (SCRIPT FLUSH). */
void script_cache_flush(void);
/* Moves on at each flush: a Lua state compiled under an older one starts afresh. */
uint64_t script_cache_generation(void);
/* The scripts held and their bodies' bytes (INFO). */
void script_cache_stats(size_t *count, size_t *bytes);

#endif
