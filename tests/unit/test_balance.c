/* SPDX-License-Identifier: MIT */
/* Unit tests for the balancers: smooth weighted round robin spreads by
 * weight and interleaves, skips work, least request prefers the idle,
 * the race (weighted rendezvous in integers) matches its weights, moves
 * keys only towards a weight that went up, and moves only a removed
 * endpoint's keys. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "balance.h"
#include "util.h"

static void
test_swrr_weights_and_smoothness(void **state)
{
	uint32_t w[3] = {5, 1, 1};
	int64_t cur[3] = {0};
	int count[3] = {0};
	size_t seq[7];

	for (int i = 0; i < 7; i++) {
		seq[i] = sl_balance_swrr(cur, w, 3, NULL);
		count[seq[i]]++;
	}
	assert_int_equal(count[0], 5);
	assert_int_equal(count[1], 1);
	assert_int_equal(count[2], 1);
	/* smooth: the heavy endpoint is not picked 5 times in a row */
	assert_int_equal(seq[0], 0);
	assert_int_equal(seq[1], 0);
	assert_int_not_equal(seq[2], 0);
	for (int i = 0; i < 700; i++)
		count[sl_balance_swrr(cur, w, 3, NULL)]++;
	assert_int_equal(count[0], 505);
	assert_int_equal(count[1], 101);
}

static void
test_swrr_skip(void **state)
{
	uint32_t w[3] = {1, 1, 1};
	int64_t cur[3] = {0};
	unsigned char skip[3] = {0, 1, 0};

	for (int i = 0; i < 10; i++)
		assert_int_not_equal(sl_balance_swrr(cur, w, 3, skip), 1);
	memset(skip, 1, sizeof(skip));
	assert_true(sl_balance_swrr(cur, w, 3, skip) == SL_BALANCE_NONE);
}

static void
test_least_request(void **state)
{
	uint32_t w[3] = {1, 1, 2};
	uint32_t active[3] = {3, 1, 3};
	size_t cursor = 0;

	assert_int_equal(sl_balance_least(active, w, 3, NULL, &cursor), 1);
	active[1] = 2; /* 2/1 > 3/2 */
	assert_int_equal(sl_balance_least(active, w, 3, NULL, &cursor), 2);
	/* ties rotate */
	uint32_t zero[3] = {0, 0, 0};
	uint32_t one[3] = {1, 1, 1};
	int seen[3] = {0};
	for (int i = 0; i < 3; i++)
		seen[sl_balance_least(zero, one, 3, NULL, &cursor)]++;
	assert_int_equal(seen[0] + seen[1] + seen[2], 3);
	assert_int_equal(seen[0], 1);
}

/* ---- the race: hash balancing and sticky splits ------------------------ */

#define NKEYS 100000

static uint64_t
key_of(uint64_t k)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "user-%llu", (unsigned long long)k);

	return sl_hash64(buf, (size_t)n);
}

/* ids of entries named "a", "b", ... as the configuration makes them */
static void
ids_of(const char *const *names, uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ids[i] = sl_hash64(names[i], strlen(names[i]));
}

static void
test_neglog2(void **state)
{
	(void)state;
	/* -log2 u in Q32 against libm, for u across its range */
	for (uint64_t k = 1; k < 200000; k++) {
		uint64_t h = sl_mix64(k);
		double u = ((double)(h >> 11) + 1.0) / 9007199254740992.0;
		double want = -log2(u) * 4294967296.0;
		double got = (double)sl_balance_neglog2(h);
		assert_true(fabs(got - want) <= 8.0 + want * 1e-9);
	}
	assert_true(sl_balance_neglog2(~(uint64_t)0) >= 1); /* u = 1 */
	/* u at its smallest: -log2(2^-53) = 53 */
	assert_true(sl_balance_neglog2(0) == (uint64_t)53 << 32);
}

/* Known answers: the race is a contract between sluice instances (and
 * anything else that must agree with them); a change of algorithm must
 * show here. */
static void
test_race_known_answers(void **state)
{
	static const char *const names[] = {"pay-v1", "pay-v2", "pay-v3"};
	/* from contrib/race.py, an implementation of doc/weighted-routes.md
	 * written apart from this one: keys "user-0".. */
	static const size_t at90[8] = {1, 0, 0, 0, 0, 0, 0, 0};
	static const size_t at50[20] = {1, 1, 0, 1, 0, 1, 1, 0, 1, 0,
					0, 0, 1, 0, 1, 0, 1, 0, 0, 1};
	uint64_t ids[3];
	uint32_t w90[3] = {90, 10, 0}, w50[3] = {50, 50, 0};

	(void)state;
	ids_of(names, ids, 3);
	for (int k = 0; k < 8; k++)
		assert_int_equal(
		    sl_balance_race(key_of((uint64_t)k), ids, w90, 3, NULL),
		    at90[k]);
	for (int k = 0; k < 20; k++)
		assert_int_equal(
		    sl_balance_race(key_of((uint64_t)k), ids, w50, 3, NULL),
		    at50[k]);
}

