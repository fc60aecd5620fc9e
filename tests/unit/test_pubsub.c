/* Unit tests for the pub/sub registry (src/net/pubsub.h) and the string map it is built on
 * (src/util/strmap.h): subscriptions per client and per name, who a message reaches and how
 * PUBLISH counts them, the three namespaces kept apart, messages for names a client has left,
 * and subscribers coming and going on several threads while others publish. */
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
#include "net/pubsub.h"
#include "util/strmap.h"

#define S(lit) lit, sizeof(lit) - 1

/* A client as the registry sees it: an id and a worker (never dereferenced here). */
static client *fake_client(uint64_t id) {
    client *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->id = id;
    c->worker = (struct worker *)(uintptr_t)0x1000;
    return c;
}

static void drop_client(client *c) {
    pubsub_client_leave(c);
    free(c);
}

/* What a publish visited: the receivers' ids, each with the pattern it came through ("" for the
 * channel itself), as "id:pattern" lines. */
typedef struct visited {
    char text[4096];
} visited;

static void record(void *arg, const char *pattern, size_t plen, const client_ref *refs, size_t n) {
    visited *v = arg;
    for (size_t i = 0; i < n; i++) {
        size_t at = strlen(v->text);
        snprintf(v->text + at, sizeof(v->text) - at, "%llu:%.*s ", (unsigned long long)refs[i].id, (int)plen,
                 pattern ? pattern : "");
    }
}

static void test_strmap(void **state) {
    (void)state;
    strmap m;
    strmap_init(&m);
    assert_null(strmap_find(&m, S("a")));
    char key[32];
    for (int i = 0; i < 1000; i++) {
        int added;
        snprintf(key, sizeof(key), "k%d", i);
        strmap_entry *e = strmap_add(&m, key, strlen(key), &added);
        assert_true(added);
        e->val = (void *)(intptr_t)(i + 1);
        assert_ptr_equal(strmap_add(&m, key, strlen(key), &added), e);
        assert_false(added);
    }
    assert_int_equal(m.len, 1000);
    /* keys with zero bytes and the empty key are keys like any other */
    int added;
    strmap_add(&m, "\0x", 2, &added);
    assert_true(added);
    strmap_add(&m, "", 0, &added);
    assert_true(added);
    assert_non_null(strmap_find(&m, "\0x", 2));
    assert_null(strmap_find(&m, "\0y", 2));
    /* every entry visited once; removing the one visited is allowed */
    size_t pos = 0, seen = 0;
    strmap_entry *cursor = NULL;
    for (strmap_entry *e; (e = strmap_next(&m, &pos, &cursor)) != NULL; seen++)
        if (e->len > 1 && e->key[0] == 'k' && atoi(e->key + 1) % 2 == 0) strmap_remove(&m, e);
    assert_int_equal(seen, 1002);
    assert_int_equal(m.len, 502);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        strmap_entry *e = strmap_find(&m, key, strlen(key));
        if (i % 2 == 0) assert_null(e);
        else assert_int_equal((intptr_t)e->val, i + 1);
    }
    strmap_free(&m);
}

static void test_subscriptions_and_mode(void **state) {
    (void)state;
    client *c = fake_client(1);
    assert_int_equal(pubsub_subscribe(c, PUBSUB_CHANNEL, S("news")), 1);
    assert_int_equal(pubsub_subscribe(c, PUBSUB_CHANNEL, S("news")), 0); /* once only */
    assert_true(c->flags & CLIENT_PUBSUB);
    assert_int_equal(pubsub_subscribe(c, PUBSUB_PATTERN, S("news")), 1); /* another namespace */
    assert_int_equal(pubsub_subscribe(c, PUBSUB_SHARD, S("news")), 1);
    assert_int_equal(pubsub_client_count(c, PUBSUB_CHANNEL), 1);
    assert_int_equal(pubsub_client_count(c, PUBSUB_PATTERN), 1);
    assert_int_equal(pubsub_client_count(c, PUBSUB_SHARD), 1);
    assert_int_equal(pubsub_active(PUBSUB_CHANNEL), 1);
    assert_int_equal(pubsub_subscribers(PUBSUB_CHANNEL, S("news")), 1);
    assert_int_equal(pubsub_unsubscribe(c, PUBSUB_CHANNEL, S("other")), 0);
    assert_int_equal(pubsub_unsubscribe(c, PUBSUB_CHANNEL, S("news")), 1);
    assert_int_equal(pubsub_unsubscribe(c, PUBSUB_PATTERN, S("news")), 1);
    assert_true(c->flags & CLIENT_PUBSUB); /* the shard channel is left */
    assert_int_equal(pubsub_unsubscribe(c, PUBSUB_SHARD, S("news")), 1);
    assert_false(c->flags & CLIENT_PUBSUB);
    /* a name nobody listens to is gone from the registry */
    assert_int_equal(pubsub_active(PUBSUB_CHANNEL), 0);
    assert_int_equal(pubsub_active(PUBSUB_PATTERN), 0);
    assert_int_equal(pubsub_active(PUBSUB_SHARD), 0);
    assert_int_equal(pubsub_subscribers(PUBSUB_CHANNEL, S("news")), 0);
    drop_client(c);
}

