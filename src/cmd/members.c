#include "cmd/members.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/cursor.h"
#include "util/glob.h"
#include "util/num.h"
#include "util/random.h"

int members_open(cmd_ctx *ctx, compound *c, const resp_arg *key, enum key_type type) {
    int rc = compound_open(c, ctx->t, ctx->db, key->ptr, key->len, type);
    if (rc != CK_WRONGTYPE && rc != CK_ERROR) return 0;
    reply_error(ctx->r, rc == CK_WRONGTYPE ? ERR_WRONGTYPE : ERR_STORAGE);
    compound_free(c);
    return -1;
}

static void take(picked *p, const char *sub, size_t sublen, const char *val, size_t vlen) {
    buf_init(&p->sub);
    buf_init(&p->val);
    buf_append(&p->sub, sub, sublen);
    buf_append(&p->val, val, vlen);
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

long long members_pick(compound *c, long long count, picked **out) {
    uint64_t size = c->m.size;
    int distinct = count >= 0;
    uint64_t want = distinct ? (uint64_t)count : (uint64_t)(-(count + 1)) + 1;
    if (distinct && want > size) want = size;
    if (size == 0 || want == 0) {
        *out = NULL;
        return 0;
    }
    picked *p = calloc(want, sizeof(*p));
    uint64_t *at = NULL;
    if (!p) abort();
    if (!distinct) { /* positions with repeats, in order, so one pass serves them all */
        at = malloc(want * sizeof(*at));
        if (!at) abort();
        for (uint64_t i = 0; i < want; i++) at[i] = random_below(size);
        qsort(at, want, sizeof(*at), compare_u64);
    }
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *sub, *val;
    size_t sl, vl;
    uint64_t index = 0, n = 0;
    while (n < want && index < size && compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        if (distinct) {
            /* Selection sampling: keep this one with probability (still wanted) / (still left). */
            if (random_below(size - index) < want - n) take(&p[n++], sub, sl, val, vl);
        } else {
            while (n < want && at[n] == index) take(&p[n++], sub, sl, val, vl);
        }
        index++;
    }
    compound_iter_close(&ci);
    free(at);
    /* Shuffle, so the reply's order is random too. */
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = random_below(i);
        picked tmp = p[i - 1];
        p[i - 1] = p[j];
        p[j] = tmp;
    }
    *out = p;
    return (long long)n;
}

void picked_free(picked *p, long long n) {
    for (long long i = 0; i < n; i++) {
        buf_free(&p[i].sub);
        buf_free(&p[i].val);
    }
    free(p);
}

void members_scan(cmd_ctx *ctx, enum key_type type, int with_values) {
    const resp_arg *match = NULL;
    long long count = 10;
    for (int i = 3; i < ctx->argc; i += 2) {
        if (i + 1 >= ctx->argc) goto syntax;
        if (arg_is(&ctx->argv[i], "match")) {
            match = &ctx->argv[i + 1];
        } else if (arg_is(&ctx->argv[i], "count")) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &count) < 0) return;
            if (count < 1) goto syntax;
        } else {
            goto syntax;
        }
    }
    compound c;
    int rc = compound_open(&c, ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, type);
    if (rc == CK_WRONGTYPE || rc == CK_ERROR) {
        reply_error(ctx->r, rc == CK_WRONGTYPE ? ERR_WRONGTYPE : ERR_STORAGE);
        compound_free(&c);
        return;
    }
    /* The scope ties a cursor to this key's version: a recreated key starts over. */
    buf scope, from, body;
    buf_init(&scope);
    buf_init(&from);
    buf_init(&body);
    compound_subkey(&c, &scope, NULL, 0);
    if (cursor_resume(ctx, &ctx->argv[2], &scope, &from) == 0) {
        reply sub_r = {&body, ctx->r->resp};
        compound_iter ci;
        compound_iter_open(&ci, &c, from.data ? from.data : "", from.len);
        const char *sub, *val;
        size_t sl, vl;
        long long examined = 0, items = 0;
        unsigned long long next = 0;
        while (compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
            if (examined++ == count) {
                next = cursor_save(&scope, sub, sl);
                break;
            }
            if (match && !glob_match(match->ptr, match->len, sub, sl, 0)) continue;
            reply_bulk(&sub_r, sub, sl);
            if (with_values && type == TYPE_ZSET && vl == 8) { /* a score, as ZSCORE shows it */
                char text[32];
                reply_bulk(&sub_r, text, num_format_double(text, enc_decode_ordered_double((const uint8_t *)val)));
            } else if (with_values) {
                reply_bulk(&sub_r, val, vl);
            }
            items += with_values ? 2 : 1;
        }
        compound_iter_close(&ci);
        reply_array(ctx->r, 2);
        reply_bulk_ll(ctx->r, (long long)next);
        reply_array(ctx->r, items);
        buf_append(ctx->r->out, body.data, body.len);
    }
    buf_free(&scope);
    buf_free(&from);
    buf_free(&body);
    compound_free(&c);
    return;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
}
