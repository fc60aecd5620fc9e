#include "script/library.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "util/strmap.h"
#include "util/sha1.h"

/* A set of libraries: a plain array (a change checks its names through hash sets). */
struct library_set {
    library *libs;
    size_t n, cap;
    uint64_t generation;
};

/* The published libraries, replaced whole under `lock` (readers copy them under it). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static library_set *published;
static atomic_ullong published_generation = 1;
/* Generations of working copies; 1 is the empty start. */
static atomic_ullong next_generation = 2;
/* One change at a time, from its working copy to its publication (or its end). */
static pthread_mutex_t change_lock = PTHREAD_MUTEX_INITIALIZER;
/* This thread's staged working copies, oldest first: while there are any, its txn holds the
 * change lock, and it sees the newest. */
static __thread library_set **staged;
static __thread size_t nstaged, staged_cap;

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
    lib->fns = grow_array(lib->fns, &lib->fns_cap, lib->nfns + 1, sizeof(*lib->fns), 4);
    function_info *f = &lib->fns[lib->nfns++];
    f->name = copy_string(name, strlen(name));
    f->description = description ? copy_string(description, strlen(description)) : NULL;
    f->flags = flags;
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

/* The library of that name (len bytes, which may hold a NUL no library name has) in a set,
 * or -1. */
static long find_library(const library_set *set, const char *name, size_t len) {
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->libs[i].name) == len && memcmp(set->libs[i].name, name, len) == 0) return (long)i;
    return -1;
}

static strmap_entry *add_name(strmap *names, const char *name, int *added) {
    return strmap_add(names, name, strlen(name), added);
}

static int has_name(const strmap *names, const char *name) { return strmap_find(names, name, strlen(name)) != NULL; }

/* Adds lib's function names to the set: NULL, or the first that was there already. */
static const char *add_function_names(strmap *functions, const library *lib) {
    for (size_t f = 0; f < lib->nfns; f++) {
        int added;
        add_name(functions, lib->fns[f].name, &added);
        if (!added) return lib->fns[f].name;
    }
    return NULL;
}

/* Checks the new libraries against the set's and each other, in the order of the new ones:
 * each one's name, then its functions against those of the libraries that stay and of the new
 * ones before it. Hash sets of the names keep it linear (a restored payload may hold
 * thousands of libraries). new_names gets each new library's name, its value the index + 1 of
 * its first holder. */
static int check_install(const library_set *set, const library *news, size_t n, int policy, int quote_name,
                         strmap *new_names, buf *err) {
    for (size_t i = 0; i < n; i++) {
        int added;
        strmap_entry *e = add_name(new_names, news[i].name, &added);
        if (added) e->val = (void *)(uintptr_t)(i + 1);
    }
    strmap old_names, functions;
    strmap_init(&old_names);
    strmap_init(&functions);
    for (size_t i = 0; i < set->n; i++) {
        int added;
        add_name(&old_names, set->libs[i].name, &added);
        if (policy != LIBRARIES_FLUSH && !has_name(new_names, set->libs[i].name))
            add_function_names(&functions, &set->libs[i]); /* they stay: unique already */
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uintptr_t first = (uintptr_t)strmap_find(new_names, news[i].name, strlen(news[i].name))->val;
        const char *clash;
        if (first != i + 1 || (policy == LIBRARIES_APPEND && has_name(&old_names, news[i].name))) {
            buf_printf(err, quote_name ? "ERR Library '%s' already exists" : "ERR Library %s already exists",
                       news[i].name);
            rc = -1;
        } else if ((clash = add_function_names(&functions, &news[i])) != NULL) {
            buf_printf(err, "ERR Function %s already exists", clash);
            rc = -1;
        }
    }
    strmap_free(&old_names);
    strmap_free(&functions);
    return rc;
}

/* Appends lib to the set, taking it over. */
static void append_library(library_set *set, library *lib) {
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 8;
        set->libs = realloc(set->libs, set->cap * sizeof(*set->libs));
        if (!set->libs) abort();
    }
    set->libs[set->n++] = *lib;
    library_init(lib);
}

/* Takes the set's libraries out that FLUSH drops or a new one replaces: the replaced ones are
 * freed, the others go to the dropped list. */
static void drop_libraries(library_set *set, int policy, const strmap *new_names, library **dropped,
                           size_t *ndropped) {
    if (policy == LIBRARIES_FLUSH) {
        *dropped = malloc((set->n ? set->n : 1) * sizeof(**dropped));
        if (!*dropped) abort();
    }
    size_t kept = 0;
    for (size_t i = 0; i < set->n; i++) {
        library *lib = &set->libs[i];
        if (has_name(new_names, lib->name)) {
            library_free(lib);
        } else if (policy == LIBRARIES_FLUSH) {
            (*dropped)[(*ndropped)++] = *lib;
        } else {
            set->libs[kept++] = *lib;
        }
    }
    set->n = kept;
}

int libraries_install(library_set *set, library *news, size_t n, int policy, int quote_name, buf *err,
                      library **dropped, size_t *ndropped) {
    *dropped = NULL;
    *ndropped = 0;
    strmap new_names;
    strmap_init(&new_names);
    int rc = check_install(set, news, n, policy, quote_name, &new_names, err);
    if (rc == 0) {
        drop_libraries(set, policy, &new_names, dropped, ndropped);
        for (size_t i = 0; i < n; i++) append_library(set, &news[i]);
    }
    strmap_free(&new_names);
    return rc;
}

void libraries_put(library_set *set, library *lib) {
    long at = find_library(set, lib->name, strlen(lib->name));
    if (at >= 0) {
        library_free(&set->libs[at]);
        set->libs[at] = *lib;
        library_init(lib);
    } else {
        append_library(set, lib);
    }
}

