/* Per-database key counts, kept by the commit path.
 *
 * What DBSIZE counts. The keys a walk of the database lists (KEYS *, SCAN, the scan DBSIZE
 * used to be): metadata records that are neither expired (expiry != 0 and < now) nor empty
 * collections (size 0); a record that cannot be decoded counts as a key without expiry, as
 * the walk lists it so that it can be deleted. Redis counts an expired key until it is
 * reclaimed, which its active expiry does within a fraction of a second. tidekv's active
 * expiry (types/expiry.h) is a commit like any other, but it may lag behind a burst of expiries,
 * and a compaction filter's drop is not a commit that a counter could follow. So here a key
 * stops counting at its expiry time, exactly when the walk stops listing it.
 *
 * The counts. Per database: `persistent`, the counted keys without an expiry, and the expiry
 * times of those with one, as an ordered multiset (a treap of distinct times, each with how
 * many keys expire then) with its size and sum. A read at time now leaves out the keys
 * expiring before now (a walk of those times, which stay in the set for CUT_LAG_MS, so that
 * reads at slightly different clocks each count exactly): keys = persistent + volatile
 * alive, expires = volatile alive, avg_ttl = their sum / their number - now (exact, where
 * Redis estimates it from samples). Times that passed more than CUT_LAG_MS ago are cut out of
 * the set for good, since a record changes only by a commit, which is counted anew. `horizon`
 * is the latest time the set was cut at: a time before it is in no count, so a change that
 * adds or removes one does nothing. That is also why the compaction filter needs no
 * accounting: a record it drops is expired, so no read counts it; its time, if still in the
 * set, goes at a cut.
 *
 * Commits. Just before a commit is written, its metadata writes are replayed in order
 * (staging): each removes the share of the key's previous record (see key_share) and adds
 * that of its new one. The previous record is the one an earlier write of the same commit
 * left, else the one a command of the txn read before writing the key (noted by txn_get;
 * most writing commands look their key up first). Only blind writes such as a plain SET
 * need more, and are the hot path, so they are served cheapest first: the share a recent
 * commit of the key left (a table of the last two keys of each of 128k buckets: the writes of keys
 * still in the memtable, whose reads cost most), then that of a big record (the table of
 * every key whose record is 16 kB or more: a get copies a value whole, from the memtable or a
 * blob file), else one batched read (MultiGet) of all the commit's remaining keys. The txn
 * holds the locks of every key it writes (FLUSHDB and APPLYBATCH hold all), so nothing
 * changes those records in between. A range deletion of metadata empties a whole database
 * (FLUSHDB, FLUSHALL, APPLYBATCH refuses any other), which resets that database's counts and
 * makes what the two tables knew of its keys stale. The staged changes are applied after the
 * write succeeded, before the key locks are released, so the next commit of a key finds the
 * counts and tables agreeing with the record it reads. Every write of metadata goes through
 * txn_commit (commands, MULTI, APPLYBATCH, lazy expiry), so the counts see them all. A record
 * the compaction filter drops (expired) may still be known to a table: a later write then
 * removes its expiry time from the set, as the next cut would have.
 *
 * Types. A share also keeps the key's type, so staging, which meets every record a write
 * replaces, lists the writes that replaced a key of another type (a plain SET over a hash):
 * the commit tells the change stream about them (txn.c) without a read of its own.
 *
 * Restart. Nothing is persisted: the counts are rebuilt by one walk of the metadata column
 * family when the server opens the database, before it serves clients (about 0.5 s per
 * million keys). So a kill -9 cannot leave a count that disagrees with the data, and no write
 * pays for a counter record, which would also show in the CDC stream (RAW batches, APPLYBATCH).
 *
 * Threads: one mutex guards every database's counts; it is taken by the apply of a commit
 * and by a read, never with another lock taken after it.
 *
 * Memory: one treap node per distinct expiry time (ms) among the counted keys (those past go
 * at the next read, or at a commit adding an expiry once CUT_LAG_MS past), 16 MB of recent
 * shares, and an entry per big record.
 */
