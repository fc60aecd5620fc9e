/* SHA-1 (FIPS 180-4): script names are the SHA-1 of their body, as Redis names them. */
#ifndef TIDEKV_SHA1_H
#define TIDEKV_SHA1_H

#include <stddef.h>

/* Writes the lowercase hex SHA-1 of data, NUL-terminated, into hex (41 bytes). */
void sha1_hex(const void *data, size_t len, char hex[41]);

#endif
