#include "cmd/keyspace_events.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/handlers.h"
#include "config.h"
#include "types/keyspace.h"

int cmd_notify_wanted(int event_class) {
    int flags = CONFIG_READ(notify_keyspace_events);
    return (flags & event_class) && (flags & (KE_KEYSPACE | KE_KEYEVENT));
}

/* Notes an event in the txn as db (int), event name length (u8), name, key length (u32), key. */
static void note(txn *t, int db, int event_class, const char *event, const char *key, size_t klen) {
    if (!cmd_notify_wanted(event_class)) return;
    uint8_t elen = (uint8_t)strlen(event);
    uint32_t len = (uint32_t)klen;
    txn_add_event(t, &db, sizeof(db));
    txn_add_event(t, &elen, 1);
    txn_add_event(t, event, elen);
    txn_add_event(t, &len, sizeof(len));
    txn_add_event(t, key, klen);
}

void cmd_notify_in(cmd_ctx *ctx, int db, int event_class, const char *event, const char *key, size_t klen) {
    note(ctx->t, db, event_class, event, key, klen);
}

void cmd_notify(cmd_ctx *ctx, int event_class, const char *event, const resp_arg *key) {
    note(ctx->t, ctx->db, event_class, event, key->ptr, key->len);
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

/* A key found expired by a lookup (lazy expiry). */
static void on_expired(txn *t, int db, const char *key, size_t klen) {
    note(t, db, KE_EXPIRED, "expired", key, klen);
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

/* The txn's events hook: a committed txn's events, as note() laid them out. */
static void publish_events(const char *events, size_t len) {
    int flags = CONFIG_READ(notify_keyspace_events);
    for (const char *p = events, *end = events + len; p < end;) {
        int db;
        uint8_t elen;
        uint32_t klen;
        memcpy(&db, p, sizeof(db));
        p += sizeof(db);
        elen = (uint8_t)*p++;
        const char *event = p;
        p += elen;
        memcpy(&klen, p, sizeof(klen));
        p += sizeof(klen);
        publish_event(flags, db, event, elen, p, klen);
        p += klen;
    }
}

void keyspace_events_init(void) {
    txn_set_events_hook(publish_events);
    ks_set_expired_hook(on_expired);
}
