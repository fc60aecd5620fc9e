/* Per-database key counts, kept by the commit path.
 *
 * What DBSIZE counts. The keys a walk of the database lists (KEYS *, SCAN, the scan DBSIZE
 * used to be): metadata records that are neither expired (expiry != 0 and < now) nor empty
 * collections (size 0); a record that cannot be decoded counts as a key without expiry, as
 * the walk lists it so that it can be deleted. Redis counts an expired key until it is
 * reclaimed, which its active expiry does within a fraction of a second. tidekv has no active
 * expiry: an expired record goes when a command looks it up or when a compaction filter drops
 * it, which may take hours, and a filter's drop is not a commit that a counter could follow.
 * So here a key stops counting at its expiry time, exactly when the walk stops listing it.
 *
 * The counts. Per database: `persistent`, the counted keys without an expiry, and the expiry
 * times of those with one, as an ordered multiset (a treap of distinct times, each with how
 * many keys expire then) with its size and sum. A read at time now first takes the times
 * before now out of the set: those keys are expired for good, since a record changes only
 * by a commit, which is counted anew. Then keys = persistent + volatile, expires = volatile,
 * avg_ttl = sum / volatile - now (exact, where Redis estimates it from samples). `horizon` is
 * the latest time the set was cut at: a time before it is in no count, so a change that adds
 * or removes one does nothing. That is also why the compaction filter needs no accounting:
 * it drops only records expired before it runs, whose times are out of every count already.
 *
 * Commits. Just before a commit is written, its metadata writes are replayed in order
 * (staging): each removes the share of the key's previous record (see key_share) and adds
 * that of its new one. The previous record is the one an earlier write of the same commit
 * left, else the one a command of the txn read before writing the key (noted by txn_get;
 * most writing commands look their key up first), else it is read from the store: only
 * blind writes such as a plain SET pay that read. The txn holds the locks of every key it
 * writes (FLUSHDB and APPLYBATCH hold all), so nothing changes those records in between. A
 * range deletion of metadata empties a whole database (FLUSHDB, FLUSHALL, APPLYBATCH refuses
 * any other), which resets that database's counts. The staged changes are applied after the
 * write succeeded, before the key locks are released, so the next commit of a key finds the
 * counts agreeing with the record it reads. Every write of metadata goes through txn_commit
 * (commands, MULTI, APPLYBATCH, lazy expiry), so the counts see them all.
 *
 * Restart. Nothing is persisted: the counts are rebuilt by one walk of the metadata column
 * family when the server opens the database, before it serves clients (about 0.5 s per
 * million keys). So a kill -9 cannot leave a count that disagrees with the data, and no write
 * pays for a counter record, which would also show in the CDC stream (RAW batches, APPLYBATCH).
 *
 * Threads: one mutex guards every database's counts; it is taken by the apply of a commit
 * and by a read, never with another lock taken after it.
 *
 * Memory: one treap node per distinct expiry time (ms) among the counted keys.
 */
#include "storage/keycount.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage/encoding.h"
#include "storage/store.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/random.h"
#include "util/timeutil.h"

enum { KC_ADD, KC_REMOVE, KC_RESET };

/* A sum of expiry times in ms: 2^63 each, far more than 2^64 of them together. */
__extension__ typedef __int128 expiry_sum;

typedef struct expiry_node {
    int64_t at;
    uint64_t keys; /* keys expiring at this ms */
    uint64_t priority;
    struct expiry_node *left, *right;
} expiry_node;

typedef struct db_counts {
    long long persistent;
    expiry_node *expiries;
    uint64_t volatile_keys;
    expiry_sum sum;
    int64_t horizon;
} db_counts;

static struct {
    pthread_mutex_t lock;
    db_counts *dbs;
    int databases;
} counts = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

/* ---- the ordered multiset of expiry times (a treap: a search tree by time, a heap by a
 * random priority, so its depth stays logarithmic whatever times users choose) ---- */

static expiry_node *rotate_right(expiry_node *n) {
    expiry_node *l = n->left;
    n->left = l->right;
    l->right = n;
    return l;
}

static expiry_node *rotate_left(expiry_node *n) {
    expiry_node *r = n->right;
    n->right = r->left;
    r->left = n;
    return r;
}

static expiry_node *expiry_insert(expiry_node *n, int64_t at) {
    if (!n) {
        n = calloc(1, sizeof(*n));
        if (!n) abort();
        n->at = at;
        n->keys = 1;
        n->priority = random_u64();
        return n;
    }
    if (at == n->at) {
        n->keys++;
    } else if (at < n->at) {
        n->left = expiry_insert(n->left, at);
        if (n->left->priority > n->priority) n = rotate_right(n);
    } else {
        n->right = expiry_insert(n->right, at);
        if (n->right->priority > n->priority) n = rotate_left(n);
    }
    return n;
}

