/* The redis:// sink: a Redis 7 server or another tidekv.
 *
 * What it keeps in the target's db 0 (K is --position-key, by default tidekv-cdc:<consumer>):
 *   K         the position: every change up to this sequence is applied. It is written in the
 *             same MULTI/EXEC as the changes, so the target holds both or neither.
 *   K:copy    while a snapshot copy is under way: a hash of the snapshot's id and sequence and
 *             the cursor to continue at, written in the same MULTI/EXEC as each page.
 *   K:copied  while a copy is under way: "<db>:<key>" of every key it has written, and
 *             "function:<library>" of every function library (a snapshot's entries begin with
 *             FUNCTION LOAD REPLACE of each). A copy that cannot continue (its snapshot is
 *             gone: the source restarted, or the program was down for longer than the
 *             snapshot's TTL) deletes these keys and libraries before a new copy starts, so a
 *             key or library deleted at the source in between does not survive in the target.
 * The end of a copy sets K and removes K:copy and K:copied in one MULTI/EXEC. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "sink.h"
#include "txn.h"

#define WHAT "sink"
/* Journal members a copy_begin deletes per MULTI/EXEC. */
#define CLEANUP_PAGE 1000

typedef struct redis_sink {
    sink base;
    endpoint ep;
    char *user, *password; /* from the URL, decoded; NULL when absent */
    char *position_key, *copy_key, *journal_key;
    redisContext *c;
    txn t;
    long long position;
} redis_sink;

/* ------------------------------------------------------------------ the URL */

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A URL's user or password, %XX-decoded (a password may hold '@', ':' or '/' written so). */
static char *url_decode(const char *text, size_t len) {
    char *out = malloc(len + 1), *o = out;
    if (!out) abort();
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '%') {
            *o++ = text[i];
            continue;
        }
        int hi = i + 2 < len ? hex_digit(text[i + 1]) : -1, lo = i + 2 < len ? hex_digit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

/* [[USER]:PASSWORD@] of the URL, len bytes at text. */
static int parse_userinfo(redis_sink *s, const char *text, size_t len, const char *url, char *err, size_t errlen) {
    const char *colon = memchr(text, ':', len);
    if (!colon) {
        snprintf(err, errlen, "--sink '%s': write the password as redis://:PASSWORD@HOST:PORT", url);
        return -1;
    }
    size_t user_len = (size_t)(colon - text);
    s->user = user_len ? url_decode(text, user_len) : NULL;
    s->password = url_decode(colon + 1, len - user_len - 1);
    if ((user_len && !s->user) || !s->password) {
        snprintf(err, errlen, "--sink '%s': a '%%' in the user or password must be followed by two hex digits", url);
        return -1;
    }
    return 0;
}

static int parse_url(redis_sink *s, const char *url, char *err, size_t errlen) {
    const char *rest = strchr(url, ':') + 1;
    if (strncmp(rest, "//", 2) != 0) {
        snprintf(err, errlen, "--sink '%s': expected redis://[[USER]:PASSWORD@]HOST[:PORT]", url);
        return -1;
    }
    rest += 2;
    size_t len = strcspn(rest, "/?#");
    if (rest[len] && strcmp(rest + len, "/") != 0) {
        snprintf(err, errlen, "--sink '%s': nothing may follow HOST:PORT (each change selects its own database)", url);
        return -1;
    }
    const char *at = NULL;
    for (const char *p = rest; p < rest + len; p++)
        if (*p == '@') at = p; /* the last '@': a password may hold one */
    if (at) {
        if (parse_userinfo(s, rest, (size_t)(at - rest), url, err, errlen) < 0) return -1;
        len -= (size_t)(at + 1 - rest);
        rest = at + 1;
    }
    char why[256];
    if (endpoint_parse(rest, len, 6379, &s->ep, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "--sink '%s': %s", url, why);
        return -1;
    }
    return 0;
}

static char *joined(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *out = malloc(la + lb + 1);
    if (!out) abort();
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return out;
}

static void destroy(sink *base) {
    redis_sink *s = (redis_sink *)base;
    if (s->c) redisFree(s->c);
    txn_free(&s->t);
    free(s->user);
    free(s->password);
    free(s->position_key);
    free(s->copy_key);
    free(s->journal_key);
    free(s);
}

