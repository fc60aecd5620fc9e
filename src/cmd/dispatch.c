#include "cmd/dispatch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "cmd/offload.h"
#include "config.h"
#include "net/net.h"
#include "script/engine.h"
#include "storage/durable.h"
#include "storage/keylock.h"
#include "types/keyspace.h"
#include "util/log.h"
#include "util/timeutil.h"

/* The key hashes a command will touch, for the striped locks. */
typedef struct key_set {
    key_sink sink; /* first: the sink's add gets the key_set */
    const resp_arg *argv;
    int db;
    uint64_t *hashes;
    size_t n, cap;
    int exclusive; /* a command that touches every key runs alone */
} key_set;

static void key_set_add(key_set *ks, uint64_t h) {
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 16;
        ks->hashes = realloc(ks->hashes, ks->cap * sizeof(uint64_t));
        if (!ks->hashes) abort();
    }
    ks->hashes[ks->n++] = h;
}

static void add_key_hash(key_sink *sink, key_ref k) {
    key_set *ks = (key_set *)sink;
    if (k.flags & KEY_NOT_KEY) return; /* a shard channel: no data to lock */
    key_set_add(ks, keylock_hash(k.db >= 0 ? k.db : ks->db, ks->argv[k.pos].ptr, ks->argv[k.pos].len));
}

/* Adds the hashes of the keys the command's descriptor finds (malformed arguments: those found
 * before; the command then replies an error without touching any). */
static void collect_keys(const cmd_def *def, int argc, const resp_arg *argv, int db, key_set *ks) {
    if (def->flags & (CMD_ALLKEYS | CMD_SCRIPT)) ks->exclusive = 1;
    ks->sink.add = add_key_hash;
    ks->argv = argv;
    ks->db = db;
    (void)cmd_get_keys(def, argc, argv, &ks->sink);
}

/* Takes the command's locks. Returns -1 holding none if it gave up waiting for them (a
 * script past busy-reply-threshold: see dispatch_lock_wait_gives_up). */
static int lock_keys(key_set *ks) {
    if ((ks->exclusive ? keylock_global_exclusive() : keylock_global_shared()) < 0) return -1;
    if (keylock_acquire(ks->hashes, ks->n) == 0) return 0;
    keylock_global_release();
    return -1;
}

static void unlock_keys(key_set *ks) {
    keylock_release(ks->hashes, ks->n);
    keylock_global_release();
    free(ks->hashes);
}

int dispatch_lock_wait_gives_up(void) {
    return script_busy(CONFIG_READ(busy_reply_threshold)) != SCRIPT_BUSY_NONE;
}

/* Redis's BUSY error for the script or function that is running too long. */
static const char *busy_error(int busy) { return busy == SCRIPT_BUSY_FUNCTION ? ERR_BUSY_FUNCTION : ERR_BUSY_EVAL; }

/* The error of a command that gave up waiting for its locks. */
static const char *busy_now(void) { return busy_error(script_busy(CONFIG_READ(busy_reply_threshold))); }

static void reply_busy(reply *r) { reply_error(r, busy_now()); }

/* After a failed write: drops what was written into r's output since mark and puts n write
 * errors in its place (one per command whose reply is dropped). */
static void replace_replies_with_error(reply *r, size_t mark, int n, const char *err) {
    r->out->len = mark;
    for (int i = 0; i < n; i++) reply_errorf(r, "ERR write failed: %s", err);
}

/* Commits the txn; on failure the reply written since mark becomes the error. */
static void commit_or_fail(reply *r, txn *t, size_t mark) {
    char *err = NULL;
    if (txn_commit(t, &err) == 0) return;
    log_msg(LOG_WARNING, "write failed: %s", err);
    replace_replies_with_error(r, mark, 1, err);
    free(err);
}

/* The last sequence this thread wrote since `before`, or 0 if it wrote nothing. */
static uint64_t written_since(uint64_t before) {
    uint64_t last = txn_thread_last_sequence();
    return last != before ? last : 0;
}

void dispatch_hold_for_sync(client *c, uint64_t written_to) {
    if (written_to == 0) return;
    c->last_write_seq = written_to;
    /* With appendfsync always, the reply waits until the WAL is synced past this client's write. */
    if (CONFIG_READ(appendfsync) == FSYNC_ALWAYS) c->sync_wait_seq = written_to;
}

