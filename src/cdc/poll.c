#include "cdc/poll.h"

#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/batch.h"
#include "cdc/commits.h"
#include "cdc/rebuild.h"
#include "cdc/record.h"
#include "cdc/tail.h"
#include "cdc/wal.h"
#include "storage/store.h"
#include "util/glob.h"
#include "util/hex.h"
#include "util/json.h"
#include "util/num.h"

/* Batches looked at per call at most, so a filter that skips a long stretch cannot hold a
 * worker thread for long; the reply's next_sequence says where to continue. */
#define SCAN_LIMIT 10000

static atomic_uint_fast64_t history_generation;

uint64_t cdc_poll_history(void) { return atomic_load(&history_generation); }
void cdc_poll_history_replaced(void) { atomic_fetch_add(&history_generation, 1); }

void cdc_poll_init(cdc_poll *p, uint64_t seq) {
    memset(p, 0, sizeof(*p));
    p->seq = seq;
    p->scanned = seq;
    p->max = 16;
    p->max_bytes = p->limit_bytes = SIZE_MAX;
    p->filter.db = -1;
    p->history = cdc_poll_history();
    buf_init(&p->body);
}

void cdc_poll_free(cdc_poll *p) {
    free(p->filter.match);
    buf_free(&p->body);
}

int cdc_filter_active(const cdc_filter *f) { return f->match || f->type || f->db >= 0; }

/* Whether another batch may be added. */
static int has_room(const cdc_poll *p) {
    return p->nupdates < p->max && p->body.len < p->max_bytes && p->body.len <= p->limit_bytes && !p->held_back;
}

int cdc_poll_full(const cdc_poll *p) { return !has_room(p); }

int cdc_poll_over_limit(const cdc_poll *p) { return p->body.len > p->limit_bytes; }

/* ---- decoding a batch into commands ---- */

typedef struct decoded {
    record rec;     /* commands, from the batch's change record or rebuilt from its operations */
    buf rebuilt;    /* the record blob rebuilt from physical operations, when there was none */
    int incomplete; /* some operations could not be expressed as commands */
    int has_record;
} decoded;

/* Decodes a batch: its change record if it starts with one, else commands rebuilt from its
 * puts and deletes. Returns 0, or -1 if the batch is corrupt. */
static int decode_batch(const wal_batch *b, decoded *d) {
    memset(d, 0, sizeof(*d));
    buf_init(&d->rebuilt);
    batch_reader r;
    batch_record op;
    if (batch_reader_init(&r, b->data, b->len) < 0) return -1;
    int rc = batch_reader_next(&r, &op);
    if (rc == 1 && op.op == BATCH_LOG_DATA && record_is_tidekv(op.key.ptr, op.key.len)) {
        if (record_decode(op.key.ptr, op.key.len, &d->rec) == 0 && record_resolve(&d->rec, b->data, b->len) == 0) {
            d->has_record = 1;
            return 0;
        }
        record_free(&d->rec);
        d->incomplete = 1; /* an unreadable record: fall back to the operations, and show raw */
    }
    record_writer w;
    record_writer_init(&w);
    for (; rc == 1; rc = batch_reader_next(&r, &op)) {
        if (op.op == BATCH_LOG_DATA || op.op == BATCH_MARKER) continue;
        if (!cdc_rebuild_op(&op, &w)) d->incomplete = 1;
    }
    record_writer_finish(&w, 0, &d->rebuilt);
    record_writer_free(&w);
    if (rc < 0 || record_decode(d->rebuilt.data, d->rebuilt.len, &d->rec) < 0) return -1;
    return 0;
}

static void decoded_free(decoded *d) {
    record_free(&d->rec);
    buf_free(&d->rebuilt);
}

/* ---- filtering ---- */

static int is_select(const record_cmd *c, int *db) {
    long long v;
    if (c->argc != 2 || c->argv[0].len != 6 || memcmp(c->argv[0].ptr, "SELECT", 6) != 0) return 0;
    if (num_parse_ll(c->argv[1].ptr, c->argv[1].len, &v) < 0) return 0;
    *db = (int)v;
    return 1;
}

static cdc_keys_fn keys_hook;

