#include "storage/txn.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "storage/bounds.h"
#include "storage/encoding.h"
#include "storage/expire_index.h"
#include "storage/keylock.h"
#include "util/grow.h"
#include "storage/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define TAG_LOGDATA 0x03

enum { TXN_PUT, TXN_DELETE, TXN_RANGE };

/* Write-batch record tags (RocksDB's ValueType), default column family and with a CF id. */
#define TAG_DELETE 0x00
#define TAG_PUT 0x01
#define TAG_DELETE_CF 0x04
#define TAG_PUT_CF 0x05
#define TAG_DELETE_RANGE_CF 0x0E
#define TAG_DELETE_RANGE 0x0F

void txn_init(txn *t) {
    memset(t, 0, sizeof(*t));
    buf_init(&t->records);
    record_writer_init(&t->record);
    buf_init(&t->touched);
    buf_init(&t->flushed);
    buf_init(&t->woken);
    buf_init(&t->signalled);
    buf_init(&t->events);
    buf_init(&t->sealed);
    buf_init(&t->index_entry);
    staged_bounds_init(&t->bounds);
    t->now_ms = time_now_ms();
}

void txn_init_at(txn *t, const store_snapshot *s, int64_t now_ms) {
    txn_init(t);
    t->snapshot = s;
    t->now_ms = now_ms;
    t->read_only = 1; /* it reads the past: nothing it finds is news for the key counts */
}

/* Buffers a txn keeps for the next command, up to this size: a big value's go back at once. */
#define TXN_KEEP_BYTES (1024 * 1024)

/* Empties a buffer, freeing it if a big value made it big. */
static void clear_or_free(buf *b) {
    if (b->cap > TXN_KEEP_BYTES)
        buf_free(b);
    else
        buf_clear(b);
}

/* Frees the writes' buffer, and the read index built from it, when a big value made it big. */
static void free_big_writes(txn *t) {
    if (t->records.cap <= TXN_KEEP_BYTES) return;
    buf_free(&t->records);
    if (t->index) {
        rocksdb_writebatch_wi_destroy(t->index);
        t->index = NULL;
    }
}

void txn_on_finish(txn *t, txn_finish_fn fn, void *arg) {
    t->finishes = grow_array(t->finishes, &t->finishes_cap, t->nfinishes + 1, sizeof(*t->finishes), 4);
    t->finishes[t->nfinishes++] = (txn_finish){fn, arg};
}

/* Gives up the finish actions from index `from` on, newest first. */
static void abandon_finishes(txn *t, size_t from) {
    while (t->nfinishes > from) {
        txn_finish *f = &t->finishes[--t->nfinishes];
        f->fn(f->arg, 0);
    }
}

/* Runs every finish action of a commit that succeeded, oldest first. */
static void complete_finishes(txn *t) {
    for (size_t i = 0; i < t->nfinishes; i++) t->finishes[i].fn(t->finishes[i].arg, 1);
    t->nfinishes = 0;
}

void txn_reset(txn *t) {
    abandon_finishes(t, 0);
    free_big_writes(t);
    if (t->index) rocksdb_writebatch_wi_clear(t->index);
    buf_clear(&t->records);
    t->nops = t->indexed = t->ranges = t->indexed_ranges = 0;
    record_writer_reset(&t->record);
    clear_or_free(&t->sealed);
    t->sealed_len = t->sealed_ops = 0;
    t->described = 0;
    t->nstarts = 0;
    t->earliest_indexed = 0;
    buf_clear(&t->touched);
    buf_clear(&t->flushed);
    buf_clear(&t->woken);
    buf_clear(&t->signalled);
    clear_or_free(&t->events);
    staged_bounds_clear(&t->bounds);
    keycount_delta_clear(&t->counts);
}

void txn_free(txn *t) {
    abandon_finishes(t, 0);
    free(t->finishes);
    t->finishes = NULL;
    if (t->index) rocksdb_writebatch_wi_destroy(t->index);
    t->index = NULL;
    buf_free(&t->records);
    free(t->ops);
    t->ops = NULL;
    record_writer_free(&t->record);
    buf_free(&t->touched);
    buf_free(&t->flushed);
    buf_free(&t->woken);
    buf_free(&t->signalled);
    buf_free(&t->events);
    buf_free(&t->sealed);
    free(t->starts);
    t->starts = NULL;
    buf_free(&t->index_entry);
    staged_bounds_free(&t->bounds);
    keycount_delta_free(&t->counts);
}

void txn_set_read_only(txn *t) { t->read_only = 1; }

static rocksdb_writebatch_wi_t *index_of(txn *t) {
    /* overwrite_key=1: reads see the latest write of a key. */
    if (!t->index) t->index = rocksdb_writebatch_wi_create(0, 1);
    return t->index;
}

/* Appends one record: tag (with the CF id unless default), then its slices. A value may come
 * in two parts (head, then val), joined here without a copy of their own. */
