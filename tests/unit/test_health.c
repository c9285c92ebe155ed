/* SPDX-License-Identifier: MIT */
/* Unit tests of the pure parts of the health checker (src/upstream/health.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf_types.h"
#include "health.h"
#include "tls.h"

#define CAP 4096

static void
set_range(uint64_t expect[8], int lo, int hi)
{
	for (int st = lo; st <= hi; st++)
		expect[(st - 100) / 64] |= (uint64_t)1 << ((st - 100) % 64);
}

static void
test_expected(void **state)
{
	uint64_t expect[8];

	(void)state;
	/* the default: 200..299 */
	memset(expect, 0, sizeof(expect));
	set_range(expect, 200, 299);
	assert_false(sl_health_expected(expect, 199));
	assert_true(sl_health_expected(expect, 200));
	assert_true(sl_health_expected(expect, 204));
	assert_true(sl_health_expected(expect, 227)); /* across a word */
	assert_true(sl_health_expected(expect, 228));
	assert_true(sl_health_expected(expect, 299));
	assert_false(sl_health_expected(expect, 300));
	assert_false(sl_health_expected(expect, 503));
	assert_false(sl_health_expected(expect, 100));
	/* one status and a class */
	memset(expect, 0, sizeof(expect));
	set_range(expect, 204, 204);
	set_range(expect, 300, 399);
	assert_false(sl_health_expected(expect, 200));
	assert_true(sl_health_expected(expect, 204));
	assert_false(sl_health_expected(expect, 205));
	assert_false(sl_health_expected(expect, 299));
	assert_true(sl_health_expected(expect, 300));
	assert_true(sl_health_expected(expect, 399));
	assert_false(sl_health_expected(expect, 400));
	/* the ends of the range, and what is outside it */
	memset(expect, 0xff, sizeof(expect));
	assert_true(sl_health_expected(expect, 100));
	assert_true(sl_health_expected(expect, 599));
	assert_false(sl_health_expected(expect, 99));
	assert_false(sl_health_expected(expect, 600));
	assert_false(sl_health_expected(expect, 0));
	assert_false(sl_health_expected(expect, -1));
	assert_false(sl_health_expected(expect, 1000));
	memset(expect, 0, sizeof(expect));
	set_range(expect, 100, 100);
	set_range(expect, 599, 599);
	assert_true(sl_health_expected(expect, 100));
	assert_false(sl_health_expected(expect, 101));
	assert_false(sl_health_expected(expect, 598));
	assert_true(sl_health_expected(expect, 599));
	/* the bit of 599 is the last used one; 600 is not read from it */
	assert_int_equal(expect[7], (uint64_t)1 << ((599 - 100) % 64));
	assert_false(sl_health_expected(expect, 600));
}

static void
test_note_down(void **state)
{
	struct sl_health_streak s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(s.down, 0);
	/* unhealthy 3: out on the 3rd failure in a row, once */
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 0);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 0);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_WENT_DOWN);
	assert_int_equal(s.down, 1);
	assert_int_equal(s.fail, 3);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
		assert_int_equal(s.down, 1);
	}
}

static void
test_note_success_resets_failures(void **state)
{
	struct sl_health_streak s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(s.fail, 0);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 0);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_WENT_DOWN);
	assert_int_equal(s.down, 1);
	/* successes while up change nothing */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 10; i++)
		assert_int_equal(sl_health_note(&s, 1, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 0);
}

static void
test_note_up(void **state)
{
	struct sl_health_streak s;

	(void)state;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 3; i++)
		sl_health_note(&s, 0, 4, 3);
	assert_int_equal(s.down, 1);
	/* healthy 4: back on the 4th success in a row, a failure resets */
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 1);
	assert_int_equal(s.ok, 0);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 1);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_WENT_UP);
	assert_int_equal(s.down, 0);
	assert_int_equal(sl_health_note(&s, 1, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(s.down, 0);
	/* and down again takes a full streak of failures */
	assert_int_equal(sl_health_note(&s, 0, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 4, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 4, 3), SL_HEALTH_WENT_DOWN);
}

static void
test_note_thresholds_of_one(void **state)
{
	struct sl_health_streak s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_health_note(&s, 1, 1, 1), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 1, 1), SL_HEALTH_WENT_DOWN);
	assert_int_equal(s.down, 1);
	assert_int_equal(sl_health_note(&s, 0, 1, 1), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 1, 1), SL_HEALTH_WENT_UP);
	assert_int_equal(s.down, 0);
	assert_int_equal(sl_health_note(&s, 1, 1, 1), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 1, 1), SL_HEALTH_WENT_DOWN);
	assert_int_equal(sl_health_note(&s, 1, 1, 1), SL_HEALTH_WENT_UP);
}

