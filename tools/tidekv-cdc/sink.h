/* Where changes go. Each sink (redis://, nats://, and next jsonl:) implements this table;
 * the follower (follow.c) drives it and never knows which sink it talks to.
 *
 * Exactly once rests on two promises a sink makes:
 *  - apply() takes the batches and the new position together, atomically: after a crash the
 *    sink holds either both or neither (redis: one MULTI/EXEC; jsonl: one line, whose batch
 *    carries its sequence, a torn last line cut on recovery; nats: one message per batch with
 *    Nats-Msg-Id <consumer>:<sequence>, the position read back from the stream's last one).
 *  - recover() reports the position it holds, so the follower resumes right after it.
 * The source is acknowledged (CDC ACK) only up to what flush() reports as durable.
 *
 * Every function returns CDC_OK, CDC_RETRY (the sink went away: the follower reconnects and
 * recovers) or CDC_FATAL, with a message in e. */
#ifndef TIDEKV_CDC_SINK_H
#define TIDEKV_CDC_SINK_H

#include <stdlib.h>

#include "batch.h"
#include "options.h"

/* Where a sink stands, as recover() finds it. */
typedef enum sink_phase {
    SINK_FRESH,     /* nothing delivered yet */
    SINK_COPYING,   /* a snapshot copy was begun and not finished */
    SINK_FOLLOWING, /* holds everything up to `position` */
} sink_phase;

typedef struct sink_state {
    sink_phase phase;
    long long position;    /* SINK_FOLLOWING; SINK_COPYING: the snapshot's sequence */
    char snapshot_id[128]; /* SINK_COPYING: the snapshot being copied, "" if not yet known */
    char *cursor;          /* SINK_COPYING: the SNAPSHOT READ cursor to continue at (malloc'd) */
} sink_state;

static inline void sink_state_free(sink_state *s) {
    free(s->cursor);
    s->cursor = NULL;
}

typedef struct sink sink;

typedef struct sink_type {
    const char *scheme; /* the URL's "scheme:" */
    cdc_format format;  /* what apply() and copy_page() receive */

    /* Parses the URL (no I/O): NULL with a message in err when it is malformed. */
    sink *(*create)(const char *url, const cdc_options *o, char *err, size_t errlen);
    cdc_status (*connect)(sink *s, cdc_error *e); /* may also be CDC_UNREACHABLE */
    cdc_status (*recover)(sink *s, sink_state *out, cdc_error *e);

    /* The snapshot copy, for a sink that starts with the source's data (sink.copies; one that
     * does not starts at the latest change, and may leave these NULL). In order: copy_begin records that a copy is under
     * way and removes whatever an unfinished earlier copy left (before the consumer and its
     * snapshot are created, so that a crash in between is seen as a copy to start again);
     * copy_started records the snapshot; copy_page applies a page and records the cursor after
     * it, atomically; copy_end records the snapshot's sequence as the position. */
    cdc_status (*copy_begin)(sink *s, cdc_error *e);
    cdc_status (*copy_started)(sink *s, const char *snapshot_id, long long sequence, cdc_error *e);
    cdc_status (*copy_page)(sink *s, const cdc_batches *entries, const char *next_cursor, cdc_error *e);
    cdc_status (*copy_end)(sink *s, long long sequence, cdc_error *e);

    /* Takes the batches (possibly none: filtered-out batches still move the position) and the
     * position `next` that covers them, atomically. */
    cdc_status (*apply)(sink *s, const cdc_batches *batches, long long next, cdc_error *e);

    /* What the sink has durably taken (a sink that syncs lazily syncs here first); -1 while it
     * holds nothing it could recover a position from (jsonl: no line yet; the consumer is then
     * not acknowledged: an acknowledged consumer with a fresh sink is taken for another sink's). */
    cdc_status (*flush)(sink *s, long long *durable, cdc_error *e);

    /* Progress-line extras (e.g. commands the target refused), into buf; may leave it empty. */
    void (*describe)(sink *s, char *buf, size_t size);

    void (*disconnect)(sink *s);
    void (*destroy)(sink *s);
} sink_type;

/* Every sink begins with this. */
struct sink {
    const sink_type *type;
    int copies; /* starts with a copy of the snapshot (needs the copy_* functions) */
};

/* The sink the URL names (by its scheme), created but not connected; NULL with a message. */
sink *sink_create(const char *url, const cdc_options *o, char *err, size_t errlen);

static inline int sink_copies(const sink *s) { return s->copies; }

extern const sink_type redis_sink_type;
extern const sink_type jsonl_sink_type;
extern const sink_type nats_sink_type;

#endif
