#include "types/stream_group.h"

#include <stdlib.h>
#include <string.h>

#include "storage/bounds.h"
#include "types/compound.h"

/* ---- records ---- */

void sg_group_encode(buf *out, const sg_group *g) {
    buf_put_u64be(out, g->last_id.ms);
    buf_put_u64be(out, g->last_id.seq);
    buf_put_u64be(out, (uint64_t)g->entries_read);
    buf_put_u64be(out, g->pending);
    buf_put_u64be(out, g->consumers);
}

int sg_group_decode(const char *v, size_t len, sg_group *g) {
    if (len != SG_GROUP_BYTES) return -1;
    g->last_id = stream_id_from_bytes(v);
    g->entries_read = (int64_t)buf_get_u64be(v + 16);
    g->pending = buf_get_u64be(v + 24);
    g->consumers = buf_get_u64be(v + 32);
    return 0;
}

void sg_consumer_encode(buf *out, const sg_consumer *c) {
    buf_put_u64be(out, (uint64_t)c->seen_ms);
    buf_put_u64be(out, c->pending);
}

int sg_consumer_decode(const char *v, size_t len, sg_consumer *c) {
    if (len != SG_CONSUMER_BYTES) return -1;
    c->seen_ms = (int64_t)buf_get_u64be(v);
    c->pending = buf_get_u64be(v + 8);
    return 0;
}

void sg_nack_encode(buf *out, const sg_nack *n) {
    buf_put_u64be(out, (uint64_t)n->delivery_ms);
    buf_put_u64be(out, n->count);
    buf_append(out, n->consumer.ptr, n->consumer.len);
}

int sg_nack_decode(const char *v, size_t len, sg_nack *n) {
    if (len < SG_NACK_HEAD_BYTES) return -1;
    n->delivery_ms = (int64_t)buf_get_u64be(v);
    n->count = buf_get_u64be(v + 8);
    n->consumer = (slice){(char *)v + SG_NACK_HEAD_BYTES, len - SG_NACK_HEAD_BYTES};
    return 0;
}

/* A name escaped so that names sort bytewise and end unambiguously (see stream_group.h). */
static void put_name(buf *out, slice name) {
    for (size_t i = 0; i < name.len; i++) {
        buf_append_byte(out, (uint8_t)name.ptr[i]);
        if (name.ptr[i] == 0) buf_append_byte(out, 0xFF);
    }
    buf_append_byte(out, 0);
    buf_append_byte(out, 1);
}

static size_t name_bytes(slice name) {
    size_t n = name.len + 2;
    for (size_t i = 0; i < name.len; i++) n += name.ptr[i] == 0;
    return n;
}

/* Reads an escaped name at *p into out: 0 (advancing *p), or -1 if it is malformed. */
static int get_name(const char **p, const char *end, buf *out) {
    buf_clear(out);
    for (const char *q = *p; q < end; q++) {
        if (*q != 0) {
            buf_append_byte(out, (uint8_t)*q);
            continue;
        }
        if (q + 1 == end) return -1;
        uint8_t next = (uint8_t)q[1];
        if (next == 1) {
            *p = q + 2;
            return 0;
        }
        if (next != 0xFF) return -1;
        buf_append_byte(out, 0);
        q++;
    }
    return -1;
}

void sg_subkey_encode(buf *out, uint8_t tag, slice group, slice consumer, stream_id id) {
    buf_append_byte(out, tag);
    put_name(out, group);
    if (tag == SG_TAG_CONSUMER || tag == SG_TAG_OWNED) put_name(out, consumer);
    if (tag == SG_TAG_PEL || tag == SG_TAG_OWNED) {
        uint8_t b[STREAM_ID_BYTES];
        stream_id_to_bytes(b, id);
        buf_append(out, b, STREAM_ID_BYTES);
    }
}

int sg_subkey_decode(const char *p, size_t len, sg_subkey *s) {
    const char *end = p + len;
    if (len < 1) return -1;
    s->tag = (uint8_t)*p++;
    if (s->tag != SG_TAG_GROUP && s->tag != SG_TAG_CONSUMER && s->tag != SG_TAG_PEL && s->tag != SG_TAG_OWNED)
        return -1;
    buf_clear(&s->consumer);
    s->id = (stream_id){0, 0};
    if (get_name(&p, end, &s->group) < 0) return -1;
    if ((s->tag == SG_TAG_CONSUMER || s->tag == SG_TAG_OWNED) && get_name(&p, end, &s->consumer) < 0) return -1;
    if (s->tag == SG_TAG_PEL || s->tag == SG_TAG_OWNED) {
        if (end - p != STREAM_ID_BYTES) return -1;
        s->id = stream_id_from_bytes(p);
        p += STREAM_ID_BYTES;
    }
    return p == end ? 0 : -1;
}

int sg_record_check(const sg_subkey *s, const char *v, size_t len) {
    sg_group g;
    sg_consumer c;
    sg_nack n;
    switch (s->tag) {
    case SG_TAG_GROUP: return sg_group_decode(v, len, &g) == 0 && g.entries_read >= SG_ENTRIES_READ_UNKNOWN ? 0 : -1;
    case SG_TAG_CONSUMER: return sg_consumer_decode(v, len, &c) == 0 && c.seen_ms >= 0 ? 0 : -1;
    case SG_TAG_PEL:
        return sg_nack_decode(v, len, &n) == 0 && n.delivery_ms >= 0 && n.count <= INT64_MAX &&
                       !(s->id.ms == 0 && s->id.seq == 0)
                   ? 0
                   : -1;
    default: return len == 0 ? 0 : -1;
    }
}

/* ---- keys ---- */

static const slice no_name = {"", 0};

/* The subkey of a record; returns the length of what it shares with the records a walk lists
 * beside it (all but its last name or id). */
static size_t record_key(const compound *s, buf *out, uint8_t tag, slice group, slice consumer, stream_id id) {
    buf sub;
    buf_init(&sub);
    sg_subkey_encode(&sub, tag, group, consumer, id);
    buf_clear(out);
    enc_subkey(out, s->db, s->key, s->klen, s->m.version, sub.data, sub.len);
    buf_free(&sub);
    size_t last = tag == SG_TAG_GROUP ? name_bytes(group)
                  : tag == SG_TAG_CONSUMER ? name_bytes(consumer)
                                           : STREAM_ID_BYTES;
    return out->len - last;
}

