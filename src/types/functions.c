#include "types/functions.h"

#include "storage/encoding.h"

#define LIBRARY_PREFIX ENC_LIBRARY_PREFIX
#define LIBRARY_PREFIX_LEN ENC_LIBRARY_PREFIX_LEN

static void library_key(buf *key, const char *name, size_t nlen) {
    buf_append(key, LIBRARY_PREFIX, LIBRARY_PREFIX_LEN);
    buf_append(key, name, nlen);
}

void function_store_put(txn *t, const char *name, size_t nlen, const char *code, size_t clen) {
    buf key;
    buf_init(&key);
    library_key(&key, name, nlen);
    txn_put(t, CF_PROPAGATE, key.data, key.len, code, clen);
    buf_free(&key);
}

void function_store_delete(txn *t, const char *name, size_t nlen) {
    buf key;
    buf_init(&key);
    library_key(&key, name, nlen);
    txn_delete(t, CF_PROPAGATE, key.data, key.len);
    buf_free(&key);
}

int function_store_each(void (*code)(void *arg, const char *code, size_t len), void *arg) {
    buf end;
    buf_init(&end);
    enc_prefix_end(&end, LIBRARY_PREFIX, LIBRARY_PREFIX_LEN);
    store_iter *it = store_iter_new(CF_PROPAGATE, LIBRARY_PREFIX, LIBRARY_PREFIX_LEN, end.data, end.len);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t len;
        const char *value = store_iter_value(it, &len);
        code(arg, value, len);
    }
    int rc = store_iter_failed(it) ? -1 : 0;
    store_iter_free(it);
    buf_free(&end);
    return rc;
}

int function_store_walk(txn *t, const char *from, size_t flen,
                        int (*code)(void *arg, const char *name, size_t nlen, const char *code, size_t clen),
                        void *arg) {
    buf begin, end;
    buf_init(&begin);
    buf_init(&end);
    library_key(&begin, from, flen);
    enc_prefix_end(&end, LIBRARY_PREFIX, LIBRARY_PREFIX_LEN);
    store_iter *it = txn_iter_new(t, CF_PROPAGATE, begin.data, begin.len, end.data, end.len);
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen, vlen;
        const char *key = store_iter_key(it, &klen);
        if (bytes_compare(key, klen, end.data, end.len) >= 0) break;
        const char *value = store_iter_value(it, &vlen);
        if (code(arg, key + LIBRARY_PREFIX_LEN, klen - LIBRARY_PREFIX_LEN, value, vlen)) break;
    }
    int rc = !store_iter_valid(it) && store_iter_failed(it) ? -1 : 0;
    store_iter_free(it);
    buf_free(&begin);
    buf_free(&end);
    return rc;
}
