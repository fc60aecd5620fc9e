/* Key commands that work on every type: DEL, EXISTS, TYPE, the EXPIRE family, KEYS, SCAN, RENAME, COPY … */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cursor.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "config.h"
#include "types/keyspace.h"
#include "types/scan_cursor.h"
#include "util/glob.h"
#include "util/num.h"

/* Replies the error for a failed lookup of ctx->argv[i] (KS_ERROR or KS_CORRUPT). */
static void reply_lookup_error(cmd_ctx *ctx, int i, int rc) {
    if (rc == KS_CORRUPT) reply_corrupt(ctx, ctx->argv[i].ptr, ctx->argv[i].len);
    else reply_storage_error(ctx);
}

typedef int (*lookup_fn)(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw);

/* Looks up ctx->argv[i] with ks_lookup, or ks_lookup_meta where the value is not needed;
 * replies the error and returns KS_ERROR if it cannot be read. */
static int lookup_arg(cmd_ctx *ctx, int i, meta *m, buf *raw, lookup_fn lookup) {
    int rc = lookup(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, m, raw);
    if (rc != KS_ERROR && rc != KS_CORRUPT) return rc;
    reply_lookup_error(ctx, i, rc);
    return KS_ERROR;
}

void cmd_del(cmd_ctx *ctx) {
    long long deleted = 0;
    for (int i = 1; i < ctx->argc; i++) {
        meta m;
        buf raw;
        buf_init(&raw);
        int rc = ks_lookup_meta(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, &m, &raw);
        buf_free(&raw);
        if (rc == KS_ERROR) {
            reply_storage_error(ctx);
            return;
        }
        if (rc == KS_MISSING) continue; /* a corrupt record is deleted like any other */
        ks_delete(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len);
        /* One DEL per key, each tagged with the type it removed. */
        cmd_record_key(ctx, "DEL", m.type, ctx->argv[i].ptr, ctx->argv[i].len);
        cmd_notify(ctx, KE_GENERIC, "del", &ctx->argv[i]);
        deleted++;
    }
    reply_int(ctx->r, deleted);
}

/* EXISTS and TOUCH: how many of the arguments exist (duplicates count; a corrupt key
 * exists: DEL would remove it). */
void cmd_exists(cmd_ctx *ctx) {
    long long count = 0;
    for (int i = 1; i < ctx->argc; i++) {
        meta m;
        buf raw;
        buf_init(&raw);
        int rc = ks_lookup_meta(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, &m, &raw);
        buf_free(&raw);
        if (rc == KS_ERROR) {
            reply_storage_error(ctx);
            return;
        }
        count += rc == KS_FOUND || rc == KS_CORRUPT;
    }
    reply_int(ctx->r, count);
}

void cmd_type(cmd_ctx *ctx) {
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = lookup_arg(ctx, 1, &m, &raw, ks_lookup_meta);
    if (rc != KS_ERROR) reply_simple(ctx->r, rc == KS_FOUND ? enc_type_name(m.type) : "none");
    buf_free(&raw);
}

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static int parse_expire_flags(cmd_ctx *ctx, int *flags) {
    *flags = 0;
    for (int i = 3; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "nx")) *flags |= EXP_NX;
        else if (arg_is(a, "xx")) *flags |= EXP_XX;
        else if (arg_is(a, "gt")) *flags |= EXP_GT;
        else if (arg_is(a, "lt")) *flags |= EXP_LT;
        else {
            reply_errorf(ctx->r, "ERR Unsupported option %.*s", (int)a->len, a->ptr);
            return -1;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(ctx->r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return -1;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(ctx->r, "ERR GT and LT options at the same time are not compatible");
        return -1;
    }
    return 0;
}

/* Whether NX/XX/GT/LT allow replacing `current` (0 = none, i.e. infinite) with `when`. */
static int expire_condition_holds(int flags, int64_t current, int64_t when) {
    if ((flags & EXP_NX) && current) return 0;
    if ((flags & EXP_XX) && !current) return 0;
    if ((flags & EXP_GT) && (!current || when <= current)) return 0;
    if ((flags & EXP_LT) && current && when >= current) return 0;
    return 1;
}

