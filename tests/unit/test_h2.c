/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/2 codec (h2.c) and the exchanges under it, driven through the
 * memory transport (xprt.h): the test plays an HTTP/2 client with an
 * nghttp2 client session of its own on one end of a pair, and the
 * upstreams on memory ends that every endpoint's connector makes
 * (upstream.h); the worker's loop runs between the steps (harness.h).
 * What is checked is what crosses the two seams byte for byte: the
 * HTTP/1.1 head and body an upstream reads for a stream (request line and
 * Host from the pseudo-header fields, cookie crumbs, the chunked framing
 * of a body without a length and its trailers), and the frames the client
 * reads (status, body, trailers, interim heads, resets, GOAWAYs); the
 * exchanges that never start (a stream reset in the read that opened it),
 * the windows given back as an upload goes upstream, the two-step GOAWAY
 * of a drain, the idle and send deadlines and the header list limit. It
 * includes h2_out.c and reads the codec's structs (h2_int.h) and the
 * exchange's (exchange_int.h), to put in front of the codec what the
 * exchange never hands over (bad head blocks, trailers of connection
 * fields, framing its own decoder refuses) and to reach the write
 * buffer's room and a body-less response's framing directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#include "client.h"
#include "client_int.h"
#include "conf_types.h"
#include "exchange_int.h"
#include "h2.h"
#include "h2_int.h"
#include "runtime.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

/* the codec's output (its static functions too), and then the harness:
 * the w and c of their functions are not the harness's */
#include "h2_out.c"

#include "harness.h"

/* "calm" has the default limits; "quick" short ones, for the tests of
 * the deadlines; "ws" lets WebSocket through (extended CONNECT); "small"
 * paces a response past 8 KiB to the client's window (buffer_bytes);
 * "many" takes 1,000 streams at once. /up/ goes to the memory upstream;
 * anything else has no route (a 404). */
/* /z/ compresses (gzip, when zlib is built) */
#ifdef HAVE_ZLIB
#define ZROUTE                                                                 \
	"      - match: { path_prefix: /z/ }\n"                                \
	"        cluster: up\n"                                                \
	"        compress: { algorithms: [gzip] }\n"
#else
#define ZROUTE ""
#endif
#define ROUTES                                                                 \
	"    protocols: [h2, http/1.1]\n"                                      \
	"    routes:\n"                                                        \
	"      - match: { path_prefix: /up/ }\n"                               \
	"        cluster: up\n"                                                \
	"      - match: { path_prefix: /h2/ }\n"                               \
	"        cluster: up2\n" ZROUTE
static const char yaml[] =
    "listeners:\n"
    "  - name: calm\n"
    "    address: 127.0.0.1:8080\n"
    "    limits: { max_header_list_bytes: 4KiB }\n" ROUTES "  - name: quick\n"
    "    address: 127.0.0.1:8081\n"
    "    limits: { idle_timeout: 50ms, send_timeout: 50ms,\n"
    "              header_timeout: 50ms }\n" ROUTES "  - name: ws\n"
    "    address: 127.0.0.1:8082\n"
    "    protocols: [h2, http/1.1]\n"
    "    routes:\n"
    "      - match: { path_prefix: /up/ }\n"
    "        cluster: up\n"
    "        upgrade: [websocket]\n"
    "  - name: small\n"
    "    address: 127.0.0.1:8083\n"
    "    limits: { buffer_bytes: 8KiB, max_header_bytes: 8KiB }\n" ROUTES
    "  - name: many\n"
    "    address: 127.0.0.1:8084\n"
    "    limits: { max_concurrent_streams: 1000 }\n" ROUTES "clusters:\n"
    "  - name: up\n"
    "    endpoints: [127.0.0.1:9001]\n"
    "  - name: up2\n"
    "    protocol: h2c\n"
    "    endpoints: [127.0.0.1:9002]\n";

enum { CALM, QUICK, WS, SMALL, MANY };

/* ---- the upstreams ------------------------------------------------------- */

#define MAXUP 8
struct h2srv;
struct up {
	struct sl_xprt_mem *e; /* the test's end */
	char got[1 << 16];     /* what it read (the first 64 KiB) */
	size_t gotlen;
	size_t total;	  /* bytes it read */
	int answered;	  /* answers written */
	struct h2srv *h2; /* cluster up2's: an HTTP/2 server (h2srv_*) */
};
static struct up ups[MAXUP];
static int nups;
/* what every upstream writes once it read a whole head and `need` bytes
 * after it, NULL: nothing */
static const char *answer;
static size_t answer_len;
static size_t need;
/* 1: ... and a chunked body's end (the bytes after the head end in an
 * empty line) */
static int need_end;
/* 1: the upstreams read nothing more */
static int up_deaf;

/* ---- cluster up2: an HTTP/2 server (an nghttp2 session) ---------------- */

/* What it read of its one request, and what it answers: h2_length 0, a
 * 200 with x-a: 1, "hello world" in one DATA frame of no length and the
 * trailers x-sum: 7 and x-more: yes (ANSWER_CHUNKED's message); 1, a 201
 * of content-length 3, "abc" (ANSWER_LENGTH's). */
struct h2srv {
	nghttp2_session *s;
	char head[2048]; /* the request's fields, "name: value" CRLF each,
			    x-request-id out */
	size_t headlen;
	char pay[4096];
	size_t paylen;
	char tr[512]; /* its trailers, "name=value;" each */
	int ended;    /* its END_STREAM came */
};
static int h2_length;

static ssize_t
h2srv_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
	   uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	static const nghttp2_nv trl[] = {
	    {(uint8_t *)"x-sum", (uint8_t *)"7", 5, 1, 0},
	    {(uint8_t *)"x-more", (uint8_t *)"yes", 6, 3, 0}};
	const char *b = h2_length ? "abc" : "hello world";

	(void)src;
	(void)ud;
	assert_true(len >= strlen(b));
	memcpy(buf, b, strlen(b));
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (!h2_length) {
		*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
		assert_int_equal(nghttp2_submit_trailer(s, id, trl, 2), 0);
	}
	return (ssize_t)strlen(b);
}

static int
h2srv_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct h2srv *x = ud;
	nghttp2_nv nv[2] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
			    {(uint8_t *)"x-a", (uint8_t *)"1", 3, 1, 0}};
	nghttp2_data_provider prd = {.read_callback = h2srv_body};

	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	x->ended = 1;
	if (h2_length) {
		nv[0].value = (uint8_t *)"201";
		nv[1] = (nghttp2_nv){(uint8_t *)"content-length",
				     (uint8_t *)"3", 14, 1, 0};
	}
	assert_int_equal(
	    nghttp2_submit_response(s, f->hd.stream_id, nv, 2, &prd), 0);
	return 0;
}

static int
h2srv_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
	      size_t len, void *ud)
{
	struct h2srv *x = ud;

	(void)s;
	(void)flags;
	(void)id;
	assert_true(x->paylen + len <= sizeof(x->pay));
	memcpy(x->pay + x->paylen, d, len);
	x->paylen += len;
	return 0;
}

static int
h2srv_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n,
		size_t nlen, const uint8_t *v, size_t vlen, uint8_t flags,
		void *ud)
{
	struct h2srv *x = ud;
	size_t k;

	(void)s;
	(void)flags;
	if (f->headers.cat != NGHTTP2_HCAT_REQUEST) {
		k = strlen(x->tr);
		snprintf(x->tr + k, sizeof(x->tr) - k, "%.*s=%.*s;", (int)nlen,
			 (const char *)n, (int)vlen, (const char *)v);
		return 0;
	}
	if (nlen == 12 && memcmp(n, "x-request-id", 12) == 0)
		return 0;
	x->headlen +=
	    (size_t)snprintf(x->head + x->headlen, sizeof(x->head) - x->headlen,
			     "%.*s: %.*s\r\n", (int)nlen, (const char *)n,
			     (int)vlen, (const char *)v);
	assert_true(x->headlen < sizeof(x->head));
	return 0;
}

/* A server session on a new end of cluster up2's, its SETTINGS queued. */
static struct h2srv *
h2srv_new(void)
{
	nghttp2_session_callbacks *cb;
	struct h2srv *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
							     h2srv_on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
	    cb, h2srv_on_data);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2srv_on_header);
	assert_int_equal(nghttp2_session_server_new(&x->s, cb, x), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(
	    nghttp2_submit_settings(x->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	return x;
}

static void
h2srv_free(struct h2srv *x)
{
	if (x != NULL)
		nghttp2_session_del(x->s);
	free(x);
}

/* What the end holds goes to the session, what it answers to the end. */
static void
h2srv_serve(struct up *u)
{
	const uint8_t *p;
	char buf[16384];
	ssize_t n;

	while ((n = sl_xprt_mem_read(u->e, buf, sizeof(buf))) > 0)
		assert_int_equal(nghttp2_session_mem_recv(
				     u->h2->s, (const uint8_t *)buf, (size_t)n),
				 n);
	while ((n = nghttp2_session_mem_send(u->h2->s, &p)) > 0)
		assert_int_equal(sl_xprt_mem_write(u->e, p, (size_t)n), n);
}

static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	if (nups == MAXUP) {
		errno = EMFILE;
		return -1;
	}
	if (strcmp(ep->conf->addr.text, "127.0.0.1:9002") == 0)
		ups[nups].h2 = h2srv_new();
	return sl_xprt_mem_pair(end, &ups[nups++].e);
}

static void
serve(void)
{
	for (int i = 0; i < nups; i++) {
		struct up *u = &ups[i];
		char buf[16384];
		const char *head;
		ssize_t n;

		if (u->e == NULL || up_deaf)
			continue;
		if (u->h2 != NULL) {
			h2srv_serve(u);
			continue;
		}
		while ((n = sl_xprt_mem_read(u->e, buf, sizeof(buf))) > 0) {
			size_t k =
			    SL_MIN((size_t)n, sizeof(u->got) - 1 - u->gotlen);
			memcpy(u->got + u->gotlen, buf, k);
			u->gotlen += k;
			u->got[u->gotlen] = '\0';
			u->total += (size_t)n;
		}
		head = strstr(u->got, "\r\n\r\n");
		if (answer != NULL && u->answered == 0 && head != NULL &&
		    u->total - (size_t)(head + 4 - u->got) >= need &&
		    (!need_end ||
		     (u->gotlen >= 4 &&
		      (size_t)(head + 4 - u->got) < u->gotlen &&
		      memcmp(u->got + u->gotlen - 4, "\r\n\r\n", 4) == 0))) {
			assert_int_equal(
			    sl_xprt_mem_write(u->e, answer, answer_len),
			    (ssize_t)answer_len);
			u->answered = 1;
		}
	}
}

static void
set_answer(const char *a)
{
	answer = a;
	answer_len = strlen(a);
}

/* ---- the client: an nghttp2 client session ------------------------------ */

struct cs {
	int status;
	char body[1 << 18];
	size_t blen;
	char trailers[512]; /* "name=value;" of the trailer fields */
	int interim;	    /* 1xx heads received */
	int in_trailers;    /* the header block being read is trailers */
	int ended;	    /* END_STREAM received */
	int end_data;	    /* ... on a DATA frame of payload */
	int empty_data;	    /* DATA frames of no payload */
	char coding[16];    /* its content-encoding */
	int closed;	    /* closed, reset included */
	uint32_t error;	    /* its close's error code */
};
#define MAXS 16
static struct cs cstreams[MAXS];
/* the streams past MAXS, all in one (test_many_streams_at_once) */
static struct cs cs_spill;
static int spill;  /* 1: streams past MAXS go to cs_spill */
static int finals; /* final heads received, on every stream */
static nghttp2_session *cs;
static int goaways;
static int pings_sent, pings_acked; /* by the client, and answered */
static int32_t goaway_last;
static uint32_t goaway_code;

/* the bytes the client read, as they came (the first 64 KiB), and the
 * value of the last x-request-id field it decoded */
static char craw[1 << 16];
static size_t crawlen;
static char crid[64];

static struct cs *
cstream(int32_t id)
{
	assert_true(id >= 1);
	if (spill && (id - 1) / 2 >= MAXS)
		return &cs_spill;
	assert_true((id - 1) / 2 < MAXS);
	return &cstreams[(id - 1) / 2];
}

static int
c_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
	    size_t namelen, const uint8_t *value, size_t valuelen,
	    uint8_t flags, void *ud)
{
	struct cs *x = cstream(f->hd.stream_id);

	(void)s;
	(void)flags;
	(void)ud;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		int st = atoi((const char *)value);
		if (st < 200)
			x->interim++;
		else {
			x->status = st;
			finals++;
		}
	} else if (namelen == 12 && memcmp(name, "x-request-id", 12) == 0) {
		snprintf(crid, sizeof(crid), "%.*s", (int)valuelen, value);
	} else if (namelen == 16 && memcmp(name, "content-encoding", 16) == 0) {
		snprintf(x->coding, sizeof(x->coding), "%.*s", (int)valuelen,
			 value);
	} else if (x->in_trailers) {
		size_t n = strlen(x->trailers);
		snprintf(x->trailers + n, sizeof(x->trailers) - n, "%.*s=%.*s;",
			 (int)namelen, name, (int)valuelen, value);
	}
	return 0;
}

