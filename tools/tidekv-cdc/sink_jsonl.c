/* The jsonl:PATH sink: an append-only audit log of JSON lines (CDC.md "tidekv-cdc").
 *
 * Each line is one JSON object and stands alone: it is written whole or, after a crash, seen
 * as a torn last line (no '\n' at its end) that recovery cuts. Every line tells where the log
 * stands after it, so the position is read back from the last complete line:
 *   {"sequence":N,"count":C,...}   a batch, exactly as POLLUPDATES FORMAT JSON sent it; the
 *                                  log holds every change up to N+C-1.
 *   {"snapshot":"ID","sequence":S} a copy of snapshot ID (the data as of sequence S) begins;
 *                                  ID is "" (and S 0) in the line written before the
 *                                  snapshot exists, so that a crash in between is seen.
 *   {"snapshot":"ID","sequence":S,"cursor":"C","entries":[E,...]}
 *                                  a page of the copy: SNAPSHOT READ FORMAT JSON entries, and
 *                                  the cursor after them ("0" on the last page: the copy is
 *                                  whole and the log holds everything up to S).
 * A copy happens only at the log's start, so a copy that cannot be continued is removed whole
 * (every file of the log) before a new one begins, and the result is exact.
 *
 * Files: PATH is the newest; --rotate-mb renames PATH to PATH.1 (PATH.1 to PATH.2 …, the
 * oldest first) between polls, after syncing it. A crash among the renames leaves one gap in
 * the numbering, which recovery closes by finishing the renames. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink.h"

/* How far back recovery reads at a time while looking for the last complete line. */
#define SCAN_CHUNK 65536

typedef struct jsonl_sink {
    sink base;
    char *path;
    char *dir;           /* PATH's directory: synced after files are created or renamed */
    int fsync_always;    /* sync every poll's lines, else once a second */
    off_t rotate_bytes;  /* 0: never rotate */
    int fd, dirfd;       /* -1 while disconnected */
    off_t size;          /* PATH's size */
    long long written;   /* the position of the last line written; -1: no batch line yet */
    long long synced;    /* ... of the last line synced: what flush() reports */
    double last_sync;
    char copy_id[128];   /* the snapshot being copied, and its sequence */
    long long copy_sequence;
    char *buf;           /* the lines of one apply() or copy_page() */
    size_t len, cap;
} jsonl_sink;

/* ------------------------------------------------------------------ small helpers */

static char *path_with_index(const jsonl_sink *s, int i) {
    size_t n = strlen(s->path) + 16;
    char *out = malloc(n);
    if (!out) abort();
    if (i == 0) snprintf(out, n, "%s", s->path);
    else snprintf(out, n, "%s.%d", s->path, i);
    return out;
}

static int file_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static cdc_status io_error(cdc_error *e, const char *what, const char *path) {
    return cdc_fail(e, CDC_FATAL, "sink: %s %s: %s", what, path, strerror(errno));
}

