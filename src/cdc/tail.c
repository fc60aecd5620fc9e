#include "cdc/tail.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "cdc/commits.h"

/* One commit of a cached batch, as a view renders it. */
typedef struct view_commit {
    uint64_t seq;
    uint32_t count;
    int shown;
    size_t end; /* where its rendering ends in the view's text (it starts where the previous ends) */
} view_commit;

typedef struct entry_view {
    buf text;
    view_commit *commits;
    size_t ncommits, commits_cap;
} entry_view;

typedef struct tail_entry {
    uint64_t seq;
    uint32_t count;
    tail_batch *batch;
    entry_view *views[TAIL_VIEWS]; /* NULL until a read in that view needs it */
    unsigned oversized;            /* a bit per view whose rendering was too big to keep */
} tail_entry;

/* A circular array of entries sorted by sequence, oldest at head. */
static struct {
    pthread_mutex_t lock;
    tail_entry *entries;
    size_t cap, head, len;
    size_t bytes;                 /* batches and renderings */
    _Atomic size_t capacity_bytes; /* read without the lock where a commit decides to copy its batch */
    size_t rendered_bytes;        /* of which renderings */
    uint64_t rendered_from;       /* no batch before this sequence holds a rendering */
    uint64_t evicted_up_to;       /* the last sequence no longer held (0 = nothing evicted) */
    uint64_t readable_up_to;      /* every sequence up to here is held, or evicted to the WAL */
    int started;                  /* the first batch since start-up has been seen */
} tail = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

#define INITIAL_ENTRIES 1024

void tail_init(size_t capacity_bytes) {
    pthread_mutex_lock(&tail.lock);
    tail.capacity_bytes = capacity_bytes;
    pthread_mutex_unlock(&tail.lock);
}

static tail_entry *at(size_t i) { return &tail.entries[(tail.head + i) % tail.cap]; }

/* Readers borrow batches instead of copying them under the lock; the last one to let go of
 * an evicted batch frees it. */
