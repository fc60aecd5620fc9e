#include "cdc/wal_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/store.h"
#include "util/log.h"

/* RocksDB's log format (db/log_format.h). */
#define LOG_BLOCK_SIZE 32768
#define LOG_HEADER_SIZE 7 /* checksum (4), length (2, little-endian), type (1); recycled logs add 4 */
enum log_record_type {
    LOG_ZERO = 0, /* preallocated space or a block's padding */
    LOG_FULL = 1,
    LOG_FIRST = 2,
    LOG_RECYCLABLE_FULL = 5,
    LOG_RECYCLABLE_FIRST = 6,
    LOG_SET_COMPRESSION = 9, /* 9, 10 and 11 (recyclable) describe the log, they hold no batch */
    LOG_TIMESTAMP_SIZE = 10,
    LOG_RECYCLABLE_TIMESTAMP_SIZE = 11,
};
#define BATCH_HEADER_BYTES 12 /* a write batch starts with its sequence (8) and count (4) */

static size_t record_header_size(unsigned type) {
    int recyclable =
        (type >= LOG_RECYCLABLE_FULL && type < LOG_SET_COMPRESSION) || type == LOG_RECYCLABLE_TIMESTAMP_SIZE;
    return recyclable ? LOG_HEADER_SIZE + 4 : LOG_HEADER_SIZE;
}

/* How much of a file's start is read: the first batch's header lies within it, since only a
 * few small records about the log itself may come before it. */
#define READ_BYTES 4096

static uint64_t get_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

int wal_file_first_sequence(const void *data, size_t len, uint64_t *seq) {
    const uint8_t *p = data;
    if (len > LOG_BLOCK_SIZE) len = LOG_BLOCK_SIZE; /* the first batch starts in the first block */
    size_t off = 0;
    while (off + LOG_HEADER_SIZE <= len) {
        unsigned type = p[off + 6];
        size_t header = record_header_size(type);
        size_t payload = (size_t)p[off + 4] | (size_t)p[off + 5] << 8;
        if (type == LOG_ZERO) return 0; /* nothing written yet */
        if (off + header + payload > LOG_BLOCK_SIZE) return -1; /* a record never crosses a block */
        if (type >= LOG_SET_COMPRESSION && type <= LOG_RECYCLABLE_TIMESTAMP_SIZE) {
            off += header + payload;
            continue;
        }
        /* Anything but a batch's start (unknown, or the middle of a record) is no file's start. */
        if (type != LOG_FULL && type != LOG_FIRST && type != LOG_RECYCLABLE_FULL && type != LOG_RECYCLABLE_FIRST)
            return -1;
        if (payload < BATCH_HEADER_BYTES) return -1;
        if (off + header + BATCH_HEADER_BYTES > len) return 0; /* not all read (or written) yet */
        *seq = get_u64le(p + off + header);
        return 1;
    }
    return 0;
}

/* ---- listing ---- */

/* First sequences read so far, by file number (a file's first batch never changes). */
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static wal_file *known;
static size_t nknown;

/* The first sequence of file number (0 if unknown). A file listed live may be moved to the
 * archive before it is read: then it is read there, not taken for one that holds nothing. */
static uint64_t read_first_sequence(uint64_t number, int archived) {
    for (int in_archive = archived; in_archive <= 1; in_archive++) {
        char path[4096];
        if (snprintf(path, sizeof(path), in_archive ? "%s/archive/%06llu.log" : "%s/%06llu.log", store_dir(),
                     (unsigned long long)number) >= (int)sizeof(path))
            return 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) continue;
        if (fd < 0) return 0;
        uint8_t head[READ_BYTES];
        ssize_t n = pread(fd, head, sizeof(head), 0);
        close(fd);
        uint64_t seq;
        return n > 0 && wal_file_first_sequence(head, (size_t)n, &seq) == 1 ? seq : 0;
    }
    return 0;
}

/* Adds the NNNNNN.log files of a directory to *files; -1 if it cannot be listed (one that
 * does not exist holds none). */
static int add_dir(const char *path, int archived, wal_file **files, size_t *n, size_t *cap) {
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        unsigned long long number = strtoull(de->d_name, &end, 10);
        if (end == de->d_name || strcmp(end, ".log") != 0) continue;
        char full[4096];
        struct stat sb;
        if (snprintf(full, sizeof(full), "%s/%s", path, de->d_name) >= (int)sizeof(full)) continue;
        if (stat(full, &sb) < 0) continue; /* archived or deleted meanwhile */
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            wal_file *grown = realloc(*files, *cap * sizeof(**files));
            if (!grown) abort();
            *files = grown;
        }
        (*files)[(*n)++] = (wal_file){number, 0, (uint64_t)sb.st_size, (int64_t)sb.st_mtime, archived};
    }
    closedir(d);
    return 0;
}

