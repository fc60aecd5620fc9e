/* The bitmap type, stored as Kvrocks stores it (shared/ENCODING.md): a string kept in 1 KiB
 * fragments under a compound key, so that writing a bit or a few bytes far into a big string
 * touches one fragment instead of rewriting the whole value. Redis clients see a string.
 *
 * A fragment's subkey is the decimal byte offset where it starts (0, 1024, …); it may be
 * shorter than 1 KiB (trailing zero bytes are left out) or missing (all zeros); the metadata
 * size is the string's length in bytes. Kvrocks numbers the bits of a fragment byte from the
 * least significant one, Redis from the most significant: every byte is stored bit-reversed. */
#ifndef TIDEKV_TYPES_BITMAP_H
#define TIDEKV_TYPES_BITMAP_H

#include <stddef.h>
#include <stdint.h>

#include "types/compound.h"
#include "util/buf.h"

/* Operations on a bitmap opened with compound_open(…, TYPE_BITMAP) (or compound_attach).
 * Each returns 0, -1 on a storage error, or BITMAP_CORRUPT when a fragment it meets is
 * malformed (longer than a fragment, or under a subkey that is no fragment offset). Bytes
 * stored past the size are no part of the string (Kvrocks pads fragments with zeros): they
 * read as nothing and are never written back. Writes save the metadata. */
#define BITMAP_CORRUPT (-2)

/* Writes len string bytes at a byte offset, zero-filling any gap: SETRANGE, APPEND. */
int bitmap_write(compound *c, uint64_t offset, const char *bytes, size_t len);
/* Sets or clears a bit (Redis's numbering); the bit's old value in *old. */
int bitmap_setbit(compound *c, uint64_t bit, int on, int *old);
int bitmap_getbit(compound *c, uint64_t bit, int *value);
/* The whole string (size bytes) into out (cleared first); the caller bounds the size. */
int bitmap_read(compound *c, buf *out);
/* len string bytes from a byte offset (within size) into out (cleared first). A long range
 * walks the fragments that exist, so the gaps of a sparse bitmap cost nothing. */
int bitmap_read_range(compound *c, uint64_t offset, size_t len, buf *out);
/* BITCOUNT of bytes [first, last] (within size), over the fragments that exist. */
int bitmap_count(compound *c, uint64_t first, uint64_t last, long long *count);
/* BITPOS: the first bit equal to `bit` among bits [first, last] (Redis's numbering, within
 * size), -1 if none, reading only fragments that exist: a set bit is looked for over all of
 * them, a clear one in the fragments from first's on until one is not all ones. */
int bitmap_find_bit(compound *c, int bit, uint64_t first, uint64_t last, long long *pos);

#endif
