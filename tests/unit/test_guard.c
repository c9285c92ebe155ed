/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the canary guard (guard.c, doc/fleet.md section 4): the
 * binomial tail against the sum of its terms, the judgement's rules (too
 * few requests, the margin, the significance, latency), the workers'
 * counts and weights, the main thread's window and trip on a real
 * generation, and the false-alarm rate and detection time of the defaults
 * by simulation (fixed seeds, so the counts are the same on every run).
 * With SL_GUARD_SIM_SECONDS=N in the environment the simulation runs N
 * seconds a scenario and prints its rates (doc/fleet.md quotes them).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "guard.h"
#include "log.h"
#include "route.h"
#include "runtime.h"
#include "util.h"

static struct sl_conf_guard
defaults(void)
{
	struct sl_conf_guard g = {0};

	g.window_ms = 60000;
	g.min_requests = 50;
	g.margin_percent = 1;
	g.percentile = 99;
	return g;
}

/* P[X >= k] by the terms, in long double, for small n. */
static double
tail_exact(unsigned n, unsigned k, double q)
{
	long double sum = 0;

	for (unsigned i = k; i <= n; i++) {
		long double c = 1;
		for (unsigned j = 0; j < i; j++)
			c = c * (n - j) / (j + 1);
		sum += c * powl(q, i) * powl(1 - q, n - i);
	}
	return (double)sum;
}

static void
test_binom_tail(void **state)
{
	(void)state;
	assert_true(sl_guard_binom_tail(10, 0, 0.3) == 1);
	assert_true(sl_guard_binom_tail(10, 11, 0.3) == 0);
	/* at or below the mean: 1, the test never needs it */
	assert_true(sl_guard_binom_tail(10, 3, 0.3) == 1);
	for (unsigned n = 1; n <= 60; n += 7)
		for (unsigned k = 1; k <= n; k++)
			for (double q = 0.05; q < 1; q += 0.2) {
				double want, got;
				if ((double)k <= n * q)
					continue;
				want = tail_exact(n, k, q);
				got = sl_guard_binom_tail(n, k, q);
				assert_true(fabs(got - want) <=
					    want * 1e-9 + 1e-300);
			}
	/* all seven failures on a tenth of the traffic */
	assert_true(fabs(sl_guard_binom_tail(7, 7, 0.1) - 1e-7) < 1e-12);
	assert_true(sl_guard_binom_tail(8, 8, 0.1) < SL_GUARD_ALPHA * 1.0001);
	assert_true(sl_guard_binom_tail(7, 7, 0.1) > SL_GUARD_ALPHA);
	/* large counts: converges, and stays a probability */
	{
		double p = sl_guard_binom_tail(1000000, 102000, 0.1);
		assert_true(p > 0 && p < 1e-6);
		p = sl_guard_binom_tail(1000000, 100100, 0.1);
		assert_true(p > 0.3 && p < 0.5);
	}
}