/* Runs sl_health_response on a string with cap CAP. */
static int
response(const char *s, int *status, const char **why)
{
	*status = -7;
	*why = NULL;
	return sl_health_response(s, strlen(s), CAP, status, why);
}

static void
test_rejudge(void **state)
{
	struct sl_health_streak s;

	(void)state;
	/* down after 3 failures; the check changes: its first pass brings
	 * it back, though healthy is 2 */
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 3; i++)
		(void)sl_health_note(&s, 0, 2, 3);
	assert_int_equal(s.down, 1);
	(void)sl_health_note(&s, 1, 2, 3); /* one pass of the old check */
	sl_health_rejudge(&s, 2);
	assert_int_equal(s.down, 1); /* out until the new check says */
	assert_int_equal(sl_health_note(&s, 1, 2, 3), SL_HEALTH_WENT_UP);
	/* its first result a failure: a failing endpoint, `healthy`
	 * passes in a row as always */
	memset(&s, 0, sizeof(s));
	(void)sl_health_note(&s, 0, 2, 1);
	sl_health_rejudge(&s, 2);
	assert_int_equal(sl_health_note(&s, 0, 2, 1), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 2, 1), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 1, 2, 1), SL_HEALTH_WENT_UP);
	/* healthy 1 and a rejudge: one pass, as before */
	memset(&s, 0, sizeof(s));
	(void)sl_health_note(&s, 0, 1, 1);
	sl_health_rejudge(&s, 1);
	assert_int_equal(sl_health_note(&s, 1, 1, 1), SL_HEALTH_WENT_UP);
	/* up, two failures of three under the old check: they are
	 * forgotten, the new check needs its own three */
	memset(&s, 0, sizeof(s));
	(void)sl_health_note(&s, 0, 2, 3);
	(void)sl_health_note(&s, 0, 2, 3);
	sl_health_rejudge(&s, 2);
	assert_int_equal(s.down, 0);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_SAME);
	assert_int_equal(sl_health_note(&s, 0, 2, 3), SL_HEALTH_WENT_DOWN);
}

static void
test_check_fp(void **state)
{
	struct sl_tls_client tls = {.fp = 0x1234567};
	struct sl_conf_cluster a, b;
	char p1[] = "/health", p2[] = "/healthz";

	(void)state;
	memset(&a, 0, sizeof(a));
	a.health.enabled = 1;
	a.health.path = p1;
	a.health.interval_ms = 5000;
	a.health.timeout_ms = 1000;
	a.health.healthy = 2;
	a.health.unhealthy = 3;
	a.health.expect[1] = 0xff;
	b = a;
	assert_true(sl_health_check_fp(&a) == sl_health_check_fp(&b));
	/* when and how often: the same check */
	b.health.interval_ms = 1000;
	b.health.healthy = 1;
	b.health.unhealthy = 1;
	assert_true(sl_health_check_fp(&a) == sl_health_check_fp(&b));
	/* what a check says: another check */
	b = a;
	b.health.path = p2;
	assert_true(sl_health_check_fp(&a) != sl_health_check_fp(&b));
	b = a;
	b.health.timeout_ms = 2000;
	assert_true(sl_health_check_fp(&a) != sl_health_check_fp(&b));
	b = a;
	b.health.expect[7] = 1;
	assert_true(sl_health_check_fp(&a) != sl_health_check_fp(&b));
	b = a;
	b.tls.enabled = 1;
	b.tls.ctx = &tls;
	assert_true(sl_health_check_fp(&a) != sl_health_check_fp(&b));
	a = b;
	assert_true(sl_health_check_fp(&a) == sl_health_check_fp(&b));
	{
		/* another sni, CA or file: another fp (tls.c) */
		struct sl_tls_client tls2 = {.fp = 0x7654321};
		b.tls.ctx = &tls2;
		assert_true(sl_health_check_fp(&a) != sl_health_check_fp(&b));
	}
}

