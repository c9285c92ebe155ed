/* SPDX-License-Identifier: MIT */
/* Unit tests for the route index (src/edge/route_index.c): the route it
 * finds is the walk's (route.c) for random route lists and requests, for
 * the cases where list order decides between classes, and at 100,000
 * hosts and 10,000 path prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf_types.h"
#include "route.h"
#include "route_index.h"

static struct sl_h1_header hdrs[4];

/* The walk, counted (the test is linked with --wrap=sl_route_match_walk):
 * the index's calls of it are seen. */
const struct sl_conf_route *
__real_sl_route_match_walk(const struct sl_conf_route *routes, size_t n,
			   const struct sl_h1_request *req);
const struct sl_conf_route *
__wrap_sl_route_match_walk(const struct sl_conf_route *routes, size_t n,
			   const struct sl_h1_request *req);
static unsigned walks;

const struct sl_conf_route *
__wrap_sl_route_match_walk(const struct sl_conf_route *routes, size_t n,
			   const struct sl_h1_request *req)
{
	walks++;
	return __real_sl_route_match_walk(routes, n, req);
}

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
	r.max_headers = 4;
	return r;
}

/* The index's answer and the walk's, for req over routes. */
static void
same(const struct sl_route_index *idx, const struct sl_conf_route *routes,
     size_t n, const struct sl_h1_request *req)
{
	const struct sl_conf_route *a = sl_route_index_match(idx, routes, req);
	const struct sl_conf_route *b = sl_route_match_walk(routes, n, req);

	if (a != b)
		fail_msg("host %.*s path %.*s method %.*s: index %zd, walk %zd",
			 (int)req->host_len, req->host ? req->host : "",
			 (int)req->path_len, req->path, (int)req->method_len,
			 req->method, a ? (ssize_t)(a - routes) : -1,
			 b ? (ssize_t)(b - routes) : -1);
}

/* Order decides between classes: an earlier wildcard beats a later exact
 * host, an earlier prefix a later exact path, a route of any host a later
 * host's, and a route whose method does not match gives way. */
static void
test_order_between_classes(void **state)
{
	static char *get[] = {"GET"};
	struct sl_conf_route r[10] = {
	    {.host = ".example.com", .host_wildcard = 1, .path = "/admin"},
	    {.host = "pay.example.com", .path = "/a", .path_prefix = 1},
	    {.host = "pay.example.com", .path = "/api"},
	    {.host = "pay.example.com", .methods = get, .nmethods = 1},
	    {.path = "/health"},
	    {.host = "pay.example.com"},
	    {.host = ".b.example.com", .host_wildcard = 1},
	    {.host = "[::1]"},
	    {.path = "", .path_prefix = 1, .methods = get, .nmethods = 1},
	    {.host = "x.org"},
	};
	size_t n = sizeof(r) / sizeof(r[0]);
	struct sl_route_index *idx = sl_route_index_build(r, n);
	struct {
		const char *method, *host, *path;
		int want;
	} c[] = {
	    {"GET", "pay.example.com", "/admin", 0},
	    {"GET", "PAY.example.com:8443", "/api?x=1", 1},
	    {"POST", "pay.example.com", "/b", 5},
	    {"GET", "pay.example.com", "/b", 3},
	    {"POST", "other.org", "/health", 4},
	    {"POST", "pay.example.com", "/health", 4},
	    {"POST", "a.b.example.com.", "/", 6},
	    {"POST", "[::1]:80", "/", 7},
	    {"GET", NULL, "/x", 8},
	    {"POST", NULL, "/x", -1},
	    {"POST", "x.org", "/", 9},
	    {"POST", "example.com", "/admin", -1},
	};
	(void)state;
	assert_non_null(idx);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct sl_h1_request q =
		    mkreq(c[i].method, c[i].host, c[i].path);
		const struct sl_conf_route *got =
		    sl_route_index_match(idx, r, &q);
		if (c[i].want < 0)
			assert_null(got);
		else
			assert_ptr_equal(got, &r[c[i].want]);
		same(idx, r, n, &q);
	}
	sl_route_index_free(idx);
}

/* ---- random lists and requests against the walk ------------------- */

