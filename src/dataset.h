/* The data set the server serves: the store (storage/location.h says where it lives in the
 * data directory) and everything loaded from it into memory (key counts, function
 * libraries, CDC consumers, the tail cache's start). Opened once at start-up, and swapped for
 * a copy of a master's store by a replica's full sync (repl/fullsync.h), in-process: clients
 * stay connected and wait. */
#ifndef TIDEKV_DATASET_H
#define TIDEKV_DATASET_H

#include <stddef.h>
#include <stdint.h>

/* Finds the store through the pointer file, removes what interrupted full syncs and swaps
 * left (downloads, unused stores), opens it and loads what the server keeps in memory (a
 * replica indexes no expiry itself: its master's batches carry the index). 0, or -1 (logged,
 * nothing left open). */
int dataset_open(int replica);
/* Closes it all (shutdown, after the threads that use it have stopped). */
void dataset_close(void);

/* A new empty directory beside the store for a full sync's download: its path into path, and
 * into name the store name it becomes once swapped in. 0, or -1 (logged). */
int dataset_new_download(char *path, size_t len, char *name, size_t name_len);
/* Removes a download that is not swapped in. */
void dataset_remove_download(const char *path);

/* Makes the complete download at path (files synced) the store, named name, provided it opens
 * and its latest sequence is `sequence`. The old store stays until the new one is open and
 * the pointer file names it; it is removed after. While the swap runs no command touches the
 * store: it holds the global key lock exclusively (every command takes its shared side, those
 * without keys too), with the background threads that use the store stopped; snapshots are
 * released, blocked POLLUPDATES fail (the history they read is gone), WATCHed keys are
 * touched. give_up is asked while waiting for the lock (the replica stops). The time clients
 * were kept waiting goes to *pause_us. Returns 0; or -1 with the reason in err, the old store
 * still in place and the download removed (kept as an unused store when the pointer file
 * may name it: the next start-up opens the one named and removes the other). */
int dataset_swap(const char *path, const char *name, uint64_t sequence, int (*give_up)(void), int64_t *pause_us,
                 char *err, size_t errlen);

#endif
