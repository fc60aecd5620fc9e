/* The read side of bench/run_snapshot.sh, in C so that the client is not what is measured:
 *   snapshot_read_bench snapshot PORT FORMAT  — SNAPSHOT CREATE, then SNAPSHOT READ COUNT 1000
 *                                               FORMAT RESP|JSON until the cursor is "0"
 *   snapshot_read_bench scan PORT             — SCAN COUNT 1000; per page a pipeline of TYPE, then
 *                                               one of GET/HGETALL/SMEMBERS/ZRANGE 0 -1 WITHSCORES/LRANGE 0 -1
 *   snapshot_read_bench load PORT N MIN MAX — loads N keys, a fifth each strings, hashes, sets,
 *                                               zsets and lists of MIN … MAX elements (the same
 *                                               data on any server), pipelined
 * Both reads count keys and elements alike (a string is one element; a hash field, set or zset member
 * or list item is one) and print one line: `<what> keys <k> elements <e> in <s> s` (wall time of
 * the reads). hiredis parses every reply of both paths in full (RESP2). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bench_util.h"

#define PAGE "1000"

typedef struct tally {
    long long keys, elements;
} tally;

static void die(const char *what, const redisReply *r) {
    fprintf(stderr, "%s failed: %s\n", what, r && r->str ? r->str : "no reply");
    exit(1);
}

static redisContext *connect_with_long_timeout(int port) {
    struct timeval timeout = {600, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (!c || c->err) {
        fprintf(stderr, "cannot connect to 127.0.0.1:%d\n", port);
        exit(1);
    }
    redisSetTimeout(c, timeout);
    return c;
}

static redisReply *command_argv(redisContext *c, int argc, const char **argv) {
    return redisCommandArgv(c, argc, argv, NULL);
}

/* A map's value in RESP2 (a flat array of names and values). */
static redisReply *field(const redisReply *map, const char *name) {
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp(map->element[i]->str, name) == 0)
            return map->element[i + 1];
    fprintf(stderr, "reply has no %s\n", name);
    exit(1);
}

/* Counts one command of a snapshot entry: DEL starts a key; SET is one element; HSET and ZADD
 * carry pairs, SADD and RPUSH single elements after the key; PEXPIREAT counts for nothing. */
static void count_command(const char *name, size_t namelen, size_t argc, tally *t) {
    if (namelen == 3 && strncasecmp(name, "DEL", 3) == 0) t->keys++;
    else if (namelen == 3 && strncasecmp(name, "SET", 3) == 0) t->elements++;
    else if (namelen == 4 && (strncasecmp(name, "HSET", 4) == 0 || strncasecmp(name, "ZADD", 4) == 0))
        t->elements += (long long)(argc - 2) / 2;
    else if ((namelen == 4 && strncasecmp(name, "SADD", 4) == 0) || (namelen == 5 && strncasecmp(name, "RPUSH", 5) == 0))
        t->elements += (long long)argc - 2;
}

static void count_resp_entry(const redisReply *entry, tally *t) {
    const redisReply *cmds = field(entry, "commands");
    for (size_t i = 0; i < cmds->elements; i++) {
        const redisReply *cmd = cmds->element[i];
        count_command(cmd->element[0]->str, cmd->element[0]->len, cmd->elements, t);
    }
}

/* Past a JSON string starting at p (its opening quote); returns the character after it. */
static const char *skip_string(const char *p) {
    for (p++; *p != '"'; p++)
        if (*p == '\\') p++;
    return p + 1;
}

/* Counts a JSON entry, {"db":n,"commands":[[arg,…],…]}, an arg being a string or
 * {"base64":"…"}: a scan of its text that looks at every byte, as a parser would. */
static void count_json_entry(const char *json, tally *t) {
    const char *p = strstr(json, "\"commands\":[");
    if (!p) die("a JSON entry without commands", NULL);
    p += strlen("\"commands\":[");
    while (*p == '[') {
        const char *name = p + 2; /* a command's name is a plain string */
        size_t namelen = (size_t)(skip_string(p + 1) - name - 1), argc = 0;
        p++;
        while (*p != ']') {
            if (*p == '"') {
                p = skip_string(p);
                argc++;
            } else if (*p == '{') { /* {"base64":"…"} */
                p = skip_string(p + 1);
                p = skip_string(p + 1) + 1;
                argc++;
            } else {
                p++; /* a comma */
            }
        }
        count_command(name, namelen, argc, t);
        p++;
        if (*p == ',') p++;
    }
}