static const char *hosts[] = {
    "a.test", "b.test", "pay.a.test", "x.pay.a.test",
    "[::1]",  "",	"a",	      "A.test",
};
static const char *wilds[] = {".test", ".a.test", ".pay.a.test", ".b"};
static const char *paths[] = {"",     "/",	 "/a", "/ab", "/a/b",
			      "/api", "/api/v1", "/b", "*"};
static const char *methods[] = {"GET", "POST", "PUT"};
static char *method_sets[3][1] = {{"GET"}, {"POST"}, {"PUT"}};
static struct sl_conf_header_match hmatch[] = {{.name = "x-t", .value = "1"},
					       {.name = "x-t", .value = "2"}};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned
pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* hs holds the names given (each exact, or ".suffix" when wild[i]), in
 * buf. */
static void
mkset(struct sl_conf_hostset *hs, struct sl_conf_hostname *at, char *buf,
      const char *const *names, const int *wild, size_t n)
{
	size_t used = 0;

	memset(hs, 0, sizeof(*hs));
	hs->names = buf;
	hs->at = at;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		memcpy(buf + used, names[i], len + 1);
		at[i].off = (uint32_t)used;
		at[i].len = (uint32_t)len;
		at[i].wild = (uint32_t)wild[i];
		used += len + 1;
	}
	hs->n = n;
}

/* A random route's hosts_file: 1 to 4 names, exact or wildcard, maybe one
 * of them twice; storage per route of the list, by its position. */
static struct sl_conf_hostset sets[40];
static struct sl_conf_hostname set_at[40][4];
static char set_buf[40][64];

static void
random_set(struct sl_conf_route *r, size_t i)
{
	const char *names[4];
	int wild[4];
	size_t n = 1 + pick(4);

	for (size_t k = 0; k < n; k++) {
		wild[k] = pick(3) == 0;
		names[k] = wild[k] ? wilds[pick(4)] : hosts[pick(7)];
	}
	mkset(&sets[i], set_at[i], set_buf[i], names, wild, n);
	r->hosts = &sets[i];
}

static void
random_route(struct sl_conf_route *r, size_t i)
{
	memset(r, 0, sizeof(*r));
	switch (pick(5)) {
	case 0:
		break;
	case 4:
		random_set(r, i);
		break;
	case 1:
		r->host = (char *)wilds[pick(4)];
		r->host_wildcard = 1;
		break;
	default:
		r->host = (char *)hosts[pick(7)]; /* lower-case ones */
	}
	if (pick(3) > 0) {
		r->path = (char *)paths[pick(9)];
		r->path_prefix = (int)pick(2);
	}
	if (pick(4) == 0) {
		r->methods = method_sets[pick(3)];
		r->nmethods = 1;
	}
	if (pick(6) == 0) {
		r->headers = &hmatch[pick(2)];
		r->nheaders = 1;
	}
}

static void
random_request(char *hbuf, char *pbuf, struct sl_h1_request *q)
{
	const char *h = NULL;
	static const char *sfx[] = {"", ":80", ".", ".:443", ":"};
	static const char *qry[] = {"", "?", "?a=/b", "/", "b"};
	unsigned k = pick(12);

	if (k < 8)
		h = hosts[k];
	else if (k < 11) {
		static const char *pre[] = {"z.", "q.pay.", "Y.X."};
		snprintf(hbuf, 64, "%s%s", pre[k - 8],
			 hosts[pick(4)]); /* a name under a wildcard */
		h = hbuf;
	}
	if (h != NULL && h != hbuf) {
		snprintf(hbuf, 64, "%s%s", h, sfx[pick(5)]);
		h = hbuf;
	}
	snprintf(pbuf, 64, "%s%s", paths[pick(9)], qry[pick(5)]);
	*q = mkreq(methods[pick(3)], h, pbuf);
	if (pick(3) == 0) {
		hdrs[0].name = "X-T";
		hdrs[0].name_len = 3;
		hdrs[0].value = pick(2) ? "1" : "2";
		hdrs[0].value_len = 1;
		hdrs[0].kind = SL_HK_UNSET;
		q->nheaders = 1;
	}
}

