#include "types/dump.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "types/bitmap.h"
#include "types/compound.h"
#include "types/functions.h"
#include "types/keyspace.h"
#include "types/stream.h"
#include "types/stream_group.h"
#include "util/glob.h"
#include "util/hex.h"
#include "util/num.h"

/* ---- positions and cursors ---- */

void dump_pos_init(dump_pos *p) {
    p->db = DUMP_LIBRARIES;
    p->in_key = 0;
    buf_init(&p->key);
    buf_init(&p->member);
}

void dump_pos_free(dump_pos *p) {
    buf_free(&p->key);
    buf_free(&p->member);
}

/* A cursor's bytes (in hex): a phase, 'L' (start at the library named by key), 'S' (start at
 * the key) or 'M' (inside it, at the member), the database (u32, big-endian; 0 for 'L'), the
 * key's length (u32) and the key, then the member. */
#define CURSOR_AT_LIBRARY 'L'
#define CURSOR_AT_KEY 'S'
#define CURSOR_IN_KEY 'M'
#define CURSOR_HEAD 9

void dump_cursor_encode(const dump_pos *p, buf *out) {
    int libraries = p->db == DUMP_LIBRARIES;
    if (libraries && p->key.len == 0) {
        buf_append_byte(out, '0');
        return;
    }
    buf raw;
    buf_init(&raw);
    buf_put_u8(&raw, libraries ? CURSOR_AT_LIBRARY : p->in_key ? CURSOR_IN_KEY : CURSOR_AT_KEY);
    buf_put_u32be(&raw, libraries ? 0 : (uint32_t)p->db);
    buf_put_u32be(&raw, (uint32_t)p->key.len);
    buf_append(&raw, p->key.data, p->key.len);
    if (p->in_key) buf_append(&raw, p->member.data, p->member.len);
    hex_encode(out, raw.data, raw.len);
    buf_free(&raw);
}

int dump_cursor_decode(const char *s, size_t len, int databases, dump_pos *p) {
    buf_clear(&p->key);
    buf_clear(&p->member);
    p->db = DUMP_LIBRARIES;
    p->in_key = 0;
    if (len == 1 && s[0] == '0') return 0;
    buf raw;
    buf_init(&raw);
    int rc = -1;
    if (hex_decode(&raw, s, len) < 0 || raw.len < CURSOR_HEAD) goto done;
    uint8_t phase = (uint8_t)raw.data[0];
    uint32_t db = buf_get_u32be(raw.data + 1), klen = buf_get_u32be(raw.data + 5);
    if ((phase != CURSOR_AT_LIBRARY && phase != CURSOR_AT_KEY && phase != CURSOR_IN_KEY) ||
        db >= (uint32_t)databases || klen > raw.len - CURSOR_HEAD)
        goto done;
    size_t mlen = raw.len - CURSOR_HEAD - klen;
    if (phase != CURSOR_IN_KEY && mlen > 0) goto done;
    /* the start is only ever "0" */
    if (phase == CURSOR_AT_LIBRARY && (db != 0 || klen == 0)) goto done;
    p->db = phase == CURSOR_AT_LIBRARY ? DUMP_LIBRARIES : (int)db;
    p->in_key = phase == CURSOR_IN_KEY;
    buf_append(&p->key, raw.data + CURSOR_HEAD, klen);
    buf_append(&p->member, raw.data + CURSOR_HEAD + klen, mlen);
    rc = 0;
done:
    buf_free(&raw);
    return rc;
}

/* ---- commands ---- */

/* The arguments of one command being built (copies: what the store hands out moves on). One
 * builder serves a whole walk, so that its memory is reused from command to command. */
typedef struct argv_builder {
    buf bytes;
    size_t *ends;       /* where each argument ends in bytes */
    const char **argv;  /* what the sink is given */
    size_t *lens;
    size_t n, cap;
} argv_builder;

static void args_init(argv_builder *b) { memset(b, 0, sizeof(*b)); }

static void args_free(argv_builder *b) {
    buf_free(&b->bytes);
    free(b->ends);
    free(b->argv);
    free(b->lens);
}

