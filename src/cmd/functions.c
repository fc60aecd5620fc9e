/* FUNCTION LOAD|DELETE|FLUSH|LIST|STATS|KILL|DUMP|RESTORE|HELP: Redis 7 function libraries.
 * The libraries live in the shared registry (script/library.h) and on disk (types/functions.h,
 * written in this command's txn); a change is recorded as the command that makes it again on
 * a Redis server: FUNCTION LOAD REPLACE <code>, FUNCTION DELETE <library>, FUNCTION FLUSH. */
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "script/functions.h"
#include "script/shebang.h"
#include "types/functions.h"
#include "util/glob.h"

static void record_load(cmd_ctx *ctx, const library *lib) {
    const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", lib->code};
    size_t lens[4] = {8, 4, 7, lib->code_len};
    cmd_record(ctx, TYPE_NONE, 4, argv, lens);
}

static void record_flush(cmd_ctx *ctx) {
    const char *argv[2] = {"FUNCTION", "FLUSH"};
    size_t lens[2] = {8, 5};
    cmd_record(ctx, TYPE_NONE, 2, argv, lens);
}

/* Installs libraries as one change: their records on disk and in the change record, then a
 * working copy of the registry with them (which checks them: on a conflict the writes are
 * dropped), then the deletion of the libraries a FLUSH dropped. The copy is published when the
 * command's txn commits (script/library.h). Takes the libraries over on success. Replies the
 * error and returns -1 otherwise. */
static int install(cmd_ctx *ctx, library *libs, size_t n, int policy, int quote_name) {
    if (policy == LIBRARIES_FLUSH) record_flush(ctx);
    for (size_t i = 0; i < n; i++) {
        function_store_put(ctx->t, libs[i].name, strlen(libs[i].name), libs[i].code, libs[i].code_len);
        record_load(ctx, &libs[i]);
    }
    buf err;
    buf_init(&err);
    library *dropped;
    size_t ndropped;
    library_set *set = libraries_change_begin();
    int rc = libraries_install(set, libs, n, policy, quote_name, &err, &dropped, &ndropped);
    if (rc < 0) {
        libraries_change_abort(set);
        buf_append_byte(&err, 0);
        reply_error(ctx->r, err.data);
        ctx->failed = 1; /* dispatch drops the writes above */
    } else {
        libraries_change_stage(set, ctx->t);
    }
    for (size_t i = 0; i < ndropped; i++) function_store_delete(ctx->t, dropped[i].name, strlen(dropped[i].name));
    libraries_free(dropped, ndropped);
    buf_free(&err);
    return rc;
}

/* FUNCTION LOAD [REPLACE] code */
static void function_load(cmd_ctx *ctx) {
    int replace = ctx->argc == 4;
    if (replace && !arg_is(&ctx->argv[2], "replace")) {
        reply_errorf(ctx->r, "ERR Unknown option given: %.128s", ctx->argv[2].ptr);
        return;
    }
    const resp_arg *code = &ctx->argv[ctx->argc - 1];
    library lib;
    buf err;
    buf_init(&err);
    if (library_compile(code->ptr, code->len, &lib, &err) < 0) {
        buf_append_byte(&err, 0);
        reply_error(ctx->r, err.data);
    } else {
        char *name = strdup(lib.name);
        if (!name) abort();
        if (install(ctx, &lib, 1, replace ? LIBRARIES_REPLACE : LIBRARIES_APPEND, 1) == 0) reply_bulk_str(ctx->r, name);
        free(name);
    }
    library_free(&lib);
    buf_free(&err);
}

static void function_delete(cmd_ctx *ctx) {
    const resp_arg *name = &ctx->argv[2];
    library_set *set = libraries_change_begin();
    if (!libraries_delete(set, name->ptr, name->len)) {
        libraries_change_abort(set);
        reply_error(ctx->r, "ERR Library not found");
        return;
    }
    libraries_change_stage(set, ctx->t);
    function_store_delete(ctx->t, name->ptr, name->len);
    const char *argv[3] = {"FUNCTION", "DELETE", name->ptr};
    size_t lens[3] = {8, 6, name->len};
    cmd_record(ctx, TYPE_NONE, 3, argv, lens);
    reply_ok(ctx->r);
}