static int read_snapshot(int port, const char *format) {
    redisContext *c = connect_with_long_timeout(port);
    redisReply *created = redisCommand(c, "SNAPSHOT CREATE");
    if (!created || created->type != REDIS_REPLY_ARRAY) die("SNAPSHOT CREATE", created);
    char *id = strdup(field(created, "id")->str);
    freeReplyObject(created);
    int json = strcasecmp(format, "JSON") == 0;
    tally t = {0, 0};
    char cursor[4096] = "0";
    double start = now_s();
    for (;;) {
        const char *argv[] = {"SNAPSHOT", "READ", id, cursor, "COUNT", PAGE, "FORMAT", format};
        redisReply *r = command_argv(c, 8, argv);
        if (!r || r->type != REDIS_REPLY_ARRAY) die("SNAPSHOT READ", r);
        const redisReply *entries = field(r, "entries"), *next = field(r, "cursor");
        for (size_t i = 0; i < entries->elements; i++) {
            if (json) count_json_entry(entries->element[i]->str, &t);
            else count_resp_entry(entries->element[i], &t);
        }
        if (next->len >= sizeof(cursor)) die("a cursor this long", NULL);
        memcpy(cursor, next->str, next->len + 1);
        freeReplyObject(r);
        if (strcmp(cursor, "0") == 0) break;
    }
    double secs = now_s() - start;
    freeReplyObject(redisCommand(c, "SNAPSHOT RELEASE %s", id));
    printf("snapshot-%s keys %lld elements %lld in %.3f s\n", format, t.keys, t.elements, secs);
    free(id);
    redisFree(c);
    return 0;
}

/* The command that reads a key of a type whole, and how many array items make one element. */
static const char *read_command(const char *type, int *per_element) {
    *per_element = 1;
    if (strcmp(type, "string") == 0) return "GET";
    if (strcmp(type, "set") == 0) return "SMEMBERS";
    if (strcmp(type, "list") == 0) return "LRANGE";
    *per_element = 2; /* field and value, member and score */
    if (strcmp(type, "hash") == 0) return "HGETALL";
    if (strcmp(type, "zset") == 0) return "ZRANGE";
    return NULL;
}

static redisReply *get_reply_or_die(redisContext *c, const char *what) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK || !r) die(what, NULL);
    if (((redisReply *)r)->type == REDIS_REPLY_ERROR) die(what, r);
    return r;
}

/* Reads a SCAN page's keys: TYPE of each, pipelined, then each value, pipelined. */
static void read_page(redisContext *c, const redisReply *keys, tally *t) {
    size_t n = keys->elements;
    for (size_t i = 0; i < n; i++) {
        const char *argv[] = {"TYPE", keys->element[i]->str};
        const size_t lens[] = {4, keys->element[i]->len};
        redisAppendCommandArgv(c, 2, argv, lens);
    }
    int *per_element = calloc(n ? n : 1, sizeof(*per_element));
    for (size_t i = 0; i < n; i++) {
        redisReply *type = get_reply_or_die(c, "TYPE");
        const char *cmd = read_command(type->str, &per_element[i]);
        freeReplyObject(type);
        if (!cmd) {
            per_element[i] = 0; /* gone or of a type this benchmark does not write */
            continue;
        }
        const char *key = keys->element[i]->str;
        size_t klen = keys->element[i]->len;
        if (strcmp(cmd, "ZRANGE") == 0) {
            const char *argv[] = {cmd, key, "0", "-1", "WITHSCORES"};
            const size_t lens[] = {6, klen, 1, 2, 10};
            redisAppendCommandArgv(c, 5, argv, lens);
        } else if (strcmp(cmd, "LRANGE") == 0) {
            const char *argv[] = {cmd, key, "0", "-1"};
            const size_t lens[] = {6, klen, 1, 2};
            redisAppendCommandArgv(c, 4, argv, lens);
        } else {
            const char *argv[] = {cmd, key};
            const size_t lens[] = {strlen(cmd), klen};
            redisAppendCommandArgv(c, 2, argv, lens);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!per_element[i]) continue;
        redisReply *v = get_reply_or_die(c, "a read");
        t->keys++;
        t->elements += v->type == REDIS_REPLY_ARRAY ? (long long)v->elements / per_element[i] : 1;
        freeReplyObject(v);
    }
    free(per_element);
}

