/* The nats:// sink: a NATS JetStream stream (client: Debian's libnats).
 *
 * Each batch is one message on SUBJECT: the FORMAT JSON object as payload, and two headers:
 *   Nats-Msg-Id          <consumer>:<the batch's first sequence>, so that JetStream drops a
 *                        publish retried within the stream's duplicate window;
 *   Tidekv-Cdc-Position  the position the stream holds with this message: every change up to
 *                        it is in the stream (the sequence before the next batch, or the poll's
 *                        next_sequence for its last batch, which covers filtered-out batches).
 * recover() reads the last message on SUBJECT and resumes after its Tidekv-Cdc-Position, so a
 * crash at any moment neither skips a batch nor repeats one: what reached the stream is not
 * sent again, and what did not is sent after the message before it.
 *
 * The batches of one poll are published without waiting for each acknowledgement (on one
 * connection, so in order), and apply() returns once JetStream has acknowledged them all: what
 * apply() took is stored. A poll with no batch (all filtered out) leaves no mark in the stream,
 * so the position reported to the source stays at the last message's.
 *
 * libnats does not reconnect by itself (reconnect buffering would send messages after a
 * recovery it knows nothing of); the follower reconnects and calls recover() instead.
 * This sink starts at the latest change: it takes no snapshot copy. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "sink.h"

#define DEFAULT_PORT 4222
#define CONNECT_TIMEOUT_MS 5000
/* JetStream API requests (finding the stream, reading its last message). */
#define API_WAIT_MS 5000
/* A publish not acknowledged within this long: the server is treated as gone. */
#define ACK_WAIT_MS 10000
/* Publishes in flight at most. */
#define WINDOW 512
#define MSG_ID_HEADER "Nats-Msg-Id"
#define POSITION_HEADER "Tidekv-Cdc-Position"

/* What the acknowledgements on the current JetStream context said. */
typedef struct ack_state {
    long long received; /* acknowledgements and failures */
    natsStatus failure; /* the first failure, NATS_OK if none */
    jsErrCode failure_code;
    char failure_text[256];
    char failure_id[200]; /* its message's Nats-Msg-Id */
} ack_state;

/* Filled by on_ack, which libnats calls on a thread of its own. */
typedef struct acks {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    const jsCtx *current; /* acknowledgements for another (closed) context are ignored */
    ack_state now;
    long long duplicates; /* publishes JetStream dropped as duplicates (retries), in all */
} acks;

typedef struct nats_sink {
    sink base;
    endpoint ep;
    char *subject;
    const char *consumer;
    const char *create_stream; /* --create-stream NAME, or NULL */
    char *stream;              /* the stream that holds subject, found by connect() */
    int32_t max_msg_size;      /* the stream's limit, <= 0 for none */
    natsConnection *nc;
    jsCtx *js;
    acks acks;
    long long published; /* publishes on the current context */
    long long durable;   /* the stream's position; -1 while it holds nothing of this consumer */
} nats_sink;

/* ------------------------------------------------------------------ the URL */

/* A subject one can publish to: tokens of printable characters joined by '.', no wildcards. */
static int valid_subject(const char *subject) {
    const char *token = subject;
    for (const char *p = subject;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t len = (size_t)(p - token);
            if (len == 0 || (len == 1 && (*token == '*' || *token == '>'))) return 0;
            if (*p == '\0') return 1;
            token = p + 1;
        } else if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return 0;
        }
    }
}

