#include "types/hash.h"

#include <limits.h>
#include <math.h>

#include "util/num.h"

/* Opens the hash; ST_MISSING leaves h a new, empty hash. */
static type_status open_hash(compound *h, txn *t, int db, const char *key, size_t klen) {
    return members_open_key(h, t, db, key, klen, TYPE_HASH);
}

/* Whether an open status lets the operation go on (the key exists or is created). */
static int usable(type_status st) { return st == ST_OK || st == ST_MISSING; }

/* Sets a field, counting it if new; returns 1 if it was added, 0 if replaced, -1 on a read
 * error. */
static int put_field(compound *h, const slice *f, const char *val, size_t vlen, buf *tmp) {
    int had = compound_get(h, f->ptr, f->len, tmp);
    if (had < 0) return -1;
    compound_put(h, f->ptr, f->len, val, vlen);
    if (had == 0) h->m.size++;
    return had == 0;
}

type_status hash_set(txn *t, int db, const char *key, size_t klen, const slice *items, int npairs, long long *added) {
    compound h;
    type_status st = open_hash(&h, t, db, key, klen);
    *added = 0;
    if (usable(st)) {
        buf tmp;
        buf_init(&tmp);
        st = ST_OK;
        for (int i = 0; i < npairs && st == ST_OK; i++) {
            int rc = put_field(&h, &items[2 * i], items[2 * i + 1].ptr, items[2 * i + 1].len, &tmp);
            if (rc < 0) st = ST_ERROR;
            else *added += rc;
        }
        if (st == ST_OK) compound_save(&h);
        buf_free(&tmp);
    }
    compound_free(&h);
    return st;
}

type_status hash_setnx(txn *t, int db, const char *key, size_t klen, const slice *field, const slice *value,
                       int *set) {
    compound h;
    type_status st = open_hash(&h, t, db, key, klen);
    *set = 0;
    if (usable(st)) {
        buf tmp;
        buf_init(&tmp);
        int had = compound_get(&h, field->ptr, field->len, &tmp);
        st = had < 0 ? ST_ERROR : ST_OK;
        if (had == 0) {
            compound_put(&h, field->ptr, field->len, value->ptr, value->len);
            h.m.size++;
            compound_save(&h);
            *set = 1;
        }
        buf_free(&tmp);
    }
    compound_free(&h);
    return st;
}

/* Reads a field of an open hash: ST_OK, ST_MISSING or ST_ERROR. */
static type_status read_field(compound *h, const char *field, size_t flen, buf *out) {
    int rc = compound_get(h, field, flen, out);
    return rc < 0 ? ST_ERROR : rc ? ST_OK : ST_MISSING;
}

type_status hash_get(txn *t, int db, const char *key, size_t klen, const char *field, size_t flen, buf *out) {
    compound h;
    type_status st = open_hash(&h, t, db, key, klen);
    if (st == ST_OK) st = read_field(&h, field, flen, out);
    compound_free(&h);
    return st;
}

type_status hash_mget(txn *t, int db, const char *key, size_t klen, const slice *fields, int n,
                      member_visit_fn visit, void *arg) {
    compound h;
    type_status st = open_hash(&h, t, db, key, klen);
    if (usable(st)) {
        buf v;
        buf_init(&v);
        int missing_key = st == ST_MISSING, stopped = 0;
        st = ST_OK;
        for (int i = 0; i < n && st == ST_OK && !stopped; i++) {
            type_status got = missing_key ? ST_MISSING : read_field(&h, fields[i].ptr, fields[i].len, &v);
            if (got == ST_ERROR) st = ST_ERROR;
            else if (got == ST_OK) stopped = visit(arg, fields[i].ptr, fields[i].len, v.data ? v.data : "", v.len);
            else stopped = visit(arg, fields[i].ptr, fields[i].len, NULL, 0);
        }
        buf_free(&v);
    }
    compound_free(&h);
    return st;
}

