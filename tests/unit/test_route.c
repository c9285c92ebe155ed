/* SPDX-License-Identifier: MIT */
/* Unit tests for route matching: host (exact, wildcard, port, case), path
 * and path_prefix (query ignored), methods, headers, first match wins; the
 * cluster a split's request fails over to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "balance.h"
#include "route.h"
#include "route_index.h"
#include "util.h"

static struct sl_h1_header hdrs[8];

static struct sl_h1_request
mkreq(const char *method, const char *host, const char *path)
{
	struct sl_h1_request r;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.method_len = strlen(method);
	r.host = host;
	r.host_len = host ? strlen(host) : 0;
	r.path = path;
	r.path_len = strlen(path);
	r.headers = hdrs;
	r.max_headers = 8;
	return r;
}

static void
add_header(struct sl_h1_request *r, const char *name, const char *value)
{
	struct sl_h1_header *h = &r->headers[r->nheaders++];

	h->name = name;
	h->name_len = strlen(name);
	h->value = value;
	h->value_len = strlen(value);
	h->kind = SL_HK_UNSET;
}

static void
test_host_exact_and_port(void **state)
{
	struct sl_conf_route r = {.name = "a", .host = "pay.example.com"};
	struct sl_conf_listener l = {.routes = &r, .nroutes = 1};
	struct sl_h1_request q = mkreq("GET", "pay.example.com", "/");

	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("GET", "PAY.Example.COM:8080", "/");
	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("GET", "pay.example.com.", "/");
	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("GET", "xpay.example.com", "/");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("GET", "pay.example.co", "/");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("GET", NULL, "/"); /* HTTP/1.0 without Host */
	assert_null(sl_route_match(&l, &q));
}

static void
test_host_wildcard(void **state)
{
	struct sl_conf_route r = {
	    .name = "w", .host = ".example.com", .host_wildcard = 1};
	struct sl_conf_listener l = {.routes = &r, .nroutes = 1};
	struct sl_h1_request q = mkreq("GET", "a.example.com", "/");

	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("GET", "a.b.Example.com:443", "/");
	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("GET", "example.com", "/");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("GET", "badexample.com", "/");
	assert_null(sl_route_match(&l, &q));
}

static void
test_host_ipv6_literal(void **state)
{
	struct sl_conf_route r = {.name = "v6", .host = "[::1]"};
	struct sl_conf_listener l = {.routes = &r, .nroutes = 1};
	struct sl_h1_request q = mkreq("GET", "[::1]:8080", "/");

	assert_int_equal(sl_route_host_len("[::1]:8080", 10), 5);
	assert_ptr_equal(sl_route_match(&l, &q), &r);
}

static void
test_path_exact_and_prefix(void **state)
{
	struct sl_conf_route r[2] = {
	    {.name = "exact", .path = "/health"},
	    {.name = "prefix", .path = "/v1/", .path_prefix = 1},
	};
	struct sl_conf_listener l = {.routes = r, .nroutes = 2};
	struct sl_h1_request q = mkreq("GET", "h", "/health");

	assert_ptr_equal(sl_route_match(&l, &q), &r[0]);
	q = mkreq("GET", "h", "/health?full=1");
	assert_ptr_equal(sl_route_match(&l, &q), &r[0]);
	q = mkreq("GET", "h", "/healthz");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("GET", "h", "/v1/pay?x=/v2/");
	assert_ptr_equal(sl_route_match(&l, &q), &r[1]);
	q = mkreq("GET", "h", "/v1");
	assert_null(sl_route_match(&l, &q));
	/* the query is not part of the path */
	q = mkreq("GET", "h", "/x?/v1/");
	assert_null(sl_route_match(&l, &q));
}

