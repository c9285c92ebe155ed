/* SPDX-License-Identifier: MIT */
/*
 * The translation of heads for HTTP/2 upstreams (h2up_head.c), without a
 * connection: a request head, as HTTP/1.1 text (a split's or a mirror's)
 * or as a head block (hblock.h), into the HPACK block of its HEADERS,
 * decoded back by libnghttp2's inflater (an HPACK decoder that is not
 * sluice's own); and a response's fields, handed over one by one as the
 * connection's decoder would, checked against RFC 9113 section 8 and
 * turned into the head block the exchange reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "h1_msg.h"
#include "h2up_head.c"

/* ---- the request ---------------------------------------------------------*/

/* blk decoded by nghttp2 into "name=value;" pairs, in their order. */
static void
decode(const struct dbuf *blk, char *out, size_t n)
{
	nghttp2_hd_inflater *inf;
	const uint8_t *p = (const uint8_t *)blk->p + blk->off;
	size_t left = dbuf_n(blk), k = 0;

	out[0] = '\0';
	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r =
		    nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, left, 1);

		assert_true(r >= 0);
		p += r;
		left -= (size_t)r;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			int w = snprintf(out + k, n - k, "%.*s=%.*s;",
					 (int)nv.namelen, nv.name,
					 (int)nv.valuelen, nv.value);
			assert_true(w > 0 && (size_t)w < n - k);
			k += (size_t)w;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
		assert_true(r > 0 || left > 0);
	}
	assert_int_equal(left, 0);
	nghttp2_hd_inflate_del(inf);
}

/* text translated: h2up_head_request's answer, its block decoded into
 * got, *body what it says of DATA. */
static int
from_text(struct h2up_stream *st, const char *text, int tls, char *got,
	  size_t n, int *body)
{
	struct dbuf blk = {0};
	char *p = strdup(text);
	int r;

	assert_non_null(p);
	memset(st, 0, sizeof(*st));
	r = h2up_head_request(st, p, strlen(p), tls, &blk, body);
	if (r == 0)
		decode(&blk, got, n);
	dbuf_free(&blk);
	free(p);
	return r;
}

static void
test_text_head_drops_the_connection_fields(void **state)
{
	struct h2up_stream st;
	char got[2048];
	int body;

	(void)state;
	/* every field of HTTP/1.1's connection management stays out of
	 * HEADERS (RFC 9113 section 8.2.2), Host becomes :authority; a
	 * name is lower-cased, the value kept */
	assert_int_equal(
	    from_text(&st,
		      "GET /a?b HTTP/1.1\r\nHost: up.test\r\nTE: trailers\r\n"
		      "Upgrade: h2c\r\nConnection: Upgrade\r\n"
		      "Proxy-Connection: keep-alive\r\nKeep-Alive: 5\r\n"
		      "X-Kept: Value \r\n\r\n",
		      1, got, sizeof(got), &body),
	    0);
	assert_string_equal(got, ":method=GET;:scheme=https;:path=/a?b;"
				 ":authority=up.test;x-kept=Value;");
	assert_int_equal(body, 0);
	assert_int_equal(st.f & (S_NOBODY | S_GRPC), 0);
}

/*
 * HTTP2-Settings, the h2c upgrade's field (RFC 7540 section 3.2.1), stays
 * out of HEADERS with the other connection fields. req_field_dropped
 * once looked for it among the names of 13 bytes (it has 14): the field
 * went to the server (found by this test, session 29).
 */
static void
test_text_head_drops_http2_settings(void **state)
{
	struct h2up_stream st;
	char got[2048];
	int body;

	(void)state;
	assert_int_equal(from_text(&st,
				   "GET / HTTP/1.1\r\nHost: a\r\n"
				   "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
				   0, got, sizeof(got), &body),
			 0);
	assert_string_equal(got,
			    ":method=GET;:scheme=http;:path=/;:authority=a;");
}

