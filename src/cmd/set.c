/* Set commands. Members are subkeys (with empty values) of the set's current version. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "cmd/members.h"
#include "types/compound.h"
#include "types/keyspace.h"
#include "util/num.h"

static int open_set_at(cmd_ctx *ctx, compound *s, const resp_arg *key) {
    return members_open(ctx, s, key, TYPE_SET);
}

static int open_set(cmd_ctx *ctx, compound *s) { return open_set_at(ctx, s, &ctx->argv[1]); }

/* 1 if m is a member, 0 if not, -1 on a read error. */
static int is_member(compound *s, const char *m, size_t len) {
    buf v;
    buf_init(&v);
    int rc = compound_get(s, m, len, &v);
    buf_free(&v);
    return rc;
}

/* SADD (add=1) and SREM (add=0). */
static void change_members(cmd_ctx *ctx, int add) {
    compound s;
    if (open_set(ctx, &s) < 0) return;
    effect e;
    effect_init(&e, TYPE_SET, add ? "SADD" : "SREM", &ctx->argv[1], ctx->argc - 2);
    int in = 0;
    for (int i = 2; i < ctx->argc && in >= 0; i++) {
        const resp_arg *m = &ctx->argv[i];
        in = is_member(&s, m->ptr, m->len);
        if (in == add || in < 0) continue;
        if (add) {
            compound_put(&s, m->ptr, m->len, "", 0);
            s.m.size++;
        } else {
            compound_del(&s, m->ptr, m->len);
            s.m.size--;
        }
        effect_add(&e, m->ptr, m->len);
    }
    long long changed = e.argc - 2;
    if (in < 0) {
        effect_discard(&e);
        reply_storage_error(ctx);
    } else {
        if (changed) compound_save(&s);
        effect_finish(ctx, &e, 3);
        reply_int(ctx->r, changed);
    }
    compound_free(&s);
}

void cmd_sadd(cmd_ctx *ctx) { change_members(ctx, 1); }
void cmd_srem(cmd_ctx *ctx) { change_members(ctx, 0); }

void cmd_scard(cmd_ctx *ctx) {
    compound s;
    if (open_set(ctx, &s) < 0) return;
    reply_int(ctx->r, s.found ? (long long)s.m.size : 0);
    compound_free(&s);
}

void cmd_sismember(cmd_ctx *ctx) {
    compound s;
    if (open_set(ctx, &s) < 0) return;
    int in = is_member(&s, ctx->argv[2].ptr, ctx->argv[2].len);
    if (in < 0) reply_storage_error(ctx);
    else reply_int(ctx->r, in);
    compound_free(&s);
}

void cmd_smismember(cmd_ctx *ctx) {
    compound s;
    if (open_set(ctx, &s) < 0) return;
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        int in = is_member(&s, ctx->argv[i].ptr, ctx->argv[i].len);
        if (in < 0) {
            reply_storage_error(ctx);
            break;
        }
        reply_int(ctx->r, in);
    }
    compound_free(&s);
}

/* Replies every member of an open set, streamed. */
static void reply_members(cmd_ctx *ctx, compound *s) {
    long long n = s->found ? (long long)s->m.size : 0, seen = 0;
    reply_set(ctx->r, n);
    compound_iter ci;
    compound_iter_open(&ci, s, NULL, 0);
    const char *m, *v;
    size_t ml, vl;
    /* One step past n tells a size that is too small from one that is right. A reply cut at the
     * client's bound stops short: it is not sent anyway. */
    while (seen <= n && !reply_was_cut(ctx->r) && compound_iter_next(&ci, &m, &ml, &v, &vl)) {
        if (seen++ == n) break;
        reply_bulk(ctx->r, m, ml);
    }
    /* A walk cut short by a read error looks like the end: its status tells. */
    if (compound_iter_close(&ci) < 0) reply_storage_error(ctx);
    /* The header promised n members: a store that holds another number is corrupt. */
    else if (seen != n && !reply_was_cut(ctx->r)) reply_corrupt(ctx, ctx->argv[1].ptr, ctx->argv[1].len);
}

