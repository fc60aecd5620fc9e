/* Small helpers shared by the command families. */
#include <ctype.h>
#include <strings.h>
#include <string.h>

#include "cmd/cmd.h"
#include "storage/encoding.h"
#include "util/num.h"

int arg_is(const resp_arg *a, const char *word) {
    return a->len == strlen(word) && strncasecmp(a->ptr, word, a->len) == 0;
}

int arg_parse_ll(const resp_arg *a, long long *out) { return num_parse_ll(a->ptr, a->len, out); }

int arg_ll(cmd_ctx *ctx, const resp_arg *a, long long *out) {
    if (arg_parse_ll(a, out) == 0) return 0;
    reply_error(ctx->r, ERR_NOT_INTEGER);
    return -1;
}

void reply_storage_error(cmd_ctx *ctx) { reply_error(ctx->r, ERR_STORAGE); }

void reply_subcommand_error(cmd_ctx *ctx, const char *const *known) {
    const resp_arg *sub = &ctx->argv[1];
    for (int i = 0; known[i]; i++) {
        if (arg_is(sub, known[i])) {
            reply_errorf(ctx->r, "ERR wrong number of arguments for '%s|%s' command", ctx->name, known[i]);
            return;
        }
    }
    char upper[32];
    size_t n = strlen(ctx->name) < sizeof(upper) ? strlen(ctx->name) : sizeof(upper) - 1;
    for (size_t i = 0; i < n; i++) upper[i] = (char)toupper((unsigned char)ctx->name[i]);
    upper[n] = '\0';
    reply_errorf(ctx->r, "ERR unknown subcommand '%.128s'. Try %s HELP.", sub->ptr, upper);
}

void cmd_record(cmd_ctx *ctx, int type, int argc, const char *const *argv, const size_t *lens) {
    txn_record(ctx->t, ctx->db, (uint8_t)type, argc, argv, lens);
}

void cmd_record_set(cmd_ctx *ctx, const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms) {
    char when[24];
    const char *argv[5] = {"SET", key, val, "PXAT", when};
    size_t lens[5] = {3, klen, vlen, 4, 0};
    if (expire_ms) lens[4] = num_format_ll(when, expire_ms);
    cmd_record(ctx, TYPE_STRING, expire_ms ? 5 : 3, argv, lens);
}

void cmd_record_key(cmd_ctx *ctx, const char *name, int type, const char *key, size_t klen) {
    const char *argv[2] = {name, key};
    size_t lens[2] = {strlen(name), klen};
    cmd_record(ctx, type, 2, argv, lens);
}
