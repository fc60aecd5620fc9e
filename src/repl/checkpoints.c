#define _GNU_SOURCE /* pthread_rwlock_clockwrlock: waits on the monotonic clock */
#include "repl/checkpoints.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdc/retention.h"
#include "repl/identity.h"
#include "storage/checkpoint.h"
#include "storage/keylock.h"
#include "storage/store.h"
#include "util/file.h"
#include "util/grow.h"
#include "util/log.h"
#include "util/timeutil.h"

typedef struct checkpoint_file {
    char *name;
    uint64_t size;
} checkpoint_file;

typedef struct checkpoint {
    char id[CHECKPOINT_ID_LEN + 1];
    uint64_t owner;    /* the client's id */
    uint64_t sequence; /* it holds exactly the commits up to this one */
    char replid[REPLID_LEN + 1]; /* its history, read with the sequence (a swap may change it) */
    uint64_t hold;     /* retention_hold's handle; 0 before it is taken */
    int ready;         /* made and listed: until then it only takes its slot */
    uint64_t bytes;    /* in all its files */
    uint64_t served;   /* bytes its owner read (once all are, it swaps the copy in) */
    checkpoint_file *files;
    size_t nfiles, cap;
} checkpoint;

static struct {
    pthread_mutex_t lock;
    checkpoint *slots[CHECKPOINTS_MAX];
    char dir[PATH_MAX - 512]; /* <store dir>/repl-checkpoints; empty if that is too long */
    atomic_int count;   /* slots taken */
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void path_of(const checkpoint *cp, char *out, size_t len) { snprintf(out, len, "%s/%s", reg.dir, cp->id); }

static void remove_dir(const char *path) {
    if (file_remove_tree(path) < 0) log_msg(LOG_WARNING, "can't remove '%s': %s", path, strerror(errno));
}

void checkpoints_init(const char *store_dir) {
    /* Room is left for "/<id>/<file name>" after it. */
    if (snprintf(reg.dir, sizeof(reg.dir), "%s/%s", store_dir, CHECKPOINTS_DIR) >= (int)sizeof(reg.dir)) {
        log_msg(LOG_WARNING, "the data directory's path is too long for full syncs' checkpoints");
        reg.dir[0] = '\0';
        return;
    }
    remove_dir(reg.dir); /* a replica that was downloading one when the server stopped asks again */
}

/* Removes a checkpoint that no slot holds any more: its files, its hold on the WAL. */
static void destroy(checkpoint *cp) {
    char path[PATH_MAX];
    path_of(cp, path, sizeof(path));
    if (reg.dir[0]) remove_dir(path); /* else none was made */
    if (cp->hold) retention_unhold(cp->hold);
    for (size_t i = 0; i < cp->nfiles; i++) free(cp->files[i].name);
    free(cp->files);
    free(cp);
}

/* Empties the slot holding cp; the caller holds the lock. */
static void clear_slot_locked(const checkpoint *cp) {
    for (int i = 0; i < CHECKPOINTS_MAX; i++) {
        if (reg.slots[i] != cp) continue;
        reg.slots[i] = NULL;
        atomic_fetch_sub(&reg.count, 1);
    }
}

/* The slot's checkpoint of owner, ready or not; the caller holds the lock. */
static checkpoint *owned_locked(uint64_t owner) {
    for (int i = 0; i < CHECKPOINTS_MAX; i++)
        if (reg.slots[i] && reg.slots[i]->owner == owner) return reg.slots[i];
    return NULL;
}

/* Owner's ready checkpoint named id; the caller holds the lock. */
static checkpoint *find_locked(uint64_t owner, const char *id, size_t idlen) {
    checkpoint *cp = owned_locked(owner);
    if (!cp || !cp->ready || idlen != CHECKPOINT_ID_LEN || memcmp(cp->id, id, idlen) != 0) return NULL;
    return cp;
}

/* Takes a free slot for cp, after giving up owner's old checkpoint (*old, to destroy).
 * Returns 0, or -1 if all are taken. */
static int take_slot(checkpoint *cp, checkpoint **old) {
    pthread_mutex_lock(&reg.lock);
    *old = owned_locked(cp->owner);
    if (*old) clear_slot_locked(*old);
    int taken = -1;
    for (int i = 0; i < CHECKPOINTS_MAX && taken < 0; i++) {
        if (reg.slots[i]) continue;
        reg.slots[i] = cp;
        atomic_fetch_add(&reg.count, 1);
        taken = 0;
    }
    pthread_mutex_unlock(&reg.lock);
    return taken;
}

/* Lists the checkpoint's files (RocksDB writes only plain files there). 0, or -1 with errno. */
static int list_files(checkpoint *cp, const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int rc = 0;
    while (rc == 0) {
        errno = 0; /* readdir's NULL is the end unless it sets errno */
        struct dirent *e = readdir(d);
        if (!e) {
            rc = errno ? -1 : 0;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = -1;
        } else if (!S_ISREG(st.st_mode)) {
            errno = EISDIR; /* a copy without it would not be the database */
            rc = -1;
        } else {
            cp->files = grow_array(cp->files, &cp->cap, cp->nfiles + 1, sizeof(*cp->files), 16);
            cp->files[cp->nfiles].name = strdup(e->d_name);
            if (!cp->files[cp->nfiles].name) abort();
            cp->files[cp->nfiles++].size = (uint64_t)st.st_size;
        }
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc;
}

/* RocksDB's error as the reason, freed. */
static int fail_with(char *rocksdb_err, const char *what, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: %s", what, rocksdb_err);
    free(rocksdb_err);
    return -1;
}

/* The checkpoint itself, while no commit can land: its sequence is then exact, and the WAL
 * after it is held before any later commit exists. */
static int link_files(checkpoint *cp, const char *path, int64_t *locked_us, char *err, size_t errlen) {
    if (keylock_global_exclusive() < 0) {
        snprintf(err, errlen, "gave up waiting for the writers (a script is busy)");
        return -1;
    }
    *locked_us = time_mono_us();
    cp->sequence = store_latest_sequence();
    memcpy(cp->replid, identity_get().replid, sizeof(cp->replid));
    cp->hold = retention_hold(cp->sequence);
    char *rocksdb_err = NULL;
    int rc = store_checkpoint(path, &rocksdb_err);
    uint64_t after = store_latest_sequence();
    keylock_global_release();
    if (rc < 0) return fail_with(rocksdb_err, "can't create the checkpoint", err, errlen);
    if (after != cp->sequence) { /* a commit path that bypasses the global lock */
        snprintf(err, errlen, "the sequence moved from %llu to %llu during the checkpoint",
                 (unsigned long long)cp->sequence, (unsigned long long)after);
        return -1;
    }
    return 0;
}

/* Held shared while a checkpoint is made, exclusively by checkpoints_pause. */
static pthread_rwlock_t making = PTHREAD_RWLOCK_INITIALIZER;

/* How often checkpoints_pause asks whether to give up. */
#define PAUSE_SLICE_MS 10

int checkpoints_pause(int (*give_up)(void)) {
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += PAUSE_SLICE_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        if (pthread_rwlock_clockwrlock(&making, CLOCK_MONOTONIC, &until) == 0) return 0;
        if (give_up()) return -1;
    }
}
void checkpoints_resume(void) { pthread_rwlock_unlock(&making); }

/* Makes cp's directory: a flush first (without holding writers), then the checkpoint. */
static int make_directory(checkpoint *cp, char *err, size_t errlen) {
    char path[PATH_MAX];
    path_of(cp, path, sizeof(path));
    if (!reg.dir[0]) {
        snprintf(err, errlen, "the data directory's path is too long");
        return -1;
    }
    if (mkdir(reg.dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "can't create '%.300s': %s", reg.dir, strerror(errno));
        return -1;
    }
    int64_t started = time_mono_us();
    char *rocksdb_err = NULL;
    if (store_flush_all(&rocksdb_err) < 0) return fail_with(rocksdb_err, "can't flush the memtables", err, errlen);
    int64_t flushed = time_mono_us(), locked;
    if (link_files(cp, path, &locked, err, errlen) < 0) return -1;
    int64_t linked = time_mono_us();
    if (list_files(cp, path) < 0) {
        snprintf(err, errlen, "can't list '%.300s': %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < cp->nfiles; i++) cp->bytes += cp->files[i].size;
    log_msg(LOG_NOTICE,
            "full sync: checkpoint %s at sequence %llu for client %llu, %zu files, %llu bytes (flush %.1f ms, "
            "waiting for the writers %.1f ms, writers held %.1f ms)",
            cp->id, (unsigned long long)cp->sequence, (unsigned long long)cp->owner, cp->nfiles,
            (unsigned long long)cp->bytes, (flushed - started) / 1000.0, (locked - flushed) / 1000.0,
            (linked - locked) / 1000.0);
    return 0;
}

/* make_directory, never while the store is being swapped. */
static int make(checkpoint *cp, char *err, size_t errlen) {
    pthread_rwlock_rdlock(&making);
    int rc = make_directory(cp, err, errlen);
    pthread_rwlock_unlock(&making);
    return rc;
}

static checkpoint_status create(uint64_t owner, char id[CHECKPOINT_ID_LEN + 1], char replid[REPLID_LEN + 1],
                                uint64_t *sequence, char *err, size_t errlen) {
    checkpoint *cp = calloc(1, sizeof(*cp)), *old;
    if (!cp) abort();
    cp->owner = owner;
    identity_new_id(cp->id);
    int taken = take_slot(cp, &old);
    if (old) destroy(old);
    if (taken < 0) {
        free(cp);
        return CHECKPOINT_TOO_MANY;
    }
    if (make(cp, err, errlen) < 0) {
        pthread_mutex_lock(&reg.lock);
        clear_slot_locked(cp);
        pthread_mutex_unlock(&reg.lock);
        destroy(cp);
        return CHECKPOINT_FAILED;
    }
    memcpy(id, cp->id, CHECKPOINT_ID_LEN + 1);
    memcpy(replid, cp->replid, REPLID_LEN + 1);
    *sequence = cp->sequence;
    pthread_mutex_lock(&reg.lock);
    cp->ready = 1; /* from here on, its owner leaving removes it: cp is no longer ours to read */
    pthread_mutex_unlock(&reg.lock);
    return CHECKPOINT_OK;
}

checkpoint_status checkpoints_files(uint64_t owner, const char *id, size_t idlen,
                                    void (*each)(void *arg, const char *name, uint64_t size), void *arg) {
    pthread_mutex_lock(&reg.lock);
    const checkpoint *cp = find_locked(owner, id, idlen);
    for (size_t i = 0; cp && i < cp->nfiles; i++) each(arg, cp->files[i].name, cp->files[i].size);
    pthread_mutex_unlock(&reg.lock);
    return cp ? CHECKPOINT_OK : CHECKPOINT_UNKNOWN;
}

/* The file of cp named name (a plain name as listed: one with '/' or ".." is none of them). */
static const checkpoint_file *file_of(const checkpoint *cp, const char *name, size_t namelen) {
    for (size_t i = 0; i < cp->nfiles; i++)
        if (strlen(cp->files[i].name) == namelen && memcmp(cp->files[i].name, name, namelen) == 0) return &cp->files[i];
    return NULL;
}

/* Appends len bytes of fd from offset to out (fewer if the file is shorter). 0, or -1 with errno. */
static int read_range(int fd, uint64_t offset, size_t len, buf *out) {
    buf_reserve(out, len);
    while (len > 0) {
        ssize_t n = pread(fd, out->data + out->len, len, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        out->len += (size_t)n;
        offset += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static void note_served(uint64_t owner, const char *id, size_t idlen, size_t len) {
    pthread_mutex_lock(&reg.lock);
    checkpoint *cp = find_locked(owner, id, idlen);
    if (cp) cp->served += len;
    pthread_mutex_unlock(&reg.lock);
}

checkpoint_status checkpoints_read(uint64_t owner, const char *id, size_t idlen, const char *name, size_t namelen,
                                   uint64_t offset, size_t count, buf *out, char *err, size_t errlen) {
    char path[PATH_MAX];
    uint64_t size = 0;
    checkpoint_status status = CHECKPOINT_OK;
    pthread_mutex_lock(&reg.lock);
    const checkpoint *cp = find_locked(owner, id, idlen);
    const checkpoint_file *f = cp ? file_of(cp, name, namelen) : NULL;
    if (!cp) status = CHECKPOINT_UNKNOWN;
    else if (!f) status = CHECKPOINT_NO_FILE;
    else snprintf(path, sizeof(path), "%s/%s/%s", reg.dir, cp->id, f->name), size = f->size;
    pthread_mutex_unlock(&reg.lock); /* only this client's thread could remove the file */
    if (status != CHECKPOINT_OK) return status;
    if (offset > size) return CHECKPOINT_BAD_OFFSET;
    size_t len = size - offset < count ? (size_t)(size - offset) : count;
    if (len == 0) return CHECKPOINT_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || read_range(fd, offset, len, out) < 0) {
        snprintf(err, errlen, "can't read '%.300s': %s", path, strerror(errno));
        status = CHECKPOINT_FAILED;
    }
    if (fd >= 0) close(fd);
    if (status == CHECKPOINT_OK) note_served(owner, id, idlen, len);
    return status;
}

checkpoint_status checkpoints_remove(uint64_t owner, const char *id, size_t idlen) {
    pthread_mutex_lock(&reg.lock);
    checkpoint *cp = find_locked(owner, id, idlen);
    if (cp) clear_slot_locked(cp);
    pthread_mutex_unlock(&reg.lock);
    if (!cp) return CHECKPOINT_UNKNOWN;
    log_msg(LOG_NOTICE, "full sync: checkpoint %s removed", cp->id);
    destroy(cp);
    return CHECKPOINT_OK;
}

/* Removes owner's ready checkpoint if its sequence is at most up_to; why is logged. */
static void remove_owned_up_to(uint64_t owner, uint64_t up_to, const char *why) {
    if (atomic_load_explicit(&reg.count, memory_order_relaxed) == 0) return;
    pthread_mutex_lock(&reg.lock);
    checkpoint *cp = owned_locked(owner);
    /* One being made is its maker's to remove (checkpoints_create). */
    if (cp && (!cp->ready || cp->sequence > up_to)) cp = NULL;
    if (cp) clear_slot_locked(cp);
    pthread_mutex_unlock(&reg.lock);
    if (!cp) return;
    log_msg(LOG_NOTICE, "full sync: checkpoint %s removed, %s", cp->id, why);
    destroy(cp);
}

void checkpoints_client_gone(uint64_t owner) { remove_owned_up_to(owner, UINT64_MAX, "its client left"); }

void checkpoints_acknowledged(uint64_t owner, uint64_t sequence) {
    remove_owned_up_to(owner, sequence, "its replica holds its sequence");
}

long long checkpoints_swap_grace_s(uint64_t owner) {
    if (atomic_load_explicit(&reg.count, memory_order_relaxed) == 0) return 0;
    pthread_mutex_lock(&reg.lock);
    const checkpoint *cp = owned_locked(owner);
    long long grace = cp && cp->ready && cp->served >= cp->bytes ? (long long)(cp->bytes / 1000000) + 1 : 0;
    pthread_mutex_unlock(&reg.lock);
    return grace;
}

/* ---- making checkpoints on threads of their own ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t ended;
    int running;
} makers = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

typedef struct maker {
    uint64_t owner;
    int (*done)(void *arg, const checkpoint_result *result);
    void *arg;
} maker;

static void *maker_main(void *arg) {
    maker *m = arg;
    checkpoint_result r = {0};
    r.status = create(m->owner, r.id, r.replid, &r.sequence, r.err, sizeof(r.err));
    if (!m->done(m->arg, &r) && r.status == CHECKPOINT_OK) checkpoints_remove(m->owner, r.id, CHECKPOINT_ID_LEN);
    free(m);
    pthread_mutex_lock(&makers.lock);
    makers.running--;
    pthread_cond_broadcast(&makers.ended);
    pthread_mutex_unlock(&makers.lock);
    return NULL;
}

int checkpoints_create(uint64_t owner, int (*done)(void *arg, const checkpoint_result *result), void *arg) {
    maker *m = malloc(sizeof(*m));
    if (!m) abort();
    *m = (maker){owner, done, arg};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&makers.lock);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, maker_main, m);
    if (rc == 0) makers.running++;
    pthread_mutex_unlock(&makers.lock);
    pthread_attr_destroy(&attr);
    if (rc == 0) return 0;
    free(m);
    return -1;
}

void checkpoints_close(void) {
    pthread_mutex_lock(&makers.lock);
    while (makers.running > 0) pthread_cond_wait(&makers.ended, &makers.lock);
    pthread_mutex_unlock(&makers.lock);
    for (int i = 0; i < CHECKPOINTS_MAX; i++) {
        checkpoint *cp = reg.slots[i];
        if (!cp) continue;
        reg.slots[i] = NULL;
        atomic_fetch_sub(&reg.count, 1);
        destroy(cp);
    }
    if (reg.dir[0]) remove_dir(reg.dir);
}

