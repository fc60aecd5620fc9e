/* Unit tests for the key waiters of blocking commands (src/cmd/blocking.c): which commit wakes
 * which waiter, in the orderings that lost wake-ups. The network and the dispatcher are
 * stubbed below: a "retry" runs whatever the test scripts for it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/dispatch.h"
#include "net/net.h"
#include "storage/keylock.h"

#define NCLIENTS 3

static client clients[NCLIENTS];
static int wakes[NCLIENTS];
static buf outs[NCLIENTS];

/* What the stubbed dispatch_retry does: serve the client, or find nothing and keep waiting,
 * then (to play a push from another worker) commit to key_hash once the retry's locks are
 * released. What the stubbed dispatch_serve (a committing thread running a claimed waiter)
 * does: pop one of `elements` (0: find nothing), or find its locks busy; `during` plays what
 * the waiter's worker does meanwhile. */
static struct {
    int serve;
    int commit_after;
    int elements;
    int locks_busy;
    void (*during)(void);
} script;

static uint64_t key_hash; /* of key "k" in database 0, the key of every waiter */

static int index_of(const client *c) { return (int)(c - clients); }

/* ---- stubs of what blocking.c calls ---- */

void net_block(client *c, int64_t timeout_us, const client_block *block) {
    (void)timeout_us;
    c->block = *block;
    c->blocked = BLOCKED_WAITING;
}

void net_wake(client *c) { wakes[index_of(c)]++; }

void net_block_served(client *c) { c->blocked = BLOCKED_SERVED; }

reply net_client_reply(client *c) { return (reply){.out = &outs[index_of(c)], .resp = 2}; }

void dispatch_key_hashes(int argc, const resp_arg *argv, int db, uint64_t **hashes, size_t *n) {
    (void)argc, (void)argv, (void)db;
    *hashes = malloc(sizeof(uint64_t));
    **hashes = key_hash;
    *n = 1;
}

int dispatch_retry(client *c, int argc, resp_arg *argv) {
    if (script.serve) {
        blocking_notify(&key_hash, 1); /* the pop's own commit, under the key's lock */
        return 1;
    }
    cmd_ctx ctx = {.c = c, .argc = argc, .argv = argv, .retrying = 1};
    blocking_wait_or_nil(&ctx, 0, 0); /* the handler found nothing, under the key's lock */
    if (script.commit_after) blocking_notify(&key_hash, 1);
    return 0;
}

long long net_output_bound(const client *c, const char **option) {
    (void)c;
    *option = NULL;
    return 0;
}

void dispatch_send_made_reply(client *c, const buf *out, int cut, uint64_t written_to) {
    (void)cut, (void)written_to;
    buf_append(&outs[index_of(c)], out->data, out->len);
}

int dispatch_serve(client *view, int argc, resp_arg *argv, reply *r, struct keylock_set *taken, uint64_t *sync_to) {
    (void)taken;
    *sync_to = 0;
    if (script.during) script.during();
    if (script.locks_busy) return -1;
    if (script.elements > 0) {
        script.elements--;
        reply_bulk(r, "x", 1);
        blocking_notify(&key_hash, 1); /* the pop's own commit, under the key's lock */
        return 1;
    }
    cmd_ctx ctx = {.c = view, .argc = argc, .argv = argv, .retrying = 1};
    blocking_wait_or_nil(&ctx, 0, 0);
    return 0;
}

/* ---- helpers ---- */

static void block_client(int i) {
    char name[] = "blpop", key[] = "k", timeout[] = "0";
    resp_arg argv[3] = {{name, 5}, {key, 1}, {timeout, 1}};
    cmd_ctx ctx = {.c = &clients[i], .argc = 3, .argv = argv};
    blocking_wait_or_nil(&ctx, 0, 0);
}

static void block_reader(int i) {
    char name[] = "xread", streams[] = "streams", key[] = "k", id[] = "0-0";
    resp_arg argv[4] = {{name, 5}, {streams, 7}, {key, 1}, {id, 3}};
    cmd_ctx ctx = {.c = &clients[i], .argc = 4, .argv = argv};
    blocking_wait_stream(&ctx, 0, argv);
}

/* Runs the client's retry as its worker would, unblocking it when it is done. */
static void run_retry(int i, int timed_out) {
    client *c = &clients[i];
    if (c->block.retry(c, timed_out)) {
        c->blocked = 0;
        c->block.cleanup(c);
    }
}

static void unblock_client(int i) {
    clients[i].blocked = 0;
    clients[i].block.cleanup(&clients[i]);
}

/* A commit of key_hash in a claims scope: it serves the waiters it wakes (dispatch_serve). */
static void commit_and_serve(void) {
    blocking_claims_begin();
    blocking_notify(&key_hash, 1);
    blocking_serve_claimed();
}

