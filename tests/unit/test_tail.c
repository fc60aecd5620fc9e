/* Unit tests for the CDC tail cache (src/cdc/tail.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cdc/tail.h"

/* A minimal batch: header (sequence, count) and `count` puts of one byte each. */
static size_t make_batch(char *out, uint64_t seq, uint32_t count) {
    memcpy(out, &seq, 8); /* the tests run on little-endian machines, as RocksDB's format is */
    memcpy(out + 8, &count, 4);
    size_t len = 12;
    for (uint32_t i = 0; i < count; i++) {
        const char put[] = {0x01, 0x01, 'k', 0x01, 'v'};
        memcpy(out + len, put, sizeof(put));
        len += sizeof(put);
    }
    return len;
}

/* Returns what tail_append does: the sequence up to which everything is readable. */
static uint64_t append(uint64_t seq, uint32_t count) {
    char b[256];
    return tail_append(b, make_batch(b, seq, count));
}

/* The sequences of the batches a read lent, or -1 if the WAL must answer. */
static int read_seqs(uint64_t from, int max, uint64_t *seqs) {
    tail_loan loan = {NULL, 0, 0};
    if (tail_read(from, max, &loan) == TAIL_TOO_OLD) return -1;
    int n = loan.n;
    for (int i = 0; i < n; i++) memcpy(&seqs[i], loan.batches[i]->data, 8);
    tail_loan_return(&loan);
    return n;
}

static int setup(void **state) {
    (void)state;
    tail_init(1 << 20);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tail_free();
    return 0;
}

static void test_reads_in_order_from_a_position(void **state) {
    (void)state;
    append(10, 1);
    append(11, 3); /* 11..13 */
    append(14, 1);
    uint64_t seqs[8];
    assert_int_equal(read_seqs(10, 8, seqs), 3);
    assert_int_equal(seqs[0], 10);
    assert_int_equal(seqs[2], 14);
    /* A position inside a batch returns that batch whole. */
    assert_int_equal(read_seqs(12, 8, seqs), 2);
    assert_int_equal(seqs[0], 11);
    assert_int_equal(read_seqs(15, 8, seqs), 0);
    assert_int_equal(read_seqs(10, 2, seqs), 2);
    /* Before the first batch seen, the WAL must answer. */
    assert_int_equal(read_seqs(9, 8, seqs), -1);
}

static void test_out_of_order_commits_never_expose_a_gap(void **state) {
    (void)state;
    assert_int_equal(append(10, 1), 10);
    /* 11 is still on its way: 12 is held but not readable yet. */
    assert_int_equal(append(12, 1), 10);
    uint64_t seqs[8];
    assert_int_equal(read_seqs(10, 8, seqs), 1);
    assert_int_equal(read_seqs(11, 8, seqs), 0);
    assert_int_equal(append(11, 1), 12);
    assert_int_equal(read_seqs(10, 8, seqs), 3);
    assert_int_equal(seqs[1], 11);
    assert_int_equal(seqs[2], 12);
}

static void test_eviction_sends_old_positions_to_the_wal(void **state) {
    (void)state;
    tail_init(200); /* eleven one-put batches (17 bytes each) */
    for (uint64_t s = 1; s <= 20; s++) append(s, 1);
    uint64_t seqs[32];
    assert_int_equal(read_seqs(1, 32, seqs), -1);
    int n = read_seqs(20, 32, seqs);
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0], 20);
    n = read_seqs(15, 32, seqs);
    assert_int_equal(n, 6);
    assert_int_equal(seqs[5], 20);
}

/* A commit whose successors were evicted before it arrived is left to the WAL, and the
 * cache never claims the range it gave up again. */
static void test_a_late_commit_behind_evicted_ones_goes_to_the_wal(void **state) {
    (void)state;
    tail_init(40); /* two one-put batches (17 bytes each) */
    append(10, 1);
    assert_int_equal(append(12, 1), 10); /* 11 is on its way */
    assert_int_equal(append(13, 1), 10); /* evicts 10 */
    /* Evicts 12: 11, behind what the cache holds, is the WAL's to serve, which holds it (a
     * later commit is only written after it). */
    assert_int_equal(append(14, 1), 14);
    assert_int_equal(append(11, 1), 14);
    uint64_t seqs[8];
    assert_int_equal(read_seqs(11, 8, seqs), -1);
    assert_int_equal(read_seqs(12, 8, seqs), -1);
    assert_int_equal(append(15, 1), 15); /* evicts 13 */
    assert_int_equal(read_seqs(13, 8, seqs), -1);
    assert_int_equal(read_seqs(14, 8, seqs), 2);
    assert_int_equal(seqs[0], 14);
}

