/* Hash commands: argument parsing, replies and change records; the logic is in types/hash.c. */
#include <math.h>
#include <stdlib.h>

#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "cmd/members.h"
#include "types/hash.h"
#include "util/num.h"

/* Replies the error for a failed status about the hash at argv[1]; returns 1 if it replied. */
static int reply_hash_status(cmd_ctx *ctx, type_status st) { return reply_key_status(ctx, &ctx->argv[1], st); }

/* Records the command (HSET, HMSET, HSETNX) as "HSET key field value ...". */
static void record_hset(cmd_ctx *ctx) {
    int n = ctx->argc;
    const char **argv = malloc((size_t)n * sizeof(char *));
    size_t *lens = malloc((size_t)n * sizeof(size_t));
    if (!argv || !lens) abort();
    argv[0] = "HSET", lens[0] = 4;
    for (int i = 1; i < n; i++) argv[i] = ctx->argv[i].ptr, lens[i] = ctx->argv[i].len;
    cmd_record(ctx, TYPE_HASH, n, argv, lens);
    free(argv);
    free(lens);
}

static void hset_generic(cmd_ctx *ctx, int reply_count) {
    if (ctx->argc % 2 != 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    long long added;
    const resp_arg *key = &ctx->argv[1];
    type_status st = hash_set(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], (ctx->argc - 2) / 2, &added);
    if (reply_hash_status(ctx, st)) return;
    record_hset(ctx);
    cmd_notify(ctx, KE_HASH, "hset", key);
    if (reply_count) reply_int(ctx->r, added);
    else reply_ok(ctx->r);
}

void cmd_hset(cmd_ctx *ctx) { hset_generic(ctx, 1); }
void cmd_hmset(cmd_ctx *ctx) { hset_generic(ctx, 0); }

void cmd_hsetnx(cmd_ctx *ctx) {
    int set;
    const resp_arg *key = &ctx->argv[1];
    type_status st = hash_setnx(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], &ctx->argv[3], &set);
    if (reply_hash_status(ctx, st)) return;
    if (set) {
        record_hset(ctx);
        cmd_notify(ctx, KE_HASH, "hset", key);
    }
    reply_int(ctx->r, set);
}

/* Reads the field at argv[2] into v: ST_OK, ST_MISSING, or (replied) a failure. */
static type_status get_field(cmd_ctx *ctx, buf *v) {
    const resp_arg *key = &ctx->argv[1];
    return hash_get(ctx->t, ctx->db, key->ptr, key->len, ctx->argv[2].ptr, ctx->argv[2].len, v);
}

void cmd_hget(cmd_ctx *ctx) {
    buf v;
    buf_init(&v);
    type_status st = get_field(ctx, &v);
    if (st == ST_OK) reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    else if (!reply_hash_status(ctx, st)) reply_null(ctx->r);
    buf_free(&v);
}

/* HMGET being replied: the header goes before the first value, after the key's type was
 * checked. */
typedef struct values_reply {
    cmd_ctx *ctx;
    int started;
} values_reply;

/* A member_visit_fn replying a field's value, or nil for a missing field. */
static int reply_value_or_nil(void *arg, const char *field, size_t fl, const char *value, size_t vl) {
    (void)field, (void)fl;
    values_reply *vr = arg;
    if (!vr->started) reply_array(vr->ctx->r, vr->ctx->argc - 2);
    vr->started = 1;
    if (value) reply_bulk(vr->ctx->r, value, vl);
    else reply_null(vr->ctx->r);
    return 0;
}

void cmd_hmget(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    values_reply vr = {.ctx = ctx};
    type_status st = hash_mget(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], ctx->argc - 2, reply_value_or_nil,
                               &vr);
    reply_hash_status(ctx, st);
}

/* A member_visit_fn adding a deleted field to the change record. */
static int record_removed(void *arg, const char *field, size_t fl, const char *value, size_t vl) {
    (void)value, (void)vl;
    effect_add(arg, field, fl);
    return 0;
}

void cmd_hdel(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    effect e;
    effect_init(&e, TYPE_HASH, "HDEL", key, ctx->argc - 2);
    long long removed;
    type_status st = hash_del(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], ctx->argc - 2, record_removed, &e,
                              &removed);
    if (reply_hash_status(ctx, st)) {
        effect_discard(&e);
        return;
    }
    effect_finish(ctx, &e, 3);
    if (removed) {
        cmd_notify(ctx, KE_HASH, "hdel", key);
        cmd_notify_if_emptied(ctx, key);
    }
    reply_int(ctx->r, removed);
}

