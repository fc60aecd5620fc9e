/* Connection commands: PING ECHO HELLO AUTH SELECT QUIT CLIENT RESET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "config.h"
#include "net/net.h"
#include "net/pubsub.h"
#include "repl/replica.h"

void cmd_ping(cmd_ctx *ctx) {
    if (ctx->argc > 2) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    if ((ctx->c->flags & CLIENT_PUBSUB) && ctx->c->resp == 2) {
        /* In subscribed mode a RESP2 reply must look like the messages around it, as in Redis. */
        reply_array(ctx->r, 2);
        reply_bulk_str(ctx->r, "pong");
        reply_bulk(ctx->r, ctx->argc == 2 ? ctx->argv[1].ptr : "", ctx->argc == 2 ? ctx->argv[1].len : 0);
    } else if (ctx->argc == 2) {
        reply_bulk(ctx->r, ctx->argv[1].ptr, ctx->argv[1].len);
    } else {
        reply_simple(ctx->r, "PONG");
    }
}

void cmd_echo(cmd_ctx *ctx) { reply_bulk(ctx->r, ctx->argv[1].ptr, ctx->argv[1].len); }

/* Checks a username/password pair; only the "default" user exists. */
static int credentials_ok(const resp_arg *user, const resp_arg *pass) {
    if (user && !arg_is(user, "default")) return 0;
    if (!config_password_set()) return 1;
    return config_password_matches(pass->ptr, pass->len);
}

