/* The stream type (Redis Streams), laid out as Kvrocks lays it out.
 *
 * Metadata (CF 1, type 8): the compound header (flags, expire, version, size = the number of
 * entries) and then the stream extras (storage/encoding.h, stream_extras), all u64 big-endian:
 *   last generated id (ms, seq)    the greatest id XADD ever gave; new ids must be above it
 *   recorded first entry id        Redis's first_id: the first entry's id, 0-0 when empty
 *   max deleted entry id           the greatest id XDEL removed (trims do not count)
 *   first entry id, last entry id  the edges of the entries there are, 0-0 when empty
 *   entries added                  every XADD ever, however many are left
 *   consumer groups                0 for now
 * 25 + 96 = 121 bytes. Unlike other collections a stream stays a key when it has no entries
 * (XDEL or XTRIM of the last one), as in Redis: it keeps its last id.
 *
 * Entries (CF 5, `stream`): subkey = the usual prefix [ns][key_len][key][version], then the
 * id as ms u64 BE and seq u64 BE, so that ids iterate in order; value = the fields and values
 * in turn, each a varint32 length (LEB128, as RocksDB's) then its bytes, and nothing else
 * (no count: the value's end ends the list). A value must hold an even number of strings, at
 * least two; anything else is corrupt.
 *
 * Every status below may also be ST_WRONGTYPE, ST_CORRUPT (the key's metadata or an entry) or
 * ST_ERROR (a read failed: the command must fail). */
#ifndef TIDEKV_TYPES_STREAM_H
#define TIDEKV_TYPES_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "storage/encoding.h"
#include "storage/txn.h"
#include "types/status.h"
#include "util/buf.h"
#include "util/slice.h"

/* ---- ids ---- */

#define STREAM_ID_MAX ((stream_id){UINT64_MAX, UINT64_MAX})
/* "ms-seq" with both at their longest, and a NUL. */
#define STREAM_ID_TEXT_MAX 42

int stream_id_compare(stream_id a, stream_id b);
/* Writes "ms-seq" (NUL-ended); returns its length. */
size_t stream_id_format(char out[STREAM_ID_TEXT_MAX], stream_id id);
/* The next id (0), or -1 if id is the greatest there is. */
int stream_id_incr(stream_id *id);
/* The previous id (0), or -1 if id is 0-0. */
int stream_id_decr(stream_id *id);

/* Parses an id argument as Redis 7 does: "ms-seq", or "ms" alone (seq = missing_seq), each a
 * decimal u64; unless strict, also "-" (0-0) and "+" (the greatest id). With seq_given, also
 * "ms-*" (seq 0, *seq_given = 0; 1 for any other form). Returns 0, or -1 if it is no id
 * (Redis's "Invalid stream ID specified as stream command argument"). */
int stream_id_parse(const char *s, size_t len, uint64_t missing_seq, int strict, int *seq_given, stream_id *out);

/* An XRANGE bound: as stream_id_parse (the start's missing seq 0, the end's the greatest),
 * and "(id" for an exclusive one, which is made inclusive by stepping past it. Returns 0,
 * STREAM_BOUND_INVALID (not an id) or STREAM_BOUND_NO_STEP (an exclusive bound at the end of
 * the ids: Redis's "invalid start ID for the interval" / "invalid end ID …"). */
enum { STREAM_BOUND_INVALID = -1, STREAM_BOUND_NO_STEP = -2 };
int stream_range_bound(const char *s, size_t len, int is_end, stream_id *out);

/* ---- entry values ---- */

/* Encodes n strings (field, value, field, value, …) as an entry value, appended to out. */
void stream_entry_encode(buf *out, const slice *items, size_t n);
/* Checks an entry value: 0 with the number of strings it holds in *n (even, at least 2), or
 * -1 if it is malformed. */
int stream_entry_check(const char *v, size_t len, size_t *n);

/* Reads an entry value's strings in turn. */
typedef struct stream_entry_reader {
    const uint8_t *p, *end;
} stream_entry_reader;

void stream_entry_reader_init(stream_entry_reader *r, const char *v, size_t len);
/* 1 with the next string (pointing into the value), 0 at the end or where the value is
 * malformed (stream_entry_check tells which beforehand). */
int stream_entry_next(stream_entry_reader *r, const char **s, size_t *len);

/* ---- operations ---- */

typedef enum { STREAM_TRIM_NONE, STREAM_TRIM_MAXLEN, STREAM_TRIM_MINID } stream_trim_strategy;

