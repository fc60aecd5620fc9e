#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_reserve(buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        /* Running out of memory leaves no sane way to answer the client. */
        fprintf(stderr, "tidekv: out of memory growing a buffer to %zu bytes\n", cap);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void buf_append(buf *b, const void *p, size_t n) {
    if (n == 0) return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_append_str(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_append_byte(buf *b, uint8_t c) {
    buf_reserve(b, 1);
    b->data[b->len++] = (char)c;
}

void buf_printf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        buf_append(b, small, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    int m = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    /* The second pass can come out shorter: CLIENT LIST formats counters that another
     * thread may change meanwhile. Count only what it wrote. */
    if (m > 0) b->len += (size_t)(m < n ? m : n);
}

void buf_consume(buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_put_u8(buf *b, uint8_t v) { buf_append_byte(b, v); }

void buf_put_u32be(buf *b, uint32_t v) {
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_append(b, p, 4);
}

void buf_set_u64be(void *out, uint64_t v) {
    /* A byte swap and one store, as buf_get_u64be loads: every subkey and metadata record
     * encodes several (a stream's metadata fifteen), and a loop of byte stores cost 100
     * instructions each. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(out, &v, sizeof(v));
}

void buf_put_u64be(buf *b, uint64_t v) {
    buf_reserve(b, 8);
    buf_set_u64be(b->data + b->len, v);
    b->len += 8;
}

uint32_t buf_get_u32be(const void *in) {
    const uint8_t *p = in;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t buf_get_u64be(const void *in) {
    uint64_t v;
    memcpy(&v, in, sizeof(v)); /* one load and a byte swap: every metadata read decodes two or three */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

size_t buf_set_varint(void *out, uint64_t v) {
    uint8_t *p = out;
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

void buf_put_varint(buf *b, uint64_t v) {
    uint8_t tmp[VARINT_MAX_LEN];
    buf_append(b, tmp, buf_set_varint(tmp, v));
}

int buf_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    const uint8_t *q = *p;
    for (int shift = 0; shift <= 63; shift += 7) {
        if (q >= end) return -1;
        uint8_t byte = *q++;
        if (shift == 63 && byte > 1) return -1; /* more than 64 bits */
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return -1;
}

int bytes_compare(const void *a, size_t al, const void *b, size_t bl) {
    int c = al && bl ? memcmp(a, b, al < bl ? al : bl) : 0;
    if (c != 0) return c;
    return al < bl ? -1 : al > bl;
}
