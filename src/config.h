/* Server configuration: defaults, a redis.conf-style file, --name value overrides, CONFIG GET/SET. */
#ifndef TIDEKV_CONFIG_H
#define TIDEKV_CONFIG_H

#include <stddef.h>

#include "util/buf.h"

/* One client class's output buffer limit: close a client whose pending replies exceed hard
 * bytes, or stay over soft bytes for soft_seconds (0 = no such limit). */
typedef struct output_limit {
    long long hard, soft;
    int soft_seconds;
} output_limit;

/* A string that may hold any byte (NUL too); ptr is also NUL-terminated. */
typedef struct bytes_option {
    char *ptr;
    size_t len;
} bytes_option;

typedef struct config {
    char *bind;
    int port;
    char *dir;
    int workers;
    bytes_option requirepass; /* empty = no password; read it under the config lock (config_password_*) */
    int maxclients;
    int timeout; /* seconds idle before a client is closed, 0 = never */
    char *logfile;
    int loglevel;
    int databases;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    long long maxmemory_clients; /* bytes all clients may hold together, 0 = no limit */
    long long block_cache_mb;
    long long write_buffer_mb;
    int enable_blob_files;     /* values of min_blob_size or more go to blob files */
    long long min_blob_size;
    long long wal_ttl_seconds;
    long long wal_size_limit_mb;
    long long cdc_cache_mb; /* memory for recent batches served to CDC consumers */
    int cdc_poll_pace_ms;   /* a consumer of a busy stream gets at most one BLOCK reply per this */
    long long cdc_poll_max_bytes; /* a POLLUPDATES reply takes no more batches once this long */
    char *save;       /* informational, for Redis tools */
    char *appendonly; /* informational, for Redis tools */
    int appendfsync;    /* enum fsync_mode: when the WAL is synced (storage/durable.h) */
    int protected_mode; /* 1: refuse to listen beyond loopback without a password */
    output_limit output_limits[3]; /* normal, slave, pubsub: only normal clients exist */
} config;

/* The running configuration. Settable integers may be read from any thread. */
extern config server_config;

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
/* Whether a password is set: clients must AUTH (it may change while they are connected). */
int config_password_set(void);
/* Whether p is the password (compared whole and binary-safe, in time that depends only on len). */
int config_password_matches(const char *p, size_t len);

#endif
