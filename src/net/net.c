#include "net/net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cmd/dispatch.h"
#include "cmd/offload.h"
#include "config.h"
#include "proto/resp.h"
#include "repl/checkpoints.h"
#include "net/mailbox.h"
#include "net/pubsub.h"
#include "script/engine.h"
#include "storage/durable.h"
#include "util/idmap.h"
#include "util/log.h"
#include "util/timeutil.h"

#define READ_CHUNK (16 * 1024)
/* An input buffer grown past this by a big request is freed rather than kept. */
#define BIG_INPUT_BYTES (1024 * 1024)
/* The pushes a worker's mailbox may hold before it refuses more (net/mailbox.h), pub/sub
 * payloads aside (each receiver's output limit bounds those): they only pile up while the
 * worker is busy with one long command, and a client refused one is closed. */
#define MAILBOX_MAX_BYTES (64 * 1024 * 1024)

typedef struct worker {
    pthread_t thread;
    struct event_base *base;
    struct event *notify_ev;
    struct event *tick_ev;
    struct event *sync_ev; /* a WAL sync finished: release the replies it covers */
    struct event *mail_ev; /* its mailbox has messages */
    mailbox mail;          /* messages from any thread to its clients */
    idmap clients_by_id;   /* its clients by id, to deliver the mail to */
    client *held;          /* clients whose replies wait for a sync (linked by hprev/hnext) */
    write_group *group;    /* the commands run in this pass of the loop, written when it ends */
    client *committed;     /* clients whose group committed or that got pushes: to flush after the pass (fnext) */
    int64_t busy_pass_ms;  /* when it last served its clients beside a busy script (monotonic) */
    int in_busy_pass;      /* it is doing so now */
    atomic_int stopping;
    pthread_mutex_t lock;
    int *pending;
    int npending, pending_cap;
    client *clients;
} worker;

static worker *workers;
static int nworkers;
static _Thread_local worker *this_worker; /* the worker running on this thread, NULL elsewhere */
static struct event_base *main_base;
static struct event *shutdown_ev;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static client *registry;
static atomic_ullong next_client_id = 1;
static atomic_llong clients_memory; /* the sum of every client's mem: what maxmemory-clients bounds */

server_stats stats;
int64_t server_start_ms;

/* ---- the client registry (CLIENT LIST/KILL from any thread) ---- */

static void registry_add(client *c) {
    pthread_mutex_lock(&registry_lock);
    c->next = registry;
    if (registry) registry->prev = c;
    registry = c;
    pthread_mutex_unlock(&registry_lock);
}

/* Also takes the client's memory out of the total, under the lock that evict_biggest reads
 * the total with, so that it never counts a client that is gone. */
static void registry_remove(client *c) {
    pthread_mutex_lock(&registry_lock);
    if (c->prev) c->prev->next = c->next;
    else registry = c->next;
    if (c->next) c->next->prev = c->prev;
    atomic_fetch_sub(&clients_memory, atomic_load(&c->mem));
    pthread_mutex_unlock(&registry_lock);
}

long long net_clients_memory(void) { return atomic_load(&clients_memory); }

/* A client maxmemory-clients may close: its memory when the choice is made, and for the log
 * line written once the registry lock is released, its address and the clients' total. */
typedef struct eviction {
    client *c;
    long long mem;
    long long total;
    char addr[sizeof(((client *)0)->addr)];
} eviction;

static int by_memory_desc(const void *a, const void *b) {
    long long x = ((const eviction *)a)->mem, y = ((const eviction *)b)->mem;
    return (x < y) - (x > y);
}

/* Marks the client to be closed and asks its worker to close it, unless that was asked already
 * (at most one MAIL_KILL is on its way). Returns 1 if it was not being closed yet. Call under
 * registry_lock, which keeps the client listed. */
static int request_kill(client *c) {
    if (atomic_exchange(&c->kill_requested, 1)) return 0;
    mailbox_post(&c->worker->mail, c->id, MAIL_KILL);
    return 1;
}

/* Marks the biggest of the n candidates to be closed until total is back under limit: sorts
 * them once, biggest first, and returns how many of the first it marked. Call under
 * registry_lock. */
static size_t mark_biggest(eviction *cand, size_t n, long long total, long long limit) {
    qsort(cand, n, sizeof(*cand), by_memory_desc);
    size_t marked = 0;
    for (; marked < n && total > limit; marked++) {
        eviction *e = &cand[marked];
        e->total = total;
        memcpy(e->addr, e->c->addr, sizeof(e->addr));
        request_kill(e->c); /* a candidate was not being closed */
        total -= e->mem;
    }
    atomic_fetch_add(&stats.evicted_clients, marked); /* counted before the clients can be seen gone */
    return marked;
}

/* Closes the clients holding the most memory until the clients' total is back under limit,
 * counting those already on their way out as gone. Any worker may call it: as CLIENT KILL
 * does, it only marks a client and wakes its own worker, which closes it. */
static void evict_biggest(long long limit) {
    pthread_mutex_lock(&registry_lock);
    long long total = atomic_load(&clients_memory);
    size_t n = 0;
    for (client *c = registry; c; c = c->next) {
        if (atomic_load(&c->kill_requested)) total -= atomic_load(&c->mem);
        else n++;
    }
    eviction *cand = NULL;
    size_t marked = 0;
    if (total > limit && n > 0) {
        cand = malloc(n * sizeof(*cand));
        if (!cand) abort();
        size_t i = 0;
        for (client *c = registry; c; c = c->next) /* kill_requested only changes under the lock */
            if (!atomic_load(&c->kill_requested)) cand[i++] = (eviction){.c = c, .mem = atomic_load(&c->mem)};
        marked = mark_biggest(cand, n, total, limit);
    }
    pthread_mutex_unlock(&registry_lock);
    for (size_t i = 0; i < marked; i++)
        log_msg(LOG_WARNING, "client %s closed: clients use %lld bytes, over maxmemory-clients; it used %lld",
                cand[i].addr, cand[i].total, cand[i].mem);
    free(cand);
}

/* Memory the server holds for a client: the structure, its buffers, the request being
 * parsed and its queued MULTI commands. */
static long long client_memory(const client *c) {
    return (long long)(sizeof(*c) + c->in.cap + c->out.cap + c->poll_body.cap + resp_parser_memory(&c->parser) +
                       c->queue_mem + c->offloaded_mem);
}

/* maxmemory-clients as applied: never below what one client holds idle and a little more, as
 * in Redis, so that a tiny value (CONFIG SET maxmemory-clients 1) cannot close every client,
 * the one that would set it back included; 0 = no limit. */
#define MAXMEMORY_CLIENTS_MIN (128 * 1024)

static long long clients_limit(void) {
    long long limit = CONFIG_READ(maxmemory_clients);
    return limit > 0 && limit < MAXMEMORY_CLIENTS_MIN ? MAXMEMORY_CLIENTS_MIN : limit;
}

