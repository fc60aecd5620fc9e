/* Sorted set commands: argument parsing, replies and change records; the logic (members,
 * the score index, ranges, pops, unions) is in types/zset.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "cmd/members.h"
#include "types/keyspace.h"
#include "types/zset.h"
#include "util/num.h"

/* Replies the error for a failed operation on key; returns 1 if it replied (not for ST_OK
 * or ST_MISSING). */
static int reply_zset_error(cmd_ctx *ctx, const resp_arg *key, type_status s) {
    if (s != ST_NAN_OR_INF) return reply_key_status(ctx, key, s);
    reply_error(ctx->r, "ERR resulting score is not a number (NaN)");
    return 1;
}

/* Replies a member, then its score if withscores; as a [member, score] array if nested. */
static void reply_entry(reply *r, const char *m, size_t ml, double score, int withscores, int nested) {
    if (nested) reply_array(r, 2);
    reply_bulk(r, m, ml);
    if (withscores) reply_double(r, score);
}

/* Records "<name> key …" with the entries' members, and their scores before them if with_scores
 * (ZADD of what a STORE wrote, ZREM of what was removed); nothing for no entries. */
static void record_entries(cmd_ctx *ctx, const char *name, const resp_arg *key, const zset_entries *es,
                           int with_scores) {
    effect e;
    effect_init(&e, TYPE_ZSET, name, key, (with_scores ? 2 : 1) * (int)es->n);
    for (size_t i = 0; i < es->n; i++) {
        if (with_scores) effect_add_score(&e, es->items[i].score);
        effect_add(&e, es->items[i].member, es->items[i].len);
    }
    effect_finish(ctx, &e, 3);
}

/* A removal's events: event if it removed any member, and "del" if it emptied the zset. */
static void notify_removal(cmd_ctx *ctx, const char *event, const resp_arg *key, long long removed) {
    if (!removed) return;
    cmd_notify(ctx, KE_ZSET, event, key);
    cmd_notify_if_emptied(ctx, key);
}

/* ---- ranges (ZRANGE and friends) ---- */

static int parse_score_bound(const resp_arg *a, double *v, int *exclusive) {
    const char *p = a->ptr;
    size_t len = a->len;
    *exclusive = len > 0 && p[0] == '(';
    if (*exclusive) p++, len--;
    int out_of_range; /* as in Redis, a bound out of a double's range is inf or 0 */
    return num_parse_double_loose(p, len, v, &out_of_range);
}

static int parse_lex_bound(const resp_arg *a, zset_lex_bound *b) {
    memset(b, 0, sizeof(*b));
    if (a->len == 1 && (a->ptr[0] == '-' || a->ptr[0] == '+')) {
        b->inf = a->ptr[0] == '-' ? -1 : 1;
        return 0;
    }
    if (a->len == 0 || (a->ptr[0] != '[' && a->ptr[0] != '(')) return -1;
    b->exclusive = a->ptr[0] == '(';
    b->v = a->ptr + 1;
    b->len = a->len - 1;
    return 0;
}

/* Parses the range part of ZRANGE-style arguments: min/max at argv[first], argv[first+1], as
 * the kind r->by says. Replies and returns -1 on errors. */
static int parse_range(cmd_ctx *ctx, int first, zset_range *r) {
    const resp_arg *lo = &ctx->argv[first], *hi = &ctx->argv[first + 1];
    if (r->rev && r->by != ZSET_BY_RANK) { /* ZREVRANGEBYSCORE / BYLEX take max first */
        const resp_arg *t = lo;
        lo = hi;
        hi = t;
    }
    if (r->by == ZSET_BY_SCORE) {
        if (parse_score_bound(lo, &r->min, &r->minex) < 0 || parse_score_bound(hi, &r->max, &r->maxex) < 0) {
            reply_error(ctx->r, "ERR min or max is not a float");
            return -1;
        }
    } else if (r->by == ZSET_BY_LEX) {
        if (parse_lex_bound(lo, &r->lmin) < 0 || parse_lex_bound(hi, &r->lmax) < 0) {
            reply_error(ctx->r, "ERR min or max not valid string range item");
            return -1;
        }
    } else if (arg_ll(ctx, lo, &r->start) < 0 || arg_ll(ctx, hi, &r->stop) < 0) {
        return -1;
    }
    return 0;
}

/* Collects visited entries into a reply body (a part of the reply: the walk stops once it is
 * cut at the client's bound). */
typedef struct zcollect {
    reply r;
    int withscores;
    long long items;
} zcollect;

static int collect_reply(void *arg, const char *m, size_t mlen, double score) {
    zcollect *c = arg;
    reply_entry(&c->r, m, mlen, score, c->withscores, c->withscores && c->r.resp == 3);
    c->items += c->withscores && c->r.resp == 2 ? 2 : 1;
    return reply_was_cut(&c->r);
}

