#include "util/hex.h"

#include <stdint.h>

void hex_encode(buf *out, const char *s, size_t len) {
    static const char digits[] = "0123456789ABCDEF";
    buf_reserve(out, len * 2);
    char *p = out->data + out->len; /* a local cursor: stores through it cannot alias out->len */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        *p++ = digits[c >> 4];
        *p++ = digits[c & 15];
    }
    out->len += len * 2;
}

static int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hex_decode(buf *out, const char *s, size_t len) {
    if (len % 2) return -1;
    buf_reserve(out, len / 2);
    for (size_t i = 0; i < len; i += 2) {
        int hi = digit_value(s[i]), lo = digit_value(s[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out->data[out->len++] = (char)(hi * 16 + lo);
    }
    return 0;
}