static void
test_text_head_framing_and_grpc(void **state)
{
	struct h2up_stream st;
	char got[2048];
	int body;

	(void)state;
	/* HEAD: no response body whatever its fields say */
	assert_int_equal(from_text(&st, "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
				   0, got, sizeof(got), &body),
			 0);
	assert_string_equal(got,
			    ":method=HEAD;:scheme=http;:path=/h;:authority=a;");
	assert_true(st.f & S_NOBODY);
	assert_int_equal(body, 0);
	/* a chunked body (the exchange's writer says so for a body of
	 * pieces): DATA follows as it comes, to the end mark;
	 * Transfer-Encoding stays out */
	assert_int_equal(from_text(&st,
				   "POST /c HTTP/1.1\r\nHost: a\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n",
				   0, got, sizeof(got), &body),
			 0);
	assert_string_equal(got,
			    ":method=POST;:scheme=http;:path=/c;:authority=a;");
	assert_true(st.req_left == UINT64_MAX);
	assert_int_equal(body, 1);
	/* gRPC: te: trailers goes last, the length says what DATA carries;
	 * no Host, no :authority */
	assert_int_equal(from_text(&st,
				   "POST /S/M HTTP/1.1\r\n"
				   "Content-Type: application/grpc+proto\r\n"
				   "Content-Length: 12\r\n\r\n",
				   0, got, sizeof(got), &body),
			 0);
	assert_string_equal(got, ":method=POST;:scheme=http;:path=/S/M;"
				 "content-type=application/grpc+proto;"
				 "content-length=12;te=trailers;");
	assert_true(st.f & S_GRPC);
	assert_int_equal(st.req_left, 12);
	assert_int_equal(body, 1);
}

static void
test_text_head_long_names(void **state)
{
	/* names past the memo's (24 bytes) and past the stack's copy (128
	 * bytes): lower-cased all the same */
	static char text[1024], want[1024], name[200];
	struct h2up_stream st;
	char got[2048];
	int body;

	(void)state;
	memset(name, 'N', 150);
	memcpy(name, "X-Long-", 7);
	name[150] = '\0';
	snprintf(text, sizeof(text),
		 "GET / HTTP/1.1\r\nHost: a\r\nX-A-Name-Longer-Than-The-Memo: "
		 "1\r\n%s: 2\r\n\r\n",
		 name);
	for (char *q = name; *q != '\0'; q++)
		*q = (char)(*q >= 'A' && *q <= 'Z' ? *q | 0x20 : *q);
	snprintf(want, sizeof(want),
		 ":method=GET;:scheme=http;:path=/;:authority=a;"
		 "x-a-name-longer-than-the-memo=1;%s=2;",
		 name);
	assert_int_equal(from_text(&st, text, 0, got, sizeof(got), &body), 0);
	assert_string_equal(got, want);
}

static void
test_text_head_refused(void **state)
{
	struct h2up_stream st;
	char got[256];
	int body;

	(void)state;
	/* no tunnel over an HTTP/2 upstream, a field line without a colon,
	 * a request line without its version */
	assert_int_equal(
	    from_text(&st, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0,
		      got, sizeof(got), &body),
	    -1);
	assert_int_equal(from_text(&st,
				   "GET / HTTP/1.1\r\nHost: a\r\nnocolon"
				   "\r\n\r\n",
				   0, got, sizeof(got), &body),
			 -1);
	assert_int_equal(from_text(&st, "GET /\r\nHost: a\r\n\r\n", 0, got,
				   sizeof(got), &body),
			 -1);
}

/* A request head block of the n fields (name, value pairs) at f. */
static size_t
block(char *out, const char *(*f)[2], size_t n, uint8_t framing,
      uint64_t length)
{
	struct sl_hblk b;
	size_t at = sizeof(b);

	sl_hblk_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		at += sl_hblk_put(out + at, f[i][0], strlen(f[i][0]), f[i][1],
				  strlen(f[i][1]));
	b.nfields = (uint16_t)n;
	b.len = (uint32_t)at;
	b.body = framing;
	b.length = length;
	memcpy(out, &b, sizeof(b));
	return at;
}

