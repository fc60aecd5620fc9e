#include "types/scan_cursor.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage/encoding.h"
#include "util/hash.h"

#define CODE_BITS 63 /* a stateless cursor's code; its top bit is clear */
#define SKIP_BITS 8  /* a skip of 1..256 bytes */
#define SKIP_MAX (1 << SKIP_BITS)
#define REMEMBERED (UINT64_C(1) << 63)
#define TICKET_BITS 28
#define COARSE_BITS (CODE_BITS - TICKET_BITS)
#define TICKET_MASK ((UINT64_C(1) << TICKET_BITS) - 1)
#define COARSE_MASK ((UINT64_C(1) << COARSE_BITS) - 1)

/* A code as a bit string of `size` bits (the low bits of v), read or written from its most
 * significant bit. */
typedef struct bit_string {
    uint64_t v;
    int size, used;
} bit_string;

static int bits_left(const bit_string *b) { return b->size - b->used; }

static unsigned read_bits(bit_string *b, int n) {
    unsigned v = 0;
    for (int i = 0; i < n; i++, b->used++) v = v << 1 | (unsigned)((b->v >> (b->size - 1 - b->used)) & 1);
    return v;
}

static void write_bits(bit_string *b, unsigned v, int n) {
    for (int i = n - 1; i >= 0; i--, b->used++) b->v |= (uint64_t)((v >> i) & 1) << (b->size - 1 - b->used);
}

/* A literal takes 8 bits, or what is left of the code. */
static int literal_bits(const bit_string *b) { return bits_left(b) < 8 ? bits_left(b) : 8; }

/* Whether every key under region starts with p (a prefix of the first key under region, longer
 * than region): no key under region is at or after the end of p's keys. 1, 0, or -1. */
static int all_share(const scan_keys *keys, const char *region, size_t rlen, const char *p, size_t plen) {
    buf end;
    buf_init(&end);
    enc_prefix_end(&end, p, plen);
    /* p all 0xFF: every key from p on starts with p */
    int rc = end.len == 0 ? 0 : keys->any_from(keys->arg, region, rlen, end.data, end.len);
    buf_free(&end);
    return rc < 0 ? -1 : !rc;
}

/* The boundary a code of `size` bits stands for. */
static int decode_code(uint64_t code, int size, const scan_keys *keys, buf *from) {
    bit_string b = {code, size, 0};
    buf first;
    buf_init(&first);
    buf_clear(from);
    size_t keep = 0; /* the boundary without its trailing zero literals */
    int rc = 0;
    while (bits_left(&b) > 0) {
        if (read_bits(&b, 1)) {
            if (bits_left(&b) < SKIP_BITS) break; /* no encoder writes that: a made-up cursor */
            size_t skip = read_bits(&b, SKIP_BITS) + 1;
            rc = keys->first(keys->arg, from->data, from->len, &first);
            if (rc == 1 && first.len < from->len + skip) rc = 0;
            if (rc == 1) rc = all_share(keys, from->data, from->len, first.data, from->len + skip);
            if (rc <= 0) break; /* the keys changed: resume here, before the boundary */
            buf_append(from, first.data + from->len, skip);
            keep = from->len;
        }
        int n = literal_bits(&b);
        if (n == 0) break;
        char byte = (char)(read_bits(&b, n) << (8 - n));
        buf_append(from, &byte, 1);
        if (byte) keep = from->len;
    }
    from->len = keep;
    buf_free(&first);
    return rc < 0 ? -1 : 0;
}

/* How many bytes of key from pos on (at most SKIP_MAX) every key under key[0..pos) shares:
 * those it shares with the first such key, if all keys share them (the usual case, one look),
 * else the most that all share (a binary search). 0 or more, or -1 on a read error. */
static long long skip_for(const scan_keys *keys, const char *key, size_t klen, size_t pos, buf *first) {
    int rc = keys->first(keys->arg, key, pos, first);
    if (rc <= 0) return rc;
    size_t most = 0;
    while (most < SKIP_MAX && pos + most < first->len && pos + most < klen &&
           first->data[pos + most] == key[pos + most])
        most++;
    if (most == 0) return 0;
    rc = all_share(keys, key, pos, first->data, pos + most);
    if (rc != 0) return rc < 0 ? -1 : (long long)most;
    /* A key under the region differs sooner: the longest part all share, by bisection. */
    size_t lo = 0, hi = most - 1; /* lo bytes are shared by all, more than hi are not */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        rc = all_share(keys, key, pos, first->data, pos + mid);
        if (rc < 0) return -1;
        if (rc) lo = mid;
        else hi = mid - 1;
    }
    return (long long)lo;
}