void cmd_hlen(cmd_ctx *ctx) {
    long long len;
    type_status st = hash_len(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &len);
    if (!reply_hash_status(ctx, st)) reply_int(ctx->r, len);
}

/* HSTRLEN and HEXISTS: one field's length / presence. */
static void field_info(cmd_ctx *ctx, int want_length) {
    buf v;
    buf_init(&v);
    type_status st = get_field(ctx, &v);
    if (!reply_hash_status(ctx, st)) reply_int(ctx->r, st == ST_MISSING ? 0 : want_length ? (long long)v.len : 1);
    buf_free(&v);
}

void cmd_hstrlen(cmd_ctx *ctx) { field_info(ctx, 1); }
void cmd_hexists(cmd_ctx *ctx) { field_info(ctx, 0); }

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

/* HKEYS, HVALS, HGETALL being replied: the header goes before the first field. */
typedef struct fields_reply {
    cmd_ctx *ctx;
    int want;
    long long size; /* set by hash_get_all before the first visit */
    int started;
} fields_reply;

static void fields_header(fields_reply *fr) {
    if (fr->want == (WANT_FIELDS | WANT_VALUES)) reply_map(fr->ctx->r, fr->size);
    else reply_array(fr->ctx->r, fr->size);
    fr->started = 1;
}

/* A member_visit_fn replying a field and/or its value; stops once the reply is cut (it is not
 * sent anyway). */
static int reply_field(void *arg, const char *f, size_t fl, const char *v, size_t vl) {
    fields_reply *fr = arg;
    if (!fr->started) fields_header(fr);
    if (fr->want & WANT_FIELDS) reply_bulk(fr->ctx->r, f, fl);
    if (fr->want & WANT_VALUES) reply_bulk(fr->ctx->r, v, vl);
    return reply_was_cut(fr->ctx->r);
}

static void list_fields(cmd_ctx *ctx, int want) {
    fields_reply fr = {.ctx = ctx, .want = want};
    type_status st = hash_get_all(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &fr.size, reply_field, &fr);
    if (!reply_hash_status(ctx, st) && !fr.started) fields_header(&fr);
}

void cmd_hkeys(cmd_ctx *ctx) { list_fields(ctx, WANT_FIELDS); }
void cmd_hvals(cmd_ctx *ctx) { list_fields(ctx, WANT_VALUES); }
void cmd_hgetall(cmd_ctx *ctx) { list_fields(ctx, WANT_FIELDS | WANT_VALUES); }

/* Records a field's new numeric value as HSET. */
static void record_number(cmd_ctx *ctx, const char *text, size_t len) {
    const char *argv[4] = {"HSET", ctx->argv[1].ptr, ctx->argv[2].ptr, text};
    size_t lens[4] = {4, ctx->argv[1].len, ctx->argv[2].len, len};
    cmd_record(ctx, TYPE_HASH, 4, argv, lens);
}

void cmd_hincrby(cmd_ctx *ctx) {
    long long by, result;
    if (arg_ll(ctx, &ctx->argv[3], &by) < 0) return;
    const resp_arg *key = &ctx->argv[1];
    type_status st = hash_incrby(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], by, &result);
    if (st == ST_NOT_INTEGER) {
        reply_error(ctx->r, "ERR hash value is not an integer");
    } else if (st == ST_OVERFLOW) {
        reply_error(ctx->r, "ERR increment or decrement would overflow");
    } else if (!reply_hash_status(ctx, st)) {
        char text[32];
        record_number(ctx, text, num_format_ll(text, result));
        cmd_notify(ctx, KE_HASH, "hincrby", key);
        reply_int(ctx->r, result);
    }
}

void cmd_hincrbyfloat(cmd_ctx *ctx) {
    long double by;
    if (num_parse_ld(ctx->argv[3].ptr, ctx->argv[3].len, &by) < 0) {
        reply_error(ctx->r, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(by) || isinf(by)) { /* Redis checks the increment itself before the key */
        reply_error(ctx->r, "ERR value is NaN or Infinity");
        return;
    }
    const resp_arg *key = &ctx->argv[1];
    buf text;
    buf_init(&text);
    type_status st = hash_incrbyfloat(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], by, &text);
    if (st == ST_NOT_FLOAT) {
        reply_error(ctx->r, "ERR hash value is not a float");
    } else if (st == ST_NAN_OR_INF) {
        reply_error(ctx->r, "ERR increment would produce NaN or Infinity");
    } else if (!reply_hash_status(ctx, st)) {
        record_number(ctx, text.data, text.len);
        cmd_notify(ctx, KE_HASH, "hincrbyfloat", key);
        reply_bulk(ctx->r, text.data, text.len);
    }
    buf_free(&text);
}

