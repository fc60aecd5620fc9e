#include "storage/txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/keylock.h"
#include "storage/store.h"
#include "util/timeutil.h"

#define BATCH_HEADER 12
#define TAG_LOGDATA 0x03
#define TAG_DELETE_RANGE_CF 0x0E

void txn_init(txn *t) {
    memset(t, 0, sizeof(*t));
    record_writer_init(&t->record);
    buf_init(&t->ranges);
    buf_init(&t->touched);
    t->record_db = -1;
    t->current_db = -1;
    t->now_ms = time_now_ms();
}

void txn_reset(txn *t) {
    if (t->batch) rocksdb_writebatch_wi_clear(t->batch);
    record_writer_reset(&t->record);
    buf_clear(&t->ranges);
    buf_clear(&t->touched);
    t->nranges = 0;
    t->record_db = -1;
    t->current_db = -1;
    t->flushed = 0;
}

void txn_free(txn *t) {
    if (t->batch) rocksdb_writebatch_wi_destroy(t->batch);
    record_writer_free(&t->record);
    buf_free(&t->ranges);
    buf_free(&t->touched);
    t->batch = NULL;
}

static rocksdb_writebatch_wi_t *batch_of(txn *t) {
    /* overwrite_key=1: reads through the batch see the latest write of a key. */
    if (!t->batch) t->batch = rocksdb_writebatch_wi_create(0, 1);
    return t->batch;
}

int txn_get(txn *t, int cf, const char *key, size_t klen, buf *out) {
    if (!t->batch || rocksdb_writebatch_wi_count(t->batch) == 0) return store_get(cf, key, klen, out);
    char *err = NULL;
    size_t len = 0;
    char *v = rocksdb_writebatch_wi_get_from_batch_and_db_cf(t->batch, store_db(), store_read_options(),
                                                             store_cf(cf), key, klen, &len, &err);
    if (err) {
        free(err);
        return -1;
    }
    if (!v) return 0;
    buf_clear(out);
    buf_append(out, v, len);
    free(v);
    return 1;
}

void txn_put(txn *t, int cf, const char *key, size_t klen, const char *val, size_t vlen) {
    rocksdb_writebatch_wi_put_cf(batch_of(t), store_cf(cf), key, klen, val, vlen);
}

void txn_delete(txn *t, int cf, const char *key, size_t klen) {
    rocksdb_writebatch_wi_delete_cf(batch_of(t), store_cf(cf), key, klen);
}

static void put_slice(buf *b, const char *p, size_t len) {
    buf_put_varint(b, len);
    buf_append(b, p, len);
}

void txn_delete_range(txn *t, int cf, const char *begin, size_t blen, const char *end, size_t elen) {
    buf_put_u8(&t->ranges, TAG_DELETE_RANGE_CF);
    buf_put_varint(&t->ranges, (uint64_t)cf);
    put_slice(&t->ranges, begin, blen);
    put_slice(&t->ranges, end, elen);
    t->nranges++;
}

void txn_record(txn *t, int db, uint8_t type, int argc, const char *const *argv, const size_t *lens) {
    if (t->record_db < 0) {
        t->record_db = db;
        t->current_db = db;
    } else if (db != t->current_db) {
        /* A transaction that spans databases replays with explicit SELECTs. */
        char num[16];
        int n = snprintf(num, sizeof(num), "%d", db);
        const char *sel[2] = {"SELECT", num};
        size_t sel_lens[2] = {6, (size_t)n};
        record_writer_add(&t->record, 0, 2, sel, sel_lens);
        t->current_db = db;
    }
    record_writer_add(&t->record, type, argc, argv, lens);
}

void txn_touch(txn *t, int db, const char *key, size_t klen) {
    uint64_t h = keylock_hash(db, key, klen);
    buf_append(&t->touched, &h, sizeof(h));
}

int txn_has_writes(const txn *t) {
    return (t->batch && rocksdb_writebatch_wi_count(t->batch) > 0) || t->nranges > 0;
}

static void put_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void txn_build_batch(txn *t, buf *out) {
    size_t rep_len = 0;
    const char *rep = t->batch ? rocksdb_writebatch_wi_data(t->batch, &rep_len) : NULL;
    uint32_t count = (t->batch ? (uint32_t)rocksdb_writebatch_wi_count(t->batch) : 0) + (uint32_t)t->nranges;

    /* Header: sequence (assigned by RocksDB at write time) and count, little-endian. */
    uint8_t header[BATCH_HEADER] = {0};
    put_u32le(header + 8, count);
    buf_append(out, header, BATCH_HEADER);

    buf rec;
    buf_init(&rec);
    record_writer_finish(&t->record, time_now_ms(), t->record_db < 0 ? 0 : t->record_db, &rec);
    buf_put_u8(out, TAG_LOGDATA);
    put_slice(out, rec.data, rec.len);
    buf_free(&rec);

    if (rep_len > BATCH_HEADER) buf_append(out, rep + BATCH_HEADER, rep_len - BATCH_HEADER);
    buf_append(out, t->ranges.data, t->ranges.len);
}

static void bump_watches(txn *t) {
    size_t n = t->touched.len / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, t->touched.data + i * sizeof(uint64_t), sizeof(h));
        keylock_watch_bump(h);
    }
    if (t->flushed) keylock_flush_bump();
}

static void (*commit_hook)(const char *batch, size_t len);

void txn_set_commit_hook(void (*hook)(const char *batch, size_t len)) { commit_hook = hook; }

static int write_raw(const char *data, size_t len, char **err) {
    *err = NULL;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from(data, len);
    rocksdb_write(store_db(), store_write_options(), wb, err);
    if (!*err && commit_hook) {
        size_t written_len;
        const char *written = rocksdb_writebatch_data(wb, &written_len);
        commit_hook(written, written_len);
    }
    rocksdb_writebatch_destroy(wb);
    return *err ? -1 : 0;
}

int txn_write_raw(const char *data, size_t len, char **err) {
    int rc = write_raw(data, len, err);
    if (rc == 0) keylock_flush_bump(); /* any key may have changed: invalidate every WATCH */
    return rc;
}

int txn_commit(txn *t, char **err) {
    *err = NULL;
    if (!txn_has_writes(t)) {
        txn_reset(t);
        return 0;
    }
    buf raw;
    buf_init(&raw);
    txn_build_batch(t, &raw);
    int rc = write_raw(raw.data, raw.len, err);
    buf_free(&raw);
    if (rc == 0) bump_watches(t);
    txn_reset(t);
    return rc;
}
