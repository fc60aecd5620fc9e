#include "script/shebang.h"

#include <string.h>

static const struct {
    const char *name;
    int flag;
} known_flags[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},     {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE}, {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
};

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* The next blank-separated word of line[*at, end): 1 with it in *w, *wlen, or 0 at the end. */
static int next_word(const char *line, size_t *at, size_t end, const char **w, size_t *wlen) {
    while (*at < end && is_space(line[*at])) (*at)++;
    if (*at == end) return 0;
    size_t start = *at;
    while (*at < end && !is_space(line[*at])) (*at)++;
    *w = line + start;
    *wlen = *at - start;
    return 1;
}

int script_flag_named(const char *p, size_t len) {
    for (size_t i = 0; i < sizeof(known_flags) / sizeof(known_flags[0]); i++)
        if (strlen(known_flags[i].name) == len && memcmp(known_flags[i].name, p, len) == 0) return known_flags[i].flag;
    return 0;
}

const char *script_flag_name(int flag) {
    for (size_t i = 0; i < sizeof(known_flags) / sizeof(known_flags[0]); i++)
        if (known_flags[i].flag == flag) return known_flags[i].name;
    return "";
}

/* The flags of "a,b,c" (each must be known; "" is none, but "a," has an empty, unknown one):
 * 0, or -1 with the error. */
static int parse_flag_list(const char *p, size_t len, int *flags, buf *err) {
    if (len == 0) return 0;
    for (size_t start = 0;;) {
        const char *comma = memchr(p + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - p) : len;
        int flag = script_flag_named(p + start, end - start);
        if (!flag) {
            buf_append_str(err, "Unexpected flag in script shebang: ");
            buf_append(err, p + start, end - start);
            return -1;
        }
        *flags |= flag;
        if (!comma) return 0;
        start = end + 1;
    }
}

int script_parse_shebang(const char *body, size_t len, int *flags, size_t *line_len, buf *err) {
    *flags = SCRIPT_FLAG_EVAL_COMPAT;
    *line_len = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!') return 0;
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        buf_append_str(err, "Invalid script shebang");
        return -1;
    }
    *line_len = (size_t)(nl - body);
    *flags = 0;
    /* Words separated by blanks: the engine first, then options. */
    size_t at = 0, end = *line_len;
    const char *w;
    size_t wlen;
    for (int word = 0;; word++) {
        if (!next_word(body, &at, end, &w, &wlen)) return 0;
        if (word == 0) {
            if (wlen == 5 && memcmp(w, "#!lua", 5) == 0) continue;
            buf_append_str(err, "Unexpected engine in script shebang: ");
            buf_append(err, w, wlen);
            return -1;
        }
        if (wlen >= 6 && memcmp(w, "flags=", 6) == 0) {
            if (parse_flag_list(w + 6, wlen - 6, flags, err) < 0) return -1;
            continue;
        }
        buf_append_str(err, "Unknown lua shebang option: ");
        buf_append(err, w, wlen);
        return -1;
    }
}

int library_parse_shebang(const char *body, size_t len, buf *name, size_t *line_len, buf *err) {
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        buf_append_str(err, "Missing library metadata");
        return -1;
    }
    const char *nl = memchr(body, '\n', len);
    if (!nl) {
        buf_append_str(err, "Invalid library metadata");
        return -1;
    }
    *line_len = (size_t)(nl - body);
    int named = 0;
    size_t at = 0, end = *line_len;
    const char *w;
    size_t wlen;
    for (int word = 0; next_word(body, &at, end, &w, &wlen); word++) {
        if (word == 0) {
            if (wlen == 5 && memcmp(w, "#!lua", 5) == 0) continue;
            buf_append_str(err, "Engine '");
            buf_append(err, w + 2, wlen - 2);
            buf_append_str(err, "' not found");
            return -1;
        }
        if (wlen < 5 || memcmp(w, "name=", 5) != 0) {
            buf_append_str(err, "Invalid metadata value given: ");
            buf_append(err, w, wlen);
            return -1;
        }
        if (named++) {
            buf_append_str(err, "Invalid metadata value, name argument was given multiple times");
            return -1;
        }
        buf_append(name, w + 5, wlen - 5);
    }
    if (!named) {
        buf_append_str(err, "Library name was not given");
        return -1;
    }
    return 0;
}