static void test_publish_reaches_channels_and_patterns(void **state) {
    (void)state;
    client *a = fake_client(1), *b = fake_client(2), *s = fake_client(3);
    pubsub_subscribe(a, PUBSUB_CHANNEL, S("news.tech"));
    pubsub_subscribe(a, PUBSUB_PATTERN, S("news.*"));
    pubsub_subscribe(b, PUBSUB_PATTERN, S("news.*"));
    pubsub_subscribe(b, PUBSUB_PATTERN, S("n?ws.[st]ech"));
    pubsub_subscribe(b, PUBSUB_PATTERN, S("sport.*"));
    pubsub_subscribe(s, PUBSUB_SHARD, S("news.tech"));
    visited v = {""};
    /* a is counted twice (its channel and its pattern), b once per pattern that matches */
    assert_int_equal(pubsub_publish(PUBSUB_CHANNEL, S("news.tech"), record, &v), 4);
    assert_non_null(strstr(v.text, "1: "));
    assert_non_null(strstr(v.text, "1:news.* "));
    assert_non_null(strstr(v.text, "2:news.* "));
    assert_non_null(strstr(v.text, "2:n?ws.[st]ech "));
    assert_null(strstr(v.text, "3:"));
    /* shard channels are apart: patterns do not apply, channel subscribers do not hear */
    memset(&v, 0, sizeof(v));
    assert_int_equal(pubsub_publish(PUBSUB_SHARD, S("news.tech"), record, &v), 1);
    assert_string_equal(v.text, "3: ");
    memset(&v, 0, sizeof(v));
    assert_int_equal(pubsub_publish(PUBSUB_CHANNEL, S("weather"), record, &v), 0);
    assert_string_equal(v.text, "");
    /* a client that leaves is found no more */
    drop_client(a);
    memset(&v, 0, sizeof(v));
    assert_int_equal(pubsub_publish(PUBSUB_CHANNEL, S("news.tech"), record, &v), 2);
    assert_null(strstr(v.text, "1:"));
    assert_int_equal(pubsub_active(PUBSUB_PATTERN), 3);
    drop_client(b);
    drop_client(s);
    assert_int_equal(pubsub_active(PUBSUB_CHANNEL) + pubsub_active(PUBSUB_PATTERN) + pubsub_active(PUBSUB_SHARD), 0);
}

static void list_into(void *arg, const char *name, size_t len) {
    visited *v = arg;
    size_t at = strlen(v->text);
    snprintf(v->text + at, sizeof(v->text) - at, "%.*s ", (int)len, name);
}

static void test_list_with_pattern(void **state) {
    (void)state;
    client *a = fake_client(1);
    pubsub_subscribe(a, PUBSUB_CHANNEL, S("abc"));
    pubsub_subscribe(a, PUBSUB_CHANNEL, S("abd"));
    pubsub_subscribe(a, PUBSUB_CHANNEL, S("xyz"));
    pubsub_subscribe(a, PUBSUB_SHARD, S("abe"));
    visited v = {""};
    pubsub_list(PUBSUB_CHANNEL, S("ab*"), list_into, &v);
    assert_int_equal(strlen(v.text), strlen("abc abd "));
    assert_non_null(strstr(v.text, "abc "));
    assert_non_null(strstr(v.text, "abd "));
    memset(&v, 0, sizeof(v));
    pubsub_list(PUBSUB_SHARD, NULL, 0, list_into, &v);
    assert_string_equal(v.text, "abe ");
    drop_client(a);
}

/* Each name told after it is gone: the count seen then is the count after it. */
typedef struct told {
    client *c;
    long long counts[8];
    int n;
} told;

static void tell(void *arg, const char *name, size_t len) {
    (void)name, (void)len;
    told *t = arg;
    t->counts[t->n++] = pubsub_client_count(t->c, PUBSUB_CHANNEL);
}

static void test_unsubscribe_all(void **state) {
    (void)state;
    client *a = fake_client(1), *b = fake_client(2);
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof(name), "c%d", i);
        pubsub_subscribe(a, PUBSUB_CHANNEL, name, strlen(name));
        pubsub_subscribe(b, PUBSUB_CHANNEL, name, strlen(name));
    }
    pubsub_subscribe(a, PUBSUB_PATTERN, S("*"));
    told t = {a, {0}, 0};
    pubsub_unsubscribe_all(a, PUBSUB_CHANNEL, tell, &t);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.counts[0], 2);
    assert_int_equal(t.counts[2], 0);
    assert_true(a->flags & CLIENT_PUBSUB); /* its pattern is left */
    assert_int_equal(pubsub_subscribers(PUBSUB_CHANNEL, S("c1")), 1); /* b's */
    assert_int_equal(pubsub_active(PUBSUB_CHANNEL), 3);
    drop_client(a);
    drop_client(b);
}

