/* Fuzzes the change-record decoder (src/cdc/record.h): the input is a LogData blob. A record
 * that decodes is re-encoded with record_writer and must decode to the same record; its
 * references (version 2) are then resolved against a commit whose one Put holds the input. */
#include <limits.h>
#include <string.h>

#include "cdc/batch.h"
#include "cdc/record.h"
#include "fuzz.h"

/* Every argument lies inside data, but the references' (NULL and empty until resolved). */
static void check_args(const record *r, const uint8_t *data, size_t size) {
    for (size_t c = 0; c < r->ncmds; c++) {
        FUZZ_CHECK(r->cmds[c].argc >= 1);
        for (size_t a = 0; a < r->cmds[c].argc; a++) {
            const record_arg *arg = &r->cmds[c].argv[a];
            FUZZ_CHECK(arg->ptr ? fuzz_inside(arg->ptr, arg->len, data, size) : arg->len == 0);
        }
    }
}

/* Where the writer is to find each argument of command c: as the record's references say. */
static record_src *sources(const record *r, size_t c) {
    record_src *srcs = fuzz_alloc(r->cmds[c].argc * sizeof(*srcs));
    for (size_t a = 0; a < r->cmds[c].argc; a++) srcs[a] = (record_src){-1, 0};
    for (size_t i = 0; i < r->nrefs; i++)
        if (r->refs[i].cmd == c) srcs[r->refs[i].arg] = (record_src){(int64_t)r->refs[i].op, r->refs[i].offset};
    return srcs;
}

/* record_writer takes the database as an int and writes it from the first command, so only a
 * record with a command and an int-sized database can be rebuilt. Argument counts fit an int
 * when the blob does, since every argument takes at least a byte of it. */
static int writer_can_rebuild(const record *r, size_t size) {
    for (size_t i = 0; i < r->nrefs; i++)
        if (r->refs[i].op > INT64_MAX) return 0; /* record_src holds an int64_t */
    return r->ncmds > 0 && r->db <= INT_MAX && size <= INT_MAX;
}

static void encode(const record *r, buf *out) {
    record_writer w;
    record_writer_init(&w);
    for (size_t c = 0; c < r->ncmds; c++) {
        const record_cmd *cmd = &r->cmds[c];
        const char **argv = fuzz_alloc(cmd->argc * sizeof(*argv));
        size_t *lens = fuzz_alloc(cmd->argc * sizeof(*lens));
        record_src *srcs = sources(r, c);
        for (size_t a = 0; a < cmd->argc; a++) {
            argv[a] = cmd->argv[a].ptr;
            lens[a] = cmd->argv[a].len;
        }
        for (size_t i = 0; i < r->nrefs; i++)
            if (r->refs[i].cmd == c) lens[r->refs[i].arg] = (size_t)r->refs[i].len;
        record_writer_add_refs(&w, (int)r->db, cmd->type, (int)cmd->argc, argv, lens, srcs);
        free(argv);
        free(lens);
        free(srcs);
    }
    record_writer_finish(&w, r->time_ms, out);
    record_writer_free(&w);
}

static int same_cmd(const record_cmd *a, const record_cmd *b) {
    if (a->type != b->type || a->argc != b->argc) return 0;
    for (size_t i = 0; i < a->argc; i++) {
        if (a->argv[i].len != b->argv[i].len || !a->argv[i].ptr != !b->argv[i].ptr) return 0;
        if (a->argv[i].len > 0 && memcmp(a->argv[i].ptr, b->argv[i].ptr, a->argv[i].len) != 0) return 0;
    }
    return 1;
}

static int same_ref(const record_ref *a, const record_ref *b) {
    return a->cmd == b->cmd && a->arg == b->arg && a->op == b->op && a->offset == b->offset && a->len == b->len;
}

static int same_record(const record *a, const record *b) {
    if (a->version != b->version || a->time_ms != b->time_ms || a->db != b->db || a->ncmds != b->ncmds) return 0;
    for (size_t i = 0; i < a->ncmds; i++) {
        if (!same_cmd(&a->cmds[i], &b->cmds[i])) return 0;
    }
    if (a->nrefs != b->nrefs) return 0;
    /* The writer lists references by command and argument; the blob may list them in any order. */
    for (size_t i = 0; i < a->nrefs; i++) {
        size_t j = 0;
        while (j < b->nrefs && !same_ref(&a->refs[i], &b->refs[j])) j++;
        if (j == b->nrefs) return 0;
    }
    return 1;
}

static void check_round_trip(const record *r, const uint8_t *data, size_t size) {
    buf out;
    buf_init(&out);
    encode(r, &out);
    record again;
    FUZZ_CHECK(record_decode(out.data, out.len, &again) == 0);
    FUZZ_CHECK(same_record(r, &again));
    /* The writer's varints are minimal, the decoder also accepts padded ones: the rebuilt
     * record is never longer, and when it is as long it is the same bytes. */
    FUZZ_CHECK(out.len <= size);
    if (out.len == size && r->nrefs < 2) FUZZ_CHECK(memcmp(out.data, data, size) == 0);
    record_free(&again);
    buf_free(&out);
}

/* Resolves the references against a commit of one Put whose value is the input: each lands
 * inside that value, or the record is refused. */
static void check_resolve(record *r, const uint8_t *data, size_t size) {
    buf commit;
    buf_init(&commit);
    uint8_t header[BATCH_HEADER_SIZE];
    batch_write_header(header, 1, 1);
    buf_append(&commit, header, sizeof(header));
    buf_put_u8(&commit, 0x01); /* a Put in the default column family */
    buf_put_varint(&commit, 1);
    buf_append_byte(&commit, 'k');
    buf_put_varint(&commit, size);
    size_t value_at = commit.len;
    buf_append(&commit, data, size);
    if (record_resolve(r, commit.data, commit.len) == 0) {
        for (size_t i = 0; i < r->nrefs; i++) {
            const record_arg *arg = &r->cmds[r->refs[i].cmd].argv[r->refs[i].arg];
            FUZZ_CHECK(r->refs[i].op == 0 && fuzz_inside(arg->ptr, arg->len, commit.data + value_at, size));
        }
    }
    buf_free(&commit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *blob = (const char *)data;
    int is_tidekv = record_is_tidekv(blob, size);
    record r;
    if (record_decode(blob, size, &r) < 0) return 0;
    FUZZ_CHECK(is_tidekv);
    check_args(&r, data, size);
    if (writer_can_rebuild(&r, size)) check_round_trip(&r, data, size);
    check_resolve(&r, data, size);
    record_free(&r);
    return 0;
}
