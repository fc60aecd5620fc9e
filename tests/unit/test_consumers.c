/* Unit tests for the consumers file (src/cdc/consumer_file.h) and for reading and retaining
 * WAL files (src/cdc/wal_files.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cdc/consumer_file.h"
#include "cdc/wal_files.h"

static consumer make(const char *name, uint64_t seq, int lost, int64_t created, int64_t acked) {
    consumer c;
    memset(&c, 0, sizeof(c));
    strcpy(c.name, name);
    c.sequence = seq;
    c.lost = lost;
    c.created_ms = created;
    c.acked_ms = acked;
    return c;
}

static int decodes(const char *text, consumer **list, size_t *n) {
    char err[128];
    return consumer_file_decode(text, strlen(text), list, n, err, sizeof(err));
}

static void test_names(void **state) {
    (void)state;
    char longest[CONSUMER_NAME_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    assert_true(consumer_name_valid("Az09_.:-", 8));
    assert_true(consumer_name_valid(longest, CONSUMER_NAME_MAX));
    assert_false(consumer_name_valid(longest, CONSUMER_NAME_MAX + 1));
    assert_false(consumer_name_valid("", 0));
    assert_false(consumer_name_valid("a b", 3));
    assert_false(consumer_name_valid("a\0b", 3));
    assert_false(consumer_name_valid("a/b", 3));
    assert_false(consumer_name_valid("\xc3\xa9", 2));
}

static void test_round_trip(void **state) {
    (void)state;
    char big_name[CONSUMER_NAME_MAX + 1];
    memset(big_name, 'z', CONSUMER_NAME_MAX);
    big_name[CONSUMER_NAME_MAX] = '\0';
    consumer in[3] = {make("billing", 42, 0, 1700000000000, 0), make("audit:eu-1", INT64_MAX, 1, 1, INT64_MAX),
                      make(big_name, 0, 0, 0, 0)};
    buf text;
    buf_init(&text);
    consumer_file_encode(in, 3, &text);
    consumer *out;
    size_t n;
    char err[128];
    assert_int_equal(consumer_file_decode(text.data, text.len, &out, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) assert_memory_equal(&in[i], &out[i], sizeof(consumer));
    free(out);
    buf_free(&text);
}

static void test_encoding_is_plain_text(void **state) {
    (void)state;
    consumer in[1] = {make("c1", 7, 1, 10, 20)};
    buf text;
    buf_init(&text);
    consumer_file_encode(in, 1, &text);
    const char want[] = "tidekv-consumers 1\nconsumer c1 7 lost 10 20\nend 1\n";
    assert_int_equal(text.len, sizeof(want) - 1);
    assert_memory_equal(text.data, want, text.len);
    buf_clear(&text);
    consumer_file_encode(NULL, 0, &text);
    consumer *out;
    size_t n;
    char err[128];
    assert_int_equal(consumer_file_decode(text.data, text.len, &out, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_null(out);
    buf_free(&text);
}

static void test_corrupt_files(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",                                                      /* no header */
        "tidekv-consumers 2\nend 0\n",                           /* unknown version */
        "tidekv-consumers 1\n",                                  /* no end */
        "tidekv-consumers 1\nend 0",                             /* a line cut short */
        "tidekv-consumers 1\nend 1\n",                           /* count mismatch */
        "tidekv-consumers 1\nend 0\nend 0\n",                    /* something after the end */
        "tidekv-consumers 1\nconsumer a 1 active 0 0\n",         /* end missing */
        "tidekv-consumers 1\nconsumer a 1 active 0\nend 1\n",    /* a field missing */
        "tidekv-consumers 1\nconsumer a 1 active 0 0 0\nend 1\n",/* a field too many */
        "tidekv-consumers 1\nconsumer a 01 active 0 0\nend 1\n", /* leading zero */
        "tidekv-consumers 1\nconsumer a -1 active 0 0\nend 1\n", /* sign */
        "tidekv-consumers 1\nconsumer a 18446744073709551616 active 0 0\nend 1\n", /* overflow */
        "tidekv-consumers 1\nconsumer a 1 active 9223372036854775808 0\nend 1\n",  /* past int64 */
        "tidekv-consumers 1\nconsumer a 1 sleeping 0 0\nend 1\n",                  /* state */
        "tidekv-consumers 1\nconsumer a/b 1 active 0 0\nend 1\n",                  /* name */
        "tidekv-consumers 1\nconsumer a  1 active 0 0\nend 1\n",                   /* empty word */
        "tidekv-consumers 1\nconsumer a 1 active 0 0\nconsumer a 2 active 0 0\nend 2\n", /* twice */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        consumer *list = (consumer *)1;
        size_t n = 99;
        if (decodes(bad[i], &list, &n) != -1) fail_msg("accepted: %s", bad[i]);
        assert_null(list);
        assert_int_equal(n, 0);
    }
    char err[128];
    consumer *list;
    size_t n;
    assert_int_equal(consumer_file_decode("tidekv-consumers 1\nbogus\n", 25, &list, &n, err, sizeof(err)), -1);
    assert_string_equal(err, "corrupt consumers file at line 2");
}

