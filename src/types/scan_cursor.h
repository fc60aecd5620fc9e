/* SCAN-family cursors. A cursor is a 64-bit number standing for a boundary string: the scan
 * resumes at the first key >= it. Any number is a valid cursor (a made-up one resumes
 * somewhere), and a scan returns every key present for the whole of it. The top bit tells
 * the two kinds apart.
 *
 * Top bit 0: a stateless code, the normal case. The other 63 bits code the boundary,
 * compressed against the keys themselves; nothing is kept, and the cursor outlives restarts.
 * The code is read as a bit string, most significant bit first, made of steps that each
 * extend the boundary X built so far:
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
 * or before the boundary (some keys come again; Redis allows that). The first bits of a code
 * alone (a code cut short) decode to a boundary at or before the whole code's, as safely.
 *
 * Top bit 1: a remembered cursor, for the page ends no code can say (keys sharing a prefix
 * longer than the code holds: ~1 KB, or 60 bytes when a few keys leave it on the way).
 * Its next 28 bits are a ticket, its last 35 the first 35 bits of the page end's code (the
 * coarse code). A server-wide table of SCAN_REMEMBER_SLOTS slots, used in ticket order,
 * keeps the exact boundary (the shortest string after the page's last key and at or before
 * the next one) with the ticket, the coarse code and a hash of the scope it was made for.
 * A cursor whose slot still holds all three resumes exactly there; otherwise (the slot went
 * to a newer cursor, a restart, a made-up number, another scope's cursor) it resumes at its
 * coarse code, at or before the exact boundary: some keys come again, none is missed.
 * A ticket comes back only after 2^28 remembered cursors, so a cursor meets a slot holding
 * its ticket but not its boundary only that much later. Boundaries are kept up to
 * SCAN_REMEMBER_BOUNDARY_MAX bytes, the table's up to SCAN_REMEMBER_BYTES_MAX (the oldest go
 * first); a page end needing more is not remembered, and its next key joins the page.
 * The workers share the table, under one lock (THREADING.md).
 *
 * A cursor as made resumes after its page's last key (a stateless one while the keys stay as
 * they are, a remembered one while its slot holds it), so a scan moves on and ends; one that
 * falls back (a made-up cursor too) goes back to its coarse boundary, and the page it then
 * returns ends only where a stateless cursor can say (it may be long): so a scan ends even
 * when other scans evict every page it remembers before it comes back. */
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
    /* What the keys are (a hash of their scope): a remembered cursor resumes exactly only in
     * the scope it was made for. */
    uint64_t scope;
} scan_keys;

#define SCAN_REMEMBER_SLOTS 4096
#define SCAN_REMEMBER_BOUNDARY_MAX 8192
#define SCAN_REMEMBER_BYTES_MAX (2u << 20)

/* The boundary a cursor of either kind stands for (into from, cleared first): 0, or -1 on a
 * read error. */
int scan_cursor_decode(uint64_t cursor, const scan_keys *keys, buf *from);
/* A stateless cursor for a boundary at or before key (the closest the code can say); the
 * boundary (what decoding finds while the keys stay as they are) goes to boundary. 0, or -1
 * on a read error. */
int scan_cursor_encode(const char *key, size_t klen, const scan_keys *keys, uint64_t *cursor, buf *boundary);
/* Whether a page that ended with `last` may stop before `next` (the key after it): 1 with the
 * cursor to resume at, whose boundary falls after `last` (so no key comes twice and the scan
 * moves on): a stateless one if it can say such a boundary, else a remembered one; 0 when
 * `next` must join the page (a boundary too long to remember); -1 on a read error. */
int scan_cursor_after(const scan_keys *keys, const char *last, size_t llen, const char *next, size_t nlen,
                      uint64_t *cursor);
/* The bytes the remembered boundaries hold, and forgetting them all (as a restart does). */
size_t scan_remembered_bytes(void);
void scan_remembered_forget_all(void);

/* What a scan walks: the keys of a database, or the members of one compound key. */
typedef struct scan_scope {
    txn *t;
    int cf;
    buf prefix;
    /* The scan resumed at a remembered cursor the table had forgotten (evicted by other
     * scans, or a restart): its page ends only where a stateless cursor can say, so that it
     * moves on even when every page it would remember is evicted before it comes back. */
    int stateless_only;
} scan_scope;

void scan_scope_keys(scan_scope *s, txn *t, int db);
void scan_scope_members(scan_scope *s, const compound *c);
void scan_scope_free(scan_scope *s);
/* Where a scan resumes for a cursor (a key or member, into from): 0, or -1 on a read error.
 * Sets s->stateless_only when it had to fall back from a forgotten remembered cursor. */
int scan_resume(scan_scope *s, uint64_t cursor, buf *from);
/* scan_cursor_after over the scope's stored keys. */
int scan_page_ends(const scan_scope *s, const char *last, size_t llen, const char *next, size_t nlen,
                   uint64_t *cursor);

#endif
