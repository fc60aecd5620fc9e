/* List commands. Items are subkeys indexed by a u64 position; the metadata's head and tail
 * bound them (head ≤ i < tail), so both ends and any index are reached by arithmetic. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "cmd/members.h"
#include "types/compound.h"
#include "types/keyspace.h"
#include "types/list.h"
#include "util/num.h"

static int open_list_at(cmd_ctx *ctx, compound *l, const resp_arg *key) {
    if (members_open(ctx, l, key, TYPE_LIST) < 0) return -1;
    if (!l->found) l->m.list_head = l->m.list_tail = LIST_INITIAL_INDEX; /* a new list */
    return 0;
}

static int open_list(cmd_ctx *ctx, compound *l) { return open_list_at(ctx, l, &ctx->argv[1]); }

/* The subkey suffix of a position: 8 big-endian bytes. */
static void position_bytes(uint64_t pos, char out[8]) { buf_set_u64be(out, pos); }

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

/* Whether the items at indexes [from, from + count) are all there: CK_FOUND, CK_MISSING (a gap)
 * or CK_ERROR. It walks only what exists, so a size that lies costs no more than the items
 * stored. */
static int items_intact(compound *l, uint64_t from, uint64_t count) {
    if (count == 0) return CK_FOUND;
    item_walk w;
    item_walk_open(&w, l, from);
    const char *v;
    size_t vl;
    uint64_t seen = 0;
    while (seen < count && item_walk_next(&w, &v, &vl)) seen++;
    if (item_walk_close(&w) < 0) return CK_ERROR;
    return seen == count ? CK_FOUND : CK_MISSING;
}

/* Replies the error for an item read that failed: CK_MISSING (an item the size promises is
 * not there) or CK_CORRUPT mean a corrupt list, CK_ERROR a storage error. */
static void reply_item_error(cmd_ctx *ctx, const resp_arg *key, int rc) {
    if (rc == CK_ERROR) reply_storage_error(ctx);
    else reply_corrupt(ctx, key->ptr, key->len);
}

/* Refuses to push n items at an end that has no room for them (list_has_room): replies the
 * error and returns -1, before anything is written. */
static int check_room(cmd_ctx *ctx, const compound *l, int left, uint64_t n) {
    if (list_has_room(l->m.list_head, l->m.list_tail, left, n)) return 0;
    reply_error(ctx->r, left ? "ERR no room left at the head of the list" : "ERR no room left at the tail of the list");
    return -1;
}

/* Pushes one value at an end (check_room said there is room). */
static void push(compound *l, int left, const char *v, size_t len) {
    if (left) {
        item_put(l, --l->m.list_head, v, len);
    } else {
        item_put(l, l->m.list_tail++, v, len);
    }
    l->m.size++;
}

/* Removes the item at an end (read already). */
static void drop_end(compound *l, int left) {
    item_del(l, left ? l->m.list_head : l->m.list_tail - 1);
    if (left) l->m.list_head++;
    else l->m.list_tail--;
    l->m.size--;
}

/* Pops one value from an end into out: CK_FOUND, CK_MISSING if the list is empty, CK_CORRUPT
 * if the item the size promises is missing, or CK_ERROR. */
static int pop(compound *l, int left, buf *out) {
    if (l->m.size == 0) return CK_MISSING;
    int rc = item_get(l, left ? l->m.list_head : l->m.list_tail - 1, out);
    if (rc != CK_FOUND) return rc == CK_MISSING ? CK_CORRUPT : rc;
    drop_end(l, left);
    return CK_FOUND;
}

/* LPUSH, RPUSH, LPUSHX, RPUSHX. */
static void push_generic(cmd_ctx *ctx, int left, int only_existing) {
    compound l;
    if (open_list(ctx, &l) < 0) return;
    if (only_existing && !l.found) {
        reply_int(ctx->r, 0);
        compound_free(&l);
        return;
    }
    if (check_room(ctx, &l, left, (uint64_t)(ctx->argc - 2)) < 0) {
        compound_free(&l);
        return;
    }
    effect e;
    effect_init(&e, TYPE_LIST, left ? "LPUSH" : "RPUSH", &ctx->argv[1], ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        push(&l, left, ctx->argv[i].ptr, ctx->argv[i].len);
        effect_add(&e, ctx->argv[i].ptr, ctx->argv[i].len);
    }
    compound_save(&l);
    effect_finish(ctx, &e, 3);
    reply_int(ctx->r, (long long)l.m.size);
    compound_free(&l);
}

