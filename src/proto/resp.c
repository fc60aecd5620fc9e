#include "proto/resp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/num.h"

void resp_parser_init(resp_parser *p, long long max_bulk_len) {
    memset(p, 0, sizeof(*p));
    p->bulk_len = -1;
    p->max_bulk_len = max_bulk_len;
    p->max_multibulk_len = 1024LL * 1024 * 1024;
}

/* Argument slots kept between requests; a bigger array, grown for a huge request, goes. */
#define ARGV_KEEP 1024

/* Forgets the last request's arguments (their strings are freed or taken by the caller). */
static void drop_args(resp_parser *p) {
    p->argc = 0;
    p->args_bytes = 0;
    if (p->argv_cap > ARGV_KEEP) {
        free(p->argv);
        p->argv = NULL;
        p->argv_cap = 0;
    }
}

void resp_parser_reset_args(resp_parser *p) {
    for (int i = 0; i < p->argc; i++) free(p->argv[i].ptr);
    drop_args(p);
}

void resp_args_free(resp_arg *argv, int argc) {
    for (int i = 0; i < argc; i++) free(argv[i].ptr);
    free(argv);
}

resp_arg *resp_parser_take_args(resp_parser *p, int *argc) {
    resp_arg *args = malloc((size_t)(p->argc ? p->argc : 1) * sizeof(*args));
    if (!args) abort();
    memcpy(args, p->argv, (size_t)p->argc * sizeof(*args));
    *argc = p->argc;
    drop_args(p);
    return args;
}

/* A big bulk being gathered counts by what is allocated for it, which grows as it arrives. */
size_t resp_parser_memory(const resp_parser *p) {
    return p->args_bytes + (size_t)p->argv_cap * sizeof(resp_arg) + (p->big ? p->big_cap : 0);
}

void resp_parser_free(resp_parser *p) {
    resp_parser_reset_args(p);
    free(p->big);
    p->big = NULL;
    free(p->argv);
    p->argv = NULL;
    p->argv_cap = 0;
}

/* What an argument costs besides its bytes: its terminating NUL and the allocator's own
 * bookkeeping, so that a flood of empty arguments counts for what it takes. */
#define ARG_OVERHEAD 32

static void push_arg(resp_parser *p, char *ptr, size_t len) {
    if (p->argc == p->argv_cap) {
        int cap = p->argv_cap ? p->argv_cap * 2 : 8;
        resp_arg *argv = realloc(p->argv, (size_t)cap * sizeof(*argv));
        if (!argv) abort();
        p->argv = argv;
        p->argv_cap = cap;
    }
    p->argv[p->argc].ptr = ptr;
    p->argv[p->argc].len = len;
    p->argc++;
    p->args_bytes += len + ARG_OVERHEAD;
}

static char *copy_bytes(const char *s, size_t len) {
    char *c = malloc(len + 1);
    if (!c) abort();
    memcpy(c, s, len);
    c[len] = '\0'; /* callers may treat small arguments as C strings */
    return c;
}

/* What a client that has not authenticated yet may send (Redis's limits): enough for AUTH
 * and HELLO, too little to make the server buffer much for a stranger. */
#define UNAUTHENTICATED_MAX_ARGS 10
#define UNAUTHENTICATED_MAX_BULK 16384

