/* Pub/sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB SSUBSCRIBE
 * SUNSUBSCRIBE SPUBLISH, with Redis 7's replies. The subscriptions are net/pubsub.c's; a
 * message reaches subscribers on any worker through their mailboxes. Nothing here writes data:
 * PUBLISH is not in the change stream. */
#include <stdlib.h>

#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "net/mailbox.h"
#include "net/pubsub.h"
#include "util/grow.h"

static const char *const subscribe_words[PUBSUB_SPACES] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsubscribe_words[PUBSUB_SPACES] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

/* What a (un)subscribe reply counts, as Redis does: channels and patterns together, shard
 * channels alone. */
static long long subscription_count(const client *c, pubsub_space space) {
    if (space == PUBSUB_SHARD) return pubsub_client_count(c, PUBSUB_SHARD);
    return pubsub_client_count(c, PUBSUB_CHANNEL) + pubsub_client_count(c, PUBSUB_PATTERN);
}

/* [word, name (nil when NULL), count]: a push in RESP3, an array in RESP2. */
static void reply_subscription(reply *r, const client *c, const char *word, pubsub_space space, const char *name,
                               size_t len) {
    reply_push(r, 3);
    reply_bulk_str(r, word);
    if (name) reply_bulk(r, name, len);
    else reply_null(r);
    reply_int(r, subscription_count(c, space));
}

static void subscribe(cmd_ctx *ctx, pubsub_space space) {
    for (int i = 1; i < ctx->argc; i++) {
        const resp_arg *name = &ctx->argv[i];
        pubsub_subscribe(ctx->c, space, name->ptr, name->len);
        reply_subscription(ctx->r, ctx->c, subscribe_words[space], space, name->ptr, name->len);
    }
}

typedef struct unsubscribing {
    cmd_ctx *ctx;
    pubsub_space space;
} unsubscribing;

static void reply_unsubscribed(void *arg, const char *name, size_t len) {
    unsubscribing *u = arg;
    reply_subscription(u->ctx->r, u->ctx->c, unsubscribe_words[u->space], u->space, name, len);
}

/* With no names: from every one, or a reply with a nil name when there is none. */
static void unsubscribe(cmd_ctx *ctx, pubsub_space space) {
    unsubscribing u = {ctx, space};
    if (ctx->argc == 1 && pubsub_client_count(ctx->c, space) == 0) {
        reply_unsubscribed(&u, NULL, 0);
    } else if (ctx->argc == 1) {
        pubsub_unsubscribe_all(ctx->c, space, reply_unsubscribed, &u);
    }
    for (int i = 1; i < ctx->argc; i++) {
        const resp_arg *name = &ctx->argv[i];
        pubsub_unsubscribe(ctx->c, space, name->ptr, name->len);
        reply_unsubscribed(&u, name->ptr, name->len);
    }
}

void cmd_subscribe(cmd_ctx *ctx) { subscribe(ctx, PUBSUB_CHANNEL); }
void cmd_psubscribe(cmd_ctx *ctx) { subscribe(ctx, PUBSUB_PATTERN); }
void cmd_ssubscribe(cmd_ctx *ctx) { subscribe(ctx, PUBSUB_SHARD); }
void cmd_unsubscribe(cmd_ctx *ctx) { unsubscribe(ctx, PUBSUB_CHANNEL); }
void cmd_punsubscribe(cmd_ctx *ctx) { unsubscribe(ctx, PUBSUB_PATTERN); }
void cmd_sunsubscribe(cmd_ctx *ctx) { unsubscribe(ctx, PUBSUB_SHARD); }

/* One head of a message (the channel's receivers get one, each matching pattern's another),
 * at an offset of delivery.heads: only the heads are per pattern, the payload is shared. */
typedef struct head {
    size_t at, len;
    long long count;
} head;

typedef struct receiver {
    client_ref to;
    size_t head;
} receiver;

/* A message on its way: its receivers are gathered under the registry's lock and sent it once
 * the lock is released, so that a receiver on this worker can get it straight away. */
typedef struct delivery {
    pubsub_space space;
    const char *channel;
    size_t channel_len;
    buf heads;
    head *head_list;
    size_t nheads, heads_cap;
    receiver *receivers;
    size_t nreceivers, receivers_cap;
} delivery;

