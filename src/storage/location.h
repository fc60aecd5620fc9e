/* Where the store lives inside the data directory. Normally in the directory itself; after a
 * full sync (repl/fullsync.h) in a subdirectory store-<n> that a pointer file names. Moving to
 * another store is one atomic rename of that file, so a crash at any moment leaves the data
 * directory naming either the old store or the new one, each whole. */
#ifndef TIDEKV_LOCATION_H
#define TIDEKV_LOCATION_H

#include <stddef.h>

/* The pointer file's name in the data directory: it holds the store's subdirectory name; no
 * file means the data directory itself. */
#define LOCATION_FILE "store-location"
/* The names of the stores a full sync makes, and of their directories while downloading. */
#define LOCATION_STORE_PREFIX "store-"
#define LOCATION_DOWNLOAD_PREFIX "sync-"
#define LOCATION_DOWNLOAD_SUFFIX ".tmp"

/* The store's directory, as the pointer file in dir names it, into out (dir itself when there
 * is none). The subdirectory's name only, without dir, into name (empty for dir itself).
 * Returns 0, or -1 with a message in err (an unreadable or malformed pointer file). */
int location_resolve(const char *dir, char *out, size_t len, char *name, size_t name_len, char *err, size_t errlen);
/* Makes the pointer file name the subdirectory name (empty: dir itself), crash-safely. 0, or
 * -1 with a message in err. */
int location_set(const char *dir, const char *name, char *err, size_t errlen);
/* Whether name is one a full sync gives a store (store-<digits>). */
int location_is_store_name(const char *name);

#endif