void dispatch_send_made_reply(client *c, const buf *out, int cut, uint64_t written_to) {
    reply r = net_client_reply(c);
    if (cut) c->reply_cut = 1; /* closed, as it would have been had it run here */
    else reply_encoded(&r, out->data, out->len);
    dispatch_hold_for_sync(c, written_to);
}

static void free_args(int argc, resp_arg *argv) {
    for (int i = 0; i < argc; i++) {
        free(argv[i].ptr);
        argv[i].ptr = NULL;
    }
}

/* Every write is recorded (DESIGN.md): a command that wrote without adding a change record
 * would be missing from the change stream. With debug-check-recording (the tests turn it on)
 * it stops the server, naming the command, so the test that ran it fails. */
static void check_recorded(const cmd_ctx *ctx, const txn_mark *before) {
    if (!CONFIG_READ(debug_check_recording) || !txn_wrote_unrecorded(ctx->t, before)) return;
    log_msg(LOG_WARNING, "BUG: command '%s' wrote without a change record", ctx->name);
    abort();
}

/* Runs a command's handler in ctx->t so that it is all or nothing: one that fails midway (a
 * storage read error) leaves none of its writes, change record or partial reply behind. */
void dispatch_run_handler(cmd_ctx *ctx, const cmd_def *def) {
    txn_mark before;
    txn_savepoint(ctx->t, &before);
    txn_command_begins(ctx->t);
    ctx->reply_mark = ctx->r->out->len;
    ctx->failed = 0;
    cmd_events ev;
    cmd_events_begin(ctx, def, &ev);
    def->fn(ctx);
    if (ctx->failed) txn_rollback(ctx->t, &before);
    else check_recorded(ctx, &before);
    cmd_events_end(ctx, &ev);
}

/* Runs one command as one batch, replying into r, its locks held by the caller. With
 * free_early, its arguments are freed once it has run: a big value's bytes go back before
 * the write copies them once more. Returns the last sequence it wrote (0: none). */
static uint64_t run_in_txn(cmd_ctx *ctx, const cmd_def *def, int free_early) {
    txn t;
    txn_init(&t);
    if (def->flags & CMD_READONLY) txn_set_read_only(&t);
    ctx->t = &t;
    size_t mark = ctx->r->out->len;
    uint64_t before = txn_thread_last_sequence();
    dispatch_run_handler(ctx, def);
    if (free_early) free_args(ctx->argc, ctx->argv);
    commit_or_fail(ctx->r, &t, mark);
    txn_free(&t);
    return written_since(before);
}

/* Runs one command as one batch, its locks (if any) held by the caller. */
static int run_locked(client *c, const cmd_def *def, int argc, resp_arg *argv, int retrying) {
    reply r = net_client_reply(c);
    cmd_ctx ctx = {c, def->name, argc, argv, &r, NULL, c->db, 0, retrying, 0, 0, 0, NULL, 0};
    dispatch_hold_for_sync(c, run_in_txn(&ctx, def, 0));
    return ctx.keep_waiting;
}

static int invocation_writes(const cmd_def *def, int argc, const resp_arg *argv);

/* Whether a command takes locks: those of its keys, or for a write without keys (FUNCTION
 * LOAD) the global lock's shared side alone, so that no commit lands while the exclusive side
 * is held (a full sync's checkpoint, repl/checkpoints.h). FUNCTION KILL and STATS take none:
 * they run beside a busy script. */
static int takes_locks(const cmd_def *def, int argc, const resp_arg *argv) {
    return !(def->flags & CMD_NOKEYS) || invocation_writes(def, argc, argv);
}

static int may_end_busy_script(const cmd_def *def, int argc, const resp_arg *argv);

/* How a command without key locks holds the global lock (hold_global_only). */
enum { GLOBAL_NOT_HELD, GLOBAL_SHARED, GLOBAL_SKIPPED };

static int a_script_runs(void) { return script_busy(0) != SCRIPT_BUSY_NONE; }

/* Commands without keys read the store too (SEQUENCE, POLLUPDATES, DBSIZE, INFO, SNAPSHOT,
 * SCAN …): they hold the global lock's shared side, whose exclusive side a full sync takes to
 * swap the store (dataset.h). Not EXEC, which takes its commands' locks itself, nor on a thread
 * that holds the lock already (its write group, a script). One that may run beside a busy
 * script skips it while a script runs: the script holds the lock, and this command may be the
 * one to end it; counted, so that a store swap after the script waits for it. Returns how it
 * holds the lock, or -1 if it gave up waiting. */
