/* SPDX-License-Identifier: MIT */
/*
 * Sliding-window minimum rate: the last five complete one-second buckets,
 * so a burst long ago does not excuse a trickle now, and one slow second
 * does not condemn a client that is fast on average. Only complete buckets
 * are judged: a partly elapsed one would count its bytes against too short
 * a time. Pure: no I/O, no clock of its own.
 */
#include "rate.h"

#include <string.h>

void
sl_rate_start(struct sl_rate *r, uint64_t now)
{
	memset(r, 0, sizeof(*r));
	r->start_ms = now;
	r->bucket_ms = now;
	r->next_ms = now + SL_RATE_BUCKET_MS;
}

/* Moves the current bucket forward to the one that contains now. */
static void
advance(struct sl_rate *r, uint64_t now)
{
	uint64_t steps;

	if (now < r->bucket_ms + SL_RATE_BUCKET_MS)
		return;
	steps = (now - r->bucket_ms) / SL_RATE_BUCKET_MS;
	for (uint64_t i = 0; i <= SL_RATE_NBUCKETS && i < steps; i++) {
		r->cur = (r->cur + 1) % (SL_RATE_NBUCKETS + 1);
		r->b[r->cur] = 0;
	}
	r->bucket_ms += steps * SL_RATE_BUCKET_MS;
}

void
sl_rate_add(struct sl_rate *r, uint64_t now, uint64_t n)
{
	if (r->start_ms == 0)
		return;
	advance(r, now);
	r->b[r->cur] = n > UINT32_MAX - r->b[r->cur]
			   ? UINT32_MAX
			   : r->b[r->cur] + (uint32_t)n;
}

void
sl_rate_add_completed(struct sl_rate *r, uint64_t now, uint64_t n)
{
	unsigned prev;

	if (r->start_ms == 0)
		return;
	advance(r, now);
	prev = (r->cur + SL_RATE_NBUCKETS) % (SL_RATE_NBUCKETS + 1);
	r->b[prev] =
	    n > UINT32_MAX - r->b[prev] ? UINT32_MAX : r->b[prev] + (uint32_t)n;
}

void
sl_rate_excuse(struct sl_rate *r, uint64_t now)
{
	r->excused_ms = now;
}

int
sl_rate_check(struct sl_rate *r, uint64_t now, uint64_t min_bps)
{
	uint64_t sum = 0, span, oldest;

	if (r->start_ms == 0 || min_bps == 0)
		return 0;
	/* ticks every bucket from the start, so that a sampled meter
	 * (sl_rate_add_completed) is fed during the grace period too */
	advance(r, now);
	r->next_ms = r->bucket_ms + SL_RATE_BUCKET_MS;
	if (now < r->start_ms + SL_RATE_GRACE_MS)
		return 0;
	for (unsigned i = 0; i <= SL_RATE_NBUCKETS; i++)
		if (i != r->cur)
			sum += r->b[i];
	/* the window: the complete buckets, from the phase start when the
	 * phase is younger than the window */
	oldest =
	    r->bucket_ms >=
		    r->start_ms + (uint64_t)SL_RATE_NBUCKETS * SL_RATE_BUCKET_MS
		? r->bucket_ms - (uint64_t)SL_RATE_NBUCKETS * SL_RATE_BUCKET_MS
		: r->start_ms;
	span = r->bucket_ms - oldest;
	if (span == 0)
		return 0;
	if (r->excused_ms != 0 && r->excused_ms >= oldest)
		return 0;
	return sum * 1000 < min_bps * span;
}