/* Closes the biggest clients if all clients together hold more than maxmemory-clients. */
static void check_clients_memory(void) {
    long long limit = clients_limit();
    if (limit > 0 && atomic_load(&clients_memory) > limit) evict_biggest(limit);
}

/* Brings the client's share of the clients' total up to date; growth may close the biggest
 * clients. Call from the client's worker. */
static void account_memory(client *c) {
    long long now = client_memory(c), was = atomic_load_explicit(&c->mem, memory_order_relaxed);
    if (now == was) return;
    atomic_store(&c->mem, now);
    atomic_fetch_add(&clients_memory, now - was);
    if (now > was) check_clients_memory();
}

void net_client_set_name(client *c, const char *name, size_t len) {
    char *copy = NULL;
    if (len > 0) {
        copy = malloc(len + 1);
        if (!copy) abort();
        memcpy(copy, name, len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&registry_lock);
    free(c->name);
    c->name = copy;
    pthread_mutex_unlock(&registry_lock);
}

/* Copies what CLIENT LIST shows of a client into its shown copy. Call from its worker. */
static void publish_shown(client *c) {
    client_shown *s = &c->shown;
    pthread_mutex_lock(&c->shown_lock);
    s->db = c->db;
    s->resp = c->resp;
    s->multi = (c->flags & CLIENT_MULTI) ? c->queue_len : -1;
    s->replica = (c->flags & CLIENT_REPLICA) != 0;
    s->sub = s->psub = s->ssub = 0;
    if (c->pubsub) { /* only a client that subscribed once has counts (this runs every pass) */
        s->sub = pubsub_client_count(c, PUBSUB_CHANNEL);
        s->psub = pubsub_client_count(c, PUBSUB_PATTERN);
        s->ssub = pubsub_client_count(c, PUBSUB_SHARD);
    }
    s->qbuf = c->in.len;
    s->qbuf_cap = c->in.cap;
    s->omem = c->out.cap;
    s->last_active_mono_ms = c->last_active_mono_ms;
    memcpy(s->cmd, c->last_cmd, sizeof(s->cmd));
    pthread_mutex_unlock(&c->shown_lock);
}

/* Reads a client's shown copy, and the fields fixed before it joined the registry (id,
 * addresses, fd, creation time); the caller holds the registry lock, which guards the name. */
static void format_client(buf *out, client *c, int64_t now_ms, int64_t mono_ms) {
    pthread_mutex_lock(&c->shown_lock);
    client_shown s = c->shown;
    pthread_mutex_unlock(&c->shown_lock);
    s.cmd[sizeof(s.cmd) - 1] = '\0';
    /* Redis's letters, in its order. A blocked client's is read live: blocking and unblocking
     * do not publish. */
    char flags[5], *f = flags;
    if (s.replica) *f++ = 'S';
    if (s.sub + s.psub + s.ssub > 0) *f++ = 'P';
    if (s.multi >= 0) *f++ = 'x';
    if (atomic_load(&c->blocked) == BLOCKED_WAITING && !s.replica) *f++ = 'b';
    if (f == flags) *f++ = 'N';
    *f = '\0';
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%lld psub=%lld "
               "ssub=%lld multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu rbp=0 obl=0 oll=0 omem=%zu "
               "tot-mem=%lld events=r cmd=%s user=default redir=-1 resp=%d\n",
               (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
               (long long)((now_ms - c->created_ms) / 1000), (long long)((mono_ms - s.last_active_mono_ms) / 1000),
               flags, s.db, s.sub, s.psub, s.ssub, s.multi, s.qbuf, s.qbuf_cap - s.qbuf, s.qbuf_cap, s.omem,
               atomic_load(&c->mem), s.cmd[0] ? s.cmd : "NULL", s.resp);
}

/* A client's type as Redis tells it: a replica's link first, then a subscriber. */
static client_type type_of(client *c) {
    pthread_mutex_lock(&c->shown_lock);
    client_type type = c->shown.replica ? CLIENT_TYPE_REPLICA
                       : c->shown.sub + c->shown.psub + c->shown.ssub > 0 ? CLIENT_TYPE_PUBSUB
                                                                           : CLIENT_TYPE_NORMAL;
    pthread_mutex_unlock(&c->shown_lock);
    return type;
}

/* Whether the filter selects the client. Call under registry_lock. A client being killed is
 * gone for its killer, though its worker has yet to close it. */
static int selected(client *c, const client_filter *f) {
    return !atomic_load(&c->kill_requested) && c != f->skip && (f->id == 0 || c->id == f->id) &&
           (!f->addr || strcmp(c->addr, f->addr) == 0) && (!f->laddr || strcmp(c->laddr, f->laddr) == 0) &&
           (f->type == CLIENT_TYPE_ANY || type_of(c) == f->type);
}

void net_client_list(buf *out, const client_filter *filter, client *caller) {
    publish_shown(caller); /* it shows the command running now, as in Redis */
    int64_t now = time_now_ms(), mono = time_mono_ms();
    pthread_mutex_lock(&registry_lock);
    for (client *c = registry; c; c = c->next)
        if (selected(c, filter)) format_client(out, c, now, mono);
    pthread_mutex_unlock(&registry_lock);
}

int net_client_kill(const client_filter *filter, client *caller) {
    int killed = 0;
    if (caller) publish_shown(caller); /* e.g. TYPE pubsub, right after its own SUBSCRIBE in a pipeline */
    pthread_mutex_lock(&registry_lock);
    for (client *c = registry; c; c = c->next)
        if (selected(c, filter)) killed += request_kill(c); /* its own worker closes it */
    pthread_mutex_unlock(&registry_lock);
    return killed;
}

int net_client_unblock(uint64_t id, int as_error, unsigned long long *block_id) {
    int unblocked = 0;
    pthread_mutex_lock(&registry_lock);
    for (client *c = registry; c; c = c->next) {
        if (c->id != id || atomic_load(&c->kill_requested) || atomic_load(&c->blocked) != BLOCKED_WAITING) continue;
        /* The client's worker acts on it (take_unblock_request), if the client still waits in
         * this block: it may have been served meanwhile. The same request already on its way
         * is not posted again, so that repeated CLIENT UNBLOCKs do not pile up in its mailbox. */
        *block_id = atomic_load(&c->block_id);
        unsigned long long request = *block_id * 2 + (as_error ? 1 : 0);
        if (atomic_exchange(&c->unblock_request, request) != request)
            mailbox_post(&c->worker->mail, c->id, MAIL_UNBLOCK);
        unblocked = 1;
    }
    pthread_mutex_unlock(&registry_lock);
    return unblocked;
}

/* ---- one connection ---- */

/* A replica's link waits in POLLUPDATES … BLOCK between batches: as in Redis, it is not a
 * blocked client (INFO blocked_clients, CLIENT LIST's b). PSYNC marks it before any wait. */
static int counts_as_blocked(const client *c) { return !(c->flags & CLIENT_REPLICA); }

static void unblock(client *c) {
    /* Exchanged: a thread serving the client may mark it served meanwhile (net_block_served);
     * whichever of the two ends its waiting uncounts it. */
    int blocked = atomic_exchange(&c->blocked, 0);
    if (!blocked) return;
    c->last_active_mono_ms = time_mono_ms(); /* served now: `timeout` counts its idleness from here */
    if (blocked == BLOCKED_WAITING && c->block_counted) atomic_fetch_sub(&stats.blocked_clients, 1);
    event_del(c->block_timer);
    c->block.cleanup(c);
}

static void release_held(client *c) {
    worker *w = c->worker;
    if (c->hprev) c->hprev->hnext = c->hnext;
    else w->held = c->hnext;
    if (c->hnext) c->hnext->hprev = c->hprev;
    c->hprev = c->hnext = NULL;
    c->held = 0;
}

/* Takes a client off its worker's list of clients to flush after the pass. */
static void forget_committed(client *c) {
    if (!c->flush_pending) return;
    for (client **p = &c->worker->committed; *p; p = &(*p)->fnext)
        if (*p == c) {
            *p = c->fnext;
            break;
        }
    c->flush_pending = 0;
}

static void client_free(client *c) {
    worker *w = c->worker;
    if (c->in_group) write_group_commit(w->group); /* its commands ran: they are written */
    forget_committed(c);
    unblock(c);
    if (c->held) release_held(c);
    pubsub_client_leave(c); /* no publisher finds it from here on; mail already posted is dropped */
    registry_remove(c);
    idmap_remove(&w->clients_by_id, c->id); /* mail still on its way to it is dropped */
    if (c->block_timer) event_free(c->block_timer);
    if (c->wprev) c->wprev->wnext = c->wnext;
    else w->clients = c->wnext;
    if (c->wnext) c->wnext->wprev = c->wprev;
    event_free(c->read_ev);
    event_free(c->write_ev);
    close(c->fd);
    dispatch_client_cleanup(c);
    resp_parser_free(&c->parser);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->poll_body);
    free(c->name);
    pthread_mutex_destroy(&c->shown_lock);
    free(c);
    atomic_fetch_sub(&stats.connected_clients, 1);
}

