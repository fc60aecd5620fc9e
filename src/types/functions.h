/* FUNCTION libraries on disk. Column family `propagate` (ENCODING.md reserves it for scripts)
 * holds one record per library:
 *     key   "function-lib:" <library name>
 *     value the library's code, shebang line included, as FUNCTION LOAD was given it
 * written through the txn of the FUNCTION command, so a library is durable with its commit. */
#ifndef TIDEKV_TYPES_FUNCTIONS_H
#define TIDEKV_TYPES_FUNCTIONS_H

#include <stddef.h>

#include "storage/txn.h"

void function_store_put(txn *t, const char *name, size_t nlen, const char *code, size_t clen);
void function_store_delete(txn *t, const char *name, size_t nlen);
/* Calls code() with each stored library's code, in name order. Returns 0, or -1 on a read
 * error (logged). */
int function_store_each(void (*code)(void *arg, const char *code, size_t len), void *arg);

/* Calls code() with each library's name and code as t sees them (t may read a snapshot), in
 * name order from the first named `from` or after, until code() returns nonzero. Returns 0,
 * or -1 on a read error. */
STORE_MUST_CHECK int function_store_walk(txn *t, const char *from, size_t flen,
                                         int (*code)(void *arg, const char *name, size_t nlen, const char *code,
                                                     size_t clen),
                                         void *arg);

#endif
