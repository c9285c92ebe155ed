/* SPDX-License-Identifier: MIT */
/* Unit tests for forwarded.c: the elements of X-Forwarded-For and
 * Forwarded, the walk from the right past trusted proxies, and what goes
 * upstream (h1_msg.c's X-Forwarded-For cut and strip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "forwarded.h"

#define XFF SL_CLIENT_HEADER_XFF
#define FWD SL_CLIENT_HEADER_FORWARDED

static struct sl_h1_header hdrs[200];
static const struct sl_h1_limits lim = {8192, 65536, 200};

static void
parse_req(const char *raw, struct sl_h1_request *req)
{
	memset(req, 0, sizeof(*req));
	req->headers = hdrs;
	req->max_headers = 200;
	assert_int_equal(sl_h1_parse_request(raw, strlen(raw), req, &lim), 0);
}

/* The element's address as text, or "-" when it is none. */
static const char *
elem(enum sl_client_header f, const char *s)
{
	static char out[64];
	struct sl_ip ip;

	if (sl_forwarded_element(f, s, strlen(s), &ip) == -1)
		return "-";
	return sl_ip_str(&ip, out, sizeof(out));
}

static struct sl_cidr trusted_v[3];
static struct sl_cidr_set trusted = {trusted_v, 3};

static int
setup(void **state)
{
	char why[64];

	(void)state;
	assert_int_equal(
	    sl_cidr_parse("10.0.0.0/8", &trusted_v[0], why, sizeof(why)), 0);
	assert_int_equal(
	    sl_cidr_parse("127.0.0.0/8", &trusted_v[1], why, sizeof(why)), 0);
	assert_int_equal(sl_cidr_parse("2001:db8:ffff::/48", &trusted_v[2], why,
				       sizeof(why)),
			 0);
	return 0;
}

/* The walk over the request raw's fields: the client found, "peer" when
 * none is, and where in the fields it is ("hdr:off"). */
static const char *
walk(const char *raw, enum sl_client_header f, char *where)
{
	static char out[64];
	struct sl_h1_request req;
	struct sl_forwarded_walk w;

	parse_req(raw, &req);
	if (!sl_forwarded_walk(req.headers, req.nheaders, f, &trusted, &w))
		return "peer";
	if (where != NULL)
		sprintf(where, "%zu:%zu", w.hdr, w.off);
	return sl_ip_str(&w.client, out, sizeof(out));
}

static void
test_xff_elements(void **state)
{
	(void)state;
	assert_string_equal(elem(XFF, "192.0.2.1"), "192.0.2.1");
	assert_string_equal(elem(XFF, "192.0.2.1:4711"), "192.0.2.1");
	assert_string_equal(elem(XFF, "2001:db8::1"), "2001:db8::1");
	assert_string_equal(elem(XFF, "[2001:db8::1]"), "2001:db8::1");
	assert_string_equal(elem(XFF, "[2001:db8::1]:80"), "2001:db8::1");
	assert_string_equal(elem(XFF, "::ffff:192.0.2.1"), "192.0.2.1");
	assert_string_equal(elem(XFF, "unknown"), "-");
	assert_string_equal(elem(XFF, "_hidden"), "-");
	assert_string_equal(elem(XFF, "192.0.2.1:"), "-");
	assert_string_equal(elem(XFF, "192.0.2.1:65536"), "-");
	assert_string_equal(elem(XFF, "192.0.2.1:_x"), "-");
	assert_string_equal(elem(XFF, "192.0.2"), "-");
	assert_string_equal(elem(XFF, "192.0.2.01"), "-");
	assert_string_equal(elem(XFF, "[192.0.2.1]"), "-");
	assert_string_equal(elem(XFF, "[2001:db8::1"), "-");
	assert_string_equal(elem(XFF, "[2001:db8::1]x"), "-");
	assert_string_equal(elem(XFF, "[]"), "-");
	assert_string_equal(elem(XFF, "fe80::1%eth0"), "-");
	assert_string_equal(elem(XFF, "\"192.0.2.1\""), "-");
	assert_string_equal(elem(XFF, "example.com"), "-");
}

