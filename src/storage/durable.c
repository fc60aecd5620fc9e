#include "storage/durable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "storage/store.h"
#include "util/log.h"

/* After a failed sync, wait this long before the next try. */
#define RETRY_MS 100

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int requested, stopping, running;
    void (*after_sync)(void);
    atomic_ullong synced, syncs, failures;
} d = {.lock = PTHREAD_MUTEX_INITIALIZER};

uint64_t durable_synced_sequence(void) { return atomic_load(&d.synced); }
uint64_t durable_sync_count(void) { return atomic_load(&d.syncs); }
uint64_t durable_sync_failures(void) { return atomic_load(&d.failures); }

void durable_request_sync(void) {
    pthread_mutex_lock(&d.lock);
    if (!d.requested) {
        d.requested = 1;
        pthread_cond_signal(&d.wake);
    }
    pthread_mutex_unlock(&d.lock);
}

/* Held by a sync, and by a swap of the store across it (durable_pause). */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

void durable_pause(void) { pthread_mutex_lock(&sync_lock); }

void durable_resume(int reopened) {
    /* A store just opened holds on disk what it recovered from its WAL. */
    if (reopened) atomic_store(&d.synced, store_latest_sequence());
    pthread_mutex_unlock(&sync_lock);
}

static int sync_locked(void);

/* Syncs the WAL if anything was written since the last sync; 0, or -1 if the sync failed. */
static int sync_now(void) {
    pthread_mutex_lock(&sync_lock);
    int rc = sync_locked();
    pthread_mutex_unlock(&sync_lock);
    return rc;
}

static int sync_locked(void) {
    /* Writes up to the latest sequence are in the WAL file already: RocksDB publishes a
     * sequence only after its batch is written. */
    uint64_t target = store_latest_sequence();
    if (target <= atomic_load(&d.synced)) return 0;
    char *err = NULL;
    store_sync_wal(&err);
    if (err) {
        log_msg(LOG_WARNING, "syncing the WAL failed (will retry): %s", err);
        free(err);
        atomic_fetch_add(&d.failures, 1);
        if (d.after_sync) d.after_sync();
        return -1;
    }
    atomic_store(&d.synced, target);
    atomic_fetch_add(&d.syncs, 1);
    if (d.after_sync) d.after_sync();
    return 0;
}

/* Waits (lock held) until a sync is asked for, ms have passed, or stop. */
static void wait_for_work(int64_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (!d.requested && !d.stopping)
        if (pthread_cond_timedwait(&d.wake, &d.lock, &until) != 0) break;
}

static void *sync_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&d.lock);
    while (!d.stopping) {
        wait_for_work(1000);
        int asked = d.requested;
        d.requested = 0;
        if (d.stopping) break;
        pthread_mutex_unlock(&d.lock);
        /* A held reply is synced for whatever the mode is now, so none waits forever. */
        int mode = CONFIG_READ(appendfsync);
        if ((asked || mode != FSYNC_NO) && sync_now() < 0) {
            struct timespec pause = {0, RETRY_MS * 1000000L};
            nanosleep(&pause, NULL);
            pthread_mutex_lock(&d.lock);
            if (asked) d.requested = 1; /* the held replies still wait */
            continue;
        }
        pthread_mutex_lock(&d.lock);
    }
    pthread_mutex_unlock(&d.lock);
    sync_now();
    return NULL;
}

int durable_start(void (*after_sync)(void)) {
    d.after_sync = after_sync;
    /* The once-a-second wait runs on the monotonic clock: a wall-clock step must not stall it. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d.wake, &attr);
    pthread_condattr_destroy(&attr);
    d.stopping = 0;
    atomic_store(&d.synced, store_latest_sequence()); /* recovered from the WAL on disk */
    if (pthread_create(&d.thread, NULL, sync_main, NULL) != 0) return -1;
    d.running = 1;
    return 0;
}

void durable_stop(void) {
    if (!d.running) return;
    pthread_mutex_lock(&d.lock);
    d.stopping = 1;
    pthread_cond_signal(&d.wake);
    pthread_mutex_unlock(&d.lock);
    pthread_join(d.thread, NULL);
    pthread_cond_destroy(&d.wake);
    d.running = 0;
}