static void gather(void *arg, const char *pattern, size_t plen, const client_ref *refs, size_t n) {
    delivery *d = arg;
    head h = {d->heads.len, 0, 0};
    h.count = pubsub_encode_head(&d->heads, d->space, pattern, plen, d->channel, d->channel_len);
    h.len = d->heads.len - h.at;
    d->head_list = grow_array(d->head_list, &d->heads_cap, d->nheads + 1, sizeof(h), 4);
    d->head_list[d->nheads++] = h;
    d->receivers = grow_array(d->receivers, &d->receivers_cap, d->nreceivers + n, sizeof(receiver), 16);
    for (size_t i = 0; i < n; i++) d->receivers[d->nreceivers++] = (receiver){refs[i], d->nheads - 1};
}

long long pubsub_send(pubsub_space space, const char *channel, size_t clen, const char *payload, size_t plen) {
    delivery d = {.space = space, .channel = channel, .channel_len = clen};
    buf_init(&d.heads);
    long long receivers = pubsub_publish(space, channel, clen, gather, &d);
    /* One copy of the payload, however many receivers and patterns. */
    mail_body *shared = d.nreceivers ? pubsub_encode_payload(payload, plen) : NULL;
    /* A receiver whose mailbox refuses it is closed (net_push): it is still counted, as Redis
     * counts a subscriber it then disconnects for its output limit. */
    for (size_t i = 0; i < d.nreceivers; i++) {
        const head *h = &d.head_list[d.receivers[i].head];
        (void)net_push_message(d.receivers[i].to, h->count, d.heads.data + h->at, h->len, shared);
    }
    mail_body_unref(shared);
    buf_free(&d.heads);
    free(d.head_list);
    free(d.receivers);
    return receivers;
}

/* Inside EXEC or a script the message waits for the commit, as the keyspace events do: a
 * script run again alone, or a commit that fails, sends nothing of the run not kept. */
static void publish(cmd_ctx *ctx, pubsub_space space) {
    const resp_arg *channel = &ctx->argv[1], *payload = &ctx->argv[2];
    long long receivers = ctx->in_exec ? cmd_publish_at_commit(ctx, space, channel, payload)
                                       : pubsub_send(space, channel->ptr, channel->len, payload->ptr, payload->len);
    reply_int(ctx->r, receivers);
}

void cmd_publish(cmd_ctx *ctx) { publish(ctx, PUBSUB_CHANNEL); }
void cmd_spublish(cmd_ctx *ctx) { publish(ctx, PUBSUB_SHARD); }

/* ---- PUBSUB ---- */

/* The names listed so far, into a side buffer: the array's length comes first. */
typedef struct listing {
    reply r;
    long long n;
} listing;

static void list_name(void *arg, const char *name, size_t len) {
    listing *l = arg;
    reply_bulk(&l->r, name, len);
    l->n++;
}

/* PUBSUB CHANNELS|SHARDCHANNELS [pattern]. */
static void pubsub_channels(cmd_ctx *ctx, pubsub_space space) {
    buf names;
    buf_init(&names);
    listing l = {{.out = &names, .resp = ctx->r->resp}, 0};
    const resp_arg *pattern = ctx->argc == 3 ? &ctx->argv[2] : NULL;
    pubsub_list(space, pattern ? pattern->ptr : NULL, pattern ? pattern->len : 0, list_name, &l);
    reply_array(ctx->r, l.n);
    reply_encoded(ctx->r, names.data, names.len);
    buf_free(&names);
}

/* PUBSUB NUMSUB|SHARDNUMSUB [channel ...]: a flat array of names and counts, as Redis 7. */
static void pubsub_numsub(cmd_ctx *ctx, pubsub_space space) {
    reply_array(ctx->r, (long long)(ctx->argc - 2) * 2);
    for (int i = 2; i < ctx->argc; i++) {
        reply_bulk(ctx->r, ctx->argv[i].ptr, ctx->argv[i].len);
        reply_int(ctx->r, pubsub_subscribers(space, ctx->argv[i].ptr, ctx->argv[i].len));
    }
}

static void pubsub_help(cmd_ctx *ctx) {
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    reply_help_lines(ctx, lines, sizeof(lines) / sizeof(lines[0]));
}

