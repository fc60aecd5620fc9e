#include "types/stream.h"

#include <string.h>

#include "storage/bounds.h"
#include "types/compound.h"
#include "util/num.h"

/* ---- ids ---- */

int stream_id_compare(stream_id a, stream_id b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}

size_t stream_id_format(char out[STREAM_ID_TEXT_MAX], stream_id id) {
    /* Not snprintf: every entry of every read is named so, and printf cost a tenth of XREAD. */
    size_t len = num_format_ull(out, id.ms);
    out[len++] = '-';
    return len + num_format_ull(out + len, id.seq);
}

int stream_id_incr(stream_id *id) {
    if (id->seq < UINT64_MAX) {
        id->seq++;
    } else if (id->ms < UINT64_MAX) {
        id->ms++;
        id->seq = 0;
    } else {
        return -1;
    }
    return 0;
}

int stream_id_decr(stream_id *id) {
    if (id->seq > 0) {
        id->seq--;
    } else if (id->ms > 0) {
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        return -1;
    }
    return 0;
}

/* A decimal u64 of digits only: 0, or -1 (empty, another byte, or above UINT64_MAX). */
static int parse_digits(const char *s, size_t len, uint64_t *out) {
    if (len == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (digit > 9 || v > (UINT64_MAX - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* Whether s is a negative number as Redis's string2ll reads one: "-", a digit 1-9, digits, at
 * least LLONG_MIN. */
static int is_strict_negative(const char *s, size_t len) {
    uint64_t magnitude;
    return len >= 2 && s[0] == '-' && s[1] >= '1' && s[1] <= '9' && parse_digits(s + 1, len - 1, &magnitude) == 0 &&
           magnitude <= (uint64_t)1 << 63;
}

/* An id's part as Redis 7.0 reads it (string2ull): a strictly written negative number is
 * refused; anything else is read by strtoull, so leading white space, a "+" and leading zeros
 * are taken, and a "-" before the digits wraps the value ("- 3" is not one, " -3" is 2^64 - 3).
 * 0, or -1. */
static int parse_u64(const char *s, size_t len, uint64_t *out) {
    if (is_strict_negative(s, len)) return -1;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
    int negative = i < len && s[i] == '-';
    if (i < len && (s[i] == '-' || s[i] == '+')) i++;
    uint64_t v;
    if (parse_digits(s + i, len - i, &v) < 0) return -1;
    *out = negative ? 0 - v : v;
    return 0;
}

/* Redis copies an id argument into a 128-byte buffer first: a longer one is no id. */
#define ID_ARG_MAX 127

int stream_id_parse(const char *s, size_t len, uint64_t missing_seq, int strict, int *seq_given, stream_id *out) {
    if (len > ID_ARG_MAX) return -1;
    if (seq_given) *seq_given = 1;
    if (len == 1 && (s[0] == '-' || s[0] == '+')) {
        if (strict) return -1;
        *out = s[0] == '-' ? (stream_id){0, 0} : STREAM_ID_MAX;
        return 0;
    }
    const char *dash = memchr(s, '-', len);
    size_t ms_len = dash ? (size_t)(dash - s) : len;
    stream_id id;
    if (parse_u64(s, ms_len, &id.ms) < 0) return -1;
    if (!dash) {
        id.seq = missing_seq;
    } else {
        const char *seq = dash + 1;
        size_t seq_len = len - ms_len - 1;
        if (seq_given && seq_len == 1 && seq[0] == '*') {
            id.seq = 0;
            *seq_given = 0;
        } else if (parse_u64(seq, seq_len, &id.seq) < 0) {
            return -1;
        }
    }
    *out = id;
    return 0;
}

int stream_range_bound(const char *s, size_t len, int is_end, stream_id *out) {
    uint64_t missing_seq = is_end ? UINT64_MAX : 0;
    int exclusive = len > 1 && s[0] == '(';
    if (exclusive) {
        s++, len--;
    }
    if (stream_id_parse(s, len, missing_seq, exclusive, NULL, out) < 0) return STREAM_BOUND_INVALID;
    if (exclusive && (is_end ? stream_id_decr(out) : stream_id_incr(out)) < 0) return STREAM_BOUND_NO_STEP;
    return 0;
}

/* ---- entry values ---- */

/* A varint32 as RocksDB writes it: at most 5 bytes, at most UINT32_MAX. Returns 0 and
 * advances *p, or -1. */
static int get_varint32(const uint8_t **p, const uint8_t *end, uint32_t *out) {
    uint64_t v = 0;
    const uint8_t *q = *p;
    for (int shift = 0; shift <= 28; shift += 7) {
        if (q >= end) return -1;
        uint8_t byte = *q++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            if (v > UINT32_MAX) return -1;
            *p = q;
            *out = (uint32_t)v;
            return 0;
        }
    }
    return -1;
}

void stream_entry_encode(buf *out, const slice *items, size_t n) {
    for (size_t i = 0; i < n; i++) {
        buf_put_varint(out, items[i].len);
        buf_append(out, items[i].ptr, items[i].len);
    }
}

void stream_entry_reader_init(stream_entry_reader *r, const char *v, size_t len) {
    r->p = (const uint8_t *)v;
    r->end = r->p + len;
}

int stream_entry_next(stream_entry_reader *r, const char **s, size_t *len) {
    uint32_t n;
    const uint8_t *p = r->p;
    if (p == r->end || get_varint32(&p, r->end, &n) < 0 || n > (size_t)(r->end - p)) return 0;
    *s = (const char *)p;
    *len = n;
    r->p = p + n;
    return 1;
}

int stream_entry_check(const char *v, size_t len, size_t *n) {
    stream_entry_reader r;
    stream_entry_reader_init(&r, v, len);
    const char *s;
    size_t sl, count = 0;
    while (stream_entry_next(&r, &s, &sl)) count++;
    if (r.p != r.end || count < 2 || count % 2 != 0) return -1;
    *n = count;
    return 0;
}

/* ---- the stream's keys ---- */

#define ID_BYTES STREAM_ID_BYTES

void stream_id_to_bytes(uint8_t out[ID_BYTES], stream_id id) {
    buf_set_u64be(out, id.ms);
    buf_set_u64be(out + 8, id.seq);
}

stream_id stream_id_from_bytes(const char *p) { return (stream_id){buf_get_u64be(p), buf_get_u64be(p + 8)}; }

static int open_stream(compound *s, txn *t, int db, const char *key, size_t klen) {
    return compound_open(s, t, db, key, klen, TYPE_STREAM);
}

static void put_meta(compound *s) {
    buf mk, value;
    buf_init(&mk);
    buf_init(&value);
    enc_meta_key(&mk, s->db, s->key, s->klen);
    enc_compound_meta(&value, &s->m);
    txn_put(s->t, CF_METADATA, mk.data, mk.len, value.data, value.len);
    buf_free(&mk);
    buf_free(&value);
}

void stream_save_meta(compound *s) {
    put_meta(s);
    txn_touch(s->t, s->db, s->key, s->klen);
}

void stream_save_groups_count(compound *s) {
    put_meta(s);
    txn_wake(s->t, s->db, s->key, s->klen);
}

static void entry_key(const compound *s, buf *out, stream_id id) {
    uint8_t b[ID_BYTES];
    stream_id_to_bytes(b, id);
    enc_subkey(out, s->db, s->key, s->klen, s->m.version, (const char *)b, ID_BYTES);
}

static void put_entry(compound *s, stream_id id, const buf *value) {
    buf k;
    buf_init(&k);
    entry_key(s, &k, id);
    bounds_note_put(s->t, CF_STREAM, k.data, k.len, k.len - ID_BYTES);
    txn_put(s->t, CF_STREAM, k.data, k.len, value->data ? value->data : "", value->len);
    buf_free(&k);
}

static void delete_entry(compound *s, stream_id id) {
    buf k;
    buf_init(&k);
    entry_key(s, &k, id);
    txn_delete(s->t, CF_STREAM, k.data, k.len);
    buf_free(&k);
}

/* Whether an entry exists: 1, 0, or -1 on a read error. */
static int has_entry(compound *s, stream_id id, buf *scratch) {
    buf k;
    buf_init(&k);
    entry_key(s, &k, id);
    int rc = txn_get(s->t, CF_STREAM, k.data, k.len, scratch);
    buf_free(&k);
    return rc;
}

/* A walk over the entries from an id on (forward), or back from one (rev); from NULL: from the
 * first (the last) entry. */
typedef struct entry_walk {
    bounded_walk walk;
    int corrupt; /* a subkey that is no id */
} entry_walk;

static void walk_open(entry_walk *w, compound *s, const stream_id *from, int rev) {
    buf prefix;
    buf_init(&prefix);
    enc_subkey(&prefix, s->db, s->key, s->klen, s->m.version, NULL, 0);
    uint8_t b[ID_BYTES];
    if (from) stream_id_to_bytes(b, *from);
    bounded_walk_open(&w->walk, s->t, CF_STREAM, prefix.data, prefix.len, from ? (const char *)b : NULL,
                      from ? ID_BYTES : 0, rev);
    w->corrupt = 0;
    buf_free(&prefix);
}

/* 1 with the next entry's id and value, 0 at the end (or a read error or a corrupt subkey:
 * walk_close tells). */
static int walk_next(entry_walk *w, stream_id *id, const char **val, size_t *vlen) {
    const char *k;
    size_t kl;
    if (!bounded_walk_next(&w->walk, &k, &kl, val, vlen)) return 0;
    if (kl != w->walk.prefix.len + ID_BYTES) {
        w->corrupt = 1;
        return 0;
    }
    *id = stream_id_from_bytes(k + w->walk.prefix.len);
    return 1;
}

static type_status walk_close(entry_walk *w) {
    if (bounded_walk_close(&w->walk) < 0) return ST_ERROR;
    return w->corrupt ? ST_CORRUPT : ST_OK;
}

/* The first (or, with rev, the last) entry's id into *id: ST_OK, ST_MISSING if there is none. */
static type_status edge_id(compound *s, int rev, stream_id *id) {
    entry_walk w;
    walk_open(&w, s, NULL, rev);
    const char *v;
    size_t vl;
    int found = walk_next(&w, id, &v, &vl);
    type_status st = walk_close(&w);
    return st != ST_OK ? st : found ? ST_OK : ST_MISSING;
}

/* After removals: the edges of an empty stream are 0-0. */
static void note_emptied(compound *s) {
    stream_extras *x = &s->m.stream;
    x->first = x->last = x->recorded_first = (stream_id){0, 0};
}

/* ---- adding ---- */

/* The id XADD gives an entry (see Redis's streamAppendItem): ST_OK, ST_ID_TOO_SMALL,
 * ST_ID_EXHAUSTED or ST_TOO_BIG. */
static type_status next_id(const stream_extras *x, const stream_add_args *a, int64_t now_ms, stream_id *id) {
    stream_id last = x->last_generated;
    if (stream_id_compare(last, STREAM_ID_MAX) == 0) return ST_ID_EXHAUSTED;
    if (!a->id_given) {
        uint64_t now = now_ms > 0 ? (uint64_t)now_ms : 0;
        *id = last.ms >= now ? last : (stream_id){now, 0};
        if (last.ms >= now) stream_id_incr(id); /* not the greatest id: checked above */
        return ST_OK;
    }
    *id = a->id;
    if (!a->seq_given && a->id.ms == last.ms) {
        /* No seq left in that ms: Redis 7.0 fails without saying why, and so replies its
         * "Elements are too large" error. */
        if (last.seq == UINT64_MAX) return ST_TOO_BIG;
        id->seq = last.seq + 1;
    }
    return stream_id_compare(*id, last) > 0 ? ST_OK : ST_ID_TOO_SMALL;
}

/* Up to this many ids are gathered before they are deleted: a walk does not see the deletes
 * of its own txn reliably, so it ends first, and the memory a big trim takes stays bounded. */
#define TRIM_BATCH 256

/* Removes entries from the front of the stream while fewer than want are removed and (with
 * below) their ids are below it; updates the metadata and adds to *out. */
static type_status trim_front(compound *s, long long want, const stream_id *below, stream_trimmed *out) {
    stream_id batch[TRIM_BATCH], next;
    type_status st = ST_OK;
    int more = 1, started = 0;
    while (st == ST_OK && more && out->removed < want) {
        size_t n = 0;
        entry_walk w;
        /* Each walk starts where the last one stopped: one from the front would step over
         * every entry deleted so far, and a big trim would take quadratic time. */
        walk_open(&w, s, started ? &next : NULL, 0);
        started = 1;
        stream_id id;
        const char *v;
        size_t vl;
        more = 0;
        while (walk_next(&w, &id, &v, &vl)) {
            int removable = out->removed + (long long)n < want && (!below || stream_id_compare(id, *below) < 0);
            if (!removable) {
                s->m.stream.first = s->m.stream.recorded_first = id;
                break;
            }
            if (n == TRIM_BATCH) {
                next = id;
                more = 1;
                break;
            }
            batch[n++] = id;
        }
        st = walk_close(&w);
        if (st != ST_OK) break;
        if (n > (size_t)s->m.size) st = ST_CORRUPT;
        for (size_t i = 0; st == ST_OK && i < n; i++) delete_entry(s, batch[i]);
        if (st == ST_OK && n > 0) {
            s->m.size -= n;
            out->removed += (long long)n;
            out->last_removed = batch[n - 1];
        }
    }
    if (st == ST_OK && s->m.size == 0) note_emptied(s);
    return st;
}

/* Trims an open stream as args say (nothing for STREAM_TRIM_NONE). */
static type_status trim_open(compound *s, const stream_trim_args *a, stream_trimmed *out) {
    memset(out, 0, sizeof(*out));
    long long want = 0;
    if (a->strategy == STREAM_TRIM_MAXLEN && (long long)s->m.size > a->maxlen) want = (long long)s->m.size - a->maxlen;
    if (a->strategy == STREAM_TRIM_MINID) want = (long long)s->m.size;
    if (a->limit > 0 && want > a->limit) want = a->limit;
    if (want == 0 || (a->strategy == STREAM_TRIM_MINID && stream_id_compare(s->m.stream.first, a->minid) >= 0))
        return ST_OK;
    return trim_front(s, want, a->strategy == STREAM_TRIM_MINID ? &a->minid : NULL, out);
}

type_status stream_add(txn *t, int db, const char *key, size_t klen, const stream_add_args *args, const slice *items,
                       size_t n, stream_id *added, stream_trimmed *trimmed) {
    memset(trimmed, 0, sizeof(*trimmed));
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    if (st == ST_MISSING && args->nomkstream) {
        compound_free(&s);
        return ST_MISSING;
    }
    if (st == ST_OK || st == ST_MISSING) st = next_id(&s.m.stream, args, t->now_ms, added);
    if (st == ST_OK) {
        buf value;
        buf_init(&value);
        stream_entry_encode(&value, items, n);
        put_entry(&s, *added, &value);
        buf_free(&value);
        stream_extras *x = &s.m.stream;
        if (s.m.size == 0) x->first = x->recorded_first = *added;
        x->last = x->last_generated = *added;
        x->entries_added++;
        s.m.size++;
        st = trim_open(&s, &args->trim, trimmed);
    }
    if (st == ST_OK) {
        stream_save_meta(&s);
        txn_signal_stream(t, db, key, klen);
    }
    compound_free(&s);
    return st;
}

type_status stream_trim(txn *t, int db, const char *key, size_t klen, const stream_trim_args *args,
                        stream_trimmed *trimmed) {
    memset(trimmed, 0, sizeof(*trimmed));
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    if (st == ST_OK) st = trim_open(&s, args, trimmed);
    if (st == ST_OK && trimmed->removed > 0) stream_save_meta(&s);
    compound_free(&s);
    return st;
}

/* ---- deleting ---- */

/* After XDEL: the new edges of a stream whose first or last entry went. */
static type_status refresh_edges(compound *s, int first_gone, int last_gone) {
    stream_extras *x = &s->m.stream;
    if (s->m.size == 0) {
        note_emptied(s);
        return ST_OK;
    }
    type_status st = ST_OK;
    if (first_gone) st = edge_id(s, 0, &x->first);
    if (st == ST_OK && last_gone) st = edge_id(s, 1, &x->last);
    if (st == ST_MISSING) st = ST_CORRUPT; /* fewer entries than the size says */
    x->recorded_first = x->first;
    return st;
}

type_status stream_delete(txn *t, int db, const char *key, size_t klen, const stream_id *ids, size_t n,
                          stream_id_visit_fn visit, void *arg, long long *deleted) {
    *deleted = 0;
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    if (st != ST_OK) {
        compound_free(&s);
        return st;
    }
    buf scratch;
    buf_init(&scratch);
    stream_extras *x = &s.m.stream;
    int first_gone = 0, last_gone = 0;
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        int rc = has_entry(&s, ids[i], &scratch);
        if (rc < 0) st = ST_ERROR;
        if (rc != 1) continue;
        if (s.m.size == 0) {
            st = ST_CORRUPT; /* more entries than the size says */
            break;
        }
        delete_entry(&s, ids[i]);
        s.m.size--;
        ++*deleted;
        first_gone |= stream_id_compare(ids[i], x->first) == 0;
        last_gone |= stream_id_compare(ids[i], x->last) == 0;
        if (stream_id_compare(ids[i], x->max_deleted) > 0) x->max_deleted = ids[i];
        visit(arg, ids[i]);
    }
    if (st == ST_OK && *deleted > 0) st = refresh_edges(&s, first_gone, last_gone);
    if (st == ST_OK && *deleted > 0) stream_save_meta(&s);
    buf_free(&scratch);
    compound_free(&s);
    return st;
}

/* ---- reading ---- */

type_status stream_len(txn *t, int db, const char *key, size_t klen, long long *len) {
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    *len = st == ST_OK ? (long long)s.m.size : 0;
    compound_free(&s);
    return st;
}

type_status stream_meta(txn *t, int db, const char *key, size_t klen, meta *m) {
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    if (st == ST_OK) *m = s.m;
    compound_free(&s);
    return st;
}

/* Whether id is past the range's far end (for a walk in the range's direction). */
static int past_end(stream_id id, stream_id start, stream_id end, int rev) {
    return rev ? stream_id_compare(id, start) < 0 : stream_id_compare(id, end) > 0;
}

type_status stream_range(txn *t, int db, const char *key, size_t klen, stream_id start, stream_id end, long long count,
                         int rev, stream_entry_visit_fn visit, void *arg, long long *visited) {
    *visited = 0;
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    if (st != ST_OK || s.m.size == 0 || stream_id_compare(start, end) > 0) {
        compound_free(&s);
        return st;
    }
    entry_walk w;
    walk_open(&w, &s, rev ? &end : &start, rev);
    stream_id id;
    const char *v;
    size_t vl, nitems;
    while ((count == 0 || *visited < count) && walk_next(&w, &id, &v, &vl) && !past_end(id, start, end, rev)) {
        if (stream_entry_check(v, vl, &nitems) < 0) {
            st = ST_CORRUPT;
            break;
        }
        stream_entry_reader r;
        stream_entry_reader_init(&r, v, vl);
        ++*visited;
        if (visit(arg, id, &r, nitems)) break;
    }
    type_status closed = walk_close(&w);
    if (st == ST_OK) st = closed;
    compound_free(&s);
    return st;
}

type_status stream_set_id(txn *t, int db, const char *key, size_t klen, stream_id id, long long entries_added,
                          const stream_id *max_deleted, enum stream_setid_refusal *refused) {
    *refused = SETID_DONE;
    compound s;
    type_status st = compound_status(open_stream(&s, t, db, key, klen));
    stream_extras *x = &s.m.stream;
    if (st != ST_OK) {
        compound_free(&s);
        return st;
    }
    if (s.m.size > 0 && stream_id_compare(id, x->last) < 0) *refused = SETID_BELOW_TOP;
    else if (s.m.size > 0 && entries_added >= 0 && (long long)s.m.size > entries_added)
        *refused = SETID_ENTRIES_BELOW_LENGTH;
    if (*refused == SETID_DONE) {
        x->last_generated = id;
        if (entries_added >= 0) x->entries_added = (uint64_t)entries_added;
        if (max_deleted && (max_deleted->ms || max_deleted->seq)) x->max_deleted = *max_deleted;
        stream_save_meta(&s);
    }
    compound_free(&s);
    return ST_OK;
}

type_status stream_walk_entries(txn *t, int db, const char *key, size_t klen, const meta *m, const stream_id *from,
                                stream_entry_visit_fn visit, void *arg) {
    buf prefix, start, end;
    buf_init(&prefix);
    buf_init(&start);
    buf_init(&end);
    enc_subkey(&prefix, db, key, klen, m->version, NULL, 0);
    enc_prefix_end(&end, prefix.data, prefix.len);
    buf_append(&start, prefix.data, prefix.len);
    if (from) {
        uint8_t b[ID_BYTES];
        stream_id_to_bytes(b, *from);
        buf_append(&start, b, ID_BYTES);
    }
    store_iter *it = txn_iter_new(t, CF_STREAM, start.data, start.len, end.data, end.len);
    type_status st = ST_OK;
    for (; st == ST_OK && store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl, nitems;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break;
        const char *v = store_iter_value(it, &vl);
        if (kl != prefix.len + ID_BYTES || stream_entry_check(v, vl, &nitems) < 0) {
            st = ST_CORRUPT;
            break;
        }
        stream_entry_reader r;
        stream_entry_reader_init(&r, v, vl);
        if (visit(arg, stream_id_from_bytes(k + prefix.len), &r, nitems)) break;
    }
    if (st == ST_OK && !store_iter_valid(it) && store_iter_failed(it)) st = ST_ERROR;
    store_iter_free(it);
    buf_free(&prefix);
    buf_free(&start);
    buf_free(&end);
    return st;
}