static int hold_global_only(const cmd_def *def, int argc, const resp_arg *argv) {
    if (!(def->flags & CMD_NOKEYS) || strcmp(def->name, "exec") == 0 || keylock_global_held()) return GLOBAL_NOT_HELD;
    if (may_end_busy_script(def, argc, argv) && keylock_global_skip_begin(a_script_runs)) return GLOBAL_SKIPPED;
    return keylock_global_shared() == 0 ? GLOBAL_SHARED : -1;
}

static void release_global_only(int held) {
    if (held == GLOBAL_SHARED) keylock_global_release();
    if (held == GLOBAL_SKIPPED) keylock_global_skip_end();
}

int dispatch_hold_store(reply *r) {
    if (keylock_global_held()) return 0;
    if (keylock_global_shared() == 0) return 1;
    reply_busy(r);
    return -1;
}

void dispatch_release_store(int held) {
    if (held > 0) keylock_global_release();
}

/* Runs one command under its key locks, as one batch. Returns 1 if a retried blocking
 * command still has to wait. */
static int run_command(client *c, const cmd_def *def, int argc, resp_arg *argv, int retrying) {
    key_set ks = {0};
    collect_keys(def, argc, argv, c->db, &ks);
    int locks = takes_locks(def, argc, argv), global_only = locks ? GLOBAL_NOT_HELD : hold_global_only(def, argc, argv);
    if ((locks && lock_keys(&ks) < 0) || global_only < 0) {
        reply r = net_client_reply(c);
        reply_busy(&r);
        free(ks.hashes);
        return 0;
    }
    blocking_claims_begin();
    int keep_waiting = run_locked(c, def, argc, argv, retrying);
    blocking_serve_claimed();
    if (locks) unlock_keys(&ks);
    else free(ks.hashes);
    release_global_only(global_only);
    return keep_waiting;
}

uint64_t dispatch_run_detached(client *view, const cmd_def *def, int argc, resp_arg *argv, reply *r) {
    key_set ks = {0};
    collect_keys(def, argc, argv, view->db, &ks);
    if (lock_keys(&ks) < 0) {
        reply_busy(r);
        free(ks.hashes);
        return 0;
    }
    cmd_ctx ctx = {view, def->name, argc, argv, r, NULL, view->db, 0, 0, 0, 0, 0, NULL, 0};
    blocking_claims_begin();
    uint64_t written_to = run_in_txn(&ctx, def, 1);
    blocking_serve_claimed();
    unlock_keys(&ks);
    return written_to;
}

/* Adds the stripes of the command's keys to set, trying only (the thread holds stripes, and one
 * holding stripes never waits for another): 0, or -1 if one is busy. */
static int try_take_keys(keylock_set *set, const cmd_def *def, int argc, const resp_arg *argv, int db) {
    key_set ks = {0};
    collect_keys(def, argc, argv, db, &ks);
    int rc = keylock_set_add(set, ks.hashes, ks.n, 0);
    free(ks.hashes);
    return rc;
}

int dispatch_serve(client *view, int argc, resp_arg *argv, reply *r, keylock_set *taken, uint64_t *sync_to) {
    if (!keylock_global_held()) return -1; /* no lock keeps the store: the waiter's worker runs it */
    const cmd_def *def = cmd_lookup(argv[0].ptr, argv[0].len);
    if (try_take_keys(taken, def, argc, argv, view->db) < 0) return -1;
    cmd_ctx ctx = {view, def->name, argc, argv, r, NULL, view->db, 0, 1, 0, 0, 0, NULL, 0};
    run_in_txn(&ctx, def, 0);
    /* This thread's last write: the waking commit, or the serving's own after it. */
    *sync_to = txn_thread_last_sequence();
    return !ctx.keep_waiting;
}

int dispatch_retry(client *c, int argc, resp_arg *argv) {
    write_group_commit(c->group);
    return !run_command(c, cmd_lookup(argv[0].ptr, argv[0].len), argc, argv, 1);
}

/* Commands a script cannot run with key locks alone: those on every key, and those that read
 * the whole keyspace (KEYS, SCAN, RANDOMKEY, DBSIZE). */
