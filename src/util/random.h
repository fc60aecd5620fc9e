/* A fast per-thread pseudo-random generator for random picks (SPOP, RANDOMKEY, …). */
#ifndef TIDEKV_RANDOM_H
#define TIDEKV_RANDOM_H

#include <stdint.h>

uint64_t random_u64(void);
/* Uniform in [0, n), n > 0. */
uint64_t random_below(uint64_t n);

#endif
