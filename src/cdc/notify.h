/* Commit notifications for blocked POLLUPDATES: commits wake the waiters whose sequence they
 * reach (through a notifier thread that coalesces bursts); with no waiters a commit pays one
 * atomic load. */
#ifndef TIDEKV_NOTIFY_H
#define TIDEKV_NOTIFY_H

#include <stdint.h>

typedef struct cdc_waiter {
    void (*wake)(void *arg); /* called under the waiter lock: must not block */
    void *arg;
    uint64_t wake_at; /* woken once the announced sequence reaches this */
    struct cdc_waiter *prev, *next;
    int listed;
} cdc_waiter;

/* Lists a waiter to be woken once the announced sequence reaches wake_at; for a listed one,
 * moves that sequence. Returns 1 if it has already reached it: then no wake-up comes, and the
 * caller goes on at once. A waiter counts as satisfied once woken: it is woken again only after
 * it is added again (from where its new scan ended), or it must be removed. */
int cdc_waiter_add(cdc_waiter *w, uint64_t wake_at);
/* Removes a waiter; after it returns, wake is never called for it again. */
void cdc_waiter_remove(cdc_waiter *w);
/* Announces that every commit up to last_seq can be read (tail_append says when): the
 * notifier soon wakes every waiter whose sequence it reached. */
void cdc_notify_commit(uint64_t last_seq);
/* The highest sequence announced so far. RocksDB's latest sequence can run ahead of it for a
 * moment (a commit not yet in the tail cache, or one of another worker still on its way
 * there), so polls and waiters compare against this one. */
uint64_t cdc_announced_sequence(void);
/* Another store took the place of the one commits were announced for (a full sync): the
 * announced sequence becomes latest, and every waiter is woken to look again. */
void cdc_notify_restart(uint64_t latest);
/* Starts / stops the notifier thread. */
int cdc_notify_start(void);
void cdc_notify_stop(void);

#endif
