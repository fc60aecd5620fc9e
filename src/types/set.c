#include "types/set.h"

#include <stdlib.h>
#include <string.h>

/* Opens the set at key; ST_MISSING leaves s a new, empty set. */
static type_status open_set(compound *s, txn *t, int db, const char *key, size_t klen) {
    return members_open_key(s, t, db, key, klen, TYPE_SET);
}

/* 1 if m is a member of s, 0 if not, -1 on a read error (tmp takes the empty value). */
static int has_member(compound *s, const char *m, size_t len, buf *tmp) { return compound_get(s, m, len, tmp); }

/* SADD (add = 1) and SREM (add = 0). */
static type_status change_members(txn *t, int db, const char *key, size_t klen, const slice *members, int n, int add,
                                  member_visit_fn changed_visit, void *arg, long long *changed) {
    compound s;
    type_status st = open_set(&s, t, db, key, klen);
    *changed = 0;
    if (st == ST_OK || (st == ST_MISSING && add)) {
        buf tmp;
        buf_init(&tmp);
        st = ST_OK;
        for (int i = 0; i < n && st == ST_OK; i++) {
            const slice *m = &members[i];
            int in = has_member(&s, m->ptr, m->len, &tmp);
            if (in < 0) st = ST_ERROR;
            if (in == add || in < 0) continue;
            if (add) {
                compound_put(&s, m->ptr, m->len, "", 0);
                s.m.size++;
            } else {
                compound_del(&s, m->ptr, m->len);
                s.m.size--;
            }
            ++*changed;
            changed_visit(arg, m->ptr, m->len, NULL, 0);
        }
        if (st == ST_OK && *changed) compound_save(&s);
        buf_free(&tmp);
    }
    compound_free(&s);
    return st;
}

type_status set_add(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                    member_visit_fn changed_visit, void *arg, long long *changed) {
    return change_members(t, db, key, klen, members, n, 1, changed_visit, arg, changed);
}

type_status set_remove(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                       member_visit_fn changed_visit, void *arg, long long *changed) {
    return change_members(t, db, key, klen, members, n, 0, changed_visit, arg, changed);
}

type_status set_card(txn *t, int db, const char *key, size_t klen, long long *card) {
    return members_count(t, db, key, klen, TYPE_SET, card);
}

type_status set_are_members(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                            member_visit_fn visit, void *arg) {
    compound s;
    type_status st = open_set(&s, t, db, key, klen);
    if (st == ST_OK || st == ST_MISSING) {
        buf tmp;
        buf_init(&tmp);
        int missing_key = st == ST_MISSING, stopped = 0;
        st = ST_OK;
        for (int i = 0; i < n && st == ST_OK && !stopped; i++) {
            int in = missing_key ? 0 : has_member(&s, members[i].ptr, members[i].len, &tmp);
            if (in < 0) st = ST_ERROR; /* an error is not "not a member" */
            else stopped = visit(arg, members[i].ptr, members[i].len, in ? "" : NULL, 0);
        }
        buf_free(&tmp);
    }
    compound_free(&s);
    return st;
}

type_status set_members(txn *t, int db, const char *key, size_t klen, long long *size, member_visit_fn visit,
                        void *arg) {
    return members_all(t, db, key, klen, TYPE_SET, size, visit, arg);
}

type_status set_pop(txn *t, int db, const char *key, size_t klen, long long count, picked **out, long long *n) {
    compound s;
    type_status st = open_set(&s, t, db, key, klen);
    *out = NULL;
    *n = 0;
    if (st == ST_OK) st = members_pick_from(&s, count, 0, SIZE_MAX, out, n);
    if (st == ST_OK && *n > 0) {
        for (long long i = 0; i < *n; i++) {
            const buf *m = &(*out)[i].sub;
            compound_del(&s, m->data ? m->data : "", m->len);
        }
        s.m.size -= (uint64_t)*n;
        compound_save(&s);
    }
    compound_free(&s);
    return st;
}

/* Moves m from the open src to the open dst (other keys); *moved tells whether src had it. */
static type_status move_member(compound *src, compound *dst, const slice *m, int same, int *moved, int *which) {
    buf tmp;
    buf_init(&tmp);
    int in_src = has_member(src, m->ptr, m->len, &tmp);
    int in_dst = in_src == 1 && !same ? has_member(dst, m->ptr, m->len, &tmp) : 0;
    buf_free(&tmp);
    *which = in_src < 0 ? 0 : 1;
    if (in_src < 0 || in_dst < 0) return ST_ERROR;
    *moved = in_src;
    if (in_src == 1 && !same) {
        compound_del(src, m->ptr, m->len);
        src->m.size--;
        compound_save(src);
        if (!in_dst) {
            compound_put(dst, m->ptr, m->len, "", 0);
            dst->m.size++;
            compound_save(dst);
        }
    }
    return ST_OK;
}

type_status set_move(txn *t, int db, const slice *src, const slice *dst, const slice *member, int *moved,
                     int *which) {
    compound from, to;
    *moved = 0;
    *which = 0;
    type_status st = open_set(&from, t, db, src->ptr, src->len);
    if (st == ST_OK) { /* a missing source moves nothing: the destination is not even looked at, as in Redis */
        *which = 1;
        st = open_set(&to, t, db, dst->ptr, dst->len);
        if (st == ST_OK || st == ST_MISSING) {
            int same = src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0;
            st = move_member(&from, &to, member, same, moved, which);
        }
        compound_free(&to);
    }
    compound_free(&from);
    return st == ST_MISSING ? ST_OK : st;
}

