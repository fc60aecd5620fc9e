#include "storage/bounds.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "util/hash.h"

#define BOUND_SLOTS 4096
/* Longer keys are not remembered (a bound is forgotten instead): members can be up to
 * proto-max-bulk-len, and the slots must not pin that much memory. */
#define BOUND_KEY_MAX 1024

/* One prefix's bounds; a slot is reused by whichever prefix hashes to it last. */
typedef struct bound_slot {
    pthread_mutex_t lock;
    uint64_t generation; /* the slot is empty unless this is the current generation */
    int cf;
    buf prefix;
    buf key[2];
    int known[2];
} bound_slot;

static bound_slot slots[BOUND_SLOTS];
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t generation = 1;

static void init_slots(void) {
    for (int i = 0; i < BOUND_SLOTS; i++) pthread_mutex_init(&slots[i].lock, NULL);
}

/* The prefix's slot, locked. */
static bound_slot *lock_slot(int cf, const char *prefix, size_t plen) {
    pthread_once(&slots_once, init_slots);
    bound_slot *s = &slots[hash_fnv1a((uint64_t)cf, prefix, plen) % BOUND_SLOTS];
    pthread_mutex_lock(&s->lock);
    return s;
}

static int slot_holds(const bound_slot *s, int cf, const char *prefix, size_t plen) {
    return s->generation == atomic_load(&generation) && s->cf == cf && s->prefix.len == plen &&
           memcmp(s->prefix.data, prefix, plen) == 0;
}

/* Sets one side of a held slot, or forgets it for a key too long to keep. */
static void remember(bound_slot *s, int side, const char *key, size_t klen) {
    buf_clear(&s->key[side]);
    s->known[side] = klen <= BOUND_KEY_MAX;
    if (s->known[side]) buf_append(&s->key[side], key, klen);
    else buf_free(&s->key[side]);
}

int bounds_get(int cf, const char *prefix, size_t plen, enum bound_side side, buf *out) {
    bound_slot *s = lock_slot(cf, prefix, plen);
    int known = slot_holds(s, cf, prefix, plen) && s->known[side];
    if (known) {
        buf_clear(out);
        buf_append(out, s->key[side].data, s->key[side].len);
    }
    pthread_mutex_unlock(&s->lock);
    return known;
}

void bounds_set(int cf, const char *prefix, size_t plen, enum bound_side side, const char *key, size_t klen) {
    bound_slot *s = lock_slot(cf, prefix, plen);
    if (!slot_holds(s, cf, prefix, plen)) {
        s->generation = atomic_load(&generation);
        s->cf = cf;
        buf_clear(&s->prefix);
        buf_append(&s->prefix, prefix, plen);
        s->known[BOUND_LOW] = s->known[BOUND_HIGH] = 0;
    }
    remember(s, side, key, klen);
    pthread_mutex_unlock(&s->lock);
}

/* Whether key lies beyond a bound: below a low one, above a high one. */
static int lies_beyond(int side, const char *key, size_t klen, const buf *bound) {
    int c = bytes_compare(key, klen, bound->data, bound->len);
    return side == BOUND_LOW ? c < 0 : c > 0;
}

void bounds_note_put(txn *t, int cf, const char *key, size_t klen, size_t plen) {
    bound_slot *s = lock_slot(cf, key, plen);
    if (slot_holds(s, cf, key, plen)) {
        for (int side = BOUND_LOW; side <= BOUND_HIGH; side++)
            if (s->known[side] && lies_beyond(side, key, klen, &s->key[side])) remember(s, side, key, klen);
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < t->bounds.n; i++) {
        staged_bound *b = &t->bounds.items[i];
        if (b->cf == cf && b->prefix.len == plen && memcmp(b->prefix.data, key, plen) == 0 &&
            lies_beyond(b->side, key, klen, &b->key)) {
            buf_clear(&b->key);
            buf_append(&b->key, key, klen);
        }
    }
}

void staged_bounds_init(staged_bounds *s) { memset(s, 0, sizeof(*s)); }

void staged_bounds_clear(staged_bounds *s) { staged_bounds_truncate(s, 0); }

void staged_bounds_free(staged_bounds *s) {
    staged_bounds_clear(s);
    free(s->items);
    staged_bounds_init(s);
}

static void stage(staged_bounds *s, int cf, enum bound_side side, const char *prefix, size_t plen, const char *key,
                  size_t klen) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->items = realloc(s->items, s->cap * sizeof(*s->items));
        if (!s->items) abort();
    }
    staged_bound *b = &s->items[s->n++];
    b->cf = cf;
    b->side = side;
    buf_init(&b->prefix);
    buf_init(&b->key);
    buf_append(&b->prefix, prefix, plen);
    buf_append(&b->key, key, klen);
}

void staged_bounds_truncate(staged_bounds *s, size_t n) {
    while (s->n > n) {
        staged_bound *b = &s->items[--s->n];
        buf_free(&b->prefix);
        buf_free(&b->key);
    }
}

