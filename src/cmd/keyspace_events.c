#include "cmd/keyspace_events.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/handlers.h"
#include "config.h"
#include "types/keyspace.h"

/* What the txn's events hook is given: keyspace events and, in the order their commands ran,
 * the messages PUBLISH and SPUBLISH sent inside EXEC or a script. */
enum { NOTED_EVENT, NOTED_MESSAGE, NOTED_SHARD_MESSAGE };

/* Lays a noted item out as the txn keeps it: kind (u8), db (int), name length (u32), name, key
 * length (u32), key. An event's name is the event's, its key the key's; a message's name is its
 * channel, its key the payload. */
static void encode_noted(buf *out, uint8_t kind, int db, const char *name, size_t nlen, const char *key,
                         size_t klen) {
    uint32_t len = (uint32_t)nlen;
    buf_append(out, &kind, 1);
    buf_append(out, &db, sizeof(db));
    buf_append(out, &len, sizeof(len));
    buf_append(out, name, nlen);
    len = (uint32_t)klen;
    buf_append(out, &len, sizeof(len));
    buf_append(out, key, klen);
}

static void encode_event(buf *out, int db, const char *event, const char *key, size_t klen) {
    encode_noted(out, NOTED_EVENT, db, event, strlen(event), key, klen);
}

/* Notes an event in the txn if its class is wanted. */
static void note(txn *t, int db, int event_class, const char *event, const char *key, size_t klen) {
    if (!cmd_notify_wanted(event_class)) return;
    buf e;
    buf_init(&e);
    encode_event(&e, db, event, key, klen);
    txn_add_event(t, e.data, e.len);
    buf_free(&e);
}

void cmd_notify_in(cmd_ctx *ctx, int db, int event_class, const char *event, const char *key, size_t klen) {
    note(ctx->t, db, event_class, event, key, klen);
}

void cmd_notify_store(cmd_ctx *ctx, int event_class, const char *event, const resp_arg *key, long long stored,
                      int replaced) {
    if (stored > 0) cmd_notify(ctx, event_class, event, key);
    else if (replaced) cmd_notify(ctx, KE_GENERIC, "del", key);
}

void cmd_notify_if_emptied(cmd_ctx *ctx, const resp_arg *key) {
    if (!cmd_notify_wanted(KE_GENERIC)) return;
    meta m;
    buf raw;
    buf_init(&raw);
    /* A read error here only costs the event: the command's own writes stand. */
    if (ks_peek_meta(ctx->t, ctx->db, key->ptr, key->len, &m, &raw) == KS_MISSING)
        note(ctx->t, ctx->db, KE_GENERIC, "del", key->ptr, key->len);
    buf_free(&raw);
}

void cmd_expire_before_overwrite_in(cmd_ctx *ctx, const resp_arg *key) {
    meta m;
    buf raw;
    buf_init(&raw);
    /* The lookup removes an expired key and notes "expired" (on_expired). A read error only
     * costs the event: the write goes on over whatever is there, as it would without it. */
    int rc = ks_lookup_meta(ctx->t, ctx->db, key->ptr, key->len, &m, &raw);
    (void)rc;
    buf_free(&raw);
}

/* A key found expired by a lookup (lazy expiry). */
static void on_expired(txn *t, int db, const char *key, size_t klen) {
    note(t, db, KE_EXPIRED, "expired", key, klen);
}

/* A key a read lookup did not find. */
static void on_miss(txn *t, int db, const char *key, size_t klen) { note(t, db, KE_KEY_MISS, "keymiss", key, klen); }

void cmd_read_lookups(cmd_ctx *ctx, int on) { ks_report_misses(ctx->t, on && cmd_notify_wanted(KE_KEY_MISS)); }

/* One item as encode_noted() laid it out. */
typedef struct event_view {
    uint8_t kind;
    int db;
    const char *name, *key;
    uint32_t nlen, klen;
} event_view;

/* Reads the item at p into ev; returns where the next one begins. */
static const char *read_event(const char *p, event_view *ev) {
    ev->kind = (uint8_t)*p++;
    memcpy(&ev->db, p, sizeof(ev->db));
    p += sizeof(ev->db);
    memcpy(&ev->nlen, p, sizeof(ev->nlen));
    p += sizeof(ev->nlen);
    ev->name = p;
    p += ev->nlen;
    memcpy(&ev->klen, p, sizeof(ev->klen));
    p += sizeof(ev->klen);
    ev->key = p;
    return p + ev->klen;
}

static int event_is(const event_view *ev, const char *name) {
    return ev->nlen == strlen(name) && memcmp(ev->name, name, ev->nlen) == 0;
}

/* A key of a write command that was missing before it ran. */
typedef struct missing_key {
    int db;
    const char *key;
    size_t klen;
} missing_key;

/* key_sink of cmd_events_begin: notes the command's keys that are missing now. */
static void note_if_missing(key_sink *sink, key_ref k) {
    cmd_events *ev = (cmd_events *)sink;
    if (k.flags & KEY_NOT_KEY) return;
    cmd_ctx *ctx = ev->ctx;
    int db = k.db >= 0 ? k.db : ctx->db;
    meta m;
    buf raw;
    buf_init(&raw);
    int rc = ks_peek_meta(ctx->t, db, ctx->argv[k.pos].ptr, ctx->argv[k.pos].len, &m, &raw);
    buf_free(&raw);
    if (rc != KS_MISSING) return; /* there (or a read error, which the command meets too) */
    if (ev->nmissing == ev->cap) {
        ev->cap = ev->cap ? ev->cap * 2 : 4;
        ev->missing = realloc(ev->missing, (size_t)ev->cap * sizeof(*ev->missing));
        if (!ev->missing) abort();
    }
    ev->missing[ev->nmissing++] = (missing_key){db, ctx->argv[k.pos].ptr, ctx->argv[k.pos].len};
}

