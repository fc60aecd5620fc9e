/* Unit tests for stateless SCAN cursors (src/types/scan_cursor.h), over key sets held in
 * memory: what a cursor resumes at, and that a key present at both ends of a cursor's trip
 * is never skipped, however the other keys change. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types/scan_cursor.h"

#define MAX_KEYS 4096

/* A sorted set of keys, standing for a scope's keys in storage. */
typedef struct key_set {
    char *keys[MAX_KEYS];
    int n;
} key_set;

static int cmp_keys(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void set_add(key_set *s, const char *key) {
    assert_true(s->n < MAX_KEYS);
    s->keys[s->n++] = strdup(key);
}

static void set_sort(key_set *s) {
    qsort(s->keys, (size_t)s->n, sizeof(char *), cmp_keys);
    int out = 0;
    for (int i = 0; i < s->n; i++) { /* drop duplicates */
        if (out > 0 && strcmp(s->keys[out - 1], s->keys[i]) == 0) free(s->keys[i]);
        else s->keys[out++] = s->keys[i];
    }
    s->n = out;
}

static void set_free(key_set *s) {
    for (int i = 0; i < s->n; i++) free(s->keys[i]);
    s->n = 0;
}

static int has_prefix(const char *key, const char *region, size_t rlen) {
    return rlen == 0 || (strlen(key) >= rlen && memcmp(key, region, rlen) == 0);
}

static int set_first(void *arg, const char *region, size_t rlen, buf *out) {
    key_set *s = arg;
    for (int i = 0; i < s->n; i++) {
        if (!has_prefix(s->keys[i], region, rlen)) continue;
        buf_clear(out);
        buf_append(out, s->keys[i], strlen(s->keys[i]));
        return 1;
    }
    return 0;
}

static int compare_bytes(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (alen > blen) - (alen < blen);
}

static int set_any_from(void *arg, const char *region, size_t rlen, const char *from, size_t flen) {
    key_set *s = arg;
    for (int i = 0; i < s->n; i++)
        if (has_prefix(s->keys[i], region, rlen) && compare_bytes(s->keys[i], strlen(s->keys[i]), from, flen) >= 0)
            return 1;
    return 0;
}

static scan_keys keys_of(key_set *s) { return (scan_keys){set_first, set_any_from, s}; }

/* The boundary as a C string (the keys here have no NUL bytes, so neither has a boundary
 * encoded from them). */
static char *decode(key_set *s, uint64_t cursor) {
    buf from;
    buf_init(&from);
    scan_keys keys = keys_of(s);
    assert_int_equal(scan_cursor_decode(cursor, &keys, &from), 0);
    char *out = strndup(from.data ? from.data : "", from.len);
    assert_int_equal(strlen(out), from.len);
    buf_free(&from);
    return out;
}

static uint64_t encode(key_set *s, const char *key) {
    uint64_t cursor;
    buf boundary;
    buf_init(&boundary);
    scan_keys keys = keys_of(s);
    assert_int_equal(scan_cursor_encode(key, strlen(key), &keys, &cursor, &boundary), 0);
    /* the boundary it says is the one decoding finds */
    buf from;
    buf_init(&from);
    assert_int_equal(scan_cursor_decode(cursor, &keys, &from), 0);
    assert_int_equal(boundary.len, from.len);
    assert_true(from.len == 0 || memcmp(boundary.data, from.data, from.len) == 0);
    buf_free(&from);
    buf_free(&boundary);
    return cursor;
}

/* How many neighbours (a key and the next) a cursor can tell apart: its boundary for the next
 * key is after the key. Each boundary must be at or before its key. */
static int separated_neighbours(key_set *s) {
    int separated = 0;
    for (int i = 1; i < s->n; i++) {
        char *b = decode(s, encode(s, s->keys[i]));
        assert_true(strcmp(b, s->keys[i]) <= 0);
        separated += strcmp(b, s->keys[i - 1]) > 0;
        free(b);
    }
    return separated;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_chars(char *out, int len, const char *alphabet) {
    for (int i = 0; i < len; i++) out[i] = alphabet[next_random() % strlen(alphabet)];
    out[len] = '\0';
}

static void random_hex(char *out, int len) { random_chars(out, len, "0123456789abcdef"); }

/* ---- tests ---- */

static void test_cursor_zero_is_the_start(void **state) {
    (void)state;
    key_set s = {0};
    set_add(&s, "a");
    char *b = decode(&s, 0);
    assert_string_equal(b, "");
    free(b);
    set_free(&s);
}

static void test_shared_prefixes_cost_little(void **state) {
    (void)state;
    key_set s = {0};
    char key[128], hex[33];
    for (int i = 0; i < 1000; i++) {
        random_hex(hex, 32);
        snprintf(key, sizeof(key), "user:session:%s", hex);
        set_add(&s, key);
        snprintf(key, sizeof(key), "user:profile:%d", i);
        set_add(&s, key);
    }
    set_sort(&s);
    /* "user:", "session:" and three to four hex digits: neighbours that share more of their
     * random part (a few in a thousand) are told apart by the next page only */
    assert_true(separated_neighbours(&s) >= (s.n - 1) * 99 / 100);
    set_free(&s);
}

static void test_long_shared_prefixes(void **state) {
    (void)state;
    key_set s = {0};
    char key[400];
    memset(key, 'x', 250);
    for (int i = 0; i < 500; i++) {
        snprintf(key + 250, sizeof(key) - 250, "%05d", i);
        set_add(&s, key);
    }
    set_sort(&s);
    assert_int_equal(separated_neighbours(&s), s.n - 1);
    set_free(&s);
}

static void test_keys_sharing_more_than_the_code_holds_are_not_told_apart(void **state) {
    (void)state;
    /* 7 skips of 256 bytes and their literals fill the code before these keys differ. */
    key_set s = {0};
    char key[2200];
    memset(key, 'y', 2100);
    for (int i = 0; i < 10; i++) {
        snprintf(key + 2100, sizeof(key) - 2100, "%d", i);
        set_add(&s, key);
    }
    set_sort(&s);
    assert_int_equal(separated_neighbours(&s), 0);
    set_free(&s);
}

static void test_any_number_is_a_cursor(void **state) {
    (void)state;
    key_set s = {0};
    set_add(&s, "alpha");
    set_add(&s, "alpine");
    set_add(&s, "beta");
    set_sort(&s);
    buf from;
    buf_init(&from);
    scan_keys keys = keys_of(&s);
    for (int i = 0; i < 10000; i++) assert_int_equal(scan_cursor_decode(next_random(), &keys, &from), 0);
    assert_int_equal(scan_cursor_decode(UINT64_MAX, &keys, &from), 0);
    buf_free(&from);
    set_free(&s);
}

/* A random key of one of a few shapes; a small alphabet makes keys share long prefixes. */
static void random_key(char *out, size_t size, const char *alphabet) {
    static const char *const schemas[] = {"user:session:", "user:profile:", "order:", "o", "u", ""};
    char tail[40];
    random_chars(tail, 1 + (int)(next_random() % 24), alphabet);
    snprintf(out, size, "%s%s", schemas[next_random() % 6], tail);
}

/* The guarantee: a key present when a cursor was made and when it is used, and not before
 * the key the cursor was made for, is not before the boundary the cursor resumes at. */
static void test_no_key_present_throughout_is_skipped(void **state) {
    (void)state;
    static const char *const alphabets[] = {"0123456789abcdef", "ab", "a"};
    char key[128];
    for (int round = 0; round < 3000; round++) {
        const char *alphabet = alphabets[round % 3];
        key_set before = {0}, after = {0};
        int n = 2 + (int)(next_random() % 100);
        for (int i = 0; i < n; i++) {
            random_key(key, sizeof(key), alphabet);
            set_add(&before, key);
        }
        set_sort(&before);
        /* after: some keys go, others come (some under the same prefixes) */
        for (int i = 0; i < before.n; i++)
            if (next_random() % 4) set_add(&after, before.keys[i]);
        for (int i = 0; i < n / 3; i++) {
            random_key(key, sizeof(key), alphabet);
            set_add(&after, key);
        }
        set_sort(&after);
        const char *next = before.keys[next_random() % (uint64_t)before.n];
        char *b = decode(&after, encode(&before, next));
        for (int i = 0; i < after.n; i++) {
            int present_before =
                bsearch(&after.keys[i], before.keys, (size_t)before.n, sizeof(char *), cmp_keys) != NULL;
            if (present_before && strcmp(after.keys[i], next) >= 0) assert_true(strcmp(b, after.keys[i]) <= 0);
        }
        free(b);
        set_free(&before);
        set_free(&after);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_zero_is_the_start),
        cmocka_unit_test(test_shared_prefixes_cost_little),
        cmocka_unit_test(test_long_shared_prefixes),
        cmocka_unit_test(test_keys_sharing_more_than_the_code_holds_are_not_told_apart),
        cmocka_unit_test(test_any_number_is_a_cursor),
        cmocka_unit_test(test_no_key_present_throughout_is_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