/* What the records of a walk share: the tag, and the group's (and consumer's) name if given. */
static void walk_prefix(const compound *s, buf *out, uint8_t tag, const slice *group, const slice *consumer) {
    buf sub;
    buf_init(&sub);
    buf_append_byte(&sub, tag);
    if (group) put_name(&sub, *group);
    if (consumer) put_name(&sub, *consumer);
    buf_clear(out);
    enc_subkey(out, s->db, s->key, s->klen, s->m.version, sub.data, sub.len);
    buf_free(&sub);
}

static void put_record(compound *s, const buf *k, size_t plen, const buf *v) {
    bounds_note_put(s->t, CF_STREAM_GROUP, k->data, k->len, plen);
    txn_put(s->t, CF_STREAM_GROUP, k->data, k->len, v->data ? v->data : "", v->len);
}

/* ---- a stream and one of its groups, open for a command ---- */

typedef struct open_group {
    compound s;
    slice name;
    sg_group g;
    int found; /* the group */
    /* The consumer the command serves, kept here until close (one write however many
     * entries it takes). */
    slice consumer;
    sg_consumer c;
    int consumer_found, consumer_dirty;
    buf consumer_copy; /* the name, when a command with no consumer of its own (XACK) keeps one */
    int changed; /* a pending entry or the group's position: what makes a read write */
    buf k, v;    /* scratch */
} open_group;

/* Reads a record: 1 (value in out), 0 missing, or a type_status below 0 … as -1 error. */
static int get_record(open_group *x, const buf *k, buf *out) {
    return txn_get(x->s.t, CF_STREAM_GROUP, k->data, k->len, out);
}

/* Opens the stream and looks the group up: ST_OK (x->found tells), ST_MISSING, or an error. */
static type_status group_open(open_group *x, txn *t, int db, const char *key, size_t klen, slice group) {
    memset(x, 0, sizeof(*x));
    buf_init(&x->k);
    buf_init(&x->v);
    buf_init(&x->consumer_copy);
    x->name = group;
    type_status st = compound_status(compound_open(&x->s, t, db, key, klen, TYPE_STREAM));
    if (st != ST_OK) return st;
    record_key(&x->s, &x->k, SG_TAG_GROUP, group, no_name, (stream_id){0, 0});
    int rc = get_record(x, &x->k, &x->v);
    if (rc < 0) return ST_ERROR;
    if (rc == 1 && sg_group_decode(x->v.data, x->v.len, &x->g) < 0) return ST_CORRUPT;
    x->found = rc == 1;
    return ST_OK;
}

static void group_close(open_group *x) {
    compound_free(&x->s);
    buf_free(&x->k);
    buf_free(&x->v);
    buf_free(&x->consumer_copy);
}

/* A missing key or group as ST_NO_GROUP (the commands that need one). */
static type_status group_open_existing(open_group *x, txn *t, int db, const char *key, size_t klen, slice group) {
    type_status st = group_open(x, t, db, key, klen, group);
    if (st == ST_MISSING || (st == ST_OK && !x->found)) return ST_NO_GROUP;
    return st;
}

static void group_write(open_group *x) {
    record_key(&x->s, &x->k, SG_TAG_GROUP, x->name, no_name, (stream_id){0, 0});
    buf_clear(&x->v);
    sg_group_encode(&x->v, &x->g);
    size_t plen = x->k.len - name_bytes(x->name);
    put_record(&x->s, &x->k, plen, &x->v);
}

static int same_name(slice a, slice b) { return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0; }

static int read_consumer(open_group *x, slice name, sg_consumer *c) {
    record_key(&x->s, &x->k, SG_TAG_CONSUMER, x->name, name, (stream_id){0, 0});
    int rc = get_record(x, &x->k, &x->v);
    if (rc == 1 && sg_consumer_decode(x->v.data, x->v.len, c) < 0) return -2;
    return rc;
}

static void write_consumer(open_group *x, slice name, const sg_consumer *c) {
    size_t plen = record_key(&x->s, &x->k, SG_TAG_CONSUMER, x->name, name, (stream_id){0, 0});
    buf_clear(&x->v);
    sg_consumer_encode(&x->v, c);
    put_record(&x->s, &x->k, plen, &x->v);
}

static type_status rc_status(int rc) { return rc == -2 ? ST_CORRUPT : ST_ERROR; }

/* Takes the command's consumer: looks it up, making it (with create) if it is not there. */
static type_status consumer_take(open_group *x, slice name, int create, int *created) {
    x->consumer = name;
    int rc = read_consumer(x, name, &x->c);
    if (rc < 0) return rc_status(rc);
    *created = 0;
    x->consumer_found = rc == 1;
    if (!x->consumer_found && create) {
        x->c = (sg_consumer){x->s.t->now_ms, 0};
        x->consumer_found = x->consumer_dirty = 1;
        x->g.consumers++;
        *created = 1;
    }
    return ST_OK;
}

static void consumer_seen(open_group *x) {
    x->c.seen_ms = x->s.t->now_ms;
    x->consumer_dirty = 1;
}

/* Adds delta to a consumer's pending count (the command's own in memory; a command with no
 * consumer of its own keeps the first it changes there: the acks of a batch are mostly one
 * consumer's). */
static type_status consumer_add_pending(open_group *x, slice name, int delta) {
    if (!x->consumer.ptr) {
        buf_append(&x->consumer_copy, name.ptr, name.len);
        x->consumer = (slice){x->consumer_copy.data ? x->consumer_copy.data : "", name.len};
        int rc = read_consumer(x, x->consumer, &x->c);
        if (rc <= 0) return rc == 0 ? ST_CORRUPT : rc_status(rc); /* a pending entry of no consumer */
        x->consumer_found = 1;
    }
    if (x->consumer_found && same_name(name, x->consumer)) {
        x->c.pending += (uint64_t)(int64_t)delta;
        x->consumer_dirty = 1;
        return ST_OK;
    }
    sg_consumer c;
    int rc = read_consumer(x, name, &c);
    if (rc <= 0) return rc == 0 ? ST_CORRUPT : rc_status(rc); /* a pending entry of no consumer */
    c.pending += (uint64_t)(int64_t)delta;
    write_consumer(x, name, &c);
    return ST_OK;
}

/* Writes what the command changed of its consumer and the group. */
static void group_finish(open_group *x) {
    if (x->consumer_dirty) write_consumer(x, x->consumer, &x->c);
    x->consumer_dirty = 0;
    group_write(x);
}

