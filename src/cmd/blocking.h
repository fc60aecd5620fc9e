/* Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN …, XREAD). Each waits in arrival order; a
 * commit that touches a key wakes the first pop waiting on it and every stream reader waiting
 * on it, which run their command again.
 *
 * As Redis serves blocked clients right after the command that made their keys ready (after
 * EXEC, after a script), the thread that commits serves them itself, before it releases the
 * keys' locks, so that no later command (even the next one of the same pipeline) runs in
 * between: commits inside a claims scope claim the waiters they wake, and the end of the scope
 * runs each one's command with a copy of what it reads of its client (as cmd/offload.c does),
 * and hands the reply to the client's worker (net_wake), which sends it. A served pop commits
 * in turn and so claims the next waiter, served in the same way. A waiter whose keys' other
 * locks are busy (a worker holding stripes never waits for one) is woken as outside a scope:
 * its worker runs the command again, a moment later. While it is served, its timeout and
 * CLIENT UNBLOCK wait for the serving to end (what it replied wins); a client that goes away
 * meanwhile leaves the waiter to the serving thread to free. */
#ifndef TIDEKV_BLOCKING_H
#define TIDEKV_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* Parses a blocking timeout in seconds (a float, 0 = forever) into microseconds; replies
 * Redis's error and returns -1 if invalid. */
int blocking_parse_timeout(cmd_ctx *ctx, const resp_arg *a, int64_t *timeout_us);
/* A timeout in milliseconds (>= 0; 0 = forever) in microseconds; one beyond what they hold is
 * forever too. */
int64_t blocking_ms_to_us(long long ms);
/* What a blocking command does when there is nothing for it: inside EXEC reply nil (a null
 * bulk for BLMOVE-like commands, else a null array), when retried keep waiting, otherwise
 * start waiting for its keys. */
void blocking_wait_or_nil(cmd_ctx *ctx, int64_t timeout_us, int nil_bulk_in_exec);
/* What a stream reader (XREAD, XREADGROUP) with BLOCK does when it has nothing to serve: inside
 * EXEC reply a null array; when retried keep waiting; otherwise start waiting for its keys, as
 * argv (ctx->argc arguments, copied; its keys where ctx->argv has them) to run again each time a
 * commit touches one of them. Unlike a pop, every reader of a key is woken by each such commit:
 * one XADD serves them all. Redis 7.0 refuses BLOCK inside a script ("ERR <cmd> command is not
 * allowed with BLOCK option from scripts", ctx->in_exec == IN_SCRIPT): the reader checks that
 * itself while parsing its options.
 *
 * How a reader uses it, holding its keys' locks as every command does:
 * - It first resolves the ids whose meaning depends on when they are read, and passes argv
 *   with them rewritten: XREAD's "$" becomes the stream's last id at the first run (0-0 for a
 *   key that does not exist), or a retry would only wait for what comes after the newest entry
 *   again. XREADGROUP's ">" means "after the group's last delivered id" at every run and needs
 *   no rewrite: pass ctx->argv.
 * - When ctx->retrying, what its first run checked may have changed under it, by any commit on
 *   the key (DEL, SET, XGROUP …: every commit that touches the key wakes its readers, spurious
 *   wake-ups included, each costing one retry): a key that is missing or not a stream has
 *   nothing to serve (XREAD keeps waiting, as Redis 7.0 does), and whatever the retry replies
 *   ends the wait. Redis 7.0.15 ends a waiting XREADGROUP with "UNBLOCKED the stream key no
 *   longer exists" when its key is deleted or is no stream, and with "NOGROUP the consumer
 *   group this client was blocked on no longer exists" when its group is destroyed.
 * - A reader whose serving commits (XREADGROUP) wakes the other readers of its keys; those
 *   that find nothing left wait on.
 * - It calls this only when it replied nothing; the timeout (0: forever) replies a null array
 *   (null in RESP3), as CLIENT UNBLOCK does. */
void blocking_wait_stream(cmd_ctx *ctx, int64_t timeout_us, const resp_arg *argv);
/* CLIENT UNBLOCK asked the client with that id to end its block number block_id (its worker
 * does it): if that block waits on keys, no commit serves or wakes it any more, unless one is
 * serving it now (its worker then ends the wait after, if the serving did not reply). */
void blocking_unblocking(uint64_t client_id, unsigned long long block_id);
/* Called after a commit that gave streams new entries (XADD), with their keys, before
 * blocking_notify: marks them signalled for the readers waiting on them. */
void blocking_signal_streams(const uint64_t *hashes, size_t n);
/* Whether a stream reader's retry (ctx->retrying) runs after a new entry signalled that key of
 * its wait: Redis 7.0 then answers a reader whose stream's last id passed its id, with the key
 * and no entries when the entry is gone already (XADD MAXLEN 0, an XDEL after it in the same
 * EXEC); other writes (XDEL, XTRIM, XSETID, XGROUP SETID …) signal nothing. Always 0 on a first
 * run. */
int blocking_key_signalled(const cmd_ctx *ctx, const resp_arg *key);
/* Called after every commit with the keys it touched. */
void blocking_notify(const uint64_t *hashes, size_t n);
/* Opens a claims scope on the calling thread (they nest): its commits claim the waiters they
 * wake. Open it around commits made under the global lock and their keys' locks, and end it
 * with blocking_serve_claimed before releasing any of them. */
void blocking_claims_begin(void);
/* Serves the waiters claimed so far (see above), taking the stripes they need that the thread
 * lacks only if they are free, and closes the innermost scope. */
void blocking_serve_claimed(void);
/* Whether any client waits on keys (an atomic read: the fast path of every write). */
int blocking_has_waiters(void);
/* Whether a client may wait on one of the keys of these lock hashes (those of a stripe held by
 * the caller are exact; a false yes is possible). */
int blocking_waited(const uint64_t *hashes, size_t n);
/* Called after a commit that emptied a database: wakes every stream reader (a group reader
 * whose key is gone ends; others wait on). Pops have nothing new to find. */
void blocking_notify_streams(void);

#endif
