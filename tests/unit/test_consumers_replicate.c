/* Unit tests for a replica's consumers (consumers_replicate, consumers_lose_ahead in
 * src/cdc/consumers.h): the master's list taken as it is, written only when it changes, a list
 * the file could not hold refused, positions past the latest kept until promotion. */
#include "store_fixture.h"

#include <string.h>
#include <sys/stat.h>

#include "cdc/consumers.h"
#include "config.h"

static consumer make(const char *name, uint64_t seq, int lost, int64_t created, int64_t acked) {
    consumer c;
    memset(&c, 0, sizeof(c));
    snprintf(c.name, sizeof(c.name), "%s", name);
    c.sequence = seq;
    c.lost = lost;
    c.created_ms = created;
    c.acked_ms = acked;
    return c;
}

static int replicate(const consumer *list, size_t n) {
    char err[128];
    return consumers_replicate(list, n, err, sizeof(err));
}

static void assert_consumers(const consumer *want, size_t n) {
    size_t have_n;
    consumer *have = consumers_all(&have_n);
    assert_int_equal(have_n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(have[i].name, want[i].name);
        assert_int_equal(have[i].sequence, want[i].sequence);
        assert_int_equal(have[i].lost, want[i].lost);
        assert_int_equal(have[i].created_ms, want[i].created_ms);
        assert_int_equal(have[i].acked_ms, want[i].acked_ms);
    }
    free(have);
}

/* The consumers file's inode: a write replaces the file (written aside, then renamed). */
static ino_t file_inode(void) {
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", store_dir(), CONSUMERS_FILE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

static void test_takes_the_masters_list_and_writes_only_changes(void **state) {
    (void)state;
    uint64_t ahead = store_latest_sequence() + 100; /* the replica lags: kept, not lost */
    consumer list[2] = {make("a", ahead, 0, 10, 20), make("b", 0, 1, 11, 0)};
    assert_int_equal(replicate(list, 2), 0);
    assert_consumers(list, 2);
    ino_t written = file_inode();
    assert_int_equal(replicate(list, 2), 0);
    assert_int_equal(file_inode(), written); /* nothing changed: not written */
    list[0].acked_ms = 21;
    assert_int_equal(replicate(list, 2), 0);
    assert_int_not_equal(file_inode(), written);
    assert_consumers(list, 2);
    /* the file reads back as the same list */
    consumers_close();
    char err[256];
    assert_int_equal(consumers_load(err, sizeof(err)), 0);
    assert_consumers(list, 2);
    /* dropped on the master: gone; b dropped and created again: the new one */
    consumer next[1] = {make("b", 0, 0, 12, 0)};
    assert_int_equal(replicate(next, 1), 0);
    assert_consumers(next, 1);
    assert_int_equal(replicate(NULL, 0), 0);
    assert_consumers(NULL, 0);
}

static void test_refuses_a_list_the_file_cannot_hold(void **state) {
    (void)state;
    consumer kept[1] = {make("kept", 0, 0, 1, 0)};
    assert_int_equal(replicate(kept, 1), 0);
    consumer twice[2] = {make("x", 0, 0, 1, 0), make("x", 1, 0, 2, 0)};
    consumer bad_name[1] = {make("a b", 0, 0, 1, 0)};
    consumer negative[1] = {make("n", 0, 0, -1, 0)};
    consumer too_far[1] = {make("t", (uint64_t)INT64_MAX + 1, 0, 1, 0)};
    assert_int_equal(replicate(twice, 2), -1);
    assert_int_equal(replicate(bad_name, 1), -1);
    assert_int_equal(replicate(negative, 1), -1);
    assert_int_equal(replicate(too_far, 1), -1);
    consumer *many = calloc(CONSUMER_FILE_MAX + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= CONSUMER_FILE_MAX; i++) many[i] = make("m", 0, 0, 1, 0);
    for (size_t i = 0; i <= CONSUMER_FILE_MAX; i++) snprintf(many[i].name, sizeof(many[i].name), "m%zu", i);
    assert_int_equal(replicate(many, CONSUMER_FILE_MAX + 1), -1);
    free(many);
    assert_consumers(kept, 1);
}

static void test_promotion_loses_the_consumers_ahead(void **state) {
    (void)state;
    uint64_t latest = store_latest_sequence();
    consumer list[2] = {make("behind", latest, 0, 1, 0), make("ahead", latest + 1, 0, 2, 0)};
    assert_int_equal(replicate(list, 2), 0);
    consumers_lose_ahead(latest);
    list[1].lost = 1;
    assert_consumers(list, 2);
    assert_int_equal(consumers_ack("ahead", latest), CONSUMER_LOST);
    assert_int_equal(consumers_ack("behind", latest), CONSUMER_OK);
}

int main(void) {
    config_init_defaults();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_takes_the_masters_list_and_writes_only_changes),
        cmocka_unit_test(test_refuses_a_list_the_file_cannot_hold),
        cmocka_unit_test(test_promotion_loses_the_consumers_ahead),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
