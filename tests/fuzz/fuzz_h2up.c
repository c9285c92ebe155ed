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
 *        POST whose body outgrows the windows
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

/*
 * Walks the server's frames as nghttp2 reads them, for stream 1's DATA
 * payload (padding dropped). The walk stops where nghttp2 would end the
 * connection on the framing alone (a frame over the 16384 bytes sluice
 * allows, bad padding); later errors only make the client's body shorter,
 * and the check is that it is a prefix.
 */
static void
walk_server(const uint8_t *p, size_t n)
{
	pay.len = 0;
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
			/* a cut last frame: nghttp2 hands on what came */
			ql = SL_MIN(ql, avail);
			if (ql == 0)
				goto next; /* (no buffer may exist yet) */
			if (pay.len + ql > pay.cap) {
				pay.cap = pay.len + ql + 4096;
				pay.buf = realloc(pay.buf, pay.cap);
				CHECK(pay.buf != NULL);
			}
			memcpy(pay.buf + pay.len, q, ql);
			pay.len += ql;
		}
	next:
		if (avail < len)
			return;
		p += 9 + len;
		n -= 9 + len;
	}
}

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
		walk_server(bytes, nbytes);
	check_out(reqs[k].m, reqs[k].n);

	/* the end: every connection aborted, every server end closed */
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