static void expire_generic(cmd_ctx *ctx, int seconds, int relative) {
    const resp_arg *key = &ctx->argv[1];
    long long when;
    int flags;
    if (arg_ll(ctx, &ctx->argv[2], &when) < 0 || parse_expire_flags(ctx, &flags) < 0) return;
    if (seconds && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) goto invalid;
    if (seconds) when *= 1000;
    if (relative) {
        if ((when > 0 && ctx->t->now_ms > LLONG_MAX - when)) goto invalid;
        when += ctx->t->now_ms;
    }
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = lookup_arg(ctx, 1, &m, &raw, ks_lookup);
    if (rc == KS_FOUND) {
        if (!expire_condition_holds(flags, m.expire_ms, when)) {
            reply_int(ctx->r, 0);
        } else if (when <= ctx->t->now_ms) {
            /* A time already past deletes the key, as Redis does (and records it as DEL). */
            ks_delete(ctx->t, ctx->db, key->ptr, key->len);
            cmd_record_key(ctx, "DEL", m.type, key->ptr, key->len);
            cmd_notify(ctx, KE_GENERIC, "del", key);
            reply_int(ctx->r, 1);
        } else {
            ks_set_expire(ctx->t, ctx->db, key->ptr, key->len, &raw, when);
            char text[24];
            const char *argv[3] = {"PEXPIREAT", key->ptr, text};
            size_t lens[3] = {9, key->len, num_format_ll(text, when)};
            cmd_record(ctx, m.type, 3, argv, lens);
            cmd_notify(ctx, KE_GENERIC, "expire", key);
            reply_int(ctx->r, 1);
        }
    } else if (rc == KS_MISSING) {
        reply_int(ctx->r, 0);
    }
    buf_free(&raw);
    return;
invalid:
    reply_errorf(ctx->r, "ERR invalid expire time in '%s' command", ctx->name);
}

void cmd_expire(cmd_ctx *ctx) { expire_generic(ctx, 1, 1); }
void cmd_pexpire(cmd_ctx *ctx) { expire_generic(ctx, 0, 1); }
void cmd_expireat(cmd_ctx *ctx) { expire_generic(ctx, 1, 0); }
void cmd_pexpireat(cmd_ctx *ctx) { expire_generic(ctx, 0, 0); }

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME. */
static void ttl_generic(cmd_ctx *ctx, int in_ms, int absolute) {
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = lookup_arg(ctx, 1, &m, &raw, ks_lookup_meta);
    buf_free(&raw);
    if (rc == KS_ERROR) return;
    if (rc == KS_MISSING) {
        reply_int(ctx->r, -2);
        return;
    }
    if (m.expire_ms == 0) {
        reply_int(ctx->r, -1);
        return;
    }
    long long ttl = absolute ? m.expire_ms : m.expire_ms - ctx->t->now_ms;
    if (ttl < 0) ttl = 0;
    reply_int(ctx->r, in_ms ? ttl : (ttl + 500) / 1000);
}

void cmd_ttl(cmd_ctx *ctx) { ttl_generic(ctx, 0, 0); }
void cmd_pttl(cmd_ctx *ctx) { ttl_generic(ctx, 1, 0); }
void cmd_expiretime(cmd_ctx *ctx) { ttl_generic(ctx, 0, 1); }
void cmd_pexpiretime(cmd_ctx *ctx) { ttl_generic(ctx, 1, 1); }

void cmd_persist(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = lookup_arg(ctx, 1, &m, &raw, ks_lookup);
    if (rc != KS_ERROR) {
        int changed = rc == KS_FOUND && m.expire_ms != 0;
        if (changed) {
            ks_set_expire(ctx->t, ctx->db, key->ptr, key->len, &raw, 0);
            cmd_record_key(ctx, "PERSIST", m.type, key->ptr, key->len);
            cmd_notify(ctx, KE_GENERIC, "persist", key);
        }
        reply_int(ctx->r, changed);
    }
    buf_free(&raw);
}

/* The literal part of a glob before its first special character: where a scan can start. */
static size_t glob_literal_prefix(const char *p, size_t len) {
    size_t i = 0;
    while (i < len && p[i] != '*' && p[i] != '?' && p[i] != '[' && p[i] != '\\') i++;
    return i;
}

