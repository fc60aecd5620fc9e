/* repl/checkpoints.c: pausing the checkpoint makers (a replica's store swap) never deadlocks. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "store_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "repl/checkpoints.h"
#include "storage/keylock.h"

static atomic_int stop_asked, maker_done;

static int asked_to_stop(void) { return atomic_load(&stop_asked); }

static int made(void *arg, const checkpoint_result *result) {
    (void)arg, (void)result;
    atomic_store(&maker_done, 1);
    return 0; /* no owner: the checkpoint is removed */
}

static void *pause_makers(void *arg) {
    int *rc = arg;
    *rc = checkpoints_pause(asked_to_stop);
    if (*rc == 0) checkpoints_resume();
    return NULL;
}

/* REPLICAOF holds the global lock's shared side while it joins the replica's thread; a
 * checkpoint for a replica of ours waits for the exclusive side; the replica's thread, about
 * to swap its store, waits for that checkpoint. Stopping the replica's thread must end the
 * wait, not hang the server. */
static void test_pause_gives_up_when_stopped_behind_a_maker(void **state) {
    (void)state;
    checkpoints_init(store_fixture_dir);
    assert_int_equal(keylock_global_shared(), 0); /* as REPLICAOF does */
    assert_int_equal(checkpoints_create(42, made, NULL), 0);
    usleep(300 * 1000); /* the maker flushes, then waits for the exclusive side */
    pthread_t replica;
    int rc = 1;
    assert_int_equal(pthread_create(&replica, NULL, pause_makers, &rc), 0);
    usleep(100 * 1000);
    atomic_store(&stop_asked, 1); /* replica_stop */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    int joined = pthread_timedjoin_np(replica, NULL, &until);
    keylock_global_release(); /* lets the maker finish whatever happened */
    if (joined != 0) pthread_join(replica, NULL);
    assert_int_equal(joined, 0);
    assert_int_equal(rc, -1);
    checkpoints_close();
    assert_int_equal(atomic_load(&maker_done), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_gives_up_when_stopped_behind_a_maker),
    };
    return cmocka_run_group_tests(tests, store_fixture_open, store_fixture_close);
}
