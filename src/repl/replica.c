#include "repl/replica.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cdc/apply.h"
#include "cdc/batch.h"
#include "cdc/consumers.h"
#include "cdc/record.h"
#include "config.h"
#include "repl/fullsync.h"
#include "repl/identity.h"
#include "repl/replicas.h"
#include "script/functions.h"
#include "server.h"
#include "storage/durable.h"
#include "storage/keylock.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Batches asked for per POLLUPDATES (POLLUPDATES's largest MAX; cdc-poll-max-bytes bounds the
 * reply too), and how long the master may hold it open when idle. */
#define POLL_MAX "1000"
#define POLL_BLOCK_MS 1000
/* How often the replica takes its master's durable consumers, between polls: an
 * acknowledgement on the master reaches it within a second. */
#define CONSUMERS_SYNC_MS 1000
/* Pause before connecting again after a failure. */
#define RETRY_MS 1000
/* Connecting gives up after this long (repl-timeout, if shorter). */
#define CONNECT_TIMEOUT_S 5

typedef enum { LINK_CONNECT, LINK_CONNECTING, LINK_SYNC, LINK_CONNECTED } link_state;
static const char *const link_state_names[] = {"connect", "connecting", "sync", "connected"};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running;  /* a thread exists: replica_stop joins it */
    int stopping; /* the thread is to end */
    char host[256];
    int port;
    link_state state;
    redisContext *link;  /* the open link: shut down to end a blocked read */
    char master_run_id[REPLID_LEN + 1]; /* the master's, as its REPLCONF reply told it ("" = unknown) */
    int64_t last_io_ms;  /* monotonic; 0 = never */
    int64_t down_since_ms; /* monotonic, when the link last went down (or the thread began) */
} rs = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static int stopping(void) {
    pthread_mutex_lock(&rs.lock);
    int s = rs.stopping;
    pthread_mutex_unlock(&rs.lock);
    return s;
}

/* Call under rs.lock. */
static void set_state_locked(link_state state) {
    if (rs.state == LINK_CONNECTED && state != LINK_CONNECTED) rs.down_since_ms = time_mono_ms();
    rs.state = state;
}

static void set_state(link_state state) {
    pthread_mutex_lock(&rs.lock);
    set_state_locked(state);
    pthread_mutex_unlock(&rs.lock);
}

static void note_io(void) {
    pthread_mutex_lock(&rs.lock);
    rs.last_io_ms = time_mono_ms();
    pthread_mutex_unlock(&rs.lock);
}

/* ---- the link ---- */

static int64_t repl_timeout_s(void) { return CONFIG_READ(repl_timeout); }

static redisContext *open_link(const char *host, int port) {
    int64_t limit = repl_timeout_s() < CONNECT_TIMEOUT_S ? repl_timeout_s() : CONNECT_TIMEOUT_S;
    struct timeval connect_tv = {(time_t)limit, 0};
    redisContext *c = redisConnectWithTimeout(host, port, connect_tv);
    if (!c || c->err) {
        log_msg(LOG_WARNING, "replica: can't connect to master %s:%d: %s", host, port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    /* A write to a master that stops reading gives up after repl-timeout (replies: see call). */
    struct timeval io_tv = {(time_t)repl_timeout_s(), 0};
    redisSetTimeout(c, io_tv);
    pthread_mutex_lock(&rs.lock);
    rs.link = c; /* from here replica_stop can cut it */
    int stop = rs.stopping;
    pthread_mutex_unlock(&rs.lock);
    if (stop) shutdown(c->fd, SHUT_RDWR);
    return c;
}

static void close_link(redisContext *c) {
    if (!c) return;
    pthread_mutex_lock(&rs.lock);
    rs.link = NULL;
    pthread_mutex_unlock(&rs.lock);
    redisFree(c);
}

static redisReply *link_failed(redisContext *c) {
    if (!stopping()) log_msg(LOG_WARNING, "replica: lost the link to the master: %s", c->errstr);
    return NULL;
}

/* How often a wait for the master's reply looks at the clock, the stop flag and repl-timeout. */
#define REPLY_CHECK_MS 200

/* Sends a command and waits for its reply, as long as the master is not silent for
 * repl-timeout (read at every check, so CONFIG SET applies to an open link) and the thread is
 * not stopped. NULL (logged) if the link failed. */
static redisReply *call(redisContext *c, int argc, const char **argv) {
    int done = 0;
    if (redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK) return link_failed(c);
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) return link_failed(c);
    int64_t heard = time_mono_ms();
    void *reply = NULL;
    for (;;) {
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) return link_failed(c);
        if (reply) break;
        if (stopping()) return NULL;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int ready = poll(&p, 1, REPLY_CHECK_MS);
        if (ready < 0 && errno != EINTR) return link_failed(c);
        if (ready > 0) {
            if (redisBufferRead(c) != REDIS_OK) return link_failed(c);
            heard = time_mono_ms();
        } else if (time_mono_ms() - heard >= repl_timeout_s() * 1000 + POLL_BLOCK_MS) {
            /* An idle master answers a poll only once its BLOCK is over: that much silence is
             * its due, repl-timeout comes on top. */
            log_msg(LOG_WARNING, "replica: the master was silent for repl-timeout (%llds)", (long long)repl_timeout_s());
            return NULL;
        }
    }
    note_io();
    return reply;
}

