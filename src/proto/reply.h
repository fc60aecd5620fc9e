/* RESP2/RESP3 reply writer: appends encoded replies to an output buffer. */
#ifndef TIDEKV_REPLY_H
#define TIDEKV_REPLY_H

#include <stddef.h>

#include "util/buf.h"

typedef struct reply {
    buf *out;
    int resp;        /* 2 or 3 */
    size_t max;      /* out may grow to this many bytes, 0 = no bound; past it the reply is cut */
    int *overflowed; /* set to 1 when the reply was cut (may be NULL) */
} reply;

void reply_simple(reply *r, const char *s);
void reply_ok(reply *r);
/* msg is a whole error line without the '-' ("ERR ...", "WRONGTYPE ..."). */
void reply_error(reply *r, const char *msg);
void reply_errorf(reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(reply *r, long long v);
void reply_bulk(reply *r, const void *p, size_t len);
void reply_bulk_str(reply *r, const char *s);
void reply_bulk_ll(reply *r, long long v);
/* A bulk string holding the uppercase hex of p. */
void reply_bulk_hex(reply *r, const void *p, size_t len);
/* Null bulk: "$-1" in RESP2, "_" in RESP3. */
void reply_null(reply *r);
/* Null array: "*-1" in RESP2, "_" in RESP3. */
void reply_null_array(reply *r);
void reply_array(reply *r, long long n);
/* An array of n bulk strings (a command as clients send it): the bytes of reply_array and a
 * reply_bulk for each, written at once when they fit the bound (the cost of many small
 * elements is in the calls, not the bytes). */
void reply_bulk_array(reply *r, size_t n, const char *const *argv, const size_t *lens);
/* The header of a push message of n elements (pub/sub messages, notifications): ">n" in
 * RESP3; in RESP2, which has no push type, a plain array "*n", as Redis sends pub/sub messages. */
void reply_push(reply *r, long long n);
/* n key/value pairs: "%n" in RESP3, "*2n" in RESP2. */
void reply_map(reply *r, long long n);
/* A set: "~n" in RESP3, "*n" in RESP2. */
void reply_set(reply *r, long long n);
/* A double: "," in RESP3, a bulk string in RESP2. */
void reply_double(reply *r, double v);
void reply_verbatim(reply *r, const char *s, size_t len);
/* Replies already encoded (written by another reply writer), appended as they are. */
void reply_encoded(reply *r, const void *p, size_t len);

/* Whether r's reply was cut at its bound (its client is closed without it): a command still
 * reading what it would reply can stop. A command that writes data must not stop for it. */
static inline int reply_was_cut(const reply *r) { return r->overflowed && *r->overflowed; }
/* How many more bytes r's reply may take before it is cut (SIZE_MAX without a bound). */
size_t reply_room(const reply *r);
/* A writer into part (empty) for a part of r's reply that is written before the header that
 * counts it: bounded by the room r has left and cut along with r, so that the part never
 * holds more than r could send. */
reply reply_part(const reply *r, buf *part);
/* Appends a part written with reply_part to r's reply (cut at r's bound). */
void reply_append_part(reply *r, const buf *part);
/* Inserts the header of an array of n elements at offset `at` of r's reply, before the elements
 * written from there: for a count known only once they are written, without a part (and its
 * copy) of their own. Cut at r's bound as the elements are. */
void reply_insert_array(reply *r, size_t at, long long n);

#endif
