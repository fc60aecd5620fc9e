/* Striped key locks (read-modify-write commands on the same key serialize) and
 * per-stripe modification counters (WATCH). */
#ifndef TIDEKV_KEYLOCK_H
#define TIDEKV_KEYLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The hash that picks a key's lock stripe and watch slot. */
uint64_t keylock_hash(int db, const char *key, size_t klen);

/* Locks the stripes of the given hashes in a fixed order (no deadlock between commands
 * locking overlapping sets). hashes is sorted in place; duplicates are locked once. */
void keylock_acquire(uint64_t *hashes, size_t n);
void keylock_release(const uint64_t *hashes, size_t n);

/* Commands that touch every key (FLUSHDB, FLUSHALL) hold the exclusive side; all others the shared side. */
void keylock_global_shared(void);
void keylock_global_exclusive(void);
void keylock_global_release(void);

/* WATCH support: a counter per slot, bumped whenever a key hashing there is modified. */
uint64_t keylock_watch_version(uint64_t hash);
void keylock_watch_bump(uint64_t hash);
/* Bumped by FLUSHDB/FLUSHALL: every watch is invalidated. */
uint64_t keylock_flush_epoch(void);
void keylock_flush_bump(void);

#endif
