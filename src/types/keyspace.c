#include "types/keyspace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "storage/store.h"
#include "util/random.h"

static void (*expired_hook)(txn *t, int db, const char *key, size_t klen);
static void (*miss_hook)(txn *t, int db, const char *key, size_t klen);

void ks_set_expired_hook(void (*hook)(txn *t, int db, const char *key, size_t klen)) { expired_hook = hook; }
void ks_set_miss_hook(void (*hook)(txn *t, int db, const char *key, size_t klen)) { miss_hook = hook; }

/* Deletes the expiry index entry (storage/expire_index.h) of a key's expiry. */
static void delete_index_entry(txn *t, const buf *mk, int64_t expire_ms) {
    buf entry;
    buf_init(&entry);
    enc_expire_key(&entry, expire_ms, mk->data, mk->len);
    txn_delete(t, CF_EXPIRE, entry.data, entry.len);
    buf_free(&entry);
}

static int is_expired(const meta *m, int64_t now_ms) { return m->expire_ms != 0 && m->expire_ms < now_ms; }

/* Deletes a key found expired, and says so in the change stream. It is not touched: the key
 * was already gone, so WATCH sees no change (as in Redis 7, whose EXEC checks expiries itself);
 * clients blocked on it are woken all the same (a stream's group reader ends, as in Redis). Its
 * expiry index entry stays, stale (the commit is the one write a lookup's DEL always was): the
 * active expiry or a compaction drops it. */
static void remove_expired(txn *t, int db, const buf *mk, const char *key, size_t klen, const meta *m) {
    txn_delete(t, CF_METADATA, mk->data, mk->len);
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, klen};
    txn_record(t, db, (uint8_t)m->type, 2, argv, lens);
    txn_wake(t, db, key, klen);
    atomic_fetch_add(&stats.expired_keys, 1);
    if (expired_hook) expired_hook(t, db, key, klen);
}

/* Looks a key up reading at most max bytes of its metadata record; with reclaim, a key found
 * expired is deleted. */
static int lookup(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw, size_t max, int reclaim) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, klen);
    int found = max == SIZE_MAX ? txn_get(t, CF_METADATA, mk.data, mk.len, raw)
                                : txn_get_prefix(t, CF_METADATA, mk.data, mk.len, max, raw);
    int rc = found < 0 ? KS_ERROR : KS_MISSING;
    if (found == 1) {
        if (enc_decode_meta(raw->data, raw->len, m) < 0) {
            rc = KS_CORRUPT;
        } else if (reclaim && !t->keep_expired && is_expired(m, t->now_ms) && !txn_local_writes_refused()) {
            remove_expired(t, db, &mk, key, klen, m);
        } else if (!enc_meta_is_dead(m, t->now_ms)) {
            rc = KS_FOUND;
        }
    }
    /* A plain field test: a miss costs nothing more while no one asks for them. */
    if (t->report_misses && rc == KS_MISSING && reclaim && miss_hook) miss_hook(t, db, key, klen);
    buf_free(&mk);
    return rc;
}

void ks_keep_expired(txn *t, int on) { t->keep_expired = on; }

int ks_lookup(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw) {
    return lookup(t, db, key, klen, m, raw, SIZE_MAX, 1);
}

/* Longer than any compound type's metadata (a list's is 41 bytes, a stream's 121), so only a
 * string's value is cut. */
#define META_HEADER_MAX 128

/* A lookup that reads no value (see ks_lookup_meta). */
static int lookup_meta(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw, int reclaim) {
    int rc = lookup(t, db, key, klen, m, raw, META_HEADER_MAX, reclaim);
    m->value = NULL;
    m->value_len = 0;
    return rc;
}

int ks_lookup_meta(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw) {
    return lookup_meta(t, db, key, klen, m, raw, 1);
}

int ks_peek_meta(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw) {
    return lookup_meta(t, db, key, klen, m, raw, 0);
}

int ks_expired_before(txn *t, int db, const char *key, size_t klen, int64_t cutoff_ms, meta *m) {
    buf mk, raw;
    buf_init(&mk);
    buf_init(&raw);
    enc_meta_key(&mk, db, key, klen);
    int found = txn_get_prefix(t, CF_METADATA, mk.data, mk.len, META_HEADER_MAX, &raw);
    int expired = found == 1 && enc_decode_meta(raw.data, raw.len, m) == 0 && is_expired(m, cutoff_ms);
    m->value = NULL; /* raw goes */
    buf_free(&mk);
    buf_free(&raw);
    return found < 0 ? -1 : expired;
}

