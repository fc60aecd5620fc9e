/* The follower: one session of connecting to both sides, finding where the sink stands,
 * copying the consumer's snapshot if needed, then following the change stream.
 *
 * Exactly once: the sink applies each poll's batches together with the position they reach
 * (sink.h), and every session starts from the position the sink reports, never from memory
 * or from the consumer. The consumer is acknowledged only with what the sink holds, so the
 * sink's position is never behind it (if it is, the sink lost data: an error, not a guess);
 * the consumer keeps the source's history after its position, so the sink's is always there. */
#ifndef TIDEKV_CDC_FOLLOW_H
#define TIDEKV_CDC_FOLLOW_H

#include "options.h"
#include "progress.h"
#include "sink.h"
#include "source.h"

typedef struct follower {
    const cdc_options *opt;
    sink *snk;
    progress *prog;
    source src;
    long long position; /* what the sink holds */
    double last_ack;    /* when the consumer was last acknowledged */
    int progressed;     /* a snapshot page or a poll went through in this session */
} follower;

/* Runs one session. CDC_STOP: stopped by a signal or --once caught up (exit 0); CDC_RETRY or
 * CDC_UNREACHABLE: a side went away or is not ready (reconnect and run another); CDC_FATAL:
 * give up. */
cdc_status follow_session(follower *f, cdc_error *e);

#endif
