#include "cdc/wal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "cdc/wal_files.h"
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

/* The oldest sequence is cached: finding it means reading the oldest WAL file's first batch,
 * which RocksDB copies whole. A file's first batch never changes, so it is read again only
 * when the oldest file changes, or after OLDEST_REREAD_MS in case RocksDB skips a file (a torn
 * first record) without deleting it. */
#define OLDEST_CHECK_MS 1000
#define OLDEST_REREAD_MS 60000

static atomic_uint_fast64_t oldest_cached;
static atomic_int_fast64_t oldest_checked_ms;
static pthread_mutex_t oldest_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t oldest_file;   /* the file oldest_cached was read from (under oldest_lock) */
static int64_t oldest_read_ms; /* when it was read (under oldest_lock) */

/* Lowers *lowest to the lowest NNNNNN.log number in a directory; -1 if it cannot be listed
 * (a directory that does not exist holds none). */
static int lower_to_oldest_log(const char *path, uint64_t *lowest) {
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        unsigned long long n = strtoull(de->d_name, &end, 10);
        if (end != de->d_name && strcmp(end, ".log") == 0 && n < *lowest) *lowest = n;
    }
    closedir(d);
    return 0;
}

/* The number of the oldest WAL file, live or archived (RocksDB moves a live file to archive/,
 * never back, so listing the directory first cannot miss one; tidekv sets no wal_dir); 0 if it
 * cannot be told. */
static uint64_t oldest_log_number(void) {
    char archive[4096];
    if (snprintf(archive, sizeof(archive), "%s/archive", store_dir()) >= (int)sizeof(archive)) return 0;
    uint64_t lowest = UINT64_MAX;
    if (lower_to_oldest_log(store_dir(), &lowest) < 0 || lower_to_oldest_log(archive, &lowest) < 0) return 0;
    return lowest == UINT64_MAX ? 0 : lowest;
}

/* Reads the sequence of the first batch RocksDB still has in its WAL into *seq (0 if there is
 * none); -1 if the WAL cannot be read. */
static int read_oldest_sequence(uint64_t *seq) {
    char *err = NULL;
    rocksdb_wal_iterator_t *it = rocksdb_get_updates_since(store_db(), 0, NULL, &err);
    if (err) {
        free(err);
        return -1;
    }
    *seq = 0;
    if (rocksdb_wal_iter_valid(it)) {
        rocksdb_writebatch_t *wb = rocksdb_wal_iter_get_batch(it, seq);
        rocksdb_writebatch_destroy(wb);
    } else {
        /* Not valid can also mean a file that could not be read (one purged meanwhile, say):
         * that is no answer, not an empty WAL. */
        rocksdb_wal_iter_status(it, &err);
    }
    rocksdb_wal_iter_destroy(it);
    if (err) {
        free(err);
        return -1;
    }
    return 0;
}

/* Brings the cached oldest sequence up to date unless it was checked within max_age_ms (by a
 * thread this one waited for, say). A failed read keeps the last answer. */
static uint64_t refresh_oldest(int64_t max_age_ms) {
    pthread_mutex_lock(&oldest_lock);
    int64_t now = time_mono_ms();
    uint64_t seq = atomic_load(&oldest_cached);
    if (max_age_ms == 0 || now - atomic_load(&oldest_checked_ms) >= max_age_ms) {
        uint64_t file = oldest_log_number();
        /* With no batch yet, the oldest file may still be the one being written. */
        int stale = file == 0 || file != oldest_file || seq == 0 || now - oldest_read_ms >= OLDEST_REREAD_MS;
        if (stale && read_oldest_sequence(&seq) == 0) {
            atomic_store(&oldest_cached, seq);
            oldest_file = file;
            oldest_read_ms = now;
        }
        atomic_store(&oldest_checked_ms, now);
    }
    pthread_mutex_unlock(&oldest_lock);
    return seq;
}

uint64_t wal_oldest_sequence_recent(void) {
    if (time_mono_ms() - atomic_load(&oldest_checked_ms) < OLDEST_CHECK_MS) return atomic_load(&oldest_cached);
    return refresh_oldest(OLDEST_CHECK_MS);
}

uint64_t wal_oldest_sequence(void) { return refresh_oldest(0); }

void wal_forget(void) {
    wal_pool_clear();
    pthread_mutex_lock(&oldest_lock);
    atomic_store(&oldest_cached, 0);
    atomic_store(&oldest_checked_ms, 0);
    oldest_file = 0;
    oldest_read_ms = 0;
    pthread_mutex_unlock(&oldest_lock);
    wal_files_forget();
}
