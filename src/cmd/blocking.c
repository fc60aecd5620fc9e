#include "cmd/blocking.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/dispatch.h"
#include "net/net.h"
#include "storage/keylock.h"
#include "util/num.h"

/* How a wait ends that a timeout or CLIENT UNBLOCK … ERROR asked to end while another thread
 * served its command (key_waiter.end_refused). */
enum { END_NONE, END_TIMEOUT, END_UNBLOCKED };

typedef struct key_waiter {
    client *c;   /* NULL once its client went away while a thread served it (that thread frees it) */
    client view; /* what a serving thread's run of the command sees of its client (as offload.c's) */
    int argc;
    resp_arg *argv; /* the command, to run again */
    uint64_t *hashes;
    size_t nhashes;
    /* A stream reader's: per key (as hashes), whether a new entry signalled it since the reader
     * last found nothing (blocking_key_signalled). */
    char *signalled;
    int wake_all; /* a stream reader: every commit on its keys wakes it, whatever waits before it */
    int woken;    /* a wake is on its way: later commits pass it over (for the next pop waiter) */
    int serving;  /* claimed by a committing thread, which runs it: its wait cannot end meanwhile */
    int ended;    /* its wait is ending (served, timed out, unblocked): no commit claims or wakes it */
    int end_refused; /* END_*: asked to end while it was being served, done once that is over */
    int served;   /* its retry replied: its own commit has woken the next waiter */
    unsigned long long block_id; /* its client's block (client.block_id), for CLIENT UNBLOCK */
    /* The reply a serving thread made for it, for its worker to send: has_result says it is
     * there; out (or reply_cut: it passed the client's output bound), and the sequence it waits for under
     * appendfsync always. Written before has_result is set under waiters_lock. */
    int has_result;
    buf out;
    int reply_cut;
    uint64_t sync_to;
    struct key_waiter *prev, *next;
    struct key_waiter *claimed_next; /* in its serving thread's list */
} key_waiter;

/* Every waiter, oldest first. */
static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static key_waiter *first, *last;
static atomic_int nwaiters;
static int nwake_all; /* how many of them are wake_all: while none is, a key's scan stops early */
/* How many waiters wait on a key of each lock stripe: read without waiters_lock by a command
 * holding the stripe (a waiter registers under its keys' stripes), to know whether its commit
 * wakes someone. A waiter leaving lowers it at any time: a stale count only ends a write group
 * early. */
static atomic_int stripe_waiters[KEYLOCK_STRIPES];

/* Commits on this thread inside a claims scope (blocking_claims_begin) claim the waiters they
 * wake, to serve them before their locks go (blocking_serve_claimed), rather than waking them. */
static __thread int claim_depth;
static __thread key_waiter *claimed_first, *claimed_last;

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

/* Whether a commit passes the waiter over: one wake or serving is on its way, or it ends. */
static int passed_over(const key_waiter *w) { return w->woken || w->serving || w->ended; }

/* Wakes a waiter, under waiters_lock: inside a claims scope the calling thread serves it after
 * its commit, under its locks; otherwise the waiter's worker runs its command again. */
static void wake(key_waiter *w) {
    w->woken = 1;
    /* A subscribed client (RESP3) is run by its own worker: served here, the keyspace events
     * of its own pop would reach it before its reply, which its worker sends later. */
    if (claim_depth == 0 || (w->view.flags & CLIENT_PUBSUB)) {
        net_wake(w->c);
        return;
    }
    w->serving = 1;
    w->claimed_next = NULL;
    if (claimed_last) claimed_last->claimed_next = w;
    else claimed_first = w;
    claimed_last = w;
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
            if (passed_over(w) || (pop_woken && !w->wake_all) || !waits_on(w, hashes[i])) continue;
            wake(w);
            pop_woken |= !w->wake_all;
        }
    }
    pthread_mutex_unlock(&waiters_lock);
}

void blocking_signal_streams(const uint64_t *hashes, size_t n) {
    if (atomic_load(&nwaiters) == 0) return;
    pthread_mutex_lock(&waiters_lock);
    for (key_waiter *w = first; w && nwake_all > 0; w = w->next)
        for (size_t i = 0; w->wake_all && i < n; i++)
            for (size_t k = 0; k < w->nhashes; k++)
                if (w->hashes[k] == hashes[i]) w->signalled[k] = 1;
    pthread_mutex_unlock(&waiters_lock);
}