/* ---- pending entries ---- */

/* Looks a pending entry up: 1 (its state in *n, pointing into raw), 0, or below 0. */
static int nack_get(open_group *x, stream_id id, buf *raw, sg_nack *n) {
    record_key(&x->s, &x->k, SG_TAG_PEL, x->name, no_name, id);
    int rc = txn_get(x->s.t, CF_STREAM_GROUP, x->k.data, x->k.len, raw);
    if (rc == 1 && sg_nack_decode(raw->data, raw->len, n) < 0) return -2;
    return rc;
}

static void owned_put(open_group *x, slice consumer, stream_id id) {
    size_t plen = record_key(&x->s, &x->k, SG_TAG_OWNED, x->name, consumer, id);
    buf empty;
    buf_init(&empty);
    put_record(&x->s, &x->k, plen, &empty);
}

static void owned_delete(open_group *x, slice consumer, stream_id id) {
    record_key(&x->s, &x->k, SG_TAG_OWNED, x->name, consumer, id);
    txn_delete(x->s.t, CF_STREAM_GROUP, x->k.data, x->k.len);
}

/* Makes id pending for the command's consumer with the given state: old is its state before
 * (NULL if it was not pending), whose consumer loses it. */
static type_status nack_assign(open_group *x, stream_id id, const sg_nack *old, int64_t delivery_ms, uint64_t count) {
    type_status st = ST_OK;
    if (!old) {
        x->g.pending++;
    } else if (!same_name(old->consumer, x->consumer)) {
        owned_delete(x, old->consumer, id);
        st = consumer_add_pending(x, old->consumer, -1);
    }
    if (st != ST_OK) return st;
    if (!old || !same_name(old->consumer, x->consumer)) {
        owned_put(x, x->consumer, id);
        x->c.pending++;
        x->consumer_dirty = 1;
    }
    sg_nack n = {delivery_ms, count, x->consumer};
    x->changed = 1;
    size_t plen = record_key(&x->s, &x->k, SG_TAG_PEL, x->name, no_name, id);
    buf_clear(&x->v);
    sg_nack_encode(&x->v, &n);
    put_record(&x->s, &x->k, plen, &x->v);
    return ST_OK;
}

/* Removes a pending entry (n its state). */
static type_status nack_remove(open_group *x, stream_id id, const sg_nack *n) {
    record_key(&x->s, &x->k, SG_TAG_PEL, x->name, no_name, id);
    txn_delete(x->s.t, CF_STREAM_GROUP, x->k.data, x->k.len);
    owned_delete(x, n->consumer, id);
    if (x->g.pending == 0) return ST_CORRUPT;
    x->g.pending--;
    return consumer_add_pending(x, n->consumer, -1);
}

/* ---- walks ---- */

/* A walk over records under a prefix, from a key after it (from NULL: the first). */
typedef struct record_walk {
    bounded_walk w;
    size_t plen;
} record_walk;

static void rwalk_open(record_walk *rw, txn *t, const buf *prefix, const char *from, size_t flen) {
    bounded_walk_open(&rw->w, t, CF_STREAM_GROUP, prefix->data, prefix->len, from, flen, 0);
    rw->plen = prefix->len;
}

/* 1 with the next record's part after the prefix and its value, 0 at the end. */
static int rwalk_next(record_walk *rw, const char **rest, size_t *rlen, const char **v, size_t *vlen) {
    const char *k;
    size_t kl;
    if (!bounded_walk_next(&rw->w, &k, &kl, v, vlen)) return 0;
    *rest = k + rw->plen;
    *rlen = kl - rw->plen;
    return 1;
}

static type_status rwalk_close(record_walk *rw) { return bounded_walk_close(&rw->w) < 0 ? ST_ERROR : ST_OK; }

/* Up to this many ids are gathered before a walk's records are changed: a walk does not see
 * its own txn's writes reliably, so it ends first (as stream.c's trims do). */
#define ID_BATCH 256

/* Gathers up to max ids of a PEL walk ('P' of the group, or 'O' of a consumer) from *from on
 * (inclusive) and <= end into ids; *more when it stopped at max. */
static type_status gather_ids(open_group *x, const slice *consumer, stream_id from, stream_id end, size_t max,
                              stream_id *ids, size_t *n, int *more) {
    buf prefix;
    buf_init(&prefix);
    walk_prefix(&x->s, &prefix, consumer ? SG_TAG_OWNED : SG_TAG_PEL, &x->name, consumer);
    uint8_t b[STREAM_ID_BYTES];
    stream_id_to_bytes(b, from);
    record_walk rw;
    rwalk_open(&rw, x->s.t, &prefix, (const char *)b, STREAM_ID_BYTES);
    const char *rest, *v;
    size_t rl, vl;
    type_status st = ST_OK;
    *n = 0;
    *more = 0;
    while (rwalk_next(&rw, &rest, &rl, &v, &vl)) {
        if (rl != STREAM_ID_BYTES) {
            st = ST_CORRUPT;
            break;
        }
        stream_id id = stream_id_from_bytes(rest);
        if (stream_id_compare(id, end) > 0) break;
        if (*n == max) {
            *more = 1;
            break;
        }
        ids[(*n)++] = id;
    }
    type_status closed = rwalk_close(&rw);
    buf_free(&prefix);
    return st != ST_OK ? st : closed;
}

/* ---- the stream's counters (Redis 7.0's t_stream.c rules) ---- */

static int id_is_zero(stream_id id) { return id.ms == 0 && id.seq == 0; }

/* Whether an entry from start on may have been deleted (Redis's streamRangeHasTombstones with
 * no end). */
static int tombstones_from(const meta *m, stream_id start) {
    const stream_extras *x = &m->stream;
    if (m->size == 0 || id_is_zero(x->max_deleted)) return 0;
    if (stream_id_compare(x->recorded_first, x->max_deleted) > 0) return 0;
    return stream_id_compare(start, x->max_deleted) <= 0;
}

/* How many entries were added up to id (Redis's streamEstimateDistanceFromFirstEverEntry), or
 * SG_ENTRIES_READ_UNKNOWN. */