static int parse_url(nats_sink *s, const char *url, char *err, size_t errlen) {
    const char *rest = strchr(url, ':') + 1;
    if (strncmp(rest, "//", 2) != 0) {
        snprintf(err, errlen, "--sink '%s': expected nats://HOST[:PORT]/SUBJECT", url);
        return -1;
    }
    rest += 2;
    const char *slash = strchr(rest, '/');
    if (!slash || !slash[1]) {
        snprintf(err, errlen, "--sink '%s': the subject is missing: nats://HOST[:PORT]/SUBJECT", url);
        return -1;
    }
    if (memchr(rest, '@', (size_t)(slash - rest))) {
        snprintf(err, errlen, "--sink '%s': a nats:// sink takes no user or password", url);
        return -1;
    }
    if (!valid_subject(slash + 1)) {
        snprintf(err, errlen, "--sink '%s': '%s' is not a subject to publish to (tokens of printable characters "
                 "joined by '.', no wildcards)", url, slash + 1);
        return -1;
    }
    char why[256];
    if (endpoint_parse(rest, (size_t)(slash - rest), DEFAULT_PORT, &s->ep, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "--sink '%s': %s", url, why);
        return -1;
    }
    s->subject = strdup(slash + 1);
    if (!s->subject) abort();
    return 0;
}

static void disconnect(sink *base) {
    nats_sink *s = (nats_sink *)base;
    pthread_mutex_lock(&s->acks.lock);
    s->acks.current = NULL;
    pthread_mutex_unlock(&s->acks.lock);
    jsCtx_Destroy(s->js);
    natsConnection_Destroy(s->nc);
    s->js = NULL;
    s->nc = NULL;
}

static void destroy(sink *base) {
    nats_sink *s = (nats_sink *)base;
    disconnect(base);
    pthread_mutex_destroy(&s->acks.lock);
    pthread_cond_destroy(&s->acks.changed);
    free(s->subject);
    free(s->stream);
    free(s);
    nats_Close();
}

static sink *create(const char *url, const cdc_options *o, char *err, size_t errlen) {
    nats_sink *s = calloc(1, sizeof(*s));
    if (!s) abort();
    s->base.type = &nats_sink_type;
    s->consumer = o->consumer;
    s->create_stream = o->create_stream;
    s->durable = -1;
    pthread_mutex_init(&s->acks.lock, NULL);
    pthread_cond_init(&s->acks.changed, NULL);
    if (parse_url(s, url, err, errlen) < 0) {
        destroy(&s->base);
        return NULL;
    }
    return &s->base;
}

/* ------------------------------------------------------------------ errors */

/* The status a failed libnats call calls for: the server gone or not ready (JetStream answers
 * a moment after a restart) is worth retrying, anything else is not. No JetStream at all is
 * "unreachable": retried only if it answered before (main.c). */
static cdc_status failed(natsStatus st, jsErrCode code, const char *doing, cdc_error *e) {
    if (st == NATS_NO_RESPONDERS)
        return cdc_fail(e, CDC_UNREACHABLE, "sink: %s: JetStream did not answer (is nats-server running with -js?)",
                        doing);
    int gone = st == NATS_CONNECTION_CLOSED || st == NATS_NO_SERVER || st == NATS_IO_ERROR ||
               st == NATS_STALE_CONNECTION || st == NATS_CONNECTION_DISCONNECTED || st == NATS_TIMEOUT ||
               code == JSClusterNotAvailErr;
    const char *detail = nats_GetLastError(NULL);
    return cdc_fail(e, gone ? CDC_RETRY : CDC_FATAL, "sink: %s failed: %s", doing,
                    detail && *detail ? detail : natsStatus_GetText(st));
}

/* ------------------------------------------------------------------ connection and stream */

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    acks *a = &((nats_sink *)closure)->acks;
    pthread_mutex_lock(&a->lock);
    if (js == a->current) {
        ack_state *now = &a->now;
        now->received++;
        if (pa && pa->Duplicate) a->duplicates++;
        if (pae && now->failure == NATS_OK) {
            const char *id = NULL;
            now->failure = pae->Err != NATS_OK ? pae->Err : NATS_ERR;
            now->failure_code = pae->ErrCode;
            snprintf(now->failure_text, sizeof(now->failure_text), "%s",
                     pae->ErrText ? pae->ErrText : natsStatus_GetText(now->failure));
            snprintf(now->failure_id, sizeof(now->failure_id), "%s",
                     natsMsgHeader_Get(msg, MSG_ID_HEADER, &id) == NATS_OK ? id : "?");
        }
        pthread_cond_signal(&a->changed);
    }
    pthread_mutex_unlock(&a->lock);
    natsMsg_Destroy(msg);
}