void cmd_lpush(cmd_ctx *ctx) { push_generic(ctx, 1, 0); }
void cmd_rpush(cmd_ctx *ctx) { push_generic(ctx, 0, 0); }
void cmd_lpushx(cmd_ctx *ctx) { push_generic(ctx, 1, 1); }
void cmd_rpushx(cmd_ctx *ctx) { push_generic(ctx, 0, 1); }

/* Pops up to count items from one end of an open list, replying them and recording the pop
 * as LPOP/RPOP key count. as_array: reply an array (a count was given). All items are read
 * before any is removed: if one the size promises is missing, nothing is popped and the
 * reply since mark becomes the corrupt-key error. Returns how many, or -1 after an error. */
static long long list_pop_reply(cmd_ctx *ctx, compound *l, const resp_arg *key, int left, long long count,
                                int as_array, size_t mark) {
    long long n = (long long)l->m.size < count ? (long long)l->m.size : count;
    if (as_array) reply_array(ctx->r, n);
    buf v;
    buf_init(&v);
    int rc = CK_FOUND;
    for (long long i = 0; i < n && rc == CK_FOUND; i++) {
        rc = item_get(l, left ? l->m.list_head + (uint64_t)i : l->m.list_tail - 1 - (uint64_t)i, &v);
        if (rc == CK_FOUND) reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    }
    buf_free(&v);
    if (rc != CK_FOUND) {
        ctx->r->out->len = mark;
        reply_item_error(ctx, key, rc);
        return -1;
    }
    for (long long i = 0; i < n; i++) drop_end(l, left);
    if (n > 0) {
        compound_save(l);
        char num[24];
        const char *argv[3] = {left ? "LPOP" : "RPOP", key->ptr, num};
        size_t lens[3] = {4, key->len, num_format_ll(num, n)};
        cmd_record(ctx, TYPE_LIST, 3, argv, lens);
    }
    return n;
}

static void pop_generic(cmd_ctx *ctx, int left) {
    long long count = 1;
    int has_count = ctx->argc == 3;
    if (ctx->argc > 3) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    if (has_count && (arg_parse_ll(&ctx->argv[2], &count) < 0 || count < 0)) {
        reply_error(ctx->r, "ERR value is out of range, must be positive");
        return;
    }
    compound l;
    if (open_list(ctx, &l) < 0) return;
    if (!l.found) {
        if (has_count) reply_null_array(ctx->r);
        else reply_null(ctx->r);
    } else {
        list_pop_reply(ctx, &l, &ctx->argv[1], left, count, has_count, ctx->r->out->len);
    }
    compound_free(&l);
}

void cmd_lpop(cmd_ctx *ctx) { pop_generic(ctx, 1); }
void cmd_rpop(cmd_ctx *ctx) { pop_generic(ctx, 0); }

void cmd_llen(cmd_ctx *ctx) {
    compound l;
    if (open_list(ctx, &l) < 0) return;
    reply_int(ctx->r, (long long)l.m.size);
    compound_free(&l);
}

static int index_position(const compound *l, long long index, uint64_t *pos) {
    return list_index_position(l->m.list_head, l->m.size, index, pos);
}

void cmd_lindex(cmd_ctx *ctx) {
    long long index;
    if (arg_ll(ctx, &ctx->argv[2], &index) < 0) return;
    compound l;
    if (open_list(ctx, &l) < 0) return;
    uint64_t pos;
    buf v;
    buf_init(&v);
    int rc = CK_FOUND;
    if (index_position(&l, index, &pos) < 0) reply_null(ctx->r);
    else if ((rc = item_get(&l, pos, &v)) == CK_FOUND) reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    else reply_item_error(ctx, &ctx->argv[1], rc); /* within the size, yet not there */
    buf_free(&v);
    compound_free(&l);
}

