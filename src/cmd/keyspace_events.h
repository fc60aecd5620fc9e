/* Keyspace notifications (notify-keyspace-events), with Redis's classes and event names.
 *
 * A writing command notes each event in its txn (cmd_notify), next to where it records its
 * change, so that a command that fails leaves none behind; the events are published once the
 * commit is written, in the order noted: channel __keyspace@<db>__:<key> gets the event name
 * (class letter K) and __keyevent@<db>__:<event> the key (E). Nothing is noted unless the
 * event's class and K or E are enabled: a plain write pays one atomic load. */
#ifndef TIDEKV_KEYSPACE_EVENTS_H
#define TIDEKV_KEYSPACE_EVENTS_H

#include <stddef.h>

#include "cmd/cmd.h"
#include "config.h" /* the KE_* event classes */

/* Registers the hooks that note expirations and publish committed events. Call at start-up. */
void keyspace_events_init(void);
/* Notes event (of class, a KE_* bit of config.h) on key in the command's database. */
void cmd_notify(cmd_ctx *ctx, int event_class, const char *event, const resp_arg *key);
/* The same for a key given by pointer and length, in database db. */
void cmd_notify_in(cmd_ctx *ctx, int db, int event_class, const char *event, const char *key, size_t klen);
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

/* Around each command's handler (dispatch): begin sets whether its lookups are reads and,
 * while "new" is wanted, notes which of a writing command's keys are missing; end notes "new"
 * for those the command created, each before the first event it noted for that key. With
 * notifications off, they cost one atomic load. */
void cmd_events_begin(cmd_ctx *ctx, const cmd_def *def, cmd_events *ev);
void cmd_events_end(cmd_ctx *ctx, cmd_events *ev);
/* Whether events of the class are published (so that a command may skip work they need). */
int cmd_notify_wanted(int event_class);

#endif
