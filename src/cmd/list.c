/* List commands: argument parsing, replies and change records. The list itself (items at
 * u64 positions between a head and a tail) is types/list.c's business. */
#include <limits.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "types/list.h"
#include "util/num.h"

/* Replies the error of a failed list operation on key. */
static void reply_list_error(cmd_ctx *ctx, const resp_arg *key, type_status s) {
    if (s == ST_NO_ROOM_AT_HEAD) reply_error(ctx->r, "ERR no room left at the head of the list");
    else if (s == ST_NO_ROOM_AT_TAIL) reply_error(ctx->r, "ERR no room left at the tail of the list");
    else if (s == ST_OUT_OF_RANGE) reply_error(ctx->r, "ERR index out of range");
    else reply_type_error(ctx, key, s);
}

/* Records a push of n items as LPUSH/RPUSH key item... */
static void record_push(cmd_ctx *ctx, const char *name, const resp_arg *key, const slice *items, long long n) {
    effect e;
    effect_init(&e, TYPE_LIST, name, key, (int)n);
    for (long long i = 0; i < n; i++) effect_add(&e, items[i].ptr, items[i].len);
    effect_finish(ctx, &e, 3);
}

/* LPUSH, RPUSH, LPUSHX, RPUSHX. */
static void push_generic(cmd_ctx *ctx, int left, int only_existing) {
    const resp_arg *key = &ctx->argv[1], *items = &ctx->argv[2];
    long long n = ctx->argc - 2;
    uint64_t len;
    type_status s = list_push(ctx->t, ctx->db, key->ptr, key->len, left, only_existing, items, n, &len);
    if (s == ST_MISSING) {
        reply_int(ctx->r, 0); /* LPUSHX / RPUSHX of a missing key */
    } else if (s != ST_OK) {
        reply_list_error(ctx, key, s);
    } else {
        record_push(ctx, left ? "LPUSH" : "RPUSH", key, items, n);
        cmd_notify(ctx, KE_LIST, left ? "lpush" : "rpush", key);
        reply_int(ctx->r, (long long)len);
    }
}

void cmd_lpush(cmd_ctx *ctx) { push_generic(ctx, 1, 0); }
void cmd_rpush(cmd_ctx *ctx) { push_generic(ctx, 0, 0); }
void cmd_lpushx(cmd_ctx *ctx) { push_generic(ctx, 1, 1); }
void cmd_rpushx(cmd_ctx *ctx) { push_generic(ctx, 0, 1); }

/* How a pop replies what it pops: after the key when key is set ([key, item] for BLPOP,
 * [key, [items]] for LMPOP), as an array when as_array (a count was given), else the item. */
typedef struct pop_reply {
    cmd_ctx *ctx;
    const resp_arg *key;
    int as_array;
} pop_reply;

static void reply_pop_header(void *arg, uint64_t n) {
    const pop_reply *p = arg;
    if (p->key) {
        reply_array(p->ctx->r, 2);
        reply_bulk(p->ctx->r, p->key->ptr, p->key->len);
    }
    if (p->as_array) reply_array(p->ctx->r, (long long)n);
}

/* Every item popped is replied: the reply's header promised them. */
static int reply_popped(void *arg, const char *item, size_t len) {
    const pop_reply *p = arg;
    reply_bulk(p->ctx->r, item, len);
    return 0;
}

/* Pops up to count items from one end of key, replying them as p says and recording the pop
 * as LPOP/RPOP key count. A missing key replies nothing (ST_MISSING); on an error, what was
 * replied of the items is dropped and the error replied instead. */