static natsStatus open_connection(nats_sink *s) {
    char url[300];
    int v6 = strchr(s->ep.host, ':') != NULL;
    snprintf(url, sizeof(url), "nats://%s%s%s:%d", v6 ? "[" : "", s->ep.host, v6 ? "]" : "", s->ep.port);
    natsOptions *opts = NULL;
    natsStatus st = natsOptions_Create(&opts);
    if (st == NATS_OK) st = natsOptions_SetURL(opts, url);
    if (st == NATS_OK) st = natsOptions_SetName(opts, "tidekv-cdc");
    if (st == NATS_OK) st = natsOptions_SetTimeout(opts, CONNECT_TIMEOUT_MS);
    if (st == NATS_OK) st = natsOptions_SetAllowReconnect(opts, false);
    if (st == NATS_OK) st = natsConnection_Connect(&s->nc, opts);
    natsOptions_Destroy(opts);
    if (st != NATS_OK) return st;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;
    jo.PublishAsync.MaxPending = WINDOW;
    jo.PublishAsync.StallWait = ACK_WAIT_MS;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = s;
    return natsConnection_JetStream(&s->js, s->nc, &jo);
}

/* The stream that holds the subject; created with --create-stream when there is none. */
static cdc_status find_stream(nats_sink *s, jsStreamInfo **si, cdc_error *e) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Stream.Info.SubjectsFilter = s->subject;
    jsStreamNamesList *names = NULL;
    jsErrCode code = 0;
    natsStatus st = js_StreamNames(&names, s->js, &o, &code);
    if (st == NATS_OK && names->Count == 0) st = NATS_NOT_FOUND;
    if (st == NATS_OK) {
        free(s->stream);
        s->stream = strdup(names->List[0]);
        if (!s->stream) abort();
        jsStreamNamesList_Destroy(names);
        st = js_GetStreamInfo(si, s->js, s->stream, NULL, &code);
        return st == NATS_OK ? CDC_OK : failed(st, code, "reading the stream's configuration", e);
    }
    jsStreamNamesList_Destroy(names);
    if (st != NATS_NOT_FOUND) return failed(st, code, "looking up the stream of the subject", e);
    if (!s->create_stream)
        return cdc_fail(e, CDC_FATAL, "sink: no JetStream stream holds subject '%s': create one, or pass "
                        "--create-stream NAME", s->subject);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[1] = {s->subject};
    cfg.Name = s->create_stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    st = js_AddStream(si, s->js, &cfg, NULL, &code);
    if (st != NATS_OK) return failed(st, code, "creating the stream (--create-stream)", e);
    free(s->stream);
    s->stream = strdup(s->create_stream);
    if (!s->stream) abort();
    cdc_log("created JetStream stream %s for subject %s", s->stream, s->subject);
    return CDC_OK;
}

/* A stream that deletes consumed messages would also delete the position. */
static cdc_status check_stream(nats_sink *s, const jsStreamInfo *si, cdc_error *e) {
    if (si->Config->Retention != js_LimitsPolicy)
        return cdc_fail(e, CDC_FATAL, "sink: stream %s deletes messages once consumed (work-queue or interest "
                        "retention), and tidekv-cdc reads its position from the last one: use limits retention",
                        s->stream);
    s->max_msg_size = si->Config->MaxMsgSize;
    return CDC_OK;
}