static void
test_block_head(void **state)
{
	static const char *get[][2] = {
	    {"Accept", "*/*"},	{":path", "/p"},	  {":method", "GET"},
	    {"TE", "trailers"}, {":authority", "b.test"}, {"Upgrade", "x"}};
	static const char *connect[][2] = {{":method", "CONNECT"},
					   {":authority", "b.test:443"}};
	static const char *head[][2] = {{":method", "HEAD"}, {":path", "/"}};
	char buf[1024], got[1024];
	struct dbuf blk = {0};
	struct h2up_stream st;
	int body;
	size_t n;

	(void)state;
	/* the pseudo-fields first, in their order, wherever their records
	 * are; the length's bytes follow as DATA */
	memset(&st, 0, sizeof(st));
	n = block(buf, get, 6, SL_H1_BODY_LENGTH, 7);
	assert_int_equal(h2up_head_request(&st, buf, n, 0, &blk, &body), 0);
	decode(&blk, got, sizeof(got));
	assert_string_equal(got, ":method=GET;:scheme=http;:path=/p;"
				 ":authority=b.test;accept=*/*;");
	assert_int_equal(body, 1);
	assert_int_equal(st.req_left, 7);
	dbuf_free(&blk);
	/* HEAD, no :authority without one */
	memset(&st, 0, sizeof(st));
	n = block(buf, head, 2, SL_H1_BODY_NONE, 0);
	assert_int_equal(h2up_head_request(&st, buf, n, 1, &blk, &body), 0);
	decode(&blk, got, sizeof(got));
	assert_string_equal(got, ":method=HEAD;:scheme=https;:path=/;");
	assert_true(st.f & S_NOBODY);
	assert_int_equal(body, 0);
	dbuf_free(&blk);
	/* CONNECT: refused, as in text */
	memset(&st, 0, sizeof(st));
	n = block(buf, connect, 2, SL_H1_BODY_NONE, 0);
	assert_int_equal(h2up_head_request(&st, buf, n, 0, &blk, &body), -1);
	dbuf_free(&blk);
}

/* name lower-cased, and value, as the general encoder writes them (RAW, as
 * h2up_head.c asks) at out's end; returns the new end. */
static size_t
ref_field(uint8_t *out, size_t at, size_t room, const char *name,
	  const char *value)
{
	char l[256];
	size_t nl = strlen(name), k;

	assert_true(nl < sizeof(l));
	sl_hpack_lower(l, name, nl);
	k = sl_hpack_enc_field(out + at, room - at, l, nl, value, strlen(value),
			       SL_HPACK_F_RAW);
	assert_true(k > 0);
	return at + k;
}

/* The connection's fields stay out in any case; names of their lengths
 * and first letters that are not theirs go. */
static void
test_block_head_drops_in_any_case(void **state)
{
	static const char *f[][2] = {
	    {":method", "GET"},
	    {":path", "/"},
	    {"TE", "trailers"},
	    {"tE", "x"},
	    {"Tx", "1"},
	    {"HOST", "h"},
	    {"hosT", "h"},
	    {"Hast", "2"},
	    {"UPGRADE", "x"},
	    {"Upgrada", "3"},
	    {"CONNECTION", "x"},
	    {"Connectiox", "4"},
	    {"KEEP-ALIVE", "x"},
	    {"keep-alivx", "5"},
	    {"HTTP2-SETTINGS", "x"},
	    {"http2-settingz", "6"},
	    {"PROXY-CONNECTION", "x"},
	    {"proxy-connectioN", "x"},
	    {"proxy-connectiox", "7"},
	    {"TRANSFER-ENCODING", "x"},
	    {"transfer-encodinx", "8"},
	    {"CONTENT-TYPE", "application/grpc"},
	};
	char buf[1024], got[1024];
	struct dbuf blk = {0};
	struct h2up_stream st;
	int body;
	size_t n;

	(void)state;
	memset(&st, 0, sizeof(st));
	n = block(buf, f, sizeof(f) / sizeof(f[0]), SL_H1_BODY_NONE, 0);
	assert_int_equal(h2up_head_request(&st, buf, n, 0, &blk, &body), 0);
	decode(&blk, got, sizeof(got));
	assert_string_equal(got, ":method=GET;:scheme=http;:path=/;tx=1;"
				 "hast=2;upgrada=3;connectiox=4;keep-alivx=5;"
				 "http2-settingz=6;proxy-connectiox=7;"
				 "transfer-encodinx=8;"
				 "content-type=application/grpc;te=trailers;");
	assert_true(st.f & S_GRPC);
	dbuf_free(&blk);
}

