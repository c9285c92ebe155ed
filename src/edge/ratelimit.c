/* SPDX-License-Identifier: MIT */
/*
 * GCRA over a lock-free table shared by the workers, and the per-worker
 * table of leased cells of fleet limits (ratelimit.h says how each works
 * and what it gets wrong). No I/O, no clock, no locks.
 */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "ratelimit_conf.h"
#include "util.h"

/* the rate limits' module (ratelimit_conf.h), set by its placed hook */
const struct sl_module *sl_rl_module;

#define TAG_SHIFT SL_RL_TAT_BITS

void
sl_rl_spec_init(struct sl_rl_spec *s, uint64_t rate, uint64_t unit_s,
		uint64_t burst)
{
	uint64_t unit_us = unit_s * 1000000;

	if (rate == 0)
		rate = 1;
	if (burst == 0)
		burst = 1;
	s->interval_us = (unit_us + rate - 1) / rate;
	if (s->interval_us == 0)
		s->interval_us = 1;
	s->tolerance_us = (burst - 1) * s->interval_us;
}

/* Slots (or entries) for max_keys: a power of two, at least one bucket. */
static uint64_t
table_size(uint64_t max_keys)
{
	uint64_t n = SL_RL_WAYS;

	if (max_keys > SL_RL_MAX_KEYS)
		max_keys = SL_RL_MAX_KEYS;
	while (n < max_keys)
		n <<= 1;
	return n;
}

size_t
sl_rl_table_bytes(uint64_t max_keys)
{
	return sizeof(struct sl_rl_table) +
	       (size_t)table_size(max_keys) * sizeof(uint64_t);
}

struct sl_rl_table *
sl_rl_table_new(uint64_t max_keys)
{
	uint64_t n = table_size(max_keys);
	size_t sz = sl_rl_table_bytes(max_keys);
	struct sl_rl_table *t;

	/* whole cache lines, so that a bucket (32 bytes) never straddles
	 * two */
	sz = (sz + 63) & ~(size_t)63;
	if ((t = aligned_alloc(64, sz)) == NULL)
		return NULL;
	memset(t, 0, sz);
	t->mask = n - 1;
	return t;
}

void
sl_rl_table_free(struct sl_rl_table *t)
{
	free(t);
}

void
sl_rl_give_back(struct sl_rl_table *t, const struct sl_rl_spec *s, uint64_t h,
		uint64_t now)
{
	_Atomic uint64_t *b =
	    &t->slot[(h & t->mask) & ~(uint64_t)(SL_RL_WAYS - 1)];
	uint64_t tag = h >> TAG_SHIFT;

	for (unsigned i = 0; i < SL_RL_WAYS; i++) {
		uint64_t w = atomic_load_explicit(&b[i], memory_order_acquire);
		for (;;) {
			uint64_t tat = w & SL_RL_TAT_MASK, back;
			if ((w >> TAG_SHIFT) != tag || tat <= now)
				break;
			/* at most back to now: a key at rest */
			back = tat - now > s->interval_us ? tat - s->interval_us
							  : now;
			if (atomic_compare_exchange_weak_explicit(
				&b[i], &w, (tag << TAG_SHIFT) | back,
				memory_order_acq_rel, memory_order_acquire))
				return;
		}
	}
}

/* ---- leases ------------------------------------------------------------ */

size_t
sl_rl_ltab_bytes(uint64_t max_keys)
{
	return sizeof(struct sl_rl_ltab) +
	       (size_t)table_size(max_keys) * sizeof(struct sl_rl_lentry);
}

struct sl_rl_ltab *
sl_rl_ltab_new(uint64_t max_keys)
{
	struct sl_rl_ltab *t = calloc(1, sl_rl_ltab_bytes(max_keys));

	if (t != NULL)
		t->mask = table_size(max_keys) - 1;
	return t;
}

void
sl_rl_ltab_free(struct sl_rl_ltab *t)
{
	free(t);
}

/* Something waits on e: it may not go. */
static int
pinned(const struct sl_rl_lentry *e)
{
	return (e->flags & SL_RL_L_INFLIGHT) || e->wq != NULL;
}

/* e holds nothing that matters at now: its cells are stale, its
 * refusal over, nothing waits on it. */
static int
stale(const struct sl_rl_lentry *e, uint64_t now)
{
	return e->h == 0 ||
	       (!pinned(e) && e->until_us <= now && e->next_us <= now);
}

static void
entry_reset(struct sl_rl_lentry *e, uint64_t h, uint64_t now)
{
	e->h = h;
	e->cells = 0;
	e->flags = 0;
	e->until_us = now + SL_RL_LEASE_TTL_US;
	e->next_us = 0;
	e->used_us = now;
	e->wq = NULL;
	e->wq_tail = &e->wq;
}

enum sl_rl_verdict
sl_rl_lease_take(struct sl_rl_ltab *t, uint64_t h, uint64_t now, uint32_t low,
		 struct sl_rl_lentry **ep, int *prefetch,
		 struct sl_rl_result *r)
{
	struct sl_rl_lentry *b, *e = NULL, *victim, *free_e = NULL, *lru = NULL;

