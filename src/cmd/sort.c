/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE dst]
 * over lists, sets and sorted sets. */
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "types/compound.h"
#include "types/hash.h"
#include "types/keyspace.h"
#include "types/sort.h"
#include "types/string.h"
#include "util/num.h"

typedef struct sort_item {
    buf value;
    buf weight;      /* the BY value (ALPHA) */
    double score;    /* the BY value (numeric) */
    int has_weight;
    int null_weight; /* BY named a missing key or field: sorts first in ALPHA */
} sort_item;

typedef struct sort_opts {
    const resp_arg *by;
    int nosort, desc, alpha;
    long long offset, count;
    const resp_arg **gets;
    int ngets;
    const resp_arg *store;
} sort_opts;

/* Looks up what a BY/GET pattern names for an element: the first '*' replaced by it, and
 * "key->field" reading a hash field. Returns 1 found (value in out), 0 missing. */
static int pattern_lookup(cmd_ctx *ctx, const resp_arg *pattern, const buf *elem, buf *out) {
    if (pattern->len == 1 && pattern->ptr[0] == '#') {
        buf_append(out, elem->data ? elem->data : "", elem->len);
        return 1;
    }
    const char *star = memchr(pattern->ptr, '*', pattern->len);
    if (!star) return 0;
    const char *arrow = NULL;
    for (const char *p = star + 1; p + 1 < pattern->ptr + pattern->len; p++)
        if (p[0] == '-' && p[1] == '>') arrow = p;
    const char *end = arrow ? arrow : pattern->ptr + pattern->len;
    buf key;
    buf_init(&key);
    buf_append(&key, pattern->ptr, (size_t)(star - pattern->ptr));
    buf_append(&key, elem->data ? elem->data : "", elem->len);
    buf_append(&key, star + 1, (size_t)(end - star - 1));
    int found = 0;
    ks_keep_expired(ctx->t, 1); /* the key is not locked by SORT */
    if (arrow) {
        size_t flen = (size_t)(pattern->ptr + pattern->len - arrow - 2);
        found = hash_get(ctx->t, ctx->db, key.data, key.len, arrow + 2, flen, out) == ST_OK;
    } else {
        string_val v;
        string_val_init(&v);
        if (string_get(ctx->t, ctx->db, key.data, key.len, &v) == ST_OK) {
            buf_append(out, v.ptr, v.len);
            found = 1;
        }
        string_val_free(&v);
    }
    ks_keep_expired(ctx->t, 0);
    buf_free(&key);
    return found;
}

static void free_items(sort_item *items, long long n) {
    for (long long i = 0; i < n; i++) {
        buf_free(&items[i].value);
        buf_free(&items[i].weight);
    }
    free(items);
}