static type_status pop_and_reply(cmd_ctx *ctx, const resp_arg *key, int left, long long count, pop_reply *p) {
    size_t mark = ctx->r->out->len;
    long long popped;
    type_status s = list_pop(ctx->t, ctx->db, key->ptr, key->len, left, count, reply_pop_header, reply_popped, p,
                             &popped);
    if (s != ST_OK && s != ST_MISSING) {
        ctx->r->out->len = mark;
        reply_list_error(ctx, key, s);
    } else if (popped > 0) {
        char num[24];
        const char *argv[3] = {left ? "LPOP" : "RPOP", key->ptr, num};
        size_t lens[3] = {4, key->len, num_format_ll(num, popped)};
        cmd_record(ctx, TYPE_LIST, 3, argv, lens);
        cmd_notify(ctx, KE_LIST, left ? "lpop" : "rpop", key);
        cmd_notify_if_emptied(ctx, key);
    }
    return s;
}

static void pop_generic(cmd_ctx *ctx, int left) {
    long long count = 1;
    int has_count = ctx->argc == 3;
    if (ctx->argc > 3) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    if (has_count && (arg_parse_ll(&ctx->argv[2], &count) < 0 || count < 0)) {
        reply_error(ctx->r, "ERR value is out of range, must be positive");
        return;
    }
    pop_reply p = {ctx, NULL, has_count};
    if (pop_and_reply(ctx, &ctx->argv[1], left, count, &p) != ST_MISSING) return;
    if (has_count) reply_null_array(ctx->r);
    else reply_null(ctx->r);
}

void cmd_lpop(cmd_ctx *ctx) { pop_generic(ctx, 1); }
void cmd_rpop(cmd_ctx *ctx) { pop_generic(ctx, 0); }

void cmd_llen(cmd_ctx *ctx) {
    uint64_t len;
    type_status s = list_length(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &len);
    if (s == ST_OK || s == ST_MISSING) reply_int(ctx->r, (long long)len);
    else reply_list_error(ctx, &ctx->argv[1], s);
}

void cmd_lindex(cmd_ctx *ctx) {
    long long index;
    if (arg_ll(ctx, &ctx->argv[2], &index) < 0) return;
    buf v;
    buf_init(&v);
    type_status s = list_index(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, index, &v);
    if (s == ST_OK) reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    else if (s == ST_MISSING) reply_null(ctx->r);
    else reply_list_error(ctx, &ctx->argv[1], s);
    buf_free(&v);
}

void cmd_lset(cmd_ctx *ctx) {
    long long index;
    if (arg_ll(ctx, &ctx->argv[2], &index) < 0) return;
    type_status s =
        list_set(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, index, ctx->argv[3].ptr, ctx->argv[3].len);
    if (s == ST_MISSING) {
        reply_error(ctx->r, "ERR no such key");
    } else if (s != ST_OK) {
        reply_list_error(ctx, &ctx->argv[1], s);
    } else {
        const char *argv[4] = {"LSET", ctx->argv[1].ptr, ctx->argv[2].ptr, ctx->argv[3].ptr};
        size_t lens[4] = {4, ctx->argv[1].len, ctx->argv[2].len, ctx->argv[3].len};
        cmd_record(ctx, TYPE_LIST, 4, argv, lens);
        cmd_notify(ctx, KE_LIST, "lset", &ctx->argv[1]);
        reply_ok(ctx->r);
    }
}

static void reply_range_header(void *arg, uint64_t n) { reply_array(((cmd_ctx *)arg)->r, (long long)n); }

/* A reply cut at the client's bound stops the walk: it is not sent anyway. */
static int reply_range_item(void *arg, const char *item, size_t len) {
    cmd_ctx *ctx = arg;
    reply_bulk(ctx->r, item, len);
    return reply_was_cut(ctx->r);
}

void cmd_lrange(cmd_ctx *ctx) {
    long long start, stop;
    if (arg_ll(ctx, &ctx->argv[2], &start) < 0 || arg_ll(ctx, &ctx->argv[3], &stop) < 0) return;
    type_status s = list_range(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, start, stop, reply_range_header,
                               reply_range_item, ctx);
    /* An error after some items (a gap, a read error) follows them: the failed command's
     * reply is an error however it ends. */
    if (s != ST_OK && s != ST_MISSING) reply_list_error(ctx, &ctx->argv[1], s);
}