static cdc_status sink_connect(sink *base, cdc_error *e) {
    nats_sink *s = (nats_sink *)base;
    natsStatus st = open_connection(s);
    if (st != NATS_OK) {
        const char *detail = nats_GetLastError(NULL);
        return cdc_fail(e, st == NATS_CONNECTION_AUTH_FAILED ? CDC_FATAL : CDC_UNREACHABLE,
                        "cannot connect to the sink %s:%d: %s", s->ep.host, s->ep.port,
                        detail && *detail ? detail : natsStatus_GetText(st));
    }
    pthread_mutex_lock(&s->acks.lock);
    s->acks.current = s->js;
    memset(&s->acks.now, 0, sizeof(s->acks.now));
    pthread_mutex_unlock(&s->acks.lock);
    s->published = 0;
    jsStreamInfo *si = NULL;
    cdc_status cst = find_stream(s, &si, e);
    if (cst == CDC_OK) cst = check_stream(s, si, e);
    jsStreamInfo_Destroy(si);
    return cst;
}

/* ------------------------------------------------------------------ recovery */

static int parse_decimal(const char *text, long long *out) {
    size_t n = strlen(text);
    if (n == 0 || n > 18 || strspn(text, "0123456789") != n) return -1;
    *out = strtoll(text, NULL, 10);
    return 0;
}

/* The position the last message on the subject records, if this consumer published it. */
static cdc_status read_position(nats_sink *s, natsMsg *m, long long *position, cdc_error *e) {
    const char *id = NULL, *pos = NULL;
    if (natsMsgHeader_Get(m, MSG_ID_HEADER, &id) != NATS_OK || natsMsgHeader_Get(m, POSITION_HEADER, &pos) != NATS_OK)
        return cdc_fail(e, CDC_FATAL, "sink: the last message on subject %s (stream %s, sequence %llu) was not "
                        "published by tidekv-cdc: give tidekv-cdc a subject of its own", s->subject, s->stream,
                        (unsigned long long)natsMsg_GetSequence(m));
    const char *colon = strrchr(id, ':');
    size_t len = colon ? (size_t)(colon - id) : 0;
    if (!colon || len != strlen(s->consumer) || memcmp(id, s->consumer, len) != 0)
        return cdc_fail(e, CDC_FATAL, "sink: the last message on subject %s has %s '%s', not from consumer '%s': "
                        "give each consumer a subject of its own", s->subject, MSG_ID_HEADER, id, s->consumer);
    if (parse_decimal(pos, position) < 0)
        return cdc_fail(e, CDC_FATAL, "sink: the last message on subject %s has a malformed %s '%.40s'",
                        s->subject, POSITION_HEADER, pos);
    return CDC_OK;
}

static cdc_status recover(sink *base, sink_state *out, cdc_error *e) {
    nats_sink *s = (nats_sink *)base;
    memset(out, 0, sizeof(*out));
    natsMsg *m = NULL;
    jsErrCode code = 0;
    natsStatus st = js_GetLastMsg(&m, s->js, s->stream, s->subject, NULL, &code);
    if (st == NATS_NOT_FOUND && code == JSNoMessageFoundErr) {
        s->durable = -1;
        return CDC_OK; /* SINK_FRESH */
    }
    if (st != NATS_OK) return failed(st, code, "reading the last message of the subject", e);
    cdc_status cst = read_position(s, m, &out->position, e);
    natsMsg_Destroy(m);
    if (cst == CDC_OK) {
        out->phase = SINK_FOLLOWING;
        s->durable = out->position;
    }
    return cst;
}

/* ------------------------------------------------------------------ publishing */

