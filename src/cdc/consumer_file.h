/* A durable consumer's record (CDC.md "Consumers") and the file that keeps them all:
 *
 *   tidekv-consumers 1
 *   consumer <name> <sequence> <active|lost> <created-ms> <acked-ms>
 *   ...
 *   end <count>
 *
 * Names hold no spaces (consumer_name_valid), so a line splits on them. The end line makes a
 * file cut short read as corrupt rather than as fewer consumers. */
#ifndef TIDEKV_CONSUMER_FILE_H
#define TIDEKV_CONSUMER_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CONSUMER_NAME_MAX 128
/* The most consumers a file may hold: more than any configuration allows (cdc-max-consumers),
 * so that a corrupt count cannot ask for huge memory. */
#define CONSUMER_FILE_MAX 10000

typedef struct consumer {
    char name[CONSUMER_NAME_MAX + 1];
    uint64_t sequence; /* the acknowledged position: the last change it has processed */
    int lost;          /* its history was released (cdc-consumer-max-wal-mb) */
    int64_t created_ms;
    int64_t acked_ms; /* the last ACK, 0 before the first */
} consumer;

/* Whether a name is 1 … CONSUMER_NAME_MAX bytes of [A-Za-z0-9_.:-]. */
int consumer_name_valid(const char *name, size_t len);
void consumer_file_encode(const consumer *list, size_t n, buf *out);
/* Parses a file's text: 0 with *list (malloc'd, NULL when empty) and *n, or -1 with a message. */
int consumer_file_decode(const char *data, size_t len, consumer **list, size_t *n, char *err, size_t errlen);

#endif
