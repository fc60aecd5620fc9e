/* The Lua engine scripts run in (EVAL, EVALSHA): one Lua 5.1 state per thread, sandboxed as
 * Redis's (no io, no os but os.clock, no loadfile/dofile, protected globals), with Redis's
 * `redis` library, cjson, bit, struct and cmsgpack. It knows nothing of commands: a script's redis.call goes to
 * the host its caller gives (cmd/scripting.c), which runs the command and hands back its
 * reply as RESP bytes. */
#ifndef TIDEKV_SCRIPT_ENGINE_H
#define TIDEKV_SCRIPT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/reply.h"
#include "proto/resp.h"
#include "script/library.h"
#include "util/buf.h"

enum {
    SCRIPT_CALL_OK = 0,
    SCRIPT_CALL_REFUSED = -1, /* the command was not run: err holds why (Redis's text) */
    SCRIPT_CALL_ABORT = -2,   /* the whole script must stop now (err holds the error it ends with) */
};

/* What a running script calls out to. */
typedef struct script_host {
    /* Runs a command for redis.call / redis.pcall, its reply (RESP version resp) into out.
     * Returns a SCRIPT_CALL_ value. argv's bytes are the engine's until the call returns. */
    int (*call)(struct script_host *h, int argc, resp_arg *argv, int resp, buf *out, buf *err);
    /* Whether name is a command the server knows (redis.acl_check_cmd). */
    int (*command_known)(struct script_host *h, const resp_arg *name);
} script_host;

/* A running script looks for SCRIPT KILL every this many Lua instructions. */
#define SCRIPT_POLL_INSTRUCTIONS 100000

/* What the busy hook tells a running script: go on, or stop now because the server is
 * shutting down (nothing of the script is then kept: see script_vm_run). */
enum { SCRIPT_GO_ON = 0, SCRIPT_STOP_FOR_SHUTDOWN };
/* Called on the script's thread every SCRIPT_POLL_INSTRUCTIONS with how long the script has
 * run (ms), before it looks for SCRIPT KILL: the layer above serves its other clients from
 * there while the script is busy (net.c), so a SCRIPT KILL they send is seen at once. */
typedef int (*script_busy_hook)(int64_t running_ms);
/* Sets the busy hook; call once at start-up, before any script runs. */
void script_set_busy_hook(script_busy_hook hook);

typedef struct script_vm script_vm;

/* The calling thread's Lua state, made on first use and again after SCRIPT FLUSH (the state
 * is freed when the thread ends). */
script_vm *script_vm_get(void);

/* Whether the state holds the compiled script sha (lowercase hex). */
int script_vm_has(script_vm *vm, const char sha[41]);
/* Compiles body as the script sha, after its shebang line if any; 0, or -1 with Redis's error
 * text in err ("ERR Error compiling script (new function): …", a shebang's error). */
int script_vm_load(script_vm *vm, const char sha[41], const char *body, size_t len, buf *err);
/* Runs the compiled script sha with KEYS and ARGV, writing its result (or its error) into r
 * as one reply. Returns 0, or -1 if the busy hook stopped it for a shutdown: the caller must
 * then drop its writes (a script that never ended leaves nothing, whatever it wrote). */
int script_vm_run(script_vm *vm, const char sha[41], const resp_arg *keys, int nkeys, const resp_arg *args,
                   int nargs, script_host *host, reply *r);

/* The shebang flags (script/shebang.h) of a script the state holds. */
int script_vm_flags(script_vm *vm, const char sha[41]);

/* FUNCTION libraries. Runs a library's code (its shebang line, line_len bytes, left out) so
 * that its redis.register_function calls register its functions, which are added to lib. With
 * keep the state keeps them for script_vm_call_function; without, the run only checks the
 * code. Returns 0, or -1 with Redis's error text in err ("ERR Error compiling function: …",
 * "ERR Error registering functions: …", "ERR No functions registered"). */
int script_vm_load_library(script_vm *vm, const char *code, size_t len, size_t line_len, library *lib, int keep,
                           buf *err);
/* The libraries generation (script/library.h) the state's functions are of; 0 when it has
 * loaded none since it was made. */
uint64_t script_vm_functions_generation(script_vm *vm);
/* Forgets the state's functions: they are of the generation given from now on. */
void script_vm_reset_functions(script_vm *vm, uint64_t generation);
/* Whether the state holds function name, with its flags in *flags. */
int script_vm_function(script_vm *vm, const char *name, size_t len, int *flags);
/* Runs function name (which the state holds) with its keys and args tables, writing its
 * result (or its error) into r as one reply. call is the command that calls it (FCALL …),
 * which FUNCTION STATS shows. Returns as script_vm_run does. */
int script_vm_call_function(script_vm *vm, const char *name, size_t len, const resp_arg *keys, int nkeys,
                             const resp_arg *args, int nargs, const resp_arg *call, int call_argc, script_host *host,
                             reply *r);

/* The running script on this state wrote: SCRIPT KILL can no longer stop it. */
void script_vm_note_write(script_vm *vm);

/* Scripts running on any thread, for BUSY, SCRIPT KILL and FUNCTION KILL. */
enum { SCRIPT_BUSY_NONE = 0, SCRIPT_BUSY_EVAL, SCRIPT_BUSY_FUNCTION };
/* Whether one has run for threshold_ms or more (the calling thread's own, if it runs, at any
 * time: asked from its busy hook): an EVAL script or a function (a SCRIPT_BUSY_ value, 0 when
 * none). */
int script_busy(int64_t threshold_ms);
enum { SCRIPT_KILLED, SCRIPT_KILL_NONE, SCRIPT_KILL_UNKILLABLE, SCRIPT_KILL_OTHER_KIND };
/* A function running on any thread (FUNCTION STATS): 1 with its name, the command that called
 * it (a RESP array's bytes) and how long it has run, or 0 if none runs. */
int script_running_function(buf *name, buf *call, int64_t *ms);
/* Asks every running script of one kind (functions, or EVAL scripts) that has not written to
 * stop (SCRIPT_KILLED), or says there is none running (SCRIPT_KILL_NONE), none of that kind
 * that may be stopped (SCRIPT_KILL_UNKILLABLE), or only some of the other kind
 * (SCRIPT_KILL_OTHER_KIND: SCRIPT KILL does not stop a function, nor FUNCTION KILL a script). */
int script_kill(int functions);

#endif
