#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc/consumers.h"
#include "cdc/notify.h"
#include "cdc/poll.h"
#include "cdc/retention.h"
#include "cdc/snapshots.h"
#include "cdc/tail.h"
#include "cdc/wal.h"
#include "config.h"
#include "script/functions.h"
#include "storage/bounds.h"
#include "storage/durable.h"
#include "storage/expire_index.h"
#include "storage/keycount.h"
#include "storage/keylock.h"
#include "storage/location.h"
#include "storage/store.h"
#include "types/expiry.h"
#include "util/file.h"
#include "util/log.h"
#include "util/timeutil.h"

#define NAME_MAX_LEN 64

/* The store's subdirectory in use ("" for the data directory itself). Changed only by a swap,
 * on the replica's thread, while no command runs. */
static char current_name[NAME_MAX_LEN];

static const char *data_dir(void) { return server_config.dir; }

static int path_of(const char *name, char *out, size_t len) {
    int n = name[0] ? snprintf(out, len, "%s/%s", data_dir(), name) : snprintf(out, len, "%s", data_dir());
    return n < (int)len ? 0 : -1;
}

/* ---- opening and closing what is loaded ---- */

/* Opens the store in path and loads what lives in memory, its key counts from counted if given
 * (a tally of that store, consumed), else by a walk. 0, or -1 (logged, all closed). */
static int open_loaded(const char *path, int replica, keycount_tally *counted) {
    store_settings settings = store_settings_from_config(path);
    char *store_err = NULL;
    if (store_open(&settings, &store_err) < 0) {
        log_msg(LOG_WARNING, "can't open the database in '%s': %s", path, store_err);
        free(store_err);
        keycount_tally_free(counted);
        return -1;
    }
    log_msg(LOG_NOTICE, "database opened in '%s', latest sequence %llu", path,
            (unsigned long long)store_latest_sequence());
    char consumers_err[512];
    if (consumers_load(consumers_err, sizeof(consumers_err)) < 0) {
        /* Starting without them would release the history they pin. */
        log_msg(LOG_WARNING, "can't load the CDC consumers: %s", consumers_err);
        store_close();
        keycount_tally_free(counted);
        return -1;
    }
    /* A replica's consumers may be ahead of it: it catches up with its master. */
    if (!replica) consumers_lose_ahead(store_latest_sequence());
    const char *failed = NULL;
    if (counted) {
        keycount_install(counted);
    } else {
        int64_t counting_since = time_mono_ms();
        failed = keycount_load(CONFIG_READ(databases)) < 0 ? "count the keys" : NULL;
        if (!failed) log_msg(LOG_NOTICE, "keys counted in %lld ms", (long long)(time_mono_ms() - counting_since));
    }
    /* A replica writes nothing of its own: its master's batches carry the index entries. */
    if (!failed && !replica && expire_index_backfill() < 0) failed = "index the keys with an expiry";
    if (!failed && functions_load_stored() < 0) failed = "load the function libraries";
    if (failed) {
        log_msg(LOG_WARNING, "can't %s in '%s': read error", failed, path);
        keycount_free();
        consumers_close();
        store_close();
        return -1;
    }
    return 0;
}

/* Everything open_loaded opened, and what was read through it since (snapshots, WAL readers,
 * the tail cache). */
static void close_loaded(void) {
    snapshots_close();
    consumers_close();
    tail_free();
    wal_forget();
    store_close();
    keycount_free();
}

/* Commits from the store's latest sequence on are announced; earlier ones are readable. */
static void start_tail(void) {
    tail_init((size_t)CONFIG_READ(cdc_cache_mb) * 1024 * 1024);
    cdc_notify_restart(store_latest_sequence());
}

/* ---- leftovers ---- */

/* Removes the old store in the data directory itself: RocksDB's files, and the files tidekv
 * keeps beside them; the pointer file, the replication id and any other file stay. */
