#include "script/cache.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

/* A chained hash table: scripts are few (an application's handful), lookups are rare (once
 * per script and worker, or per EVAL of a script a worker has not compiled). */
#define SLOTS 1024

typedef struct entry {
    char sha[41];
    char *body;
    size_t len;
    struct entry *next;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *slots[SLOTS];
static size_t count, bytes;
static atomic_ullong generation;

/* The lowercase form of a 40-digit SHA-1 name; 0, or -1 if it is not one. */
static int normalize(const char *sha, size_t len, char out[41]) {
    if (len != 40) return -1;
    for (size_t i = 0; i < 40; i++) out[i] = (char)tolower((unsigned char)sha[i]);
    out[40] = '\0';
    return 0;
}

static entry **find(const char sha[41]) {
    entry **e = &slots[hash_fnv1a(0, sha, 40) % SLOTS];
    while (*e && memcmp((*e)->sha, sha, 40) != 0) e = &(*e)->next;
    return e;
}

void script_cache_add(const char sha[41], const char *body, size_t len) {
    pthread_mutex_lock(&lock);
    entry **at = find(sha);
    if (!*at) {
        entry *e = malloc(sizeof(*e));
        if (!e) abort();
        memcpy(e->sha, sha, 41);
        e->body = malloc(len + 1);
        if (!e->body) abort();
        memcpy(e->body, body, len);
        e->body[len] = '\0';
        e->len = len;
        e->next = NULL;
        *at = e;
        count++;
        bytes += len;
    }
    pthread_mutex_unlock(&lock);
}

int script_cache_get(const char *sha, size_t sha_len, buf *out) {
    char name[41];
    if (normalize(sha, sha_len, name) < 0) return 0;
    pthread_mutex_lock(&lock);
    entry *e = *find(name);
    if (e) buf_append(out, e->body, e->len);
    pthread_mutex_unlock(&lock);
    return e != NULL;
}

int script_cache_exists(const char *sha, size_t sha_len) {
    char name[41];
    if (normalize(sha, sha_len, name) < 0) return 0;
    pthread_mutex_lock(&lock);
    int found = *find(name) != NULL;
    pthread_mutex_unlock(&lock);
    return found;
}

void script_cache_flush(void) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < SLOTS; i++) {
        while (slots[i]) {
            entry *e = slots[i];
            slots[i] = e->next;
            free(e->body);
            free(e);
        }
    }
    count = bytes = 0;
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&lock);
}

uint64_t script_cache_generation(void) { return atomic_load(&generation); }

void script_cache_stats(size_t *n, size_t *total) {
    pthread_mutex_lock(&lock);
    *n = count;
    *total = bytes;
    pthread_mutex_unlock(&lock);
}
