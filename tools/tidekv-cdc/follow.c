#include "follow.h"

#include <stdlib.h>
#include <string.h>

/* How long a POLLUPDATES waits for changes: the longest a stop request or a due
 * acknowledgement waits for a quiet stream. */
#define BLOCK_MS 1000
/* How often the consumer is acknowledged (also when nothing moved: a dropped consumer is
 * noticed within this long). */
#define ACK_INTERVAL_S 1.0
/* Snapshots that vanish under one copy after another before the program gives up. */
#define COPY_ATTEMPTS 3

static cdc_status ack(follower *f, cdc_error *e) {
    long long durable;
    cdc_status st = f->snk->type->flush(f->snk, &durable, e);
    if (st == CDC_OK && durable >= 0) st = source_ack(&f->src, durable, e);
    if (st == CDC_OK) f->last_ack = cdc_now();
    return st;
}

/* ------------------------------------------------------------------ the snapshot copy */

/* Copies snapshot id (taken at sequence) from cursor on; the sink is then at sequence. */
static cdc_status copy(follower *f, const char *id, long long sequence, const char *cursor, cdc_error *e) {
    char *at = strdup(cursor);
    if (!at) abort();
    cdc_status st;
    do { /* cursor "0" starts the snapshot, and a next cursor "0" says it has been read whole */
        if (stop_requested()) {
            st = CDC_STOP;
            break;
        }
        snapshot_page page;
        st = source_read_snapshot(&f->src, id, at, f->snk->type->format, &page, e);
        if (st == CDC_OK) st = f->snk->type->copy_page(f->snk, &page.entries, page.next_cursor, e);
        if (st == CDC_OK) {
            free(at);
            at = strdup(page.next_cursor);
            if (!at) abort();
            f->progressed = 1;
            progress_copied(f->prog, page.entries.n);
            progress_tick(f->prog, f->snk);
        }
        snapshot_page_free(&page);
    } while (st == CDC_OK && strcmp(at, "0") != 0);
    free(at);
    if (st != CDC_OK) return st;
    st = f->snk->type->copy_end(f->snk, sequence, e);
    if (st != CDC_OK) return st;
    f->position = sequence;
    cdc_log("copied snapshot %s (%lld entries); following from sequence %lld", id, f->prog->entries, sequence);
    return source_release_snapshot(&f->src, id, e);
}

/* A copy from a new consumer and snapshot; the consumer is dropped first if it exists (it is
 * this sink's: the sink recorded a copy in progress for it). */
static cdc_status new_copy(follower *f, int consumer_exists, cdc_error *e) {
    for (int attempt = 1;; attempt++) {
        cdc_status st = f->snk->type->copy_begin(f->snk, e);
        if (st == CDC_OK && consumer_exists) st = source_drop(&f->src, e);
        char id[128];
        long long sequence;
        if (st == CDC_OK) st = source_create_with_snapshot(&f->src, id, sizeof(id), &sequence, e);
        if (st != CDC_OK) return st;
        consumer_exists = 1;
        st = f->snk->type->copy_started(f->snk, id, sequence, e);
        if (st != CDC_OK) return st;
        cdc_log("consumer '%s' created at sequence %lld; copying its snapshot %s", f->opt->consumer, sequence, id);
        f->prog->entries = 0;
        st = copy(f, id, sequence, "0", e);
        if (st != CDC_GONE) return st;
        if (attempt == COPY_ATTEMPTS) {
            cdc_error why = *e;
            return cdc_fail(e, CDC_FATAL, "%s, %d times: giving up", why.msg, attempt);
        }
        cdc_log("%s; copying again from a new snapshot", e->msg);
    }
}

/* ------------------------------------------------------------------ where to start */

static cdc_status resume(follower *f, const sink_state *ss, const consumer_info *ci, cdc_error *e) {
    const char *name = f->opt->consumer;
    if (!ci->exists)
        return cdc_fail(e, CDC_FATAL,
                        "consumer '%s' does not exist at the source, yet the sink is at sequence %lld: it was "
                        "dropped. To copy everything again, remove the sink's position", name, ss->position);
    if (ci->lost)
        return cdc_fail(e, CDC_FATAL,
                        "consumer '%s' lost its history at the source (cdc-consumer-max-wal-mb, or a failover to a "
                        "replica that missed changes it had seen): drop it and remove the sink's position to copy "
                        "everything again", name);
    if (ss->position < ci->sequence)
        return cdc_fail(e, CDC_FATAL,
                        "the sink is at sequence %lld, behind consumer '%s' (acknowledged %lld): the sink lost "
                        "changes it had taken (restored from an older copy, or a crash before its data reached "
                        "disk), so they cannot be delivered exactly once. Drop the consumer and clear the sink "
                        "to copy everything again", ss->position, name, ci->sequence);
    f->position = ss->position;
    return CDC_OK;
}

