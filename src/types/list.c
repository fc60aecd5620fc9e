#include "types/list.h"

#include <stdlib.h>
#include <string.h>

#include "types/compound.h"

/* Opens a key as a list (callers free l whatever the status): ST_OK, ST_MISSING (l is then a
 * new, empty list starting in the middle of the positions), ST_WRONGTYPE, ST_CORRUPT or
 * ST_ERROR. */
static type_status list_open(compound *l, txn *t, int db, const char *key, size_t klen) {
    type_status st = compound_status(compound_open(l, t, db, key, klen, TYPE_LIST));
    if (st == ST_MISSING) l->m.list_head = l->m.list_tail = LIST_INITIAL_INDEX;
    return st;
}

/* The status of an item read that failed: an item the size promises that is not there
 * (CK_MISSING) or does not decode (CK_CORRUPT) means a corrupt list. */
static type_status item_status(int rc) {
    if (rc == CK_FOUND) return ST_OK;
    return rc == CK_ERROR ? ST_ERROR : ST_CORRUPT;
}

/* The subkey suffix of a position: 8 big-endian bytes. */
static void position_bytes(uint64_t pos, char out[8]) { buf_set_u64be(out, pos); }

/* Reads the item at a position: CK_FOUND, CK_MISSING or CK_ERROR. */
static int item_get(compound *l, uint64_t pos, buf *out) {
    char p[8];
    position_bytes(pos, p);
    return compound_get(l, p, 8, out);
}

static void item_put(compound *l, uint64_t pos, const char *v, size_t len) {
    char p[8];
    position_bytes(pos, p);
    compound_put(l, p, 8, v, len);
}

static void item_del(compound *l, uint64_t pos) {
    char p[8];
    position_bytes(pos, p);
    compound_del(l, p, 8);
}

/* A buf's bytes, never NULL (an empty item reads as a buf with no data). */
static const char *bytes_of(const buf *b) { return b->data ? b->data : ""; }

/* A walk over a list's items in order from an index. It ends at a gap too: an item missing
 * where the size promises one means the list is corrupt, which the caller tells by counting. */
typedef struct item_walk {
    compound_iter ci;
    uint64_t next_pos;
} item_walk;

static void item_walk_open(item_walk *w, compound *l, uint64_t from_index) {
    char from[8];
    w->next_pos = l->m.list_head + from_index;
    position_bytes(w->next_pos, from);
    compound_iter_open(&w->ci, l, from, 8);
}

/* 1 with the next item's value (valid until the next call), 0 at the end, at a gap or on a
 * read error (item_walk_close tells). */
static int item_walk_next(item_walk *w, const char **v, size_t *vlen) {
    const char *p;
    size_t plen;
    if (!compound_iter_next(&w->ci, &p, &plen, v, vlen)) return 0;
    if (plen != 8 || buf_get_u64be(p) != w->next_pos) return 0;
    w->next_pos++;
    return 1;
}

/* 0, or -1 if the walk stopped on a read error. */
STORE_MUST_CHECK static int item_walk_close(item_walk *w) { return compound_iter_close(&w->ci); }

/* Whether the items at indexes [from, from + count) are all there: ST_OK, ST_CORRUPT (a gap)
 * or ST_ERROR. It walks only what exists, so a size that lies costs no more than the items
 * stored. */
static type_status items_intact(compound *l, uint64_t from, uint64_t count) {
    if (count == 0) return ST_OK;
    item_walk w;
    item_walk_open(&w, l, from);
    const char *v;
    size_t vl;
    uint64_t seen = 0;
    while (seen < count && item_walk_next(&w, &v, &vl)) seen++;
    if (item_walk_close(&w) < 0) return ST_ERROR;
    return seen == count ? ST_OK : ST_CORRUPT;
}

/* Refuses to push n items at an end that has no room for them (list_has_room). */
static type_status room_for(const compound *l, int at_head, uint64_t n) {
    if (list_has_room(l->m.list_head, l->m.list_tail, at_head, n)) return ST_OK;
    return at_head ? ST_NO_ROOM_AT_HEAD : ST_NO_ROOM_AT_TAIL;
}