static int setup(void **state) {
    (void)state;
    memset(clients, 0, sizeof(clients));
    memset(wakes, 0, sizeof(wakes));
    memset(&script, 0, sizeof(script));
    key_hash = keylock_hash(0, "k", 1);
    for (int i = 0; i < NCLIENTS; i++) {
        buf_init(&outs[i]);
        clients[i].id = (uint64_t)i + 1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < NCLIENTS; i++) {
        if (clients[i].blocked) unblock_client(i);
        buf_free(&outs[i]);
    }
    return 0;
}

/* ---- tests ---- */

static void test_a_commit_wakes_the_oldest_waiter_once(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    blocking_notify(&key_hash, 1);
    assert_int_equal(wakes[0], 1);
    assert_int_equal(wakes[1], 0);
    blocking_notify(&key_hash, 1); /* the first has a wake on its way: the next one gets this */
    assert_int_equal(wakes[0], 1);
    assert_int_equal(wakes[1], 1);
}

/* The lost wake-up: the retry finds nothing (another client took the element), and a push
 * commits after the retry released its locks but before waiter_retry returned. */
static void test_a_commit_right_after_a_fruitless_retry_wakes_again(void **state) {
    (void)state;
    block_client(0);
    blocking_notify(&key_hash, 1);
    assert_int_equal(wakes[0], 1);
    script.commit_after = 1;
    run_retry(0, 0);
    assert_true(clients[0].blocked);
    assert_int_equal(wakes[0], 2);
}

static void test_a_serving_retry_wakes_the_next_waiter_not_itself(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    blocking_notify(&key_hash, 1); /* a push of two elements wakes the first waiter */
    script.serve = 1;
    run_retry(0, 0);
    assert_false(clients[0].blocked);
    assert_int_equal(wakes[0], 1);
    assert_int_equal(wakes[1], 1);
}

/* A waiter that times out (or is unblocked, or disconnects) with a wake on its way hands the
 * wake to the next waiter, which it had been passed over for. */
static void test_a_wake_not_acted_on_goes_to_the_next_waiter(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    block_client(2);
    blocking_notify(&key_hash, 1);
    run_retry(0, 1); /* timed out before the wake ran */
    assert_false(clients[0].blocked);
    assert_int_equal(wakes[1], 1);
    assert_int_equal(wakes[2], 0);
    unblock_client(1); /* went away with the wake on its way */
    assert_int_equal(wakes[2], 1);
}

static void test_a_waiter_leaving_without_a_wake_wakes_nobody(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    run_retry(0, 1);
    unblock_client(1);
    assert_int_equal(wakes[0], 0);
    assert_int_equal(wakes[1], 0);
}

/* Stream readers are all woken by one commit, and the oldest pop still gets its own wake
 * whether readers wait before it or not. */
static void test_a_commit_wakes_every_reader_and_the_oldest_pop(void **state) {
    (void)state;
    block_reader(0);
    block_client(1);
    block_reader(2);
    blocking_notify(&key_hash, 1);
    assert_int_equal(wakes[0], 1);
    assert_int_equal(wakes[1], 1);
    assert_int_equal(wakes[2], 1);
    blocking_notify(&key_hash, 1); /* each has a wake on its way */
    assert_int_equal(wakes[0] + wakes[1] + wakes[2], 3);
}

/* A reader's retry that finds nothing is wakeable again by a commit right after it, and one
 * that leaves with a wake on its way hands it to no one: the others had theirs. */
static void test_a_reader_rearms_and_passes_no_wake_on(void **state) {
    (void)state;
    block_reader(0);
    block_reader(1);
    blocking_notify(&key_hash, 1);
    script.commit_after = 1;
    run_retry(0, 0);
    assert_true(clients[0].blocked);
    assert_int_equal(wakes[0], 2);
    assert_int_equal(wakes[1], 1);
    unblock_client(1);
    unblock_client(0);
    assert_int_equal(wakes[0], 2);
}

/* A new entry signals a reader's key (not a pop's) until a retry of it finds nothing again. */
static void test_a_signal_lasts_until_the_reader_finds_nothing(void **state) {
    (void)state;
    block_reader(0);
    block_client(1);
    char k[] = "k";
    resp_arg key = {k, 1};
    cmd_ctx reader = {.c = &clients[0], .retrying = 1}, pop = {.c = &clients[1], .retrying = 1};
    assert_false(blocking_key_signalled(&reader, &key));
    blocking_signal_streams(&key_hash, 1);
    blocking_notify(&key_hash, 1);
    assert_true(blocking_key_signalled(&reader, &key));
    assert_false(blocking_key_signalled(&pop, &key));
    cmd_ctx first_run = {.c = &clients[0]};
    assert_false(blocking_key_signalled(&first_run, &key));
    run_retry(0, 0); /* finds nothing: waits again */
    assert_true(clients[0].blocked);
    assert_false(blocking_key_signalled(&reader, &key));
}

/* ---- served by the committing thread ---- */