/* Sends a command whose reply must be a status (+OK …): 0, or -1 (logged). On success, the
 * status text is copied to status (if not NULL). */
static int call_expect_status(redisContext *c, int argc, const char **argv, char *status, size_t len) {
    redisReply *r = call(c, argc, argv);
    if (!r) return -1;
    int ok = r->type == REDIS_REPLY_STATUS;
    if (!ok)
        log_msg(LOG_WARNING, "replica: the master answered %s with: %.*s", argv[0],
                r->type == REDIS_REPLY_ERROR ? (int)r->len : 20, r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
    else if (status)
        snprintf(status, len, "%.*s", (int)r->len, r->str);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Tells the master our limits on what a batch may hold (apply_batch checks them): a master
 * whose own are larger refuses us, with the reason, rather than send batches we would refuse.
 * With capa run-id, it answers "OK <its run id>": a node that its own master asks to follow
 * refuses (a loop of two). A master that knows none of these ignores them and answers OK.
 * 0, or -1 (logged). */
static int exchange_limits_and_run_id(redisContext *c) {
    char databases[24], bulk_len[24], status[128], run_id[REPLID_LEN + 1] = "";
    snprintf(databases, sizeof(databases), "%d", CONFIG_READ(databases));
    snprintf(bulk_len, sizeof(bulk_len), "%lld", (long long)CONFIG_READ(proto_max_bulk_len));
    const char *replconf[7] = {"REPLCONF", "databases", databases, "proto-max-bulk-len", bulk_len, "capa", "run-id"};
    if (call_expect_status(c, 7, replconf, status, sizeof(status)) < 0) return -1;
    if (sscanf(status, "OK %40s", run_id) != 1) run_id[0] = '\0';
    pthread_mutex_lock(&rs.lock);
    memcpy(rs.master_run_id, run_id, sizeof(run_id));
    pthread_mutex_unlock(&rs.lock);
    return 0;
}

/* Checkpoint ids are 40 hex digits. */
#define CHECKPOINT_ID_LEN 40

static int is_checkpoint_id(const char *s) {
    return strlen(s) == CHECKPOINT_ID_LEN && strspn(s, "0123456789abcdefABCDEF") == CHECKPOINT_ID_LEN;
}

/* The master answered PSYNC with FULLRESYNC <replid> <sequence> <checkpoint id>: its data up
 * to that sequence replaces ours, and its history is ours from then on. Returns 0, or -1
 * (logged; old data kept). The master releases its checkpoint at our first poll, which
 * acknowledges its sequence: no FULLSYNC DONE is needed. */
static int full_sync(redisContext *c, const char *status) {
    char replid[REPLID_LEN + 2], id[CHECKPOINT_ID_LEN + 2];
    unsigned long long sequence;
    char end;
    if (sscanf(status, "FULLRESYNC %41s %llu %41s%c", replid, &sequence, id, &end) != 3 ||
        !identity_is_replid(replid) || !is_checkpoint_id(id)) {
        log_msg(LOG_WARNING, "replica: the master answered PSYNC with a malformed '%.128s'", status);
        return -1;
    }
    fullsync_link link = {c, call, stopping};
    if (fullsync_run(&link, id, sequence) < 0) return -1;
    /* The old history is gone with the old data: none of it can be continued from here. */
    if (identity_replace(replid) < 0) return -1;
    replicas_disconnect_all();
    return 0;
}

/* AUTH (with masterauth, and masteruser when set), then the listening port and our limits,
 * then PSYNC.
 * Returns 0 once the master agrees to continue from our latest sequence, or once a full sync
 * has made its data ours. */
static int handshake(redisContext *c) {
    buf pass, user;
    buf_init(&pass);
    buf_init(&user);
    config_get_value("masterauth", &pass);
    config_get_value("masteruser", &user);
    buf_append_byte(&pass, 0);
    buf_append_byte(&user, 0);
    int rc = 0;
    if (pass.len > 1) {
        const char *with_user[3] = {"AUTH", user.data, pass.data}, *without[2] = {"AUTH", pass.data};
        rc = user.len > 1 ? call_expect_status(c, 3, with_user, NULL, 0) : call_expect_status(c, 2, without, NULL, 0);
    }
    buf_free(&pass);
    buf_free(&user);
    char port[16], seq[24], status[128];
    snprintf(port, sizeof(port), "%d", CONFIG_READ(port));
    const char *replconf[3] = {"REPLCONF", "listening-port", port};
    if (rc == 0) rc = call_expect_status(c, 3, replconf, NULL, 0);
    if (rc == 0) rc = exchange_limits_and_run_id(c);
    repl_identity id = identity_get();
    /* A local write that passed txn_commit's check before this node became a replica may be on
     * its way: every keyed write holds the global lock's shared side until it is written. */
    if (rc == 0 && keylock_global_exclusive_unless(stopping) == 0) keylock_global_release();
    uint64_t latest = store_latest_sequence();
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)latest);
    /* Our run id last: a node asked to follow itself tells by it. */
    const char *psync[4] = {"PSYNC", id.replid, seq, identity_run_id()};
    if (rc == 0) rc = call_expect_status(c, 4, psync, status, sizeof(status));
    if (rc < 0) return -1;
    char replid[REPLID_LEN + 2];
    if (strncmp(status, "FULLRESYNC ", 11) == 0) return full_sync(c, status);
    int adopted = sscanf(status, "CONTINUE %41s", replid) == 1 ? identity_adopt(replid, latest + 1) : -1;
    if (adopted < 0) {
        log_msg(LOG_WARNING, "replica: the master answered PSYNC with '%s'", status);
        return -1;
    }
    if (adopted) replicas_disconnect_all(); /* a history of our replicas' own is over */
    log_msg(LOG_NOTICE, "replica: following the master from sequence %s (partial sync)", seq);
    return 0;
}

