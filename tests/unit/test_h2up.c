/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (h2up.c) where a real server cannot take it: the
 * test plays an HTTP/1.1 client on a memory end of a worker whose cluster
 * speaks h2c, and the server with an nghttp2 server session of its own on
 * the memory ends the endpoint's connector makes (upstream.h); the
 * worker's loop runs between the steps (harness.h). What is checked is
 * what crosses the seams: the responses the client reads, the requests,
 * bodies and END_STREAMs each server session received, and which shared
 * connections stay open: a connection whose stream ids ran out (set by
 * hand: a billion streams are out of a test's reach) sends its next
 * request on a new connection; a response that ends before its request's
 * body cancels the server's stream; a worker freed with a shared connection
 * still open closes it. It includes h2up.c: the test plays the exchange of
 * a stream it opens itself (sl_h2up_get), writing on the stream's end what
 * no exchange writes (a head block in pieces, bad heads, a head of text
 * that says chunked, bytes after the request), and calls the static functions
 * (the kept streams, the PING's deadline, the handlers) directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "client.h"
#include "client_int.h"
#include "conf_types.h"
#include "frame.h"
#include "h2up_int.h"
#include "hblock.h"
#include "runtime.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

/* the shared connections' file itself, for its static functions; before
 * the harness, whose c and w its functions' are not */
#include "h2up.c"

#include "harness.h"

static const char yaml[] = "listeners:\n"
			   "  - name: web\n"
			   "    address: 127.0.0.1:8080\n"
			   "    routes:\n"
			   "      - match: { path_prefix: / }\n"
			   "        cluster: up\n"
			   "clusters:\n"
			   "  - name: up\n"
			   "    protocol: h2c\n"
			   "    endpoints: [127.0.0.1:9001]\n";

/* ---- the servers: nghttp2 server sessions on the memory ends ----------- */

#define MAXSRV 4
struct srv {
	struct sl_xprt_mem *e; /* the test's end; NULL once closed */
	nghttp2_session *s;
	int requests; /* request HEADERS received */
	int ends;     /* END_STREAMs received */
	size_t data;  /* request DATA bytes received */
	int closed;   /* sluice closed its end */
	int rst;      /* a RST_STREAM's code + 1 */
	size_t vmax;  /* the longest field value received */
};
static struct srv srvs[MAXSRV];
static int nsrvs;
/* 1: a request is answered at its HEADERS, not at its END_STREAM */
static int early;

/* > 0: each answer's body is this many bytes of 'x' (not "ok"), sent as
 * the windows let nghttp2 */
static size_t big_body;
static size_t big_left[512]; /* what each stream still has to send */
/* 1: answers carry no content-length, and end with trailers */
static int with_trailers;

static ssize_t
srv_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
	 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	size_t *left = &big_left[(id / 2) % 512], k;

	(void)s;
	(void)src;
	(void)ud;
	if (big_body == 0) {
		static const nghttp2_nv trl[] = {
		    {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0},
		    {(uint8_t *)"grpc-message", (uint8_t *)"fine", 12, 4, 0}};
		assert_true(len >= 2);
		memcpy(buf, "ok", 2);
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (with_trailers) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			assert_int_equal(nghttp2_submit_trailer(s, id, trl, 2),
					 0);
		}
		return 2;
	}
	k = len < *left ? len : *left;
	memset(buf, 'x', k);
	*left -= k;
	if (*left == 0)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)k;
}

static void
srv_answer(nghttp2_session *s, int32_t id)
{
	char cl[24];
	nghttp2_nv nv[] = {
	    {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
	    {(uint8_t *)"content-length", (uint8_t *)cl, 14, 0, 0}};
	nghttp2_data_provider prd = {.read_callback = srv_body};

	nv[1].valuelen = (size_t)snprintf(cl, sizeof(cl), "%zu",
					  big_body > 0 ? big_body : 2);
	big_left[(id / 2) % 512] = big_body;
	assert_int_equal(
	    nghttp2_submit_response(s, id, nv, with_trailers ? 1 : 2, &prd), 0);
}

static int
srv_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct srv *x = ud;
	int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	if (f->hd.type == NGHTTP2_RST_STREAM)
		x->rst = (int)f->rst_stream.error_code + 1;

	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_REQUEST) {
		x->requests++;
		if (early || end)
			srv_answer(s, f->hd.stream_id);
	} else if (f->hd.type == NGHTTP2_DATA && end && !early)
		srv_answer(s, f->hd.stream_id);
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    end)
		x->ends++;
	return 0;
}