void cmd_lset(cmd_ctx *ctx) {
    long long index;
    if (arg_ll(ctx, &ctx->argv[2], &index) < 0) return;
    compound l;
    if (open_list(ctx, &l) < 0) return;
    uint64_t pos;
    if (!l.found) {
        reply_error(ctx->r, "ERR no such key");
    } else if (index_position(&l, index, &pos) < 0) {
        reply_error(ctx->r, "ERR index out of range");
    } else {
        item_put(&l, pos, ctx->argv[3].ptr, ctx->argv[3].len);
        const char *argv[4] = {"LSET", ctx->argv[1].ptr, ctx->argv[2].ptr, ctx->argv[3].ptr};
        size_t lens[4] = {4, ctx->argv[1].len, ctx->argv[2].len, ctx->argv[3].len};
        cmd_record(ctx, TYPE_LIST, 4, argv, lens);
        txn_touch(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len);
        reply_ok(ctx->r);
    }
    compound_free(&l);
}


void cmd_lrange(cmd_ctx *ctx) {
    long long start, stop;
    if (arg_ll(ctx, &ctx->argv[2], &start) < 0 || arg_ll(ctx, &ctx->argv[3], &stop) < 0) return;
    compound l;
    if (open_list(ctx, &l) < 0) return;
    if (!list_clamp_range((long long)l.m.size, &start, &stop)) {
        reply_array(ctx->r, 0);
        compound_free(&l);
        return;
    }
    long long n = stop - start + 1, seen = 0;
    reply_array(ctx->r, n);
    item_walk w;
    item_walk_open(&w, &l, (uint64_t)start);
    const char *v;
    size_t vl;
    /* A reply cut at the client's bound stops short: it is not sent anyway. */
    while (seen < n && !reply_was_cut(ctx->r) && item_walk_next(&w, &v, &vl)) {
        reply_bulk(ctx->r, v, vl);
        seen++;
    }
    /* A walk cut short by a read error looks like the end: its status tells. */
    if (item_walk_close(&w) < 0) reply_storage_error(ctx);
    /* The header promised n items: a gap within the size means the list is corrupt. */
    else if (seen < n && !reply_was_cut(ctx->r)) reply_corrupt(ctx, ctx->argv[1].ptr, ctx->argv[1].len);
    compound_free(&l);
}

/* Rewrites the items after a removal or insertion: moves count items starting at position
 * `from` by `shift` positions (negative = towards the head). Returns CK_FOUND, or CK_MISSING
 * (an item is not there) or CK_ERROR when it stopped partway. */
STORE_MUST_CHECK static int shift_items(compound *l, uint64_t from, uint64_t count, int64_t shift) {
    buf v;
    buf_init(&v);
    int rc = CK_FOUND;
    /* Moving towards the tail goes from the last item, so nothing is overwritten unread. */
    for (uint64_t k = 0; k < count && rc == CK_FOUND; k++) {
        uint64_t pos = shift > 0 ? from + count - 1 - k : from + k;
        rc = item_get(l, pos, &v);
        if (rc == CK_FOUND) item_put(l, pos + (uint64_t)shift, v.data ? v.data : "", v.len);
    }
    buf_free(&v);
    return rc;
}

