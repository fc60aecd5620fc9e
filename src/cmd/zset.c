/* Sorted set commands. Each member has its score as a subkey in the default column family
 * (member → ordered double) and an entry in the score index, zset_score (score member),
 * which keeps the members in score order for ranges, ranks and pops. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "cmd/members.h"
#include "types/compound.h"
#include "types/keyspace.h"
#include "util/num.h"

static int open_zset_at(cmd_ctx *ctx, compound *z, const resp_arg *key) {
    return members_open(ctx, z, key, TYPE_ZSET);
}

static int open_zset(cmd_ctx *ctx, compound *z) { return open_zset_at(ctx, z, &ctx->argv[1]); }

/* A member's score: CK_FOUND, CK_MISSING, CK_ERROR, or CK_CORRUPT if the stored score is not one. */
static int member_score(compound *z, const char *m, size_t len, double *score) {
    buf v;
    buf_init(&v);
    int rc = compound_get(z, m, len, &v);
    if (rc == CK_FOUND && enc_decode_score(v.data, v.len, score) < 0) rc = CK_CORRUPT;
    buf_free(&v);
    return rc;
}

/* Whether every member named by argv[first], argv[first + step], … has a readable score or
 * none, so that a command that writes as it goes can fail before its first write. Returns
 * CK_FOUND if so, else CK_CORRUPT or CK_ERROR. */
static int scores_readable(cmd_ctx *ctx, compound *z, int first, int step) {
    for (int i = first; i < ctx->argc; i += step) {
        double score;
        int rc = member_score(z, ctx->argv[i].ptr, ctx->argv[i].len, &score);
        if (rc == CK_CORRUPT || rc == CK_ERROR) return rc;
    }
    return CK_FOUND;
}

/* Replies the error for a member_score or scores_readable failure. */
static void reply_score_error(cmd_ctx *ctx, const resp_arg *key, int rc) {
    if (rc == CK_CORRUPT) reply_corrupt(ctx, key->ptr, key->len);
    else reply_storage_error(ctx);
}

/* The score-index key of (score, member). */
static void index_key(const compound *z, buf *out, double score, const char *m, size_t len) {
    uint8_t s[8];
    enc_ordered_double(s, score);
    buf sub;
    buf_init(&sub);
    buf_append(&sub, s, 8);
    buf_append(&sub, m, len);
    enc_subkey(out, z->db, z->key, z->klen, z->m.version, sub.data, sub.len);
    buf_free(&sub);
}

/* Sets a member's score; old is its current score when had_it. */
static void member_set(compound *z, const char *m, size_t len, double score, int had_it, double old) {
    buf k;
    buf_init(&k);
    if (had_it) {
        index_key(z, &k, old, m, len);
        txn_delete(z->t, CF_ZSET_SCORE, k.data, k.len);
        buf_clear(&k);
    } else {
        z->m.size++;
    }
    uint8_t s[8];
    enc_ordered_double(s, score);
    compound_put(z, m, len, (const char *)s, 8);
    index_key(z, &k, score, m, len);
    bounds_note_put(z->t, CF_ZSET_SCORE, k.data, k.len, k.len - 8 - len);
    txn_put(z->t, CF_ZSET_SCORE, k.data, k.len, "", 0);
    buf_free(&k);
}

static void member_del(compound *z, const char *m, size_t len, double score) {
    buf k;
    buf_init(&k);
    compound_del(z, m, len);
    index_key(z, &k, score, m, len);
    txn_delete(z->t, CF_ZSET_SCORE, k.data, k.len);
    z->m.size--;
    buf_free(&k);
}

/* ---- walking the score index ---- */

typedef struct zwalk {
    bounded_walk walk;
} zwalk;

/* Opens a walk in score order (or reverse), starting at a score (forward: the first entry
 * with that score or more; reverse: the last entry with less than `at`), or at an end. */
static void zwalk_open(zwalk *w, compound *z, int rev, int from_score, double at) {
    buf prefix;
    buf_init(&prefix);
    enc_subkey(&prefix, z->db, z->key, z->klen, z->m.version, NULL, 0);
    uint8_t s[8];
    enc_ordered_double(s, at);
    bounded_walk_open(&w->walk, z->t, CF_ZSET_SCORE, prefix.data, prefix.len, from_score ? (const char *)s : NULL,
                      from_score ? 8 : 0, rev);
    buf_free(&prefix);
}

static int zwalk_next(zwalk *w, const char **m, size_t *mlen, double *score) {
    const char *k, *v;
    size_t kl, vl, plen = w->walk.prefix.len;
    if (!bounded_walk_next(&w->walk, &k, &kl, &v, &vl) || kl < plen + 8) return 0;
    *score = enc_decode_ordered_double((const uint8_t *)k + plen);
    *m = k + plen + 8;
    *mlen = kl - plen - 8;
    return 1;
}

/* 0, or -1 if the walk stopped on a read error (what it found is partial). */
STORE_MUST_CHECK static int zwalk_close(zwalk *w) { return bounded_walk_close(&w->walk); }

/* ---- range specifications (ZRANGE and friends) ---- */

enum { BY_INDEX, BY_SCORE, BY_LEX };

typedef struct lex_bound {
    int inf;       /* -1 = "-", 1 = "+", 0 = a value */
    int exclusive;
    const char *v;
    size_t len;
} lex_bound;

typedef struct zspec {
    int by, rev;
    long long start, stop;        /* BY_INDEX, already clamped */
    double min, max;              /* BY_SCORE */
    int minex, maxex;
    lex_bound lmin, lmax;         /* BY_LEX */
    long long offset, limit;      /* LIMIT; limit < 0 = all */
} zspec;