static int needs_every_key(const cmd_def *def) {
    return (def->flags & CMD_ALLKEYS) || ((def->flags & CMD_NOKEYS) && (def->flags & CMD_READONLY));
}

int dispatch_cover_keys(cmd_ctx *ctx, const cmd_def *def, int argc, const resp_arg *argv, int db) {
    if (!ctx->locks) return 0; /* it holds every key */
    if (needs_every_key(def)) {
        ctx->needs_all_keys = 1;
        return -1;
    }
    if (def->flags & CMD_NOKEYS) return 0;
    int rc = try_take_keys(ctx->locks, def, argc, argv, db);
    if (rc < 0) ctx->needs_all_keys = 1;
    return rc;
}

void dispatch_key_hashes(int argc, const resp_arg *argv, int db, uint64_t **hashes, size_t *n) {
    key_set ks = {0};
    collect_keys(cmd_lookup(argv[0].ptr, argv[0].len), argc, argv, db, &ks);
    *hashes = ks.hashes;
    *n = ks.n;
}

/* Redis's error for an unknown command, into msg (NUL-terminated). */
static void unknown_command_text(buf *msg, int argc, const resp_arg *argv) {
    buf_printf(msg, "ERR unknown command '%.128s', with args beginning with: ", argv[0].ptr);
    for (int i = 1; i < argc && msg->len < 128 + 60; i++) buf_printf(msg, "'%.*s' ", 128, argv[i].ptr);
    buf_append_byte(msg, 0);
}

static void queue_command(client *c) {
    if (c->queue_len == c->queue_cap) {
        c->queue_cap = c->queue_cap ? c->queue_cap * 2 : 8;
        c->queue = realloc(c->queue, (size_t)c->queue_cap * sizeof(queued_cmd));
        if (!c->queue) abort();
    }
    queued_cmd *q = &c->queue[c->queue_len++];
    c->queue_mem += sizeof(*q) + c->parser.args_bytes + (size_t)c->parser.argc * sizeof(resp_arg);
    q->argv = resp_parser_take_args(&c->parser, &q->argc);
}

/* Counts a command and remembers its name for CLIENT LIST. */
static void note_command(client *c, const cmd_def *def, int argc, const resp_arg *argv) {
    atomic_fetch_add(&stats.commands_processed, 1);
    if (!(def->flags & CMD_SUBCOMMANDS) || argc < 2) { /* table names are lowercase already */
        strncpy(c->last_cmd, def->name, sizeof(c->last_cmd) - 1);
        return;
    }
    snprintf(c->last_cmd, sizeof(c->last_cmd), "%s|%.*s", def->name, (int)argv[1].len, argv[1].ptr);
    for (char *p = c->last_cmd; *p; p++) *p = (char)tolower((unsigned char)*p);
}

/* ---- write groups ----
 * Commands on keys that a worker runs in one pass of its event loop (from one client's
 * pipeline or from many clients) form a group: they run through one txn under the union of
 * their key locks and are written with one RocksDB write when the pass ends, before any
 * reply goes out (as Redis writes its AOF before replying). Each command still ends in a
 * commit of its own (txn_seal): its own change record and sequence numbers, which is what
 * RocksDB's group commit makes of concurrent writers anyway. */

/* Commands a group holds at most: its locks are held until it commits. */
#define GROUP_MAX 64

/* A client with commands in the open group, and what to do with its replies if the write
 * fails: from fail_from on, `failing` replies become the write error. */
typedef struct participant {
    client *c;
    size_t fail_from;
    int failing;
} participant;

struct write_group {
    txn t;
    keylock_set locks;
    int open;         /* locks (and the global shared lock) are held */
    int commands;
    int writers;      /* commands that wrote: any reply after the first may have seen that */
    participant *members;
    int nmembers, cap;
    void (*committed)(client *c); /* its replies may go out now */
};

write_group *write_group_new(void (*committed)(client *c)) {
    write_group *g = calloc(1, sizeof(*g));
    if (!g) abort();
    txn_init(&g->t);
    keylock_set_init(&g->locks);
    g->committed = committed;
    return g;
}

void write_group_free(write_group *g) {
    write_group_commit(g);
    txn_free(&g->t);
    keylock_set_free(&g->locks);
    free(g->members);
    free(g);
}

