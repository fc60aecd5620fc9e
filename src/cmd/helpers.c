/* Small helpers shared by the command families. */
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/keyspace_events.h"
#include "storage/encoding.h"
#include "types/keyspace.h"
#include "util/log.h"
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

/* Drops what the command replied so far and marks it failed (its writes are rolled back). */
static void fail_command(cmd_ctx *ctx) {
    ctx->r->out->len = ctx->reply_mark;
    ctx->failed = 1;
}

void reply_storage_error(cmd_ctx *ctx) {
    fail_command(ctx);
    reply_error(ctx->r, ERR_STORAGE);
}

void reply_corrupt(cmd_ctx *ctx, const char *key, size_t klen) {
    /* The key as it can be shown on one line: at most 128 bytes, unprintable ones as '?'. */
    char shown[129];
    size_t n = klen < sizeof(shown) - 1 ? klen : sizeof(shown) - 1;
    for (size_t i = 0; i < n; i++) shown[i] = isprint((unsigned char)key[i]) ? key[i] : '?';
    shown[n] = '\0';
    log_msg(LOG_WARNING, "%s: corrupt value stored at key '%s' (db %d)", ctx->name, shown, ctx->db);
    fail_command(ctx);
    reply_errorf(ctx->r, ERR_CORRUPT_FMT, shown);
}

void reply_type_error(cmd_ctx *ctx, const resp_arg *key, type_status s) {
    if (s == ST_WRONGTYPE) reply_error(ctx->r, ERR_WRONGTYPE);
    else if (s == ST_CORRUPT) reply_corrupt(ctx, key->ptr, key->len);
    else reply_storage_error(ctx);
}

/* <COMMAND> HELP, as Redis answers it (an array of status lines): the subcommands known. */
static void reply_subcommand_help(cmd_ctx *ctx, const char *const *known, const char *upper) {
    int n = 0;
    while (known[n]) n++;
    reply_array(ctx->r, n + 3);
    buf line;
    buf_init(&line);
    buf_printf(&line, "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", upper);
    buf_append_byte(&line, 0);
    reply_simple(ctx->r, line.data);
    for (int i = 0; i < n; i++) {
        buf_clear(&line);
        for (const char *p = known[i]; *p; p++) buf_append_byte(&line, (uint8_t)toupper((unsigned char)*p));
        buf_append_byte(&line, 0);
        reply_simple(ctx->r, line.data);
    }
    reply_simple(ctx->r, "HELP");
    reply_simple(ctx->r, "    Print this help.");
    buf_free(&line);
}

void reply_help_lines(cmd_ctx *ctx, const char *const *lines, size_t n) {
    reply_array(ctx->r, (long long)n);
    for (size_t i = 0; i < n; i++) reply_simple(ctx->r, lines[i]);
}

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
    if (ctx->argc == 2 && arg_is(sub, "help")) reply_subcommand_help(ctx, known, upper);
    else reply_errorf(ctx->r, "ERR unknown subcommand '%.128s'. Try %s HELP.", sub->ptr, upper);
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

void effect_init(effect *e, int type, const char *name, const resp_arg *key, int extra) {
    e->argv = malloc((size_t)(extra + 2) * sizeof(char *));
    e->lens = malloc((size_t)(extra + 2) * sizeof(size_t));
    e->nums = malloc((size_t)(extra + 1) * sizeof(*e->nums));
    if (!e->argv || !e->lens || !e->nums) abort();
    e->argv[0] = name, e->lens[0] = strlen(name);
    e->argv[1] = key->ptr, e->lens[1] = key->len;
    e->argc = 2;
    e->nnums = 0;
    e->type = type;
}

void effect_add(effect *e, const char *p, size_t len) {
    e->argv[e->argc] = p;
    e->lens[e->argc++] = len;
}

void effect_add_score(effect *e, double score) {
    char *slot = e->nums[e->nnums++];
    effect_add(e, slot, num_format_double(slot, score));
}

void effect_discard(effect *e) {
    free(e->argv);
    free(e->lens);
    free(e->nums);
}

void effect_finish(cmd_ctx *ctx, effect *e, int min_args) {
    if (e->argc >= min_args) cmd_record(ctx, e->type, e->argc, e->argv, e->lens);
    effect_discard(e);
}

int replace_key(cmd_ctx *ctx, const resp_arg *key) {
    meta old;
    buf raw;
    buf_init(&raw);
    cmd_read_lookups(ctx, 0); /* a STORE's destination is written, not read */
    int rc = ks_lookup(ctx->t, ctx->db, key->ptr, key->len, &old, &raw);
    if (rc == KS_FOUND || rc == KS_CORRUPT) { /* a corrupt key is replaced like any other */
        ks_delete(ctx->t, ctx->db, key->ptr, key->len);
        cmd_record_key(ctx, "DEL", old.type, key->ptr, key->len);
    }
    buf_free(&raw);
    return rc == KS_ERROR ? -1 : rc != KS_MISSING;
}

int parse_mpop(cmd_ctx *ctx, int first, const char *word0, const char *word1, int *nkeys, int *which,
               long long *count) {
    long long numkeys;
    *count = 1;
    if (arg_parse_ll(&ctx->argv[first], &numkeys) < 0 || numkeys <= 0) {
        reply_error(ctx->r, "ERR numkeys should be greater than 0");
        return -1;
    }
    if (numkeys > ctx->argc - first - 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    int side_at = first + 1 + (int)numkeys;
    if (arg_is(&ctx->argv[side_at], word0)) *which = 0;
    else if (arg_is(&ctx->argv[side_at], word1)) *which = 1;
    else {
        reply_error(ctx->r, ERR_SYNTAX);
        return -1;
    }
    if (side_at + 1 < ctx->argc) {
        int count_form = side_at + 3 == ctx->argc && arg_is(&ctx->argv[side_at + 1], "count");
        if (!count_form || arg_parse_ll(&ctx->argv[side_at + 2], count) < 0 || *count <= 0) {
            reply_error(ctx->r, count_form ? "ERR count should be greater than 0" : ERR_SYNTAX);
            return -1;
        }
    }
    *nkeys = (int)numkeys;
    return 0;
}

void cmd_record_key(cmd_ctx *ctx, const char *name, int type, const char *key, size_t klen) {
    const char *argv[2] = {name, key};
    size_t lens[2] = {strlen(name), klen};
    cmd_record(ctx, type, 2, argv, lens);
}