/* ---- applying batches ---- */

/* How the replica asks for batches: BINARY, their bytes as they are; RAW, hex, from a master that
 * does not know BINARY (an older tidekv). */
typedef enum { POLL_BINARY, POLL_RAW } poll_format;
static const char *const poll_format_names[] = {"BINARY", "RAW"};

/* Consecutive batches of a POLLUPDATES reply written as one: their commits one after another
 * behind one header, as a master's group write holds its clients' commits, so the replica
 * pays one RocksDB write (one WAL append), one key-count update and one wake-up for them
 * all. Each commit keeps its change record and its sequences: POLLUPDATES on the replica splits
 * the write back into the master's commits (cdc/commits.h). */
typedef struct batch_group {
    txn t;                     /* every batch's writes, staged to learn what they change */
    functions_batch libraries; /* FUNCTION's libraries in memory follow the batches' records */
    apply_limits limits;
    buf merged;      /* the header, then each batch's records */
    uint64_t first;  /* the first batch's sequence */
    uint32_t count;  /* the sequences of the batches staged */
    size_t nbatches;
} batch_group;

static void group_begin(batch_group *g) {
    txn_init(&g->t);
    functions_batch_init(&g->libraries);
    g->limits = (apply_limits){CONFIG_READ(databases), (uint64_t)CONFIG_READ(proto_max_bulk_len), &g->libraries.hooks, 1};
    buf_init(&g->merged);
    uint8_t header[BATCH_HEADER_SIZE] = {0};
    buf_append(&g->merged, header, sizeof(header));
    g->first = store_latest_sequence() + 1;
    g->count = 0;
    g->nbatches = 0;
}

