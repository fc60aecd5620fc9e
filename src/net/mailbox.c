#include "net/mailbox.h"

#include <stdlib.h>
#include <string.h>

void mailbox_init(mailbox *mb, size_t max_bytes, void (*wake)(void *arg), void *wake_arg) {
    memset(mb, 0, sizeof(*mb));
    pthread_mutex_init(&mb->lock, NULL);
    mb->max_bytes = max_bytes;
    idmap_init(&mb->lost);
    mb->wake = wake;
    mb->wake_arg = wake_arg;
}

void mailbox_destroy(mailbox *mb) {
    mail *m = mailbox_take(mb);
    while (m) {
        mail *next = m->next;
        free(m);
        m = next;
    }
    idmap_free(&mb->lost);
    pthread_mutex_destroy(&mb->lock);
}

static mail *mail_new(uint64_t client_id, mail_kind kind, size_t len) {
    mail *m = malloc(sizeof(*m) + len);
    if (!m) abort();
    m->next = NULL;
    m->client_id = client_id;
    m->kind = kind;
    m->count = 0;
    m->len = len;
    return m;
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

int mailbox_push(mailbox *mb, uint64_t client_id, mail_kind kind, long long count, const void *body, size_t len) {
    mail *m = mail_new(client_id, kind, len);
    m->count = count;
    memcpy(m->body, body, len);
    int refused = 1, wake = 0;
    pthread_mutex_lock(&mb->lock);
    /* A client already told it lost a push is being closed: it must not see later ones. */
    if (!idmap_get(&mb->lost, client_id)) {
        if (mb->bytes + sizeof(*m) + len <= mb->max_bytes) {
            refused = 0;
            wake = enqueue(mb, m);
        } else {
            idmap_put(&mb->lost, client_id, mb);
            wake = enqueue(mb, mail_new(client_id, MAIL_LOST, 0));
        }
    }
    pthread_mutex_unlock(&mb->lock);
    if (refused) free(m);
    if (wake) mb->wake(mb->wake_arg);
    return refused ? -1 : 0;
}

mail *mailbox_take(mailbox *mb) {
    pthread_mutex_lock(&mb->lock);
    mail *all = mb->head;
    mb->head = mb->tail = NULL;
    mb->bytes = 0;
    idmap_clear(&mb->lost);
    pthread_mutex_unlock(&mb->lock);
    return all;
}
