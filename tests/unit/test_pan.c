/* SPDX-License-Identifier: MIT */
/* Unit tests for pan.c: card numbers masked in logged text, whatever shape
 * they come in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pan.h"
#include "util.h"

/* s masked (cut or not), in a static buffer. */
static const char *
mask(const char *s, int cut)
{
	static char buf[512];
	size_t n = strlen(s);

	assert_true(n < sizeof(buf));
	memcpy(buf, s, n + 1);
	sl_pan_mask(buf, n, cut);
	assert_int_equal(strlen(buf), n); /* the length never changes */
	return buf;
}

/* A generated request id is written whole into the error log, which is
 * masked: 1 id in about 500 used to carry a run of 13 or more digits
 * that passed the Luhn check, and the error log then showed another id
 * than X-Request-Id and the access log (found by test_logs in CI). */
static void
test_request_ids_are_never_masked(void **state)
{
	struct sl_rand r = {{1, 2, 3, 4}};
	char id[33], line[64];
	int masked = 0;

	(void)state;
	sl_request_id_format(0, 0, id); /* 32 zeros would pass Luhn */
	assert_string_equal(id, "000000000000a000000000000a000000");
	for (int k = 0; k < 200000; k++) {
		uint64_t a = sl_rand_next(&r), b = sl_rand_next(&r);
		int run = 0;

		if (k == 0)
			a = b = 0;
		sl_request_id_format(a, b, id);
		assert_int_equal(strlen(id), 32);
		for (int i = 0; i < 32; i++) {
			assert_non_null(strchr("0123456789abcdef", id[i]));
			run = id[i] <= '9' ? run + 1 : 0;
			assert_true(run <= 12);
		}
		snprintf(line, sizeof(line), "request_id=%s route=", id);
		masked += sl_pan_mask(line, strlen(line), 0) != 0;
	}
	assert_int_equal(masked, 0);
}

static void
test_luhn(void **state)
{
	static const unsigned char visa[] = {4, 1, 1, 1, 1, 1, 1, 1,
					     1, 1, 1, 1, 1, 1, 1, 1};
	static const unsigned char bad[] = {4, 1, 1, 1, 1, 1, 1, 1,
					    1, 1, 1, 1, 1, 1, 1, 2};

	(void)state;
	assert_true(sl_pan_luhn(visa, sizeof(visa)));
	assert_false(sl_pan_luhn(bad, sizeof(bad)));
	assert_true(sl_pan_luhn((const unsigned char *)"\0", 1));
}

/* The three shapes the issue found in the access log, and the plain one. */
static void
test_url_shapes(void **state)
{
	(void)state;
	assert_string_equal(mask("/v1/pay?card=4111111111111111", 0),
			    "/v1/pay?card=411111******1111");
	assert_string_equal(mask("/v1/pay?card%3D4111111111111111", 0),
			    "/v1/pay?card%3D411111******1111");
	assert_string_equal(mask("/v1/pay;card=4111111111111111", 0),
			    "/v1/pay;card=411111******1111");
	assert_string_equal(mask("/v1/pay?4111111111111111", 0),
			    "/v1/pay?411111******1111");
	assert_string_equal(mask("/v1/cards/5500005555555559/charge", 0),
			    "/v1/cards/550000******5559/charge");
	/* one next to another, and a letter against it */
	assert_string_equal(mask("a=4111111111111111&b=5500005555555559x", 0),
			    "a=411111******1111&b=550000******5559x");
}

static void
test_separators(void **state)
{
	(void)state;
	assert_string_equal(mask("4111 1111 1111 1111", 0),
			    "4111 11** **** 1111");
	assert_string_equal(mask("4111-1111-1111-1111", 0),
			    "4111-11**-****-1111");
	assert_string_equal(mask("pan=4111+1111+1111+1111", 0),
			    "pan=4111+11**+****+1111");
	assert_string_equal(mask("4111%201111%201111%201111", 0),
			    "4111%2011**%20****%201111");
	assert_string_equal(mask("4111%2D1111%2d1111%2B1111", 0),
			    "4111%2D11**%2d****%2B1111");
	/* Amex, 15 digits in 4-6-5 */
	assert_string_equal(mask("3782 822463 10005", 0), "3782 82**** *0005");
	/* two separators in a row end the run */
	assert_string_equal(mask("4111  1111111111111", 0),
			    "4111  1111111111111");
}

