/* SPDX-License-Identifier: MIT */
/*
 * A minimum-rate meter for one direction of one exchange: bytes counted in
 * one-second buckets over a sliding window, judged after a grace period.
 * Pure: the caller passes the time and owns the struct.
 */
#ifndef SL_RATE_H
#define SL_RATE_H

#include <stdint.h>

#define SL_RATE_BUCKET_MS 1000
#define SL_RATE_NBUCKETS  5 /* window: 5 s */
#define SL_RATE_GRACE_MS  5000

struct sl_rate {
	uint64_t start_ms;   /* phase start; 0 = meter off */
	uint64_t bucket_ms;  /* start of the current bucket */
	uint64_t excused_ms; /* last moment the peer was not at fault */
	uint64_t next_ms;    /* next check */
	uint32_t b[SL_RATE_NBUCKETS + 1]; /* bytes per bucket: the current
					     one and the complete ones */
	unsigned cur;			  /* current bucket */
};

/* Starts measuring at now. */
void sl_rate_start(struct sl_rate *r, uint64_t now);
/* Counts n bytes moved at now. */
void sl_rate_add(struct sl_rate *r, uint64_t now, uint64_t n);
/* Counts n bytes sampled at now as moved during the bucket that just
 * ended (a meter fed once per tick rather than per transfer). */
void sl_rate_add_completed(struct sl_rate *r, uint64_t now, uint64_t n);
/* Notes that at now the gateway, not the peer, held the bytes back (a full
 * buffer, nothing to send): the window that contains now is not judged. */
void sl_rate_excuse(struct sl_rate *r, uint64_t now);
/*
 * Judges the window ending at now. Returns 1 when the peer moved fewer
 * than min_bps bytes per second over it (after the grace period, and not
 * excused), else 0; r->next_ms is then the time of the next check: every
 * bucket boundary from the start, the grace period included.
 */
int sl_rate_check(struct sl_rate *r, uint64_t now, uint64_t min_bps);

#endif
