/* Stream commands: argument parsing, replies and change records; the logic is in
 * types/stream.c. Change records replay on Redis 7 to the same stream: XADD with the id it
 * assigned (never `*`), a trim as an exact XTRIM … MINID past the last entry it removed, XDEL
 * as the ids it deleted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/blocking.h"
#include "cmd/handlers.h"
#include "cmd/keyspace_events.h"
#include "cmd/members.h"
#include "cmd/stream_cmd.h"
#include "types/stream.h"

/* What an approximate trim without LIMIT removes at most: Redis's 100 * stream-node-max-entries
 * (100 by default). */
#define APPROX_TRIM_LIMIT 10000

/* Parses an id argument (see stream_id_parse); replies the error and returns -1 if it is none. */
int parse_id(cmd_ctx *ctx, const resp_arg *a, uint64_t missing_seq, int strict, int *seq_given,
                    stream_id *id) {
    if (stream_id_parse(a->ptr, a->len, missing_seq, strict, seq_given, id) == 0) return 0;
    reply_error(ctx->r, ERR_INVALID_ID);
    return -1;
}

/* Parses MAXLEN|MINID [=|~] threshold at argv[i] (moreargs arguments follow it) into t; returns
 * the index of the threshold, or -1 after replying an error. */
static int parse_strategy(cmd_ctx *ctx, int i, int moreargs, stream_trim_args *t, int *approx) {
    if (t->strategy != STREAM_TRIM_NONE) {
        reply_error(ctx->r, "ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
        return -1;
    }
    int maxlen = arg_is(&ctx->argv[i], "maxlen");
    *approx = 0;
    if (moreargs >= 2 && (arg_is(&ctx->argv[i + 1], "~") || arg_is(&ctx->argv[i + 1], "="))) {
        *approx = ctx->argv[i + 1].ptr[0] == '~';
        i++;
    }
    const resp_arg *threshold = &ctx->argv[i + 1];
    if (maxlen) {
        if (arg_ll(ctx, threshold, &t->maxlen) < 0) return -1;
        if (t->maxlen < 0) {
            reply_error(ctx->r, "ERR The MAXLEN argument must be >= 0.");
            return -1;
        }
        t->strategy = STREAM_TRIM_MAXLEN;
    } else {
        if (parse_id(ctx, threshold, 0, 1, NULL, &t->minid) < 0) return -1;
        t->strategy = STREAM_TRIM_MINID;
    }
    return i + 1;
}

/* The checks Redis makes once the options are read, and the limit an approximate trim gets. */
static int finish_trim_args(cmd_ctx *ctx, int xadd, stream_trim_args *t, int approx, int limit_given) {
    if (t->limit && t->strategy == STREAM_TRIM_NONE) {
        reply_error(ctx->r, "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && t->strategy == STREAM_TRIM_NONE) {
        reply_error(ctx->r, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given && !approx) {
        reply_error(ctx->r, "ERR syntax error, LIMIT cannot be used without the special ~ option");
        return -1;
    }
    if (!limit_given) t->limit = approx ? APPROX_TRIM_LIMIT : 0;
    return 0;
}

/* XADD's options and id (xadd) or XTRIM's options, from argv[2], as Redis reads them: returns
 * the index of XADD's id (argc when there is none), or -1 after replying an error. */
static int parse_add_or_trim(cmd_ctx *ctx, int xadd, stream_add_args *a) {
    memset(a, 0, sizeof(*a));
    int approx = 0, limit_given = 0, i = 2;
    for (; i < ctx->argc; i++) {
        int moreargs = ctx->argc - 1 - i;
        const resp_arg *opt = &ctx->argv[i];
        if (xadd && opt->len == 1 && opt->ptr[0] == '*') {
            break;
        } else if ((arg_is(opt, "maxlen") || arg_is(opt, "minid")) && moreargs) {
            i = parse_strategy(ctx, i, moreargs, &a->trim, &approx);
            if (i < 0) return -1;
        } else if (arg_is(opt, "limit") && moreargs) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &a->trim.limit) < 0) return -1;
            if (a->trim.limit < 0) {
                reply_error(ctx->r, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && arg_is(opt, "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            if (parse_id(ctx, opt, 0, 1, &a->seq_given, &a->id) < 0) return -1;
            a->id_given = 1;
            break;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
    }
    return finish_trim_args(ctx, xadd, &a->trim, approx, limit_given) < 0 ? -1 : i;
}

/* Replies the error of a failed status about the stream at argv[1]; returns 1 if it replied. */
int reply_stream_status(cmd_ctx *ctx, type_status st) {
    if (st == ST_ID_TOO_SMALL) {
        reply_error(ctx->r, "ERR The ID specified in XADD is equal or smaller than the target stream top item");
        return 1;
    }
    if (st == ST_ID_EXHAUSTED) {
        reply_error(ctx->r, "ERR The stream has exhausted the last possible ID, unable to add more items");
        return 1;
    }
    if (st == ST_TOO_BIG) {
        reply_error(ctx->r, "ERR Elements are too large to be stored");
        return 1;
    }
    return reply_key_status(ctx, &ctx->argv[1], st);
}

/* Records a trim as an exact XTRIM that removes the same entries: those up to the last one it
 * removed (a trim removes the oldest entries). */
static void record_trim(cmd_ctx *ctx, const stream_trimmed *tr) {
    char id[STREAM_ID_TEXT_MAX];
    stream_id past = tr->last_removed;
    int everything = stream_id_incr(&past) < 0; /* it removed the greatest id there is: all */
    const char *argv[4] = {"XTRIM", ctx->argv[1].ptr, everything ? "MAXLEN" : "MINID", everything ? "0" : id};
    size_t lens[4] = {5, ctx->argv[1].len, everything ? 6 : 5, everything ? 1 : stream_id_format(id, past)};
    cmd_record(ctx, TYPE_STREAM, 4, argv, lens);
}

/* Records XADD as "XADD key <id> field value …" with the id it assigned. */
static void record_add(cmd_ctx *ctx, int field_pos, stream_id added) {
    int n = 3 + ctx->argc - field_pos;
    const char **argv = malloc((size_t)n * sizeof(char *));
    size_t *lens = malloc((size_t)n * sizeof(size_t));
    if (!argv || !lens) abort();
    char id[STREAM_ID_TEXT_MAX];
    argv[0] = "XADD", lens[0] = 4;
    argv[1] = ctx->argv[1].ptr, lens[1] = ctx->argv[1].len;
    argv[2] = id, lens[2] = stream_id_format(id, added);
    for (int i = field_pos; i < ctx->argc; i++) {
        argv[3 + i - field_pos] = ctx->argv[i].ptr;
        lens[3 + i - field_pos] = ctx->argv[i].len;
    }
    cmd_record(ctx, TYPE_STREAM, n, argv, lens);
    free(argv);
    free(lens);
}

void reply_id(cmd_ctx *ctx, stream_id id) {
    char text[STREAM_ID_TEXT_MAX];
    reply_bulk(ctx->r, text, stream_id_format(text, id));
}

void cmd_xadd(cmd_ctx *ctx) {
    stream_add_args a;
    int idpos = parse_add_or_trim(ctx, 1, &a);
    if (idpos < 0) return;
    int field_pos = idpos + 1, nitems = ctx->argc - field_pos;
    if (nitems < 2 || nitems % 2 != 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->name);
        return;
    }
    /* Checked before the key, as in Redis: it must not create an empty stream. */
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(ctx->r, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    const resp_arg *key = &ctx->argv[1];
    stream_id added;
    stream_trimmed trimmed;
    type_status st = stream_add(ctx->t, ctx->db, key->ptr, key->len, &a, &ctx->argv[field_pos],
                                (size_t)nitems, &added, &trimmed);
    if (st == ST_MISSING) {
        reply_null(ctx->r); /* NOMKSTREAM */
        return;
    }
    if (reply_stream_status(ctx, st)) return;
    record_add(ctx, field_pos, added);
    cmd_notify(ctx, KE_STREAM, "xadd", key);
    if (trimmed.removed > 0) {
        record_trim(ctx, &trimmed);
        cmd_notify(ctx, KE_STREAM, "xtrim", key);
    }
    reply_id(ctx, added);
}

void cmd_xtrim(cmd_ctx *ctx) {
    stream_add_args a;
    if (parse_add_or_trim(ctx, 0, &a) < 0) return;
    const resp_arg *key = &ctx->argv[1];
    stream_trimmed trimmed;
    type_status st = stream_trim(ctx->t, ctx->db, key->ptr, key->len, &a.trim, &trimmed);
    if (reply_stream_status(ctx, st)) return;
    if (trimmed.removed > 0) {
        record_trim(ctx, &trimmed);
        cmd_notify(ctx, KE_STREAM, "xtrim", key);
    }
    reply_int(ctx->r, trimmed.removed);
}

/* XDEL's change record: the ids it deleted. */
typedef struct deleted_ids {
    char (*text)[STREAM_ID_TEXT_MAX];
    const char **argv;
    size_t *lens;
    int argc;
} deleted_ids;

static void note_deleted(void *arg, stream_id id) {
    deleted_ids *d = arg;
    d->argv[d->argc] = d->text[d->argc];
    d->lens[d->argc] = stream_id_format(d->text[d->argc], id);
    d->argc++;
}

void cmd_xdel(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[1];
    long long len;
    /* A missing key replies 0 whatever the ids, as in Redis, which looks the key up first. */
    type_status st = stream_len(ctx->t, ctx->db, key->ptr, key->len, &len);
    if (st == ST_MISSING) {
        reply_int(ctx->r, 0);
        return;
    }
    if (reply_stream_status(ctx, st)) return;
    size_t n = (size_t)ctx->argc - 2;
    stream_id *ids = malloc(n * sizeof(*ids));
    deleted_ids d = {malloc((n + 2) * sizeof(*d.text)), malloc((n + 2) * sizeof(char *)),
                     malloc((n + 2) * sizeof(size_t)), 2};
    if (!ids || !d.text || !d.argv || !d.lens) abort();
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) ok = parse_id(ctx, &ctx->argv[2 + i], 0, 1, NULL, &ids[i]) == 0;
    long long deleted = 0;
    if (ok) st = stream_delete(ctx->t, ctx->db, key->ptr, key->len, ids, n, note_deleted, &d, &deleted);
    if (ok && !reply_stream_status(ctx, st)) {
        if (deleted > 0) {
            d.argv[0] = "XDEL", d.lens[0] = 4;
            d.argv[1] = key->ptr, d.lens[1] = key->len;
            cmd_record(ctx, TYPE_STREAM, d.argc, d.argv, d.lens);
            cmd_notify(ctx, KE_STREAM, "xdel", key);
        }
        reply_int(ctx->r, deleted);
    }
    free(ids);
    free(d.text);
    free(d.argv);
    free(d.lens);
}

void cmd_xlen(cmd_ctx *ctx) {
    long long len;
    type_status st = stream_len(ctx->t, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len, &len);
    if (!reply_stream_status(ctx, st)) reply_int(ctx->r, len);
}

/* Replies an entry as [id, [field, value, …]]. */
void reply_entry(reply *r, stream_id id, stream_entry_reader *fields, size_t nitems) {
    char text[STREAM_ID_TEXT_MAX];
    reply_array(r, 2);
    reply_bulk(r, text, stream_id_format(text, id));
    reply_array(r, (long long)nitems);
    const char *s;
    size_t len;
    while (stream_entry_next(fields, &s, &len)) reply_bulk(r, s, len);
}

/* Entries being replied into a part written before the header that counts them. */
typedef struct entries_reply {
    reply part;
} entries_reply;

static int reply_one(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    entries_reply *er = arg;
    reply_entry(&er->part, id, fields, nitems);
    return reply_was_cut(&er->part);
}

/* Reads an XRANGE bound; replies the error and returns -1 if it is malformed. */
int parse_bound(cmd_ctx *ctx, const resp_arg *a, int is_end, stream_id *id) {
    int rc = stream_range_bound(a->ptr, a->len, is_end, id);
    if (rc == STREAM_BOUND_INVALID) reply_error(ctx->r, ERR_INVALID_ID);
    else if (rc == STREAM_BOUND_NO_STEP)
        reply_error(ctx->r, is_end ? "ERR invalid end ID for the interval" : "ERR invalid start ID for the interval");
    return rc < 0 ? -1 : 0;
}

/* XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]. */
static void range_generic(cmd_ctx *ctx, int rev) {
    stream_id start, end;
    if (parse_bound(ctx, &ctx->argv[rev ? 3 : 2], 0, &start) < 0) return;
    if (parse_bound(ctx, &ctx->argv[rev ? 2 : 3], 1, &end) < 0) return;
    long long count = -1;
    for (int j = 4; j < ctx->argc; j++) {
        if (arg_is(&ctx->argv[j], "count") && j + 1 < ctx->argc) {
            if (arg_ll(ctx, &ctx->argv[++j], &count) < 0) return;
            if (count < 0) count = 0;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    const resp_arg *key = &ctx->argv[1];
    buf body;
    buf_init(&body);
    entries_reply er = {reply_part(ctx->r, &body)};
    long long n = 0;
    /* COUNT 0 replies a null array, but only for a stream that is there (Redis looks first). */
    type_status st = count == 0 ? stream_len(ctx->t, ctx->db, key->ptr, key->len, &n)
                                : stream_range(ctx->t, ctx->db, key->ptr, key->len, start, end, count < 0 ? 0 : count,
                                               rev, reply_one, &er, &n);
    if (!reply_stream_status(ctx, st)) {
        if (count == 0 && st == ST_OK) {
            reply_null_array(ctx->r);
        } else {
            reply_array(ctx->r, count == 0 ? 0 : n);
            reply_append_part(ctx->r, &body);
        }
    }
    buf_free(&body);
}

void cmd_xrange(cmd_ctx *ctx) { range_generic(ctx, 0); }
void cmd_xrevrange(cmd_ctx *ctx) { range_generic(ctx, 1); }

/* Records the command as it was given (it is deterministic). */
void record_as_given(cmd_ctx *ctx) {
    const char **argv = malloc((size_t)ctx->argc * sizeof(char *));
    size_t *lens = malloc((size_t)ctx->argc * sizeof(size_t));
    if (!argv || !lens) abort();
    for (int i = 0; i < ctx->argc; i++) argv[i] = ctx->argv[i].ptr, lens[i] = ctx->argv[i].len;
    cmd_record(ctx, TYPE_STREAM, ctx->argc, argv, lens);
    free(argv);
    free(lens);
}

/* XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id], checked in Redis's order. */
void cmd_xsetid(cmd_ctx *ctx) {
    stream_id id, max_deleted = {0, 0};
    long long entries_added = -1;
    if (parse_id(ctx, &ctx->argv[2], 0, 1, NULL, &id) < 0) return;
    for (int i = 3; i < ctx->argc; i += 2) {
        int moreargs = ctx->argc - 1 - i;
        if (arg_is(&ctx->argv[i], "entriesadded") && moreargs) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &entries_added) < 0) return;
            if (entries_added < 0) {
                reply_error(ctx->r, "ERR entries_added must be positive");
                return;
            }
        } else if (arg_is(&ctx->argv[i], "maxdeletedid") && moreargs) {
            if (parse_id(ctx, &ctx->argv[i + 1], 0, 1, NULL, &max_deleted) < 0) return;
            if (stream_id_compare(id, max_deleted) < 0) {
                reply_error(ctx->r, "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                return;
            }
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    const resp_arg *key = &ctx->argv[1];
    enum stream_setid_refusal refused;
    type_status st = stream_set_id(ctx->t, ctx->db, key->ptr, key->len, id, entries_added, &max_deleted, &refused);
    if (st == ST_MISSING) {
        reply_error(ctx->r, "ERR no such key");
        return;
    }
    if (reply_stream_status(ctx, st)) return;
    static const char *const refusals[] = {
        [SETID_BELOW_TOP] = "ERR The ID specified in XSETID is smaller than the target stream top item",
        [SETID_ENTRIES_BELOW_LENGTH] = "ERR The entries_added specified in XSETID is smaller than the target stream "
                                       "length",
    };
    if (refused != SETID_DONE) {
        reply_error(ctx->r, refusals[refused]);
        return;
    }
    record_as_given(ctx);
    cmd_notify(ctx, KE_STREAM, "xsetid", key);
    reply_ok(ctx->r);
}

/* ---- XREAD ---- */

/* Where XREAD's keys are, as Redis reads its options: BLOCK and COUNT take a value, STREAMS
 * ends them; n keys from argv[*first] then as many ids. Returns 0, XREAD_SYNTAX (no STREAMS, or
 * another word) or XREAD_UNBALANCED (an odd number of keys and ids). Either way the options
 * before *first (or before the word that is none) are argv[1 .. *opts_end). */
enum { XREAD_SYNTAX = -1, XREAD_UNBALANCED = -2 };
static int find_streams(int argc, const resp_arg *argv, int *opts_end, int *first, int *n) {
    int i = 1;
    for (; i < argc; i++) {
        int moreargs = argc - i - 1;
        if ((arg_is(&argv[i], "block") || arg_is(&argv[i], "count")) && moreargs) {
            i++;
        } else if (arg_is(&argv[i], "streams") && moreargs) {
            *opts_end = i;
            if (moreargs % 2 != 0) return XREAD_UNBALANCED;
            *first = i + 1;
            *n = moreargs / 2;
            return 0;
        } else {
            break;
        }
    }
    *opts_end = i;
    return XREAD_SYNTAX;
}

int xread_getkeys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    int opts_end, first, n;
    /* Malformed: the command replies the error, touching no key. */
    if (find_streams(argc, argv, &opts_end, &first, &n) < 0) return 0;
    for (int i = 0; i < n; i++) sink->add(sink, (key_ref){first + i, def->key_specs[0].flags, -1});
    return 0;
}

/* The header of a read that served some streams: an array of [key, entries] pairs, a map in RESP3. */
static void reply_streams_header(cmd_ctx *ctx, int served) {
    if (ctx->r->resp == 2) reply_array(ctx->r, served);
    else reply_map(ctx->r, served);
}

void reply_streams_read(cmd_ctx *ctx, int served, buf *body) {
    if (served == 0) {
        reply_null_array(ctx->r);
        return;
    }
    reply_streams_header(ctx, served);
    reply_append_part(ctx->r, body);
}

int stream_parse_block(cmd_ctx *ctx, const resp_arg *timeout, long long *block_ms) {
    if (ctx->in_exec == IN_SCRIPT) {
        /* The command's name as the script spelled it, as Redis shows it. */
        reply_errorf(ctx->r, "ERR %.*s command is not allowed with BLOCK option from scripts", (int)ctx->argv[0].len,
                     ctx->argv[0].ptr);
        return -1;
    }
    if (arg_parse_ll(timeout, block_ms) < 0) {
        reply_error(ctx->r, "ERR timeout is not an integer or out of range");
        return -1;
    }
    if (*block_ms < 0) {
        reply_error(ctx->r, "ERR timeout is negative");
        return -1;
    }
    return 0;
}

/* XREAD's options, argv[1 .. end): COUNT (0 when absent or negative: no bound) and BLOCK's
 * timeout in milliseconds (-1 when absent). Returns 0, or -1 after replying. */
static int parse_xread_options(cmd_ctx *ctx, int end, long long *count, long long *block_ms) {
    *count = 0;
    *block_ms = -1;
    for (int i = 1; i + 1 < end; i += 2) {
        long long v;
        if (arg_is(&ctx->argv[i], "count")) {
            if (arg_ll(ctx, &ctx->argv[i + 1], &v) < 0) return -1;
            *count = v < 0 ? 0 : v;
        } else if (stream_parse_block(ctx, &ctx->argv[i + 1], block_ms) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One key of an XREAD: its stream's metadata, read once; the id after which it is served; and
 * whether it has entries after that id. */
typedef struct xread_key {
    meta m;
    stream_id after;
    int serve;
} xread_key;

/* Reads key's stream and resolves its id argument: an id, or "$" (the stream's last id: only
 * what is added later; 0-0 for a missing key). A retried XREAD finds nothing in a key that is no
 * stream any more, as Redis 7.0 keeps such a reader waiting. Returns 0, or -1 after replying. */
static int xread_resolve(cmd_ctx *ctx, const resp_arg *key, const resp_arg *arg, xread_key *k) {
    type_status st = stream_meta(ctx->t, ctx->db, key->ptr, key->len, &k->m);
    if (ctx->retrying && st == ST_WRONGTYPE) st = ST_MISSING;
    if (reply_key_status(ctx, key, st)) return -1; /* the key's own name: argv[1] is an option */
    if (arg->len == 1 && arg->ptr[0] == '>') {
        reply_error(ctx->r, "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
                            "<consumer> option.");
        return -1;
    }
    int exists = st == ST_OK;
    if (arg->len == 1 && arg->ptr[0] == '$') {
        k->after = exists ? k->m.stream.last_generated : (stream_id){0, 0};
        k->serve = 0;
        return 0;
    }
    if (parse_id(ctx, arg, 0, 1, NULL, &k->after) < 0) return -1;
    /* Woken by a new entry, a reader is served once the stream's last id passed its id, even
     * with nothing to read (the entry is gone already), as Redis 7.0 serves it. */
    if (exists && blocking_key_signalled(ctx, key))
        k->serve = stream_id_compare(k->m.stream.last_generated, k->after) > 0;
    else
        k->serve = exists && k->m.size > 0 && stream_id_compare(k->m.stream.last, k->after) > 0;
    return 0;
}

/* A key's entries being replied, at most count of them (0: no bound). */
typedef struct xread_entries {
    reply *r;
    long long count, got;
} xread_entries;

static int reply_up_to_count(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    xread_entries *x = arg;
    reply_entry(x->r, id, fields, nitems);
    return reply_was_cut(x->r) || ++x->got == x->count;
}

/* Replies [key, entries] (a map entry in RESP3) for a key with entries after k->after. Returns
 * 0, or -1 after replying an error in place of the command's reply. */
static int xread_reply_key(cmd_ctx *ctx, const resp_arg *key, const xread_key *k, long long count) {
    if (ctx->r->resp == 2) reply_array(ctx->r, 2);
    reply_bulk(ctx->r, key->ptr, key->len);
    size_t entries_at = ctx->r->out->len; /* their count goes there once they are written */
    xread_entries x = {ctx->r, count, 0};
    stream_id from = k->after;
    stream_id_incr(&from); /* below the last entry: there is a next id */
    type_status st = stream_walk_entries(ctx->t, ctx->db, key->ptr, key->len, &k->m, &from, reply_up_to_count, &x);
    if (reply_key_status(ctx, key, st)) return -1;
    reply_insert_array(ctx->r, entries_at, x.got);
    return 0;
}

/* XREAD BLOCK with nothing to serve: waits for the keys, to run again with each "$" as the id
 * it stood for now (blocking.h). */
static void xread_wait(cmd_ctx *ctx, long long block_ms, int first, int n, const xread_key *keys) {
    resp_arg *argv = malloc((size_t)ctx->argc * sizeof(*argv));
    char(*ids)[STREAM_ID_TEXT_MAX] = malloc((size_t)n * sizeof(*ids));
    if (!argv || !ids) abort();
    memcpy(argv, ctx->argv, (size_t)ctx->argc * sizeof(*argv));
    for (int i = 0; i < n; i++) {
        argv[first + n + i].ptr = ids[i];
        argv[first + n + i].len = stream_id_format(ids[i], keys[i].after);
    }
    blocking_wait_stream(ctx, blocking_ms_to_us(block_ms), argv);
    free(ids);
    free(argv);
}

/* XREAD [COUNT count] [BLOCK ms] STREAMS key … id …: the entries after each id, for the keys
 * that have some, as [key, entries] pairs (a map in RESP3); when none has, a null array, or with
 * BLOCK a wait until one has (blocking.h). */
void cmd_xread(cmd_ctx *ctx) {
    int opts_end, first, n;
    int rc = find_streams(ctx->argc, ctx->argv, &opts_end, &first, &n);
    long long count, block_ms;
    if (parse_xread_options(ctx, opts_end, &count, &block_ms) < 0) return;
    if (rc == XREAD_UNBALANCED) {
        reply_error(ctx->r, "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be "
                            "specified.");
        return;
    }
    if (rc < 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    xread_key *keys = malloc((size_t)n * sizeof(*keys));
    if (!keys) abort();
    int failed = 0, served = 0;
    for (int i = 0; i < n && !failed; i++) {
        failed = xread_resolve(ctx, &ctx->argv[first + i], &ctx->argv[first + n + i], &keys[i]) < 0;
        served += !failed && keys[i].serve;
    }
    if (!failed && served == 0 && block_ms >= 0) {
        xread_wait(ctx, block_ms, first, n, keys);
    } else if (!failed && served == 0) {
        reply_null_array(ctx->r);
    } else if (!failed) {
        /* Which keys are served is known: the reply is written in place (a key that fails to
         * read replaces it all with its error). */
        reply_streams_header(ctx, served);
        for (int i = 0; i < n && !failed; i++)
            if (keys[i].serve) failed = xread_reply_key(ctx, &ctx->argv[first + i], &keys[i], count) < 0;
    }
    free(keys);
}

/* ---- XINFO ---- */

/* The first or last entry, as XINFO shows it, or nil. */
typedef struct edge_reply {
    reply *r;
    int found;
} edge_reply;

static int reply_edge(void *arg, stream_id id, stream_entry_reader *fields, size_t nitems) {
    edge_reply *e = arg;
    reply_entry(e->r, id, fields, nitems);
    e->found = 1;
    return 1;
}

/* XINFO STREAM's last fields: the groups count, the first and last entries. Returns 0, or -1
 * after replying an error. */
static int xinfo_stream_tail(cmd_ctx *ctx, reply *part, const resp_arg *key, const meta *m) {
    reply_bulk_str(part, "groups");
    reply_int(part, (long long)m->stream.groups);
    type_status st = ST_OK;
    for (int rev = 0; rev <= 1 && st == ST_OK; rev++) {
        edge_reply e = {part, 0};
        long long n;
        reply_bulk_str(part, rev ? "last-entry" : "first-entry");
        st = stream_range(ctx->t, ctx->db, key->ptr, key->len, (stream_id){0, 0}, STREAM_ID_MAX, 1, rev, reply_edge, &e,
                          &n);
        if (st == ST_OK && !e.found) reply_null(part);
    }
    return reply_key_status(ctx, key, st) ? -1 : 0;
}

/* XINFO STREAM FULL's last fields: the first count entries (0: all), and the groups. */
static int xinfo_stream_full_tail(cmd_ctx *ctx, reply *part, const resp_arg *key, const meta *m, long long count) {
    buf entries;
    buf_init(&entries);
    entries_reply er = {reply_part(part, &entries)};
    long long n;
    type_status st = stream_range(ctx->t, ctx->db, key->ptr, key->len, (stream_id){0, 0}, STREAM_ID_MAX, count, 0,
                                  reply_one, &er, &n);
    int failed = reply_key_status(ctx, key, st);
    if (!failed) {
        reply_bulk_str(part, "entries");
        reply_array(part, n);
        reply_append_part(part, &entries);
    }
    buf_free(&entries);
    return failed ? -1 : xinfo_full_groups(ctx, part, key, m, count);
}

/* XINFO STREAM key [FULL [COUNT n]]: Redis 7.0's fields. tidekv has no radix tree: each entry
 * is a key of its own, which radix-tree-keys counts (and radix-tree-nodes with the root). */
static void xinfo_stream(cmd_ctx *ctx) {
    const resp_arg *key = &ctx->argv[2];
    meta m;
    type_status st = stream_meta(ctx->t, ctx->db, key->ptr, key->len, &m);
    if (st == ST_MISSING) {
        reply_error(ctx->r, "ERR no such key");
        return;
    }
    if (reply_key_status(ctx, key, st)) return;
    int full = ctx->argc > 3;
    int shape_ok = ctx->argc == 3 || (ctx->argc == 4 && arg_is(&ctx->argv[3], "full")) ||
                   (ctx->argc == 6 && arg_is(&ctx->argv[3], "full") && arg_is(&ctx->argv[4], "count"));
    if (!shape_ok) {
        reply_errorf(ctx->r, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try XINFO HELP.",
                     (int)ctx->argv[1].len, ctx->argv[1].ptr);
        return;
    }
    long long count = 10; /* FULL's entries and pending entries: 0 for all */
    if (ctx->argc == 6 && arg_ll(ctx, &ctx->argv[5], &count) < 0) return;
    if (count < 0) count = 10;
    buf body;
    buf_init(&body);
    reply part = reply_part(ctx->r, &body);
    const stream_extras *x = &m.stream;
    const struct {
        const char *name;
        stream_id id;
    } ids[] = {{"last-generated-id", x->last_generated}, {"max-deleted-entry-id", x->max_deleted}};
    reply_bulk_str(&part, "length");
    reply_int(&part, (long long)m.size);
    reply_bulk_str(&part, "radix-tree-keys");
    reply_int(&part, (long long)m.size);
    reply_bulk_str(&part, "radix-tree-nodes");
    reply_int(&part, (long long)m.size + 1);
    for (size_t i = 0; i < 2; i++) {
        char text[STREAM_ID_TEXT_MAX];
        reply_bulk_str(&part, ids[i].name);
        reply_bulk(&part, text, stream_id_format(text, ids[i].id));
    }
    reply_bulk_str(&part, "entries-added");
    reply_int(&part, (long long)x->entries_added);
    char text[STREAM_ID_TEXT_MAX];
    reply_bulk_str(&part, "recorded-first-entry-id");
    reply_bulk(&part, text, stream_id_format(text, x->recorded_first));
    int failed = full ? xinfo_stream_full_tail(ctx, &part, key, &m, count) : xinfo_stream_tail(ctx, &part, key, &m);
    if (!failed) {
        reply_map(ctx->r, full ? 9 : 10);
        reply_append_part(ctx->r, &body);
    }
    buf_free(&body);
}

/* Redis 7.0's own text. */
static void xinfo_help(cmd_ctx *ctx) {
    static const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    };
    reply_help_lines(ctx, lines, sizeof(lines) / sizeof(lines[0]));
}

void cmd_xinfo(cmd_ctx *ctx) {
    static const char *const subs[] = {"consumers", "groups", "stream", NULL};
    if (arg_is(&ctx->argv[1], "help") && ctx->argc == 2) xinfo_help(ctx);
    else if (arg_is(&ctx->argv[1], "stream") && ctx->argc >= 3) xinfo_stream(ctx);
    else if (arg_is(&ctx->argv[1], "groups") && ctx->argc == 3) xinfo_groups(ctx);
    else if (arg_is(&ctx->argv[1], "consumers") && ctx->argc == 4) xinfo_consumers(ctx);
    else reply_subcommand_error(ctx, subs);
}

#include "cmd/descriptor_flags.h" /* last: its short names reach only the rows below */

/* The stream commands. */
static const cmd_def stream_defs[] = {
    {"xadd", -5, W | F | OOM, 1, 1, 1, cmd_xadd, "stream", "@write @stream @fast",
     "Appends an entry to a stream.",
     "key:key@0 [NOMKSTREAM] "
     "trim[strategy(MAXLEN|MINID) operator[equal==|approximately=~] threshold [LIMIT count:int]] "
     "id_or_auto(auto_id=*|id) field_value(field value)...",
     KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"xtrim", -4, W, 1, 1, 1, cmd_xtrim, "stream", "@write @stream @slow",
     "Deletes the oldest entries of a stream.",
     "key:key@0 trim(strategy(MAXLEN|MINID) operator[equal==|approximately=~] threshold [LIMIT count:int])",
     KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"xdel", -3, W | F, 1, 1, 1, cmd_xdel, "stream", "@write @stream @fast",
     "Deletes entries of a stream.",
     "key:key@0 id...", KEYS(RANGE(KEY_RW | KEY_DELETE, 1, 0, 1))},
    {"xlen", 2, R | F, 1, 1, 1, cmd_xlen, "stream", "@read @stream @fast",
     "Returns the number of entries of a stream.",
     "key:key@0", KEYS(RANGE(KEY_RO, 1, 0, 1))},
    {"xrange", -4, R, 1, 1, 1, cmd_xrange, "stream", "@read @stream @slow",
     "Returns the entries of a stream within a range of ids.",
     "key:key@0 start end [COUNT count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"xrevrange", -4, R, 1, 1, 1, cmd_xrevrange, "stream", "@read @stream @slow",
     "Returns the entries of a stream within a range of ids, newest first.",
     "key:key@0 end start [COUNT count:int]", KEYS(RANGE(KEY_RO | KEY_ACCESS, 1, 0, 1))},
    {"xsetid", -3, W | F | OOM, 1, 1, 1, cmd_xsetid, "stream", "@write @stream @fast",
     "Sets a stream's last id, entries added and max deleted id.",
     "key:key@0 last-id [ENTRIESADDED entries_added:int] [MAXDELETEDID max_deleted_entry_id]",
     KEYS(RANGE(KEY_RW | KEY_UPDATE, 1, 0, 1))},
    {"xread", -4, R | B, 0, 0, 0, cmd_xread, "stream", "@read @stream @slow @blocking",
     "Returns the entries of streams after given ids, or waits for some (BLOCK).",
     "[COUNT count:int] [BLOCK milliseconds:int] streams(STREAMS key:key@0... id...)",
     KEYS(UNKNOWN(KEY_RO | KEY_ACCESS)), .getkeys = xread_getkeys},
    {"xinfo", -2, R | CMD_SUBCOMMANDS, 2, 2, 1, cmd_xinfo, "stream", "@read @stream @slow",
     "Returns information about a stream, its groups and their consumers.",
     "subcommand [argument]...", KEYS(RANGE(KEY_RO, 2, 0, 1))},
};
const cmd_family stream_commands = {stream_defs, sizeof(stream_defs) / sizeof(stream_defs[0])};
