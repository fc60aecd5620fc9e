#include "cdc/consumers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/wal.h"
#include "config.h"
#include "storage/store.h"
#include "util/file.h"
#include "util/log.h"
#include "util/timeutil.h"

typedef struct entry {
    consumer c;
    uint64_t durable; /* its position as the file last written holds it */
} entry;

/* Lock order: admin, then lock. admin serializes whatever writes the file or must not see
 * consumers come and go (creating, dropping, flushing, retention passes); lock guards the
 * list, which acknowledgements change without waiting for a file write. */
static struct {
    pthread_mutex_t admin;
    pthread_mutex_t lock;
    entry *list;
    size_t n, cap;
    uint64_t version;       /* changes made to the list (under lock) */
    uint64_t saved_version; /* the version the file holds (under admin) */
} reg = {.admin = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER};

/* (lock held) The index of a consumer, or -1. */
static long find(const char *name) {
    for (size_t i = 0; i < reg.n; i++)
        if (strcmp(reg.list[i].c.name, name) == 0) return (long)i;
    return -1;
}

/* (lock held) Puts a consumer at index i of the list (reg.n: at its end). */
static void insert_at(size_t i, const consumer *c, uint64_t durable) {
    if (reg.n == reg.cap) {
        reg.cap = reg.cap ? reg.cap * 2 : 8;
        entry *grown = realloc(reg.list, reg.cap * sizeof(*grown));
        if (!grown) abort();
        reg.list = grown;
    }
    memmove(&reg.list[i + 1], &reg.list[i], (reg.n - i) * sizeof(*reg.list));
    reg.list[i] = (entry){*c, durable};
    reg.n++;
    reg.version++;
}

/* (lock held) */
static void append(const consumer *c, uint64_t durable) { insert_at(reg.n, c, durable); }

/* (lock held) Removes entry i, keeping the order of the others. */
static void remove_at(size_t i) {
    memmove(&reg.list[i], &reg.list[i + 1], (reg.n - i - 1) * sizeof(*reg.list));
    reg.n--;
    reg.version++;
}

/* (admin held) Writes the list to the file; then the positions written are durable. */
static int save(char *err, size_t errlen) {
    pthread_mutex_lock(&reg.lock);
    size_t n = reg.n;
    uint64_t version = reg.version;
    consumer *copy = malloc((n ? n : 1) * sizeof(*copy));
    if (!copy) abort();
    for (size_t i = 0; i < n; i++) copy[i] = reg.list[i].c;
    pthread_mutex_unlock(&reg.lock);

    buf text;
    buf_init(&text);
    consumer_file_encode(copy, n, &text);
    int rc = file_write_atomic(store_dir(), CONSUMERS_FILE, text.data, text.len, err, errlen);
    buf_free(&text);
    if (rc == 0) {
        pthread_mutex_lock(&reg.lock);
        for (size_t i = 0; i < n; i++) {
            long at = find(copy[i].name);
            if (at >= 0) reg.list[at].durable = copy[i].sequence;
        }
        pthread_mutex_unlock(&reg.lock);
        reg.saved_version = version;
    }
    free(copy);
    return rc;
}