static void group_free(batch_group *g) {
    functions_batch_end(&g->libraries, &g->t, 0);
    txn_free(&g->t);
    buf_free(&g->merged);
}

/* Whether a batch begins with a commit's change record: one that does not would join the
 * commit before it in a merged write, so it begins a write of its own. */
static int starts_commit(const char *data, size_t len) {
    batch_reader r;
    batch_record op;
    return batch_reader_init(&r, data, len) == 0 && batch_reader_next(&r, &op) == 1 && op.op == BATCH_LOG_DATA &&
           record_is_tidekv(op.key.ptr, op.key.len);
}

/* Adds one batch after the group's, checking it is the next one, and stages it at once when
 * one_by_one (else group_stage stages the group's batches together). The caller holds the
 * global lock's exclusive side: the batch's before-state must not move. Returns 0, 1 if it
 * must begin a group of its own (nothing added), or -1 if it is refused (logged; the group's
 * txn is then empty). */
static int group_add(batch_group *g, const char *data, size_t len, int one_by_one) {
    batch_reader h;
    /* Staged together, the batches are checked as the merged one: each must be whole on its
     * own first (its count its records'), or two malformed ones could add up to a good one. */
    if (batch_reader_init(&h, data, len) < 0 || h.count == 0 || h.count > UINT32_MAX - g->count ||
        (!one_by_one && batch_validate(data, len) < 0)) {
        log_msg(LOG_WARNING, "replica: the master sent a malformed batch");
        return -1;
    }
    uint64_t expected = g->first + g->count;
    if (h.sequence != expected) {
        log_msg(LOG_WARNING, "replica: the master sent the batch at sequence %llu, expected %llu",
                (unsigned long long)h.sequence, (unsigned long long)expected);
        return -1;
    }
    if (g->nbatches > 0 && !starts_commit(data, len)) return 1;
    char err[256];
    if (one_by_one && cdc_apply_batch(&g->t, data, len, &g->limits, err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "replica: refused a batch from the master: %s", err);
        return -1;
    }
    buf_append(&g->merged, data + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE);
    g->count += h.count;
    g->nbatches++;
    return 0;
}

/* Stages the group's batches (added not one_by_one) in one pass over the merged batch: its
 * checks see the commits one by one as they would apart, and the per-call set-up is paid once
 * per group rather than per batch. 0, or -1 if one of them is refused (not logged: staging them
 * one by one tells which). */
static int group_stage(batch_group *g) {
    char err[256];
    batch_write_header((uint8_t *)g->merged.data, g->first, g->count);
    return cdc_apply_batch(&g->t, g->merged.data, g->merged.len, &g->limits, err, sizeof(err)) < 0 ? -1 : 0;
}

/* Writes the group's batches as one (nothing if it has none), and frees it. 0, or -1 (logged). */
static int group_write(batch_group *g) {
    int rc = 0;
    if (g->nbatches > 0) {
        functions_batch_end(&g->libraries, &g->t, 1);
        batch_write_header((uint8_t *)g->merged.data, g->first, g->count); /* staged one by one, it has none yet */
        char *write_err = NULL;
        if ((rc = txn_commit_verbatim(&g->t, g->merged.data, g->merged.len, &write_err)) < 0)
            log_msg(LOG_WARNING, "replica: write failed: %s", write_err);
        free(write_err);
        if (rc == 0 && store_latest_sequence() != g->first + g->count - 1) {
            log_msg(LOG_WARNING, "replica: the batches from %llu were written at another sequence: the data diverged",
                    (unsigned long long)g->first);
            rc = -1;
        }
        if (rc == 0) { /* counted as the master counts its write groups (INFO stats) */
            atomic_fetch_add(&stats.write_groups, 1);
            atomic_fetch_add(&stats.grouped_writes, (long long)g->nbatches);
        }
    }
    group_free(g);
    return rc;
}

