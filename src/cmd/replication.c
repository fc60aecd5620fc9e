/* Replication commands (../shared/REPLICATION.md): REPLICAOF/SLAVEOF, ROLE, and what a
 * replica sends its master (REPLCONF, PSYNC, FULLSYNC), plus INFO's replication section. The
 * replica's thread is repl/replica.c; the master's list of replicas repl/replicas.c, its
 * checkpoints for full syncs repl/checkpoints.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/wal.h"
#include "cmd/handlers.h"
#include "config.h"
#include "net/net.h"
#include "repl/checkpoints.h"
#include "repl/identity.h"
#include "repl/replica.h"
#include "repl/replicas.h"
#include "storage/store.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Replicas INFO and ROLE list at most. */
#define MAX_LISTED_REPLICAS 64

static int client_connected(uint64_t id) {
    client_ref ref;
    return net_client_ref_by_id(id, &ref);
}

static void disconnect_client(uint64_t id) {
    client_filter f = {.id = id, .type = CLIENT_TYPE_ANY};
    (void)net_client_kill(&f, NULL);
}

void replication_init(void) { replicas_set_clients(client_connected, disconnect_client); }

/* The IP part of a client's "ip:port" address. */
static void client_ip(const client *c, char *out, size_t len) {
    const char *colon = strrchr(c->addr, ':');
    size_t n = colon ? (size_t)(colon - c->addr) : strlen(c->addr);
    snprintf(out, len, "%.*s", (int)n, c->addr);
}