int scan_cursor_encode(const char *key, size_t klen, const scan_keys *keys, uint64_t *cursor, buf *boundary) {
    bit_string b = {0, CODE_BITS, 0};
    buf first;
    buf_init(&first);
    size_t pos = 0, keep = 0; /* keep: the boundary's length, without trailing zero literals */
    uint8_t last_literal = 0;
    int partial = 0; /* the last literal had fewer than 8 bits (then it is the code's end) */
    long long skip = 0;
    while (bits_left(&b) > 0 && pos < klen) {
        skip = bits_left(&b) > SKIP_BITS ? skip_for(keys, key, klen, pos, &first) : 0;
        if (skip < 0) break;
        write_bits(&b, skip > 0, 1);
        if (skip > 0) {
            write_bits(&b, (unsigned)(skip - 1), SKIP_BITS);
            pos += (size_t)skip;
            keep = pos;
        }
        int n = literal_bits(&b);
        if (pos == klen || n == 0) break;
        last_literal = (uint8_t)((uint8_t)key[pos] >> (8 - n) << (8 - n));
        partial = n < 8;
        write_bits(&b, last_literal >> (8 - n), n);
        pos++;
        if (last_literal) keep = pos;
    }
    buf_clear(boundary);
    buf_append(boundary, key, keep);
    if (partial && last_literal) boundary->data[keep - 1] = (char)last_literal;
    buf_free(&first);
    *cursor = b.v;
    return skip < 0 ? -1 : 0;
}

/* ---- remembered cursors ---- */

/* One remembered boundary; a slot is empty when boundary is NULL. */
typedef struct remembered {
    uint64_t ticket, coarse, scope;
    char *boundary;
    size_t len;
} remembered;

/* Slot i holds the newest ticket that is i modulo SCAN_REMEMBER_SLOTS, so the slots after the
 * newest one hold the oldest entries. All under lock. */
