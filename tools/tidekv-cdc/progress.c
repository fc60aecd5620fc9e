#include "progress.h"

#include <signal.h>
#include <string.h>
#include <time.h>

void progress_init(progress *p, double interval_s) {
    memset(p, 0, sizeof(*p));
    p->interval_s = interval_s;
    p->last_line = cdc_now();
}

void progress_copied(progress *p, size_t n) {
    p->copying = 1;
    p->entries += (long long)n;
}

void progress_followed(progress *p, long long position, long long latest, size_t n) {
    p->copying = 0;
    p->position = position;
    p->latest = latest;
    p->batches += (long long)n;
}

void progress_tick(progress *p, sink *s) {
    double now = cdc_now(), elapsed = now - p->last_line;
    if (p->interval_s <= 0 || elapsed < p->interval_s) return;
    char extra[128] = "";
    s->type->describe(s, extra, sizeof(extra));
    if (p->copying)
        cdc_log("copying the snapshot: entries=%lld entries/s=%.0f%s", p->entries,
                (p->entries - p->entries_at_line) / elapsed, extra);
    else
        cdc_log("position=%lld lag=%lld batches/s=%.1f%s", p->position,
                p->latest > p->position ? p->latest - p->position : 0, (p->batches - p->batches_at_line) / elapsed,
                extra);
    p->last_line = now;
    p->batches_at_line = p->batches;
    p->entries_at_line = p->entries;
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

void signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int stop_requested(void) { return stop_signal != 0; }

int sleep_unless_stopped(double seconds) {
    double until = cdc_now() + seconds;
    while (!stop_requested() && cdc_now() < until) {
        struct timespec step = {0, 50 * 1000 * 1000};
        nanosleep(&step, NULL);
    }
    return stop_requested();
}
