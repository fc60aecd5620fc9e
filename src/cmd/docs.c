#include "cmd/docs.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The syntax string is parsed into a small tree first: a map's size must be known before
 * its fields are written. */

enum { DOC_OPTIONAL = 1, DOC_MULTIPLE = 2, DOC_MULTIPLE_TOKEN = 4 };
#define MAX_NODES 64

typedef struct doc_node {
    const char *name, *token; /* both lowercased (name) or as written (token) on output */
    size_t name_len, token_len;
    const char *type;
    int key_spec; /* key_spec_index, -1 for none */
    int flags;
    int first_child, next; /* node indices, -1 for none */
} doc_node;

typedef struct doc_parser {
    const char *p;
    doc_node nodes[MAX_NODES];
    int n;
    int failed;
} doc_parser;

static int new_node(doc_parser *ps, const char *type) {
    if (ps->n == MAX_NODES) {
        ps->failed = 1;
        return 0;
    }
    ps->nodes[ps->n] = (doc_node){.type = type, .key_spec = -1, .first_child = -1, .next = -1};
    return ps->n++;
}

static int ends_word(char c) { return !c || strchr(" []()|.+", c) != NULL; }

static int has_lowercase(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (islower((unsigned char)p[i])) return 1;
    return 0;
}

/* The type after "name:", and the key spec index after "@". */
static void parse_type(doc_parser *ps, doc_node *d, const char *t, size_t n) {
    static const char *const names[][2] = {
        {"int", "integer"}, {"double", "double"}, {"key", "key"}, {"pattern", "pattern"}, {"time", "unix-time"}};
    const char *at = memchr(t, '@', n);
    size_t tn = at ? (size_t)(at - t) : n;
    if (at) d->key_spec = atoi(at + 1);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i][0]) == tn && memcmp(names[i][0], t, tn) == 0) d->type = names[i][1];
    if (!d->type) ps->failed = 1;
}

/* A word: "TOKEN", "name=TOKEN" or "name[:type[@index]]". */
static int parse_word(doc_parser *ps, const char *w, size_t n) {
    int i = new_node(ps, NULL);
    doc_node *d = &ps->nodes[i];
    const char *eq = memchr(w, '=', n), *colon = memchr(w, ':', n);
    if (eq || !has_lowercase(w, n)) {
        d->type = "pure-token";
        d->token = eq ? eq + 1 : w;
        d->token_len = eq ? n - (size_t)(eq + 1 - w) : n;
        d->name = w;
        d->name_len = eq ? (size_t)(eq - w) : n;
        return i;
    }
    d->name = w;
    d->name_len = colon ? (size_t)(colon - w) : n;
    if (colon) parse_type(ps, d, colon + 1, n - (size_t)(colon + 1 - w));
    else d->type = "string";
    return i;
}

static int parse_item(doc_parser *ps);

/* Items up to ']', ')', '|' or the end: returns the first (linked by next), *count their number. */
static int parse_sequence(doc_parser *ps, int *count) {
    int first = -1, last = -1;
    *count = 0;
    for (;;) {
        while (*ps->p == ' ') ps->p++;
        if (!*ps->p || strchr("])|", *ps->p) || ps->failed) return first;
        int i = parse_item(ps);
        if (last >= 0) ps->nodes[last].next = i;
        else first = i;
        last = i;
        (*count)++;
    }
}

static int is_pure_token(const doc_node *d) { return strcmp(d->type, "pure-token") == 0 && d->flags == 0; }

/* One sequence as one argument: a lone item, a token given to what follows it (unless that is a
 * token too: "NO ONE" is a block of two), or a block. */
static int sequence_as_one(doc_parser *ps, int first, int count, const char *name, size_t name_len) {
    doc_node *head = &ps->nodes[first];
    int token_first = count >= 2 && is_pure_token(head) && !is_pure_token(&ps->nodes[head->next]);
    if (count == 1) return first;
    if (token_first && count == 2) {
        doc_node *rest = &ps->nodes[head->next];
        rest->token = head->token;
        rest->token_len = head->token_len;
        return head->next;
    }
    int b = new_node(ps, "block");
    doc_node *block = &ps->nodes[b];
    block->name = name;
    block->name_len = name_len;
    block->first_child = first;
    if (token_first) {
        block->token = head->token;
        block->token_len = head->token_len;
        block->first_child = head->next;
    }
    if (name_len == 0) ps->failed = 1; /* a block needs a name */
    return b;
}

