/* APPLYBATCH's part for streams' consumer groups (the stream_group column family,
 * types/stream_group.h): each record a batch writes is checked as the server would need it,
 * and the groups' changes are recorded as the server's own group commands record them, so that
 * the change stream replays on Redis 7 to the same XINFO STREAM FULL.
 *
 * What the server relies on, and so what a batch must leave true (a group command that met
 * anything else would answer an error, count wrong, or hand out an entry twice):
 *   - every record decodes and holds what tidekv writes (sg_record_check);
 *   - a stream's metadata counts its groups; a group counts its consumers and its pending
 *     entries; a consumer counts its own pending entries (its 'O' records);
 *   - a pending entry 'P' of owner c has exactly one 'O' record, c's, and c is a consumer;
 *   - no consumer, pending entry or 'O' record outlives its group.
 * A pending id may be above the group's last delivered id (XGROUP SETID lowers it, XCLAIM
 * FORCE takes any entry) and its entry may be gone (XDEL and XTRIM leave the PEL as it is):
 * the server handles both, as Redis does, so neither is refused.
 *
 * How much is read: a stream recorded whole (new, recreated, or a change only a rebuild can
 * tell) has all its group records walked once, which its rebuild needs anyway. A stream that
 * keeps its version is checked by what the commit changed, from the state before it (which
 * holds the invariants, as every write that made it was checked): each group, consumer and
 * pending entry the commit writes is read before and after, and the counters must move by the
 * records added and removed (a pending entry added makes the group's count and its owner's one
 * more, with its 'O' record). So an XACK of one id in a group of a million pending entries
 * reads a few records, not the group. */
#ifndef TIDEKV_APPLY_GROUPS_H
#define TIDEKV_APPLY_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/encoding.h"
#include "storage/txn.h"
#include "types/stream_group.h"
#include "util/buf.h"

/* A group record the commit writes (names and the state before in the arena). */
typedef struct group_note group_note;

typedef struct apply_groups {
    txn *t;
    char *err;
    size_t errlen;
    group_note *notes;
    size_t nnotes, notes_cap;
    buf arena;    /* unescaped names and values before the commit */
    sg_subkey sk; /* scratch for decoding */
    buf scratch, value, name;
} apply_groups;

/* A stream the commit touches: where it is, and its metadata before and after. */
typedef struct group_stream {
    int db;
    const char *key;
    size_t klen;
    size_t index;       /* the key's index in the commit (apply.c's) */
    const meta *before; /* NULL when it was no stream of this version before */
    const meta *after;
} group_stream;

void apply_groups_init(apply_groups *g, txn *t, char *err, size_t errlen);
void apply_groups_free(apply_groups *g);
/* Forgets the commit's notes (the next commit starts). */
void apply_groups_clear(apply_groups *g);

/* A put (value given) or deletion (value NULL) of a group record: subkey is the whole key, sub
 * its part after the version. The record must decode, and a put's value hold what tidekv
 * writes. With read_before (the key was a stream of that version before the commit) its state
 * before is kept. 0, or -1 with the reason in err. */
int apply_groups_note(apply_groups *g, const group_stream *s, uint64_t version, const char *subkey, size_t subkey_len,
                      const char *sub, size_t sublen, const char *value, size_t vlen, int read_before);
/* Orders the notes by key and record; before any of the calls below. */
void apply_groups_sort(apply_groups *g);
/* Whether the commit writes group records of key index under that version. */
int apply_groups_written(const apply_groups *g, size_t index, uint64_t version);
/* A stream that keeps its version (s->before set): checks what the commit did to its groups
 * and records it (XGROUP CREATE / SETID / DESTROY, CREATECONSUMER, XCLAIM … FORCE JUSTID of
 * each pending entry made or changed, XACK of those removed, DELCONSUMER). 0 or -1. */
int apply_groups_describe_change(apply_groups *g, const group_stream *s);
/* A stream recorded whole: checks every group record it has and records its groups whole
 * (XGROUP CREATE, CREATECONSUMER, XCLAIM … FORCE JUSTID), as SNAPSHOT READ gives them. */
int apply_groups_rebuild(apply_groups *g, const group_stream *s);

#endif
