/* Networking: the listener, worker threads (one libevent base each) and connections. */
#ifndef TIDEKV_NET_H
#define TIDEKV_NET_H

#include "proto/reply.h"
#include "server.h"
#include "util/buf.h"

/* Where a client lives, for posting it messages from any thread (net_push): it stays valid
 * after the client has gone, and mail to a client that has gone is dropped. */
typedef struct client_ref {
    struct worker *worker;
    uint64_t id;
} client_ref;

/* Listens on bind:port and serves until shutdown is requested. Returns 0, or -1 if the
 * listener or the workers could not start. stop_writers, called once the listeners are closed
 * and before the workers stop, ends the threads that commit on their own (their commits wake
 * and notify clients through the workers). */
int net_run(void (*stop_writers)(void));

/* Redis's client types, as CLIENT LIST TYPE and CLIENT KILL TYPE name them. A replica's link
 * to its master is no client of the registry (repl/replica.c holds it): none is of type master. */
typedef enum {
    CLIENT_TYPE_ANY = -1,
    CLIENT_TYPE_NORMAL,
    CLIENT_TYPE_REPLICA, /* a replica's link to this master (PSYNC) */
    CLIENT_TYPE_PUBSUB,  /* subscribed to a channel, pattern or shard channel */
    CLIENT_TYPE_MASTER,
} client_type;

/* The clients CLIENT LIST and CLIENT KILL select: those that match every filter set. */
typedef struct client_filter {
    uint64_t id;              /* 0: any */
    client_type type;         /* CLIENT_TYPE_ANY: any */
    const char *addr, *laddr; /* NULL: any */
    const client *skip;       /* never this one (NULL: none) */
} client_filter;

/* Appends one CLIENT LIST line per client the filter selects, as each client's worker last
 * published it; the caller, on its own worker, is shown as it is now. */
void net_client_list(buf *out, const client_filter *filter, client *caller);
/* Disconnects the clients the filter selects (each closed by its own worker); returns how many.
 * The caller is judged as it is now. */
int net_client_kill(const client_filter *filter, client *caller);
/* CLIENT UNBLOCK: ends the wait of the client with that id, if it is blocked, as if its timeout
 * had come (or with the UNBLOCKED error); its own worker does it. Returns 1 if it was blocked,
 * with the number of the block it ends in *block_id (see client.block_id). */
int net_client_unblock(uint64_t id, int as_error, unsigned long long *block_id);
/* Suspends the client's current command until block->retry says it is done; no further input
 * is processed meanwhile. timeout_us <= 0 waits forever. Call from the client's worker. */
void net_block(client *c, int64_t timeout_us, const client_block *block);
/* Another thread made the blocked command's reply (cmd/blocking.c), which the client's worker
 * is yet to send: the client is no longer blocked to INFO, CLIENT LIST or CLIENT UNBLOCK, as
 * in Redis, where it is unblocked the moment it is served. Callable from any thread holding
 * the client in its block (its fields read here are written before it blocked). */
void net_block_served(client *c);
/* Moves a blocked command's timeout to timeout_us from now (> 0). Call from the client's worker. */
void net_block_retime(client *c, int64_t timeout_us);
/* Sends a reply made of two parts (a header and a large body) straight to the socket when
 * nothing is pending before it, sparing the copy into the output buffer; whatever the socket
 * does not take now is appended to the buffer. Only for commands that write nothing: a failed
 * group write rewinds the replies of writing commands, and a sent reply cannot be rewound.
 * Call from the client's worker. */
void net_reply_parts(client *c, const void *head, size_t head_len, const void *body, size_t body_len);
/* The most output the client may have (its output hard limit, maxmemory-clients or the bound
 * before AUTH, whichever is lowest; 0 when none applies): past it, the client is closed
 * without its reply. *option names what sets it (NULL when nothing does). */
long long net_output_bound(const client *c, const char **option);
/* How many more bytes of output the client may have before it is past net_output_bound
 * (negative when it is past already; LLONG_MAX without a bound), for a reply that is counted
 * against it while it is built. */
long long net_output_room(const client *c);
/* Closes a client whose reply being built (building bytes, not in its output yet) took it
 * over its output limit: the reply is dropped, no later one is sent, the close is logged.
 * Call from the client's worker. */
void net_close_over_limit(client *c, size_t building);
/* Asks the client's worker, through its mailbox, to run the blocked command's retry (safe from
 * any thread, as long as the caller knows the client is still there, e.g. under the lock of a
 * waiter list that the block's cleanup leaves). Wakes posted before the retry runs make one. */
void net_wake(client *c);
/* The client's address for net_push (the fields it reads never change: any thread holding the
 * client, e.g. under a lock of a list the client leaves when it goes, may call it). */
client_ref net_client_ref(const client *c);
/* Finds the client with that id (not being closed); returns 0 if there is none. */
int net_client_ref_by_id(uint64_t id, client_ref *ref);
/* Hands the client a push message of count elements, encoded in body (len bytes) as they are
 * in both RESP2 and RESP3 (bulk strings, integers): its worker appends a push header (">" in
 * RESP3, "*" in RESP2) and the body to its output, after the replies already there, in the
 * order the pushes were posted; counted against its output limits. Safe from any thread while
 * the server runs. Returns 0, or -1 if the worker's mailbox is full (net/mailbox.h): the
 * client is then closed, and sent no later push. */
int net_push(client_ref to, long long count, const void *body, size_t len);
/* A pub/sub message's payload, shared by the mail of all its receivers (net/mailbox.h). */
typedef struct mail_body mail_body;
/* net_push for a pub/sub message (net/pubsub.h encodes it): head's elements (the message's
 * kind, pattern, channel), then the payload's, in tail, shared by reference with the message's
 * other receivers (the caller keeps its own reference). Delivered only if the client still
 * listens to the channel, pattern or shard channel it came through when it arrives. To a
 * client of the calling worker, it is appended to its output at once (what Redis does), so call
 * it from a worker outside any lock, with the client's subscriptions unchanged since the
 * registry named it. To a client of another worker, it is refused (the client is closed) if
 * what is mailed to it would pass its client-output-buffer-limit pubsub hard limit, as Redis
 * closes a subscriber whose output passes it; the payload's bytes do not count against its
 * worker's mailbox bound, whatever the number of receivers. */
int net_push_message(client_ref to, long long count, const void *head, size_t head_len, mail_body *tail);
/* The memory all clients hold (buffers, requests being parsed, queued commands): what
 * maxmemory-clients bounds. */
long long net_clients_memory(void);
/* A reply writer into the client's output, bounded by net_output_bound: a reply that would
 * pass it is cut and the client closed without it, so no reply is built whole past it. */
reply net_client_reply(client *c);
/* Whether the client's pending output is over client-output-buffer-limit (hard, or soft for
 * long enough, or the bound before AUTH); if so, logs it and marks the client to be closed without its replies, so a
 * command still writing a long reply can stop. Call from the client's worker. */
int net_output_over_limit(client *c);
/* Sets a client's name under the registry lock (CLIENT LIST reads it from other threads). */
void net_client_set_name(client *c, const char *name, size_t len);

#endif
