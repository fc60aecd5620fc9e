#include "repl/fullsync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "repl/checkpoints.h"
#include "util/file.h"
#include "util/log.h"
#include "util/timeutil.h"

/* A checkpoint's files are a few per level of the tree and per WAL file: far fewer than this.
 * A master that lists more (or names a file that could escape the directory) is not trusted. */
#define MAX_FILES 100000
#define MAX_NAME 255

typedef struct remote_file {
    char name[MAX_NAME + 1];
    uint64_t size;
} remote_file;

/* The download's progress, for INFO (any thread). */
static struct {
    pthread_mutex_t lock;
    int in_progress;
    uint64_t total, read;
    int64_t last_io_ms; /* monotonic */
} progress = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void progress_set(int in_progress, uint64_t total) {
    pthread_mutex_lock(&progress.lock);
    progress.in_progress = in_progress;
    progress.total = total;
    progress.read = 0;
    progress.last_io_ms = time_mono_ms();
    pthread_mutex_unlock(&progress.lock);
}

static void progress_add(uint64_t n) {
    pthread_mutex_lock(&progress.lock);
    progress.read += n;
    progress.last_io_ms = time_mono_ms();
    pthread_mutex_unlock(&progress.lock);
}

int fullsync_in_progress(void) {
    pthread_mutex_lock(&progress.lock);
    int in = progress.in_progress;
    pthread_mutex_unlock(&progress.lock);
    return in;
}

void fullsync_info(buf *out) {
    pthread_mutex_lock(&progress.lock);
    buf_printf(out, "master_sync_in_progress:%d\r\n", progress.in_progress);
    if (progress.in_progress) {
        uint64_t left = progress.total > progress.read ? progress.total - progress.read : 0;
        double perc = progress.total ? (double)progress.read * 100 / (double)progress.total : 0;
        buf_printf(out,
                   "master_sync_total_bytes:%llu\r\nmaster_sync_read_bytes:%llu\r\nmaster_sync_left_bytes:%llu\r\n"
                   "master_sync_perc:%.2f\r\nmaster_sync_last_io_seconds_ago:%lld\r\n",
                   (unsigned long long)progress.total, (unsigned long long)progress.read, (unsigned long long)left,
                   perc, (long long)(time_mono_ms() - progress.last_io_ms) / 1000);
    }
    pthread_mutex_unlock(&progress.lock);
}

/* ---- the file list ---- */

