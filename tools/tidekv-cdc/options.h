/* tidekv-cdc's command line: what it follows, where it delivers, and how. */
#ifndef TIDEKV_CDC_OPTIONS_H
#define TIDEKV_CDC_OPTIONS_H

#include <stdio.h>

#include "conn.h"

/* Exit codes, as --help states them. */
#define EXIT_USAGE 2

typedef struct cdc_options {
    endpoint source;
    const char *password;     /* the source's, or NULL */
    const char *consumer;     /* the durable consumer's name */
    const char *sink_url;
    const char *match;        /* filters passed to SNAPSHOT READ and POLLUPDATES, or NULL */
    const char *type;
    int db;                   /* -1: every database */
    int batch;                /* batches per POLLUPDATES and per sink transaction */
    int once;                 /* exit 0 once caught up */
    double progress_s;        /* seconds between progress lines; 0: none */
    const char *position_key; /* the redis sink's position key, NULL for tidekv-cdc:<consumer> */
    const char *create_stream; /* the nats sink's stream to create when none holds the subject */
    double retry_s;           /* how long to keep reconnecting after a side went away */
    int fsync_always;         /* jsonl: sync every poll's lines (else once a second) */
    double rotate_mb;         /* jsonl: rotate PATH at this size; 0: never */
    int snapshot;             /* jsonl: copy the snapshot first */
} cdc_options;

typedef enum { OPTIONS_RUN, OPTIONS_HELP, OPTIONS_BAD } options_result;

/* Parses argv into o. OPTIONS_BAD comes with a message in err. */
options_result options_parse(int argc, char **argv, cdc_options *o, char *err, size_t errlen);

/* The --help text. */
void options_usage(FILE *out);

#endif
