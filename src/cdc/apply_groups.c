#include "cdc/apply_groups.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"
#include "types/stream.h"
#include "util/grow.h"
#include "util/num.h"

/* Ids per XACK, as apply.c splits its member commands. */
#define ACKS_PER_COMMAND 256

struct group_note {
    size_t index; /* the key's */
    uint64_t version;
    uint8_t tag;
    stream_id id;
    size_t group_at, group_len, consumer_at, consumer_len, before_at, before_len; /* in the arena */
    int existed, exists;                    /* before the commit; after it (once checked) */
    const char *group, *consumer, *before; /* the arena's bytes, once sorted */
};

static const stream_id zero_id = {0, 0};
static const slice no_name = {"", 0};

static int fail(apply_groups *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(apply_groups *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, g->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int shown(size_t len) { return len > 128 ? 128 : (int)len; }

static int malformed(apply_groups *g, const group_stream *s) {
    return fail(g, "ERR APPLYBATCH: malformed consumer group record of stream '%.*s'", shown(s->klen), s->key);
}

/* A batch whose group records would contradict each other: what is wrong, named. */
static int disagree(apply_groups *g, const group_stream *s, const char *what) {
    return fail(g, "ERR APPLYBATCH: the consumer groups of stream '%.*s' disagree with their records: %s",
                shown(s->klen), s->key, what);
}

/* The stream's metadata counts the groups it holds. */
static int check_groups_count(apply_groups *g, const group_stream *s, uint64_t held) {
    if (s->after->stream.groups == held) return 0;
    return fail(g, "ERR APPLYBATCH: stream '%.*s' would say %llu consumer groups but hold %llu", shown(s->klen), s->key,
                (unsigned long long)s->after->stream.groups, (unsigned long long)held);
}

static int storage_error(apply_groups *g) { return fail(g, "ERR storage error reading a key the batch writes"); }

void apply_groups_init(apply_groups *g, txn *t, char *err, size_t errlen) {
    memset(g, 0, sizeof(*g));
    g->t = t;
    g->err = err;
    g->errlen = errlen;
    buf_init(&g->arena);
    buf_init(&g->sk.group);
    buf_init(&g->sk.consumer);
    buf_init(&g->scratch);
    buf_init(&g->value);
    buf_init(&g->name);
}

void apply_groups_free(apply_groups *g) {
    free(g->notes);
    buf_free(&g->arena);
    buf_free(&g->sk.group);
    buf_free(&g->sk.consumer);
    buf_free(&g->scratch);
    buf_free(&g->value);
    buf_free(&g->name);
}

void apply_groups_clear(apply_groups *g) {
    g->nnotes = 0;
    buf_clear(&g->arena);
}

static size_t keep(apply_groups *g, const char *p, size_t len) {
    size_t at = g->arena.len;
    if (len) buf_append(&g->arena, p, len);
    return at;
}

int apply_groups_note(apply_groups *g, const group_stream *s, uint64_t version, const char *subkey, size_t subkey_len,
                      const char *sub, size_t sublen, const char *value, size_t vlen, int read_before) {
    if (sg_subkey_decode(sub, sublen, &g->sk) < 0 || (value && sg_record_check(&g->sk, value, vlen) < 0))
        return malformed(g, s);
    group_note n = {.index = s->index, .version = version, .tag = g->sk.tag, .id = g->sk.id};
    n.group_len = g->sk.group.len;
    n.group_at = keep(g, g->sk.group.data, n.group_len);
    n.consumer_len = g->sk.consumer.len;
    n.consumer_at = keep(g, g->sk.consumer.data, n.consumer_len);
    if (read_before) {
        int rc = txn_get(g->t, CF_STREAM_GROUP, subkey, subkey_len, &g->value);
        if (rc < 0) return storage_error(g);
        n.existed = rc;
        n.before_len = rc ? g->value.len : 0;
        n.before_at = keep(g, g->value.data, n.before_len);
    }
    g->notes = grow_array(g->notes, &g->notes_cap, g->nnotes + 1, sizeof(*g->notes), 16);
    g->notes[g->nnotes++] = n;
    return 0;
}

/* ---- the notes in order: by key, version, group, tag, consumer, id ---- */

static int note_order(const void *pa, const void *pb) {
    const group_note *x = pa, *y = pb;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    int c = bytes_compare(x->group, x->group_len, y->group, y->group_len);
    if (c == 0) c = (int)x->tag - (int)y->tag;
    if (c == 0) c = bytes_compare(x->consumer, x->consumer_len, y->consumer, y->consumer_len);
    return c ? c : stream_id_compare(x->id, y->id);
}

void apply_groups_sort(apply_groups *g) {
    const char *base = g->arena.data ? g->arena.data : "";
    for (size_t i = 0; i < g->nnotes; i++) {
        group_note *n = &g->notes[i];
        n->group = base + n->group_at;
        n->consumer = base + n->consumer_at;
        n->before = base + n->before_at;
    }
    if (g->nnotes > 1) qsort(g->notes, g->nnotes, sizeof(*g->notes), note_order);
}

/* The first note of key index under version (or where it would be). */
static size_t first_note(const apply_groups *g, size_t index, uint64_t version) {
    size_t lo = 0, hi = g->nnotes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const group_note *n = &g->notes[mid];
        if (n->index < index || (n->index == index && n->version < version)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int note_of(const group_note *n, size_t index, uint64_t version) {
    return n->index == index && n->version == version;
}

int apply_groups_written(const apply_groups *g, size_t index, uint64_t version) {
    size_t i = first_note(g, index, version);
    return i < g->nnotes && note_of(&g->notes[i], index, version);
}

/* Whether a note names the record the one before it does (a record written twice). */
static int repeats(const group_note *notes, size_t i, size_t from) {
    return i > from && note_order(&notes[i - 1], &notes[i]) == 0;
}

static slice group_of(const group_note *n) { return (slice){(char *)n->group, n->group_len}; }
static slice consumer_of(const group_note *n) { return (slice){(char *)n->consumer, n->consumer_len}; }
static int same_name(slice a, slice b) { return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0; }

/* ---- records as the commit leaves them ---- */

/* Reads a record of the stream's version: 1 (its value in g->value), 0, or -1. */
static int get_record(apply_groups *g, const group_stream *s, uint8_t tag, slice group, slice consumer, stream_id id) {
    buf_clear(&g->name);
    sg_subkey_encode(&g->name, tag, group, consumer, id);
    buf_clear(&g->scratch);
    enc_subkey(&g->scratch, s->db, s->key, s->klen, s->after->version, g->name.data, g->name.len);
    int rc = txn_get(g->t, CF_STREAM_GROUP, g->scratch.data, g->scratch.len, &g->value);
    return rc < 0 ? storage_error(g) : rc;
}

/* A group's or consumer's record at one time (all zero when there is none). */
typedef struct group_state {
    int exists;
    sg_group v;
} group_state;

typedef struct consumer_state {
    int exists;
    sg_consumer v;
} consumer_state;

static int group_state_of(apply_groups *g, const group_stream *s, int exists, const char *v, size_t len,
                          group_state *out) {
    memset(out, 0, sizeof(*out));
    out->exists = exists;
    return exists && sg_group_decode(v, len, &out->v) < 0 ? malformed(g, s) : 0;
}

static int consumer_state_of(apply_groups *g, const group_stream *s, int exists, const char *v, size_t len,
                             consumer_state *out) {
    memset(out, 0, sizeof(*out));
    out->exists = exists;
    return exists && sg_consumer_decode(v, len, &out->v) < 0 ? malformed(g, s) : 0;
}

static int read_group(apply_groups *g, const group_stream *s, slice name, group_state *out) {
    int rc = get_record(g, s, SG_TAG_GROUP, name, no_name, zero_id);
    return rc < 0 ? -1 : group_state_of(g, s, rc, g->value.data, g->value.len, out);
}

static int read_consumer(apply_groups *g, const group_stream *s, slice group, slice name, consumer_state *out) {
    int rc = get_record(g, s, SG_TAG_CONSUMER, group, name, zero_id);
    return rc < 0 ? -1 : consumer_state_of(g, s, rc, g->value.data, g->value.len, out);
}

/* Reads a pending entry: 1 with its owner copied into owner, 0, or -1. */
static int read_owner(apply_groups *g, const group_stream *s, slice group, stream_id id, buf *owner) {
    int rc = get_record(g, s, SG_TAG_PEL, group, no_name, id);
    sg_nack n;
    if (rc == 1 && sg_nack_decode(g->value.data, g->value.len, &n) < 0) return malformed(g, s);
    buf_clear(owner);
    if (rc == 1) buf_append(owner, n.consumer.ptr, n.consumer.len);
    return rc;
}

static slice slice_of(const buf *b) { return (slice){b->data ? b->data : "", b->len}; }

/* ---- the change records (as cmd/stream_group.c and SNAPSHOT READ word them) ---- */

static void emit(apply_groups *g, const group_stream *s, int argc, const char **argv, const size_t *lens) {
    txn_record(g->t, s->db, TYPE_STREAM, argc, argv, lens);
}

/* XGROUP CREATE|SETID key group <last id> ENTRIESREAD n */
static void emit_group_position(apply_groups *g, const group_stream *s, const char *sub, slice group,
                                const sg_group *v) {
    char id[STREAM_ID_TEXT_MAX], read[24];
    const char *argv[] = {"XGROUP", sub, s->key, group.ptr, id, "ENTRIESREAD", read};
    size_t lens[] = {6, strlen(sub), s->klen, group.len, stream_id_format(id, v->last_id), 11,
                     num_format_ll(read, v->entries_read)};
    emit(g, s, 7, argv, lens);
}

/* XGROUP DESTROY key group, or CREATECONSUMER / DELCONSUMER key group consumer */
static void emit_xgroup(apply_groups *g, const group_stream *s, const char *sub, slice group, const slice *consumer) {
    const char *argv[] = {"XGROUP", sub, s->key, group.ptr, consumer ? consumer->ptr : NULL};
    size_t lens[] = {6, strlen(sub), s->klen, group.len, consumer ? consumer->len : 0};
    emit(g, s, consumer ? 5 : 4, argv, lens);
}

/* XCLAIM key group owner 0 id TIME ms RETRYCOUNT n FORCE JUSTID: the pending entry as it is
 * here, made or taken from whoever held it. */
static void emit_claim(apply_groups *g, const group_stream *s, slice group, stream_id id, const sg_nack *n) {
    char idt[STREAM_ID_TEXT_MAX], when[24], count[24];
    const char *argv[] = {"XCLAIM", s->key, group.ptr, n->consumer.ptr, "0", idt, "TIME", when, "RETRYCOUNT", count,
                          "FORCE",  "JUSTID"};
    size_t lens[] = {6, s->klen, group.len, n->consumer.len, 1, stream_id_format(idt, id), 4,
                     num_format_ll(when, n->delivery_ms), 10, num_format_ll(count, (long long)n->count), 5, 6};
    emit(g, s, 12, argv, lens);
}

/* The ids of a group's pending entries the commit removed, recorded as XACK. */
typedef struct ack_list {
    char text[ACKS_PER_COMMAND][STREAM_ID_TEXT_MAX];
    size_t lens[ACKS_PER_COMMAND], n;
} ack_list;

static void acks_flush(apply_groups *g, const group_stream *s, slice group, ack_list *l) {
    if (l->n == 0) return;
    const char *argv[3 + ACKS_PER_COMMAND] = {"XACK", s->key, group.ptr};
    size_t lens[3 + ACKS_PER_COMMAND] = {4, s->klen, group.len};
    for (size_t i = 0; i < l->n; i++) {
        argv[3 + i] = l->text[i];
        lens[3 + i] = l->lens[i];
    }
    emit(g, s, (int)(3 + l->n), argv, lens);
    l->n = 0;
}

static void acks_add(apply_groups *g, const group_stream *s, slice group, ack_list *l, stream_id id) {
    if (l->n == ACKS_PER_COMMAND) acks_flush(g, s, group, l);
    l->lens[l->n] = stream_id_format(l->text[l->n], id);
    l->n++;
}

/* ---- a stream that keeps its version: what the commit changed ---- */

/* One group's change: its record before and after, and what its records' writes add up to. */
typedef struct group_change {
    const group_stream *s;
    slice name;
    group_state before, after;
    int recorded;                  /* its records' changes are recorded (not a group destroyed) */
    uint64_t consumers, pending; /* its counts as the writes leave them */
    buf owner;
    ack_list *acks;
} group_change;

/* The notes of one group, by tag (each a run, in the notes' order). */
typedef struct group_runs {
    size_t c_from, c_to, o_from, o_to, p_from, p_to;
    const group_note *group_record; /* its 'G' note, NULL if none */
} group_runs;

static void split_runs(const group_note *notes, size_t from, size_t to, group_runs *r) {
    size_t i = from;
    r->group_record = NULL;
    r->c_from = i;
    while (i < to && notes[i].tag == SG_TAG_CONSUMER) i++;
    r->c_to = i;
    if (i < to && notes[i].tag == SG_TAG_GROUP) r->group_record = &notes[i];
    while (i < to && notes[i].tag == SG_TAG_GROUP) i++;
    r->o_from = i;
    while (i < to && notes[i].tag == SG_TAG_OWNED) i++;
    r->o_to = i;
    r->p_from = i;
    r->p_to = to;
}

/* An 'O' note: the record is there after the commit exactly when its pending entry is there
 * and held by that consumer. */
static int check_owned(apply_groups *g, group_change *c, group_note *o) {
    int rc = get_record(g, c->s, SG_TAG_OWNED, c->name, consumer_of(o), o->id);
    if (rc < 0) return -1;
    o->exists = rc;
    rc = read_owner(g, c->s, c->name, o->id, &c->owner);
    if (rc < 0) return -1;
    int held = rc == 1 && same_name(slice_of(&c->owner), consumer_of(o));
    return held == o->exists ? 0 : disagree(g, c->s, "a pending entry's owner");
}

/* The consumers the commit writes ('C' notes) or whose pending entries it changes ('O'
 * notes), in name order: each one's pending count must move by the 'O' records it gains and
 * loses; a consumer made is recorded. */
static int check_consumers(apply_groups *g, group_change *c, group_note *notes, const group_runs *r) {
    size_t ci = r->c_from, oi = r->o_from;
    while (ci < r->c_to || oi < r->o_to) {
        group_note *cn = ci < r->c_to ? &notes[ci] : NULL, *on = oi < r->o_to ? &notes[oi] : NULL;
        int cmp = !cn ? 1 : !on ? -1 : bytes_compare(cn->consumer, cn->consumer_len, on->consumer, on->consumer_len);
        slice name = consumer_of(cmp <= 0 ? cn : on);
        consumer_state before, after;
        if (read_consumer(g, c->s, c->name, name, &after) < 0) return -1;
        before = after;
        if (cmp <= 0) {
            if (consumer_state_of(g, c->s, cn->existed, cn->before, cn->before_len, &before) < 0) return -1;
            cn->exists = after.exists;
            c->consumers += (uint64_t)after.exists - (uint64_t)before.exists;
            if (c->recorded && after.exists && !before.exists) emit_xgroup(g, c->s, "CREATECONSUMER", c->name, &name);
            do ci++;
            while (ci < r->c_to && repeats(notes, ci, r->c_from));
        }
        uint64_t owned = before.v.pending;
        for (; cmp >= 0 && oi < r->o_to && same_name(consumer_of(&notes[oi]), name); oi++) {
            if (repeats(notes, oi, r->o_from)) continue;
            if (check_owned(g, c, &notes[oi]) < 0) return -1;
            owned += (uint64_t)notes[oi].exists - (uint64_t)notes[oi].existed;
        }
        if (after.v.pending != owned) return disagree(g, c->s, "a consumer's pending count");
    }
    return 0;
}

/* A 'P' note: held after the commit by a consumer with its 'O' record, and no longer in the
 * 'O' records of the consumer that held it before (if another). Made or changed: XCLAIM;
 * removed: XACK. */
static int check_pending(apply_groups *g, group_change *c, group_note *p, ack_list *acks) {
    int rc = get_record(g, c->s, SG_TAG_PEL, c->name, no_name, p->id);
    if (rc < 0) return -1;
    p->exists = rc;
    sg_nack now = {0, 0, {NULL, 0}}, was = {0, 0, {NULL, 0}};
    buf_clear(&c->owner);
    if (rc == 1) buf_append(&c->owner, g->value.data, g->value.len); /* the value: head, then owner */
    if (rc == 1 && sg_nack_decode(c->owner.data, c->owner.len, &now) < 0) return malformed(g, c->s);
    if (p->existed && sg_nack_decode(p->before, p->before_len, &was) < 0) return malformed(g, c->s);
    if (rc == 1) {
        rc = get_record(g, c->s, SG_TAG_OWNED, c->name, now.consumer, p->id);
        if (rc != 1) return rc < 0 ? -1 : disagree(g, c->s, "a pending entry's owner");
    }
    if (p->existed && (!p->exists || !same_name(was.consumer, now.consumer))) {
        rc = get_record(g, c->s, SG_TAG_OWNED, c->name, was.consumer, p->id);
        if (rc != 0) return rc < 0 ? -1 : disagree(g, c->s, "a pending entry's owner");
    }
    c->pending += (uint64_t)p->exists - (uint64_t)p->existed;
    if (!c->recorded) return 0;
    int changed = !p->existed || p->before_len != c->owner.len || memcmp(p->before, c->owner.data, c->owner.len) != 0;
    if (p->exists && changed) emit_claim(g, c->s, c->name, p->id, &now);
    if (p->existed && !p->exists) acks_add(g, c->s, c->name, acks, p->id);
    return 0;
}

/* The group's own record: recorded as DESTROY, CREATE, or SETID when its position moved. */
static void record_group(apply_groups *g, group_change *c) {
    const group_state *b = &c->before, *a = &c->after;
    if (b->exists && !a->exists) emit_xgroup(g, c->s, "DESTROY", c->name, NULL);
    else if (a->exists && !b->exists) emit_group_position(g, c->s, "CREATE", c->name, &a->v);
    else if (a->exists && (stream_id_compare(a->v.last_id, b->v.last_id) != 0 || a->v.entries_read != b->v.entries_read))
        emit_group_position(g, c->s, "SETID", c->name, &a->v);
}

static int describe_group(apply_groups *g, group_change *c, group_note *notes, const group_runs *r) {
    if (read_group(g, c->s, c->name, &c->after) < 0) return -1;
    c->before = c->after;
    const group_note *gn = r->group_record;
    if (gn && group_state_of(g, c->s, gn->existed, gn->before, gn->before_len, &c->before) < 0) return -1;
    c->recorded = c->after.exists;
    record_group(g, c);
    c->consumers = c->before.v.consumers;
    c->pending = c->before.v.pending;
    if (check_consumers(g, c, notes, r) < 0) return -1;
    for (size_t i = r->p_from; i < r->p_to; i++)
        if (!repeats(notes, i, r->p_from) && check_pending(g, c, &notes[i], c->acks) < 0) return -1;
    acks_flush(g, c->s, c->name, c->acks);
    if (c->after.v.consumers != c->consumers) return disagree(g, c->s, "a group's consumer count");
    if (c->after.v.pending != c->pending) return disagree(g, c->s, "a group's pending count");
    /* A consumer removed goes last: the pending entries it held went before (XCLAIM, XACK). */
    for (size_t i = r->c_from; c->recorded && i < r->c_to; i++) {
        slice name = consumer_of(&notes[i]);
        if (!repeats(notes, i, r->c_from) && notes[i].existed && !notes[i].exists)
            emit_xgroup(g, c->s, "DELCONSUMER", c->name, &name);
    }
    return 0;
}

int apply_groups_describe_change(apply_groups *g, const group_stream *s) {
    uint64_t version = s->after->version, groups = s->before->stream.groups;
    size_t i = first_note(g, s->index, version);
    if (i == g->nnotes || !note_of(&g->notes[i], s->index, version)) return check_groups_count(g, s, groups);
    ack_list *acks = malloc(sizeof(*acks));
    if (!acks) abort();
    acks->n = 0;
    group_change c = {.s = s, .acks = acks};
    buf_init(&c.owner);
    int rc = 0;
    while (rc == 0 && i < g->nnotes && note_of(&g->notes[i], s->index, version)) {
        size_t to = i + 1;
        while (to < g->nnotes && note_of(&g->notes[to], s->index, version) &&
               same_name(group_of(&g->notes[to]), group_of(&g->notes[i])))
            to++;
        group_runs r;
        split_runs(g->notes, i, to, &r);
        c.name = group_of(&g->notes[i]);
        rc = describe_group(g, &c, g->notes, &r);
        groups += (uint64_t)c.after.exists - (uint64_t)c.before.exists;
        i = to;
    }
    buf_free(&c.owner);
    free(acks);
    return rc == 0 ? check_groups_count(g, s, groups) : -1;
}

/* ---- a stream recorded whole: every record walked ---- */

/* A walk over the records of one tag of the stream's version, as the commit leaves them. */
typedef struct tag_walk {
    store_iter *it;
    buf prefix, end;
    size_t base; /* where the record's subkey begins (after the version) */
    int started;
} tag_walk;

static void walk_open(apply_groups *g, const group_stream *s, uint8_t tag, tag_walk *w) {
    memset(w, 0, sizeof(*w));
    buf_init(&w->prefix);
    buf_init(&w->end);
    enc_subkey(&w->prefix, s->db, s->key, s->klen, s->after->version, "", 0);
    w->base = w->prefix.len;
    buf_append_byte(&w->prefix, tag);
    enc_prefix_end(&w->end, w->prefix.data, w->prefix.len);
    w->it = txn_iter_new(g->t, CF_STREAM_GROUP, w->prefix.data, w->prefix.len, w->end.data, w->end.len);
}

static void walk_close(tag_walk *w) {
    store_iter_free(w->it);
    buf_free(&w->prefix);
    buf_free(&w->end);
}

/* The next record: 1 (decoded in g->sk, its value checked and in *v), 0 at the end, or -1.
 * Records a range deletion of this commit removed are skipped (txn iterators show them). */
static int walk_next(apply_groups *g, const group_stream *s, tag_walk *w, const char **v, size_t *vlen) {
    for (;;) {
        if (w->started) store_iter_next(w->it);
        w->started = 1;
        if (!store_iter_valid(w->it)) return store_iter_failed(w->it) ? storage_error(g) : 0;
        size_t klen;
        const char *k = store_iter_key(w->it, &klen);
        if (bytes_compare(k, klen, w->end.data, w->end.len) >= 0) return 0;
        if (g->t->ranges) {
            int rc = txn_get(g->t, CF_STREAM_GROUP, k, klen, &g->value);
            if (rc < 0) return storage_error(g);
            if (rc == 0) continue;
        }
        *v = store_iter_value(w->it, vlen);
        if (sg_subkey_decode(k + w->base, klen - w->base, &g->sk) < 0 || sg_record_check(&g->sk, *v, *vlen) < 0)
            return malformed(g, s);
        return 1;
    }
}

/* Records of one group (and consumer) in a row, counted against what their owner says: a
 * group its consumers and pending entries, a consumer its own. */
typedef struct record_run {
    buf group, consumer;
    uint64_t count, expected;
    int open;
} record_run;

static int run_end(apply_groups *g, const group_stream *s, record_run *r, const char *what) {
    if (r->open && r->count != r->expected) return disagree(g, s, what);
    r->open = 0;
    return 0;
}

/* Moves the run on to the record in g->sk (the same group, and consumer when by_consumer, or
 * a new run whose expected count is read from its owner's record). */
static int run_step(apply_groups *g, const group_stream *s, record_run *r, int by_consumer, const char *what) {
    slice group = slice_of(&g->sk.group), consumer = slice_of(&g->sk.consumer);
    if (!r->open || !same_name(group, slice_of(&r->group)) ||
        (by_consumer && !same_name(consumer, slice_of(&r->consumer)))) {
        if (run_end(g, s, r, what) < 0) return -1;
        buf_clear(&r->group);
        buf_append(&r->group, group.ptr, group.len);
        buf_clear(&r->consumer);
        buf_append(&r->consumer, consumer.ptr, consumer.len);
        if (by_consumer) {
            consumer_state cs;
            if (read_consumer(g, s, group, consumer, &cs) < 0) return -1;
            if (!cs.exists) return disagree(g, s, "a pending entry of no consumer");
            r->expected = cs.v.pending;
        } else {
            group_state gs;
            if (read_group(g, s, group, &gs) < 0) return -1;
            if (!gs.exists) return disagree(g, s, "a record of no group");
            r->expected = g->sk.tag == SG_TAG_CONSUMER ? gs.v.consumers : gs.v.pending;
        }
        r->count = 0;
        r->open = 1;
    }
    r->count++;
    return 0;
}

static int add_checked(uint64_t *sum, uint64_t n) {
    if (*sum > UINT64_MAX - n) return -1;
    *sum += n;
    return 0;
}

/* What the walks count, to be compared at the end, and the run they are in. */
typedef struct group_totals {
    uint64_t groups, consumers, pending;         /* groups, and the sums of their counts */
    uint64_t consumer_records, owned, nacks, owned_records; /* records, and the consumers' sum */
    record_run run;
    buf owner;
} group_totals;

/* Visits a record the walk is at (decoded in g->sk, its value checked): 0, or -1. */
typedef int (*record_visit)(apply_groups *g, const group_stream *s, group_totals *t, const char *v, size_t vlen);

/* 'G': each group, recorded as XGROUP CREATE. */
static int visit_group(apply_groups *g, const group_stream *s, group_totals *t, const char *v, size_t vlen) {
    sg_group grp;
    if (sg_group_decode(v, vlen, &grp) < 0) return malformed(g, s); /* checked: never */
    t->groups++;
    if (add_checked(&t->consumers, grp.consumers) < 0 || add_checked(&t->pending, grp.pending) < 0)
        return disagree(g, s, "a group's counts");
    emit_group_position(g, s, "CREATE", slice_of(&g->sk.group), &grp);
    return 0;
}

/* 'C': each consumer, of a group there is, as many as it says; recorded as CREATECONSUMER. */
static int visit_consumer(apply_groups *g, const group_stream *s, group_totals *t, const char *v, size_t vlen) {
    sg_consumer c;
    if (sg_consumer_decode(v, vlen, &c) < 0) return malformed(g, s); /* checked: never */
    t->consumer_records++;
    if (add_checked(&t->owned, c.pending) < 0) return disagree(g, s, "a consumer's pending count");
    if (run_step(g, s, &t->run, 0, "a group's consumer count") < 0) return -1;
    slice name = slice_of(&g->sk.consumer);
    emit_xgroup(g, s, "CREATECONSUMER", slice_of(&g->sk.group), &name);
    return 0;
}

/* 'O': each consumer's own pending entries, as many as it says, each held by it. */
static int visit_owned(apply_groups *g, const group_stream *s, group_totals *t, const char *v, size_t vlen) {
    (void)v, (void)vlen;
    t->owned_records++;
    if (run_step(g, s, &t->run, 1, "a consumer's pending count") < 0) return -1;
    int held = read_owner(g, s, slice_of(&g->sk.group), g->sk.id, &t->owner);
    if (held < 0) return -1;
    if (held == 0 || !same_name(slice_of(&t->owner), slice_of(&g->sk.consumer)))
        return disagree(g, s, "a pending entry's owner");
    return 0;
}

/* 'P': each group's pending entries, as many as it says; recorded as XCLAIM … FORCE. */
static int visit_pending(apply_groups *g, const group_stream *s, group_totals *t, const char *v, size_t vlen) {
    sg_nack n;
    if (sg_nack_decode(v, vlen, &n) < 0) return malformed(g, s); /* checked: never */
    t->nacks++;
    if (run_step(g, s, &t->run, 0, "a group's pending count") < 0) return -1;
    emit_claim(g, s, slice_of(&g->sk.group), g->sk.id, &n);
    return 0;
}

/* Walks one tag's records, visiting each; what its last run counted must be what its owner
 * says (the what of run_step). */
static int walk_tag(apply_groups *g, const group_stream *s, group_totals *t, uint8_t tag, record_visit visit,
                    const char *what) {
    tag_walk w;
    walk_open(g, s, tag, &w);
    const char *v = NULL;
    size_t vlen = 0;
    int rc;
    while ((rc = walk_next(g, s, &w, &v, &vlen)) == 1)
        if (visit(g, s, t, v, vlen) < 0) {
            rc = -1;
            break;
        }
    walk_close(&w);
    return rc < 0 || run_end(g, s, &t->run, what) < 0 ? -1 : 0;
}

/* Every record is checked against its owner's count run by run; the totals then tell that no
 * owner counts records it lacks (one whose run never came), and that the 'O' records, each
 * pointing at a pending entry of its consumer, are as many as the pending entries, so every
 * pending entry has its consumer's. */
int apply_groups_rebuild(apply_groups *g, const group_stream *s) {
    group_totals t;
    memset(&t, 0, sizeof(t));
    buf_init(&t.run.group);
    buf_init(&t.run.consumer);
    buf_init(&t.owner);
    int rc = walk_tag(g, s, &t, SG_TAG_GROUP, visit_group, "");
    if (rc == 0) rc = walk_tag(g, s, &t, SG_TAG_CONSUMER, visit_consumer, "a group's consumer count");
    if (rc == 0) rc = walk_tag(g, s, &t, SG_TAG_OWNED, visit_owned, "a consumer's pending count");
    if (rc == 0) rc = walk_tag(g, s, &t, SG_TAG_PEL, visit_pending, "a group's pending count");
    buf_free(&t.run.group);
    buf_free(&t.run.consumer);
    buf_free(&t.owner);
    if (rc < 0 || check_groups_count(g, s, t.groups) < 0) return -1;
    if (t.consumer_records != t.consumers) return disagree(g, s, "a group's consumer count");
    if (t.nacks != t.pending) return disagree(g, s, "a group's pending count");
    if (t.owned_records != t.owned) return disagree(g, s, "a consumer's pending count");
    if (t.owned_records != t.nacks) return disagree(g, s, "a pending entry's owner");
    return 0;
}
