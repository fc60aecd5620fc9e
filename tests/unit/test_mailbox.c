/* Unit tests for a worker's mailbox (src/net/mailbox.h) and the id map the worker finds its
 * clients with (src/util/idmap.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/mailbox.h"
#include "util/idmap.h"

static atomic_int wakes;

static void count_wake(void *arg) {
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

static void free_all(mail *m) {
    while (m) {
        mail *next = m->next;
        mail_free(m);
        m = next;
    }
}

static size_t count_mail(const mail *m) {
    size_t n = 0;
    for (; m; m = m->next) n++;
    return n;
}

/* Messages come out in the order they were posted, with their bodies; the owner is woken once
 * per batch, when a post finds the mailbox empty. */
static void test_order_and_wake(void **state) {
    (void)state;
    mailbox mb;
    mailbox_init(&mb, 1 << 20, count_wake, NULL);
    atomic_store(&wakes, 0);
    assert_null(mailbox_take(&mb));
    mailbox_post(&mb, 7, MAIL_WAKE);
    assert_int_equal(mailbox_push(&mb, 7, MAIL_PUSH, 2, "$1\r\na\r\n$1\r\nb\r\n", 14), 0);
    mailbox_post(&mb, 9, MAIL_KILL);
    assert_int_equal(mailbox_push(&mb, 7, MAIL_PUSH, 1, "$1\r\nc\r\n", 7), 0);
    assert_int_equal(atomic_load(&wakes), 1);

    mail *all = mailbox_take(&mb), *m = all;
    assert_int_equal(m->kind, MAIL_WAKE);
    assert_int_equal(m->client_id, 7);
    m = m->next;
    assert_int_equal(m->kind, MAIL_PUSH);
    assert_int_equal(m->count, 2);
    assert_int_equal(m->len, 14);
    assert_memory_equal(m->body, "$1\r\na\r\n$1\r\nb\r\n", 14);
    m = m->next;
    assert_int_equal(m->kind, MAIL_KILL);
    assert_int_equal(m->client_id, 9);
    m = m->next;
    assert_int_equal(m->kind, MAIL_PUSH);
    assert_memory_equal(m->body, "$1\r\nc\r\n", 7);
    assert_null(m->next);
    free_all(all);

    assert_null(mailbox_take(&mb));
    mailbox_post(&mb, 7, MAIL_UNBLOCK); /* empty again: wakes the owner again */
    assert_int_equal(atomic_load(&wakes), 2);
    mailbox_destroy(&mb); /* frees what was never taken */
}

/* Past its bound, a push is refused and its client is sent MAIL_LOST once; later pushes to it
 * are dropped until the owner has taken the batch, while other clients' pushes that fit and
 * control messages still go in. The bytes queued never pass the bound by a push. */
static void test_bounded(void **state) {
    (void)state;
    char body[1000];
    memset(body, 'x', sizeof(body));
    mailbox mb;
    mailbox_init(&mb, 10 * (sizeof(mail) + sizeof(body)), count_wake, NULL);
    int accepted = 0;
    while (mailbox_push(&mb, 1, MAIL_PUSH, 1, body, sizeof(body)) == 0) accepted++;
    assert_int_equal(accepted, 10);
    assert_true(mb.bytes <= mb.max_bytes + sizeof(mail)); /* the pushes and one MAIL_LOST */
    for (int i = 0; i < 1000; i++) assert_int_equal(mailbox_push(&mb, 1, MAIL_PUSH, 1, "", 0), -1);
    assert_int_equal(mailbox_push(&mb, 2, MAIL_PUSH, 1, body, sizeof(body)), -1); /* no room for it either */
    mailbox_post(&mb, 3, MAIL_WAKE);                                   /* control: never refused */

    mail *all = mailbox_take(&mb);
    assert_int_equal(count_mail(all), 10 + 1 + 1 + 1);
    size_t lost_1 = 0, lost_2 = 0, i = 0;
    for (mail *m = all; m; m = m->next, i++) {
        if (i < 10) assert_int_equal(m->kind, MAIL_PUSH);
        if (m->kind == MAIL_LOST) {
            lost_1 += m->client_id == 1;
            lost_2 += m->client_id == 2;
        }
    }
    assert_int_equal(lost_1, 1);
    assert_int_equal(lost_2, 1);
    free_all(all);
    /* Taken: the mailbox is empty and takes pushes again. */
    assert_int_equal(mb.bytes, 0);
    assert_int_equal(mailbox_push(&mb, 2, MAIL_PUSH, 1, body, sizeof(body)), 0);
    mailbox_destroy(&mb);
}

/* A shared body is queued once for all its receivers: it does not count against the worker's
 * bound, however big, only against each receiver's own (client_max); a receiver past its own
 * is refused and sent MAIL_LOST while the others still get the message. The body is freed with
 * the last mail holding it. */
