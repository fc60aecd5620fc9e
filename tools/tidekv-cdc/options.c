#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_BATCH 1000
#define DEFAULT_PROGRESS_S 10
#define DEFAULT_RETRY_S 300

void options_usage(FILE *out) {
    fprintf(out,
"Usage: tidekv-cdc --source HOST:PORT [--password P] --consumer NAME --sink URL\n"
"                  [--match GLOB] [--type T] [--db N] [--batch N] [--once]\n"
"                  [--progress SECONDS] [--position-key K] [--create-stream NAME]\n"
"                  [--retry SECONDS] [--fsync always|everysec] [--rotate-mb MB] [--snapshot]\n"
"\n"
"Follows a tidekv server through a durable consumer (CDC CREATE) and delivers every\n"
"change to a sink exactly once, resuming from the sink's own position after a crash.\n"
"\n"
"  --source HOST:PORT   the tidekv server (or replica) to follow; [::1]:6666 for IPv6\n"
"  --password P         the source's password (AUTH)\n"
"  --consumer NAME      the durable consumer: 1 to 128 of A-Z a-z 0-9 _ . : -\n"
"                       created on the first run (with a snapshot for redis://\n"
"                       and for jsonl: with --snapshot), resumed afterwards\n"
"  --sink URL           where changes go:\n"
"                       redis://[[USER]:PASSWORD@]HOST[:PORT]  a Redis 7 server or\n"
"                       another tidekv (port 6379 by default): the snapshot is\n"
"                       copied, then each poll's batches and the new position are\n"
"                       applied in one MULTI/EXEC\n"
"                       jsonl:PATH  an audit log: one JSON line per batch (the\n"
"                       POLLUPDATES FORMAT JSON object), appended to PATH; starts\n"
"                       at the latest change unless --snapshot; resumes after the\n"
"                       last complete line, cutting a torn one\n"
"                       nats://HOST[:PORT]/SUBJECT  a NATS JetStream stream (port\n"
"                       4222 by default): one message per batch on SUBJECT, the\n"
"                       POLLUPDATES FORMAT JSON object, with headers Nats-Msg-Id\n"
"                       NAME:SEQUENCE and Tidekv-Cdc-Position; the position is\n"
"                       read back from the last message on SUBJECT. No snapshot is\n"
"                       copied: a new consumer starts at the latest change\n"
"  --match GLOB         only keys matching GLOB (in the snapshot and the stream)\n"
"  --type T             only keys of type T: string, hash, list, set, zset, stream\n"
"  --db N               only database N\n"
"  --batch N            batches per POLLUPDATES and per MULTI/EXEC, 1 to 1000\n"
"                       (default %d)\n"
"  --once               exit 0 once caught up (lag 0) instead of following\n"
"  --progress SECONDS   a progress line on stderr (position, lag, batches/s) every\n"
"                       SECONDS, 0 for none (default %d)\n"
"  --position-key K     the redis sink's position key in its db 0 (default\n"
"                       tidekv-cdc:NAME; K:copy and K:copied hold a copy in progress)\n"
"  --create-stream NAME the nats sink: create JetStream stream NAME (file storage,\n"
"                       subject SUBJECT) when no stream holds SUBJECT; without it a\n"
"                       missing stream is an error\n"
"  --retry SECONDS      when the source or the sink goes away after a successful\n"
"                       start, reconnect with backoff for up to SECONDS without\n"
"                       progress before giving up (default %d)\n"
"  --fsync MODE         jsonl: always (sync every poll's lines before the next poll)\n"
"                       or everysec (about once a second; the default)\n"
"  --rotate-mb MB       jsonl: once PATH reaches MB megabytes, rename it PATH.1\n"
"                       (PATH.1 to PATH.2 ...) and start a new PATH; 0, the\n"
"                       default, never rotates\n"
"  --snapshot           jsonl: a new log begins with a copy of the data (snapshot\n"
"                       lines), then follows the stream\n"
"  --help               this text\n"
"\n"
"The source is acknowledged (CDC ACK) once a second with what the sink has taken.\n"
"SIGTERM or SIGINT ends the current batch (or snapshot page) and exits 0.\n"
"Exit codes: 0 stopped by a signal or --once caught up; 1 a runtime error (source or\n"
"sink unreachable at start, authentication failed, consumer dropped or lost, sink\n"
"refused a write, gave up reconnecting); 2 bad arguments.\n",
            DEFAULT_BATCH, DEFAULT_PROGRESS_S, DEFAULT_RETRY_S);
}

/* A consumer name as CDC CREATE accepts it, checked here so that a typo is a usage error. */
static int valid_consumer_name(const char *name) {
    size_t n = strlen(name);
    if (n < 1 || n > 128) return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") == n;
}

static int valid_type(const char *type) {
    static const char *const types[] = {"string", "hash", "list", "set", "zset", "stream"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(type, types[i]) == 0) return 1;
    return 0;
}

/* A whole decimal number within [min, max]. */
static int parse_number(const char *text, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *text, int min, int max, int *out) {
    double v;
    if (parse_number(text, min, max, &v) < 0 || v != (double)(int)v) return -1;
    *out = (int)v;
    return 0;
}

