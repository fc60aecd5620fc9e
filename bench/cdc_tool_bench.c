/* Helpers for bench/run_cdc_tool.sh, the tidekv-cdc benchmarks:
 *   cdc_tool_bench load  PORT N              — SET key:<i> to a 16-byte value for i < N, pipelined
 *   cdc_tool_bench multi PORT N PER          — the reference: N changes sent to PORT as pipelined
 *                                              MULTI / PER × SET / SET position / EXEC transactions,
 *                                              as tidekv-cdc would apply them; prints changes/s
 *   cdc_tool_bench lag   SOURCE TARGET RATE SECONDS
 *                                            — writes RATE SETs per second to SOURCE for SECONDS; one
 *                                              write in PROBE_EVERY is an RPUSH of its send time, which a
 *                                              BLPOP on TARGET takes as soon as tidekv-cdc applies it;
 *                                              prints the p50/p99/max of write-to-target latency in ms
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

/* Commands sent before their replies are read. */
#define PIPELINE 1000
/* In the lag test, one write in this many is a probe. */
#define PROBE_EVERY 100
#define PROBE_LIST "cdc-bench-lag"
#define VALUE "value-0123456789" /* 16 bytes, as redis-benchmark -d 16 */

/* Reads n replies, exiting on a broken connection or an error reply. */
static void read_replies(redisContext *c, long n) {
    for (long i = 0; i < n; i++) {
        redisReply *r;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "connection lost: %s\n", c->errstr);
            exit(1);
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "error reply: %s\n", r->str);
            exit(1);
        }
        freeReplyObject(r);
    }
}

static int load(int port, long n) {
    redisContext *c = connect_or_die(port);
    for (long done = 0; done < n;) {
        long chunk = n - done < PIPELINE ? n - done : PIPELINE;
        for (long i = 0; i < chunk; i++) redisAppendCommand(c, "SET key:%ld %s", done + i, VALUE);
        read_replies(c, chunk);
        done += chunk;
    }
    redisFree(c);
    return 0;
}

static int multi(int port, long n, long per) {
    redisContext *c = connect_or_die(port);
    double start = now_s();
    long sent = 0, queued = 0; /* replies owed: +OK, +QUEUED per command, and the EXEC array */
    while (sent < n) {
        redisAppendCommand(c, "MULTI");
        long in_txn = n - sent < per ? n - sent : per;
        for (long i = 0; i < in_txn; i++) redisAppendCommand(c, "SET key:%ld %s", (sent + i) % 100000, VALUE);
        sent += in_txn;
        redisAppendCommand(c, "SET tidekv-cdc:bench %ld", sent);
        redisAppendCommand(c, "EXEC");
        queued += in_txn + 3;
        if (queued >= PIPELINE) {
            read_replies(c, queued);
            queued = 0;
        }
    }
    read_replies(c, queued);
    double secs = now_s() - start;
    printf("%ld changes in MULTI/EXEC of %ld in %.3f s: %.0f changes/s\n", n, per, secs, n / secs);
    redisFree(c);
    return 0;
}

/* ------------------------------------------------------------------ lag */

typedef struct lag_run {
    int source_port, target_port;
    long rate, probes;
    double seconds, start;
    double *latencies_ms; /* one per probe taken, in the order taken */
    long taken;
} lag_run;

static double probe_time(const redisReply *r) { return strtod(r->element[1]->str, NULL); }

/* Takes each probe from the target as soon as it arrives there. */
static void *take_probes(void *arg) {
    lag_run *run = arg;
    redisContext *c = connect_or_die(run->target_port);
    while (run->taken < run->probes) {
        redisReply *r = redisCommand(c, "BLPOP %s 10", PROBE_LIST);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "no probe reached the target within 10 s (%ld of %ld taken)\n", run->taken, run->probes);
            exit(1);
        }
        run->latencies_ms[run->taken++] = (now_s() - probe_time(r)) * 1000.0;
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

/* Sends the writes due by now (RATE per second since the start), then reads their replies. */
static void write_paced(lag_run *run) {
    redisContext *c = connect_or_die(run->source_port);
    long total = (long)(run->rate * run->seconds), sent = 0;
    while (sent < total) {
        long due = (long)((now_s() - run->start) * run->rate);
        if (due > total) due = total;
        if (due == sent) {
            struct timespec pause = {0, 200 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        for (long i = sent; i < due; i++) {
            if (i % PROBE_EVERY == 0) redisAppendCommand(c, "RPUSH %s %.6f", PROBE_LIST, now_s());
            else redisAppendCommand(c, "SET key:%ld %s", i % 100000, VALUE);
        }
        read_replies(c, due - sent);
        sent = due;
    }
    redisFree(c);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int lag(int source_port, int target_port, long rate, double seconds) {
    lag_run run = {.source_port = source_port, .target_port = target_port, .rate = rate, .seconds = seconds};
    run.probes = ((long)(rate * seconds) + PROBE_EVERY - 1) / PROBE_EVERY;
    run.latencies_ms = calloc((size_t)run.probes, sizeof(double));
    if (!run.latencies_ms) abort();
    pthread_t taker;
    if (pthread_create(&taker, NULL, take_probes, &run) != 0) abort();
    run.start = now_s();
    write_paced(&run);
    double achieved = rate * seconds / (now_s() - run.start);
    pthread_join(taker, NULL);
    qsort(run.latencies_ms, (size_t)run.probes, sizeof(double), by_value);
    printf("%.0f writes/s for %.0f s, %ld probes: lag p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", achieved, seconds,
           run.probes, run.latencies_ms[run.probes / 2], run.latencies_ms[run.probes * 99 / 100],
           run.latencies_ms[run.probes - 1]);
    free(run.latencies_ms);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "load") == 0) return load(atoi(argv[2]), atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "multi") == 0) return multi(atoi(argv[2]), atol(argv[3]), atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "lag") == 0)
        return lag(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atof(argv[5]));
    fprintf(stderr, "usage: cdc_tool_bench load PORT N | multi PORT N PER | lag SOURCE TARGET RATE SECONDS\n");
    return 2;
}
