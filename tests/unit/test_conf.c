/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the configuration loader (conf*.c): the scalar parsers, every
 * key of a full configuration, the defaults, and one test per kind of error
 * with its exact text and position. No sockets; files only under SRCDIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "conf.h"
#include "conf_guard.h"
#include "conf_int.h"
#include "conf_mirror.h"
#include "conf_yaml.h"
#include "policy.h"
#include "ratelimit_conf.h"
#include "util.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* The valid tail most error cases share: 5 + 3 lines. */
#define LISTENER                                                               \
	"listeners:\n"                                                         \
	"  - name: public\n"                                                   \
	"    address: 127.0.0.1:8080\n"                                        \
	"    routes:\n"                                                        \
	"      - cluster: demo\n"
#define CLUSTER                                                                \
	"clusters:\n"                                                          \
	"  - name: demo\n"                                                     \
	"    endpoints: [127.0.0.1:9001]\n"

/* What a YAML syntax error adds: the parser goes no further. */
#define STOPPED_HERE                                                           \
	"; YAML parsing stopped here: nothing after this point was checked\n"
#define STOPPED_AT(pos)                                                        \
	"; YAML parsing stopped at " pos ": nothing after that point was "     \
	"checked\n"

/* Loads yaml that must be valid; fails the test with its errors if not. */
static struct sl_conf *
load_ok(const char *yaml)
{
	struct sl_conf *conf;
	char *errs = (char *)"sentinel";

	conf = sl_conf_load_buffer("t.yaml", yaml, strlen(yaml), &errs);
	if (conf == NULL)
		print_error("unexpected errors:\n%s", errs ? errs : "(none)\n");
	assert_non_null(conf);
	assert_null(errs);
	return conf;
}

/* Loads yaml that must be rejected with exactly the error lines want. */
static void
load_bad(const char *yaml, size_t len, const char *want)
{
	struct sl_conf *conf;
	char *errs = NULL;

	conf = sl_conf_load_buffer("t.yaml", yaml, len, &errs);
	assert_null(conf);
	assert_non_null(errs);
	assert_string_equal(errs, want);
	free(errs);
}

static uint16_t
port_of(const struct sl_conf_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static void
assert_ipv4(const struct sl_conf_addr *a, const char *ip, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(a->ss.ss_family, AF_INET);
	assert_int_equal(a->sslen, sizeof(struct sockaddr_in));
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(port_of(a), port);
}

/* ---- "did you mean" ---------------------------------------------------- */

static void
test_distance(void **state)
{
	static const struct {
		const char *a, *b;
		unsigned d;
	} cases[] = {
	    {"", "", 0},
	    {"name", "name", 0},
	    {"", "name", 4},
	    {"name", "", 4},
	    {"nme", "name", 1},	       /* deletion */
	    {"namee", "name", 1},      /* insertion */
	    {"nbme", "name", 1},       /* substitution */
	    {"nmae", "name", 1},       /* swap */
	    {"clsuter", "cluster", 1}, /* swap inside */
	    {"conect_timeout", "connect_timeout", 1},
	    {"ca", "abc", 3}, /* no edit of a swapped pair */
	    {"kitten", "sitting", 3},
	    {"Workers", "workers", 1}, /* bytes: case counts */
	    {"health_check", "balance", 8},
	    {"payment", "payments", 1},
	};
	char big[66];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sl_yaml_distance(cases[i].a, cases[i].b) != cases[i].d)
			fail_msg("distance(\"%s\", \"%s\") = %u, want %u",
				 cases[i].a, cases[i].b,
				 sl_yaml_distance(cases[i].a, cases[i].b),
				 cases[i].d);
		assert_int_equal(sl_yaml_distance(cases[i].b, cases[i].a),
				 cases[i].d);
	}
	memset(big, 'a', sizeof(big) - 2);
	big[64] = '\0';
	assert_int_equal(sl_yaml_distance(big, big), 0);
	assert_int_equal(sl_yaml_distance(big, "a"), 63);
	big[64] = 'a';
	big[65] = '\0';
	assert_int_equal(sl_yaml_distance(big, "a"), UINT_MAX);
	assert_int_equal(sl_yaml_distance("a", big), UINT_MAX);
}

static void
test_suggest(void **state)
{
	static const char *const keys[] = {"name", "match", "cluster",
					   "timeout", NULL};
	static const struct {
		const char *word, *want;
	} cases[] = {
	    {"nme", "name"}, /* short name: one edit */
	    {"nm", NULL},    /* two edits of a short name */
	    {"clustr", "cluster"},
	    {"clstr", "cluster"}, /* two edits */
	    {"clst", NULL},	  /* three */
	    {"timeot", "timeout"},
	    {"mach", "match"},
	    {"x", NULL}, /* never all of a name */
	    {"", NULL},
	    {"retries", NULL},
	};
	const char *best;
	unsigned d = 99;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		best = NULL;
		for (j = 0; keys[j] != NULL; j++)
			sl_yaml_suggest(cases[i].word, keys[j], &best, &d);
		if (cases[i].want == NULL && best != NULL)
			fail_msg("\"%s\": suggested \"%s\"", cases[i].word,
				 best);
		if (cases[i].want != NULL)
			assert_string_equal(best ? best : "(none)",
					    cases[i].want);
	}
	/* The closest wins; the first of equals. */
	best = NULL;
	sl_yaml_suggest("pay", "pa", &best, &d);
	assert_string_equal(best, "pa");
	sl_yaml_suggest("pay", "pays", &best, &d);
	assert_string_equal(best, "pa");
	sl_yaml_suggest("pay", "pay1", &best, &d);
	assert_string_equal(best, "pa");
	sl_yaml_suggest("payments-v1", "payments-v2", &best, &d);
	assert_string_equal(best, "pa");
	best = NULL;
	sl_yaml_suggest("payments-v3", "payments-v2", &best, &d);
	sl_yaml_suggest("payments-v3", "payments-v3x", &best, &d);
	assert_string_equal(best, "payments-v2");
	assert_int_equal(d, 1);
	sl_yaml_suggest("payments-v3", "payments-v3", &best, &d);
	assert_string_equal(best, "payments-v3");
	assert_int_equal(d, 0);
	/* A name of one byte is never "close" to another. */
	best = NULL;
	sl_yaml_suggest("b", "a", &best, &d);
	assert_null(best);
}

/* ---- scalar parsers ---------------------------------------------------- */

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
	    {"250ms", 250},
	    {"10s", 10000},
	    {"5m", 300000},
	    {"1h", 3600000},
	    {"0ms", 0},
	    {"0h", 0},
	    {"007s", 7000},
	    {"18446744073709551615ms", UINT64_MAX},
	    {"5124095576030h", 5124095576030ULL * 3600000},
	};
	static const char *const bad[] = {
	    "",
	    "10",
	    "s",
	    "ms",
	    "10 s",
	    " 10s",
	    "10s ",
	    "10S",
	    "10Ms",
	    "10sec",
	    "10d",
	    "1.5s",
	    "-1s",
	    "+1s",
	    "1e3ms",
	    "0x10s",
	    "10s10ms",
	    "1h30m",
	    "10mss",
	    "\t1s",
	    "18446744073709551616ms", /* 2^64 */
	    "5124095576031h",	      /* * 3600000 > 2^64 */
	    "99999999999999999999999999s",
	};
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		assert_int_equal(sl_conf_parse_duration(good[i].text, &ms), 0);
		assert_true(ms == good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 12345;
		if (sl_conf_parse_duration(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(ms == 12345);
	}
	assert_int_equal(sl_conf_parse_duration(NULL, &ms), -1);
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
	    {"512B", 512},
	    {"0B", 0},
	    {"16KiB", 16384},
	    {"8MiB", 8388608},
	    {"1GiB", 1073741824},
	    {"17179869183GiB", 17179869183ULL << 30},
	    {"18446744073709551615B", UINT64_MAX},
	};
	static const char *const bad[] = {
	    "",
	    "16",
	    "KiB",
	    "16KB",
	    "16kib",
	    "16kB",
	    "16 KiB",
	    "16K",
	    "16k",
	    "1TiB",
	    "1.5MiB",
	    "-1B",
	    "16KiB ",
	    "16b",
	    "16KiB16B",
	    "0x10B",
	    "17179869184GiB", /* 2^64 */
	    "18446744073709551616B",
	};
	uint64_t b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		b = 12345;
		assert_int_equal(sl_conf_parse_size(good[i].text, &b), 0);
		assert_true(b == good[i].bytes);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = 12345;
		if (sl_conf_parse_size(bad[i], &b) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(b == 12345);
	}
	assert_int_equal(sl_conf_parse_size(NULL, &b), -1);
}

static void
test_parse_addr(void **state)
{
	static const char *const bad[] = {
	    "",
	    "1.2.3.4",
	    "1.2.3.4:",
	    "1.2.3.4:0",
	    "1.2.3.4:65536",
	    "1.2.3.4:99999999999999999999",
	    "1.2.3.4:-1",
	    "1.2.3.4:+80",
	    "1.2.3.4:80x",
	    "1.2.3.4: 80",
	    " 1.2.3.4:80",
	    ":80",
	    "1.2.3:80",
	    "256.1.1.1:80",
	    "example.com:80",
	    "localhost.:80",
	    "::1:80",
	    "::1",
	    "[::1]",
	    "[::1]80",
	    "[::1:80",
	    "[]:80",
	    "[::g]:80",
	    "[1.2.3.4]:80",
	    "[fe80::1%eth0]:80",
	    "[::1]:0",
	    "*:80",
	};
	struct sl_conf_addr a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;
	struct in6_addr v6;
	size_t i;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(sl_conf_parse_addr("1.2.3.4:80", &a.ss, &a.sslen), 0);
	assert_ipv4(&a, "1.2.3.4", 80);
	assert_int_equal(sl_conf_parse_addr("0.0.0.0:8080", &a.ss, &a.sslen),
			 0);
	assert_ipv4(&a, "0.0.0.0", 8080);
	assert_int_equal(
	    sl_conf_parse_addr("255.255.255.255:65535", &a.ss, &a.sslen), 0);
	assert_ipv4(&a, "255.255.255.255", 65535);
	assert_int_equal(sl_conf_parse_addr("127.0.0.1:1", &a.ss, &a.sslen), 0);
	assert_ipv4(&a, "127.0.0.1", 1);
	assert_int_equal(sl_conf_parse_addr("localhost:9000", &a.ss, &a.sslen),
			 0);
	assert_ipv4(&a, "127.0.0.1", 9000);
	assert_int_equal(sl_conf_parse_addr("LocalHost:9000", &a.ss, &a.sslen),
			 0);
	assert_ipv4(&a, "127.0.0.1", 9000);

	assert_int_equal(sl_conf_parse_addr("[::1]:80", &a.ss, &a.sslen), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_int_equal(a.sslen, sizeof(struct sockaddr_in6));
	assert_int_equal(port_of(&a), 80);
	assert_int_equal(inet_pton(AF_INET6, "::1", &v6), 1);
	assert_memory_equal(&sin6->sin6_addr, &v6, sizeof(v6));
	assert_int_equal(sl_conf_parse_addr("[::]:443", &a.ss, &a.sslen), 0);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	assert_int_equal(port_of(&a), 443);
	assert_int_equal(
	    sl_conf_parse_addr("[2001:db8::7]:8443", &a.ss, &a.sslen), 0);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &v6), 1);
	assert_memory_equal(&sin6->sin6_addr, &v6, sizeof(v6));
	assert_int_equal(
	    sl_conf_parse_addr("[::ffff:1.2.3.4]:80", &a.ss, &a.sslen), 0);
	assert_int_equal(a.ss.ss_family, AF_INET6);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sl_conf_parse_addr(bad[i], &a.ss, &a.sslen) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(sl_conf_parse_addr(NULL, &a.ss, &a.sslen), -1);
}

/* ---- valid configurations ---------------------------------------------- */

static const char full_yaml[] =
    "workers: 4\n"
    "drain_timeout: 5s\n"
    "admin:\n"
    "  address: 127.0.0.1:9901\n"
    "log:\n"
    "  level: debug\n"
    "  access: /var/log/sluice/access.log\n"
    "  access_format: combined\n"
    "  query: \"off\"\n"
    "listeners:\n"
    "  - name: public\n"
    "    address: 0.0.0.0:8080\n"
    "    limits:\n"
    "      header_timeout: 5s\n"
    "      body_timeout: 20s\n"
    "      send_timeout: 15s\n"
    "      idle_timeout: 2m\n"
    "      max_uri_bytes: 4KiB\n"
    "      max_header_bytes: 16KiB\n"
    "      max_headers: 50\n"
    "      max_body_bytes: 1MiB\n"
    "      buffer_bytes: 32KiB\n"
    "      max_requests: 1000\n"
    "      min_body_rate: 1KiB\n"
    "      min_send_rate: 512B\n"
    "      max_connections: 20000\n"
    "      max_connections_per_ip: 64\n"
    "    routes:\n"
    "      - name: payments\n"
    "        match:\n"
    "          host: \"*.Pay.Example.com\"\n"
    "          path_prefix: /v1/\n"
    "          methods: [GET, POST]\n"
    "          headers: { X-Canary: \"on\", X-Tenant: acme }\n"
    "        cluster: payments\n"
    "        timeout: 2s\n"
    "      - name: health\n"
    "        match:\n"
    "          host: Status.Example.COM\n"
    "          path: /healthz\n"
    "        cluster: payments\n"
    "        timeout: 500ms\n"
    "      - cluster: fallback\n"
    "  - name: internal\n"
    "    address: \"[::1]:8081\"\n"
    "    routes:\n"
    "      - cluster: fallback\n"
    "clusters:\n"
    "  - name: payments\n"
    "    endpoints:\n"
    "      - 127.0.0.1:9001\n"
    "      - { address: 127.0.0.1:9002, weight: 3 }\n"
    "      - { address: \"[::1]:9003\" }\n"
    "    balance: least_request\n"
    "    connect_timeout: 250ms\n"
    "    pool:\n"
    "      max_idle: 8\n"
    "      idle_timeout: 10s\n"
    "      max_requests: 0\n"
    "    max_connections: 200\n"
    "    max_pending: 50\n"
    "    queue_timeout: 250ms\n"
    "  - name: fallback\n"
    "    endpoints: [localhost:9010]\n"
    "    balance: hash\n";

static void
test_full(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_listener *l;
	const struct sl_conf_route *r;
	const struct sl_conf_cluster *cl;

	(void)state;
	c = load_ok(full_yaml);
	assert_int_equal(atomic_load(&c->refcnt), 1);
	assert_string_equal(c->path, "t.yaml");
	assert_int_equal(c->workers, 4);
	assert_true(c->drain_timeout_ms == 5000);
	assert_int_equal(c->has_admin, 1);
	assert_string_equal(c->admin_addr.text, "127.0.0.1:9901");
	assert_ipv4(&c->admin_addr, "127.0.0.1", 9901);
	assert_int_equal(c->log_level, SL_LOG_DEBUG);
	assert_string_equal(c->access_log, "/var/log/sluice/access.log");
	/* the position sl_preflight reports it at */
	assert_int_equal(c->access_log_pos.line, 7);
	assert_int_equal(c->access_log_pos.col, 11);
	assert_int_equal(c->access_format, SL_ACCESS_COMBINED);
	assert_int_equal(c->log_query, SL_LOG_QUERY_OFF);

	assert_int_equal(c->nlisteners, 2);
	l = &c->listeners[0];
	assert_string_equal(l->name, "public");
	assert_string_equal(l->addr.text, "0.0.0.0:8080");
	assert_ipv4(&l->addr, "0.0.0.0", 8080);
	assert_true(l->limits.header_timeout_ms == 5000);
	assert_true(l->limits.body_timeout_ms == 20000);
	assert_true(l->limits.send_timeout_ms == 15000);
	assert_true(l->limits.idle_timeout_ms == 120000);
	assert_true(l->limits.max_uri_bytes == 4096);
	assert_true(l->limits.max_header_bytes == 16384);
	assert_true(l->limits.max_headers == 50);
	assert_true(l->limits.max_body_bytes == 1048576);
	assert_true(l->limits.buffer_bytes == 32768);
	assert_true(l->limits.max_requests == 1000);
	assert_true(l->limits.min_body_rate_bps == 1024);
	assert_true(l->limits.min_send_rate_bps == 512);
	assert_true(l->limits.max_connections == 20000);
	assert_true(l->limits.max_connections_per_ip == 64);
	assert_int_equal(l->nroutes, 3);

	r = &l->routes[0];
	assert_string_equal(r->name, "payments");
	assert_string_equal(r->host, ".pay.example.com");
	assert_int_equal(r->host_wildcard, 1);
	assert_string_equal(r->path, "/v1/");
	assert_int_equal(r->path_prefix, 1);
	assert_int_equal(r->nmethods, 2);
	assert_string_equal(r->methods[0], "GET");
	assert_string_equal(r->methods[1], "POST");
	assert_int_equal(r->nheaders, 2);
	assert_string_equal(r->headers[0].name, "x-canary");
	assert_string_equal(r->headers[0].value, "on");
	assert_string_equal(r->headers[1].name, "x-tenant");
	assert_string_equal(r->headers[1].value, "acme");
	assert_ptr_equal(r->cluster, &c->clusters[0]);
	assert_true(r->timeout_ms == 2000);

	r = &l->routes[1];
	assert_string_equal(r->name, "health");
	assert_string_equal(r->host, "status.example.com");
	assert_int_equal(r->host_wildcard, 0);
	assert_string_equal(r->path, "/healthz");
	assert_int_equal(r->path_prefix, 0);
	assert_null(r->methods);
	assert_int_equal(r->nmethods, 0);
	assert_null(r->headers);
	assert_int_equal(r->nheaders, 0);
	assert_ptr_equal(r->cluster, &c->clusters[0]);
	assert_true(r->timeout_ms == 500);

	r = &l->routes[2];
	assert_string_equal(r->name, "route-3");
	assert_null(r->host);
	assert_null(r->path);
	assert_ptr_equal(r->cluster, &c->clusters[1]);
	assert_true(r->timeout_ms == 30000);

	l = &c->listeners[1];
	assert_string_equal(l->name, "internal");
	assert_string_equal(l->addr.text, "[::1]:8081");
	assert_int_equal(l->addr.ss.ss_family, AF_INET6);
	assert_int_equal(port_of(&l->addr), 8081);
	assert_int_equal(l->nroutes, 1);
	assert_string_equal(l->routes[0].name, "route-1");

	assert_int_equal(c->nclusters, 2);
	cl = &c->clusters[0];
	assert_string_equal(cl->name, "payments");
	assert_int_equal(cl->index, 0);
	assert_int_equal(cl->nendpoints, 3);
	assert_string_equal(cl->endpoints[0].addr.text, "127.0.0.1:9001");
	assert_ipv4(&cl->endpoints[0].addr, "127.0.0.1", 9001);
	assert_int_equal(cl->endpoints[0].weight, 1);
	assert_int_equal(cl->endpoints[0].index, 0);
	assert_string_equal(cl->endpoints[1].addr.text, "127.0.0.1:9002");
	assert_int_equal(cl->endpoints[1].weight, 3);
	assert_int_equal(cl->endpoints[1].index, 1);
	assert_string_equal(cl->endpoints[2].addr.text, "[::1]:9003");
	assert_int_equal(cl->endpoints[2].addr.ss.ss_family, AF_INET6);
	assert_int_equal(cl->endpoints[2].weight, 1);
	assert_int_equal(cl->endpoints[2].index, 2);
	assert_int_equal(cl->balance, SL_BALANCE_LEAST_REQUEST);
	assert_true(cl->connect_timeout_ms == 250);
	assert_true(cl->pool_max_idle == 8);
	assert_true(cl->pool_idle_timeout_ms == 10000);
	assert_true(cl->pool_max_requests == 0);
	assert_true(cl->max_connections == 200);
	assert_true(cl->max_pending == 50);
	assert_true(cl->queue_timeout_ms == 250);

	cl = &c->clusters[1];
	assert_string_equal(cl->name, "fallback");
	assert_int_equal(cl->index, 1);
	assert_int_equal(cl->nendpoints, 1);
	assert_ipv4(&cl->endpoints[0].addr, "127.0.0.1", 9010);
	assert_string_equal(cl->endpoints[0].addr.text, "localhost:9010");
	assert_int_equal(cl->balance, SL_BALANCE_HASH);
	assert_true(cl->max_connections == 0);
	assert_true(cl->max_pending == 100);
	assert_true(cl->queue_timeout_ms == 1000);
	sl_conf_unref(c);
}