/* A trim: keep the newest maxlen entries, or those with ids >= minid; remove at most limit
 * entries (0: no bound, an exact trim). An approximate trim (Redis's `~`) is an exact one
 * bounded by its limit here: there are no nodes to keep whole. */
typedef struct stream_trim_args {
    stream_trim_strategy strategy;
    long long maxlen;
    stream_id minid;
    long long limit;
} stream_trim_args;

/* What a trim removed: how many entries, and the greatest id among them. */
typedef struct stream_trimmed {
    long long removed;
    stream_id last_removed;
} stream_trimmed;

typedef struct stream_add_args {
    int id_given, seq_given; /* none: "*"; id given without seq: "ms-*" */
    stream_id id;
    int nomkstream;
    stream_trim_args trim;
} stream_add_args;

/* XADD: appends an entry of n strings (field, value, …; n even and >= 2) with an id from args
 * (for "*" a new one from the txn's clock), into *added, then trims as args say. ST_MISSING (nothing
 * written) for a missing key with nomkstream; ST_ID_TOO_SMALL if the id is not above the
 * stream's last generated id; ST_ID_EXHAUSTED if that is the greatest id; ST_TOO_BIG for "ms-*"
 * when ms is the last id's and its seq is the greatest (Redis 7.0's reply then). */
type_status stream_add(txn *t, int db, const char *key, size_t klen, const stream_add_args *args, const slice *items,
                       size_t n, stream_id *added, stream_trimmed *trimmed);
/* XTRIM: ST_MISSING for a missing key. */
type_status stream_trim(txn *t, int db, const char *key, size_t klen, const stream_trim_args *args,
                        stream_trimmed *trimmed);
/* XDEL: deletes those of the n ids that are entries, visiting each one deleted; *deleted counts
 * them. ST_MISSING for a missing key. */
typedef void (*stream_id_visit_fn)(void *arg, stream_id id);
type_status stream_delete(txn *t, int db, const char *key, size_t klen, const stream_id *ids, size_t n,
                          stream_id_visit_fn visit, void *arg, long long *deleted);
/* XSETID: sets the last generated id, and entries added (unless entries_added < 0) and the max
 * deleted id (unless max_deleted is NULL or 0-0). ST_MISSING for a missing key; ST_OK with
 * *refused set (nothing written) when the stream does not allow it (Redis 7.0 does not check
 * the id against the stream's own max deleted id, and neither does this): */
enum stream_setid_refusal {
    SETID_DONE,
    SETID_BELOW_TOP,         /* the id is below the stream's last entry */
    SETID_ENTRIES_BELOW_LENGTH, /* entries added is below the stream's length */
};
type_status stream_set_id(txn *t, int db, const char *key, size_t klen, stream_id id, long long entries_added,
                          const stream_id *max_deleted, enum stream_setid_refusal *refused);
/* XLEN (0 for a missing key, ST_MISSING). */
type_status stream_len(txn *t, int db, const char *key, size_t klen, long long *len);

/* Visits an entry: its id and a reader over its nitems strings (checked well-formed); returns
 * nonzero to stop. */
typedef int (*stream_entry_visit_fn)(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems);
/* XRANGE / XREVRANGE: visits the entries with start <= id <= end in order (rev: newest first),
 * at most count of them (0: all); *visited counts them. ST_MISSING for a missing key. */
type_status stream_range(txn *t, int db, const char *key, size_t klen, stream_id start, stream_id end, long long count,
                         int rev, stream_entry_visit_fn visit, void *arg, long long *visited);
/* The stream's metadata (XINFO STREAM): its size and extras in *m. ST_MISSING for a missing key. */
type_status stream_meta(txn *t, int db, const char *key, size_t klen, meta *m);
/* Visits the entries of the stream m describes (a key a walk over a snapshot found: dump.c) in
 * order, from an id on (from NULL: the first), until visit returns nonzero. */
type_status stream_walk_entries(txn *t, int db, const char *key, size_t klen, const meta *m, const stream_id *from,
                                stream_entry_visit_fn visit, void *arg);
/* Writes an open stream's metadata back (an empty stream stays), a change for WATCH. */
struct compound;
void stream_save_meta(struct compound *s);
/* Likewise for a change of its groups count alone (types/stream_group.c), which Redis 7.0's
 * WATCH does not see: only the clients blocked on the stream run again. */
void stream_save_groups_count(struct compound *s);
/* The 16 bytes that name an entry within its stream (a walk's resume point), and back. */
#define STREAM_ID_BYTES 16
void stream_id_to_bytes(uint8_t out[STREAM_ID_BYTES], stream_id id);
stream_id stream_id_from_bytes(const char *p);

#endif
