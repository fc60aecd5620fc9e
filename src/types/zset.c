#include "types/zset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "types/compound.h"

int zset_value_score(const char *value, size_t len, double *score) { return enc_decode_score(value, len, score); }

/* ---- the key, its members and the score index ---- */

/* Opens key as a zset: ST_OK, ST_MISSING (z is then a new, empty zset), or an error (z is
 * freed then). */
static type_status open_zset(compound *z, txn *t, int db, const char *key, size_t klen) {
    type_status s = compound_status(compound_open(z, t, db, key, klen, TYPE_ZSET));
    if (s != ST_OK && s != ST_MISSING) compound_free(z);
    return s;
}

/* A member's score: ST_OK, ST_MISSING, ST_ERROR, or ST_CORRUPT if the stored score is not one. */
static type_status member_score(compound *z, const char *m, size_t len, double *score) {
    buf v;
    buf_init(&v);
    type_status s = compound_status(compound_get(z, m, len, &v));
    if (s == ST_OK && enc_decode_score(v.data, v.len, score) < 0) s = ST_CORRUPT;
    buf_free(&v);
    return s;
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

/* ST_OK, or ST_ERROR if the walk stopped on a read error (what it found is partial). */
static type_status zwalk_close(zwalk *w) { return bounded_walk_close(&w->walk) < 0 ? ST_ERROR : ST_OK; }

/* ---- ranges ---- */

zset_range zset_range_all(enum zset_range_by by) {
    zset_range r;
    memset(&r, 0, sizeof(r));
    r.by = by;
    r.stop = -1;
    r.min = -INFINITY;
    r.max = INFINITY;
    r.lmin.inf = -1;
    r.lmax.inf = 1;
    r.limit = -1;
    return r;
}

static int compare_lex(const char *m, size_t mlen, const zset_lex_bound *b) {
    if (b->inf) return -b->inf; /* everything is above "-" and below "+" */
    return bytes_compare(m, mlen, b->v, b->len);
}

/* Whether an entry is past the far end of the range (the walk can stop) or before its near
 * end (skip it). Returns 1 past, -1 before, 0 inside. */
static int range_position(const zset_range *r, const char *m, size_t mlen, double score) {
    int below, above;
    if (r->by == ZSET_BY_SCORE) {
        below = r->minex ? score <= r->min : score < r->min;
        above = r->maxex ? score >= r->max : score > r->max;
    } else if (r->by == ZSET_BY_LEX) {
        int cmin = compare_lex(m, mlen, &r->lmin), cmax = compare_lex(m, mlen, &r->lmax);
        below = r->lmin.exclusive ? cmin <= 0 : cmin < 0;
        above = r->lmax.exclusive ? cmax >= 0 : cmax > 0;
    } else {
        return 0;
    }
    if (r->rev) return below ? 1 : above ? -1 : 0;
    return above ? 1 : below ? -1 : 0;
}

/* Clamps a range by rank to a zset of `size` members (as Redis does); one that selects
 * nothing gets limit 0. A negative offset also selects nothing, as in Redis. */
static zset_range clamped(const zset_range *given, uint64_t size) {
    zset_range r = *given;
    if (r.offset < 0) r.limit = 0;
    if (r.by != ZSET_BY_RANK) return r;
    long long n = (long long)size;
    if (r.start < 0) r.start += n;
    if (r.stop < 0) r.stop += n;
    if (r.start < 0) r.start = 0;
    if (r.stop >= n) r.stop = n - 1;
    if (r.start > r.stop) r.limit = 0;
    return r;
}

/* Visits the entries of a clamped range of an open zset in order (visit may be NULL);
 * how many in *count. */
static type_status walk_range(compound *z, const zset_range *r, zset_visit_fn visit, void *arg, long long *count) {
    *count = 0;
    if (!z->found || r->limit == 0) return ST_OK;
    zwalk w;
    /* Start at the near bound of a score range (an infinite one is an end of the index). */
    int from_score = r->by == ZSET_BY_SCORE && !(r->rev && isinf(r->max) && r->max > 0);
    zwalk_open(&w, z, r->rev, from_score, r->rev ? nextafter(r->max, INFINITY) : r->min);
    const char *m;
    size_t ml;
    double score;
    long long index = 0, skipped = 0, n = 0;
    while (zwalk_next(&w, &m, &ml, &score)) {
        if (r->by == ZSET_BY_RANK) {
            if (index++ < r->start) continue;
            if (index - 1 > r->stop) break;
        } else {
            int pos = range_position(r, m, ml, score);
            if (pos > 0) break;
            if (pos < 0) continue;
        }
        if (skipped < r->offset) {
            skipped++;
            continue;
        }
        n++;
        if ((visit && visit(arg, m, ml, score)) || (r->limit > 0 && n == r->limit)) break;
    }
    *count = n;
    return zwalk_close(&w);
}

/* Opens key for a range of it: ST_OK (a missing key is an empty zset) with the range clamped
 * to its size in *in, or an error (z is freed then). */
static type_status open_range(compound *z, txn *t, int db, const char *key, size_t klen, const zset_range *r,
                              zset_range *in) {
    type_status s = open_zset(z, t, db, key, klen);
    if (s == ST_MISSING) s = ST_OK;
    if (s == ST_OK) *in = clamped(r, z->m.size);
    return s;
}

type_status zset_range_visit(txn *t, int db, const char *key, size_t klen, const zset_range *r, zset_visit_fn visit,
                             void *arg, long long *count) {
    compound z;
    zset_range in;
    *count = 0;
    type_status s = open_range(&z, t, db, key, klen, r, &in);
    if (s != ST_OK) return s;
    s = walk_range(&z, &in, visit, arg, count);
    compound_free(&z);
    return s;
}

/* ---- entries copied out ---- */

/* Members are copied into blocks that are never moved or grown, so an entry points at its
 * member from the start. Blocks double in size from the first up to the largest (a member
 * longer than that gets a block of its own). */
#define ZSET_BLOCK_FIRST 256
#define ZSET_BLOCK_LARGEST (64 * 1024)

struct zset_block {
    struct zset_block *next;
    size_t used, cap;
    char data[];
};

void zset_entries_init(zset_entries *e) { memset(e, 0, sizeof(*e)); }

static void free_blocks(struct zset_block *b) {
    while (b) {
        struct zset_block *next = b->next;
        free(b);
        b = next;
    }
}

void zset_entries_free(zset_entries *e) {
    free(e->items);
    free_blocks(e->blocks);
}

/* The size of the block after b (the first if b is NULL). */
static size_t next_block_size(const struct zset_block *b) {
    if (!b) return ZSET_BLOCK_FIRST;
    return b->cap < ZSET_BLOCK_LARGEST / 2 ? b->cap * 2 : ZSET_BLOCK_LARGEST;
}

/* A copy of a member in the entries' blocks (a new block when the current one is full: what is
 * left of it stays unused). */
static const char *copy_member(zset_entries *e, const char *m, size_t ml) {
    struct zset_block *b = e->blocks;
    if (!b || b->cap - b->used < ml) {
        size_t next = next_block_size(b);
        size_t cap = ml > next ? ml : next;
        b = malloc(sizeof(*b) + cap);
        if (!b) abort();
        b->next = e->blocks;
        b->used = 0;
        b->cap = cap;
        e->blocks = b;
    }
    char *copy = b->data + b->used;
    memcpy(copy, m, ml);
    b->used += ml;
    return copy;
}

/* Appends an entry with a copy of its member. */
static void entries_append(zset_entries *e, const char *m, size_t ml, double score, int input) {
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->items = realloc(e->items, e->cap * sizeof(zset_entry));
        if (!e->items) abort();
    }
    e->items[e->n++] = (zset_entry){copy_member(e, m, ml), ml, score, input};
}

