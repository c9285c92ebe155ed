/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol upgrades (ws.c): the request's checks (RFC 6455
 * section 4.1, RFC 9110 section 7.8), the upstream's 101, the
 * Sec-WebSocket-Accept value, the list matching, the field written
 * upstream, and WebSocket frame boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "h1_msg.h"
#include "ws.h"

static struct sl_h1_header hdrs[64];
static const struct sl_h1_limits lim = {8192, 32768, 64};
static char *allowed[] = {"websocket", "x-chat"};

/* RFC 6455 section 1.3's example */
#define KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static int
check_req(const char *raw, size_t *idx, char *accept, const char **code,
	  const char **fields)
{
	struct sl_h1_request req;

	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 64;
	assert_int_equal(sl_h1_parse_request(raw, strlen(raw), &req, &lim), 0);
	*code = NULL;
	return sl_ws_request(&req, allowed, 2, idx, accept, code, fields);
}

static void
test_accept_of_rfc_example(void **state)
{
	char a[SL_WS_ACCEPT_LEN + 1];

	(void)state;
	assert_int_equal(sl_tls_ws_accept(KEY, strlen(KEY), a), 0);
	assert_string_equal(a, ACCEPT);
}

static void
test_good_websocket_request(void **state)
{
	char a[SL_WS_ACCEPT_LEN + 1];
	const char *code, *fields;
	size_t idx = 9;

	(void)state;
	assert_int_equal(
	    check_req("GET /chat HTTP/1.1\r\nHost: h\r\n"
		      "Connection: keep-alive, Upgrade\r\n"
		      "Upgrade: WebSocket\r\nSec-WebSocket-Key: " KEY "\r\n"
		      "Sec-WebSocket-Version: 13\r\n\r\n",
		      &idx, a, &code, &fields),
	    1);
	assert_int_equal(idx, 0);
	assert_string_equal(a, ACCEPT);
	assert_null(fields);
}

static void
test_not_an_upgrade(void **state)
{
	char a[SL_WS_ACCEPT_LEN + 1];
	const char *code, *fields;
	size_t idx;

	(void)state;
	/* Upgrade without Connection: upgrade is not a request to switch */
	assert_int_equal(check_req("GET / HTTP/1.1\r\nHost: h\r\n"
				   "Upgrade: websocket\r\n\r\n",
				   &idx, a, &code, &fields),
			 0);
	/* a protocol the route does not allow: dropped, not refused */
	assert_int_equal(
	    check_req("GET / HTTP/1.1\r\nHost: h\r\n"
		      "Connection: upgrade\r\nUpgrade: h2c\r\n\r\n",
		      &idx, a, &code, &fields),
	    0);
	assert_int_equal(check_req("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &idx, a,
				   &code, &fields),
			 0);
}

/* Upgrade's list split over two field lines is one list */
static void
test_upgrade_over_two_lines(void **state)
{
	char a[SL_WS_ACCEPT_LEN + 1];
	const char *code, *fields;
	size_t idx = 9;

	(void)state;
	assert_int_equal(
	    check_req("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
		      "Upgrade: foo/2\r\nUpgrade: websocket\r\n"
		      "Sec-WebSocket-Key: " KEY "\r\n"
		      "Sec-WebSocket-Version: 13\r\n\r\n",
		      &idx, a, &code, &fields),
	    1);
	assert_int_equal(idx, 0);
}

static void
test_other_protocol_by_name(void **state)
{
	char a[SL_WS_ACCEPT_LEN + 1];
	const char *code, *fields;
	size_t idx = 0;

	(void)state;
	assert_int_equal(check_req("POST / HTTP/1.1\r\nHost: h\r\n"
				   "Connection: Upgrade\r\n"
				   "Upgrade: foo, X-Chat\r\n\r\n",
				   &idx, a, &code, &fields),
			 1);
	assert_int_equal(idx, 1);
}

