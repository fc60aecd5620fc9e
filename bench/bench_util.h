/* Small pieces the C benchmark tools share (each is one file; these are static inline). */
#ifndef TIDEKV_BENCH_UTIL_H
#define TIDEKV_BENCH_UTIL_H

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connection to 127.0.0.1:port, or exit(1). */
static inline redisContext *connect_or_die(int port) {
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "cannot connect to 127.0.0.1:%d\n", port);
        exit(1);
    }
    return c;
}

#endif
