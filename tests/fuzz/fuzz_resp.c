/* Fuzzes the RESP request parser (src/proto/resp.h).
 *
 * The input is a client's byte stream, parsed twice the way net.c feeds the parser: once whole
 * and once arriving in chunks whose size the first byte picks; both must yield the same
 * requests. The input is also split as one inline line. */
#include <string.h>

#include "fuzz.h"
#include "proto/resp.h"
#include "util/buf.h"

#define MAX_BULK_LEN (1024 * 1024)
/* Largest chunk the first byte picks: small, so that chunks end inside headers and bulks. */
#define MAX_CHUNK 16

/* Checks a complete request and appends it to the transcript: argc, then each argument. */
static void append_request(const resp_parser *p, buf *transcript) {
    FUZZ_CHECK(p->argc >= 1);
    buf_put_varint(transcript, (uint64_t)p->argc);
    for (int i = 0; i < p->argc; i++) {
        /* Commands may read short arguments as C strings. */
        FUZZ_CHECK(p->argv[i].ptr[p->argv[i].len] == '\0');
        buf_put_varint(transcript, p->argv[i].len);
        buf_append(transcript, p->argv[i].ptr, p->argv[i].len);
    }
}

/* Parses the requests complete in data[*start, end), the bytes received and not yet consumed.
 * They are copied to an exact-size block first, so ASan catches a read past what was
 * received. Returns 1 after a protocol error, else 0 (waiting for more). */
static int parse_received(resp_parser *p, const uint8_t *data, size_t *start, size_t end, buf *transcript) {
    while (*start < end) {
        size_t len = end - *start, used;
        char *window = fuzz_alloc(len);
        memcpy(window, data + *start, len);
        resp_status s = resp_parse(p, window, len, &used);
        free(window);
        FUZZ_CHECK(used <= len);
        *start += used;
        if (s == RESP_ERROR) return 1;
        if (s == RESP_NEED_MORE) return 0;
        FUZZ_CHECK(used > 0); /* else the next call would parse the same request again */
        append_request(p, transcript);
        resp_parser_reset_args(p);
    }
    return 0;
}

/* Feeds the stream chunk bytes at a time until the end or a protocol error; returns 1 on an
 * error. Every request parsed goes to the transcript. */
static int parse_stream(const uint8_t *data, size_t size, size_t chunk, buf *transcript) {
    resp_parser p;
    resp_parser_init(&p, MAX_BULK_LEN);
    size_t start = 0, received = 0;
    int failed = 0;
    while (!failed && received < size) {
        received += size - received < chunk ? size - received : chunk;
        failed = parse_received(&p, data, &start, received, transcript);
    }
    resp_parser_free(&p);
    return failed;
}

static void check_split_inline(const uint8_t *data, size_t size) {
    resp_arg *args = NULL;
    int n = resp_split_inline((const char *)data, size, &args);
    FUZZ_CHECK(n >= -1);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(args[i].ptr[args[i].len] == '\0');
        free(args[i].ptr);
    }
    free(args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    buf whole, split;
    buf_init(&whole);
    buf_init(&split);
    int whole_failed = parse_stream(data, size, size, &whole);
    int split_failed = parse_stream(data, size, 1 + data[0] % MAX_CHUNK, &split);
    /* Beyond RESP_INLINE_MAX an unterminated line is refused when it arrives in pieces but not
     * when it arrives whole (as in Redis), so only shorter streams must parse alike. */
    if (size <= RESP_INLINE_MAX) {
        FUZZ_CHECK(whole_failed == split_failed);
        FUZZ_CHECK(whole.len == split.len && (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0));
    }
    buf_free(&whole);
    buf_free(&split);
    check_split_inline(data, size);
    return 0;
}
