/* Minimal JSON writing: strings with escapes, UTF-8 validation, base64 for binary. */
#ifndef TIDEKV_JSON_H
#define TIDEKV_JSON_H

#include <stddef.h>

#include "util/buf.h"

int json_is_utf8(const char *s, size_t len);
/* Appends s as a JSON string (quoted, escaped). s must be valid UTF-8. */
void json_append_string(buf *out, const char *s, size_t len);
/* Appends a binary-safe value: a JSON string if s is valid UTF-8, else {"base64":"..."}. */
void json_append_bytes(buf *out, const char *s, size_t len);
void base64_encode(buf *out, const char *s, size_t len);

#endif
