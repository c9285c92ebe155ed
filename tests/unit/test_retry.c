/* SPDX-License-Identifier: MIT */
/* Unit tests of the retry policy (src/proxy/retry.c): verdicts, budget,
 * backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "retry.h"

#define ON_ALL                                                                 \
	(SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET | SL_RETRY_ON_TIMEOUT |       \
	 SL_RETRY_ON_502 | SL_RETRY_ON_503 | SL_RETRY_ON_504)

/* The route defaults (conf.c parse_route). */
static struct sl_conf_retry
default_policy(void)
{
	struct sl_conf_retry p;

	memset(&p, 0, sizeof(p));
	p.attempts = 2;
	p.on = SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET;
	p.budget_percent = 20;
	return p;
}

/* A first attempt that failed to connect, with every resource left. */
static struct sl_retry_try
retryable(void)
{
	struct sl_retry_try a;

	memset(&a, 0, sizeof(a));
	a.cls = SL_RETRY_CLASS_NOT_SENT;
	a.kind = SL_RETRY_KIND_CONNECT;
	a.idempotent = 1;
	a.body_kept = 1;
	a.attempts = 1;
	a.active = 10;
	a.retrying = 0;
	a.now_ms = 1000;
	a.deadline_ms = 0;
	a.backoff_ms = 10;
	return a;
}

static void
test_yes(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.kind = SL_RETRY_KIND_RESET;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
}

/* Class 3 is never retried, whatever else allows it. */
static void
test_partial_never(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	p.on = ON_ALL;
	p.attempts = 10;
	p.budget_percent = 100;
	a.cls = SL_RETRY_CLASS_PARTIAL;
	a.idempotent = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	for (int k = SL_RETRY_KIND_CONNECT; k <= SL_RETRY_KIND_BAD; k++) {
		a.kind = (enum sl_retry_kind)k;
		a.status = 503;
		assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	}
}

static void
test_sent_needs_idempotent(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	p.on = ON_ALL;
	a.cls = SL_RETRY_CLASS_SENT;
	a.kind = SL_RETRY_KIND_RESET;
	a.idempotent = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	a.idempotent = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	/* a 503 to a POST: sent, so not safe */
	a.kind = SL_RETRY_KIND_STATUS;
	a.status = 503;
	a.idempotent = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	a.idempotent = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	/* safety comes before retry.on */
	p.on = 0;
	a.idempotent = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	a.idempotent = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
}

/* Class 1: nothing reached the upstream, a POST may go again. */
static void
test_not_sent_always_safe(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	a.idempotent = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.kind = SL_RETRY_KIND_RESET;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
}

static void
test_not_on(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	/* the default names connect failures and resets only */
	a.kind = SL_RETRY_KIND_TIMEOUT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	a.kind = SL_RETRY_KIND_STATUS;
	a.status = 503;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	a.kind = SL_RETRY_KIND_BAD;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	/* each kind is matched by its own bit only */
	p.on = SL_RETRY_ON_TIMEOUT;
	a.kind = SL_RETRY_KIND_TIMEOUT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.kind = SL_RETRY_KIND_CONNECT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	a.kind = SL_RETRY_KIND_RESET;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	p.on = SL_RETRY_ON_RESET;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.kind = SL_RETRY_KIND_CONNECT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	p.on = SL_RETRY_ON_CONNECT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	/* a malformed answer is never retried, even with everything on */
	p.on = ~0u;
	a.kind = SL_RETRY_KIND_BAD;
	a.status = 502;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
}

static void
test_status_bits(void **state)
{
	static const struct {
		int status;
		unsigned bit;
	} map[] = {
	    {502, SL_RETRY_ON_502},
	    {503, SL_RETRY_ON_503},
	    {504, SL_RETRY_ON_504},
	};
	static const int never[] = {0, 200, 404, 500, 501, 505, 599, 429, -1};
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	a.kind = SL_RETRY_KIND_STATUS;
	for (size_t i = 0; i < 3; i++) {
		a.status = map[i].status;
		p.on = map[i].bit;
		assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
		/* the other statuses' bits and the other kinds' don't do */
		p.on = ON_ALL & ~map[i].bit;
		if (sl_retry_decide(&p, &a) != SL_RETRY_NOT_ON)
			fail_msg("status %d retried without its bit",
				 map[i].status);
	}
	p.on = ~0u;
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		a.status = never[i];
		if (sl_retry_decide(&p, &a) != SL_RETRY_NOT_ON)
			fail_msg("status %d retried", never[i]);
	}
}

static void
test_no_body(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	a.body_kept = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BODY);
	a.body_kept = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
}

static void
test_attempts(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	/* attempts: 2 = one retry: after the first failure, not the second */
	a.attempts = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.attempts = 2;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
	a.attempts = 3;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
	/* attempts: 1 never retries */
	p.attempts = 1;
	a.attempts = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
	p.attempts = 5;
	a.attempts = 4;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.attempts = 5;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
}

