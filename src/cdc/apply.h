/* APPLYBATCH: a raw write batch, from tidekv's POLLUPDATES FORMAT RAW or from Apache Kvrocks,
 * staged in a txn with a change record that tells what the batch really does.
 *
 * The batch's puts of the expiry index (CF_EXPIRE, tidekv's own) are dropped: the txn writes
 * the entries of the metadata it stages itself (its deletions of stale entries are kept).
 *
 * The batch's own LogData records are never trusted: they are dropped, and each commit of
 * the batch (a LogData record that follows writes starts the next one, as in a group-
 * committed WAL record) gets a record made from its writes: every key they touch is compared
 * before and after them. Strings become SET/DEL; members of a hash, set or sorted set that
 * keeps its version become HSET/HDEL, SADD/SREM, ZADD/ZREM (and PEXPIREAT/PERSIST when only
 * the expiry changed); a stream that keeps its version becomes XADD of the entries added, its
 * consumer groups' changes as the group commands record them (cdc/apply_groups.h), XTRIM/XDEL
 * of the entries removed and XSETID of counters those do not explain; anything else (lists,
 * recreated or retyped keys) is rebuilt whole from its state after the batch: DEL, its
 * contents (a stream's: XADD of each entry, XSETID, its groups), PEXPIREAT. A whole database's
 * range deletion is FLUSHDB. So the record is true by construction.
 *
 * FUNCTION's libraries (CF_PROPAGATE, ENC_LIBRARY_PREFIX <name> → code) are the one record of
 * that column family the batch may write: each put becomes FUNCTION LOAD REPLACE <code>, each
 * deletion of a library there was FUNCTION DELETE <name>, and the caller's apply_libraries is
 * told of them (it keeps the libraries in memory in step). */
#ifndef TIDEKV_APPLY_H
#define TIDEKV_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "storage/txn.h"

/* Who keeps FUNCTION's libraries in memory, told of the batch's library records as they are
 * read, before the commit they belong to is staged. library(): a put (code given) or a
 * deletion (code NULL) of the named library; returns 1 if it changes something (a deleted
 * library existed), 0 if not, -1 to refuse the batch (the reason in err). commit_done(): a
 * commit with library records was read whole; 0, or -1 to refuse the batch. */
typedef struct apply_libraries {
    int (*library)(void *arg, const char *name, size_t nlen, const char *code, size_t clen, char *err,
                   size_t errlen);
    int (*commit_done)(void *arg, char *err, size_t errlen);
    void *arg;
} apply_libraries;

/* What the server takes, from its configuration. */
typedef struct apply_limits {
    int databases;           /* keys of databases 0 … databases-1 */
    uint64_t max_string_len; /* proto-max-bulk-len: no bitmap may hold a longer string */
    const apply_libraries *libraries; /* NULL: library records are refused */
    /* A replica's batch, written as it is (txn_commit_verbatim): its writes are checked and
     * staged only so that the txn knows what they change; no change record is made. */
    int verbatim;
} apply_limits;

/* Stages a raw batch in t: its writes and one change record per commit. The batch may write
 * only what tidekv writes: keys of the configured databases, tidekv's column families,
 * FUNCTION's library records (no other record of CF_PROPAGATE), metadata tidekv can read
 * (lists with room to grow at both ends, bitmaps no longer than max_string_len, streams whose
 * extras agree with themselves and with their entries, consumer groups whose records agree
 * with each other and their counts), well-formed subkeys and stream entries,
 * a sorted set's score index in agreement with its members; range deletions only of whole
 * databases.
 * The caller holds every key's lock (the before state must not move). Returns the number
 * of commits staged (0 for a batch of LogData only), or -1 with a Redis error text in err
 * and nothing staged. */
int cdc_apply_batch(txn *t, const char *data, size_t len, const apply_limits *limits, char *err, size_t errlen);

#endif