static char longv[301], midv[34], longpath[301];
static const char *fields[][2] = {
    {"Content-Type", "application/grpc"},
    {"User-Agent", "grpc-go/1.62"},
    {"X-Empty", ""},
    {"accept-encoding", "gzip, deflate"},
    {"Accept-Encoding", ""},
    {"X-Mid", midv},
    {"X-Long", longv},
    {"X-A-Name-Longer-Than-The-Memo", "1"},
    {"x-request-id", "0123456789abcdef0123456789abcdef01"},
    {"Connection", "x"},
    {"Date", "Fri, 27 Nov 2026 07:56:47 GMT"},
    {"content-length", "0"},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* A head of method, path, authority (NULL: none) and the fields whose
 * number is not a multiple of skip (Content-Type always), the
 * pseudo-fields' records last: h2up_head_request's block, the general
 * encoder's for the same fields, compared, and read by nghttp2. */
static void
head_bytes(const char *method, const char *path, const char *auth, int tls,
	   size_t skip)
{
	static char buf[8192];
	static uint8_t want[8192];
	const char *f[NFIELDS + 3][2];
	char got[8192];
	struct dbuf blk = {0};
	struct h2up_stream st;
	size_t n = 0, w = 0, k;
	int body;

	for (size_t i = 0; i < NFIELDS; i++)
		if (i == 0 || i % skip != 0)
			memcpy(f[n++], fields[i], sizeof(f[0]));
	k = n;
	f[n][0] = ":method";
	f[n++][1] = method;
	f[n][0] = ":path";
	f[n++][1] = path;
	if (auth != NULL) {
		f[n][0] = ":authority";
		f[n++][1] = auth;
	}
	w = ref_field(want, w, sizeof(want), ":method", method);
	w = ref_field(want, w, sizeof(want), ":scheme", tls ? "https" : "http");
	w = ref_field(want, w, sizeof(want), ":path", path);
	if (auth != NULL)
		w = ref_field(want, w, sizeof(want), ":authority", auth);
	for (size_t i = 0; i < k; i++)
		if (strcmp(f[i][0], "Connection") != 0)
			w = ref_field(want, w, sizeof(want), f[i][0], f[i][1]);
	w = ref_field(want, w, sizeof(want), "te", "trailers");
	memset(&st, 0, sizeof(st));
	k = block(buf, f, n, SL_H1_BODY_LENGTH, 0);
	assert_int_equal(h2up_head_request(&st, buf, k, tls, &blk, &body), 0);
	assert_int_equal(dbuf_n(&blk), w);
	assert_memory_equal(blk.p + blk.off, want, w);
	decode(&blk, got, sizeof(got));
	dbuf_free(&blk);
}

/*
 * The block h2up_head_request writes, through the pseudo-fields' static
 * indexes and the name memo, is byte for byte what the general encoder
 * (sl_hpack_enc_field, the static table searched) writes for the same
 * fields in the same order, and nghttp2 reads it: methods and paths the
 * static table holds and others near them, both schemes, no :authority,
 * names in any case, empty values, values past the memo's (32 bytes) and
 * past a 7-bit length, names past the memo's (24 bytes); each head twice,
 * the memo cold then warm.
 */
static void
test_block_head_bytes(void **state)
{
	static const char *methods[] = {"GET",	  "POST", "get", "Post",
					"DELETE", "GETX", "PU"};
	static const char *paths[] = {
	    "/", "/index.html", "/index.htm", "/Index.html", "//", longpath};
	static const char *auths[] = {NULL, "a", "grpc.example.test:50051"};

	(void)state;
	memset(longv, 'L', 300);
	memset(midv, 'M', 33);
	memset(longpath, 'p', 300);
	longpath[0] = '/';
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		for (size_t q = 0; q < sizeof(paths) / sizeof(paths[0]); q++)
			for (size_t a = 0; a < 3; a++)
				for (int round = 0; round < 2; round++)
					head_bytes(methods[m], paths[q],
						   auths[a], (int)((m + a) % 2),
						   2 + (m + q) % 3);
}

/* ---- the response --------------------------------------------------------*/

/* The response fields (name, value pairs; NULL ends) handed to the field
 * handler as the decoder would, then the block's end: 0, or -1 with
 * st->bad saying why. */
static int
respond(struct h2up_stream *st, const char *const *f, int end)
{
	for (; f[0] != NULL; f += 2)
		if (h2up_on_field(NULL, &st->hs, f[0], strlen(f[0]), f[1],
				  strlen(f[1]), 0) != 0)
			break;
	if (st->f & S_BAD)
		return -1;
	return h2up_resp_headers(st, end);
}

static void
fresh(struct h2up_stream *st)
{
	dbuf_free(&st->resp);
	dbuf_free(&st->hdr);
	memset(st, 0, sizeof(*st));
}

static void
test_response_heads_refused(void **state)
{
	static const struct {
		const char *f[8];
		const char *why;
	} bads[] = {
	    {{":status", "2000", NULL}, "a :status of other than 3 digits"},
	    {{":status", "2x0", NULL}, "a :status of other than 3 digits"},
	    {{":status", "099", NULL}, "a :status under 100"},
	    {{":status", "200", ":path", "/", NULL},
	     "a pseudo-field a response may not carry"},
	    {{":status", "200", "te", "gzip", NULL},
	     "a connection-specific field"},
	    {{":status", "200", "upgrade", "h2c", NULL},
	     "a connection-specific field"},
	    {{":status", "200", "content-length", "1", "content-length", "1",
	      NULL},
	     "a bad content-length"},
	    {{":status", "200", "content-length", "1a", NULL},
	     "a bad content-length"},
	    {{":status", "200", "content-length", "", NULL},
	     "a bad content-length"},
	    {{":status", "200", "content-length", "12345678901234567890", NULL},
	     "a bad content-length"},
	    {{"x-a", "1", NULL}, "no :status"},
	    {{NULL}, "no :status"},
	};
	struct h2up_stream st = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		fresh(&st);
		assert_int_equal(respond(&st, bads[i].f, 0), -1);
		assert_true(st.f & S_BAD);
		assert_non_null(st.bad);
		assert_string_equal(st.bad, bads[i].why);
		/* the first rule broken is the one logged */
		assert_int_equal(
		    h2up_on_field(NULL, &st.hs, "x-b", 3, "2", 1, 0), 1);
		assert_string_equal(st.bad, bads[i].why);
		assert_false(st.f & S_RESP_HEAD);
	}
	fresh(&st);
}

