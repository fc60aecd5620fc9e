#include "util/hex.h"

#include <stdint.h>
#include <string.h>

/* The two digits of every byte value, so each byte costs one lookup and one 2-byte store. */
static const char pairs[] =
    "000102030405060708090A0B0C0D0E0F"
    "101112131415161718191A1B1C1D1E1F"
    "202122232425262728292A2B2C2D2E2F"
    "303132333435363738393A3B3C3D3E3F"
    "404142434445464748494A4B4C4D4E4F"
    "505152535455565758595A5B5C5D5E5F"
    "606162636465666768696A6B6C6D6E6F"
    "707172737475767778797A7B7C7D7E7F"
    "808182838485868788898A8B8C8D8E8F"
    "909192939495969798999A9B9C9D9E9F"
    "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
    "B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
    "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"
    "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF"
    "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";

void hex_encode(buf *out, const char *s, size_t len) {
    buf_reserve(out, len * 2);
    char *p = out->data + out->len; /* a local cursor: stores through it cannot alias out->len */
    for (size_t i = 0; i < len; i++, p += 2) memcpy(p, pairs + 2 * (uint8_t)s[i], 2);
    out->len += len * 2;
}

static int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int hex_decode(buf *out, const char *s, size_t len) {
    if (len % 2) return -1;
    buf_reserve(out, len / 2);
    for (size_t i = 0; i < len; i += 2) {
        int hi = digit_value(s[i]), lo = digit_value(s[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        buf_append_byte(out, (uint8_t)(hi << 4 | lo));
    }
    return 0;
}