	*prefetch = 0;
	r->wait_us = 0;
	r->evicted = 0;
	*ep = NULL;
	if (h == 0)
		h = 1; /* 0 marks a free entry */
	b = &t->e[(h & t->mask) & ~(uint64_t)(SL_RL_WAYS - 1)];
	for (unsigned i = 0; i < SL_RL_WAYS; i++) {
		if (b[i].h == h) {
			e = &b[i];
			break;
		}
		/* a free one, else the least recently used that nothing
		 * waits on */
		if (stale(&b[i], now)) {
			if (free_e == NULL)
				free_e = &b[i];
		} else if (!pinned(&b[i]) &&
			   (lru == NULL || b[i].used_us < lru->used_us))
			lru = &b[i];
	}
	victim = free_e != NULL ? free_e : lru;
	if (e != NULL && stale(e, now))
		victim = e, e = NULL;
	if (e == NULL) {
		if (victim == NULL)
			return SL_RL_FULL;
		r->evicted = !stale(victim, now);
		entry_reset(victim, h, now);
		*ep = victim;
		return SL_RL_FIRST;
	}
	*ep = e;
	e->used_us = now;
	if (e->cells > 0 && e->until_us <= now)
		e->cells = 0; /* too old to be used */
	if (e->cells > 0) {
		e->cells--;
		*prefetch = e->cells <= low && !(e->flags & SL_RL_L_INFLIGHT);
		return SL_RL_CELL;
	}
	if (e->flags & SL_RL_L_INFLIGHT)
		return SL_RL_WAIT;
	if (e->next_us > now) {
		r->wait_us = e->next_us - now;
		return SL_RL_REFUSED;
	}
	return SL_RL_ASK;
}

void
sl_rl_lease_sent(struct sl_rl_lentry *e)
{
	e->flags |= SL_RL_L_INFLIGHT;
}

void
sl_rl_lease_wait(struct sl_rl_lentry *e, struct sl_rl_wait *wt)
{
	if (e->wq == NULL)
		e->wq_tail = &e->wq;
	wt->next = NULL;
	wt->entry = e;
	*e->wq_tail = wt;
	e->wq_tail = &wt->next;
}

void
sl_rl_lease_cancel(struct sl_rl_wait *wt)
{
	struct sl_rl_lentry *e = wt->entry;
	struct sl_rl_wait **pp;

	if (e == NULL)
		return;
	for (pp = &e->wq; *pp != NULL; pp = &(*pp)->next)
		if (*pp == wt) {
			*pp = wt->next;
			if (e->wq_tail == &wt->next)
				e->wq_tail = pp;
			break;
		}
	wt->entry = NULL;
	wt->next = NULL;
}

/* Takes the first waiting request off e's queue, or NULL. */
static struct sl_rl_wait *
wq_pop(struct sl_rl_lentry *e)
{
	struct sl_rl_wait *wt = e->wq;

	if (wt == NULL)
		return NULL;
	e->wq = wt->next;
	if (e->wq == NULL)
		e->wq_tail = &e->wq;
	wt->entry = NULL;
	wt->next = NULL;
	return wt;
}

/* Moves the first n requests of e's queue (all: n < 0) to the end of
 * *list. */
static void
wq_move(struct sl_rl_lentry *e, long n, struct sl_rl_wait **list)
{
	struct sl_rl_wait *wt;

	while (*list != NULL)
		list = &(*list)->next;
	while (n != 0 && (wt = wq_pop(e)) != NULL) {
		*list = wt;
		list = &wt->next;
		if (n > 0)
			n--;
	}
}

int
sl_rl_lease_granted(struct sl_rl_lentry *e, uint32_t cells, uint64_t wait_us,
		    uint64_t now, struct sl_rl_wait **served,
		    struct sl_rl_wait **refused)
{
	long n = 0;

	e->flags &= ~SL_RL_L_INFLIGHT;
	if (cells > 0) {
		if (e->until_us <= now)
			e->cells = 0;
		e->cells += cells;
		e->until_us = now + SL_RL_LEASE_TTL_US;
	}
	e->next_us = wait_us > 0 ? now + wait_us : 0;
	for (struct sl_rl_wait *wt = e->wq; wt != NULL && n < e->cells;
	     wt = wt->next)
		n++;
	e->cells -= (uint32_t)n;
	wq_move(e, n, served);
	if (e->wq != NULL && wait_us == 0)
		return 1; /* more to be had at once: ask again */
	wq_move(e, -1, refused);
	return 0;
}

void
sl_rl_lease_failed(struct sl_rl_lentry *e, struct sl_rl_wait **failed)
{
	e->flags &= ~SL_RL_L_INFLIGHT;
	wq_move(e, -1, failed);
}

void
sl_rl_wait_run(struct sl_rl_wait *list, int verdict, uint64_t wait_us)
{
	while (list != NULL) {
		struct sl_rl_wait *wt = list;
		list = wt->next;
		wt->next = NULL;
		wt->done(wt, verdict, wait_us);
	}
}

void
sl_rl_lease_give_back(struct sl_rl_ltab *t, uint64_t h, uint64_t now)
{
	struct sl_rl_lentry *b;

	if (h == 0)
		h = 1;
	b = &t->e[(h & t->mask) & ~(uint64_t)(SL_RL_WAYS - 1)];
	for (unsigned i = 0; i < SL_RL_WAYS; i++)
		if (b[i].h == h && b[i].until_us > now) {
			b[i].cells++;
			return;
		}
}

_Atomic uint64_t sl_rl_epoch_us;

uint64_t
sl_ratelimit_epoch(uint64_t now)
{
	/* a second back: no key's TAT is ever 0 or before it */
	uint64_t e = 0, want = now - 1000000;

	if (atomic_compare_exchange_strong(&sl_rl_epoch_us, &e, want))
		e = want;
	return e;
}