static int
c_on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct cs *x = cstream(f->hd.stream_id);

	(void)s;
	(void)ud;
	/* a block after the final head is the trailers */
	x->in_trailers = x->status != 0;
	return 0;
}

static int
c_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
	  size_t len, void *ud)
{
	struct cs *x = cstream(id);

	(void)s;
	(void)flags;
	(void)ud;
	assert_true(x->blen + len <= sizeof(x->body));
	memcpy(x->body + x->blen, d, len);
	x->blen += len;
	return 0;
}

static int
c_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	(void)s;
	(void)ud;
	if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
		pings_acked++;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		goaways++;
		goaway_last = f->goaway.last_stream_id;
		goaway_code = f->goaway.error_code;
	}
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		cstream(f->hd.stream_id)->ended = 1;
	if (f->hd.type == NGHTTP2_DATA) {
		struct cs *x = cstream(f->hd.stream_id);
		x->empty_data += f->hd.length == 0;
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
			x->end_data = f->hd.length > 0;
	}
	return 0;
}

static int
c_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	(void)s;
	(void)ud;
	cstream(id)->closed = 1;
	cstream(id)->error = code;
	return 0;
}

/* The client's session, its SETTINGS (iv), and its preface sent. */
static void
client_h2(const nghttp2_settings_entry *iv, size_t niv)
{
	nghttp2_session_callbacks *cb;

	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_on_header);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
	    cb, c_on_begin_headers);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
								  c_on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_on_close);
	assert_int_equal(nghttp2_session_client_new(&cs, cb, NULL), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(
	    nghttp2_submit_settings(cs, NGHTTP2_FLAG_NONE, iv, niv), 0);
}

/* What the client session has to send goes to the client's end. */
static void
flush_client(void)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(cs, &p)) > 0)
		assert_int_equal(sl_xprt_mem_write(cli, p, (size_t)n), n);
	assert_true(n == 0);
}

/* What the client's end read goes to its session (and its answers out:
 * SETTINGS and PING acknowledgements, window updates). */
static void
feed(void)
{
	if (gotlen > 0) {
		size_t k = SL_MIN(gotlen, sizeof(craw) - crawlen);
		ssize_t n;

		memcpy(craw + crawlen, got, k);
		crawlen += k;
		n = nghttp2_session_mem_recv(cs, (const uint8_t *)got, gotlen);
		assert_int_equal(n, (ssize_t)gotlen);
		gotlen = 0;
	}
	flush_client();
}

static int32_t waiting_id;

static int
stream_closed(void)
{
	feed();
	return cstream(waiting_id)->closed;
}

static int
first_answer(void)
{
	feed();
	return nups > 0 && ups[0].answered;
}

static int
first_up_made(void)
{
	feed();
	return nups >= 1;
}

static void
wait_stream(int32_t id)
{
	waiting_id = id;
	run_until(stream_closed);
}

/* A request of method on path with the extra fields, END_STREAM on the
 * HEADERS. Returns its stream id. */