static void buf_add(jsonl_sink *s, const char *data, size_t n) {
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->buf = realloc(s->buf, s->cap);
        if (!s->buf) abort();
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void buf_str(jsonl_sink *s, const char *text) { buf_add(s, text, strlen(text)); }

/* Snapshot ids and cursors go into lines unescaped: they must not need escaping. */
static int json_plain(const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\') return 0;
    return 1;
}

/* The decimal number at *p, moving *p past it; -1 when there is none. */
static long long read_number(const char **p, const char *end) {
    long long v = 0;
    const char *start = *p;
    while (*p < end && **p >= '0' && **p <= '9' && *p - start < 19) v = v * 10 + (*(*p)++ - '0');
    return *p == start ? -1 : v;
}

/* Whether the line continues with `text` at *p; moves *p past it if so. */
static int read_literal(const char **p, const char *end, const char *text) {
    size_t n = strlen(text);
    if ((size_t)(end - *p) < n || memcmp(*p, text, n) != 0) return 0;
    *p += n;
    return 1;
}

/* A JSON string's characters at *p up to its closing quote (no escapes), into out. */
static int read_plain_string(const char **p, const char *end, char *out, size_t size) {
    const char *q = memchr(*p, '"', (size_t)(end - *p));
    if (!q || (size_t)(q - *p) >= size) return 0;
    memcpy(out, *p, (size_t)(q - *p));
    out[q - *p] = '\0';
    *p = q + 1;
    return 1;
}

/* The last sequence a batch line covers: N+C-1 of its leading {"sequence":N,"count":C. */
static int batch_end(const char *line, size_t len, long long *out) {
    const char *p = line, *end = line + len;
    if (!read_literal(&p, end, "{\"sequence\":")) return 0;
    long long first = read_number(&p, end);
    if (first < 0 || !read_literal(&p, end, ",\"count\":")) return 0;
    long long count = read_number(&p, end);
    if (count < 1) return 0;
    *out = first + count - 1;
    return 1;
}

/* Where the log stands after a copy line: {"snapshot":"ID","sequence":S[,"cursor":"C",…]}. */
static int copy_line_state(const char *line, size_t len, sink_state *out) {
    const char *p = line, *end = line + len;
    char cursor[256];
    if (!read_literal(&p, end, "{\"snapshot\":\"") ||
        !read_plain_string(&p, end, out->snapshot_id, sizeof(out->snapshot_id)) ||
        !read_literal(&p, end, ",\"sequence\":") || (out->position = read_number(&p, end)) < 0)
        return 0;
    if (read_literal(&p, end, "}")) {
        strcpy(cursor, "0"); /* the copy begins */
    } else if (!read_literal(&p, end, ",\"cursor\":\"") || !read_plain_string(&p, end, cursor, sizeof(cursor)) ||
               !read_literal(&p, end, ",\"entries\":[")) {
        return 0;
    } else if (strcmp(cursor, "0") == 0) { /* the last page: the copy is whole */
        out->phase = SINK_FOLLOWING;
        out->snapshot_id[0] = '\0';
        return 1;
    }
    out->phase = SINK_COPYING;
    out->cursor = strdup(cursor);
    if (!out->cursor) abort();
    return 1;
}

/* ------------------------------------------------------------------ creating, connecting */

static void destroy(sink *base) {
    jsonl_sink *s = (jsonl_sink *)base;
    if (s->fd >= 0) close(s->fd);
    if (s->dirfd >= 0) close(s->dirfd);
    free(s->path);
    free(s->dir);
    free(s->buf);
    free(s);
}

static sink *create(const char *url, const cdc_options *o, char *err, size_t errlen) {
    const char *path = strchr(url, ':') + 1;
    if (!*path) {
        snprintf(err, errlen, "--sink '%s': expected jsonl:PATH", url);
        return NULL;
    }
    jsonl_sink *s = calloc(1, sizeof(*s));
    if (!s) abort();
    s->base.type = &jsonl_sink_type;
    s->base.copies = o->snapshot;
    s->fd = s->dirfd = -1;
    s->fsync_always = o->fsync_always;
    s->rotate_bytes = (off_t)(o->rotate_mb * 1024 * 1024);
    s->path = strdup(path);
    const char *slash = strrchr(path, '/');
    s->dir = slash == path ? strdup("/") : slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    if (!s->path || !s->dir) abort();
    return &s->base;
}

static cdc_status sink_connect(sink *base, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    struct stat st;
    if (stat(s->path, &st) == 0 && !S_ISREG(st.st_mode))
        return cdc_fail(e, CDC_FATAL, "sink: %s is not a regular file", s->path);
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) return io_error(e, "cannot open the directory", s->dir);
    /* Checked now, so that a directory the program cannot write is an error at the start. */
    if (access(s->dir, W_OK) < 0) return io_error(e, "cannot write in the directory", s->dir);
    return CDC_OK;
}

static void disconnect(sink *base) {
    jsonl_sink *s = (jsonl_sink *)base;
    if (s->fd >= 0) close(s->fd);
    if (s->dirfd >= 0) close(s->dirfd);
    s->fd = s->dirfd = -1;
}

/* ------------------------------------------------------------------ files */

static cdc_status sync_dir(jsonl_sink *s, cdc_error *e) {
    return fsync(s->dirfd) == 0 ? CDC_OK : io_error(e, "cannot sync the directory", s->dir);
}