static void remove_root_store(void) {
    char *err = NULL;
    if (store_destroy(data_dir(), &err) < 0) {
        log_msg(LOG_WARNING, "can't remove the old database in '%s': %s", data_dir(), err);
        free(err);
        return;
    }
    static const char *const beside[] = {CONSUMERS_FILE, CONSUMERS_FILE ".tmp", EXPIRE_INDEX_DONE_FILE, NULL};
    for (const char *const *f = beside; *f; f++) {
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/%s", data_dir(), *f) < (int)sizeof(path) && unlink(path) < 0 &&
            errno != ENOENT)
            log_msg(LOG_WARNING, "can't remove '%s': %s", path, strerror(errno));
    }
}

static void remove_store(const char *name) {
    char path[4096];
    if (!name[0]) {
        remove_root_store();
        return;
    }
    if (path_of(name, path, sizeof(path)) == 0 && file_remove_tree(path) < 0)
        log_msg(LOG_WARNING, "can't remove the old database '%s': %s", path, strerror(errno));
}

static int is_download_name(const char *name) {
    size_t n = strlen(name), p = strlen(LOCATION_DOWNLOAD_PREFIX), s = strlen(LOCATION_DOWNLOAD_SUFFIX);
    return n > p + s && strncmp(name, LOCATION_DOWNLOAD_PREFIX, p) == 0 && strcmp(name + n - s, LOCATION_DOWNLOAD_SUFFIX) == 0;
}

/* What a crash during a full sync may have left: downloads, a store swapped in but never named
 * by the pointer file, or the store the pointer file no longer names. */
static void remove_leftovers(void) {
    DIR *d = opendir(data_dir());
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int unused_store = location_is_store_name(de->d_name) && strcmp(de->d_name, current_name) != 0;
        if (!unused_store && !is_download_name(de->d_name)) continue;
        log_msg(LOG_NOTICE, "removing '%s/%s', left by an interrupted full sync", data_dir(), de->d_name);
        remove_store(de->d_name);
    }
    closedir(d);
    /* Any of its files, not CURRENT alone: a crash may have stopped its removal half-way. */
    if (current_name[0] && store_files_in(data_dir())) {
        log_msg(LOG_NOTICE, "removing the database in '%s' itself, replaced by a full sync", data_dir());
        remove_root_store();
    }
}

/* ---- start-up and shutdown ---- */

int dataset_open(int replica) {
    char path[4096], err[512];
    if (location_resolve(data_dir(), path, sizeof(path), current_name, sizeof(current_name), err, sizeof(err)) < 0) {
        log_msg(LOG_WARNING, "can't tell where the database is: %s", err);
        return -1;
    }
    /* Opening it would make an empty store there, and the old one would be removed as replaced. */
    struct stat st;
    if (current_name[0] && stat(path, &st) < 0) {
        log_msg(LOG_WARNING, "the pointer file '%s/%s' names '%s', which can't be opened: %s", data_dir(),
                LOCATION_FILE, current_name, strerror(errno));
        return -1;
    }
    remove_leftovers();
    if (open_loaded(path, replica, NULL) < 0) return -1;
    start_tail();
    return 0;
}

void dataset_close(void) { close_loaded(); }

/* ---- full sync ---- */

int dataset_new_download(char *path, size_t len, char *name, size_t name_len) {
    for (unsigned long long n = (unsigned long long)time_now_ms();; n++) {
        char candidate[4096];
        snprintf(name, name_len, "%s%llu", LOCATION_STORE_PREFIX, n);
        if (strcmp(name, current_name) == 0 || path_of(name, candidate, sizeof(candidate)) < 0 ||
            access(candidate, F_OK) == 0)
            continue;
        if (snprintf(path, len, "%s/%s%llu%s", data_dir(), LOCATION_DOWNLOAD_PREFIX, n, LOCATION_DOWNLOAD_SUFFIX) >=
            (int)len)
            return -1;
        if (mkdir(path, 0755) == 0) return 0;
        if (errno != EEXIST) {
            log_msg(LOG_WARNING, "can't create '%s': %s", path, strerror(errno));
            return -1;
        }
    }
}

void dataset_remove_download(const char *path) {
    if (file_remove_tree(path) < 0) log_msg(LOG_WARNING, "can't remove '%s': %s", path, strerror(errno));
}

/* The threads that read or write the store on their own, not as commands do, wait while the
 * store is swapped (their pause locks come before the global lock, as their work takes them). */
