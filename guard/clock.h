/*
 * clock.h — the guard's monotonic clock, in ms and µs (deadlines, time to
 * live, latency). Inline: the per-SYN path reads it several times.
 */
#ifndef HOPTRACE_GUARD_CLOCK_H
#define HOPTRACE_GUARD_CLOCK_H

#include <time.h>

static inline long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static inline long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

#endif