void cdc_set_keys_hook(cdc_keys_fn fn) { keys_hook = fn; }

/* A command's keys checked against a filter's MATCH and DB. */
typedef struct key_check {
    cdc_key_visitor v; /* first: the visitor's key() gets the key_check */
    const cdc_filter *f;
    const record_cmd *c;
    int db;      /* the database the command runs in */
    int found;   /* keys seen */
    int matched; /* one of them lives in the filter's database and matches its glob */
} key_check;

static int check_key(cdc_key_visitor *v, size_t pos, int db) {
    key_check *kc = (key_check *)v;
    const cdc_filter *f = kc->f;
    kc->found++;
    if (pos >= kc->c->argc || (f->db >= 0 && (db >= 0 ? db : kc->db) != f->db)) return 0;
    const record_arg *key = &kc->c->argv[pos];
    if (!f->match || glob_match(f->match, f->match_len, key->ptr, key->len, 0)) kc->matched = 1;
    return kc->matched;
}

/* Whether a command concerns the whole server rather than keys of one database: FLUSHALL
 * (its record names no database), and FUNCTION LOAD/DELETE/FLUSH (the libraries every FCALL
 * uses, whichever keys it touches). */
static int is_server_wide(const record_cmd *c) {
    if (c->argc == 0 || c->argv[0].len != 8) return 0;
    return memcmp(c->argv[0].ptr, "FLUSHALL", 8) == 0 || memcmp(c->argv[0].ptr, "FUNCTION", 8) == 0;
}

/* Whether a command passes the filter: its type, and one of its keys (as its descriptor finds
 * them: RENAME's, MSET's, SMOVE's, COPY … DB n's in that database) in the filter's database
 * matching its glob. One with no key it names concerns every key of its database; a server-wide
 * one passes every filter (it names no key, and its type is none). */
static int command_kept(const cdc_filter *f, const record_cmd *c, int db) {
    if (f->type && c->type && c->type != f->type) return 0;
    if ((!f->match && f->db < 0) || is_server_wide(c)) return 1;
    key_check kc = {{check_key}, f, c, db, 0, 0};
    if (keys_hook) keys_hook(c, &kc.v);
    return kc.found ? kc.matched : f->db < 0 || db == f->db;
}

/* The commands that pass the filter, with the database each runs in. */
typedef struct kept_cmds {
    const record_cmd **cmds;
    int *dbs;
    size_t n;
} kept_cmds;

static void select_commands(const cdc_filter *f, const record *rec, kept_cmds *k) {
    k->cmds = malloc((rec->ncmds ? rec->ncmds : 1) * sizeof(*k->cmds));
    k->dbs = malloc((rec->ncmds ? rec->ncmds : 1) * sizeof(int));
    if (!k->cmds || !k->dbs) abort();
    k->n = 0;
    int db = (int)rec->db;
    for (size_t i = 0; i < rec->ncmds; i++) {
        if (is_select(&rec->cmds[i], &db)) continue;
        if (!command_kept(f, &rec->cmds[i], db)) continue;
        k->cmds[k->n] = &rec->cmds[i];
        k->dbs[k->n++] = db;
    }
}

static void kept_free(kept_cmds *k) {
    free(k->cmds);
    free(k->dbs);
}

/* How many commands the output has: the kept ones plus a SELECT at each database change. */
static size_t output_count(const kept_cmds *k) {
    size_t n = k->n;
    for (size_t i = 1; i < k->n; i++) n += k->dbs[i] != k->dbs[i - 1];
    return n;
}

/* ---- rendering ---- */

typedef struct batch_view {
    const wal_batch *b;
    const decoded *d;
    const kept_cmds *k;
} batch_view;

static int64_t view_db(const batch_view *v) { return v->k->n ? v->k->dbs[0] : (int64_t)v->d->rec.db; }

static void resp_command(reply *r, const record_cmd *c) {
    reply_array(r, (long long)c->argc);
    for (size_t j = 0; j < c->argc; j++) reply_bulk(r, c->argv[j].ptr, c->argv[j].len);
}

static void resp_select(reply *r, int db) {
    char num[16];
    reply_array(r, 2);
    reply_bulk(r, "SELECT", 6);
    reply_bulk(r, num, (size_t)snprintf(num, sizeof(num), "%d", db));
}

