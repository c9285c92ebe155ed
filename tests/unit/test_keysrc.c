/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of key sets fetched from a URL (src/edge/keysrc.c): the
 * registry that carries a source across generations, the schedule of
 * fetches (a set's lifetime between the refetch interval and refresh, a
 * failure's backoff), the refetch an unknown kid may cause (one per
 * interval, joined while one runs, not within an interval for a kid the
 * current set was fetched without), and each worker's reference to the
 * set in use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "keysrc.c"

/* one public P-256 key (its private half never kept) */
static const char JWKS[] =
    "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", "
    "\"x\": \"n_P3yv83hrzbe4d1QK2hZl5h1eNSk28X4CTIC4D01u4\", "
    "\"y\": \"QQTp7yg7ohYabW9VLD7po-finBgtneIJUNCltqEQYQE\", "
    "\"kid\": \"k1\", \"use\": \"sig\"}]}";

static struct sl_jwks *
parse(void)
{
	char why[128];
	struct sl_jwks *ks =
	    sl_jwks_parse(JWKS, strlen(JWKS), why, sizeof(why));

	assert_non_null(ks);
	return ks;
}

static void
test_registry(void **state)
{
	struct sl_keysrc *a = sl_keysrc_get("http://i/k", "c", 60000, 1000, 7);
	struct sl_keysrc *b = sl_keysrc_get("http://i/k", "c", 60000, 1000, 7);
	struct sl_keysrc *c = sl_keysrc_get("http://i/k2", "c", 60000, 2000, 7);
	struct sl_keysrc *d =
	    sl_keysrc_get("http://i/k", "other", 60000, 1000, 7);

	(void)state;
	assert_non_null(a);
	assert_ptr_equal(a, b); /* a reload's: the same source, its set */
	/* a reload with other timings keeps the source, takes them */
	assert_ptr_equal(sl_keysrc_get("http://i/k", "c", 90000, 3000, 7), a);
	assert_int_equal(atomic_load(&a->refresh_ms), 90000);
	assert_int_equal(atomic_load(&a->refetch_ms), 3000);
	sl_keysrc_put(a);
	/* other endpoints: fetched again at once */
	atomic_store(&a->due_ms, 12345);
	assert_ptr_equal(sl_keysrc_get("http://i/k", "c", 60000, 1000, 8), a);
	assert_int_equal(atomic_load(&a->due_ms), 0);
	sl_keysrc_put(a);
	assert_ptr_not_equal(a, c);
	assert_ptr_not_equal(a, d);
	assert_int_equal(a->refs, 2);
	sl_keysrc_put(b);
	assert_int_equal(a->refs, 1);
	sl_keysrc_put(a); /* freed: a new get makes a new one */
	a = sl_keysrc_get("http://i/k", "c", 60000, 1000, 7);
	assert_int_equal(a->refs, 1);
	assert_int_equal(atomic_load(&a->version), 0);
	sl_keysrc_put(a);
	sl_keysrc_put(c);
	sl_keysrc_put(d);
	sl_keysrc_put(NULL);
}

