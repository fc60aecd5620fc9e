/* A map from non-zero 64-bit ids (client ids) to pointers: open addressing, linear probing.
 * Not thread-safe: each map has one owner thread. */
#ifndef TIDEKV_IDMAP_H
#define TIDEKV_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct idmap {
    uint64_t *ids; /* 0 = an empty slot */
    void **vals;
    size_t cap; /* a power of two, or 0 before the first put */
    size_t len;
} idmap;

void idmap_init(idmap *m);
void idmap_free(idmap *m);
/* The value put for id, or NULL. */
void *idmap_get(const idmap *m, uint64_t id);
/* Puts id (non-zero) with val (not NULL), replacing what was there. */
void idmap_put(idmap *m, uint64_t id, void *val);
/* Takes id out, if it is there. */
void idmap_remove(idmap *m, uint64_t id);
/* Empties the map, keeping its memory. */
void idmap_clear(idmap *m);

#endif
