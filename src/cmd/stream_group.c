/* Consumer group commands (Redis 7.0): XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
 * and XINFO GROUPS / CONSUMERS; the logic is in types/stream_group.c.
 *
 * Change records replay on Redis 7.0 to the same group state, as Redis propagates them: a
 * delivery (XREADGROUP, XCLAIM, XAUTOCLAIM) as `XCLAIM key group consumer 0 id TIME <ms>
 * RETRYCOUNT <n> FORCE JUSTID LASTID <id>`, the group's move as `XGROUP SETID key group <id>
 * ENTRIESREAD <n>`, a consumer a read made as XGROUP CREATECONSUMER, a pending entry whose entry
 * is gone as the XACK that drops it; XGROUP CREATE / SETID with `$` resolved; the rest as
 * given. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "cmd/members.h"
#include "cmd/blocking.h"
#include "cmd/stream_cmd.h"
#include "types/stream_group.h"
#include "util/num.h"

static slice arg_slice(const resp_arg *a) { return (slice){(char *)a->ptr, a->len}; }

/* ---- errors ---- */

static void reply_nogroup_for_key(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group) {
    reply_errorf(ctx->r, "NOGROUP No such consumer group '%.*s' for key name '%.*s'", (int)group->len, group->ptr,
                 (int)key->len, key->ptr);
}

static void reply_nogroup_or_key(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group) {
    reply_errorf(ctx->r, "NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)key->len, key->ptr,
                 (int)group->len, group->ptr);
}

/* Replies the error of a failed status (ST_NO_GROUP as XPENDING, XCLAIM and XAUTOCLAIM word
 * it); returns 1 if it replied. */
static int reply_group_status(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group, type_status st) {
    if (st == ST_NO_GROUP) {
        reply_nogroup_or_key(ctx, key, group);
        return 1;
    }
    return reply_key_status(ctx, key, st);
}

/* ---- change records ---- */

static void record_group(cmd_ctx *ctx, int argc, const char **argv, const size_t *lens) {
    cmd_record(ctx, TYPE_STREAM, argc, argv, lens);
}

/* XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID last: makes the
 * pending entry what it is here, whoever held it. */
static void record_claim(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group, stream_id id, const sg_nack *n,
                         stream_id last) {
    char idt[STREAM_ID_TEXT_MAX], lastt[STREAM_ID_TEXT_MAX], when[24], count[24];
    const char *argv[] = {"XCLAIM", key->ptr, group->ptr, n->consumer.ptr, "0",     idt,     "TIME",
                          when,     "RETRYCOUNT", count,  "FORCE",         "JUSTID", "LASTID", lastt};
    size_t lens[] = {6, key->len, group->len, n->consumer.len, 1, stream_id_format(idt, id), 4,
                     num_format_ll(when, n->delivery_ms), 10, num_format_ll(count, (long long)n->count), 5, 6, 6,
                     stream_id_format(lastt, last)};
    record_group(ctx, 14, argv, lens);
}

/* XGROUP SETID key group id ENTRIESREAD n: the group's last id and entries read as here. */
static void record_setid(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group, const sg_group *g) {
    char idt[STREAM_ID_TEXT_MAX], read[24];
    const char *argv[] = {"XGROUP", "SETID", key->ptr, group->ptr, idt, "ENTRIESREAD", read};
    size_t lens[] = {6, 5, key->len, group->len, stream_id_format(idt, g->last_id), 11,
                     num_format_ll(read, g->entries_read)};
    record_group(ctx, 7, argv, lens);
}

static void record_ack(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group, stream_id id) {
    char idt[STREAM_ID_TEXT_MAX];
    const char *argv[] = {"XACK", key->ptr, group->ptr, idt};
    size_t lens[] = {4, key->len, group->len, stream_id_format(idt, id)};
    record_group(ctx, 4, argv, lens);
}

static void record_create_consumer(cmd_ctx *ctx, const resp_arg *key, const resp_arg *group,
                                   const resp_arg *consumer) {
    const char *argv[] = {"XGROUP", "CREATECONSUMER", key->ptr, group->ptr, consumer->ptr};
    size_t lens[] = {6, 14, key->len, group->len, consumer->len};
    record_group(ctx, 5, argv, lens);
}

/* ---- XGROUP ---- */

/* The options of CREATE (mkstream allowed) and SETID from argv[5]: 0, or -1 after replying. */
static int parse_xgroup_options(cmd_ctx *ctx, int create, int *mkstream, long long *entries_read) {
    *mkstream = 0;
    *entries_read = SG_ENTRIES_READ_UNKNOWN;
    for (int i = 5; i < ctx->argc;) {
        if (create && arg_is(&ctx->argv[i], "mkstream")) {
            *mkstream = 1;
            i++;
        } else if (arg_is(&ctx->argv[i], "entriesread") && i + 1 < ctx->argc) {
            if (arg_ll(ctx, &ctx->argv[i + 1], entries_read) < 0) return -1;
            if (*entries_read < 0 && *entries_read != SG_ENTRIES_READ_UNKNOWN) {
                reply_error(ctx->r, "ERR value for ENTRIESREAD must be positive or -1");
                return -1;
            }
            i += 2;
        } else {
            return 1;
        }
    }
    return 0;
}

static void reply_xgroup_syntax(cmd_ctx *ctx) {
    reply_errorf(ctx->r, "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try XGROUP HELP.",
                 ctx->argv[1].ptr);
}

/* The id argument of CREATE / SETID: 0 with *dollar for "$", or -1 after replying. CREATE
 * takes strict ids, SETID "-" and "+" too (as Redis 7.0 does). */
