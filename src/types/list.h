/* The list type. Items are subkeys indexed by a u64 position: the metadata's head and tail
 * bound them (head ≤ position < tail, ENCODING.md), so both ends and any index are reached by
 * arithmetic, with no scan. A list never wraps: a push with no room left at its end is
 * refused. An item missing where the size promises one means the list is corrupt (ST_CORRUPT);
 * a failed read is ST_ERROR, and the command's writes are then rolled back by its caller. */
#ifndef TIDEKV_TYPES_LIST_H
#define TIDEKV_TYPES_LIST_H

#include <stdint.h>

#include "storage/txn.h"
#include "types/status.h"
#include "util/buf.h"
#include "util/slice.h"

/* Told how many items a walk will visit, before the first (a reply's array header). */
typedef void (*list_count_fn)(void *arg, uint64_t n);
/* One item of a walk (valid during the call); nonzero stops the walk early (the client's
 * output bound was reached). */
typedef int (*list_item_fn)(void *arg, const char *item, size_t len);
/* One index LPOS matched; nonzero stops the search early. */
typedef int (*list_match_fn)(void *arg, long long index);

/* LLEN: the number of items (0 and ST_MISSING for a missing key). */
type_status list_length(txn *t, int db, const char *key, size_t klen, uint64_t *len);

/* LPUSH / RPUSH (at_head: LPUSH), or LPUSHX / RPUSHX (only_existing: ST_MISSING and nothing
 * written for a missing key). The list's new length in *len. ST_NO_ROOM_AT_HEAD / _TAIL (nothing
 * written) when the end has no room for n more items. */
type_status list_push(txn *t, int db, const char *key, size_t klen, int at_head, int only_existing,
                      const slice *items, long long n, uint64_t *len);

/* LPOP / RPOP key count (count ≥ 0): pops min(count, length) items from one end. For an existing key, calls
 * count_fn with how many, then item_fn for each in pop order (its return is ignored: all are
 * popped). All are read before any is removed: ST_CORRUPT or ST_ERROR, with nothing popped,
 * may come after some were visited. How many were popped in *popped; ST_MISSING (nothing
 * visited) for a missing key. */
type_status list_pop(txn *t, int db, const char *key, size_t klen, int at_head, long long count,
                     list_count_fn count_fn, list_item_fn item_fn, void *arg, long long *popped);

/* LINDEX: the item at a Redis index in out (out->data may be NULL for an empty item);
 * ST_MISSING for a missing key or an index out of range. */
type_status list_index(txn *t, int db, const char *key, size_t klen, long long index, buf *out);

/* LSET: ST_MISSING for a missing key, ST_OUT_OF_RANGE for an index out of range. */
type_status list_set(txn *t, int db, const char *key, size_t klen, long long index, const char *item, size_t len);

/* LRANGE: calls count_fn with how many items [start, stop] (Redis-style, clamped) holds, then
 * item_fn for each, in order, until it returns nonzero. ST_MISSING (count_fn called with 0)
 * for a missing key. */
type_status list_range(txn *t, int db, const char *key, size_t klen, long long start, long long stop,
                       list_count_fn count_fn, list_item_fn item_fn, void *arg);

/* LINSERT: inserts item before (or after) the first item equal to pivot. The new length in
 * *len, or -1 if there is no such item; ST_MISSING for a missing key. ST_NO_ROOM_AT_HEAD / _TAIL
 * when the end the items after the insertion point would move to has no room. */
type_status list_insert(txn *t, int db, const char *key, size_t klen, int before, const char *pivot, size_t plen,
                        const char *item, size_t len, long long *new_len);

/* LREM: removes up to |count| items equal to item (all for 0), from the head (count ≥ 0) or
 * from the tail (count < 0). How many in *removed. */
type_status list_remove(txn *t, int db, const char *key, size_t klen, long long count, const char *item,
                        size_t len, long long *removed);

/* LTRIM: keeps only the items [start, stop] (Redis-style); an empty range deletes the list.
 * ST_MISSING for a missing key. */
type_status list_trim(txn *t, int db, const char *key, size_t klen, long long start, long long stop);

/* LPOS: calls match_fn with the index of each item equal to item, skipping the first |rank|-1
 * matches, from the head (rank > 0) or the tail (rank < 0), looking at no more than maxlen
 * items (0: all) and stopping after max_matches (0: all) or when match_fn returns nonzero. */
type_status list_pos(txn *t, int db, const char *key, size_t klen, const char *item, size_t len, long long rank,
                     long long max_matches, long long maxlen, list_match_fn match_fn, void *arg);

/* LMOVE: pops an item from one end of src and pushes it at an end of dst (the same list
 * rotates). The item moved in *moved; ST_MISSING for a missing source, whatever dst is (the
 * source is looked at first). When an error is about dst (its type, its data), *at_dst is 1. */
type_status list_move(txn *t, int db, const char *src, size_t slen, const char *dst, size_t dlen, int from_head,
                      int to_head, buf *moved, int *at_dst);

/* Pure arithmetic over positions. */

/* Maps a Redis index (negative counts from the end) of a list of `size` items starting at
 * `head` to its position; returns -1 if the index is out of range. */
int list_index_position(uint64_t head, uint64_t size, long long index, uint64_t *pos);
/* Clamps an inclusive Redis range [start, stop] to a list of `size` items; returns 0 if the
 * range is empty. */
int list_clamp_range(long long size, long long *start, long long *stop);
/* Whether n more items fit at an end of the list head … tail: a push at the head takes the
 * positions below head (down to 0), one at the tail those from tail up (tail itself stays at
 * most UINT64_MAX). A new list starts in the middle of the range, so only a list made
 * elsewhere (APPLYBATCH, a damaged disk) can run out; a push must not wrap around. */
int list_has_room(uint64_t head, uint64_t tail, int at_head, uint64_t n);

#endif