static int64_t entries_up_to(const meta *m, stream_id id) {
    const stream_extras *x = &m->stream;
    if (x->entries_added == 0) return 0;
    int cmp_last = stream_id_compare(id, x->last_generated);
    if (m->size == 0 && cmp_last <= 0) return (int64_t)x->entries_added;
    if (cmp_last == 0) return (int64_t)x->entries_added;
    if (cmp_last > 0) return SG_ENTRIES_READ_UNKNOWN;
    int cmp_first = stream_id_compare(id, x->recorded_first);
    if (id_is_zero(x->max_deleted) || stream_id_compare(x->max_deleted, x->recorded_first) < 0) {
        if (cmp_first < 0) return (int64_t)(x->entries_added - m->size);
        if (cmp_first == 0) return (int64_t)(x->entries_added - m->size + 1);
    }
    return SG_ENTRIES_READ_UNKNOWN;
}

int stream_group_lag(const meta *m, const sg_group *g, long long *lag) {
    const stream_extras *x = &m->stream;
    if (x->entries_added == 0) {
        *lag = 0;
        return 0;
    }
    int64_t read = g->entries_read;
    if (read == SG_ENTRIES_READ_UNKNOWN || tombstones_from(m, g->last_id)) read = entries_up_to(m, g->last_id);
    if (read == SG_ENTRIES_READ_UNKNOWN) return -1;
    *lag = (long long)(x->entries_added - (uint64_t)read);
    return 0;
}

/* The group delivered id (`>`): its last id and entries read move on as in Redis. */
static void note_delivered(open_group *x, stream_id id) {
    if (stream_id_compare(id, x->g.last_id) <= 0) return;
    if (x->g.entries_read != SG_ENTRIES_READ_UNKNOWN && !tombstones_from(&x->s.m, id))
        /* Wraps past INT64_MAX to INT64_MIN as Redis's counter does, without signed overflow. */
        x->g.entries_read = (int64_t)((uint64_t)x->g.entries_read + 1);
    else if (x->s.m.stream.entries_added)
        x->g.entries_read = entries_up_to(&x->s.m, id);
    x->g.last_id = id;
    x->changed = 1;
}

/* ---- XGROUP ---- */

type_status stream_group_create(txn *t, int db, const char *key, size_t klen, slice group, const stream_id *id,
                                int64_t entries_read, int mkstream, sg_group *created) {
    open_group x;
    type_status st = group_open(&x, t, db, key, klen, group);
    int made = st == ST_MISSING && mkstream;
    if (made) st = ST_OK; /* x.s.m is a new empty stream */
    if (st == ST_OK && x.found) st = ST_EXISTS;
    if (st == ST_OK) {
        x.g = (sg_group){id ? *id : x.s.m.stream.last_generated, entries_read, 0, 0};
        x.s.m.stream.groups++;
        /* MKSTREAM's new key is a change WATCH sees (as in Redis 7.0); a group alone is not. */
        if (made) stream_save_meta(&x.s);
        else stream_save_groups_count(&x.s);
        group_write(&x);
        *created = x.g;
    }
    group_close(&x);
    return st;
}

type_status stream_group_set_id(txn *t, int db, const char *key, size_t klen, slice group, const stream_id *id,
                                int64_t entries_read, sg_group *after) {
    open_group x;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st == ST_OK) {
        x.g.last_id = id ? *id : x.s.m.stream.last_generated;
        x.g.entries_read = entries_read;
        group_write(&x);
        *after = x.g;
    }
    group_close(&x);
    return st;
}

/* Deletes every record under a walk's prefix, batch by batch, each batch walking on from
 * past the last key the one before saw. */
static type_status delete_under(open_group *x, const buf *prefix) {
    buf keys, from;
    buf_init(&keys);
    buf_init(&from);
    type_status st = ST_OK;
    for (size_t n = ID_BATCH; st == ST_OK && n == ID_BATCH;) {
        buf_clear(&keys);
        record_walk rw;
        rwalk_open(&rw, x->s.t, prefix, from.data, from.len);
        const char *rest, *v;
        size_t rl, vl;
        for (n = 0; n < ID_BATCH && rwalk_next(&rw, &rest, &rl, &v, &vl); n++) {
            buf_put_u32be(&keys, (uint32_t)rl);
            buf_append(&keys, rest, rl);
        }
        st = rwalk_close(&rw);
        for (size_t off = 0; st == ST_OK && off < keys.len;) {
            uint32_t len = buf_get_u32be(keys.data + off);
            buf_clear(&x->k);
            buf_append(&x->k, prefix->data, prefix->len);
            buf_append(&x->k, keys.data + off + 4, len);
            txn_delete(x->s.t, CF_STREAM_GROUP, x->k.data, x->k.len);
            buf_clear(&from);
            buf_append(&from, keys.data + off + 4, len);
            buf_append_byte(&from, 0); /* the first key after it */
            off += 4 + len;
        }
    }
    buf_free(&keys);
    buf_free(&from);
    return st;
}

static type_status consumers_walk(open_group *x, const slice *from,
                                  int (*visit)(void *arg, slice name, const sg_consumer *c), void *arg);

/* Collects a group's consumer names, each as a u32 length and its bytes. */
static int collect_consumer(void *arg, slice name, const sg_consumer *c) {
    (void)c;
    buf *names = arg;
    buf_put_u32be(names, (uint32_t)name.len);
    buf_append(names, name.ptr, name.len);
    return 0;
}

/* Deletes a group's records: each consumer's index of its pending entries, the consumers, the
 * pending entries. Each goes by the prefix its puts widen the bounds of (a consumer's own for
 * its index), and none is read first: a read would index the deletes made so far (see txn.h),
 * which made destroying a group of 50k pending take a second and a half. */
static type_status delete_group_records(open_group *x) {
    buf names, prefix;
    buf_init(&names);
    buf_init(&prefix);
    type_status st = consumers_walk(x, NULL, collect_consumer, &names);
    for (size_t off = 0; st == ST_OK && off < names.len;) {
        uint32_t len = buf_get_u32be(names.data + off);
        slice consumer = {names.data + off + 4, len};
        walk_prefix(&x->s, &prefix, SG_TAG_OWNED, &x->name, &consumer);
        st = delete_under(x, &prefix);
        off += 4 + len;
    }
    walk_prefix(&x->s, &prefix, SG_TAG_CONSUMER, &x->name, NULL);
    if (st == ST_OK) st = delete_under(x, &prefix);
    walk_prefix(&x->s, &prefix, SG_TAG_PEL, &x->name, NULL);
    if (st == ST_OK) st = delete_under(x, &prefix);
    buf_free(&names);
    buf_free(&prefix);
    return st;
}