#include "storage/keycount.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/encoding.h"
#include "storage/store.h"
#include "util/grow.h"
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
    uint32_t generation; /* bumped by each reset: the recent shares stored before are stale */
} db_counts;

/* Keys recent shares hold (the longest metadata key, namespace included), and their buckets of
 * two slots each (16 MB): room for the keys of a memtable of small values, whose reads cost
 * most, so that a blind write of a key written lately seldom reads. */
#define RECENT_KEY_MAX 50
#define RECENT_BUCKETS (1 << 17)

/* A record this big or bigger is a big one: its key's share is kept in the big-record table,
 * so that no write of the key reads it back (a get copies a value whole, from the memtable or a
 * blob file: 500 MB for a 500 MB string). */
#define BIG_RECORD_BYTES (16 * 1024)

typedef struct big_record {
    struct big_record *next;
    uint64_t hash;
    int db;
    key_share share;
    size_t key_len;
    char key[]; /* the metadata key */
} big_record;

typedef struct recent_share {
    int64_t expire_ms;
    uint32_t generation;
    uint8_t counted : 1, type : 7; /* one byte: a slot stays 64 bytes, a cache line */
    uint8_t key_len;               /* 0: an empty slot (a metadata key has a namespace) */
    char key[RECENT_KEY_MAX];
} recent_share;

static struct {
    pthread_mutex_t lock;
    db_counts *dbs;
    int databases;
    recent_share (*recent)[2]; /* RECENT_BUCKETS of them, the one used last first */
    big_record **big;     /* every key whose record is big, chained by hash */
    uint64_t seed;        /* of the keys' hash (keycount_key_hash) */
    size_t big_slots, big_count;
    size_t big_swept; /* the next slot big_sweep looks at */
} counts = {.lock = PTHREAD_MUTEX_INITIALIZER};

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

/* Adds up the keys (and their times) expiring before t: the nodes visited are those before t
 * and the path to them. */