void cmd_events_watch(cmd_ctx *ctx, const cmd_def *def, cmd_events *ev, int flags) {
    ks_report_misses(ctx->t, (def->flags & CMD_READONLY) && (flags & KE_KEY_MISS));
    if (!(flags & KE_NEW) || !(def->flags & CMD_WRITE)) return;
    ev->sink.add = note_if_missing;
    ev->ctx = ctx;
    ev->from = ctx->t->events.len;
    ev->missing = NULL;
    ev->cap = 0;
    (void)cmd_get_keys(def, ctx->argc, ctx->argv, &ev->sink);
}

/* Where "new" goes for a key the command created: before the first event the command noted
 * for it (that of the lookup that found it expired aside), as Redis adds a key before it
 * notifies the change; (size_t)-1 if "new" was noted for it already (RENAME, COPY). */
static size_t new_event_offset(const txn *t, size_t from, const missing_key *k) {
    const char *base = t->events.data, *end = base + t->events.len;
    for (const char *p = base + from; p < end;) {
        event_view ev;
        const char *at = p;
        p = read_event(p, &ev);
        if (ev.kind != NOTED_EVENT) continue; /* a message */
        if (ev.db != k->db || ev.klen != k->klen || memcmp(ev.key, k->key, k->klen) != 0) continue;
        if (event_is(&ev, "new")) return (size_t)-1;
        if (!event_is(&ev, "expired") && !event_is(&ev, "keymiss")) return (size_t)(at - base);
    }
    return t->events.len;
}

/* Notes "new" for each key missing before the command that it left in place. */
static void note_new_keys(cmd_ctx *ctx, const cmd_events *ev) {
    buf event;
    buf_init(&event);
    for (int i = 0; i < ev->nmissing; i++) {
        const missing_key *k = &ev->missing[i];
        meta m;
        buf raw;
        buf_init(&raw);
        int rc = ks_peek_meta(ctx->t, k->db, k->key, k->klen, &m, &raw);
        buf_free(&raw);
        if (rc != KS_FOUND && rc != KS_CORRUPT) continue;
        size_t at = new_event_offset(ctx->t, ev->from, k);
        if (at == (size_t)-1) continue;
        buf_clear(&event);
        encode_event(&event, k->db, "new", k->key, k->klen);
        txn_insert_event(ctx->t, at, event.data, event.len);
    }
    buf_free(&event);
}

void cmd_events_settle(cmd_ctx *ctx, cmd_events *ev) {
    if (!ctx->failed) note_new_keys(ctx, ev);
    free(ev->missing);
}

static void publish(const char *channel, size_t clen, const char *message, size_t mlen) {
    (void)pubsub_send(PUBSUB_CHANNEL, channel, clen, message, mlen);
}

/* Publishes one event on the channels K and E ask for. */
static void publish_event(int flags, int db, const char *event, size_t elen, const char *key, size_t klen) {
    buf channel;
    buf_init(&channel);
    if (flags & KE_KEYSPACE) {
        buf_printf(&channel, "__keyspace@%d__:", db);
        buf_append(&channel, key, klen);
        publish(channel.data, channel.len, event, elen);
    }
    if (flags & KE_KEYEVENT) {
        buf_clear(&channel);
        buf_printf(&channel, "__keyevent@%d__:", db);
        buf_append(&channel, event, elen);
        publish(channel.data, channel.len, key, klen);
    }
    buf_free(&channel);
}

/* The txn's events hook: a committed txn's events and messages, in order. */
static void publish_events(const char *events, size_t len) {
    int flags = CONFIG_READ(notify_keyspace_events);
    for (const char *p = events, *end = events + len; p < end;) {
        event_view ev;
        p = read_event(p, &ev);
        if (ev.kind == NOTED_EVENT) {
            publish_event(flags, ev.db, ev.name, ev.nlen, ev.key, ev.klen);
        } else {
            pubsub_space space = ev.kind == NOTED_SHARD_MESSAGE ? PUBSUB_SHARD : PUBSUB_CHANNEL;
            (void)pubsub_send(space, ev.name, ev.nlen, ev.key, ev.klen);
        }
    }
}

/* Visits no one: counting the receivers is all cmd_publish_at_commit asks of the registry. */
static void count_only(void *arg, const char *pattern, size_t plen, const client_ref *refs, size_t n) {
    (void)arg, (void)pattern, (void)plen, (void)refs, (void)n;
}

long long cmd_publish_at_commit(cmd_ctx *ctx, pubsub_space space, const resp_arg *channel, const resp_arg *payload) {
    buf e;
    buf_init(&e);
    uint8_t kind = space == PUBSUB_SHARD ? NOTED_SHARD_MESSAGE : NOTED_MESSAGE;
    encode_noted(&e, kind, 0, channel->ptr, channel->len, payload->ptr, payload->len);
    txn_add_event(ctx->t, e.data, e.len);
    buf_free(&e);
    return pubsub_publish(space, channel->ptr, channel->len, count_only, NULL);
}

void keyspace_events_init(void) {
    txn_set_events_hook(publish_events);
    ks_set_expired_hook(on_expired);
    ks_set_miss_hook(on_miss);
}