void cmd_linsert(cmd_ctx *ctx) {
    int before = arg_is(&ctx->argv[2], "before");
    if (!before && !arg_is(&ctx->argv[2], "after")) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    compound l;
    if (open_list(ctx, &l) < 0) return;
    if (!l.found) {
        reply_int(ctx->r, 0);
        compound_free(&l);
        return;
    }
    const resp_arg *pivot = &ctx->argv[3], *value = &ctx->argv[4];
    long long index = -1;
    uint64_t i = 0, size = l.m.size;
    item_walk w;
    item_walk_open(&w, &l, 0);
    const char *v;
    size_t vl;
    while (item_walk_next(&w, &v, &vl)) {
        if (vl == pivot->len && memcmp(v, pivot->ptr, vl) == 0) {
            index = (long long)i;
            break;
        }
        i++;
    }
    /* The new item's index; the shorter side moves out of the way. The walk checked the items
     * before the pivot; those after it are checked before they move. */
    uint64_t at = (uint64_t)index + (before ? 0 : 1);
    int rc = item_walk_close(&w) < 0 ? CK_ERROR : CK_FOUND;
    if (rc == CK_FOUND && index < 0 && i != size) rc = CK_MISSING; /* the walk ended at a gap, or past the size */
    if (rc == CK_FOUND && index >= 0 && (uint64_t)index >= size) rc = CK_MISSING;
    if (rc == CK_FOUND && index >= 0 && at >= size - at) rc = items_intact(&l, at, size - at);
    if (rc != CK_FOUND || index < 0) {
        if (rc != CK_FOUND) reply_item_error(ctx, &ctx->argv[1], rc);
        else reply_int(ctx->r, -1);
        compound_free(&l);
        return;
    }
    int toward_head = at < size - at;
    if (check_room(ctx, &l, toward_head, 1) < 0) {
        compound_free(&l);
        return;
    }
    if (toward_head) {
        rc = shift_items(&l, l.m.list_head, at, -1);
        l.m.list_head--;
    } else {
        rc = shift_items(&l, l.m.list_head + at, size - at, 1);
        l.m.list_tail++;
    }
    if (rc != CK_FOUND) { /* what it moved so far is rolled back with the command */
        reply_item_error(ctx, &ctx->argv[1], rc);
        compound_free(&l);
        return;
    }
    item_put(&l, l.m.list_head + at, value->ptr, value->len);
    l.m.size++;
    compound_save(&l);
    const char *argv[5] = {"LINSERT", ctx->argv[1].ptr, before ? "BEFORE" : "AFTER", pivot->ptr, value->ptr};
    size_t lens[5] = {7, ctx->argv[1].len, before ? 6 : 5, pivot->len, value->len};
    cmd_record(ctx, TYPE_LIST, 5, argv, lens);
    reply_int(ctx->r, (long long)l.m.size);
    compound_free(&l);
}

/* Removes the items at the given (sorted) indexes, closing the gaps towards the head. Returns
 * 0, or -1 on a read error (the command must fail: it stopped partway). */
STORE_MUST_CHECK static int remove_indexes(compound *l, const uint64_t *idx, size_t n) {
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
        if (rc < 0) {
            buf_free(&v);
            return -1;
        }
        if (rc == 1) item_put(l, l->m.list_head + write, v.data ? v.data : "", v.len);
        write++;
    }
    for (uint64_t pos = write; pos < size; pos++) item_del(l, l->m.list_head + pos);
    l->m.list_tail = l->m.list_head + write;
    l->m.size = write;
    buf_free(&v);
    return 0;
}

void cmd_lrem(cmd_ctx *ctx) {
    long long count;
    if (arg_ll(ctx, &ctx->argv[2], &count) < 0) return;
    compound l;
    if (open_list(ctx, &l) < 0) return;
    const resp_arg *value = &ctx->argv[3];
    uint64_t *idx = NULL;
    size_t n = 0, cap = 0;
    uint64_t limit = count == 0 ? UINT64_MAX : (uint64_t)(count < 0 ? -(count + 1) + 1 : count);
    /* Indexes of the matches, from the head (count >= 0) or from the tail (count < 0). */
    buf v;
    buf_init(&v);
    uint64_t size = l.m.size, k = 0;
    int rc = CK_FOUND;
    for (; k < size && n < limit && rc == CK_FOUND; k++) {
        uint64_t i = count < 0 ? size - 1 - k : k;
        rc = item_get(&l, l.m.list_head + i, &v);
        if (rc != CK_FOUND || v.len != value->len || memcmp(v.data, value->ptr, v.len) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            idx = realloc(idx, cap * sizeof(*idx));
            if (!idx) abort();
        }
        idx[n++] = i;
    }
    buf_free(&v);
    /* Removing moves every item after the first match: those the scan did not read (after it
     * stopped, from the head) are checked first, so that a gap fails before any write. */
    if (rc == CK_FOUND && n > 0 && count >= 0) rc = items_intact(&l, k, size - k);
    if (rc == CK_FOUND && n > 0 && count < 0) /* found from the tail: put them in ascending order */
        for (size_t a = 0, b = n - 1; a < b; a++, b--) {
            uint64_t t = idx[a];
            idx[a] = idx[b];
            idx[b] = t;
        }
    if (rc == CK_FOUND && n > 0 && remove_indexes(&l, idx, n) < 0) rc = CK_ERROR;
    if (rc != CK_FOUND) {
        reply_item_error(ctx, &ctx->argv[1], rc);
    } else if (n > 0) {
        compound_save(&l);
        const char *argv[4] = {"LREM", ctx->argv[1].ptr, ctx->argv[2].ptr, value->ptr};
        size_t lens[4] = {4, ctx->argv[1].len, ctx->argv[2].len, value->len};
        cmd_record(ctx, TYPE_LIST, 4, argv, lens);
    }
    free(idx);
    if (rc == CK_FOUND) reply_int(ctx->r, (long long)n);
    compound_free(&l);
}

