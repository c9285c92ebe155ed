/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the strict HTTP/1.1 parser (src/http/h1_parse.c, h1_chunked.c,
 * h1_salvage.c): the head scanner, request and response heads, the chunked
 * decoder and the salvage of refused heads. Every error case names the
 * status the gateway must answer; no sockets, no I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "h1_parse.h"
#include "hblock.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

#define NHDR 16

/* Limits used by most request tests. */
static const struct sl_h1_limits lim = {
    .max_uri_bytes = 64,
    .max_header_bytes = 1024,
    .max_headers = 10,
};

struct raw_case {
	const char *name;
	const char *raw;
	size_t len;
	int status; /* 0 or the negative status expected */
};

#define CASE(name, raw, st)                                                    \
	{                                                                      \
		name, raw, sizeof(raw) - 1, st                                 \
	}

static long
scan_once(const char *buf, size_t len, const struct sl_h1_limits *l,
	  int is_request)
{
	struct sl_h1_scan s;

	sl_h1_scan_init(&s);
	return sl_h1_scan_head(&s, buf, len, l, is_request);
}

/* Feeds the scanner one more byte per call, as a slow client would. */
static long
scan_bytewise(const char *buf, size_t len, const struct sl_h1_limits *l,
	      int is_request)
{
	struct sl_h1_scan s;
	size_t n;
	long r = 0;

	sl_h1_scan_init(&s);
	for (n = 1; n <= len && r == 0; n++) {
		r = sl_h1_scan_head(&s, buf, n, l, is_request);
		if (r == 0)
			assert_true(s.off <= n);
	}
	return r;
}

/*
 * What the gateway would answer for raw: scan (at once and byte by byte,
 * which must agree), then parse. Also parses raw directly, without the
 * scanner, which must reach the same answer.
 */
static int
request_status(const char *raw, size_t len, struct sl_h1_request *req,
	       struct sl_h1_header *hdrs)
{
	long r1, r2;
	int direct;

	r1 = scan_once(raw, len, &lim, 1);
	r2 = scan_bytewise(raw, len, &lim, 1);
	assert_int_equal(r1, r2);
	req->headers = hdrs;
	req->max_headers = NHDR;
	direct = sl_h1_parse_request(raw, len, req, &lim);
	if (r1 < 0) {
		assert_int_equal(direct, r1);
		return (int)r1;
	}
	assert_int_equal(r1, (long)len);
	return direct;
}

static void
assert_slice(const char *p, size_t n, const char *want)
{
	assert_non_null(p);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(p, want, n);
}

/* ---- valid requests ------------------------------------------------------ */

/* A 417 still reports the framing, so the gateway can keep a connection
 * whose request has no body and close one whose body would follow. */
static void
test_req_expect_417_framing(void **state)
{
	static const char nobody[] = "GET / HTTP/1.1\r\nHost: a\r\n"
				     "Expect: foo\r\n\r\n";
	static const char body[] = "PUT / HTTP/1.1\r\nHost: a\r\n"
				   "Expect: foo\r\nContent-Length: 7\r\n\r\n";
	static const char chunked[] = "PUT / HTTP/1.1\r\nHost: a\r\n"
				      "Transfer-Encoding: chunked\r\n"
				      "Expect: foo\r\n\r\n";
	static const char conn_close[] =
	    "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: close\r\nExpect: foo\r\n\r\n";
	static const char ka10[] =
	    "GET / HTTP/1.0\r\n"
	    "Connection: keep-alive\r\nExpect: foo\r\n\r\n";
	struct sl_h1_header hdrs[NHDR];
	struct sl_h1_request req;

	memset(&req, 0, sizeof(req));
	assert_int_equal(request_status(nobody, sizeof(nobody) - 1, &req, hdrs),
			 -417);
	assert_int_equal(req.body, SL_H1_BODY_NONE);
	memset(&req, 0, sizeof(req));
	assert_int_equal(request_status(body, sizeof(body) - 1, &req, hdrs),
			 -417);
	assert_int_equal(req.body, SL_H1_BODY_LENGTH);
	assert_int_equal(req.content_length, 7);
	memset(&req, 0, sizeof(req));
	assert_int_equal(
	    request_status(chunked, sizeof(chunked) - 1, &req, hdrs), -417);
	assert_int_equal(req.body, SL_H1_BODY_CHUNKED);
	/* and the connection flags, so that a 417 closes when asked to */
	memset(&req, 0, sizeof(req));
	assert_int_equal(
	    request_status(conn_close, sizeof(conn_close) - 1, &req, hdrs),
	    -417);
	assert_true(req.flags & SL_H1_F_CONN_CLOSE);
	memset(&req, 0, sizeof(req));
	assert_int_equal(request_status(ka10, sizeof(ka10) - 1, &req, hdrs),
			 -417);
	assert_true(req.flags & SL_H1_F_CONN_KEEPALIVE);
}

/* RFC 9112 section 9.3: "close" wins in any version, 1.0 needs
 * "keep-alive" to persist. */
static void
test_persists(void **state)
{
	const unsigned c = SL_H1_F_CONN_CLOSE, k = SL_H1_F_CONN_KEEPALIVE;

	assert_true(sl_h1_persists(1, 0));
	assert_true(sl_h1_persists(1, k));
	assert_false(sl_h1_persists(1, c));
	assert_false(sl_h1_persists(1, c | k));
	assert_false(sl_h1_persists(0, 0));
	assert_true(sl_h1_persists(0, k));
	assert_false(sl_h1_persists(0, c));
	assert_false(sl_h1_persists(0, c | k));
}

static void
test_req_get(void **state)
{
	static const char raw[] = "GET /a/b?c=d HTTP/1.1\r\n"
				  "Host: example.com:8080\r\n"
				  "User-Agent:  curl/8 \t\r\n"
				  "Accept: */*\r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_slice(req.method, req.method_len, "GET");
	assert_int_equal(req.method_id, SL_M_GET);
	assert_slice(req.target, req.target_len, "/a/b?c=d");
	assert_slice(req.path, req.path_len, "/a/b?c=d");
	assert_slice(req.host, req.host_len, "example.com:8080");
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.flags, 0);
	assert_int_equal(req.body, SL_H1_BODY_NONE);
	assert_int_equal(req.nheaders, 3);
	assert_ptr_equal(req.headers, h);
	assert_int_equal(req.max_headers, NHDR);
	assert_slice(h[1].name, h[1].name_len, "User-Agent");
	assert_slice(h[1].value, h[1].value_len, "curl/8");
	assert_slice(h[2].value, h[2].value_len, "*/*");
}

static void
test_req_post_length(void **state)
{
	static const char raw[] = "POST /pay HTTP/1.1\r\n"
				  "host: [::1]:9001\r\n"
				  "content-LENGTH: 0012\r\n"
				  "Expect: 100-Continue\r\n"
				  "Connection: keep-alive\r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.method_id, SL_M_POST);
	assert_int_equal(req.body, SL_H1_BODY_LENGTH);
	assert_int_equal(req.content_length, 12);
	assert_slice(req.host, req.host_len, "[::1]:9001");
	assert_int_equal(req.flags,
			 SL_H1_F_EXPECT_CONTINUE | SL_H1_F_CONN_KEEPALIVE);
}

static void
test_req_chunked(void **state)
{
	static const char raw[] = "PUT /x HTTP/1.1\r\n"
				  "Host: a\r\n"
				  "Transfer-Encoding:  Chunked \r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.method_id, SL_M_PUT);
	assert_int_equal(req.body, SL_H1_BODY_CHUNKED);
	assert_int_equal(req.content_length, 0);
}

static void
test_req_http10_no_host(void **state)
{
	static const char raw[] = "GET / HTTP/1.0\r\n"
				  "Content-Length: 0\r\n"
				  "Expect: 100-continue\r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.minor, 0);
	assert_null(req.host);
	assert_int_equal(req.body, SL_H1_BODY_NONE);
	/* RFC 9110 10.1.1: 100-continue is ignored in HTTP/1.0. */
	assert_int_equal(req.flags, 0);
}

static void
test_req_absolute_form(void **state)
{
	static const char raw1[] = "GET HTTPS://api.example.com:443/v1/x?y=1 "
				   "HTTP/1.1\r\n"
				   "Host: other.example\r\n"
				   "\r\n";
	static const char raw2[] = "DELETE http://10.0.0.1 HTTP/1.1\r\n"
				   "Host: 10.0.0.1\r\n"
				   "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw1, sizeof(raw1) - 1, &req, h), 0);
	assert_true(req.flags & SL_H1_F_ABSOLUTE_FORM);
	assert_slice(req.host, req.host_len, "api.example.com:443");
	assert_slice(req.path, req.path_len, "/v1/x?y=1");
	assert_slice(req.target, req.target_len,
		     "HTTPS://api.example.com:443/v1/x?y=1");

	assert_int_equal(request_status(raw2, sizeof(raw2) - 1, &req, h), 0);
	assert_int_equal(req.method_id, SL_M_DELETE);
	assert_slice(req.host, req.host_len, "10.0.0.1");
	assert_slice(req.path, req.path_len, "/");
}

static void
test_req_asterisk_options(void **state)
{
	static const char raw[] = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.method_id, SL_M_OPTIONS);
	assert_slice(req.path, req.path_len, "*");
}

static void
test_req_obs_text(void **state)
{
	static const char raw[] = "GET / HTTP/1.1\r\n"
				  "Host: a\r\n"
				  "X-Name: caf\xc3\xa9 \x80\xff\r\n"
				  "X-Empty:\r\n"
				  "X-Ws: \t \r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.nheaders, 4);
	assert_slice(h[1].value, h[1].value_len, "caf\xc3\xa9 \x80\xff");
	assert_int_equal(h[2].value_len, 0);
	assert_int_equal(h[3].value_len, 0);
}

static void
test_req_connection_tokens(void **state)
{
	static const char raw[] = "GET / HTTP/1.1\r\n"
				  "Host: a\r\n"
				  "Connection: Keep-Alive ,\tX-Foo\r\n"
				  "Connection: CLOSE\r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.flags, SL_H1_F_CONN_KEEPALIVE |
					SL_H1_F_CONN_OTHER |
					SL_H1_F_CONN_CLOSE);
	assert_int_equal(req.nheaders, 3);
	assert_slice(h[1].value, h[1].value_len, "Keep-Alive ,\tX-Foo");
}

