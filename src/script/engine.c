#include "script/engine.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "script/cache.h"
#include "script/convert.h"
#include "script/guards.h"
#include "script/lualibs.h"
#include "script/readonly.h"
#include "script/shebang.h"
#include "server.h"
#include "util/log.h"
#include "util/sha1.h"
#include "util/timeutil.h"

/* Debian's lua-cjson and lua-bitop, linked in. */
int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);

struct script_vm {
    lua_State *L;
    uint64_t generation; /* script_cache_generation() when made */
    /* The running script: */
    script_host *host;
    int resp;     /* redis.setresp */
    int aborting; /* the host stopped it: raised again at every line, so no pcall keeps it */
    int stopped_for_shutdown; /* the busy hook stopped it: nothing of it may be kept */
    buf abort_error;
    buf args;         /* the bytes of a redis.call's arguments */
    resp_arg *argv;   /* and the arguments */
    size_t argv_cap;
    buf out, err;     /* a redis.call's reply, or why it was refused */
    unsigned short rand48[3]; /* math.random's state: Redis's rand48 */
    /* FUNCTION libraries: the one whose code runs now (FUNCTION LOAD), its start, and the
     * libraries generation the state's functions are of (0: none loaded yet). */
    library *loading;
    int64_t load_started_ms;
    uint64_t functions_generation;
    /* Read by other threads (BUSY, SCRIPT KILL), under running_lock or atomically: */
    atomic_int running;
    atomic_llong started_ms; /* monotonic */
    atomic_int wrote;
    atomic_int kill_requested;
    /* The function running (FUNCTION STATS): its name ("" when none) and the command that
     * called it, as a RESP array. */
    buf function_name, function_call;
    struct script_vm *prev, *next; /* every thread's state: running_lock */
};

/* The states of every thread, to find the running scripts; scripts_running counts them so
 * that a command on the hot path reads one atomic when none runs. */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static script_vm *all_vms;
static atomic_int scripts_running;

static script_busy_hook busy_hook; /* set at start-up, before the threads that run scripts */

static pthread_key_t vm_key;
static pthread_once_t vm_key_once = PTHREAD_ONCE_INIT;

static void vm_free(void *p) {
    script_vm *vm = p;
    if (!vm) return;
    pthread_mutex_lock(&running_lock);
    if (vm->prev) vm->prev->next = vm->next;
    else all_vms = vm->next;
    if (vm->next) vm->next->prev = vm->prev;
    pthread_mutex_unlock(&running_lock);
    lua_close(vm->L);
    buf_free(&vm->abort_error);
    buf_free(&vm->args);
    buf_free(&vm->out);
    buf_free(&vm->err);
    buf_free(&vm->function_name);
    buf_free(&vm->function_call);
    free(vm->argv);
    free(vm);
}

static void make_vm_key(void) {
    if (pthread_key_create(&vm_key, vm_free) != 0) abort();
}

/* The state's script_vm, kept in the registry's light userdata slot. */
static const char VM_KEY = 0;

static script_vm *vm_of(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&VM_KEY);
    lua_rawget(L, LUA_REGISTRYINDEX);
    script_vm *vm = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return vm;
}

/* Pushes, or raises, an error table built from text (see script_push_error). */
static void push_error(lua_State *L, const char *text) { script_push_error(L, text, strlen(text)); }

static int raise_error(lua_State *L, const char *text) {
    push_error(L, text);
    return lua_error(L);
}

/* ---- the redis library ---- */

/* Turns redis.call's Lua arguments into command arguments (numbers as Redis formats them). */
static int collect_args(lua_State *L, script_vm *vm, int argc) {
    if ((size_t)argc > vm->argv_cap) {
        vm->argv_cap = (size_t)argc * 2;
        vm->argv = realloc(vm->argv, vm->argv_cap * sizeof(resp_arg));
        if (!vm->argv) abort();
    }
    buf_clear(&vm->args);
    for (int i = 1; i <= argc; i++) {
        char num[64];
        const char *s;
        size_t len;
        if (lua_type(L, i) == LUA_TNUMBER) {
            len = (size_t)snprintf(num, sizeof(num), "%.17g", (double)lua_tonumber(L, i));
            s = num;
        } else if (lua_type(L, i) == LUA_TSTRING) {
            s = lua_tolstring(L, i, &len);
        } else {
            return -1;
        }
        vm->argv[i - 1].len = len;
        buf_append(&vm->args, s, len);
        buf_append_byte(&vm->args, 0); /* arguments are NUL-terminated, as the parser leaves them */
    }
    /* Pointers last: the buffer has stopped moving. */
    char *p = vm->args.data;
    for (int i = 0; i < argc; i++) {
        vm->argv[i].ptr = p;
        p += vm->argv[i].len + 1;
    }
    return 0;
}

/* Stops the script for good: the error now and again at every line or instruction. */
static void hook_abort(lua_State *L, lua_Debug *ar);

