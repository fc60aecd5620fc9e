#include "net/pubsub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/mailbox.h"
#include "util/glob.h"
#include "util/grow.h"
#include "util/strmap.h"

/* The clients subscribed to one name. */
typedef struct subscribers {
    client_ref *refs;
    size_t n, cap;
} subscribers;

/* A client's own subscriptions (client.pubsub), one map of names per space (values unused). */
struct pubsub_client {
    strmap names[PUBSUB_SPACES];
};

/* Every name with subscribers, per space; the values are subscribers. */
static strmap registry[PUBSUB_SPACES];
static pthread_rwlock_t pubsub_lock;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;

static void init_lock(void) {
    /* Writer-preferring: publishers on every worker take the shared side, and a SUBSCRIBE must
     * not wait for a moment when none does. No thread takes the shared side twice. */
    pthread_rwlockattr_t rw;
    pthread_rwlockattr_init(&rw);
    pthread_rwlockattr_setkind_np(&rw, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&pubsub_lock, &rw);
    pthread_rwlockattr_destroy(&rw);
}

static void lock_shared(void) {
    pthread_once(&lock_once, init_lock);
    pthread_rwlock_rdlock(&pubsub_lock);
}

static void lock_exclusive(void) {
    pthread_once(&lock_once, init_lock);
    pthread_rwlock_wrlock(&pubsub_lock);
}

static void unlock(void) { pthread_rwlock_unlock(&pubsub_lock); }

static client_ref ref_of(const client *c) { return (client_ref){c->worker, c->id}; }

/* ---- the registry (under pubsub_lock, exclusive) ---- */

static void registry_add(pubsub_space space, const char *name, size_t len, client_ref ref) {
    int added;
    strmap_entry *e = strmap_add(&registry[space], name, len, &added);
    if (added) {
        e->val = calloc(1, sizeof(subscribers));
        if (!e->val) abort();
    }
    subscribers *s = e->val;
    s->refs = grow_array(s->refs, &s->cap, s->n + 1, sizeof(*s->refs), 4);
    s->refs[s->n++] = ref;
}

static void registry_remove(pubsub_space space, const char *name, size_t len, uint64_t id) {
    strmap_entry *e = strmap_find(&registry[space], name, len);
    if (!e) return;
    subscribers *s = e->val;
    for (size_t i = 0; i < s->n; i++) {
        if (s->refs[i].id != id) continue;
        s->refs[i] = s->refs[--s->n]; /* the order of subscribers means nothing */
        break;
    }
    if (s->n > 0) return;
    free(s->refs);
    free(s);
    strmap_remove(&registry[space], e); /* a name nobody listens to is not listed */
}

/* ---- a client's subscriptions (its worker only) ---- */

static long long total_subscriptions(const client *c) {
    long long n = 0;
    for (int space = 0; space < PUBSUB_SPACES; space++) n += pubsub_client_count(c, (pubsub_space)space);
    return n;
}

/* Subscribed mode lasts while the client has any subscription, as in Redis. */
static void update_mode(client *c) {
    if (total_subscriptions(c) > 0) c->flags |= CLIENT_PUBSUB;
    else c->flags &= ~CLIENT_PUBSUB;
}

int pubsub_subscribe(client *c, pubsub_space space, const char *name, size_t len) {
    if (!c->pubsub) {
        c->pubsub = calloc(1, sizeof(*c->pubsub));
        if (!c->pubsub) abort();
    }
    int added;
    strmap_add(&c->pubsub->names[space], name, len, &added);
    if (added) {
        lock_exclusive();
        registry_add(space, name, len, ref_of(c));
        unlock();
    }
    update_mode(c);
    return added;
}

int pubsub_unsubscribe(client *c, pubsub_space space, const char *name, size_t len) {
    strmap_entry *mine = c->pubsub ? strmap_find(&c->pubsub->names[space], name, len) : NULL;
    if (!mine) return 0;
    lock_exclusive();
    registry_remove(space, name, len, c->id);
    unlock();
    strmap_remove(&c->pubsub->names[space], mine);
    update_mode(c);
    return 1;
}

void pubsub_unsubscribe_all(client *c, pubsub_space space, void (*each)(void *arg, const char *name, size_t len),
                            void *arg) {
    if (!c->pubsub || c->pubsub->names[space].len == 0) return;
    strmap *mine = &c->pubsub->names[space];
    lock_exclusive();
    size_t pos = 0;
    strmap_entry *cursor = NULL;
    for (strmap_entry *e; (e = strmap_next(mine, &pos, &cursor)) != NULL;) registry_remove(space, e->key, e->len, c->id);
    unlock();
    /* The names are told once the registry lock is released (each writes replies), each after
     * it is gone, so that the client's counts are those after it. */
    pos = 0;
    cursor = NULL;
    for (strmap_entry *e; (e = strmap_next(mine, &pos, &cursor)) != NULL;) {
        strmap_unlink(mine, e);
        update_mode(c);
        if (each) each(arg, e->key, e->len);
        free(e);
    }
}

long long pubsub_client_count(const client *c, pubsub_space space) {
    return c->pubsub ? (long long)c->pubsub->names[space].len : 0;
}

