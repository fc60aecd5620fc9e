#include "script/library.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/sha1.h"

/* The libraries: an application's handful, so a plain array searched in full. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static library *libs;
static size_t nlibs, cap;
static atomic_ullong generation = 1;

static char *copy_string(const char *s, size_t len) {
    char *p = malloc(len + 1);
    if (!p) abort();
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void library_init(library *lib) { memset(lib, 0, sizeof(*lib)); }

void library_free(library *lib) {
    for (size_t i = 0; i < lib->nfns; i++) {
        free(lib->fns[i].name);
        free(lib->fns[i].description);
    }
    free(lib->fns);
    free(lib->name);
    free(lib->code);
    library_init(lib);
}

void library_add_function(library *lib, const char *name, const char *description, int flags) {
    lib->fns = realloc(lib->fns, (lib->nfns + 1) * sizeof(*lib->fns));
    if (!lib->fns) abort();
    function_info *f = &lib->fns[lib->nfns++];
    f->name = copy_string(name, strlen(name));
    f->description = description ? copy_string(description, strlen(description)) : NULL;
    f->flags = flags;
}

int library_has_function(const library *lib, const char *name) {
    for (size_t i = 0; i < lib->nfns; i++)
        if (strcmp(lib->fns[i].name, name) == 0) return 1;
    return 0;
}

int function_name_valid(const char *p, size_t len) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

/* The installed library of that name (lock held), or -1. */
static long find_library(const char *name) {
    for (size_t i = 0; i < nlibs; i++)
        if (strcmp(libs[i].name, name) == 0) return (long)i;
    return -1;
}

/* Whether an installed library that stays (not named in the n new ones, no FLUSH) has the
 * function name. */
static int function_kept_elsewhere(const library *news, size_t n, int policy, const char *fn) {
    if (policy == LIBRARIES_FLUSH) return 0;
    for (size_t i = 0; i < nlibs; i++) {
        int replaced = 0;
        for (size_t j = 0; j < n && !replaced; j++) replaced = strcmp(news[j].name, libs[i].name) == 0;
        if (!replaced && library_has_function(&libs[i], fn)) return 1;
    }
    return 0;
}

/* Checks the new libraries against the installed ones and each other (lock held). */
static int check_install(const library *news, size_t n, int policy, int quote_name, buf *err) {
    for (size_t i = 0; i < n; i++) {
        int taken = policy == LIBRARIES_APPEND && find_library(news[i].name) >= 0;
        for (size_t j = 0; j < i && !taken; j++) taken = strcmp(news[j].name, news[i].name) == 0;
        if (taken) {
            buf_printf(err, quote_name ? "ERR Library '%s' already exists" : "ERR Library %s already exists",
                       news[i].name);
            return -1;
        }
        for (size_t f = 0; f < news[i].nfns; f++) {
            const char *fn = news[i].fns[f].name;
            int clash = function_kept_elsewhere(news, n, policy, fn);
            for (size_t j = 0; j < i && !clash; j++) clash = library_has_function(&news[j], fn);
            if (clash) {
                buf_printf(err, "ERR Function %s already exists", fn);
                return -1;
            }
        }
    }
    return 0;
}

/* Removes library i, moving it to the end of the dropped list. */
static void take_library(size_t i, library **dropped, size_t *ndropped) {
    *dropped = realloc(*dropped, (*ndropped + 1) * sizeof(**dropped));
    if (!*dropped) abort();
    (*dropped)[(*ndropped)++] = libs[i];
    libs[i] = libs[--nlibs];
}

