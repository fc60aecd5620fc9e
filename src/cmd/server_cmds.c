/* Server commands: INFO DBSIZE FLUSHDB FLUSHALL CONFIG COMMAND TIME SHUTDOWN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cdc/consumers.h"
#include "cdc/snapshots.h"
#include "cdc/notify.h"
#include "cdc/tail.h"
#include "cdc/wal.h"
#include "cmd/docs.h"
#include "cmd/handlers.h"
#include "config.h"
#include "repl/identity.h"
#include "net/net.h"
#include "net/pubsub.h"
#include "script/engine.h"
#include "storage/durable.h"
#include "storage/store.h"
#include "types/expiry.h"
#include "types/keyspace.h"
#include "util/timeutil.h"

void cmd_dbsize(cmd_ctx *ctx) {
    keycount_stats n;
    if (txn_key_counts(ctx->t, ctx->db, &n) < 0) {
        reply_storage_error(ctx);
        return;
    }
    reply_int(ctx->r, n.keys);
}

static long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = 0, resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void info_server(buf *b, txn *t) {
    (void)t;
    struct utsname u;
    uname(&u);
    int64_t now = time_now_us();
    long long uptime = (now / 1000 - server_start_ms) / 1000;
    buf_printf(b,
               "# Server\r\nredis_version:%s\r\ntidekv_version:%s\r\nredis_mode:standalone\r\nos:%s %s %s\r\n"
               "arch_bits:%d\r\nmultiplexing_api:epoll\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%d\r\n"
               "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n",
               TIDEKV_REDIS_VERSION, TIDEKV_VERSION, u.sysname, u.release, u.machine, (int)(sizeof(void *) * 8),
               (int)getpid(), identity_run_id(), CONFIG_READ(port), (long long)now, uptime, uptime / 86400);
}

static void info_clients(buf *b, txn *t) {
    (void)t;
    buf_printf(b, "# Clients\r\nconnected_clients:%d\r\nmaxclients:%d\r\nblocked_clients:%d\r\n",
               atomic_load(&stats.connected_clients), CONFIG_READ(maxclients), atomic_load(&stats.blocked_clients));
}

static void info_memory(buf *b, txn *t) {
    (void)t;
    long long rss = rss_bytes();
    size_t cdc_batches, cdc_renderings;
    tail_memory(&cdc_batches, &cdc_renderings);
    buf_printf(b,
               "# Memory\r\nused_memory:%lld\r\nused_memory_human:%.2fM\r\nused_memory_rss:%lld\r\n"
               "used_memory_rocksdb:%llu\r\nused_memory_cdc_cache:%zu\r\nused_memory_cdc_renderings:%zu\r\n"
               "maxmemory:0\r\nmem_clients_normal:%lld\r\nmaxmemory_clients:%lld\r\n",
               rss, rss / 1048576.0, rss, (unsigned long long)store_memory_usage(), cdc_batches, cdc_renderings,
               net_clients_memory(), CONFIG_READ(maxmemory_clients));
}

static void info_persistence(buf *b, txn *t) {
    (void)t;
    buf_printf(b,
               "# Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_changes_since_last_save:0\r\ndisk_size:%llu\r\n"
               "appendfsync:%s\r\nwal_synced:%llu\r\nwal_syncs:%llu\r\nwal_sync_failures:%llu\r\n",
               (unsigned long long)store_disk_size(), config_fsync_modes[CONFIG_READ(appendfsync)],
               (unsigned long long)durable_synced_sequence(), (unsigned long long)durable_sync_count(),
               (unsigned long long)durable_sync_failures());
}

static void info_stats(buf *b, txn *t) {
    (void)t;
    buf_printf(b,
               "# Stats\r\ntotal_connections_received:%lld\r\ntotal_commands_processed:%lld\r\n"
               "instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:%lld\r\ntotal_net_output_bytes:%lld\r\n"
               "rejected_connections:%lld\r\nexpired_keys:%lld\r\nexpire_cycle_cpu_milliseconds:%lld\r\n"
               "keyspace_hits:%lld\r\nkeyspace_misses:%lld\r\n"
               "pubsub_channels:%lld\r\npubsub_patterns:%lld\r\npubsubshard_channels:%lld\r\n"
               "write_groups:%lld\r\ngrouped_writes:%lld\r\nevicted_clients:%lld\r\n"
               "sync_full:%lld\r\nsync_partial_ok:%lld\r\nsync_partial_err:%lld\r\n",
               atomic_load(&stats.connections_received), atomic_load(&stats.commands_processed),
               atomic_load(&stats.net_input_bytes), atomic_load(&stats.net_output_bytes),
               atomic_load(&stats.rejected_connections), atomic_load(&stats.expired_keys),
               atomic_load(&stats.expire_cycle_cpu_us) / 1000,
               atomic_load(&stats.keyspace_hits), atomic_load(&stats.keyspace_misses), pubsub_active(PUBSUB_CHANNEL),
               pubsub_active(PUBSUB_PATTERN), pubsub_active(PUBSUB_SHARD), atomic_load(&stats.write_groups),
               atomic_load(&stats.grouped_writes), atomic_load(&stats.evicted_clients), atomic_load(&stats.sync_full),
               atomic_load(&stats.sync_partial_ok), atomic_load(&stats.sync_partial_err));
}

static void info_keyspace(buf *b, txn *t) {
    buf_printf(b, "# Keyspace\r\n");
    for (int db = 0; db < CONFIG_READ(databases); db++) {
        keycount_stats n;
        if (txn_key_counts(t, db, &n) == 0 && n.keys)
            buf_printf(b, "db%d:keys=%lld,expires=%lld,avg_ttl=%lld\r\n", db, n.keys, n.expires, n.avg_ttl_ms);
    }
    /* readable_sequence trails sequence only while a commit is on its way into the tail
     * cache: one that stays behind would show polls waiting for a commit never announced. */
    uint64_t readable = cdc_announced_sequence(); /* first: it never passes the latest read after */
    buf_printf(b, "sequence:%llu\r\noldest_sequence:%llu\r\nreadable_sequence:%llu\r\n",
               (unsigned long long)store_latest_sequence(), (unsigned long long)wal_oldest_sequence(),
               (unsigned long long)readable);
    size_t consumers, lost;
    consumers_count(&consumers, &lost);
    buf_printf(b, "cdc_consumers:%zu\r\ncdc_consumers_lost:%zu\r\ncdc_snapshots:%zu\r\n", consumers, lost,
               snapshots_count());
}