/* Pushes one value at an end (room_for said there is room). */
static void push(compound *l, int at_head, const char *v, size_t len) {
    if (at_head) item_put(l, --l->m.list_head, v, len);
    else item_put(l, l->m.list_tail++, v, len);
    l->m.size++;
}

/* Removes the item at an end (read already). */
static void drop_end(compound *l, int at_head) {
    item_del(l, at_head ? l->m.list_head : l->m.list_tail - 1);
    if (at_head) l->m.list_head++;
    else l->m.list_tail--;
    l->m.size--;
}

/* The position of the item i places from an end. */
static uint64_t from_end(const compound *l, int at_head, uint64_t i) {
    return at_head ? l->m.list_head + i : l->m.list_tail - 1 - i;
}

type_status list_length(txn *t, int db, const char *key, size_t klen, uint64_t *len) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    *len = s == ST_OK ? l.m.size : 0;
    compound_free(&l);
    return s;
}

type_status list_push(txn *t, int db, const char *key, size_t klen, int at_head, int only_existing,
                      const slice *items, long long n, uint64_t *len) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    if (s == ST_MISSING && !only_existing) s = ST_OK;
    if (s == ST_OK) s = room_for(&l, at_head, (uint64_t)n);
    if (s == ST_OK) {
        for (long long i = 0; i < n; i++) push(&l, at_head, items[i].ptr, items[i].len);
        if (n > 0) compound_save(&l); /* pushing nothing writes nothing (SORT … STORE of no rows) */
    }
    *len = l.m.size;
    compound_free(&l);
    return s;
}

type_status list_pop(txn *t, int db, const char *key, size_t klen, int at_head, long long count,
                     list_count_fn count_fn, list_item_fn item_fn, void *arg, long long *popped) {
    *popped = 0;
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    if (s != ST_OK) {
        compound_free(&l);
        return s;
    }
    uint64_t n = l.m.size < (uint64_t)count ? l.m.size : (uint64_t)count;
    count_fn(arg, n);
    /* All items are read before any is removed: if one the size promises is missing, nothing
     * is popped. */
    buf v;
    buf_init(&v);
    for (uint64_t i = 0; i < n && s == ST_OK; i++) {
        s = item_status(item_get(&l, from_end(&l, at_head, i), &v));
        if (s == ST_OK) item_fn(arg, bytes_of(&v), v.len);
    }
    buf_free(&v);
    if (s == ST_OK && n > 0) {
        for (uint64_t i = 0; i < n; i++) drop_end(&l, at_head);
        compound_save(&l);
        *popped = (long long)n;
    }
    compound_free(&l);
    return s;
}

type_status list_index(txn *t, int db, const char *key, size_t klen, long long index, buf *out) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    uint64_t pos;
    if (s == ST_OK && list_index_position(l.m.list_head, l.m.size, index, &pos) < 0) s = ST_MISSING;
    if (s == ST_OK) s = item_status(item_get(&l, pos, out)); /* within the size, so it must be there */
    compound_free(&l);
    return s;
}

type_status list_set(txn *t, int db, const char *key, size_t klen, long long index, const char *item, size_t len) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    uint64_t pos;
    if (s == ST_OK && list_index_position(l.m.list_head, l.m.size, index, &pos) < 0) s = ST_OUT_OF_RANGE;
    if (s == ST_OK) {
        item_put(&l, pos, item, len);
        txn_touch(t, db, key, klen); /* the metadata is not rewritten: WATCH is told here */
    }
    compound_free(&l);
    return s;
}

