#include "cmd/offload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/dispatch.h"
#include "config.h"
#include "net/net.h"
#include "util/log.h"

/* One request handed off. The client and the thread share it under `lock`: whichever of the
 * two is done with it last frees it (the client when it has taken the reply, or the thread
 * when the client went away while the command ran). */
typedef struct job {
    struct job *next;
    client *c;   /* the waiting client; NULL once it has gone away */
    client view; /* what the command sees of its client: the client may go away while it runs */
    const cmd_def *def;
    int argc;
    resp_arg *argv;
    buf out;             /* the command's reply */
    size_t reply_max;    /* its bound, the client's when the job was made (0: none) */
    int reply_cut;       /* the reply passed it: the client is closed without it */
    uint64_t written_to; /* the last sequence it wrote, 0 if none */
    int done;
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static job *head, *tail;
static int stopping, running;
static pthread_t thread;

static void job_free(job *j) {
    resp_args_free(j->argv, j->argc);
    buf_free(&j->out);
    free(j);
}

/* Takes the next job, waiting for one; NULL when the thread is to stop. */
static job *next_job(void) {
    pthread_mutex_lock(&lock);
    while (!head && !stopping) pthread_cond_wait(&queued, &lock);
    job *j = stopping ? NULL : head;
    if (j) {
        head = j->next;
        if (!head) tail = NULL;
    }
    pthread_mutex_unlock(&lock);
    return j;
}

static void run_job(job *j) {
    reply r = {&j->out, j->view.resp, j->reply_max, &j->reply_cut};
    j->written_to = dispatch_run_detached(&j->view, j->def, j->argc, j->argv, &r);
    pthread_mutex_lock(&lock);
    j->done = 1;
    client *c = j->c;
    if (c) net_wake(c); /* under the lock: the client cannot be freed meanwhile */
    pthread_mutex_unlock(&lock);
    if (!c) job_free(j);
}

static void *offload_main(void *arg) {
    (void)arg;
    job *j;
    while ((j = next_job()) != NULL) run_job(j);
    return NULL;
}

int offload_start(void) {
    if (pthread_create(&thread, NULL, offload_main, NULL) != 0) {
        log_msg(LOG_WARNING, "cannot start the thread for big requests");
        return -1;
    }
    running = 1;
    return 0;
}

void offload_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = 0;
    while (head) { /* never started, and their clients have gone (the workers stopped first) */
        job *j = head;
        head = j->next;
        job_free(j);
    }
    tail = NULL;
}

int offload_wanted(const client *c, const cmd_def *def) {
    return running && (def->flags & CMD_WRITE) && resp_parser_memory(&c->parser) >= OFFLOAD_MIN_BYTES;
}

/* The client's wait: done once the thread has run the command; its reply then goes out. */
static int job_retry(client *c, int timed_out) {
    (void)timed_out; /* it waits without a timeout */
    job *j = c->block.state;
    pthread_mutex_lock(&lock);
    int done = j->done;
    pthread_mutex_unlock(&lock);
    if (!done) return 0;
    dispatch_send_made_reply(c, &j->out, j->reply_cut, j->written_to);
    c->offloaded_mem = 0;
    return 1;
}

static void job_cleanup(client *c) {
    job *j = c->block.state;
    pthread_mutex_lock(&lock);
    int done = j->done;
    j->c = NULL; /* if it is still to run or running, the thread frees it */
    pthread_mutex_unlock(&lock);
    c->offloaded_mem = 0;
    if (done) job_free(j);
}

void offload_request(client *c, const cmd_def *def) {
    job *j = calloc(1, sizeof(*j));
    if (!j) abort();
    j->c = c;
    j->view.id = c->id;
    j->view.db = c->db;
    j->view.resp = c->resp;
    j->view.authenticated = c->authenticated;
    j->def = def;
    const char *bound_option;
    j->reply_max = (size_t)net_output_bound(c, &bound_option);
    /* Its arguments still count as the client's (maxmemory-clients) until it is done. */
    c->offloaded_mem = resp_parser_memory(&c->parser);
    j->argv = resp_parser_take_args(&c->parser, &j->argc);
    buf_init(&j->out);
    client_block block = {job_retry, job_cleanup, j, 1, NULL};
    net_block(c, 0, &block);
    pthread_mutex_lock(&lock);
    if (tail) tail->next = j;
    else head = j;
    tail = j;
    pthread_cond_signal(&queued);
    pthread_mutex_unlock(&lock);
}
