/* The tidekv being followed: its durable consumer, the snapshot the consumer was created with,
 * and the change stream (CDC.md "Consumers", "Snapshots", POLLUPDATES). */
#ifndef TIDEKV_CDC_SOURCE_H
#define TIDEKV_CDC_SOURCE_H

#include "batch.h"
#include "options.h"

typedef struct source {
    redisContext *c;
    const cdc_options *opt;
} source;

typedef struct consumer_info {
    int exists;
    int lost;          /* state "lost": its history was released */
    long long sequence; /* its acknowledged position */
    long long acked_ms; /* when it was last acknowledged; 0 before the first ACK */
} consumer_info;

/* A SNAPSHOT READ page: entries to apply, and the cursor of the next page ("0": the end). */
typedef struct snapshot_page {
    redisReply *reply;
    cdc_batches entries;
    const char *next_cursor;
} snapshot_page;

/* A POLLUPDATES reply. */
typedef struct poll_reply {
    redisReply *reply;
    cdc_batches updates;
    long long latest, next;
} poll_reply;

cdc_status source_open(source *s, const cdc_options *o, cdc_error *e);
void source_close(source *s);

cdc_status source_consumer(source *s, consumer_info *out, cdc_error *e);

/* CDC CREATE <consumer> SNAPSHOT: the snapshot's id (id_size bytes at most) and sequence. */
cdc_status source_create_with_snapshot(source *s, char *id, size_t id_size, long long *sequence, cdc_error *e);

/* CDC CREATE <consumer>: a consumer at the latest sequence, returned. */
cdc_status source_create(source *s, long long *sequence, cdc_error *e);

cdc_status source_drop(source *s, cdc_error *e);

/* SNAPSHOT READ with the filters: CDC_GONE when the snapshot no longer exists. */
cdc_status source_read_snapshot(source *s, const char *id, const char *cursor, cdc_format format,
                                snapshot_page *page, cdc_error *e);
void snapshot_page_free(snapshot_page *page);

/* SNAPSHOT RELEASE: frees what the snapshot holds at the source (its absence is no error). */
cdc_status source_release_snapshot(source *s, const char *id, cdc_error *e);

/* POLLUPDATES <after> STRICT with the filters; block_ms < 0: no BLOCK. */
cdc_status source_poll(source *s, long long after, int block_ms, cdc_format format, poll_reply *out, cdc_error *e);
void poll_reply_free(poll_reply *p);

/* CDC ACK <consumer> <sequence>. A consumer dropped or lost meanwhile is CDC_FATAL. */
cdc_status source_ack(source *s, long long sequence, cdc_error *e);

#endif
