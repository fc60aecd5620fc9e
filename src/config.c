#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proto/resp.h"
#include "util/file.h"
#include "util/glob.h"
#include "util/log.h"
#include "util/num.h"

config server_config;

/* Guards the string options that CONFIG SET may replace while other threads read them. */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;

/* OPT_BYTES is a binary-safe string (a password may hold any byte, NUL too); the other
 * types refuse a NUL, which would cut a C string short. Numbers are stored as atomic_int
 * (OPT_INT, OPT_BOOL, OPT_ENUM, OPT_LOGLEVEL, OPT_KEYSPACE_EVENTS: a mask of keyspace_event
 * bits) or atomic_llong (OPT_LL, OPT_MEMORY). */
typedef enum {
    OPT_INT,
    OPT_LL,
    OPT_MEMORY,
    OPT_BOOL,
    OPT_STRING,
    OPT_BYTES,
    OPT_LOGLEVEL,
    OPT_ENUM,
    OPT_OUTPUT_LIMITS,
    OPT_KEYSPACE_EVENTS
} opt_type;

typedef struct option_def {
    const char *name;
    opt_type type;
    void *field; /* where the value lives; NULL: in kept[] */
    long long min, max;
    int runtime_settable;
    const char *default_value;
    const char *const *choices; /* OPT_ENUM: the names, NULL-terminated; stored as an index */
    const char *alias_of;       /* set: another name of that option; nothing else is used */
    long long kept_min, kept_max; /* if kept_max: numbers accepted past these are kept at them (hz) */
    int words; /* the value may be several words (save 900 1 300 10): a config line joins them */
    int appends_in_file; /* a second line of it in one file adds to the first (save, as Redis) */
    /* OPT_STRING: checks a value before it is taken (the texts are Redis's); NULL takes any. */
    int (*check)(const char *value, char *err, size_t errlen);
} option_def;

const char *const config_fsync_modes[] = {"always", "everysec", "no", NULL}; /* enum fsync_mode */
static const char *const maxmemory_policies[] = {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                                 "allkeys-lru",  "allkeys-lfu",  "allkeys-random",  "noeviction",
                                                 NULL};

static int check_bind(const char *value, char *err, size_t errlen);
static int check_save(const char *value, char *err, size_t errlen);
static int check_oom_score_adj_values(const char *value, char *err, size_t errlen);
static int check_daemonize(const char *value, char *err, size_t errlen);
static int check_replicaof(const char *value, char *err, size_t errlen);

static const char *const repl_diskless_loads[] = {"disabled", "on-empty-db", "swapdb", NULL};
static const char *const oom_score_adjs[] = {"no", "yes", "relative", "absolute", NULL};

#define FIELD(f) (&server_config.f)
/* Name, type, where the value lives, range (numbers), whether CONFIG SET may change it, default. */
#define OPTION(n, t, f, lo, hi, settable, def) \
    {.name = n, .type = t, .field = f, .min = lo, .max = hi, .runtime_settable = settable, .default_value = def}
/* Redis's options that mean nothing on RocksDB (encodings, eviction, lazy freeing,
 * defragmentation, the RDB and AOF files): each is checked as Redis 7.0 checks it and kept in
 * kept[] for CONFIG GET, and nothing else reads it, so that a redis.conf or a tool tuning
 * Redis works unchanged. */
#define REDIS_INT(n, lo, hi, def) OPTION(n, OPT_LL, NULL, lo, hi, 1, def)
#define REDIS_MEMORY(n, lo, hi, def) OPTION(n, OPT_MEMORY, NULL, lo, hi, 1, def)
#define REDIS_BOOL(n, def) OPTION(n, OPT_BOOL, NULL, 0, 0, 1, def)
#define REDIS_IMMUTABLE_STRING(n, def) OPTION(n, OPT_STRING, NULL, 0, 0, 0, def)
#define ALIAS(n, target) {.name = n, .alias_of = target}

