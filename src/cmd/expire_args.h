/* Parsing of expiry arguments shared by SET, GETEX, SETEX, EXPIRE and friends. */
#ifndef TIDEKV_EXPIRE_ARGS_H
#define TIDEKV_EXPIRE_ARGS_H

#include <stdint.h>

#include "cmd/cmd.h"

typedef enum { EXPIRE_IN_SECONDS, EXPIRE_IN_MS, EXPIRE_AT_SECONDS, EXPIRE_AT_MS } expire_unit;

/* Converts an EX/PX/EXAT/PXAT argument to absolute unix ms, replying Redis's error on failure
 * ("invalid expire time in '<cmd>' command" for values <= 0 or that overflow). Returns 0 or -1. */
int expire_arg_to_ms(cmd_ctx *ctx, const resp_arg *a, expire_unit unit, int64_t *abs_ms);
/* Recognizes EX/PX/EXAT/PXAT; returns 1 and sets *unit if a is one of them. */
int expire_arg_unit(const resp_arg *a, expire_unit *unit);

#endif