static int parse_port(const resp_arg *a, int *port) {
    long long p;
    if (arg_parse_ll(a, &p) < 0 || p < 0 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

/* Keeps replicaof's value in step with REPLICAOF, for CONFIG GET and CONFIG REWRITE. */
static void note_master(const char *host_port) {
    char err[128];
    if (config_set("replicaof", host_port, 0, err, sizeof(err)) < 0) log_msg(LOG_WARNING, "replicaof: %s", err);
}

typedef struct master_change {
    char host[256];
    int port;
} master_change;

static void follow_after_commit(void *arg, int committed) {
    master_change *change = arg;
    if (committed && replica_follow(change->host, change->port) == 0) {
        char master[300];
        snprintf(master, sizeof(master), "%s %d", change->host, change->port);
        note_master(master);
    }
    free(change);
}

void cmd_replicaof(cmd_ctx *ctx) {
    if (arg_is(&ctx->argv[1], "no") && arg_is(&ctx->argv[2], "one")) {
        replica_stop();
        note_master("");
        reply_ok(ctx->r);
        return;
    }
    int port;
    if (parse_port(&ctx->argv[2], &port) < 0) {
        reply_error(ctx->r, "ERR Invalid master port");
        return;
    }
    const char *host = ctx->argv[1].ptr;
    if (ctx->argv[1].len == 0 || ctx->argv[1].len > 255 || strlen(host) != ctx->argv[1].len) {
        reply_error(ctx->r, "ERR Invalid master host");
        return;
    }
    if (replica_follows(host, port)) {
        reply_simple(ctx->r, "OK Already connected to specified master");
        return;
    }
    /* After the command's commit: inside EXEC, the writes queued before it are the node's own
     * (as in Redis, they stand), and refusing local writes earlier would fail their commit. */
    master_change *change = malloc(sizeof(*change));
    if (!change) abort();
    snprintf(change->host, sizeof(change->host), "%s", host);
    change->port = port;
    txn_on_finish(ctx->t, follow_after_commit, change);
    reply_ok(ctx->r);
}

void cmd_role(cmd_ctx *ctx) {
    replica_role role;
    if (replica_get_role(&role) == 0) {
        reply_array(ctx->r, 5);
        reply_bulk_str(ctx->r, "slave");
        reply_bulk_str(ctx->r, role.host);
        reply_int(ctx->r, role.port);
        reply_bulk_str(ctx->r, role.state);
        reply_int(ctx->r, (long long)role.offset);
        return;
    }
    replica_entry list[MAX_LISTED_REPLICAS];
    int listed = replicas_list(list, MAX_LISTED_REPLICAS), n = 0;
    for (int i = 0; i < listed; i++)
        if (!list[i].syncing) list[n++] = list[i]; /* as Redis, only the online ones */
    reply_array(ctx->r, 3);
    reply_bulk_str(ctx->r, "master");
    reply_int(ctx->r, (long long)store_latest_sequence());
    reply_array(ctx->r, n);
    for (int i = 0; i < n; i++) {
        reply_array(ctx->r, 3);
        reply_bulk_str(ctx->r, list[i].ip);
        reply_bulk_ll(ctx->r, list[i].port);
        reply_bulk_ll(ctx->r, (long long)list[i].acked);
    }
}

/* REPLCONF listening-port: the port INFO and ROLE show for the replica. 0, or -1 after replying. */
static int note_listening_port(cmd_ctx *ctx, const resp_arg *value) {
    int port;
    if (parse_port(value, &port) < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return -1;
    }
    char ip[64];
    client_ip(ctx->c, ip, sizeof(ip));
    replicas_note_port(ctx->c->id, ip, port);
    return 0;
}

/* REPLCONF databases / proto-max-bulk-len (tidekv replicas send them): a replica whose limit is
 * below ours would refuse our valid batches and retry for ever, with the reason only in its log.
 * Refused here, it logs this error and its INFO shows the link down. 0, or -1 after replying. */
static int check_replica_limit(cmd_ctx *ctx, const char *name, const resp_arg *value, long long ours) {
    long long theirs;
    if (arg_parse_ll(value, &theirs) < 0 || theirs < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return -1;
    }
    if (theirs < ours) {
        reply_errorf(ctx->r, "ERR the replica's %s (%lld) is smaller than the master's (%lld)", name, theirs, ours);
        return -1;
    }
    return 0;
}

/* REPLCONF <option> <value> …: what a replica tells its master. tidekv keeps listening-port,
 * checks databases and proto-max-bulk-len, and answers "OK <run id>" to capa run-id (tidekv
 * replicas ask, to tell a loop); it ignores the others (Redis's capa eof, ack, getack …). */
void cmd_replconf(cmd_ctx *ctx) {
    if (ctx->argc % 2 == 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    int tell_run_id = 0;
    for (int i = 1; i < ctx->argc; i += 2) {
        const resp_arg *option = &ctx->argv[i], *value = &ctx->argv[i + 1];
        int rc = 0;
        if (arg_is(option, "listening-port"))
            rc = note_listening_port(ctx, value);
        else if (arg_is(option, "databases"))
            rc = check_replica_limit(ctx, "databases", value, CONFIG_READ(databases));
        else if (arg_is(option, "proto-max-bulk-len"))
            rc = check_replica_limit(ctx, "proto-max-bulk-len", value, (long long)CONFIG_READ(proto_max_bulk_len));
        else if (arg_is(option, "capa") && arg_is(value, "run-id"))
            tell_run_id = 1;
        if (rc < 0) return;
    }
    if (!tell_run_id) {
        reply_ok(ctx->r);
        return;
    }
    char status[8 + REPLID_LEN];
    snprintf(status, sizeof(status), "OK %s", identity_run_id());
    reply_simple(ctx->r, status);
}

/* Whether a replica of history replid holding everything up to seq can continue from here:
 * same history, not ahead of us, and what follows seq still in the WAL. */
static int can_continue(const char *replid, uint64_t seq) {
    uint64_t latest = store_latest_sequence();
    if (seq > latest) return 0;
    if (seq > 0 && !identity_knows(replid, seq)) return 0; /* an empty replica fits any history */
    uint64_t oldest = wal_oldest_sequence();
    return seq == latest || (oldest != 0 && oldest <= seq + 1);
}

/* A PSYNC waiting for its checkpoint, made on another thread (repl/checkpoints.h): shared by
 * that thread and the client's worker, freed by whichever lets go of it last. */
typedef struct full_sync_job {
    pthread_mutex_t lock;
    client *c;     /* NULL once the client has gone */
    int made;      /* result is set */
    int refs;
    checkpoint_result result;
} full_sync_job;

static void job_put_locked(full_sync_job *job) {
    int last = --job->refs == 0;
    pthread_mutex_unlock(&job->lock);
    if (!last) return;
    pthread_mutex_destroy(&job->lock);
    free(job);
}

/* On the checkpoint's thread: hands the result to the client, if it is still there. */
static int checkpoint_made(void *arg, const checkpoint_result *result) {
    full_sync_job *job = arg;
    pthread_mutex_lock(&job->lock);
    job->result = *result;
    job->made = 1;
    int wanted = job->c != NULL;
    if (wanted) net_wake(job->c); /* safe: the client's cleanup takes this lock */
    job_put_locked(job);
    return wanted;
}

/* On the client's worker, once the checkpoint is made: +FULLRESYNC <our replid> <sequence>
 * <checkpoint id>, or why there is none. */
static int full_sync_retry(client *c, int timed_out) {
    (void)timed_out; /* it waits with no timeout, and CLIENT UNBLOCK does not reach it */
    full_sync_job *job = c->block.state;
    pthread_mutex_lock(&job->lock);
    int made = job->made;
    checkpoint_result r = job->result;
    pthread_mutex_unlock(&job->lock);
    if (!made) return 0;
    reply out = net_client_reply(c);
    if (r.status == CHECKPOINT_TOO_MANY) {
        reply_errorf(&out, "ERR too many full synchronizations in progress (%d), try again later", CHECKPOINTS_MAX);
        return 1;
    }
    if (r.status != CHECKPOINT_OK) {
        log_msg(LOG_WARNING, "full sync: %s", r.err);
        reply_errorf(&out, "ERR can't make a checkpoint for a full resynchronization: %s", r.err);
        return 1;
    }
    atomic_fetch_add(&stats.sync_full, 1);
    char ip[64];
    client_ip(c, ip, sizeof(ip));
    c->flags |= CLIENT_REPLICA;
    replicas_add_syncing(c->id, ip);
    char status[160];
    snprintf(status, sizeof(status), "FULLRESYNC %s %llu %s", r.replid, (unsigned long long)r.sequence, r.id);
    reply_simple(&out, status);
    return 1;
}

static void full_sync_cleanup(client *c) {
    full_sync_job *job = c->block.state;
    pthread_mutex_lock(&job->lock);
    job->c = NULL;
    job_put_locked(job);
}

/* Answers PSYNC with a full sync: the client waits (its worker does not) while the checkpoint
 * is made. */
static void full_sync(cmd_ctx *ctx) {
    full_sync_job *job = calloc(1, sizeof(*job));
    if (!job) abort();
    pthread_mutex_init(&job->lock, NULL);
    job->c = ctx->c;
    job->refs = 2;
    client_block block = {full_sync_retry, full_sync_cleanup, job, 1, NULL};
    net_block(ctx->c, 0, &block);
    if (checkpoints_create(ctx->c->id, checkpoint_made, job) == 0) return;
    checkpoint_result failed = {.status = CHECKPOINT_FAILED, .err = "can't start a thread"};
    checkpoint_made(job, &failed);
}

/* PSYNC <replid> <sequence> [<run id>]: +CONTINUE <our replid> when the replica can go on with
 * POLLUPDATES from its sequence, else a full sync (+FULLRESYNC). tidekv replicas add their run
 * id, so that a server told to follow itself refuses. */
void cmd_psync(cmd_ctx *ctx) {
    /* As Redis: a replica serves its own replicas only while its link is up (mid full sync,
     * its store and history are about to change). */
    if (replica_active() && !replica_link_up()) {
        reply_error(ctx->r, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    long long seq;
    if (arg_parse_ll(&ctx->argv[2], &seq) < 0 || seq < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return;
    }
    if (ctx->argc > 3 && strcmp(ctx->argv[3].ptr, identity_run_id()) == 0) {
        reply_error(ctx->r, "ERR a server can't replicate from itself");
        return;
    }
    /* Our own master asking to follow us: a loop of two, where both links would show up and
     * neither node take a write. (Longer loops are not detected.) */
    if (ctx->argc > 3 && replica_master_is(ctx->argv[3].ptr)) {
        reply_error(ctx->r, "ERR replication loop: the server asking to follow this one is its own master");
        return;
    }
    if (!can_continue(ctx->argv[1].ptr, (uint64_t)seq)) {
        atomic_fetch_add(&stats.sync_partial_err, 1); /* as Redis counts a partial sync refused */
        full_sync(ctx);
        return;
    }
    atomic_fetch_add(&stats.sync_partial_ok, 1);
    char ip[64];
    client_ip(ctx->c, ip, sizeof(ip));
    ctx->c->flags |= CLIENT_REPLICA;
    replicas_add(ctx->c->id, ip, (uint64_t)seq);
    repl_identity id = identity_get();
    char status[64];
    snprintf(status, sizeof(status), "CONTINUE %s", id.replid);
    reply_simple(ctx->r, status);
}

/* ---- FULLSYNC: the replica downloads its checkpoint ---- */

static void reply_no_checkpoint(cmd_ctx *ctx) { reply_error(ctx->r, "ERR no such checkpoint"); }

typedef struct file_list {
    reply part; /* the elements, written before the array's header that counts them */
    long long n;
} file_list;

static void list_file(void *arg, const char *name, uint64_t size) {
    file_list *l = arg;
    reply_bulk_str(&l->part, name);
    reply_int(&l->part, (long long)size);
    l->n += 2;
}

/* FULLSYNC FILES <id>: name1 size1 name2 size2 … */
static void fullsync_files(cmd_ctx *ctx) {
    buf elements;
    buf_init(&elements);
    file_list l = {reply_part(ctx->r, &elements), 0};
    if (checkpoints_files(ctx->c->id, ctx->argv[2].ptr, ctx->argv[2].len, list_file, &l) == CHECKPOINT_OK) {
        reply_array(ctx->r, l.n);
        reply_append_part(ctx->r, &elements);
    } else {
        reply_no_checkpoint(ctx);
    }
    buf_free(&elements);
}

/* FULLSYNC READ <id> <name> <offset> <count>: up to count bytes of the file from offset. */
static void fullsync_read(cmd_ctx *ctx) {
    long long offset, count;
    if (arg_parse_ll(&ctx->argv[4], &offset) < 0 || arg_parse_ll(&ctx->argv[5], &count) < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return;
    }
    if (offset < 0) {
        reply_error(ctx->r, "ERR offset out of range");
        return;
    }
    if (count < 0 || count > CHECKPOINT_READ_MAX) {
        reply_error(ctx->r, "ERR count out of range");
        return;
    }
    /* A replica reads a chunk, then the next: one that pipelines reads and leaves their
     * replies unread would pile up checkpoint bytes here without bound. */
    if (ctx->c->out.len > CHECKPOINT_READ_MAX) {
        reply_error(ctx->r, "ERR too many FULLSYNC READ replies unread");
        return;
    }
    buf data;
    buf_init(&data);
    char err[512];
    const resp_arg *id = &ctx->argv[2], *name = &ctx->argv[3];
    switch (checkpoints_read(ctx->c->id, id->ptr, id->len, name->ptr, name->len, (uint64_t)offset, (size_t)count,
                             &data, err, sizeof(err))) {
    case CHECKPOINT_OK: reply_bulk(ctx->r, data.data, data.len); break;
    case CHECKPOINT_UNKNOWN: reply_no_checkpoint(ctx); break;
    case CHECKPOINT_NO_FILE: reply_error(ctx->r, "ERR no such file"); break;
    case CHECKPOINT_BAD_OFFSET: reply_error(ctx->r, "ERR offset out of range"); break;
    default:
        log_msg(LOG_WARNING, "full sync: %s", err);
        reply_errorf(ctx->r, "ERR %s", err);
    }
    buf_free(&data);
}

/* FULLSYNC DONE <id>: the replica has the copy; the checkpoint goes. */
static void fullsync_done(cmd_ctx *ctx) {
    if (checkpoints_remove(ctx->c->id, ctx->argv[2].ptr, ctx->argv[2].len) == CHECKPOINT_OK) reply_ok(ctx->r);
    else reply_no_checkpoint(ctx);
}

void cmd_fullsync(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "files") && ctx->argc == 3) {
        fullsync_files(ctx);
    } else if (arg_is(sub, "read") && ctx->argc == 6) {
        fullsync_read(ctx);
    } else if (arg_is(sub, "done") && ctx->argc == 3) {
        fullsync_done(ctx);
    } else {
        static const char *const known[] = {"files", "read", "done", NULL};
        reply_subcommand_error(ctx, known);
    }
}

void replication_client_gone(const client *c) { checkpoints_client_gone(c->id); }

/* ---- WAIT ---- */

typedef struct wait_state {
    replicas_waiter waiter;
    client *c;
    long long wanted;
} wait_state;

static void wait_wake(void *arg) { net_wake(((wait_state *)arg)->c); }

static int wait_retry(client *c, int timed_out) {
    wait_state *w = c->block.state;
    int acked = replicas_acked(c->last_write_seq);
    if (acked < w->wanted && !timed_out) return 0;
    reply r = net_client_reply(c);
    reply_int(&r, acked);
    return 1;
}

static void wait_cleanup(client *c) {
    wait_state *w = c->block.state;
    replicas_wait_remove(&w->waiter);
    free(w);
}

/* WAIT numreplicas timeout: the number of replicas that have applied this client's last write,
 * once numreplicas have or at the timeout (ms, 0 = none). */
void cmd_wait(cmd_ctx *ctx) {
    long long wanted, timeout_ms;
    if (arg_parse_ll(&ctx->argv[1], &wanted) < 0 || arg_parse_ll(&ctx->argv[2], &timeout_ms) < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return;
    }
    if (timeout_ms < 0) {
        reply_error(ctx->r, "ERR timeout is negative");
        return;
    }
    if (replica_active()) {
        reply_error(ctx->r, "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 "
                            "if a replica is configured to be writable (which is not the default) writes to "
                            "replicas are just local and are not propagated.");
        return;
    }
    int acked = replicas_acked(ctx->c->last_write_seq);
    if (acked >= wanted || ctx->in_exec) { /* inside EXEC nothing may wait */
        reply_int(ctx->r, acked);
        return;
    }
    wait_state *w = calloc(1, sizeof(*w));
    if (!w) abort();
    w->c = ctx->c;
    w->wanted = wanted;
    w->waiter = (replicas_waiter){.seq = ctx->c->last_write_seq, .wake = wait_wake, .arg = w};
    client_block block = {wait_retry, wait_cleanup, w, 0, NULL};
    /* Saturated: a timeout near LLONG_MAX milliseconds waits for good. */
    net_block(ctx->c, timeout_ms > INT64_MAX / 1000 ? 0 : timeout_ms * 1000, &block);
    replicas_wait_add(&w->waiter);
    /* An acknowledgement between the count and the listing brought no wake-up: look again. */
    if (replicas_acked(ctx->c->last_write_seq) >= wanted) net_wake(ctx->c);
}

void replication_note_poll(client *c, uint64_t seq) {
    if (!(c->flags & CLIENT_REPLICA)) return;
    replicas_ack(c->id, seq);
    checkpoints_acknowledged(c->id, seq);
}

void info_replication(buf *b, txn *t) {
    (void)t;
    buf_printf(b, "# Replication\r\n");
    replica_entry list[MAX_LISTED_REPLICAS];
    int n = 0;
    if (replica_active()) {
        buf_printf(b, "role:slave\r\n");
        replica_info(b);
        buf priority;
        buf_init(&priority);
        config_get_value("replica-priority", &priority);
        buf_printf(b, "slave_priority:%.*s\r\nslave_read_only:1\r\nreplica_announced:1\r\n", (int)priority.len,
                   priority.data ? priority.data : "");
        buf_free(&priority);
    } else {
        buf_printf(b, "role:master\r\n");
        n = replicas_list(list, MAX_LISTED_REPLICAS);
    }
    buf_printf(b, "connected_slaves:%d\r\n", n);
    int64_t now = time_mono_ms();
    for (int i = 0; i < n; i++)
        buf_printf(b, "slave%d:ip=%s,port=%d,state=%s,offset=%llu,lag=%lld\r\n", i, list[i].ip, list[i].port,
                   list[i].syncing ? "send_bulk" : "online", (unsigned long long)list[i].acked,
                   (long long)(now - list[i].last_ms) / 1000);
    repl_identity id = identity_get();
    unsigned long long latest = (unsigned long long)store_latest_sequence();
    buf_printf(b, "master_failover_state:no-failover\r\nmaster_replid:%s\r\nmaster_replid2:%s\r\n", id.replid,
               id.replid2);
    buf_printf(b, "master_repl_offset:%llu\r\nsecond_repl_offset:%lld\r\n", latest, (long long)id.second_offset);
    unsigned long long oldest = (unsigned long long)wal_oldest_sequence();
    buf_printf(b, "repl_backlog_active:1\r\nrepl_backlog_first_byte_offset:%llu\r\nrepl_backlog_histlen:%llu\r\n", oldest,
               oldest && latest >= oldest ? latest - oldest + 1 : 0ULL);
}

#include "cmd/descriptor_flags.h"

static const cmd_def replication_defs[] = {
    {"replicaof", 3, NK | CMD_ADMIN | NOSCRIPT | STALE | CMD_NO_ASYNC_LOADING, 0, 0, 0, cmd_replicaof, "server", "@admin @slow @dangerous",
     "Makes the server a replica of another, or a master again (NO ONE).",
     "args(host-port(host port:int)|no-one(no=NO one=ONE))", NO_KEYS},
    {"slaveof", 3, NK | CMD_ADMIN | NOSCRIPT | STALE | CMD_NO_ASYNC_LOADING, 0, 0, 0, cmd_replicaof, "server", "@admin @slow @dangerous",
     "Makes the server a replica of another, or a master again (NO ONE). Alias of REPLICAOF.",
     "args(host-port(host port:int)|no-one(no=NO one=ONE))", NO_KEYS},
    {"role", 1, NK | F | NOSCRIPT | LOADING | STALE, 0, 0, 0, cmd_role, "server", "@admin @fast @dangerous",
     "Returns the replication role.",
     "", NO_KEYS},
    {"replconf", -1, NK | CMD_ADMIN | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_replconf, "server", "@admin @slow @dangerous",
     "What a replica tells its master (listening port, capabilities).",
     "", NO_KEYS},
    {"wait", 3, NK | NOSCRIPT, 0, 0, 0, cmd_wait, "generic", "@slow @connection",
     "Waits until the replicas have applied this client's last write.",
     "numreplicas:int timeout:int", NO_KEYS},
    {"psync", -3, NK | CMD_ADMIN | NOSCRIPT | CMD_NOMULTI | CMD_NO_ASYNC_LOADING, 0, 0, 0, cmd_psync, "server", "@admin @slow @dangerous",
     "A replica asks to continue from its sequence (then follows with POLLUPDATES).",
     "replicationid offset:int", NO_KEYS},
    {"fullsync", -2, NK | CMD_ADMIN | NOSCRIPT | CMD_NOMULTI | CMD_SUBCOMMANDS | CMD_NO_ASYNC_LOADING, 0, 0, 0, cmd_fullsync,
     "server", "@admin @slow @dangerous",
     "A replica downloads the checkpoint of its full resynchronization (FILES, READ, DONE).",
     "subcommand [argument]...", NO_KEYS},
};
const cmd_family replication_commands = {replication_defs, sizeof(replication_defs) / sizeof(replication_defs[0])};
