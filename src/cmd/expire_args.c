#include "cmd/expire_args.h"

#include <limits.h>

#include "util/timeutil.h"

int expire_arg_unit(const resp_arg *a, expire_unit *unit) {
    if (arg_is(a, "ex")) *unit = EXPIRE_IN_SECONDS;
    else if (arg_is(a, "px")) *unit = EXPIRE_IN_MS;
    else if (arg_is(a, "exat")) *unit = EXPIRE_AT_SECONDS;
    else if (arg_is(a, "pxat")) *unit = EXPIRE_AT_MS;
    else return 0;
    return 1;
}

int expire_arg_to_ms(cmd_ctx *ctx, const resp_arg *a, expire_unit unit, int64_t *abs_ms) {
    long long v;
    if (arg_ll(ctx, a, &v) < 0) return -1;
    int seconds = unit == EXPIRE_IN_SECONDS || unit == EXPIRE_AT_SECONDS;
    int relative = unit == EXPIRE_IN_SECONDS || unit == EXPIRE_IN_MS;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (relative) {
        if (v > LLONG_MAX - ctx->t->now_ms) goto invalid;
        v += ctx->t->now_ms;
    }
    *abs_ms = v;
    return 0;
invalid:
    reply_errorf(ctx->r, "ERR invalid expire time in '%s' command", ctx->name);
    return -1;
}