/* Whether the client's replies must wait for a WAL sync (appendfsync always); if so, asks
 * for one and puts the client on its worker's held list. */
static int must_hold(client *c) {
    if (c->sync_wait_seq == 0) return 0;
    if (c->sync_wait_seq > durable_synced_sequence()) {
        if (!c->held) {
            worker *w = c->worker;
            c->held = 1;
            c->held_failures = durable_sync_failures();
            c->hprev = NULL;
            c->hnext = w->held;
            if (w->held) w->held->hprev = c;
            w->held = c;
            event_del(c->write_ev); /* nothing may go out until the sync: do not poll for it */
        }
        durable_request_sync();
        return 1;
    }
    if (c->held) release_held(c);
    c->sync_wait_seq = 0;
    return 0;
}

/* Replies a client that has not authenticated may leave unread: a stranger pipelining
 * commands it never reads the NOAUTH errors of must not make the server keep them. */
#define UNAUTHENTICATED_MAX_OUTPUT (64 * 1024)

/* Logs that a client is over its output limit with this much output, and marks it to be
 * closed without its replies. */
static void close_over_limit(client *c, long long output) {
    if (c->flags & CLIENT_CLOSE_ASAP) return;
    log_msg(LOG_WARNING, "client %s closed for overcoming of output buffer limits (%lld bytes pending)", c->addr,
            output);
    c->flags |= CLIENT_CLOSE_ASAP;
}

/* Output that client-output-buffer-limit does not count, as Redis does not count its 16 KB
 * reply buffer: a limit set absurdly low (normal 1 1 0) still lets PONG and +OK through, so
 * that it can be set back. */
#define OUTPUT_UNCOUNTED (16 * 1024)

/* The client-output-buffer-limit class of a client: pubsub while it has subscriptions (in
 * either protocol, as in Redis), else normal. */
static output_limit client_output_limit(const client *c) {
    return config_output_limit((c->flags & CLIENT_PUBSUB) ? OUTPUT_CLASS_PUBSUB : OUTPUT_CLASS_NORMAL);
}

/* Whether the client's pending output is over client-output-buffer-limit (hard, or soft for
 * long enough), or over UNAUTHENTICATED_MAX_OUTPUT before AUTH, or a reply was cut at its
 * bound; if so, logs it and marks the client to be closed. */
int net_output_over_limit(client *c) {
    if (c->reply_cut) { /* a reply was cut at its bound: it cannot be sent */
        if (c->reply_cut_by_clients && !(c->flags & CLIENT_CLOSE_ASAP)) atomic_fetch_add(&stats.evicted_clients, 1);
        close_over_limit(c, (long long)c->out.len);
        return 1;
    }
    output_limit l = client_output_limit(c);
    long long pending = (long long)c->out.len > OUTPUT_UNCOUNTED ? (long long)c->out.len - OUTPUT_UNCOUNTED : 0;
    int over_soft = l.soft > 0 && pending > l.soft;
    if (!over_soft) c->over_soft_since_ms = 0;
    else if (!c->over_soft_since_ms) c->over_soft_since_ms = time_mono_ms();
    int over = (l.hard > 0 && pending > l.hard) || (!c->authenticated && c->out.len > UNAUTHENTICATED_MAX_OUTPUT) ||
               (over_soft && time_mono_ms() - c->over_soft_since_ms > (int64_t)l.soft_seconds * 1000);
    if (over) close_over_limit(c, pending);
    return over;
}

long long net_output_bound(const client *c, const char **option) {
    long long hard = client_output_limit(c).hard, clients = clients_limit(), max = 0;
    *option = NULL;
    if (hard > 0) max = hard + OUTPUT_UNCOUNTED, *option = "client-output-buffer-limit";
    if (clients > 0 && (max == 0 || clients < max)) max = clients, *option = "maxmemory-clients";
    if (!c->authenticated && (max == 0 || UNAUTHENTICATED_MAX_OUTPUT < max))
        max = UNAUTHENTICATED_MAX_OUTPUT, *option = "bound before AUTH";
    return max;
}

reply net_client_reply(client *c) {
    const char *option;
    long long max = net_output_bound(c, &option);
    c->reply_cut_by_clients = max > 0 && max == clients_limit(); /* a cut then counts as an eviction */
    reply r = {&c->out, c->resp, (size_t)max, &c->reply_cut};
    return r;
}

long long net_output_room(const client *c) {
    const char *option;
    long long max = net_output_bound(c, &option);
    return max > 0 ? max - (long long)c->out.len : LLONG_MAX;
}

void net_close_over_limit(client *c, size_t building) { close_over_limit(c, (long long)(c->out.len + building)); }