static void
test_req_leading_crlf(void **state)
{
	static const char raw[] = "\r\n\r\nHEAD /h HTTP/1.1\r\nHost: a\r\n\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;

	(void)state;
	assert_int_equal(request_status(raw, sizeof(raw) - 1, &req, h), 0);
	assert_int_equal(req.method_id, SL_M_HEAD);
	assert_slice(req.path, req.path_len, "/h");
}

/* Requests that are unusual but valid. */
static const struct raw_case valid_requests[] = {
    CASE("lowercase method is a token", "get / HTTP/1.1\r\nHost: a\r\n\r\n", 0),
    CASE("odd token method", "M-SEARCH! / HTTP/1.1\r\nHost: a\r\n\r\n", 0),
    CASE("HTTP/1.9 is 1.1", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", 0),
    CASE("IPv4 host", "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", 0),
    CASE("IPv6 host", "GET / HTTP/1.1\r\nHost: [2001:db8::7]\r\n\r\n", 0),
    CASE("IPv6 v4 tail", "GET / HTTP/1.1\r\nHost: [::ffff:1.2.3.4]:1\r\n\r\n",
	 0),
    CASE("IPvFuture", "GET / HTTP/1.1\r\nHost: [v1.x:y]\r\n\r\n", 0),
    CASE("pct-encoded reg-name", "GET / HTTP/1.1\r\nHost: a%41b\r\n\r\n", 0),
    CASE("CL zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	 0),
    CASE("largest CL",
	 "POST / HTTP/1.1\r\nHost: a\r\n"
	 "Content-Length: 9223372036854775807\r\n\r\n",
	 0),
    CASE("target with odd VCHARs",
	 "GET /a|b{c}^`\"<> HTTP/1.1\r\nHost: a\r\n\r\n", 0),
    CASE("10 fields",
	 "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\n"
	 "A: 5\r\nA: 6\r\nA: 7\r\nA: 8\r\nA: 9\r\n\r\n",
	 0),
    CASE("64-byte target",
	 "GET /234567890123456789012345678901234567890123456789012345678901234"
	 " HTTP/1.1\r\nHost: a\r\n\r\n",
	 0),
};

static void
test_req_valid_table(void **state)
{
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]);
	     i++) {
		const struct raw_case *c = &valid_requests[i];
		int r = request_status(c->raw, c->len, &req, h);

		if (r != c->status)
			fail_msg("%s: got %d, want %d", c->name, r, c->status);
	}
}

/* ---- malformed requests ------------------------------------------------ */

