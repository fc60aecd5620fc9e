/* FNV-1a: a small, fast hash for lock stripes and cache slots (not for untrusted-input tables
 * where collisions would be attacked: those slots only ever cost a cache miss). */
#ifndef TIDEKV_HASH_H
#define TIDEKV_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hashes data on from h, the hash of what came before it: hash_fnv1a_on(hash_fnv1a(0, a), b)
 * hashes a and b as one string. */
static inline uint64_t hash_fnv1a_on(uint64_t h, const void *data, size_t len) {
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The seed is XORed into the offset basis: the data's first byte can undo its low 8 bits. */
static inline uint64_t hash_fnv1a(uint64_t seed, const void *data, size_t len) {
    return hash_fnv1a_on(1469598103934665603ULL ^ seed, data, len);
}

/* Multiplies two words into 128 bits and folds the halves together. */
static inline uint64_t hash_fold_multiply(uint64_t a, uint64_t b) {
    __extension__ unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A hash of whole keys, 8 bytes at a step, for tables of keys that clients choose (written on
 * every write). Each step multiplies by a factor drawn from the seed, whole product folded:
 * how a difference between two keys spreads then depends on the seed, so no set of keys
 * collides under every seed (a plain 64-bit multiply keeps a difference in a word's top bit
 * fixed, for the next word to cancel). */
static inline uint64_t hash_words(uint64_t seed, const void *data, size_t len) {
    const uint8_t *p = data;
    const uint64_t factor = (seed ^ 0xff51afd7ed558ccdULL) | 1; /* odd: never 0 */
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len ^ seed;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_fold_multiply(h ^ w, factor);
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    return hash_fold_multiply(h ^ tail, factor ^ 0xc4ceb9fe1a85ec53ULL);
}

#endif
