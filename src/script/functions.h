/* FUNCTION libraries between their code, the shared registry (script/library.h), each
 * thread's Lua state (script/engine.h) and the disk (types/functions.h). */
#ifndef TIDEKV_SCRIPT_FUNCTIONS_H
#define TIDEKV_SCRIPT_FUNCTIONS_H

#include <stddef.h>

#include "script/engine.h"
#include "script/library.h"

/* Reads a library's code into lib (its name from the shebang, its code, the functions it
 * registers), running it in this thread's Lua state to see them. Returns 0, or -1 with
 * Redis's error text in err (and lib empty). */
int library_compile(const char *code, size_t len, library *lib, buf *err);

/* This thread's Lua state, holding the functions of the current libraries (they are loaded
 * again whenever the libraries changed since it last did). */
script_vm *functions_vm(void);

/* Installs the libraries stored on disk (at start-up). Returns 0, or -1 on a read error. */
int functions_load_stored(void);

#endif