static void args_add(argv_builder *b, const char *p, size_t len) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->ends = realloc(b->ends, b->cap * sizeof(*b->ends));
        b->argv = realloc(b->argv, b->cap * sizeof(*b->argv));
        b->lens = realloc(b->lens, b->cap * sizeof(*b->lens));
        if (!b->ends || !b->argv || !b->lens) abort();
    }
    buf_append(&b->bytes, p, len);
    b->ends[b->n++] = b->bytes.len;
}

static void args_add_str(argv_builder *b, const char *s) { args_add(b, s, strlen(s)); }

static void args_add_ll(argv_builder *b, long long v) {
    char num[32];
    args_add(b, num, num_format_ll(num, v));
}

static void args_clear(argv_builder *b) {
    buf_clear(&b->bytes);
    b->n = 0;
}

/* Hands the command to the sink and starts over. */
static void args_emit(argv_builder *b, const dump_sink *sink) {
    for (size_t i = 0; i < b->n; i++) {
        size_t start = i ? b->ends[i - 1] : 0;
        b->argv[i] = b->bytes.data + start;
        b->lens[i] = b->ends[i] - start;
    }
    sink->command(sink->arg, b->n, b->argv, b->lens);
    args_clear(b);
}

/* Emits a two-argument command (DEL key). */
static void emit_key_command(argv_builder *b, const dump_sink *sink, const char *name, const char *key, size_t klen) {
    args_add_str(b, name);
    args_add(b, key, klen);
    args_emit(b, sink);
}

/* ---- one key ---- */

enum { DUMP_DONE = 0, DUMP_MORE = 1 };

/* What a walk of one database carries from key to key. */
typedef struct walker {
    txn *t;
    int db;
    const dump_sink *sink;
    argv_builder args;
    compound_reader *members; /* the database's collections' members, read in key order */
    buf resume;               /* a collection's next member, where the walk stopped in it */
} walker;

/* Bitmaps are strings to clients: both are rebuilt with SET, and count as one element. */
static int is_string(enum key_type type) { return type == TYPE_STRING || type == TYPE_BITMAP; }

/* A string: DEL, then SET with its expiry. */
static int dump_string(walker *w, const char *key, size_t klen, const meta *m) {
    buf bits;
    buf_init(&bits);
    const char *value = m->value;
    size_t vlen = m->value_len;
    if (m->type == TYPE_BITMAP) {
        compound c;
        compound_attach(&c, w->t, w->db, key, klen, m, 1);
        int rc = bitmap_read(&c, &bits);
        compound_free(&c);
        if (rc != 0) {
            buf_free(&bits);
            return -1;
        }
        value = bits.data ? bits.data : "";
        vlen = bits.len;
    }
    argv_builder *b = &w->args;
    w->sink->begin_key(w->sink->arg, w->db);
    emit_key_command(b, w->sink, "DEL", key, klen);
    args_add_str(b, "SET");
    args_add(b, key, klen);
    args_add(b, value ? value : "", vlen);
    if (m->expire_ms) {
        args_add_str(b, "PXAT");
        args_add_ll(b, (long long)m->expire_ms);
    }
    args_emit(b, w->sink);
    w->sink->end_key(w->sink->arg);
    buf_free(&bits);
    return DUMP_DONE;
}

static const char *piece_command(enum key_type type) {
    switch (type) {
    case TYPE_HASH: return "HSET";
    case TYPE_SET: return "SADD";
    case TYPE_ZSET: return "ZADD";
    case TYPE_LIST: return "RPUSH";
    default: return NULL;
    }
}

/* Adds one element's arguments to a piece: a field and its value, a member, a score and its
 * member (formatted as ZADD records it), or a list item (its subkey is its position). */
static int add_element(argv_builder *b, enum key_type type, const char *sub, size_t sublen, const char *val,
                       size_t vlen) {
    char score[32];
    double d;
    switch (type) {
    case TYPE_HASH:
        args_add(b, sub, sublen);
        args_add(b, val ? val : "", vlen);
        return 0;
    case TYPE_SET: args_add(b, sub, sublen); return 0;
    case TYPE_ZSET:
        if (enc_decode_score(val, vlen, &d) < 0) return -1;
        args_add(b, score, num_format_double(score, d));
        args_add(b, sub, sublen);
        return 0;
    default: /* TYPE_LIST */
        args_add(b, val ? val : "", vlen);
        return 0;
    }
}