static void test_messages_for_names_left(void **state) {
    (void)state;
    client *a = fake_client(1);
    buf body;
    buf_init(&body);
    assert_int_equal(pubsub_encode_head(&body, PUBSUB_CHANNEL, NULL, 0, S("ch")), 3);
    assert_int_equal(body.len, strlen("$7\r\nmessage\r\n$2\r\nch\r\n"));
    assert_memory_equal(body.data, "$7\r\nmessage\r\n$2\r\nch\r\n", body.len);
    mail_body *payload = pubsub_encode_payload(S("hi"));
    assert_int_equal(payload->len, strlen("$2\r\nhi\r\n"));
    assert_memory_equal(payload->data, "$2\r\nhi\r\n", payload->len);
    mail_body_unref(payload);
    assert_false(pubsub_message_wanted(a, body.data, body.len));
    pubsub_subscribe(a, PUBSUB_CHANNEL, S("ch"));
    assert_true(pubsub_message_wanted(a, body.data, body.len));
    buf_clear(&body);
    assert_int_equal(pubsub_encode_head(&body, PUBSUB_CHANNEL, S("c*"), S("ch")), 4);
    assert_false(pubsub_message_wanted(a, body.data, body.len)); /* through a pattern it has not */
    pubsub_subscribe(a, PUBSUB_PATTERN, S("c*"));
    assert_true(pubsub_message_wanted(a, body.data, body.len));
    buf_clear(&body);
    pubsub_encode_head(&body, PUBSUB_SHARD, NULL, 0, S("ch"));
    assert_false(pubsub_message_wanted(a, body.data, body.len));
    pubsub_subscribe(a, PUBSUB_SHARD, S("ch"));
    assert_true(pubsub_message_wanted(a, body.data, body.len));
    assert_false(pubsub_message_wanted(a, body.data, 5)); /* cut short */
    drop_client(a);
    buf_free(&body);
}

/* Subscribers come and go on some threads while others publish: each publish sees a
 * consistent registry (checked by the sanitizers and by the counts). */
#define ROUNDS 2000

static void *churn(void *arg) {
    client *c = arg;
    for (int i = 0; i < ROUNDS; i++) {
        pubsub_subscribe(c, PUBSUB_CHANNEL, S("busy"));
        pubsub_subscribe(c, PUBSUB_PATTERN, S("b*"));
        pubsub_unsubscribe(c, PUBSUB_CHANNEL, S("busy"));
        if (i % 3 == 0) pubsub_client_leave(c);
    }
    return NULL;
}

static void count_only(void *arg, const char *pattern, size_t plen, const client_ref *refs, size_t n) {
    (void)pattern, (void)plen, (void)refs;
    *(long long *)arg += (long long)n;
}

/* Counts the publishes whose receivers were not what they visited (cmocka's asserts are for
 * the main thread). */
static void *publisher(void *arg) {
    atomic_int *wrong = arg;
    for (int i = 0; i < ROUNDS; i++) {
        long long visited_n = 0;
        long long receivers = pubsub_publish(PUBSUB_CHANNEL, S("busy"), count_only, &visited_n);
        if (receivers != visited_n || receivers > 8) atomic_fetch_add(wrong, 1);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    client *clients[4];
    pthread_t threads[6];
    for (int i = 0; i < 4; i++) {
        clients[i] = fake_client((uint64_t)i + 1);
        assert_int_equal(pthread_create(&threads[i], NULL, churn, clients[i]), 0);
    }
    atomic_int wrong = 0;
    for (int i = 4; i < 6; i++) assert_int_equal(pthread_create(&threads[i], NULL, publisher, &wrong), 0);
    for (int i = 0; i < 6; i++) pthread_join(threads[i], NULL);
    assert_int_equal(atomic_load(&wrong), 0);
    for (int i = 0; i < 4; i++) drop_client(clients[i]);
    assert_int_equal(pubsub_active(PUBSUB_CHANNEL) + pubsub_active(PUBSUB_PATTERN), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strmap),
        cmocka_unit_test(test_subscriptions_and_mode),
        cmocka_unit_test(test_publish_reaches_channels_and_patterns),
        cmocka_unit_test(test_list_with_pattern),
        cmocka_unit_test(test_unsubscribe_all),
        cmocka_unit_test(test_messages_for_names_left),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
