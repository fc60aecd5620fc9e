/* From a parsed request to a reply: lookup, checks, MULTI queueing, key locks, one batch per command. */
#ifndef TIDEKV_DISPATCH_H
#define TIDEKV_DISPATCH_H

#include "cmd/cmd.h"
#include "server.h"

/* Runs (or queues, inside MULTI) one request; its reply is appended to c->out. A request
 * on keys may be held back to run with those after it (more_follows: more input is already
 * buffered) as one write; dispatch_flush runs what is held, and must be called before the
 * client's input is consumed or anything else is written to it. */
void dispatch_request(client *c, int argc, resp_arg *argv, int more_follows);
void dispatch_flush(client *c);
/* Frees a client's queued transaction and watched keys. */
void dispatch_client_cleanup(client *c);
/* Runs a blocked command again (its keys were touched); returns 1 if it replied, 0 if it
 * still has to wait. */
int dispatch_retry(client *c, int argc, resp_arg *argv);
/* The lock hashes of a command's keys (malloc'd), as the command table locates them. */
void dispatch_key_hashes(int argc, const resp_arg *argv, int db, uint64_t **hashes, size_t *n);
/* Runs the client's queued transaction as one batch (EXEC). */
void dispatch_exec(cmd_ctx *ctx);
/* Forgets the queued transaction (DISCARD, EXEC). */
void dispatch_discard(client *c);
/* Forgets every watched key (UNWATCH, EXEC, DISCARD). */
void dispatch_unwatch(client *c);
/* Adds a key to the client's watch list (WATCH). */
void dispatch_watch(client *c, int db, const char *key, size_t klen);

#endif