static const option_def options[] = {
    /* Up to 16 addresses; one written -addr may be missing on this machine (Redis's syntax). */
    {.name = "bind", .type = OPT_STRING, .field = FIELD(bind), .default_value = "127.0.0.1", .words = 1,
     .check = check_bind},
    OPTION("port", OPT_INT, FIELD(port), 0, 65535, 0, "6666"),
    OPTION("dir", OPT_STRING, FIELD(dir), 0, 0, 0, "./data"),
    OPTION("workers", OPT_INT, FIELD(workers), 0, 256, 0, "0"),
    OPTION("requirepass", OPT_BYTES, FIELD(requirepass), 0, 0, 1, ""),
    OPTION("maxclients", OPT_INT, FIELD(maxclients), 1, 1000000, 1, "10000"),
    OPTION("timeout", OPT_INT, FIELD(timeout), 0, INT_MAX, 1, "0"),
    OPTION("logfile", OPT_STRING, FIELD(logfile), 0, 0, 0, ""),
    OPTION("loglevel", OPT_LOGLEVEL, FIELD(loglevel), 0, 0, 1, "notice"),
    OPTION("databases", OPT_INT, FIELD(databases), 1, 1000000, 0, "16"),
    /* Unparsed input and the request being parsed one client may pile up before it is closed. */
    OPTION("client-query-buffer-limit", OPT_MEMORY, FIELD(client_query_buffer_limit), 1024 * 1024, 1LL << 40, 1, "1gb"),
    /* At most 4 GiB - 1: RocksDB batch records hold 32-bit lengths. */
    OPTION("proto-max-bulk-len", OPT_MEMORY, FIELD(proto_max_bulk_len), 1024 * 1024, (1LL << 32) - 1, 1, "512mb"),
    /* The memory all clients' buffers, requests and queued commands may take together before
     * the biggest clients are closed (0 = no limit). */
    OPTION("maxmemory-clients", OPT_MEMORY, FIELD(maxmemory_clients), 0, 1LL << 50, 1, "2gb"),
    OPTION("rocksdb.block_cache_size", OPT_LL, FIELD(block_cache_mb), 0, 1LL << 30, 0, "4096"),
    OPTION("rocksdb.write_buffer_size", OPT_LL, FIELD(write_buffer_mb), 1, 1LL << 20, 0, "64"),
    /* RocksDB's blob files (its integrated BlobDB): a big value is written to one as the memtable
     * is flushed, where a table would copy it into a block first (a peak of several times the
     * value), and compactions move a reference to it instead of rewriting it. */
    OPTION("rocksdb.enable_blob_files", OPT_BOOL, FIELD(enable_blob_files), 0, 0, 0, "yes"),
    OPTION("rocksdb.min_blob_size", OPT_MEMORY, FIELD(min_blob_size), 0, 1LL << 32, 0, "1mb"),
    OPTION("wal-ttl-seconds", OPT_LL, FIELD(wal_ttl_seconds), 0, 1LL << 40, 0, "10800"),
    OPTION("wal-size-limit-mb", OPT_LL, FIELD(wal_size_limit_mb), 0, 1LL << 40, 0, "16384"),
    OPTION("cdc-cache-mb", OPT_LL, FIELD(cdc_cache_mb), 0, 1LL << 20, 0, "64"),
    OPTION("cdc-poll-pace-ms", OPT_INT, FIELD(cdc_poll_pace_ms), 0, 60000, 1, "5"),
    OPTION("cdc-poll-max-bytes", OPT_MEMORY, FIELD(cdc_poll_max_bytes), 1, 1LL << 40, 1, "16mb"),
    /* Durable consumers (CDC CREATE): how many, and how much WAL each may keep (0 = no cap). */
    OPTION("cdc-max-consumers", OPT_INT, FIELD(cdc_max_consumers), 0, 10000, 1, "64"),
    OPTION("cdc-consumer-max-wal-mb", OPT_LL, FIELD(cdc_consumer_max_wal_mb), 0, 1LL << 40, 1, "65536"),
    /* Snapshots (SNAPSHOT CREATE) that may exist at once: each pins old versions of the data. */
    OPTION("cdc-max-snapshots", OPT_INT, FIELD(cdc_max_snapshots), 0, 10000, 1, "16"),
    /* Shown to Redis tools (redis-benchmark reads them); every write is in the WAL regardless. */
    {.name = "save", .type = OPT_STRING, .field = FIELD(save), .runtime_settable = 1, .default_value = "",
     .words = 1, .appends_in_file = 1, .check = check_save},
    OPTION("appendonly", OPT_STRING, FIELD(appendonly), 0, 0, 0, "yes"),
    {.name = "appendfsync", .type = OPT_ENUM, .field = FIELD(appendfsync), .runtime_settable = 1,
     .default_value = "everysec", .choices = config_fsync_modes},
    OPTION("protected-mode", OPT_BOOL, FIELD(protected_mode), 0, 0, 1, "yes"),
    /* Tests only: allows DEBUG READ-ERROR-AFTER, which makes storage reads fail on purpose. */
    OPTION("debug-fault-injection", OPT_BOOL, FIELD(debug_fault_injection), 0, 0, 0, "no"),
    /* Tests only: every write must be recorded (DESIGN.md), and a command that wrote without
     * adding a change record stops the server with a message naming it. */
    OPTION("debug-check-recording", OPT_BOOL, FIELD(debug_check_recording), 0, 0, 0, "no"),
    /* Redis's syntax and classes; only normal clients exist here, the other classes are kept
     * for CONFIG GET. Unlike Redis's 0 0 0, normal clients are bounded by default. */
    {.name = "client-output-buffer-limit", .type = OPT_OUTPUT_LIMITS, .field = FIELD(output_limits),
     .runtime_settable = 1, .default_value = "normal 1gb 256mb 60 slave 256mb 64mb 60 pubsub 32mb 8mb 60", .words = 1},
    /* Connections: the listen queue's length, and TCP keepalive probes after this many seconds
     * idle (0 = none), as Redis. */
    OPTION("tcp-backlog", OPT_INT, FIELD(tcp_backlog), 0, INT_MAX, 0, "511"),
    OPTION("tcp-keepalive", OPT_INT, FIELD(tcp_keepalive), 0, INT_MAX, 1, "300"),
    /* Written with the server's pid at start-up, removed when it stops cleanly. */
    OPTION("pidfile", OPT_STRING, FIELD(pidfile), 0, 0, 0, ""),
    /* tidekv runs in the foreground (under systemd or another supervisor): only "no" is taken. */
    {.name = "daemonize", .type = OPT_STRING, .default_value = "no", .check = check_daemonize},
    /* Keyspace notifications' classes, kept as Redis shows them (their events come with pub/sub). */
    {.name = "notify-keyspace-events", .type = OPT_KEYSPACE_EVENTS, .field = FIELD(notify_keyspace_events),
     .runtime_settable = 1, .default_value = ""},

    /* A script running this many milliseconds makes other commands get BUSY (SCRIPT KILL stops it). */
    OPTION("busy-reply-threshold", OPT_LL, FIELD(busy_reply_threshold), 0, LLONG_MAX, 1, "5000"),
    ALIAS("lua-time-limit", "busy-reply-threshold"),

    /* Encodings: RocksDB keys hold every element whatever the size. */
    REDIS_INT("hash-max-listpack-entries", 0, LONG_MAX, "512"),
    ALIAS("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    REDIS_MEMORY("hash-max-listpack-value", 0, LONG_MAX, "64"),
    ALIAS("hash-max-ziplist-value", "hash-max-listpack-value"),
    REDIS_INT("list-max-listpack-size", INT_MIN, INT_MAX, "-2"),
    ALIAS("list-max-ziplist-size", "list-max-listpack-size"),
    REDIS_INT("list-compress-depth", 0, INT_MAX, "0"),
    REDIS_INT("set-max-intset-entries", 0, LONG_MAX, "512"),
    REDIS_INT("zset-max-listpack-entries", 0, LONG_MAX, "128"),
    ALIAS("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    REDIS_MEMORY("zset-max-listpack-value", 0, LONG_MAX, "64"),
    ALIAS("zset-max-ziplist-value", "zset-max-listpack-value"),
    REDIS_MEMORY("hll-sparse-max-bytes", 0, LONG_MAX, "3000"),
    REDIS_MEMORY("stream-node-max-bytes", 0, LONG_MAX, "4096"),
    REDIS_INT("stream-node-max-entries", 0, LLONG_MAX, "100"),
    REDIS_BOOL("activerehashing", "yes"),
    /* Eviction: the data lives on disk, not in memory (maxmemory-clients is real, above). */
    REDIS_MEMORY("maxmemory", 0, LLONG_MAX, "0"),
    {.name = "maxmemory-policy", .type = OPT_ENUM, .runtime_settable = 1, .default_value = "noeviction",
     .choices = maxmemory_policies},
    REDIS_INT("maxmemory-samples", 1, INT_MAX, "5"),
    REDIS_INT("maxmemory-eviction-tenacity", 0, 100, "10"),
    REDIS_INT("lfu-log-factor", 0, INT_MAX, "10"),
    REDIS_INT("lfu-decay-time", 0, INT_MAX, "1"),
    REDIS_BOOL("replica-ignore-maxmemory", "yes"),
    ALIAS("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    /* Lazy freeing: a deletion here is a RocksDB tombstone or a metadata version. */
    REDIS_BOOL("lazyfree-lazy-eviction", "no"),
    REDIS_BOOL("lazyfree-lazy-expire", "no"),
    REDIS_BOOL("lazyfree-lazy-server-del", "no"),
    REDIS_BOOL("lazyfree-lazy-user-del", "no"),
    REDIS_BOOL("lazyfree-lazy-user-flush", "no"),
    REDIS_BOOL("replica-lazy-flush", "no"),
    ALIAS("slave-lazy-flush", "replica-lazy-flush"),
    /* Defragmentation and the allocator: RocksDB compacts its files itself. */
    REDIS_BOOL("activedefrag", "no"),
    REDIS_MEMORY("active-defrag-ignore-bytes", 1, LLONG_MAX, "100mb"),
    REDIS_INT("active-defrag-threshold-lower", 0, 1000, "10"),
    REDIS_INT("active-defrag-threshold-upper", 0, 1000, "100"),
    REDIS_INT("active-defrag-cycle-min", 1, 99, "1"),
    REDIS_INT("active-defrag-cycle-max", 1, 99, "25"),
    REDIS_INT("active-defrag-max-scan-fields", 1, LONG_MAX, "1000"),
    REDIS_BOOL("jemalloc-bg-thread", "yes"),
    /* The active expiry's cycles per second (types/expiry.h). Redis takes any hz and runs (and
     * shows) it within 1..500. */
    {.name = "hz", .type = OPT_LL, .field = FIELD(hz), .max = INT_MAX, .runtime_settable = 1, .default_value = "10",
     .kept_min = 1, .kept_max = 500},
    REDIS_BOOL("dynamic-hz", "yes"),
    OPTION("active-expire-effort", OPT_LL, FIELD(active_expire_effort), 1, 10, 1, "1"),
    /* RDB and AOF files: RocksDB's WAL and SST files hold the data. */
    REDIS_IMMUTABLE_STRING("dbfilename", "dump.rdb"),
    REDIS_BOOL("stop-writes-on-bgsave-error", "yes"),
    REDIS_BOOL("rdbcompression", "yes"),
    OPTION("rdbchecksum", OPT_BOOL, NULL, 0, 0, 0, "yes"), /* immutable in Redis too */
    REDIS_BOOL("rdb-del-sync-files", "no"),
    REDIS_BOOL("rdb-save-incremental-fsync", "yes"),
    REDIS_IMMUTABLE_STRING("appendfilename", "appendonly.aof"),
    REDIS_IMMUTABLE_STRING("appenddirname", "appendonlydir"),
    REDIS_BOOL("no-appendfsync-on-rewrite", "no"),
    REDIS_INT("auto-aof-rewrite-percentage", 0, INT_MAX, "100"),
    REDIS_MEMORY("auto-aof-rewrite-min-size", 0, LLONG_MAX, "64mb"),
    REDIS_BOOL("aof-load-truncated", "yes"),
    REDIS_BOOL("aof-use-rdb-preamble", "yes"),
    REDIS_BOOL("aof-rewrite-incremental-fsync", "yes"),
    REDIS_BOOL("aof-timestamp-enabled", "no"),
    /* The process: logo, title, the kernel's OOM score and transparent huge pages. */
    OPTION("always-show-logo", OPT_BOOL, NULL, 0, 0, 0, "no"),
    OPTION("set-proc-title", OPT_BOOL, NULL, 0, 0, 0, "yes"),
    REDIS_IMMUTABLE_STRING("proc-title-template", "{title} {listen-addr} {server-mode}"),
    {.name = "oom-score-adj", .type = OPT_ENUM, .runtime_settable = 1, .default_value = "no", .choices = oom_score_adjs},
    {.name = "oom-score-adj-values", .type = OPT_STRING, .runtime_settable = 1, .default_value = "0 200 800",
     .words = 1, .check = check_oom_score_adj_values},
    OPTION("disable-thp", OPT_BOOL, NULL, 0, 0, 0, "yes"),
    /* Diagnostics Redis keeps in memory: the slow log, the ACL log, the latency monitor. */
    REDIS_INT("slowlog-log-slower-than", -1, LLONG_MAX, "10000"),
    REDIS_INT("slowlog-max-len", 0, LONG_MAX, "128"),
    REDIS_INT("acllog-max-len", 0, LONG_MAX, "128"),
    REDIS_INT("latency-monitor-threshold", 0, LLONG_MAX, "0"),
    /* Replication (repl/). The node a replica follows from start-up; REPLICAOF changes it at run time. */
    {.name = "replicaof", .type = OPT_STRING, .field = FIELD(replicaof), .default_value = "", .words = 1,
     .check = check_replicaof},
    ALIAS("slaveof", "replicaof"),
    OPTION("masterauth", OPT_STRING, NULL, 0, 0, 1, ""),
    OPTION("masteruser", OPT_STRING, NULL, 0, 0, 1, ""),
    OPTION("repl-timeout", OPT_LL, FIELD(repl_timeout), 1, INT_MAX, 1, "60"),
    /* Shown with Redis's defaults: tidekv's replicas are always read-only (a local write would
     * take sequence numbers that belong to the master). */
    REDIS_BOOL("replica-serve-stale-data", "yes"),
    ALIAS("slave-serve-stale-data", "replica-serve-stale-data"),
    REDIS_BOOL("replica-read-only", "yes"),
    ALIAS("slave-read-only", "replica-read-only"),
    REDIS_INT("replica-priority", 0, INT_MAX, "100"),
    ALIAS("slave-priority", "replica-priority"),
    REDIS_BOOL("repl-diskless-sync", "yes"),
    REDIS_INT("repl-diskless-sync-delay", 0, INT_MAX, "5"),
    REDIS_INT("repl-diskless-sync-max-replicas", 0, INT_MAX, "0"),
    {.name = "repl-diskless-load", .type = OPT_ENUM, .runtime_settable = 1, .default_value = "disabled",
     .choices = repl_diskless_loads},
    REDIS_BOOL("repl-disable-tcp-nodelay", "no"),
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* The values of the options with no field in server_config, one slot per option of options[]
 * (the type says which member is used). */
static union {
    atomic_int i;
    atomic_llong ll;
    char *s;
} kept[NOPTIONS];

static void *option_field(const option_def *opt) { return opt->field ? opt->field : &kept[opt - options]; }

/* The option a name stands for (through an alias), or NULL. */
static const option_def *find_option(const char *name) {
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (strcasecmp(options[i].name, name) != 0) continue;
        return options[i].alias_of ? find_option(options[i].alias_of) : &options[i];
    }
    return NULL;
}

/* Parses "100", "1k", "1kb", "2mb", "1gb" as Redis's memory options do (k = 1000, kb = 1024):
 * digits only before the unit, no sign. */
static int parse_memory(const char *s, long long *out) {
    long long v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - (*p - '0')) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    if (p == s) return -1;
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000000}, {"mb", 1024 * 1024},
                 {"g", 1000000000LL}, {"gb", 1024LL * 1024 * 1024}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(p, units[i].suffix) == 0) {
            if (v > LLONG_MAX / units[i].mul) return -1;
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

/* Parses an integer as Redis's options do: no spaces, no '+', no leading zeros. */
static int parse_integer(const char *s, long long *out) { return num_parse_ll(s, strlen(s), out); }

/* Parses and range-checks a number; stores it only if store is set. */
static int apply_number(const option_def *opt, const char *value, int store, char *err, size_t errlen) {
    long long v;
    int is_memory = opt->type == OPT_MEMORY;
    if ((is_memory ? parse_memory(value, &v) : parse_integer(value, &v)) < 0) {
        snprintf(err, errlen, is_memory ? "argument must be a memory value" : "argument couldn't be parsed into an integer");
        return -1;
    }
    if (v < opt->min || v > opt->max) {
        snprintf(err, errlen, "argument must be between %lld and %lld inclusive", opt->min, opt->max);
        return -1;
    }
    if (!store) return 0;
    if (opt->kept_max) v = v < opt->kept_min ? opt->kept_min : v > opt->kept_max ? opt->kept_max : v;
    void *field = option_field(opt);
    if (opt->type == OPT_INT)
        atomic_store_explicit((atomic_int *)field, (int)v, memory_order_relaxed);
    else
        atomic_store_explicit((atomic_llong *)field, v, memory_order_relaxed);
    return 0;
}

static const char *const limit_classes[] = {"normal", "slave", "pubsub"}; /* as output_limits[] */

/* "class hard soft seconds ..." (replica is slave's other name); only the classes named change.
 * The error texts are Redis's. */
static int apply_output_limits(const char *value, shared_output_limit *limits, int store, char *err, size_t errlen) {
    resp_arg *args = NULL;
    int n = resp_split_inline(value, strlen(value), &args);
    output_limit parsed[3];
    for (int k = 0; k < 3; k++) parsed[k] = output_limit_load(&limits[k]);
    const char *why = n > 0 && n % 4 == 0 ? NULL : "Wrong number of arguments in buffer limit configuration.";
    for (int i = 0; !why && i < n; i += 4) {
        int cls = strcasecmp(args[i].ptr, "replica") == 0 ? 1 : -1;
        for (int k = 0; k < 3; k++)
            if (strcasecmp(args[i].ptr, limit_classes[k]) == 0) cls = k;
        long long secs;
        if (cls < 0)
            why = "Invalid client class specified in buffer limit configuration.";
        else if (parse_memory(args[i + 1].ptr, &parsed[cls].hard) < 0 || parse_memory(args[i + 2].ptr, &parsed[cls].soft) < 0 ||
                 parse_integer(args[i + 3].ptr, &secs) < 0 || secs < 0 || secs > 1000000000)
            why = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        else
            parsed[cls].soft_seconds = (int)secs;
    }
    for (int i = 0; i < n; i++) free(args[i].ptr);
    free(args);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (!store) return 0;
    for (int k = 0; k < 3; k++) {
        atomic_store_explicit(&limits[k].hard, parsed[k].hard, memory_order_relaxed);
        atomic_store_explicit(&limits[k].soft, parsed[k].soft, memory_order_relaxed);
        atomic_store_explicit(&limits[k].soft_seconds, parsed[k].soft_seconds, memory_order_relaxed);
    }
    return 0;
}

int config_bind_address_family(const char *addr) {
    unsigned char scratch[sizeof(struct in6_addr)];
    if (strcmp(addr, "*") == 0 || inet_pton(AF_INET, addr, scratch) == 1) return AF_INET;
    if (strcmp(addr, "::*") == 0 || inet_pton(AF_INET6, addr, scratch) == 1) return AF_INET6;
    return -1;
}

/* Splits a multi-word value into words (free with free_words); -1 on unbalanced quotes. */
static int split_words(const char *value, resp_arg **words) { return resp_split_inline(value, strlen(value), words); }

static void free_words(resp_arg *words, int n) {
    for (int i = 0; i < n; i++) free(words[i].ptr);
    free(words);
}

static int check_bind(const char *value, char *err, size_t errlen) {
    resp_arg *words = NULL;
    int n = split_words(value, &words);
    int rc = 0;
    if (n < 1 || n > CONFIG_MAX_BIND) {
        snprintf(err, errlen, n < 1 ? "argument must be one address or more" : "Too many bind addresses specified.");
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *addr = words[i].ptr + (words[i].ptr[0] == '-');
        if (config_bind_address_family(addr) < 0) {
            snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address (or * or ::*)", words[i].ptr);
            rc = -1;
        }
    }
    free_words(words, n);
    return rc;
}

/* "seconds changes" pairs (seconds at least 1, changes at least 0) split by single spaces, or
 * nothing at all, as Redis checks CONFIG SET save. */
int config_parse_replicaof(const char *value, char *host, size_t host_len, int *port) {
    char h[256];
    long p;
    char extra;
    if (sscanf(value, "%255s %ld %c", h, &p, &extra) != 2 || p < 0 || p > 65535 || strlen(h) >= host_len) return -1;
    snprintf(host, host_len, "%s", h);
    *port = (int)p;
    return 0;
}

static int check_replicaof(const char *value, char *err, size_t errlen) {
    char host[256];
    int port;
    if (value[0] == '\0' || config_parse_replicaof(value, host, sizeof(host), &port) == 0) return 0;
    snprintf(err, errlen, "replicaof takes a host and a port");
    return -1;
}

static int check_save(const char *value, char *err, size_t errlen) {
    int ok = 1, words = 0;
    for (const char *p = value; ok && *p; words++) {
        const char *space = strchr(p, ' ');
        size_t len = space ? (size_t)(space - p) : strlen(p);
        long long v;
        ok = num_parse_ll(p, len, &v) == 0 && v >= (words % 2 == 0 ? 1 : 0);
        p += len + (space != NULL);
        if (space && !*p) ok = 0; /* a trailing space: an empty last word */
    }
    if (ok && words % 2 == 0) return 0;
    snprintf(err, errlen, "Invalid save parameters");
    return -1;
}

static int check_oom_score_adj_values(const char *value, char *err, size_t errlen) {
    resp_arg *words = NULL;
    int n = split_words(value, &words);
    int ok = n == 3;
    for (int i = 0; ok && i < n; i++) {
        long long v;
        ok = parse_integer(words[i].ptr, &v) == 0 && v >= -2000 && v <= 2000;
    }
    free_words(words, n);
    if (ok) return 0;
    snprintf(err, errlen, n == 3 ? "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                                 : "wrong number of arguments");
    return -1;
}

static int check_daemonize(const char *value, char *err, size_t errlen) {
    if (strcasecmp(value, "no") == 0) return 0;
    snprintf(err, errlen, strcasecmp(value, "yes") == 0
                              ? "tidekv does not daemonize: run it in the foreground under systemd or another supervisor"
                              : "argument must be 'yes' or 'no'");
    return -1;
}

/* notify-keyspace-events: Redis's class letters, in the order CONFIG GET shows them. */
static const struct {
    char letter;
    int bit;
} event_letters[] = {{'g', KE_GENERIC}, {'$', KE_STRING}, {'l', KE_LIST},    {'s', KE_SET},
                     {'h', KE_HASH},    {'z', KE_ZSET},   {'x', KE_EXPIRED}, {'e', KE_EVICTED},
                     {'t', KE_STREAM},  {'d', KE_MODULE}, {'n', KE_NEW},     {'K', KE_KEYSPACE},
                     {'E', KE_KEYEVENT}, {'m', KE_KEY_MISS}};
#define NEVENT_LETTERS (sizeof(event_letters) / sizeof(event_letters[0]))

static int parse_keyspace_events(const char *value, int *mask, char *err, size_t errlen) {
    *mask = 0;
    for (const char *p = value; *p; p++) {
        size_t i = 0;
        while (i < NEVENT_LETTERS && event_letters[i].letter != *p) i++;
        if (*p == 'A') {
            *mask |= KE_ALL;
        } else if (i < NEVENT_LETTERS) {
            *mask |= event_letters[i].bit;
        } else {
            snprintf(err, errlen, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
            return -1;
        }
    }
    return 0;
}

/* As Redis shows it: "A" for all the classes A names (then n is not shown), K, E, m last. */
static void format_keyspace_events(int mask, buf *out) {
    int all = (mask & KE_ALL) == KE_ALL;
    if (all) buf_append_byte(out, 'A');
    for (size_t i = 0; i < NEVENT_LETTERS; i++) {
        int in_all = (event_letters[i].bit & KE_ALL) || event_letters[i].bit == KE_NEW;
        if ((mask & event_letters[i].bit) && !(all && in_all)) buf_append_byte(out, (uint8_t)event_letters[i].letter);
    }
}

/* Replaces a string option's value under the lock. */
static void store_bytes(char **field, size_t *len_field, const char *value, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) abort();
    memcpy(copy, value, len);
    copy[len] = '\0';
    pthread_mutex_lock(&config_lock);
    char *old = *field;
    *field = copy;
    if (len_field) *len_field = len;
    pthread_mutex_unlock(&config_lock);
    /* Freeing is safe: other threads read these strings under the lock (requirepass is
     * compared, the settable ones shown by CONFIG GET there), the others only at start-up. */
    free(old);
}

/* Validates a value of len bytes for an option and, if store is set, makes it current. */
static int apply_option(const option_def *opt, const char *value, size_t len, int store, char *err, size_t errlen) {
    void *field = option_field(opt);
    if (opt->type != OPT_BYTES && memchr(value, '\0', len)) {
        snprintf(err, errlen, "argument must not contain NUL bytes");
        return -1;
    }
    switch (opt->type) {
    case OPT_INT:
    case OPT_LL:
    case OPT_MEMORY:
        return apply_number(opt, value, store, err, errlen);
    case OPT_BOOL: {
        int yes = strcasecmp(value, "yes") == 0;
        if (!yes && strcasecmp(value, "no") != 0) {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        if (store) atomic_store_explicit((atomic_int *)field, yes, memory_order_relaxed);
        return 0;
    }
    case OPT_LOGLEVEL: {
        int level = log_level_from_name(value);
        if (level < 0) {
            snprintf(err, errlen, "argument(s) must be one of the following: debug, verbose, notice, warning");
            return -1;
        }
        if (!store) return 0;
        atomic_store_explicit((atomic_int *)field, level, memory_order_relaxed);
        log_set_level((enum log_level)level);
        return 0;
    }
    case OPT_OUTPUT_LIMITS:
        return apply_output_limits(value, field, store, err, errlen);
    case OPT_ENUM:
        for (int i = 0; opt->choices[i]; i++) {
            if (strcasecmp(value, opt->choices[i]) != 0) continue;
            if (store) atomic_store_explicit((atomic_int *)field, i, memory_order_relaxed);
            return 0;
        }
        snprintf(err, errlen, "argument(s) must be one of the following: %s", opt->choices[0]);
        for (int i = 1; opt->choices[i]; i++) snprintf(err + strlen(err), errlen - strlen(err), ", %s", opt->choices[i]);
        return -1;
    case OPT_STRING:
        if (opt->check && opt->check(value, err, errlen) < 0) return -1;
        if (store) store_bytes((char **)field, NULL, value, len);
        return 0;
    case OPT_KEYSPACE_EVENTS: {
        int mask;
        if (parse_keyspace_events(value, &mask, err, errlen) < 0) return -1;
        if (store) atomic_store_explicit((atomic_int *)field, mask, memory_order_relaxed);
        return 0;
    }
    case OPT_BYTES: {
        bytes_option *b = (bytes_option *)field;
        if (store) store_bytes(&b->ptr, &b->len, value, len);
        return 0;
    }
    }
    return -1;
}

static void format_value(const option_def *opt, buf *out);

/* Each option's default as format_value shows it (CONFIG REWRITE adds the others to the file). */
static char *default_text[NOPTIONS];
/* The config file the server started from, NULL if none (CONFIG REWRITE writes it). */
static char *config_path;

void config_init_defaults(void) {
    char err[256];
    buf shown;
    buf_init(&shown);
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (options[i].alias_of) continue;
        const char *value = options[i].default_value;
        if (apply_option(&options[i], value, strlen(value), 1, err, sizeof(err)) < 0) abort();
        buf_clear(&shown);
        format_value(&options[i], &shown);
        buf_append_byte(&shown, 0);
        free(default_text[i]);
        default_text[i] = strdup(shown.data);
        if (!default_text[i]) abort();
    }
    buf_free(&shown);
}

static int set_or_check(const char *name, const char *value, size_t len, int runtime, int store, char *err,
                        size_t errlen) {
    const option_def *opt = find_option(name);
    if (!opt) {
        snprintf(err, errlen, "unknown option '%s'", name);
        return -1;
    }
    if (runtime && !opt->runtime_settable) {
        snprintf(err, errlen, "can't set immutable config");
        return -1;
    }
    return apply_option(opt, value, len, store, err, errlen);
}

int config_set_bytes(const char *name, const char *value, size_t len, int runtime, char *err, size_t errlen) {
    return set_or_check(name, value, len, runtime, 1, err, errlen);
}

int config_set(const char *name, const char *value, int runtime, char *err, size_t errlen) {
    return config_set_bytes(name, value, strlen(value), runtime, err, errlen);
}

int config_check(const char *name, const char *value, size_t len, int runtime, char *err, size_t errlen) {
    return set_or_check(name, value, len, runtime, 0, err, errlen);
}

/* Sets an option from a config line's words; a value of several words (client-output-buffer-limit
 * normal 0 0 0) is joined by spaces. An option that appends in a file and was seen earlier in it
 * (seen) gets the words after its value. */
static int apply_words(const option_def *opt, resp_arg *args, int n, unsigned char *seen, const char *source,
                       int lineno, char *err, size_t errlen) {
    buf value;
    buf_init(&value);
    int appends = opt && opt->appends_in_file && seen[opt - options] && !(n == 2 && args[1].len == 0);
    if (appends) {
        format_value(opt, &value);
        if (value.len) buf_append_byte(&value, ' ');
    }
    if (opt) seen[opt - options] = 1;
    for (int i = 1; i < n; i++) {
        if (i > 1) buf_append_byte(&value, ' ');
        buf_append(&value, args[i].ptr, args[i].len);
    }
    buf_append_byte(&value, 0); /* values are read as C strings after the NUL check */
    char why[200];
    int rc = config_set_bytes(args[0].ptr, value.data, value.len - 1, 0, why, sizeof(why));
    if (rc < 0) snprintf(err, errlen, "%s, line %d: option '%s': %s", source, lineno, args[0].ptr, why);
    buf_free(&value);
    return rc;
}

static int apply_line(const char *line, size_t len, unsigned char *seen, const char *source, int lineno, char *err,
                      size_t errlen) {
    size_t lead = 0;
    while (lead < len && (line[lead] == ' ' || line[lead] == '\t')) lead++;
    if (lead < len && line[lead] == '#') return 0; /* a comment, whatever quotes it holds */
    resp_arg *args = NULL;
    int n = resp_split_inline(line, len, &args);
    if (n < 0) {
        snprintf(err, errlen, "%s, line %d: unbalanced quotes", source, lineno);
        return -1;
    }
    int rc = 0;
    if (n > 0) {
        const option_def *opt = find_option(args[0].ptr);
        int words_ok = n == 2 || (n > 2 && opt && opt->words);
        if (words_ok) {
            rc = apply_words(opt, args, n, seen, source, lineno, err, errlen);
        } else {
            snprintf(err, errlen, "%s, line %d: option '%s' needs exactly one value", source, lineno, args[0].ptr);
            rc = -1;
        }
    }
    for (int i = 0; i < n; i++) free(args[i].ptr);
    free(args);
    return rc;
}

int config_load_text(const char *text, const char *source, char *err, size_t errlen) {
    int lineno = 0;
    unsigned char seen[NOPTIONS] = {0}; /* the options this file has set so far */
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (apply_line(p, len, seen, source, lineno, err, errlen) < 0) return -1;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        buf_free(&b);
        return NULL;
    }
    buf_append_byte(&b, 0);
    return b.data;
}

/* Where the value of the option at argv[i] ends: one word, or for a list option (bind 127.0.0.1
 * ::1, save 60 100) every word up to the next --name, as Redis reads its command line. */
static int command_line_value_end(int argc, char **argv, int i) {
    const option_def *opt = find_option(argv[i] + 2);
    int end = i + 2;
    if (opt && opt->words)
        while (end < argc && strncmp(argv[end], "--", 2) != 0) end++;
    return end;
}

int config_load_args(int argc, char **argv, char *err, size_t errlen) {
    int i = 1;
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        char *text = read_file(argv[i]);
        if (!text) {
            snprintf(err, errlen, "can't read config file '%s': %s", argv[i], strerror(errno));
            return -1;
        }
        int rc = config_load_text(text, argv[i], err, errlen);
        free(text);
        if (rc < 0) return -1;
        free(config_path);
        config_path = realpath(argv[i], NULL);
        i++;
    }
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            snprintf(err, errlen, "command line: expected --name value, got '%s'", argv[i]);
            return -1;
        }
        int next = command_line_value_end(argc, argv, i);
        buf value;
        buf_init(&value);
        for (int w = i + 1; w < next; w++) {
            if (w > i + 1) buf_append_byte(&value, ' ');
            buf_append_str(&value, argv[w]);
        }
        buf_append_byte(&value, 0);
        char why[200];
        int rc = config_set(argv[i] + 2, value.data, 0, why, sizeof(why));
        buf_free(&value);
        if (rc < 0) {
            snprintf(err, errlen, "command line: option '%s': %s", argv[i], why);
            return -1;
        }
        i = next;
    }
    return 0;
}

