#include "cdc/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"

void record_writer_init(record_writer *w) {
    buf_init(&w->cmds);
    w->ncmds = 0;
    w->first_db = w->current_db = -1;
    buf_init(&w->refs);
    w->nrefs = 0;
}

void record_writer_free(record_writer *w) {
    buf_free(&w->cmds);
    buf_free(&w->refs);
}

void record_writer_reset(record_writer *w) {
    /* A big value's record does not keep its memory for the next, small ones. */
    if (w->cmds.cap > 1024 * 1024)
        buf_free(&w->cmds);
    else
        buf_clear(&w->cmds);
    w->ncmds = 0;
    w->first_db = w->current_db = -1;
    buf_clear(&w->refs);
    w->nrefs = 0;
}

void record_writer_mark(const record_writer *w, record_mark *m) {
    *m = (record_mark){w->cmds.len, w->ncmds, w->refs.len, w->nrefs, w->first_db, w->current_db};
}

void record_writer_rollback(record_writer *w, const record_mark *m) {
    w->cmds.len = m->cmds_len;
    w->ncmds = m->ncmds;
    w->refs.len = m->refs_len;
    w->nrefs = m->nrefs;
    w->first_db = m->first_db;
    w->current_db = m->current_db;
}

/* Notes that argument arg of the command being added is bytes of a write of the commit. */
static void add_ref(record_writer *w, int arg, const record_src *src, size_t len) {
    buf_put_varint(&w->refs, w->ncmds);
    buf_put_varint(&w->refs, (uint64_t)arg);
    buf_put_varint(&w->refs, (uint64_t)src->op);
    buf_put_varint(&w->refs, src->offset);
    buf_put_varint(&w->refs, len);
    w->nrefs++;
}

static void add_command(record_writer *w, uint8_t type, int argc, const char *const *argv, const size_t *lens,
                        const record_src *srcs) {
    buf_put_u8(&w->cmds, type);
    buf_put_varint(&w->cmds, (uint64_t)argc);
    for (int i = 0; i < argc; i++) {
        if (srcs && srcs[i].op >= 0) {
            add_ref(w, i, &srcs[i], lens[i]);
            buf_put_varint(&w->cmds, 0); /* its bytes are in the table's write */
            continue;
        }
        buf_put_varint(&w->cmds, lens[i]);
        buf_append(&w->cmds, argv[i], lens[i]);
    }
    w->ncmds++;
}

void record_writer_add(record_writer *w, int db, uint8_t type, int argc, const char *const *argv,
                       const size_t *lens) {
    record_writer_add_refs(w, db, type, argc, argv, lens, NULL);
}

/* Commands over several databases replay with explicit SELECTs. */
static void add_select(record_writer *w, int db) {
    char num[16];
    const char *sel[2] = {"SELECT", num};
    size_t sel_lens[2] = {6, (size_t)snprintf(num, sizeof(num), "%d", db)};
    add_command(w, 0, 2, sel, sel_lens, NULL);
    w->current_db = db;
}

void record_writer_add_refs(record_writer *w, int db, uint8_t type, int argc, const char *const *argv,
                            const size_t *lens, const record_src *srcs) {
    if (w->first_db < 0) w->first_db = w->current_db = db;
    else if (db != w->current_db) add_select(w, db);
    add_command(w, type, argc, argv, lens, srcs);
}

/* The longest header: magic, version, time, then the db and the command count as varints. */
#define HEADER_MAX_LEN (3 + 8 + 2 * VARINT_MAX_LEN)

/* Writes the record's header at out; returns its length. record_writer_encoded_len measures
 * the header by writing it, so that its layout is in this one place. */
static size_t encode_header(const record_writer *w, int64_t time_ms, uint8_t out[HEADER_MAX_LEN]) {
    int db = w->first_db < 0 ? 0 : w->first_db;
    out[0] = RECORD_MAGIC0;
    out[1] = RECORD_MAGIC1;
    out[2] = w->nrefs > 0 ? RECORD_VERSION_REFS : RECORD_VERSION;
    buf_set_u64be(out + 3, (uint64_t)time_ms);
    size_t n = 11;
    n += buf_set_varint(out + n, (uint64_t)db);
    n += buf_set_varint(out + n, w->ncmds);
    return n;
}