type_status stream_group_destroy(txn *t, int db, const char *key, size_t klen, slice group, int *destroyed) {
    open_group x;
    type_status st = group_open(&x, t, db, key, klen, group);
    *destroyed = st == ST_OK && x.found;
    if (*destroyed) {
        st = delete_group_records(&x);
        if (st == ST_OK) {
            record_key(&x.s, &x.k, SG_TAG_GROUP, group, no_name, (stream_id){0, 0});
            txn_delete(t, CF_STREAM_GROUP, x.k.data, x.k.len);
            if (x.s.m.stream.groups > 0) x.s.m.stream.groups--;
            stream_save_groups_count(&x.s);
        }
    }
    group_close(&x);
    return st;
}

type_status stream_consumer_create(txn *t, int db, const char *key, size_t klen, slice group, slice consumer,
                                   int *created) {
    open_group x;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st == ST_OK) st = consumer_take(&x, consumer, 1, created);
    if (st == ST_OK && *created) group_finish(&x);
    group_close(&x);
    return st;
}

type_status stream_consumer_delete(txn *t, int db, const char *key, size_t klen, slice group, slice consumer,
                                   long long *pending) {
    open_group x;
    int created;
    *pending = -1;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st == ST_OK) st = consumer_take(&x, consumer, 0, &created);
    if (st == ST_OK && x.consumer_found) {
        /* Its pending entries go from the group's PEL too, batch by batch, unread (see
         * delete_group_records): its index names them. */
        stream_id ids[ID_BATCH];
        size_t n;
        int more = 1;
        *pending = (long long)x.c.pending;
        stream_id from = {0, 0};
        while (st == ST_OK && more) {
            st = gather_ids(&x, &consumer, from, STREAM_ID_MAX, ID_BATCH, ids, &n, &more);
            for (size_t i = 0; st == ST_OK && i < n; i++) {
                if (x.g.pending == 0) { /* owned, yet the group has none pending */
                    st = ST_CORRUPT;
                    break;
                }
                x.g.pending--;
                record_key(&x.s, &x.k, SG_TAG_PEL, x.name, no_name, ids[i]);
                txn_delete(t, CF_STREAM_GROUP, x.k.data, x.k.len);
                owned_delete(&x, consumer, ids[i]);
            }
            if (n > 0) {
                from = ids[n - 1];
                if (stream_id_incr(&from) < 0) more = 0;
            }
        }
        if (st == ST_OK) {
            record_key(&x.s, &x.k, SG_TAG_CONSUMER, group, consumer, (stream_id){0, 0});
            txn_delete(t, CF_STREAM_GROUP, x.k.data, x.k.len);
            x.consumer_dirty = 0;
            if (x.g.consumers > 0) x.g.consumers--;
            group_write(&x);
        }
    }
    group_close(&x);
    return st;
}

/* ---- XREADGROUP ---- */

/* The entries a `>` read gathers as it replies them. */
typedef struct new_entries {
    const sg_read_hooks *hooks;
    stream_id *ids;
    size_t n, cap;
} new_entries;

static int gather_entry(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    new_entries *ne = arg;
    if (ne->n == ne->cap) {
        ne->cap = ne->cap ? 2 * ne->cap : 64;
        ne->ids = realloc(ne->ids, ne->cap * sizeof(*ne->ids));
        if (!ne->ids) abort();
    }
    ne->ids[ne->n++] = id;
    return ne->hooks->entry(ne->hooks->arg, id, fields, nitems);
}

/* `>`: the entries after the group's last id, each made pending for the consumer (unless
 * noack) as it is delivered. */
static type_status read_new(open_group *x, long long count, int noack, const sg_read_hooks *hooks,
                            sg_read_result *res) {
    new_entries ne = {hooks, NULL, 0, 0};
    stream_id start = x->g.last_id;
    stream_id_incr(&start); /* below the last entry: there is a next id */
    long long got;
    type_status st = stream_range(x->s.t, x->s.db, x->s.key, x->s.klen, start, STREAM_ID_MAX, count, 0,
                                  gather_entry, &ne, &got);
    for (size_t i = 0; st == ST_OK && i < ne.n; i++) {
        note_delivered(x, ne.ids[i]);
        if (noack) continue;
        buf raw;
        buf_init(&raw);
        sg_nack old;
        int rc = nack_get(x, ne.ids[i], &raw, &old);
        if (rc < 0) st = rc_status(rc);
        else st = nack_assign(x, ne.ids[i], rc == 1 ? &old : NULL, x->s.t->now_ms, 1);
        buf_free(&raw);
        sg_nack now = {x->s.t->now_ms, 1, x->consumer};
        if (st == ST_OK) hooks->delivered(hooks->arg, ne.ids[i], &now, x->g.last_id);
    }
    res->n = (long long)ne.n;
    res->group_moved = ne.n > 0;
    free(ne.ids);
    return st;
}

/* One pending entry served again from history. */
typedef struct history_entry {
    const sg_read_hooks *hooks;
    int found;
} history_entry;

static int history_one(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    history_entry *h = arg;
    h->found = 1;
    h->hooks->entry(h->hooks->arg, id, fields, nitems);
    return 1;
}

/* A history id: the consumer's pending entries after it, each delivered once more (one whose
 * entry was deleted is served without fields, and stays as it was). */
static type_status read_history(open_group *x, stream_id after, long long count, const sg_read_hooks *hooks,
                                sg_read_result *res) {
    stream_id ids[ID_BATCH];
    size_t n;
    int more = 1;
    type_status st = ST_OK;
    buf raw;
    buf_init(&raw);
    stream_id from = after;
    if (stream_id_incr(&from) < 0) more = 0; /* nothing is after the greatest id */
    while (st == ST_OK && more && (count == 0 || res->n < count)) {
        size_t max = count == 0 || count - res->n > ID_BATCH ? ID_BATCH : (size_t)(count - res->n);
        st = gather_ids(x, &x->consumer, from, STREAM_ID_MAX, max, ids, &n, &more);
        for (size_t i = 0; st == ST_OK && i < n; i++) {
            history_entry h = {hooks, 0};
            long long got;
            st = stream_range(x->s.t, x->s.db, x->s.key, x->s.klen, ids[i], ids[i], 1, 0, history_one, &h, &got);
            res->n++;
            if (st != ST_OK) break;
            if (!h.found) {
                hooks->entry(hooks->arg, ids[i], NULL, 0);
                continue;
            }
            sg_nack nk;
            int rc = nack_get(x, ids[i], &raw, &nk);
            if (rc <= 0) {
                st = rc == 0 ? ST_CORRUPT : rc_status(rc);
                break;
            }
            st = nack_assign(x, ids[i], &nk, x->s.t->now_ms, nk.count + 1);
            sg_nack now = {x->s.t->now_ms, nk.count + 1, x->consumer};
            if (st == ST_OK) hooks->delivered(hooks->arg, ids[i], &now, x->g.last_id);
        }
        if (n > 0) {
            from = ids[n - 1];
            if (stream_id_incr(&from) < 0) more = 0;
        }
    }
    buf_free(&raw);
    return st;
}