static void format_value(const option_def *opt, buf *out) {
    const void *field = option_field(opt);
    switch (opt->type) {
    case OPT_INT:
        buf_printf(out, "%d", atomic_load_explicit((const atomic_int *)field, memory_order_relaxed));
        break;
    case OPT_LL:
    case OPT_MEMORY:
        buf_printf(out, "%lld", atomic_load_explicit((const atomic_llong *)field, memory_order_relaxed));
        break;
    case OPT_BOOL:
        buf_append_str(out, atomic_load_explicit((const atomic_int *)field, memory_order_relaxed) ? "yes" : "no");
        break;
    case OPT_LOGLEVEL:
        buf_append_str(out, log_level_name(atomic_load_explicit((const atomic_int *)field, memory_order_relaxed)));
        break;
    case OPT_ENUM:
        buf_append_str(out, opt->choices[atomic_load_explicit((const atomic_int *)field, memory_order_relaxed)]);
        break;
    case OPT_OUTPUT_LIMITS:
        for (int k = 0; k < 3; k++) {
            output_limit l = output_limit_load((const shared_output_limit *)field + k);
            buf_printf(out, "%s%s %lld %lld %d", k ? " " : "", limit_classes[k], l.hard, l.soft, l.soft_seconds);
        }
        break;
    case OPT_KEYSPACE_EVENTS:
        format_keyspace_events(atomic_load_explicit((const atomic_int *)field, memory_order_relaxed), out);
        break;
    case OPT_STRING:
        pthread_mutex_lock(&config_lock);
        buf_append_str(out, *(char *const *)field);
        pthread_mutex_unlock(&config_lock);
        break;
    case OPT_BYTES: {
        const bytes_option *b = field;
        pthread_mutex_lock(&config_lock);
        buf_append(out, b->ptr, b->len);
        pthread_mutex_unlock(&config_lock);
        break;
    }
    }
}

