/* Durable consumers (CDC.md "Consumers"): named positions in the change stream, kept in a
 * small file in the data directory (cdc-consumers, cdc/consumer_file.h), never in RocksDB:
 * a write there would be a batch in the change stream itself.
 *
 * Creating and dropping a consumer write the file before they answer; acknowledgements are
 * written at most a second later (consumers_flush), so a crash forgets at most the last
 * second of them and never moves a position ahead. The history a consumer pins is the one
 * after its position as last written: the one a restart would resume from (cdc/retention.h). */
#ifndef TIDEKV_CONSUMERS_H
#define TIDEKV_CONSUMERS_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/consumer_file.h"
#include "cdc/wal_files.h"

typedef enum {
    CONSUMER_OK,
    CONSUMER_EXISTS,
    CONSUMER_TOO_MANY,
    CONSUMER_NOT_RETAINED, /* its start is older than the retained history */
    CONSUMER_OUT_OF_RANGE, /* a sequence after the latest */
    CONSUMER_UNKNOWN,
    CONSUMER_LOST,
    CONSUMER_SAVE_FAILED, /* the file could not be written: nothing changed (message in err) */
} consumer_status;

/* The file's name in the data directory. */
#define CONSUMERS_FILE "cdc-consumers"

/* Reads the consumers from the data directory (none if the file does not exist); 0, or -1
 * with a message in err for a file that cannot be read or is corrupt. */
int consumers_load(char *err, size_t errlen);
/* Turns lost the active consumers past latest (each logged; the file written): they
 * count as seen changes this node does not have, and would never be shown the other changes
 * that take those sequences here. That happens to a data directory restored from an older
 * copy under a newer consumers file, and to a replica promoted before its master's last
 * changes reached it. (A replica that follows a master keeps such positions: it catches up.) */
void consumers_lose_ahead(uint64_t latest);
/* Writes what is unwritten and forgets every consumer (at shutdown). */
void consumers_close(void);

/* A consumer at from (from_given) or at the latest sequence; *out is what was created. */
consumer_status consumers_create(const char *name, int from_given, uint64_t from, consumer *out, char *err,
                                 size_t errlen);
/* Moves a consumer's position forward to seq (a smaller one changes nothing). */
consumer_status consumers_ack(const char *name, uint64_t seq);
/* Removes a consumer: *dropped 1, or 0 if there was none. */
consumer_status consumers_drop(const char *name, int *dropped, char *err, size_t errlen);
/* A copy of one consumer: CONSUMER_OK or CONSUMER_UNKNOWN. */
consumer_status consumers_get(const char *name, consumer *out);
/* Copies of all consumers, in the order they were created (malloc'd, NULL when none). */
consumer *consumers_all(size_t *n);
void consumers_count(size_t *total, size_t *lost);

/* (A replica.) Makes the consumers those of the master, as its CDC INFO lists them: names,
 * positions, states and times, in its order, bypassing CDC CREATE's checks; the file is written
 * only when something changed. A consumer whose history this node's WAL does not hold is lost
 * here (as consumers_pin judges). 0, or -1 with a message for a list that cannot be kept
 * (invalid names, a name twice, more than a file holds): nothing changed then. */
int consumers_replicate(const consumer *list, size_t n, char *err, size_t errlen);

/* Writes acknowledgements made since the last write (once a second, from cdc/retention.c). */
void consumers_flush(void);

/* While held, no consumer is created or dropped and nothing is written: a retention pass
 * holds it between reading the pins and deleting files, so that a consumer created meanwhile
 * cannot start inside history being deleted. */
void consumers_hold(void);
void consumers_release(void);
/* (Held.) Turns lost the active consumers whose history is gone or, over files, would take
 * more than cdc-consumer-max-wal-mb (each logged, the file written), then returns the lowest
 * position still pinned: UINT64_MAX if none is. */
uint64_t consumers_pin(const wal_file *files, size_t n, uint64_t latest);

#endif
