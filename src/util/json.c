#include "util/json.h"

#include <stdint.h>

int json_is_utf8(const char *s, size_t len) {
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    while (p < end) {
        uint8_t c = *p;
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= n) return 0;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        /* Reject overlong forms, surrogates and code points past U+10FFFF. */
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
        p += n + 1;
    }
    return 1;
}

void json_append_string(buf *out, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    buf_reserve(out, len + 2);
    buf_append_byte(out, '"');
    size_t plain = 0; /* where the bytes that need no escape begin: they are copied in runs */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(out, s + plain, i - plain);
        plain = i + 1;
        switch (c) {
        case '"': buf_append(out, "\\\"", 2); break;
        case '\\': buf_append(out, "\\\\", 2); break;
        case '\n': buf_append(out, "\\n", 2); break;
        case '\r': buf_append(out, "\\r", 2); break;
        case '\t': buf_append(out, "\\t", 2); break;
        case '\b': buf_append(out, "\\b", 2); break;
        case '\f': buf_append(out, "\\f", 2); break;
        default: /* the other control characters */
            buf_append(out, ((const char[6]){'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]}), 6);
        }
    }
    buf_append(out, s + plain, len - plain);
    buf_append_byte(out, '"');
}

void base64_encode(buf *out, const char *s, size_t len) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        char q[4] = {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
        buf_append(out, q, 4);
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len) v |= (uint32_t)p[i + 1] << 8;
        char q[4] = {table[v >> 18], table[(v >> 12) & 63], i + 1 < len ? table[(v >> 6) & 63] : '=', '='};
        buf_append(out, q, 4);
    }
}

void json_append_bytes(buf *out, const char *s, size_t len) {
    if (json_is_utf8(s, len)) {
        json_append_string(out, s, len);
        return;
    }
    buf_append_str(out, "{\"base64\":\"");
    base64_encode(out, s, len);
    buf_append_str(out, "\"}");
}