/* Whether the sink, given pending bytes more, may take no more (see dump_sink.full). */
static int sink_full(const dump_sink *sink, size_t pending) { return sink->full && sink->full(sink->arg, pending); }

/* Room for a command's protocol beyond its arguments' bytes (headers, a command name, an id). */
#define COMMAND_OVERHEAD 128

/* What the cursor of a page that ends at a place in the key takes in the reply (in hex): a page
 * must leave room for it too, or big keys and names would push the reply past the client's room. */
static size_t cursor_bytes(size_t klen, size_t place_len) { return 2 * (CURSOR_HEAD + klen + place_len) + 32; }

/* A collection from its element `from` (NULL: from the start, after a DEL), at most budget
 * elements of it, fewer once the sink is full (taken_before: elements the walk has already
 * taken, so that it takes one at least); when more are left, the next one goes to w->resume.
 * *used counts them. */
static int dump_collection(walker *w, const char *key, size_t klen, const meta *m, const buf *from, size_t budget,
                           size_t taken_before, size_t *used) {
    argv_builder *b = &w->args;
    const dump_sink *sink = w->sink;
    sink->begin_key(sink->arg, w->db);
    if (!from) emit_key_command(b, sink, "DEL", key, klen);
    args_add_str(b, piece_command(m->type));
    args_add(b, key, klen);
    compound c;
    compound_attach(&c, w->t, w->db, key, klen, m, 1);
    compound_iter ci;
    compound_iter_open_in(&ci, w->members, &c, from ? from->data : NULL, from ? from->len : 0);
    const char *sub, *val;
    size_t sublen, vlen, n = 0;
    int rc = DUMP_DONE;
    while (rc == DUMP_DONE && compound_iter_next(&ci, &sub, &sublen, &val, &vlen)) {
        size_t pending = b->bytes.len + sublen + vlen + cursor_bytes(klen, sublen);
        if (n == budget || (n + taken_before > 0 && sink_full(sink, pending))) {
            buf_clear(&w->resume);
            buf_append(&w->resume, sub, sublen);
            rc = DUMP_MORE;
        } else if (add_element(b, m->type, sub, sublen, val, vlen) < 0) {
            rc = -1;
        } else {
            n++;
        }
    }
    if (compound_iter_close(&ci) < 0) rc = -1;
    if (rc >= 0) {
        if (n > 0) args_emit(b, sink);
        args_clear(b);
        if (rc == DUMP_DONE && m->expire_ms) {
            args_add_str(b, "PEXPIREAT");
            args_add(b, key, klen);
            args_add_ll(b, (long long)m->expire_ms);
            args_emit(b, sink);
        }
        sink->end_key(sink->arg);
    }
    args_clear(b); /* what a failed key left */
    compound_free(&c);
    *used = n;
    return rc;
}

/* A stream being dumped: XADD of each entry with its id, then (once the entries are done) its
 * ids, then its consumer groups, each command an element of the page. Where a page ends goes to
 * w->resume: STREAM_AT_ENTRY and an entry's id, or a place among the groups (see stop_in_group);
 * the first byte tells them apart, since an id's bytes may read as anything. */
#define STREAM_AT_ENTRY 'e'

typedef struct stream_dump {
    walker *w;
    const char *key;
    size_t klen;
    const meta *m;
    size_t budget, taken_before, n;
    int more;        /* stopped, the place named in w->resume */
    slice group;     /* the group being dumped */
    uint8_t phase;   /* where the first group visited resumes (0: from its start) */
    slice resume_group, resume_consumer;
    stream_id resume_id;
    type_status st;
} stream_dump;

/* Whether the page is full before one more element of about `bytes` of arguments, at a place
 * of place_len bytes: the budget is spent or the sink is full (a walk's first element always
 * goes). */
static int page_full(const stream_dump *d, size_t bytes, size_t place_len) {
    size_t pending = d->klen + bytes + COMMAND_OVERHEAD + cursor_bytes(d->klen, place_len);
    return d->n == d->budget || (d->n + d->taken_before > 0 && sink_full(d->w->sink, pending));
}

