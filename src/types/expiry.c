#include "types/expiry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "server.h"
#include "storage/encoding.h"
#include "storage/expire_index.h"
#include "storage/keylock.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "types/keyspace.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Keys removed under one taking of their locks, in one RocksDB write (each its own commit). */
#define BATCH_KEYS 64
/* A key is removed once it has been expired this long: a command whose clock was taken before
 * the expiry (a transaction's KEYS then DBSIZE, a long walk) still sees the key throughout, as
 * the key counts assume (storage/keycount.c). */
#define EXPIRED_FOR_MS 1000
/* A cycle that stepped over more deleted index entries than this has the part of the index
 * behind it compacted, so that later walks from the start (after a restart) do not. */
#define SKIPS_BEFORE_COMPACTION 1024

static struct {
    pthread_t thread;
    pthread_mutex_t lock; /* guards stopping and the thread's sleep */
    pthread_cond_t wake;
    int stopping, running;
    atomic_int paused; /* DEBUG SET-ACTIVE-EXPIRE 0 */
    buf position; /* the first index entry not looked at yet: the walk's own, one thread's */
} ex = {.lock = PTHREAD_MUTEX_INITIALIZER};


void expiry_set_active(int on) { atomic_store(&ex.paused, !on); }

/* The keys of a batch: where each metadata key lies in `keys`, and its database and lock. */
typedef struct due_key {
    size_t off, len, ns; /* ns: the namespace's bytes before the user key */
    int db;
    uint64_t hash;
} due_key;

typedef struct batch {
    due_key due[BATCH_KEYS];
    size_t n;
    buf keys;
    buf last; /* the batch's last index entry */
} batch;

static const char *user_key(const batch *b, const due_key *d) { return b->keys.data + d->off + d->ns; }

/* Removes the batch's keys expired before cutoff_ms, under their locks; *removed counts them.
 * All the reads come first, then the removals, one commit each (as one DEL each), sealed
 * together just before the write: a commit's time is taken when it is sealed, and the change
 * stream's times rise with its order only if that is just before its write. Returns 0, or -1
 * on a storage error or if it gave up waiting for the locks (a busy script holds one); nothing
 * of the batch is written then, and a later cycle tries again. */
static int remove_batch(batch *b, int64_t cutoff_ms, long *removed) {
    uint64_t hashes[BATCH_KEYS];
    for (size_t i = 0; i < b->n; i++) hashes[i] = b->due[i].hash;
    size_t gone[BATCH_KEYS], ngone = 0;
    meta metas[BATCH_KEYS];
    if (keylock_global_shared() < 0) return -1;
    if (keylock_acquire(hashes, b->n) < 0) {
        keylock_global_release();
        return -1;
    }
    txn t;
    txn_init(&t);
    int rc = 0;
    for (size_t i = 0; i < b->n && rc >= 0; i++) {
        const due_key *d = &b->due[i];
        rc = ks_expired_before(&t, d->db, user_key(b, d), d->len - d->ns, cutoff_ms, &metas[ngone]);
        if (rc == 1) gone[ngone++] = i;
    }
    if (rc > 0) rc = 0;
    for (size_t i = 0; i < ngone && rc == 0; i++) {
        const due_key *d = &b->due[gone[i]];
        ks_remove_expired(&t, d->db, user_key(b, d), d->len - d->ns, &metas[i]);
        txn_seal(&t);
    }
    char *err = NULL;
    if (rc == 0 && txn_commit(&t, &err) < 0) {
        log_msg(LOG_WARNING, "active expiry: write failed: %s", err);
        free(err);
        rc = -1;
    }
    keylock_release(hashes, b->n);
    keylock_global_release();
    txn_free(&t);
    if (rc < 0) return -1;
    *removed += (long)ngone;
    return 0;
}

/* Whether the batch lists the metadata key already. */
static int batch_has(const batch *b, const char *mk, size_t mlen, uint64_t hash) {
    for (size_t i = 0; i < b->n; i++)
        if (b->due[i].hash == hash && b->due[i].len == mlen && memcmp(b->keys.data + b->due[i].off, mk, mlen) == 0)
            return 1;
    return 0;
}

/* Adds the entry the iterator stands at to the batch, unless its key is in no database the
 * server has (nothing would ever remove it) or the batch has it already: a key whose stale
 * entry lies beside its current one (a write that did not know the old expiry) is removed
 * once, not recorded as two DELs. */
static void add_entry(batch *b, store_iter *it, int databases) {
    size_t klen, mlen, ns;
    const char *k = store_iter_key(it, &klen);
    const char *mk;
    int64_t expire_ms;
    buf_clear(&b->last);
    buf_append(&b->last, k, klen);
    if (enc_decode_expire_key(k, klen, &expire_ms, &mk, &mlen) < 0) return;
    int db = enc_namespace_db(mk, mlen, &ns);
    if (db < 0 || db >= databases) return;
    uint64_t hash = keylock_hash(db, mk + ns, mlen - ns);
    if (batch_has(b, mk, mlen, hash)) return;
    b->due[b->n++] = (due_key){b->keys.len, mlen, ns, db, hash};
    buf_append(&b->keys, mk, mlen);
}

