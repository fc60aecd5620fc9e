/* Server configuration: defaults, a redis.conf-style file, --name value overrides, CONFIG GET/SET. */
#ifndef TIDEKV_CONFIG_H
#define TIDEKV_CONFIG_H

#include <stdatomic.h>
#include <stddef.h>

#include "util/buf.h"

/* One client class's output buffer limit: close a client whose pending replies exceed hard
 * bytes, or stay over soft bytes for soft_seconds (0 = no such limit). */
typedef struct output_limit {
    long long hard, soft;
    int soft_seconds;
} output_limit;

/* An output_limit as stored: CONFIG SET changes it while workers read it. Each part is read
 * alone (config_output_limit), so a reader may pair a new hard with an old soft: each is a
 * valid setting, and the next check sees both new. */
typedef struct shared_output_limit {
    atomic_llong hard, soft;
    atomic_int soft_seconds;
} shared_output_limit;

/* A string that may hold any byte (NUL too); ptr is also NUL-terminated. */
typedef struct bytes_option {
    char *ptr;
    size_t len;
} bytes_option;

/* Numbers are atomics: CONFIG SET writes them on one worker while the others read them. Read
 * them with CONFIG_READ. Strings are replaced under a lock inside config.c and read there
 * (requirepass, CONFIG GET) or only at start-up (bind, dir, logfile). */
typedef struct config {
    char *bind;
    atomic_int port;
    char *dir;
    atomic_int workers;
    bytes_option requirepass; /* empty = no password; read it under the config lock (config_password_*) */
    atomic_int maxclients;
    atomic_int timeout; /* seconds idle before a client is closed, 0 = never */
    char *logfile;
    atomic_int loglevel;
    atomic_int databases;
    atomic_llong proto_max_bulk_len;
    atomic_llong client_query_buffer_limit;
    atomic_llong maxmemory_clients; /* bytes all clients may hold together, 0 = no limit */
    atomic_llong block_cache_mb;
    atomic_llong write_buffer_mb;
    atomic_int enable_blob_files; /* values of min_blob_size or more go to blob files */
    atomic_llong min_blob_size;
    atomic_llong wal_ttl_seconds;
    atomic_llong wal_size_limit_mb;
    atomic_llong cdc_cache_mb; /* memory for recent batches served to CDC consumers */
    atomic_int cdc_poll_pace_ms;   /* a consumer of a busy stream gets at most one BLOCK reply per this */
    atomic_llong cdc_poll_max_bytes; /* a POLLUPDATES reply takes no more batches once this long */
    atomic_int cdc_max_consumers;          /* durable consumers (CDC CREATE) that may exist */
    atomic_llong cdc_consumer_max_wal_mb;  /* WAL one consumer may keep before it is lost; 0 = no cap */
    atomic_int cdc_max_snapshots;          /* snapshots (SNAPSHOT CREATE) that may exist at once */
    char *save;       /* informational, for Redis tools */
    char *appendonly; /* informational, for Redis tools */
    atomic_int appendfsync;    /* enum fsync_mode: when the WAL is synced (storage/durable.h) */
    atomic_int protected_mode; /* 1: refuse to listen beyond loopback without a password */
    atomic_int debug_fault_injection; /* tests only: DEBUG READ-ERROR-AFTER is allowed */
    atomic_int debug_check_recording; /* tests only: a command that writes without recording stops the server */
    shared_output_limit output_limits[3]; /* by class: OUTPUT_CLASS_NORMAL, _SLAVE (no such clients yet), _PUBSUB */
    atomic_int tcp_backlog;
    atomic_int tcp_keepalive; /* seconds idle before keepalive probes; 0 = none */
    char *pidfile;            /* empty = none */
    atomic_int notify_keyspace_events; /* keyspace_event bits */
    atomic_llong busy_reply_threshold; /* ms a script runs before other commands get BUSY */
    atomic_llong hz;                   /* active expiry cycles per second (types/expiry.h), 1..500 */
    atomic_llong active_expire_effort; /* 1..10: a bigger share of each cycle's period for active expiry */
    char *replicaof;                   /* "host port" of the master to follow from start-up, or empty */
    atomic_llong repl_timeout;         /* seconds a silent master link, or replica link, is kept */
} config;

/* Splits replicaof's "host port": 0, or -1 if it is not that. */
int config_parse_replicaof(const char *value, char *host, size_t host_len, int *port);

/* bind takes at most this many addresses, as Redis. */
#define CONFIG_MAX_BIND 16

