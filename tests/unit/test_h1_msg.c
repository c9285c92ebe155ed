/* SPDX-License-Identifier: MIT */
/* Unit tests for header rewriting: hop-by-hop removal both ways,
 * X-Forwarded-For appending, X-Request-Id keeping or replacing,
 * absolute-form targets, response framing fields and local errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "h1_msg.h"
#include "util.h"

static struct sl_h1_header hdrs[64];
static const struct sl_h1_limits lim = {8192, 32768, 64};

static void
parse_req(const char *raw, struct sl_h1_request *req)
{
	memset(req, 0, sizeof(*req));
	req->headers = hdrs;
	req->max_headers = 64;
	assert_int_equal(sl_h1_parse_request(raw, strlen(raw), req, &lim), 0);
}

/* What the tests forward with: the client 10.0.0.7 over plain HTTP. */
static struct sl_fwd
fwd_of(const char *rid)
{
	return (struct sl_fwd){.client_ip = "10.0.0.7",
			       .proto = "http",
			       .request_id = rid,
			       .default_host = "127.0.0.1:8080",
			       .xff = SL_FWD_APPEND};
}

static char *
rewrite(const char *raw, const char *rid)
{
	static char out[4096];
	struct sl_h1_request req;
	struct sl_fwd fwd = fwd_of(rid);
	long n;

	parse_req(raw, &req);
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

static void
test_request_hop_by_hop_removed(void **state)
{
	char *o = rewrite("GET /a?b=1 HTTP/1.1\r\nHost: h\r\n"
			  "Connection: keep-alive, X-Secret\r\n"
			  "Keep-Alive: timeout=5\r\nTE: trailers\r\n"
			  "Trailer: X-T\r\nUpgrade: websocket\r\n"
			  "Proxy-Connection: keep-alive\r\nX-Secret: 1\r\n"
			  "Accept: */*\r\nExpect: 100-continue\r\n\r\n",
			  "rid1");

	assert_string_equal(o, "GET /a?b=1 HTTP/1.1\r\nHost: h\r\n"
			       "Accept: */*\r\nX-Forwarded-For: 10.0.0.7\r\n"
			       "X-Forwarded-Proto: http\r\n"
			       "X-Request-Id: rid1\r\n\r\n");
}

/* Trailer is end-to-end (RFC 9110 section 6.6.2): it goes on with a
 * chunked body, whose trailers go on, and not with any other. */
static void
test_request_trailer_with_chunked_body(void **state)
{
	char *o = rewrite("POST /a HTTP/1.1\r\nHost: h\r\n"
			  "Transfer-Encoding: chunked\r\nTRAILER: X-T\r\n\r\n",
			  "r");

	assert_string_equal(o, "POST /a HTTP/1.1\r\nHost: h\r\n"
			       "Transfer-Encoding: chunked\r\nTRAILER: X-T\r\n"
			       "X-Forwarded-For: 10.0.0.7\r\n"
			       "X-Forwarded-Proto: http\r\n"
			       "X-Request-Id: r\r\n\r\n");
	o = rewrite("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
		    "Trailer: X-T\r\n\r\n",
		    "r");
	assert_null(strstr(o, "Trailer"));
}

/* A body of pieces (an HTTP/2 request of no length): its text head says
 * chunked where a client's framing field would stand, and keeps Trailer;
 * its block keeps the framing in its header, with no field for it. */
static void
test_request_head_of_a_body_of_pieces(void **state)
{
	static char out[4096];
	struct sl_h1_request req;
	struct sl_fwd fwd = fwd_of("r");
	struct sl_hblk b;
	long n;

	(void)state;
	parse_req("POST /a HTTP/1.1\r\nHost: h\r\nTrailer: x-sum\r\n\r\n",
		  &req);
	assert_int_equal(req.body, SL_H1_BODY_NONE);
	req.body = SL_H1_BODY_STREAM; /* as h2_op_head sets it */
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "POST /a HTTP/1.1\r\nHost: h\r\n"
				 "Trailer: x-sum\r\n"
				 "Transfer-Encoding: chunked\r\n"
				 "X-Forwarded-For: 10.0.0.7\r\n"
				 "X-Forwarded-Proto: http\r\n"
				 "X-Request-Id: r\r\n\r\n");
	n = sl_h1_block_request_head(out, sizeof(out), &req, &fwd);
	assert_true(n > 0);
	sl_hblk_head(out, &b);
	assert_int_equal(b.body, SL_H1_BODY_STREAM);
	assert_null(memmem(out, (size_t)n, "chunked", 7));
}

