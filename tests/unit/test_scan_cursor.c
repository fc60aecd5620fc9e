/* Unit tests for SCAN cursors (src/types/scan_cursor.h), over key sets held in memory: what a
 * cursor resumes at, that a key present at both ends of a cursor's trip is never skipped,
 * however the other keys change, and remembered cursors for the page ends no code can say. */
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

#define SCOPE 1

static scan_keys keys_of(key_set *s) { return (scan_keys){set_first, set_any_from, s, SCOPE}; }

/* The boundary as a C string (the keys here have no NUL bytes, so neither has a boundary
 * encoded from them), as keys of a scope see it. */
static char *decode_in(key_set *s, uint64_t scope, uint64_t cursor) {
    buf from;
    buf_init(&from);
    scan_keys keys = keys_of(s);
    keys.scope = scope;
    assert_int_equal(scan_cursor_decode(cursor, &keys, &from), 0);
    char *out = strndup(from.data ? from.data : "", from.len);
    assert_int_equal(strlen(out), from.len);
    buf_free(&from);
    return out;
}

static char *decode(key_set *s, uint64_t cursor) { return decode_in(s, SCOPE, cursor); }

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

/* ---- remembered cursors ---- */

#define REMEMBERED_BIT (UINT64_C(1) << 63)

static uint64_t cursor_after(key_set *s, const char *last, const char *next) {
    scan_keys keys = keys_of(s);
    uint64_t cursor = 0;
    assert_int_equal(scan_cursor_after(&keys, last, strlen(last), next, strlen(next), &cursor), 1);
    return cursor;
}

/* n names sharing a 60-byte prefix, and five leaving it at bytes 10, 20 … 50: the skips and
 * literals these cost fill a code before the names differ. */
static void decoy_keys(key_set *s, int n) {
    char key[80];
    memset(key, 'a', 60);
    for (int i = 0; i < n; i++) {
        snprintf(key + 60, sizeof(key) - 60, "%05d", i);
        set_add(s, key);
    }
    for (int j = 1; j <= 5; j++) {
        memset(key, 'a', (size_t)(10 * j));
        strcpy(key + 10 * j, "X");
        set_add(s, key);
    }
    set_sort(s);
}

static int key_at_or_after(const key_set *s, const char *from) {
    int i = 0;
    while (i < s->n && strcmp(s->keys[i], from) < 0) i++;
    return i;
}

/* Walks a whole scan from cursor as the server does, `count` keys a page, counting in seen[i]
 * how often key i came; the number of pages. Every page but the last holds `count` keys. */
static int walk(key_set *s, uint64_t cursor, int count, int *seen) {
    scan_keys keys = keys_of(s);
    int pages = 0;
    do {
        assert_true(++pages <= s->n + 2); /* the scan moves on */
        char *from = decode(s, cursor);
        int i = key_at_or_after(s, from);
        free(from);
        cursor = 0;
        for (int examined = 0; i < s->n; i++, examined++) {
            if (examined == count) {
                const char *last = s->keys[i - 1], *next = s->keys[i];
                assert_int_equal(scan_cursor_after(&keys, last, strlen(last), next, strlen(next), &cursor), 1);
                break;
            }
            seen[i]++;
        }
    } while (cursor != 0);
    return pages;
}

static void test_remembered_cursors_resume_right_after_the_page(void **state) {
    (void)state;
    key_set s = {0};
    decoy_keys(&s, 300);
    int remembered = 0;
    for (int i = 1; i < s.n; i++) {
        uint64_t cursor = cursor_after(&s, s.keys[i - 1], s.keys[i]);
        remembered += (cursor & REMEMBERED_BIT) != 0;
        char *b = decode(&s, cursor);
        assert_true(strcmp(b, s.keys[i - 1]) > 0 && strcmp(b, s.keys[i]) <= 0);
        free(b);
    }
    assert_true(remembered >= 290); /* the names under the 60-byte prefix */
    set_free(&s);
}

static void test_pages_hold_count_keys_when_names_share_a_long_prefix(void **state) {
    (void)state;
    key_set s = {0};
    decoy_keys(&s, 2000);
    int *seen = calloc((size_t)s.n, sizeof(int));
    assert_int_equal(walk(&s, 0, 10, seen), (s.n + 9) / 10);
    for (int i = 0; i < s.n; i++) assert_int_equal(seen[i], 1);
    free(seen);
    set_free(&s);
}

