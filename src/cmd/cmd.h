/* The command layer: the command table, the context a handler runs in, shared helpers. */
#ifndef TIDEKV_CMD_H
#define TIDEKV_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/poll.h"
#include "proto/reply.h"
#include "proto/resp.h"
#include "server.h"
#include "storage/txn.h"
#include "types/status.h"

#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NOT_INTEGER "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_SYNTAX "ERR syntax error"
#define ERR_STORAGE "ERR storage error, see the server log"
/* Data that contradicts itself (disk corruption, a bug, a forged APPLYBATCH): %s is the key. */
#define ERR_CORRUPT_FMT "ERR corrupt value stored at key '%s', see the server log"

enum cmd_flags {
    CMD_WRITE = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_NOAUTH = 1 << 2,    /* allowed before AUTH */
    CMD_NOQUEUE = 1 << 3,   /* runs at once even inside MULTI (EXEC, DISCARD, …) */
    CMD_ALLKEYS = 1 << 4,   /* touches every key: runs alone (FLUSHDB, FLUSHALL) */
    CMD_NOKEYS = 1 << 5,    /* touches no key: takes no lock */
    CMD_FAST = 1 << 6,
    CMD_ADMIN = 1 << 7,
    CMD_SUBCOMMANDS = 1 << 8, /* CLIENT LIST, CONFIG GET …: shown as client|list */
    CMD_NOMULTI = 1 << 11,    /* refused inside MULTI (it cannot join the transaction's batch) */
    CMD_BLOCKING = 1 << 12,   /* may wait for another client's write (BLPOP …) */
    /* Flags that only COMMAND INFO shows, for clients that read them (Redis's meaning). */
    CMD_DENYOOM = 1 << 13,
    CMD_NOSCRIPT = 1 << 14,
    CMD_LOADING = 1 << 15,
    CMD_STALE = 1 << 16,
    CMD_SKIP_SLOWLOG = 1 << 17,
    CMD_ALLOW_BUSY = 1 << 18,
    /* Runs a script (EVAL …): it may touch keys beyond those it declares. Joining a write group
     * it takes those keys' locks as it goes (see dispatch_cover_keys); anywhere else, or when
     * one is busy, it runs alone holding every key. */
    CMD_SCRIPT = 1 << 19,
    /* More flags that only COMMAND INFO shows (the scripting commands have them in Redis). */
    CMD_SKIP_MONITOR = 1 << 20,
    CMD_NO_MANDATORY_KEYS = 1 << 21,
    CMD_PUBSUB = 1 << 22,
    /* Not shown: one of the commands a RESP2 client in subscribed mode may run. */
    CMD_SUBSCRIBED_OK = 1 << 23,
    CMD_NO_ASYNC_LOADING = 1 << 24, /* only COMMAND INFO shows it (the replication commands have it in Redis) */
    /* Not shown: writes no key but reaches other clients (PUBLISH), so a read-only script
     * may not run it, as Redis's may-replicate commands. */
    CMD_MAY_REPLICATE = 1 << 25,
};

/* A key specification (Redis 7's key_specs): where a command's keys are and what it does to
 * them. COMMAND INFO shows them; dispatch locks, and COMMAND GETKEYS lists, the keys they find. */
enum key_flags {
    KEY_RO = 1 << 0,   /* read only */
    KEY_RW = 1 << 1,   /* read and written */
    KEY_OW = 1 << 2,   /* overwritten without being read */
    KEY_RM = 1 << 3,   /* deleted */
    KEY_ACCESS = 1 << 4, /* the value reaches the client */
    KEY_UPDATE = 1 << 5,
    KEY_INSERT = 1 << 6,
    KEY_DELETE = 1 << 7,
    KEY_INCOMPLETE = 1 << 8,     /* the spec may not find every key */
    KEY_VARIABLE_FLAGS = 1 << 9, /* the flags depend on the arguments */
    KEY_NOT_KEY = 1 << 10,       /* not a key but routed like one (a shard channel): never locked */
};

