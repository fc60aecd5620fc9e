#include "storage/store.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "storage/encoding.h"
#include "util/log.h"
#include "util/timeutil.h"

static const char *cf_names[CF_COUNT] = {"default", "metadata",  "zset_score", "pubsub",      "propagate",
                                         "stream",  "search",    "expire",     "stream_group"};

/* Subkeys are collected this long after their key died, so a slow reader of a just-deleted
 * collection does not see it vanish mid-iteration. */
#define SUBKEY_GRACE_MS (5 * 60 * 1000)
/* An expired metadata record is dropped by compactions only this long after its expiry: until
 * then the active expiry (types/expiry.c) deletes it, which the change stream records as DEL,
 * where a compaction's drop is recorded nowhere. */
#define EXPIRED_RECORD_GRACE_MS (5 * 60 * 1000)

static struct {
    rocksdb_t *db;
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    rocksdb_options_t *db_options;
    rocksdb_options_t *cf_options[CF_COUNT];
    rocksdb_block_based_table_options_t *table_options;
    rocksdb_cache_t *cache;
    rocksdb_filterpolicy_t *bloom;
    rocksdb_compactionfilter_t *filters[CF_COUNT];
    rocksdb_readoptions_t *read_options;
    rocksdb_writeoptions_t *write_options;
    rocksdb_writeoptions_t *sync_write_options;
    pthread_t compactor;         /* a compaction asked for by store_compact_later */
    atomic_int compacting;       /* 1 while it runs */
    int compactor_joinable;
    _Atomic int64_t last_compaction_ms; /* when the last one started */
    buf compact_begin, compact_end;
    int compact_cf;
    char *dir;
} st;

rocksdb_t *store_db(void) { return st.db; }
const char *store_dir(void) { return st.dir; }
rocksdb_column_family_handle_t *store_cf(int cf) { return st.cf[cf]; }
const rocksdb_readoptions_t *store_read_options(void) { return st.read_options; }
const rocksdb_options_t *store_db_options(void) { return st.db_options; }
const rocksdb_writeoptions_t *store_write_options(void) { return st.write_options; }
uint64_t store_latest_sequence(void) { return rocksdb_get_latest_sequence_number(st.db); }

/* ---- compaction filters: the background half of expiry ---- */

/* The C API calls a filter's destructor unconditionally; our filters own no state. */
static void filter_destroy(void *state) { (void)state; }

static const char *filter_name(void *state) {
    (void)state;
    return "tidekv.expiry";
}

static unsigned char filter_metadata(void *state, int level, const char *key, size_t klen, const char *value,
                                     size_t vlen, char **new_value, size_t *new_len, unsigned char *changed) {
    (void)state, (void)level, (void)key, (void)klen, (void)new_value, (void)new_len, (void)changed;
    meta m;
    if (enc_decode_meta(value, vlen, &m) < 0) return 0;
    int expired = m.expire_ms != 0 && m.expire_ms + EXPIRED_RECORD_GRACE_MS < time_now_ms();
    /* RocksDB runs compaction filters whatever snapshots see: a snapshot must keep its keys.
     * Asked after the decision (see store_snapshot_take). */
    return expired && store_snapshots_held() == 0;
}

/* Splits a subkey into its metadata key and version; returns -1 if it is not a subkey. */
static int subkey_owner(const char *key, size_t klen, buf *meta_key, uint64_t *version) {
    if (klen < 1) return -1;
    size_t ns_len = (uint8_t)key[0];
    if (klen < 1 + ns_len + 4) return -1;
    size_t ulen = buf_get_u32be(key + 1 + ns_len);
    if (klen < 1 + ns_len + 4 + ulen + 8) return -1;
    buf_append(meta_key, key, 1 + ns_len);
    buf_append(meta_key, key + 1 + ns_len + 4, ulen);
    *version = buf_get_u64be(key + 1 + ns_len + 4 + ulen);
    return 0;
}

