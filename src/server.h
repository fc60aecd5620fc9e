/* Process-wide state shared by the layers: the client structure, statistics, start time. */
#ifndef TIDEKV_SERVER_H
#define TIDEKV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "proto/reply.h"
#include "proto/resp.h"
#include "util/buf.h"

#define TIDEKV_VERSION "0.1.0"
/* The Redis version reported to clients, so libraries enable the Redis 7 features we implement. */
#define TIDEKV_REDIS_VERSION "7.0.0"

struct worker;
struct client;
struct event;

enum client_flags {
    CLIENT_CLOSE_AFTER_REPLY = 1 << 0,
    CLIENT_MULTI = 1 << 1,
    CLIENT_DIRTY_EXEC = 1 << 2, /* a command failed to queue: EXEC aborts */
    CLIENT_CLOSE_ASAP = 1 << 3, /* over its output buffer limit: closed without its replies */
    CLIENT_PUBSUB = 1 << 4,     /* has pub/sub subscriptions: subscribed mode, the pubsub output limit */
    CLIENT_RUNS_SCRIPT = 1 << 5, /* its script runs now (cmd/scripting.c): net.c's busy pass skips it */
    CLIENT_REPLICA = 1 << 6,      /* a replica's link (PSYNC): its polls acknowledge what it applied */
};

typedef struct queued_cmd {
    int argc;
    resp_arg *argv;
} queued_cmd;

typedef struct watched_key {
    int db;
    char *key;
    size_t klen;
    uint64_t hash;
    uint64_t version;     /* the key's watch slot counter at WATCH */
    uint64_t flush_epoch; /* its database's flush counter at WATCH */
    int live;             /* the key existed (not expired) at WATCH */
    int64_t expire_ms;    /* its expiry then, 0 if none or not live */
} watched_key;

/* A command waiting for something (a commit, a push) before it can reply. */
/* What a blocked client (client.blocked) waits for: other clients' writes (a blocking command),
 * or its own command running on another thread; or, served, only for its worker to send the
 * reply another thread made (net_block_served). */
enum { BLOCKED_WAITING = 1, BLOCKED_RUNNING = 2, BLOCKED_SERVED = 3 };

typedef struct client_block {
    /* Runs on the client's worker: writes the reply and returns 1 when done, 0 to keep waiting.
     * timed_out = 1 when the wait's time is up (it must reply then). */
    int (*retry)(struct client *c, int timed_out);
    /* Releases the wait's state; called once, when done or when the client goes away. */
    void (*cleanup)(struct client *c);
    void *state;
    /* 1: the client waits for its own command, running on another thread (cmd/offload.h),
     * not for other clients: it is not blocked to INFO, CLIENT LIST or CLIENT UNBLOCK. */
    int running;
    /* Optional: asked on the client's worker before CLIENT UNBLOCK … ERROR ends the wait. 0: it
     * cannot end now (another thread is serving its command, cmd/blocking.c); the block then
     * replies ERR_UNBLOCKED itself once that is over, unless it was served. */
    int (*may_unblock)(struct client *c);
} client_block;

/* The reply of a wait that CLIENT UNBLOCK … ERROR ends. */
#define ERR_UNBLOCKED "UNBLOCKED client unblocked via CLIENT UNBLOCK"

typedef struct write_group write_group; /* cmd/dispatch.h */

/* What CLIENT LIST shows of a client that only its worker may read live (its buffers, db, last
 * command): the worker copies it into client.shown after each pass over the client, and CLIENT
 * LIST on any thread reads the copy; both under client.shown_lock (net.c). */
typedef struct client_shown {
    int db, resp;
    int multi; /* commands queued in MULTI, or -1 outside one */
    int replica; /* a replica's link (CLIENT_REPLICA) */
    long long sub, psub, ssub; /* its channels, patterns and shard channels */
    size_t qbuf, qbuf_cap, omem;
    int64_t last_active_mono_ms;
    char cmd[32];
} client_shown;