type_status list_range(txn *t, int db, const char *key, size_t klen, long long start, long long stop,
                       list_count_fn count_fn, list_item_fn item_fn, void *arg) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    if (s != ST_OK || !list_clamp_range((long long)l.m.size, &start, &stop)) {
        if (s == ST_OK || s == ST_MISSING) count_fn(arg, 0);
        compound_free(&l);
        return s;
    }
    uint64_t n = (uint64_t)(stop - start + 1), seen = 0;
    count_fn(arg, n);
    item_walk w;
    item_walk_open(&w, &l, (uint64_t)start);
    const char *v;
    size_t vl;
    int stopped = 0;
    while (seen < n && !stopped && item_walk_next(&w, &v, &vl)) {
        stopped = item_fn(arg, v, vl);
        seen++;
    }
    /* A walk cut short by a read error looks like the end: its status tells. A gap within the
     * size (the walk ended early) means the list is corrupt. */
    if (item_walk_close(&w) < 0) s = ST_ERROR;
    else if (seen < n && !stopped) s = ST_CORRUPT;
    compound_free(&l);
    return s;
}

/* Rewrites the items after a removal or insertion: moves count items starting at position
 * `from` by `shift` positions (negative = towards the head). ST_OK, or ST_CORRUPT (an item is
 * not there) or ST_ERROR when it stopped partway (the caller's writes are rolled back). */
STORE_MUST_CHECK static type_status shift_items(compound *l, uint64_t from, uint64_t count, int64_t shift) {
    buf v;
    buf_init(&v);
    type_status s = ST_OK;
    /* Moving towards the tail goes from the last item, so nothing is overwritten unread. */
    for (uint64_t k = 0; k < count && s == ST_OK; k++) {
        uint64_t pos = shift > 0 ? from + count - 1 - k : from + k;
        s = item_status(item_get(l, pos, &v));
        if (s == ST_OK) item_put(l, pos + (uint64_t)shift, bytes_of(&v), v.len);
    }
    buf_free(&v);
    return s;
}

/* The index of the first item equal to pivot in *index (-1 if none), checking that the items
 * before it (or all, when there is none) are there. */
static type_status find_pivot(compound *l, const char *pivot, size_t plen, long long *index) {
    uint64_t i = 0;
    *index = -1;
    item_walk w;
    item_walk_open(&w, l, 0);
    const char *v;
    size_t vl;
    while (item_walk_next(&w, &v, &vl)) {
        if (vl == plen && memcmp(v, pivot, vl) == 0) {
            *index = (long long)i;
            break;
        }
        i++;
    }
    if (item_walk_close(&w) < 0) return ST_ERROR;
    if (*index < 0 && i != l->m.size) return ST_CORRUPT;                       /* ended at a gap, or past the size */
    if (*index >= 0 && (uint64_t)*index >= l->m.size) return ST_CORRUPT; /* found past the size */
    return ST_OK;
}

type_status list_insert(txn *t, int db, const char *key, size_t klen, int before, const char *pivot, size_t plen,
                        const char *item, size_t len, long long *new_len) {
    *new_len = -1;
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    long long index = -1;
    if (s == ST_OK) s = find_pivot(&l, pivot, plen, &index);
    if (s != ST_OK || index < 0) {
        compound_free(&l);
        return s;
    }
    /* The new item's index; the shorter side moves out of the way. find_pivot checked the items
     * before the pivot; those after it are checked before they move. */
    uint64_t size = l.m.size, at = (uint64_t)index + (before ? 0 : 1);
    int toward_head = at < size - at;
    if (!toward_head) s = items_intact(&l, at, size - at);
    if (s == ST_OK) s = room_for(&l, toward_head, 1);
    if (s == ST_OK && toward_head) {
        s = shift_items(&l, l.m.list_head, at, -1);
        l.m.list_head--;
    } else if (s == ST_OK) {
        s = shift_items(&l, l.m.list_head + at, size - at, 1);
        l.m.list_tail++;
    }
    if (s == ST_OK) {
        item_put(&l, l.m.list_head + at, item, len);
        l.m.size++;
        compound_save(&l);
        *new_len = (long long)l.m.size;
    }
    compound_free(&l);
    return s;
}

