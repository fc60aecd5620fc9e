/* Reply shaping for collections: the picks and scans themselves are in types/members.c. */
#include "cmd/members.h"

#include <limits.h>
#include <stdint.h>

#include "cmd/cursor.h"
#include "util/num.h"

int reply_key_status(cmd_ctx *ctx, const resp_arg *key, type_status st) {
    if (st == ST_OK || st == ST_MISSING) return 0;
    reply_type_error(ctx, key, st);
    return 1;
}

int members_parse_count(cmd_ctx *ctx, const resp_arg *arg, long long *count) {
    if (arg_ll(ctx, arg, count) < 0) return -1;
    if (*count != LLONG_MIN) return 0;
    reply_errorf(ctx->r, "ERR value is out of range, value must between %lld and %lld", -LLONG_MAX, LLONG_MAX);
    return -1;
}

int members_check_pair_count(cmd_ctx *ctx, long long count) {
    if (count >= -LLONG_MAX / 2 && count <= LLONG_MAX / 2) return 0;
    reply_error(ctx->r, "ERR value is out of range");
    return -1;
}

/* A reply of picks under way: its array header is written before the first pick. */
typedef struct pick_reply {
    cmd_ctx *ctx;
    value_reply_fn reply_value;
    uint64_t picks; /* what the header counts */
    int started;
    int corrupt; /* a pick's value is not what its type stores */
} pick_reply;

static void reply_header(pick_reply *pr) {
    cmd_ctx *ctx = pr->ctx;
    reply_array(ctx->r, (long long)(pr->reply_value && ctx->r->resp == 2 ? 2 * pr->picks : pr->picks));
    pr->started = 1;
}

/* A member_visit_fn replying one pick; stops at a corrupt value or once the reply is cut. */
static int reply_pick(void *arg, const char *sub, size_t sl, const char *val, size_t vl) {
    pick_reply *pr = arg;
    reply *r = pr->ctx->r;
    if (!pr->started) reply_header(pr);
    if (pr->reply_value && r->resp == 3) reply_array(r, 2);
    reply_bulk(r, sub, sl);
    if (pr->reply_value && pr->reply_value(r, val, vl) < 0) {
        pr->corrupt = 1;
        return 1;
    }
    return reply_was_cut(r);
}

/* Ends a reply of picks: its header if no pick was made, or the corrupt-key error (which drops
 * what was replied) for a corrupt value. */
static void finish_picks(pick_reply *pr) {
    if (pr->corrupt) reply_corrupt(pr->ctx, pr->ctx->argv[1].ptr, pr->ctx->argv[1].len);
    else if (!pr->started) reply_header(pr);
}

static void reply_distinct(cmd_ctx *ctx, enum key_type type, long long count, value_reply_fn reply_value) {
    const resp_arg *key = &ctx->argv[1];
    picked *p;
    long long n;
    type_status st = members_pick(ctx->t, ctx->db, key->ptr, key->len, type, count, reply_value != NULL,
                                  reply_room(ctx->r), &p, &n);
    if (reply_key_status(ctx, key, st)) return;
    pick_reply pr = {.ctx = ctx, .reply_value = reply_value, .picks = (uint64_t)n};
    int stop = 0;
    for (long long i = 0; i < n && !stop; i++)
        stop = reply_pick(&pr, p[i].sub.data ? p[i].sub.data : "", p[i].sub.len, p[i].val.data ? p[i].val.data : "",
                          p[i].val.len);
    finish_picks(&pr);
    picked_free(p, n);
}

static void reply_repeated(cmd_ctx *ctx, enum key_type type, uint64_t total, value_reply_fn reply_value) {
    const resp_arg *key = &ctx->argv[1];
    pick_reply pr = {.ctx = ctx, .reply_value = reply_value, .picks = total};
    type_status st = members_pick_repeated(ctx->t, ctx->db, key->ptr, key->len, type, total, reply_value != NULL,
                                           reply_pick, &pr);
    if (reply_key_status(ctx, key, st)) return;
    if (st == ST_MISSING) pr.picks = 0;
    finish_picks(&pr);
}

void members_reply_random(cmd_ctx *ctx, enum key_type type, long long count, value_reply_fn reply_value) {
    if (count >= 0) reply_distinct(ctx, type, count, reply_value);
    else reply_repeated(ctx, type, (uint64_t)-count, reply_value);
}

void members_reply_one(cmd_ctx *ctx, enum key_type type) {
    const resp_arg *key = &ctx->argv[1];
    picked *p;
    long long n;
    type_status st = members_pick(ctx->t, ctx->db, key->ptr, key->len, type, 1, 0, SIZE_MAX, &p, &n);
    if (reply_key_status(ctx, key, st)) return;
    if (n == 1) reply_bulk(ctx->r, p->sub.data ? p->sub.data : "", p->sub.len);
    else reply_null(ctx->r);
    picked_free(p, n);
}

/* A scan page being replied (into a part of the reply: the cursor goes first). */
typedef struct scan_reply {
    reply r;
    enum key_type type;
    int with_values;
    long long items;
    int corrupt; /* a score is not one */
} scan_reply;

/* A member_visit_fn writing one member of a scan page (with its value or score when asked). */
static int reply_scanned(void *arg, const char *sub, size_t sl, const char *val, size_t vl) {
    scan_reply *sr = arg;
    reply_bulk(&sr->r, sub, sl);
    sr->items++;
    if (sr->with_values && sr->type == TYPE_ZSET) { /* a score, as ZSCORE shows it */
        char text[32];
        double score;
        if (members_score(val, vl, &score) != ST_OK) {
            sr->corrupt = 1;
            return 1;
        }
        reply_bulk(&sr->r, text, num_format_double(text, score));
        sr->items++;
    } else if (sr->with_values) {
        reply_bulk(&sr->r, val, vl);
        sr->items++;
    }
    return reply_was_cut(&sr->r);
}

void members_reply_scan(cmd_ctx *ctx, enum key_type type, int with_values) {
    slice match = {0};
    int has_match = 0;
    long long count = 10;
    uint64_t cursor, next = 0;
    if (cursor_parse(ctx, &ctx->argv[2], &cursor) < 0) return;
    for (int i = 3; i < ctx->argc; i += 2) {
        if (i + 1 >= ctx->argc) goto syntax;
        if (arg_is(&ctx->argv[i], "match")) {
            match = ctx->argv[i + 1];
            has_match = 1;
        } else if (arg_is(&ctx->argv[i], "count")) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &count) < 0) return;
            if (count < 1) goto syntax;
        } else {
            goto syntax;
        }
    }
    const resp_arg *key = &ctx->argv[1];
    buf body;
    buf_init(&body);
    scan_reply sr = {.r = reply_part(ctx->r, &body), .type = type, .with_values = with_values};
    type_status st = members_scan(ctx->t, ctx->db, key->ptr, key->len, type, cursor, has_match ? &match : NULL, count,
                                  reply_scanned, &sr, &next);
    if (sr.corrupt) st = ST_CORRUPT;
    if (!reply_key_status(ctx, key, st)) cursor_reply_page(ctx, next, sr.items, &body);
    buf_free(&body);
    return;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
}