typedef struct client {
    uint64_t id;
    int fd;
    struct worker *worker;
    struct event *read_ev, *write_ev;
    struct event *block_timer; /* created on the first block */
    atomic_int wake_posted; /* a MAIL_WAKE is on its way to it (net_wake): no other is posted */
    atomic_int blocked; /* BLOCKED_* while blocked; read by CLIENT LIST / UNBLOCK, set served by another thread */
    atomic_ullong block_id;              /* counts the client's blocks: which one a request meant */
    atomic_ullong unblock_request;       /* CLIENT UNBLOCK: block_id * 2 + (1 for ERROR), 0 = none */
    client_block block;
    int block_counted; /* the block counts in INFO's blocked_clients while it waits (net_block) */
    buf in, out;
    resp_parser parser;
    int resp;
    int db;
    int authenticated;
    int flags;
    atomic_int kill_requested;
    int reply_cut; /* a reply passed its bound (net_client_reply) and was cut: close the client */
    int reply_cut_by_clients; /* that bound is maxmemory-clients */
    char *name;
    char addr[64], laddr[64];
    int64_t created_ms;
    int64_t last_active_mono_ms;
    char last_cmd[32];
    queued_cmd *queue;
    int queue_len, queue_cap;
    size_t queue_mem; /* the queued commands' memory (arguments and slots) */
    struct write_group *group; /* the worker's write group (cmd/dispatch.h) */
    int in_group;              /* has replies in c->out that wait for the group's commit */
    int flush_pending;         /* on the worker's list of clients to flush after the pass */
    struct client *fnext;
    watched_key *watched;
    int watched_len, watched_cap;
    uint64_t sync_wait_seq; /* appendfsync always: replies wait until the WAL is synced to here */
    uint64_t last_write_seq; /* the last sequence its writes took (WAIT counts replicas that have it) */
    int held;               /* replies are waiting for that sync */
    uint64_t held_failures; /* sync failures counted when the hold began */
    struct client *hprev, *hnext; /* the worker's held list */
    int64_t over_soft_since_ms; /* monotonic ms since pending output exceeded the soft limit, or 0 */
    int64_t last_poll_reply_us; /* when POLLUPDATES last answered (monotonic), to pace BLOCK polls */
    int poll_stream_busy;       /* that answer showed a busy stream: pace the next one */
    buf poll_body;              /* kept between POLLUPDATES for the next one's body (empty) */
    struct pubsub_client *pubsub; /* its subscriptions (net/pubsub.c), NULL before the first */
    int64_t poll_body_kept_ms;  /* when it was kept (monotonic): it goes if unused for a while */
    atomic_llong mem; /* memory counted in the clients' total (net.c); read by other threads */
    size_t offloaded_mem; /* its big request's arguments, handed to another thread (cmd/offload.c) */
    pthread_mutex_t shown_lock;
    client_shown shown; /* for CLIENT LIST on other threads, under shown_lock */
    struct client *prev, *next;         /* global registry */
    struct client *wprev, *wnext;       /* the worker's own list */
} client;

typedef struct server_stats {
    atomic_llong connections_received;
    atomic_llong commands_processed;
    atomic_llong rejected_connections;
    atomic_llong keyspace_hits;
    atomic_llong keyspace_misses;
    atomic_llong expired_keys;      /* removed by expiry: found expired by a lookup, or by the active expiry */
    atomic_llong expire_cycle_cpu_us; /* CPU time of the active expiry's thread (types/expiry.c) */
    atomic_llong net_input_bytes;
    atomic_llong net_output_bytes;
    atomic_llong write_groups;      /* write groups committed with writes (cmd/dispatch.c) */
    atomic_llong grouped_writes;    /* the writing commands in them */
    atomic_int connected_clients;
    atomic_int blocked_clients; /* waiting in a blocking command (BLPOP, POLLUPDATES … BLOCK) */
    atomic_llong evicted_clients; /* closed by maxmemory-clients */
    atomic_llong sync_partial_ok;  /* PSYNCs that continued from the replica's sequence */
    atomic_llong sync_partial_err; /* PSYNCs that could not */
    atomic_llong sync_full;        /* full copies sent to replicas */
} server_stats;

extern server_stats stats;
extern int64_t server_start_ms;

/* Asks the server to shut down cleanly (safe from any thread). */
void server_request_shutdown(void);

#endif