static cdc_status publish(nats_sink *s, const cdc_batch *b, long long position, cdc_error *e) {
    if (b->sequence <= 0)
        return cdc_fail(e, CDC_FATAL, "source: a FORMAT JSON batch without its sequence: '%.60s'", b->json);
    if (s->max_msg_size > 0 && b->json_len > (size_t)s->max_msg_size)
        return cdc_fail(e, CDC_FATAL, "sink: the batch at sequence %lld is %zu bytes, more than stream %s's "
                        "max_msg_size (%d): raise the limit", b->sequence, b->json_len, s->stream,
                        (int)s->max_msg_size);
    char id[200], pos[24];
    snprintf(id, sizeof(id), "%s:%lld", s->consumer, b->sequence);
    snprintf(pos, sizeof(pos), "%lld", position);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    po.MaxWait = ACK_WAIT_MS;
    natsMsg *m = NULL;
    natsStatus st = natsMsg_Create(&m, s->subject, NULL, b->json, (int)b->json_len);
    if (st == NATS_OK) st = natsMsgHeader_Set(m, POSITION_HEADER, pos);
    if (st == NATS_OK) st = js_PublishMsgAsync(s->js, &m, &po);
    natsMsg_Destroy(m); /* NULL once the library has taken it */
    if (st != NATS_OK) return failed(st, 0, "publishing", e);
    s->published++;
    return CDC_OK;
}

/* Waits until JetStream has acknowledged every publish on this connection. */
static cdc_status wait_for_acks(nats_sink *s, cdc_error *e) {
    acks *a = &s->acks;
    double deadline = cdc_now() + ACK_WAIT_MS / 1000.0;
    for (;;) {
        pthread_mutex_lock(&a->lock);
        if (a->now.received < s->published && a->now.failure == NATS_OK) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 50 * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&a->changed, &a->lock, &until);
        }
        ack_state now = a->now;
        pthread_mutex_unlock(&a->lock);
        if (now.failure != NATS_OK && now.failure_code != 0)
            return cdc_fail(e, CDC_FATAL, "sink: JetStream refused the message %s: %s (error %d)", now.failure_id,
                            now.failure_text, (int)now.failure_code);
        if (now.failure != NATS_OK)
            return cdc_fail(e, CDC_RETRY, "sink: publishing %s failed: %s", now.failure_id, now.failure_text);
        if (now.received >= s->published) return CDC_OK;
        if (natsConnection_IsClosed(s->nc)) return cdc_fail(e, CDC_RETRY, "sink: the connection to nats-server closed");
        if (cdc_now() > deadline)
            return cdc_fail(e, CDC_RETRY, "sink: JetStream did not acknowledge %lld messages within %d s",
                            s->published - now.received, ACK_WAIT_MS / 1000);
    }
}

static cdc_status apply(sink *base, const cdc_batches *batches, long long next, cdc_error *e) {
    nats_sink *s = (nats_sink *)base;
    cdc_status st = CDC_OK;
    for (size_t i = 0; i < batches->n && st == CDC_OK; i++) {
        /* everything before the next batch is this one or filtered out */
        long long position = i + 1 < batches->n ? batches->items[i + 1].sequence - 1 : next;
        st = publish(s, &batches->items[i], position, e);
    }
    /* what was sent is stored (or known to be lost) before an error ends the session */
    cdc_error ignored;
    cdc_status waited = wait_for_acks(s, st == CDC_OK ? e : &ignored);
    if (st == CDC_OK) st = waited;
    if (st == CDC_OK && batches->n) s->durable = next;
    return st;
}

/* apply() waits for JetStream's acknowledgements, which come once a message is stored. */
static cdc_status flush(sink *base, long long *durable, cdc_error *e) {
    (void)e;
    *durable = ((nats_sink *)base)->durable;
    return CDC_OK;
}

static void describe(sink *base, char *buf, size_t size) {
    nats_sink *s = (nats_sink *)base;
    pthread_mutex_lock(&s->acks.lock);
    long long duplicates = s->acks.duplicates;
    pthread_mutex_unlock(&s->acks.lock);
    if (duplicates) snprintf(buf, size, " duplicates=%lld", duplicates);
}

const sink_type nats_sink_type = {
    .scheme = "nats",
    .format = CDC_FORMAT_JSON,
    .create = create,
    .connect = sink_connect,
    .recover = recover,
    .apply = apply,
    .flush = flush,
    .describe = describe,
    .disconnect = disconnect,
    .destroy = destroy,
};