void cmd_linsert(cmd_ctx *ctx) {
    int before = arg_is(&ctx->argv[2], "before");
    if (!before && !arg_is(&ctx->argv[2], "after")) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    const resp_arg *key = &ctx->argv[1], *pivot = &ctx->argv[3], *value = &ctx->argv[4];
    long long len;
    type_status s = list_insert(ctx->t, ctx->db, key->ptr, key->len, before, pivot->ptr, pivot->len, value->ptr,
                                value->len, &len);
    if (s == ST_MISSING) {
        reply_int(ctx->r, 0);
    } else if (s != ST_OK) {
        reply_list_error(ctx, key, s);
    } else {
        if (len >= 0) { /* -1: no pivot, nothing changed */
            const char *argv[5] = {"LINSERT", key->ptr, before ? "BEFORE" : "AFTER", pivot->ptr, value->ptr};
            size_t lens[5] = {7, key->len, before ? 6 : 5, pivot->len, value->len};
            cmd_record(ctx, TYPE_LIST, 5, argv, lens);
            cmd_notify(ctx, KE_LIST, "linsert", key);
        }
        reply_int(ctx->r, len);
    }
}

void cmd_lrem(cmd_ctx *ctx) {
    long long count, removed;
    if (arg_ll(ctx, &ctx->argv[2], &count) < 0) return;
    const resp_arg *key = &ctx->argv[1], *value = &ctx->argv[3];
    type_status s = list_remove(ctx->t, ctx->db, key->ptr, key->len, count, value->ptr, value->len, &removed);
    if (s != ST_OK && s != ST_MISSING) {
        reply_list_error(ctx, key, s);
        return;
    }
    if (removed > 0) {
        const char *argv[4] = {"LREM", key->ptr, ctx->argv[2].ptr, value->ptr};
        size_t lens[4] = {4, key->len, ctx->argv[2].len, value->len};
        cmd_record(ctx, TYPE_LIST, 4, argv, lens);
        cmd_notify(ctx, KE_LIST, "lrem", key);
        cmd_notify_if_emptied(ctx, key);
    }
    reply_int(ctx->r, removed);
}

void cmd_ltrim(cmd_ctx *ctx) {
    long long start, stop;
    if (arg_ll(ctx, &ctx->argv[2], &start) < 0 || arg_ll(ctx, &ctx->argv[3], &stop) < 0) return;
    type_status s = list_trim(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, start, stop);
    if (s != ST_OK && s != ST_MISSING) {
        reply_list_error(ctx, &ctx->argv[1], s);
        return;
    }
    if (s == ST_OK) {
        const char *argv[4] = {"LTRIM", ctx->argv[1].ptr, ctx->argv[2].ptr, ctx->argv[3].ptr};
        size_t lens[4] = {5, ctx->argv[1].len, ctx->argv[2].len, ctx->argv[3].len};
        cmd_record(ctx, TYPE_LIST, 4, argv, lens);
        cmd_notify(ctx, KE_LIST, "ltrim", &ctx->argv[1]);
        cmd_notify_if_emptied(ctx, &ctx->argv[1]);
    }
    reply_ok(ctx->r);
}

/* LPOS's matches, replied into a part of the reply: the array header (with COUNT) comes
 * first yet is known only at the end. */
typedef struct pos_reply {
    reply part;
    long long matches;
} pos_reply;

/* A reply cut at the client's bound ends the search: it is not sent anyway. */
static int reply_match(void *arg, long long index) {
    pos_reply *p = arg;
    reply_int(&p->part, index);
    p->matches++;
    return reply_was_cut(&p->part);
}

/* Parses LPOS's options: RANK, COUNT (-1 when not given) and MAXLEN. Replies and returns -1
 * on an error. */