static cdc_status open_newest(jsonl_sink *s, cdc_error *e) {
    int created = !file_exists(s->path);
    s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0) return io_error(e, "cannot open", s->path);
    struct stat st;
    if (fstat(s->fd, &st) < 0) return io_error(e, "cannot stat", s->path);
    s->size = st.st_size;
    return created ? sync_dir(s, e) : CDC_OK;
}

/* Renames PATH.(from-1) to PATH.from, …, PATH to PATH.1 (those that exist), then syncs the
 * directory: the last steps of a rotation whose renames went up to PATH.from+1. */
static cdc_status shift_files(jsonl_sink *s, int from, cdc_error *e) {
    cdc_status st = CDC_OK;
    for (int i = from; i >= 1 && st == CDC_OK; i--) {
        char *older = path_with_index(s, i), *newer = path_with_index(s, i - 1);
        if (file_exists(newer) && rename(newer, older) < 0) st = io_error(e, "cannot rename", newer);
        free(older);
        free(newer);
    }
    return st == CDC_OK ? sync_dir(s, e) : st;
}

/* The highest n with PATH.n, and the lowest missing index below it (0: none missing). */
static void rotated_files(const jsonl_sink *s, int *highest, int *gap) {
    *highest = *gap = 0;
    for (int i = 1;; i++) {
        char *p = path_with_index(s, i);
        int exists = file_exists(p);
        free(p);
        if (exists) {
            *highest = i;
        } else if (*gap == 0 && *highest == i - 1) {
            *gap = i; /* a rotation stopped here, or the end: the one after tells */
        } else {
            break;
        }
    }
    if (*gap > *highest) *gap = 0;
}

static cdc_status sync_log(jsonl_sink *s, cdc_error *e) {
    if (fdatasync(s->fd) < 0) return io_error(e, "cannot sync", s->path);
    s->synced = s->written;
    s->last_sync = cdc_now();
    return CDC_OK;
}

static cdc_status rotate(jsonl_sink *s, cdc_error *e) {
    cdc_status st = sync_log(s, e);
    int highest, gap;
    rotated_files(s, &highest, &gap);
    if (st == CDC_OK) st = shift_files(s, highest + 1, e);
    if (st != CDC_OK) return st;
    close(s->fd);
    return open_newest(s, e);
}

/* ------------------------------------------------------------------ recovery */

/* In the file of size `size`: where its complete lines end (after the last '\n'), and where
 * the last of them starts (== *complete when there is none). */
static cdc_status find_last_line(int fd, off_t size, off_t *complete, off_t *last_start, const char *path,
                                 cdc_error *e) {
    char chunk[SCAN_CHUNK];
    int newlines = 0;
    *complete = *last_start = 0;
    for (off_t end = size; end > 0 && newlines < 2;) {
        off_t start = end > SCAN_CHUNK ? end - SCAN_CHUNK : 0;
        ssize_t n = pread(fd, chunk, (size_t)(end - start), start);
        if (n != end - start)
            return n < 0 ? io_error(e, "cannot read", path) : cdc_fail(e, CDC_FATAL, "sink: %s shrank while read", path);
        for (off_t i = end - start - 1; i >= 0 && newlines < 2; i--) {
            if (chunk[i] != '\n') continue;
            if (newlines++ == 0) *complete = start + i + 1;
            else *last_start = start + i + 1;
        }
        end = start;
    }
    return CDC_OK;
}

/* The state the line at [start, end) (without its '\n') records. */
static cdc_status line_state(int fd, off_t start, off_t end, const char *path, sink_state *out, cdc_error *e) {
    size_t len = (size_t)(end - start);
    char *line = malloc(len ? len : 1);
    if (!line) abort();
    cdc_status st = CDC_OK;
    if (pread(fd, line, len, start) != (ssize_t)len) {
        st = io_error(e, "cannot read", path);
    } else if (batch_end(line, len, &out->position)) {
        out->phase = SINK_FOLLOWING;
    } else if (!copy_line_state(line, len, out)) {
        st = cdc_fail(e, CDC_FATAL, "sink: the last line of %s is not one tidekv-cdc writes (it begins '%.*s'): "
                      "is it another file?", path, (int)(len < 40 ? len : 40), line);
    }
    free(line);
    return st;
}

/* Cuts a torn last line off the file and reads the state its last complete line records;
 * *found = 0 when it holds no complete line. */
