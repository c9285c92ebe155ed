/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for HTTP/2 upstreams (h2up.c): what a server sends on
 * a shared HTTP/2 connection, into a real worker over the in-memory
 * transport (xprt.h), as fuzz_h2.c drives the client side. Made once, on
 * the first input: a configuration with one HTTP/1.1 listener whose
 * routes go to a cluster with "protocol: h2c" (its endpoint's
 * connections made on memory ends: upstream.h, ep->connector), the access
 * log to /dev/null, a worker with no sockets (freed at exit, so that
 * LeakSanitizer sees everything given back).
 *
 * An input is two bytes of settings, then the server's bytes:
 *   [0] & 0x07  the client's request(s), HTTP/1.1: a GET; a POST with a
 *               Content-Length body; a chunked POST; a HEAD; a gRPC POST
 *               (content-type application/grpc); two GETs pipelined; a
 *               GET on the route that does not retry; a POST of 70,000
 *               bytes (past the stream's first window)
 *   [0] & 0x08  the server's bytes start with an empty SETTINGS frame (a
 *               server's connection preface), so that the fuzzer reaches
 *               the frames after it
 *   [0] & 0x10  the server shuts its write side after its bytes
 *   [0] & 0x20  the server resets the connection after its bytes
 *   [0] & 0x40  the client reads slowly (a window of 300 bytes)
 *   [0] & 0x80  the client resets its connection halfway
 *   [1]         the server's bytes go in pieces of this many, a turn of
 *               the loop after each (0: all at once)
 * Every connection sluice makes to the endpoint (a retry may make more)
 * gets the same server bytes. The loop runs a bounded number of
 * non-blocking turns; then every client is aborted, the server ends
 * closed, the idle connections closed, and the loop reaps them.
 *
 * Checked (CHECK):
 * - what sluice writes to a server starts with the HTTP/2 client preface;
 * - what the client reads is HTTP/1.1: a response head, once whole, parses
 *   with sl_h1_parse_response (status line, field syntax, framing);
 * - after the end nothing is left: no client, no request active on the
 *   endpoint nor idle in its pool, no shared HTTP/2 connection, no I/O
 *   buffer held.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "wloop.h"
#include "worker.h"
#include "xprt.h"

#include "fuzz.h"

static const char yaml[] =
    "listeners:\n"
    "  - name: l\n"
    "    address: 127.0.0.1:8080\n"
    "    limits: { buffer_bytes: 16KiB, max_header_bytes: 4KiB,\n"
    "              max_uri_bytes: 2KiB }\n"
    "    routes:\n"
    "      - match: { path_prefix: /o }\n"
    "        cluster: up\n"
    "        retry: { attempts: 1 }\n"
    "      - cluster: up\n"
    "clusters:\n"
    "  - name: up\n"
    "    protocol: h2c\n"
    "    max_concurrent_streams: 4\n"
    "    ping_interval: 0s\n"
    "    endpoints: [127.0.0.1:9001]\n";

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#define MAX_SERVER  16384 /* bytes of a server's answer */
#define MAXUP	    4	  /* connections to the endpoint, one input */
#define MAX_PIECES  256
#define END_TURNS   48
#define CALM_TURNS  4
#define BIG_REQUEST 70000

#define F_REQ	0x07
#define F_PRE	0x08
#define F_FIN	0x10
#define F_RESET 0x20
#define F_SLOW	0x40
#define F_CUT	0x80

static struct sl_conf *conf;
static struct sl_worker *w;
static int trace; /* FUZZ_H2UP_TRACE: the log at debug, what came */
static uint64_t bufs_at_rest;

/* The server ends, in the order sluice connected them. */
static struct {
	struct sl_xprt_mem *e;
	size_t sent;	/* of the server's bytes */
	size_t got;	/* bytes sluice wrote, read so far */
	char first[24]; /* its first bytes */
	/* sluice's frames, walked as they come: the next one's header (9
	 * bytes) and how much of its payload is still to skip */
	unsigned char fh[9];
	size_t fhlen, skip;
	int asked; /* a HEADERS frame came: a request to answer */
	int waited; /* turns since the server's first frame went */
} ups[MAXUP];
static int nups;
static uint64_t progress;

/* This input's server bytes. */
static const uint8_t *sbytes;
static size_t slen, spiece;

static int
connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	(void)ep;
	if (nups == MAXUP) {
		errno = EMFILE;
		return -1;
	}
	memset(&ups[nups], 0, sizeof(ups[nups]));
	if (sl_xprt_mem_pair(end, &ups[nups].e) == -1)
		return -1;
	nups++;
	progress++;
	return 0;
}

