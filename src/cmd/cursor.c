#include "cmd/cursor.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int cursor_parse(cmd_ctx *ctx, const resp_arg *arg, uint64_t *cursor) {
    /* Arguments end with a NUL byte; one inside the argument makes it invalid. */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg->ptr, &end, 10);
    if (isspace((unsigned char)arg->ptr[0]) || end != arg->ptr + arg->len || errno == ERANGE) {
        reply_error(ctx->r, "ERR invalid cursor");
        return -1;
    }
    *cursor = v;
    return 0;
}

void cursor_reply_page(cmd_ctx *ctx, uint64_t next, long long items, const buf *body) {
    char text[24];
    int len = snprintf(text, sizeof(text), "%llu", (unsigned long long)next);
    reply_array(ctx->r, 2);
    reply_bulk(ctx->r, text, (size_t)len);
    reply_array(ctx->r, items);
    reply_append_part(ctx->r, body);
}