/* The last chunk of a body of pieces, its trailers from a field block. */
static void
test_last_chunk_with_trailers(void **state)
{
	char blk[256], out[256];
	struct sl_hblk b;
	size_t len, n;

	(void)state;
	assert_int_equal(sl_h1_last_chunk_len(NULL), 5);
	n = sl_h1_last_chunk(out, NULL);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "0\r\n\r\n", 5);
	sl_hblk_init(&b, 0);
	len = sizeof(b);
	len += sl_hblk_put(blk + len, "x-sum", 5, "42", 2);
	len += sl_hblk_put(blk + len, "grpc-status", 11, "", 0);
	b.len = (uint32_t)len;
	b.nfields = 2;
	memcpy(blk, &b, sizeof(b));
	n = sl_h1_last_chunk(out, blk);
	assert_int_equal(n, sl_h1_last_chunk_len(blk));
	out[n] = '\0';
	assert_string_equal(out, "0\r\nx-sum: 42\r\ngrpc-status: \r\n\r\n");
}

/*
 * The chunk writer under writes cut short at every size (1 to 40 bytes a
 * call), with payload arriving in pieces and the end known while a chunk
 * is open and more payload waits after it (the last chunk went after the
 * open chunk then, cutting the body: the chunks that followed came after
 * a "0"). What went decodes to the payload, then the trailers.
 */
static void
test_chunker_cut_writes(void **state)
{
	static const char last[] = "0\r\nx-sum: 42\r\n\r\n";
	char payload[600], wire[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)('a' + i % 26);
	for (size_t cut = 1; cut <= 40; cut++) {
		for (int trl = 0; trl < 2; trl++) {
			struct sl_h1_chunker ck = {0};
			size_t have = 0, taken = 0, wlen = 0;
			int ended = 0, round = 0;

			while (!ended) {
				struct iovec iov[SL_H1_CHUNKER_IOV];
				size_t w = cut, took;
				int niov, end;

				assert_true(round++ < 10000);
				/* 97 more bytes of payload every third round,
				 * to 600 */
				if (round % 3 == 0 && have < sizeof(payload))
					have =
					    SL_MIN(have + 97, sizeof(payload));
				end = have == sizeof(payload);
				niov = sl_h1_chunker_iov(
				    &ck, payload + taken, have - taken, end,
				    trl ? last : NULL,
				    trl ? sizeof(last) - 1 : 0, iov);
				assert_true(niov <= SL_H1_CHUNKER_IOV);
				for (int k = 0; k < niov && w > 0; k++) {
					size_t m = SL_MIN(w, iov[k].iov_len);
					assert_true(wlen + m <= sizeof(wire));
					memcpy(wire + wlen, iov[k].iov_base, m);
					wlen += m;
					w -= m;
				}
				took = sl_h1_chunker_sent(&ck, cut - w, &ended);
				taken += took;
				assert_true(taken <= have);
			}
			assert_int_equal(taken, sizeof(payload));
			if (trl)
				assert_non_null(
				    memmem(wire, wlen, "\r\n0\r\nx-sum", 10));
			{
				struct sl_h1_chunked c;
				size_t used = 0, data = 0;

				sl_h1_chunked_init(&c, 1024);
				assert_int_equal(
				    sl_h1_chunked_decode(&c, wire, wlen, 1,
							 &used, &data),
				    1);
				assert_int_equal(used, wlen);
				assert_int_equal(data, sizeof(payload));
				assert_memory_equal(wire, payload,
						    sizeof(payload));
			}
			/* and the chunker is fresh for another body */
			assert_false(sl_h1_chunker_open(&ck));
			assert_int_equal(ck.last_queued, 0);
		}
	}
}

/* Special fields are recognized in any case; fields of the same length
 * that differ by one letter are ordinary and forwarded. */
static void
test_special_names_any_case_not_look_alikes(void **state)
{
	char *o = rewrite("GET / HTTP/1.1\r\nhost: h\r\n"
			  "CONNECTION: close\r\nkeep-ALIVE: 1\r\nte: x\r\n"
			  "TRAILER: a\r\nupGrade: b\r\nPROXY-connection: c\r\n"
			  "x-REQUEST-id: abc\r\nX-FORWARDED-PROTO: https\r\n"
			  "x-forwarded-for: 1.1.1.1\r\n"
			  "Tf: 1\r\nConnectiom: 2\r\nKeep-Alivf: 3\r\n"
			  "Trailes: 4\r\nUpgradf: 5\r\nProxy-Connectiom: 6\r\n"
			  "X-Request-Ie: 7\r\nX-Forwarded-Prott: 8\r\n"
			  "X-Forwarded-Foo: 9\r\nExpecu: 10\r\n\r\n",
			  "rid");

	assert_string_equal(
	    o, "GET / HTTP/1.1\r\nhost: h\r\n"
	       "X-Forwarded-For: 1.1.1.1, 10.0.0.7\r\n"
	       "Tf: 1\r\nConnectiom: 2\r\nKeep-Alivf: 3\r\n"
	       "Trailes: 4\r\nUpgradf: 5\r\nProxy-Connectiom: 6\r\n"
	       "X-Request-Ie: 7\r\nX-Forwarded-Prott: 8\r\n"
	       "X-Forwarded-Foo: 9\r\nExpecu: 10\r\n"
	       "X-Forwarded-Proto: http\r\nX-Request-Id: rid\r\n\r\n");
}