static int dump_entry(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    stream_dump *d = arg;
    argv_builder *b = &d->w->args;
    if (page_full(d, (size_t)(fields->end - fields->p), 1 + STREAM_ID_BYTES)) {
        uint8_t bytes[STREAM_ID_BYTES];
        stream_id_to_bytes(bytes, id);
        buf_clear(&d->w->resume);
        buf_put_u8(&d->w->resume, STREAM_AT_ENTRY);
        buf_append(&d->w->resume, bytes, STREAM_ID_BYTES);
        d->more = 1;
        return 1;
    }
    char text[STREAM_ID_TEXT_MAX];
    args_add_str(b, "XADD");
    args_add(b, d->key, d->klen);
    args_add(b, text, stream_id_format(text, id));
    const char *s;
    size_t len;
    for (size_t i = 0; i < nitems && stream_entry_next(fields, &s, &len); i++) args_add(b, s, len);
    args_emit(b, d->w->sink);
    d->n++;
    return 0;
}

/* XSETID key id [ENTRIESADDED n MAXDELETEDID id] */
static void emit_setid(argv_builder *b, const dump_sink *sink, const char *key, size_t klen, stream_id id,
                       const stream_extras *counters) {
    char text[STREAM_ID_TEXT_MAX];
    args_add_str(b, "XSETID");
    args_add(b, key, klen);
    args_add(b, text, stream_id_format(text, id));
    if (counters) {
        args_add_str(b, "ENTRIESADDED");
        args_add_ll(b, (long long)counters->entries_added);
        args_add_str(b, "MAXDELETEDID");
        args_add(b, text, stream_id_format(text, counters->max_deleted));
    }
    args_emit(b, sink);
}

/* What XADD of the entries leaves different from the stream: its last id, entries added and
 * max deleted id, set with XSETID (Redis 7's). An empty stream is made first by an XADD that
 * MAXLEN 0 removes at once (at its last id, which XSETID then keeps; at 0-1 for one whose last
 * id is 0-0, such as XGROUP CREATE … MKSTREAM makes, which XSETID then sets back). Redis 7.0's
 * XSETID refuses an id below the MAXDELETEDID it is given, but a plain XSETID may lower the
 * last id below the max deleted one (after XDEL of the last entry): that state takes the
 * counters at the max deleted id first, then the plain XSETID. */
static void emit_stream_ids(argv_builder *b, const dump_sink *sink, const char *key, size_t klen, const meta *m) {
    char text[STREAM_ID_TEXT_MAX];
    const stream_extras *x = &m->stream;
    if (m->size == 0) {
        args_add_str(b, "XADD");
        args_add(b, key, klen);
        args_add_str(b, "MAXLEN");
        args_add_str(b, "0");
        stream_id made = x->last_generated;
        if (made.ms == 0 && made.seq == 0) made.seq = 1;
        args_add(b, text, stream_id_format(text, made));
        args_add_str(b, "f");
        args_add_str(b, "v");
        args_emit(b, sink);
    }
    if (stream_id_compare(x->last_generated, x->max_deleted) >= 0) {
        emit_setid(b, sink, key, klen, x->last_generated, x);
        return;
    }
    emit_setid(b, sink, key, klen, x->max_deleted, x);
    emit_setid(b, sink, key, klen, x->last_generated, NULL);
}

/* A stream's consumer groups, rebuilt with Redis 7.0's commands: XGROUP CREATE at the group's
 * last id and entries read, CREATECONSUMER of each consumer, and XCLAIM … FORCE of each pending
 * entry with its delivery time and count (a pending entry whose entry was deleted cannot be
 * made so: XCLAIM drops it). Consumers' seen times are the replay's. Each command is an element,
 * so a group with a million pending entries spans pages as a big collection does. A place among
 * the groups is a phase, then the group's name (u32 length, bytes), then for GROUP_CONSUMERS the
 * consumer to go on from, for GROUP_PENDING the pending id (STREAM_ID_BYTES). */
#define GROUP_CREATE 'g'
#define GROUP_CONSUMERS 'c'
#define GROUP_PENDING 'p'
#define GROUP_RESUME_HEAD 5

static int stop_in_group(stream_dump *d, uint8_t phase, const void *at, size_t alen) {
    buf *r = &d->w->resume;
    buf_clear(r);
    buf_put_u8(r, phase);
    buf_put_u32be(r, (uint32_t)d->group.len);
    buf_append(r, d->group.ptr, d->group.len);
    buf_append(r, at, alen);
    d->more = 1;
    return 1;
}