static int parse_group_id(cmd_ctx *ctx, int strict, int *dollar, stream_id *id) {
    const resp_arg *a = &ctx->argv[4];
    *dollar = a->len == 1 && a->ptr[0] == '$';
    return *dollar ? 0 : parse_id(ctx, a, 0, strict, NULL, id);
}

/* XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n], recorded with $ resolved. */
static void xgroup_create(cmd_ctx *ctx, int mkstream, long long entries_read) {
    const resp_arg *key = &ctx->argv[2], *group = &ctx->argv[3];
    stream_id id;
    int dollar;
    if (parse_group_id(ctx, 1, &dollar, &id) < 0) return;
    sg_group g;
    type_status st = stream_group_create(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), dollar ? NULL : &id,
                                         entries_read, mkstream, &g);
    if (st == ST_EXISTS) {
        reply_error(ctx->r, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    if (reply_key_status(ctx, key, st)) return;
    char idt[STREAM_ID_TEXT_MAX], read[24];
    const char *argv[] = {"XGROUP", "CREATE", key->ptr, group->ptr, idt, "ENTRIESREAD", read, "MKSTREAM"};
    size_t lens[] = {6, 6, key->len, group->len, stream_id_format(idt, g.last_id), 11,
                     num_format_ll(read, g.entries_read), 8};
    record_group(ctx, mkstream ? 8 : 7, argv, lens);
    cmd_notify(ctx, KE_STREAM, "xgroup-create", key);
    reply_ok(ctx->r);
}

static void xgroup_setid(cmd_ctx *ctx, long long entries_read) {
    const resp_arg *key = &ctx->argv[2], *group = &ctx->argv[3];
    stream_id id;
    int dollar;
    if (parse_group_id(ctx, 0, &dollar, &id) < 0) return;
    sg_group g;
    type_status st = stream_group_set_id(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), dollar ? NULL : &id,
                                         entries_read, &g);
    if (reply_key_status(ctx, key, st)) return;
    record_setid(ctx, key, group, &g);
    cmd_notify(ctx, KE_STREAM, "xgroup-setid", key);
    reply_ok(ctx->r);
}

static void xgroup_destroy(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[2];
    int destroyed;
    type_status st = stream_group_destroy(ctx->t, ctx->db, key->ptr, key->len, arg_slice(&ctx->argv[3]), &destroyed);
    if (reply_key_status(ctx, key, st)) return;
    if (destroyed) {
        record_as_given(ctx);
        cmd_notify(ctx, KE_STREAM, "xgroup-destroy", key);
    }
    reply_int(ctx->r, destroyed);
}

static void xgroup_consumer(cmd_ctx *ctx, int create) {
    const resp_arg *key = &ctx->argv[2];
    slice group = arg_slice(&ctx->argv[3]), consumer = arg_slice(&ctx->argv[4]);
    int created = 0;
    long long pending = -1;
    type_status st = create ? stream_consumer_create(ctx->t, ctx->db, key->ptr, key->len, group, consumer, &created)
                            : stream_consumer_delete(ctx->t, ctx->db, key->ptr, key->len, group, consumer, &pending);
    if (reply_key_status(ctx, key, st)) return;
    if (created || pending >= 0) {
        record_as_given(ctx);
        cmd_notify(ctx, KE_STREAM, create ? "xgroup-createconsumer" : "xgroup-delconsumer", key);
    }
    reply_int(ctx->r, create ? created : pending < 0 ? 0 : pending);
}

static void xgroup_help(cmd_ctx *ctx) {
    static const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(ctx->r, (long long)n);
    for (size_t i = 0; i < n; i++) reply_simple(ctx->r, lines[i]);
}

/* Checks the key and group as Redis does before any subcommand runs: WRONGTYPE, a missing key
 * (unless CREATE … MKSTREAM), a missing group for those that need one. Returns 0, or -1 after
 * replying. */
static int xgroup_check_key(cmd_ctx *ctx, int create, int mkstream, int needs_group) {
    const resp_arg *key = &ctx->argv[2], *group = &ctx->argv[3];
    meta m;
    sg_group g;
    type_status st = stream_group_get(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &m, &g);
    if (st != ST_OK && st != ST_MISSING && st != ST_NO_GROUP) return reply_key_status(ctx, key, st) ? -1 : 0;
    if (st == ST_MISSING && !(create && mkstream)) {
        reply_error(ctx->r, "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
                            "to use the MKSTREAM option to create an empty stream automatically.");
        return -1;
    }
    if (st != ST_OK && needs_group) {
        reply_nogroup_for_key(ctx, key, group);
        return -1;
    }
    return 0;
}