/* TLS: the subject header is removed from what the client sent, every
 * field of that name in any case, and set only from the verified
 * certificate; https in X-Forwarded-Proto. */
static void
test_request_client_subject(void **state)
{
	static char out[4096];
	struct sl_h1_request req;
	struct sl_fwd fwd = {.client_ip = "10.0.0.7",
			     .proto = "https",
			     .request_id = "rid",
			     .default_host = "127.0.0.1:8443",
			     .subject_header = "X-Client-Subject",
			     .xff = SL_FWD_APPEND};
	const char *raw =
	    "GET / HTTP/1.1\r\nHost: h\r\n"
	    "x-client-subject: CN=mallory\r\nA: 1\r\n"
	    "X-CLIENT-SUBJECT: CN=eve\r\nX-Client-Subjec: 2\r\n\r\n";
	long n;

	(void)state;
	parse_req(raw, &req);
	/* no verified certificate: none at all */
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n"
				 "X-Client-Subjec: 2\r\n"
				 "X-Forwarded-For: 10.0.0.7\r\n"
				 "X-Forwarded-Proto: https\r\n"
				 "X-Request-Id: rid\r\n\r\n");
	/* a verified one: its subject */
	fwd.subject = "CN=alice,O=Example Corp";
	n = sl_h1_write_request_head(out, sizeof(out) - 1, &req, &fwd);
	assert_true(n > 0);
	out[n] = '\0';
	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n"
				 "X-Client-Subjec: 2\r\n"
				 "X-Forwarded-For: 10.0.0.7\r\n"
				 "X-Forwarded-Proto: https\r\n"
				 "X-Request-Id: rid\r\n"
				 "X-Client-Subject: CN=alice,O=Example Corp\r\n"
				 "\r\n");
}

static void
test_connection_cannot_remove_framing(void **state)
{
	char *o =
	    rewrite("POST /p HTTP/1.1\r\nHost: h\r\n"
		    "Connection: Content-Length, Host, Transfer-Encoding, "
		    "X-Drop\r\nX-Drop: 1\r\nContent-Length: 4\r\n\r\n",
		    "r");

	assert_non_null(strstr(o, "\r\nHost: h\r\n"));
	assert_non_null(strstr(o, "\r\nContent-Length: 4\r\n"));
	assert_null(strstr(o, "X-Drop"));
	assert_null(strstr(o, "Connection"));

	static char resp[4096];
	struct sl_h1_response r;
	const char *raw = "HTTP/1.1 200 OK\r\nConnection: Content-Length, "
			  "Transfer-Encoding\r\nContent-Length: 5\r\n\r\n";
	memset(&r, 0, sizeof(r));
	r.headers = hdrs;
	r.max_headers = 64;
	assert_int_equal(sl_h1_parse_response(raw, strlen(raw), &r, SL_M_GET),
			 0);
	long n = sl_h1_write_response_head(resp, sizeof(resp) - 1, &r, 1, 0, 0,
					   "rid", NULL, NULL, NULL);
	resp[n] = '\0';
	assert_non_null(strstr(resp, "\r\nContent-Length: 5\r\n"));
}

static void
test_http10_without_host_gets_one(void **state)
{
	char *o = rewrite("GET /x HTTP/1.0\r\nAccept: */*\r\n\r\n", "r");

	static const char want[] =
	    "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";

	assert_true(strncmp(o, want, sizeof(want) - 1) == 0);
}

static void
test_request_xff_appended_in_place(void **state)
{
	char *o = rewrite("POST / HTTP/1.1\r\nHost: h\r\n"
			  "X-Forwarded-For: 1.2.3.4\r\nContent-Length: 0\r\n"
			  "X-Forwarded-For: 5.6.7.8\r\n"
			  "X-Forwarded-Proto: https\r\n\r\n",
			  "r");

	assert_string_equal(
	    o, "POST / HTTP/1.1\r\nHost: h\r\n"
	       "X-Forwarded-For: 1.2.3.4, 5.6.7.8, 10.0.0.7\r\n"
	       "Content-Length: 0\r\n"
	       "X-Forwarded-Proto: http\r\nX-Request-Id: r\r\n\r\n");
}

