/* Fuzzes the stream entry decoder (src/types/stream.h): the input is an entry value as stored
 * in the stream column family. One that checks well-formed reads back string by string inside
 * the input, and encodes again to a value that reads back the same (no longer: the encoder
 * writes the shortest varints). The input is also parsed as an id argument: one that parses
 * formats to text that parses back to it. */
#include <string.h>

#include "fuzz.h"
#include "types/stream.h"

static void check_entry(const uint8_t *data, size_t size) {
    size_t n;
    if (stream_entry_check((const char *)data, size, &n) < 0) return;
    FUZZ_CHECK(n >= 2 && n % 2 == 0 && n <= size);
    slice *items = fuzz_alloc(n * sizeof(*items));
    stream_entry_reader r;
    stream_entry_reader_init(&r, (const char *)data, size);
    for (size_t i = 0; i < n; i++) {
        const char *s;
        FUZZ_CHECK(stream_entry_next(&r, &s, &items[i].len) == 1);
        FUZZ_CHECK(fuzz_inside(s, items[i].len, data, size));
        items[i].ptr = (char *)s;
    }
    const char *s;
    size_t len;
    FUZZ_CHECK(stream_entry_next(&r, &s, &len) == 0);
    buf again;
    buf_init(&again);
    stream_entry_encode(&again, items, n);
    FUZZ_CHECK(again.len <= size);
    size_t m;
    FUZZ_CHECK(stream_entry_check(again.data, again.len, &m) == 0 && m == n);
    stream_entry_reader_init(&r, again.data, again.len);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(stream_entry_next(&r, &s, &len) == 1);
        FUZZ_CHECK(len == items[i].len && memcmp(s, items[i].ptr, len) == 0);
    }
    buf_free(&again);
    free(items);
}

static void check_id(const uint8_t *data, size_t size) {
    stream_id id, back;
    int seq_given;
    if (stream_id_parse((const char *)data, size, 0, 0, &seq_given, &id) < 0) return;
    char text[STREAM_ID_TEXT_MAX];
    size_t len = stream_id_format(text, id);
    FUZZ_CHECK(len < STREAM_ID_TEXT_MAX);
    FUZZ_CHECK(stream_id_parse(text, len, 0, 1, NULL, &back) == 0);
    FUZZ_CHECK(stream_id_compare(id, back) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_entry(data, size);
    check_id(data, size);
    return 0;
}