static int
srv_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d,
	    size_t len, void *ud)
{
	struct srv *x = ud;

	(void)s;
	(void)flags;
	(void)id;
	(void)d;
	x->data += len;
	return 0;
}

static int
srv_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n,
	      size_t nlen, const uint8_t *v, size_t vlen, uint8_t flags,
	      void *ud)
{
	struct srv *x = ud;

	(void)s;
	(void)f;
	(void)n;
	(void)nlen;
	(void)v;
	(void)flags;
	if (vlen > x->vmax)
		x->vmax = vlen;
	return 0;
}

/* What the server's session has to send goes to its end. */
static void
srv_flush(struct srv *x)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(x->s, &p)) > 0)
		assert_int_equal(sl_xprt_mem_write(x->e, p, (size_t)n), n);
	assert_true(n == 0);
}

static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	nghttp2_session_callbacks *cb;
	struct srv *x;

	(void)ep;
	if (nsrvs == MAXSRV) {
		errno = EMFILE;
		return -1;
	}
	x = &srvs[nsrvs];
	memset(x, 0, sizeof(*x));
	if (sl_xprt_mem_pair(end, &x->e) == -1)
		return -1;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
								  srv_on_data);
	nghttp2_session_callbacks_set_on_header_callback(cb, srv_on_header);
	assert_int_equal(nghttp2_session_server_new(&x->s, cb, x), 0);
	nghttp2_session_callbacks_del(cb);
	/* the server's preface */
	assert_int_equal(
	    nghttp2_submit_settings(x->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	srv_flush(x);
	nsrvs++;
	return 0;
}

/* One step of every server: what sluice wrote to its session, and its
 * answers back; an end sluice closed is closed. */
static void
serve(void)
{
	for (int i = 0; i < nsrvs; i++) {
		struct srv *x = &srvs[i];
		uint8_t buf[16384];
		ssize_t n;

		if (x->e == NULL)
			continue;
		while ((n = sl_xprt_mem_read(x->e, buf, sizeof(buf))) > 0)
			assert_int_equal(
			    nghttp2_session_mem_recv(x->s, buf, (size_t)n), n);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			sl_xprt_mem_close(x->e);
			x->e = NULL;
			x->closed = 1;
			continue;
		}
		srv_flush(x);
	}
}

/* ---- set-up -------------------------------------------------------------- */

static struct sl_wendpoint *
endpoint(void)
{
	struct sl_wendpoint *ep = TAILQ_FIRST(&w->eps);

	assert_non_null(ep);
	return ep;
}

static int
setup(void **state)
{
	struct sl_wendpoint *ep;

	(void)state;
	harness_setup(yaml, 0, serve);
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;
	nsrvs = 0;
	early = 0;
	big_body = 0;
	with_trailers = 0;
	client_connect(0);
	return 0;
}

static void
servers_free(void)
{
	for (int i = 0; i < nsrvs; i++) {
		if (srvs[i].e != NULL)
			sl_xprt_mem_close(srvs[i].e);
		srvs[i].e = NULL;
		nghttp2_session_del(srvs[i].s);
		srvs[i].s = NULL;
	}
}

static int
teardown(void **state)
{
	(void)state;
	harness_close_all();
	servers_free();
	harness_teardown();
	return 0;
}

/* The statuses of the responses in got, in order, as a string. */
static void
statuses(char *out, size_t n)
{
	const char *p = got;
	size_t k = 0;

	out[0] = '\0';
	while ((p = strstr(p, "HTTP/1.1 ")) != NULL && k + 5 < n) {
		memcpy(out + k, p + 9, 3);
		out[k + 3] = ' ';
		k += 4;
		out[k] = '\0';
		p += 12;
	}
}

static int
first_closed(void)
{
	return srvs[0].closed;
}

static int
reset_seen_up(void)
{
	return nsrvs >= 1 && srvs[0].rst != 0;
}

/* ---- the tests ------------------------------------------------------------*/