static sink *create(const char *url, const cdc_options *o, char *err, size_t errlen) {
    redis_sink *s = calloc(1, sizeof(*s));
    if (!s) abort();
    s->base.type = &redis_sink_type;
    s->base.copies = 1;
    if (parse_url(s, url, err, errlen) < 0) {
        destroy(&s->base);
        return NULL;
    }
    s->position_key = o->position_key ? joined(o->position_key, "") : joined("tidekv-cdc:", o->consumer);
    s->copy_key = joined(s->position_key, ":copy");
    s->journal_key = joined(s->position_key, ":copied");
    return &s->base;
}

/* ------------------------------------------------------------------ connection and state */

static cdc_status sink_connect(sink *base, cdc_error *e) {
    redis_sink *s = (redis_sink *)base;
    return conn_open(&s->ep, s->user, s->password, WHAT, &s->c, e);
}

static void disconnect(sink *base) {
    redis_sink *s = (redis_sink *)base;
    if (s->c) redisFree(s->c);
    s->c = NULL;
}

/* A whole non-negative decimal number. */
static int parse_sequence(const redisReply *r, long long *out) {
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 19) return -1;
    long long v = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') return -1;
        v = v * 10 + (r->str[i] - '0');
    }
    *out = v;
    return 0;
}


/* The position key, else the copy in progress, else nothing. */
static cdc_status recover(sink *base, sink_state *out, cdc_error *e) {
    redis_sink *s = (redis_sink *)base;
    memset(out, 0, sizeof(*out));
    const char *get[2] = {"GET", s->position_key};
    redisReply *pos = conn_call(s->c, WHAT, 2, get, NULL, e);
    if (!pos) return CDC_RETRY;
    cdc_status st = CDC_OK;
    if (pos->type == REDIS_REPLY_ERROR) {
        st = conn_reply_error(pos, WHAT, "GET of the position key", e);
    } else if (pos->type == REDIS_REPLY_STRING) {
        out->phase = SINK_FOLLOWING;
        if (parse_sequence(pos, &out->position) < 0)
            st = cdc_fail(e, CDC_FATAL, "the sink's position key %s holds '%.40s', not a sequence number",
                          s->position_key, pos->str);
    }
    freeReplyObject(pos);
    if (st != CDC_OK || out->phase == SINK_FOLLOWING) {
        s->position = out->position;
        return st;
    }
    const char *hmget[5] = {"HMGET", s->copy_key, "snapshot", "sequence", "cursor"};
    redisReply *copy = conn_call(s->c, WHAT, 5, hmget, NULL, e);
    if (!copy) return CDC_RETRY;
    if (copy->type != REDIS_REPLY_ARRAY || copy->elements != 3) {
        st = copy->type == REDIS_REPLY_ERROR ? conn_reply_error(copy, WHAT, "HMGET of the copy state", e)
                                             : cdc_fail(e, CDC_FATAL, "sink: malformed HMGET reply");
    } else if (copy->element[2]->type == REDIS_REPLY_STRING) { /* the cursor is always written */
        out->phase = SINK_COPYING;
        const redisReply *id = copy->element[0];
        if (id->type == REDIS_REPLY_STRING && id->len < sizeof(out->snapshot_id) &&
            parse_sequence(copy->element[1], &out->position) == 0)
            memcpy(out->snapshot_id, id->str, id->len + 1); /* else "": copy again from a new snapshot */
        out->cursor = joined(copy->element[2]->str, "");
    }
    freeReplyObject(copy);
    return st;
}

/* ------------------------------------------------------------------ the copy */

static cdc_status run_command(redis_sink *s, int argc, const char **argv, const size_t *lens, const char *name,
                              cdc_error *e) {
    redisReply *r = conn_call(s->c, WHAT, argc, argv, lens, e);
    if (!r) return CDC_RETRY;
    cdc_status st = r->type == REDIS_REPLY_ERROR ? conn_reply_error(r, WHAT, name, e) : CDC_OK;
    freeReplyObject(r);
    return st;
}

/* Records the copy's state: the snapshot ("" while unknown), its sequence, the cursor. */
static cdc_status write_copy_state(redis_sink *s, const char *snapshot_id, long long sequence, cdc_error *e) {
    char number[24];
    snprintf(number, sizeof(number), "%lld", sequence);
    const char *argv[8] = {"HSET", s->copy_key, "snapshot", snapshot_id, "sequence", number, "cursor", "0"};
    return run_command(s, 8, argv, NULL, "HSET of the copy state", e);
}

/* The journal member of a copied function library names it after this. */
#define JOURNAL_LIBRARY "function:"
#define JOURNAL_LIBRARY_LEN (sizeof(JOURNAL_LIBRARY) - 1)

/* Deletes the key of each journal member ("<db>:<key>", in its database) or the library
 * ("function:<name>"), and the members. */