/* A lent batch outlives its eviction until it is given back (the sanitizer build checks the
 * reads below). */
static void test_a_lent_batch_stays_valid_after_eviction(void **state) {
    (void)state;
    tail_init(40); /* two one-put batches (17 bytes each) */
    append(1, 1);
    tail_loan loan = {NULL, 0, 0};
    assert_int_equal(tail_read(1, 8, &loan), TAIL_OK);
    assert_int_equal(loan.n, 1);
    append(2, 1);
    append(3, 1); /* evicts 1 */
    uint64_t seqs[4];
    assert_int_equal(read_seqs(1, 4, seqs), -1);
    char want[32];
    size_t len = make_batch(want, 1, 1);
    assert_int_equal(loan.batches[0]->len, len);
    assert_memory_equal(loan.batches[0]->data, want, len);
    tail_loan_return(&loan);
    assert_null(loan.batches);
    assert_int_equal(loan.n, 0);
}

static void test_growth_keeps_order(void **state) {
    (void)state;
    for (uint64_t s = 100; s < 5100; s++) append(s, 1); /* past the initial entry array */
    uint64_t seqs[5000];
    assert_int_equal(read_seqs(100, 5000, seqs), 5000);
    for (int i = 0; i < 5000; i++) assert_int_equal(seqs[i], 100 + (uint64_t)i);
}

/* A batch over half the budget is not kept (its renderings could not fit beside it): it and
 * everything before it go to the WAL, and the cache holds no gap. */
static void test_a_batch_over_half_the_budget_goes_to_the_wal(void **state) {
    (void)state;
    tail_init(100);
    append(1, 1);
    append(2, 1);
    assert_int_equal(append(13, 1), 2);  /* 3 .. 12 are on their way */
    assert_int_equal(append(3, 10), 13); /* 62 bytes: not kept, nor 1 and 2 before it */
    uint64_t seqs[8];
    for (uint64_t s = 1; s <= 12; s++) assert_int_equal(read_seqs(s, 8, seqs), -1);
    assert_int_equal(read_seqs(13, 8, seqs), 1);
    assert_int_equal(seqs[0], 13);
    size_t batches, renderings;
    tail_memory(&batches, &renderings);
    assert_int_equal(batches, 17);
    assert_int_equal(append(14, 10), 23); /* alone in the cache too */
    assert_int_equal(read_seqs(13, 8, seqs), -1);
    tail_memory(&batches, &renderings);
    assert_int_equal(batches, 0);
}

static void test_disabled_cache_defers_to_the_wal(void **state) {
    (void)state;
    tail_init(0);
    assert_int_equal(append(1, 1), 1);
    uint64_t seqs[2];
    assert_int_equal(read_seqs(1, 2, seqs), -1);
}

/* ---- shared renderings ---- */

/* A batch of several commits, as a write group produces: each commit is a LogData change
 * record ("TK" magic) followed by `puts` one-byte puts. */
static void append_group(uint64_t seq, int commits, uint32_t puts) {
    char b[1024];
    uint32_t count = (uint32_t)commits * puts;
    memcpy(b, &seq, 8);
    memcpy(b + 8, &count, 4);
    size_t len = 12;
    for (int c = 0; c < commits; c++) {
        const char log_data[] = {0x03, 0x03, 'T', 'K', 0x01};
        memcpy(b + len, log_data, sizeof(log_data));
        len += sizeof(log_data);
        for (uint32_t i = 0; i < puts; i++) {
            const char put[] = {0x01, 0x01, 'k', 0x01, 'v'};
            memcpy(b + len, put, sizeof(put));
            len += sizeof(put);
        }
    }
    tail_append(b, len);
}

typedef struct test_renderer {
    int calls;
    uint64_t hidden; /* a commit starting here is left out, 0 = none */
    uint64_t broken; /* a commit starting here cannot be rendered, 0 = none */
    void (*during)(void); /* run at the first rendering, while the cache is unlocked */
} test_renderer;

/* Renders a commit as "<sequence>+<count>;". */
static int render_seq(void *arg, const wal_batch *commit, buf *out) {
    test_renderer *t = arg;
    if (t->calls++ == 0 && t->during) t->during();
    if (commit->sequence == t->broken) return -1;
    if (commit->sequence == t->hidden) return 0;
    char text[48];
    buf_append(out, text, (size_t)snprintf(text, sizeof(text), "%llu+%u;", (unsigned long long)commit->sequence,
                                           commit->count));
    return 1;
}

