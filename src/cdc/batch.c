#include "cdc/batch.h"

#include <string.h>

#include "util/buf.h"

/* Tags from RocksDB's dbformat.h (ValueType). */
enum {
    TAG_DELETION = 0x00,
    TAG_VALUE = 0x01,
    TAG_MERGE = 0x02,
    TAG_LOG_DATA = 0x03,
    TAG_CF_DELETION = 0x04,
    TAG_CF_VALUE = 0x05,
    TAG_CF_MERGE = 0x06,
    TAG_SINGLE_DELETION = 0x07,
    TAG_CF_SINGLE_DELETION = 0x08,
    TAG_BEGIN_PREPARE = 0x09,
    TAG_END_PREPARE = 0x0A,
    TAG_COMMIT = 0x0B,
    TAG_ROLLBACK = 0x0C,
    TAG_NOOP = 0x0D,
    TAG_CF_RANGE_DELETION = 0x0E,
    TAG_RANGE_DELETION = 0x0F,
    TAG_CF_BLOB_INDEX = 0x10,
    TAG_BLOB_INDEX = 0x11,
    TAG_BEGIN_PERSISTED_PREPARE = 0x12,
    TAG_BEGIN_UNPREPARE = 0x13,
    TAG_DELETION_WITH_TIMESTAMP = 0x14,
    TAG_COMMIT_WITH_TIMESTAMP = 0x15,
    TAG_WIDE_COLUMN_ENTITY = 0x16,
    TAG_CF_WIDE_COLUMN_ENTITY = 0x17,
};

static uint64_t get_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void batch_write_header(uint8_t out[BATCH_HEADER_SIZE], uint64_t sequence, uint32_t count) {
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(sequence >> (8 * i));
    for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(count >> (8 * i));
}

int batch_reader_init(batch_reader *r, const char *data, size_t len) {
    if (len < BATCH_HEADER_SIZE) return -1;
    const uint8_t *p = (const uint8_t *)data;
    r->sequence = get_u64le(p);
    r->count = (uint32_t)p[8] | ((uint32_t)p[9] << 8) | ((uint32_t)p[10] << 16) | ((uint32_t)p[11] << 24);
    r->pos = p + BATCH_HEADER_SIZE;
    r->end = p + len;
    r->seen = 0;
    return 0;
}

static int read_slice(batch_reader *r, batch_slice *s) {
    uint64_t len;
    if (buf_get_varint(&r->pos, r->end, &len) < 0 || len > UINT32_MAX) return -1;
    if (len > (uint64_t)(r->end - r->pos)) return -1;
    s->ptr = (const char *)r->pos;
    s->len = (size_t)len;
    r->pos += len;
    return 0;
}

static int read_cf(batch_reader *r, batch_record *rec) {
    uint64_t cf;
    if (buf_get_varint(&r->pos, r->end, &cf) < 0 || cf > UINT32_MAX) return -1;
    rec->cf = (uint32_t)cf;
    return 0;
}

/* Fills rec for a tag; returns 0, or -1 for an unknown tag or a short record. */
static int read_record(batch_reader *r, uint8_t tag, batch_record *rec) {
    int with_cf = tag == TAG_CF_DELETION || tag == TAG_CF_VALUE || tag == TAG_CF_MERGE ||
                  tag == TAG_CF_SINGLE_DELETION || tag == TAG_CF_RANGE_DELETION || tag == TAG_CF_BLOB_INDEX ||
                  tag == TAG_CF_WIDE_COLUMN_ENTITY;
    if (with_cf && read_cf(r, rec) < 0) return -1;
    switch (tag) {
    case TAG_VALUE: case TAG_CF_VALUE: rec->op = BATCH_PUT; break;
    case TAG_WIDE_COLUMN_ENTITY: case TAG_CF_WIDE_COLUMN_ENTITY: rec->op = BATCH_PUT_ENTITY; break;
    case TAG_MERGE: case TAG_CF_MERGE: rec->op = BATCH_MERGE; break;
    case TAG_BLOB_INDEX: case TAG_CF_BLOB_INDEX: rec->op = BATCH_BLOB_INDEX; break;
    case TAG_DELETION: case TAG_CF_DELETION: rec->op = BATCH_DELETE; return read_slice(r, &rec->key);
    case TAG_SINGLE_DELETION: case TAG_CF_SINGLE_DELETION: rec->op = BATCH_SINGLE_DELETE; return read_slice(r, &rec->key);
    case TAG_RANGE_DELETION: case TAG_CF_RANGE_DELETION: rec->op = BATCH_DELETE_RANGE; break;
    case TAG_LOG_DATA: rec->op = BATCH_LOG_DATA; return read_slice(r, &rec->key);
    case TAG_NOOP: case TAG_BEGIN_PREPARE: case TAG_BEGIN_PERSISTED_PREPARE: case TAG_BEGIN_UNPREPARE:
        rec->op = BATCH_MARKER;
        return 0;
    case TAG_END_PREPARE: case TAG_COMMIT: case TAG_ROLLBACK:
        rec->op = BATCH_MARKER;
        return read_slice(r, &rec->value);
    case TAG_COMMIT_WITH_TIMESTAMP:
        rec->op = BATCH_MARKER;
        return read_slice(r, &rec->key) < 0 ? -1 : read_slice(r, &rec->value);
    default:
        return -1;
    }
    return read_slice(r, &rec->key) < 0 ? -1 : read_slice(r, &rec->value);
}

static int consumes_sequence(batch_op op) { return op != BATCH_LOG_DATA && op != BATCH_MARKER; }

int batch_reader_next(batch_reader *r, batch_record *rec) {
    if (r->pos >= r->end) return 0;
    memset(rec, 0, sizeof(*rec));
    uint8_t tag = *r->pos++;
    if (read_record(r, tag, rec) < 0) return -1;
    if (consumes_sequence(rec->op) && ++r->seen > r->count) return -1;
    return 1;
}

int batch_validate(const char *data, size_t len) {
    batch_reader r;
    batch_record rec;
    if (batch_reader_init(&r, data, len) < 0) return -1;
    int rc;
    while ((rc = batch_reader_next(&r, &rec)) == 1) {
    }
    return rc == 0 && r.seen == r.count ? 0 : -1;
}
