/* Unit tests for JSON writing, UTF-8 validation and base64 (src/util/json.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"

/* A copy of exactly len bytes, so the sanitizer build flags any read past the end. */
static char *exact_copy(const char *data, size_t len) {
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len) memcpy(p, data, len);
    return p;
}

static int utf8(const char *s, size_t len) {
    char *p = exact_copy(s, len);
    int rc = json_is_utf8(p, len);
    free(p);
    return rc;
}

#define UTF8(lit) utf8((lit), sizeof(lit) - 1)

static void expect_buf(const buf *b, const char *want, size_t len) {
    if (b->len != len || (len && memcmp(b->data, want, len) != 0)) {
        print_error("got  [%.*s] (%zu bytes)\nwant [%.*s] (%zu bytes)\n", (int)b->len, b->data ? b->data : "",
                    b->len, (int)len, want, len);
        fail();
    }
}

#define EXPECT_BUF(b, lit) expect_buf((b), (lit), sizeof(lit) - 1)

static void test_utf8_valid(void **state) {
    (void)state;
    assert_int_equal(json_is_utf8(NULL, 0), 1);
    assert_int_equal(UTF8(""), 1);
    assert_int_equal(UTF8("hello, world"), 1);
    /* Every ASCII byte, NUL and DEL included. */
    char ascii[128];
    for (int i = 0; i < 128; i++) ascii[i] = (char)i;
    assert_int_equal(utf8(ascii, sizeof(ascii)), 1);
    /* é, €, 😀 */
    assert_int_equal(UTF8("\xC3\xA9"), 1);
    assert_int_equal(UTF8("\xE2\x82\xAC"), 1);
    assert_int_equal(UTF8("\xF0\x9F\x98\x80"), 1);
    assert_int_equal(UTF8("caf\xC3\xA9 \xE2\x82\xAC" "5 \xF0\x9F\x98\x80!"), 1);
    /* Boundaries of each length, and around the surrogates. */
    assert_int_equal(UTF8("\xC2\x80"), 1);         /* U+0080 */
    assert_int_equal(UTF8("\xDF\xBF"), 1);         /* U+07FF */
    assert_int_equal(UTF8("\xE0\xA0\x80"), 1);     /* U+0800 */
    assert_int_equal(UTF8("\xED\x9F\xBF"), 1);     /* U+D7FF */
    assert_int_equal(UTF8("\xEE\x80\x80"), 1);     /* U+E000 */
    assert_int_equal(UTF8("\xEF\xBF\xBF"), 1);     /* U+FFFF */
    assert_int_equal(UTF8("\xF0\x90\x80\x80"), 1); /* U+10000 */
    assert_int_equal(UTF8("\xF4\x8F\xBF\xBF"), 1); /* U+10FFFF */
}

static void test_utf8_invalid(void **state) {
    (void)state;
    /* Lone continuation bytes. */
    assert_int_equal(UTF8("\x80"), 0);
    assert_int_equal(UTF8("\xBF"), 0);
    assert_int_equal(UTF8("a\x80" "b"), 0);
    assert_int_equal(UTF8("\xC3\xA9\xA9"), 0);
    /* Sequences truncated by the end of the input. */
    assert_int_equal(UTF8("\xC3"), 0);
    assert_int_equal(UTF8("abc\xC3"), 0);
    assert_int_equal(UTF8("\xE2\x82"), 0);
    assert_int_equal(UTF8("\xE2"), 0);
    assert_int_equal(UTF8("\xF0\x9F\x98"), 0);
    assert_int_equal(UTF8("x\xF0\x9F"), 0);
    /* A lead byte followed by a non-continuation byte. */
    assert_int_equal(UTF8("\xC3\x28"), 0);
    assert_int_equal(UTF8("\xE2\x28\xA1"), 0);
    assert_int_equal(UTF8("\xE2\x82\x28"), 0);
    assert_int_equal(UTF8("\xF0\x9F\x98\x28"), 0);
    assert_int_equal(UTF8("\xC3\xC3\xA9"), 0);
    /* Overlong encodings. */
    assert_int_equal(UTF8("\xC0\x80"), 0);
    assert_int_equal(UTF8("\xC1\xBF"), 0);
    assert_int_equal(UTF8("\xE0\x80\x80"), 0);
    assert_int_equal(UTF8("\xE0\x9F\xBF"), 0);
    assert_int_equal(UTF8("\xF0\x80\x80\x80"), 0);
    assert_int_equal(UTF8("\xF0\x8F\xBF\xBF"), 0);
    /* UTF-16 surrogates. */
    assert_int_equal(UTF8("\xED\xA0\x80"), 0);
    assert_int_equal(UTF8("\xED\xBF\xBF"), 0);
    assert_int_equal(UTF8("\xED\xA0\xBD\xED\xB8\x80"), 0);
    /* Past U+10FFFF. */
    assert_int_equal(UTF8("\xF4\x90\x80\x80"), 0);
    assert_int_equal(UTF8("\xF5\x80\x80\x80"), 0);
    assert_int_equal(UTF8("\xF7\xBF\xBF\xBF"), 0);
    /* Bytes that never appear in UTF-8. */
    assert_int_equal(UTF8("\xFF"), 0);
    assert_int_equal(UTF8("\xFE"), 0);
    assert_int_equal(UTF8("\xF8\x88\x80\x80\x80"), 0);
    /* F8..FF leads followed by what would make an in-range 4-byte sequence. */
    assert_int_equal(UTF8("\xF8\x90\x80\x80"), 0);
    assert_int_equal(UTF8("\xF9\x80\x80\x80"), 0);
    assert_int_equal(UTF8("\xFC\x80\x80\x80"), 0);
    assert_int_equal(UTF8("\xFC\x84\x80\x80\x80\x80"), 0);
    assert_int_equal(UTF8("ok\xFF" "ok"), 0);
}

