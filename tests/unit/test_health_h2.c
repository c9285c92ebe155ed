/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for health_h2.c: the gRPC health answer's message read by
 * hand, and a whole check against a server played by nghttp2's own server
 * session (what a gRPC server sends: HEADERS, DATA, trailers; a
 * trailers-only answer; a reset; a GOAWAY; bytes that are not HTTP/2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "health_h2.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void
test_serving_message(void **state)
{
	static const unsigned char serving[] = {0, 0, 0, 0, 2, 0x08, 1};
	static const unsigned char empty[] = {0, 0, 0, 0, 0};
	static const unsigned char not_serving[] = {0, 0, 0, 0, 2, 0x08, 2};
	/* unknown fields around it (varint 2, string 3, fixed64 4,
	 * fixed32 5) are stepped over */
	static const unsigned char others[] = {
	    0,	 0,   0,    0,	  24,	0x10, 0x96, 0x01, 0x1a, 3,
	    'a', 'b', 'c',  0x21, 1,	2,    3,    4,	  5,	6,
	    7,	 8,   0x08, 3,	  0x2d, 1,    2,    3,	  4};
	static const unsigned char compressed[] = {1, 0, 0, 0, 2, 0x08, 1};
	static const unsigned char short_len[] = {0, 0, 0, 0, 3, 0x08, 1};
	static const unsigned char cut_varint[] = {0, 0, 0, 0, 2, 0x08, 0x81};
	static const unsigned char group[] = {0, 0, 0, 0, 2, 0x0b, 1};
	static const unsigned char long_string[] = {0, 0,    0, 0,
						    3, 0x1a, 9, 'a'};
	static const unsigned char big[] = {0,	  0,	0,    0,   4,
					    0x08, 0xff, 0xff, 0x7f};

	(void)state;
	assert_int_equal(sl_hc_grpc_serving(serving, sizeof(serving)), 1);
	/* status UNKNOWN (0) is the default, left out of the message */
	assert_int_equal(sl_hc_grpc_serving(empty, sizeof(empty)), 0);
	assert_int_equal(sl_hc_grpc_serving(not_serving, sizeof(not_serving)),
			 2);
	assert_int_equal(sl_hc_grpc_serving(others, sizeof(others)), 3);
	assert_int_equal(sl_hc_grpc_serving(compressed, sizeof(compressed)),
			 -1);
	assert_int_equal(sl_hc_grpc_serving(short_len, sizeof(short_len)), -1);
	assert_int_equal(sl_hc_grpc_serving(cut_varint, sizeof(cut_varint)),
			 -1);
	assert_int_equal(sl_hc_grpc_serving(group, sizeof(group)), -1);
	assert_int_equal(sl_hc_grpc_serving(long_string, sizeof(long_string)),
			 -1);
	assert_int_equal(sl_hc_grpc_serving(big, sizeof(big)), 1000);
	assert_int_equal(sl_hc_grpc_serving(serving, 4), -1);
}

/* ---- a server played by nghttp2 ------------------------------------------*/

struct server {
	nghttp2_session *ng;
	int32_t sid; /* the request's stream */
	char path[128];
	char method[8];
	unsigned char body[512]; /* the request's DATA */
	size_t bodylen;
	int ended; /* END_STREAM came */
};

static int
srv_on_header(nghttp2_session *ng, const nghttp2_frame *frame,
	      const uint8_t *name, size_t namelen, const uint8_t *value,
	      size_t valuelen, uint8_t flags, void *ud)
{
	struct server *sv = ud;

	(void)ng;
	(void)flags;
	sv->sid = frame->hd.stream_id;
	if (namelen == 5 && memcmp(name, ":path", 5) == 0 &&
	    valuelen < sizeof(sv->path))
		memcpy(sv->path, value, valuelen);
	if (namelen == 7 && memcmp(name, ":method", 7) == 0 &&
	    valuelen < sizeof(sv->method))
		memcpy(sv->method, value, valuelen);
	return 0;
}

static int
srv_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
	    size_t len, void *ud)
{
	struct server *sv = ud;

	(void)ng;
	(void)flags;
	(void)id;
	assert_true(sv->bodylen + len <= sizeof(sv->body));
	memcpy(sv->body + sv->bodylen, data, len);
	sv->bodylen += len;
	return 0;
}

