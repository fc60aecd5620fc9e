/* Streams' consumer groups (Redis 7.0's XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
 * XAUTOCLAIM, XINFO GROUPS / CONSUMERS), kept record by record so that no command loads a group
 * whole: a group with a million pending entries costs XACK a point write per id and XPENDING a
 * walk of the range it shows.
 *
 * Column family 8, `stream_group` (tidekv's own). Every record is a subkey of its stream: the
 * usual prefix [ns][key_len u32][key][version u64], so it goes with its key's version (DEL,
 * expiry, a stream made anew) as entries do, then a tag byte and the names, each escaped so
 * that names sort as Redis's radix tree sorts them (bytewise) and end unambiguously: a 0x00 byte
 * is written 0x00 0xFF, and a name ends with 0x00 0x01.
 *   'G' group                       the group: last delivered id (ms u64, seq u64), entries read
 *                                   (i64, -1 unknown), pending entries u64, consumers u64 (40 B)
 *   'C' group consumer              a consumer: seen time (unix ms, i64), pending entries u64
 *   'P' group id(16)                the group's pending entry list (PEL), in id order: delivery
 *                                   time (unix ms, i64), delivery count u64, then the owning
 *                                   consumer's name (the rest of the value, raw)
 *   'O' group consumer id(16)       the consumer's own PEL, in id order (empty value): XPENDING …
 *                                   consumer and XREADGROUP's history without a scan of the group
 * All integers big-endian. The stream's metadata counts its groups (stream_extras.groups).
 *
 * Statuses as types/stream.h's, and ST_NO_GROUP (the stream has no such group), ST_EXISTS
 * (XGROUP CREATE of a group there is). */
#ifndef TIDEKV_TYPES_STREAM_GROUP_H
#define TIDEKV_TYPES_STREAM_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "storage/encoding.h"
#include "storage/txn.h"
#include "types/status.h"
#include "types/stream.h"
#include "util/buf.h"
#include "util/slice.h"

/* ---- records ---- */

enum { SG_TAG_GROUP = 'G', SG_TAG_CONSUMER = 'C', SG_TAG_PEL = 'P', SG_TAG_OWNED = 'O' };
#define SG_ENTRIES_READ_UNKNOWN (-1)

typedef struct sg_group {
    stream_id last_id; /* last delivered id */
    int64_t entries_read;
    uint64_t pending, consumers;
} sg_group;

typedef struct sg_consumer {
    int64_t seen_ms;
    uint64_t pending;
} sg_consumer;

/* A pending entry; consumer points into the value it was decoded from. */
typedef struct sg_nack {
    int64_t delivery_ms;
    uint64_t count;
    slice consumer;
} sg_nack;

#define SG_GROUP_BYTES 40
#define SG_CONSUMER_BYTES 16
#define SG_NACK_HEAD_BYTES 16

void sg_group_encode(buf *out, const sg_group *g);
void sg_consumer_encode(buf *out, const sg_consumer *c);
void sg_nack_encode(buf *out, const sg_nack *n);
/* Each 0, or -1 if the value is not of that record's size (a nack: shorter than its head). */
int sg_group_decode(const char *v, size_t len, sg_group *g);
int sg_consumer_decode(const char *v, size_t len, sg_consumer *c);
int sg_nack_decode(const char *v, size_t len, sg_nack *n);

/* A record's subkey after the key's prefix: the tag and what it names (consumer for 'C' and
 * 'O', id for 'P' and 'O'). */
typedef struct sg_subkey {
    uint8_t tag;
    buf group, consumer; /* unescaped */
    stream_id id;
} sg_subkey;

/* Appends the subkey of a record to out. */
void sg_subkey_encode(buf *out, uint8_t tag, slice group, slice consumer, stream_id id);
/* Decodes a subkey into s (its bufs initialised by the caller): 0, or -1 if it is malformed
 * (an unknown tag, a name without its end, a bad escape, a wrong length). */
int sg_subkey_decode(const char *p, size_t len, sg_subkey *s);
/* Whether a record's value (of the record s names) is one this server writes and can replay
 * on Redis 7: a group's entries read -1 or more, a consumer's seen time and a pending entry's
 * delivery time not before 1970 (idle times are now minus them), a delivery count that fits
 * XCLAIM's RETRYCOUNT (i64), no pending entry 0-0 (no entry has that id), an 'O' record
 * empty. 0, or -1. */
int sg_record_check(const sg_subkey *s, const char *v, size_t len);

/* ---- XGROUP ---- */

/* XGROUP CREATE: id NULL for "$" (the stream's last id); entries_read as given (-1: unknown).
 * ST_MISSING for a missing key without mkstream (which makes an empty stream). */
type_status stream_group_create(txn *t, int db, const char *key, size_t klen, slice group, const stream_id *id,
                                int64_t entries_read, int mkstream, sg_group *created);
/* XGROUP SETID: id NULL for "$". The group as set in *after. */
type_status stream_group_set_id(txn *t, int db, const char *key, size_t klen, slice group, const stream_id *id,
                                int64_t entries_read, sg_group *after);
/* XGROUP DESTROY: *destroyed 1 or 0 (no such group). ST_MISSING for a missing key. */
type_status stream_group_destroy(txn *t, int db, const char *key, size_t klen, slice group, int *destroyed);
/* XGROUP CREATECONSUMER: *created 1, or 0 if it was there. */
type_status stream_consumer_create(txn *t, int db, const char *key, size_t klen, slice group, slice consumer,
                                   int *created);
/* XGROUP DELCONSUMER: *pending its pending entries (which go with it), -1 if it was not there. */
type_status stream_consumer_delete(txn *t, int db, const char *key, size_t klen, slice group, slice consumer,
                                   long long *pending);

/* ---- XREADGROUP ---- */