/* Writes what is pending; returns -1 if the client was freed. */
static int write_output(client *c) {
    if (c->reply_cut) close_over_limit(c, (long long)c->out.len);
    if (c->flags & CLIENT_CLOSE_ASAP) {
        client_free(c);
        return -1;
    }
    /* Counted before the replies go out, so that a client reading them sees them counted. */
    account_memory(c);
    if (c->in_group || must_hold(c)) return 0; /* nothing goes out before its write does */
    while (c->out.len > 0) {
        ssize_t n = write(c->fd, c->out.data, c->out.len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            client_free(c);
            return -1;
        }
        atomic_fetch_add(&stats.net_output_bytes, n);
        buf_consume(&c->out, (size_t)n);
    }
    if (c->out.len > 0) {
        if (net_output_over_limit(c)) {
            client_free(c);
            return -1;
        }
        event_add(c->write_ev, NULL);
        account_memory(c);
        return 0;
    }
    c->over_soft_since_ms = 0;
    event_del(c->write_ev);
    if (c->out.cap > 1024 * 1024) buf_free(&c->out); /* do not keep a huge reply's memory */
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
        client_free(c);
        return -1;
    }
    account_memory(c);
    return 0;
}

/* Writes what is pending and shows the client's new state to CLIENT LIST: every pass of the
 * worker over a client ends here. Returns -1 if the client was freed. */
static int client_flush(client *c) {
    /* Published before the replies go out: a client that got its reply and asks another to
     * run CLIENT LIST then finds its state as the reply left it. */
    publish_shown(c);
    return write_output(c);
}

/* Whether a client is to be closed: by CLIENT KILL, or by maxmemory-clients. */
static int kill_requested(client *c) { return atomic_load_explicit(&c->kill_requested, memory_order_relaxed); }

/* Parses and runs every complete request in the input buffer. */
static void client_process_input(client *c) {
    size_t pos = 0;
    while (pos < c->in.len && !(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) &&
           !atomic_load(&c->blocked) && !kill_requested(c)) {
        size_t used = 0;
        c->parser.max_bulk_len = CONFIG_READ(proto_max_bulk_len);
        c->parser.unauthenticated = !c->authenticated && config_password_set();
        resp_status s = resp_parse(&c->parser, c->in.data + pos, c->in.len - pos, &used);
        pos += used;
        if (s == RESP_NEED_MORE) break;
        if (s == RESP_ERROR) {
            /* The requests before the bad one are answered first. Only when it waits on the group:
             * beside a busy script (serve_beside_script) the group is the script's, mid-run. */
            if (c->in_group) write_group_commit(c->group);
            reply r = net_client_reply(c);
            reply_error(&r, c->parser.error);
            log_msg(LOG_VERBOSE, "protocol error from client %s: %s", c->addr, c->parser.error);
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
            break;
        }
        if (pos == c->in.len && c->in.cap > BIG_INPUT_BYTES) {
            /* The request's arguments are copies: a big value's bytes go back before it runs. */
            buf_free(&c->in);
            pos = 0;
        }
        dispatch_request(c, c->parser.argc, c->parser.argv);
        resp_parser_reset_args(&c->parser);
        /* A pipeline of big replies is stopped before it all piles up. */
        if (net_output_over_limit(c)) break;
        account_memory(c);
    }
    buf_consume(&c->in, pos);
}

/* Whether the client's unparsed input and the request it is parsing together pass
 * client-query-buffer-limit (a request of countless small arguments must count too); if so,
 * logs it. */
static int query_over_limit(client *c) {
    size_t used = c->in.len + resp_parser_memory(&c->parser);
    if ((long long)used <= CONFIG_READ(client_query_buffer_limit)) return 0;
    log_msg(LOG_WARNING, "closing client %s that reached max query buffer length (%zu bytes with its arguments)",
            c->addr, used);
    return 1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    client *c = arg;
    if (kill_requested(c)) {
        client_free(c);
        return;
    }
    buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = read(fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        client_free(c);
        return;
    }
    if (n < 0) return;
    c->in.len += (size_t)n;
    atomic_fetch_add(&stats.net_input_bytes, n);
    if (query_over_limit(c)) {
        client_free(c);
        return;
    }
    c->last_active_mono_ms = time_mono_ms();
    client_process_input(c);
    if (query_over_limit(c)) { /* the request it is sending is bigger than its bytes */
        client_free(c);
        return;
    }
    client_flush(c);
}

/* Ends a block whose command has replied, and goes on with the input that waited. */
static void finish_block(client *c) {
    unblock(c);
    client_process_input(c);
    client_flush(c);
}

/* Runs a blocked command's retry; finishes the block when the command is done. */
static void retry_blocked(client *c, int timed_out) {
    if (!atomic_load(&c->blocked)) return;
    if (c->block.retry(c, timed_out)) finish_block(c);
}

/* A CLIENT UNBLOCK of this client's current block: as if its timeout had come, or with
 * Redis's UNBLOCKED error. Nothing if the request was for a block that is over. */
static void take_unblock_request(client *c) {
    unsigned long long request = atomic_exchange(&c->unblock_request, 0);
    /* CLIENT UNBLOCK reads block_id after it saw the client waiting: by then the client may be
     * in a new block, its own big write running (cmd/offload.h), which is not to be cut short. */
    if (!request || atomic_load(&c->blocked) != BLOCKED_WAITING || request / 2 != atomic_load(&c->block_id))
        return;
    if (request % 2 == 0) {
        retry_blocked(c, 1);
        return;
    }
    if (c->block.may_unblock && !c->block.may_unblock(c)) return;
    reply r = net_client_reply(c);
    reply_error(&r, ERR_UNBLOCKED);
    finish_block(c);
}

static void on_block_timeout(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    retry_blocked(arg, 1);
}

void net_block(client *c, int64_t timeout_us, const client_block *block) {
    assert(!c->in_group); /* blocking commands run alone: CMD_BLOCKING in the table */
    if (!c->block_timer) c->block_timer = evtimer_new(c->worker->base, on_block_timeout, c);
    c->block = *block;
    c->block_counted = !block->running && counts_as_blocked(c);
    atomic_fetch_add(&c->block_id, 1);
    atomic_store(&c->blocked, block->running ? BLOCKED_RUNNING : BLOCKED_WAITING);
    if (c->block_counted) atomic_fetch_add(&stats.blocked_clients, 1);
    if (timeout_us > 0) net_block_retime(c, timeout_us);
}

void net_block_served(client *c) {
    int waiting = BLOCKED_WAITING;
    if (atomic_compare_exchange_strong(&c->blocked, &waiting, BLOCKED_SERVED) && c->block_counted)
        atomic_fetch_sub(&stats.blocked_clients, 1);
}

void net_block_retime(client *c, int64_t timeout_us) {
    struct timeval tv = {(time_t)(timeout_us / 1000000), (suseconds_t)(timeout_us % 1000000)};
    evtimer_add(c->block_timer, &tv); /* a pending timer is rescheduled */
}