void cmd_xgroup(cmd_ctx *ctx) {
    static const struct {
        const char *name;
        int arity; /* as Redis 7.0's XGROUP subcommands: negative for at least */
    } subs[] = {{"create", -5}, {"setid", -5}, {"destroy", 4}, {"createconsumer", 5}, {"delconsumer", 5}, {"help", 2}};
    const resp_arg *sub = &ctx->argv[1];
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (!arg_is(sub, subs[i].name)) continue;
        int a = subs[i].arity;
        if (a > 0 ? ctx->argc != a : ctx->argc < -a) {
            reply_errorf(ctx->r, "ERR wrong number of arguments for 'xgroup|%s' command", subs[i].name);
            return;
        }
    }
    if (arg_is(sub, "help") && ctx->argc == 2) {
        xgroup_help(ctx);
        return;
    }
    int create = arg_is(sub, "create"), setid = arg_is(sub, "setid");
    int mkstream = 0;
    long long entries_read = SG_ENTRIES_READ_UNKNOWN;
    if (ctx->argc >= 4) {
        if (create || setid) {
            int rc = parse_xgroup_options(ctx, create, &mkstream, &entries_read);
            if (rc < 0) return;
            if (rc > 0) {
                reply_xgroup_syntax(ctx);
                return;
            }
        }
        int needs_group = setid || arg_is(sub, "createconsumer") || arg_is(sub, "delconsumer");
        if (xgroup_check_key(ctx, create, mkstream, needs_group) < 0) return;
    }
    if (create && ctx->argc <= 8) xgroup_create(ctx, mkstream, entries_read);
    else if (setid && (ctx->argc == 5 || ctx->argc == 7)) xgroup_setid(ctx, entries_read);
    else if (arg_is(sub, "destroy") && ctx->argc == 4) xgroup_destroy(ctx);
    else if (arg_is(sub, "createconsumer") && ctx->argc == 5) xgroup_consumer(ctx, 1);
    else if (arg_is(sub, "delconsumer") && ctx->argc == 5) xgroup_consumer(ctx, 0);
    else if (create || setid || arg_is(sub, "destroy") || arg_is(sub, "createconsumer") || arg_is(sub, "delconsumer"))
        reply_xgroup_syntax(ctx);
    else
        reply_errorf(ctx->r, "ERR unknown subcommand '%.128s'. Try XGROUP HELP.", sub->ptr);
}

/* ---- XREADGROUP ---- */

/* XREADGROUP's arguments as Redis reads them. */
typedef struct xreadgroup_args {
    const resp_arg *group, *consumer;
    long long count;
    long long block_ms; /* -1 without BLOCK */
    int noack;
    int first, n; /* n keys from argv[first], then as many ids */
} xreadgroup_args;

/* Finds the options and the keys: 0, or -1 after replying (with ctx) or when ctx is NULL (a
 * key lookup for COMMAND GETKEYS and the like: no reply). */
