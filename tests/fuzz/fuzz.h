/* Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang and TIDEKV_FUZZ=ON it links
 * libFuzzer; otherwise replay_main.c runs it over the saved corpora. A broken invariant aborts,
 * which libFuzzer reports as a crash and the replay test as a failure. */
#ifndef TIDEKV_FUZZ_H
#define TIDEKV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail(const char *what, const char *file, int line) {
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
    abort();
}

/* A macro, so the message can quote the failed condition. */
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))

/* malloc that never returns NULL: a harness out of memory has nothing sane left to test. */
static inline void *fuzz_alloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) fuzz_fail("out of memory", __FILE__, __LINE__);
    return p;
}

/* Whether [ptr, ptr + len) lies inside [base, base + size); compared as integers, since
 * comparing pointers into different objects is undefined. */
static inline int fuzz_inside(const void *ptr, size_t len, const void *base, size_t size) {
    uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)base;
    return p >= b && p - b <= size && len <= size - (p - b);
}

#endif
