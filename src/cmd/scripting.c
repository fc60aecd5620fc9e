/* Scripting commands: EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT FCALL FCALL_RO (FUNCTION is in
 * cmd/functions.c). The script runs in this
 * thread's Lua state (script/engine.h); each redis.call runs a command through its descriptor
 * and handler, in the script's txn, as EXEC runs a transaction's commands: the script commits
 * as one batch whose change record holds the effects of the commands it ran. */
#include <string.h>

#include "cmd/dispatch.h"
#include "cmd/handlers.h"
#include "script/cache.h"
#include "script/engine.h"
#include "script/functions.h"
#include "script/shebang.h"
#include "util/sha1.h"

#define ERR_NOSCRIPT "NOSCRIPT No matching script. Please use EVAL."

/* The host a running script calls commands through. */
typedef struct script_run {
    script_host host; /* first: the engine hands it back */
    cmd_ctx *ctx;     /* EVAL's own */
    script_vm *vm;
    int db;           /* the database its commands use (a SELECT inside changes it) */
    int read_only;    /* EVAL_RO, or a no-writes script: write commands are refused */
} script_run;

static int refuse(buf *err, const char *why) {
    buf_append_str(err, why);
    return SCRIPT_CALL_REFUSED;
}

static int run_script_command(script_host *h, int argc, resp_arg *argv, int resp, buf *out, buf *err) {
    script_run *run = (script_run *)h;
    cmd_ctx *outer = run->ctx;
    const cmd_def *def = cmd_lookup(argv[0].ptr, argv[0].len);
    if (!def) return refuse(err, "Unknown Redis command called from script");
    if (!cmd_arity_ok(def, argc)) return refuse(err, "Wrong number of args calling Redis command from script");
    if (def->flags & CMD_NOSCRIPT) return refuse(err, "This Redis command is not allowed from script");
    if (run->read_only && (def->flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return refuse(err, "Write commands are not allowed from read-only scripts.");
    if ((def->flags & CMD_WRITE) && txn_local_writes_refused()) return refuse(err, ERR_READONLY_REPLICA);
    if (dispatch_cover_keys(outer, def, argc, argv, run->db) < 0) {
        /* Nothing of this run is kept: the script runs again alone, holding every key. */
        buf_append_str(err, "the script runs again holding every key");
        return SCRIPT_CALL_ABORT;
    }
    reply r = {out, resp, 0, NULL};
    client *c = outer->c;
    int client_db = c->db;
    /* in_exec: a blocking command answers at once, as inside MULTI. */
    cmd_ctx ctx = {c, def->name, argc, argv, &r, outer->t, run->db, IN_SCRIPT, 0, 0, 0, 0, outer->locks, 0};
    dispatch_run_handler(&ctx, def);
    if ((def->flags & CMD_WRITE) && out->len > 0 && out->data[0] != '-') script_vm_note_write(run->vm);
    run->db = ctx.db;
    c->db = client_db; /* a SELECT in a script changes the script's database, not its client's */
    return SCRIPT_CALL_OK;
}

static int command_known(script_host *h, const resp_arg *name) {
    (void)h;
    return cmd_lookup(name->ptr, name->len) != NULL;
}

/* Validates numkeys (argv[2]): 0 with it in *nkeys, or -1 after replying the error (not_integer
 * when it is no integer). */
static int parse_numkeys(cmd_ctx *ctx, const char *not_integer, int *nkeys) {
    long long n;
    if (arg_parse_ll(&ctx->argv[2], &n) < 0) {
        reply_error(ctx->r, not_integer);
        return -1;
    }
    if (n > ctx->argc - 3) {
        reply_error(ctx->r, "ERR Number of keys can't be greater than number of args");
        return -1;
    }
    if (n < 0) {
        reply_error(ctx->r, "ERR Number of keys can't be negative");
        return -1;
    }
    *nkeys = (int)n;
    return 0;
}

/* Makes sure this thread's Lua state holds the script sha: compiled from body (EVAL, which
 * also adds it to the shared cache) or from the cache (EVALSHA). Returns it, or NULL after
 * replying the error. */
static script_vm *prepare_script(cmd_ctx *ctx, const char sha[41], const resp_arg *body) {
    script_vm *vm = script_vm_get();
    if (script_vm_has(vm, sha)) return vm;
    buf text, err;
    buf_init(&text);
    buf_init(&err);
    const char *src = body ? body->ptr : NULL;
    size_t len = body ? body->len : 0;
    if (!body) {
        if (!script_cache_get(sha, 40, &text)) {
            reply_error(ctx->r, ERR_NOSCRIPT);
            vm = NULL;
            goto done;
        }
        src = text.data, len = text.len;
    }
    if (script_vm_load(vm, sha, src ? src : "", len, &err) < 0) {
        buf_append_byte(&err, 0);
        reply_error(ctx->r, err.data);
        vm = NULL;
        goto done;
    }
    if (body) script_cache_add(sha, src, len);
done:
    buf_free(&text);
    buf_free(&err);
    return vm;
}

/* Whether the script may run as asked: a script whose shebang allows writes cannot run
 * through EVAL_RO (Redis's rule). Replies the error if not. Sets *read_only. */
static int check_flags(cmd_ctx *ctx, int flags, int ro_command, int *read_only) {
    if (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && !(flags & SCRIPT_FLAG_NO_WRITES) && ro_command) {
        reply_error(ctx->r, "ERR Can not execute a script with write flag using *_ro command.");
        return -1;
    }
    *read_only = ro_command || (flags & SCRIPT_FLAG_NO_WRITES);
    return 0;
}

/* The client's script starts: its worker, serving its other clients while the script is busy
 * (net.c), leaves this one alone, its command being the one running. */
static void start_run(cmd_ctx *ctx) { ctx->c->flags |= CLIENT_RUNS_SCRIPT; }

/* After a run (rc from script_vm_run): a script stopped for a shutdown leaves nothing of itself,
 * and one that met a busy lock is run again by dispatch, so nothing of this run goes out. */
static void finish_run(cmd_ctx *ctx, int rc) {
    ctx->c->flags &= ~CLIENT_RUNS_SCRIPT;
    if (rc < 0) ctx->failed = 1;
    if (!ctx->needs_all_keys) return;
    ctx->r->out->len = ctx->reply_mark;
    ctx->failed = 1;
}

/* EVAL / EVALSHA (and their _RO forms): body is the script, or NULL to find it by argv[1]. */
static void eval_generic(cmd_ctx *ctx, const resp_arg *body, int ro_command) {
    int nkeys;
    if (parse_numkeys(ctx, ERR_NOT_INTEGER, &nkeys) < 0) return;
    char sha[41];
    if (body) {
        sha1_hex(body->ptr, body->len, sha);
    } else {
        if (ctx->argv[1].len != 40) {
            reply_error(ctx->r, ERR_NOSCRIPT);
            return;
        }
        for (int i = 0; i < 40; i++) sha[i] = (char)(ctx->argv[1].ptr[i] | 0x20); /* hex digits: lowercase */
        sha[40] = '\0';
    }
    script_vm *vm = prepare_script(ctx, sha, body);
    if (!vm) return;
    script_run run = {{run_script_command, command_known}, ctx, vm, ctx->db, 0};
    if (check_flags(ctx, script_vm_flags(vm, sha), ro_command, &run.read_only) < 0) return;
    start_run(ctx);
    finish_run(ctx, script_vm_run(vm, sha, ctx->argv + 3, nkeys, ctx->argv + 3 + nkeys, ctx->argc - 3 - nkeys,
                                  &run.host, ctx->r));
}

/* FCALL / FCALL_RO function numkeys key… arg…: runs as EVAL runs a script. */
static void fcall_generic(cmd_ctx *ctx, int ro_command) {
    int nkeys, flags;
    script_vm *vm = functions_vm();
    const resp_arg *name = &ctx->argv[1];
    if (!script_vm_function(vm, name->ptr, name->len, &flags)) { /* before numkeys, as in Redis */
        reply_error(ctx->r, "ERR Function not found");
        return;
    }
    if (parse_numkeys(ctx, "ERR Bad number of keys provided", &nkeys) < 0) return;
    script_run run = {{run_script_command, command_known}, ctx, vm, ctx->db, 0};
    if (check_flags(ctx, flags, ro_command, &run.read_only) < 0) return;
    start_run(ctx);
    finish_run(ctx, script_vm_call_function(vm, name->ptr, name->len, ctx->argv + 3, nkeys, ctx->argv + 3 + nkeys,
                                            ctx->argc - 3 - nkeys, ctx->argv, ctx->argc, &run.host, ctx->r));
}

static void cmd_fcall(cmd_ctx *ctx) { fcall_generic(ctx, 0); }
static void cmd_fcall_ro(cmd_ctx *ctx) { fcall_generic(ctx, 1); }

static void cmd_eval(cmd_ctx *ctx) { eval_generic(ctx, &ctx->argv[1], 0); }
static void cmd_evalsha(cmd_ctx *ctx) { eval_generic(ctx, NULL, 0); }
static void cmd_eval_ro(cmd_ctx *ctx) { eval_generic(ctx, &ctx->argv[1], 1); }
static void cmd_evalsha_ro(cmd_ctx *ctx) { eval_generic(ctx, NULL, 1); }

/* SCRIPT LOAD body: compiled here (its errors are the caller's), then known to every worker. */
static void script_load(cmd_ctx *ctx) {
    const resp_arg *body = &ctx->argv[2];
    char sha[41];
    sha1_hex(body->ptr, body->len, sha);
    if (!prepare_script(ctx, sha, body)) return;
    script_cache_add(sha, body->ptr, body->len); /* this worker may have held it already */
    reply_bulk(ctx->r, sha, 40);
}

static void script_exists(cmd_ctx *ctx) {
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) reply_int(ctx->r, script_cache_exists(ctx->argv[i].ptr, ctx->argv[i].len));
}

static void script_flush(cmd_ctx *ctx) {
    if (ctx->argc == 3 && !arg_is(&ctx->argv[2], "sync") && !arg_is(&ctx->argv[2], "async")) {
        reply_error(ctx->r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script_cache_flush();
    reply_ok(ctx->r);
}

void reply_script_kill(cmd_ctx *ctx, int functions) {
    switch (script_kill(functions)) {
    case SCRIPT_KILLED:
        reply_ok(ctx->r);
        break;
    case SCRIPT_KILL_NONE:
        reply_error(ctx->r, "NOTBUSY No scripts in execution right now.");
        break;
    case SCRIPT_KILL_OTHER_KIND:
        reply_error(ctx->r, functions ? ERR_BUSY_EVAL : ERR_BUSY_FUNCTION);
        break;
    default:
        reply_error(ctx->r, "UNKILLABLE Sorry the script already executed write commands against the dataset. You "
                            "can either wait the script termination or kill the server in a hard way using the "
                            "SHUTDOWN NOSAVE command.");
    }
}

/* SCRIPT HELP, as Redis words it (DEBUG, which tidekv lacks, left out). */
static void script_help(cmd_ctx *ctx) {
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    reply_help_lines(ctx, lines, sizeof(lines) / sizeof(lines[0]));
}

static void cmd_script(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "load") && ctx->argc == 3) {
        script_load(ctx);
    } else if (arg_is(sub, "exists") && ctx->argc >= 3) {
        script_exists(ctx);
    } else if (arg_is(sub, "flush") && ctx->argc <= 3) {
        script_flush(ctx);
    } else if (arg_is(sub, "kill") && ctx->argc == 2) {
        reply_script_kill(ctx, 0);
    } else if (arg_is(sub, "help") && ctx->argc == 2) {
        script_help(ctx);
    } else {
        static const char *const known[] = {"exists", "flush", "kill", "load", NULL};
        reply_subcommand_error(ctx, known);
    }
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

#define EVAL_FLAGS (CMD_SCRIPT | NOSCRIPT | CMD_SKIP_MONITOR | CMD_NO_MANDATORY_KEYS | STALE)

static const cmd_def scripting_defs[] = {
    {"eval", -3, EVAL_FLAGS, 0, 0, 0, cmd_eval, "scripting", "@slow @scripting",
     "Executes a server-side Lua script.",
     "script numkeys:int [key:key@0]... [arg]...",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_UPDATE, 2, 0, 1, 1))},
    {"evalsha", -3, EVAL_FLAGS, 0, 0, 0, cmd_evalsha, "scripting", "@slow @scripting",
     "Executes a server-side Lua script by SHA1 digest.",
     "sha1 numkeys:int [key:key@0]... [arg]...",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_UPDATE, 2, 0, 1, 1))},
    {"eval_ro", -3, EVAL_FLAGS | R, 0, 0, 0, cmd_eval_ro, "scripting", "@slow @scripting",
     "Executes a read-only server-side Lua script.",
     "script numkeys:int [key:key@0]... [arg]...",
     KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 2, 0, 1, 1))},
    {"evalsha_ro", -3, EVAL_FLAGS | R, 0, 0, 0, cmd_evalsha_ro, "scripting", "@slow @scripting",
     "Executes a read-only server-side Lua script by SHA1 digest.",
     "sha1 numkeys:int [key:key@0]... [arg]...",
     KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 2, 0, 1, 1))},
    {"fcall", -3, EVAL_FLAGS, 0, 0, 0, cmd_fcall, "scripting", "@slow @scripting",
     "Invokes a function.",
     "function numkeys:int [key:key@0]... [arg]...",
     KEYS(KEYNUM(KEY_RW | KEY_ACCESS | KEY_UPDATE, 2, 0, 1, 1))},
    {"fcall_ro", -3, EVAL_FLAGS | R, 0, 0, 0, cmd_fcall_ro, "scripting", "@slow @scripting",
     "Invokes a read-only function.",
     "function numkeys:int [key:key@0]... [arg]...",
     KEYS(KEYNUM(KEY_RO | KEY_ACCESS, 2, 0, 1, 1))},
    {"script", -2, NK | CMD_SUBCOMMANDS | NOSCRIPT, 0, 0, 0, cmd_script, "scripting", "@slow @scripting",
     "Manages the server-side Lua script cache (LOAD, EXISTS, FLUSH, KILL).",
     "subcommand [argument]...", NO_KEYS},
};
const cmd_family scripting_commands = {scripting_defs, sizeof(scripting_defs) / sizeof(scripting_defs[0])};