enum key_begin { KEY_BEGIN_INDEX, KEY_BEGIN_UNKNOWN };
enum key_find { KEY_FIND_RANGE, KEY_FIND_KEYNUM, KEY_FIND_UNKNOWN };

typedef struct key_spec {
    int flags;
    enum key_begin begin;
    int index; /* KEY_BEGIN_INDEX: the first key's argv index */
    enum key_find find;
    /* KEY_FIND_RANGE: lastkey (relative to index; < 0 counts from the end), keystep, limit.
     * KEY_FIND_KEYNUM: keynumidx, firstkey (both relative to index), keystep. */
    int a, b, c;
} key_spec;

/* One key a command touches: argv[pos], with key flags; db >= 0 when it lives in another
 * database than the client's (COPY … DB n): only the locks care about those. */
typedef struct key_ref {
    int pos;
    int flags;
    int db;
} key_ref;

/* cmd_ctx.in_exec inside a script (EVAL, FCALL), where Redis refuses some blocking options. */
#define IN_SCRIPT 2

typedef struct cmd_ctx {
    client *c;
    const char *name; /* the running command's name, lowercase, for error texts */
    int argc;
    resp_arg *argv;
    reply *r;
    txn *t;
    int db;
    int in_exec;      /* inside EXEC, or IN_SCRIPT inside a script: a blocking command answers at once */
    int retrying;     /* a blocked command tried again after a commit touched its keys */
    int keep_waiting; /* set by a retried blocking command that still finds nothing */
    size_t reply_mark; /* r->out->len when the command began: a failed command's reply starts there */
    int failed;        /* the command failed midway: dispatch drops what it wrote (see reply_storage_error) */
    /* A script's key locks: the write group's set it may add to, or NULL when it holds every
     * key. needs_all_keys: it found a lock busy and is to run again alone, holding every key. */
    struct keylock_set *locks;
    int needs_all_keys;
} cmd_ctx;

typedef void (*cmd_fn)(cmd_ctx *ctx);

/* Where the keys a command touches are delivered, one by one. */
typedef struct key_sink {
    void (*add)(struct key_sink *sink, key_ref k);
} key_sink;

struct cmd_def;
/* Finds a command's keys where its key specs cannot (SORT … STORE) or its key flags depend on
 * the arguments (SET … GET): gives each to the sink; -1 if the arguments are malformed. */
typedef int (*cmd_getkeys_fn)(const struct cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);

typedef struct cmd_def {
    const char *name;
    int arity; /* > 0 exact, < 0 at least -arity */
    int flags;
    int first_key, last_key, key_step; /* COMMAND INFO's legacy key range (Redis's values) */
    cmd_fn fn;
    const char *group;      /* COMMAND DOCS group: "string", "generic", … */
    const char *categories; /* ACL categories: "@read @string @fast" */
    const char *summary;
    const char *syntax; /* the arguments after the name, for COMMAND DOCS (see cmd/docs.h) */
    const key_spec *key_specs;
    int nkey_specs;
    cmd_getkeys_fn getkeys; /* NULL: the key specs find every key */
} cmd_def;

/* Gives the sink every key of a command (argc already checked against its arity), from its
 * getkeys function or else its key specs. Returns -1 if the arguments are malformed (a bad
 * numkeys), after giving the keys found before. */
int cmd_get_keys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);
/* The keys that the key specs alone find (for getkeys functions that add to them). */
int cmd_spec_keys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink);
/* Whether argc arguments (the name included) suit the command's arity. */
static inline int cmd_arity_ok(const cmd_def *def, int argc) {
    return def->arity > 0 ? argc == def->arity : argc >= -def->arity;
}
/* The CDC filters' key finder (cdc_set_keys_hook): a recorded command's keys, as its
 * descriptor finds them. */
void cmd_recorded_keys(const record_cmd *c, cdc_key_visitor *v);

/* A family's commands: each family file (cmd/hash.c, …) declares its own, gathered by
 * cmd/table.c. */