/* Whether a read has anything to serve: history always (maybe nothing), `>` only entries past
 * the group's last delivered id, or, for a blocked reader a new entry signalled, a last id
 * past it (the entry may be gone: Redis 7.0 serves it nothing). The one place that decides it
 * (a blocking read waits when this says no). */
static int group_read_serves(const open_group *x, const stream_id *history, int signalled) {
    if (history) return 1;
    if (signalled) return stream_id_compare(x->s.m.stream.last_generated, x->g.last_id) > 0;
    return x->s.m.size > 0 && stream_id_compare(x->s.m.stream.last, x->g.last_id) > 0;
}

type_status stream_group_read(txn *t, int db, const char *key, size_t klen, slice group, slice consumer,
                              const stream_id *history, long long count, int noack, int signalled,
                              const sg_read_hooks *hooks, sg_read_result *res) {
    memset(res, 0, sizeof(*res));
    open_group x;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st == ST_OK && group_read_serves(&x, history, signalled)) {
        res->served = 1;
        st = consumer_take(&x, consumer, 1, &res->consumer_created);
        if (st == ST_OK)
            st = history ? read_history(&x, *history, count, hooks, res) : read_new(&x, count, noack, hooks, res);
        /* A read that delivered nothing and made no consumer writes nothing (its change record
         * would be empty): its consumer's seen time stays. */
        if (st == ST_OK && (x.changed || res->consumer_created)) {
            consumer_seen(&x);
            group_finish(&x);
        }
        res->group = x.g;
    }
    group_close(&x);
    return st;
}

/* ---- XACK, XPENDING ---- */

type_status stream_group_ack(txn *t, int db, const char *key, size_t klen, slice group, const stream_id *ids,
                             size_t n, long long *acked) {
    *acked = 0;
    open_group x;
    type_status st = group_open(&x, t, db, key, klen, group);
    if (st == ST_MISSING) st = ST_OK;
    buf raw;
    buf_init(&raw);
    for (size_t i = 0; st == ST_OK && x.found && i < n; i++) {
        sg_nack nk;
        int rc = nack_get(&x, ids[i], &raw, &nk);
        if (rc < 0) st = rc_status(rc);
        if (rc != 1) continue;
        st = nack_remove(&x, ids[i], &nk);
        ++*acked;
    }
    if (st == ST_OK && *acked > 0) group_finish(&x);
    buf_free(&raw);
    group_close(&x);
    return st;
}

/* The first or last id of a group's PEL: 1, 0 if it is empty, or a status below 0. */
static type_status pel_edge(open_group *x, int rev, stream_id *id) {
    buf prefix;
    buf_init(&prefix);
    walk_prefix(&x->s, &prefix, SG_TAG_PEL, &x->name, NULL);
    bounded_walk w;
    bounded_walk_open(&w, x->s.t, CF_STREAM_GROUP, prefix.data, prefix.len, NULL, 0, rev);
    const char *k, *v;
    size_t kl, vl;
    type_status st = ST_MISSING;
    if (bounded_walk_next(&w, &k, &kl, &v, &vl))
        st = kl == prefix.len + STREAM_ID_BYTES ? (*id = stream_id_from_bytes(k + prefix.len), ST_OK) : ST_CORRUPT;
    if (bounded_walk_close(&w) < 0) st = ST_ERROR;
    buf_free(&prefix);
    return st;
}

/* Visits a record named by one name (a group's, a consumer's): 0 to go on, 1 to stop, or -1
 * if its value is corrupt. */
typedef int (*named_record_fn)(void *arg, slice name, const char *v, size_t vl);

/* Walks the records under prefix whose rest is one name, in name order. */
/* Visits the named records under prefix in name order, from the name *from on (NULL: all). */
static type_status walk_named(txn *t, const buf *prefix, const slice *from, named_record_fn each, void *arg) {
    buf name, start;
    buf_init(&name);
    buf_init(&start);
    if (from) put_name(&start, *from);
    record_walk rw;
    rwalk_open(&rw, t, prefix, start.data, start.len);
    const char *rest, *v;
    size_t rl, vl;
    type_status st = ST_OK;
    while (st == ST_OK && rwalk_next(&rw, &rest, &rl, &v, &vl)) {
        const char *p = rest;
        int rc = get_name(&p, rest + rl, &name) < 0 || p != rest + rl
                     ? -1
                     : each(arg, (slice){name.data ? name.data : "", name.len}, v, vl);
        if (rc < 0) st = ST_CORRUPT;
        else if (rc) break;
    }
    type_status closed = rwalk_close(&rw);
    buf_free(&name);
    buf_free(&start);
    return st != ST_OK ? st : closed;
}

typedef struct consumer_visit {
    int (*visit)(void *arg, slice name, const sg_consumer *c);
    void *arg;
} consumer_visit;

static int visit_consumer_record(void *arg, slice name, const char *v, size_t vl) {
    const consumer_visit *cv = arg;
    sg_consumer c;
    if (sg_consumer_decode(v, vl, &c) < 0) return -1;
    return cv->visit(cv->arg, name, &c) ? 1 : 0;
}

/* Walks a group's consumers (x open on it) in name order. */
static type_status consumers_walk(open_group *x, const slice *from,
                                  int (*visit)(void *arg, slice name, const sg_consumer *c), void *arg) {
    buf prefix;
    buf_init(&prefix);
    walk_prefix(&x->s, &prefix, SG_TAG_CONSUMER, &x->name, NULL);
    consumer_visit cv = {visit, arg};
    type_status st = walk_named(x->s.t, &prefix, from, visit_consumer_record, &cv);
    buf_free(&prefix);
    return st;
}

typedef struct pending_consumers {
    void (*consumer)(void *arg, slice name, uint64_t pending);
    void *arg;
} pending_consumers;

