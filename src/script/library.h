/* FUNCTION libraries (Redis 7 functions), shared by every worker: each library's name, code
 * and the functions its code registers. Each worker's Lua state runs the libraries' code
 * itself (script/engine.h) and starts again when the generation here moves on (any change).
 * The dump payload (FUNCTION DUMP / RESTORE) is tidekv's own: see library_payload_parse. */
#ifndef TIDEKV_SCRIPT_LIBRARY_H
#define TIDEKV_SCRIPT_LIBRARY_H

#include <stddef.h>
#include <stdint.h>

#include "storage/txn.h"
#include "util/buf.h"

/* Redis 7.0 gives this text for a bad library name and for a bad function name alike. */
#define ERR_LIBRARY_NAME                                                                                       \
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character " \
    "long"

typedef struct function_info {
    char *name;
    char *description; /* NULL: none given */
    int flags;         /* SCRIPT_FLAG_ values (script/shebang.h) */
} function_info;

typedef struct library {
    char *name;
    char *code;
    size_t code_len;
    function_info *fns;
    size_t nfns, fns_cap;
} library;

void library_init(library *lib);
void library_free(library *lib);
/* Appends a function (copies of name and description) to lib. */
void library_add_function(library *lib, const char *name, const char *description, int flags);

/* Names of libraries and functions: letters, digits and '_', at least one. */
int function_name_valid(const char *p, size_t len);

/* ---- the registry ----
 * The published libraries change only through a change: libraries_change_begin takes the
 * change lock and gives a working copy, the caller edits it, then either drops it
 * (libraries_change_abort) or hands it to the txn that writes it (libraries_change_stage): the
 * copy is published when that txn commits and dropped if it does not, and the lock is held
 * until then. So changes reach memory in the order they reach the disk, and only once they
 * are there. The thread whose txn holds changes not yet committed (FUNCTION LOAD, then FCALL
 * in one MULTI) sees its newest; every other thread sees the published libraries. */
typedef struct library_set library_set;

/* A working copy of the libraries this thread sees. Takes the change lock unless this
 * thread's txn holds it already (a second FUNCTION command in one MULTI). */
library_set *libraries_change_begin(void);
/* Drops a working copy (releasing the change lock if nothing else of this thread holds it). */
void libraries_change_abort(library_set *set);
/* Hands a working copy to t: published when t commits, dropped if it does not. */
void libraries_change_stage(library_set *set, txn *t);
/* Publishes a working copy at once (start-up: the libraries read from disk). */
void libraries_change_publish(library_set *set);

/* What becomes of the libraries already there when others are installed. */
enum { LIBRARIES_APPEND, LIBRARIES_REPLACE, LIBRARIES_FLUSH };

/* Installs n libraries at once into a working copy (all or none), taking them over on success
 * (the array's entries are then emptied). APPEND refuses a library whose name is taken, REPLACE
 * replaces it, FLUSH drops every library first; any policy refuses a function name that a
 * library left in place (or another new one) has. Returns 0 with the libraries FLUSH dropped
 * that no new one replaces in *dropped (free with libraries_free; the replaced ones are
 * freed), or -1 with the error in err:
 * "ERR Library <name> already exists" (the name in quotes when quote_name, as FUNCTION LOAD
 * words it) or "ERR Function <name> already exists". */
int libraries_install(library_set *set, library *libs, size_t n, int policy, int quote_name, buf *err,
                      library **dropped, size_t *ndropped);
/* Puts one library into a working copy, replacing the one of its name, without any check (a
 * replicated batch: libraries_check_functions afterwards). Takes lib over. */
void libraries_put(library_set *set, library *lib);
/* Deletes a library from a working copy: 1, or 0 if there is none of that name. */
int libraries_delete(library_set *set, const char *name, size_t len);
/* Whether each function name of a working copy is registered by one library only: 0, or -1
 * with "Function <name> already exists" in err. */
int libraries_check_functions(const library_set *set, buf *err);
/* Moves on at every change (as this thread sees the libraries). */
uint64_t libraries_generation(void);
/* A copy of every library this thread sees (sorted by name) and their generation; free with
 * libraries_free. */
library *libraries_copy(size_t *n, uint64_t *generation);
void libraries_free(library *libs, size_t n);
void libraries_counts(size_t *nlibs, size_t *nfns);

/* FUNCTION DUMP's payload: "TKFN", a version byte, a varint count, each library's code as a
 * varint length and its bytes, then the SHA-1 (40 hex digits) of all that precedes it. */
void library_payload_build(const library *libs, size_t n, buf *out);
/* Reads a payload: calls code() for each library's code in turn (after the whole payload has
 * been checked). Returns 0, or -1 if it is not a well-formed payload of this version. */
int library_payload_parse(const char *p, size_t len, void (*code)(void *arg, const char *code, size_t len),
                          void *arg);

#endif