/* Which options a range command takes after min max. */
enum { OPT_BY = 1, OPT_REV = 2, OPT_LIMIT = 4, OPT_WITHSCORES = 8 };

/* Parses range options (BYSCORE BYLEX REV LIMIT WITHSCORES, as `allowed` says). */
static int parse_zrange_options(cmd_ctx *ctx, int first, zset_range *r, int *withscores, int allowed) {
    int by_given = 0;
    for (int i = first; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if ((allowed & OPT_BY) && !by_given && arg_is(a, "byscore")) r->by = ZSET_BY_SCORE, by_given = 1;
        else if ((allowed & OPT_BY) && !by_given && arg_is(a, "bylex")) r->by = ZSET_BY_LEX, by_given = 1;
        else if ((allowed & OPT_REV) && !r->rev && arg_is(a, "rev")) r->rev = 1; /* once, as Redis 7 */
        else if ((allowed & OPT_WITHSCORES) && arg_is(a, "withscores")) *withscores = 1;
        else if ((allowed & OPT_LIMIT) && arg_is(a, "limit") && i + 2 < ctx->argc) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &r->offset) < 0 || arg_ll(ctx, &ctx->argv[i + 2], &r->limit) < 0) return -1;
            i += 2;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    if (r->limit != -1 && r->by == ZSET_BY_RANK) {
        reply_error(ctx->r, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return -1;
    }
    if (*withscores && r->by == ZSET_BY_LEX) {
        reply_error(ctx->r, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return -1;
    }
    return 0;
}

/* ZRANGE-family entry point: by/rev preset for the old commands, which take no BY / REV. */
static void zrange_generic(cmd_ctx *ctx, enum zset_range_by by, int rev, int allowed) {
    zset_range r = zset_range_all(by);
    r.rev = rev;
    int withscores = 0;
    if (parse_zrange_options(ctx, 4, &r, &withscores, allowed) < 0 || parse_range(ctx, 2, &r) < 0) return;
    const resp_arg *key = &ctx->argv[1];
    buf body;
    buf_init(&body);
    zcollect c = {reply_part(ctx->r, &body), withscores, 0};
    long long n;
    type_status s = zset_range_visit(ctx->t, ctx->db, key->ptr, key->len, &r, collect_reply, &c, &n);
    if (!reply_zset_error(ctx, key, s)) {
        reply_array(ctx->r, c.items);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

void cmd_zrange(cmd_ctx *ctx) { zrange_generic(ctx, ZSET_BY_RANK, 0, OPT_BY | OPT_REV | OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrevrange(cmd_ctx *ctx) { zrange_generic(ctx, ZSET_BY_RANK, 1, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrangebyscore(cmd_ctx *ctx) { zrange_generic(ctx, ZSET_BY_SCORE, 0, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrevrangebyscore(cmd_ctx *ctx) { zrange_generic(ctx, ZSET_BY_SCORE, 1, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrangebylex(cmd_ctx *ctx) { zrange_generic(ctx, ZSET_BY_LEX, 0, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrevrangebylex(cmd_ctx *ctx) { zrange_generic(ctx, ZSET_BY_LEX, 1, OPT_LIMIT | OPT_WITHSCORES); }

static void zcount_generic(cmd_ctx *ctx, enum zset_range_by by) {
    zset_range r = zset_range_all(by);
    if (parse_range(ctx, 2, &r) < 0) return;
    const resp_arg *key = &ctx->argv[1];
    long long n;
    type_status s = zset_range_visit(ctx->t, ctx->db, key->ptr, key->len, &r, NULL, NULL, &n);
    if (!reply_zset_error(ctx, key, s)) reply_int(ctx->r, n);
}

void cmd_zcount(cmd_ctx *ctx) { zcount_generic(ctx, ZSET_BY_SCORE); }
void cmd_zlexcount(cmd_ctx *ctx) { zcount_generic(ctx, ZSET_BY_LEX); }

/* ---- writes ---- */

static int parse_zadd_flags(cmd_ctx *ctx, int *flags, int *first_pair) {
    int i = 2;
    *flags = 0;
    for (; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "nx")) *flags |= ZSET_NX;
        else if (arg_is(a, "xx")) *flags |= ZSET_XX;
        else if (arg_is(a, "gt")) *flags |= ZSET_GT;
        else if (arg_is(a, "lt")) *flags |= ZSET_LT;
        else if (arg_is(a, "ch")) *flags |= ZSET_CH;
        else if (arg_is(a, "incr")) *flags |= ZSET_INCR;
        else break;
    }
    *first_pair = i;
    int pairs = ctx->argc - i;
    if (pairs == 0 || pairs % 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    if ((*flags & ZSET_NX) && (*flags & ZSET_XX)) {
        reply_error(ctx->r, "ERR XX and NX options at the same time are not compatible");
        return -1;
    }
    int gtltnx = !!(*flags & ZSET_GT) + !!(*flags & ZSET_LT) + !!(*flags & ZSET_NX);
    if (gtltnx > 1) {
        reply_error(ctx->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((*flags & ZSET_INCR) && pairs > 2) {
        reply_error(ctx->r, "ERR INCR option supports a single increment-element pair");
        return -1;
    }
    return 0;
}

/* The (score, member) pairs from argv[first]. Every score is parsed first, so a bad one
 * changes nothing. */
static zset_pair *parse_pairs(cmd_ctx *ctx, int first, int n) {
    zset_pair *pairs = malloc((size_t)n * sizeof(zset_pair));
    if (!pairs) abort();
    for (int p = 0; p < n; p++) {
        const resp_arg *score = &ctx->argv[first + 2 * p];
        if (num_parse_double(score->ptr, score->len, &pairs[p].score) < 0) {
            reply_error(ctx->r, ERR_NOT_FLOAT);
            free(pairs);
            return NULL;
        }
        pairs[p].member = ctx->argv[first + 2 * p + 1];
    }
    return pairs;
}

/* Adds a written (score, member) to the ZADD recorded. */
static int record_pair(void *arg, const char *m, size_t ml, double score) {
    effect_add_score(arg, score);
    effect_add(arg, m, ml);
    return 0;
}

/* ZADD and ZINCRBY: pairs of (score, member) from argv[first]. */
static void zadd_generic(cmd_ctx *ctx, int flags, int first) {
    int n = (ctx->argc - first) / 2;
    zset_pair *pairs = parse_pairs(ctx, first, n);
    if (!pairs) return;
    const resp_arg *key = &ctx->argv[1];
    effect e;
    effect_init(&e, TYPE_ZSET, "ZADD", key, 2 * n);
    zset_add_result res;
    type_status s = zset_add(ctx->t, ctx->db, key->ptr, key->len, flags, pairs, n, record_pair, &e, &res);
    if (reply_zset_error(ctx, key, s)) {
        effect_discard(&e);
    } else {
        if (!(flags & ZSET_INCR)) reply_int(ctx->r, (flags & ZSET_CH) ? res.changed : res.added);
        else if (res.skipped) reply_null(ctx->r);
        else reply_double(ctx->r, res.score);
        effect_finish(ctx, &e, 3);
        if (res.changed) cmd_notify(ctx, KE_ZSET, (flags & ZSET_INCR) ? "zincr" : "zadd", key);
    }
    free(pairs);
}

void cmd_zadd(cmd_ctx *ctx) {
    int flags, first;
    if (parse_zadd_flags(ctx, &flags, &first) == 0) zadd_generic(ctx, flags, first);
}

void cmd_zincrby(cmd_ctx *ctx) { zadd_generic(ctx, ZSET_INCR, 2); }

/* Adds a removed member to the ZREM recorded. */
static int record_member(void *arg, const char *m, size_t ml, double score) {
    (void)score;
    effect_add(arg, m, ml);
    return 0;
}

void cmd_zrem(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    effect e;
    effect_init(&e, TYPE_ZSET, "ZREM", key, ctx->argc - 2);
    long long removed;
    type_status s = zset_remove(ctx->t, ctx->db, key->ptr, key->len, &ctx->argv[2], ctx->argc - 2, record_member, &e,
                                &removed);
    if (reply_zset_error(ctx, key, s)) {
        effect_discard(&e);
    } else {
        effect_finish(ctx, &e, 3);
        notify_removal(ctx, "zrem", key, removed);
        reply_int(ctx->r, removed);
    }
}

void cmd_zcard(cmd_ctx *ctx) {
    long long card;
    type_status s = zset_card(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &card);
    if (!reply_zset_error(ctx, &ctx->argv[1], s)) reply_int(ctx->r, card);
}

void cmd_zscore(cmd_ctx *ctx) {
    double score;
    type_status s = zset_score(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, ctx->argv[2].ptr, ctx->argv[2].len,
                               &score);
    if (s == ST_OK) reply_double(ctx->r, score);
    else if (s == ST_MISSING) reply_null(ctx->r);
    else reply_zset_error(ctx, &ctx->argv[1], s);
}

void cmd_zmscore(cmd_ctx *ctx) {
    int n = ctx->argc - 2;
    double *scores = malloc((size_t)n * sizeof(double));
    int *found = malloc((size_t)n * sizeof(int));
    if (!scores || !found) abort();
    type_status s = zset_scores(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &ctx->argv[2], n, scores, found);
    if (!reply_zset_error(ctx, &ctx->argv[1], s)) {
        reply_array(ctx->r, n);
        for (int i = 0; i < n; i++) {
            if (found[i]) reply_double(ctx->r, scores[i]);
            else reply_null(ctx->r);
        }
    }
    free(scores);
    free(found);
}

static void zrank_generic(cmd_ctx *ctx, int rev) {
    long long rank;
    type_status s = zset_rank(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, ctx->argv[2].ptr, ctx->argv[2].len,
                              rev, &rank);
    if (s == ST_OK) reply_int(ctx->r, rank);
    else if (s == ST_MISSING) reply_null(ctx->r);
    else reply_zset_error(ctx, &ctx->argv[1], s);
}

void cmd_zrank(cmd_ctx *ctx) { zrank_generic(ctx, 0); }
void cmd_zrevrank(cmd_ctx *ctx) { zrank_generic(ctx, 1); }

static void zremrange_generic(cmd_ctx *ctx, enum zset_range_by by) {
    static const char *const events[] = {[ZSET_BY_RANK] = "zremrangebyrank", [ZSET_BY_SCORE] = "zremrangebyscore",
                                          [ZSET_BY_LEX] = "zremrangebylex"};
    zset_range r = zset_range_all(by);
    if (parse_range(ctx, 2, &r) < 0) return;
    const resp_arg *key = &ctx->argv[1];
    zset_entries es;
    zset_entries_init(&es);
    type_status s = zset_remove_range(ctx->t, ctx->db, key->ptr, key->len, &r, &es);
    if (!reply_zset_error(ctx, key, s)) {
        record_entries(ctx, "ZREM", key, &es, 0);
        notify_removal(ctx, events[by], key, (long long)es.n);
        reply_int(ctx->r, (long long)es.n);
    }
    zset_entries_free(&es);
}

void cmd_zremrangebyrank(cmd_ctx *ctx) { zremrange_generic(ctx, ZSET_BY_RANK); }
void cmd_zremrangebyscore(cmd_ctx *ctx) { zremrange_generic(ctx, ZSET_BY_SCORE); }
void cmd_zremrangebylex(cmd_ctx *ctx) { zremrange_generic(ctx, ZSET_BY_LEX); }

/* ---- pops ---- */

/* How popped entries are replied: a flat array (member, score, …), pairs in RESP3 (flat in
 * RESP2), or after the key: [key, [[member, score], …]] (ZMPOP) or [key, member, score] (BZPOPMIN). */
enum pop_shape { POP_FLAT, POP_PAIRS, POP_KEY_NESTED, POP_KEY_FLAT };

static void reply_popped(cmd_ctx *ctx, const resp_arg *key, const zset_entries *es, enum pop_shape shape) {
    int pairs = shape == POP_KEY_NESTED || (shape == POP_PAIRS && ctx->r->resp == 3);
    if (shape == POP_KEY_NESTED || shape == POP_KEY_FLAT) {
        reply_array(ctx->r, shape == POP_KEY_FLAT ? 3 : 2);
        reply_bulk(ctx->r, key->ptr, key->len);
    }
    if (shape != POP_KEY_FLAT) reply_array(ctx->r, pairs ? (long long)es->n : (long long)es->n * 2);
    for (size_t i = 0; i < es->n; i++) reply_entry(ctx->r, es->items[i].member, es->items[i].len, es->items[i].score, 1, pairs);
}

/* Pops up to count lowest (or highest) entries of key, replies them and records their ZREM.
 * Returns the status: an error is replied, nothing is for ST_MISSING. */
static type_status pop_and_reply(cmd_ctx *ctx, const resp_arg *key, int max, long long count, enum pop_shape shape) {
    zset_entries es;
    zset_entries_init(&es);
    type_status s = zset_pop(ctx->t, ctx->db, key->ptr, key->len, max, count, &es);
    if (s == ST_OK) {
        reply_popped(ctx, key, &es, shape);
        record_entries(ctx, "ZREM", key, &es, 0);
        notify_removal(ctx, max ? "zpopmax" : "zpopmin", key, (long long)es.n);
    } else {
        reply_zset_error(ctx, key, s);
    }
    zset_entries_free(&es);
    return s;
}

static void zpop_generic(cmd_ctx *ctx, int max) {
    long long count = 1;
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 3 && (arg_parse_ll(&ctx->argv[2], &count) < 0 || count < 0)) {
        reply_error(ctx->r, "ERR value is out of range, must be positive");
        return;
    }
    if (pop_and_reply(ctx, &ctx->argv[1], max, count, ctx->argc == 3 ? POP_PAIRS : POP_FLAT) == ST_MISSING)
        reply_array(ctx->r, 0);
}

void cmd_zpopmin(cmd_ctx *ctx) { zpop_generic(ctx, 0); }
void cmd_zpopmax(cmd_ctx *ctx) { zpop_generic(ctx, 1); }

/* ZMPOP / BZMPOP from argument `first` (numkeys): 1 popped (replied), 0 all empty, -1 error. */
static int zset_mpop(cmd_ctx *ctx, int first) {
    int nkeys, max;
    long long count;
    if (parse_mpop(ctx, first, "min", "max", &nkeys, &max, &count) < 0) return -1;
    for (int i = first + 1; i <= first + nkeys; i++) {
        type_status s = pop_and_reply(ctx, &ctx->argv[i], max, count, POP_KEY_NESTED);
        if (s != ST_MISSING) return s == ST_OK ? 1 : -1;
    }
    return 0;
}

void cmd_zmpop(cmd_ctx *ctx) {
    if (zset_mpop(ctx, 1) == 0) reply_null_array(ctx->r);
}

void cmd_bzmpop(cmd_ctx *ctx) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, &ctx->argv[1], &timeout) < 0) return;
    if (zset_mpop(ctx, 2) == 0) blocking_wait_or_nil(ctx, timeout, 0);
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout: [key, member, score] of the first non-empty. */
static void bzpop_generic(cmd_ctx *ctx, int max) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, &ctx->argv[ctx->argc - 1], &timeout) < 0) return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        if (pop_and_reply(ctx, &ctx->argv[i], max, 1, POP_KEY_FLAT) != ST_MISSING) return;
    }
    blocking_wait_or_nil(ctx, timeout, 0);
}

void cmd_bzpopmin(cmd_ctx *ctx) { bzpop_generic(ctx, 0); }
void cmd_bzpopmax(cmd_ctx *ctx) { bzpop_generic(ctx, 1); }

/* ---- STORE forms ---- */

/* Replaces the destination argv[1] of a STORE command with a zset of the entries, records it
 * (DEL of what was there, then ZADD), notifies event and replies their count. */
static void store_entries(cmd_ctx *ctx, const zset_entries *es, const char *event) {
    const resp_arg *dst = &ctx->argv[1];
    int replaced = replace_key(ctx, dst);
    if (replaced < 0 || zset_store(ctx->t, ctx->db, dst->ptr, dst->len, es) != ST_OK) {
        reply_storage_error(ctx);
        return;
    }
    record_entries(ctx, "ZADD", dst, es, 1);
    cmd_notify_store(ctx, KE_ZSET, event, dst, (long long)es->n, replaced);
    reply_int(ctx->r, (long long)es->n);
}

void cmd_zrangestore(cmd_ctx *ctx) {
    zset_range r = zset_range_all(ZSET_BY_RANK);
    int withscores = 0;
    /* ZRANGESTORE dst src min max [options] */
    if (parse_zrange_options(ctx, 5, &r, &withscores, OPT_BY | OPT_REV | OPT_LIMIT) < 0 || parse_range(ctx, 3, &r) < 0)
        return;
    const resp_arg *src = &ctx->argv[2];
    zset_entries es;
    zset_entries_init(&es);
    cmd_read_lookups(ctx, 1); /* the source is read */
    type_status s = zset_range_copy(ctx->t, ctx->db, src->ptr, src->len, &r, &es);
    if (!reply_zset_error(ctx, src, s)) store_entries(ctx, &es, "zrangestore");
    zset_entries_free(&es);
}

void cmd_zscan(cmd_ctx *ctx) { members_reply_scan(ctx, TYPE_ZSET, 1); }

/* A member's stored value is its score (8 bytes, ordered encoding); -1 if it is not one. */
static int reply_member_score(reply *r, const char *val, size_t len) {
    double score;
    if (zset_value_score(val, len, &score) < 0) return -1;
    reply_double(r, score);
    return 0;
}

void cmd_zrandmember(cmd_ctx *ctx) {
    long long count = 1;
    int withscores = 0, has_count = ctx->argc >= 3;
    if (has_count && members_parse_count(ctx, &ctx->argv[2], &count) < 0) return;
    if (ctx->argc == 4 && arg_is(&ctx->argv[3], "withscores")) {
        withscores = 1;
    } else if (ctx->argc >= 4) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (withscores && members_check_pair_count(ctx, count) < 0) return;
    if (has_count) members_reply_random(ctx, TYPE_ZSET, count, withscores ? reply_member_score : NULL);
    else members_reply_one(ctx, TYPE_ZSET);
}

/* ---- ZUNION / ZINTER / ZDIFF and their STORE / CARD forms ---- */

typedef struct zcombine {
    zset_combine_spec spec;
    double *weights;
    int withscores;
    long long limit; /* ZINTERCARD */
} zcombine;

/* Parses numkeys at argv[at], the keys, then WEIGHTS / AGGREGATE / WITHSCORES / LIMIT as the
 * command allows. Replies and returns -1 on an error. */
static int parse_combine(cmd_ctx *ctx, int at, zcombine *zc, int allow_withscores, int allow_limit) {
    long long n;
    if (arg_ll(ctx, &ctx->argv[at], &n) < 0) return -1;
    if (n < 1) {
        reply_errorf(ctx->r, "ERR at least 1 input key is needed for '%s' command", ctx->name);
        return -1;
    }
    if (n > ctx->argc - at - 1) {
        reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    zc->spec.numkeys = (int)n;
    zc->spec.keys = &ctx->argv[at + 1];
    zc->weights = malloc((size_t)n * sizeof(double));
    if (!zc->weights) abort();
    zc->spec.weights = zc->weights;
    for (int i = 0; i < n; i++) zc->weights[i] = 1;
    int weighted = zc->spec.op != ZSET_DIFF && !allow_limit;
    for (int i = at + 1 + (int)n; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "weights") && weighted && i + n < ctx->argc) {
            for (int k = 0; k < n; k++) {
                if (num_parse_double(ctx->argv[i + 1 + k].ptr, ctx->argv[i + 1 + k].len, &zc->weights[k]) < 0) {
                    reply_error(ctx->r, "ERR weight value is not a float");
                    return -1;
                }
            }
            i += (int)n;
        } else if (arg_is(a, "aggregate") && weighted && i + 1 < ctx->argc) {
            const resp_arg *v = &ctx->argv[++i];
            if (arg_is(v, "sum")) zc->spec.aggregate = ZSET_AGG_SUM;
            else if (arg_is(v, "min")) zc->spec.aggregate = ZSET_AGG_MIN;
            else if (arg_is(v, "max")) zc->spec.aggregate = ZSET_AGG_MAX;
            else goto syntax;
        } else if (arg_is(a, "withscores") && allow_withscores) {
            zc->withscores = 1;
        } else if (arg_is(a, "limit") && allow_limit && i + 1 < ctx->argc) {
            if (arg_parse_ll(&ctx->argv[++i], &zc->limit) < 0 || zc->limit < 0) {
                reply_error(ctx->r, "ERR LIMIT can't be negative");
                return -1;
            }
        } else {
            goto syntax;
        }
    }
    return 0;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
    return -1;
}

/* Combines the parsed inputs into es; replies the error about an input key and returns -1
 * if that fails. room: as zset_combine takes it. */
static int combine_inputs(cmd_ctx *ctx, const zcombine *zc, size_t room, zset_entries *es) {
    int bad_key = 0;
    type_status s = zset_combine(ctx->t, ctx->db, &zc->spec, room, es, &bad_key);
    return reply_zset_error(ctx, &zc->spec.keys[bad_key], s) ? -1 : 0;
}

/* ZUNION/ZINTER/ZDIFF [STORE]: numkeys at argv[at]; dst is argv[1] for the STORE forms. */
static void combine_command(cmd_ctx *ctx, enum zset_combine_op op, int store) {
    static const char *const store_events[] = {[ZSET_UNION] = "zunionstore", [ZSET_INTER] = "zinterstore",
                                               [ZSET_DIFF] = "zdiffstore"};
    zcombine zc = {0};
    zc.spec.op = op;
    zset_entries es;
    zset_entries_init(&es);
    cmd_read_lookups(ctx, 1); /* the sources, of a STORE too */
    if (parse_combine(ctx, store ? 2 : 1, &zc, !store, 0) == 0 &&
        combine_inputs(ctx, &zc, store ? SIZE_MAX : reply_room(ctx->r), &es) == 0) {
        if (store) {
            store_entries(ctx, &es, store_events[op]);
        } else {
            int nested = zc.withscores && ctx->r->resp == 3;
            reply_array(ctx->r, zc.withscores && ctx->r->resp == 2 ? (long long)es.n * 2 : (long long)es.n);
            for (size_t i = 0; i < es.n; i++)
                reply_entry(ctx->r, es.items[i].member, es.items[i].len, es.items[i].score, zc.withscores, nested);
        }
    }
    zset_entries_free(&es);
    free(zc.weights);
}

void cmd_zunion(cmd_ctx *ctx) { combine_command(ctx, ZSET_UNION, 0); }
void cmd_zinter(cmd_ctx *ctx) { combine_command(ctx, ZSET_INTER, 0); }
void cmd_zdiff(cmd_ctx *ctx) { combine_command(ctx, ZSET_DIFF, 0); }
void cmd_zunionstore(cmd_ctx *ctx) { combine_command(ctx, ZSET_UNION, 1); }
void cmd_zinterstore(cmd_ctx *ctx) { combine_command(ctx, ZSET_INTER, 1); }
void cmd_zdiffstore(cmd_ctx *ctx) { combine_command(ctx, ZSET_DIFF, 1); }

void cmd_zintercard(cmd_ctx *ctx) {
    zcombine zc = {0};
    zc.spec.op = ZSET_INTER;
    zset_entries es;
    zset_entries_init(&es);
    if (parse_combine(ctx, 1, &zc, 0, 1) == 0 && combine_inputs(ctx, &zc, SIZE_MAX, &es) == 0) {
        long long n = (long long)es.n;
        reply_int(ctx->r, zc.limit > 0 && n > zc.limit ? zc.limit : n);
    }
    zset_entries_free(&es);
    free(zc.weights);
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The sorted sets commands. */
static const cmd_def zset_defs[] = {
    {"zadd", -4, W | F | OOM, 1, 1, 1, cmd_zadd, "sorted-set", "@write @sortedset @fast",
     "Adds members or updates their scores.",
     "key:key@0 condition[NX|XX] comparison[GT|LT] [change=CH] [increment=INCR] score_member(score:double member)...",
     KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"zincrby", 4, W | F | OOM, 1, 1, 1, cmd_zincrby, "sorted-set", "@write @sortedset @fast",
     "Increments a member's score.",
     "key:key@0 increment:int member", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_UPDATE, 1, 0, 1))},
    {"zrem", -3, W | F, 1, 1, 1, cmd_zrem, "sorted-set", "@write @sortedset @fast",
     "Removes members.",
     "key:key@0 member...", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"zcard", 2, R | F, 1, 1, 1, cmd_zcard, "sorted-set", "@read @sortedset @fast",
     "Returns the number of members.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"zcount", 4, R | F, 1, 1, 1, cmd_zcount, "sorted-set", "@read @sortedset @fast",
     "Counts members in a score range.",
     "key:key@0 min:double max:double", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zlexcount", 4, R | F, 1, 1, 1, cmd_zlexcount, "sorted-set", "@read @sortedset @fast",
     "Counts members in a lexicographical range.",
     "key:key@0 min max", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zscore", 3, R | F, 1, 1, 1, cmd_zscore, "sorted-set", "@read @sortedset @fast",
     "Returns a member's score.",
     "key:key@0 member", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zmscore", -3, R | F, 1, 1, 1, cmd_zmscore, "sorted-set", "@read @sortedset @fast",
     "Returns several members' scores.",
     "key:key@0 member...", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrank", 3, R | F, 1, 1, 1, cmd_zrank, "sorted-set", "@read @sortedset @fast",
     "Returns a member's rank.",
     "key:key@0 member", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrevrank", 3, R | F, 1, 1, 1, cmd_zrevrank, "sorted-set", "@read @sortedset @fast",
     "Returns a member's rank from the highest score.",
     "key:key@0 member", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrange", -4, R, 1, 1, 1, cmd_zrange, "sorted-set", "@read @sortedset @slow",
     "Returns a range of members.",
     "key:key@0 start stop sortby[BYSCORE|BYLEX] [REV] offset_count[LIMIT offset:int count:int] [WITHSCORES]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrangestore", -5, W | OOM, 1, 2, 1, cmd_zrangestore, "sorted-set", "@write @sortedset @slow",
     "Stores a range of members.",
     "dst:key@0 src:key@1 min max sortby[BYSCORE|BYLEX] [REV] offset_count[LIMIT offset:int count:int]",
     KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1), RANGE(KEY_RO | KEY_ACCESS, 2, 0, 1))},
    {"zrevrange", -4, R, 1, 1, 1, cmd_zrevrange, "sorted-set", "@read @sortedset @slow",
     "Returns a range by rank, highest first.",
     "key:key@0 start:int stop:int [WITHSCORES]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrangebyscore", -4, R, 1, 1, 1, cmd_zrangebyscore, "sorted-set", "@read @sortedset @slow",
     "Returns members in a score range.",
     "key:key@0 min:double max:double [WITHSCORES] offset_count[LIMIT offset:int count:int]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrevrangebyscore", -4, R, 1, 1, 1, cmd_zrevrangebyscore, "sorted-set", "@read @sortedset @slow",
     "Returns members in a score range, highest first.",
     "key:key@0 max:double min:double [WITHSCORES] offset_count[LIMIT offset:int count:int]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrangebylex", -4, R, 1, 1, 1, cmd_zrangebylex, "sorted-set", "@read @sortedset @slow",
     "Returns members in a lexicographical range.",
     "key:key@0 min max offset_count[LIMIT offset:int count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zrevrangebylex", -4, R, 1, 1, 1, cmd_zrevrangebylex, "sorted-set", "@read @sortedset @slow",
     "Returns members in a lexicographical range, reversed.",
     "key:key@0 max min offset_count[LIMIT offset:int count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zpopmin", -2, W | F, 1, 1, 1, cmd_zpopmin, "sorted-set", "@write @sortedset @fast",
     "Removes and returns the lowest-scored members.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"zpopmax", -2, W | F, 1, 1, 1, cmd_zpopmax, "sorted-set", "@write @sortedset @fast",
     "Removes and returns the highest-scored members.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"zmpop", -4, W, 0, 0, 0, cmd_zmpop, "sorted-set", "@write @sortedset @slow",
     "Pops from the first non-empty sorted set.",
     "numkeys:int key:key@0... where(MIN|MAX) [COUNT count:int]",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1, 1))},
    {"bzpopmin", -3, W | B | NOSCRIPT | F, 1, -2, 1, cmd_bzpopmin, "sorted-set", "@write @sortedset @fast @blocking",
     "ZPOPMIN, waiting for a member.",
     "key:key@0... timeout:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, -2, 1))},
    {"bzpopmax", -3, W | B | NOSCRIPT | F, 1, -2, 1, cmd_bzpopmax, "sorted-set", "@write @sortedset @fast @blocking",
     "ZPOPMAX, waiting for a member.",
     "key:key@0... timeout:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, -2, 1))},
    {"bzmpop", -5, W | B, 0, 0, 0, cmd_bzmpop, "sorted-set", "@write @sortedset @slow @blocking",
     "ZMPOP, waiting for a member.",
     "timeout:double numkeys:int key:key@0... where(MIN|MAX) [COUNT count:int]",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_DELETE, 2, 0, 1, 1))},
    {"zremrangebyrank", 4, W, 1, 1, 1, cmd_zremrangebyrank, "sorted-set", "@write @sortedset @slow",
     "Removes members in a rank range.",
     "key:key@0 start:int stop:int", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"zremrangebyscore", 4, W, 1, 1, 1, cmd_zremrangebyscore, "sorted-set", "@write @sortedset @slow",
     "Removes members in a score range.",
     "key:key@0 min:double max:double", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"zremrangebylex", 4, W, 1, 1, 1, cmd_zremrangebylex, "sorted-set", "@write @sortedset @slow",
     "Removes members in a lexicographical range.",
     "key:key@0 min max", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"zunion", -3, R, 0, 0, 0, cmd_zunion, "sorted-set", "@read @sortedset @slow",
     "Unites sorted sets.",
     "numkeys:int key:key@0... [WEIGHTS weight:int]... [AGGREGATE aggregate(SUM|MIN|MAX)] [WITHSCORES]",
     KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 1, 0, 1, 1))},
    {"zunionstore", -4, W | OOM, 1, 1, 1, cmd_zunionstore, "sorted-set", "@write @sortedset @slow",
     "Stores the union of sorted sets.",
     "destination:key@0 numkeys:int key:key@1... [WEIGHTS weight:int]... [AGGREGATE aggregate(SUM|MIN|MAX)]",
     KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1), KEYNUM(KEY_RO | KEY_ACCESS, 2, 0, 1, 1))},
    {"zinter", -3, R, 0, 0, 0, cmd_zinter, "sorted-set", "@read @sortedset @slow",
     "Intersects sorted sets.",
     "numkeys:int key:key@0... [WEIGHTS weight:int]... [AGGREGATE aggregate(SUM|MIN|MAX)] [WITHSCORES]",
     KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 1, 0, 1, 1))},
    {"zinterstore", -4, W | OOM, 1, 1, 1, cmd_zinterstore, "sorted-set", "@write @sortedset @slow",
     "Stores the intersection of sorted sets.",
     "destination:key@0 numkeys:int key:key@1... [WEIGHTS weight:int]... [AGGREGATE aggregate(SUM|MIN|MAX)]",
     KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1), KEYNUM(KEY_RO | KEY_ACCESS, 2, 0, 1, 1))},
    {"zintercard", -3, R, 0, 0, 0, cmd_zintercard, "sorted-set", "@read @sortedset @slow",
     "Counts the intersection of sorted sets.",
     "numkeys:int key:key@0... [LIMIT limit:int]", KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 1, 0, 1, 1))},
    {"zdiff", -3, R, 0, 0, 0, cmd_zdiff, "sorted-set", "@read @sortedset @slow",
     "Subtracts sorted sets from the first.",
     "numkeys:int key:key@0... [WITHSCORES]", KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 1, 0, 1, 1))},
    {"zdiffstore", -4, W | OOM, 1, 1, 1, cmd_zdiffstore, "sorted-set", "@write @sortedset @slow",
     "Stores the difference of sorted sets.",
     "destination:key@0 numkeys:int key:key@1...",
     KEYS(RANGE(KEY_OW | KEY_UPDATE, 1, 0, 1), KEYNUM(KEY_RO | KEY_ACCESS, 2, 0, 1, 1))},
    {"zrandmember", -2, R, 1, 1, 1, cmd_zrandmember, "sorted-set", "@read @sortedset @slow",
     "Returns random members.",
     "key:key@0 options[count:int [WITHSCORES]]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"zscan", -3, R, 1, 1, 1, cmd_zscan, "sorted-set", "@read @sortedset @slow",
     "Iterates over members and scores.",
     "key:key@0 cursor:int [MATCH pattern:pattern] [COUNT count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))}
};
const cmd_family zset_commands = {zset_defs, sizeof(zset_defs) / sizeof(zset_defs[0])};
