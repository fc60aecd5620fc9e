/* Fuzzes the configuration file parser (src/config.h): the input is a config file's text.
 * The configuration is global; each run starts again from the defaults. */
#include <string.h>

#include "config.h"
#include "fuzz.h"

/* CONFIG GET's callback: every value must be value_len bytes and terminated after them (ASan
 * catches a read past the buffer); only a binary-safe option (requirepass) may hold a NUL. */
static void check_value(void *ctx, const char *name, const char *value, size_t value_len) {
    (void)ctx;
    FUZZ_CHECK(name != NULL && value != NULL);
    FUZZ_CHECK(value[value_len] == '\0');
    FUZZ_CHECK(strlen(value) == value_len || strcmp(name, "requirepass") == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_alloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    config_init_defaults();
    char err[256] = "";
    if (config_load_text(text, "fuzz.conf", err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    } else {
        /* Loaded values are shown by CONFIG GET: format them all. */
        FUZZ_CHECK(config_get_matching("*", 1, check_value, NULL) > 0);
    }
    free(text);
    return 0;
}