static int by_number(const void *a, const void *b) {
    const wal_file *x = a, *y = b;
    if (x->number != y->number) return x->number < y->number ? -1 : 1;
    return y->archived - x->archived; /* the archived copy first: a file moved while listed */
}

/* Drops the live entry of a file that was also seen archived (moved between the listings). */
static size_t drop_duplicates(wal_file *files, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || files[kept - 1].number != files[i].number) files[kept++] = files[i];
    return kept;
}

/* Fills in first sequences, from what is known or by reading the files; then remembers them. */
static void fill_first_sequences(wal_file *files, size_t n) {
    pthread_mutex_lock(&known_lock);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k < nknown && known[k].number < files[i].number) k++;
        if (k < nknown && known[k].number == files[i].number) {
            files[i].first_sequence = known[k].first_sequence;
            continue;
        }
        files[i].first_sequence = read_first_sequence(files[i].number, files[i].archived);
    }
    /* Only files still there are remembered, and only answers that will not change. */
    wal_file *kept = malloc((n ? n : 1) * sizeof(*kept));
    if (!kept) abort();
    size_t nkept = 0;
    for (size_t i = 0; i < n; i++)
        if (files[i].first_sequence) kept[nkept++] = files[i];
    free(known);
    known = kept;
    nknown = nkept;
    pthread_mutex_unlock(&known_lock);
}

int wal_files_list(wal_file **files, size_t *n) {
    char archive[4096];
    size_t cap = 0;
    *files = NULL;
    *n = 0;
    if (snprintf(archive, sizeof(archive), "%s/archive", store_dir()) >= (int)sizeof(archive)) return -1;
    /* Live files first: RocksDB moves a file to the archive, never back, so none is missed. */
    if (add_dir(store_dir(), 0, files, n, &cap) < 0 || add_dir(archive, 1, files, n, &cap) < 0) {
        free(*files);
        *files = NULL;
        *n = 0;
        return -1;
    }
    if (*n) qsort(*files, *n, sizeof(**files), by_number);
    *n = drop_duplicates(*files, *n);
    fill_first_sequences(*files, *n);
    return 0;
}

void wal_files_forget(void) {
    pthread_mutex_lock(&known_lock);
    free(known);
    known = NULL;
    nknown = 0;
    pthread_mutex_unlock(&known_lock);
}

int wal_files_delete_archived(const wal_file *f) {
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/archive/%06llu.log", store_dir(), (unsigned long long)f->number) >=
        (int)sizeof(path))
        return -1;
    if (unlink(path) < 0 && errno != ENOENT) {
        log_msg(LOG_WARNING, "can't delete the archived WAL file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- what files hold ---- */

uint64_t wal_files_last_sequence(const wal_file *files, size_t n, size_t i, uint64_t latest) {
    for (size_t j = i + 1; j < n; j++)
        if (files[j].first_sequence) return files[j].first_sequence - 1;
    return latest;
}

uint64_t wal_files_bytes_after(const wal_file *files, size_t n, uint64_t pos, uint64_t latest) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (wal_files_last_sequence(files, n, i, latest) > pos) bytes += files[i].size;
    return bytes;
}

uint64_t wal_files_oldest_sequence(const wal_file *files, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (files[i].first_sequence) return files[i].first_sequence;
        /* Bytes whose first sequence could not be read may hold older changes than the next
         * file's: the answer is unknown, not that file's first. */
        if (files[i].size > 0) return 0;
    }
    return 0;
}

size_t wal_files_to_purge(const wal_file *files, size_t n, uint64_t latest, const wal_retention *r) {
    uint64_t archived_bytes = 0;
    for (size_t i = 0; i < n && files[i].archived; i++) archived_bytes += files[i].size;
    size_t purge = 0;
    for (; purge < n && files[purge].archived; purge++) {
        const wal_file *f = &files[purge];
        if (r->pin != UINT64_MAX && wal_files_last_sequence(files, n, purge, latest) > r->pin) break;
        int no_limits = r->ttl_s == 0 && r->max_bytes == 0;
        int too_old = r->ttl_s > 0 && r->now_s - f->mtime_s > r->ttl_s;
        int too_big = r->max_bytes > 0 && archived_bytes > r->max_bytes;
        if (!no_limits && !too_old && !too_big) break;
        archived_bytes -= f->size;
    }
    return purge;
}
