#include "storage/checkpoint.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/encoding.h"
#include "storage/expire_index.h"
#include "storage/store.h"

int store_flush_all(char **err) {
    *err = NULL;
    rocksdb_flushoptions_t *opts = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(opts, 1);
    for (int cf = 0; cf < CF_COUNT && !*err; cf++) rocksdb_flush_cf(store_db(), opts, store_cf(cf), err);
    rocksdb_flushoptions_destroy(opts);
    return *err ? -1 : 0;
}

int store_checkpoint(const char *dir, char **err) {
    *err = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(store_db(), err);
    if (*err) return -1;
    /* The largest WAL size that still skips the flush: never flush here. A flush would hold
     * every writer for as long as it writes a memtable out (store_flush_all does that before,
     * outside the lock). */
    rocksdb_checkpoint_create(cp, dir, UINT64_MAX, err);
    rocksdb_checkpoint_object_destroy(cp);
    if (*err) return -1;
    if (expire_index_mark_copy(dir) == 0) return 0;
    char msg[256];
    snprintf(msg, sizeof(msg), "can't mark the expiry index in the checkpoint: %s", strerror(errno));
    *err = strdup(msg);
    if (!*err) abort();
    return -1;
}
