/* The tail cache: the most recent committed batches, kept in memory in sequence order, so
 * consumers that follow the stream closely read it without touching the WAL. Older
 * positions are read from the WAL (cdc/wal.h). */
#ifndef TIDEKV_TAIL_H
#define TIDEKV_TAIL_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/wal.h"
#include "util/buf.h"

/* Sets the memory budget (bytes of batches kept, and of their renderings); 0 disables the
 * cache. A batch larger than half of it is not kept: its readers, and those of the batches
 * before it, read the WAL. */
void tail_init(size_t capacity_bytes);
void tail_free(void);
/* Records a committed batch; its header carries the sequence RocksDB assigned. Returns the
 * sequence up to which every commit can now be read, from the cache or (once evicted, or
 * with the cache disabled) from the WAL: a commit of another worker still on its way keeps it
 * below this batch. 0 if the batch holds no change. */
uint64_t tail_append(const char *batch, size_t len);

typedef enum {
    TAIL_TOO_OLD,      /* from is before what the cache holds: read the WAL */
    TAIL_OK,           /* batches (possibly none yet) were lent or their renderings copied */
    TAIL_UNSHARED,     /* no shared renderings here: nothing was copied, render it yourself */
} tail_status;

/* A cached batch, shared by the cache and the readers that borrowed it. */
typedef struct tail_batch {
    _Atomic int refs;
    size_t len;
    char data[];
} tail_batch;

/* Batches lent to a reader: they stay valid, unchanged, until returned, even once evicted. */
typedef struct tail_loan {
    tail_batch **batches;
    int n, cap;
} tail_loan;

/* Lends up to max_batches whole batches holding sequences >= from, in order and without
 * gaps, into loan (a zeroed one). Nothing is copied, so a reader never holds the cache's lock
 * for long, however large the batches. Lent batches that the cache evicts meanwhile are not
 * counted in its budget until they are given back. */
tail_status tail_read(uint64_t from, int max_batches, tail_loan *loan);
/* Gives the batches back and empties the loan. */
void tail_loan_return(tail_loan *loan);

/* Bytes the cache holds now: batches, and renderings of them (see tail_read_view). */
void tail_memory(size_t *batches, size_t *renderings);

/* Renderings kept beside each cached batch, one per output form that does not depend on the
 * reader (POLLUPDATES without filters: RAW, JSON, RESP2, RESP3, BINARY). Followers of the
 * stream read the same batches, so each is rendered once and copied to all of them. */
#define TAIL_VIEWS 5

/* Renders one commit (a batch of its own, header included) into out: 1 if it is shown, 0 if
 * the view leaves it out (nothing written), -1 if it cannot be decoded. */
typedef int (*tail_render_fn)(void *arg, const wal_batch *commit, buf *out);

typedef struct tail_view {
    int id; /* which rendering, 0 .. TAIL_VIEWS-1; all users of an id must render alike */
    tail_render_fn render;
    void *arg;
} tail_view;

/* What a view read covered. */
typedef struct tail_span {
    int shown;      /* renderings appended */
    uint64_t first; /* the first sequence covered, 0 if none */
    uint64_t last;  /* the last sequence covered */
    int held_back;  /* a commit was left out: it would have taken out past fit_len */
} tail_span;

/* How far behind the newest cached sequence renderings are shared: where followers of the
 * stream read. A consumer catching up from further back would fill memory with
 * renderings nobody else reads, so it renders for itself. */
#define TAIL_SHARED_SEQUENCES 65536

/* Appends the renderings of the commits holding sequences >= from, in order and without gaps,
 * while fewer than max_shown are shown and out is shorter than max_len (a commit is appended
 * whatever its size while out is shorter), until the cached run ends or a commit would take a
 * non-empty out past fit_len (span->held_back; into an empty out the first always goes). A batch is
 * rendered for a view when first read in it and shared by every later read; renderings take
 * at most half the memory budget, the oldest dropped first. TAIL_UNSHARED, with nothing
 * appended, when from is TAIL_SHARED_SEQUENCES or more behind the newest cached sequence, or
 * when a commit cannot be rendered (rendering it uncached reports that) or its rendering is too
 * big to keep. TAIL_TOO_OLD also when the batches at from left the cache while being rendered. */
tail_status tail_read_view(uint64_t from, int max_shown, size_t max_len, size_t fit_len, const tail_view *v,
                           buf *out, tail_span *span);

#endif
