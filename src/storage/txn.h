/* The write path: a command's (or a transaction's) writes gathered into one RocksDB
 * write batch that begins with its change record, committed atomically. Reads through
 * a txn see its own uncommitted writes. */
#ifndef TIDEKV_TXN_H
#define TIDEKV_TXN_H

#include <rocksdb/c.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/record.h"
#include "storage/bounds.h"
#include "storage/store.h"
#include "storage/keycount.h"
#include "util/buf.h"

/* Something to do once a txn's writes are committed (committed = 1) or given up (0): a change
 * held aside in memory until the writes that make it durable are (FUNCTION's libraries). */
typedef void (*txn_finish_fn)(void *arg, int committed);
typedef struct txn_finish {
    txn_finish_fn fn;
    void *arg;
} txn_finish;

/* Where a command began that did not begin a commit (txn_command_begins); or, with whole set,
 * a commit recorded whole by its writer (txn_record_described), its only entry. */
typedef struct txn_command_start {
    size_t op;        /* the txn's writes then */
    size_t commit_op; /* where the writes of the commit it is in begin */
    record_mark record;
    int whole;
} txn_command_start;

/* One write of a txn, by offsets into its encoded records (for rebuilding the read index). */
typedef struct txn_op {
    uint8_t kind; /* TXN_PUT, TXN_DELETE or TXN_RANGE */
    uint32_t cf;
    size_t key_off, key_len, val_off, val_len; /* val = range end for TXN_RANGE */
} txn_op;

typedef struct txn {
    buf records;                    /* the writes, encoded as write-batch records, in order */
    txn_op *ops;
    size_t nops, ops_cap;
    rocksdb_writebatch_wi_t *index; /* the writes indexed for reads; built when a read needs it */
    size_t indexed;                 /* how many of the ops the index holds */
    size_t ranges, indexed_ranges;  /* range deletions among the ops, and when last indexed */
    record_writer record;           /* the change record of the commit being gathered */
    buf sealed;        /* the commits already ended (txn_seal): change record, then writes */
    size_t sealed_len; /* bytes of records that belong to them */
    size_t sealed_ops; /* and how many of the ops: the next commit's writes begin there */
    buf touched;    /* uint64 key hashes whose WATCH versions the commit bumps */
    buf flushed;    /* int indexes of the databases the commit empties: their WATCHes are invalidated */
    buf woken;      /* uint64 key hashes whose blocked clients are woken, WATCH not bumped (txn_wake) */
    buf signalled;  /* uint64 key hashes of the streams given a new entry (txn_signal_stream) */
    buf events;     /* keyspace notifications of its commands, published after the commit
                     * (their encoding is cmd/notify.c's business) */
    size_t seals;            /* commits ended so far (txn_seal), and those of them that had */
    size_t unrecorded_seals; /* writes but no change record: for txn_wrote_unrecorded */
    int described;           /* the commit being gathered is recorded whole, even by no command */
    txn_command_start *starts; /* txn_command_begins, oldest first */
    size_t nstarts, starts_cap;
    int64_t now_ms; /* the command's clock, so one command sees one time */
    const store_snapshot *snapshot; /* reads see this snapshot (a read-only txn), NULL: the latest */
    staged_bounds bounds; /* bounds its walks found, published when it commits */
    keycount_delta counts; /* what it does to the key counts (storage/keycount.c) */
    int read_only;         /* txn_set_read_only */
    int keep_expired;      /* reads of keys it does not lock: lookups leave expired keys in
                            * place (types/keyspace.h), the key counts note no read */
    int report_misses;     /* lookups report missing keys (types/keyspace.h) */
    buf index_entry;        /* scratch for an expiry index entry (storage/expire_index.h) */
    int64_t earliest_indexed; /* the earliest expiry it indexed, 0 if none */
    txn_finish *finishes;     /* txn_on_finish, oldest first */
    size_t nfinishes, finishes_cap;
} txn;

void txn_init(txn *t);
/* A txn that only reads, through a snapshot, with the clock at now_ms (expiry as of then). It
 * must not write, and its walks neither use nor record the bounds of the latest data. */
void txn_init_at(txn *t, const store_snapshot *s, int64_t now_ms);
/* Says the txn serves a read-only command: its metadata reads are not noted for the key
 * counts, which only a later write of the key would use (a write it makes all the same, such
 * as a lazy expiry's deletion, finds the record it replaces by itself). */