static void
test_defaults(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_limits *lim;
	const struct sl_conf_route *r;
	const struct sl_conf_cluster *cl;

	(void)state;
	c = load_ok(LISTENER CLUSTER);
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->has_admin, 0);
	assert_null(c->admin_addr.text);
	assert_int_equal(c->log_level, SL_LOG_INFO);
	assert_string_equal(c->access_log, "stdout");
	assert_int_equal(c->access_format, SL_ACCESS_JSON);
	assert_int_equal(c->log_query, SL_LOG_QUERY_NAMES);
	assert_true(c->drain_timeout_ms == 30000);
	assert_true(c->generation == 0);

	lim = &c->listeners[0].limits;
	assert_true(lim->header_timeout_ms == 10000);
	assert_true(lim->body_timeout_ms == 30000);
	assert_true(lim->send_timeout_ms == 30000);
	assert_true(lim->idle_timeout_ms == 60000);
	assert_true(lim->max_uri_bytes == 8 * 1024);
	assert_true(lim->max_header_bytes == 32 * 1024);
	assert_true(lim->max_headers == 100);
	assert_true(lim->max_body_bytes == 16 * 1024 * 1024);
	assert_true(lim->buffer_bytes == 64 * 1024);
	assert_true(lim->max_requests == 0);
	assert_true(lim->min_body_rate_bps == 0);
	assert_true(lim->min_send_rate_bps == 0);
	assert_true(lim->max_connections == 0);
	assert_true(lim->max_connections_per_ip == 0);

	r = &c->listeners[0].routes[0];
	assert_string_equal(r->name, "route-1");
	assert_null(r->host);
	assert_int_equal(r->host_wildcard, 0);
	assert_null(r->path);
	assert_int_equal(r->path_prefix, 0);
	assert_null(r->methods);
	assert_null(r->headers);
	assert_ptr_equal(r->cluster, &c->clusters[0]);
	assert_true(r->timeout_ms == 30000);

	cl = &c->clusters[0];
	assert_int_equal(cl->balance, SL_BALANCE_ROUND_ROBIN);
	assert_true(cl->connect_timeout_ms == 1000);
	assert_true(cl->pool_max_idle == 64);
	assert_true(cl->pool_idle_timeout_ms == 30000);
	assert_true(cl->pool_max_requests == 10000);
	assert_true(cl->max_connections == 0);
	assert_true(cl->max_pending == 100);
	assert_true(cl->queue_timeout_ms == 1000);
	assert_int_equal(cl->endpoints[0].weight, 1);
	sl_conf_unref(c);

	/* Empty mappings leave every default in place too. */
	c = load_ok("log: {}\n"
		    "listeners:\n"
		    "  - {name: a, address: 127.0.0.1:1, limits: {},\n"
		    "     routes: [{cluster: demo, match: {}}]}\n" CLUSTER);
	assert_int_equal(c->log_level, SL_LOG_INFO);
	assert_true(c->listeners[0].limits.max_headers == 100);
	assert_true(c->listeners[0].limits.min_body_rate_bps == 0);
	assert_true(c->listeners[0].limits.max_connections_per_ip == 0);
	assert_null(c->listeners[0].routes[0].host);
	sl_conf_unref(c);
}

/*
 * The limits: table (conf.c): each key once, its default inside its range,
 * every field of struct sl_conf_limits written by exactly one key, and no
 * more keys than sl_conf_check_keys has room for.
 */
static void
test_limits_table(void **state)
{
	const struct sl_conf_keydef *t = sl_conf_limits_table;
	unsigned char seen[sizeof(struct sl_conf_limits)] = {0};
	size_t i, j;

	(void)state;
	for (i = 0; t[i].name != NULL; i++) {
		for (j = 0; j < i; j++)
			assert_string_not_equal(t[i].name, t[j].name);
		assert_true(t[i].def >= t[i].min && t[i].def <= t[i].max);
		assert_true(t[i].off % sizeof(uint64_t) == 0);
		assert_true(t[i].off + sizeof(uint64_t) <=
			    sizeof(struct sl_conf_limits));
		assert_int_equal(seen[t[i].off], 0);
		seen[t[i].off] = 1;
	}
	assert_true(i <= SL_CONF_TABLE_MAX);
	assert_int_equal(i * sizeof(uint64_t), sizeof(struct sl_conf_limits));
}

static void
test_route_names(void **state)
{
	struct sl_conf *c;

	(void)state;
	c = load_ok("listeners:\n"
		    "  - name: a\n"
		    "    address: 127.0.0.1:8080\n"
		    "    routes:\n"
		    "      - cluster: demo\n"
		    "      - name: named\n"
		    "        cluster: demo\n"
		    "      - cluster: demo\n"
		    "  - name: b\n"
		    "    address: 127.0.0.1:8081\n"
		    "    routes: [{cluster: demo}, {cluster: demo}]\n" CLUSTER);
	assert_string_equal(c->listeners[0].routes[0].name, "route-1");
	assert_string_equal(c->listeners[0].routes[1].name, "named");
	assert_string_equal(c->listeners[0].routes[2].name, "route-3");
	assert_string_equal(c->listeners[1].routes[0].name, "route-1");
	assert_string_equal(c->listeners[1].routes[1].name, "route-2");
	sl_conf_unref(c);
}

/* A file of text made for a test: its path in path (a mkstemp template). */
static void
write_tmp(char *path, const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The YAML of one listener whose route reads hosts_file path. */
static char *
hosts_yaml(const char *path, const char *extra)
{
	static char y[1024];

	snprintf(y, sizeof(y),
		 "listeners:\n"
		 "  - name: a\n"
		 "    address: 127.0.0.1:8080\n"
		 "    routes:\n"
		 "      - name: merchants\n"
		 "        match: { hosts_file: %s%s }\n"
		 "        cluster: demo\n" CLUSTER,
		 path, extra);
	return y;
}

/* match.hosts_file: names one a line, comments and blanks skipped,
 * lower-cased, wildcards kept as a route's host keeps them; the listener
 * gets an index whatever its size; each bad line said with its line. */
static void
test_hosts_file(void **state)
{
	char good[] = "/tmp/sluice-test-hosts-XXXXXX";
	char bad[] = "/tmp/sluice-test-hosts-XXXXXX";
	char empty[] = "/tmp/sluice-test-hosts-XXXXXX";
	char many[] = "/tmp/sluice-test-hosts-XXXXXX";
	char want[4096], big[2048];
	const struct sl_conf_hostset *hs;
	struct sl_conf *c;
	char *errs = NULL, *y;

	(void)state;
	write_tmp(good, "# merchants\n"
			"Shop1.Example\r\n"
			"  shop2.example   # the second\n"
			"\n"
			"*.Tenants.Example\n"
			"[::1]\n"
			"shop1.example");
	c = load_ok(hosts_yaml(good, ""));
	hs = c->listeners[0].routes[0].hosts;
	assert_non_null(hs);
	assert_null(c->listeners[0].routes[0].host);
	assert_string_equal(hs->file, good);
	assert_int_equal(hs->n, 5);
	assert_string_equal(hs->names + hs->at[0].off, "shop1.example");
	assert_int_equal(hs->at[0].len, 13);
	assert_string_equal(hs->names + hs->at[1].off, "shop2.example");
	assert_string_equal(hs->names + hs->at[2].off, ".tenants.example");
	assert_int_equal(hs->at[2].wild, 1);
	assert_int_equal(hs->at[1].wild, 0);
	assert_string_equal(hs->names + hs->at[3].off, "[::1]");
	assert_non_null(c->listeners[0].rindex);
	sl_conf_unref(c);

	write_tmp(bad, "ok.example\n"
		       "bad..name\n"
		       "two names\n"
		       "shop.example:443\n"
		       "*.\n"
		       "\"quoted\"\n");
	snprintf(want, sizeof(want),
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "%s:2: \"bad..name\" is not a host name (expected a name "
		 "or *.suffix)\n"
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "%s:3: \"two names\" is not one name\n"
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "%s:4: \"shop.example:443\" must not contain a port\n"
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "%s:5: \"*.\" is not a host name (expected a name or "
		 "*.suffix)\n"
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "%s:6: \"\\\"quoted\\\"\" is not a host name (expected a "
		 "name or *.suffix)\n",
		 bad, bad, bad, bad, bad);
	y = hosts_yaml(bad, "");
	load_bad(y, strlen(y), want);

	/* no name at all: a truncated file is refused, not served empty */
	write_tmp(empty, "# nothing yet\n\n");
	snprintf(want, sizeof(want),
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "\"%s\" holds no name (a route of no host would match "
		 "none)\n",
		 empty);
	y = hosts_yaml(empty, "");
	load_bad(y, strlen(y), want);

	/* twenty bad lines said, then a count */
	big[0] = '\0';
	for (int i = 0; i < 25; i++)
		strcat(big, "x..y\n");
	write_tmp(many, big);
	y = hosts_yaml(many, "");
	c = sl_conf_load_buffer("t.yaml", y, strlen(y), &errs);
	assert_null(c);
	assert_non_null(errs);
	assert_non_null(strstr(errs, ":20: \"x..y\""));
	assert_null(strstr(errs, ":21: \"x..y\""));
	assert_non_null(strstr(errs, "\": 5 more bad lines\n"));
	free(errs);

	unlink(good);
	unlink(bad);
	unlink(empty);
	unlink(many);

	y = hosts_yaml("/nonexistent/sluice.hosts", "");
	load_bad(y, strlen(y),
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "cannot read \"/nonexistent/sluice.hosts\": No such file or "
		 "directory\n");
	y = hosts_yaml("/tmp", "");
	load_bad(y, strlen(y),
		 "t.yaml:6:30: error: route \"merchants\": \"hosts_file\": "
		 "\"/tmp\" is not a regular file of at most 64 MiB\n");
	y = hosts_yaml("/nonexistent", ", host: a.example");
	load_bad(y, strlen(y),
		 "t.yaml:6:44: error: route \"merchants\": \"host\" and "
		 "\"hosts_file\" are mutually exclusive\n");
}

/* secret_headers: kept lower-cased, and what marks a header rule's field
 * as a credential's, with the built-in names; the values stay as
 * written (they are sent). */
static void
test_secret_headers(void **state)
{
	struct sl_conf *c;
	const struct sl_hdr_rules *r;

	(void)state;
	c = load_ok("secret_headers: [X-Partner-Key, x-other]\n"
		    "listeners:\n"
		    "  - name: a\n"
		    "    address: 127.0.0.1:8080\n"
		    "    request_headers:\n"
		    "      set: {X-Partner-Key: k1, X-Env: prod}\n"
		    "    routes:\n"
		    "      - cluster: demo\n"
		    "        request_headers:\n"
		    "          set: {Authorization: \"Bearer t\", X-Other: o}\n"
		    "          add: {X-Note: n}\n" CLUSTER);
	assert_int_equal(c->nsecret_headers, 2);
	assert_string_equal(c->secret_headers[0], "x-partner-key");
	assert_string_equal(c->secret_headers[1], "x-other");
	r = c->listeners[0].policy->request;
	assert_int_equal(r->nfields, 2);
	assert_string_equal(r->fields[0].name, "X-Partner-Key");
	assert_true(r->fields[0].secret);
	assert_string_equal(r->fields[0].text, "k1");
	assert_false(r->fields[1].secret);
	r = c->listeners[0].routes[0].policy->request;
	assert_int_equal(r->nfields, 3);
	assert_true(r->fields[0].secret);
	assert_string_equal(r->fields[0].text, "Bearer t");
	assert_true(r->fields[1].secret);
	assert_false(r->fields[2].secret);
	assert_true(sl_conf_secret_header(c, "X-OTHER", 7));
	assert_true(sl_conf_secret_header(c, "Cookie", 6));
	assert_false(sl_conf_secret_header(c, "X-Env", 5));
	sl_conf_unref(c);
}

static void
test_match(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_route *r;

	(void)state;
	c = load_ok("listeners:\n"
		    "  - name: a\n"
		    "    address: 127.0.0.1:8080\n"
		    "    routes:\n"
		    "      - match: {host: \"*.EXAMPLE.com\"}\n"
		    "        cluster: demo\n"
		    "      - match: {host: \"[::1]\"}\n"
		    "        cluster: demo\n"
		    "      - match: {host: 127.0.0.1, path: \"/a/b;c=%20\"}\n"
		    "        cluster: demo\n"
		    "      - match:\n"
		    "          methods: [purge, M-SEARCH, \"GET\"]\n"
		    "          headers:\n"
		    "            X-Empty: \"\"\n"
		    "            X-Num: 2\n"
		    "            X-Inner: \"a  b\"\n"
		    "            X-Case: MiXeD\n"
		    "        cluster: demo\n" CLUSTER);
	r = &c->listeners[0].routes[0];
	assert_string_equal(r->host, ".example.com");
	assert_int_equal(r->host_wildcard, 1);
	r = &c->listeners[0].routes[1];
	assert_string_equal(r->host, "[::1]");
	assert_int_equal(r->host_wildcard, 0);
	r = &c->listeners[0].routes[2];
	assert_string_equal(r->host, "127.0.0.1");
	assert_string_equal(r->path, "/a/b;c=%20");
	assert_int_equal(r->path_prefix, 0);
	r = &c->listeners[0].routes[3];
	assert_int_equal(r->nmethods, 3);
	assert_string_equal(r->methods[0], "purge");
	assert_string_equal(r->methods[1], "M-SEARCH");
	assert_string_equal(r->methods[2], "GET");
	assert_int_equal(r->nheaders, 4);
	assert_string_equal(r->headers[0].name, "x-empty");
	assert_string_equal(r->headers[0].value, "");
	assert_string_equal(r->headers[1].name, "x-num");
	assert_string_equal(r->headers[1].value, "2");
	assert_string_equal(r->headers[2].value, "a  b");
	assert_string_equal(r->headers[3].name, "x-case");
	assert_string_equal(r->headers[3].value, "MiXeD");
	sl_conf_unref(c);
}

/* Routes find their cluster wherever "clusters" is written. */
static void
test_cluster_order(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_listener *l;

	(void)state;
	c = load_ok("clusters:\n"
		    "  - {name: one, endpoints: [127.0.0.1:9001]}\n"
		    "  - {name: two, endpoints: [127.0.0.1:9002]}\n"
		    "  - {name: three, endpoints: [127.0.0.1:9003]}\n"
		    "listeners:\n"
		    "  - name: a\n"
		    "    address: 127.0.0.1:8080\n"
		    "    routes:\n"
		    "      - cluster: three\n"
		    "      - cluster: one\n"
		    "      - cluster: two\n");
	l = &c->listeners[0];
	assert_int_equal(c->nclusters, 3);
	assert_ptr_equal(l->routes[0].cluster, &c->clusters[2]);
	assert_ptr_equal(l->routes[1].cluster, &c->clusters[0]);
	assert_ptr_equal(l->routes[2].cluster, &c->clusters[1]);
	assert_int_equal(c->clusters[0].index, 0);
	assert_int_equal(c->clusters[1].index, 1);
	assert_int_equal(c->clusters[2].index, 2);
	assert_string_equal(l->routes[0].cluster->name, "three");
	sl_conf_unref(c);
}

/* Quoted values where strings are expected, and every boundary value. */
static void
test_bounds(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_limits *lim;

	(void)state;
	c = load_ok("workers: 1024\n"
		    "drain_timeout: 0ms\n"
		    "listeners:\n"
		    "  - name: a\n"
		    "    address: 127.0.0.1:8080\n"
		    "    limits:\n"
		    "      header_timeout: \"1ms\"\n"
		    "      body_timeout: 24h\n"
		    "      send_timeout: 1440m\n"
		    "      idle_timeout: 86400000ms\n"
		    "      max_uri_bytes: 16B\n"
		    "      max_header_bytes: 256B\n"
		    "      max_headers: 10000\n"
		    "      max_body_bytes: 0B\n"
		    "      buffer_bytes: 4KiB\n"
		    "      max_requests: 4294967295\n"
		    "      min_body_rate: 0B\n"
		    "      min_send_rate: 1GiB\n"
		    "      max_connections: 10000000\n"
		    "      max_connections_per_ip: 0\n"
		    "    routes: [{cluster: demo, timeout: 1ms}]\n"
		    "  - name: b\n"
		    "    address: 127.0.0.1:8081\n"
		    "    limits:\n"
		    "      max_uri_bytes: 1MiB\n"
		    "      max_header_bytes: 1MiB\n"
		    "      max_headers: 1\n"
		    "      max_body_bytes: 16GiB\n"
		    "      buffer_bytes: 64MiB\n"
		    "      min_body_rate: \"1073741824B\"\n"
		    "      min_send_rate: 1B\n"
		    "      max_connections: 0\n"
		    "      max_connections_per_ip: 10000000\n"
		    "    routes: [{cluster: demo, timeout: 24h}]\n"
		    "clusters:\n"
		    "  - name: demo\n"
		    "    endpoints:\n"
		    "      - {address: 127.0.0.1:1, weight: 1}\n"
		    "      - {address: 127.0.0.1:65535, weight: 1000}\n"
		    "    connect_timeout: 24h\n"
		    "    pool: {max_idle: 100000, idle_timeout: 1ms,\n"
		    "           max_requests: 4294967295}\n"
		    "    max_connections: 10000000\n"
		    "    max_pending: 1000000\n"
		    "    queue_timeout: 24h\n"
		    "  - name: d2\n"
		    "    endpoints: [127.0.0.1:1]\n"
		    "    connect_timeout: 1ms\n"
		    "    pool: {max_idle: 0}\n"
		    "    max_connections: 1\n"
		    "    max_pending: 0\n"
		    "    queue_timeout: \"1ms\"\n");
	assert_int_equal(c->workers, 1024);
	assert_true(c->drain_timeout_ms == 0);
	lim = &c->listeners[0].limits;
	assert_true(lim->header_timeout_ms == 1);
	assert_true(lim->body_timeout_ms == 86400000);
	assert_true(lim->send_timeout_ms == 86400000);
	assert_true(lim->idle_timeout_ms == 86400000);
	assert_true(lim->max_uri_bytes == 16);
	assert_true(lim->max_header_bytes == 256);
	assert_true(lim->max_headers == 10000);
	assert_true(lim->max_body_bytes == 0);
	assert_true(lim->buffer_bytes == 4096);
	assert_true(lim->max_requests == 4294967295ULL);
	assert_true(lim->min_body_rate_bps == 0);
	assert_true(lim->min_send_rate_bps == 1073741824);
	assert_true(lim->max_connections == 10000000);
	assert_true(lim->max_connections_per_ip == 0);
	assert_true(c->listeners[0].routes[0].timeout_ms == 1);
	lim = &c->listeners[1].limits;
	assert_true(lim->max_uri_bytes == 1048576);
	assert_true(lim->max_header_bytes == 1048576);
	assert_true(lim->max_headers == 1);
	assert_true(lim->max_body_bytes == 16ULL << 30);
	assert_true(lim->buffer_bytes == 64 << 20);
	assert_true(lim->min_body_rate_bps == 1073741824);
	assert_true(lim->min_send_rate_bps == 1);
	assert_true(lim->max_connections == 0);
	assert_true(lim->max_connections_per_ip == 10000000);
	assert_true(c->listeners[1].routes[0].timeout_ms == 86400000);
	assert_int_equal(c->clusters[0].endpoints[0].weight, 1);
	assert_int_equal(c->clusters[0].endpoints[1].weight, 1000);
	assert_true(c->clusters[0].connect_timeout_ms == 86400000);
	assert_true(c->clusters[0].pool_max_idle == 100000);
	assert_true(c->clusters[0].pool_idle_timeout_ms == 1);
	assert_true(c->clusters[0].pool_max_requests == 4294967295ULL);
	assert_true(c->clusters[0].max_connections == 10000000);
	assert_true(c->clusters[0].max_pending == 1000000);
	assert_true(c->clusters[0].queue_timeout_ms == 86400000);
	assert_true(c->clusters[1].connect_timeout_ms == 1);
	assert_true(c->clusters[1].pool_max_idle == 0);
	assert_true(c->clusters[1].max_connections == 1);
	assert_true(c->clusters[1].max_pending == 0);
	assert_true(c->clusters[1].queue_timeout_ms == 1);
	sl_conf_unref(c);

	c = load_ok(
	    "workers: \"auto\"\n"
	    "log: {level: error, access: \"off\", access_format: json}\n"
	    "admin: {address: \"[::1]:9901\"}\n" LISTENER CLUSTER);
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->log_level, SL_LOG_ERROR);
	assert_string_equal(c->access_log, "off");
	assert_int_equal(c->admin_addr.ss.ss_family, AF_INET6);
	sl_conf_unref(c);

	c = load_ok("workers: 1\nlog: {level: warn, access: stderr}\n" LISTENER
			CLUSTER);
	assert_int_equal(c->workers, 1);
	assert_int_equal(c->log_level, SL_LOG_WARN);
	assert_string_equal(c->access_log, "stderr");
	sl_conf_unref(c);
}

/* Different families, hosts or ports may share nothing: all accepted. */
static void
test_listener_addresses(void **state)
{
	struct sl_conf *c;

	(void)state;
	c = load_ok("admin: {address: 127.0.0.1:9901}\n"
		    "listeners:\n"
		    "  - {name: a, address: 0.0.0.0:8080, routes: "
		    "[{cluster: demo}]}\n"
		    "  - {name: b, address: \"[::]:8080\", routes: "
		    "[{cluster: demo}]}\n"
		    "  - {name: c, address: 127.0.0.1:8081, routes: "
		    "[{cluster: demo}]}\n"
		    "  - {name: d, address: 127.0.0.2:8081, routes: "
		    "[{cluster: demo}]}\n" CLUSTER);
	assert_int_equal(c->nlisteners, 4);
	sl_conf_unref(c);
}

static void
test_ref_unref(void **state)
{
	struct sl_conf *c;

	(void)state;
	c = load_ok(LISTENER CLUSTER);
	assert_ptr_equal(sl_conf_ref(c), c);
	assert_int_equal(atomic_load(&c->refcnt), 2);
	sl_conf_unref(c);
	assert_int_equal(atomic_load(&c->refcnt), 1);
	assert_string_equal(c->listeners[0].name, "public");
	sl_conf_unref(c);
	sl_conf_unref(NULL);
}

/* The buffer ends at len: bytes after it are never read. */
static void
test_buffer_len(void **state)
{
	static const char yaml[] = LISTENER CLUSTER "garbage: [";
	struct sl_conf *c;
	char *errs = NULL;

	(void)state;
	c = sl_conf_load_buffer("t.yaml", yaml, strlen(yaml) - 10, &errs);
	assert_non_null(c);
	assert_null(errs);
	sl_conf_unref(c);

	/* A NUL byte inside the buffer is a YAML error, not its end. */
	load_bad("workers: 1\0\n", 12,
		 "t.yaml:1:11: error: invalid YAML: control characters are not "
		 "allowed (#x0)" STOPPED_HERE);

	/* No errors wanted: the result alone tells. */
	assert_null(sl_conf_load_buffer("t.yaml", yaml, strlen(yaml), NULL));
	c = sl_conf_load_buffer(NULL, yaml, strlen(yaml) - 10, NULL);
	assert_non_null(c);
	assert_string_equal(c->path, "<buffer>");
	sl_conf_unref(c);
}

