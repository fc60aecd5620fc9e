/* A RocksDB store in a fresh temporary directory for unit tests that read and write through
 * storage/ and types/: pass store_fixture_open / store_fixture_close to
 * cmocka_run_group_tests (or call them from a test). Header-only: each test is one file. */
#ifndef TIDEKV_STORE_FIXTURE_H
#define TIDEKV_STORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "storage/store.h"
#include "storage/txn.h"

static char store_fixture_dir[] = "/tmp/tidekv-unit-XXXXXX";

static int store_fixture_open(void **state) {
    (void)state;
    if (!mkdtemp(store_fixture_dir)) return -1;
    store_settings s = {.dir = store_fixture_dir, .block_cache_bytes = 8 << 20, .write_buffer_bytes = 4 << 20,
                        .min_blob_size = -1};
    char *err = NULL;
    if (store_open(&s, &err) == 0) return 0;
    fprintf(stderr, "store_open: %s\n", err ? err : "failed");
    free(err);
    return -1;
}

static int store_fixture_close(void **state) {
    (void)state;
    store_close();
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", store_fixture_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Commits t with a change record, as every commit carries one; t is empty afterwards, ready
 * for more (txn_free it at the end). */
static inline void store_fixture_commit(txn *t) {
    const char *argv[1] = {"TEST"};
    size_t lens[1] = {4};
    txn_record(t, 0, 0, 1, argv, lens);
    char *err = NULL;
    assert_int_equal(txn_commit(t, &err), 0);
}

#endif