static unsigned char filter_subkey(void *state, int level, const char *key, size_t klen, const char *value,
                                   size_t vlen, char **new_value, size_t *new_len, unsigned char *changed) {
    (void)state, (void)level, (void)value, (void)vlen, (void)new_value, (void)new_len, (void)changed;
    if (!st.db) return 0; /* compactions may start before open returns */
    if (store_snapshots_held() > 0) return 0; /* a snapshot may still read a dead key's subkeys */
    buf mk;
    buf_init(&mk);
    uint64_t version;
    unsigned char drop = 0;
    if (subkey_owner(key, klen, &mk, &version) == 0) {
        buf raw;
        buf_init(&raw);
        int found = store_get(CF_METADATA, mk.data, mk.len, &raw);
        meta m;
        if (found == 0) {
            drop = 1;
        } else if (found == 1 && enc_decode_meta(raw.data, raw.len, &m) == 0) {
            drop = m.type == TYPE_STRING || m.version != version ||
                   (m.expire_ms != 0 && m.expire_ms + SUBKEY_GRACE_MS < time_now_ms());
        }
        buf_free(&raw);
    }
    buf_free(&mk);
    /* Asked again after the metadata was read: a snapshot taken since the first check may
     * still see the key alive (see store_snapshot_take). */
    return drop && store_snapshots_held() == 0;
}

/* An expiry index entry goes once its key's record no longer has that expiry (changed, or
 * the key deleted): a write that gave it another expiry wrote another entry. */
static unsigned char filter_expire_index(void *state, int level, const char *key, size_t klen, const char *value,
                                         size_t vlen, char **new_value, size_t *new_len, unsigned char *changed) {
    (void)state, (void)level, (void)value, (void)vlen, (void)new_value, (void)new_len, (void)changed;
    if (!st.db) return 0; /* compactions may start before open returns */
    int64_t expire_ms;
    const char *mk;
    size_t mlen;
    if (enc_decode_expire_key(key, klen, &expire_ms, &mk, &mlen) < 0) return 1;
    buf raw;
    buf_init(&raw);
    int found = store_get(CF_METADATA, mk, mlen, &raw);
    unsigned char drop = found == 0 || (found == 1 && enc_meta_expire(raw.data, raw.len) != expire_ms);
    buf_free(&raw);
    return drop;
}

/* ---- open / close ---- */

static rocksdb_options_t *make_cf_options(int cf, const store_settings *s) {
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_block_based_table_factory(o, st.table_options);
    rocksdb_options_set_write_buffer_size(o, (size_t)s->write_buffer_bytes);
    if (cf == CF_METADATA || cf == CF_DEFAULT) {
        /* A bloom filter of the memtable's keys: a point read of a key that was flushed out
         * of it skips the skip-list walk (which was a quarter of a GET's time). At ~60 bytes
         * an entry, 2% of the buffer is about 10 bits a key. */
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.02);
        rocksdb_options_set_memtable_whole_key_filtering(o, 1);
    }
    if (cf == CF_METADATA)
        st.filters[cf] = rocksdb_compactionfilter_create(NULL, filter_destroy, filter_metadata, filter_name);
    else if (enc_is_subkey_cf(cf))
        st.filters[cf] = rocksdb_compactionfilter_create(NULL, filter_destroy, filter_subkey, filter_name);
    else if (cf == CF_EXPIRE)
        st.filters[cf] = rocksdb_compactionfilter_create(NULL, filter_destroy, filter_expire_index, filter_name);
    if (st.filters[cf]) rocksdb_options_set_compaction_filter(o, st.filters[cf]);
    if (s->min_blob_size >= 0) {
        /* Uncompressed: compressing a blob takes a buffer as big as the value. Garbage collection
         * (RocksDB's default age cutoff) rewrites the live values of the oldest blob files. */
        rocksdb_options_set_enable_blob_files(o, 1);
        rocksdb_options_set_min_blob_size(o, (uint64_t)s->min_blob_size);
        rocksdb_options_set_enable_blob_gc(o, 1);
    }
    return o;
}

