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

/* Computes a field's new numeric value from its old one (old is NULL for a missing field) as
 * text into out (at most NUMBER_TEXT_MAX bytes): ST_OK, or why the value cannot change. */
#define NUMBER_TEXT_MAX 5120
typedef type_status (*number_step_fn)(void *arg, const buf *old, char *out, size_t *len);

/* HINCRBY and HINCRBYFLOAT: reads the field, lets step compute its new value and writes that
 * (its text, also in out). */
static type_status update_number(txn *t, int db, const char *key, size_t klen, const slice *field, number_step_fn step,
                                 void *arg, buf *out) {
    compound h;
    type_status st = open_hash(&h, t, db, key, klen);
    buf v;
    buf_init(&v);
    int had = 0;
    if (st == ST_OK) {
        st = read_field(&h, field->ptr, field->len, &v);
        had = st == ST_OK;
    }
    if (usable(st)) {
        char text[NUMBER_TEXT_MAX];
        size_t len;
        st = step(arg, had ? &v : NULL, text, &len);
        if (st == ST_OK) {
            compound_put(&h, field->ptr, field->len, text, len);
            if (!had) h.m.size++;
            compound_save(&h);
            buf_clear(out);
            buf_append(out, text, len);
        }
    }
    buf_free(&v);
    compound_free(&h);
    return st;
}

typedef struct int_step {
    long long by, result;
} int_step;

static type_status add_integer(void *arg, const buf *old, char *out, size_t *len) {
    int_step *s = arg;
    long long cur = 0;
    if (old && num_parse_ll(old->data ? old->data : "", old->len, &cur) < 0) return ST_NOT_INTEGER;
    if ((s->by < 0 && cur < LLONG_MIN - s->by) || (s->by > 0 && cur > LLONG_MAX - s->by)) return ST_OVERFLOW;
    s->result = cur + s->by;
    *len = num_format_ll(out, s->result);
    return ST_OK;
}

type_status hash_incrby(txn *t, int db, const char *key, size_t klen, const slice *field, long long by,
                        long long *result) {
    int_step s = {.by = by};
    buf text;
    buf_init(&text);
    type_status st = update_number(t, db, key, klen, field, add_integer, &s, &text);
    *result = s.result;
    buf_free(&text);
    return st;
}

static type_status add_float(void *arg, const buf *old, char *out, size_t *len) {
    long double by = *(const long double *)arg, cur = 0;
    if (old && num_parse_ld(old->data ? old->data : "", old->len, &cur) < 0) return ST_NOT_FLOAT;
    if (isnan(cur + by) || isinf(cur + by)) return ST_NAN_OR_INF;
    *len = num_format_ld(out, NUMBER_TEXT_MAX, cur + by);
    return ST_OK;
}

type_status hash_incrbyfloat(txn *t, int db, const char *key, size_t klen, const slice *field, long double by,
                             buf *out) {
    return update_number(t, db, key, klen, field, add_float, &by, out);
}
