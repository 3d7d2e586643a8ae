/* clock.h - milliseconds on the monotonic clock, and sleeping for some. */
#ifndef CFS_COMMON_CLOCK_H
#define CFS_COMMON_CLOCK_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Now on CLOCK_MONOTONIC, in ms: for deadlines and backoff, never for
 * anything stored or sent (it means nothing on another machine). */
static inline int64_t
cfs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* *ts = now + @ms on CLOCK_MONOTONIC: a deadline for
 * pthread_cond_timedwait on a condition made with that clock. */
static inline void
cfs_deadline_ts(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	if (ms < 0)
		ms = 0;
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* pthread_cond_init(@c) on CLOCK_MONOTONIC, the clock of cfs_deadline_ts
 * (a wall-clock step must not stretch or cut a wait). */
static inline int
cfs_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int rv;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return rv;
}

/* Sleep @ms (nothing if @ms <= 0), resuming after signals. */
static inline void
cfs_sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000};

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#endif /* CFS_COMMON_CLOCK_H */