static void make_options(const store_settings *s) {
    st.cache = rocksdb_cache_create_lru((size_t)s->block_cache_bytes);
    st.bloom = rocksdb_filterpolicy_create_bloom_full(10);
    st.table_options = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(st.table_options, st.cache);
    rocksdb_block_based_options_set_filter_policy(st.table_options, st.bloom);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(st.table_options, 1);

    st.db_options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(st.db_options, 1);
    rocksdb_options_set_create_missing_column_families(st.db_options, 1);
    rocksdb_options_increase_parallelism(st.db_options, 2);
    rocksdb_options_set_max_background_jobs(st.db_options, 4);
    rocksdb_options_set_keep_log_file_num(st.db_options, 8);
    /* Debian's RocksDB aborts on the second write to its LOG file after one failed, which is
     * what a full disk does; at this level only fatal messages are written to that file. */
    rocksdb_options_set_info_log_level(st.db_options, 4 /* FATAL_LEVEL */);
    /* WAL files are the change history POLLUPDATES reads. RocksDB archives a file it no longer
     * needs when a TTL is set, and with one that no file reaches it deletes none: tidekv
     * deletes them itself, applying wal-ttl-seconds and wal-size-limit-mb promptly and keeping
     * what durable consumers pin (cdc/retention.h). Not a size limit: RocksDB would apply it. */
    rocksdb_options_set_WAL_ttl_seconds(st.db_options, UINT64_MAX);
    rocksdb_options_set_WAL_size_limit_MB(st.db_options, 0);
    for (int i = 0; i < CF_COUNT; i++) st.cf_options[i] = make_cf_options(i, s);

    st.read_options = rocksdb_readoptions_create();
    st.write_options = rocksdb_writeoptions_create();
    st.sync_write_options = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st.sync_write_options, 1);
}

store_settings store_settings_from_config(const char *dir) {
    store_settings s = {
        .dir = dir,
        .block_cache_bytes = CONFIG_READ(block_cache_mb) * 1024 * 1024,
        .write_buffer_bytes = CONFIG_READ(write_buffer_mb) * 1024 * 1024,
        .min_blob_size = CONFIG_READ(enable_blob_files) ? CONFIG_READ(min_blob_size) : -1,
    };
    return s;
}

int store_open(const store_settings *s, char **err) {
    make_options(s);
    *err = NULL;
    st.dir = strdup(s->dir);
    if (!st.dir) abort();
    st.db = rocksdb_open_column_families(st.db_options, s->dir, CF_COUNT, cf_names,
                                         (const rocksdb_options_t *const *)st.cf_options, st.cf, err);
    if (*err) {
        st.db = NULL;
        store_close(); /* frees the options and the directory name */
        return -1;
    }
    for (int i = 0; i < CF_COUNT; i++) {
        uint32_t id = rocksdb_column_family_handle_get_id(st.cf[i]);
        if (id != (uint32_t)i) {
            /* Raw batches name column families by id, so the ids must be the documented ones. */
            char msg[128];
            snprintf(msg, sizeof(msg), "column family '%s' has id %u, expected %d", cf_names[i], id, i);
            *err = strdup(msg);
            store_close();
            return -1;
        }
    }
    return 0;
}

/* Calls each(arg, key, value) for every record of the column family; 0, or -1 with *err. */
static int walk_cf(rocksdb_t *db, rocksdb_column_family_handle_t *cf, store_record_fn each, void *arg, char **err) {
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(ro, 0); /* a single pass over the whole store */
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db, ro, cf);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl), *v = rocksdb_iter_value(it, &vl);
        each(arg, k, kl, v, vl);
    }
    rocksdb_iter_get_error(it, err);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return *err ? -1 : 0;
}

int store_prepare(const char *dir, uint64_t *latest, store_record_fn each_metadata, void *arg, char **err) {
    /* Default options suffice: no compaction filter (which only drops data) and no WAL
     * archive, so the flushed WAL files go and the history starts at the copy's sequence. */
    rocksdb_options_t *o = rocksdb_options_create();
    const rocksdb_options_t *cf_opts[CF_COUNT];
    for (int i = 0; i < CF_COUNT; i++) cf_opts[i] = o;
    rocksdb_column_family_handle_t *cfs[CF_COUNT];
    *err = NULL;
    rocksdb_t *db = rocksdb_open_column_families(o, dir, CF_COUNT, cf_names, cf_opts, cfs, err);
    rocksdb_options_destroy(o);
    if (*err) return -1;
    rocksdb_flushoptions_t *flush = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(flush, 1);
    for (int i = 0; i < CF_COUNT && !*err; i++) {
        if (rocksdb_column_family_handle_get_id(cfs[i]) != (uint32_t)i) *err = strdup("its column families have other ids");
        else rocksdb_flush_cf(db, flush, cfs[i], err);
    }
    rocksdb_flushoptions_destroy(flush);
    *latest = rocksdb_get_latest_sequence_number(db);
    if (!*err) walk_cf(db, cfs[CF_METADATA], each_metadata, arg, err);
    for (int i = 0; i < CF_COUNT; i++) rocksdb_column_family_handle_destroy(cfs[i]);
    rocksdb_close(db);
    return *err ? -1 : 0;
}