static void
test_methods(void **state)
{
	char *m[] = {"GET", "POST"};
	struct sl_conf_route r = {.name = "m", .methods = m, .nmethods = 2};
	struct sl_conf_listener l = {.routes = &r, .nroutes = 1};
	struct sl_h1_request q = mkreq("POST", "h", "/");

	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("PUT", "h", "/");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("GE", "h", "/");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("get", "h", "/"); /* methods are case-sensitive */
	assert_null(sl_route_match(&l, &q));
}

static void
test_headers_all_must_match(void **state)
{
	struct sl_conf_header_match hm[2] = {{"x-canary", "on"},
					     {"x-tenant", "acme"}};
	struct sl_conf_route r = {.name = "h", .headers = hm, .nheaders = 2};
	struct sl_conf_listener l = {.routes = &r, .nroutes = 1};
	struct sl_h1_request q = mkreq("GET", "h", "/");

	add_header(&q, "X-Canary", "on");
	assert_null(sl_route_match(&l, &q));
	add_header(&q, "x-TENANT", "acme");
	assert_ptr_equal(sl_route_match(&l, &q), &r);
	q = mkreq("GET", "h", "/");
	add_header(&q, "X-Canary", "ON"); /* values are exact */
	add_header(&q, "X-Tenant", "acme");
	assert_null(sl_route_match(&l, &q));
	q = mkreq("GET", "h", "/");
	add_header(&q, "X-Canary", "off");
	add_header(&q, "X-Canary", "on"); /* any field with the name */
	add_header(&q, "X-Tenant", "acme");
	assert_ptr_equal(sl_route_match(&l, &q), &r);
}

static void
test_first_match_wins(void **state)
{
	struct sl_conf_route r[3] = {
	    {.name = "api",
	     .host = "api.example.com",
	     .path = "/v1/",
	     .path_prefix = 1},
	    {.name = "api-any", .host = "api.example.com"},
	    {.name = "all"},
	};
	struct sl_conf_listener l = {.routes = r, .nroutes = 3};
	struct sl_h1_request q = mkreq("GET", "api.example.com", "/v1/x");

	assert_ptr_equal(sl_route_match(&l, &q), &r[0]);
	q = mkreq("GET", "api.example.com", "/v2/x");
	assert_ptr_equal(sl_route_match(&l, &q), &r[1]);
	q = mkreq("GET", "other", "/v1/x");
	assert_ptr_equal(sl_route_match(&l, &q), &r[2]);
}

/* A split of n clusters named c0, c1, ... with the given weights. */
#define MAX_SPLIT 70
static char split_names[MAX_SPLIT][8];
static struct sl_conf_split split_entries[MAX_SPLIT];
static uint32_t split_weights[MAX_SPLIT];
static uint64_t split_ids[MAX_SPLIT];

static struct sl_conf_route
mksplit(const uint32_t *w, size_t n)
{
	struct sl_conf_route r;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++) {
		snprintf(split_names[i], sizeof(split_names[i]), "c%zu", i);
		split_ids[i] =
		    sl_hash64(split_names[i], strlen(split_names[i]));
		split_weights[i] = w[i];
		split_entries[i].weight = w[i];
		split_entries[i].id = split_ids[i];
	}
	r.name = "split";
	r.split = split_entries;
	r.nsplit = n;
	r.split_weights = split_weights;
	r.split_ids = split_ids;
	r.split_failover = 1;
	return r;
}

static void
test_failover_excludes(void **state)
{
	static const uint32_t w[3] = {50, 0, 50};
	struct sl_conf_route r = mksplit(w, 3);
	int64_t swrr[3] = {0, 0, 0};
	uint64_t key = 42;

	(void)state;
	/* the one left out and the one of weight 0 never take it */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(
		    sl_route_failover(&r, r.split_weights, 1u << 0, NULL, swrr),
		    2);
		assert_int_equal(
		    sl_route_failover(&r, r.split_weights, 1u << 2, NULL, swrr),
		    0);
		assert_int_equal(
		    sl_route_failover(&r, r.split_weights, 1u << 0, &key, swrr),
		    2);
	}
	/* every cluster with traffic left: none */
	assert_true(sl_route_failover(&r, r.split_weights, 1u << 0 | 1u << 2,
				      NULL, swrr) == SL_BALANCE_NONE);
	assert_true(sl_route_failover(&r, r.split_weights, 1u << 0 | 1u << 2,
				      &key, swrr) == SL_BALANCE_NONE);
	/* a move over the rest leaves the counters as balanced as they
	 * were */
	assert_int_equal(swrr[0] + swrr[1] + swrr[2], 0);
}

