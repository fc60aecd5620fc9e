#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Elements per SNAPSHOT READ page (fields, members, items; a string is one): each page is one
 * MULTI/EXEC on a redis sink. */
#define SNAPSHOT_PAGE_COUNT 1000

#define WHAT "source"

/* A command's arguments, numbers formatted in place. */
typedef struct args {
    int argc;
    const char *argv[24];
    char numbers[4][24];
    int nnumbers;
} args;

static void add(args *a, const char *s) { a->argv[a->argc++] = s; }

static void add_ll(args *a, long long v) {
    char *buf = a->numbers[a->nnumbers++];
    snprintf(buf, sizeof(a->numbers[0]), "%lld", v);
    add(a, buf);
}

/* The --match, --type and --db filters, as both SNAPSHOT READ and POLLUPDATES take them. */
static void add_filters(args *a, const cdc_options *o, cdc_format format) {
    add(a, "FORMAT");
    add(a, format == CDC_FORMAT_JSON ? "JSON" : "RESP");
    if (o->match) {
        add(a, "MATCH");
        add(a, o->match);
    }
    if (o->type) {
        add(a, "TYPE");
        add(a, o->type);
    }
    if (o->db >= 0) {
        add(a, "DB");
        add_ll(a, o->db);
    }
}

/* Runs the command: its reply (an error reply too), or NULL with st CDC_RETRY when the
 * connection broke. */
static redisReply *call(source *s, args *a, cdc_status *st, cdc_error *e) {
    redisReply *r = conn_call(s->c, WHAT, a->argc, a->argv, NULL, e);
    if (!r) {
        *st = CDC_RETRY;
        return NULL;
    }
    *st = CDC_OK;
    return r;
}

static cdc_status error_of(redisReply *r, const char *command, cdc_error *e) {
    cdc_status st = conn_reply_error(r, WHAT, command, e);
    freeReplyObject(r);
    return st;
}

cdc_status source_open(source *s, const cdc_options *o, cdc_error *e) {
    s->opt = o;
    s->c = NULL;
    cdc_status st = conn_open(&o->source, NULL, o->password, WHAT, &s->c, e);
    if (st != CDC_OK) return st;
    /* SEQUENCE tells a tidekv from a server without change data capture. */
    args a = {0};
    add(&a, "SEQUENCE");
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (r->type == REDIS_REPLY_ERROR) {
        st = conn_reply_error(r, WHAT, "SEQUENCE", e);
        if (st == CDC_FATAL)
            cdc_fail(e, st, "the source %s:%d is no tidekv (SEQUENCE: %s)", o->source.host, o->source.port, r->str);
    }
    freeReplyObject(r);
    return st;
}

void source_close(source *s) {
    if (s->c) redisFree(s->c);
    s->c = NULL;
}

cdc_status source_consumer(source *s, consumer_info *out, cdc_error *e) {
    memset(out, 0, sizeof(*out));
    args a = {0};
    add(&a, "CDC");
    add(&a, "INFO");
    add(&a, s->opt->consumer);
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (reply_error_is(r, "no such consumer")) {
        freeReplyObject(r);
        return CDC_OK;
    }
    if (r->type == REDIS_REPLY_ERROR) return error_of(r, "CDC INFO", e);
    const redisReply *state = reply_field(r, "state");
    if (reply_int_field(r, "sequence", &out->sequence) < 0 || reply_int_field(r, "acked", &out->acked_ms) < 0 ||
        !state || state->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return cdc_fail(e, CDC_FATAL, "source: malformed CDC INFO reply");
    }
    out->exists = 1;
    out->lost = strcmp(state->str, "lost") == 0;
    freeReplyObject(r);
    return CDC_OK;
}

static cdc_status create(source *s, int with_snapshot, char *id, size_t id_size, long long *sequence,
                         cdc_error *e) {
    args a = {0};
    add(&a, "CDC");
    add(&a, "CREATE");
    add(&a, s->opt->consumer);
    if (with_snapshot) add(&a, "SNAPSHOT");
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (r->type == REDIS_REPLY_ERROR) return error_of(r, "CDC CREATE", e);
    const redisReply *snap = reply_field(r, "snapshot");
    if (reply_int_field(r, "sequence", sequence) < 0 ||
        (with_snapshot && (!snap || snap->type != REDIS_REPLY_STRING || snap->len >= id_size))) {
        freeReplyObject(r);
        return cdc_fail(e, CDC_FATAL, "source: malformed CDC CREATE reply");
    }
    if (with_snapshot) memcpy(id, snap->str, snap->len + 1);
    freeReplyObject(r);
    return CDC_OK;
}

cdc_status source_create_with_snapshot(source *s, char *id, size_t id_size, long long *sequence, cdc_error *e) {
    return create(s, 1, id, id_size, sequence, e);
}

cdc_status source_create(source *s, long long *sequence, cdc_error *e) { return create(s, 0, NULL, 0, sequence, e); }