void net_wake(client *c) {
    /* One wake on its way is enough: its retry sees whatever the later ones would. */
    if (!atomic_exchange(&c->wake_posted, 1)) mailbox_post(&c->worker->mail, c->id, MAIL_WAKE);
}

client_ref net_client_ref(const client *c) { return (client_ref){c->worker, c->id}; }

int net_client_ref_by_id(uint64_t id, client_ref *ref) {
    int found = 0;
    pthread_mutex_lock(&registry_lock);
    for (client *c = registry; c && !found; c = c->next)
        if (c->id == id && !atomic_load(&c->kill_requested)) *ref = net_client_ref(c), found = 1;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

int net_push(client_ref to, long long count, const void *body, size_t len) {
    return mailbox_push(&to.worker->mail, to.id, MAIL_PUSH, count, body, len);
}

static void flush_after_pass(client *c);

/* Appends a push message, head's elements then tail's (if not NULL), to the client's output,
 * counted against its output limits as a reply is: past them the client is closed, as Redis
 * closes a subscriber that cannot keep up; a client already over its hard limit, or marked to
 * be closed, gets nothing more, so that pushes (a message through many patterns) stop piling
 * up there. It is sent after the pass, with whatever else the pass gives the client: one write
 * for many. Only mail (MAIL_PUSH, between commands) finds a client in a write group:
 * subscribers never join one (dispatch.c, joins_group), so a PUBLISH or a keyspace
 * notification, which may come in the middle of a command or of a commit, never writes the
 * group here. */
static void deliver_push(client *c, long long count, const void *head, size_t head_len, const mail_body *tail) {
    if (c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) return; /* nothing goes after its last reply */
    /* A group whose write fails rewinds its clients' replies; the push must not go with them. */
    if (c->in_group) write_group_commit(c->group);
    /* Over its limits, it is marked to be closed (later pushes stop above), and is closed with
     * the flush. */
    if (!net_output_over_limit(c)) {
        reply r = net_client_reply(c);
        reply_push(&r, count);
        reply_encoded(&r, head, head_len);
        if (tail) reply_encoded(&r, tail->data, tail->len);
    }
    flush_after_pass(c); /* what the socket does not take is checked against the limits then */
}

/* The bytes a client of class cls may be mailed: its output bound (net_output_bound), 0 for
 * none. */
static size_t mail_limit(int cls) {
    long long hard = config_output_limit(cls).hard;
    return hard > 0 ? (size_t)hard + OUTPUT_UNCOUNTED : 0;
}

int net_push_message(client_ref to, long long count, const void *head, size_t head_len, mail_body *tail) {
    if (to.worker != this_worker)
        return mailbox_push_shared(&to.worker->mail, to.id, count, head, head_len, tail,
                                   mail_limit(OUTPUT_CLASS_PUBSUB));
    /* A subscriber on the publisher's own worker gets it at once, as Redis appends it: only
     * this thread could have changed its subscriptions since the registry was read, and it
     * was publishing. One publisher's messages to it all take this way, so stay in order. */
    client *c = idmap_get(&this_worker->clients_by_id, to.id);
    if (c) deliver_push(c, count, head, head_len, tail);
    return 0;
}

/* Acts on one message for one of the worker's clients. */
static void deliver(client *c, const mail *m) {
    switch (m->kind) {
    case MAIL_WAKE:
        atomic_store(&c->wake_posted, 0); /* a wake posted from here on is for a later retry */
        retry_blocked(c, 0);
        break;
    case MAIL_UNBLOCK:
        take_unblock_request(c);
        break;
    case MAIL_KILL:
        client_free(c);
        break;
    case MAIL_LOST:
        log_msg(LOG_WARNING,
                "client %s closed: a message to it was refused, over its output limit or its worker's mailbox full",
                c->addr);
        client_free(c);
        break;
    case MAIL_PUSH:
        deliver_push(c, m->count, m->body, m->len, NULL);
        break;
    case MAIL_MESSAGE: /* one posted before the client unsubscribed is not for it any more */
        if (pubsub_message_wanted(c, m->body, m->len)) deliver_push(c, m->count, m->body, m->len, m->shared);
        break;
    }
}

/* Delivers the worker's mail, in the order it was posted, to those of its clients still there. */
static void on_mail(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    worker *w = arg;
    mail *m = mailbox_take(&w->mail);
    while (m) {
        mail *next = m->next;
        client *c = idmap_get(&w->clients_by_id, m->client_id);
        if (c) deliver(c, m);
        mail_free(m);
        m = next;
    }
}

/* Runs on the posting thread: wakes the worker to take its mail (thread-safe in libevent). */
static void mail_arrived(void *arg) { event_active(((worker *)arg)->mail_ev, EV_READ, 0); }

/* Writes as much of head then body as the socket takes now; an error counts as nothing
 * written (the next flush meets it again and closes the client). */
static size_t write_parts(client *c, const void *head, size_t head_len, const void *body, size_t body_len) {
    struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
    ssize_t n;
    do n = writev(c->fd, iov, 2);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;
    atomic_fetch_add(&stats.net_output_bytes, n);
    return (size_t)n;
}

void net_reply_parts(client *c, const void *head, size_t head_len, const void *body, size_t body_len) {
    /* Straight out only when that cannot pass anything: no pending output, no reply held for a
     * WAL sync or a group's commit, no close on its way. */
    int direct = c->out.len == 0 && !c->in_group && c->sync_wait_seq == 0 && !(c->flags & CLIENT_CLOSE_ASAP);
    if (direct) account_memory(c); /* the kept body counted before the client can read it */
    size_t sent = direct ? write_parts(c, head, head_len, body, body_len) : 0;
    if (sent < head_len) buf_append(&c->out, (const char *)head + sent, head_len - sent);
    size_t body_sent = sent > head_len ? sent - head_len : 0;
    buf_append(&c->out, (const char *)body + body_sent, body_len - body_sent);
}

static void on_writable(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    client_flush(arg);
}

static void fill_addresses(client *c) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (getpeername(c->fd, (struct sockaddr *)&sa, &len) == 0 && sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(c->addr, sizeof(c->addr), "%s:%d", ip, ntohs(in->sin_port));
    }
    len = sizeof(sa);
    if (getsockname(c->fd, (struct sockaddr *)&sa, &len) == 0 && sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(c->laddr, sizeof(c->laddr), "%s:%d", ip, ntohs(in->sin_port));
    }
}

