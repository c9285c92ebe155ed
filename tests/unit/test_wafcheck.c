/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the WAF's loop-side checks (src/edge/wafcheck.c): cookies,
 * form and query arguments and their decoded bytes, a JSON body's values,
 * keys and depth (and the JSON scan's 16-byte loads: a quote, a backslash
 * or a string's end at each place in and around them), the bounds that
 * spare the exact scan, and which limit a request passes first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* sl_wafcheck_json on a fresh count: r, args, args_bytes, json_depth. The
 * text is scanned in an allocation of its own size, so that a read past
 * its end is one past the allocation (which ASan, in build-asan, stops). */
static void
json_is(const char *p, size_t n, int r, uint64_t args, uint64_t bytes,
	uint32_t depth)
{
	struct sl_wafcheck c = {0};
	char *copy = malloc(n > 0 ? n : 1);

	assert_non_null(copy);
	memcpy(copy, p, n);
	assert_int_equal(sl_wafcheck_json(&c, copy, n), r);
	free(copy);
	assert_int_equal(c.args, args);
	assert_int_equal(c.args_bytes, bytes);
	assert_int_equal(c.json_depth, depth);
}

/* The same text with white space of each length before and after it: each
 * of its strings at each distance from the body's end, where the scan
 * stops loading 16 bytes a string (it wants 19 left) and reads the last
 * 16 apart. The counts do not move. */
static void
test_json_offsets(void **state)
{
	/* keys k\"ey (5 bytes), 16-byte-and-more, z; values ab\\ (4, its
	 * quote after a run of two backslashes: not escaped), 18 bytes
	 * with an escaped quote the 17th, 37 with a run of three (escaped)
	 * then of four (not), and 7 */
	static const char body[] =
	    "{\"k\\\"ey\":\"ab\\\\\",\"16-byte-and-more\":"
	    "[\"0123456789abcde\\\"x\",\"0123456789abcdef0123\\\\\\\"45678"
	    "9abc\\\\\\\\\"],\"z\":7}";
	char buf[24 + sizeof(body) + 40];
	size_t len = sizeof(body) - 1;

	(void)state;
	for (size_t off = 0; off < 24; off++)
		for (size_t tail = 0; tail < 40; tail++) {
			memset(buf, ' ', sizeof(buf));
			memcpy(buf + off, body, len);
			json_is(buf, off + len + tail, 0, 4,
				4 + 18 + 37 + 1 + 5 + 16 + 1, 2);
		}
	/* a long string that ends at the body's end, at each length: the
	 * last load the 16 bytes before the end */
	for (size_t n = 2; n < 60; n++) {
		char s[64];

		memset(s, 'x', n);
		s[0] = s[n - 1] = '"';
		json_is(s, n, 0, 1, n - 2, 0);
		/* without its closing quote: not JSON, nothing counted */
		s[n - 1] = 'x';
		json_is(s, n, -1, 0, 0, 0);
		/* or with it escaped */
		s[n - 1] = '"';
		if (n > 2) {
			s[n - 2] = '\\';
			json_is(s, n, -1, 0, 0, 0);
		}
	}
}

/* Runs of backslashes before a quote, over a load's edge: an odd run
 * escapes it, an even one does not. */
static void
test_json_backslashes(void **state)
{
	char s[128];

	(void)state;
	for (size_t run = 0; run < 40; run++)
		for (size_t at = 1; at < 40; at++) {
			/* "<at - 1 x><run \><"><20 y>" */
			size_t n = 0;

			s[n++] = '"';
			memset(s + n, 'x', at - 1);
			n += at - 1;
			memset(s + n, '\\', run);
			n += run;
			s[n++] = '"';
			memset(s + n, 'y', 20);
			n += 20;
			s[n++] = '"';
			if (run % 2 == 1)
				/* one string, its inner quote escaped */
				json_is(s, n, 0, 1, n - 2, 0);
			else
				/* a string, then y... a scalar's start
				 * it is not: not JSON after the first */
				json_is(s, n, -1, 1, at - 1 + run, 0);
		}
}

/* Not JSON: what came before the place it stops counts. */
static void
test_json_invalid(void **state)
{
	static const char open[] = "[1,\"abc\", \"xxxxxxxxxxxxxxxxxxxxxxxxxx";

	(void)state;
	/* a string that does not end, a long one: its bytes do not count */
	json_is(open, sizeof(open) - 1, -1, 2, 1 + 3, 1);
	/* a close too many, after a member */
	json_is("{\"a\":1}},3", 10, -1, 1, 2, 1);
	/* a byte no token starts with, after a string */
	json_is("{\"key\":\"value\"@}", 16, -1, 1, 8, 1);
	/* a quote in a scalar is the scalar's, as the rules' parser would
	 * not have it: one token of four bytes, then 2 */
	json_is("[1\"x\",2]", 8, 0, 2, 5, 1);
	/* white space between a key and its colon */
	json_is("{\"a\" \t: \"b\" , \"c\"\n:\n[ true , null ] }", 37, 0, 3,
		1 + 1 + 1 + 4 + 4, 2);
	/* a string at the very end: a value */
	json_is("{\"a\"", 4, 0, 1, 1, 1);
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

/* The bounds of a text in an allocation of its own size, every start of
 * it (the body cut at body_limit) included: at least the exact counts,
 * and exactly the structural bytes' counts. */
static void
bound_is(const char *p, size_t n, uint64_t args, uint64_t depth)
{
	char *copy = malloc(n > 0 ? n : 1);
	uint64_t a, d;

	assert_non_null(copy);
	memcpy(copy, p, n);
	sl_wafcheck_json_bound(copy, n, &a, &d);
	assert_int_equal(a, args);
	assert_int_equal(d, depth);
	for (size_t k = 0; k <= n; k++) {
		struct sl_wafcheck c = {0};
		(void)sl_wafcheck_json(&c, copy, k);
		sl_wafcheck_json_bound(copy, k, &a, &d);
		assert_true(c.args <= a);
		assert_true(c.json_depth <= d);
	}
	free(copy);
}

static void
test_json_bound(void **state)
{
	static const char pay[] =
	    "{\"amount\": 1250, \"currency\":\"EUR\", \"card\": {\"pan\": "
	    "\"4111\", \"exp\":[12, 2030]}, \"ok\": true, \"note\": null,"
	    " \"esc\": \"a\\\"b\", \"e\": {}, \"l\": []}";
	size_t n = 10000;
	char *big = malloc(n);

	(void)state;
	/* 8 values: 9 ',', 5 '{' '[' and one; 5 '{' '[' for a depth of 3 */
	bound_is(pay, sizeof(pay) - 1, 9 + 5 + 1, 5);
	bound_is("", 0, 1, 0);
	bound_is(" 42 ", 4, 1, 0);
	/* bytes in strings count too: a bound */
	bound_is("[\",],}{[\"]", 10, 2 + 3 + 1, 3);
	bound_is("[[1],[[2]],[3]]", 15, 2 + 5 + 1, 5);
	/* a text that is not JSON may count more than its bounds: three
	 * strings to the exact scan, one value to the bounds (the rules'
	 * parser stops at the second) */
	{
		struct sl_wafcheck c = {0};
		uint64_t a, d;
		assert_int_equal(sl_wafcheck_json(&c, "\"a\" \"b\" \"c\"", 11),
				 0);
		sl_wafcheck_json_bound("\"a\" \"b\" \"c\"", 11, &a, &d);
		assert_int_equal(c.args, 3);
		assert_int_equal(a, 1);
	}
	/* past the 127 steps of 32 bytes whose byte counters are summed
	 * before they could wrap, and a tail of each length */
	assert_non_null(big);
	for (size_t m = n - 40; m <= n; m++) {
		uint64_t a, d;
		memset(big, ',', m);
		big[m / 2] = '[';
		big[m / 3] = ']';
		big[m / 5] = '{';
		big[m / 7] = '\f'; /* 0x0c | 0x20 is ',': a bound */
		sl_wafcheck_json_bound(big, m, &a, &d);
		/* the commas and the form feed, the "[" and "{", and one */
		assert_int_equal(a, m - 3 + 2 + 1);
		assert_int_equal(d, 2);
	}
	free(big);
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
	    cmocka_unit_test(test_cookies),
	    cmocka_unit_test(test_form),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_json_offsets),
	    cmocka_unit_test(test_json_backslashes),
	    cmocka_unit_test(test_json_invalid),
	    cmocka_unit_test(test_json_depth),
	    cmocka_unit_test(test_json_bound),
	    cmocka_unit_test(test_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