static void
test_failover_sticky_second_choice(void **state)
{
	static const uint32_t w[4] = {40, 30, 20, 10};
	struct sl_conf_route r = mksplit(w, 4);
	int64_t swrr[4] = {0, 0, 0, 0};

	(void)state;
	/* a user whose cluster fails goes where it would be if that cluster
	 * were not in the split, and always to the same one */
	for (uint64_t u = 0; u < 2000; u++) {
		uint64_t key = sl_hash64(&u, sizeof(u));
		size_t first =
		    sl_balance_race(key, split_ids, split_weights, 4, NULL);
		uint32_t w2[4];
		size_t second, got;

		memcpy(w2, w, sizeof(w2));
		w2[first] = 0;
		second = sl_balance_race(key, split_ids, w2, 4, NULL);
		got = sl_route_failover(&r, r.split_weights,
					(uint64_t)1 << first, &key, swrr);
		assert_int_equal(got, second);
		assert_int_equal(sl_route_failover(&r, r.split_weights,
						   (uint64_t)1 << first, &key,
						   swrr),
				 got);
	}
	assert_int_equal(swrr[0] | swrr[1] | swrr[2] | swrr[3], 0);
}

static void
test_failover_by_weight(void **state)
{
	static const uint32_t w[3] = {5, 1, 2};
	struct sl_conf_route r = mksplit(w, 3);
	int64_t swrr[3] = {0, 0, 0};
	size_t n[3] = {0, 0, 0};

	(void)state;
	/* without a key: in turn by weight over the rest, exactly */
	for (int i = 0; i < 300; i++)
		n[sl_route_failover(&r, r.split_weights, 1u << 0, NULL,
				    swrr)]++;
	assert_int_equal(n[0], 0);
	assert_int_equal(n[1], 100);
	assert_int_equal(n[2], 200);
	assert_int_equal(swrr[0] + swrr[1] + swrr[2], 0);
}

static void
test_failover_first_64(void **state)
{
	uint32_t w[MAX_SPLIT];
	struct sl_conf_route r;
	int64_t swrr[MAX_SPLIT];
	uint64_t key = 7;

	(void)state;
	for (size_t i = 0; i < MAX_SPLIT; i++)
		w[i] = i < 2 ? 1 : 100;
	r = mksplit(w, MAX_SPLIT);
	memset(swrr, 0, sizeof(swrr));
	/* entries past the 64th never take a failover */
	for (int i = 0; i < 200; i++) {
		assert_true(
		    sl_route_failover(&r, r.split_weights, 1, NULL, swrr) < 64);
		assert_true(
		    sl_route_failover(&r, r.split_weights, 1, &key, swrr) < 64);
	}
	assert_true(sl_route_failover(&r, r.split_weights, UINT64_MAX, NULL,
				      swrr) == SL_BALANCE_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_exact_and_port),
	    cmocka_unit_test(test_host_wildcard),
	    cmocka_unit_test(test_host_ipv6_literal),
	    cmocka_unit_test(test_path_exact_and_prefix),
	    cmocka_unit_test(test_methods),
	    cmocka_unit_test(test_headers_all_must_match),
	    cmocka_unit_test(test_first_match_wins),
	    cmocka_unit_test(test_failover_excludes),
	    cmocka_unit_test(test_failover_sticky_second_choice),
	    cmocka_unit_test(test_failover_by_weight),
	    cmocka_unit_test(test_failover_first_64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