/* Walks sluice's bytes to up i after the preface, frame by frame: a
 * HEADERS frame is a request the server may answer. */
static void
walk(int i, const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (ups[i].skip > 0) {
			size_t k = n < ups[i].skip ? n : ups[i].skip;
			ups[i].skip -= k;
			p += k;
			n -= k;
			continue;
		}
		ups[i].fh[ups[i].fhlen++] = *p++;
		n--;
		if (ups[i].fhlen < 9)
			continue;
		ups[i].fhlen = 0;
		ups[i].skip = (size_t)ups[i].fh[0] << 16 |
			      (size_t)ups[i].fh[1] << 8 | ups[i].fh[2];
		if (ups[i].fh[3] == 1)
			ups[i].asked = 1;
	}
}

/* Each server end: reads what sluice wrote, writes its next piece. A
 * server speaks first (its first frame: the SETTINGS of its preface, or
 * whatever the input starts with), then answers once a request came, as
 * servers do (or, with none after a few turns, anyway). */
static void
serve(void)
{
	unsigned char buf[16384];

	for (int i = 0; i < nups; i++) {
		ssize_t n;
		size_t first, lim;

		if (ups[i].e == NULL)
			continue;
		while ((n = sl_xprt_mem_read(ups[i].e, buf, sizeof(buf))) > 0) {
			size_t k = sizeof(ups[i].first) - ups[i].got, from = 0;
			if (ups[i].got < sizeof(ups[i].first)) {
				if ((size_t)n < k)
					k = (size_t)n;
				memcpy(ups[i].first + ups[i].got, buf, k);
			}
			if (ups[i].got < sizeof(preface) - 1)
				from = sizeof(preface) - 1 - ups[i].got;
			if ((size_t)n > from)
				walk(i, buf + from, (size_t)n - from);
			ups[i].got += (size_t)n;
			progress++;
		}
		if (ups[i].got >= sizeof(preface) - 1)
			CHECK(memcmp(ups[i].first, preface,
				     sizeof(preface) - 1) == 0);
		if (ups[i].got == 0 || ups[i].sent >= slen)
			continue;
		first = slen >= 9 ? 9 + ((size_t)sbytes[0] << 16 |
					 (size_t)sbytes[1] << 8 | sbytes[2])
				  : slen;
		if (first > slen)
			first = slen;
		lim = ups[i].asked || ups[i].waited > 8 ? slen : first;
		if (ups[i].sent >= first)
			ups[i].waited++;
		if (ups[i].sent < lim) {
			size_t k = lim - ups[i].sent;
			if (k > spiece)
				k = spiece;
			n = sl_xprt_mem_write(ups[i].e, sbytes + ups[i].sent, k);
			if (n > 0) {
				ups[i].sent += (size_t)n;
				progress++;
			}
		}
	}
}

/* What the client read so far: the first response head, once whole,
 * must parse. */
static char out[65536];
static size_t outlen;

static void
check_out(int head_req)
{
	/* as many as a 16 KiB buffer holds: the check is the syntax, not
	 * a count */
	static struct sl_h1_header hdrs[4096];
	struct sl_h1_response resp;
	char *e;

	if (outlen < 4 || (e = memmem(out, outlen, "\r\n\r\n", 4)) == NULL)
		return;
	CHECK(outlen >= 12 && memcmp(out, "HTTP/1.1 ", 9) == 0);
	memset(&resp, 0, sizeof(resp));
	resp.headers = hdrs;
	resp.max_headers = sizeof(hdrs) / sizeof(hdrs[0]);
	CHECK(sl_h1_parse_response(out, (size_t)(e - out) + 4, &resp,
				   head_req ? SL_M_HEAD : SL_M_GET) == 0);
}

static void
turn(struct sl_xprt_mem *cli)
{
	ssize_t n;

	serve();
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	serve();
	while (cli != NULL && outlen < sizeof(out) &&
	       (n = sl_xprt_mem_read(cli, out + outlen,
				     sizeof(out) - outlen)) > 0) {
		outlen += (size_t)n;
		progress++;
	}
}

static void
teardown(void)
{
	if (w == NULL)
		return;
	sl_worker_join_free(w);
	w = NULL;
}

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
	sl_conf_unref(conf); /* the worker's generation holds it */
	TAILQ_FOREACH(ep, &w->eps, link)
	ep->connector = connector;
	bufs_at_rest = w->bufs.allocated;
	atexit(teardown);
}

