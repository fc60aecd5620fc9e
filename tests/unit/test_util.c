/* Unit tests for glob matching, number parsing/formatting, buffer integer coding and the
 * seeded key hash (src/util/glob.h, src/util/num.h, src/util/buf.h, src/util/hash.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/glob.h"
#include "util/hash.h"
#include "util/num.h"

/* ---- glob ---- */

static int gm(const char *pattern, const char *str) {
    return glob_match(pattern, strlen(pattern), str, strlen(str), 0);
}

static int gm_nocase(const char *pattern, const char *str) {
    return glob_match(pattern, strlen(pattern), str, strlen(str), 1);
}

static void test_glob_star_and_question(void **state) {
    (void)state;
    assert_true(gm("*", "anything"));
    assert_true(gm("*", ""));
    assert_true(gm("h*o", "hello"));
    assert_true(gm("h*o", "ho"));
    assert_false(gm("h*o", "hellx"));
    assert_true(gm("*llo", "hello"));
    assert_true(gm("he*", "hello"));
    assert_true(gm("**", "x"));
    assert_true(gm("a*b*c", "aXXbYYc"));
    assert_false(gm("a*b*c", "aXXbYY"));
    assert_true(gm("h?llo", "hello"));
    assert_true(gm("h?llo", "hallo"));
    assert_false(gm("h?llo", "hllo"));
    assert_false(gm("?", ""));
    assert_true(gm("???", "abc"));
    assert_false(gm("???", "ab"));
    assert_false(gm("hello", "hello!"));
    assert_false(gm("hello", "hell"));
    assert_true(gm("user:*:name", "user:1000:name"));
    assert_false(gm("user:*:name", "user:1000:age"));
}

static void test_glob_classes(void **state) {
    (void)state;
    assert_true(gm("h[ae]llo", "hello"));
    assert_true(gm("h[ae]llo", "hallo"));
    assert_false(gm("h[ae]llo", "hillo"));
    assert_true(gm("[abc]", "b"));
    assert_false(gm("[abc]", "d"));
    assert_false(gm("[abc]", ""));
    assert_true(gm("h[^e]llo", "hallo"));
    assert_false(gm("h[^e]llo", "hello"));
    assert_false(gm("[^a]", "a"));
    assert_true(gm("[^a]", "b"));
    assert_true(gm("h[a-c]llo", "hbllo"));
    assert_true(gm("h[a-c]llo", "hallo"));
    assert_true(gm("h[a-c]llo", "hcllo"));
    assert_false(gm("h[a-c]llo", "hdllo"));
    assert_true(gm("[c-a]", "b")); /* a reversed range works too */
    assert_true(gm("[0-9][0-9]", "42"));
    assert_false(gm("[0-9][0-9]", "4x"));
    assert_true(gm("[\\]]", "]"));
    assert_true(gm("[a\\-z]", "-"));
    assert_false(gm("[a\\-z]", "m"));
}

static void test_glob_escapes(void **state) {
    (void)state;
    assert_true(gm("\\*", "*"));
    assert_false(gm("\\*", "a"));
    assert_false(gm("\\*", ""));
    assert_true(gm("a\\?b", "a?b"));
    assert_false(gm("a\\?b", "axb"));
    assert_true(gm("\\[x\\]", "[x]"));
    assert_true(gm("a\\\\b", "a\\b"));
    assert_true(gm("\\a", "a"));
    assert_true(gm("*\\*", "abc*"));
    assert_false(gm("*\\*", "abc"));
}

static void test_glob_nocase(void **state) {
    (void)state;
    assert_false(gm("HELLO", "hello"));
    assert_true(gm_nocase("HELLO", "hello"));
    assert_true(gm_nocase("h*O", "HELLO"));
    assert_true(gm_nocase("[A-C]x", "bX"));
    assert_true(gm_nocase("[a-c]x", "Bx"));
    assert_false(gm("[A-C]x", "bx"));
    assert_true(gm_nocase("[^A]", "b"));
    assert_false(gm_nocase("[^A]", "a"));
}