static const struct raw_case bad_requests[] = {
    /* framing: smuggling shapes */
    CASE("CL+TE",
	 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 -400),
    CASE("TE+CL",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	 "Content-Length: 5\r\n\r\n",
	 -400),
    CASE("TE gzip + CL",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	 "Content-Length: 5\r\n\r\n",
	 -400),
    CASE("duplicate CL, equal",
	 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	 "Content-Length: 5\r\n\r\n",
	 -400),
    CASE("duplicate CL, differing",
	 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	 "Content-Length: 6\r\n\r\n",
	 -400),
    CASE("CL +5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
	 -400),
    CASE("CL -1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	 -400),
    CASE("CL 5 5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n",
	 -400),
    CASE("CL 0x5", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
	 -400),
    CASE("CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\n",
	 -400),
    CASE("CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	 -400),
    CASE("CL 2^63",
	 "POST / HTTP/1.1\r\nHost: a\r\n"
	 "Content-Length: 9223372036854775808\r\n\r\n",
	 -400),
    CASE("CL 2^64+",
	 "POST / HTTP/1.1\r\nHost: a\r\n"
	 "Content-Length: 184467440737095516160\r\n\r\n",
	 -400),
    CASE("TE gzip",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", -501),
    CASE("TE gzip, chunked",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
	 "chunked\r\n\r\n",
	 -501),
    CASE("TE chunked with parameter",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
	 -501),
    CASE("TE chunked, chunked",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n"
	 "\r\n",
	 -400),
    CASE("TE chunked, gzip",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
	 "gzip\r\n\r\n",
	 -400),
    CASE("TE trailing comma",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
	 -400),
    CASE("TE empty element",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n",
	 -400),
    CASE("TE junk",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n",
	 -400),
    CASE("TE bad parameter",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;\r\n\r\n",
	 -400),
    CASE("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
	 -400),
    CASE("two TE fields",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	 "Transfer-Encoding: chunked\r\n\r\n",
	 -400),
    CASE("TE in HTTP/1.0",
	 "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400),
    CASE("TE vertical tab",
	 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0b"
	 "chunked\r\n\r\n",
	 -400),
    /* line endings and invalid bytes */
    CASE("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", -400),
    CASE("bare LF after field", "GET / HTTP/1.1\r\nHost: a\n\r\n", -400),
    CASE("bare LF final", "GET / HTTP/1.1\r\nHost: a\r\n\n", -400),
    CASE("bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
	 -400),
    CASE("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
	 -400),
    CASE("CR CR LF", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", -400),
    CASE("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", -400),
    CASE("obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
	 -400),
    CASE("whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	 -400),
    CASE("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400),
    CASE("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", -400),
    CASE("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", -400),
    CASE("CTL in value",
	 "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
	 "b\r\n\r\n",
	 -400),
    CASE("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", -400),
    CASE("ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n",
	 -400),
    CASE("CTL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\x01Y: b\r\n\r\n", -400),
    CASE("obs-text in name", "GET / HTTP/1.1\r\nHost: a\r\nX\xe9: b\r\n\r\n",
	 -400),
    CASE("separator in name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n",
	 -400),
    CASE("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", -400),
    CASE("no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", -400),
    CASE("NUL in request line", "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    /* Host */
    CASE("missing Host in 1.1", "GET / HTTP/1.1\r\nX: a\r\n\r\n", -400),
    CASE("missing Host, absolute-form", "GET http://a/ HTTP/1.1\r\n\r\n", -400),
    CASE("duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
	 -400),
    CASE("duplicate Host in 1.0",
	 "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", -400),
    CASE("empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", -400),
    CASE("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -400),
    CASE("Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -400),
    CASE("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", -400),
    CASE("Host bad port", "GET / HTTP/1.1\r\nHost: a:http\r\n\r\n", -400),
    CASE("Host port too big", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", -400),
    CASE("Host empty port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", -400),
    CASE("Host only port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", -400),
    CASE("Host open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", -400),
    CASE("Host bad IPv6", "GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", -400),
    CASE("Host IPv6 two ::", "GET / HTTP/1.1\r\nHost: [1::2::3]\r\n\r\n", -400),
    CASE("Host IPv6 9 groups",
	 "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n", -400),
    CASE("Host bad pct", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", -400),
    CASE("Host obs-text", "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", -400),
    /* limits */
    CASE("URI too long",
	 "GET /2345678901234567890123456789012345678901234567890123456789012345"
	 " HTTP/1.1\r\nHost: a\r\n\r\n",
	 -414),
    CASE("too many fields",
	 "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\n"
	 "A: 5\r\nA: 6\r\nA: 7\r\nA: 8\r\nA: 9\r\nA: 10\r\n\r\n",
	 -431),
    /* request line */
    CASE("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505),
    CASE("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", -505),
    CASE("HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", -505),
    CASE("HTTP/0.9 syntax", "GET /\r\n\r\n", -400),
    CASE("lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("version extra char", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", -400),
    CASE("version 1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", -400),
    CASE("version 11.1", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", -400),
    CASE("version no minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", -400),
    CASE("CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example\r\n\r\n",
	 -405),
    CASE("CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("CONNECT no port", "CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n",
	 -400),
    CASE("Expect foo", "GET / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n",
	 -417),
    CASE("Expect 100-continues",
	 "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continues\r\n\r\n", -417),
    CASE("Expect empty", "GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n", -417),
    CASE("bad char in method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("obs-text in method", "G\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("double SP after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("double SP before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
	 -400),
    CASE("SP at end of request line", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
	 -400),
    CASE("leading SP", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("tab before version", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("no target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
	 -400),
    CASE("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("CTL in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("asterisk plus", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("authority-form with GET",
	 "GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("absolute-form userinfo",
	 "GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("absolute-form ftp", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("absolute-form empty host",
	 "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("absolute-form query without path",
	 "GET http://a?x HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    CASE("absolute-form bad port",
	 "GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n", -400),
    /* Connection */
    CASE("Connection empty element",
	 "GET / HTTP/1.1\r\nHost: a\r\nConnection: close,,x\r\n\r\n", -400),
    CASE("Connection space in token",
	 "GET / HTTP/1.1\r\nHost: a\r\nConnection: clo se\r\n\r\n", -400),
    CASE("Connection empty", "GET / HTTP/1.1\r\nHost: a\r\nConnection:\r\n\r\n",
	 -400),
    CASE("Connection separator",
	 "GET / HTTP/1.1\r\nHost: a\r\nConnection: close;x\r\n\r\n", -400),
    /* 400 wins over 501 and 417 */
    CASE("TE gzip without Host",
	 "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", -400),
    CASE("Expect foo with bad CL",
	 "POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nContent-Length: "
	 "x\r\n\r\n",
	 -400),
};

static void
test_req_bad_table(void **state)
{
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;
	size_t i, n = sizeof(bad_requests) / sizeof(bad_requests[0]);

	(void)state;
	assert_true(n >= 40);
	for (i = 0; i < n; i++) {
		const struct raw_case *c = &bad_requests[i];
		int r = request_status(c->raw, c->len, &req, h);

		if (r != c->status)
			fail_msg("%s: got %d, want %d", c->name, r, c->status);
	}
}

static void
test_req_limits(void **state)
{
	static const char raw[] =
	    "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n"
	    "\r\n";
	struct sl_h1_limits tight = {64, 1024, 2};
	struct sl_h1_header h[NHDR];
	struct sl_h1_request req;
	char big[2048];
	size_t n;

	(void)state;
	/* The caller's array is smaller than lim->max_headers. */
	req.headers = h;
	req.max_headers = 2;
	assert_int_equal(sl_h1_parse_request(raw, sizeof(raw) - 1, &req, &lim),
			 -431);
	req.max_headers = 3;
	assert_int_equal(sl_h1_parse_request(raw, sizeof(raw) - 1, &req, &lim),
			 0);
	/* lim->max_headers smaller than the array. */
	req.max_headers = NHDR;
	assert_int_equal(
	    sl_h1_parse_request(raw, sizeof(raw) - 1, &req, &tight), -431);
	assert_int_equal(scan_once(raw, sizeof(raw) - 1, &tight, 1), -431);
	/* No limits at all. */
	assert_int_equal(sl_h1_parse_request(raw, sizeof(raw) - 1, &req, NULL),
			 0);
	assert_int_equal(scan_once(raw, sizeof(raw) - 1, NULL, 1),
			 (long)sizeof(raw) - 1);

	/* A head longer than max_header_bytes, complete or not. */
	n = (size_t)snprintf(big, sizeof(big),
			     "GET / HTTP/1.1\r\nHost: a\r\nX: %01000d\r\n\r\n",
			     7);
	assert_true(n > 1024);
	assert_int_equal(scan_once(big, n, &lim, 1), -431);
	assert_int_equal(scan_bytewise(big, n, &lim, 1), -431);
	assert_int_equal(sl_h1_parse_request(big, n, &req, &lim), -431);
	assert_int_equal(scan_once(big, 1025, &lim, 1), -431);
	assert_int_equal(scan_once(big, 1024, &lim, 1), 0);
}

/* ---- scanner ---------------------------------------------------------------
 */

static void
test_scan_incremental(void **state)
{
	static const char raw[] = "GET /abc HTTP/1.1\r\nHost: a\r\n\r\nBODY";
	size_t head = sizeof(raw) - 1 - 4;
	struct sl_h1_scan s;

	(void)state;
	sl_h1_scan_init(&s);
	assert_int_equal(sl_h1_scan_head(&s, raw, 6, &lim, 1), 0);
	assert_int_equal(s.off, 6);
	assert_int_equal(s.sp1, 3);
	assert_int_equal(s.sp2, 0);
	/* A CR at the end is looked at again once its LF can be seen. */
	assert_int_equal(sl_h1_scan_head(&s, raw, 18, &lim, 1), 0);
	assert_int_equal(s.off, 17);
	assert_int_equal(s.sp2, 8);
	assert_int_equal(s.nlines, 0);
	assert_int_equal(sl_h1_scan_head(&s, raw, 19, &lim, 1), 0);
	assert_int_equal(s.nlines, 1);
	assert_int_equal(s.line_start, 19);
	assert_int_equal(sl_h1_scan_head(&s, raw, head - 1, &lim, 1), 0);
	assert_int_equal(sl_h1_scan_head(&s, raw, sizeof(raw) - 1, &lim, 1),
			 (long)head);
	assert_int_equal(s.nlines, 2);
}

static void
test_scan_early_errors(void **state)
{
	char buf[4096];
	struct sl_h1_scan s;
	size_t i;

	(void)state;
	/* 414 is known before the request line ends. */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', 100);
	assert_int_equal(scan_once(buf, 5 + 63, &lim, 1), 0);
	assert_int_equal(scan_once(buf, 5 + 64, &lim, 1), -414);
	assert_int_equal(scan_once(buf, 5 + 64, &lim, 0), 0);

	/* Field lines are counted as they complete. */
	i = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	while (i < 200)
		i += (size_t)snprintf(buf + i, sizeof(buf) - i, "A: b\r\n");
	assert_int_equal(scan_once(buf, i, &lim, 1), -431);
	assert_int_equal(scan_once(buf, i, &lim, 0), -502);

	/* Bare CR / LF and NUL as soon as they are seen. */
	assert_int_equal(scan_once("GET / HTTP/1.1\n", 15, &lim, 1), -400);
	assert_int_equal(scan_once("GET / HTTP/1.1\rX", 16, &lim, 1), -400);
	assert_int_equal(scan_once("GET / HTTP/1.1\r", 15, &lim, 1), 0);
	assert_int_equal(scan_once("GE\0", 3, &lim, 1), -400);
	assert_int_equal(scan_once("HTTP/1.1 200\n", 13, &lim, 0), -502);
	assert_int_equal(scan_once("\r\nHTTP/1.1 200", 14, &lim, 0), -502);
	assert_int_equal(scan_once(" GET", 4, &lim, 1), -400);

	/* Repeated calls with the same length examine nothing new. */
	sl_h1_scan_init(&s);
	memset(buf, 'x', 1100);
	assert_int_equal(sl_h1_scan_head(&s, buf, 1000, &lim, 1), 0);
	assert_int_equal(s.off, 1000);
	assert_int_equal(sl_h1_scan_head(&s, buf, 1000, &lim, 1), 0);
	assert_int_equal(s.off, 1000);
	assert_int_equal(sl_h1_scan_head(&s, buf, 1025, &lim, 1), -431);
}

/* ---- responses ------------------------------------------------------------
 */

struct resp_case {
	const char *name;
	const char *raw;
	size_t len;
	enum sl_h1_method method;
	int status; /* 0 or -502 */
	enum sl_h1_body body;
	uint64_t content_length;
};

#define RCASE(name, raw, m, st, body, cl)                                      \
	{                                                                      \
		name, raw, sizeof(raw) - 1, m, st, body, cl                    \
	}

static const struct resp_case responses[] = {
    RCASE("200 with CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
	  SL_M_GET, 0, SL_H1_BODY_LENGTH, 5),
    RCASE("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  SL_M_GET, 0, SL_H1_BODY_CHUNKED, 0),
    RCASE("until close", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", SL_M_GET, 0,
	  SL_H1_BODY_CLOSE, 0),
    RCASE("CL 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", SL_M_GET, 0,
	  SL_H1_BODY_NONE, 0),
    RCASE("204", "HTTP/1.1 204 No Content\r\n\r\n", SL_M_DELETE, 0,
	  SL_H1_BODY_NONE, 0),
    RCASE("204 CL 0", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
	  SL_M_DELETE, 0, SL_H1_BODY_NONE, 0),
    RCASE("304 with CL",
	  "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", SL_M_GET,
	  0, SL_H1_BODY_NONE, 99),
    RCASE("HEAD with CL", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
	  SL_M_HEAD, 0, SL_H1_BODY_NONE, 99),
    RCASE("HEAD with TE",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", SL_M_HEAD, 0,
	  SL_H1_BODY_NONE, 0),
    RCASE("100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", SL_M_POST, 0,
	  SL_H1_BODY_NONE, 0),
    RCASE("empty reason with SP", "HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n",
	  SL_M_GET, 0, SL_H1_BODY_LENGTH, 1),
    RCASE("no SP, no reason", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n",
	  SL_M_GET, 0, SL_H1_BODY_LENGTH, 1),
    RCASE("reason with obs-text and tab",
	  "HTTP/1.1 404 Nicht \tgef\xfcnden\r\n\r\n", SL_M_GET, 0,
	  SL_H1_BODY_CLOSE, 0),
    RCASE("identical CL twice",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
	  SL_M_GET, 0, SL_H1_BODY_LENGTH, 3),
    RCASE("HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 3\r\n\r\n", SL_M_GET,
	  0, SL_H1_BODY_LENGTH, 3),
    RCASE("status 599", "HTTP/1.1 599 x\r\n\r\n", SL_M_GET, 0, SL_H1_BODY_CLOSE,
	  0),
    /* malformed */
    RCASE("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("lowercase http", "http/1.1 200 OK\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", SL_M_GET, -502, 0,
	  0),
    RCASE("status 099", "HTTP/1.1 099 OK\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("status 600", "HTTP/1.1 600 X\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("status 999", "HTTP/1.1 999 X\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("double SP", "HTTP/1.1  200 OK\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("NUL in reason", "HTTP/1.1 200 O\0K\r\n\r\n", SL_M_GET, -502, 0, 0),
    RCASE("CL+TE",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("differing CL",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("CL +1", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", SL_M_GET,
	  -502, 0, 0),
    RCASE("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("TE gzip, chunked",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("204 with TE",
	  "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("204 with CL 5",
	  "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", SL_M_GET,
	  -502, 0, 0),
    RCASE("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", SL_M_GET,
	  -502, 0, 0),
    RCASE("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", SL_M_GET, -502,
	  0, 0),
    RCASE("space before colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", SL_M_GET,
	  -502, 0, 0),
    RCASE("bad Connection", "HTTP/1.1 200 OK\r\nConnection: ,\r\n\r\n",
	  SL_M_GET, -502, 0, 0),
    RCASE("leading CRLF", "\r\nHTTP/1.1 200 OK\r\n\r\n", SL_M_GET, -502, 0, 0),
};

static void
test_resp_table(void **state)
{
	struct sl_h1_header h[NHDR];
	struct sl_h1_response resp;
	size_t i, nbad = 0;
	long r1, r2;
	int r;

	(void)state;
	for (i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		const struct resp_case *c = &responses[i];

		r1 = scan_once(c->raw, c->len, &lim, 0);
		r2 = scan_bytewise(c->raw, c->len, &lim, 0);
		if (r1 != r2 || (r1 > 0 && r1 != (long)c->len) ||
		    (r1 < 0 && r1 != -502))
			fail_msg("%s: scan %ld / %ld", c->name, r1, r2);
		resp.headers = h;
		resp.max_headers = NHDR;
		r = sl_h1_parse_response(c->raw, c->len, &resp, c->method);
		if (r != c->status)
			fail_msg("%s: got %d, want %d", c->name, r, c->status);
		if (r != 0) {
			nbad++;
			continue;
		}
		if (resp.body != c->body ||
		    resp.content_length != c->content_length)
			fail_msg("%s: body %d/%llu, want %d/%llu", c->name,
				 (int)resp.body,
				 (unsigned long long)resp.content_length,
				 (int)c->body,
				 (unsigned long long)c->content_length);
	}
	assert_true(nbad >= 10);
}

static void
test_resp_fields(void **state)
{
	static const char raw[] = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Connection: close\r\n"
				  "Retry-After:  5 \r\n"
				  "\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_response resp;

	(void)state;
	resp.headers = h;
	resp.max_headers = NHDR;
	assert_int_equal(
	    sl_h1_parse_response(raw, sizeof(raw) - 1, &resp, SL_M_GET), 0);
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.minor, 1);
	assert_slice(resp.reason, resp.reason_len, "Service Unavailable");
	assert_int_equal(resp.flags, SL_H1_F_CONN_CLOSE);
	assert_int_equal(resp.nheaders, 2);
	assert_slice(h[1].value, h[1].value_len, "5");
	assert_int_equal(resp.body, SL_H1_BODY_CLOSE);
	/* Too many fields for the caller's array. */
	resp.max_headers = 1;
	assert_int_equal(
	    sl_h1_parse_response(raw, sizeof(raw) - 1, &resp, SL_M_GET), -502);
}

/* ---- chunked ----------------------------------------------------------------
 */

struct chunk_result {
	int ret;
	size_t consumed;
	char data[512];
	size_t data_len;
};

/* Decodes raw in pieces of step bytes (0 = all at once) from a copy. */
static void
decode(const char *raw, size_t len, size_t step, int compact,
       size_t max_trailer, struct chunk_result *out)
{
	struct sl_h1_chunked c;
	char buf[1024];
	size_t off = 0, n, consumed, dl;
	int r = 0;

	assert_true(len <= sizeof(buf));
	memcpy(buf, raw, len);
	memset(out, 0, sizeof(*out));
	sl_h1_chunked_init(&c, max_trailer);
	while (off < len && r == 0) {
		n = step == 0 || len - off < step ? len - off : step;
		r = sl_h1_chunked_decode(&c, buf + off, n, compact, &consumed,
					 &dl);
		assert_true(consumed <= n);
		assert_true(dl <= consumed);
		if (r == 0)
			assert_int_equal(consumed, n); /* all input is used */
		if (compact) {
			assert_true(out->data_len + dl <= sizeof(out->data));
			memcpy(out->data + out->data_len, buf + off, dl);
		} else {
			assert_memory_equal(buf + off, raw + off, n);
		}
		out->data_len += dl;
		off += consumed;
	}
	out->ret = r;
	out->consumed = off;
	assert_int_equal(c.done, r == 1);
}

struct chunk_case {
	const char *name;
	const char *raw;
	size_t len;
	int ret;	  /* 1, 0 or -400 */
	const char *data; /* payload when ret == 1 */
	size_t consumed;  /* when ret == 1 */
};

#define CCASE(name, raw, ret, data, consumed)                                  \
	{                                                                      \
		name, raw, sizeof(raw) - 1, ret, data, consumed                \
	}

static const struct chunk_case chunk_cases[] = {
    CCASE("one chunk", "5\r\nhello\r\n0\r\n\r\n", 1, "hello", 15),
    CCASE("two chunks, hex", "A\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n", 1,
	  "0123456789x", 26),
    CCASE("lower hex, leading zeros", "000b\r\nhello world\r\n0000\r\n\r\n", 1,
	  "hello world", 27),
    CCASE("trailing bytes not consumed", "1\r\na\r\n0\r\n\r\nGET / ", 1, "a",
	  11),
    CCASE("extensions",
	  "5;a=b;c=\"q\\\"x y\" ; d\t;e = f\r\nhello\r\n0;last\r\n\r\n", 1,
	  "hello", 46),
    CCASE("extension BWS before ;", "1 ;x\r\nz\r\n0\r\n\r\n", 1, "z", 14),
    CCASE("trailers", "2\r\nhi\r\n0\r\nX-Sum: abc\r\nX-Empty:\r\n\r\n", 1, "hi",
	  34),
    CCASE("data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 1, "\r\n\r\n",
	  14),
    CCASE("only last chunk", "0\r\n\r\n", 1, "", 5),
    CCASE("16 hex digits", "0000000000000001\r\nx\r\n0\r\n\r\n", 1, "x", 26),
    /* the size lines chunked_run reads at once (size_line), as the
     * HTTP/2 codec writes them, and the largest size it takes */
    CCASE("8 hex digits, upper case",
	  "0000000A\r\n0123456789\r\n0000000B\r\nhello world\r\n0\r\n\r\n", 1,
	  "0123456789hello world", 50),
    CCASE("the largest size", "7fffffffffffffff\r\nab", 0, NULL, 0),
    CCASE("incomplete", "5\r\nhel", 0, NULL, 0),
    CCASE("incomplete trailer", "0\r\nX: y\r\n", 0, NULL, 0),
    CCASE("trailer named like a forbidden one, longer",
	  "0\r\nContent-Length-X: 1\r\nHosts: a\r\n\r\n", 1, "", 36),
    CCASE("trailer with a name longer than the name buffer",
	  "0\r\nX-0123456789012345678901234567890123456789: 1\r\n\r\n", 1, "",
	  52),
    /* forbidden trailer fields (RFC 9110 section 6.5.1) */
    CCASE("trailer Content-Length", "0\r\nContent-Length: 5\r\n\r\n", -400,
	  NULL, 0),
    CCASE("trailer Transfer-Encoding",
	  "0\r\nX: 1\r\ntransfer-encoding: chunked\r\n\r\n", -400, NULL, 0),
    CCASE("trailer Host", "0\r\nHOST: evil\r\n\r\n", -400, NULL, 0),
    CCASE("trailer Connection", "0\r\nConnection: close\r\n\r\n", -400, NULL,
	  0),
    CCASE("trailer X-Request-Id", "0\r\nx-REQUEST-id: 1\r\n\r\n", -400, NULL,
	  0),
    CCASE("trailer X-Forwarded-For", "0\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
	  -400, NULL, 0),
    CCASE("trailer Trailer", "0\r\nTrailer: X\r\n\r\n", -400, NULL, 0),
    /* malformed */
    CCASE("bad hex", "g\r\n", -400, NULL, 0),
    CCASE("empty size", "\r\nhello\r\n", -400, NULL, 0),
    CCASE("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", -400, NULL, 0),
    CCASE("sign", "+5\r\nhello\r\n0\r\n\r\n", -400, NULL, 0),
    CCASE("negative", "-5\r\nhello\r\n0\r\n\r\n", -400, NULL, 0),
    CCASE("17 hex digits", "00000000000000001\r\nx\r\n0\r\n\r\n", -400, NULL,
	  0),
    CCASE("overflow 2^63", "8000000000000000\r\n", -400, NULL, 0),
    CCASE("overflow 2^64-1", "ffffffffffffffff\r\n", -400, NULL, 0),
    CCASE("missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", -400, NULL, 0),
    CCASE("LF only after data", "5\r\nhello\n0\r\n\r\n", -400, NULL, 0),
    CCASE("CR only after data", "5\r\nhello\r0\r\n\r\n", -400, NULL, 0),
    CCASE("bare LF after size", "5\nhello\r\n0\r\n\r\n", -400, NULL, 0),
    CCASE("bare CR after size", "5\rhello\r\n0\r\n\r\n", -400, NULL, 0),
    CCASE("trailing whitespace in size line", "5 \r\nhello\r\n", -400, NULL, 0),
    CCASE("space inside size", "1 0\r\n", -400, NULL, 0),
    CCASE("empty extension", "5;\r\nhello\r\n", -400, NULL, 0),
    CCASE("extension without name", "5;=x\r\nhello\r\n", -400, NULL, 0),
    CCASE("extension without value", "5;a=\r\nhello\r\n", -400, NULL, 0),
    CCASE("extension bad char", "5;a@b\r\nhello\r\n", -400, NULL, 0),
    CCASE("unterminated quoted", "5;a=\"x\r\nhello\r\n", -400, NULL, 0),
    CCASE("CTL in extension", "5;a=\x01\r\n", -400, NULL, 0),
    CCASE("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", -400, NULL, 0),
    CCASE("trailer without colon", "0\r\nXa\r\n\r\n", -400, NULL, 0),
    CCASE("trailer space before colon", "0\r\nX : a\r\n\r\n", -400, NULL, 0),
    CCASE("trailer empty name", "0\r\n: a\r\n\r\n", -400, NULL, 0),
    CCASE("trailer NUL", "0\r\nX: a\0\r\n\r\n", -400, NULL, 0),
    CCASE("trailer bare LF", "0\r\nX: a\n\r\n", -400, NULL, 0),
    CCASE("final bare LF", "0\r\n\n", -400, NULL, 0),
    CCASE("final CR junk", "0\r\n\rx", -400, NULL, 0),
    CCASE("oversized trailer",
	  "0\r\nX-Long: 0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789\r\n\r\n",
	  -400, NULL, 0),
};

static void
test_chunked_table(void **state)
{
	static const size_t steps[] = {0, 1, 2, 3, 7};
	struct chunk_result whole, part;
	size_t i, j, k, nbad = 0;

	(void)state;
	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		const struct chunk_case *c = &chunk_cases[i];

		nbad += c->ret < 0;
		for (k = 0; k < 2; k++) {
			decode(c->raw, c->len, 0, (int)k, 64, &whole);
			if (whole.ret != c->ret)
				fail_msg("%s: got %d, want %d", c->name,
					 whole.ret, c->ret);
			if (c->ret == 1) {
				assert_int_equal(whole.consumed, c->consumed);
				assert_int_equal(whole.data_len,
						 strlen(c->data));
				if (k == 1)
					assert_memory_equal(whole.data, c->data,
							    whole.data_len);
			}
			for (j = 1; j < sizeof(steps) / sizeof(steps[0]); j++) {
				decode(c->raw, c->len, steps[j], (int)k, 64,
				       &part);
				if (part.ret != whole.ret ||
				    part.consumed != whole.consumed ||
				    part.data_len != whole.data_len ||
				    (k == 1 && memcmp(part.data, whole.data,
						      whole.data_len) != 0))
					fail_msg("%s: step %zu differs",
						 c->name, steps[j]);
			}
		}
	}
	assert_true(nbad >= 10);
}

/* The fields a trailer section may not hold (RFC 9110 section 6.5.1, and
 * sluice's own): each of them in any case, the route's own request-id
 * field, and names that only look like them. */
static void
test_trailer_forbidden(void **state)
{
	static const char *const bad[] = {
	    "content-length",
	    "Transfer-Encoding",
	    "TRAILER",
	    "host",
	    "Expect",
	    "connection",
	    "Keep-Alive",
	    "proxy-connection",
	    "TE",
	    "upgrade",
	    "X-Forwarded-For",
	    "x-forwarded-proto",
	    "X-Request-Id",
	};
	static const char *const good[] = {
	    "grpc-status",
	    "grpc-message",
	    "t",
	    "tf",
	    "hosts",
	    "expects",
	    "trailers",
	    "upgrades",
	    "x-request-ie",
	    "content-lengthy",
	    "x-forwarded-fox",
	    "x-forwarded-prots",
	    "transfer-encodinf",
	    "keep-alivf",
	    "connectiom",
	    "server-timing",
	    "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    sl_h1_trailer_forbidden(bad[i], strlen(bad[i]), NULL), 1);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(
		    sl_h1_trailer_forbidden(good[i], strlen(good[i]), NULL), 0);
	assert_int_equal(sl_h1_trailer_forbidden("X-Trace", 7, "x-trace"), 1);
	assert_int_equal(sl_h1_trailer_forbidden("X-Trace", 7, "x-tracf"), 0);
	assert_int_equal(sl_h1_trailer_forbidden("X-Trac", 6, "x-trace"), 0);
}

/* A trailers block of n fields name: value into blk. */
static void
trailers_block(char *blk, const char *const (*f)[2], size_t n)
{
	struct sl_hblk b;
	size_t len = sizeof(b);

	sl_hblk_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		len += sl_hblk_put(blk + len, f[i][0], strlen(f[i][0]), f[i][1],
				   strlen(f[i][1]));
	b.len = (uint32_t)len;
	b.nfields = (uint16_t)n;
	memcpy(blk, &b, sizeof(b));
}

/* Trailers as a field block (an HTTP/2 request's) get the decoder's
 * checks of a trailer section: count, bytes as text, characters, the
 * forbidden names and the listener's own. */
static void
test_trailers_block_check(void **state)
{
	static const char *const ok[][2] = {{"x-sum", "42"},
					    {"grpc-status", "0"}};
	static const char *const fwd[][2] = {{"x-sum", "1"},
					     {"X-Forwarded-For", "1.2.3.4"}};
	static const char *const own[][2] = {{"x-client-subject", "cn=a"}};
	static const char *const name[][2] = {{"x sum", "1"}};
	static const char *const value[][2] = {{"x-sum", "a\001b"}};
	static const char *const ws[][2] = {{"x-sum", "a b\tc"}};
	char blk[512];

	(void)state;
	trailers_block(blk, ok, 2);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 10, NULL),
			 SL_H1_R_NONE);
	/* "x-sum: 42" CRLF and "grpc-status: 0" CRLF: 11 + 16 bytes */
	assert_int_equal(sl_h1_trailers_check(blk, 27, 10, NULL), SL_H1_R_NONE);
	assert_int_equal(sl_h1_trailers_check(blk, 26, 10, NULL),
			 SL_H1_R_TRAILER_TOO_LARGE);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 1, NULL),
			 SL_H1_R_TRAILER_TOO_LARGE);
	trailers_block(blk, fwd, 2);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 10, NULL),
			 SL_H1_R_FORBIDDEN_TRAILER);
	trailers_block(blk, own, 1);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 10, NULL),
			 SL_H1_R_NONE);
	assert_int_equal(
	    sl_h1_trailers_check(blk, 1000, 10, "X-Client-Subject"),
	    SL_H1_R_FORBIDDEN_TRAILER);
	trailers_block(blk, name, 1);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 10, NULL),
			 SL_H1_R_BAD_TRAILER);
	trailers_block(blk, value, 1);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 10, NULL),
			 SL_H1_R_BAD_TRAILER);
	trailers_block(blk, ws, 1);
	assert_int_equal(sl_h1_trailers_check(blk, 1000, 10, NULL),
			 SL_H1_R_NONE);
	trailers_block(blk, ok, 0);
	assert_int_equal(sl_h1_trailers_check(blk, 0, 0, NULL), SL_H1_R_NONE);
}

/*
 * sl_h1_chunked_unframe, as the exchange takes the framing off for a codec
 * of fields (proxy/exchange_resp.c): the payload compacted, and the
 * trailer section's text left where it came and found, for every split
 * of the body into two reads; the text made a field block.
 */
static void
test_chunked_unframe_finds_the_trailers(void **state)
{
	static const char raw[] = "3;x=\"q\"\r\nabc\r\n10\r\n0123456789abcdef"
				  "\r\n0\r\nGrpc-Status: 0\r\nX-T:\t v w \r\n"
				  "\r\n";
	static const char trl[] = "Grpc-Status: 0\r\nX-T:\t v w \r\n\r\n";
	const size_t len = sizeof(raw) - 1;

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct sl_h1_chunked c;
		char buf[sizeof(raw)], payload[32], text[64];
		size_t at = 0, np = 0, nt = 0;
		int r = 0;

		memcpy(buf, raw, sizeof(raw));
		sl_h1_chunked_init(&c, 100);
		while (at < len && r == 0) {
			size_t end = at < cut ? cut : len, consumed, dl, tr;

			r = sl_h1_chunked_unframe(&c, buf + at, end - at,
						  &consumed, &dl, &tr);
			assert_true(r >= 0);
			assert_true(dl <= tr && tr <= consumed);
			memcpy(payload + np, buf + at, dl);
			np += dl;
			memcpy(text + nt, buf + at + tr, consumed - tr);
			nt += consumed - tr;
			at += consumed;
		}
		assert_int_equal(r, 1);
		assert_int_equal(at, len);
		assert_int_equal(np, 19);
		assert_memory_equal(payload, "abc0123456789abcdef", 19);
		assert_int_equal(nt, sizeof(trl) - 1);
		assert_memory_equal(text, trl, nt);
	}
	{ /* the text as a block: names as they came, values trimmed */
		char blk[256];
		struct sl_hblk b;
		struct sl_hblk_it it;
		const char *n, *v;
		size_t nl, vl;
		long k = sl_h1_trailers_block(trl, sizeof(trl) - 1, blk,
					      sizeof(blk));

		assert_true(k > 0);
		assert_true((size_t)k <= sizeof(b) + 2 * (sizeof(trl) - 1));
		sl_hblk_head(blk, &b);
		assert_int_equal(b.len, (uint32_t)k);
		assert_int_equal(b.nfields, 2);
		assert_int_equal(b.status, 0);
		sl_hblk_first(&it, blk);
		assert_true(sl_hblk_next(&it, &n, &nl, &v, &vl));
		assert_int_equal(nl, 11);
		assert_memory_equal(n, "Grpc-Status", 11);
		assert_int_equal(vl, 1);
		assert_memory_equal(v, "0", 1);
		assert_true(sl_hblk_next(&it, &n, &nl, &v, &vl));
		assert_int_equal(nl, 3);
		assert_int_equal(vl, 3);
		assert_memory_equal(v, "v w", 3);
		assert_false(sl_hblk_next(&it, &n, &nl, &v, &vl));
		assert_int_equal(sl_h1_trailers_check(blk, 100, 10, NULL),
				 SL_H1_R_NONE);
		/* too small a room: -1, never past it */
		assert_int_equal(sl_h1_trailers_block(trl, sizeof(trl) - 1, blk,
						      sizeof(b) + 10),
				 -1);
		/* the final CRLF alone: a block of no field */
		assert_int_equal(
		    sl_h1_trailers_block("\r\n", 2, blk, sizeof(blk)),
		    (long)sizeof(b));
		sl_hblk_head(blk, &b);
		assert_int_equal(b.nfields, 0);
	}
	{ /* bad framing: refused, as the decoder refuses it */
		struct sl_h1_chunked c;
		char bad[] = "3x\r\n";
		size_t consumed, dl, tr;

		sl_h1_chunked_init(&c, 100);
		assert_int_equal(
		    sl_h1_chunked_unframe(&c, bad, 4, &consumed, &dl, &tr),
		    -400);
	}
}

static void
test_chunked_state(void **state)
{
	static const char raw[] = "3\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\n\r\nNEXT";
	char buf[64], line[4200];
	struct sl_h1_chunked c;
	size_t consumed, dl;

	(void)state;
	memcpy(buf, raw, sizeof(raw));
	sl_h1_chunked_init(&c, 100);
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, sizeof(raw) - 1, 1, &consumed, &dl),
	    1);
	assert_int_equal(consumed, sizeof(raw) - 1 - 4);
	assert_int_equal(dl, 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(c.ntrailers, 2);
	assert_int_equal(c.trailer_bytes, 12);
	assert_int_equal(c.done, 1);
	/* Once done, nothing more is consumed. */
	assert_int_equal(sl_h1_chunked_decode(&c, buf, 4, 1, &consumed, &dl),
			 1);
	assert_int_equal(consumed, 0);
	assert_int_equal(dl, 0);

	/* Errors stick, and consumed stops before the offending byte. */
	memcpy(buf, "2\r\nab!", 6);
	sl_h1_chunked_init(&c, 0);
	assert_int_equal(sl_h1_chunked_decode(&c, buf, 6, 0, &consumed, &dl),
			 -400);
	assert_int_equal(consumed, 5);
	assert_int_equal(dl, 2);
	assert_int_equal(sl_h1_chunked_decode(&c, buf, 1, 0, &consumed, &dl),
			 -400);

	/* max_trailer_bytes 0: no trailer field at all. */
	memcpy(buf, "0\r\nA: 1\r\n\r\n", 11);
	sl_h1_chunked_init(&c, 0);
	assert_int_equal(sl_h1_chunked_decode(&c, buf, 11, 0, &consumed, &dl),
			 -400);
	memcpy(buf, "0\r\n\r\n", 5);
	sl_h1_chunked_init(&c, 0);
	assert_int_equal(sl_h1_chunked_decode(&c, buf, 5, 0, &consumed, &dl),
			 1);

	/* The size line, extensions included, is bounded. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "1;x=", 4);
	sl_h1_chunked_init(&c, 0);
	assert_int_equal(
	    sl_h1_chunked_decode(&c, line, 4096, 0, &consumed, &dl), 0);
	assert_int_equal(sl_h1_chunked_decode(&c, line, 1, 0, &consumed, &dl),
			 -400);

	/* A large chunk is passed through in pieces. */
	memcpy(buf, "7fffffffffffffff\r\n", 18);
	sl_h1_chunked_init(&c, 0);
	assert_int_equal(sl_h1_chunked_decode(&c, buf, 18, 0, &consumed, &dl),
			 0);
	assert_int_equal(c.remaining, INT64_MAX);
	memset(line, 'z', sizeof(line));
	assert_int_equal(
	    sl_h1_chunked_decode(&c, line, sizeof(line), 1, &consumed, &dl), 0);
	assert_int_equal(consumed, sizeof(line));
	assert_int_equal(dl, sizeof(line));
}

static void
test_ieq(void **state)
{
	(void)state;
	assert_true(sl_h1_ieq("Chunked", 7, "chunked"));
	assert_true(sl_h1_ieq("", 0, ""));
	assert_false(sl_h1_ieq("chunke", 6, "chunked"));
	assert_false(sl_h1_ieq("chunkedx", 8, "chunked"));
	assert_false(sl_h1_ieq("chunked", 7, "chunke"));
	/* Only ASCII letters fold: 0xC9 is not 0xE9. */
	assert_false(sl_h1_ieq("\xc9", 1, "\xe9"));
}

/* ---- which rule: the reasons logged and counted ------------------------- */

/* The reason of a rejected request, from the scanner when it rejects the
 * head, else from the parser (as the gateway sees it). */
static enum sl_h1_reason
request_reason(const char *raw, size_t len, long *status)
{
	struct sl_h1_header hdrs[NHDR];
	struct sl_h1_request req;
	struct sl_h1_scan s;

	sl_h1_scan_init(&s);
	*status = sl_h1_scan_head(&s, raw, len, &lim, 1);
	if (*status < 0)
		return (enum sl_h1_reason)s.why;
	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = NHDR;
	*status = sl_h1_parse_request(raw, len, &req, &lim);
	return *status < 0 ? req.why : SL_H1_R_NONE;
}

/* The parser's own order (without the scanner, which sees a long target
 * first): a target both too long and bad is too long, a bad one that does
 * not end at SP is a bad request line, as when the target's bytes were
 * checked after its end was found; the end is now found as they are. */
static void
test_target_checks_keep_their_order(void **state)
{
	static const struct {
		const char *raw;
		long status;
		const char *why;
	} cases[] = {
	    {"GET /a\x01"
	     "bcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	     "abcdefghijabcdefghij HTTP/1.1\r\nHost: a\r\n\r\n",
	     -414, "uri_too_long"},
	    {"GET /a#b\r\nHost: a\r\n\r\n", -400, "bad_request_line"},
	    {"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", -400, "bad_target"},
	    {"GET /a\x80"
	     "b HTTP/1.1\r\nHost: a\r\n\r\n",
	     -400, "bad_target"},
	    {"GET /a?b=c&d HTTP/1.1\r\nHost: a\r\n\r\n", 0, "none"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sl_h1_header hdrs[NHDR];
		struct sl_h1_request req;
		long status;

		memset(&req, 0, sizeof(req));
		req.headers = hdrs;
		req.max_headers = NHDR;
		status = sl_h1_parse_request(cases[i].raw, strlen(cases[i].raw),
					     &req, &lim);
		if (status > 0)
			status = 0;
		if (status != cases[i].status ||
		    strcmp(sl_h1_reason_str(req.why), cases[i].why) != 0)
			fail_msg("case %zu: %ld %s, want %ld %s", i, status,
				 sl_h1_reason_str(req.why), cases[i].status,
				 cases[i].why);
	}
}

static void
test_req_reasons(void **state)
{
	static const struct {
		const char *raw;
		long status;
		const char *why;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400, "obs_fold"},
	    {"GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n", -400, "obs_fold"},
	    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400, "space_before_colon"},
	    {"GET / HTTP/1.1\r\nHo[st: a\r\n\r\n", -400, "bad_field_name"},
	    {"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", -400,
	     "bad_field_value"},
	    {"GET / HTTP/1.1\nHost: a\r\n\r\n", -400, "bare_lf"},
	    {"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", -400, "bare_cr"},
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n",
	     -400, "cl_te_conflict"},
	    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400,
	     "te_in_http10"},
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
	     "Content-Length: 1\r\n\r\n",
	     -400, "dup_content_length"},
	    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", -400,
	     "bad_content_length"},
	    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
	     "gzip\r\n\r\n",
	     -400, "bad_transfer_encoding"},
	    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
	     "chunked\r\n\r\n",
	     -501, "unsupported_transfer_encoding"},
	    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400, "dup_host"},
	    {"GET / HTTP/1.1\r\n\r\n", -400, "missing_host"},
	    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -400, "bad_host"},
	    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,\r\n\r\n", -400,
	     "bad_connection"},
	    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", -417,
	     "unsupported_expect"},
	    {"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", -405,
	     "connect_method"},
	    {"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", -400, "bad_target"},
	    {"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", -400, "bad_target"},
	    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505,
	     "version_not_supported"},
	    {"GET / HTTQ/1.1\r\nHost: a\r\n\r\n", -400, "bad_version"},
	    {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", -400, "bad_request_line"},
	    {"GET /\r\nHost: a\r\n\r\n", -400, "bad_request_line"},
	    {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400, "bad_request_line"},
	};
	long status;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sl_h1_reason r =
		    request_reason(cases[i].raw, strlen(cases[i].raw), &status);
		if (status != cases[i].status ||
		    strcmp(sl_h1_reason_str(r), cases[i].why) != 0)
			fail_msg("case %zu: got %ld %s, want %ld %s", i, status,
				 sl_h1_reason_str(r), cases[i].status,
				 cases[i].why);
	}
}

