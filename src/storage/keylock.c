#define _GNU_SOURCE /* pthread_mutex_clocklock, pthread_rwlock_clock*lock: waits on the monotonic clock */

#include "storage/keylock.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/hash.h"

#define WATCH_SLOTS 65536
/* Databases share flush counters by index modulo this: a FLUSHDB of one may abort a watch
 * in another that shares its counter (a spurious abort, never a missed one). */
#define FLUSH_SLOTS 1024

static pthread_mutex_t stripes[KEYLOCK_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t global_lock;
static atomic_uint_fast64_t watch_versions[WATCH_SLOTS];
static atomic_uint_fast64_t flush_epochs[FLUSH_SLOTS];
static int (*_Atomic give_up_check)(void);
/* Commands running without the global lock beside the holder that lets them (see
 * keylock_global_skip_begin). */
static atomic_int skipping;

/* How long a waiter sleeps on a busy lock before asking give_up_check again. */
#define WAIT_SLICE_MS 10

static void init_stripes(void) {
    /* Writer-preferring: write groups hold the shared side for a whole event-loop pass, and
     * with two workers their passes overlap, so FLUSHALL would otherwise wait forever. No
     * thread takes the shared side twice, which this kind of lock would not allow. */
    pthread_rwlockattr_t rw;
    pthread_rwlockattr_init(&rw);
    pthread_rwlockattr_setkind_np(&rw, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&global_lock, &rw);
    pthread_rwlockattr_destroy(&rw);
    for (int i = 0; i < KEYLOCK_STRIPES; i++) pthread_mutex_init(&stripes[i], NULL);
}

/* The db's 4 bytes, then the key's, as one string. With the db as hash_fnv1a's seed the key's
 * first byte undid it (key "r" of db 0 and "s" of db 1 collided): blocked stream readers tell
 * the keys a new entry signalled by this hash alone (cmd/blocking.c). */
uint64_t keylock_hash(int db, const char *key, size_t klen) {
    uint32_t db_bytes = (uint32_t)db;
    return hash_fnv1a_on(hash_fnv1a(0, &db_bytes, sizeof(db_bytes)), key, klen);
}

void keylock_set_give_up(int (*should_give_up)(void)) { atomic_store(&give_up_check, should_give_up); }

/* The clock of the timed waits: monotonic (a clock step cannot stretch a slice), except under
 * ThreadSanitizer, whose runtime (GCC 12's) does not intercept the _clocklock waits and would
 * take a lock they took for one never locked: there the realtime waits it knows are used. */
#ifdef __SANITIZE_THREAD__
#define WAIT_CLOCK CLOCK_REALTIME
#define mutex_lock_until(m, until) pthread_mutex_timedlock(m, until)
#define rwlock_wrlock_until(l, until) pthread_rwlock_timedwrlock(l, until)
#define rwlock_rdlock_until(l, until) pthread_rwlock_timedrdlock(l, until)
#else
#define WAIT_CLOCK CLOCK_MONOTONIC
#define mutex_lock_until(m, until) pthread_mutex_clocklock(m, CLOCK_MONOTONIC, until)
#define rwlock_wrlock_until(l, until) pthread_rwlock_clockwrlock(l, CLOCK_MONOTONIC, until)
#define rwlock_rdlock_until(l, until) pthread_rwlock_clockrdlock(l, CLOCK_MONOTONIC, until)
#endif

/* The end of one wait slice from now, on WAIT_CLOCK. */
static struct timespec slice_end(void) {
    struct timespec ts;
    clock_gettime(WAIT_CLOCK, &ts);
    ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits for a stripe in slices, asking the give-up check between them. Returns 0 when locked. */
static int wait_stripe(pthread_mutex_t *m) {
    if (pthread_mutex_trylock(m) == 0) return 0;
    int (*should_give_up)(void) = atomic_load(&give_up_check);
    if (!should_give_up) return pthread_mutex_lock(m) == 0 ? 0 : -1;
    for (;;) {
        struct timespec until = slice_end();
        if (mutex_lock_until(m, &until) == 0) return 0;
        if (should_give_up()) return -1;
    }
}

/* Takes one side of the global lock, waiting until `until` (NULL: for good). */
static int lock_global(int exclusive, const struct timespec *until) {
    if (!until) return exclusive ? pthread_rwlock_wrlock(&global_lock) : pthread_rwlock_rdlock(&global_lock);
    return exclusive ? rwlock_wrlock_until(&global_lock, until) : rwlock_rdlock_until(&global_lock, until);
}

/* Waits for one side of the global lock as wait_stripe does for a stripe, also giving up when
 * the caller's own check (if any) says so. */
static int wait_global(int exclusive, int (*own_check)(void)) {
    pthread_once(&stripes_once, init_stripes);
    if ((exclusive ? pthread_rwlock_trywrlock(&global_lock) : pthread_rwlock_tryrdlock(&global_lock)) == 0) return 0;
    int (*should_give_up)(void) = atomic_load(&give_up_check);
    int sliced = should_give_up || own_check;
    for (;;) {
        struct timespec until = slice_end();
        if (lock_global(exclusive, sliced ? &until : NULL) == 0) return 0;
        if (!sliced || (should_give_up && should_give_up()) || (own_check && own_check())) return -1;
    }
}

/* The stripes the calling thread holds, however it took them (a write group's set, a command's
 * list): a thread serving blocked clients after its commit takes only the ones it lacks. */
static __thread uint64_t thread_held[KEYLOCK_STRIPES / 64];

static int thread_holds(unsigned stripe) { return (thread_held[stripe / 64] >> (stripe % 64)) & 1; }

static void thread_note(unsigned stripe, int held) {
    if (held) thread_held[stripe / 64] |= 1ULL << (stripe % 64);
    else thread_held[stripe / 64] &= ~(1ULL << (stripe % 64));
}

static int compare_stripe(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a % KEYLOCK_STRIPES, y = *(const uint64_t *)b % KEYLOCK_STRIPES;
    return x < y ? -1 : x > y;
}

/* Sorts the hashes and locks each stripe once, in stripe order (no deadlock between
 * overlapping sets). Returns -1 holding none if one is busy without waiting (`try`) or if it
 * gave up waiting. */
static int lock_in_order(uint64_t *hashes, size_t n, int try) {
    pthread_once(&stripes_once, init_stripes);
    if (n == 0) return 0;
    qsort(hashes, n, sizeof(*hashes), compare_stripe);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && hashes[i] % KEYLOCK_STRIPES == hashes[i - 1] % KEYLOCK_STRIPES) continue;
        pthread_mutex_t *m = &stripes[hashes[i] % KEYLOCK_STRIPES];
        if ((try ? pthread_mutex_trylock(m) : wait_stripe(m)) != 0) {
            keylock_release(hashes, i);
            return -1;
        }
        thread_note((unsigned)(hashes[i] % KEYLOCK_STRIPES), 1);
    }
    return 0;
}