static void test_glob_empty(void **state) {
    (void)state;
    assert_true(gm("", ""));
    assert_false(gm("", "a"));
    assert_false(gm("a", ""));
    assert_true(gm("*", ""));
    assert_true(gm("***", ""));
    /* Lengths are honoured: bytes past len are not part of the pattern or string. */
    assert_true(glob_match("abZZ", 2, "abYY", 2, 0));
    assert_true(glob_match("a*", 2, "a\0b", 3, 0));
    assert_false(glob_match("a?", 2, "a", 1, 0));
}

/* Runs glob_match in a child process so that a runaway match cannot hang the test run;
 * returns the match result, or -1 if it did not finish within limit_ms. */
static int glob_match_with_deadline(const char *pattern, const char *str, size_t slen, int limit_ms) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int r = glob_match(pattern, strlen(pattern), str, slen, 0);
        _exit(r ? 1 : 0);
    }
    int status = 0;
    for (int waited = 0; waited < limit_ms; waited += 10) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        assert_true(done >= 0);
        if (done == pid) {
            assert_true(WIFEXITED(status));
            return WEXITSTATUS(status);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void test_glob_pathological(void **state) {
    (void)state;
    static char s[5001];
    size_t n = sizeof(s) - 1;
    memset(s, 'a', n);
    s[n] = '\0';
    /* Must be decided quickly (Redis bounds this since CVE-2022-36021): no 'b', no match. */
    int r = glob_match_with_deadline("a*a*a*a*a*a*a*a*b", s, n, 3000);
    if (r < 0) print_error("glob_match(\"a*a*a*a*a*a*a*a*b\", 'a' x %zu) did not finish in 3 s\n", n);
    assert_int_equal(r, 0);
    /* The same shape that does match. */
    s[n - 1] = 'b';
    r = glob_match_with_deadline("a*a*a*a*a*a*a*a*b", s, n, 3000);
    assert_int_equal(r, 1);
}

/* ---- integers ---- */

static int pll(const char *s, long long *out) { return num_parse_ll(s, strlen(s), out); }

static void test_num_parse_ll(void **state) {
    (void)state;
    long long v = 99;
    assert_int_equal(pll("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(pll("-1", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(pll("12345", &v), 0);
    assert_int_equal(v, 12345);
    assert_int_equal(pll("9223372036854775807", &v), 0);
    assert_int_equal(v, 9223372036854775807LL);
    assert_int_equal(pll("-9223372036854775808", &v), 0);
    assert_true(v == -9223372036854775807LL - 1);

    const char *bad[] = {"",   "-",    "+1",  "01",  " 1",  "1 ",  "9223372036854775808", "-9223372036854775809",
                         "abc", "-0",  "1a",  "0x1", "1.0", "--1", "99999999999999999999",
                         "184467440737095516160", "00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 4242;
        if (pll(bad[i], &v) != -1) {
            print_error("num_parse_ll accepted \"%s\"\n", bad[i]);
            fail();
        }
        assert_int_equal(v, 4242);
    }
    /* Only len bytes count. */
    assert_int_equal(num_parse_ll("123abc", 3, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(num_parse_ll("1\0" "2", 3, &v), -1);
}

static void test_num_format_ll(void **state) {
    (void)state;
    char out[32];
    assert_int_equal(num_format_ll(out, 0), 1);
    assert_string_equal(out, "0");
    assert_int_equal(num_format_ll(out, -9223372036854775807LL - 1), 20);
    assert_string_equal(out, "-9223372036854775808");
    assert_int_equal(num_format_ll(out, 9223372036854775807LL), 19);
    assert_string_equal(out, "9223372036854775807");
    assert_int_equal(num_format_ll(out, -1), 2);
    assert_string_equal(out, "-1");
    assert_int_equal(num_format_ll(out, 1000), 4);
    assert_string_equal(out, "1000");
    assert_int_equal(num_format_ll(out, -90), 3);
    assert_string_equal(out, "-90");
    assert_int_equal(num_format_ull(out, 18446744073709551615ULL), 20);
    assert_string_equal(out, "18446744073709551615");
    assert_int_equal(num_format_ull(out, 7), 1);
    assert_string_equal(out, "7");
    /* Every digit count's edges, and values that mix every digit pair, as printf writes them. */
    for (unsigned long long p = 1; p <= 10000000000000000000ULL; p *= 10) {
        unsigned long long values[] = {p - 1, p, p + 1, p * 9 + p / 3, 1234567890123456789ULL % (p * 10)};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            char want[32];
            size_t n = (size_t)snprintf(want, sizeof(want), "%llu", values[i]);
            assert_int_equal(num_format_ull(out, values[i]), n);
            assert_string_equal(out, want);
        }
        if (p == 10000000000000000000ULL) break;
    }
}

/* ---- floating point ---- */

static long double pld(const char *s) {
    long double v = 0;
    assert_int_equal(num_parse_ld(s, strlen(s), &v), 0);
    return v;
}

static void expect_ld(long double v, const char *want) {
    char out[512];
    size_t n = num_format_ld(out, sizeof(out), v);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_num_format_ld(void **state) {
    (void)state;
    expect_ld(pld("10.5") + pld("0.1"), "10.6"); /* INCRBYFLOAT mykey 0.1 on 10.5 */
    expect_ld(3.0L, "3");
    expect_ld(1e20L, "100000000000000000000");
    expect_ld(-0.0L, "0");
    expect_ld(0.0L, "0");
    expect_ld(-2.5L, "-2.5");
    expect_ld(pld("5.0e3"), "5000");
    expect_ld(pld("3.0e3") + pld("200"), "3200");
    expect_ld(INFINITY, "inf");
    expect_ld(-INFINITY, "-inf");
}

static void test_num_parse_ld(void **state) {
    (void)state;
    long double v = 7;
    assert_int_equal(num_parse_ld("1.5", 3, &v), 0);
    assert_true(v == 1.5L);
    assert_int_equal(num_parse_ld("-3e2", 4, &v), 0);
    assert_true(v == -300.0L);
    const char *bad[] = {"", "nan", "NaN", "-nan", " 1", "1 ", "1.5x", "abc", "1e", "\t2", "1e99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        if (num_parse_ld(bad[i], strlen(bad[i]), &v) != -1) {
            print_error("num_parse_ld accepted \"%s\"\n", bad[i]);
            fail();
        }
        assert_true(v == 7);
    }
    /* Only len bytes count: "2.5" out of "2.5junk". */
    assert_int_equal(num_parse_ld("2.5junk", 3, &v), 0);
    assert_true(v == 2.5L);
}

static void test_num_parse_double(void **state) {
    (void)state;
    double v = 7;
    assert_int_equal(num_parse_double("1.5", 3, &v), 0);
    assert_true(v == 1.5);
    assert_int_equal(num_parse_double("inf", 3, &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(num_parse_double("-inf", 4, &v), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(num_parse_double("+inf", 4, &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(num_parse_double("-0.25", 5, &v), 0);
    assert_true(v == -0.25);
    assert_int_equal(num_parse_double("1e10", 4, &v), 0);
    assert_true(v == 1e10);
    assert_int_equal(num_parse_double("1e-310", 6, &v), 0); /* below the normal range, not 0 */
    assert_true(v > 0 && v < 1e-300);
    const char *bad[] = {"", "nan", "NAN", "-nan", " 1", "1 ", "1.5x", "abc", "--1", "\n3", "1e309", "-1e309", "1e-400"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        if (num_parse_double(bad[i], strlen(bad[i]), &v) != -1) {
            print_error("num_parse_double accepted \"%s\"\n", bad[i]);
            fail();
        }
        assert_true(v == 7);
    }
}

/* Scores of any length parse, as in Redis: the copy for strtod goes to the heap. */
static void test_num_parse_double_of_any_length(void **state) {
    (void)state;
    char text[7000];
    memset(text, '0', sizeof(text));
    text[0] = '1', text[1] = '.';
    double v = 7;
    assert_int_equal(num_parse_double(text, sizeof(text), &v), 0);
    assert_true(v == 1);
    text[sizeof(text) - 1] = 'x';
    assert_int_equal(num_parse_double(text, sizeof(text), &v), -1);
    assert_true(v == 1);
}

static void test_num_parse_double_loose(void **state) {
    (void)state;
    double v = 7;
    int out_of_range = 7;
    assert_int_equal(num_parse_double_loose("1e309", 5, &v, &out_of_range), 0);
    assert_true(isinf(v) && v > 0 && out_of_range);
    assert_int_equal(num_parse_double_loose("-1e309", 6, &v, &out_of_range), 0);
    assert_true(isinf(v) && v < 0 && out_of_range);
    assert_int_equal(num_parse_double_loose("1e-400", 6, &v, &out_of_range), 0);
    assert_true(v == 0 && out_of_range);
    assert_int_equal(num_parse_double_loose("", 0, &v, &out_of_range), 0); /* Redis reads it as 0 */
    assert_true(v == 0 && !out_of_range);
    assert_int_equal(num_parse_double_loose(" 2.5", 4, &v, &out_of_range), 0);
    assert_true(v == 2.5 && !out_of_range);
    assert_int_equal(num_parse_double_loose("inf", 3, &v, &out_of_range), 0);
    assert_true(isinf(v) && !out_of_range);
    const char *bad[] = {"nan", "1 ", "1.5x", "abc", "(1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        assert_int_equal(num_parse_double_loose(bad[i], strlen(bad[i]), &v, &out_of_range), -1);
        assert_true(v == 7);
    }
}

/* ---- buf ---- */

/* ---- doubles ---- */

/* What num_format_double printed before it formatted by hand: its output must not change by a
 * byte (snapshots and change records carry scores as text, which must parse back exactly). */
static size_t format_double_with_printf(char *out, double v) {
    if (isinf(v)) return (size_t)snprintf(out, 32, "%s", v > 0 ? "inf" : "-inf");
    return (size_t)snprintf(out, 32, "%.17g", v);
}

static int format_mismatches;

static void check_format_double(double v) {
    char got[32], want[32];
    size_t got_len = num_format_double(got, v), want_len = format_double_with_printf(want, v);
    if (got_len != want_len || strcmp(got, want) != 0 || strlen(got) != got_len) {
        if (format_mismatches++ < 20) print_error("%a: got \"%s\" (%zu), want \"%s\"\n", v, got, got_len, want);
    }
}

static uint64_t test_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_random(void) { /* xorshift64*: deterministic, so a failure repeats */
    test_rng ^= test_rng >> 12;
    test_rng ^= test_rng << 25;
    test_rng ^= test_rng >> 27;
    return test_rng * 0x2545F4914F6CDD1DULL;
}

static double double_of_bits(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

static void test_num_format_double_matches_printf(void **state) {
    (void)state;
    const double edges[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1, -1, 0.1, -0.1, 0.5, 1.5, 2.5, 3.14159,
                            1e-5, 1e-4, 0.0001234, 0.00001234, 9.9999e-5, 1e16, 1e17, 1e18, 9.999999999999999e16,
                            99999999999999999.0, 123456789012345678.0, 9007199254740992.0, 9007199254740993.0,
                            18446744073709551616.0, 1.7e38, 3.4e38, 1e38, 1e39, 1e300, -1e300, 1e-300, 1e-16,
                            1e-17, 1.2345e-16, DBL_MIN, -DBL_MIN, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, 2.2e-310,
                            -4.9e-324, DBL_EPSILON, 1.0 + DBL_EPSILON, 1.0 - DBL_EPSILON / 2, 0.3, 2.0 / 3,
                            -1.0 / 3, 1e15 + 0.3, 4503599627370495.5, 4503599627370496.5, 1e23, 5e-324};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) check_format_double(edges[i]);
    /* Powers of two and ten, and their neighbours. */
    for (int e = -1074; e <= 1023; e++) {
        double p = ldexp(1, e);
        check_format_double(p);
        check_format_double(nextafter(p, 0));
        check_format_double(nextafter(p, INFINITY));
        check_format_double(-p);
    }
    for (int e = -320; e <= 308; e++) {
        double p = pow(10, e);
        check_format_double(p);
        check_format_double(nextafter(p, 0));
        check_format_double(nextafter(p, INFINITY));
    }
    /* Halfway cases: odd m / 2^k whose exact decimal has 18 digits ending in 5 round to even. */
    for (int k = 1; k <= 60; k++) {
        for (int j = 0; j < 200; j++) {
            uint64_t m = (next_random() >> (11 + next_random() % 40)) | 1;
            check_format_double(ldexp((double)m, -k));
        }
    }
    check_format_double(ldexp(1, -25)); /* 2.98023223876953125e-08: 18 digits, a tie */
    for (int i = 0; i < 300000; i++) {
        uint64_t r = next_random();
        check_format_double(double_of_bits(r));                                 /* any bits */
        check_format_double((double)(int64_t)(r >> (r % 64)) * (r & 1 ? 1 : -1)); /* integers */
        check_format_double(ldexp((double)(r >> 11), -(int)(r % 80)));          /* short binary fractions */
        char text[40];
        snprintf(text, sizeof(text), "%.*ge%d", 1 + (int)(r % 17), (double)(r >> 11) / 9007199254740992.0,
                 (int)(next_random() % 90) - 45);
        check_format_double(strtod(text, NULL)); /* short decimals, as users write scores */
    }
    assert_int_equal(format_mismatches, 0);
}

static void test_varint_round_trip(void **state) {
    (void)state;
    const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384, 1ULL << 32, (1ULL << 63), UINT64_MAX};
    const size_t sizes[] = {1, 1, 1, 2, 2, 2, 3, 5, 10, 10};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        buf b;
        buf_init(&b);
        buf_put_varint(&b, values[i]);
        assert_int_equal(b.len, sizes[i]);
        const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
        uint64_t v = 0;
        assert_int_equal(buf_get_varint(&p, end, &v), 0);
        assert_int_equal(v, values[i]);
        assert_ptr_equal(p, end);
        /* Every truncation is rejected and leaves the position alone. */
        for (size_t len = 0; len < b.len; len++) {
            const uint8_t *q = (const uint8_t *)b.data;
            assert_int_equal(buf_get_varint(&q, q + len, &v), -1);
            assert_ptr_equal(q, (const uint8_t *)b.data);
        }
        buf_free(&b);
    }
}

static void test_varint_bytes(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf_put_varint(&b, 0);
    buf_put_varint(&b, 127);
    buf_put_varint(&b, 128);
    buf_put_varint(&b, 300);
    buf_put_varint(&b, UINT64_MAX);
    assert_int_equal(b.len, 1 + 1 + 2 + 2 + 10);
    assert_memory_equal(b.data, "\x00\x7f\x80\x01\xac\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 16);
    /* Reading a sequence advances through each value. */
    const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
    uint64_t v;
    const uint64_t want[] = {0, 127, 128, 300, UINT64_MAX};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(buf_get_varint(&p, end, &v), 0);
        assert_int_equal(v, want[i]);
    }
    assert_ptr_equal(p, end);
    assert_int_equal(buf_get_varint(&p, end, &v), -1);
    buf_free(&b);

    /* A tenth byte above 1 holds bits past the 64th: refused, not dropped. */
    const uint8_t wide[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    p = wide;
    assert_int_equal(buf_get_varint(&p, wide + sizeof(wide), &v), -1);

    /* More than ten bytes is too long. */
    const uint8_t longv[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    p = longv;
    assert_int_equal(buf_get_varint(&p, longv + sizeof(longv), &v), -1);
}

static void test_big_endian(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf_put_u8(&b, 0xAB);
    buf_put_u32be(&b, 0x01020304);
    buf_put_u64be(&b, 0x1122334455667788ULL);
    buf_put_u32be(&b, 0xFFFFFFFF);
    assert_int_equal(b.len, 1 + 4 + 8 + 4);
    assert_memory_equal(b.data, "\xab\x01\x02\x03\x04\x11\x22\x33\x44\x55\x66\x77\x88\xff\xff\xff\xff", 17);
    assert_int_equal(buf_get_u32be(b.data + 1), 0x01020304);
    assert_int_equal(buf_get_u64be(b.data + 5), 0x1122334455667788ULL);
    assert_int_equal(buf_get_u32be(b.data + 13), 0xFFFFFFFFU);
    uint8_t raw[8];
    buf_set_u64be(raw, 0x8000000000000001ULL);
    assert_memory_equal(raw, "\x80\x00\x00\x00\x00\x00\x00\x01", 8);
    assert_int_equal(buf_get_u64be(raw), 0x8000000000000001ULL);
    buf_free(&b);
}

static void test_buf_basics(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    buf_append_str(&b, "hello ");
    buf_printf(&b, "%s %d", "world", 42);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.data, "hello world 42", 14);
    buf_consume(&b, 6);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "world 42", 8);
    /* A long printf goes past the small stack buffer. */
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_printf(&b, "<%s>", big);
    assert_int_equal(b.len, 8 + 1 + 999 + 1);
    assert_int_equal(b.data[8], '<');
    assert_int_equal(b.data[8 + 1 + 998], 'z');
    assert_int_equal(b.data[b.len - 1], '>');
    buf_consume(&b, 100000);
    assert_int_equal(b.len, 0);
    buf_append(&b, "", 0);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    assert_null(b.data);
}

/* A seed must change which keys collide: with a multiply-only step, a difference in a word's
 * top bit comes out of it as a fixed difference whatever the seed, which the next word can
 * cancel, so clients could craft keys that collide in every server. */
static void test_hash_words_collisions_depend_on_seed(void **state) {
    (void)state;
    unsigned char a[16], b[16];
    for (int i = 0; i < 16; i++) a[i] = b[i] = (unsigned char)('a' + i);
    b[7] ^= 0x80;                /* bit 63 of the first word */
    b[11] ^= 0x80, b[15] ^= 0x80; /* bits 31 and 63 of the second */
    int equal = 0;
    for (uint64_t seed = 1; seed <= 64; seed++)
        equal += hash_words(seed * 0x9e3779b97f4a7c15ULL, a, 16) == hash_words(seed * 0x9e3779b97f4a7c15ULL, b, 16);
    assert_int_equal(equal, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_star_and_question),
        cmocka_unit_test(test_glob_classes),
        cmocka_unit_test(test_glob_escapes),
        cmocka_unit_test(test_glob_nocase),
        cmocka_unit_test(test_glob_empty),
        cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_num_parse_ll),
        cmocka_unit_test(test_num_format_ll),
        cmocka_unit_test(test_num_format_ld),
        cmocka_unit_test(test_num_parse_ld),
        cmocka_unit_test(test_num_parse_double),
        cmocka_unit_test(test_num_parse_double_loose),
        cmocka_unit_test(test_num_parse_double_of_any_length),
        cmocka_unit_test(test_num_format_double_matches_printf),
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_varint_bytes),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_buf_basics),
        cmocka_unit_test(test_hash_words_collisions_depend_on_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
