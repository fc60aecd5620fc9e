/* The master's side of a full sync (README, "Replication"): checkpoints of the database that
 * replicas download. PSYNC that cannot continue makes one (checkpoints_create) in
 * <dir>/repl-checkpoints/<id>; the replica lists its files and reads them in ranges over the
 * same link (FULLSYNC FILES, READ), then says it is done (FULLSYNC DONE), which removes it. A
 * checkpoint belongs to the client that asked for it: no other may see it, it goes when that
 * client leaves, and a client has at most one (asking again replaces it). While one exists,
 * the WAL after its sequence is kept (cdc/retention.h), so that the replica continues with
 * POLLUPDATES from there.
 *
 * Only the owner's worker removes its checkpoint (DONE, its disconnection), or a thread making
 * one for it (its next one, while the owner waits; or the new one, if the owner left), and at
 * shutdown nothing else runs: a file the owner reads cannot go while it reads it. */
#ifndef TIDEKV_REPL_CHECKPOINTS_H
#define TIDEKV_REPL_CHECKPOINTS_H

#include "repl/identity.h"
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
/* Waits for the checkpoints being made, then removes every checkpoint (shutdown, once no
 * worker runs). */
void checkpoints_close(void);

typedef struct checkpoint_result {
    checkpoint_status status;           /* CHECKPOINT_OK, TOO_MANY or FAILED */
    char id[CHECKPOINT_ID_LEN + 1];     /* CHECKPOINT_ID_LEN hex characters */
    uint64_t sequence;                  /* it holds exactly the commits up to this one */
    char replid[REPLID_LEN + 1];        /* the history it belongs to, read with the sequence */
    char err[512];                      /* why it FAILED */
} checkpoint_result;

/* Makes a checkpoint for client owner, replacing the one it has, on a thread of its own: a
 * flush first, then every commit held off (the global lock's exclusive side) while RocksDB
 * links the files, which takes from milliseconds to a second that no worker should wait.
 * done(arg, result) is called on that thread with the result; it returns 1 if the owner is
 * still there, or 0, and the checkpoint is removed. Meanwhile the owner sends nothing (it is
 * blocked), and its checkpoint is not removed by checkpoints_client_gone. Returns 0, or -1 if
 * the thread cannot start (done is not called). */
int checkpoints_create(uint64_t owner, int (*done)(void *arg, const checkpoint_result *result), void *arg);
/* While paused, no checkpoint is being made: the flush and the checkpoint itself use the store
 * without the global lock's shared side (a replica swapping its store holds this first).
 * Waits for the checkpoints being made, asking give_up between slices: a maker waits for the
 * global lock's exclusive side, which a thread holding the shared side may keep while it waits
 * for the caller (REPLICAOF joining the replica's thread). 0 when paused, -1 if it gave up. */
int checkpoints_pause(int (*give_up)(void));
void checkpoints_resume(void);
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
/* owner, a replica, polls from sequence on: it holds everything up to it. Removes its
 * checkpoint if that holds no more (the replica swapped it in and continues past it, whether or
 * not it says FULLSYNC DONE). Costs an atomic read when no checkpoint exists. */
void checkpoints_acknowledged(uint64_t owner, uint64_t sequence);
/* How many more seconds than repl-timeout a replica's link may stay silent: 0, or once owner
 * has read every byte of its checkpoint (it is swapping the copy in: opening it and counting
 * its keys takes about a second per million keys, some 10 MB of copy), a second per MB. */
long long checkpoints_swap_grace_s(uint64_t owner);

#endif