static cdc_status recover_file(const char *path, int *found, sink_state *out, cdc_error *e) {
    *found = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? CDC_OK : io_error(e, "cannot open", path);
    struct stat st;
    off_t complete, last_start;
    cdc_status status = fstat(fd, &st) < 0 ? io_error(e, "cannot stat", path) : CDC_OK;
    if (status == CDC_OK) status = find_last_line(fd, st.st_size, &complete, &last_start, path, e);
    if (status == CDC_OK && complete < st.st_size) {
        cdc_log("cut a torn last line of %lld bytes off %s", (long long)(st.st_size - complete), path);
        if (ftruncate(fd, complete) < 0) status = io_error(e, "cannot truncate", path);
    }
    /* What a killed run left in the page cache is synced now: from here on it is durable. */
    if (status == CDC_OK && fdatasync(fd) < 0) status = io_error(e, "cannot sync", path);
    if (status == CDC_OK && complete > 0) {
        *found = 1;
        status = line_state(fd, last_start, complete - 1, path, out, e);
    }
    close(fd);
    return status;
}

/* Finishes an interrupted rotation, then reads the last complete line of the newest file
 * that has one (PATH is empty right after a rotation). */
static cdc_status recover(sink *base, sink_state *out, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    memset(out, 0, sizeof(*out));
    int highest, gap;
    rotated_files(s, &highest, &gap);
    cdc_status st = gap ? shift_files(s, gap, e) : CDC_OK;
    if (gap && st == CDC_OK) cdc_log("finished the rotation of %s that a crash interrupted", s->path);
    int found = 0;
    for (int i = 0; i <= highest && !found && st == CDC_OK; i++) {
        char *p = path_with_index(s, i);
        st = recover_file(p, &found, out, e);
        free(p);
    }
    if (st == CDC_OK) st = open_newest(s, e);
    s->written = s->synced = out->phase == SINK_FOLLOWING ? out->position : -1;
    snprintf(s->copy_id, sizeof(s->copy_id), "%s", out->snapshot_id);
    s->copy_sequence = out->position;
    s->last_sync = cdc_now();
    return st;
}

/* ------------------------------------------------------------------ writing */

/* Appends the buffered lines (rotating first if PATH is full). A failed write is taken back,
 * so that no partial line stays in front of the next one. */
static cdc_status append_buffer(jsonl_sink *s, cdc_error *e) {
    if (s->rotate_bytes && s->size >= s->rotate_bytes) {
        cdc_status st = rotate(s, e);
        if (st != CDC_OK) return st;
    }
    for (size_t done = 0; done < s->len;) {
        ssize_t n = write(s->fd, s->buf + done, s->len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            cdc_status st = io_error(e, "cannot write to", s->path);
            if (ftruncate(s->fd, s->size) < 0) cdc_log("cannot take back a partial write: %s", strerror(errno));
            return st;
        }
        done += (size_t)n;
    }
    s->size += (off_t)s->len;
    s->len = 0;
    return CDC_OK;
}

/* --fsync always syncs every poll's lines; everysec when a second has passed (and flush(),
 * called once a second, syncs what is left). */
static cdc_status sync_as_asked(jsonl_sink *s, cdc_error *e) {
    return s->fsync_always || cdc_now() - s->last_sync >= 1.0 ? sync_log(s, e) : CDC_OK;
}

/* A line that opens a copy (copy_begin, copy_started), synced at once. */
static cdc_status write_copy_start(jsonl_sink *s, const char *snapshot_id, long long sequence, cdc_error *e) {
    if (!json_plain(snapshot_id)) return cdc_fail(e, CDC_FATAL, "source: unexpected snapshot id '%s'", snapshot_id);
    char head[64];
    snprintf(head, sizeof(head), "\",\"sequence\":%lld}\n", sequence);
    s->len = 0;
    buf_str(s, "{\"snapshot\":\"");
    buf_str(s, snapshot_id);
    buf_str(s, head);
    cdc_status st = append_buffer(s, e);
    if (st == CDC_OK) st = sync_log(s, e);
    if (st == CDC_OK) {
        snprintf(s->copy_id, sizeof(s->copy_id), "%s", snapshot_id);
        s->copy_sequence = sequence;
    }
    return st;
}

