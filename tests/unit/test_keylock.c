/* Unit tests for the key locks' waits (src/storage/keylock.h): a wait that the give-up check
 * ends takes nothing, and without a check (or while it says go on) a wait ends with the lock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "storage/keylock.h"

static atomic_int give_up_now;
static atomic_int checks;

static int check_give_up(void) {
    atomic_fetch_add(&checks, 1);
    return atomic_load(&give_up_now);
}

static int setup(void **state) {
    (void)state;
    atomic_store(&give_up_now, 0);
    atomic_store(&checks, 0);
    keylock_set_give_up(check_give_up);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    keylock_set_give_up(NULL);
    return 0;
}

/* What a second thread got from its attempt, and what it still holds. */
typedef struct attempt {
    uint64_t hashes[2];
    int exclusive_global; /* try the global lock's exclusive side instead of the stripes */
    int rc;
    atomic_int done;
} attempt;

static void *try_lock(void *arg) {
    attempt *a = arg;
    if (a->exclusive_global) {
        a->rc = keylock_global_exclusive();
        if (a->rc == 0) keylock_global_release();
    } else {
        a->rc = keylock_acquire(a->hashes, 2);
        if (a->rc == 0) keylock_release(a->hashes, 2);
    }
    atomic_store(&a->done, 1);
    return NULL;
}

/* Waits (up to 2 s) for the attempt to finish; returns whether it did. */
static int finished(attempt *a) {
    for (int i = 0; i < 200 && !atomic_load(&a->done); i++) usleep(10000);
    return atomic_load(&a->done);
}

/* A waiter for a held stripe keeps asking, and gives up (holding none of its stripes) when
 * the check says so. */
static void test_stripe_wait_gives_up(void **state) {
    (void)state;
    uint64_t held = keylock_hash(0, "busy", 4);
    assert_int_equal(keylock_acquire(&held, 1), 0);
    attempt a = {.hashes = {keylock_hash(0, "free", 4), held}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &a), 0);
    usleep(50000);
    assert_false(atomic_load(&a.done));
    assert_true(atomic_load(&checks) > 0);
    atomic_store(&give_up_now, 1);
    assert_true(finished(&a));
    pthread_join(t, NULL);
    assert_int_equal(a.rc, -1);
    uint64_t other = keylock_hash(0, "free", 4); /* given back: free for anyone */
    assert_int_equal(keylock_try_acquire(&other, 1), 0);
    keylock_release(&other, 1);
    keylock_release(&held, 1);
}

/* While the check says go on, the waiter gets the stripe once it is released. */
static void test_stripe_wait_ends_with_the_lock(void **state) {
    (void)state;
    uint64_t held = keylock_hash(0, "busy", 4);
    assert_int_equal(keylock_acquire(&held, 1), 0);
    attempt a = {.hashes = {held, keylock_hash(1, "x", 1)}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &a), 0);
    usleep(50000);
    assert_false(atomic_load(&a.done));
    keylock_release(&held, 1);
    assert_true(finished(&a));
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
}

/* The same for the global lock: an exclusive waiter behind a shared holder gives up, and the
 * shared side can be taken again afterwards (nothing left half-held). */
static void test_global_wait_gives_up(void **state) {
    (void)state;
    assert_int_equal(keylock_global_shared(), 0);
    attempt a = {.exclusive_global = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &a), 0);
    usleep(50000);
    assert_false(atomic_load(&a.done));
    atomic_store(&give_up_now, 1);
    assert_true(finished(&a));
    pthread_join(t, NULL);
    assert_int_equal(a.rc, -1);
    keylock_global_release();
    assert_int_equal(keylock_global_exclusive(), 0);
    keylock_global_release();
    assert_int_equal(keylock_global_shared(), 0);
    keylock_global_release();
}

/* Without a check, waits are plain waits. */
static void test_no_check_waits_for_good(void **state) {
    (void)state;
    keylock_set_give_up(NULL);
    uint64_t held = keylock_hash(2, "k", 1);
    assert_int_equal(keylock_acquire(&held, 1), 0);
    attempt a = {.hashes = {held, held}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &a), 0);
    usleep(50000);
    assert_false(atomic_load(&a.done));
    keylock_release(&held, 1);
    assert_true(finished(&a));
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(atomic_load(&checks), 0);
}

static int holder_runs(void) { return 1; }
static int holder_gone(void) { return 0; }

/* A command that skipped the global lock beside its holder (a busy script) holds off the
 * exclusive side until it ends (a store swap waits for it); one the holder no longer lets
 * through is not counted and takes the lock. */
static void test_exclusive_waits_for_skippers(void **state) {
    (void)state;
    assert_int_equal(keylock_global_skip_begin(holder_gone), 0);
    assert_int_equal(keylock_global_exclusive(), 0);
    keylock_global_release();
    assert_int_equal(keylock_global_skip_begin(holder_runs), 1);
    attempt a = {.exclusive_global = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, try_lock, &a), 0);
    usleep(50000);
    assert_false(atomic_load(&a.done));
    keylock_global_skip_end();
    assert_true(finished(&a));
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
}

/* Keys of different databases differ in hash whatever their first byte: blocked stream readers
 * tell the keys a new entry signalled by it (with the db as the seed, "s" of db 1 was "r" of
 * db 0). */
static void test_no_first_byte_undoes_the_db(void **state) {
    (void)state;
    for (int db = 1; db < 256; db++)
        for (int c = 0; c < 256; c++) {
            char key = (char)c, undone = (char)(c ^ db);
            assert_int_not_equal(keylock_hash(db, &key, 1), keylock_hash(0, &undone, 1));
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_first_byte_undoes_the_db),
        cmocka_unit_test_setup_teardown(test_stripe_wait_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stripe_wait_ends_with_the_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_wait_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_check_waits_for_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_waits_for_skippers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