void ks_remove_expired(txn *t, int db, const char *key, size_t klen, const meta *m) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, klen);
    remove_expired(t, db, &mk, key, klen, m);
    delete_index_entry(t, &mk, m->expire_ms); /* its entry, which the walk has passed */
    buf_free(&mk);
}

void ks_delete(txn *t, int db, const char *key, size_t klen) {
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, klen);
    txn_delete(t, CF_METADATA, mk.data, mk.len);
    txn_touch(t, db, key, klen);
    buf_free(&mk);
}

void ks_set_expire(txn *t, int db, const char *key, size_t klen, buf *raw, int64_t expire_ms) {
    /* Both encodings keep the expiry at bytes 1..8 (64-bit form); rewrite legacy records whole. */
    meta m;
    if (enc_decode_meta(raw->data, raw->len, &m) < 0) return;
    int64_t old_ms = m.expire_ms;
    buf value;
    buf_init(&value);
    if (m.type == TYPE_STRING) {
        enc_string_meta(&value, expire_ms, m.value, m.value_len);
    } else {
        m.expire_ms = expire_ms;
        enc_compound_meta(&value, &m);
    }
    buf mk;
    buf_init(&mk);
    enc_meta_key(&mk, db, key, klen);
    /* The replaced expiry's index entry goes: the usual TTL refresh (EXPIRE on every request)
     * would otherwise leave a stale entry per call. */
    if (old_ms != 0 && old_ms != expire_ms) delete_index_entry(t, &mk, old_ms);
    txn_put(t, CF_METADATA, mk.data, mk.len, value.data, value.len);
    txn_touch(t, db, key, klen);
    buf_free(&mk);
    buf_free(&value);
}

/* Where a copy of subkeys goes: a new owner and version; NULL to count them only. */
typedef struct subkey_dest {
    int db;
    const char *key;
    size_t klen;
    uint64_t version;
} subkey_dest;

/* Counts the subkeys of (db, key, version) in one column family as t sees them (its own
 * writes too: a pipeline may have written them in the same batch) into *count, copying each
 * to dest unless it is NULL. Returns 0, or -1 on a read error. */
static int copy_subkeys(txn *t, int cf, int db, const char *key, size_t klen, uint64_t version,
                        const subkey_dest *dest, uint64_t *count) {
    buf prefix, end, nk;
    buf_init(&prefix);
    buf_init(&end);
    buf_init(&nk);
    enc_subkey(&prefix, db, key, klen, version, NULL, 0);
    enc_prefix_end(&end, prefix.data, prefix.len);
    uint64_t n = 0;
    store_iter *it = txn_iter_new(t, cf, prefix.data, prefix.len, end.data, end.len);
    for (; store_iter_valid(it); store_iter_next(it), n++) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        if (kl < prefix.len || memcmp(k, prefix.data, prefix.len) != 0) break; /* the txn's writes are unbounded */
        if (!dest) continue;
        const char *v = store_iter_value(it, &vl);
        buf_clear(&nk);
        enc_subkey(&nk, dest->db, dest->key, dest->klen, dest->version, k + prefix.len, kl - prefix.len);
        txn_put(t, cf, nk.data, nk.len, v, vl);
    }
    int failed = !store_iter_valid(it) && store_iter_failed(it);
    store_iter_free(it);
    buf_free(&prefix);
    buf_free(&end);
    buf_free(&nk);
    *count = n;
    return failed ? -1 : 0;
}

/* Whether a collection's size counts its subkeys in the default column family (streams and
 * bitmaps count otherwise). */
static int size_counts_subkeys(enum key_type type) {
    return type == TYPE_HASH || type == TYPE_SET || type == TYPE_ZSET || type == TYPE_LIST;
}

