/* The RocksDB instance: open/close, column families, options, compaction filters, reads. */
#ifndef TIDEKV_STORE_H
#define TIDEKV_STORE_H

#include <rocksdb/c.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/encoding.h"
#include "util/buf.h"

typedef struct store_settings {
    const char *dir;
    long long block_cache_bytes;
    long long write_buffer_bytes;
    long long min_blob_size; /* values this big or bigger go to blob files; -1: none do */
} store_settings;

/* The settings the server's configuration (config.h) asks for, over the database in dir. */
store_settings store_settings_from_config(const char *dir);

/* Opens (creating if needed) the database and its column families. Returns 0, or -1 with *err set
 * (malloc'd). */
int store_open(const store_settings *s, char **err);
void store_close(void);

/* A record's key and value, given to a walk's callback. */
typedef void (*store_record_fn)(void *arg, const char *key, size_t klen, const char *val, size_t vlen);
/* Opens a database copied from elsewhere in dir (while store_open's stays open), checks its
 * column families, reads its latest sequence and flushes what its WAL holds to tables, so that
 * store_open then opens it fast, with no WAL before that sequence; then calls each_metadata for
 * every record of its metadata column family (counting its keys before it is swapped in). 0, or
 * -1 with *err set (malloc'd). */
int store_prepare(const char *dir, uint64_t *latest, store_record_fn each_metadata, void *arg, char **err);
/* Deletes RocksDB's files in dir (its tables, logs, manifest, archive/), no other file, and
 * dir itself only if that leaves it empty. The database must not be open. 0, or -1 with *err. */
int store_destroy(const char *dir, char **err);
/* Whether dir holds any of RocksDB's files: a store, or what is left of one whose removal
 * stopped half-way (its CURRENT may be gone first). */
int store_files_in(const char *dir);

rocksdb_t *store_db(void);
/* The database directory, where RocksDB keeps its WAL files and their archive/ (tidekv sets no
 * wal_dir, and RocksDB recycles no WAL files while it archives them). */
const char *store_dir(void);
rocksdb_column_family_handle_t *store_cf(int cf);
const rocksdb_readoptions_t *store_read_options(void);
const rocksdb_options_t *store_db_options(void);
const rocksdb_writeoptions_t *store_write_options(void);
uint64_t store_latest_sequence(void);
/* Bytes used by the block cache, memtables and table readers (for INFO memory). */
uint64_t store_memory_usage(void);
/* Approximate on-disk size of all column families. */
uint64_t store_disk_size(void);

/* Storage reads whose result must be looked at: an error has to reach the caller. */
#define STORE_MUST_CHECK __attribute__((warn_unused_result))

/* Reads one key outside any transaction: 1 found (value in out), 0 missing, -1 error. */
STORE_MUST_CHECK int store_get(int cf, const char *key, size_t klen, buf *out);

/* A consistent view of the database pinned at a sequence (a RocksDB snapshot): reads through
 * it see exactly the commits up to and including that sequence. */
typedef struct store_snapshot store_snapshot;
/* Takes a snapshot of what is committed now; its sequence in *seq. */
store_snapshot *store_snapshot_take(uint64_t *seq);
void store_snapshot_release(store_snapshot *s);
/* How many snapshots are held: while any is, compactions keep what they would filter out
 * (expired keys, subkeys of deleted keys), which a snapshot may still read. */
int store_snapshots_held(void);
/* store_get through a snapshot (NULL: the latest data). */
STORE_MUST_CHECK int store_get_at(const store_snapshot *s, int cf, const char *key, size_t klen, buf *out);
/* Reads n distinct keys of a column family, given in its order (bytewise, a prefix first), at
 * once (RocksDB's batched MultiGet, cheaper than n gets): for each key i that exists,
 * found(arg, i, value, vlen) sees its value in place, valid during the call only. Returns 0,
 * or -1 on a read error (logged). Injected read errors (store_fail_read_after) spare it: they
 * test the reads of commands, and this one serves a whole commit (the key counts). */
STORE_MUST_CHECK int store_multi_get(int cf, size_t n, const char *const *keys, const size_t *lens,
                                     void (*found)(void *arg, size_t i, const char *val, size_t vlen), void *arg);
/* Creates an iterator over keys in [begin, end) of a column family; free with store_iter_free. */
typedef struct store_iter store_iter;
store_iter *store_iter_new(int cf, const char *begin, size_t blen, const char *end, size_t elen);
/* The same through a snapshot (NULL: the latest data). */
store_iter *store_iter_new_at(const store_snapshot *s, int cf, const char *begin, size_t blen, const char *end,
                              size_t elen);
/* Makes an iterator also see a write batch's uncommitted writes (read-your-writes in a txn). */
void store_iter_overlay(store_iter *it, rocksdb_writebatch_wi_t *batch, int cf);
/* Whether the iterator is at a key; when it is not, store_iter_failed tells an error from the end. */
STORE_MUST_CHECK int store_iter_valid(store_iter *it);
/* Whether an iterator that is not valid stopped on a read error (logged) rather than the end. */
STORE_MUST_CHECK int store_iter_failed(store_iter *it);
void store_iter_next(store_iter *it);
void store_iter_seek(store_iter *it, const char *key, size_t klen);
/* store_iter_seek for an iterator that stands at or before where the seek lands (at the first
 * key at or after some key <= this one, or at the end): a key a few steps ahead is reached by
 * stepping, which costs far less than a seek through every level of the tree. */
void store_iter_seek_forward(store_iter *it, const char *key, size_t klen);
/* Positions at the last key <= key; then store_iter_prev walks backwards. */
void store_iter_seek_for_prev(store_iter *it, const char *key, size_t klen);
void store_iter_prev(store_iter *it);
const char *store_iter_key(store_iter *it, size_t *len);
const char *store_iter_value(store_iter *it, size_t *len);
void store_iter_free(store_iter *it);

/* Test only (DEBUG READ-ERROR-AFTER, with debug-fault-injection on): the n-th next storage read
 * on the calling thread (a get or an iterator's step) fails as an I/O error would; 0 cancels. */
void store_fail_read_after(long long n);
/* Counts one read against that countdown: 1 if this read is the one to fail (logged). Reads
 * that do not go through store_get or an iterator call it themselves. */
int store_read_faults(void);

/* Syncs the WAL to disk (every write before the call is covered). 0, or -1 with *err set. */
int store_sync_wal(char **err);

/* Counts the deleted entries iterators step over on this thread between the two calls:
 * pass what begin returned to end, which returns the count. Counts may nest. */
uint64_t store_count_skips_begin(void);
uint64_t store_count_skips_end(uint64_t begun);
/* Compacts [begin, end) in the background, so the tombstones there are dropped; ignored while
 * another such compaction runs or one started less than a second ago. */
void store_compact_later(int cf, const char *begin, size_t blen, const char *end, size_t elen);
/* Ends a count (store_count_skips_end); if the walk stepped over many deleted entries, the keys
 * under prefix are compacted later, so that the next walks there do not. */
void store_compact_prefix_if_skipped(uint64_t begun, int cf, const char *prefix, size_t plen);

#endif