static void
test_stream_ids_exhausted_go_to_a_new_connection(void **state)
{
	struct sl_h2up_conn *hc;
	char st[64];
	int n;

	(void)state;
	client_write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	run_until(one_response);
	assert_int_equal(nsrvs, 1);
	assert_int_equal(srvs[0].requests, 1);
	/* the shared connection's last stream id: the largest there is */
	hc = TAILQ_FIRST(&endpoint()->h2);
	assert_non_null(hc);
	hc->h2c.last_local_id = SL_H2F_MAX_STREAM_ID;
	/* the next request is never sent on it (a class 1 failure): it goes
	 * on a new connection, and the old one, with no stream, closes */
	client_write("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
	run_until(two_responses);
	statuses(st, sizeof(st));
	assert_string_equal(st, "200 200 ");
	assert_memory_equal(got + gotlen - 2, "ok", 2);
	assert_int_equal(nsrvs, 2);
	assert_int_equal(srvs[0].requests, 1);
	assert_int_equal(srvs[1].requests, 1);
	run_until(first_closed);
	n = 0;
	TAILQ_FOREACH(hc, &endpoint()->h2, link)
	n++;
	assert_int_equal(n, 1);
	assert_int_equal(SL_STAT_GET(w->stats.requests), 2);
}

static void
test_answer_before_the_body_ends(void **state)
{
	char st[64];

	(void)state;
	/* the server answers at the request's HEADERS, half its body sent:
	 * the client gets the answer whole, with Connection: close (the
	 * rest of its body is not read), and the server's stream is
	 * cancelled rather than left open; the shared connection serves
	 * the next client */
	early = 1;
	client_write("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
		     "\r\nhello");
	run_until(one_response);
	statuses(st, sizeof(st));
	assert_string_equal(st, "200 ");
	assert_non_null(strstr(got, "\r\nConnection: close\r\n"));
	assert_memory_equal(got + gotlen - 2, "ok", 2);
	run_until(reset_seen_up);
	assert_int_equal(srvs[0].rst, NGHTTP2_CANCEL + 1);
	assert_int_equal(srvs[0].data, 5);
	assert_int_equal(srvs[0].ends, 0);
	run_until(client_ended);

	early = 0;
	sl_xprt_mem_close(cli);
	cli = NULL;
	gotlen = 0;
	got_eof = 0;
	client_connect(0);
	client_write("GET /n HTTP/1.1\r\nHost: h\r\n\r\n");
	run_until(one_response);
	statuses(st, sizeof(st));
	assert_string_equal(st, "200 ");
	assert_int_equal(nsrvs, 1);
	assert_int_equal(srvs[0].requests, 2);
}

static void
test_worker_freed_with_a_shared_connection(void **state)
{
	struct sl_xprt_mem *e;

	(void)state;
	client_write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	run_until(one_response);
	assert_int_equal(nsrvs, 1);
	/* the client leaves; the pool is not told to close its idle
	 * connections: the shared one is still open when the worker goes */
	while (sl_client_first(w) != NULL)
		sl_client_abort(sl_client_first(w));
	sl_xprt_mem_close(cli);
	cli = NULL;
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	assert_non_null(TAILQ_FIRST(&endpoint()->h2));
	assert_non_null(srvs[0].e);
	assert_int_equal(sl_xprt_mem_peer_ended(srvs[0].e), 0);
	e = srvs[0].e;
	srvs[0].e = NULL;
	harness_teardown();
	/* closed as the worker went (its generation's end closes the
	 * pool's idle connections, the shared one among them: none is
	 * left for sl_h2up_worker_free's loop) */
	assert_int_not_equal(sl_xprt_mem_peer_ended(e), 0);
	sl_xprt_mem_close(e);
	servers_free();
}

/* ---- a stream's transport as an exchange would misuse it ---------------*/

/* The test plays the exchange of a stream it opened itself (sl_h2up_get):
 * it writes through the stream's transport (SL_XPRT_STREAM) what no
 * exchange writes, and reads what the stream gives back. */
static int ev_connected; /* the stream's connect completed */

static void
as_exchange(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	(void)err;
	(void)arg;
	if (ev == SL_UP_EV_CONNECTED) {
		ev_connected = 1;
		sl_upstream_want_write(u, 0);
	}
}

static int
stream_connected(void)
{
	return ev_connected;
}

static struct sl_upconn *cur; /* the stream the test writes on */
static int got_ok;	      /* the stream gave the response's body */
static size_t got_bytes;      /* ... and so many bytes, all told */
static char rd[4096];	      /* the first of them */
static size_t rdlen;

static struct sl_upconn *
stream_as_exchange(void)
{
	struct sl_upconn *u;

	ev_connected = 0;
	u = sl_h2up_get(w, endpoint(), as_exchange, NULL);
	assert_non_null(u);
	assert_int_equal(u->xkind, SL_XPRT_STREAM);
	/* a ready shared connection's stream is connected at once, as a
	 * pooled connection; a new connection's once it has SETTINGS */
	if (u->state != SL_UP_ST_ACTIVE)
		run_until(stream_connected);
	cur = u;
	return u;
}

static void
end_write(const void *p, size_t n)
{
	struct iovec iov = {(void *)(uintptr_t)p, n};

	assert_int_equal(sl_upstream_writev(cur, &iov, 1, 0), (ssize_t)n);
}

/* Reads what the stream gives, as the exchange would: 0 while it is
 * open, 1 at its end, 2 at a reset. */
static int
end_state(void)
{
	for (;;) {
		ssize_t n = sl_upstream_read(cur, 16384, SIZE_MAX);
		if (n > 0) {
			if (memmem(cur->in.data + cur->in.off,
				   sl_buf_pending(&cur->in), "ok", 2) != NULL)
				got_ok = 1;
			size_t k = SL_MIN(sl_buf_pending(&cur->in),
					  sizeof(rd) - rdlen);
			memcpy(rd + rdlen, cur->in.data + cur->in.off, k);
			rdlen += k;
			got_bytes += sl_buf_pending(&cur->in);
			sl_upstream_consume(cur, sl_buf_pending(&cur->in));
			continue;
		}
		if (n == SL_AGAIN)
			return 0;
		if (n == 0)
			return 1;
		return errno == ECONNRESET ? 2 : 3;
	}
}

static void
test_stream_of_a_ready_connection_is_active_at_once(void **state)
{
	/* the first stream waits for its connection's SETTINGS (CONNECTING,
	 * then CONNECTED); the next one, on that connection, is ACTIVE when
	 * sl_h2up_get returns and hears no CONNECTED (attempt.c writes its
	 * request in the same pump), and its request goes through */
	struct sl_upconn *u;

	(void)state;
	ev_connected = 0;
	u = sl_h2up_get(w, endpoint(), as_exchange, NULL);
	assert_non_null(u);
	assert_int_equal(u->state, SL_UP_ST_CONNECTING);
	run_until(stream_connected);
	assert_int_equal(u->state, SL_UP_ST_ACTIVE);
	sl_upstream_put(u, 0);

	ev_connected = 0;
	u = sl_h2up_get(w, endpoint(), as_exchange, NULL);
	assert_non_null(u);
	assert_int_equal(u->state, SL_UP_ST_ACTIVE);
	assert_int_equal(sl_upstream_connecting(u), 0);
	cur = u;
	got_ok = 0;
	end_write("GET /p HTTP/1.1\r\nHost: h\r\n\r\n", 28);
	run_until(end_state);
	assert_int_equal(ev_connected, 0);
	assert_int_equal(got_ok, 1);
	assert_int_equal(nsrvs, 1);
	sl_upstream_put(u, 0);
}

static int
end_reset(void)
{
	return end_state() == 2;
}

static int
first_request_ended(void)
{
	return nsrvs >= 1 && srvs[0].ends >= 1;
}

static int
first_request_seen(void)
{
	return nsrvs >= 1 && srvs[0].requests >= 1;
}

static void
test_head_block_in_pieces(void **state)
{
	/* a head block (hblock.h) waits until its header, then its length,
	 * is in: its first bytes alone send nothing */
	static char blk[256];
	struct sl_upconn *u;
	struct sl_hblk b;
	size_t k;

	(void)state;
	u = stream_as_exchange();
	sl_hblk_init(&b, 0);
	b.body = SL_H1_BODY_NONE;
	b.nfields = 3;
	k = sizeof(b);
	k += sl_hblk_put(blk + k, ":method", 7, "GET", 3);
	k += sl_hblk_put(blk + k, ":path", 5, "/p", 2);
	k += sl_hblk_put(blk + k, ":authority", 10, "h", 1);
	b.len = (uint32_t)k;
	memcpy(blk, &b, sizeof(b));
	end_write(blk, 3);
	run_ready();
	assert_int_equal(srvs[0].requests, 0);
	end_write(blk + 3, k - 3);
	run_until(first_request_ended);
	assert_int_equal(srvs[0].requests, 1);
	assert_int_equal(srvs[0].data, 0);
	sl_upstream_put(u, 0);
}

static void
test_long_head_and_kept_body(void **state)
{
	/* the request's block is encoded in place in the connection's write
	 * buffer; one past the server's frame size goes as HEADERS and
	 * CONTINUATION, whole; the body's buffer stays with the stream */
	static char head[20100];
	static const char tail[] = "\r\nContent-Length: 5\r\n\r\nhello";
	struct h2up_stream *st;
	struct sl_upconn *u;
	size_t k;

	(void)state;
	u = stream_as_exchange();
	k = (size_t)snprintf(head, sizeof(head),
			     "POST /l HTTP/1.1\r\nHost: h\r\nX-Long: ");
	memset(head + k, 'v', 20000);
	k += 20000;
	memcpy(head + k, tail, sizeof(tail) - 1);
	k += sizeof(tail) - 1;
	end_write(head, k);
	run_until(first_request_ended);
	assert_int_equal(srvs[0].requests, 1);
	assert_int_equal(srvs[0].vmax, 20000);
	assert_int_equal(srvs[0].data, 5);
	st = cur->xc;
	assert_true(st->f & S_REQ_SENT);
	assert_int_equal(dbuf_n(&st->body), 0);
	assert_true(st->body.cap > 0);
	sl_upstream_put(u, 0);
}

static void
test_bad_heads_fail_unprocessed(void **state)
{
	/* a head whose request line has no target, and a head that never
	 * ends within UP_HEAD_MAX bytes: no stream is opened, the exchange's
	 * end is reset and the request marked never processed (class 1, a
	 * retry may send it elsewhere) */
	static char big[64 * 1024 + 1];
	struct sl_upconn *u;
	size_t off = 0;

	(void)state;
	u = stream_as_exchange();
	end_write("BAD\r\n\r\n", 7);
	run_until(end_reset);
	assert_int_equal(sl_upstream_unprocessed(cur), 1);
	sl_upstream_put(u, 0);

	memset(big, 'a', sizeof(big));
	u = stream_as_exchange();
	while (off < sizeof(big) && !end_reset()) {
		struct iovec iov = {big + off, sizeof(big) - off};
		ssize_t n = sl_upstream_writev(cur, &iov, 1, 0);
		if (n > 0)
			off += (size_t)n;
		run_ready();
	}
	assert_int_equal(off, sizeof(big));
	run_until(end_reset);
	assert_int_equal(sl_upstream_unprocessed(cur), 1);
	assert_int_equal(srvs[0].requests, 0);
	assert_int_equal(srvs[0].rst, 0);
	sl_upstream_put(u, 0);
}

static void
test_text_head_saying_chunked_takes_pieces(void **state)
{
	/* a head of text that says chunked (the exchange's writer says so
	 * for a body of pieces, sl_upstream_write_chunked): the bytes after
	 * it are payload as they are, even ones that would be bad framing,
	 * and the end is the exchange's mark. Until session 54 the stream
	 * unframed them, and reset the stream on "zz" */
	static const char head[] = "POST /c HTTP/1.1\r\nHost: h\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct sl_upconn *u;

	(void)state;
	u = stream_as_exchange();
	end_write(head, sizeof(head) - 1);
	run_until(first_request_seen);
	end_write("zz\r\n", 4);
	sl_upstream_end_request(u, NULL);
	run_until(first_request_ended);
	assert_int_equal(srvs[0].data, 4);
	assert_int_equal(srvs[0].rst, 0);
	sl_upstream_put(u, 0);
}

static int
response_read(void)
{
	(void)end_state();
	return got_ok;
}

static void
test_bytes_after_the_request_are_dropped(void **state)
{
	/* nothing follows a request on a stream: bytes after its end are
	 * read and dropped, and the stream is answered as it was */
	struct sl_upconn *u;

	(void)state;
	got_ok = 0;
	u = stream_as_exchange();
	end_write("GET /g HTTP/1.1\r\nHost: h\r\n\r\n", 28);
	run_until(first_request_ended);
	end_write("junk", 4);
	run_until(response_read);
	assert_int_equal(srvs[0].requests, 1);
	assert_int_equal(srvs[0].data, 0);
	assert_int_equal(srvs[0].rst, 0);
	/* the response's end, not a reset */
	assert_int_equal(end_state(), 1);
	sl_upstream_put(u, 0);
}

static void
test_body_end_after_the_response_end(void **state)
{
	/* the server answers whole at the request's HEADERS; the rest of the
	 * body comes after, and its END_STREAM closes the stream both ways:
	 * the server gets every byte and the end, and no reset */
	static const char head[] = "POST /p HTTP/1.1\r\nHost: h\r\n"
				   "Content-Length: 10\r\n\r\nhello";
	struct sl_upconn *u;

	(void)state;
	early = 1;
	got_ok = 0;
	u = stream_as_exchange();
	end_write(head, sizeof(head) - 1);
	run_until(response_read);
	assert_int_equal(srvs[0].ends, 0);
	end_write("world", 5);
	run_until(first_request_ended);
	assert_int_equal(srvs[0].data, 10);
	assert_int_equal(srvs[0].rst, 0);
	sl_upstream_put(u, 0);
}

/* The transport's operations the exchange asks of any connection, on a
 * stream: what it holds unsent, its room, more waiting; its shutdown
 * (which cancels the stream: the exchange reads what came, then an end)
 * and its abort (the close cancels anyway). */
static void
test_transport_answers_and_shutdown(void **state)
{
	static const char post[] = "POST /s HTTP/1.1\r\nHost: h\r\n"
				   "Content-Length: 10\r\n\r\nhello";
	const struct sl_xprt_ops *x = sl_xprt(SL_XPRT_STREAM);
	struct sl_upconn *u;
	struct h2up_stream *st;

	(void)state;
	u = stream_as_exchange();
	st = u->xc;
	assert_string_equal(x->name, "h2-stream");
	/* before the head: room for a head and a window of body */
	assert_int_equal(x->send_room(-1, st), UP_HEAD_MAX + UP_BODY_MAX);
	assert_int_equal(x->unsent(-1, st), 0);
	assert_int_equal(x->outq(-1, st), 0);
	assert_int_equal(x->more_waiting(-1, st), 0);
	assert_int_equal(x->connect_error(-1, st), 0);
	/* a POST's head and part of its body: the body waits in the
	 * stream (outq) until the server's window takes it */
	end_write(post, sizeof(post) - 1);
	assert_int_equal(x->outq(-1, st), 5);
	assert_int_equal(x->send_room(-1, st), 2 * UP_BODY_MAX - 5);
	run_until(first_request_seen);
	/* the exchange ends its side: the stream is cancelled, and the
	 * exchange reads an end, not a reset */
	x->shutdown(-1, st);
	run_until(reset_seen_up);
	assert_int_equal(srvs[0].rst, NGHTTP2_CANCEL + 1);
	assert_int_equal(end_state(), 1);
	assert_int_equal(sl_upstream_unprocessed(u), 0);
	x->abort(-1, st);
	sl_upstream_put(u, 0);
}

/* ---- the stream's flow control, through its transport -------------------*/

/* The bytes a stream holds for its exchange, unread. */
static size_t
stream_held(const struct sl_upconn *u)
{
	return dbuf_n(&((const struct h2up_stream *)u->xc)->resp);
}

/* The stream holds about a window (the server's first frames, before
 * sluice's SETTINGS, count against the default one) */
static int
stream_window_full(void)
{
	return stream_held(cur) >= UP_STREAM_WINDOW - 1024;
}

static int ended; /* end_state said 1 */

static int
read_to_the_end(void)
{
	int r = end_state();

	assert_true(r <= 1);
	return ended = r == 1;
}

static void
test_unread_stream_holds_the_server_back(void **state)
{
	/* an exchange that does not read (a slow client) holds its stream's
	 * server back: the stream keeps no more than its window, and the
	 * window goes back as the exchange reads, until the whole body is
	 * through */
	struct sl_upconn *u;

	(void)state;
	big_body = 1024 * 1024;
	got_bytes = 0;
	u = stream_as_exchange();
	end_write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n", 30);
	run_until(stream_window_full);
	for (int i = 0; i < 20; i++)
		run_ready();
	/* the window, and the head block before the body */
	assert_true(stream_held(u) <= UP_STREAM_WINDOW + 512);
	run_until(read_to_the_end);
	assert_true(got_bytes > big_body && got_bytes < big_body + 512);
	assert_int_equal(srvs[0].rst, 0);
	sl_upstream_put(u, 0);
}

static void
test_closed_streams_give_the_connection_window_back(void **state)
{
	/* exchanges that close their streams with a window's worth unread
	 * (clients that left): each stream is cancelled, and its bytes
	 * give their connection window back. 70 such streams are more than
	 * the connection's window (16 MiB): the next stream on the same
	 * connection still gets its whole answer */
	struct sl_upconn *u;

	(void)state;
	big_body = UP_STREAM_WINDOW;
	for (int i = 0; i < 70; i++) {
		u = stream_as_exchange();
		end_write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n", 30);
		run_until(stream_window_full);
		sl_upstream_put(u, 0);
	}
	assert_int_equal(nsrvs, 1);
	got_bytes = 0;
	ended = 0;
	u = stream_as_exchange();
	end_write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n", 30);
	run_until(read_to_the_end);
	assert_true(got_bytes > big_body);
	assert_int_equal(nsrvs, 1);
	sl_upstream_put(u, 0);
}

/* ---- the message: pieces and trailers as fields ---------------------------*/

/* A gRPC-like GET's head block, flags as given. Returns its size. */
static size_t
get_block(char *blk, uint8_t flags)
{
	struct sl_hblk b;
	size_t k;

	sl_hblk_init(&b, 0);
	b.body = SL_H1_BODY_NONE;
	b.nfields = 4;
	b.flags = flags;
	k = sizeof(b);
	k += sl_hblk_put(blk + k, ":method", 7, "GET", 3);
	k += sl_hblk_put(blk + k, ":path", 5, "/t", 2);
	k += sl_hblk_put(blk + k, ":authority", 10, "h", 1);
	k += sl_hblk_put(blk + k, "content-type", 12, "application/grpc", 16);
	b.len = (uint32_t)k;
	memcpy(blk, &b, sizeof(b));
	return k;
}

static void
test_body_as_pieces_and_trailers_as_fields(void **state)
{
	/* an answer without a content-length comes as its head block (a
	 * body of pieces), its DATA as they came, not a chunk size in sight
	 * (the chunked coding is the HTTP/1.1 writer's), and the stream's
	 * end; its trailers a field block. The same whether the request's
	 * head came as a block or as text (a mirror's, a split's) */
	static const char text[] = "GET /t HTTP/1.1\r\nHost: h\r\n"
				   "Content-Type: application/grpc\r\n\r\n";
	static const char *want[][2] = {{"grpc-status", "0"},
					{"grpc-message", "fine"}};
	char blk[256];
	struct sl_upconn *u;
	struct sl_hblk b, tb;
	struct sl_hblk_it it;
	const char *tp, *n, *v;
	size_t nl, vl, k = 0;

	(void)state;
	with_trailers = 1;
	for (int as_text = 0; as_text < 2; as_text++) {
		rdlen = got_bytes = 0;
		ended = 0;
		k = 0;
		u = stream_as_exchange();
		if (as_text)
			end_write(text, sizeof(text) - 1);
		else
			end_write(blk, get_block(blk, 0));
		run_until(read_to_the_end);
		assert_true(rdlen >= sizeof(b));
		sl_hblk_head(rd, &b);
		assert_int_equal(b.status, 200);
		assert_int_equal(b.body, SL_H1_BODY_STREAM);
		assert_int_equal(rdlen, b.len + 2);
		assert_memory_equal(rd + b.len, "ok", 2);
		assert_true(sl_upstream_ended(u));
		assert_int_equal(sl_upstream_grpc_status(u), 0);
		tp = sl_upstream_trailers(u);
		assert_non_null(tp);
		sl_hblk_head(tp, &tb);
		assert_int_equal(tb.status, 0);
		assert_int_equal(tb.nfields, 2);
		sl_hblk_first(&it, tp);
		while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
			assert_true(k < 2);
			assert_int_equal(nl, strlen(want[k][0]));
			assert_memory_equal(n, want[k][0], nl);
			assert_int_equal(vl, strlen(want[k][1]));
			assert_memory_equal(v, want[k][1], vl);
			k++;
		}
		assert_int_equal(k, 2);
		sl_upstream_put(u, 0);
	}
}