/* A Host accepted once is remembered (h1_parse.c, host_memo): a value of
 * the same length that differs anywhere, the memo's words or the bytes
 * between them, is still refused, and one past the memo's size is
 * checked in full. */
static void
test_host_memo(void **state)
{
	static const char *const hosts[] = {
	    "a",
	    "ab",
	    "abc.d",
	    "127.0.0.1:8080",
	    "api.payments.example.com:443",
	    "a-long-name.of-a-service.in-a-cluster.example.co", /* 48 */
	    "a-longer-name.of-a-service.in-a-cluster.example.com:8443",
	};
	char raw[256], bad[80];
	long status;

	(void)state;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		size_t n = strlen(hosts[i]);
		snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
			 hosts[i]);
		assert_int_equal(request_reason(raw, strlen(raw), &status),
				 SL_H1_R_NONE);
		/* the same length, one byte made invalid (a space inside
		 * is not a field's OWS, '@' is no reg-name byte) */
		for (size_t k = 0; k < n; k++) {
			memcpy(bad, hosts[i], n + 1);
			bad[k] = '@';
			snprintf(raw, sizeof(raw),
				 "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad);
			if (request_reason(raw, strlen(raw), &status) !=
			    SL_H1_R_BAD_HOST)
				fail_msg("%s: accepted after %s", bad,
					 hosts[i]);
			/* and the valid one again */
			snprintf(raw, sizeof(raw),
				 "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
				 hosts[i]);
			assert_int_equal(
			    request_reason(raw, strlen(raw), &status),
			    SL_H1_R_NONE);
		}
	}
}

