/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the per-client budgets (src/edge/budget.c, issue 63 item
 * 1): a client has its burst, is refused once it owes, for as long as the
 * refill takes; another client is not touched; a debt is bounded; a full
 * table makes room from the client nearest a full bucket; what a
 * client's charges cost, for a hint. Times are
 * given, never read: nothing here waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "budget.h"

#define MS 1000000ull /* ns */
#define S  1000000000ull

/* 100 ms a second, 500 ms at once. */
static void
test_burst_then_refused(void **state)
{
	struct sl_budget *b = sl_budget_new(100 * MS, 500 * MS);
	uint64_t t = 10 * S;

	(void)state;
	assert_non_null(b);
	/* never charged: the whole burst, no wait */
	assert_int_equal(sl_budget_wait_ms(b, 7, t), 0);
	assert_int_equal(sl_budget_left(b, 7, t), 500 * MS);
	sl_budget_charge(b, 7, 400 * MS, t);
	assert_int_equal(sl_budget_wait_ms(b, 7, t), 0);
	assert_int_equal(sl_budget_left(b, 7, t), 100 * MS);
	/* overdrawn by a cost known once spent: owes 200 ms, 2 s of refill */
	sl_budget_charge(b, 7, 300 * MS, t);
	assert_int_equal(sl_budget_left(b, 7, t), -(int64_t)(200 * MS));
	assert_int_equal(sl_budget_wait_ms(b, 7, t), 2001);
	/* another client is not touched */
	assert_int_equal(sl_budget_wait_ms(b, 8, t), 0);
	/* half the refill later: half the wait */
	assert_int_equal(sl_budget_wait_ms(b, 7, t + S), 1001);
	/* the whole of it: may spend again */
	assert_int_equal(sl_budget_wait_ms(b, 7, t + 2 * S), 0);
	/* and refills to its burst, no more */
	assert_int_equal(sl_budget_left(b, 7, t + 60 * S), 500 * MS);
	sl_budget_free(b);
}

/* A debt is a burst at most: a client that cost ten bursts at once
 * waits for one. */
static void
test_debt_bounded(void **state)
{
	struct sl_budget *b = sl_budget_new(100 * MS, 500 * MS);

	(void)state;
	sl_budget_charge(b, 1, 5 * S, S);
	assert_int_equal(sl_budget_left(b, 1, S), -(int64_t)(500 * MS));
	assert_int_equal(sl_budget_wait_ms(b, 1, S), 5001);
	/* a key of 0 is a key like another */
	sl_budget_charge(b, 0, 600 * MS, S);
	assert_true(sl_budget_wait_ms(b, 0, S) > 0);
	sl_budget_free(b);
}

/* More clients than the table holds: each new one takes the place of
 * the one nearest a full bucket in its window, never of one that owes
 * while another there owes less. */
static void
test_table_full(void **state)
{
	struct sl_budget *b = sl_budget_new(100 * MS, 500 * MS);
	uint64_t t = S, k;

	(void)state;
	/* the slots of key 0's window filled with clients that owe, but
	 * the last, which owes less */
	for (k = 0; k < 8; k++)
		sl_budget_charge(b, k * SL_BUDGET_SLOTS + 16,
				 k == 7 ? 501 * MS : 900 * MS, t);
	for (k = 0; k < 8; k++)
		assert_true(sl_budget_wait_ms(b, k * SL_BUDGET_SLOTS + 16, t) >
			    0);
	/* a ninth in the same window: the one owing least gives way */
	sl_budget_charge(b, 8 * SL_BUDGET_SLOTS + 16, 600 * MS, t);
	assert_true(sl_budget_wait_ms(b, 8 * SL_BUDGET_SLOTS + 16, t) > 0);
	assert_int_equal(sl_budget_wait_ms(b, 7 * SL_BUDGET_SLOTS + 16, t), 0);
	for (k = 0; k < 7; k++)
		assert_true(sl_budget_wait_ms(b, k * SL_BUDGET_SLOTS + 16, t) >
			    0);
	/* many clients, each charged once: none refused, no crash */
	for (k = 0; k < 10 * SL_BUDGET_SLOTS; k++)
		sl_budget_charge(b, k * 0x9e3779b97f4a7c15ull, MS, t);
	assert_int_equal(sl_budget_wait_ms(b, 12345, t), 0);
	sl_budget_free(b);
}

/* No rate: no table. A time before the last charge refills nothing. */
static void
test_edges(void **state)
{
	struct sl_budget *b;

	(void)state;
	assert_null(sl_budget_new(0, S));
	assert_null(sl_budget_new(999999, S)); /* under 1 ms a second */
	b = sl_budget_new(S, S);
	sl_budget_charge(b, 3, 2 * S, 10 * S);
	assert_int_equal(sl_budget_left(b, 3, 9 * S), -(int64_t)S);
	assert_int_equal(sl_budget_left(b, 3, 11 * S), 0);
	assert_int_equal(sl_budget_wait_ms(b, 3, 11 * S), 0);
	sl_budget_free(b);
}

/* What a client's charges cost, a moving mean (issue 77: a hint of what
 * its next request costs, so a cheap request of another client runs
 * above its costly ones): the first charge as it is, then each a quarter;
 * a client not charged has none; a client whose requests grow costly is
 * seen so within a few. */
static void
test_cost(void **state)
{
	struct sl_budget *b = sl_budget_new(1000 * MS, 10 * S);
	uint64_t t = 10 * S;

	(void)state;
	assert_non_null(b);
	assert_int_equal(sl_budget_cost(b, 3), 0);
	sl_budget_charge(b, 3, 12 * MS, t);
	assert_int_equal(sl_budget_cost(b, 3), 12 * MS);
	sl_budget_charge(b, 3, 12 * MS, t + MS);
	assert_int_equal(sl_budget_cost(b, 3), 12 * MS);
	/* 80 ms now: 12 - 3 + 20 */
	sl_budget_charge(b, 3, 80 * MS, t + 2 * MS);
	assert_int_equal(sl_budget_cost(b, 3), 29 * MS);
	for (int i = 0; i < 12; i++)
		sl_budget_charge(b, 3, 80 * MS, t + (uint64_t)(3 + i) * MS);
	assert_true(sl_budget_cost(b, 3) > 75 * MS);
	assert_true(sl_budget_cost(b, 3) <= 80 * MS);
	/* another client: its own */
	assert_int_equal(sl_budget_cost(b, 4), 0);
	sl_budget_charge(b, 4, 2 * MS, t);
	assert_int_equal(sl_budget_cost(b, 4), 2 * MS);
	sl_budget_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_refused),
	    cmocka_unit_test(test_debt_bounded),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