static void
test_request_absolute_form(void **state)
{
	char *o = rewrite("GET http://Pay.Example.com:8080/v1/x?q HTTP/1.1\r\n"
			  "Host: other\r\n\r\n",
			  "r");

	assert_string_equal(
	    o, "GET /v1/x?q HTTP/1.1\r\n"
	       "Host: Pay.Example.com:8080\r\n"
	       "X-Forwarded-For: 10.0.0.7\r\n"
	       "X-Forwarded-Proto: http\r\nX-Request-Id: r\r\n\r\n");
}

static void
test_request_chunked_kept_and_10_upgraded(void **state)
{
	char *o = rewrite("PUT /u HTTP/1.1\r\nHost: h\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n",
			  "r");

	assert_non_null(strstr(o, "PUT /u HTTP/1.1\r\n"));
	assert_non_null(strstr(o, "\r\nTransfer-Encoding: chunked\r\n"));
	o = rewrite("GET / HTTP/1.0\r\n\r\n", "r");
	/* upstream connections are HTTP/1.1, whatever the client spoke */
	assert_true(strncmp(o, "GET / HTTP/1.1\r\n", 16) == 0);
}

static void
test_request_id(void **state)
{
	struct sl_h1_request req;
	char id[SL_REQUEST_ID_MAX + 1];

	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: abc-123\r\n\r\n",
		  &req);
	assert_int_equal(sl_h1_client_request_id(&req, id), 1);
	assert_string_equal(id, "abc-123");
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a b\r\n\r\n",
		  &req);
	assert_int_equal(sl_h1_client_request_id(&req, id), 0);
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\r\n"
		  "X-Request-Id: b\r\n\r\n",
		  &req);
	assert_int_equal(sl_h1_client_request_id(&req, id), 0);
	assert_int_equal(sl_h1_request_id_ok("a\"b", 3), 0);
	char longid[SL_REQUEST_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid));
	assert_int_equal(sl_h1_request_id_ok(longid, SL_REQUEST_ID_MAX), 1);
	assert_int_equal(sl_h1_request_id_ok(longid, SL_REQUEST_ID_MAX + 1), 0);
	/* the rewritten head carries only the chosen id */
	char *o = rewrite(
	    "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: bad id\r\n\r\n", "gen");
	assert_null(strstr(o, "bad id"));
	assert_non_null(strstr(o, "X-Request-Id: gen\r\n"));
}

static void
test_request_head_too_small_buffer(void **state)
{
	struct sl_h1_request req;
	struct sl_fwd fwd = {.client_ip = "1.1.1.1",
			     .proto = "http",
			     .request_id = "r",
			     .default_host = "h",
			     .xff = SL_FWD_APPEND};
	char out[32];

	parse_req("GET /long/path HTTP/1.1\r\nHost: example\r\n\r\n", &req);
	assert_int_equal(sl_h1_write_request_head(out, sizeof(out), &req, &fwd),
			 -1);
}

static char *
rewrite_resp(const char *raw, int minor, int close, int dechunk)
{
	static char out[4096];
	struct sl_h1_response resp;
	long n;

	memset(&resp, 0, sizeof(resp));
	resp.headers = hdrs;
	resp.max_headers = 64;
	assert_int_equal(
	    sl_h1_parse_response(raw, strlen(raw), &resp, SL_M_GET), 0);
	n = sl_h1_write_response_head(out, sizeof(out) - 1, &resp, minor, close,
				      dechunk, "rid", NULL, NULL, NULL);
	assert_true(n > 0);
	out[n] = '\0';
	return out;
}

static void
test_interim_head(void **state)
{
	static char out[512];
	struct sl_h1_response resp;
	const char *raw = "HTTP/1.1 103 Early Hints\r\n"
			  "Link: </s.css>; rel=preload\r\n"
			  "Connection: X-Hop\r\nX-Hop: 1\r\n"
			  "Keep-Alive: timeout=5\r\n"
			  "Link: </t.js>; rel=preload\r\n\r\n";
	long n;

	(void)state;
	memset(&resp, 0, sizeof(resp));
	resp.headers = hdrs;
	resp.max_headers = 64;
	assert_int_equal(
	    sl_h1_parse_response(raw, strlen(raw), &resp, SL_M_GET), 0);
	n = sl_h1_write_interim_head(out, sizeof(out) - 1, &resp);
	assert_true(n > 0);
	out[n] = '\0';
	/* no hop-by-hop field, no field of sluice's own, no framing */
	assert_string_equal(out, "HTTP/1.1 103 Early Hints\r\n"
				 "Link: </s.css>; rel=preload\r\n"
				 "Link: </t.js>; rel=preload\r\n\r\n");
	/* a buffer too small is -1, not a cut head */
	assert_int_equal(sl_h1_write_interim_head(out, 40, &resp), -1);
}