static void
test_load_files(void **state)
{
	static const char *const files[] = {
	    SRCDIR "/tests/conf/good/minimal.yaml",
	    SRCDIR "/tests/conf/good/full.yaml",
	    SRCDIR "/tests/conf/good/multi.yaml",
	    SRCDIR "/tests/conf/good/anchors.yaml",
	    SRCDIR "/etc/sluice.yaml",
	};
	struct sl_conf *c;
	char *errs;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		errs = NULL;
		c = sl_conf_load(files[i], &errs);
		if (c == NULL)
			fail_msg("%s", errs ? errs : files[i]);
		assert_null(errs);
		assert_string_equal(c->path, files[i]);
		sl_conf_unref(c);
	}

	/* The shipped example is what the quick start relies on. */
	c = sl_conf_load(SRCDIR "/etc/sluice.yaml", NULL);
	assert_non_null(c);
	assert_int_equal(c->workers, 0);
	assert_string_equal(c->access_log, "stdout");
	assert_int_equal(c->access_format, SL_ACCESS_JSON);
	assert_string_equal(c->listeners[0].name, "public");
	assert_string_equal(c->listeners[0].addr.text, "127.0.0.1:8080");
	assert_string_equal(c->clusters[0].name, "demo");
	assert_string_equal(c->clusters[0].endpoints[0].addr.text,
			    "127.0.0.1:9001");
	/* It lists the new keys at their defaults. */
	assert_true(c->listeners[0].limits.min_body_rate_bps == 0);
	assert_true(c->listeners[0].limits.min_send_rate_bps == 0);
	assert_true(c->listeners[0].limits.max_connections == 0);
	assert_true(c->listeners[0].limits.max_connections_per_ip == 0);
	assert_true(c->clusters[0].max_connections == 0);
	assert_true(c->clusters[0].max_pending == 100);
	assert_true(c->clusters[0].queue_timeout_ms == 1000);
	sl_conf_unref(c);

	errs = NULL;
	assert_null(
	    sl_conf_load(SRCDIR "/tests/conf/no-such-file.yaml", &errs));
	assert_string_equal(errs, SRCDIR "/tests/conf/no-such-file.yaml: "
					 "error: cannot open: No such file or "
					 "directory\n");
	free(errs);
	errs = NULL;
	assert_null(sl_conf_load(SRCDIR "/tests/conf", &errs));
	assert_string_equal(errs, SRCDIR "/tests/conf: error: cannot read: Is "
					 "a directory\n");
	free(errs);

	errs = NULL;
	assert_null(
	    sl_conf_load(SRCDIR "/tests/conf/bad/unknown-cluster.yaml", &errs));
	assert_string_equal(errs, SRCDIR "/tests/conf/bad/unknown-cluster.yaml"
					 ":7:18: error: route \"api\": unknown "
					 "cluster \"billing\"\n");
	free(errs);
}

/* Everything wrong in a file is reported, in the order of the file. */
static void
test_all_errors(void **state)
{
	static const char yaml[] =
	    "workers: zero\n"
	    "log: {level: loud}\n"
	    "listeners:\n"
	    "  - name: public\n"
	    "    address: 127.0.0.1\n"
	    "    limits: {header_timeout: 10, colour: blue}\n"
	    "    routes:\n"
	    "      - name: api\n"
	    "        cluster: billing\n"
	    "      - match: {methods: [\"GE T\"], host: \"a:1\"}\n"
	    "        split: []\n"
	    "  - name: public\n"
	    "    routes: []\n"
	    "clusters:\n"
	    "  - name: demo\n"
	    "    endpoints: []\n"
	    "    balance: random\n"
	    "    pool: {max_idle: -1}\n";

	(void)state;
	load_bad(
	    yaml, strlen(yaml),
	    "t.yaml:1:10: error: \"workers\": expected an integer >= 1 or "
	    "\"auto\"\n"
	    "t.yaml:2:14: error: \"level\": expected error, warn, info or "
	    "debug\n"
	    "t.yaml:5:14: error: \"address\": invalid address "
	    "\"127.0.0.1\": missing \":PORT\"\n"
	    "t.yaml:6:30: error: \"header_timeout\": duration \"10\" needs "
	    "a unit (ms, s, m or h)\n"
	    "t.yaml:6:34: error: unknown key \"colour\" in limits\n"
	    "t.yaml:9:18: error: route \"api\": unknown cluster "
	    "\"billing\"\n"
	    "t.yaml:10:27: error: route \"route-2\": \"methods\": invalid "
	    "method \"GE T\"\n"
	    "t.yaml:10:42: error: route \"route-2\": \"host\": \"a:1\" must "
	    "not contain a "
	    "port\n"
	    "t.yaml:11:16: error: route \"route-2\": \"split\" must not be "
	    "empty\n"
	    "t.yaml:12:5: error: listener \"public\": missing key "
	    "\"address\"\n"
	    "t.yaml:12:11: error: duplicate listener name \"public\" (first "
	    "at 4:11)\n"
	    "t.yaml:13:13: error: listener \"public\": \"routes\" must not "
	    "be empty\n"
	    "t.yaml:16:16: error: cluster \"demo\": \"endpoints\" must not "
	    "be empty\n"
	    "t.yaml:17:14: error: \"balance\": expected round_robin, "
	    "least_request or hash\n"
	    "t.yaml:18:22: error: \"max_idle\": expected an integer "
	    "(0..100000)\n");
}

/* ---- one test per kind of error ---------------------------------------- */

struct error_case {
	const char *name;
	const char *yaml;
	const char *want; /* every error line, in order */
};

