#include "types/members.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "types/scan_cursor.h"
#include "util/glob.h"
#include "util/random.h"

type_status members_open_key(compound *c, txn *t, int db, const char *key, size_t klen, enum key_type type) {
    return compound_status(compound_open(c, t, db, key, klen, type));
}

type_status members_count(txn *t, int db, const char *key, size_t klen, enum key_type type, long long *count) {
    compound c;
    type_status st = members_open_key(&c, t, db, key, klen, type);
    *count = st == ST_OK ? (long long)c.m.size : 0;
    compound_free(&c);
    return st;
}

/* Walks all n members of c. One step past n tells a size that is too small from one that is
 * right; a walk that visit stopped cannot tell, and needs not (its caller drops the rest). */
static type_status walk_all(compound *c, long long n, member_visit_fn visit, void *arg) {
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *m, *v;
    size_t ml, vl;
    long long seen = 0;
    int stopped = 0;
    while (seen <= n && !stopped && compound_iter_next(&ci, &m, &ml, &v, &vl)) {
        if (seen++ == n) break;
        stopped = visit(arg, m, ml, v, vl) != 0;
    }
    /* A walk cut short by a read error looks like the end: its status tells. */
    if (compound_iter_close(&ci) < 0) return ST_ERROR;
    return seen == n || stopped ? ST_OK : ST_CORRUPT;
}

type_status members_all(txn *t, int db, const char *key, size_t klen, enum key_type type, long long *size,
                        member_visit_fn visit, void *arg) {
    compound c;
    type_status st = members_open_key(&c, t, db, key, klen, type);
    *size = 0;
    /* No collection is that big, and a RESP2 map header could not count twice its size. */
    if (st == ST_OK && c.m.size > LLONG_MAX / 2) st = ST_CORRUPT;
    if (st == ST_OK) {
        *size = (long long)c.m.size;
        st = walk_all(&c, *size, visit, arg);
    }
    compound_free(&c);
    return st;
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
    if (n == 0) return 0; /* p may be NULL then, which qsort must not be given */
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

type_status members_pick_from(compound *c, long long count, int with_values, size_t max_bytes, picked **out,
                              long long *picks) {
    uint64_t size = c->m.size;
    int distinct = count >= 0;
    uint64_t want = distinct ? (uint64_t)count : (uint64_t)(-(count + 1)) + 1;
    if (distinct && want > size) want = size;
    *out = NULL;
    *picks = 0;
    if (size == 0 || want == 0) return ST_OK;
    pick_list l = {.with_values = with_values, .max_bytes = max_bytes};
    /* Seeking pays off when few of many members are wanted; otherwise one walk serves all. */
    uint64_t n = 0;
    if (size > WALK_PICK_MAX && want <= size / 8) n = pick_by_seeking(c, &l, want, distinct);
    if (n == 0 && !l.failed) n = pick_by_walking(c, &l, want, distinct);
    picked *p = l.p;
    if (l.failed) {
        picked_free(p, (long long)n);
        return ST_ERROR;
    }
    if (n < want && under_max(&l)) { /* the walk ran out of members: the size lies */
        picked_free(p, (long long)n);
        return ST_CORRUPT;
    }
    /* Shuffle, so the order is random too. */
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = random_below(i);
        picked tmp = p[i - 1];
        p[i - 1] = p[j];
        p[j] = tmp;
    }
    *out = p;
    *picks = (long long)n;
    return ST_OK;
}

type_status members_pick(txn *t, int db, const char *key, size_t klen, enum key_type type, long long count,
                         int with_values, size_t max_bytes, picked **out, long long *n) {
    compound c;
    type_status st = members_open_key(&c, t, db, key, klen, type);
    *out = NULL;
    *n = 0;
    if (st == ST_OK) st = members_pick_from(&c, count, with_values, max_bytes, out, n);
    compound_free(&c);
    return st;
}

void picked_free(picked *p, long long n) {
    picked_free_members(p, (uint64_t)n);
    free(p);
}

/* Repeated picks from a collection whose members and values take up to this many bytes come
 * from a copy of it: one read, then each pick costs about what it costs Redis. */
#define POOL_MAX_BYTES ((size_t)64 << 20)
/* Otherwise they are made this many at a time. */
#define REPEAT_BATCH 64

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

/* Visits a random entry of the pool; returns what visit returned. */
static int visit_pool_pick(const member_pool *pool, member_visit_fn visit, void *arg) {
    uint32_t start;
    memcpy(&start, pool->starts.data + sizeof(start) * random_below(pool->n), sizeof(start));
    const char *entry = pool->entries.data + start;
    size_t sl = buf_get_u32be(entry);
    return visit(arg, entry + 4, sl, entry + 8 + sl, buf_get_u32be(entry + 4 + sl));
}