void cmd_ltrim(cmd_ctx *ctx) {
    long long start, stop;
    if (arg_ll(ctx, &ctx->argv[2], &start) < 0 || arg_ll(ctx, &ctx->argv[3], &stop) < 0) return;
    compound l;
    if (open_list(ctx, &l) < 0) return;
    long long size = (long long)l.m.size;
    if (l.found && !list_clamp_range(size, &start, &stop)) start = size, stop = size - 1; /* keeps nothing */
    /* The items to delete are checked first: deleting runs by index, so a size that lies would
     * have it run for as long as the size says. */
    int rc = l.found ? items_intact(&l, 0, (uint64_t)start) : CK_FOUND;
    if (rc == CK_FOUND && l.found) rc = items_intact(&l, (uint64_t)(stop + 1), (uint64_t)(size - stop - 1));
    if (rc != CK_FOUND) {
        reply_item_error(ctx, &ctx->argv[1], rc);
        compound_free(&l);
        return;
    }
    if (l.found) {
        for (long long i = 0; i < start; i++) item_del(&l, l.m.list_head + (uint64_t)i);
        for (long long i = stop + 1; i < size; i++) item_del(&l, l.m.list_head + (uint64_t)i);
        l.m.list_tail = l.m.list_head + (uint64_t)(stop + 1);
        l.m.list_head += (uint64_t)start;
        l.m.size = (uint64_t)(stop - start + 1);
        compound_save(&l);
        const char *argv[4] = {"LTRIM", ctx->argv[1].ptr, ctx->argv[2].ptr, ctx->argv[3].ptr};
        size_t lens[4] = {5, ctx->argv[1].len, ctx->argv[2].len, ctx->argv[3].len};
        cmd_record(ctx, TYPE_LIST, 4, argv, lens);
    }
    reply_ok(ctx->r);
    compound_free(&l);
}

void cmd_lpos(cmd_ctx *ctx) {
    long long rank = 1, count = -1, maxlen = 0;
    for (int i = 3; i < ctx->argc; i += 2) {
        const resp_arg *a = &ctx->argv[i];
        if (i + 1 >= ctx->argc) goto syntax;
        long long v;
        if (arg_ll(ctx, &ctx->argv[i + 1], &v) < 0) return;
        if (arg_is(a, "rank")) {
            if (v == 0 || v == LLONG_MIN) {
                reply_error(ctx->r, "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second "
                                    "... or use negative to start from the end of the list");
                return;
            }
            rank = v;
        } else if (arg_is(a, "count")) {
            if (v < 0) {
                reply_error(ctx->r, "ERR COUNT can't be negative");
                return;
            }
            count = v;
        } else if (arg_is(a, "maxlen")) {
            if (v < 0) {
                reply_error(ctx->r, "ERR MAXLEN can't be negative");
                return;
            }
            maxlen = v;
        } else {
            goto syntax;
        }
    }
    compound l;
    if (open_list(ctx, &l) < 0) return;
    const resp_arg *want = &ctx->argv[2];
    long long size = (long long)l.m.size, skip = (rank > 0 ? rank : -rank) - 1, matches = 0;
    long long limit = count < 0 ? 1 : (count == 0 ? size : count);
    buf found, v;
    buf_init(&found);
    buf_init(&v);
    reply sub = reply_part(ctx->r, &found);
    int rc = CK_FOUND;
    long long searched = maxlen == 0 || maxlen > size ? size : maxlen;
    /* A reply cut at the client's bound ends the search: it is not sent anyway. */
    for (long long k = 0; k < searched && matches < limit && rc == CK_FOUND && !reply_was_cut(&sub); k++) {
        long long i = rank > 0 ? k : size - 1 - k;
        rc = item_get(&l, l.m.list_head + (uint64_t)i, &v);
        if (rc != CK_FOUND || v.len != want->len || memcmp(v.data, want->ptr, v.len) != 0) continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        reply_int(&sub, i);
        matches++;
    }
    if (rc != CK_FOUND) {
        reply_item_error(ctx, &ctx->argv[1], rc);
    } else if (count >= 0) {
        reply_array(ctx->r, matches);
        reply_append_part(ctx->r, &found);
    } else if (matches) {
        reply_append_part(ctx->r, &found);
    } else {
        reply_null(ctx->r);
    }
    buf_free(&found);
    buf_free(&v);
    compound_free(&l);
    return;
syntax:
    reply_error(ctx->r, ERR_SYNTAX);
}

