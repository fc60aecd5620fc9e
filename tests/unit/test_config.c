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
    char names[32][64];
    char values[32][128];
} collected;

static void collect(void *ctx, const char *name, const char *value, size_t value_len) {
    assert_int_equal(strlen(value), value_len);
    collected *c = ctx;
    assert_true(c->n < 32);
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
    int n = config_get_matching("*max*", 5, collect, &c);
    assert_int_equal(n, c.n);
    assert_int_equal(n, 4);
    assert_non_null(find(&c, "maxmemory-clients"));
    assert_string_equal(find(&c, "maxmemory-clients"), "2147483648");
    assert_non_null(find(&c, "cdc-poll-max-bytes"));
    assert_string_equal(find(&c, "cdc-poll-max-bytes"), "16777216");
    assert_non_null(find(&c, "maxclients"));
    assert_string_equal(find(&c, "maxclients"), "10000");
    assert_non_null(find(&c, "proto-max-bulk-len"));
    assert_string_equal(find(&c, "proto-max-bulk-len"), "536870912");

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
    const output_limit *normal = &server_config.output_limits[0];
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