cdc_status source_drop(source *s, cdc_error *e) {
    args a = {0};
    add(&a, "CDC");
    add(&a, "DROP");
    add(&a, s->opt->consumer);
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (r->type == REDIS_REPLY_ERROR) return error_of(r, "CDC DROP", e);
    freeReplyObject(r);
    return CDC_OK;
}

cdc_status source_read_snapshot(source *s, const char *id, const char *cursor, cdc_format format,
                                snapshot_page *page, cdc_error *e) {
    memset(page, 0, sizeof(*page));
    args a = {0};
    add(&a, "SNAPSHOT");
    add(&a, "READ");
    add(&a, id);
    add(&a, cursor);
    add(&a, "COUNT");
    add_ll(&a, SNAPSHOT_PAGE_COUNT);
    add_filters(&a, s->opt, format);
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (reply_error_is(r, "no such snapshot")) {
        freeReplyObject(r);
        return cdc_fail(e, CDC_GONE, "snapshot %s no longer exists at the source", id);
    }
    if (r->type == REDIS_REPLY_ERROR) return error_of(r, "SNAPSHOT READ", e);
    page->reply = r;
    const redisReply *next = reply_field(r, "cursor");
    if (!next || next->type != REDIS_REPLY_STRING) return cdc_fail(e, CDC_FATAL, "source: malformed SNAPSHOT READ reply");
    page->next_cursor = next->str;
    return batches_read(reply_field(r, "entries"), format, &page->entries, e);
}

void snapshot_page_free(snapshot_page *page) {
    batches_free(&page->entries);
    if (page->reply) freeReplyObject(page->reply);
    memset(page, 0, sizeof(*page));
}

cdc_status source_release_snapshot(source *s, const char *id, cdc_error *e) {
    args a = {0};
    add(&a, "SNAPSHOT");
    add(&a, "RELEASE");
    add(&a, id);
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (r->type == REDIS_REPLY_ERROR && !reply_error_is(r, "no such snapshot")) return error_of(r, "SNAPSHOT RELEASE", e);
    freeReplyObject(r);
    return CDC_OK;
}

/* What the error of a POLLUPDATES from `after` means for this program. */
static cdc_status poll_error(source *s, redisReply *r, long long after, cdc_error *e) {
    cdc_status st;
    if (reply_error_is(r, "next sequence is out of range"))
        st = cdc_fail(e, CDC_FATAL,
                      "the sink's position %lld is ahead of the source's latest sequence: is it the same source, "
                      "or was the source restored from an older copy?", after);
    else if (strncmp(r->str, "ERR mismatched sequence number", 30) == 0)
        st = cdc_fail(e, CDC_FATAL,
                      "the source no longer holds the changes after %lld (%s): was consumer '%s' lost or "
                      "dropped? Drop it and the sink's position to copy again", after, r->str, s->opt->consumer);
    else
        st = conn_reply_error(r, WHAT, "POLLUPDATES", e);
    freeReplyObject(r);
    return st;
}

cdc_status source_poll(source *s, long long after, int block_ms, cdc_format format, poll_reply *out, cdc_error *e) {
    memset(out, 0, sizeof(*out));
    args a = {0};
    add(&a, "POLLUPDATES");
    add_ll(&a, after);
    add(&a, "MAX");
    add_ll(&a, s->opt->batch);
    add(&a, "STRICT");
    if (block_ms >= 0) {
        add(&a, "BLOCK");
        add_ll(&a, block_ms);
    }
    add_filters(&a, s->opt, format);
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (r->type == REDIS_REPLY_ERROR) return poll_error(s, r, after, e);
    out->reply = r;
    if (reply_int_field(r, "latest_sequence", &out->latest) < 0 || reply_int_field(r, "next_sequence", &out->next) < 0)
        return cdc_fail(e, CDC_FATAL, "source: malformed POLLUPDATES reply");
    return batches_read(reply_field(r, "updates"), format, &out->updates, e);
}

void poll_reply_free(poll_reply *p) {
    batches_free(&p->updates);
    if (p->reply) freeReplyObject(p->reply);
    memset(p, 0, sizeof(*p));
}

cdc_status source_ack(source *s, long long sequence, cdc_error *e) {
    args a = {0};
    add(&a, "CDC");
    add(&a, "ACK");
    add(&a, s->opt->consumer);
    add_ll(&a, sequence);
    cdc_status st;
    redisReply *r = call(s, &a, &st, e);
    if (!r) return st;
    if (reply_error_is(r, "no such consumer")) {
        freeReplyObject(r);
        return cdc_fail(e, CDC_FATAL, "consumer '%s' was dropped at the source while tidekv-cdc followed it",
                        s->opt->consumer);
    }
    if (reply_error_is(r, "consumer lost its history")) {
        freeReplyObject(r);
        return cdc_fail(e, CDC_FATAL,
                        "consumer '%s' lost its history at the source (cdc-consumer-max-wal-mb, or a failover to a "
                        "replica that missed changes it had seen): drop it and the sink's position to copy again",
                        s->opt->consumer);
    }
    if (r->type == REDIS_REPLY_ERROR) return error_of(r, "CDC ACK", e);
    freeReplyObject(r);
    return CDC_OK;
}