static void
test_budget_verdict(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	/* 20% of 100 active: 20 retries in flight at most */
	a.active = 100;
	a.retrying = 19;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.retrying = 20;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	a.retrying = 21;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	/* few requests: the floor of 3 */
	a.active = 1;
	a.retrying = 2;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.retrying = 3;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	/* a budget of 0%: the floor still */
	p.budget_percent = 0;
	a.active = 1000;
	a.retrying = 2;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.retrying = 3;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	/* an attempt no upstream saw (refused, a pooled connection found
	 * closed) is moved, not multiplied: outside the budget */
	a.cls = SL_RETRY_CLASS_NOT_SENT;
	a.kind = SL_RETRY_KIND_CONNECT;
	a.unseen = 1;
	a.retrying = 1000;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	/* a connect timeout may be an overloaded host: counted */
	a.unseen = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	/* unseen says nothing of a class 2 attempt */
	a.cls = SL_RETRY_CLASS_SENT;
	a.kind = SL_RETRY_KIND_RESET;
	a.unseen = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	/* nor of the attempts left */
	a.cls = SL_RETRY_CLASS_NOT_SENT;
	a.kind = SL_RETRY_KIND_CONNECT;
	a.attempts = p.attempts;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
}

static void
test_other_cluster_budget(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	/* a refused connect moved to another cluster of a split adds a
	 * request to that cluster: its budget holds, unseen or not */
	a.unseen = 1;
	a.other_cluster = 1;
	a.active = 1;
	a.retrying = 2;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.retrying = 3;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	a.active = 100;
	a.retrying = 19;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.retrying = 20;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	/* within its own cluster the same attempt is outside the budget */
	a.other_cluster = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	/* and a move still needs the policy's other yeses */
	a.other_cluster = 1;
	a.retrying = 0;
	a.attempts = p.attempts;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
	a.attempts = 0; /* no attempt made: a cluster with none up */
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	p.on = SL_RETRY_ON_503;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	p.on = SL_RETRY_ON_CONNECT;
	a.deadline_ms = a.now_ms;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_TIME);
}

static void
test_deadline(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	a.now_ms = 1000;
	a.backoff_ms = 20;
	a.deadline_ms = 0; /* none */
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.deadline_ms = 1021;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
	a.deadline_ms = 1020; /* the retry would start at the deadline */
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_TIME);
	a.deadline_ms = 1005;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_TIME);
	a.deadline_ms = 500; /* already passed */
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_TIME);
	a.backoff_ms = 0;
	a.deadline_ms = 1000;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_TIME);
	a.deadline_ms = 1001;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
}

/* Everything wrong at once, then fixed one reason at a time: the verdicts
 * come in retry.c's order. */
static void
test_precedence(void **state)
{
	struct sl_conf_retry p = default_policy();
	struct sl_retry_try a = retryable();

	(void)state;
	a.cls = SL_RETRY_CLASS_PARTIAL;
	a.kind = SL_RETRY_KIND_BAD;
	a.idempotent = 0;
	a.body_kept = 0;
	a.attempts = 2;
	a.active = 0;
	a.retrying = 3;
	a.now_ms = 5000;
	a.backoff_ms = 10;
	a.deadline_ms = 4000;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	a.cls = SL_RETRY_CLASS_SENT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_SAFE);
	a.cls = SL_RETRY_CLASS_NOT_SENT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NOT_ON);
	a.kind = SL_RETRY_KIND_CONNECT;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BODY);
	a.body_kept = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_ATTEMPTS);
	a.attempts = 1;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_BUDGET);
	a.retrying = 2;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_NO_TIME);
	a.deadline_ms = 0;
	assert_int_equal(sl_retry_decide(&p, &a), SL_RETRY_YES);
}

static void
test_budget(void **state)
{
	(void)state;
	assert_int_equal(SL_RETRY_BUDGET_FLOOR, 3);
	assert_int_equal(sl_retry_budget(20, 0), 3);
	assert_int_equal(sl_retry_budget(20, 1), 3);
	assert_int_equal(sl_retry_budget(20, 14), 3); /* 2.8 */
	assert_int_equal(sl_retry_budget(20, 15), 3); /* 3 */
	assert_int_equal(sl_retry_budget(20, 20), 4); /* 4 */
	assert_int_equal(sl_retry_budget(20, 24), 4); /* 4.8: floor */
	assert_int_equal(sl_retry_budget(20, 100), 20);
	assert_int_equal(sl_retry_budget(0, 0), 3);
	assert_int_equal(sl_retry_budget(0, 1000000), 3);
	assert_int_equal(sl_retry_budget(100, 50), 50);
	assert_int_equal(sl_retry_budget(100, 2), 3);
	assert_int_equal(sl_retry_budget(35, 1000), 350);
	/* no overflow in active * percent */
	assert_int_equal(sl_retry_budget(100, UINT32_MAX), UINT32_MAX);
	assert_int_equal(sl_retry_budget(20, UINT32_MAX),
			 (uint32_t)((uint64_t)UINT32_MAX * 20 / 100));
	assert_int_equal(sl_retry_budget(50, 4000000000u), 2000000000u);
}