static void expiry_below(const expiry_node *n, int64_t t, uint64_t *keys, expiry_sum *sum) {
    while (n) {
        if (n->at >= t) {
            n = n->left;
            continue;
        }
        expiry_below(n->left, t, keys, sum);
        *keys += n->keys;
        *sum += (expiry_sum)n->at * n->keys;
        n = n->right;
    }
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
    uint32_t generation = c->generation;
    memset(c, 0, sizeof(*c));
    c->horizon = horizon;
    c->generation = generation + 1;
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

/* Times are taken out of the set (db_cut) CUT_LAG_MS after they pass, once a second at most,
 * by reads and by commits adding an expiry (with no read, the set would keep every time it
 * ever counted). Until then a read at any clock leaves out the keys expired at its own time
 * (expiry_below): a transaction whose clock is a little older than another client's read
 * still counts exactly the keys it lists. No command's clock is CUT_LAG_MS old. */
#define CUT_LAG_MS 10000
#define CUT_EVERY_MS 1000

static void db_cut_lagging(db_counts *c, int64_t now_ms) {
    if (c->horizon < now_ms - CUT_LAG_MS - CUT_EVERY_MS) db_cut(c, now_ms - CUT_LAG_MS);
}

static void db_add_cutting(db_counts *c, int64_t expire_ms, int64_t now_ms) {
    if (expire_ms != 0) db_cut_lagging(c, now_ms);
    db_add(c, expire_ms);
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
    key_share s = {1, 0, 0};
    meta m;
    if (enc_decode_meta(val, vlen, &m) < 0) return s; /* listed (so it can be deleted) as a key */
    if (enc_meta_is_empty_collection(&m)) s.counted = 0; /* no key */
    s.type = m.type == TYPE_BITMAP ? TYPE_STRING : (uint8_t)m.type;
    s.expire_ms = m.expire_ms;
    return s;
}

/* ---- the big-record table (the lock held) ---- */

static big_record **big_find(uint64_t hash, const char *key, size_t klen) {
    big_record **p = &counts.big[hash & (counts.big_slots - 1)];
    while (*p && !((*p)->hash == hash && (*p)->key_len == klen && memcmp((*p)->key, key, klen) == 0)) p = &(*p)->next;
    return p;
}

static void big_grow(void) {
    size_t slots = counts.big_slots ? counts.big_slots * 2 : 64;
    big_record **table = calloc(slots, sizeof(*table));
    if (!table) abort();
    for (size_t i = 0; i < counts.big_slots; i++) {
        while (counts.big[i]) {
            big_record *r = counts.big[i];
            counts.big[i] = r->next;
            r->next = table[r->hash & (slots - 1)];
            table[r->hash & (slots - 1)] = r;
        }
    }
    free(counts.big);
    counts.big = table;
    counts.big_slots = slots;
}

static int big_get(uint64_t hash, const char *key, size_t klen, key_share *out) {
    if (counts.big_count == 0) return 0;
    big_record *r = *big_find(hash, key, klen);
    if (r) *out = r->share;
    return r != NULL;
}

static void big_put(uint64_t hash, int db, const char *key, size_t klen, key_share share) {
    if (counts.big_count >= counts.big_slots) big_grow();
    big_record **p = big_find(hash, key, klen);
    if (!*p) {
        *p = calloc(1, sizeof(big_record) + klen);
        if (!*p) abort();
        **p = (big_record){NULL, hash, db, share, klen};
        memcpy((*p)->key, key, klen);
        counts.big_count++;
    }
    (*p)->share = share;
}

static void big_unlink(big_record **p) {
    big_record *r = *p;
    *p = r->next;
    free(r);
    counts.big_count--;
}

static void big_remove(uint64_t hash, const char *key, size_t klen) {
    if (counts.big_count == 0) return;
    big_record **p = big_find(hash, key, klen);
    if (*p) big_unlink(p);
}

/* Drops a database's big records (it was emptied), or all of them (db < 0). */
static void big_drop_db(int db) {
    for (size_t i = 0; i < counts.big_slots && counts.big_count > 0; i++) {
        big_record **p = &counts.big[i];
        while (*p) {
            if (db < 0 || (*p)->db == db) big_unlink(p);
            else p = &(*p)->next;
        }
    }
}

/* Forgets the big records of a few slots that have expired, going round the table a few
 * slots per commit: the compaction filter drops such records without a commit, and a table
 * that kept them would grow for ever under a cache of big values with TTLs. A key forgotten
 * by mistake would only be read back by its next blind write. */
#define BIG_SWEEP_SLOTS 4
static void big_sweep(int64_t now_ms) {
    for (int n = 0; n < BIG_SWEEP_SLOTS && counts.big_count > 0; n++) {
        big_record **p = &counts.big[counts.big_swept++ & (counts.big_slots - 1)];
        while (*p) {
            if ((*p)->share.expire_ms != 0 && (*p)->share.expire_ms <= now_ms) big_unlink(p);
            else p = &(*p)->next;
        }
    }
}

size_t keycount_big_records(void) {
    pthread_mutex_lock(&counts.lock);
    size_t n = counts.big_count;
    pthread_mutex_unlock(&counts.lock);
    return n;
}

/* ---- loading ---- */

/* Seeded, because the keys come from clients: a fixed hash would let one craft keys that all
 * fall in one slot of a txn's key table or one chain of the big-record table. */
uint64_t keycount_key_hash(const char *key, size_t len) { return hash_words(counts.seed, key, len); }

struct keycount_tally {
    db_counts *dbs;
    int databases;
    big_record *bigs; /* the big records met, chained; hashed once installed (the seed is drawn then) */
};

keycount_tally *keycount_tally_new(int databases) {
    keycount_tally *t = calloc(1, sizeof(*t));
    if (!t) abort();
    t->dbs = calloc((size_t)databases, sizeof(db_counts));
    if (!t->dbs) abort();
    t->databases = databases;
    int64_t now = time_now_ms();
    for (int db = 0; db < databases; db++) t->dbs[db].horizon = now;
    return t;
}

void keycount_tally_record(void *tally, const char *key, size_t klen, const char *val, size_t vlen) {
    keycount_tally *t = tally;
    size_t ns;
    int db = enc_namespace_db(key, klen, &ns);
    if (db < 0 || db >= t->databases) return;
    key_share s = share_of(val, vlen);
    if (s.counted) db_add(&t->dbs[db], s.expire_ms);
    if (vlen < BIG_RECORD_BYTES) return;
    big_record *r = calloc(1, sizeof(big_record) + klen);
    if (!r) abort();
    *r = (big_record){t->bigs, 0, db, s, klen};
    memcpy(r->key, key, klen);
    t->bigs = r;
}

static void free_bigs(big_record *r) {
    while (r) {
        big_record *next = r->next;
        free(r);
        r = next;
    }
}

void keycount_tally_free(keycount_tally *t) {
    if (!t) return;
    for (int db = 0; db < t->databases; db++) db_reset(&t->dbs[db]);
    free(t->dbs);
    free_bigs(t->bigs);
    free(t);
}

void keycount_install(keycount_tally *t) {
    counts.dbs = t->dbs;
    counts.databases = t->databases;
    counts.seed = (uint64_t)time_now_us() ^ ((uint64_t)getpid() << 32);
    counts.recent = calloc(RECENT_BUCKETS, sizeof(*counts.recent));
    if (!counts.recent) abort();
    for (const big_record *r = t->bigs; r; r = r->next)
        big_put(keycount_key_hash(r->key, r->key_len), r->db, r->key, r->key_len, r->share);
    free_bigs(t->bigs);
    free(t);
}

int keycount_load(int databases) {
    keycount_tally *t = keycount_tally_new(databases);
    store_iter *it = store_iter_new(CF_METADATA, "", 0, NULL, 0);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl), *v = store_iter_value(it, &vl);
        keycount_tally_record(t, k, kl, v, vl);
    }
    int failed = store_iter_failed(it);
    store_iter_free(it);
    if (failed) {
        keycount_tally_free(t);
        return -1;
    }
    keycount_install(t);
    return 0;
}

