/* Hash commands. Fields are subkeys of the hash's current version (ENCODING.md). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "cmd/members.h"
#include "types/compound.h"
#include "util/num.h"

/* Opens the hash at argv[1]; replies WRONGTYPE / storage errors and returns -1 then. */
static int open_hash(cmd_ctx *ctx, compound *h) { return members_open(ctx, h, &ctx->argv[1], TYPE_HASH); }

/* Sets a field, counting it if new; returns 1 if it was added, -1 on a read error. */
static int set_field(compound *h, const resp_arg *f, const char *val, size_t vlen, buf *tmp) {
    int had = compound_get(h, f->ptr, f->len, tmp);
    if (had < 0) return -1;
    compound_put(h, f->ptr, f->len, val, vlen);
    if (had == 0) h->m.size++;
    return had == 0;
}

/* Records "HSET key f v [f v ...]" for argv[from..]. */
static void record_hset(cmd_ctx *ctx, int from) {
    int n = 2 + ctx->argc - from;
    const char **argv = malloc((size_t)n * sizeof(char *));
    size_t *lens = malloc((size_t)n * sizeof(size_t));
    if (!argv || !lens) abort();
    argv[0] = "HSET", lens[0] = 4;
    argv[1] = ctx->argv[1].ptr, lens[1] = ctx->argv[1].len;
    for (int i = from; i < ctx->argc; i++) argv[2 + i - from] = ctx->argv[i].ptr, lens[2 + i - from] = ctx->argv[i].len;
    cmd_record(ctx, TYPE_HASH, n, argv, lens);
    free(argv);
    free(lens);
}

static void hset_generic(cmd_ctx *ctx, int reply_count) {
    if (ctx->argc % 2 != 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf tmp;
    buf_init(&tmp);
    long long added = 0;
    for (int i = 2; i < ctx->argc && added >= 0; i += 2) {
        int rc = set_field(&h, &ctx->argv[i], ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, &tmp);
        added = rc < 0 ? -1 : added + rc;
    }
    if (added >= 0) {
        compound_save(&h);
        record_hset(ctx, 2);
    }
    if (added < 0)
        reply_storage_error(ctx);
    else if (reply_count)
        reply_int(ctx->r, added);
    else
        reply_ok(ctx->r);
    buf_free(&tmp);
    compound_free(&h);
}

void cmd_hset(cmd_ctx *ctx) { hset_generic(ctx, 1); }
void cmd_hmset(cmd_ctx *ctx) { hset_generic(ctx, 0); }

void cmd_hsetnx(cmd_ctx *ctx) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf tmp;
    buf_init(&tmp);
    int had = compound_get(&h, ctx->argv[2].ptr, ctx->argv[2].len, &tmp);
    if (had < 0) {
        reply_storage_error(ctx);
    } else if (had) {
        reply_int(ctx->r, 0);
    } else {
        compound_put(&h, ctx->argv[2].ptr, ctx->argv[2].len, ctx->argv[3].ptr, ctx->argv[3].len);
        h.m.size++;
        compound_save(&h);
        record_hset(ctx, 2);
        reply_int(ctx->r, 1);
    }
    buf_free(&tmp);
    compound_free(&h);
}

void cmd_hget(cmd_ctx *ctx) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf v;
    buf_init(&v);
    int rc = compound_get(&h, ctx->argv[2].ptr, ctx->argv[2].len, &v);
    if (rc < 0) reply_storage_error(ctx);
    else if (rc) reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    else reply_null(ctx->r);
    buf_free(&v);
    compound_free(&h);
}

void cmd_hmget(cmd_ctx *ctx) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf v;
    buf_init(&v);
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        int rc = compound_get(&h, ctx->argv[i].ptr, ctx->argv[i].len, &v);
        if (rc < 0) {
            reply_storage_error(ctx);
            break;
        }
        if (rc == 1)
            reply_bulk(ctx->r, v.data ? v.data : "", v.len);
        else
            reply_null(ctx->r);
    }
    buf_free(&v);
    compound_free(&h);
}

void cmd_hdel(cmd_ctx *ctx) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf v;
    buf_init(&v);
    const char **argv = malloc((size_t)ctx->argc * sizeof(char *));
    size_t *lens = malloc((size_t)ctx->argc * sizeof(size_t));
    if (!argv || !lens) abort();
    argv[0] = "HDEL", lens[0] = 4;
    argv[1] = ctx->argv[1].ptr, lens[1] = ctx->argv[1].len;
    int n = 2, rc = 0;
    for (int i = 2; i < ctx->argc && rc >= 0; i++) {
        rc = compound_get(&h, ctx->argv[i].ptr, ctx->argv[i].len, &v);
        if (rc != 1) continue;
        compound_del(&h, ctx->argv[i].ptr, ctx->argv[i].len);
        h.m.size--;
        argv[n] = ctx->argv[i].ptr, lens[n++] = ctx->argv[i].len;
    }
    if (rc < 0) {
        reply_storage_error(ctx);
    } else {
        if (n > 2) {
            compound_save(&h);
            cmd_record(ctx, TYPE_HASH, n, argv, lens);
        }
        reply_int(ctx->r, n - 2);
    }
    free(argv);
    free(lens);
    buf_free(&v);
    compound_free(&h);
}

void cmd_hlen(cmd_ctx *ctx) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    reply_int(ctx->r, h.found ? (long long)h.m.size : 0);
    compound_free(&h);
}

