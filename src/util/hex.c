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