/* Reads a view into text (NUL-terminated), while it is shorter than max_len and within
 * fit_len; returns the status. */
static tail_status read_view_within(test_renderer *t, int id, uint64_t from, int max, size_t max_len,
                                    size_t fit_len, char *text, tail_span *span) {
    tail_view v = {id, render_seq, t};
    buf out;
    buf_init(&out);
    buf_append(&out, "<", 1); /* what the caller had before stays */
    tail_status st = tail_read_view(from, max, max_len, fit_len, &v, &out, span);
    snprintf(text, 256, "%.*s", (int)out.len, out.data);
    buf_free(&out);
    return st;
}

static tail_status read_view_upto(test_renderer *t, int id, uint64_t from, int max, size_t max_len, char *text,
                                  tail_span *span) {
    return read_view_within(t, id, from, max, max_len, SIZE_MAX, text, span);
}

static tail_status read_view(test_renderer *t, int id, uint64_t from, int max, char *text, tail_span *span) {
    return read_view_upto(t, id, from, max, SIZE_MAX, text, span);
}

/* What a read of view 0 should give: status, text, and its span. */
typedef struct expected_read {
    tail_status status;
    const char *text;
    int shown;
    uint64_t first, last;
} expected_read;

static void expect_read(test_renderer *t, uint64_t from, int max, expected_read want) {
    char text[256];
    tail_span span;
    assert_int_equal(read_view(t, 0, from, max, text, &span), want.status);
    assert_string_equal(text, want.text);
    assert_int_equal(span.shown, want.shown);
    assert_int_equal(span.first, want.first);
    assert_int_equal(span.last, want.last);
}

static void test_view_splits_write_groups_into_commits(void **state) {
    (void)state;
    append_group(10, 3, 2); /* commits 10-11, 12-13, 14-15 */
    append(16, 1);
    test_renderer t = {0};
    expect_read(&t, 10, 100, (expected_read){TAIL_OK, "<10+2;12+2;14+2;16+1;", 4, 10, 16});
    /* From inside the group: the commit holding the position, whole, and on. */
    expect_read(&t, 13, 100, (expected_read){TAIL_OK, "<12+2;14+2;16+1;", 3, 12, 16});
    /* MAX stops inside a group; the span ends with the last commit taken. */
    expect_read(&t, 12, 1, (expected_read){TAIL_OK, "<12+2;", 1, 12, 13});
    /* Past the end: nothing, and the span says so. */
    expect_read(&t, 17, 100, (expected_read){TAIL_OK, "<", 0, 0, 0});
    expect_read(&t, 9, 100, (expected_read){TAIL_TOO_OLD, "<", 0, 0, 0});
}

static void test_view_renders_each_batch_once_per_view(void **state) {
    (void)state;
    append_group(1, 2, 1);
    append(3, 1);
    test_renderer t = {0};
    char first[256], again[256];
    tail_span span;
    read_view(&t, 0, 1, 100, first, &span);
    assert_int_equal(t.calls, 3);
    read_view(&t, 0, 1, 100, again, &span);
    read_view(&t, 0, 2, 100, again, &span);
    assert_int_equal(t.calls, 3); /* shared: no new rendering */
    read_view(&t, 0, 1, 100, again, &span);
    assert_string_equal(again, first);
    read_view(&t, 1, 1, 100, again, &span); /* another view renders for itself */
    assert_int_equal(t.calls, 6);
    append(4, 1);
    read_view(&t, 0, 1, 100, again, &span); /* only the new batch is rendered */
    assert_int_equal(t.calls, 7);
    assert_string_equal(again, "<1+1;2+1;3+1;4+1;");
}

/* Commits 10-11, 12-13, 14-15 in one batch, 16 in another, each rendered in 5 bytes. */
static void append_five_byte_commits(void) {
    append_group(10, 3, 2);
    append(16, 1);
}

static void test_view_stops_once_out_reaches_max_len(void **state) {
    (void)state;
    append_five_byte_commits();
    test_renderer t = {0};
    char text[256];
    tail_span span;
    /* One commit whatever its size while out is shorter; none once it is not. */
    assert_int_equal(read_view_upto(&t, 0, 10, 100, 2, text, &span), TAIL_OK);
    assert_string_equal(text, "<10+2;");
    assert_int_equal(span.last, 11);
    assert_int_equal(read_view_upto(&t, 0, 10, 100, 1, text, &span), TAIL_OK);
    assert_string_equal(text, "<");
    assert_int_equal(span.last, 0);
    /* Commits are added while out is shorter, inside a group and across batches. */
    assert_int_equal(read_view_upto(&t, 0, 10, 100, 7, text, &span), TAIL_OK);
    assert_string_equal(text, "<10+2;12+2;");
    assert_int_equal(span.shown, 2);
    assert_int_equal(span.last, 13);
    assert_int_equal(read_view_upto(&t, 0, 14, 100, 7, text, &span), TAIL_OK);
    assert_string_equal(text, "<14+2;16+1;");
    assert_int_equal(span.last, 16);
}

