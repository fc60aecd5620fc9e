/* Operations on keys of any type: lookup with lazy expiry, delete, expire, iterate. */
#ifndef TIDEKV_KEYSPACE_H
#define TIDEKV_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "util/buf.h"

enum { KS_ERROR = -1, KS_MISSING = 0, KS_FOUND = 1, KS_CORRUPT = 2 };

/* Looks a key up. A key found expired is deleted in t and recorded as DEL (lazy expiry).
 * On KS_FOUND, m describes the key; m->value (strings) points into raw. KS_CORRUPT: the
 * metadata record is there but cannot be decoded (m->type is its type byte's, if any). */
STORE_MUST_CHECK int ks_lookup(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw);
/* The same without reading a string's value (m->value is NULL): for commands that need only
 * the type and expiry (DEL, EXISTS, TYPE, TTL …), so a 500 MB string costs them no copy. */
STORE_MUST_CHECK int ks_lookup_meta(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw);
/* Called with each key a lookup finds expired and deletes (keyspace notifications). */
void ks_set_expired_hook(void (*hook)(txn *t, int db, const char *key, size_t klen));
/* Called with each key a lookup (ks_lookup, ks_lookup_meta) finds missing, or expired, while
 * the txn reports misses (keyspace notifications' keymiss). */
void ks_set_miss_hook(void (*hook)(txn *t, int db, const char *key, size_t klen));
/* Whether t's lookups report the keys they miss: on for a command's reads, as Redis's read
 * lookups notify a miss and its write lookups (of keys a command creates or changes) do not. */
static inline void ks_report_misses(txn *t, int on) { t->report_misses = on; }
/* ks_lookup_meta without writing: an expired key reads as missing but stays (WATCH). */
STORE_MUST_CHECK int ks_peek_meta(txn *t, int db, const char *key, size_t klen, meta *m, buf *raw);
/* Active expiry, in two steps (so that the removals of a batch of keys are sealed together,
 * after all the reads): whether a key has an expiry before cutoff_ms: 1 (m describes it), 0
 * if not (or it is not there), -1 on a read error. */
STORE_MUST_CHECK int ks_expired_before(txn *t, int db, const char *key, size_t klen, int64_t cutoff_ms, meta *m);
/* Removes a key that ks_expired_before found expired, as a lookup would (recorded as DEL), and
 * the expiry's index entry. */
void ks_remove_expired(txn *t, int db, const char *key, size_t klen, const meta *m);
/* While on, lookups leave a key found expired in place (it reads as missing), and the key
 * counts take no read as the record a later write of the txn replaces: for keys a command
 * reads without holding their locks (SORT's BY and GET patterns), which another client may
 * write meanwhile. */
void ks_keep_expired(txn *t, int on);
/* FLUSHDB: deletes every key of a database (a range deletion per column family, O(1)). */
void ks_flush_db(txn *t, int db);
/* Deletes a key (its metadata record: O(1) for every type). */
void ks_delete(txn *t, int db, const char *key, size_t klen);
/* Rewrites a key's metadata with a new expiry (0 = none); raw is the record read by ks_lookup. */
void ks_set_expire(txn *t, int db, const char *key, size_t klen, buf *raw, int64_t expire_ms);
/* Copies a key of any type to (dst_db, dst) with the given expiry: strings by value,
 * compound types by copying their subkeys under a new version. Returns 0, KS_CORRUPT (nothing
 * written) if the key holds another number of members than its size says, or KS_ERROR on a
 * read error (the txn then holds part of the copy: the command must fail). */
STORE_MUST_CHECK int ks_copy(txn *t, int db, const char *key, size_t klen, const meta *m, const buf *raw, int dst_db,
            const char *dst, size_t dlen);

/* RANDOMKEY: a live key picked at random (copied to key): 1, 0 if the database has none, -1 on
 * a read error. See keyspace.c for the distribution. */
STORE_MUST_CHECK int ks_random_key(txn *t, int db, buf *key);

/* Walks the live keys of a database in key order, from a key on, seeing the txn's writes. */
typedef struct ks_cursor ks_cursor;
ks_cursor *ks_cursor_new(txn *t, int db, const char *start, size_t slen);
/* Returns 1 with the next live key (pointer valid until the next call), 0 at the end or on a
 * read error (ks_cursor_free tells). A key whose record cannot be decoded is listed too (as
 * TYPE_NONE), so that it can be found and deleted. */
int ks_cursor_next(ks_cursor *cur, const char **key, size_t *klen, meta *m);
/* Frees the cursor: 0, or -1 if its walk stopped on a read error (what it listed is partial). */
STORE_MUST_CHECK int ks_cursor_free(ks_cursor *cur);

#endif