static void
test_random_against_walk(void **state)
{
	struct sl_conf_route r[40];

	(void)state;
	for (int round = 0; round < 400; round++) {
		size_t n = 1 + pick(40);
		struct sl_route_index *idx;
		for (size_t i = 0; i < n; i++)
			random_route(&r[i], i);
		struct sl_conf_listener l = {.routes = r, .nroutes = n};
		idx = sl_route_index_build(r, n);
		assert_non_null(idx);
		/* a listener without an index stops its walk at its first
		 * route of every request, as the loader marks it */
		for (size_t i = 0; i < n && l.any_at == 0; i++)
			if (sl_route_any(&r[i]))
				l.any_at = i + 1;
		for (int k = 0; k < 300; k++) {
			char hbuf[64], pbuf[64];
			struct sl_h1_request q;
			random_request(hbuf, pbuf, &q);
			same(idx, r, n, &q);
			assert_ptr_equal(sl_route_match(&l, &q),
					 sl_route_match_walk(r, n, &q));
		}
		sl_route_index_free(idx);
	}
}

/* A host longer than any name: only a wildcard can take it, found by
 * the probes of its last 255 bytes, as the walk (the oracle) finds it;
 * the index never walks for it (a long Host bought a walk of every
 * route before session 50). */
static void
test_long_host(void **state)
{
	char big[400];
	struct sl_conf_route r[2] = {{.host = ".test", .host_wildcard = 1},
				     {.path = "/"}};
	struct sl_route_index *idx = sl_route_index_build(r, 2);
	struct sl_h1_request q;

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 6, ".test", 6);
	q = mkreq("GET", big, "/");
	walks = 0;
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[0]);
	assert_int_equal(walks, 0);
	assert_ptr_equal(sl_route_match_walk(r, 2, &q), &r[0]);
	big[sizeof(big) - 2] = 'x';
	q = mkreq("GET", big, "/");
	walks = 0;
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[1]);
	assert_int_equal(walks, 0);
	assert_ptr_equal(sl_route_match_walk(r, 2, &q), &r[1]);
	/* a wildcard whose suffix is the longest a name allows, 254 bytes,
	 * with one label before it; and with a port after the long host */
	{
		char suffix[256], longh[600];
		struct sl_conf_route w[2] = {
		    {.host = suffix, .host_wildcard = 1}, {.path = "/"}};
		struct sl_route_index *wi;

		suffix[0] = '.';
		for (size_t i = 1; i < 254; i++)
			suffix[i] = (i % 60 == 0) ? '.' : 'b';
		suffix[254] = '\0';
		wi = sl_route_index_build(w, 2);
		assert_non_null(wi);
		snprintf(longh, sizeof(longh), "x%s:443", suffix);
		q = mkreq("GET", longh, "/");
		walks = 0;
		assert_ptr_equal(sl_route_index_match(wi, w, &q), &w[0]);
		assert_int_equal(walks, 0);
		memset(longh, 'y', 300);
		snprintf(longh + 300, sizeof(longh) - 300, "%s", suffix);
		q = mkreq("GET", longh, "/");
		assert_ptr_equal(sl_route_index_match(wi, w, &q), &w[0]);
		same(wi, w, 2, &q);
		/* the suffix alone is no subdomain of itself */
		q = mkreq("GET", suffix + 1, "/");
		assert_ptr_equal(sl_route_index_match(wi, w, &q), &w[1]);
		same(wi, w, 2, &q);
		sl_route_index_free(wi);
	}
	sl_route_index_free(idx);
}

/* A route's hosts_file: each name finds the route, wildcards too, and a
 * name named twice or by an earlier route keeps list order; a host longer
 * than any name is walked through the set. */
