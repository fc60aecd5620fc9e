#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proto/resp.h"
#include "util/glob.h"
#include "util/log.h"

config server_config;

/* Guards the string options that CONFIG SET may replace while other threads read them. */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;

/* OPT_BYTES is a binary-safe string (a password may hold any byte, NUL too); the other
 * types refuse a NUL, which would cut a C string short. */
typedef enum { OPT_INT, OPT_LL, OPT_MEMORY, OPT_STRING, OPT_BYTES, OPT_LOGLEVEL, OPT_ENUM, OPT_OUTPUT_LIMITS } opt_type;

typedef struct option_def {
    const char *name;
    opt_type type;
    size_t offset;
    long long min, max;
    int runtime_settable;
    const char *default_value;
    const char *const *choices; /* OPT_ENUM: the names, NULL-terminated; stored as an index */
} option_def;

const char *const config_fsync_modes[] = {"always", "everysec", "no", NULL}; /* enum fsync_mode */
static const char *const yes_no[] = {"no", "yes", NULL};

#define FIELD(f) offsetof(config, f)
static const option_def options[] = {
    {"bind", OPT_STRING, FIELD(bind), 0, 0, 0, "127.0.0.1", NULL},
    {"port", OPT_INT, FIELD(port), 0, 65535, 0, "6666", NULL},
    {"dir", OPT_STRING, FIELD(dir), 0, 0, 0, "./data", NULL},
    {"workers", OPT_INT, FIELD(workers), 0, 256, 0, "0", NULL},
    {"requirepass", OPT_BYTES, FIELD(requirepass), 0, 0, 1, "", NULL},
    {"maxclients", OPT_INT, FIELD(maxclients), 1, 1000000, 1, "10000", NULL},
    {"timeout", OPT_INT, FIELD(timeout), 0, 2147483647, 1, "0", NULL},
    {"logfile", OPT_STRING, FIELD(logfile), 0, 0, 0, "", NULL},
    {"loglevel", OPT_LOGLEVEL, FIELD(loglevel), 0, 0, 1, "notice", NULL},
    {"databases", OPT_INT, FIELD(databases), 1, 1000000, 0, "16", NULL},
    /* At most 4 GiB - 1: RocksDB batch records hold 32-bit lengths. */
    /* Unparsed input and the request being parsed one client may pile up before it is closed. */
    {"client-query-buffer-limit", OPT_MEMORY, FIELD(client_query_buffer_limit), 1024 * 1024, 1LL << 40, 1, "1gb", NULL},
    {"proto-max-bulk-len", OPT_MEMORY, FIELD(proto_max_bulk_len), 1024 * 1024, (1LL << 32) - 1, 1, "512mb", NULL},
    /* The memory all clients' buffers, requests and queued commands may take together before
     * the biggest clients are closed (0 = no limit). */
    {"maxmemory-clients", OPT_MEMORY, FIELD(maxmemory_clients), 0, 1LL << 50, 1, "2gb", NULL},
    {"rocksdb.block_cache_size", OPT_LL, FIELD(block_cache_mb), 0, 1LL << 30, 0, "4096", NULL},
    {"rocksdb.write_buffer_size", OPT_LL, FIELD(write_buffer_mb), 1, 1LL << 20, 0, "64", NULL},
    /* RocksDB's blob files (its integrated BlobDB): a big value is written to one as the memtable
     * is flushed, where a table would copy it into a block first (a peak of several times the
     * value), and compactions move a reference to it instead of rewriting it. */
    {"rocksdb.enable_blob_files", OPT_ENUM, FIELD(enable_blob_files), 0, 0, 0, "yes", yes_no},
    {"rocksdb.min_blob_size", OPT_MEMORY, FIELD(min_blob_size), 0, 1LL << 32, 0, "1mb", NULL},
    {"wal-ttl-seconds", OPT_LL, FIELD(wal_ttl_seconds), 0, 1LL << 40, 0, "10800", NULL},
    {"wal-size-limit-mb", OPT_LL, FIELD(wal_size_limit_mb), 0, 1LL << 40, 0, "16384", NULL},
    {"cdc-cache-mb", OPT_LL, FIELD(cdc_cache_mb), 0, 1LL << 20, 0, "64", NULL},
    {"cdc-poll-pace-ms", OPT_INT, FIELD(cdc_poll_pace_ms), 0, 60000, 1, "5", NULL},
    {"cdc-poll-max-bytes", OPT_MEMORY, FIELD(cdc_poll_max_bytes), 1, 1LL << 40, 1, "16mb", NULL},
    /* Shown to Redis tools (redis-benchmark reads them); every write is in the WAL regardless. */
    {"save", OPT_STRING, FIELD(save), 0, 0, 1, "", NULL},
    {"appendonly", OPT_STRING, FIELD(appendonly), 0, 0, 0, "yes", NULL},
    {"appendfsync", OPT_ENUM, FIELD(appendfsync), 0, 0, 1, "everysec", config_fsync_modes},
    {"protected-mode", OPT_ENUM, FIELD(protected_mode), 0, 0, 1, "yes", yes_no},
    /* Redis's syntax and classes; only normal clients exist here, the other classes are kept
     * for CONFIG GET. Unlike Redis's 0 0 0, normal clients are bounded by default. */
    {"client-output-buffer-limit", OPT_OUTPUT_LIMITS, FIELD(output_limits), 0, 0, 1,
     "normal 1gb 256mb 60 slave 256mb 64mb 60 pubsub 32mb 8mb 60", NULL},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const option_def *find_option(const char *name) {
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcasecmp(options[i].name, name) == 0) return &options[i];
    return NULL;
}