static void test_a_commit_serves_the_oldest_waiter_and_its_pop_the_next(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    block_client(2);
    script.elements = 2;
    commit_and_serve();
    assert_int_equal(wakes[0], 1); /* each told to send the reply made for it */
    assert_int_equal(wakes[1], 1);
    assert_int_equal(wakes[2], 0); /* served too, found nothing: waits on, no wake */
    assert_int_equal(clients[0].blocked, BLOCKED_SERVED); /* unblocked to others from now */
    assert_int_equal(clients[1].blocked, BLOCKED_SERVED);
    assert_int_equal(clients[2].blocked, BLOCKED_WAITING);
    run_retry(0, 0);
    run_retry(1, 0);
    assert_false(clients[0].blocked);
    assert_false(clients[1].blocked);
    assert_true(clients[2].blocked);
    assert_memory_equal(outs[0].data, "$1\r\nx\r\n", 7);
    assert_int_equal(script.elements, 0);
}

static void time_out_client_0(void) {
    run_retry(0, 1);
    assert_true(clients[0].blocked); /* not while it is served */
    assert_int_equal(outs[0].len, 0);
}

static void test_a_timeout_during_the_serving_lets_the_reply_win(void **state) {
    (void)state;
    block_client(0);
    script.elements = 1;
    script.during = time_out_client_0;
    commit_and_serve();
    assert_int_equal(wakes[0], 1);
    run_retry(0, 0);
    assert_false(clients[0].blocked);
    assert_memory_equal(outs[0].data, "$1\r\nx\r\n", 7);
}

static void test_a_timeout_during_a_fruitless_serving_ends_after_it(void **state) {
    (void)state;
    block_client(0);
    script.during = time_out_client_0;
    commit_and_serve();
    assert_int_equal(wakes[0], 1);
    script.during = NULL;
    blocking_notify(&key_hash, 1); /* ending: no commit wakes it any more */
    assert_int_equal(wakes[0], 1);
    run_retry(0, 0);
    assert_false(clients[0].blocked);
    assert_memory_equal(outs[0].data, "*-1\r\n", 5);
}

static void unblock_client_0_with_error(void) {
    assert_false(clients[0].block.may_unblock(&clients[0]));
}

static void test_client_unblock_error_during_the_serving_ends_after_it(void **state) {
    (void)state;
    block_client(0);
    script.during = unblock_client_0_with_error;
    commit_and_serve();
    assert_int_equal(wakes[0], 1);
    run_retry(0, 0);
    assert_false(clients[0].blocked);
    assert_memory_equal(outs[0].data, "-UNBLOCKED", 10);
}

static void client_0_leaves(void) { unblock_client(0); }

/* A client that leaves while it is served leaves its waiter to the serving thread; one that
 * left before it ran hands its wake to the next pop waiter, which that thread serves. */
static void test_a_client_leaving_while_claimed(void **state) {
    (void)state;
    block_client(0);
    script.during = client_0_leaves;
    commit_and_serve();
    assert_int_equal(wakes[0], 0);
    script.during = NULL;
    block_client(0);
    block_client(1);
    script.elements = 1;
    blocking_claims_begin();
    blocking_notify(&key_hash, 1);
    unblock_client(0);
    blocking_serve_claimed();
    assert_int_equal(wakes[0], 0);
    assert_int_equal(wakes[1], 1);
    assert_int_equal(script.elements, 0);
}

static void test_busy_locks_leave_the_waiter_to_its_worker(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    script.locks_busy = 1;
    commit_and_serve();
    assert_int_equal(wakes[0], 1);
    assert_int_equal(wakes[1], 0); /* passed over for the first, as a wake is */
    script.serve = 1;
    run_retry(0, 0); /* its worker runs it: dispatch_retry */
    assert_false(clients[0].blocked);
    assert_int_equal(wakes[1], 1);
}

static void test_client_unblock_passes_the_waiter_over_at_once(void **state) {
    (void)state;
    block_client(0);
    block_client(1);
    blocking_unblocking(clients[0].id, 0); /* the stubbed net_block leaves block_id 0 */
    script.elements = 1;
    commit_and_serve();
    assert_int_equal(wakes[0], 0);
    assert_int_equal(wakes[1], 1);
    run_retry(0, 1); /* its worker acts on the CLIENT UNBLOCK: a null reply */
    assert_false(clients[0].blocked);
    assert_memory_equal(outs[0].data, "*-1\r\n", 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_commit_wakes_the_oldest_waiter_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_commit_right_after_a_fruitless_retry_wakes_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_serving_retry_wakes_the_next_waiter_not_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_wake_not_acted_on_goes_to_the_next_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_waiter_leaving_without_a_wake_wakes_nobody, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_commit_wakes_every_reader_and_the_oldest_pop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_reader_rearms_and_passes_no_wake_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_signal_lasts_until_the_reader_finds_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_commit_serves_the_oldest_waiter_and_its_pop_the_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_timeout_during_the_serving_lets_the_reply_win, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_timeout_during_a_fruitless_serving_ends_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_unblock_error_during_the_serving_ends_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_client_leaving_while_claimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_locks_leave_the_waiter_to_its_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_unblock_passes_the_waiter_over_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
