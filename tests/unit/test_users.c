/* SPDX-License-Identifier: MIT */
/* The distinct sticky keys of a split entry over the last minute
 * (users.c): the estimate against known counts, exact for a few keys and
 * within the sketch's error for many, the minute's window as it moves,
 * and a slot used again once its step is past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "users.h"
#include "util.h"

#define T0 1000000000ULL /* a monotonic time, in ms */

static uint64_t
key(unsigned i)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "user-%u", i);

	return sl_hash64(b, (size_t)n);
}

static struct sl_users *
fresh(void)
{
	struct sl_users *u = calloc(1, sizeof(*u));

	assert_non_null(u);
	return u;
}

static void
test_none_and_few(void **state)
{
	struct sl_users *u = fresh();

	(void)state;
	assert_int_equal(sl_users_count(u, 0, T0), 0);
	sl_users_note(u, 0, key(1), T0);
	assert_int_equal(sl_users_count(u, 0, T0), 1);
	/* the same key again, in the same step and in later ones */
	for (unsigned s = 0; s < 10; s++)
		sl_users_note(u, 0, key(1), T0 + s * 5000);
	assert_int_equal(sl_users_count(u, 0, T0 + 45000), 1);
	for (unsigned i = 2; i <= 20; i++)
		sl_users_note(u, 0, key(i), T0 + 46000);
	/* two keys may share a register: a user or two off */
	assert_in_range(sl_users_count(u, 0, T0 + 46000), 18, 22);
	/* entries are apart */
	assert_int_equal(sl_users_count(u, 1, T0 + 46000), 0);
	sl_users_note(u, 1, key(1), T0 + 46000);
	assert_int_equal(sl_users_count(u, 1, T0 + 46000), 1);
	/* past the 8th entry: nothing kept, nothing counted */
	sl_users_note(u, SL_USERS_ENTRIES, key(1), T0);
	assert_int_equal(sl_users_count(u, SL_USERS_ENTRIES, T0), 0);
	free(u);
}

/* n distinct keys, each twice, over the minute: the count within tol
 * (a share of n) */
static void
within(unsigned n, double tol)
{
	struct sl_users *u = fresh();
	uint64_t got;

	for (unsigned r = 0; r < 2; r++)
		for (unsigned i = 0; i < n; i++)
			sl_users_note(u, 3, key(i),
				      T0 + (uint64_t)i * 50000 / n);
	got = sl_users_count(u, 3, T0 + 50000);
	printf("# %u keys: %llu counted\n", n, (unsigned long long)got);
	assert_true((double)got >= n * (1 - tol));
	assert_true((double)got <= n * (1 + tol));
	free(u);
}

static void
test_many(void **state)
{
	(void)state;
	/* linear counting: about 5 % (one standard error) at these counts,
	 * so three errors is a bound */
	within(100, 0.15);
	within(500, 0.2);
	/* HyperLogLog's 256 registers: 6.5 % standard error; these keys
	 * are fixed, so the result is too, and three errors is a bound */
	within(1000, 0.2);
	within(20000, 0.2);
	within(200000, 0.2);
}

static void
test_the_minute_moves_on(void **state)
{
	struct sl_users *u = fresh();

	(void)state;
	for (unsigned i = 0; i < 30; i++)
		sl_users_note(u, 0, key(i), T0);
	for (unsigned i = 30; i < 40; i++)
		sl_users_note(u, 0, key(i), T0 + 30000);
	assert_in_range(sl_users_count(u, 0, T0 + 30000), 37, 43);
	/* the first step is 12 steps old at +60 s: still in; at +65 s not */
	assert_in_range(sl_users_count(u, 0, T0 + 60000), 37, 43);
	assert_int_equal(sl_users_count(u, 0, T0 + 65000), 10);
	assert_int_equal(sl_users_count(u, 0, T0 + 95000), 0);
	/* the first step's slot, used again 13 steps on, starts empty */
	sl_users_note(u, 0, key(99), T0 + 65000);
	assert_in_range(sl_users_count(u, 0, T0 + 65000), 10, 12);
	assert_int_equal(sl_users_count(u, 0, T0 + 95000), 1);
	/* a reading of a time before a slot's step skips the slot */
	assert_int_equal(sl_users_count(u, 0, T0 + 30000), 10);
	free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_none_and_few),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_the_minute_moves_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
