#include "cdc/wal.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "storage/store.h"
#include "util/timeutil.h"

#define POOL_SIZE 16

struct wal_cursor {
    rocksdb_wal_iterator_t *it;
    rocksdb_writebatch_t *current; /* the batch last returned */
    int positioned;                /* it points at a batch already returned */
    int fresh;                     /* it was created for this read: a gap means lost history */
    uint64_t expected;             /* first sequence the next batch should start at */
    uint64_t current_seq;          /* first sequence of current */
    int redeliver;                 /* the next wal_next returns current again */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static wal_cursor *pool[POOL_SIZE];

wal_cursor *wal_open(uint64_t from) {
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SIZE; i++) {
        wal_cursor *c = pool[i];
        /* Either it ends where this read starts, or a read stopped inside its last batch
         * (a WAL record may hold several commits: group commit). */
        int inside = c && c->current && c->current_seq <= from && from < c->expected;
        if (c && (c->expected == from || inside)) {
            c->redeliver = inside;
            pool[i] = NULL;
            pthread_mutex_unlock(&pool_lock);
            return c;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    wal_cursor *c = calloc(1, sizeof(*c));
    if (!c) abort();
    c->expected = from;
    return c;
}

static void drop_iterator(wal_cursor *c) {
    if (c->current) rocksdb_writebatch_destroy(c->current);
    if (c->it) rocksdb_wal_iter_destroy(c->it);
    c->current = NULL;
    c->it = NULL;
}

static void cursor_free(wal_cursor *c) {
    drop_iterator(c);
    free(c);
}

static int open_iterator(wal_cursor *c, char **err) {
    *err = NULL;
    c->it = rocksdb_get_updates_since(store_db(), c->expected, NULL, err);
    if (*err) {
        c->it = NULL;
        return -1;
    }
    c->positioned = 0;
    c->fresh = 1;
    return 0;
}

/* Describes the current batch in b. */
static void describe_current(wal_cursor *c, wal_batch *b) {
    size_t len;
    const char *data = rocksdb_writebatch_data(c->current, &len);
    b->sequence = c->current_seq;
    b->count = (uint32_t)(c->expected - c->current_seq);
    b->data = data;
    b->len = len;
}

int wal_next(wal_cursor *c, wal_batch *b, char **err) {
    *err = NULL;
    if (c->redeliver) {
        c->redeliver = 0;
        describe_current(c, b);
        return 1;
    }
    for (;;) {
        if (!c->it && open_iterator(c, err) < 0) return -1;
        if (c->positioned) rocksdb_wal_iter_next(c->it);
        c->positioned = 1;
        if (c->current) {
            rocksdb_writebatch_destroy(c->current);
            c->current = NULL;
        }
        if (!rocksdb_wal_iter_valid(c->it)) {
            /* A pooled iterator does not see WAL files created after it: retry with a new one. */
            if (!c->fresh && c->expected <= store_latest_sequence()) {
                drop_iterator(c);
                continue;
            }
            /* A new iterator that found nothing must not be advanced later: RocksDB asserts. */
            if (c->fresh) {
                char *status = NULL;
                rocksdb_wal_iter_status(c->it, &status);
                drop_iterator(c);
                if (status && c->expected > store_latest_sequence()) free(status), status = NULL;
                *err = status;
                return status ? -1 : 0;
            }
            rocksdb_wal_iter_status(c->it, err);
            if (*err && c->expected > store_latest_sequence()) {
                free(*err); /* "no more data" past the latest commit is the normal end */
                *err = NULL;
            }
            return *err ? -1 : 0;
        }
        uint64_t seq;
        c->current = rocksdb_wal_iter_get_batch(c->it, &seq);
        size_t len;
        const char *data = rocksdb_writebatch_data(c->current, &len);
        batch_reader r;
        if (batch_reader_init(&r, data, len) < 0) {
            *err = strdup("corrupt write batch in the WAL");
            return -1;
        }
        if (seq + r.count <= c->expected) { /* wholly before what was asked */
            rocksdb_writebatch_destroy(c->current);
            c->current = NULL;
            continue;
        }
        if (seq > c->expected && !c->fresh) {
            drop_iterator(c); /* a reused iterator skipped something: look again from scratch */
            continue;
        }
        c->fresh = 0;
        c->expected = seq + r.count;
        c->current_seq = seq;
        describe_current(c, b);
        return 1;
    }
}

void wal_close(wal_cursor *c) {
    /* The current batch stays: the next read may start inside it. Only a cursor that has
     * read a batch is worth keeping. */
    if (!c->it || c->fresh) {
        cursor_free(c);
        return;
    }
    pthread_mutex_lock(&pool_lock);
    int slot = -1;
    for (int i = 0; i < POOL_SIZE && slot < 0; i++)
        if (!pool[i]) slot = i;
    wal_cursor *evicted = NULL;
    if (slot < 0) {
        slot = rand() % POOL_SIZE; /* full: replace one at random */
        evicted = pool[slot];
    }
    pool[slot] = c;
    pthread_mutex_unlock(&pool_lock);
    if (evicted) cursor_free(evicted);
}

void wal_pool_clear(void) {
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < POOL_SIZE; i++) {
        if (pool[i]) cursor_free(pool[i]);
        pool[i] = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
}

static atomic_uint_fast64_t oldest_cached;
static atomic_int_fast64_t oldest_checked_ms;
/* The WAL file oldest_cached was read from: a file's first batch never changes, so while that
 * file is the oldest there is no need to read its first batch again (which is copied whole). */
static atomic_uint_fast64_t oldest_file;
static pthread_mutex_t oldest_lock = PTHREAD_MUTEX_INITIALIZER;

/* The lowest NNNNNN.log number in a directory, or UINT64_MAX if there is none. */
static uint64_t lowest_log_number(const char *path) {
    DIR *d = opendir(path);
    if (!d) return UINT64_MAX;
    uint64_t lowest = UINT64_MAX;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        unsigned long long n = strtoull(de->d_name, &end, 10);
        if (end != de->d_name && strcmp(end, ".log") == 0 && n < lowest) lowest = n;
    }
    closedir(d);
    return lowest;
}

/* The number of the oldest WAL file, live or archived (RocksDB moves a live file to archive/,
 * never back, so listing the directory first cannot miss one); 0 if it cannot be told. */
static uint64_t oldest_log_number(void) {
    char archive[4096];
    if (snprintf(archive, sizeof(archive), "%s/archive", store_dir()) >= (int)sizeof(archive)) return 0;
    uint64_t live = lowest_log_number(store_dir()), archived = lowest_log_number(archive);
    uint64_t lowest = live < archived ? live : archived;
    return lowest == UINT64_MAX ? 0 : lowest;
}

uint64_t wal_oldest_sequence_recent(void) {
    int64_t now = time_mono_ms();
    if (now - atomic_load(&oldest_checked_ms) < 1000) return atomic_load(&oldest_cached);
    return wal_oldest_sequence();
}

/* Reads the first batch RocksDB still has in its WAL: its sequence, or 0 if there is none. */
static uint64_t read_oldest_sequence(void) {
    char *err = NULL;
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(store_db(), 0, NULL, &err);
    if (err) {
        free(err);
        return 0;
    }
    uint64_t seq = 0;
    if (rocksdb_wal_iter_valid(it)) {
        rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(it, &seq);
        rocksdb_writebatch_destroy(wb);
    }
    rocksdb_wal_iter_destroy(it);
    return seq;
}

uint64_t wal_oldest_sequence(void) {
    pthread_mutex_lock(&oldest_lock);
    uint64_t file = oldest_log_number(), seq = atomic_load(&oldest_cached);
    /* With no batch yet, the oldest file may still be the one being written. */
    if (file == 0 || file != atomic_load(&oldest_file) || seq == 0) {
        seq = read_oldest_sequence();
        atomic_store(&oldest_cached, seq);
        atomic_store(&oldest_file, file);
    }
    atomic_store(&oldest_checked_ms, time_mono_ms());
    pthread_mutex_unlock(&oldest_lock);
    return seq;
}