int blocking_key_signalled(const cmd_ctx *ctx, const resp_arg *key) {
    if (!ctx->retrying) return 0;
    const key_waiter *w = ctx->c->block.state;
    uint64_t h = keylock_hash(ctx->db, key->ptr, key->len);
    int signalled = 0;
    pthread_mutex_lock(&waiters_lock);
    for (size_t k = 0; k < w->nhashes; k++) signalled |= w->hashes[k] == h && w->signalled[k];
    pthread_mutex_unlock(&waiters_lock);
    return signalled;
}

void blocking_notify_streams(void) {
    if (atomic_load(&nwaiters) == 0) return;
    pthread_mutex_lock(&waiters_lock);
    for (key_waiter *w = first; w && nwake_all > 0; w = w->next)
        if (w->wake_all && !passed_over(w)) wake(w);
    pthread_mutex_unlock(&waiters_lock);
}

void blocking_unblocking(uint64_t client_id, unsigned long long block_id) {
    if (atomic_load(&nwaiters) == 0) return;
    pthread_mutex_lock(&waiters_lock);
    for (key_waiter *w = first; w; w = w->next)
        if (w->view.id == client_id && w->block_id == block_id && !w->serving) w->ended = 1;
    pthread_mutex_unlock(&waiters_lock);
}

int blocking_has_waiters(void) { return atomic_load(&nwaiters) > 0; }

int blocking_waited(const uint64_t *hashes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&stripe_waiters[hashes[i] % KEYLOCK_STRIPES]) > 0) return 1;
    return 0;
}

static void count_stripes(const key_waiter *w, int delta) {
    for (size_t i = 0; i < w->nhashes; i++) atomic_fetch_add(&stripe_waiters[w->hashes[i] % KEYLOCK_STRIPES], delta);
}

static void waiter_free(key_waiter *w) {
    resp_args_free(w->argv, w->argc);
    free(w->hashes);
    free(w->signalled);
    buf_free(&w->out);
    free(w);
}

/* Frees a waiter that has left the list, first handing on a pop's wake it did not act on
 * (pass_on): it was passed over the next waiters, so what woke it might wait forever. */
static void forget(key_waiter *w, int pass_on) {
    if (pass_on) blocking_notify(w->hashes, w->nhashes);
    waiter_free(w);
}

/* After a pop's command replied: its wake goes on to the next waiter of its keys. A reply need
 * not have taken what woke it (an error such as BLMOVE's WRONGTYPE destination, or an element
 * of another of its keys), and a next waiter that finds nothing waits on. */
static void hand_on_after_reply(const key_waiter *w) {
    if (!w->wake_all) blocking_notify(w->hashes, w->nhashes);
}

/* Runs a claimed waiter's command on this thread: 1 if it replied (into w->out), 0 if it still
 * waits, -1 if it could not run here (dispatch_serve). */
static int run_claimed(key_waiter *w, keylock_set *taken) {
    buf_clear(&w->out);
    w->reply_cut = 0;
    /* The bound of now, not of when it blocked: CONFIG SET may have raised it since. */
    const char *bound_option;
    size_t max = (size_t)net_output_bound(&w->view, &bound_option);
    reply r = {&w->out, w->view.resp, max, &w->reply_cut};
    return dispatch_serve(&w->view, w->argc, w->argv, &r, taken, &w->sync_to);
}

/* Serves one claimed waiter, then tells its worker what to do, if anything: send the reply,
 * run the command itself (it could not run here), or end the wait as a timeout or CLIENT
 * UNBLOCK asked meanwhile. */
static void serve_claimed(key_waiter *w, keylock_set *taken) {
    pthread_mutex_lock(&waiters_lock);
    int gone = w->c == NULL;
    pthread_mutex_unlock(&waiters_lock);
    int rc = gone ? -1 : run_claimed(w, taken);
    /* A one-key pop that popped has woken the next waiter by its own commit already. */
    int popped_its_only_key = w->nhashes == 1 && w->out.len > 0 && w->out.data[0] != '-';
    if (rc == 1 && !popped_its_only_key) hand_on_after_reply(w); /* while it is serving, no other thread frees it */
    pthread_mutex_lock(&waiters_lock);
    w->serving = 0;
    client *c = w->c;
    if (rc == 1) w->has_result = 1;
    if (rc == 1 && c) net_block_served(c);
    if (rc == 1 || (rc == 0 && w->end_refused)) w->ended = 1;
    if (c && (rc != 0 || w->end_refused)) net_wake(c);
    int pass_on = !c && rc != 1 && w->woken && !w->wake_all;
    pthread_mutex_unlock(&waiters_lock);
    if (!c) forget(w, pass_on);
}

