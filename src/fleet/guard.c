/* SPDX-License-Identifier: MIT */
/*
 * The canary guard of a split (doc/fleet.md section 4): the workers'
 * counts (sl_guard_note) and the main thread's window, judgement and
 * trip (sl_guard_tick). The judgement is a one-sided exact binomial
 * test: given that the window's failures of the canary and the stable
 * cluster are F in all, and that the canary took a share q of their
 * requests, the canary's share of the failures is Binomial(F, q) when it
 * is no worse; a split that unlikely (below SL_GUARD_ALPHA) and a
 * failure share above the stable's by more than the margin trip it. The
 * test is exact for small counts, where a normal approximation would
 * trip on three failures against none. The workers choose by the
 * route's split_held (edge/route.h's sl_route_split_weights): a trip
 * sets its bit.
 */
#include "guard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_types.h"
#include "log.h"
#include "runtime.h"
#include "wloop.h"

double
sl_guard_binom_tail(uint64_t n, uint64_t k, double q)
{
	double lp, term, sum, r = q / (1 - q);

	if (k == 0)
		return 1;
	if (k > n || q <= 0)
		return 0;
	if (q >= 1 || (double)k <= (double)n * q)
		return 1;
	/* the probability of exactly k, then the terms above it: past the
	 * mean they fall, each by (n - i) / (i + 1) * q / (1 - q) */
	lp = lgamma((double)n + 1) - lgamma((double)k + 1) -
	     lgamma((double)(n - k) + 1) + (double)k * log(q) +
	     (double)(n - k) * log1p(-q);
	term = sum = exp(lp);
	for (uint64_t i = k; i < n && term > sum * 1e-15; i++) {
		term *= (double)(n - i) / (double)(i + 1) * r;
		sum += term;
	}
	return sum < 1 ? sum : 1;
}

enum sl_guard_verdict
sl_guard_judge(const struct sl_conf_guard *g, const struct sl_guard_obs *c,
	       const struct sl_guard_obs *s, double *p)
{
	double q, pv;

	if (p != NULL)
		*p = 1;
	if (c->requests < g->min_requests || s->requests < g->min_requests ||
	    c->requests == 0 || s->requests == 0)
		return SL_GUARD_FEW;
	q = (double)c->requests / ((double)c->requests + (double)s->requests);
	/* the margin, in points of percent, before any test */
	if (((double)c->failures / (double)c->requests -
	     (double)s->failures / (double)s->requests) *
		100 >
	    (double)g->margin_percent) {
		pv = sl_guard_binom_tail(c->failures + s->failures, c->failures,
					 q);
		if (pv < SL_GUARD_ALPHA) {
			if (p != NULL)
				*p = pv;
			return SL_GUARD_FAILURES;
		}
	}
	if (g->latency_ms > 0) {
		/* the canary's percentile over the bound, the stable's not:
		 * more than this share of requests slower */
		double over = (100 - (double)g->percentile) / 100;
		if ((double)c->slow / (double)c->requests > over &&
		    (double)s->slow / (double)s->requests <= over) {
			pv = sl_guard_binom_tail(c->slow + s->slow, c->slow, q);
			if (pv < SL_GUARD_ALPHA) {
				if (p != NULL)
					*p = pv;
				return SL_GUARD_LATENCY;
			}
		}
	}
	return SL_GUARD_PASS;
}

void
sl_guard_note(const struct sl_conf_route *r, unsigned w, size_t i, size_t first,
	      int failed, uint64_t up_ms)
{
	const struct sl_conf_guard *g = sl_guard_route(r);
	struct sl_gstate *gs = g->state;
	struct sl_gcounts *c;

	if (i >= gs->n)
		return;
	c = &gs->counts[w][i];
	SL_STAT_INC(c->requests);
	if (failed)
		SL_STAT_INC(c->failures);
	if (g->latency_ms > 0 && up_ms > g->latency_ms)
		SL_STAT_INC(c->slow);
	if (first != SIZE_MAX && first != i && first < gs->n) {
		/* it failed there, and moved: that cluster's failure */
		c = &gs->counts[w][first];
		SL_STAT_INC(c->requests);
		SL_STAT_INC(c->failures);
	}
}

/* The sums of every worker's counts of gs, into out (gs->n x 3). */
static void
guard_sums(const struct sl_gstate *gs, uint64_t *out)
{
	memset(out, 0, gs->n * 3 * sizeof(*out));
	for (unsigned w = 0; w < gs->nworkers; w++)
		for (size_t i = 0; i < gs->n; i++) {
			const struct sl_gcounts *c = &gs->counts[w][i];
			out[i * 3] += SL_STAT_GET(c->requests);
			out[i * 3 + 1] += SL_STAT_GET(c->failures);
			out[i * 3 + 2] += SL_STAT_GET(c->slow);
		}
}

/* A ring of window_s + 1 snapshots for gs, its first the sums now.
 * Returns 0 or -1. */