int libraries_delete(library_set *set, const char *name, size_t len) {
    long at = find_library(set, name, len);
    if (at < 0) return 0;
    library_free(&set->libs[at]);
    set->libs[at] = set->libs[--set->n];
    return 1;
}

int libraries_check_functions(const library_set *set, buf *err) {
    strmap functions;
    strmap_init(&functions);
    const char *clash = NULL;
    for (size_t i = 0; i < set->n && !clash; i++) clash = add_function_names(&functions, &set->libs[i]);
    if (clash) buf_printf(err, "Function %s already exists", clash);
    strmap_free(&functions);
    return clash ? -1 : 0;
}

static void copy_library(library *to, const library *from) {
    library_init(to);
    to->name = copy_string(from->name, strlen(from->name));
    to->code = copy_string(from->code, from->code_len);
    to->code_len = from->code_len;
    for (size_t i = 0; i < from->nfns; i++)
        library_add_function(to, from->fns[i].name, from->fns[i].description, from->fns[i].flags);
}

/* A deep copy of a set (NULL: the empty start). */
static library_set *set_copy(const library_set *from) {
    library_set *set = calloc(1, sizeof(*set));
    if (!set) abort();
    set->generation = 1;
    if (!from) return set;
    set->cap = set->n = from->n;
    set->libs = malloc((from->n ? from->n : 1) * sizeof(*set->libs));
    if (!set->libs) abort();
    for (size_t i = 0; i < from->n; i++) copy_library(&set->libs[i], &from->libs[i]);
    set->generation = from->generation;
    return set;
}

static void set_free(library_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) library_free(&set->libs[i]);
    free(set->libs);
    free(set);
}

library_set *libraries_change_begin(void) {
    if (nstaged > 0) return set_copy(staged[nstaged - 1]);
    pthread_mutex_lock(&change_lock);
    return set_copy(published); /* only a holder of the change lock replaces it */
}

void libraries_change_abort(library_set *set) {
    set_free(set);
    if (nstaged == 0) pthread_mutex_unlock(&change_lock);
}

/* Makes set the published libraries and ends the change. */
static void publish(library_set *set) {
    pthread_mutex_lock(&lock);
    library_set *old = published;
    published = set;
    atomic_store(&published_generation, set->generation);
    pthread_mutex_unlock(&lock);
    set_free(old);
    pthread_mutex_unlock(&change_lock);
}

void libraries_change_publish(library_set *set) {
    set->generation = atomic_fetch_add(&next_generation, 1);
    publish(set);
}

/* Takes a finished copy off this thread's list (the oldest on a commit, the newest otherwise);
 * the list goes once empty (a thread that exits keeps nothing). Returns whether it was the last. */
static int unstage(int oldest) {
    if (oldest) memmove(staged, staged + 1, (nstaged - 1) * sizeof(*staged));
    if (--nstaged > 0) return 0;
    free(staged);
    staged = NULL;
    staged_cap = 0;
    return 1;
}

/* The end of a staged copy's txn. A commit finishes the copies oldest first: the newest holds
 * what the txn did and is published, the older ones are dropped. A rollback or a failed commit
 * drops them newest first. The last one of this thread releases the change lock. */
static void staged_finished(void *arg, int committed) {
    library_set *set = arg;
    if (unstage(committed) && committed)
        publish(set);
    else
        libraries_change_abort(set);
}

void libraries_change_stage(library_set *set, txn *t) {
    set->generation = atomic_fetch_add(&next_generation, 1);
    staged = grow_array(staged, &staged_cap, nstaged + 1, sizeof(*staged), 4);
    staged[nstaged++] = set;
    txn_on_finish(t, staged_finished, set);
}

/* Runs fn over the set this thread sees (the published one under the lock). */
static void with_visible(void (*fn)(const library_set *set, void *arg), void *arg) {
    if (nstaged > 0) {
        fn(staged[nstaged - 1], arg);
        return;
    }
    pthread_mutex_lock(&lock);
    library_set empty = {NULL, 0, 0, 1};
    fn(published ? published : &empty, arg);
    pthread_mutex_unlock(&lock);
}

uint64_t libraries_generation(void) {
    return nstaged > 0 ? staged[nstaged - 1]->generation : atomic_load(&published_generation);
}

typedef struct set_copy_out {
    library *libs;
    size_t n;
    uint64_t generation;
} set_copy_out;

static void copy_libraries(const library_set *set, void *arg) {
    set_copy_out *out = arg;
    out->libs = malloc((set->n ? set->n : 1) * sizeof(*out->libs));
    if (!out->libs) abort();
    for (size_t i = 0; i < set->n; i++) copy_library(&out->libs[i], &set->libs[i]);
    out->n = set->n;
    out->generation = set->generation;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const library *)a)->name, ((const library *)b)->name);
}

library *libraries_copy(size_t *n, uint64_t *gen) {
    set_copy_out out;
    with_visible(copy_libraries, &out);
    qsort(out.libs, out.n, sizeof(*out.libs), by_name);
    *n = out.n;
    *gen = out.generation;
    return out.libs;
}

void libraries_free(library *list, size_t n) {
    for (size_t i = 0; i < n; i++) library_free(&list[i]);
    free(list);
}

static void count_libraries(const library_set *set, void *arg) {
    size_t *counts = arg;
    counts[0] = set->n;
    counts[1] = 0;
    for (size_t i = 0; i < set->n; i++) counts[1] += set->libs[i].nfns;
}

void libraries_counts(size_t *nl, size_t *nf) {
    size_t counts[2];
    with_visible(count_libraries, counts);
    *nl = counts[0];
    *nf = counts[1];
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