static void add_op(txn *t, uint8_t kind, int cf, const char *key, size_t klen, const char *head, size_t hlen,
                   const char *val, size_t vlen) {
    static const uint8_t tags[3][2] = {{TAG_PUT, TAG_PUT_CF}, {TAG_DELETE, TAG_DELETE_CF},
                                       {TAG_DELETE_RANGE, TAG_DELETE_RANGE_CF}};
    buf_put_u8(&t->records, tags[kind][cf != 0]);
    if (cf != 0) buf_put_varint(&t->records, (uint64_t)cf);
    buf_put_varint(&t->records, klen);
    size_t key_off = t->records.len;
    buf_append(&t->records, key, klen);
    size_t val_off = 0;
    if (kind != TXN_DELETE) {
        buf_put_varint(&t->records, hlen + vlen);
        val_off = t->records.len;
        buf_append(&t->records, head, hlen);
        buf_append(&t->records, val, vlen);
    }
    if (t->nops == t->ops_cap) {
        t->ops_cap = t->ops_cap ? t->ops_cap * 2 : 8;
        t->ops = realloc(t->ops, t->ops_cap * sizeof(*t->ops));
        if (!t->ops) abort();
    }
    t->ops[t->nops++] = (txn_op){kind, (uint32_t)cf, key_off, klen, val_off, hlen + vlen};
    if (kind == TXN_RANGE) t->ranges++;
}

static const char *op_key(const txn *t, const txn_op *op) { return t->records.data + op->key_off; }
static const char *op_val(const txn *t, const txn_op *op) { return t->records.data + op->val_off; }

static int key_in_range(const txn *t, const txn_op *range, int cf, const char *key, size_t klen) {
    if (range->kind != TXN_RANGE || range->cf != (uint32_t)cf) return 0;
    return bytes_compare(key, klen, op_key(t, range), range->key_len) >= 0 &&
           bytes_compare(key, klen, op_val(t, range), range->val_len) < 0;
}

/* Whether a range deletion of this txn, after op index `after`, covers the key. */
static int deleted_by_range(const txn *t, size_t after, int cf, const char *key, size_t klen) {
    if (t->ranges == 0) return 0;
    for (size_t i = after; i < t->nops; i++)
        if (key_in_range(t, &t->ops[i], cf, key, klen)) return 1;
    return 0;
}

/* Whether op i is a write the read index should hold: not a range deletion, and not
 * covered by a range deletion after it. */
static int index_holds(const txn *t, size_t i) {
    const txn_op *op = &t->ops[i];
    return op->kind != TXN_RANGE && !deleted_by_range(t, i + 1, (int)op->cf, op_key(t, op), op->key_len);
}

/* Brings the read index up to date with the writes. It is built only when a read comes
 * after a write, which most commands never do. The index cannot hold a range deletion:
 * when one is new, it is rebuilt from the writes no later range deletion covers. */
static void index_catch_up(txn *t) {
    if (t->indexed == t->nops) return;
    rocksdb_writebatch_wi_t *wi = index_of(t);
    if (t->ranges > t->indexed_ranges) {
        rocksdb_writebatch_wi_clear(wi);
        t->indexed = 0;
        t->indexed_ranges = t->ranges;
    }
    for (size_t i = t->indexed; i < t->nops; i++) {
        if (!index_holds(t, i)) continue;
        const txn_op *op = &t->ops[i];
        if (op->kind == TXN_PUT)
            rocksdb_writebatch_wi_put_cf(wi, store_cf((int)op->cf), op_key(t, op), op->key_len, op_val(t, op),
                                         op->val_len);
        else
            rocksdb_writebatch_wi_delete_cf(wi, store_cf((int)op->cf), op_key(t, op), op->key_len);
    }
    t->indexed = t->nops;
}

/* Tells the key counts what a read of a key's metadata found (rc as txn_get returns it). Not
 * a read made while lookups keep expired keys: that key is not locked by the txn (SORT's
 * patterns), so another client may rewrite it before the txn writes it. */
static int note_meta_read(txn *t, int cf, const char *key, size_t klen, int rc, const buf *out) {
    if (cf == CF_METADATA && rc >= 0 && !t->read_only && !t->keep_expired)
        keycount_note_read(&t->counts, t->nops, key, klen, rc, out->data, out->len);
    return rc;
}

/* How many of its newest writes a txn looks through for a key before it reads through the read
 * index: a pipeline of commands on one key (XADD, HSET, INCR …) reads back the metadata that the
 * command before wrote a write or two earlier, and finding it there spares indexing every write. */
#define RECENT_WRITES_SCANNED 4

/* The key's newest write if it is among the txn's last few: 1 a put (at most max bytes of its
 * value in out), 0 a deletion, or -1 if none of them is of the key. Not with a range deletion
 * in the txn, which may have removed the key since (the read index knows). */
static int recent_write(const txn *t, int cf, const char *key, size_t klen, size_t max, buf *out) {
    if (t->ranges > 0) return -1;
    size_t oldest = t->nops > RECENT_WRITES_SCANNED ? t->nops - RECENT_WRITES_SCANNED : 0;
    for (size_t i = t->nops; i-- > oldest;) {
        const txn_op *op = &t->ops[i];
        if (op->cf != (uint32_t)cf || op->key_len != klen || memcmp(op_key(t, op), key, klen) != 0) continue;
        if (op->kind == TXN_DELETE) return 0;
        buf_clear(out);
        buf_append(out, op_val(t, op), op->val_len < max ? op->val_len : max);
        return 1;
    }
    return -1;
}

