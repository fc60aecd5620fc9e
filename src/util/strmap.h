/* A map from byte strings (channel names, patterns) to pointers: chained hashing over a
 * power-of-two table that doubles as it fills. Keys are copied into the entries. Not
 * thread-safe: its owner locks it (net/pubsub.c) or is its only thread. */
#ifndef TIDEKV_STRMAP_H
#define TIDEKV_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap_entry {
    struct strmap_entry *next;
    uint64_t hash;
    void *val;
    size_t len;
    char key[]; /* len bytes, then a '\0' */
} strmap_entry;

typedef struct strmap {
    strmap_entry **slots;
    size_t cap; /* a power of two, or 0 before the first add */
    size_t len;
} strmap;

void strmap_init(strmap *m);
/* Frees every entry (not the values) and the table. */
void strmap_free(strmap *m);
/* The entry for key, or NULL. */
strmap_entry *strmap_find(const strmap *m, const char *key, size_t len);
/* The entry for key, added with val NULL if it was not there (*added tells). */
strmap_entry *strmap_add(strmap *m, const char *key, size_t len, int *added);
/* Takes the entry out of the map and frees it (its value is the caller's). */
void strmap_remove(strmap *m, strmap_entry *e);
/* Takes the entry out of the map without freeing it: the caller frees it with free(). */
void strmap_unlink(strmap *m, strmap_entry *e);
/* Visits every entry: start with *pos = 0 and *cursor = NULL; returns the next entry, or NULL
 * at the end. The entry returned may be removed before the next call (no other may). */
strmap_entry *strmap_next(const strmap *m, size_t *pos, strmap_entry **cursor);

#endif