int store_destroy(const char *dir, char **err) {
    rocksdb_options_t *o = rocksdb_options_create();
    *err = NULL;
    rocksdb_destroy_db(o, dir, err);
    rocksdb_options_destroy(o);
    return *err ? -1 : 0;
}

/* RocksDB's names: CURRENT, IDENTITY, MANIFEST-<n>, OPTIONS-<n>, and <n>.log, .sst, .blob. */
static int is_rocksdb_file(const char *name) {
    if (strcmp(name, "CURRENT") == 0 || strcmp(name, "IDENTITY") == 0 || strncmp(name, "MANIFEST-", 9) == 0 ||
        strncmp(name, "OPTIONS-", 8) == 0)
        return 1;
    size_t digits = strspn(name, "0123456789");
    const char *ext = name + digits;
    return digits > 0 && (strcmp(ext, ".log") == 0 || strcmp(ext, ".sst") == 0 || strcmp(ext, ".blob") == 0);
}

int store_files_in(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d))) found = is_rocksdb_file(de->d_name);
    closedir(d);
    return found;
}

/* ---- syncing the WAL ---- */

int store_sync_wal(char **err) {
    /* An empty write with sync set, not FlushWAL(sync): it queues behind the writes in flight,
     * and after a failed WAL append it gets the error instead of syncing a broken log file
     * (which Debian's RocksDB answers with an abort). It changes no data and takes no
     * sequence number; WAL readers skip its empty record. */
    *err = NULL;
    rocksdb_writebatch_t *empty = rocksdb_writebatch_create();
    rocksdb_write(st.db, st.sync_write_options, empty, err);
    rocksdb_writebatch_destroy(empty);
    return *err ? -1 : 0;
}

/* ---- compactions of ranges full of tombstones ---- */

/* At most one such compaction every this many ms: each flushes the memtable. */
#define COMPACT_INTERVAL_MS 1000

static void join_compactor(void) {
    if (!st.compactor_joinable) return;
    pthread_join(st.compactor, NULL);
    st.compactor_joinable = 0;
}

static void *compact_range(void *arg) {
    (void)arg;
    rocksdb_compact_range_cf(st.db, st.cf[st.compact_cf], st.compact_begin.data, st.compact_begin.len,
                             st.compact_end.data, st.compact_end.len);
    atomic_store(&st.compacting, 0);
    return NULL;
}

void store_compact_later(int cf, const char *begin, size_t blen, const char *end, size_t elen) {
    int idle = 0;
    int64_t now = time_mono_ms();
    if (now - st.last_compaction_ms < COMPACT_INTERVAL_MS) return;
    if (!atomic_compare_exchange_strong(&st.compacting, &idle, 1)) return;
    /* The flag is ours: the previous thread has finished, and nobody else touches these. */
    join_compactor();
    st.last_compaction_ms = now;
    st.compact_cf = cf;
    buf_clear(&st.compact_begin);
    buf_clear(&st.compact_end);
    buf_append(&st.compact_begin, begin, blen);
    buf_append(&st.compact_end, end, elen);
    if (pthread_create(&st.compactor, NULL, compact_range, NULL) != 0) {
        log_msg(LOG_WARNING, "could not start a compaction thread");
        atomic_store(&st.compacting, 0);
        return;
    }
    st.compactor_joinable = 1;
}

static pthread_key_t perf_context_key;
static pthread_once_t perf_context_once = PTHREAD_ONCE_INIT;

static void destroy_perf_context(void *context) { rocksdb_perfcontext_destroy(context); }

static void make_perf_context_key(void) {
    if (pthread_key_create(&perf_context_key, destroy_perf_context) != 0) abort();
}