/* A zset_visit_fn that copies what it visits into a zset_entries. */
static int entries_add(void *arg, const char *m, size_t ml, double score) {
    entries_append(arg, m, ml, score, 0);
    return 0;
}

/* Copies a range of an open zset into out. */
static type_status copy_range(compound *z, const zset_range *r, zset_entries *out) {
    long long n;
    return walk_range(z, r, entries_add, out, &n);
}

/* Deletes copied entries from an open zset. */
static void remove_entries(compound *z, const zset_entries *e) {
    for (size_t i = 0; i < e->n; i++) member_del(z, e->items[i].member, e->items[i].len, e->items[i].score);
    if (e->n) compound_save(z);
}

/* Copies a range of key into out, then removes it from the zset if remove (the entries are
 * copied first: the index must not change while it is walked). */
static type_status copy_range_of(txn *t, int db, const char *key, size_t klen, const zset_range *r,
                                 zset_entries *out, int remove) {
    compound z;
    zset_range in;
    type_status s = open_range(&z, t, db, key, klen, r, &in);
    if (s != ST_OK) return s;
    s = copy_range(&z, &in, out);
    if (s == ST_OK && remove) remove_entries(&z, out);
    compound_free(&z);
    return s;
}

type_status zset_range_copy(txn *t, int db, const char *key, size_t klen, const zset_range *r, zset_entries *out) {
    return copy_range_of(t, db, key, klen, r, out, 0);
}