static int parse_xreadgroup(cmd_ctx *ctx, int argc, const resp_arg *argv, xreadgroup_args *a) {
    memset(a, 0, sizeof(*a));
    a->block_ms = -1;
    for (int i = 1; i < argc; i++) {
        int moreargs = argc - i - 1;
        if (arg_is(&argv[i], "block") && moreargs) {
            i++;
            if (ctx && stream_parse_block(ctx, &argv[i], &a->block_ms) < 0) return -1;
        } else if (arg_is(&argv[i], "count") && moreargs) {
            i++;
            if (!ctx) continue;
            if (arg_ll(ctx, &argv[i], &a->count) < 0) return -1;
            if (a->count < 0) a->count = 0;
        } else if (arg_is(&argv[i], "streams") && moreargs) {
            if (moreargs % 2 != 0) {
                if (ctx)
                    reply_error(ctx->r, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                                        "must be specified.");
                return -1;
            }
            a->first = i + 1;
            a->n = moreargs / 2;
            break;
        } else if (arg_is(&argv[i], "group") && moreargs >= 2) {
            a->group = &argv[i + 1];
            a->consumer = &argv[i + 2];
            i += 2;
        } else if (arg_is(&argv[i], "noack")) {
            a->noack = 1;
        } else {
            if (ctx) reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    if (a->first == 0) {
        if (ctx) reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    if (!a->group) {
        if (ctx) reply_error(ctx->r, "ERR Missing GROUP option for XREADGROUP");
        return -1;
    }
    return 0;
}

int xreadgroup_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    xreadgroup_args a;
    if (parse_xreadgroup(NULL, argc, argv, &a) < 0) return 0; /* the command replies the error */
    for (int i = 0; i < a.n; i++) sink->add(sink, (key_ref){a.first + i, def->key_specs[0].flags, -1});
    return 0;
}

/* A blocked XREADGROUP run again finds its key or group gone (any commit on the key wakes it):
 * it ends with Redis 7.0's errors for that. Returns 1 after replying, or 0. */
static int reply_gone_while_blocked(cmd_ctx *ctx, type_status st) {
    if (!ctx->retrying) return 0;
    if (st == ST_MISSING || st == ST_WRONGTYPE) reply_error(ctx->r, "UNBLOCKED the stream key no longer exists");
    else if (st == ST_NO_GROUP) reply_error(ctx->r, "NOGROUP the consumer group this client was blocked on no longer exists");
    else return 0;
    return 1;
}

/* Each key's id: `>` (history NULL) or a history id. Checks every key and group first, as
 * Redis does before it serves any. Returns 0, or -1 after replying. */
static int check_xreadgroup_keys(cmd_ctx *ctx, const xreadgroup_args *a, stream_id *ids, char *is_new) {
    for (int i = 0; i < a->n; i++) {
        const resp_arg *key = &ctx->argv[a->first + i], *id = &ctx->argv[a->first + a->n + i];
        meta m;
        sg_group g;
        type_status st = stream_group_get(ctx->t, ctx->db, key->ptr, key->len, arg_slice(a->group), &m, &g);
        if (reply_gone_while_blocked(ctx, st)) return -1;
        if (st == ST_MISSING || st == ST_NO_GROUP) {
            reply_errorf(ctx->r, "NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with GROUP option",
                         (int)key->len, key->ptr, (int)a->group->len, a->group->ptr);
            return -1;
        }
        if (reply_key_status(ctx, key, st)) return -1;
        is_new[i] = id->len == 1 && id->ptr[0] == '>';
        if (id->len == 1 && id->ptr[0] == '$') {
            reply_error(ctx->r, "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the "
                                "history of this consumer by specifying a proper ID, or use the > ID to get new "
                                "messages. The $ ID would just return an empty result set.");
            return -1;
        }
        if (!is_new[i] && parse_id(ctx, id, 0, 1, NULL, &ids[i]) < 0) return -1;
        /* Redis 7.0 keeps `>` as the greatest id, so an explicit greatest id reads new entries. */
        if (!is_new[i]) is_new[i] = stream_id_compare(ids[i], STREAM_ID_MAX) == 0;
    }
    return 0;
}

/* One key's read: its entries replied into a part, its deliveries recorded. */
typedef struct group_read {
    cmd_ctx *ctx;
    const resp_arg *key, *group;
    reply part;
} group_read;

static int reply_read_entry(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    group_read *gr = arg;
    if (fields) {
        reply_entry(&gr->part, id, fields, nitems);
    } else { /* a pending entry whose entry was deleted */
        char text[STREAM_ID_TEXT_MAX];
        reply_array(&gr->part, 2);
        reply_bulk(&gr->part, text, stream_id_format(text, id));
        reply_null_array(&gr->part);
    }
    return 0;
}

static void record_delivery(void *arg, stream_id id, const sg_nack *n, stream_id group_last) {
    group_read *gr = arg;
    record_claim(gr->ctx, gr->key, gr->group, id, n, group_last);
}

/* Serves one key into body (as [key, entries]); returns 1 if it served, 0 if it had nothing
 * to serve, -1 after replying an error. */
static int serve_group_key(cmd_ctx *ctx, const xreadgroup_args *a, int i, const stream_id *history, reply *body) {
    const resp_arg *key = &ctx->argv[a->first + i];
    buf entries;
    buf_init(&entries);
    group_read gr = {ctx, key, a->group, reply_part(body, &entries)};
    sg_read_hooks hooks = {&gr, reply_read_entry, record_delivery};
    sg_read_result res;
    /* The deliveries' XCLAIMs are recorded during the read, before the consumer it made: a
     * replay's XCLAIM … FORCE makes that consumer too, and CREATECONSUMER then finds it. */
    type_status st = stream_group_read(ctx->t, ctx->db, key->ptr, key->len, arg_slice(a->group),
                                       arg_slice(a->consumer), history, a->count, a->noack,
                                       blocking_key_signalled(ctx, key), &hooks, &res);
    int rc = reply_key_status(ctx, key, st) ? -1 : res.served;
    if (rc == 1) {
        if (res.consumer_created) {
            record_create_consumer(ctx, key, a->group, a->consumer);
            cmd_notify(ctx, KE_STREAM, "xgroup-createconsumer", key);
        }
        if (res.group_moved) record_setid(ctx, key, a->group, &res.group);
        if (ctx->r->resp == 2) reply_array(body, 2);
        reply_bulk(body, key->ptr, key->len);
        reply_array(body, res.n);
        reply_append_part(body, &entries);
    }
    buf_free(&entries);
    return rc;
}

/* XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key … id …: `>` serves
 * what the group has not delivered yet, another id the consumer's pending entries after it.
 * Keys with nothing to serve are left out; with none served the reply is a null array, or,
 * with BLOCK, a wait for the keys, to run again as it is (`>` needs no rewrite: blocking.h). */
void cmd_xreadgroup(cmd_ctx *ctx) {
    xreadgroup_args a;
    if (parse_xreadgroup(ctx, ctx->argc, ctx->argv, &a) < 0) return;
    stream_id *ids = malloc((size_t)a.n * sizeof(*ids));
    char *is_new = malloc((size_t)a.n);
    if (!ids || !is_new) abort();
    buf body;
    buf_init(&body);
    reply part = reply_part(ctx->r, &body);
    int failed = check_xreadgroup_keys(ctx, &a, ids, is_new) < 0, served = 0;
    for (int i = 0; i < a.n && !failed; i++) {
        int rc = serve_group_key(ctx, &a, i, is_new[i] ? NULL : &ids[i], &part);
        failed = rc < 0;
        served += rc == 1;
    }
    if (!failed && served == 0 && a.block_ms >= 0) {
        blocking_wait_stream(ctx, blocking_ms_to_us(a.block_ms), ctx->argv);
    } else if (!failed) {
        reply_streams_read(ctx, served, &body);
    }
    buf_free(&body);
    free(ids);
    free(is_new);
}

/* ---- XACK ---- */

/* Parses n strict ids from argv[from]: an array, or NULL after replying. */
static stream_id *parse_ids(cmd_ctx *ctx, int from, int n) {
    stream_id *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof(*ids));
    if (!ids) abort();
    for (int i = 0; i < n; i++) {
        if (parse_id(ctx, &ctx->argv[from + i], 0, 1, NULL, &ids[i]) < 0) {
            free(ids);
            return NULL;
        }
    }
    return ids;
}

void cmd_xack(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    meta m;
    sg_group g;
    /* The key's type is checked before the ids, as in Redis. */
    type_status st = stream_group_get(ctx->t, ctx->db, key->ptr, key->len, arg_slice(&ctx->argv[2]), &m, &g);
    if (st != ST_NO_GROUP && reply_stream_status(ctx, st)) return;
    int n = ctx->argc - 3;
    stream_id *ids = parse_ids(ctx, 3, n);
    if (!ids) return;
    long long acked = 0;
    st = stream_group_ack(ctx->t, ctx->db, key->ptr, key->len, arg_slice(&ctx->argv[2]), ids, (size_t)n, &acked);
    free(ids);
    if (reply_stream_status(ctx, st)) return;
    if (acked > 0) record_as_given(ctx);
    reply_int(ctx->r, acked);
}

/* ---- XPENDING ---- */

typedef struct summary_reply {
    reply part;
    long long n;
} summary_reply;

static void reply_summary_consumer(void *arg, slice name, uint64_t pending) {
    summary_reply *sr = arg;
    char count[24];
    reply_array(&sr->part, 2);
    reply_bulk(&sr->part, name.ptr, name.len);
    reply_bulk(&sr->part, count, num_format_ll(count, (long long)pending));
    sr->n++;
}

static void xpending_summary(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1], *group = &ctx->argv[2];
    buf body;
    buf_init(&body);
    summary_reply sr = {reply_part(ctx->r, &body), 0};
    sg_pending_summary sum;
    type_status st = stream_group_pending_summary(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &sum,
                                                  reply_summary_consumer, &sr);
    if (!reply_group_status(ctx, key, group, st)) {
        reply_array(ctx->r, 4);
        reply_int(ctx->r, (long long)sum.count);
        if (sum.count == 0) {
            reply_null(ctx->r);
            reply_null(ctx->r);
            reply_null_array(ctx->r);
        } else {
            reply_id(ctx, sum.first);
            reply_id(ctx, sum.last);
            reply_array(ctx->r, sr.n);
            reply_append_part(ctx->r, &body);
        }
    }
    buf_free(&body);
}