static int parse_sort(cmd_ctx *ctx, sort_opts *o) {
    memset(o, 0, sizeof(*o));
    o->count = -1;
    o->gets = malloc((size_t)ctx->argc * sizeof(*o->gets));
    if (!o->gets) abort();
    for (int i = 2; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        int left = ctx->argc - i - 1;
        if (arg_is(a, "asc")) o->desc = 0;
        else if (arg_is(a, "desc")) o->desc = 1;
        else if (arg_is(a, "alpha")) o->alpha = 1;
        else if (arg_is(a, "by") && left >= 1) {
            o->by = &ctx->argv[++i];
            o->nosort = !memchr(o->by->ptr, '*', o->by->len);
        } else if (arg_is(a, "limit") && left >= 2) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &o->offset) < 0 || arg_ll(ctx, &ctx->argv[i + 2], &o->count) < 0)
                return -1;
            i += 2;
        } else if (arg_is(a, "get") && left >= 1) {
            o->gets[o->ngets++] = &ctx->argv[++i];
        } else if (arg_is(a, "store") && left >= 1 && strcmp(ctx->name, "sort_ro") != 0) {
            o->store = &ctx->argv[++i];
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* The items read so far, grown as they come (never by the size the key claims). */
typedef struct item_list {
    sort_item *items;
    long long n;
    size_t cap;
} item_list;

static void add_element(void *arg, const char *elem, size_t len, double score) {
    item_list *l = arg;
    if ((size_t)l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = realloc(l->items, l->cap * sizeof(*l->items));
        if (!l->items) abort();
    }
    sort_item *it = &l->items[l->n++];
    memset(it, 0, sizeof(*it));
    buf_init(&it->value);
    buf_init(&it->weight);
    buf_append(&it->value, elem, len);
    it->score = score;
}

/* Reads the elements of a list, set or sorted set (in its own order). Returns the count, or
 * -1 after replying an error. */
static long long read_elements(cmd_ctx *ctx, sort_item **items, enum key_type *type) {
    const resp_arg *key = &ctx->argv[1];
    item_list l = {NULL, 0, 0};
    type_status s = sort_read_elements(ctx->t, ctx->db, key->ptr, key->len, type, add_element, &l);
    if (s != ST_OK && s != ST_MISSING) {
        free_items(l.items, l.n);
        reply_type_error(ctx, key, s);
        return -1;
    }
    *items = l.items;
    return l.n;
}

/* qsort has no context argument: the order of the SORT running on this thread. */
static _Thread_local int sort_desc_tl, sort_alpha_tl;

static int compare_items(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    int c;
    if (sort_alpha_tl && (x->null_weight || y->null_weight)) {
        c = y->null_weight - x->null_weight;
    } else if (sort_alpha_tl) {
        const buf *bx = x->has_weight ? &x->weight : &x->value, *by = y->has_weight ? &y->weight : &y->value;
        c = bytes_compare(bx->data, bx->len, by->data, by->len);
    } else {
        c = (x->score > y->score) - (x->score < y->score);
        if (!c) { /* equal scores: by the element itself, as Redis does */
            c = bytes_compare(x->value.data, x->value.len, y->value.data, y->value.len);
        }
    }
    return sort_desc_tl ? -c : c;
}

/* Computes each item's sort weight; replies and returns -1 if one is not a number. */
static int weigh(cmd_ctx *ctx, const sort_opts *o, sort_item *items, long long n) {
    for (long long i = 0; i < n; i++) {
        sort_item *it = &items[i];
        const buf *w = &it->value;
        if (o->by) {
            it->has_weight = pattern_lookup(ctx, o->by, &it->value, &it->weight);
            it->null_weight = !it->has_weight;
            w = &it->weight;
            if (!it->has_weight) continue; /* missing weights sort as 0, or first with ALPHA */
        }
        /* Read as Redis reads weights: " 1" is 1, "" is 0, 1e309 and 1e-310 are no doubles. */
        int out_of_range = 0;
        if (!o->alpha && (num_parse_double_loose(w->data ? w->data : "", w->len, &it->score, &out_of_range) < 0 ||
                          out_of_range)) {
            reply_error(ctx->r, "ERR One or more scores can't be converted into double");
            return -1;
        }
    }
    return 0;
}

/* The rows [from, to) that LIMIT keeps of the n sorted items. Offset and count may be as
 * large as a long long goes: both are clamped to n before any sum. */
static void limit_rows(const sort_opts *o, long long n, long long *from, long long *to) {
    *from = o->offset < 0 ? 0 : o->offset > n ? n : o->offset;
    *to = o->count < 0 || o->count > n - *from ? n : *from + o->count;
}

/* The value of one row: GET pattern g of an item (or the item itself without GET). Returns 1
 * found (value in v), 0 missing. */
static int row_value(cmd_ctx *ctx, const sort_opts *o, const sort_item *it, int g, buf *v) {
    buf_clear(v);
    if (o->ngets) return pattern_lookup(ctx, o->gets[g], &it->value, v);
    buf_append(v, it->value.data ? it->value.data : "", it->value.len);
    return 1;
}

/* Replies the rows of items [from, to), fetched one at a time: once the reply is cut at the
 * client's bound, no more values are fetched (GET of big values must not pile them up). */
static void reply_rows(cmd_ctx *ctx, const sort_opts *o, const sort_item *items, long long from, long long to) {
    int per = o->ngets ? o->ngets : 1;
    reply_array(ctx->r, (to - from) * per);
    buf v;
    buf_init(&v);
    for (long long i = from; i < to; i++) {
        for (int g = 0; g < per && !reply_was_cut(ctx->r); g++) {
            if (row_value(ctx, o, &items[i], g, &v)) reply_bulk(ctx->r, v.data ? v.data : "", v.len);
            else reply_null(ctx->r);
        }
    }
    buf_free(&v);
}

/* STORE: the destination becomes a list of the rows of items [from, to) (a missing GET
 * stores ""). */
static void store_rows(cmd_ctx *ctx, const sort_opts *o, const sort_item *items, long long from, long long to) {
    int per = o->ngets ? o->ngets : 1;
    long long total = (to - from) * per;
    /* The rows, each as u32 length + bytes, then pointed at. */
    buf rows, v;
    buf_init(&rows);
    buf_init(&v);
    for (long long i = from; i < to; i++) {
        for (int g = 0; g < per; g++) {
            if (!row_value(ctx, o, &items[i], g, &v)) buf_clear(&v);
            uint32_t len = (uint32_t)v.len;
            buf_append(&rows, &len, sizeof(len));
            buf_append(&rows, v.data ? v.data : "", v.len);
        }
    }
    buf_free(&v);
    slice *values = malloc((size_t)(total ? total : 1) * sizeof(*values));
    if (!values) abort();
    char *p = rows.data;
    for (long long k = 0; k < total; k++) {
        uint32_t len;
        memcpy(&len, p, sizeof(len));
        values[k].ptr = p + sizeof(len);
        values[k].len = len;
        p += sizeof(len) + len;
    }
    int replaced = list_replace(ctx, o->store, values, total);
    if (replaced >= 0) {
        cmd_notify_store(ctx, KE_LIST, "sortstore", o->store, total, replaced);
        reply_int(ctx->r, total);
    }
    free(values);
    buf_free(&rows);
}

void cmd_sort(cmd_ctx *ctx) {
    sort_opts o;
    sort_item *items = NULL;
    long long n = -1;
    enum key_type type = TYPE_NONE;
    cmd_read_lookups(ctx, 1); /* the key and its BY and GET patterns' keys are read (STORE's is not) */
    if (parse_sort(ctx, &o) == 0) n = read_elements(ctx, &items, &type);
    if (n >= 0 && !o.nosort && weigh(ctx, &o, items, n) < 0) n = -1;
    if (n >= 0) {
        if (!o.nosort || type == TYPE_ZSET) {
            /* Unsorted, a sorted set still comes in score order (its scores were read). */
            sort_desc_tl = o.desc;
            sort_alpha_tl = o.alpha && !o.nosort;
            if (n > 1) qsort(items, (size_t)n, sizeof(*items), compare_items);
        } else if (o.desc) { /* unsorted DESC: the collection's own order, reversed */
            for (long long a = 0, b = n - 1; a < b; a++, b--) {
                sort_item t = items[a];
                items[a] = items[b];
                items[b] = t;
            }
        }
        long long from, to;
        limit_rows(&o, n, &from, &to);
        if (o.store) store_rows(ctx, &o, items, from, to);
        else reply_rows(ctx, &o, items, from, to);
    }
    free_items(items, n);
    free(o.gets);
}

int sort_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    if (cmd_spec_keys(def, argc, argv, sink) < 0) return -1;
    int store = 0;
    /* Options are skipped with their arguments, so that a pattern named "store" is no STORE;
     * the last STORE is the one SORT writes, as in parse_sort. */
    for (int i = 2; i < argc; i++) {
        if (arg_is(&argv[i], "limit")) i += 2;
        else if (arg_is(&argv[i], "by") || arg_is(&argv[i], "get")) i++;
        else if (arg_is(&argv[i], "store") && i + 1 < argc) store = ++i;
    }
    if (store) sink->add(sink, (key_ref){store, def->key_specs[2].flags, -1}); /* the table's STORE spec */
    return 0;
}