static int parse_lpos(cmd_ctx *ctx, long long *rank, long long *count, long long *maxlen) {
    *rank = 1, *count = -1, *maxlen = 0;
    for (int i = 3; i < ctx->argc; i += 2) {
        const resp_arg *a = &ctx->argv[i];
        if (i + 1 >= ctx->argc) goto syntax;
        long long v;
        if (arg_ll(ctx, &ctx->argv[i + 1], &v) < 0) return -1;
        if (arg_is(a, "rank")) {
            if (v == 0 || v == LLONG_MIN) {
                reply_error(ctx->r, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second "
                                    "... or use negative to start from the end of the list");
                return -1;
            }
            *rank = v;
        } else if (arg_is(a, "count")) {
            if (v < 0) {
                reply_error(ctx->r, "ERR COUNT can't be negative");
                return -1;
            }
            *count = v;
        } else if (arg_is(a, "maxlen")) {
            if (v < 0) {
                reply_error(ctx->r, "ERR MAXLEN can't be negative");
                return -1;
            }
            *maxlen = v;
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
    return -1;
}

void cmd_lpos(cmd_ctx *ctx) {
    long long rank, count, maxlen;
    if (parse_lpos(ctx, &rank, &count, &maxlen) < 0) return;
    const resp_arg *key = &ctx->argv[1], *want = &ctx->argv[2];
    buf found;
    buf_init(&found);
    pos_reply p = {reply_part(ctx->r, &found), 0};
    /* Without COUNT, LPOS looks for one match; COUNT 0 asks for all. */
    type_status s = list_pos(ctx->t, ctx->db, key->ptr, key->len, want->ptr, want->len, rank, count < 0 ? 1 : count,
                             maxlen, reply_match, &p);
    if (s != ST_OK && s != ST_MISSING) {
        reply_list_error(ctx, key, s);
    } else if (count >= 0) {
        reply_array(ctx->r, p.matches);
        reply_append_part(ctx->r, &found);
    } else if (p.matches) {
        reply_append_part(ctx->r, &found);
    } else {
        reply_null(ctx->r);
    }
    buf_free(&found);
}

static int parse_side(const resp_arg *a, int *left) {
    if (arg_is(a, "left")) *left = 1;
    else if (arg_is(a, "right")) *left = 0;
    else return -1;
    return 0;
}

/* Moves one item between lists (the same list rotates), replying the item moved. Returns 1
 * moved, 0 source missing (nothing replied), -1 after replying an error. */
static int move_and_reply(cmd_ctx *ctx, const resp_arg *src, const resp_arg *dst, int from_left, int to_left) {
    buf v;
    buf_init(&v);
    int at_dst;
    type_status s = list_move(ctx->t, ctx->db, src->ptr, src->len, dst->ptr, dst->len, from_left, to_left, &v, &at_dst);
    if (s == ST_OK) {
        const char *argv[5] = {"LMOVE", src->ptr, dst->ptr, from_left ? "LEFT" : "RIGHT", to_left ? "LEFT" : "RIGHT"};
        size_t lens[5] = {5, src->len, dst->len, from_left ? 4 : 5, to_left ? 4 : 5};
        cmd_record(ctx, TYPE_LIST, 5, argv, lens);
        /* Redis's order: the push to dst, then the pop from src (and its "del" if emptied) */
        cmd_notify(ctx, KE_LIST, to_left ? "lpush" : "rpush", dst);
        cmd_notify(ctx, KE_LIST, from_left ? "lpop" : "rpop", src);
        cmd_notify_if_emptied(ctx, src);
        reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    } else if (s != ST_MISSING) {
        reply_list_error(ctx, at_dst ? dst : src, s);
    }
    buf_free(&v);
    return s == ST_OK ? 1 : s == ST_MISSING ? 0 : -1;
}

void cmd_lmove(cmd_ctx *ctx) {
    int from_left, to_left;
    if (parse_side(&ctx->argv[3], &from_left) < 0 || parse_side(&ctx->argv[4], &to_left) < 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (move_and_reply(ctx, &ctx->argv[1], &ctx->argv[2], from_left, to_left) == 0) reply_null(ctx->r);
}

void cmd_rpoplpush(cmd_ctx *ctx) {
    if (move_and_reply(ctx, &ctx->argv[1], &ctx->argv[2], 0, 1) == 0) reply_null(ctx->r);
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], from argument `first` (numkeys).
 * Returns 1 popped (replied), 0 all missing (nothing replied), -1 after an error reply. */
static int mpop_and_reply(cmd_ctx *ctx, int first) {
    int nkeys, right;
    long long count;
    if (parse_mpop(ctx, first, "left", "right", &nkeys, &right, &count) < 0) return -1;
    for (int i = first + 1; i <= first + nkeys; i++) {
        pop_reply p = {ctx, &ctx->argv[i], 1};
        type_status s = pop_and_reply(ctx, &ctx->argv[i], !right, count, &p);
        if (s != ST_MISSING) return s == ST_OK ? 1 : -1;
    }
    return 0;
}

void cmd_lmpop(cmd_ctx *ctx) {
    if (mpop_and_reply(ctx, 1) == 0) reply_null_array(ctx->r);
}

/* BLPOP / BRPOP: the first non-empty list, popped at one end. */
static void bpop_generic(cmd_ctx *ctx, int left) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, &ctx->argv[ctx->argc - 1], &timeout) < 0) return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        pop_reply p = {ctx, &ctx->argv[i], 0};
        if (pop_and_reply(ctx, &ctx->argv[i], left, 1, &p) != ST_MISSING) return;
    }
    blocking_wait_or_nil(ctx, timeout, 0);
}