/* Emits every option whose name matches, an alias with the value of the option it names. */
int config_get_matching(const char *pattern, size_t plen, config_emit_fn emit, void *ctx) {
    int count = 0;
    buf value;
    buf_init(&value);
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (!glob_match(pattern, plen, options[i].name, strlen(options[i].name), 1)) continue;
        buf_clear(&value);
        format_value(options[i].alias_of ? find_option(options[i].name) : &options[i], &value);
        buf_append_byte(&value, 0);
        emit(ctx, options[i].name, value.data, value.len - 1);
        count++;
    }
    buf_free(&value);
    return count;
}

int config_get_value(const char *name, buf *out) {
    const option_def *opt = find_option(name);
    if (!opt) return -1;
    format_value(opt, out);
    return 0;
}

int config_password_matches(const char *p, size_t len) {
    pthread_mutex_lock(&config_lock);
    const bytes_option *want = &server_config.requirepass;
    /* Every byte of the attempt is looked at whatever the lengths: the time taken tells
     * nothing about how much of it was right. */
    unsigned diff = want->len != len;
    for (size_t i = 0; i < len; i++) diff |= (unsigned char)(p[i] ^ (i < want->len ? want->ptr[i] : 0));
    pthread_mutex_unlock(&config_lock);
    return diff == 0;
}