static tail_batch *batch_borrow(tail_batch *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

static void batch_return(tail_batch *b) {
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}

/* What a rendering takes, as allocated. */
static size_t view_bytes(const entry_view *v) {
    return sizeof(*v) + v->text.cap + v->commits_cap * sizeof(view_commit);
}

static void view_free(entry_view *v) {
    buf_free(&v->text);
    free(v->commits);
    free(v);
}

/* Frees an entry's renderings; returns 1 if it had any. */
static int drop_views(tail_entry *e) {
    int had = 0;
    for (int i = 0; i < TAIL_VIEWS; i++) {
        if (!e->views[i]) continue;
        size_t n = view_bytes(e->views[i]);
        tail.bytes -= n;
        tail.rendered_bytes -= n;
        view_free(e->views[i]);
        e->views[i] = NULL;
        had = 1;
    }
    return had;
}

static void evict_oldest(void) {
    tail_entry *e = at(0);
    tail.evicted_up_to = e->seq + e->count - 1;
    tail.bytes -= e->batch->len;
    batch_return(e->batch);
    drop_views(e);
    tail.head = (tail.head + 1) % tail.cap;
    tail.len--;
}

/* The index of the first entry that ends at or after seq (binary search). */
static size_t first_ending_at_or_after(uint64_t seq) {
    size_t lo = 0, hi = tail.len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        tail_entry *e = at(mid);
        if (e->seq + e->count - 1 < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Frees the oldest renderings there are, but never the newest batch's (followers would render
 * it again at every poll); returns 0 if there were none. */
static int drop_oldest_views(void) {
    for (size_t i = first_ending_at_or_after(tail.rendered_from); i + 1 < tail.len; i++) {
        tail_entry *e = at(i);
        tail.rendered_from = e->seq + e->count;
        if (drop_views(e)) return 1;
    }
    return 0;
}

/* Renderings serve followers near the head and may take half the budget at most, oldest
 * first out, so they never cost more than half the history the cache keeps. Then batches go,
 * oldest first, but the newest stays, so a poll near the head finds it: batch_fits and
 * rendering_fits keep it and its renderings within the budget. */
static void evict_over_budget(void) {
    while (tail.rendered_bytes > tail.capacity_bytes / 2 && drop_oldest_views()) continue;
    while (tail.bytes > tail.capacity_bytes && tail.len > 1) evict_oldest();
}

static void grow(void) {
    size_t cap = tail.cap ? tail.cap * 2 : INITIAL_ENTRIES;
    tail_entry *entries = malloc(cap * sizeof(*entries));
    if (!entries) abort();
    for (size_t i = 0; i < tail.len; i++) entries[i] = *at(i);
    free(tail.entries);
    tail.entries = entries;
    tail.cap = cap;
    tail.head = 0;
}

void tail_free(void) {
    pthread_mutex_lock(&tail.lock);
    while (tail.len) evict_oldest();
    free(tail.entries);
    tail.entries = NULL;
    tail.cap = tail.head = 0;
    tail.evicted_up_to = tail.readable_up_to = 0;
    tail.rendered_from = 0;
    tail.started = 0;
    pthread_mutex_unlock(&tail.lock);
}

void tail_memory(size_t *batches, size_t *renderings) {
    pthread_mutex_lock(&tail.lock);
    *batches = tail.bytes - tail.rendered_bytes;
    *renderings = tail.rendered_bytes;
    pthread_mutex_unlock(&tail.lock);
}

/* Concurrent commits may arrive slightly out of order: inserts in place, from the end. */
static void insert_in_order(uint64_t seq, uint32_t count, tail_batch *batch) {
    if (tail.len == tail.cap) grow();
    size_t pos = tail.len;
    while (pos > 0 && at(pos - 1)->seq > seq) {
        *at(pos) = *at(pos - 1);
        pos--;
    }
    *at(pos) = (tail_entry){seq, count, batch, {NULL}, 0};
    tail.len++;
    tail.bytes += batch->len;
}

/* Moves readable_up_to over the batches that now follow it without a gap. */
static uint64_t advance_readable(void) {
    if (tail.readable_up_to < tail.evicted_up_to) tail.readable_up_to = tail.evicted_up_to;
    for (size_t i = first_ending_at_or_after(tail.readable_up_to + 1); i < tail.len; i++) {
        tail_entry *e = at(i);
        if (e->seq > tail.readable_up_to + 1) break;
        tail.readable_up_to = e->seq + e->count - 1;
    }
    return tail.readable_up_to;
}

/* Whether a batch may be kept: at most half the budget, the other half being for its
 * renderings, since the newest batch stays whatever else is evicted. */
static int batch_fits(size_t len) { return len <= tail.capacity_bytes / 2; }

/* Whether a rendering may join an entry's others: the newest entry's renderings are never
 * dropped to make room, so an entry's renderings together stay within their half of the budget. */
static int rendering_fits(const tail_entry *e, const entry_view *v) {
    size_t bytes = view_bytes(v);
    for (int i = 0; i < TAIL_VIEWS; i++)
        if (e->views[i]) bytes += view_bytes(e->views[i]);
    return bytes <= tail.capacity_bytes / 2;
}

/* A batch too big to keep is left to the WAL, and so is everything before it, so that the
 * cache holds no gap that readers would wait at. Commits after it that got here first stay.
 * Called with the lock held. */
static void pass_over(uint64_t seq, uint64_t last) {
    while (tail.len && at(0)->seq < seq) evict_oldest();
    if (last > tail.evicted_up_to) tail.evicted_up_to = last;
}

static tail_batch *batch_copy(const char *batch, size_t len) {
    tail_batch *copy = malloc(sizeof(*copy) + len);
    if (!copy) abort();
    atomic_init(&copy->refs, 1);
    copy->len = len;
    memcpy(copy->data, batch, len);
    return copy;
}

uint64_t tail_append(const char *batch, size_t len) {
    batch_reader r;
    if (batch_reader_init(&r, batch, len) < 0 || r.count == 0) return 0;
    uint64_t last = r.sequence + r.count - 1;
    /* Copied before taking the lock, which commits on other threads wait for. */
    tail_batch *copy = batch_fits(len) ? batch_copy(batch, len) : NULL;
    pthread_mutex_lock(&tail.lock);
    if (tail.capacity_bytes == 0) {
        pthread_mutex_unlock(&tail.lock);
        free(copy);
        return last;
    }
    if (!tail.started) {
        /* Everything before the first batch seen since start-up is only in the WAL. */
        tail.evicted_up_to = r.sequence - 1;
        tail.started = 1;
    }
    if (!copy) {
        pass_over(r.sequence, last);
    } else if (last <= tail.evicted_up_to) {
        /* Later commits got here first and have been evicted already: readers of this one go
         * to the WAL, which holds it, so evicted_up_to never moves back. */
        free(copy);
    } else {
        insert_in_order(r.sequence, r.count, copy);
        evict_over_budget();
    }
    uint64_t readable = advance_readable();
    pthread_mutex_unlock(&tail.lock);
    return readable;
}

/* Whether from is within what the cache holds (or will hold); called with the lock held. */
static int holds(uint64_t from) { return tail.started && tail.capacity_bytes > 0 && from > tail.evicted_up_to; }

static void loan_add(tail_loan *loan, tail_batch *b) {
    if (loan->n == loan->cap) {
        loan->cap = loan->cap ? loan->cap * 2 : 64;
        loan->batches = realloc(loan->batches, (size_t)loan->cap * sizeof(*loan->batches));
        if (!loan->batches) abort();
    }
    loan->batches[loan->n++] = batch_borrow(b);
}

tail_status tail_read(uint64_t from, int max_batches, tail_loan *loan) {
    pthread_mutex_lock(&tail.lock);
    if (!holds(from)) {
        pthread_mutex_unlock(&tail.lock);
        return TAIL_TOO_OLD;
    }
    uint64_t expected = from;
    for (size_t i = first_ending_at_or_after(from); i < tail.len && loan->n < max_batches; i++) {
        tail_entry *e = at(i);
        if (e->seq > expected) break; /* a commit still on its way here: stop before the gap */
        loan_add(loan, e->batch);
        expected = e->seq + e->count;
    }
    pthread_mutex_unlock(&tail.lock);
    return TAIL_OK;
}

void tail_loan_return(tail_loan *loan) {
    for (int i = 0; i < loan->n; i++) batch_return(loan->batches[i]);
    free(loan->batches);
    *loan = (tail_loan){NULL, 0, 0};
}

static void add_commit(entry_view *v, const wal_batch *c, int shown) {
    if (v->ncommits == v->commits_cap) {
        v->commits_cap = v->commits_cap ? v->commits_cap * 2 : 8;
        v->commits = realloc(v->commits, v->commits_cap * sizeof(*v->commits));
        if (!v->commits) abort();
    }
    v->commits[v->ncommits++] = (view_commit){c->sequence, c->count, shown, v->text.len};
}

/* Renders every commit of an entry; NULL if one cannot be rendered. */
static entry_view *render_entry(const tail_entry *e, const tail_view *tv) {
    entry_view *v = calloc(1, sizeof(*v));
    if (!v) abort();
    buf_init(&v->text);
    wal_batch whole = {e->seq, e->count, e->batch->data, e->batch->len}, commit;
    commit_split cs;
    int rc = commit_split_init(&cs, &whole);
    while (rc == 0 && (rc = commit_split_next(&cs, &commit)) == 1) {
        int shown = tv->render(tv->arg, &commit, &v->text);
        rc = shown < 0 ? -1 : 0;
        if (rc == 0) add_commit(v, &commit, shown);
    }
    commit_split_free(&cs);
    if (rc < 0) {
        view_free(v);
        return NULL;
    }
    return v;
}

/* VIEW_UNSHARED: the entry cannot be rendered, or its rendering is too big to keep. */
typedef enum { VIEW_READY, VIEW_GONE, VIEW_UNSHARED } view_status;

/* Makes sure the entry at *i has its rendering in the view. Rendering runs without the lock,
 * from the borrowed batch, so commits on other threads (which append here while holding
 * their key locks) never wait for it; the entry is then found again by its sequence, since
 * entries may have moved meanwhile (*i is updated), or left (VIEW_GONE). Called and returns
 * with the lock held. */
static view_status ensure_view(size_t *i, const tail_view *tv) {
    tail_entry *e = at(*i);
    if (e->views[tv->id]) return VIEW_READY;
    if (e->oversized & (1u << tv->id)) return VIEW_UNSHARED;
    tail_entry lent = {e->seq, e->count, batch_borrow(e->batch), {NULL}, 0};
    pthread_mutex_unlock(&tail.lock);
    entry_view *v = render_entry(&lent, tv);
    batch_return(lent.batch);
    pthread_mutex_lock(&tail.lock);
    if (!v) return VIEW_UNSHARED;
    *i = first_ending_at_or_after(lent.seq);
    if (!holds(lent.seq) || *i >= tail.len || at(*i)->seq != lent.seq) {
        view_free(v);
        return VIEW_GONE;
    }
    e = at(*i);
    if (e->views[tv->id]) { /* another reader rendered it meanwhile */
        view_free(v);
        return VIEW_READY;
    }
    if (!rendering_fits(e, v)) { /* its readers render it for themselves, without trying again */
        e->oversized |= 1u << tv->id;
        view_free(v);
        return VIEW_UNSHARED;
    }
    e->views[tv->id] = v;
    tail.bytes += view_bytes(v);
    tail.rendered_bytes += view_bytes(v);
    if (lent.seq < tail.rendered_from) tail.rendered_from = lent.seq;
    return VIEW_READY;
}

/* Appends the commits of a rendered entry that hold sequences >= from, while fewer than
 * max_shown are shown, out is shorter than max_len and the next commit keeps a non-empty out
 * within fit_len. */
static void copy_commits(const entry_view *v, uint64_t from, int max_shown, size_t max_len, size_t fit_len,
                         buf *out, tail_span *span) {
    size_t i = 0;
    while (i < v->ncommits && v->commits[i].seq + v->commits[i].count - 1 < from) i++;
    size_t start = i ? v->commits[i - 1].end : 0, end = start;
    for (; i < v->ncommits && span->shown < max_shown && out->len + (end - start) < max_len; i++) {
        const view_commit *c = &v->commits[i];
        size_t had = out->len + (end - start);
        if (had > 0 && had + (c->end - end) > fit_len) {
            span->held_back = 1;
            break;
        }
        if (!span->first) span->first = c->seq;
        span->last = c->seq + c->count - 1;
        span->shown += c->shown;
        end = c->end;
    }
    buf_append(out, v->text.data + start, end - start); /* the commits' renderings are contiguous */
}

tail_status tail_read_view(uint64_t from, int max_shown, size_t max_len, size_t fit_len, const tail_view *v,
                           buf *out, tail_span *span) {
    assert(v->id >= 0 && v->id < TAIL_VIEWS);
    *span = (tail_span){0, 0, 0, 0};
    pthread_mutex_lock(&tail.lock);
    if (!holds(from)) {
        pthread_mutex_unlock(&tail.lock);
        return TAIL_TOO_OLD;
    }
    if (tail.len && from + TAIL_SHARED_SEQUENCES < at(tail.len - 1)->seq + at(tail.len - 1)->count) {
        pthread_mutex_unlock(&tail.lock);
        return TAIL_UNSHARED;
    }
    size_t mark = out->len;
    tail_status status = TAIL_OK;
    uint64_t expected = from;
    for (size_t i = first_ending_at_or_after(from);
         i < tail.len && span->shown < max_shown && out->len < max_len && !span->held_back; i++) {
        if (at(i)->seq > expected) break; /* a commit still on its way here: stop before the gap */
        view_status vs = ensure_view(&i, v);
        if (vs == VIEW_UNSHARED) status = TAIL_UNSHARED;
        /* Gone while rendered: what was read stands and the next poll reads the WAL; with
         * nothing read yet, the WAL answers this one. */
        if (vs == VIEW_GONE && !span->last) status = TAIL_TOO_OLD;
        if (vs != VIEW_READY) break;
        tail_entry *e = at(i);
        copy_commits(e->views[v->id], from, max_shown, max_len, fit_len, out, span);
        expected = e->seq + e->count;
    }
    evict_over_budget(); /* what the renderings added, without waiting for a commit */
    pthread_mutex_unlock(&tail.lock);
    if (status != TAIL_OK) {
        out->len = mark;
        *span = (tail_span){0, 0, 0, 0};
    }
    return status;
}
