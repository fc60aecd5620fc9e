/* Striped key locks (read-modify-write commands on the same key serialize) and
 * per-stripe modification counters (WATCH). */
#ifndef TIDEKV_KEYLOCK_H
#define TIDEKV_KEYLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The hash that picks a key's lock stripe and watch slot. */
uint64_t keylock_hash(int db, const char *key, size_t klen);

/* Every wait for a busy lock asks this, every few milliseconds, whether to stop waiting (a
 * script that runs past its time limit holds locks that the waiters may never get, and a
 * worker stuck waiting would never read the SCRIPT KILL that ends it). NULL: wait for good. */
void keylock_set_give_up(int (*should_give_up)(void));

/* Locks the stripes of the given hashes in a fixed order (no deadlock between commands
 * locking overlapping sets). hashes is sorted in place; duplicates are locked once.
 * Returns 0, or -1 holding none if it gave up waiting. */
int keylock_acquire(uint64_t *hashes, size_t n);
void keylock_release(const uint64_t *hashes, size_t n);

#define KEYLOCK_STRIPES 4096

/* The stripes a write group holds, taken one command at a time (see cmd/dispatch.h). */
typedef struct keylock_set {
    uint64_t held[KEYLOCK_STRIPES / 64]; /* bitmap of the stripes held */
    uint16_t *stripes;                   /* the same, as a list, for release */
    size_t n, cap;
} keylock_set;

void keylock_set_init(keylock_set *s);
void keylock_set_free(keylock_set *s);
/* Adds the stripes of the hashes that the calling thread does not hold yet (in this set or
 * otherwise: a thread serving blocked clients under its command's locks). With may_wait (only for
 * a holder of nothing but the shared global lock, which cannot deadlock) it waits for busy
 * ones; otherwise it only tries them. Returns 0 when all are held, or -1 without taking any
 * if one is busy (without may_wait) or it gave up waiting. */
int keylock_set_add(keylock_set *s, uint64_t *hashes, size_t n, int may_wait);
void keylock_set_release(keylock_set *s);
/* Whether the set holds the stripe of any of the hashes. */
int keylock_set_holds_any(const keylock_set *s, const uint64_t *hashes, size_t n);
/* keylock_acquire without waiting: returns -1, holding none, if a stripe is busy. */
int keylock_try_acquire(uint64_t *hashes, size_t n);

/* Commands that touch every key (FLUSHDB, FLUSHALL) hold the exclusive side; all others the
 * shared side. Return 0, or -1 (not holding it) if they gave up waiting. */
int keylock_global_shared(void);
int keylock_global_exclusive(void);
/* keylock_global_exclusive that also gives up when give_up says so (asked every few ms). */
int keylock_global_exclusive_unless(int (*give_up)(void));
void keylock_global_release(void);
/* For a command that may run beside a lock holder that waits for it (a busy script waits for
 * SCRIPT KILL): 1 if holder_lets_through says such a holder runs, the command then running
 * without the lock until keylock_global_skip_end; 0 (not counted) if it must take the lock.
 * The exclusive side, once taken, waits for the commands that skipped it (a store swap must
 * not close the store under them). */
int keylock_global_skip_begin(int (*holder_lets_through)(void));
void keylock_global_skip_end(void);
/* Whether the calling thread holds the global lock (a write group, a script, EXEC). */
int keylock_global_held(void);

/* WATCH support: a counter per slot, bumped whenever a key hashing there is modified. */
uint64_t keylock_watch_version(uint64_t hash);
void keylock_watch_bump(uint64_t hash);
/* A counter per database, bumped when it is emptied (FLUSHDB, FLUSHALL): the watches of the
 * keys it held are invalidated. */
uint64_t keylock_flush_epoch(int db);
void keylock_flush_bump(int db);

#endif
