#include "cdc/consumer_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "tidekv-consumers 1"

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == ':' || c == '-';
}

int consumer_name_valid(const char *name, size_t len) {
    if (len < 1 || len > CONSUMER_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i])) return 0;
    return 1;
}

void consumer_file_encode(const consumer *list, size_t n, buf *out) {
    buf_printf(out, HEADER "\n");
    for (size_t i = 0; i < n; i++) {
        const consumer *c = &list[i];
        buf_printf(out, "consumer %s %" PRIu64 " %s %" PRId64 " %" PRId64 "\n", c->name, c->sequence,
                   c->lost ? "lost" : "active", c->created_ms, c->acked_ms);
    }
    buf_printf(out, "end %zu\n", n);
}

/* A line's words: at most max, split on single spaces. */
typedef struct words {
    const char *w[8];
    size_t len[8];
    int n;
} words;

static int split_words(const char *p, size_t len, words *ws) {
    ws->n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != ' ') continue;
        if (i == start || ws->n == 8) return -1; /* an empty word, or too many */
        ws->w[ws->n] = p + start;
        ws->len[ws->n++] = i - start;
        start = i + 1;
    }
    return 0;
}

static int word_is(const words *ws, int i, const char *s) {
    return ws->len[i] == strlen(s) && memcmp(ws->w[i], s, ws->len[i]) == 0;
}

/* A decimal number without sign or leading zeros, up to max. */
static int parse_u64(const char *p, size_t len, uint64_t max, uint64_t *out) {
    if (len == 0 || len > 20 || (len > 1 && p[0] == '0')) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_consumer(const words *ws, consumer *c) {
    uint64_t created, acked;
    if (ws->n != 6 || !word_is(ws, 0, "consumer") || !consumer_name_valid(ws->w[1], ws->len[1])) return -1;
    memcpy(c->name, ws->w[1], ws->len[1]);
    c->name[ws->len[1]] = '\0';
    if (parse_u64(ws->w[2], ws->len[2], INT64_MAX, &c->sequence) < 0) return -1; /* shown as an integer */
    if (word_is(ws, 3, "lost")) c->lost = 1;
    else if (word_is(ws, 3, "active")) c->lost = 0;
    else return -1;
    if (parse_u64(ws->w[4], ws->len[4], INT64_MAX, &created) < 0 ||
        parse_u64(ws->w[5], ws->len[5], INT64_MAX, &acked) < 0)
        return -1;
    c->created_ms = (int64_t)created;
    c->acked_ms = (int64_t)acked;
    return 0;
}

static int duplicate_name(const consumer *list, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) return 1;
    return 0;
}

int consumer_file_decode(const char *data, size_t len, consumer **list, size_t *n, char *err, size_t errlen) {
    consumer *out = NULL;
    size_t count = 0, cap = 0, line = 0, pos = 0;
    int ended = 0;
    *list = NULL;
    *n = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl) goto corrupt; /* a line cut short */
        const char *p = data + pos;
        size_t l = (size_t)(nl - p);
        pos += l + 1;
        line++;
        words ws;
        if (ended) goto corrupt; /* nothing may follow the end */
        if (line == 1) {
            if (l != strlen(HEADER) || memcmp(p, HEADER, l) != 0) goto corrupt;
            continue;
        }
        if (split_words(p, l, &ws) < 0) goto corrupt;
        if (ws.n == 2 && word_is(&ws, 0, "end")) {
            uint64_t want;
            if (parse_u64(ws.w[1], ws.len[1], CONSUMER_FILE_MAX, &want) < 0 || want != count) goto corrupt;
            ended = 1;
            continue;
        }
        if (count == CONSUMER_FILE_MAX) goto corrupt;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            consumer *grown = realloc(out, cap * sizeof(*out));
            if (!grown) abort();
            out = grown;
        }
        memset(&out[count], 0, sizeof(out[count]));
        if (parse_consumer(&ws, &out[count]) < 0 || duplicate_name(out, count, out[count].name)) goto corrupt;
        count++;
    }
    if (!ended) {
        line++;
        goto corrupt;
    }
    *list = out;
    *n = count;
    return 0;
corrupt:
    free(out);
    snprintf(err, errlen, "corrupt consumers file at line %zu", line);
    return -1;
}