static int start_abort(lua_State *L, script_vm *vm) {
    vm->aborting = 1;
    lua_sethook(L, hook_abort, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    buf_append_byte(&vm->abort_error, 0);
    return raise_error(L, vm->abort_error.data);
}

static void hook_abort(lua_State *L, lua_Debug *ar) {
    (void)ar;
    script_vm *vm = vm_of(L);
    raise_error(L, vm->abort_error.data);
}

void script_set_busy_hook(script_busy_hook hook) { busy_hook = hook; }

/* Stops the script with text as its error. */
static void stop_script(lua_State *L, script_vm *vm, const char *text) {
    buf_clear(&vm->abort_error);
    buf_append_str(&vm->abort_error, text);
    start_abort(L, vm);
}

/* The busy hook first: a SCRIPT KILL it serves is seen at once. */
static void hook_poll(lua_State *L, lua_Debug *ar) {
    (void)ar;
    script_vm *vm = vm_of(L);
    if (busy_hook && busy_hook(time_mono_ms() - atomic_load(&vm->started_ms)) == SCRIPT_STOP_FOR_SHUTDOWN) {
        log_msg(LOG_WARNING, "Lua script stopped: the server is shutting down.");
        vm->stopped_for_shutdown = 1;
        stop_script(L, vm, "ERR Script stopped: the server is shutting down");
    }
    if (!atomic_load(&vm->kill_requested)) return;
    log_msg(LOG_WARNING, "Lua script killed by user with SCRIPT KILL.");
    stop_script(L, vm, "Script killed by user with SCRIPT KILL...");
}

void script_vm_note_write(script_vm *vm) { atomic_store(&vm->wrote, 1); }

static int runs_function(const script_vm *vm) { return vm->function_name.len > 0; } /* running_lock */

int script_busy(int64_t threshold_ms) {
    if (atomic_load_explicit(&scripts_running, memory_order_relaxed) == 0) return SCRIPT_BUSY_NONE;
    /* The calling thread's own script is busy whatever its time: its thread asks only from the
     * busy hook, where nothing but what may run beside a busy script must run (were the
     * threshold raised meanwhile). */
    pthread_once(&vm_key_once, make_vm_key);
    script_vm *own = pthread_getspecific(vm_key);
    int64_t now = time_mono_ms();
    int busy = SCRIPT_BUSY_NONE;
    pthread_mutex_lock(&running_lock);
    for (script_vm *vm = all_vms; vm && !busy; vm = vm->next)
        if (atomic_load(&vm->running) && (vm == own || now - atomic_load(&vm->started_ms) >= threshold_ms))
            busy = runs_function(vm) ? SCRIPT_BUSY_FUNCTION : SCRIPT_BUSY_EVAL;
    pthread_mutex_unlock(&running_lock);
    return busy;
}

int script_kill(int functions) {
    int found = 0, of_kind = 0, killed = 0;
    pthread_mutex_lock(&running_lock);
    for (script_vm *vm = all_vms; vm; vm = vm->next) {
        if (!atomic_load(&vm->running)) continue;
        found = 1;
        if (runs_function(vm) != functions) continue;
        of_kind = 1;
        if (atomic_load(&vm->wrote)) continue;
        atomic_store(&vm->kill_requested, 1);
        killed = 1;
    }
    pthread_mutex_unlock(&running_lock);
    if (killed) return SCRIPT_KILLED;
    if (of_kind) return SCRIPT_KILL_UNKILLABLE;
    return found ? SCRIPT_KILL_OTHER_KIND : SCRIPT_KILL_NONE;
}

/* Marks the state running (or not) for script_busy and script_kill. */
static void set_running(script_vm *vm, int running) {
    if (running) {
        atomic_store(&vm->wrote, 0);
        atomic_store(&vm->kill_requested, 0);
        atomic_store(&vm->started_ms, time_mono_ms());
        atomic_fetch_add(&scripts_running, 1);
    } else {
        atomic_fetch_sub(&scripts_running, 1);
    }
    atomic_store(&vm->running, running);
}

/* The registry slot of the text redis.call raised last: the script's error handler knows it by
 * it (see error_handler). */
static const char CALL_ERROR_KEY = 0;

/* Raises the error table on top as its text, as Redis 7.0 does: pcall(redis.call, …) catches a
 * string (that `return redis.error_reply(e)` or string.find can use). */
static int raise_call_error(lua_State *L) {
    lua_pushstring(L, "err");
    lua_rawget(L, -2);
    lua_pushlightuserdata(L, (void *)&CALL_ERROR_KEY);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return lua_error(L);
}

static int redis_call_generic(lua_State *L, int raise) {
    script_vm *vm = vm_of(L);
    if (!vm->host) return raise_error(L, "redis.call/pcall can only be called inside a script invocation");
    if (vm->aborting) return raise_error(L, vm->abort_error.data);
    int argc = lua_gettop(L);
    if (argc == 0) {
        push_error(L, "Please specify at least one argument for this redis lib call");
        return raise ? raise_call_error(L) : 1;
    }
    if (collect_args(L, vm, argc) < 0) {
        lua_settop(L, 0);
        push_error(L, "Lua redis lib command arguments must be strings or integers");
        return raise ? raise_call_error(L) : 1;
    }
    lua_settop(L, 0);
    buf_clear(&vm->out);
    buf_clear(&vm->err);
    int rc = vm->host->call(vm->host, argc, vm->argv, vm->resp, &vm->out, &vm->err);
    if (rc == SCRIPT_CALL_ABORT) {
        buf_clear(&vm->abort_error);
        buf_append(&vm->abort_error, vm->err.data, vm->err.len);
        return start_abort(L, vm);
    }
    if (rc == SCRIPT_CALL_REFUSED) {
        script_push_error(L, vm->err.data ? vm->err.data : "", vm->err.len);
        lua_pushstring(L, "ignore_error_stats_update");
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        return raise ? raise_call_error(L) : 1;
    }
    if (script_push_reply(L, vm->out.data, vm->out.len) == 0) return raise_error(L, "malformed reply from a command");
    if (raise && vm->out.data[0] == '-') return raise_call_error(L);
    return 1;
}

static int redis_call(lua_State *L) { return redis_call_generic(L, 1); }

/* redis.acl_check_cmd(command, …): whether the script's user may run it. There is only the
 * default user, who may run everything: true for any command the server knows. */
static int redis_acl_check_cmd(lua_State *L) {
    script_vm *vm = vm_of(L);
    if (!vm->host) return raise_error(L, "redis.acl_check_cmd can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0) return raise_error(L, "Please specify at least one argument for this redis lib call");
    if (collect_args(L, vm, argc) < 0)
        return raise_error(L, "Lua redis lib command arguments must be strings or integers");
    if (!vm->host->command_known(vm->host, &vm->argv[0]))
        return raise_error(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1);
    return 1;
}
static int redis_pcall(lua_State *L) { return redis_call_generic(L, 0); }

/* redis.error_reply(text) / redis.status_reply(text): the tables a script returns for them. */
static int redis_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments");
        return 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    buf text; /* "-" first: the first word is the error's code, as Redis reads it */
    buf_init(&text);
    if (len == 0 || s[0] != '-') buf_append_byte(&text, '-');
    buf_append(&text, s, len);
    script_push_error(L, text.data, text.len);
    buf_free(&text);
    return 1;
}

static int redis_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments");
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, "ok");
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    return 1;
}