/* ---- SINTER / SUNION / SDIFF ---- */

static void result_add(set_result *r, const char *m, size_t len) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->items = realloc(r->items, r->cap * sizeof(buf));
        if (!r->items) abort();
    }
    buf_init(&r->items[r->n]);
    buf_append(&r->items[r->n++], m, len);
}

void set_result_free(set_result *r) {
    for (size_t i = 0; i < r->n; i++) buf_free(&r->items[i]);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

static int compare_members(const void *a, const void *b) {
    const buf *x = a, *y = b;
    return bytes_compare(x->data, x->len, y->data, y->len);
}

/* Opens the n sets at keys; on a failure frees those opened and sets *which. */
static type_status open_sets(txn *t, int db, const slice *keys, int n, compound *sets, int *which) {
    for (int i = 0; i < n; i++) {
        type_status st = open_set(&sets[i], t, db, keys[i].ptr, keys[i].len);
        if (st != ST_OK && st != ST_MISSING) {
            for (int j = 0; j <= i; j++) compound_free(&sets[j]);
            *which = i;
            return st;
        }
    }
    return ST_OK;
}

/* Whether a member of sets[from] belongs in the result: in all others (inter), in none (diff).
 * -1 on a read error. */
static int keep_member(enum set_op op, compound *sets, int n, int from, const char *m, size_t len, buf *tmp) {
    for (int i = 0; i < n; i++) {
        if (i == from) continue;
        int in = has_member(&sets[i], m, len, tmp);
        if (in < 0) return -1;
        if (op == SET_INTER && !in) return 0;
        if (op == SET_DIFF && i > 0 && in) return 0;
    }
    return 1;
}

/* The bytes a member takes in a reply at least: "$<len>\r\n<member>\r\n". */
static size_t reply_bytes(size_t len) { return len + 5; }

/* Sorts the members and drops the repeats (a union's members of several sets); returns the
 * bytes the rest take in a reply at least. */
static size_t drop_duplicates(set_result *r) {
    if (r->n > 1) qsort(r->items, r->n, sizeof(buf), compare_members);
    size_t w = 0, bytes = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (w > 0 && compare_members(&r->items[i], &r->items[w - 1]) == 0) {
            buf_free(&r->items[i]);
        } else {
            r->items[w++] = r->items[i];
            bytes += reply_bytes(r->items[i].len);
        }
    }
    r->n = w;
    return bytes;
}

/* Computes op over the open sets; see set_combine. 0, or -1 on a read error. */
static int compute(enum set_op op, compound *sets, int n, size_t limit, size_t room, set_result *out) {
    /* Intersections walk the smallest set; differences the first; unions all of them. */
    int from = 0;
    if (op == SET_INTER)
        for (int i = 1; i < n; i++)
            if (sets[i].m.size < sets[from].m.size) from = i;
    /* A union counts its repeats until they are dropped, each time it passes the bytes it had
     * after the last drop by room: what it holds stays within twice the room. */
    size_t bytes = 0, check_at = room;
    int over = 0, failed = 0;
    buf tmp;
    buf_init(&tmp);
    for (int i = from; i < n && !over && !failed; i++) {
        if (op != SET_UNION && i != from) break;
        compound_iter ci;
        compound_iter_open(&ci, &sets[i], NULL, 0);
        const char *m, *v;
        size_t ml, vl;
        while (!over && !failed && (!limit || out->n < limit) && compound_iter_next(&ci, &m, &ml, &v, &vl)) {
            int keep = op == SET_UNION ? 1 : keep_member(op, sets, n, from, m, ml, &tmp);
            failed = keep < 0;
            if (keep != 1) continue;
            result_add(out, m, ml);
            bytes += reply_bytes(ml);
            if (bytes > check_at) {
                if (op == SET_UNION) bytes = drop_duplicates(out);
                over = bytes > room;
                check_at = bytes + room;
            }
        }
        if (compound_iter_close(&ci) < 0) failed = 1;
    }
    buf_free(&tmp);
    if (op == SET_UNION) drop_duplicates(out);
    return failed ? -1 : 0;
}

type_status set_combine(txn *t, int db, const slice *keys, int n, enum set_op op, size_t limit, size_t room,
                        set_result *out, int *which) {
    compound *sets = calloc((size_t)n, sizeof(compound));
    if (!sets) abort();
    *which = 0;
    type_status st = open_sets(t, db, keys, n, sets, which);
    if (st == ST_OK) {
        if (compute(op, sets, n, limit, room, out) < 0) st = ST_ERROR;
        for (int i = 0; i < n; i++) compound_free(&sets[i]);
    }
    free(sets);
    return st;
}

type_status set_store(txn *t, int db, const char *key, size_t klen, const set_result *r) {
    compound dst;
    type_status st = open_set(&dst, t, db, key, klen);
    if (st == ST_MISSING) {
        for (size_t i = 0; i < r->n; i++) {
            const buf *m = &r->items[i];
            compound_put(&dst, m->data ? m->data : "", m->len, "", 0);
        }
        dst.m.size = r->n;
        if (r->n) compound_save(&dst);
        st = ST_OK;
    } else if (st == ST_OK) { /* the caller deleted it: only a broken txn shows it again */
        st = ST_ERROR;
    }
    compound_free(&dst);
    return st;
}
