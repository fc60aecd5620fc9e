/* A worker's mailbox: any thread posts messages addressed to a client id; the owning worker
 * takes them all at once, in the order they were posted, and delivers each to its client if
 * the client is still there (net.c). Knows nothing of clients or libevent, so that it can be
 * tested alone.
 *
 * Bounded memory: a pub/sub message's body (its payload) is shared by all its receivers
 * (mail_body, counted by reference): it is queued once, however many clients of however many
 * workers it goes to, and counted against each receiver's own output limit (client_max) only.
 * The rest of the mail (every push's own bytes) is refused once the queued bytes pass
 * max_bytes, a generous bound for a worker that does not drain; the client a push was refused
 * to, by either bound, is sent MAIL_LOST instead,
 * once, and every later push to it is dropped until the worker has taken that: it is closed,
 * as Redis closes a client that cannot keep up, rather than silently missing one message.
 * Control messages (wake, unblock, kill) are never refused: their posters coalesce them to
 * at most one outstanding per client each (net.c), so their number is bounded by the clients'.
 * The queued bytes count down when the worker takes them: the worker may hold one taken batch
 * while the next fills, so a mailbox holds at most about twice max_bytes. */
#ifndef TIDEKV_MAILBOX_H
#define TIDEKV_MAILBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/idmap.h"

typedef enum mail_kind {
    MAIL_WAKE,    /* run the client's blocked command again: what it waits for may be there */
    MAIL_UNBLOCK, /* CLIENT UNBLOCK: end its block, as the client's unblock_request says */
    MAIL_KILL,    /* CLIENT KILL or maxmemory-clients: close it */
    MAIL_LOST,    /* a push to it was refused (the mailbox was full): close it */
    MAIL_PUSH,    /* a push message: count elements, encoded in body */
    MAIL_MESSAGE, /* a pub/sub message: a push delivered only if the client still listens to it */
} mail_kind;

/* Bytes shared by the mail of many clients, freed when the last reference goes. */
typedef struct mail_body {
    atomic_size_t refs;
    size_t len;
    char data[];
} mail_body;

/* A body of len bytes (data to be filled) with one reference, the caller's. */
mail_body *mail_body_new(size_t len);
void mail_body_ref(mail_body *b);
/* Drops a reference; the last one frees it. NULL is ignored. Safe from any thread. */
void mail_body_unref(mail_body *b);

typedef struct mail {
    struct mail *next;
    uint64_t client_id;
    mail_kind kind;
    long long count;   /* MAIL_PUSH, MAIL_MESSAGE: how many elements body and shared hold */
    mail_body *shared; /* MAIL_MESSAGE: the bytes after body (its payload), or NULL */
    size_t len;        /* body's length */
    char body[];
} mail;

typedef struct mailbox {
    pthread_mutex_t lock; /* guards everything below */
    mail *head, *tail;
    size_t bytes;     /* queued, headers included, shared bodies not */
    size_t max_bytes; /* pushes past it are refused */
    idmap lost;       /* ids sent MAIL_LOST since the last take: later pushes to them are dropped */
    idmap queued;     /* ids given messages with a client_max since the last take: their bytes */
    /* Called, outside the lock, when a post finds the mailbox empty: the owner is to take. */
    void (*wake)(void *arg);
    void *wake_arg;
} mailbox;

void mailbox_init(mailbox *mb, size_t max_bytes, void (*wake)(void *arg), void *wake_arg);
/* Frees the messages never taken. */
void mailbox_destroy(mailbox *mb);
/* Posts a control message (any kind but MAIL_PUSH and MAIL_MESSAGE); never refused. Safe from
 * any thread. */
void mailbox_post(mailbox *mb, uint64_t client_id, mail_kind kind);
/* Posts a push (kind MAIL_PUSH or MAIL_MESSAGE) of count elements encoded in body. Returns 0,
 * or -1 if it was refused (the mailbox is full, or an earlier push to the client was): the
 * client is sent MAIL_LOST. Safe from any thread. */
int mailbox_push(mailbox *mb, uint64_t client_id, mail_kind kind, long long count, const void *body, size_t len);
/* mailbox_push of a MAIL_MESSAGE whose elements are head then shared's bytes (it takes a
 * reference to shared). The message is also refused if client_max is not 0 and the bytes
 * queued to the client with a client_max, this message's whole size included, would pass it. */
int mailbox_push_shared(mailbox *mb, uint64_t client_id, long long count, const void *head, size_t head_len,
                        mail_body *shared, size_t client_max);
/* Takes every queued message, oldest first, linked by next (NULL if none); the caller frees
 * each with mail_free(). Call from the owner. */
mail *mailbox_take(mailbox *mb);
void mail_free(mail *m);

#endif