void keycount_free(void) {
    for (int db = 0; db < counts.databases; db++) db_reset(&counts.dbs[db]);
    free(counts.dbs);
    counts.dbs = NULL;
    free(counts.recent);
    counts.recent = NULL;
    big_drop_db(-1);
    free(counts.big);
    counts.big = NULL;
    counts.big_slots = 0;
    counts.databases = 0;
}

/* ---- the keys a txn read or wrote ---- */

int keycount_loaded(void) { return counts.dbs != NULL; }

void keycount_delta_free(keycount_delta *d) {
    buf_free(&d->reads);
    if (d->staging == 0) return; /* nothing else was ever allocated (a read-only command's txn) */
    buf_free(&d->key_bytes);
    free(d->keys);
    free(d->slots);
    free(d->changes);
    free(d->writes);
    free(d->replaced);
    free(d->fetch);
    free(d->fetch_order);
    free(d->fetch_keys);
    free(d->fetch_lens);
}

void keycount_delta_clear(keycount_delta *d) {
    if (d->staging == 0 && d->reads.len == 0) return; /* nothing noted nor staged */
    if (d->nkeys > 0) memset(d->slots, 0, d->nslots * sizeof(size_t));
    buf_clear(&d->key_bytes);
    buf_clear(&d->reads);
    d->nkeys = d->nchanges = d->nreplaced = 0;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size) { return grow_array(p, cap, need, size, 8); }

static const char *key_of(const keycount_delta *d, const keycount_key *k) { return d->key_bytes.data + k->key_off; }


static void rehash(keycount_delta *d) {
    free(d->slots);
    d->nslots = d->nslots ? d->nslots * 2 : 16;
    d->slots = calloc(d->nslots, sizeof(size_t));
    if (!d->slots) abort();
    for (size_t i = 0; i < d->nkeys; i++) {
        size_t s = (size_t)(d->keys[i].hash & (d->nslots - 1));
        while (d->slots[s]) s = (s + 1) & (d->nslots - 1);
        d->slots[s] = i + 1;
    }
}