static int get(txn *t, int cf, const char *key, size_t klen, buf *out) {
    if (t->nops == 0) return store_get_at(t->snapshot, cf, key, klen, out);
    if (store_read_faults()) return -1;
    int recent = recent_write(t, cf, key, klen, SIZE_MAX, out);
    if (recent >= 0) return recent;
    index_catch_up(t);
    char *err = NULL;
    size_t len = 0;
    char *v;
    if (deleted_by_range(t, 0, cf, key, klen)) /* what the store has there is gone */
        v = rocksdb_writebatch_wi_get_from_batch_cf(t->index, store_db_options(), store_cf(cf), key, klen, &len, &err);
    else
        v = rocksdb_writebatch_wi_get_from_batch_and_db_cf(t->index, store_db(), store_read_options(), store_cf(cf),
                                                           key, klen, &len, &err);
    if (err) {
        log_msg(LOG_WARNING, "read failed: %s", err);
        free(err);
        return -1;
    }
    if (!v) return 0;
    buf_clear(out);
    buf_append(out, v, len);
    free(v);
    return 1;
}

int txn_get(txn *t, int cf, const char *key, size_t klen, buf *out) {
    return note_meta_read(t, cf, key, klen, get(t, cf, key, klen, out), out);
}

static int get_prefix(txn *t, int cf, const char *key, size_t klen, size_t max, buf *out) {
    int recent = t->nops > 0 ? recent_write(t, cf, key, klen, max, out) : -1;
    if (recent >= 0) return store_read_faults() ? -1 : recent; /* it counts as the read it spares */
    /* An overlay iterator would still show what a range deletion of the txn removed. */
    if (deleted_by_range(t, 0, cf, key, klen)) {
        int rc = get(t, cf, key, klen, out);
        if (rc == 1 && out->len > max) out->len = max;
        return rc;
    }
    /* An iterator's value is read in place, where a get copies it whole (from the memtable
     * even when pinned). */
    buf end;
    buf_init(&end);
    buf_append(&end, key, klen);
    buf_append_byte(&end, 0); /* the first key after this one */
    store_iter *it = txn_iter_new(t, cf, key, klen, end.data, end.len);
    int rc = 0;
    size_t found_len, vlen;
    if (store_iter_valid(it)) {
        const char *found = store_iter_key(it, &found_len);
        if (found_len == klen && memcmp(found, key, klen) == 0) {
            const char *v = store_iter_value(it, &vlen);
            buf_clear(out);
            buf_append(out, v, vlen < max ? vlen : max);
            rc = 1;
        }
    } else if (store_iter_failed(it)) {
        rc = -1;
    }
    store_iter_free(it);
    buf_free(&end);
    return rc;
}

int txn_get_prefix(txn *t, int cf, const char *key, size_t klen, size_t max, buf *out) {
    return note_meta_read(t, cf, key, klen, get_prefix(t, cf, key, klen, max, out), out);
}

void txn_savepoint(const txn *t, txn_mark *m) {
    m->records_len = t->records.len;
    m->nops = t->nops;
    m->ranges = t->ranges;
    m->touched_len = t->touched.len;
    m->flushed_len = t->flushed.len;
    m->woken_len = t->woken.len;
    m->signalled_len = t->signalled.len;
    m->events_len = t->events.len;
    m->staged = t->bounds.n;
    m->seals = t->seals;
    m->unrecorded_seals = t->unrecorded_seals;
    m->described = t->described;
    m->count_reads = t->counts.reads.len;
    m->finishes = t->nfinishes;
    m->starts = t->nstarts;
    record_writer_mark(&t->record, &m->record);
}

void txn_rollback(txn *t, const txn_mark *m) {
    abandon_finishes(t, m->finishes);
    t->records.len = m->records_len;
    t->nops = m->nops;
    t->ranges = m->ranges;
    if (t->indexed > t->nops) { /* the read index holds writes that are gone: rebuild it when read */
        rocksdb_writebatch_wi_clear(t->index);
        t->indexed = 0;
        t->indexed_ranges = t->ranges;
    }
    t->touched.len = m->touched_len;
    t->flushed.len = m->flushed_len;
    t->woken.len = m->woken_len;
    t->signalled.len = m->signalled_len;
    t->events.len = m->events_len;
    t->described = m->described;
    /* A bound a failed command's walk found may hold only while its writes do. */
    staged_bounds_truncate(&t->bounds, m->staged);
    keycount_reads_rollback(&t->counts, m->count_reads);
    record_writer_rollback(&t->record, &m->record);
    t->nstarts = m->starts;
}

int txn_wrote_unrecorded(const txn *t, const txn_mark *since) {
    if (t->unrecorded_seals > since->unrecorded_seals) return 1;
    /* The commit being gathered: since the mark, or since it began if it began after the mark. */
    int sealed_since = t->seals > since->seals;
    size_t ops_from = sealed_since ? t->sealed_ops : since->nops;
    size_t cmds_from = sealed_since ? 0 : since->record.ncmds;
    return t->nops > ops_from && t->record.ncmds == cmds_from && !t->described;
}

void txn_record_described(txn *t) { t->described = 1; }

/* The expiry of a metadata record given in two parts (as add_op takes a value). Read in place
 * when one part holds the whole header, as the header part of a string's record (string_put)
 * and a compound's record do: only a split header is put together. */
static int64_t record_expiry(const char *head, size_t hlen, const char *val, size_t vlen) {
    if (hlen >= META_STRING_HEADER) return enc_meta_expire(head, hlen);
    if (hlen == 0) return enc_meta_expire(val, vlen);
    char header[META_STRING_HEADER]; /* the flags and the expiry */
    size_t n = 0;
    for (size_t i = 0; i < hlen && n < sizeof(header); i++) header[n++] = head[i];
    for (size_t i = 0; i < vlen && n < sizeof(header); i++) header[n++] = val[i];
    return enc_meta_expire(header, n);
}

