/* Stateless SCAN-family cursors. A cursor is a 64-bit code of a boundary string: the scan
 * resumes at the first key >= it. Nothing is kept between calls, so any number is a valid
 * cursor (a made-up one resumes somewhere), and cursors outlive restarts.
 *
 * The code compresses the boundary against the keys themselves. It is read as a bit string,
 * most significant bit first, made of steps that each extend the boundary X built so far:
 *   - a skip: bit 0 (none), or bit 1 and 8 bits for s-1 (1..256): append the next s bytes of
 *     the first key under X, which every key under X shares;
 *   - a literal: the next byte (its high bits only, when fewer than 8 bits are left).
 * Literal zero bytes at the end are dropped (they pad a boundary shorter than the code).
 * Shared prefixes ("user:session:") thus cost a skip, and keys that differ early cost 8 or 9
 * bits a byte: a boundary is usually exact to several bytes past the shared part.
 *
 * Why no key present throughout a scan is missed: the encoder only copies bytes that every
 * key under X shares when it encodes. When the cursor is decoded, a key that was there then
 * and still is shares them too, and is one of the keys the decoder reads them from, so the
 * decoder finds the same bytes; if no such key is left under X, none can be missed there.
 * A decoder that finds no keys under X, or a shorter common prefix, stops at X, which is at
 * or before the boundary (some keys come again; Redis allows that). */
#ifndef TIDEKV_SCAN_CURSOR_H
#define TIDEKV_SCAN_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "storage/txn.h"
#include "types/compound.h"
#include "util/buf.h"

/* The keys a cursor is coded against, as the codec reads them (both return 1, 0 if there is
 * no such key, -1 on a read error). */
typedef struct scan_keys {
    /* The first key starting with region (copied to out). */
    int (*first)(void *arg, const char *region, size_t rlen, buf *out);
    /* Whether a key starting with region is at or after `from`. */
    int (*any_from)(void *arg, const char *region, size_t rlen, const char *from, size_t flen);
    void *arg;
} scan_keys;

/* The boundary a cursor stands for (into from, cleared first): 0, or -1 on a read error. */
int scan_cursor_decode(uint64_t cursor, const scan_keys *keys, buf *from);
/* A cursor for a boundary at or before key (the closest the code can say); the boundary (what
 * decoding finds while the keys stay as they are) goes to boundary. 0, or -1 on a read error. */
int scan_cursor_encode(const char *key, size_t klen, const scan_keys *keys, uint64_t *cursor, buf *boundary);

/* What a scan walks: the keys of a database, or the members of one compound key. */
typedef struct scan_scope {
    txn *t;
    int cf;
    buf prefix;
} scan_scope;

void scan_scope_keys(scan_scope *s, txn *t, int db);
void scan_scope_members(scan_scope *s, const compound *c);
void scan_scope_free(scan_scope *s);
/* Where a scan resumes for a cursor (a key or member, into from): 0, or -1 on a read error. */
int scan_resume(const scan_scope *s, uint64_t cursor, buf *from);
/* Whether a page that ended with `last` may stop before `next` (the key after it): 1 with the
 * cursor to resume at, when the cursor's boundary falls after `last` (so no key comes twice
 * and the scan moves on); 0 when `next` must join the page (keys sharing a long prefix);
 * -1 on a read error. */
int scan_page_ends(const scan_scope *s, const char *last, size_t llen, const char *next, size_t nlen,
                   uint64_t *cursor);

#endif
