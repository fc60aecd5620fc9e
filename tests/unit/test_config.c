/* Unit tests for configuration parsing (src/config.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Asserts that haystack contains needle, printing both otherwise. */
static void expect_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) {
        print_error("\"%s\" does not contain \"%s\"\n", haystack, needle);
        fail();
    }
}

static int reset_config(void **state) {
    (void)state;
    config_init_defaults();
    return 0;
}

static void test_defaults(void **state) {
    (void)state;
    assert_int_equal(server_config.port, 6666);
    assert_string_equal(server_config.bind, "127.0.0.1");
    assert_int_equal(server_config.databases, 16);
    assert_int_equal(server_config.timeout, 0);
    assert_int_equal(server_config.maxclients, 10000);
    assert_string_equal(server_config.requirepass.ptr, "");
    assert_int_equal(server_config.proto_max_bulk_len, 512LL * 1024 * 1024);
    assert_int_equal(server_config.maxmemory_clients, 2LL * 1024 * 1024 * 1024);
    assert_int_equal(config_password_set(), 0);
}

static void test_load_text(void **state) {
    (void)state;
    const char *text = "# a comment\n"
                       "\n"
                       "   \n"
                       "port 7001\n"
                       "  # an indented comment\n"
                       "bind \"0.0.0.0 ::1\"\n"
                       "requirepass 'p@ss word'\n"
                       "logfile \"\"\n"
                       "timeout 30\r\n"
                       "databases 4";
    char err[256] = "";
    assert_int_equal(config_load_text(text, "test.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.port, 7001);
    assert_string_equal(server_config.bind, "0.0.0.0 ::1");
    assert_string_equal(server_config.requirepass.ptr, "p@ss word");
    assert_string_equal(server_config.logfile, "");
    assert_int_equal(server_config.timeout, 30);
    assert_int_equal(server_config.databases, 4);
    assert_int_equal(config_password_set(), 1);
    assert_true(config_password_matches("p@ss word", 9));
    /* Option names are case-insensitive, as in Redis. */
    assert_int_equal(config_load_text("MaxClients 50\n", "test.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.maxclients, 50);
}

/* A comment line is ignored whatever it contains, as in redis.conf. */
static void test_comment_with_quotes_ignored(void **state) {
    (void)state;
    char err[256] = "";
    const char *text = "# Sets the \"port\".\n"
                       "port 7002\n";
    int rc = config_load_text(text, "test.conf", err, sizeof(err));
    if (rc != 0) print_error("config_load_text failed: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(server_config.port, 7002);
}

static void test_unknown_option(void **state) {
    (void)state;
    char err[256] = "";
    const char *text = "port 7001\n"
                       "\n"
                       "# comment\n"
                       "nosuch-option 1\n"
                       "timeout 5\n";
    assert_int_equal(config_load_text(text, "test.conf", err, sizeof(err)), -1);
    expect_contains(err, "test.conf");
    expect_contains(err, "line 4");
    expect_contains(err, "nosuch-option");
    /* Nothing after the bad line was applied. */
    assert_int_equal(server_config.timeout, 0);
}

static void test_bad_values(void **state) {
    (void)state;
    char err[256] = "";
    assert_int_equal(config_load_text("timeout 1\nport abc\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "line 2");
    expect_contains(err, "'port'");
    expect_contains(err, "argument couldn't be parsed into an integer");
    assert_int_equal(server_config.port, 6666);

    err[0] = '\0';
    assert_int_equal(config_load_text("port 70000\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "line 1");
    expect_contains(err, "'port'");
    expect_contains(err, "argument must be between 0 and 65535 inclusive");
    assert_int_equal(server_config.port, 6666);

    err[0] = '\0';
    assert_int_equal(config_load_text("port 12x\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "'port'");
    err[0] = '\0';
    assert_int_equal(config_load_text("port -1\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "'port'");
    err[0] = '\0';
    assert_int_equal(config_load_text("port\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "'port'");
    err[0] = '\0';
    assert_int_equal(config_load_text("port 1 2\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "'port'");
    err[0] = '\0';
    assert_int_equal(config_load_text("bind \"127.0.0.1\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "line 1");
    err[0] = '\0';
    assert_int_equal(config_load_text("loglevel loud\n", "a.conf", err, sizeof(err)), -1);
    expect_contains(err, "'loglevel'");
    assert_int_equal(server_config.port, 6666);
}

static void test_memory_values(void **state) {
    (void)state;
    char err[256] = "";
    assert_int_equal(config_load_text("proto-max-bulk-len 1mb\n", "m.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.proto_max_bulk_len, 1048576);
    assert_int_equal(config_load_text("proto-max-bulk-len 2GB\n", "m.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.proto_max_bulk_len, 2LL * 1024 * 1024 * 1024);
    assert_int_equal(config_load_text("proto-max-bulk-len 5m\n", "m.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.proto_max_bulk_len, 5000000);
    assert_int_equal(config_load_text("proto-max-bulk-len 3000kb\n", "m.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.proto_max_bulk_len, 3000 * 1024);
    assert_int_equal(config_load_text("proto-max-bulk-len 2097152\n", "m.conf", err, sizeof(err)), 0);
    assert_int_equal(server_config.proto_max_bulk_len, 2097152);
    /* Below the 1 MiB minimum, and an unknown unit. */
    assert_int_equal(config_load_text("proto-max-bulk-len 1kb\n", "m.conf", err, sizeof(err)), -1);
    expect_contains(err, "proto-max-bulk-len");
    assert_int_equal(config_load_text("proto-max-bulk-len 1xb\n", "m.conf", err, sizeof(err)), -1);
    expect_contains(err, "proto-max-bulk-len");
    assert_int_equal(server_config.proto_max_bulk_len, 2097152);
}

static void test_config_set_runtime(void **state) {
    (void)state;
    char err[256] = "";
    assert_int_equal(config_set("port", "7000", 1, err, sizeof(err)), -1);
    assert_string_equal(err, "can't set immutable config");
    assert_int_equal(server_config.port, 6666);
    assert_int_equal(config_set("databases", "2", 1, err, sizeof(err)), -1);
    assert_string_equal(err, "can't set immutable config");

    assert_int_equal(config_set("timeout", "120", 1, err, sizeof(err)), 0);
    assert_int_equal(server_config.timeout, 120);
    assert_int_equal(config_set("TIMEOUT", "0", 1, err, sizeof(err)), 0);
    assert_int_equal(server_config.timeout, 0);
    assert_int_equal(config_set("timeout", "-1", 1, err, sizeof(err)), -1);
    assert_int_equal(server_config.timeout, 0);

    assert_int_equal(config_set("requirepass", "secret", 1, err, sizeof(err)), 0);
    assert_int_equal(config_password_set(), 1);
    assert_true(config_password_matches("secret", 6));
    assert_false(config_password_matches("secre", 5));
    assert_false(config_password_matches("secrets", 7));

    /* A password is binary-safe: a NUL byte does not cut it short. */
    assert_int_equal(config_set_bytes("requirepass", "ab\0cd", 5, 1, err, sizeof(err)), 0);
    assert_true(config_password_matches("ab\0cd", 5));
    assert_false(config_password_matches("ab", 2));
    assert_int_equal(config_set_bytes("requirepass", "\0", 1, 1, err, sizeof(err)), 0);
    assert_int_equal(config_password_set(), 1);
    /* Other options refuse a NUL rather than read a shorter value. */
    assert_int_equal(config_set_bytes("timeout", "5\0junk", 6, 1, err, sizeof(err)), -1);
    expect_contains(err, "NUL");
    assert_int_equal(server_config.timeout, 0);

    err[0] = '\0';
    assert_int_equal(config_set("nosuch", "1", 1, err, sizeof(err)), -1);
    expect_contains(err, "nosuch");

    /* At startup (runtime = 0) immutable options may be set. */
    assert_int_equal(config_set("port", "7000", 0, err, sizeof(err)), 0);
    assert_int_equal(server_config.port, 7000);
}

typedef struct collected {
    int n;
    char names[256][64];
    char values[256][128];
} collected;

static void collect(void *ctx, const char *name, const char *value, size_t value_len) {
    assert_int_equal(strlen(value), value_len);
    collected *c = ctx;
    assert_true(c->n < 256);
    snprintf(c->names[c->n], sizeof(c->names[0]), "%s", name);
    snprintf(c->values[c->n], sizeof(c->values[0]), "%s", value);
    c->n++;
}

/* Returns the collected value of name, or NULL. */
static const char *find(const collected *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) return c->values[i];
    return NULL;
}

static void test_get_matching(void **state) {
    (void)state;
    collected c;
    memset(&c, 0, sizeof(c));
    int n = config_get_matching("*-max-b*", 8, collect, &c);
    assert_int_equal(n, c.n);
    assert_int_equal(n, 4);
    assert_non_null(find(&c, "cdc-poll-max-bytes"));
    assert_string_equal(find(&c, "cdc-poll-max-bytes"), "16777216");
    assert_non_null(find(&c, "proto-max-bulk-len"));
    assert_string_equal(find(&c, "proto-max-bulk-len"), "536870912");
    assert_non_null(find(&c, "hll-sparse-max-bytes"));
    assert_string_equal(find(&c, "hll-sparse-max-bytes"), "3000");
    assert_non_null(find(&c, "stream-node-max-bytes"));
    assert_string_equal(find(&c, "stream-node-max-bytes"), "4096");

    memset(&c, 0, sizeof(c));
    assert_int_equal(config_get_matching("max[cm]*", 8, collect, &c), 6);
    assert_string_equal(find(&c, "maxclients"), "10000");
    assert_string_equal(find(&c, "maxmemory-clients"), "2147483648");
    assert_string_equal(find(&c, "maxmemory"), "0");
    assert_string_equal(find(&c, "maxmemory-policy"), "noeviction");
    assert_string_equal(find(&c, "maxmemory-samples"), "5");
    assert_string_equal(find(&c, "maxmemory-eviction-tenacity"), "10");

    memset(&c, 0, sizeof(c));
    assert_int_equal(config_get_matching("port", 4, collect, &c), 1);
    assert_string_equal(c.names[0], "port");
    assert_string_equal(c.values[0], "6666");

    /* Case-insensitive, with ? and classes. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(config_get_matching("P?R[st]", 7, collect, &c), 1);
    assert_string_equal(c.names[0], "port");

    memset(&c, 0, sizeof(c));
    assert_int_equal(config_get_matching("nothing*", 8, collect, &c), 0);
    assert_int_equal(c.n, 0);

    memset(&c, 0, sizeof(c));
    n = config_get_matching("*", 1, collect, &c);
    assert_true(n >= 10);
    assert_string_equal(find(&c, "bind"), "127.0.0.1");
    assert_string_equal(find(&c, "databases"), "16");
    assert_string_equal(find(&c, "timeout"), "0");
    assert_string_equal(find(&c, "loglevel"), "notice");
    assert_string_equal(find(&c, "requirepass"), "");
}

static void test_load_args(void **state) {
    (void)state;
    char path[] = "/tmp/tidekv-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "# test config\nport 7001\ntimeout 5\nbind 10.0.0.1\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);

    char err[256] = "";
    char *argv[] = {"tidekv-server", path, "--port", "7000", "--maxclients", "77", NULL};
    int rc = config_load_args(6, argv, err, sizeof(err));
    if (rc != 0) print_error("config_load_args failed: %s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(server_config.port, 7000);     /* the command line wins */
    assert_int_equal(server_config.timeout, 5);     /* from the file */
    assert_string_equal(server_config.bind, "10.0.0.1");
    assert_int_equal(server_config.maxclients, 77);

    /* Only options, no file. */
    config_init_defaults();
    char *argv2[] = {"tidekv-server", "--timeout", "9", NULL};
    assert_int_equal(config_load_args(3, argv2, err, sizeof(err)), 0);
    assert_int_equal(server_config.timeout, 9);
    assert_int_equal(server_config.port, 6666);

    err[0] = '\0';
    char *bad[] = {"tidekv-server", path, "--nosuch", "1", NULL};
    assert_int_equal(config_load_args(4, bad, err, sizeof(err)), -1);
    expect_contains(err, "nosuch");

    err[0] = '\0';
    char *novalue[] = {"tidekv-server", "--port", NULL};
    assert_int_equal(config_load_args(2, novalue, err, sizeof(err)), -1);
    expect_contains(err, "--port");

    err[0] = '\0';
    char *badvalue[] = {"tidekv-server", "--port", "70000", NULL};
    assert_int_equal(config_load_args(3, badvalue, err, sizeof(err)), -1);
    expect_contains(err, "port");

    unlink(path);
    err[0] = '\0';
    char *missing[] = {"tidekv-server", path, NULL};
    assert_int_equal(config_load_args(2, missing, err, sizeof(err)), -1);
    expect_contains(err, path);
}

static void test_enum_options(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(server_config.appendfsync, 1); /* everysec */
    assert_int_equal(server_config.protected_mode, 1);
    assert_int_equal(config_set("appendfsync", "ALWAYS", 1, err, sizeof(err)), 0);
    assert_int_equal(server_config.appendfsync, 0);
    assert_int_equal(config_set("appendfsync", "sometimes", 1, err, sizeof(err)), -1);
    assert_string_equal(err, "argument(s) must be one of the following: always, everysec, no");
    assert_int_equal(server_config.appendfsync, 0);
    assert_int_equal(config_set("protected-mode", "no", 1, err, sizeof(err)), 0);
    assert_int_equal(server_config.protected_mode, 0);
}

static void test_output_buffer_limits(void **state) {
    (void)state;
    char err[256];
    const shared_output_limit *normal = &server_config.output_limits[0];
    assert_int_equal(normal->hard, 1024LL * 1024 * 1024);
    assert_int_equal(normal->soft, 256LL * 1024 * 1024);
    assert_int_equal(normal->soft_seconds, 60);
    /* Several words on one config line; only the classes named change. */
    assert_int_equal(config_load_text("client-output-buffer-limit normal 1mb 2kb 5 replica 0 0 0\n", "t", err,
                                      sizeof(err)), 0);
    assert_int_equal(normal->hard, 1024 * 1024);
    assert_int_equal(normal->soft, 2048);
    assert_int_equal(normal->soft_seconds, 5);
    assert_int_equal(server_config.output_limits[1].hard, 0);
    assert_int_equal(server_config.output_limits[2].hard, 32LL * 1024 * 1024);
    static const char *const bad[] = {"normal 1 2", "normal 1 2 3 pubsub", "teachers 1 2 3", "normal x 2 3",
                                      "normal 1 2 -3", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(config_set("client-output-buffer-limit", bad[i], 1, err, sizeof(err)), -1);
        assert_int_equal(normal->hard, 1024 * 1024); /* unchanged by a bad value */
    }
    /* Other options still take exactly one value. */
    assert_int_equal(config_load_text("port 1 2\n", "t", err, sizeof(err)), -1);
    expect_contains(err, "needs exactly one value");
}

/* Loads one line and returns the value CONFIG GET then shows for name (a static copy). */
static const char *get_one(const char *name) {
    static collected c;
    memset(&c, 0, sizeof(c));
    assert_int_equal(config_get_matching(name, strlen(name), collect, &c), 1);
    return c.values[0];
}

/* redis.conf's options that mean nothing on RocksDB load from a file and keep their values,
 * with Redis 7.0's defaults; the old ziplist names share the listpack options' values. */
static void test_redis_options_kept(void **state) {
    (void)state;
    assert_string_equal(get_one("hash-max-ziplist-entries"), "512");
    assert_string_equal(get_one("hash-max-listpack-value"), "64");
    assert_string_equal(get_one("list-max-ziplist-size"), "-2");
    assert_string_equal(get_one("zset-max-listpack-entries"), "128");
    assert_string_equal(get_one("active-defrag-ignore-bytes"), "104857600");
    assert_string_equal(get_one("auto-aof-rewrite-min-size"), "67108864");
    assert_string_equal(get_one("lazyfree-lazy-eviction"), "no");
    assert_string_equal(get_one("activerehashing"), "yes");
    assert_string_equal(get_one("dbfilename"), "dump.rdb");
    assert_string_equal(get_one("hz"), "10");

    const char *text = "hash-max-ziplist-value 10\n"
                       "zset-max-listpack-entries 3\n"
                       "list-max-listpack-size -5\n"
                       "list-compress-depth 2\n"
                       "set-max-intset-entries 9999999999\n"
                       "stream-node-max-bytes 4kb\n"
                       "maxmemory 1gb\n"
                       "maxmemory-policy ALLKEYS-LRU\n"
                       "lazyfree-lazy-eviction YES\n"
                       "slave-lazy-flush yes\n"
                       "activedefrag yes\n"
                       "hz 1000\n"
                       "dbfilename other.rdb\n"
                       "appendfilename \"x.aof\"\n";
    char err[256] = "";
    int rc = config_load_text(text, "redis.conf", err, sizeof(err));
    if (rc != 0) print_error("config_load_text failed: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(get_one("hash-max-ziplist-value"), "10");
    assert_string_equal(get_one("hash-max-listpack-value"), "10");
    assert_string_equal(get_one("zset-max-ziplist-entries"), "3");
    assert_string_equal(get_one("list-max-ziplist-size"), "-5");
    assert_string_equal(get_one("list-compress-depth"), "2");
    assert_string_equal(get_one("set-max-intset-entries"), "9999999999");
    assert_string_equal(get_one("stream-node-max-bytes"), "4096");
    assert_string_equal(get_one("maxmemory"), "1073741824");
    assert_string_equal(get_one("maxmemory-policy"), "allkeys-lru");
    assert_string_equal(get_one("lazyfree-lazy-eviction"), "yes");
    assert_string_equal(get_one("replica-lazy-flush"), "yes");
    assert_string_equal(get_one("activedefrag"), "yes");
    assert_string_equal(get_one("hz"), "500"); /* Redis runs (and shows) hz within 1..500 */
    assert_string_equal(get_one("dbfilename"), "other.rdb");
    assert_string_equal(get_one("appendfilename"), "x.aof");
    /* maxmemory-clients keeps its own meaning and value. */
    assert_int_equal(server_config.maxmemory_clients, 2LL * 1024 * 1024 * 1024);

    /* Back to the defaults, as every run of the fuzz target expects. */
    config_init_defaults();
    assert_string_equal(get_one("hash-max-ziplist-value"), "64");
    assert_string_equal(get_one("dbfilename"), "dump.rdb");
}

/* Bad values of those options are refused with Redis's reasons, naming the line. */
static void test_redis_options_bad_values(void **state) {
    (void)state;
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"maxmemory-policy lru", "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                                 "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"},
        {"activedefrag maybe", "argument must be 'yes' or 'no'"},
        {"lazyfree-lazy-expire 1", "argument must be 'yes' or 'no'"},
        {"maxmemory 1xb", "argument must be a memory value"},
        {"maxmemory -1", "argument must be a memory value"},
        {"hash-max-listpack-entries 1kb", "argument couldn't be parsed into an integer"},
        {"hash-max-listpack-entries +5", "argument couldn't be parsed into an integer"},
        {"list-compress-depth -1", "argument must be between 0 and 2147483647 inclusive"},
        {"active-defrag-cycle-max 100", "argument must be between 1 and 99 inclusive"},
        {"active-defrag-ignore-bytes 0", "argument must be between 1 and 9223372036854775807 inclusive"},
        {"maxmemory-samples 0", "argument must be between 1 and 2147483647 inclusive"},
        {"hz -1", "argument must be between 0 and 2147483647 inclusive"},
        {"hash-max-ziplist-value 1 2", "needs exactly one value"},
        {"hash-max-ziplist-whatever 1", "unknown option"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[200], err[512] = "";
        snprintf(text, sizeof(text), "# comment\n%s\n", bad[i].line);
        assert_int_equal(config_load_text(text, "redis.conf", err, sizeof(err)), -1);
        expect_contains(err, "redis.conf, line 2");
        expect_contains(err, bad[i].why);
    }
    assert_string_equal(get_one("maxmemory-policy"), "noeviction");
    assert_string_equal(get_one("hash-max-listpack-entries"), "512");

    /* The file names are fixed once running, as in Redis. */
    char err[256];
    assert_int_equal(config_set("appendfilename", "y.aof", 1, err, sizeof(err)), -1);
    assert_string_equal(err, "can't set immutable config");
    assert_int_equal(config_set("hash-max-ziplist-entries", "7", 1, err, sizeof(err)), 0);
    assert_string_equal(get_one("hash-max-listpack-entries"), "7");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, reset_config),
        cmocka_unit_test_setup(test_load_text, reset_config),
        cmocka_unit_test_setup(test_comment_with_quotes_ignored, reset_config),
        cmocka_unit_test_setup(test_unknown_option, reset_config),
        cmocka_unit_test_setup(test_bad_values, reset_config),
        cmocka_unit_test_setup(test_memory_values, reset_config),
        cmocka_unit_test_setup(test_config_set_runtime, reset_config),
        cmocka_unit_test_setup(test_get_matching, reset_config),
        cmocka_unit_test_setup(test_load_args, reset_config),
        cmocka_unit_test_setup(test_enum_options, reset_config),
        cmocka_unit_test_setup(test_output_buffer_limits, reset_config),
        cmocka_unit_test_setup(test_redis_options_kept, reset_config),
        cmocka_unit_test_setup(test_redis_options_bad_values, reset_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