static int32_t
request(const char *method, const char *path, const nghttp2_nv *extra,
	size_t nextra, const nghttp2_data_provider *body)
{
	nghttp2_nv nv[16] = {
	    {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
	    {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
	    {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
	    {(uint8_t *)":authority", (uint8_t *)"a.test", 10, 6, 0},
	};
	int32_t id;

	assert_true(nextra <= 12);
	if (nextra > 0)
		memcpy(nv + 4, extra, nextra * sizeof(*nv));
	id = nghttp2_submit_request(cs, NULL, nv, 4 + nextra, body, NULL);
	assert_true(id > 0);
	flush_client();
	return id;
}

#define NV(n, v)                                                               \
	{                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,  \
		    0                                                          \
	}

/* ---- set-up -------------------------------------------------------------- */

/* the trailers the test's body source sends (body_read): x-sum: 42 unless
 * set */
static nghttp2_nv *body_tr;
static size_t body_ntr;
/* 1: the body source waits (deferred) once its bytes went, until
 * nghttp2_session_resume_data */
static int body_hold;

static int
setup_on(int l)
{
	struct sl_wendpoint *ep;

	harness_setup(yaml, 0, serve);
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;
	memset(ups, 0, sizeof(ups));
	memset(cstreams, 0, sizeof(cstreams));
	memset(&cs_spill, 0, sizeof(cs_spill));
	spill = 0;
	finals = 0;
	nups = 0;
	answer = NULL;
	need = 0;
	need_end = 0;
	crawlen = 0;
	crid[0] = '\0';
	goaways = 0;
	body_tr = NULL;
	body_hold = 0;
	up_deaf = 0;
	pings_sent = pings_acked = 0;
	client_connect(l);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	return setup_on(CALM);
}

static int
setup_quick(void **state)
{
	(void)state;
	return setup_on(QUICK);
}

static int
setup_ws(void **state)
{
	(void)state;
	return setup_on(WS);
}

static int
setup_small(void **state)
{
	(void)state;
	return setup_on(SMALL);
}

static int
setup_many(void **state)
{
	(void)state;
	return setup_on(MANY);
}

static int
teardown(void **state)
{
	(void)state;
	harness_close_all();
	for (int i = 0; i < nups; i++) {
		if (ups[i].e != NULL)
			sl_xprt_mem_close(ups[i].e);
		h2srv_free(ups[i].h2);
		ups[i].h2 = NULL;
	}
	harness_teardown();
	nghttp2_session_del(cs);
	cs = NULL;
	return 0;
}

static const char ok6[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfrom-a";

/* ---- the translation ------------------------------------------------------*/

static void
test_get(void **state)
{
	nghttp2_nv extra[] = {NV("cookie", "a=1"), NV("x-one", "1"),
			      NV("cookie", "b=2"), NV("host", "a.test")};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	id = request("GET", "/up/x?q=1", extra, 4, NULL);
	wait_stream(id);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(cstream(id)->blen, 6);
	assert_memory_equal(cstream(id)->body, "from-a", 6);
	assert_true(cstream(id)->ended);
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	/* the head the upstream read: request line and Host from the
	 * pseudo-header fields, one Host, the crumbs joined */
	assert_int_equal(nups, 1);
	assert_true(strncmp(ups[0].got,
			    "GET /up/x?q=1 HTTP/1.1\r\nHost: a.test"
			    "\r\n",
			    36) == 0);
	assert_null(strstr(ups[0].got + 20, "Host: a.test\r\nHost"));
	assert_non_null(strstr(ups[0].got, "\r\nx-one: 1\r\n"));
	assert_non_null(strstr(ups[0].got, "\r\nCookie: a=1; b=2\r\n"));
	assert_null(strstr(ups[0].got, "cookie: a=1"));
	/* counted by protocol, logged with the stream */
	assert_int_equal(SL_STAT_GET(w->stats.proto_requests[1]), 1);
	assert_int_equal(SL_STAT_GET(w->stats.proto_requests[0]), 0);
	assert_true(alog_has("\"protocol\":\"HTTP/2.0\",\"stream\":1,"));
}

static void
test_no_route_local_answer(void **state)
{
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	id = request("GET", "/nowhere", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 404);
	assert_non_null(strstr(cstream(id)->body, "\"error\":\"no_route\""));
	assert_int_equal(nups, 0);
	/* the connection goes on */
	id = request("HEAD", "/nowhere", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 404);
	assert_int_equal(cstream(id)->blen, 0);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

/* A body source of the test's: `left` bytes of 'b', in pieces of at most
 * `piece`, then trailers when `trailers` is set. */
static size_t body_left, body_piece;
static int body_trailers;

static ssize_t
body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
	  uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	size_t n = SL_MIN(SL_MIN(len, body_left), body_piece);

	(void)src;
	(void)ud;
	if (body_left == 0 && body_hold)
		return NGHTTP2_ERR_DEFERRED;
	memset(buf, 'b', n);
	body_left -= n;
	if (body_left == 0 && !body_hold) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (body_trailers) {
			nghttp2_nv tr[] = {NV("x-sum", "42")};
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			assert_int_equal(nghttp2_submit_trailer(
					     s, id,
					     body_tr != NULL ? body_tr : tr,
					     body_tr != NULL ? body_ntr : 1),
					 0);
		}
	}
	return (ssize_t)n;
}

static void
test_body_without_length_goes_chunked(void **state)
{
	nghttp2_data_provider prd = {.read_callback = body_read};
	int32_t id;
	const char *p;

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	body_left = 10;
	body_piece = 4;
	body_trailers = 1;
	need = 0; /* answered once the head came */
	id = request("POST", "/up/c", NULL, 0, &prd);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	/* the three DATA frames came in one read, as pieces: the HTTP/1.1
	 * writer frames what the stream held as one chunk (no size line was
	 * written before its size was known, so none has leading zeros),
	 * then the last chunk and the trailers, which crossed as fields */
	assert_non_null(
	    strstr(ups[0].got, "\r\nTransfer-Encoding: chunked\r\n"));
	p = strstr(ups[0].got, "\r\n\r\n");
	assert_non_null(p);
	assert_string_equal(p + 4, "a\r\nbbbbbbbbbb\r\n0\r\nx-sum: 42"
				   "\r\n\r\n");
}

/* sluice's X-Request-Id reaches an HTTP/2 client without Huffman coding:
 * new every response, coding it cost more than its bytes (h2_head.c) */
static void
test_request_id_goes_raw(void **state)
{
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	id = request("GET", "/up/rid", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(strlen(crid), 32);
	assert_non_null(memmem(craw, crawlen, crid, strlen(crid)));
	/* a second response, its id new: raw again */
	id = request("GET", "/up/rid2", NULL, 0, NULL);
	ups[0].answered = 0;
	wait_stream(id);
	assert_int_equal(strlen(crid), 32);
	assert_non_null(memmem(craw, crawlen, crid, strlen(crid)));
}

static void
test_body_with_length_and_windows(void **state)
{
	/* three times the stream's window (64 KiB): only windows given back
	 * as the bytes go upstream let the client finish */
	static char cl[16];
	nghttp2_data_provider prd = {.read_callback = body_read};
	nghttp2_nv extra[] = {NV("content-length", "")};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	snprintf(cl, sizeof(cl), "%d", 3 * 65536);
	extra[0].value = (uint8_t *)cl;
	extra[0].valuelen = strlen(cl);
	body_left = 3 * 65536;
	body_piece = 16384;
	body_trailers = 0;
	set_answer(ok6);
	need = 3 * 65536;
	id = request("POST", "/up/big", extra, 1, &prd);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_non_null(strstr(ups[0].got, "\r\ncontent-length: 196608\r\n"));
	assert_null(strstr(ups[0].got, "chunked"));
	/* the head and every byte of the body, nothing more */
	assert_int_equal(ups[0].total, (size_t)(strstr(ups[0].got, "\r\n\r\n") +
						4 - ups[0].got) +
					   3 * 65536);
}

static void
test_chunked_response_trailers_and_interim(void **state)
{
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
		   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "5\r\nhello\r\n6\r\n world\r\n0\r\nGrpc-Status: 0\r\n"
		   "X-T: v\r\n\r\n");
	id = request("GET", "/up/t", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->interim, 1);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(cstream(id)->blen, 11);
	assert_memory_equal(cstream(id)->body, "hello world", 11);
	/* names lower-cased, as HTTP/2 has them */
	assert_string_equal(cstream(id)->trailers, "grpc-status=0;x-t=v;");
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
}

#ifdef HAVE_ZLIB
/*
 * A compressed answer goes to an HTTP/2 client as pieces (issue 62, item
 * 1): the coded bytes in DATA frames, END_STREAM on the last of them, no
 * empty DATA frame (a last chunk's trace: the compressor framed its
 * output as chunks for this codec to take apart, and the answer ended
 * with an empty frame, before), and no trailers (a compressed body's
 * trailers are dropped, as for an HTTP/1.1 client: doc/operations.md
 * section 16.1). The upstream answers chunked, with a trailer.
 */
static void
test_compressed_answer_goes_as_pieces(void **state)
{
	nghttp2_nv ae[] = {NV("accept-encoding", "gzip")};
	static char body[3000], a[4096], plain[sizeof(body) + 1];
	z_stream zs = {0};
	int32_t id;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = "abcdefghij\n"[(i * 7 + i / 50) % 11];
	n = snprintf(a, sizeof(a),
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		     "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
		     "%zx\r\n%.*s\r\n0\r\nX-T: v\r\n\r\n",
		     sizeof(body), (int)sizeof(body), body);
	assert_true(n > 0 && (size_t)n < sizeof(a));
	client_h2(NULL, 0);
	set_answer(a);
	id = request("GET", "/z/x", ae, 1, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_string_equal(cstream(id)->coding, "gzip");
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	assert_true(cstream(id)->end_data);
	assert_int_equal(cstream(id)->empty_data, 0);
	assert_string_equal(cstream(id)->trailers, "");
	/* the coded bytes are the body's, whole */
	assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = (Bytef *)cstream(id)->body;
	zs.avail_in = (uInt)cstream(id)->blen;
	zs.next_out = (Bytef *)plain;
	zs.avail_out = sizeof(plain);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, sizeof(body));
	assert_int_equal(zs.avail_in, 0);
	inflateEnd(&zs);
	assert_memory_equal(plain, body, sizeof(body));
}
#endif

static void
test_response_without_length(void **state)
{
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
	id = request("GET", "/up/close", NULL, 0, NULL);
	run_until(first_answer);
	/* the upstream's end is the response's */
	sl_xprt_mem_shutdown(ups[0].e);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(cstream(id)->blen, 13);
	assert_true(cstream(id)->ended);
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	/* the stream ended, the connection goes on */
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

/* ---- resets, limits, deadlines ------------------------------------------- */

static void
test_reset_in_the_same_read_never_goes_upstream(void **state)
{
	int32_t ids[5];

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	/* HEADERS and RST_STREAM of five streams in one write */
	for (int i = 0; i < 5; i++) {
		nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"),
				   NV(":path", "/up/rr"),
				   NV(":authority", "a.test")};
		ids[i] = nghttp2_submit_request(cs, NULL, nv, 4, NULL, NULL);
		assert_int_equal(
		    nghttp2_submit_rst_stream(cs, NGHTTP2_FLAG_NONE, ids[i],
					      NGHTTP2_CANCEL),
		    0);
	}
	flush_client();
	run_ready();
	feed();
	/* no exchange began: no upstream connection, no log line */
	assert_int_equal(nups, 0);
	assert_int_equal(SL_STAT_GET(w->stats.requests), 0);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
	/* the next stream is served */
	ids[0] = request("GET", "/up/after", NULL, 0, NULL);
	wait_stream(ids[0]);
	assert_int_equal(cstream(ids[0])->status, 200);
	assert_int_equal(nups, 1);
}

static void
test_header_list_limit(void **state)
{
	static char big[5000];
	nghttp2_nv extra[] = {NV("x-big", "")};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	memset(big, 'v', sizeof(big) - 1);
	extra[0].value = (uint8_t *)big;
	extra[0].valuelen = sizeof(big) - 1;
	id = request("GET", "/up/big", extra, 1, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 431);
	assert_int_equal(nups, 0);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_HEADER_LIST]),
			 1);
	/* HPACK's state survived: the next request is whole */
	set_answer(ok6);
	id = request("GET", "/up/small", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
}

/* ---- a header block split across reads ------------------------------------*/

/* An HPACK integer (RFC 7541 section 5.1) of an n-bit prefix, the first
 * byte's other bits hi, at p. Returns its bytes. */
static size_t
hp_int(uint8_t *p, uint8_t hi, int n, size_t v)
{
	size_t max = ((size_t)1 << n) - 1, k = 0;

	if (v < max) {
		p[k++] = (uint8_t)(hi | v);
		return k;
	}
	p[k++] = (uint8_t)(hi | max);
	for (v -= max; v >= 128; v /= 128)
		p[k++] = (uint8_t)(v % 128 + 128);
	p[k++] = (uint8_t)v;
	return k;
}

/* A field without indexing (RFC 7541 section 6.2.2), its name the static
 * table's entry idx, or a literal name n when idx is 0. */
static size_t
hp_field(uint8_t *p, unsigned idx, const char *n, const char *v, size_t vlen)
{
	size_t k = hp_int(p, 0, 4, idx);

	if (idx == 0) {
		k += hp_int(p + k, 0, 7, strlen(n));
		memcpy(p + k, n, strlen(n));
		k += strlen(n);
	}
	k += hp_int(p + k, 0, 7, vlen);
	memcpy(p + k, v, vlen);
	return k + vlen;
}

/* A frame of stream 1 to the end e. */
static void
raw_frame(struct sl_xprt_mem *e, uint8_t type, uint8_t flags, const uint8_t *p,
	  size_t len)
{
	uint8_t hd[9] = {0, 0, 0, type, flags, 0, 0, 0, 1};

	hd[0] = (uint8_t)(len >> 16);
	hd[1] = (uint8_t)(len >> 8);
	hd[2] = (uint8_t)len;
	assert_int_equal(sl_xprt_mem_write(e, hd, 9), 9);
	assert_int_equal(sl_xprt_mem_write(e, p, len), (ssize_t)len);
}

static void
raw_preface(struct sl_xprt_mem *e)
{
	static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

	assert_int_equal(sl_xprt_mem_write(e, pri, 24), 24);
	assert_int_equal(sl_xprt_mem_write(e, settings, 9), 9);
}

static void
test_split_head_beside_another_connection(void **state)
{
	/* a request head whose header block ends in a later read
	 * (CONTINUATION), while a request on another connection of the
	 * same worker is read whole in between: each head is counted on its
	 * own. Listener "small": 8 KiB of head; each is 5 KiB, together
	 * they would pass it (a 431) */
	static char big[5000];
	static uint8_t blk[6000];
	struct sl_xprt_mem *a = cli;
	size_t n;

	(void)state;
	memset(big, 'v', sizeof(big));
	raw_preface(a);
	n = 0;
	blk[n++] = 0x82; /* :method GET */
	blk[n++] = 0x86; /* :scheme http */
	n += hp_field(blk + n, 4, NULL, "/split", 6);
	raw_frame(a, 0x1, 0x1, blk, n); /* HEADERS, END_STREAM */
	run_ready();
	/* the other connection's request, whole */
	client_connect(SMALL);
	raw_preface(cli);
	n = 0;
	blk[n++] = 0x82;
	blk[n++] = 0x86;
	n += hp_field(blk + n, 4, NULL, "/whole", 6);
	n += hp_field(blk + n, 1, NULL, "a.test", 6);
	n += hp_field(blk + n, 0, "x-b", big, sizeof(big));
	raw_frame(cli, 0x1, 0x5, blk, n); /* END_STREAM, END_HEADERS */
	run_ready();
	assert_true(alog_has("\"path\":\"/whole\",\"host\":\"a.test\","
			     "\"status\":404,"));
	/* the first one's block ends */
	n = hp_field(blk, 1, NULL, "a.test", 6);
	n += hp_field(blk + n, 0, "x-aa", big, sizeof(big));
	raw_frame(a, 0x9, 0x4, blk, n); /* CONTINUATION, END_HEADERS */
	run_ready();
	/* its size as text: "GET /split HTTP/1.1" CRLF, "Host: a.test"
	 * CRLF, "x-aa: " and 5,000 bytes CRLF, CRLF */
	assert_true(alog_has("\"path\":\"/split\",\"host\":\"a.test\","
			     "\"status\":404,"));
	assert_true(alog_has("\"bytes_in\":5045,"));
	sl_xprt_mem_close(a);
}

static int
goaway_and_end(void)
{
	feed();
	return goaways >= 1 && client_ended();
}

static void
test_idle_goaway(void **state)
{
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	id = request("GET", "/up/one", NULL, 0, NULL);
	wait_stream(id);
	run_until(goaway_and_end);
	assert_int_equal(goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(goaway_last, id);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_IDLE]), 1);
}