static void
test_forwarded_elements(void **state)
{
	(void)state;
	assert_string_equal(elem(FWD, "for=192.0.2.60"), "192.0.2.60");
	assert_string_equal(elem(FWD, "for=192.0.2.60;proto=http;by=10.1.1.1"),
			    "192.0.2.60");
	assert_string_equal(elem(FWD, "proto=https; For=\"192.0.2.60:4711\""),
			    "192.0.2.60");
	assert_string_equal(elem(FWD, "for=\"[2001:db8:cafe::17]:4711\""),
			    "2001:db8:cafe::17");
	assert_string_equal(elem(FWD, "for=\"[2001:db8:cafe::17]\""),
			    "2001:db8:cafe::17");
	assert_string_equal(elem(FWD, "for=\"192.0.2.43:_port\""),
			    "192.0.2.43");
	/* not an address: obfuscated, unknown, missing, two of them */
	assert_string_equal(elem(FWD, "for=unknown"), "-");
	assert_string_equal(elem(FWD, "for=_hidden"), "-");
	assert_string_equal(elem(FWD, "for=\"_hidden:80\""), "-");
	assert_string_equal(elem(FWD, "by=192.0.2.1"), "-");
	assert_string_equal(elem(FWD, "for=192.0.2.1;for=192.0.2.2"), "-");
	assert_string_equal(elem(FWD, "for="), "-");
	assert_string_equal(elem(FWD, "for"), "-");
	/* IPv6 in Forwarded is bracketed (RFC 7239 section 6) */
	assert_string_equal(elem(FWD, "for=\"2001:db8::1\""), "-");
	/* quotes: whole, without escapes */
	assert_string_equal(elem(FWD, "for=\"192.0.2.1"), "-");
	assert_string_equal(elem(FWD, "for=\"192.0.2.\\1\""), "-");
	assert_string_equal(elem(FWD, "for=192\"0.2.1"), "-");
	/* a quoted ";" hides nothing */
	assert_string_equal(elem(FWD, "by=\"a;for=1.1.1.1\";for=192.0.2.9"),
			    "192.0.2.9");
}

static void
test_walk(void **state)
{
	char where[32];

	(void)state;
	/* the client writes the left-most: never believed blindly */
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\n"
		 "X-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n\r\n",
		 XFF, where),
	    "203.0.113.7");
	assert_string_equal(where, "1:9");
	/* trusted proxies on the right are skipped */
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4, "
		 "203.0.113.7, 10.0.0.2,127.0.0.1\r\n\r\n",
		 XFF, NULL),
	    "203.0.113.7");
	/* every element trusted: the left-most */
	assert_string_equal(walk("GET / HTTP/1.1\r\nHost: h\r\n"
				 "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n\r\n",
				 XFF, where),
			    "10.0.0.1");
	assert_string_equal(where, "1:0");
	/* not an address: the walk stops, the nearest trusted one right of
	 * it is the client; none: the peer */
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4, "
		 "garbage, 10.0.0.2\r\n\r\n",
		 XFF, NULL),
	    "10.0.0.2");
	assert_string_equal(walk("GET / HTTP/1.1\r\nHost: h\r\n"
				 "X-Forwarded-For: 1.2.3.4, unknown\r\n\r\n",
				 XFF, NULL),
			    "peer");
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\n\r\n", XFF, NULL), "peer");
	/* several fields are one list, in order; empty elements skipped */
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n"
		 "A: b\r\nx-forwarded-for: , 10.0.0.9,,\r\n\r\n",
		 XFF, where),
	    "1.2.3.4");
	assert_string_equal(where, "1:0");
	/* IPv6 */
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: "
		 "2001:db8::5, [2001:db8:ffff::1]:443\r\n\r\n",
		 XFF, NULL),
	    "2001:db8::5");
	/* Forwarded: for= of each element; quoted commas split nothing */
	assert_string_equal(
	    walk("GET / HTTP/1.1\r\nHost: h\r\nForwarded: for=1.2.3.4, "
		 "for=\"[2001:db8::7]:4711\";by=\"x,y\", for=10.0.0.3\r\n"
		 "X-Forwarded-For: 9.9.9.9\r\n\r\n",
		 FWD, NULL),
	    "2001:db8::7");
	assert_string_equal(walk("GET / HTTP/1.1\r\nHost: h\r\n"
				 "Forwarded: for=1.2.3.4, for=_hidden\r\n\r\n",
				 FWD, NULL),
			    "peer");
	/* the other field is not read */
	assert_string_equal(walk("GET / HTTP/1.1\r\nHost: h\r\n"
				 "X-Forwarded-For: 1.2.3.4\r\n\r\n",
				 FWD, NULL),
			    "peer");
}

