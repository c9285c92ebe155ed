/* SPDX-License-Identifier: MIT */
/* Unit tests for log.c's pure part: how a request target (or a Referer)
 * appears in the logs under log.query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static const char *
target(const char *s, enum sl_log_query q, size_t outsz)
{
	static char out[512];
	size_t n;

	assert_true(outsz <= sizeof(out));
	memset(out, 'x', sizeof(out));
	n = sl_log_target(out, outsz, s, strlen(s), q);
	assert_int_equal(n, strlen(out));
	return out;
}

static void
test_names(void **state)
{
	const enum sl_log_query q = SL_LOG_QUERY_NAMES;

	(void)state;
	assert_string_equal(target("/pay", q, 512), "/pay");
	assert_string_equal(target("/pay?card=4111111111111111", q, 512),
			    "/pay?card=*");
	assert_string_equal(target("/p?a=1&b=22&c", q, 512), "/p?a=*&b=*&c");
	/* an empty value stays empty; "=" inside a value is part of it */
	assert_string_equal(target("/p?a=&b=x=y;c=3", q, 512), "/p?a=&b=*;c=*");
	assert_string_equal(target("/p?", q, 512), "/p?");
	assert_string_equal(target("http://h/r?tok=abc", q, 512),
			    "http://h/r?tok=*");
	/* cut to the buffer, always terminated */
	assert_string_equal(target("/abcdef?x=1", q, 4), "/ab");
	assert_string_equal(target("/a?card=1234", q, 9), "/a?card=");
}

static void
test_full_and_off(void **state)
{
	(void)state;
	assert_string_equal(target("/p?card=1&b=2", SL_LOG_QUERY_FULL, 512),
			    "/p?card=1&b=2");
	assert_string_equal(target("/p?card=1&b=2", SL_LOG_QUERY_OFF, 512),
			    "/p");
	assert_string_equal(target("/p", SL_LOG_QUERY_OFF, 512), "/p");
	assert_string_equal(target("/p?q", SL_LOG_QUERY_FULL, 3), "/p");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_full_and_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
