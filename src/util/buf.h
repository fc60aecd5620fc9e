/* Growable byte buffer: the one container used for input, output and encoding. */
#ifndef TIDEKV_BUF_H
#define TIDEKV_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf;

/* Inline, as buf_free and buf_clear: a command's path makes dozens of buffers, most of which
 * it never fills. */
static inline void buf_init(buf *b) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static inline void buf_free(buf *b) {
    if (b->data) free(b->data);
    buf_init(b);
}

void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *p, size_t n);
void buf_append_str(buf *b, const char *s);
void buf_append_byte(buf *b, uint8_t c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (consumed input). */
void buf_consume(buf *b, size_t n);
static inline void buf_clear(buf *b) { b->len = 0; }
/* Bytewise order (RocksDB's default comparator): <0, 0 or >0. */
int bytes_compare(const void *a, size_t al, const void *b, size_t bl);

/* Big-endian fixed-width integers, as the storage encoding uses. */
void buf_put_u8(buf *b, uint8_t v);
void buf_put_u32be(buf *b, uint32_t v);
void buf_put_u64be(buf *b, uint64_t v);
uint32_t buf_get_u32be(const void *p);
uint64_t buf_get_u64be(const void *p);
void buf_set_u64be(void *p, uint64_t v);

/* Unsigned LEB128 varint, as RocksDB write batches and change records use. */
#define VARINT_MAX_LEN 10
void buf_put_varint(buf *b, uint64_t v);
/* Writes the varint of v at out (room for VARINT_MAX_LEN bytes); returns its length. */
size_t buf_set_varint(void *out, uint64_t v);
/* Reads a varint from [*p, end); returns 0 and advances *p, or -1 if truncated or too long. */
int buf_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

#endif
