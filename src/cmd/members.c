#include "cmd/members.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cursor.h"
#include "types/scan_cursor.h"
#include "util/glob.h"
#include "util/log.h"
#include "util/num.h"
#include "util/random.h"

void reply_compound_error(cmd_ctx *ctx, const resp_arg *key, int rc) {
    if (rc == CK_CORRUPT) reply_corrupt(ctx, key->ptr, key->len);
    else if (rc == CK_WRONGTYPE) reply_error(ctx->r, ERR_WRONGTYPE);
    else reply_storage_error(ctx);
}

int members_open(cmd_ctx *ctx, compound *c, const resp_arg *key, enum key_type type) {
    int rc = compound_open(c, ctx->t, ctx->db, key->ptr, key->len, type);
    if (rc == CK_FOUND || rc == CK_MISSING) return 0;
    reply_compound_error(ctx, key, rc);
    compound_free(c);
    return -1;
}

/* Picks made so far. The array grows as picks are made, never by the count asked for up
 * front: a size that lies (2^62 members said, 3 stored) must not cost memory. */
typedef struct pick_list {
    picked *p;
    uint64_t n, cap;
    int with_values;
    size_t bytes, max_bytes; /* what the picks hold; past max_bytes, picking stops */
    int failed;              /* a walk stopped on a read error */
} pick_list;

/* Whether the picks may go on: they hold no more than max_bytes. */
static int under_max(const pick_list *l) { return l->bytes <= l->max_bytes; }

static void take(pick_list *l, const char *sub, size_t sublen, const char *val, size_t vlen) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->p = realloc(l->p, l->cap * sizeof(*l->p));
        if (!l->p) abort();
    }
    picked *p = &l->p[l->n++];
    buf_init(&p->sub);
    buf_init(&p->val);
    buf_append(&p->sub, sub, sublen);
    if (l->with_values) buf_append(&p->val, val, vlen);
    /* A pick holds no more than its reply takes: a member's bulk adds 5 bytes, which covers a
     * zset score that may be replied in 4 of its 8 stored bytes. */
    l->bytes += sublen + p->val.len;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int compare_picked(const void *a, const void *b) {
    const picked *x = a, *y = b;
    return bytes_compare(x->sub.data, x->sub.len, y->sub.data, y->sub.len);
}

/* Exact picks in one pass over the whole collection. Returns how many were picked; fewer
 * than wanted only if the collection holds fewer members than its size says. */
static uint64_t pick_by_walking(compound *c, pick_list *l, uint64_t want, int distinct) {
    uint64_t size = c->m.size;
    uint64_t *at = NULL;
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
    uint64_t index = 0;
    while (l->n < want && index < size && under_max(l) && compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        if (distinct) {
            /* Selection sampling: keep this one with probability (still wanted) / (still left). */
            if (random_below(size - index) < want - l->n) take(l, sub, sl, val, vl);
        } else {
            while (l->n < want && at[l->n] == index) take(l, sub, sl, val, vl);
        }
        index++;
    }
    if (compound_iter_close(&ci) < 0) l->failed = 1;
    free(at);
    return l->n;
}

/* Collections up to this size are always picked from exactly, by one walk. */
#define WALK_PICK_MAX 64
/* Members read from the start to learn what member names look like. */
#define SHAPE_SAMPLE 16

/* What random seek targets are made of: targets fall between the first and the last member
 * and use the bytes and the lengths seen in a sample of members, so collections of similarly
 * shaped members (zero-padded ids, UUIDs) are picked from near uniformly. */
typedef struct key_shape {
    buf first, last;
    size_t common;         /* length of the prefix all members share */
    uint8_t seen[256];     /* whether a byte was seen past that prefix */
    uint8_t alphabet[256]; /* the bytes seen, from seen[] */
    unsigned nalphabet;
    size_t lens[SHAPE_SAMPLE + 1];
    size_t nlens;
} key_shape;

static void shape_add(key_shape *s, const char *m, size_t len) {
    for (size_t i = s->common; i < len; i++) s->seen[(uint8_t)m[i]] = 1;
    s->lens[s->nlens++] = len;
}

