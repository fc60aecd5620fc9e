/* Replication benchmark helper (see bench/run_replication.sh), for tidekv and redis-server alike:
 *   repl_bench lag MASTER-PORT REPLICA-PORT RATE SECONDS SAMPLE-EVERY
 *     A paced writer sends RATE SET lag:<i> <16 B> per second to the master for SECONDS, on one
 *     connection, pipelined as the schedule asks (it does not wait for one reply before the next
 *     write is due). Every SAMPLE-EVERY-th write is a sample: once the master has acknowledged
 *     it (its reply read), the replica is asked EXISTS lag:<i> until it has the key, every
 *     CHECK_US or every AGE_SHARE-th of the oldest waiting sample's age if that is longer (a
 *     replica seconds behind is not asked thousands of times a second, which would slow it),
 *     and at once after a check that found some.
 *     Lag = the time the reply showing the key was read - the time the master's reply was
 *     read. The check overstates the lag by at most its interval plus one round trip to the
 *     replica (the key appeared after the previous check, the reply came back after this one);
 *     it never understates it. Samples of the first second (warm-up) are left out.
 *     Prints "writes/s <n> samples <n> p50_ms <x> p90_ms <x> p99_ms <x> p999_ms <x> max_ms <x>".
 *   repl_bench load PORT N
 *     SET key:<i> value:<i> for i in 0 … N-1 (what redis-server's DEBUG POPULATE N writes),
 *     pipelined in batches of BATCH, two batches in flight. Prints "keys/s <n>".
 * One thread drives both connections (ppoll), so it takes one core at most. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "bench_util.h"

#define CHECK_US 100      /* least pause between two checks of the replica */
#define AGE_SHARE 20      /* and at least this share of the oldest waiting sample's age */
#define MAX_CHECKED 4     /* waiting samples asked about in one check (applied in order: the oldest first) */
#define WARMUP_S 1.0      /* samples acknowledged before this are not counted */
#define DRAIN_LIMIT_S 600. /* after the last write, how long acks and samples may still take */
#define BATCH 10000       /* loader: SETs per pipelined batch */

static void die(const char *what, const redisContext *c) {
    fprintf(stderr, "%s: %s\n", what, c && c->err ? c->errstr : strerror(errno));
    exit(1);
}

static void flush_output(redisContext *c) {
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) die("write", c);
}