static int redis_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1) return raise_error(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(s ? s : "", s ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2) return raise_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return raise_error(L, "First argument must be a number");
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING) return raise_error(L, "Invalid debug level.");
    buf line;
    buf_init(&line);
    for (int i = 2; i <= argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (!s) continue;
        if (i != 2) buf_append_byte(&line, ' ');
        buf_append(&line, s, len);
    }
    buf_append_byte(&line, 0);
    log_msg((enum log_level)level, "%s", line.data);
    buf_free(&line);
    return 0;
}

static int redis_setresp(lua_State *L) {
    if (lua_gettop(L) != 1) return raise_error(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) return raise_error(L, "RESP version must be 2 or 3.");
    vm_of(L)->resp = resp;
    return 0;
}

enum { REPL_NONE = 0, REPL_AOF = 1, REPL_REPLICA = 2, REPL_ALL = 3 };

/* Accepted for Redis's sake: what a script records is always the effects it had. */
static int redis_set_repl(lua_State *L) {
    if (lua_gettop(L) != 1) return raise_error(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, 1);
    if ((flags & ~REPL_ALL) != 0)
        return raise_error(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int redis_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_breakpoint(lua_State *L) {
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_debug(lua_State *L) {
    (void)L;
    return 0;
}

/* ---- FUNCTION libraries: redis.register_function ---- */

/* The registry slots of the state's functions (name → {callback, flags}) and of those the
 * library being loaded registers so far. */
static const char FUNCTIONS_KEY = 0;
static const char PENDING_KEY = 0;

static void push_registry(lua_State *L, const char *key) {
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* Raises a message without the script position luaL_error would add (Redis's texts for
 * register_function's errors have none). */
static int raise_plain(lua_State *L, const char *text) {
    lua_pushstring(L, text);
    return lua_error(L);
}

/* The flags table of the table form: each a known flag's name. Returns the flags, or -1. */
static int read_function_flags(lua_State *L, int idx) {
    int flags = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t len = 0;
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        int flag = name ? script_flag_named(name, len) : 0;
        lua_pop(L, 1);
        if (!flag) {
            lua_pop(L, 1);
            return -1;
        }
        flags |= flag;
    }
    return flags;
}

/* The fields of redis.register_function{function_name=…, callback=…, description=…, flags={…}}:
 * the callback is left on the stack. Returns NULL after raising the error. */
static const char *read_named_arguments(lua_State *L, size_t *name_len, const char **description, int *flags) {
    const char *name = NULL;
    int callback = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *field = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        int type = lua_type(L, -1);
        if (strcmp(field, "function_name") == 0) {
            if (type != LUA_TSTRING) raise_plain(L, "function_name argument given to redis.register_function must be a string");
            name = lua_tolstring(L, -1, name_len);
        } else if (strcmp(field, "description") == 0) {
            if (type != LUA_TSTRING) raise_plain(L, "description argument given to redis.register_function must be a string");
            *description = lua_tostring(L, -1);
        } else if (strcmp(field, "callback") == 0) {
            if (type != LUA_TFUNCTION) raise_plain(L, "callback argument given to redis.register_function must be a function");
            callback = 1;
            lua_pushvalue(L, -1);
            lua_replace(L, 2); /* kept in slot 2 (the strings stay alive in the table) */
        } else if (strcmp(field, "flags") == 0) {
            if (type != LUA_TTABLE) raise_plain(L, "flags argument to redis.register_function must be a table representing function flags");
            *flags = read_function_flags(L, lua_gettop(L));
            if (*flags < 0) raise_plain(L, "unknown flag given");
        } else {
            raise_plain(L, "unknown argument given to redis.register_function");
        }
        lua_pop(L, 1);
    }
    if (!name) raise_plain(L, "redis.register_function must get a function name argument");
    if (!callback) raise_plain(L, "redis.register_function must get a callback argument");
    return name;
}

static int redis_register_function(lua_State *L) {
    script_vm *vm = vm_of(L);
    if (!vm->loading) return raise_plain(L, "redis.register_function can only be called on FUNCTION LOAD command");
    const char *name, *description = NULL;
    size_t name_len = 0;
    int flags = 0;
    if (lua_gettop(L) == 1) {
        if (!lua_istable(L, 1))
            return raise_plain(L, "calling redis.register_function with a single argument is only applicable to Lua "
                                  "table (representing named arguments).");
        lua_settop(L, 2); /* slot 2: the callback */
        name = read_named_arguments(L, &name_len, &description, &flags);
    } else if (lua_gettop(L) == 2) {
        if (lua_type(L, 1) != LUA_TSTRING) return raise_plain(L, "first argument to redis.register_function must be a string");
        if (lua_type(L, 2) != LUA_TFUNCTION)
            return raise_plain(L, "second argument to redis.register_function must be a function");
        name = lua_tolstring(L, 1, &name_len);
    } else {
        return raise_plain(L, "wrong number of arguments to redis.register_function");
    }
    if (!function_name_valid(name, name_len)) return raise_plain(L, ERR_LIBRARY_NAME); /* a NUL too */
    push_registry(L, &PENDING_KEY); /* what this library registered so far, by name */
    lua_pushlstring(L, name, name_len);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) return raise_plain(L, "Function already exists in the library");
    lua_pop(L, 1);
    lua_pushlstring(L, name, name_len);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, flags);
    lua_rawseti(L, -2, 2);
    lua_rawset(L, -3);
    library_add_function(vm->loading, name, description, flags);
    return 0;
}

static void set_number(lua_State *L, const char *name, lua_Number v) {
    lua_pushstring(L, name);
    lua_pushnumber(L, v);
    lua_rawset(L, -3);
}

/* redis.LOG_* and the version, into the table on top. */
static void set_log_levels_and_version(lua_State *L) {
    set_number(L, "LOG_DEBUG", LOG_DEBUG);
    set_number(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_number(L, "LOG_NOTICE", LOG_NOTICE);
    set_number(L, "LOG_WARNING", LOG_WARNING);
    lua_pushstring(L, "REDIS_VERSION");
    lua_pushstring(L, TIDEKV_REDIS_VERSION);
    lua_rawset(L, -3);
    int major = 0, minor = 0, patch = 0;
    sscanf(TIDEKV_REDIS_VERSION, "%d.%d.%d", &major, &minor, &patch);
    set_number(L, "REDIS_VERSION_NUM", (major << 16) | (minor << 8) | patch);
}

static void open_redis_library(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"call", redis_call},
        {"pcall", redis_pcall},
        {"error_reply", redis_error_reply},
        {"status_reply", redis_status_reply},
        {"sha1hex", redis_sha1hex},
        {"log", redis_log},
        {"setresp", redis_setresp},
        {"set_repl", redis_set_repl},
        {"replicate_commands", redis_replicate_commands},
        {"breakpoint", redis_breakpoint},
        {"debug", redis_debug},
        {"acl_check_cmd", redis_acl_check_cmd},
        {"register_function", redis_register_function},
        {NULL, NULL},
    };
    lua_newtable(L);
    for (const luaL_Reg *f = functions; f->name; f++) {
        lua_pushstring(L, f->name);
        lua_pushcfunction(L, f->func);
        lua_rawset(L, -3);
    }
    set_log_levels_and_version(L);
    set_number(L, "REPL_NONE", REPL_NONE);
    set_number(L, "REPL_AOF", REPL_AOF);
    set_number(L, "REPL_SLAVE", REPL_REPLICA);
    set_number(L, "REPL_REPLICA", REPL_REPLICA);
    set_number(L, "REPL_ALL", REPL_ALL);
    lua_setglobal(L, "redis");
}

