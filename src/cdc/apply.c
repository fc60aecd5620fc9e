#include "cdc/apply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/apply_groups.h"
#include "cdc/batch.h"
#include "cdc/rebuild.h"
#include "storage/bounds.h"
#include "storage/encoding.h"
#include "storage/store.h"
#include "types/stream.h"
#include "util/grow.h"
#include "util/hash.h"
#include "util/num.h"
#include "util/timeutil.h"

/* Members per command when a key is rebuilt whole or pushed to, so no command is huge. */
#define MEMBERS_PER_COMMAND 256
/* The room a list must leave at each end of the u64 positions (below head, above tail) to be
 * taken: a list starts at 2^63 - 1 (ENCODING.md), so one made by tidekv or Kvrocks is this near
 * an edge only after some 2^63 pushes at one end, which no list sees; nearer means a forged or
 * broken record, whose next pushes would be refused. 2^32 leaves room for four billion more. */
#define LIST_EDGE_ROOM (1ULL << 32)

/* A user key the commit writes, with its state before the commit. */
typedef struct touched {
    int db;
    const char *key; /* points into the batch */
    size_t klen;
    meta before; /* its value pointer is not kept */
    int alive_before, alive_after;
    meta after;     /* when alive after (its value pointer is not kept) */
    int per_member; /* its member writes become one command each (same type and version) */
    /* The list indexes its member writes span (any version), or odd_member_write for a
     * member that is no list index: what tells whether a list only changed at its ends. */
    uint64_t first_index, last_index;
    int member_writes, odd_member_write;
    uint64_t fragments_end; /* a bitmap: the end of the byte ranges recorded from its fragments */
    size_t entries_at, nentries; /* a stream: its entry writes, a run of applier.entries once sorted */
} touched;

/* A write of a member (CF default) of a compound key. */
typedef struct member_write {
    size_t key_index;
    uint64_t version;
    const char *sub, *subkey; /* the member, and the whole subkey; both in the batch */
    size_t sublen, subkey_len;
    int had_score;     /* a sorted set's member had a score before the commit: */
    char old_score[8]; /* that score, whose index entry must be gone unless it stays */
} member_write;

/* A write of a sorted set's score index (CF zset_score). */
typedef struct score_write {
    size_t key_index;
    uint64_t version;
    const char *score, *member; /* in the batch; the score is 8 bytes */
    size_t mlen;
    int put;
} score_write;

/* A write of a stream's entry (CF stream), with whether the entry was there before the commit. */
typedef struct entry_write {
    size_t key_index;
    uint64_t version;
    stream_id id;
    const char *subkey; /* in the batch */
    size_t subkey_len;
    int existed;
} entry_write;

/* A write of one of FUNCTION's libraries. */
typedef struct library_write {
    const char *name, *code; /* in the batch; code NULL for a deletion */
    size_t nlen, clen;
    int changed; /* a deletion of a library there was */
} library_write;

typedef struct applier {
    txn *t;
    const apply_limits *limits;
    char *err;
    size_t errlen;
    touched *keys;
    size_t nkeys, keys_cap;
    size_t *slots; /* open addressing over keys: index + 1, 0 = empty */
    size_t nslots;
    uint64_t seed;
    member_write *members;
    size_t nmembers, members_cap;
    score_write *scores;
    size_t nscores, scores_cap;
    entry_write *entries;
    size_t nentries, entries_cap;
    library_write *libs;
    size_t nlibs, libs_cap;
    int *flushed, *sub_ranges; /* databases whose metadata / subkeys a range deletes */
    size_t nflushed, nsub_ranges;
    apply_groups groups; /* the commit's consumer group records */
    buf scratch, value;
} applier;

