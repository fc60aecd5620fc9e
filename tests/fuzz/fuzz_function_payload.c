/* Fuzzes FUNCTION RESTORE's payload parser (src/script/library.h). The input is tried three
 * ways: as a payload itself (almost always refused by its checksum), as the body of a payload
 * given the right header and checksum (so the library lengths and count are what is fuzzed),
 * and as codes that are built into a payload, which must read back the same. */
#include <string.h>

#include "fuzz.h"
#include "script/library.h"
#include "util/sha1.h"

typedef struct seen {
    size_t n, bytes;
    const char *begin, *end; /* each code lies inside the payload */
} seen;

static void count_code(void *arg, const char *code, size_t len) {
    seen *s = arg;
    FUZZ_CHECK(code >= s->begin && code + len <= s->end);
    s->n++;
    s->bytes += len;
}

static void parse(const char *p, size_t len) {
    seen s = {0, 0, p, p + len};
    if (library_payload_parse(p, len, count_code, &s) == 0) FUZZ_CHECK(s.bytes <= len);
    else FUZZ_CHECK(s.n == 0); /* a refused payload calls back for none of its codes */
}

/* "TKFN", version 1, the input, and its checksum. */
static void parse_as_body(const char *data, size_t size) {
    buf p;
    buf_init(&p);
    buf_append(&p, "TKFN\x01", 5);
    buf_append(&p, data, size);
    char sum[41];
    sha1_hex(p.data, p.len, sum);
    buf_append(&p, sum, 40);
    parse(p.data, p.len);
    buf_free(&p);
}

/* Splits the input at each NUL into codes, builds their payload and reads it back. */
typedef struct expect {
    const char *data;
    size_t size, at;
} expect;

static void check_code(void *arg, const char *code, size_t len) {
    expect *e = arg;
    const char *nul = memchr(e->data + e->at, 0, e->size - e->at);
    size_t want = nul ? (size_t)(nul - (e->data + e->at)) : e->size - e->at;
    FUZZ_CHECK(len == want && memcmp(code, e->data + e->at, len) == 0);
    e->at += len + 1;
}

static void round_trip(const char *data, size_t size) {
    size_t n = 1;
    for (size_t i = 0; i < size; i++) n += data[i] == 0;
    library *libs = fuzz_alloc(n * sizeof(*libs));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nul = memchr(data + at, 0, size - at);
        size_t len = nul ? (size_t)(nul - (data + at)) : size - at;
        libs[i].code = (char *)data + at;
        libs[i].code_len = len;
        at += len + 1;
    }
    buf p;
    buf_init(&p);
    library_payload_build(libs, n, &p);
    expect e = {data, size, 0};
    FUZZ_CHECK(library_payload_parse(p.data, p.len, check_code, &e) == 0);
    FUZZ_CHECK(e.at == size + 1);
    buf_free(&p);
    free(libs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data;
    parse(p, size);
    parse_as_body(p, size);
    round_trip(p, size);
    return 0;
}