static void test_shared(void **state) {
    (void)state;
    mailbox mb;
    mailbox_init(&mb, 10 * sizeof(mail) + 100, count_wake, NULL);
    mail_body *payload = mail_body_new(1000);
    memset(payload->data, 'p', payload->len);
    for (uint64_t id = 1; id <= 5; id++)
        assert_int_equal(mailbox_push_shared(&mb, id, 3, "head", 4, payload, 3000), 0);
    assert_true(mb.bytes <= 5 * (sizeof(mail) + 4)); /* the payload counted in none */
    assert_int_equal(mailbox_push_shared(&mb, 1, 3, "head", 4, payload, 3000), 0);
    assert_int_equal(mailbox_push_shared(&mb, 1, 3, "head", 4, payload, 3000), -1); /* 3012 bytes for 1 */
    assert_int_equal(mailbox_push_shared(&mb, 2, 3, "head", 4, payload, 0), 0);       /* no limit of its own */
    assert_int_equal(atomic_load(&payload->refs), 1 + 7);
    mail_body_unref(payload); /* the mail holds it now */

    mail *all = mailbox_take(&mb);
    size_t messages = 0, lost = 0;
    for (mail *m = all; m; m = m->next) {
        if (m->kind == MAIL_MESSAGE) {
            assert_ptr_equal(m->shared, payload);
            assert_memory_equal(m->body, "head", 4);
            messages++;
        }
        lost += m->kind == MAIL_LOST && m->client_id == 1;
    }
    assert_int_equal(messages, 7);
    assert_int_equal(lost, 1);
    free_all(all); /* frees the payload too (ASan sees a leak or a double free) */
    mailbox_destroy(&mb);
}

#define POSTERS 4
#define PER_POSTER 20000

typedef struct poster {
    mailbox *mb;
    uint64_t id;
} poster;

/* Posts PER_POSTER pushes to its own client id, each carrying its sequence number. */
static void *post_many(void *arg) {
    poster *p = arg;
    for (uint32_t i = 0; i < PER_POSTER; i++) {
        if (i % 7 == 0) mailbox_post(p->mb, p->id, MAIL_WAKE);
        assert_int_equal(mailbox_push(p->mb, p->id, MAIL_PUSH, 1, &i, sizeof(i)), 0);
    }
    return NULL;
}

/* Many threads post at once while the owner takes: nothing is lost or duplicated, and each
 * client's messages arrive in the order they were posted. */
static void test_many_posters(void **state) {
    (void)state;
    mailbox mb;
    mailbox_init(&mb, SIZE_MAX, count_wake, NULL);
    pthread_t threads[POSTERS];
    poster posters[POSTERS];
    for (int t = 0; t < POSTERS; t++) {
        posters[t] = (poster){&mb, (uint64_t)t + 1};
        assert_int_equal(pthread_create(&threads[t], NULL, post_many, &posters[t]), 0);
    }
    uint32_t next[POSTERS] = {0};
    size_t wakes_seen = 0, pushes = 0;
    while (pushes < (size_t)POSTERS * PER_POSTER) {
        mail *all = mailbox_take(&mb);
        for (mail *m = all; m; m = m->next) {
            assert_true(m->client_id >= 1 && m->client_id <= POSTERS);
            if (m->kind == MAIL_WAKE) {
                wakes_seen++;
                continue;
            }
            uint32_t seq;
            memcpy(&seq, m->body, sizeof(seq));
            assert_int_equal(seq, next[m->client_id - 1]);
            next[m->client_id - 1]++;
            pushes++;
        }
        free_all(all);
    }
    for (int t = 0; t < POSTERS; t++) pthread_join(threads[t], NULL);
    free_all(mailbox_take(&mb)); /* wakes posted after the last push was taken, if any */
    assert_int_equal(pushes, (size_t)POSTERS * PER_POSTER);
    assert_true(wakes_seen <= (size_t)POSTERS * ((PER_POSTER + 6) / 7));
    mailbox_destroy(&mb);
}

/* The id map: puts, replaces, removes (with the ids probing past a removed one still found),
 * grows and clears. */
static void test_idmap(void **state) {
    (void)state;
    idmap m;
    idmap_init(&m);
    assert_null(idmap_get(&m, 1));
    idmap_remove(&m, 1); /* nothing there: no harm */
    static int vals[5000];
    for (uint64_t id = 1; id <= 5000; id++) idmap_put(&m, id, &vals[id - 1]);
    assert_int_equal(m.len, 5000);
    assert_true(m.cap >= 2 * m.len);
    idmap_put(&m, 42, &vals[0]); /* replaces */
    assert_int_equal(m.len, 5000);
    assert_ptr_equal(idmap_get(&m, 42), &vals[0]);
    for (uint64_t id = 1; id <= 5000; id += 2) idmap_remove(&m, id);
    assert_int_equal(m.len, 2500);
    for (uint64_t id = 1; id <= 5000; id++) {
        if (id % 2) assert_null(idmap_get(&m, id));
        else if (id != 42) assert_ptr_equal(idmap_get(&m, id), &vals[id - 1]);
    }
    assert_null(idmap_get(&m, 5001));
    idmap_clear(&m);
    assert_int_equal(m.len, 0);
    assert_null(idmap_get(&m, 2));
    idmap_free(&m);
}

/* Ids whose slots collide and wrap around the end of the table, removed in every order: a
 * removal never hides an id that probed past it. */
static void test_idmap_collisions(void **state) {
    (void)state;
    static int v;
    for (int round = 0; round < 200; round++) {
        idmap m;
        idmap_init(&m);
        uint64_t ids[8];
        srand((unsigned)round);
        for (int i = 0; i < 8; i++) {
            ids[i] = (uint64_t)rand() % 64 + 1;
            idmap_put(&m, ids[i], &v);
        }
        for (int i = 0; i < 8; i++) {
            idmap_remove(&m, ids[i]);
            assert_null(idmap_get(&m, ids[i]));
            for (int j = i + 1; j < 8; j++)
                if (ids[j] != ids[i]) {
                    int removed = 0;
                    for (int k = 0; k <= i; k++) removed |= ids[k] == ids[j];
                    if (!removed) assert_ptr_equal(idmap_get(&m, ids[j]), &v);
                }
        }
        assert_int_equal(m.len, 0);
        idmap_free(&m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_wake),  cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_many_posters),    cmocka_unit_test(test_idmap),
        cmocka_unit_test(test_idmap_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