/* Puts a metadata record, and right after it, in the same commit, its expiry index entry if it
 * has an expiry. A record without one, a plain SET's, costs a look at its header, nothing more. */
static void put_metadata(txn *t, const char *key, size_t klen, const char *head, size_t hlen, const char *val,
                         size_t vlen) {
    int64_t expire_ms = record_expiry(head, hlen, val, vlen);
    add_op(t, TXN_PUT, CF_METADATA, key, klen, head, hlen, val, vlen);
    if (expire_ms == 0) return;
    buf_clear(&t->index_entry);
    enc_expire_key(&t->index_entry, expire_ms, key, klen);
    add_op(t, TXN_PUT, CF_EXPIRE, t->index_entry.data, t->index_entry.len, NULL, 0, "", 0);
    if (t->earliest_indexed == 0 || expire_ms < t->earliest_indexed) t->earliest_indexed = expire_ms;
}

void txn_put(txn *t, int cf, const char *key, size_t klen, const char *val, size_t vlen) {
    txn_put_parts(t, cf, key, klen, NULL, 0, val, vlen);
}

void txn_put_parts(txn *t, int cf, const char *key, size_t klen, const char *head, size_t hlen, const char *val,
                   size_t vlen) {
    if (cf == CF_METADATA)
        put_metadata(t, key, klen, head, hlen, val, vlen);
    else
        add_op(t, TXN_PUT, cf, key, klen, head, hlen, val, vlen);
}

void txn_delete(txn *t, int cf, const char *key, size_t klen) {
    add_op(t, TXN_DELETE, cf, key, klen, NULL, 0, NULL, 0);
}

/* Whether a range deletion of the txn covers all of [begin, end). */
static int range_covers(const txn *t, int cf, const char *begin, size_t blen, const char *end, size_t elen) {
    for (size_t i = 0; i < t->nops && t->ranges > 0; i++) {
        const txn_op *op = &t->ops[i];
        if (op->kind == TXN_RANGE && op->cf == (uint32_t)cf &&
            bytes_compare(begin, blen, op_key(t, op), op->key_len) >= 0 &&
            bytes_compare(end, elen, op_val(t, op), op->val_len) <= 0)
            return 1;
    }
    return 0;
}

store_iter *txn_iter_new(txn *t, int cf, const char *begin, size_t blen, const char *end, size_t elen) {
    /* What the store holds under a range the txn deleted is gone: the walk sees only the txn's
     * writes there. Range deletions empty whole databases and walks stay inside one, so a range
     * covers a walk's span or misses it. */
    int deleted = end && range_covers(t, cf, begin, blen, end, elen);
    /* A deleted span is read from the store as an empty one, [begin, begin). */
    store_iter *it = store_iter_new_at(t->snapshot, cf, begin, blen, deleted ? begin : end, deleted ? blen : elen);
    if (t->nops > 0) {
        index_catch_up(t);
        store_iter_overlay(it, t->index, cf);
        store_iter_seek(it, begin, blen);
    }
    return it;
}

static int bytes_less(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c < 0 || (c == 0 && alen < blen);
}

/* Copies the iterator's key into out if it starts with prefix: 1, 0 if it does not (or the
 * iterator is at the end), -1 if the iterator failed. */
static int key_under(store_iter *it, const char *prefix, size_t plen, buf *out) {
    if (!store_iter_valid(it)) return store_iter_failed(it) ? -1 : 0;
    size_t kl;
    const char *k = store_iter_key(it, &kl);
    if (kl < plen || memcmp(k, prefix, plen) != 0) return 0;
    buf_clear(out);
    buf_append(out, k, kl);
    return 1;
}

int txn_first_under(txn *t, int cf, const char *prefix, size_t plen, const char *from, size_t flen, buf *out) {
    buf end;
    buf_init(&end);
    enc_prefix_end(&end, prefix, plen);
    uint64_t skips = store_count_skips_begin();
    store_iter *it = txn_iter_new(t, cf, from, flen, end.data, end.len);
    int rc = key_under(it, prefix, plen, out); /* the txn's own writes are not bounded by the iterator */
    store_iter_free(it);
    store_compact_prefix_if_skipped(skips, cf, prefix, plen);
    buf_free(&end);
    return rc;
}

int txn_last_under(txn *t, int cf, const char *prefix, size_t plen, buf *out) {
    buf end;
    buf_init(&end);
    enc_prefix_end(&end, prefix, plen);
    uint64_t skips = store_count_skips_begin();
    store_iter *it = txn_iter_new(t, cf, prefix, plen, end.data, end.len);
    store_iter_seek_for_prev(it, end.data, end.len);
    size_t kl;
    /* At the end itself, or past it among the txn's own writes: step back below it. */
    while (store_iter_valid(it) && !bytes_less(store_iter_key(it, &kl), kl, end.data, end.len)) store_iter_prev(it);
    int rc = key_under(it, prefix, plen, out);
    store_iter_free(it);
    store_compact_prefix_if_skipped(skips, cf, prefix, plen);
    buf_free(&end);
    return rc;
}

void txn_delete_range(txn *t, int cf, const char *begin, size_t blen, const char *end, size_t elen) {
    add_op(t, TXN_RANGE, cf, begin, blen, NULL, 0, end, elen);
}