int libraries_install(library *news, size_t n, int policy, int quote_name, buf *err, library **dropped,
                      size_t *ndropped) {
    *dropped = NULL;
    *ndropped = 0;
    pthread_mutex_lock(&lock);
    int rc = check_install(news, n, policy, quote_name, err);
    if (rc == 0) {
        while (policy == LIBRARIES_FLUSH && nlibs > 0) take_library(nlibs - 1, dropped, ndropped);
        for (size_t i = 0; i < n; i++) {
            long at = find_library(news[i].name);
            if (at >= 0) take_library((size_t)at, dropped, ndropped);
            if (nlibs == cap) {
                cap = cap ? cap * 2 : 8;
                libs = realloc(libs, cap * sizeof(*libs));
                if (!libs) abort();
            }
            libs[nlibs++] = news[i];
            library_init(&news[i]);
        }
        atomic_fetch_add(&generation, 1);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int libraries_delete(const char *name, size_t len) {
    char *key = copy_string(name, len);
    pthread_mutex_lock(&lock);
    long at = find_library(key);
    if (at >= 0) {
        library_free(&libs[at]);
        libs[at] = libs[--nlibs];
        atomic_fetch_add(&generation, 1);
    }
    pthread_mutex_unlock(&lock);
    free(key);
    return at >= 0;
}

uint64_t libraries_generation(void) { return atomic_load(&generation); }

static void copy_library(library *to, const library *from) {
    library_init(to);
    to->name = copy_string(from->name, strlen(from->name));
    to->code = copy_string(from->code, from->code_len);
    to->code_len = from->code_len;
    for (size_t i = 0; i < from->nfns; i++)
        library_add_function(to, from->fns[i].name, from->fns[i].description, from->fns[i].flags);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const library *)a)->name, ((const library *)b)->name);
}

library *libraries_copy(size_t *n, uint64_t *gen) {
    pthread_mutex_lock(&lock);
    library *out = malloc((nlibs ? nlibs : 1) * sizeof(*out));
    if (!out) abort();
    for (size_t i = 0; i < nlibs; i++) copy_library(&out[i], &libs[i]);
    *n = nlibs;
    *gen = atomic_load(&generation);
    pthread_mutex_unlock(&lock);
    qsort(out, *n, sizeof(*out), by_name);
    return out;
}

void libraries_free(library *list, size_t n) {
    for (size_t i = 0; i < n; i++) library_free(&list[i]);
    free(list);
}

void libraries_counts(size_t *nl, size_t *nf) {
    pthread_mutex_lock(&lock);
    *nl = nlibs;
    *nf = 0;
    for (size_t i = 0; i < nlibs; i++) *nf += libs[i].nfns;
    pthread_mutex_unlock(&lock);
}

/* ---- the dump payload ---- */

#define PAYLOAD_MAGIC "TKFN"
#define PAYLOAD_VERSION 1
#define PAYLOAD_SUM_LEN 40

void library_payload_build(const library *list, size_t n, buf *out) {
    size_t start = out->len;
    buf_append(out, PAYLOAD_MAGIC, 4);
    buf_put_u8(out, PAYLOAD_VERSION);
    buf_put_varint(out, n);
    for (size_t i = 0; i < n; i++) {
        buf_put_varint(out, list[i].code_len);
        buf_append(out, list[i].code, list[i].code_len);
    }
    char sum[41];
    sha1_hex(out->data + start, out->len - start, sum);
    buf_append(out, sum, PAYLOAD_SUM_LEN);
}

/* Walks the libraries' codes of a payload whose header and checksum are checked, calling
 * code() for each when it is given. Returns 0, or -1 if the body is malformed. */
static int walk_codes(const uint8_t *p, const uint8_t *end, void (*code)(void *, const char *, size_t), void *arg) {
    uint64_t n;
    if (buf_get_varint(&p, end, &n) < 0) return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (buf_get_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p)) return -1;
        if (code) code(arg, (const char *)p, (size_t)len);
        p += len;
    }
    return p == end ? 0 : -1;
}

int library_payload_parse(const char *data, size_t len, void (*code)(void *, const char *, size_t), void *arg) {
    if (len < 5 + PAYLOAD_SUM_LEN || memcmp(data, PAYLOAD_MAGIC, 4) != 0 || (uint8_t)data[4] != PAYLOAD_VERSION)
        return -1;
    size_t body_len = len - PAYLOAD_SUM_LEN;
    char sum[41];
    sha1_hex(data, body_len, sum);
    if (memcmp(sum, data + body_len, PAYLOAD_SUM_LEN) != 0) return -1;
    const uint8_t *p = (const uint8_t *)data + 5, *end = (const uint8_t *)data + body_len;
    if (walk_codes(p, end, NULL, NULL) < 0) return -1;
    return walk_codes(p, end, code, arg);
}
