/* Active expiry: a background thread removes the keys whose expiry has passed, found through
 * the expiry index (storage/expire_index.h), so a key nobody reads goes a second or so after
 * its expiry (it must have been expired a second: see EXPIRED_FOR_MS), each one committed as
 * `DEL key` in its database, as a lookup that finds a key expired does (types/keyspace.h).
 *
 * Like Redis's slow expire cycle, it runs `hz` times a second and works at most 25% of each
 * period (+2% per step of `active-expire-effort` above 1), so a million keys expiring at once
 * are removed over seconds while clients go on. A key is locked, its record read again and
 * removed only if it is expired then: an entry whose key was rewritten since (another expiry,
 * PERSIST, a SET without one, DEL) is stale and skipped. */
#ifndef TIDEKV_EXPIRY_H
#define TIDEKV_EXPIRY_H

#include <stddef.h>
#include <stdint.h>

/* Pauses (0) or resumes (1) the removals, for tests of what a lookup does with an expired key
 * (DEBUG SET-ACTIVE-EXPIRE, as Redis's). */
void expiry_set_active(int on);

/* Keeps the thread from starting a cycle (waiting for one under way), and lets it go on: a
 * full sync replaces the store in between. */
void expiry_pause(void);
void expiry_resume(void);
/* Starts / stops the thread (stopped before the store closes). expiry_start returns 0 or -1. */
int expiry_start(void);
void expiry_stop(void);

/* One cycle, run by the thread (and by tests): removes the keys of databases [0, databases)
 * expired before cutoff_ms (the thread's: a second ago) that the index lists from where the
 * last cycle stopped, until none is left or budget_us of work is spent. Returns how many it
 * removed, or -1 on a storage error (logged; the next cycle starts again where this one
 * failed). */
long expiry_cycle(int databases, int64_t cutoff_ms, int64_t budget_us);

#endif
