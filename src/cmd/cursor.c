#include "cmd/cursor.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_SLOTS 4096

static struct {
    pthread_mutex_t lock;
    unsigned long long next_id;
    struct {
        unsigned long long id;
        buf scope, pos;
    } slot[CURSOR_SLOTS];
} cursors = {PTHREAD_MUTEX_INITIALIZER, 1, {{0}}};

unsigned long long cursor_save(const buf *scope, const char *pos, size_t plen) {
    pthread_mutex_lock(&cursors.lock);
    unsigned long long id = cursors.next_id++;
    int i = (int)(id % CURSOR_SLOTS);
    cursors.slot[i].id = id;
    buf_clear(&cursors.slot[i].scope);
    buf_append(&cursors.slot[i].scope, scope->data, scope->len);
    buf_clear(&cursors.slot[i].pos);
    buf_append(&cursors.slot[i].pos, pos, plen);
    pthread_mutex_unlock(&cursors.lock);
    return id;
}

static int parse_cursor(const resp_arg *a, unsigned long long *id) {
    if (a->len == 0 || a->len > 20) return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->ptr[i] < '0' || a->ptr[i] > '9') return -1;
        v = v * 10 + (unsigned long long)(a->ptr[i] - '0');
    }
    *id = v;
    return 0;
}

int cursor_resume(cmd_ctx *ctx, const resp_arg *arg, const buf *scope, buf *pos) {
    unsigned long long id;
    int ok = parse_cursor(arg, &id) == 0;
    if (ok && id == 0) return 0;
    if (ok) {
        pthread_mutex_lock(&cursors.lock);
        int i = (int)(id % CURSOR_SLOTS);
        ok = cursors.slot[i].id == id && cursors.slot[i].scope.len == scope->len &&
             memcmp(cursors.slot[i].scope.data, scope->data, scope->len) == 0;
        if (ok) buf_append(pos, cursors.slot[i].pos.data, cursors.slot[i].pos.len);
        pthread_mutex_unlock(&cursors.lock);
    }
    if (!ok) reply_error(ctx->r, "ERR invalid cursor");
    return ok ? 0 : -1;
}

void cursor_reply_page(cmd_ctx *ctx, unsigned long long next, long long items, const buf *body) {
    reply_array(ctx->r, 2);
    reply_bulk_ll(ctx->r, (long long)next);
    reply_array(ctx->r, items);
    reply_append_part(ctx->r, body);
}
