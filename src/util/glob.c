#include "util/glob.h"

#include <ctype.h>

static int fold(int c, int nocase) { return nocase ? tolower(c) : c; }

/* Matches one [...] class starting after '['; advances *pp past the closing ']'. */
static int match_class(const unsigned char **pp, const unsigned char *pend, int c, int nocase) {
    const unsigned char *p = *pp;
    int negate = 0, matched = 0;
    if (p < pend && *p == '^') {
        negate = 1;
        p++;
    }
    while (p < pend && *p != ']') {
        if (*p == '\\' && p + 1 < pend) {
            p++;
            if (fold(*p, nocase) == fold(c, nocase)) matched = 1;
        } else if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
            int lo = fold(p[0], nocase), hi = fold(p[2], nocase);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            int fc = fold(c, nocase);
            if (fc >= lo && fc <= hi) matched = 1;
            p += 2;
        } else if (fold(*p, nocase) == fold(c, nocase)) {
            matched = 1;
        }
        p++;
    }
    *pp = p < pend ? p + 1 : p; /* an unterminated class ends at the pattern's end */
    return negate ? !matched : matched;
}

/* give_up is set once a '*' has tried every rest of the string in vain: then no outer '*'
 * can do better by consuming more, which keeps patterns like a*a*a*b linear, not exponential. */
static int match_from(const unsigned char *p, const unsigned char *pend, const unsigned char *s,
                      const unsigned char *send, int nocase, int depth, int *give_up) {
    if (depth > 1000) return 0; /* pathological patterns must not exhaust the stack */
    while (p < pend) {
        switch (*p) {
        case '*':
            while (p + 1 < pend && p[1] == '*') p++;
            if (p + 1 == pend) return 1;
            for (const unsigned char *t = s; t <= send; t++) {
                if (match_from(p + 1, pend, t, send, nocase, depth + 1, give_up)) return 1;
                if (*give_up) return 0;
            }
            *give_up = 1;
            return 0;
        case '?':
            if (s == send) return 0;
            s++;
            p++;
            break;
        case '[': {
            if (s == send) return 0;
            p++;
            if (!match_class(&p, pend, *s, nocase)) return 0;
            s++;
            break;
        }
        case '\\':
            if (p + 1 < pend) p++;
            /* the escaped character matches itself */
            __attribute__((fallthrough));
        default:
            if (s == send || fold(*p, nocase) != fold(*s, nocase)) return 0;
            s++;
            p++;
            break;
        }
    }
    return s == send;
}

int glob_match(const char *pattern, size_t plen, const char *str, size_t slen, int nocase) {
    const unsigned char *p = (const unsigned char *)pattern, *s = (const unsigned char *)str;
    int give_up = 0;
    return match_from(p, p + plen, s, s + slen, nocase, 0, &give_up);
}
