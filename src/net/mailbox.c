#include "net/mailbox.h"

#include <stdlib.h>
#include <string.h>

void mailbox_init(mailbox *mb, size_t max_bytes, void (*wake)(void *arg), void *wake_arg) {
    memset(mb, 0, sizeof(*mb));
    pthread_mutex_init(&mb->lock, NULL);
    mb->max_bytes = max_bytes;
    idmap_init(&mb->lost);
    idmap_init(&mb->queued);
    mb->wake = wake;
    mb->wake_arg = wake_arg;
}

void mailbox_destroy(mailbox *mb) {
    mail *m = mailbox_take(mb);
    while (m) {
        mail *next = m->next;
        mail_free(m);
        m = next;
    }
    idmap_free(&mb->lost);
    idmap_free(&mb->queued);
    pthread_mutex_destroy(&mb->lock);
}

static mail *mail_new(uint64_t client_id, mail_kind kind, size_t len) {
    mail *m = malloc(sizeof(*m) + len);
    if (!m) abort();
    m->next = NULL;
    m->client_id = client_id;
    m->kind = kind;
    m->count = 0;
    m->shared = NULL;
    m->len = len;
    return m;
}

void mail_free(mail *m) {
    mail_body_unref(m->shared);
    free(m);
}

mail_body *mail_body_new(size_t len) {
    mail_body *b = malloc(sizeof(*b) + len);
    if (!b) abort();
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

void mail_body_ref(mail_body *b) { atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); }

void mail_body_unref(mail_body *b) {
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}

/* Queues m; returns whether the mailbox was empty (its owner is to be woken). Call under the
 * lock. */
static int enqueue(mailbox *mb, mail *m) {
    int was_empty = mb->head == NULL;
    if (mb->tail) mb->tail->next = m;
    else mb->head = m;
    mb->tail = m;
    mb->bytes += sizeof(*m) + m->len;
    return was_empty;
}

void mailbox_post(mailbox *mb, uint64_t client_id, mail_kind kind) {
    mail *m = mail_new(client_id, kind, 0);
    pthread_mutex_lock(&mb->lock);
    int wake = enqueue(mb, m);
    pthread_mutex_unlock(&mb->lock);
    if (wake) mb->wake(mb->wake_arg);
}

/* Whether the push m to a client may be queued, by the worker's bound and the client's
 * (client_max, 0 for none); if so, counts it to the client. Call under the lock. */
static int has_room(mailbox *mb, const mail *m, size_t client_max) {
    if (mb->bytes + sizeof(*m) + m->len > mb->max_bytes) return 0;
    if (client_max == 0) return 1;
    size_t queued = (size_t)(uintptr_t)idmap_get(&mb->queued, m->client_id);
    size_t size = m->len + (m->shared ? m->shared->len : 0);
    if (queued + size > client_max) return 0;
    idmap_put(&mb->queued, m->client_id, (void *)(uintptr_t)(queued + size));
    return 1;
}

/* Queues the push m, or frees it and sends its client MAIL_LOST; returns 0 or -1 as
 * mailbox_push. */
static int post_push(mailbox *mb, mail *m, size_t client_max) {
    int refused = 1, wake = 0;
    pthread_mutex_lock(&mb->lock);
    /* A client already told it lost a push is being closed: it must not see later ones. */
    if (!idmap_get(&mb->lost, m->client_id)) {
        if (has_room(mb, m, client_max)) {
            refused = 0;
            wake = enqueue(mb, m);
        } else {
            idmap_put(&mb->lost, m->client_id, mb);
            wake = enqueue(mb, mail_new(m->client_id, MAIL_LOST, 0));
        }
    }
    pthread_mutex_unlock(&mb->lock);
    if (refused) mail_free(m);
    if (wake) mb->wake(mb->wake_arg);
    return refused ? -1 : 0;
}

int mailbox_push(mailbox *mb, uint64_t client_id, mail_kind kind, long long count, const void *body, size_t len) {
    mail *m = mail_new(client_id, kind, len);
    m->count = count;
    memcpy(m->body, body, len);
    return post_push(mb, m, 0);
}

int mailbox_push_shared(mailbox *mb, uint64_t client_id, long long count, const void *head, size_t head_len,
                        mail_body *shared, size_t client_max) {
    mail *m = mail_new(client_id, MAIL_MESSAGE, head_len);
    m->count = count;
    memcpy(m->body, head, head_len);
    mail_body_ref(shared);
    m->shared = shared;
    return post_push(mb, m, client_max);
}

mail *mailbox_take(mailbox *mb) {
    pthread_mutex_lock(&mb->lock);
    mail *all = mb->head;
    mb->head = mb->tail = NULL;
    mb->bytes = 0;
    idmap_clear(&mb->lost);
    idmap_clear(&mb->queued);
    pthread_mutex_unlock(&mb->lock);
    return all;
}
