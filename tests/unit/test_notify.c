/* Unit tests for commit notifications (src/cdc/notify.h): which commits wake which waiters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <time.h>

#include "cdc/notify.h"

/* Long enough for the notifier (which wakes every 250 µs at most) to have acted. */
#define SETTLE_MS 30
/* A wake-up that has not come by then is taken as lost. */
#define WAKE_TIMEOUT_MS 2000

typedef struct counted_waiter {
    cdc_waiter w;
    atomic_int wakes;
} counted_waiter;

static void count_wake(void *arg) { atomic_fetch_add(&((counted_waiter *)arg)->wakes, 1); }

static void waiter_init(counted_waiter *cw) {
    cw->w = (cdc_waiter){.wake = count_wake, .arg = cw};
    atomic_store(&cw->wakes, 0);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Whether the waiter was woken at least once within the timeout. */
static int woken(counted_waiter *cw) {
    for (int waited = 0; waited < WAKE_TIMEOUT_MS; waited++) {
        if (atomic_load(&cw->wakes) > 0) return 1;
        sleep_ms(1);
    }
    return 0;
}

static int setup(void **state) {
    (void)state;
    return cdc_notify_start();
}

static int teardown(void **state) {
    (void)state;
    cdc_notify_stop();
    return 0;
}

static void test_commit_wakes_only_waiters_it_reaches(void **state) {
    (void)state;
    uint64_t base = cdc_announced_sequence();
    counted_waiter near, far;
    waiter_init(&near);
    waiter_init(&far);
    assert_false(cdc_waiter_add(&far.w, base + 100));
    assert_false(cdc_waiter_add(&near.w, base + 10));
    cdc_notify_commit(base + 5);
    sleep_ms(SETTLE_MS);
    assert_int_equal(atomic_load(&near.wakes), 0);
    cdc_notify_commit(base + 10);
    assert_true(woken(&near));
    sleep_ms(SETTLE_MS);
    assert_int_equal(atomic_load(&far.wakes), 0);
    cdc_notify_commit(base + 150);
    assert_true(woken(&far));
    cdc_waiter_remove(&near.w);
    cdc_waiter_remove(&far.w);
}

/* A woken waiter no longer counts for the lowest wake-up sequence; listing it again from
 * further on must bring that sequence back down, or its next commit would go unnoticed. */
static void test_a_waiter_listed_again_is_woken_again(void **state) {
    (void)state;
    uint64_t base = cdc_announced_sequence();
    counted_waiter cw, other;
    waiter_init(&cw);
    waiter_init(&other);
    cdc_waiter_add(&other.w, base + 1000);
    cdc_waiter_add(&cw.w, base + 1);
    cdc_notify_commit(base + 1);
    assert_true(woken(&cw));
    sleep_ms(SETTLE_MS); /* the notifier's walk has set the lowest sequence to other's */
    atomic_store(&cw.wakes, 0);
    cdc_waiter_add(&cw.w, base + 2);
    cdc_notify_commit(base + 2);
    assert_true(woken(&cw));
    assert_int_equal(atomic_load(&other.wakes), 0);
    cdc_waiter_remove(&cw.w);
    cdc_waiter_remove(&other.w);
}

static void test_a_removed_waiter_is_not_woken(void **state) {
    (void)state;
    uint64_t base = cdc_announced_sequence();
    counted_waiter gone, stays;
    waiter_init(&gone);
    waiter_init(&stays);
    cdc_waiter_add(&gone.w, base + 1);
    cdc_waiter_add(&stays.w, base + 1);
    cdc_waiter_remove(&gone.w);
    cdc_notify_commit(base + 1);
    assert_true(woken(&stays));
    sleep_ms(SETTLE_MS);
    assert_int_equal(atomic_load(&gone.wakes), 0);
    cdc_waiter_remove(&stays.w);
}

/* Listing a waiter for a sequence already announced tells the caller to go on at once. */
static void test_adding_a_reached_waiter_says_so(void **state) {
    (void)state;
    uint64_t base = cdc_announced_sequence();
    counted_waiter cw;
    waiter_init(&cw);
    cdc_notify_commit(base + 5);
    assert_true(cdc_waiter_add(&cw.w, base + 5));
    assert_false(cdc_waiter_add(&cw.w, base + 6));
    cdc_waiter_remove(&cw.w);
}

/* Workers may announce their commits out of order: the highest announced stays. */
static void test_announced_sequence_keeps_the_highest(void **state) {
    (void)state;
    uint64_t base = cdc_announced_sequence();
    cdc_notify_commit(base + 7);
    cdc_notify_commit(base + 3);
    assert_int_equal(cdc_announced_sequence(), base + 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_wakes_only_waiters_it_reaches),
        cmocka_unit_test(test_a_waiter_listed_again_is_woken_again),
        cmocka_unit_test(test_a_removed_waiter_is_not_woken),
        cmocka_unit_test(test_adding_a_reached_waiter_says_so),
        cmocka_unit_test(test_announced_sequence_keeps_the_highest),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
