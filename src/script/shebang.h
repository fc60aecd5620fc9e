/* A script's shebang line (Redis 7): "#!lua flags=no-writes,allow-oom …" as the first line of
 * an EVAL script or a FUNCTION library. */
#ifndef TIDEKV_SCRIPT_SHEBANG_H
#define TIDEKV_SCRIPT_SHEBANG_H

#include <stddef.h>

#include "util/buf.h"

enum script_flag {
    SCRIPT_FLAG_NO_WRITES = 1 << 0,
    SCRIPT_FLAG_ALLOW_OOM = 1 << 1,
    SCRIPT_FLAG_ALLOW_STALE = 1 << 2,
    SCRIPT_FLAG_NO_CLUSTER = 1 << 3,
    SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1 << 4,
    /* No shebang: a script as before Redis 7 (EVAL_RO alone makes it read-only). */
    SCRIPT_FLAG_EVAL_COMPAT = 1 << 5,
};

/* The flag of a name ("no-writes" …), or 0 if none has it. */
int script_flag_named(const char *p, size_t len);
/* The name of one flag. */
const char *script_flag_name(int flag);

/* Reads the flags of a script body into *flags, and the length of its shebang line (0 if it
 * has none) into *line_len. Returns 0, or -1 with Redis's error text (without "ERR ") in err. */
int script_parse_shebang(const char *body, size_t len, int *flags, size_t *line_len, buf *err);

/* Reads a FUNCTION library's first line, "#!lua name=<library>", appending the name to name
 * and the line's length to *line_len. Returns 0, or -1 with Redis's error text (without
 * "ERR ") in err. The name is not checked here (see function_name_valid). */
int library_parse_shebang(const char *body, size_t len, buf *name, size_t *line_len, buf *err);

#endif