/* The calling thread's RocksDB perf context (RocksDB keeps one per thread); its handle is freed
 * when the thread ends (the expiry thread's, at shutdown, was reported as a leak). */
static rocksdb_perfcontext_t *thread_perf_context(void) {
    static __thread rocksdb_perfcontext_t *context;
    if (!context) {
        context = rocksdb_perfcontext_create();
        pthread_once(&perf_context_once, make_perf_context_key);
        pthread_setspecific(perf_context_key, context);
    }
    return context;
}

/* Open counts on this thread: counting stays on while any is open, so nested walks each
 * see their own steps (as a difference of the running total, never reset). */
static __thread int open_counts;

uint64_t store_count_skips_begin(void) {
    if (open_counts++ == 0) rocksdb_set_perf_level(rocksdb_enable_count);
    return rocksdb_perfcontext_metric(thread_perf_context(), rocksdb_internal_delete_skipped_count);
}

uint64_t store_count_skips_end(uint64_t begun) {
    uint64_t n = rocksdb_perfcontext_metric(thread_perf_context(), rocksdb_internal_delete_skipped_count) - begun;
    if (--open_counts == 0) rocksdb_set_perf_level(rocksdb_disable);
    return n;
}

/* A walk that stepped over more deleted entries than this asks for its range to be compacted. */
#define SKIPS_BEFORE_COMPACTION 1024

void store_compact_prefix_if_skipped(uint64_t begun, int cf, const char *prefix, size_t plen) {
    if (store_count_skips_end(begun) <= SKIPS_BEFORE_COMPACTION) return;
    buf end;
    buf_init(&end);
    enc_prefix_end(&end, prefix, plen);
    store_compact_later(cf, prefix, plen, end.data, end.len);
    buf_free(&end);
}

void store_close(void) {
    if (st.db) {
        /* Compaction filters read through the column family handles: stop them first. */
        rocksdb_disable_manual_compaction(st.db);
        join_compactor();
        rocksdb_cancel_all_background_work(st.db, 1);
        char *err = NULL;
        store_sync_wal(&err);
        if (err) {
            log_msg(LOG_WARNING, "flushing the WAL at close failed: %s", err);
            free(err);
        }
        for (int i = 0; i < CF_COUNT; i++) rocksdb_column_family_handle_destroy(st.cf[i]);
        rocksdb_close(st.db);
        st.db = NULL;
    }
    for (int i = 0; i < CF_COUNT; i++) {
        if (st.cf_options[i]) rocksdb_options_destroy(st.cf_options[i]);
        if (st.filters[i]) rocksdb_compactionfilter_destroy(st.filters[i]);
        st.cf_options[i] = NULL;
        st.filters[i] = NULL;
    }
    buf_free(&st.compact_begin);
    buf_free(&st.compact_end);
    free(st.dir);
    st.dir = NULL;
    if (st.db_options) rocksdb_options_destroy(st.db_options);
    if (st.table_options) rocksdb_block_based_options_destroy(st.table_options);
    if (st.cache) rocksdb_cache_destroy(st.cache);
    if (st.read_options) rocksdb_readoptions_destroy(st.read_options);
    if (st.write_options) rocksdb_writeoptions_destroy(st.write_options);
    if (st.sync_write_options) rocksdb_writeoptions_destroy(st.sync_write_options);
    /* The table options own the bloom filter policy. */
    memset(&st, 0, sizeof(st));
}

uint64_t store_memory_usage(void) {
    uint64_t total = st.cache ? rocksdb_cache_get_usage(st.cache) : 0;
    for (int i = 0; i < CF_COUNT; i++) {
        uint64_t v = 0;
        if (rocksdb_property_int_cf(st.db, st.cf[i], "rocksdb.cur-size-all-mem-tables", &v) == 0) total += v;
    }
    return total;
}

uint64_t store_disk_size(void) {
    /* Big values live in blob files, beside the tables that refer to them. */
    static const char *const sizes[] = {"rocksdb.live-sst-files-size", "rocksdb.live-blob-file-size"};
    uint64_t total = 0;
    for (int i = 0; i < CF_COUNT; i++) {
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            uint64_t v = 0;
            if (rocksdb_property_int_cf(st.db, st.cf[i], sizes[k], &v) == 0) total += v;
        }
    }
    return total;
}