/* Learns a collection's shape; 0, -1 if it has fewer than two members, -2 on a read error. */
static int shape_learn(compound *c, key_shape *s) {
    memset(s, 0, sizeof(*s));
    buf_init(&s->first);
    buf_init(&s->last);
    buf sample;
    buf_init(&sample); /* the sampled members, each as u32 length + bytes */
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *sub, *val;
    size_t sl, vl;
    int n = 0;
    while (n < SHAPE_SAMPLE && compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        if (n++ == 0) buf_append(&s->first, sub, sl);
        buf_put_u32be(&sample, (uint32_t)sl);
        buf_append(&sample, sub, sl);
    }
    int failed = compound_iter_close(&ci) < 0;
    int last = !failed && n >= 2 ? compound_last(c, &s->last) : 0;
    if (failed || last < 0) { /* the walk or the seek for the last member failed */
        buf_free(&sample);
        return -2;
    }
    int ok = last == 1 && bytes_compare(s->first.data, s->first.len, s->last.data, s->last.len) < 0;
    if (ok) {
        while (s->common < s->first.len && s->first.data[s->common] == s->last.data[s->common]) s->common++;
        for (size_t at = 0; at < sample.len;) {
            size_t len = buf_get_u32be(sample.data + at);
            shape_add(s, sample.data + at + 4, len);
            at += 4 + len;
        }
        shape_add(s, s->last.data, s->last.len);
        for (unsigned b = 0; b < 256; b++)
            if (s->seen[b]) s->alphabet[s->nalphabet++] = (uint8_t)b;
    }
    buf_free(&sample);
    return ok ? 0 : -1;
}

static void shape_free(key_shape *s) {
    buf_free(&s->first);
    buf_free(&s->last);
}

/* A random byte of the alphabet within [low, high] (at least high itself is in it). */
static uint8_t random_byte_between(const key_shape *s, uint8_t low, uint8_t high) {
    unsigned from = 0, to = s->nalphabet;
    while (from < to && s->alphabet[from] < low) from++;
    while (to > from && s->alphabet[to - 1] > high) to--;
    return s->alphabet[from + random_below(to - from)];
}

/* A random target in [first, last]. The first byte after the common prefix lies between
 * first's and last's, so a miss (a retry) happens only at the two ends; the length is a
 * sampled member's, or now and then any length, so that no member is out of reach. */
static void shape_random_target(const key_shape *s, buf *out) {
    size_t longest = s->first.len > s->last.len ? s->first.len : s->last.len;
    uint8_t low = s->common < s->first.len ? (uint8_t)s->first.data[s->common] : 0;
    uint8_t high = (uint8_t)s->last.data[s->common];
    for (int attempt = 0; attempt < 32; attempt++) {
        size_t len = random_below(32) ? s->lens[random_below(s->nlens)]
                                     : s->common + 1 + random_below(longest - s->common);
        if (len <= s->common) len = s->common + 1;
        buf_clear(out);
        buf_append(out, s->first.data, s->common);
        buf_append_byte(out, random_byte_between(s, low, high));
        for (size_t i = s->common + 1; i < len; i++) buf_append_byte(out, s->alphabet[random_below(s->nalphabet)]);
        if (bytes_compare(out->data, out->len, s->first.data, s->first.len) >= 0 &&
            bytes_compare(out->data, out->len, s->last.data, s->last.len) <= 0)
            return;
    }
    buf_clear(out); /* unlucky at the ends every time: the first member it is */
    buf_append(out, s->first.data, s->first.len);
}

static void picked_free_members(picked *p, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        buf_free(&p[i].sub);
        buf_free(&p[i].val);
    }
}

/* Sorts picks and drops repeated members; returns how many are left. */
static uint64_t picked_dedupe(picked *p, uint64_t n) {
    qsort(p, n, sizeof(*p), compare_picked);
    uint64_t kept = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (kept > 0 && compare_picked(&p[kept - 1], &p[i]) == 0) {
            picked_free_members(&p[i], 1);
            continue;
        }
        p[kept++] = p[i];
    }
    return kept;
}

/* Seeks made between two removals of repeated picks (distinct picks). */
#define SEEK_ROUND 1024

/* Picks by seeking to random targets: each pick costs one seek, whatever the size. Distinct
 * picks retry duplicates, a round at a time. Returns how many were picked, or 0 if it gave up
 * (too many repeats, a round that found nothing new, or fewer than two members: the caller
 * walks). */