int config_password_set(void) {
    pthread_mutex_lock(&config_lock);
    int set = server_config.requirepass.len > 0;
    pthread_mutex_unlock(&config_lock);
    return set;
}

/* ---- CONFIG REWRITE ---- */

/* Whether a value can be written bare: printable characters without quotes or backslashes,
 * and spaces only between the words of an option that takes several (save 900 1). */
static int writes_bare(const option_def *opt, const buf *value) {
    if (value->len == 0) return 0;
    for (size_t i = 0; i < value->len; i++) {
        unsigned char ch = (unsigned char)value->data[i];
        int odd = ch == ' ' ? !opt->words : ch < ' ' || ch >= 127 || ch == '"' || ch == '\'' || ch == '\\';
        if (odd) return 0;
    }
    return 1;
}

/* Appends one config line for the option: its name and its value, quoted when it must be. */
static void rewrite_line(const option_def *opt, buf *out) {
    buf value;
    buf_init(&value);
    format_value(opt, &value);
    buf_printf(out, "%s ", opt->name);
    if (writes_bare(opt, &value)) {
        buf_append(out, value.data, value.len);
    } else {
        buf_append_byte(out, '"');
        for (size_t i = 0; i < value.len; i++) {
            unsigned char ch = (unsigned char)value.data[i];
            if (ch == '"' || ch == '\\') buf_printf(out, "\\%c", ch);
            else if (ch < ' ' || ch >= 127) buf_printf(out, "\\x%02x", ch);
            else buf_append_byte(out, (char)ch);
        }
        buf_append_byte(out, '"');
    }
    buf_append_byte(out, '\n');
    buf_free(&value);
}