int ks_copy(txn *t, int db, const char *key, size_t klen, const meta *m, const buf *raw, int dst_db,
            const char *dst, size_t dlen) {
    /* Checked before anything is written: a copy of a corrupt key would spread it. */
    uint64_t n;
    if (size_counts_subkeys(m->type)) {
        if (copy_subkeys(t, CF_DEFAULT, db, key, klen, m->version, NULL, &n) < 0) return KS_ERROR;
        if (n != m->size) return KS_CORRUPT;
    }
    buf mk, value;
    buf_init(&mk);
    buf_init(&value);
    enc_meta_key(&mk, dst_db, dst, dlen);
    if (m->type == TYPE_STRING) {
        txn_put(t, CF_METADATA, mk.data, mk.len, raw->data, raw->len);
    } else {
        meta copy = *m;
        copy.version = enc_new_version();
        enc_compound_meta(&value, &copy);
        subkey_dest dest = {dst_db, dst, dlen, copy.version};
        static const int subkey_cfs[] = ENC_SUBKEY_CFS;
        for (size_t i = 0; i < sizeof(subkey_cfs) / sizeof(subkey_cfs[0]); i++) {
            if (copy_subkeys(t, subkey_cfs[i], db, key, klen, m->version, &dest, &n) < 0) {
                buf_free(&mk);
                buf_free(&value);
                return KS_ERROR;
            }
        }
        txn_put(t, CF_METADATA, mk.data, mk.len, value.data, value.len);
    }
    txn_touch(t, dst_db, dst, dlen);
    /* A stream put under a name (RENAME, COPY) signals its readers there, as Redis 7.0
     * signals every key it adds. */
    if (m->type == TYPE_STREAM) txn_signal_stream(t, dst_db, dst, dlen);
    buf_free(&mk);
    buf_free(&value);
    return 0;
}

struct ks_cursor {
    store_iter *it;
    buf ns;
    int64_t now_ms;
    int started;
    int failed; /* the walk stopped on a read error */
};

ks_cursor *ks_cursor_new(txn *t, int db, const char *start, size_t slen) {
    ks_cursor *cur = calloc(1, sizeof(*cur));
    if (!cur) abort();
    buf from, end;
    buf_init(&from);
    buf_init(&end);
    buf_init(&cur->ns);
    enc_namespace(&cur->ns, db);
    enc_prefix_end(&end, cur->ns.data, cur->ns.len);
    buf_append(&from, cur->ns.data, cur->ns.len);
    buf_append(&from, start, slen);
    cur->it = txn_iter_new(t, CF_METADATA, from.data, from.len, end.data, end.len);
    cur->now_ms = t->now_ms;
    buf_free(&from);
    buf_free(&end);
    return cur;
}

int ks_cursor_next(ks_cursor *cur, const char **key, size_t *klen, meta *m) {
    if (cur->started) store_iter_next(cur->it);
    cur->started = 1;
    for (; store_iter_valid(cur->it); store_iter_next(cur->it)) {
        size_t kl, vl;
        const char *k = store_iter_key(cur->it, &kl);
        /* The txn's own writes are not bounded by the iterator: stop at the namespace's end. */
        if (kl < cur->ns.len || memcmp(k, cur->ns.data, cur->ns.len) != 0) return 0;
        const char *v = store_iter_value(cur->it, &vl);
        if (enc_decode_meta(v, vl, m) < 0) memset(m, 0, sizeof(*m));
        else if (enc_meta_is_dead(m, cur->now_ms)) continue;
        *key = k + cur->ns.len;
        *klen = kl - cur->ns.len;
        return 1;
    }
    cur->failed = store_iter_failed(cur->it);
    return 0;
}

int ks_cursor_free(ks_cursor *cur) {
    int rc = cur->failed ? -1 : 0;
    store_iter_free(cur->it);
    buf_free(&cur->ns);
    free(cur);
    return rc;
}

/* How far down the tree of the keys' bytes a random pick goes at most, and how many random
 * bytes it tries at each branching before it takes the next branch there is. */
#define RANDOM_DEPTH_MAX 64
#define RANDOM_TRIES 16

static size_t common_length(const buf *a, const buf *b) {
    size_t n = 0;
    while (n < a->len && n < b->len && a->data[n] == b->data[n]) n++;
    return n;
}

/* One step down from the keys under prefix (first and last of them differ, and share common
 * bytes): a random byte between theirs that some key has there, or, standing for first
 * itself when it ends there, none. Returns 1 with the longer prefix in prefix, 0 when first
 * was picked, -1 on a read error. */