typedef struct cmd_family {
    const cmd_def *defs;
    size_t count;
} cmd_family;
extern const cmd_family connection_commands, server_commands, transaction_commands, string_commands, key_commands,
    hash_commands, set_commands, list_commands, zset_commands, stream_commands, stream_group_commands, cdc_commands, scripting_commands, pubsub_commands,
    function_commands, replication_commands;

const cmd_def *cmd_lookup(const char *name, size_t len);
/* The whole table, for COMMAND. */
const cmd_def *cmd_table(size_t *count);

/* Helpers for handlers. */
int arg_is(const resp_arg *a, const char *word);
/* Parses an integer argument without replying; 0 or -1. */
int arg_parse_ll(const resp_arg *a, long long *out);
/* Parses an integer argument; on failure replies ERR_NOT_INTEGER and returns -1. */
int arg_ll(cmd_ctx *ctx, const resp_arg *a, long long *out);
/* Replies Redis's error for a subcommand that is unknown, or known (in the NULL-ended list)
 * but given the wrong number of arguments; answers <COMMAND> HELP with the known ones. */
void reply_subcommand_error(cmd_ctx *ctx, const char *const *known);
/* Replies a HELP text: an array of its lines as simple strings, as Redis writes them. */
void reply_help_lines(cmd_ctx *ctx, const char *const *lines, size_t n);
/* Fails the command on a storage read error: what it replied so far is dropped, the reply is
 * ERR_STORAGE alone, and dispatch rolls back the writes it made (a command is all or nothing).
 * The handler returns at once after it. */
void reply_storage_error(cmd_ctx *ctx);
/* The same for a key whose stored data is corrupt: the reply is ERR_CORRUPT_FMT (logged). */
void reply_corrupt(cmd_ctx *ctx, const char *key, size_t klen);
/* Replies the error for a type module's status about key: WRONGTYPE, the corrupt-key error
 * (ST_CORRUPT) or, for ST_ERROR and any other, the storage error. */
void reply_type_error(cmd_ctx *ctx, const resp_arg *key, type_status s);
/* Records a command (argv and lengths) as this write's effect; type is the key's type (0 = none). */
void cmd_record(cmd_ctx *ctx, int type, int argc, const char *const *argv, const size_t *lens);
/* Records "SET key value [PXAT expire]": the exact resulting string. */
void cmd_record_set(cmd_ctx *ctx, const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms);
/* A command to record, built argument by argument: name, key, then what add() appends.
 * Numbers added with effect_add_score are formatted into the effect's own storage. */
typedef struct effect {
    const char **argv;
    size_t *lens;
    char (*nums)[32];
    int argc, nnums, type;
} effect;

/* Room for `extra` arguments after name and key. */
void effect_init(effect *e, int type, const char *name, const resp_arg *key, int extra);
void effect_add(effect *e, const char *p, size_t len);
void effect_add_score(effect *e, double score);
/* Records the command if it has at least min_args arguments, and frees the effect. */
void effect_finish(cmd_ctx *ctx, effect *e, int min_args);
/* Frees the effect without recording it (the command failed). */
void effect_discard(effect *e);

/* Deletes whatever is at key (recording DEL) so a STORE can write it anew: 1 if there was a
 * key, 0 if not, or -1 on a read error (nothing replied). */
STORE_MUST_CHECK int replace_key(cmd_ctx *ctx, const resp_arg *key);

/* LMPOP / ZMPOP arguments from argv[first] (numkeys): the keys, which end (word0 → 0,
 * word1 → 1) and COUNT. Replies Redis's error and returns -1 if they are malformed. */
int parse_mpop(cmd_ctx *ctx, int first, const char *word0, const char *word1, int *nkeys, int *which,
               long long *count);

/* Records "<name> key" (DEL, PERSIST, …) for a key of the given type. */
void cmd_record_key(cmd_ctx *ctx, const char *name, int type, const char *key, size_t klen);

#endif
