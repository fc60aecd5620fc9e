/* What the collection types (hash, set, sorted set) share: opening a compound key with a
 * status, walking all of its members, random picks of members and scans by cursor. */
#ifndef TIDEKV_TYPES_MEMBERS_H
#define TIDEKV_TYPES_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/txn.h"
#include "types/compound.h"
#include "types/status.h"
#include "util/buf.h"
#include "util/slice.h"

/* Called for each member streamed out (with its stored value: empty for a set, the field's
 * value for a hash, the encoded score for a sorted set); nonzero stops the walk (the caller's
 * output is full, or it found the value corrupt). */
typedef int (*member_visit_fn)(void *arg, const char *member, size_t ml, const char *value, size_t vl);

/* Opens key as a collection of `type` into c: ST_OK, ST_MISSING (c is then a new, empty key),
 * ST_WRONGTYPE, ST_CORRUPT or ST_ERROR. Free c with compound_free whatever it returned. */
type_status members_open_key(compound *c, txn *t, int db, const char *key, size_t klen, enum key_type type);

/* The number of members (0 for a missing key). */
type_status members_count(txn *t, int db, const char *key, size_t klen, enum key_type type, long long *count);

/* Visits every member in order. *size gets the size the metadata says before the first visit
 * (0 for a missing key, which returns ST_MISSING). ST_CORRUPT if the key holds another number
 * of members than that (unless visit stopped the walk first), ST_ERROR on a read error. */
type_status members_all(txn *t, int db, const char *key, size_t klen, enum key_type type, long long *size,
                        member_visit_fn visit, void *arg);

/* A member (and its value) copied out of the store. */
typedef struct picked {
    buf sub, val;
} picked;

void picked_free(picked *p, long long n);

/* Picks members of c at random: |count| of them, distinct when count >= 0 (at most the size),
 * possibly repeated when count < 0, with their values if with_values. One pass over the key at
 * most, memory for the picks only: once the members and values picked take more than max_bytes
 * (SIZE_MAX: no bound), picking stops short (a reply of them, which takes more, would pass the
 * client's bound). The picks (an array to free with picked_free) in *out, how many in *n.
 * ST_CORRUPT if the collection holds fewer members than its size says, ST_ERROR on a read error
 * (nothing to free then). */
type_status members_pick_from(compound *c, long long count, int with_values, size_t max_bytes, picked **out,
                              long long *n);
/* The same for a key of `type` (ST_MISSING and no picks if it is missing). */
type_status members_pick(txn *t, int db, const char *key, size_t klen, enum key_type type, long long count,
                         int with_values, size_t max_bytes, picked **out, long long *n);
/* `total` picks with repeats (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER with a negative count), each
 * visited as it is made, in memory that does not grow with the count; stops when visit returns
 * nonzero. ST_MISSING without a visit for a missing key; ST_CORRUPT if the size lies. */
type_status members_pick_repeated(txn *t, int db, const char *key, size_t klen, enum key_type type, uint64_t total,
                                  int with_values, member_visit_fn visit, void *arg);

/* A sorted set member's stored value read as its score (ZSCAN and ZRANDMEMBER reply it):
 * ST_OK, or ST_CORRUPT if it is not one. */
type_status members_score(const char *value, size_t vl, double *score);

/* One page of HSCAN / SSCAN / ZSCAN: resumes where cursor says, examines about count members
 * (a few more when the page must not end between members that a cursor cannot tell apart),
 * visits those matching the glob pattern match (NULL: all) and sets *next to the cursor of the
 * next page (0: the scan is done). Stops early, ST_OK, when visit returns nonzero. */
type_status members_scan(txn *t, int db, const char *key, size_t klen, enum key_type type, uint64_t cursor,
                         const slice *match, long long count, member_visit_fn visit, void *arg, uint64_t *next);

#endif
