/* Remembered bounds of the live keys under a prefix (one collection's members or score
 * index). Deleted entries stay in RocksDB as tombstones until compaction, and an iterator
 * steps over every one of them: after 100k ZPOPMINs the next pop would walk 100k tombstones.
 * A walk from an end seeks straight to the remembered bound instead.
 *
 * The rule that keeps a bound true: no live key under the prefix is below the low bound
 * (above the high bound). Walks stage the first live key they find in their txn, and the
 * txn publishes it once it has committed (a txn that fails publishes nothing); every put
 * under the prefix widens the published bound and the staged ones at once; a raw batch
 * (APPLYBATCH) forgets all bounds. Bounds are published and read under the key's lock, so
 * no other command sees one early. */
#ifndef TIDEKV_BOUNDS_H
#define TIDEKV_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum bound_side { BOUND_LOW = 0, BOUND_HIGH = 1 };

/* 1 with the bound copied into out (cleared first), 0 if none is known. */
int bounds_get(int cf, const char *prefix, size_t plen, enum bound_side side, buf *out);
void bounds_set(int cf, const char *prefix, size_t plen, enum bound_side side, const char *key, size_t klen);
struct txn;
struct store_iter;

/* A bound a walk found, waiting for its txn to commit. */
typedef struct staged_bound {
    int cf;
    enum bound_side side;
    buf prefix, key;
} staged_bound;

typedef struct staged_bounds {
    staged_bound *items;
    size_t n, cap;
} staged_bounds;

void staged_bounds_init(staged_bounds *s);
/* Drops what is staged (the txn did not commit). */
void staged_bounds_clear(staged_bounds *s);
void staged_bounds_free(staged_bounds *s);
/* Drops what was staged after the first n (a failed command's walks). */
void staged_bounds_truncate(staged_bounds *s, size_t n);
/* Makes what is staged current, then clears it (the txn committed). */
void bounds_publish(staged_bounds *s);

/* A key under the prefix (its first plen bytes) is being written by txn t: widen the
 * published bounds and those t has staged to it. */
void bounds_note_put(struct txn *t, int cf, const char *key, size_t klen, size_t plen);
void bounds_forget_all(void);

/* A walk over the keys under a prefix of a column family, as a txn sees them: forward from
 * prefix+from (the start when from is NULL), or backward from prefix+from (the end when NULL,
 * else the last key <= prefix+from). It seeks past the remembered bounds and records the first
 * live key when it began at an end. */
typedef struct bounded_walk {
    struct store_iter *it;
    struct txn *t;
    int cf;
    buf prefix;
    buf bound;        /* the bound the walk started from, if known */
    int known, rev, started;
    int failed;       /* the walk stopped on a read error, not at the end */
    int borrowed;     /* it is the caller's (bounded_walk_open_on): close leaves it open */
    int may_record;   /* the walk began at (or past) the end, so its first key is the bound */
    uint64_t skips_at_open; /* the thread's count of deleted entries stepped over, at open */
} bounded_walk;

void bounded_walk_open(bounded_walk *w, struct txn *t, int cf, const char *prefix, size_t plen, const char *from,
                       size_t flen, int rev);
/* A forward walk of a txn that reads a snapshot (no bounds, no compaction of what it skips)
 * over an iterator the caller keeps across walks of increasing prefixes: it moves `it` forward
 * to prefix+from (see store_iter_seek_forward) rather than opening one, and leaves it where
 * the walk ends. */
void bounded_walk_open_on(bounded_walk *w, struct txn *t, struct store_iter *it, int cf, const char *prefix,
                          size_t plen, const char *from, size_t flen);
/* 1 with the next key (whole, prefix included) and value, valid until the next call; 0 at the end
 * or on a read error, which bounded_walk_close then reports. */
int bounded_walk_next(bounded_walk *w, const char **key, size_t *klen, const char **val, size_t *vlen);
/* Frees the walk: 0, or -1 if it stopped on a read error (whatever it listed is then partial). */
__attribute__((warn_unused_result)) int bounded_walk_close(bounded_walk *w);

#endif
