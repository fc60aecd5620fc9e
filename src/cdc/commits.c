#include "cdc/commits.h"

#include "cdc/record.h"

int commit_split_init(commit_split *cs, const wal_batch *w) {
    cs->w = w;
    buf_init(&cs->raw);
    cs->ops_before = 0;
    cs->done = 0;
    if (batch_reader_init(&cs->r, w->data, w->len) < 0) return -1;
    cs->start = cs->at = cs->r.pos;
    return 0;
}

void commit_split_free(commit_split *cs) { buf_free(&cs->raw); }

static int starts_commit(const batch_record *op) {
    return op->op == BATCH_LOG_DATA && record_is_tidekv(op->key.ptr, op->key.len);
}

/* Describes [cs->start, cs->at) as a batch of count sequences. */
static void emit(commit_split *cs, uint32_t count, wal_batch *out) {
    uint64_t seq = cs->w->sequence + cs->ops_before;
    if (count == cs->w->count) { /* one commit alone: the batch as it is, no copy */
        *out = *cs->w;
        return;
    }
    uint8_t header[BATCH_HEADER_SIZE];
    batch_write_header(header, seq, count);
    buf_clear(&cs->raw);
    buf_append(&cs->raw, header, sizeof(header));
    buf_append(&cs->raw, cs->start, (size_t)(cs->at - cs->start));
    *out = (wal_batch){seq, count, cs->raw.data, cs->raw.len};
}

int commit_split_next(commit_split *cs, wal_batch *out) {
    batch_record op;
    while (!cs->done) {
        int rc = batch_reader_next(&cs->r, &op);
        if (rc < 0) return -1;
        int boundary = rc == 0 || (starts_commit(&op) && cs->at != cs->start);
        int found = 0;
        if (boundary) {
            uint32_t count = cs->r.seen - cs->ops_before; /* the LogData ending it uses none */
            if (count > 0) {
                emit(cs, count, out);
                found = 1;
            }
            cs->ops_before += count;
            cs->start = cs->at;
        }
        cs->at = cs->r.pos;
        if (rc == 0) cs->done = 1;
        if (found) return 1;
    }
    return 0;
}

int64_t commit_time_ms(const wal_batch *b) {
    batch_reader r;
    batch_record op;
    record rec;
    if (batch_reader_init(&r, b->data, b->len) < 0 || batch_reader_next(&r, &op) != 1) return 0;
    if (op.op != BATCH_LOG_DATA || record_decode(op.key.ptr, op.key.len, &rec) < 0) return 0;
    int64_t t = rec.time_ms;
    record_free(&rec);
    return t;
}