void txn_set_read_only(txn *t);
void txn_free(txn *t);
/* 1 found (value in out), 0 missing, -1 error. */
STORE_MUST_CHECK int txn_get(txn *t, int cf, const char *key, size_t klen, buf *out);
/* The same, but copies at most max bytes of the value into out, and reads no more of it:
 * for a big value's header. */
STORE_MUST_CHECK int txn_get_prefix(txn *t, int cf, const char *key, size_t klen, size_t max, buf *out);
/* A put of metadata with an expiry also puts its expiry index entry (storage/expire_index.h). */
void txn_put(txn *t, int cf, const char *key, size_t klen, const char *val, size_t vlen);
/* Puts the value head followed by val, without joining them first (a header before a big value). */
void txn_put_parts(txn *t, int cf, const char *key, size_t klen, const char *head, size_t hlen, const char *val,
                   size_t vlen);
void txn_delete(txn *t, int cf, const char *key, size_t klen);
/* Deletes [begin, end); later reads in the same txn see only what it wrote there since. */
void txn_delete_range(txn *t, int cf, const char *begin, size_t blen, const char *end, size_t elen);
/* An iterator over [begin, end) of a column family that sees this txn's writes too (range
 * deletions aside). The caller stops at end: the txn's own writes are not bounded. */
struct store_iter *txn_iter_new(txn *t, int cf, const char *begin, size_t blen, const char *end, size_t elen);
/* The first key of a column family at or after `from` that starts with prefix, as the txn sees
 * it (its range deletions aside): 1 with a copy in out, 0 if there is none, -1 on a read error.
 * (Forward only: a backward seek steps over range-deleted keys one by one.) */
STORE_MUST_CHECK int txn_first_under(txn *t, int cf, const char *prefix, size_t plen, const char *from, size_t flen, buf *out);
/* The last key of a column family that starts with prefix, the same way (a backward seek). */
STORE_MUST_CHECK int txn_last_under(txn *t, int cf, const char *prefix, size_t plen, buf *out);
/* Notes that a command begins. A write of it that replaces a key of another type (a SET over a
 * hash) is found when the txn commits, and a DEL of the key, typed with the old type, goes into
 * the change record where the command's part of it begins: a consumer that filters by type learns
 * that the key is gone. Commits recorded whole by their writer (txn_record_described) get none. */
void txn_command_begins(txn *t);
/* Records the deterministic effect of a write in the change record. An argument of at least
 * RECORD_REF_MIN_BYTES that a write of this commit stores is recorded as a reference to it. */
void txn_record(txn *t, int db, uint8_t type, int argc, const char *const *argv, const size_t *lens);
/* Marks a key modified, for WATCH. */
void txn_touch(txn *t, int db, const char *key, size_t klen);
/* Marks a database emptied (FLUSHDB), for WATCH and the clients waiting on streams. */
void txn_touch_db(txn *t, int db);
/* Wakes the clients blocked on a key without it counting as a change for WATCH: a key removed
 * because it expired (Redis 7's EXEC checks expiries itself), a stream's groups created or
 * destroyed (a waiting group reader ends). */
void txn_wake(txn *t, int db, const char *key, size_t klen);
/* Marks a stream key given a new entry (XADD; touch it too). Redis 7.0 serves the readers
 * blocked on a stream when a new entry signals it, even if the entry is gone by then (XADD
 * MAXLEN 0, an XDEL later in the same EXEC): the signal hook tells them. */
void txn_signal_stream(txn *t, int db, const char *key, size_t klen);
/* Adds a keyspace notification (opaque bytes) that the events hook publishes once the txn has
 * committed; a rollback drops those of the commands it undoes. */
void txn_add_event(txn *t, const void *event, size_t len);
/* The same, inserted at offset `at` of the events added so far (at most their length). */
void txn_insert_event(txn *t, size_t at, const void *event, size_t len);
int txn_has_writes(const txn *t);
/* Ends the commit being gathered: the writes since the previous one and the change record
 * become a commit of their own inside the batch (how a pipeline of commands is written as
 * one batch yet read back by POLLUPDATES as one commit per command). Returns whether that
 * commit has writes; one without is dropped. */
int txn_seal(txn *t);
/* Adds something to do when the txn ends: a successful commit (also one with nothing to write)
 * runs them oldest first with committed = 1, right after the write (before WATCH, wake-ups and
 * keyspace notifications); a rollback past it, a failed commit, txn_reset and txn_free run them newest
 * first with committed = 0. */
void txn_on_finish(txn *t, txn_finish_fn fn, void *arg);
/* Builds the final batch (change record first) and writes it. Returns 0, or -1 with a
 * malloc'd error text in *err. The txn is empty afterwards either way. */
