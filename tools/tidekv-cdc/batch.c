#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"

static cdc_status malformed(cdc_error *e, const char *what) {
    return cdc_fail(e, CDC_FATAL, "source: malformed reply (%s); is it a tidekv server?", what);
}

/* `commands` of a RESP batch: an array of arrays of bulk strings. */
static int commands_shape_ok(const redisReply *cmds) {
    if (!cmds || cmds->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < cmds->elements; i++) {
        const redisReply *c = cmds->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements == 0) return 0;
        for (size_t j = 0; j < c->elements; j++)
            if (c->element[j]->type != REDIS_REPLY_STRING) return 0;
    }
    return 1;
}

/* Sizes the stores for every command and argument of the RESP batches. */
static cdc_status count_resp(const redisReply *array, size_t *ncommands, size_t *nargs, cdc_error *e) {
    *ncommands = *nargs = 0;
    for (size_t i = 0; i < array->elements; i++) {
        const redisReply *cmds = reply_field(array->element[i], "commands");
        if (!commands_shape_ok(cmds)) return malformed(e, "commands");
        *ncommands += cmds->elements;
        for (size_t j = 0; j < cmds->elements; j++) *nargs += cmds->element[j]->elements;
    }
    return CDC_OK;
}

static cdc_status read_resp(const redisReply *array, cdc_batches *out, cdc_error *e) {
    size_t ncommands, nargs;
    cdc_status st = count_resp(array, &ncommands, &nargs, e);
    if (st != CDC_OK) return st;
    out->command_store = malloc((ncommands ? ncommands : 1) * sizeof(cdc_command));
    out->arg_store = malloc((nargs ? nargs : 1) * sizeof(char *));
    out->len_store = malloc((nargs ? nargs : 1) * sizeof(size_t));
    if (!out->command_store || !out->arg_store || !out->len_store) return cdc_fail(e, CDC_FATAL, "out of memory");
    size_t ci = 0, ai = 0;
    for (size_t i = 0; i < array->elements; i++) {
        const redisReply *u = array->element[i];
        cdc_batch *b = &out->items[i];
        long long db;
        if (reply_int_field(u, "db", &db) < 0) return malformed(e, "db");
        b->db = (int)db;
        if (reply_int_field(u, "sequence", &b->sequence) < 0) b->sequence = 0; /* snapshot entries have none */
        const redisReply *cmds = reply_field(u, "commands");
        b->commands = &out->command_store[ci];
        b->ncommands = cmds->elements;
        for (size_t j = 0; j < cmds->elements; j++) {
            const redisReply *c = cmds->element[j];
            cdc_command *cmd = &out->command_store[ci++];
            cmd->argc = (int)c->elements;
            cmd->argv = &out->arg_store[ai];
            cmd->argvlen = &out->len_store[ai];
            for (size_t k = 0; k < c->elements; k++, ai++) {
                out->arg_store[ai] = c->element[k]->str;
                out->len_store[ai] = c->element[k]->len;
            }
        }
    }
    return CDC_OK;
}

/* A JSON batch is a bulk string beginning {"sequence":N (FORMAT JSON puts it first); a
 * snapshot entry has no sequence. */
static void read_json(const redisReply *s, cdc_batch *b) {
    static const char prefix[] = "{\"sequence\":";
    b->json = s->str;
    b->json_len = s->len;
    if (s->len > sizeof(prefix) && memcmp(s->str, prefix, sizeof(prefix) - 1) == 0)
        b->sequence = strtoll(s->str + sizeof(prefix) - 1, NULL, 10);
}

cdc_status batches_read(const redisReply *array, cdc_format format, cdc_batches *out, cdc_error *e) {
    memset(out, 0, sizeof(*out));
    if (!array || array->type != REDIS_REPLY_ARRAY) return malformed(e, "updates");
    out->n = array->elements;
    out->items = calloc(out->n ? out->n : 1, sizeof(cdc_batch));
    if (!out->items) return cdc_fail(e, CDC_FATAL, "out of memory");
    if (format == CDC_FORMAT_RESP) return read_resp(array, out, e);
    for (size_t i = 0; i < array->elements; i++) {
        if (array->element[i]->type != REDIS_REPLY_STRING) return malformed(e, "JSON update");
        read_json(array->element[i], &out->items[i]);
    }
    return CDC_OK;
}

void batches_free(cdc_batches *b) {
    free(b->items);
    free(b->command_store);
    free(b->arg_store);
    free(b->len_store);
    memset(b, 0, sizeof(*b));
}