void cmd_auth(cmd_ctx *ctx) {
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 2 && !config_password_set()) {
        reply_error(ctx->r, "ERR AUTH <password> called without any password configured for the default user. "
                            "Are you sure your configuration is correct?");
        return;
    }
    const resp_arg *user = ctx->argc == 3 ? &ctx->argv[1] : NULL;
    if (!credentials_ok(user, &ctx->argv[ctx->argc - 1])) {
        reply_error(ctx->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    ctx->c->authenticated = 1;
    reply_ok(ctx->r);
}

static int valid_client_name(const resp_arg *a) {
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~') return 0;
    return 1;
}

static void reply_hello(cmd_ctx *ctx) {
    reply *r = ctx->r;
    reply_map(r, 7);
    reply_bulk_str(r, "server");
    reply_bulk_str(r, "redis");
    reply_bulk_str(r, "version");
    reply_bulk_str(r, TIDEKV_REDIS_VERSION);
    reply_bulk_str(r, "proto");
    reply_int(r, ctx->c->resp);
    reply_bulk_str(r, "id");
    reply_int(r, (long long)ctx->c->id);
    reply_bulk_str(r, "mode");
    reply_bulk_str(r, "standalone");
    reply_bulk_str(r, "role");
    reply_bulk_str(r, "master");
    reply_bulk_str(r, "modules");
    reply_array(r, 0);
}

void cmd_hello(cmd_ctx *ctx) {
    long long version = ctx->c->resp;
    int i = 1;
    if (ctx->argc >= 2) {
        if (arg_parse_ll(&ctx->argv[1], &version) < 0) {
            reply_error(ctx->r, "ERR Protocol version is not an integer or out of range");
            return;
        }
        i = 2;
        if (version < 2 || version > 3) {
            reply_error(ctx->r, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const resp_arg *user = NULL, *pass = NULL, *name = NULL;
    for (; i < ctx->argc; i++) {
        int left = ctx->argc - i - 1;
        if (arg_is(&ctx->argv[i], "auth") && left >= 2) {
            user = &ctx->argv[i + 1];
            pass = &ctx->argv[i + 2];
            i += 2;
        } else if (arg_is(&ctx->argv[i], "setname") && left >= 1) {
            name = &ctx->argv[++i];
        } else {
            reply_errorf(ctx->r, "ERR Syntax error in HELLO option '%.*s'", (int)ctx->argv[i].len, ctx->argv[i].ptr);
            return;
        }
    }
    if (user && !credentials_ok(user, pass)) {
        reply_error(ctx->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    if (user) ctx->c->authenticated = 1;
    if (!ctx->c->authenticated) {
        reply_error(ctx->r, "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
                            "select the RESP protocol version at the same time");
        return;
    }
    if (name && !valid_client_name(name)) {
        reply_error(ctx->r, "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    if (name) net_client_set_name(ctx->c, name->ptr, name->len);
    ctx->c->resp = (int)version;
    ctx->r->resp = (int)version;
    reply_hello(ctx);
}

void cmd_select(cmd_ctx *ctx) {
    long long db;
    if (arg_ll(ctx, &ctx->argv[1], &db) < 0) return;
    if (db < 0 || db >= CONFIG_READ(databases)) {
        reply_error(ctx->r, "ERR DB index is out of range");
        return;
    }
    ctx->c->db = (int)db;
    ctx->db = (int)db;
    reply_ok(ctx->r);
}

void cmd_quit(cmd_ctx *ctx) {
    reply_ok(ctx->r);
    ctx->c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* A client type by Redis's names (slave and replica are one); -1 if unknown, after replying. */
static int parse_client_type(cmd_ctx *ctx, const resp_arg *name, client_type *type) {
    static const struct {
        const char *name;
        client_type type;
    } types[] = {{"normal", CLIENT_TYPE_NORMAL},   {"slave", CLIENT_TYPE_REPLICA},  {"replica", CLIENT_TYPE_REPLICA},
                 {"pubsub", CLIENT_TYPE_PUBSUB}, {"master", CLIENT_TYPE_MASTER}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (arg_is(name, types[i].name)) {
            *type = types[i].type;
            return 0;
        }
    reply_errorf(ctx->r, "ERR Unknown client type '%.*s'", (int)name->len, name->ptr);
    return -1;
}

/* A NUL-terminated copy of an address argument into out (a longer one matches no client). */
static const char *address_arg(const resp_arg *a, char *out, size_t len) {
    snprintf(out, len, "%.*s", (int)a->len, a->ptr);
    return out;
}

/* CLIENT KILL's filters: [ID id] [TYPE type] [USER name] [ADDR ip:port] [LADDR ip:port]
 * [SKIPME yes|no], in any order, the last of each kind counting. 0, or -1 after replying. */
static int parse_kill_filter(cmd_ctx *ctx, client_filter *f, int *any_user, char *addr, char *laddr, size_t len) {
    for (int i = 2; i < ctx->argc; i += 2) {
        if (i + 1 >= ctx->argc) {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
        const resp_arg *opt = &ctx->argv[i], *v = &ctx->argv[i + 1];
        if (arg_is(opt, "id")) {
            long long id;
            if (arg_parse_ll(v, &id) < 0 || id <= 0) {
                reply_error(ctx->r, "ERR client-id should be greater than 0");
                return -1;
            }
            f->id = (uint64_t)id;
        } else if (arg_is(opt, "type")) {
            if (parse_client_type(ctx, v, &f->type) < 0) return -1;
        } else if (arg_is(opt, "user")) {
            if (v->len != strlen("default") || memcmp(v->ptr, "default", v->len) != 0) { /* the only user */
                reply_errorf(ctx->r, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                return -1;
            }
            *any_user = 0;
        } else if (arg_is(opt, "addr")) {
            f->addr = address_arg(v, addr, len);
        } else if (arg_is(opt, "laddr")) {
            f->laddr = address_arg(v, laddr, len);
        } else if (arg_is(opt, "skipme") && (arg_is(v, "yes") || arg_is(v, "no"))) {
            f->skip = arg_is(v, "yes") ? ctx->c : NULL;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* The replica's link to its master is a client of type master with no id, address or user that
 * a filter could name (CLIENT LIST does not show it): only a filter on none of them reaches it. */
static int kill_master_link(const client_filter *f, int any_user) {
    int reaches = (f->type == CLIENT_TYPE_ANY || f->type == CLIENT_TYPE_MASTER) && f->id == 0 && !f->addr &&
                  !f->laddr && any_user;
    return reaches ? replica_drop_link() : 0;
}

/* CLIENT KILL ip:port (OK, or an error if no client has that address; it may be the caller)
 * | CLIENT KILL <filter>… (how many clients it closed; the caller is skipped unless SKIPME no). */
static void client_kill(cmd_ctx *ctx) {
    char addr[128], laddr[128];
    int killed;
    if (ctx->argc == 3) {
        client_filter f = {.type = CLIENT_TYPE_ANY, .addr = address_arg(&ctx->argv[2], addr, sizeof(addr))};
        killed = net_client_kill(&f, ctx->c);
        if (killed == 0)
            reply_error(ctx->r, "ERR No such client");
        else
            reply_ok(ctx->r);
    } else {
        client_filter f = {.type = CLIENT_TYPE_ANY, .skip = ctx->c};
        int any_user = 1;
        if (parse_kill_filter(ctx, &f, &any_user, addr, laddr, sizeof(addr)) < 0) return;
        killed = net_client_kill(&f, ctx->c) + kill_master_link(&f, any_user);
        reply_int(ctx->r, killed);
    }
    /* Killing oneself: this reply is the last. */
    if (atomic_load(&ctx->c->kill_requested)) ctx->c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* CLIENT LIST [TYPE type | ID id…]: the clients of that type, or those ids in the order given
 * (an id that is no client's lists nothing). */
static void client_list(cmd_ctx *ctx) {
    buf out;
    buf_init(&out);
    client_filter f = {.type = CLIENT_TYPE_ANY};
    if (ctx->argc == 4 && arg_is(&ctx->argv[2], "type")) {
        if (parse_client_type(ctx, &ctx->argv[3], &f.type) < 0) return;
        net_client_list(&out, &f, ctx->c);
    } else if (ctx->argc > 3 && arg_is(&ctx->argv[2], "id")) {
        long long id;
        for (int i = 3; i < ctx->argc; i++)
            if (arg_parse_ll(&ctx->argv[i], &id) < 0) {
                reply_error(ctx->r, "ERR Invalid client ID");
                buf_free(&out);
                return;
            }
        for (int i = 3; i < ctx->argc; i++) {
            if (arg_parse_ll(&ctx->argv[i], &id) < 0 || id <= 0) continue; /* checked above; <= 0: no client */
            f.id = (uint64_t)id;
            net_client_list(&out, &f, ctx->c);
        }
    } else if (ctx->argc == 2) {
        net_client_list(&out, &f, ctx->c);
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    reply_verbatim(ctx->r, out.data ? out.data : "", out.len);
    buf_free(&out);
}

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if the client was blocked (it is unblocked by its own
 * worker, whichever that is). */
static void client_unblock(cmd_ctx *ctx) {
    long long id;
    if (arg_ll(ctx, &ctx->argv[2], &id) < 0) return;
    int as_error = 0;
    if (ctx->argc == 4) {
        if (arg_is(&ctx->argv[3], "error")) {
            as_error = 1;
        } else if (!arg_is(&ctx->argv[3], "timeout")) {
            reply_error(ctx->r, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    unsigned long long block_id;
    int unblocked = id > 0 && net_client_unblock((uint64_t)id, as_error, &block_id);
    /* No commit from here on serves it (this one's EXEC included), as Redis unblocks it at once. */
    if (unblocked) blocking_unblocking((uint64_t)id, block_id);
    reply_int(ctx->r, unblocked);
}

void cmd_client(cmd_ctx *ctx) {
    const resp_arg *sub = &ctx->argv[1];
    if (arg_is(sub, "id") && ctx->argc == 2) {
        reply_int(ctx->r, (long long)ctx->c->id);
    } else if (arg_is(sub, "setname") && ctx->argc == 3) {
        if (!valid_client_name(&ctx->argv[2])) {
            reply_error(ctx->r, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        net_client_set_name(ctx->c, ctx->argv[2].ptr, ctx->argv[2].len);
        reply_ok(ctx->r);
    } else if (arg_is(sub, "getname") && ctx->argc == 2) {
        if (ctx->c->name)
            reply_bulk_str(ctx->r, ctx->c->name);
        else
            reply_null(ctx->r);
    } else if (arg_is(sub, "list")) {
        client_list(ctx);
    } else if (arg_is(sub, "info") && ctx->argc == 2) {
        buf out;
        buf_init(&out);
        client_filter self = {.id = ctx->c->id, .type = CLIENT_TYPE_ANY};
        net_client_list(&out, &self, ctx->c);
        reply_verbatim(ctx->r, out.data ? out.data : "", out.len);
        buf_free(&out);
    } else if (arg_is(sub, "kill") && ctx->argc >= 3) {
        client_kill(ctx);
    } else if (arg_is(sub, "unblock") && (ctx->argc == 3 || ctx->argc == 4)) {
        client_unblock(ctx);
    } else if (arg_is(sub, "setinfo") && ctx->argc == 4) {
        reply_ok(ctx->r);
    } else {
        static const char *const known[] = {"id",   "setname", "getname", "list", "info",
                                            "kill", "unblock", "setinfo", NULL};
        reply_subcommand_error(ctx, known);
    }
}

void cmd_reset(cmd_ctx *ctx) {
    client *c = ctx->c;
    dispatch_discard(c);
    dispatch_unwatch(c);
    pubsub_client_leave(c); /* out of subscribed mode, without a reply per subscription */
    c->db = 0;
    c->resp = 2;
    ctx->r->resp = 2;
    net_client_set_name(c, NULL, 0);
    c->authenticated = !config_password_set();
    reply_simple(ctx->r, "RESET");
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The connection commands. */
static const cmd_def connection_defs[] = {
    {"ping", -1, NK | F | SUBSCRIBED, 0, 0, 0, cmd_ping, "connection", "@fast @connection",
     "Returns the server's liveliness response.",
     "[message]", NO_KEYS},
    {"echo", 2, NK | F | LOADING | STALE, 0, 0, 0, cmd_echo, "connection", "@fast @connection",
     "Returns the given string.",
     "message", NO_KEYS},
    {"auth", -2, NK | CMD_NOAUTH | F | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_auth, "connection", "@fast @connection",
     "Authenticates the connection.",
     "[username] password", NO_KEYS},
    {"hello", -1, NK | CMD_NOAUTH | F | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_hello, "connection", "@fast @connection",
     "Handshakes with the server (RESP2/RESP3).",
     "arguments[protover:int username_password[AUTH username password] [SETNAME clientname]]", NO_KEYS},
    {"select", 2, NK | F | LOADING | STALE, 0, 0, 0, cmd_select, "connection", "@fast @connection",
     "Changes the selected database.",
     "index:int", NO_KEYS},
    {"quit", -1, NK | CMD_NOAUTH | CMD_NOQUEUE | F | SUBSCRIBED | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_quit, "connection", "@fast @connection",
     "Closes the connection.",
     "", NO_KEYS},
    {"reset", 1, NK | CMD_NOAUTH | CMD_NOQUEUE | F | SUBSCRIBED | NOSCRIPT | LOADING | STALE | BUSY, 0, 0, 0, cmd_reset, "connection", "@fast @connection",
     "Resets the connection.",
     "", NO_KEYS},
    {"client", -2, NK | CMD_SUBCOMMANDS | NOSCRIPT, 0, 0, 0, cmd_client, "connection", "@slow",
     "Client connection management (ID, SETNAME, LIST, KILL, UNBLOCK …).",
     "subcommand [argument]...", NO_KEYS}
};
const cmd_family connection_commands = {connection_defs, sizeof(connection_defs) / sizeof(connection_defs[0])};