/* HSTRLEN and HEXISTS: one field's length / presence. */
static void field_info(cmd_ctx *ctx, int want_length) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf v;
    buf_init(&v);
    int rc = compound_get(&h, ctx->argv[2].ptr, ctx->argv[2].len, &v);
    if (rc < 0) reply_storage_error(ctx);
    else reply_int(ctx->r, want_length ? (rc ? (long long)v.len : 0) : rc);
    buf_free(&v);
    compound_free(&h);
}

void cmd_hstrlen(cmd_ctx *ctx) { field_info(ctx, 1); }
void cmd_hexists(cmd_ctx *ctx) { field_info(ctx, 0); }

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

/* HKEYS, HVALS, HGETALL: every field in order, streamed from an iterator. */
static void list_fields(cmd_ctx *ctx, int want) {
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    long long n = h.found ? (long long)h.m.size : 0;
    if (n > LLONG_MAX / 2) { /* no hash is that big, and a RESP2 map header could not count 2n */
        reply_corrupt(ctx, ctx->argv[1].ptr, ctx->argv[1].len);
        compound_free(&h);
        return;
    }
    if (want == (WANT_FIELDS | WANT_VALUES))
        reply_map(ctx->r, n);
    else
        reply_array(ctx->r, n);
    compound_iter ci;
    compound_iter_open(&ci, &h, NULL, 0);
    const char *f, *v;
    size_t fl, vl;
    long long seen = 0;
    /* One step past n tells a size that is too small from one that is right. A reply cut at the
     * client's bound stops short: it is not sent anyway. */
    while (seen <= n && !reply_was_cut(ctx->r) && compound_iter_next(&ci, &f, &fl, &v, &vl)) {
        if (seen++ == n) break;
        if (want & WANT_FIELDS) reply_bulk(ctx->r, f, fl);
        if (want & WANT_VALUES) reply_bulk(ctx->r, v, vl);
    }
    /* A walk cut short by a read error looks like the end: its status tells. */
    if (compound_iter_close(&ci) < 0) reply_storage_error(ctx);
    /* The header promised n entries: a store that holds another number is corrupt. */
    else if (seen != n && !reply_was_cut(ctx->r)) reply_corrupt(ctx, ctx->argv[1].ptr, ctx->argv[1].len);
    compound_free(&h);
}

void cmd_hkeys(cmd_ctx *ctx) { list_fields(ctx, WANT_FIELDS); }
void cmd_hvals(cmd_ctx *ctx) { list_fields(ctx, WANT_VALUES); }
void cmd_hgetall(cmd_ctx *ctx) { list_fields(ctx, WANT_FIELDS | WANT_VALUES); }

/* Writes a field's new numeric value and records it as HSET. */
static void store_number(cmd_ctx *ctx, compound *h, const char *text, size_t len, int had) {
    compound_put(h, ctx->argv[2].ptr, ctx->argv[2].len, text, len);
    if (!had) h->m.size++;
    compound_save(h);
    const char *argv[4] = {"HSET", ctx->argv[1].ptr, ctx->argv[2].ptr, text};
    size_t lens[4] = {4, ctx->argv[1].len, ctx->argv[2].len, len};
    cmd_record(ctx, TYPE_HASH, 4, argv, lens);
}

void cmd_hincrby(cmd_ctx *ctx) {
    long long by, cur = 0;
    if (arg_ll(ctx, &ctx->argv[3], &by) < 0) return;
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf v;
    buf_init(&v);
    int rc = compound_get(&h, ctx->argv[2].ptr, ctx->argv[2].len, &v);
    if (rc < 0) {
        reply_storage_error(ctx);
    } else if (rc && num_parse_ll(v.data ? v.data : "", v.len, &cur) < 0) {
        reply_error(ctx->r, "ERR hash value is not an integer");
    } else if ((by < 0 && cur < LLONG_MIN - by) || (by > 0 && cur > LLONG_MAX - by)) {
        reply_error(ctx->r, "ERR increment or decrement would overflow");
    } else {
        char text[32];
        store_number(ctx, &h, text, num_format_ll(text, cur + by), rc);
        reply_int(ctx->r, cur + by);
    }
    buf_free(&v);
    compound_free(&h);
}

void cmd_hincrbyfloat(cmd_ctx *ctx) {
    long double by, cur = 0;
    if (num_parse_ld(ctx->argv[3].ptr, ctx->argv[3].len, &by) < 0) {
        reply_error(ctx->r, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(by) || isinf(by)) { /* Redis checks the increment itself before the key */
        reply_error(ctx->r, "ERR value is NaN or Infinity");
        return;
    }
    compound h;
    if (open_hash(ctx, &h) < 0) return;
    buf v;
    buf_init(&v);
    int rc = compound_get(&h, ctx->argv[2].ptr, ctx->argv[2].len, &v);
    if (rc < 0) {
        reply_storage_error(ctx);
    } else if (rc && num_parse_ld(v.data ? v.data : "", v.len, &cur) < 0) {
        reply_error(ctx->r, "ERR hash value is not a float");
    } else if (isnan(cur + by) || isinf(cur + by)) {
        reply_error(ctx->r, "ERR increment would produce NaN or Infinity");
    } else {
        char text[5120];
        size_t n = num_format_ld(text, sizeof(text), cur + by);
        store_number(ctx, &h, text, n, rc);
        reply_bulk(ctx->r, text, n);
    }
    buf_free(&v);
    compound_free(&h);
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