/* Big arguments compared with at most this many of the commit's writes each, newest first:
 * a command with many big values costs a bounded number of comparisons per byte. */
#define REF_CANDIDATES 8

/* Where a big argument's bytes already are: the end of a Put of the commit being gathered
 * (a string's value follows its header, a hash field's value is all of its Put). */
static record_src find_written(const txn *t, const char *arg, size_t len) {
    int tried = 0;
    for (size_t i = t->nops; i-- > t->sealed_ops && tried < REF_CANDIDATES;) {
        const txn_op *op = &t->ops[i];
        if (op->kind != TXN_PUT || op->val_len < len) continue;
        tried++;
        size_t offset = op->val_len - len;
        if (memcmp(op_val(t, op) + offset, arg, len) == 0) return (record_src){(int64_t)(i - t->sealed_ops), offset};
    }
    return (record_src){-1, 0};
}

/* Records a command with big arguments, each referring to the write that stores it if any. */
static void record_with_refs(txn *t, int db, uint8_t type, int argc, const char *const *argv, const size_t *lens) {
    record_src *srcs = malloc((size_t)argc * sizeof(*srcs));
    if (!srcs) abort();
    for (int i = 0; i < argc; i++)
        srcs[i] = lens[i] >= RECORD_REF_MIN_BYTES ? find_written(t, argv[i], lens[i]) : (record_src){-1, 0};
    record_writer_add_refs(&t->record, db, type, argc, argv, lens, srcs);
    free(srcs);
}

/* How many change records on this thread are still to be added before one is dropped; 0: none. */
static __thread long long records_before_drop;

void txn_drop_record_after(long long n) { records_before_drop = n; }

static int record_dropped(void) {
    if (records_before_drop == 0 || --records_before_drop > 0) return 0;
    log_msg(LOG_WARNING, "change record dropped: injected fault (DEBUG DROP-RECORD-AFTER)");
    return 1;
}

static void add_start(txn *t, size_t op, int whole) {
    t->starts = grow_array(t->starts, &t->starts_cap, t->nstarts + 1, sizeof(*t->starts), 8);
    txn_command_start *s = &t->starts[t->nstarts++];
    s->op = op;
    s->commit_op = t->sealed_ops;
    record_writer_mark(&t->record, &s->record);
    s->whole = whole;
}

void txn_command_begins(txn *t) {
    /* One that begins a commit begins where the commit does: nothing to note (a lone command). */
    if (t->nops != t->sealed_ops || t->record.ncmds != 0) add_start(t, t->nops, 0);
}

void txn_record(txn *t, int db, uint8_t type, int argc, const char *const *argv, const size_t *lens) {
    if (__builtin_expect(records_before_drop != 0, 0) && record_dropped()) return;
    /* A bitmap is a string to Redis, and so to consumers and their TYPE filters. */
    if (type == TYPE_BITMAP) type = TYPE_STRING;
    for (int i = 0; i < argc; i++) {
        if (lens[i] >= RECORD_REF_MIN_BYTES) {
            record_with_refs(t, db, type, argc, argv, lens);
            return;
        }
    }
    record_writer_add(&t->record, db, type, argc, argv, lens);
}

void txn_touch(txn *t, int db, const char *key, size_t klen) {
    uint64_t h = keylock_hash(db, key, klen);
    buf_append(&t->touched, &h, sizeof(h));
}

void txn_touch_db(txn *t, int db) { buf_append(&t->flushed, &db, sizeof(db)); }

void txn_wake(txn *t, int db, const char *key, size_t klen) {
    uint64_t h = keylock_hash(db, key, klen);
    buf_append(&t->woken, &h, sizeof(h));
}

void txn_signal_stream(txn *t, int db, const char *key, size_t klen) {
    uint64_t h = keylock_hash(db, key, klen);
    buf_append(&t->signalled, &h, sizeof(h));
}

void txn_add_event(txn *t, const void *event, size_t len) { buf_append(&t->events, event, len); }

void txn_insert_event(txn *t, size_t at, const void *event, size_t len) {
    buf_reserve(&t->events, len);
    memmove(t->events.data + at + len, t->events.data + at, t->events.len - at);
    memcpy(t->events.data + at, event, len);
    t->events.len += len;
}

int txn_has_writes(const txn *t) { return t->nops > 0; }

/* The sealed commits are built as the batch itself, behind room for its header, so that a
 * big value is not copied once more to make the batch. */
static void reserve_header(txn *t) {
    if (t->sealed.len > 0) return;
    uint8_t header[BATCH_HEADER_SIZE] = {0};
    buf_append(&t->sealed, header, BATCH_HEADER_SIZE);
}

/* Notes what the commit being sealed means for the DELs of replaced keys (txn_command_begins):
 * one without writes is dropped, its command starts with it; one recorded whole gets none, which
 * an entry at its start says. */
static void seal_command_starts(txn *t, int wrote) {
    if (!wrote || t->described)
        while (t->nstarts > 0 && t->starts[t->nstarts - 1].commit_op == t->sealed_ops) t->nstarts--;
    if (wrote && t->described) add_start(t, t->sealed_ops, 1);
}

