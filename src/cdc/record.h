/* The change record: a LogData blob at the start of every write batch that tells
 * what the batch did, as deterministic commands (see shared/CDC.md).
 *
 * Format, version 1 (fixed integers big-endian, varints unsigned LEB128):
 *   magic "TK" | version u8 = 1 | time_ms u64 | db varint | ncommands varint |
 *   ncommands × ( type u8 | argc varint | argc × ( len varint | bytes ) )
 * type is the key type the command changed (storage/encoding.h key_type; 0 when it
 * concerns no single key, as FLUSHDB or SELECT), so consumers can filter by type.
 * A command that moves to another database is preceded by a SELECT command,
 * so a transaction over several databases replays as Redis's own MULTI would. */
#ifndef TIDEKV_RECORD_H
#define TIDEKV_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define RECORD_MAGIC0 'T'
#define RECORD_MAGIC1 'K'
#define RECORD_VERSION 1

typedef struct record_arg {
    const char *ptr;
    size_t len;
} record_arg;

typedef struct record_cmd {
    uint8_t type;
    size_t argc;
    record_arg *argv;
} record_cmd;

/* A decoded record; argument bytes point into the blob it was decoded from. */
typedef struct record {
    uint8_t version;
    int64_t time_ms;
    uint32_t db;
    size_t ncmds;
    record_cmd *cmds;
} record;

/* Builds the commands part of a record, one command at a time. */
typedef struct record_writer {
    buf cmds;
    size_t ncmds;
    int first_db;   /* database of the first command, -1 before it: the record's db */
    int current_db; /* database the commands so far leave a replay in */
} record_writer;

void record_writer_init(record_writer *w);
void record_writer_free(record_writer *w);
void record_writer_reset(record_writer *w);
/* Adds a command that runs in database db, preceded by a SELECT when db differs from the
 * previous command's. */
void record_writer_add(record_writer *w, int db, uint8_t type, int argc, const char *const *argv,
                       const size_t *lens);
/* Writes the whole record (header + commands) to out. */
void record_writer_finish(const record_writer *w, int64_t time_ms, buf *out);
/* How many bytes record_writer_finish writes. */
size_t record_writer_encoded_len(const record_writer *w);

/* Tells whether a LogData blob is a tidekv change record (by magic). */
int record_is_tidekv(const char *blob, size_t len);
/* Decodes a blob; returns 0, or -1 for a truncated/corrupt/unknown-version blob. */
int record_decode(const char *blob, size_t len, record *out);
void record_free(record *r);

#endif
