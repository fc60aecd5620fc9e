/* Growing a malloc'd array to hold at least `need` items of `size` bytes. */
#ifndef TIDEKV_GROW_H
#define TIDEKV_GROW_H

#include <stdlib.h>

/* Returns the array p (capacity *cap items), reallocated to hold `need` items when it holds
 * fewer: the capacity at least doubles (from `first`), so appending stays amortised O(1). Out
 * of memory aborts, as everywhere in tidekv. */
static inline void *grow_array(void *p, size_t *cap, size_t need, size_t size, size_t first) {
    if (need <= *cap) return p;
    *cap = *cap ? *cap * 2 : first;
    if (*cap < need) *cap = need;
    p = realloc(p, *cap * size);
    if (!p) abort();
    return p;
}

#endif