static void
test_scan_reasons(void **state)
{
	char buf[4096];
	struct sl_h1_scan s;
	struct sl_h1_limits small = {16, 64, 2};

	(void)state;
	sl_h1_scan_init(&s);
	assert_int_equal(
	    sl_h1_scan_head(&s, "GET /\0 HTTP/1.1\r\n", 17, &lim, 1), -400);
	assert_string_equal(sl_h1_reason_str(s.why), "nul_byte");
	sl_h1_scan_init(&s);
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	assert_int_equal(sl_h1_scan_head(&s, buf, 40, &small, 1), -414);
	assert_string_equal(sl_h1_reason_str(s.why), "uri_too_long");
	sl_h1_scan_init(&s);
	memcpy(buf, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(sl_h1_scan_head(&s, buf, 100, &small, 1), -431);
	assert_string_equal(sl_h1_reason_str(s.why), "head_too_large");
	sl_h1_scan_init(&s);
	assert_int_equal(sl_h1_scan_head(&s,
					 "GET / HTTP/1.1\r\nA: b\r\nC: d\r\n"
					 "E: f\r\n",
					 34, &small, 1),
			 -431);
	assert_string_equal(sl_h1_reason_str(s.why), "too_many_headers");
	/* every reason has a distinct name */
	for (int i = 0; i < SL_H1_R_NREASONS; i++) {
		assert_string_not_equal(sl_h1_reason_str(i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(sl_h1_reason_str(i),
						sl_h1_reason_str(j));
	}
	assert_string_equal(sl_h1_reason_str(SL_H1_R_NREASONS), "?");
}

static void
test_resp_and_chunk_reasons(void **state)
{
	static const struct {
		const char *raw;
		const char *why;
	} resp[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: "
	     "2\r\n\r\n",
	     "content_length_differ"},
	    {"HTTP/1.1 999 X\r\n\r\n", "bad_status"},
	    {"HTTP/2 200 OK\r\n\r\n", "bad_status_line"},
	    {"HTTP/1.1 204 OK\r\nContent-Length: 4\r\n\r\n",
	     "framing_without_body"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: "
	     "chunked\r\n\r\n",
	     "cl_te_conflict"},
	};
	static const struct {
		const char *raw;
		const char *why;
	} chunks[] = {
	    {"zz\r\n", "bad_chunk_size"},
	    {"1;=\r\n", "bad_chunk_ext"},
	    {"1\r\naXY", "bad_chunk_end"},
	    {"1\ra", "bare_cr"},
	    {"0\r\nbad trailer\r\n\r\n", "bad_trailer"},
	};
	struct sl_h1_header hdrs[NHDR];
	struct sl_h1_response r;
	struct sl_h1_chunked c;
	char buf[64];
	size_t consumed, data;

	(void)state;
	for (size_t i = 0; i < sizeof(resp) / sizeof(resp[0]); i++) {
		memset(&r, 0, sizeof(r));
		r.headers = hdrs;
		r.max_headers = NHDR;
		assert_int_equal(sl_h1_parse_response(resp[i].raw,
						      strlen(resp[i].raw), &r,
						      SL_M_GET),
				 -502);
		assert_string_equal(sl_h1_reason_str(r.why), resp[i].why);
	}
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		sl_h1_chunked_init(&c, 64);
		snprintf(buf, sizeof(buf), "%s", chunks[i].raw);
		assert_int_equal(sl_h1_chunked_decode(&c, buf, strlen(buf), 0,
						      &consumed, &data),
				 -400);
		assert_string_equal(sl_h1_reason_str(c.why), chunks[i].why);
	}
	/* a forbidden trailer field, and the caller's own field */
	sl_h1_chunked_init(&c, 64);
	snprintf(buf, sizeof(buf), "0\r\nContent-Length: 1\r\n\r\n");
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, strlen(buf), 0, &consumed, &data),
	    -400);
	assert_string_equal(sl_h1_reason_str(c.why), "forbidden_trailer");
	sl_h1_chunked_init(&c, 64);
	snprintf(buf, sizeof(buf), "0\r\nx-served-BY: a\r\n\r\n");
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, strlen(buf), 0, &consumed, &data), 1);
	sl_h1_chunked_init(&c, 64);
	c.own = "X-Served-By";
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, strlen(buf), 0, &consumed, &data),
	    -400);
	assert_string_equal(sl_h1_reason_str(c.why), "forbidden_trailer");
	/* more trailer fields than allowed (the listener's max_headers) */
	sl_h1_chunked_init(&c, 64);
	c.max_trailers = 2;
	snprintf(buf, sizeof(buf), "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, strlen(buf), 0, &consumed, &data),
	    -400);
	assert_string_equal(sl_h1_reason_str(c.why), "trailer_too_large");
	sl_h1_chunked_init(&c, 64);
	c.max_trailers = 3;
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, strlen(buf), 0, &consumed, &data), 1);
	/* a trailer section over its limit */
	sl_h1_chunked_init(&c, 8);
	snprintf(buf, sizeof(buf), "0\r\nX-Long: 0123456789\r\n\r\n");
	assert_int_equal(
	    sl_h1_chunked_decode(&c, buf, strlen(buf), 0, &consumed, &data),
	    -400);
	assert_string_equal(sl_h1_reason_str(c.why), "trailer_too_large");
}

