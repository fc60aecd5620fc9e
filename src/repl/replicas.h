/* The master side of replication: the replicas connected to this node, as INFO replication,
 * ROLE and WAIT show them. A replica is a client that said PSYNC; each POLLUPDATES it sends
 * acknowledges everything up to the sequence it asks from. */
#ifndef TIDEKV_REPL_REPLICAS_H
#define TIDEKV_REPL_REPLICAS_H

#include <stdint.h>

typedef struct replica_entry {
    uint64_t client_id;
    char ip[64];
    int port;          /* REPLCONF listening-port, 0 if not given */
    uint64_t acked;    /* every sequence up to this one is applied there */
    int64_t last_ms;   /* monotonic time of its last acknowledgement */
    int syncing;       /* downloading a checkpoint (full sync): not counted by WAIT */
} replica_entry;

/* How the list learns that a client is gone, and closes one (net's registry): set once at
 * start-up. */
void replicas_set_clients(int (*is_connected)(uint64_t client_id), void (*disconnect)(uint64_t client_id));
/* Closes every replica's link: they ask PSYNC again, and learn the history this node now
 * belongs to (it followed a new master). */
void replicas_disconnect_all(void);
/* REPLCONF listening-port: the port to show for the client once it is a replica. */
void replicas_note_port(uint64_t client_id, const char *ip, int port);
/* PSYNC accepted: the client is a replica holding everything up to acked. */
void replicas_add(uint64_t client_id, const char *ip, uint64_t acked);
/* PSYNC answered with a full sync: the client is a replica downloading a checkpoint, until
 * its first POLLUPDATES. */
void replicas_add_syncing(uint64_t client_id, const char *ip);
/* A replica's POLLUPDATES from seq. */
void replicas_ack(uint64_t client_id, uint64_t seq);
/* Copies up to max connected replicas (online or syncing) into out; returns how many. */
int replicas_list(replica_entry *out, int max);
/* How many connected replicas have acknowledged every sequence up to seq. */
int replicas_acked(uint64_t seq);

/* A WAIT: woken (wake(arg), under the list's lock: it must not block) whenever a replica
 * acknowledges seq or more, until removed. */
typedef struct replicas_waiter {
    uint64_t seq;
    void (*wake)(void *arg);
    void *arg;
    struct replicas_waiter *prev, *next;
} replicas_waiter;
void replicas_wait_add(replicas_waiter *w);
void replicas_wait_remove(replicas_waiter *w);

#endif