static void test_an_evicted_cursor_resumes_at_its_coarse_boundary(void **state) {
    (void)state;
    key_set s = {0};
    decoy_keys(&s, 40);
    uint64_t cursor = cursor_after(&s, s.keys[20], s.keys[21]);
    assert_true(cursor & REMEMBERED_BIT);
    char *exact = decode(&s, cursor);
    for (int i = 0; i < SCAN_REMEMBER_SLOTS; i++) cursor_after(&s, s.keys[30], s.keys[31]);
    char *coarse = decode(&s, cursor);
    assert_true(strcmp(coarse, exact) < 0); /* before: some names come again */
    int seen[64] = {0};
    walk(&s, cursor, 10, seen);
    for (int i = 21; i < s.n; i++) assert_true(seen[i] >= 1);
    free(exact);
    free(coarse);
    set_free(&s);
}

static void test_a_cursor_of_another_scope_resumes_at_its_coarse_boundary(void **state) {
    (void)state;
    key_set s = {0};
    decoy_keys(&s, 40);
    uint64_t cursor = cursor_after(&s, s.keys[20], s.keys[21]);
    char *exact = decode(&s, cursor);
    char *elsewhere = decode_in(&s, SCOPE + 1, cursor);
    scan_remembered_forget_all();
    char *coarse = decode(&s, cursor);
    assert_string_equal(elsewhere, coarse);
    assert_true(strcmp(coarse, exact) < 0);
    free(exact);
    free(elsewhere);
    free(coarse);
    set_free(&s);
}

/* A key with a run of 'a's of random length, so that keys share long prefixes and leave them
 * at many places (their codes run out: remembered cursors). */
static void random_long_key(char *out, size_t size) {
    int run = (int)(next_random() % 90);
    memset(out, 'a', (size_t)run);
    random_chars(out + run, 1 + (int)(next_random() % 4), "Xab");
    assert_true(strlen(out) < size);
}

/* The guarantee for remembered cursors, kept, forgotten (a restart, an eviction) or used in
 * another scope: no key present when the cursor was made and when it is used, and not before
 * the key after the page, is before the boundary it resumes at; a kept one resumes after the
 * page's last key, however the keys changed. */
static void test_no_key_present_throughout_is_skipped_by_remembered_cursors(void **state) {
    (void)state;
    char key[128];
    int remembered = 0;
    for (int round = 0; round < 2000; round++) {
        key_set before = {0}, after = {0};
        int n = 2 + (int)(next_random() % 80);
        for (int i = 0; i < n; i++) {
            random_long_key(key, sizeof(key));
            set_add(&before, key);
        }
        set_sort(&before);
        if (before.n < 2) {
            set_free(&before);
            continue;
        }
        for (int i = 0; i < before.n; i++)
            if (next_random() % 4) set_add(&after, before.keys[i]);
        for (int i = 0; i < n / 3; i++) {
            random_long_key(key, sizeof(key));
            set_add(&after, key);
        }
        set_sort(&after);
        int at = 1 + (int)(next_random() % (uint64_t)(before.n - 1));
        const char *last = before.keys[at - 1], *next = before.keys[at];
        uint64_t cursor = cursor_after(&before, last, next);
        int is_remembered = (cursor & REMEMBERED_BIT) != 0;
        remembered += is_remembered;
        int fate = (int)(next_random() % 3); /* kept, forgotten, used in another scope */
        if (fate == 1) scan_remembered_forget_all();
        char *b = decode_in(&after, fate == 2 ? SCOPE + 1 : SCOPE, cursor);
        for (int i = 0; i < after.n; i++) {
            int present_before =
                bsearch(&after.keys[i], before.keys, (size_t)before.n, sizeof(char *), cmp_keys) != NULL;
            if (present_before && strcmp(after.keys[i], next) >= 0) assert_true(strcmp(b, after.keys[i]) <= 0);
        }
        if (fate == 0 && is_remembered) assert_true(strcmp(b, last) > 0);
        free(b);
        set_free(&before);
        set_free(&after);
    }
    assert_true(remembered >= 200);
}

