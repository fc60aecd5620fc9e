/* CDC benchmarks against a running tidekv (see bench/run_cdc.sh):
 *   cdc_bench drain   PORT FORMAT        — drain every change from sequence 0 with MAX 1000, print changes/s
 *   cdc_bench latency PORT N             — writer → BLOCKed poller wake-up latency over N writes (p50/p99 µs)
 *   cdc_bench pollers PORT N SECONDS     — keep N pollers BLOCKed on the stream for SECONDS (run a writer beside)
 *   cdc_bench burn PERCENT SECONDS       — use PERCENT of one core for SECONDS without touching the server: a
 *                                          control with the pollers' CPU share but none of their traffic
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

/* Reads a field of a POLLUPDATES reply (RESP2: flat key/value array). */
static redisReply *field(redisReply *r, const char *name) {
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (strcmp(r->element[i]->str, name) == 0) return r->element[i + 1];
    fprintf(stderr, "reply has no %s\n", name);
    exit(1);
}

static long long sequence(redisContext *c) {
    redisReply *r = redisCommand(c, "SEQUENCE");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static int drain(int port, const char *format) {
    redisContext *c = connect_or_die(port);
    long long latest = sequence(c), seq = 0, changes = 0;
    double start = now_s();
    while (seq < latest) {
        redisReply *r = redisCommand(c, "POLLUPDATES %lld MAX 1000 FORMAT %s", seq, format);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "poll failed: %s\n", r && r->str ? r->str : "no reply");
            return 1;
        }
        long long next = field(r, "next_sequence")->integer;
        changes += next - seq;
        seq = next;
        freeReplyObject(r);
    }
    double secs = now_s() - start;
    printf("drain %s: %lld changes in %.6f s = %.0f changes/s\n", format, changes, secs, changes / secs);
    redisFree(c);
    return 0;
}

typedef struct latency_poller {
    int port;
    long long from;
    int n;
    double *woke_at; /* per write, when the poller saw it */
} latency_poller;

static void *latency_poll_loop(void *arg) {
    latency_poller *p = arg;
    redisContext *c = connect_or_die(p->port);
    long long seq = p->from;
    for (int seen = 0; seen < p->n;) {
        redisReply *r = redisCommand(c, "POLLUPDATES %lld BLOCK 5000 MAX 1000", seq);
        double t = now_s();
        long long next = field(r, "next_sequence")->integer;
        for (long long s = seq + 1; s <= next && seen < p->n; s++) p->woke_at[seen++] = t;
        seq = next;
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int latency(int port, int n) {
    redisContext *w = connect_or_die(port);
    latency_poller p = {port, sequence(w), n, calloc((size_t)n, sizeof(double))};
    double *sent = calloc((size_t)n, sizeof(double));
    pthread_t th;
    pthread_create(&th, NULL, latency_poll_loop, &p);
    struct timespec pause = {0, 200 * 1000}; /* let the poller block again between writes */
    for (int i = 0; i < n; i++) {
        nanosleep(&pause, NULL);
        sent[i] = now_s();
        freeReplyObject(redisCommand(w, "SET latency:%d x", i));
    }
    pthread_join(th, NULL);
    for (int i = 0; i < n; i++) sent[i] = (p.woke_at[i] - sent[i]) * 1e6;
    qsort(sent, (size_t)n, sizeof(double), compare_double);
    printf("wake-up latency over %d writes: p50 %.0f us, p99 %.0f us, max %.0f us\n", n, sent[n / 2],
           sent[(int)(n * 0.99)], sent[n - 1]);
    free(sent);
    free(p.woke_at);
    redisFree(w);
    return 0;
}

typedef struct idle_poller {
    int port;
    double until;
    long long replies, changes; /* over all pollers, under lock */
    pthread_mutex_t lock;
} idle_poller;

static void *idle_poll_loop(void *arg) {
    idle_poller *p = arg;
    redisContext *c = connect_or_die(p->port);
    long long seq = sequence(c), replies = 0, changes = 0;
    while (now_s() < p->until) {
        redisReply *r = redisCommand(c, "POLLUPDATES %lld BLOCK 1000 MAX 1000", seq);
        seq = field(r, "next_sequence")->integer;
        changes += (long long)field(r, "updates")->elements;
        replies++;
        freeReplyObject(r);
    }
    redisFree(c);
    pthread_mutex_lock(&p->lock);
    p->replies += replies;
    p->changes += changes;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static int pollers(int port, int n, int seconds) {
    pthread_t *th = calloc((size_t)n, sizeof(pthread_t));
    idle_poller p = {port, now_s() + seconds, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, idle_poll_loop, &p);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    free(th);
    printf("%d pollers: %.0f replies/s each, %.1f changes per reply\n", n, p.replies / (double)n / seconds,
           p.replies ? p.changes / (double)p.replies : 0.0);
    return 0;
}

/* Spins for PERCENT of every 5 ms over a 1 MiB buffer (caches feel it as a consumer's work), sleeps the rest. */
static int burn(double percent, int seconds) {
    static volatile char memory[1 << 20];
    const double period = 0.005, busy = period * percent / 100;
    double end = now_s() + seconds;
    unsigned i = 0;
    while (now_s() < end) {
        double start = now_s();
        while (now_s() - start < busy) memory[(i++ * 64) & (sizeof(memory) - 1)]++;
        struct timespec rest = {0, (long)((period - busy) * 1e9)};
        if (busy < period) nanosleep(&rest, NULL);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "drain") == 0) return drain(atoi(argv[2]), argv[3]);
    if (argc >= 4 && strcmp(argv[1], "latency") == 0) return latency(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 5 && strcmp(argv[1], "pollers") == 0) return pollers(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "burn") == 0) return burn(atof(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: cdc_bench drain PORT RAW|RESP|JSON | latency PORT N | pollers PORT N SECONDS | burn PERCENT SECONDS\n");
    return 2;
}