static void
test_judge_rules(void **state)
{
	struct sl_conf_guard g = defaults();
	struct sl_guard_obs c, s;
	double p;

	(void)state;
	/* too few on either side */
	c = (struct sl_guard_obs){49, 49, 0};
	s = (struct sl_guard_obs){1000, 0, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, &p), SL_GUARD_FEW);
	assert_true(p == 1);
	c = (struct sl_guard_obs){100, 50, 0};
	s = (struct sl_guard_obs){49, 0, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_FEW);
	/* 30 % against none: worse */
	c = (struct sl_guard_obs){100, 30, 0};
	s = (struct sl_guard_obs){900, 0, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, &p), SL_GUARD_FAILURES);
	assert_true(p < SL_GUARD_ALPHA);
	/* the same shares: not worse */
	c = (struct sl_guard_obs){100, 2, 0};
	s = (struct sl_guard_obs){900, 18, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_PASS);
	/* three failures against none: within chance, not tripped (a
	 * normal approximation would trip here) */
	c = (struct sl_guard_obs){100, 3, 0};
	s = (struct sl_guard_obs){900, 0, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, &p), SL_GUARD_PASS);
	/* significant but under the margin: 1.5 % against 0.5 % on a lot
	 * of traffic, with a margin of 2 points */
	g.margin_percent = 2;
	c = (struct sl_guard_obs){100000, 1500, 0};
	s = (struct sl_guard_obs){900000, 4500, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_PASS);
	g.margin_percent = 0;
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_FAILURES);
	g = defaults();
	/* latency: off by default */
	c = (struct sl_guard_obs){1000, 0, 500};
	s = (struct sl_guard_obs){9000, 0, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_PASS);
	g.latency_ms = 200;
	assert_int_equal(sl_guard_judge(&g, &c, &s, &p), SL_GUARD_LATENCY);
	assert_true(p < SL_GUARD_ALPHA);
	/* the stable one as slow: a slowness of both, not the canary's */
	s = (struct sl_guard_obs){9000, 0, 4500};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_PASS);
	/* the canary's p99 within the bound: 1 % slow at most */
	c = (struct sl_guard_obs){1000, 0, 10};
	s = (struct sl_guard_obs){9000, 0, 0};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_PASS);
	/* p90: 20 % slow is over it */
	g.percentile = 90;
	c = (struct sl_guard_obs){1000, 0, 200};
	assert_int_equal(sl_guard_judge(&g, &c, &s, NULL), SL_GUARD_LATENCY);
	assert_string_equal(sl_guard_verdict_str(SL_GUARD_LATENCY), "latency");
	assert_string_equal(sl_guard_verdict_str(SL_GUARD_NVERDICTS), "?");
}

/* ---- the simulation ------------------------------------------------- */

static uint64_t rng;

static double
uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Seconds of traffic at rate requests/s, share of it to the canary,
 * failure rates pc and ps, judged every second over a window of
 * g->window_ms; returns the trips (each restarts the window) and the
 * second of the first one in *first (0: none). */
static unsigned
simulate(const struct sl_conf_guard *g, unsigned seconds, unsigned rate,
	 double share, double pc, double ps, unsigned *first)
{
	unsigned w = (unsigned)(g->window_ms / 1000), trips = 0;
	struct sl_guard_obs *ring_c = calloc(w, sizeof(*ring_c));
	struct sl_guard_obs *ring_s = calloc(w, sizeof(*ring_s));
	struct sl_guard_obs c = {0}, s = {0};

	assert_non_null(ring_c);
	assert_non_null(ring_s);
	*first = 0;
	for (unsigned t = 1; t <= seconds; t++) {
		struct sl_guard_obs nc = {0}, ns = {0};
		unsigned slot = t % w;

		for (unsigned i = 0; i < rate; i++) {
			if (uniform() < share) {
				nc.requests++;
				nc.failures += uniform() < pc;
			} else {
				ns.requests++;
				ns.failures += uniform() < ps;
			}
		}
		c.requests += nc.requests - ring_c[slot].requests;
		c.failures += nc.failures - ring_c[slot].failures;
		s.requests += ns.requests - ring_s[slot].requests;
		s.failures += ns.failures - ring_s[slot].failures;
		ring_c[slot] = nc;
		ring_s[slot] = ns;
		if (sl_guard_judge(g, &c, &s, NULL) == SL_GUARD_FAILURES) {
			trips++;
			if (*first == 0)
				*first = t;
			memset(ring_c, 0, w * sizeof(*ring_c));
			memset(ring_s, 0, w * sizeof(*ring_s));
			memset(&c, 0, sizeof(c));
			memset(&s, 0, sizeof(s));
		}
	}
	free(ring_c);
	free(ring_s);
	return trips;
}