type_status hash_del(txn *t, int db, const char *key, size_t klen, const slice *fields, int n,
                     member_visit_fn removed_visit, void *arg, long long *removed) {
    compound h;
    type_status st = open_hash(&h, t, db, key, klen);
    *removed = 0;
    if (st == ST_OK) {
        buf v;
        buf_init(&v);
        for (int i = 0; i < n && st == ST_OK; i++) {
            type_status got = read_field(&h, fields[i].ptr, fields[i].len, &v);
            if (got != ST_OK) {
                if (got == ST_ERROR) st = ST_ERROR;
                continue;
            }
            compound_del(&h, fields[i].ptr, fields[i].len);
            h.m.size--;
            ++*removed;
            removed_visit(arg, fields[i].ptr, fields[i].len, NULL, 0);
        }
        if (st == ST_OK && *removed) compound_save(&h);
        buf_free(&v);
    }
    compound_free(&h);
    return st;
}

type_status hash_len(txn *t, int db, const char *key, size_t klen, long long *len) {
    return members_count(t, db, key, klen, TYPE_HASH, len);
}

type_status hash_get_all(txn *t, int db, const char *key, size_t klen, long long *size, member_visit_fn visit,
                         void *arg) {
    return members_all(t, db, key, klen, TYPE_HASH, size, visit, arg);
}

/* Writes a field's new numeric value (text) into an open hash. */
static void store_number(compound *h, const slice *field, const char *text, size_t len, int had) {
    compound_put(h, field->ptr, field->len, text, len);
    if (!had) h->m.size++;
    compound_save(h);
}

/* Opens the hash and reads a field about to be incremented into v: ST_OK (*had tells whether
 * the field exists) or the failure. */
static type_status open_number(compound *h, txn *t, int db, const char *key, size_t klen, const slice *field, buf *v,
                               int *had) {
    type_status st = open_hash(h, t, db, key, klen);
    *had = 0;
    if (st == ST_MISSING) return ST_OK;
    if (st != ST_OK) return st;
    st = read_field(h, field->ptr, field->len, v);
    *had = st == ST_OK;
    return st == ST_MISSING ? ST_OK : st;
}

type_status hash_incrby(txn *t, int db, const char *key, size_t klen, const slice *field, long long by,
                        long long *result) {
    compound h;
    buf v;
    buf_init(&v);
    int had;
    long long cur = 0;
    type_status st = open_number(&h, t, db, key, klen, field, &v, &had);
    if (st == ST_OK && had && num_parse_ll(v.data ? v.data : "", v.len, &cur) < 0) st = ST_NOT_INTEGER;
    else if (st == ST_OK && ((by < 0 && cur < LLONG_MIN - by) || (by > 0 && cur > LLONG_MAX - by))) st = ST_OVERFLOW;
    if (st == ST_OK) {
        char text[32];
        *result = cur + by;
        store_number(&h, field, text, num_format_ll(text, *result), had);
    }
    buf_free(&v);
    compound_free(&h);
    return st;
}

type_status hash_incrbyfloat(txn *t, int db, const char *key, size_t klen, const slice *field, long double by,
                             buf *out) {
    compound h;
    buf v;
    buf_init(&v);
    int had;
    long double cur = 0;
    type_status st = open_number(&h, t, db, key, klen, field, &v, &had);
    if (st == ST_OK && had && num_parse_ld(v.data ? v.data : "", v.len, &cur) < 0) st = ST_NOT_FLOAT;
    else if (st == ST_OK && (isnan(cur + by) || isinf(cur + by))) st = ST_NAN_OR_INF;
    if (st == ST_OK) {
        char text[5120];
        size_t n = num_format_ld(text, sizeof(text), cur + by);
        buf_clear(out);
        buf_append(out, text, n);
        store_number(&h, field, text, n, had);
    }
    buf_free(&v);
    compound_free(&h);
    return st;
}
