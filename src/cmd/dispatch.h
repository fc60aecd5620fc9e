/* From a parsed request to a reply: lookup, checks, MULTI queueing, key locks, one batch per command. */
#ifndef TIDEKV_DISPATCH_H
#define TIDEKV_DISPATCH_H

#include "cmd/cmd.h"
#include "server.h"

/* Runs (or queues, inside MULTI) one request; its reply is appended to c->out. A command
 * on keys joins the client's worker's write group: its reply must not be sent before
 * write_group_commit (c->in_group tells). */
void dispatch_request(client *c, int argc, resp_arg *argv);

/* The commands a worker ran since its last commit (see dispatch.c), written together. */
write_group *write_group_new(void (*committed)(client *c));
void write_group_free(write_group *g);
/* Writes the open group, if any, and calls `committed` for each client in it. A client
 * whose commands' write failed gets the error in place of their replies, from its first
 * command after the group's first write on. */
void write_group_commit(write_group *g);
/* Frees what a leaving client holds here: its queued transaction, watched keys, full sync. */
void dispatch_client_cleanup(client *c);
/* Runs a command on a thread that is not its client's worker (cmd/offload.h): under its key
 * locks, as one batch, replying into r; view is what it sees of its client. Frees the
 * arguments (not the array) once it has run, before its write. Returns the last sequence it
 * wrote, 0 if none. (Replies BUSY, without running, if it gave up waiting for its locks.) */
uint64_t dispatch_run_detached(client *view, const cmd_def *def, int argc, resp_arg *argv, reply *r);
/* Runs a blocked client's command again on the thread whose commit woke it (cmd/blocking.h),
 * replying into r; view is what it sees of its client. It needs the global lock held and the
 * stripes of its keys: it adds those the thread lacks to taken if they are free, else returns
 * -1 without running. Returns 1 if it replied, 0 if it still waits; *sync_to is the sequence
 * its reply waits for under appendfsync always. */
int dispatch_serve(client *view, int argc, resp_arg *argv, reply *r, struct keylock_set *taken, uint64_t *sync_to);
/* The lock waits' give-up check (keylock_set_give_up): a script or function has run past
 * busy-reply-threshold. Its locks may stay held until SCRIPT KILL, so a waiter replies BUSY,
 * as Redis answers every command then, and its worker goes back to reading its clients. */
int dispatch_lock_wait_gives_up(void);
/* Notes the client's last write (written_to: a sequence its command wrote; 0: it wrote
 * nothing), for WAIT; with appendfsync always, holds its replies until the WAL is synced past it. */
void dispatch_hold_for_sync(client *c, uint64_t written_to);
/* Sends a reply another thread made for the client's command (a big request, a blocked
 * command served by the commit that woke it), as if the command had run here: out, or, if the
 * reply passed its bound (cut), the client is closed without it; then dispatch_hold_for_sync. */
void dispatch_send_made_reply(client *c, const buf *out, int cut, uint64_t written_to);
/* A blocked command's retry that reads the store outside dispatch (POLLUPDATES … BLOCK)
 * holds it as a command without keys does: under the global lock's shared side, which a full
 * sync's swap takes exclusively. Returns 1 (release with dispatch_release_store), 0 if the
 * thread held it already, or -1 after replying BUSY (it gave up waiting for a busy script). */
int dispatch_hold_store(reply *r);
void dispatch_release_store(int held);
/* Runs a blocked command again (its keys were touched); returns 1 if it replied, 0 if it
 * still has to wait. */
int dispatch_retry(client *c, int argc, resp_arg *argv);
/* The lock hashes of a command's keys (malloc'd), as the command table locates them. */
void dispatch_key_hashes(int argc, const resp_arg *argv, int db, uint64_t **hashes, size_t *n);
/* Runs a command's handler in ctx->t, all or nothing: one that fails midway leaves none of its
 * writes, change record or partial reply behind (a script's commands run through it). */
void dispatch_run_handler(cmd_ctx *ctx, const cmd_def *def);
/* Before a script's command: takes the locks of its keys (in database db) that the script
 * does not hold yet. Returns 0, or -1 if one is busy or the command needs every key (the
 * script must then run again alone: ctx->needs_all_keys). */
int dispatch_cover_keys(cmd_ctx *ctx, const cmd_def *def, int argc, const resp_arg *argv, int db);
/* Runs the client's queued transaction as one batch (EXEC). */
void dispatch_exec(cmd_ctx *ctx);
/* Forgets the queued transaction (DISCARD, EXEC). */
void dispatch_discard(client *c);
/* Forgets every watched key (UNWATCH, EXEC, DISCARD). */
void dispatch_unwatch(client *c);
/* Adds a key to the client's watch list (WATCH), with its state read through t. Returns 0, or
 * -1 on a storage error. */
int dispatch_watch(client *c, txn *t, int db, const char *key, size_t klen);

#endif