static void client_create(worker *w, int fd) {
    client *c = calloc(1, sizeof(*c));
    if (!c) abort();
    c->id = atomic_fetch_add(&next_client_id, 1);
    c->fd = fd;
    c->worker = w;
    c->group = w->group;
    c->resp = 2;
    c->created_ms = time_now_ms();
    c->last_active_mono_ms = time_mono_ms();
    c->authenticated = !config_password_set();
    buf_init(&c->in);
    buf_init(&c->out);
    resp_parser_init(&c->parser, CONFIG_READ(proto_max_bulk_len));
    fill_addresses(c);
    c->read_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->write_ev = event_new(w->base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->wnext = w->clients;
    if (w->clients) w->clients->wprev = c;
    w->clients = c;
    idmap_put(&w->clients_by_id, c->id, c);
    pthread_mutex_init(&c->shown_lock, NULL);
    publish_shown(c);
    registry_add(c);
    event_add(c->read_ev, NULL);
    account_memory(c);
}

/* ---- workers ---- */

/* Makes clients of (at most 64 of) the sockets the listener handed the worker. */
static void adopt_pending(worker *w) {
    pthread_mutex_lock(&w->lock);
    int n = w->npending;
    int fds[64];
    int take = n < 64 ? n : 64;
    if (take > 0) { /* woken with none, at shutdown: pending may never have been allocated */
        memcpy(fds, w->pending, (size_t)take * sizeof(int));
        memmove(w->pending, w->pending + take, (size_t)(n - take) * sizeof(int));
        w->npending -= take;
    }
    if (w->npending > 0) event_active(w->notify_ev, EV_READ, 0);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < take; i++) client_create(w, fds[i]);
}

static void on_notify(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    adopt_pending(arg);
}

/* ---- serving clients beside a busy script ----
 * A script runs inside one of its worker's event callbacks, and libevent's loop cannot be
 * entered again from there: once the script has run past busy-reply-threshold, its Lua hook
 * (script/engine.h) calls serve_beside_busy_script, which serves the worker's other clients
 * with a pass of its own, a poll() over their sockets, as Redis processes events from its Lua
 * hook. Their requests go through dispatch_request, which answers BUSY to every one but those
 * that may run while a script is busy (SCRIPT KILL, FUNCTION KILL and STATS, AUTH, HELLO,
 * MULTI, WATCH, RESET, QUIT, SHUTDOWN …): commands without keys, which take no key lock
 * and never touch the write group, both of which the script may hold. SCRIPT KILL sets the
 * flag the hook looks at next. */

/* A pass at most this often: a script polls its hook every 100,000 instructions. */
#define BUSY_PASS_INTERVAL_MS 5

/* Whether the pass may serve a client: not the one whose script runs, and none whose state
 * the normal loop owns until the script ends (replies waiting on the group or a WAL sync, a
 * blocked or offloaded command, a close on its way). Their input waits for the script. */
static int serves_beside_script(client *c) {
    return !(c->flags & (CLIENT_RUNS_SCRIPT | CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) && !c->in_group &&
           !atomic_load(&c->blocked) && c->sync_wait_seq == 0 && !kill_requested(c);
}

/* One pass: new connections, then every client the pass may serve that has input (read and
 * run as on_readable does) or output the socket now takes. Clients are found again by id after
 * the poll, and each one's pass ends in its flush, which may free it: none is touched after. */
static void serve_beside_script(worker *w) {
    adopt_pending(w); /* a new client gets its BUSY too */
    size_t n = 0, cap = 16;
    struct pollfd *fds = malloc(cap * sizeof(*fds));
    uint64_t *ids = malloc(cap * sizeof(*ids));
    if (!fds || !ids) abort();
    for (client *c = w->clients; c; c = c->wnext) {
        if (!serves_beside_script(c)) continue;
        if (n == cap) {
            cap *= 2;
            fds = realloc(fds, cap * sizeof(*fds));
            ids = realloc(ids, cap * sizeof(*ids));
            if (!fds || !ids) abort();
        }
        fds[n] = (struct pollfd){.fd = c->fd, .events = (short)(POLLIN | (c->out.len > 0 ? POLLOUT : 0))};
        ids[n++] = c->id;
    }
    int ready = n > 0 ? poll(fds, n, 0) : 0;
    for (size_t i = 0; i < n && ready > 0; i++) {
        if (!fds[i].revents) continue;
        ready--;
        client *c = idmap_get(&w->clients_by_id, ids[i]);
        if (!c || !serves_beside_script(c)) continue;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) on_readable(c->fd, EV_READ, c);
        else client_flush(c);
    }
    free(fds);
    free(ids);
}

/* The busy hook (script/engine.h), on the script's thread: a script on a worker stops when the
 * worker is stopping (SHUTDOWN, SIGTERM), and once busy has its worker serve the other clients
 * every few ms. Scripts on other threads (none so far) only go on. */
static int serve_beside_busy_script(int64_t running_ms) {
    worker *w = this_worker;
    if (!w) return SCRIPT_GO_ON;
    if (atomic_load(&w->stopping)) return SCRIPT_STOP_FOR_SHUTDOWN;
    if (running_ms < CONFIG_READ(busy_reply_threshold) || w->in_busy_pass) return SCRIPT_GO_ON;
    int64_t now = time_mono_ms();
    if (now - w->busy_pass_ms < BUSY_PASS_INTERVAL_MS) return SCRIPT_GO_ON;
    w->busy_pass_ms = now;
    w->in_busy_pass = 1;
    serve_beside_script(w);
    w->in_busy_pass = 0;
    return atomic_load(&w->stopping) ? SCRIPT_STOP_FOR_SHUTDOWN : SCRIPT_GO_ON;
}

/* The buffer a client keeps for its next POLLUPDATES goes once it has gone unused this long:
 * it serves consumers polling back to back, not connections that polled once. */
#define POLL_BODY_IDLE_MS 2000

/* Whether a client has sent nothing for longer than seconds (blocked clients, as in Redis,
 * are not idle). */
static int idle_for(const client *c, int64_t now, long long seconds) {
    return !atomic_load(&c->blocked) && now - c->last_active_mono_ms > seconds * 1000;
}

/* Closes clients idle for longer than `timeout` seconds, replicas' links silent for longer
 * than repl-timeout, and clients that stopped reading with output over the soft limit for too
 * long (no write event comes for those); lets quiet clients' kept poll buffers go; enforces
 * maxmemory-clients. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    worker *w = arg;
    int timeout = CONFIG_READ(timeout);
    long long repl_timeout = CONFIG_READ(repl_timeout);
    int64_t now = time_mono_ms();
    client *next;
    for (client *c = w->clients; c; c = next) {
        next = c->wnext;
        int idle = timeout > 0 && idle_for(c, now, timeout);
        if (idle) log_msg(LOG_VERBOSE, "closing idle client %s", c->addr);
        /* A replica polls without pause (BLOCK) or reads its checkpoint: one that went silent
         * (stopped, cut off without a reset) would pin its checkpoint's files and the WAL for
         * good. Redis drops a replica silent for repl-timeout too. Once it has read all of its
         * checkpoint it swaps the copy in, silent for about a second per million keys: closing
         * the link then would drop the checkpoint and start the full sync again, for ever past
         * some size, so it gets longer, in proportion to the copy (still bounded: a replica
         * hung after its download must not pin the files and the WAL for good). Its first poll
         * then releases the checkpoint. */
        if (!idle && (c->flags & CLIENT_REPLICA) && idle_for(c, now, repl_timeout) &&
            idle_for(c, now, repl_timeout + checkpoints_swap_grace_s(c->id))) {
            log_msg(LOG_WARNING, "closing the link of replica %s, silent for repl-timeout (%llds)", c->addr,
                    repl_timeout);
            idle = 1;
        }
        if (idle || (c->out.len > 0 && net_output_over_limit(c))) {
            client_free(c);
            continue;
        }
        if (now - c->poll_body_kept_ms > POLL_BODY_IDLE_MS) buf_free(&c->poll_body);
        account_memory(c);
    }
    check_clients_memory(); /* the limit may have been lowered with no client growing since */
}