static void
test_salvage(void **state)
{
	static const char bad[] =
	    "POST /pay?x=1 HTTP/1.1\r\nHost: pay.example\r\n"
	    "User-Agent:  partner/1 \r\nX: a\n folded\r\n"
	    "Referer: http://r/\r\n\r\nBODY";
	static const char cut[] = "GET /very/long/target";
	struct sl_h1_salvage sv;

	(void)state;
	sl_h1_salvage(bad, sizeof(bad) - 1, &sv);
	assert_slice(sv.method, sv.method_len, "POST");
	assert_slice(sv.target, sv.target_len, "/pay?x=1");
	assert_int_equal(sv.minor, 1);
	assert_slice(sv.host, sv.host_len, "pay.example");
	assert_slice(sv.user_agent, sv.user_agent_len, "partner/1");
	assert_slice(sv.referer, sv.referer_len, "http://r/");
	/* a head cut short: what there is */
	sl_h1_salvage(cut, sizeof(cut) - 1, &sv);
	assert_slice(sv.method, sv.method_len, "GET");
	assert_slice(sv.target, sv.target_len, "/very/long/target");
	assert_int_equal(sv.minor, -1);
	assert_null(sv.host);
	/* nothing readable */
	sl_h1_salvage("\r\n\r\n", 4, &sv);
	assert_null(sv.method);
	assert_null(sv.target);
	sl_h1_salvage("", 0, &sv);
	assert_null(sv.method);
	/* fields after the empty line are body, not fields */
	sl_h1_salvage("GET / HTTP/1.0\r\n\r\nHost: no\r\n", 29, &sv);
	assert_int_equal(sv.minor, 0);
	assert_null(sv.host);
}

