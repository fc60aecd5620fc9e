#include "proto/reply.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/hex.h"
#include "util/num.h"

void reply_simple(reply *r, const char *s) {
    buf_append_byte(r->out, '+');
    buf_append_str(r->out, s);
    buf_append(r->out, "\r\n", 2);
}

void reply_ok(reply *r) { buf_append(r->out, "+OK\r\n", 5); }

void reply_error(reply *r, const char *msg) {
    buf_append_byte(r->out, '-');
    /* An error line must not break the protocol, whatever text it quotes. */
    for (const char *p = msg; *p; p++) buf_append_byte(r->out, (*p == '\r' || *p == '\n') ? ' ' : (uint8_t)*p);
    buf_append(r->out, "\r\n", 2);
}

void reply_errorf(reply *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(r, msg);
}

static void header(reply *r, char type, long long n) {
    char tmp[32];
    tmp[0] = type;
    size_t len = 1 + num_format_ll(tmp + 1, n);
    memcpy(tmp + len, "\r\n", 2);
    buf_append(r->out, tmp, len + 2);
}

void reply_int(reply *r, long long v) { header(r, ':', v); }

void reply_bulk(reply *r, const void *p, size_t len) {
    header(r, '$', (long long)len);
    buf_reserve(r->out, len + 2);
    buf_append(r->out, p, len);
    buf_append(r->out, "\r\n", 2);
}

void reply_bulk_str(reply *r, const char *s) { reply_bulk(r, s, strlen(s)); }

void reply_bulk_hex(reply *r, const void *p, size_t len) {
    header(r, '$', (long long)len * 2);
    hex_encode(r->out, p, len);
    buf_append(r->out, "\r\n", 2);
}

void reply_bulk_ll(reply *r, long long v) {
    char tmp[32];
    reply_bulk(r, tmp, num_format_ll(tmp, v));
}

void reply_null(reply *r) {
    if (r->resp == 3)
        buf_append(r->out, "_\r\n", 3);
    else
        buf_append(r->out, "$-1\r\n", 5);
}

void reply_null_array(reply *r) {
    if (r->resp == 3)
        buf_append(r->out, "_\r\n", 3);
    else
        buf_append(r->out, "*-1\r\n", 5);
}

void reply_array(reply *r, long long n) { header(r, '*', n); }

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
        buf_append_byte(r->out, ',');
        buf_append(r->out, tmp, (size_t)len);
        buf_append(r->out, "\r\n", 2);
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
    buf_append(r->out, "txt:", 4);
    buf_append(r->out, s, len);
    buf_append(r->out, "\r\n", 2);
}
