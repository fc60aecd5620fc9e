/* Fuzzes the consumer group decoders (src/types/stream_group.h): the input is a record's
 * subkey (after its key's prefix) and a value as stored in the stream_group column family. A
 * subkey that decodes encodes back to the same bytes; values that decode encode back too;
 * APPLYBATCH's value check (sg_record_check) takes any bytes. */
#include <string.h>

#include "fuzz.h"
#include "types/stream_group.h"

static void check_subkey(const uint8_t *data, size_t size) {
    sg_subkey s;
    buf_init(&s.group);
    buf_init(&s.consumer);
    if (sg_subkey_decode((const char *)data, size, &s) == 0) {
        buf again;
        buf_init(&again);
        slice g = {s.group.data ? s.group.data : "", s.group.len};
        slice c = {s.consumer.data ? s.consumer.data : "", s.consumer.len};
        sg_subkey_encode(&again, s.tag, g, c, s.id);
        FUZZ_CHECK(again.len == size && memcmp(again.data, data, size) == 0);
        buf_free(&again);
        /* APPLYBATCH's check of a value for the record decoded (the same bytes): only its verdict. */
        int verdict = sg_record_check(&s, (const char *)data, size);
        FUZZ_CHECK(verdict == 0 || verdict == -1);
    }
    buf_free(&s.group);
    buf_free(&s.consumer);
}

static void check_values(const uint8_t *data, size_t size) {
    const char *v = (const char *)data;
    buf again;
    buf_init(&again);
    sg_group g;
    if (sg_group_decode(v, size, &g) == 0) {
        sg_group_encode(&again, &g);
        FUZZ_CHECK(again.len == size && memcmp(again.data, v, size) == 0);
    }
    buf_clear(&again);
    sg_consumer c;
    if (sg_consumer_decode(v, size, &c) == 0) {
        sg_consumer_encode(&again, &c);
        FUZZ_CHECK(again.len == size && memcmp(again.data, v, size) == 0);
    }
    buf_clear(&again);
    sg_nack n;
    if (sg_nack_decode(v, size, &n) == 0) {
        FUZZ_CHECK(fuzz_inside(n.consumer.ptr, n.consumer.len, data, size));
        sg_nack_encode(&again, &n);
        FUZZ_CHECK(again.len == size && memcmp(again.data, v, size) == 0);
    }
    buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_subkey(data, size);
    check_values(data, size);
    return 0;
}