/* ---- WAL files ---- */

/* A WAL file's start: a record header (checksum, little-endian length, type) and payload. */
static size_t put_record(uint8_t *out, unsigned type, const uint8_t *payload, size_t len) {
    size_t header = (type >= 5 && type <= 8) || type == 11 ? 11 : 7;
    memset(out, 0xAA, 4);
    out[4] = (uint8_t)(len & 0xff);
    out[5] = (uint8_t)(len >> 8);
    out[6] = (uint8_t)type;
    if (header == 11) memset(out + 7, 0, 4);
    memcpy(out + header, payload, len);
    return header + len;
}

static void batch_header(uint8_t *out, uint64_t seq, uint32_t count) {
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(seq >> (8 * i));
    for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(count >> (8 * i));
}

static void test_first_sequence(void **state) {
    (void)state;
    uint8_t file[256], batch[20];
    uint64_t seq = 0;
    batch_header(batch, 0x0102030405060708ULL, 3);
    memset(batch + 12, 'x', 8);
    size_t len = put_record(file, 1, batch, 20);
    assert_int_equal(wal_file_first_sequence(file, len, &seq), 1);
    assert_int_equal(seq, 0x0102030405060708ULL);
    /* a first fragment, and a recycled log's record */
    file[6] = 2;
    assert_int_equal(wal_file_first_sequence(file, len, &seq), 1);
    len = put_record(file, 5, batch, 20);
    seq = 0;
    assert_int_equal(wal_file_first_sequence(file, len, &seq), 1);
    assert_int_equal(seq, 0x0102030405060708ULL);
    /* a record about the log (compression) comes before the first batch */
    uint8_t meta[1] = {0};
    size_t at = put_record(file, 9, meta, 1);
    batch_header(batch, 77, 1);
    len = at + put_record(file + at, 1, batch, 12);
    assert_int_equal(wal_file_first_sequence(file, len, &seq), 1);
    assert_int_equal(seq, 77);
    /* not there yet: empty, zeroed (preallocated), cut inside the batch header */
    assert_int_equal(wal_file_first_sequence(file, 0, &seq), 0);
    uint8_t zeros[64] = {0};
    assert_int_equal(wal_file_first_sequence(zeros, sizeof(zeros), &seq), 0);
    assert_int_equal(wal_file_first_sequence(file, len - 1, &seq), 0);
    /* not a file's start: a middle or last fragment, an unknown type, a batch too short */
    len = put_record(file, 3, batch, 12);
    assert_int_equal(wal_file_first_sequence(file, len, &seq), -1);
    file[6] = 4;
    assert_int_equal(wal_file_first_sequence(file, len, &seq), -1);
    file[6] = 12;
    assert_int_equal(wal_file_first_sequence(file, len, &seq), -1);
    len = put_record(file, 1, batch, 11);
    assert_int_equal(wal_file_first_sequence(file, len, &seq), -1);
}

