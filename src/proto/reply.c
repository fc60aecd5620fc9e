#include "proto/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/hex.h"
#include "util/num.h"

/* Whether len more bytes may go out: past r->max the reply is cut (its client is to be closed,
 * told by *r->overflowed), so a reply of countless or huge elements holds no more than that. */
static int room(reply *r, size_t len) {
    if (r->max == 0 || r->out->len + len <= r->max) return 1;
    if (r->overflowed) *r->overflowed = 1;
    return 0;
}

static void put(reply *r, const void *p, size_t len) {
    if (room(r, len)) buf_append(r->out, p, len);
}

static void put_byte(reply *r, uint8_t b) {
    if (room(r, 1)) buf_append_byte(r->out, b);
}

void reply_simple(reply *r, const char *s) {
    put_byte(r, '+');
    put(r, s, strlen(s));
    put(r, "\r\n", 2);
}

void reply_ok(reply *r) { put(r, "+OK\r\n", 5); }

void reply_encoded(reply *r, const void *p, size_t len) { put(r, p, len); }

void reply_error(reply *r, const char *msg) {
    put_byte(r, '-');
    /* An error line must not break the protocol, whatever text it quotes. */
    for (const char *p = msg; *p; p++) put_byte(r, (*p == '\r' || *p == '\n') ? ' ' : (uint8_t)*p);
    put(r, "\r\n", 2);
}

void reply_errorf(reply *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(r, msg);
}

/* Writes "<type><n>\r\n" at p (room for HEADER_MAX bytes); returns its length. */
static size_t put_header_at(char *p, char type, long long n) {
    p[0] = type;
    size_t len;
    if (n >= 0 && n <= 9) { /* most counts and lengths of an entry's fields: no formatting */
        p[1] = (char)('0' + n);
        len = 2;
    } else {
        len = 1 + num_format_ll(p + 1, n);
    }
    p[len] = '\r';
    p[len + 1] = '\n';
    return len + 2;
}

#define HEADER_MAX 24 /* a type byte, 20 digits and a sign, CRLF */

/* Whether most more bytes would pass r->max: a reply that near is written piece by piece, cut
 * where the bound falls. */
static int near_bound(const reply *r, size_t most) { return r->max != 0 && r->out->len + most > r->max; }

static void header(reply *r, char type, long long n) {
    char tmp[HEADER_MAX];
    if (near_bound(r, HEADER_MAX)) {
        put(r, tmp, put_header_at(tmp, type, n));
        return;
    }
    /* Written in place: every array and map of a reply starts so. */
    buf_reserve(r->out, HEADER_MAX);
    r->out->len += put_header_at(r->out->data + r->out->len, type, n);
}

void reply_int(reply *r, long long v) { header(r, ':', v); }

/* Writes a bulk string at p (room for HEADER_MAX + len + 2 reserved); returns its length. */
static size_t put_bulk_at(char *p, const void *data, size_t len) {
    size_t n = put_header_at(p, '$', (long long)len);
    if (len) memcpy(p + n, data, len);
    memcpy(p + n + len, "\r\n", 2);
    return n + len + 2;
}

void reply_bulk(reply *r, const void *p, size_t len) {
    /* One reservation and direct writes: every entry and field of a read comes through here. */
    if (near_bound(r, HEADER_MAX + len + 2)) {
        header(r, '$', (long long)len);
        put(r, p, len);
        put(r, "\r\n", 2);
        return;
    }
    buf_reserve(r->out, HEADER_MAX + len + 2);
    r->out->len += put_bulk_at(r->out->data + r->out->len, p, len);
}

void reply_bulk_str(reply *r, const char *s) { reply_bulk(r, s, strlen(s)); }

void reply_bulk_hex(reply *r, const void *p, size_t len) {
    header(r, '$', (long long)len * 2);
    if (room(r, 2 * len)) hex_encode(r->out, p, len);
    put(r, "\r\n", 2);
}

void reply_bulk_ll(reply *r, long long v) {
    char tmp[32];
    reply_bulk(r, tmp, num_format_ll(tmp, v));
}

void reply_null(reply *r) {
    if (r->resp == 3)
        put(r, "_\r\n", 3);
    else
        put(r, "$-1\r\n", 5);
}

void reply_null_array(reply *r) {
    if (r->resp == 3)
        put(r, "_\r\n", 3);
    else
        put(r, "*-1\r\n", 5);
}

void reply_array(reply *r, long long n) { header(r, '*', n); }

void reply_bulk_array(reply *r, size_t n, const char *const *argv, const size_t *lens) {
    size_t most = HEADER_MAX;
    for (size_t i = 0; i < n; i++) most += HEADER_MAX + lens[i] + 2;
    if (near_bound(r, most)) {
        reply_array(r, (long long)n);
        for (size_t i = 0; i < n; i++) reply_bulk(r, argv[i], lens[i]);
        return;
    }
    buf_reserve(r->out, most);
    char *p = r->out->data + r->out->len;
    p += put_header_at(p, '*', (long long)n);
    for (size_t i = 0; i < n; i++) p += put_bulk_at(p, argv[i], lens[i]);
    r->out->len = (size_t)(p - r->out->data);
}

void reply_push(reply *r, long long n) { header(r, r->resp == 3 ? '>' : '*', n); }

void reply_map(reply *r, long long n) {
    if (r->resp == 3)
        header(r, '%', n);
    else
        header(r, '*', n * 2);
}

void reply_set(reply *r, long long n) { header(r, r->resp == 3 ? '~' : '*', n); }

void reply_double(reply *r, double v) {
    char tmp[32];
    size_t len = num_format_double(tmp, v);
    if (r->resp == 3) {
        put_byte(r, ',');
        put(r, tmp, (size_t)len);
        put(r, "\r\n", 2);
    } else {
        reply_bulk(r, tmp, (size_t)len);
    }
}

void reply_verbatim(reply *r, const char *s, size_t len) {
    if (r->resp != 3) {
        reply_bulk(r, s, len);
        return;
    }
    header(r, '=', (long long)len + 4);
    put(r, "txt:", 4);
    put(r, s, len);
    put(r, "\r\n", 2);
}

size_t reply_room(const reply *r) {
    if (r->max == 0) return SIZE_MAX;
    return r->out->len < r->max ? r->max - r->out->len : 0;
}

reply reply_part(const reply *r, buf *part) {
    size_t room = reply_room(r);
    /* No room left gives a bound of 1 byte (one header passes it): 0 would mean no bound. */
    reply p = {part, r->resp, room == SIZE_MAX ? 0 : room > 0 ? room : 1, r->overflowed};
    return p;
}

void reply_append_part(reply *r, const buf *part) {
    if (part->len > 0) put(r, part->data, part->len);
}

void reply_insert_array(reply *r, size_t at, long long n) {
    char head[HEADER_MAX];
    size_t len = put_header_at(head, '*', n);
    if (!room(r, len)) return;
    buf_reserve(r->out, len);
    memmove(r->out->data + at + len, r->out->data + at, r->out->len - at);
    memcpy(r->out->data + at, head, len);
    r->out->len += len;
}