static void test_view_leaves_out_a_commit_past_fit_len(void **state) {
    (void)state;
    append_five_byte_commits();
    test_renderer t = {0};
    const struct {
        uint64_t from;
        size_t fit_len;
        const char *text;
        uint64_t last;
        int held_back;
    } reads[] = {
        {10, 1 + 5 + 5, "<10+2;12+2;", 13, 1}, /* within fit_len, inside a group and across batches */
        {14, 1 + 5 + 5, "<14+2;16+1;", 16, 0}, /* the run ends first */
        {10, 5, "<", 0, 1},                    /* past fit_len from the first: nothing read */
    };
    char text[256];
    tail_span span;
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        assert_int_equal(read_view_within(&t, 0, reads[i].from, 100, SIZE_MAX, reads[i].fit_len, text, &span), TAIL_OK);
        assert_string_equal(text, reads[i].text);
        assert_int_equal(span.last, reads[i].last);
        assert_int_equal(span.held_back, reads[i].held_back);
    }
    /* Into an empty out the first commit goes whatever its size; no other after it. */
    tail_view v = {0, render_seq, &t};
    buf out;
    buf_init(&out);
    assert_int_equal(tail_read_view(10, 100, SIZE_MAX, 2, &v, &out, &span), TAIL_OK);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "10+2;", 5);
    assert_int_equal(span.last, 11);
    assert_true(span.held_back);
    buf_free(&out);
}

static void test_view_hidden_commits_advance_without_counting(void **state) {
    (void)state;
    append_group(1, 3, 1);
    test_renderer t = {.hidden = 2};
    expect_read(&t, 1, 100, (expected_read){TAIL_OK, "<1+1;3+1;", 2, 1, 3});
    /* MAX counts shown commits only. */
    expect_read(&t, 1, 1, (expected_read){TAIL_OK, "<1+1;", 1, 1, 1});
    expect_read(&t, 2, 1, (expected_read){TAIL_OK, "<3+1;", 1, 2, 3});
}

static void test_view_unrenderable_batch_appends_nothing(void **state) {
    (void)state;
    append(1, 1);
    append(2, 1);
    test_renderer t = {.broken = 2};
    expect_read(&t, 1, 100, (expected_read){TAIL_UNSHARED, "<", 0, 0, 0});
    /* The batch before it still renders, and a failed rendering is not kept. */
    expect_read(&t, 1, 1, (expected_read){TAIL_OK, "<1+1;", 1, 1, 1});
    t.broken = 0;
    expect_read(&t, 1, 100, (expected_read){TAIL_OK, "<1+1;2+1;", 2, 1, 2});
}

static void test_view_is_not_shared_far_behind_the_head(void **state) {
    (void)state;
    append(1, 1);
    char b[12];
    uint64_t seq = 2;
    uint32_t count = TAIL_SHARED_SEQUENCES + 10; /* a header alone: the cache reads no further */
    memcpy(b, &seq, 8);
    memcpy(b + 8, &count, 4);
    tail_append(b, sizeof(b));
    test_renderer t = {0};
    expect_read(&t, 1, 100, (expected_read){TAIL_UNSHARED, "<", 0, 0, 0});
    assert_int_equal(t.calls, 0);
    char text[256];
    tail_span span;
    assert_int_equal(read_view(&t, 0, 70000, 100, text, &span), TAIL_OK); /* near the newest sequence */
}

/* Commits that land while the first rendering runs. */
static void commit_many(void) {
    for (uint64_t s = 3; s < 3003; s++) append(s, 1);
}

static void test_view_rendered_while_commits_move_the_cache(void **state) {
    (void)state;
    append(1, 1);
    append(2, 1);
    test_renderer t = {.during = commit_many}; /* past the entry array's first size: it moves */
    char text[256];
    tail_span span;
    assert_int_equal(read_view(&t, 0, 1, 3, text, &span), TAIL_OK);
    assert_string_equal(text, "<1+1;2+1;3+1;");
    assert_int_equal(span.last, 3);
}

