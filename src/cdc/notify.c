#include "cdc/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Waiters are woken by a notifier thread, not by the committing thread: a commit only flags
 * that something is new, so under a stream of writes blocked pollers are woken at most once
 * per interval (each then takes everything committed meanwhile) instead of once per write. */
#define WAKE_INTERVAL_NS (250 * 1000)

static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static cdc_waiter *waiters;
static atomic_int nwaiters;

static pthread_mutex_t notifier_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notifier_cond = PTHREAD_COND_INITIALIZER;
static pthread_t notifier;
static atomic_int pending;
static _Atomic uint64_t announced;
/* No listed waiter that still needs a wake-up waits for a sequence below this (a lower bound:
 * removals leave it low until the notifier's next walk), so commits short of it, such as those
 * a lingering poll gathers, need not rouse the notifier. */
static _Atomic uint64_t lowest_wake_at = UINT64_MAX;
static int stopping, running;

int cdc_waiter_add(cdc_waiter *w, uint64_t wake_at) {
    pthread_mutex_lock(&waiters_lock);
    w->wake_at = wake_at;
    if (wake_at < atomic_load(&lowest_wake_at)) atomic_store(&lowest_wake_at, wake_at);
    if (!w->listed) {
        w->prev = NULL;
        w->next = waiters;
        if (waiters) waiters->prev = w;
        waiters = w;
        w->listed = 1;
        atomic_fetch_add(&nwaiters, 1);
    }
    pthread_mutex_unlock(&waiters_lock);
    /* Sequentially consistent with cdc_notify_commit: a commit announced before the listing
     * is seen here, and one announced after it sees the listing. */
    return atomic_load(&announced) >= wake_at;
}

void cdc_waiter_remove(cdc_waiter *w) {
    pthread_mutex_lock(&waiters_lock);
    if (w->listed) {
        if (w->prev) w->prev->next = w->next;
        else waiters = w->next;
        if (w->next) w->next->prev = w->prev;
        w->listed = 0;
        atomic_fetch_sub(&nwaiters, 1);
    }
    pthread_mutex_unlock(&waiters_lock);
}

/* Wakes the waiters that commits reached. A woken waiter drops out of the lowest wake-up
 * sequence: its retry either answers or lists it again from where its new scan ended. */
static void wake_reached(void) {
    uint64_t latest = atomic_load(&announced);
    uint64_t lowest = UINT64_MAX;
    pthread_mutex_lock(&waiters_lock);
    for (cdc_waiter *w = waiters; w; w = w->next) {
        if (latest >= w->wake_at) w->wake(w->arg);
        else if (w->wake_at < lowest) lowest = w->wake_at;
    }
    atomic_store(&lowest_wake_at, lowest);
    pthread_mutex_unlock(&waiters_lock);
}

uint64_t cdc_announced_sequence(void) { return atomic_load(&announced); }

void cdc_notify_restart(uint64_t latest) {
    atomic_store(&announced, latest);
    pthread_mutex_lock(&waiters_lock);
    for (cdc_waiter *w = waiters; w; w = w->next) w->wake(w->arg);
    atomic_store(&lowest_wake_at, UINT64_MAX);
    pthread_mutex_unlock(&waiters_lock);
}

void cdc_notify_commit(uint64_t last_seq) {
    /* Commits of several workers may announce out of order: keep the highest. */
    uint64_t seen = atomic_load(&announced);
    while (seen < last_seq && !atomic_compare_exchange_weak(&announced, &seen, last_seq)) continue;
    /* Sequentially consistent with cdc_waiter_add: a waiter listed meanwhile either sees this
     * commit announced (and goes on by itself) or is seen here. */
    if (atomic_load(&nwaiters) == 0 || last_seq < atomic_load(&lowest_wake_at)) return;
    if (atomic_exchange(&pending, 1)) return; /* the notifier has not run since the last commit */
    pthread_mutex_lock(&notifier_lock);
    pthread_cond_signal(&notifier_cond);
    pthread_mutex_unlock(&notifier_lock);
}

static void *notifier_main(void *arg) {
    (void)arg;
    struct timespec interval = {0, WAKE_INTERVAL_NS};
    for (;;) {
        pthread_mutex_lock(&notifier_lock);
        while (!atomic_load(&pending) && !stopping) pthread_cond_wait(&notifier_cond, &notifier_lock);
        int stop = stopping;
        pthread_mutex_unlock(&notifier_lock);
        if (stop) return NULL;
        atomic_store(&pending, 0); /* commits from here on flag again */
        wake_reached();
        nanosleep(&interval, NULL);
    }
}

int cdc_notify_start(void) {
    stopping = 0;
    if (pthread_create(&notifier, NULL, notifier_main, NULL) != 0) return -1;
    running = 1;
    return 0;
}

void cdc_notify_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&notifier_lock);
    stopping = 1;
    pthread_cond_signal(&notifier_cond);
    pthread_mutex_unlock(&notifier_lock);
    pthread_join(notifier, NULL);
    running = 0;
}