/* name[…] or name(…): its alternatives make a oneof, a single sequence one argument. */
static int parse_group(doc_parser *ps, const char *name, size_t name_len) {
    char close = *ps->p == '[' ? ']' : ')';
    ps->p++;
    int firsts[MAX_NODES], counts[MAX_NODES], nalts = 0;
    for (;;) {
        firsts[nalts] = parse_sequence(ps, &counts[nalts]);
        if (ps->failed || counts[nalts] == 0) {
            ps->failed = 1;
            return 0;
        }
        nalts++;
        if (*ps->p != '|') break;
        ps->p++;
    }
    if (*ps->p != close) {
        ps->failed = 1;
        return 0;
    }
    ps->p++;
    /* The name is the oneof's if there are alternatives, else the block's (if one is made). */
    int alts[MAX_NODES];
    for (int i = 0; i < nalts; i++)
        alts[i] = sequence_as_one(ps, firsts[i], counts[i], nalts > 1 ? "" : name, nalts > 1 ? 0 : name_len);
    if (ps->failed) return 0;
    int result = alts[0];
    if (nalts > 1) {
        result = new_node(ps, "oneof");
        ps->nodes[result].name = name;
        ps->nodes[result].name_len = name_len;
        ps->nodes[result].first_child = alts[0];
        for (int i = 0; i < nalts; i++) ps->nodes[alts[i]].next = i + 1 < nalts ? alts[i + 1] : -1;
    }
    ps->nodes[result].next = -1;
    if (close == ']') ps->nodes[result].flags |= DOC_OPTIONAL;
    return result;
}

static int parse_item(doc_parser *ps) {
    const char *w = ps->p;
    while (!ends_word(*ps->p)) ps->p++;
    size_t n = (size_t)(ps->p - w);
    int i;
    if (*ps->p == '[' || *ps->p == '(') {
        i = parse_group(ps, w, n);
    } else if (n > 0) {
        i = parse_word(ps, w, n);
    } else {
        ps->failed = 1;
        return 0;
    }
    if (strncmp(ps->p, "+...", 4) == 0) {
        ps->nodes[i].flags |= DOC_MULTIPLE | DOC_MULTIPLE_TOKEN;
        ps->p += 4;
    } else if (strncmp(ps->p, "...", 3) == 0) {
        ps->nodes[i].flags |= DOC_MULTIPLE;
        ps->p += 3;
    }
    return i;
}

/* Parses the whole syntax; returns the first top-level item (or -1) and sets *count, or -1
 * with *count -1 if the syntax is malformed. */
static int parse_syntax(doc_parser *ps, const char *syntax, int *count) {
    ps->p = syntax;
    ps->n = 0;
    ps->failed = 0;
    int first = parse_sequence(ps, count);
    if (ps->failed || *ps->p) *count = -1;
    return first;
}

static void reply_lower(reply *r, const char *p, size_t n) {
    char lower[64];
    if (n >= sizeof(lower)) n = sizeof(lower) - 1;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)p[i]);
    reply_bulk(r, lower, n);
}

static int count_children(const doc_parser *ps, int first) {
    int n = 0;
    for (int i = first; i >= 0; i = ps->nodes[i].next) n++;
    return n;
}

static void reply_node(reply *r, const doc_parser *ps, int i);

static void reply_nodes(reply *r, const doc_parser *ps, int first) {
    reply_array(r, count_children(ps, first));
    for (int i = first; i >= 0; i = ps->nodes[i].next) reply_node(r, ps, i);
}

static void reply_flags(reply *r, int flags) {
    reply_set(r, !!(flags & DOC_OPTIONAL) + !!(flags & DOC_MULTIPLE) + !!(flags & DOC_MULTIPLE_TOKEN));
    if (flags & DOC_OPTIONAL) reply_simple(r, "optional");
    if (flags & DOC_MULTIPLE) reply_simple(r, "multiple");
    if (flags & DOC_MULTIPLE_TOKEN) reply_simple(r, "multiple_token");
}

static void reply_node(reply *r, const doc_parser *ps, int i) {
    const doc_node *d = &ps->nodes[i];
    reply_map(r, 2 + (d->key_spec >= 0) + (d->token != NULL) + (d->flags != 0) + (d->first_child >= 0));
    reply_bulk_str(r, "name");
    reply_lower(r, d->name, d->name_len);
    reply_bulk_str(r, "type");
    reply_bulk_str(r, d->type);
    if (d->key_spec >= 0) {
        reply_bulk_str(r, "key_spec_index");
        reply_int(r, d->key_spec);
    }
    if (d->token) {
        reply_bulk_str(r, "token");
        reply_bulk(r, d->token, d->token_len);
    }
    if (d->flags) {
        reply_bulk_str(r, "flags");
        reply_flags(r, d->flags);
    }
    if (d->first_child >= 0) {
        reply_bulk_str(r, "arguments");
        reply_nodes(r, ps, d->first_child);
    }
}

int docs_count_arguments(const char *syntax) {
    doc_parser ps;
    int count;
    parse_syntax(&ps, syntax, &count);
    return count;
}

int docs_reply_arguments(reply *r, const char *syntax) {
    doc_parser ps;
    int count, first = parse_syntax(&ps, syntax, &count);
    if (count < 0) return -1;
    reply_nodes(r, &ps, first);
    return 0;
}