int txn_seal(txn *t) {
    int wrote = t->records.len > t->sealed_len;
    t->seals++;
    t->unrecorded_seals += wrote && t->record.ncmds == 0 && !t->described;
    seal_command_starts(t, wrote);
    t->described = 0;
    if (wrote) {
        reserve_header(t);
        buf_put_u8(&t->sealed, TAG_LOGDATA);
        buf_put_varint(&t->sealed, record_writer_encoded_len(&t->record));
        record_writer_finish(&t->record, time_now_ms(), &t->sealed);
    }
    record_writer_reset(&t->record); /* a big value's record goes before its writes are copied */
    if (wrote) {
        buf_append(&t->sealed, t->records.data + t->sealed_len, t->records.len - t->sealed_len);
        t->sealed_len = t->records.len;
    }
    t->sealed_ops = t->nops;
    return wrote;
}

/* Seals the last commit and fills in the batch header: t->sealed is then the whole batch. */
static void finish_batch(txn *t) {
    txn_seal(t);
    reserve_header(t);
    /* Header: sequence (assigned by RocksDB at write time) and count, little-endian. */
    batch_write_header((uint8_t *)t->sealed.data, 0, (uint32_t)t->nops);
}

void txn_build_batch(txn *t, buf *out) {
    finish_batch(t);
    buf_append(out, t->sealed.data, t->sealed.len);
}

txn_wake_mark txn_wakes_mark(const txn *t) { return (txn_wake_mark){t->touched.len, t->woken.len, t->flushed.len}; }

int txn_wakes_since(const txn *t, txn_wake_mark since, int (*waited)(const uint64_t *hashes, size_t n)) {
    if (t->flushed.len > since.flushed) return 1;
    size_t touched = (t->touched.len - since.touched) / sizeof(uint64_t);
    size_t woken = (t->woken.len - since.woken) / sizeof(uint64_t);
    return (touched > 0 && waited((const uint64_t *)(t->touched.data + since.touched), touched)) ||
           (woken > 0 && waited((const uint64_t *)(t->woken.data + since.woken), woken));
}

static void (*touch_hook)(const uint64_t *hashes, size_t n);

void txn_set_touch_hook(void (*hook)(const uint64_t *hashes, size_t n)) { touch_hook = hook; }

static void (*signal_hook)(const uint64_t *hashes, size_t n);

void txn_set_signal_hook(void (*hook)(const uint64_t *hashes, size_t n)) { signal_hook = hook; }

static void (*flush_hook)(void);

void txn_set_flush_hook(void (*hook)(void)) { flush_hook = hook; }

/* What follows a commit: WATCH invalidation, then wake-ups of clients blocked on its keys. */
static void after_commit(txn *t) {
    size_t n = t->touched.len / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, t->touched.data + i * sizeof(uint64_t), sizeof(h));
        keylock_watch_bump(h);
    }
    for (size_t i = 0; i < t->flushed.len / sizeof(int); i++) {
        int db;
        memcpy(&db, t->flushed.data + i * sizeof(int), sizeof(db));
        keylock_flush_bump(db);
    }
    /* Before the wake-ups: a reader they wake is served knowing what signalled it. */
    size_t nsignalled = t->signalled.len / sizeof(uint64_t);
    if (signal_hook && nsignalled > 0) signal_hook((const uint64_t *)t->signalled.data, nsignalled);
    if (touch_hook && n > 0) touch_hook((const uint64_t *)t->touched.data, n);
    size_t nwoken = t->woken.len / sizeof(uint64_t);
    if (touch_hook && nwoken > 0) touch_hook((const uint64_t *)t->woken.data, nwoken);
    if (flush_hook && t->flushed.len > 0) flush_hook();
}

static void (*events_hook)(const char *events, size_t len);

void txn_set_events_hook(void (*hook)(const char *events, size_t len)) { events_hook = hook; }

/* Publishes the commit's keyspace notifications (after WATCH and wake-ups: a subscriber that
 * reacts to one finds the write done everywhere). */
static void publish_events(const txn *t) {
    if (events_hook && t->events.len > 0) events_hook(t->events.data, t->events.len);
}

static void (*commit_hook)(const char *batch, size_t len);

void txn_set_commit_hook(void (*hook)(const char *batch, size_t len)) { commit_hook = hook; }

/* The last sequence number a write on this thread was given. */
static __thread uint64_t thread_last_sequence;

uint64_t txn_thread_last_sequence(void) { return thread_last_sequence; }

/* Writes a batch; the commit hook sees it as written, with the sequence RocksDB gave it. */
static int write_batch(rocksdb_writebatch_t *wb, char **err) {
    *err = NULL;
    rocksdb_write(store_db(), store_write_options(), wb, err);
    if (!*err) {
        size_t written_len;
        const char *written = rocksdb_writebatch_data(wb, &written_len);
        batch_reader h;
        if (batch_reader_init(&h, written, written_len) == 0 && h.count > 0)
            thread_last_sequence = h.sequence + h.count - 1;
        if (commit_hook) commit_hook(written, written_len);
    }
    rocksdb_writebatch_destroy(wb);
    return *err ? -1 : 0;
}

/* Replays the txn's metadata writes into its key count changes. Returns 0, or -1 on a read error. */
static int stage_counts(txn *t) {
    keycount_stage_begin(&t->counts);
    for (size_t i = 0; i < t->nops; i++) {
        const txn_op *op = &t->ops[i];
        if (op->cf != CF_METADATA) continue;
        if (op->kind != TXN_RANGE)
            keycount_stage_write(&t->counts, i, op_key(t, op), op->key_len,
                                 op->kind == TXN_PUT ? op_val(t, op) : NULL, op->val_len);
        else if (keycount_stage_range(&t->counts, op_key(t, op), op->key_len) < 0)
            return -1;
    }
    return keycount_stage_end(&t->counts);
}