int keylock_acquire(uint64_t *hashes, size_t n) { return lock_in_order(hashes, n, 0); }

void keylock_release(const uint64_t *hashes, size_t n) {
    for (size_t i = n; i-- > 0;) {
        if (i > 0 && hashes[i] % KEYLOCK_STRIPES == hashes[i - 1] % KEYLOCK_STRIPES) continue;
        thread_note((unsigned)(hashes[i] % KEYLOCK_STRIPES), 0);
        pthread_mutex_unlock(&stripes[hashes[i] % KEYLOCK_STRIPES]);
    }
}

void keylock_set_init(keylock_set *s) { memset(s, 0, sizeof(*s)); }

void keylock_set_free(keylock_set *s) {
    free(s->stripes);
    s->stripes = NULL;
    s->cap = 0;
}

static int set_holds(const keylock_set *s, unsigned stripe) { return (s->held[stripe / 64] >> (stripe % 64)) & 1; }

static void set_note(keylock_set *s, unsigned stripe) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->stripes = realloc(s->stripes, s->cap * sizeof(*s->stripes));
        if (!s->stripes) abort();
    }
    s->stripes[s->n++] = (uint16_t)stripe;
    s->held[stripe / 64] |= 1ULL << (stripe % 64);
    thread_note(stripe, 1);
}

