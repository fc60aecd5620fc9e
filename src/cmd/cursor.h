/* SCAN-family cursors: the number a client passes back, mapped to where the next call starts.
 * Cursors are kept in a fixed table; one that has been recycled (or is from another key or
 * database) is refused rather than silently restarting the scan. */
#ifndef TIDEKV_CURSOR_H
#define TIDEKV_CURSOR_H

#include "cmd/cmd.h"
#include "util/buf.h"

/* Remembers a resume position for a scope (what is scanned: a database, a key). */
unsigned long long cursor_save(const buf *scope, const char *pos, size_t plen);
/* Parses the cursor argument and, unless it is 0, appends its resume position to pos.
 * Replies "ERR invalid cursor" and returns -1 if it is not a cursor of this scope. */
int cursor_resume(cmd_ctx *ctx, const resp_arg *arg, const buf *scope, buf *pos);
/* Replies one page of a scan: [next cursor, [items...]], the items already written to body
 * (with reply_part: a scan stops once its part is cut). */
void cursor_reply_page(cmd_ctx *ctx, unsigned long long next, long long items, const buf *body);

#endif