/* The option a config line sets (through an alias), or NULL for a comment, a blank line or
 * anything else. */
static const option_def *line_option(const char *line, size_t len) {
    resp_arg *args = NULL;
    int n = resp_split_inline(line, len, &args);
    const option_def *opt = NULL;
    if (n > 0 && args[0].ptr[0] != '#') opt = find_option(args[0].ptr); /* aliases resolved */
    for (int i = 0; i < n; i++) free(args[i].ptr);
    free(args);
    return opt;
}

/* One rewrite at a time (two Sentinels may ask at once): they share the temporary file. */
static pthread_mutex_t rewrite_lock = PTHREAD_MUTEX_INITIALIZER;

static int rewrite_locked(char *err, size_t errlen);

int config_rewrite(char *err, size_t errlen) {
    pthread_mutex_lock(&rewrite_lock);
    int rc = rewrite_locked(err, errlen);
    pthread_mutex_unlock(&rewrite_lock);
    return rc;
}

static int rewrite_locked(char *err, size_t errlen) {
    if (!config_path) {
        snprintf(err, errlen, "The server is running without a config file");
        return -1;
    }
    char *text = read_file(config_path);
    if (!text) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        return -1;
    }
    unsigned char written[NOPTIONS] = {0};
    buf out;
    buf_init(&out);
    /* Each option's first line takes its current value; its other lines go (save's values are all
     * on the first); comments and unknown lines stay. */
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const option_def *opt = line_option(p, len);
        if (!opt) {
            buf_append(&out, p, len);
            buf_append_byte(&out, '\n');
        } else if (!written[opt - options]) {
            written[opt - options] = 1;
            rewrite_line(opt, &out);
        }
        p += len + (nl ? 1 : 0);
    }
    free(text);
    /* Then every other option whose value is not its default. */
    int header = 0;
    buf shown;
    buf_init(&shown);
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (options[i].alias_of || written[i]) continue;
        buf_clear(&shown);
        format_value(&options[i], &shown);
        buf_append_byte(&shown, 0);
        if (strcmp(shown.data, default_text[i]) == 0) continue;
        if (!header++) buf_append_str(&out, "# Generated by CONFIG REWRITE\n");
        rewrite_line(&options[i], &out);
    }
    buf_free(&shown);
    const char *name = strrchr(config_path, '/') + 1; /* realpath made it absolute */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%.*s", (int)(name - 1 - config_path), config_path);
    int rc = file_write_atomic(dir[0] ? dir : "/", name, out.data ? out.data : "", out.len, err, errlen);
    buf_free(&out);
    return rc;
}