int keylock_set_add(keylock_set *s, uint64_t *hashes, size_t n, int may_wait) {
    pthread_once(&stripes_once, init_stripes);
    if (n == 0) return 0;
    size_t before = s->n;
    qsort(hashes, n, sizeof(*hashes), compare_stripe);
    for (size_t i = 0; i < n; i++) {
        unsigned stripe = (unsigned)(hashes[i] % KEYLOCK_STRIPES);
        /* Also skips duplicates (the first one set it) and stripes the thread holds otherwise. */
        if (set_holds(s, stripe) || thread_holds(stripe)) continue;
        if ((may_wait ? wait_stripe(&stripes[stripe]) : pthread_mutex_trylock(&stripes[stripe])) != 0) {
            while (s->n > before) { /* give back what this call took */
                unsigned taken = s->stripes[--s->n];
                s->held[taken / 64] &= ~(1ULL << (taken % 64));
                thread_note(taken, 0);
                pthread_mutex_unlock(&stripes[taken]);
            }
            return -1;
        }
        set_note(s, stripe);
    }
    return 0;
}

void keylock_set_release(keylock_set *s) {
    for (size_t i = s->n; i-- > 0;) {
        thread_note(s->stripes[i], 0);
        pthread_mutex_unlock(&stripes[s->stripes[i]]);
    }
    memset(s->held, 0, sizeof(s->held));
    s->n = 0;
}

int keylock_set_holds_any(const keylock_set *s, const uint64_t *hashes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (set_holds(s, (unsigned)(hashes[i] % KEYLOCK_STRIPES))) return 1;
    return 0;
}

int keylock_try_acquire(uint64_t *hashes, size_t n) { return lock_in_order(hashes, n, 1); }

/* How many times this thread holds the global lock (either side). */
static __thread int global_held;

static int note_global(int rc) {
    if (rc == 0) global_held++;
    return rc;
}

/* The exclusive side, once taken, also waits for the commands that skipped the lock: they
 * were let through by a holder now gone, and run for microseconds. */
static int wait_skippers(int rc) {
    while (rc == 0 && atomic_load(&skipping) > 0) sched_yield();
    return rc;
}

int keylock_global_shared(void) { return note_global(wait_global(0, NULL)); }
int keylock_global_exclusive(void) { return note_global(wait_skippers(wait_global(1, NULL))); }
int keylock_global_exclusive_unless(int (*give_up)(void)) {
    return note_global(wait_skippers(wait_global(1, give_up)));
}

int keylock_global_skip_begin(int (*holder_lets_through)(void)) {
    /* Counted before the check (the fence keeps the check's reads after it): an exclusive
     * taker that saw no skipper took the lock before this increment, so the holder had let it
     * go and the check fails. */
    atomic_fetch_add(&skipping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (holder_lets_through()) return 1;
    atomic_fetch_sub(&skipping, 1);
    return 0;
}

void keylock_global_skip_end(void) { atomic_fetch_sub(&skipping, 1); }
int keylock_global_held(void) { return global_held > 0; }

void keylock_global_release(void) {
    global_held--;
    pthread_rwlock_unlock(&global_lock);
}

uint64_t keylock_watch_version(uint64_t hash) { return atomic_load(&watch_versions[hash % WATCH_SLOTS]); }
void keylock_watch_bump(uint64_t hash) { atomic_fetch_add(&watch_versions[hash % WATCH_SLOTS], 1); }
uint64_t keylock_flush_epoch(int db) { return atomic_load(&flush_epochs[(unsigned)db % FLUSH_SLOTS]); }
void keylock_flush_bump(int db) { atomic_fetch_add(&flush_epochs[(unsigned)db % FLUSH_SLOTS], 1); }
