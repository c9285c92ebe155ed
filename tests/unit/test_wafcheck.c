/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the WAF's loop-side checks (src/edge/wafcheck.c): cookies,
 * form and query arguments and their decoded bytes, a JSON body's values,
 * keys and depth, and which limit a request passes first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wafcheck.h"

static void
test_cookies(void **state)
{
	struct sl_wafcheck c = {0};

	(void)state;
	sl_wafcheck_cookies(&c, "a=1; b=2;c=3", 12);
	assert_int_equal(c.cookies, 3);
	/* empty and blank segments are no pairs */
	sl_wafcheck_cookies(&c, "; ;  ;d", 7);
	assert_int_equal(c.cookies, 4);
	sl_wafcheck_cookies(&c, "", 0);
	assert_int_equal(c.cookies, 4);
	/* cookies are no arguments */
	assert_int_equal(c.args, 0);
	assert_int_equal(c.args_bytes, 0);
}

static void
test_form(void **state)
{
	struct sl_wafcheck c = {0};

	(void)state;
	sl_wafcheck_form(&c, "a=1&bb=22&&flag", 15);
	assert_int_equal(c.args, 3);
	/* names and values, without '=': a 1, bb 22, flag */
	assert_int_equal(c.args_bytes, 2 + 4 + 4);
	/* %XX is one byte once decoded, a bad escape stays three */
	memset(&c, 0, sizeof(c));
	sl_wafcheck_form(&c, "q=%41%42&r=%4", 13);
	assert_int_equal(c.args, 2);
	assert_int_equal(c.args_bytes, 1 + 2 + 1 + 2);
	memset(&c, 0, sizeof(c));
	sl_wafcheck_form(&c, "=", 1);
	assert_int_equal(c.args, 1);
	assert_int_equal(c.args_bytes, 0);
}

static void
test_json(void **state)
{
	static const char pay[] =
	    "{\"amount\": 1250, \"currency\":\"EUR\", \"card\": {\"pan\": "
	    "\"4111\", \"exp\":[12, 2030]}, \"ok\": true, \"note\": null,"
	    " \"esc\": \"a\\\"b\", \"e\": {}, \"l\": []}";
	struct sl_wafcheck c = {0};

	(void)state;
	assert_int_equal(sl_wafcheck_json(&c, pay, sizeof(pay) - 1), 0);
	/* 1250, EUR, 4111, 12, 2030, true, null, a\"b: empty containers
	 * are none */
	assert_int_equal(c.args, 8);
	assert_int_equal(c.json_depth, 3);
	/* keys amount currency card pan exp ok note esc e l (35 bytes) and
	 * the values 1250 EUR 4111 12 2030 true null a\"b (29, the escape
	 * as it came) */
	assert_int_equal(c.args_bytes, 35 + 29);
	/* a top-level scalar is one argument */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sl_wafcheck_json(&c, " 42 ", 4), 0);
	assert_int_equal(c.args, 1);
	/* not JSON: what came before counts, the rest is the rules' */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sl_wafcheck_json(&c, "[1, 2, @]", 9), -1);
	assert_int_equal(c.args, 2);
	memset(&c, 0, sizeof(c));
	assert_int_equal(sl_wafcheck_json(&c, "]", 1), -1);
	assert_int_equal(sl_wafcheck_json(&c, "\"open", 5), -1);
}

static void
test_json_depth(void **state)
{
	char deep[202];
	struct sl_wafcheck c = {0};

	(void)state;
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	assert_int_equal(sl_wafcheck_json(&c, deep, 200), 0);
	assert_int_equal(c.json_depth, 100);
	assert_int_equal(c.args, 0);
	/* the deepest container counts, not the sum */
	memset(&c, 0, sizeof(c));
	assert_int_equal(sl_wafcheck_json(&c, "[[1],[[2]],[3]]", 15), 0);
	assert_int_equal(c.json_depth, 3);
	assert_int_equal(c.args, 3);
}

static void
test_over(void **state)
{
	struct sl_waf_limits l = {
	    .cookies = 2, .args = 3, .json_depth = 2, .args_bytes = 10};
	struct sl_wafcheck c = {0};
	uint64_t found, max;

	(void)state;
	assert_int_equal(sl_wafcheck_over(&c, &l, &found, &max),
			 SL_WAFCHECK_OK);
	c.args = 3; /* at the limit: not past it */
	c.cookies = 2;
	c.args_bytes = 10;
	c.json_depth = 2;
	assert_int_equal(sl_wafcheck_over(&c, &l, &found, &max),
			 SL_WAFCHECK_OK);
	c.json_depth = 3;
	assert_int_equal(sl_wafcheck_over(&c, &l, &found, &max),
			 SL_WAFCHECK_JSON_DEPTH);
	assert_int_equal(found, 3);
	assert_int_equal(max, 2);
	c.args_bytes = 11;
	assert_int_equal(sl_wafcheck_over(&c, &l, &found, &max),
			 SL_WAFCHECK_ARGS_BYTES);
	c.cookies = 2500;
	assert_int_equal(sl_wafcheck_over(&c, &l, &found, &max),
			 SL_WAFCHECK_COOKIES);
	assert_int_equal(found, 2500);
	assert_string_equal(sl_wafcheck_name(SL_WAFCHECK_COOKIES), "cookies");
	/* 0: no limit */
	l = (struct sl_waf_limits){0};
	assert_int_equal(sl_wafcheck_over(&c, &l, &found, &max),
			 SL_WAFCHECK_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cookies), cmocka_unit_test(test_form),
	    cmocka_unit_test(test_json),    cmocka_unit_test(test_json_depth),
	    cmocka_unit_test(test_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
