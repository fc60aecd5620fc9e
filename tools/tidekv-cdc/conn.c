#include "conn.h"

#include <stdio.h>
#include <string.h>

/* Connecting gives up after this long; a command (a BLOCKed poll included, which waits at most
 * a second) after IO_TIMEOUT_S: a server that stops answering is treated as gone. */
#define CONNECT_TIMEOUT_S 5
#define IO_TIMEOUT_S 30

static int parse_port(const char *text, size_t len, int *port) {
    if (len == 0 || len > 5) return -1;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        n = n * 10 + (text[i] - '0');
    }
    if (n < 1 || n > 65535) return -1;
    *port = n;
    return 0;
}

int endpoint_parse(const char *text, size_t len, int default_port, endpoint *out, char *err, size_t errlen) {
    const char *host = text, *port = NULL;
    size_t host_len;
    if (len > 0 && text[0] == '[') { /* [IPv6]:port */
        const char *close = memchr(text, ']', len);
        if (!close) {
            snprintf(err, errlen, "'%.*s': missing ']' after an IPv6 address", (int)len, text);
            return -1;
        }
        host = text + 1;
        host_len = (size_t)(close - host);
        size_t rest = len - (size_t)(close + 1 - text);
        if (rest > 0 && close[1] != ':') {
            snprintf(err, errlen, "'%.*s': expected ':port' after ']'", (int)len, text);
            return -1;
        }
        if (rest > 0) port = close + 2;
    } else {
        const char *colon = memchr(text, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - text))) {
            snprintf(err, errlen, "'%.*s': write an IPv6 address in brackets, e.g. [::1]:6666", (int)len, text);
            return -1;
        }
        host_len = colon ? (size_t)(colon - text) : len;
        if (colon) port = colon + 1;
    }
    if (host_len == 0 || host_len >= sizeof(out->host)) {
        snprintf(err, errlen, "'%.*s': %s host name", (int)len, text, host_len ? "too long a" : "missing");
        return -1;
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (!port) {
        if (!default_port) {
            snprintf(err, errlen, "'%.*s': expected HOST:PORT", (int)len, text);
            return -1;
        }
        out->port = default_port;
        return 0;
    }
    if (parse_port(port, len - (size_t)(port - text), &out->port) < 0) {
        snprintf(err, errlen, "'%.*s': the port must be a number from 1 to 65535", (int)len, text);
        return -1;
    }
    return 0;
}

redisReply *conn_call(redisContext *c, const char *what, int argc, const char **argv, const size_t *argvlen,
                      cdc_error *e) {
    redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
    if (!r) cdc_fail(e, CDC_RETRY, "%s: connection lost (%s)", what, c->errstr[0] ? c->errstr : "no reply");
    return r;
}

cdc_status conn_reply_error(const redisReply *r, const char *what, const char *command, cdc_error *e) {
    static const char *const transient[] = {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"};
    cdc_status st = CDC_FATAL;
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        if (strncmp(r->str, transient[i], strlen(transient[i])) == 0) st = CDC_RETRY;
    return cdc_fail(e, st, "%s: %s failed: %s", what, command, r->str);
}

int reply_error_is(const redisReply *r, const char *text) {
    if (r->type != REDIS_REPLY_ERROR) return 0;
    const char *space = strchr(r->str, ' ');
    return space && strcmp(space + 1, text) == 0;
}

const redisReply *reply_field(const redisReply *map, const char *name) {
    if (map->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2) {
        const redisReply *k = map->element[i];
        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) && strcmp(k->str, name) == 0)
            return map->element[i + 1];
    }
    return NULL;
}

int reply_int_field(const redisReply *map, const char *name, long long *out) {
    const redisReply *v = reply_field(map, name);
    if (!v || v->type != REDIS_REPLY_INTEGER) return -1;
    *out = v->integer;
    return 0;
}

/* AUTH when a password is given, then PING: either may say the server is not ready yet. */
static cdc_status greet(redisContext *c, const endpoint *ep, const char *user, const char *password,
                        const char *what, cdc_error *e) {
    if (password) {
        const char *argv[3] = {"AUTH", user ? user : password, password};
        redisReply *r = conn_call(c, what, user ? 3 : 2, argv, NULL, e);
        if (!r) return CDC_RETRY;
        cdc_status st = CDC_OK;
        if (r->type == REDIS_REPLY_ERROR) {
            st = conn_reply_error(r, what, "AUTH", e);
            if (st == CDC_FATAL)
                cdc_fail(e, st, "authentication to the %s %s:%d failed: %s", what, ep->host, ep->port, r->str);
        }
        freeReplyObject(r);
        if (st != CDC_OK) return st;
    }
    const char *ping[1] = {"PING"};
    redisReply *r = conn_call(c, what, 1, ping, NULL, e);
    if (!r) return CDC_RETRY;
    cdc_status st = CDC_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        st = conn_reply_error(r, what, "PING", e);
        if (strncmp(r->str, "NOAUTH", 6) == 0)
            cdc_fail(e, st, "the %s %s:%d requires a password (%s): %s", what, ep->host, ep->port,
                     strcmp(what, "source") == 0 ? "--password" : "redis://:PASSWORD@host:port", r->str);
    }
    freeReplyObject(r);
    return st;
}

cdc_status conn_open(const endpoint *ep, const char *user, const char *password, const char *what,
                     redisContext **out, cdc_error *e) {
    struct timeval connect_timeout = {CONNECT_TIMEOUT_S, 0}, io_timeout = {IO_TIMEOUT_S, 0};
    redisContext *c = redisConnectWithTimeout(ep->host, ep->port, connect_timeout);
    if (!c) return cdc_fail(e, CDC_FATAL, "out of memory");
    if (c->err) {
        cdc_fail(e, CDC_UNREACHABLE, "cannot connect to the %s %s:%d: %s", what, ep->host, ep->port, c->errstr);
        redisFree(c);
        return CDC_UNREACHABLE;
    }
    cdc_status st = redisSetTimeout(c, io_timeout) == REDIS_OK
                        ? greet(c, ep, user, password, what, e)
                        : cdc_fail(e, CDC_RETRY, "%s: cannot set a socket timeout: %s", what, c->errstr);
    if (st != CDC_OK) {
        redisFree(c);
        return st;
    }
    *out = c;
    return CDC_OK;
}
