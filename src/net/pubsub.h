/* Pub/sub subscriptions: which clients listen to which channels, patterns and shard channels.
 * The registry is shared by every worker, under pubsub_lock (THREADING.md); each client also
 * keeps the names it listens to, which only its own worker reads or changes. The registry
 * holds client_refs, never clients: a publisher on another worker only posts to the
 * subscriber's mailbox, which drops mail for a client that has gone, so a client leaving while
 * another worker publishes to it is safe. */
#ifndef TIDEKV_PUBSUB_H
#define TIDEKV_PUBSUB_H

#include <stddef.h>

#include "net/net.h"

/* The three namespaces, as Redis 7 standalone has them: shard channels (SSUBSCRIBE, SPUBLISH)
 * are channels of their own, apart from those of SUBSCRIBE and PUBLISH. */
typedef enum pubsub_space { PUBSUB_CHANNEL, PUBSUB_PATTERN, PUBSUB_SHARD, PUBSUB_SPACES } pubsub_space;

/* Subscribes the client to name; returns 1, or 0 if it was subscribed already. The client is in
 * subscribed mode (CLIENT_PUBSUB) while it has any subscription. Call from the client's worker
 * (as for all the pubsub_client_* and *_subscribe functions). */
int pubsub_subscribe(client *c, pubsub_space space, const char *name, size_t len);
/* Unsubscribes the client from name; returns 1, or 0 if it was not subscribed. */
int pubsub_unsubscribe(client *c, pubsub_space space, const char *name, size_t len);
/* Unsubscribes the client from every name of the space; each (if not NULL) is called with every
 * name after it is gone. */
void pubsub_unsubscribe_all(client *c, pubsub_space space, void (*each)(void *arg, const char *name, size_t len),
                            void *arg);
/* How many names of the space the client is subscribed to. */
long long pubsub_client_count(const client *c, pubsub_space space);
/* Whether the client is still subscribed to name (a message posted before it unsubscribed is
 * not delivered after). */
int pubsub_client_listens(const client *c, pubsub_space space, const char *name, size_t len);
/* Unsubscribes the client from everything and frees its part (a client that goes, RESET). */
void pubsub_client_leave(client *c);

/* Encodes a message as Redis sends it, the elements without the push header, in two parts:
 * its head (what differs between its receivers), ["message", channel], ["pmessage", pattern,
 * channel] (pattern not NULL) or ["smessage", channel] (space PUBSUB_SHARD), then its payload,
 * shared by all of them. Returns how many elements the whole message has. */
long long pubsub_encode_head(buf *head, pubsub_space space, const char *pattern, size_t plen, const char *channel,
                             size_t clen);
/* The payload's bulk string, with one reference (the caller's): mail_body_unref frees it. */
mail_body *pubsub_encode_payload(const char *payload, size_t len);
/* Whether the client still listens to the channel, pattern or shard channel that a message
 * headed by pubsub_encode_head came through. Call from the client's worker. */
int pubsub_message_wanted(const client *c, const void *body, size_t len);

/* One group of receivers of a message: the channel's subscribers (pattern NULL) or those of a
 * pattern that matches it. Called under the registry's lock: it copies what it needs and takes
 * no lock; the message is sent once the lock is released (net_push_message). */
typedef void (*pubsub_visit)(void *arg, const char *pattern, size_t plen, const client_ref *refs, size_t n);
/* Visits the receivers of a message to channel in space (PUBSUB_CHANNEL: the channel's and the
 * matching patterns' subscribers; PUBSUB_SHARD: the shard channel's) and returns how many
 * deliveries that makes, a client counted once per subscription that matches, as Redis counts
 * PUBLISH's receivers. Safe from any thread. */
long long pubsub_publish(pubsub_space space, const char *channel, size_t len, pubsub_visit visit, void *arg);
/* Calls each with every name of the space that has subscribers and matches pattern (Redis's
 * glob; NULL matches all). Safe from any thread; each must take no lock. */
void pubsub_list(pubsub_space space, const char *pattern, size_t plen,
                 void (*each)(void *arg, const char *name, size_t len), void *arg);
/* How many clients are subscribed to name. Safe from any thread. */
long long pubsub_subscribers(pubsub_space space, const char *name, size_t len);
/* How many names of the space have subscribers (INFO, PUBSUB NUMPAT). Safe from any thread. */
long long pubsub_active(pubsub_space space);

#endif
