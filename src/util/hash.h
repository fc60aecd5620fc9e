/* FNV-1a: a small, fast hash for lock stripes and cache slots (not for untrusted-input tables
 * where collisions would be attacked: those slots only ever cost a cache miss). */
#ifndef TIDEKV_HASH_H
#define TIDEKV_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_fnv1a(uint64_t seed, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The same use, 8 bytes at a step (a multiply and a shift each) where FNV-1a takes one byte:
 * for whole keys hashed on every write. */
static inline uint64_t hash_words(uint64_t seed, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len ^ seed;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

#endif