/* The batch an update of the reply holds, in the format the poll asked: as it is (BINARY), or
 * decoded into raw (RAW's hex). 0, or -1 (logged) if it is not one. */
static int update_batch(const redisReply *u, poll_format format, buf *raw, const char **data, size_t *len) {
    if (u->type != REDIS_REPLY_STRING) {
        log_msg(LOG_WARNING, "replica: the master sent a batch that is not a string");
        return -1;
    }
    if (format == POLL_BINARY) {
        *data = u->str;
        *len = u->len;
        return 0;
    }
    buf_clear(raw);
    if (hex_decode(raw, u->str, u->len) < 0) {
        log_msg(LOG_WARNING, "replica: the master sent a batch that is not hex");
        return -1;
    }
    *data = raw->data;
    *len = raw->len;
    return 0;
}

/* What staging a group came to. */
enum { STAGED = 0, BATCH_REFUSED = -1, GROUP_REFUSED = -2 };

/* Begins a group with updates[from] and stages the batches that follow, up to end or one that
 * begins a group of its own: together, or one_by_one to tell which one is refused. Returns
 * STAGED with *staged the number staged; BATCH_REFUSED when updates[from + *staged] is refused
 * (logged), or, not one_by_one, GROUP_REFUSED when one of the batches staged together is; the
 * group is then freed. */
static int stage_group(batch_group *g, const redisReply *updates, poll_format format, size_t from, size_t end,
                       int one_by_one, size_t *staged) {
    group_begin(g);
    buf raw;
    buf_init(&raw);
    int rc = 0;
    for (*staged = 0; from + *staged < end; ++*staged) {
        const char *data;
        size_t len;
        rc = update_batch(updates->element[from + *staged], format, &raw, &data, &len);
        if (rc == 0) rc = group_add(g, data, len, one_by_one);
        if (rc != 0) break;
    }
    buf_free(&raw);
    if (rc >= 0 && !one_by_one && g->nbatches > 0 && group_stage(g) < 0) rc = GROUP_REFUSED;
    if (rc < 0) group_free(g);
    return rc < 0 ? rc : STAGED;
}

/* Applies a reply's batches, in order, in as few writes as they allow. A refused batch stops
 * them: staged again one by one, the ones before it are written (staged anew, their txn having
 * gone with the refusal), then the failure is reported. 0, or -1 (logged). */
static int apply_batches(const redisReply *updates, poll_format format) {
    for (size_t from = 0; from < updates->elements;) {
        batch_group g;
        size_t end = updates->elements, staged;
        int refused = 0, one_by_one = 0, rc;
        while ((rc = stage_group(&g, updates, format, from, end, one_by_one, &staged)) != STAGED) {
            if (rc == GROUP_REFUSED) {
                one_by_one = 1; /* which one, and the ones before it */
            } else {
                refused = 1;
                end = from + staged; /* fewer each time: the loop ends */
            }
        }
        if (group_write(&g) < 0 || refused) return -1;
        from += staged;
    }
    return 0;
}

/* The value of a field of a RESP2 map reply (a flat array), or NULL. */
static const redisReply *map_field(const redisReply *r, const char *name) {
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, name) == 0) return r->element[i + 1];
    return NULL;
}

/* With appendfsync always, a write is acknowledged (the next poll) only once the WAL holds it
 * on disk, as on the master: WAIT counts the replicas that have it. The sync thread does the
 * syncing (storage/durable.h), for every writer at once. */
#define SYNC_CHECK_US 200

static int sync_if_always(void) {
    if (CONFIG_READ(appendfsync) != FSYNC_ALWAYS) return 0;
    uint64_t applied = store_latest_sequence(), failures = durable_sync_failures();
    durable_request_sync();
    while (durable_synced_sequence() < applied && !stopping()) {
        if (durable_sync_failures() != failures) { /* not acknowledged: the link goes, and comes back */
            log_msg(LOG_WARNING, "replica: can't sync the write-ahead log");
            return -1;
        }
        usleep(SYNC_CHECK_US);
    }
    return 0;
}