/* Reads a place among the groups from a page's end: 0, or -1 if `from` names none. */
static int parse_group_place(const buf *from, stream_dump *d) {
    if (from->len < GROUP_RESUME_HEAD) return -1;
    uint8_t phase = (uint8_t)from->data[0];
    uint32_t glen = buf_get_u32be(from->data + 1);
    if (glen > from->len - GROUP_RESUME_HEAD) return -1;
    char *rest = from->data + GROUP_RESUME_HEAD + glen;
    size_t rlen = from->len - GROUP_RESUME_HEAD - glen;
    if (phase == GROUP_PENDING && rlen == STREAM_ID_BYTES) d->resume_id = stream_id_from_bytes(rest);
    else if (phase == GROUP_CONSUMERS) d->resume_consumer = (slice){rest, rlen};
    else if (phase != GROUP_CREATE || rlen != 0) return -1;
    d->phase = phase;
    d->resume_group = (slice){from->data + GROUP_RESUME_HEAD, glen};
    return 0;
}

static int dump_consumer(void *arg, slice name, const sg_consumer *c) {
    (void)c;
    stream_dump *d = arg;
    if (page_full(d, d->group.len + name.len, GROUP_RESUME_HEAD + d->group.len + name.len))
        return stop_in_group(d, GROUP_CONSUMERS, name.ptr, name.len);
    argv_builder *b = &d->w->args;
    args_add_str(b, "XGROUP");
    args_add_str(b, "CREATECONSUMER");
    args_add(b, d->key, d->klen);
    args_add(b, d->group.ptr, d->group.len);
    args_add(b, name.ptr, name.len);
    args_emit(b, d->w->sink);
    d->n++;
    return 0;
}

static int dump_nack(void *arg, stream_id id, const sg_nack *n, int64_t idle_ms) {
    (void)idle_ms;
    stream_dump *d = arg;
    if (page_full(d, d->group.len + n->consumer.len, GROUP_RESUME_HEAD + d->group.len + STREAM_ID_BYTES)) {
        uint8_t bytes[STREAM_ID_BYTES];
        stream_id_to_bytes(bytes, id);
        return stop_in_group(d, GROUP_PENDING, bytes, STREAM_ID_BYTES);
    }
    argv_builder *b = &d->w->args;
    char text[STREAM_ID_TEXT_MAX];
    args_add_str(b, "XCLAIM");
    args_add(b, d->key, d->klen);
    args_add(b, d->group.ptr, d->group.len);
    args_add(b, n->consumer.ptr, n->consumer.len);
    args_add_str(b, "0");
    args_add(b, text, stream_id_format(text, id));
    args_add_str(b, "TIME");
    args_add_ll(b, n->delivery_ms);
    args_add_str(b, "RETRYCOUNT");
    args_add_ll(b, (long long)n->count);
    args_add_str(b, "FORCE");
    args_add_str(b, "JUSTID");
    args_emit(b, d->w->sink);
    d->n++;
    return 0;
}

static int dump_group(void *arg, slice name, const sg_group *g) {
    stream_dump *d = arg;
    /* The walk began at the group a page ended in, unless that group is gone by now. */
    int resumed = d->phase && name.len == d->resume_group.len && memcmp(name.ptr, d->resume_group.ptr, name.len) == 0;
    uint8_t phase = resumed ? d->phase : GROUP_CREATE;
    d->phase = 0;
    d->group = name;
    if (phase == GROUP_CREATE) {
        if (page_full(d, name.len, GROUP_RESUME_HEAD + name.len)) return stop_in_group(d, GROUP_CREATE, NULL, 0);
        argv_builder *b = &d->w->args;
        char text[STREAM_ID_TEXT_MAX];
        args_add_str(b, "XGROUP");
        args_add_str(b, "CREATE");
        args_add(b, d->key, d->klen);
        args_add(b, name.ptr, name.len);
        args_add(b, text, stream_id_format(text, g->last_id));
        args_add_str(b, "ENTRIESREAD");
        args_add_ll(b, g->entries_read);
        args_emit(b, d->w->sink);
        d->n++;
    }
    if (phase != GROUP_PENDING) {
        const slice *from = phase == GROUP_CONSUMERS ? &d->resume_consumer : NULL;
        d->st = stream_consumers_walk(d->w->t, d->w->db, d->key, d->klen, d->m, name, from, dump_consumer, d);
        if (d->st != ST_OK || d->more) return 1;
    }
    stream_id from = phase == GROUP_PENDING ? d->resume_id : (stream_id){0, 0};
    d->st = stream_pel_walk(d->w->t, d->w->db, d->key, d->klen, d->m, name, NULL, from, 0, dump_nack, d);
    return d->st != ST_OK || d->more;
}

