/* FNV-1a: a small, fast hash for lock stripes and cache slots (not for untrusted-input tables
 * where collisions would be attacked: those slots only ever cost a cache miss). */
#ifndef TIDEKV_HASH_H
#define TIDEKV_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t hash_fnv1a(uint64_t seed, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
