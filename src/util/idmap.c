#include "util/idmap.h"

#include <stdlib.h>
#include <string.h>

void idmap_init(idmap *m) { memset(m, 0, sizeof(*m)); }

void idmap_free(idmap *m) {
    free(m->ids);
    free(m->vals);
    idmap_init(m);
}

/* Fibonacci hashing: consecutive ids (as clients get them) spread over the slots. */
static size_t slot_of(const idmap *m, uint64_t id) { return (size_t)(id * 0x9E3779B97F4A7C15ULL) & (m->cap - 1); }

void *idmap_get(const idmap *m, uint64_t id) {
    if (m->cap == 0) return NULL;
    for (size_t i = slot_of(m, id);; i = (i + 1) & (m->cap - 1)) {
        if (m->ids[i] == id) return m->vals[i];
        if (m->ids[i] == 0) return NULL;
    }
}

/* Places id in a map known to have room and not to hold it. */
static void place(idmap *m, uint64_t id, void *val) {
    size_t i = slot_of(m, id);
    while (m->ids[i] != 0) i = (i + 1) & (m->cap - 1);
    m->ids[i] = id;
    m->vals[i] = val;
    m->len++;
}

/* Doubles the slots, so that at most half of them are used. */
static void grow(idmap *m) {
    idmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->len = 0;
    m->ids = calloc(m->cap, sizeof(*m->ids));
    m->vals = calloc(m->cap, sizeof(*m->vals));
    if (!m->ids || !m->vals) abort();
    for (size_t i = 0; i < old.cap; i++)
        if (old.ids[i]) place(m, old.ids[i], old.vals[i]);
    free(old.ids);
    free(old.vals);
}

void idmap_put(idmap *m, uint64_t id, void *val) {
    if (m->cap) {
        for (size_t i = slot_of(m, id); m->ids[i] != 0; i = (i + 1) & (m->cap - 1))
            if (m->ids[i] == id) {
                m->vals[i] = val;
                return;
            }
    }
    if ((m->len + 1) * 2 > m->cap) grow(m);
    place(m, id, val);
}

void idmap_remove(idmap *m, uint64_t id) {
    if (m->cap == 0) return;
    size_t mask = m->cap - 1, i = slot_of(m, id);
    while (m->ids[i] != id) {
        if (m->ids[i] == 0) return;
        i = (i + 1) & mask;
    }
    /* Backward shift: the ids after the hole that probed past it move into it, so that no
     * lookup stops early at an empty slot (no tombstones to clean up later). */
    for (size_t j = (i + 1) & mask; m->ids[j] != 0; j = (j + 1) & mask) {
        size_t home = slot_of(m, m->ids[j]);
        /* j's id may fill the hole i if its home is not in the cyclic range (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        m->ids[i] = m->ids[j];
        m->vals[i] = m->vals[j];
        i = j;
    }
    m->ids[i] = 0;
    m->vals[i] = NULL;
    m->len--;
}

void idmap_clear(idmap *m) {
    if (m->len == 0) return;
    memset(m->ids, 0, m->cap * sizeof(*m->ids));
    memset(m->vals, 0, m->cap * sizeof(*m->vals));
    m->len = 0;
}
