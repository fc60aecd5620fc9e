/* The set type: members are subkeys, with empty values, of the set's current version
 * (ENCODING.md). Picks and scans are in types/members.h (TYPE_SET). */
#ifndef TIDEKV_TYPES_SET_H
#define TIDEKV_TYPES_SET_H

#include <stddef.h>

#include "storage/txn.h"
#include "types/members.h"
#include "types/status.h"
#include "util/buf.h"
#include "util/slice.h"

/* Every status below may also be ST_WRONGTYPE, ST_CORRUPT (the key's metadata) or ST_ERROR (a
 * read failed: the command must fail, and what it wrote is rolled back). */

/* SADD / SREM: adds (removes) those of the n members not in (in) the set, visiting each one
 * added (removed), with no value; *changed counts them. */
type_status set_add(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                    member_visit_fn changed_visit, void *arg, long long *changed);
type_status set_remove(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                       member_visit_fn changed_visit, void *arg, long long *changed);
/* SCARD (0 for a missing key). */
type_status set_card(txn *t, int db, const char *key, size_t klen, long long *card);
/* SISMEMBER / SMISMEMBER: visits each of the n members in turn, with an empty value if it is
 * in the set and a NULL one if not. */
type_status set_are_members(txn *t, int db, const char *key, size_t klen, const slice *members, int n,
                            member_visit_fn visit, void *arg);
/* SMEMBERS: every member in order; see members_all. */
type_status set_members(txn *t, int db, const char *key, size_t klen, long long *size, member_visit_fn visit,
                        void *arg);
/* SPOP: removes up to count members picked at random and returns them (an array to free with
 * picked_free) in *out, how many in *n; ST_MISSING and none for a missing key. */
type_status set_pop(txn *t, int db, const char *key, size_t klen, long long count, picked **out, long long *n);
/* SMOVE: moves member from src to dst; *moved tells whether src had it. A missing src moves
 * nothing and dst is not looked at. On a failure *which tells whose: 0 src, 1 dst. */
type_status set_move(txn *t, int db, const slice *src, const slice *dst, const slice *member, int *moved,
                     int *which);

/* What SINTER, SUNION and SDIFF (and their CARD and STORE forms) compute. */
enum set_op { SET_INTER, SET_UNION, SET_DIFF };

/* Their result: members, sorted and distinct. */
typedef struct set_result {
    buf *items;
    size_t n, cap;
} set_result;

void set_result_free(set_result *r);
/* Computes op over the n sets at keys (missing keys are empty sets) into out, which starts
 * empty. With a limit (0: none) it stops once it has that many members; once the members
 * found would take more than room bytes in a reply (SIZE_MAX: no bound) it stops too, as a
 * reply of them would be cut at the client's bound anyway. On a failure *which tells whose
 * (an index into keys). */
type_status set_combine(txn *t, int db, const slice *keys, int n, enum set_op op, size_t limit, size_t room,
                        set_result *out, int *which);
/* Writes the members of r as the set at key, which must hold nothing (the caller deleted it). */
type_status set_store(txn *t, int db, const char *key, size_t klen, const set_result *r);

#endif
