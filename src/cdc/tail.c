#include "cdc/tail.h"

#include <pthread.h>
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
    size_t ncommits;
} entry_view;

typedef struct tail_entry {
    uint64_t seq;
    uint32_t count;
    size_t len;
    char *data;
    entry_view *views[TAIL_VIEWS]; /* NULL until a read in that view needs it */
} tail_entry;

/* A circular array of entries sorted by sequence, oldest at head. */
static struct {
    pthread_mutex_t lock;
    tail_entry *entries;
    size_t cap, head, len;
    size_t bytes, capacity_bytes;
    uint64_t evicted_up_to; /* the last sequence no longer held (0 = nothing evicted) */
    int started;            /* the first batch since start-up has been seen */
} tail = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0, 0};

#define INITIAL_ENTRIES 1024

void tail_init(size_t capacity_bytes) {
    pthread_mutex_lock(&tail.lock);
    tail.capacity_bytes = capacity_bytes;
    pthread_mutex_unlock(&tail.lock);
}

static tail_entry *at(size_t i) { return &tail.entries[(tail.head + i) % tail.cap]; }

static size_t view_bytes(const entry_view *v) { return v->text.len + v->ncommits * sizeof(view_commit); }

static void view_free(entry_view *v) {
    buf_free(&v->text);
    free(v->commits);
    free(v);
}

static void evict_oldest(void) {
    tail_entry *e = at(0);
    tail.evicted_up_to = e->seq + e->count - 1;
    tail.bytes -= e->len;
    free(e->data);
    for (int i = 0; i < TAIL_VIEWS; i++) {
        if (!e->views[i]) continue;
        tail.bytes -= view_bytes(e->views[i]);
        view_free(e->views[i]);
    }
    tail.head = (tail.head + 1) % tail.cap;
    tail.len--;
}

/* Keeps the newest batch whatever its size, so a poll near the head always finds it here. */
static void evict_over_budget(void) {
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
    tail.evicted_up_to = 0;
    tail.started = 0;
    pthread_mutex_unlock(&tail.lock);
}

