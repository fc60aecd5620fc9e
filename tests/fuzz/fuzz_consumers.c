/* Fuzzes the two parsers of durable consumers' state: the consumers file (src/cdc/
 * consumer_file.h), whose decoded list must encode back to the very same bytes (the format
 * has one spelling per list), and the first record of a WAL file (src/cdc/wal_files.h), read
 * from the same input. */
#include <string.h>

#include "cdc/consumer_file.h"
#include "cdc/wal_files.h"
#include "fuzz.h"

static void check_consumers_file(const uint8_t *data, size_t size) {
    consumer *list;
    size_t n;
    char err[128];
    if (consumer_file_decode((const char *)data, size, &list, &n, err, sizeof(err)) < 0) {
        FUZZ_CHECK(strncmp(err, "corrupt consumers file at line ", 31) == 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(consumer_name_valid(list[i].name, strlen(list[i].name)));
        FUZZ_CHECK(list[i].created_ms >= 0 && list[i].acked_ms >= 0);
    }
    buf again;
    buf_init(&again);
    consumer_file_encode(list, n, &again);
    FUZZ_CHECK(again.len == size && memcmp(again.data, data, size) == 0);
    buf_free(&again);
    free(list);
}

static void check_wal_start(const uint8_t *data, size_t size) {
    uint64_t seq = 0;
    int rc = wal_file_first_sequence(data, size, &seq);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    /* Reading more of the same file never takes back an answer. */
    if (rc != 0 && size > 0) {
        uint8_t *longer = fuzz_alloc(size + 64);
        memcpy(longer, data, size);
        memset(longer + size, 0, 64);
        uint64_t seq2 = 0;
        FUZZ_CHECK(wal_file_first_sequence(longer, size + 64, &seq2) == rc && seq2 == seq);
        free(longer);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_consumers_file(data, size);
    check_wal_start(data, size);
    return 0;
}
