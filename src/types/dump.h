/* The data of a snapshot as the commands that rebuild it (SNAPSHOT READ, shared/CDC.md): first
 * FUNCTION's libraries, one entry each (db 0, FUNCTION LOAD REPLACE <code>: what the change
 * stream records for a FUNCTION LOAD; they pass every filter, as there), then key by
 * key, each as DEL key, then its value in pieces of at most a given number of elements (SET,
 * HSET, SADD, ZADD, RPUSH; a stream as XADD of each entry, then XSETID of its ids), then
 * PEXPIREAT when it has a TTL. A walk resumes from a position,
 * so a big collection is read across many calls and never held whole. */
#ifndef TIDEKV_DUMP_H
#define TIDEKV_DUMP_H

#include <stddef.h>

#include "storage/txn.h"
#include "util/buf.h"

/* Where a walk stands: the first key (in key order) at or after key in database db, or, when
 * in_key is set, inside that key at its element `member` (a field, member or list position).
 * Before the keys, db is DUMP_LIBRARIES and key the name of the first library still to come. */
#define DUMP_LIBRARIES (-1)
typedef struct dump_pos {
    int db;
    buf key;
    int in_key;
    buf member;
} dump_pos;

void dump_pos_init(dump_pos *p); /* the very start */
void dump_pos_free(dump_pos *p);
/* A client's cursor for a position: "0" for the start (the first library), else hex that
 * names it. */
void dump_cursor_encode(const dump_pos *p, buf *out);
/* Reads a cursor back (databases: how many there are): 0, or -1 if it is malformed. */
int dump_cursor_decode(const char *s, size_t len, int databases, dump_pos *p);

/* Which keys a walk keeps (as POLLUPDATES's MATCH, TYPE and DB). */
typedef struct dump_filter {
    const char *match; /* glob over keys, NULL = any */
    size_t match_len;
    int type;          /* key_type, 0 = any (a bitmap is a string) */
    int db;            /* -1 = any */
} dump_filter;

/* Receives what a walk produces: a key's part (begin_key, its commands, end_key). */
typedef struct dump_sink {
    void (*begin_key)(void *arg, int db);
    void (*command)(void *arg, size_t argc, const char *const *argv, const size_t *lens);
    void (*end_key)(void *arg);
    /* Whether what the sink holds, with `pending` bytes more of elements not yet given to
     * it, is all the reply may take (its byte bound); NULL: no bound but the count. */
    int (*full)(void *arg, size_t pending);
    void *arg;
} dump_sink;

/* Walks from pos through at most count elements (a library or a string is one; a key's DEL and
 * PEXPIREAT count for nothing) of the keys the filter keeps, live at t's clock (t reads a snapshot),
 * updating pos to where the next walk starts; pos->db reaches `databases` when all is read.
 * A walk also stops once the sink is full, after one element at least, so that a reply of big
 * elements stays within its byte bound. Returns 0, or -1 on a read error. */
STORE_MUST_CHECK int dump_walk(txn *t, int databases, const dump_filter *f, dump_pos *pos, size_t count,
                               const dump_sink *sink);

#endif