int consumers_load(char *err, size_t errlen) {
    buf text;
    buf_init(&text);
    int found = file_read_in(store_dir(), CONSUMERS_FILE, &text, err, errlen);
    if (found < 0) {
        buf_free(&text);
        return -1;
    }
    consumer *list = NULL;
    size_t n = 0;
    char why[128];
    if (found && consumer_file_decode(text.data, text.len, &list, &n, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s/%s: %s", store_dir(), CONSUMERS_FILE, why);
        buf_free(&text);
        return -1;
    }
    buf_free(&text);
    pthread_mutex_lock(&reg.lock);
    for (size_t i = 0; i < n; i++) append(&list[i], list[i].sequence);
    reg.saved_version = reg.version;
    pthread_mutex_unlock(&reg.lock);
    free(list);
    return 0;
}

void consumers_close(void) {
    consumers_flush();
    pthread_mutex_lock(&reg.lock);
    free(reg.list);
    reg.list = NULL;
    reg.n = reg.cap = 0;
    reg.version = reg.saved_version = 0;
    pthread_mutex_unlock(&reg.lock);
}

/* Whether the changes after seq are all still in the WAL (seq is the last one seen). */
static int history_retained_after(uint64_t seq, uint64_t latest) {
    if (seq >= latest) return 1;
    uint64_t oldest = wal_oldest_sequence();
    return oldest != 0 && oldest <= seq + 1;
}

/* (admin held) Checks a new consumer against the list and the history. */
static consumer_status check_new(const char *name, uint64_t seq, uint64_t latest) {
    pthread_mutex_lock(&reg.lock);
    int exists = find(name) >= 0;
    size_t n = reg.n;
    pthread_mutex_unlock(&reg.lock);
    if (exists) return CONSUMER_EXISTS;
    if (seq > latest) return CONSUMER_OUT_OF_RANGE;
    if (!history_retained_after(seq, latest)) return CONSUMER_NOT_RETAINED;
    if (n >= (size_t)CONFIG_READ(cdc_max_consumers)) return CONSUMER_TOO_MANY;
    return CONSUMER_OK;
}

consumer_status consumers_create(const char *name, int from_given, uint64_t from, consumer *out, char *err,
                                 size_t errlen) {
    pthread_mutex_lock(&reg.admin);
    uint64_t latest = store_latest_sequence();
    uint64_t seq = from_given ? from : latest;
    consumer_status st = check_new(name, seq, latest);
    if (st == CONSUMER_OK) {
        memset(out, 0, sizeof(*out));
        snprintf(out->name, sizeof(out->name), "%s", name);
        out->sequence = seq;
        out->created_ms = time_now_ms();
        pthread_mutex_lock(&reg.lock);
        append(out, seq);
        pthread_mutex_unlock(&reg.lock);
        if (save(err, errlen) < 0) {
            pthread_mutex_lock(&reg.lock);
            remove_at((size_t)find(name));
            pthread_mutex_unlock(&reg.lock);
            st = CONSUMER_SAVE_FAILED;
        }
    }
    pthread_mutex_unlock(&reg.admin);
    return st;
}

consumer_status consumers_ack(const char *name, uint64_t seq) {
    consumer_status st = CONSUMER_OK;
    pthread_mutex_lock(&reg.lock);
    long at = find(name);
    if (at < 0) st = CONSUMER_UNKNOWN;
    else if (reg.list[at].c.lost) st = CONSUMER_LOST;
    else if (seq > store_latest_sequence()) st = CONSUMER_OUT_OF_RANGE;
    if (st == CONSUMER_OK) {
        consumer *c = &reg.list[at].c;
        if (seq > c->sequence) c->sequence = seq;
        c->acked_ms = time_now_ms();
        reg.version++;
    }
    pthread_mutex_unlock(&reg.lock);
    return st;
}

consumer_status consumers_drop(const char *name, int *dropped, char *err, size_t errlen) {
    consumer_status st = CONSUMER_OK;
    pthread_mutex_lock(&reg.admin);
    pthread_mutex_lock(&reg.lock);
    long at = find(name);
    entry gone = {0};
    if (at >= 0) {
        gone = reg.list[at];
        remove_at((size_t)at);
    }
    pthread_mutex_unlock(&reg.lock);
    *dropped = at >= 0;
    if (at >= 0 && save(err, errlen) < 0) {
        pthread_mutex_lock(&reg.lock);
        insert_at((size_t)at, &gone.c, gone.durable); /* back where it was (admin kept the list's order) */
        pthread_mutex_unlock(&reg.lock);
        st = CONSUMER_SAVE_FAILED;
    }
    pthread_mutex_unlock(&reg.admin);
    return st;
}

consumer_status consumers_get(const char *name, consumer *out) {
    pthread_mutex_lock(&reg.lock);
    long at = find(name);
    if (at >= 0) *out = reg.list[at].c;
    pthread_mutex_unlock(&reg.lock);
    return at >= 0 ? CONSUMER_OK : CONSUMER_UNKNOWN;
}

consumer *consumers_all(size_t *n) {
    pthread_mutex_lock(&reg.lock);
    *n = reg.n;
    consumer *copy = NULL;
    if (reg.n) {
        copy = malloc(reg.n * sizeof(*copy));
        if (!copy) abort();
        for (size_t i = 0; i < reg.n; i++) copy[i] = reg.list[i].c;
    }
    pthread_mutex_unlock(&reg.lock);
    return copy;
}

void consumers_count(size_t *total, size_t *lost) {
    pthread_mutex_lock(&reg.lock);
    *total = reg.n;
    *lost = 0;
    for (size_t i = 0; i < reg.n; i++) *lost += reg.list[i].c.lost != 0;
    pthread_mutex_unlock(&reg.lock);
}

/* (admin held) Writes the list if it changed since the last write; a failure is logged and
 * retried at the next flush. */
static void save_if_changed(void) {
    pthread_mutex_lock(&reg.lock);
    int changed = reg.version != reg.saved_version;
    pthread_mutex_unlock(&reg.lock);
    char err[256];
    if (changed && save(err, sizeof(err)) < 0) log_msg(LOG_WARNING, "can't save the CDC consumers: %s", err);
}

void consumers_flush(void) {
    pthread_mutex_lock(&reg.admin);
    save_if_changed();
    pthread_mutex_unlock(&reg.admin);
}

void consumers_lose_ahead(uint64_t latest) {
    pthread_mutex_lock(&reg.admin);
    pthread_mutex_lock(&reg.lock);
    for (size_t i = 0; i < reg.n; i++) {
        consumer *c = &reg.list[i].c;
        if (c->lost || c->sequence <= latest) continue;
        log_msg(LOG_WARNING, "CDC consumer '%s' lost its history: its position %llu is past the latest change %llu "
                "(a data directory restored from an older copy, or a replica promoted before its master's last "
                "changes reached it)", c->name, (unsigned long long)c->sequence, (unsigned long long)latest);
        c->lost = 1;
        reg.version++;
    }
    pthread_mutex_unlock(&reg.lock);
    save_if_changed();
    pthread_mutex_unlock(&reg.admin);
}

void consumers_hold(void) { pthread_mutex_lock(&reg.admin); }
void consumers_release(void) { pthread_mutex_unlock(&reg.admin); }

/* (lock held) Why an active consumer must be lost, or NULL. It is judged at its latest
 * position: how far behind it is, not how far its last written acknowledgement is. */
static const char *loses_history(const consumer *c, const wal_file *files, size_t n, uint64_t latest,
                                 uint64_t *bytes) {
    uint64_t oldest = wal_files_oldest_sequence(files, n);
    *bytes = wal_files_bytes_after(files, n, c->sequence, latest);
    long long cap_mb = CONFIG_READ(cdc_consumer_max_wal_mb);
    /* A file that can't be read yet tells nothing (oldest 0): only history known gone counts. */
    if (c->sequence < latest && oldest != 0 && oldest > c->sequence + 1)
        return "the changes after its position are gone";
    if (cap_mb > 0 && *bytes > (uint64_t)cap_mb * 1024 * 1024) return "over cdc-consumer-max-wal-mb";
    return NULL;
}

uint64_t consumers_pin(const wal_file *files, size_t n, uint64_t latest) {
    uint64_t pin = UINT64_MAX;
    pthread_mutex_lock(&reg.lock);
    for (size_t i = 0; i < reg.n; i++) {
        entry *e = &reg.list[i];
        if (e->c.lost) continue;
        uint64_t bytes;
        const char *why = loses_history(&e->c, files, n, latest, &bytes);
        if (why) {
            log_msg(LOG_WARNING, "CDC consumer '%s' lost its history (%s): position %llu, %llu bytes of WAL after it",
                    e->c.name, why, (unsigned long long)e->c.sequence, (unsigned long long)bytes);
            e->c.lost = 1;
            reg.version++;
        } else if (e->durable < pin) {
            pin = e->durable; /* a restart resumes from there */
        }
    }
    pthread_mutex_unlock(&reg.lock);
    save_if_changed(); /* a lost consumer is written down before its history goes */
    return pin;
}

/* ---- a replica's consumers: its master's ---- */

/* (lock held) The entry of the consumer m is: the same name and creation time (a consumer
 * dropped and created again under its name is another one), or NULL. */
static const entry *find_same(const consumer *m) {
    long at = find(m->name);
    return at >= 0 && reg.list[at].c.created_ms == m->created_ms ? &reg.list[at] : NULL;
}

/* (lock held) Whether the list already holds the master's consumers. One lost here and active
 * on the master at the same position counts as the same (see replicated_state). */
static int holds_already(const consumer *list, size_t n) {
    if (reg.n != n) return 0;
    for (size_t i = 0; i < n; i++) {
        const consumer *have = &reg.list[i].c, *m = &list[i];
        if (strcmp(have->name, m->name) != 0 || have->sequence != m->sequence || have->created_ms != m->created_ms ||
            have->acked_ms != m->acked_ms || (m->lost && !have->lost))
            return 0;
    }
    return 1;
}

/* (lock held) The master's consumer m as this node keeps it: as the master has it, except that
 * an active one whose history this node's WAL no longer holds, or would hold over
 * cdc-consumer-max-wal-mb, is lost here, as consumers_pin would make it. One lost here stays
 * lost while the master's position for it stays put: judged, and logged, once per position. */
static consumer replicated_state(const consumer *m, const entry *here, const wal_file *files, size_t n,
                                 uint64_t latest) {
    consumer c = *m;
    int lost_here = here && here->c.lost;
    uint64_t bytes;
    const char *why;
    if (c.lost) return c;
    if (lost_here && here->c.sequence == c.sequence) {
        c.lost = 1;
    } else if ((why = loses_history(&c, files, n, latest, &bytes))) {
        c.lost = 1;
        if (!lost_here)
            log_msg(LOG_WARNING, "CDC consumer '%s' of the master is lost here (%s): position %llu, %llu bytes of WAL "
                    "after it", c.name, why, (unsigned long long)c.sequence, (unsigned long long)bytes);
    }
    return c;
}

/* Why the master's list cannot be kept (the file could not be read back), or NULL. */
static const char *refused_list(const consumer *list, size_t n) {
    if (n > CONSUMER_FILE_MAX) return "too many consumers";
    for (size_t i = 0; i < n; i++) {
        const consumer *c = &list[i];
        if (!consumer_name_valid(c->name, strlen(c->name))) return "an invalid consumer name";
        if (c->sequence > INT64_MAX || c->created_ms < 0 || c->acked_ms < 0) return "a negative or too large number";
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j].name, c->name) == 0) return "a name twice";
    }
    return NULL;
}

