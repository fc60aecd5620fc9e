/* What tidekv-cdc tells its operator: a progress line every --progress seconds, and the stop
 * request of SIGTERM / SIGINT, which the follower honours between batches. */
#ifndef TIDEKV_CDC_PROGRESS_H
#define TIDEKV_CDC_PROGRESS_H

#include <stddef.h>

#include "sink.h"

typedef struct progress {
    double interval_s; /* 0: no progress lines */
    double last_line;  /* when the last line was printed (or counting began) */
    int copying;
    long long position, latest;
    long long batches, entries;                 /* since the start */
    long long batches_at_line, entries_at_line; /* at the last line */
} progress;

void progress_init(progress *p, double interval_s);

/* A snapshot page of n entries was copied. */
void progress_copied(progress *p, size_t n);

/* A poll's n batches were applied; the sink is at position, the source at latest. */
void progress_followed(progress *p, long long position, long long latest, size_t n);

/* Prints the progress line if it is due. */
void progress_tick(progress *p, sink *s);

/* Installs the SIGTERM / SIGINT handlers (and ignores SIGPIPE: a closed socket is an error
 * return, not a death). */
void signals_install(void);

/* Whether SIGTERM or SIGINT arrived. */
int stop_requested(void);

/* Sleeps for seconds, or less if a stop is requested; returns stop_requested(). */
int sleep_unless_stopped(double seconds);

#endif
