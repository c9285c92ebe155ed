/* SPDX-License-Identifier: MIT */
/* Unit tests for the sliding-window minimum rate meter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rate.h"

#define T0 1000000

static void
test_grace_period(void **state)
{
	struct sl_rate r;

	sl_rate_start(&r, T0);
	/* nothing at all moved, but the grace period protects */
	assert_int_equal(sl_rate_check(&r, T0 + 4999, 1024), 0);
	assert_int_equal(r.next_ms, T0 + 5000);
	assert_int_equal(sl_rate_check(&r, T0 + 5000, 1024), 1);
}

static void
test_steady_fast_enough(void **state)
{
	struct sl_rate r;

	sl_rate_start(&r, T0);
	for (uint64_t t = T0; t < T0 + 20000; t += 100) {
		sl_rate_add(&r, t, 110); /* 1100 B/s */
		if (t >= T0 + 5000)
			assert_int_equal(sl_rate_check(&r, t, 1024), 0);
	}
}

static void
test_trickle_too_slow(void **state)
{
	struct sl_rate r;
	int caught = 0;

	sl_rate_start(&r, T0);
	for (uint64_t t = T0; t < T0 + 20000; t += 1000) {
		sl_rate_add(&r, t, 900); /* 900 B/s */
		if (sl_rate_check(&r, t, 1024)) {
			caught = 1;
			assert_true(t >= T0 + 5000);
			break;
		}
	}
	assert_true(caught);
}

static void
test_old_burst_does_not_excuse_trickle(void **state)
{
	struct sl_rate r;
	int caught = 0;

	sl_rate_start(&r, T0);
	sl_rate_add(&r, T0, 10 << 20); /* 10 MiB at once */
	for (uint64_t t = T0 + 1000; t < T0 + 30000; t += 1000) {
		sl_rate_add(&r, t, 1);
		if (sl_rate_check(&r, t, 1024)) {
			caught = 1;
			/* caught once the burst left the window */
			assert_true(t > T0 + 5000 && t <= T0 + 7000);
			break;
		}
	}
	assert_true(caught);
}

static void
test_excused_window(void **state)
{
	struct sl_rate r;

	sl_rate_start(&r, T0);
	sl_rate_excuse(&r, T0 + 4000);
	/* the excuse is inside the window ending at 6 s */
	assert_int_equal(sl_rate_check(&r, T0 + 6000, 1024), 0);
	/* ... and outside the one ending at 10 s */
	assert_int_equal(sl_rate_check(&r, T0 + 10000, 1024), 1);
}

static void
test_sampled_meter(void **state)
{
	struct sl_rate r;
	uint64_t t = T0;
	int i;

	/* fed once per tick with what moved since the last one, as the
	 * send side does (bytes the client took, sampled each second) */
	sl_rate_start(&r, T0);
	for (i = 0; i < 20; i++) {
		assert_int_equal(r.next_ms, t + 1000);
		t = r.next_ms;
		sl_rate_add_completed(&r, t, 80000); /* 80 KB/s */
		assert_int_equal(sl_rate_check(&r, t, 16384), 0);
	}
	/* the reader stops: caught once the window holds no more reading */
	for (i = 0; i < 10; i++) {
		t = r.next_ms;
		sl_rate_add_completed(&r, t, 0);
		if (sl_rate_check(&r, t, 16384))
			break;
	}
	assert_true(i >= 3 && i <= 5);
}

static void
test_off(void **state)
{
	struct sl_rate r = {0};

	sl_rate_add(&r, T0, 5);
	assert_int_equal(sl_rate_check(&r, T0 + 60000, 1024), 0);
	sl_rate_start(&r, T0);
	assert_int_equal(sl_rate_check(&r, T0 + 60000, 0), 0);
}

static void
test_long_silence_clears_buckets(void **state)
{
	struct sl_rate r;

	sl_rate_start(&r, T0);
	for (uint64_t t = T0; t < T0 + 5000; t += 100)
		sl_rate_add(&r, t, 1000);
	assert_int_equal(sl_rate_check(&r, T0 + 5000, 1024), 0);
	/* an hour later, nothing in the window */
	assert_int_equal(sl_rate_check(&r, T0 + 3600000, 1024), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grace_period),
	    cmocka_unit_test(test_steady_fast_enough),
	    cmocka_unit_test(test_trickle_too_slow),
	    cmocka_unit_test(test_old_burst_does_not_excuse_trickle),
	    cmocka_unit_test(test_excused_window),
	    cmocka_unit_test(test_sampled_meter),
	    cmocka_unit_test(test_off),
	    cmocka_unit_test(test_long_silence_clears_buckets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