/* The stream's groups, from the place d->phase names (none: the first group). */
static type_status dump_stream_groups(stream_dump *d) {
    if (d->m->stream.groups == 0) return ST_OK;
    const slice *from = d->phase ? &d->resume_group : NULL;
    type_status st = stream_groups_walk(d->w->t, d->w->db, d->key, d->klen, d->m, from, dump_group, d);
    return st != ST_OK ? st : d->st;
}

/* A stream from the place `from` names (NULL: from the start, after a DEL), as dump_collection
 * does a collection; when done, its expiry. */
static int dump_stream(walker *w, const char *key, size_t klen, const meta *m, const buf *from, size_t budget,
                       size_t taken_before, size_t *used) {
    argv_builder *b = &w->args;
    const dump_sink *sink = w->sink;
    sink->begin_key(sink->arg, w->db);
    if (!from) emit_key_command(b, sink, "DEL", key, klen);
    stream_dump d = {.w = w, .key = key, .klen = klen, .m = m, .budget = budget, .taken_before = taken_before};
    type_status st = ST_OK;
    if (!from || parse_group_place(from, &d) < 0) {
        stream_id start;
        int resume = from && from->len == 1 + STREAM_ID_BYTES && from->data[0] == STREAM_AT_ENTRY;
        if (resume) start = stream_id_from_bytes(from->data + 1);
        st = stream_walk_entries(w->t, w->db, key, klen, m, resume ? &start : NULL, dump_entry, &d);
        if (st == ST_OK && !d.more) emit_stream_ids(b, sink, key, klen, m);
    }
    if (st == ST_OK && !d.more) st = dump_stream_groups(&d);
    int rc = st == ST_OK ? (d.more ? DUMP_MORE : DUMP_DONE) : -1;
    if (rc == DUMP_DONE && m->expire_ms) {
        args_add_str(b, "PEXPIREAT");
        args_add(b, key, klen);
        args_add_ll(b, (long long)m->expire_ms);
        args_emit(b, sink);
    }
    if (rc >= 0) sink->end_key(sink->arg);
    args_clear(b);
    *used = d.n;
    return rc;
}

/* ---- the walk ---- */

/* A walk looks at no more than this many keys per element it may return, so that a filter
 * that keeps few keys does not make one call walk the whole keyspace. */
#define LOOK_PER_ELEMENT 16

static int kept(const dump_filter *f, const char *key, size_t klen, enum key_type type) {
    if (!piece_command(type) && !is_string(type) && type != TYPE_STREAM) return 0; /* no type tidekv can rebuild */
    if (f->type && f->type != (int)type && !(f->type == TYPE_STRING && type == TYPE_BITMAP)) return 0;
    return !f->match || glob_match(f->match, f->match_len, key, klen, 0);
}

static void pos_at_key(dump_pos *pos, const char *key, size_t klen, int after) {
    if (key != pos->key.data) { /* may be the key itself */
        buf_clear(&pos->key);
        buf_append(&pos->key, key, klen);
    }
    if (after) buf_append_byte(&pos->key, 0); /* the first key after it */
    pos->in_key = 0;
    buf_clear(&pos->member);
}

/* Walks one database (w->db, which pos names) from pos. Returns 1 when it is done, 0 when the
 * budget (the keys to look at, the room in the sink) ran out, -1 on a read error. */
