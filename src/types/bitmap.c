#include "types/bitmap.h"

#include <string.h>

/* Reads the stored bytes of the fragment starting at start into out (empty if missing),
 * without those past the size. A key that did not exist before this command has no fragments. */
static int read_fragment(compound *c, uint64_t start, buf *out) {
    buf_clear(out);
    if (!c->found) return 0;
    char name[24];
    int rc = compound_get(c, name, enc_fragment_name(name, start), out);
    if (rc < 0) return -1;
    if (rc == 0) buf_clear(out);
    if (out->len > BITMAP_FRAGMENT_BYTES) return BITMAP_CORRUPT;
    uint64_t in_size = start < c->m.size ? c->m.size - start : 0;
    if (out->len > in_size) out->len = (size_t)in_size;
    return 0;
}

/* Stores a fragment without its trailing zero bytes; one left empty is deleted (or never written). */
static void write_fragment(compound *c, uint64_t start, buf *frag) {
    while (frag->len > 0 && frag->data[frag->len - 1] == 0) frag->len--;
    char name[24];
    size_t nlen = enc_fragment_name(name, start);
    if (frag->len > 0)
        compound_put(c, name, nlen, frag->data, frag->len);
    else if (c->found)
        compound_del(c, name, nlen);
}

/* Makes the fragment at least len bytes long, zero-filled. */
static void extend_fragment(buf *frag, size_t len) {
    if (frag->len >= len) return;
    buf_reserve(frag, len - frag->len);
    memset(frag->data + frag->len, 0, len - frag->len);
    frag->len = len;
}

/* Grows the length to cover len bytes and saves the metadata. The key exists from now on:
 * later operations on c must read the fragments written so far. */
static void save_size(compound *c, uint64_t len) {
    if (len > c->m.size) c->m.size = len;
    compound_save(c);
    c->found = 1;
}

/* The piece of a byte range [offset + done, offset + len) that lies in one fragment: the
 * fragment's start, where the piece begins in it, and its length. */
typedef struct span {
    uint64_t start;
    size_t at, n;
} span;

static span next_span(uint64_t offset, size_t done, size_t len) {
    uint64_t pos = offset + done;
    span sp;
    sp.start = pos - pos % BITMAP_FRAGMENT_BYTES;
    sp.at = (size_t)(pos - sp.start);
    sp.n = BITMAP_FRAGMENT_BYTES - sp.at < len - done ? BITMAP_FRAGMENT_BYTES - sp.at : len - done;
    return sp;
}

int bitmap_write(compound *c, uint64_t offset, const char *bytes, size_t len) {
    buf frag;
    buf_init(&frag);
    int rc = 0;
    for (size_t done = 0; done < len && rc == 0;) {
        span sp = next_span(offset, done, len);
        rc = read_fragment(c, sp.start, &frag);
        if (rc == 0) {
            extend_fragment(&frag, sp.at + sp.n);
            for (size_t i = 0; i < sp.n; i++)
                frag.data[sp.at + i] = (char)enc_reverse_bits((uint8_t)bytes[done + i]);
            write_fragment(c, sp.start, &frag);
        }
        done += sp.n;
    }
    if (rc == 0) {
        save_size(c, offset + len);
    }
    buf_free(&frag);
    return rc;
}

/* Where a bit lives: its fragment's start, the byte within it, and the bit's mask there. */
static void locate_bit(uint64_t bit, uint64_t *start, size_t *at, uint8_t *mask) {
    uint64_t byte = bit >> 3;
    *start = byte - byte % BITMAP_FRAGMENT_BYTES;
    *at = (size_t)(byte - *start);
    *mask = (uint8_t)(1u << (bit & 7)); /* Kvrocks's order: bit 0 is the least significant */
}

int bitmap_getbit(compound *c, uint64_t bit, int *value) {
    *value = 0;
    if ((bit >> 3) >= c->m.size) return 0;
    uint64_t start;
    size_t at;
    uint8_t mask;
    locate_bit(bit, &start, &at, &mask);
    buf frag;
    buf_init(&frag);
    int rc = read_fragment(c, start, &frag);
    if (rc == 0 && at < frag.len) *value = ((uint8_t)frag.data[at] & mask) != 0;
    buf_free(&frag);
    return rc;
}

int bitmap_setbit(compound *c, uint64_t bit, int on, int *old) {
    uint64_t start;
    size_t at;
    uint8_t mask;
    locate_bit(bit, &start, &at, &mask);
    buf frag;
    buf_init(&frag);
    int rc = read_fragment(c, start, &frag);
    if (rc == 0) {
        extend_fragment(&frag, at + 1);
        uint8_t *byte = (uint8_t *)frag.data + at;
        *old = (*byte & mask) != 0;
        *byte = on ? (*byte | mask) : (*byte & (uint8_t)~mask);
        write_fragment(c, start, &frag);
        save_size(c, (bit >> 3) + 1);
    }
    buf_free(&frag);
    return rc;
}

/* Calls fn for every stored fragment within size, with its start and its bytes (clipped to
 * size): 0, -1 on a read error, or BITMAP_CORRUPT at a malformed fragment. Walking the fragments that exist skips
 * the gaps of a sparse bitmap; they come in the order of their decimal names ("10240" before
 * "2048"). */