static void test_view_gone_while_rendered_sends_the_read_to_the_wal(void **state) {
    (void)state;
    tail_init(17 * 20); /* twenty one-put batches: the commits meanwhile push out the first */
    append(1, 1);
    append(2, 1);
    test_renderer t = {.during = commit_many};
    char text[256];
    tail_span span;
    assert_int_equal(read_view(&t, 0, 1, 100, text, &span), TAIL_TOO_OLD);
    assert_string_equal(text, "<");
    assert_int_equal(span.last, 0);
}

static void expect_within_budget(size_t capacity) {
    size_t batches, renderings;
    tail_memory(&batches, &renderings);
    assert_true(renderings <= capacity / 2);
    assert_true(batches + renderings <= capacity);
}

static void test_view_renderings_take_half_the_budget_oldest_first(void **state) {
    (void)state;
    const size_t capacity = 4096;
    tail_init(capacity);
    for (uint64_t s = 1; s <= 40; s++) append(s, 1); /* 40 × 17 bytes of batches */
    test_renderer t = {0};
    char text[256];
    tail_span span;
    assert_int_equal(read_view(&t, 0, 1, 100, text, &span), TAIL_OK);
    assert_int_equal(span.shown, 40); /* the read itself is whole */
    assert_int_equal(t.calls, 40);
    size_t batches, renderings;
    tail_memory(&batches, &renderings);
    assert_int_equal(batches, 40 * 17);
    assert_true(renderings > 0);
    expect_within_budget(capacity);
    /* The renderings made room, not the history: every batch is still here. */
    assert_int_equal(read_view(&t, 0, 40, 100, text, &span), TAIL_OK);
    assert_int_equal(t.calls, 40); /* the newest renderings stayed */
    assert_int_equal(read_view(&t, 0, 1, 1, text, &span), TAIL_OK);
    assert_int_equal(t.calls, 41); /* the oldest went, and are made again */
    assert_string_equal(text, "<1+1;");
}

/* A rendering that would take an entry's renderings past half the budget is not kept: its
 * readers render it for themselves (TAIL_UNSHARED), and it is not made again for nothing. */
static void test_view_too_big_to_keep_is_left_to_its_readers(void **state) {
    (void)state;
    tail_init(400); /* a rendering (its text, commit list and header) takes over 200 bytes */
    append(1, 1);
    test_renderer t = {0};
    expect_read(&t, 1, 100, (expected_read){TAIL_UNSHARED, "<", 0, 0, 0});
    expect_read(&t, 1, 100, (expected_read){TAIL_UNSHARED, "<", 0, 0, 0});
    assert_int_equal(t.calls, 1);
    size_t batches, renderings;
    tail_memory(&batches, &renderings);
    assert_int_equal(renderings, 0);
    /* Room for one rendering of a batch, not two. */
    tail_init(700);
    append(2, 1);
    expect_read(&t, 2, 100, (expected_read){TAIL_OK, "<2+1;", 1, 2, 2});
    char text[256];
    tail_span span;
    assert_int_equal(read_view(&t, 1, 2, 100, text, &span), TAIL_UNSHARED);
    expect_within_budget(700);
}

static void test_view_renderings_never_push_the_cache_over_budget(void **state) {
    (void)state;
    const size_t capacity = 1300; /* each batch's two renderings fit in half of it */
    tail_init(capacity);
    test_renderer t = {0};
    char text[256];
    tail_span span;
    for (uint64_t s = 1; s <= 200; s++) {
        append(s, 1);
        expect_within_budget(capacity);
        read_view(&t, s % 2, s > 3 ? s - 3 : 1, 100, text, &span); /* two views, followers behind */
        expect_within_budget(capacity);
    }
    /* The newest batches are still here, rendered or not. */
    assert_int_equal(read_view(&t, 0, 199, 100, text, &span), TAIL_OK);
    assert_string_equal(text, "<199+1;200+1;");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_in_order_from_a_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_commits_never_expose_a_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_sends_old_positions_to_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_late_commit_behind_evicted_ones_goes_to_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_lent_batch_stays_valid_after_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_batch_over_half_the_budget_goes_to_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_cache_defers_to_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_splits_write_groups_into_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_renders_each_batch_once_per_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_leaves_out_a_commit_past_fit_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_stops_once_out_reaches_max_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_hidden_commits_advance_without_counting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_unrenderable_batch_appends_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_is_not_shared_far_behind_the_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_rendered_while_commits_move_the_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_gone_while_rendered_sends_the_read_to_the_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_renderings_take_half_the_budget_oldest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_too_big_to_keep_is_left_to_its_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_renderings_never_push_the_cache_over_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