/* Whether a request may join a group: a well-formed command on keys that cannot block,
 * from an authenticated client outside MULTI and subscribed mode (whose rules the checks
 * below apply). Anything else runs alone, after the group before it has committed. */
static int joins_group(const client *c, const cmd_def *def, int argc) {
    int alone = CMD_NOKEYS | CMD_ALLKEYS | CMD_NOQUEUE | CMD_NOMULTI | CMD_BLOCKING;
    return !(def->flags & alone) && cmd_arity_ok(def, argc) && c->authenticated &&
           !(c->flags & (CLIENT_MULTI | CLIENT_PUBSUB));
}

/* Takes a command's key locks into the group. A busy lock (another worker's group or
 * command has it) commits the group first, so no worker waits while holding locks.
 * Returns -1, the group committed and closed, if it gave up waiting. */
static int group_lock(write_group *g, key_set *ks) {
    if (g->open && keylock_set_add(&g->locks, ks->hashes, ks->n, 0) == 0) return 0;
    write_group_commit(g);
    if (keylock_global_shared() < 0) return -1;
    if (keylock_set_add(&g->locks, ks->hashes, ks->n, 1) < 0) { /* holding no stripe, it may wait */
        keylock_global_release();
        return -1;
    }
    g->open = 1;
    return 0;
}

static participant *group_member(write_group *g, client *c) {
    for (int i = g->nmembers; i-- > 0;)
        if (g->members[i].c == c) return &g->members[i];
    if (g->nmembers == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->members = realloc(g->members, (size_t)g->cap * sizeof(*g->members));
        if (!g->members) abort();
    }
    c->in_group = 1;
    g->members[g->nmembers] = (participant){c, 0, 0};
    return &g->members[g->nmembers++];
}

/* A read of stripes the group does not hold, by a client with no reply waiting on the group,
 * cannot depend on the group: it runs alone, with locks it releases at once (held until the
 * group commits, they would stall other workers for a whole pass). Returns 0 if that would
 * mean waiting for a lock while the group holds others. */
static int run_read_alone(client *c, const cmd_def *def, int argc, resp_arg *argv, key_set *ks) {
    write_group *g = c->group;
    if (!(def->flags & CMD_READONLY) || (def->flags & CMD_SCRIPT) || c->in_group) return 0;
    if (!g->open) {
        if (lock_keys(ks) < 0) {
            reply r = net_client_reply(c);
            reply_busy(&r);
            return 1;
        }
    } else if (keylock_set_holds_any(&g->locks, ks->hashes, ks->n) || keylock_try_acquire(ks->hashes, ks->n) < 0) {
        return 0;
    }
    note_command(c, def, argc, argv);
    run_locked(c, def, argc, argv, 0);
    keylock_release(ks->hashes, ks->n);
    if (!g->open) keylock_global_release(); /* an open group holds the global lock already */
    return 1;
}

static void run_in_group(client *c, const cmd_def *def, int argc, resp_arg *argv) {
    write_group *g = c->group;
    key_set ks = {0};
    collect_keys(def, argc, argv, c->db, &ks);
    int alone = run_read_alone(c, def, argc, argv, &ks);
    int gave_up = !alone && group_lock(g, &ks) < 0;
    free(ks.hashes);
    if (gave_up) {
        reply r = net_client_reply(c);
        reply_busy(&r);
    }
    if (alone || gave_up) return;
    participant *p = group_member(g, c);
    note_command(c, def, argc, argv);
    size_t mark = c->out.len;
    reply r = net_client_reply(c);
    g->t.now_ms = time_now_ms();
    cmd_ctx ctx = {c, def->name, argc, argv, &r, &g->t, c->db, 0, 0, 0, 0, 0, &g->locks, 0};
    txn_wake_mark wakes = txn_wakes_mark(&g->t);
    dispatch_run_handler(&ctx, def);
    if (ctx.needs_all_keys) { /* a script met a busy lock: nothing of it is kept; again, alone */
        write_group_commit(g);
        run_command(c, def, argc, argv, 0);
        return;
    }
    g->writers += txn_seal(&g->t);
    if (g->writers > 0) {
        if (p->failing == 0) p->fail_from = mark;
        p->failing++;
    }
    /* A command that wakes a blocked client ends the group: its commit serves that client
     * before the next command runs, as Redis serves it right after the command. */
    int wakes_waiter = blocking_has_waiters() && txn_wakes_since(&g->t, wakes, blocking_waited);
    if (++g->commands == GROUP_MAX || wakes_waiter) write_group_commit(g);
}

