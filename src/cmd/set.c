/* Set commands: argument parsing, replies and change records; the logic is in types/set.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "cmd/members.h"
#include "types/set.h"

/* Replies the error for a failed status about the set at argv[1]; returns 1 if it replied. */
static int reply_set_status(cmd_ctx *ctx, type_status st) { return reply_key_status(ctx, &ctx->argv[1], st); }

/* A member_visit_fn adding a member to the change record. */
static int record_member(void *arg, const char *m, size_t ml, const char *value, size_t vl) {
    (void)value, (void)vl;
    effect_add(arg, m, ml);
    return 0;
}

/* SADD (add=1) and SREM (add=0): events "sadd", or "srem" and "del" if it emptied the set. */
static void change_members(cmd_ctx *ctx, int add) {
    const resp_arg *key = &ctx->argv[1];
    effect e;
    effect_init(&e, TYPE_SET, add ? "SADD" : "SREM", key, ctx->argc - 2);
    long long changed;
    type_status st = (add ? set_add : set_remove)(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], ctx->argc - 2,
                                                  record_member, &e, &changed);
    if (reply_set_status(ctx, st)) {
        effect_discard(&e);
        return;
    }
    effect_finish(ctx, &e, 3);
    if (changed) {
        cmd_notify(ctx, KE_SET, add ? "sadd" : "srem", key);
        if (!add) cmd_notify_if_emptied(ctx, key);
    }
    reply_int(ctx->r, changed);
}

void cmd_sadd(cmd_ctx *ctx) { change_members(ctx, 1); }
void cmd_srem(cmd_ctx *ctx) { change_members(ctx, 0); }

void cmd_scard(cmd_ctx *ctx) {
    long long card;
    type_status st = set_card(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &card);
    if (!reply_set_status(ctx, st)) reply_int(ctx->r, card);
}

/* SISMEMBER / SMISMEMBER being replied: an array of answers (or one alone), whose header goes
 * before the first, after the key's type was checked. */
typedef struct answers_reply {
    cmd_ctx *ctx;
    int array, started;
} answers_reply;

/* A member_visit_fn replying 1 for a member (a value), 0 for none. */
static int reply_answer(void *arg, const char *m, size_t ml, const char *value, size_t vl) {
    (void)m, (void)ml, (void)vl;
    answers_reply *ar = arg;
    if (ar->array && !ar->started) reply_array(ar->ctx->r, ar->ctx->argc - 2);
    ar->started = 1;
    reply_int(ar->ctx->r, value != NULL);
    return 0;
}

static void answer_members(cmd_ctx *ctx, int array) {
    const resp_arg *key = &ctx->argv[1];
    answers_reply ar = {.ctx = ctx, .array = array};
    type_status st =
        set_are_members(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], ctx->argc - 2, reply_answer, &ar);
    reply_set_status(ctx, st);
}

void cmd_sismember(cmd_ctx *ctx) { answer_members(ctx, 0); }
void cmd_smismember(cmd_ctx *ctx) { answer_members(ctx, 1); }

/* SMEMBERS being replied: the header goes before the first member. */
typedef struct members_reply {
    cmd_ctx *ctx;
    long long size; /* set by set_members before the first visit */
    int started;
} members_reply;

/* A member_visit_fn replying a member; stops once the reply is cut (it is not sent anyway). */
static int reply_member(void *arg, const char *m, size_t ml, const char *value, size_t vl) {
    (void)value, (void)vl;
    members_reply *mr = arg;
    if (!mr->started) reply_set(mr->ctx->r, mr->size);
    mr->started = 1;
    reply_bulk(mr->ctx->r, m, ml);
    return reply_was_cut(mr->ctx->r);
}

void cmd_smembers(cmd_ctx *ctx) {
    members_reply mr = {.ctx = ctx};
    type_status st = set_members(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &mr.size, reply_member, &mr);
    if (!reply_set_status(ctx, st) && !mr.started) reply_set(ctx->r, mr.size);
}

/* Parses SPOP's count: any size, the set's own bounding the picks; replies and returns -1 if invalid. */
static int parse_pop_count(cmd_ctx *ctx, long long *count) {
    if (arg_parse_ll(&ctx->argv[2], count) == 0 && *count >= 0) return 0;
    reply_error(ctx->r, "ERR value is out of range, must be positive");
    return -1;
}

static const char *picked_member(const picked *p) { return p->sub.data ? p->sub.data : ""; }

void cmd_spop(cmd_ctx *ctx) {
    long long count = 1;
    int has_count = ctx->argc == 3;
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (has_count && parse_pop_count(ctx, &count) < 0) return;
    const resp_arg *key = &ctx->argv[1];
    picked *p;
    long long n;
    type_status st = set_pop(ctx->t, ctx->db, key->ptr, key->len, count, &p, &n);
    if (reply_set_status(ctx, st)) return;
    /* The random choice is recorded as what it removed. */
    effect e;
    effect_init(&e, TYPE_SET, "SREM", key, (int)n);
    for (long long i = 0; i < n; i++) effect_add(&e, picked_member(&p[i]), p[i].sub.len);
    effect_finish(ctx, &e, 3);
    if (n) {
        cmd_notify(ctx, KE_SET, "spop", key);
        cmd_notify_if_emptied(ctx, key);
    }
    if (!has_count) {
        if (n) reply_bulk(ctx->r, picked_member(&p[0]), p[0].sub.len);
        else reply_null(ctx->r);
    } else {
        reply_set(ctx->r, n);
        for (long long i = 0; i < n; i++) reply_bulk(ctx->r, picked_member(&p[i]), p[i].sub.len);
    }
    picked_free(p, n);
}