/* A plain file name: no directory part, nothing that leaves the directory. */
static int is_plain_name(const char *s, size_t len) {
    return len > 0 && len <= MAX_NAME && !memchr(s, '/', len) && !memchr(s, '\0', len) &&
           !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

/* Checks FULLSYNC FILES's reply (name, size, name, size …) and copies it into *files. 0, or -1
 * (logged). */
static int parse_files(const redisReply *r, remote_file **files, size_t *n, uint64_t *total) {
    if (r->type == REDIS_REPLY_ERROR) {
        log_msg(LOG_WARNING, "replica: the master refused FULLSYNC FILES: %.*s", (int)r->len, r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0 || r->elements / 2 > MAX_FILES) {
        log_msg(LOG_WARNING, "replica: the master's FULLSYNC FILES reply is malformed");
        return -1;
    }
    *n = r->elements / 2;
    *total = 0;
    *files = calloc(*n ? *n : 1, sizeof(**files));
    if (!*files) abort();
    for (size_t i = 0; i < *n; i++) {
        const redisReply *name = r->element[2 * i], *size = r->element[2 * i + 1];
        int ok = name->type == REDIS_REPLY_STRING && is_plain_name(name->str, name->len) &&
                 size->type == REDIS_REPLY_INTEGER && size->integer >= 0;
        for (size_t j = 0; ok && j < i; j++) ok = strcmp((*files)[j].name, name->str) != 0;
        if (!ok) {
            log_msg(LOG_WARNING, "replica: the master's FULLSYNC FILES lists a bad file (entry %zu)", i);
            free(*files);
            return -1;
        }
        memcpy((*files)[i].name, name->str, name->len);
        (*files)[i].size = (uint64_t)size->integer;
        *total += (*files)[i].size;
    }
    return 0;
}

/* ---- downloading ---- */

/* FULLSYNC READ id name offset count: the bulk string's bytes, or NULL (logged). */
static redisReply *read_chunk(const fullsync_link *link, const char *id, const remote_file *f, uint64_t offset,
                              uint64_t count) {
    char off[24], cnt[24];
    snprintf(off, sizeof(off), "%llu", (unsigned long long)offset);
    snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)count);
    const char *argv[6] = {"FULLSYNC", "READ", id, f->name, off, cnt};
    redisReply *r = link->call(link->c, 6, argv);
    if (!r) return NULL;
    if (r->type != REDIS_REPLY_STRING || r->len > count) {
        log_msg(LOG_WARNING, "replica: the master answered FULLSYNC READ of '%s' at %llu with %s%.*s", f->name,
                (unsigned long long)offset, r->type == REDIS_REPLY_ERROR ? "" : "an unexpected reply",
                r->type == REDIS_REPLY_ERROR ? (int)r->len : 0, r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Copies one file into fd: exactly its announced size, then nothing more (a read at its end
 * must be empty). 0, or -1 (logged). */
static int copy_file(const fullsync_link *link, const char *id, const remote_file *f, int fd) {
    uint64_t offset = 0;
    for (;;) {
        uint64_t want = f->size - offset < FULLSYNC_CHUNK ? f->size - offset : FULLSYNC_CHUNK;
        redisReply *r = read_chunk(link, id, f, offset, want ? want : 1);
        if (!r) return -1;
        size_t got = r->len;
        int rc = 0;
        if (want == 0 && got > 0) {
            log_msg(LOG_WARNING, "replica: '%s' is longer than the %llu bytes the master announced", f->name,
                    (unsigned long long)f->size);
            rc = -1;
        } else if (want > 0 && got == 0) {
            log_msg(LOG_WARNING, "replica: '%s' ends at %llu bytes, the master announced %llu", f->name,
                    (unsigned long long)offset, (unsigned long long)f->size);
            rc = -1;
        } else if (got > 0 && file_write_all(fd, r->str, got) < 0) {
            log_msg(LOG_WARNING, "replica: can't write '%s': %s", f->name, strerror(errno));
            rc = -1;
        }
        freeReplyObject(r);
        if (rc < 0 || want == 0) return rc;
        offset += got;
        progress_add(got);
    }
}

/* Downloads every file into dir, each synced, then dir itself. 0, or -1 (logged). */
static int download(const fullsync_link *link, const char *id, const remote_file *files, size_t n, const char *dir) {
    for (size_t i = 0; i < n; i++) {
        char path[4096 + MAX_NAME + 2];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            log_msg(LOG_WARNING, "replica: can't create '%s': %s", path, strerror(errno));
            return -1;
        }
        int rc = copy_file(link, id, &files[i], fd);
        if (rc == 0 && fsync(fd) < 0) {
            log_msg(LOG_WARNING, "replica: can't sync '%s': %s", path, strerror(errno));
            rc = -1;
        }
        close(fd);
        if (rc < 0) return -1;
    }
    if (file_sync_path(dir) < 0) {
        log_msg(LOG_WARNING, "replica: can't sync '%s': %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Lists the checkpoint's files, downloads them and swaps them in. 0, or -1 (logged). */
static int fetch_and_swap(const fullsync_link *link, const char *id, uint64_t sequence) {
    const char *argv[3] = {"FULLSYNC", "FILES", id};
    redisReply *r = link->call(link->c, 3, argv);
    if (!r) return -1;
    remote_file *files = NULL;
    size_t n = 0;
    uint64_t total = 0;
    int rc = parse_files(r, &files, &n, &total);
    freeReplyObject(r);
    if (rc < 0) return -1;
    progress_set(1, total);
    char dir[4096], name[64];
    rc = dataset_new_download(dir, sizeof(dir), name, sizeof(name));
    int64_t began = time_mono_ms();
    if (rc == 0) {
        log_msg(LOG_NOTICE, "replica: downloading %zu files, %llu bytes, into '%s'", n, (unsigned long long)total, dir);
        rc = download(link, id, files, n, dir);
        if (rc < 0) dataset_remove_download(dir);
    }
    free(files);
    if (rc < 0) return -1;
    log_msg(LOG_NOTICE, "replica: downloaded in %lld ms; swapping the store", (long long)(time_mono_ms() - began));
    int64_t pause_us;
    char err[512];
    /* A checkpoint for a replica of ours flushes and links the store without the global lock:
     * none may be in the making while the store closes. */
    if (checkpoints_pause(link->stopping) < 0) {
        dataset_remove_download(dir);
        log_msg(LOG_WARNING, "replica: full sync stopped before the swap, the old data is kept");
        return -1;
    }
    rc = dataset_swap(dir, name, sequence, link->stopping, &pause_us, err, sizeof(err));
    checkpoints_resume();
    if (rc < 0) {
        log_msg(LOG_WARNING, "replica: full sync failed, the old data is kept: %s", err);
        return -1;
    }
    log_msg(LOG_NOTICE, "replica: the master's data up to sequence %llu is the store now ('%s'); clients waited %lld us",
            (unsigned long long)sequence, name, (long long)pause_us);
    return 0;
}

int fullsync_run(const fullsync_link *link, const char *id, uint64_t sequence) {
    log_msg(LOG_NOTICE, "replica: full sync from the master's checkpoint %s at sequence %llu", id,
            (unsigned long long)sequence);
    int rc = fetch_and_swap(link, id, sequence);
    progress_set(0, 0);
    return rc;
}