static void
test_walk_bound(void **state)
{
	char raw[4096], *p = raw;

	(void)state;
	/* 70 trusted elements: the walk looks at the right-most 64 and
	 * stops there */
	p += sprintf(p, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: ");
	for (int i = 0; i < 70; i++)
		p += sprintf(p, "%s10.0.0.%d", i ? ", " : "", i);
	sprintf(p, "\r\n\r\n");
	assert_string_equal(walk(raw, XFF, NULL), "10.0.0.6");
}

/* The head sent upstream for raw on a listener whose peer (the
 * connection's client) is peer. */
static const char *
upstream_head(const char *raw, const char *peer, int forwarded, int strip,
	      char *client_out)
{
	static char out[8192];
	struct sl_conf_listener l;
	struct sl_h1_request req;
	struct sl_ip client;
	struct sl_fwd fwd = {
	    .proto = "http", .request_id = "rid", .default_host = "h"};
	char ip[64];
	long n;

	memset(&l, 0, sizeof(l));
	l.trusted_proxies = trusted;
	l.client_address_header = forwarded ? FWD : XFF;
	l.untrusted_forwarded =
	    strip ? SL_UNTRUSTED_STRIP : SL_UNTRUSTED_APPEND;
	parse_req(raw, &req);
	assert_int_equal(sl_ip_parse(peer, strlen(peer), &client), 0);
	fwd.xff = SL_FWD_APPEND;
	sl_forwarded_settle(&l, &req, &client, &fwd);
	fwd.client_ip = sl_ip_str(&client, ip, sizeof(ip));
	if (client_out != NULL)
		strcpy(client_out, ip);
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	return strstr(out, "\r\n") + 2;
}

static void
test_upstream_fields(void **state)
{
	char client[64];
	const char *spoof = "GET / HTTP/1.1\r\nHost: h\r\n"
			    "X-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n"
			    "Forwarded: for=5.6.7.8\r\n\r\n";

	(void)state;
	/* from a trusted proxy: the list up to the client, then the
	 * client, named once */
	assert_string_equal(
	    upstream_head(spoof, "10.0.0.2", 0, 0, client),
	    "Host: h\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n"
	    "Forwarded: for=5.6.7.8\r\nX-Forwarded-Proto: http\r\n"
	    "X-Request-Id: rid\r\n\r\n");
	assert_string_equal(client, "203.0.113.7");
	/* the trusted hops right of the client are not passed on */
	assert_string_equal(
	    upstream_head("GET / HTTP/1.1\r\nHost: h\r\n"
			  "X-Forwarded-For: 1.2.3.4, 203.0.113.7 ,10.0.0.3\r\n"
			  "X-Forwarded-For: 10.0.0.4\r\n\r\n",
			  "10.0.0.2", 0, 0, client),
	    "Host: h\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Request-Id: rid\r\n\r\n");
	/* the client in the second field */
	assert_string_equal(
	    upstream_head("GET / HTTP/1.1\r\nHost: h\r\n"
			  "X-Forwarded-For: 1.2.3.4\r\n"
			  "X-Forwarded-For: 203.0.113.7, 10.0.0.4\r\n\r\n",
			  "10.0.0.2", 0, 0, client),
	    "Host: h\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Request-Id: rid\r\n\r\n");
	/* from anyone else: nothing believed, the peer appended */
	assert_string_equal(
	    upstream_head(spoof, "198.51.100.1", 0, 0, client),
	    "Host: h\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.7, "
	    "198.51.100.1\r\nForwarded: for=5.6.7.8\r\n"
	    "X-Forwarded-Proto: http\r\nX-Request-Id: rid\r\n\r\n");
	assert_string_equal(client, "198.51.100.1");
	/* Forwarded read: X-Forwarded-For passed on, the client appended */
	assert_string_equal(
	    upstream_head(spoof, "10.0.0.2", 1, 0, client),
	    "Host: h\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.7, "
	    "5.6.7.8\r\nForwarded: for=5.6.7.8\r\n"
	    "X-Forwarded-Proto: http\r\nX-Request-Id: rid\r\n\r\n");
	assert_string_equal(client, "5.6.7.8");
}

static void
test_strip(void **state)
{
	const char *h = upstream_head("GET / HTTP/1.1\r\nHost: h\r\n"
				      "X-Forwarded-For: 1.2.3.4\r\n"
				      "Forwarded: for=5.6.7.8\r\nA: b\r\n"
				      "x-forwarded-for: 9.9.9.9\r\n\r\n",
				      "198.51.100.1", 0, 1, NULL);

	(void)state;
	assert_string_equal(h, "Host: h\r\nA: b\r\n"
			       "X-Forwarded-For: 198.51.100.1\r\n"
			       "X-Forwarded-Proto: http\r\nX-Request-Id: rid"
			       "\r\n\r\n");
	/* strip concerns untrusted peers only */
	h = upstream_head("GET / HTTP/1.1\r\nHost: h\r\n"
			  "X-Forwarded-For: 1.2.3.4\r\n\r\n",
			  "10.0.0.2", 0, 1, NULL);
	assert_string_equal(h, "Host: h\r\nX-Forwarded-For: 1.2.3.4\r\n"
			       "X-Forwarded-Proto: http\r\nX-Request-Id: rid"
			       "\r\n\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_xff_elements),
	    cmocka_unit_test(test_forwarded_elements),
	    cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_walk_bound),
	    cmocka_unit_test(test_upstream_fields),
	    cmocka_unit_test(test_strip),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
