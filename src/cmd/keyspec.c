/* Finding a command's keys from its descriptor: its key specs or its getkeys function. */
#include "cmd/cmd.h"

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