/* Joins two treaps whose times are all below (a) and above (b) each other. */
static expiry_node *expiry_join(expiry_node *a, expiry_node *b) {
    if (!a) return b;
    if (!b) return a;
    if (a->priority > b->priority) {
        a->right = expiry_join(a->right, b);
        return a;
    }
    b->left = expiry_join(a, b->left);
    return b;
}

/* Takes one key expiring at `at` out; *found says whether there was one. */
static expiry_node *expiry_remove(expiry_node *n, int64_t at, int *found) {
    if (!n) return NULL;
    if (at < n->at) {
        n->left = expiry_remove(n->left, at, found);
    } else if (at > n->at) {
        n->right = expiry_remove(n->right, at, found);
    } else {
        *found = 1;
        if (--n->keys == 0) {
            expiry_node *joined = expiry_join(n->left, n->right);
            free(n);
            return joined;
        }
    }
    return n;
}

static void expiry_free(expiry_node *n) {
    while (n) {
        expiry_free(n->left);
        expiry_node *right = n->right;
        free(n);
        n = right;
    }
}

/* ---- one database's counts (the lock held) ---- */

static void db_reset(db_counts *c) {
    expiry_free(c->expiries);
    int64_t horizon = c->horizon;
    memset(c, 0, sizeof(*c));
    c->horizon = horizon;
}

/* Takes the times before now out of the counts. */
static void db_cut(db_counts *c, int64_t now_ms) {
    if (now_ms <= c->horizon) return;
    c->horizon = now_ms;
    for (;;) {
        expiry_node **p = &c->expiries;
        while (*p && (*p)->left) p = &(*p)->left;
        expiry_node *first = *p;
        if (!first || first->at >= now_ms) return;
        c->volatile_keys -= first->keys;
        c->sum -= (expiry_sum)first->at * first->keys;
        *p = first->right; /* the smallest has no left child */
        free(first);
    }
}

static void db_add(db_counts *c, int64_t expire_ms) {
    if (expire_ms == 0) {
        c->persistent++;
    } else if (expire_ms >= c->horizon) {
        c->expiries = expiry_insert(c->expiries, expire_ms);
        c->volatile_keys++;
        c->sum += expire_ms;
    }
}

static void db_remove(db_counts *c, int64_t expire_ms) {
    if (expire_ms == 0) {
        c->persistent--;
        return;
    }
    if (expire_ms < c->horizon) return; /* out of the counts already */
    int found = 0;
    c->expiries = expiry_remove(c->expiries, expire_ms, &found);
    if (!found) { /* the counts missed a write: not supposed to happen */
        log_msg(LOG_WARNING, "key counts: no key expiring at %lld to remove", (long long)expire_ms);
        return;
    }
    c->volatile_keys--;
    c->sum -= expire_ms;
}

static db_counts *db_of(int db) { return db >= 0 && db < counts.databases ? &counts.dbs[db] : NULL; }

/* ---- what a record counts for ---- */

static key_share share_of(const char *val, size_t vlen) {
    key_share s = {1, 0};
    meta m;
    if (enc_decode_meta(val, vlen, &m) < 0) return s; /* listed (so it can be deleted) as a key */
    if (m.type != TYPE_STRING && m.size == 0) s.counted = 0; /* an empty collection is no key */
    s.expire_ms = m.expire_ms;
    return s;
}

/* ---- loading ---- */

int keycount_load(int databases) {
    counts.dbs = calloc((size_t)databases, sizeof(db_counts));
    if (!counts.dbs) abort();
    counts.databases = databases;
    int64_t now = time_now_ms();
    for (int db = 0; db < databases; db++) counts.dbs[db].horizon = now;
    store_iter *it = store_iter_new(CF_METADATA, "", 0, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl, ns;
        const char *k = store_iter_key(it, &kl);
        db_counts *c = db_of(enc_namespace_db(k, kl, &ns));
        if (!c) continue;
        const char *v = store_iter_value(it, &vl);
        key_share s = share_of(v, vl);
        if (s.counted) db_add(c, s.expire_ms);
    }
    int failed = store_iter_failed(it);
    store_iter_free(it);
    return failed ? -1 : 0;
}

void keycount_free(void) {
    for (int db = 0; db < counts.databases; db++) db_reset(&counts.dbs[db]);
    free(counts.dbs);
    counts.dbs = NULL;
    counts.databases = 0;
}

/* ---- the keys a txn read or wrote ---- */

int keycount_loaded(void) { return counts.dbs != NULL; }

void keycount_delta_init(keycount_delta *d) {
    memset(d, 0, sizeof(*d));
    buf_init(&d->key_bytes);
    buf_init(&d->reads);
}

