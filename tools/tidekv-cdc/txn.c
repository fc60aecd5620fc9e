#include "txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"

/* Commands refused inside EXEC are logged one by one up to this many, then only counted. */
#define REFUSALS_LOGGED 20

static long long refusals_logged;

static void remember_name(txn *t, const char *name, size_t len) {
    if (t->queued == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        const char **names = realloc(t->names, cap * sizeof(*names));
        size_t *lens = names ? realloc(t->name_lens, cap * sizeof(*lens)) : NULL;
        if (names) t->names = names;
        if (!lens) {
            t->oom = 1;
            return;
        }
        t->name_lens = lens;
        t->cap = cap;
    }
    t->names[t->queued] = name;
    t->name_lens[t->queued] = len;
    t->queued++;
}

static void append(txn *t, int argc, const char **argv, const size_t *argvlen) {
    if (redisAppendCommandArgv(t->c, argc, argv, argvlen) != REDIS_OK) t->oom = 1;
}

void txn_begin(txn *t, redisContext *c, const char *what) {
    t->c = c;
    t->what = what;
    t->db = 0;
    t->queued = 0;
    t->oom = 0;
    const char *multi[1] = {"MULTI"};
    append(t, 1, multi, NULL);
}

void txn_add(txn *t, int argc, const char **argv, const size_t *argvlen) {
    append(t, argc, argv, argvlen);
    remember_name(t, argv[0], argvlen ? argvlen[0] : strlen(argv[0]));
    /* A change record of a transaction over several databases carries its own SELECTs. */
    size_t len0 = argvlen ? argvlen[0] : strlen(argv[0]);
    if (argc == 2 && len0 == 6 && strncasecmp(argv[0], "SELECT", 6) == 0) t->db = atoi(argv[1]);
}

void txn_select(txn *t, int db) {
    if (t->db == db) return;
    char number[16];
    snprintf(number, sizeof(number), "%d", db);
    const char *argv[2] = {"SELECT", number};
    txn_add(t, 2, argv, NULL);
}

/* Reads one reply; NULL when the connection broke. */
static redisReply *next_reply(txn *t, cdc_error *e) {
    void *reply = NULL;
    if (redisGetReply(t->c, &reply) != REDIS_OK || !reply) {
        cdc_fail(e, CDC_RETRY, "%s: connection lost (%s)", t->what, t->c->errstr[0] ? t->c->errstr : "no reply");
        return NULL;
    }
    return reply;
}

static void log_refusal(txn *t, size_t i, const redisReply *r) {
    t->refused++;
    if (refusals_logged++ < REFUSALS_LOGGED)
        cdc_log("warning: the %s refused %.*s: %s%s", t->what, (int)t->name_lens[i], t->names[i], r->str,
                refusals_logged == REFUSALS_LOGGED ? " (further refusals are only counted)" : "");
}

/* The replies to MULTI and to each queued command: +OK / +QUEUED, or the first refusal. */
static cdc_status read_queued(txn *t, size_t expected, redisReply **refusal, cdc_error *e) {
    for (size_t i = 0; i < expected; i++) {
        redisReply *r = next_reply(t, e);
        if (!r) return CDC_RETRY;
        if (r->type == REDIS_REPLY_ERROR && !*refusal) {
            *refusal = r;
            continue;
        }
        freeReplyObject(r);
    }
    return CDC_OK;
}

cdc_status txn_exec(txn *t, cdc_error *e) {
    txn_select(t, 0);
    const char *exec[1] = {"EXEC"};
    append(t, 1, exec, NULL);
    if (t->oom) return cdc_fail(e, CDC_FATAL, "out of memory");
    redisReply *refusal = NULL;
    cdc_status st = read_queued(t, 1 + t->queued, &refusal, e);
    redisReply *r = st == CDC_OK ? next_reply(t, e) : NULL;
    if (!r) {
        if (refusal) freeReplyObject(refusal);
        return CDC_RETRY;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        /* EXECABORT: nothing was applied; say why the server refused the transaction */
        const redisReply *why = refusal ? refusal : r;
        st = why->type == REDIS_REPLY_ERROR ? conn_reply_error(why, t->what, "MULTI/EXEC", e)
                                            : cdc_fail(e, CDC_FATAL, "%s: EXEC did not run the transaction", t->what);
    } else {
        for (size_t i = 0; i < r->elements && i < t->queued; i++)
            if (r->element[i]->type == REDIS_REPLY_ERROR) log_refusal(t, i, r->element[i]);
    }
    if (refusal) freeReplyObject(refusal);
    freeReplyObject(r);
    return st;
}

void txn_free(txn *t) {
    free(t->names);
    free(t->name_lens);
    memset(t, 0, sizeof(*t));
}