static void
test_response_head_and_trailers(void **state)
{
	static const char *const interim[] = {":status", "103", "link",
					      "</a.css>", NULL};
	static const char *const head[] = {":status", "200", "te", "trailers",
					   "x-a",     "1",   NULL};
	static const char *const trailers[] = {"grpc-status", "0", NULL};
	struct h2up_stream st = {0};
	struct sl_hblk b;
	struct sl_hblk_it it;
	const char *n = NULL, *v = NULL;
	size_t nl = 0, vl = 0;
	const char *p;

	(void)state;
	/* an interim head is dropped, the final one becomes a block; no
	 * length: a body of pieces; "te: trailers" is allowed in a
	 * response */
	assert_int_equal(respond(&st, interim, 0), 0);
	assert_int_equal(dbuf_n(&st.resp), 0);
	assert_int_equal(respond(&st, head, 0), 0);
	assert_true(st.f & S_RESP_HEAD);
	sl_hblk_head(st.resp.p, &b);
	assert_int_equal(b.status, 200);
	assert_int_equal(b.body, SL_H1_BODY_STREAM);
	assert_int_equal(b.nfields, 2);
	sl_hblk_first(&it, st.resp.p);
	assert_true(sl_hblk_next(&it, &n, &nl, &v, &vl));
	assert_true(nl == 2 && memcmp(n, "te", 2) == 0);
	assert_true(sl_hblk_next(&it, &n, &nl, &v, &vl));
	assert_true(nl == 3 && memcmp(n, "x-a", 3) == 0 && vl == 1 &&
		    v[0] == '1');
	assert_false(sl_hblk_next(&it, &n, &nl, &v, &vl));
	/* the trailers end the body: a field block of their own, nothing
	 * after the head in the body (no chunked text) */
	assert_int_equal(respond(&st, trailers, 1), 0);
	assert_true(st.f & S_RESP_END);
	assert_int_equal(dbuf_n(&st.resp), b.len);
	p = st.hdr.p + st.hdr.off;
	sl_hblk_head(p, &b);
	assert_int_equal(b.status, 0);
	assert_int_equal(b.nfields, 1);
	sl_hblk_first(&it, p);
	assert_true(sl_hblk_next(&it, &n, &nl, &v, &vl));
	assert_true(nl == 11 && memcmp(n, "grpc-status", 11) == 0 && vl == 1 &&
		    v[0] == '0');
	fresh(&st);
}