/* ---- the shared connections, from inside ---------------------------------*/

static void
test_kept_streams_are_bounded(void **state)
{
	/* a thread keeps at most STREAMS_KEPT freed streams for reuse; the
	 * ones past it go back to malloc */
	struct h2up_stream *st[STREAMS_KEPT + 6];
	size_t n = sizeof(st) / sizeof(st[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		st[i] = stream_take();
		assert_non_null(st[i]);
		assert_null(st[i]->c);
	}
	assert_int_equal(nstreams_kept, 0);
	for (size_t i = 0; i < n; i++)
		stream_put(st[i]);
	assert_int_equal(nstreams_kept, STREAMS_KEPT);
	/* the last one kept is the first taken again */
	assert_ptr_equal(stream_take(), st[STREAMS_KEPT - 1]);
	stream_put(st[STREAMS_KEPT - 1]);
}

/* The buffers the kept streams hold are bounded in bytes, and counted as
 * they come and go (session 30): 200 streams with 4 KiB in each of
 * their four buffers would be 3.2 MiB. */
static void
test_kept_stream_buffers_are_bounded(void **state)
{
	struct h2up_stream *st[200];
	size_t sum = 0;

	(void)state;
	for (size_t i = 0; i < 200; i++) {
		st[i] = stream_take();
		assert_non_null(st[i]);
		assert_non_null(dbuf_room(&st[i]->req, 4000));
		assert_non_null(dbuf_room(&st[i]->body, 4000));
		assert_non_null(dbuf_room(&st[i]->resp, 4000));
		assert_non_null(dbuf_room(&st[i]->hdr, 4000));
	}
	for (size_t i = 0; i < 200; i++)
		stream_put(st[i]);
	assert_true(stream_bytes_kept <= STREAM_BYTES_KEPT);
	assert_true(stream_bytes_kept > STREAM_BYTES_KEPT - 4 * 4096);
	for (struct h2up_stream *k = streams_kept; k != NULL;
	     k = (struct h2up_stream *)(void *)k->c)
		sum += k->req.cap + k->body.cap + k->resp.cap + k->hdr.cap;
	assert_int_equal(sum, stream_bytes_kept);
	/* taken again, nothing stays counted; a buffer past
	 * STREAM_BUF_KEPT is never kept */
	for (size_t i = 0; i < 200; i++)
		st[i] = stream_take();
	assert_int_equal(stream_bytes_kept, 0);
	assert_non_null(dbuf_room(&st[0]->resp, STREAM_BUF_KEPT + 1));
	for (size_t i = 0; i < 200; i++)
		stream_put(st[i]);
	assert_int_equal(st[0]->resp.cap, 0);
	sl_h2up_thread_free();
	assert_int_equal(stream_bytes_kept, 0);
	assert_int_equal(nstreams_kept, 0);
}

static void
test_ping_without_answer(void **state)
{
	/* a PING out: while the server sent something within
	 * connect_timeout, the connection waits for the answer a while more;
	 * once it has been silent that long, the connection closes */
	struct sl_h2up_conn *hc;
	struct timeval tv;

	(void)state;
	client_write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	run_until(one_response);
	hc = TAILQ_FIRST(&endpoint()->h2);
	assert_non_null(hc);
	hc->ping_out = 1;
	hc->heard_ms = sl_now_ms();
	conn_on_ping(-1, EV_TIMEOUT, hc);
	assert_ptr_equal(TAILQ_FIRST(&endpoint()->h2), hc);
	assert_true(event_pending(&hc->ping, EV_TIMEOUT, &tv));
	hc->heard_ms = sl_now_ms() - hc->ep->cluster->connect_timeout_ms;
	conn_on_ping(-1, EV_TIMEOUT, hc);
	assert_null(TAILQ_FIRST(&endpoint()->h2));
	run_until(first_closed);
}

static void
test_worker_free_closes_the_listed_connections(void **state)
{
	/* sl_h2up_worker_free closes every shared connection its endpoints
	 * still list (the generation's end closes the idle ones before it
	 * runs: this calls it with one still open) */
	(void)state;
	client_write("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
	run_until(one_response);
	while (sl_client_first(w) != NULL)
		sl_client_abort(sl_client_first(w));
	sl_xprt_mem_close(cli);
	cli = NULL;
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	assert_non_null(TAILQ_FIRST(&endpoint()->h2));
	sl_h2up_worker_free(w);
	assert_null(TAILQ_FIRST(&endpoint()->h2));
	assert_int_not_equal(sl_xprt_mem_peer_ended(srvs[0].e), 0);
	/* the endpoint is still the worker's */
	assert_non_null(TAILQ_FIRST(&w->eps));
}

static void
test_server_opened_streams_are_refused(void **state)
{
	/* push is off (SETTINGS_ENABLE_PUSH 0) and sluice's SETTINGS allow
	 * the server no stream: the connection's state refuses one before it
	 * asks, and the handler it would ask refuses any */
	(void)state;
	assert_null(h2up_ops.stream_open(NULL, 2));
	assert_null(h2up_ops.stream_open(NULL, SL_H2F_MAX_STREAM_ID - 1));
}

static int
teardown_none(void **state)
{
	(void)state;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_stream_ids_exhausted_go_to_a_new_connection, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_answer_before_the_body_ends,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_worker_freed_with_a_shared_connection, setup,
		teardown_none),
	    cmocka_unit_test_setup_teardown(
		test_stream_of_a_ready_connection_is_active_at_once, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_head_block_in_pieces, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_long_head_and_kept_body, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_heads_fail_unprocessed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_text_head_saying_chunked_takes_pieces, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bytes_after_the_request_are_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_body_end_after_the_response_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transport_answers_and_shutdown,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_unread_stream_holds_the_server_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_closed_streams_give_the_connection_window_back, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_body_as_pieces_and_trailers_as_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kept_streams_are_bounded,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_kept_stream_buffers_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ping_without_answer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_worker_free_closes_the_listed_connections, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_server_opened_streams_are_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
