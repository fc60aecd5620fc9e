#include "types/compound.h"

#include <string.h>

#include "types/keyspace.h"

int compound_open(compound *c, txn *t, int db, const char *key, size_t klen, enum key_type type) {
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->db = db;
    c->key = key;
    c->klen = klen;
    buf_init(&c->raw);
    int rc = ks_lookup(t, db, key, klen, &c->m, &c->raw);
    if (rc == KS_ERROR) return CK_ERROR;
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
    ci->started = 0;
    buf_init(&ci->prefix);
    compound_subkey(c, &ci->prefix, NULL, 0);
    buf start, end;
    buf_init(&start);
    buf_init(&end);
    buf_append(&start, ci->prefix.data, ci->prefix.len);
    buf_append(&start, from, flen);
    enc_prefix_end(&end, ci->prefix.data, ci->prefix.len);
    ci->it = txn_iter_new(c->t, CF_DEFAULT, start.data, start.len, end.data, end.len);
    buf_free(&start);
    buf_free(&end);
}

int compound_iter_next(compound_iter *ci, const char **sub, size_t *sublen, const char **val, size_t *vlen) {
    if (!ci->it) return 0;
    if (ci->started) store_iter_next(ci->it);
    ci->started = 1;
    if (!store_iter_valid(ci->it)) return 0;
    size_t kl;
    const char *k = store_iter_key(ci->it, &kl);
    if (kl < ci->prefix.len || memcmp(k, ci->prefix.data, ci->prefix.len) != 0) return 0;
    *sub = k + ci->prefix.len;
    *sublen = kl - ci->prefix.len;
    *val = store_iter_value(ci->it, vlen);
    return 1;
}

void compound_iter_close(compound_iter *ci) {
    if (ci->it) store_iter_free(ci->it);
    buf_free(&ci->prefix);
}
