#include "cdc/retention.h"
#include "cdc/snapshots.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "cdc/consumers.h"
#include "cdc/wal_files.h"
#include "config.h"
#include "storage/store.h"
#include "util/grow.h"
#include "util/log.h"
#include "util/timeutil.h"

#define PASS_INTERVAL_MS 1000

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping, running;
} ret = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The holds of retention_hold, each a sequence after which the history stays. */
typedef struct hold {
    uint64_t handle, sequence;
} hold;

static struct {
    pthread_mutex_t lock;
    hold *list;
    size_t n, cap;
    uint64_t last_handle;
} holds = {.lock = PTHREAD_MUTEX_INITIALIZER};

uint64_t retention_hold(uint64_t sequence) {
    pthread_mutex_lock(&holds.lock);
    holds.list = grow_array(holds.list, &holds.cap, holds.n + 1, sizeof(*holds.list), 4);
    uint64_t handle = ++holds.last_handle;
    holds.list[holds.n++] = (hold){handle, sequence};
    pthread_mutex_unlock(&holds.lock);
    return handle;
}

void retention_unhold(uint64_t handle) {
    pthread_mutex_lock(&holds.lock);
    for (size_t i = 0; i < holds.n; i++) {
        if (holds.list[i].handle != handle) continue;
        holds.list[i] = holds.list[--holds.n];
        break;
    }
    pthread_mutex_unlock(&holds.lock);
}

/* The lowest sequence a hold keeps the history after; UINT64_MAX if there is none. */
static uint64_t lowest_hold(void) {
    uint64_t pin = UINT64_MAX;
    pthread_mutex_lock(&holds.lock);
    for (size_t i = 0; i < holds.n; i++)
        if (holds.list[i].sequence < pin) pin = holds.list[i].sequence;
    pthread_mutex_unlock(&holds.lock);
    return pin;
}

void retention_pass(void) {
    consumers_hold();
    wal_file *files;
    size_t n;
    if (wal_files_list(&files, &n) < 0) {
        consumers_release();
        log_msg(LOG_WARNING, "can't list the WAL files: history is kept until they can be");
        return;
    }
    uint64_t latest = store_latest_sequence();
    long long limit_mb = CONFIG_READ(wal_size_limit_mb);
    /* Holds are read after the listing: one taken later holds history no listed archived file
     * has (retention_hold). */
    uint64_t pin = consumers_pin(files, n, latest), held = lowest_hold();
    wal_retention r = {
        .pin = held < pin ? held : pin,
        .now_s = time_now_ms() / 1000,
        .ttl_s = CONFIG_READ(wal_ttl_seconds),
        .max_bytes = (uint64_t)limit_mb * 1024 * 1024,
    };
    size_t purge = wal_files_to_purge(files, n, latest, &r);
    for (size_t i = 0; i < purge; i++) wal_files_delete_archived(&files[i]);
    consumers_release();
    free(files);
}

/* Held by a pass, and by a swap of the store across it (retention_pause). */
static pthread_mutex_t pass_lock = PTHREAD_MUTEX_INITIALIZER;

void retention_pause(void) { pthread_mutex_lock(&pass_lock); }
void retention_resume(void) { pthread_mutex_unlock(&pass_lock); }

static void *retention_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&ret.lock);
    while (!ret.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += PASS_INTERVAL_MS / 1000;
        while (!ret.stopping && pthread_cond_timedwait(&ret.wake, &ret.lock, &until) == 0) {
        }
        if (ret.stopping) break;
        pthread_mutex_unlock(&ret.lock);
        pthread_mutex_lock(&pass_lock);
        consumers_flush();
        retention_pass();
        snapshots_expire();
        pthread_mutex_unlock(&pass_lock);
        pthread_mutex_lock(&ret.lock);
    }
    pthread_mutex_unlock(&ret.lock);
    return NULL;
}

int retention_start(void) {
    /* The wait runs on the monotonic clock: a wall-clock step must not stall it. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ret.wake, &attr);
    pthread_condattr_destroy(&attr);
    ret.stopping = 0;
    if (pthread_create(&ret.thread, NULL, retention_main, NULL) != 0) return -1;
    ret.running = 1;
    return 0;
}

void retention_stop(void) {
    if (!ret.running) return;
    pthread_mutex_lock(&ret.lock);
    ret.stopping = 1;
    pthread_cond_signal(&ret.wake);
    pthread_mutex_unlock(&ret.lock);
    pthread_join(ret.thread, NULL);
    pthread_cond_destroy(&ret.wake);
    ret.running = 0;
    consumers_flush();
}
