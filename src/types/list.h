/* List positions: items live at head ≤ position < tail (ENCODING.md), so an index maps to a
 * position by arithmetic, with no scan. */
#ifndef TIDEKV_TYPES_LIST_H
#define TIDEKV_TYPES_LIST_H

#include <stdint.h>

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
