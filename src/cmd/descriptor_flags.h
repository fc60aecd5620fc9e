/* Short names for the descriptor rows that end each family file (cmd/hash.c, …): a row is
 * name, arity, flags, COMMAND INFO's legacy key range, handler, docs group, ACL categories,
 * summary, arguments (the syntax of cmd/docs.h) and key specs (Redis 7's key_specifications,
 * which dispatch uses to find the keys to lock). Included just above those rows, so the short
 * names reach no code. */
#ifndef TIDEKV_DESCRIPTOR_FLAGS_H
#define TIDEKV_DESCRIPTOR_FLAGS_H

#include "cmd/handlers.h"

#define W (CMD_WRITE)
#define R (CMD_READONLY)
#define F (CMD_FAST)
#define NK (CMD_NOKEYS)
#define B (CMD_BLOCKING)
#define OOM (CMD_DENYOOM)
#define NOSCRIPT (CMD_NOSCRIPT)
#define LOADING (CMD_LOADING)
#define STALE (CMD_STALE)
#define NOSLOWLOG (CMD_SKIP_SLOWLOG)
#define BUSY (CMD_ALLOW_BUSY)
#define PS (CMD_PUBSUB)
#define SUBSCRIBED (CMD_SUBSCRIBED_OK)

/* Key specs: keys from argv[idx] to lastkey (relative to idx, < 0 from the end) every step. */
#define RANGE(flags, idx, lastkey, step) {flags, KEY_BEGIN_INDEX, idx, KEY_FIND_RANGE, lastkey, step, 0}
/* argv[idx + numidx] keys from argv[idx + first] every step (numkeys). */
#define KEYNUM(flags, idx, numidx, first, step) {flags, KEY_BEGIN_INDEX, idx, KEY_FIND_KEYNUM, numidx, first, step}
/* Keys that only the command's getkeys function finds. */
#define UNKNOWN(flags) {flags, KEY_BEGIN_UNKNOWN, 0, KEY_FIND_UNKNOWN, 0, 0, 0}
#define KEYS(...) .key_specs = (const key_spec[]){__VA_ARGS__}, .nkey_specs = sizeof((key_spec[]){__VA_ARGS__}) / sizeof(key_spec)
#define NO_KEYS .key_specs = NULL

#endif