static int
guard_ring(struct sl_gstate *gs, uint64_t window_s)
{
	size_t len = (size_t)window_s + 1;
	uint64_t *ring = calloc(len * gs->n * 3, sizeof(*ring));

	if (ring == NULL)
		return -1;
	free(gs->ring);
	gs->ring = ring;
	gs->ring_len = len;
	gs->window_s = window_s;
	guard_sums(gs, ring);
	gs->ring_at = 1 % len;
	gs->ring_fill = 1;
	return 0;
}

static void
guard_trip(const struct sl_conf_listener *l, const struct sl_conf_route *r,
	   struct sl_gstate *gs, size_t i, enum sl_guard_verdict v, double p,
	   uint64_t now_ms)
{
	const struct sl_conf_guard *g = sl_guard_route(r);
	const struct sl_guard_obs *c = &gs->view[i].window,
				  *s = &gs->view[g->stable].window;
	uint64_t cn = c->requests, sn = s->requests;
	uint64_t cf = v == SL_GUARD_LATENCY ? c->slow : c->failures;
	uint64_t sf = v == SL_GUARD_LATENCY ? s->slow : s->failures;
	char what[64];

	atomic_fetch_or(&gs->tripped, (uint64_t)1 << i);
	gs->view[i].tripped = 1;
	gs->view[i].tripped_ms = now_ms;
	gs->view[i].why = v;
	gs->view[i].p = p;
	if (v == SL_GUARD_LATENCY)
		snprintf(what, sizeof(what), "slower than %llu ms",
			 (unsigned long long)g->latency_ms);
	else
		snprintf(what, sizeof(what), "failed");
	log_warnx("guard: listener \"%s\" route \"%s\": cluster \"%s\" "
		  "tripped (%s): %llu of its %llu requests %s (%.2f%%) "
		  "against %llu of %llu (%.2f%%) on \"%s\" in the last %llu s "
		  "(p = %.2g): its weight is 0 on this gateway until a reload "
		  "changes the split",
		  l->name, r->name, r->split[i].cluster->name,
		  sl_guard_verdict_str(v), (unsigned long long)cf,
		  (unsigned long long)cn, what,
		  cn ? 100.0 * (double)cf / (double)cn : 0.0,
		  (unsigned long long)sf, (unsigned long long)sn,
		  sn ? 100.0 * (double)sf / (double)sn : 0.0,
		  r->split[g->stable].cluster->name,
		  (unsigned long long)gs->window_s, p);
}

/* One second of route r's guard. */
static void
guard_route(const struct sl_conf_listener *l, const struct sl_conf_route *r,
	    uint64_t now_ms)
{
	const struct sl_conf_guard *g = sl_guard_route(r);
	struct sl_gstate *gs = g->state;
	uint64_t window_s = g->window_ms / 1000, *now, *old;
	size_t n = gs->n;

	if (gs->last_tick_ms != 0 && now_ms - gs->last_tick_ms < 500)
		return; /* a generation sharing it was judged just now */
	gs->last_tick_ms = now_ms;
	if (gs->ring == NULL || gs->window_s != window_s) {
		(void)guard_ring(gs, window_s);
		return;
	}
	now = &gs->ring[gs->ring_at * n * 3];
	guard_sums(gs, now);
	/* the oldest snapshot held: window_s seconds ago once the ring is
	 * full, the first one before */
	old = gs->ring_fill < gs->ring_len
		  ? gs->ring
		  : &gs->ring[((gs->ring_at + 1) % gs->ring_len) * n * 3];
	gs->ring_at = (gs->ring_at + 1) % gs->ring_len;
	if (gs->ring_fill < gs->ring_len)
		gs->ring_fill++;
	for (size_t i = 0; i < n; i++) {
		struct sl_guard_obs *o = &gs->view[i].window;
		o->requests = now[i * 3] - old[i * 3];
		o->failures = now[i * 3 + 1] - old[i * 3 + 1];
		o->slow = now[i * 3 + 2] - old[i * 3 + 2];
	}
	for (size_t i = 0; i < n && i < 64; i++) {
		enum sl_guard_verdict v;
		double p;

		if (i == g->stable || gs->view[i].tripped ||
		    r->split[i].weight == 0)
			continue;
		v = sl_guard_judge(g, &gs->view[i].window,
				   &gs->view[g->stable].window, &p);
		if (v == SL_GUARD_FAILURES || v == SL_GUARD_LATENCY)
			guard_trip(l, r, gs, i, v, p, now_ms);
	}
}

void
sl_guard_tick(struct sl_conf *conf, uint64_t now_ms)
{
	/* once a second: the guarded routes only, not 100,000 routes
	 * without a guard (issue 78) */
	const struct sl_guard_routes *gr = sl_guard_routes(conf);

	for (size_t i = 0; gr != NULL && i < gr->n; i++)
		if (sl_guard_route(gr->at[i].r)->state != NULL)
			guard_route(gr->at[i].l, gr->at[i].r, now_ms);
}