void write_group_commit(write_group *g) {
    if (!g || !g->open) return;
    uint64_t before = txn_thread_last_sequence();
    char *err = NULL;
    blocking_claims_begin();
    int failed = txn_commit(&g->t, &err) != 0;
    uint64_t written_to = written_since(before);
    if (failed) log_msg(LOG_WARNING, "write failed: %s", err);
    if (g->writers > 0 && !failed) {
        atomic_fetch_add(&stats.write_groups, 1);
        atomic_fetch_add(&stats.grouped_writes, g->writers);
    }
    blocking_serve_claimed(); /* under the group's locks: before any other command on its keys */
    keylock_set_release(&g->locks);
    keylock_global_release();
    g->open = g->commands = g->writers = 0;
    int n = g->nmembers;
    g->nmembers = 0; /* the callbacks below may not add members, but keep the list consistent */
    for (int i = 0; i < n; i++) {
        participant *p = &g->members[i];
        if (failed && p->failing > 0) {
            reply r = net_client_reply(p->c);
            replace_replies_with_error(&r, p->fail_from, p->failing, err);
        }
        if (p->failing > 0) dispatch_hold_for_sync(p->c, written_to);
        p->c->in_group = 0;
        g->committed(p->c);
    }
    free(err);
}

/* While a script has run past busy-reply-threshold, only what may end it runs (Redis's BUSY):
 * SCRIPT KILL, FUNCTION KILL (and FUNCTION STATS, which shows it). Returns the error for the
 * others, or NULL. */
static int may_end_busy_script(const cmd_def *def, int argc, const resp_arg *argv) {
    if (def->flags & CMD_ALLOW_BUSY) return 1;
    return (strcmp(def->name, "script") == 0 || strcmp(def->name, "function") == 0) && argc == 2 &&
           (arg_is(&argv[1], "kill") || (def->name[0] == 'f' && arg_is(&argv[1], "stats")));
}

static const char *refused_while_busy(const cmd_def *def, int argc, const resp_arg *argv) {
    if (!def || may_end_busy_script(def, argc, argv)) return NULL;
    int busy = script_busy(CONFIG_READ(busy_reply_threshold));
    return busy ? busy_error(busy) : NULL;
}

static int subcommand_in(const resp_arg *sub, const char *const *names) {
    for (; *names; names++)
        if (arg_is(sub, *names)) return 1;
    return 0;
}

/* Whether a request writes: a write command, or one of the subcommands that write of a command
 * whose row stands for all its subcommands (FUNCTION LIST reads, FUNCTION LOAD writes). CDC
 * CREATE, ACK and DROP change durable consumers, which a replica gets from its master. */
static int invocation_writes(const cmd_def *def, int argc, const resp_arg *argv) {
    static const char *const function_writes[] = {"load", "delete", "flush", "restore", NULL};
    static const char *const cdc_writes[] = {"create", "ack", "drop", NULL};
    if (!(def->flags & CMD_SUBCOMMANDS) || argc < 2) return (def->flags & CMD_WRITE) != 0;
    if (strcmp(def->name, "function") == 0) return subcommand_in(&argv[1], function_writes);
    if (strcmp(def->name, "cdc") == 0) return subcommand_in(&argv[1], cdc_writes);
    return (def->flags & CMD_WRITE) != 0;
}

/* Refuses a request with err (Redis's text). A refused EXEC ends its transaction, as Redis 7
 * answers it (quoting the reason without its ERR code, as Redis does); any other refusal
 * inside MULTI makes the EXEC abort. */
static void refuse(client *c, const cmd_def *def, const char *err) {
    reply r = net_client_reply(c);
    if (def && strcmp(def->name, "exec") == 0) {
        const char *reason = strncmp(err, "ERR ", 4) == 0 ? err + 4 : err;
        reply_errorf(&r, "EXECABORT Transaction discarded because of: %s", reason);
        dispatch_discard(c);
        dispatch_unwatch(c);
        return;
    }
    if (c->flags & CLIENT_MULTI) c->flags |= CLIENT_DIRTY_EXEC;
    reply_error(&r, err);
}