typedef struct pending_reply {
    reply part;
    long long n;
} pending_reply;

static int reply_pending_entry(void *arg, stream_id id, const sg_nack *n, int64_t idle) {
    pending_reply *pr = arg;
    char text[STREAM_ID_TEXT_MAX];
    reply_array(&pr->part, 4);
    reply_bulk(&pr->part, text, stream_id_format(text, id));
    reply_bulk(&pr->part, n->consumer.ptr, n->consumer.len);
    reply_int(&pr->part, idle);
    reply_int(&pr->part, (long long)n->count);
    pr->n++;
    return reply_was_cut(&pr->part);
}

/* XPENDING key group [[IDLE min-idle] start end count [consumer]], checked in Redis's order. */
void cmd_xpending(cmd_ctx *ctx) {
    if (ctx->argc != 3 && (ctx->argc < 6 || ctx->argc > 9)) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 3) {
        xpending_summary(ctx);
        return;
    }
    int at = 3;
    long long min_idle = 0, count;
    if (arg_is(&ctx->argv[3], "idle")) {
        if (arg_ll(ctx, &ctx->argv[4], &min_idle) < 0) return;
        if (ctx->argc < 8) {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
        at += 2;
    }
    stream_id start, end;
    if (arg_ll(ctx, &ctx->argv[at + 2], &count) < 0) return;
    if (count < 0) count = 0;
    if (parse_bound(ctx, &ctx->argv[at], 0, &start) < 0 || parse_bound(ctx, &ctx->argv[at + 1], 1, &end) < 0) return;
    slice consumer = at + 3 < ctx->argc ? arg_slice(&ctx->argv[at + 3]) : (slice){NULL, 0};
    const resp_arg *key = &ctx->argv[1], *group = &ctx->argv[2];
    buf body;
    buf_init(&body);
    pending_reply pr = {reply_part(ctx->r, &body), 0};
    type_status st =
        stream_group_pending_range(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), consumer.ptr ? &consumer : NULL,
                                   min_idle, start, end, count, reply_pending_entry, &pr);
    if (!reply_group_status(ctx, key, group, st)) {
        reply_array(ctx->r, pr.n);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

/* ---- XCLAIM, XAUTOCLAIM ---- */

/* A claim's reply (its entries, or ids with JUSTID) and records. */
typedef struct claim_reply {
    cmd_ctx *ctx;
    const resp_arg *key, *group;
    reply part;
    long long n;
    stream_id *dropped; /* XAUTOCLAIM's deleted ids */
    size_t ndropped, dropped_cap;
    stream_id last_id; /* the group's, for LASTID */
} claim_reply;

static int reply_claimed(void *arg, stream_id id, const sg_nack *n, stream_entry_reader *fields, size_t nitems) {
    claim_reply *cr = arg;
    if (fields) {
        reply_entry(&cr->part, id, fields, nitems);
    } else {
        char text[STREAM_ID_TEXT_MAX];
        reply_bulk(&cr->part, text, stream_id_format(text, id));
    }
    cr->n++;
    record_claim(cr->ctx, cr->key, cr->group, id, n, cr->last_id);
    return 0;
}

static void note_consumer_created(void *arg) {
    claim_reply *cr = arg;
    cmd_notify(cr->ctx, KE_STREAM, "xgroup-createconsumer", cr->key);
}

static void note_dropped(void *arg, stream_id id) {
    claim_reply *cr = arg;
    record_ack(cr->ctx, cr->key, cr->group, id);
    if (cr->ndropped == cr->dropped_cap) {
        cr->dropped_cap = cr->dropped_cap ? 2 * cr->dropped_cap : 16;
        cr->dropped = realloc(cr->dropped, cr->dropped_cap * sizeof(*cr->dropped));
        if (!cr->dropped) abort();
    }
    cr->dropped[cr->ndropped++] = id;
}

/* Parses XCLAIM's options from argv[from] into c: 0, or -1 after replying. */
static int parse_claim_options(cmd_ctx *ctx, int from, sg_claim_args *c) {
    static const struct {
        const char *name, *error;
    } valued[] = {{"idle", "ERR Invalid IDLE option argument for XCLAIM"},
                  {"time", "ERR Invalid TIME option argument for XCLAIM"},
                  {"retrycount", "ERR Invalid RETRYCOUNT option argument for XCLAIM"}};
    for (int j = from; j < ctx->argc; j++) {
        const resp_arg *opt = &ctx->argv[j];
        int moreargs = ctx->argc - 1 - j, which = -1;
        for (int k = 0; k < 3; k++)
            if (arg_is(opt, valued[k].name) && moreargs) which = k;
        if (arg_is(opt, "force")) {
            c->force = 1;
        } else if (arg_is(opt, "justid")) {
            c->justid = 1;
        } else if (which >= 0) {
            long long v;
            if (arg_parse_ll(&ctx->argv[++j], &v) < 0) {
                reply_error(ctx->r, valued[which].error);
                return -1;
            }
            if (which == 0) c->delivery_ms = ctx->t->now_ms - v;
            else if (which == 1) c->delivery_ms = v;
            else c->retry_count = v;
        } else if (arg_is(opt, "lastid") && moreargs) {
            if (parse_id(ctx, &ctx->argv[++j], 0, 1, NULL, &c->last_id) < 0) return -1;
        } else {
            reply_errorf(ctx->r, "ERR Unrecognized XCLAIM option '%.128s'", opt->ptr);
            return -1;
        }
    }
    /* A time before 1970 (a negative IDLE's or TIME's) counts as now, as Redis has it. */
    if (c->delivery_ms < -1) c->delivery_ms = -1;
    return 0;
}

/* XCLAIM key group consumer min-idle-time id … [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
 * [JUSTID] [LASTID id]. */
void cmd_xclaim(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1], *group = &ctx->argv[2];
    meta m;
    sg_group g;
    type_status st = stream_group_get(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &m, &g);
    if (st == ST_MISSING) st = ST_NO_GROUP;
    if (reply_group_status(ctx, key, group, st)) return;
    sg_claim_args c = {arg_slice(&ctx->argv[3]), 0, -1, -1, 0, 0, {0, 0}};
    long long min_idle;
    if (arg_parse_ll(&ctx->argv[4], &min_idle) < 0) {
        reply_error(ctx->r, "ERR Invalid min-idle-time argument for XCLAIM");
        return;
    }
    c.min_idle = min_idle < 0 ? 0 : min_idle;
    /* The ids run up to the first argument that is none; options follow. */
    int j = 5;
    stream_id scratch;
    while (j < ctx->argc && stream_id_parse(ctx->argv[j].ptr, ctx->argv[j].len, 0, 1, NULL, &scratch) == 0) j++;
    if (parse_claim_options(ctx, j, &c) < 0) return;
    stream_id *ids = parse_ids(ctx, 5, j - 5);
    buf body;
    buf_init(&body);
    claim_reply cr = {ctx, key, group, reply_part(ctx->r, &body), 0, NULL, 0, 0, g.last_id};
    if (stream_id_compare(c.last_id, cr.last_id) > 0) cr.last_id = c.last_id;
    sg_claim_hooks hooks = {&cr, reply_claimed, note_dropped, note_consumer_created};
    int moved;
    st = stream_group_claim(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &c, ids, (size_t)(j - 5), &hooks,
                            &moved, &g);
    if (!reply_group_status(ctx, key, group, st)) {
        /* A LASTID that moved the group goes with the claims; alone, it is a SETID. */
        if (moved && cr.n == 0) record_setid(ctx, key, group, &g);
        reply_array(ctx->r, cr.n);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
    free(ids);
    free(cr.dropped);
}

/* XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]: [next start,
 * claimed entries (or ids), ids whose entries were deleted]. */
void cmd_xautoclaim(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1], *group = &ctx->argv[2];
    sg_claim_args c = {arg_slice(&ctx->argv[3]), 0, -1, -1, 0, 0, {0, 0}};
    long long min_idle, count = 100;
    if (arg_parse_ll(&ctx->argv[4], &min_idle) < 0) {
        reply_error(ctx->r, "ERR Invalid min-idle-time argument for XAUTOCLAIM");
        return;
    }
    c.min_idle = min_idle < 0 ? 0 : min_idle;
    stream_id start;
    if (parse_bound(ctx, &ctx->argv[5], 0, &start) < 0) return;
    for (int j = 6; j < ctx->argc; j++) {
        if (arg_is(&ctx->argv[j], "count") && j + 1 < ctx->argc) {
            /* Redis bounds COUNT so that count * 10 attempts cannot overflow. */
            if (arg_parse_ll(&ctx->argv[++j], &count) < 0 || count < 1 || count > LLONG_MAX / 16) {
                reply_error(ctx->r, "ERR COUNT must be > 0");
                return;
            }
        } else if (arg_is(&ctx->argv[j], "justid")) {
            c.justid = 1;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    meta m;
    sg_group g;
    type_status st = stream_group_get(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &m, &g);
    if (st == ST_MISSING) st = ST_NO_GROUP;
    if (reply_group_status(ctx, key, group, st)) return;
    buf body;
    buf_init(&body);
    claim_reply cr = {ctx, key, group, reply_part(ctx->r, &body), 0, NULL, 0, 0, g.last_id};
    sg_claim_hooks hooks = {&cr, reply_claimed, note_dropped, note_consumer_created};
    stream_id next;
    st = stream_group_autoclaim(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &c, start, count, &hooks, &next);
    if (!reply_group_status(ctx, key, group, st)) {
        reply_array(ctx->r, 3);
        reply_id(ctx, next);
        reply_array(ctx->r, cr.n);
        reply_append_part(ctx->r, &body);
        reply_array(ctx->r, (long long)cr.ndropped);
        for (size_t i = 0; i < cr.ndropped; i++) reply_id(ctx, cr.dropped[i]);
    }
    buf_free(&body);
    free(cr.dropped);
}

/* ---- XINFO GROUPS, CONSUMERS, STREAM FULL's groups ---- */

static void reply_entries_read(reply *r, int64_t entries_read) {
    if (entries_read == SG_ENTRIES_READ_UNKNOWN) reply_null(r);
    else reply_int(r, entries_read);
}

static void reply_lag(reply *r, const meta *m, const sg_group *g) {
    long long lag;
    if (stream_group_lag(m, g, &lag) == 0) reply_int(r, lag);
    else reply_null(r);
}

static void reply_field_id(reply *r, const char *name, stream_id id) {
    char text[STREAM_ID_TEXT_MAX];
    reply_bulk_str(r, name);
    reply_bulk(r, text, stream_id_format(text, id));
}

typedef struct groups_reply {
    reply part;
    const meta *m;
    long long n;
} groups_reply;

static int reply_group_info(void *arg, slice name, const sg_group *g) {
    groups_reply *gr = arg;
    reply *r = &gr->part;
    reply_map(r, 6);
    reply_bulk_str(r, "name");
    reply_bulk(r, name.ptr, name.len);
    reply_bulk_str(r, "consumers");
    reply_int(r, (long long)g->consumers);
    reply_bulk_str(r, "pending");
    reply_int(r, (long long)g->pending);
    reply_field_id(r, "last-delivered-id", g->last_id);
    reply_bulk_str(r, "entries-read");
    reply_entries_read(r, g->entries_read);
    reply_bulk_str(r, "lag");
    reply_lag(r, gr->m, g);
    gr->n++;
    return reply_was_cut(r);
}

/* Looks the stream at argv[2] up for XINFO: 0, or -1 after replying ("no such key"). */
static int xinfo_stream_meta(cmd_ctx *ctx, meta *m) {
    const resp_arg *key = &ctx->argv[2];
    type_status st = stream_meta(ctx->t, ctx->db, key->ptr, key->len, m);
    if (st == ST_MISSING) {
        reply_error(ctx->r, "ERR no such key");
        return -1;
    }
    return reply_key_status(ctx, key, st) ? -1 : 0;
}

void xinfo_groups(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[2];
    meta m;
    if (xinfo_stream_meta(ctx, &m) < 0) return;
    buf body;
    buf_init(&body);
    groups_reply gr = {reply_part(ctx->r, &body), &m, 0};
    type_status st = stream_groups_walk(ctx->t, ctx->db, key->ptr, key->len, &m, NULL, reply_group_info, &gr);
    if (!reply_key_status(ctx, key, st)) {
        reply_array(ctx->r, gr.n);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

typedef struct consumers_reply {
    reply part;
    int64_t now_ms;
    long long n;
} consumers_reply;

static int reply_consumer_info(void *arg, slice name, const sg_consumer *c) {
    consumers_reply *cr = arg;
    reply *r = &cr->part;
    reply_map(r, 3);
    reply_bulk_str(r, "name");
    reply_bulk(r, name.ptr, name.len);
    reply_bulk_str(r, "pending");
    reply_int(r, (long long)c->pending);
    reply_bulk_str(r, "idle");
    reply_int(r, cr->now_ms - c->seen_ms);
    cr->n++;
    return reply_was_cut(r);
}

void xinfo_consumers(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[2], *group = &ctx->argv[3];
    meta m;
    sg_group g;
    type_status st = stream_group_get(ctx->t, ctx->db, key->ptr, key->len, arg_slice(group), &m, &g);
    if (st == ST_MISSING) {
        reply_error(ctx->r, "ERR no such key");
        return;
    }
    if (st == ST_NO_GROUP) {
        reply_nogroup_for_key(ctx, key, group);
        return;
    }
    if (reply_key_status(ctx, key, st)) return;
    buf body;
    buf_init(&body);
    consumers_reply cr = {reply_part(ctx->r, &body), ctx->t->now_ms, 0};
    st = stream_consumers_walk(ctx->t, ctx->db, key->ptr, key->len, &m, arg_slice(group), NULL, reply_consumer_info, &cr);
    if (!reply_key_status(ctx, key, st)) {
        reply_array(ctx->r, cr.n);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

/* XINFO STREAM FULL: a group's or a consumer's pending entries ([id, consumer, delivery time,
 * count], or without the consumer for a consumer's own). */
typedef struct full_pel {
    reply part;
    int with_consumer;
    long long n;
} full_pel;

static int reply_full_nack(void *arg, stream_id id, const sg_nack *n, int64_t idle) {
    (void)idle;
    full_pel *fp = arg;
    char text[STREAM_ID_TEXT_MAX];
    reply_array(&fp->part, fp->with_consumer ? 4 : 3);
    reply_bulk(&fp->part, text, stream_id_format(text, id));
    if (fp->with_consumer) reply_bulk(&fp->part, n->consumer.ptr, n->consumer.len);
    reply_int(&fp->part, n->delivery_ms);
    reply_int(&fp->part, (long long)n->count);
    fp->n++;
    return reply_was_cut(&fp->part);
}

/* Replies the pending entries (of one consumer unless NULL) as "pending": st of the walk. */
static type_status reply_full_pel(cmd_ctx *ctx, reply *r, const resp_arg *key, const meta *m, slice group,
                                  const slice *consumer, long long count) {
    buf body;
    buf_init(&body);
    full_pel fp = {reply_part(r, &body), consumer == NULL, 0};
    type_status st = stream_pel_walk(ctx->t, ctx->db, key->ptr, key->len, m, group, consumer, (stream_id){0, 0}, count, reply_full_nack, &fp);
    reply_bulk_str(r, "pending");
    reply_array(r, fp.n);
    reply_append_part(r, &body);
    buf_free(&body);
    return st;
}

typedef struct full_groups {
    cmd_ctx *ctx;
    const resp_arg *key;
    const meta *m;
    slice group;
    long long count, n;
    reply part;
    type_status st;
} full_groups;

static int reply_full_consumer(void *arg, slice name, const sg_consumer *c) {
    full_groups *fg = arg;
    reply *r = &fg->part;
    reply_map(r, 4);
    reply_bulk_str(r, "name");
    reply_bulk(r, name.ptr, name.len);
    reply_bulk_str(r, "seen-time");
    reply_int(r, c->seen_ms);
    reply_bulk_str(r, "pel-count");
    reply_int(r, (long long)c->pending);
    fg->st = reply_full_pel(fg->ctx, r, fg->key, fg->m, fg->group, &name, fg->count);
    fg->n++;
    return fg->st != ST_OK || reply_was_cut(r);
}

static int reply_full_group(void *arg, slice name, const sg_group *g) {
    full_groups *fg = arg;
    reply *r = &fg->part;
    reply_map(r, 7);
    reply_bulk_str(r, "name");
    reply_bulk(r, name.ptr, name.len);
    reply_field_id(r, "last-delivered-id", g->last_id);
    reply_bulk_str(r, "entries-read");
    reply_entries_read(r, g->entries_read);
    reply_bulk_str(r, "lag");
    reply_lag(r, fg->m, g);
    reply_bulk_str(r, "pel-count");
    reply_int(r, (long long)g->pending);
    fg->st = reply_full_pel(fg->ctx, r, fg->key, fg->m, name, NULL, fg->count);
    if (fg->st != ST_OK) return 1;
    buf consumers;
    buf_init(&consumers);
    full_groups inner = *fg;
    inner.group = name;
    inner.n = 0;
    inner.part = reply_part(r, &consumers);
    type_status st = stream_consumers_walk(fg->ctx->t, fg->ctx->db, fg->key->ptr, fg->key->len, fg->m, name, NULL,
                                           reply_full_consumer, &inner);
    fg->st = st != ST_OK ? st : inner.st;
    reply_bulk_str(r, "consumers");
    reply_array(r, inner.n);
    reply_append_part(r, &consumers);
    buf_free(&consumers);
    fg->n++;
    return fg->st != ST_OK || reply_was_cut(r);
}

int xinfo_full_groups(cmd_ctx *ctx, reply *r, const resp_arg *key, const meta *m, long long count) {
    buf body;
    buf_init(&body);
    full_groups fg = {ctx, key, m, {NULL, 0}, count, 0, reply_part(r, &body), ST_OK};
    type_status st = stream_groups_walk(ctx->t, ctx->db, key->ptr, key->len, m, NULL, reply_full_group, &fg);
    if (st == ST_OK) st = fg.st;
    int failed = reply_key_status(ctx, key, st);
    if (!failed) {
        reply_bulk_str(r, "groups");
        reply_array(r, fg.n);
        reply_append_part(r, &body);
    }
    buf_free(&body);
    return failed ? -1 : 0;
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The consumer group commands. */
static const cmd_def stream_group_defs[] = {
    {"xgroup", -2, W | CMD_SUBCOMMANDS, 2, 2, 1, cmd_xgroup, "stream", "@write @stream @slow",
     "Creates, changes and destroys consumer groups and their consumers.",
     "subcommand key:key@0 [argument]...", KEYS(RANGE(KEY_RW | KEY_UPDATE, 2, 0, 1))},
    {"xreadgroup", -7, W | B, 0, 0, 0, cmd_xreadgroup, "stream", "@write @stream @slow @blocking",
     "Returns new or pending entries of streams for a consumer of a group.",
     "group_consumer(GROUP group consumer) [COUNT count:int] [BLOCK milliseconds:int] [NOACK] "
     "streams(STREAMS key:key@0... id...)",
     KEYS(UNKNOWN(KEY_RW | KEY_ACCESS)), .getkeys = xreadgroup_getkeys},
    {"xack", -4, W | F, 1, 1, 1, cmd_xack, "stream", "@write @stream @fast",
     "Acknowledges pending entries of a consumer group.",
     "key:key@0 group id...", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"xpending", -3, R, 1, 1, 1, cmd_xpending, "stream", "@read @stream @slow",
     "Returns the pending entries of a consumer group.",
     "key:key@0 group filters[[IDLE min-idle-time:int] start end count:int [consumer]]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"xclaim", -6, W | F, 1, 1, 1, cmd_xclaim, "stream", "@write @stream @fast",
     "Changes the owner of pending entries of a consumer group.",
     "key:key@0 group consumer min-idle-time id... [IDLE ms:int] [TIME unix-time-milliseconds:time] "
     "[RETRYCOUNT count:int] [FORCE] [JUSTID] [LASTID id]",
     KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"xautoclaim", -6, W | F, 1, 1, 1, cmd_xautoclaim, "stream", "@write @stream @fast",
     "Claims the pending entries of a consumer group idle longer than a time.",
     "key:key@0 group consumer min-idle-time start [COUNT count:int] [JUSTID]",
     KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
};
const cmd_family stream_group_commands = {stream_group_defs, sizeof(stream_group_defs) / sizeof(stream_group_defs[0])};