/* Every single byte >= 0x80 on its own is invalid, every one below is valid. */
static void test_utf8_single_bytes(void **state) {
    (void)state;
    for (int c = 0; c < 256; c++) {
        char ch = (char)c;
        assert_int_equal(utf8(&ch, 1), c < 0x80 ? 1 : 0);
    }
}

static void test_append_string_escapes(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    json_append_string(&b, "", 0);
    EXPECT_BUF(&b, "\"\"");
    buf_clear(&b);

    const char in[] = "a\"b\\c\nd\re\tf\bg\fh/i";
    json_append_string(&b, in, sizeof(in) - 1);
    EXPECT_BUF(&b, "\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh/i\"");
    buf_clear(&b);

    /* Other control characters as \u00XX; DEL and printable ASCII as is. */
    const char ctl[] = "\x00\x01\x0B\x1F\x1B\x7F~";
    json_append_string(&b, ctl, sizeof(ctl) - 1);
    EXPECT_BUF(&b, "\"\\u0000\\u0001\\u000b\\u001f\\u001b\x7F~\"");
    buf_clear(&b);

    /* UTF-8 bytes pass through untouched. */
    const char u[] = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
    json_append_string(&b, u, sizeof(u) - 1);
    EXPECT_BUF(&b, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    buf_clear(&b);

    /* Appends after what the buffer already holds. */
    buf_append(&b, "[", 1);
    json_append_string(&b, "x", 1);
    buf_append(&b, ",", 1);
    json_append_string(&b, "\"", 1);
    EXPECT_BUF(&b, "[\"x\",\"\\\"\"");
    buf_free(&b);
}

/* Each of the 32 control characters, checked against a table built here. */
static void test_append_string_all_controls(void **state) {
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char want[16];
        switch (c) {
        case 0x08: strcpy(want, "\"\\b\""); break;
        case 0x09: strcpy(want, "\"\\t\""); break;
        case 0x0A: strcpy(want, "\"\\n\""); break;
        case 0x0C: strcpy(want, "\"\\f\""); break;
        case 0x0D: strcpy(want, "\"\\r\""); break;
        default: snprintf(want, sizeof(want), "\"\\u%04x\"", c);
        }
        buf b;
        buf_init(&b);
        char ch = (char)c;
        json_append_string(&b, &ch, 1);
        expect_buf(&b, want, strlen(want));
        buf_free(&b);
    }
    /* Printable ASCII other than quote and backslash is copied. */
    for (int c = 0x20; c < 0x80; c++) {
        if (c == '"' || c == '\\') continue;
        buf b;
        buf_init(&b);
        char ch = (char)c;
        json_append_string(&b, &ch, 1);
        char want[3] = {'"', ch, '"'};
        expect_buf(&b, want, 3);
        buf_free(&b);
    }
}

