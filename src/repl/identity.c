#include "repl/identity.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/buf.h"
#include "util/file.h"
#include "util/log.h"
#include "util/random.h"

#define IDENTITY_FILE "replication-id"
#define NO_REPLID "0000000000000000000000000000000000000000"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static repl_identity current = {.replid2 = NO_REPLID, .second_offset = -1};
static char *saved_dir;
static char run_id[REPLID_LEN + 1];

void identity_new_id(char out[REPLID_LEN + 1]) {
    unsigned char bytes[REPLID_LEN / 2];
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) /* only without getrandom(2) */
        for (size_t i = 0; i < sizeof(bytes); i++) bytes[i] = (unsigned char)random_u64();
    for (size_t i = 0; i < sizeof(bytes); i++) sprintf(out + 2 * i, "%02x", bytes[i]);
}

int identity_is_replid(const char *s) { return strlen(s) == REPLID_LEN && strspn(s, "0123456789abcdef") == REPLID_LEN; }

/* Writes the current identity to its file; the caller holds the lock. */
static int save_locked(void) {
    char text[2 * REPLID_LEN + 32], err[256];
    int n = snprintf(text, sizeof(text), "%s %s %lld %d\n", current.replid, current.replid2,
                     (long long)current.second_offset, current.following);
    if (file_write_atomic(saved_dir, IDENTITY_FILE, text, (size_t)n, err, sizeof(err)) == 0) return 0;
    log_msg(LOG_WARNING, "can't save the replication id: %s", err);
    return -1;
}

/* Parses "replid replid2 second_offset following": 0, or -1 if it is not that. */
static int parse(const char *text, repl_identity *out) {
    long long offset;
    char a[REPLID_LEN + 2], b[REPLID_LEN + 2];
    int following = 0; /* absent from files of the first version */
    if (sscanf(text, "%41s %41s %lld %d", a, b, &offset, &following) < 3 || !identity_is_replid(a) || !identity_is_replid(b) ||
        offset < -1)
        return -1;
    out->following = following != 0;
    memcpy(out->replid, a, REPLID_LEN + 1);
    memcpy(out->replid2, b, REPLID_LEN + 1);
    out->second_offset = offset;
    return 0;
}

const char *identity_run_id(void) { return run_id; }

int identity_load(const char *dir) {
    pthread_mutex_lock(&lock);
    identity_new_id(run_id);
    free(saved_dir);
    saved_dir = strdup(dir);
    if (!saved_dir) abort();
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
    buf text;
    buf_init(&text);
    int found = file_read_all(path, &text);
    buf_append_byte(&text, 0);
    int rc = 0;
    if (found != 1 || parse(text.data, &current) < 0) {
        if (found != 0) log_msg(LOG_WARNING, "'%s' is unreadable or malformed: starting a new replication history", path);
        identity_new_id(current.replid);
        rc = save_locked();
    }
    buf_free(&text);
    pthread_mutex_unlock(&lock);
    return rc;
}

repl_identity identity_get(void) {
    pthread_mutex_lock(&lock);
    repl_identity copy = current;
    pthread_mutex_unlock(&lock);
    return copy;
}

int identity_adopt(const char *master_replid, uint64_t next_sequence) {
    if (!identity_is_replid(master_replid)) return -1;
    pthread_mutex_lock(&lock);
    int changed = strcmp(current.replid, master_replid) != 0, rc = 0;
    if (changed) {
        memcpy(current.replid2, current.replid, REPLID_LEN + 1);
        current.second_offset = (int64_t)next_sequence;
        memcpy(current.replid, master_replid, REPLID_LEN + 1);
    }
    if (changed || !current.following) {
        current.following = 1;
        rc = save_locked();
    }
    if (rc == 0) rc = changed;
    pthread_mutex_unlock(&lock);
    return rc;
}

int identity_replace(const char *master_replid) {
    if (!identity_is_replid(master_replid)) return -1;
    pthread_mutex_lock(&lock);
    memcpy(current.replid, master_replid, REPLID_LEN + 1);
    memcpy(current.replid2, NO_REPLID, REPLID_LEN + 1);
    current.second_offset = -1;
    current.following = 1;
    int rc = save_locked();
    pthread_mutex_unlock(&lock);
    return rc;
}

int identity_promote(uint64_t next_sequence) {
    pthread_mutex_lock(&lock);
    memcpy(current.replid2, current.replid, REPLID_LEN + 1);
    current.second_offset = (int64_t)next_sequence;
    current.following = 0;
    identity_new_id(current.replid);
    int rc = save_locked();
    pthread_mutex_unlock(&lock);
    return rc;
}

int identity_knows(const char *replid, uint64_t sequence) {
    repl_identity id = identity_get();
    if (strcmp(replid, id.replid) == 0) return 1;
    /* The old history is ours up to where the new one began. */
    return id.second_offset >= 0 && strcmp(replid, id.replid2) == 0 && sequence < (uint64_t)id.second_offset;
}