/* Parses "100", "1k", "1kb", "2mb", "1gb" as Redis's memory options do (k = 1000, kb = 1024). */
static int parse_memory(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0) return -1;
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000000}, {"mb", 1024 * 1024},
                 {"g", 1000000000LL}, {"gb", 1024LL * 1024 * 1024}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > (1LL << 62) / units[i].mul) return -1;
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

static int parse_integer(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno) return -1;
    *out = v;
    return 0;
}

/* Parses and range-checks a number; stores it only if store is set. */
static int apply_number(const option_def *opt, const char *value, int store, char *err, size_t errlen) {
    long long v;
    int bad = opt->type == OPT_MEMORY ? parse_memory(value, &v) : parse_integer(value, &v);
    if (bad) {
        snprintf(err, errlen, "argument couldn't be parsed into an integer");
        return -1;
    }
    if (v < opt->min || v > opt->max) {
        snprintf(err, errlen, "argument must be between %lld and %lld inclusive", opt->min, opt->max);
        return -1;
    }
    if (!store) return 0;
    char *field = (char *)&server_config + opt->offset;
    if (opt->type == OPT_INT)
        *(int *)field = (int)v;
    else
        *(long long *)field = v;
    return 0;
}

static const char *const limit_classes[] = {"normal", "slave", "pubsub"}; /* as output_limits[] */

/* "class hard soft seconds ..." (replica is slave's other name); only the classes named change.
 * The error texts are Redis's. */
static int apply_output_limits(const char *value, output_limit *limits, int store, char *err, size_t errlen) {
    resp_arg *args = NULL;
    int n = resp_split_inline(value, strlen(value), &args);
    output_limit parsed[3];
    memcpy(parsed, limits, sizeof(parsed));
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
    if (store) memcpy(limits, parsed, sizeof(parsed));
    return 0;
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
    char *field = (char *)&server_config + opt->offset;
    if (opt->type != OPT_BYTES && memchr(value, '\0', len)) {
        snprintf(err, errlen, "argument must not contain NUL bytes");
        return -1;
    }
    switch (opt->type) {
    case OPT_INT:
    case OPT_LL:
    case OPT_MEMORY:
        return apply_number(opt, value, store, err, errlen);
    case OPT_LOGLEVEL: {
        int level = log_level_from_name(value);
        if (level < 0) {
            snprintf(err, errlen, "argument(s) must be one of the following: debug, verbose, notice, warning");
            return -1;
        }
        if (!store) return 0;
        *(int *)field = level;
        log_set_level((enum log_level)level);
        return 0;
    }
    case OPT_OUTPUT_LIMITS:
        return apply_output_limits(value, (output_limit *)field, store, err, errlen);
    case OPT_ENUM:
        for (int i = 0; opt->choices[i]; i++) {
            if (strcasecmp(value, opt->choices[i]) != 0) continue;
            if (store) *(int *)field = i;
            return 0;
        }
        snprintf(err, errlen, "argument(s) must be one of the following: %s", opt->choices[0]);
        for (int i = 1; opt->choices[i]; i++) snprintf(err + strlen(err), errlen - strlen(err), ", %s", opt->choices[i]);
        return -1;
    case OPT_STRING:
        if (store) store_bytes((char **)field, NULL, value, len);
        return 0;
    case OPT_BYTES: {
        bytes_option *b = (bytes_option *)field;
        if (store) store_bytes(&b->ptr, &b->len, value, len);
        return 0;
    }
    }
    return -1;
}

