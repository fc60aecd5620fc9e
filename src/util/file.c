#define _XOPEN_SOURCE 700 /* nftw */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int file_write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int file_write_atomic(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen) {
    char path[4096], tmp[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    const char *step = "creating";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto failed;
    step = "writing";
    if (file_write_all(fd, data, len) < 0) goto failed_open;
    step = "syncing";
    if (fsync(fd) < 0) goto failed_open;
    step = "closing";
    if (close(fd) < 0) goto failed;
    step = "renaming";
    if (rename(tmp, path) < 0) goto failed;
    step = "syncing the directory of";
    if (file_sync_path(dir) < 0) goto failed; /* so that the rename survives a crash */
    return 0;
failed_open:;
    int saved = errno;
    close(fd);
    errno = saved;
failed:
    snprintf(err, errlen, "%s %s: %s", step, tmp, strerror(errno));
    return -1;
}

int file_sync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int file_read_all(const char *path, buf *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0) break;
        buf_append(out, chunk, (size_t)n);
    }
    close(fd);
    return 1;
}

int file_read_in(const char *dir, const char *name, buf *out, char *err, size_t errlen) {
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    int found = file_read_all(path, out);
    if (found < 0) snprintf(err, errlen, "can't read %s: %s", path, strerror(errno));
    return found;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    int rc = type == FTW_DP ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

int file_remove_tree(const char *path) {
    /* Depth first, so that a directory is empty when its turn comes; symbolic links are
     * removed, never followed. */
    int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0 && errno == ENOENT ? 0 : rc;
}