/* A head that ends the stream (gRPC's trailers-only answer) is a body of
 * 0 bytes marked SL_HBLK_F_ENDED, with no content-length field: the block
 * for an HTTP/2 client has none, the text for an HTTP/1.1 one its
 * Content-Length: 0. */
static void
test_trailers_only_head(void **state)
{
	static const char *const head[] = {
	    ":status", "200", "content-type", "application/grpc", "grpc-status",
	    "5",       NULL};
	struct h2up_stream st = {0};
	struct sl_h1_header hdrs[16];
	struct sl_h1_response resp = {.headers = hdrs, .max_headers = 16};
	struct sl_hblk b;
	char out[1024];
	long n, k;

	(void)state;
	assert_int_equal(respond(&st, head, 1), 0);
	assert_true(st.f & S_RESP_END);
	sl_hblk_head(st.resp.p, &b);
	assert_int_equal(b.body, SL_H1_BODY_LENGTH);
	assert_int_equal(b.length, 0);
	assert_true(b.flags & SL_HBLK_F_ENDED);
	assert_int_equal(b.nfields, 2);
	n = sl_h1_block_response(st.resp.p, dbuf_n(&st.resp), 8192, &resp);
	assert_int_equal(n, (long)b.len);
	assert_int_equal(resp.body, SL_H1_BODY_NONE);
	assert_true(resp.flags & SL_H1_F_CL_FRAMING);
	k = sl_h1_write_response_head(out, sizeof(out) - 1, &resp, 1, 0, 0,
				      "rid", NULL, NULL, NULL);
	assert_true(k > 0);
	out[k] = '\0';
	assert_non_null(strstr(out, "\r\ncontent-length: 0\r\n"));
	k = sl_h1_block_response_head(out, sizeof(out), &resp, "rid", NULL,
				      NULL, NULL);
	assert_true(k > 0);
	sl_hblk_head(out, &b);
	assert_int_equal(b.nfields, 3); /* the two, and X-Request-Id */
	assert_null(memmem(out, (size_t)k, "content-length", 14));
	fresh(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_head_drops_the_connection_fields),
	    cmocka_unit_test(test_text_head_drops_http2_settings),
	    cmocka_unit_test(test_text_head_framing_and_grpc),
	    cmocka_unit_test(test_text_head_long_names),
	    cmocka_unit_test(test_text_head_refused),
	    cmocka_unit_test(test_block_head),
	    cmocka_unit_test(test_block_head_bytes),
	    cmocka_unit_test(test_block_head_drops_in_any_case),
	    cmocka_unit_test(test_response_heads_refused),
	    cmocka_unit_test(test_response_head_and_trailers),
	    cmocka_unit_test(test_trailers_only_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