void bounds_publish(staged_bounds *s) {
    /* In order: a later walk of the same prefix saw a later state of the txn. */
    for (size_t i = 0; i < s->n; i++) {
        staged_bound *b = &s->items[i];
        bounds_set(b->cf, b->prefix.data, b->prefix.len, b->side, b->key.data, b->key.len);
    }
    staged_bounds_clear(s);
}

void bounds_forget_all(void) { atomic_fetch_add(&generation, 1); }

/* The seek point of a walk: prefix+from, or the prefix's start (forward) / end (backward). */
static void walk_start(buf *out, const char *prefix, size_t plen, const char *from, size_t flen, int rev) {
    if (rev && !from) {
        enc_prefix_end(out, prefix, plen);
        return;
    }
    buf_append(out, prefix, plen);
    if (from) buf_append(out, from, flen);
}

static void walk_init(bounded_walk *w, txn *t, int cf, const char *prefix, size_t plen, int rev) {
    w->t = t;
    w->cf = cf;
    w->rev = rev;
    w->started = 0;
    w->failed = 0;
    w->borrowed = 0;
    w->known = 0;
    w->may_record = 0;
    buf_init(&w->prefix);
    buf_init(&w->bound);
    buf_append(&w->prefix, prefix, plen);
}

void bounded_walk_open(bounded_walk *w, txn *t, int cf, const char *prefix, size_t plen, const char *from,
                       size_t flen, int rev) {
    enum bound_side side = rev ? BOUND_HIGH : BOUND_LOW;
    walk_init(w, t, cf, prefix, plen, rev);
    buf start, end;
    buf_init(&start);
    buf_init(&end);
    walk_start(&start, prefix, plen, from, flen, rev);
    enc_prefix_end(&end, prefix, plen);
    /* Bounds describe the latest data: a walk through a snapshot may see keys below them. */
    w->known = t->snapshot ? 0 : bounds_get(cf, prefix, plen, side, &w->bound);
    /* Start from the bound when it lies beyond the start: nothing live is in between. */
    int beyond = w->known && (rev ? bytes_compare(w->bound.data, w->bound.len, start.data, start.len) <= 0
                                  : bytes_compare(w->bound.data, w->bound.len, start.data, start.len) >= 0);
    w->may_record = !t->snapshot && ((rev ? !from : flen == 0) || beyond);
    const buf *seek = beyond ? &w->bound : &start;
    w->skips_at_open = store_count_skips_begin();
    w->it = txn_iter_new(t, cf, seek->data, seek->len, end.data, end.len);
    if (rev) store_iter_seek_for_prev(w->it, seek->data, seek->len);
    buf_free(&start);
    buf_free(&end);
}

void bounded_walk_open_on(bounded_walk *w, txn *t, store_iter *it, int cf, const char *prefix, size_t plen,
                          const char *from, size_t flen) {
    walk_init(w, t, cf, prefix, plen, 0);
    /* Such walks do not count the deleted entries they step over (counting costs every step
     * a thread-local lookup in RocksDB): a snapshot is read once, and what a compaction of
     * the range would save goes to the live walks that repeat (pops), which still count. */
    w->borrowed = 1;
    w->it = it;
    buf start;
    buf_init(&start);
    walk_start(&start, prefix, plen, from, flen, 0);
    store_iter_seek_forward(it, start.data, start.len);
    buf_free(&start);
}

int bounded_walk_next(bounded_walk *w, const char **key, size_t *klen, const char **val, size_t *vlen) {
    if (w->started) {
        if (w->rev) store_iter_prev(w->it);
        else store_iter_next(w->it);
    }
    int first = !w->started;
    w->started = 1;
    if (!store_iter_valid(w->it)) {
        w->failed = store_iter_failed(w->it);
        return 0;
    }
    *key = store_iter_key(w->it, klen);
    if (*klen < w->prefix.len || memcmp(*key, w->prefix.data, w->prefix.len) != 0) return 0;
    *val = store_iter_value(w->it, vlen);
    /* Skip the write when the bound is already this key (the common case without deletes). */
    if (first && w->may_record && !(w->known && bytes_compare(*key, *klen, w->bound.data, w->bound.len) == 0))
        stage(&w->t->bounds, w->cf, w->rev ? BOUND_HIGH : BOUND_LOW, w->prefix.data, w->prefix.len, *key, *klen);
    return 1;
}

int bounded_walk_close(bounded_walk *w) {
    if (!w->borrowed) {
        store_compact_prefix_if_skipped(w->skips_at_open, w->cf, w->prefix.data, w->prefix.len);
        if (w->it) store_iter_free(w->it);
    }
    w->it = NULL;
    buf_free(&w->prefix);
    buf_free(&w->bound);
    return w->failed ? -1 : 0;
}