void cmd_srandmember(cmd_ctx *ctx) {
    long long count = 1;
    int has_count = ctx->argc == 3;
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (has_count && members_parse_count(ctx, &ctx->argv[2], &count) < 0) return;
    if (has_count) members_reply_random(ctx, TYPE_SET, count, NULL);
    else members_reply_one(ctx, TYPE_SET);
}

/* A member_visit_fn noting whether the member is there. */
static int note_member(void *arg, const char *m, size_t ml, const char *value, size_t vl) {
    (void)m, (void)ml, (void)vl;
    *(int *)arg = value != NULL;
    return 0;
}

void cmd_smove(cmd_ctx *ctx) {
    const resp_arg *src = &ctx->argv[1], *dst = &ctx->argv[2], *m = &ctx->argv[3];
    int moved, which, dst_had = 0;
    /* "sadd" is only for a member dst did not hold: asked only when someone listens */
    if (cmd_notify_wanted(KE_SET) &&
        set_are_members(ctx->t, ctx->db, dst->ptr, dst->len, m, 1, note_member, &dst_had) == ST_ERROR) {
        reply_storage_error(ctx);
        return;
    }
    type_status st = set_move(ctx->t, ctx->db, src, dst, m, &moved, &which);
    if (reply_key_status(ctx, which ? dst : src, st)) return;
    int same = src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0;
    if (moved && !same) {
        const char *argv[4] = {"SMOVE", src->ptr, dst->ptr, m->ptr};
        size_t lens[4] = {5, src->len, dst->len, m->len};
        cmd_record(ctx, TYPE_SET, 4, argv, lens);
        cmd_notify(ctx, KE_SET, "srem", src);
        cmd_notify_if_emptied(ctx, src);
        if (!dst_had) cmd_notify(ctx, KE_SET, "sadd", dst);
    }
    reply_int(ctx->r, moved);
}

/* ---- SINTER / SUNION / SDIFF and their CARD / STORE forms ---- */

/* Computes op over the n sets named from argv[first] into r; replies a failure and returns -1. */
static int combine(cmd_ctx *ctx, enum set_op op, int first, int n, size_t limit, size_t room, set_result *r) {
    int which;
    type_status st = set_combine(ctx->t, ctx->db, &ctx->argv[first], n, op, limit, room, r, &which);
    if (!reply_key_status(ctx, &ctx->argv[first + which], st)) return 0;
    set_result_free(r);
    return -1;
}

/* Replaces the set at store_key with r: recorded as DEL (of what it held) then SADD. */
static void store_result(cmd_ctx *ctx, const resp_arg *store_key, const set_result *r, const char *event) {
    int replaced = replace_key(ctx, store_key);
    if (replaced < 0) {
        reply_storage_error(ctx);
        return;
    }
    type_status st = set_store(ctx->t, ctx->db, store_key->ptr, store_key->len, r);
    if (reply_key_status(ctx, store_key, st)) return;
    effect e;
    effect_init(&e, TYPE_SET, "SADD", store_key, (int)r->n);
    for (size_t i = 0; i < r->n; i++) effect_add(&e, r->items[i].data ? r->items[i].data : "", r->items[i].len);
    effect_finish(ctx, &e, 3);
    cmd_notify_store(ctx, KE_SET, event, store_key, (long long)r->n, replaced);
    reply_int(ctx->r, (long long)r->n);
}

/* Runs an operation over argv[first..]: replies the members, or stores them at store_key. */
static void set_operation(cmd_ctx *ctx, enum set_op op, int first, const resp_arg *store_key) {
    static const char *const store_events[] = {[SET_INTER] = "sinterstore", [SET_UNION] = "sunionstore",
                                                [SET_DIFF] = "sdiffstore"};
    set_result r = {0};
    size_t room = store_key ? SIZE_MAX : reply_room(ctx->r);
    cmd_read_lookups(ctx, 1); /* the sources, of a STORE too */
    if (combine(ctx, op, first, ctx->argc - first, 0, room, &r) < 0) return;
    if (store_key) {
        store_result(ctx, store_key, &r, store_events[op]);
    } else {
        reply_set(ctx->r, (long long)r.n);
        for (size_t i = 0; i < r.n; i++) reply_bulk(ctx->r, r.items[i].data ? r.items[i].data : "", r.items[i].len);
    }
    set_result_free(&r);
}

