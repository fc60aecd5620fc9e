#include "cdc/snapshots.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/random.h"
#include "util/timeutil.h"

/* A registered snapshot. Readers hold a reference, so a RELEASE or an expiry during a READ on
 * another thread unlists it at once but frees it only when the last reader is done. */
typedef struct snapshot_entry {
    struct snapshot_entry *next;
    store_snapshot *snap;
    snapshot_info info;
    int refs; /* the registry's (while listed) plus one per reader */
} snapshot_entry;

static struct {
    pthread_mutex_t lock;
    snapshot_entry *head, *tail; /* oldest first */
    size_t n;
} reg = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

/* (lock held) Drops a reference; the last one releases the RocksDB snapshot. */
static void unref(snapshot_entry *e) {
    if (--e->refs > 0) return;
    store_snapshot_release(e->snap);
    free(e);
}

/* (lock held) Takes e off the list and drops the registry's reference. */
static void unlist(snapshot_entry *e) {
    snapshot_entry **p = &reg.head, *prev = NULL;
    while (*p && *p != e) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p) return;
    *p = e->next;
    if (reg.tail == e) reg.tail = prev;
    reg.n--;
    unref(e);
}

/* (lock held) A snapshot being read (a reference besides the registry's) is not idle, however
 * long that READ takes: its client's next READ must find it. */
static void expire_locked(int64_t now) {
    snapshot_entry *e = reg.head;
    while (e) {
        snapshot_entry *next = e->next;
        if (e->refs == 1 && now - e->info.read_ms > (int64_t)e->info.ttl_s * 1000) unlist(e);
        e = next;
    }
}

/* (lock held) */
static snapshot_entry *find(const char *id, size_t len) {
    if (len != SNAPSHOT_ID_LEN) return NULL;
    for (snapshot_entry *e = reg.head; e; e = e->next)
        if (memcmp(e->info.id, id, len) == 0) return e;
    return NULL;
}

/* (lock held) A fresh id: 64 random bits in hex, unlike any listed one. */
static void new_id(char *id) {
    do snprintf(id, SNAPSHOT_ID_LEN + 1, "%016llx", (unsigned long long)random_u64());
    while (find(id, SNAPSHOT_ID_LEN));
}

snapshot_status snapshots_create(int ttl_s, snapshot_info *out) {
    pthread_mutex_lock(&reg.lock);
    int64_t now = time_mono_ms();
    expire_locked(now);
    if (reg.n >= (size_t)CONFIG_READ(cdc_max_snapshots)) {
        pthread_mutex_unlock(&reg.lock);
        return SNAPSHOT_TOO_MANY;
    }
    snapshot_entry *e = calloc(1, sizeof(*e));
    if (!e) abort();
    e->snap = store_snapshot_take(&e->info.sequence);
    e->info.created_ms = time_now_ms();
    e->info.read_ms = now;
    e->info.ttl_s = ttl_s;
    e->refs = 1;
    new_id(e->info.id);
    if (reg.tail) reg.tail->next = e;
    else reg.head = e;
    reg.tail = e;
    reg.n++;
    *out = e->info;
    pthread_mutex_unlock(&reg.lock);
    return SNAPSHOT_OK;
}

snapshot_status snapshots_get(const char *id, size_t len, snapshot_ref *ref) {
    pthread_mutex_lock(&reg.lock);
    int64_t now = time_mono_ms();
    expire_locked(now);
    snapshot_entry *e = find(id, len);
    if (e) {
        e->info.read_ms = now;
        e->refs++;
        ref->e = e;
        ref->snap = e->snap;
        ref->info = e->info;
    }
    pthread_mutex_unlock(&reg.lock);
    return e ? SNAPSHOT_OK : SNAPSHOT_UNKNOWN;
}

void snapshots_put(snapshot_ref *ref) {
    pthread_mutex_lock(&reg.lock);
    /* A read that took long renews from its end, so the idle time counts from the last reply. */
    ref->e->info.read_ms = time_mono_ms();
    unref(ref->e);
    pthread_mutex_unlock(&reg.lock);
    ref->e = NULL;
    ref->snap = NULL;
}

snapshot_status snapshots_release(const char *id, size_t len) {
    pthread_mutex_lock(&reg.lock);
    expire_locked(time_mono_ms());
    snapshot_entry *e = find(id, len);
    if (e) unlist(e);
    pthread_mutex_unlock(&reg.lock);
    return e ? SNAPSHOT_OK : SNAPSHOT_UNKNOWN;
}

snapshot_info *snapshots_all(size_t *n) {
    pthread_mutex_lock(&reg.lock);
    expire_locked(time_mono_ms());
    snapshot_info *all = malloc((reg.n ? reg.n : 1) * sizeof(*all));
    if (!all) abort();
    size_t i = 0;
    for (snapshot_entry *e = reg.head; e; e = e->next) all[i++] = e->info;
    *n = i;
    pthread_mutex_unlock(&reg.lock);
    return all;
}

size_t snapshots_count(void) {
    pthread_mutex_lock(&reg.lock);
    expire_locked(time_mono_ms());
    size_t n = reg.n;
    pthread_mutex_unlock(&reg.lock);
    return n;
}

void snapshots_expire(void) {
    pthread_mutex_lock(&reg.lock);
    expire_locked(time_mono_ms());
    pthread_mutex_unlock(&reg.lock);
}

void snapshots_close(void) {
    pthread_mutex_lock(&reg.lock);
    while (reg.head) unlist(reg.head);
    pthread_mutex_unlock(&reg.lock);
}
