/* The change record: a LogData blob at the start of every write batch that tells
 * what the batch did, as deterministic commands (see shared/CDC.md).
 *
 * Format, version 1 (fixed integers big-endian, varints unsigned LEB128):
 *   magic "TK" | version u8 = 1 | time_ms u64 | db varint | ncommands varint |
 *   ncommands × ( type u8 | argc varint | argc × ( len varint | bytes ) )
 * type is the key type the command changed (storage/encoding.h key_type; 0 when it
 * concerns no single key, as FLUSHDB or SELECT), so consumers can filter by type.
 * A command that moves to another database is preceded by a SELECT command,
 * so a transaction over several databases replays as Redis's own MULTI would.
 *
 * Version 2 is version 1 followed by a table of references, written only when an argument
 * of at least RECORD_REF_MIN_BYTES is stored by a write of the same commit (a SET's
 * value): the argument is then encoded empty, and the table says where its bytes are, so
 * the batch does not carry them twice:
 *   nrefs varint | nrefs × ( cmd varint | arg varint | op varint | offset varint | len varint )
 * op counts the commit's writes after its change record from 0; the argument is bytes
 * [offset, offset + len) of that Put's value. Records without references stay version 1. */
#ifndef TIDEKV_RECORD_H
#define TIDEKV_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define RECORD_MAGIC0 'T'
#define RECORD_MAGIC1 'K'
#define RECORD_VERSION 1
#define RECORD_VERSION_REFS 2
/* 256 bytes: below it a reference (5 varints) and the search for the write saves little; from
 * it up, a SET's value would double the WAL bytes (bench/RESULTS.md, issue 13). */
#define RECORD_REF_MIN_BYTES 256

typedef struct record_arg {
    const char *ptr;
    size_t len;
} record_arg;

typedef struct record_cmd {
    uint8_t type;
    size_t argc;
    record_arg *argv;
} record_cmd;

/* A version 2 argument whose bytes are those of a write of the commit (see above). */
typedef struct record_ref {
    size_t cmd, arg;
    uint64_t op, offset, len;
} record_ref;

/* A decoded record; argument bytes point into the blob it was decoded from, or, for a
 * reference, into the commit once record_resolve has found them (NULL before). */
typedef struct record {
    uint8_t version;
    int64_t time_ms;
    uint32_t db;
    size_t ncmds;
    record_cmd *cmds;
    size_t nrefs;
    record_ref *refs;
} record;

/* Builds the commands part of a record, one command at a time. */
typedef struct record_writer {
    buf cmds;
    size_t ncmds;
    int first_db;   /* database of the first command, -1 before it: the record's db */
    int current_db; /* database the commands so far leave a replay in */
    buf refs;       /* the references table's entries, encoded */
    size_t nrefs;
} record_writer;

/* Where an argument's bytes already are in the commit being recorded: its write number op
 * (counted from 0 after the change record), from offset in that Put's value. op < 0: nowhere,
 * the argument is written out. */
typedef struct record_src {
    int64_t op;
    uint64_t offset;
} record_src;

void record_writer_init(record_writer *w);
void record_writer_free(record_writer *w);
void record_writer_reset(record_writer *w);
/* Adds a command that runs in database db, preceded by a SELECT when db differs from the
 * previous command's. */
void record_writer_add(record_writer *w, int db, uint8_t type, int argc, const char *const *argv,
                       const size_t *lens);
/* The same, with srcs[i] telling where argument i already is (srcs may be NULL). */
void record_writer_add_refs(record_writer *w, int db, uint8_t type, int argc, const char *const *argv,
                            const size_t *lens, const record_src *srcs);
/* How far a writer has got, to drop the commands added after it (a command that failed). */
typedef struct record_mark {
    size_t cmds_len, ncmds, refs_len, nrefs;
    int first_db, current_db;
} record_mark;

void record_writer_mark(const record_writer *w, record_mark *m);
void record_writer_rollback(record_writer *w, const record_mark *m);
/* A command to insert into a finished record where its writer stood at a mark: before the
 * commands added after the mark, in database db. */
typedef struct record_insertion {
    record_mark at;
    int db;
    uint8_t type;
    int argc;
    const char *const *argv;
    const size_t *lens;
} record_insertion;

/* Writes to out the record blob (as record_writer_finish wrote it) with commands inserted, given
 * in the order of their marks. An insertion in another database than a replay is in there goes
 * after a SELECT, and a SELECT back follows it if commands of the record do; references keep
 * naming their arguments. Returns 0, or -1 if blob is no record or a mark is past its end. */
int record_insert(const char *blob, size_t len, const record_insertion *ins, size_t n, buf *out);
/* Writes the whole record (header + commands) to out. */
void record_writer_finish(const record_writer *w, int64_t time_ms, buf *out);
/* How many bytes record_writer_finish writes. */
size_t record_writer_encoded_len(const record_writer *w);

/* Tells whether a LogData blob is a tidekv change record (by magic). */
int record_is_tidekv(const char *blob, size_t len);
/* Decodes a blob; returns 0, or -1 for a truncated/corrupt/unknown-version blob. References
 * are left unresolved (NULL arguments). */
int record_decode(const char *blob, size_t len, record *out);
/* Points the record's references at their bytes in the commit it begins (a batch of one
 * commit, header included). Returns 0, or -1 if a reference names no such bytes. */
int record_resolve(record *r, const char *commit, size_t len);
void record_free(record *r);

#endif