/* A copy was under way: continue it if its snapshot and consumer are as it left them. */
static cdc_status resume_copy(follower *f, const sink_state *ss, const consumer_info *ci, cdc_error *e) {
    if (ss->snapshot_id[0] && ci->exists && !ci->lost && ci->sequence == ss->position) {
        cdc_log("continuing the copy of snapshot %s", ss->snapshot_id);
        f->prog->entries = 0;
        cdc_status st = copy(f, ss->snapshot_id, ss->position, ss->cursor, e);
        if (st != CDC_GONE) return st;
        cdc_log("%s; copying again from a new snapshot", e->msg);
    }
    return new_copy(f, ci->exists, e);
}

/* A sink that takes no snapshot starts at the latest change. A consumer that exists and was
 * never acknowledged was created by an earlier run that delivered nothing: it is taken over. */
static cdc_status start_at_latest(follower *f, const consumer_info *ci, cdc_error *e) {
    if (ci->exists) {
        f->position = ci->sequence;
        return CDC_OK;
    }
    return source_create(&f->src, &f->position, e);
}

static cdc_status start_fresh(follower *f, const consumer_info *ci, cdc_error *e) {
    if (ci->exists && (sink_copies(f->snk) || ci->acked_ms != 0))
        return cdc_fail(e, CDC_FATAL,
                        "consumer '%s' already exists at the source, but the sink holds no position for it: it "
                        "belongs to another sink, or this sink lost its data. Use another --consumer, or drop "
                        "the consumer (CDC DROP %s) to copy everything again", f->opt->consumer, f->opt->consumer);
    if (!sink_copies(f->snk)) return start_at_latest(f, ci, e);
    return new_copy(f, 0, e);
}

static cdc_status start(follower *f, cdc_error *e) {
    sink_state ss = {0};
    consumer_info ci;
    cdc_status st = f->snk->type->recover(f->snk, &ss, e);
    if (st == CDC_OK) st = source_consumer(&f->src, &ci, e);
    if (st == CDC_OK) {
        switch (ss.phase) {
        case SINK_FOLLOWING: st = resume(f, &ss, &ci, e); break;
        case SINK_COPYING: st = resume_copy(f, &ss, &ci, e); break;
        case SINK_FRESH: st = start_fresh(f, &ci, e); break;
        }
    }
    sink_state_free(&ss);
    return st;
}

/* ------------------------------------------------------------------ following */

/* One poll, applied: CDC_STOP once --once has caught up. */
static cdc_status follow_step(follower *f, cdc_error *e) {
    poll_reply p;
    cdc_status st = source_poll(&f->src, f->position, f->opt->once ? -1 : BLOCK_MS, f->snk->type->format, &p, e);
    if (st == CDC_OK) st = f->snk->type->apply(f->snk, &p.updates, p.next, e);
    if (st == CDC_OK) {
        f->position = p.next;
        f->progressed = 1;
        progress_followed(f->prog, p.next, p.latest, p.updates.n);
        if (f->opt->once && p.next >= p.latest) st = CDC_STOP;
    }
    poll_reply_free(&p);
    return st;
}

static cdc_status follow(follower *f, cdc_error *e) {
    cdc_status st = CDC_OK;
    while (st == CDC_OK) {
        if (stop_requested()) st = CDC_STOP;
        else st = follow_step(f, e);
        if (st == CDC_OK && cdc_now() - f->last_ack >= ACK_INTERVAL_S) st = ack(f, e);
        progress_tick(f->prog, f->snk);
    }
    if (st != CDC_STOP) return st;
    cdc_status acked = ack(f, e);
    return acked == CDC_OK ? CDC_STOP : acked;
}

cdc_status follow_session(follower *f, cdc_error *e) {
    cdc_status st = source_open(&f->src, f->opt, e);
    if (st == CDC_OK) st = f->snk->type->connect(f->snk, e);
    if (st == CDC_OK) st = start(f, e);
    if (st == CDC_OK) st = follow(f, e);
    source_close(&f->src);
    f->snk->type->disconnect(f->snk);
    return st;
}