static void
test_false_alarms(void **state)
{
	struct sl_conf_guard g = defaults();
	const char *env = getenv("SL_GUARD_SIM_SECONDS");
	unsigned seconds = env != NULL ? (unsigned)atoi(env) : 20000;
	static const struct {
		unsigned rate;
		double share, p;
	} sc[] = {
	    {100, 0.10, 0.00},	{100, 0.10, 0.01},  {100, 0.10, 0.05},
	    {1000, 0.01, 0.01}, {1000, 0.10, 0.02}, {20, 0.50, 0.10},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		unsigned first, trips;

		rng = 0x9e3779b97f4a7c15ULL + i;
		trips = simulate(&g, seconds, sc[i].rate, sc[i].share, sc[i].p,
				 sc[i].p, &first);
		if (env != NULL)
			printf("# healthy: %u req/s, canary %.0f %%, both "
			       "failing %.0f %%: %u trips in %u s "
			       "(%u judgements)\n",
			       sc[i].rate, sc[i].share * 100, sc[i].p * 100,
			       trips, seconds, seconds);
		/* a healthy canary is never pulled in the runs make check
		 * makes (the rate over long runs: doc/fleet.md) */
		if (env == NULL)
			assert_int_equal(trips, 0);
	}
}

static void
test_detection(void **state)
{
	struct sl_conf_guard g = defaults();
	static const struct {
		unsigned rate;
		double share, pc, ps;
		unsigned within;
	} sc[] = {
	    /* the integration test's case: 10 %, 30 % of 5xx */
	    {100, 0.10, 0.30, 0.00, 10},
	    {1000, 0.10, 0.30, 0.00, 2},
	    /* a small canary, a small regression */
	    {1000, 0.01, 0.20, 0.01, 30},
	    {1000, 0.10, 0.05, 0.01, 20},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		unsigned first;

		rng = 0x2545f4914f6cdd1dULL + i;
		(void)simulate(&g, 120, sc[i].rate, sc[i].share, sc[i].pc,
			       sc[i].ps, &first);
		if (getenv("SL_GUARD_SIM_SECONDS") != NULL)
			printf("# failing: %u req/s, canary %.0f %% failing "
			       "%.0f %% against %.0f %%: tripped after %u s\n",
			       sc[i].rate, sc[i].share * 100, sc[i].pc * 100,
			       sc[i].ps * 100, first);
		assert_true(first > 0 && first <= sc[i].within);
	}
}

/* ---- the workers' side and the main thread's, on a generation ------- */

static const char guarded[] =
    "workers: 2\n"
    "listeners:\n"
    "  - name: pub\n"
    "    address: 127.0.0.1:1\n"
    "    routes:\n"
    "      - name: pay\n"
    "        split:\n"
    "          - { cluster: v1, weight: 90 }\n"
    "          - { cluster: v2, weight: 10 }\n"
    "          - { cluster: v3, weight: 5 }\n"
    "        guard: { stable: v1, window: 10s, min_requests: 20, "
    "latency: 100ms }\n"
    "clusters:\n"
    "  - { name: v1, endpoints: [127.0.0.1:2] }\n"
    "  - { name: v2, endpoints: [127.0.0.1:3] }\n"
    "  - { name: v3, endpoints: [127.0.0.1:4] }\n";

static struct sl_conf *
load(const char *text)
{
	char *errors = NULL;
	struct sl_conf *c =
	    sl_conf_load_buffer("t.yaml", text, strlen(text), &errors);

	if (c == NULL)
		fprintf(stderr, "%s", errors);
	free(errors);
	assert_non_null(c);
	assert_int_equal(sl_runtime_bind(c), 0);
	return c;
}