static int visit_pending_consumer(void *arg, slice name, const sg_consumer *c) {
    pending_consumers *pc = arg;
    if (c->pending > 0) pc->consumer(pc->arg, name, c->pending);
    return 0;
}

type_status stream_group_pending_summary(txn *t, int db, const char *key, size_t klen, slice group,
                                         sg_pending_summary *sum,
                                         void (*consumer)(void *arg, slice name, uint64_t pending), void *arg) {
    memset(sum, 0, sizeof(*sum));
    open_group x;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st == ST_OK && x.g.pending > 0) {
        sum->count = x.g.pending;
        st = pel_edge(&x, 0, &sum->first);
        if (st == ST_OK) st = pel_edge(&x, 1, &sum->last);
        if (st == ST_MISSING) st = ST_CORRUPT; /* fewer than the count says */
        pending_consumers pc = {consumer, arg};
        if (st == ST_OK) st = consumers_walk(&x, NULL, visit_pending_consumer, &pc);
    }
    group_close(&x);
    return st;
}

/* Visits the pending entries (of one consumer unless NULL) start <= id <= end idle at least
 * min_idle, at most count (0: all). */
static type_status pel_range(open_group *x, const slice *consumer, int64_t min_idle, stream_id start, stream_id end,
                             long long count, sg_nack_visit_fn visit, void *arg) {
    stream_id ids[ID_BATCH];
    size_t n;
    int more = 1;
    long long seen = 0;
    type_status st = ST_OK;
    buf raw;
    buf_init(&raw);
    while (st == ST_OK && more && (count == 0 || seen < count)) {
        st = gather_ids(x, consumer, start, end, ID_BATCH, ids, &n, &more);
        for (size_t i = 0; st == ST_OK && i < n && (count == 0 || seen < count); i++) {
            sg_nack nk;
            int rc = nack_get(x, ids[i], &raw, &nk);
            if (rc <= 0) {
                st = rc == 0 ? ST_CORRUPT : rc_status(rc);
                break;
            }
            int64_t idle = x->s.t->now_ms - nk.delivery_ms;
            if (idle < 0) idle = 0; /* the clock went back since */
            if (idle < min_idle) continue;
            seen++;
            if (visit(arg, ids[i], &nk, idle)) more = 0, count = seen;
        }
        if (n > 0) {
            start = ids[n - 1];
            if (stream_id_incr(&start) < 0) more = 0;
        }
    }
    buf_free(&raw);
    return st;
}

type_status stream_group_pending_range(txn *t, int db, const char *key, size_t klen, slice group,
                                       const slice *consumer, int64_t min_idle, stream_id start, stream_id end,
                                       long long count, sg_nack_visit_fn visit, void *arg) {
    open_group x;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st == ST_OK && count > 0 && stream_id_compare(start, end) <= 0)
        st = pel_range(&x, consumer, min_idle, start, end, count, visit, arg);
    group_close(&x);
    return st;
}

/* ---- XCLAIM, XAUTOCLAIM ---- */

/* An entry being claimed: its fields go to the claimed hook. */
typedef struct claim_entry {
    const sg_claim_hooks *hooks;
    const sg_nack *n;
    int found;
} claim_entry;

static int claim_with_fields(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    claim_entry *ce = arg;
    ce->found = 1;
    ce->hooks->claimed(ce->hooks->arg, id, ce->n, fields, nitems);
    return 1;
}

/* Whether the stream has the entry: 1, 0, or a status below 0 … ST_ERROR. */
static type_status entry_exists(open_group *x, stream_id id, int *exists) {
    buf k, v;
    buf_init(&k);
    buf_init(&v);
    uint8_t b[STREAM_ID_BYTES];
    stream_id_to_bytes(b, id);
    enc_subkey(&k, x->s.db, x->s.key, x->s.klen, x->s.m.version, (const char *)b, STREAM_ID_BYTES);
    int rc = txn_get(x->s.t, CF_STREAM, k.data, k.len, &v);
    buf_free(&k);
    buf_free(&v);
    *exists = rc == 1;
    return rc < 0 ? ST_ERROR : ST_OK;
}

/* Claims one pending entry (old its state, NULL for one FORCE makes) for the consumer, as
 * XCLAIM / XAUTOCLAIM do, and tells the hook. */
static type_status claim_one(open_group *x, const sg_claim_args *a, stream_id id, const sg_nack *old,
                             const sg_claim_hooks *hooks) {
    int64_t now = x->s.t->now_ms;
    int64_t when = a->delivery_ms < 0 || a->delivery_ms > now ? now : a->delivery_ms;
    uint64_t count = old ? old->count : 1; /* a pending entry FORCE makes starts at 1, as in Redis */
    if (a->retry_count >= 0) count = (uint64_t)a->retry_count;
    else if (!a->justid) count++;
    int created = 0;
    type_status st = x->consumer_found ? ST_OK : consumer_take(x, a->consumer, 1, &created);
    if (st == ST_OK && created) hooks->consumer_created(hooks->arg);
    if (st == ST_OK) {
        consumer_seen(x);
        st = nack_assign(x, id, old, when, count);
    }
    if (st != ST_OK) return st;
    sg_nack now_state = {when, count, a->consumer};
    if (a->justid) {
        hooks->claimed(hooks->arg, id, &now_state, NULL, 0);
        return ST_OK;
    }
    claim_entry ce = {hooks, &now_state, 0};
    long long got;
    return stream_range(x->s.t, x->s.db, x->s.key, x->s.klen, id, id, 1, 0, claim_with_fields, &ce, &got);
}

/* A pending entry whose entry is gone: it leaves the PEL (Redis 7.0's XCLAIM and XAUTOCLAIM). */
static type_status drop_deleted(open_group *x, stream_id id, const sg_nack *n, const sg_claim_hooks *hooks) {
    type_status st = nack_remove(x, id, n);
    if (st == ST_OK) hooks->dropped(hooks->arg, id);
    return st;
}

