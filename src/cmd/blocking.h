/* Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN …). Each waits in arrival order; a commit
 * that touches a key wakes the first client waiting on it, which runs its command again. */
#ifndef TIDEKV_BLOCKING_H
#define TIDEKV_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* Parses a blocking timeout in seconds (a float, 0 = forever) into microseconds; replies
 * Redis's error and returns -1 if invalid. */
int blocking_parse_timeout(cmd_ctx *ctx, const resp_arg *a, int64_t *timeout_us);
/* What a blocking command does when there is nothing for it: inside EXEC reply nil (a null
 * bulk for BLMOVE-like commands, else a null array), when retried keep waiting, otherwise
 * start waiting for its keys. */
void blocking_wait_or_nil(cmd_ctx *ctx, int64_t timeout_us, int nil_bulk_in_exec);
/* Called after every commit with the keys it touched. */
void blocking_notify(const uint64_t *hashes, size_t n);

#endif