static void
test_hosts_file(void **state)
{
	size_t n = 100000;
	char *buf = malloc(n * 24 + 64);
	struct sl_conf_hostname *at = calloc(n + 2, sizeof(*at));
	const char *pre[] = {"first.pay.test", "m000007.pay.test"};
	int prew[] = {0, 0};
	const char *two[] = {".pay.test", ".pay.test"};
	int twow[] = {1, 1};
	struct sl_conf_hostset early, dup, big;
	struct sl_conf_hostname early_at[2], dup_at[2];
	char early_buf[64], dup_buf[64];
	struct sl_conf_route r[5];
	struct sl_route_index *idx;
	struct sl_h1_request q;
	size_t used = 0;
	char longh[400];

	(void)state;
	assert_non_null(buf);
	assert_non_null(at);
	memset(&big, 0, sizeof(big));
	big.names = buf;
	big.at = at;
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(buf + used, 24, "m%06zu.pay.test", i);
		at[i].off = (uint32_t)used;
		at[i].len = (uint32_t)len;
		used += (size_t)len + 1;
	}
	/* and a wildcard of its own, and its first name again */
	memcpy(buf + used, ".shop.test", 11);
	at[n] = (struct sl_conf_hostname){(uint32_t)used, 10, 1};
	at[n + 1] = at[0];
	big.n = n + 2;
	mkset(&early, early_at, early_buf, pre, prew, 2);
	mkset(&dup, dup_at, dup_buf, two, twow, 2);
	memset(r, 0, sizeof(r));
	r[0].hosts = &early;
	r[0].path = "/early";
	r[1].hosts = &big;
	r[2].hosts = &dup;
	r[3].path = "/";
	r[3].path_prefix = 1;
	idx = sl_route_index_build(r, 4);
	assert_non_null(idx);
	q = mkreq("GET", "M099999.pay.test:443", "/x");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[1]);
	same(idx, r, 4, &q);
	q = mkreq("GET", "m000007.pay.test", "/early");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[0]);
	same(idx, r, 4, &q);
	q = mkreq("GET", "m000007.pay.test", "/late");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[1]);
	q = mkreq("GET", "a.b.shop.test.", "/");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[1]);
	same(idx, r, 4, &q);
	q = mkreq("GET", "shop.test", "/");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[3]);
	same(idx, r, 4, &q);
	q = mkreq("GET", "x.pay.test", "/");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[2]);
	same(idx, r, 4, &q);
	q = mkreq("GET", "m100000.pay.test", "/");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[2]);
	q = mkreq("GET", NULL, "/");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[3]);
	/* longer than any name: the walk goes through the set */
	memset(longh, 'a', sizeof(longh));
	memcpy(longh + sizeof(longh) - 11, ".shop.test", 11);
	q = mkreq("GET", longh, "/");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[1]);
	sl_route_index_free(idx);
	free(buf);
	free(at);
}

/* A platform's file: 100,000 hosts, a catch-all after them; 10,000
 * prefixes on one host. */
static void
test_at_scale(void **state)
{
	size_t n = 100000;
	struct sl_conf_route *r = calloc(n + 1, sizeof(*r));
	char *names = malloc(n * 24), *prefixes = malloc(10000 * 24);
	struct sl_route_index *idx;
	struct sl_h1_request q;

	(void)state;
	assert_non_null(r);
	for (size_t i = 0; i < n; i++) {
		snprintf(names + i * 24, 24, "m%06zu.pay.test", i);
		r[i].host = names + i * 24;
	}
	r[n].path = "/";
	r[n].path_prefix = 1;
	idx = sl_route_index_build(r, n + 1);
	assert_non_null(idx);
	q = mkreq("GET", "M099999.pay.test:443", "/x");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[n - 1]);
	q = mkreq("GET", "m000000.pay.test", "/x");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[0]);
	q = mkreq("GET", "m100000.pay.test", "/x");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[n]);
	sl_route_index_free(idx);

	for (size_t i = 0; i < 10000; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		snprintf(prefixes + i * 24, 24, "/partner/%05zu/", i);
		r[i].host = "api.pay.test";
		r[i].path = prefixes + i * 24;
		r[i].path_prefix = 1;
	}
	idx = sl_route_index_build(r, 10000);
	q = mkreq("POST", "api.pay.test", "/partner/09999/charges?x=1");
	assert_ptr_equal(sl_route_index_match(idx, r, &q), &r[9999]);
	q = mkreq("POST", "api.pay.test", "/partner/1/charges");
	assert_null(sl_route_index_match(idx, r, &q));
	sl_route_index_free(idx);
	free(r);
	free(names);
	free(prefixes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_between_classes),
	    cmocka_unit_test(test_random_against_walk),
	    cmocka_unit_test(test_long_host),
	    cmocka_unit_test(test_hosts_file),
	    cmocka_unit_test(test_at_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
