/* SPDX-License-Identifier: MIT */
/*
 * Latency histograms: the upper bounds of the buckets in milliseconds,
 * suited to 1 ms - 10 s (Prometheus's "le" in seconds); the last slot
 * counts what is above the last bound. Here, below every counter that
 * uses them (the worker's, wloop.h; a route's or cluster's, runtime.h),
 * so that sizing one needs nothing of the layers above.
 */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stdint.h>

#define SL_HIST_BOUNDS                                                         \
	{                                                                      \
		1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000  \
	}
#define SL_HIST_N 14 /* 13 bounds and +Inf */

/* The slot of a duration of ms milliseconds. */
static inline unsigned
sl_hist_slot(uint64_t ms)
{
	/* twice the bounds: 2.5 ms is 5 half-milliseconds */
	static const uint32_t b2[SL_HIST_N - 1] = {
	    2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000};
	unsigned i = 0;

	ms *= 2;
	while (i < SL_HIST_N - 1 && ms > b2[i])
		i++;
	return i;
}

#endif