/* What a read changed, for its change records: each delivery (a pending entry made or updated:
 * its id and state after), and the group's last id and entries read when they moved. */
typedef struct sg_read_hooks {
    void *arg;
    /* an entry served: fields NULL for a pending entry whose entry was deleted */
    int (*entry)(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems);
    void (*delivered)(void *arg, stream_id id, const sg_nack *n, stream_id group_last_id);
} sg_read_hooks;

typedef struct sg_read_result {
    int served;            /* the key goes in the reply (maybe with no entries: history) */
    int consumer_created;  /* the read made the consumer */
    int group_moved;       /* the group's last id moved: group holds it */
    sg_group group;
    long long n;           /* entries served */
} sg_read_result;

/* XREADGROUP of one key: with history NULL the entries after the group's last delivered id
 * (`>`), else the consumer's pending entries after *history. At most count (0: all). Serves
 * nothing (served 0) when `>` finds no entry past the group's last id, unless signalled (a
 * blocked reader that a new entry woke, cmd/blocking.h) and the stream's last id is past it:
 * then it serves what there is, maybe nothing. The one place that decides whether a group read
 * has anything to serve. ST_NO_GROUP for a missing key or group. */
type_status stream_group_read(txn *t, int db, const char *key, size_t klen, slice group, slice consumer,
                              const stream_id *history, long long count, int noack, int signalled,
                              const sg_read_hooks *hooks, sg_read_result *result);

/* ---- XACK, XPENDING ---- */

/* XACK: *acked counts the ids that were pending. A missing key or group acks nothing (ST_OK). */
type_status stream_group_ack(txn *t, int db, const char *key, size_t klen, slice group, const stream_id *ids,
                             size_t n, long long *acked);

typedef struct sg_pending_summary {
    uint64_t count;
    stream_id first, last;
} sg_pending_summary;
/* XPENDING's summary: the count and edges, then each consumer with pending entries in name
 * order. ST_NO_GROUP for a missing key or group. */
type_status stream_group_pending_summary(txn *t, int db, const char *key, size_t klen, slice group,
                                         sg_pending_summary *sum,
                                         void (*consumer)(void *arg, slice name, uint64_t pending), void *arg);
/* XPENDING's extended form: the pending entries start <= id <= end (of one consumer unless it
 * is NULL) idle at least min_idle ms, at most count; visit gets each with its idle time. */
typedef int (*sg_nack_visit_fn)(void *arg, stream_id id, const sg_nack *n, int64_t idle_ms);
type_status stream_group_pending_range(txn *t, int db, const char *key, size_t klen, slice group,
                                       const slice *consumer, int64_t min_idle, stream_id start, stream_id end,
                                       long long count, sg_nack_visit_fn visit, void *arg);

/* ---- XCLAIM, XAUTOCLAIM ---- */

typedef struct sg_claim_args {
    slice consumer;
    int64_t min_idle;
    int64_t delivery_ms; /* -1: now */
    int64_t retry_count; /* -1: one more unless justid */
    int force, justid;
    stream_id last_id; /* LASTID (0-0: none) */
} sg_claim_args;

/* What a claim did, for replies and change records: each entry claimed (with its fields unless
 * justid), each pending entry dropped because its entry was deleted. */
typedef struct sg_claim_hooks {
    void *arg;
    int (*claimed)(void *arg, stream_id id, const sg_nack *n, stream_entry_reader *fields, size_t nitems);
    void (*dropped)(void *arg, stream_id id);
    void (*consumer_created)(void *arg); /* the claim made its consumer */
} sg_claim_hooks;

/* XCLAIM of n ids. *group_moved when LASTID moved the group's last id (group then holds it). */
type_status stream_group_claim(txn *t, int db, const char *key, size_t klen, slice group, const sg_claim_args *a,
                               const stream_id *ids, size_t n, const sg_claim_hooks *hooks, int *group_moved,
                               sg_group *g);
/* XAUTOCLAIM from start, at most count entries (claimed or dropped) looking at 10 * count;
 * *next is where to go on (0-0: the end). */
type_status stream_group_autoclaim(txn *t, int db, const char *key, size_t klen, slice group,
                                   const sg_claim_args *a, stream_id start, long long count,
                                   const sg_claim_hooks *hooks, stream_id *next);

/* ---- XINFO, dumps ---- */

/* Redis 7.0's lag of a group (XINFO GROUPS): 0 with it in *lag, or -1 when it cannot be told. */
int stream_group_lag(const meta *stream, const sg_group *g, long long *lag);
/* Visits the stream's groups in name order (until visit returns nonzero), from the group named
 * *from on (NULL: all). */
type_status stream_groups_walk(txn *t, int db, const char *key, size_t klen, const meta *m, const slice *from,
                               int (*visit)(void *arg, slice name, const sg_group *g), void *arg);
/* Visits a group's consumers in name order (until visit returns nonzero), from the consumer
 * named *from on (NULL: all). */
type_status stream_consumers_walk(txn *t, int db, const char *key, size_t klen, const meta *m, slice group,
                                  const slice *from, int (*visit)(void *arg, slice name, const sg_consumer *c),
                                  void *arg);
/* Looks a group up: ST_OK, ST_MISSING (no key), ST_NO_GROUP. The stream's metadata in *m. */
type_status stream_group_get(txn *t, int db, const char *key, size_t klen, slice group, meta *m, sg_group *g);
/* Visits a group's pending entries (of one consumer unless it is NULL) in id order from the id
 * from on, at most count (0: all); idle_ms of each from the txn's clock. */
type_status stream_pel_walk(txn *t, int db, const char *key, size_t klen, const meta *m, slice group,
                            const slice *consumer, stream_id from, long long count, sg_nack_visit_fn visit,
                            void *arg);

#endif
