#include "cdc/notify.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static cdc_waiter *waiters;
static atomic_int nwaiters;

void cdc_waiter_add(cdc_waiter *w) {
    pthread_mutex_lock(&waiters_lock);
    w->prev = NULL;
    w->next = waiters;
    if (waiters) waiters->prev = w;
    waiters = w;
    w->listed = 1;
    atomic_fetch_add(&nwaiters, 1);
    pthread_mutex_unlock(&waiters_lock);
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

void cdc_notify_commit(void) {
    if (atomic_load(&nwaiters) == 0) return;
    pthread_mutex_lock(&waiters_lock);
    for (cdc_waiter *w = waiters; w; w = w->next) w->wake(w->arg);
    pthread_mutex_unlock(&waiters_lock);
}

int cdc_waiter_count(void) { return atomic_load(&nwaiters); }