static int parse_side(const resp_arg *a, int *left) {
    if (arg_is(a, "left")) *left = 1;
    else if (arg_is(a, "right")) *left = 0;
    else return -1;
    return 0;
}

/* Moves one item between lists (the same list rotates). Returns 1 moved, 0 source empty,
 * -1 after replying an error. The moved value is replied when reply_value is set. */
int list_move(cmd_ctx *ctx, const resp_arg *src_key, const resp_arg *dst_key, int from_left, int to_left) {
    compound src, dst;
    if (open_list_at(ctx, &src, src_key) < 0) return -1;
    if (!src.found) {
        compound_free(&src);
        return 0;
    }
    int same = src_key->len == dst_key->len && memcmp(src_key->ptr, dst_key->ptr, src_key->len) == 0;
    if (!same && open_list_at(ctx, &dst, dst_key) < 0) {
        compound_free(&src);
        return -1;
    }
    compound *target = same ? &src : &dst;
    /* Rotating a list at one end fills the position the pop frees. */
    if (!(same && from_left == to_left) && check_room(ctx, target, to_left, 1) < 0) {
        compound_free(&src);
        if (!same) compound_free(&dst);
        return -1;
    }
    buf v;
    buf_init(&v);
    int rc = pop(&src, from_left, &v);
    if (rc == CK_FOUND) {
        push(target, to_left, v.data ? v.data : "", v.len);
        compound_save(&src);
        if (!same) compound_save(&dst);
        const char *argv[5] = {"LMOVE", src_key->ptr, dst_key->ptr, from_left ? "LEFT" : "RIGHT",
                               to_left ? "LEFT" : "RIGHT"};
        size_t lens[5] = {5, src_key->len, dst_key->len, from_left ? 4 : 5, to_left ? 4 : 5};
        cmd_record(ctx, TYPE_LIST, 5, argv, lens);
        reply_bulk(ctx->r, v.data ? v.data : "", v.len);
    } else if (rc != CK_MISSING) {
        reply_item_error(ctx, src_key, rc);
        rc = -1;
    }
    buf_free(&v);
    compound_free(&src);
    if (!same) compound_free(&dst);
    return rc;
}