/* Takes the next complete reply already read, or NULL. Exits on an error reply. */
static redisReply *next_reply(redisContext *c) {
    void *reply = NULL;
    if (redisGetReplyFromReader(c, &reply) != REDIS_OK) die("protocol", c);
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "server error: %s\n", r->str);
        exit(1);
    }
    return r;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double p) {
    if (n == 0) return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

typedef struct {
    long index;     /* the write's number: key lag:<index> */
    double acked_s; /* when the master's reply was read */
} sample;

static int lag(int master_port, int replica_port, double rate, double seconds, long sample_every) {
    redisContext *m = connect_or_die(master_port), *r = connect_or_die(replica_port);
    long total = (long)(rate * seconds), nsamples = total / sample_every + 1;
    sample *pending = calloc((size_t)nsamples, sizeof(*pending)); /* acked, not yet seen: a FIFO */
    double *lags = calloc((size_t)nsamples, sizeof(*lags));
    if (!pending || !lags) die("calloc", NULL);
    long pending_head = 0, pending_tail = 0, nlags = 0;
    long sent = 0, acked = 0, in_check = 0; /* in_check: EXISTS replies still to come */
    long answering = 0; /* the pending sample the next EXISTS reply is about */
    const char value[] = "vvvvvvvvvvvvvvvv";
    double start = now_s(), next_check = start, last_ack = start;
    for (;;) {
        double now = now_s();
        int writing = sent < total, checking = pending_tail > pending_head;
        if (!writing && acked == total && !checking) break;
        if (!writing && now - start > seconds + DRAIN_LIMIT_S) {
            fprintf(stderr, "the replica did not show %ld samples within %.0f s\n", pending_tail - pending_head,
                    DRAIN_LIMIT_S);
            return 1;
        }
        /* Every write that is due, as one pipelined burst. */
        long due = (long)((now - start) * rate) + 1;
        if (due > total) due = total;
        if (sent < due) {
            for (; sent < due; sent++) redisAppendCommand(m, "SET lag:%ld %s", sent, value);
            flush_output(m);
        }
        /* One check of the replica at a time, at most every CHECK_US. */
        if (checking && in_check == 0 && now >= next_check) {
            answering = pending_head;
            for (long i = pending_head; i < pending_tail && i - pending_head < MAX_CHECKED; i++, in_check++)
                redisAppendCommand(r, "EXISTS lag:%ld", pending[i].index);
            flush_output(r);
            double age_share = (now - pending[pending_head].acked_s) / AGE_SHARE;
            next_check = now + (age_share > CHECK_US / 1e6 ? age_share : CHECK_US / 1e6);
        }
        /* Sleep until a reply comes, the next write is due or the next check may go. */
        double wake = writing ? start + (double)sent / rate : now + 0.01;
        if (checking && in_check == 0 && next_check < wake) wake = next_check;
        double wait = wake - now_s();
        if (wait < 0) wait = 0;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        struct pollfd fds[2] = {{.fd = m->fd, .events = POLLIN}, {.fd = r->fd, .events = POLLIN}};
        if (ppoll(fds, 2, &ts, NULL) < 0 && errno != EINTR) die("ppoll", NULL);
        if (fds[0].revents) {
            if (redisBufferRead(m) != REDIS_OK) die("read (master)", m);
            double t = now_s();
            for (redisReply *reply; (reply = next_reply(m)) != NULL; acked++) {
                freeReplyObject(reply);
                if (acked % sample_every == 0) pending[pending_tail++] = (sample){acked, t};
                last_ack = t;
            }
        }
        if (fds[1].revents) {
            if (redisBufferRead(r) != REDIS_OK) die("read (replica)", r);
            double t = now_s();
            /* The replica applies writes in order: the samples it has are a prefix of the
             * pending ones; one missing ends the prefix even if a later one shows. */
            for (redisReply *reply; (reply = next_reply(r)) != NULL; in_check--, answering++) {
                int seen = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
                freeReplyObject(reply);
                if (!seen || answering != pending_head) continue;
                if (pending[pending_head].acked_s - start >= WARMUP_S)
                    lags[nlags++] = (t - pending[pending_head].acked_s) * 1e3;
                pending_head++;
                next_check = t; /* the replica moved on: the next waiting samples may show too */
            }
        }
    }
    qsort(lags, (size_t)nlags, sizeof(*lags), compare_doubles);
    printf("writes/s %.0f samples %ld p50_ms %.3f p90_ms %.3f p99_ms %.3f p999_ms %.3f max_ms %.3f\n",
           (double)total / (last_ack - start), nlags, percentile(lags, (size_t)nlags, 0.50),
           percentile(lags, (size_t)nlags, 0.90), percentile(lags, (size_t)nlags, 0.99),
           percentile(lags, (size_t)nlags, 0.999), nlags ? lags[nlags - 1] : 0);
    free(pending);
    free(lags);
    redisFree(m);
    redisFree(r);
    return 0;
}

static void append_batch(redisContext *c, long from, long n) {
    for (long i = from; i < from + n; i++) redisAppendCommand(c, "SET key:%ld value:%ld", i, i);
    flush_output(c);
}

static void read_batch(redisContext *c, long n) {
    for (long i = 0; i < n; i++) {
        void *reply;
        if (redisGetReply(c, &reply) != REDIS_OK) die("read", c);
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "server error: %s\n", r->str);
            exit(1);
        }
        freeReplyObject(r);
    }
}

static int load(int port, long n) {
    redisContext *c = connect_or_die(port);
    double start = now_s();
    long appended = 0, previous = 0; /* previous: the size of the batch whose replies are due */
    while (appended < n || previous > 0) {
        long size = n - appended < BATCH ? n - appended : BATCH;
        if (size > 0) append_batch(c, appended, size);
        appended += size;
        read_batch(c, previous);
        previous = size;
    }
    printf("keys/s %.0f\n", (double)n / (now_s() - start));
    redisFree(c);
    return 0;
}

int main(int argc, char **argv) {
    prctl(PR_SET_TIMERSLACK, 1UL); /* the writer's pace and the checks want µs wake-ups */
    if (argc == 7 && strcmp(argv[1], "lag") == 0)
        return lag(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]), atol(argv[6]));
    if (argc == 4 && strcmp(argv[1], "load") == 0) return load(atoi(argv[2]), atol(argv[3]));
    fprintf(stderr,
            "usage: %s lag MASTER-PORT REPLICA-PORT RATE SECONDS SAMPLE-EVERY\n"
            "       %s load PORT N\n",
            argv[0], argv[0]);
    return 2;
}
