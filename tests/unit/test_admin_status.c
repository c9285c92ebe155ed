/* SPDX-License-Identifier: MIT */
/* The status page's percentiles (admin_status.c, doc/dashboard.md): from
 * one minute's histogram, interpolated within a bucket as Prometheus's
 * histogram_quantile does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "admin_int.h"

static void
test_empty(void **state)
{
	uint64_t h[SL_HIST_N] = {0};

	(void)state;
	assert_true(sl_admin_quantile(h, 0.5) < 0);
	assert_true(sl_admin_quantile(h, 0.99) < 0);
}

static void
test_interpolated(void **state)
{
	uint64_t h[SL_HIST_N] = {0};

	(void)state;
	/* 100 requests of at most 1 ms: the median half way to 1 ms */
	h[0] = 100;
	assert_float_equal(sl_admin_quantile(h, 0.5), 0.5, 1e-9);
	assert_float_equal(sl_admin_quantile(h, 0.99), 0.99, 1e-9);
	/* and 100 more between 5 and 10 ms: p50 is the top of the first
	 * bucket, p75 half way through (5, 10] */
	h[3] = 100;
	assert_float_equal(sl_admin_quantile(h, 0.5), 1.0, 1e-9);
	assert_float_equal(sl_admin_quantile(h, 0.75), 7.5, 1e-9);
	/* empty buckets between are skipped, never landed in */
	assert_float_equal(sl_admin_quantile(h, 0.51), 5.1, 1e-9);
}

static void
test_past_the_last_bound(void **state)
{
	uint64_t h[SL_HIST_N] = {0};

	(void)state;
	/* slower than 10 s: the last bound, not a guess past it */
	h[SL_HIST_N - 1] = 10;
	assert_float_equal(sl_admin_quantile(h, 0.5), 10000, 1e-9);
	h[0] = 90;
	assert_float_equal(sl_admin_quantile(h, 0.5), 50.0 / 90, 1e-9);
	assert_float_equal(sl_admin_quantile(h, 0.99), 10000, 1e-9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_interpolated),
	    cmocka_unit_test(test_past_the_last_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