static void
test_bad_requests_refused(void **state)
{
	static const struct {
		const char *raw, *code;
	} bad[] = {
	    /* not GET */
	    {"POST / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     "bad_websocket_handshake"},
	    /* no key, a short key, a key of 17 bytes, two keys */
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
	     "bad_websocket_handshake"},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: abc=\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     "bad_websocket_handshake"},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\n"
	     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     "bad_websocket_handshake"},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n"
	     "Sec-WebSocket-Key: " KEY "\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     "bad_websocket_handshake"},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: "
	     "dGhlIHNh*XBsZSBub25jZQ==\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     "bad_websocket_handshake"},
	    /* the version */
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n"
	     "Sec-WebSocket-Version: 8\r\n\r\n",
	     "bad_websocket_version"},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n\r\n",
	     "bad_websocket_version"},
	    /* HTTP/1.0, a body, two Upgrade fields */
	    {"GET / HTTP/1.0\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     "bad_upgrade"},
	    {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n"
	     "Upgrade: websocket\r\nSec-WebSocket-Key: " KEY "\r\n"
	     "Content-Length: 3\r\nSec-WebSocket-Version: 13\r\n\r\n",
	     "bad_upgrade"},
	};
	char a[SL_WS_ACCEPT_LEN + 1];
	const char *code, *fields;
	size_t idx;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check_req(bad[i].raw, &idx, a, &code, &fields),
				 -1);
		assert_string_equal(code, bad[i].code);
	}
	/* a wrong version is told the one that works */
	check_req(bad[6].raw, &idx, a, &code, &fields);
	assert_string_equal(fields, "Sec-WebSocket-Version: 13\r\n");
}

static const char *
check_resp(const char *raw, const char *proto)
{
	struct sl_h1_response resp;

	memset(&resp, 0, sizeof(resp));
	resp.headers = hdrs;
	resp.max_headers = 64;
	assert_int_equal(
	    sl_h1_parse_response(raw, strlen(raw), &resp, SL_M_GET), 0);
	assert_int_equal(resp.status, 101);
	return sl_ws_response(&resp, proto, ACCEPT);
}

static void
test_response_checks(void **state)
{
	(void)state;
	assert_null(check_resp("HTTP/1.1 101 Switching Protocols\r\n"
			       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
			       "websocket"));
	assert_string_equal(
	    check_resp("HTTP/1.1 101 Switching Protocols\r\n"
		       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n"
		       "\r\n",
		       "websocket"),
	    "bad_websocket_accept");
	assert_string_equal(check_resp("HTTP/1.1 101 Switching Protocols\r\n"
				       "Upgrade: websocket\r\n"
				       "Connection: Upgrade\r\n\r\n",
				       "websocket"),
			    "bad_websocket_accept");
	assert_string_equal(check_resp("HTTP/1.1 101 Switching Protocols\r\n"
				       "Upgrade: h2c\r\nConnection: Upgrade\r\n"
				       "Sec-WebSocket-Accept: " ACCEPT
				       "\r\n\r\n",
				       "websocket"),
			    "upgrade_not_asked");
	assert_string_equal(check_resp("HTTP/1.1 101 Switching Protocols\r\n"
				       "Upgrade: websocket\r\n"
				       "Sec-WebSocket-Accept: " ACCEPT
				       "\r\n\r\n",
				       "websocket"),
			    "connection_not_upgrade");
	/* another protocol has no accept to check */
	assert_null(check_resp("HTTP/1.1 101 Switching Protocols\r\n"
			       "Upgrade: x-chat\r\nConnection: upgrade\r\n\r\n",
			       "x-chat"));
}

static void
test_list_has(void **state)
{
	(void)state;
	assert_true(sl_h1_list_has("a, Upgrade", 10, "upgrade"));
	assert_true(sl_h1_list_has(" upgrade ", 9, "upgrade"));
	assert_true(sl_h1_list_has(",,upgrade,", 10, "upgrade"));
	assert_false(sl_h1_list_has("upgrades", 8, "upgrade"));
	assert_false(sl_h1_list_has("xupgrade", 8, "upgrade"));
	assert_false(sl_h1_list_has("", 0, "upgrade"));
}

static void
test_upgrade_written_upstream(void **state)
{
	static char out[4096];
	struct sl_h1_request req;
	struct sl_fwd fwd = {.client_ip = "10.0.0.7",
			     .proto = "http",
			     .request_id = "r",
			     .default_host = "h",
			     .xff = SL_FWD_APPEND,
			     .upgrade = "websocket"};
	const char *raw =
	    "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
	    "Upgrade: WebSocket\r\nSec-WebSocket-Key: " KEY "\r\n\r\n";
	long n;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 64;
	assert_int_equal(sl_h1_parse_request(raw, strlen(raw), &req, &lim), 0);
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out,
			    "GET / HTTP/1.1\r\nHost: h\r\n"
			    "Sec-WebSocket-Key: " KEY "\r\n"
			    "X-Forwarded-For: 10.0.0.7\r\n"
			    "X-Forwarded-Proto: http\r\nX-Request-Id: r\r\n"
			    "Connection: upgrade\r\nUpgrade: websocket\r\n"
			    "\r\n");
}