/* Applies one flag with its value (NULL for --once); OPTIONS_BAD with a message. */
static options_result apply_flag(cdc_options *o, const char *flag, const char *value, char *err, size_t errlen) {
    if (strcmp(flag, "--source") == 0) {
        if (endpoint_parse(value, strlen(value), 0, &o->source, err, errlen) < 0) return OPTIONS_BAD;
    } else if (strcmp(flag, "--password") == 0) {
        o->password = value;
    } else if (strcmp(flag, "--consumer") == 0) {
        if (!valid_consumer_name(value)) {
            snprintf(err, errlen, "--consumer '%s': a name is 1 to 128 of A-Z a-z 0-9 _ . : -", value);
            return OPTIONS_BAD;
        }
        o->consumer = value;
    } else if (strcmp(flag, "--sink") == 0) {
        o->sink_url = value;
    } else if (strcmp(flag, "--match") == 0) {
        o->match = value;
    } else if (strcmp(flag, "--type") == 0) {
        if (!valid_type(value)) {
            snprintf(err, errlen, "--type '%s': expected string, hash, list, set, zset or stream", value);
            return OPTIONS_BAD;
        }
        o->type = value;
    } else if (strcmp(flag, "--db") == 0) {
        if (parse_int(value, 0, 1000000, &o->db) < 0) {
            snprintf(err, errlen, "--db '%s': expected a database number", value);
            return OPTIONS_BAD;
        }
    } else if (strcmp(flag, "--batch") == 0) {
        if (parse_int(value, 1, 1000, &o->batch) < 0) {
            snprintf(err, errlen, "--batch '%s': expected a number from 1 to 1000", value);
            return OPTIONS_BAD;
        }
    } else if (strcmp(flag, "--progress") == 0) {
        if (parse_number(value, 0, 86400, &o->progress_s) < 0) {
            snprintf(err, errlen, "--progress '%s': expected seconds from 0 to 86400", value);
            return OPTIONS_BAD;
        }
    } else if (strcmp(flag, "--position-key") == 0) {
        if (!*value) {
            snprintf(err, errlen, "--position-key: the key name is empty");
            return OPTIONS_BAD;
        }
        o->position_key = value;
    } else if (strcmp(flag, "--create-stream") == 0) {
        /* JetStream stream names: no '.', wildcards, path separators or spaces */
        if (!*value || strcspn(value, ".*>/\\ \t\r\n") != strlen(value)) {
            snprintf(err, errlen, "--create-stream '%s': a stream name has no '.', '*', '>', '/', '\\' or spaces",
                     value);
            return OPTIONS_BAD;
        }
        o->create_stream = value;
    } else if (strcmp(flag, "--retry") == 0) {
        if (parse_number(value, 0, 86400 * 7, &o->retry_s) < 0) {
            snprintf(err, errlen, "--retry '%s': expected seconds from 0 to 604800", value);
            return OPTIONS_BAD;
        }
    } else if (strcmp(flag, "--fsync") == 0) {
        if (strcmp(value, "always") != 0 && strcmp(value, "everysec") != 0) {
            snprintf(err, errlen, "--fsync '%s': expected always or everysec", value);
            return OPTIONS_BAD;
        }
        o->fsync_always = strcmp(value, "always") == 0;
    } else if (strcmp(flag, "--rotate-mb") == 0) {
        if (parse_number(value, 0, 1024 * 1024, &o->rotate_mb) < 0) {
            snprintf(err, errlen, "--rotate-mb '%s': expected megabytes from 0 to 1048576", value);
            return OPTIONS_BAD;
        }
    } else {
        snprintf(err, errlen, "unknown option '%s' (see --help)", flag);
        return OPTIONS_BAD;
    }
    return OPTIONS_RUN;
}

options_result options_parse(int argc, char **argv, cdc_options *o, char *err, size_t errlen) {
    *o = (cdc_options){.db = -1, .batch = DEFAULT_BATCH, .progress_s = DEFAULT_PROGRESS_S,
                       .retry_s = DEFAULT_RETRY_S};
    int have_source = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return OPTIONS_HELP;
        if (strcmp(arg, "--once") == 0) {
            o->once = 1;
            continue;
        }
        if (strcmp(arg, "--snapshot") == 0) {
            o->snapshot = 1;
            continue;
        }
        /* --flag value, or --flag=value */
        char flag[64];
        const char *value;
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof(flag)) {
            memcpy(flag, arg, (size_t)(eq - arg));
            flag[eq - arg] = '\0';
            value = eq + 1;
        } else {
            snprintf(flag, sizeof(flag), "%s", arg);
            if (strncmp(arg, "--", 2) != 0) {
                snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
                return OPTIONS_BAD;
            }
            if (i + 1 >= argc) {
                snprintf(err, errlen, "%s needs a value (see --help)", arg);
                return OPTIONS_BAD;
            }
            value = argv[++i];
        }
        if (apply_flag(o, flag, value, err, errlen) == OPTIONS_BAD) return OPTIONS_BAD;
        if (strcmp(flag, "--source") == 0) have_source = 1;
    }
    const char *missing = !have_source ? "--source" : !o->consumer ? "--consumer" : !o->sink_url ? "--sink" : NULL;
    if (missing) {
        snprintf(err, errlen, "%s is required (see --help)", missing);
        return OPTIONS_BAD;
    }
    if (o->create_stream && strncasecmp(o->sink_url, "nats:", 5) != 0) {
        snprintf(err, errlen, "--create-stream is for a nats:// sink");
        return OPTIONS_BAD;
    }
    return OPTIONS_RUN;
}