static void
test_race_shares(void **state)
{
	static const char *const names[] = {"a", "b", "c", "d"};
	uint64_t ids[4];
	uint32_t w[4] = {1, 5, 25, 69};
	int count[4] = {0};

	(void)state;
	ids_of(names, ids, 4);
	for (uint64_t k = 0; k < NKEYS; k++)
		count[sl_balance_race(key_of(k), ids, w, 4, NULL)]++;
	/* each share within 1 percentage point of its weight */
	for (int i = 0; i < 4; i++)
		assert_true(abs(count[i] - (int)w[i] * NKEYS / 100) <
			    NKEYS / 100);
	/* weight 0: nothing; skipped: nothing */
	w[0] = 0;
	unsigned char skip[4] = {0, 1, 0, 0};
	for (uint64_t k = 0; k < NKEYS; k++) {
		size_t i = sl_balance_race(key_of(k), ids, w, 4, skip);
		assert_true(i == 2 || i == 3);
	}
	w[1] = w[2] = w[3] = 0;
	assert_true(sl_balance_race(1, ids, w, 4, NULL) == SL_BALANCE_NONE);
}

/*
 * The ramp of a migration: v2 at 0, 1, 5, 25, 50, 100 % (v1 the rest) and
 * back down. Going up a key may only move v1 -> v2, going down only
 * v2 -> v1; at 0 % and 100 % everyone is on one side.
 */
static void
test_race_monotone_ramp(void **state)
{
	static const char *const names[] = {"pay-v1", "pay-v2"};
	static const uint32_t steps[] = {0, 1, 5, 25, 50, 100, 50, 25, 5, 1, 0};
	uint64_t ids[2];
	unsigned char *at;
	size_t nsteps = sizeof(steps) / sizeof(steps[0]);

	(void)state;
	ids_of(names, ids, 2);
	at = malloc(NKEYS);
	assert_non_null(at);
	for (size_t s = 0; s < nsteps; s++) {
		uint32_t w[2] = {100 - steps[s], steps[s]};
		int on_v2 = 0;
		for (uint64_t k = 0; k < NKEYS; k++) {
			size_t i = sl_balance_race(key_of(k), ids, w, 2, NULL);
			if (s > 0 && i != at[k]) {
				/* moved: only towards the cluster whose
				 * weight went up */
				if (steps[s] > steps[s - 1])
					assert_int_equal(i, 1);
				else
					assert_int_equal(i, 0);
			}
			at[k] = (unsigned char)i;
			on_v2 += i == 1;
		}
		assert_true(abs(on_v2 - (int)steps[s] * NKEYS / 100) <=
			    NKEYS / 100);
	}
	free(at);
}

/* Three clusters: raising one only moves keys to it, lowering one only
 * moves keys away from it, adding one only moves keys to it, removing one
 * moves only its keys. */
static void
test_race_monotone_three(void **state)
{
	static const char *const names[] = {"x", "y", "z"};
	uint64_t ids[3];
	uint32_t before[3] = {50, 30, 20}, up[3] = {50, 60, 20},
		 down[3] = {50, 10, 20}, two[3] = {50, 30, 0};

	(void)state;
	ids_of(names, ids, 3);
	for (uint64_t k = 0; k < NKEYS; k++) {
		uint64_t key = key_of(k);
		size_t a = sl_balance_race(key, ids, before, 3, NULL);
		size_t b = sl_balance_race(key, ids, up, 3, NULL);
		size_t c = sl_balance_race(key, ids, down, 3, NULL);
		size_t d = sl_balance_race(key, ids, two, 3, NULL);
		if (b != a)
			assert_int_equal(b, 1);
		if (c != a)
			assert_int_equal(a, 1);
		if (d != a)
			assert_int_equal(a, 2);
		/* and back: z added again takes only keys to itself */
		if (a != d)
			assert_int_equal(a, 2);
	}
}

/* Consistent hashing of endpoints by address: removing 1 of 10 moves
 * about 10 % of the keys, all of them the removed endpoint's; the same
 * endpoints in another order give every key the same endpoint. */
static void
test_race_endpoint_removed(void **state)
{
	static const char *const addrs[] = {
	    "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80",
	    "10.0.0.5:80", "10.0.0.6:80", "10.0.0.7:80", "10.0.0.8:80",
	    "10.0.0.9:80", "10.0.0.10:80"};
	uint64_t ids[10], rids[10];
	uint32_t w[10];
	unsigned char skip[10] = {0};
	int moved = 0, owned = 0;

	(void)state;
	ids_of(addrs, ids, 10);
	for (int i = 0; i < 10; i++) {
		w[i] = 1;
		rids[i] = ids[9 - i];
	}
	skip[3] = 1;
	for (uint64_t k = 0; k < NKEYS; k++) {
		uint64_t key = key_of(k);
		size_t a = sl_balance_race(key, ids, w, 10, NULL);
		size_t b = sl_balance_race(key, ids, w, 10, skip);
		size_t r = sl_balance_race(key, rids, w, 10, NULL);
		assert_int_equal(9 - r, a); /* by address, not position */
		owned += a == 3;
		if (a != b) {
			assert_int_equal(a, 3);
			moved++;
		}
	}
	assert_int_equal(moved, owned);
	assert_true(moved > NKEYS / 10 - NKEYS / 100 &&
		    moved < NKEYS / 10 + NKEYS / 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swrr_weights_and_smoothness),
	    cmocka_unit_test(test_swrr_skip),
	    cmocka_unit_test(test_least_request),
	    cmocka_unit_test(test_neglog2),
	    cmocka_unit_test(test_race_known_answers),
	    cmocka_unit_test(test_race_shares),
	    cmocka_unit_test(test_race_monotone_ramp),
	    cmocka_unit_test(test_race_monotone_three),
	    cmocka_unit_test(test_race_endpoint_removed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