/* The length of the references table, if there is one. */
static size_t refs_len(const record_writer *w) {
    uint8_t count[VARINT_MAX_LEN];
    return w->nrefs > 0 ? buf_set_varint(count, w->nrefs) + w->refs.len : 0;
}

size_t record_writer_encoded_len(const record_writer *w) {
    uint8_t header[HEADER_MAX_LEN];
    return encode_header(w, 0, header) + w->cmds.len + refs_len(w); /* the time is fixed-width: any will do */
}

void record_writer_finish(const record_writer *w, int64_t time_ms, buf *out) {
    uint8_t header[HEADER_MAX_LEN];
    buf_append(out, header, encode_header(w, time_ms, header));
    buf_append(out, w->cmds.data, w->cmds.len);
    if (w->nrefs == 0) return;
    buf_put_varint(out, w->nrefs);
    buf_append(out, w->refs.data, w->refs.len);
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

/* Reads one entry of the references table; the argument it names must be an empty one. */
static int decode_ref(const uint8_t **p, const uint8_t *end, record *r, record_ref *ref) {
    uint64_t v[5];
    for (int i = 0; i < 5; i++)
        if (buf_get_varint(p, end, &v[i]) < 0) return -1;
    if (v[0] >= r->ncmds || v[1] >= r->cmds[v[0]].argc) return -1;
    record_arg *arg = &r->cmds[v[0]].argv[v[1]];
    if (arg->len != 0 || arg->ptr == NULL) return -1; /* not a placeholder, or named twice */
    arg->ptr = NULL;
    *ref = (record_ref){(size_t)v[0], (size_t)v[1], v[2], v[3], v[4]};
    return 0;
}

static int decode_refs(const uint8_t **p, const uint8_t *end, record *r) {
    if (read_count(p, end, 5, &r->nrefs) < 0 || r->nrefs == 0) return -1;
    r->refs = calloc(r->nrefs, sizeof(record_ref));
    if (!r->refs) return -1;
    for (size_t i = 0; i < r->nrefs; i++)
        if (decode_ref(p, end, r, &r->refs[i]) < 0) return -1;
    return 0;
}

int record_decode(const char *blob, size_t len, record *out) {
    memset(out, 0, sizeof(*out));
    const uint8_t *p = (const uint8_t *)blob, *end = p + len;
    if (!record_is_tidekv(blob, len) || len < 11) return -1;
    uint8_t version = (uint8_t)blob[2];
    if (version != RECORD_VERSION && version != RECORD_VERSION_REFS) return -1;
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
    if (version == RECORD_VERSION_REFS && decode_refs(&p, end, out) < 0) {
        record_free(out);
        return -1;
    }
    if (p != end) {
        record_free(out);
        return -1;
    }
    return 0;
}

/* Points a reference's argument at its bytes inside the Put's value; -1 if they are not there. */
static int resolve_ref(record *r, const record_ref *ref, const batch_record *put) {
    if (put->op != BATCH_PUT) return -1;
    if (ref->offset > put->value.len || ref->len > put->value.len - ref->offset) return -1;
    record_arg *arg = &r->cmds[ref->cmd].argv[ref->arg];
    arg->ptr = put->value.ptr + ref->offset;
    arg->len = (size_t)ref->len;
    return 0;
}

static int compare_ref_ops(const void *a, const void *b) {
    uint64_t x = (*(const record_ref *const *)a)->op, y = (*(const record_ref *const *)b)->op;
    return (x > y) - (x < y);
}

/* One walk of the commit resolves every reference: they are taken in the order of the writes
 * they point at (a record may list them in any order). */
int record_resolve(record *r, const char *commit, size_t len) {
    if (r->nrefs == 0) return 0;
    const record_ref **order = malloc(r->nrefs * sizeof(*order));
    if (!order) abort();
    for (size_t i = 0; i < r->nrefs; i++) order[i] = &r->refs[i];
    qsort(order, r->nrefs, sizeof(*order), compare_ref_ops);
    batch_reader br;
    batch_record rec;
    int failed = batch_reader_init(&br, commit, len) < 0;
    size_t next = 0;
    for (uint64_t op = 0; !failed && next < r->nrefs && batch_reader_next(&br, &rec) == 1;) {
        if (rec.op == BATCH_LOG_DATA || rec.op == BATCH_MARKER) continue; /* not counted: writes only */
        for (; !failed && next < r->nrefs && order[next]->op == op; next++) failed = resolve_ref(r, order[next], &rec) < 0;
        op++;
    }
    free(order);
    return failed || next < r->nrefs ? -1 : 0; /* a reference past the commit's last write fails too */
}

/* ---- inserting commands into a finished record ---- */

static int compare_refs(const void *a, const void *b) {
    const record_ref *x = a, *y = b;
    if (x->cmd != y->cmd) return (x->cmd > y->cmd) - (x->cmd < y->cmd);
    return (x->arg > y->arg) - (x->arg < y->arg);
}

/* Adds command i of a decoded record as it is; its references (r's, sorted, from *ref on) are
 * made anew, so that they name its new position. */
static void copy_command(record_writer *w, const record *r, size_t i, size_t *ref) {
    const record_cmd *c = &r->cmds[i];
    const char **argv = malloc(c->argc * sizeof(*argv));
    size_t *lens = malloc(c->argc * sizeof(*lens));
    record_src *srcs = malloc(c->argc * sizeof(*srcs));
    if (!argv || !lens || !srcs) abort();
    for (size_t a = 0; a < c->argc; a++) {
        argv[a] = c->argv[a].ptr;
        lens[a] = c->argv[a].len;
        srcs[a] = (record_src){-1, 0};
    }
    for (; *ref < r->nrefs && r->refs[*ref].cmd == i; (*ref)++) {
        const record_ref *f = &r->refs[*ref];
        srcs[f->arg] = (record_src){(int64_t)f->op, f->offset};
        lens[f->arg] = (size_t)f->len;
    }
    add_command(w, c->type, (int)c->argc, argv, lens, srcs);
    free(argv);
    free(lens);
    free(srcs);
}

/* Adds the record's commands from *next up to `to` as they are, leaving the writer in the
 * database a replay is in after them (db_after). */
static void copy_commands(record_writer *w, const record *r, size_t *next, size_t to, size_t *ref, int db_after) {
    if (*next >= to) return;
    if (w->first_db < 0) w->first_db = (int)r->db;
    for (; *next < to; (*next)++) copy_command(w, r, *next, ref);
    w->current_db = db_after;
}

int record_insert(const char *blob, size_t len, const record_insertion *ins, size_t n, buf *out) {
    record r;
    if (record_decode(blob, len, &r) < 0) return -1;
    for (size_t k = 0; k < n; k++) {
        if (ins[k].at.ncmds > r.ncmds || (k > 0 && ins[k].at.ncmds < ins[k - 1].at.ncmds)) {
            record_free(&r);
            return -1;
        }
    }
    if (r.nrefs > 1) qsort(r.refs, r.nrefs, sizeof(*r.refs), compare_refs);
    record_writer w;
    record_writer_init(&w);
    size_t next = 0, ref = 0;
    for (size_t k = 0; k < n; k++) {
        const record_mark *at = &ins[k].at;
        /* Where the record's own commands resume, a replay is in the database of the mark, or
         * in the record's first one if the mark is at its start. */
        int resume_db = at->ncmds == 0 ? (int)r.db : at->current_db;
        copy_commands(&w, &r, &next, at->ncmds, &ref, resume_db);
        record_writer_add(&w, ins[k].db, ins[k].type, ins[k].argc, ins[k].argv, ins[k].lens);
        int last_here = k + 1 == n || ins[k + 1].at.ncmds != at->ncmds;
        if (last_here && next < r.ncmds && w.current_db != resume_db) add_select(&w, resume_db);
    }
    copy_commands(&w, &r, &next, r.ncmds, &ref, w.current_db);
    record_writer_finish(&w, r.time_ms, out);
    record_writer_free(&w);
    record_free(&r);
    return 0;
}

void record_free(record *r) {
    for (size_t i = 0; i < r->ncmds; i++) free(r->cmds[i].argv);
    free(r->cmds);
    free(r->refs);
    r->cmds = NULL;
    r->refs = NULL;
    r->ncmds = r->nrefs = 0;
}
