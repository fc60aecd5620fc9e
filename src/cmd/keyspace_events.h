/* Keyspace notifications (notify-keyspace-events), with Redis's classes and event names.
 *
 * A writing command notes each event in its txn (cmd_notify), next to where it records its
 * change, so that a command that fails leaves none behind; the events are published once the
 * commit is written, in the order noted: channel __keyspace@<db>__:<key> gets the event name
 * (class letter K) and __keyevent@<db>__:<event> the key (E). Nothing is noted unless the
 * event's class and K or E are enabled: a plain write pays one atomic load.
 *
 * PUBLISH and SPUBLISH inside EXEC or a script go the same way (cmd_publish_at_commit): their
 * messages go out after the commit, between the events in the order the commands ran, and
 * none goes out for a run that is not kept (a script run again alone, a failed commit). */
#ifndef TIDEKV_KEYSPACE_EVENTS_H
#define TIDEKV_KEYSPACE_EVENTS_H

#include <stddef.h>

#include "cmd/cmd.h"
#include "config.h" /* the KE_* event classes */
#include "net/pubsub.h"
#include "types/keyspace.h"

/* Registers the hooks that note expirations and publish committed events. Call at start-up. */
void keyspace_events_init(void);
/* Whether events of the class are published (so that a command may skip work they need). */
static inline int cmd_notify_wanted(int event_class) {
    int flags = CONFIG_READ(notify_keyspace_events);
    return (flags & event_class) && (flags & (KE_KEYSPACE | KE_KEYEVENT));
}
/* Notes event (of class, a KE_* bit of config.h) on key in database db, given by pointer and
 * length. */
void cmd_notify_in(cmd_ctx *ctx, int db, int event_class, const char *event, const char *key, size_t klen);
/* The same for a key in the command's database. Inline: with notifications off, a write pays
 * the one load of the class test, not a call. */
static inline void cmd_notify(cmd_ctx *ctx, int event_class, const char *event, const resp_arg *key) {
    if (cmd_notify_wanted(event_class)) cmd_notify_in(ctx, ctx->db, event_class, event, key->ptr, key->len);
}
/* Notes a message to channel in space (PUBSUB_CHANNEL or PUBSUB_SHARD), to be sent once the
 * txn has committed; returns how many receivers it has now, which is PUBLISH's reply. */
long long cmd_publish_at_commit(cmd_ctx *ctx, pubsub_space space, const resp_arg *channel, const resp_arg *payload);
/* For a write that replaces key without looking it up (SET, MSET): removes the key first if it
 * has expired, as a lookup would, so that "expired" goes before its "new" and "set" as in
 * Redis. Only while "expired" is wanted (one atomic load): otherwise the write over it is the
 * same, and it stays as fast. */
void cmd_expire_before_overwrite_in(cmd_ctx *ctx, const resp_arg *key);
static inline void cmd_expire_before_overwrite(cmd_ctx *ctx, const resp_arg *key) {
    if (cmd_notify_wanted(KE_EXPIRED)) cmd_expire_before_overwrite_in(ctx, key);
}
/* Notes "del" if the command's removals left key (a collection) empty, and so deleted. */
void cmd_notify_if_emptied(cmd_ctx *ctx, const resp_arg *key);
/* A STORE's events: event if it stored any member, else "del" if it replaced a key. */
void cmd_notify_store(cmd_ctx *ctx, int event_class, const char *event, const resp_arg *key, long long stored,
                      int replaced);
/* Whether the command's lookups from now on are reads, whose misses notify "keymiss" (Redis's
 * read lookups; its write lookups, of keys a command creates or changes, notify none). Each
 * command starts with its reads on if it is read-only: a writing command turns them on for
 * the keys it only reads (SET … GET, COPY's source, a STORE's sources). */
void cmd_read_lookups(cmd_ctx *ctx, int on);

/* What cmd_events_begin saw for cmd_events_end: with "new" wanted, the keys of a writing
 * command that were missing before it ran. */
typedef struct cmd_events {
    key_sink sink; /* first: the sink's add gets the cmd_events */
    cmd_ctx *ctx;
    size_t from; /* the txn's events before the command */
    struct missing_key *missing;
    int nmissing, cap;
} cmd_events;

/* The work of cmd_events_begin and cmd_events_end while keymiss or new is wanted. */
void cmd_events_watch(cmd_ctx *ctx, const cmd_def *def, cmd_events *ev, int flags);
void cmd_events_settle(cmd_ctx *ctx, cmd_events *ev);

/* Around each command's handler (dispatch): begin sets whether its lookups are reads and,
 * while "new" is wanted, notes which of a writing command's keys are missing; end notes "new"
 * for those the command created, each before the first event it noted for that key. Inline:
 * with neither wanted, they cost one atomic load and a store. */
static inline void cmd_events_begin(cmd_ctx *ctx, const cmd_def *def, cmd_events *ev) {
    int flags = CONFIG_READ(notify_keyspace_events);
    ev->nmissing = 0;
    if ((flags & (KE_KEYSPACE | KE_KEYEVENT)) && (flags & (KE_KEY_MISS | KE_NEW)))
        cmd_events_watch(ctx, def, ev, flags);
}

static inline void cmd_events_end(cmd_ctx *ctx, cmd_events *ev) {
    ks_report_misses(ctx->t, 0); /* the next command's begin sets them only while wanted */
    if (ev->nmissing > 0) cmd_events_settle(ctx, ev);
}

#endif
