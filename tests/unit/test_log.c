/* SPDX-License-Identifier: MIT */
/* Unit tests for log.c's pure part: how a request target (or a Referer)
 * appears in the logs under log.query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static const char *
target_cards(const char *s, enum sl_log_query q, size_t outsz, int cards)
{
	static char out[512];
	size_t n;

	assert_true(outsz <= sizeof(out));
	memset(out, 'x', sizeof(out));
	n = sl_log_target(out, outsz, s, strlen(s), q, cards);
	assert_int_equal(n, strlen(out));
	return out;
}

static const char *
target(const char *s, enum sl_log_query q, size_t outsz)
{
	return target_cards(s, q, outsz, 0);
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

/* Card numbers are masked whatever log.query says, in the shapes that
 * parameter names miss (issue 22), unless masking is off. */
static void
test_cards(void **state)
{
	const enum sl_log_query n = SL_LOG_QUERY_NAMES, f = SL_LOG_QUERY_FULL;

	(void)state;
	assert_string_equal(
	    target_cards("/v1/pay?card%3D4111111111111111", n, 512, 1),
	    "/v1/pay?card%3D411111******1111");
	assert_string_equal(
	    target_cards("/v1/pay;card=4111111111111111", n, 512, 1),
	    "/v1/pay;card=411111******1111");
	assert_string_equal(target_cards("/v1/pay?4111111111111111", n, 512, 1),
			    "/v1/pay?411111******1111");
	assert_string_equal(
	    target_cards("/v1/pay?card=4111111111111111", f, 512, 1),
	    "/v1/pay?card=411111******1111");
	assert_string_equal(
	    target_cards("/v1/pay?card=4111111111111111", f, 512, 0),
	    "/v1/pay?card=4111111111111111");
	/* cut by the buffer in the middle of a card number: no more than
	 * its first six digits */
	assert_string_equal(target_cards("/c/4111111111111111", f, 14, 1),
			    "/c/411111****");
	assert_string_equal(target_cards("/c?4111111111111111", n, 14, 1),
			    "/c?411111****");
	assert_string_equal(
	    target_cards("/c/4111111111111111?x=1", SL_LOG_QUERY_OFF, 14, 1),
	    "/c/411111****");
}

/* What one log_warnx call writes to stderr. */
static char *
error_line(const char *arg)
{
	static char buf[4096];
	char path[] = "/tmp/sluice-test-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, 2), 2);
	log_warnx("peer said: %s", arg);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	return buf;
}

/* Every error-log line is masked whole: a card number from a peer's
 * message, a header value, anything (issue 22). */
static void
test_error_log_masks_cards(void **state)
{
	char *line, big[3000];

	(void)state;
	line = error_line("card 4111 1111 1111 1111 declined");
	assert_non_null(strstr(line, "card 4111 11** **** 1111 declined\n"));
	/* a line cut at the end of its buffer in a card number */
	/* not a hexadecimal letter: 4111... glued to 32 of those would be a
	 * digest (pan.h) */
	memset(big, 'x', sizeof(big));
	memcpy(big + 1996, "4111111111111111", 16);
	big[sizeof(big) - 1] = '\0';
	line = error_line(big);
	assert_non_null(strstr(line, "411111*"));
	assert_null(strstr(line, "4111111"));
	sl_log_set_cards(0);
	line = error_line("4111111111111111");
	assert_non_null(strstr(line, "4111111111111111"));
	sl_log_set_cards(1);
}

/* A feature's log of its own (the WAF's): its file, written and reopened
 * (a rotated file: the next line goes to the new one); opened again on
 * "off", it is off and no longer reopens the old file onto another
 * descriptor. */
static void
test_sidelog(void **state)
{
	char dir[] = "/tmp/sluice-test-sidelog.XXXXXX", path[128], rot[160];
	struct sl_sidelog l = SL_SIDELOG_INIT;
	struct sl_access_buf b = {0};
	char buf[64];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/side.log", dir);
	snprintf(rot, sizeof(rot), "%s.1", path);
	assert_false(sl_sidelog_enabled(&l));
	assert_int_equal(sl_sidelog_open(&l, path), 0);
	assert_true(sl_sidelog_enabled(&l));
	sl_sidelog_write(&l, &b, "one\n", 4);
	assert_int_equal(rename(path, rot), 0);
	assert_int_equal(sl_sidelog_reopen(&l), 0);
	sl_sidelog_write(&l, &b, "two\n", 4);
	assert_int_equal(b.len, 0); /* its own file: not the access batch */
	assert_non_null(f = fopen(rot, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "one\n");
	fclose(f);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "two\n");
	fclose(f);
	assert_int_equal(close(l.fd), 0);
	assert_int_equal(sl_sidelog_open(&l, "off"), 0);
	assert_false(sl_sidelog_enabled(&l));
	assert_null(l.path);
	assert_int_equal(sl_sidelog_reopen(&l), 0);
	unlink(path);
	unlink(rot);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_full_and_off),
	    cmocka_unit_test(test_cards),
	    cmocka_unit_test(test_error_log_masks_cards),
	    cmocka_unit_test(test_sidelog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