static cdc_status delete_journaled(redis_sink *s, const redisReply *members, cdc_error *e) {
    txn_begin(&s->t, s->c, WHAT);
    for (size_t i = 0; i < members->elements; i++) {
        const redisReply *m = members->element[i];
        const char *colon = m->type == REDIS_REPLY_STRING ? memchr(m->str, ':', m->len) : NULL;
        if (!colon) return cdc_fail(e, CDC_FATAL, "sink: %s holds a malformed member", s->journal_key);
        size_t rest = m->len - (size_t)(colon + 1 - m->str);
        if (m->len > JOURNAL_LIBRARY_LEN && memcmp(m->str, JOURNAL_LIBRARY, JOURNAL_LIBRARY_LEN) == 0) {
            const char *argv[3] = {"FUNCTION", "DELETE", colon + 1};
            size_t lens[3] = {8, 6, rest};
            txn_add(&s->t, 3, argv, lens);
            continue;
        }
        const char *argv[2] = {"DEL", colon + 1};
        size_t lens[2] = {3, rest};
        txn_select(&s->t, atoi(m->str));
        txn_add(&s->t, 2, argv, lens);
    }
    txn_select(&s->t, 0);
    for (size_t i = 0; i < members->elements; i++) {
        const char *argv[3] = {"SREM", s->journal_key, members->element[i]->str};
        size_t lens[3] = {4, strlen(s->journal_key), members->element[i]->len};
        txn_add(&s->t, 3, argv, lens);
    }
    return txn_exec(&s->t, e);
}

static cdc_status copy_begin(sink *base, cdc_error *e) {
    redis_sink *s = (redis_sink *)base;
    /* First forget the old snapshot: once keys of its copy are deleted, it must never be resumed. */
    cdc_status st = write_copy_state(s, "", 0, e);
    for (long long removed = 0; st == CDC_OK;) {
        char count[16];
        snprintf(count, sizeof(count), "%d", CLEANUP_PAGE);
        const char *argv[3] = {"SRANDMEMBER", s->journal_key, count};
        redisReply *r = conn_call(s->c, WHAT, 3, argv, NULL, e);
        if (!r) return CDC_RETRY;
        if (r->type != REDIS_REPLY_ARRAY) {
            st = r->type == REDIS_REPLY_ERROR ? conn_reply_error(r, WHAT, "SRANDMEMBER", e)
                                              : cdc_fail(e, CDC_FATAL, "sink: malformed SRANDMEMBER reply");
        } else if (r->elements == 0) {
            if (removed) cdc_log("removed the %lld keys of an unfinished copy from the sink", removed);
            freeReplyObject(r);
            return CDC_OK;
        } else {
            st = delete_journaled(s, r, e);
            removed += (long long)r->elements;
        }
        freeReplyObject(r);
    }
    return st;
}

static cdc_status copy_started(sink *base, const char *snapshot_id, long long sequence, cdc_error *e) {
    return write_copy_state((redis_sink *)base, snapshot_id, sequence, e);
}

/* Queues every command of the batches, each in its database. */
static void queue_batches(redis_sink *s, const cdc_batches *b) {
    for (size_t i = 0; i < b->n; i++) {
        txn_select(&s->t, b->items[i].db);
        for (size_t j = 0; j < b->items[i].ncommands; j++) {
            const cdc_command *c = &b->items[i].commands[j];
            txn_add(&s->t, c->argc, c->argv, c->argvlen);
        }
    }
}

/* The library a snapshot entry loads (FUNCTION LOAD REPLACE <code>): the name its code's
 * shebang line gives ("#!lua name=<name> ..."); NULL for any other entry. */
static const char *loaded_library(const cdc_batch *b, size_t *len) {
    const cdc_command *c = &b->commands[0];
    if (c->argc != 4 || c->argvlen[0] != 8 || strncasecmp(c->argv[0], "FUNCTION", 8) != 0) return NULL;
    const char *p = c->argv[3], *end = p + c->argvlen[3];
    const char *eol = memchr(p, '\n', c->argvlen[3]);
    if (eol) end = eol;
    while (p < end) {
        const char *word = p;
        while (p < end && *p != ' ') p++;
        if ((size_t)(p - word) > 5 && memcmp(word, "name=", 5) == 0) {
            *len = (size_t)(p - word) - 5;
            return word + 5;
        }
        while (p < end && *p == ' ') p++;
    }
    return NULL;
}

/* What an entry copies, for the journal: the library it loads (*library set), else the key of
 * its first command; NULL for an entry without one. */
