/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for HTTP/2 to upstreams (h2up.c): the driver plays an
 * h2c server on the memory ends of a real worker's shared connections,
 * and what the fuzzer writes is the server's bytes. Made once, on the
 * first input, as fuzz_h2.c does: an HTTP/1.1 listener with two routes to
 * a cluster speaking h2c (/u without retries, /r with the default one),
 * the access log to /dev/null, a worker with no sockets (freed at exit,
 * so that LeakSanitizer sees everything given back) whose endpoint
 * connects on memory ends.
 *
 * An input is three bytes of settings, then the server's bytes:
 *   [0]  bits 0-2: the client's request(s): reqs[] below (GET, HEAD, a
 *        POST with a length, a chunked POST, a gRPC call, two pipelined
 *        GETs, a GET and a POST on the route with a retry); F0_* the rest
 *   [1]  split: the server's bytes are written in pieces of this many
 *        bytes, a turn of the loop after each (0: all at once)
 *   [2]  F2_* below: slow server ends, a pool drain halfway, connects
 *        held until after the first turn, the first connect refused, a
 *        POST whose body outgrows the windows; F2_PIECES (0x80) the
 *        pieces mode below (the fuzzer's first inputs set the bit when it
 *        meant nothing: they were renamed with it cleared)
 * Each shared connection gets an empty SETTINGS from the driver first
 * (the server's preface; none with F0_RAW), then the server's bytes go,
 * piece by piece, to the newest server end still open. What sluice
 * writes to a server end is read and dropped, after a check that it
 * starts with the client preface. At the end the server ends get a FIN
 * or a reset (or neither), the loop turns until nothing moves (on /r,
 * then waits RETRY_MS for a retry's backoff), then every client is
 * aborted, the server ends closed, and the pools closed.
 *
 * Checked (CHECK):
 * - what sluice writes to the client is HTTP/1.1 responses: each head
 *   starts "HTTP/1.1 " and a 3-digit status and parses with
 *   sl_h1_parse_response (for the request's method), a chunked body
 *   decodes, and the next head starts where the body ended; only the
 *   last one may be cut (the connection ended); no more final answers
 *   than requests; with one request, no retry and one connection, an
 *   answer of the server's (not a 5xx) has for its body the start of the
 *   DATA payload the server's frames carry on stream 1;
 * - every shared connection starts with the HTTP/2 client preface;
 * - after the abort and the reaps nothing is left: no client, no request
 *   active, no connection idle, no shared connection on the endpoint
 *   (ep->h2: one with no stream closes with the pool), no I/O buffer
 *   held.
 *
 * The pieces mode (F2_PIECES): no client; the driver is the exchange, as
 * tests/unit/test_h2up.c plays it. It opens a stream (sl_h2up_get), writes
 * a request head block (byte 0's bits 0-2: GET,
 * HEAD, a POST with a length, a gRPC call, a GET with a gRPC
 * content-type, the POST's body in two writes, a POST past the windows,
 * the gRPC call's body after half the answer) through the stream's
 * transport and reads what it gives; F0_SLOW: 16 bytes a turn, F0_GONE:
 * the exchange puts the stream back halfway, the rest as above. Checked:
 * - the first bytes read are a head block whose records walk to its
 *   length (nfields of them), status 200..999, body NONE (HEAD, 204, 304
 *   and only these), LENGTH or STREAM; a HEAD's has nothing after it;
 * - the bytes after the block are the DATA payload (padding off) the
 *   server's frames carried on stream 1, as the stream's connection took
 *   them (walk_pieces): a prefix, all of it at the end, a LENGTH body
 *   within its length and whole at the end;
 * - a read returns 0 only on a whole block, once sl_upstream_ended says
 *   so, after a whole DATA or HEADERS (with END_HEADERS) frame with
 *   END_STREAM on stream 1; after such a frame the stream ends or fails,
 *   never waits on; after a whole RST_STREAM on stream 1 before it the
 *   read fails with ECONNRESET; every read that fails does so with
 *   ECONNRESET, and a read again says the same (0 or ECONNRESET);
 * - sl_upstream_trailers is NULL or a block of status 0 whose records
 *   walk to its length, nfields (> 0) of them;
 * - nothing is left at the end, as in the other mode.
 * The payload checks hold when the stream connected (its connection the
 * first server end not refused).
 *
 * FUZZ_H2UP_TRACE=1 in the environment turns the debug log on and prints
 * what the client read (to study one input).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "client.h"
#include "client_int.h"
#include "conf.h"
#include "h1_parse.h"
#include "h2up.h"
#include "hblock.h"
#include "log.h"
#include "runtime.h"
#include "upstream.h"
#include "worker.h"
#include "xprt.h"

#include "fuzz.h"

static const char yaml[] =
    "listeners:\n"
    "  - name: web\n"
    "    address: 127.0.0.1:8080\n"
    "    limits: { buffer_bytes: 16KiB, max_header_bytes: 8KiB }\n"
    "    routes:\n"
    "      - match: { path_prefix: /r }\n"
    "        cluster: up\n"
    "      - match: { path_prefix: /u }\n"
    "        cluster: up\n"
    "        retry: { attempts: 1 }\n"
    "clusters:\n"
    "  - name: up\n"
    "    protocol: h2c\n"
    "    max_concurrent_streams: 4\n"
    "    endpoints: [127.0.0.1:9001]\n";

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/* the server's preface: an empty SETTINGS */
static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};

#define MAX_SERVER 16384 /* bytes of the server's */
#define MAX_PIECES 512	 /* pieces written with a turn between */
#define END_TURNS  64	 /* turns after the last piece, at most */
#define CALM_TURNS 4	 /* ... ending after so many with nothing done */
#define MAXUP	   16	 /* shared connections of one input */
#define MAXREQ	   2	 /* requests of one input */
#define OUT_MAX	   (1u << 20)
/* fields of a head the client reads: sluice passes on as many as its
 * worker parses (w->max_hdrs, 256 here) and adds its own */
#define OUT_HDRS   512
#define CLI_WINDOW 64	/* the client's receive window with F0_SLOW */
#define SRV_WINDOW 64	/* a server end's with F2_SLOW_SRV */
#define TICK_US	   2000 /* the retry phase's longest wait */
/* ... and its length: the first retry's backoff is under 25 ms (retry.h) */
#define RETRY_MS 30
/* past the server's first stream window and what h2up.c holds of a
 * request body (UP_BODY_MAX) */
#define BIG_BODY 100000

/* byte 0 */
#define F0_REQ	 0x07
#define F0_RAW	 0x08 /* no SETTINGS from the driver: the input's own */
#define F0_FIN	 0x10 /* the server ends shut down after the bytes */
#define F0_RESET 0x20 /* ... reset instead (both: reset) */
#define F0_SLOW	 0x40 /* the client reads slowly (a small window) */
#define F0_GONE	 0x80 /* the client closes halfway: streams cancelled */
/* byte 2 */
#define F2_SLOW_SRV 0x01 /* the server ends take few bytes at a time */
#define F2_DRAIN    0x02 /* the pool closes halfway (GOAWAY from sluice) */
#define F2_HOLD	    0x04 /* connects complete after the first turn */
#define F2_REFUSE   0x08 /* the first connect fails (held: when accepted) */
#define F2_BIG	    0x10 /* the POST on /u sends BIG_BODY bytes instead */

/* The client's requests and their methods, for the heads they get. */
static const struct {
	const char *bytes;
	enum sl_h1_method m[MAXREQ];
	int n;
	int retry; /* on /r: one retry, after a backoff */
} reqs[8] = {
    {"GET /u/a HTTP/1.1\r\nHost: h\r\n\r\n", {SL_M_GET}, 1, 0},
    {"HEAD /u/h HTTP/1.1\r\nHost: h\r\n\r\n", {SL_M_HEAD}, 1, 0},
    {"POST /u/p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
     "hello world",
     {SL_M_POST},
     1,
     0},
    {"POST /u/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     {SL_M_POST},
     1,
     0},
    {"POST /u/g.S/M HTTP/1.1\r\nHost: h\r\n"
     "Content-Type: application/grpc\r\nTE: trailers\r\n"
     "Content-Length: 7\r\n\r\n\0\0\0\0\2hi",
     {SL_M_POST},
     1,
     0},
    {"GET /u/1 HTTP/1.1\r\nHost: h\r\n\r\n"
     "GET /u/2 HTTP/1.1\r\nHost: h\r\n\r\n",
     {SL_M_GET, SL_M_GET},
     2,
     0},
    {"GET /r/a HTTP/1.1\r\nHost: h\r\n\r\n", {SL_M_GET}, 1, 1},
    {"POST /r/p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
     {SL_M_POST},
     1,
     1},
};
/* (the gRPC request's length: its body has NULs) */
#define GRPC_LEN                                                               \
	(sizeof("POST /u/g.S/M HTTP/1.1\r\nHost: h\r\n"                        \
		"Content-Type: application/grpc\r\nTE: trailers\r\n"           \
		"Content-Length: 7\r\n\r\n") -                                 \
	 1 + 7)

static struct sl_conf *conf;
static struct sl_worker *w;
static uint64_t bufs_at_rest; /* w->bufs.allocated between inputs */
static int trace;
static struct event *tick; /* the retry phase's */

/* ---- the server ends ---------------------------------------------------*/

static struct srv {
	struct sl_xprt_mem *e; /* NULL once closed */
	char pre[sizeof(preface) - 1];
	size_t npre;	  /* bytes of pre read */
	int settings_due; /* held: the SETTINGS go once it is accepted */
	int refused;	  /* its held connect was refused */
} srvs[MAXUP];
static int nsrvs;
static int raw, slow_srv, hold, refuse;
static uint64_t progress;

/* The server's preface: it speaks first, sluice reads it when it can. */
static void
srv_settings(struct srv *s)
{
	if (!s->settings_due)
		return;
	s->settings_due = 0;
	CHECK(sl_xprt_mem_write(s->e, settings, sizeof(settings)) ==
	      (ssize_t)sizeof(settings));
}

static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	struct srv *s;

	(void)ep;
	if (nsrvs == MAXUP || (refuse && !hold)) {
		refuse = 0;
		errno = nsrvs == MAXUP ? EMFILE : ECONNREFUSED;
		return -1;
	}
	s = &srvs[nsrvs];
	memset(s, 0, sizeof(*s));
	if (sl_xprt_mem_pair(end, &s->e) == -1)
		return -1;
	if (slow_srv)
		sl_xprt_mem_set_window(s->e, SRV_WINDOW);
	if (hold)
		sl_xprt_mem_hold(s->e); /* (nothing is written before) */
	s->settings_due = !raw;
	if (!hold)
		srv_settings(s);
	nsrvs++;
	progress++;
	return 0;
}

static void
srv_close(struct srv *s, int reset)
{
	if (s->e == NULL)
		return;
	if (reset)
		sl_xprt_mem_reset(s->e);
	else
		sl_xprt_mem_close(s->e);
	s->e = NULL;
}

/* Reads and drops what sluice wrote to the server ends; the first bytes
 * must be the client preface. A server end sluice closed is closed. */
static void
serve(void)
{
	char buf[16384];

	for (int i = 0; i < nsrvs; i++) {
		struct srv *s = &srvs[i];
		ssize_t n;

		if (hold && s->e != NULL && sl_xprt_mem_held_connect(s->e))
			continue;
		while (s->e != NULL &&
		       (n = sl_xprt_mem_read(s->e, buf, sizeof(buf))) > 0) {
			size_t k = SL_MIN((size_t)n, sizeof(s->pre) - s->npre);
			memcpy(s->pre + s->npre, buf, k);
			s->npre += k;
			CHECK(memcmp(s->pre, preface, s->npre) == 0);
			progress++;
		}
		if (s->e != NULL && sl_xprt_mem_peer_ended(s->e) != 0 &&
		    sl_xprt_mem_held(s->e) == 0) {
			/* sluice is done with the connection */
			srv_close(s, 0);
			progress++;
		}
	}
}

/* The connects held (F2_HOLD) complete, the first refused with
 * F2_REFUSE. */
static void
accept_held(void)
{
	for (int i = 0; i < nsrvs; i++) {
		struct srv *s = &srvs[i];
		if (s->e == NULL || !sl_xprt_mem_held_connect(s->e))
			continue;
		if (refuse) {
			refuse = 0;
			sl_xprt_mem_refuse(s->e, ECONNREFUSED);
			s->e = NULL; /* (closed) */
			s->refused = 1;
			continue;
		}
		sl_xprt_mem_accept(s->e);
		srv_settings(s);
	}
}

/* The newest server end still open, or NULL. */
static struct srv *
srv_current(void)
{
	for (int i = nsrvs - 1; i >= 0; i--)
		if (srvs[i].e != NULL)
			return &srvs[i];
	return NULL;
}

/* ---- what the client reads ---------------------------------------------*/

static struct {
	char *buf;
	size_t len, cap;
} out;

static void
out_feed(const char *p, size_t n)
{
	if (out.len + n > out.cap) {
		size_t c = out.cap ? out.cap : 16384;
		while (c < out.len + n)
			c *= 2;
		CHECK(c <= OUT_MAX);
		out.buf = realloc(out.buf, c);
		CHECK(out.buf != NULL);
		out.cap = c;
	}
	memcpy(out.buf + out.len, p, n);
	out.len += n;
}

/* The DATA payload the server's bytes carry on stream 1 (checked against
 * the body the client reads when the answer is the server's). */
static struct {
	uint8_t *buf;
	size_t len, cap;
	int on; /* one request, one connection, no retry */
} pay;

/* The client's body of an answer of the server's is the start of stream
 * 1's DATA; sluice's own answers (5xx) are not checked. */
static void
check_body(const struct sl_h1_response *resp, const char *b, size_t n)
{
	static char tmp[OUT_MAX];

	if (!pay.on || resp->status >= 500)
		return;
	if (resp->body == SL_H1_BODY_LENGTH) {
		n = (size_t)SL_MIN((uint64_t)n, resp->content_length);
	} else if (resp->body == SL_H1_BODY_CHUNKED) {
		struct sl_h1_chunked ck;
		size_t used = 0;
		sl_h1_chunked_init(&ck, 1u << 20);
		memcpy(tmp, b, n);
		if (sl_h1_chunked_decode(&ck, tmp, n, 1, &used, &n) < 0)
			return; /* (check_out says so) */
		b = tmp;
	} else if (resp->body != SL_H1_BODY_CLOSE) {
		return;
	}
	CHECK(n <= pay.len && (n == 0 || memcmp(b, pay.buf, n) == 0));
}

/*
 * Walks the responses the client read: heads that parse, bodies framed as
 * they say. A response cut short ends the walk (the connection ended);
 * one whose body runs to the end of the connection too. The n-th final
 * response answers the n-th request (m[n]: its method).
 */
static void
check_out(const enum sl_h1_method *m, int nreq)
{
	static struct sl_h1_header hdrs[OUT_HDRS];
	size_t off = 0;
	int n = 0;

	while (off < out.len) {
		struct sl_h1_response resp;
		const char *p = out.buf + off, *e;
		size_t hl, avail = out.len - off;

		/* a head's first bytes are a status line's, even cut */
		CHECK(memcmp(p, "HTTP/1.1 ", SL_MIN(avail, (size_t)9)) == 0);
		for (size_t i = 9; i < 12 && i < avail; i++)
			CHECK(p[i] >= '0' && p[i] <= '9');
		CHECK(avail < 13 || p[12] == ' ' || p[12] == '\r');
		e = memmem(p, avail, "\r\n\r\n", 4);
		if (e == NULL)
			return;
		hl = (size_t)(e - p) + 4;
		memset(&resp, 0, sizeof(resp));
		resp.headers = hdrs;
		resp.max_headers = OUT_HDRS;
		CHECK(sl_h1_parse_response(p, hl, &resp,
					   m[n < nreq ? n : nreq - 1]) == 0);
		CHECK(resp.minor == 1);
		off += hl;
		if (resp.status < 200)
			continue; /* interim: its final head follows */
		CHECK(n < nreq);  /* no answer nobody asked for */
		if (n == 0)
			check_body(&resp, out.buf + off, out.len - off);
		n++;
		if (resp.body == SL_H1_BODY_LENGTH) {
			if (out.len - off < resp.content_length)
				return;
			off += resp.content_length;
		} else if (resp.body == SL_H1_BODY_CHUNKED) {
			struct sl_h1_chunked ck;
			size_t used = 0, dl = 0;
			int r;
			sl_h1_chunked_init(&ck, 1u << 20);
			r = sl_h1_chunked_decode(&ck, out.buf + off,
						 out.len - off, 0, &used, &dl);
			CHECK(r >= 0);
			if (r == 0)
				return;
			off += used;
		} else if (resp.body == SL_H1_BODY_CLOSE) {
			return;
		}
	}
}

/* ---- the worker --------------------------------------------------------*/

static void pieces_free(void);

static void
teardown(void)
{
	if (w == NULL)
		return;
	event_free(tick);
	sl_worker_join_free(w);
	w = NULL;
	free(out.buf);
	free(pay.buf);
	pieces_free();
}

static void on_tick(evutil_socket_t fd, short what, void *arg);

static void
init(void)
{
	char *errs = NULL;
	int fds[1] = {-1};
	struct sl_wendpoint *ep;

	if (w != NULL)
		return;
	trace = getenv("FUZZ_H2UP_TRACE") != NULL;
	sl_log_set_level(trace ? SL_LOG_DEBUG : SL_LOG_ERROR);
	conf = sl_conf_load_buffer("fuzz_h2up.yaml", yaml, strlen(yaml), &errs);
	if (conf == NULL)
		fprintf(stderr, "fuzz_h2up: %s\n", errs != NULL ? errs : "?");
	CHECK(conf != NULL);
	sl_runtime_set_workers(1);
	CHECK(sl_runtime_bind(conf) == 0);
	CHECK(sl_access_open("/dev/null", SL_ACCESS_JSON) == 0);
	w = sl_worker_new(0, conf, fds);
	CHECK(w != NULL);
	CHECK(w->max_hdrs + 64 <= OUT_HDRS);
	sl_conf_unref(conf); /* the worker's generation holds it */
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;
	bufs_at_rest = w->bufs.allocated;
	tick = event_new(w->base, -1, EV_PERSIST, on_tick, NULL);
	CHECK(tick != NULL);
	atexit(teardown);
}

/* The tick of the retry phase: it only ends the loop's wait. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* One turn of the loop (waiting for the next event when wait is set, at
 * most a tick), the server ends served before and after it, the client
 * end read after it (unless the client is gone). */
static void
turn(struct sl_xprt_mem *cli, int wait)
{
	char buf[65536];
	ssize_t n;

	serve();
	event_base_loop(w->base, wait ? EVLOOP_ONCE : EVLOOP_NONBLOCK);
	serve();
	while (cli != NULL &&
	       (n = sl_xprt_mem_read(cli, buf, sizeof(buf))) > 0) {
		out_feed(buf, (size_t)n);
		progress++;
	}
}

/* Turns until nothing moves for a few turns. */
static void
settle(struct sl_xprt_mem *cli)
{
	int calm = 0;

	for (int i = 0; i < END_TURNS && calm < CALM_TURNS; i++) {
		uint64_t before = progress;
		turn(cli, 0);
		calm = progress == before ? calm + 1 : 0;
	}
}

/* ---- the pieces mode: the driver is the exchange ------------------------*/

/*
 * With F2_PIECES (a bit no other mode reads) no client comes: the driver
 * opens a stream itself (sl_h2up_get), as tests/unit/test_h2up.c plays an
 * exchange, writes a request head block (and a body
 * for a POST) through the stream's transport, and reads what it gives
 * back while the input's bytes play the server.
 */
#define F2_PIECES 0x80
#define PC_SLOW	  16 /* bytes a read takes with F0_SLOW, one read a turn */

/* The request kinds (byte 0's bits 0-2 in this mode). */
enum {
	PC_GET,	     /* GET, no body */
	PC_HEAD,     /* HEAD: a head block with no body back */
	PC_POST,     /* a POST with a length */
	PC_GRPC,     /* a gRPC call: POST, application/grpc, a length */
	PC_GRPC_GET, /* a GET with a gRPC content-type (no body) */
	PC_POST_TWO, /* the POST's body in two writes a piece apart */
	PC_POST_BIG, /* a POST whose body outgrows the windows */
	PC_GRPC_LATE /* the gRPC call's body only after half the answer */
};

static struct {
	struct sl_upconn *u; /* NULL: none, or put back */
	int connected, cfailed;
	/* the request: a head block and a body */
	char *req;
	size_t rlen, hlen, woff, wlimit; /* written up to wlimit so far */
	int wdone;			 /* a write failed: no more */
	/* what the reads gave */
	char *got;
	size_t glen, gcap;
	int eof;  /* a read returned 0 */
	int rerr; /* a read failed (ECONNRESET) */
	int slow;
} pc;

/* Stream 1's DATA as the server's bytes carry it, up to the first whole
 * frame that ends it. */
static struct {
	int es;	 /* a whole frame with END_STREAM on stream 1 came */
	int rst; /* a whole RST_STREAM on stream 1 came before that */
} pw;

/* The server's bytes the stream's connection took, for the walk. */
static struct {
	uint8_t *buf;
	size_t len, cap;
} sent;

static void
pieces_free(void)
{
	free(sent.buf);
	free(pc.got);
}

static void
sent_add(const uint8_t *p, size_t n)
{
	if (sent.len + n > sent.cap) {
		sent.cap = sent.len + n + 4096;
		sent.buf = realloc(sent.buf, sent.cap);
		CHECK(sent.buf != NULL);
	}
	memcpy(sent.buf + sent.len, p, n);
	sent.len += n;
}

static void
pay_add(const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	if (pay.len + n > pay.cap) {
		pay.cap = pay.len + n + 4096;
		pay.buf = realloc(pay.buf, pay.cap);
		CHECK(pay.buf != NULL);
	}
	memcpy(pay.buf + pay.len, p, n);
	pay.len += n;
}

/*
 * Walks the server's frames for stream 1's DATA payload (padding off), up
 * to the first whole DATA or HEADERS frame on it with END_STREAM (both
 * modes: what the client or the pieces reader gets is a prefix of it). The walk
 * stops where sluice's reader would end the connection on the framing
 * alone (a frame over 16384 bytes, padding as long as the frame); other
 * errors fail the stream, whose body is then a prefix of this. A cut DATA
 * frame's bytes count (a prefix again), its END_STREAM not.
 */
static void
walk_pieces(const uint8_t *p, size_t n)
{
	int es_block = 0; /* in a HEADERS block with END_STREAM */

	pay.len = 0;
	memset(&pw, 0, sizeof(pw));
	while (n >= 9) {
		size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
		uint32_t id = ((uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 |
			       (uint32_t)p[7] << 8 | p[8]) &
			      0x7fffffffu;
		const uint8_t *q = p + 9;
		size_t ql = len, avail = n - 9;

		if (len > 16384)
			return;
		if (p[3] == 0 && id == 1) {
			if (p[4] & 0x08) { /* PADDED */
				if (ql == 0 || avail == 0 || q[0] >= ql)
					return;
				ql -= 1 + q[0];
				q++;
				avail--;
			}
			pay_add(q, SL_MIN(ql, avail));
		}
		/* whole or cut, by the frame's bytes (avail lost the pad
		 * length's byte above: a whole padded frame was taken for a
		 * cut one, and its END_STREAM missed) */
		if (n - 9 < len)
			return;
		/* (a HEADERS frame's END_STREAM counts with its block's
		 * end, END_HEADERS on it or on a CONTINUATION right after
		 * it: a CONTINUATION may never come) */
		if (id == 1 && p[3] == 1)
			es_block = (p[4] & 0x01) != 0;
		else if (p[3] != 9)
			es_block = 0;
		if (id == 1 && (p[3] == 0 ? (p[4] & 0x01) != 0
					  : (p[3] == 1 || p[3] == 9) &&
						es_block && (p[4] & 0x04))) {
			pw.es = 1;
			return;
		}
		if (id == 1 && p[3] == 3)
			pw.rst = 1;
		p += 9 + len;
		n -= 9 + len;
	}
}

/* A head block (hblock.h) of fields, then
 * blen bytes of body, into pc.req. */
static void
pc_request(int kind)
{
	static char buf[512 + BIG_BODY];
	static const char grpc_body[7] = {0, 0, 0, 0, 2, 'h', 'i'};
	const char *f[8][2];
	struct sl_hblk b;
	size_t k = sizeof(b), nf = 0, blen = 0;
	char cl[24];

	sl_hblk_init(&b, 0);
	b.body = SL_H1_BODY_NONE;
	f[nf][0] = ":method";
	f[nf++][1] = kind == PC_HEAD			     ? "HEAD"
		     : kind == PC_GET || kind == PC_GRPC_GET ? "GET"
							     : "POST";
	f[nf][0] = ":path";
	f[nf++][1] =
	    kind == PC_GRPC || kind == PC_GRPC_LATE ? "/g.S/M" : "/u/p";
	f[nf][0] = ":authority";
	f[nf++][1] = "h";
	if (kind == PC_GRPC || kind == PC_GRPC_GET || kind == PC_GRPC_LATE) {
		f[nf][0] = "content-type";
		f[nf++][1] = "application/grpc";
		f[nf][0] = "te";
		f[nf++][1] = "trailers";
	}
	if (kind == PC_POST || kind == PC_POST_TWO)
		blen = 11;
	else if (kind == PC_GRPC || kind == PC_GRPC_LATE)
		blen = sizeof(grpc_body);
	else if (kind == PC_POST_BIG)
		blen = BIG_BODY;
	if (blen > 0) {
		snprintf(cl, sizeof(cl), "%zu", blen);
		f[nf][0] = "content-length";
		f[nf++][1] = cl;
		b.body = SL_H1_BODY_LENGTH;
		b.length = blen;
	}
	for (size_t i = 0; i < nf; i++)
		k += sl_hblk_put(buf + k, f[i][0], strlen(f[i][0]), f[i][1],
				 strlen(f[i][1]));
	b.nfields = (uint16_t)nf;
	b.len = (uint32_t)k;
	memcpy(buf, &b, sizeof(b));
	if (kind == PC_GRPC || kind == PC_GRPC_LATE)
		memcpy(buf + k, grpc_body, blen);
	else if (kind == PC_POST_BIG)
		memset(buf + k, 'b', blen);
	else if (blen > 0)
		memcpy(buf + k, "hello world", blen);
	pc.req = buf;
	pc.hlen = k;
	pc.rlen = k + blen;
	/* the first write goes up to here; the rest when pc.wlimit moves */
	pc.wlimit = kind == PC_POST_TWO	   ? k + 5
		    : kind == PC_GRPC_LATE ? k
					   : pc.rlen;
}

/* Writes what the request has left, as far as pc.wlimit and the stream
 * take it. */
static void
pc_write(void)
{
	while (pc.u != NULL && pc.connected && !pc.wdone &&
	       pc.woff < pc.wlimit) {
		struct iovec iov = {pc.req + pc.woff, pc.wlimit - pc.woff};
		ssize_t n = sl_upstream_writev(pc.u, &iov, 1, 0);

		if (n > 0) {
			CHECK((size_t)n <= iov.iov_len);
			pc.woff += (size_t)n;
			progress++;
			continue;
		}
		CHECK(n == -1);
		if (errno != EAGAIN)
			pc.wdone = 1; /* the stream failed, or ended */
		else
			sl_upstream_want_write(pc.u, 1);
		return;
	}
}

/* Reads what the stream gives (one read of PC_SLOW bytes when slow). No
 * byte after its end or a failure; a failure is a reset. */
static void
pc_read(void)
{
	while (pc.u != NULL && pc.connected && !pc.eof && !pc.rerr) {
		struct sl_upconn *u = pc.u;
		ssize_t n =
		    sl_upstream_read(u, 16384, pc.slow ? PC_SLOW : SIZE_MAX);
		if (n > 0) {
			size_t k = sl_buf_pending(&u->in);
			if (pc.glen + k > pc.gcap) {
				size_t c = pc.gcap ? pc.gcap : 16384;
				while (c < pc.glen + k)
					c *= 2;
				CHECK(c <= OUT_MAX);
				pc.got = realloc(pc.got, c);
				CHECK(pc.got != NULL);
				pc.gcap = c;
			}
			memcpy(pc.got + pc.glen, u->in.data + u->in.off, k);
			pc.glen += k;
			sl_upstream_consume(u, k);
			progress++;
			if (pc.slow)
				return;
			continue;
		}
		if (n == SL_AGAIN)
			return;
		if (n == 0) {
			pc.eof = 1;
		} else {
			CHECK(errno == ECONNRESET);
			pc.rerr = 1;
		}
		progress++;
	}
}

static void
pc_handler(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	(void)err;
	(void)arg;
	switch (ev) {
	case SL_UP_EV_CONNECTED:
		pc.connected = 1;
		sl_upstream_want_write(u, 0);
		pc_write();
		break;
	case SL_UP_EV_FAILED:
		pc.cfailed = 1;
		break;
	case SL_UP_EV_READABLE:
		pc_read();
		break;
	case SL_UP_EV_WRITABLE:
		sl_upstream_want_write(u, 0);
		pc_write();
		break;
	}
	progress++;
}

/* A turn of the loop, then the exchange's writes and reads. */
static void
pc_turn(void)
{
	turn(NULL, 0);
	pc_write();
	pc_read();
}

static void
pc_settle(void)
{
	int calm = 0;

	for (int i = 0; i < END_TURNS && calm < CALM_TURNS; i++) {
		uint64_t before = progress;
		pc_turn();
		calm = progress == before ? calm + 1 : 0;
	}
}

/* A field block's records walk to its length, nfields of them. */
static void
check_block_walk(const char *p, const struct sl_hblk *b)
{
	size_t off = sizeof(*b), n = 0;

	CHECK(b->len >= sizeof(*b));
	while (off < b->len) {
		uint16_t nl;
		uint32_t vl;
		CHECK(b->len - off >= SL_HBLK_REC);
		memcpy(&nl, p + off, 2);
		memcpy(&vl, p + off + 2, 4);
		CHECK(b->len - off - SL_HBLK_REC >= (size_t)nl + vl);
		off += SL_HBLK_REC_SIZE((size_t)nl, (size_t)vl);
		n++;
	}
	CHECK(n == b->nfields);
}

/*
 * What the reads gave: a whole head block first (its body NONE, LENGTH or
 * STREAM), then the body. checked: the payload of the server's frames on
 * stream 1 is known (pay, pw). A STREAM body is a prefix of that
 * payload, all of it at the end; a LENGTH body the same, within its
 * length, the whole length at the end; a NONE body nothing. The end (0)
 * only after the server's END_STREAM, on a head block read whole; a
 * reset stream fails its reads.
 */
static void
check_pieces(int kind, int checked)
{
	struct sl_hblk b;
	const char *t;
	size_t body;

	if (pc.glen > 0)
		CHECK(pc.got[0] == SL_HBLK_MARK);
	if (pc.glen < sizeof(b)) {
		CHECK(!pc.eof);
		return;
	}
	sl_hblk_head(pc.got, &b);
	CHECK(b.status >= 200 && b.status <= 999);
	CHECK(b.digits[0] == '0' + b.status / 100 &&
	      b.digits[1] == '0' + b.status / 10 % 10 &&
	      b.digits[2] == '0' + b.status % 10);
	CHECK(b.body == SL_H1_BODY_NONE || b.body == SL_H1_BODY_LENGTH ||
	      b.body == SL_H1_BODY_STREAM);
	CHECK(b.len >= sizeof(b));
	if (pc.glen < b.len) {
		CHECK(!pc.eof);
		return;
	}
	check_block_walk(pc.got, &b);
	if (kind == PC_HEAD || b.status == 204 || b.status == 304)
		CHECK(b.body == SL_H1_BODY_NONE);
	else
		CHECK(b.body != SL_H1_BODY_NONE);
	body = pc.glen - b.len;
	/* a HEAD's answer has nothing after its block; a 204's or 304's
	 * DATA comes after a block of no body (h2up.c drops DATA for HEAD
	 * alone; the exchange drops what follows a head of no body), so it
	 * is only held to the payload below */
	if (kind == PC_HEAD)
		CHECK(body == 0);
	if (b.body == SL_H1_BODY_LENGTH)
		CHECK(body <= b.length && (!pc.eof || body == b.length));
	if (pc.eof) {
		CHECK(sl_upstream_ended(pc.u));
		CHECK(!checked || pw.es);
	}
	if (checked && kind != PC_HEAD) {
		CHECK(
		    body <= pay.len &&
		    (body == 0 || memcmp(pc.got + b.len, pay.buf, body) == 0));
		if (pc.eof)
			CHECK(body == pay.len);
	}
	/* the trailers: none, or a block of status 0 that walks */
	if ((t = sl_upstream_trailers(pc.u)) != NULL) {
		struct sl_hblk tb;
		sl_hblk_head(t, &tb);
		CHECK(tb.mark == SL_HBLK_MARK && tb.status == 0);
		check_block_walk(t, &tb);
		CHECK(tb.nfields > 0);
	}
}

static void
play_pieces(const uint8_t *data, const uint8_t *bytes, size_t nbytes)
{
	struct sl_wendpoint *ep = TAILQ_FIRST(&w->eps);
	int kind = data[0] & F0_REQ, gone = 0, checked, s0 = -1;
	size_t piece, off = 0;

	pc.u = NULL;
	pc.connected = pc.cfailed = pc.wdone = 0;
	pc.woff = 0;
	pc.glen = 0;
	pc.eof = pc.rerr = 0;
	pc.slow = (data[0] & F0_SLOW) != 0;
	sent.len = 0;
	pc_request(kind);
	pc.u = sl_h2up_get(w, ep, pc_handler, NULL);
	if (pc.u == NULL)
		CHECK(errno == ENOMEM || errno == EBUSY || errno == EMFILE ||
		      errno == ECONNREFUSED);
	else
		CHECK(pc.u->xkind == SL_XPRT_STREAM);
	pc_turn();
	if (hold)
		accept_held();
	pc_turn();
	pc_turn();

	/* the server's bytes, in pieces, as the main mode writes them */
	piece = data[1] == 0 ? nbytes : data[1];
	if (piece == 0 || nbytes / piece >= MAX_PIECES)
		piece = nbytes / MAX_PIECES + 1;
	while (off < nbytes) {
		size_t n = SL_MIN(piece, nbytes - off);
		struct srv *s = srv_current();
		ssize_t k;

		if (s == NULL)
			break;
		if (hold)
			accept_held();
		k = sl_xprt_mem_write(s->e, bytes + off, n);
		/* the stream's connection: the first one not refused */
		if (s0 == -1)
			for (int i = 0; i < nsrvs && s0 == -1; i++)
				if (!srvs[i].refused)
					s0 = i;
		if (k > 0 && s == &srvs[s0])
			sent_add(bytes + off, (size_t)k);
		off += n;
		pc_turn();
		if (off >= nbytes / 2 && !gone) {
			gone = 1;
			pc.wlimit = pc.rlen; /* the rest of a late body */
			pc_write();
			if ((data[0] & F0_GONE) && pc.u != NULL) {
				/* the exchange leaves: its stream ends */
				sl_upstream_put(pc.u, 0);
				pc.u = NULL;
			}
			if (data[2] & F2_DRAIN)
				sl_upstream_close_idle(w);
		}
	}
	pc.wlimit = pc.rlen;
	if (hold)
		accept_held();
	pc_settle();
	if (data[0] & (F0_FIN | F0_RESET))
		for (int i = 0; i < nsrvs; i++) {
			if (srvs[i].e == NULL)
				continue;
			if (data[0] & F0_RESET)
				srv_close(&srvs[i], 1);
			else
				sl_xprt_mem_shutdown(srvs[i].e);
		}
	pc_settle();
	/* a slow reader reads the rest now */
	pc.slow = 0;
	pc_read();

	walk_pieces(sent.buf, sent.len);
	/* the payload is known when the stream was on the server end whose
	 * bytes were kept, and those were the input's (a server end that
	 * took less dropped the rest: the kept bytes are what sluice got) */
	checked = pc.u != NULL && pc.connected && s0 >= 0;
	if (trace)
		fprintf(stderr,
			"fuzz_h2up: pieces: read %zu, eof %d, reset %d, "
			"payload %zu, es %d, rst %d, trailers %s\n",
			pc.glen, pc.eof, pc.rerr, pay.len, pw.es, pw.rst,
			pc.u != NULL && sl_upstream_trailers(pc.u) != NULL
			    ? "yes"
			    : "no");
	if (pc.u != NULL && pc.connected) {
		check_pieces(kind, checked);
		if (checked && pw.rst)
			CHECK(pc.rerr); /* (not an end, nor a hang) */
		/* after the server's END_STREAM a stream ends or fails,
		 * never waits on */
		if (checked && pw.es)
			CHECK(pc.eof || pc.rerr);
		/* ... and one the server's end left before it fails */
		if (checked && !pw.es && (data[0] & (F0_FIN | F0_RESET)))
			CHECK(pc.rerr);
		/* another read tells the same: an end stays an end, a
		 * failure a failure */
		if (pc.eof || pc.rerr) {
			ssize_t n = sl_upstream_read(pc.u, 16384, SIZE_MAX);
			CHECK(pc.eof ? n == 0 : n == -1 && errno == ECONNRESET);
		}
		if (!pc.eof)
			CHECK(!sl_upstream_ended(pc.u));
	}
	if (pc.u != NULL) {
		sl_upstream_put(pc.u, 0);
		pc.u = NULL;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sl_xprt_mem *cli, *end;
	struct sl_client *c, *x;
	struct sl_wendpoint *ep;
	const uint8_t *bytes = data + 3;
	size_t nbytes, piece, off = 0, rlen;
	int k, gone = 0;

	if (size < 3 || size - 3 > MAX_SERVER)
		return 0;
	init();
	sl_now_refresh();
	k = data[0] & F0_REQ;
	raw = (data[0] & F0_RAW) != 0;
	slow_srv = (data[2] & F2_SLOW_SRV) != 0;
	hold = (data[2] & F2_HOLD) != 0;
	refuse = (data[2] & F2_REFUSE) != 0;
	nbytes = size - 3;
	nsrvs = 0;
	out.len = 0;

	if (data[2] & F2_PIECES) {
		/* no client: the driver is the exchange */
		cli = NULL;
		play_pieces(data, bytes, nbytes);
		goto the_end;
	}

	CHECK(sl_xprt_mem_pair(&cli, &end) == 0);
	if (data[0] & F0_SLOW)
		sl_xprt_mem_set_window(cli, CLI_WINDOW);
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = sl_client_new_mem(w, &conf->listeners[0], end,
			      (struct sockaddr *)&sin, sizeof(sin));
	CHECK(c != NULL);

	/* the request(s): the exchange opens its stream */
	rlen = k == 4 ? GRPC_LEN : strlen(reqs[k].bytes);
	if (k == 2 && (data[2] & F2_BIG)) {
		/* a body the server's window holds back */
		static char big[128 + BIG_BODY];
		int hl = snprintf(big, 128,
				  "POST /u/b HTTP/1.1\r\nHost: h\r\n"
				  "Content-Length: %d\r\n\r\n",
				  BIG_BODY);
		memset(big + hl, 'b', BIG_BODY);
		rlen = (size_t)hl + BIG_BODY;
		CHECK(sl_xprt_mem_write(cli, big, rlen) == (ssize_t)rlen);
	} else {
		CHECK(sl_xprt_mem_write(cli, reqs[k].bytes, rlen) ==
		      (ssize_t)rlen);
	}
	turn(cli, 0);
	if (hold)
		accept_held();
	turn(cli, 0);

	/* the server's bytes, in pieces */
	piece = data[1] == 0 ? nbytes : data[1];
	if (piece == 0 || nbytes / piece >= MAX_PIECES)
		piece = nbytes / MAX_PIECES + 1;
	while (off < nbytes) {
		size_t n = SL_MIN(piece, nbytes - off);
		struct srv *s = srv_current();

		if (s == NULL)
			break; /* sluice closed every connection */
		if (hold)
			accept_held();
		/* a small window takes what it can: the rest is dropped,
		 * as a server that cannot write would lose it */
		(void)sl_xprt_mem_write(s->e, bytes + off, n);
		off += n;
		turn(cli, 0);
		if (off >= nbytes / 2 && !gone) {
			gone = 1;
			if (data[0] & F0_GONE) {
				/* the client leaves: its exchange ends */
				sl_xprt_mem_close(cli);
				cli = NULL;
			}
			if (data[2] & F2_DRAIN)
				sl_upstream_close_idle(w);
		}
	}
	if (hold)
		accept_held();
	settle(cli);
	if (data[0] & (F0_FIN | F0_RESET))
		for (int i = 0; i < nsrvs; i++) {
			if (srvs[i].e == NULL)
				continue;
			if (data[0] & F0_RESET)
				srv_close(&srvs[i], 1);
			else
				sl_xprt_mem_shutdown(srvs[i].e);
		}
	settle(cli);
	if (reqs[k].retry && sl_client_first(w) != NULL) {
		/* a retry waits for its backoff: the loop waits for timers
		 * a while (the retried stream then gets no answer but the
		 * connection's end) */
		struct timeval tv = {0, TICK_US};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		event_add(tick, &tv);
		do {
			turn(cli, 1);
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((t1.tv_sec - t0.tv_sec) * 1000 +
			     (t1.tv_nsec - t0.tv_nsec) / 1000000 <
			 RETRY_MS);
		event_del(tick);
		settle(cli);
	}

	if (trace)
		fprintf(stderr, "fuzz_h2up: client read %zu: %.*s\n", out.len,
			(int)SL_MIN(out.len, (size_t)4096), out.buf);
	pay.on = reqs[k].n == 1 && !reqs[k].retry && nsrvs == 1;
	if (pay.on)
		walk_pieces(bytes, nbytes);
	check_out(reqs[k].m, reqs[k].n);

	/* the end: every connection aborted, every server end closed */
the_end:
	while ((x = sl_client_first(w)) != NULL)
		sl_client_abort(x);
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	if (cli != NULL)
		sl_xprt_mem_close(cli);
	for (int i = 0; i < nsrvs; i++)
		srv_close(&srvs[i], 0);
	sl_upstream_close_idle(w);
	for (int i = 0; i < 4; i++)
		event_base_loop(w->base, EVLOOP_NONBLOCK);

	/* nothing is left of the input */
	CHECK(sl_client_first(w) == NULL);
	CHECK(SL_STAT_GET(w->stats.active) == 0);
	TAILQ_FOREACH(ep, &w->eps, link)
	{
		CHECK(ep->active == 0 && ep->nidle == 0);
		CHECK(TAILQ_EMPTY(&ep->h2));
	}
	CHECK(w->bufs.allocated == bufs_at_rest);
	return 0;
}