static void
test_schedule(void **state)
{
	struct sl_keysrc *s = sl_keysrc_get("http://i/s", "c", 60000, 5000, 1);

	(void)state;
	/* due at once, and only one fetch at a time */
	assert_int_equal(sl_keysrc_claim_due(s, 100), 1);
	assert_int_equal(sl_keysrc_claim_due(s, 100), 0);
	/* failures: 1 s, 2 s, 4 s, then the refetch interval */
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_FAILED, 0, NULL, -1,
			  100, 1);
	assert_int_equal(atomic_load(&s->due_ms), 1100);
	assert_int_equal(sl_keysrc_claim_due(s, 1099), 0);
	assert_int_equal(sl_keysrc_claim_due(s, 1100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_FAILED, 503, NULL, -1,
			  1100, 1);
	assert_int_equal(atomic_load(&s->due_ms), 3100);
	assert_int_equal(sl_keysrc_claim_due(s, 3100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_FAILED, 0, NULL, -1,
			  3100, 1);
	assert_int_equal(atomic_load(&s->due_ms), 7100);
	assert_int_equal(sl_keysrc_claim_due(s, 7100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_FAILED, 0, NULL, -1,
			  7100, 1);
	assert_int_equal(atomic_load(&s->due_ms), 12100);
	assert_int_equal(atomic_load(&s->last_status), 0);
	assert_int_equal(
	    atomic_load(&s->fetches[SL_KEYSRC_R_START][SL_KEYSRC_FAILED]), 4);
	/* a set: refresh without max-age; the backoff starts over */
	assert_int_equal(sl_keysrc_claim_due(s, 12100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_OK, 200, parse(), -1,
			  12100, 77);
	assert_int_equal(atomic_load(&s->due_ms), 72100);
	assert_int_equal(atomic_load(&s->ok_unix_s), 77);
	assert_int_equal(atomic_load(&s->nkeys), 1);
	assert_int_equal(s->backoff_ms, 1000);
	/* max-age shortens it, never below the refetch interval */
	assert_int_equal(sl_keysrc_claim_due(s, 72100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_REFRESH, SL_KEYSRC_OK, 200, parse(),
			  20, 72100, 78);
	assert_int_equal(atomic_load(&s->due_ms), 92100);
	assert_int_equal(sl_keysrc_claim_due(s, 92100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_REFRESH, SL_KEYSRC_OK, 200, parse(), 0,
			  92100, 79);
	assert_int_equal(atomic_load(&s->due_ms), 97100);
	/* and never above refresh */
	assert_int_equal(sl_keysrc_claim_due(s, 97100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_REFRESH, SL_KEYSRC_OK, 200, parse(),
			  86400, 97100, 80);
	assert_int_equal(atomic_load(&s->due_ms), 157100);
	assert_int_equal(atomic_load(&s->version), 4);
	/* a set handed with a failure is dropped, the last good one stays */
	assert_int_equal(sl_keysrc_claim_due(s, 157100), 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_REFRESH, SL_KEYSRC_INVALID, 200,
			  parse(), -1, 157100, 81);
	assert_int_equal(atomic_load(&s->version), 4);
	assert_int_equal(atomic_load(&s->ok_unix_s), 80);
	assert_int_equal(
	    atomic_load(&s->fetches[SL_KEYSRC_R_REFRESH][SL_KEYSRC_INVALID]),
	    1);
	/* out-of-range reasons and results are counted as refresh/failed */
	assert_int_equal(sl_keysrc_claim_due(s, 200000), 1);
	sl_keysrc_fetched(s, 99, 99, 0, NULL, -1, 200000, 82);
	assert_int_equal(
	    atomic_load(&s->fetches[SL_KEYSRC_R_REFRESH][SL_KEYSRC_FAILED]), 1);
	assert_string_equal(sl_keysrc_reason_str(SL_KEYSRC_R_KID),
			    "unknown_kid");
	assert_string_equal(sl_keysrc_reason_str(7), "?");
	assert_string_equal(sl_keysrc_result_str(SL_KEYSRC_INVALID), "invalid");
	assert_string_equal(sl_keysrc_result_str(-1), "?");
	assert_string_equal(sl_keysrc_kid_str(SL_KEYSRC_KID_NEGATIVE),
			    "negative");
	assert_string_equal(sl_keysrc_kid_str(9), "?");
	sl_keysrc_put(s);
}

static void
test_unknown_kid(void **state)
{
	struct sl_keysrc *s = sl_keysrc_get("http://i/u", "c", 60000, 10000, 1);
	uint64_t h1 = sl_keysrc_kid_hash("new", 3), h2, h3;
	int fetch;

	(void)state;
	h2 = sl_keysrc_kid_hash("other", 5);
	h3 = sl_keysrc_kid_hash("third", 5);
	assert_int_not_equal(h1, 0);
	assert_int_not_equal(h1, h2);
	assert_int_not_equal(sl_keysrc_kid_hash("", 0), 0);
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_OK, 200, parse(), -1,
			  0, 1); /* unclaimed: the test's own set */
	/* the first unknown kid fetches */
	assert_int_equal(sl_keysrc_unknown_kid(s, h1, 1000, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 1);
	assert_int_equal(atomic_load(&s->fetching), 1);
	/* another, while it runs: waits for it, fetches nothing */
	assert_int_equal(sl_keysrc_unknown_kid(s, h2, 1001, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 0);
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_OK, 200, parse(), -1,
			  1500, 2);
	/* it did not bring h1: known unknown to this set */
	sl_keysrc_negative(s, h1, 1500);
	sl_keysrc_negative(s, h1, 1600); /* once */
	sl_keysrc_negative(s, 0, 1500);	 /* no kid: nothing */
	assert_int_equal(s->neg_next, 1);
	assert_int_equal(s->neg[0].until_ms, 11500);
	assert_int_equal(sl_keysrc_unknown_kid(s, h1, 2000, &fetch),
			 SL_KEYSRC_KID_NEGATIVE);
	assert_int_equal(fetch, 0);
	/* within the interval, another kid is limited */
	assert_int_equal(sl_keysrc_unknown_kid(s, h3, 10999, &fetch),
			 SL_KEYSRC_KID_LIMITED);
	assert_int_equal(fetch, 0);
	/* after it, one refetch again */
	assert_int_equal(sl_keysrc_unknown_kid(s, h3, 11000, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_OK, 200, parse(), -1,
			  11100, 3);
	/* a new set: h1 may be in it, so it is no longer known unknown */
	assert_int_equal(sl_keysrc_unknown_kid(s, h1, 21000, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 1);
	/* what each unknown kid came to, counted */
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_FAILED, 0, NULL, -1,
			  21100, 3);
	assert_int_equal(atomic_load(&s->kids[SL_KEYSRC_KID_REFETCH]), 4);
	assert_int_equal(atomic_load(&s->kids[SL_KEYSRC_KID_LIMITED]), 1);
	assert_int_equal(atomic_load(&s->kids[SL_KEYSRC_KID_NEGATIVE]), 1);
	/* the negative ring keeps the last SL_KEYSRC_NEG */
	for (unsigned i = 0; i < SL_KEYSRC_NEG + 1; i++) {
		char kid[16];
		int n = snprintf(kid, sizeof(kid), "k%u", i);
		sl_keysrc_negative(s, sl_keysrc_kid_hash(kid, (size_t)n),
				   50000);
	}
	assert_int_equal(sl_keysrc_unknown_kid(s, sl_keysrc_kid_hash("k0", 2),
					       50001, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(sl_keysrc_unknown_kid(s, sl_keysrc_kid_hash("k5", 2),
					       50001, &fetch),
			 SL_KEYSRC_KID_NEGATIVE);
	sl_keysrc_put(s);
}

/*
 * A kid whose key the provider publishes after the kid's first token:
 * the fetch that token made lacked it, and the kid is refused unasked for
 * a refetch interval, no longer. Then it refetches once; a flood of kids
 * whose entries lapsed together still costs one fetch an interval.
 */
static void
test_negative_lapses(void **state)
{
	struct sl_keysrc *s =
	    sl_keysrc_get("http://i/n", "c", 3600000, 1000, 1);
	uint64_t k = sl_keysrc_kid_hash("2026-12", 7);
	int fetch, nfetch;

	(void)state;
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_OK, 200, parse(), -1,
			  0, 1);
	/* the first token: a refetch that does not bring it */
	assert_int_equal(sl_keysrc_unknown_kid(s, k, 10000, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_OK, 200, parse(), -1,
			  10200, 2);
	sl_keysrc_negative(s, k, 10200);
	/* refused unasked within the interval ... */
	assert_int_equal(sl_keysrc_unknown_kid(s, k, 11199, &fetch),
			 SL_KEYSRC_KID_NEGATIVE);
	assert_int_equal(fetch, 0);
	/* ... a token that waited for the same fetch does not make it
	 * longer ... */
	sl_keysrc_negative(s, k, 11000);
	assert_int_equal(s->neg[0].until_ms, 11200);
	/* ... and asked again after it, with the set unchanged (refresh is
	 * an hour away): it was once refused until the set changed */
	assert_int_equal(sl_keysrc_unknown_kid(s, k, 11200, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 1);
	/* the provider published it meanwhile: nothing more is remembered */
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_OK, 200, parse(), -1,
			  11300, 3);
	assert_int_equal(s->neg_next, 1);

	/* many kids, remembered together, lapse together: the first after
	 * the interval refetches, the others join that one fetch, and once
	 * it ended they are limited: one fetch, process-wide */
	for (unsigned i = 0; i < 20; i++) {
		char kid[16];
		int n = snprintf(kid, sizeof(kid), "m%u", i);
		sl_keysrc_negative(s, sl_keysrc_kid_hash(kid, (size_t)n),
				   11300);
	}
	nfetch = 0;
	for (unsigned i = 0; i < 20; i++) {
		char kid[16];
		int n = snprintf(kid, sizeof(kid), "m%u", i);
		assert_int_equal(
		    sl_keysrc_unknown_kid(s, sl_keysrc_kid_hash(kid, (size_t)n),
					  12300 + i, &fetch),
		    SL_KEYSRC_KID_REFETCH);
		nfetch += fetch;
	}
	assert_int_equal(nfetch, 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_FAILED, 0, NULL, -1,
			  12400, 3);
	for (unsigned i = 0; i < 20; i++) {
		char kid[16];
		int n = snprintf(kid, sizeof(kid), "m%u", i);
		assert_int_equal(
		    sl_keysrc_unknown_kid(s, sl_keysrc_kid_hash(kid, (size_t)n),
					  12500, &fetch),
		    SL_KEYSRC_KID_LIMITED);
	}
	/* a failed fetch keeps the set: a kid that waited for it is
	 * remembered against that set, for an interval too */
	sl_keysrc_negative(s, sl_keysrc_kid_hash("m0", 2), 12400);
	assert_int_equal(sl_keysrc_unknown_kid(s, sl_keysrc_kid_hash("m0", 2),
					       13399, &fetch),
			 SL_KEYSRC_KID_NEGATIVE);
	assert_int_equal(sl_keysrc_unknown_kid(s, sl_keysrc_kid_hash("m0", 2),
					       13400, &fetch),
			 SL_KEYSRC_KID_REFETCH);
	assert_int_equal(fetch, 1);
	sl_keysrc_fetched(s, SL_KEYSRC_R_KID, SL_KEYSRC_FAILED, 0, NULL, -1,
			  13500, 3);
	sl_keysrc_put(s);
}

static void
test_worker_sets(void **state)
{
	struct sl_keysrc *s = sl_keysrc_get("http://i/w", "c", 60000, 1000, 1);
	struct sl_jwks *a = parse(), *b = parse(), *cur;

	(void)state;
	assert_null(sl_keysrc_set(s, 0));
	assert_null(sl_keysrc_current(s));
	assert_null(sl_keysrc_set(s, SL_KEYSRC_WORKERS)); /* no such worker */
	sl_keysrc_fetched(s, SL_KEYSRC_R_START, SL_KEYSRC_OK, 200, a, -1, 0, 1);
	assert_ptr_equal(sl_keysrc_set(s, 0), a);
	assert_ptr_equal(sl_keysrc_set(s, 3), a);
	assert_int_equal(atomic_load(&a->refs), 3); /* the source's, two */
	/* a new set: worker 0 takes it at its next call; worker 3 keeps
	 * its reference to a until its own */
	sl_keysrc_fetched(s, SL_KEYSRC_R_REFRESH, SL_KEYSRC_OK, 200, b, -1, 0,
			  2);
	assert_int_equal(atomic_load(&a->refs), 2);
	assert_ptr_equal(sl_keysrc_set(s, 0), b);
	assert_int_equal(atomic_load(&a->refs), 1);
	assert_ptr_equal(s->slot[3].ks, a);
	cur = sl_keysrc_current(s);
	assert_ptr_equal(cur, b);
	assert_int_equal(atomic_load(&b->refs), 3);
	sl_jwks_free(cur);
	assert_ptr_equal(sl_keysrc_set(s, 3), b); /* a is freed here */
	sl_keysrc_put(s); /* frees b and the workers' references */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry),
	    cmocka_unit_test(test_schedule),
	    cmocka_unit_test(test_unknown_kid),
	    cmocka_unit_test(test_negative_lapses),
	    cmocka_unit_test(test_worker_sets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