/* ---- math.random as Redis's: its own rand48 (a thread's first numbers are Redis's first) ---- */

static int math_random(lua_State *L) {
    script_vm *vm = vm_of(L);
    lua_Number r = (lua_Number)(nrand48(vm->rand48) % INT32_MAX) / (lua_Number)INT32_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static void seed_rand48(unsigned short state[3], long seed) {
    state[0] = 0x330E; /* srand48's layout: the seed in the high 32 bits */
    state[1] = (unsigned short)seed;
    state[2] = (unsigned short)(seed >> 16);
}

static int math_randomseed(lua_State *L) {
    seed_rand48(vm_of(L)->rand48, luaL_checkint(L, 1));
    return 0;
}

static int os_clock(lua_State *L) {
    lua_pushnumber(L, (lua_Number)clock() / (lua_Number)CLOCKS_PER_SEC);
    return 1;
}

/* ---- the sandbox ---- */

static int nonexistent_global(lua_State *L) {
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name ? name : "?");
}

/* lua_load's reader for one string. A chunk that starts as bytecode does (ESC) is read after a
 * space, so that it is parsed as text and refused: Lua 5.1 does not check bytecode enough for
 * it to be safe (CVE-2015-4335), and Redis refuses it the same way. */
typedef struct text_chunk {
    const char *s;
    size_t len;
    int stage; /* 0: nothing read, 1: the space, 2: the string */
} text_chunk;

static const char *read_as_text(lua_State *L, void *ud, size_t *size) {
    text_chunk *c = ud;
    (void)L;
    if (c->stage == 0 && c->len > 0 && c->s[0] == LUA_SIGNATURE[0]) {
        c->stage = 1;
        *size = 1;
        return " ";
    }
    if (c->stage == 2) {
        *size = 0;
        return NULL;
    }
    c->stage = 2;
    *size = c->len;
    return c->s;
}

static int load_text(lua_State *L, const char *s, size_t len, const char *name) {
    text_chunk c = {s, len, 0};
    return lua_load(L, read_as_text, &c, name);
}

/* The key under which the globals' read-only view is kept in the registry: scripts run in it. */
static const char ENV_KEY = 0;

/* loadstring's and load's result: the function, run in the scripts' environment (the real
 * globals are not theirs to write), or nil and the error. */
static int finish_load(lua_State *L, int status) {
    if (status != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushlightuserdata(L, (void *)&ENV_KEY);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfenv(L, -2);
    return 1;
}

static int sandbox_loadstring(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, s);
    return finish_load(L, load_text(L, s, len, name));
}