static void render_resp(reply *r, const batch_view *v) {
    reply_map(r, v->d->incomplete ? 6 : 5);
    reply_bulk_str(r, "sequence");
    reply_int(r, (long long)v->b->sequence);
    reply_bulk_str(r, "count");
    reply_int(r, v->b->count);
    reply_bulk_str(r, "timestamp");
    reply_int(r, v->d->rec.time_ms);
    reply_bulk_str(r, "db");
    reply_int(r, view_db(v));
    reply_bulk_str(r, "commands");
    reply_array(r, (long long)output_count(v->k));
    for (size_t i = 0; i < v->k->n; i++) {
        if (i > 0 && v->k->dbs[i] != v->k->dbs[i - 1]) resp_select(r, v->k->dbs[i]);
        resp_command(r, v->k->cmds[i]);
    }
    if (v->d->incomplete) {
        /* Operations without a command form: the whole batch, as RAW shows it. */
        reply_bulk_str(r, "raw");
        reply_bulk_hex(r, v->b->data, v->b->len);
    }
}

static void render_json(reply *r, const batch_view *v) {
    buf j;
    buf_init(&j);
    buf_printf(&j, "{\"sequence\":%llu,\"count\":%u,\"timestamp\":%lld,\"db\":%lld,\"commands\":[",
               (unsigned long long)v->b->sequence, v->b->count, (long long)v->d->rec.time_ms, (long long)view_db(v));
    for (size_t i = 0; i < v->k->n; i++) {
        if (i > 0) buf_append_byte(&j, ',');
        if (i > 0 && v->k->dbs[i] != v->k->dbs[i - 1]) buf_printf(&j, "[\"SELECT\",\"%d\"],", v->k->dbs[i]);
        const record_cmd *c = v->k->cmds[i];
        buf_append_byte(&j, '[');
        for (size_t a = 0; a < c->argc; a++) {
            if (a > 0) buf_append_byte(&j, ',');
            json_append_bytes(&j, c->argv[a].ptr, c->argv[a].len);
        }
        buf_append_byte(&j, ']');
    }
    buf_append_byte(&j, ']');
    if (v->d->incomplete) {
        buf_append_str(&j, ",\"raw\":\"");
        hex_encode(&j, v->b->data, v->b->len);
        buf_append_byte(&j, '"');
    }
    buf_append_byte(&j, '}');
    reply_bulk(r, j.data, j.len);
    buf_free(&j);
}

/* Appends one batch to the updates unless the filter drops it; returns 1 if appended, 0 if
 * filtered out, -1 if the batch cannot be decoded. */
static int render_batch(cdc_poll *p, reply *r, const wal_batch *b) {
    if (p->format == CDC_RAW) {
        reply_bulk_hex(r, b->data, b->len);
        return 1;
    }
    if (p->format == CDC_BINARY) {
        reply_bulk(r, b->data, b->len);
        return 1;
    }
    decoded d;
    if (decode_batch(b, &d) < 0) {
        decoded_free(&d);
        return -1;
    }
    kept_cmds k;
    select_commands(&p->filter, &d.rec, &k);
    int keep = k.n > 0 || (!cdc_filter_active(&p->filter) && (d.incomplete || d.rec.ncmds == 0));
    if (keep) {
        batch_view v = {b, &d, &k};
        if (p->format == CDC_RESP)
            render_resp(r, &v);
        else
            render_json(r, &v);
    }
    kept_free(&k);
    decoded_free(&d);
    return keep;
}

enum { TAKE_MORE, TAKE_STOP, TAKE_ERROR };

