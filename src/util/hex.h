#ifndef TIDEKV_HEX_H
#define TIDEKV_HEX_H

#include <stddef.h>

#include "util/buf.h"

/* Appends uppercase hex of s. */
void hex_encode(buf *out, const char *s, size_t len);
/* Appends the bytes that hex digits s (either case) spell: 0, or -1 if s is no even run of them. */
int hex_decode(buf *out, const char *s, size_t len);

#endif