/* After a sync attempt: sends the replies it released. A client whose write a failed sync
 * left unconfirmed is closed without its replies: its writes were never acknowledged (Redis
 * exits in that case), and waiting could last as long as the storage error. */
static void on_sync(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    worker *w = arg;
    uint64_t synced = durable_synced_sequence(), failures = durable_sync_failures();
    client *next;
    for (client *c = w->held; c; c = next) {
        next = c->hnext;
        if (c->sync_wait_seq <= synced) {
            client_flush(c);
        } else if (failures > c->held_failures) {
            log_msg(LOG_WARNING, "closing client %s: the WAL sync its write waited for failed", c->addr);
            client_free(c);
        }
    }
}

/* Runs on the sync thread. */
static void wake_workers_after_sync(void) {
    for (int i = 0; i < nworkers; i++) event_active(workers[i].sync_ev, EV_READ, 0);
}

/* Called by a group's commit and for pushes (possibly inside an event callback, where the
 * client must not be freed): its output goes out after the pass. */
static void flush_after_pass(client *c) {
    if (c->flush_pending) return;
    worker *w = c->worker;
    c->flush_pending = 1;
    c->fnext = w->committed;
    w->committed = c;
}

static void flush_committed(worker *w) {
    while (w->committed) {
        client *c = w->committed;
        w->committed = c->fnext;
        c->flush_pending = 0;
        client_flush(c);
    }
}

/* One pass of the event loop runs the commands that arrived; then their group is written,
 * and only then do their replies go out. */
static void *worker_main(void *arg) {
    worker *w = arg;
    this_worker = w;
    while (!atomic_load(&w->stopping)) {
        if (event_base_loop(w->base, EVLOOP_ONCE) < 0) break;
        write_group_commit(w->group);
        flush_committed(w);
    }
    while (w->clients) client_free(w->clients);
    return NULL;
}

/* Worker bases keep precise time: libevent's default coarse clock ticks every few ms, too
 * slow for BLOCK pacing and short timeouts. */
static struct event_base *precise_base(void) {
    struct event_config *cfg = event_config_new();
    if (!cfg) return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static int workers_start(int n) {
    workers = calloc((size_t)n, sizeof(*workers));
    if (!workers) return -1;
    nworkers = n;
    for (int i = 0; i < n; i++) {
        worker *w = &workers[i];
        pthread_mutex_init(&w->lock, NULL);
        w->base = precise_base();
        if (!w->base) return -1;
        w->notify_ev = event_new(w->base, -1, EV_PERSIST, on_notify, w);
        w->tick_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
        w->sync_ev = event_new(w->base, -1, 0, on_sync, w);
        w->mail_ev = event_new(w->base, -1, 0, on_mail, w);
        mailbox_init(&w->mail, MAILBOX_MAX_BYTES, mail_arrived, w);
        idmap_init(&w->clients_by_id);
        w->group = write_group_new(flush_after_pass);
        struct timeval second = {1, 0};
        event_add(w->notify_ev, NULL);
        event_add(w->tick_ev, &second);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) return -1;
    }
    return 0;
}

static void workers_stop(void) {
    for (int i = 0; i < nworkers; i++) {
        atomic_store(&workers[i].stopping, 1);
        event_active(workers[i].notify_ev, EV_READ, 0); /* wakes its loop to see the flag */
    }
    /* Every worker is stopped before any mailbox goes: a command still running on one may post
     * to another's clients (DEBUG PUSH, a wake-up) until it has stopped. */
    for (int i = 0; i < nworkers; i++) pthread_join(workers[i].thread, NULL);
    for (int i = 0; i < nworkers; i++) {
        worker *w = &workers[i];
        event_free(w->notify_ev);
        event_free(w->tick_ev);
        event_free(w->sync_ev);
        event_free(w->mail_ev);
        mailbox_destroy(&w->mail); /* mail for clients that have gone */
        idmap_free(&w->clients_by_id);
        write_group_free(w->group);
        event_base_free(w->base);
        free(w->pending);
        pthread_mutex_destroy(&w->lock);
    }
    free(workers);
    workers = NULL;
    nworkers = 0;
}

static void hand_to_worker(int fd) {
    static unsigned next;
    worker *w = &workers[next++ % (unsigned)nworkers];
    pthread_mutex_lock(&w->lock);
    if (w->npending == w->pending_cap) {
        int cap = w->pending_cap ? w->pending_cap * 2 : 16;
        int *p = realloc(w->pending, (size_t)cap * sizeof(int));
        if (!p) abort();
        w->pending = p;
        w->pending_cap = cap;
    }
    w->pending[w->npending++] = fd;
    pthread_mutex_unlock(&w->lock);
    event_active(w->notify_ev, EV_READ, 0);
}

/* A connection over maxclients waits this long, a few times, for closing clients to be
 * counted out before it is refused: a client that just disconnected may not be processed yet. */
#define ADMIT_RETRY_MS 10
#define ADMIT_TRIES 5

typedef struct pending_admit {
    int fd;
    int tries;
} pending_admit;

static void refuse(int fd, const char *msg) {
    ssize_t ignored = write(fd, msg, strlen(msg)); /* best effort: the client is refused anyway */
    (void)ignored;
    close(fd);
    atomic_fetch_add(&stats.rejected_connections, 1);
}

static const char max_clients_msg[] = "-ERR max number of clients reached\r\n";

/* TCP keepalive as Redis sets it: probes after tcp-keepalive seconds idle, then every third of
 * that, and the peer counted gone after three unanswered, so a vanished client is closed. 0
 * turns keepalive off (the listener's sockets, which accepted ones inherit, have it on).
 * Best effort, as Redis: a socket that refuses an option is served without it. */
static void set_keepalive(int fd) {
    int idle = CONFIG_READ(tcp_keepalive);
    int on = idle > 0, interval = idle / 3 > 0 ? idle / 3 : 1, count = 3;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 || !on) return;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

