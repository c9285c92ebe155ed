/* SPDX-License-Identifier: MIT */
/*
 * Budgets of a cost per client (budget.h): an open-addressed table of
 * token buckets, each refilled lazily when its client is looked at.
 */
#include "budget.h"

#include <stdint.h>
#include <stdlib.h>

#define WINDOW 8 /* slots a key may be kept in, from its hash's */

struct slot {
	uint64_t key;	/* 0: free */
	int64_t tokens; /* at `at` */
	uint64_t at;	/* monotonic ns */
	uint64_t mean;	/* a charge's cost, a moving mean (0: none yet) */
};

struct sl_budget {
	uint64_t rate, burst;
	uint64_t full_ns; /* a refill from a whole debt to a full bucket */
	struct slot s[SL_BUDGET_SLOTS];
};

struct sl_budget *
sl_budget_new(uint64_t rate, uint64_t burst)
{
	struct sl_budget *b;

	/* a millisecond a second at least: full_ns fits 64 bits */
	if (rate < 1000000u || (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->rate = rate;
	/* 73 minutes at most: refilled() multiplies microseconds by the
	 * rate in 64 bits */
	b->burst = burst > (1ull << 42) ? 1ull << 42 : burst;
	b->full_ns =
	    (uint64_t)((unsigned __int128)2 * b->burst * 1000000000u / rate) +
	    1;
	return b;
}

void
sl_budget_free(struct sl_budget *b)
{
	free(b);
}

/* A key is never 0 (a free slot's). */
static uint64_t
key_of(uint64_t key)
{
	return key != 0 ? key : 1;
}

/* s's balance at now: refilled since s->at, at most burst. */
static int64_t
refilled(const struct sl_budget *b, const struct slot *s, uint64_t now)
{
	uint64_t dt, add;

	if (now <= s->at)
		return s->tokens;
	if ((dt = now - s->at) >= b->full_ns)
		return (int64_t)b->burst;
	/* in microseconds: dt < full_ns keeps the product in 64 bits, and
	 * the divisions are by constants (a multiply each, not a call) */
	add = dt / 1000u * b->rate / 1000000u;
	if (add >= (uint64_t)((int64_t)b->burst - s->tokens))
		return (int64_t)b->burst;
	return s->tokens + (int64_t)add;
}

static struct slot *
find(struct sl_budget *b, uint64_t key)
{
	size_t at = (size_t)(key ^ (key >> 32)) & (SL_BUDGET_SLOTS - 1);

	for (unsigned i = 0; i < WINDOW; i++) {
		struct slot *s = &b->s[(at + i) & (SL_BUDGET_SLOTS - 1)];
		if (s->key == key)
			return s;
	}
	return NULL;
}

uint64_t
sl_budget_wait_ms(struct sl_budget *b, uint64_t key, uint64_t now_ns)
{
	const struct slot *s = find(b, key_of(key));
	int64_t left;

	if (s == NULL || (left = refilled(b, s, now_ns)) >= 0)
		return 0;
	/* until the refill brings it to 0, rounded up */
	return (uint64_t)((unsigned __int128)(uint64_t)-left * 1000u /
			  b->rate) +
	       1;
}

uint64_t
sl_budget_cost(struct sl_budget *b, uint64_t key)
{
	const struct slot *s = find(b, key_of(key));

	return s != NULL ? s->mean : 0;
}

int64_t
sl_budget_left(struct sl_budget *b, uint64_t key, uint64_t now_ns)
{
	const struct slot *s = find(b, key_of(key));

	return s != NULL ? refilled(b, s, now_ns) : (int64_t)b->burst;
}

void
sl_budget_charge(struct sl_budget *b, uint64_t key, uint64_t cost,
		 uint64_t now_ns)
{
	struct slot *s;
	int64_t c = cost > INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)cost;

	key = key_of(key);
	if ((s = find(b, key)) == NULL) {
		/* a free slot of the window, else the one nearest a full
		 * bucket */
		size_t at = (size_t)(key ^ (key >> 32)) & (SL_BUDGET_SLOTS - 1);
		int64_t most = INT64_MIN;
		for (unsigned i = 0; i < WINDOW; i++) {
			struct slot *q =
			    &b->s[(at + i) & (SL_BUDGET_SLOTS - 1)];
			int64_t left =
			    q->key == 0 ? INT64_MAX : refilled(b, q, now_ns);
			if (left > most) {
				most = left;
				s = q;
			}
		}
		s->key = key;
		s->tokens = (int64_t)b->burst;
		s->at = now_ns;
		s->mean = 0;
	}
	/* the last charges weigh most: a quarter each, so that a client
	 * that changes what it sends is seen as it is within a few */
	s->mean = s->mean == 0 ? (uint64_t)c
			       : s->mean - s->mean / 4 + (uint64_t)c / 4;
	s->tokens = refilled(b, s, now_ns);
	if (now_ns > s->at)
		s->at = now_ns;
	/* a debt is bounded: a client owes a burst at most, and waits at
	 * most burst / rate for it */
	s->tokens = s->tokens - c < -(int64_t)b->burst ? -(int64_t)b->burst
						       : s->tokens - c;
}