typedef struct info_section {
    const char *name;
    int in_default;
    void (*write)(buf *b, txn *t);
} info_section;

/* In Redis's order. */
static const info_section sections[] = {
    {"server", 1, info_server},   {"clients", 1, info_clients},         {"memory", 1, info_memory},
    {"persistence", 1, info_persistence}, {"stats", 1, info_stats}, {"replication", 1, info_replication},
    {"keyspace", 1, info_keyspace}};

static int section_wanted(cmd_ctx *ctx, const info_section *s) {
    if (ctx->argc == 1) return s->in_default;
    for (int i = 1; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "all") || arg_is(a, "everything") || (arg_is(a, "default") && s->in_default) ||
            arg_is(a, s->name))
            return 1;
    }
    return 0;
}

void cmd_info(cmd_ctx *ctx) {
    buf b;
    buf_init(&b);
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (!section_wanted(ctx, &sections[i])) continue;
        if (b.len) buf_append(&b, "\r\n", 2);
        sections[i].write(&b, ctx->t);
    }
    reply_verbatim(ctx->r, b.data ? b.data : "", b.len);
    buf_free(&b);
}

static int flush_args_ok(cmd_ctx *ctx) {
    if (ctx->argc == 1 || (ctx->argc == 2 && (arg_is(&ctx->argv[1], "async") || arg_is(&ctx->argv[1], "sync"))))
        return 1;
    reply_error(ctx->r, ERR_SYNTAX);
    return 0;
}

void cmd_flushdb(cmd_ctx *ctx) {
    if (!flush_args_ok(ctx)) return;
    ks_flush_db(ctx->t, ctx->db);
    const char *argv[1] = {"FLUSHDB"};
    size_t lens[1] = {7};
    cmd_record(ctx, TYPE_NONE, 1, argv, lens);
    reply_ok(ctx->r);
}