static int random_branch(txn *t, buf *prefix, const buf *first, const buf *last, size_t common) {
    int lo = first->len == common ? -1 : (uint8_t)first->data[common], hi = (uint8_t)last->data[common];
    buf probe, found;
    buf_init(&probe);
    buf_init(&found);
    int rc = 0;
    for (int try = 0; try < RANDOM_TRIES; try++) {
        int byte = lo + (int)random_below((uint64_t)(hi - lo + 1));
        if (byte < 0) goto done;
        buf_clear(&probe);
        buf_append(&probe, first->data, common);
        buf_append_byte(&probe, (uint8_t)byte);
        rc = txn_first_under(t, CF_METADATA, probe.data, probe.len, probe.data, probe.len, &found);
        if (rc != 0) goto done;
    }
    /* Bytes that no key has there keep coming: take the branch after the last one tried. */
    rc = txn_first_under(t, CF_METADATA, first->data, common, probe.data, probe.len, &found);
    if (rc == 1) {
        buf_clear(&probe);
        buf_append(&probe, found.data, common + 1);
    }
done:
    if (rc == 1) {
        buf_clear(prefix);
        buf_append(prefix, probe.data, probe.len);
    }
    buf_free(&probe);
    buf_free(&found);
    return rc;
}

/* The first live key from a key on (into key): 1, 0 if there is none, -1 on a read error. */
static int first_live_key(txn *t, int db, const char *from, size_t flen, buf *key) {
    ks_cursor *cur = ks_cursor_new(t, db, from, flen);
    const char *k;
    size_t kl;
    meta m;
    int found = ks_cursor_next(cur, &k, &kl, &m);
    if (found) {
        buf_clear(key);
        buf_append(key, k, kl);
    }
    return ks_cursor_free(cur) < 0 ? -1 : found;
}

/* RANDOMKEY walks down the tree of the keys' bytes (dead ones included) from the namespace:
 * under the current prefix it skips the bytes all its keys share, then takes one of the bytes
 * that follow there, each with the same chance (a key ending there is one of the choices),
 * until one key is left. A key's chance is the product of 1/branches over the branchings on
 * its way: every key alike for keys of one shape (random ids, counters with or without
 * leading zeros), more for a key alone beside a big family of keys. A dead key stands for the
 * next live one (wrapping around). Costs a few seeks per branching. */
int ks_random_key(txn *t, int db, buf *key) {
    buf prefix, first, last;
    buf_init(&prefix);
    buf_init(&first);
    buf_init(&last);
    enc_namespace(&prefix, db);
    size_t ns_len = prefix.len;
    int rc = 1;
    for (int depth = 0; depth < RANDOM_DEPTH_MAX && rc == 1; depth++) {
        rc = txn_first_under(t, CF_METADATA, prefix.data, prefix.len, prefix.data, prefix.len, &first);
        if (rc == 1) rc = txn_last_under(t, CF_METADATA, prefix.data, prefix.len, &last);
        if (rc == 1 && first.len == last.len && memcmp(first.data, last.data, first.len) == 0) break;
        if (rc == 1) rc = random_branch(t, &prefix, &first, &last, common_length(&first, &last));
    }
    /* first is the record picked; past the last live key, the first one stands for it */
    if (rc >= 0 && first.len > 0) {
        rc = first_live_key(t, db, first.data + ns_len, first.len - ns_len, key);
        if (rc == 0) rc = first_live_key(t, db, "", 0, key);
    }
    buf_free(&prefix);
    buf_free(&first);
    buf_free(&last);
    return rc;
}

/* Deletes every key of a database: a range deletion per column family, O(1) in the batch. */
void ks_flush_db(txn *t, int db) {
    static const int cfs[] = {CF_METADATA, CF_DEFAULT, CF_ZSET_SCORE, CF_STREAM, CF_STREAM_GROUP};
    buf begin, end;
    buf_init(&begin);
    buf_init(&end);
    enc_namespace(&begin, db);
    enc_prefix_end(&end, begin.data, begin.len);
    for (size_t i = 0; i < sizeof(cfs) / sizeof(cfs[0]); i++)
        txn_delete_range(t, cfs[i], begin.data, begin.len, end.data, end.len);
    txn_touch_db(t, db);
    buf_free(&begin);
    buf_free(&end);
}
