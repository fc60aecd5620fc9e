/* Fuzzes the RocksDB write-batch decoder (src/cdc/batch.h): the input is one raw batch, as
 * POLLUPDATES FORMAT RAW returns and APPLYBATCH accepts (hex-decoded). */
#include "cdc/batch.h"
#include "fuzz.h"

/* Absent slices are {NULL, 0}; present ones must lie inside the batch. */
static void check_slice(batch_slice s, const uint8_t *data, size_t size) {
    if (s.ptr) FUZZ_CHECK(fuzz_inside(s.ptr, s.len, data, size));
    else FUZZ_CHECK(s.len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *bytes = (const char *)data;
    int valid = batch_validate(bytes, size) == 0;
    batch_reader r;
    if (batch_reader_init(&r, bytes, size) < 0) {
        FUZZ_CHECK(size < BATCH_HEADER_SIZE && !valid);
        return 0;
    }
    batch_record rec;
    int rc;
    while ((rc = batch_reader_next(&r, &rec)) == 1) {
        check_slice(rec.key, data, size);
        check_slice(rec.value, data, size);
        FUZZ_CHECK(r.seen <= r.count);
    }
    FUZZ_CHECK(r.pos <= r.end);
    /* batch_validate is this walk plus the count check, so the two must agree. */
    FUZZ_CHECK(valid == (rc == 0 && r.seen == r.count));
    return 0;
}