static void pause_store_threads(void) {
    retention_pause();
    expiry_pause();
    durable_pause();
}

static void resume_store_threads(int reopened) {
    durable_resume(reopened);
    expiry_resume();
    retention_resume();
}

/* Swaps the store for the one in name, the global lock held exclusively: 0, or -1 with the
 * old store open again. Exits the process if not even that opens: serving is impossible.
 * *pointed is set when the pointer file may name the new store although the swap failed (its
 * write failed after the rename, e.g. syncing the directory): the new store must then stay. */
static int swap_locked(const char *name, keycount_tally *counted, int *pointed, char *err, size_t errlen) {
    char old_path[4096], new_path[4096], why[512];
    path_of(current_name, old_path, sizeof(old_path));
    path_of(name, new_path, sizeof(new_path));
    close_loaded();
    int rc = open_loaded(new_path, 1, counted);
    if (rc < 0) {
        snprintf(err, errlen, "the copy does not open");
    } else if (location_set(data_dir(), name, why, sizeof(why)) < 0) {
        /* The pointer file names one of the two, whole either way: a restart opens that one. */
        snprintf(err, errlen, "can't switch to the copy: %s", why);
        *pointed = 1;
        close_loaded();
        rc = -1;
    }
    if (rc < 0 && open_loaded(old_path, 1, NULL) < 0) {
        log_msg(LOG_WARNING, "can't open the database again after a failed full sync: stopping");
        exit(1);
    }
    if (rc == 0) {
        snprintf(current_name, sizeof(current_name), "%s", name);
        cdc_poll_history_replaced();
    }
    start_tail();
    bounds_forget_all();
    for (int db = 0; db < CONFIG_READ(databases); db++) keylock_flush_bump(db); /* WATCHed keys changed */
    return rc;
}

int dataset_swap(const char *path, const char *name, uint64_t sequence, int (*give_up)(void), int64_t *pause_us,
                 char *err, size_t errlen) {
    char *probe_err = NULL, store_path[4096];
    uint64_t latest = 0;
    *pause_us = 0;
    /* Its keys are counted here, before clients wait: about a second per million. */
    keycount_tally *counted = keycount_tally_new(CONFIG_READ(databases));
    int64_t counting_since = time_mono_ms();
    if (store_prepare(path, &latest, keycount_tally_record, counted, &probe_err) < 0) {
        snprintf(err, errlen, "the copy does not open: %s", probe_err);
        free(probe_err);
        keycount_tally_free(counted);
        dataset_remove_download(path);
        return -1;
    }
    log_msg(LOG_NOTICE, "the copy flushed and its keys counted in %lld ms", (long long)(time_mono_ms() - counting_since));
    if (latest != sequence) {
        snprintf(err, errlen, "the copy holds sequence %llu, the master announced %llu", (unsigned long long)latest,
                 (unsigned long long)sequence);
        keycount_tally_free(counted);
        dataset_remove_download(path);
        return -1;
    }
    /* Named as a store (still unused) before the swap: a crash from here on leaves an unused
     * store, which the next start-up removes, or the new one in use. */
    if (path_of(name, store_path, sizeof(store_path)) < 0 || rename(path, store_path) < 0 ||
        file_sync_path(data_dir()) < 0) {
        snprintf(err, errlen, "can't rename '%s': %s", path, strerror(errno));
        keycount_tally_free(counted);
        dataset_remove_download(path);
        return -1;
    }
    pause_store_threads();
    if (keylock_global_exclusive_unless(give_up) < 0) {
        resume_store_threads(0);
        snprintf(err, errlen, "stopped before the swap");
        keycount_tally_free(counted);
        remove_store(name);
        return -1;
    }
    char old_name[NAME_MAX_LEN];
    snprintf(old_name, sizeof(old_name), "%s", current_name);
    int64_t began = time_mono_us();
    int pointed = 0;
    int rc = swap_locked(name, counted, &pointed, err, errlen);
    *pause_us = time_mono_us() - began;
    keylock_global_release();
    resume_store_threads(1);
    /* Both stores are whole: the next start-up opens the one named and removes the other. */
    if (rc == 0 || !pointed) remove_store(rc == 0 ? old_name : name);
    return rc;
}
