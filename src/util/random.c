#include "util/random.h"

#include <pthread.h>
#include <stdatomic.h>

#include "util/timeutil.h"

static _Thread_local uint64_t state;
static atomic_uint_fast64_t seeds;

uint64_t random_u64(void) {
    if (state == 0) /* each thread gets its own seed */
        state = ((uint64_t)time_now_us() ^ (atomic_fetch_add(&seeds, 1) * 0x9E3779B97F4A7C15ULL)) | 1;
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
}

uint64_t random_below(uint64_t n) { return random_u64() % n; }