static void
test_response_rewrite(void **state)
{
	char *o =
	    rewrite_resp("HTTP/1.1 200 OK\r\nConnection: X-Internal\r\n"
			 "X-Internal: yes\r\nKeep-Alive: timeout=3\r\n"
			 "Content-Length: 5\r\nX-Request-Id: upstream\r\n\r\n",
			 1, 0, 0);

	assert_string_equal(o, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
			       "X-Request-Id: rid\r\n\r\n");
	o = rewrite_resp("HTTP/1.1 404 Not Found\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n",
			 0, 1, 1);
	assert_string_equal(o, "HTTP/1.1 404 Not Found\r\nX-Request-Id: rid\r\n"
			       "Connection: close\r\n\r\n");
	/* equal duplicates are accepted, and forwarded as one */
	o = rewrite_resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			 "X-A: 1\r\ncontent-length: 003\r\n\r\n",
			 1, 0, 0);
	assert_string_equal(o, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
			       "X-A: 1\r\nX-Request-Id: rid\r\n\r\n");
	o = rewrite_resp("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 0,
			 0);
	assert_string_equal(o, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
			       "X-Request-Id: rid\r\n"
			       "Connection: keep-alive\r\n\r\n");
}

static void
test_error_responses(void **state)
{
	char out[1024];
	long n;

	n = sl_h1_write_error(out, sizeof(out) - 1, 504, "upstream_timeout",
			      "abc", 0, 0, 1, NULL, NULL);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "HTTP/1.1 504 Gateway Timeout\r\n"));
	assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
	assert_null(strstr(out, "Connection: close"));
	assert_non_null(strstr(out,
			       "\r\n\r\n{\"error\":\"upstream_timeout\","
			       "\"status\":504,\"request_id\":\"abc\"}\n"));
	char *body = strstr(out, "\r\n\r\n") + 4;
	char cl[64];
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(out, cl));

	n = sl_h1_write_error(out, sizeof(out) - 1, 405, "method_not_allowed",
			      "abc", 1, 0, 1, NULL, NULL);
	out[n] = '\0';
	assert_non_null(strstr(out, "\r\nAllow: "));
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));

	n = sl_h1_write_error(out, sizeof(out) - 1, 503, "no_endpoint", "abc",
			      0, 1, 1, NULL, NULL);
	out[n] = '\0';
	assert_non_null(strstr(out, "\r\nRetry-After: "));
	/* HEAD: same head, no body */
	assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");
	assert_int_equal(sl_h1_write_error(out, 40, 400, "bad_request", "abc",
					   1, 0, 1, NULL, NULL),
			 -1);
	/* a persistent HTTP/1.0 client is told the connection stays */
	n = sl_h1_write_error(out, sizeof(out) - 1, 404, "no_route", "abc", 0,
			      0, 0, NULL, NULL);
	out[n] = '\0';
	assert_non_null(strstr(out, "\r\nConnection: keep-alive\r\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_hop_by_hop_removed),
	    cmocka_unit_test(test_request_trailer_with_chunked_body),
	    cmocka_unit_test(test_request_head_of_a_body_of_pieces),
	    cmocka_unit_test(test_last_chunk_with_trailers),
	    cmocka_unit_test(test_chunker_cut_writes),
	    cmocka_unit_test(test_special_names_any_case_not_look_alikes),
	    cmocka_unit_test(test_connection_cannot_remove_framing),
	    cmocka_unit_test(test_request_client_subject),
	    cmocka_unit_test(test_http10_without_host_gets_one),
	    cmocka_unit_test(test_request_xff_appended_in_place),
	    cmocka_unit_test(test_request_absolute_form),
	    cmocka_unit_test(test_request_chunked_kept_and_10_upgraded),
	    cmocka_unit_test(test_request_id),
	    cmocka_unit_test(test_request_head_too_small_buffer),
	    cmocka_unit_test(test_response_rewrite),
	    cmocka_unit_test(test_interim_head),
	    cmocka_unit_test(test_error_responses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
