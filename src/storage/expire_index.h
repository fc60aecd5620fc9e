/* The expiry index (column family `expire`, tidekv's own, id 7): one entry per metadata record
 * that has an expiry, keyed [expire_ms u64 BE][metadata key] with an empty value
 * (enc_expire_key), so the keys that expire first are found first, without walking the
 * keyspace (the active expiry, types/expiry.c).
 *
 * Writing. The txn adds the entry beside every metadata put with an expiry, in the same batch
 * (storage/txn.c), so the index is crash-consistent with the data and no write path can miss
 * it; a record without an expiry (a plain SET) adds nothing. An entry is never updated in
 * place: one whose key was deleted or given another expiry since is stale, and whoever
 * reaches it checks the key's record (the active expiry, the compaction filter of this column
 * family, which drops the stale ones). A lookup that expires a key and an EXPIRE that replaces
 * an expiry delete the entry they know is stale.
 *
 * Entries behind the walk. The active expiry walks the index from where it stopped; an entry
 * written with a time already past may land behind that point, so a commit that writes one
 * says so (expire_index_note_written) and the walk goes back for it.
 *
 * Data from before the index. A database written by a tidekv without it is indexed once, at
 * start-up (expire_index_backfill); a file in the database directory says it was done. */
#ifndef TIDEKV_EXPIRE_INDEX_H
#define TIDEKV_EXPIRE_INDEX_H

/* In the database directory once every record is indexed: its presence is all that counts. */
#define EXPIRE_INDEX_DONE_FILE "expire-index"

#include <stdint.h>

/* Called by the txn after a commit that wrote index entries, with the earliest expiry among
 * them: one already past (at the time of the call) sends the walk back to it. */
void expire_index_note_written(int64_t earliest_ms);
/* The earliest past expiry written since the last call (INT64_MAX if none), for the walk. */
int64_t expire_index_take_rewind(void);

/* Indexes every metadata record with an expiry, unless the database directory says it was
 * done (then nothing is read). Runs before clients are served. Returns 0, or -1 on a read or
 * write error (logged). */
int expire_index_backfill(void);
/* Gives a checkpoint of the database in dir (storage/checkpoint.h) that file too if this
 * database has it: the copy's index is as complete. 0, or -1 with errno set. */
int expire_index_mark_copy(const char *dir);

#endif