void blocking_claims_begin(void) { claim_depth++; }

void blocking_serve_claimed(void) {
    if (claimed_first) {
        /* The stripes of its keys this thread lacked, kept until every waiter the serving
         * wakes in turn (the next pop waiter, BLMOVE's destination) is served too. */
        keylock_set taken;
        keylock_set_init(&taken);
        while (claimed_first) {
            key_waiter *w = claimed_first;
            claimed_first = w->claimed_next;
            if (!claimed_first) claimed_last = NULL;
            serve_claimed(w, &taken);
        }
        keylock_set_release(&taken);
        keylock_set_free(&taken);
    }
    claim_depth--;
}

static int waiter_retry(client *c, int timed_out) {
    key_waiter *w = c->block.state;
    pthread_mutex_lock(&waiters_lock);
    int serving = w->serving, result = w->has_result, woken = w->woken;
    if (serving && timed_out && !w->end_refused) w->end_refused = END_TIMEOUT;
    int end = w->end_refused ? w->end_refused : timed_out ? END_TIMEOUT : END_NONE;
    if (!serving && !result && end) w->ended = 1;
    pthread_mutex_unlock(&waiters_lock);
    /* Serving: the thread serving it wakes it when done. Not woken: no wake is for it, and a
     * thread may claim it at any time; only a waiter that is woken runs here, where no thread
     * can claim it until its retry makes it wakeable again. */
    if (serving || (!result && !end && !woken)) return 0;
    if (result) { /* the reply a serving thread made, sent as if this retry had made it */
        dispatch_send_made_reply(c, &w->out, w->reply_cut, w->sync_to);
        w->served = 1;
        return 1;
    }
    reply r = net_client_reply(c);
    if (end == END_TIMEOUT) reply_null_array(&r);
    if (end == END_UNBLOCKED) reply_error(&r, ERR_UNBLOCKED);
    if (end) return 1;
    /* A retry that still finds nothing makes itself wakeable again in blocking_wait_or_nil,
     * under its keys' locks (see there). */
    w->served = dispatch_retry(c, w->argc, w->argv);
    if (w->served) hand_on_after_reply(w);
    return w->served;
}

/* CLIENT UNBLOCK … ERROR: not while a thread serves the command (it ends the wait after, if
 * that did not reply), nor once one has replied for it. */
static int waiter_may_unblock(client *c) {
    key_waiter *w = c->block.state;
    pthread_mutex_lock(&waiters_lock);
    int now = !w->serving && !w->has_result;
    if (w->serving && !w->end_refused) w->end_refused = END_UNBLOCKED;
    if (now) w->ended = 1;
    pthread_mutex_unlock(&waiters_lock);
    return now;
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
    count_stripes(w, -1);
    int serving = w->serving;
    if (serving) w->c = NULL; /* the thread serving it frees it */
    /* A pop's wake it will not act on (it timed out, was unblocked or went away first) is
     * handed on. A stream reader's wake was passed over no one. */
    int pass_on = !serving && w->woken && !w->served && !w->has_result && !w->wake_all;
    pthread_mutex_unlock(&waiters_lock);
    if (!serving) forget(w, pass_on);
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
        memset(w->signalled, 0, w->nhashes); /* the retry has seen what they signalled */
        pthread_mutex_unlock(&waiters_lock);
        ctx->keep_waiting = 1;
        return;
    }
    key_waiter *w = calloc(1, sizeof(*w));
    if (!w) abort();
    w->c = ctx->c;
    w->view.id = ctx->c->id;
    w->view.db = ctx->db;
    w->view.resp = ctx->c->resp;
    w->view.authenticated = ctx->c->authenticated;
    w->view.flags = ctx->c->flags & CLIENT_PUBSUB;
    w->view.block.state = w;
    buf_init(&w->out);
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
    w->signalled = calloc(w->nhashes ? w->nhashes : 1, 1);
    if (!w->signalled) abort();
    client_block block = {waiter_retry, waiter_cleanup, w, 0, waiter_may_unblock};
    net_block(ctx->c, timeout_us, &block);
    w->block_id = atomic_load(&ctx->c->block_id);
    /* Registered while the command still holds its keys' locks: no commit on them is missed. */
    pthread_mutex_lock(&waiters_lock);
    w->prev = last;
    if (last) last->next = w;
    else first = w;
    last = w;
    atomic_fetch_add(&nwaiters, 1);
    nwake_all += wake_all;
    count_stripes(w, 1);
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
