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
/* Whether events of the class are published (so that a command may skip work they need). */
int cmd_notify_wanted(int event_class);

#endif