void cmd_blpop(cmd_ctx *ctx) { bpop_generic(ctx, 1); }
void cmd_brpop(cmd_ctx *ctx) { bpop_generic(ctx, 0); }

static void bmove_generic(cmd_ctx *ctx, int from_left, int to_left, const resp_arg *timeout_arg) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, timeout_arg, &timeout) < 0) return;
    if (move_and_reply(ctx, &ctx->argv[1], &ctx->argv[2], from_left, to_left) == 0)
        blocking_wait_or_nil(ctx, timeout, 1);
}

void cmd_blmove(cmd_ctx *ctx) {
    int from_left, to_left;
    if (parse_side(&ctx->argv[3], &from_left) < 0 || parse_side(&ctx->argv[4], &to_left) < 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    bmove_generic(ctx, from_left, to_left, &ctx->argv[5]);
}

void cmd_brpoplpush(cmd_ctx *ctx) { bmove_generic(ctx, 0, 1, &ctx->argv[3]); }

void cmd_blmpop(cmd_ctx *ctx) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, &ctx->argv[1], &timeout) < 0) return;
    if (mpop_and_reply(ctx, 2) == 0) blocking_wait_or_nil(ctx, timeout, 0);
}

int list_replace(cmd_ctx *ctx, const resp_arg *key, const slice *items, long long n) {
    int replaced = replace_key(ctx, key);
    if (replaced < 0) {
        reply_storage_error(ctx);
        return -1;
    }
    uint64_t len; /* deleted above: the items make a new list */
    type_status s = list_push(ctx->t, ctx->db, key->ptr, key->len, 0, 0, items, n, &len);
    if (s != ST_OK) {
        reply_list_error(ctx, key, s);
        return -1;
    }
    record_push(ctx, "RPUSH", key, items, n);
    return replaced;
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The lists commands. */
static const cmd_def list_defs[] = {
    {"lpush", -3, W | F | OOM, 1, 1, 1, cmd_lpush, "list", "@write @list @fast",
     "Prepends items to a list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"rpush", -3, W | F | OOM, 1, 1, 1, cmd_rpush, "list", "@write @list @fast",
     "Appends items to a list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"lpushx", -3, W | F | OOM, 1, 1, 1, cmd_lpushx, "list", "@write @list @fast",
     "Prepends items to an existing list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"rpushx", -3, W | F | OOM, 1, 1, 1, cmd_rpushx, "list", "@write @list @fast",
     "Appends items to an existing list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"lpop", -2, W | F, 1, 1, 1, cmd_lpop, "list", "@write @list @fast",
     "Removes and returns the first items.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"rpop", -2, W | F, 1, 1, 1, cmd_rpop, "list", "@write @list @fast",
     "Removes and returns the last items.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"llen", 2, R | F, 1, 1, 1, cmd_llen, "list", "@read @list @fast",
     "Returns the length of a list.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"lindex", 3, R, 1, 1, 1, cmd_lindex, "list", "@read @list @slow",
     "Returns the item at an index.",
     "key:key@0 index:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"lset", 4, W | OOM, 1, 1, 1, cmd_lset, "list", "@write @list @slow",
     "Sets the item at an index.",
     "key:key@0 index:int element", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"lrange", 4, R, 1, 1, 1, cmd_lrange, "list", "@read @list @slow",
     "Returns a range of items.",
     "key:key@0 start:int stop:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"linsert", 5, W | OOM, 1, 1, 1, cmd_linsert, "list", "@write @list @slow",
     "Inserts an item before or after another.",
     "key:key@0 where(BEFORE|AFTER) pivot element", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"lrem", 4, W, 1, 1, 1, cmd_lrem, "list", "@write @list @slow",
     "Removes items equal to a value.",
     "key:key@0 count:int element", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"ltrim", 4, W, 1, 1, 1, cmd_ltrim, "list", "@write @list @slow",
     "Keeps only a range of items.",
     "key:key@0 start:int stop:int", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"lpos", -3, R, 1, 1, 1, cmd_lpos, "list", "@read @list @slow",
     "Returns the index of matching items.",
     "key:key@0 element [RANK rank:int] [COUNT num-matches:int] [MAXLEN len:int]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"lmove", 5, W | OOM, 1, 2, 1, cmd_lmove, "list", "@write @list @slow",
     "Moves an item from a list to another.",
     "source:key@0 destination:key@1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT)",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"rpoplpush", 3, W | OOM, 1, 2, 1, cmd_rpoplpush, "list", "@write @list @slow",
     "Moves the last item of a list to the front of another.",
     "source:key@0 destination:key@1",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"lmpop", -4, W, 0, 0, 0, cmd_lmpop, "list", "@write @list @slow",
     "Pops items from the first non-empty list.",
     "numkeys:int key:key@0... where(LEFT|RIGHT) [COUNT count:int]",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1, 1))},
    {"blpop", -3, W | B | NOSCRIPT, 1, -2, 1, cmd_blpop, "list", "@write @list @slow @blocking",
     "Pops the first item of the first non-empty list, waiting for one.",
     "key:key@0... timeout:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, -2, 1))},
    {"brpop", -3, W | B | NOSCRIPT, 1, -2, 1, cmd_brpop, "list", "@write @list @slow @blocking",
     "Pops the last item of the first non-empty list, waiting for one.",
     "key:key@0... timeout:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, -2, 1))},
    {"blmove", 6, W | B | OOM | NOSCRIPT, 1, 2, 1, cmd_blmove, "list", "@write @list @slow @blocking",
     "Moves an item between lists, waiting for one.",
     "source:key@0 destination:key@1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT) timeout:double",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"brpoplpush", 4, W | B | OOM | NOSCRIPT, 1, 2, 1, cmd_brpoplpush, "list", "@write @list @slow @blocking",
     "RPOPLPUSH, waiting for an item.",
     "source:key@0 destination:key@1 timeout:double",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"blmpop", -5, W | B, 0, 0, 0, cmd_blmpop, "list", "@write @list @slow @blocking",
     "LMPOP, waiting for an item.",
     "timeout:double numkeys:int key:key@0... where(LEFT|RIGHT) [COUNT count:int]",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_DELETE, 2, 0, 1, 1))}
};
const cmd_family list_commands = {list_defs, sizeof(list_defs) / sizeof(list_defs[0])};
