#ifndef TIDEKV_HEX_H
#define TIDEKV_HEX_H

#include <stddef.h>

#include "util/buf.h"

/* Appends uppercase hex of s. */
void hex_encode(buf *out, const char *s, size_t len);

#endif
