/* Connections to the source and to Redis-protocol sinks (hiredis): addresses, connecting and
 * authenticating, running commands, and reading the flat key/value maps of RESP2 replies. */
#ifndef TIDEKV_CDC_CONN_H
#define TIDEKV_CDC_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "report.h"

/* A server address: host name or IP (an IPv6 one written in brackets) and port. */
typedef struct endpoint {
    char host[256];
    int port;
} endpoint;

/* Parses "host:port" or "[v6-address]:port" (the len bytes at text); ":port" may be left out
 * when default_port is not 0. Returns 0, or -1 with a message in err. */
int endpoint_parse(const char *text, size_t len, int default_port, endpoint *out, char *err, size_t errlen);

/* Connects to ep and authenticates (user may be NULL; password NULL = no AUTH). `what` names
 * the server in messages ("source", "sink"). A server that cannot be connected to is
 * CDC_UNREACHABLE, one that answers LOADING is CDC_RETRY, a refused password or a server that
 * wants one is CDC_FATAL. */
cdc_status conn_open(const endpoint *ep, const char *user, const char *password, const char *what,
                     redisContext **out, cdc_error *e);

/* Sends the command (argv/argvlen as redisCommandArgv) and reads its reply. NULL when the
 * connection broke (e says why, status CDC_RETRY); an error reply is returned as a reply. */
redisReply *conn_call(redisContext *c, const char *what, int argc, const char **argv, const size_t *argvlen,
                      cdc_error *e);

/* The status an error reply calls for: CDC_RETRY for a server that is loading or busy, else
 * CDC_FATAL. The message is "<what>: <command> failed: <error>". */
cdc_status conn_reply_error(const redisReply *r, const char *what, const char *command, cdc_error *e);

/* Whether r is an error reply whose text is exactly `text` after the error code ("ERR "). */
int reply_error_is(const redisReply *r, const char *text);

/* The value of `name` in a map reply (RESP2: a flat key/value array), or NULL. */
const redisReply *reply_field(const redisReply *map, const char *name);

/* The integer value of `name` in a map reply; -1 when absent or not an integer. */
int reply_int_field(const redisReply *map, const char *name, long long *out);

#endif
