/* Outcomes of the steps of tidekv-cdc, their messages, and its log lines. */
#ifndef TIDEKV_CDC_REPORT_H
#define TIDEKV_CDC_REPORT_H

/* What a step's caller does next. */
typedef enum cdc_status {
    CDC_OK = 0,
    CDC_RETRY, /* a connection broke or a server is not ready: reconnect, recover, go on */
    CDC_UNREACHABLE, /* a server could not be connected to: retried only if it was reached before */
    CDC_FATAL, /* retrying cannot help (bad password, refused write, lost history …): exit 1 */
    CDC_GONE,  /* the snapshot being copied no longer exists: copy again from a new one */
    CDC_STOP,  /* SIGTERM / SIGINT, or --once caught up: exit 0 */
} cdc_status;

/* The message that goes with a status other than CDC_OK. */
typedef struct cdc_error {
    char msg[1024];
} cdc_error;

/* Formats the message into e and returns status, so that a step can `return cdc_fail(…)`. */
cdc_status cdc_fail(cdc_error *e, cdc_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line on stderr: UTC time, "tidekv-cdc:", the message. */
void cdc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic seconds. */
double cdc_now(void);

#endif
