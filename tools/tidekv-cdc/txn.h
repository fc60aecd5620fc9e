/* A MULTI/EXEC sent to a Redis-protocol server in one pipeline: commands are queued in
 * hiredis's output buffer, then written together and every reply read. */
#ifndef TIDEKV_CDC_TXN_H
#define TIDEKV_CDC_TXN_H

#include <hiredis/hiredis.h>

#include "report.h"

typedef struct txn {
    redisContext *c;
    const char *what; /* the server, for messages */
    int db;           /* the database the next queued command runs in */
    size_t queued;    /* commands between MULTI and EXEC */
    /* each queued command's name, to say which one the server refused */
    const char **names;
    size_t *name_lens;
    size_t cap;
    int oom;
    long long refused; /* commands that failed inside EXEC (the others took effect) */
} txn;

/* Queues MULTI; the connection is in database 0 between transactions. */
void txn_begin(txn *t, redisContext *c, const char *what);

/* Queues SELECT db unless the transaction is in db already. */
void txn_select(txn *t, int db);

/* Queues a command (a SELECT among them moves the transaction's database). */
void txn_add(txn *t, int argc, const char **argv, const size_t *argvlen);

/* Queues SELECT 0 if needed and EXEC, sends everything and reads every reply. A command the
 * server refused while queueing aborts the whole transaction: CDC_FATAL with its error (or
 * CDC_RETRY if the server was loading). Commands that fail inside EXEC are counted in
 * t->refused and logged; the rest of the transaction stands, as in Redis. */
cdc_status txn_exec(txn *t, cdc_error *e);

void txn_free(txn *t);

#endif