void cmd_smembers(cmd_ctx *ctx) {
    compound s;
    if (open_set(ctx, &s) < 0) return;
    reply_members(ctx, &s);
    compound_free(&s);
}

/* Parses SPOP's count: any size, the set's own bounding the picks; replies and returns -1 if invalid. */
static int parse_pop_count(cmd_ctx *ctx, long long *count) {
    if (arg_parse_ll(&ctx->argv[2], count) == 0 && *count >= 0) return 0;
    reply_error(ctx->r, "ERR value is out of range, must be positive");
    return -1;
}

void cmd_spop(cmd_ctx *ctx) {
    long long count = 1;
    int has_count = ctx->argc == 3;
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (has_count && parse_pop_count(ctx, &count) < 0) return;
    compound s;
    if (open_set(ctx, &s) < 0) return;
    picked *p = NULL;
    long long n = 0;
    type_status st = s.found ? members_pick_from(&s, count, 0, SIZE_MAX, &p, &n) : ST_OK;
    if (reply_key_status(ctx, &ctx->argv[1], st)) {
        compound_free(&s);
        return;
    }
    /* The random choice is recorded as what it removed. */
    effect e;
    effect_init(&e, TYPE_SET, "SREM", &ctx->argv[1], (int)n);
    for (long long i = 0; i < n; i++) {
        compound_del(&s, p[i].sub.data ? p[i].sub.data : "", p[i].sub.len);
        s.m.size--;
        effect_add(&e, p[i].sub.data ? p[i].sub.data : "", p[i].sub.len);
    }
    if (n) compound_save(&s);
    effect_finish(ctx, &e, 3);
    if (!has_count) {
        if (n) reply_bulk(ctx->r, p[0].sub.data ? p[0].sub.data : "", p[0].sub.len);
        else reply_null(ctx->r);
    } else {
        reply_set(ctx->r, n);
        for (long long i = 0; i < n; i++) reply_bulk(ctx->r, p[i].sub.data ? p[i].sub.data : "", p[i].sub.len);
    }
    if (n > 0) picked_free(p, n);
    compound_free(&s);
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

void cmd_smove(cmd_ctx *ctx) {
    compound src, dst;
    if (open_set(ctx, &src) < 0) return;
    if (!src.found) { /* nothing to move: the destination is not even looked at, as in Redis */
        reply_int(ctx->r, 0);
        compound_free(&src);
        return;
    }
    if (open_set_at(ctx, &dst, &ctx->argv[2]) < 0) {
        compound_free(&src);
        return;
    }
    const resp_arg *m = &ctx->argv[3];
    int moved = is_member(&src, m->ptr, m->len);
    int in_dst = 0;
    if (moved == 1) {
        int same = ctx->argv[1].len == ctx->argv[2].len && memcmp(ctx->argv[1].ptr, ctx->argv[2].ptr, ctx->argv[1].len) == 0;
        if (!same && (in_dst = is_member(&dst, m->ptr, m->len)) >= 0) {
            compound_del(&src, m->ptr, m->len);
            src.m.size--;
            compound_save(&src);
            if (!in_dst) {
                compound_put(&dst, m->ptr, m->len, "", 0);
                dst.m.size++;
                compound_save(&dst);
            }
            const char *argv[4] = {"SMOVE", ctx->argv[1].ptr, ctx->argv[2].ptr, m->ptr};
            size_t lens[4] = {5, ctx->argv[1].len, ctx->argv[2].len, m->len};
            cmd_record(ctx, TYPE_SET, 4, argv, lens);
        }
    }
    if (moved < 0 || in_dst < 0) reply_storage_error(ctx);
    else reply_int(ctx->r, moved);
    compound_free(&src);
    compound_free(&dst);
}

/* ---- SINTER / SUNION / SDIFF and their CARD / STORE forms ---- */

enum set_op { OP_INTER, OP_UNION, OP_DIFF };

/* The result of a set operation: members, sorted and distinct. */
typedef struct member_list {
    buf *items;
    size_t n, cap;
} member_list;

static void list_add(member_list *l, const char *m, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = realloc(l->items, l->cap * sizeof(buf));
        if (!l->items) abort();
    }
    buf_init(&l->items[l->n]);
    buf_append(&l->items[l->n++], m, len);
}