static void function_flush(cmd_ctx *ctx) {
    if (ctx->argc == 3 && !arg_is(&ctx->argv[2], "sync") && !arg_is(&ctx->argv[2], "async")) {
        reply_error(ctx->r, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    install(ctx, NULL, 0, LIBRARIES_FLUSH, 0);
    reply_ok(ctx->r);
}

/* FUNCTION LIST's options: 0, or -1 after replying the error. */
static int parse_list_options(cmd_ctx *ctx, int *withcode, const resp_arg **pattern) {
    *withcode = 0;
    *pattern = NULL;
    for (int i = 2; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "withcode") && !*withcode) {
            *withcode = 1;
        } else if (arg_is(a, "libraryname") && !*pattern) {
            if (i + 1 == ctx->argc) {
                reply_error(ctx->r, "ERR library name argument was not given");
                return -1;
            }
            *pattern = &ctx->argv[++i];
        } else {
            reply_errorf(ctx->r, "ERR Unknown argument %.128s", a->ptr);
            return -1;
        }
    }
    return 0;
}

static void reply_flags(cmd_ctx *ctx, int flags) {
    int n = 0;
    for (int flag = 1; flag < SCRIPT_FLAG_EVAL_COMPAT; flag <<= 1) n += (flags & flag) != 0;
    reply_set(ctx->r, n);
    for (int flag = 1; flag < SCRIPT_FLAG_EVAL_COMPAT; flag <<= 1)
        if (flags & flag) reply_simple(ctx->r, script_flag_name(flag));
}

static void reply_library(cmd_ctx *ctx, const library *lib, int withcode) {
    reply_map(ctx->r, withcode ? 4 : 3);
    reply_bulk_str(ctx->r, "library_name");
    reply_bulk_str(ctx->r, lib->name);
    reply_bulk_str(ctx->r, "engine");
    reply_bulk_str(ctx->r, "LUA");
    reply_bulk_str(ctx->r, "functions");
    reply_array(ctx->r, (long long)lib->nfns);
    for (size_t i = 0; i < lib->nfns; i++) {
        reply_map(ctx->r, 3);
        reply_bulk_str(ctx->r, "name");
        reply_bulk_str(ctx->r, lib->fns[i].name);
        reply_bulk_str(ctx->r, "description");
        if (lib->fns[i].description) reply_bulk_str(ctx->r, lib->fns[i].description);
        else reply_null(ctx->r);
        reply_bulk_str(ctx->r, "flags");
        reply_flags(ctx, lib->fns[i].flags);
    }
    if (withcode) {
        reply_bulk_str(ctx->r, "library_code");
        reply_bulk(ctx->r, lib->code, lib->code_len);
    }
}

static void function_list(cmd_ctx *ctx) {
    int withcode;
    const resp_arg *pattern;
    if (parse_list_options(ctx, &withcode, &pattern) < 0) return;
    size_t n, shown = 0;
    uint64_t generation;
    library *libs = libraries_copy(&n, &generation);
    for (size_t i = 0; i < n; i++) { /* the matching ones moved to the front */
        if (pattern && !glob_match(pattern->ptr, pattern->len, libs[i].name, strlen(libs[i].name), 0)) continue;
        library match = libs[i];
        libs[i] = libs[shown];
        libs[shown++] = match;
    }
    reply_array(ctx->r, (long long)shown);
    for (size_t i = 0; i < shown; i++) reply_library(ctx, &libs[i], withcode);
    libraries_free(libs, n);
}

/* FUNCTION STATS: the function running (on any thread), and the libraries. */
static void function_stats(cmd_ctx *ctx) {
    size_t nlibs, nfns;
    libraries_counts(&nlibs, &nfns);
    buf name, call;
    buf_init(&name);
    buf_init(&call);
    int64_t ms;
    reply_map(ctx->r, 2);
    reply_bulk_str(ctx->r, "running_script");
    if (script_running_function(&name, &call, &ms)) {
        reply_map(ctx->r, 3);
        reply_bulk_str(ctx->r, "name");
        reply_bulk(ctx->r, name.data, name.len);
        reply_bulk_str(ctx->r, "command");
        buf_append(ctx->r->out, call.data, call.len); /* an array of bulk strings, the same in RESP2 and 3 */
        reply_bulk_str(ctx->r, "duration_ms");
        reply_int(ctx->r, (long long)ms);
    } else {
        reply_null(ctx->r);
    }
    reply_bulk_str(ctx->r, "engines");
    reply_map(ctx->r, 1);
    reply_bulk_str(ctx->r, "LUA");
    reply_map(ctx->r, 2);
    reply_bulk_str(ctx->r, "libraries_count");
    reply_int(ctx->r, (long long)nlibs);
    reply_bulk_str(ctx->r, "functions_count");
    reply_int(ctx->r, (long long)nfns);
    buf_free(&name);
    buf_free(&call);
}