/* ---- test-only fault injection ---- */

/* Reads on this thread before the one that fails: 0 = none is due to fail. A thread-local
 * countdown, so reads pay one predictable branch and other workers' reads go on as usual. */
static __thread long long reads_before_fault;

void store_fail_read_after(long long n) { reads_before_fault = n; }

int store_read_faults(void) {
    if (reads_before_fault == 0 || --reads_before_fault > 0) return 0;
    log_msg(LOG_WARNING, "read failed: injected fault (DEBUG READ-ERROR-AFTER)");
    return 1;
}

struct store_snapshot {
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ro;
};

static atomic_int snapshots_held;

/* The count of held snapshots is raised before a snapshot is taken and asked by the
 * compaction filters after they have read what they decide on. A key the filter finds dead
 * was dead before any snapshot taken later, and one taken earlier is counted by then: no
 * snapshot loses what it sees. */
store_snapshot *store_snapshot_take(uint64_t *seq) {
    store_snapshot *s = calloc(1, sizeof(*s));
    if (!s) abort();
    atomic_fetch_add(&snapshots_held, 1);
    /* The C API does not tell a snapshot's sequence: it is the latest one when no commit was
     * published while it was taken. Commits are far apart next to these three calls. */
    uint64_t before, after;
    do {
        if (s->snap) rocksdb_release_snapshot(st.db, s->snap);
        before = store_latest_sequence();
        s->snap = rocksdb_create_snapshot(st.db);
        after = store_latest_sequence();
    } while (before != after);
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(s->ro, s->snap);
    *seq = after;
    return s;
}

void store_snapshot_release(store_snapshot *s) {
    if (!s) return;
    rocksdb_readoptions_destroy(s->ro);
    rocksdb_release_snapshot(st.db, s->snap);
    atomic_fetch_sub(&snapshots_held, 1);
    free(s);
}

int store_snapshots_held(void) { return atomic_load(&snapshots_held); }

int store_get(int cf, const char *key, size_t klen, buf *out) { return store_get_at(NULL, cf, key, klen, out); }

int store_get_at(const store_snapshot *s, int cf, const char *key, size_t klen, buf *out) {
    if (__builtin_expect(reads_before_fault != 0, 0) && store_read_faults()) return -1;
    char *err = NULL;
    rocksdb_pinnableslice_t *v = rocksdb_get_pinned_cf(st.db, s ? s->ro : st.read_options, st.cf[cf], key, klen, &err);
    if (err) {
        log_msg(LOG_WARNING, "read failed: %s", err);
        free(err);
        return -1;
    }
    if (!v) return 0;
    size_t len;
    const char *p = rocksdb_pinnableslice_value(v, &len);
    buf_clear(out);
    buf_append(out, p, len);
    rocksdb_pinnableslice_destroy(v);
    return 1;
}

/* Keys per MultiGet call: its arrays live on the stack. */
#define MULTI_GET_CHUNK 32

/* One MultiGet of at most MULTI_GET_CHUNK keys (from `first` on); 0, or -1 on a read error. */
static int multi_get_chunk(int cf, size_t first, size_t n, const char *const *keys, const size_t *lens,
                           void (*found)(void *arg, size_t i, const char *val, size_t vlen), void *arg) {
    rocksdb_pinnableslice_t *values[MULTI_GET_CHUNK];
    char *errs[MULTI_GET_CHUNK];
    rocksdb_batched_multi_get_cf(st.db, st.read_options, st.cf[cf], n, keys + first, lens + first, values, errs,
                                 1 /* sorted */);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (errs[i]) {
            if (rc == 0) log_msg(LOG_WARNING, "read failed: %s", errs[i]);
            free(errs[i]);
            rc = -1;
        }
        if (!values[i]) continue;
        size_t len;
        const char *p = rocksdb_pinnableslice_value(values[i], &len);
        if (rc == 0) found(arg, first + i, p, len);
        rocksdb_pinnableslice_destroy(values[i]);
    }
    return rc;
}

