#include "util/num.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
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

static size_t decimal_digits(unsigned long long v) {
    size_t n = 1;
    for (; v >= 10000; v /= 10000) n += 4;
    return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

size_t num_format_ull(char *out, unsigned long long v) {
    /* By hand, two digits a step from the end: every reply header and stream id goes through
     * here, and snprintf (or a digit a step) cost several percent of a pipelined read. */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                   "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                   "8081828384858687888990919293949596979899";
    size_t len = decimal_digits(v), at = len;
    out[len] = '\0';
    for (; v >= 100; v /= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        out[--at] = pairs[i + 1];
        out[--at] = pairs[i];
    }
    if (v >= 10) {
        out[--at] = pairs[v * 2 + 1];
        out[--at] = pairs[v * 2];
    } else {
        out[--at] = (char)('0' + v);
    }
    return len;
}

size_t num_format_ll(char *out, long long v) {
    if (v >= 0) return num_format_ull(out, (unsigned long long)v);
    out[0] = '-';
    return 1 + num_format_ull(out + 1, 0ULL - (unsigned long long)v);
}

/* ---- "%.17g" without printf ----
 * A score is formatted with 17 significant digits, exactly as glibc's "%.17g" does (the exact
 * binary value correctly rounded, ties to even), but several times faster: SNAPSHOT READ and
 * ZRANGE WITHSCORES print millions of them. The digits come from exact integer arithmetic on
 * the double's m * 2^e, which 128 bits hold for every magnitude from 1e-16 to 1e38; outside
 * that (and for subnormals and NaN) printf does it. */

__extension__ typedef unsigned __int128 u128;

#define SIG_DIGITS 17
#define MAX_POW5 32 /* 5^32 * 2^53 < 2^128 */

static const uint64_t pow10_u64[20] = {1ULL,
                                       10ULL,
                                       100ULL,
                                       1000ULL,
                                       10000ULL,
                                       100000ULL,
                                       1000000ULL,
                                       10000000ULL,
                                       100000000ULL,
                                       1000000000ULL,
                                       10000000000ULL,
                                       100000000000ULL,
                                       1000000000000ULL,
                                       10000000000000ULL,
                                       100000000000000ULL,
                                       1000000000000000ULL,
                                       10000000000000000ULL,
                                       100000000000000000ULL,
                                       1000000000000000000ULL,
                                       10000000000000000000ULL};

/* 5^n for n = 0 … 27 (5^27 < 2^64). */
static const uint64_t pow5_u64[28] = {1ULL,
                                      5ULL,
                                      25ULL,
                                      125ULL,
                                      625ULL,
                                      3125ULL,
                                      15625ULL,
                                      78125ULL,
                                      390625ULL,
                                      1953125ULL,
                                      9765625ULL,
                                      48828125ULL,
                                      244140625ULL,
                                      1220703125ULL,
                                      6103515625ULL,
                                      30517578125ULL,
                                      152587890625ULL,
                                      762939453125ULL,
                                      3814697265625ULL,
                                      19073486328125ULL,
                                      95367431640625ULL,
                                      476837158203125ULL,
                                      2384185791015625ULL,
                                      11920928955078125ULL,
                                      59604644775390625ULL,
                                      298023223876953125ULL,
                                      1490116119384765625ULL,
                                      7450580596923828125ULL};

/* m * 5^n for n <= MAX_POW5 */
static u128 times_pow5(uint64_t m, int n) {
    u128 p = (u128)m * pow5_u64[n < 27 ? n : 27];
    return n > 27 ? p * pow5_u64[n - 27] : p;
}

static u128 pow10_u128(int n) { return n < 20 ? pow10_u64[n] : (u128)pow10_u64[19] * pow10_u64[n - 19]; }

/* The 17 significant digits of m * 2^e when its decimal exponent is x (m * 2^e * 10^(16-x)
 * rounded to an integer, ties to even), in *digits: 1 when they fit 17 digits, 0 when x is too
 * small or too large for them, -1 when 128 bits cannot hold the exact value. */
static int digits_at(uint64_t m, int e, int x, uint64_t *digits) {
    int s = SIG_DIGITS - 1 - x;
    u128 q, rem, half; /* rounding: up when rem > half, or rem == half and q is odd */
    if (s >= 0) {
        /* m * 2^e * 10^s = m * 5^s * 2^(e+s) */
        if (s > MAX_POW5) return -1;
        u128 p = times_pow5(m, s);
        int shift = e + s;
        if (shift >= 0) {
            if (shift >= 64 || p >> (127 - shift)) return -1;
            q = p << shift, rem = 0, half = 1;
        } else {
            if (-shift >= 128) return -1;
            q = p >> -shift;
            rem = p & (((u128)1 << -shift) - 1);
            half = (u128)1 << (-shift - 1);
        }
    } else {
        /* m * 2^e / 10^-s */
        if (e < 0 || e + 53 > 127 || -s > 38) return -1;
        u128 n = (u128)m << e, d = pow10_u128(-s);
        q = n / d;
        rem = 2 * (n % d), half = d;
    }
    if (q >= pow10_u64[SIG_DIGITS] || q < pow10_u64[SIG_DIGITS - 1]) return 0;
    if (rem > half || (rem == half && (q & 1))) q++;
    *digits = (uint64_t)q;
    return 1;
}

/* Writes "%.17g" of a finite, normal, positive double, or returns 0 if it is out of the range
 * digits_at covers. */
static size_t format_g17(char *out, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52); /* v = m * 2^e, 2^52 <= m < 2^53 */
    int e = (int)(bits >> 52) - 1075, exp2 = e + 53;
    /* 2^(exp2-1) <= v < 2^exp2: the decimal exponent is this or one more */
    int x = (int)floor((exp2 - 1) * 0.30102999566398120);
    uint64_t q;
    int rc = digits_at(m, e, x, &q);
    if (rc == 0) rc = digits_at(m, e, ++x, &q);
    if (rc != 1) return 0;
    if (q == pow10_u64[SIG_DIGITS]) { /* rounded up to the next power of ten */
        q = pow10_u64[SIG_DIGITS - 1];
        x++;
    }
    char d[SIG_DIGITS];
    for (int i = SIG_DIGITS - 1; i > 0; i -= 2, q /= 100) { /* two digits at a time */
        d[i] = (char)('0' + q % 10);
        d[i - 1] = (char)('0' + q / 10 % 10);
    }
    d[0] = (char)('0' + q);
    int nd = SIG_DIGITS; /* the digits that matter: %g drops trailing zeros after the point */
    while (nd > 1 && d[nd - 1] == '0') nd--;
    size_t len = 0;
    if (x < -4 || x >= SIG_DIGITS) { /* d.ddde+XX */
        out[len++] = d[0];
        if (nd > 1) {
            out[len++] = '.';
            memcpy(out + len, d + 1, (size_t)nd - 1);
            len += (size_t)nd - 1;
        }
        out[len++] = 'e';
        out[len++] = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100) out[len++] = (char)('0' + ax / 100);
        out[len++] = (char)('0' + ax / 10 % 10);
        out[len++] = (char)('0' + ax % 10);
    } else if (x >= 0) { /* ddd.ddd */
        memcpy(out, d, (size_t)x + 1);
        len = (size_t)x + 1;
        if (nd > x + 1) {
            out[len++] = '.';
            memcpy(out + len, d + x + 1, (size_t)(nd - x - 1));
            len += (size_t)(nd - x - 1);
        }
    } else { /* 0.000ddd */
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -x - 1; i++) out[len++] = '0';
        memcpy(out + len, d, (size_t)nd);
        len += (size_t)nd;
    }
    out[len] = '\0';
    return len;
}

size_t num_format_double(char *out, double v) {
    if (isinf(v)) return (size_t)snprintf(out, 32, "%s", v > 0 ? "inf" : "-inf");
    if (v == 0) {
        const char *zero = signbit(v) ? "-0" : "0";
        size_t len = strlen(zero);
        memcpy(out, zero, len + 1);
        return len;
    }
    if (isnormal(v)) {
        size_t len = format_g17(out + (v < 0), fabs(v));
        if (len) {
            if (v < 0) out[0] = '-';
            return len + (v < 0);
        }
    }
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
