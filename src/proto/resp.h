/* RESP request parser: multibulk and inline requests, fed incrementally.
 * The parser keeps its place between calls, so a request split over many reads
 * is scanned once, and a pipeline is parsed one request per call. */
#ifndef TIDEKV_RESP_H
#define TIDEKV_RESP_H

#include <stddef.h>

#include "util/slice.h"

#define RESP_INLINE_MAX (64 * 1024)

/* An argument: its bytes are the parser's (see resp_parser_take_args). */
typedef slice resp_arg;

typedef enum { RESP_NEED_MORE, RESP_DONE, RESP_ERROR } resp_status;

typedef struct resp_parser {
    long long multibulk_left; /* bulks still expected; 0 = between requests */
    long long bulk_len;       /* length of the next bulk, -1 = header not read yet */
    char *big;                /* a big bulk gathered as it arrives (with its CRLF), or NULL */
    size_t big_len;           /* bytes of it received so far */
    size_t big_cap;           /* bytes allocated for it */
    int argc;
    int argv_cap;
    resp_arg *argv;
    size_t args_bytes; /* the parsed arguments' memory, as resp_parser_memory counts it */
    long long max_bulk_len;
    long long max_multibulk_len;
    int unauthenticated; /* the client still owes a password: small requests only, as in Redis */
    char error[128];
} resp_parser;

void resp_parser_init(resp_parser *p, long long max_bulk_len);
void resp_parser_free(resp_parser *p);
/* Frees the arguments of the last request so the next one can be parsed. */
void resp_parser_reset_args(resp_parser *p);
/* Hands the last request's arguments to the caller (who frees each ptr and the array). */
resp_arg *resp_parser_take_args(resp_parser *p, int *argc);
/* Frees an array of arguments each malloc'd on its own (as resp_parser_take_args gives them):
 * each one, then the array. */
void resp_args_free(resp_arg *argv, int argc);
/* Memory the parser holds for the request it is reading (or has just read): its arguments, a
 * big bulk being gathered, and their array, with allocation overheads, so that it counts
 * against a client's limits. */
size_t resp_parser_memory(const resp_parser *p);
/* Parses from data[0..len). Sets *consumed to the bytes used (even on NEED_MORE,
 * where whole headers may have been consumed). On DONE, p->argc/p->argv hold a
 * request with argc >= 1. On ERROR, p->error holds the Redis error text. */
resp_status resp_parse(resp_parser *p, const char *data, size_t len, size_t *consumed);

/* Splits an inline request line the way redis-cli and Redis do (quotes, escapes).
 * Returns the number of arguments or -1 for unbalanced quotes; args are malloc'd. */
int resp_split_inline(const char *line, size_t len, resp_arg **out);

#endif