/* load(reader [, name]): the pieces the reader returns, until nil or "", loaded as one string. */
static int sandbox_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    lua_settop(L, 2);
    lua_pushliteral(L, ""); /* the pieces so far, at 3 */
    for (;;) {
        lua_pushvalue(L, 1);
        if (lua_pcall(L, 0, 1, 0) != 0) return finish_load(L, 1);
        if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_objlen(L, -1) == 0)) break;
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pushstring(L, "reader function must return a string");
            return finish_load(L, 1);
        }
        lua_concat(L, 2);
    }
    lua_pop(L, 1);
    size_t len;
    const char *s = lua_tolstring(L, 3, &len);
    return finish_load(L, load_text(L, s, len, name));
}

/* Gives scripts the readers that see through the read-only views, guards what they could
 * write around the views with, and makes loadstring and load text-only, in the scripts'
 * environment. Runs on the real globals, before they are
 * protected. */
static void guard_escapes(lua_State *L) {
    readonly_open_readers(L);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    readonly_guard_raw_write(L, "rawset");
    lua_getfield(L, -1, "table");
    readonly_guard_raw_write(L, "insert");
    readonly_guard_raw_write(L, "remove");
    readonly_guard_raw_write(L, "sort");
    lua_pop(L, 1);
    lua_pushcfunction(L, sandbox_loadstring);
    lua_setfield(L, -2, "loadstring");
    lua_pushcfunction(L, sandbox_load);
    lua_setfield(L, -2, "load");
    lua_pop(L, 1);
}

/* Strings' metatable keeps the real string library as __index (method calls stay fast), but
 * getmetatable('') gives a read-only table whose __index is the read-only library, so no
 * script can reach the real library or the metatable. Runs after protect_globals (the
 * global string is the read-only view then). */
static void protect_string_metatable(lua_State *L) {
    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1)) abort(); /* the string library sets it */
    lua_newtable(L);
    lua_getglobal(L, "string");
    lua_setfield(L, -2, "__index");
    readonly_view_make(L);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
}

static void open_library(lua_State *L, const char *name, lua_CFunction open) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    lua_setglobal(L, name); /* cjson and bit leave their table; set it whatever the module did */
}

static void protect_globals(lua_State *L) {
    static const char *const libraries[] = {"redis", "string", "math", "table", "cjson", "bit",
                                             "struct", "cmsgpack", "os", "coroutine", NULL};
    for (int i = 0; libraries[i]; i++) {
        lua_getglobal(L, libraries[i]);
        readonly_view_make(L);
        lua_setglobal(L, libraries[i]);
    }
    /* A nonexistent global is an error to read, not nil. getmetatable(_G) shows a read-only
     * copy of that metatable, as Redis's read-only one. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushstring(L, "__index");
    lua_pushcfunction(L, nonexistent_global);
    lua_rawset(L, -3);
    lua_pushstring(L, "__metatable");
    lua_newtable(L);
    lua_pushstring(L, "__index");
    lua_pushcfunction(L, nonexistent_global);
    lua_rawset(L, -3);
    readonly_view_make(L);
    lua_rawset(L, -3);
    lua_setmetatable(L, -2);
    /* Scripts see the globals through a read-only view; _G is that view too. */
    readonly_view_make(L);
    lua_pushstring(L, "_G");
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_GLOBALSINDEX);
    lua_pushlightuserdata(L, (void *)&ENV_KEY);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* The globals scripts may use, as Redis 7 allows them (os, with os.clock only, is added after). */
static const char *const allowed_globals[] = {
    "_G", "_VERSION", "assert", "bit", "cjson", "cmsgpack", "collectgarbage", "coroutine", "error", "gcinfo",
    "getmetatable", "ipairs", "load", "loadstring", "math", "next", "pairs", "pcall", "rawequal",
    "rawget", "rawset", "select", "setmetatable", "string", "struct", "table", "tonumber", "tostring", "type",
    "unpack", "xpcall", NULL,
};

/* Drops the globals the libraries made that scripts may not use (print, dofile, loadfile,
 * getfenv, setfenv, module, require, newproxy, …). */
static void remove_unlisted_globals(lua_State *L) {
    lua_newtable(L); /* the names to drop: not removed while lua_next walks */
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, LUA_GLOBALSINDEX)) {
        lua_pop(L, 1);
        int allowed = 0;
        const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        for (int i = 0; allowed_globals[i] && !allowed; i++) allowed = strcmp(name, allowed_globals[i]) == 0;
        if (!allowed) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, -3, ++n);
        }
    }
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_pushnil(L);
        lua_rawset(L, LUA_GLOBALSINDEX);
    }
    lua_pop(L, 1);
}

/* ---- what a library's code sees while it loads ----
 * Redis 7.0 runs a library's code with one global only, a read-only `redis` that has
 * register_function, log, the LOG_ levels and the version (any other name is the
 * nonexistent-global error); the functions it registers see the scripts' globals when they
 * run. So the code runs in an environment of its own, a read-only view that shows the load
 * globals while it loads and the scripts' environment after: the functions and helpers it
 * made keep that environment. Nothing random or clock-bound is in reach at load, so each
 * worker's run of the code registers what FUNCTION LOAD's did. */
static const char LIBRARY_ENV_KEY = 0;
static const char LOAD_GLOBALS_KEY = 0;

