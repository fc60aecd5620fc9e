#include "cdc/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void record_writer_init(record_writer *w) {
    buf_init(&w->cmds);
    w->ncmds = 0;
    w->first_db = w->current_db = -1;
}

void record_writer_free(record_writer *w) { buf_free(&w->cmds); }

void record_writer_reset(record_writer *w) {
    /* A big value's record does not keep its memory for the next, small ones. */
    if (w->cmds.cap > 1024 * 1024)
        buf_free(&w->cmds);
    else
        buf_clear(&w->cmds);
    w->ncmds = 0;
    w->first_db = w->current_db = -1;
}

static void add_command(record_writer *w, uint8_t type, int argc, const char *const *argv, const size_t *lens) {
    buf_put_u8(&w->cmds, type);
    buf_put_varint(&w->cmds, (uint64_t)argc);
    for (int i = 0; i < argc; i++) {
        buf_put_varint(&w->cmds, lens[i]);
        buf_append(&w->cmds, argv[i], lens[i]);
    }
    w->ncmds++;
}

void record_writer_add(record_writer *w, int db, uint8_t type, int argc, const char *const *argv,
                       const size_t *lens) {
    if (w->first_db < 0) {
        w->first_db = w->current_db = db;
    } else if (db != w->current_db) {
        /* Commands over several databases replay with explicit SELECTs. */
        char num[16];
        const char *sel[2] = {"SELECT", num};
        size_t sel_lens[2] = {6, (size_t)snprintf(num, sizeof(num), "%d", db)};
        add_command(w, 0, 2, sel, sel_lens);
        w->current_db = db;
    }
    add_command(w, type, argc, argv, lens);
}

/* The longest header: magic, version, time, then the db and the command count as varints. */
#define HEADER_MAX_LEN (3 + 8 + 2 * VARINT_MAX_LEN)

/* Writes the record's header at out; returns its length. record_writer_encoded_len measures
 * the header by writing it, so that its layout is in this one place. */
static size_t encode_header(const record_writer *w, int64_t time_ms, uint8_t out[HEADER_MAX_LEN]) {
    int db = w->first_db < 0 ? 0 : w->first_db;
    out[0] = RECORD_MAGIC0;
    out[1] = RECORD_MAGIC1;
    out[2] = RECORD_VERSION;
    buf_set_u64be(out + 3, (uint64_t)time_ms);
    size_t n = 11;
    n += buf_set_varint(out + n, (uint64_t)db);
    n += buf_set_varint(out + n, w->ncmds);
    return n;
}

size_t record_writer_encoded_len(const record_writer *w) {
    uint8_t header[HEADER_MAX_LEN];
    return encode_header(w, 0, header) + w->cmds.len; /* the time is fixed-width: any will do */
}

void record_writer_finish(const record_writer *w, int64_t time_ms, buf *out) {
    uint8_t header[HEADER_MAX_LEN];
    buf_append(out, header, encode_header(w, time_ms, header));
    buf_append(out, w->cmds.data, w->cmds.len);
}

int record_is_tidekv(const char *blob, size_t len) {
    return len >= 3 && blob[0] == RECORD_MAGIC0 && blob[1] == RECORD_MAGIC1;
}

/* Reads a varint count that must fit in the bytes left (each item takes at least min_item bytes). */
static int read_count(const uint8_t **p, const uint8_t *end, size_t min_item, size_t *out) {
    uint64_t v;
    if (buf_get_varint(p, end, &v) < 0) return -1;
    if (min_item > 0 && v > (uint64_t)(end - *p) / min_item) return -1;
    *out = (size_t)v;
    return 0;
}

static int decode_cmd(const uint8_t **p, const uint8_t *end, record_cmd *cmd) {
    if (*p >= end) return -1;
    cmd->type = *(*p)++;
    if (read_count(p, end, 1, &cmd->argc) < 0 || cmd->argc == 0) return -1;
    cmd->argv = calloc(cmd->argc, sizeof(record_arg));
    if (!cmd->argv) return -1;
    for (size_t i = 0; i < cmd->argc; i++) {
        size_t len;
        if (read_count(p, end, 1, &len) < 0) return -1; /* the bytes must fit in what is left */
        cmd->argv[i].ptr = (const char *)*p;
        cmd->argv[i].len = len;
        *p += len;
    }
    return 0;
}

int record_decode(const char *blob, size_t len, record *out) {
    memset(out, 0, sizeof(*out));
    const uint8_t *p = (const uint8_t *)blob, *end = p + len;
    if (!record_is_tidekv(blob, len) || (uint8_t)blob[2] != RECORD_VERSION || len < 11) return -1;
    out->version = (uint8_t)blob[2];
    out->time_ms = (int64_t)buf_get_u64be(p + 3);
    p += 11;
    uint64_t db;
    if (buf_get_varint(&p, end, &db) < 0 || db > UINT32_MAX) return -1;
    out->db = (uint32_t)db;
    size_t ncmds;
    if (read_count(&p, end, 3, &ncmds) < 0) return -1;
    out->cmds = calloc(ncmds ? ncmds : 1, sizeof(record_cmd));
    if (!out->cmds) return -1;
    out->ncmds = ncmds;
    for (size_t i = 0; i < ncmds; i++) {
        if (decode_cmd(&p, end, &out->cmds[i]) < 0) {
            record_free(out);
            return -1;
        }
    }
    if (p != end) {
        record_free(out);
        return -1;
    }
    return 0;
}

void record_free(record *r) {
    for (size_t i = 0; i < r->ncmds; i++) free(r->cmds[i].argv);
    free(r->cmds);
    r->cmds = NULL;
    r->ncmds = 0;
}