void cmd_flushall(cmd_ctx *ctx) {
    if (!flush_args_ok(ctx)) return;
    for (int db = 0; db < CONFIG_READ(databases); db++) ks_flush_db(ctx->t, db);
    const char *argv[1] = {"FLUSHALL"};
    size_t lens[1] = {8};
    cmd_record(ctx, TYPE_NONE, 1, argv, lens);
    reply_ok(ctx->r);
}

void cmd_time(cmd_ctx *ctx) {
    int64_t us = time_now_us();
    reply_array(ctx->r, 2);
    reply_bulk_ll(ctx->r, us / 1000000);
    reply_bulk_ll(ctx->r, us % 1000000);
}

void cmd_shutdown(cmd_ctx *ctx) {
    int nosave = 0;
    for (int i = 1; i < ctx->argc; i++) {
        const resp_arg *a = &ctx->argv[i];
        if (arg_is(a, "abort")) {
            reply_error(ctx->r, "ERR No shutdown in progress.");
            return;
        }
        if (!arg_is(a, "nosave") && !arg_is(a, "save") && !arg_is(a, "now") && !arg_is(a, "force")) {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
        nosave |= arg_is(a, "nosave");
    }
    /* As in Redis, a busy script stops the server only with NOSAVE, which says its half-done
     * writes are to be dropped (the worker stops the script, and nothing of it is kept). */
    int busy = nosave ? SCRIPT_BUSY_NONE : script_busy(CONFIG_READ(busy_reply_threshold));
    if (busy) {
        reply_error(ctx->r, busy == SCRIPT_BUSY_FUNCTION ? ERR_BUSY_FUNCTION : ERR_BUSY_EVAL);
        return;
    }
    /* Like Redis, no reply: the connection closes as the server stops. */
    ctx->c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    server_request_shutdown();
}

/* ---- CONFIG ---- */

typedef struct config_pairs {
    reply r; /* writes into a side buffer: the map header needs the count first */
    long long n;
} config_pairs;

static void emit_pair(void *arg, const char *name, const char *value, size_t value_len) {
    config_pairs *pairs = arg;
    reply_bulk_str(&pairs->r, name);
    reply_bulk(&pairs->r, value, value_len);
    pairs->n++;
}

static void config_get(cmd_ctx *ctx) {
    buf body;
    buf_init(&body);
    config_pairs pairs = {{.out = &body, .resp = ctx->r->resp}, 0};
    for (int i = 2; i < ctx->argc; i++) config_get_matching(ctx->argv[i].ptr, ctx->argv[i].len, emit_pair, &pairs);
    reply_map(ctx->r, pairs.n);
    buf_append(ctx->r->out, body.data, body.len);
    buf_free(&body);
}

static void config_set_cmd(cmd_ctx *ctx) {
    if (ctx->argc < 4 || (ctx->argc - 2) % 2 != 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    /* All or nothing, as in Redis: every pair is checked before any is applied. */
    for (int i = 2; i < ctx->argc; i += 2) {
        char err[256];
        const char *name = ctx->argv[i].ptr;
        for (int j = 2; j < i; j += 2) {
            if (strcasecmp(ctx->argv[j].ptr, name) == 0) {
                reply_errorf(ctx->r, "ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter",
                             name);
                return;
            }
        }
        if (config_check(name, ctx->argv[i + 1].ptr, ctx->argv[i + 1].len, 1, err, sizeof(err)) == 0) continue;
        if (strncmp(err, "unknown option", 14) == 0)
            reply_errorf(ctx->r, "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
        else
            reply_errorf(ctx->r, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, err);
        return;
    }
    for (int i = 2; i < ctx->argc; i += 2) {
        char err[256];
        const resp_arg *value = &ctx->argv[i + 1];
        if (config_set_bytes(ctx->argv[i].ptr, value->ptr, value->len, 1, err, sizeof(err)) < 0) {
            reply_errorf(ctx->r, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", ctx->argv[i].ptr, err);
            return;
        }
    }
    reply_ok(ctx->r);
}

void cmd_config(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "get")) {
        if (ctx->argc < 3)
            reply_error(ctx->r, "ERR wrong number of arguments for 'config|get' command");
        else
            config_get(ctx);
    } else if (arg_is(sub, "set")) {
        config_set_cmd(ctx);
    } else if (arg_is(sub, "resetstat") && ctx->argc == 2) {
        atomic_store(&stats.commands_processed, 0);
        atomic_store(&stats.connections_received, 0);
        atomic_store(&stats.rejected_connections, 0);
        atomic_store(&stats.keyspace_hits, 0);
        atomic_store(&stats.keyspace_misses, 0);
        atomic_store(&stats.expired_keys, 0);
        atomic_store(&stats.expire_cycle_cpu_us, 0);
        atomic_store(&stats.net_input_bytes, 0);
        atomic_store(&stats.net_output_bytes, 0);
        atomic_store(&stats.write_groups, 0);
        atomic_store(&stats.grouped_writes, 0);
        atomic_store(&stats.evicted_clients, 0);
        atomic_store(&stats.sync_full, 0);
        atomic_store(&stats.sync_partial_ok, 0);
        atomic_store(&stats.sync_partial_err, 0);
        reply_ok(ctx->r);
    } else if (arg_is(sub, "rewrite") && ctx->argc == 2) {
        char err[512];
        if (config_rewrite(err, sizeof(err)) < 0) reply_errorf(ctx->r, "ERR %s", err);
        else reply_ok(ctx->r);
    } else {
        static const char *const known[] = {"get", "set", "resetstat", "rewrite", NULL};
        reply_subcommand_error(ctx, known);
    }
}

/* ---- COMMAND ---- */

/* Whether some key is found by other means than an index and a range (numkeys, a keyword
 * anywhere): Redis's movablekeys. */
static int has_movable_keys(const cmd_def *d) {
    for (int i = 0; i < d->nkey_specs; i++)
        if (d->key_specs[i].begin != KEY_BEGIN_INDEX || d->key_specs[i].find != KEY_FIND_RANGE) return 1;
    return 0;
}

static void reply_command_flags(reply *r, const cmd_def *d) {
    static const struct {
        int flag;
        const char *name;
    } names[] = {{CMD_WRITE, "write"},       {CMD_READONLY, "readonly"},      {CMD_DENYOOM, "denyoom"},
                 {CMD_ADMIN, "admin"},       {CMD_NOSCRIPT, "noscript"},      {CMD_BLOCKING, "blocking"},
                 {CMD_LOADING, "loading"},   {CMD_STALE, "stale"},            {CMD_SKIP_SLOWLOG, "skip_slowlog"},
                 {CMD_FAST, "fast"},         {CMD_NOAUTH, "no_auth"},         {CMD_NOMULTI, "no_multi"},
                 {CMD_ALLOW_BUSY, "allow_busy"}, {CMD_SKIP_MONITOR, "skip_monitor"},
                 {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"}, {CMD_PUBSUB, "pubsub"},
                 {CMD_NO_ASYNC_LOADING, "no_async_loading"}};
    const size_t count = sizeof(names) / sizeof(names[0]);
    int movable = has_movable_keys(d), n = movable;
    for (size_t i = 0; i < count; i++) n += (d->flags & names[i].flag) != 0;
    reply_set(r, n);
    for (size_t i = 0; i < count; i++)
        if (d->flags & names[i].flag) reply_simple(r, names[i].name);
    if (movable) reply_simple(r, "movablekeys");
}

/* The space-separated words of s as a set of simple strings (ACL categories). */
static void reply_words(reply *r, const char *s) {
    int n = 0;
    for (const char *p = s; *p; p++) n += *p != ' ' && (p == s || p[-1] == ' ');
    reply_set(r, n);
    while (*s) {
        char word[32];
        size_t len = strcspn(s, " ");
        if (len > 0 && len < sizeof(word)) {
            memcpy(word, s, len);
            word[len] = '\0';
            reply_simple(r, word);
        }
        s += len + (s[len] == ' ');
    }
}

static const struct {
    int flag;
    const char *name;
} key_flag_names[] = {{KEY_RO, "RO"},         {KEY_RW, "RW"},         {KEY_OW, "OW"},
                      {KEY_RM, "RM"},         {KEY_ACCESS, "access"}, {KEY_UPDATE, "update"},
                      {KEY_INSERT, "insert"}, {KEY_DELETE, "delete"}, {KEY_INCOMPLETE, "incomplete"},
                      {KEY_VARIABLE_FLAGS, "variable_flags"}, {KEY_NOT_KEY, "not_key"}};

static void reply_key_flags(reply *r, int flags) {
    const size_t count = sizeof(key_flag_names) / sizeof(key_flag_names[0]);
    int n = 0;
    for (size_t i = 0; i < count; i++) n += (flags & key_flag_names[i].flag) != 0;
    reply_set(r, n);
    for (size_t i = 0; i < count; i++)
        if (flags & key_flag_names[i].flag) reply_simple(r, key_flag_names[i].name);
}

/* A {type, spec: {field: value …}} map with n integer fields. */
static void reply_search(reply *r, const char *type, int n, const char *const *fields, const int *values) {
    reply_map(r, 2);
    reply_bulk_str(r, "type");
    reply_bulk_str(r, type);
    reply_bulk_str(r, "spec");
    reply_map(r, n);
    for (int i = 0; i < n; i++) {
        reply_bulk_str(r, fields[i]);
        reply_int(r, values[i]);
    }
}

static void reply_key_spec(reply *r, const key_spec *s) {
    static const char *const index_fields[] = {"index"};
    static const char *const range_fields[] = {"lastkey", "keystep", "limit"};
    static const char *const keynum_fields[] = {"keynumidx", "firstkey", "keystep"};
    const int abc[] = {s->a, s->b, s->c};
    reply_map(r, 3);
    reply_bulk_str(r, "flags");
    reply_key_flags(r, s->flags);
    reply_bulk_str(r, "begin_search");
    if (s->begin == KEY_BEGIN_INDEX) reply_search(r, "index", 1, index_fields, &s->index);
    else reply_search(r, "unknown", 0, NULL, NULL);
    reply_bulk_str(r, "find_keys");
    if (s->find == KEY_FIND_RANGE) reply_search(r, "range", 3, range_fields, abc);
    else if (s->find == KEY_FIND_KEYNUM) reply_search(r, "keynum", 3, keynum_fields, abc);
    else reply_search(r, "unknown", 0, NULL, NULL);
}

static void reply_command_info(reply *r, const cmd_def *d) {
    reply_array(r, 10);
    reply_bulk_str(r, d->name);
    reply_int(r, d->arity);
    reply_command_flags(r, d);
    reply_int(r, d->first_key);
    reply_int(r, d->last_key);
    reply_int(r, d->key_step);
    reply_words(r, d->categories);
    reply_array(r, 0); /* tips */
    reply_array(r, d->nkey_specs);
    for (int i = 0; i < d->nkey_specs; i++) reply_key_spec(r, &d->key_specs[i]);
    reply_array(r, 0); /* subcommands */
}

static void reply_command_docs(reply *r, const cmd_def *d) {
    reply_bulk_str(r, d->name);
    reply_map(r, 4);
    reply_bulk_str(r, "summary");
    reply_bulk_str(r, d->summary);
    reply_bulk_str(r, "since");
    reply_bulk_str(r, "1.0.0");
    reply_bulk_str(r, "group");
    reply_bulk_str(r, d->group);
    reply_bulk_str(r, "arguments");
    if (docs_reply_arguments(r, d->syntax) < 0) reply_array(r, 0); /* ruled out by the unit tests */
}

/* The keys COMMAND GETKEYS lists: positions and flags, in the order the command has them. */
typedef struct listed_keys {
    key_sink sink; /* first: the sink's add gets the listed_keys */
    key_ref *keys;
    int n, cap;
} listed_keys;

static void list_key(key_sink *sink, key_ref k) {
    listed_keys *l = (listed_keys *)sink;
    if (k.db >= 0) return; /* COPY … DB n: the same argument, already listed */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->keys = realloc(l->keys, (size_t)l->cap * sizeof(*l->keys));
        if (!l->keys) abort();
    }
    l->keys[l->n++] = k;
}

/* COMMAND GETKEYS / GETKEYSANDFLAGS cmd arg …: the keys the descriptor finds, with Redis's errors. */
static void command_getkeys(cmd_ctx *ctx, int with_flags) {
    const char *name = with_flags ? "getkeysandflags" : "getkeys";
    if (ctx->argc < 4) { /* a command and at least one argument (Redis's arity) */
        reply_errorf(ctx->r, "ERR wrong number of arguments for 'command|%s' command", name);
        return;
    }
    int argc = ctx->argc - 2;
    const resp_arg *argv = &ctx->argv[2];
    const cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (!d) {
        reply_error(ctx->r, "ERR Invalid command specified");
        return;
    }
    if (d->arity > 0 ? argc != d->arity : argc < -d->arity) {
        reply_error(ctx->r, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (d->nkey_specs == 0 && !d->getkeys) {
        reply_error(ctx->r, "ERR The command has no key arguments");
        return;
    }
    listed_keys listed = {.sink.add = list_key}, *l = &listed;
    if (cmd_get_keys(d, argc, argv, &l->sink) < 0 || l->n == 0) {
        reply_error(ctx->r, "ERR Invalid arguments specified for command");
    } else {
        reply_array(ctx->r, l->n);
        for (int i = 0; i < l->n; i++) {
            const resp_arg *key = &argv[l->keys[i].pos];
            if (with_flags) reply_array(ctx->r, 2);
            reply_bulk(ctx->r, key->ptr, key->len);
            if (with_flags) reply_key_flags(ctx->r, l->keys[i].flags & ~KEY_VARIABLE_FLAGS);
        }
    }
    free(l->keys);
}

void cmd_command(cmd_ctx *ctx) {
    size_t n;
    const cmd_def *table = cmd_table(&n);
    if (ctx->argc == 1) {
        reply_array(ctx->r, (long long)n);
        for (size_t i = 0; i < n; i++) reply_command_info(ctx->r, &table[i]);
        return;
    }
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "count") && ctx->argc == 2) {
        reply_int(ctx->r, (long long)n);
    } else if (arg_is(sub, "list") && ctx->argc == 2) {
        reply_array(ctx->r, (long long)n);
        for (size_t i = 0; i < n; i++) reply_bulk_str(ctx->r, table[i].name);
    } else if (arg_is(sub, "info")) {
        reply_array(ctx->r, ctx->argc == 2 ? (long long)n : ctx->argc - 2);
        for (int i = 2; i < ctx->argc; i++) {
            const cmd_def *d = cmd_lookup(ctx->argv[i].ptr, ctx->argv[i].len);
            if (d) reply_command_info(ctx->r, d);
            else reply_null_array(ctx->r);
        }
        if (ctx->argc == 2)
            for (size_t i = 0; i < n; i++) reply_command_info(ctx->r, &table[i]);
    } else if (arg_is(sub, "docs")) {
        buf body;
        buf_init(&body);
        reply sub_r = {.out = &body, .resp = ctx->r->resp};
        long long count = 0;
        for (size_t i = 0; i < n; i++) {
            int wanted = ctx->argc == 2;
            for (int j = 2; j < ctx->argc && !wanted; j++) wanted = arg_is(&ctx->argv[j], table[i].name);
            if (!wanted) continue;
            reply_command_docs(&sub_r, &table[i]);
            count++;
        }
        reply_map(ctx->r, count);
        buf_append(ctx->r->out, body.data, body.len);
        buf_free(&body);
    } else if (arg_is(sub, "getkeys") || arg_is(sub, "getkeysandflags")) {
        command_getkeys(ctx, arg_is(sub, "getkeysandflags"));
    } else {
        static const char *const known[] = {"count", "list", "info", "docs", "getkeys", "getkeysandflags", NULL};
        reply_subcommand_error(ctx, known);
    }
}

/* ---- MULTI / EXEC / DISCARD / WATCH / UNWATCH ---- */

void cmd_multi(cmd_ctx *ctx) {
    if (ctx->c->flags & CLIENT_MULTI) {
        reply_error(ctx->r, "ERR MULTI calls can not be nested");
        return;
    }
    ctx->c->flags |= CLIENT_MULTI;
    reply_ok(ctx->r);
}

void cmd_exec(cmd_ctx *ctx) {
    client *c = ctx->c;
    if (!(c->flags & CLIENT_MULTI)) {
        reply_error(ctx->r, "ERR EXEC without MULTI");
        return;
    }
    if (c->flags & CLIENT_DIRTY_EXEC) {
        reply_error(ctx->r, "EXECABORT Transaction discarded because of previous errors.");
        dispatch_discard(c);
        dispatch_unwatch(c);
        return;
    }
    dispatch_exec(ctx);
}

void cmd_discard(cmd_ctx *ctx) {
    if (!(ctx->c->flags & CLIENT_MULTI)) {
        reply_error(ctx->r, "ERR DISCARD without MULTI");
        return;
    }
    dispatch_discard(ctx->c);
    dispatch_unwatch(ctx->c);
    reply_ok(ctx->r);
}

void cmd_watch(cmd_ctx *ctx) {
    if (ctx->c->flags & CLIENT_MULTI) {
        reply_error(ctx->r, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < ctx->argc; i++) {
        if (dispatch_watch(ctx->c, ctx->t, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len) < 0) {
            reply_storage_error(ctx);
            return;
        }
    }
    reply_ok(ctx->r);
}

void cmd_unwatch(cmd_ctx *ctx) {
    dispatch_unwatch(ctx->c);
    reply_ok(ctx->r);
}

/* DEBUG PUSH client-id word [word ...]: posts the words as a push message (bulk strings) to
 * that client through its worker's mailbox, as pub/sub will. Replies 1, or 0 if the mailbox
 * refused it (the client is closed). */
static void debug_push(cmd_ctx *ctx) {
    long long id;
    if (arg_ll(ctx, &ctx->argv[2], &id) < 0) return;
    client_ref to;
    if (id <= 0 || !net_client_ref_by_id((uint64_t)id, &to)) {
        reply_error(ctx->r, "ERR No such client");
        return;
    }
    buf body;
    buf_init(&body);
    reply words = {.out = &body, .resp = 3};
    for (int i = 3; i < ctx->argc; i++) reply_bulk(&words, ctx->argv[i].ptr, ctx->argv[i].len);
    int posted = net_push(to, ctx->argc - 3, body.data, body.len) == 0;
    buf_free(&body);
    reply_int(ctx->r, posted);
}

/* DEBUG SET-ACTIVE-EXPIRE 0|1, as Redis's: pauses or resumes the active expiry, so that a
 * test sees what a lookup does with an expired key. */
static void debug_set_active_expire(cmd_ctx *ctx) {
    long long on;
    if (arg_ll(ctx, &ctx->argv[2], &on) < 0) return;
    expiry_set_active(on != 0);
    reply_ok(ctx->r);
}

/* DEBUG READ-ERROR-AFTER n and DEBUG DROP-RECORD-AFTER n, for tests: the n-th next storage
 * read on this worker thread (the client's) fails as an I/O error would, or the n-th next
 * change record added on it is dropped as if its command had not recorded (0 cancels).
 * DEBUG PUSH and SET-ACTIVE-EXPIRE: see above. Refused unless the server was started with
 * debug-fault-injection yes. */
void cmd_debug(cmd_ctx *ctx) {
    static const char *const known[] = {"read-error-after", "drop-record-after", "push", "set-active-expire", NULL};
    if (!CONFIG_READ(debug_fault_injection)) {
        reply_error(ctx->r, "ERR DEBUG is for tests only: start the server with --debug-fault-injection yes");
        return;
    }
    if (ctx->argc >= 4 && arg_is(&ctx->argv[1], "push")) {
        debug_push(ctx);
        return;
    }
    if (ctx->argc == 3 && arg_is(&ctx->argv[1], "set-active-expire")) {
        debug_set_active_expire(ctx);
        return;
    }
    long long n;
    int read_error = ctx->argc == 3 && arg_is(&ctx->argv[1], "read-error-after");
    if (!read_error && !(ctx->argc == 3 && arg_is(&ctx->argv[1], "drop-record-after"))) {
        reply_subcommand_error(ctx, known);
        return;
    }
    if (arg_ll(ctx, &ctx->argv[2], &n) < 0) return;
    if (n < 0) {
        reply_error(ctx->r, "ERR the count must not be negative");
        return;
    }
    if (read_error) store_fail_read_after(n);
    else txn_drop_record_after(n);
    reply_ok(ctx->r);
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The server commands. */
static const cmd_def server_defs[] = {
    {"info", -1, NK | LOADING | STALE, 0, 0, 0, cmd_info, "server", "@slow @dangerous",
     "Returns information and statistics about the server.",
     "[section]...", NO_KEYS},
    {"debug", -2, NK | CMD_ADMIN | CMD_SUBCOMMANDS | NOSCRIPT | LOADING | STALE, 0, 0, 0, cmd_debug, "server", "@admin @slow @dangerous",
     "Test only (needs --debug-fault-injection yes): READ-ERROR-AFTER n makes this worker's n-th next storage read fail; "
     "DROP-RECORD-AFTER n drops its n-th next change record; PUSH client-id word... sends that client the words as a "
     "push message; SET-ACTIVE-EXPIRE 0|1 pauses or resumes the active expiry.",
     "subcommand [argument]...", NO_KEYS},
    {"dbsize", 1, NK | R | F, 0, 0, 0, cmd_dbsize, "server", "@keyspace @read @fast",
     "Returns the number of keys in the database.",
     "", NO_KEYS},
    {"flushdb", -1, W | CMD_ALLKEYS, 0, 0, 0, cmd_flushdb, "server", "@keyspace @write @slow @dangerous",
     "Removes all keys from the current database.",
     "async[ASYNC|SYNC]", NO_KEYS},
    {"flushall", -1, W | CMD_ALLKEYS, 0, 0, 0, cmd_flushall, "server", "@keyspace @write @slow @dangerous",
     "Removes all keys from all databases.",
     "async[ASYNC|SYNC]", NO_KEYS},
    {"config", -2, NK | CMD_ADMIN | CMD_SUBCOMMANDS | NOSCRIPT, 0, 0, 0, cmd_config, "server", "@slow",
     "Reads or changes the configuration.",
     "subcommand [argument]...", NO_KEYS},
    {"command", -1, NK | CMD_SUBCOMMANDS | LOADING | STALE, 0, 0, 0, cmd_command, "server", "@slow @connection",
     "Returns information about commands.",
     "subcommand [argument]...", NO_KEYS},
    {"time", 1, NK | F | LOADING | STALE, 0, 0, 0, cmd_time, "server", "@fast",
     "Returns the server time.",
     "", NO_KEYS},
    {"shutdown", -1, NK | CMD_ADMIN | CMD_NOQUEUE | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_shutdown, "server", "@admin @slow @dangerous",
     "Stops the server cleanly.",
     "nosave_save[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", NO_KEYS}
};
const cmd_family server_commands = {server_defs, sizeof(server_defs) / sizeof(server_defs[0])};

/* The transactions commands. */
static const cmd_def transaction_defs[] = {
    {"multi", 1, NK | F | CMD_NOQUEUE | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_multi, "transactions", "@fast @transaction",
     "Starts a transaction.",
     "", NO_KEYS},
    {"exec", 1, NK | CMD_NOQUEUE | NOSCRIPT | LOADING | STALE | NOSLOWLOG, 0, 0, 0, cmd_exec, "transactions", "@slow @transaction",
     "Runs the queued commands as one batch.",
     "", NO_KEYS},
    {"discard", 1, NK | F | CMD_NOQUEUE | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_discard, "transactions", "@fast @transaction",
     "Discards a transaction.",
     "", NO_KEYS},
    {"watch", -2, NK | F | CMD_NOQUEUE | NOSCRIPT | LOADING | STALE | BUSY, 1, -1, 1, cmd_watch, "transactions", "@fast @transaction",
     "Watches keys for changes before EXEC.",
     "key:key@0...", KEYS(RANGE(KEY_RO, 1, -1, 1))},
    {"unwatch", 1, NK | F | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_unwatch, "transactions", "@fast @transaction",
     "Forgets all watched keys.",
     "", NO_KEYS}
};
const cmd_family transaction_commands = {transaction_defs, sizeof(transaction_defs) / sizeof(transaction_defs[0])};