type_status zset_remove_range(txn *t, int db, const char *key, size_t klen, const zset_range *r, zset_entries *out) {
    return copy_range_of(t, db, key, klen, r, out, 1);
}

type_status zset_pop(txn *t, int db, const char *key, size_t klen, int max, long long count, zset_entries *out) {
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s != ST_OK) return s;
    /* The walk stops at the size: finding fewer entries than it promises means corruption. */
    long long want = count < (long long)z.m.size ? count : (long long)z.m.size;
    zset_range r = zset_range_all(ZSET_BY_RANK);
    r.rev = max;
    r.stop = want - 1;
    if (want <= 0) r.limit = 0;
    s = copy_range(&z, &r, out);
    if (s == ST_OK && (long long)out->n != want) s = ST_CORRUPT;
    if (s == ST_OK) remove_entries(&z, out);
    else out->n = 0;
    compound_free(&z);
    return s;
}

type_status zset_store(txn *t, int db, const char *key, size_t klen, const zset_entries *entries) {
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s != ST_OK && s != ST_MISSING) return s;
    for (size_t i = 0; i < entries->n; i++)
        member_set(&z, entries->items[i].member, entries->items[i].len, entries->items[i].score, 0, 0);
    if (entries->n) compound_save(&z);
    compound_free(&z);
    return ST_OK;
}

/* ---- adding and removing members ---- */

/* Scores are stored without the sign of a zero, so -0 sorts and prints as 0, as in Redis's
 * small sorted sets. */
static double stored_score(double score) { return score == 0 ? 0 : score; }

/* Applies one ZADD pair to an open zset. */
static type_status add_one(compound *z, int flags, const zset_pair *p, zset_visit_fn changed, void *arg,
                           zset_add_result *out) {
    const char *m = p->member.ptr;
    size_t ml = p->member.len;
    double old = 0;
    type_status s = member_score(z, m, ml, &old);
    if (s != ST_OK && s != ST_MISSING) return s;
    int had = s == ST_OK;
    out->skipped = 1;
    if (((flags & ZSET_NX) && had) || ((flags & ZSET_XX) && !had)) return ST_OK;
    double next = (flags & ZSET_INCR) && had ? old + p->score : p->score;
    if (isnan(next)) return ST_NAN_OR_INF;
    if (had && (((flags & ZSET_GT) && !(next > old)) || ((flags & ZSET_LT) && !(next < old)))) return ST_OK;
    out->skipped = 0;
    out->score = next;
    next = stored_score(next);
    if (had && next == old) return ST_OK;
    member_set(z, m, ml, next, had, old);
    out->added += !had;
    out->changed++;
    if (changed) changed(arg, m, ml, next);
    return ST_OK;
}