static int
two_goaways(void)
{
	feed();
	return goaways >= 2;
}

static void
test_drain_two_goaways(void **state)
{
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	id = request("GET", "/up/slow", NULL, 0, NULL);
	run_until(first_up_made);
	/* the drain begins while the upstream thinks */
	w->draining = 1;
	sl_client_drain(c);
	/* the first GOAWAY (with the largest id) and a PING; the client's
	 * PING answer brings the last one, naming the stream begun */
	run_until(two_goaways);
	assert_int_equal(goaway_last, id);
	assert_int_equal(goaway_code, NGHTTP2_NO_ERROR);
	assert_false(cstream(id)->closed);
	/* the stream finishes, then the connection ends */
	set_answer(ok6);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	run_until(client_ended);
}

static void
test_zero_window_send_timeout(void **state)
{
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}};
	int32_t id;

	(void)state;
	client_h2(iv, 1);
	set_answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
	id = request("GET", "/up/w", NULL, 0, NULL);
	wait_stream(id);
	/* the head went (HEADERS are not flow-controlled), the body could
	 * not: the stream is reset after send_timeout */
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(cstream(id)->blen, 0);
	assert_int_equal(cstream(id)->error, NGHTTP2_INTERNAL_ERROR);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_ZERO_WINDOW]),
			 1);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]), 1);
	assert_true(alog_has("\"close\":\"send_timeout\""));
}

/* ---- what the codec refuses or leaves out -------------------------------*/

/* A request of the fields nv (pseudo-fields included, as given), END_STREAM
 * on its HEADERS. Returns its stream id. */
static int32_t
request_nv(const nghttp2_nv *nv, size_t n)
{
	int32_t id = nghttp2_submit_request(cs, NULL, nv, n, NULL, NULL);

	assert_true(id > 0);
	flush_client();
	return id;
}

static void
test_malformed_requests_are_reset(void **state)
{
	/* RFC 9113 section 8.1.1: each is reset with PROTOCOL_ERROR before
	 * any exchange, counted, and the connection goes on */
	static const nghttp2_nv two_cl[] = {
	    NV(":method", "POST"),     NV(":scheme", "http"),
	    NV(":path", "/up/a"),      NV(":authority", "a.test"),
	    NV("content-length", "1"), NV("content-length", "1")};
	static const nghttp2_nv short_body[] = {
	    NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/up/a"),
	    NV(":authority", "a.test"), NV("content-length", "5")};
	static const nghttp2_nv connect_path[] = {
	    NV(":method", "CONNECT"), NV(":path", "/up/a"),
	    NV(":authority", "a.test:443")};
	static const nghttp2_nv protocol[] = {
	    NV(":method", "CONNECT"), NV(":protocol", "websocket"),
	    NV(":scheme", "http"), NV(":path", "/up/ws"),
	    NV(":authority", "a.test")};
	static const struct {
		const nghttp2_nv *nv;
		size_t n;
	} bad[] = {
	    {two_cl, 6}, {short_body, 5}, {connect_path, 3}, {protocol, 5}};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = request_nv(bad[i].nv, bad[i].n);
		wait_stream(id);
		assert_int_equal(cstream(id)->status, 0);
		assert_int_equal(cstream(id)->error, NGHTTP2_PROTOCOL_ERROR);
		assert_int_equal(
		    SL_STAT_GET(w->stats.h2_refused[SL_H2_R_PROTOCOL]),
		    (uint64_t)i + 1);
	}
	assert_int_equal(nups, 0);
	assert_int_equal(SL_STAT_GET(w->stats.requests), 0);
	/* a request after them is served */
	set_answer(ok6);
	id = request("GET", "/up/after", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static void
test_pseudo_fields_in_any_order(void **state)
{
	/* the request line and Host are the same whatever order the
	 * pseudo-fields come in: nghttp2's (:method, :path, :authority,
	 * written as they come), Go's (:authority first), :path before
	 * :method, :authority before :path; a Host that differs from
	 * :authority is still refused in each */
	static const nghttp2_nv orders[][5] = {
	    {NV(":method", "GET"), NV(":path", "/up/o"),
	     NV(":authority", "a.test"), NV(":scheme", "http"), NV("x-f", "1")},
	    {NV(":authority", "a.test"), NV(":method", "GET"),
	     NV(":path", "/up/o"), NV(":scheme", "http"), NV("x-f", "1")},
	    {NV(":path", "/up/o"), NV(":scheme", "http"), NV(":method", "GET"),
	     NV(":authority", "a.test"), NV("x-f", "1")},
	    {NV(":scheme", "http"), NV(":method", "GET"),
	     NV(":authority", "a.test"), NV(":path", "/up/o"), NV("x-f", "1")},
	    {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/up/o"),
	     NV(":authority", "a.test"), NV("host", "b.test")},
	    {NV(":authority", "a.test"), NV(":method", "GET"),
	     NV(":scheme", "http"), NV(":path", "/up/o"), NV("host", "b.test")},
	};
	static const char want[] = "GET /up/o HTTP/1.1\r\nHost: a.test\r\n";
	int32_t id;

	/* one connection each: the test's upstream answers a connection
	 * once */
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		int bad_host = orders[i][4].namelen == 4;

		if (i > 0) {
			teardown(state);
			setup(state);
		}
		client_h2(NULL, 0);
		set_answer(ok6);
		id = request_nv(orders[i], 5);
		wait_stream(id);
		if (bad_host) {
			assert_int_equal(cstream(id)->error,
					 NGHTTP2_PROTOCOL_ERROR);
			assert_int_equal(
			    SL_STAT_GET(w->stats.h2_refused[SL_H2_R_PROTOCOL]),
			    1);
			assert_int_equal(nups, 0);
			continue;
		}
		assert_int_equal(cstream(id)->status, 200);
		assert_int_equal(nups, 1);
		assert_memory_equal(ups[0].got, want, sizeof(want) - 1);
		assert_non_null(strstr(ups[0].got, "\r\nx-f: 1\r\n"));
		assert_null(strstr(ups[0].got + 20, "Host: a.test\r\nHost"));
	}
}

static int
trailers_cut_logged(void)
{
	return alog_has("\"close\":\"http2_trailers_too_large\"");
}

static void
test_protocol_without_connect(void **state)
{
	/* where extended CONNECT is on (a route lets WebSocket through),
	 * :protocol on another method is still malformed */
	static const nghttp2_nv get_ws[] = {
	    NV(":method", "GET"), NV(":protocol", "websocket"),
	    NV(":scheme", "http"), NV(":path", "/up/ws"),
	    NV(":authority", "a.test")};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	id = request_nv(get_ws, 5);
	wait_stream(id);
	assert_int_equal(cstream(id)->error, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_PROTOCOL]), 1);
	assert_int_equal(nups, 0);
	assert_int_equal(nghttp2_session_get_remote_settings(
			     cs, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL),
			 1);
}

static void
test_long_path_and_cookies(void **state)
{
	/* a :path and cookie crumbs past the 4 KiB the connection's scratch
	 * starts with: the request line and the joined Cookie reach the
	 * upstream whole */
	static char path[3001], ck1[1001], ck2[1001], want[2100];
	nghttp2_nv extra[] = {NV("cookie", ""), NV("cookie", "")};
	int32_t id;

	(void)state;
	memcpy(path, "/up/", 4);
	memset(path + 4, 'p', sizeof(path) - 5);
	memset(ck1, '1', sizeof(ck1) - 1);
	memcpy(ck1, "a=", 2);
	memset(ck2, '2', sizeof(ck2) - 1);
	memcpy(ck2, "b=", 2);
	extra[0].value = (uint8_t *)ck1;
	extra[0].valuelen = sizeof(ck1) - 1;
	extra[1].value = (uint8_t *)ck2;
	extra[1].valuelen = sizeof(ck2) - 1;
	snprintf(want, sizeof(want), "\r\nCookie: %s; %s\r\n", ck1, ck2);
	client_h2(NULL, 0);
	set_answer(ok6);
	id = request("GET", path, extra, 2, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(strncmp(ups[0].got + 4, path, sizeof(path) - 1), 0);
	assert_memory_equal(ups[0].got + 4 + sizeof(path) - 1, " HTTP/1.1\r\n",
			    11);
	assert_non_null(strstr(ups[0].got, want));
}

static int
client_reset_logged(void)
{
	return alog_has("\"close\":\"client_reset\"");
}

static int
first_status(void)
{
	feed();
	return cstream(waiting_id)->status != 0;
}

static void
test_client_reset_while_the_window_is_shut(void **state)
{
	/* the client keeps its window shut, gets the head, then resets the
	 * stream: the exchange waiting to write its body is cut and logged
	 * as the client's reset, the connection goes on */
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}};
	int32_t id;

	(void)state;
	client_h2(iv, 1);
	set_answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
	id = request("GET", "/up/w", NULL, 0, NULL);
	waiting_id = id;
	run_until(first_status);
	run_ready();
	assert_int_equal(cstream(id)->blen, 0);
	assert_int_equal(nghttp2_submit_rst_stream(cs, NGHTTP2_FLAG_NONE, id,
						   NGHTTP2_CANCEL),
			 0);
	flush_client();
	wait_stream(id);
	run_until(client_reset_logged);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]), 0);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

/* stream_closed, with a PING sent at every fourth look and the answers
 * counted (until the stream closed, then until every one is answered) */
static int
closed_pinging(void)
{
	static int n;

	if (!cstream(waiting_id)->closed && ++n % 4 == 0) {
		assert_int_equal(
		    nghttp2_submit_ping(cs, NGHTTP2_FLAG_NONE, NULL), 0);
		pings_sent++;
	}
	return stream_closed() && pings_acked == pings_sent;
}