static void function_dump(cmd_ctx *ctx) {
    size_t n;
    uint64_t generation;
    library *libs = libraries_copy(&n, &generation);
    buf payload;
    buf_init(&payload);
    library_payload_build(libs, n, &payload);
    reply_bulk(ctx->r, payload.data, payload.len);
    buf_free(&payload);
    libraries_free(libs, n);
}

/* The libraries of a payload being restored, compiled one by one until one fails. */
typedef struct restoring {
    library *libs;
    size_t n;
    buf err;
} restoring;

static void restore_code(void *arg, const char *code, size_t len) {
    restoring *r = arg;
    if (r->err.len > 0) return;
    r->libs = realloc(r->libs, (r->n + 1) * sizeof(*r->libs));
    if (!r->libs) abort();
    if (library_compile(code, len, &r->libs[r->n], &r->err) == 0) r->n++;
}

/* FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] */
static void function_restore(cmd_ctx *ctx) {
    int policy = LIBRARIES_APPEND;
    if (ctx->argc == 4) {
        const resp_arg *a = &ctx->argv[3];
        if (arg_is(a, "flush")) policy = LIBRARIES_FLUSH;
        else if (arg_is(a, "replace")) policy = LIBRARIES_REPLACE;
        else if (!arg_is(a, "append")) {
            reply_error(ctx->r, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    restoring r = {NULL, 0, {0}};
    buf_init(&r.err);
    if (library_payload_parse(ctx->argv[2].ptr, ctx->argv[2].len, restore_code, &r) < 0) {
        reply_error(ctx->r, "ERR DUMP payload version or checksum are wrong");
    } else if (r.err.len > 0) {
        buf_append_byte(&r.err, 0);
        reply_error(ctx->r, r.err.data);
    } else if (install(ctx, r.libs, r.n, policy, 0) == 0) {
        reply_ok(ctx->r);
    }
    libraries_free(r.libs, r.n);
    buf_free(&r.err);
}

static void function_help(cmd_ctx *ctx) {
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        ("    Return a serialized payload representing the current libraries, can be restored using FUNCTION "
         "RESTORE command"),
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };
    reply_help_lines(ctx, lines, sizeof(lines) / sizeof(lines[0]));
}

static void cmd_function(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    int argc = ctx->argc;
    if (arg_is(sub, "load") && (argc == 3 || argc == 4)) function_load(ctx);
    else if (arg_is(sub, "delete") && argc == 3) function_delete(ctx);
    else if (arg_is(sub, "flush") && argc <= 3) function_flush(ctx);
    else if (arg_is(sub, "list")) function_list(ctx);
    else if (arg_is(sub, "stats") && argc == 2) function_stats(ctx);
    else if (arg_is(sub, "kill") && argc == 2) reply_script_kill(ctx, 1);
    else if (arg_is(sub, "dump") && argc == 2) function_dump(ctx);
    else if (arg_is(sub, "restore") && (argc == 3 || argc == 4)) function_restore(ctx);
    else if (arg_is(sub, "help") && argc == 2) function_help(ctx);
    else {
        static const char *const known[] = {"load", "delete", "flush", "list", "stats", "kill", "dump", "restore", NULL};
        reply_subcommand_error(ctx, known);
    }
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

static const cmd_def function_defs[] = {
    {"function", -2, W | NK | CMD_SUBCOMMANDS | NOSCRIPT, 0, 0, 0, cmd_function, "scripting", "@slow @scripting",
     "Manages function libraries (LOAD, DELETE, FLUSH, LIST, STATS, KILL, DUMP, RESTORE).",
     "subcommand [argument]...", NO_KEYS},
};
const cmd_family function_commands = {function_defs, sizeof(function_defs) / sizeof(function_defs[0])};
