#include "cmd/blocking.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/dispatch.h"
#include "net/net.h"
#include "util/num.h"

typedef struct key_waiter {
    client *c;
    int argc;
    resp_arg *argv; /* the command, to run again */
    uint64_t *hashes;
    size_t nhashes;
    int wake_all; /* a stream reader: every commit on its keys wakes it, whatever waits before it */
    int woken;    /* a wake is on its way: later commits pass it over (for the next pop waiter) */
    int served;   /* its retry replied: its own commit has woken the next waiter */
    struct key_waiter *prev, *next;
} key_waiter;

/* Every waiter, oldest first. */
static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static key_waiter *first, *last;
static atomic_int nwaiters;
static int nwake_all; /* how many of them are wake_all: while none is, a key's scan stops early */

int blocking_parse_timeout(cmd_ctx *ctx, const resp_arg *a, int64_t *timeout_us) {
    double seconds;
    if (num_parse_double(a->ptr, a->len, &seconds) < 0 || isinf(seconds) || seconds > 1e12) {
        reply_error(ctx->r, "ERR timeout is not a float or out of range");
        return -1;
    }
    if (seconds < 0) {
        reply_error(ctx->r, "ERR timeout is negative");
        return -1;
    }
    *timeout_us = (int64_t)(seconds * 1e6);
    if (seconds > 0 && *timeout_us == 0) *timeout_us = 1; /* tiny but not "forever" */
    return 0;
}

int64_t blocking_ms_to_us(long long ms) { return ms > INT64_MAX / 1000 ? 0 : (int64_t)ms * 1000; }

static int waits_on(const key_waiter *w, uint64_t h) {
    for (size_t i = 0; i < w->nhashes; i++)
        if (w->hashes[i] == h) return 1;
    return 0;
}

void blocking_notify(const uint64_t *hashes, size_t n) {
    if (atomic_load(&nwaiters) == 0) return;
    pthread_mutex_lock(&waiters_lock);
    for (size_t i = 0; i < n; i++) {
        /* Pops: the oldest waiter not already woken, one per key, so the oldest is served
         * first; a woken one that is being served commits in turn and wakes the next. Stream
         * readers take nothing away from each other: each one not already woken is woken. */
        int pop_woken = 0;
        for (key_waiter *w = first; w && !(pop_woken && nwake_all == 0); w = w->next) {
            if (w->woken || (pop_woken && !w->wake_all) || !waits_on(w, hashes[i])) continue;
            w->woken = 1;
            net_wake(w->c);
            pop_woken |= !w->wake_all;
        }
    }
    pthread_mutex_unlock(&waiters_lock);
}

void blocking_notify_streams(void) {
    if (atomic_load(&nwaiters) == 0) return;
    pthread_mutex_lock(&waiters_lock);
    for (key_waiter *w = first; w && nwake_all > 0; w = w->next) {
        if (!w->wake_all || w->woken) continue;
        w->woken = 1;
        net_wake(w->c);
    }
    pthread_mutex_unlock(&waiters_lock);
}

static int waiter_retry(client *c, int timed_out) {
    key_waiter *w = c->block.state;
    if (timed_out) {
        reply r = net_client_reply(c);
        reply_null_array(&r);
        return 1;
    }
    /* A retry that still finds nothing makes itself wakeable again in blocking_wait_or_nil,
     * under its keys' locks (see there). */
    w->served = dispatch_retry(c, w->argc, w->argv);
    return w->served;
}

static void waiter_cleanup(client *c) {
    key_waiter *w = c->block.state;
    pthread_mutex_lock(&waiters_lock);
    if (w->prev) w->prev->next = w->next;
    else first = w->next;
    if (w->next) w->next->prev = w->prev;
    else last = w->prev;
    atomic_fetch_sub(&nwaiters, 1);
    nwake_all -= w->wake_all;
    /* A pop's wake it will not act on (it timed out, was unblocked or went away first) was
     * passed over the next waiters: hand it on, or what woke it may wait forever. A stream
     * reader's wake was passed over no one. */
    int pass_on = w->woken && !w->served && !w->wake_all;
    pthread_mutex_unlock(&waiters_lock);
    if (pass_on) blocking_notify(w->hashes, w->nhashes);
    resp_args_free(w->argv, w->argc);
    free(w->hashes);
    free(w);
}

/* The first run found nothing, or a retry found nothing again: see blocking.h. */
static void wait_for_keys(cmd_ctx *ctx, int64_t timeout_us, const resp_arg *argv, int wake_all) {
    if (ctx->retrying) {
        /* Wakeable again from here on. This runs under the keys' locks, and every commit wakes
         * waiters before it releases the locks of the keys it wrote: a commit either came
         * before this retry took the locks (the retry has seen its write) or comes after they
         * are released (it finds the flag cleared and wakes this waiter). Clearing the flag
         * after the retry, once the locks are released, lost the wake-up of a commit made in
         * between; clearing it before the retry ran would let this waiter's own serving
         * commit wake itself rather than the next waiter. The same holds for a stream reader,
         * which differs only in not taking a wake away from the waiters after it. */
        key_waiter *w = ctx->c->block.state;
        pthread_mutex_lock(&waiters_lock);
        w->woken = 0;
        pthread_mutex_unlock(&waiters_lock);
        ctx->keep_waiting = 1;
        return;
    }
    key_waiter *w = calloc(1, sizeof(*w));
    if (!w) abort();
    w->c = ctx->c;
    w->wake_all = wake_all;
    w->argc = ctx->argc;
    w->argv = malloc((size_t)ctx->argc * sizeof(resp_arg));
    if (!w->argv) abort();
    for (int i = 0; i < ctx->argc; i++) {
        w->argv[i].ptr = malloc(argv[i].len + 1);
        if (!w->argv[i].ptr) abort();
        memcpy(w->argv[i].ptr, argv[i].ptr, argv[i].len);
        w->argv[i].ptr[argv[i].len] = '\0';
        w->argv[i].len = argv[i].len;
    }
    dispatch_key_hashes(ctx->argc, ctx->argv, ctx->db, &w->hashes, &w->nhashes);
    client_block block = {waiter_retry, waiter_cleanup, w, 0};
    net_block(ctx->c, timeout_us, &block);
    /* Registered while the command still holds its keys' locks: no commit on them is missed. */
    pthread_mutex_lock(&waiters_lock);
    w->prev = last;
    if (last) last->next = w;
    else first = w;
    last = w;
    atomic_fetch_add(&nwaiters, 1);
    nwake_all += wake_all;
    pthread_mutex_unlock(&waiters_lock);
}

void blocking_wait_or_nil(cmd_ctx *ctx, int64_t timeout_us, int nil_bulk_in_exec) {
    if (ctx->in_exec) {
        if (nil_bulk_in_exec) reply_null(ctx->r);
        else reply_null_array(ctx->r);
        return;
    }
    wait_for_keys(ctx, timeout_us, ctx->argv, 0);
}

void blocking_wait_stream(cmd_ctx *ctx, int64_t timeout_us, const resp_arg *argv) {
    if (ctx->in_exec) {
        reply_null_array(ctx->r);
        return;
    }
    wait_for_keys(ctx, timeout_us, argv, 1);
}
