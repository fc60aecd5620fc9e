/* Requests too big to run on a worker thread without stalling its other clients (a SET of
 * hundreds of megabytes copies its value several times on its way to RocksDB) run on a
 * thread of their own. Their client waits, as a blocked client does, and gets its reply
 * and its next requests run when the command is done; everyone else goes on meanwhile. */
#ifndef TIDEKV_OFFLOAD_H
#define TIDEKV_OFFLOAD_H

#include "cmd/cmd.h"
#include "server.h"

/* A request holding at least this much memory (its arguments, see resp_parser_memory) is
 * one to hand off: at several copies of it on the way to disk, a few tens of milliseconds. */
#define OFFLOAD_MIN_BYTES (8 * 1024 * 1024)

/* Starts the thread; returns 0, or -1 if it could not start. */
int offload_start(void);
/* Waits for the command running, drops those not started (their clients are gone by now)
 * and stops the thread. */
void offload_stop(void);
/* Whether the client's request (just parsed, one that could join a write group: on keys,
 * not blocking, not in MULTI) is one to hand off: a big write. */
int offload_wanted(const client *c, const cmd_def *def);
/* Hands the request to the thread; the client waits until it has run. Call from the
 * client's worker, with the client's earlier replies no longer waiting on a write group. */
void offload_request(client *c, const cmd_def *def);

#endif