void cmd_lmove(cmd_ctx *ctx) {
    int from_left, to_left;
    if (parse_side(&ctx->argv[3], &from_left) < 0 || parse_side(&ctx->argv[4], &to_left) < 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (list_move(ctx, &ctx->argv[1], &ctx->argv[2], from_left, to_left) == 0) reply_null(ctx->r);
}

void cmd_rpoplpush(cmd_ctx *ctx) {
    if (list_move(ctx, &ctx->argv[1], &ctx->argv[2], 0, 1) == 0) reply_null(ctx->r);
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], from argument `first` (numkeys).
 * Returns 1 popped (replied), 0 all empty (nothing replied), -1 after an error reply. */
int list_mpop(cmd_ctx *ctx, int first) {
    int nkeys, right;
    long long count;
    if (parse_mpop(ctx, first, "left", "right", &nkeys, &right, &count) < 0) return -1;
    for (int i = first + 1; i <= first + nkeys; i++) {
        compound l;
        if (open_list_at(ctx, &l, &ctx->argv[i]) < 0) return -1;
        if (l.found) {
            size_t mark = ctx->r->out->len;
            reply_array(ctx->r, 2);
            reply_bulk(ctx->r, ctx->argv[i].ptr, ctx->argv[i].len);
            long long popped = list_pop_reply(ctx, &l, &ctx->argv[i], !right, count, 1, mark);
            compound_free(&l);
            return popped < 0 ? -1 : 1;
        }
        compound_free(&l);
    }
    return 0;
}

void cmd_lmpop(cmd_ctx *ctx) {
    if (list_mpop(ctx, 1) == 0) reply_null_array(ctx->r);
}

/* BLPOP / BRPOP: the first non-empty list, popped at one end. */
static void bpop_generic(cmd_ctx *ctx, int left) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, &ctx->argv[ctx->argc - 1], &timeout) < 0) return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        compound l;
        if (open_list_at(ctx, &l, &ctx->argv[i]) < 0) return;
        if (l.found) {
            size_t mark = ctx->r->out->len;
            reply_array(ctx->r, 2);
            reply_bulk(ctx->r, ctx->argv[i].ptr, ctx->argv[i].len);
            list_pop_reply(ctx, &l, &ctx->argv[i], left, 1, 0, mark);
            compound_free(&l);
            return;
        }
        compound_free(&l);
    }
    blocking_wait_or_nil(ctx, timeout, 0);
}

void cmd_blpop(cmd_ctx *ctx) { bpop_generic(ctx, 1); }
void cmd_brpop(cmd_ctx *ctx) { bpop_generic(ctx, 0); }

static void bmove_generic(cmd_ctx *ctx, int from_left, int to_left, const resp_arg *timeout_arg) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, timeout_arg, &timeout) < 0) return;
    if (list_move(ctx, &ctx->argv[1], &ctx->argv[2], from_left, to_left) == 0) blocking_wait_or_nil(ctx, timeout, 1);
}

