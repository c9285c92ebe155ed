/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for grpc.c: grpc-timeout's units and rounding, what is and
 * is not a gRPC content-type, the statuses sluice answers with, and
 * grpc-message's percent-encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "grpc.h"

static uint32_t
ms_of(const char *v)
{
	uint32_t ms = 0;

	assert_int_equal(sl_grpc_timeout_parse(v, strlen(v), &ms), 0);
	return ms;
}

static void
test_timeout_units(void **state)
{
	uint32_t ms;

	(void)state;
	assert_int_equal(ms_of("1H"), 3600000);
	assert_int_equal(ms_of("2M"), 120000);
	assert_int_equal(ms_of("30S"), 30000);
	assert_int_equal(ms_of("400m"), 400);
	/* finer units round up: never a shorter deadline than asked, and
	 * never none for a positive one */
	assert_int_equal(ms_of("1500u"), 2);
	assert_int_equal(ms_of("1000u"), 1);
	assert_int_equal(ms_of("1n"), 1);
	assert_int_equal(ms_of("99999999n"), 100);
	/* a zero deadline is gone already: 1 ms, not none */
	assert_int_equal(ms_of("0S"), 1);
	/* eight digits of hours: capped, not wrapped */
	assert_int_equal(ms_of("99999999H"), UINT32_MAX);
	/* malformed */
	assert_int_equal(sl_grpc_timeout_parse("S", 1, &ms), -1);
	assert_int_equal(sl_grpc_timeout_parse("123456789S", 10, &ms), -1);
	assert_int_equal(sl_grpc_timeout_parse("12x", 3, &ms), -1);
	assert_int_equal(sl_grpc_timeout_parse("1 S", 3, &ms), -1);
	assert_int_equal(sl_grpc_timeout_parse("-1S", 3, &ms), -1);
	assert_int_equal(sl_grpc_timeout_parse("10s", 3, &ms), -1);
	assert_int_equal(sl_grpc_timeout_parse("", 0, &ms), -1);
}

static void
test_content_type(void **state)
{
	(void)state;
	assert_true(sl_grpc_content_type("application/grpc", 16));
	assert_true(sl_grpc_content_type("application/grpc+proto", 22));
	assert_true(sl_grpc_content_type("application/grpc;x=1", 20));
	assert_true(sl_grpc_content_type("Application/GRPC", 16));
	/* gRPC-Web is plain HTTP to a gateway */
	assert_false(sl_grpc_content_type("application/grpc-web", 20));
	assert_false(sl_grpc_content_type("application/grpc-web+proto", 26));
	assert_false(sl_grpc_content_type("application/grp", 15));
	assert_false(sl_grpc_content_type("application/json", 16));
	assert_false(sl_grpc_content_type("", 0));
}

static void
test_statuses(void **state)
{
	(void)state;
	/* the issue's: no upstream, a timeout, a rate limit, a refusal */
	assert_int_equal(sl_grpc_status_of(503), SL_GRPC_UNAVAILABLE);
	assert_int_equal(sl_grpc_status_of(502), SL_GRPC_UNAVAILABLE);
	assert_int_equal(sl_grpc_status_of(504), SL_GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(sl_grpc_status_of(429), SL_GRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(sl_grpc_status_of(403), SL_GRPC_PERMISSION_DENIED);
	/* the rest as gRPC's own HTTP mapping says, sizes as resources */
	assert_int_equal(sl_grpc_status_of(404), SL_GRPC_UNIMPLEMENTED);
	assert_int_equal(sl_grpc_status_of(401), SL_GRPC_UNAUTHENTICATED);
	assert_int_equal(sl_grpc_status_of(400), SL_GRPC_INTERNAL);
	assert_int_equal(sl_grpc_status_of(413), SL_GRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(sl_grpc_status_of(431), SL_GRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(sl_grpc_status_of(408), SL_GRPC_DEADLINE_EXCEEDED);
	assert_int_equal(sl_grpc_status_of(421), SL_GRPC_UNAVAILABLE);
	assert_int_equal(sl_grpc_status_of(418), SL_GRPC_UNKNOWN);
}

static void
test_message_encoding(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(sl_grpc_message_encode(out, sizeof(out), "a b", 3), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(
	    sl_grpc_message_encode(out, sizeof(out), "100%\n\xc3\xa9", 7), 15);
	assert_string_equal(out, "100%25%0A%C3%A9");
	/* cut before an escape that does not fit, still terminated */
	assert_int_equal(sl_grpc_message_encode(out, 5, "ab\n", 3), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(sl_grpc_message_encode(out, 6, "ab\n", 3), 5);
	assert_string_equal(out, "ab%0A");
	assert_int_equal(sl_grpc_message_encode(out, 0, "ab", 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeout_units),
	    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_statuses),
	    cmocka_unit_test(test_message_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
