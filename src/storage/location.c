#include "storage/location.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/file.h"

int location_is_store_name(const char *name) {
    size_t prefix = strlen(LOCATION_STORE_PREFIX);
    if (strncmp(name, LOCATION_STORE_PREFIX, prefix) != 0) return 0;
    size_t digits = strspn(name + prefix, "0123456789");
    return digits > 0 && digits < 32 && name[prefix + digits] == '\0';
}

int location_resolve(const char *dir, char *out, size_t len, char *name, size_t name_len, char *err, size_t errlen) {
    buf text;
    buf_init(&text);
    int found = file_read_in(dir, LOCATION_FILE, &text, err, errlen);
    if (found < 0) {
        buf_free(&text);
        return -1;
    }
    while (text.len > 0 && (text.data[text.len - 1] == '\n' || text.data[text.len - 1] == '\r')) text.len--;
    buf_append_byte(&text, 0);
    int rc = 0;
    if (!found || text.data[0] == '\0') {
        snprintf(name, name_len, "%s", "");
        if (snprintf(out, len, "%s", dir) >= (int)len) rc = -1;
    } else if (!location_is_store_name(text.data)) {
        snprintf(err, errlen, "%s/%s names no store: '%.64s'", dir, LOCATION_FILE, text.data);
        buf_free(&text);
        return -1;
    } else {
        snprintf(name, name_len, "%s", text.data);
        if (snprintf(out, len, "%s/%s", dir, text.data) >= (int)len) rc = -1;
    }
    if (rc < 0) snprintf(err, errlen, "data directory path too long");
    buf_free(&text);
    return rc;
}

int location_set(const char *dir, const char *name, char *err, size_t errlen) {
    buf text;
    buf_init(&text);
    buf_printf(&text, "%s\n", name);
    int rc = file_write_atomic(dir, LOCATION_FILE, text.data, text.len, err, errlen);
    buf_free(&text);
    return rc;
}