void cmd_hscan(cmd_ctx *ctx) { members_reply_scan(ctx, TYPE_HASH, 1); }

static int reply_field_value(reply *r, const char *val, size_t len) {
    reply_bulk(r, val, len);
    return 0;
}

void cmd_hrandfield(cmd_ctx *ctx) {
    long long count = 1;
    int with_values = 0, has_count = ctx->argc >= 3;
    if (has_count && members_parse_count(ctx, &ctx->argv[2], &count) < 0) return;
    if (ctx->argc == 4) {
        if (!arg_is(&ctx->argv[3], "withvalues")) {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
        with_values = 1;
    } else if (ctx->argc > 4) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (with_values && members_check_pair_count(ctx, count) < 0) return;
    if (has_count) members_reply_random(ctx, TYPE_HASH, count, with_values ? reply_field_value : NULL);
    else members_reply_one(ctx, TYPE_HASH);
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The hashes commands. */
static const cmd_def hash_defs[] = {
    {"hset", -4, W | F | OOM, 1, 1, 1, cmd_hset, "hash", "@write @hash @fast",
     "Sets fields of a hash.",
     "key:key@0 field_value(field value)...", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"hmset", -4, W | F | OOM, 1, 1, 1, cmd_hmset, "hash", "@write @hash @fast",
     "Sets fields of a hash (old form of HSET).",
     "key:key@0 field_value(field value)...", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"hsetnx", 4, W | F | OOM, 1, 1, 1, cmd_hsetnx, "hash", "@write @hash @fast",
     "Sets a field only if it does not exist.",
     "key:key@0 field value", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"hget", 3, R | F, 1, 1, 1, cmd_hget, "hash", "@read @hash @fast",
     "Returns a field's value.",
     "key:key@0 field", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"hmget", -3, R | F, 1, 1, 1, cmd_hmget, "hash", "@read @hash @fast",
     "Returns several fields' values.",
     "key:key@0 field...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"hdel", -3, W | F, 1, 1, 1, cmd_hdel, "hash", "@write @hash @fast",
     "Deletes fields.",
     "key:key@0 field...", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"hlen", 2, R | F, 1, 1, 1, cmd_hlen, "hash", "@read @hash @fast",
     "Returns the number of fields.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"hstrlen", 3, R | F, 1, 1, 1, cmd_hstrlen, "hash", "@read @hash @fast",
     "Returns the length of a field's value.",
     "key:key@0 field", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"hexists", 3, R | F, 1, 1, 1, cmd_hexists, "hash", "@read @hash @fast",
     "Tells whether a field exists.",
     "key:key@0 field", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"hkeys", 2, R, 1, 1, 1, cmd_hkeys, "hash", "@read @hash @slow",
     "Returns every field.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"hvals", 2, R, 1, 1, 1, cmd_hvals, "hash", "@read @hash @slow",
     "Returns every value.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"hgetall", 2, R, 1, 1, 1, cmd_hgetall, "hash", "@read @hash @slow",
     "Returns every field and value.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"hincrby", 4, W | F | OOM, 1, 1, 1, cmd_hincrby, "hash", "@write @hash @fast",
     "Increments a field's integer value.",
     "key:key@0 field increment:int", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"hincrbyfloat", 4, W | F | OOM, 1, 1, 1, cmd_hincrbyfloat, "hash", "@write @hash @fast",
     "Increments a field's float value.",
     "key:key@0 field increment:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"hscan", -3, R, 1, 1, 1, cmd_hscan, "hash", "@read @hash @slow",
     "Iterates over fields and values.",
     "key:key@0 cursor:int [MATCH pattern:pattern] [COUNT count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"hrandfield", -2, R, 1, 1, 1, cmd_hrandfield, "hash", "@read @hash @slow",
     "Returns random fields.",
     "key:key@0 options[count:int [WITHVALUES]]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))}
};
const cmd_family hash_commands = {hash_defs, sizeof(hash_defs) / sizeof(hash_defs[0])};
