/* The master's side of a full sync (README, "Replication"): checkpoints of the database that
 * replicas download. PSYNC that cannot continue makes one (checkpoints_create) in
 * <dir>/repl-checkpoints/<id>; the replica lists its files and reads them in ranges over the
 * same link (FULLSYNC FILES, READ), then says it is done (FULLSYNC DONE), which removes it. A
 * checkpoint belongs to the client that asked for it: no other may see it, it goes when that
 * client leaves, and a client has at most one (asking again replaces it). While one exists,
 * the WAL after its sequence is kept (cdc/retention.h), so that the replica continues with
 * POLLUPDATES from there.
 *
 * Only the owner's thread removes its checkpoint (DONE, a new PSYNC, its disconnection), and
 * at shutdown nothing else runs: a file the owner reads cannot go while it reads it. */
#ifndef TIDEKV_REPL_CHECKPOINTS_H
#define TIDEKV_REPL_CHECKPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CHECKPOINTS_DIR "repl-checkpoints"
#define CHECKPOINT_ID_LEN 40
/* Checkpoints that may exist at once: each pins its files and the WAL after it. */
#define CHECKPOINTS_MAX 4
/* The most bytes one read returns. */
#define CHECKPOINT_READ_MAX (8 << 20)

typedef enum {
    CHECKPOINT_OK,
    CHECKPOINT_TOO_MANY,     /* CHECKPOINTS_MAX others exist */
    CHECKPOINT_FAILED,       /* RocksDB or the file system refused (message given) */
    CHECKPOINT_UNKNOWN,      /* no such checkpoint of this client */
    CHECKPOINT_NO_FILE,      /* the checkpoint has no such file */
    CHECKPOINT_BAD_OFFSET,   /* beyond the file's end */
} checkpoint_status;

/* Removes what an earlier run left in <store_dir>/repl-checkpoints (at start-up, before any
 * checkpoint is made) and remembers store_dir. */
void checkpoints_init(const char *store_dir);
/* Removes every checkpoint (shutdown, once no worker runs). */
void checkpoints_close(void);

/* Makes a checkpoint for client owner, replacing the one it has: its id (CHECKPOINT_ID_LEN
 * hex characters) in id, the sequence it holds exactly in *sequence. Flushes the memtables
 * first, then holds off every commit (the global lock's exclusive side) while RocksDB links
 * the files; the caller holds no key lock nor the global lock. CHECKPOINT_OK, TOO_MANY or
 * FAILED (why in err). */
checkpoint_status checkpoints_create(uint64_t owner, char id[CHECKPOINT_ID_LEN + 1], uint64_t *sequence, char *err,
                                     size_t errlen);
/* Calls each(arg, name, size) for every file of owner's checkpoint id (plain names, in the
 * order listed at creation). CHECKPOINT_OK or UNKNOWN. */
checkpoint_status checkpoints_files(uint64_t owner, const char *id, size_t idlen,
                                    void (*each)(void *arg, const char *name, uint64_t size), void *arg);
/* Appends to out up to count (<= CHECKPOINT_READ_MAX) bytes of file name from offset (none at
 * the end). CHECKPOINT_OK, UNKNOWN, NO_FILE, BAD_OFFSET or FAILED (why in err). */
checkpoint_status checkpoints_read(uint64_t owner, const char *id, size_t idlen, const char *name, size_t namelen,
                                   uint64_t offset, size_t count, buf *out, char *err, size_t errlen);
/* Removes owner's checkpoint id: CHECKPOINT_OK or UNKNOWN. */
checkpoint_status checkpoints_remove(uint64_t owner, const char *id, size_t idlen);
/* Removes owner's checkpoint, if it has one (the client left). Costs an atomic read when no
 * checkpoint exists. */
void checkpoints_client_gone(uint64_t owner);
/* How many checkpoints exist. */
int checkpoints_count(void);

#endif