type_status stream_group_claim(txn *t, int db, const char *key, size_t klen, slice group, const sg_claim_args *a,
                               const stream_id *ids, size_t n, const sg_claim_hooks *hooks, int *group_moved,
                               sg_group *g) {
    open_group x;
    *group_moved = 0;
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st != ST_OK) {
        group_close(&x);
        return st;
    }
    x.consumer = a->consumer;
    if (stream_id_compare(a->last_id, x.g.last_id) > 0) {
        x.g.last_id = a->last_id;
        *group_moved = 1;
    }
    buf raw;
    buf_init(&raw);
    int changed = *group_moved;
    for (size_t i = 0; st == ST_OK && i < n; i++) {
        sg_nack old;
        int rc = nack_get(&x, ids[i], &raw, &old), exists;
        if (rc < 0) {
            st = rc_status(rc);
            break;
        }
        st = entry_exists(&x, ids[i], &exists);
        if (st != ST_OK) break;
        if (!exists) {
            if (rc == 1) st = drop_deleted(&x, ids[i], &old, hooks), changed = 1;
            continue;
        }
        if (rc == 0 && !a->force) continue;
        /* An entry FORCE makes pending has no delivery to be idle since. */
        if (rc == 1 && a->min_idle > 0 && t->now_ms - old.delivery_ms < a->min_idle) continue;
        st = claim_one(&x, a, ids[i], rc == 1 ? &old : NULL, hooks);
        changed = 1;
    }
    if (st == ST_OK && changed) group_finish(&x);
    *g = x.g;
    buf_free(&raw);
    group_close(&x);
    return st;
}

/* Redis looks at up to this many pending entries per entry XAUTOCLAIM may claim. */
#define AUTOCLAIM_ATTEMPTS_FACTOR 10

type_status stream_group_autoclaim(txn *t, int db, const char *key, size_t klen, slice group,
                                   const sg_claim_args *a, stream_id start, long long count,
                                   const sg_claim_hooks *hooks, stream_id *next) {
    open_group x;
    *next = (stream_id){0, 0};
    type_status st = group_open_existing(&x, t, db, key, klen, group);
    if (st != ST_OK) {
        group_close(&x);
        return st;
    }
    x.consumer = a->consumer;
    long long attempts = count * AUTOCLAIM_ATTEMPTS_FACTOR;
    stream_id ids[ID_BATCH];
    size_t n = 0;
    int more = 1, changed = 0, stopped = 0;
    buf raw;
    buf_init(&raw);
    stream_id from = start;
    while (st == ST_OK && more && !stopped) {
        st = gather_ids(&x, NULL, from, STREAM_ID_MAX, ID_BATCH, ids, &n, &more);
        size_t i = 0;
        for (; st == ST_OK && i < n; i++) {
            if (attempts == 0 || count == 0) {
                stopped = 1;
                break;
            }
            attempts--;
            sg_nack old;
            int rc = nack_get(&x, ids[i], &raw, &old), exists;
            if (rc <= 0) {
                st = rc == 0 ? ST_CORRUPT : rc_status(rc);
                break;
            }
            st = entry_exists(&x, ids[i], &exists);
            if (st == ST_OK && !exists) {
                st = drop_deleted(&x, ids[i], &old, hooks);
                changed = 1;
                count--;
                continue;
            }
            if (st != ST_OK || (a->min_idle > 0 && t->now_ms - old.delivery_ms < a->min_idle)) continue;
            st = claim_one(&x, a, ids[i], &old, hooks);
            changed = 1;
            count--;
        }
        /* The cursor: the first pending entry not looked at, 0-0 when there is none. */
        if (st == ST_OK && stopped) *next = ids[i];
        if (st == ST_OK && !stopped && n > 0) {
            from = ids[n - 1];
            if (stream_id_incr(&from) < 0) more = 0;
        }
        if (st == ST_OK && !stopped && !more && (attempts == 0 || count == 0)) stopped = 1;
    }
    if (st == ST_OK && changed) group_finish(&x);
    buf_free(&raw);
    group_close(&x);
    return st;
}

/* ---- XINFO, dumps ---- */

type_status stream_group_get(txn *t, int db, const char *key, size_t klen, slice group, meta *m, sg_group *g) {
    open_group x;
    type_status st = group_open(&x, t, db, key, klen, group);
    if (st == ST_OK && !x.found) st = ST_NO_GROUP;
    if (st == ST_OK) *g = x.g;
    if (st == ST_OK || st == ST_NO_GROUP) *m = x.s.m;
    group_close(&x);
    return st;
}

/* A compound over a stream a caller already looked up (its metadata in m). */
static void attach_stream(open_group *x, txn *t, int db, const char *key, size_t klen, const meta *m, slice group) {
    memset(x, 0, sizeof(*x));
    buf_init(&x->k);
    buf_init(&x->v);
    buf_init(&x->consumer_copy);
    compound_attach(&x->s, t, db, key, klen, m, 1);
    x->name = group;
}

typedef struct group_visit {
    int (*visit)(void *arg, slice name, const sg_group *g);
    void *arg;
} group_visit;

static int visit_group_record(void *arg, slice name, const char *v, size_t vl) {
    const group_visit *gv = arg;
    sg_group g;
    if (sg_group_decode(v, vl, &g) < 0) return -1;
    return gv->visit(gv->arg, name, &g) ? 1 : 0;
}

type_status stream_groups_walk(txn *t, int db, const char *key, size_t klen, const meta *m, const slice *from,
                               int (*visit)(void *arg, slice name, const sg_group *g), void *arg) {
    open_group x;
    attach_stream(&x, t, db, key, klen, m, no_name);
    buf prefix;
    buf_init(&prefix);
    walk_prefix(&x.s, &prefix, SG_TAG_GROUP, NULL, NULL);
    group_visit gv = {visit, arg};
    type_status st = walk_named(t, &prefix, from, visit_group_record, &gv);
    buf_free(&prefix);
    group_close(&x);
    return st;
}

type_status stream_consumers_walk(txn *t, int db, const char *key, size_t klen, const meta *m, slice group,
                                  const slice *from, int (*visit)(void *arg, slice name, const sg_consumer *c),
                                  void *arg) {
    open_group x;
    attach_stream(&x, t, db, key, klen, m, group);
    type_status st = consumers_walk(&x, from, visit, arg);
    group_close(&x);
    return st;
}

type_status stream_pel_walk(txn *t, int db, const char *key, size_t klen, const meta *m, slice group,
                            const slice *consumer, stream_id from, long long count, sg_nack_visit_fn visit,
                            void *arg) {
    open_group x;
    attach_stream(&x, t, db, key, klen, m, group);
    type_status st = pel_range(&x, consumer, INT64_MIN, from, STREAM_ID_MAX, count, visit, arg);
    group_close(&x);
    return st;
}