int txn_key_counts(txn *t, int db, keycount_stats *out) {
    if (t->nops > 0 && stage_counts(t) < 0) return -1;
    return keycount_get(db, t->now_ms, t->nops > 0 ? &t->counts : NULL, out);
}

/* Keys a range deletion (FLUSHDB, FLUSHALL) hides stay in RocksDB until a compaction, and a
 * seek among them steps over them one by one (SCAN, KEYS, RANDOMKEY): the key ranges the
 * committed txn deleted are compacted soon (all of them at once, an interval at most). */
static void compact_deleted_keys(txn *t) {
    const char *begin = NULL, *end = NULL;
    size_t blen = 0, elen = 0;
    if (!t->records.data) return; /* a big txn's records went before the write: no early compaction */
    for (size_t i = 0; t->ranges > 0 && i < t->nops; i++) {
        const txn_op *op = &t->ops[i];
        if (op->kind != TXN_RANGE || op->cf != CF_METADATA) continue;
        const char *b = t->records.data + op->key_off, *e = t->records.data + op->val_off;
        if (!begin || bytes_less(b, op->key_len, begin, blen)) begin = b, blen = op->key_len;
        if (!end || bytes_less(end, elen, e, op->val_len)) end = e, elen = op->val_len;
    }
    if (begin) store_compact_later(CF_METADATA, begin, blen, end, elen);
}

/* Stages the key count changes of the txn's writes; on a read error, fails the txn. */
static int count_or_fail(txn *t, char **err) {
    if (stage_counts(t) == 0) return 0;
    *err = strdup("storage error reading the keys a write replaces");
    if (!*err) abort();
    txn_reset(t);
    return -1;
}

/* Writes the batch, then makes what the txn staged take effect: key counts, the expiry
 * index's walk, WATCH, wake-ups, notifications, bounds. The txn is empty afterwards. */
static int write_and_publish(txn *t, rocksdb_writebatch_t *wb, int counting, char **err) {
    int rc = write_batch(wb, err);
    if (rc == 0) {
        complete_finishes(t);
        if (counting) keycount_apply(&t->counts, t->now_ms);
        if (t->earliest_indexed) expire_index_note_written(t->earliest_indexed);
        after_commit(t);
        publish_events(t);
        compact_deleted_keys(t);
        bounds_publish(&t->bounds);
    }
    txn_reset(t); /* a failed txn's staged bounds are dropped unpublished */
    return rc;
}

/* ---- keys replaced by a write of another type (txn_command_begins) ----
 * The key counts' staging meets the record every write of metadata replaces, and lists the writes
 * that replaced a key of another type (keycount.h). Each commit holding one has its change record
 * rewritten in place with a DEL of the key, typed with the old type, where the command that wrote
 * it begins: a replay of everything is the same (the write replaced the key anyway), and a
 * consumer of the old type sees the key go. Other commits are left as they are. */

/* A DEL to insert, and its arguments. */
typedef struct typed_del {
    record_insertion at;
    const char *argv[2];
    size_t lens[2];
} typed_del;

/* A commit's LogData entry to replace: bytes [from, to) of the batch become `entry`. */
typedef struct entry_rewrite {
    size_t from, to;
    buf entry;
} entry_rewrite;

/* A walk of the batch, commit by commit. */
typedef struct replaced_walk {
    const txn *t;
    size_t next_start; /* the first of t->starts not passed */
    size_t first_op;   /* the commit's first write */
    size_t from, to;   /* its LogData entry in the batch */
    batch_slice blob;  /* its change record */
    typed_del *dels;
    size_t ndels, dels_cap;
    entry_rewrite *rewrites;
    size_t nrewrites, rewrites_cap;
} replaced_walk;

static void walk_begin_commit(replaced_walk *w, size_t from, size_t to, batch_slice blob, size_t first_op) {
    w->first_op = first_op;
    w->from = from;
    w->to = to;
    w->blob = blob;
    w->ndels = 0;
}

static int start_precedes(const txn_command_start *s, size_t first_op, size_t op) {
    return s->commit_op < first_op || (s->commit_op == first_op && s->op <= op);
}

/* Where the command that made write op (of the commit being walked) began: the last start noted
 * in the commit up to that write, else NULL, the commit's own start. */
static const txn_command_start *command_start(replaced_walk *w, size_t op) {
    const txn *t = w->t;
    while (w->next_start < t->nstarts && start_precedes(&t->starts[w->next_start], w->first_op, op)) w->next_start++;
    const txn_command_start *s = w->next_start > 0 ? &t->starts[w->next_start - 1] : NULL;
    return s && s->commit_op == w->first_op ? s : NULL;
}

/* Write op (a metadata key) replaced a key of type `type`: a DEL of it goes before its command. */
static void walk_replaced(replaced_walk *w, size_t op, batch_slice key, uint8_t type) {
    size_t ns;
    int db = enc_namespace_db(key.ptr, key.len, &ns);
    const txn_command_start *s = command_start(w, op);
    if ((s && s->whole) || db < 0) return;
    record_mark at = s ? s->record : (record_mark){0, 0, 0, 0, -1, -1};
    w->dels = grow_array(w->dels, &w->dels_cap, w->ndels + 1, sizeof(*w->dels), 4);
    typed_del *d = &w->dels[w->ndels++];
    *d = (typed_del){{at, db, type, 2, NULL, NULL}, {"DEL", key.ptr + ns}, {3, key.len - ns}};
}