void keycount_delta_free(keycount_delta *d) {
    buf_free(&d->key_bytes);
    buf_free(&d->reads);
    free(d->keys);
    free(d->slots);
    free(d->changes);
    free(d->reset);
}

static void clear_resets(keycount_delta *d) {
    if (d->any_reset) memset(d->reset, 0, d->reset_len);
    d->any_reset = 0;
}

void keycount_delta_clear(keycount_delta *d) {
    if (d->nkeys > 0) memset(d->slots, 0, d->nslots * sizeof(size_t));
    buf_clear(&d->key_bytes);
    buf_clear(&d->reads);
    d->nkeys = d->nchanges = 0;
    clear_resets(d);
}

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return p;
    *cap = *cap ? *cap * 2 : 8;
    if (*cap < need) *cap = need;
    p = realloc(p, *cap * size);
    if (!p) abort();
    return p;
}

static const char *key_of(const keycount_delta *d, const keycount_key *k) { return d->key_bytes.data + k->key_off; }

static size_t slot_of(const keycount_delta *d, const char *key, size_t klen) {
    return (size_t)(hash_fnv1a(0, key, klen) & (d->nslots - 1));
}

static void rehash(keycount_delta *d) {
    free(d->slots);
    d->nslots = d->nslots ? d->nslots * 2 : 16;
    d->slots = calloc(d->nslots, sizeof(size_t));
    if (!d->slots) abort();
    for (size_t i = 0; i < d->nkeys; i++) {
        size_t s = slot_of(d, key_of(d, &d->keys[i]), d->keys[i].key_len);
        while (d->slots[s]) s = (s + 1) & (d->nslots - 1);
        d->slots[s] = i + 1;
    }
}

/* The delta's entry for a metadata key, added if new. */
static keycount_key *find_key(keycount_delta *d, const char *key, size_t klen) {
    if (2 * (d->nkeys + 1) > d->nslots) rehash(d);
    size_t s = slot_of(d, key, klen);
    for (; d->slots[s]; s = (s + 1) & (d->nslots - 1)) {
        keycount_key *k = &d->keys[d->slots[s] - 1];
        if (k->key_len == klen && memcmp(key_of(d, k), key, klen) == 0) return k;
    }
    d->keys = grow(d->keys, &d->keys_cap, d->nkeys + 1, sizeof(*d->keys));
    keycount_key *k = &d->keys[d->nkeys];
    size_t ns;
    *k = (keycount_key){.key_off = d->key_bytes.len, .key_len = klen, .db = enc_namespace_db(key, klen, &ns)};
    buf_append(&d->key_bytes, key, klen);
    d->slots[s] = ++d->nkeys;
    return k;
}

/* A read as noted: how many writes the txn had, what the record counted for, the key. */
typedef struct noted_read {
    size_t writes;
    key_share share;
    size_t klen;
} noted_read;

void keycount_note_read(keycount_delta *d, size_t writes, const char *key, size_t klen, int found,
                        const char *val, size_t vlen) {
    /* Only logged: most txns that read write nothing, and need no more than this. */
    noted_read r = {writes, found ? share_of(val, vlen) : (key_share){0, 0}, klen};
    buf_append(&d->reads, &r, sizeof(r));
    buf_append(&d->reads, key, klen);
}

/* Moves the logged reads into the keys: the earliest read of a key is the one that can come
 * before any write of the txn to it. */
static void take_reads(keycount_delta *d) {
    for (size_t pos = 0; pos < d->reads.len;) {
        noted_read r;
        memcpy(&r, d->reads.data + pos, sizeof(r));
        pos += sizeof(r);
        keycount_key *k = find_key(d, d->reads.data + pos, r.klen);
        pos += r.klen;
        if (k->has_base) continue;
        k->has_base = 1;
        k->base_from = r.writes;
        k->base = r.share;
    }
    buf_clear(&d->reads);
}

/* ---- staging ---- */

static void add_change(keycount_delta *d, uint8_t kind, int db, int64_t expire_ms) {
    d->changes = grow(d->changes, &d->changes_cap, d->nchanges + 1, sizeof(*d->changes));
    d->changes[d->nchanges++] = (keycount_change){kind, db, expire_ms};
}

static int was_reset(const keycount_delta *d, int db) {
    return d->any_reset && (d->reset[db / 8] >> (db % 8) & 1);
}

static void mark_reset(keycount_delta *d, int db) {
    if (!d->reset) { /* a bitmap: FLUSHALL with a million databases stays linear */
        d->reset_len = (size_t)counts.databases / 8 + 1;
        d->reset = calloc(d->reset_len, 1);
        if (!d->reset) abort();
    }
    d->reset[db / 8] |= (uint8_t)(1 << (db % 8));
    d->any_reset = 1;
}

