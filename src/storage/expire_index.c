#include "storage/expire_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/log.h"
#include "util/timeutil.h"

/* The earliest past expiry written since the walk last looked (INT64_MAX: none). */
static _Atomic int64_t rewind_to = INT64_MAX;

void expire_index_note_written(int64_t earliest_ms) {
    if (earliest_ms >= time_now_ms()) return; /* ahead of wherever the walk stands */
    int64_t seen = atomic_load(&rewind_to);
    while (earliest_ms < seen && !atomic_compare_exchange_weak(&rewind_to, &seen, earliest_ms)) {
    }
}

int64_t expire_index_take_rewind(void) { return atomic_exchange(&rewind_to, INT64_MAX); }

/* ---- indexing a database written before the index existed ---- */

/* Entries per commit of the backfill, so that no batch is huge. */
#define BACKFILL_PER_COMMIT 1024

/* Commits the entries gathered: a commit of no command (nothing a client sees changes). */
static int commit_entries(txn *t) {
    if (!txn_has_writes(t)) return 0;
    txn_record_described(t);
    char *err = NULL;
    if (txn_commit(t, &err) == 0) return 0;
    log_msg(LOG_WARNING, "expiry index: write failed: %s", err);
    free(err);
    return -1;
}

/* Puts an index entry for every metadata record with an expiry; *indexed counts them. */
static int index_all(txn *t, long long *indexed) {
    buf entry;
    buf_init(&entry);
    int rc = 0;
    store_iter *it = store_iter_new(CF_METADATA, "", 0, NULL, 0);
    for (; rc == 0 && store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        const char *v = store_iter_value(it, &vl);
        int64_t expire_ms = enc_meta_expire(v, vl);
        if (expire_ms == 0) continue;
        buf_clear(&entry);
        enc_expire_key(&entry, expire_ms, k, kl);
        txn_put(t, CF_EXPIRE, entry.data, entry.len, "", 0);
        if (++*indexed % BACKFILL_PER_COMMIT == 0) rc = commit_entries(t);
    }
    if (rc == 0 && store_iter_failed(it)) rc = -1;
    store_iter_free(it);
    buf_free(&entry);
    return rc == 0 ? commit_entries(t) : rc;
}

int expire_index_backfill(void) {
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", store_dir(), EXPIRE_INDEX_DONE_FILE) >= (int)sizeof(path)) return -1;
    if (access(path, F_OK) == 0) return 0;
    int64_t since = time_mono_ms();
    long long indexed = 0;
    txn t;
    txn_init(&t);
    int rc = index_all(&t, &indexed);
    txn_free(&t);
    char *err = NULL;
    char why[256] = "";
    /* The entries are durable before the file says they are there. */
    if (rc == 0 && store_sync_wal(&err) < 0) {
        log_msg(LOG_WARNING, "expiry index: WAL sync failed: %s", err);
        free(err);
        rc = -1;
    }
    if (rc == 0 && file_write_atomic(store_dir(), EXPIRE_INDEX_DONE_FILE, "", 0, why, sizeof(why)) < 0) {
        log_msg(LOG_WARNING, "expiry index: %s", why);
        rc = -1;
    }
    if (rc == 0 && indexed > 0)
        log_msg(LOG_NOTICE, "expiry index: %lld keys with an expiry indexed in %lld ms", indexed,
                (long long)(time_mono_ms() - since));
    return rc;
}

int expire_index_mark_copy(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", store_dir(), EXPIRE_INDEX_DONE_FILE) >= (int)sizeof(path)) return -1;
    if (access(path, F_OK) != 0) return errno == ENOENT ? 0 : -1;
    if (snprintf(path, sizeof(path), "%s/%s", dir, EXPIRE_INDEX_DONE_FILE) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* Not synced: a checkpoint does not outlive the server's run (repl/checkpoints.h). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    return fd < 0 ? -1 : close(fd);
}