static void
test_response_ok(void **state)
{
	static const char ok[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	const char *why;
	int status;

	(void)state;
	assert_int_equal(response(ok, &status, &why), 1);
	assert_int_equal(status, 200);
	assert_int_equal(
	    response("HTTP/1.1 204 No Content\r\n\r\n", &status, &why), 1);
	assert_int_equal(status, 204);
	/* the caller decides with expect_status */
	assert_int_equal(response("HTTP/1.1 503 Service Unavailable\r\n"
				  "Content-Length: 0\r\n\r\n",
				  &status, &why),
			 1);
	assert_int_equal(status, 503);
	assert_int_equal(
	    response("HTTP/1.0 200 OK\r\nServer: old\r\n\r\n", &status, &why),
	    1);
	assert_int_equal(status, 200);
	assert_int_equal(response("HTTP/1.1 302 Found\r\nLocation: /x\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
				  &status, &why),
			 1);
	assert_int_equal(status, 302);
}

static void
test_response_partial(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
	const char *why;
	int status;

	(void)state;
	/* every proper prefix needs more bytes */
	for (size_t n = 0; n < sizeof(ok) - 1; n++) {
		status = -7;
		why = NULL;
		if (sl_health_response(ok, n, CAP, &status, &why) != 0)
			fail_msg("prefix of %zu bytes: not 0", n);
		assert_int_equal(status, -7);
	}
	assert_int_equal(
	    sl_health_response(ok, sizeof(ok) - 1, CAP, &status, &why), 1);
	assert_int_equal(status, 200);
}

static void
test_response_bad(void **state)
{
	const char *why;
	int status;

	(void)state;
	assert_int_equal(response("NOT HTTP\r\n\r\n", &status, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, "bad_status_line");
	assert_int_equal(status, -7);
	/* an interim answer is not the answer */
	assert_int_equal(
	    response("HTTP/1.1 100 Continue\r\n\r\n", &status, &why), -1);
	assert_non_null(why);
	assert_string_equal(why, "interim_response");
	assert_int_equal(status, -7);
	assert_int_equal(
	    response("HTTP/1.1 101 Switching Protocols\r\n\r\n", &status, &why),
	    -1);
	assert_string_equal(why, "interim_response");
	/* smuggling-shaped framing */
	assert_int_equal(response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n",
				  &status, &why),
			 -1);
	assert_non_null(why);
	assert_string_equal(why, "cl_te_conflict");
	assert_int_equal(status, -7);
	assert_int_equal(response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				  "Content-Length: 3\r\n\r\n",
				  &status, &why),
			 -1);
	assert_non_null(why);
	/* not an HTTP status */
	assert_int_equal(response("HTTP/1.1 600 Nope\r\n\r\n", &status, &why),
			 -1);
	assert_non_null(why);
	/* a bare LF, before the head is complete */
	assert_int_equal(response("HTTP/1.1 200 OK\nX: y", &status, &why), -1);
	assert_non_null(why);
}

static void
test_response_too_large(void **state)
{
	static const char head[] =
	    "HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaaaa\r\n\r\n";
	size_t n = sizeof(head) - 1;
	const char *why;
	int status;

	(void)state;
	/* a head exactly as long as the buffer fits */
	why = NULL;
	assert_int_equal(sl_health_response(head, n, n, &status, &why), 1);
	assert_int_equal(status, 200);
	/* the buffer is full and the head not complete */
	why = NULL;
	status = -7;
	assert_int_equal(sl_health_response(head, n - 1, n - 1, &status, &why),
			 -1);
	assert_non_null(why);
	assert_string_equal(why, "head_too_large");
	assert_int_equal(status, -7);
	why = NULL;
	assert_int_equal(sl_health_response(head, 20, 20, &status, &why), -1);
	assert_string_equal(why, "head_too_large");
	/* more bytes than the buffer holds, the head not complete within */
	why = NULL;
	assert_int_equal(sl_health_response(head, n, 20, &status, &why), -1);
	assert_string_equal(why, "head_too_large");
	/* a complete head one byte longer than the buffer */
	why = NULL;
	status = -7;
	assert_int_equal(sl_health_response(head, n, n - 1, &status, &why), -1);
	assert_string_equal(why, "head_too_large");
	assert_int_equal(status, -7);
	/* less than the buffer: more bytes needed */
	assert_int_equal(sl_health_response(head, 20, 21, &status, &why), 0);
}

static void
test_error_str(void **state)
{
	(void)state;
	assert_string_equal(sl_health_error_str(SL_HC_OK), "ok");
	assert_string_equal(sl_health_error_str(SL_HC_CONNECT),
			    "connect_failed");
	assert_string_equal(sl_health_error_str(SL_HC_TIMEOUT), "timeout");
	assert_string_equal(sl_health_error_str(SL_HC_CLOSED), "closed");
	assert_string_equal(sl_health_error_str(SL_HC_BAD), "bad_response");
	assert_string_equal(sl_health_error_str(SL_HC_STATUS),
			    "unexpected_status");
	assert_string_equal(sl_health_error_str(SL_HC_NERRORS), "?");
	assert_string_equal(sl_health_error_str((enum sl_health_error)77), "?");
	assert_string_equal(sl_health_error_str((enum sl_health_error) - 1),
			    "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expected),
	    cmocka_unit_test(test_note_down),
	    cmocka_unit_test(test_note_success_resets_failures),
	    cmocka_unit_test(test_note_up),
	    cmocka_unit_test(test_note_thresholds_of_one),
	    cmocka_unit_test(test_rejudge),
	    cmocka_unit_test(test_check_fp),
	    cmocka_unit_test(test_response_ok),
	    cmocka_unit_test(test_response_partial),
	    cmocka_unit_test(test_response_bad),
	    cmocka_unit_test(test_response_too_large),
	    cmocka_unit_test(test_error_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