static int each_fragment(compound *c, void (*fn)(void *arg, uint64_t start, const char *val, size_t vlen),
                         void *arg) {
    compound_iter ci;
    compound_iter_open(&ci, c, NULL, 0);
    const char *name, *val;
    size_t nlen, vlen;
    int rc = 0;
    while (rc == 0 && compound_iter_next(&ci, &name, &nlen, &val, &vlen)) {
        uint64_t start;
        if (enc_fragment_offset(name, nlen, &start) < 0 || vlen > BITMAP_FRAGMENT_BYTES) {
            rc = BITMAP_CORRUPT;
        } else if (start < c->m.size) {
            fn(arg, start, val, vlen < c->m.size - start ? vlen : (size_t)(c->m.size - start));
        }
    }
    if (compound_iter_close(&ci) < 0) rc = -1; /* a read error ended the walk, not the end */
    return rc;
}

typedef struct count_arg {
    uint64_t first, last;
    long long count;
} count_arg;

/* Reversing a byte's bits keeps its population count: stored bytes count as they are. */
static void count_fragment(void *arg, uint64_t start, const char *val, size_t vlen) {
    count_arg *a = arg;
    for (size_t i = 0; i < vlen; i++)
        if (start + i >= a->first && start + i <= a->last) a->count += __builtin_popcount((uint8_t)val[i]);
}

int bitmap_count(compound *c, uint64_t first, uint64_t last, long long *count) {
    count_arg a = {first, last, 0};
    int rc = each_fragment(c, count_fragment, &a);
    *count = a.count;
    return rc;
}

/* Whether bit b (Redis's numbering) of a string byte stored as `stored` is set. */
static int stored_bit(uint8_t stored, uint64_t b) { return (stored >> (b & 7)) & 1; }

typedef struct find_arg {
    uint64_t first, last;
    long long pos;
} find_arg;

/* The first set bit of a fragment within the range, kept if it comes before those found so far. */
static void find_set_bit(void *arg, uint64_t start, const char *val, size_t vlen) {
    find_arg *f = arg;
    for (size_t i = 0; i < vlen; i++) {
        if (val[i] == 0) continue;
        for (uint64_t b = (start + i) * 8; b < (start + i + 1) * 8; b++) {
            if (f->pos >= 0 && b >= (uint64_t)f->pos) return;
            if (b >= f->first && b <= f->last && stored_bit((uint8_t)val[i], b)) {
                f->pos = (long long)b;
                return;
            }
        }
    }
}

/* The first clear bit from first on: a missing fragment (or its end past the stored bytes)
 * holds one at once, so only fragments of all ones are walked through. */
static int find_clear_bit(compound *c, uint64_t first, uint64_t last, long long *pos) {
    buf frag;
    buf_init(&frag);
    int rc = 0;
    uint64_t start = (first >> 3) - (first >> 3) % BITMAP_FRAGMENT_BYTES;
    for (uint64_t b = first; rc == 0 && *pos < 0 && b <= last; start += BITMAP_FRAGMENT_BYTES) {
        rc = read_fragment(c, start, &frag);
        for (; rc == 0 && b <= last && (b >> 3) < start + BITMAP_FRAGMENT_BYTES; b++) {
            size_t at = (size_t)((b >> 3) - start);
            uint8_t stored = at < frag.len ? (uint8_t)frag.data[at] : 0;
            if ((b & 7) == 0 && stored == 0xFF && b + 7 <= last) {
                b += 7; /* a byte of ones */
            } else if (!stored_bit(stored, b)) {
                *pos = (long long)b;
                break;
            }
        }
    }
    buf_free(&frag);
    return rc;
}

int bitmap_find_bit(compound *c, int bit, uint64_t first, uint64_t last, long long *pos) {
    *pos = -1;
    if (!bit) return find_clear_bit(c, first, last, pos);
    find_arg f = {first, last, -1};
    int rc = each_fragment(c, find_set_bit, &f);
    *pos = f.pos;
    return rc;
}

/* A range read: the string bytes [offset, offset + len) into out, already len bytes of zeros. */
typedef struct range_arg {
    buf *out;
    uint64_t offset;
    size_t len;
} range_arg;

/* Copies the part of a fragment that lies in the range. */
static void copy_overlap(void *arg, uint64_t start, const char *val, size_t vlen) {
    range_arg *r = arg;
    uint64_t from = start > r->offset ? start : r->offset;
    uint64_t to = start + vlen < r->offset + r->len ? start + vlen : r->offset + r->len;
    for (uint64_t i = from; i < to; i++)
        r->out->data[i - r->offset] = (char)enc_reverse_bits((uint8_t)val[i - start]);
}

/* Ranges over more fragments than this walk the fragments that exist instead of reading each. */
#define POINT_READ_FRAGMENTS 16

int bitmap_read_range(compound *c, uint64_t offset, size_t len, buf *out) {
    buf_clear(out);
    extend_fragment(out, len);
    range_arg r = {out, offset, len};
    if (len / BITMAP_FRAGMENT_BYTES > POINT_READ_FRAGMENTS) return each_fragment(c, copy_overlap, &r);
    buf frag;
    buf_init(&frag);
    int rc = 0;
    for (uint64_t start = offset - offset % BITMAP_FRAGMENT_BYTES; rc == 0 && start < offset + len;
         start += BITMAP_FRAGMENT_BYTES) {
        rc = read_fragment(c, start, &frag);
        if (rc == 0) copy_overlap(&r, start, frag.data, frag.len);
    }
    buf_free(&frag);
    return rc;
}

int bitmap_read(compound *c, buf *out) { return bitmap_read_range(c, 0, (size_t)c->m.size, out); }
