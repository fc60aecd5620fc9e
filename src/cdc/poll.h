/* POLLUPDATES: reading the change stream after a sequence, filtering and formatting it. */
#ifndef TIDEKV_POLL_H
#define TIDEKV_POLL_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/record.h"
#include "proto/reply.h"
#include "util/buf.h"

/* RAW: each batch as uppercase hex text; BINARY: its bytes as they are (a binary-safe bulk
 * string, for tidekv replicas: no encoding on the master, no decoding on the replica). */
typedef enum { CDC_RAW, CDC_RESP, CDC_JSON, CDC_BINARY } cdc_format;

/* Gets the keys of a recorded command one by one: argument index pos, in database db (-1:
 * the one the command runs in). Returns 1 when it needs no more of them. */
typedef struct cdc_key_visitor {
    int (*key)(struct cdc_key_visitor *v, size_t pos, int db);
} cdc_key_visitor;

/* Finds a recorded command's keys for the filters: the command layer registers it at start-up
 * (it reads the command descriptors, which sit above cdc). A command it finds no key of (an
 * unknown one, FLUSHDB) concerns every key of its database. */
typedef void (*cdc_keys_fn)(const record_cmd *c, cdc_key_visitor *v);
void cdc_set_keys_hook(cdc_keys_fn fn);

typedef struct cdc_filter {
    char *match; /* glob over keys, NULL = any */
    size_t match_len;
    int type;    /* key_type, 0 = any */
    int db;      /* -1 = any */
} cdc_filter;

typedef struct cdc_poll {
    uint64_t seq;     /* the consumer's position, as given */
    uint64_t scanned; /* the last sequence looked at so far */
    uint64_t first;   /* first sequence covered, 0 before any batch */
    int max;
    int strict;
    cdc_format format;
    cdc_filter filter;
    buf body; /* the encoded updates gathered so far */
    int nupdates;
    uint64_t first_shown; /* the sequence of the first update in body, 0 before any */
    /* Batches are added while the body is shorter than max_bytes (so one at least, whatever
     * its size), and only while it stays within limit_bytes, past which its client would be
     * over its output limit: a batch that would take it past is left for the next poll
     * (held_back), unless it is the first, which is then too long to send
     * (cdc_poll_over_limit). */
    size_t max_bytes, limit_bytes;
    int held_back;
    uint64_t history; /* cdc_poll_history() when the poll began */
} cdc_poll;

/* The change history a poll reads is replaced when a replica's full sync swaps its store
 * (repl/fullsync.h): a poll begun before (a blocked one) then fails, as a position the history
 * no longer holds does, instead of going on in another history. */
uint64_t cdc_poll_history(void);
void cdc_poll_history_replaced(void);

/* A poll with no byte budget nor limit until the caller sets them. */
void cdc_poll_init(cdc_poll *p, uint64_t seq);
void cdc_poll_free(cdc_poll *p);
/* Reads batches after p->scanned into p->body (as RESP for a client speaking resp), as many
 * as MAX, max_bytes and limit_bytes let in. Returns 0, or -1 with a Redis error text in err
 * (STRICT continuity, read errors). */
int cdc_poll_scan(cdc_poll *p, int resp, char *err, size_t errlen);
/* Whether the poll takes no more updates: it has MAX of them, max_bytes of them, is over its
 * limit or held back a batch that would have taken it past. */
int cdc_poll_full(const cdc_poll *p);
/* Whether the body is past limit_bytes (its first update alone is): the client is not to be
 * sent it. */
int cdc_poll_over_limit(const cdc_poll *p);
/* Writes the reply map: latest_sequence, next_sequence, first_sequence, updates. */
void cdc_poll_reply(cdc_poll *p, reply *r);
/* Writes the reply map up to the updates' array header; p->body follows it. */
void cdc_poll_reply_header(const cdc_poll *p, reply *r);
/* Whether a filter is set (filters need a decoded format). */
int cdc_filter_active(const cdc_filter *f);

#endif
