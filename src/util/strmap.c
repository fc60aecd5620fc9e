#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

/* Names come from clients: the seed keeps a set of names that collide here from colliding in
 * every process. */
static uint64_t seed(void) {
    static uint64_t s;
    if (!s) s = (uint64_t)(uintptr_t)&s ^ 0x2545f4914f6cdd1dULL; /* differs per run with ASLR */
    return s;
}

void strmap_init(strmap *m) { memset(m, 0, sizeof(*m)); }

void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->cap; i++) {
        strmap_entry *e = m->slots[i];
        while (e) {
            strmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->slots);
    strmap_init(m);
}

strmap_entry *strmap_find(const strmap *m, const char *key, size_t len) {
    if (m->cap == 0) return NULL;
    uint64_t h = hash_words(seed(), key, len);
    for (strmap_entry *e = m->slots[h & (m->cap - 1)]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) return e;
    return NULL;
}

static void rehash(strmap *m, size_t cap) {
    strmap_entry **slots = calloc(cap, sizeof(*slots));
    if (!slots) abort();
    for (size_t i = 0; i < m->cap; i++) {
        strmap_entry *e = m->slots[i];
        while (e) {
            strmap_entry *next = e->next;
            e->next = slots[e->hash & (cap - 1)];
            slots[e->hash & (cap - 1)] = e;
            e = next;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

strmap_entry *strmap_add(strmap *m, const char *key, size_t len, int *added) {
    strmap_entry *e = strmap_find(m, key, len);
    *added = e == NULL;
    if (e) return e;
    if (m->len >= m->cap) rehash(m, m->cap ? m->cap * 2 : 8); /* at most one entry per slot on average */
    e = malloc(sizeof(*e) + len + 1);
    if (!e) abort();
    e->hash = hash_words(seed(), key, len);
    e->val = NULL;
    e->len = len;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    size_t slot = e->hash & (m->cap - 1);
    e->next = m->slots[slot];
    m->slots[slot] = e;
    m->len++;
    return e;
}

void strmap_unlink(strmap *m, strmap_entry *e) {
    for (strmap_entry **p = &m->slots[e->hash & (m->cap - 1)]; *p; p = &(*p)->next) {
        if (*p != e) continue;
        *p = e->next;
        m->len--;
        return;
    }
}

void strmap_remove(strmap *m, strmap_entry *e) {
    strmap_unlink(m, e);
    free(e);
}

strmap_entry *strmap_next(const strmap *m, size_t *pos, strmap_entry **cursor) {
    strmap_entry *e = *cursor;
    while (!e && *pos < m->cap) e = m->slots[(*pos)++];
    *cursor = e ? e->next : NULL;
    return e;
}