static void list_free(member_list *l) {
    for (size_t i = 0; i < l->n; i++) buf_free(&l->items[i]);
    free(l->items);
}

static int compare_members(const void *a, const void *b) {
    const buf *x = a, *y = b;
    return bytes_compare(x->data, x->len, y->data, y->len);
}

/* Opens every set named by argv[first..first+n); replies and returns -1 on an error. */
static int open_sets(cmd_ctx *ctx, int first, int n, compound *sets) {
    for (int i = 0; i < n; i++) {
        if (open_set_at(ctx, &sets[i], &ctx->argv[first + i]) < 0) {
            for (int j = 0; j < i; j++) compound_free(&sets[j]);
            return -1;
        }
    }
    return 0;
}

/* Whether a member of sets[from] belongs in the result: in all others (inter), in none (diff).
 * -1 on a read error. */
static int keep_member(enum set_op op, compound *sets, int n, int from, const char *m, size_t len) {
    for (int i = 0; i < n; i++) {
        if (i == from) continue;
        int in = is_member(&sets[i], m, len);
        if (in < 0) return -1;
        if (op == OP_INTER && !in) return 0;
        if (op == OP_DIFF && i > 0 && in) return 0;
    }
    return 1;
}

/* The bytes a member takes in a reply at least: "$<len>\r\n<member>\r\n". */
static size_t reply_bytes(size_t len) { return len + 5; }

/* Sorts the members and drops the repeats (a union's members of several sets); returns the
 * bytes the rest take in a reply at least. */
static size_t drop_duplicates(member_list *l) {
    if (l->n > 1) qsort(l->items, l->n, sizeof(buf), compare_members);
    size_t w = 0, bytes = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (w > 0 && compare_members(&l->items[i], &l->items[w - 1]) == 0) {
            buf_free(&l->items[i]);
        } else {
            l->items[w++] = l->items[i];
            bytes += reply_bytes(l->items[i].len);
        }
    }
    l->n = w;
    return bytes;
}

/* Computes a set operation over argv[first..first+n); limit 0 = no limit. Once the members
 * found would take more than room bytes in a reply (SIZE_MAX: no bound), it stops: the reply
 * would be cut at the client's bound anyway. Returns 0, or -1 on a read error. */
static int compute(enum set_op op, compound *sets, int n, size_t limit, size_t room, member_list *out) {
    /* Intersections walk the smallest set; differences the first; unions all of them. */
    int from = 0;
    if (op == OP_INTER)
        for (int i = 1; i < n; i++)
            if (sets[i].m.size < sets[from].m.size) from = i;
    /* A union counts its repeats until they are dropped, each time it passes the bytes it had
     * after the last drop by room: what it holds stays within twice the room. */
    size_t bytes = 0, check_at = room;
    int over = 0, failed = 0;
    for (int i = from; i < n && !over && !failed; i++) {
        if (op != OP_UNION && i != from) break;
        compound_iter ci;
        compound_iter_open(&ci, &sets[i], NULL, 0);
        const char *m, *v;
        size_t ml, vl;
        while (!over && !failed && (!limit || out->n < limit) && compound_iter_next(&ci, &m, &ml, &v, &vl)) {
            int keep = op == OP_UNION ? 1 : keep_member(op, sets, n, from, m, ml);
            failed = keep < 0;
            if (keep != 1) continue;
            list_add(out, m, ml);
            bytes += reply_bytes(ml);
            if (bytes > check_at) {
                if (op == OP_UNION) bytes = drop_duplicates(out);
                over = bytes > room;
                check_at = bytes + room;
            }
        }
        if (compound_iter_close(&ci) < 0) failed = 1;
    }
    if (op == OP_UNION) drop_duplicates(out);
    return failed ? -1 : 0;
}

