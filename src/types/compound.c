#include "types/compound.h"

#include <stdlib.h>
#include <string.h>

#include "types/keyspace.h"

void compound_attach(compound *c, txn *t, int db, const char *key, size_t klen, const meta *m, int found) {
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->db = db;
    c->key = key;
    c->klen = klen;
    c->m = *m;
    c->found = found;
    buf_init(&c->raw);
}

int compound_open(compound *c, txn *t, int db, const char *key, size_t klen, enum key_type type) {
    meta none;
    memset(&none, 0, sizeof(none));
    compound_attach(c, t, db, key, klen, &none, 0);
    int rc = ks_lookup(t, db, key, klen, &c->m, &c->raw);
    if (rc == KS_ERROR) return CK_ERROR;
    if (rc == KS_CORRUPT) return CK_CORRUPT;
    if (rc == KS_FOUND) {
        if (c->m.type != type) return CK_WRONGTYPE;
        c->found = 1;
        return CK_FOUND;
    }
    /* A missing (or dead) key starts afresh with a new version: old subkeys stay invisible. */
    memset(&c->m, 0, sizeof(c->m));
    c->m.type = type;
    c->m.version = enc_new_version();
    return CK_MISSING;
}

void compound_free(compound *c) { buf_free(&c->raw); }

void compound_save(compound *c) {
    buf mk, value;
    buf_init(&mk);
    buf_init(&value);
    enc_meta_key(&mk, c->db, c->key, c->klen);
    if (c->m.size == 0) {
        txn_delete(c->t, CF_METADATA, mk.data, mk.len);
    } else {
        enc_compound_meta(&value, &c->m);
        txn_put(c->t, CF_METADATA, mk.data, mk.len, value.data, value.len);
    }
    txn_touch(c->t, c->db, c->key, c->klen);
    buf_free(&mk);
    buf_free(&value);
}

void compound_subkey(const compound *c, buf *out, const char *sub, size_t sublen) {
    enc_subkey(out, c->db, c->key, c->klen, c->m.version, sub, sublen);
}

int compound_get(compound *c, const char *sub, size_t sublen, buf *out) {
    /* A new key's version is new: only this txn's own writes can be under it. */
    buf sk;
    buf_init(&sk);
    compound_subkey(c, &sk, sub, sublen);
    int rc = txn_get(c->t, CF_DEFAULT, sk.data, sk.len, out);
    buf_free(&sk);
    return rc;
}

void compound_put(compound *c, const char *sub, size_t sublen, const char *val, size_t vlen) {
    buf sk;
    buf_init(&sk);
    compound_subkey(c, &sk, sub, sublen);
    bounds_note_put(c->t, CF_DEFAULT, sk.data, sk.len, sk.len - sublen);
    txn_put(c->t, CF_DEFAULT, sk.data, sk.len, val, vlen);
    buf_free(&sk);
}

void compound_del(compound *c, const char *sub, size_t sublen) {
    buf sk;
    buf_init(&sk);
    compound_subkey(c, &sk, sub, sublen);
    txn_delete(c->t, CF_DEFAULT, sk.data, sk.len);
    buf_free(&sk);
}

void compound_iter_open(compound_iter *ci, compound *c, const char *from, size_t flen) {
    buf prefix;
    buf_init(&prefix);
    compound_subkey(c, &prefix, NULL, 0);
    bounded_walk_open(&ci->walk, c->t, CF_DEFAULT, prefix.data, prefix.len, from, flen, 0);
    buf_free(&prefix);
}

/* How many key lengths a reader keeps an iterator for; a key of another length replaces the
 * iterator used least recently. */
#define READER_LENGTHS 8

struct compound_reader {
    txn *t;
    int db;
    struct length_iter {
        size_t klen;
        store_iter *it;
        uint64_t used; /* when last used, by the reader's clock */
    } its[READER_LENGTHS];
    size_t n;
    uint64_t clock;
    buf prefix; /* the subkey prefix of the key being opened (kept: its memory is reused) */
};

compound_reader *compound_reader_new(txn *t, int db) {
    compound_reader *r = calloc(1, sizeof(*r));
    if (!r) abort();
    r->t = t;
    r->db = db;
    buf_init(&r->prefix);
    return r;
}

void compound_reader_free(compound_reader *r) {
    for (size_t i = 0; i < r->n; i++) store_iter_free(r->its[i].it);
    buf_free(&r->prefix);
    free(r);
}

/* The iterator over the subkeys of the keys klen bytes long; a new one starts at `start`. */
static store_iter *reader_iter(compound_reader *r, size_t klen, const buf *start) {
    struct length_iter *slot = NULL;
    for (size_t i = 0; i < r->n && !slot; i++)
        if (r->its[i].klen == klen) slot = &r->its[i];
    if (!slot) {
        if (r->n < READER_LENGTHS) {
            slot = &r->its[r->n++];
        } else {
            slot = &r->its[0];
            for (size_t i = 1; i < r->n; i++)
                if (r->its[i].used < slot->used) slot = &r->its[i];
            store_iter_free(slot->it);
        }
        buf lengths_prefix, end;
        buf_init(&lengths_prefix);
        buf_init(&end);
        enc_subkey_length_prefix(&lengths_prefix, r->db, klen);
        enc_prefix_end(&end, lengths_prefix.data, lengths_prefix.len);
        slot->klen = klen;
        slot->it = txn_iter_new(r->t, CF_DEFAULT, start->data, start->len, end.data, end.len);
        buf_free(&lengths_prefix);
        buf_free(&end);
    }
    slot->used = ++r->clock;
    return slot->it;
}

void compound_iter_open_in(compound_iter *ci, compound_reader *r, compound *c, const char *from, size_t flen) {
    buf_clear(&r->prefix);
    compound_subkey(c, &r->prefix, NULL, 0);
    store_iter *it = reader_iter(r, c->klen, &r->prefix);
    bounded_walk_open_on(&ci->walk, c->t, it, CF_DEFAULT, r->prefix.data, r->prefix.len, from, flen);
}

int compound_iter_next(compound_iter *ci, const char **sub, size_t *sublen, const char **val, size_t *vlen) {
    const char *k;
    size_t kl;
    if (!bounded_walk_next(&ci->walk, &k, &kl, val, vlen)) return 0;
    *sub = k + ci->walk.prefix.len;
    *sublen = kl - ci->walk.prefix.len;
    return 1;
}

int compound_iter_close(compound_iter *ci) { return bounded_walk_close(&ci->walk); }

int compound_last(compound *c, buf *out) {
    buf prefix;
    buf_init(&prefix);
    compound_subkey(c, &prefix, NULL, 0);
    bounded_walk w;
    bounded_walk_open(&w, c->t, CF_DEFAULT, prefix.data, prefix.len, NULL, 0, 1);
    const char *k, *v;
    size_t kl, vl;
    int found = bounded_walk_next(&w, &k, &kl, &v, &vl);
    if (found) {
        buf_clear(out);
        buf_append(out, k + prefix.len, kl - prefix.len);
    }
    if (bounded_walk_close(&w) < 0) found = -1;
    buf_free(&prefix);
    return found;
}

type_status compound_status(int ck) {
    switch (ck) {
    case CK_FOUND:
        return ST_OK;
    case CK_MISSING:
        return ST_MISSING;
    case CK_WRONGTYPE:
        return ST_WRONGTYPE;
    case CK_CORRUPT:
        return ST_CORRUPT;
    default:
        return ST_ERROR;
    }
}
