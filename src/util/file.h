/* Small whole-file reads and crash-safe whole-file writes. */
#ifndef TIDEKV_FILE_H
#define TIDEKV_FILE_H

#include <stddef.h>

#include "util/buf.h"

/* Replaces dir/name with data so that a crash leaves either the old file or the new one whole:
 * a temporary file is written and synced, renamed over name, and the directory synced.
 * Returns 0, or -1 with a message in err. */
int file_write_atomic(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen);
/* Syncs a file or directory to disk. 0, or -1 (errno set). */
int file_sync_path(const char *path);
/* Reads a whole file into out: 1 read, 0 it does not exist, -1 error (errno set). */
int file_read_all(const char *path, buf *out);
/* file_read_all of dir/name, with a message in err on error. */
int file_read_in(const char *dir, const char *name, buf *out, char *err, size_t errlen);
/* Writes all of p to fd, going on after short writes and EINTR. 0, or -1 (errno set). */
int file_write_all(int fd, const char *p, size_t len);
/* Removes path and, if it is a directory, everything under it (a missing path is no error).
 * Returns 0, or -1 with errno set. */
int file_remove_tree(const char *path);

#endif