void cmd_pubsub(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "channels") && ctx->argc <= 3) {
        pubsub_channels(ctx, PUBSUB_CHANNEL);
    } else if (arg_is(sub, "shardchannels") && ctx->argc <= 3) {
        pubsub_channels(ctx, PUBSUB_SHARD);
    } else if (arg_is(sub, "numsub")) {
        pubsub_numsub(ctx, PUBSUB_CHANNEL);
    } else if (arg_is(sub, "shardnumsub")) {
        pubsub_numsub(ctx, PUBSUB_SHARD);
    } else if (arg_is(sub, "numpat") && ctx->argc == 2) {
        reply_int(ctx->r, pubsub_active(PUBSUB_PATTERN));
    } else if (arg_is(sub, "help") && ctx->argc == 2) {
        pubsub_help(ctx);
    } else if (arg_is(sub, "channels") || arg_is(sub, "shardchannels")) {
        /* Redis 7.0 checks their arguments in the command, not by arity: its error differs. */
        reply_errorf(ctx->r, "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try PUBSUB HELP.",
                     sub->ptr);
    } else {
        static const char *const known[] = {"channels", "shardchannels", "numsub", "shardnumsub", "numpat", "help",
                                            NULL};
        reply_subcommand_error(ctx, known);
    }
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The pub/sub commands. SUBSCRIBED marks what a RESP2 client in subscribed mode may run. */
static const cmd_def pubsub_defs[] = {
    {"subscribe", -2, NK | PS | SUBSCRIBED | NOSCRIPT | LOADING | STALE, 0, 0, 0, cmd_subscribe, "pubsub", "@pubsub @slow",
     "Listens for messages published to channels.",
     "channel...", NO_KEYS},
    {"unsubscribe", -1, NK | PS | SUBSCRIBED | NOSCRIPT | LOADING | STALE, 0, 0, 0, cmd_unsubscribe, "pubsub", "@pubsub @slow",
     "Stops listening to messages posted to channels.",
     "[channel]...", NO_KEYS},
    {"psubscribe", -2, NK | PS | SUBSCRIBED | NOSCRIPT | LOADING | STALE, 0, 0, 0, cmd_psubscribe, "pubsub", "@pubsub @slow",
     "Listens for messages published to channels that match one or more patterns.",
     "pattern:pattern...", NO_KEYS},
    {"punsubscribe", -1, NK | PS | SUBSCRIBED | NOSCRIPT | LOADING | STALE, 0, 0, 0, cmd_punsubscribe, "pubsub", "@pubsub @slow",
     "Stops listening to messages published to channels that match one or more patterns.",
     "[pattern:pattern]...", NO_KEYS},
    {"publish", 3, NK | PS | F | LOADING | STALE | CMD_MAY_REPLICATE, 0, 0, 0, cmd_publish, "pubsub", "@pubsub @fast",
     "Posts a message to a channel.",
     "channel message", NO_KEYS},
    {"pubsub", -2, NK | CMD_SUBCOMMANDS, 0, 0, 0, cmd_pubsub, "pubsub", "@slow",
     "Pub/sub introspection (CHANNELS, NUMSUB, NUMPAT, SHARDCHANNELS, SHARDNUMSUB, HELP).",
     "subcommand [argument]...", NO_KEYS},
    {"ssubscribe", -2, NK | PS | SUBSCRIBED | NOSCRIPT | LOADING | STALE, 1, -1, 1, cmd_ssubscribe, "pubsub", "@pubsub @slow",
     "Listens for messages published to shard channels.",
     "shardchannel...", KEYS(RANGE(KEY_NOT_KEY, 1, -1, 1))},
    {"sunsubscribe", -1, NK | PS | SUBSCRIBED | NOSCRIPT | LOADING | STALE, 1, -1, 1, cmd_sunsubscribe, "pubsub", "@pubsub @slow",
     "Stops listening to messages posted to shard channels.",
     "[shardchannel]...", KEYS(RANGE(KEY_NOT_KEY, 1, -1, 1))},
    {"spublish", 3, NK | PS | F | LOADING | STALE | CMD_MAY_REPLICATE, 1, 1, 1, cmd_spublish, "pubsub", "@pubsub @fast",
     "Posts a message to a shard channel.",
     "shardchannel message", KEYS(RANGE(KEY_NOT_KEY, 1, 0, 1))}
};
const cmd_family pubsub_commands = {pubsub_defs, sizeof(pubsub_defs) / sizeof(pubsub_defs[0])};