static void test_made_up_remembered_cursors_resume_somewhere(void **state) {
    (void)state;
    key_set s = {0};
    decoy_keys(&s, 100);
    uint64_t real = cursor_after(&s, s.keys[50], s.keys[51]);
    buf from;
    buf_init(&from);
    scan_keys keys = keys_of(&s);
    for (int i = 0; i < 10000; i++) {
        uint64_t garbage = next_random() | REMEMBERED_BIT;
        if (i % 2) garbage = (real & ~((UINT64_C(1) << 35) - 1)) | (garbage & ((UINT64_C(1) << 35) - 1));
        assert_int_equal(scan_cursor_decode(garbage, &keys, &from), 0);
    }
    assert_int_equal(scan_cursor_decode(REMEMBERED_BIT, &keys, &from), 0);
    buf_free(&from);
    /* a scan from a made-up cursor ends, and returns every key from where it resumed */
    for (int i = 0; i < 20; i++) {
        uint64_t garbage = next_random() | REMEMBERED_BIT;
        char *from_key = decode(&s, garbage);
        int first = key_at_or_after(&s, from_key);
        int seen[128] = {0};
        assert_true(walk(&s, garbage, 7, seen) <= (s.n - first) / 7 + 2);
        for (int k = first; k < s.n; k++) assert_int_equal(seen[k], 1);
        free(from_key);
    }
    set_free(&s);
}

static void test_remembered_boundaries_hold_bounded_memory(void **state) {
    (void)state;
    key_set s = {0};
    char *key = malloc(SCAN_REMEMBER_BOUNDARY_MAX + 16);
    memset(key, 'y', SCAN_REMEMBER_BOUNDARY_MAX - 8);
    for (int i = 0; i < 20; i++) {
        snprintf(key + SCAN_REMEMBER_BOUNDARY_MAX - 8, 16, "%03d", i);
        set_add(&s, key);
    }
    set_sort(&s);
    uint64_t first = cursor_after(&s, s.keys[0], s.keys[1]);
    uint64_t cursor = first;
    int issued = 2 * SCAN_REMEMBER_BYTES_MAX / SCAN_REMEMBER_BOUNDARY_MAX;
    for (int i = 0; i < issued; i++) {
        cursor = cursor_after(&s, s.keys[i % 19], s.keys[i % 19 + 1]);
        assert_true(scan_remembered_bytes() <= SCAN_REMEMBER_BYTES_MAX);
    }
    /* the newest is kept, the oldest made room */
    char *b = decode(&s, cursor);
    assert_true(strcmp(b, s.keys[(issued - 1) % 19]) > 0);
    free(b);
    b = decode(&s, first);
    assert_true(strcmp(b, s.keys[0]) <= 0);
    free(b);
    /* a boundary longer than the most a slot keeps is not remembered: the page goes on */
    key_set huge = {0};
    memset(key, 'z', SCAN_REMEMBER_BOUNDARY_MAX + 8);
    strcpy(key + SCAN_REMEMBER_BOUNDARY_MAX + 8, "0");
    set_add(&huge, key);
    key[SCAN_REMEMBER_BOUNDARY_MAX + 8] = '1';
    set_add(&huge, key);
    scan_keys keys = keys_of(&huge);
    const char *last = huge.keys[0], *next = huge.keys[1];
    assert_int_equal(scan_cursor_after(&keys, last, strlen(last), next, strlen(next), &cursor), 0);
    scan_remembered_forget_all();
    assert_int_equal(scan_remembered_bytes(), 0);
    free(key);
    set_free(&huge);
    set_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_zero_is_the_start),
        cmocka_unit_test(test_shared_prefixes_cost_little),
        cmocka_unit_test(test_long_shared_prefixes),
        cmocka_unit_test(test_keys_sharing_more_than_the_code_holds_are_not_told_apart),
        cmocka_unit_test(test_any_number_is_a_cursor),
        cmocka_unit_test(test_no_key_present_throughout_is_skipped),
        cmocka_unit_test(test_remembered_cursors_resume_right_after_the_page),
        cmocka_unit_test(test_pages_hold_count_keys_when_names_share_a_long_prefix),
        cmocka_unit_test(test_an_evicted_cursor_resumes_at_its_coarse_boundary),
        cmocka_unit_test(test_a_cursor_of_another_scope_resumes_at_its_coarse_boundary),
        cmocka_unit_test(test_no_key_present_throughout_is_skipped_by_remembered_cursors),
        cmocka_unit_test(test_made_up_remembered_cursors_resume_somewhere),
        cmocka_unit_test(test_remembered_boundaries_hold_bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