static void
test_percent_encoded_digits(void **state)
{
	(void)state;
	/* every digit encoded: the masked ones become %2A ('*') */
	assert_string_equal(
	    mask("c=%34%31%31%31%31%31%31%31%31%31%31%31%31%31%31%31", 0),
	    "c=%34%31%31%31%31%31%2A%2A%2A%2A%2A%2A%31%31%31%31");
	/* mixed */
	assert_string_equal(mask("41111%311111111111", 0),
			    "41111%31******1111");
}

/* Only stretches of whole groups count: a date before a card number is
 * its own group, a 20-digit number is not a card number. */
static void
test_groups(void **state)
{
	(void)state;
	assert_string_equal(mask("q=2026 4111111111111111", 0),
			    "q=2026 411111******1111");
	assert_string_equal(mask("4111111111111111 1225", 0),
			    "411111******1111 1225");
	assert_string_equal(mask("41111111111111111111", 0),
			    "41111111111111111111");
	/* 12 digits are too few even when they pass Luhn */
	assert_string_equal(mask("411111111113", 0), "411111111113");
}

static void
test_not_cards(void **state)
{
	(void)state;
	/* fails the Luhn check: kept */
	assert_string_equal(mask("/v1/pay?card=4111111111111112", 0),
			    "/v1/pay?card=4111111111111112");
	/* times, addresses, ids */
	assert_string_equal(mask("2026-11-23T02:15:27.123Z 10.0.0.1:8080", 0),
			    "2026-11-23T02:15:27.123Z 10.0.0.1:8080");
	assert_string_equal(mask("", 0), "");
	assert_string_equal(mask("%3", 0), "%3");
	assert_string_equal(mask("%", 1), "%");
}

/* A cut text: a run that reaches the cut keeps only the first six digits
 * of every group start that could begin a card number. */
static void
test_cut(void **state)
{
	(void)state;
	assert_string_equal(mask("/p?c=4111111111", 1), "/p?c=411111****");
	assert_string_equal(mask("/p?c=4111111111", 0), "/p?c=4111111111");
	assert_string_equal(mask("/p?c=4111 1111 11", 1), "/p?c=4111 11** **");
	assert_string_equal(mask("/p?c=4111111111%3", 1), "/p?c=411111****%3");
	assert_string_equal(mask("/p?c=4111111111 ", 1), "/p?c=411111**** ");
	/* not at the end: not touched */
	assert_string_equal(mask("/p?c=4111111111&x", 1), "/p?c=4111111111&x");
	/* a group that starts 19 digits or more back cannot reach */
	assert_string_equal(mask("1111111111111111111 2345678", 1),
			    "1111111111111111111 234567*");
}

static void
test_counts(void **state)
{
	char b[] = "4111111111111111 and 5500005555555559";

	(void)state;
	assert_int_equal(sl_pan_mask(b, strlen(b), 0), 12);
	/* masked text has nothing left to mask */
	assert_int_equal(sl_pan_mask(b, strlen(b), 0), 0);
}

/* A digest is not a card number: a SHA-256 in a log line whose digits
 * hold a Luhn-valid 16-digit run between hex letters stays whole (it was
 * masked, and test_watch.py, which looks for the file's SHA-256 in the
 * log, failed about once in 230 configurations). The same digits after a
 * short token, or in a hex run too short to be a digest, are masked. */
