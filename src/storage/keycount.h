/* Per-database key counts (DBSIZE, INFO keyspace), kept up to date by the commit path so that
 * reading them is O(1). The design is written down at the top of keycount.c. */
#ifndef TIDEKV_KEYCOUNT_H
#define TIDEKV_KEYCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* What a key's metadata record adds to its database's counts. */
typedef struct key_share {
    int8_t counted;    /* 0: nothing (missing, or an empty collection); 1: one key */
    uint8_t type;      /* its type as Redis sees it (a bitmap is a string); 0 if unreadable */
    int64_t expire_ms; /* the key's expiry when counted, 0 = none */
} key_share;

/* A key a txn read or wrote: what it held before the txn, and while staging, after its writes. */
typedef struct keycount_key {
    size_t key_off, key_len; /* its metadata key, in the delta's key bytes */
    uint64_t hash;           /* of the key */
    int db;
    int has_base;     /* base is known: read before any write of the txn to the key */
    size_t base_from; /* how many writes the txn had when base was read */
    key_share base, now;
    int now_big;      /* now is the share of a big record (keycount.c) */
    uint32_t staged;  /* the staging that set now (keycount_delta.staging) */
    uint32_t checked; /* the staging that looked for its base */
} keycount_key;

/* A metadata write as staged: the key (an index into keys) and what its new record counts for,
 * or a range deletion emptying database range_db (else -1). */
typedef struct keycount_write {
    size_t key;
    size_t index; /* among all the txn's writes */
    key_share after;
    int big; /* the new record is a big one */
    int range_db;
} keycount_write;

/* A write of metadata that replaced a key of another type (staging finds them for free): the
 * write's index among the txn's writes, and the type the key had (storage/txn.c tells the
 * change stream). */
typedef struct keycount_replaced {
    size_t index;
    uint8_t type;
} keycount_replaced;

/* One change to the counts. */
typedef struct keycount_change {
    uint8_t kind; /* KC_ADD, KC_REMOVE or KC_RESET */
    int db;
    int64_t expire_ms;
} keycount_change;

/* A key to read, with its index among the delta's keys. */
typedef struct fetch_key {
    const char *key;
    size_t len, index;
} fetch_key;

/* What a txn does to the counts: gathered from its reads and writes, applied when it commits.
 * A zeroed one is empty (a txn's, zeroed by txn_init). */
typedef struct keycount_delta {
    buf key_bytes;
    keycount_key *keys;
    size_t nkeys, keys_cap;
    size_t *slots; /* open addressing over keys: index + 1, 0 = empty */
    size_t nslots;
    keycount_change *changes;
    size_t nchanges, changes_cap;
    buf reads;      /* metadata records read (keycount_note_read), not yet in keys */
    uint32_t staging;
    keycount_write *writes; /* the metadata writes staged, in order */
    size_t nwrites, writes_cap;
    keycount_replaced *replaced; /* those of them that replaced a key of another type, in order */
    size_t nreplaced, replaced_cap;
    size_t *fetch; /* keys whose records from before the txn are to be read */
    size_t nfetch, fetch_cap;
    fetch_key *fetch_order; /* those keys being sorted */
    size_t fetch_order_cap;
    const char **fetch_keys; /* and their keys and lengths in order, for the batched read */
    size_t fetch_keys_cap;
    size_t *fetch_lens;
    size_t fetch_lens_cap;
} keycount_delta;

typedef struct keycount_stats {
    long long keys, expires;
    long long avg_ttl_ms; /* the mean time to live left of the keys with an expiry, 0 if none */
} keycount_stats;

/* Counts every key of the databases [0, databases) by one walk of the metadata column family
 * (the store is open, no client is served yet). Returns 0, or -1 on a read error. */
int keycount_load(int databases);
void keycount_free(void);
/* The same in two steps, for a store not open yet (a full sync's copy, counted while the old
 * store still serves): a tally fed every metadata record, then installed as the counts once
 * that store is open (keycount_load's result without its walk; t is consumed). */
typedef struct keycount_tally keycount_tally;
keycount_tally *keycount_tally_new(int databases);
/* Adds one metadata record (a void * tally, to serve as a walk's callback). */
void keycount_tally_record(void *tally, const char *key, size_t klen, const char *val, size_t vlen);
void keycount_tally_free(keycount_tally *t);
void keycount_install(keycount_tally *t);
/* How many keys the table of big records knows (tests). */
size_t keycount_big_records(void);
/* The hash the counts' tables give a metadata key; its seed is drawn by keycount_load. */
uint64_t keycount_key_hash(const char *key, size_t len);
/* Whether keycount_load ran: until then commits stage nothing. */
int keycount_loaded(void);

void keycount_delta_free(keycount_delta *d);
/* Forgets everything the delta noted (the txn is empty again). */
void keycount_delta_clear(keycount_delta *d);

/* Notes a metadata record the txn read while it had `writes` writes (found = 0: none), so
 * that staging need not read it again. */
void keycount_note_read(keycount_delta *d, size_t writes, const char *key, size_t klen, int found,
                        const char *val, size_t vlen);
/* Forgets the reads noted since reads.len was `mark`: a command rolled back may have read its
 * own writes, which are gone. */
void keycount_reads_rollback(keycount_delta *d, size_t mark);
/* Staging: keycount_stage_begin, then the txn's metadata writes, in order, from the first, then
 * keycount_stage_end. A write is the index of the write among all the txn's writes, the key,
 * and its new record (NULL for a deletion). */
void keycount_stage_begin(keycount_delta *d);
void keycount_stage_write(keycount_delta *d, size_t index, const char *key, size_t klen, const char *val,
                          size_t vlen);
/* A range deletion of metadata from `begin`, which is a whole database's namespace: the only
 * kind tidekv writes (FLUSHDB, FLUSHALL, APPLYBATCH refuses others). Returns 0, or -1 if the
 * range is not one. */
int keycount_stage_range(keycount_delta *d, const char *begin, size_t blen);
/* Replays the staged writes against the records they replace: those the txn did not read are
 * read (all at once) unless a recent commit left them. Returns 0, or -1 on a read error. */
int keycount_stage_end(keycount_delta *d);
/* Applies the staged changes (once the commit is written), the txn's clock at now_ms. */
void keycount_apply(const keycount_delta *d, int64_t now_ms);

/* The counts of a database at now_ms, with the staged changes of a txn not yet committed (or
 * NULL). Returns -1 if the counts were never loaded (a tool without a server), else 0. */
int keycount_get(int db, int64_t now_ms, const keycount_delta *pending, keycount_stats *out);

#endif
