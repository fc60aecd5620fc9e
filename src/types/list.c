#include "types/list.h"

int list_index_position(uint64_t head, uint64_t size, long long index, uint64_t *pos) {
    long long n = (long long)size;
    if (index < 0) index += n;
    if (index < 0 || index >= n) return -1;
    *pos = head + (uint64_t)index;
    return 0;
}

int list_clamp_range(long long size, long long *start, long long *stop) {
    if (*start < 0) *start += size;
    if (*stop < 0) *stop += size;
    if (*start < 0) *start = 0;
    if (*stop >= size) *stop = size - 1;
    return *start <= *stop && *start < size;
}

int list_has_room(uint64_t head, uint64_t tail, int at_head, uint64_t n) {
    return at_head ? n <= head : n <= UINT64_MAX - tail;
}
