#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *log_file;
/* CONFIG SET loglevel changes it while every thread logs: read and written relaxed. */
static atomic_int log_min_level = LOG_NOTICE;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "verbose", "notice", "warning"};
static const char level_marks[] = {'.', '-', '*', '#'};

int log_open(const char *path) {
    if (!path || !*path) {
        log_file = NULL;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f) return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    log_file = f;
    return 0;
}

void log_set_level(enum log_level level) { atomic_store_explicit(&log_min_level, level, memory_order_relaxed); }

int log_level_from_name(const char *name) {
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0) return i;
    return -1;
}

const char *log_level_name(enum log_level level) { return level_names[level]; }

void log_msg(enum log_level level, const char *fmt, ...) {
    if ((int)level < atomic_load_explicit(&log_min_level, memory_order_relaxed)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03d", (int)(tv.tv_usec / 1000));

    pthread_mutex_lock(&log_lock);
    FILE *out = log_file ? log_file : stderr;
    fprintf(out, "%d:M %s %c %s\n", (int)getpid(), when, level_marks[level], msg);
    fflush(out);
    pthread_mutex_unlock(&log_lock);
}
