/* Fuzzes the change-record decoder (src/cdc/record.h): the input is a LogData blob. A record
 * that decodes is re-encoded with record_writer and must decode to the same record. */
#include <limits.h>
#include <string.h>

#include "cdc/record.h"
#include "fuzz.h"

static void check_args(const record *r, const uint8_t *data, size_t size) {
    for (size_t c = 0; c < r->ncmds; c++) {
        FUZZ_CHECK(r->cmds[c].argc >= 1);
        for (size_t a = 0; a < r->cmds[c].argc; a++)
            FUZZ_CHECK(fuzz_inside(r->cmds[c].argv[a].ptr, r->cmds[c].argv[a].len, data, size));
    }
}

/* record_writer takes the database as an int and writes it from the first command, so only a
 * record with a command and an int-sized database can be rebuilt. Argument counts fit an int
 * when the blob does, since every argument takes at least a byte of it. */
static int writer_can_rebuild(const record *r, size_t size) {
    return r->ncmds > 0 && r->db <= INT_MAX && size <= INT_MAX;
}

static void encode(const record *r, buf *out) {
    record_writer w;
    record_writer_init(&w);
    for (size_t c = 0; c < r->ncmds; c++) {
        const record_cmd *cmd = &r->cmds[c];
        const char **argv = fuzz_alloc(cmd->argc * sizeof(*argv));
        size_t *lens = fuzz_alloc(cmd->argc * sizeof(*lens));
        for (size_t a = 0; a < cmd->argc; a++) {
            argv[a] = cmd->argv[a].ptr;
            lens[a] = cmd->argv[a].len;
        }
        record_writer_add(&w, (int)r->db, cmd->type, (int)cmd->argc, argv, lens);
        free(argv);
        free(lens);
    }
    record_writer_finish(&w, r->time_ms, out);
    record_writer_free(&w);
}

static int same_cmd(const record_cmd *a, const record_cmd *b) {
    if (a->type != b->type || a->argc != b->argc) return 0;
    for (size_t i = 0; i < a->argc; i++) {
        if (a->argv[i].len != b->argv[i].len || memcmp(a->argv[i].ptr, b->argv[i].ptr, a->argv[i].len) != 0) return 0;
    }
    return 1;
}

static int same_record(const record *a, const record *b) {
    if (a->version != b->version || a->time_ms != b->time_ms || a->db != b->db || a->ncmds != b->ncmds) return 0;
    for (size_t i = 0; i < a->ncmds; i++) {
        if (!same_cmd(&a->cmds[i], &b->cmds[i])) return 0;
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
    if (out.len == size) FUZZ_CHECK(memcmp(out.data, data, size) == 0);
    record_free(&again);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *blob = (const char *)data;
    int is_tidekv = record_is_tidekv(blob, size);
    record r;
    if (record_decode(blob, size, &r) < 0) return 0;
    FUZZ_CHECK(is_tidekv);
    check_args(&r, data, size);
    if (writer_can_rebuild(&r, size)) check_round_trip(&r, data, size);
    record_free(&r);
    return 0;
}