type_status zset_add(txn *t, int db, const char *key, size_t klen, int flags, const zset_pair *pairs, int n,
                     zset_visit_fn changed, void *arg, zset_add_result *out) {
    memset(out, 0, sizeof(*out));
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s != ST_OK && s != ST_MISSING) return s;
    s = ST_OK;
    for (int i = 0; i < n && s == ST_OK; i++) s = add_one(&z, flags, &pairs[i], changed, arg, out);
    /* On an error the caller fails the command, which drops the pairs written before it. */
    if (s == ST_OK && out->changed) compound_save(&z);
    compound_free(&z);
    return s;
}

type_status zset_remove(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                        zset_visit_fn removed, void *arg, long long *count) {
    *count = 0;
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s == ST_MISSING) return ST_OK;
    if (s != ST_OK) return s;
    for (int i = 0; i < n && (s == ST_OK || s == ST_MISSING); i++) {
        double score;
        s = member_score(&z, members[i].ptr, members[i].len, &score);
        if (s != ST_OK) continue;
        member_del(&z, members[i].ptr, members[i].len, score);
        ++*count;
        if (removed) removed(arg, members[i].ptr, members[i].len, score);
    }
    if (s == ST_MISSING) s = ST_OK;
    if (s == ST_OK && *count) compound_save(&z);
    compound_free(&z);
    return s;
}

/* ---- reading members ---- */

type_status zset_card(txn *t, int db, const char *key, size_t klen, long long *card) {
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    *card = s == ST_OK ? (long long)z.m.size : 0;
    if (s == ST_OK || s == ST_MISSING) compound_free(&z);
    return s == ST_MISSING ? ST_OK : s;
}

type_status zset_score(txn *t, int db, const char *key, size_t klen, const char *member, size_t ml, double *score) {
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s != ST_OK) return s;
    s = member_score(&z, member, ml, score);
    compound_free(&z);
    return s;
}

type_status zset_scores(txn *t, int db, const char *key, size_t klen, const slice *members, int n, double *scores,
                        int *found) {
    compound z;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s != ST_OK && s != ST_MISSING) return s;
    s = ST_OK;
    for (int i = 0; i < n && s == ST_OK; i++) {
        s = member_score(&z, members[i].ptr, members[i].len, &scores[i]);
        found[i] = s == ST_OK;
        if (s == ST_MISSING) s = ST_OK;
    }
    compound_free(&z);
    return s;
}

type_status zset_rank(txn *t, int db, const char *key, size_t klen, const char *member, size_t ml, int rev,
                      long long *rank) {
    compound z;
    double score;
    type_status s = open_zset(&z, t, db, key, klen);
    if (s != ST_OK) return s;
    s = member_score(&z, member, ml, &score);
    if (s == ST_OK) {
        zwalk w;
        zwalk_open(&w, &z, rev, 0, 0);
        const char *m;
        size_t len;
        *rank = 0;
        while (zwalk_next(&w, &m, &len, &score) && !(len == ml && memcmp(m, member, ml) == 0)) ++*rank;
        s = zwalk_close(&w);
    }
    compound_free(&z);
    return s;
}

/* ---- ZUNION / ZINTER / ZDIFF ---- */

static int compare_member(const void *a, const void *b) {
    const zset_entry *x = a, *y = b;
    int c = bytes_compare(x->member, x->len, y->member, y->len);
    return c ? c : x->input - y->input;
}

static int compare_score(const void *a, const void *b) {
    const zset_entry *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return bytes_compare(x->member, x->len, y->member, y->len);
}

static double aggregate(enum zset_aggregate how, double acc, double v) {
    if (how == ZSET_AGG_MIN) return v < acc ? v : acc;
    if (how == ZSET_AGG_MAX) return v > acc ? v : acc;
    double s = acc + v;
    return isnan(s) ? 0 : s; /* inf + -inf counts as 0, as in Redis */
}