/* notify-keyspace-events' classes (Redis's letters: K E g $ l s h z x e t m d n; A is KE_ALL). */
enum keyspace_event {
    KE_KEYSPACE = 1 << 0,  /* K */
    KE_KEYEVENT = 1 << 1,  /* E */
    KE_GENERIC = 1 << 2,   /* g */
    KE_STRING = 1 << 3,    /* $ */
    KE_LIST = 1 << 4,      /* l */
    KE_SET = 1 << 5,       /* s */
    KE_HASH = 1 << 6,      /* h */
    KE_ZSET = 1 << 7,      /* z */
    KE_EXPIRED = 1 << 8,   /* x */
    KE_EVICTED = 1 << 9,   /* e */
    KE_STREAM = 1 << 10,   /* t */
    KE_KEY_MISS = 1 << 11, /* m */
    KE_MODULE = 1 << 12,   /* d */
    KE_NEW = 1 << 13,      /* n */
    KE_ALL = KE_GENERIC | KE_STRING | KE_LIST | KE_SET | KE_HASH | KE_ZSET | KE_EXPIRED | KE_EVICTED | KE_STREAM |
             KE_MODULE,
};

/* The address family (AF_INET, AF_INET6) a bind address (without its '-') listens on: "*" is
 * every IPv4 address, "::*" every IPv6 one; -1 if it is not an address. */
int config_bind_address_family(const char *addr);

/* The running configuration. */
extern config server_config;

/* Reads a number of server_config from any thread. Relaxed: a setting publishes no other
 * memory, so the hot path pays no fence for it. */
#define CONFIG_READ(field) atomic_load_explicit(&server_config.field, memory_order_relaxed)

/* Reads a stored output limit (relaxed, as CONFIG_READ). */
static inline output_limit output_limit_load(const shared_output_limit *l) {
    output_limit v = {atomic_load_explicit(&l->hard, memory_order_relaxed),
                      atomic_load_explicit(&l->soft, memory_order_relaxed),
                      atomic_load_explicit(&l->soft_seconds, memory_order_relaxed)};
    return v;
}

enum { OUTPUT_CLASS_NORMAL, OUTPUT_CLASS_SLAVE, OUTPUT_CLASS_PUBSUB };
/* The output buffer limit of a client class (OUTPUT_CLASS_…). */
static inline output_limit config_output_limit(int cls) { return output_limit_load(&server_config.output_limits[cls]); }

/* appendfsync's names, by enum fsync_mode (storage/durable.h). */
extern const char *const config_fsync_modes[];

/* Fills server_config with defaults. */
void config_init_defaults(void);
/* Applies a config file's text; source names it in errors. Returns 0 or -1 with err filled. */
int config_load_text(const char *text, const char *source, char *err, size_t errlen);
/* Parses the command line: [config-file] [--name value ...]. Returns 0 or -1 with err filled. */
int config_load_args(int argc, char **argv, char *err, size_t errlen);
/* Sets one option by name to a value of len bytes, as CONFIG SET does. runtime=1 refuses options
 * that cannot change while running. Returns 0, or -1 with a Redis-style reason in err. Only
 * requirepass may hold a NUL byte; value[len] must be a NUL (as parsed arguments have). */
int config_set_bytes(const char *name, const char *value, size_t len, int runtime, char *err, size_t errlen);
/* config_set_bytes for a C string value. */
int config_set(const char *name, const char *value, int runtime, char *err, size_t errlen);
/* Validates a value as config_set_bytes would, without changing anything. */
int config_check(const char *name, const char *value, size_t len, int runtime, char *err, size_t errlen);
/* Receives one option's name and its value (value_len bytes, NUL-terminated too). */
typedef void (*config_emit_fn)(void *ctx, const char *name, const char *value, size_t value_len);
/* Calls emit for every option whose name matches a glob; returns how many matched. */
int config_get_matching(const char *pattern, size_t plen, config_emit_fn emit, void *ctx);
/* Appends one option's value, as CONFIG GET shows it, to out. Returns 0, or -1 if there is
 * no such option. */
int config_get_value(const char *name, buf *out);
/* CONFIG REWRITE: the config file the server started from gets every option's current value
 * (the first line of each option it has; the others appended). 0, or -1 with Redis's reason. */
int config_rewrite(char *err, size_t errlen);
/* Whether a password is set: clients must AUTH (it may change while they are connected). */
int config_password_set(void);
/* Whether p is the password (compared whole and binary-safe, in time that depends only on len). */
int config_password_matches(const char *p, size_t len);

#endif