int pubsub_client_listens(const client *c, pubsub_space space, const char *name, size_t len) {
    return c->pubsub && strmap_find(&c->pubsub->names[space], name, len) != NULL;
}

void pubsub_client_leave(client *c) {
    if (!c->pubsub) return;
    for (int space = 0; space < PUBSUB_SPACES; space++) {
        pubsub_unsubscribe_all(c, (pubsub_space)space, NULL, NULL);
        strmap_free(&c->pubsub->names[space]);
    }
    free(c->pubsub);
    c->pubsub = NULL;
    c->flags &= ~CLIENT_PUBSUB;
}

/* ---- messages ---- */

/* The first word of a message, by the space its subscription is in. */
static const char *const message_words[PUBSUB_SPACES] = {"message", "pmessage", "smessage"};

long long pubsub_encode_head(buf *head, pubsub_space space, const char *pattern, size_t plen, const char *channel,
                             size_t clen) {
    if (pattern) space = PUBSUB_PATTERN;
    reply r = {.out = head, .resp = 3}; /* bulk strings are the same in both protocols */
    reply_bulk_str(&r, message_words[space]);
    if (pattern) reply_bulk(&r, pattern, plen);
    reply_bulk(&r, channel, clen);
    return pattern ? 4 : 3;
}

mail_body *pubsub_encode_payload(const char *payload, size_t len) {
    char header[32];
    int hlen = snprintf(header, sizeof(header), "$%zu\r\n", len);
    mail_body *b = mail_body_new((size_t)hlen + len + 2);
    memcpy(b->data, header, (size_t)hlen);
    memcpy(b->data + hlen, payload, len);
    memcpy(b->data + hlen + len, "\r\n", 2);
    return b;
}

/* Reads the bulk string "$<n>\r\n<n bytes>\r\n" at *p, advancing *p past it; -1 if there is none. */
static int read_bulk(const char **p, const char *end, const char **s, size_t *n) {
    const char *q = *p;
    if (q >= end || *q++ != '$') return -1;
    size_t len = 0;
    while (q < end && *q >= '0' && *q <= '9') len = len * 10 + (size_t)(*q++ - '0');
    if (end - q < 2 || (size_t)(end - q - 2) < len + 2) return -1;
    *s = q + 2;
    *n = len;
    *p = q + 2 + len + 2;
    return 0;
}

int pubsub_message_wanted(const client *c, const void *body, size_t len) {
    const char *p = body, *end = p + len, *word, *name;
    size_t word_len, name_len;
    if (read_bulk(&p, end, &word, &word_len) < 0 || read_bulk(&p, end, &name, &name_len) < 0) return 0;
    for (int space = 0; space < PUBSUB_SPACES; space++)
        if (strlen(message_words[space]) == word_len && memcmp(message_words[space], word, word_len) == 0)
            return pubsub_client_listens(c, (pubsub_space)space, name, name_len);
    return 0;
}

/* ---- publishing and introspection (any thread, under pubsub_lock shared) ---- */

/* Redis's glob as PUBLISH and PUBSUB CHANNELS apply it: its matcher never matches an empty
 * channel name but with an empty pattern (not even with "*"). */
static int channel_matches(const char *pattern, size_t plen, const char *channel, size_t len) {
    if (len == 0) return plen == 0;
    return glob_match(pattern, plen, channel, len, 0);
}

long long pubsub_publish(pubsub_space space, const char *channel, size_t len, pubsub_visit visit, void *arg) {
    long long receivers = 0;
    lock_shared();
    strmap_entry *e = strmap_find(&registry[space], channel, len);
    if (e) {
        subscribers *s = e->val;
        visit(arg, NULL, 0, s->refs, s->n);
        receivers += (long long)s->n;
    }
    if (space == PUBSUB_CHANNEL) {
        size_t pos = 0;
        strmap_entry *cursor = NULL;
        while ((e = strmap_next(&registry[PUBSUB_PATTERN], &pos, &cursor)) != NULL) {
            if (!channel_matches(e->key, e->len, channel, len)) continue;
            subscribers *s = e->val;
            visit(arg, e->key, e->len, s->refs, s->n);
            receivers += (long long)s->n;
        }
    }
    unlock();
    return receivers;
}

void pubsub_list(pubsub_space space, const char *pattern, size_t plen,
                 void (*each)(void *arg, const char *name, size_t len), void *arg) {
    lock_shared();
    size_t pos = 0;
    strmap_entry *cursor = NULL;
    for (strmap_entry *e; (e = strmap_next(&registry[space], &pos, &cursor)) != NULL;)
        if (!pattern || channel_matches(pattern, plen, e->key, e->len)) each(arg, e->key, e->len);
    unlock();
}

long long pubsub_subscribers(pubsub_space space, const char *name, size_t len) {
    lock_shared();
    strmap_entry *e = strmap_find(&registry[space], name, len);
    long long n = e ? (long long)((subscribers *)e->val)->n : 0;
    unlock();
    return n;
}

long long pubsub_active(pubsub_space space) {
    lock_shared();
    long long n = (long long)registry[space].len;
    unlock();
    return n;
}
