/* SPDX-License-Identifier: MIT */
/* Unit tests for route matching: host (exact, wildcard, port, case), path
 * and path_prefix (query ignored), methods, headers, first match wins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
