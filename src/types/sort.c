#include "types/sort.h"

#include "types/compound.h"
#include "types/keyspace.h"

/* Visits the elements c holds (stored order); ST_CORRUPT if a sorted set's score does not
 * decode. How many in *n. */
static type_status visit_elements(compound *c, sort_element_fn fn, void *arg, uint64_t *n) {
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *sub, *val;
    size_t sl, vl;
    type_status s = ST_OK;
    *n = 0;
    while (s == ST_OK && compound_iter_next(&ci, &sub, &sl, &val, &vl)) {
        double score = 0;
        if (c->m.type == TYPE_ZSET && enc_decode_score(val, vl, &score) < 0) s = ST_CORRUPT;
        else if (c->m.type == TYPE_LIST) fn(arg, val, vl, score); /* a list's items are the values */
        else fn(arg, sub, sl, score);
        (*n)++;
    }
    if (compound_iter_close(&ci) < 0) s = ST_ERROR;
    return s;
}

type_status sort_read_elements(txn *t, int db, const char *key, size_t klen, enum key_type *type,
                               sort_element_fn fn, void *arg) {
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = ks_lookup(t, db, key, klen, &m, &raw);
    buf_free(&raw);
    *type = TYPE_NONE;
    if (rc == KS_MISSING) return ST_MISSING;
    if (rc == KS_CORRUPT) return ST_CORRUPT;
    if (rc == KS_ERROR) return ST_ERROR;
    *type = m.type;
    if (m.type != TYPE_LIST && m.type != TYPE_SET && m.type != TYPE_ZSET) return ST_WRONGTYPE;
    compound c; /* the key as just looked up */
    compound_attach(&c, t, db, key, klen, &m, 1);
    uint64_t n;
    type_status s = visit_elements(&c, fn, arg, &n);
    if (s == ST_OK && n != m.size) s = ST_CORRUPT; /* SORT reads the whole key: its size is checked too */
    compound_free(&c);
    return s;
}