/* Why a request may not run, in the order Redis checks (formatted reasons go into why), or
 * NULL. held_back is READONLY or BUSY, found earlier, which Redis checks after NOAUTH. */
static const char *refusal_reason(client *c, const cmd_def *def, int argc, const resp_arg *argv,
                                  const char *held_back, buf *why) {
    if (!def) {
        atomic_fetch_add(&stats.commands_processed, 1);
        unknown_command_text(why, argc, argv);
        return why->data;
    }
    note_command(c, def, argc, argv);
    if (!cmd_arity_ok(def, argc)) {
        buf_printf(why, "ERR wrong number of arguments for '%s' command", def->name);
        buf_append_byte(why, 0);
        return why->data;
    }
    if (!c->authenticated && !(def->flags & CMD_NOAUTH)) {
        if (config_password_set()) return "NOAUTH Authentication required.";
        c->authenticated = 1; /* the password was removed since this client connected */
    }
    if (held_back) return held_back;
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2 && !(def->flags & CMD_SUBSCRIBED_OK)) {
        /* A RESP2 client cannot tell a reply from a message: only these may run, as in Redis. */
        buf_printf(why,
                   "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                   "allowed in this context",
                   c->last_cmd);
        buf_append_byte(why, 0);
        return why->data;
    }
    if ((c->flags & CLIENT_MULTI) && (def->flags & CMD_NOMULTI)) return "ERR Command not allowed inside a transaction";
    return NULL;
}

void dispatch_request(client *c, int argc, resp_arg *argv) {
    const cmd_def *def = cmd_lookup(argv[0].ptr, argv[0].len);
    /* READONLY (a replica writes only what its master sends, storage/txn.h) or BUSY: found
     * first, as either keeps a request off the fast path. */
    int read_only = def && txn_local_writes_refused() && invocation_writes(def, argc, argv);
    const char *held_back = read_only ? ERR_READONLY_REPLICA : refused_while_busy(def, argc, argv);
    if (!held_back && def && joins_group(c, def, argc)) {
        if (offload_wanted(c, def)) {
            write_group_commit(c->group); /* it may hold the keys' locks, or this client's replies */
            note_command(c, def, argc, argv);
            offload_request(c, def);
            return;
        }
        run_in_group(c, def, argc, argv);
        return;
    }
    /* The group is written first if this client's earlier replies wait on it (they go out in
     * order: a failed write replaces them) or if this command takes key locks, which the group
     * may hold. Commands without keys from other clients need not wait: the group's writes are
     * not acknowledged yet, so not seeing them is consistent. (EXEC commits in dispatch_exec.)
     * While a script is busy only commands without keys run (net.c's pass skips clients in the
     * group), so the script's own group is never written half-done. */
    if (c->in_group) write_group_commit(c->group);
    buf why;
    buf_init(&why);
    const char *reason = refusal_reason(c, def, argc, argv, held_back, &why);
    int refused = reason != NULL;
    if (refused) refuse(c, def, reason);
    buf_free(&why); /* reason may point into it */
    if (refused) return;
    if (takes_locks(def, argc, argv)) write_group_commit(c->group);
    if ((c->flags & CLIENT_MULTI) && !(def->flags & CMD_NOQUEUE)) {
        queue_command(c);
        reply r = net_client_reply(c);
        reply_simple(&r, "QUEUED");
        return;
    }
    run_command(c, def, argc, argv, 0);
}

/* ---- MULTI / EXEC / WATCH ---- */

static void free_queued(queued_cmd *q, int n) {
    for (int i = 0; i < n; i++) resp_args_free(q[i].argv, q[i].argc);
}

void dispatch_discard(client *c) {
    free_queued(c->queue, c->queue_len);
    free(c->queue);
    c->queue = NULL;
    c->queue_len = c->queue_cap = 0;
    c->queue_mem = 0;
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
}

void dispatch_unwatch(client *c) {
    for (int i = 0; i < c->watched_len; i++) free(c->watched[i].key);
    free(c->watched);
    c->watched = NULL;
    c->watched_len = c->watched_cap = 0;
}

void dispatch_client_cleanup(client *c) {
    dispatch_discard(c);
    dispatch_unwatch(c);
    replication_client_gone(c);
}