static void try_admit(evutil_socket_t unused, short what, void *arg) {
    (void)unused, (void)what;
    pending_admit *pa = arg;
    if (atomic_fetch_add(&stats.connected_clients, 1) < CONFIG_READ(maxclients)) {
        int one = 1;
        setsockopt(pa->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        set_keepalive(pa->fd);
        hand_to_worker(pa->fd);
        free(pa);
        return;
    }
    atomic_fetch_sub(&stats.connected_clients, 1);
    if (++pa->tries >= ADMIT_TRIES) {
        refuse(pa->fd, max_clients_msg);
        free(pa);
        return;
    }
    struct timeval tv = {0, ADMIT_RETRY_MS * 1000};
    event_base_once(main_base, -1, EV_TIMEOUT, try_admit, pa, &tv);
}

/* Whether a peer address is this machine's loopback. */
static int is_loopback_peer(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) return a->s6_addr[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(a);
    }
    return sa->sa_family == AF_UNIX;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg) {
    (void)l, (void)salen, (void)arg;
    atomic_fetch_add(&stats.connections_received, 1);
    /* The password may have been removed since start-up: protected mode holds per connection. */
    if (CONFIG_READ(protected_mode) && !config_password_set() && !is_loopback_peer(sa)) {
        refuse(fd, "-DENIED tidekv is running in protected mode: protected-mode is yes and no password is set, "
                   "so only loopback connections are accepted. Set requirepass, or protected-mode no if the "
                   "network is trusted.\r\n");
        return;
    }
    pending_admit *pa = malloc(sizeof(*pa));
    if (!pa) abort();
    pa->fd = fd;
    pa->tries = 0;
    try_admit(-1, 0, pa);
}

static void on_shutdown(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what, (void)arg;
    event_base_loopbreak(main_base);
}

void server_request_shutdown(void) {
    if (shutdown_ev) event_active(shutdown_ev, EV_READ, 0);
}

/* Listens on one bind address ("*" and "::*" are every IPv4 / IPv6 address). */
static struct evconnlistener *listen_on(const char *host, int port) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int family = config_bind_address_family(host);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        if (strcmp(host, "*") != 0 && inet_pton(AF_INET, host, &sin->sin_addr) != 1) return NULL;
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        if (strcmp(host, "::*") != 0 && inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) return NULL;
        len = sizeof(*sin6);
    }
    /* IPv6 sockets take IPv6 only, so that "* ::*" can listen on both, as in Redis. */
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                     (family == AF_INET6 ? LEV_OPT_BIND_IPV6ONLY : 0);
    return evconnlistener_new_bind(main_base, on_accept, NULL, flags, CONFIG_READ(tcp_backlog), (struct sockaddr *)&ss,
                                   len);
}

/* Whether a bind address only reaches this machine. */
static int is_loopback(const char *host) {
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

/* The bind addresses, split (free with free_bind_list). */
typedef struct bind_list {
    resp_arg *words;
    int n;
} bind_list;

static void free_bind_list(bind_list *b) {
    for (int i = 0; i < b->n; i++) free(b->words[i].ptr);
    free(b->words);
}

/* Whether each address, '-' or not, only reaches this machine. */
static int binds_loopback_only(const bind_list *b) {
    for (int i = 0; i < b->n; i++)
        if (!is_loopback(b->words[i].ptr + (b->words[i].ptr[0] == '-'))) return 0;
    return 1;
}

/* Listens on every bind address; an address written -addr may be unavailable (no IPv6 here,
 * say): it is skipped with a notice. Returns how many listeners were made, -1 if one that had
 * to be made failed. */
static int listen_all(const bind_list *b, struct evconnlistener **out) {
    int made = 0;
    for (int i = 0; i < b->n; i++) {
        const char *word = b->words[i].ptr;
        int optional = word[0] == '-';
        struct evconnlistener *l = listen_on(word + optional, CONFIG_READ(port));
        if (l) {
            out[made++] = l;
            continue;
        }
        log_msg(optional ? LOG_NOTICE : LOG_WARNING, "could not listen on %s:%d: %s%s", word + optional,
                CONFIG_READ(port), strerror(errno), optional ? " (optional address, skipped)" : "");
        if (optional) continue;
        while (made > 0) evconnlistener_free(out[--made]);
        return -1;
    }
    return made;
}

int net_run(void (*stop_writers)(void)) {
    bind_list binds;
    binds.n = resp_split_inline(server_config.bind, strlen(server_config.bind), &binds.words);
    if (binds.n < 0) binds.n = 0; /* config.c checked the value */
    if (CONFIG_READ(protected_mode) && !config_password_set() && !binds_loopback_only(&binds)) {
        log_msg(LOG_WARNING,
                "refusing to listen on %s without a password while protected-mode is yes: set requirepass, "
                "or protected-mode no if the network is trusted",
                server_config.bind);
        free_bind_list(&binds);
        return -1;
    }
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    main_base = event_base_new();
    struct evconnlistener *listeners[CONFIG_MAX_BIND];
    int nlisteners = listen_all(&binds, listeners);
    free_bind_list(&binds);
    if (nlisteners <= 0) {
        if (nlisteners == 0) log_msg(LOG_WARNING, "no bind address could be listened on");
        event_base_free(main_base);
        return -1;
    }
    /* By default one core is left to RocksDB's flushes and compactions, the WAL sync
     * thread and the kernel's network work: on a 2-core machine one worker measured
     * faster unpipelined, with a third of the p99, than two (bench/RESULTS.md). */
    int n = CONFIG_READ(workers);
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
    if (n < 1) n = 1;
    script_set_busy_hook(serve_beside_busy_script);
    if (workers_start(n) < 0) {
        log_msg(LOG_WARNING, "could not start worker threads");
        return -1;
    }
    if (offload_start() < 0) return -1;
    if (durable_start(wake_workers_after_sync) < 0) {
        log_msg(LOG_WARNING, "could not start the WAL sync thread");
        return -1;
    }
    shutdown_ev = event_new(main_base, -1, EV_PERSIST, on_shutdown, NULL);
    event_add(shutdown_ev, NULL);
    struct event *sigterm = evsignal_new(main_base, SIGTERM, on_shutdown, NULL);
    struct event *sigint = evsignal_new(main_base, SIGINT, on_shutdown, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    log_msg(LOG_NOTICE, "tidekv %s ready to accept connections on %s:%d (%d workers)", TIDEKV_VERSION,
            server_config.bind, CONFIG_READ(port), n);

    event_base_dispatch(main_base);

    log_msg(LOG_NOTICE, "shutting down");
    for (int i = 0; i < nlisteners; i++) evconnlistener_free(listeners[i]);
    stop_writers();
    durable_stop();
    workers_stop();
    offload_stop(); /* after the workers: the clients of requests never run are gone */
    event_free(sigterm);
    event_free(sigint);
    event_free(shutdown_ev);
    shutdown_ev = NULL;
    event_base_free(main_base);
    return 0;
}
