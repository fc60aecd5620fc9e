/* The changes a sink receives: POLLUPDATES batches and SNAPSHOT READ entries, read from the
 * source's reply without copying their arguments (they point into the hiredis reply, which
 * lives until the sink has taken them). */
#ifndef TIDEKV_CDC_BATCH_H
#define TIDEKV_CDC_BATCH_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "report.h"

/* The FORMAT a sink reads: RESP gives commands, JSON one JSON object per batch. */
typedef enum cdc_format { CDC_FORMAT_RESP, CDC_FORMAT_JSON } cdc_format;

typedef struct cdc_command {
    int argc;
    const char **argv;
    const size_t *argvlen;
} cdc_command;

typedef struct cdc_batch {
    long long sequence; /* the batch's first sequence; 0 for a snapshot entry */
    int db;             /* RESP only */
    size_t ncommands;   /* RESP only */
    const cdc_command *commands;
    const char *json;   /* JSON only: the object as the source sent it */
    size_t json_len;
} cdc_batch;

typedef struct cdc_batches {
    size_t n;
    cdc_batch *items;
    /* storage the items point into */
    cdc_command *command_store;
    const char **arg_store;
    size_t *len_store;
} cdc_batches;

/* Reads the `updates` (or `entries`) array of a reply in the given format into out (which
 * must be freed with batches_free, whatever the outcome). A reply of the wrong shape is
 * CDC_FATAL. */
cdc_status batches_read(const redisReply *array, cdc_format format, cdc_batches *out, cdc_error *e);

void batches_free(cdc_batches *b);

#endif