int txn_commit(txn *t, char **err);
/* Writes batch (a whole raw batch, header included) as it is, in place of what the txn would
 * build, with the txn's bookkeeping: key counts, WATCH, wake-ups. For a replica, whose batches
 * must be its master's byte for byte: the txn holds the same writes, staged by cdc_apply_batch
 * to learn what they change. Returns 0, or -1 with a malloc'd error text in *err. */
int txn_commit_verbatim(txn *t, const char *batch, size_t len, char **err);
/* A replica writes only its master's batches (txn_commit_verbatim): any other write would take
 * sequence numbers the master gives to its own. While refused, txn_commit of writes fails with
 * Redis's READONLY error, lookups leave expired keys in place and the active expiry pauses. */
void txn_refuse_local_writes(int refuse);
int txn_local_writes_refused(void);
#define ERR_READONLY_REPLICA "READONLY You can't write against a read only replica."
/* Where a txn stood before a command began: rolling back to it drops all that command did
 * (its writes, its part of the change record, its WATCH touches, staged bounds and the
 * metadata reads noted for the key counts), so a command that fails midway leaves nothing
 * of itself behind. Only the commit being gathered
 * can be rolled back (no txn_seal in between). */
typedef struct txn_mark {
    size_t records_len, nops, ranges, touched_len, flushed_len, woken_len, signalled_len, events_len, staged, seals,
        unrecorded_seals;
    size_t count_reads;
    size_t finishes;
    size_t starts;
    int described;
    record_mark record;
} txn_mark;

void txn_savepoint(const txn *t, txn_mark *m);
void txn_rollback(txn *t, const txn_mark *m);
/* Whether writes were added since the mark without a change record added with them (in the
 * commit being gathered, or in one a txn_seal since the mark ended): a command that did so
 * would be missing from the change stream (see dispatch's recording check). */
int txn_wrote_unrecorded(const txn *t, const txn_mark *since);
/* Says that the change record of the commit being gathered is whole as it is, even with no
 * command in it (APPLYBATCH of writes that change nothing a client can see): such a commit
 * did not write without recording. */
void txn_record_described(txn *t);
/* Tests only (DEBUG DROP-RECORD-AFTER): the n-th next change record added on the calling
 * thread is dropped, as if its command had not recorded; 0 cancels. */
void txn_drop_record_after(long long n);
/* Drops everything gathered so far. */
void txn_reset(txn *t);
/* A database's key counts as the txn sees them (its own writes too). Returns 0, or -1 on a
 * read error or when no counts are kept (a tool without a server). */
int txn_key_counts(txn *t, int db, keycount_stats *out);

/* Called after every successful commit with the batch as written (its header now carries the
 * sequence RocksDB assigned): the CDC tail cache and wake-ups. */
void txn_set_commit_hook(void (*hook)(const char *batch, size_t len));
/* Called after every successful commit with the lock hashes of the keys it touched
 * (blocked clients waiting on them are woken). */
void txn_set_touch_hook(void (*hook)(const uint64_t *hashes, size_t n));
/* Called after every successful commit that signalled streams (txn_signal_stream), before the
 * touch hook, with their lock hashes. */
void txn_set_signal_hook(void (*hook)(const uint64_t *hashes, size_t n));
/* How far a txn's wake-ups (keys touched or woken, databases emptied) had come. */
typedef struct txn_wake_mark {
    size_t touched, woken, flushed;
} txn_wake_mark;

txn_wake_mark txn_wakes_mark(const txn *t);
/* Whether what was added since the mark will wake a blocked client once committed: it emptied
 * a database, or touched or woke keys of which waited(hashes, n) says some are waited on. */
int txn_wakes_since(const txn *t, txn_wake_mark since, int (*waited)(const uint64_t *hashes, size_t n));
/* Called after every successful commit that emptied a database (whose keys' hashes nobody
 * has): every client waiting on a stream is woken. */
void txn_set_flush_hook(void (*hook)(void));
/* Called after every successful commit (one that wrote nothing too) with the notifications
 * its commands added (txn_add_event), in order, when there are any. */
void txn_set_events_hook(void (*hook)(const char *events, size_t len));
/* The last sequence number that a commit or raw write on the calling thread was given. */
uint64_t txn_thread_last_sequence(void);

/* Builds the raw write-batch bytes a txn would write, for tests and the commit itself. */
void txn_build_batch(txn *t, buf *out);

#endif
