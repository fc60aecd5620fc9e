/* Strict number parsing and formatting with Redis's rules. */
#ifndef TIDEKV_NUM_H
#define TIDEKV_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses a whole string as a signed 64-bit integer: no spaces, no '+', no leading zeros.
 * Returns 0 on success, -1 otherwise. */
int num_parse_ll(const char *s, size_t len, long long *out);
/* Parses a whole string as a long double (INCRBYFLOAT); rejects spaces, NaN and trailing junk. */
int num_parse_ld(const char *s, size_t len, long double *out);
/* Parses a whole string as a double; accepts inf/-inf, rejects NaN, spaces and numbers out of
 * a double's range (1e309, 1e-400), as Redis's scores. */
int num_parse_double(const char *s, size_t len, double *out);
/* Parses a whole string as strtod reads it: leading spaces and "" (0) pass, NaN does not.
 * *out_of_range is set if the number overflowed or underflowed (it is then inf, 0 or tiny).
 * Redis reads score range bounds (taking those) and SORT weights (refusing them) so. */
int num_parse_double_loose(const char *s, size_t len, double *out, int *out_of_range);
/* Formats an integer; returns the length written (buffer of at least 21 bytes). */
size_t num_format_ll(char *out, long long v);
/* Formats an unsigned integer; returns the length written (buffer of at least 21 bytes). */
size_t num_format_ull(char *out, unsigned long long v);
/* Formats a score as Redis 7.0 prints doubles ("%.17g", inf, -inf): exact, so it parses back
 * to the same value. Returns the length (buffer of at least 32 bytes). */
size_t num_format_double(char *out, double v);
/* Formats a long double the way Redis prints INCRBYFLOAT results (no exponent, no trailing zeros). */
size_t num_format_ld(char *out, size_t cap, long double v);

#endif