/* Applies a POLLUPDATES reply's batches under the global lock's exclusive side (taken once for
 * them all: readers wait for one reply's batches, not for each). */
static int apply_updates(const redisReply *r, poll_format format) {
    const redisReply *updates = r->type == REDIS_REPLY_ARRAY ? map_field(r, "updates") : NULL;
    if (!updates || updates->type != REDIS_REPLY_ARRAY) {
        log_msg(LOG_WARNING, "replica: the master's POLLUPDATES reply is malformed");
        return -1;
    }
    if (updates->elements == 0) return 0;
    /* A busy script may hold keys a while, and REPLICAOF inside EXEC holds them while it waits
     * for this thread to stop: the wait gives up when the thread is stopped. */
    while (keylock_global_exclusive_unless(stopping) < 0)
        if (stopping()) return -1;
    int rc = apply_batches(updates, format);
    keylock_global_release();
    return rc < 0 ? -1 : sync_if_always();
}

/* ---- the master's durable consumers ---- */

/* A non-negative integer field of a map: 0, or -1. */
static int count_field(const redisReply *m, const char *name, long long *out) {
    const redisReply *v = map_field(m, name);
    if (!v || v->type != REDIS_REPLY_INTEGER || v->integer < 0) return -1;
    *out = v->integer;
    return 0;
}

/* One consumer of the master's CDC INFO (a map): 0, or -1 if it is malformed. */
static int parse_consumer(const redisReply *m, consumer *c) {
    if (m->type != REDIS_REPLY_ARRAY) return -1;
    const redisReply *name = map_field(m, "name"), *state = map_field(m, "state");
    long long seq, created, acked;
    if (!name || name->type != REDIS_REPLY_STRING || !consumer_name_valid(name->str, name->len) || !state ||
        state->type != REDIS_REPLY_STRING || count_field(m, "sequence", &seq) < 0 ||
        count_field(m, "created", &created) < 0 || count_field(m, "acked", &acked) < 0)
        return -1;
    memset(c, 0, sizeof(*c));
    memcpy(c->name, name->str, name->len);
    c->sequence = (uint64_t)seq;
    c->created_ms = created;
    c->acked_ms = acked;
    c->lost = strcmp(state->str, "lost") == 0;
    return c->lost || strcmp(state->str, "active") == 0 ? 0 : -1;
}

/* Asks the master for its durable consumers (CDC INFO) and makes ours the same, so that they
 * and their history are here when this node is promoted. 0, or -1 (logged) when the link failed
 * or the answer is not one to keep. */
static int sync_consumers(redisContext *c) {
    const char *info[2] = {"CDC", "INFO"};
    redisReply *r = call(c, 2, info);
    if (!r) return -1;
    char err[256] = "not a list of consumers";
    int rc = r->type == REDIS_REPLY_ARRAY && r->elements <= CONSUMER_FILE_MAX ? 0 : -1;
    if (r->type == REDIS_REPLY_ERROR) snprintf(err, sizeof(err), "%.*s", (int)r->len, r->str);
    size_t n = rc == 0 ? r->elements : 0;
    consumer *list = malloc((n ? n : 1) * sizeof(*list));
    if (!list) abort();
    for (size_t i = 0; i < n && rc == 0; i++) rc = parse_consumer(r->element[i], &list[i]);
    if (rc == 0) rc = consumers_replicate(list, n, err, sizeof(err));
    if (rc < 0) log_msg(LOG_WARNING, "replica: can't take the master's CDC consumers: %s", err);
    free(list);
    freeReplyObject(r);
    return rc;
}

/* Whether a master refused the poll's FORMAT: one older than FORMAT BINARY. */
static int format_unknown(const redisReply *r) {
    static const char prefix[] = "ERR invalid FORMAT option";
    return r->len >= sizeof(prefix) - 1 && memcmp(r->str, prefix, sizeof(prefix) - 1) == 0;
}

/* Polls the master for what follows our latest sequence and applies it, until the link fails
 * or the thread is stopped; at most once a second between polls, takes its consumers. */