/* Frames fed whole, byte by byte, and split at every place agree on the
 * boundaries. */
static void
test_frame_boundaries(void **state)
{
	unsigned char s[70000 + 512];
	size_t n = 0, ends[8], nends = 0;

	(void)state;
	/* a masked 5-byte text frame */
	memcpy(s + n,
	       "\x81\x85\x01\x02\x03\x04"
	       "abcde",
	       11);
	n += 11;
	ends[nends++] = n;
	/* an unmasked 200-byte binary frame (16-bit length) */
	s[n++] = 0x82;
	s[n++] = 126;
	s[n++] = 0;
	s[n++] = 200;
	memset(s + n, 'x', 200);
	n += 200;
	ends[nends++] = n;
	/* a 70000-byte frame (64-bit length) */
	s[n++] = 0x82;
	s[n++] = 127;
	memset(s + n, 0, 5);
	s[n + 5] = 0x01;
	s[n + 6] = 0x11;
	s[n + 7] = 0x70;
	n += 8;
	memset(s + n, 'y', 70000);
	n += 70000;
	ends[nends++] = n;
	/* an empty ping, then a close */
	memcpy(s + n, "\x89\x00\x88\x02\x03\xe8", 6);
	n += 6;
	ends[nends++] = n;

	for (size_t i = 0; i < nends; i++) {
		struct sl_ws_track k;
		memset(&k, 0, sizeof(k));
		sl_ws_track(&k, s, ends[i]);
		assert_true(sl_ws_at_boundary(&k));
		assert_int_equal(k.close_seen, i == nends - 1);
		/* one byte short of it is not a boundary */
		memset(&k, 0, sizeof(k));
		sl_ws_track(&k, s, ends[i] - 1);
		assert_false(sl_ws_at_boundary(&k));
	}
	for (size_t cut = 1; cut < 260; cut++) {
		struct sl_ws_track k;
		memset(&k, 0, sizeof(k));
		sl_ws_track(&k, s, cut);
		sl_ws_track(&k, s + cut, n - cut);
		assert_true(sl_ws_at_boundary(&k));
	}
	{
		struct sl_ws_track k;
		memset(&k, 0, sizeof(k));
		for (size_t i = 0; i < 300; i++)
			sl_ws_track(&k, s + i, 1);
		assert_false(sl_ws_at_boundary(&k));
		sl_ws_track(&k, s + 300, n - 300);
		assert_true(sl_ws_at_boundary(&k));
	}
}

/* sluice's own close frames: a server's plain, a client's masked, each
 * one whole frame to the tracker with the code where RFC 6455 puts it. */
static void
test_close_frames(void **state)
{
	unsigned char f[SL_WS_CLOSE_MAX];
	struct sl_ws_track k;
	size_t n;

	(void)state;
	n = sl_ws_close_frame(f, SL_WS_GOING_AWAY, 0, 0);
	assert_int_equal(n, 4);
	assert_memory_equal(f, "\x88\x02\x03\xe9", 4);
	memset(&k, 0, sizeof(k));
	sl_ws_track(&k, f, n);
	assert_true(sl_ws_at_boundary(&k));
	assert_true(k.close_seen);

	n = sl_ws_close_frame(f, SL_WS_POLICY, 1, 0x01020304u);
	assert_int_equal(n, SL_WS_CLOSE_MAX);
	assert_memory_equal(f, "\x88\x82\x01\x02\x03\x04", 6);
	assert_int_equal(f[6] ^ 0x01, SL_WS_POLICY >> 8);
	assert_int_equal(f[7] ^ 0x02, SL_WS_POLICY & 0xff);
	memset(&k, 0, sizeof(k));
	sl_ws_track(&k, f, n - 1);
	assert_false(sl_ws_at_boundary(&k));
	sl_ws_track(&k, f + n - 1, 1);
	assert_true(sl_ws_at_boundary(&k));
	assert_true(k.close_seen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accept_of_rfc_example),
	    cmocka_unit_test(test_good_websocket_request),
	    cmocka_unit_test(test_not_an_upgrade),
	    cmocka_unit_test(test_other_protocol_by_name),
	    cmocka_unit_test(test_upgrade_over_two_lines),
	    cmocka_unit_test(test_bad_requests_refused),
	    cmocka_unit_test(test_response_checks),
	    cmocka_unit_test(test_list_has),
	    cmocka_unit_test(test_upgrade_written_upstream),
	    cmocka_unit_test(test_frame_boundaries),
	    cmocka_unit_test(test_close_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