static int
srv_on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct server *sv = ud;

	(void)ng;
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		sv->ended = 1;
	return 0;
}

static void
server_new2(struct server *sv, const char *out, size_t outlen,
	    int settings_first)
{
	nghttp2_session_callbacks *cb;

	memset(sv, 0, sizeof(*sv));
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, srv_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
								  srv_on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_on_frame);
	assert_int_equal(nghttp2_session_server_new(&sv->ng, cb, sv), 0);
	nghttp2_session_callbacks_del(cb);
	/* a server's first frame is its SETTINGS (RFC 9113 section 3.4) */
	if (settings_first)
		assert_int_equal(
		    nghttp2_submit_settings(sv->ng, NGHTTP2_FLAG_NONE, NULL, 0),
		    0);
	assert_true(outlen > sizeof(preface) - 1);
	assert_memory_equal(out, preface, sizeof(preface) - 1);
	assert_int_equal(
	    nghttp2_session_mem_recv(sv->ng, (const uint8_t *)out, outlen),
	    (ssize_t)outlen);
	assert_int_equal(sv->sid, 1);
	assert_true(sv->ended);
	if (!settings_first)
		assert_int_equal(
		    nghttp2_submit_settings(sv->ng, NGHTTP2_FLAG_NONE, NULL, 0),
		    0);
}

static void
server_new(struct server *sv, const char *out, size_t outlen)
{
	server_new2(sv, out, outlen, 1);
}

/* What the server has to send, fed to the check in pieces of step bytes.
 * Returns the check's last result. */
static int
server_to_check(struct server *sv, struct sl_hc_h2 *x, size_t step,
		struct sl_hc_h2_result *res, const char **why)
{
	unsigned char *all = NULL;
	size_t n = 0;
	int r = 0;

	for (;;) {
		const uint8_t *p;
		ssize_t k = nghttp2_session_mem_send(sv->ng, &p);
		assert_true(k >= 0);
		if (k == 0)
			break;
		all = realloc(all, n + (size_t)k);
		assert_non_null(all);
		memcpy(all + n, p, (size_t)k);
		n += (size_t)k;
	}
	for (size_t off = 0; off < n && r == 0; off += step)
		r = sl_hc_h2_input(x, all + off,
				   n - off < step ? n - off : step, res, why);
	free(all);
	return r;
}

static const unsigned char *msg_src;
static size_t msg_len, msg_off;
static const char *msg_trailer; /* its grpc-status */

static void nv(nghttp2_nv *p, const char *n, const char *v);

static ssize_t
msg_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
	 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	size_t n = msg_len - msg_off;

	(void)src;
	(void)ud;
	if (n > length)
		n = length;
	memcpy(buf, msg_src + msg_off, n);
	msg_off += n;
	if (msg_off == msg_len) {
		/* the trailers go after the DATA: submitted from here, as
		 * nghttp2 asks (HEADERS would overtake queued DATA) */
		nghttp2_nv t[1];
		nv(&t[0], "grpc-status", msg_trailer);
		*flags |=
		    NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		assert_int_equal(nghttp2_submit_trailer(ng, id, t, 1), 0);
	}
	return (ssize_t)n;
}

static void
nv(nghttp2_nv *p, const char *n, const char *v)
{
	p->name = (uint8_t *)(uintptr_t)n;
	p->namelen = strlen(n);
	p->value = (uint8_t *)(uintptr_t)v;
	p->valuelen = strlen(v);
	p->flags = NGHTTP2_NV_FLAG_NONE;
}

/* The server answers a gRPC call: 200, the message, grpc-status. */
static void
grpc_answer(struct server *sv, const unsigned char *m, size_t ml,
	    const char *grpc_status)
{
	nghttp2_nv h[2];
	nghttp2_data_provider dp = {.read_callback = msg_read};

	nv(&h[0], ":status", "200");
	nv(&h[1], "content-type", "application/grpc");
	msg_src = m;
	msg_len = ml;
	msg_off = 0;
	msg_trailer = grpc_status;
	assert_int_equal(nghttp2_submit_response(sv->ng, 1, h, 2, &dp), 0);
}