void cmd_keys(cmd_ctx *ctx) {
    const resp_arg *pat = &ctx->argv[1];
    size_t plen = glob_literal_prefix(pat->ptr, pat->len);
    ks_cursor *cur = ks_cursor_new(ctx->t, ctx->db, pat->ptr, plen);
    buf body;
    buf_init(&body);
    reply sub = reply_part(ctx->r, &body);
    long long n = 0;
    const char *k;
    size_t kl;
    meta m;
    while (!reply_was_cut(&sub) && ks_cursor_next(cur, &k, &kl, &m)) {
        if (kl < plen || memcmp(k, pat->ptr, plen) != 0) break;
        if (!glob_match(pat->ptr, pat->len, k, kl, 0)) continue;
        reply_bulk(&sub, k, kl);
        n++;
    }
    if (ks_cursor_free(cur) < 0) { /* the walk stopped on a read error, not at the end */
        reply_storage_error(ctx);
    } else {
        reply_array(ctx->r, n);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

typedef struct scan_opts {
    const resp_arg *match;
    long long count;
    enum key_type type;
    int type_given;
} scan_opts;

static int parse_scan_opts(cmd_ctx *ctx, int first, scan_opts *o) {
    o->match = NULL;
    o->count = 10;
    o->type_given = 0;
    for (int i = first; i < ctx->argc; i += 2) {
        if (i + 1 >= ctx->argc) goto syntax;
        const resp_arg *v = &ctx->argv[i + 1];
        if (arg_is(&ctx->argv[i], "match")) {
            o->match = v;
        } else if (arg_is(&ctx->argv[i], "count")) {
            if (arg_ll(ctx, v, &o->count) < 0) return -1;
            if (o->count < 1) goto syntax;
        } else if (arg_is(&ctx->argv[i], "type")) {
            o->type = enc_type_from_name(v->ptr);
            o->type_given = 1;
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
    return -1;
}

/* Whether a key passes SCAN's MATCH and TYPE options. */
static int scan_wants(const scan_opts *o, const char *k, size_t kl, const meta *m) {
    if (o->match && !glob_match(o->match->ptr, o->match->len, k, kl, 0)) return 0;
    return !o->type_given || (o->type != TYPE_NONE && enc_type_from_name(enc_type_name(m->type)) == o->type);
}

void cmd_scan(cmd_ctx *ctx) {
    uint64_t cursor, next = 0;
    scan_opts o;
    if (cursor_parse(ctx, &ctx->argv[1], &cursor) < 0 || parse_scan_opts(ctx, 2, &o) < 0) return;
    scan_scope scope;
    scan_scope_keys(&scope, ctx->t, ctx->db);
    buf from, last, body;
    buf_init(&from);
    buf_init(&last);
    buf_init(&body);
    int failed = scan_resume(&scope, cursor, &from) < 0;
    ks_cursor *cur = ks_cursor_new(ctx->t, ctx->db, from.data ? from.data : "", from.len);
    reply sub = reply_part(ctx->r, &body);
    long long found = 0, examined = 0;
    const char *k;
    size_t kl;
    meta m;
    while (!failed && !reply_was_cut(&sub) && ks_cursor_next(cur, &k, &kl, &m)) {
        if (examined >= o.count) {
            int ends = scan_page_ends(&scope, last.data, last.len, k, kl, &next);
            failed = ends < 0;
            if (ends != 0) break;
        }
        examined++;
        buf_clear(&last);
        buf_append(&last, k, kl);
        if (!scan_wants(&o, k, kl, &m)) continue;
        reply_bulk(&sub, k, kl);
        found++;
    }
    if (ks_cursor_free(cur) < 0) failed = 1; /* a read error ended the walk, not the end */
    if (failed) reply_storage_error(ctx);
    else cursor_reply_page(ctx, next, found, &body);
    buf_free(&from);
    buf_free(&last);
    buf_free(&body);
    scan_scope_free(&scope);
}

void cmd_randomkey(cmd_ctx *ctx) {
    buf key;
    buf_init(&key);
    int rc = ks_random_key(ctx->t, ctx->db, &key);
    if (rc < 0) reply_storage_error(ctx);
    else if (rc == 0) reply_null(ctx->r);
    else reply_bulk(ctx->r, key.data, key.len);
    buf_free(&key);
}

/* Parses "DB n" for COPY; replies and returns -1 on an invalid index. */
static int parse_db_index(cmd_ctx *ctx, const resp_arg *a, int *db) {
    long long v;
    if (arg_ll(ctx, a, &v) < 0) return -1;
    if (v < 0 || v >= CONFIG_READ(databases)) {
        reply_error(ctx->r, "ERR DB index is out of range");
        return -1;
    }
    *db = (int)v;
    return 0;
}

/* Moves or copies src to dst (possibly in another database). Returns 1 done, 0 not done
 * (src missing, or dst exists without replace), -1 after replying an error. */
static int copy_key(cmd_ctx *ctx, const resp_arg *src, int dst_db, const resp_arg *dst, int replace, int move,
                    enum key_type *type) {
    meta m, dm;
    buf raw, draw;
    buf_init(&raw);
    buf_init(&draw);
    cmd_read_lookups(ctx, !move); /* COPY reads its source, RENAME takes it */
    int rc = ks_lookup(ctx->t, ctx->db, src->ptr, src->len, &m, &raw);
    cmd_read_lookups(ctx, 0);
    int drc = rc == KS_FOUND ? ks_lookup_meta(ctx->t, dst_db, dst->ptr, dst->len, &dm, &draw) : KS_MISSING;
    if (drc == KS_CORRUPT) drc = KS_FOUND; /* a corrupt destination is there: REPLACE overwrites it */
    int done = 0;
    if (rc == KS_ERROR || drc == KS_ERROR) {
        reply_storage_error(ctx);
        done = -1;
    } else if (rc == KS_CORRUPT) {
        reply_corrupt(ctx, src->ptr, src->len);
        done = -1;
    } else if (rc == KS_FOUND && (drc == KS_MISSING || replace)) {
        int copied = ks_copy(ctx->t, ctx->db, src->ptr, src->len, &m, &raw, dst_db, dst->ptr, dst->len);
        if (copied != 0) {
            if (copied == KS_ERROR) reply_storage_error(ctx);
            else reply_corrupt(ctx, src->ptr, src->len);
            done = -1;
        } else {
            if (move) ks_delete(ctx->t, ctx->db, src->ptr, src->len);
            *type = m.type;
            done = 1;
        }
    } else if (rc == KS_MISSING && move) {
        reply_error(ctx->r, "ERR no such key");
        done = -1;
    }
    buf_free(&raw);
    buf_free(&draw);
    return done;
}

static void rename_generic(cmd_ctx *ctx, int nx) {
    const resp_arg *src = &ctx->argv[1], *dst = &ctx->argv[2];
    if (src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
        meta m;
        buf raw;
        buf_init(&raw);
        int rc = lookup_arg(ctx, 1, &m, &raw, ks_lookup_meta);
        buf_free(&raw);
        if (rc == KS_MISSING) reply_error(ctx->r, "ERR no such key");
        else if (rc == KS_FOUND) nx ? reply_int(ctx->r, 0) : reply_ok(ctx->r);
        return;
    }
    enum key_type type = TYPE_NONE;
    int done = copy_key(ctx, src, ctx->db, dst, !nx, 1, &type);
    if (done < 0) return;
    if (done) {
        const char *argv[3] = {nx ? "RENAMENX" : "RENAME", src->ptr, dst->ptr};
        size_t lens[3] = {strlen(argv[0]), src->len, dst->len};
        cmd_record(ctx, type, 3, argv, lens);
        cmd_notify(ctx, KE_NEW, "new", dst); /* the key is added anew even over one it replaced, as in Redis */
        cmd_notify(ctx, KE_GENERIC, "rename_from", src);
        cmd_notify(ctx, KE_GENERIC, "rename_to", dst);
    }
    if (nx)
        reply_int(ctx->r, done);
    else
        reply_ok(ctx->r);
}

void cmd_rename(cmd_ctx *ctx) { rename_generic(ctx, 0); }
void cmd_renamenx(cmd_ctx *ctx) { rename_generic(ctx, 1); }

void cmd_copy(cmd_ctx *ctx) {
    const resp_arg *src = &ctx->argv[1], *dst = &ctx->argv[2];
    int dst_db = ctx->db, replace = 0;
    for (int i = 3; i < ctx->argc; i++) {
        if (arg_is(&ctx->argv[i], "replace")) {
            replace = 1;
        } else if (arg_is(&ctx->argv[i], "db") && i + 1 < ctx->argc) {
            if (parse_db_index(ctx, &ctx->argv[++i], &dst_db) < 0) return;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    if (dst_db == ctx->db && src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
        reply_error(ctx->r, "ERR source and destination objects are the same");
        return;
    }
    enum key_type type = TYPE_NONE;
    int done = copy_key(ctx, src, dst_db, dst, replace, 0, &type);
    if (done < 0) return;
    if (done) {
        char dbtext[16];
        const char *argv[6] = {"COPY", src->ptr, dst->ptr, "DB", dbtext, "REPLACE"};
        size_t lens[6] = {4, src->len, dst->len, 2, (size_t)snprintf(dbtext, sizeof(dbtext), "%d", dst_db), 7};
        cmd_record(ctx, type, replace ? 6 : 5, argv, lens);
        cmd_notify_in(ctx, dst_db, KE_NEW, "new", dst->ptr, dst->len); /* as RENAME's */
        cmd_notify_in(ctx, dst_db, KE_GENERIC, "copy_to", dst->ptr, dst->len);
    }
    reply_int(ctx->r, done);
}

/* OBJECT ENCODING names as Redis reports them for data of that kind. */
static const char *encoding_name(const meta *m) {
    switch (m->type) {
    case TYPE_STRING: {
        long long v;
        if (num_parse_ll(m->value, m->value_len, &v) == 0) return "int";
        return m->value_len <= 44 ? "embstr" : "raw";
    }
    case TYPE_BITMAP: return "raw"; /* Redis's SETBIT makes a raw string */
    case TYPE_LIST: return "quicklist";
    case TYPE_ZSET: return "skiplist";
    case TYPE_STREAM: return "stream";
    default: return "hashtable";
    }
}

void cmd_object(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    int known = arg_is(sub, "encoding") || arg_is(sub, "refcount") || arg_is(sub, "idletime") || arg_is(sub, "freq");
    if (!known || ctx->argc != 3) {
        static const char *const subs[] = {"encoding", "refcount", "idletime", "freq", NULL};
        reply_subcommand_error(ctx, subs);
        return;
    }
    meta m;
    buf raw;
    buf_init(&raw);
    cmd_read_lookups(ctx, 0); /* OBJECT's look at a key is no read of it: no keymiss, as in Redis */
    int rc = ks_lookup(ctx->t, ctx->db, ctx->argv[2].ptr, ctx->argv[2].len, &m, &raw);
    if (rc == KS_ERROR || rc == KS_CORRUPT) reply_lookup_error(ctx, 2, rc);
    else if (rc == KS_MISSING) reply_null(ctx->r);
    else if (arg_is(sub, "encoding")) reply_bulk_str(ctx->r, encoding_name(&m));
    else reply_int(ctx->r, arg_is(sub, "refcount") ? 1 : 0); /* no shared objects, no LRU/LFU clock */
    buf_free(&raw);
}

int copy_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    if (cmd_spec_keys(def, argc, argv, sink) < 0) return -1;
    long long db = -1, n;
    for (int i = 3; i + 1 < argc; i++) {
        if (arg_is(&argv[i], "db") && arg_parse_ll(&argv[i + 1], &n) == 0) db = n, i++;
    }
    /* An out-of-range DB is refused by COPY itself; the flags are the destination spec's. */
    if (db >= 0 && db <= 0x7fffffff) sink->add(sink, (key_ref){2, def->key_specs[1].flags, (int)db});
    return 0;
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The keys commands. */
static const cmd_def key_defs[] = {
    {"del", -2, W, 1, -1, 1, cmd_del, "generic", "@keyspace @write @slow",
     "Deletes keys.",
     "key:key@0...", KEYS(RANGE(KEY_RM | KEY_DELETE, 1, -1, 1))},
    {"unlink", -2, W | F, 1, -1, 1, cmd_del, "generic", "@keyspace @write @fast",
     "Deletes keys (O(1) for every type).",
     "key:key@0...", KEYS(RANGE(KEY_RM | KEY_DELETE, 1, -1, 1))},
    {"exists", -2, R | F, 1, -1, 1, cmd_exists, "generic", "@keyspace @read @fast",
     "Counts the given keys that exist.",
     "key:key@0...", KEYS(RANGE(KEY_RO, 1, -1, 1))},
    {"touch", -2, R | F, 1, -1, 1, cmd_exists, "generic", "@keyspace @read @fast",
     "Counts the given keys that exist.",
     "key:key@0...", KEYS(RANGE(KEY_RO, 1, -1, 1))},
    {"type", 2, R | F, 1, 1, 1, cmd_type, "generic", "@keyspace @read @fast",
     "Returns the type of a key.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"expire", -3, W | F, 1, 1, 1, cmd_expire, "generic", "@keyspace @write @fast",
     "Sets a key's time to live in seconds.",
     "key:key@0 seconds:int condition[NX|XX|GT|LT]", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"pexpire", -3, W | F, 1, 1, 1, cmd_pexpire, "generic", "@keyspace @write @fast",
     "Sets a key's time to live in milliseconds.",
     "key:key@0 milliseconds:int condition[NX|XX|GT|LT]", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"expireat", -3, W | F, 1, 1, 1, cmd_expireat, "generic", "@keyspace @write @fast",
     "Sets a key's expiry as a unix time in seconds.",
     "key:key@0 unix-time-seconds:time condition[NX|XX|GT|LT]", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"pexpireat", -3, W | F, 1, 1, 1, cmd_pexpireat, "generic", "@keyspace @write @fast",
     "Sets a key's expiry as a unix time in ms.",
     "key:key@0 unix-time-milliseconds:time condition[NX|XX|GT|LT]", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"ttl", 2, R | F, 1, 1, 1, cmd_ttl, "generic", "@keyspace @read @fast",
     "Returns a key's time to live in seconds.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"pttl", 2, R | F, 1, 1, 1, cmd_pttl, "generic", "@keyspace @read @fast",
     "Returns a key's time to live in milliseconds.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"expiretime", 2, R | F, 1, 1, 1, cmd_expiretime, "generic", "@keyspace @read @fast",
     "Returns a key's expiry as a unix time in seconds.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"pexpiretime", 2, R | F, 1, 1, 1, cmd_pexpiretime, "generic", "@keyspace @read @fast",
     "Returns a key's expiry as a unix time in ms.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"persist", 2, W | F, 1, 1, 1, cmd_persist, "generic", "@keyspace @write @fast",
     "Removes a key's expiry.",
     "key:key@0", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"keys", 2, R | NK, 0, 0, 0, cmd_keys, "generic", "@keyspace @read @slow @dangerous",
     "Returns the keys matching a pattern.",
     "pattern:pattern", NO_KEYS},
    {"scan", -2, R | NK, 0, 0, 0, cmd_scan, "generic", "@keyspace @read @slow",
     "Iterates over the keys.",
     "cursor:int [MATCH pattern:pattern] [COUNT count:int] [TYPE type]", NO_KEYS},
    {"randomkey", 1, R | NK, 0, 0, 0, cmd_randomkey, "generic", "@keyspace @read @slow",
     "Returns a random key.",
     "", NO_KEYS},
    {"rename", 3, W, 1, 2, 1, cmd_rename, "generic", "@keyspace @write @slow",
     "Renames a key.",
     "key:key@0 newkey:key@1",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_OW | KEY_UPDATE, 2, 0, 1))},
    {"renamenx", 3, W | F, 1, 2, 1, cmd_renamenx, "generic", "@keyspace @write @fast",
     "Renames a key only if the new name is free.",
     "key:key@0 newkey:key@1",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_OW | KEY_INSERT, 2, 0, 1))},
    {"sort", -2, W | OOM, 1, 1, 1, cmd_sort, "generic", "@write @set @sortedset @list @slow @dangerous",
     "Sorts a list, set or sorted set.",
     "key:key@0 [BY pattern:pattern@1] offset_count[LIMIT offset:int count:int] [GET pattern:pattern@1]+... order[ASC|DESC] [sorting=ALPHA] [STORE destination:key@2]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1), UNKNOWN(KEY_RO | KEY_ACCESS), UNKNOWN(KEY_OW | KEY_UPDATE)),
     .getkeys = sort_getkeys},
    {"sort_ro", -2, R, 1, 1, 1, cmd_sort, "generic", "@read @set @sortedset @list @slow @dangerous",
     "Sorts a list, set or sorted set (read-only).",
     "key:key@0 [BY pattern:pattern@1] offset_count[LIMIT offset:int count:int] [GET pattern:pattern@1]+... order[ASC|DESC] [sorting=ALPHA]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1), UNKNOWN(KEY_RO | KEY_ACCESS))},
    {"object", -2, R | CMD_SUBCOMMANDS, 2, 2, 1, cmd_object, "generic", "@keyspace @read @slow",
     "Inspects a key's internals.",
     "subcommand [argument]...", KEYS(RANGE(KEY_RO, 2, 0, 1))},
    {"copy", -3, W | OOM, 1, 2, 1, cmd_copy, "generic", "@keyspace @write @slow",
     "Copies a key.",
     "source:key@0 destination:key@1 [DB destination-db:int] [REPLACE]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1), RANGE(KEY_OW | KEY_UPDATE, 2, 0, 1)), .getkeys = copy_getkeys}
};
const cmd_family key_commands = {key_defs, sizeof(key_defs) / sizeof(key_defs[0])};
