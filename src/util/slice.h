/* A byte string owned by someone else: a command's argument, a member passed to a type module. */
#ifndef TIDEKV_SLICE_H
#define TIDEKV_SLICE_H

#include <stddef.h>

typedef struct slice {
    char *ptr;
    size_t len;
} slice;

#endif