/* Removes the items at the given (ascending) indexes, closing the gaps towards the head.
 * ST_OK, or ST_ERROR on a read error (it stopped partway). */
STORE_MUST_CHECK static type_status remove_indexes(compound *l, const uint64_t *idx, size_t n) {
    buf v;
    buf_init(&v);
    uint64_t write = idx[0], size = l->m.size;
    size_t next = 0;
    for (uint64_t read = idx[0]; read < size; read++) {
        if (next < n && idx[next] == read) {
            next++;
            continue;
        }
        int rc = item_get(l, l->m.list_head + read, &v);
        if (rc == CK_ERROR) {
            buf_free(&v);
            return ST_ERROR;
        }
        if (rc == CK_FOUND) item_put(l, l->m.list_head + write, bytes_of(&v), v.len);
        write++;
    }
    for (uint64_t pos = write; pos < size; pos++) item_del(l, l->m.list_head + pos);
    l->m.list_tail = l->m.list_head + write;
    l->m.size = write;
    buf_free(&v);
    return ST_OK;
}

/* Indexes of matches, grown as they are found. */
typedef struct index_list {
    uint64_t *idx;
    size_t n, cap;
} index_list;

static void index_add(index_list *m, uint64_t i) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->idx = realloc(m->idx, m->cap * sizeof(*m->idx));
        if (!m->idx) abort();
    }
    m->idx[m->n++] = i;
}

static void index_reverse(index_list *m) {
    if (m->n < 2) return;
    for (size_t a = 0, b = m->n - 1; a < b; a++, b--) {
        uint64_t tmp = m->idx[a];
        m->idx[a] = m->idx[b];
        m->idx[b] = tmp;
    }
}

type_status list_remove(txn *t, int db, const char *key, size_t klen, long long count, const char *item,
                        size_t len, long long *removed) {
    *removed = 0;
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    if (s != ST_OK) {
        compound_free(&l);
        return s;
    }
    uint64_t limit = count == 0 ? UINT64_MAX : (uint64_t)(count < 0 ? -(count + 1) + 1 : count);
    /* Indexes of the matches, from the head (count >= 0) or from the tail (count < 0). */
    index_list m = {0};
    buf v;
    buf_init(&v);
    uint64_t size = l.m.size, k = 0;
    for (; k < size && m.n < limit && s == ST_OK; k++) {
        uint64_t i = count < 0 ? size - 1 - k : k;
        s = item_status(item_get(&l, l.m.list_head + i, &v));
        if (s == ST_OK && v.len == len && memcmp(bytes_of(&v), item, len) == 0) index_add(&m, i);
    }
    buf_free(&v);
    /* Removing moves every item after the first match: those the scan did not read (after it
     * stopped, from the head) are checked first, so that a gap fails before any write. */
    if (s == ST_OK && m.n > 0 && count >= 0) s = items_intact(&l, k, size - k);
    if (count < 0) index_reverse(&m); /* found from the tail: put them in ascending order */
    if (s == ST_OK && m.n > 0) s = remove_indexes(&l, m.idx, m.n);
    if (s == ST_OK && m.n > 0) {
        compound_save(&l);
        *removed = (long long)m.n;
    }
    free(m.idx);
    compound_free(&l);
    return s;
}

type_status list_trim(txn *t, int db, const char *key, size_t klen, long long start, long long stop) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    long long size = (long long)l.m.size;
    if (s == ST_OK && !list_clamp_range(size, &start, &stop)) start = size, stop = size - 1; /* keeps nothing */
    /* The items to delete are checked first: deleting runs by index, so a size that lies would
     * have it run for as long as the size says. */
    if (s == ST_OK) s = items_intact(&l, 0, (uint64_t)start);
    if (s == ST_OK) s = items_intact(&l, (uint64_t)(stop + 1), (uint64_t)(size - stop - 1));
    if (s == ST_OK) {
        for (long long i = 0; i < start; i++) item_del(&l, l.m.list_head + (uint64_t)i);
        for (long long i = stop + 1; i < size; i++) item_del(&l, l.m.list_head + (uint64_t)i);
        l.m.list_tail = l.m.list_head + (uint64_t)(stop + 1);
        l.m.list_head += (uint64_t)start;
        l.m.size = (uint64_t)(stop - start + 1);
        compound_save(&l);
    }
    compound_free(&l);
    return s;
}