static struct {
    pthread_mutex_t lock;
    remembered slots[SCAN_REMEMBER_SLOTS];
    uint64_t next_ticket;
    size_t bytes;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void forget(remembered *r) {
    table.bytes -= r->len;
    free(r->boundary);
    r->boundary = NULL;
    r->len = 0;
}

size_t scan_remembered_bytes(void) {
    pthread_mutex_lock(&table.lock);
    size_t bytes = table.bytes;
    pthread_mutex_unlock(&table.lock);
    return bytes;
}

void scan_remembered_forget_all(void) {
    pthread_mutex_lock(&table.lock);
    for (int i = 0; i < SCAN_REMEMBER_SLOTS; i++) forget(&table.slots[i]);
    pthread_mutex_unlock(&table.lock);
}

/* Keeps a boundary under the next ticket, the oldest entries making room; the ticket. */
static uint64_t remember(uint64_t coarse, uint64_t scope, char *boundary, size_t len) {
    pthread_mutex_lock(&table.lock);
    uint64_t ticket = table.next_ticket++ & TICKET_MASK;
    size_t at = ticket % SCAN_REMEMBER_SLOTS;
    forget(&table.slots[at]);
    table.slots[at] = (remembered){ticket, coarse, scope, boundary, len};
    table.bytes += len;
    for (size_t i = 1; table.bytes > SCAN_REMEMBER_BYTES_MAX && i < SCAN_REMEMBER_SLOTS; i++)
        forget(&table.slots[(at + i) % SCAN_REMEMBER_SLOTS]);
    pthread_mutex_unlock(&table.lock);
    return ticket;
}

/* The exact boundary of a remembered cursor (into from), if its slot still holds it: 1, else 0. */
static int recall(uint64_t cursor, uint64_t scope, buf *from) {
    uint64_t ticket = cursor >> COARSE_BITS & TICKET_MASK, coarse = cursor & COARSE_MASK;
    pthread_mutex_lock(&table.lock);
    const remembered *r = &table.slots[ticket % SCAN_REMEMBER_SLOTS];
    int held = r->boundary && r->ticket == ticket && r->coarse == coarse && r->scope == scope;
    if (held) buf_append(from, r->boundary, r->len);
    pthread_mutex_unlock(&table.lock);
    return held;
}

/* scan_cursor_decode, telling whether a remembered cursor was forgotten (*forgotten). */
static int decode_cursor(uint64_t cursor, const scan_keys *keys, buf *from, int *forgotten) {
    *forgotten = 0;
    if (!(cursor & REMEMBERED)) return decode_code(cursor, CODE_BITS, keys, from);
    buf_clear(from);
    if (recall(cursor, keys->scope, from)) return 0;
    *forgotten = 1;
    return decode_code(cursor & COARSE_MASK, COARSE_BITS, keys, from);
}

int scan_cursor_decode(uint64_t cursor, const scan_keys *keys, buf *from) {
    int forgotten;
    return decode_cursor(cursor, keys, from, &forgotten);
}

/* A remembered cursor for the shortest boundary after last and at or before next (last < next:
 * their shared bytes and next's first other one); 0 if it is too long to keep. The coarse code
 * is the first bits of next's code, a boundary at or before it. */
static int remembered_cursor(const scan_keys *keys, const char *last, size_t llen, const char *next, size_t nlen,
                             uint64_t code, uint64_t *cursor) {
    size_t shared = 0;
    while (shared < llen && shared < nlen && last[shared] == next[shared]) shared++;
    if (shared == nlen) return 0; /* next is not after last: no boundary lies between */
    size_t len = shared + 1;
    if (len > SCAN_REMEMBER_BOUNDARY_MAX) return 0;
    char *boundary = malloc(len);
    if (!boundary) return 0;
    memcpy(boundary, next, len);
    uint64_t coarse = code >> TICKET_BITS;
    uint64_t ticket = remember(coarse, keys->scope, boundary, len);
    *cursor = REMEMBERED | ticket << COARSE_BITS | coarse;
    return 1;
}

/* scan_cursor_after, with remembered cursors or (may_remember 0) stateless ones only. */
static int cursor_after(const scan_keys *keys, const char *last, size_t llen, const char *next, size_t nlen,
                        int may_remember, uint64_t *cursor) {
    uint64_t code;
    buf boundary;
    buf_init(&boundary);
    int rc = scan_cursor_encode(next, nlen, keys, &code, &boundary);
    if (rc == 0 && bytes_compare(boundary.data, boundary.len, last, llen) > 0) {
        *cursor = code;
        rc = 1;
    } else if (rc == 0 && may_remember) {
        rc = remembered_cursor(keys, last, llen, next, nlen, code, cursor);
    }
    buf_free(&boundary);
    return rc;
}

int scan_cursor_after(const scan_keys *keys, const char *last, size_t llen, const char *next, size_t nlen,
                      uint64_t *cursor) {
    return cursor_after(keys, last, llen, next, nlen, 1, cursor);
}

/* ---- scopes ---- */

void scan_scope_keys(scan_scope *s, txn *t, int db) {
    s->t = t;
    s->cf = CF_METADATA;
    buf_init(&s->prefix);
    enc_namespace(&s->prefix, db);
    s->stateless_only = 0;
}

void scan_scope_members(scan_scope *s, const compound *c) {
    s->t = c->t;
    s->cf = CF_DEFAULT;
    buf_init(&s->prefix);
    compound_subkey(c, &s->prefix, NULL, 0);
    s->stateless_only = 0;
}

void scan_scope_free(scan_scope *s) { buf_free(&s->prefix); }

/* A key of the scope under region, at or after from (the relative key in out, when given). */
static int first_stored(const scan_scope *s, const char *region, size_t rlen, const char *from, size_t flen, buf *out) {
    buf prefix, start, found;
    buf_init(&prefix);
    buf_init(&start);
    buf_init(&found);
    buf_append(&prefix, s->prefix.data, s->prefix.len);
    buf_append(&prefix, region, rlen);
    buf_append(&start, s->prefix.data, s->prefix.len);
    buf_append(&start, from, flen);
    int rc = txn_first_under(s->t, s->cf, prefix.data, prefix.len, start.data, start.len, &found);
    if (rc == 1 && out) {
        buf_clear(out);
        buf_append(out, found.data + s->prefix.len, found.len - s->prefix.len);
    }
    buf_free(&prefix);
    buf_free(&start);
    buf_free(&found);
    return rc;
}

static int stored_first(void *arg, const char *region, size_t rlen, buf *out) {
    return first_stored(arg, region, rlen, region, rlen, out);
}

static int stored_any_from(void *arg, const char *region, size_t rlen, const char *from, size_t flen) {
    return first_stored(arg, region, rlen, from, flen, NULL);
}

/* The prefix names the scope: a database's keys are under its namespace, a compound key's
 * members under a longer prefix (ENCODING.md), so two scopes never share one. */
static scan_keys stored_keys(const scan_scope *s) {
    return (scan_keys){stored_first, stored_any_from, (void *)s, hash_fnv1a(0, s->prefix.data, s->prefix.len)};
}

int scan_resume(scan_scope *s, uint64_t cursor, buf *from) {
    scan_keys keys = stored_keys(s);
    return decode_cursor(cursor, &keys, from, &s->stateless_only);
}

int scan_page_ends(const scan_scope *s, const char *last, size_t llen, const char *next, size_t nlen,
                   uint64_t *cursor) {
    scan_keys keys = stored_keys(s);
    return cursor_after(&keys, last, llen, next, nlen, !s->stateless_only, cursor);
}
