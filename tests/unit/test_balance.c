/* SPDX-License-Identifier: MIT */
/* Unit tests for the balancers: smooth weighted round robin spreads by
 * weight and interleaves, skips work, least request prefers the idle,
 * rendezvous hashing is stable and moves only the removed endpoint's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "balance.h"

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

static void
test_hash_stable_and_minimal_moves(void **state)
{
	uint32_t w[4] = {1, 1, 1, 1};
	unsigned char skip[4] = {0, 0, 0, 1};
	int moved = 0, count[4] = {0};

	for (uint64_t k = 0; k < 4000; k++) {
		size_t a =
		    sl_balance_hash(sl_hash64(&k, sizeof(k)), w, 4, NULL);
		size_t b =
		    sl_balance_hash(sl_hash64(&k, sizeof(k)), w, 4, NULL);
		size_t c =
		    sl_balance_hash(sl_hash64(&k, sizeof(k)), w, 4, skip);
		assert_int_equal(a, b);
		count[a]++;
		if (a != c) {
			/* only keys of the removed endpoint move */
			assert_int_equal(a, 3);
			moved++;
		}
	}
	assert_int_equal(moved, count[3]);
	for (int i = 0; i < 4; i++)
		assert_true(count[i] > 800 && count[i] < 1200);
}

static void
test_hash_weights(void **state)
{
	uint32_t w[2] = {1, 3};
	int count[2] = {0};

	for (uint64_t k = 0; k < 8000; k++)
		count[sl_balance_hash(sl_hash64(&k, sizeof(k)), w, 2, NULL)]++;
	assert_true(count[1] > 5600 && count[1] < 6400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swrr_weights_and_smoothness),
	    cmocka_unit_test(test_swrr_skip),
	    cmocka_unit_test(test_least_request),
	    cmocka_unit_test(test_hash_stable_and_minimal_moves),
	    cmocka_unit_test(test_hash_weights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