type_status list_pos(txn *t, int db, const char *key, size_t klen, const char *item, size_t len, long long rank,
                     long long max_matches, long long maxlen, list_match_fn match_fn, void *arg) {
    compound l;
    type_status s = list_open(&l, t, db, key, klen);
    long long size = (long long)l.m.size, skip = (rank > 0 ? rank : -rank) - 1, matches = 0;
    long long limit = max_matches == 0 ? size : max_matches;
    long long searched = maxlen == 0 || maxlen > size ? size : maxlen;
    int stopped = 0;
    buf v;
    buf_init(&v);
    for (long long k = 0; s == ST_OK && k < searched && matches < limit && !stopped; k++) {
        long long i = rank > 0 ? k : size - 1 - k;
        s = item_status(item_get(&l, l.m.list_head + (uint64_t)i, &v));
        if (s != ST_OK || v.len != len || memcmp(bytes_of(&v), item, len) != 0) continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        stopped = match_fn(arg, i);
        matches++;
    }
    buf_free(&v);
    compound_free(&l);
    return s;
}

/* Pops one item from an end into out: ST_OK, ST_MISSING if the list is empty, ST_CORRUPT if
 * the item the size promises is missing, or ST_ERROR. */
static type_status pop_one(compound *l, int at_head, buf *out) {
    if (l->m.size == 0) return ST_MISSING;
    type_status s = item_status(item_get(l, from_end(l, at_head, 0), out));
    if (s == ST_OK) drop_end(l, at_head);
    return s;
}

/* Moves one item from an end of src to an end of dst (the same compound when a list rotates). */
static type_status move_item(compound *src, compound *dst, int from_head, int to_head, buf *moved) {
    /* Rotating a list at one end fills the position the pop frees. */
    type_status s = src == dst && from_head == to_head ? ST_OK : room_for(dst, to_head, 1);
    if (s == ST_OK) s = pop_one(src, from_head, moved);
    if (s != ST_OK) return s;
    push(dst, to_head, bytes_of(moved), moved->len);
    compound_save(src);
    if (dst != src) compound_save(dst);
    return ST_OK;
}

type_status list_move(txn *t, int db, const char *src, size_t slen, const char *dst, size_t dlen, int from_head,
                      int to_head, buf *moved, int *at_dst) {
    *at_dst = 0;
    compound from;
    type_status s = list_open(&from, t, db, src, slen);
    if (s != ST_OK) {
        compound_free(&from);
        return s;
    }
    if (slen == dlen && memcmp(src, dst, slen) == 0) {
        s = move_item(&from, &from, from_head, to_head, moved);
        compound_free(&from);
        return s;
    }
    compound to;
    s = list_open(&to, t, db, dst, dlen);
    if (s == ST_OK || s == ST_MISSING) s = move_item(&from, &to, from_head, to_head, moved);
    else *at_dst = 1;
    compound_free(&to);
    compound_free(&from);
    return s;
}

int list_index_position(uint64_t head, uint64_t size, long long index, uint64_t *pos) {
    long long n = (long long)size;
    if (index < 0) index += n;
    if (index < 0 || index >= n) return -1;
    *pos = head + (uint64_t)index;
    return 0;
}

int list_clamp_range(long long size, long long *start, long long *stop) {
    if (*start < 0) *start += size;
    if (*stop < 0) *stop += size;
    if (*start < 0) *start = 0;
    if (*stop >= size) *stop = size - 1;
    return *start <= *stop && *start < size;
}

int list_has_room(uint64_t head, uint64_t tail, int at_head, uint64_t n) {
    return at_head ? n <= head : n <= UINT64_MAX - tail;
}