static uint64_t pick_by_seeking(compound *c, pick_list *l, uint64_t want, int distinct) {
    key_shape shape;
    int learned = shape_learn(c, &shape);
    if (learned < 0) {
        l->failed = learned == -2;
        shape_free(&shape);
        return 0;
    }
    buf target;
    buf_init(&target);
    uint64_t budget = 4 * want + 32;
    int progress = 1;
    while (l->n < want && budget > 0 && progress && !l->failed) {
        uint64_t before = l->n;
        for (uint64_t round = 0; l->n < want && budget > 0 && under_max(l) && (!distinct || round < SEEK_ROUND);
             round++, budget--) {
            shape_random_target(&shape, &target);
            compound_iter ci;
            compound_iter_open(&ci, c, target.data, target.len);
            const char *sub, *val;
            size_t sl, vl;
            if (compound_iter_next(&ci, &sub, &sl, &val, &vl)) take(l, sub, sl, val, vl);
            if (compound_iter_close(&ci) < 0) {
                l->failed = 1;
                break;
            }
        }
        if (distinct) l->n = picked_dedupe(l->p, l->n);
        progress = l->n > before;
    }
    buf_free(&target);
    shape_free(&shape);
    if (l->n == want) return l->n;
    picked_free_members(l->p, l->n); /* the walk starts over (repeats may have filled max_bytes) */
    l->n = 0;
    l->bytes = 0;
    return 0;
}

