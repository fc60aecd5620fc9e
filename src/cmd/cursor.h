/* SCAN-family cursors as the client sees them: an unsigned 64-bit number in, a page out.
 * What a cursor means is types/scan_cursor.h's business. */
#ifndef TIDEKV_CURSOR_H
#define TIDEKV_CURSOR_H

#include <stdint.h>

#include "cmd/cmd.h"
#include "util/buf.h"

/* Parses a cursor as Redis does (strtoul: any unsigned 64-bit number, a sign allowed, "-1"
 * wrapping around); replies "ERR invalid cursor" and returns -1 if it is not one. */
int cursor_parse(cmd_ctx *ctx, const resp_arg *arg, uint64_t *cursor);
/* Replies one page of a scan: [next cursor, [items...]], the items already written to body
 * (with reply_part: a scan stops once its part is cut). */
void cursor_reply_page(cmd_ctx *ctx, uint64_t next, long long items, const buf *body);

#endif