static int parse_score_bound(const resp_arg *a, double *v, int *exclusive) {
    const char *p = a->ptr;
    size_t len = a->len;
    *exclusive = len > 0 && p[0] == '(';
    if (*exclusive) p++, len--;
    int out_of_range; /* as in Redis, a bound out of a double's range is inf or 0 */
    return num_parse_double_loose(p, len, v, &out_of_range);
}

static int parse_lex_bound(const resp_arg *a, lex_bound *b) {
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

static int compare_lex(const char *m, size_t mlen, const lex_bound *b) {
    if (b->inf) return -b->inf; /* everything is above "-" and below "+" */
    return bytes_compare(m, mlen, b->v, b->len);
}

/* Whether an entry is past the far end of the range (the walk can stop) or before its near
 * end (skip it). Returns 1 past, -1 before, 0 inside. */
static int range_position(const zspec *s, const char *m, size_t mlen, double score) {
    int below, above;
    if (s->by == BY_SCORE) {
        below = s->minex ? score <= s->min : score < s->min;
        above = s->maxex ? score >= s->max : score > s->max;
    } else if (s->by == BY_LEX) {
        int cmin = compare_lex(m, mlen, &s->lmin), cmax = compare_lex(m, mlen, &s->lmax);
        below = s->lmin.exclusive ? cmin <= 0 : cmin < 0;
        above = s->lmax.exclusive ? cmax >= 0 : cmax > 0;
    } else {
        return 0;
    }
    if (s->rev) return below ? 1 : above ? -1 : 0;
    return above ? 1 : below ? -1 : 0;
}

/* Visits one entry of a range; returns 1 to stop the walk there, else 0. */
typedef int (*zvisit)(void *arg, const char *m, size_t mlen, double score);

/* Visits the entries of a range in order; returns how many, or -1 on a read error. */
STORE_MUST_CHECK static long long zrange_walk(compound *z, const zspec *s, zvisit visit, void *arg) {
    if (!z->found || s->limit == 0) return 0;
    zwalk w;
    /* Start at the near bound of a score range (an infinite one is an end of the index). */
    int from_score = s->by == BY_SCORE && !(s->rev && isinf(s->max) && s->max > 0);
    zwalk_open(&w, z, s->rev, from_score, s->rev ? nextafter(s->max, INFINITY) : s->min);
    const char *m;
    size_t ml;
    double score;
    long long index = 0, skipped = 0, n = 0;
    while (zwalk_next(&w, &m, &ml, &score)) {
        if (s->by == BY_INDEX) {
            if (index++ < s->start) continue;
            if (index - 1 > s->stop) break;
        } else {
            int pos = range_position(s, m, ml, score);
            if (pos > 0) break;
            if (pos < 0) continue;
        }
        if (skipped < s->offset) {
            skipped++;
            continue;
        }
        n++;
        if (visit(arg, m, ml, score) || (s->limit > 0 && n == s->limit)) break;
    }
    return zwalk_close(&w) < 0 ? -1 : n;
}

/* Parses the range part of ZRANGE-style arguments: min/max at argv[first], argv[first+1],
 * the kind (by), and [LIMIT offset count] anywhere after. Replies and returns -1 on errors. */
static int parse_range(cmd_ctx *ctx, compound *z, int first, zspec *s) {
    const resp_arg *lo = &ctx->argv[first], *hi = &ctx->argv[first + 1];
    if (s->rev && s->by != BY_INDEX) { /* ZREVRANGEBYSCORE / BYLEX take max first */
        const resp_arg *t = lo;
        lo = hi;
        hi = t;
    }
    if (s->by == BY_SCORE) {
        if (parse_score_bound(lo, &s->min, &s->minex) < 0 || parse_score_bound(hi, &s->max, &s->maxex) < 0) {
            reply_error(ctx->r, "ERR min or max is not a float");
            return -1;
        }
    } else if (s->by == BY_LEX) {
        if (parse_lex_bound(lo, &s->lmin) < 0 || parse_lex_bound(hi, &s->lmax) < 0) {
            reply_error(ctx->r, "ERR min or max not valid string range item");
            return -1;
        }
    } else {
        if (arg_ll(ctx, lo, &s->start) < 0 || arg_ll(ctx, hi, &s->stop) < 0) return -1;
        long long size = z->found ? (long long)z->m.size : 0;
        if (s->start < 0) s->start += size;
        if (s->stop < 0) s->stop += size;
        if (s->start < 0) s->start = 0;
        if (s->stop >= size) s->stop = size - 1;
        if (s->start > s->stop) s->limit = 0;
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
    if (c->withscores && c->r.resp == 3) reply_array(&c->r, 2);
    reply_bulk(&c->r, m, mlen);
    if (c->withscores) reply_double(&c->r, score);
    c->items += c->withscores && c->r.resp == 2 ? 2 : 1;
    return reply_was_cut(&c->r);
}

/* Which options a range command takes after min max. */
enum { OPT_BY = 1, OPT_REV = 2, OPT_LIMIT = 4, OPT_WITHSCORES = 8 };

/* Parses range options (BYSCORE BYLEX REV LIMIT WITHSCORES, as `allowed` says). */
static int parse_zrange_options(cmd_ctx *ctx, int first, zspec *s, int *withscores, int allowed) {
    int by_given = 0;
    for (int i = first; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if ((allowed & OPT_BY) && !by_given && arg_is(a, "byscore")) s->by = BY_SCORE, by_given = 1;
        else if ((allowed & OPT_BY) && !by_given && arg_is(a, "bylex")) s->by = BY_LEX, by_given = 1;
        else if ((allowed & OPT_REV) && arg_is(a, "rev")) s->rev = 1;
        else if ((allowed & OPT_WITHSCORES) && arg_is(a, "withscores")) *withscores = 1;
        else if ((allowed & OPT_LIMIT) && arg_is(a, "limit") && i + 2 < ctx->argc) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &s->offset) < 0 || arg_ll(ctx, &ctx->argv[i + 2], &s->limit) < 0) return -1;
            i += 2;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    if (s->limit != -1 && s->by == BY_INDEX) {
        reply_error(ctx->r, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return -1;
    }
    if (*withscores && s->by == BY_LEX) {
        reply_error(ctx->r, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return -1;
    }
    if (s->offset < 0) s->limit = 0; /* a negative offset returns nothing, as in Redis */
    return 0;
}

/* Replies a range of an open zset. */
static void reply_range(cmd_ctx *ctx, compound *z, zspec *s, int withscores) {
    buf body;
    buf_init(&body);
    zcollect c = {reply_part(ctx->r, &body), withscores, 0};
    if (zrange_walk(z, s, collect_reply, &c) < 0) {
        reply_storage_error(ctx);
    } else {
        reply_array(ctx->r, c.items);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

/* ZRANGE-family entry point: by/rev preset for the old commands, which take no BY / REV. */
static void zrange_generic(cmd_ctx *ctx, int by, int rev, int allowed) {
    zspec s = {0};
    s.by = by;
    s.rev = rev;
    s.limit = -1;
    int withscores = 0;
    if (parse_zrange_options(ctx, 4, &s, &withscores, allowed) < 0) return;
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    if (parse_range(ctx, &z, 2, &s) == 0) reply_range(ctx, &z, &s, withscores);
    compound_free(&z);
}

void cmd_zrange(cmd_ctx *ctx) { zrange_generic(ctx, BY_INDEX, 0, OPT_BY | OPT_REV | OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrevrange(cmd_ctx *ctx) { zrange_generic(ctx, BY_INDEX, 1, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrangebyscore(cmd_ctx *ctx) { zrange_generic(ctx, BY_SCORE, 0, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrevrangebyscore(cmd_ctx *ctx) { zrange_generic(ctx, BY_SCORE, 1, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrangebylex(cmd_ctx *ctx) { zrange_generic(ctx, BY_LEX, 0, OPT_LIMIT | OPT_WITHSCORES); }
void cmd_zrevrangebylex(cmd_ctx *ctx) { zrange_generic(ctx, BY_LEX, 1, OPT_LIMIT | OPT_WITHSCORES); }

static int count_visit(void *arg, const char *m, size_t mlen, double score) {
    (void)m, (void)mlen, (void)score;
    (*(long long *)arg)++;
    return 0;
}

static void zcount_generic(cmd_ctx *ctx, int by) {
    zspec s = {0};
    s.by = by;
    s.limit = -1;
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    long long n = 0;
    if (parse_range(ctx, &z, 2, &s) == 0) {
        if (zrange_walk(&z, &s, count_visit, &n) < 0) reply_storage_error(ctx);
        else reply_int(ctx->r, n);
    }
    compound_free(&z);
}

void cmd_zcount(cmd_ctx *ctx) { zcount_generic(ctx, BY_SCORE); }
void cmd_zlexcount(cmd_ctx *ctx) { zcount_generic(ctx, BY_LEX); }

/* ---- writes ---- */

enum { ZADD_NX = 1, ZADD_XX = 2, ZADD_GT = 4, ZADD_LT = 8, ZADD_CH = 16, ZADD_INCR = 32 };

static int parse_zadd_flags(cmd_ctx *ctx, int *flags, int *first_pair) {
    int i = 2;
    *flags = 0;
    for (; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "nx")) *flags |= ZADD_NX;
        else if (arg_is(a, "xx")) *flags |= ZADD_XX;
        else if (arg_is(a, "gt")) *flags |= ZADD_GT;
        else if (arg_is(a, "lt")) *flags |= ZADD_LT;
        else if (arg_is(a, "ch")) *flags |= ZADD_CH;
        else if (arg_is(a, "incr")) *flags |= ZADD_INCR;
        else break;
    }
    *first_pair = i;
    int pairs = ctx->argc - i;
    if (pairs == 0 || pairs % 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    if ((*flags & ZADD_NX) && (*flags & ZADD_XX)) {
        reply_error(ctx->r, "ERR XX and NX options at the same time are not compatible");
        return -1;
    }
    int gtltnx = !!(*flags & ZADD_GT) + !!(*flags & ZADD_LT) + !!(*flags & ZADD_NX);
    if (gtltnx > 1) {
        reply_error(ctx->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return -1;
    }
    if ((*flags & ZADD_INCR) && pairs > 2) {
        reply_error(ctx->r, "ERR INCR option supports a single increment-element pair");
        return -1;
    }
    return 0;
}

enum { ZA_SKIPPED, ZA_UNCHANGED, ZA_CHANGED, ZA_NAN, ZA_ERROR, ZA_CORRUPT };

/* Scores are stored without the sign of a zero, so -0 sorts and prints as 0, as in Redis's
 * small sorted sets. */
static double stored_score(double score) { return score == 0 ? 0 : score; }

/* Applies one ZADD pair. *added is set when the member is new; *result is its score after
 * (unless skipped by NX/XX/GT/LT) as computed: ZINCRBY -0 on a new member answers -0, as Redis
 * does, though 0 is stored. */
static int zadd_one(compound *z, int flags, double score, const resp_arg *m, int *added, double *result) {
    double old = 0;
    int had = member_score(z, m->ptr, m->len, &old);
    *added = 0;
    if (had == CK_ERROR) return ZA_ERROR;
    if (had == CK_CORRUPT) return ZA_CORRUPT;
    if (((flags & ZADD_NX) && had) || ((flags & ZADD_XX) && !had)) return ZA_SKIPPED;
    double next = (flags & ZADD_INCR) && had ? old + score : score;
    if (isnan(next)) return ZA_NAN;
    if (had && (((flags & ZADD_GT) && !(next > old)) || ((flags & ZADD_LT) && !(next < old)))) return ZA_SKIPPED;
    *result = next;
    next = stored_score(next);
    if (had && next == old) return ZA_UNCHANGED;
    member_set(z, m->ptr, m->len, next, had, old);
    *added = !had;
    return ZA_CHANGED;
}

/* Parses every score first, so a bad one changes nothing. */
static double *parse_scores(cmd_ctx *ctx, int first, int pairs) {
    double *scores = malloc((size_t)pairs * sizeof(double));
    if (!scores) abort();
    for (int p = 0; p < pairs; p++) {
        if (num_parse_double(ctx->argv[first + 2 * p].ptr, ctx->argv[first + 2 * p].len, &scores[p]) < 0) {
            reply_error(ctx->r, ERR_NOT_FLOAT);
            free(scores);
            return NULL;
        }
    }
    return scores;
}

/* ZADD and ZINCRBY: pairs of (score, member) from argv[first]. */
static void zadd_generic(cmd_ctx *ctx, int flags, int first) {
    int pairs = (ctx->argc - first) / 2;
    double *scores = parse_scores(ctx, first, pairs);
    if (!scores) return;
    compound z;
    if (open_zset(ctx, &z) < 0) {
        free(scores);
        return;
    }
    effect e;
    effect_init(&e, TYPE_ZSET, "ZADD", &ctx->argv[1], 2 * pairs);
    long long added = 0, changed = 0;
    int rc = ZA_SKIPPED;
    double result = 0;
    /* One pair fails before it writes; more are all checked first. */
    int readable = pairs > 1 ? scores_readable(ctx, &z, first + 1, 2) : CK_FOUND;
    if (readable != CK_FOUND) rc = readable == CK_CORRUPT ? ZA_CORRUPT : ZA_ERROR;
    for (int p = 0; p < pairs && rc != ZA_NAN && rc != ZA_ERROR && rc != ZA_CORRUPT; p++) {
        const resp_arg *m = &ctx->argv[first + 2 * p + 1];
        int was_added;
        rc = zadd_one(&z, flags, scores[p], m, &was_added, &result);
        if (rc != ZA_CHANGED) continue;
        effect_add_score(&e, stored_score(result));
        effect_add(&e, m->ptr, m->len);
        added += was_added;
        changed++;
    }
    if (rc == ZA_NAN) {
        reply_error(ctx->r, "ERR resulting score is not a number (NaN)");
        e.argc = 2; /* nothing happened */
    } else if (rc == ZA_ERROR || rc == ZA_CORRUPT) {
        reply_score_error(ctx, &ctx->argv[1], rc == ZA_CORRUPT ? CK_CORRUPT : CK_ERROR);
        e.argc = 2;
    } else {
        if (changed) compound_save(&z);
        if (!(flags & ZADD_INCR)) reply_int(ctx->r, (flags & ZADD_CH) ? changed : added);
        else if (rc == ZA_SKIPPED) reply_null(ctx->r);
        else reply_double(ctx->r, result);
    }
    effect_finish(ctx, &e, 3);
    free(scores);
    compound_free(&z);
}

void cmd_zadd(cmd_ctx *ctx) {
    int flags, first;
    if (parse_zadd_flags(ctx, &flags, &first) == 0) zadd_generic(ctx, flags, first);
}

void cmd_zincrby(cmd_ctx *ctx) { zadd_generic(ctx, ZADD_INCR, 2); }

void cmd_zrem(cmd_ctx *ctx) {
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    int readable = scores_readable(ctx, &z, 2, 1);
    if (readable != CK_FOUND) {
        reply_score_error(ctx, &ctx->argv[1], readable);
        compound_free(&z);
        return;
    }
    effect e;
    effect_init(&e, TYPE_ZSET, "ZREM", &ctx->argv[1], ctx->argc - 2);
    int rc = CK_MISSING;
    for (int i = 2; i < ctx->argc && (rc == CK_FOUND || rc == CK_MISSING); i++) {
        double score;
        rc = member_score(&z, ctx->argv[i].ptr, ctx->argv[i].len, &score);
        if (rc != CK_FOUND) continue;
        member_del(&z, ctx->argv[i].ptr, ctx->argv[i].len, score);
        effect_add(&e, ctx->argv[i].ptr, ctx->argv[i].len);
    }
    long long removed = e.argc - 2;
    if (rc != CK_FOUND && rc != CK_MISSING) {
        effect_discard(&e);
        reply_score_error(ctx, &ctx->argv[1], rc);
    } else {
        if (removed) compound_save(&z);
        effect_finish(ctx, &e, 3);
        reply_int(ctx->r, removed);
    }
    compound_free(&z);
}

void cmd_zcard(cmd_ctx *ctx) {
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    reply_int(ctx->r, z.found ? (long long)z.m.size : 0);
    compound_free(&z);
}

void cmd_zscore(cmd_ctx *ctx) {
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    double score;
    int rc = member_score(&z, ctx->argv[2].ptr, ctx->argv[2].len, &score);
    if (rc == CK_FOUND) reply_double(ctx->r, score);
    else if (rc == CK_MISSING) reply_null(ctx->r);
    else reply_score_error(ctx, &ctx->argv[1], rc);
    compound_free(&z);
}

void cmd_zmscore(cmd_ctx *ctx) {
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    size_t mark = ctx->r->out->len;
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        double score;
        int rc = member_score(&z, ctx->argv[i].ptr, ctx->argv[i].len, &score);
        if (rc == CK_FOUND) {
            reply_double(ctx->r, score);
        } else if (rc == CK_MISSING) {
            reply_null(ctx->r);
        } else {
            ctx->r->out->len = mark; /* the array is dropped for the error */
            reply_score_error(ctx, &ctx->argv[1], rc);
            break;
        }
    }
    compound_free(&z);
}

static void zrank_generic(cmd_ctx *ctx, int rev) {
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    double score;
    const resp_arg *m = &ctx->argv[2];
    int rc = member_score(&z, m->ptr, m->len, &score);
    if (rc != CK_FOUND) {
        if (rc == CK_MISSING) reply_null(ctx->r);
        else reply_score_error(ctx, &ctx->argv[1], rc);
        compound_free(&z);
        return;
    }
    zwalk w;
    zwalk_open(&w, &z, rev, 0, 0);
    const char *em;
    size_t eml;
    double es;
    long long rank = 0;
    while (zwalk_next(&w, &em, &eml, &es) && !(eml == m->len && memcmp(em, m->ptr, eml) == 0)) rank++;
    if (zwalk_close(&w) < 0) reply_storage_error(ctx);
    else reply_int(ctx->r, rank);
    compound_free(&z);
}

void cmd_zrank(cmd_ctx *ctx) { zrank_generic(ctx, 0); }
void cmd_zrevrank(cmd_ctx *ctx) { zrank_generic(ctx, 1); }

/* Entries copied out of a walk (the index must not change while it is walked). */
typedef struct zentries {
    buf members; /* [u32 len][bytes] each */
    double *scores;
    size_t n, cap;
} zentries;

static int zentries_add(void *arg, const char *m, size_t mlen, double score) {
    zentries *e = arg;
    uint32_t len = (uint32_t)mlen;
    buf_append(&e->members, &len, sizeof(len));
    buf_append(&e->members, m, mlen);
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->scores = realloc(e->scores, e->cap * sizeof(double));
        if (!e->scores) abort();
    }
    e->scores[e->n++] = score;
    return 0;
}

/* Walks the copied entries: *pos starts at 0. */
static const char *zentries_next(const zentries *e, size_t *pos, size_t *mlen) {
    uint32_t len;
    memcpy(&len, e->members.data + *pos, sizeof(len));
    const char *m = e->members.data + *pos + sizeof(len);
    *pos += sizeof(len) + len;
    *mlen = len;
    return m;
}

static void zentries_free(zentries *e) {
    buf_free(&e->members);
    free(e->scores);
}

/* Deletes copied entries from the zset and records ZREM of them. */
static void remove_entries(cmd_ctx *ctx, compound *z, const resp_arg *key, const zentries *es) {
    effect e;
    effect_init(&e, TYPE_ZSET, "ZREM", key, (int)es->n);
    size_t pos = 0, ml;
    for (size_t i = 0; i < es->n; i++) {
        const char *m = zentries_next(es, &pos, &ml);
        member_del(z, m, ml, es->scores[i]);
        effect_add(&e, m, ml);
    }
    if (es->n) compound_save(z);
    effect_finish(ctx, &e, 3);
}

static void zremrange_generic(cmd_ctx *ctx, int by) {
    zspec s = {0};
    s.by = by;
    s.limit = -1;
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    if (parse_range(ctx, &z, 2, &s) == 0) {
        zentries es = {0};
        buf_init(&es.members);
        if (zrange_walk(&z, &s, zentries_add, &es) < 0) {
            reply_storage_error(ctx);
        } else {
            remove_entries(ctx, &z, &ctx->argv[1], &es);
            reply_int(ctx->r, (long long)es.n);
        }
        zentries_free(&es);
    }
    compound_free(&z);
}

void cmd_zremrangebyrank(cmd_ctx *ctx) { zremrange_generic(ctx, BY_INDEX); }
void cmd_zremrangebyscore(cmd_ctx *ctx) { zremrange_generic(ctx, BY_SCORE); }
void cmd_zremrangebylex(cmd_ctx *ctx) { zremrange_generic(ctx, BY_LEX); }

/* How popped entries are replied: a flat array (member, score, …), pairs in RESP3 (flat in
 * RESP2), or after the key: [key, [[member, score], …]] (ZMPOP) or [key, member, score] (BZPOPMIN). */
enum pop_shape { POP_FLAT, POP_PAIRS, POP_KEY_NESTED, POP_KEY_FLAT };

static void reply_popped(cmd_ctx *ctx, const resp_arg *key, const zentries *es, enum pop_shape shape) {
    int pairs = shape == POP_KEY_NESTED || (shape == POP_PAIRS && ctx->r->resp == 3);
    if (shape == POP_KEY_NESTED || shape == POP_KEY_FLAT) {
        reply_array(ctx->r, shape == POP_KEY_FLAT ? 3 : 2);
        reply_bulk(ctx->r, key->ptr, key->len);
    }
    if (shape != POP_KEY_FLAT) reply_array(ctx->r, pairs ? (long long)es->n : (long long)es->n * 2);
    size_t pos = 0, ml;
    for (size_t i = 0; i < es->n; i++) {
        const char *m = zentries_next(es, &pos, &ml);
        if (pairs) reply_array(ctx->r, 2);
        reply_bulk(ctx->r, m, ml);
        reply_double(ctx->r, es->scores[i]);
    }
}

/* Pops up to count lowest (or highest) entries of an open zset and replies them. The walk
 * stops at the size; finding fewer entries than the size promises means the zset is corrupt:
 * nothing is popped and the corrupt-key error is replied (an empty pop of a zset that exists
 * would be a reply Redis never sends, and a blocking pop would wait on it for good).
 * Returns 0, or -1 after the error. */
static int pop_entries(cmd_ctx *ctx, compound *z, const resp_arg *key, int max, long long count,
                       enum pop_shape shape) {
    long long want = count < (long long)z->m.size ? count : (long long)z->m.size;
    zspec s = {0};
    s.by = BY_INDEX;
    s.rev = max;
    s.stop = want - 1;
    s.limit = -1;
    zentries es = {0};
    buf_init(&es.members);
    int failed = zrange_walk(z, &s, zentries_add, &es) < 0;
    int intact = !failed && (long long)es.n == want;
    if (intact) {
        reply_popped(ctx, key, &es, shape);
        remove_entries(ctx, z, key, &es);
    } else if (failed) {
        reply_storage_error(ctx);
    } else {
        reply_corrupt(ctx, key->ptr, key->len);
    }
    zentries_free(&es);
    return intact ? 0 : -1;
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
    compound z;
    if (open_zset(ctx, &z) < 0) return;
    pop_entries(ctx, &z, &ctx->argv[1], max, count, ctx->argc == 3 ? POP_PAIRS : POP_FLAT);
    compound_free(&z);
}

void cmd_zpopmin(cmd_ctx *ctx) { zpop_generic(ctx, 0); }
void cmd_zpopmax(cmd_ctx *ctx) { zpop_generic(ctx, 1); }

/* ZMPOP / BZMPOP from argument `first` (numkeys): 1 popped (replied), 0 all empty, -1 error. */
static int zset_mpop(cmd_ctx *ctx, int first) {
    int nkeys, max;
    long long count;
    if (parse_mpop(ctx, first, "min", "max", &nkeys, &max, &count) < 0) return -1;
    for (int i = first + 1; i <= first + nkeys; i++) {
        compound z;
        if (open_zset_at(ctx, &z, &ctx->argv[i]) < 0) return -1;
        int found = z.found;
        int rc = found ? pop_entries(ctx, &z, &ctx->argv[i], max, count, POP_KEY_NESTED) : 0;
        compound_free(&z);
        if (found) return rc < 0 ? -1 : 1;
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
        compound z;
        if (open_zset_at(ctx, &z, &ctx->argv[i]) < 0) return;
        int found = z.found;
        if (found) pop_entries(ctx, &z, &ctx->argv[i], max, 1, POP_KEY_FLAT);
        compound_free(&z);
        if (found) return;
    }
    blocking_wait_or_nil(ctx, timeout, 0);
}

void cmd_bzpopmin(cmd_ctx *ctx) { bzpop_generic(ctx, 0); }
void cmd_bzpopmax(cmd_ctx *ctx) { bzpop_generic(ctx, 1); }

/* Empties the destination argv[1] of a STORE command and opens it as a new zset: 0, or -1
 * after replying the storage error (also when the reading before it failed: read_failed). */
static int store_into(cmd_ctx *ctx, compound *dst, int read_failed) {
    const resp_arg *key = &ctx->argv[1];
    if (!read_failed && replace_key(ctx, key) == 0) {
        if (compound_open(dst, ctx->t, ctx->db, key->ptr, key->len, TYPE_ZSET) != CK_ERROR) return 0;
        compound_free(dst);
    }
    reply_storage_error(ctx);
    return -1;
}

void cmd_zrangestore(cmd_ctx *ctx) {
    zspec s = {0};
    s.by = BY_INDEX;
    s.limit = -1;
    int withscores = 0;
    if (parse_zrange_options(ctx, 5, &s, &withscores, OPT_BY | OPT_REV | OPT_LIMIT) < 0) return;
    compound src;
    if (open_zset_at(ctx, &src, &ctx->argv[2]) < 0) return;
    zentries es = {0};
    buf_init(&es.members);
    /* parse_range reads min/max at argv[3..4] of ZRANGESTORE dst src min max. */
    compound dst;
    if (parse_range(ctx, &src, 3, &s) == 0 && store_into(ctx, &dst, zrange_walk(&src, &s, zentries_add, &es) < 0) == 0) {
        const resp_arg *dst_key = &ctx->argv[1];
        effect e;
        effect_init(&e, TYPE_ZSET, "ZADD", dst_key, 2 * (int)es.n);
        size_t pos = 0, ml;
        for (size_t i = 0; i < es.n; i++) {
            const char *m = zentries_next(&es, &pos, &ml);
            member_set(&dst, m, ml, es.scores[i], 0, 0);
            effect_add_score(&e, es.scores[i]);
            effect_add(&e, m, ml);
        }
        if (es.n) compound_save(&dst);
        effect_finish(ctx, &e, 3);
        reply_int(ctx->r, (long long)es.n);
        compound_free(&dst);
    }
    zentries_free(&es);
    compound_free(&src);
}

void cmd_zscan(cmd_ctx *ctx) { members_reply_scan(ctx, TYPE_ZSET, 1); }

/* A member's stored value is its score (8 bytes, ordered encoding); -1 if it is not one. */
static int reply_member_score(reply *r, const char *val, size_t len) {
    double score;
    if (enc_decode_score(val, len, &score) < 0) return -1;
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

enum { AGG_SUM, AGG_MIN, AGG_MAX };

typedef struct zin {
    const char *m;
    size_t len;
    double score;
    int input;
} zin;

typedef struct zcombine {
    int op; /* OP_UNION, OP_INTER, OP_DIFF */
    int numkeys, first_key, aggregate, withscores;
    double *weights;
    long long limit; /* ZINTERCARD */
} zcombine;

enum { OP_UNION, OP_INTER, OP_DIFF };

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
    zc->numkeys = (int)n;
    zc->first_key = at + 1;
    zc->weights = malloc((size_t)n * sizeof(double));
    if (!zc->weights) abort();
    for (int i = 0; i < n; i++) zc->weights[i] = 1;
    for (int i = at + 1 + (int)n; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "weights") && zc->op != OP_DIFF && !allow_limit && i + n < ctx->argc) {
            for (int k = 0; k < n; k++) {
                if (num_parse_double(ctx->argv[i + 1 + k].ptr, ctx->argv[i + 1 + k].len, &zc->weights[k]) < 0) {
                    reply_error(ctx->r, "ERR weight value is not a float");
                    return -1;
                }
            }
            i += (int)n;
        } else if (arg_is(a, "aggregate") && zc->op != OP_DIFF && !allow_limit && i + 1 < ctx->argc) {
            const resp_arg *v = &ctx->argv[++i];
            if (arg_is(v, "sum")) zc->aggregate = AGG_SUM;
            else if (arg_is(v, "min")) zc->aggregate = AGG_MIN;
            else if (arg_is(v, "max")) zc->aggregate = AGG_MAX;
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

static int compare_zin_member(const void *a, const void *b) {
    const zin *x = a, *y = b;
    int c = bytes_compare(x->m, x->len, y->m, y->len);
    return c ? c : x->input - y->input;
}

static int compare_zin_score(const void *a, const void *b) {
    const zin *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return bytes_compare(x->m, x->len, y->m, y->len);
}

static double aggregate(int how, double acc, double v) {
    if (how == AGG_MIN) return v < acc ? v : acc;
    if (how == AGG_MAX) return v > acc ? v : acc;
    double s = acc + v;
    return isnan(s) ? 0 : s; /* inf + -inf counts as 0, as in Redis */
}

/* Combines the inputs into result entries (member, score), sorted by score then member. */
static long long combine(const zcombine *zc, zin *all, long long n) {
    qsort(all, (size_t)n, sizeof(zin), compare_zin_member);
    long long w = 0;
    for (long long i = 0; i < n;) {
        long long j = i + 1;
        double acc = all[i].score;
        while (j < n && all[j].len == all[i].len && memcmp(all[j].m, all[i].m, all[i].len) == 0) {
            acc = aggregate(zc->aggregate, acc, all[j].score);
            j++;
        }
        int keep = zc->op == OP_UNION || (zc->op == OP_INTER && j - i == zc->numkeys) ||
                   (zc->op == OP_DIFF && all[i].input == 0 && j - i == 1);
        if (keep) {
            all[w] = all[i];
            all[w++].score = zc->op == OP_DIFF ? all[i].score : acc;
        }
        i = j;
    }
    qsort(all, (size_t)w, sizeof(zin), compare_zin_score);
    return w;
}

/* The inputs read so far: entries, and their members' offsets into the arena (fixed up at
 * the end: the arena moves as it grows). A union replied to a client combines them as it goes
 * (see read_input), bounded by the room its reply has. */
typedef struct zinputs {
    zin *all;
    size_t n, cap;
    buf *arena;
    buf offsets;
    const zcombine *zc;
    size_t room, bytes, check_at; /* bytes: what the entries take in a reply at least */
    int over;                     /* a union found more than room: it stopped */
} zinputs;

/* Points the entries at their members in the arena. */
static void point_at_members(zinputs *in) {
    for (size_t i = 0; i < in->n; i++) {
        size_t off;
        memcpy(&off, in->offsets.data + i * sizeof(off), sizeof(off));
        in->all[i].m = in->arena->data + off;
    }
}

/* Combines a union's entries so far (their repeats aggregated, in input order as at the end)
 * and copies what is left to a new arena; the bytes they take in a reply at least become
 * in->bytes. */
static void compact_union(zinputs *in) {
    point_at_members(in);
    in->n = (size_t)combine(in->zc, in->all, (long long)in->n);
    buf arena;
    buf_init(&arena);
    buf_clear(&in->offsets);
    in->bytes = 0;
    for (size_t i = 0; i < in->n; i++) {
        size_t off = arena.len;
        buf_append(&arena, in->all[i].m, in->all[i].len);
        buf_append(&in->offsets, &off, sizeof(off));
        in->bytes += in->all[i].len + 5; /* "$<len>\r\n<member>\r\n" */
    }
    buf_free(in->arena);
    *in->arena = arena;
}

/* Counts an entry read; a union that has found more than its reply has room for is over (its
 * reply would be cut at the client's bound): reading stops. Its repeats are counted until they
 * are dropped, each time it passes the bytes it had after the last drop by room: it holds at
 * most twice the room. */
static void count_entry(zinputs *in, size_t member_len) {
    in->bytes += member_len + 5;
    if (in->bytes <= in->check_at) return;
    compact_union(in);
    in->check_at = in->bytes + in->room;
    in->over = in->bytes > in->room;
}

/* Appends an open key's members (a set's score 1) weighted, until they are over (see
 * count_entry); CK_FOUND, or CK_CORRUPT if a stored zset score is not one. */
static int read_input(compound *c, int input, double weight, zinputs *in) {
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *m, *v;
    size_t ml, vl;
    double score = 1;
    int rc = CK_FOUND;
    while (compound_iter_next(&ci, &m, &ml, &v, &vl)) {
        if (c->m.type == TYPE_ZSET && enc_decode_score(v, vl, &score) < 0) {
            rc = CK_CORRUPT;
            break;
        }
        if (in->n == in->cap) {
            in->cap *= 2;
            in->all = realloc(in->all, in->cap * sizeof(zin));
            if (!in->all) abort();
        }
        double weighted = score * weight;
        size_t off = in->arena->len;
        buf_append(in->arena, m, ml);
        buf_append(&in->offsets, &off, sizeof(off));
        in->all[in->n++] = (zin){NULL, ml, isnan(weighted) ? 0 : weighted, input};
        count_entry(in, ml);
        if (in->over) break;
    }
    if (compound_iter_close(&ci) < 0) rc = CK_ERROR; /* a read error ended the walk, not the end */
    return rc;
}

/* Reads every input (zsets, or sets with score 1) into one array; members copied to arena.
 * room is what the reply has room for (SIZE_MAX: no bound): a union stops past it, having
 * found more (an intersection or a difference may find far less than it reads). Returns the
 * count, or -1 after replying WRONGTYPE / corrupt key / storage errors. */
static long long read_inputs(cmd_ctx *ctx, const zcombine *zc, size_t room, zin **out, buf *arena) {
    size_t bound = zc->op == OP_UNION ? room : SIZE_MAX;
    zinputs in = {.all = malloc(16 * sizeof(zin)), .cap = 16, .arena = arena, .zc = zc,
                  .room = bound, .check_at = bound};
    if (!in.all) abort();
    buf_init(&in.offsets);
    int rc = CK_FOUND;
    for (int k = 0; k < zc->numkeys && (rc == CK_FOUND || rc == CK_MISSING) && !in.over; k++) {
        const resp_arg *key = &ctx->argv[zc->first_key + k];
        compound c;
        rc = compound_open(&c, ctx->t, ctx->db, key->ptr, key->len, TYPE_ZSET);
        if (rc == CK_WRONGTYPE) {
            compound_free(&c);
            rc = compound_open(&c, ctx->t, ctx->db, key->ptr, key->len, TYPE_SET);
        }
        if (rc == CK_FOUND || rc == CK_MISSING) rc = read_input(&c, k, zc->weights[k], &in);
        if (rc != CK_FOUND && rc != CK_MISSING) reply_compound_error(ctx, key, rc);
        compound_free(&c);
    }
    if (rc != CK_FOUND && rc != CK_MISSING) {
        free(in.all);
        buf_free(&in.offsets);
        return -1;
    }
    point_at_members(&in);
    buf_free(&in.offsets);
    *out = in.all;
    return (long long)in.n;
}

/* ZUNION/ZINTER/ZDIFF [STORE]: numkeys at argv[at]; dst is argv[1] for the STORE forms. */
static void combine_command(cmd_ctx *ctx, int op, int store) {
    zcombine zc = {0};
    zc.op = op;
    int at = store ? 2 : 1;
    if (parse_combine(ctx, at, &zc, !store, 0) < 0) {
        free(zc.weights);
        return;
    }
    buf arena;
    buf_init(&arena);
    zin *all = NULL;
    compound dst;
    long long n = read_inputs(ctx, &zc, store ? SIZE_MAX : reply_room(ctx->r), &all, &arena);
    if (n >= 0) {
        n = combine(&zc, all, n);
        if (!store) {
            reply_array(ctx->r, zc.withscores && ctx->r->resp == 2 ? n * 2 : n);
            for (long long i = 0; i < n; i++) {
                if (zc.withscores && ctx->r->resp == 3) reply_array(ctx->r, 2);
                reply_bulk(ctx->r, all[i].m, all[i].len);
                if (zc.withscores) reply_double(ctx->r, all[i].score);
            }
        } else if (store_into(ctx, &dst, 0) == 0) {
            const resp_arg *dst_key = &ctx->argv[1];
            effect e;
            effect_init(&e, TYPE_ZSET, "ZADD", dst_key, 2 * (int)n);
            for (long long i = 0; i < n; i++) {
                member_set(&dst, all[i].m, all[i].len, all[i].score, 0, 0);
                effect_add_score(&e, all[i].score);
                effect_add(&e, all[i].m, all[i].len);
            }
            if (n) compound_save(&dst);
            effect_finish(ctx, &e, 3);
            reply_int(ctx->r, n);
            compound_free(&dst);
        }
    }
    free(all);
    buf_free(&arena);
    free(zc.weights);
}

void cmd_zunion(cmd_ctx *ctx) { combine_command(ctx, OP_UNION, 0); }
void cmd_zinter(cmd_ctx *ctx) { combine_command(ctx, OP_INTER, 0); }
void cmd_zdiff(cmd_ctx *ctx) { combine_command(ctx, OP_DIFF, 0); }
void cmd_zunionstore(cmd_ctx *ctx) { combine_command(ctx, OP_UNION, 1); }
void cmd_zinterstore(cmd_ctx *ctx) { combine_command(ctx, OP_INTER, 1); }
void cmd_zdiffstore(cmd_ctx *ctx) { combine_command(ctx, OP_DIFF, 1); }

void cmd_zintercard(cmd_ctx *ctx) {
    zcombine zc = {0};
    zc.op = OP_INTER;
    if (parse_combine(ctx, 1, &zc, 0, 1) == 0) {
        buf arena;
        buf_init(&arena);
        zin *all = NULL;
        long long n = read_inputs(ctx, &zc, SIZE_MAX, &all, &arena);
        if (n >= 0) {
            n = combine(&zc, all, n);
            reply_int(ctx->r, zc.limit > 0 && n > zc.limit ? zc.limit : n);
        }
        free(all);
        buf_free(&arena);
    }
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