/* Adds one batch to the poll: continuity check, position, rendering. */
static int take_batch(cdc_poll *p, reply *body, const wal_batch *b, char *err, size_t errlen) {
    uint64_t expected = p->scanned + 1;
    /* Sequence 0 asks for the oldest retained change, wherever that starts. */
    int from_oldest = p->seq == 0 && p->first == 0;
    if (p->strict && b->sequence > expected && !from_oldest) {
        /* History is missing. Return what came before the gap; a poll starting there errs. */
        if (p->nupdates > 0 || p->first != 0) return TAKE_STOP;
        snprintf(err, errlen, "ERR mismatched sequence number, expected %llu but got %llu",
                 (unsigned long long)expected, (unsigned long long)b->sequence);
        return TAKE_ERROR;
    }
    size_t mark = p->body.len;
    int shown = render_batch(p, body, b);
    if (shown < 0) {
        p->body.len = mark;
        snprintf(err, errlen, "ERR cannot decode the batch at sequence %llu", (unsigned long long)b->sequence);
        return TAKE_ERROR;
    }
    if (mark > 0 && p->body.len > p->limit_bytes) {
        /* Past what the client may receive: the batch starts the next poll (alone, it may fit). */
        p->body.len = mark;
        p->held_back = 1;
        return TAKE_STOP;
    }
    if (p->first == 0) p->first = b->sequence;
    if (shown && p->first_shown == 0) p->first_shown = b->sequence;
    p->scanned = b->sequence + b->count - 1;
    p->nupdates += shown;
    return TAKE_MORE;
}

/* How many batches one call may look at. */
static int scan_budget(const cdc_poll *p) {
    return cdc_filter_active(&p->filter) ? SCAN_LIMIT : p->max - p->nupdates;
}

/* Takes the commits of one batch after p->scanned, each as its own batch as the writer
 * committed it, whether from the WAL (where group commit merges writers) or from the tail
 * cache (where APPLYBATCH may have brought a merged batch). */
static int take_commits(cdc_poll *p, reply *body, const wal_batch *w, int *looked, char *err, size_t errlen) {
    commit_split cs;
    wal_batch b;
    int rc = 0, taken = TAKE_MORE;
    if (commit_split_init(&cs, w) < 0) rc = -1;
    while (rc == 0 && taken == TAKE_MORE && (rc = commit_split_next(&cs, &b)) == 1) {
        rc = 0;
        if (b.sequence + b.count - 1 <= p->scanned) continue;
        (*looked)++;
        taken = has_room(p) ? take_batch(p, body, &b, err, errlen) : TAKE_STOP;
    }
    commit_split_free(&cs);
    if (rc < 0) {
        snprintf(err, errlen, "ERR corrupt write batch at sequence %llu", (unsigned long long)w->sequence);
        return TAKE_ERROR;
    }
    return taken;
}

/* The shared renderings in the tail cache: RESP's maps differ between the protocols. */
enum { VIEW_RAW, VIEW_JSON, VIEW_RESP2, VIEW_RESP3, VIEW_BINARY, VIEW_FORMS };
_Static_assert(VIEW_FORMS == TAIL_VIEWS, "one tail view per output form");

/* The shared rendering a poll without filters reads. */
static int view_id(const cdc_poll *p, int resp) {
    switch (p->format) {
    case CDC_RESP: return resp == 3 ? VIEW_RESP3 : VIEW_RESP2;
    case CDC_JSON: return VIEW_JSON;
    case CDC_BINARY: return VIEW_BINARY;
    default: return VIEW_RAW;
    }
}

typedef struct view_arg {
    cdc_poll *p;
    int resp;
} view_arg;

static int render_for_view(void *arg, const wal_batch *commit, buf *out) {
    view_arg *va = arg;
    reply r = {.out = out, .resp = va->resp};
    return render_batch(va->p, &r, commit);
}

/* Reads renderings other polls share from the tail cache (see tail_read_view). */
static tail_status scan_tail_shared(cdc_poll *p, int resp) {
    view_arg va = {p, resp};
    tail_view v = {view_id(p, resp), render_for_view, &va};
    tail_span span;
    tail_status st =
        tail_read_view(p->scanned + 1, p->max - p->nupdates, p->max_bytes, p->limit_bytes, &v, &p->body, &span);
    p->held_back = span.held_back;
    if (st != TAIL_OK || !span.last) return st;
    if (p->first == 0) p->first = span.first;
    if (p->first_shown == 0 && span.shown) p->first_shown = span.first; /* unfiltered: every commit is shown */
    p->scanned = span.last;
    p->nupdates += span.shown;
    return st;
}