static void
test_big_body_to_a_client_that_reads_in_pieces(void **state)
{
	/* 250,000 bytes to a client whose end takes 5,000 at a time and
	 * sends a PING now and then: the write buffer is written in pieces,
	 * the acknowledgements go behind what is left of it; the body
	 * arrives whole, in order, and the PINGs are answered */
	static char ans[260000];
	size_t k;
	int32_t id;

	(void)state;
	k = (size_t)snprintf(
	    ans, sizeof(ans),
	    "HTTP/1.1 200 OK\r\nContent-Length: 250000\r\n\r\n");
	for (size_t i = 0; i < 250000; i++)
		ans[k + i] = (char)('a' + i % 26);
	ans[k + 250000] = '\0';
	client_h2(NULL, 0);
	sl_xprt_mem_set_window(cli, 5000);
	set_answer(ans);
	id = request("GET", "/up/big", NULL, 0, NULL);
	waiting_id = id;
	run_until(closed_pinging);
	assert_true(pings_sent > 0);
	assert_int_equal(pings_acked, pings_sent);
	assert_int_equal(cstream(id)->status, 200);
	assert_true(cstream(id)->ended);
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	assert_int_equal(cstream(id)->blen, 250000);
	assert_memory_equal(cstream(id)->body, ans + k, 250000);
}

static void
test_tiny_data_frames_fill_only_the_window(void **state)
{
	/* an upload without a length crosses as pieces: DATA frames of one
	 * byte, each read on its own, cost the stream's buffer their bytes
	 * and no framing (they cost a chunk's framing each when the codec
	 * wrote chunks, which outgrew the buffer within the window: a reset
	 * with ENHANCE_YOUR_CALM). While the upstream reads nothing, the
	 * stream takes its whole window of them; the byte past it is the
	 * client's flow-control error, not a refusal of sluice's; the
	 * connection goes on */
	nghttp2_data_provider prd = {.read_callback = body_read};
	uint8_t fr[10] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 'd'};
	int32_t id;
	int i;

	(void)state;
	client_h2(NULL, 0);
	body_left = 0;
	body_piece = 1;
	body_hold = 1; /* HEADERS only: the DATA frames are the test's */
	id = request("POST", "/up/tiny", NULL, 0, &prd);
	run_until(first_up_made);
	run_ready();
	up_deaf = 1;
	sl_xprt_mem_set_window(ups[0].e, 16);
	fr[5] = (uint8_t)(id >> 24);
	fr[6] = (uint8_t)(id >> 16);
	fr[7] = (uint8_t)(id >> 8);
	fr[8] = (uint8_t)id;
	for (i = 0; i < 70000 && !cstream(id)->closed; i++) {
		assert_int_equal(sl_xprt_mem_write(cli, fr, sizeof(fr)),
				 (ssize_t)sizeof(fr));
		run_ready();
		feed();
	}
	assert_true(cstream(id)->closed);
	assert_int_equal(cstream(id)->error, NGHTTP2_FLOW_CONTROL_ERROR);
	/* the window's bytes all went in, one frame past it did not */
	assert_int_equal(i - 1, (int)c->h2->win_stream);
	assert_int_equal(
	    SL_STAT_GET(w->stats.h2_refused[SL_H2_R_BODY_OVERFLOW]), 0);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static void
test_trailers_past_the_limit_cut_the_stream(void **state)
{
	/* a chunked upload whose trailers pass max_header_list_bytes (4 KiB
	 * on "calm", under twice it: no HPACK bomb) cannot go upstream
	 * whole. Three fields that decode, over the limit together: the
	 * stream is reset with ENHANCE_YOUR_CALM; one field too long for
	 * the decoder's room: PROTOCOL_ERROR. Both are counted as header
	 * lists refused, and the connection goes on. */
	static char big[5000], mid[1500];
	nghttp2_data_provider prd = {.read_callback = body_read};
	nghttp2_nv three[] = {NV("x-a", ""), NV("x-b", ""), NV("x-c", "")};
	nghttp2_nv one[] = {NV("x-big", "")};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	memset(mid, 'm', sizeof(mid) - 1);
	for (int i = 0; i < 3; i++) {
		three[i].value = (uint8_t *)mid;
		three[i].valuelen = sizeof(mid) - 1;
	}
	memset(big, 't', sizeof(big) - 1);
	one[0].value = (uint8_t *)big;
	one[0].valuelen = sizeof(big) - 1;
	body_left = 3;
	body_piece = 3;
	body_trailers = 1;
	body_tr = three;
	body_ntr = 3;
	/* these come once the exchange began: it is cut, and logged so */
	body_hold = 1;
	id = request("POST", "/up/tr", NULL, 0, &prd);
	run_until(first_up_made);
	body_hold = 0;
	assert_int_equal(nghttp2_session_resume_data(cs, id), 0);
	flush_client();
	wait_stream(id);
	assert_int_equal(cstream(id)->error, NGHTTP2_ENHANCE_YOUR_CALM);
	run_until(trailers_cut_logged);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_HEADER_LIST]),
			 1);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_PROTOCOL]), 0);

	body_left = 3;
	body_tr = one;
	body_ntr = 1;
	id = request("POST", "/up/tr", NULL, 0, &prd);
	wait_stream(id);
	assert_int_equal(cstream(id)->error, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_HEADER_LIST]),
			 2);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_PROTOCOL]), 1);
	assert_int_equal(SL_STAT_GET(w->stats.h2_refused[SL_H2_R_HPACK_BOMB]),
			 0);
	body_tr = NULL;
	/* the connection and its HPACK state survived (the upstream of the
	 * cut exchange, closed, answers nothing) */
	for (int i = 0; i < nups; i++)
		ups[i].answered = 1;
	set_answer(ok6);
	id = request("GET", "/up/after", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static void
test_response_trailers_lose_connection_fields(void **state)
{
	/* an upstream's trailer section as HTTP/2 trailers: white space
	 * around a value trimmed, names lower-cased however long (past the
	 * worker's copy of a name: in place). (The connection fields a
	 * trailer section may not carry never get here: the exchange's
	 * chunked decoder refuses them, a 502.) */
	static char ans[2048], lname[301];
	char want[512];
	int32_t id;

	(void)state;
	memset(lname, 'L', 300);
	memcpy(lname, "X-", 2);
	snprintf(ans, sizeof(ans),
		 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "2\r\nok\r\n0\r\nX-Pad: \t v \t\r\n%s: w\r\n\r\n",
		 lname);
	for (int i = 0; i < 300; i++)
		lname[i] = (char)(lname[i] | 0x20);
	snprintf(want, sizeof(want), "x-pad=v;%s=w;", lname);
	client_h2(NULL, 0);
	set_answer(ans);
	id = request("GET", "/up/t", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(cstream(id)->blen, 2);
	assert_true(cstream(id)->ended);
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	assert_string_equal(cstream(id)->trailers, want);
}

static void
test_big_trailer_section(void **state)
{
	/* a trailer section past the 4 KiB its buffer starts with */
	static char ans[8192];
	int32_t id;
	int k;

	(void)state;
	k = snprintf(ans, sizeof(ans),
		     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "2\r\nok\r\n0\r\nX-Big: ");
	memset(ans + k, 'v', 5000);
	snprintf(ans + k + 5000, sizeof(ans) - (size_t)k - 5000,
		 "\r\nX-End: e\r\n\r\n");
	client_h2(NULL, 0);
	set_answer(ans);
	id = request("GET", "/up/t", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_true(cstream(id)->ended);
	assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	/* (the test keeps the first 511 bytes of the trailers) */
	assert_int_equal(strlen(cstream(id)->trailers), 511);
	assert_int_equal(strncmp(cstream(id)->trailers, "x-big=vvvvvvvv", 14),
			 0);
}

/* A PING of 7 bytes: a connection error (FRAME_SIZE_ERROR). */
static const uint8_t bad_ping[9 + 7] = {0, 0, 7, 6, 0, 0, 0, 0, 0};

/* The client's preface and SETTINGS, and a connection error in the same
 * write, to a client end that takes 10 bytes at a time: sluice's
 * SETTINGS, its acknowledgement and its GOAWAY are still in its buffer
 * when the connection ends. */
static void
error_at_a_slow_reader(void)
{
	client_h2(NULL, 0);
	sl_xprt_mem_set_window(cli, 10);
	flush_client();
	assert_int_equal(sl_xprt_mem_write(cli, bad_ping, sizeof(bad_ping)),
			 (ssize_t)sizeof(bad_ping));
}

static void
test_last_frames_wait_for_a_slow_reader(void **state)
{
	/* the frames left are written as the client reads, then the
	 * connection ends with a FIN, not a reset */
	(void)state;
	error_at_a_slow_reader();
	run_until(goaway_and_end);
	assert_int_equal(goaways, 1);
	assert_int_equal(goaway_code, NGHTTP2_FRAME_SIZE_ERROR);
	assert_int_equal(got_eof, 1);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]), 0);
}

static int
send_timed_out(void)
{
	return SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]) >= 1;
}

static void
test_last_frames_to_a_client_that_never_reads(void **state)
{
	/* ... unless the client takes nothing for send_timeout (50 ms on
	 * "quick"): then the connection is reset, counted as a send
	 * timeout */
	struct sl_xprt_mem *reader;

	(void)state;
	error_at_a_slow_reader();
	reader = cli;
	cli = NULL; /* not read */
	run_until(send_timed_out);
	cli = reader;
	run_until(client_ended);
	assert_int_equal(got_eof, 2);
	assert_int_equal(goaways, 0);
	assert_int_equal(SL_STAT_GET(w->stats.timeouts[SL_TO_SEND]), 1);
}

/* ---- one structured head, whatever the protocol -------------------------*/

/* Requests sent once over HTTP/1.1 and once over HTTP/2: the exchange
 * takes the first's head by parsing its text and the second's as the
 * codec built it (op_head, sl_h1_request_check), and must see the same
 * head: the same answer, and byte for byte the same head upstream (but
 * X-Request-Id, made anew for each). */
struct same_req {
	const char *method, *path;
	const char *fields[6][2]; /* HTTP/2 names; Cookie goes last */
	size_t body;		  /* bytes of 'b' */
	int status;
};

static const struct same_req same_reqs[] = {
    {"GET",
     "/up/a?q=1",
     {{"accept", "*/*"}, {"x-one", "1"}, {"cookie", "a=1"}, {"cookie", "b=2"}},
     0,
     200},
    {"HEAD", "/up/h", {{"user-agent", "t/1.0"}}, 0, 200},
    {"POST",
     "/up/p",
     {{"content-type", "application/json"}, {"content-length", "5"}},
     5,
     200},
    {"DELETE",
     "/up/d?x=%20y",
     {{"te", "trailers"}, {"x-forwarded-for", "192.0.2.1"}},
     0,
     200},
    {"GET", "/up/e", {{"expect", "nope"}}, 0, 417},
    {"PATCH", "/up/f", {{"content-length", "0"}, {"x-b", "\"q\" ,;"}}, 0, 200},
    {"GET", "/nowhere", {{"x-one", "1"}}, 0, 404},
};