int store_multi_get(int cf, size_t n, const char *const *keys, const size_t *lens,
                    void (*found)(void *arg, size_t i, const char *val, size_t vlen), void *arg) {
    int rc = 0;
    for (size_t first = 0; first < n && rc == 0; first += MULTI_GET_CHUNK) {
        size_t chunk = n - first < MULTI_GET_CHUNK ? n - first : MULTI_GET_CHUNK;
        rc = multi_get_chunk(cf, first, chunk, keys, lens, found, arg);
    }
    return rc;
}

struct store_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
    buf upper;
    int faulted; /* an injected read error stopped it (as a real one would, for good) */
};

/* A step of the iterator that may meet an injected fault (store_fail_read_after). */
static int step_faults(store_iter *si) {
    if (__builtin_expect(reads_before_fault == 0, 1)) return si->faulted;
    if (!si->faulted) si->faulted = store_read_faults();
    return si->faulted;
}

store_iter *store_iter_new(int cf, const char *begin, size_t blen, const char *end, size_t elen) {
    return store_iter_new_at(NULL, cf, begin, blen, end, elen);
}

store_iter *store_iter_new_at(const store_snapshot *s, int cf, const char *begin, size_t blen, const char *end,
                              size_t elen) {
    store_iter *si = calloc(1, sizeof(*si));
    if (!si) abort();
    buf_init(&si->upper);
    si->ro = rocksdb_readoptions_create();
    if (s) rocksdb_readoptions_set_snapshot(si->ro, s->snap);
    if (end) {
        buf_append(&si->upper, end, elen);
        rocksdb_readoptions_set_iterate_upper_bound(si->ro, si->upper.data ? si->upper.data : "", si->upper.len);
    }
    si->it = rocksdb_create_iterator_cf(st.db, si->ro, st.cf[cf]);
    store_iter_seek(si, begin, blen);
    return si;
}

void store_iter_overlay(store_iter *si, rocksdb_writebatch_wi_t *batch, int cf) {
    /* The batch iterator takes over the base iterator; bounds stay checked by the caller. */
    si->it = rocksdb_writebatch_wi_create_iterator_with_base_cf(batch, si->it, st.cf[cf]);
}

int store_iter_valid(store_iter *si) { return !si->faulted && rocksdb_iter_valid(si->it); }
int store_iter_failed(store_iter *si) {
    if (si->faulted) return 1;
    char *err = NULL;
    rocksdb_iter_get_error(si->it, &err);
    if (!err) return 0;
    log_msg(LOG_WARNING, "read failed: %s", err);
    free(err);
    return 1;
}
void store_iter_next(store_iter *si) {
    if (!step_faults(si)) rocksdb_iter_next(si->it);
}
void store_iter_seek(store_iter *si, const char *key, size_t klen) {
    if (!step_faults(si)) rocksdb_iter_seek(si->it, key, klen);
}
/* Steps store_iter_seek_forward takes before it seeks: a seek costs about this many steps. */
#define FORWARD_STEPS_BEFORE_SEEK 8

void store_iter_seek_forward(store_iter *si, const char *key, size_t klen) {
    for (int i = 0; i < FORWARD_STEPS_BEFORE_SEEK; i++) {
        if (!store_iter_valid(si)) return; /* at the end, or failed: so is the seek */
        size_t kl;
        const char *k = store_iter_key(si, &kl);
        if (bytes_compare(k, kl, key, klen) >= 0) return;
        store_iter_next(si);
    }
    store_iter_seek(si, key, klen);
}

void store_iter_seek_for_prev(store_iter *si, const char *key, size_t klen) {
    if (!step_faults(si)) rocksdb_iter_seek_for_prev(si->it, key, klen);
}
void store_iter_prev(store_iter *si) {
    if (!step_faults(si)) rocksdb_iter_prev(si->it);
}
const char *store_iter_key(store_iter *si, size_t *len) { return rocksdb_iter_key(si->it, len); }
const char *store_iter_value(store_iter *si, size_t *len) { return rocksdb_iter_value(si->it, len); }

void store_iter_free(store_iter *si) {
    rocksdb_iter_destroy(si->it);
    rocksdb_readoptions_destroy(si->ro);
    buf_free(&si->upper);
    free(si);
}
