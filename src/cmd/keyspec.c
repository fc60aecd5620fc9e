/* Finding a command's keys from its descriptor: its key specs or its getkeys function. */
#include "cmd/cmd.h"

#include <limits.h>
#include <stdlib.h>

/* The keys one range spec finds: argv[index] up to lastkey, every keystep. */
static void range_keys(const key_spec *s, int argc, key_sink *sink) {
    int last = s->a >= 0 ? s->index + s->a : argc + s->a;
    int step = s->b > 0 ? s->b : 1;
    for (int i = s->index; i <= last && i < argc; i += step) sink->add(sink, (key_ref){i, s->flags, -1});
}

/* The keys one keynum spec finds: a count at argv[index + a], the keys from argv[index + b].
 * A count that is not a positive integer, or that runs past the arguments, is malformed. */
static int keynum_keys(const key_spec *s, int argc, const resp_arg *argv, key_sink *sink) {
    int at = s->index + s->a, first = s->index + s->b, step = s->c > 0 ? s->c : 1;
    long long n;
    if (at >= argc || arg_parse_ll(&argv[at], &n) < 0 || n <= 0 || n > argc) return -1;
    if (first + (n - 1) * step >= argc) return -1;
    for (int i = 0; i < n; i++) sink->add(sink, (key_ref){first + i * step, s->flags, -1});
    return 0;
}

int cmd_spec_keys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    for (int i = 0; i < def->nkey_specs; i++) {
        const key_spec *s = &def->key_specs[i];
        if (s->begin != KEY_BEGIN_INDEX || s->index >= argc) continue;
        if (s->find == KEY_FIND_RANGE) range_keys(s, argc, sink);
        else if (s->find == KEY_FIND_KEYNUM && keynum_keys(s, argc, argv, sink) < 0) return -1;
    }
    return 0;
}

int cmd_get_keys(const cmd_def *def, int argc, const resp_arg *argv, key_sink *sink) {
    if (def->getkeys) return def->getkeys(def, argc, argv, sink);
    return cmd_spec_keys(def, argc, argv, sink);
}

/* Hands the keys a descriptor finds to a CDC visitor, until it has seen enough. */
typedef struct visitor_sink {
    key_sink sink; /* first: the sink's add gets the visitor_sink */
    cdc_key_visitor *v;
    int done;
} visitor_sink;

static void visit_key(key_sink *sink, key_ref k) {
    visitor_sink *vs = (visitor_sink *)sink;
    if (!vs->done) vs->done = vs->v->key(vs->v, (size_t)k.pos, k.db);
}

/* Arguments most recorded commands fit in without a malloc. */
#define RECORDED_ARGS_ON_STACK 16

void cmd_recorded_keys(const record_cmd *c, cdc_key_visitor *v) {
    const cmd_def *def = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    if (!def || c->argc > INT_MAX || !cmd_arity_ok(def, (int)c->argc)) return; /* no key it names */
    resp_arg on_stack[RECORDED_ARGS_ON_STACK];
    resp_arg *argv = c->argc <= RECORDED_ARGS_ON_STACK ? on_stack : malloc(c->argc * sizeof(resp_arg));
    if (!argv) abort();
    for (size_t i = 0; i < c->argc; i++) argv[i] = (resp_arg){(char *)c->argv[i].ptr, c->argv[i].len};
    visitor_sink vs = {{visit_key}, v, 0};
    (void)cmd_get_keys(def, (int)c->argc, argv, &vs.sink); /* malformed: the keys found before */
    if (argv != on_stack) free(argv);
}