/* Combines the entries read from the inputs into result entries, sorted by score then member. */
static void combine(const zset_combine_spec *spec, zset_entries *e) {
    zset_entry *all = e->items;
    size_t n = e->n, w = 0;
    if (n == 0) return; /* items may be NULL then, which qsort must not be given */
    qsort(all, n, sizeof(zset_entry), compare_member);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        double acc = all[i].score;
        while (j < n && all[j].len == all[i].len && memcmp(all[j].member, all[i].member, all[i].len) == 0) {
            acc = aggregate(spec->aggregate, acc, all[j].score);
            j++;
        }
        int keep = spec->op == ZSET_UNION || (spec->op == ZSET_INTER && j - i == (size_t)spec->numkeys) ||
                   (spec->op == ZSET_DIFF && all[i].input == 0 && j - i == 1);
        if (keep) {
            all[w] = all[i];
            all[w++].score = spec->op == ZSET_DIFF ? all[i].score : acc;
        }
        i = j;
    }
    qsort(all, w, sizeof(zset_entry), compare_score);
    e->n = w;
}

/* The inputs read so far. A union bounded by the room of its reply combines them as it goes
 * (see count_entry). */
typedef struct zinputs {
    zset_entries *e;
    const zset_combine_spec *spec;
    size_t room, bytes, check_at; /* bytes: what the entries take in a reply at least */
    int over;                     /* a union found more than room: it stopped */
} zinputs;

/* Combines a union's entries so far (their repeats aggregated, in input order as at the end)
 * and copies what is left to new blocks; the bytes they take in a reply at least become
 * in->bytes. */
static void compact_union(zinputs *in) {
    zset_entries *e = in->e;
    combine(in->spec, e);
    struct zset_block *old = e->blocks;
    e->blocks = NULL;
    in->bytes = 0;
    for (size_t i = 0; i < e->n; i++) {
        e->items[i].member = copy_member(e, e->items[i].member, e->items[i].len);
        in->bytes += e->items[i].len + 5; /* "$<len>\r\n<member>\r\n" */
    }
    free_blocks(old);
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
 * count_entry); ST_OK, or ST_CORRUPT if a stored zset score is not one. */
static type_status read_input(compound *c, int input, double weight, zinputs *in) {
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *m, *v;
    size_t ml, vl;
    double score = 1;
    type_status s = ST_OK;
    while (compound_iter_next(&ci, &m, &ml, &v, &vl)) {
        if (c->m.type == TYPE_ZSET && enc_decode_score(v, vl, &score) < 0) {
            s = ST_CORRUPT;
            break;
        }
        double weighted = score * weight;
        entries_append(in->e, m, ml, isnan(weighted) ? 0 : weighted, input);
        count_entry(in, ml);
        if (in->over) break;
    }
    if (compound_iter_close(&ci) < 0) s = ST_ERROR; /* a read error ended the walk, not the end */
    return s;
}

/* Opens an input key: a zset, or else a set (read as a zset of score-1 members). */
static type_status open_input(compound *c, txn *t, int db, const slice *key) {
    int rc = compound_open(c, t, db, key->ptr, key->len, TYPE_ZSET);
    if (rc == CK_WRONGTYPE) {
        compound_free(c);
        rc = compound_open(c, t, db, key->ptr, key->len, TYPE_SET);
    }
    type_status s = compound_status(rc);
    if (s != ST_OK && s != ST_MISSING) compound_free(c);
    return s;
}

type_status zset_combine(txn *t, int db, const zset_combine_spec *spec, size_t room, zset_entries *out, int *bad_key) {
    size_t bound = spec->op == ZSET_UNION ? room : SIZE_MAX;
    zinputs in = {.e = out, .spec = spec, .room = bound, .check_at = bound};
    type_status s = ST_OK;
    for (int k = 0; k < spec->numkeys && s == ST_OK && !in.over; k++) {
        compound c;
        *bad_key = k;
        s = open_input(&c, t, db, &spec->keys[k]);
        if (s == ST_MISSING) { /* an empty input: nothing to read */
            s = ST_OK;
            compound_free(&c);
            continue;
        }
        if (s != ST_OK) break;
        s = read_input(&c, k, spec->weights[k], &in);
        compound_free(&c);
    }
    if (s == ST_OK) combine(spec, out);
    else out->n = 0;
    return s;
}