/* files: archived ones (numbers 1 …), then live ones; sizes 100 each, mtimes 1000 + number. */
static wal_file file_at(uint64_t number, uint64_t first, int archived) {
    return (wal_file){number, first, 100, 1000 + (int64_t)number, archived};
}

static void test_bytes_after(void **state) {
    (void)state;
    /* sequences 1-9, 10-19, (empty), 20-29, 30-latest */
    wal_file f[] = {file_at(1, 1, 1), file_at(2, 10, 1), file_at(3, 0, 1), file_at(4, 20, 1), file_at(5, 30, 0)};
    assert_int_equal(wal_files_last_sequence(f, 5, 0, 40), 9);
    assert_int_equal(wal_files_last_sequence(f, 5, 1, 40), 19);
    assert_int_equal(wal_files_last_sequence(f, 5, 2, 40), 19);
    assert_int_equal(wal_files_last_sequence(f, 5, 4, 40), 40);
    assert_int_equal(wal_files_bytes_after(f, 5, 0, 40), 500);
    assert_int_equal(wal_files_bytes_after(f, 5, 8, 40), 500);
    assert_int_equal(wal_files_bytes_after(f, 5, 9, 40), 400);
    assert_int_equal(wal_files_bytes_after(f, 5, 29, 40), 100);
    assert_int_equal(wal_files_bytes_after(f, 5, 40, 40), 0);
    assert_int_equal(wal_files_oldest_sequence(f, 5), 1);
    assert_int_equal(wal_files_oldest_sequence(f + 2, 1), 0);
}

/* A file whose first sequence could not be read (moved to the archive as it was read, say)
 * may hold the changes just after a consumer's position: the oldest is then unknown, so that
 * no consumer is taken for one whose history is gone. An empty file holds nothing. */
static void test_oldest_unknown(void **state) {
    (void)state;
    wal_file f[] = {file_at(3, 0, 1), file_at(4, 20, 1), file_at(5, 30, 0)};
    assert_int_equal(wal_files_oldest_sequence(f, 3), 0);
    f[0].size = 0;
    assert_int_equal(wal_files_oldest_sequence(f, 3), 20);
}

static void test_purge(void **state) {
    (void)state;
    wal_file f[] = {file_at(1, 1, 1), file_at(2, 10, 1), file_at(3, 20, 1), file_at(4, 30, 0)};
    /* age: files untouched for longer than the TTL go, the live one never */
    wal_retention r = {.pin = UINT64_MAX, .now_s = 1003, .ttl_s = 1, .max_bytes = 0};
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 1); /* 2 s old, then 1 s: not over */
    r.now_s = 2000;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 3);
    /* a consumer at 15 pins files 2 and 3 (sequences 10-29), whatever the TTL */
    r.pin = 15;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 1);
    r.pin = 19;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 2);
    r.pin = 0;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 0);
    /* size: the oldest go while the archive is over the limit */
    r = (wal_retention){.pin = UINT64_MAX, .now_s = 1000, .ttl_s = 0, .max_bytes = 150};
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 2);
    r.max_bytes = 300;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 0);
    r.pin = 5;
    r.max_bytes = 1;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 0);
    /* no limit at all: every unpinned archived file goes, as RocksDB archives none then */
    r = (wal_retention){.pin = UINT64_MAX, .now_s = 1000, .ttl_s = 0, .max_bytes = 0};
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 3);
    r.pin = 25;
    assert_int_equal(wal_files_to_purge(f, 4, 40, &r), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encoding_is_plain_text),
        cmocka_unit_test(test_corrupt_files),
        cmocka_unit_test(test_first_sequence),
        cmocka_unit_test(test_bytes_after),
        cmocka_unit_test(test_oldest_unknown),
        cmocka_unit_test(test_purge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
