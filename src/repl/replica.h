/* The replica side of replication (../shared/REPLICATION.md): a thread that follows a master,
 * asking it with POLLUPDATES … STRICT FORMAT BINARY BLOCK (FORMAT RAW from an older master) for
 * the batches after its own latest sequence and writing each one as it is (same bytes, so the
 * same sequence numbers).
 * While it follows a master the node takes no local write (txn_refuse_local_writes). */
#ifndef TIDEKV_REPL_REPLICA_H
#define TIDEKV_REPL_REPLICA_H

#include <stdint.h>

#include "util/buf.h"

/* Follows the master at host:port from now on (stopping any earlier link first). 0 or -1. */
int replica_follow(const char *host, int port);
/* Stops following: the node is a master again, its next write taking the next sequence. */
void replica_stop(void);
/* Ends the thread at shutdown: the node stays a replica of the same history. */
void replica_close(void);
/* Whether the node follows a master. */
int replica_active(void);
/* Appends INFO replication's replica lines (master_host … slave_read_only). */
void replica_info(buf *out);
/* ROLE's fields for a replica: host, port, state and offset. 0, or -1 when not a replica. */
typedef struct replica_role {
    char host[256];
    int port;
    const char *state; /* Redis's: connect, connecting, sync, connected */
    long long offset; /* -1 while the link is down */
} replica_role;
int replica_get_role(replica_role *out);
/* Whether the link to the master is up (following by POLLUPDATES, not connecting or syncing). */
int replica_link_up(void);
/* CLIENT KILL of the master's link: cuts the link if it is up (the thread connects again after
 * its usual pause, with a partial sync). 1 if it was up, else 0. */
int replica_drop_link(void);
/* Whether the master this node follows (or last tried to) has that run id, as it told at the
 * handshake: a PSYNC from it would close a loop of two. */
int replica_master_is(const char *run_id);
/* Whether a replica is following host:port already (REPLICAOF's "Already connected"). */
int replica_follows(const char *host, int port);

#endif