/* ---- Keep-Alive -------------------------------------------------------- */

/* sl_h1_keep_alive on a C string: *t and *m start at garbage. */
static void
ka(const char *v, uint32_t want_t, uint32_t want_m)
{
	uint32_t t = 12345, m = 67890;

	sl_h1_keep_alive(v, strlen(v), &t, &m);
	if (t != want_t || m != want_m)
		fail_msg("Keep-Alive \"%s\": timeout %u max %u, want %u %u", v,
			 (unsigned)t, (unsigned)m, (unsigned)want_t,
			 (unsigned)want_m);
}

static void
test_keep_alive(void **state)
{
	uint32_t t, m;

	(void)state;
	ka("timeout=5, max=100", 5, 100);
	ka("timeout=5", 5, 0);
	ka("max=3", 0, 3);
	ka("max=3, timeout=4", 4, 3);
	ka("timeout=5,max=100", 5, 100);
	ka("Timeout=7", 7, 0);
	ka("TIMEOUT=7, MAX=8", 7, 8);
	ka("timeout = 5 , max = 9", 5, 9);
	ka("  timeout=5  ,  max=9  ", 5, 9);
	ka("\ttimeout=5,\tmax=9", 5, 9);
	ka(",, timeout=5,,max=9,", 5, 9);
	ka("timeout=\"5\"", 5, 0);
	ka("timeout=\"5\", max=\"6\"", 5, 6);
	ka("timeout=\"\"", 0, 0);
	ka("timeout=\"5", 0, 0); /* unterminated quote */
	ka("timeout=\"a\", max=2", 0, 2);
	/* 0 becomes the least there is */
	ka("timeout=0", 1, 0);
	ka("max=0", 0, 1);
	ka("timeout=0, max=0", 1, 1);
	ka("timeout=00007", 7, 0);
	/* malformed values are ignored, the rest still counts */
	ka("timeout=abc, max=4", 0, 4);
	ka("timeout=5s, max=4", 0, 4);
	ka("timeout=-5, max=4", 0, 4);
	ka("timeout=+5", 0, 0);
	ka("timeout=5 6, max=4", 5, 4); /* what follows the value skipped */
	ka("timeout, max=4", 0, 4);
	ka("timeout=, max=4", 0, 4);
	ka("=5, max=4", 0, 4);
	ka("timeout 5, max=4", 0, 4);
	ka("timeout max=3", 0, 0); /* the rest of a bad one is skipped */
	ka("timeout=5 max=3", 5, 0);
	ka("timeout=1.5, max=4", 0, 4);
	ka("", 0, 0);
	ka("   ", 0, 0);
	ka(",", 0, 0);
	ka("garbage", 0, 0);
	/* unknown parameters are ignored */
	ka("foo=bar, timeout=2", 2, 0);
	ka("foo=\"x, y\", timeout=2", 2, 0); /* a comma in quotes */
	ka("foo=\"a, max=3, b\", timeout=2", 2, 0);
	ka("timeouts=9, maximum=9, timeout=2", 2, 0);
	ka("time=9, ma=9, max=2", 0, 2);
	/* at most 9 digits */
	ka("timeout=999999999", 999999999, 0);
	ka("timeout=1000000000, max=4", 0, 4);
	ka("timeout=99999999999999999999, max=4", 0, 4);
	ka("max=\"1234567890\"", 0, 0);
	/* duplicates: the first valid one wins */
	ka("timeout=5, timeout=9", 5, 0);
	ka("max=5, max=9", 0, 5);
	ka("timeout=0, timeout=9", 1, 0);
	ka("timeout=x, timeout=9", 9, 0);
	/* n bounds the value: nothing past it is read */
	sl_h1_keep_alive("timeout=5, max=100", 9, &t, &m);
	assert_int_equal(t, 5);
	assert_int_equal(m, 0);
	sl_h1_keep_alive("timeout=5, max=100", 17, &t, &m);
	assert_int_equal(t, 5);
	assert_int_equal(m, 10);
	sl_h1_keep_alive(NULL, 0, &t, &m);
	assert_int_equal(t, 0);
	assert_int_equal(m, 0);
}

static int
parse_resp(const char *raw, struct sl_h1_response *resp, struct sl_h1_header *h)
{
	resp->headers = h;
	resp->max_headers = NHDR;
	resp->ka_timeout = resp->ka_max = 777; /* must be reset */
	return sl_h1_parse_response(raw, strlen(raw), resp, SL_M_GET);
}

static void
test_resp_keep_alive(void **state)
{
	static const char *const bad[] = {
	    "HTTP/1.1 200 OK\r\nKeep-Alive: \r\nContent-Length: 0\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=abc\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nKeep-Alive: ,,,=,\"\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=99999999999\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nKeep-Alive: \"timeout=1\"\r\n\r\n",
	};
	struct sl_h1_header h[NHDR];
	struct sl_h1_response resp;

	(void)state;
	assert_int_equal(parse_resp("HTTP/1.1 200 OK\r\n"
				    "Content-Length: 0\r\n"
				    "Keep-Alive: timeout=1, max=50\r\n"
				    "\r\n",
				    &resp, h),
			 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.ka_timeout, 1);
	assert_int_equal(resp.ka_max, 50);
	/* the field name in any case; HTTP/1.0 too */
	assert_int_equal(parse_resp("HTTP/1.0 200 OK\r\n"
				    "keep-alive:   timeout=15  \r\n"
				    "Connection: keep-alive\r\n"
				    "\r\n",
				    &resp, h),
			 0);
	assert_int_equal(resp.ka_timeout, 15);
	assert_int_equal(resp.ka_max, 0);
	/* the first Keep-Alive field counts */
	assert_int_equal(parse_resp("HTTP/1.1 204 No Content\r\n"
				    "Keep-Alive: max=3\r\n"
				    "Keep-Alive: timeout=9, max=9\r\n"
				    "\r\n",
				    &resp, h),
			 0);
	assert_int_equal(resp.ka_timeout, 0);
	assert_int_equal(resp.ka_max, 3);
	/* none: both 0 */
	assert_int_equal(
	    parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &resp,
		       h),
	    0);
	assert_int_equal(resp.ka_timeout, 0);
	assert_int_equal(resp.ka_max, 0);
	/* a field whose name only starts like it */
	assert_int_equal(parse_resp("HTTP/1.1 200 OK\r\n"
				    "Keep-Alives: timeout=4\r\n"
				    "\r\n",
				    &resp, h),
			 0);
	assert_int_equal(resp.ka_timeout, 0);
	/* a malformed Keep-Alive is ignored, never an error */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_resp(bad[i], &resp, h) != 0)
			fail_msg("bad Keep-Alive %zu failed the response", i);
		assert_int_equal(resp.status, 200);
		assert_int_equal(resp.ka_timeout, 0);
		assert_int_equal(resp.ka_max, 0);
	}
}

