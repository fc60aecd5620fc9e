/* One line per event, with a timestamp and a level, to stderr or the configured file. */
#ifndef TIDEKV_LOG_H
#define TIDEKV_LOG_H

enum log_level { LOG_DEBUG, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };

/* Opens the log file (NULL or "" = stderr); returns 0 or -1 with errno set. */
int log_open(const char *path);
void log_set_level(enum log_level level);
/* Maps a Redis loglevel name (debug, verbose, notice, warning) to a level; -1 if unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
