/* What hashes, sets (and later lists and sorted sets) share: a metadata record with a version
 * and a size, and subkeys under [ns][key_len][key][version] in a subkey column family. */
#ifndef TIDEKV_COMPOUND_H
#define TIDEKV_COMPOUND_H

#include <stddef.h>
#include <stdint.h>

#include "storage/bounds.h"
#include "storage/encoding.h"
#include "storage/store.h"
#include "storage/txn.h"
#include "types/status.h"
#include "util/buf.h"

/* CK_CORRUPT: the stored data contradicts itself (a metadata record that does not decode, a
 * member's value that is not what its type stores, fewer members than the size says). */
enum { CK_ERROR = -1, CK_MISSING = 0, CK_FOUND = 1, CK_WRONGTYPE = 2, CK_CORRUPT = 3 };

/* A compound key being read or changed by one command. */
typedef struct compound {
    txn *t;
    int db;
    const char *key;
    size_t klen;
    meta m;   /* version, size, expiry; a fresh version when the key did not exist */
    buf raw;  /* the metadata record as read */
    int found;
} compound;

/* The type_status for a CK_* result (or compound_get's 1 found, 0 missing, -1 error). */
type_status compound_status(int ck);

/* Looks the key up as a given type: CK_FOUND, CK_MISSING (c->m is then a new, empty key
 * of that type), CK_WRONGTYPE, CK_CORRUPT or CK_ERROR. Free with compound_free. */
STORE_MUST_CHECK int compound_open(compound *c, txn *t, int db, const char *key, size_t klen, enum key_type type);
/* A compound over a key already looked up (m from ks_lookup; a new key has a fresh version
 * and found = 0). */
void compound_attach(compound *c, txn *t, int db, const char *key, size_t klen, const meta *m, int found);
void compound_free(compound *c);
/* Writes the metadata back (size changed); an empty key is deleted instead. */
void compound_save(compound *c);

/* The subkey for a member/field. */
void compound_subkey(const compound *c, buf *out, const char *sub, size_t sublen);
/* Reads a member's value: 1 found (value in out, may be NULL), 0 missing, -1 error. */
STORE_MUST_CHECK int compound_get(compound *c, const char *sub, size_t sublen, buf *out);
void compound_put(compound *c, const char *sub, size_t sublen, const char *val, size_t vlen);
void compound_del(compound *c, const char *sub, size_t sublen);

/* Iterates a key's members in order, from a member (inclusive) or the start. */
typedef struct compound_iter {
    bounded_walk walk;
} compound_iter;

void compound_iter_open(compound_iter *ci, compound *c, const char *from, size_t flen);
/* 1 with the next member and its value (valid until the next call), 0 at the end or on a read
 * error: compound_iter_close tells which. */
int compound_iter_next(compound_iter *ci, const char **sub, size_t *sublen, const char **val, size_t *vlen);
/* Frees the iterator: 0, or -1 if it stopped on a read error (what it listed is partial). */
STORE_MUST_CHECK int compound_iter_close(compound_iter *ci);
/* Reads the members of many keys of one database, key after key in key order, through
 * iterators it keeps across keys (a walk of a snapshot): opening an iterator costs more than
 * reading a small key. A subkey begins with its key's length, so among the subkeys the keys of
 * one length come in key order too: the reader keeps an iterator per length (for a few lengths
 * at once), which only ever moves forward. The txn must not write while a reader is open. */
typedef struct compound_reader compound_reader;
compound_reader *compound_reader_new(txn *t, int db);
/* compound_iter_open through the reader. c's key (in db) must come after every key of its
 * length that the reader has opened before; close the iterator before opening the next. */
void compound_iter_open_in(compound_iter *ci, compound_reader *r, compound *c, const char *from, size_t flen);
void compound_reader_free(compound_reader *r);
/* The last member (a copy in out): 1, 0 if there is none, -1 on a read error. */
STORE_MUST_CHECK int compound_last(compound *c, buf *out);

#endif