/* (admin held) Makes the list the master's; the file is written (a failure is logged and
 * retried at the next flush, as for acknowledgements). */
static void replace_all(const consumer *list, size_t n) {
    wal_file *files; /* none if they can't be listed: history counts as not known gone */
    size_t nfiles;
    if (wal_files_list(&files, &nfiles) < 0) log_msg(LOG_WARNING, "can't list the WAL files");
    uint64_t latest = store_latest_sequence();
    entry *next = malloc((n ? n : 1) * sizeof(*next));
    if (!next) abort();
    pthread_mutex_lock(&reg.lock);
    for (size_t i = 0; i < n; i++) {
        const entry *here = find_same(&list[i]);
        next[i].c = replicated_state(&list[i], here, files, nfiles, latest);
        /* Its history is pinned from where the file holds it until the file is written. */
        next[i].durable = here ? here->durable : list[i].sequence;
    }
    free(reg.list);
    reg.list = next;
    reg.n = reg.cap = n;
    reg.version++;
    pthread_mutex_unlock(&reg.lock);
    free(files);
    save_if_changed();
}

int consumers_replicate(const consumer *list, size_t n, char *err, size_t errlen) {
    const char *why = refused_list(list, n);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    pthread_mutex_lock(&reg.admin);
    pthread_mutex_lock(&reg.lock);
    int same = holds_already(list, n);
    pthread_mutex_unlock(&reg.lock);
    if (!same) replace_all(list, n);
    pthread_mutex_unlock(&reg.admin);
    return 0;
}