/* A 64-bit LCG (Knuth's MMIX constants), its high bits mixed down. */
static uint64_t
lcg(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x ^ (*x >> 29);
}

static void
test_backoff(void **state)
{
	static const struct {
		uint32_t n;
		uint64_t bound;
	} cases[] = {
	    {1, 25},   {2, 50},	    {3, 100},	       {4, 200},  {5, 250},
	    {6, 250},  {7, 250},    {10, 250},	       {31, 250}, {32, 250},
	    {64, 250}, {1000, 250}, {UINT32_MAX, 250},
	};
	uint64_t x = 42;

	(void)state;
	assert_int_equal(SL_RETRY_BACKOFF_BASE_MS, 25);
	assert_int_equal(SL_RETRY_BACKOFF_MAX_MS, 250);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t n = cases[i].n;
		uint64_t bound = cases[i].bound, max = 0, min = UINT64_MAX;
		unsigned char seen[250];
		size_t nseen = 0;

		memset(seen, 0, sizeof(seen));
		assert_int_equal(sl_retry_backoff(n, 0), 0);
		assert_true(sl_retry_backoff(n, UINT64_MAX) < bound);
		assert_int_equal(sl_retry_backoff(n, bound - 1), bound - 1);
		assert_int_equal(sl_retry_backoff(n, bound), 0);
		for (int k = 0; k < 20000; k++) {
			uint64_t b = sl_retry_backoff(n, lcg(&x));

			if (b >= bound)
				fail_msg("backoff(%u) = %llu, bound %llu",
					 (unsigned)n, (unsigned long long)b,
					 (unsigned long long)bound);
			if (!seen[b]) {
				seen[b] = 1;
				nseen++;
			}
			if (b > max)
				max = b;
			if (b < min)
				min = b;
		}
		/* full jitter: the whole range is used */
		assert_int_equal(max, bound - 1);
		assert_int_equal(min, 0);
		assert_int_equal(nseen, bound);
	}
}

static void
test_idempotent(void **state)
{
	(void)state;
	assert_true(sl_retry_idempotent(SL_M_GET));
	assert_true(sl_retry_idempotent(SL_M_HEAD));
	assert_true(sl_retry_idempotent(SL_M_PUT));
	assert_true(sl_retry_idempotent(SL_M_DELETE));
	assert_true(sl_retry_idempotent(SL_M_OPTIONS));
	assert_true(sl_retry_idempotent(SL_M_TRACE));
	assert_false(sl_retry_idempotent(SL_M_POST));
	assert_false(sl_retry_idempotent(SL_M_PATCH));
	assert_false(sl_retry_idempotent(SL_M_CONNECT));
	assert_false(sl_retry_idempotent(SL_M_OTHER));
}

static void
test_verdict_str(void **state)
{
	(void)state;
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_YES), "yes");
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NOT_ON), "not_on");
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NOT_SAFE),
			    "not_safe");
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NO_ATTEMPTS),
			    "no_attempts");
	/* the name admin.c documents for NO_BODY */
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NO_BODY),
			    "body_too_large");
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NO_BUDGET),
			    "no_budget");
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NO_TIME), "no_time");
	assert_string_equal(sl_retry_verdict_str(SL_RETRY_NVERDICTS), "?");
	assert_string_equal(sl_retry_verdict_str((enum sl_retry_verdict)99),
			    "?");
	assert_string_equal(sl_retry_verdict_str((enum sl_retry_verdict) - 1),
			    "?");
	/* every verdict has a distinct name */
	for (int i = 0; i < SL_RETRY_NVERDICTS; i++)
		for (int j = i + 1; j < SL_RETRY_NVERDICTS; j++)
			assert_string_not_equal(
			    sl_retry_verdict_str((enum sl_retry_verdict)i),
			    sl_retry_verdict_str((enum sl_retry_verdict)j));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_yes),
	    cmocka_unit_test(test_partial_never),
	    cmocka_unit_test(test_sent_needs_idempotent),
	    cmocka_unit_test(test_not_sent_always_safe),
	    cmocka_unit_test(test_not_on),
	    cmocka_unit_test(test_status_bits),
	    cmocka_unit_test(test_no_body),
	    cmocka_unit_test(test_attempts),
	    cmocka_unit_test(test_budget_verdict),
	    cmocka_unit_test(test_other_cluster_budget),
	    cmocka_unit_test(test_deadline),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_idempotent),
	    cmocka_unit_test(test_verdict_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