void cmd_blmove(cmd_ctx *ctx) {
    int from_left, to_left;
    if (parse_side(&ctx->argv[3], &from_left) < 0 || parse_side(&ctx->argv[4], &to_left) < 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    bmove_generic(ctx, from_left, to_left, &ctx->argv[5]);
}

void cmd_brpoplpush(cmd_ctx *ctx) { bmove_generic(ctx, 0, 1, &ctx->argv[3]); }

void cmd_blmpop(cmd_ctx *ctx) {
    int64_t timeout;
    if (blocking_parse_timeout(ctx, &ctx->argv[1], &timeout) < 0) return;
    if (list_mpop(ctx, 2) == 0) blocking_wait_or_nil(ctx, timeout, 0);
}

int list_replace(cmd_ctx *ctx, const resp_arg *key, const char *const *items, const size_t *lens, long long n) {
    if (replace_key(ctx, key) < 0) {
        reply_storage_error(ctx);
        return -1;
    }
    compound l; /* deleted above: it opens as a new, empty list */
    if (open_list_at(ctx, &l, key) < 0) return -1;
    effect e;
    effect_init(&e, TYPE_LIST, "RPUSH", key, (int)n);
    for (long long i = 0; i < n; i++) {
        push(&l, 0, items[i], lens[i]);
        effect_add(&e, items[i], lens[i]);
    }
    if (n) compound_save(&l);
    effect_finish(ctx, &e, 3);
    compound_free(&l);
    return 0;
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The lists commands. */
static const cmd_def list_defs[] = {
    {"lpush", -3, W | F | OOM, 1, 1, 1, cmd_lpush, "list", "@write @list @fast",
     "Prepends items to a list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"rpush", -3, W | F | OOM, 1, 1, 1, cmd_rpush, "list", "@write @list @fast",
     "Appends items to a list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"lpushx", -3, W | F | OOM, 1, 1, 1, cmd_lpushx, "list", "@write @list @fast",
     "Prepends items to an existing list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"rpushx", -3, W | F | OOM, 1, 1, 1, cmd_rpushx, "list", "@write @list @fast",
     "Appends items to an existing list.",
     "key:key@0 element...", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"lpop", -2, W | F, 1, 1, 1, cmd_lpop, "list", "@write @list @fast",
     "Removes and returns the first items.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"rpop", -2, W | F, 1, 1, 1, cmd_rpop, "list", "@write @list @fast",
     "Removes and returns the last items.",
     "key:key@0 [count:int]", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1))},
    {"llen", 2, R | F, 1, 1, 1, cmd_llen, "list", "@read @list @fast",
     "Returns the length of a list.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"lindex", 3, R, 1, 1, 1, cmd_lindex, "list", "@read @list @slow",
     "Returns the item at an index.",
     "key:key@0 index:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"lset", 4, W | OOM, 1, 1, 1, cmd_lset, "list", "@write @list @slow",
     "Sets the item at an index.",
     "key:key@0 index:int element", KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"lrange", 4, R, 1, 1, 1, cmd_lrange, "list", "@read @list @slow",
     "Returns a range of items.",
     "key:key@0 start:int stop:int", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"linsert", 5, W | OOM, 1, 1, 1, cmd_linsert, "list", "@write @list @slow",
     "Inserts an item before or after another.",
     "key:key@0 where(BEFORE|AFTER) pivot element", KEYS(RANGE(KEY_RW | KEY_INSERT, 1, 0, 1))},
    {"lrem", 4, W, 1, 1, 1, cmd_lrem, "list", "@write @list @slow",
     "Removes items equal to a value.",
     "key:key@0 count:int element", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"ltrim", 4, W, 1, 1, 1, cmd_ltrim, "list", "@write @list @slow",
     "Keeps only a range of items.",
     "key:key@0 start:int stop:int", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"lpos", -3, R, 1, 1, 1, cmd_lpos, "list", "@read @list @slow",
     "Returns the index of matching items.",
     "key:key@0 element [RANK rank:int] [COUNT num-matches:int] [MAXLEN len:int]",
     KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"lmove", 5, W | OOM, 1, 2, 1, cmd_lmove, "list", "@write @list @slow",
     "Moves an item from a list to another.",
     "source:key@0 destination:key@1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT)",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"rpoplpush", 3, W | OOM, 1, 2, 1, cmd_rpoplpush, "list", "@write @list @slow",
     "Moves the last item of a list to the front of another.",
     "source:key@0 destination:key@1",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"lmpop", -4, W, 0, 0, 0, cmd_lmpop, "list", "@write @list @slow",
     "Pops items from the first non-empty list.",
     "numkeys:int key:key@0... where(LEFT|RIGHT) [COUNT count:int]",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1, 1))},
    {"blpop", -3, W | B | NOSCRIPT, 1, -2, 1, cmd_blpop, "list", "@write @list @slow @blocking",
     "Pops the first item of the first non-empty list, waiting for one.",
     "key:key@0... timeout:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, -2, 1))},
    {"brpop", -3, W | B | NOSCRIPT, 1, -2, 1, cmd_brpop, "list", "@write @list @slow @blocking",
     "Pops the last item of the first non-empty list, waiting for one.",
     "key:key@0... timeout:double", KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, -2, 1))},
    {"blmove", 6, W | B | OOM | NOSCRIPT, 1, 2, 1, cmd_blmove, "list", "@write @list @slow @blocking",
     "Moves an item between lists, waiting for one.",
     "source:key@0 destination:key@1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT) timeout:double",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"brpoplpush", 4, W | B | OOM | NOSCRIPT, 1, 2, 1, cmd_brpoplpush, "list", "@write @list @slow @blocking",
     "RPOPLPUSH, waiting for an item.",
     "source:key@0 destination:key@1 timeout:double",
     KEYS(RANGE(KEY_RW | KEY_ACCESS | KEY_DELETE, 1, 0, 1), RANGE(KEY_RW | KEY_INSERT, 2, 0, 1))},
    {"blmpop", -5, W | B, 0, 0, 0, cmd_blmpop, "list", "@write @list @slow @blocking",
     "LMPOP, waiting for an item.",
     "timeout:double numkeys:int key:key@0... where(LEFT|RIGHT) [COUNT count:int]",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_DELETE, 2, 0, 1, 1))}
};
const cmd_family list_commands = {list_defs, sizeof(list_defs) / sizeof(list_defs[0])};
