/* String commands: argument parsing, replies and change records; the logic is in types/string.c. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/expire_args.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "config.h"
#include "types/keyspace.h"
#include "types/string.h"
#include "util/num.h"

/* Replies the error for a non-OK status; returns 1 if it replied. */
static int reply_status_error(cmd_ctx *ctx, type_status s) {
    switch (s) {
    case ST_OK:
    case ST_MISSING:
        return 0;
    case ST_WRONGTYPE:
        reply_error(ctx->r, ERR_WRONGTYPE);
        break;
    case ST_NOT_INTEGER:
        reply_error(ctx->r, ERR_NOT_INTEGER);
        break;
    case ST_OVERFLOW:
        reply_error(ctx->r, "ERR increment or decrement would overflow");
        break;
    case ST_NOT_FLOAT:
        reply_error(ctx->r, ERR_NOT_FLOAT);
        break;
    case ST_NAN_OR_INF:
        reply_error(ctx->r, "ERR increment would produce NaN or Infinity");
        break;
    case ST_TOO_BIG:
        reply_error(ctx->r, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        break;
    case ST_NO_ROOM_AT_HEAD: /* list and stream statuses: no string operation returns them */
    case ST_NO_ROOM_AT_TAIL:
    case ST_OUT_OF_RANGE:
    case ST_ID_TOO_SMALL:
    case ST_ID_EXHAUSTED:
    case ST_NO_GROUP:
    case ST_EXISTS:
    case ST_ERROR:
        reply_storage_error(ctx);
        break;
    case ST_CORRUPT: /* every string command that reads names its key first */
        reply_corrupt(ctx, ctx->argv[1].ptr, ctx->argv[1].len);
        break;
    }
    return 1;
}

static void count_lookup(type_status s) {
    atomic_fetch_add(s == ST_OK ? &stats.keyspace_hits : &stats.keyspace_misses, 1);
}

void cmd_get(cmd_ctx *ctx) {
    string_val v;
    string_val_init(&v);
    type_status s = string_get(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &v);
    count_lookup(s);
    if (!reply_status_error(ctx, s)) {
        if (s == ST_OK)
            reply_bulk(ctx->r, v.ptr, v.len);
        else
            reply_null(ctx->r);
    }
    string_val_free(&v);
}

/* Writes a string and records its exact result. */
static void write_string(cmd_ctx *ctx, const resp_arg *key, const char *val, size_t vlen, int64_t expire_ms) {
    string_put(ctx->t, ctx->db, key->ptr, key->len, val, vlen, expire_ms);
    cmd_record_set(ctx, key->ptr, key->len, val, vlen, expire_ms);
}

/* SET's events: "set", then "expire" when it gave the key an expiry (not when it kept one). */
static void notify_set(cmd_ctx *ctx, const resp_arg *key, int gave_expiry) {
    cmd_notify(ctx, KE_STRING, "set", key);
    if (gave_expiry) cmd_notify(ctx, KE_GENERIC, "expire", key);
}

enum { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8, SET_EXPIRE = 16 };

typedef struct set_args {
    int flags;
    expire_unit unit;
    const resp_arg *expire_arg;
} set_args;

/* Parses SET's options (from index 3); replies and returns -1 on a syntax error. */
static int parse_set_args(cmd_ctx *ctx, set_args *sa) {
    memset(sa, 0, sizeof(*sa));
    for (int i = 3; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        expire_unit unit;
        if (arg_is(a, "nx") && !(sa->flags & SET_XX)) {
            sa->flags |= SET_NX;
        } else if (arg_is(a, "xx") && !(sa->flags & SET_NX)) {
            sa->flags |= SET_XX;
        } else if (arg_is(a, "get")) {
            sa->flags |= SET_GET;
        } else if (arg_is(a, "keepttl") && !(sa->flags & SET_EXPIRE)) {
            sa->flags |= SET_KEEPTTL;
        } else if (expire_arg_unit(a, &unit) && !(sa->flags & (SET_EXPIRE | SET_KEEPTTL)) && i + 1 < ctx->argc) {
            sa->flags |= SET_EXPIRE;
            sa->unit = unit;
            sa->expire_arg = &ctx->argv[++i];
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* The shared core of SET, SETNX, SETEX, PSETEX and GETSET. Replies with the old value if
 * flags has SET_GET, else with OK / nil (or with 1/0 when as_int). */
static void set_generic(cmd_ctx *ctx, const resp_arg *key, const resp_arg *val, int flags, int64_t expire_ms,
                        int as_int) {
    if (!(flags & (SET_NX | SET_XX | SET_GET | SET_KEEPTTL)) && !as_int) {
        /* A plain SET replaces whatever is there: no need to read it first. */
        cmd_expire_before_overwrite(ctx, key);
        write_string(ctx, key, val->ptr, val->len, expire_ms);
        notify_set(ctx, key, expire_ms != 0);
        reply_ok(ctx->r);
        return;
    }
    string_val old;
    string_val_init(&old);
    cmd_read_lookups(ctx, flags & SET_GET); /* the old value is read for the client only with GET */
    type_status s = string_get(ctx->t, ctx->db, key->ptr, key->len, &old);
    if (s == ST_ERROR || s == ST_CORRUPT || s == ST_TOO_BIG || (s == ST_WRONGTYPE && (flags & SET_GET))) {
        reply_status_error(ctx, s);
        string_val_free(&old);
        return;
    }
    int exists = s != ST_MISSING;
    int apply = !((flags & SET_NX) && exists) && !((flags & SET_XX) && !exists);
    if (apply) {
        int gave_expiry = expire_ms != 0;
        /* Redis keeps the expiry of whatever key is there, of another type too. */
        if ((flags & SET_KEEPTTL) && (s == ST_OK || s == ST_WRONGTYPE)) expire_ms = old.expire_ms;
        write_string(ctx, key, val->ptr, val->len, expire_ms);
        notify_set(ctx, key, gave_expiry);
    }
    if (flags & SET_GET) {
        if (s == ST_OK)
            reply_bulk(ctx->r, old.ptr, old.len);
        else
            reply_null(ctx->r);
    } else if (as_int) {
        reply_int(ctx->r, apply);
    } else if (apply) {
        reply_ok(ctx->r);
    } else {
        reply_null(ctx->r);
    }
    string_val_free(&old);
}

void cmd_set(cmd_ctx *ctx) {
    set_args sa;
    int64_t expire_ms = 0;
    if (parse_set_args(ctx, &sa) < 0) return;
    if ((sa.flags & SET_EXPIRE) && expire_arg_to_ms(ctx, sa.expire_arg, sa.unit, &expire_ms) < 0) return;
    set_generic(ctx, &ctx->argv[1], &ctx->argv[2], sa.flags, expire_ms, 0);
}

void cmd_setnx(cmd_ctx *ctx) { set_generic(ctx, &ctx->argv[1], &ctx->argv[2], SET_NX, 0, 1); }

static void setex_generic(cmd_ctx *ctx, expire_unit unit) {
    int64_t expire_ms;
    if (expire_arg_to_ms(ctx, &ctx->argv[2], unit, &expire_ms) < 0) return;
    set_generic(ctx, &ctx->argv[1], &ctx->argv[3], 0, expire_ms, 0);
}

void cmd_setex(cmd_ctx *ctx) { setex_generic(ctx, EXPIRE_IN_SECONDS); }
void cmd_psetex(cmd_ctx *ctx) { setex_generic(ctx, EXPIRE_IN_MS); }
void cmd_getset(cmd_ctx *ctx) { set_generic(ctx, &ctx->argv[1], &ctx->argv[2], SET_GET, 0, 0); }

void cmd_getdel(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    string_val v;
    string_val_init(&v);
    cmd_read_lookups(ctx, 1);
    type_status s = string_get(ctx->t, ctx->db, key->ptr, key->len, &v);
    if (!reply_status_error(ctx, s)) {
        if (s == ST_OK) {
            reply_bulk(ctx->r, v.ptr, v.len);
            ks_delete(ctx->t, ctx->db, key->ptr, key->len);
            cmd_record_key(ctx, "DEL", TYPE_STRING, key->ptr, key->len);
            cmd_notify(ctx, KE_GENERIC, "del", key);
        } else {
            reply_null(ctx->r);
        }
    }
    string_val_free(&v);
}

void cmd_getex(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    int64_t expire_ms = 0;
    int change = 0, persist = 0;
    for (int i = 2; i < ctx->argc; i++) {
        expire_unit unit;
        if (arg_is(&ctx->argv[i], "persist") && !change) {
            change = persist = 1;
        } else if (expire_arg_unit(&ctx->argv[i], &unit) && !change && i + 1 < ctx->argc) {
            change = 1;
            if (expire_arg_to_ms(ctx, &ctx->argv[++i], unit, &expire_ms) < 0) return;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    string_val v;
    string_val_init(&v);
    cmd_read_lookups(ctx, 1);
    type_status s = string_get(ctx->t, ctx->db, key->ptr, key->len, &v);
    if (!reply_status_error(ctx, s)) {
        if (s == ST_MISSING) {
            reply_null(ctx->r);
        } else {
            reply_bulk(ctx->r, v.ptr, v.len);
            if (change && !(persist && v.expire_ms == 0)) {
                write_string(ctx, key, v.ptr, v.len, expire_ms);
                /* A time already past deletes the key (the write is born expired) */
                int gone = expire_ms != 0 && expire_ms <= ctx->t->now_ms;
                cmd_notify(ctx, KE_GENERIC, persist ? "persist" : gone ? "del" : "expire", key);
            }
        }
    }
    string_val_free(&v);
}

void cmd_mget(cmd_ctx *ctx) {
    reply_array(ctx->r, ctx->argc - 1);
    /* Once the reply is cut at the client's bound, no more values are read. */
    for (int i = 1; i < ctx->argc && !reply_was_cut(ctx->r); i++) {
        string_val v;
        string_val_init(&v);
        type_status s = string_get(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, &v);
        count_lookup(s);
        if (s == ST_OK)
            reply_bulk(ctx->r, v.ptr, v.len);
        else
            reply_null(ctx->r);
        string_val_free(&v);
    }
}

/* MSET and MSETNX: all keys written in the one batch, recorded as one MSET. */
static void mset_generic(cmd_ctx *ctx, int nx) {
    if (ctx->argc % 2 == 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    if (nx) {
        for (int i = 1; i < ctx->argc; i += 2) {
            meta m;
            buf raw;
            buf_init(&raw);
            int rc = ks_lookup(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, &m, &raw);
            buf_free(&raw);
            if (rc == KS_ERROR) {
                reply_storage_error(ctx);
                return;
            }
            if (rc == KS_FOUND) {
                reply_int(ctx->r, 0);
                return;
            }
        }
    }
    const char **argv = malloc((size_t)ctx->argc * sizeof(char *));
    size_t *lens = malloc((size_t)ctx->argc * sizeof(size_t));
    if (!argv || !lens) abort();
    argv[0] = "MSET";
    lens[0] = 4;
    for (int i = 1; i < ctx->argc; i += 2) {
        cmd_expire_before_overwrite(ctx, &ctx->argv[i]);
        string_put(ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, 0);
        argv[i] = ctx->argv[i].ptr, lens[i] = ctx->argv[i].len;
        argv[i + 1] = ctx->argv[i + 1].ptr, lens[i + 1] = ctx->argv[i + 1].len;
        cmd_notify(ctx, KE_STRING, "set", &ctx->argv[i]); /* each key's events together, as Redis */
    }
    cmd_record(ctx, TYPE_STRING, ctx->argc, argv, lens);
    free(argv);
    free(lens);
    if (nx)
        reply_int(ctx->r, 1);
    else
        reply_ok(ctx->r);
}

void cmd_mset(cmd_ctx *ctx) { mset_generic(ctx, 0); }
void cmd_msetnx(cmd_ctx *ctx) { mset_generic(ctx, 1); }

static void incr_generic(cmd_ctx *ctx, long long by) {
    const resp_arg *key = &ctx->argv[1];
    long long result;
    int64_t expire_ms;
    type_status s = string_incrby(ctx->t, ctx->db, key->ptr, key->len, by, &result, &expire_ms);
    if (reply_status_error(ctx, s)) return;
    char text[32];
    cmd_record_set(ctx, key->ptr, key->len, text, num_format_ll(text, result), expire_ms);
    cmd_notify(ctx, KE_STRING, "incrby", key);
    reply_int(ctx->r, result);
}

void cmd_incr(cmd_ctx *ctx) { incr_generic(ctx, 1); }
void cmd_decr(cmd_ctx *ctx) { incr_generic(ctx, -1); }

void cmd_incrby(cmd_ctx *ctx) {
    long long by;
    if (arg_ll(ctx, &ctx->argv[2], &by) == 0) incr_generic(ctx, by);
}

void cmd_decrby(cmd_ctx *ctx) {
    long long by;
    if (arg_ll(ctx, &ctx->argv[2], &by) < 0) return;
    if (by == LLONG_MIN) {
        reply_error(ctx->r, "ERR decrement would overflow");
        return;
    }
    incr_generic(ctx, -by);
}

void cmd_incrbyfloat(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    long double by;
    if (num_parse_ld(ctx->argv[2].ptr, ctx->argv[2].len, &by) < 0) {
        reply_error(ctx->r, ERR_NOT_FLOAT);
        return;
    }
    buf out;
    buf_init(&out);
    int64_t expire_ms;
    type_status s = string_incrbyfloat(ctx->t, ctx->db, key->ptr, key->len, by, &out, &expire_ms);
    if (!reply_status_error(ctx, s)) {
        cmd_record_set(ctx, key->ptr, key->len, out.data, out.len, expire_ms);
        cmd_notify(ctx, KE_STRING, "incrbyfloat", key);
        reply_bulk(ctx->r, out.data, out.len);
    }
    buf_free(&out);
}

void cmd_strlen(cmd_ctx *ctx) {
    long long len;
    type_status s = string_strlen(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &len);
    if (!reply_status_error(ctx, s)) reply_int(ctx->r, len);
}

/* Records an in-place edit (SETBIT, SETRANGE, APPEND) as itself — it is deterministic, and the
 * new value can be far bigger than the command — then the expiry the key keeps, if any:
 * replayed late, where the key has expired already, the edit makes a new key that the
 * PEXPIREAT removes again, as the key here will be. */
static void record_edit(cmd_ctx *ctx, int argc, const char *const *argv, const size_t *lens, int64_t expire_ms) {
    cmd_record(ctx, TYPE_STRING, argc, argv, lens);
    if (expire_ms == 0) return;
    char when[24];
    const char *pexpire[3] = {"PEXPIREAT", argv[1], when};
    size_t plens[3] = {9, lens[1], num_format_ll(when, expire_ms)};
    cmd_record(ctx, TYPE_STRING, 3, pexpire, plens);
}

/* SETRANGE and APPEND. */
static void write_range(cmd_ctx *ctx, long long offset, const resp_arg *bytes, int append) {
    const resp_arg *key = &ctx->argv[1];
    long long len;
    int64_t expire_ms;
    type_status s;
    if (!append && bytes->len == 0) {
        /* Writing nothing creates nothing: reply the current length. */
        s = string_strlen(ctx->t, ctx->db, key->ptr, key->len, &len);
        if (!reply_status_error(ctx, s)) reply_int(ctx->r, len);
        return;
    }
    s = string_setrange(ctx->t, ctx->db, key->ptr, key->len, offset, bytes->ptr, bytes->len,
                        CONFIG_READ(proto_max_bulk_len), append, &len, &expire_ms);
    if (reply_status_error(ctx, s)) return;
    if (append) {
        const char *argv[3] = {"APPEND", key->ptr, bytes->ptr};
        size_t lens[3] = {6, key->len, bytes->len};
        record_edit(ctx, 3, argv, lens, expire_ms);
    } else {
        char at[24];
        const char *argv[4] = {"SETRANGE", key->ptr, at, bytes->ptr};
        size_t lens[4] = {8, key->len, num_format_ll(at, offset), bytes->len};
        record_edit(ctx, 4, argv, lens, expire_ms);
    }
    cmd_notify(ctx, KE_STRING, append ? "append" : "setrange", key);
    reply_int(ctx->r, len);
}

void cmd_append(cmd_ctx *ctx) { write_range(ctx, 0, &ctx->argv[2], 1); }

void cmd_setrange(cmd_ctx *ctx) {
    long long offset;
    if (arg_ll(ctx, &ctx->argv[2], &offset) < 0) return;
    if (offset < 0) {
        reply_error(ctx->r, "ERR offset is out of range");
        return;
    }
    write_range(ctx, offset, &ctx->argv[3], 0);
}

void cmd_getrange(cmd_ctx *ctx) {
    long long start, end;
    if (arg_ll(ctx, &ctx->argv[2], &start) < 0 || arg_ll(ctx, &ctx->argv[3], &end) < 0) return;
    string_val v;
    string_val_init(&v);
    type_status s = string_get_range(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, start, end, &v);
    if (!reply_status_error(ctx, s)) reply_bulk(ctx->r, v.ptr, v.len);
    string_val_free(&v);
}

/* Parses a bit offset as SETBIT/GETBIT do; replies and returns -1 if invalid. */
static int parse_bit_offset(cmd_ctx *ctx, const resp_arg *a, uint64_t *bit) {
    long long v;
    if (arg_parse_ll(a, &v) < 0 || v < 0 || (v >> 3) >= CONFIG_READ(proto_max_bulk_len)) {
        reply_error(ctx->r, "ERR bit offset is not an integer or out of range");
        return -1;
    }
    *bit = (uint64_t)v;
    return 0;
}

void cmd_setbit(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    uint64_t bit;
    if (parse_bit_offset(ctx, &ctx->argv[2], &bit) < 0) return;
    if (!arg_is(&ctx->argv[3], "0") && !arg_is(&ctx->argv[3], "1")) {
        reply_error(ctx->r, "ERR bit is not an integer or out of range");
        return;
    }
    int old;
    int64_t expire_ms;
    type_status s =
        string_setbit(ctx->t, ctx->db, key->ptr, key->len, bit, ctx->argv[3].ptr[0] == '1', &old, &expire_ms);
    if (reply_status_error(ctx, s)) return;
    char at[24];
    const char *argv[4] = {"SETBIT", key->ptr, at, ctx->argv[3].ptr};
    size_t lens[4] = {6, key->len, num_format_ll(at, (long long)bit), 1};
    record_edit(ctx, 4, argv, lens, expire_ms);
    cmd_notify(ctx, KE_STRING, "setbit", key);
    reply_int(ctx->r, old);
}

void cmd_getbit(cmd_ctx *ctx) {
    uint64_t bit;
    if (parse_bit_offset(ctx, &ctx->argv[2], &bit) < 0) return;
    int value;
    type_status s = string_read_bit(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, bit, &value);
    if (!reply_status_error(ctx, s)) reply_int(ctx->r, value);
}

/* Parses [start end [BYTE|BIT]] from index first; *bits is set for BIT. Returns 1 if a range was
 * given, 0 if not, -1 after replying an error. */
static int parse_bit_range(cmd_ctx *ctx, int first, int allow_start_only, long long *start, long long *end,
                           int *has_end, int *bits) {
    int n = ctx->argc - first;
    *bits = 0;
    *has_end = 0;
    if (n == 0) return 0;
    if (n > 3 || (n == 1 && !allow_start_only)) {
        reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    if (arg_ll(ctx, &ctx->argv[first], start) < 0) return -1;
    if (n >= 2) {
        if (arg_ll(ctx, &ctx->argv[first + 1], end) < 0) return -1;
        *has_end = 1;
    }
    if (n == 3) {
        if (arg_is(&ctx->argv[first + 2], "bit")) {
            *bits = 1;
        } else if (!arg_is(&ctx->argv[first + 2], "byte")) {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    return 1;
}

void cmd_bitcount(cmd_ctx *ctx) {
    long long start = 0, end = -1;
    int has_end, bits;
    if (parse_bit_range(ctx, 2, 0, &start, &end, &has_end, &bits) < 0) return;
    if (!bits) {
        long long count;
        type_status s = string_count_bits(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, start, end, &count);
        if (!reply_status_error(ctx, s)) reply_int(ctx->r, count);
        return;
    }
    /* BIT: positions in bits, over the whole value. */
    string_val v;
    string_val_init(&v);
    type_status s = string_get(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &v);
    if (!reply_status_error(ctx, s)) {
        long long count = 0;
        if (s == ST_OK && !(start < 0 && end < 0 && start > end) &&
            string_clamp_range(&start, &end, (long long)v.len * 8)) {
            for (long long b = start; b <= end; b++) count += string_getbit(v.ptr, v.len, (uint64_t)b);
        }
        reply_int(ctx->r, count);
    }
    string_val_free(&v);
}

void cmd_bitpos(cmd_ctx *ctx) {
    long long bitarg, start = 0, end = -1;
    if (arg_ll(ctx, &ctx->argv[2], &bitarg) < 0) return;
    if (bitarg != 0 && bitarg != 1) {
        reply_error(ctx->r, "ERR The bit argument must be 1 or 0.");
        return;
    }
    int has_end, bits;
    if (parse_bit_range(ctx, 3, 1, &start, &end, &has_end, &bits) < 0) return;
    long long pos;
    type_status s = string_bitpos(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, (int)bitarg, start, end,
                                    bits, has_end, &pos);
    if (!reply_status_error(ctx, s)) reply_int(ctx->r, pos);
}

int set_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    (void)def;
    int flags = KEY_OW | KEY_UPDATE;
    for (int i = 3; i < argc; i++)
        if (arg_is(&argv[i], "get")) flags = KEY_RW | KEY_ACCESS | KEY_UPDATE;
    sink->add(sink, (key_ref){1, flags, -1});
    return 0;
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The strings commands. */
static const cmd_def string_defs[] = {
    {"get", 2, R | F, 1, 1, 1, cmd_get, "string", "@read @string @fast",
     "Returns the string value of a key.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"set", -3, W | OOM, 1, 1, 1, cmd_set, "string", "@write @string @slow",
     "Sets the string value of a key.",
     "key:key@0 value condition[NX|XX] [GET] expiration[EX seconds:int|PX milliseconds:int|EXAT unix-time-seconds:time|PXAT unix-time-milliseconds:time|KEEPTTL]",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE | KEY_VARIABLE_FLAGS, 1, 0, 1)), .getkeys = set_getkeys},
    {"setnx", 3, W | F | OOM, 1, 1, 1, cmd_setnx, "string", "@write @string @fast",
     "Sets a key only if it does not exist.",
     "key:key@0 value", KEYS(RANGE(KEY_OW | KEY_INSERT, 1, 0, 1))},
    {"setex", 4, W | OOM, 1, 1, 1, cmd_setex, "string", "@write @string @slow",
     "Sets a key with an expiry in seconds.",
     "key:key@0 seconds:int value", KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1))},
    {"psetex", 4, W | OOM, 1, 1, 1, cmd_psetex, "string", "@write @string @slow",
     "Sets a key with an expiry in milliseconds.",
     "key:key@0 milliseconds:int value", KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1))},
    {"getset", 3, W | F | OOM, 1, 1, 1, cmd_getset, "string", "@write @string @fast",
     "Sets a key and returns its old value.",
     "key:key@0 value", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"getdel", 2, W | F, 1, 1, 1, cmd_getdel, "string", "@write @string @fast",
     "Returns a key's value and deletes it.",
     "key:key@0", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"getex", -2, W | F, 1, 1, 1, cmd_getex, "string", "@write @string @fast",
     "Returns a key's value and changes its expiry.",
     "key:key@0 expiration[EX seconds:int|PX milliseconds:int|EXAT unix-time-seconds:time|PXAT unix-time-milliseconds:time|PERSIST]",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"mget", -2, R | F, 1, -1, 1, cmd_mget, "string", "@read @string @fast",
     "Returns the values of several keys.",
     "key:key@0...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, -1, 1))},
    {"mset", -3, W | OOM, 1, -1, 2, cmd_mset, "string", "@write @string @slow",
     "Sets several keys.",
     "key_value(key:key@0 value)...", KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, -1, 2))},
    {"msetnx", -3, W | OOM, 1, -1, 2, cmd_msetnx, "string", "@write @string @slow",
     "Sets several keys only if none exists.",
     "key_value(key:key@0 value)...", KEYS(RANGE(KEY_OW | KEY_INSERT, 1, -1, 2))},
    {"incr", 2, W | F | OOM, 1, 1, 1, cmd_incr, "string", "@write @string @fast",
     "Increments an integer value by one.",
     "key:key@0", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"decr", 2, W | F | OOM, 1, 1, 1, cmd_decr, "string", "@write @string @fast",
     "Decrements an integer value by one.",
     "key:key@0", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"incrby", 3, W | F | OOM, 1, 1, 1, cmd_incrby, "string", "@write @string @fast",
     "Increments an integer value.",
     "key:key@0 increment:int", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"decrby", 3, W | F | OOM, 1, 1, 1, cmd_decrby, "string", "@write @string @fast",
     "Decrements an integer value.",
     "key:key@0 decrement:int", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"incrbyfloat", 3, W | F | OOM, 1, 1, 1, cmd_incrbyfloat, "string", "@write @string @fast",
     "Increments a floating point value.",
     "key:key@0 increment:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"append", 3, W | F | OOM, 1, 1, 1, cmd_append, "string", "@write @string @fast",
     "Appends to a string.",
     "key:key@0 value", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"strlen", 2, R | F, 1, 1, 1, cmd_strlen, "string", "@read @string @fast",
     "Returns the length of a string.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"getrange", 4, R, 1, 1, 1, cmd_getrange, "string", "@read @string @slow",
     "Returns a substring.",
     "key:key@0 start:int end:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"substr", 4, R, 1, 1, 1, cmd_getrange, "string", "@read @string @slow",
     "Returns a substring (old name of GETRANGE).",
     "key:key@0 start:int end:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"setrange", 4, W | OOM, 1, 1, 1, cmd_setrange, "string", "@write @string @slow",
     "Overwrites part of a string.",
     "key:key@0 offset:int value", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"setbit", 4, W | OOM, 1, 1, 1, cmd_setbit, "bitmap", "@write @bitmap @slow",
     "Sets or clears a bit.",
     "key:key@0 offset:int value:int", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"getbit", 3, R | F, 1, 1, 1, cmd_getbit, "bitmap", "@read @bitmap @fast",
     "Returns a bit.",
     "key:key@0 offset:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"bitcount", -2, R, 1, 1, 1, cmd_bitcount, "bitmap", "@read @bitmap @slow",
     "Counts set bits.",
     "key:key@0 index[start:int end:int index_unit[BYTE|BIT]]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"bitpos", -3, R, 1, 1, 1, cmd_bitpos, "bitmap", "@read @bitmap @slow",
     "Finds the first set or clear bit.",
     "key:key@0 bit:int index[start:int end_index[end:int index_unit[BYTE|BIT]]]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))}
};
const cmd_family string_commands = {string_defs, sizeof(string_defs) / sizeof(string_defs[0])};