static int read_scan(int port) {
    redisContext *c = connect_with_long_timeout(port);
    tally t = {0, 0};
    char cursor[32] = "0";
    double start = now_s();
    for (;;) {
        const char *argv[] = {"SCAN", cursor, "COUNT", PAGE};
        redisReply *r = command_argv(c, 4, argv);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) die("SCAN", r);
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        read_page(c, r->element[1], &t);
        freeReplyObject(r);
        if (strcmp(cursor, "0") == 0) break;
    }
    double secs = now_s() - start;
    printf("scan keys %lld elements %lld in %.3f s\n", t.keys, t.elements, secs);
    redisFree(c);
    return 0;
}

/* ------------------------------------------------------------------ loading */

#define LOAD_PIPELINE 1000

/* A command being built: at most 2 + 2 × MAX_ELEMENTS arguments of at most 31 bytes. */
#define MAX_ELEMENTS 64
typedef struct command {
    int argc;
    char text[2 + 2 * MAX_ELEMENTS][32];
    const char *argv[2 + 2 * MAX_ELEMENTS];
    size_t lens[2 + 2 * MAX_ELEMENTS];
} command;

static void add_arg(command *cmd, const char *fmt, long a, long b) {
    char *t = cmd->text[cmd->argc];
    cmd->lens[cmd->argc] = (size_t)snprintf(t, sizeof(cmd->text[0]), fmt, a, b);
    cmd->argv[cmd->argc++] = t;
}

/* Appends the command that writes key i of the mix, with `elements` elements (strings: one). */
static void append_key(redisContext *c, long i, int elements) {
    static const char *const kinds[] = {"string", "hash", "set", "zset", "list"};
    static const char *const writers[] = {"SET", "HSET", "SADD", "ZADD", "RPUSH"};
    command cmd = {.argc = 2};
    cmd.argv[0] = writers[i % 5];
    cmd.lens[0] = strlen(writers[i % 5]);
    cmd.argv[1] = cmd.text[1];
    cmd.lens[1] = (size_t)snprintf(cmd.text[1], sizeof(cmd.text[1]), "%s:%ld", kinds[i % 5], i);
    if (i % 5 == 0) add_arg(&cmd, "v%015ld", i, 0);
    for (long j = 0; i % 5 != 0 && j < elements; j++) {
        switch (i % 5) {
        case 1:
            add_arg(&cmd, "f%ld", j, 0);
            add_arg(&cmd, "v%ld", i + j, 0);
            break;
        case 2: add_arg(&cmd, "m%ld", j, 0); break;
        case 3: /* the score j × 1.5 */
            add_arg(&cmd, "%ld.%ld", j * 3 / 2, j % 2 * 5);
            add_arg(&cmd, "m%ld", j, 0);
            break;
        default: add_arg(&cmd, "i%ld", j, 0); break;
        }
    }
    redisAppendCommandArgv(c, cmd.argc, cmd.argv, cmd.lens);
}

static int load(int port, long n, int min, int max) {
    if (min < 1 || max < min || max > MAX_ELEMENTS) {
        fprintf(stderr, "load: MIN and MAX must satisfy 1 <= MIN <= MAX <= %d\n", MAX_ELEMENTS);
        return 2;
    }
    redisContext *c = connect_with_long_timeout(port);
    for (long done = 0; done < n;) {
        long chunk = n - done < LOAD_PIPELINE ? n - done : LOAD_PIPELINE;
        for (long i = done; i < done + chunk; i++) append_key(c, i, min + (int)((i * 7919) % (max - min + 1)));
        for (long i = 0; i < chunk; i++) freeReplyObject(get_reply_or_die(c, "load"));
        done += chunk;
    }
    redisFree(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "snapshot") == 0) return read_snapshot(atoi(argv[2]), argv[3]);
    if (argc == 3 && strcmp(argv[1], "scan") == 0) return read_scan(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "load") == 0)
        return load(atoi(argv[2]), atol(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: %s snapshot PORT RESP|JSON | scan PORT | load PORT N MIN MAX\n", argv[0]);
    return 2;
}