static const char *copied_name(const cdc_batch *b, size_t *len, int *library) {
    if (!b->ncommands || b->commands[0].argc < 2) return NULL;
    const char *name = loaded_library(b, len);
    *library = name != NULL;
    if (name) return name;
    *len = b->commands[0].argvlen[1];
    return b->commands[0].argv[1];
}

/* Queues SADD K:copied of what each entry copies: "<db>:<key>", or "function:<library>". */
static void queue_journal(redis_sink *s, const cdc_batches *entries) {
    size_t bytes = 0, len;
    int library;
    for (size_t i = 0; i < entries->n; i++)
        if (copied_name(&entries->items[i], &len, &library)) bytes += len + 12 + JOURNAL_LIBRARY_LEN;
    if (!bytes) return;
    char *buf = malloc(bytes);
    const char **argv = malloc((entries->n + 2) * sizeof(char *));
    size_t *lens = malloc((entries->n + 2) * sizeof(size_t));
    if (!buf || !argv || !lens) abort();
    int argc = 2;
    argv[0] = "SADD";
    lens[0] = 4;
    argv[1] = s->journal_key;
    lens[1] = strlen(s->journal_key);
    char *p = buf;
    for (size_t i = 0; i < entries->n; i++) {
        const cdc_batch *b = &entries->items[i];
        const char *name = copied_name(b, &len, &library);
        if (!name) continue;
        int n = library ? (int)JOURNAL_LIBRARY_LEN : snprintf(p, 12, "%d:", b->db);
        if (library) memcpy(p, JOURNAL_LIBRARY, JOURNAL_LIBRARY_LEN);
        memcpy(p + n, name, len);
        argv[argc] = p;
        lens[argc] = (size_t)n + len;
        p += lens[argc++];
    }
    txn_select(&s->t, 0);
    txn_add(&s->t, argc, argv, lens); /* hiredis has copied the arguments when this returns */
    free(buf);
    free(argv);
    free(lens);
}

static cdc_status copy_page(sink *base, const cdc_batches *entries, const char *next_cursor, cdc_error *e) {
    redis_sink *s = (redis_sink *)base;
    txn_begin(&s->t, s->c, WHAT);
    queue_batches(s, entries);
    queue_journal(s, entries);
    const char *hset[4] = {"HSET", s->copy_key, "cursor", next_cursor};
    txn_select(&s->t, 0);
    txn_add(&s->t, 4, hset, NULL);
    return txn_exec(&s->t, e);
}

static void queue_position(redis_sink *s, long long position) {
    char number[24];
    snprintf(number, sizeof(number), "%lld", position);
    const char *argv[3] = {"SET", s->position_key, number};
    txn_select(&s->t, 0);
    txn_add(&s->t, 3, argv, NULL);
}

static cdc_status copy_end(sink *base, long long sequence, cdc_error *e) {
    redis_sink *s = (redis_sink *)base;
    txn_begin(&s->t, s->c, WHAT);
    queue_position(s, sequence);
    const char *del[2] = {"DEL", s->copy_key}, *drop_journal[2] = {"UNLINK", s->journal_key};
    txn_add(&s->t, 2, del, NULL);
    txn_add(&s->t, 2, drop_journal, NULL); /* UNLINK: Redis frees a big journal in the background */
    cdc_status st = txn_exec(&s->t, e);
    if (st == CDC_OK) s->position = sequence;
    return st;
}

/* ------------------------------------------------------------------ following */

static cdc_status apply(sink *base, const cdc_batches *batches, long long next, cdc_error *e) {
    redis_sink *s = (redis_sink *)base;
    if (batches->n == 0 && next == s->position) return CDC_OK;
    txn_begin(&s->t, s->c, WHAT);
    queue_batches(s, batches);
    queue_position(s, next);
    cdc_status st = txn_exec(&s->t, e);
    if (st == CDC_OK) s->position = next;
    return st;
}

/* What EXEC applied is the server's to keep: it is as durable as the target is configured. */
static cdc_status flush(sink *base, long long *durable, cdc_error *e) {
    (void)e;
    *durable = ((redis_sink *)base)->position;
    return CDC_OK;
}

static void describe(sink *base, char *buf, size_t size) {
    redis_sink *s = (redis_sink *)base;
    if (s->t.refused) snprintf(buf, size, " refused_commands=%lld", s->t.refused);
}

const sink_type redis_sink_type = {
    .scheme = "redis",
    .format = CDC_FORMAT_RESP,
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