/* Makes the table on top raise the nonexistent-global error for a missing field. */
static void refuse_missing_fields(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, nonexistent_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

static void make_library_env(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&LOAD_GLOBALS_KEY);
    lua_newtable(L);
    lua_newtable(L); /* the load globals' redis */
    lua_pushcfunction(L, redis_register_function);
    lua_setfield(L, -2, "register_function");
    lua_pushcfunction(L, redis_log);
    lua_setfield(L, -2, "log");
    set_log_levels_and_version(L);
    refuse_missing_fields(L);
    readonly_view_make(L);
    lua_setfield(L, -2, "redis");
    refuse_missing_fields(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, (void *)&LIBRARY_ENV_KEY);
    push_registry(L, &ENV_KEY);
    readonly_view_make(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* Points the libraries' environment at the load globals (while a library loads) or at the
 * scripts' environment. */
static void set_library_env(lua_State *L, int loading) {
    push_registry(L, &LIBRARY_ENV_KEY);
    lua_getmetatable(L, -1);
    lua_pushstring(L, "__index");
    push_registry(L, loading ? &LOAD_GLOBALS_KEY : &ENV_KEY);
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

static lua_State *new_state(script_vm *vm) {
    lua_State *L = luaL_newstate();
    if (!L) abort();
    lua_pushlightuserdata(L, (void *)&VM_KEY);
    lua_pushlightuserdata(L, vm);
    lua_rawset(L, LUA_REGISTRYINDEX);
    open_library(L, "", luaopen_base);
    open_library(L, LUA_TABLIBNAME, luaopen_table);
    open_library(L, LUA_STRLIBNAME, luaopen_string);
    open_library(L, LUA_MATHLIBNAME, luaopen_math);
    open_library(L, "cjson", luaopen_cjson);
    open_library(L, "bit", luaopen_bit);
    open_library(L, "struct", script_open_struct);
    open_library(L, "cmsgpack", script_open_cmsgpack);
    lua_settop(L, 0);
    script_guard_builtins(L);
    remove_unlisted_globals(L);
    lua_getglobal(L, "math");
    lua_pushcfunction(L, math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, os_clock);
    lua_setfield(L, -2, "clock");
    lua_setglobal(L, "os");
    open_redis_library(L);
    guard_escapes(L);
    protect_globals(L);
    protect_string_metatable(L);
    make_library_env(L);
    lua_pushlightuserdata(L, (void *)&FUNCTIONS_KEY);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    vm->functions_generation = 0;
    return L;
}

script_vm *script_vm_get(void) {
    pthread_once(&vm_key_once, make_vm_key);
    script_vm *vm = pthread_getspecific(vm_key);
    uint64_t generation = script_cache_generation();
    if (vm && vm->generation == generation) return vm;
    if (vm) { /* SCRIPT FLUSH since: a fresh state, as Redis resets its own */
        lua_close(vm->L);
        vm->L = new_state(vm);
        vm->generation = generation;
        return vm;
    }
    vm = calloc(1, sizeof(*vm));
    if (!vm) abort();
    /* rand48's state before any seeding, as Redis starts with it (and never reseeds per script). */
    vm->rand48[0] = 0x330E, vm->rand48[1] = 0xABCD, vm->rand48[2] = 0x1234;
    buf_init(&vm->abort_error);
    buf_init(&vm->args);
    buf_init(&vm->out);
    buf_init(&vm->err);
    buf_init(&vm->function_name);
    buf_init(&vm->function_call);
    vm->L = new_state(vm);
    vm->generation = generation;
    if (pthread_setspecific(vm_key, vm) != 0) abort();
    pthread_mutex_lock(&running_lock);
    vm->next = all_vms;
    if (all_vms) all_vms->prev = vm;
    all_vms = vm;
    pthread_mutex_unlock(&running_lock);
    return vm;
}

/* ---- scripts ---- */

/* Pushes the registry slot name "<prefix>_<sha>": f_ holds a script's function, s_ its shebang
 * flags. */
static void push_slot_name(lua_State *L, char prefix, const char sha[41]) {
    char name[43] = {prefix, '_'};
    memcpy(name + 2, sha, 41);
    lua_pushstring(L, name);
}

static void push_function_name(lua_State *L, const char sha[41]) { push_slot_name(L, 'f', sha); }

int script_vm_has(script_vm *vm, const char sha[41]) {
    push_function_name(vm->L, sha);
    lua_rawget(vm->L, LUA_REGISTRYINDEX);
    int found = lua_isfunction(vm->L, -1);
    lua_pop(vm->L, 1);
    return found;
}

static void push_flags_name(lua_State *L, const char sha[41]) { push_slot_name(L, 's', sha); }

int script_vm_flags(script_vm *vm, const char sha[41]) {
    push_flags_name(vm->L, sha);
    lua_rawget(vm->L, LUA_REGISTRYINDEX);
    int flags = (int)lua_tonumber(vm->L, -1);
    lua_pop(vm->L, 1);
    return flags;
}

int script_vm_load(script_vm *vm, const char sha[41], const char *body, size_t len, buf *err) {
    lua_State *L = vm->L;
    int flags;
    size_t skip;
    if (script_parse_shebang(body, len, &flags, &skip, err) < 0) {
        buf msg;
        buf_init(&msg);
        buf_printf(&msg, "ERR %.*s", (int)err->len, err->data);
        buf_clear(err);
        buf_append(err, msg.data, msg.len);
        buf_free(&msg);
        return -1;
    }
    /* The shebang line is left out but its newline kept, so line numbers stay the user's. */
    if (load_text(L, body + skip, len - skip, "@user_script") != 0) {
        buf_printf(err, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_pushlightuserdata(L, (void *)&ENV_KEY);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfenv(L, -2);
    push_function_name(L, sha);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    push_flags_name(L, sha);
    lua_pushnumber(L, flags);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return 0;
}

static void push_array(lua_State *L, const resp_arg *args, int n) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, args[i].ptr, args[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Sets a global (in the real globals, behind the scripts' read-only view) to an array of args. */
static void set_global_array(lua_State *L, const char *name, const resp_arg *args, int n) {
    lua_pushstring(L, name);
    push_array(L, args, n);
    lua_rawset(L, LUA_GLOBALSINDEX);
}

/* Whether the value at idx is the error text redis.call raised last. */
static int is_call_error(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TSTRING) return 0;
    lua_pushlightuserdata(L, (void *)&CALL_ERROR_KEY);
    lua_rawget(L, LUA_REGISTRYINDEX);
    int same = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return same;
}

/* The error handler a script runs under: an error becomes a table {err=…} (a string gets
 * "ERR " before it, but for redis.call's, which has its code), with the source and line of
 * the script code that raised it. */
static int error_handler(lua_State *L) {
    lua_Debug ar;
    int have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "nSl", &ar);
    if (have && strcmp(ar.what, "C") == 0) /* raised by a C function: where the script called it */
        have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "nSl", &ar);
    if (!lua_istable(L, 1)) {
        const char *s = lua_tostring(L, 1);
        if (is_call_error(L, 1)) lua_pushvalue(L, 1);
        else lua_pushfstring(L, "ERR %s", s ? s : luaL_typename(L, 1));
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushvalue(L, -3);
        lua_rawset(L, -3);
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    if (have) {
        lua_pushstring(L, "source");
        lua_pushstring(L, ar.source);
        lua_rawset(L, 1);
        lua_pushstring(L, "line");
        lua_pushnumber(L, ar.currentline);
        lua_rawset(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

/* The reply for a script that raised the error table on top: "<err> script: <sha>, on
 * <source>:<line>." as Redis 7 writes it. */
static void reply_script_error(lua_State *L, const char *sha, reply *r) {
    if (!lua_istable(L, -1)) {
        const char *s = lua_tostring(L, -1);
        reply_errorf(r, "ERR Error running script %s, %.100s", sha, s ? s : "execution failure");
        return;
    }
    int table = lua_gettop(L);
    const char *msg = script_push_error_text(L, table);
    lua_getfield(L, table, "source");
    lua_getfield(L, table, "line");
    const char *source = lua_tostring(L, -2);
    const char *line = lua_tostring(L, -1);
    buf text;
    buf_init(&text);
    buf_append_str(&text, msg ? msg : "ERR unknown error");
    if (source && line) buf_printf(&text, " script: %s, on %s:%s.", sha, source, line);
    buf_append_byte(&text, 0);
    reply_error(r, text.data);
    buf_free(&text);
    lua_settop(L, table);
}

/* Buffers a state keeps for the next redis.call; bigger ones (a big value went through) go back
 * once the script ends, or every state would keep the biggest it ever saw. */
#define KEEP_CALL_BUFFER_BYTES (64 * 1024)

static void release_if_big(buf *b) {
    if (b->cap > KEEP_CALL_BUFFER_BYTES) buf_free(b);
}

static void release_big_call_buffers(script_vm *vm) {
    release_if_big(&vm->args);
    release_if_big(&vm->out);
    release_if_big(&vm->err);
}

/* Calls the function below its nargs arguments on the stack as a script named label (in its
 * error texts), writing its result or its error into r as one reply. Returns as script_vm_run. */
static int run_callable(script_vm *vm, const char *label, int nargs, script_host *host, reply *r) {
    lua_State *L = vm->L;
    vm->host = host;
    vm->resp = 2;
    vm->aborting = 0;
    vm->stopped_for_shutdown = 0;
    lua_pushlightuserdata(L, (void *)&CALL_ERROR_KEY); /* no earlier script's error counts */
    lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, error_handler);
    lua_insert(L, -(nargs + 2));
    lua_sethook(L, hook_poll, LUA_MASKCOUNT, SCRIPT_POLL_INSTRUCTIONS);
    set_running(vm, 1);
    int failed = lua_pcall(L, nargs, 1, -(nargs + 2)) != 0;
    set_running(vm, 0);
    release_big_call_buffers(vm);
    lua_sethook(L, NULL, 0, 0);
    if (failed) {
        reply_script_error(L, label, r);
        lua_pop(L, 1);
    } else {
        script_reply_value(L, r, vm->resp);
    }
    lua_pop(L, 1); /* the error handler */
    vm->host = NULL;
    /* The arguments' tables go with the next collection; a step now keeps memory flat. */
    lua_gc(L, LUA_GCSTEP, 1);
    return vm->stopped_for_shutdown ? -1 : 0;
}

int script_vm_run(script_vm *vm, const char sha[41], const resp_arg *keys, int nkeys, const resp_arg *args,
                   int nargs, script_host *host, reply *r) {
    lua_State *L = vm->L;
    set_global_array(L, "KEYS", keys, nkeys);
    set_global_array(L, "ARGV", args, nargs);
    push_function_name(L, sha);
    lua_rawget(L, LUA_REGISTRYINDEX);
    return run_callable(vm, sha, 0, host, r);
}

/* ---- FUNCTION libraries ---- */

/* A library's code that runs past this stops with an error (Redis's limit). */
#define LIBRARY_LOAD_LIMIT_MS 500

static void hook_load_limit(lua_State *L, lua_Debug *ar) {
    (void)ar;
    script_vm *vm = vm_of(L);
    if (time_mono_ms() - vm->load_started_ms < LIBRARY_LOAD_LIMIT_MS) return;
    stop_script(L, vm, "FUNCTION LOAD timeout");
}

/* Moves the functions the library just registered into the state's functions. */
static void keep_pending_functions(lua_State *L) {
    push_registry(L, &FUNCTIONS_KEY);
    push_registry(L, &PENDING_KEY);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
    }
    lua_pop(L, 2);
}

static void set_pending(lua_State *L, int fresh) {
    lua_pushlightuserdata(L, (void *)&PENDING_KEY);
    if (fresh) lua_newtable(L);
    else lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* The error a library's code ended with, as FUNCTION LOAD words it. */
static void library_error(lua_State *L, buf *err) {
    const char *msg = script_push_error_text(L, -1);
    if (msg) {
        buf_printf(err, "ERR Error registering functions: %s", msg);
        lua_pop(L, 1);
    } else {
        msg = lua_tostring(L, -1);
        buf_printf(err, "ERR Error registering functions: ERR %s", msg ? msg : "unknown error");
    }
}

int script_vm_load_library(script_vm *vm, const char *code, size_t len, size_t line_len, library *lib, int keep,
                           buf *err) {
    lua_State *L = vm->L;
    /* The shebang line is left out but its newline kept, so line numbers stay the user's. */
    if (luaL_loadbuffer(L, code + line_len, len - line_len, "@user_function") != 0) {
        buf_printf(err, "ERR Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    push_registry(L, &LIBRARY_ENV_KEY);
    lua_setfenv(L, -2);
    set_pending(L, 1);
    size_t before = lib->nfns;
    vm->loading = lib;
    vm->aborting = 0;
    vm->load_started_ms = time_mono_ms();
    lua_sethook(L, hook_load_limit, LUA_MASKCOUNT, SCRIPT_POLL_INSTRUCTIONS);
    set_library_env(L, 1);
    int failed = lua_pcall(L, 0, 0, 0) != 0;
    set_library_env(L, 0);
    lua_sethook(L, NULL, 0, 0);
    vm->loading = NULL;
    vm->aborting = 0;
    if (failed) {
        library_error(L, err);
        lua_pop(L, 1);
    } else if (lib->nfns == before) {
        buf_append_str(err, "ERR No functions registered");
        failed = 1;
    } else if (keep) {
        keep_pending_functions(L);
    }
    set_pending(L, 0);
    return failed ? -1 : 0;
}

uint64_t script_vm_functions_generation(script_vm *vm) { return vm->functions_generation; }

void script_vm_reset_functions(script_vm *vm, uint64_t generation) {
    lua_pushlightuserdata(vm->L, (void *)&FUNCTIONS_KEY);
    lua_newtable(vm->L);
    lua_rawset(vm->L, LUA_REGISTRYINDEX);
    vm->functions_generation = generation;
}

/* Pushes the entry {callback, flags} of function name, or nil. */
static void push_function_entry(lua_State *L, const char *name, size_t len) {
    push_registry(L, &FUNCTIONS_KEY);
    lua_pushlstring(L, name, len);
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

int script_vm_function(script_vm *vm, const char *name, size_t len, int *flags) {
    push_function_entry(vm->L, name, len);
    int found = lua_istable(vm->L, -1);
    if (found) {
        lua_rawgeti(vm->L, -1, 2);
        *flags = (int)lua_tonumber(vm->L, -1);
        lua_pop(vm->L, 1);
    }
    lua_pop(vm->L, 1);
    return found;
}

static void clear_global(lua_State *L, const char *name) {
    lua_pushstring(L, name);
    lua_pushnil(L);
    lua_rawset(L, LUA_GLOBALSINDEX);
}

/* Notes the function that runs (name and call), or that none does (NULL), for FUNCTION STATS. */
static void note_function(script_vm *vm, const char *name, size_t len, const resp_arg *call, int call_argc) {
    pthread_mutex_lock(&running_lock);
    buf_clear(&vm->function_name);
    buf_clear(&vm->function_call);
    if (name) {
        buf_append(&vm->function_name, name, len);
        reply out = {&vm->function_call, 2, 0, NULL};
        reply_array(&out, call_argc);
        for (int i = 0; i < call_argc; i++) reply_bulk(&out, call[i].ptr, call[i].len);
    }
    pthread_mutex_unlock(&running_lock);
}

int script_running_function(buf *name, buf *call, int64_t *ms) {
    if (atomic_load_explicit(&scripts_running, memory_order_relaxed) == 0) return 0;
    int found = 0;
    pthread_mutex_lock(&running_lock);
    for (script_vm *vm = all_vms; vm && !found; vm = vm->next) {
        if (!atomic_load(&vm->running) || vm->function_name.len == 0) continue;
        found = 1;
        buf_append(name, vm->function_name.data, vm->function_name.len);
        buf_append(call, vm->function_call.data, vm->function_call.len);
        *ms = time_mono_ms() - atomic_load(&vm->started_ms);
    }
    pthread_mutex_unlock(&running_lock);
    return found;
}

int script_vm_call_function(script_vm *vm, const char *name, size_t len, const resp_arg *keys, int nkeys,
                             const resp_arg *args, int nargs, const resp_arg *call, int call_argc, script_host *host,
                             reply *r) {
    lua_State *L = vm->L;
    /* A function has its keys and args as arguments: KEYS and ARGV are no globals of its. */
    clear_global(L, "KEYS");
    clear_global(L, "ARGV");
    push_function_entry(L, name, len);
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    push_array(L, keys, nkeys);
    push_array(L, args, nargs);
    char *label = malloc(len + 1);
    if (!label) abort();
    memcpy(label, name, len);
    label[len] = '\0';
    note_function(vm, name, len, call, call_argc);
    int rc = run_callable(vm, label, 2, host, r);
    note_function(vm, NULL, 0, NULL, 0);
    free(label);
    return rc;
}