static void
test_grpc_check(void **state)
{
	static const unsigned char serving[] = {0, 0, 0, 0, 2, 0x08, 1};
	static const unsigned char not_serving[] = {0, 0, 0, 0, 2, 0x08, 2};
	static const unsigned char garbage[] = {0, 0, 0, 0, 2, 0x0f, 1};
	static const size_t steps[] = {1, 7, 100000};
	struct sl_hc_h2_result res;
	struct server sv;
	const char *out, *why = NULL;
	size_t outlen;
	struct sl_hc_h2 *x;

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		x = sl_hc_h2_new("10.0.0.1:50051", "/", 0, "risk.v1.Scoring",
				 &out, &outlen);
		assert_non_null(x);
		server_new(&sv, out, outlen);
		assert_string_equal(sv.path, "/grpc.health.v1.Health/Check");
		assert_string_equal(sv.method, "POST");
		/* the request: a gRPC frame of HealthCheckRequest{service} */
		assert_int_equal(sv.bodylen, 5 + 2 + 15);
		assert_int_equal(sv.body[4], 17);
		assert_int_equal(sv.body[5], 0x0a);
		assert_int_equal(sv.body[6], 15);
		assert_memory_equal(sv.body + 7, "risk.v1.Scoring", 15);
		grpc_answer(&sv, serving, sizeof(serving), "0");
		assert_int_equal(server_to_check(&sv, x, steps[i], &res, &why),
				 1);
		assert_int_equal(res.status, 200);
		assert_int_equal(res.grpc_status, 0);
		assert_int_equal(res.serving, 1);
		nghttp2_session_del(sv.ng);
		sl_hc_h2_free(x);
	}

	/* a service name of 200 bytes: its length a two-byte varint, the
	 * message 203 bytes; one of 255: a message of 258, whose length
	 * takes two bytes of the frame's */
	for (size_t len = 200; len <= 255; len += 55) {
		char name[256];
		size_t ml = 3 + len;
		memset(name, 'n', len);
		name[len] = '\0';
		x = sl_hc_h2_new("a", "/", 0, name, &out, &outlen);
		assert_non_null(x);
		server_new(&sv, out, outlen);
		assert_int_equal(sv.bodylen, 5 + ml);
		assert_int_equal(sv.body[3], ml >> 8);
		assert_int_equal(sv.body[4], ml & 0xff);
		assert_int_equal(sv.body[5], 0x0a);
		assert_int_equal(sv.body[6], 0x80 | (len & 0x7f));
		assert_int_equal(sv.body[7], len >> 7);
		assert_memory_equal(sv.body + 8, name, len);
		nghttp2_session_del(sv.ng);
		sl_hc_h2_free(x);
	}

	/* NOT_SERVING */
	x = sl_hc_h2_new("a", "/", 1, "", &out, &outlen);
	assert_non_null(x);
	server_new(&sv, out, outlen);
	/* the server as a whole: an empty message */
	assert_int_equal(sv.bodylen, 5);
	grpc_answer(&sv, not_serving, sizeof(not_serving), "0");
	assert_int_equal(server_to_check(&sv, x, 9, &res, &why), 1);
	assert_int_equal(res.serving, 2);
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	/* a message that is not a HealthCheckResponse */
	x = sl_hc_h2_new("a", "/", 0, "s", &out, &outlen);
	server_new(&sv, out, outlen);
	grpc_answer(&sv, garbage, sizeof(garbage), "0");
	assert_int_equal(server_to_check(&sv, x, 100000, &res, &why), -1);
	assert_string_equal(why, "malformed gRPC health answer");
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	/* trailers-only: NOT_FOUND, no message */
	x = sl_hc_h2_new("a", "/", 0, "nope", &out, &outlen);
	server_new(&sv, out, outlen);
	{
		nghttp2_nv h[3];
		nv(&h[0], ":status", "200");
		nv(&h[1], "content-type", "application/grpc");
		nv(&h[2], "grpc-status", "5");
		assert_int_equal(nghttp2_submit_response(sv.ng, 1, h, 3, NULL),
				 0);
	}
	assert_int_equal(server_to_check(&sv, x, 100000, &res, &why), 1);
	assert_int_equal(res.grpc_status, 5);
	assert_int_equal(res.serving, -1);
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);
}