int dispatch_watch(client *c, txn *t, int db, const char *key, size_t klen) {
    for (int i = 0; i < c->watched_len; i++)
        if (c->watched[i].db == db && c->watched[i].klen == klen && memcmp(c->watched[i].key, key, klen) == 0) return 0;
    watched_key w = {.db = db, .klen = klen, .hash = keylock_hash(db, key, klen)};
    /* The counters before the key: a write between the two reads then aborts the EXEC (needlessly
     * but safely); the other way round it could go unseen. */
    w.version = keylock_watch_version(w.hash);
    w.flush_epoch = keylock_flush_epoch(db);
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = ks_peek_meta(t, db, key, klen, &m, &raw);
    buf_free(&raw);
    if (rc == KS_ERROR) return -1;
    w.live = rc != KS_MISSING;
    w.expire_ms = rc == KS_FOUND ? m.expire_ms : 0;
    if (c->watched_len == c->watched_cap) {
        c->watched_cap = c->watched_cap ? c->watched_cap * 2 : 4;
        c->watched = realloc(c->watched, (size_t)c->watched_cap * sizeof(watched_key));
        if (!c->watched) abort();
    }
    w.key = malloc(klen + 1);
    if (!w.key) abort();
    memcpy(w.key, key, klen);
    c->watched[c->watched_len++] = w;
    return 0;
}

/* Whether EXEC may run: no watched key was written since WATCH, none of those that existed
 * then has expired since (Redis 7), and no database emptied since held one of them. */
static int watches_intact(const client *c, int64_t now_ms) {
    for (int i = 0; i < c->watched_len; i++) {
        const watched_key *w = &c->watched[i];
        if (keylock_watch_version(w->hash) != w->version) return 0;
        if (w->live && keylock_flush_epoch(w->db) != w->flush_epoch) return 0;
        if (w->expire_ms != 0 && w->expire_ms < now_ms) return 0;
    }
    return 1;
}

/* The database a queued SELECT switches to, or -1 if it is not a valid SELECT. */
static int queued_select_db(const cmd_def *def, const queued_cmd *q) {
    long long db;
    if (strcmp(def->name, "select") != 0 || arg_parse_ll(&q->argv[1], &db) < 0) return -1;
    if (db < 0 || db >= CONFIG_READ(databases)) return -1;
    return (int)db;
}

void dispatch_exec(cmd_ctx *ctx) {
    client *c = ctx->c;
    write_group_commit(c->group); /* it may hold locks the queued commands need */
    key_set ks = {0};
    int db = c->db;
    for (int i = 0; i < c->queue_len; i++) {
        const cmd_def *def = cmd_lookup(c->queue[i].argv[0].ptr, c->queue[i].argv[0].len);
        collect_keys(def, c->queue[i].argc, c->queue[i].argv, db, &ks);
        int selected = queued_select_db(def, &c->queue[i]);
        if (selected >= 0) db = selected;
    }
    for (int i = 0; i < c->watched_len; i++) key_set_add(&ks, c->watched[i].hash);
    if (lock_keys(&ks) < 0) { /* refused as an EXEC that came in while the script was busy */
        reply_errorf(ctx->r, "EXECABORT Transaction discarded because of: %s", busy_now());
        free(ks.hashes);
        dispatch_discard(c);
        dispatch_unwatch(c);
        return;
    }
    if (!watches_intact(c, time_now_ms())) {
        reply_null_array(ctx->r);
    } else {
        size_t mark = c->out.len;
        reply_array(ctx->r, c->queue_len);
        ctx->in_exec = 1;
        for (int i = 0; i < c->queue_len; i++) {
            queued_cmd *q = &c->queue[i];
            ctx->argc = q->argc;
            ctx->argv = q->argv;
            ctx->db = c->db;
            const cmd_def *def = cmd_lookup(q->argv[0].ptr, q->argv[0].len);
            ctx->name = def->name;
            dispatch_run_handler(ctx, def); /* a command that fails leaves the others' writes standing, as in Redis */
        }
        ctx->failed = 0; /* that was a queued command's, not EXEC's */
        blocking_claims_begin();
        commit_or_fail(ctx->r, ctx->t, mark);
        blocking_serve_claimed(); /* after EXEC, under its locks, as Redis serves them */
    }
    unlock_keys(&ks);
    dispatch_discard(c);
    dispatch_unwatch(c);
}