static int fail(applier *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(applier *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, a->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size) { return grow_array(p, cap, need, size, 16); }

/* ---- the keys a commit touches ---- */

static size_t slot_of(const applier *a, int db, const char *key, size_t klen) {
    return (size_t)(hash_fnv1a(a->seed + (uint64_t)db, key, klen) & (a->nslots - 1));
}

static void rehash(applier *a) {
    free(a->slots);
    a->nslots = a->nslots ? a->nslots * 2 : 64;
    a->slots = calloc(a->nslots, sizeof(size_t));
    if (!a->slots) abort();
    for (size_t i = 0; i < a->nkeys; i++) {
        size_t s = slot_of(a, a->keys[i].db, a->keys[i].key, a->keys[i].klen);
        while (a->slots[s]) s = (s + 1) & (a->nslots - 1);
        a->slots[s] = i + 1;
    }
}

/* Reads a key's metadata as the txn sees it: 1 alive (m filled), 0 missing or dead, -1 error. */
static int read_meta(applier *a, int db, const char *key, size_t klen, meta *m) {
    buf_clear(&a->scratch);
    enc_meta_key(&a->scratch, db, key, klen);
    int rc = txn_get(a->t, CF_METADATA, a->scratch.data, a->scratch.len, &a->value);
    if (rc < 0) return fail(a, "ERR storage error reading a key the batch writes");
    if (rc == 0 || enc_decode_meta(a->value.data, a->value.len, m) < 0) return 0;
    return !enc_meta_is_dead(m, a->t->now_ms);
}

/* The index of a key in the commit's list, added (with its state before) if new; -1 on error. */
static long touch_key(applier *a, int db, const char *key, size_t klen) {
    if (2 * (a->nkeys + 1) > a->nslots) rehash(a);
    size_t s = slot_of(a, db, key, klen);
    for (; a->slots[s]; s = (s + 1) & (a->nslots - 1)) {
        const touched *k = &a->keys[a->slots[s] - 1];
        if (k->db == db && k->klen == klen && memcmp(k->key, key, klen) == 0) return (long)(a->slots[s] - 1);
    }
    a->keys = grow(a->keys, &a->keys_cap, a->nkeys + 1, sizeof(*a->keys));
    touched *k = &a->keys[a->nkeys];
    memset(k, 0, sizeof(*k));
    k->db = db;
    k->key = key;
    k->klen = klen;
    /* What a key held before serves the change record made from the writes; a replica's
     * batch brings its own, and the key counts fetch what they need of it all at once
     * (keycount_stage_end). Not reading it here is a fifth of a replica's work. */
    if (!a->limits->verbatim) {
        k->alive_before = read_meta(a, db, key, klen, &k->before);
        if (k->alive_before < 0) return -1;
        k->before.value = NULL;
    }
    txn_touch(a->t, db, key, klen); /* WATCH and blocked clients */
    a->slots[s] = ++a->nkeys;
    return (long)(a->nkeys - 1);
}

/* ---- checking the operations ---- */

/* The database of a key's namespace, which must be a configured one; -1 on error. */
static int key_db(applier *a, const batch_slice *key, size_t *ns) {
    int db = enc_namespace_db(key->ptr, key->len, ns);
    if (db >= 0 && db < a->limits->databases) return db;
    if (key->len == 0 || (size_t)(uint8_t)key->ptr[0] + 1 > key->len)
        return fail(a, "ERR APPLYBATCH: a key without a namespace");
    return fail(a, "ERR APPLYBATCH: namespace '%.*s' is not a configured database", (int)(uint8_t)key->ptr[0],
                key->ptr + 1);
}

/* How much of a key an error message shows. */
static int shown(size_t klen) { return klen > 128 ? 128 : (int)klen; }

/* The types whose records APPLYBATCH can describe (a bitmap as the string it holds). */
static int known_type(enum key_type type) {
    return type <= TYPE_ZSET || type == TYPE_BITMAP || type == TYPE_STREAM;
}

static int is_zero_id(stream_id id) { return id.ms == 0 && id.seq == 0; }

/* A key of another type written at the version of a stream here that has consumer groups
 * would keep those groups under it, where no command reads or removes them. (A stream that
 * keeps its version must count the groups it keeps: apply_groups.h.) */
static int check_kept_groups(applier *a, const touched *k, const meta *m) {
    if (a->limits->verbatim || m->type == TYPE_STREAM || !k->alive_before || k->before.type != TYPE_STREAM ||
        k->before.stream.groups == 0 || k->before.version != m->version)
        return 0;
    return fail(a, "ERR APPLYBATCH: stream '%.*s' has consumer groups, which a key of another type would leave behind",
                shown(k->klen), k->key);
}

/* What a stream's metadata says of itself (types/stream.h): when empty, edges of 0-0; else
 * 0-0 < first <= last <= last generated id, first = last exactly for one entry, the first
 * entry also the recorded one; never more entries than were added (XSETID refuses that). The
 * max deleted id may be above the last generated one (XSETID lowers the one, not the other).
 * Whether the edges are its entries' is checked once the commit is staged (describe_stream). */
static int check_stream_meta(applier *a, const meta *m, const char *key, size_t klen) {
    const stream_extras *x = &m->stream;
    int ok = x->entries_added >= m->size && x->entries_added <= INT64_MAX;
    if (m->size == 0)
        ok = ok && is_zero_id(x->first) && is_zero_id(x->last) && is_zero_id(x->recorded_first);
    else
        ok = ok && !is_zero_id(x->first) && stream_id_compare(x->last, x->last_generated) <= 0 &&
             stream_id_compare(x->first, x->last) == (m->size == 1 ? 0 : -1) &&
             stream_id_compare(x->recorded_first, x->first) == 0;
    if (!ok) return fail(a, "ERR APPLYBATCH: the metadata of stream '%.*s' contradicts itself", shown(klen), key);
    return 0;
}

/* What a metadata record may say beyond decoding: a type tidekv has, a list with room at both
 * ends (LIST_EDGE_ROOM), a bitmap no longer than a string may be, a stream's extras that agree. */
static int check_meta_value(applier *a, const meta *m, const char *key, size_t klen) {
    if (m->type == TYPE_STREAM) return check_stream_meta(a, m, key, klen);
    if (!known_type(m->type))
        return fail(a, "ERR APPLYBATCH: metadata of type %d, which tidekv does not have, for key '%.*s'", m->type,
                    shown(klen), key);
    if (m->type == TYPE_LIST && (m->list_head < LIST_EDGE_ROOM || m->list_tail > UINT64_MAX - LIST_EDGE_ROOM))
        return fail(a, "ERR APPLYBATCH: list '%.*s' has positions too near the edge (head %llu, tail %llu)",
                    shown(klen), key, (unsigned long long)m->list_head, (unsigned long long)m->list_tail);
    if (m->type == TYPE_BITMAP && m->size > a->limits->max_string_len)
        return fail(a, "ERR APPLYBATCH: bitmap '%.*s' of %llu bytes is longer than proto-max-bulk-len", shown(klen),
                    key, (unsigned long long)m->size);
    return 0;
}

static int check_metadata(applier *a, const batch_record *op) {
    size_t ns;
    int db = key_db(a, &op->key, &ns);
    if (db < 0) return -1;
    const char *key = op->key.ptr + ns;
    size_t klen = op->key.len - ns;
    if (op->op == BATCH_PUT) {
        meta m;
        if (enc_decode_meta(op->value.ptr, op->value.len, &m) < 0)
            return fail(a, "ERR APPLYBATCH: malformed metadata for key '%.*s'", shown(klen), key);
        if (check_meta_value(a, &m, key, klen) < 0) return -1;
        long index = touch_key(a, db, key, klen);
        if (index < 0) return -1;
        return check_kept_groups(a, &a->keys[index], &m);
    }
    return touch_key(a, db, key, klen) < 0 ? -1 : 0;
}

static void note_index(touched *k, const char *sub, size_t sublen) {
    if (sublen != 8) {
        k->odd_member_write = 1;
        return;
    }
    uint64_t index = buf_get_u64be(sub);
    if (!k->member_writes || index < k->first_index) k->first_index = index;
    if (!k->member_writes || index > k->last_index) k->last_index = index;
    k->member_writes = 1;
}

/* A stream entry: a put's id above 0-0 (no XADD makes one) and its value well-formed. What
 * it changes is noted, with whether the entry was there before, unless the batch is a
 * replica's (it brings its own record). */
static int check_entry(applier *a, const batch_record *op, size_t index, uint64_t version, const char *sub) {
    const touched *k = &a->keys[index];
    stream_id id = stream_id_from_bytes(sub);
    size_t nitems;
    if (op->op == BATCH_PUT && (is_zero_id(id) || stream_entry_check(op->value.ptr, op->value.len, &nitems) < 0))
        return fail(a, "ERR APPLYBATCH: malformed entry of stream '%.*s'", shown(k->klen), k->key);
    if (a->limits->verbatim) return 0;
    entry_write w = {index, version, id, op->key.ptr, op->key.len, 0};
    if (k->alive_before && k->before.type == TYPE_STREAM && version == k->before.version) {
        int rc = txn_get(a->t, CF_STREAM, op->key.ptr, op->key.len, &a->value);
        if (rc < 0) return fail(a, "ERR storage error reading a key the batch writes");
        w.existed = rc;
    }
    a->entries = grow(a->entries, &a->entries_cap, a->nentries + 1, sizeof(*a->entries));
    a->entries[a->nentries++] = w;
    return 0;
}

/* A consumer group record: checked and noted with its state before (apply_groups.h), unless
 * the batch is a replica's (it brings its own change record). */
static int note_group_record(applier *a, const batch_record *op, size_t index, uint64_t version, const char *sub,
                             size_t sublen) {
    if (a->limits->verbatim) return 0;
    const touched *k = &a->keys[index];
    group_stream s = {k->db, k->key, k->klen, index, NULL, NULL};
    int read_before = k->alive_before && k->before.type == TYPE_STREAM && version == k->before.version;
    const char *value = op->op != BATCH_PUT ? NULL : op->value.ptr ? op->value.ptr : "";
    return apply_groups_note(&a->groups, &s, version, op->key.ptr, op->key.len, sub, sublen, value, op->value.len,
                             read_before);
}

/* A subkey: [ns][key_len u32][user_key][version u64][sub]; a score index entry's sub is
 * score(8) member, a stream entry's its id (16 bytes). */
static int check_subkey(applier *a, const batch_record *op) {
    size_t ns;
    int db = key_db(a, &op->key, &ns);
    if (db < 0) return -1;
    const char *p = op->key.ptr + ns;
    size_t rest = op->key.len - ns;
    if (rest < 4 + 8 || buf_get_u32be(p) > rest - 4 - 8)
        return fail(a, "ERR APPLYBATCH: malformed subkey in column family %u", op->cf);
    size_t klen = buf_get_u32be(p);
    size_t sublen = rest - 4 - klen - 8;
    if ((op->cf == CF_ZSET_SCORE && sublen < 8) || (op->cf == CF_STREAM && sublen != 16) ||
        (op->cf == CF_STREAM_GROUP && sublen == 0))
        return fail(a, "ERR APPLYBATCH: malformed subkey in column family %u", op->cf);
    long index = touch_key(a, db, p + 4, klen);
    if (index < 0) return -1;
    uint64_t version = buf_get_u64be(p + 4 + klen);
    const char *sub = p + 4 + klen + 8;
    if (op->cf == CF_STREAM_GROUP) return note_group_record(a, op, (size_t)index, version, sub, sublen);
    if (op->cf == CF_STREAM) return check_entry(a, op, (size_t)index, version, sub);
    if (op->cf == CF_ZSET_SCORE) {
        a->scores = grow(a->scores, &a->scores_cap, a->nscores + 1, sizeof(*a->scores));
        a->scores[a->nscores++] =
            (score_write){(size_t)index, version, sub, sub + 8, sublen - 8, op->op == BATCH_PUT};
        return 0;
    }
    touched *k = &a->keys[index];
    note_index(k, sub, sublen);
    member_write w = {(size_t)index, version, sub, op->key.ptr, sublen, op->key.len, 0, {0}};
    if (k->alive_before && k->before.type == TYPE_ZSET && version == k->before.version) {
        int rc = txn_get(a->t, CF_DEFAULT, op->key.ptr, op->key.len, &a->value);
        if (rc < 0) return fail(a, "ERR storage error reading a key the batch writes");
        w.had_score = rc == 1 && a->value.len == 8;
        if (w.had_score) memcpy(w.old_score, a->value.data, 8);
    }
    a->members = grow(a->members, &a->members_cap, a->nmembers + 1, sizeof(*a->members));
    a->members[a->nmembers++] = w;
    return 0;
}

static int has_db(const int *list, size_t n, int db) {
    for (size_t i = 0; i < n; i++)
        if (list[i] == db) return 1;
    return 0;
}

static void add_db(int **list, size_t *n, int db) {
    if (has_db(*list, *n, db)) return;
    *list = realloc(*list, (*n + 1) * sizeof(int));
    if (!*list) abort();
    (*list)[(*n)++] = db;
}

/* tidekv deletes ranges only to empty a whole database (FLUSHDB, FLUSHALL), as Kvrocks does. */
static int check_range(applier *a, const batch_record *op) {
    if (op->cf != CF_METADATA && !enc_is_subkey_cf((int)op->cf))
        return fail(a, "ERR APPLYBATCH: column family %u is not one tidekv writes", op->cf);
    size_t ns;
    int db = key_db(a, &op->key, &ns);
    if (db < 0) return -1;
    buf_clear(&a->scratch);
    enc_prefix_end(&a->scratch, op->key.ptr, op->key.len);
    if (ns != op->key.len || bytes_compare(a->scratch.data, a->scratch.len, op->value.ptr, op->value.len) != 0)
        return fail(a, "ERR APPLYBATCH: a range deletion must cover one whole database");
    if (op->cf == CF_METADATA)
        add_db(&a->flushed, &a->nflushed, db);
    else
        add_db(&a->sub_ranges, &a->nsub_ranges, db);
    return 0;
}

/* A write of CF_PROPAGATE: only a library record (put or delete), which the caller's library
 * keeper must take. Other records there (Kvrocks's script propagation) hold nothing tidekv
 * reads: staged, they would be data no command can see or remove. */
static int check_library(applier *a, const batch_record *op) {
    const apply_libraries *keeper = a->limits->libraries;
    if (!keeper || op->key.len < ENC_LIBRARY_PREFIX_LEN ||
        memcmp(op->key.ptr, ENC_LIBRARY_PREFIX, ENC_LIBRARY_PREFIX_LEN) != 0)
        return fail(a, "ERR APPLYBATCH: column family %u holds only function libraries (" ENC_LIBRARY_PREFIX "<name>)",
                    op->cf);
    library_write w = {op->key.ptr + ENC_LIBRARY_PREFIX_LEN, op->op == BATCH_PUT ? op->value.ptr : NULL,
                       op->key.len - ENC_LIBRARY_PREFIX_LEN, op->op == BATCH_PUT ? op->value.len : 0, 0};
    int rc = keeper->library(keeper->arg, w.name, w.nlen, w.code, w.clen, a->err, a->errlen);
    if (rc < 0) return -1;
    w.changed = rc;
    a->libs = grow(a->libs, &a->libs_cap, a->nlibs + 1, sizeof(*a->libs));
    a->libs[a->nlibs++] = w;
    return 0;
}

static int check_op(applier *a, const batch_record *op) {
    switch (op->op) {
    case BATCH_PUT: case BATCH_DELETE: case BATCH_SINGLE_DELETE: break;
    case BATCH_DELETE_RANGE: return check_range(a, op);
    case BATCH_MERGE: return fail(a, "ERR APPLYBATCH: merge operations are not written by tidekv");
    case BATCH_MARKER: return fail(a, "ERR APPLYBATCH: transaction markers are not written by tidekv");
    default: return fail(a, "ERR APPLYBATCH: blob indexes and wide columns are not written by tidekv");
    }
    if (op->cf == CF_METADATA) return check_metadata(a, op);
    if (enc_is_subkey_cf((int)op->cf)) return check_subkey(a, op);
    if (op->cf == CF_PROPAGATE) return check_library(a, op);
    return fail(a, "ERR APPLYBATCH: column family %u is not one tidekv writes", op->cf);
}

/* A write of the expiry index (tidekv's own CF_EXPIRE): its puts are derived from the
 * metadata they go with, so the batch's own are dropped and the txn writes those of what it
 * stages; its deletions (of entries gone stale on the source, so here too) are staged as
 * given. A copy's batches then hold the same writes as the source's. */
static int is_index_write(const batch_record *op) {
    return op->cf == CF_EXPIRE && (op->op == BATCH_PUT || op->op == BATCH_DELETE || op->op == BATCH_SINGLE_DELETE);
}

/* Reads one commit's records (its LogData and writes, up to the next commit's LogData),
 * checking each write and noting the keys it touches; *nrecords says how many it read. */
static int scan_commit(applier *a, batch_reader *r, size_t *nrecords, size_t *nwrites) {
    batch_record op;
    *nrecords = *nwrites = 0;
    for (;;) {
        batch_reader next = *r;
        if (batch_reader_next(&next, &op) != 1) break;
        if (op.op == BATCH_LOG_DATA && *nwrites > 0) break; /* the next commit's record */
        *r = next;
        ++*nrecords;
        if (op.op == BATCH_LOG_DATA || is_index_write(&op)) continue;
        ++*nwrites;
        if (check_op(a, &op) < 0) return -1;
    }
    /* Members deleted without their keys would leave keys that claim members they lack. */
    for (size_t i = 0; i < a->nsub_ranges; i++)
        if (!has_db(a->flushed, a->nflushed, a->sub_ranges[i]))
            return fail(a, "ERR APPLYBATCH: a range deletion of subkeys without the metadata of db %d",
                        a->sub_ranges[i]);
    /* Keys of a database the commit empties start from nothing. */
    for (size_t i = 0; i < a->nkeys; i++)
        if (has_db(a->flushed, a->nflushed, a->keys[i].db)) a->keys[i].alive_before = 0;
    return 0;
}

/* Stages a commit's writes (LogData dropped; a single delete becomes a delete). */
static void stage_writes(applier *a, batch_reader *r, size_t nrecords) {
    batch_record op;
    for (size_t i = 0; i < nrecords; i++) {
        if (batch_reader_next(r, &op) != 1) abort(); /* scan_commit read these records already */
        if (is_index_write(&op) && op.op == BATCH_PUT) continue;
        if (op.op == BATCH_PUT)
            txn_put(a->t, (int)op.cf, op.key.ptr, op.key.len, op.value.ptr, op.value.len);
        else if (op.op == BATCH_DELETE || op.op == BATCH_SINGLE_DELETE)
            txn_delete(a->t, (int)op.cf, op.key.ptr, op.key.len);
        else if (op.op == BATCH_DELETE_RANGE)
            txn_delete_range(a->t, (int)op.cf, op.key.ptr, op.key.len, op.value.ptr, op.value.len);
    }
    for (size_t i = 0; i < a->nflushed; i++) txn_touch_db(a->t, a->flushed[i]); /* as by FLUSHDB */
}

/* ---- describing the commit ---- */

/* A command gathered argument by argument (the arguments are copied): its name and key,
 * then the members, written MEMBERS_PER_COMMAND members to a command. */
typedef struct command {
    buf bytes;
    size_t *lens;
    size_t argc, cap;
} command;

static void command_arg(command *c, const char *p, size_t len) {
    c->lens = grow(c->lens, &c->cap, c->argc + 1, sizeof(size_t));
    c->lens[c->argc++] = len;
    buf_append(&c->bytes, p, len);
}

static void command_init(command *c, const char *name, const touched *k) {
    memset(c, 0, sizeof(*c));
    buf_init(&c->bytes);
    command_arg(c, name, strlen(name));
    command_arg(c, k->key, k->klen);
}

static void command_free(command *c) {
    buf_free(&c->bytes);
    free(c->lens);
}

/* Records the command, split after every MEMBERS_PER_COMMAND members of `per` arguments
 * each; nothing when it has no members. */
static void command_emit(command *c, applier *a, const touched *k, int type, size_t per) {
    const char **argv = malloc(c->argc * sizeof(char *));
    size_t *lens = malloc(c->argc * sizeof(size_t));
    if (!argv || !lens) abort();
    size_t off = 0;
    for (size_t i = 0; i < c->argc; i++) {
        argv[i] = c->bytes.data + off;
        off += c->lens[i];
    }
    size_t chunk = MEMBERS_PER_COMMAND * per;
    for (size_t from = 2; from < c->argc; from += chunk) {
        size_t n = c->argc - from < chunk ? c->argc - from : chunk;
        /* the name and key go right before this chunk's members */
        const char *name_key[2] = {argv[0], argv[1]};
        size_t name_key_lens[2] = {c->lens[0], c->lens[1]};
        memcpy(argv + from - 2, name_key, sizeof(name_key));
        memcpy(lens + from - 2, name_key_lens, sizeof(name_key_lens));
        memcpy(lens + from, c->lens + from, n * sizeof(size_t));
        txn_record(a->t, k->db, (uint8_t)type, (int)(n + 2), argv + from - 2, lens + from - 2);
    }
    free(argv);
    free(lens);
}

static void emit_simple(applier *a, const touched *k, int type, const char *name, const char *arg, size_t alen) {
    const char *argv[3] = {name, k->key, arg};
    size_t lens[3] = {strlen(name), k->klen, alen};
    txn_record(a->t, k->db, (uint8_t)type, arg ? 3 : 2, argv, lens);
}

static void emit_expire_at(applier *a, const touched *k, int type, int64_t expire_ms) {
    char when[24];
    emit_simple(a, k, type, "PEXPIREAT", when, num_format_ll(when, expire_ms));
}

static int score_text(applier *a, const char *val, size_t vlen, char out[32], size_t *len) {
    double score = vlen == 8 ? enc_decode_ordered_double((const uint8_t *)val) : NAN;
    if (isnan(score)) return fail(a, "ERR APPLYBATCH: malformed score of a sorted set member");
    *len = num_format_double(out, score);
    return 0;
}

/* Adds one member to a command: hash field and value, set member, zset score and member,
 * list item. */
static int add_member(applier *a, command *c, enum key_type type, const char *sub, size_t sublen, const char *val,
                      size_t vlen) {
    char score[32];
    size_t slen = 0;
    switch (type) {
    case TYPE_HASH: command_arg(c, sub, sublen); command_arg(c, val, vlen); break;
    case TYPE_SET: command_arg(c, sub, sublen); break;
    case TYPE_LIST: command_arg(c, val, vlen); break;
    default:
        if (score_text(a, val, vlen, score, &slen) < 0) return -1;
        command_arg(c, score, slen);
        command_arg(c, sub, sublen);
    }
    return 0;
}

/* Arguments per member in a command of that type. */
static size_t member_args(enum key_type type) { return type == TYPE_HASH || type == TYPE_ZSET ? 2 : 1; }

/* Whether a key an iterator shows is no key a range deletion of this txn removed (txn
 * iterators do not see those): 1, 0, or -1 on a read error. */
static int survives_ranges(applier *a, int cf, const char *ikey, size_t iklen) {
    if (a->t->ranges == 0) return 1;
    int rc = txn_get(a->t, cf, ikey, iklen, &a->value);
    if (rc < 0) fail(a, "ERR storage error reading a key the batch writes");
    return rc;
}

/* Whether an entry the iterator shows is a live member: a list item within head … tail, and
 * nothing a range deletion removed. */
static int live_member(applier *a, const meta *m, const char *ikey, size_t iklen, const char *sub, size_t sublen) {
    if (m->type == TYPE_LIST) {
        if (sublen != 8) return 0;
        uint64_t index = buf_get_u64be(sub);
        if (index < m->list_head || index >= m->list_tail) return 0;
    }
    return survives_ranges(a, CF_DEFAULT, ikey, iklen);
}

/* ---- a bitmap, recorded as the string it holds (see types/bitmap.h) ----
 * Each fragment becomes a SETRANGE of the string bytes it spans; bytes stored past the size are
 * no part of the string. */

static int bad_fragment(applier *a, const touched *k) {
    return fail(a, "ERR APPLYBATCH: malformed fragment of bitmap '%.*s'", shown(k->klen), k->key);
}

static void emit_setrange(applier *a, const touched *k, uint64_t offset, const char *bytes, size_t n) {
    char at[24];
    const char *argv[4] = {"SETRANGE", k->key, at, bytes};
    size_t lens[4] = {8, k->klen, num_format_ll(at, (long long)offset), n};
    txn_record(a->t, k->db, TYPE_BITMAP, 4, argv, lens);
}

/* SETRANGE of the string bytes [offset, min(offset + 1 KiB, size)) from a fragment's stored
 * bytes (fewer, or none for a deleted fragment, read as zeros). */
static int describe_fragment(applier *a, touched *k, const meta *m, const char *name, size_t nlen, const char *val,
                             size_t vlen) {
    uint64_t offset;
    if (enc_fragment_offset(name, nlen, &offset) < 0 || vlen > BITMAP_FRAGMENT_BYTES) return bad_fragment(a, k);
    if (offset >= m->size) return 0;
    size_t n = m->size - offset < BITMAP_FRAGMENT_BYTES ? (size_t)(m->size - offset) : BITMAP_FRAGMENT_BYTES;
    char bytes[BITMAP_FRAGMENT_BYTES];
    memset(bytes, 0, n);
    for (size_t i = 0; i < n && i < vlen; i++) bytes[i] = (char)enc_reverse_bits((uint8_t)val[i]);
    emit_setrange(a, k, offset, bytes, n);
    if (offset + n > k->fragments_end) k->fragments_end = offset + n;
    return 0;
}

/* SETRANGE of the last byte when no recorded fragment reached it, so that the length is right. */
static int emit_bitmap_length(applier *a, const touched *k, const meta *m) {
    if (m->size <= k->fragments_end) return 0;
    uint64_t last = m->size - 1, offset = last - last % BITMAP_FRAGMENT_BYTES;
    char name[24], byte = 0;
    buf_clear(&a->scratch);
    enc_subkey(&a->scratch, k->db, k->key, k->klen, m->version, name, enc_fragment_name(name, offset));
    int rc = txn_get(a->t, CF_DEFAULT, a->scratch.data, a->scratch.len, &a->value);
    if (rc < 0) return fail(a, "ERR storage error reading a key the batch writes");
    if (rc == 1 && a->value.len > last - offset) byte = (char)enc_reverse_bits((uint8_t)a->value.data[last - offset]);
    emit_setrange(a, k, last, &byte, 1);
    return 0;
}

/* Gathers a key's members as the txn sees them into c (a bitmap's are recorded at once); 0 or -1. */
static int read_members(applier *a, touched *k, const meta *m, command *c) {
    buf prefix, end;
    buf_init(&prefix);
    buf_init(&end);
    enc_subkey(&prefix, k->db, k->key, k->klen, m->version, "", 0);
    enc_prefix_end(&end, prefix.data, prefix.len);
    store_iter *it = txn_iter_new(a->t, CF_DEFAULT, prefix.data, prefix.len, end.data, end.len);
    int rc = 0;
    uint64_t members = 0;
    for (; rc >= 0 && store_iter_valid(it); store_iter_next(it)) {
        size_t iklen, vlen;
        const char *ikey = store_iter_key(it, &iklen);
        if (bytes_compare(ikey, iklen, end.data, end.len) >= 0) break;
        const char *val = store_iter_value(it, &vlen);
        rc = live_member(a, m, ikey, iklen, ikey + prefix.len, iklen - prefix.len);
        if (rc <= 0) continue;
        members++;
        const char *sub = ikey + prefix.len;
        size_t sublen = iklen - prefix.len;
        if (m->type == TYPE_BITMAP) rc = describe_fragment(a, k, m, sub, sublen, val, vlen);
        else rc = add_member(a, c, m->type, sub, sublen, val, vlen);
    }
    if (rc >= 0 && !store_iter_valid(it) && store_iter_failed(it))
        rc = fail(a, "ERR storage error reading a key the batch writes");
    store_iter_free(it);
    buf_free(&prefix);
    buf_free(&end);
    /* A size that lies would make every later reader of the key answer an error. */
    if (rc >= 0 && m->type != TYPE_BITMAP && members != m->size)
        rc = fail(a, "ERR APPLYBATCH: key '%.*s' would say %llu members but hold %llu", shown(k->klen), k->key,
                  (unsigned long long)m->size, (unsigned long long)members);
    return rc < 0 ? -1 : 0;
}

static const char *const rebuild_names[] = {[TYPE_HASH] = "HSET", [TYPE_LIST] = "RPUSH", [TYPE_SET] = "SADD",
                                            [TYPE_ZSET] = "ZADD", [TYPE_BITMAP] = "SETRANGE"};

/* DEL (unless it did not exist), then the key's members as it holds them now, then its expiry.
 * A bitmap's fragments are recorded as they are read, one SETRANGE each. */
static int rebuild_key(applier *a, touched *k, const meta *m) {
    if (k->alive_before) emit_simple(a, k, k->before.type, "DEL", NULL, 0); /* a dead key is gone in Redis too */
    command c;
    command_init(&c, rebuild_names[m->type], k);
    int rc = read_members(a, k, m, &c);
    if (rc == 0) {
        command_emit(&c, a, k, m->type, member_args(m->type));
        if (m->type == TYPE_BITMAP) rc = emit_bitmap_length(a, k, m);
    }
    if (rc == 0 && m->expire_ms) emit_expire_at(a, k, m->type, m->expire_ms);
    command_free(&c);
    return rc;
}

/* Whether a list that keeps its version changed only at its ends: its member writes all fall
 * outside the items it kept (those within both the old and the new head … tail). */
static int list_changed_at_ends(const touched *k, const meta *m) {
    uint64_t kept_from = k->before.list_head > m->list_head ? k->before.list_head : m->list_head;
    uint64_t kept_to = k->before.list_tail < m->list_tail ? k->before.list_tail : m->list_tail;
    if (kept_from >= kept_to || k->odd_member_write) return 0;
    return !k->member_writes || k->last_index < kept_from || k->first_index >= kept_to;
}

/* Gathers the n items from index `from` on, by step (-1 toward the head), into c: 1, or 0 when
 * one is missing (pushes cannot tell the change), -1 on an error. */
static int read_items(applier *a, const touched *k, const meta *m, uint64_t from, int step, uint64_t n, command *c) {
    buf subkey;
    buf_init(&subkey);
    char index[8];
    int rc = 1;
    for (uint64_t i = 0; i < n && rc == 1; i++) {
        buf_set_u64be(index, from + (uint64_t)step * i);
        buf_clear(&subkey);
        enc_subkey(&subkey, k->db, k->key, k->klen, m->version, index, 8);
        rc = txn_get(a->t, CF_DEFAULT, subkey.data, subkey.len, &a->value);
        if (rc == 1) command_arg(c, a->value.data, a->value.len);
    }
    if (rc < 0) fail(a, "ERR storage error reading a key the batch writes");
    buf_free(&subkey);
    return rc;
}

static void emit_pop(applier *a, const touched *k, const char *name, uint64_t n) {
    char count[24];
    if (n > 0) emit_simple(a, k, TYPE_LIST, name, count, num_format_ll(count, (long long)n));
}

/* A list changed at its ends: LPOP/RPOP n, then LPUSH/RPUSH of the new items. 1 done, 0 when
 * pushes cannot tell the change (nothing recorded then), -1 on an error. */
static int describe_list_ends(applier *a, const touched *k, const meta *m) {
    const meta *b = &k->before;
    command lpush, rpush;
    command_init(&lpush, "LPUSH", k);
    command_init(&rpush, "RPUSH", k);
    int rc = 1;
    if (m->list_head < b->list_head)
        rc = read_items(a, k, m, b->list_head - 1, -1, b->list_head - m->list_head, &lpush);
    if (rc == 1 && m->list_tail > b->list_tail)
        rc = read_items(a, k, m, b->list_tail, 1, m->list_tail - b->list_tail, &rpush);
    if (rc == 1) {
        emit_pop(a, k, "LPOP", m->list_head > b->list_head ? m->list_head - b->list_head : 0);
        emit_pop(a, k, "RPOP", m->list_tail < b->list_tail ? b->list_tail - m->list_tail : 0);
        command_emit(&lpush, a, k, TYPE_LIST, 1);
        command_emit(&rpush, a, k, TYPE_LIST, 1);
    }
    command_free(&lpush);
    command_free(&rpush);
    return rc;
}

/* PEXPIREAT or PERSIST when only the expiry of a key changed. */
static void describe_expiry(applier *a, const touched *k, const meta *m) {
    if (m->expire_ms == k->before.expire_ms) return;
    if (m->expire_ms)
        emit_expire_at(a, k, m->type, m->expire_ms);
    else
        emit_simple(a, k, m->type, "PERSIST", NULL, 0);
}

/* ---- a stream, recorded as Redis 7 replays it ----
 * A new (or recreated, or retyped) stream: DEL, XADD of each entry with its id, then XSETID of
 * the counters the entries do not tell, its consumer groups whole, and its expiry. A stream
 * that keeps its version: XADD of the entries added, its groups' changes (apply_groups.h),
 * XTRIM of the entries removed below its first one, XDEL of those removed above it, XSETID
 * when the counters are not what those leave, and its expiry. */

static int bad_entry(applier *a, const touched *k) {
    return fail(a, "ERR APPLYBATCH: malformed entry of stream '%.*s'", shown(k->klen), k->key);
}

/* XADD key <id> field value …, one command however many fields. */
static void emit_xadd(applier *a, const touched *k, stream_id id, const char *val, size_t vlen) {
    command c;
    command_init(&c, "XADD", k);
    char text[STREAM_ID_TEXT_MAX];
    command_arg(&c, text, stream_id_format(text, id));
    stream_entry_reader r;
    stream_entry_reader_init(&r, val, vlen);
    const char *s;
    size_t len;
    while (stream_entry_next(&r, &s, &len)) command_arg(&c, s, len);
    command_emit(&c, a, k, TYPE_STREAM, c.argc); /* a member as long as the command: never split */
    command_free(&c);
}

/* XSETID key <last id> ENTRIESADDED n MAXDELETEDID id; XSETID refuses a max deleted id above
 * the last id, so one above it is set with itself as the last id, then the last id alone. */
static void emit_setid(applier *a, const touched *k, const stream_extras *x) {
    char last[STREAM_ID_TEXT_MAX], added[24], deleted[STREAM_ID_TEXT_MAX];
    int lowered = stream_id_compare(x->max_deleted, x->last_generated) > 0;
    const char *argv[7] = {"XSETID", k->key, last, "ENTRIESADDED", added, "MAXDELETEDID", deleted};
    size_t lens[7] = {6, k->klen, stream_id_format(last, lowered ? x->max_deleted : x->last_generated), 12,
                      num_format_ll(added, (long long)x->entries_added), 12, stream_id_format(deleted, x->max_deleted)};
    txn_record(a->t, k->db, TYPE_STREAM, 7, argv, lens);
    if (lowered) {
        lens[2] = stream_id_format(last, x->last_generated);
        txn_record(a->t, k->db, TYPE_STREAM, 3, argv, lens);
    }
}

/* XTRIM key MINID <id>, or MAXLEN 0 for a stream left empty. */
static void emit_trim(applier *a, const touched *k, const meta *m) {
    char id[STREAM_ID_TEXT_MAX];
    int empty = m->size == 0;
    const char *argv[4] = {"XTRIM", k->key, empty ? "MAXLEN" : "MINID", empty ? "0" : id};
    size_t lens[4] = {5, k->klen, empty ? 6 : 5, empty ? 1 : stream_id_format(id, m->stream.first)};
    txn_record(a->t, k->db, TYPE_STREAM, 4, argv, lens);
}

/* An empty stream is made by an XADD that MAXLEN 0 removes at once, at its last id (0-1 for
 * 0-0, which XADD refuses; the XSETID that follows sets the id). */
static void emit_empty_stream(applier *a, const touched *k, const stream_extras *x) {
    char id[STREAM_ID_TEXT_MAX];
    stream_id at = is_zero_id(x->last_generated) ? (stream_id){0, 1} : x->last_generated;
    const char *argv[7] = {"XADD", k->key, "MAXLEN", "0", id, "f", "v"};
    size_t lens[7] = {4, k->klen, 6, 1, stream_id_format(id, at), 1, 1};
    txn_record(a->t, k->db, TYPE_STREAM, 7, argv, lens);
}

/* Whether a stream's metadata agrees with what it holds: n entries from first to last. */
static int check_stream_holds(applier *a, const touched *k, const meta *m, uint64_t n, stream_id first,
                              stream_id last) {
    if (n != m->size)
        return fail(a, "ERR APPLYBATCH: stream '%.*s' would say %llu entries but hold %llu", shown(k->klen), k->key,
                    (unsigned long long)m->size, (unsigned long long)n);
    if (n > 0 && (stream_id_compare(first, m->stream.first) != 0 || stream_id_compare(last, m->stream.last) != 0))
        return fail(a, "ERR APPLYBATCH: the first and last entries of stream '%.*s' are not those its metadata names",
                    shown(k->klen), k->key);
    return 0;
}

/* The subkeys of a stream version's entries: from prefix (inclusive) to end (exclusive). */
static void entry_bounds(const touched *k, uint64_t version, buf *prefix, buf *end) {
    buf_init(prefix);
    buf_init(end);
    enc_subkey(prefix, k->db, k->key, k->klen, version, "", 0);
    enc_prefix_end(end, prefix->data, prefix->len);
}

/* Whether XADD of a stream's entries leaves its counters as they are (no XSETID needed). */
static int counters_follow_entries(const meta *m) {
    const stream_extras *x = &m->stream;
    return m->size > 0 && stream_id_compare(x->last_generated, x->last) == 0 && x->entries_added == m->size &&
           is_zero_id(x->max_deleted);
}

/* A stream of the commit, for its consumer groups: kept when it keeps its version (its state
 * before then tells what the commit changed). */
static group_stream groups_of(const applier *a, const touched *k, const meta *after, int kept) {
    return (group_stream){k->db, k->key, k->klen, (size_t)(k - a->keys), kept ? &k->before : NULL, after};
}

/* DEL (unless it did not exist), XADD of every entry it holds now, XSETID, its groups, expiry;
 * its entries must be well-formed, and as many and between the edges its metadata says. */
static int rebuild_stream(applier *a, touched *k, const meta *m) {
    if (k->alive_before) emit_simple(a, k, k->before.type, "DEL", NULL, 0);
    buf prefix, end;
    entry_bounds(k, m->version, &prefix, &end);
    store_iter *it = txn_iter_new(a->t, CF_STREAM, prefix.data, prefix.len, end.data, end.len);
    uint64_t n = 0;
    stream_id zero = {0, 0}, first = zero, last = zero;
    int rc = 0;
    for (; rc == 0 && store_iter_valid(it); store_iter_next(it)) {
        size_t iklen, vlen, nitems;
        const char *ikey = store_iter_key(it, &iklen);
        if (bytes_compare(ikey, iklen, end.data, end.len) >= 0) break;
        const char *val = store_iter_value(it, &vlen);
        int live = survives_ranges(a, CF_STREAM, ikey, iklen);
        if (live < 0) rc = -1;
        if (live <= 0) continue;
        stream_id id = iklen == prefix.len + STREAM_ID_BYTES ? stream_id_from_bytes(ikey + prefix.len) : zero;
        if (is_zero_id(id) || stream_entry_check(val, vlen, &nitems) < 0) {
            rc = bad_entry(a, k);
            break;
        }
        if (n++ == 0) first = id;
        last = id;
        emit_xadd(a, k, id, val, vlen);
    }
    if (rc == 0 && !store_iter_valid(it) && store_iter_failed(it))
        rc = fail(a, "ERR storage error reading a key the batch writes");
    store_iter_free(it);
    buf_free(&prefix);
    buf_free(&end);
    if (rc == 0) rc = check_stream_holds(a, k, m, n, first, last);
    if (rc < 0) return -1;
    if (m->size == 0) emit_empty_stream(a, k, &m->stream);
    if (!counters_follow_entries(m)) emit_setid(a, k, &m->stream);
    group_stream s = groups_of(a, k, m, 0);
    if (apply_groups_rebuild(&a->groups, &s) < 0) return -1;
    if (m->expire_ms) emit_expire_at(a, k, TYPE_STREAM, m->expire_ms);
    return 0;
}

/* The id of the first (rev: last) entry of a stream version: 1, 0 if it has none, -1. */
static int stream_edge(applier *a, const touched *k, uint64_t version, int rev, stream_id *id) {
    buf prefix, end;
    entry_bounds(k, version, &prefix, &end);
    store_iter *it = txn_iter_new(a->t, CF_STREAM, prefix.data, prefix.len, end.data, end.len);
    if (rev) store_iter_seek_for_prev(it, end.data, end.len);
    int rc = 0;
    if (store_iter_valid(it)) {
        size_t iklen;
        const char *ikey = store_iter_key(it, &iklen);
        rc = iklen == prefix.len + STREAM_ID_BYTES && memcmp(ikey, prefix.data, prefix.len) == 0;
        if (rc) *id = stream_id_from_bytes(ikey + prefix.len);
    } else if (store_iter_failed(it)) {
        rc = fail(a, "ERR storage error reading a key the batch writes");
    }
    store_iter_free(it);
    buf_free(&prefix);
    buf_free(&end);
    return rc;
}

/* What the entry writes of a stream that keeps its version did: the entries added, and those
 * removed below the first entry left (a trim) or above it (XDEL). */
typedef struct stream_change {
    size_t *added, *deleted; /* indexes into applier.entries, in id order */
    size_t nadded, ndeleted, trimmed, added_cap, deleted_cap;
} stream_change;

static void note_entry(size_t **list, size_t *n, size_t *cap, size_t index) {
    *list = grow(*list, cap, *n + 1, sizeof(size_t));
    (*list)[(*n)++] = index;
}

/* Sorts out the stream's entry writes of its version (each entry once) by what they did: 1, 0
 * if one replaced an entry (which no XADD does), -1 on an error. */
static int gather_stream_change(applier *a, const touched *k, const meta *m, stream_change *c) {
    for (size_t i = k->entries_at; i < k->entries_at + k->nentries; i++) {
        const entry_write *w = &a->entries[i];
        if (w->version != m->version) continue; /* another version's: garbage nothing reads */
        if (i > k->entries_at && w[-1].version == w->version && stream_id_compare(w[-1].id, w->id) == 0) continue;
        int now = txn_get(a->t, CF_STREAM, w->subkey, w->subkey_len, &a->value);
        if (now < 0) return fail(a, "ERR storage error reading a key the batch writes");
        if (now && w->existed) return 0;
        if (now)
            note_entry(&c->added, &c->nadded, &c->added_cap, i);
        else if (w->existed && (m->size == 0 || stream_id_compare(w->id, m->stream.first) < 0))
            c->trimmed++;
        else if (w->existed)
            note_entry(&c->deleted, &c->ndeleted, &c->deleted_cap, i);
    }
    return 1;
}

/* Whether the stream holds what its metadata says: the entries it had, plus those added, less
 * those removed, between the edges it names (two seeks). */
static int check_stream_change(applier *a, const touched *k, const meta *m, const stream_change *c) {
    uint64_t had = k->before.size + c->nadded, removed = c->trimmed + c->ndeleted;
    uint64_t holds = had >= removed ? had - removed : UINT64_MAX;
    stream_id first = {0, 0}, last = {0, 0};
    if (m->size > 0 && holds == m->size) {
        int rc = stream_edge(a, k, m->version, 0, &first);
        if (rc == 1) rc = stream_edge(a, k, m->version, 1, &last);
        if (rc < 0) return -1;
    }
    return check_stream_holds(a, k, m, holds, first, last);
}

/* Records the change of a stream that keeps its version: 1, or 0 when Redis could not replay
 * it so (an entry added at or below the last id, a max deleted id set back to 0-0), -1. */
static int describe_stream_change(applier *a, const touched *k, const meta *m, const stream_change *c) {
    const stream_extras *x = &m->stream;
    stream_extras replayed = k->before.stream; /* what XADD and XDEL leave; XSETID sets the rest */
    if (c->nadded > 0) {
        if (stream_id_compare(a->entries[c->added[0]].id, replayed.last_generated) <= 0) return 0;
        replayed.last_generated = a->entries[c->added[c->nadded - 1]].id;
        replayed.entries_added += c->nadded;
    }
    if (c->ndeleted > 0 && stream_id_compare(a->entries[c->deleted[c->ndeleted - 1]].id, replayed.max_deleted) > 0)
        replayed.max_deleted = a->entries[c->deleted[c->ndeleted - 1]].id;
    if (is_zero_id(x->max_deleted) && !is_zero_id(replayed.max_deleted)) return 0; /* XSETID cannot clear it */
    for (size_t i = 0; i < c->nadded; i++) {
        const entry_write *w = &a->entries[c->added[i]];
        if (txn_get(a->t, CF_STREAM, w->subkey, w->subkey_len, &a->value) != 1)
            return fail(a, "ERR storage error reading a key the batch writes");
        emit_xadd(a, k, w->id, a->value.data, a->value.len);
    }
    /* The groups' changes before the entries removed: an entry the commit delivered, then
     * deleted, is still there for Redis's XCLAIM … FORCE to make pending. */
    group_stream s = groups_of(a, k, m, 1);
    if (apply_groups_describe_change(&a->groups, &s) < 0) return -1;
    if (c->trimmed > 0) emit_trim(a, k, m);
    command del;
    command_init(&del, "XDEL", k);
    char id[STREAM_ID_TEXT_MAX];
    for (size_t i = 0; i < c->ndeleted; i++) command_arg(&del, id, stream_id_format(id, a->entries[c->deleted[i]].id));
    command_emit(&del, a, k, TYPE_STREAM, 1);
    command_free(&del);
    if (stream_id_compare(replayed.last_generated, x->last_generated) != 0 ||
        replayed.entries_added != x->entries_added || stream_id_compare(replayed.max_deleted, x->max_deleted) != 0)
        emit_setid(a, k, x);
    describe_expiry(a, k, m);
    return 1;
}

static int describe_stream(applier *a, touched *k, const meta *m) {
    if (!k->alive_before || k->before.type != TYPE_STREAM || k->before.version != m->version)
        return rebuild_stream(a, k, m);
    stream_change c = {0};
    int rc = gather_stream_change(a, k, m, &c);
    if (rc == 1 && check_stream_change(a, k, m, &c) < 0) rc = -1;
    if (rc == 1) rc = describe_stream_change(a, k, m, &c);
    free(c.added);
    free(c.deleted);
    if (rc == 0) return rebuild_stream(a, k, m);
    return rc < 0 ? -1 : 0;
}

/* Entries or consumer group records written under the version of a key that is no stream
 * would be data no command reads or removes. */
static int check_entries_belong(applier *a, const touched *k, const meta *m) {
    for (size_t i = k->entries_at; i < k->entries_at + k->nentries; i++)
        if (a->entries[i].version == m->version)
            return fail(a, "ERR APPLYBATCH: stream entries under key '%.*s', which is no stream", shown(k->klen),
                        k->key);
    if (apply_groups_written(&a->groups, (size_t)(k - a->keys), m->version))
        return fail(a, "ERR APPLYBATCH: consumer group records under key '%.*s', which is no stream", shown(k->klen),
                    k->key);
    return 0;
}

/* Sorts the commit's entry writes by key, version and id, so that each key's are a run. */
static int entry_order(const void *pa, const void *pb) {
    const entry_write *x = pa, *y = pb;
    if (x->key_index != y->key_index) return x->key_index < y->key_index ? -1 : 1;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    return stream_id_compare(x->id, y->id);
}

static void sort_entry_writes(applier *a) {
    if (a->nentries == 0) return;
    qsort(a->entries, a->nentries, sizeof(*a->entries), entry_order);
    for (size_t i = 0; i < a->nentries; i++) {
        touched *k = &a->keys[a->entries[i].key_index];
        if (k->nentries++ == 0) k->entries_at = i;
    }
}

/* The commands for one key, from its state before and after the commit. */
static int describe_key(applier *a, touched *k) {
    meta m;
    int alive = read_meta(a, k->db, k->key, k->klen, &m);
    if (alive < 0) return -1;
    k->alive_after = alive;
    k->after = m;
    k->after.value = NULL;
    if (!alive) {
        if (k->alive_before) emit_simple(a, k, k->before.type, "DEL", NULL, 0);
        return 0;
    }
    if (!known_type(m.type)) /* written before APPLYBATCH checked types */
        return fail(a, "ERR APPLYBATCH: key '%.*s' has a type tidekv does not have", shown(k->klen), k->key);
    if (m.type == TYPE_STREAM) return describe_stream(a, k, &m);
    if (check_entries_belong(a, k, &m) < 0) return -1;
    if (m.type == TYPE_STRING) {
        /* A key of another type it replaced is gone, for a consumer of that type too. */
        if (k->alive_before && k->before.type != TYPE_STRING && k->before.type != TYPE_BITMAP)
            emit_simple(a, k, k->before.type, "DEL", NULL, 0);
        cdc_emit_string(&a->t->record, k->db, k->key, k->klen, &m);
        return 0;
    }
    if (!k->alive_before || k->before.type != m.type || k->before.version != m.version ||
        (m.type == TYPE_BITMAP && m.size < k->before.size)) /* SETRANGE cannot shorten a string */
        return rebuild_key(a, k, &m);
    if (m.type == TYPE_LIST) {
        int rc = list_changed_at_ends(k, &m) ? describe_list_ends(a, k, &m) : 0;
        if (rc == 0) return rebuild_key(a, k, &m);
        if (rc > 0) describe_expiry(a, k, &m);
        return rc < 0 ? -1 : 0;
    }
    /* The same key, changed member by member (below: a bitmap fragment by fragment) and maybe
     * in its expiry. */
    k->per_member = 1;
    describe_expiry(a, k, &m);
    return 0;
}

/* The member writes of keys changed member by member, as commands: consecutive writes of one
 * key that add (or that remove) go in one command. */
typedef struct member_commands {
    command c;
    const touched *k; /* the key of the command being gathered, NULL if none */
    int adds;
} member_commands;

static void member_commands_flush(applier *a, member_commands *mc) {
    if (!mc->k) return;
    enum key_type type = mc->k->after.type;
    command_emit(&mc->c, a, mc->k, type, mc->adds ? member_args(type) : 1);
    command_free(&mc->c);
    mc->k = NULL;
}

/* HSET/HDEL, SADD/SREM, ZADD/ZREM for one member write; SETRANGE for a bitmap's fragment. */
static int describe_member(applier *a, const member_write *w, member_commands *mc) {
    touched *k = &a->keys[w->key_index];
    if (!k->per_member || w->version != k->after.version) return 0; /* rebuilt whole, or another version's */
    int found = txn_get(a->t, CF_DEFAULT, w->subkey, w->subkey_len, &a->value);
    if (found < 0) return fail(a, "ERR storage error reading a key the batch writes");
    if (k->after.type == TYPE_BITMAP) {
        member_commands_flush(a, mc);
        return describe_fragment(a, k, &k->after, w->sub, w->sublen, a->value.data, found ? a->value.len : 0);
    }
    static const char *const names[][2] = {[TYPE_HASH] = {"HDEL", "HSET"}, [TYPE_SET] = {"SREM", "SADD"},
                                           [TYPE_ZSET] = {"ZREM", "ZADD"}};
    enum key_type type = k->after.type;
    if (mc->k != k || mc->adds != found) {
        member_commands_flush(a, mc);
        command_init(&mc->c, names[type][found], k);
        mc->k = k;
        mc->adds = found;
    }
    if (found) return add_member(a, &mc->c, type, w->sub, w->sublen, a->value.data, a->value.len);
    command_arg(&mc->c, w->sub, w->sublen);
    return 0;
}

/* ---- a sorted set's score index must agree with its members ----
 * ZRANGE reads the index, ZSCORE the members: the record, made from the members, is true only
 * if every index entry the commit writes agrees with its member, and every member it writes
 * has its entry (and no longer its old one). Writes under another version than the key's are
 * garbage nothing reads. */

static int index_disagrees(applier *a, const touched *k) {
    return fail(a, "ERR APPLYBATCH: the score index of sorted set '%.*s' disagrees with its members", shown(k->klen),
                k->key);
}

/* Whether the index entry (score, member) of the key's version exists: 1, 0, or -1. */
static int index_has(applier *a, const touched *k, const char score[8], const char *member, size_t mlen) {
    buf_clear(&a->scratch);
    enc_subkey(&a->scratch, k->db, k->key, k->klen, k->after.version, "", 0);
    buf_append(&a->scratch, score, 8);
    buf_append(&a->scratch, member, mlen);
    int rc = txn_get(a->t, CF_ZSET_SCORE, a->scratch.data, a->scratch.len, &a->value);
    if (rc < 0) fail(a, "ERR storage error reading a key the batch writes");
    return rc;
}

static int sorted_set_written(const touched *k, uint64_t version) {
    return k->alive_after && k->after.type == TYPE_ZSET && version == k->after.version;
}

static int check_member_index(applier *a, const member_write *w) {
    const touched *k = &a->keys[w->key_index];
    if (!sorted_set_written(k, w->version)) return 0;
    int found = txn_get(a->t, CF_DEFAULT, w->subkey, w->subkey_len, &a->value);
    if (found < 0) return fail(a, "ERR storage error reading a key the batch writes");
    char score[8];
    if (found) {
        if (a->value.len != 8) return fail(a, "ERR APPLYBATCH: malformed score of a sorted set member");
        memcpy(score, a->value.data, 8);
        int rc = index_has(a, k, score, w->sub, w->sublen);
        if (rc != 1) return rc < 0 ? -1 : index_disagrees(a, k);
    }
    if (w->had_score && (!found || memcmp(score, w->old_score, 8) != 0)) {
        int rc = index_has(a, k, w->old_score, w->sub, w->sublen);
        if (rc != 0) return rc < 0 ? -1 : index_disagrees(a, k);
    }
    return 0;
}

static int check_score_write(applier *a, const score_write *w) {
    const touched *k = &a->keys[w->key_index];
    if (!sorted_set_written(k, w->version)) return 0;
    buf_clear(&a->scratch);
    enc_subkey(&a->scratch, k->db, k->key, k->klen, w->version, w->member, w->mlen);
    int found = txn_get(a->t, CF_DEFAULT, a->scratch.data, a->scratch.len, &a->value);
    if (found < 0) return fail(a, "ERR storage error reading a key the batch writes");
    int member_has_it = found && a->value.len == 8 && memcmp(a->value.data, w->score, 8) == 0;
    if (member_has_it == w->put) return 0;
    /* A write the commit undid later (ZADD z 1 m 2 m puts the entry of 1, then deletes it) is
     * judged by what the commit left of the entry. */
    int left = index_has(a, k, w->score, w->member, w->mlen);
    if (left < 0) return -1;
    return left == member_has_it ? 0 : index_disagrees(a, k);
}

static int check_score_index(applier *a) {
    for (size_t i = 0; i < a->nmembers; i++)
        if (check_member_index(a, &a->members[i]) < 0) return -1;
    for (size_t i = 0; i < a->nscores; i++)
        if (check_score_write(a, &a->scores[i]) < 0) return -1;
    return 0;
}

/* FUNCTION LOAD REPLACE <code> for a library put, FUNCTION DELETE <name> for one deleted. */
static void describe_libraries(applier *a) {
    for (size_t i = 0; i < a->nlibs; i++) {
        const library_write *w = &a->libs[i];
        const char *argv[4] = {"FUNCTION", w->code ? "LOAD" : "DELETE", "REPLACE", w->code};
        size_t lens[4] = {8, w->code ? 4 : 6, 7, w->clen};
        if (!w->code) {
            argv[2] = w->name;
            lens[2] = w->nlen;
        }
        if (w->code || w->changed) txn_record(a->t, 0, TYPE_NONE, w->code ? 4 : 3, argv, lens);
    }
}

static int describe_commit(applier *a) {
    describe_libraries(a);
    for (size_t i = 0; i < a->nflushed; i++) cdc_emit_flushdb(&a->t->record, a->flushed[i]);
    sort_entry_writes(a);
    apply_groups_sort(&a->groups);
    for (size_t i = 0; i < a->nkeys; i++)
        if (describe_key(a, &a->keys[i]) < 0) return -1;
    if (check_score_index(a) < 0) return -1;
    member_commands mc = {.k = NULL};
    int rc = 0;
    for (size_t i = 0; i < a->nmembers && rc == 0; i++) rc = describe_member(a, &a->members[i], &mc);
    if (rc == 0) member_commands_flush(a, &mc);
    if (mc.k) command_free(&mc.c);
    /* A bitmap that grew past the fragments it wrote: its new length. */
    for (size_t i = 0; i < a->nkeys && rc == 0; i++) {
        const touched *k = &a->keys[i];
        if (k->per_member && k->after.type == TYPE_BITMAP && k->after.size > k->before.size)
            rc = emit_bitmap_length(a, k, &k->after);
    }
    return rc;
}

/* ---- the whole batch ---- */

static void commit_done(applier *a) {
    a->nkeys = a->nmembers = a->nscores = a->nentries = a->nlibs = a->nflushed = a->nsub_ranges = 0;
    if (a->slots) memset(a->slots, 0, a->nslots * sizeof(size_t));
    apply_groups_clear(&a->groups);
}

static void applier_free(applier *a) {
    free(a->keys);
    free(a->slots);
    free(a->members);
    free(a->scores);
    free(a->entries);
    free(a->libs);
    free(a->flushed);
    free(a->sub_ranges);
    apply_groups_free(&a->groups);
    buf_free(&a->scratch);
    buf_free(&a->value);
}

static int apply_commits(applier *a, const char *data, size_t len) {
    batch_reader r;
    if (batch_validate(data, len) < 0 || batch_reader_init(&r, data, len) < 0 || r.pos == r.end)
        return fail(a, "ERR invalid write batch");
    int commits = 0;
    while (r.pos < r.end) {
        batch_reader start = r;
        size_t nrecords, nwrites;
        if (scan_commit(a, &r, &nrecords, &nwrites) < 0) return -1;
        if (nwrites == 0) continue; /* LogData alone (Kvrocks writes such batches): nothing to do */
        /* The libraries must hold after each commit, as a replay commit by commit finds them
         * (not only after the batch: a replica stages a reply's batches as one). */
        const apply_libraries *keeper = a->limits->libraries;
        if (a->nlibs > 0 && keeper->commit_done(keeper->arg, a->err, a->errlen) < 0) return -1;
        stage_writes(a, &start, nrecords);
        if (a->limits->verbatim) {
            if (check_score_index(a) < 0) return -1; /* the batch carries its own records */
        } else {
            if (describe_commit(a) < 0) return -1;
            txn_record_described(a->t); /* writes without a visible effect have a record of no command */
            txn_seal(a->t);
        }
        commits++;
        commit_done(a);
    }
    return commits;
}

int cdc_apply_batch(txn *t, const char *data, size_t len, const apply_limits *limits, char *err, size_t errlen) {
    applier a = {0};
    a.t = t;
    a.limits = limits;
    a.err = err;
    a.errlen = errlen;
    a.seed = (uint64_t)time_now_us(); /* keys come from the client: no fixed collisions */
    err[0] = '\0';
    buf_init(&a.scratch);
    buf_init(&a.value);
    apply_groups_init(&a.groups, t, err, errlen);
    int commits = apply_commits(&a, data, len);
    applier_free(&a);
    if (commits < 0)
        txn_reset(t);
    else if (commits > 0)
        bounds_forget_all(); /* any collection may have gained members below its known bounds */
    return commits;
}
