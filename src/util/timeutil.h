#ifndef TIDEKV_TIMEUTIL_H
#define TIDEKV_TIMEUTIL_H

#include <stdint.h>

int64_t time_now_ms(void);
int64_t time_now_us(void);
/* Monotonic milliseconds, for timeouts that must not jump with the wall clock. */
int64_t time_mono_ms(void);
int64_t time_mono_us(void);

#endif