long long members_pick(compound *c, long long count, int with_values, size_t max_bytes, picked **out) {
    uint64_t size = c->m.size;
    int distinct = count >= 0;
    uint64_t want = distinct ? (uint64_t)count : (uint64_t)(-(count + 1)) + 1;
    if (distinct && want > size) want = size;
    if (size == 0 || want == 0) {
        *out = NULL;
        return 0;
    }
    pick_list l = {.with_values = with_values, .max_bytes = max_bytes};
    /* Seeking pays off when few of many members are wanted; otherwise one walk serves all. */
    uint64_t n = 0;
    if (size > WALK_PICK_MAX && want <= size / 8) n = pick_by_seeking(c, &l, want, distinct);
    if (n == 0 && !l.failed) n = pick_by_walking(c, &l, want, distinct);
    picked *p = l.p;
    if (l.failed) {
        picked_free(p, (long long)n);
        *out = NULL;
        return MEMBERS_READ_ERROR;
    }
    if (n < want && under_max(&l)) { /* the walk ran out of members: the size lies */
        picked_free(p, (long long)n);
        *out = NULL;
        return -1;
    }
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
    picked_free_members(p, (uint64_t)n);
    free(p);
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

/* Repeated picks from a collection whose members and values take up to this many bytes come
 * from a copy of it: one read, then each pick costs about what it costs Redis. */
#define POOL_MAX_BYTES ((size_t)64 << 20)
/* Otherwise they are made and replied this many at a time. */
#define REPEAT_BATCH 64

static void reply_header(cmd_ctx *ctx, uint64_t picks, value_reply_fn reply_value) {
    reply_array(ctx->r, (long long)(reply_value && ctx->r->resp == 2 ? 2 * picks : picks));
}

/* Replies one pick: 0, or -1 if its value is corrupt. */
static int reply_pick(cmd_ctx *ctx, value_reply_fn reply_value, const char *sub, size_t sl, const char *val,
                      size_t vl) {
    if (reply_value && ctx->r->resp == 3) reply_array(ctx->r, 2);
    reply_bulk(ctx->r, sub, sl);
    return reply_value ? reply_value(ctx->r, val, vl) : 0;
}

static int reply_picked(cmd_ctx *ctx, value_reply_fn reply_value, const picked *p) {
    return reply_pick(ctx, reply_value, p->sub.data ? p->sub.data : "", p->sub.len, p->val.data ? p->val.data : "",
                      p->val.len);
}

/* A copy of a collection's members (and values). */
typedef struct member_pool {
    buf entries; /* member, then value, each as u32 length + bytes */
    buf starts;  /* where each entry starts in entries (u32) */
    uint64_t n;
} member_pool;

enum { POOL_LOADED = 0, POOL_TOO_BIG = 1, POOL_SIZE_LIES = -1, POOL_READ_ERROR = -2 };

/* Copies c's members, and their values if with_values, into pool: POOL_LOADED, POOL_TOO_BIG
 * if that takes more than POOL_MAX_BYTES, or POOL_SIZE_LIES if the members walked are not as
 * many as the metadata says. */
static int pool_load(compound *c, int with_values, member_pool *pool) {
    buf_init(&pool->entries);
    buf_init(&pool->starts);
    pool->n = 0;
    if (c->m.size > POOL_MAX_BYTES / 8) return POOL_TOO_BIG; /* an entry takes 8 bytes at least */
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *sub, *val;
    size_t sl, vl;
    int fits = 1;
    while (compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        if (!with_values) vl = 0;
        if (pool->entries.len + 8 + sl + vl > POOL_MAX_BYTES) {
            fits = 0;
            break;
        }
        uint32_t start = (uint32_t)pool->entries.len;
        buf_append(&pool->starts, &start, sizeof(start));
        buf_put_u32be(&pool->entries, (uint32_t)sl);
        buf_append(&pool->entries, sub, sl);
        buf_put_u32be(&pool->entries, (uint32_t)vl);
        buf_append(&pool->entries, val, vl);
        pool->n++;
    }
    if (compound_iter_close(&ci) < 0) return POOL_READ_ERROR;
    if (!fits) return POOL_TOO_BIG;
    return pool->n == c->m.size ? POOL_LOADED : POOL_SIZE_LIES;
}

static void pool_free(member_pool *pool) {
    buf_free(&pool->entries);
    buf_free(&pool->starts);
}

void reply_pick_error(cmd_ctx *ctx, const compound *c, long long rc) {
    if (rc == MEMBERS_READ_ERROR) reply_storage_error(ctx);
    else reply_corrupt(ctx, c->key, c->klen);
}

static int reply_pool_pick(cmd_ctx *ctx, const member_pool *pool, value_reply_fn reply_value) {
    uint32_t start;
    memcpy(&start, pool->starts.data + sizeof(start) * random_below(pool->n), sizeof(start));
    const char *entry = pool->entries.data + start;
    size_t sl = buf_get_u32be(entry);
    return reply_pick(ctx, reply_value, entry + 4, sl, entry + 8 + sl, buf_get_u32be(entry + 4 + sl));
}

/* Repeated picks made and replied a batch at a time: for few picks, or a collection too big
 * to copy. */
static void reply_batches(cmd_ctx *ctx, compound *c, uint64_t total, value_reply_fn reply_value) {
    reply_header(ctx, total, reply_value);
    for (uint64_t left = total; left > 0 && !reply_was_cut(ctx->r);) {
        picked *p;
        long long n = members_pick(c, -(long long)(left < REPEAT_BATCH ? left : REPEAT_BATCH), reply_value != NULL,
                                   SIZE_MAX, &p);
        if (n == MEMBERS_READ_ERROR) {
            reply_storage_error(ctx);
            return;
        }
        int corrupt = n <= 0; /* the size lies */
        for (long long i = 0; i < n && !corrupt; i++) corrupt = reply_picked(ctx, reply_value, &p[i]) < 0;
        if (n > 0) picked_free(p, n);
        if (corrupt) { /* nothing of the reply has left yet: it is dropped */
            reply_corrupt(ctx, c->key, c->klen);
            return;
        }
        left -= (uint64_t)n;
    }
}

static void reply_repeated(cmd_ctx *ctx, compound *c, uint64_t total, value_reply_fn reply_value) {
    /* As in members_pick: a few picks of many members cost less by seeking than a copy does. */
    if (total <= c->m.size / 8) {
        reply_batches(ctx, c, total, reply_value);
        return;
    }
    member_pool pool;
    int loaded = pool_load(c, reply_value != NULL, &pool);
    if (loaded == POOL_TOO_BIG) {
        reply_batches(ctx, c, total, reply_value);
    } else if (loaded == POOL_READ_ERROR) {
        reply_storage_error(ctx);
    } else if (loaded == POOL_SIZE_LIES) {
        reply_corrupt(ctx, c->key, c->klen);
    } else {
        reply_header(ctx, total, reply_value);
        for (uint64_t i = 0; i < total && !reply_was_cut(ctx->r); i++) {
            if (reply_pool_pick(ctx, &pool, reply_value) < 0) {
                reply_corrupt(ctx, c->key, c->klen);
                break;
            }
        }
    }
    pool_free(&pool);
}

static void reply_distinct(cmd_ctx *ctx, compound *c, long long count, value_reply_fn reply_value) {
    picked *p;
    long long n = members_pick(c, count, reply_value != NULL, reply_room(ctx->r), &p);
    if (n < 0) {
        reply_pick_error(ctx, c, n);
        return;
    }
    reply_header(ctx, (uint64_t)n, reply_value);
    for (long long i = 0; i < n && !reply_was_cut(ctx->r); i++) {
        if (reply_picked(ctx, reply_value, &p[i]) < 0) {
            reply_corrupt(ctx, c->key, c->klen);
            break;
        }
    }
    picked_free(p, n);
}

void members_reply_one(cmd_ctx *ctx, compound *c) {
    picked *p;
    long long n = members_pick(c, 1, 0, SIZE_MAX, &p);
    if (n < 0) {
        reply_pick_error(ctx, c, n);
        return;
    }
    if (n == 1) reply_bulk(ctx->r, p->sub.data ? p->sub.data : "", p->sub.len);
    else reply_null(ctx->r);
    picked_free(p, n);
}

void members_reply_random(cmd_ctx *ctx, compound *c, long long count, value_reply_fn reply_value) {
    if (count >= 0) reply_distinct(ctx, c, count, reply_value);
    else if (!c->found || c->m.size == 0) reply_header(ctx, 0, reply_value);
    else reply_repeated(ctx, c, (uint64_t)-count, reply_value);
}

/* Writes one member of a scan page (with its value or score when asked); -1 if a score is corrupt. */
static int reply_scanned(reply *r, enum key_type type, int with_values, const char *sub, size_t sl, const char *val,
                         size_t vl) {
    reply_bulk(r, sub, sl);
    if (with_values && type == TYPE_ZSET) { /* a score, as ZSCORE shows it */
        char text[32];
        double score;
        if (enc_decode_score(val, vl, &score) < 0) return -1;
        reply_bulk(r, text, num_format_double(text, score));
    } else if (with_values) {
        reply_bulk(r, val, vl);
    }
    return 0;
}

void members_scan(cmd_ctx *ctx, enum key_type type, int with_values) {
    const resp_arg *match = NULL;
    long long count = 10;
    uint64_t cursor, next = 0;
    if (cursor_parse(ctx, &ctx->argv[2], &cursor) < 0) return;
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
    if (members_open(ctx, &c, &ctx->argv[1], type) < 0) return;
    scan_scope scope;
    scan_scope_members(&scope, &c);
    buf from, last, body;
    buf_init(&from);
    buf_init(&last);
    buf_init(&body);
    enum { SCAN_OK, SCAN_STORAGE_ERROR, SCAN_CORRUPT } failed = SCAN_OK;
    if (scan_resume(&scope, cursor, &from) < 0) failed = SCAN_STORAGE_ERROR;
    reply sub_r = reply_part(ctx->r, &body);
    compound_iter ci;
    compound_iter_open(&ci, &c, from.data ? from.data : "", from.len);
    const char *sub, *val;
    size_t sl, vl;
    long long examined = 0, items = 0;
    while (failed == SCAN_OK && !reply_was_cut(&sub_r) && compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        if (examined >= count) {
            int ends = scan_page_ends(&scope, last.data, last.len, sub, sl, &next);
            if (ends < 0) failed = SCAN_STORAGE_ERROR;
            if (ends != 0) break;
        }
        examined++;
        buf_clear(&last);
        buf_append(&last, sub, sl);
        if (match && !glob_match(match->ptr, match->len, sub, sl, 0)) continue;
        if (reply_scanned(&sub_r, type, with_values, sub, sl, val, vl) < 0) failed = SCAN_CORRUPT;
        items += with_values ? 2 : 1;
    }
    if (compound_iter_close(&ci) < 0) failed = SCAN_STORAGE_ERROR; /* a read error ended the walk */
    if (failed == SCAN_STORAGE_ERROR) reply_storage_error(ctx);
    else if (failed == SCAN_CORRUPT) reply_corrupt(ctx, ctx->argv[1].ptr, ctx->argv[1].len);
    else cursor_reply_page(ctx, next, items, &body);
    buf_free(&from);
    buf_free(&last);
    buf_free(&body);
    scan_scope_free(&scope);
    compound_free(&c);
    return;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
}
