/* FUNCTION libraries between their code, the shared registry (script/library.h), each
 * thread's Lua state (script/engine.h) and the disk (types/functions.h). */
#ifndef TIDEKV_SCRIPT_FUNCTIONS_H
#define TIDEKV_SCRIPT_FUNCTIONS_H

#include <stddef.h>

#include "cdc/apply.h"
#include "script/engine.h"
#include "script/library.h"

/* Reads a library's code into lib (its name from the shebang, its code, the functions it
 * registers), running it in this thread's Lua state to see them. Returns 0, or -1 with
 * Redis's error text in err (and lib empty). */
int library_compile(const char *code, size_t len, library *lib, buf *err);

/* This thread's Lua state, holding the functions of the current libraries (they are loaded
 * again whenever the libraries changed since it last did). */
script_vm *functions_vm(void);

/* Keeps the libraries in memory in step with a raw batch's library records (APPLYBATCH, and
 * replicas next): its hooks go to cdc_apply_batch (apply_limits.libraries), which calls them
 * as it reads the batch; they build a working copy of the libraries (compiling each library
 * put, which must load and carry the name its record has; the function names must stay
 * unique). functions_batch_end then stages that copy in the txn the batch went to (applied) or
 * drops it. */
typedef struct functions_batch {
    apply_libraries hooks;
    library_set *set; /* NULL until the batch's first library record */
} functions_batch;

void functions_batch_init(functions_batch *b);
void functions_batch_end(functions_batch *b, txn *t, int applied);

/* Installs the libraries stored on disk in place of those in memory (at start-up, after a full
 * sync). Returns 0, or -1 on a read error. */
int functions_load_stored(void);

#endif
