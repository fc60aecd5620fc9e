#include "cdc/tail.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"

typedef struct tail_entry {
    uint64_t seq;
    uint32_t count;
    size_t len;
    char *data;
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

static void evict_oldest(void) {
    tail_entry *e = at(0);
    tail.evicted_up_to = e->seq + e->count - 1;
    tail.bytes -= e->len;
    free(e->data);
    tail.head = (tail.head + 1) % tail.cap;
    tail.len--;
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
    *at(pos) = (tail_entry){r.sequence, r.count, len, copy};
    tail.len++;
    tail.bytes += len;
    while (tail.bytes > tail.capacity_bytes && tail.len > 1) evict_oldest();
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

tail_status tail_read(uint64_t from, int max_batches, buf *out, int *n) {
    *n = 0;
    pthread_mutex_lock(&tail.lock);
    if (!tail.started || tail.capacity_bytes == 0 || from <= tail.evicted_up_to) {
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
