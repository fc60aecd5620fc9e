/* CDC commands: SEQUENCE, POLLUPDATES, APPLYBATCH, CDC (durable consumers), SNAPSHOT; see
 * shared/CDC.md. */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply.h"
#include "cdc/commits.h"
#include "cdc/consumers.h"
#include "cdc/notify.h"
#include "cdc/poll.h"
#include "cdc/snapshots.h"
#include "cdc/wal.h"
#include "cdc/wal_files.h"
#include "cmd/handlers.h"
#include "config.h"
#include "net/net.h"
#include "script/functions.h"
#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "types/dump.h"
#include "util/json.h"
#include "util/log.h"
#include "util/num.h"
#include "util/timeutil.h"

/* SEQUENCE TIME: the last sequence committed before time_ms, found by walking the log commit
 * by commit (a WAL record may hold several). */
static void sequence_at_time(cmd_ctx *ctx, long long time_ms) {
    if (store_latest_sequence() == 0) {
        reply_int(ctx->r, 0); /* nothing was ever committed */
        return;
    }
    wal_cursor *c = wal_open(1);
    wal_batch w, b;
    char *err = NULL;
    uint64_t before = 0;
    int rc, first = 1, found = 0, older = 0;
    while (!found && (rc = wal_next(c, &w, &err)) == 1) {
        commit_split cs;
        if (commit_split_init(&cs, &w) < 0) continue;
        while (!found && commit_split_next(&cs, &b) == 1) {
            int64_t when = commit_time_ms(&b);
            if (when && when >= time_ms) {
                /* History that starts after sequence 1 may have lost what came before the time. */
                older = first && b.sequence > 1;
                found = 1;
            } else {
                first = 0;
                before = b.sequence + b.count - 1;
            }
        }
        commit_split_free(&cs);
    }
    wal_close(c);
    if (!found && rc < 0) {
        reply_errorf(ctx->r, "ERR reading the WAL failed: %s", err);
        free(err);
    } else if (older) {
        reply_error(ctx->r, "ERR the time is older than the retained history");
    } else {
        reply_int(ctx->r, (long long)(found ? before : store_latest_sequence()));
    }
}

void cmd_sequence(cmd_ctx *ctx) {
    if (ctx->argc == 1) {
        reply_int(ctx->r, (long long)store_latest_sequence());
        return;
    }
    long long time_ms;
    if (ctx->argc != 3 || !arg_is(&ctx->argv[1], "time")) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (arg_ll(ctx, &ctx->argv[2], &time_ms) < 0) return;
    sequence_at_time(ctx, time_ms);
}

/* A MATCH, TYPE or DB option (a) with its value (v) into f: 1 if it was one, 0 if a is no
 * filter option, -1 after replying the error of a bad value. */