static void test_append_bytes(void **state) {
    (void)state;
    buf b;
    buf_init(&b);
    json_append_bytes(&b, "hello", 5);
    EXPECT_BUF(&b, "\"hello\"");
    buf_clear(&b);
    json_append_bytes(&b, "", 0);
    EXPECT_BUF(&b, "\"\"");
    buf_clear(&b);
    json_append_bytes(&b, "a\"b\n", 4);
    EXPECT_BUF(&b, "\"a\\\"b\\n\"");
    buf_clear(&b);
    json_append_bytes(&b, "\xC3\xA9\xE2\x82\xAC", 5);
    EXPECT_BUF(&b, "\"\xC3\xA9\xE2\x82\xAC\"");
    buf_clear(&b);
    /* NUL is valid UTF-8: escaped, not base64. */
    json_append_bytes(&b, "a\0b", 3);
    EXPECT_BUF(&b, "\"a\\u0000b\"");
    buf_clear(&b);

    /* Not UTF-8: base64 object. */
    json_append_bytes(&b, "\xFF", 1);
    EXPECT_BUF(&b, "{\"base64\":\"/w==\"}");
    buf_clear(&b);
    json_append_bytes(&b, "\xFF\xFE\xFD", 3);
    EXPECT_BUF(&b, "{\"base64\":\"//79\"}");
    buf_clear(&b);
    json_append_bytes(&b, "\xC3", 1); /* truncated é */
    EXPECT_BUF(&b, "{\"base64\":\"ww==\"}");
    buf_clear(&b);
    json_append_bytes(&b, "ab\xC0\x80", 4); /* overlong NUL */
    EXPECT_BUF(&b, "{\"base64\":\"YWLAgA==\"}");
    buf_clear(&b);
    json_append_bytes(&b, "\xED\xA0\x80", 3); /* surrogate */
    EXPECT_BUF(&b, "{\"base64\":\"7aCA\"}");
    buf_clear(&b);

    /* Appends after what the buffer already holds. */
    buf_append(&b, "[", 1);
    json_append_bytes(&b, "ok", 2);
    buf_append(&b, ",", 1);
    json_append_bytes(&b, "\x80", 1);
    buf_append(&b, "]", 1);
    EXPECT_BUF(&b, "[\"ok\",{\"base64\":\"gA==\"}]");
    buf_free(&b);
}

static void test_base64_rfc4648(void **state) {
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        buf b;
        buf_init(&b);
        char *p = exact_copy(in[i], strlen(in[i]));
        base64_encode(&b, p, strlen(in[i]));
        expect_buf(&b, out[i], strlen(out[i]));
        free(p);
        buf_free(&b);
    }
    /* Both ends of the alphabet and appending. */
    buf b;
    buf_init(&b);
    buf_append(&b, ">", 1);
    base64_encode(&b, "\0\0\0", 3);
    base64_encode(&b, "\xFF\xFF\xFF", 3);
    base64_encode(&b, "\xFB\xFF", 2);
    EXPECT_BUF(&b, ">AAAA////+/8=");
    buf_free(&b);
}

/* Reference encoder, bit by bit: take the input as a bit stream, 6 bits per character. */
static char ref_char(unsigned v) {
    if (v < 26) return (char)('A' + v);
    if (v < 52) return (char)('a' + (v - 26));
    if (v < 62) return (char)('0' + (v - 52));
    return v == 62 ? '+' : '/';
}

static size_t ref_base64(const uint8_t *in, size_t len, char *out) {
    size_t nbits = len * 8, o = 0;
    for (size_t bit = 0; bit < nbits; bit += 6) {
        unsigned v = 0;
        for (size_t k = 0; k < 6; k++) {
            size_t at = bit + k;
            unsigned one = at < nbits ? (in[at / 8] >> (7 - at % 8)) & 1u : 0u;
            v = (v << 1) | one;
        }
        out[o++] = ref_char(v);
    }
    while (o % 4) out[o++] = '=';
    return o;
}

static void test_base64_all_bytes(void **state) {
    (void)state;
    uint8_t in[256];
    for (int i = 0; i < 256; i++) in[i] = (uint8_t)i;
    char want[400];
    size_t wlen = ref_base64(in, 256, want);
    assert_int_equal(wlen, 344);
    /* The reference agrees with a few values known by heart. */
    assert_memory_equal(want, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 44);
    assert_memory_equal(want + 336, "/P3+/w==", 8);

    /* Every prefix length (0..256) of the forward and the reversed sequence. */
    uint8_t rev[256];
    for (int i = 0; i < 256; i++) rev[i] = (uint8_t)(255 - i);
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *src = pass ? rev : in;
        for (size_t len = 0; len <= 256; len++) {
            size_t rl = ref_base64(src, len, want);
            assert_int_equal(rl, (len + 2) / 3 * 4);
            char *p = exact_copy((const char *)src, len);
            buf b;
            buf_init(&b);
            base64_encode(&b, p, len);
            if (b.len != rl || (rl && memcmp(b.data, want, rl) != 0)) {
                print_error("pass %d len %zu: got %.*s want %.*s\n", pass, len, (int)b.len, b.data ? b.data : "",
                            (int)rl, want);
                fail();
            }
            buf_free(&b);
            free(p);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_single_bytes),
        cmocka_unit_test(test_append_string_escapes),
        cmocka_unit_test(test_append_string_all_controls),
        cmocka_unit_test(test_append_bytes),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_all_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
