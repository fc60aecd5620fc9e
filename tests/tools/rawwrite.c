/* tidekv-rawwrite DIR BATCH-HEX...: writes raw RocksDB write batches, as they are, into the
 * database of a STOPPED tidekv server (RocksDB's lock refuses a running one).
 *
 * A test tool, not installed: it forges records the server itself never writes and APPLYBATCH
 * refuses (corrupt metadata, lists whose positions disagree...), so that the tests can check the
 * readers against what disk corruption, a bug or an older version could leave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "config.h"
#include "storage/store.h"
#include "util/buf.h"

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes hex into out; -1 if it is not an even number of hex digits. */
static int hex_decode(const char *hex, buf *out) {
    size_t len = strlen(hex);
    if (len % 2) return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        buf_append_byte(out, (uint8_t)(hi << 4 | lo));
    }
    return 0;
}

/* 1 if RocksDB can apply the batch. RocksDB logs a batch to the WAL before it checks it, and a
 * batch it then refuses stays in the WAL and fails every later open: so check it here first.
 * Only what the tests need is let through: puts, deletes and LogData of tidekv's families. */
static int batch_is_writable(const buf *raw) {
    if (batch_validate(raw->data, raw->len) < 0) return 0;
    batch_reader r;
    batch_record rec;
    batch_reader_init(&r, raw->data, raw->len);
    while (batch_reader_next(&r, &rec) == 1) {
        if (rec.cf >= CF_COUNT) return 0;
        if (rec.op != BATCH_PUT && rec.op != BATCH_DELETE && rec.op != BATCH_SINGLE_DELETE &&
            rec.op != BATCH_DELETE_RANGE && rec.op != BATCH_LOG_DATA)
            return 0;
    }
    return 1;
}

/* Writes one batch; 0, or -1 after printing why. */
static int write_batch(const char *hex) {
    buf raw;
    buf_init(&raw);
    if (hex_decode(hex, &raw) < 0) {
        fprintf(stderr, "tidekv-rawwrite: not a hex string: %.40s\n", hex);
        buf_free(&raw);
        return -1;
    }
    if (!batch_is_writable(&raw)) {
        fprintf(stderr, "tidekv-rawwrite: not a well-formed batch of puts and deletes: %.40s\n", hex);
        buf_free(&raw);
        return -1;
    }
    char *err = NULL;
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create_from(raw.data, raw.len);
    rocksdb_write(store_db(), store_write_options(), batch, &err);
    rocksdb_writebatch_destroy(batch);
    buf_free(&raw);
    if (err) {
        fprintf(stderr, "tidekv-rawwrite: write failed: %s\n", err);
        free(err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tidekv-rawwrite DIR BATCH-HEX...\n");
        return 2;
    }
    /* The server's defaults: the same column families, compaction filters and WAL retention. */
    config_init_defaults();
    store_settings settings = store_settings_from_config(argv[1]);
    char *err = NULL;
    if (store_open(&settings, &err) < 0) {
        fprintf(stderr, "tidekv-rawwrite: can't open the database in '%s': %s\n", argv[1], err);
        free(err);
        return 1;
    }
    int status = 0;
    for (int i = 2; i < argc && status == 0; i++)
        if (write_batch(argv[i]) < 0) status = 1;
    store_close();
    return status;
}