void config_init_defaults(void) {
    char err[256];
    for (size_t i = 0; i < NOPTIONS; i++) {
        const char *value = options[i].default_value;
        if (apply_option(&options[i], value, strlen(value), 1, err, sizeof(err)) < 0) abort();
    }
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
 * normal 0 0 0) is joined by spaces. */
static int apply_words(resp_arg *args, int n, const char *source, int lineno, char *err, size_t errlen) {
    buf value;
    buf_init(&value);
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

static int apply_line(const char *line, size_t len, const char *source, int lineno, char *err, size_t errlen) {
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
        int words_ok = n == 2 || (n > 2 && opt && opt->type == OPT_OUTPUT_LIMITS);
        if (words_ok) {
            rc = apply_words(args, n, source, lineno, err, errlen);
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
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (apply_line(p, len, source, lineno, err, errlen) < 0) return -1;
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
        i++;
    }
    for (; i < argc; i += 2) {
        char why[200];
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
            snprintf(err, errlen, "command line: expected --name value, got '%s'", argv[i]);
            return -1;
        }
        if (config_set(argv[i] + 2, argv[i + 1], 0, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "command line: option '%s': %s", argv[i], why);
            return -1;
        }
    }
    return 0;
}

static void format_value(const option_def *opt, buf *out) {
    const char *field = (const char *)&server_config + opt->offset;
    switch (opt->type) {
    case OPT_INT:
        buf_printf(out, "%d", *(const int *)field);
        break;
    case OPT_LL:
    case OPT_MEMORY:
        buf_printf(out, "%lld", *(const long long *)field);
        break;
    case OPT_LOGLEVEL:
        buf_printf(out, "%s", log_level_name((enum log_level) * (const int *)field));
        break;
    case OPT_ENUM:
        buf_printf(out, "%s", opt->choices[*(const int *)field]);
        break;
    case OPT_OUTPUT_LIMITS: {
        const output_limit *l = (const output_limit *)field;
        buf_printf(out, "%s %lld %lld %d %s %lld %lld %d %s %lld %lld %d", limit_classes[0], l[0].hard, l[0].soft,
                   l[0].soft_seconds, limit_classes[1], l[1].hard, l[1].soft, l[1].soft_seconds, limit_classes[2],
                   l[2].hard, l[2].soft, l[2].soft_seconds);
        break;
    }
    case OPT_STRING:
        pthread_mutex_lock(&config_lock);
        buf_append_str(out, *(char *const *)field);
        pthread_mutex_unlock(&config_lock);
        break;
    case OPT_BYTES: {
        const bytes_option *b = (const bytes_option *)field;
        pthread_mutex_lock(&config_lock);
        buf_append(out, b->ptr, b->len);
        pthread_mutex_unlock(&config_lock);
        break;
    }
    }
}

int config_get_matching(const char *pattern, size_t plen, config_emit_fn emit, void *ctx) {
    int count = 0;
    buf value;
    buf_init(&value);
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (!glob_match(pattern, plen, options[i].name, strlen(options[i].name), 1)) continue;
        buf_clear(&value);
        format_value(&options[i], &value);
        buf_append_byte(&value, 0);
        emit(ctx, options[i].name, value.data, value.len - 1);
        count++;
    }
    buf_free(&value);
    return count;
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