static void follow(redisContext *c) {
    set_state(LINK_CONNECTED);
    int64_t consumers_due = 0; /* monotonic ms: at once */
    poll_format format = POLL_BINARY;
    while (!stopping()) {
        char seq[24], block[24];
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)store_latest_sequence());
        /* An idle master answers in time for the next look at its consumers. */
        int64_t block_ms = consumers_due - time_mono_ms();
        block_ms = block_ms < 1 ? 1 : block_ms > POLL_BLOCK_MS ? POLL_BLOCK_MS : block_ms;
        snprintf(block, sizeof(block), "%lld", (long long)block_ms);
        const char *poll[9] = {"POLLUPDATES", seq, "MAX", POLL_MAX, "STRICT", "FORMAT", poll_format_names[format],
                               "BLOCK", block};
        redisReply *r = call(c, 9, poll);
        if (!r) return;
        int rc = 0;
        if (r->type == REDIS_REPLY_ERROR && format == POLL_BINARY && format_unknown(r)) {
            log_msg(LOG_NOTICE, "replica: the master does not know FORMAT BINARY: following it in FORMAT RAW");
            format = POLL_RAW;
            freeReplyObject(r);
            continue; /* the same poll again at once, in RAW */
        }
        if (r->type == REDIS_REPLY_ERROR) {
            log_msg(LOG_WARNING, "replica: the master refused to continue from sequence %s: %.*s", seq, (int)r->len, r->str);
            rc = -1;
        } else {
            rc = apply_updates(r, format);
        }
        freeReplyObject(r);
        if (rc == 0 && time_mono_ms() >= consumers_due) {
            consumers_due = time_mono_ms() + CONSUMERS_SYNC_MS;
            rc = sync_consumers(c);
        }
        if (rc < 0) return;
    }
}

/* ---- the thread ---- */

static void pause_before_retry(void) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += RETRY_MS / 1000;
    pthread_mutex_lock(&rs.lock);
    while (!rs.stopping && pthread_cond_timedwait(&rs.wake, &rs.lock, &until) == 0) {
    }
    pthread_mutex_unlock(&rs.lock);
}

static void *replica_main(void *arg) {
    (void)arg;
    char host[256];
    int port;
    pthread_mutex_lock(&rs.lock);
    snprintf(host, sizeof(host), "%s", rs.host);
    port = rs.port;
    pthread_mutex_unlock(&rs.lock);
    while (!stopping()) {
        set_state(LINK_CONNECTING);
        redisContext *c = open_link(host, port);
        if (c) {
            set_state(LINK_SYNC);
            if (handshake(c) == 0) follow(c);
        }
        close_link(c);
        set_state(LINK_CONNECT);
        if (!stopping()) pause_before_retry();
    }
    return NULL;
}

/* Ends the thread, if there is one, and waits for it. */
static void stop_thread(void) {
    pthread_mutex_lock(&rs.lock);
    int running = rs.running;
    rs.stopping = 1;
    if (rs.link) shutdown(rs.link->fd, SHUT_RDWR); /* ends a blocked read at once */
    pthread_cond_broadcast(&rs.wake);
    pthread_mutex_unlock(&rs.lock);
    if (running) pthread_join(rs.thread, NULL);
    pthread_mutex_lock(&rs.lock);
    rs.running = 0;
    pthread_mutex_unlock(&rs.lock);
}

/* One change of master at a time (REPLICAOF on two workers, shutdown): each stops the thread
 * the previous one started. */
static pthread_mutex_t changes = PTHREAD_MUTEX_INITIALIZER;

int replica_follow(const char *host, int port) {
    pthread_mutex_lock(&changes);
    if (replica_follows(host, port)) {
        pthread_mutex_unlock(&changes);
        return 0;
    }
    stop_thread();
    pthread_mutex_lock(&rs.lock);
    snprintf(rs.host, sizeof(rs.host), "%s", host);
    rs.port = port;
    rs.stopping = 0;
    rs.state = LINK_CONNECT;
    rs.last_io_ms = 0;
    rs.down_since_ms = 0; /* never up yet */
    rs.master_run_id[0] = '\0';
    txn_refuse_local_writes(1); /* before the thread: from now on only the master's batches */
    int rc = pthread_create(&rs.thread, NULL, replica_main, NULL) == 0 ? 0 : -1;
    rs.running = rc == 0;
    if (rc < 0) txn_refuse_local_writes(0);
    pthread_mutex_unlock(&rs.lock);
    pthread_mutex_unlock(&changes);
    if (rc < 0) log_msg(LOG_WARNING, "replica: can't start the replication thread");
    return rc;
}