static void
test_note_weights_tick(void **state)
{
	struct sl_conf *c, *c2, *c3;
	struct sl_conf_route *r;
	const struct sl_conf_guard *g;
	struct sl_gstate *gs;
	struct sl_guard_view v;
	uint32_t cache[3];
	uint64_t mask = 0, t = 1000000;
	int64_t swrr[3] = {5, 6, 7};
	const uint32_t *w;

	(void)state;
	sl_runtime_set_workers(2);
	c = load(guarded);
	r = &c->listeners[0].routes[0];
	g = sl_guard_route(r);
	assert_non_null(g);
	assert_int_equal(g->stable, 0);
	gs = g->state;
	assert_non_null(gs);
	assert_int_equal(gs->n, 3);
	/* nothing tripped: the split's own weights */
	w = sl_route_split_weights(r, cache, &mask, swrr);
	assert_ptr_equal(w, r->split_weights);
	/* counts: a failure, a slow one, a move from v3 to v1 */
	sl_guard_note(r, 0, 1, SIZE_MAX, 1, 0);
	sl_guard_note(r, 1, 1, SIZE_MAX, 0, 500);
	sl_guard_note(r, 1, 0, 2, 0, 5);
	sl_guard_note(r, 1, 7, SIZE_MAX, 0, 5); /* not an entry: ignored */
	assert_int_equal(gs->counts[0][1].failures, 1);
	assert_int_equal(gs->counts[1][1].slow, 1);
	assert_int_equal(gs->counts[1][0].requests, 1);
	assert_int_equal(gs->counts[1][2].requests, 1);
	assert_int_equal(gs->counts[1][2].failures, 1);
	/* the first tick makes the window; then v2 fails a third of its
	 * requests, v3 is fine, v1 too */
	sl_guard_tick(c, t);
	for (int i = 0; i < 300; i++)
		sl_guard_note(r, (unsigned)i & 1, 0, SIZE_MAX, 0, 1);
	for (int i = 0; i < 60; i++)
		sl_guard_note(r, 0, 1, SIZE_MAX, i % 3 == 0, 1);
	for (int i = 0; i < 30; i++)
		sl_guard_note(r, 1, 2, SIZE_MAX, 0, 1);
	sl_guard_tick(c, t + 200); /* too soon after the last */
	sl_guard_view(g, 1, &v);
	assert_false(v.tripped);
	sl_guard_tick(c, t + 1000);
	sl_guard_view(g, 1, &v);
	assert_true(v.tripped);
	assert_int_equal(v.why, SL_GUARD_FAILURES);
	assert_int_equal(v.window.requests, 60);
	assert_int_equal(v.window.failures, 20);
	sl_guard_view(g, 2, &v);
	assert_false(v.tripped);
	sl_guard_view(g, 7, &v);
	assert_false(v.tripped);
	/* the workers see it: v2 at 0, the round robin starts over */
	w = sl_route_split_weights(r, cache, &mask, swrr);
	assert_ptr_equal(w, cache);
	assert_int_equal(w[0], 90);
	assert_int_equal(w[1], 0);
	assert_int_equal(w[2], 5);
	assert_int_equal(swrr[0], 0);
	assert_int_equal(mask, 2);
	swrr[0] = 3;
	assert_ptr_equal(sl_route_split_weights(r, cache, &mask, swrr), cache);
	assert_int_equal(swrr[0], 3); /* unchanged set: kept */
	/* v3 slow on latency: 100 % over 100 ms */
	for (int i = 0; i < 30; i++)
		sl_guard_note(r, 1, 2, SIZE_MAX, 0, 150);
	sl_guard_tick(c, t + 2000);
	sl_guard_view(g, 2, &v);
	assert_true(v.tripped);
	assert_int_equal(v.why, SL_GUARD_LATENCY);

	/* a reload with the same split keeps what tripped; one that
	 * changes it starts afresh */
	c2 = load(guarded);
	assert_ptr_equal(sl_guard_route(&c2->listeners[0].routes[0])->state,
			 gs);
	{
		char text[sizeof(guarded)];
		char *at;
		memcpy(text, guarded, sizeof(guarded));
		at = strstr(text, "weight: 10 }");
		assert_non_null(at);
		at[8] = '2'; /* 10 -> 20 */
		c3 = load(text);
	}
	assert_ptr_not_equal(sl_guard_route(&c3->listeners[0].routes[0])->state,
			     gs);
	sl_guard_view(sl_guard_route(&c3->listeners[0].routes[0]), 1, &v);
	assert_false(v.tripped);
	/* a window of another length starts a new ring */
	sl_guard_tick(c3, t + 5000);
	sl_guard_tick(c3, t + 6000);
	sl_conf_unref(c3);
	sl_conf_unref(c2);
	sl_conf_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_binom_tail),
	    cmocka_unit_test(test_judge_rules),
	    cmocka_unit_test(test_false_alarms),
	    cmocka_unit_test(test_detection),
	    cmocka_unit_test(test_note_weights_tick),
	};

	sl_log_set_level(SL_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
