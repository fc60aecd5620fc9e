#include "util/num.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int num_parse_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20) return -1;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    size_t i = 0;
    int negative = 0;
    if (s[0] == '-') {
        negative = 1;
        i = 1;
        if (len == 1) return -1;
    }
    if (s[i] < '1' || s[i] > '9') return -1;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned long long digit = (unsigned long long)(s[i] - '0');
        if (v > (ULLONG_MAX - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -1;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -1;
        *out = (long long)v;
    }
    return 0;
}

/* Copies a bounded, NUL-terminated version of s for the strto* functions. */
static int copy_number_text(const char *s, size_t len, char *tmp, size_t cap) {
    if (len >= cap) return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return 0;
}

/* Whether s can be a strict number at all: not empty, and no leading space (strto* skip it). */
static int strict_start(const char *s, size_t len) { return len > 0 && !isspace((unsigned char)s[0]); }

int num_parse_ld(const char *s, size_t len, long double *out) {
    char tmp[5120];
    if (!strict_start(s, len) || copy_number_text(s, len, tmp, sizeof(tmp)) < 0) return -1;
    char *end;
    errno = 0;
    long double v = strtold(tmp, &end);
    if ((size_t)(end - tmp) != len || isnan(v)) return -1;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) return -1;
    *out = v;
    return 0;
}

/* Any length, as Redis's scores ("1.000…" of 6,000 characters is a score): long texts are
 * copied to the heap. */
int num_parse_double_loose(const char *s, size_t len, double *out, int *out_of_range) {
    char small[128];
    char *tmp = len < sizeof(small) ? small : malloc(len + 1);
    if (!tmp) abort();
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    int ok = (size_t)(end - tmp) == len && !isnan(v);
    *out_of_range = errno == ERANGE;
    if (tmp != small) free(tmp);
    if (!ok) return -1;
    *out = v;
    return 0;
}

int num_parse_double(const char *s, size_t len, double *out) {
    double v;
    int out_of_range;
    if (!strict_start(s, len) || num_parse_double_loose(s, len, &v, &out_of_range) < 0) return -1;
    /* Written infinities pass, a number too large for a double does not (nor one too small
     * for anything but 0), as in Redis. */
    if (out_of_range && (isinf(v) || v == 0)) return -1;
    *out = v;
    return 0;
}

size_t num_format_ll(char *out, long long v) {
    /* By hand: every reply header goes through here, and snprintf costs several times more. */
    char digits[20];
    size_t n = 0, len = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) out[len++] = '-';
    while (n) out[len++] = digits[--n];
    out[len] = '\0';
    return len;
}

size_t num_format_double(char *out, double v) {
    if (isinf(v)) return (size_t)snprintf(out, 32, "%s", v > 0 ? "inf" : "-inf");
    return (size_t)snprintf(out, 32, "%.17g", v);
}

size_t num_format_ld(char *out, size_t cap, long double v) {
    if (isinf(v)) return (size_t)snprintf(out, cap, "%s", v > 0 ? "inf" : "-inf");
    /* 17 fractional digits, then trailing zeros (and a bare dot) trimmed, as Redis does. */
    int n = snprintf(out, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n >= cap) return 0;
    size_t len = (size_t)n;
    if (memchr(out, '.', len)) {
        while (len > 0 && out[len - 1] == '0') len--;
        if (len > 0 && out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') len = 1, out[0] = '0';
    out[len] = '\0';
    return len;
}
