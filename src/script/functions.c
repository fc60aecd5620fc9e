#include "script/functions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/shebang.h"
#include "types/functions.h"
#include "util/log.h"

/* Reads the shebang into lib's name; the shebang line's length in *line_len. */
static int read_library_name(const char *code, size_t len, library *lib, size_t *line_len, buf *err) {
    buf name, why;
    buf_init(&name);
    buf_init(&why);
    int rc = library_parse_shebang(code, len, &name, line_len, &why);
    if (rc < 0) {
        buf_printf(err, "ERR %.*s", (int)why.len, why.data);
    } else if (!function_name_valid(name.data, name.len)) {
        buf_append_str(err, "ERR " ERR_LIBRARY_NAME);
        rc = -1;
    } else {
        lib->name = strndup(name.data, name.len);
        if (!lib->name) abort();
    }
    buf_free(&name);
    buf_free(&why);
    return rc;
}

int library_compile(const char *code, size_t len, library *lib, buf *err) {
    library_init(lib);
    size_t line_len;
    if (read_library_name(code, len, lib, &line_len, err) < 0 ||
        script_vm_load_library(script_vm_get(), code, len, line_len, lib, 0, err) < 0) {
        library_free(lib);
        return -1;
    }
    lib->code = malloc(len + 1);
    if (!lib->code) abort();
    memcpy(lib->code, code, len);
    lib->code[len] = '\0';
    lib->code_len = len;
    return 0;
}

script_vm *functions_vm(void) {
    script_vm *vm = script_vm_get();
    if (script_vm_functions_generation(vm) == libraries_generation()) return vm;
    size_t n;
    uint64_t generation;
    library *libs = libraries_copy(&n, &generation);
    script_vm_reset_functions(vm, generation);
    buf err;
    buf_init(&err);
    for (size_t i = 0; i < n; i++) {
        library loaded;
        library_init(&loaded);
        /* Its shebang line, which it had to have to be installed, is left out. */
        size_t line = (size_t)((char *)memchr(libs[i].code, '\n', libs[i].code_len) - libs[i].code);
        /* It loaded when installed; a library whose code now fails (it ran past the time
         * limit) leaves its functions out here. */
        if (script_vm_load_library(vm, libs[i].code, libs[i].code_len, line, &loaded, 1, &err) < 0) {
            log_msg(LOG_WARNING, "function library '%s' failed to load: %.*s", libs[i].name, (int)err.len, err.data);
            buf_clear(&err);
        }
        library_free(&loaded);
    }
    buf_free(&err);
    libraries_free(libs, n);
    return vm;
}

/* How much of a name an error shows. */
static int shown(size_t len) { return len > 128 ? 128 : (int)len; }

/* A library record of the batch: a put compiles into the working copy, a deletion leaves it. */
static int batch_library(void *arg, const char *name, size_t nlen, const char *code, size_t clen, char *err,
                         size_t errlen) {
    functions_batch *b = arg;
    if (!b->set) b->set = libraries_change_begin();
    if (!code) return libraries_delete(b->set, name, nlen);
    library lib;
    buf why;
    buf_init(&why);
    int rc = library_compile(code, clen, &lib, &why);
    if (rc < 0) {
        size_t skip = why.len >= 4 && memcmp(why.data, "ERR ", 4) == 0 ? 4 : 0;
        snprintf(err, errlen, "ERR APPLYBATCH: function library '%.*s' does not load: %.*s", shown(nlen), name,
                 (int)(why.len - skip), why.data + skip);
    } else if (strlen(lib.name) != nlen || memcmp(lib.name, name, nlen) != 0) {
        snprintf(err, errlen, "ERR APPLYBATCH: the record of function library '%.*s' holds library '%s'",
                 shown(nlen), name, lib.name);
        rc = -1;
    } else {
        libraries_put(b->set, &lib);
        rc = 1;
    }
    library_free(&lib);
    buf_free(&why);
    return rc;
}

/* A commit read whole: no function may be registered twice. */
static int batch_commit_done(void *arg, char *err, size_t errlen) {
    functions_batch *b = arg;
    buf why;
    buf_init(&why);
    int rc = b->set ? libraries_check_functions(b->set, &why) : 0;
    if (rc < 0) snprintf(err, errlen, "ERR APPLYBATCH: %.*s", (int)why.len, why.data);
    buf_free(&why);
    return rc;
}

void functions_batch_init(functions_batch *b) {
    b->hooks = (apply_libraries){batch_library, batch_commit_done, b};
    b->set = NULL;
}

void functions_batch_end(functions_batch *b, txn *t, int applied) {
    if (!b->set) return;
    if (applied) libraries_change_stage(b->set, t);
    else libraries_change_abort(b->set);
    b->set = NULL;
}

/* Compiles and installs one stored library into the working copy arg (one that no longer
 * compiles is logged and left out). */
static void install_stored(void *arg, const char *code, size_t len) {
    library lib;
    buf err;
    buf_init(&err);
    library *dropped = NULL;
    size_t ndropped = 0;
    if (library_compile(code, len, &lib, &err) < 0 ||
        libraries_install(arg, &lib, 1, LIBRARIES_REPLACE, 1, &err, &dropped, &ndropped) < 0) {
        log_msg(LOG_WARNING, "a stored function library failed to load: %.*s", (int)err.len, err.data);
        library_free(&lib);
    }
    libraries_free(dropped, ndropped);
    buf_free(&err);
}

int functions_load_stored(void) {
    library_set *set = libraries_change_begin();
    /* Those of another store go (a full sync replaced it); none at start-up. */
    library *dropped = NULL;
    size_t ndropped = 0;
    buf err;
    buf_init(&err);
    if (libraries_install(set, NULL, 0, LIBRARIES_FLUSH, 0, &err, &dropped, &ndropped) == 0)
        libraries_free(dropped, ndropped);
    buf_free(&err);
    if (function_store_each(install_stored, set) < 0) {
        libraries_change_abort(set);
        return -1;
    }
    libraries_change_publish(set);
    return 0;
}