void replica_stop(void) {
    pthread_mutex_lock(&changes);
    if (replica_active()) {
        stop_thread();
        pthread_mutex_lock(&rs.lock);
        rs.master_run_id[0] = '\0'; /* no master: no loop through it */
        pthread_mutex_unlock(&rs.lock);
        identity_promote(store_latest_sequence() + 1);
        /* Before a local write takes the sequences of the master's changes that never came. */
        consumers_lose_ahead(store_latest_sequence());
        txn_refuse_local_writes(0);
        log_msg(LOG_NOTICE, "replica: no longer following a master; a master from sequence %llu on",
                (unsigned long long)store_latest_sequence() + 1);
    }
    pthread_mutex_unlock(&changes);
}

void replica_close(void) {
    pthread_mutex_lock(&changes);
    stop_thread();
    pthread_mutex_unlock(&changes);
}

int replica_drop_link(void) {
    pthread_mutex_lock(&rs.lock);
    int up = rs.link && rs.state == LINK_CONNECTED;
    if (up) {
        shutdown(rs.link->fd, SHUT_RDWR); /* the thread's next read or write fails */
        set_state_locked(LINK_CONNECT);  /* down from now on, as INFO and a second kill see it */
    }
    pthread_mutex_unlock(&rs.lock);
    if (up) log_msg(LOG_NOTICE, "replica: the link to the master was closed by CLIENT KILL");
    return up;
}

int replica_master_is(const char *run_id) {
    pthread_mutex_lock(&rs.lock);
    int same = rs.master_run_id[0] && strcmp(rs.master_run_id, run_id) == 0;
    pthread_mutex_unlock(&rs.lock);
    return same;
}

int replica_active(void) { return txn_local_writes_refused(); }

int replica_follows(const char *host, int port) {
    pthread_mutex_lock(&rs.lock);
    int same = rs.running && !rs.stopping && rs.port == port && strcmp(rs.host, host) == 0;
    pthread_mutex_unlock(&rs.lock);
    return same;
}

int replica_link_up(void) {
    pthread_mutex_lock(&rs.lock);
    int up = rs.state == LINK_CONNECTED;
    pthread_mutex_unlock(&rs.lock);
    return up;
}

int replica_get_role(replica_role *out) {
    if (!replica_active()) return -1;
    pthread_mutex_lock(&rs.lock);
    snprintf(out->host, sizeof(out->host), "%s", rs.host);
    out->port = rs.port;
    out->state = link_state_names[rs.state];
    int up = rs.state == LINK_CONNECTED;
    pthread_mutex_unlock(&rs.lock);
    out->offset = up ? (long long)store_latest_sequence() : -1; /* as Redis: no link, no offset */
    return 0;
}

void replica_info(buf *out) {
    pthread_mutex_lock(&rs.lock);
    int64_t now = time_mono_ms();
    int up = rs.state == LINK_CONNECTED;
    buf_printf(out, "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n", rs.host, rs.port, up ? "up" : "down");
    buf_printf(out, "master_last_io_seconds_ago:%lld\r\n", up && rs.last_io_ms ? (long long)(now - rs.last_io_ms) / 1000 : -1LL);
    fullsync_info(out);
    if (!up) /* -1: never up since it began following */
        buf_printf(out, "master_link_down_since_seconds:%lld\r\n",
                   rs.down_since_ms ? (long long)(now - rs.down_since_ms) / 1000 : -1LL);
    pthread_mutex_unlock(&rs.lock);
    unsigned long long offset = (unsigned long long)store_latest_sequence();
    buf_printf(out, "slave_read_repl_offset:%llu\r\nslave_repl_offset:%llu\r\n", offset, offset);
}