/* Reads from the tail cache; returns 0 if it served the poll, 1 if the position is older
 * than the cache holds, -1 on an error. */
static int scan_tail(cdc_poll *p, reply *body, char *err, size_t errlen) {
    if (!cdc_filter_active(&p->filter)) {
        tail_status st = scan_tail_shared(p, body->resp);
        if (st != TAIL_UNSHARED) return st == TAIL_TOO_OLD;
    }
    tail_loan loan = {NULL, 0, 0};
    int rc = 0;
    if (tail_read(p->scanned + 1, scan_budget(p), &loan) == TAIL_TOO_OLD) return 1;
    for (int i = 0; i < loan.n && rc == 0 && has_room(p); i++) {
        const tail_batch *cached = loan.batches[i];
        batch_reader r;
        if (batch_reader_init(&r, cached->data, cached->len) < 0) abort(); /* the cache holds whole batches */
        wal_batch b = {r.sequence, r.count, cached->data, cached->len};
        int looked = 0;
        int taken = take_commits(p, body, &b, &looked, err, errlen);
        if (taken == TAKE_ERROR) rc = -1;
        if (taken != TAKE_MORE) break;
    }
    tail_loan_return(&loan);
    return rc;
}

static int scan_wal(cdc_poll *p, reply *body, char *err, size_t errlen) {
    wal_cursor *c = wal_open(p->scanned + 1);
    wal_batch b;
    char *werr = NULL;
    int rc = 0, looked = 0, budget = scan_budget(p);
    while (looked < budget && has_room(p) && (rc = wal_next(c, &b, &werr)) == 1) {
        int taken = take_commits(p, body, &b, &looked, err, errlen);
        if (taken == TAKE_ERROR) rc = -2;
        if (taken != TAKE_MORE) break;
    }
    wal_close(c);
    uint64_t latest = store_latest_sequence();
    if (rc == 0 && looked == 0 && p->scanned < latest && wal_oldest_sequence() == 0) {
        /* Committed changes with no WAL left for them: all of that history is lost. */
        if (p->strict && !(p->seq == 0 && p->first == 0)) {
            snprintf(err, errlen, "ERR mismatched sequence number, expected %llu but got %llu",
                     (unsigned long long)p->scanned + 1, (unsigned long long)latest + 1);
            return -1;
        }
        if (p->first == 0) p->first = latest + 1;
        p->scanned = latest;
    }
    if (rc == -1) {
        snprintf(err, errlen, "ERR reading the WAL failed: %s", werr);
        free(werr);
    }
    return rc < 0 ? -1 : 0;
}

int cdc_poll_scan(cdc_poll *p, int resp, char *err, size_t errlen) {
    if (p->history != cdc_poll_history()) {
        snprintf(err, errlen, "ERR mismatched sequence number, expected %llu but the change history was replaced by a full sync",
                 (unsigned long long)p->scanned + 1);
        return -1;
    }
    if (!has_room(p)) return 0;
    if (p->scanned >= store_latest_sequence()) return 0; /* nothing new: the WAL has no such sequence yet */
    reply body = {.out = &p->body, .resp = resp};
    /* The cache may hold batches the WAL has already let go of; what is retained is what the
     * WAL holds, so positions before it go to the WAL, which reports the loss. */
    int rc = p->scanned + 1 < wal_oldest_sequence_recent() ? 1 : scan_tail(p, &body, err, errlen);
    return rc == 1 ? scan_wal(p, &body, err, errlen) : rc;
}

void cdc_poll_reply_header(const cdc_poll *p, reply *r) {
    reply_map(r, 4);
    reply_bulk_str(r, "latest_sequence");
    reply_int(r, (long long)store_latest_sequence());
    reply_bulk_str(r, "next_sequence");
    reply_int(r, (long long)p->scanned);
    reply_bulk_str(r, "first_sequence");
    reply_int(r, (long long)(p->first ? p->first : p->seq + 1));
    reply_bulk_str(r, "updates");
    reply_array(r, p->nupdates);
}

void cdc_poll_reply(cdc_poll *p, reply *r) {
    cdc_poll_reply_header(p, r);
    buf_append(r->out, p->body.data, p->body.len);
}
