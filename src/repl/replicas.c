#include "repl/replicas.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "util/timeutil.h"

/* A client announces its port before PSYNC makes it a replica: both are kept here, pending
 * entries being neither online nor syncing. */
typedef struct entry {
    replica_entry e;
    int online;
} entry;

static int listed(const entry *n) { return n->online || n->e.syncing; }

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;
static size_t nentries, cap;
static int (*liveness)(uint64_t client_id);
static void (*disconnect)(uint64_t client_id);
static replicas_waiter *waiters;

void replicas_set_clients(int (*is_connected)(uint64_t client_id), void (*close_client)(uint64_t client_id)) {
    liveness = is_connected;
    disconnect = close_client;
}

void replicas_disconnect_all(void) {
    pthread_mutex_lock(&lock);
    size_t n = nentries;
    uint64_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    if (!ids) abort();
    for (size_t i = 0; i < n; i++) ids[i] = entries[i].e.client_id;
    pthread_mutex_unlock(&lock); /* the closes reach net's registry, which calls no one back here */
    for (size_t i = 0; i < n; i++) disconnect(ids[i]);
    free(ids);
}

/* Drops the entries of clients that are gone; the caller holds the lock. */
static void prune(void) {
    size_t kept = 0;
    for (size_t i = 0; i < nentries; i++)
        if (liveness && liveness(entries[i].e.client_id)) entries[kept++] = entries[i];
    nentries = kept;
}

/* The entry of a client, added if new; the caller holds the lock. */
static entry *entry_of(uint64_t client_id, const char *ip) {
    for (size_t i = 0; i < nentries; i++)
        if (entries[i].e.client_id == client_id) return &entries[i];
    if (nentries == cap) prune(); /* before growing: clients that announced a port and left */
    entries = grow_array(entries, &cap, nentries + 1, sizeof(*entries), 4);
    entry *n = &entries[nentries++];
    memset(n, 0, sizeof(*n));
    n->e.client_id = client_id;
    snprintf(n->e.ip, sizeof(n->e.ip), "%s", ip);
    return n;
}

void replicas_note_port(uint64_t client_id, const char *ip, int port) {
    pthread_mutex_lock(&lock);
    entry_of(client_id, ip)->e.port = port;
    pthread_mutex_unlock(&lock);
}

void replicas_add(uint64_t client_id, const char *ip, uint64_t acked) {
    pthread_mutex_lock(&lock);
    entry *n = entry_of(client_id, ip);
    n->online = 1;
    n->e.syncing = 0;
    n->e.acked = acked;
    n->e.last_ms = time_mono_ms();
    pthread_mutex_unlock(&lock);
}

void replicas_add_syncing(uint64_t client_id, const char *ip) {
    pthread_mutex_lock(&lock);
    entry *n = entry_of(client_id, ip);
    n->online = 0; /* not one for WAIT or ROLE until it has the copy */
    n->e.syncing = 1;
    n->e.acked = 0;
    n->e.last_ms = time_mono_ms();
    pthread_mutex_unlock(&lock);
}

void replicas_ack(uint64_t client_id, uint64_t seq) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nentries; i++) {
        if (entries[i].e.client_id != client_id) continue;
        if (entries[i].e.syncing) { /* its first poll: it has loaded the copy */
            entries[i].e.syncing = 0;
            entries[i].online = 1;
        }
        if (seq > entries[i].e.acked) entries[i].e.acked = seq;
        entries[i].e.last_ms = time_mono_ms();
    }
    for (replicas_waiter *w = waiters; w; w = w->next)
        if (seq >= w->seq) w->wake(w->arg);
    pthread_mutex_unlock(&lock);
}

int replicas_acked(uint64_t seq) {
    pthread_mutex_lock(&lock);
    prune();
    int n = 0;
    for (size_t i = 0; i < nentries; i++) n += entries[i].online && entries[i].e.acked >= seq;
    pthread_mutex_unlock(&lock);
    return n;
}

void replicas_wait_add(replicas_waiter *w) {
    pthread_mutex_lock(&lock);
    w->prev = NULL;
    w->next = waiters;
    if (waiters) waiters->prev = w;
    waiters = w;
    pthread_mutex_unlock(&lock);
}

void replicas_wait_remove(replicas_waiter *w) {
    pthread_mutex_lock(&lock);
    if (w->prev) w->prev->next = w->next;
    else waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    pthread_mutex_unlock(&lock);
}

int replicas_list(replica_entry *out, int max) {
    pthread_mutex_lock(&lock);
    prune();
    int n = 0;
    for (size_t i = 0; i < nentries && n < max; i++)
        if (listed(&entries[i])) out[n++] = entries[i].e;
    pthread_mutex_unlock(&lock);
    return n;
}