static void
test_digest_left_whole(void **state)
{
	const char *sha = "configuration sha256 ab4111111111111111cdef0123"
			  "456789abcdef0123456789abcdef0123456789ab (reload)";
	const char *md5 = "e4111111111111111a0bcdef01234567";

	(void)state;
	assert_string_equal(mask(sha, 0), sha);
	assert_string_equal(mask(sha, 1), sha);
	assert_string_equal(mask(md5, 0), md5);
	assert_string_equal(mask("card=4111111111111111 ok", 0),
			    "card=411111******1111 ok");
	/* 31 hexadecimal characters: no digest */
	assert_string_equal(mask("e4111111111111111a0bcdef0123456", 0),
			    "e411111******1111a0bcdef0123456");
	/* a digest's digits split by a separator are two runs, and the
	 * one outside the hex run is a card number */
	assert_string_equal(
	    mask("4111-1111-1111-1111 0123456789abcdef0123456789abcdef", 0),
	    "4111-11**-****-1111 0123456789abcdef0123456789abcdef");
}

/* The digits of a digest's label ("sha256", "crc32") are a group of their
 * own, and a digest that begins with digits continued the run after the
 * space: "256 9051167536" is 13 digits that pass Luhn, and the watch's
 * "generation N from FILE: ... (sha256 905***7536a4...)" could not be
 * matched with the file's SHA-256 (test_watch.py failed about once in
 * 185 runs, once in 926 lines: found under load, not caused by it). A
 * group of digits inside a digest is part of no card number: the groups
 * on each side of it are runs of their own. */
static void
test_digest_after_a_label_left_whole(void **state)
{
	static const char *const seen[] = {
	    /* lines test_watch.py failed on (its test under load, and a
	     * loop of its delete-and-create step) */
	    "2 clusters (sha256 9051167536a4783f1e8e33293c72691d47a7e7e85a"
	    "68a1cfba88a8734fc5563c)",
	    "2 clusters (sha256 0262918098dbeab96ffe7f013f8ee26a8dc1a35bac"
	    "8429583df750ff6885fd6e)",
	    "2 clusters (sha256 82791736754892c77dbde767da3ed3495f0f41b5c4"
	    "0409b0f921feeb652948ce)",
	    /* the digest's digits at its end, a number after it */
	    "sha256 8e33293c72691d47a7e7e85a68a1cfba88a8734fc5563cf1e8e3ba73"
	    "40262918 256 ok",
	};
	struct sl_rand r = {{5, 6, 7, 8}};
	char line[128], hex[65];
	int masked = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
		assert_string_equal(mask(seen[i], 0), seen[i]);
	/* every SHA-256 after its label: none masked (209 of these 200000
	 * were) */
	for (int k = 0; k < 200000; k++) {
		for (int i = 0; i < 64; i += 16)
			snprintf(hex + i, 17, "%016llx",
				 (unsigned long long)sl_rand_next(&r));
		snprintf(line, sizeof(line), "(sha256 %s)", hex);
		masked += sl_pan_mask(line, strlen(line), 0) != 0;
	}
	assert_int_equal(masked, 0);
	/* a card number before a digest, or after one, is still one */
	assert_string_equal(
	    mask("sha256 0123456789abcdef0123456789abcdef01234567 "
		 "4111 1111 1111 1111",
		 0),
	    "sha256 0123456789abcdef0123456789abcdef01234567 "
	    "4111 11** **** 1111");
	assert_string_equal(
	    mask("4111 1111 1111 1111 0123456789abcdef0123456789abcdef", 0),
	    "4111 11** **** 1111 0123456789abcdef0123456789abcdef");
	/* and one of a label's digits and a digest's too few hex
	 * characters to be one is masked as before */
	assert_string_equal(mask("sha256 9051167536a4783f1e8e", 0),
			    "sha256 905***7536a4783f1e8e");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_luhn),
	    cmocka_unit_test(test_digest_left_whole),
	    cmocka_unit_test(test_digest_after_a_label_left_whole),
	    cmocka_unit_test(test_url_shapes),
	    cmocka_unit_test(test_separators),
	    cmocka_unit_test(test_percent_encoded_digits),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_not_cards),
	    cmocka_unit_test(test_cut),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_request_ids_are_never_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