void cmd_sinter(cmd_ctx *ctx) { set_operation(ctx, SET_INTER, 1, NULL); }
void cmd_sunion(cmd_ctx *ctx) { set_operation(ctx, SET_UNION, 1, NULL); }
void cmd_sdiff(cmd_ctx *ctx) { set_operation(ctx, SET_DIFF, 1, NULL); }
void cmd_sinterstore(cmd_ctx *ctx) { set_operation(ctx, SET_INTER, 2, &ctx->argv[1]); }
void cmd_sunionstore(cmd_ctx *ctx) { set_operation(ctx, SET_UNION, 2, &ctx->argv[1]); }
void cmd_sdiffstore(cmd_ctx *ctx) { set_operation(ctx, SET_DIFF, 2, &ctx->argv[1]); }

void cmd_sintercard(cmd_ctx *ctx) {
    long long numkeys, limit = 0;
    if (arg_parse_ll(&ctx->argv[1], &numkeys) < 0 || numkeys <= 0) {
        reply_error(ctx->r, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > ctx->argc - 2) {
        reply_error(ctx->r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    int rest = 2 + (int)numkeys;
    if (rest < ctx->argc) {
        if (rest + 2 != ctx->argc || !arg_is(&ctx->argv[rest], "limit")) {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
        if (arg_ll(ctx, &ctx->argv[rest + 1], &limit) < 0) return;
        if (limit < 0) {
            reply_error(ctx->r, "ERR LIMIT can't be negative");
            return;
        }
    }
    set_result r = {0};
    if (combine(ctx, SET_INTER, 2, (int)numkeys, (size_t)limit, SIZE_MAX, &r) < 0) return;
    reply_int(ctx->r, (long long)r.n);
    set_result_free(&r);
}

void cmd_sscan(cmd_ctx *ctx) { members_reply_scan(ctx, TYPE_SET, 0); }

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The sets commands. */
static const cmd_def set_defs[] = {
    {"sadd", -3, W | F | OOM, 1, 1, 1, cmd_sadd, "set", "@write @set @fast",
     "Adds members to a set.",
     "key:key@0 member...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"srem", -3, W | F, 1, 1, 1, cmd_srem, "set", "@write @set @fast",
     "Removes members from a set.",
     "key:key@0 member...", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"scard", 2, R | F, 1, 1, 1, cmd_scard, "set", "@read @set @fast",
     "Returns the number of members.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"sismember", 3, R | F, 1, 1, 1, cmd_sismember, "set", "@read @set @fast",
     "Tells whether a member is in a set.",
     "key:key@0 member", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"smismember", -3, R | F, 1, 1, 1, cmd_smismember, "set", "@read @set @fast",
     "Tells whether members are in a set.",
     "key:key@0 member...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"smembers", 2, R, 1, 1, 1, cmd_smembers, "set", "@read @set @slow",
     "Returns every member.",
     "key:key@0", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"spop", -2, W | F, 1, 1, 1, cmd_spop, "set", "@write @set @fast",
     "Removes and returns random members.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"srandmember", -2, R, 1, 1, 1, cmd_srandmember, "set", "@read @set @slow",
     "Returns random members.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"smove", 4, W | F, 1, 2, 1, cmd_smove, "set", "@write @set @fast",
     "Moves a member to another set.",
     "source:key@0 destination:key@1 member",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"sinter", -2, R, 1, -1, 1, cmd_sinter, "set", "@read @set @slow",
     "Intersects sets.",
     "key:key@0...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, -1, 1))},
    {"sintercard", -3, R, 0, 0, 0, cmd_sintercard, "set", "@read @set @slow",
     "Counts the intersection of sets.",
     "numkeys:int key:key@0... [LIMIT limit:int]", KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 1, 0, 1, 1))},
    {"sinterstore", -3, W | OOM, 1, -1, 1, cmd_sinterstore, "set", "@write @set @slow",
     "Stores the intersection of sets.",
     "destination:key@0 key:key@1...",
     KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1), RANGE(KEY_RO | KEY_ACCESS, 2, -1, 1))},
    {"sunion", -2, R, 1, -1, 1, cmd_sunion, "set", "@read @set @slow",
     "Unites sets.",
     "key:key@0...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, -1, 1))},
    {"sunionstore", -3, W | OOM, 1, -1, 1, cmd_sunionstore, "set", "@write @set @slow",
     "Stores the union of sets.",
     "destination:key@0 key:key@1...",
     KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1), RANGE(KEY_RO | KEY_ACCESS, 2, -1, 1))},
    {"sdiff", -2, R, 1, -1, 1, cmd_sdiff, "set", "@read @set @slow",
     "Subtracts sets from the first.",
     "key:key@0...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, -1, 1))},
    {"sdiffstore", -3, W | OOM, 1, -1, 1, cmd_sdiffstore, "set", "@write @set @slow",
     "Stores the difference of sets.",
     "destination:key@0 key:key@1...",
     KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1), RANGE(KEY_RO | KEY_ACCESS, 2, -1, 1))},
    {"sscan", -3, R, 1, 1, 1, cmd_sscan, "set", "@read @set @slow",
     "Iterates over members.",
     "key:key@0 cursor:int [MATCH pattern:pattern] [COUNT count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))}
};
const cmd_family set_commands = {set_defs, sizeof(set_defs) / sizeof(set_defs[0])};