/* The parser's kind of a field name: every special name in any case,
 * and names one byte (or one case bit outside a letter) away are
 * ordinary. */
static void
test_classify_names(void **state)
{
	static const struct {
		const char *name;
		enum sl_h1_hk kind;
	} v[] = {
	    {"te", SL_HK_HOP},
	    {"TE", SL_HK_HOP},
	    {"tf", SL_HK_OTHER},
	    {"Host", SL_HK_HOST},
	    {"hOsT", SL_HK_HOST},
	    {"Hosu", SL_HK_OTHER},
	    {"Expect", SL_HK_EXPECT},
	    {"Accept", SL_HK_OTHER},
	    {"Trailer", SL_HK_TRAILER},
	    {"UPGRADE", SL_HK_HOP},
	    {"Upgrade1", SL_HK_OTHER},
	    {"Forwarded", SL_HK_FORWARDED},
	    {"Connection", SL_HK_CONNECTION},
	    {"connectioN", SL_HK_CONNECTION},
	    {"Keep-Alive", SL_HK_KEEP_ALIVE},
	    {"Keep_Alive", SL_HK_OTHER},
	    {"User-Agent", SL_HK_OTHER},
	    {"X-Request-Id", SL_HK_X_REQUEST_ID},
	    {"Content-Type", SL_HK_OTHER},
	    {"Content-Length", SL_HK_CONTENT_LENGTH},
	    {"CONTENT-LENGTH", SL_HK_CONTENT_LENGTH},
	    {"Content-Lengti", SL_HK_OTHER},
	    {"Content.Length", SL_HK_OTHER},
	    {"X-Forwarded-For", SL_HK_X_FORWARDED_FOR},
	    {"X-Forwarded-Fos", SL_HK_OTHER},
	    {"Proxy-Connection", SL_HK_HOP},
	    {"Proxy-Connectiom", SL_HK_OTHER},
	    {"Transfer-Encoding", SL_HK_TRANSFER_ENCODING},
	    {"transfer-encodinG", SL_HK_TRANSFER_ENCODING},
	    {"X-Forwarded-Proto", SL_HK_X_FORWARDED_PROTO},
	    {"X-Forwarded-Protp", SL_HK_OTHER},
	    {"Idempotency-Key", SL_HK_OTHER},
	    {"", SL_HK_OTHER},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sl_h1_header h = {v[i].name, strlen(v[i].name), "", 0,
					 SL_HK_UNSET};
		if (sl_h1_classify(v[i].name, strlen(v[i].name)) != v[i].kind ||
		    sl_h1_hkind(&h) != v[i].kind)
			fail_msg(
			    "%s: kind %d, want %d", v[i].name,
			    (int)sl_h1_classify(v[i].name, strlen(v[i].name)),
			    (int)v[i].kind);
	}
}

/* What the parser records is the same kind. */
static void
test_parse_records_kind(void **state)
{
	static const char req[] =
	    "GET / HTTP/1.1\r\nhOST: a\r\nContent-length: 0\r\n"
	    "X-Forwarded-FOR: 1.2.3.4\r\nAccept: */*\r\n"
	    "CONNECTION: keep-alive\r\n\r\n";
	struct sl_h1_header h[NHDR];
	struct sl_h1_request r;

	(void)state;
	assert_int_equal(request_status(req, sizeof(req) - 1, &r, h), 0);
	assert_int_equal(r.nheaders, 5);
	assert_int_equal(h[0].kind, SL_HK_HOST);
	assert_int_equal(h[1].kind, SL_HK_CONTENT_LENGTH);
	assert_int_equal(h[2].kind, SL_HK_X_FORWARDED_FOR);
	assert_int_equal(h[3].kind, SL_HK_OTHER);
	assert_int_equal(h[4].kind, SL_HK_CONNECTION);
}

/*
 * One table of requests, each taken twice: parsed from its text, and
 * split into a method, a target and fields (as a codec that decoded them
 * would hand them over) and given to sl_h1_request_check. Both must say
 * the same: the status, the reason, and of a valid head the Host, the
 * path, the framing, the flags and every field's kind and value.
 */
static const char *const check_reqs[] = {
    "GET /a?b HTTP/1.1\r\nHost: h\r\nX-One:  1 \r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h:8\r\nContent-Length: 12\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
    "Transfer-Encoding: chunked\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
    "Content-Length: 1\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h h\r\n\r\n",
    "GET /p HTTP/1.1\r\nX-A: 1\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nExpect: nope\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nConnection: close, x-a\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nConnection: ,,\"\r\n\r\n",
    "GET http://o.test/x HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET http://u@o.test/x HTTP/1.1\r\nHost: h\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
    "CONNECT o.test:443 HTTP/1.1\r\nHost: o.test:443\r\n\r\n",
    "GET /a#f HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n"
    "Host: h\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n"
    "X-D: 4\r\nX-E: 5\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nX-A: caf\xc3\xa9\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n",
    "BR{EW /p HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET /p HTTP/1.1\r\nHost: h\r\nKeep-Alive: 5\r\nUpgrade: x\r\n"
    "X-Forwarded-For: 1.2.3.4\r\n\r\n",
};

/* Splits a request's text leniently: method, target, "name: value"
 * lines (the value as sent, whitespace kept). */
static void
split_req(const char *t, struct sl_h1_request *req)
{
	const char *sp1 = strchr(t, ' '), *sp2 = strchr(sp1 + 1, ' ');
	const char *p = strstr(t, "\r\n") + 2;

	req->method = t;
	req->method_len = (size_t)(sp1 - t);
	req->target = sp1 + 1;
	req->target_len = (size_t)(sp2 - sp1 - 1);
	req->nheaders = 0;
	while (strncmp(p, "\r\n", 2) != 0) {
		const char *colon = strchr(p, ':'), *eol = strstr(p, "\r\n");
		struct sl_h1_header *h = &req->headers[req->nheaders++];
		h->name = p;
		h->name_len = (size_t)(colon - p);
		h->value = colon + 1;
		h->value_len = (size_t)(eol - colon - 1);
		h->kind = SL_HK_UNSET;
		p = eol + 2;
	}
}

static void
test_request_check_matches_parse(void **state)
{
	const struct sl_h1_limits small = {40, 4096, 5};

	(void)state;
	for (size_t i = 0; i < sizeof(check_reqs) / sizeof(check_reqs[0]);
	     i++) {
		struct sl_h1_header h1[16], h2[16];
		struct sl_h1_request a = {.headers = h1, .max_headers = 16};
		struct sl_h1_request b = {.headers = h2, .max_headers = 16};
		const char *t = check_reqs[i];
		int ra, rb;

		ra = sl_h1_parse_request(t, strlen(t), &a, &small);
		split_req(t, &b);
		rb = sl_h1_request_check(&b, strlen(t), &small, 0);
		print_message("%zu: %d %s / %d %s\n", i, ra,
			      sl_h1_reason_str(a.why), rb,
			      sl_h1_reason_str(b.why));
		assert_int_equal(rb, ra);
		assert_int_equal(b.why, a.why);
		if (ra != 0 && ra != -417)
			continue;
		assert_int_equal(b.method_id, a.method_id);
		assert_int_equal(b.body, a.body);
		assert_int_equal(b.content_length, a.content_length);
		assert_int_equal(b.flags, a.flags);
		assert_int_equal(b.minor, a.minor);
		assert_int_equal(b.host_len, a.host_len);
		assert_memory_equal(b.host, a.host, a.host_len);
		assert_int_equal(b.path_len, a.path_len);
		assert_memory_equal(b.path, a.path, a.path_len);
		assert_int_equal(b.nheaders, a.nheaders);
		for (size_t k = 0; k < a.nheaders; k++) {
			assert_int_equal(h2[k].kind, h1[k].kind);
			assert_int_equal(h2[k].value_len, h1[k].value_len);
			assert_memory_equal(h2[k].value, h1[k].value,
					    h1[k].value_len);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_req_get),
	    cmocka_unit_test(test_request_check_matches_parse),
	    cmocka_unit_test(test_classify_names),
	    cmocka_unit_test(test_parse_records_kind),
	    cmocka_unit_test(test_req_post_length),
	    cmocka_unit_test(test_req_chunked),
	    cmocka_unit_test(test_req_http10_no_host),
	    cmocka_unit_test(test_req_absolute_form),
	    cmocka_unit_test(test_req_asterisk_options),
	    cmocka_unit_test(test_req_obs_text),
	    cmocka_unit_test(test_req_connection_tokens),
	    cmocka_unit_test(test_req_leading_crlf),
	    cmocka_unit_test(test_req_expect_417_framing),
	    cmocka_unit_test(test_persists),
	    cmocka_unit_test(test_req_valid_table),
	    cmocka_unit_test(test_req_bad_table),
	    cmocka_unit_test(test_req_limits),
	    cmocka_unit_test(test_scan_incremental),
	    cmocka_unit_test(test_scan_early_errors),
	    cmocka_unit_test(test_resp_table),
	    cmocka_unit_test(test_resp_fields),
	    cmocka_unit_test(test_chunked_table),
	    cmocka_unit_test(test_chunked_state),
	    cmocka_unit_test(test_chunked_unframe_finds_the_trailers),
	    cmocka_unit_test(test_trailer_forbidden),
	    cmocka_unit_test(test_trailers_block_check),
	    cmocka_unit_test(test_ieq),
	    cmocka_unit_test(test_req_reasons),
	    cmocka_unit_test(test_target_checks_keep_their_order),
	    cmocka_unit_test(test_host_memo),
	    cmocka_unit_test(test_scan_reasons),
	    cmocka_unit_test(test_resp_and_chunk_reasons),
	    cmocka_unit_test(test_salvage),
	    cmocka_unit_test(test_keep_alive),
	    cmocka_unit_test(test_resp_keep_alive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