static resp_status fail(resp_parser *p, const char *msg) {
    snprintf(p->error, sizeof(p->error), "ERR Protocol error: %s", msg);
    return RESP_ERROR;
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads one quoted argument starting at the opening quote; returns the index after
 * the closing quote, or -1 when the quotes do not balance. */
static long read_quoted(const char *s, size_t len, size_t i, buf *arg) {
    char quote = s[i++];
    while (i < len) {
        char c = s[i];
        if (quote == '"' && c == '\\' && i + 3 < len && s[i + 1] == 'x' && hex_value(s[i + 2]) >= 0 &&
            hex_value(s[i + 3]) >= 0) {
            buf_append_byte(arg, (uint8_t)(hex_value(s[i + 2]) * 16 + hex_value(s[i + 3])));
            i += 4;
        } else if (c == '\\' && i + 1 < len && (quote == '"' || s[i + 1] == '\'')) {
            char e = s[i + 1];
            if (quote == '"') {
                e = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e == 'b' ? '\b' : e == 'a' ? '\a' : e;
            }
            buf_append_byte(arg, (uint8_t)e);
            i += 2;
        } else if (c == quote) {
            /* A closing quote must be followed by a space or the end of the line. */
            if (i + 1 < len && !isspace((unsigned char)s[i + 1])) return -1;
            return (long)(i + 1);
        } else {
            buf_append_byte(arg, (uint8_t)c);
            i++;
        }
    }
    return -1;
}

int resp_split_inline(const char *s, size_t len, resp_arg **out) {
    resp_parser tmp;
    resp_parser_init(&tmp, 0);
    size_t i = 0;
    for (;;) {
        while (i < len && isspace((unsigned char)s[i])) i++;
        if (i >= len) break;
        buf arg;
        buf_init(&arg);
        if (s[i] == '"' || s[i] == '\'') {
            long next = read_quoted(s, len, i, &arg);
            if (next < 0) {
                buf_free(&arg);
                resp_parser_free(&tmp);
                return -1;
            }
            i = (size_t)next;
        } else {
            while (i < len && !isspace((unsigned char)s[i])) buf_append_byte(&arg, (uint8_t)s[i++]);
        }
        push_arg(&tmp, copy_bytes(arg.data ? arg.data : "", arg.len), arg.len);
        buf_free(&arg);
    }
    *out = tmp.argv;
    return tmp.argc;
}

static resp_status parse_inline(resp_parser *p, const char *data, size_t len, size_t *consumed) {
    const char *nl = memchr(data, '\n', len);
    if (!nl) {
        if (len > RESP_INLINE_MAX) return fail(p, "too big inline request");
        return RESP_NEED_MORE;
    }
    size_t line_len = (size_t)(nl - data);
    *consumed = line_len + 1;
    if (line_len > 0 && data[line_len - 1] == '\r') line_len--;
    resp_arg *args = NULL;
    int n = resp_split_inline(data, line_len, &args);
    if (n < 0) return fail(p, "unbalanced quotes in request");
    for (int i = 0; i < n; i++) push_arg(p, args[i].ptr, args[i].len);
    free(args);
    return p->argc > 0 ? RESP_DONE : RESP_NEED_MORE; /* empty lines are ignored */
}

/* Reads a "<prefix><number>\r\n" header line; returns bytes used, 0 if incomplete, -1 if bad. */
static long read_header(const char *data, size_t len, long long *value) {
    const char *cr = memchr(data, '\r', len);
    if (!cr || (size_t)(cr - data) + 1 >= len) return 0;
    if (num_parse_ll(data + 1, (size_t)(cr - data) - 1, value) < 0) return -1;
    return (long)(cr - data) + 2;
}

/* A bulk this long is copied into its own buffer piece by piece as it arrives, so the input
 * buffer does not grow to hold it whole as well. */
#define RESP_BIG_BULK (64 * 1024)

/* Adds what data holds of the big bulk p->bulk_len announced; once it is whole (CRLF too),
 * pushes it as an argument and sets p->big back to NULL. Returns the bytes used. */
static size_t gather_big_bulk(resp_parser *p, const char *data, size_t len) {
    size_t whole = (size_t)p->bulk_len + 2;
    if (!p->big) p->big_len = p->big_cap = 0;
    size_t take = whole - p->big_len < len ? whole - p->big_len : len;
    /* Allocated even while no byte has come yet: p->big is what says a bulk is open. */
    if (!p->big || p->big_len + take > p->big_cap) {
        /* Grown as the bytes arrive (doubling, up to the whole), so a header alone announcing
         * 512 MB reserves nothing. */
        size_t cap = p->big_cap ? 2 * p->big_cap : RESP_BIG_BULK;
        if (cap < p->big_len + take) cap = p->big_len + take;
        if (cap > whole) cap = whole;
        p->big = realloc(p->big, cap);
        if (!p->big) abort();
        p->big_cap = cap;
    }
    memcpy(p->big + p->big_len, data, take);
    p->big_len += take;
    if (p->big_len == whole) {
        p->big[p->bulk_len] = '\0'; /* over the CR: callers may treat arguments as C strings */
        push_arg(p, p->big, (size_t)p->bulk_len);
        p->big = NULL;
    }
    return take;
}

static resp_status parse_multibulk(resp_parser *p, const char *data, size_t len, size_t *consumed) {
    size_t pos = 0;
    if (p->multibulk_left == 0) {
        long long n;
        long used = read_header(data, len, &n);
        if (used == 0) {
            if (len > RESP_INLINE_MAX) return fail(p, "too big mbulk count string");
            return RESP_NEED_MORE;
        }
        if (used < 0 || n > p->max_multibulk_len) return fail(p, "invalid multibulk length");
        if (p->unauthenticated && n > UNAUTHENTICATED_MAX_ARGS) return fail(p, "unauthenticated multibulk length");
        pos = (size_t)used;
        if (n <= 0) { /* "*0" and "*-1" are empty requests: skip them */
            *consumed = pos;
            return RESP_NEED_MORE;
        }
        p->multibulk_left = n;
    }
    while (p->multibulk_left > 0) {
        if (p->bulk_len < 0) {
            if (pos >= len) break;
            if (data[pos] != '$') {
                char msg[64];
                snprintf(msg, sizeof(msg), "expected '$', got '%c'", data[pos]);
                return fail(p, msg);
            }
            long long n;
            long used = read_header(data + pos, len - pos, &n);
            if (used == 0) {
                if (len - pos > RESP_INLINE_MAX) return fail(p, "too big bulk count string");
                break;
            }
            if (used < 0 || n < 0 || n > p->max_bulk_len) return fail(p, "invalid bulk length");
            if (p->unauthenticated && n > UNAUTHENTICATED_MAX_BULK) return fail(p, "unauthenticated bulk length");
            p->bulk_len = n;
            pos += (size_t)used;
        }
        if (p->bulk_len >= RESP_BIG_BULK) {
            pos += gather_big_bulk(p, data + pos, len - pos);
            if (p->big) break; /* not all there yet */
        } else {
            if (len - pos < (size_t)p->bulk_len + 2) break;
            push_arg(p, copy_bytes(data + pos, (size_t)p->bulk_len), (size_t)p->bulk_len);
            pos += (size_t)p->bulk_len + 2;
        }
        p->bulk_len = -1;
        p->multibulk_left--;
    }
    *consumed = pos;
    return p->multibulk_left == 0 ? RESP_DONE : RESP_NEED_MORE;
}

resp_status resp_parse(resp_parser *p, const char *data, size_t len, size_t *consumed) {
    *consumed = 0;
    while (*consumed < len) {
        const char *at = data + *consumed;
        size_t left = len - *consumed, used = 0;
        resp_status s = p->multibulk_left == 0 && at[0] != '*' ? parse_inline(p, at, left, &used)
                                                               : parse_multibulk(p, at, left, &used);
        *consumed += used;
        /* An empty line or "*0" is skipped: go on with what follows it. */
        if (s != RESP_NEED_MORE || used == 0 || p->multibulk_left > 0) return s;
    }
    return RESP_NEED_MORE;
}