/* The client's request(s) of kind k into buf; returns the length. */
static size_t
request(int k, char *buf, size_t cap)
{
	static const char *const heads[] = {
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
	    "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	    "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n",
	    "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n",
	    "POST /svc/M HTTP/1.1\r\nHost: h\r\nContent-Type: "
	    "application/grpc\r\nContent-Length: 7\r\n\r\n\0\0\0\0\2hi",
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: "
	    "h\r\n\r\n",
	    "GET /o HTTP/1.1\r\nHost: h\r\n\r\n",
	    NULL,
	};
	size_t n;

	if (k == 7) {
		n = (size_t)snprintf(buf, cap,
				     "POST /a HTTP/1.1\r\nHost: h\r\n"
				     "Content-Length: %d\r\n\r\n",
				     BIG_REQUEST);
		memset(buf + n, 'x', BIG_REQUEST);
		return n + BIG_REQUEST;
	}
	/* the gRPC one holds NUL bytes: its length is known */
	n = k == 4 ? strlen(heads[4]) + 7 : strlen(heads[k]);
	memcpy(buf, heads[k], n);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t sbuf[9 + MAX_SERVER];
	static char req[BIG_REQUEST + 256];
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sl_xprt_mem *cli, *srv;
	struct sl_client *c, *x;
	size_t reqlen, off = 0, piece;
	uint8_t flags;
	int calm = 0;

	if (size < 2 || size - 2 > MAX_SERVER)
		return 0;
	init();
	sl_now_refresh();
	flags = data[0];
	nups = 0;
	outlen = 0;
	slen = 0;
	if (flags & F_PRE) {
		static const uint8_t settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
		memcpy(sbuf, settings, 9);
		slen = 9;
	}
	memcpy(sbuf + slen, data + 2, size - 2);
	slen += size - 2;
	sbytes = sbuf;
	spiece = data[1] == 0 ? (slen > 0 ? slen : 1) : data[1];
	if (slen / spiece >= MAX_PIECES)
		spiece = slen / MAX_PIECES + 1;

	CHECK(sl_xprt_mem_pair(&cli, &srv) == 0);
	if (flags & F_SLOW)
		sl_xprt_mem_set_window(cli, 300);
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = sl_client_new_mem(w, &conf->listeners[0], srv,
			      (struct sockaddr *)&sin, sizeof(sin));
	CHECK(c != NULL);

	reqlen = request(flags & F_REQ, req, sizeof(req));
	piece = 4096;
	while (off < reqlen) {
		size_t n = reqlen - off < piece ? reqlen - off : piece;
		ssize_t k = sl_xprt_mem_write(cli, req + off, n);
		if (k <= 0) {
			turn(cli);
			if (++calm > END_TURNS)
				break; /* sluice stopped reading */
			continue;
		}
		off += (size_t)k;
		turn(cli);
	}
	calm = 0;
	for (int i = 0; i < MAX_PIECES + END_TURNS && calm < CALM_TURNS;
	     i++) {
		uint64_t before = progress;
		turn(cli);
		if ((flags & F_CUT) && i == 2 && cli != NULL) {
			/* the client gives up */
			sl_xprt_mem_reset(cli);
			cli = NULL;
		}
		if (i > 0 && (flags & (F_FIN | F_RESET))) {
			for (int u = 0; u < nups; u++)
				if (ups[u].e != NULL && ups[u].sent == slen) {
					if (flags & F_RESET)
						sl_xprt_mem_reset(ups[u].e);
					else
						sl_xprt_mem_close(ups[u].e);
					ups[u].e = NULL;
				}
		}
		calm = progress == before ? calm + 1 : 0;
	}
	if (trace)
		fprintf(stderr, "fuzz_h2up: client read %zu bytes: %.*s\n",
			outlen, (int)(outlen < 400 ? outlen : 400), out);
	check_out((flags & F_REQ) == 3);

	/* the end: every client aborted, every server end closed */
	while ((x = sl_client_first(w)) != NULL)
		sl_client_abort(x);
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	if (cli != NULL)
		sl_xprt_mem_close(cli);
	for (int u = 0; u < nups; u++)
		if (ups[u].e != NULL) {
			sl_xprt_mem_close(ups[u].e);
			ups[u].e = NULL;
		}
	for (int i = 0; i < 4; i++)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	sl_upstream_close_idle(w);
	for (int i = 0; i < 4; i++)
		event_base_loop(w->base, EVLOOP_NONBLOCK);

	/* nothing is left of the input */
	CHECK(sl_client_first(w) == NULL);
	CHECK(SL_STAT_GET(w->stats.active) == 0);
	CHECK(w->nwaiting == 0);
	{
		struct sl_wendpoint *ep;
		TAILQ_FOREACH(ep, &w->eps, link)
		CHECK(ep->active == 0 && ep->nidle == 0 &&
		      TAILQ_EMPTY(&ep->h2));
	}
	CHECK(w->bufs.allocated == bufs_at_rest);
	return 0;
}