/* A table's fields (name, value; a NULL name ends them) as nghttp2's
 * pairs. Returns how many. */
static size_t
nv_of(nghttp2_nv *nv, const char *const (*fields)[2], size_t max)
{
	size_t n = 0;

	for (; n < max && fields[n][0] != NULL; n++) {
		nv[n].name = (uint8_t *)(uintptr_t)fields[n][0];
		nv[n].namelen = strlen(fields[n][0]);
		nv[n].value = (uint8_t *)(uintptr_t)fields[n][1];
		nv[n].valuelen = strlen(fields[n][1]);
		nv[n].flags = NGHTTP2_NV_FLAG_NONE;
	}
	return n;
}

/* The upstream's head as it read it, X-Request-Id's line taken out. */
static void
up_head(char *out, size_t n)
{
	const char *p = ups[0].got, *e = strstr(p, "\r\n\r\n");
	size_t k = 0;

	assert_non_null(e);
	while (p < e + 2) {
		const char *eol = strstr(p, "\r\n") + 2;
		if (strncasecmp(p, "X-Request-Id:", 13) != 0) {
			assert_true(k + (size_t)(eol - p) < n);
			memcpy(out + k, p, (size_t)(eol - p));
			k += (size_t)(eol - p);
		}
		p = eol;
	}
	out[k] = '\0';
}

/*
 * A chunked body at p (len bytes) taken apart: its payload into pay and
 * its trailer fields into tr as "name=value;" with the names lower-cased
 * (as nghttp2 hands a client an HTTP/2 answer's). Returns 1 when it is
 * whole, 0 when more is to come.
 */
static int
unchunk(const char *p, size_t len, char *pay, size_t paycap, size_t *paylen,
	char *tr, size_t trcap)
{
	const char *e = p + len;

	*paylen = 0;
	tr[0] = '\0';
	for (;;) {
		const char *eol = memmem(p, (size_t)(e - p), "\r\n", 2);
		unsigned long n;
		if (eol == NULL)
			return 0;
		n = strtoul(p, NULL, 16);
		p = eol + 2;
		if (n == 0)
			break;
		if ((size_t)(e - p) < n + 2)
			return 0;
		assert_true(*paylen + n <= paycap);
		memcpy(pay + *paylen, p, n);
		*paylen += n;
		p += n + 2;
	}
	for (;;) {
		const char *eol = memmem(p, (size_t)(e - p), "\r\n", 2);
		const char *colon;
		size_t k = strlen(tr);
		if (eol == NULL)
			return 0;
		if (eol == p)
			return 1;
		colon = memchr(p, ':', (size_t)(eol - p));
		assert_non_null(colon);
		for (const char *q = p; q < colon && k + 1 < trcap; q++)
			tr[k++] =
			    (char)(*q >= 'A' && *q <= 'Z' ? *q | 0x20 : *q);
		tr[k] = '\0';
		snprintf(tr + k, trcap - k, "=%.*s;", (int)(eol - colon - 2),
			 colon + 2);
		p = eol + 2;
	}
}

/* The H1 client's answer is whole in got: its head, and a body of
 * Content-Length or a chunked one to its end. */
static int
h1_answer_whole(void)
{
	static char pay[4096], tr[512];
	const char *e = strstr(got, "\r\n\r\n");
	size_t pl;

	if (e == NULL)
		return 0;
	if (strstr(got, "Transfer-Encoding: chunked\r\n") == NULL)
		return one_response();
	return unchunk(e + 4, gotlen - (size_t)(e + 4 - got), pay, sizeof(pay),
		       &pl, tr, sizeof(tr));
}

struct msg_case {
	const char *method, *path;
	const char *fields[4][2]; /* HTTP/2 names */
	int body;		  /* 0: none, 1: a length, 2: pieces of none */
	const char *answer;	  /* the upstream's */
};

#define ANSWER_CHUNKED                                                         \
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"      \
	"5\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 7\r\nx-more: yes\r\n\r\n"
#define ANSWER_LENGTH "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"

static const struct msg_case msg_cases[] = {
    {"GET", "/up/m1", {{"accept", "*/*"}, {"x-one", "1"}}, 0, ANSWER_CHUNKED},
    {"POST",
     "/up/m2",
     {{"content-type", "application/json"}, {"content-length", "10"}},
     1,
     ANSWER_LENGTH},
    {"POST",
     "/up/m3",
     {{"content-type", "application/grpc"}},
     2,
     ANSWER_CHUNKED},
    {"PUT", "/up/m4", {{"x-two", "2"}}, 2, ANSWER_LENGTH},
};

/* What the upstream read of one message: its head (X-Request-Id out),
 * its body's payload and its trailers. */
struct seen {
	char head[2048];
	char pay[4096];
	size_t paylen;
	char tr[512];
	/* and what the client got: status, payload, trailers */
	int status;
	char cpay[4096];
	size_t cpaylen;
	char ctr[512];
};

static void
seen_upstream(const struct msg_case *m, struct seen *x)
{
	const char *b;
	size_t blen;

	if (ups[0].h2 != NULL) {
		/* cluster up2's server: fields, payload, trailers */
		struct h2srv *h = ups[0].h2;
		assert_true(h->ended);
		snprintf(x->head, sizeof(x->head), "%s", h->head);
		memcpy(x->pay, h->pay, h->paylen);
		x->paylen = h->paylen;
		snprintf(x->tr, sizeof(x->tr), "%s", h->tr);
		return;
	}
	b = strstr(ups[0].got, "\r\n\r\n") + 4;
	blen = ups[0].gotlen - (size_t)(b - ups[0].got);
	up_head(x->head, sizeof(x->head));
	if (m->body == 2) {
		assert_int_equal(unchunk(b, blen, x->pay, sizeof(x->pay),
					 &x->paylen, x->tr, sizeof(x->tr)),
				 1);
	} else {
		assert_true(blen <= sizeof(x->pay));
		memcpy(x->pay, b, blen);
		x->paylen = blen;
		x->tr[0] = '\0';
	}
}

/*
 * One message, from an HTTP/1.1 client and from an HTTP/2 client, to an
 * HTTP/1.1 upstream and (through the upstream codec, h2up.c) to an HTTP/2
 * one: a head, a body of a length or of pieces with trailers, and the
 * answers, of no length with trailers (chunked from HTTP/1.1, DATA and
 * HEADERS from HTTP/2) or of a length. Each upstream reads the same head
 * from both client codecs, both upstreams the same payload and trailers,
 * and all four ways the client gets the same status, payload and
 * trailers (issue 62: one message between codecs).
 */
static void
test_same_message_over_h1_and_h2(void **state)
{
	nghttp2_data_provider prd = {.read_callback = body_read};
	static struct seen a, b,
	    first[sizeof(msg_cases) / sizeof(msg_cases[0])];

	(void)state;
	for (int up2 = 0; up2 < 2; up2++)
		for (size_t i = 0; i < sizeof(msg_cases) / sizeof(msg_cases[0]);
		     i++) {
			const struct msg_case *m = &msg_cases[i];
			nghttp2_nv nv[4];
			char text[2048], path[64];
			size_t nnv = 0, k, hl;
			const char *e;
			int32_t id;

			memset(&a, 0, sizeof(a));
			memset(&b, 0, sizeof(b));
			/* /h2/ goes to cluster up2, the HTTP/2 server */
			snprintf(path, sizeof(path), "%s%s",
				 up2 ? "/h2/" : "/up/", m->path + 4);
			h2_length = strstr(m->answer, "x-more") == NULL;
			/* over HTTP/1.1: the framing field last, where the
			 * HTTP/2 codec puts the one it adds */
			k = (size_t)snprintf(
			    text, sizeof(text),
			    "%s %s HTTP/1.1\r\nHost: a.test\r\n", m->method,
			    path);
			for (size_t j = 0; j < 4 && m->fields[j][0] != NULL;
			     j++)
				k += (size_t)snprintf(
				    text + k, sizeof(text) - k, "%s: %s\r\n",
				    m->fields[j][0], m->fields[j][1]);
			if (m->body == 2)
				k += (size_t)snprintf(
				    text + k, sizeof(text) - k,
				    "Transfer-Encoding: "
				    "chunked\r\n\r\n4\r\nbbbb\r\n"
				    "6\r\nbbbbbb\r\n0\r\nx-sum: 42\r\n\r\n");
			else
				k += (size_t)snprintf(
				    text + k, sizeof(text) - k, "\r\n%s",
				    m->body == 1 ? "bbbbbbbbbb" : "");
			set_answer(m->answer);
			need = m->body == 1 ? 10 : 0;
			need_end = m->body == 2;
			client_write(text);
			run_until(h1_answer_whole);
			assert_int_equal(nups, 1);
			seen_upstream(m, &a);
			assert_true(sscanf(got, "HTTP/1.1 %d", &a.status) == 1);
			e = strstr(got, "\r\n\r\n") + 4;
			hl = (size_t)(e - got);
			if (strstr(got, "Transfer-Encoding: chunked\r\n") !=
			    NULL)
				assert_int_equal(unchunk(e, gotlen - hl, a.cpay,
							 sizeof(a.cpay),
							 &a.cpaylen, a.ctr,
							 sizeof(a.ctr)),
						 1);
			else {
				memcpy(a.cpay, e, gotlen - hl);
				a.cpaylen = gotlen - hl;
			}
			teardown(NULL);
			setup_on(CALM);

			/* over HTTP/2 */
			nnv = nv_of(nv, m->fields, 4);
			client_h2(NULL, 0);
			set_answer(m->answer);
			need = m->body == 1 ? 10 : 0;
			need_end = m->body == 2;
			body_left = m->body != 0 ? 10 : 0;
			body_piece = 4;
			body_trailers = m->body == 2;
			id = request(m->method, path, nv, nnv,
				     m->body != 0 ? &prd : NULL);
			wait_stream(id);
			assert_int_equal(nups, 1);
			seen_upstream(m, &b);
			b.status = cstream(id)->status;
			memcpy(b.cpay, cstream(id)->body, cstream(id)->blen);
			b.cpaylen = cstream(id)->blen;
			snprintf(b.ctr, sizeof(b.ctr), "%s",
				 cstream(id)->trailers);
			teardown(NULL);
			setup_on(CALM);

			/* the same message both ways */
			assert_string_equal(b.head, a.head);
			assert_int_equal(b.paylen, a.paylen);
			assert_memory_equal(b.pay, a.pay, a.paylen);
			assert_string_equal(b.tr, a.tr);
			assert_int_equal(b.status, a.status);
			assert_int_equal(b.cpaylen, a.cpaylen);
			assert_memory_equal(b.cpay, a.cpay, a.cpaylen);
			assert_string_equal(b.ctr, a.ctr);
			/* and what it is */
			assert_int_equal(a.paylen, m->body != 0 ? 10 : 0);
			assert_string_equal(a.tr,
					    m->body == 2 ? "x-sum=42;" : "");
			assert_string_equal(a.ctr, strstr(m->answer, "x-more")
						       ? "x-sum=7;x-more=yes;"
						       : "");
			/* and the same from either upstream */
			if (!up2) {
				first[i] = a;
				continue;
			}
			assert_int_equal(a.paylen, first[i].paylen);
			assert_memory_equal(a.pay, first[i].pay, a.paylen);
			assert_string_equal(a.tr, first[i].tr);
			assert_int_equal(a.status, first[i].status);
			assert_int_equal(a.cpaylen, first[i].cpaylen);
			assert_memory_equal(a.cpay, first[i].cpay, a.cpaylen);
			assert_string_equal(a.ctr, first[i].ctr);
		}
}

