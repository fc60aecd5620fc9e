#include "cmd/docs.h"

#include <ctype.h>
#include <string.h>

#include "util/buf.h"

/* A scanner over the syntax string. */
typedef struct scanner {
    const char *p;
} scanner;

static void skip_spaces(scanner *s) {
    while (*s->p == ' ') s->p++;
}

/* The length of the word at the scanner (letters, digits, '-', '_', ':'). */
static size_t word_len(const char *p) {
    size_t n = 0;
    while (p[n] && p[n] != ' ' && p[n] != '[' && p[n] != ']' && p[n] != '|' && p[n] != '.') n++;
    return n;
}

static int is_token(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (islower((unsigned char)p[i])) return 0;
    return n > 0;
}

static int at_ellipsis(scanner *s) {
    skip_spaces(s);
    if (strncmp(s->p, "...", 3) != 0) return 0;
    s->p += 3;
    return 1;
}

static void reply_flags(reply *r, int optional, int multiple) {
    reply_bulk_str(r, "flags");
    reply_set(r, optional + multiple);
    if (optional) reply_simple(r, "optional");
    if (multiple) reply_simple(r, "multiple");
}

static void reply_name(reply *r, const char *p, size_t n) {
    char lower[64];
    if (n >= sizeof(lower)) n = sizeof(lower) - 1;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)p[i]);
    reply_bulk_str(r, "name");
    reply_bulk(r, lower, n);
}

/* Items of a sequence end at ']', '|' or the end of the string. */
static int item_starts(scanner *s) {
    skip_spaces(s);
    return *s->p && *s->p != ']' && *s->p != '|';
}

static void reply_item(reply *r, scanner *s, int optional);

/* Writes the items of one sequence (up to ']' / '|' / end) and returns how many there were. */
static int reply_sequence(reply *r, scanner *s) {
    int n = 0;
    while (item_starts(s)) {
        reply_item(r, s, 0);
        n++;
    }
    return n;
}

/* Counts a sequence's items without writing them. */
static int count_sequence(const char *p) {
    buf sink;
    buf_init(&sink);
    reply r = {.out = &sink, .resp = 3};
    scanner s = {p};
    int n = reply_sequence(&r, &s);
    buf_free(&sink);
    return n;
}

/* [a b|c d]: an optional group, written as one item (oneof / block / the lone item). */
static void reply_group(reply *r, scanner *s) {
    s->p++; /* '[' */
    /* Gather the alternatives' texts first: their number decides the shape. */
    const char *alts[32];
    int nalts = 0, depth = 0;
    alts[nalts++] = s->p;
    const char *q = s->p;
    for (; *q && !(depth == 0 && *q == ']'); q++) {
        if (*q == '[') depth++;
        else if (*q == ']') depth--;
        else if (*q == '|' && depth == 0 && nalts < 32) alts[nalts++] = q + 1;
    }
    const char *end = *q ? q + 1 : q;
    scanner inner = {s->p};
    s->p = end;
    int multiple = at_ellipsis(s);
    if (nalts == 1 && count_sequence(inner.p) == 1) {
        reply_item(r, &inner, 1 | (multiple << 1));
        return;
    }
    reply_map(r, 4);
    reply_bulk_str(r, "name");
    reply_bulk_str(r, nalts > 1 ? "choice" : "group");
    reply_bulk_str(r, "type");
    reply_bulk_str(r, nalts > 1 ? "oneof" : "block");
    reply_flags(r, 1, multiple);
    reply_bulk_str(r, "arguments");
    if (nalts == 1) {
        reply_array(r, count_sequence(inner.p));
        reply_sequence(r, &inner);
        return;
    }
    reply_array(r, nalts);
    for (int i = 0; i < nalts; i++) {
        scanner alt = {alts[i]};
        int n = count_sequence(alt.p);
        if (n == 1) {
            reply_item(r, &alt, 0);
            continue;
        }
        reply_map(r, 3);
        reply_bulk_str(r, "name");
        reply_bulk_str(r, "group");
        reply_bulk_str(r, "type");
        reply_bulk_str(r, "block");
        reply_bulk_str(r, "arguments");
        reply_array(r, n);
        reply_sequence(r, &alt);
    }
}

/* One word item: a token, a token with its value, or a plain argument. flags: 1 optional, 2 multiple. */
static void reply_item(reply *r, scanner *s, int flags) {
    skip_spaces(s);
    if (*s->p == '[') {
        reply_group(r, s);
        return;
    }
    const char *w = s->p;
    size_t n = word_len(w);
    s->p += n;
    const char *value = NULL;
    size_t vn = 0;
    skip_spaces(s);
    if (is_token(w, n) && *s->p && !is_token(s->p, word_len(s->p)) && *s->p != '[' && *s->p != ']' &&
        *s->p != '|' && *s->p != '.') {
        value = s->p;
        vn = word_len(value);
        s->p += vn;
    }
    if (at_ellipsis(s)) flags |= 2;
    int optional = flags & 1, multiple = (flags >> 1) & 1;
    int token = is_token(w, n);
    reply_map(r, 2 + token + (optional || multiple));
    if (value)
        reply_name(r, value, vn);
    else
        reply_name(r, w, n);
    reply_bulk_str(r, "type");
    if (token && !value)
        reply_bulk_str(r, "pure-token");
    else
        reply_bulk_str(r, strncmp(value ? value : w, "key", 3) == 0 ? "key" : "string");
    if (token) {
        reply_bulk_str(r, "token");
        reply_bulk(r, w, n);
    }
    if (optional || multiple) reply_flags(r, optional, multiple);
}

int docs_count_arguments(const char *syntax) { return count_sequence(syntax); }

void docs_reply_arguments(reply *r, const char *syntax) {
    scanner s = {syntax};
    reply_array(r, docs_count_arguments(syntax));
    reply_sequence(r, &s);
}