/* The delta's entry for a metadata key, added if new. */
static keycount_key *find_key(keycount_delta *d, const char *key, size_t klen) {
    if (2 * (d->nkeys + 1) > d->nslots) rehash(d);
    uint64_t hash = keycount_key_hash(key, klen);
    size_t s = (size_t)(hash & (d->nslots - 1));
    for (; d->slots[s]; s = (s + 1) & (d->nslots - 1)) {
        keycount_key *k = &d->keys[d->slots[s] - 1];
        if (k->hash == hash && k->key_len == klen && memcmp(key_of(d, k), key, klen) == 0) return k;
    }
    d->keys = grow(d->keys, &d->keys_cap, d->nkeys + 1, sizeof(*d->keys));
    keycount_key *k = &d->keys[d->nkeys];
    size_t ns;
    *k = (keycount_key){.key_off = d->key_bytes.len, .key_len = klen, .hash = hash,
                        .db = enc_namespace_db(key, klen, &ns)};
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
    noted_read r = {writes, found ? share_of(val, vlen) : (key_share){0, 0, 0}, klen};
    buf_append(&d->reads, &r, sizeof(r));
    buf_append(&d->reads, key, klen);
}

void keycount_reads_rollback(keycount_delta *d, size_t mark) {
    if (d->reads.len > mark) d->reads.len = mark; /* (a staging since took the reads in already) */
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

void keycount_stage_begin(keycount_delta *d) {
    /* 0 is no staging: a new key's staged and checked are 0. A txn kept for billions of
     * commits (a worker's write group) wraps around to it. */
    if (++d->staging == 0) d->staging = 1;
    d->nchanges = d->nwrites = d->nfetch = d->nreplaced = 0;
    take_reads(d);
}

static void add_write(keycount_delta *d, keycount_write w) {
    d->writes = grow(d->writes, &d->writes_cap, d->nwrites + 1, sizeof(*d->writes));
    d->writes[d->nwrites++] = w;
}

void keycount_stage_write(keycount_delta *d, size_t index, const char *key, size_t klen, const char *val,
                          size_t vlen) {
    keycount_key *k = find_key(d, key, klen);
    if (!db_of(k->db)) return; /* a namespace that is no configured database */
    key_share after = val ? share_of(val, vlen) : (key_share){0, 0, 0};
    add_write(d, (keycount_write){(size_t)(k - d->keys), index, after, val && vlen >= BIG_RECORD_BYTES, -1});
}

int keycount_stage_range(keycount_delta *d, const char *begin, size_t blen) {
    size_t ns;
    int db = enc_namespace_db(begin, blen, &ns);
    if (ns != blen) return -1;
    if (db_of(db)) add_write(d, (keycount_write){0, 0, {0, 0, 0}, 0, db});
    return 0;
}

/* Queues a read of the key's record from before the txn, unless a read of the txn before its
 * first write of the key (`index`) noted it already. */
static void need_base(keycount_delta *d, keycount_key *k, size_t index) {
    if (k->checked == d->staging) return; /* not its first write in this staging */
    k->checked = d->staging;
    if (k->has_base && k->base_from <= index) return;
    d->fetch = grow(d->fetch, &d->fetch_cap, d->nfetch + 1, sizeof(*d->fetch));
    d->fetch[d->nfetch++] = (size_t)(k - d->keys);
}

static void set_base(keycount_key *k, key_share share) {
    /* The record from before the txn: good for any of its writes. */
    k->has_base = 1;
    k->base_from = 0;
    k->base = share;
}

static void fetched(void *arg, size_t i, const char *val, size_t vlen) {
    keycount_delta *d = arg;
    set_base(&d->keys[d->fetch[i]], share_of(val, vlen));
}

static int recent_get(const keycount_delta *d, const keycount_key *k, key_share *out);

static int fetch_order(const void *a, const void *b) {
    const fetch_key *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Lays out the first n keys to fetch in key order (a MultiGet given sorted keys skips sorting
 * them with the comparator, the dearest part of it), each with its record unknown so far. */
static void sort_fetch(keycount_delta *d, size_t n) {
    d->fetch_order = grow(d->fetch_order, &d->fetch_order_cap, n, sizeof(*d->fetch_order));
    d->fetch_keys = grow(d->fetch_keys, &d->fetch_keys_cap, n, sizeof(*d->fetch_keys));
    d->fetch_lens = grow(d->fetch_lens, &d->fetch_lens_cap, n, sizeof(*d->fetch_lens));
    for (size_t i = 0; i < n; i++) {
        keycount_key *k = &d->keys[d->fetch[i]];
        set_base(k, (key_share){0, 0, 0}); /* unless the read finds it */
        d->fetch_order[i] = (fetch_key){key_of(d, k), k->key_len, d->fetch[i]};
    }
    qsort(d->fetch_order, n, sizeof(*d->fetch_order), fetch_order);
    for (size_t i = 0; i < n; i++) {
        d->fetch[i] = d->fetch_order[i].index;
        d->fetch_keys[i] = d->fetch_order[i].key;
        d->fetch_lens[i] = d->fetch_order[i].len;
    }
}

/* Finds the records from before the txn of the keys it writes blind (no read noted): known
 * to the recent shares, or read from the store, all in one batched read. Returns 0, or -1 on
 * a read error. */
static int fetch_bases(keycount_delta *d) {
    size_t unknown = 0;
    pthread_mutex_lock(&counts.lock);
    for (size_t i = 0; i < d->nfetch; i++) {
        keycount_key *k = &d->keys[d->fetch[i]];
        key_share s;
        if (big_get(k->hash, key_of(d, k), k->key_len, &s) || recent_get(d, k, &s)) set_base(k, s);
        else d->fetch[unknown++] = d->fetch[i];
    }
    pthread_mutex_unlock(&counts.lock);
    if (unknown == 0) return 0;
    sort_fetch(d, unknown);
    if (store_multi_get(CF_METADATA, unknown, d->fetch_keys, d->fetch_lens, fetched, d) == 0) return 0;
    for (size_t i = 0; i < unknown; i++) d->keys[d->fetch[i]].has_base = 0; /* not known after all */
    return -1;
}

/* What a key held just before its write (its base is known by now). A range deletion staged
 * before it set its now: every key of the commit is among the delta's keys by then. */
static key_share share_before(const keycount_delta *d, const keycount_key *k) {
    return k->staged == d->staging ? k->now : k->base;
}

static void replay_range(keycount_delta *d, int db) {
    add_change(d, KC_RESET, db, 0);
    /* Keys of the database written earlier in the commit are gone too. */
    for (size_t i = 0; i < d->nkeys; i++) {
        keycount_key *k = &d->keys[i];
        if (k->db != db) continue;
        k->now = (key_share){0, 0, 0};
        k->now_big = 0;
        k->staged = d->staging;
    }
}

static void replay_write(keycount_delta *d, const keycount_write *w) {
    keycount_key *k = &d->keys[w->key];
    key_share before = share_before(d, k);
    if (before.counted) add_change(d, KC_REMOVE, k->db, before.expire_ms);
    if (w->after.counted) add_change(d, KC_ADD, k->db, w->after.expire_ms);
    /* A key of another type gone under this write: the change stream must say so (txn.c). */
    if (before.counted && w->after.counted && before.type != w->after.type) {
        d->replaced = grow(d->replaced, &d->replaced_cap, d->nreplaced + 1, sizeof(*d->replaced));
        d->replaced[d->nreplaced++] = (keycount_replaced){w->index, before.type};
    }
    k->now = w->after;
    k->now_big = w->big;
    k->staged = d->staging;
}

int keycount_stage_end(keycount_delta *d) {
    for (size_t i = 0; i < d->nwrites; i++)
        if (d->writes[i].range_db < 0) need_base(d, &d->keys[d->writes[i].key], d->writes[i].index);
    if (d->nfetch > 0 && fetch_bases(d) < 0) return -1;
    for (size_t i = 0; i < d->nwrites; i++) {
        const keycount_write *w = &d->writes[i];
        if (w->range_db >= 0) replay_range(d, w->range_db);
        else replay_write(d, w);
    }
    return 0;
}

/* ---- the shares of keys written lately (the lock held) ----
 * A blind write of a key that a commit wrote lately finds its record's share here instead of
 * reading it: the most expensive reads are of such keys, which are still in the memtable. A
 * slot holds the share the last commit of its key left (each commit of a key runs under the
 * key's lock, so no other can change it in between); a reset of the database (its generation)
 * makes the slots of its keys stale. A bucket keeps the two keys hashing to it that were
 * written last, so a lookup compares whole keys. */

static recent_share *recent_bucket(const keycount_key *k) {
    return counts.recent[k->hash & (RECENT_BUCKETS - 1)];
}

static int recent_holds(const recent_share *r, const keycount_delta *d, const keycount_key *k) {
    return r->key_len == k->key_len && memcmp(r->key, key_of(d, k), k->key_len) == 0;
}

static int recent_get(const keycount_delta *d, const keycount_key *k, key_share *out) {
    if (k->key_len > RECENT_KEY_MAX) return 0;
    const recent_share *b = recent_bucket(k);
    const recent_share *r = recent_holds(&b[0], d, k) ? &b[0] : recent_holds(&b[1], d, k) ? &b[1] : NULL;
    if (!r || r->generation != counts.dbs[k->db].generation) return 0;
    *out = (key_share){r->counted, r->type, r->expire_ms};
    return 1;
}

/* The key's share goes first in its bucket; the other slot keeps the key used before it
 * (unless that was this key too), so two keys hashing alike both stay known. */
static void recent_put(const keycount_delta *d, const keycount_key *k) {
    if (k->key_len > RECENT_KEY_MAX) return;
    recent_share *b = recent_bucket(k);
    if (!recent_holds(&b[0], d, k)) b[1] = b[0];
    b[0].key_len = (uint8_t)k->key_len;
    memcpy(b[0].key, key_of(d, k), k->key_len);
    b[0].generation = counts.dbs[k->db].generation;
    b[0].counted = k->now.counted;
    b[0].type = k->now.type;
    b[0].expire_ms = k->now.expire_ms;
}

/* Keeps what a committed write left as a key's share: in the big-record table for a big record
 * (and out of it otherwise), among the recent shares. */
static void remember_share(const keycount_delta *d, const keycount_key *k) {
    if (k->now_big) big_put(k->hash, k->db, key_of(d, k), k->key_len, k->now);
    else big_remove(k->hash, key_of(d, k), k->key_len);
    recent_put(d, k);
}

/* ---- applying and reading ---- */

void keycount_apply(const keycount_delta *d, int64_t now_ms) {
    pthread_mutex_lock(&counts.lock);
    for (size_t i = 0; i < d->nchanges; i++) {
        const keycount_change *ch = &d->changes[i];
        db_counts *c = db_of(ch->db);
        if (ch->kind == KC_RESET) {
            db_reset(c);
            big_drop_db(ch->db);
        } else if (ch->kind == KC_ADD) {
            db_add_cutting(c, ch->expire_ms, now_ms);
        } else {
            db_remove(c, ch->expire_ms);
        }
    }
    for (size_t i = 0; i < d->nkeys; i++)
        if (d->keys[i].staged == d->staging) remember_share(d, &d->keys[i]);
    big_sweep(now_ms);
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
    db_cut_lagging(c, now_ms);
    /* A time before the last cut (a clock that went back that far) reads as that cut's time:
     * the set cannot take back what it dropped. */
    if (now_ms < c->horizon) now_ms = c->horizon;
    uint64_t expired = 0;
    expiry_sum expired_sum = 0;
    expiry_below(c->expiries, now_ms, &expired, &expired_sum);
    p.keys = c->persistent + (long long)(c->volatile_keys - expired);
    p.expires = (long long)(c->volatile_keys - expired);
    p.sum = c->sum - expired_sum;
    pthread_mutex_unlock(&counts.lock);
    for (size_t i = 0; pending && i < pending->nchanges; i++)
        if (pending->changes[i].db == db) adjust(&p, &pending->changes[i], now_ms);
    out->keys = p.keys;
    out->expires = p.expires;
    if (p.expires > 0) out->avg_ttl_ms = (long long)(p.sum / p.expires) - now_ms;
    return 0;
}