static void
test_same_head_over_h1_and_h2(void **state)
{
	nghttp2_data_provider prd = {.read_callback = body_read};
	static char h1head[4096], h2head[4096];
	static const char okh[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	for (size_t i = 0; i < sizeof(same_reqs) / sizeof(same_reqs[0]); i++) {
		const struct same_req *r = &same_reqs[i];
		nghttp2_nv nv[6];
		char text[2048], cookie[64] = "";
		size_t nnv = 0, k;
		int32_t id;
		int st1;

		/* over HTTP/1.1 */
		k = (size_t)snprintf(text, sizeof(text),
				     "%s %s HTTP/1.1\r\nHost: a.test\r\n",
				     r->method, r->path);
		for (size_t j = 0; j < 6 && r->fields[j][0] != NULL; j++) {
			const char *n = r->fields[j][0], *v = r->fields[j][1];
			if (strcmp(n, "cookie") == 0) {
				size_t cl = strlen(cookie);
				snprintf(cookie + cl, sizeof(cookie) - cl,
					 "%s%s", cl ? "; " : "", v);
				continue;
			}
			k += (size_t)snprintf(text + k, sizeof(text) - k,
					      "%s: %s\r\n", n, v);
		}
		if (cookie[0] != '\0')
			k += (size_t)snprintf(text + k, sizeof(text) - k,
					      "Cookie: %s\r\n", cookie);
		k += (size_t)snprintf(text + k, sizeof(text) - k, "\r\n");
		memset(text + k, 'b', r->body);
		text[k + r->body] = '\0';
		set_answer(okh);
		need = r->body;
		client_write(text);
		run_until(one_response);
		assert_true(sscanf(got, "HTTP/1.1 %d", &st1) == 1);
		assert_int_equal(st1, r->status);
		h1head[0] = '\0';
		if (r->status == 200) {
			assert_int_equal(nups, 1);
			up_head(h1head, sizeof(h1head));
		} else
			assert_int_equal(nups, 0);
		teardown(NULL);
		setup_on(CALM);

		/* over HTTP/2 */
		nnv = nv_of(nv, r->fields, 6);
		client_h2(NULL, 0);
		set_answer(okh);
		need = r->body;
		body_left = r->body;
		body_piece = r->body;
		body_trailers = 0;
		id = request(r->method, r->path, nv, nnv,
			     r->body > 0 ? &prd : NULL);
		wait_stream(id);
		assert_int_equal(cstream(id)->status, r->status);
		h2head[0] = '\0';
		if (r->status == 200) {
			assert_int_equal(nups, 1);
			up_head(h2head, sizeof(h2head));
		} else
			assert_int_equal(nups, 0);
		assert_string_equal(h2head, h1head);
		teardown(NULL);
		setup_on(CALM);
	}
}

/* ---- what the exchange never hands over, and the codec's own limits ----*/

/* The connection's one open stream. */
static struct sl_h2stream *
open_stream(void)
{
	assert_non_null(c->h2);
	assert_non_null(TAILQ_FIRST(&c->h2->streams));
	return TAILQ_FIRST(&c->h2->streams);
}

static int want_ups; /* upstream connections ups_made waits for */

static int
ups_made(void)
{
	feed();
	return nups >= want_ups;
}

static int
bad_head_logged(void)
{
	return alog_has("\"close\":\"http2_bad_response_head\"");
}

static void
test_bad_response_head_blocks_reset_the_stream(void **state)
{
	/* a head block (hblock.h) shorter than a block's header, or whose
	 * length runs past the bytes there are, cannot be encoded: the
	 * stream is reset (INTERNAL_ERROR), its exchange cut and logged so,
	 * and the connection goes on. (The exchange writes whole blocks:
	 * the test puts these in its output while the upstream thinks, and
	 * wakes the stream as the exchange does.) */
	struct sl_hblk b;
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	for (int i = 0; i < 2; i++) {
		struct sl_h2stream *st;
		struct sl_txn *t;
		uint32_t n = i == 0 ? 5 : (uint32_t)sizeof(b);

		id = request("GET", "/up/slow", NULL, 0, NULL);
		want_ups = i + 1;
		run_until(ups_made);
		run_ready();
		st = open_stream();
		t = st->s.txn;
		assert_non_null(t);
		assert_int_equal(sl_buf_pending(&t->out), 0);
		sl_hblk_init(&b, 200);
		b.len = i == 0 ? 0 : 1000;
		assert_int_equal(sl_buf_alloc(&w->bufs, &t->out, 4096), 0);
		memcpy(t->out.data, &b, n);
		t->out.off = 0;
		t->out.len = n;
		/* the exchange's resume: the codec's run pumps it, and its
		 * flush hands the block over */
		st->s.ops->resume(&st->s);
		wait_stream(id);
		assert_int_equal(cstream(id)->status, 0);
		assert_int_equal(cstream(id)->error, NGHTTP2_INTERNAL_ERROR);
		/* its upstream, cut, is not answered */
		ups[i].answered = 1;
	}
	run_until(bad_head_logged);
	assert_int_equal(SL_STAT_GET(w->stats.requests), 2);
	set_answer(ok6);
	id = request("GET", "/up/after", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static int
bad_chunk_logged(void)
{
	return alog_has("\"close\":\"upstream_bad_chunk\"");
}

static void
test_chunked_framing_refused_after_data_resets_the_stream(void **state)
{
	/* the exchange takes a chunked body's framing off for this codec;
	 * framing its decoder refuses once DATA went (here: a trailer
	 * section past the limit it was given, set to one byte once the head
	 * went) cuts the exchange (logged so) and resets the stream after
	 * the DATA framed before it, no END_STREAM; the connection goes on */
	static const char rest[] = "2\r\nok\r\n0\r\nX-T: v\r\n\r\n";
	struct sl_h2stream *st;
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	id = request("GET", "/up/t", NULL, 0, NULL);
	waiting_id = id;
	run_until(first_status);
	st = open_stream();
	/* pieces, never chunks, to this codec */
	assert_int_equal(st->body, H2B_UNTIL_END);
	assert_non_null(st->s.txn);
	assert_true(st->s.txn->flags & SL_TXN_F_DECHUNK);
	/* (the decoder is the upstream connection's) */
	((struct sl_h1_chunked *)sl_upstream_dechunk_state(st->s.txn->up))
	    ->max_trailer_bytes = 1;
	assert_int_equal(sl_xprt_mem_write(ups[0].e, rest, sizeof(rest) - 1),
			 (ssize_t)sizeof(rest) - 1);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_not_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
	assert_false(cstream(id)->ended);
	assert_string_equal(cstream(id)->trailers, "");
	run_until(bad_chunk_logged);
	set_answer(ok6);
	ups[0].answered = 1;
	id = request("GET", "/up/after", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static void
test_trailer_section_across_reads_goes_as_fields(void **state)
{
	/* a chunked answer's trailer section cut by the upstream's reads,
	 * at each place: the exchange keeps its text until it is whole and
	 * hands it over as one field block, the body's payload alone in
	 * DATA; a section of no field ends the stream with the DATA */
	static const char tail[] = "0\r\nX-A:  1 \r\nX-B: 2\r\n\r\n";
	static const char none[] = "0\r\n\r\n";
	/* where the reads are cut (the client has streams for 15): in the
	 * last chunk's line, at the section's start, in a name, in a value's
	 * white space, in a line's CRLF, between lines, in the final CRLF */
	static const size_t cuts[2][12] = {
	    {1, 2, 3, 5, 8, 11, 12, 13, 17, 21, 22, 0}, {1, 2, 3, 4, 0}};

	(void)state;
	client_h2(NULL, 0);
	for (int k = 0; k < 2; k++) {
		const char *t = k == 0 ? tail : none;
		size_t tl = strlen(t);

		for (int ci = 0; cuts[k][ci] != 0; ci++) {
			size_t cut = cuts[k][ci];
			static char first[256];
			struct up *u = NULL;
			int32_t id;

			/* the upstream connection is kept: it answers
			 * again */
			for (int i = 0; i < nups; i++) {
				ups[i].answered = 0;
				ups[i].gotlen = ups[i].total = 0;
				ups[i].got[0] = '\0';
			}
			snprintf(first, sizeof(first),
				 "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
				 "chunked\r\n\r\n2\r\nok\r\n%.*s",
				 (int)cut, t);
			set_answer(first);
			id = request("GET", "/up/t", NULL, 0, NULL);
			waiting_id = id;
			run_until(first_status);
			assert_false(cstream(id)->ended);
			for (int i = 0; i < nups; i++)
				if (ups[i].answered)
					u = &ups[i];
			assert_non_null(u);
			assert_int_equal(
			    sl_xprt_mem_write(u->e, t + cut, tl - cut),
			    (ssize_t)(tl - cut));
			wait_stream(id);
			assert_int_equal(cstream(id)->status, 200);
			assert_int_equal(cstream(id)->blen, 2);
			assert_memory_equal(cstream(id)->body, "ok", 2);
			assert_true(cstream(id)->ended);
			assert_int_equal(cstream(id)->error, NGHTTP2_NO_ERROR);
			assert_string_equal(cstream(id)->trailers,
					    k == 0 ? "x-a=1;x-b=2;" : "");
		}
	}
}

static void
test_write_buffer_moves_its_bytes_and_has_a_cap(void **state)
{
	/* the write buffer's room: bytes written off its front make room
	 * for a frame that would not fit behind them (what waits moves to
	 * the front, whole); past OUT_MAX there is none, and nothing
	 * changes */
	struct sl_h2conn hh;
	uint32_t cap, keep = 96;
	uint8_t *p;

	(void)state;
	memset(&hh, 0, sizeof(hh));
	hh.c = c;
	assert_non_null(h2_out_room(&hh, 16));
	cap = hh.wbuf.cap;
	assert_true(cap >= 4096);
	p = h2_out_room(&hh, cap - 16);
	assert_non_null(p);
	for (uint32_t i = 0; i < cap; i++)
		hh.wbuf.data[i] = (char)('a' + i % 26);
	assert_int_equal(sl_buf_space(&hh.wbuf), 0);
	hh.wbuf.off = cap - keep; /* written but the last 96 */
	p = h2_out_room(&hh, 200);
	assert_non_null(p);
	assert_int_equal(hh.wbuf.off, 0);
	assert_int_equal(hh.wbuf.len, keep + 200);
	assert_int_equal(hh.wbuf.cap, cap);
	assert_ptr_equal(p, (uint8_t *)hh.wbuf.data + keep);
	for (uint32_t i = 0; i < keep; i++)
		assert_int_equal(hh.wbuf.data[i],
				 (char)('a' + (cap - keep + i) % 26));
	assert_null(h2_out_room(&hh, 8 * 1024 * 1024));
	assert_int_equal(hh.wbuf.len, keep + 200);
	sl_buf_release(&w->bufs, &hh.wbuf);
}

static int
all_finals(void)
{
	feed();
	return finals >= 601;
}

static void
test_many_streams_at_once(void **state)
{
	/* 600 streams opened in one write, all answered; their structs, 600
	 * at once, go back to the worker's list, which keeps 256 of them
	 * for the next streams and frees the rest */
	int32_t id;

	(void)state;
	spill = 1;
	client_h2(NULL, 0);
	id = request("GET", "/nowhere", NULL, 0, NULL);
	wait_stream(id); /* the SETTINGS crossed */
	for (int i = 0; i < 600; i++) {
		nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"),
				   NV(":path", "/nowhere"),
				   NV(":authority", "a.test")};
		assert_true(
		    nghttp2_submit_request(cs, NULL, nv, 4, NULL, NULL) > 0);
	}
	flush_client();
	run_until(all_finals);
	assert_int_equal(cs_spill.status, 404);
	assert_int_equal(SL_STAT_GET(w->stats.requests), 601);
	assert_int_equal(((struct h2_worker *)w->h2)->nfree, 256);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static void
test_websocket_connect_with_end_stream(void **state)
{
	/* an extended CONNECT whose HEADERS end the stream: the upstream
	 * gets its handshake (a GET asking for the switch), the tunnel's
	 * request side is over at once; an answer that is no switch goes to
	 * the client as it is */
	static const nghttp2_nv ws[] = {
	    NV(":method", "CONNECT"),	NV(":protocol", "websocket"),
	    NV(":scheme", "http"),	NV(":path", "/up/ws"),
	    NV(":authority", "a.test"), NV("sec-websocket-version", "13")};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
	id = request_nv(ws, 6);
	wait_stream(id);
	assert_int_equal(nups, 1);
	assert_true(strncmp(ups[0].got, "GET /up/ws HTTP/1.1\r\n", 21) == 0);
	assert_non_null(strstr(ups[0].got, "\r\nUpgrade: websocket\r\n"));
	assert_int_equal(cstream(id)->status, 403);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static int
pings_all_acked(void)
{
	feed();
	return pings_acked >= 250 && cstream(waiting_id)->closed;
}

static void
test_reading_waits_while_the_output_is_blocked(void **state)
{
	/* 250 PINGs and an upload of 12,000 bytes in one write, to a client
	 * end that takes 64 bytes at a time: the PINGs' acknowledgements
	 * block the output, and the rest is not read while they wait (a
	 * client that does not read cannot make sluice queue answers); in
	 * the end every PING is answered, and the upload too */
	nghttp2_data_provider prd = {.read_callback = body_read};
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	for (int i = 0; i < 250; i++)
		assert_int_equal(
		    nghttp2_submit_ping(cs, NGHTTP2_FLAG_NONE, NULL), 0);
	body_left = 12000;
	body_piece = 12000;
	body_trailers = 0;
	sl_xprt_mem_set_window(cli, 64);
	id = request("POST", "/nowhere", NULL, 0, &prd);
	waiting_id = id;
	/* the loop's turns without the client reading: the output blocks
	 * with bytes still unread */
	for (int i = 0; i < 100 && (c->h2 == NULL || !(c->h2->f & C2_WBLOCKED));
	     i++)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	assert_non_null(c->h2);
	assert_true(c->h2->f & C2_WBLOCKED);
	assert_true(c->h2->f & C2_READABLE);
	assert_true(sl_xprt_mem_held(c->xc) > 0);
	run_until(pings_all_acked);
	assert_int_equal(pings_acked, 250);
	assert_int_equal(cstream(id)->status, 404);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static int
waiting_for_room(void)
{
	return c->h2 != NULL && c->h2->nwant > 0;
}

static void
test_client_reset_while_waiting_for_room(void **state)
{
	/* past buffer_bytes (8 KiB on "small") a response is paced to the
	 * client: once the stream's window (16,000 bytes) is used, its
	 * exchange waits for room. The client resets it then: the exchange
	 * is cut (the client's reset), the stream no longer waits, and the
	 * connection goes on */
	static char ans[100100];
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16000}};
	size_t k;
	int32_t id;

	(void)state;
	k = (size_t)snprintf(
	    ans, sizeof(ans),
	    "HTTP/1.1 200 OK\r\nContent-Length: 90000\r\n\r\n");
	memset(ans + k, 'x', 90000);
	ans[k + 90000] = '\0';
	client_h2(iv, 1);
	set_answer(ans);
	id = request("GET", "/up/big", NULL, 0, NULL);
	/* not fed: the client's window stays as it is */
	run_until(waiting_for_room);
	assert_int_equal(nghttp2_submit_rst_stream(cs, NGHTTP2_FLAG_NONE, id,
						   NGHTTP2_CANCEL),
			 0);
	flush_client();
	run_until(client_reset_logged);
	assert_int_equal(c->h2->nwant, 0);
	feed();
	ups[0].answered = 1;
	set_answer(ok6);
	id = request("GET", "/up/after", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 200);
	assert_int_equal(c->state, SL_CLIENT_ST_H2);
}

static int
closing(void)
{
	return c->h2 != NULL && (c->h2->f & C2_CLOSING);
}

static void
test_drain_while_the_last_frames_wait(void **state)
{
	/* a drain that comes while a failed connection's last frames wait
	 * for a slow reader adds no frame: the client still reads the one
	 * GOAWAY (FRAME_SIZE_ERROR), then a FIN */
	(void)state;
	error_at_a_slow_reader();
	run_until(closing);
	w->draining = 1;
	sl_client_drain(c);
	run_until(goaway_and_end);
	assert_int_equal(goaways, 1);
	assert_int_equal(goaway_code, NGHTTP2_FRAME_SIZE_ERROR);
	assert_int_equal(got_eof, 1);
	assert_int_equal(pings_acked, 0);
}

static void
test_stream_after_the_listener_went(void **state)
{
	/* a stream that starts once its connection's listener has left the
	 * configuration (C_F_RETIRED, which a reload sets before it drains
	 * the connection; set alone here, as a stream starting between the
	 * two finds it) is served; the connection then ends with a GOAWAY
	 * that names it */
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	id = request("GET", "/up/one", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(goaways, 0);
	c->s.flags |= C_F_RETIRED;
	id = request("GET", "/nowhere", NULL, 0, NULL);
	wait_stream(id);
	assert_int_equal(cstream(id)->status, 404);
	run_until(goaway_and_end);
	assert_int_equal(goaway_last, id);
	assert_int_equal(goaway_code, NGHTTP2_NO_ERROR);
	assert_int_equal(got_eof, 1);
}

static void
test_idle_check_sends_the_last_goaway_when_due(void **state)
{
	/* a drain's last GOAWAY goes one round trip after the first, or
	 * GOAWAY_WAIT_MS after it when the client does not answer the PING:
	 * the connection's idle check (on_deadline) sends it too once that
	 * is past (the test moves the first GOAWAY's time back rather than
	 * wait), naming the stream the client began; then the connection
	 * ends */
	int32_t id;

	(void)state;
	client_h2(NULL, 0);
	set_answer(ok6);
	id = request("GET", "/up/one", NULL, 0, NULL);
	wait_stream(id);
	w->draining = 1;
	sl_client_drain(c);
	run_ready(); /* the first GOAWAY and the PING, not read yet */
	assert_non_null(c->h2);
	assert_true(c->h2->f & C2_GOAWAY1);
	assert_false(c->h2->f & C2_GOAWAY2);
	c->h2->goaway_ms = sl_now_ms() - 1001;
	sl_h2_codec.on_deadline(c);
	run_until(two_goaways);
	assert_int_equal(goaway_last, id);
	assert_int_equal(goaway_code, NGHTTP2_NO_ERROR);
	run_until(client_ended);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pseudo_fields_in_any_order,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_route_local_answer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_body_without_length_goes_chunked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_with_length_and_windows,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_chunked_response_trailers_and_interim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_response_without_length, setup,
					    teardown),
#ifdef HAVE_ZLIB
	    cmocka_unit_test_setup_teardown(
		test_compressed_answer_goes_as_pieces, setup, teardown),
#endif
	    cmocka_unit_test_setup_teardown(
		test_reset_in_the_same_read_never_goes_upstream, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_header_list_limit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_split_head_beside_another_connection, setup_small,
		teardown),
	    cmocka_unit_test_setup_teardown(test_idle_goaway, setup_quick,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_drain_two_goaways, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_zero_window_send_timeout,
					    setup_quick, teardown),
	    cmocka_unit_test_setup_teardown(test_same_head_over_h1_and_h2,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_message_over_h1_and_h2,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_id_goes_raw, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_requests_are_reset,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_protocol_without_connect,
					    setup_ws, teardown),
	    cmocka_unit_test_setup_teardown(test_long_path_and_cookies,
					    setup_ws, teardown),
	    cmocka_unit_test_setup_teardown(
		test_trailers_past_the_limit_cut_the_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_tiny_data_frames_fill_only_the_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_reset_while_the_window_is_shut, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_big_body_to_a_client_that_reads_in_pieces, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_response_trailers_lose_connection_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_big_trailer_section, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_last_frames_wait_for_a_slow_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_last_frames_to_a_client_that_never_reads, setup_quick,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_response_head_blocks_reset_the_stream, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_chunked_framing_refused_after_data_resets_the_stream,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_trailer_section_across_reads_goes_as_fields, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_write_buffer_moves_its_bytes_and_has_a_cap, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_many_streams_at_once,
					    setup_many, teardown),
	    cmocka_unit_test_setup_teardown(
		test_websocket_connect_with_end_stream, setup_ws, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reading_waits_while_the_output_is_blocked, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_client_reset_while_waiting_for_room, setup_small,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_drain_while_the_last_frames_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_after_the_listener_went,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_idle_check_sends_the_last_goaway_when_due, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