static void
test_get_check_and_failures(void **state)
{
	struct sl_hc_h2_result res;
	struct server sv;
	const char *out, *why = NULL;
	size_t outlen;
	struct sl_hc_h2 *x;
	nghttp2_nv h[1];

	(void)state;
	/* a GET of the path, judged by :status */
	x = sl_hc_h2_new("a:1", "/healthz", 0, NULL, &out, &outlen);
	assert_non_null(x);
	server_new(&sv, out, outlen);
	assert_string_equal(sv.path, "/healthz");
	assert_string_equal(sv.method, "GET");
	nv(&h[0], ":status", "204");
	assert_int_equal(nghttp2_submit_response(sv.ng, 1, h, 1, NULL), 0);
	assert_int_equal(server_to_check(&sv, x, 3, &res, &why), 1);
	assert_int_equal(res.status, 204);
	assert_int_equal(res.grpc_status, -1);
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	/* a reset */
	x = sl_hc_h2_new("a:1", "/", 0, NULL, &out, &outlen);
	server_new(&sv, out, outlen);
	assert_int_equal(nghttp2_submit_rst_stream(sv.ng, NGHTTP2_FLAG_NONE, 1,
						   NGHTTP2_REFUSED_STREAM),
			 0);
	assert_int_equal(server_to_check(&sv, x, 100000, &res, &why), -1);
	assert_string_equal(why, "stream refused");
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	x = sl_hc_h2_new("a:1", "/", 0, NULL, &out, &outlen);
	server_new(&sv, out, outlen);
	assert_int_equal(nghttp2_submit_rst_stream(sv.ng, NGHTTP2_FLAG_NONE, 1,
						   NGHTTP2_INTERNAL_ERROR),
			 0);
	assert_int_equal(server_to_check(&sv, x, 100000, &res, &why), -1);
	assert_string_equal(why, "stream reset");
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	/* a GOAWAY that leaves the check's stream out */
	x = sl_hc_h2_new("a:1", "/", 0, NULL, &out, &outlen);
	server_new(&sv, out, outlen);
	assert_int_equal(nghttp2_submit_goaway(sv.ng, NGHTTP2_FLAG_NONE, 0,
					       NGHTTP2_NO_ERROR, NULL, 0),
			 0);
	assert_int_equal(server_to_check(&sv, x, 100000, &res, &why), -1);
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	/* a server whose first frame is not its SETTINGS (the ACK of
	 * ours): nghttp2 ends the session, the check fails at once */
	x = sl_hc_h2_new("a:1", "/", 0, NULL, &out, &outlen);
	server_new2(&sv, out, outlen, 0);
	nv(&h[0], ":status", "200");
	assert_int_equal(nghttp2_submit_response(sv.ng, 1, h, 1, NULL), 0);
	assert_int_equal(server_to_check(&sv, x, 100000, &res, &why), -1);
	assert_string_equal(why, "not an HTTP/2 server's answer");
	nghttp2_session_del(sv.ng);
	sl_hc_h2_free(x);

	/* an HTTP/1.1 server's answer is no HTTP/2 */
	x = sl_hc_h2_new("a:1", "/", 0, NULL, &out, &outlen);
	{
		static const char h1[] = "HTTP/1.1 200 OK\r\n\r\n";
		assert_int_equal(
		    sl_hc_h2_input(x, h1, sizeof(h1) - 1, &res, &why), -1);
		assert_non_null(why);
	}
	sl_hc_h2_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_serving_message),
	    cmocka_unit_test(test_grpc_check),
	    cmocka_unit_test(test_get_check_and_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