static int parse_filter_option(cmd_ctx *ctx, const resp_arg *a, const resp_arg *v, cdc_filter *f) {
    long long n;
    if (arg_is(a, "match")) {
        free(f->match);
        f->match = malloc(v->len + 1);
        if (!f->match) abort();
        memcpy(f->match, v->ptr, v->len + 1);
        f->match_len = v->len;
    } else if (arg_is(a, "type")) {
        f->type = enc_type_from_name(v->ptr);
        if (!f->type) {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    } else if (arg_is(a, "db")) {
        if (arg_ll(ctx, v, &n) < 0) return -1;
        if (n < 0 || n >= CONFIG_READ(databases)) {
            reply_error(ctx->r, "ERR DB index is out of range");
            return -1;
        }
        f->db = (int)n;
    } else {
        return 0;
    }
    return 1;
}

/* Parses POLLUPDATES's options into p; replies and returns -1 on an error. */
static int parse_poll(cmd_ctx *ctx, cdc_poll *p, long long *block_ms) {
    *block_ms = -1;
    for (int i = 2; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        const resp_arg *v = i + 1 < ctx->argc ? &ctx->argv[i + 1] : NULL;
        long long n;
        if (arg_is(a, "strict")) {
            p->strict = 1;
            continue;
        }
        if (!v) goto syntax;
        i++;
        if (arg_is(a, "max")) {
            if (arg_ll(ctx, v, &n) < 0) return -1;
            if (n < 1 || n > 1000) {
                reply_error(ctx->r, "ERR out of numeric range");
                return -1;
            }
            p->max = (int)n;
        } else if (arg_is(a, "format")) {
            if (arg_is(v, "raw")) p->format = CDC_RAW;
            else if (arg_is(v, "resp")) p->format = CDC_RESP;
            else if (arg_is(v, "json")) p->format = CDC_JSON;
            else if (arg_is(v, "binary")) p->format = CDC_BINARY;
            else {
                reply_errorf(ctx->r, "ERR invalid FORMAT option '%.*s', expected RAW, RESP, JSON or BINARY",
                             (int)v->len, v->ptr);
                return -1;
            }
        } else if (arg_is(a, "block")) {
            if (arg_ll(ctx, v, block_ms) < 0) return -1;
            if (*block_ms < 0) {
                reply_error(ctx->r, "ERR timeout is negative");
                return -1;
            }
            if (*block_ms > LLONG_MAX / 1000) {
                reply_error(ctx->r, "ERR timeout is out of range");
                return -1;
            }
        } else {
            int rc = parse_filter_option(ctx, a, v, &p->filter);
            if (rc < 0) return -1;
            if (rc == 0) goto syntax;
        }
    }
    if ((p->format == CDC_RAW || p->format == CDC_BINARY) && cdc_filter_active(&p->filter)) {
        reply_error(ctx->r, "ERR MATCH, TYPE and DB filters need FORMAT RESP or JSON");
        return -1;
    }
    return 0;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
    return -1;
}

/* A consumer that keeps up with a busy stream is answered at most once per cdc-poll-pace-ms,
 * so each reply carries that long's changes instead of costing a round trip (and a wake-up of
 * the consumer) per few writes. A stream is busy while a consumer's replies carry at least this
 * many updates per second; on a quieter one a commit wakes a waiting consumer at once. */
#define PACE_BUSY_UPDATES_PER_S 20000

/* A POLLUPDATES waiting for commits (BLOCK), or lingering to gather a fuller reply. */
typedef struct poll_wait {
    cdc_poll poll;
    cdc_waiter waiter;
    client *c;
    int64_t deadline_us; /* when BLOCK's timeout ends the wait (monotonic), 0 = never */
    int lingering;       /* answer when the pace's timer fires or MAX fills, not at the first change */
} poll_wait;

static void poll_wake(void *arg) { net_wake(((poll_wait *)arg)->c); }

/* Whether a poll has something to say now: updates, or progress through filtered batches
 * with more left to scan. What is left is counted to the announced sequence: RocksDB's
 * latest can include a commit that cannot be read yet, and a BLOCK poll must wait for it. */
static int poll_ready(const cdc_poll *p) { return p->nupdates > 0 || p->scanned < cdc_announced_sequence(); }

/* How long a poll that could answer now should wait to pace its consumer (0 = answer now).
 * A replica's link is never paced: every write it waits for is replica lag (WAIT, reads on
 * the replica), and it asks for large replies (MAX 1000) that it applies as one write each. */
static int64_t pace_wait_us(const client *c, const cdc_poll *p) {
    if (cdc_poll_full(p) || !c->poll_stream_busy || (c->flags & CLIENT_REPLICA)) return 0;
    int64_t pace_us = (int64_t)CONFIG_READ(cdc_poll_pace_ms) * 1000;
    int64_t since = time_mono_us() - c->last_poll_reply_us;
    return since < pace_us ? pace_us - since : 0;
}

/* A client's polls reuse one body buffer, so a consumer's replies are not each a fresh
 * allocation grown by doubling; buffers beyond this size are not kept, nor any once the
 * client has been quiet for a while (net.c). */
#define POLL_BODY_KEEP (256 * 1024)

static void poll_start(client *c, cdc_poll *p, uint64_t seq) {
    cdc_poll_init(p, seq);
    p->max_bytes = (size_t)CONFIG_READ(cdc_poll_max_bytes);
    p->body = c->poll_body;
    buf_init(&c->poll_body);
}

/* Scans for more updates, the body counted against the client's output limit as it grows
 * (the output pending before it may have gone out since the last scan). Returns 0, or -1
 * after replying with the error. */
static int poll_scan(client *c, cdc_poll *p, reply *r) {
    long long room = net_output_room(c);
    p->limit_bytes = room < 0 ? 0 : (unsigned long long)room > SIZE_MAX ? SIZE_MAX : (size_t)room;
    char err[256];
    if (cdc_poll_scan(p, r->resp, err, sizeof(err)) == 0) return 0;
    reply_error(r, err);
    return -1;
}

static void poll_finish(client *c, cdc_poll *p) {
    /* The client's buffer is empty (poll_start took it: a client runs one poll at a time);
     * the check keeps a broken assumption from leaking a buffer in release builds. */
    assert(c->poll_body.cap == 0);
    if (p->body.cap <= POLL_BODY_KEEP && c->poll_body.cap == 0) {
        buf_clear(&p->body);
        c->poll_body = p->body;
        c->poll_body_kept_ms = time_mono_ms();
        buf_init(&p->body);
    }
    cdc_poll_free(p);
}

/* Answers a poll whose first update alone is over the client's output limit: closing the
 * client, as for any reply over it, would close it again at every retry, so it is told why
 * and can raise its limit. Returns 0 if the update would fit with no output pending: the
 * pending output is what takes the client over its limit. */
static int refuse_too_big(client *c, const cdc_poll *p, reply *r) {
    const char *option;
    long long bound = net_output_bound(c, &option);
    if (bound <= 0 || p->body.len <= (unsigned long long)bound) return 0;
    log_msg(LOG_WARNING, "POLLUPDATES of client %s: the batch at sequence %llu is %zu bytes, over its %s",
            c->addr, (unsigned long long)p->first_shown, p->body.len, option);
    reply_errorf(r, "ERR batch at sequence %llu is %zu bytes, over this client's output buffer limit (%s)",
                 (unsigned long long)p->first_shown, p->body.len, option);
    return 1;
}

static void poll_answer(client *c, cdc_poll *p, reply *r) {
    if (cdc_poll_over_limit(p)) { /* as if the reply had gone to the output, which it would overflow */
        if (!refuse_too_big(c, p, r)) net_close_over_limit(c, p->body.len);
        return;
    }
    if (r->out == &c->out) { /* the client's own output: the body can go out without a copy */
        buf head;
        buf_init(&head);
        reply h = {.out = &head, .resp = r->resp};
        cdc_poll_reply_header(p, &h);
        net_reply_parts(c, head.data, head.len, p->body.data, p->body.len);
        buf_free(&head);
    } else {
        cdc_poll_reply(p, r);
    }
    int64_t now = time_mono_us();
    /* The rate is what this reply carries over the time since the previous one. */
    c->poll_stream_busy =
        p->nupdates > 0 && (int64_t)p->nupdates * 1000000 >= PACE_BUSY_UPDATES_PER_S * (now - c->last_poll_reply_us);
    c->last_poll_reply_us = now;
}

/* The sequence from which commits give a waiting poll something to do: any new one while it
 * waits for changes; while it lingers, enough to fill MAX (an update takes a sequence at least). */
static uint64_t wake_sequence(const poll_wait *pw) {
    const cdc_poll *p = &pw->poll;
    return p->scanned + (pw->lingering ? (uint64_t)(p->max - p->nupdates) : 1);
}

/* Lists the wait with the notifier from where its scan ended. A commit announced between the
 * scan and the listing brings no wake-up: the poll retries at once instead. */
static void poll_listen(poll_wait *pw) {
    if (cdc_waiter_add(&pw->waiter, wake_sequence(pw))) net_wake(pw->c);
}

/* Commits woke a poll that could answer: when its consumer is paced, linger until the pace
 * allows an answer (or until BLOCK's timeout, if sooner). Returns 1 if the poll lingers now. */
static int start_lingering(client *c, poll_wait *pw) {
    int64_t wait = pace_wait_us(c, &pw->poll);
    if (pw->deadline_us && pw->deadline_us - time_mono_us() < wait) wait = pw->deadline_us - time_mono_us();
    if (wait <= 0) return 0;
    pw->lingering = 1;
    net_block_retime(c, wait);
    return 1;
}

static int poll_retry_held(client *c, poll_wait *pw, reply *r, int timed_out) {
    if (poll_scan(c, &pw->poll, r) < 0) return 1;
    int full = cdc_poll_full(&pw->poll);
    if (!timed_out && !full && (pw->lingering || !poll_ready(&pw->poll) || start_lingering(c, pw))) {
        poll_listen(pw);
        return 0;
    }
    poll_answer(c, &pw->poll, r);
    return 1;
}

static int poll_retry(client *c, int timed_out) {
    reply r = net_client_reply(c);
    int held = dispatch_hold_store(&r);
    if (held < 0) return 1;
    int done = poll_retry_held(c, c->block.state, &r, timed_out);
    dispatch_release_store(held);
    return done;
}

static void poll_cleanup(client *c) {
    poll_wait *pw = c->block.state;
    cdc_waiter_remove(&pw->waiter);
    poll_finish(c, &pw->poll);
    free(pw);
}

/* Suspends the poll: lingering for linger_us when that is > 0, else waiting for commits until
 * BLOCK's timeout. */
static void poll_block(cmd_ctx *ctx, cdc_poll *p, int64_t block_timeout_us, int64_t linger_us) {
    poll_wait *pw = calloc(1, sizeof(*pw));
    if (!pw) abort();
    pw->poll = *p; /* the wait owns the poll from here on */
    pw->c = ctx->c;
    pw->lingering = linger_us > 0;
    /* A poll waiting for commits has gathered nothing: idle pollers hold no buffer meanwhile. */
    if (!pw->lingering) buf_free(&pw->poll.body);
    int64_t now = time_mono_us();
    if (block_timeout_us > 0) /* saturated: BLOCK may be close to LLONG_MAX microseconds */
        pw->deadline_us = block_timeout_us > INT64_MAX - now ? INT64_MAX : now + block_timeout_us;
    pw->waiter.wake = poll_wake;
    pw->waiter.arg = pw;
    client_block block = {poll_retry, poll_cleanup, pw, 0, NULL};
    net_block(ctx->c, pw->lingering ? linger_us : block_timeout_us, &block);
    poll_listen(pw);
}

/* After the first scan of a BLOCK poll: wait for a commit, linger for more, or answer now.
 * Returns 1 if the poll now waits. */
static int poll_maybe_wait(cmd_ctx *ctx, cdc_poll *p, long long block_ms) {
    int64_t timeout_us = block_ms * 1000;
    if (!poll_ready(p)) {
        poll_block(ctx, p, timeout_us, 0);
        return 1;
    }
    int64_t linger = pace_wait_us(ctx->c, p);
    if (linger <= 0) return 0;
    poll_block(ctx, p, timeout_us, block_ms > 0 && timeout_us < linger ? timeout_us : linger);
    return 1;
}

void cmd_pollupdates(cmd_ctx *ctx) {
    long long seq, block_ms;
    if (arg_parse_ll(&ctx->argv[1], &seq) < 0 || seq < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return;
    }
    cdc_poll p;
    poll_start(ctx->c, &p, (uint64_t)seq);
    if (parse_poll(ctx, &p, &block_ms) < 0) {
        poll_finish(ctx->c, &p);
        return;
    }
    if ((uint64_t)seq > store_latest_sequence()) {
        reply_error(ctx->r, "ERR next sequence is out of range");
        poll_finish(ctx->c, &p);
        return;
    }
    if (poll_scan(ctx->c, &p, ctx->r) < 0) {
        poll_finish(ctx->c, &p);
        return;
    }
    /* After the scan: a full sync's checkpoint this may release pins the WAL it read. */
    replication_note_poll(ctx->c, (uint64_t)seq);
    /* Inside EXEC nothing may wait: answer with what there is. */
    if (block_ms >= 0 && !ctx->in_exec && poll_maybe_wait(ctx, &p, block_ms)) return;
    poll_answer(ctx->c, &p, ctx->r);
    poll_finish(ctx->c, &p);
}

void cmd_applybatch(cmd_ctx *ctx) {
    const resp_arg *raw = &ctx->argv[1];
    char err[256];
    /* The batch is staged in the command's txn, committed as every command's is; its library
     * records reach memory with that commit. */
    functions_batch libraries;
    functions_batch_init(&libraries);
    apply_limits limits = {CONFIG_READ(databases), (uint64_t)CONFIG_READ(proto_max_bulk_len), &libraries.hooks, 0};
    int rc = cdc_apply_batch(ctx->t, raw->ptr, raw->len, &limits, err, sizeof(err));
    functions_batch_end(&libraries, ctx->t, rc >= 0);
    if (rc < 0) {
        reply_error(ctx->r, err);
        return;
    }
    reply_int(ctx->r, (long long)raw->len);
}

/* SNAPSHOT's defaults and ranges (CDC.md). */
#define SNAPSHOT_TTL_DEFAULT 300
#define SNAPSHOT_TTL_MAX 86400
#define SNAPSHOT_COUNT_DEFAULT 100
#define SNAPSHOT_COUNT_MAX 10000

/* ---- CDC: durable consumers ---- */

/* Replies the error for a consumer operation that failed (save_err: why the file could not be
 * written). */
static void reply_consumer_error(cmd_ctx *ctx, consumer_status st, const char *save_err) {
    switch (st) {
    case CONSUMER_EXISTS: reply_error(ctx->r, "ERR consumer already exists"); break;
    case CONSUMER_TOO_MANY: reply_error(ctx->r, "ERR too many consumers"); break;
    case CONSUMER_NOT_RETAINED: reply_error(ctx->r, "ERR sequence is no longer retained"); break;
    case CONSUMER_OUT_OF_RANGE: reply_error(ctx->r, "ERR next sequence is out of range"); break;
    case CONSUMER_UNKNOWN: reply_error(ctx->r, "ERR no such consumer"); break;
    case CONSUMER_LOST: reply_error(ctx->r, "ERR consumer lost its history"); break;
    case CONSUMER_SAVE_FAILED: reply_errorf(ctx->r, "ERR can't save the consumers: %s", save_err); break;
    case CONSUMER_OK: break;
    }
}

/* A sequence argument: a non-negative integer, else replies and returns -1. */
static int arg_sequence(cmd_ctx *ctx, const resp_arg *a, uint64_t *seq) {
    long long v;
    if (arg_parse_ll(a, &v) < 0 || v < 0) {
        reply_error(ctx->r, ERR_NOT_INTEGER);
        return -1;
    }
    *seq = (uint64_t)v;
    return 0;
}

/* The name argument of a consumer that may exist: a name no consumer can have is unknown. */
static int known_name(const resp_arg *a) { return consumer_name_valid(a->ptr, a->len); }

/* CDC CREATE <name> [FROM <seq>] [SNAPSHOT] */
static void cdc_create(cmd_ctx *ctx) {
    const resp_arg *name = &ctx->argv[2];
    int from_given = 0, snapshot = 0;
    uint64_t from = 0;
    for (int i = 3; i < ctx->argc; i++) {
        if (arg_is(&ctx->argv[i], "snapshot")) {
            snapshot = 1;
        } else if (arg_is(&ctx->argv[i], "from") && i + 1 < ctx->argc) {
            if (arg_sequence(ctx, &ctx->argv[++i], &from) < 0) return;
            from_given = 1;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    if (!consumer_name_valid(name->ptr, name->len)) {
        reply_error(ctx->r, "ERR invalid consumer name");
        return;
    }
    /* The snapshot comes first, and the consumer starts at its sequence: no commit can fall
     * between the two. A snapshot holds the latest data, so FROM can only name that. */
    snapshot_info snap;
    if (snapshot) {
        if (snapshots_create(SNAPSHOT_TTL_DEFAULT, &snap) != SNAPSHOT_OK) {
            reply_error(ctx->r, "ERR too many snapshots");
            return;
        }
        if (from_given && from != snap.sequence) {
            snapshots_release(snap.id, SNAPSHOT_ID_LEN);
            reply_error(ctx->r, "ERR SNAPSHOT is taken at the latest sequence: FROM must be omitted or name it");
            return;
        }
        from_given = 1;
        from = snap.sequence;
    }
    consumer c;
    char err[256];
    consumer_status st = consumers_create(name->ptr, from_given, from, &c, err, sizeof(err));
    if (st != CONSUMER_OK) {
        if (snapshot) snapshots_release(snap.id, SNAPSHOT_ID_LEN);
        reply_consumer_error(ctx, st, err);
        return;
    }
    reply_map(ctx->r, 3);
    reply_bulk_str(ctx->r, "name");
    reply_bulk_str(ctx->r, c.name);
    reply_bulk_str(ctx->r, "sequence");
    reply_int(ctx->r, (long long)c.sequence);
    reply_bulk_str(ctx->r, "snapshot");
    if (snapshot) reply_bulk_str(ctx->r, snap.id);
    else reply_null(ctx->r);
}

/* CDC ACK <name> <seq> */
static void cdc_ack(cmd_ctx *ctx) {
    uint64_t seq;
    if (arg_sequence(ctx, &ctx->argv[3], &seq) < 0) return;
    consumer_status st = known_name(&ctx->argv[2]) ? consumers_ack(ctx->argv[2].ptr, seq) : CONSUMER_UNKNOWN;
    if (st == CONSUMER_OK) reply_ok(ctx->r);
    else reply_consumer_error(ctx, st, NULL);
}

static void reply_consumer(cmd_ctx *ctx, const consumer *c, const wal_file *files, size_t nfiles, uint64_t latest) {
    /* A lost consumer keeps nothing. A position past the latest (a data directory restored
     * from an older copy under a newer consumers file) lags by nothing. */
    uint64_t retained = c->lost ? 0 : wal_files_bytes_after(files, nfiles, c->sequence, latest);
    reply_map(ctx->r, 7);
    reply_bulk_str(ctx->r, "name");
    reply_bulk_str(ctx->r, c->name);
    reply_bulk_str(ctx->r, "sequence");
    reply_int(ctx->r, (long long)c->sequence);
    reply_bulk_str(ctx->r, "lag");
    reply_int(ctx->r, latest > c->sequence ? (long long)(latest - c->sequence) : 0);
    reply_bulk_str(ctx->r, "retained_bytes");
    reply_int(ctx->r, (long long)retained);
    reply_bulk_str(ctx->r, "state");
    reply_bulk_str(ctx->r, c->lost ? "lost" : "active");
    reply_bulk_str(ctx->r, "created");
    reply_int(ctx->r, (long long)c->created_ms);
    reply_bulk_str(ctx->r, "acked");
    reply_int(ctx->r, (long long)c->acked_ms);
}

/* CDC INFO [<name>] */
static void cdc_info(cmd_ctx *ctx) {
    consumer one, *all = NULL;
    size_t n = 0;
    if (ctx->argc == 3) {
        if (!known_name(&ctx->argv[2]) || consumers_get(ctx->argv[2].ptr, &one) != CONSUMER_OK) {
            reply_consumer_error(ctx, CONSUMER_UNKNOWN, NULL);
            return;
        }
    } else {
        all = consumers_all(&n);
    }
    uint64_t latest = store_latest_sequence();
    wal_file *files = NULL;
    size_t nfiles = 0;
    if (wal_files_list(&files, &nfiles) < 0) log_msg(LOG_WARNING, "CDC INFO: can't list the WAL files");
    if (ctx->argc == 3) {
        reply_consumer(ctx, &one, files, nfiles, latest);
    } else {
        reply_array(ctx->r, (long long)n);
        for (size_t i = 0; i < n; i++) reply_consumer(ctx, &all[i], files, nfiles, latest);
    }
    free(files);
    free(all);
}

/* CDC DROP <name> */
static void cdc_drop(cmd_ctx *ctx) {
    int dropped = 0;
    char err[256];
    consumer_status st = CONSUMER_OK;
    if (known_name(&ctx->argv[2])) st = consumers_drop(ctx->argv[2].ptr, &dropped, err, sizeof(err));
    if (st == CONSUMER_OK) reply_int(ctx->r, dropped);
    else reply_consumer_error(ctx, st, err);
}

void cmd_cdc(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "create") && ctx->argc >= 3) {
        cdc_create(ctx);
    } else if (arg_is(sub, "ack") && ctx->argc == 4) {
        cdc_ack(ctx);
    } else if (arg_is(sub, "info") && ctx->argc <= 3) {
        cdc_info(ctx);
    } else if (arg_is(sub, "drop") && ctx->argc == 3) {
        cdc_drop(ctx);
    } else {
        static const char *const known[] = {"create", "ack", "info", "drop", NULL};
        reply_subcommand_error(ctx, known);
    }
}

/* ---- SNAPSHOT: consistent copies aligned with a sequence ---- */

static void reply_snapshot_status(cmd_ctx *ctx, snapshot_status st) {
    if (st == SNAPSHOT_TOO_MANY) reply_error(ctx->r, "ERR too many snapshots");
    else if (st == SNAPSHOT_UNKNOWN) reply_error(ctx->r, "ERR no such snapshot");
    else reply_ok(ctx->r);
}

/* A numeric option's value within [lo, hi], else replies and returns -1. */
static int arg_in_range(cmd_ctx *ctx, const resp_arg *a, long long lo, long long hi, long long *out) {
    if (arg_ll(ctx, a, out) < 0) return -1;
    if (*out < lo || *out > hi) {
        reply_error(ctx->r, "ERR out of numeric range");
        return -1;
    }
    return 0;
}

/* SNAPSHOT CREATE [TTL <seconds>] */
static void snapshot_create(cmd_ctx *ctx) {
    long long ttl = SNAPSHOT_TTL_DEFAULT;
    if (ctx->argc == 4 && arg_is(&ctx->argv[2], "ttl")) {
        if (arg_in_range(ctx, &ctx->argv[3], 1, SNAPSHOT_TTL_MAX, &ttl) < 0) return;
    } else if (ctx->argc != 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    snapshot_info info;
    snapshot_status st = snapshots_create((int)ttl, &info);
    if (st != SNAPSHOT_OK) {
        reply_snapshot_status(ctx, st);
        return;
    }
    reply_map(ctx->r, 2);
    reply_bulk_str(ctx->r, "id");
    reply_bulk_str(ctx->r, info.id);
    reply_bulk_str(ctx->r, "sequence");
    reply_int(ctx->r, (long long)info.sequence);
}

/* Renders what a snapshot walk produces as SNAPSHOT READ's entries: per key, a map (RESP) or
 * a JSON object (a bulk string) of db and commands, the way POLLUPDATES shows a batch. */
typedef struct entry_writer {
    cdc_format format;
    reply entries; /* the entries so far, written before the header that counts them */
    long long nentries;
    buf cmds_buf;  /* the commands of the entry being written */
    reply cmds;
    long long ncmds;
    int db;
    size_t max_bytes; /* what the entries may take: cdc-poll-max-bytes, within the client's room */
} entry_writer;

/* Whether the entries, with pending bytes more, fill the reply (a dump_sink's full). */
static int entry_full(void *arg, size_t pending) {
    const entry_writer *w = arg;
    return w->entries.out->len + w->cmds_buf.len + pending >= w->max_bytes;
}

static void entry_begin(void *arg, int db) {
    entry_writer *w = arg;
    buf_clear(&w->cmds_buf);
    w->ncmds = 0;
    w->db = db;
    if (w->format == CDC_JSON) { /* {"db":<db>,"commands":[ */
        char num[32];
        buf_append_str(&w->cmds_buf, "{\"db\":");
        buf_append(&w->cmds_buf, num, num_format_ll(num, db));
        buf_append_str(&w->cmds_buf, ",\"commands\":[");
    }
}

static void entry_command(void *arg, size_t argc, const char *const *argv, const size_t *lens) {
    entry_writer *w = arg;
    if (w->format == CDC_JSON) {
        buf_append_str(&w->cmds_buf, w->ncmds ? ",[" : "[");
        for (size_t i = 0; i < argc; i++) {
            if (i > 0) buf_append_byte(&w->cmds_buf, ',');
            json_append_bytes(&w->cmds_buf, argv[i], lens[i]);
        }
        buf_append_byte(&w->cmds_buf, ']');
    } else {
        reply_bulk_array(&w->cmds, argc, argv, lens);
    }
    w->ncmds++;
}

static void entry_end(void *arg) {
    entry_writer *w = arg;
    if (w->format == CDC_JSON) {
        buf_append_str(&w->cmds_buf, "]}");
        reply_bulk(&w->entries, w->cmds_buf.data, w->cmds_buf.len);
    } else {
        reply_map(&w->entries, 2);
        reply_bulk_str(&w->entries, "db");
        reply_int(&w->entries, w->db);
        reply_bulk_str(&w->entries, "commands");
        reply_array(&w->entries, w->ncmds);
        reply_append_part(&w->entries, &w->cmds_buf);
    }
    w->nentries++;
}

/* SNAPSHOT READ's options after the cursor; replies and returns -1 on an error. */
static int parse_read(cmd_ctx *ctx, long long *count, cdc_format *format, cdc_filter *f) {
    for (int i = 4; i < ctx->argc; i += 2) {
        const resp_arg *a = &ctx->argv[i];
        if (i + 1 >= ctx->argc) goto syntax;
        const resp_arg *v = &ctx->argv[i + 1];
        if (arg_is(a, "count")) {
            if (arg_in_range(ctx, v, 1, SNAPSHOT_COUNT_MAX, count) < 0) return -1;
        } else if (arg_is(a, "format")) {
            if (arg_is(v, "resp")) *format = CDC_RESP;
            else if (arg_is(v, "json")) *format = CDC_JSON;
            else {
                reply_errorf(ctx->r, "ERR invalid FORMAT option '%.*s', expected RESP or JSON", (int)v->len, v->ptr);
                return -1;
            }
        } else {
            int rc = parse_filter_option(ctx, a, v, f);
            if (rc < 0) return -1;
            if (rc == 0) goto syntax;
        }
    }
    return 0;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
    return -1;
}

/* Walks the snapshot from the cursor and replies: cursor, entries. */
static void read_snapshot(cmd_ctx *ctx, const snapshot_ref *ref, dump_pos *pos, long long count, cdc_format format,
                          const cdc_filter *f) {
    buf entries;
    buf_init(&entries);
    entry_writer w = {.format = format, .entries = reply_part(ctx->r, &entries)};
    buf_init(&w.cmds_buf);
    w.cmds = reply_part(ctx->r, &w.cmds_buf);
    /* As POLLUPDATES: a reply takes no more once it holds cdc-poll-max-bytes, or the room
     * left in the client's output limit (one element at least, whatever its size). */
    long long room = net_output_room(ctx->c);
    w.max_bytes = (size_t)CONFIG_READ(cdc_poll_max_bytes);
    if (room >= 0 && (unsigned long long)room < w.max_bytes) w.max_bytes = (size_t)room;
    dump_sink sink = {entry_begin, entry_command, entry_end, entry_full, &w};
    dump_filter df = {f->match, f->match_len, f->type, f->db};
    /* Keys dead when the snapshot was taken are no part of it. */
    txn t;
    txn_init_at(&t, ref->snap, ref->info.created_ms);
    int databases = CONFIG_READ(databases);
    int rc = dump_walk(&t, databases, &df, pos, (size_t)count, &sink);
    txn_free(&t);
    if (rc < 0) {
        reply_error(ctx->r, "ERR reading the snapshot failed (see the server log)");
    } else {
        buf cursor;
        buf_init(&cursor);
        if (pos->db >= databases) buf_append_byte(&cursor, '0');
        else dump_cursor_encode(pos, &cursor);
        reply_map(ctx->r, 2);
        reply_bulk_str(ctx->r, "cursor");
        reply_bulk(ctx->r, cursor.data, cursor.len);
        reply_bulk_str(ctx->r, "entries");
        reply_array(ctx->r, w.nentries);
        reply_append_part(ctx->r, &entries);
        buf_free(&cursor);
    }
    buf_free(&entries);
    buf_free(&w.cmds_buf);
}

/* SNAPSHOT READ <id> <cursor> [COUNT <n>] [MATCH <glob>] [TYPE <type>] [DB <n>] [FORMAT RESP|JSON] */
static void snapshot_read(cmd_ctx *ctx) {
    long long count = SNAPSHOT_COUNT_DEFAULT;
    cdc_format format = CDC_RESP;
    cdc_filter f = {NULL, 0, 0, -1};
    dump_pos pos;
    dump_pos_init(&pos);
    snapshot_ref ref;
    if (parse_read(ctx, &count, &format, &f) < 0) goto done;
    if (snapshots_get(ctx->argv[2].ptr, ctx->argv[2].len, &ref) != SNAPSHOT_OK) {
        reply_error(ctx->r, "ERR no such snapshot");
        goto done;
    }
    if (dump_cursor_decode(ctx->argv[3].ptr, ctx->argv[3].len, CONFIG_READ(databases), &pos) < 0)
        reply_error(ctx->r, "ERR invalid cursor");
    else
        read_snapshot(ctx, &ref, &pos, count, format, &f);
    snapshots_put(&ref);
done:
    free(f.match);
    dump_pos_free(&pos);
}

/* SNAPSHOT LIST */
static void snapshot_list(cmd_ctx *ctx) {
    size_t n;
    snapshot_info *all = snapshots_all(&n);
    int64_t now = time_mono_ms();
    reply_array(ctx->r, (long long)n);
    for (size_t i = 0; i < n; i++) {
        reply_map(ctx->r, 4);
        reply_bulk_str(ctx->r, "id");
        reply_bulk_str(ctx->r, all[i].id);
        reply_bulk_str(ctx->r, "sequence");
        reply_int(ctx->r, (long long)all[i].sequence);
        reply_bulk_str(ctx->r, "created");
        reply_int(ctx->r, (long long)all[i].created_ms);
        reply_bulk_str(ctx->r, "idle");
        reply_int(ctx->r, (long long)((now - all[i].read_ms) / 1000));
    }
    free(all);
}

void cmd_snapshot(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "create") && ctx->argc <= 4) {
        snapshot_create(ctx);
    } else if (arg_is(sub, "read") && ctx->argc >= 4) {
        snapshot_read(ctx);
    } else if (arg_is(sub, "release") && ctx->argc == 3) {
        reply_snapshot_status(ctx, snapshots_release(ctx->argv[2].ptr, ctx->argv[2].len));
    } else if (arg_is(sub, "list") && ctx->argc == 2) {
        snapshot_list(ctx);
    } else {
        static const char *const known[] = {"create", "read", "release", "list", NULL};
        reply_subcommand_error(ctx, known);
    }
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The change data capture commands. */
static const cmd_def cdc_defs[] = {
    {"sequence", -1, NK | R | F, 0, 0, 0, cmd_sequence, "cdc", "@read @fast",
     "Returns the latest sequence, or the one at a time.",
     "[TIME unix-time-milliseconds:time]", NO_KEYS},
    {"pollupdates", -2, NK | R, 0, 0, 0, cmd_pollupdates, "cdc", "@read @slow",
     "Returns the changes after a sequence.",
     "sequence:int [MAX count:int] [STRICT] [FORMAT format(RAW|RESP|JSON|BINARY)] [BLOCK milliseconds:int] [MATCH pattern:pattern] [TYPE type] [DB index:int]",
     NO_KEYS},
    {"applybatch", 2, W | CMD_ALLKEYS | CMD_NOMULTI | NOSCRIPT, 0, 0, 0, cmd_applybatch, "cdc", "@write @slow @dangerous",
     "Applies a raw write batch.",
     "raw-batch", NO_KEYS},
    {"cdc", -2, NK | CMD_SUBCOMMANDS | NOSCRIPT, 0, 0, 0, cmd_cdc, "cdc", "@slow",
     "Durable consumers that pin the change history (CREATE, ACK, INFO, DROP).",
     "subcommand [argument]...", NO_KEYS},
    {"snapshot", -2, NK | CMD_SUBCOMMANDS | NOSCRIPT, 0, 0, 0, cmd_snapshot, "cdc", "@read @slow",
     "Consistent copies of the data at a sequence (CREATE, READ, RELEASE, LIST).",
     "subcommand [argument]...", NO_KEYS}
};
const cmd_family cdc_commands = {cdc_defs, sizeof(cdc_defs) / sizeof(cdc_defs[0])};