/* Repeated picks made and visited a batch at a time: for few picks, or a collection too big
 * to copy. */
static type_status pick_batches(compound *c, uint64_t total, int with_values, member_visit_fn visit, void *arg) {
    int stopped = 0;
    for (uint64_t left = total; left > 0 && !stopped;) {
        picked *p;
        long long n;
        type_status st = members_pick_from(c, -(long long)(left < REPEAT_BATCH ? left : REPEAT_BATCH), with_values,
                                           SIZE_MAX, &p, &n);
        if (st != ST_OK) return st;
        for (long long i = 0; i < n && !stopped; i++)
            stopped = visit(arg, p[i].sub.data ? p[i].sub.data : "", p[i].sub.len, p[i].val.data ? p[i].val.data : "",
                            p[i].val.len) != 0;
        picked_free(p, n);
        left -= (uint64_t)n;
    }
    return ST_OK;
}

static type_status pick_repeated_from(compound *c, uint64_t total, int with_values, member_visit_fn visit,
                                      void *arg) {
    /* As in members_pick_from: a few picks of many members cost less by seeking than a copy does. */
    if (total <= c->m.size / 8) return pick_batches(c, total, with_values, visit, arg);
    member_pool pool;
    int loaded = pool_load(c, with_values, &pool);
    type_status st = ST_OK;
    if (loaded == POOL_TOO_BIG) st = pick_batches(c, total, with_values, visit, arg);
    else if (loaded == POOL_READ_ERROR) st = ST_ERROR;
    else if (loaded == POOL_SIZE_LIES) st = ST_CORRUPT;
    else
        for (uint64_t i = 0; i < total && visit_pool_pick(&pool, visit, arg) == 0; i++) continue;
    pool_free(&pool);
    return st;
}

type_status members_pick_repeated(txn *t, int db, const char *key, size_t klen, enum key_type type, uint64_t total,
                                  int with_values, member_visit_fn visit, void *arg) {
    compound c;
    type_status st = members_open_key(&c, t, db, key, klen, type);
    if (st == ST_OK && c.m.size == 0) st = ST_MISSING;
    if (st == ST_OK) st = pick_repeated_from(&c, total, with_values, visit, arg);
    compound_free(&c);
    return st;
}

type_status members_score(const char *value, size_t vl, double *score) {
    return enc_decode_score(value, vl, score) < 0 ? ST_CORRUPT : ST_OK;
}

/* Walks one scan page of c from `from`; see members_scan. */
static type_status scan_page(compound *c, const scan_scope *scope, const buf *from, const slice *match,
                             long long count, member_visit_fn visit, void *arg, uint64_t *next) {
    buf last;
    buf_init(&last);
    compound_iter ci;
    compound_iter_open(&ci, c, from->data ? from->data : "", from->len);
    const char *sub, *val;
    size_t sl, vl;
    long long examined = 0;
    int failed = 0, stopped = 0;
    while (!failed && !stopped && compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        if (examined >= count) {
            int ends = scan_page_ends(scope, last.data, last.len, sub, sl, next);
            failed = ends < 0;
            if (ends != 0) break;
        }
        examined++;
        buf_clear(&last);
        buf_append(&last, sub, sl);
        if (match && !glob_match(match->ptr, match->len, sub, sl, 0)) continue;
        stopped = visit(arg, sub, sl, val, vl) != 0;
    }
    if (compound_iter_close(&ci) < 0) failed = 1; /* a read error ended the walk */
    buf_free(&last);
    return failed ? ST_ERROR : ST_OK;
}

type_status members_scan(txn *t, int db, const char *key, size_t klen, enum key_type type, uint64_t cursor,
                         const slice *match, long long count, member_visit_fn visit, void *arg, uint64_t *next) {
    *next = 0;
    compound c;
    type_status st = members_open_key(&c, t, db, key, klen, type);
    if (st == ST_OK || st == ST_MISSING) { /* a missing key's walk finds nothing: an empty last page */
        scan_scope scope;
        scan_scope_members(&scope, &c);
        buf from;
        buf_init(&from);
        if (scan_resume(&scope, cursor, &from) < 0) st = ST_ERROR;
        else st = scan_page(&c, &scope, &from, match, count, visit, arg, next);
        buf_free(&from);
        scan_scope_free(&scope);
    }
    compound_free(&c);
    return st;
}