static int walk_db(walker *w, const dump_filter *f, dump_pos *pos, size_t budget, size_t *used, size_t *looked,
                   size_t look_max) {
    ks_cursor *cur = ks_cursor_new(w->t, w->db, pos->key.data ? pos->key.data : "", pos->key.len);
    w->members = compound_reader_new(w->t, w->db);
    const char *key;
    size_t klen;
    meta m;
    int rc = 1;
    while (rc == 1 && ks_cursor_next(cur, &key, &klen, &m)) {
        /* A cursor inside a key that is not there (it names no key of this snapshot) starts
         * the next key afresh. */
        int inside = pos->in_key && klen == pos->key.len && memcmp(key, pos->key.data, klen) == 0;
        if (*looked >= look_max || *used >= budget || (*used > 0 && sink_full(w->sink, 0))) {
            if (!inside) pos_at_key(pos, key, klen, 0); /* else pos is already there */
            rc = 0;
            break;
        }
        (*looked)++;
        if (!kept(f, key, klen, m.type)) continue;
        size_t n = 1;
        const buf *from = inside ? &pos->member : NULL;
        int st = is_string(m.type)        ? dump_string(w, key, klen, &m)
                 : m.type == TYPE_STREAM ? dump_stream(w, key, klen, &m, from, budget - *used, *used, &n)
                                         : dump_collection(w, key, klen, &m, from, budget - *used, *used, &n);
        if (st < 0) {
            rc = -1;
        } else if (st == DUMP_MORE) {
            pos_at_key(pos, key, klen, 0);
            pos->in_key = 1;
            buf_append(&pos->member, w->resume.data, w->resume.len);
            *used = budget;
            rc = 0;
        } else {
            *used += n;
            pos_at_key(pos, key, klen, 1);
        }
    }
    if (ks_cursor_free(cur) < 0) rc = -1;
    compound_reader_free(w->members);
    w->members = NULL;
    return rc;
}

/* Where a walk of the libraries stands. */
typedef struct library_walk {
    const dump_sink *sink;
    dump_pos *pos;
    size_t count, *used;
    int stopped; /* at the library pos names */
} library_walk;

/* One library as FUNCTION LOAD REPLACE <code>, unless the walk's elements or room ran out. */
static int dump_library(void *arg, const char *name, size_t nlen, const char *code, size_t clen) {
    library_walk *lw = arg;
    if (*lw->used >= lw->count || (*lw->used > 0 && sink_full(lw->sink, clen))) {
        pos_at_key(lw->pos, name, nlen, 0);
        lw->stopped = 1;
        return 1;
    }
    const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", code};
    size_t lens[4] = {8, 4, 7, clen};
    lw->sink->begin_key(lw->sink->arg, 0);
    lw->sink->command(lw->sink->arg, 4, argv, lens);
    lw->sink->end_key(lw->sink->arg);
    (*lw->used)++;
    return 0;
}

/* Walks the libraries from pos (they pass every filter, as FUNCTION's records do in the
 * change stream). Returns 1 when they are done, 0 when the budget ran out, -1 on a read error. */
static int walk_libraries(txn *t, const dump_sink *sink, dump_pos *pos, size_t count, size_t *used) {
    library_walk lw = {sink, pos, count, used, 0};
    if (function_store_walk(t, pos->key.data ? pos->key.data : "", pos->key.len, dump_library, &lw) < 0) return -1;
    return !lw.stopped;
}

int dump_walk(txn *t, int databases, const dump_filter *f, dump_pos *pos, size_t count, const dump_sink *sink) {
    size_t used = 0, looked = 0, look_max = count * LOOK_PER_ELEMENT;
    walker w = {.t = t, .sink = sink};
    args_init(&w.args);
    buf_init(&w.resume);
    int rc = 0;
    if (pos->db == DUMP_LIBRARIES) {
        rc = walk_libraries(t, sink, pos, count, &used);
        if (rc == 1) {
            pos->db = 0;
            pos_at_key(pos, "", 0, 0);
        }
    }
    while (rc >= 0 && pos->db >= 0 && pos->db < databases && used < count && looked < look_max) {
        if (f->db >= 0 && pos->db != f->db) { /* straight to the filter's database, or done */
            pos->db = pos->db < f->db ? f->db : databases;
            pos_at_key(pos, "", 0, 0);
            continue;
        }
        w.db = pos->db;
        rc = walk_db(&w, f, pos, count, &used, &looked, look_max);
        if (rc <= 0) break; /* a read error, or out of elements, keys to look at or room in the sink */
        pos->db++;
        pos_at_key(pos, "", 0, 0);
    }
    args_free(&w.args);
    buf_free(&w.resume);
    return rc < 0 ? -1 : 0;
}
