/* tidekv-cdc: follows a tidekv through a durable consumer and delivers every change to a
 * sink exactly once (CDC.md "tidekv-cdc"). This file runs sessions (follow.c) until one ends
 * the program, reconnecting with backoff when a side goes away. */
#include <stdio.h>

#include "follow.h"
#include "options.h"
#include "progress.h"
#include "sink.h"

#define FIRST_BACKOFF_S 0.1
#define MAX_BACKOFF_S 5.0

/* Exit code of the run: 0 when stopped (signal, --once), 1 when it gave up. */
static int run(const cdc_options *o, sink *s) {
    progress prog;
    progress_init(&prog, o->progress_s);
    int ever_reached = 0;
    double backoff = FIRST_BACKOFF_S, last_progress = cdc_now();
    for (;;) {
        follower f = {.opt = o, .snk = s, .prog = &prog};
        cdc_error e = {{0}};
        cdc_status st = follow_session(&f, &e);
        if (st == CDC_STOP) return 0;
        /* A server never reached is a mistake to report (a wrong address), not an outage to
         * wait out; one that answered (LOADING after a restart, say) is waited for. */
        ever_reached |= st != CDC_UNREACHABLE;
        if (st == CDC_FATAL || !ever_reached) {
            cdc_log("error: %s", e.msg);
            return 1;
        }
        if (f.progressed) {
            last_progress = cdc_now();
            backoff = FIRST_BACKOFF_S;
        }
        if (cdc_now() - last_progress > o->retry_s) {
            cdc_log("error: %s; gave up after %.0f s without progress (--retry)", e.msg, cdc_now() - last_progress);
            return 1;
        }
        cdc_log("%s; reconnecting in %.1f s", e.msg, backoff);
        if (sleep_unless_stopped(backoff)) return 0;
        backoff = backoff * 2 < MAX_BACKOFF_S ? backoff * 2 : MAX_BACKOFF_S;
    }
}

int main(int argc, char **argv) {
    cdc_options o;
    char err[1024];
    switch (options_parse(argc, argv, &o, err, sizeof(err))) {
    case OPTIONS_HELP:
        options_usage(stdout);
        return 0;
    case OPTIONS_BAD:
        fprintf(stderr, "tidekv-cdc: %s\n", err);
        return EXIT_USAGE;
    case OPTIONS_RUN:
        break;
    }
    sink *s = sink_create(o.sink_url, &o, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "tidekv-cdc: %s\n", err);
        return EXIT_USAGE;
    }
    signals_install();
    int code = run(&o, s);
    s->type->destroy(s);
    return code;
}
