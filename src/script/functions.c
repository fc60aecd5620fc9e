#include "script/functions.h"

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

/* Compiles and installs one stored library (one that no longer compiles is logged and left out). */
static void install_stored(void *arg, const char *code, size_t len) {
    (void)arg;
    library lib;
    buf err;
    buf_init(&err);
    library *dropped = NULL;
    size_t ndropped = 0;
    if (library_compile(code, len, &lib, &err) < 0 ||
        libraries_install(&lib, 1, LIBRARIES_REPLACE, 1, &err, &dropped, &ndropped) < 0) {
        log_msg(LOG_WARNING, "a stored function library failed to load: %.*s", (int)err.len, err.data);
        library_free(&lib);
    }
    libraries_free(dropped, ndropped);
    buf_free(&err);
}

int functions_load_stored(void) { return function_store_each(install_stored, NULL); }