void tail_append(const char *batch, size_t len) {
    batch_reader r;
    if (batch_reader_init(&r, batch, len) < 0 || r.count == 0) return;
    char *copy = malloc(len);
    if (!copy) abort();
    memcpy(copy, batch, len);
    pthread_mutex_lock(&tail.lock);
    if (tail.capacity_bytes == 0) {
        pthread_mutex_unlock(&tail.lock);
        free(copy);
        return;
    }
    if (!tail.started) {
        /* Everything before the first batch seen since start-up is only in the WAL. */
        tail.evicted_up_to = r.sequence - 1;
        tail.started = 1;
    }
    if (tail.len == tail.cap) grow();
    /* Concurrent commits may arrive slightly out of order: insert in place, from the end. */
    size_t pos = tail.len;
    while (pos > 0 && at(pos - 1)->seq > r.sequence) {
        *at(pos) = *at(pos - 1);
        pos--;
    }
    *at(pos) = (tail_entry){r.sequence, r.count, len, copy, {NULL}};
    tail.len++;
    tail.bytes += len;
    evict_over_budget();
    pthread_mutex_unlock(&tail.lock);
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

/* Whether from is within what the cache holds (or will hold); called with the lock held. */
static int holds(uint64_t from) { return tail.started && tail.capacity_bytes > 0 && from > tail.evicted_up_to; }

tail_status tail_read(uint64_t from, int max_batches, buf *out, int *n) {
    *n = 0;
    pthread_mutex_lock(&tail.lock);
    if (!holds(from)) {
        pthread_mutex_unlock(&tail.lock);
        return TAIL_TOO_OLD;
    }
    uint64_t expected = from;
    for (size_t i = first_ending_at_or_after(from); i < tail.len && *n < max_batches; i++) {
        tail_entry *e = at(i);
        if (e->seq > expected) break; /* a commit still on its way here: stop before the gap */
        uint32_t len32 = (uint32_t)e->len;
        buf_append(out, &len32, sizeof(len32));
        buf_append(out, e->data, e->len);
        expected = e->seq + e->count;
        (*n)++;
    }
    pthread_mutex_unlock(&tail.lock);
    return TAIL_OK;
}

static void add_commit(entry_view *v, size_t *cap, const wal_batch *c, int shown) {
    if (v->ncommits == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        v->commits = realloc(v->commits, *cap * sizeof(*v->commits));
        if (!v->commits) abort();
    }
    v->commits[v->ncommits++] = (view_commit){c->sequence, c->count, shown, v->text.len};
}

/* Renders every commit of an entry; NULL if one cannot be rendered. */
static entry_view *render_entry(const tail_entry *e, const tail_view *tv) {
    entry_view *v = calloc(1, sizeof(*v));
    if (!v) abort();
    buf_init(&v->text);
    wal_batch whole = {e->seq, e->count, e->data, e->len}, commit;
    commit_split cs;
    size_t cap = 0;
    int rc = commit_split_init(&cs, &whole);
    while (rc == 0 && (rc = commit_split_next(&cs, &commit)) == 1) {
        int shown = tv->render(tv->arg, &commit, &v->text);
        rc = shown < 0 ? -1 : 0;
        if (rc == 0) add_commit(v, &cap, &commit, shown);
    }
    commit_split_free(&cs);
    if (rc < 0) {
        view_free(v);
        return NULL;
    }
    return v;
}

/* The entry's rendering in a view, made on first use. Rendering happens under the lock, which
 * delays other threads' commits, but only once per batch and view. Eviction waits for the end
 * of the read, so the entries a read walks stay put. */
static entry_view *view_of(tail_entry *e, const tail_view *tv) {
    if (!e->views[tv->id]) {
        e->views[tv->id] = render_entry(e, tv);
        if (e->views[tv->id]) tail.bytes += view_bytes(e->views[tv->id]);
    }
    return e->views[tv->id];
}

/* Appends the commits of a rendered entry that hold sequences >= from, up to max_shown shown. */
static void copy_commits(const entry_view *v, uint64_t from, int max_shown, buf *out, tail_span *span) {
    size_t i = 0;
    while (i < v->ncommits && v->commits[i].seq + v->commits[i].count - 1 < from) i++;
    size_t start = i ? v->commits[i - 1].end : 0, end = start;
    for (; i < v->ncommits && span->shown < max_shown; i++) {
        const view_commit *c = &v->commits[i];
        if (!span->first) span->first = c->seq;
        span->last = c->seq + c->count - 1;
        span->shown += c->shown;
        end = c->end;
    }
    buf_append(out, v->text.data + start, end - start); /* the commits' renderings are contiguous */
}

tail_status tail_read_view(uint64_t from, int max_shown, const tail_view *v, buf *out, tail_span *span) {
    *span = (tail_span){0, 0, 0};
    pthread_mutex_lock(&tail.lock);
    if (!holds(from)) {
        pthread_mutex_unlock(&tail.lock);
        return TAIL_TOO_OLD;
    }
    size_t mark = out->len;
    tail_status status = TAIL_OK;
    uint64_t expected = from;
    for (size_t i = first_ending_at_or_after(from); i < tail.len && span->shown < max_shown; i++) {
        tail_entry *e = at(i);
        if (e->seq > expected) break; /* a commit still on its way here: stop before the gap */
        entry_view *ev = view_of(e, v);
        if (!ev) {
            status = TAIL_UNRENDERABLE;
            break;
        }
        copy_commits(ev, from, max_shown, out, span);
        expected = e->seq + e->count;
    }
    evict_over_budget(); /* what the renderings added, without waiting for a commit */
    pthread_mutex_unlock(&tail.lock);
    if (status == TAIL_UNRENDERABLE) {
        out->len = mark;
        *span = (tail_span){0, 0, 0};
    }
    return status;
}