/* Removes what an unfinished copy wrote: every file of the log (it holds nothing else). */
static cdc_status copy_begin(sink *base, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    int highest, gap;
    rotated_files(s, &highest, &gap);
    for (int i = 1; i <= highest; i++) {
        char *p = path_with_index(s, i);
        int failed = unlink(p) < 0 && errno != ENOENT;
        cdc_status st = failed ? io_error(e, "cannot remove", p) : CDC_OK;
        free(p);
        if (st != CDC_OK) return st;
    }
    if (s->size > 0 || highest > 0) cdc_log("removed the unfinished copy in %s", s->path);
    if (ftruncate(s->fd, 0) < 0) return io_error(e, "cannot truncate", s->path);
    s->size = 0;
    cdc_status st = sync_dir(s, e);
    return st == CDC_OK ? write_copy_start(s, "", 0, e) : st;
}

static cdc_status copy_started(sink *base, const char *snapshot_id, long long sequence, cdc_error *e) {
    return write_copy_start((jsonl_sink *)base, snapshot_id, sequence, e);
}

static cdc_status copy_page(sink *base, const cdc_batches *entries, const char *next_cursor, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    int last = strcmp(next_cursor, "0") == 0;
    if (entries->n == 0 && !last) return CDC_OK; /* a page the filters emptied: nothing to record */
    if (!json_plain(next_cursor)) return cdc_fail(e, CDC_FATAL, "source: unexpected cursor '%.40s'", next_cursor);
    char head[64];
    s->len = 0;
    buf_str(s, "{\"snapshot\":\"");
    buf_str(s, s->copy_id);
    snprintf(head, sizeof(head), "\",\"sequence\":%lld,\"cursor\":\"", s->copy_sequence);
    buf_str(s, head);
    buf_str(s, next_cursor);
    buf_str(s, "\",\"entries\":[");
    for (size_t i = 0; i < entries->n; i++) {
        if (i) buf_str(s, ",");
        buf_add(s, entries->items[i].json, entries->items[i].json_len);
    }
    buf_str(s, "]}\n");
    cdc_status st = append_buffer(s, e);
    return st == CDC_OK ? sync_as_asked(s, e) : st;
}

/* The last page was written by copy_page: the position is the snapshot's sequence. */
static cdc_status copy_end(sink *base, long long sequence, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    s->written = sequence;
    return sync_log(s, e);
}

/* ------------------------------------------------------------------ following */

/* One line per batch. A poll whose batches were all filtered out writes nothing: the log's
 * position (and so what flush() reports) stays at its last line. */
static cdc_status apply(sink *base, const cdc_batches *batches, long long next, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    (void)next;
    if (batches->n == 0) return CDC_OK;
    const cdc_batch *last = &batches->items[batches->n - 1];
    long long end;
    if (!batch_end(last->json, last->json_len, &end))
        return cdc_fail(e, CDC_FATAL, "source: a JSON batch without a leading sequence and count: '%.40s'",
                        last->json);
    s->len = 0;
    for (size_t i = 0; i < batches->n; i++) {
        buf_add(s, batches->items[i].json, batches->items[i].json_len);
        buf_str(s, "\n");
    }
    cdc_status st = append_buffer(s, e);
    if (st != CDC_OK) return st;
    s->written = end;
    return sync_as_asked(s, e);
}

/* Syncs what is not yet synced; -1 while the log holds no position (no line yet). */
static cdc_status flush(sink *base, long long *durable, cdc_error *e) {
    jsonl_sink *s = (jsonl_sink *)base;
    cdc_status st = s->written != s->synced ? sync_log(s, e) : CDC_OK;
    *durable = s->synced;
    return st;
}

static void describe(sink *base, char *buf, size_t size) {
    (void)base;
    if (size) buf[0] = '\0';
}

const sink_type jsonl_sink_type = {
    .scheme = "jsonl",
    .format = CDC_FORMAT_JSON,
    .create = create,
    .connect = sink_connect,
    .recover = recover,
    .copy_begin = copy_begin,
    .copy_started = copy_started,
    .copy_page = copy_page,
    .copy_end = copy_end,
    .apply = apply,
    .flush = flush,
    .describe = describe,
    .disconnect = disconnect,
    .destroy = destroy,
};