/* Moves the walk's position back to an expiry that a commit wrote behind it. */
static void rewind_position(void) {
    int64_t rewind = expire_index_take_rewind();
    if (rewind == INT64_MAX) return;
    char first[8]; /* the first entry of that expiry */
    buf_set_u64be((uint8_t *)first, (uint64_t)rewind);
    if (ex.position.len == 0 || bytes_compare(ex.position.data, ex.position.len, first, sizeof(first)) <= 0) return;
    buf_clear(&ex.position);
    buf_append(&ex.position, first, sizeof(first));
}

long expiry_cycle(int databases, int64_t cutoff_ms, int64_t budget_us) {
    int64_t started = time_mono_us();
    rewind_position(); /* before the iterator: it sees every entry the rewind is for */
    buf due_before;
    buf_init(&due_before);
    buf_put_u64be(&due_before, (uint64_t)cutoff_ms); /* the entries of expiries before the cutoff */
    batch b = {.n = 0};
    buf_init(&b.keys);
    buf_init(&b.last);
    uint64_t skips = store_count_skips_begin();
    store_iter *it = store_iter_new(CF_EXPIRE, ex.position.data ? ex.position.data : "", ex.position.len,
                                    due_before.data, due_before.len);
    long removed = 0;
    int rc = 0;
    while (rc == 0 && store_iter_valid(it)) {
        b.n = 0;
        buf_clear(&b.keys);
        for (size_t seen = 0; seen < BATCH_KEYS && store_iter_valid(it); seen++, store_iter_next(it))
            add_entry(&b, it, databases);
        rc = remove_batch(&b, cutoff_ms, &removed);
        if (rc == 0) { /* past the batch: the first key after its last entry */
            buf_clear(&ex.position);
            buf_append(&ex.position, b.last.data, b.last.len);
            buf_append_byte(&ex.position, 0);
        }
        if (time_mono_us() - started >= budget_us) break;
    }
    if (rc == 0 && !store_iter_valid(it) && store_iter_failed(it)) rc = -1;
    store_iter_free(it);
    if (store_count_skips_end(skips) > SKIPS_BEFORE_COMPACTION)
        store_compact_later(CF_EXPIRE, "", 0, ex.position.data, ex.position.len);
    buf_free(&due_before);
    buf_free(&b.keys);
    buf_free(&b.last);
    return rc < 0 ? -1 : removed;
}

/* ---- the thread ---- */

static int64_t thread_cpu_us(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0) return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Redis's slow cycle: 25% of the period, 2% more per effort step above 1. */
static int64_t cycle_budget_us(long long hz, long long effort) {
    return 1000000 / hz * (25 + 2 * (effort - 1)) / 100;
}

/* Held by a cycle, and by a swap of the store across it (expiry_pause). */
static pthread_mutex_t cycle_lock = PTHREAD_MUTEX_INITIALIZER;

void expiry_pause(void) { pthread_mutex_lock(&cycle_lock); }
void expiry_resume(void) { pthread_mutex_unlock(&cycle_lock); }

static void *expiry_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&ex.lock);
    while (!ex.stopping) {
        long long hz = CONFIG_READ(hz);
        pthread_mutex_unlock(&ex.lock);
        pthread_mutex_lock(&cycle_lock);
        if (!atomic_load(&ex.paused) && !txn_local_writes_refused()) { /* a replica's come from its master */
            int64_t cpu = thread_cpu_us();
            expiry_cycle(CONFIG_READ(databases), time_now_ms() - EXPIRED_FOR_MS,
                         cycle_budget_us(hz, CONFIG_READ(active_expire_effort)));
            atomic_fetch_add(&stats.expire_cycle_cpu_us, thread_cpu_us() - cpu);
        }
        pthread_mutex_unlock(&cycle_lock);
        pthread_mutex_lock(&ex.lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + 1000000000LL / hz;
        until.tv_sec += ns / 1000000000LL;
        until.tv_nsec = ns % 1000000000LL;
        while (!ex.stopping && pthread_cond_timedwait(&ex.wake, &ex.lock, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&ex.lock);
    return NULL;
}

int expiry_start(void) {
    /* The wait runs on the monotonic clock: a wall-clock step must not stall it. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ex.wake, &attr);
    pthread_condattr_destroy(&attr);
    ex.stopping = 0;
    buf_clear(&ex.position); /* from the start of the index */
    if (pthread_create(&ex.thread, NULL, expiry_main, NULL) != 0) {
        pthread_cond_destroy(&ex.wake);
        return -1;
    }
    ex.running = 1;
    return 0;
}

void expiry_stop(void) {
    if (!ex.running) return;
    pthread_mutex_lock(&ex.lock);
    ex.stopping = 1;
    pthread_cond_signal(&ex.wake);
    pthread_mutex_unlock(&ex.lock);
    pthread_join(ex.thread, NULL);
    pthread_cond_destroy(&ex.wake);
    buf_free(&ex.position);
    ex.running = 0;
}