void keycount_stage_begin(keycount_delta *d) {
    d->staging++;
    d->nchanges = 0;
    clear_resets(d);
    take_reads(d);
}

/* What a key held just before the write at `index`. Returns 0, or -1 on a read error. */
static int share_before(keycount_delta *d, keycount_key *k, size_t index, key_share *out) {
    if (k->staged == d->staging) {
        *out = k->now;
    } else if (was_reset(d, k->db)) {
        *out = (key_share){0, 0};
    } else if (k->has_base && k->base_from <= index) {
        *out = k->base;
    } else {
        buf raw;
        buf_init(&raw);
        int rc = store_get(CF_METADATA, key_of(d, k), k->key_len, &raw);
        if (rc >= 0) {
            /* The store holds the record from before the txn: good for any of its writes. */
            k->has_base = 1;
            k->base_from = 0;
            k->base = rc == 1 ? share_of(raw.data, raw.len) : (key_share){0, 0};
            *out = k->base;
        }
        buf_free(&raw);
        if (rc < 0) return -1;
    }
    return 0;
}

int keycount_stage_write(keycount_delta *d, size_t index, const char *key, size_t klen, const char *val, size_t vlen) {
    keycount_key *k = find_key(d, key, klen);
    if (!db_of(k->db)) return 0; /* a namespace that is no configured database */
    key_share before;
    if (share_before(d, k, index, &before) < 0) return -1;
    key_share after = val ? share_of(val, vlen) : (key_share){0, 0};
    if (before.counted) add_change(d, KC_REMOVE, k->db, before.expire_ms);
    if (after.counted) add_change(d, KC_ADD, k->db, after.expire_ms);
    k->now = after;
    k->staged = d->staging;
    return 0;
}

int keycount_stage_range(keycount_delta *d, const char *begin, size_t blen) {
    size_t ns;
    int db = enc_namespace_db(begin, blen, &ns);
    if (ns != blen) return -1;
    if (!db_of(db)) return 0;
    add_change(d, KC_RESET, db, 0);
    mark_reset(d, db);
    /* Keys of the database written earlier in the commit are gone too. */
    for (size_t i = 0; i < d->nkeys; i++) {
        keycount_key *k = &d->keys[i];
        if (k->db != db) continue;
        k->now = (key_share){0, 0};
        k->staged = d->staging;
    }
    return 0;
}

/* ---- applying and reading ---- */

void keycount_apply(const keycount_delta *d) {
    pthread_mutex_lock(&counts.lock);
    for (size_t i = 0; i < d->nchanges; i++) {
        const keycount_change *ch = &d->changes[i];
        db_counts *c = db_of(ch->db);
        if (ch->kind == KC_RESET) db_reset(c);
        else if (ch->kind == KC_ADD) db_add(c, ch->expire_ms);
        else db_remove(c, ch->expire_ms);
    }
    pthread_mutex_unlock(&counts.lock);
}

/* The counts of one database at now_ms, as plain numbers a txn's changes can adjust. */
typedef struct plain_counts {
    long long keys, expires;
    expiry_sum sum;
} plain_counts;

/* A staged change, seen at now_ms: the counts it starts from already left out what expired. */
static void adjust(plain_counts *p, const keycount_change *ch, int64_t now_ms) {
    if (ch->kind == KC_RESET) {
        memset(p, 0, sizeof(*p));
        return;
    }
    if (ch->expire_ms != 0 && ch->expire_ms < now_ms) return;
    int sign = ch->kind == KC_ADD ? 1 : -1;
    p->keys += sign;
    if (ch->expire_ms != 0) {
        p->expires += sign;
        p->sum += sign * (expiry_sum)ch->expire_ms;
    }
}

int keycount_get(int db, int64_t now_ms, const keycount_delta *pending, keycount_stats *out) {
    memset(out, 0, sizeof(*out));
    if (!counts.dbs) return -1;
    db_counts *c = db_of(db);
    if (!c) return 0;
    plain_counts p;
    pthread_mutex_lock(&counts.lock);
    db_cut(c, now_ms);
    /* A time before the last cut (a clock that went back, or a txn that began just before
     * another client's read) reads as that cut's time: the set cannot take back what it dropped. */
    if (now_ms < c->horizon) now_ms = c->horizon;
    p.keys = c->persistent + (long long)c->volatile_keys;
    p.expires = (long long)c->volatile_keys;
    p.sum = c->sum;
    pthread_mutex_unlock(&counts.lock);
    for (size_t i = 0; pending && i < pending->nchanges; i++)
        if (pending->changes[i].db == db) adjust(&p, &pending->changes[i], now_ms);
    out->keys = p.keys;
    out->expires = p.expires;
    if (p.expires > 0) out->avg_ttl_ms = (long long)(p.sum / p.expires) - now_ms;
    return 0;
}