/* Runs an operation over argv[first..]: replies the members, or stores them at store_key. */
static void set_operation(cmd_ctx *ctx, enum set_op op, int first, const resp_arg *store_key) {
    int n = ctx->argc - first;
    compound *sets = calloc((size_t)n, sizeof(compound));
    if (!sets) abort();
    if (open_sets(ctx, first, n, sets) < 0) {
        free(sets);
        return;
    }
    member_list result = {0};
    int rc = compute(op, sets, n, 0, store_key ? SIZE_MAX : reply_room(ctx->r), &result);
    for (int i = 0; i < n; i++) compound_free(&sets[i]);
    free(sets);
    compound dst; /* deleted by replace_key, so it opens as a new, empty set */
    if (rc == 0 && store_key) {
        rc = replace_key(ctx, store_key);
        if (rc == 0 && compound_open(&dst, ctx->t, ctx->db, store_key->ptr, store_key->len, TYPE_SET) == CK_ERROR) {
            compound_free(&dst);
            rc = -1;
        }
    }
    if (rc < 0) {
        reply_storage_error(ctx);
        list_free(&result);
        return;
    }
    if (!store_key) {
        reply_set(ctx->r, (long long)result.n);
        for (size_t i = 0; i < result.n; i++) reply_bulk(ctx->r, result.items[i].data ? result.items[i].data : "", result.items[i].len);
        list_free(&result);
        return;
    }
    /* The destination was replaced whatever it held; recorded as DEL then SADD of the result. */
    effect e;
    effect_init(&e, TYPE_SET, "SADD", store_key, (int)result.n);
    for (size_t i = 0; i < result.n; i++) {
        const char *m = result.items[i].data ? result.items[i].data : "";
        compound_put(&dst, m, result.items[i].len, "", 0);
        effect_add(&e, m, result.items[i].len);
    }
    dst.m.size = result.n;
    if (result.n) compound_save(&dst);
    effect_finish(ctx, &e, 3);
    reply_int(ctx->r, (long long)result.n);
    compound_free(&dst);
    list_free(&result);
}

void cmd_sinter(cmd_ctx *ctx) { set_operation(ctx, OP_INTER, 1, NULL); }
void cmd_sunion(cmd_ctx *ctx) { set_operation(ctx, OP_UNION, 1, NULL); }
void cmd_sdiff(cmd_ctx *ctx) { set_operation(ctx, OP_DIFF, 1, NULL); }
void cmd_sinterstore(cmd_ctx *ctx) { set_operation(ctx, OP_INTER, 2, &ctx->argv[1]); }
void cmd_sunionstore(cmd_ctx *ctx) { set_operation(ctx, OP_UNION, 2, &ctx->argv[1]); }
void cmd_sdiffstore(cmd_ctx *ctx) { set_operation(ctx, OP_DIFF, 2, &ctx->argv[1]); }

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
    compound *sets = calloc((size_t)numkeys, sizeof(compound));
    if (!sets) abort();
    if (open_sets(ctx, 2, (int)numkeys, sets) < 0) {
        free(sets);
        return;
    }
    member_list result = {0};
    if (compute(OP_INTER, sets, (int)numkeys, (size_t)limit, SIZE_MAX, &result) < 0) reply_storage_error(ctx);
    else reply_int(ctx->r, (long long)result.n);
    list_free(&result);
    for (int i = 0; i < numkeys; i++) compound_free(&sets[i]);
    free(sets);
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