static const struct error_case error_cases[] = {
    /* YAML itself */
    {"yaml syntax", "a: b: c\n",
     "t.yaml:1:4: error: a value containing \": \" must be "
     "quoted" STOPPED_HERE},
    {"yaml reserved character", "log: {access: @stdout}\n",
     "t.yaml:1:15: error: \"@\" cannot start a value (quote the "
     "value)" STOPPED_HERE},
    /* indentation: the error is on the line to edit */
    {"yaml key under-indented in a list item",
     "listeners:\n  - name: public\n   address: 127.0.0.1:8080\n",
     "t.yaml:3:4: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 2:5" STOPPED_HERE},
    {"yaml key over-indented in a list item",
     "listeners:\n  - name: public\n     address: 127.0.0.1:8080\n",
     "t.yaml:3:6: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 2:5" STOPPED_HERE},
    {"yaml key at the column of the list",
     "listeners:\n  - name: public\n  address: 127.0.0.1:8080\n",
     "t.yaml:3:3: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 2:5" STOPPED_HERE},
    {"yaml key under-indented", "log:\n  level: info\n access: stdout\n",
     "t.yaml:3:2: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 2:3" STOPPED_HERE},
    {"yaml key over-indented", "log:\n  level: info\n    access: stdout\n",
     "t.yaml:3:5: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 2:3" STOPPED_HERE},
    {"yaml top-level key indented", "workers: 1\n  log: {}\n",
     "t.yaml:2:3: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 1:1" STOPPED_HERE},
    {"yaml deep key under-indented",
     "listeners:\n"
     "  - name: public\n"
     "    routes:\n"
     "    - cluster: demo\n"
     "      match:\n"
     "        path_prefix: /a\n"
     "     timeout: 2s\n",
     "t.yaml:7:6: error: bad indentation: this line does not line up "
     "with the keys of the mapping at 4:7" STOPPED_HERE},
    {"yaml list item under-indented",
     "clusters:\n"
     "  - name: demo\n"
     "    endpoints:\n"
     "      - 127.0.0.1:9001\n"
     "     - 127.0.0.1:9002\n",
     "t.yaml:5:6: error: bad indentation: this line does not line up "
     "with the items of the list at 4:7" STOPPED_HERE},
    {"yaml list item over-indented", "listeners:\n  - name: a\n   - name: b\n",
     "t.yaml:3:4: error: bad indentation: this line does not line up "
     "with the items of the list at 2:3" STOPPED_HERE},
    {"yaml list item among keys", "log:\n  level: info\n  - access: x\n",
     "t.yaml:3:3: error: expected a key like the others of the mapping "
     "at 2:3" STOPPED_HERE},
    {"yaml key among list items", "- a\nb: c\n",
     "t.yaml:1:1: error: expected a mapping at the top level\n"
     "t.yaml:2:1: error: expected a list item (\"- \") like the others "
     "of the list at 1:1" STOPPED_HERE},
    {"yaml missing colon", "log:\n  level\n  access: stdout\n",
     "t.yaml:2:3: error: missing \":\" after \"level\" (YAML reads this "
     "line and line 3 as one value)" STOPPED_AT("3:9")},
    {"yaml missing colon in a list item",
     "listeners:\n  - name\n    address: 127.0.0.1:8080\n",
     "t.yaml:2:5: error: missing \":\" after \"name\" (YAML reads this "
     "line and line 3 as one value)" STOPPED_AT("3:12")},
    {"yaml missing colon at the end", "log:\n  level: info\n  access\n",
     "t.yaml:3:3: error: missing \":\" after \"access\"" STOPPED_AT("4:1")},
    {"yaml list on the line of its key", "log:\n  access: - stdout\n",
     "t.yaml:2:11: error: \"- \" cannot follow a key on the same line "
     "(start the list on the next line)" STOPPED_HERE},
    {"yaml text after a quoted value", "log:\n  access: \"std\" out\n",
     "t.yaml:2:17: error: unexpected text after the quoted string at "
     "2:11" STOPPED_HERE},
    {"yaml text after a list", "log: [a, b]]\n",
     "t.yaml:1:6: error: \"log\": expected a mapping\n"
     "t.yaml:1:12: error: unexpected text after the list at 1:6" STOPPED_HERE},
    {"yaml tab indent", "listeners:\n\t- name: a\n",
     "t.yaml:2:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab before a key", "listeners:\n  - name: a\n\taddress: x\n",
     "t.yaml:3:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab after spaces", "log:\n  level: info\n  \taccess: x\n",
     "t.yaml:3:3: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab after a dash", "listeners:\n  -\tname: a\n",
     "t.yaml:2:4: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab in a block scalar", "log: |\n  a\n\tb\n",
     "t.yaml:3:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab on a blank line", "log:\n\t\n  level: info\n",
     "t.yaml:2:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    /* what came before the stop is checked, as far as it goes */
    {"yaml tab after errors",
     CLUSTER "    balance: random\n"
	     "  - name: spare\n"
	     "workers: 0\n"
	     "listeners:\n"
	     "  - name: public\n"
	     "    routes:\n"
	     "      - cluster: dmo\n"
	     "        timeout: 5s\n"
	     "\tretry: {}\n",
     "t.yaml:4:14: error: \"balance\": expected round_robin, least_request "
     "or hash\n"
     "t.yaml:5:5: error: cluster \"spare\": missing key \"endpoints\"\n"
     "t.yaml:6:10: error: \"workers\": expected an integer >= 1 or "
     "\"auto\"\n"
     "t.yaml:10:18: error: route \"route-1\": unknown cluster \"dmo\" (did "
     "you mean \"demo\"?)\n"
     "t.yaml:12:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab: what may follow is not missing",
     "listeners:\n"
     "  - name: public\n"
     "    routes:\n"
     "      - mirror: {cluster: nowhere}\n"
     "        sticky: client_ip\n"
     "        match: {}\n"
     "\tcluster: a\n",
     "t.yaml:7:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab: what may follow is not missing, tls",
     "listeners:\n"
     "  - name: public\n"
     "    tls:\n"
     "      client_verify: optional\n"
     "      client_subject_header: X-S\n"
     "      min_version: TLSv1.3\n"
     "\tcertificates: []\n",
     "t.yaml:7:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab: what may follow is not missing, limits",
     "listeners:\n"
     "  - name: public\n"
     "    limits:\n"
     "      max_uri_bytes: 64KiB\n"
     "      buffer_bytes: 4KiB\n"
     "      idle_timeout: 1s\n"
     "\tmax_header_bytes: 4KiB\n",
     "t.yaml:7:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml tab: a value read wrong is dropped",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n"
     "    limits:\n"
     "      max_headers: 10\n"
     "       x\n"
     "\t  y\n",
     "t.yaml:8:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml unclosed quote",
     LISTENER CLUSTER "log:\n  level: info\n  access: \"stdout\nworkers: 2\n",
     "t.yaml:11:11: error: unclosed quoted string (no closing \" before "
     "the end of the file)" STOPPED_HERE},
    {"yaml unclosed single quote", "log: {access: 'stdout}\n" LISTENER,
     "t.yaml:1:15: error: unclosed quoted string (no closing ' before "
     "the end of the file)" STOPPED_HERE},
    {"yaml unclosed quote before ---", "log:\n  access: \"stdout\n---\n",
     "t.yaml:2:11: error: unclosed quoted string (no closing \" before "
     "the document marker at 3:1)" STOPPED_HERE},
    {"yaml quote closed on a later line",
     "log:\n  access: \"stdout\n  level: \"info\"\n" LISTENER CLUSTER,
     "t.yaml:2:11: error: unclosed quoted string (the next \" is at "
     "3:10)" STOPPED_AT("3:11")},
    {"yaml single quote closed on a later line",
     "log:\n  access: 'std\n  level: 'info'\n" LISTENER CLUSTER,
     "t.yaml:2:11: error: unclosed quoted string (the next ' is at "
     "3:10)" STOPPED_AT("3:11")},
    {"yaml unclosed flow", "listeners: [\n",
     "t.yaml:1:12: error: unclosed \"[\" (no matching \"]\" before the "
     "end of the file)" STOPPED_AT("2:1")},
    {"yaml unclosed flow list",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}\n" CLUSTER,
     "t.yaml:4:13: error: unclosed \"[\" (no matching \"]\" before "
     "5:1)" STOPPED_AT("5:1")},
    {"yaml unclosed flow mapping", "log: {level: info\n\n" LISTENER CLUSTER,
     "t.yaml:1:6: error: unclosed \"{\" (no matching \"}\" before "
     "3:10)" STOPPED_AT("3:10")},
    {"yaml unclosed nested flow", "log: {level: [info, access: x}\n",
     "t.yaml:1:14: error: \"level\": expected error, warn, info or "
     "debug\n"
     "t.yaml:1:30: error: expected \",\" or \"]\" in the list that "
     "starts at 1:14" STOPPED_HERE},
    {"yaml flow missing comma", "log: {level: info access: x}\n",
     "t.yaml:1:25: error: expected \",\" or \"}\" in the mapping that "
     "starts at 1:6" STOPPED_HERE},
    {"yaml flow missing comma across lines",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [\n"
	      "      \"127.0.0.1:9001\"  # ]\n"
	      "      '127.0.0.1:9002'\n"
	      "    ]\n",
     "t.yaml:10:7: error: expected \",\" or \"]\" in the list that "
     "starts at 8:16" STOPPED_HERE},
    {"yaml flow mismatched brackets", "log: [a, b}\n",
     "t.yaml:1:6: error: \"log\": expected a mapping\n"
     "t.yaml:1:11: error: expected \",\" or \"]\" in the list that "
     "starts at 1:6" STOPPED_HERE},
    {"yaml control character", "workers: 1\x01\n",
     "t.yaml:1:11: error: invalid YAML: control characters are not "
     "allowed (#x1)" STOPPED_HERE},
    {"yaml invalid UTF-8", "workers: \xff\n",
     "t.yaml:1:10: error: invalid YAML: invalid leading UTF-8 octet "
     "(#xff)" STOPPED_HERE},
    /* anchors, aliases, merge keys */
    {"yaml alias", "x: &a 1\n" LISTENER CLUSTER "workers: *a\n",
     "t.yaml:1:1: error: unknown key \"x\" at the top level\n"},
    {"yaml alias as key", LISTENER CLUSTER "log: {level: &l info}\n*l : 1\n",
     "t.yaml:9:17: error: unknown key \"info\" at the top level (through "
     "the alias *l at 10:1)\n"},
    {"yaml alias undefined", LISTENER CLUSTER "workers: *w\nlog: &w {}\n",
     "t.yaml:9:10: error: undefined alias *w (no anchor &w before it)\n"},
    {"yaml alias recursive", LISTENER CLUSTER "log: &l {level: *l}\n",
     "t.yaml:9:17: error: alias *l is inside what its anchor at 9:6 names "
     "(a recursive structure)\n"},
    {"yaml alias too deep",
     LISTENER CLUSTER "log: &a [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]"
		      "]]]]]]]]]]]]]]]\n"
		      "drain_timeout: [[*a]]\n",
     "t.yaml:9:6: error: \"log\": expected a mapping\n"
     "t.yaml:10:16: error: \"drain_timeout\": expected a duration (an "
     "integer with unit ms, s, m or h)\n"
     "t.yaml:10:18: error: alias *a nests the YAML more than 32 levels "
     "deep\n"},
    /* an error in what an alias copied: where it is written, and how
     * it was reached */
    {"yaml alias error positions",
     "listeners:\n"
     "  - name: a\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: &r\n"
     "      - cluster: demo\n"
     "        timeout: &t 5\n"
     "  - name: b\n"
     "    address: 127.0.0.1:8081\n"
     "    routes: *r\n"
     "  - name: c\n"
     "    address: 127.0.0.1:8082\n"
     "    routes: [{ cluster: demo, timeout: *t }]\n" CLUSTER,
     "t.yaml:6:21: error: route \"route-1\": \"timeout\": duration \"5\" needs "
     "a unit (ms, s, "
     "m or h)\n"
     "t.yaml:6:21: error: route \"route-1\": \"timeout\": duration \"5\" needs "
     "a unit (ms, s, "
     "m or h) (through the alias *r at 9:13)\n"
     "t.yaml:6:21: error: route \"route-1\": \"timeout\": duration \"5\" needs "
     "a unit (ms, s, "
     "m or h) (through the alias *t at 12:40)\n"},
    {"yaml alias through aliases",
     "x: &x { max_idle: -1 }\n"
     "y: &y { pool: *x }\n" LISTENER "clusters:\n"
     "  - name: demo\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "    <<: *y\n",
     "t.yaml:1:1: error: unknown key \"x\" at the top level\n"
     "t.yaml:1:19: error: \"max_idle\": expected an integer (0..100000) "
     "(through the alias *y at 11:9, then *x at 2:15)\n"
     "t.yaml:2:1: error: unknown key \"y\" at the top level\n"},
    {"yaml merge not a mapping",
     LISTENER CLUSTER "log: { <<: [{level: info}, x], access: stdout }\n"
		      "admin: { <<: 1 }\n",
     "t.yaml:9:28: error: merge key \"<<\": expected a mapping to "
     "merge\n"
     "t.yaml:10:8: error: admin: missing key \"address\"\n"
     "t.yaml:10:14: error: merge key \"<<\": expected a mapping or a "
     "list of mappings to merge\n"},
    {"yaml merge key twice",
     LISTENER CLUSTER "log: { <<: {level: info}, <<: {access: off} }\n",
     "t.yaml:9:27: error: duplicate key \"<<\" (first at 9:8; merge several "
     "mappings with \"<<: [*a, *b]\")\n"},
    {"yaml merge quoted is a key", LISTENER CLUSTER "log: { \"<<\": {} }\n",
     "t.yaml:9:8: error: unknown key \"<<\" in log\n"},
    {"yaml merge brings unknown keys",
     LISTENER "clusters:\n"
	      "  - &c\n"
	      "    name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "admin: { <<: *c, address: 127.0.0.1:9901 }\n",
     "t.yaml:8:5: error: unknown key \"name\" in admin (it belongs in a "
     "listener or in a cluster) (through the alias *c at 10:14)\n"
     "t.yaml:9:5: error: unknown key \"endpoints\" in admin (it belongs in "
     "a cluster) (through the alias *c at 10:14)\n"},
    {"yaml merge cut short by a stop",
     LISTENER CLUSTER "log:\n"
		      "  <<: {level: loud}\n"
		      "\taccess: off\n",
     "t.yaml:11:1: error: tabs are not allowed for indentation (indent "
     "with spaces)" STOPPED_HERE},
    {"yaml two documents", LISTENER CLUSTER "---\nworkers: 2\n",
     "t.yaml:9:1: error: only one YAML document is allowed\n"},
    {"yaml too deep",
     "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]\n",
     "t.yaml:1:1: error: unknown key \"a\" at the top level\n"
     "t.yaml:1:35: error: YAML nested more than 32 levels deep" STOPPED_HERE},
    /* the document */
    {"empty file", "",
     "t.yaml:1:1: error: the configuration is empty (expected a "
     "mapping with \"listeners\")\n"},
    {"comments only", "# nothing\n\n",
     "t.yaml:1:1: error: the configuration is empty (expected a mapping with "
     "\"listeners\")\n"},
    {"empty document", "---\n",
     "t.yaml:2:1: error: expected a mapping at the top level\n"},
    {"list document", "- a\n- b\n",
     "t.yaml:1:1: error: expected a mapping at the top level\n"},
    {"scalar document", "hello\n",
     "t.yaml:1:1: error: expected a mapping at the top level\n"},
    {"non-string key", "? [a]\n: b\n" LISTENER CLUSTER,
     "t.yaml:1:3: error: keys must be strings at the top level\n"},
    {"duplicate key", "workers: 1\n" LISTENER CLUSTER "workers: 2\n",
     "t.yaml:10:1: error: duplicate key \"workers\" at the top level (first at "
     "1:1)\n"},
    /* unknown keys */
    {"unknown key top", "worker: 4\n" LISTENER CLUSTER,
     "t.yaml:1:1: error: unknown key \"worker\" at the top level (did you "
     "mean \"workers\"?)\n"},
    {"unknown key listener",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    foo: bar\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:5: error: unknown key \"foo\" in listener\n"},
    {"unknown key limits",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    limits: {max_header: 1KiB}\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:14: error: unknown key \"max_header\" in limits (did you mean "
     "\"max_headers\"?)\n"},
    {"unknown key route",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, retries: 3}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": unknown key \"retries\" in "
     "route\n"},
    {"unknown key match",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {prefix: /}}]\n" CLUSTER,
     "t.yaml:4:38: error: route \"route-1\": unknown key \"prefix\" in match "
     "(did you mean "
     "\"path_prefix\"?)\n"},
    {"unknown key cluster",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    health: /\n",
     "t.yaml:9:5: error: unknown key \"health\" in cluster (did you mean "
     "\"health_check\"?)\n"},
    {"unknown key pool",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    pool: {max_conns: 1}\n",
     "t.yaml:9:12: error: unknown key \"max_conns\" in pool\n"},
    {"unknown key endpoint",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [{address: 127.0.0.1:9001, backup: 1}]\n",
     "t.yaml:8:43: error: unknown key \"backup\" in endpoint\n"},
    {"unknown key log", "log: {format: json}\n" LISTENER CLUSTER,
     "t.yaml:1:7: error: unknown key \"format\" in log (did you mean "
     "\"access_format\"?)\n"},
    {"unknown key admin",
     "admin: {address: 127.0.0.1:9901, limits: on}\n" LISTENER CLUSTER,
     "t.yaml:1:34: error: unknown key \"limits\" in admin (it belongs in a "
     "listener)\n"},
    {"unknown key misspelt",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    conect_timeout: 2s\n",
     "t.yaml:9:5: error: unknown key \"conect_timeout\" in cluster (did you "
     "mean \"connect_timeout\"?)\n"},
    {"unknown key swapped letters",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{clsuter: demo}]\n" CLUSTER,
     "t.yaml:4:14: error: route \"route-1\": missing key \"cluster\" (or "
     "\"split\")\n"
     "t.yaml:4:15: error: route \"route-1\": unknown key \"clsuter\" in route "
     "(did you mean "
     "\"cluster\"?)\n"},
    {"unknown key short",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, nme: a, nm: b}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": unknown key \"nme\" in route (did "
     "you mean "
     "\"name\"?)\n"
     "t.yaml:4:38: error: route \"route-1\": unknown key \"nm\" in route\n"},
    /* a key of another section: where it belongs (issue 24) */
    {"key of limits on a listener",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    header_timeout: 5s\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:5: error: unknown key \"header_timeout\" in listener (it "
     "belongs under \"limits\")\n"},
    {"key of limits misspelt on a listener",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    header_timout: 5s\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:5: error: unknown key \"header_timout\" in listener (did you "
     "mean \"header_timeout\" under \"limits\"?)\n"},
    {"key of limits in a route",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, idle_timeout: 5s}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": unknown key \"idle_timeout\" in "
     "route (it belongs "
     "under a listener's \"limits\")\n"},
    {"key of limits and of a route at the top level",
     "max_body_bytes: 1MiB\n" LISTENER CLUSTER,
     "t.yaml:1:1: error: unknown key \"max_body_bytes\" at the top level "
     "(it belongs under a listener's \"limits\" or in a route)\n"},
    {"key of a cluster in a route",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, connect_timeout: 1s}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": unknown key \"connect_timeout\" "
     "in route (it "
     "belongs in a cluster)\n"},
    {"key of a route in match",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {timeout: 5s}}]\n" CLUSTER,
     "t.yaml:4:38: error: route \"route-1\": unknown key \"timeout\" in match "
     "(it belongs in "
     "the route)\n"},
    {"key of the pool on a cluster", LISTENER CLUSTER "    max_idle: 8\n",
     "t.yaml:9:5: error: unknown key \"max_idle\" in cluster (it belongs "
     "under \"pool\")\n"},
    {"key of the pool on a route",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, max_idle: 8}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": unknown key \"max_idle\" in route "
     "(it belongs "
     "under a cluster's \"pool\")\n"},
    {"key of the top level on a listener",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    workers: 2\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:5: error: unknown key \"workers\" in listener (it belongs at "
     "the top level)\n"},
    {"key of log at the top level", "level: debug\n" LISTENER CLUSTER,
     "t.yaml:1:1: error: unknown key \"level\" at the top level (it belongs "
     "under \"log\")\n"},
    {"key of header rules on a route",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, remove: [X-A]}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": unknown key \"remove\" in route "
     "(it belongs under "
     "\"request_headers\" or \"response_headers\")\n"},
    {"key of a certificate on a listener's tls",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    tls: {cert: a.pem, key: a.key}\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:10: error: listener \"public\": tls: missing key "
     "\"certificates\" (or \"acme\")\n"
     "t.yaml:4:11: error: unknown key \"cert\" in tls (it belongs in a "
     "\"certificates\" item)\n"
     "t.yaml:4:24: error: unknown key \"key\" in tls (it belongs in a "
     "\"certificates\" item)\n"},
    {"part of a key of the same section",
     LISTENER CLUSTER "    hash: client_ip\n",
     "t.yaml:9:5: error: unknown key \"hash\" in cluster (did you mean "
     "\"hash_key\"?)\n"},
    {"part of two keys of the same section",
     LISTENER CLUSTER "    timeout: 1s\n",
     "t.yaml:9:5: error: unknown key \"timeout\" in cluster (it belongs "
     "under \"health_check\")\n"},
    {"short key of another section not guessed",
     LISTENER CLUSTER "    skew: 1\n",
     "t.yaml:9:5: error: unknown key \"skew\" in cluster\n"},
    {"key of a route's auth.jwt in a cluster", LISTENER CLUSTER "    keys: 1\n",
     "t.yaml:9:5: error: unknown key \"keys\" in cluster (it belongs under "
     "a route's \"auth.jwt\")\n"},
    {"empty key gets no hint", "\"\": 1\n\"_\": 2\n" LISTENER CLUSTER,
     "t.yaml:1:1: error: unknown key \"\" at the top level\n"
     "t.yaml:2:1: error: unknown key \"_\" at the top level\n"},
    {"a close key of the section first",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    limits: {max_connection: 5}\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:4:14: error: unknown key \"max_connection\" in limits (did you "
     "mean \"max_connections\"?)\n"},
    /* workers */
    {"workers word", "workers: many\n" LISTENER CLUSTER,
     "t.yaml:1:10: error: \"workers\": expected an integer >= 1 or \"auto\"\n"},
    {"workers zero", "workers: 0\n" LISTENER CLUSTER,
     "t.yaml:1:10: error: \"workers\": expected an integer >= 1 or \"auto\"\n"},
    {"workers negative", "workers: -2\n" LISTENER CLUSTER,
     "t.yaml:1:10: error: \"workers\": expected an integer >= 1 or \"auto\"\n"},
    {"workers quoted", "workers: \"4\"\n" LISTENER CLUSTER,
     "t.yaml:1:10: error: \"workers\": expected an integer >= 1 or \"auto\"\n"},
    {"workers null", "workers:\n" LISTENER CLUSTER,
     "t.yaml:1:9: error: \"workers\": expected an integer >= 1 or \"auto\"\n"},
    {"workers too many", "workers: 1025\n" LISTENER CLUSTER,
     "t.yaml:1:10: error: \"workers\": 1025 is out of range (1..1024)\n"},
    {"workers overflow", "workers: 99999999999999999999999\n" LISTENER CLUSTER,
     "t.yaml:1:10: error: \"workers\": 99999999999999999999999 is out of range "
     "(1..1024)\n"},
    /* durations */
    {"duration bare integer", "drain_timeout: 10\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": duration \"10\" needs a unit (ms, "
     "s, "
     "m or h)\n"},
    {"duration bad unit", "drain_timeout: 10sec\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": invalid duration \"10sec\" "
     "(expected "
     "an integer with unit ms, s, m or h)\n"},
    {"duration upper case", "drain_timeout: 10S\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": invalid duration \"10S\" "
     "(expected "
     "an integer with unit ms, s, m or h)\n"},
    {"duration fraction", "drain_timeout: 1.5s\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": invalid duration \"1.5s\" "
     "(expected "
     "an integer with unit ms, s, m or h)\n"},
    {"duration negative", "drain_timeout: -1s\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": invalid duration \"-1s\" "
     "(expected "
     "an integer with unit ms, s, m or h)\n"},
    {"duration overflow", "drain_timeout: 5124095576031h\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": duration \"5124095576031h\" is "
     "too "
     "large\n"},
    {"duration too long", "drain_timeout: 25h\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": 25h is out of range (0ms..24h)\n"},
    {"duration zero timeout",
     LISTENER "    limits: {idle_timeout: 0s}\n" CLUSTER,
     "t.yaml:6:28: error: \"idle_timeout\": 0s is out of range (1ms..24h)\n"},
    {"duration route timeout zero",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, timeout: 0ms}]\n" CLUSTER,
     "t.yaml:4:39: error: route \"route-1\": \"timeout\": 0ms is out of range "
     "(1ms..24h)\n"},
    {"duration not a scalar", "drain_timeout: [1s]\n" LISTENER CLUSTER,
     "t.yaml:1:16: error: \"drain_timeout\": expected a duration (an integer "
     "with unit ms, s, m or h)\n"},
    /* sizes */
    {"size bare integer",
     LISTENER "    limits: {max_body_bytes: 1024}\n" CLUSTER,
     "t.yaml:6:30: error: \"max_body_bytes\": size \"1024\" needs a unit (B, "
     "KiB, "
     "MiB or GiB)\n"},
    {"size bad unit", LISTENER "    limits: {buffer_bytes: 64KB}\n" CLUSTER,
     "t.yaml:6:28: error: \"buffer_bytes\": invalid size \"64KB\" (expected an "
     "integer with unit B, KiB, MiB or GiB)\n"},
    {"size overflow",
     LISTENER "    limits: {max_body_bytes: 17179869184GiB}\n" CLUSTER,
     "t.yaml:6:30: error: \"max_body_bytes\": size \"17179869184GiB\" is too "
     "large\n"},
    {"size header too small",
     LISTENER
     "    limits: {max_header_bytes: 255B, max_uri_bytes: 16B}\n" CLUSTER,
     "t.yaml:6:32: error: \"max_header_bytes\": 255B is out of range "
     "(256B..1MiB)\n"},
    {"size header too large",
     LISTENER "    limits: {max_header_bytes: 1025KiB}\n" CLUSTER,
     "t.yaml:6:32: error: \"max_header_bytes\": 1025KiB is out of range "
     "(256B..1MiB)\n"},
    {"size buffer too small",
     LISTENER "    limits: {buffer_bytes: 4095B}\n" CLUSTER,
     "t.yaml:6:28: error: \"buffer_bytes\": 4095B is out of range "
     "(4KiB..64MiB)\n"},
    {"size buffer too large",
     LISTENER "    limits: {buffer_bytes: 1GiB}\n" CLUSTER,
     "t.yaml:6:28: error: \"buffer_bytes\": 1GiB is out of range "
     "(4KiB..64MiB)\n"},
    {"size uri too small",
     LISTENER "    limits: {max_uri_bytes: 15B}\n" CLUSTER,
     "t.yaml:6:29: error: \"max_uri_bytes\": 15B is out of range (>= 16B)\n"},
    {"size uri above header",
     LISTENER "    limits: {max_uri_bytes: 33KiB}\n" CLUSTER,
     "t.yaml:6:29: error: \"max_uri_bytes\" (33KiB) must not exceed "
     "\"max_header_bytes\" (32KiB)\n"},
    {"size header below uri",
     LISTENER "    limits: {max_header_bytes: 4KiB}\n" CLUSTER,
     "t.yaml:6:32: error: \"max_uri_bytes\" (8KiB) must not exceed "
     "\"max_header_bytes\" (4KiB)\n"},
    {"size header above buffer",
     LISTENER "    limits: {buffer_bytes: 16KiB}\n" CLUSTER,
     "t.yaml:6:28: error: \"max_header_bytes\" (32KiB) must not exceed "
     "\"buffer_bytes\" (16KiB)\n"},
    {"size not a scalar",
     LISTENER "    limits: {buffer_bytes: {a: 1}}\n" CLUSTER,
     "t.yaml:6:28: error: \"buffer_bytes\": expected a size (an integer with "
     "unit "
     "B, KiB, MiB or GiB)\n"},
    /* integers */
    {"integer zero headers", LISTENER "    limits: {max_headers: 0}\n" CLUSTER,
     "t.yaml:6:27: error: \"max_headers\": 0 is out of range (1..10000)\n"},
    {"integer too many headers",
     LISTENER "    limits: {max_headers: 10001}\n" CLUSTER,
     "t.yaml:6:27: error: \"max_headers\": 10001 is out of range (1..10000)\n"},
    {"integer word", LISTENER "    limits: {max_headers: many}\n" CLUSTER,
     "t.yaml:6:27: error: \"max_headers\": expected an integer (1..10000)\n"},
    {"integer quoted", LISTENER "    limits: {max_headers: \"100\"}\n" CLUSTER,
     "t.yaml:6:27: error: \"max_headers\": expected an integer (1..10000)\n"},
    {"integer with unit", LISTENER "    limits: {max_requests: 10s}\n" CLUSTER,
     "t.yaml:6:28: error: \"max_requests\": expected an integer "
     "(0..4294967295)\n"},
    {"integer negative",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    pool: {max_idle: -1}\n",
     "t.yaml:9:22: error: \"max_idle\": expected an integer (0..100000)\n"},
    {"integer too large",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    pool: {max_requests: 4294967296}\n",
     "t.yaml:9:26: error: \"max_requests\": 4294967296 is out of range "
     "(0..4294967295)\n"},
    {"integer weight zero",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [{address: 127.0.0.1:9001, weight: 0}]\n",
     "t.yaml:8:51: error: \"weight\": 0 is out of range (1..1000)\n"},
    {"integer weight too large",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [{address: 127.0.0.1:9001, weight: 1001}]\n",
     "t.yaml:8:51: error: \"weight\": 1001 is out of range (1..1000)\n"},
    /* connection limits and rates */
    {"rate bare integer",
     LISTENER "    limits: {min_body_rate: 1024}\n" CLUSTER,
     "t.yaml:6:29: error: \"min_body_rate\": size \"1024\" needs a unit (B, "
     "KiB, MiB or GiB)\n"},
    {"rate bare zero", LISTENER "    limits: {min_send_rate: 0}\n" CLUSTER,
     "t.yaml:6:29: error: \"min_send_rate\": size \"0\" needs a unit (B, "
     "KiB, MiB or GiB)\n"},
    {"rate per second suffix",
     LISTENER "    limits: {min_send_rate: 1KiB/s}\n" CLUSTER,
     "t.yaml:6:29: error: \"min_send_rate\": invalid size \"1KiB/s\" "
     "(expected an integer with unit B, KiB, MiB or GiB)\n"},
    {"rate too large",
     LISTENER "    limits: {min_body_rate: 1025MiB}\n" CLUSTER,
     "t.yaml:6:29: error: \"min_body_rate\": 1025MiB is out of range "
     "(0B..1GiB)\n"},
    {"rate overflow",
     LISTENER "    limits: {min_send_rate: 17179869184GiB}\n" CLUSTER,
     "t.yaml:6:29: error: \"min_send_rate\": size \"17179869184GiB\" is too "
     "large\n"},
    {"rate not a scalar",
     LISTENER "    limits: {min_send_rate: [1KiB]}\n" CLUSTER,
     "t.yaml:6:29: error: \"min_send_rate\": expected a size (an integer "
     "with unit B, KiB, MiB or GiB)\n"},
    {"listener max_connections too large",
     LISTENER "    limits: {max_connections: 10000001}\n" CLUSTER,
     "t.yaml:6:31: error: \"max_connections\": 10000001 is out of range "
     "(0..10000000)\n"},
    {"listener max_connections negative",
     LISTENER "    limits: {max_connections: -1}\n" CLUSTER,
     "t.yaml:6:31: error: \"max_connections\": expected an integer "
     "(0..10000000)\n"},
    {"max_connections_per_ip too large",
     LISTENER
     "    limits: {max_connections_per_ip: 99999999999999999999}\n" CLUSTER,
     "t.yaml:6:38: error: \"max_connections_per_ip\": 99999999999999999999 "
     "is out of range (0..10000000)\n"},
    {"max_connections_per_ip quoted",
     LISTENER "    limits: {max_connections_per_ip: \"8\"}\n" CLUSTER,
     "t.yaml:6:38: error: \"max_connections_per_ip\": expected an integer "
     "(0..10000000)\n"},
    {"cluster max_connections too large",
     LISTENER CLUSTER "    max_connections: 10000001\n",
     "t.yaml:9:22: error: \"max_connections\": 10000001 is out of range "
     "(0..10000000)\n"},
    {"cluster max_connections with unit",
     LISTENER CLUSTER "    max_connections: 1KiB\n",
     "t.yaml:9:22: error: \"max_connections\": expected an integer "
     "(0..10000000)\n"},
    {"max_pending too large", LISTENER CLUSTER "    max_pending: 1000001\n",
     "t.yaml:9:18: error: \"max_pending\": 1000001 is out of range "
     "(0..1000000)\n"},
    {"max_pending null", LISTENER CLUSTER "    max_pending:\n",
     "t.yaml:9:17: error: \"max_pending\": expected an integer "
     "(0..1000000)\n"},
    {"queue_timeout zero", LISTENER CLUSTER "    queue_timeout: 0ms\n",
     "t.yaml:9:20: error: \"queue_timeout\": 0ms is out of range "
     "(1ms..24h)\n"},
    {"queue_timeout too long", LISTENER CLUSTER "    queue_timeout: 1441m\n",
     "t.yaml:9:20: error: \"queue_timeout\": 1441m is out of range "
     "(1ms..24h)\n"},
    {"queue_timeout bare integer", LISTENER CLUSTER "    queue_timeout: 1\n",
     "t.yaml:9:20: error: \"queue_timeout\": duration \"1\" needs a unit "
     "(ms, s, m or h)\n"},
    {"queue_timeout not a scalar",
     LISTENER CLUSTER "    queue_timeout: {s: 1}\n",
     "t.yaml:9:20: error: \"queue_timeout\": expected a duration (an "
     "integer with unit ms, s, m or h)\n"},
    {"max_connections in pool",
     LISTENER CLUSTER "    pool: {max_connections: 10}\n",
     "t.yaml:9:12: error: unknown key \"max_connections\" in pool (it "
     "belongs in the cluster)\n"},
    /* strings and enumerations */
    {"log level", "log: {level: verbose}\n" LISTENER CLUSTER,
     "t.yaml:1:14: error: \"level\": expected error, warn, info or debug\n"},
    {"log format", "log: {access_format: clf}\n" LISTENER CLUSTER,
     "t.yaml:1:22: error: \"access_format\": expected json or combined\n"},
    {"log access empty", "log: {access: \"\"}\n" LISTENER CLUSTER,
     "t.yaml:1:15: error: \"access\": expected off, stdout, stderr or a file "
     "path\n"},
    {"log access null", "log: {access: }\n" LISTENER CLUSTER,
     "t.yaml:1:15: error: \"access\": expected a string\n"},
    {"log access NUL", "log: {access: \"a\\0b\"}\n" LISTENER CLUSTER,
     "t.yaml:1:15: error: \"access\": must not contain NUL bytes\n"},
    {"log not a mapping", "log: info\n" LISTENER CLUSTER,
     "t.yaml:1:6: error: \"log\": expected a mapping\n"},
    {"balance",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    balance: random\n",
     "t.yaml:9:14: error: \"balance\": expected round_robin, least_request or "
     "hash\n"},
    {"name with space",
     "listeners:\n"
     "  - name: public api\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:2:11: error: \"name\": invalid name \"public api\" (1 to 64 "
     "letters, "
     "digits, \".\", \"_\" or \"-\")\n"},
    {"name too long",
     LISTENER
     "clusters:\n"
     "  - name: "
     "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde\n"
     "    endpoints: [127.0.0.1:9001]\n",
     "t.yaml:5:18: error: route \"route-1\": unknown cluster \"demo\"\n"
     "t.yaml:7:11: error: \"name\": invalid name "
     "\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd..."
     "\" (1 to 64 letters, digits, \".\", \"_\" or \"-\")\n"},
    {"name empty",
     "listeners:\n"
     "  - name: \"\"\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:2:11: error: \"name\": invalid name \"\" (1 to 64 letters, "
     "digits, "
     "\".\", \"_\" or \"-\")\n"},
    {"name not a string",
     "listeners:\n"
     "  - name: [a]\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:2:11: error: \"name\": expected a string\n"},
    {"name escaped in messages",
     "listeners:\n"
     "  - name: \"a\\\"\\tb\"\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:2:11: error: \"name\": invalid name \"a\\\"\\x09b\" (1 to 64 "
     "letters, "
     "digits, \".\", \"_\" or \"-\")\n"},
    /* structure: required keys, empty lists, wrong types */
    {"missing listeners", CLUSTER,
     "t.yaml:1:1: error: missing key \"listeners\"\n"},
    {"empty listeners", "listeners: []\n" CLUSTER,
     "t.yaml:1:12: error: \"listeners\": must not be empty\n"},
    {"listeners not a list", "listeners: {name: a}\n" CLUSTER,
     "t.yaml:1:12: error: \"listeners\": expected a list\n"},
    {"listener not a mapping", "listeners: [public]\n" CLUSTER,
     "t.yaml:1:13: error: \"listeners\": each item must be a mapping\n"},
    {"listener missing name",
     "listeners:\n"
     "  - address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:2:5: error: listener #1: missing key \"name\"\n"},
    {"listener missing address",
     "listeners:\n"
     "  - name: public\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:2:5: error: listener \"public\": missing key \"address\"\n"},
    {"listener missing routes",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n" CLUSTER,
     "t.yaml:2:5: error: listener \"public\": missing key \"routes\"\n"},
    {"listener empty routes",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: []\n" CLUSTER,
     "t.yaml:4:13: error: listener \"public\": \"routes\" must not be empty\n"},
    {"limits not a mapping", LISTENER "    limits: [10s]\n" CLUSTER,
     "t.yaml:6:13: error: \"limits\": expected a mapping\n"},
    {"routes not a list",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: {cluster: demo}\n" CLUSTER,
     "t.yaml:4:13: error: \"routes\": expected a list\n"},
    {"route not a mapping",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [demo]\n" CLUSTER,
     "t.yaml:4:14: error: \"routes\": each item must be a mapping\n"},
    {"route missing cluster",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        timeout: 1s\n" CLUSTER,
     "t.yaml:5:9: error: route \"api\": missing key \"cluster\" (or "
     "\"split\")\n"},
    {"route cluster not a string",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: [demo]}]\n" CLUSTER,
     "t.yaml:4:24: error: route \"route-1\": \"cluster\": expected a string\n"},
    {"match not a mapping",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: /api}]\n" CLUSTER,
     "t.yaml:4:37: error: route \"route-1\": \"match\": expected a mapping\n"},
    {"clusters not a list", LISTENER "clusters: {name: demo}\n",
     "t.yaml:5:18: error: route \"route-1\": unknown cluster \"demo\"\n"
     "t.yaml:6:11: error: \"clusters\": expected a list\n"},
    {"cluster not a mapping", LISTENER "clusters: [demo]\n",
     "t.yaml:5:18: error: route \"route-1\": unknown cluster \"demo\"\n"
     "t.yaml:6:12: error: \"clusters\": each item must be a mapping\n"},
    {"cluster missing name",
     LISTENER "clusters:\n"
	      "  - endpoints: [127.0.0.1:9001]\n",
     "t.yaml:5:18: error: route \"route-1\": unknown cluster \"demo\"\n"
     "t.yaml:7:5: error: cluster #1: missing key \"name\"\n"},
    {"cluster missing endpoints",
     LISTENER "clusters:\n"
	      "  - name: demo\n",
     "t.yaml:7:5: error: cluster \"demo\": missing key \"endpoints\"\n"},
    {"cluster empty endpoints",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: []\n",
     "t.yaml:8:16: error: cluster \"demo\": \"endpoints\" must not be empty\n"},
    {"endpoints not a list",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: 127.0.0.1:9001\n",
     "t.yaml:8:16: error: \"endpoints\": expected a list\n"},
    {"endpoint wrong type",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [[127.0.0.1, 9001], ~]\n",
     "t.yaml:8:17: error: \"endpoints\": expected \"HOST:PORT\" or a mapping "
     "with "
     "\"address\" and \"weight\", or \"srv\"\n"
     "t.yaml:8:36: error: \"endpoints\": expected \"HOST:PORT\" or a mapping "
     "with \"address\" and \"weight\", or \"srv\"\n"},
    {"endpoint missing address",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [{weight: 2}]\n",
     "t.yaml:8:17: error: cluster \"demo\": endpoint: missing key "
     "\"address\" (or \"srv\")\n"},
    {"pool not a mapping",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001]\n"
	      "    pool: 10\n",
     "t.yaml:9:11: error: \"pool\": expected a mapping\n"},
    {"admin missing address", "admin: {}\n" LISTENER CLUSTER,
     "t.yaml:1:8: error: admin: missing key \"address\"\n"},
    {"admin not a mapping", "admin: 127.0.0.1:9901\n" LISTENER CLUSTER,
     "t.yaml:1:8: error: \"admin\": expected a mapping\n"},
    /* references and uniqueness */
    {"unknown cluster",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        cluster: billing\n" CLUSTER,
     "t.yaml:6:18: error: route \"api\": unknown cluster \"billing\"\n"},
    {"unknown cluster without clusters",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n",
     "t.yaml:4:24: error: route \"route-1\": unknown cluster \"demo\"\n"},
    {"unknown cluster misspelt",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - {name: a, cluster: payment}\n"
     "      - {name: b, cluster: pay-v3}\n"
     "      - {name: c, cluster: Demo}\n"
     "      - {name: d, cluster: x}\n"
     "clusters:\n"
     "  - {name: payments, endpoints: [127.0.0.1:9001]}\n"
     "  - {name: pay-v1, endpoints: [127.0.0.1:9002]}\n"
     "  - {name: pay-v2, endpoints: [127.0.0.1:9003]}\n"
     "  - {name: demo, endpoints: [127.0.0.1:9004]}\n"
     "  - {name: y, endpoints: [127.0.0.1:9005]}\n",
     "t.yaml:5:28: error: route \"a\": unknown cluster \"payment\" (did you "
     "mean \"payments\"?)\n"
     "t.yaml:6:28: error: route \"b\": unknown cluster \"pay-v3\" (did you "
     "mean \"pay-v1\"?)\n"
     "t.yaml:7:28: error: route \"c\": unknown cluster \"Demo\" (did you "
     "mean \"demo\"?)\n"
     "t.yaml:8:28: error: route \"d\": unknown cluster \"x\"\n"},
    {"duplicate listener name",
     LISTENER "  - name: public\n"
	      "    address: 127.0.0.1:8081\n"
	      "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:6:11: error: duplicate listener name \"public\" (first at "
     "2:11)\n"},
    {"duplicate cluster name",
     LISTENER CLUSTER "  - name: demo\n"
		      "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:9:11: error: duplicate cluster name \"demo\" (first at 7:11)\n"},
    {"duplicate listener address",
     LISTENER "  - name: internal\n"
	      "    address: 127.0.0.1:8080\n"
	      "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:7:14: error: listener \"internal\": address 127.0.0.1:8080 is "
     "already "
     "used by listener \"public\"\n"},
    {"duplicate listener address v6",
     "listeners:\n"
     "  - {name: a, address: \"[::1]:80\", routes: [{cluster: demo}]}\n"
     "  - {name: b, address: \"[0::1]:80\", routes: [{cluster: "
     "demo}]}\n" CLUSTER,
     "t.yaml:3:24: error: listener \"b\": address [0::1]:80 is already used by "
     "listener \"a\"\n"},
    {"overlapping listener address",
     LISTENER "  - name: any\n"
	      "    address: 0.0.0.0:8080\n"
	      "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:7:14: error: listener \"any\": address 0.0.0.0:8080 overlaps "
     "127.0.0.1:8080 of listener \"public\"\n"},
    {"admin address conflict",
     "admin: {address: \"0.0.0.0:8080\"}\n" LISTENER CLUSTER,
     "t.yaml:1:18: error: \"admin\": address 0.0.0.0:8080 conflicts with "
     "127.0.0.1:8080 of listener \"public\"\n"},
    {"duplicate endpoint",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:9001, localhost:9001]\n",
     "t.yaml:8:33: error: cluster \"demo\": duplicate endpoint localhost:9001 "
     "(first at 8:17; use \"weight\" instead)\n"},
    /* addresses */
    {"address missing port",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \"127.0.0.1\": missing "
     "\":PORT\"\n"},
    {"address port zero",
     "listeners:\n"
     "  - name: public\n"
     "    address: 0.0.0.0:0\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \"0.0.0.0:0\": the port "
     "must be a number from 1 to 65535\n"},
    {"address port too large",
     "listeners:\n"
     "  - name: public\n"
     "    address: 0.0.0.0:65536\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \"0.0.0.0:65536\": the "
     "port "
     "must be a number from 1 to 65535\n"},
    {"address neither IP nor name",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [db..internal:5432, \"d b:1\", 1.2.3.4.5:80]\n",
     "t.yaml:8:17: error: cluster \"demo\": endpoint db..internal:5432: "
     "the host is neither an IP address nor a DNS name (labels of letters, "
     "digits, \"-\" and \"_\")\n"
     "t.yaml:8:36: error: cluster \"demo\": endpoint d b:1: the host is "
     "neither an IP address nor a DNS name (labels of letters, digits, \"-\" "
     "and \"_\")\n"
     "t.yaml:8:45: error: cluster \"demo\": endpoint 1.2.3.4.5:80: the "
     "host is neither an IP address nor a DNS name (labels of letters, "
     "digits, \"-\" and \"_\")\n"},
    {"endpoint name without a port",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [db.internal, \"db:70000\"]\n",
     "t.yaml:8:17: error: \"address\": invalid address \"db.internal\": "
     "missing \":PORT\"\n"
     "t.yaml:8:30: error: \"address\": invalid address \"db:70000\": the "
     "port must be a number from 1 to 65535\n"},
    {"endpoint srv errors",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints:\n"
	      "      - { srv: _x._tcp.db, weight: 2 }\n"
	      "      - { srv: _x._tcp.db, address: db:1 }\n"
	      "      - { srv: \"bad name\" }\n"
	      "      - { srv: _X._tcp.DB. }\n"
	      "      - db:80\n"
	      "      - DB.:80\n"
	      "    dns: { min_ttl: 10m, max_ttl: 1m, family: ipv5 }\n",
     "t.yaml:9:36: error: cluster \"demo\": endpoint: an \"srv\" name's "
     "weights come from its records (no \"weight\")\n"
     "t.yaml:10:16: error: cluster \"demo\": endpoint: \"address\" and "
     "\"srv\" are mutually exclusive\n"
     "t.yaml:11:16: error: cluster \"demo\": \"srv\": \"bad name\" is not "
     "a DNS name (such as _http._tcp.pay.example.com)\n"
     "t.yaml:12:16: error: cluster \"demo\": duplicate endpoint "
     "_X._tcp.DB. (first at 9:16)\n"
     "t.yaml:14:9: error: cluster \"demo\": duplicate endpoint DB.:80 "
     "(first at 13:9)\n"
     "t.yaml:15:10: error: cluster \"demo\": dns: \"min_ttl\" (600000 ms) "
     "must not be longer than \"max_ttl\" (60000 ms)\n"
     "t.yaml:15:47: error: \"family\": expected any, ipv4 or ipv6\n"},
    {"dns without names",
     LISTENER "clusters:\n"
	      "  - name: demo\n"
	      "    endpoints: [127.0.0.1:1]\n"
	      "    dns: { family: ipv4 }\n",
     "t.yaml:9:5: error: cluster \"demo\": \"dns\" needs an endpoint given "
     "by name (\"NAME:PORT\" or \"srv\")\n"},
    {"resolver and watch errors",
     "resolver: { nameservers: [], timeout: 0ms, attempts: 11 }\n"
     "watch: yes please\nwatch_debounce: 10ms\n" LISTENER CLUSTER,
     "t.yaml:1:26: error: \"nameservers\": must not be empty (leave it "
     "out for /etc/resolv.conf's)\n"
     "t.yaml:1:39: error: \"timeout\": 0ms is out of range "
     "(100ms..1m)\n"
     "t.yaml:1:54: error: \"attempts\": 11 is out of range (1..10)\n"
     "t.yaml:2:8: error: \"watch\": expected true or false\n"
     "t.yaml:3:17: error: \"watch_debounce\": 10ms is out of range "
     "(50ms..1m)\n"},
    {"resolver bad nameserver",
     "resolver: { nameservers: [dns.example] }\n" LISTENER CLUSTER,
     "t.yaml:1:27: error: \"nameservers\": invalid address "
     "\"dns.example\": missing \":PORT\"\n"},
    {"guard errors",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - { name: a, cluster: demo, guard: {} }\n"
     "      - name: b\n"
     "        split: [{ cluster: demo, weight: 1 }]\n"
     "        guard: { stable: nope, window: 1s, margin: 200%, "
     "percentile: 100 }\n" CLUSTER,
     "t.yaml:5:35: error: route \"a\": \"guard\" needs \"split\" (it judges "
     "a split's clusters against its stable one)\n"
     "t.yaml:8:9: error: route \"b\": \"guard\" needs a split of two "
     "clusters or more\n"
     "t.yaml:8:26: error: route \"b\": guard: \"stable\": \"nope\" is not "
     "a cluster of the route's split\n"
     "t.yaml:8:40: error: route \"b\": \"window\": 1s is out of range "
     "(10s..1h)\n"
     "t.yaml:8:52: error: route \"b\": \"margin\": 200% is out of range "
     "(0%..100%)\n"
     "t.yaml:8:70: error: route \"b\": \"percentile\": 100 is out of range "
     "(50..99)\n"},
    {"address IPv6 without brackets",
     "listeners:\n"
     "  - name: public\n"
     "    address: \"::1:8080\"\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \"::1:8080\": write "
     "IPv6 "
     "addresses as [ADDRESS]:PORT\n"},
    {"address bad IPv6",
     "listeners:\n"
     "  - name: public\n"
     "    address: \"[::g]:8080\"\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \"[::g]:8080\": invalid "
     "IPv6 address\n"},
    {"address unclosed bracket",
     "listeners:\n"
     "  - name: public\n"
     "    address: \"[::1:8080\"\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \"[::1:8080\": missing "
     "\"]\" after the IPv6 address\n"},
    {"address empty host",
     "listeners:\n"
     "  - name: public\n"
     "    address: \":8080\"\n"
     "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:3:14: error: \"address\": invalid address \":8080\": missing "
     "host\n"},
    {"address not a string",
     "admin: {address: [127.0.0.1, 9901]}\n" LISTENER CLUSTER,
     "t.yaml:1:18: error: \"address\": expected an address \"HOST:PORT\"\n"},
    /* match */
    {"path and path_prefix",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        match: {path_prefix: /api/, path: /api}\n"
     "        cluster: demo\n" CLUSTER,
     "t.yaml:6:37: error: route \"api\": \"path\" and \"path_prefix\" are "
     "mutually exclusive\n"},
    {"path relative",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {path: api}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"path\": \"api\" must start with "
     "\"/\"\n"},
    {"path with query",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {path_prefix: \"/a?b\"}}]\n" CLUSTER,
     "t.yaml:4:51: error: route \"route-1\": \"path_prefix\": invalid "
     "character in \"/a?b\" (no "
     "spaces, controls, \"?\" or \"#\")\n"},
    {"path with space",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {path: \"/a b\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"path\": invalid character in "
     "\"/a b\" (no spaces, "
     "controls, \"?\" or \"#\")\n"},
    {"methods invalid",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {methods: [GET, \"PO ST\", "
     "\"\"]}}]\n" CLUSTER,
     "t.yaml:4:53: error: route \"route-1\": \"methods\": invalid method \"PO "
     "ST\"\n"
     "t.yaml:4:62: error: route \"route-1\": \"methods\": invalid method "
     "\"\"\n"},
    {"methods empty",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {methods: []}}]\n" CLUSTER,
     "t.yaml:4:47: error: route \"route-1\": \"methods\": must not be empty\n"},
    {"methods not a list",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {methods: GET}}]\n" CLUSTER,
     "t.yaml:4:47: error: route \"route-1\": \"methods\": expected a list\n"},
    {"methods item not a string",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {methods: [[GET]]}}]\n" CLUSTER,
     "t.yaml:4:48: error: route \"route-1\": \"methods\": expected a method "
     "name\n"},
    {"host inner wildcard",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: "
     "api.*.example.com}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": invalid host pattern "
     "\"api.*.example.com\" "
     "(expected a name or *.suffix)\n"},
    {"host star only",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: \"*\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": invalid host pattern "
     "\"*\" (expected a "
     "name "
     "or *.suffix)\n"},
    {"host star without dot",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: \"*example.com\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": invalid host pattern "
     "\"*example.com\" "
     "(expected a name or *.suffix)\n"},
    {"host empty label",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: a..example.com}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": invalid host pattern "
     "\"a..example.com\" "
     "(expected a name or *.suffix)\n"},
    {"host leading dot",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: .example.com}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": invalid host pattern "
     "\".example.com\" "
     "(expected a name or *.suffix)\n"},
    {"host empty",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: \"\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": invalid host pattern "
     "\"\" (expected a name "
     "or *.suffix)\n"},
    {"host with port",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: "
     "\"pay.example.com:443\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": \"pay.example.com:443\" "
     "must not contain a "
     "port\n"},
    {"host wildcard with port",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: "
     "\"*.example.com:80\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": \"*.example.com:80\" "
     "must not contain a "
     "port\n"},
    {"host IPv6 with port",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {host: \"[::1]:80\"}}]\n" CLUSTER,
     "t.yaml:4:44: error: route \"route-1\": \"host\": \"[::1]:80\" must not "
     "contain a port\n"},
    {"headers bad name",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {headers: {\"X Y\": a}}}]\n" CLUSTER,
     "t.yaml:4:48: error: route \"route-1\": \"headers\": invalid header name "
     "\"X Y\"\n"},
    {"headers value not a string",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {headers: {X-A: [1], X-B: "
     "}}}]\n" CLUSTER,
     "t.yaml:4:53: error: route \"route-1\": \"headers\": the value of \"X-A\" "
     "must be a string\n"
     "t.yaml:4:63: error: route \"route-1\": \"headers\": the value of \"X-B\" "
     "must be a "
     "string\n"},
    {"headers value blanks",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {headers: {X-A: \" "
     "on\"}}}]\n" CLUSTER,
     "t.yaml:4:53: error: route \"route-1\": \"headers\": invalid value \" "
     "on\" for \"X-A\" (no "
     "control characters, no leading or trailing blanks)\n"},
    {"headers value control",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {headers: {X-A: "
     "\"a\\rb\"}}}]\n" CLUSTER,
     "t.yaml:4:53: error: route \"route-1\": \"headers\": invalid value "
     "\"a\\x0db\" for \"X-A\" "
     "(no "
     "control characters, no leading or trailing blanks)\n"},
    /* two routes of a listener named alike: /metrics would have their
     * series twice, with the same labels */
    {"route names twice",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - {name: api, cluster: demo}\n"
     "      - {cluster: demo}\n"
     "      - {name: api, cluster: demo}\n"
     "      - {name: route-2, cluster: demo}\n"
     "      - {name: route-6, cluster: demo}\n"
     "      - {cluster: demo}\n"
     "  - name: other\n"
     "    address: 127.0.0.1:8081\n"
     "    routes: [{name: api, cluster: demo}]\n" CLUSTER,
     "t.yaml:7:16: error: listener \"public\": duplicate route name "
     "\"api\" (first at 5:16)\n"
     "t.yaml:8:16: error: listener \"public\": duplicate route name "
     "\"route-2\" (the default name of route 2, at 6:9)\n"
     "t.yaml:10:9: error: listener \"public\": route 6 has no \"name\", "
     "and its default \"route-6\" is the name of the route at 9:16 "
     "(give it a name)\n"},
    /* a credential's value is never quoted: starred, its length and
     * its flaw said (doc/sluice.yaml.5, secret_headers) */
    {"credentials in header values",
     "secret_headers: [X-Partner-Key]\n"
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - cluster: demo\n"
     "        match: {headers: {Cookie: \"sid=abc \"}}\n"
     "        request_headers:\n"
     "          set: {Authorization: \"Bearer abc \", X-Partner-Key: "
     "\"k\\x01\", X-Api-Key: \"a${b}\"}\n" CLUSTER,
     "t.yaml:7:35: error: route \"route-1\": \"headers\": invalid value "
     "\"********\" for \"Cookie\" (a credential's value, 8 bytes, shown "
     "starred): a blank at its end (no control characters, no leading or "
     "trailing blanks)\n"
     "t.yaml:9:32: error: route \"route-1\": \"request_headers\": invalid "
     "value \"***********\" for \"Authorization\" (a credential's value, "
     "11 bytes, shown starred): a blank at its end (no control "
     "characters, no leading or trailing blanks)\n"
     "t.yaml:9:62: error: route \"route-1\": \"request_headers\": invalid "
     "value \"**\" for \"X-Partner-Key\" (a credential's value, 2 bytes, "
     "shown starred): a control character at byte 2 (no control "
     "characters, no leading or trailing blanks)\n"
     "t.yaml:9:82: error: route \"route-1\": \"request_headers\": unknown "
     "variable at byte 2 of the value of \"X-Api-Key\" (a credential's "
     "value, not shown; known: client_ip, request_id, route, cluster, "
     "tls_version, tls_client_subject)\n"},
    {"secret_headers names",
     "secret_headers: [X-A, \"X B\", {a: b}]\n" LISTENER CLUSTER,
     "t.yaml:1:23: error: \"secret_headers\": invalid header name \"X "
     "B\"\n"
     "t.yaml:1:30: error: \"secret_headers\": expected a header name\n"},
    /* the rest of a line after its key may be a credential: only the
     * key is quoted */
    {"yaml missing colon before a value",
     "log:\n  Authorization Bearer tok123\n  access: stdout\n",
     "t.yaml:2:3: error: missing \":\" after \"Authorization\" (YAML "
     "reads this line and line 3 as one value)" STOPPED_AT("3:9")},
    {"headers duplicate",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {headers: {X-A: a, x-a: "
     "b}}}]\n" CLUSTER,
     "t.yaml:4:56: error: route \"route-1\": \"headers\": duplicate header "
     "\"x-a\"\n"},
    {"headers not a mapping",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, match: {headers: [X-A]}}]\n" CLUSTER,
     "t.yaml:4:47: error: route \"route-1\": \"headers\": expected a "
     "mapping\n"},
    /* weighted routes */
    {"split unknown cluster",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split:\n"
     "          - { cluster: pay-v1, weight: 90 }\n"
     "          - { cluster: pay-v3, weight: 10 }\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:8:24: error: route \"migrate\": unknown cluster \"pay-v3\" "
     "(did you mean \"pay-v1\"?)\n"},
    {"split all weights 0",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split:\n"
     "          - { cluster: pay-v1, weight: 0 }\n"
     "          - { cluster: pay-v2, weight: 0 }\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:6:9: error: route \"migrate\": every weight of the split is 0 "
     "(at least one must get traffic)\n"},
    {"split weight range",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split: [{ cluster: pay-v1, weight: 10001 }]\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:6:44: error: route \"migrate\": \"weight\": 10001 is out of range "
     "(0..10000)\n"},
    {"split twice",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split: [{ cluster: pay-v1, weight: 1 }, { cluster: pay-v1, "
     "weight: 2 }]\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:6:60: error: route \"migrate\": cluster \"pay-v1\" is in the "
     "split twice\n"},
    {"split item keys",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split: [{ cluster: pay-v1 }, 7]\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:6:17: error: route \"migrate\": split: missing key "
     "\"weight\"\n"
     "t.yaml:6:38: error: route \"migrate\": each \"split\" item is a "
     "mapping { cluster: NAME, weight: N }\n"},
    {"sticky without split",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        cluster: demo\n"
     "        sticky: header:X-User-Id\n" CLUSTER,
     "t.yaml:7:9: error: route \"api\": \"sticky\" needs \"split\" (it "
     "keeps a user on one cluster of it)\n"},
    {"sticky bad form",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split: [{ cluster: pay-v1, weight: 1 }]\n"
     "        sticky: user_id\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:7:17: error: route \"migrate\": \"sticky\": expected header:NAME, "
     "cookie:NAME or "
     "client_ip, not \"user_id\"\n"},
    {"sticky bad name",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split: [{ cluster: pay-v1, weight: 1 }]\n"
     "        sticky: \"cookie:a b\"\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:7:17: error: route \"migrate\": \"sticky\": \"a b\" is not a "
     "valid cookie "
     "name\n"},
    {"cluster and split",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        cluster: demo\n"
     "        split: [{ cluster: demo, weight: 1 }]\n" CLUSTER,
     "t.yaml:7:9: error: route \"migrate\": \"cluster\" and \"split\" are "
     "mutually exclusive\n"},
    {"mirror to itself",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        cluster: demo\n"
     "        mirror: { cluster: demo }\n" CLUSTER,
     "t.yaml:7:28: error: route \"api\": \"mirror\" to \"demo\", the "
     "route's own cluster\n"},
    {"mirror to a split's cluster",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: migrate\n"
     "        split: [{ cluster: pay-v1, weight: 1 }, { cluster: pay-v2, "
     "weight: 1 }]\n"
     "        mirror: { cluster: pay-v2, percent: 5 }\n"
     "clusters:\n"
     "  - name: pay-v1\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "  - name: pay-v2\n"
     "    endpoints: [127.0.0.1:9002]\n",
     "t.yaml:7:28: error: route \"migrate\": \"mirror\" to \"pay-v2\", a "
     "cluster of the route's split\n"},
    {"mirror keys",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        cluster: demo\n"
     "        mirror: { percent: 101, to: x }\n" CLUSTER,
     "t.yaml:7:17: error: route \"api\": mirror: missing key \"cluster\"\n"
     "t.yaml:7:28: error: route \"api\": \"percent\": 101 is out of range "
     "(0..100)\n"
     "t.yaml:7:33: error: route \"api\": unknown key \"to\" in mirror\n"},
    {"expose header reserved",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        cluster: demo\n"
     "        expose_cluster_header: Content-Length\n" CLUSTER,
     "t.yaml:7:32: error: route \"api\": \"expose_cluster_header\": "
     "\"Content-Length\" is a field sluice controls\n"},
    {"hash_key without hash",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo}]\n"
     "clusters:\n"
     "  - name: demo\n"
     "    endpoints: [127.0.0.1:9001]\n"
     "    hash_key: client_ip\n",
     "t.yaml:8:5: error: cluster \"demo\": \"hash_key\" needs \"balance: "
     "hash\"\n"},
    /* one mistake does not hide the others beside it */
    {"cluster and split, each checked",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - name: api\n"
     "        cluster: dmo\n"
     "        split: [{cluster: demo, weight: 99.5}, {cluster: demo, "
     "weight: 1}]\n" CLUSTER,
     "t.yaml:6:18: error: route \"api\": unknown cluster \"dmo\" (did you "
     "mean \"demo\"?)\n"
     "t.yaml:7:9: error: route \"api\": \"cluster\" and \"split\" are "
     "mutually exclusive\n"
     "t.yaml:7:41: error: route \"api\": \"weight\": expected an integer "
     "(0..10000)\n"
     "t.yaml:7:58: error: route \"api\": cluster \"demo\" is in the split "
     "twice\n"},
    {"path and path_prefix, each checked",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes:\n"
     "      - match: { path_prefix: v1, path: /a#b }\n"
     "        cluster: demo\n" CLUSTER,
     "t.yaml:5:31: error: route \"route-1\": \"path_prefix\": \"v1\" must "
     "start with \"/\"\n"
     "t.yaml:5:35: error: route \"route-1\": \"path\" and \"path_prefix\" "
     "are mutually exclusive\n"
     "t.yaml:5:41: error: route \"route-1\": \"path\": invalid character in "
     "\"/a#b\" (no "
     "spaces, controls, \"?\" or \"#\")\n"},
    {"sticky without split, value checked",
     "listeners:\n"
     "  - name: public\n"
     "    address: 127.0.0.1:8080\n"
     "    routes: [{cluster: demo, sticky: ip}]\n" CLUSTER,
     "t.yaml:4:30: error: route \"route-1\": \"sticky\" needs \"split\" "
     "(it keeps a user on one cluster of it)\n"
     "t.yaml:4:38: error: route \"route-1\": \"sticky\": expected header:NAME, "
     "cookie:NAME or "
     "client_ip, not \"ip\"\n"},
    {"hash_key beside a wrong balance",
     LISTENER CLUSTER "    balance: hsh\n"
		      "    hash_key: client_ip\n",
     "t.yaml:9:14: error: \"balance\": expected round_robin, least_request "
     "or hash\n"},
    {"tls: certificates and the rest",
     LISTENER "    tls: { min_version: TLSv1, certificates: [{cert: a}] }\n"
	      "  - name: other\n"
	      "    address: 127.0.0.1:8081\n"
	      "    tls: { min_version: TLSv1 }\n"
	      "    routes: [{cluster: demo}]\n" CLUSTER,
     "t.yaml:6:25: error: \"min_version\": expected TLSv1.2 or TLSv1.3\n"
     "t.yaml:6:47: error: listener \"public\": certificate #1: missing "
     "key \"key\"\n"
     "t.yaml:9:10: error: listener \"other\": tls: missing key "
     "\"certificates\" (or \"acme\")\n"
     "t.yaml:9:25: error: \"min_version\": expected TLSv1.2 or TLSv1.3\n"},
};

static void
test_error_case(void **state)
{
	const struct error_case *ec = *state;

	load_bad(ec->yaml, strlen(ec->yaml), ec->want);
}

/* Anchors and aliases on scalars, lists and mappings; merge keys. */
static void
test_anchors(void **state)
{
	struct sl_conf *c =
	    load_ok("workers: &n 2\n"
		    "listeners:\n"
		    "  - name: plain\n"
		    "    address: 127.0.0.1:8080\n"
		    "    limits: &lim { max_headers: *n, idle_timeout: 5s }\n"
		    "    routes: &routes\n"
		    "      - name: api\n"
		    "        match: { methods: &m [GET, HEAD] }\n"
		    "        cluster: &api api\n"
		    "      - { cluster: web, match: { methods: *m } }\n"
		    "  - name: tls\n"
		    "    address: 127.0.0.1:8443\n"
		    "    limits: { <<: *lim, idle_timeout: 9s }\n"
		    "    routes: *routes\n"
		    "clusters:\n"
		    "  - &base\n"
		    "    name: *api\n"
		    "    endpoints: [127.0.0.1:9001]\n"
		    "    connect_timeout: 2s\n"
		    "    pool: &pool { max_idle: 7, idle_timeout: 3s }\n"
		    "  - <<: *base\n"
		    "    name: web\n"
		    "    endpoints: [127.0.0.1:9002]\n"
		    "  - <<: [{ pool: { max_idle: 1 } }, *base]\n"
		    "    name: third\n");
	const struct sl_conf_listener *a = &c->listeners[0], *b;
	size_t i;

	(void)state;
	b = &c->listeners[1];
	assert_int_equal(c->workers, 2);
	assert_int_equal(a->limits.max_headers, 2);
	assert_int_equal(a->limits.idle_timeout_ms, 5000);
	/* a key written beside the merge wins */
	assert_int_equal(b->limits.max_headers, 2);
	assert_int_equal(b->limits.idle_timeout_ms, 9000);
	assert_int_equal(a->nroutes, 2);
	assert_int_equal(b->nroutes, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(a->routes[i].name, b->routes[i].name);
		assert_ptr_equal(a->routes[i].cluster, b->routes[i].cluster);
		assert_int_equal(a->routes[i].nmethods, 2);
		assert_int_equal(b->routes[i].nmethods, 2);
		assert_string_equal(b->routes[i].methods[1], "HEAD");
	}
	assert_string_equal(b->routes[0].cluster->name, "api");
	assert_string_equal(b->routes[1].cluster->name, "web");
	assert_int_equal(c->nclusters, 3);
	assert_string_equal(c->clusters[0].name, "api");
	assert_string_equal(c->clusters[1].name, "web");
	assert_string_equal(c->clusters[1].endpoints[0].addr.text,
			    "127.0.0.1:9002");
	assert_int_equal(c->clusters[1].connect_timeout_ms, 2000);
	assert_int_equal(c->clusters[1].pool_max_idle, 7);
	/* of two merged mappings, the first wins; the rest still comes */
	assert_string_equal(c->clusters[2].name, "third");
	assert_int_equal(c->clusters[2].pool_max_idle, 1);
	assert_int_equal(c->clusters[2].pool_idle_timeout_ms, 30000);
	assert_int_equal(c->clusters[2].connect_timeout_ms, 2000);
	assert_string_equal(c->clusters[2].endpoints[0].addr.text,
			    "127.0.0.1:9001");
	sl_conf_unref(c);

	/* An anchor on a merged mapping still names it whole afterwards. */
	c = load_ok(LISTENER
		    "clusters:\n"
		    "  - name: demo\n"
		    "    endpoints: [127.0.0.1:9001]\n"
		    "    <<: &p { connect_timeout: 3s, max_pending: 4 }\n"
		    "    connect_timeout: 1s\n"
		    "  - name: two\n"
		    "    endpoints: [127.0.0.1:9002]\n"
		    "    <<: *p\n");
	assert_int_equal(c->clusters[0].connect_timeout_ms, 1000);
	assert_int_equal(c->clusters[0].max_pending, 4);
	assert_int_equal(c->clusters[1].connect_timeout_ms, 3000);
	assert_int_equal(c->clusters[1].max_pending, 4);
	sl_conf_unref(c);
}

/* Nodes in the tree under n, n too. */
static size_t
tree_nodes(const struct sl_yaml_node *n)
{
	size_t i, k = 1;

	for (i = 0; i < n->nkids; i++)
		k += tree_nodes(n->kids[i]);
	return k;
}

/*
 * A billion laughs: nine aliases a level, nine levels, would be 9^9 nodes.
 * The expansion stops at the bound, so the tree stays small, and the
 * error names the alias that crossed it.
 */
static void
test_alias_bomb(void **state)
{
	static const char yaml[] =
	    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	struct sl_yaml_loader ld;
	struct sl_yaml_node *root;
	char *errs;
	int fatal;

	(void)state;
	sl_yaml_loader_init(&ld, "t.yaml", yaml, strlen(yaml));
	root = sl_yaml_parse(&ld, &fatal);
	assert_false(fatal);
	assert_non_null(root);
	assert_true(tree_nodes(root) <= 200 + SL_YAML_MAX_ALIAS_NODES);
	sl_yaml_node_free(root);
	errs = sl_yaml_errors_finish(&ld);
	assert_non_null(errs);
	assert_string_equal(errs,
			    "t.yaml:6:8: error: alias *e expands to more than "
			    "100000 nodes (it adds 66430 to the 74718 the "
			    "aliases before it added); 8 more aliases were "
			    "refused for the same reason\n");
	free(errs);

	/* The same through the whole loader: refused, not expanded. */
	load_bad(yaml, strlen(yaml),
		 "t.yaml:1:1: error: unknown key \"a\" at the top level\n"
		 "t.yaml:1:1: error: missing key \"listeners\"\n"
		 "t.yaml:2:1: error: unknown key \"b\" at the top level\n"
		 "t.yaml:3:1: error: unknown key \"c\" at the top level\n"
		 "t.yaml:4:1: error: unknown key \"d\" at the top level\n"
		 "t.yaml:5:1: error: unknown key \"e\" at the top level\n"
		 "t.yaml:6:1: error: unknown key \"f\" at the top level\n"
		 "t.yaml:6:8: error: alias *e expands to more than 100000 "
		 "nodes (it adds 66430 to the 74718 the aliases before it "
		 "added); 8 more aliases were refused for the same reason\n"
		 "t.yaml:7:1: error: unknown key \"g\" at the top level\n"
		 "t.yaml:8:1: error: unknown key \"h\" at the top level\n"
		 "t.yaml:9:1: error: unknown key \"i\" at the top level\n");
}

/* split, sticky, mirror, expose_cluster_header, hash_key */
static void
test_weighted_routes(void **state)
{
	struct sl_conf *c =
	    load_ok("listeners:\n"
		    "  - name: public\n"
		    "    address: 127.0.0.1:8080\n"
		    "    routes:\n"
		    "      - name: migrate\n"
		    "        split:\n"
		    "          - { cluster: pay-v1, weight: 90 }\n"
		    "          - { cluster: pay-v2, weight: 10 }\n"
		    "          - { cluster: pay-v3, weight: 0 }\n"
		    "        sticky: header:X-User-Id\n"
		    "        mirror: { cluster: shadow, percent: 5 }\n"
		    "        expose_cluster_header: X-Served-By\n"
		    "      - name: cookie\n"
		    "        split: [{ cluster: pay-v1, weight: 1 }]\n"
		    "        sticky: cookie:Sess\n"
		    "      - name: ip\n"
		    "        split: [{ cluster: pay-v2, weight: 1 }]\n"
		    "        sticky: client_ip\n"
		    "  - name: second\n"
		    "    address: 127.0.0.1:8081\n"
		    "    routes:\n"
		    "      - cluster: shadow\n"
		    "        mirror: { cluster: pay-v1 }\n"
		    "clusters:\n"
		    "  - name: pay-v1\n"
		    "    endpoints: [127.0.0.1:9001]\n"
		    "  - name: pay-v2\n"
		    "    endpoints: [127.0.0.1:9002, 127.0.0.1:9003]\n"
		    "    balance: hash\n"
		    "    hash_key: cookie:cart\n"
		    "  - name: pay-v3\n"
		    "    endpoints: [127.0.0.1:9004]\n"
		    "    balance: hash\n"
		    "  - name: shadow\n"
		    "    endpoints: [127.0.0.1:9005]\n");
	const struct sl_conf_route *r;

	(void)state;
	assert_int_equal(c->nroutes, 4);
	r = &c->listeners[0].routes[0];
	assert_int_equal(r->index, 0);
	assert_null(r->cluster);
	assert_int_equal(r->nsplit, 3);
	assert_string_equal(r->split[1].cluster->name, "pay-v2");
	assert_int_equal(r->split_weights[0], 90);
	assert_int_equal(r->split_weights[2], 0);
	assert_true(r->split_ids[1] == sl_hash64("pay-v2", 6));
	assert_int_equal(r->sticky.source, SL_KEY_HEADER);
	assert_string_equal(r->sticky.name, "x-user-id"); /* lower-cased */
	assert_string_equal(sl_mirror_route(r)->cluster->name, "shadow");
	assert_int_equal(sl_mirror_route(r)->percent, 5);
	assert_string_equal(r->expose_cluster_header, "X-Served-By");
	r = &c->listeners[0].routes[1];
	assert_int_equal(r->sticky.source, SL_KEY_COOKIE);
	assert_string_equal(r->sticky.name, "Sess"); /* exact */
	assert_int_equal(r->sticky.name_len, 4);
	assert_int_equal(c->listeners[0].routes[2].sticky.source,
			 SL_KEY_CLIENT_IP);
	r = &c->listeners[1].routes[0];
	assert_int_equal(r->index, 3);
	assert_int_equal(sl_mirror_route(r)->percent, 100); /* the default */
	assert_int_equal(r->sticky.source, SL_KEY_NONE);
	assert_int_equal(c->clusters[0].hash_key.source, SL_KEY_CLIENT_IP);
	assert_int_equal(c->clusters[1].hash_key.source, SL_KEY_COOKIE);
	assert_string_equal(c->clusters[1].hash_key.name, "cart");
	assert_int_equal(c->clusters[2].hash_key.source, SL_KEY_CLIENT_IP);
	assert_true(c->clusters[1].endpoints[1].id ==
		    sl_hash64("127.0.0.1:9003", 14));
	sl_conf_unref(c);
}

/* ---- retry, health_check, outlier ---------------------------------------- */

/* Loads yaml that must be rejected with exactly the error lines want. */
static void
load_err(const char *yaml, const char *want)
{
	load_bad(yaml, strlen(yaml), want);
}

static int
expect_has(const uint64_t expect[8], unsigned st)
{
	return (int)((expect[(st - 100) / 64] >> ((st - 100) % 64)) & 1);
}

/* Exactly the statuses in [lo1, hi1] and [lo2, hi2] are in expect. */
static void
assert_expect(const uint64_t expect[8], unsigned lo1, unsigned hi1,
	      unsigned lo2, unsigned hi2)
{
	for (unsigned st = 100; st <= 599; st++) {
		int want = (st >= lo1 && st <= hi1) || (st >= lo2 && st <= hi2);

		if (expect_has(expect, st) != want)
			fail_msg("expect_status %u: %d, want %d", st,
				 expect_has(expect, st), want);
	}
	/* the 12 bits past 599 stay clear */
	assert_true(expect[7] >> ((599 - 100) % 64 + 1) == 0);
}

#define RETRY_ROUTE                                                            \
	"listeners:\n"                                                         \
	"  - name: public\n"                                                   \
	"    address: 127.0.0.1:8080\n"                                        \
	"    routes:\n"                                                        \
	"      - cluster: demo\n"                                              \
	"        retry:\n"

static void
test_retry_conf(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_retry *rt;

	(void)state;
	c = load_ok(LISTENER CLUSTER);
	rt = &c->listeners[0].routes[0].retry;
	assert_int_equal(rt->attempts, 2);
	assert_int_equal(rt->on, SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET);
	assert_int_equal(rt->idempotency_key, 0);
	assert_true(rt->per_try_timeout_ms == 0);
	assert_int_equal(rt->budget_percent, 20);
	sl_conf_unref(c);

	/* retry: {} keeps the defaults */
	c = load_ok(LISTENER "        retry: {}\n" CLUSTER);
	rt = &c->listeners[0].routes[0].retry;
	assert_int_equal(rt->attempts, 2);
	assert_int_equal(rt->on, SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET);
	assert_int_equal(rt->budget_percent, 20);
	sl_conf_unref(c);

	c = load_ok(RETRY_ROUTE "          attempts: 3\n"
				"          on: [timeout, 503]\n"
				"          idempotency_key: true\n"
				"          per_try_timeout: 250ms\n"
				"          budget: 35%\n" CLUSTER);
	rt = &c->listeners[0].routes[0].retry;
	assert_int_equal(rt->attempts, 3);
	assert_int_equal(rt->on, SL_RETRY_ON_TIMEOUT | SL_RETRY_ON_503);
	assert_int_equal(rt->idempotency_key, 1);
	assert_true(rt->per_try_timeout_ms == 250);
	assert_int_equal(rt->budget_percent, 35);
	sl_conf_unref(c);

	/* every name of retry.on, and a bare integer budget */
	c = load_ok(RETRY_ROUTE
		    "          attempts: 10\n"
		    "          on: [connect-failure, reset, timeout, "
		    "502, 503, 504]\n"
		    "          idempotency_key: false\n"
		    "          per_try_timeout: 2s\n"
		    "          budget: 35\n" CLUSTER);
	rt = &c->listeners[0].routes[0].retry;
	assert_int_equal(rt->attempts, 10);
	assert_int_equal(rt->on, SL_RETRY_ON_CONNECT | SL_RETRY_ON_RESET |
				     SL_RETRY_ON_TIMEOUT | SL_RETRY_ON_502 |
				     SL_RETRY_ON_503 | SL_RETRY_ON_504);
	assert_int_equal(rt->idempotency_key, 0);
	assert_true(rt->per_try_timeout_ms == 2000);
	assert_int_equal(rt->budget_percent, 35);
	sl_conf_unref(c);

	/* the ends of the ranges; on: [] retries nothing */
	c = load_ok(RETRY_ROUTE "          attempts: 1\n"
				"          on: []\n"
				"          budget: 0%\n" CLUSTER);
	rt = &c->listeners[0].routes[0].retry;
	assert_int_equal(rt->attempts, 1);
	assert_int_equal(rt->on, 0);
	assert_int_equal(rt->budget_percent, 0);
	sl_conf_unref(c);
	c = load_ok(RETRY_ROUTE "          budget: 100%\n" CLUSTER);
	assert_int_equal(c->listeners[0].routes[0].retry.budget_percent, 100);
	sl_conf_unref(c);
}

static void
test_retry_conf_errors(void **state)
{
	(void)state;
	load_err(RETRY_ROUTE "          attempts: 0\n" CLUSTER,
		 "t.yaml:7:21: error: route \"route-1\": \"attempts\": 0 is "
		 "out of range (1..10)\n");
	load_err(RETRY_ROUTE "          attempts: 11\n" CLUSTER,
		 "t.yaml:7:21: error: route \"route-1\": \"attempts\": 11 is "
		 "out of range (1..10)\n");
	load_err(RETRY_ROUTE "          on: [bogus]\n" CLUSTER,
		 "t.yaml:7:16: error: route \"route-1\": \"on\": expected "
		 "connect-failure, reset, "
		 "timeout, 502, 503 or 504\n");
	load_err(RETRY_ROUTE "          on: [500]\n" CLUSTER,
		 "t.yaml:7:16: error: route \"route-1\": \"on\": expected "
		 "connect-failure, reset, "
		 "timeout, 502, 503 or 504\n");
	load_err(
	    RETRY_ROUTE "          on: timeout\n" CLUSTER,
	    "t.yaml:7:15: error: route \"route-1\": \"on\": expected a list\n");
	load_err(RETRY_ROUTE "          idempotency_key: yes\n" CLUSTER,
		 "t.yaml:7:28: error: route \"route-1\": \"idempotency_key\": "
		 "expected true or "
		 "false\n");
	load_err(RETRY_ROUTE "          per_try_timeout: 250\n" CLUSTER,
		 "t.yaml:7:28: error: route \"route-1\": \"per_try_timeout\": "
		 "duration \"250\" "
		 "needs a unit (ms, s, m or h)\n");
	load_err(RETRY_ROUTE "          budget: 101%\n" CLUSTER,
		 "t.yaml:7:19: error: route \"route-1\": \"budget\": 101% is "
		 "out of range "
		 "(0%..100%)\n");
	load_err(RETRY_ROUTE "          budget: 20 %\n" CLUSTER,
		 "t.yaml:7:19: error: route \"route-1\": \"budget\": expected "
		 "a percentage such "
		 "as \"20%\" (0%..100%)\n");
	load_err(RETRY_ROUTE "          budget: -1%\n" CLUSTER,
		 "t.yaml:7:19: error: route \"route-1\": \"budget\": expected "
		 "a percentage such "
		 "as \"20%\" (0%..100%)\n");
	load_err(RETRY_ROUTE "          tries: 3\n" CLUSTER,
		 "t.yaml:7:11: error: route \"route-1\": unknown key \"tries\" "
		 "in retry\n");
	load_err(LISTENER "        retry: 3\n" CLUSTER,
		 "t.yaml:6:16: error: route \"route-1\": \"retry\": expected a "
		 "mapping\n");
}

static void
test_health_conf(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_cluster *cl;

	(void)state;
	c = load_ok(LISTENER CLUSTER);
	cl = &c->clusters[0];
	assert_int_equal(cl->health.enabled, 0);
	assert_int_equal(cl->outlier.enabled, 0);
	sl_conf_unref(c);

	c = load_ok(LISTENER CLUSTER "    health_check: {}\n");
	cl = &c->clusters[0];
	assert_int_equal(cl->health.enabled, 1);
	assert_non_null(cl->health.path);
	assert_string_equal(cl->health.path, "/");
	assert_true(cl->health.interval_ms == 5000);
	assert_true(cl->health.timeout_ms == 1000);
	assert_int_equal(cl->health.healthy, 2);
	assert_int_equal(cl->health.unhealthy, 3);
	assert_expect(cl->health.expect, 200, 299, 200, 299);
	assert_int_equal(cl->outlier.enabled, 0);
	sl_conf_unref(c);

	c = load_ok(LISTENER CLUSTER "    health_check:\n"
				     "      path: /healthz?deep=1\n"
				     "      interval: 2s\n"
				     "      timeout: 500ms\n"
				     "      healthy: 1\n"
				     "      unhealthy: 7\n"
				     "      expect_status: [204, \"3xx\"]\n");
	cl = &c->clusters[0];
	assert_int_equal(cl->health.enabled, 1);
	assert_string_equal(cl->health.path, "/healthz?deep=1");
	assert_true(cl->health.interval_ms == 2000);
	assert_true(cl->health.timeout_ms == 500);
	assert_int_equal(cl->health.healthy, 1);
	assert_int_equal(cl->health.unhealthy, 7);
	assert_expect(cl->health.expect, 204, 204, 300, 399);
	sl_conf_unref(c);

	/* without a timeout, a short interval gets half of it */
	c = load_ok(LISTENER CLUSTER "    health_check:\n"
				     "      interval: 500ms\n");
	assert_true(c->clusters[0].health.timeout_ms == 250);
	sl_conf_unref(c);
	c = load_ok(LISTENER CLUSTER "    health_check:\n"
				     "      interval: 3s\n");
	assert_true(c->clusters[0].health.timeout_ms == 1000);
	sl_conf_unref(c);

	/* one status alone, the ends of the range, a class in upper case */
	c = load_ok(LISTENER CLUSTER "    health_check:\n"
				     "      expect_status: 418\n");
	assert_expect(c->clusters[0].health.expect, 418, 418, 418, 418);
	sl_conf_unref(c);
	c = load_ok(LISTENER CLUSTER "    health_check:\n"
				     "      expect_status: [100, 599]\n");
	assert_expect(c->clusters[0].health.expect, 100, 100, 599, 599);
	sl_conf_unref(c);
	c = load_ok(LISTENER CLUSTER "    health_check:\n"
				     "      expect_status: [1XX, 5xx]\n");
	assert_expect(c->clusters[0].health.expect, 100, 199, 500, 599);
	sl_conf_unref(c);
}

static void
test_health_conf_errors(void **state)
{
	(void)state;
	load_err(
	    LISTENER CLUSTER "    health_check:\n"
			     "      timeout: 5s\n",
	    "t.yaml:10:7: error: cluster \"demo\": health_check: \"timeout\" "
	    "(5000 ms) must be shorter than \"interval\" (5000 ms)\n");
	load_err(
	    LISTENER CLUSTER "    health_check:\n"
			     "      interval: 1s\n"
			     "      timeout: 2s\n",
	    "t.yaml:10:7: error: cluster \"demo\": health_check: \"timeout\" "
	    "(2000 ms) must be shorter than \"interval\" (1000 ms)\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      expect_status: 600\n",
		 "t.yaml:10:22: error: \"expect_status\": expected a status "
		 "from 100 to 599 or a class such as \"2xx\"\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      expect_status: [200, 99]\n",
		 "t.yaml:10:28: error: \"expect_status\": expected a status "
		 "from 100 to 599 or a class such as \"2xx\"\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      expect_status: [6xx]\n",
		 "t.yaml:10:23: error: \"expect_status\": expected a status "
		 "from 100 to 599 or a class such as \"2xx\"\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      expect_status: [2x0]\n",
		 "t.yaml:10:23: error: \"expect_status\": expected a status "
		 "from 100 to 599 or a class such as \"2xx\"\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      expect_status: []\n",
		 "t.yaml:10:22: error: \"expect_status\": must not be empty\n");
	load_err(
	    LISTENER CLUSTER "    health_check:\n"
			     "      healthy: 0\n",
	    "t.yaml:10:16: error: \"healthy\": 0 is out of range (1..100)\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      unhealthy: 101\n",
		 "t.yaml:10:18: error: \"unhealthy\": 101 is out of range "
		 "(1..100)\n");
	load_err(
	    LISTENER CLUSTER "    health_check:\n"
			     "      path: healthz\n",
	    "t.yaml:10:13: error: cluster \"demo\": \"path\": \"healthz\" must "
	    "start with \"/\" and hold no spaces, controls or \"#\"\n");
	load_err(
	    LISTENER CLUSTER "    health_check:\n"
			     "      path: \"/a b\"\n",
	    "t.yaml:10:13: error: cluster \"demo\": \"path\": \"/a b\" must "
	    "start with \"/\" and hold no spaces, controls or \"#\"\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      interval: 50ms\n"
				  "      timeout: 10ms\n",
		 "t.yaml:10:17: error: \"interval\": 50ms is out of range "
		 "(100ms..24h)\n");
	load_err(LISTENER CLUSTER "    health_check:\n"
				  "      port: 80\n",
		 "t.yaml:10:7: error: unknown key \"port\" in health_check\n");
	load_err(LISTENER CLUSTER "    health_check: /health\n",
		 "t.yaml:9:19: error: \"health_check\": expected a mapping\n");
}

static void
test_outlier_conf(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_cluster *cl;

	(void)state;
	c = load_ok(LISTENER CLUSTER "    outlier: {}\n");
	cl = &c->clusters[0];
	assert_int_equal(cl->outlier.enabled, 1);
	assert_int_equal(cl->outlier.consecutive_errors, 5);
	assert_true(cl->outlier.ejection_time_ms == 30000);
	assert_int_equal(cl->outlier.max_ejected_percent, 10);
	assert_int_equal(cl->health.enabled, 0);
	sl_conf_unref(c);

	c = load_ok(LISTENER CLUSTER "    outlier:\n"
				     "      consecutive_errors: 2\n"
				     "      ejection_time: 1m\n"
				     "      max_ejected_percent: 50%\n"
				     "    health_check: {}\n");
	cl = &c->clusters[0];
	assert_int_equal(cl->outlier.enabled, 1);
	assert_int_equal(cl->outlier.consecutive_errors, 2);
	assert_true(cl->outlier.ejection_time_ms == 60000);
	assert_int_equal(cl->outlier.max_ejected_percent, 50);
	assert_int_equal(cl->health.enabled, 1);
	sl_conf_unref(c);

	c = load_ok(LISTENER CLUSTER "    outlier:\n"
				     "      max_ejected_percent: 100\n");
	assert_int_equal(c->clusters[0].outlier.max_ejected_percent, 100);
	sl_conf_unref(c);

	load_err(LISTENER CLUSTER "    outlier:\n"
				  "      max_ejected_percent: 101%\n",
		 "t.yaml:10:28: error: \"max_ejected_percent\": 101% is out of "
		 "range (0%..100%)\n");
	load_err(LISTENER CLUSTER "    outlier:\n"
				  "      consecutive_errors: 0\n",
		 "t.yaml:10:27: error: \"consecutive_errors\": 0 is out of "
		 "range (1..1000)\n");
	load_err(LISTENER CLUSTER "    outlier:\n"
				  "      ejection_time: 30\n",
		 "t.yaml:10:22: error: \"ejection_time\": duration \"30\" "
		 "needs a unit (ms, s, m or h)\n");
	load_err(LISTENER CLUSTER "    outlier: true\n",
		 "t.yaml:9:14: error: \"outlier\": expected a mapping\n");
}

static void
test_tls_conf(void **state)
{
	struct sl_conf *conf;
	const struct sl_conf_tls_server *t;
	const struct sl_conf_tls_client *u;

	(void)state;
	/* no tls: a plain listener and cluster */
	conf = load_ok(LISTENER CLUSTER);
	assert_int_equal(conf->listeners[0].tls.ncerts, 0);
	assert_int_equal(conf->clusters[0].tls.enabled, 0);
	sl_conf_unref(conf);
	/* the defaults */
	conf = load_ok("listeners:\n"
		       "  - name: public\n"
		       "    address: 127.0.0.1:8443\n"
		       "    tls:\n"
		       "      certificates:\n"
		       "        - { cert: /a.pem, key: /a.key }\n"
		       "    routes:\n"
		       "      - cluster: demo\n" CLUSTER "    tls: {}\n");
	t = &conf->listeners[0].tls;
	assert_int_equal(t->ncerts, 1);
	assert_string_equal(t->certs[0].cert.path, "/a.pem");
	assert_int_equal(t->certs[0].cert.pos.line, 6);
	assert_int_equal(t->certs[0].cert.pos.col, 19);
	assert_string_equal(t->certs[0].key.path, "/a.key");
	assert_int_equal(t->min_version, 12);
	assert_null(t->ciphers);
	assert_null(t->ciphersuites);
	assert_int_equal(t->session_tickets, 1);
	assert_int_equal(t->session_cache, 20000);
	assert_null(t->client_ca.path);
	assert_null(t->client_subject_header);
	u = &conf->clusters[0].tls;
	assert_int_equal(u->enabled, 1);
	assert_null(u->sni);
	assert_null(u->ca.path);
	assert_int_equal(u->verify, 1);
	assert_null(u->cert.path);
	assert_int_equal(u->min_version, 12);
	sl_conf_unref(conf);
	/* everything set */
	conf = load_ok("listeners:\n"
		       "  - name: public\n"
		       "    address: 127.0.0.1:8443\n"
		       "    tls:\n"
		       "      certificates:\n"
		       "        - { cert: /rsa.pem, key: /rsa.key }\n"
		       "        - { cert: /ec.pem, key: /ec.key }\n"
		       "      min_version: TLSv1.3\n"
		       "      ciphers: ECDHE+AESGCM\n"
		       "      ciphersuites: TLS_AES_128_GCM_SHA256\n"
		       "      session_tickets: false\n"
		       "      session_cache: 0\n"
		       "      client_ca: /ca.pem\n"
		       "      client_verify: optional\n"
		       "      client_subject_header: X-Client-Subject\n"
		       "    routes:\n"
		       "      - cluster: demo\n" CLUSTER "    tls:\n"
		       "      sni: pay.internal\n"
		       "      ca: /up-ca.pem\n"
		       "      verify: false\n"
		       "      cert: /client.pem\n"
		       "      key: /client.key\n"
		       "      min_version: TLSv1.3\n");
	t = &conf->listeners[0].tls;
	assert_int_equal(t->ncerts, 2);
	assert_string_equal(t->certs[1].cert.path, "/ec.pem");
	assert_string_equal(t->certs[1].key.path, "/ec.key");
	assert_int_equal(t->min_version, 13);
	assert_string_equal(t->ciphers, "ECDHE+AESGCM");
	assert_string_equal(t->ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_int_equal(t->session_tickets, 0);
	assert_int_equal(t->session_cache, 0);
	assert_string_equal(t->client_ca.path, "/ca.pem");
	assert_int_equal(t->client_verify_optional, 1);
	assert_string_equal(t->client_subject_header, "X-Client-Subject");
	u = &conf->clusters[0].tls;
	assert_string_equal(u->sni, "pay.internal");
	assert_string_equal(u->ca.path, "/up-ca.pem");
	assert_int_equal(u->verify, 0);
	assert_string_equal(u->cert.path, "/client.pem");
	assert_string_equal(u->key.path, "/client.key");
	assert_int_equal(u->min_version, 13);
	sl_conf_unref(conf);
}

#define TLS_LISTENER                                                           \
	"listeners:\n"                                                         \
	"  - name: public\n"                                                   \
	"    address: 127.0.0.1:8443\n"                                        \
	"    routes:\n"                                                        \
	"      - cluster: demo\n"                                              \
	"    tls:\n"

static void
test_tls_conf_errors(void **state)
{
	(void)state;
	load_err(TLS_LISTENER "      min_version: TLSv1.2\n" CLUSTER,
		 "t.yaml:7:7: error: listener \"public\": tls: missing key "
		 "\"certificates\" (or \"acme\")\n");
	load_err(TLS_LISTENER "      certificates: []\n" CLUSTER,
		 "t.yaml:7:21: error: listener \"public\": \"certificates\" "
		 "must not be empty\n");
	load_err(TLS_LISTENER "      certificates:\n"
			      "        - { cert: /a.pem }\n" CLUSTER,
		 "t.yaml:8:11: error: listener \"public\": certificate #1: "
		 "missing key \"key\"\n");
	load_err(TLS_LISTENER "      certificates:\n"
			      "        - { cert: '', key: /a.key }\n" CLUSTER,
		 "t.yaml:8:19: error: \"cert\": must not be empty\n");
	load_err(TLS_LISTENER "      certificates:\n"
			      "        - { cert: /a.pem, key: /a.key }\n"
			      "      min_version: TLSv1.1\n" CLUSTER,
		 "t.yaml:9:20: error: \"min_version\": expected TLSv1.2 or "
		 "TLSv1.3\n");
	load_err(TLS_LISTENER "      certificates:\n"
			      "        - { cert: /a.pem, key: /a.key }\n"
			      "      ciphers: 'AES GCM'\n" CLUSTER,
		 "t.yaml:9:16: error: \"ciphers\": an OpenSSL list such as "
		 "\"ECDHE+AESGCM:ECDHE+CHACHA20\", without spaces\n");
	load_err(TLS_LISTENER "      certificates:\n"
			      "        - { cert: /a.pem, key: /a.key }\n"
			      "      client_verify: required\n" CLUSTER,
		 "t.yaml:9:22: error: listener \"public\": \"client_verify\" "
		 "needs \"client_ca\"\n");
	load_err(TLS_LISTENER
		 "      certificates:\n"
		 "        - { cert: /a.pem, key: /a.key }\n"
		 "      client_subject_header: X-Subject\n" CLUSTER,
		 "t.yaml:9:30: error: listener \"public\": "
		 "\"client_subject_header\" needs \"client_ca\" (only a "
		 "verified certificate sets it)\n");
	load_err(TLS_LISTENER
		 "      certificates:\n"
		 "        - { cert: /a.pem, key: /a.key }\n"
		 "      client_ca: /ca.pem\n"
		 "      client_subject_header: 'X Subject'\n" CLUSTER,
		 "t.yaml:10:30: error: \"client_subject_header\": \"X "
		 "Subject\" is not a valid header name\n");
	load_err(TLS_LISTENER "      certificates:\n"
			      "        - { cert: /a.pem, key: /a.key }\n"
			      "      sesion_tickets: true\n" CLUSTER,
		 "t.yaml:9:7: error: unknown key \"sesion_tickets\" in tls "
		 "(did you mean \"session_tickets\"?)\n");
	load_err(LISTENER CLUSTER "    tls: { cert: /c.pem }\n",
		 "t.yaml:9:18: error: cluster \"demo\": tls: \"cert\" and "
		 "\"key\" go together (mutual TLS)\n");
	load_err(LISTENER CLUSTER "    tls: { sni: 'a b' }\n",
		 "t.yaml:9:17: error: \"sni\": \"a b\" is not a host name\n");
	load_err(LISTENER CLUSTER "    tls: { verify: yes }\n",
		 "t.yaml:9:20: error: \"verify\": expected true or false\n");
}

/* ---- edge policy: allow, deny, header rules, a route's body limit ------ */

static void
test_policy_conf(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_listener *l;
	const struct sl_policy *p;
	const struct sl_hdr_rules *hr;
	struct sl_ip ip;
	char buf[64];

	(void)state;
	c = load_ok("listeners:\n"
		    "  - name: public\n"
		    "    address: 127.0.0.1:8080\n"
		    "    limits: { max_body_bytes: 2MiB }\n"
		    "    allow: [10.0.0.0/8, \"2001:db8::/32\"]\n"
		    "    deny: [10.66.0.0/16, \"::ffff:10.77.0.0/112\"]\n"
		    "    response_headers:\n"
		    "      set: { Strict-Transport-Security: max-age=1 }\n"
		    "      remove: [Server, X-Powered-By]\n"
		    "    routes:\n"
		    "      - name: a\n"
		    "        cluster: demo\n"
		    "        max_body_bytes: 1KiB\n"
		    "        request_headers:\n"
		    "          set: { X-Client-IP: \"${client_ip}\" }\n"
		    "          add: { Via: \"1.1 sluice\", X-S: "
		    "\"${tls_client_subject}\" }\n"
		    "      - name: b\n"
		    "        cluster: demo\n"
		    "        deny: [192.0.2.7]\n"
		    "      - name: c\n"
		    "        cluster: demo\n"
		    "        max_body_bytes: 0B\n" CLUSTER);
	l = &c->listeners[0];
	p = l->policy;
	assert_non_null(p);
	assert_int_equal(p->allow.n, 2);
	assert_int_equal(p->deny.n, 2);
	assert_string_equal(sl_cidr_str(&p->deny.v[1], buf, sizeof(buf)),
			    "10.77.0.0/16");
	assert_string_equal(p->deny_rules[0], "deny 10.66.0.0/16 (t.yaml:6)");
	assert_string_equal(p->deny_rules[1], "deny 10.77.0.0/16 (t.yaml:6)");
	assert_string_equal(p->allow_rule, "not in allow (t.yaml:5)");
	assert_null(p->request);
	hr = p->response;
	assert_non_null(hr);
	assert_int_equal(hr->nremove, 2);
	assert_int_equal(hr->nfields, 1);
	assert_int_equal(hr->ndrop, 3);
	/* deny wins; mapped and plain IPv4 alike */
	assert_int_equal(sl_ip_parse("10.66.1.1", 9, &ip), 0);
	assert_string_equal(sl_policy_check(p, &ip),
			    "deny 10.66.0.0/16 (t.yaml:6)");
	assert_int_equal(sl_ip_parse("::ffff:10.77.1.1", 16, &ip), 0);
	assert_string_equal(sl_policy_check(p, &ip),
			    "deny 10.77.0.0/16 (t.yaml:6)");
	assert_int_equal(sl_ip_parse("10.1.2.3", 8, &ip), 0);
	assert_null(sl_policy_check(p, &ip));
	assert_int_equal(sl_ip_parse("2001:db8::1", 11, &ip), 0);
	assert_null(sl_policy_check(p, &ip));
	assert_int_equal(sl_ip_parse("192.0.2.1", 9, &ip), 0);
	assert_string_equal(sl_policy_check(p, &ip), "not in allow (t.yaml:5)");
	/* routes */
	assert_int_equal(l->routes[0].max_body_bytes, 1024);
	assert_non_null(l->routes[0].policy->request);
	assert_int_equal(l->routes[0].policy->allow.n, 0);
	assert_null(sl_policy_check(l->routes[0].policy, &ip));
	assert_int_equal(l->routes[1].max_body_bytes, 2 << 20);
	assert_string_equal(l->routes[1].policy->deny_rules[0],
			    "deny 192.0.2.7/32 (t.yaml:19)");
	assert_int_equal(l->routes[2].max_body_bytes, 0);
	/* the rules each direction meets, put together at load: a route
	 * without rules of its own gets its listener's */
	assert_null(p->rules[0]);
	assert_non_null(p->rules[1]);
	assert_ptr_equal(p->rules[1]->r[0], p->response);
	assert_null(p->rules[1]->r[1]);
	assert_non_null(l->routes[2].policy);
	assert_int_equal(l->routes[2].policy->allow.n, 0);
	assert_int_equal(l->routes[2].policy->deny.n, 0);
	assert_null(l->routes[2].policy->rules[0]);
	assert_ptr_equal(l->routes[2].policy->rules[1]->r[0], p->response);
	assert_null(l->routes[2].policy->rules[1]->r[1]);
	hr = l->routes[0].policy->request;
	assert_ptr_equal(l->routes[0].policy->rules[0]->r[1], hr);
	assert_null(l->routes[0].policy->rules[0]->r[0]);
	assert_int_equal(l->routes[0].policy->rules[0]->nfields, 3);
	assert_int_equal(l->routes[0].policy->rules[0]->vars_used,
			 (1u << SL_HDR_V_CLIENT_IP) |
			     (1u << SL_HDR_V_TLS_CLIENT_SUBJECT));
	assert_int_equal(l->routes[0].policy->rules[1]->nfields, 1);
	assert_int_equal(l->routes[0].policy->rules[1]->drop_lens,
			 (1u << 6) | (1u << 12) | (1u << 25));
	assert_true(l->wants_subject);
	sl_conf_unref(c);

	/* nothing set: no policy at all, the listener's limit */
	c = load_ok(LISTENER CLUSTER);
	assert_null(c->listeners[0].policy);
	assert_null(c->listeners[0].routes[0].policy);
	assert_false(c->listeners[0].wants_subject);
	assert_int_equal(c->listeners[0].routes[0].max_body_bytes, 16 << 20);
	sl_conf_unref(c);
}

static void
test_policy_conf_errors(void **state)
{
	static const char y1[] =
	    "listeners:\n"
	    "  - name: public\n"
	    "    address: 127.0.0.1:8080\n"
	    "    allow: []\n"
	    "    deny: [10.0.0.1/8, bogus, [1]]\n"
	    "    request_headers:\n"
	    "      set: { Host: x, X-A: \"${nope}\", X-B: \"5$\", \"X C\": d "
	    "}\n"
	    "      add: { X-D: \" e\", X-E: \"${route\", X-F: ~ }\n"
	    "      remove: [X-G, x-g, Upgrade]\n"
	    "      replace: {}\n"
	    "    routes:\n"
	    "      - cluster: demo\n"
	    "        expose_cluster_header: X-Served-By\n"
	    "        max_body_bytes: 12\n"
	    "        response_headers:\n"
	    "          set: { X-Served-By: a, X-Forwarded-For: b, "
	    "X-H: \"${clustr}\" }\n"
	    "          remove: [X-Request-Id]\n" CLUSTER;

	(void)state;
	load_bad(
	    y1, sizeof(y1) - 1,
	    "t.yaml:4:12: error: \"allow\": must not be empty (to refuse "
	    "every client, deny [0.0.0.0/0, ::/0])\n"
	    "t.yaml:5:12: error: \"deny\": \"10.0.0.1/8\": the address has "
	    "bits set past /8 (did you mean 10.0.0.0/8?)\n"
	    "t.yaml:5:24: error: \"deny\": \"bogus\": not an IPv4 or IPv6 "
	    "address\n"
	    "t.yaml:5:31: error: \"deny\": expected an address or a range "
	    "such as 10.0.0.0/8\n"
	    "t.yaml:7:14: error: \"request_headers\": \"Host\" names the "
	    "request's target: no rule may touch it\n"
	    "t.yaml:7:28: error: \"request_headers\": unknown variable "
	    "\"${nope}\" in the value of \"X-A\" (known: client_ip, "
	    "request_id, route, cluster, tls_version, "
	    "tls_client_subject)\n"
	    "t.yaml:7:44: error: \"request_headers\": a lone \"$\" in the "
	    "value of \"X-B\" (\"$$\" is a dollar sign, \"${NAME}\" a "
	    "variable)\n"
	    "t.yaml:7:50: error: \"request_headers\": invalid header name "
	    "\"X C\"\n"
	    "t.yaml:8:19: error: \"request_headers\": invalid value \" e\" "
	    "for \"X-D\" (no control characters, no leading or trailing "
	    "blanks)\n"
	    "t.yaml:8:30: error: \"request_headers\": \"${\" without \"}\" "
	    "in the value of \"X-E\"\n"
	    "t.yaml:8:46: error: \"request_headers\": the value of \"X-F\" "
	    "must be a string\n"
	    "t.yaml:9:21: error: \"request_headers\": remove names \"x-g\" "
	    "twice\n"
	    "t.yaml:9:26: error: \"request_headers\": \"Upgrade\" is "
	    "hop-by-hop: no rule may touch it\n"
	    "t.yaml:10:7: error: unknown key \"replace\" in header rules\n"
	    "t.yaml:14:25: error: route \"route-1\": \"max_body_bytes\": size "
	    "\"12\" needs a "
	    "unit (B, KiB, MiB or GiB)\n"
	    "t.yaml:16:18: error: route \"route-1\": \"response_headers\": "
	    "\"X-Served-By\" is "
	    "route \"route-1\"'s expose_cluster_header: no rule may touch "
	    "it\n"
	    "t.yaml:16:59: error: route \"route-1\": \"response_headers\": "
	    "unknown variable "
	    "\"${clustr}\" in the value of \"X-H\" (did you mean "
	    "\"${cluster}\"?)\n"
	    "t.yaml:17:20: error: route \"route-1\": \"response_headers\": "
	    "\"X-Request-Id\" "
	    "is sluice's own: no rule may touch it\n");
}

/* Rate limits: units, defaults, the store's defaults. */
static void
test_rate_limit_conf(void **state)
{
	struct sl_conf *c;
	const struct sl_conf_route *r;

	(void)state;
	c = load_ok("rate_limit_store: { address: \"127.0.0.1:6379\" }\n"
		    "listeners:\n"
		    "  - name: public\n"
		    "    address: 127.0.0.1:8080\n"
		    "    routes:\n"
		    "      - cluster: demo\n"
		    "        rate_limit:\n"
		    "          - { name: a, key: \"header:X-Api-Key\", "
		    "rate: 10/s }\n"
		    "          - { name: b, key: client_ip, rate: 5/m, "
		    "burst: 1, max_keys: 10 }\n"
		    "          - { name: c, key: route, rate: 3/h, "
		    "scope: fleet }\n"
		    "          - { name: d, key: \"cookie:Sid\", rate: 1/s, "
		    "scope: fleet, on_store_error: deny }\n" CLUSTER);
	r = &c->listeners[0].routes[0];
	assert_int_equal(sl_rl_nlimits(r), 4);
	assert_string_equal(sl_rl_route(r)->rate_limits[0].name, "a");
	assert_int_equal(sl_rl_route(r)->rate_limits[0].key.source,
			 SL_KEY_HEADER);
	assert_string_equal(sl_rl_route(r)->rate_limits[0].key.name,
			    "x-api-key");
	assert_int_equal(sl_rl_route(r)->rate_limits[0].rate, 10);
	assert_int_equal(sl_rl_route(r)->rate_limits[0].unit_s, 1);
	assert_int_equal(sl_rl_route(r)->rate_limits[0].burst,
			 10); /* one unit's worth */
	assert_int_equal(sl_rl_route(r)->rate_limits[0].scope,
			 SL_RL_SCOPE_LOCAL);
	assert_int_equal(sl_rl_route(r)->rate_limits[0].max_keys, 65536);
	assert_int_equal(sl_rl_route(r)->rate_limits[1].key.source,
			 SL_KEY_CLIENT_IP);
	assert_int_equal(sl_rl_route(r)->rate_limits[1].unit_s, 60);
	assert_int_equal(sl_rl_route(r)->rate_limits[1].burst, 1);
	assert_int_equal(sl_rl_route(r)->rate_limits[1].max_keys, 10);
	assert_int_equal(sl_rl_route(r)->rate_limits[2].key.source,
			 SL_KEY_NONE);
	assert_int_equal(sl_rl_route(r)->rate_limits[2].unit_s, 3600);
	assert_int_equal(sl_rl_route(r)->rate_limits[2].scope,
			 SL_RL_SCOPE_FLEET);
	assert_int_equal(sl_rl_route(r)->rate_limits[2].max_keys, 4096);
	assert_int_equal(sl_rl_route(r)->rate_limits[2].store_error_deny, 0);
	assert_string_equal(sl_rl_route(r)->rate_limits[3].key.name, "Sid");
	assert_int_equal(sl_rl_route(r)->rate_limits[3].store_error_deny, 1);
	assert_non_null(c->fleet_store);
	assert_int_equal(c->fleet_store->timeout_ms, 50);
	assert_string_equal(c->fleet_store->prefix, "sluice:");
	sl_conf_unref(c);
	/* none: the request path tests one pointer */
	c = load_ok(LISTENER CLUSTER);
	assert_null(sl_rl_route(&c->listeners[0].routes[0]));
	assert_null(c->fleet_store);
	sl_conf_unref(c);
}

/* rate_limit_store's AUTH: the keys, and the password read from its file
 * (the test files under tests/conf/{good,bad}/secrets). */
#define STORE_AUTH(file)                                                       \
	"rate_limit_store:\n"                                                  \
	"  address: 127.0.0.1:6379\n"                                          \
	"  password_file: " file "\n" LISTENER CLUSTER

/* The error sl_conf_load_secrets gives for the password file path. */
static void
secret_err(const char *path, const char *want, const char *secret)
{
	char yaml[1024];
	struct sl_conf *c;
	char *errs, *warn = NULL;

	snprintf(yaml, sizeof(yaml), STORE_AUTH("\"%s\""), path);
	c = load_ok(yaml);
	errs = sl_conf_load_secrets(c, &warn);
	assert_non_null(errs);
	assert_string_equal(errs, want);
	assert_null(c->fleet_store->password);
	if (secret != NULL)
		assert_null(strstr(errs, secret));
	free(errs);
	free(warn);
	sl_conf_unref(c);
}

static void
test_rate_limit_store_auth(void **state)
{
	struct sl_conf *c;
	char *errs, *warn = NULL;

	(void)state;
	/* a user and a file: named, not read, by parsing */
	c = load_ok(
	    "rate_limit_store:\n"
	    "  address: 127.0.0.1:6379\n"
	    "  username: sluice-gw\n"
	    "  password_file: " SRCDIR
	    "/tests/conf/good/secrets/redis-password\n" LISTENER CLUSTER);
	assert_string_equal(c->fleet_store->username, "sluice-gw");
	assert_string_equal(c->fleet_store->password_file.path,
			    SRCDIR "/tests/conf/good/secrets/redis-password");
	assert_int_equal(c->fleet_store->password_file.pos.line, 4);
	assert_int_equal(c->fleet_store->password_file.pos.col, 18);
	assert_null(c->fleet_store->password);
	/* read: the line end goes; warnings (a file others may read)
	 * never hold the password */
	errs = sl_conf_load_secrets(c, &warn);
	assert_null(errs);
	assert_string_equal(c->fleet_store->password, "good-pw-1f9b");
	if (warn != NULL)
		assert_null(strstr(warn, "good-pw-1f9b"));
	free(warn);
	sl_conf_unref(c);
	/* CR LF too */
	c = load_ok(STORE_AUTH(SRCDIR "/tests/conf/good/secrets/"
				      "redis-password-crlf"));
	assert_null(sl_conf_load_secrets(c, NULL));
	assert_string_equal(c->fleet_store->password, "crlf-pw-8d2e");
	assert_null(c->fleet_store->username);
	sl_conf_unref(c);
	/* no file, nothing to read */
	c = load_ok(
	    "rate_limit_store: { address: \"127.0.0.1:6379\" }\n" LISTENER
		CLUSTER);
	assert_null(c->fleet_store->password_file.path);
	assert_null(sl_conf_load_secrets(c, NULL));
	assert_null(c->fleet_store->password);
	sl_conf_unref(c);

	/* what a file may not be; the messages never hold its bytes */
	secret_err(SRCDIR "/tests/conf/bad/secrets/empty",
		   "t.yaml:3:18: error: \"password_file\": \"" SRCDIR
		   "/tests/conf/bad/secrets/empty\" is empty\n",
		   NULL);
	secret_err(SRCDIR "/tests/conf/bad/secrets/control",
		   "t.yaml:3:18: error: \"password_file\": the password in "
		   "\"" SRCDIR "/tests/conf/bad/secrets/control\" holds a "
		   "control byte (0x01); it must be printable\n",
		   "secret-9c4");
	secret_err(SRCDIR "/tests/conf/bad/secrets/two-lines",
		   "t.yaml:3:18: error: \"password_file\": \"" SRCDIR
		   "/tests/conf/bad/secrets/two-lines\" holds more than one "
		   "line (the password alone, on one line)\n",
		   "9e1");
	secret_err(
	    SRCDIR "/tests/conf/bad/secrets/no-such-file",
	    "t.yaml:3:18: error: \"password_file\": cannot read \"" SRCDIR
	    "/tests/conf/bad/secrets/no-such-file\": No such file or "
	    "directory\n",
	    NULL);
	secret_err(SRCDIR "/tests/conf/bad/secrets",
		   "t.yaml:3:18: error: \"password_file\": \"" SRCDIR
		   "/tests/conf/bad/secrets\" is not a regular file\n",
		   NULL);
	secret_err(SRCDIR "/etc/sluice.yaml",
		   "t.yaml:3:18: error: \"password_file\": \"" SRCDIR
		   "/etc/sluice.yaml\" is larger than 4096 bytes: not a "
		   "password\n",
		   NULL);

	/* the keys' own errors */
	load_err("rate_limit_store:\n"
		 "  address: 127.0.0.1:6379\n"
		 "  username: \"gate way\"\n"
		 "  password_file: \"\"\n"
		 "  password: inline\n" LISTENER CLUSTER,
		 "t.yaml:3:13: error: \"username\": \"gate way\" must be 1 "
		 "to 128 printable characters without spaces\n"
		 "t.yaml:4:18: error: \"password_file\": must not be empty\n"
		 "t.yaml:5:3: error: unknown key \"password\" in "
		 "rate_limit_store (did you mean \"password_file\"?)\n");
	load_err("rate_limit_store:\n"
		 "  address: 127.0.0.1:6379\n"
		 "  username: sluice-gw\n" LISTENER CLUSTER,
		 "t.yaml:3:3: error: rate_limit_store: \"username\" needs "
		 "\"password_file\" (Redis authenticates a user by its "
		 "password)\n");
	load_err("rate_limit_store:\n"
		 "  address: 127.0.0.1:6379\n"
		 "  username: [a]\n"
		 "  password_file: {a: b}\n" LISTENER CLUSTER,
		 "t.yaml:3:13: error: \"username\": expected a string\n"
		 "t.yaml:4:18: error: \"password_file\": expected a string\n");
}

/* Endpoints by name, the resolver's and the watch's keys, a guard
 * (doc/fleet.md): what the loader keeps of them, what a resolved answer
 * adds, and a generation parsed again from the same bytes. */
static void
test_fleet_conf(void **state)
{
	struct sl_conf *c, *d;
	struct sl_conf_cluster *cl;
	struct sl_conf_resolved v[4];
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	const char *yaml =
	    "resolver: { nameservers: [10.0.0.2, \"10.0.0.3:5353\", \"::1\"], "
	    "timeout: 500ms, attempts: 3 }\n"
	    "watch: true\nwatch_debounce: 200ms\n"
	    "listeners:\n"
	    "  - name: public\n"
	    "    address: 127.0.0.1:8080\n"
	    "    routes:\n"
	    "      - split:\n"
	    "          - { cluster: demo, weight: 95 }\n"
	    "          - { cluster: canary, weight: 5 }\n"
	    "        guard: { stable: canary, latency: 250ms, percentile: 95, "
	    "margin: 0% }\n"
	    "clusters:\n"
	    "  - name: demo\n"
	    "    endpoints:\n"
	    "      - Pay.Internal.:8443\n"
	    "      - 127.0.0.1:9001\n"
	    "      - { address: pay-b.internal:8443, weight: 3 }\n"
	    "      - { srv: _HTTPS._tcp.pay.internal }\n"
	    "    dns: { family: ipv6, min_ttl: 2s, max_ttl: 1m, keep_stale: 0s "
	    "}\n"
	    "  - name: canary\n"
	    "    endpoints: [canary.internal:80]\n";

	(void)state;
	c = load_ok(yaml);
	assert_int_equal(c->nnameservers, 3);
	assert_string_equal(c->nameservers[0].text, "10.0.0.2:53");
	assert_string_equal(c->nameservers[1].text, "10.0.0.3:5353");
	assert_string_equal(c->nameservers[2].text, "[::1]:53");
	assert_int_equal(c->dns_timeout_ms, 500);
	assert_int_equal(c->dns_attempts, 3);
	assert_int_equal(c->watch, 1);
	assert_int_equal(c->watch_debounce_ms, 200);
	cl = &c->clusters[0];
	assert_int_equal(cl->nstatic, 1);
	assert_int_equal(cl->nendpoints, 1);
	assert_int_equal(cl->nnames, 3);
	assert_string_equal(cl->names[0].name, "pay.internal");
	assert_string_equal(cl->names[0].text, "Pay.Internal.:8443");
	assert_int_equal(cl->names[0].port, 8443);
	assert_int_equal(cl->names[0].weight, 1);
	assert_int_equal(cl->names[0].srv, 0);
	assert_int_equal(cl->names[1].weight, 3);
	assert_int_equal(cl->names[2].srv, 1);
	assert_string_equal(cl->names[2].name, "_https._tcp.pay.internal");
	assert_string_equal(cl->names[2].text, "srv:_HTTPS._tcp.pay.internal");
	assert_int_equal(cl->names[2].pos.line, 18);
	assert_int_equal(cl->dns_family, SL_DNS_FAMILY_IPV6);
	assert_int_equal(cl->dns_min_ttl_ms, 2000);
	assert_int_equal(cl->dns_max_ttl_ms, 60000);
	assert_int_equal(cl->dns_keep_stale_ms, 0);
	/* a cluster with names only starts with no endpoint */
	assert_int_equal(c->clusters[1].nendpoints, 0);
	assert_int_equal(c->clusters[1].dns_family, SL_DNS_FAMILY_ANY);
	assert_int_equal(c->clusters[1].dns_keep_stale_ms, 600000);
	/* the guard */
	{
		const struct sl_conf_guard *g =
		    sl_guard_route(&c->listeners[0].routes[0]);
		assert_non_null(g);
		assert_int_equal(g->stable, 1);
		assert_int_equal(g->latency_ms, 250);
		assert_int_equal(g->percentile, 95);
		assert_int_equal(g->margin_percent, 0);
		assert_int_equal(g->window_ms, 60000);
		assert_int_equal(g->min_requests, 50);
	}

	/* answers: a duplicate of the written endpoint and of each other
	 * are left out, weights kept within 1..1000 */
	memset(v, 0, sizeof(v));
	sin = (struct sockaddr_in *)&v[0].ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(9001);
	sin->sin_addr.s_addr = htonl(0x7f000001);
	v[0].sslen = sizeof(*sin);
	v[0].weight = 1;
	v[1] = v[0];
	((struct sockaddr_in *)&v[1].ss)->sin_port = htons(8443);
	v[1].weight = 0;
	v[2] = v[1];
	sin6 = (struct sockaddr_in6 *)&v[3].ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(8443);
	sin6->sin6_addr.s6_addr[15] = 1;
	v[3].sslen = sizeof(*sin6);
	v[3].weight = 5000;
	assert_int_equal(sl_conf_add_resolved(cl, 0, v, 4), 2);
	assert_int_equal(sl_conf_add_resolved(cl, 1, v, 0), 0);
	assert_int_equal(cl->nendpoints, 3);
	assert_string_equal(cl->endpoints[1].addr.text, "127.0.0.1:8443");
	assert_int_equal(cl->endpoints[1].weight, 1);
	assert_int_equal(cl->endpoints[1].index, 1);
	assert_ptr_equal(cl->endpoints[1].dns_name, cl->names[0].text);
	assert_string_equal(cl->endpoints[2].addr.text, "[::1]:8443");
	assert_int_equal(cl->endpoints[2].weight, 1000);
	assert_null(cl->endpoints[0].dns_name);

	/* parsed again: only from a file's bytes */
	errno = 0;
	assert_null(sl_conf_reparse(c));
	assert_int_equal(errno, EINVAL);
	sl_conf_unref(c);
	{
		char path[] = "/tmp/sluice-test-conf-XXXXXX";
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, yaml, strlen(yaml)),
				 (ssize_t)strlen(yaml));
		close(fd);
		c = sl_conf_load(path, NULL);
		unlink(path);
	}
	assert_non_null(c);
	assert_non_null(c->text);
	d = sl_conf_reparse(c);
	assert_non_null(d);
	assert_string_equal(d->sha256, c->sha256);
	assert_int_equal(d->text_len, strlen(yaml));
	assert_int_equal(d->clusters[0].nendpoints, 1);
	assert_int_equal(d->clusters[0].nnames, 3);
	assert_int_equal(sl_conf_share_secrets(d, c), 0);
	sl_conf_unref(d);
	sl_conf_unref(c);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_fleet_conf),
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_suggest),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_addr),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_weighted_routes),
	    cmocka_unit_test(test_anchors),
	    cmocka_unit_test(test_alias_bomb),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_limits_table),
	    cmocka_unit_test(test_route_names),
	    cmocka_unit_test(test_hosts_file),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_secret_headers),
	    cmocka_unit_test(test_cluster_order),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_listener_addresses),
	    cmocka_unit_test(test_ref_unref),
	    cmocka_unit_test(test_buffer_len),
	    cmocka_unit_test(test_load_files),
	    cmocka_unit_test(test_all_errors),
	    cmocka_unit_test(test_retry_conf),
	    cmocka_unit_test(test_retry_conf_errors),
	    cmocka_unit_test(test_health_conf),
	    cmocka_unit_test(test_health_conf_errors),
	    cmocka_unit_test(test_outlier_conf),
	    cmocka_unit_test(test_tls_conf),
	    cmocka_unit_test(test_tls_conf_errors),
	    cmocka_unit_test(test_policy_conf),
	    cmocka_unit_test(test_policy_conf_errors),
	    cmocka_unit_test(test_rate_limit_conf),
	    cmocka_unit_test(test_rate_limit_store_auth),
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t ncases = sizeof(error_cases) / sizeof(error_cases[0]);
	struct CMUnitTest *tests;
	size_t i;
	int rc;

	if ((tests = calloc(nfixed + ncases, sizeof(*tests))) == NULL)
		return 99;
	memcpy(tests, fixed, sizeof(fixed));
	for (i = 0; i < ncases; i++) {
		tests[nfixed + i].name = error_cases[i].name;
		tests[nfixed + i].test_func = test_error_case;
		tests[nfixed + i].initial_state = (void *)&error_cases[i];
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	rc =
	    _cmocka_run_group_tests("conf", tests, nfixed + ncases, NULL, NULL);
	free(tests);
	return rc;
}