/* Ends the commit walked: its change record with the DELs, if it has any, as a new LogData entry. */
static void walk_end_commit(replaced_walk *w) {
    if (w->ndels == 0) return;
    record_insertion *ins = malloc(w->ndels * sizeof(*ins));
    if (!ins) abort();
    for (size_t i = 0; i < w->ndels; i++) {
        ins[i] = w->dels[i].at;
        ins[i].argv = w->dels[i].argv;
        ins[i].lens = w->dels[i].lens;
    }
    buf rec;
    buf_init(&rec);
    if (record_insert(w->blob.ptr, w->blob.len, ins, w->ndels, &rec) == 0) {
        w->rewrites = grow_array(w->rewrites, &w->rewrites_cap, w->nrewrites + 1, sizeof(*w->rewrites), 4);
        entry_rewrite *e = &w->rewrites[w->nrewrites++];
        *e = (entry_rewrite){w->from, w->to, {0}};
        buf_init(&e->entry);
        buf_put_u8(&e->entry, TAG_LOGDATA);
        buf_put_varint(&e->entry, rec.len);
        buf_append(&e->entry, rec.data, rec.len);
    } else { /* not a record this txn wrote: cannot happen, and the commit is right but for a filter */
        log_msg(LOG_WARNING, "BUG: a change record could not take the DEL of a key replaced by another type");
    }
    buf_free(&rec);
    free(ins);
}

/* Replaces LogData entries of a batch in place (so a big value is not copied once more), from
 * the last: the bytes after each move by what the entries before them grew. An entry only grows
 * (it gains commands). */
static void rewrite_entries(buf *batch, entry_rewrite *rw, size_t n) {
    size_t growth = 0;
    for (size_t i = 0; i < n; i++) growth += rw[i].entry.len - (rw[i].to - rw[i].from);
    buf_reserve(batch, growth);
    size_t end = batch->len;
    batch->len += growth;
    for (size_t i = n; i-- > 0;) {
        memmove(batch->data + rw[i].to + growth, batch->data + rw[i].to, end - rw[i].to);
        growth -= rw[i].entry.len - (rw[i].to - rw[i].from);
        memcpy(batch->data + rw[i].from + growth, rw[i].entry.data, rw[i].entry.len);
        end = rw[i].from;
    }
}

/* Inserts the DELs of the keys the staged writes replaced by another type into the finished batch. */
static void announce_replaced_keys(txn *t) {
    const keycount_delta *d = &t->counts;
    batch_reader r;
    batch_record rec;
    /* The batch this txn just sealed always parses; were it not to, the commit stays right but
     * for a TYPE filter, as in walk_replaced. */
    if (batch_reader_init(&r, t->sealed.data, t->sealed.len) < 0) return;
    replaced_walk w = {.t = t};
    size_t op = 0, next = 0;
    for (;;) {
        size_t at = (size_t)((const char *)r.pos - t->sealed.data);
        int rc = batch_reader_next(&r, &rec);
        if (rc == 1 && rec.op == BATCH_MARKER) continue; /* not a write (none is in a txn's batch) */
        if (rc == 1 && rec.op != BATCH_LOG_DATA) {
            if (next < d->nreplaced && d->replaced[next].index == op) walk_replaced(&w, op, rec.key, d->replaced[next++].type);
            op++;
            continue;
        }
        walk_end_commit(&w);
        if (rc != 1) break;
        walk_begin_commit(&w, at, (size_t)((const char *)r.pos - t->sealed.data), rec.key, op);
    }
    rewrite_entries(&t->sealed, w.rewrites, w.nrewrites);
    for (size_t i = 0; i < w.nrewrites; i++) buf_free(&w.rewrites[i].entry);
    free(w.rewrites);
    free(w.dels);
}

static atomic_int local_writes_refused;

void txn_refuse_local_writes(int refuse) { atomic_store(&local_writes_refused, refuse); }
int txn_local_writes_refused(void) { return atomic_load_explicit(&local_writes_refused, memory_order_relaxed); }

int txn_commit(txn *t, char **err) {
    *err = NULL;
    if (!txn_has_writes(t)) {
        complete_finishes(t);
        bounds_publish(&t->bounds);
        publish_events(t); /* HSET of a field to the value it has writes nothing, yet notifies */
        txn_reset(t);
        return 0;
    }
    if (txn_local_writes_refused()) { /* the commands check first: this catches any other path */
        *err = strdup(ERR_READONLY_REPLICA);
        if (!*err) abort();
        txn_reset(t);
        return -1;
    }
    int counting = keycount_loaded();
    if (counting && count_or_fail(t, err) < 0) return -1;
    finish_batch(t);
    if (counting && t->counts.nreplaced > 0) announce_replaced_keys(t);
    free_big_writes(t); /* the batch holds a copy of them now: a big value's go before the write */
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(t->sealed.data, t->sealed.len);
    clear_or_free(&t->sealed); /* and RocksDB's copy is all that is left of a big value but the memtable's */
    return write_and_publish(t, wb, counting, err);
}

int txn_commit_verbatim(txn *t, const char *batch, size_t len, char **err) {
    *err = NULL;
    int counting = keycount_loaded();
    if (counting && count_or_fail(t, err) < 0) return -1;
    return write_and_publish(t, rocksdb_writebatch_create_from(batch, len), counting, err);
}
