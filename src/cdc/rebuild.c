#include "cdc/rebuild.h"

#include <string.h>

#include "util/num.h"

void cdc_emit_string(record_writer *w, int db, const char *key, size_t klen, const meta *m) {
    char when[24];
    const char *argv[5] = {"SET", key, m->value, "PXAT", when};
    size_t lens[5] = {3, klen, m->value_len, 4, 0};
    if (m->expire_ms) lens[4] = num_format_ll(when, m->expire_ms);
    record_writer_add(w, db, TYPE_STRING, m->expire_ms ? 5 : 3, argv, lens);
}

void cdc_emit_del(record_writer *w, int db, int type, const char *key, size_t klen) {
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, klen};
    record_writer_add(w, db, (uint8_t)type, 2, argv, lens);
}

void cdc_emit_flushdb(record_writer *w, int db) {
    const char *argv[1] = {"FLUSHDB"};
    size_t lens[1] = {7};
    record_writer_add(w, db, 0, 1, argv, lens);
}

int cdc_rebuild_op(const batch_record *op, record_writer *w) {
    if (op->cf == CF_EXPIRE) return 1; /* the expiry index: derived from the metadata, nothing to replay */
    size_t ns;
    int db = enc_namespace_db(op->key.ptr, op->key.len, &ns);
    if (db < 0) return 0;
    const char *key = op->key.ptr + ns;
    size_t klen = op->key.len - ns;
    if (op->op == BATCH_DELETE_RANGE && ns == op->key.len) {
        if (op->cf == CF_METADATA) cdc_emit_flushdb(w, db);
        return 1; /* subkey ranges go with the metadata one */
    }
    if (op->cf != CF_METADATA) return 0;
    if (op->op == BATCH_DELETE || op->op == BATCH_SINGLE_DELETE) {
        cdc_emit_del(w, db, 0, key, klen);
        return 1;
    }
    meta m;
    if (op->op != BATCH_PUT || enc_decode_meta(op->value.ptr, op->value.len, &m) < 0 || m.type != TYPE_STRING)
        return 0;
    cdc_emit_string(w, db, key, klen, &m);
    return 1;
}
