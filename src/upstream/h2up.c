/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (doc/http2.md section 10). A cluster with
 * "protocol: h2c" keeps, per endpoint per worker, a list of shared HTTP/2
 * connections, each an ordinary upstream connection this file owns with
 * an nghttp2 client session used as a state machine over its bytes. An
 * exchange's upstream connection is one stream: a memory end (xprt.h) on
 * which the exchange writes its HTTP/1.1 request and reads an HTTP/1.1
 * response exactly as on a socket, so that its parsing, retries, limits,
 * pacing and logs do not change. Here is the other end of each pair: the
 * request's head becomes HEADERS (HTTP/1.1's connection fields left out,
 * Host as :authority), its body (Content-Length or chunked) DATA under
 * the stream's window; the response's HEADERS become a status line and
 * fields, its DATA a body (chunked unless the server gave a length), its
 * trailers the chunked body's trailer section. Nothing here runs inside
 * the exchange: the memory ends wake it through events, after nghttp2's
 * callbacks returned.
 *
 * Flow control: a stream's receive window is UP_STREAM_WINDOW, given back
 * (nghttp2_session_consume) once the exchange's end has taken the bytes,
 * and that end holds at most UP_END_WINDOW, so a client that reads slowly
 * holds the upstream's stream back as read interest does on HTTP/1.1.
 * The request's body is read from the exchange's end only while less
 * than UP_BODY_MAX of it waits for the server's window.
 */
#include "h2up.h"

#include <errno.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf_types.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "h2ng.h"
#include "hblock.h"
#include "log.h"
#include "upstream.h"
#include "worker.h"
#include "xprt.h"

#define UP_STREAM_WINDOW (256 * 1024)
#define UP_CONN_WINDOW	 (16 * 1024 * 1024)
#define UP_END_WINDOW	 (256 * 1024)
#define UP_BODY_MAX	 (64 * 1024)
#define UP_HEAD_MAX	 (64 * 1024) /* a request head from the exchange */
#define UP_RESP_HEAD_MAX (64 * 1024) /* a response's fields (SETTINGS) */
#define UP_READ		 16384

/* A growable byte queue: [off, len) of p. */
struct dbuf {
	char *p;
	size_t off, len, cap;
};

static size_t
dbuf_n(const struct dbuf *b)
{
	return b->len - b->off;
}

static int
dbuf_put(struct dbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 512;
		char *q;
		while (cap < b->len + n)
			cap *= 2;
		if ((q = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int
dbuf_str(struct dbuf *b, const char *s)
{
	return dbuf_put(b, s, strlen(s));
}

/* Appends what src holds to dst. */
static int
dbuf_cat(struct dbuf *dst, const struct dbuf *src)
{
	return dbuf_n(src) == 0 ? 0
				: dbuf_put(dst, src->p + src->off, dbuf_n(src));
}

static void
dbuf_free(struct dbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Stream flags. */
#define S_HELD	     0x0001 /* its connect waits for the SETTINGS */
#define S_HEAD_IN    0x0002 /* the request's head is submitted */
#define S_REQ_CHUNK  0x0004 /* the request's body is chunked */
#define S_REQ_END    0x0008 /* the request's body is all in body */
#define S_DEFERRED   0x0010 /* the data provider waits for bytes */
#define S_RESP_HEAD  0x0020 /* the final response head is in resp */
#define S_RESP_CHUNK 0x0040 /* its body goes chunked */
#define S_RESP_END   0x0080 /* the response is all in resp */
#define S_NG_CLOSED                                                            \
	0x0100		    /* nghttp2 closed the stream (or it never had      \
			       one) */
#define S_END_CLOSED 0x0200 /* our end is closed */
#define S_NOBODY     0x0400 /* HEAD: no response body */
#define S_GRPC	     0x0800 /* content-type application/grpc* */
#define S_TRAILERS   0x1000 /* the response's trailers are coming */

struct sl_h2up_conn;

struct h2up_stream {
	TAILQ_ENTRY(h2up_stream) link; /* in c->streams */
	struct sl_h2up_conn *c;
	struct sl_xprt_mem *end;   /* ours */
	struct sl_xprt_mem *their; /* the exchange's, while ours is open */
	struct event rev, wev;	   /* on ours, fd -1 */
	int32_t id;		   /* 0: not submitted */
	unsigned f;		   /* S_* */
	int status;
	uint64_t req_left; /* Content-Length's bytes still to come */
	struct sl_h1_chunked ck;
	struct dbuf req;   /* bytes from the exchange not parsed yet */
	struct dbuf body;  /* the request's payload for DATA */
	struct dbuf resp;  /* HTTP/1.1 bytes for the exchange */
	struct dbuf hdr;   /* the response's fields, or its trailers */
	size_t unconsumed; /* DATA payload in resp, window not given back */
	int has_cl;	   /* the response has a Content-Length */
	uint64_t resp_cl;  /* its value (nghttp2 checked its digits) */
	uint16_t nrec;	   /* records of the response's head in hdr */
};

struct sl_h2up_conn {
	TAILQ_ENTRY(sl_h2up_conn) link; /* in ep->h2 */
	struct sl_wendpoint *ep;	/* borrowed: u holds a reference */
	struct sl_upconn *u;		/* the connection underneath */
	nghttp2_session *ng;
	TAILQ_HEAD(, h2up_stream) streams;
	uint32_t nstreams; /* streams attached */
	uint64_t nsent;	   /* streams submitted, all told */
	uint32_t max_streams;
	int connected;	  /* u connected: the preface may go */
	int ready;	  /* the server's SETTINGS came */
	int dead;	  /* takes no new stream (GOAWAY, drain, retired) */
	int busy;	  /* in conn_pump or a read: no free */
	int gone;	  /* to be freed when busy drops */
	int err;	  /* why it failed before its SETTINGS: what the streams
			     waiting for it fail with (SL_UP_ERR_TLS: the TLS
			     handshake) */
	struct dbuf wbuf; /* nghttp2's output not written yet */
	struct event run; /* deferred: write what nghttp2 has */
	struct event idle; /* no stream for the pool's idle_timeout */
	struct event ping; /* liveness: the cluster's ping_interval */
	uint64_t heard_ms; /* when the server last sent anything */
	int ping_out;	   /* a PING waits for its answer */
};

static void stream_free(struct h2up_stream *st);
static void conn_schedule(struct sl_h2up_conn *c);
static void conn_close(struct sl_h2up_conn *c, int err, const char *why);
static void stream_flush(struct h2up_stream *st);
static void ping_arm(struct sl_h2up_conn *c, uint64_t ms);
static void h2up_on_close_idle(struct sl_wendpoint *ep);

static void
log_conn(const struct sl_h2up_conn *c, const char *what, const char *detail)
{
	log_info("upstream conn=%llu %s: http2: %s%s%s",
		 (unsigned long long)c->u->id, c->ep->conf->addr.text, what,
		 detail ? ": " : "", detail ? detail : "");
}

/* ---- streams: our end of the exchange's memory pair --------------------- */

/* Closes our end (after reading what the exchange wrote and nobody will
 * send, so that its close is not a reset); reset: a reset instead, which
 * the exchange reads after the bytes it holds. */
static void
end_close(struct h2up_stream *st, int reset)
{
	char tmp[512];

	if (st->f & S_END_CLOSED)
		return;
	st->f |= S_END_CLOSED;
	sl_xprt_mem_ops.watch(-1, st->end, &st->rev, 0);
	sl_xprt_mem_ops.watch(-1, st->end, &st->wev, 0);
	if (reset) {
		sl_xprt_mem_reset(st->end);
	} else {
		while (sl_xprt_mem_read(st->end, tmp, sizeof(tmp)) > 0)
			;
		sl_xprt_mem_close(st->end);
	}
	st->end = NULL;
	st->their = NULL;
}

/* The stream failed before its response was whole: the exchange sees a
 * reset; unprocessed: the server never processed the request (class 1,
 * RFC 9113 section 8.7). */
static void
stream_fail(struct h2up_stream *st, int unprocessed)
{
	if (st->f & S_END_CLOSED)
		return;
	if (st->f & S_HELD) {
		/* its connect never completed */
		st->f &= ~S_HELD;
		sl_xprt_mem_set_unprocessed(st->end);
		sl_xprt_mem_ops.watch(-1, st->end, &st->rev, 0);
		sl_xprt_mem_ops.watch(-1, st->end, &st->wev, 0);
		sl_xprt_mem_refuse(st->end, st->c != NULL && st->c->err != 0
						? st->c->err
						: ECONNREFUSED);
		st->f |= S_END_CLOSED;
		st->end = NULL;
		st->their = NULL;
		return;
	}
	if (unprocessed)
		sl_xprt_mem_set_unprocessed(st->end);
	end_close(st, 1);
}

/* Frees st once both nghttp2 and the exchange are done with it. */
static void
stream_maybe_free(struct h2up_stream *st)
{
	if ((st->f & (S_NG_CLOSED | S_END_CLOSED)) ==
	    (S_NG_CLOSED | S_END_CLOSED))
		stream_free(st);
}

static void
stream_free(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;

	if (!(st->f & S_END_CLOSED))
		end_close(st, 1);
	if (c != NULL) {
		if (st->id > 0 && c->ng != NULL)
			nghttp2_session_set_stream_user_data(c->ng, st->id,
							     NULL);
		TAILQ_REMOVE(&c->streams, st, link);
		c->nstreams--;
		/* room for a request waiting at max_connections */
		sl_worker_capacity(c->ep->w);
		if (c->nstreams == 0 && !c->gone) {
			if (c->dead) {
				conn_close(c, 0, NULL);
			} else {
				const struct sl_conf_cluster *cc =
				    c->ep->cluster;
				struct timeval tv = {
				    (time_t)(cc->pool_idle_timeout_ms / 1000),
				    (suseconds_t)(cc->pool_idle_timeout_ms %
						  1000) *
					1000};
				event_add(&c->idle, &tv);
			}
		}
	}
	dbuf_free(&st->req);
	dbuf_free(&st->body);
	dbuf_free(&st->resp);
	dbuf_free(&st->hdr);
	free(st);
}

/* Gives nghttp2 back the window of the DATA bytes the exchange's end
 * took. */
static void
stream_consume(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;

	if (st->unconsumed == 0 || c == NULL || c->ng == NULL)
		return;
	if (st->id > 0 && !(st->f & S_NG_CLOSED))
		(void)nghttp2_session_consume(c->ng, st->id, st->unconsumed);
	else
		(void)nghttp2_session_consume_connection(c->ng, st->unconsumed);
	st->unconsumed = 0;
	conn_schedule(c);
}

/* Moves resp into our end, as much as the exchange's end takes. */
static void
stream_flush(struct h2up_stream *st)
{
	ssize_t n;

	if (st->f & S_END_CLOSED)
		return;
	while (dbuf_n(&st->resp) > 0) {
		n = sl_xprt_mem_write(st->end, st->resp.p + st->resp.off,
				      dbuf_n(&st->resp));
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN) {
				/* the exchange closed its end: its read
				 * event says so */
				st->resp.off = st->resp.len = 0;
				break;
			}
			sl_xprt_mem_ops.watch(-1, st->end, &st->wev, 1);
			return;
		}
		st->resp.off += (size_t)n;
	}
	st->resp.off = st->resp.len = 0;
	sl_xprt_mem_ops.watch(-1, st->end, &st->wev, 0);
	stream_consume(st);
}

static void
stream_on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stream_flush(arg);
}

/* Whether a request field stays out of HEADERS: HTTP/1.1's connection
 * fields (RFC 9113 section 8.2.2), Host (as :authority) and TE (added
 * back as "trailers" for gRPC). */
static int
req_field_dropped(const char *n, size_t len)
{
	switch (len) {
	case 2:
		return sl_h1_ieq(n, len, "te");
	case 4:
		return sl_h1_ieq(n, len, "host");
	case 7:
		return sl_h1_ieq(n, len, "upgrade");
	case 10:
		return sl_h1_ieq(n, len, "connection") ||
		       sl_h1_ieq(n, len, "keep-alive");
	case 13:
		return sl_h1_ieq(n, len, "http2-settings");
	case 16:
		return sl_h1_ieq(n, len, "proxy-connection");
	case 17:
		return sl_h1_ieq(n, len, "transfer-encoding");
	default:
		return 0;
	}
}

static ssize_t data_read(nghttp2_session *ng, int32_t id, uint8_t *buf,
			 size_t length, uint32_t *flags,
			 nghttp2_data_source *src, void *ud);

static void
nv_put(nghttp2_nv *nv, const char *n, size_t nl, const char *v, size_t vl)
{
	nv->name = (uint8_t *)(uintptr_t)n;
	nv->namelen = nl;
	nv->value = (uint8_t *)(uintptr_t)v;
	nv->valuelen = vl;
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

/*
 * Submits the request head as HEADERS: nv[0..k) with nv[3] its
 * :authority (dropped when empty), te: trailers added for gRPC, and DATA to
 * follow unless body is 0. Frees nv when it is not stack_nv. Returns 0, or
 * -1: the stream failed.
 */
static int
stream_submit_nv(struct h2up_stream *st, nghttp2_nv *nv, size_t k,
		 const nghttp2_nv *stack_nv, int body)
{
	struct sl_h2up_conn *c = st->c;
	nghttp2_data_provider dp;
	int32_t id;

	if (c->ep->cluster->protocol == SL_UP_PROTO_H2)
		nv_put(&nv[1], ":scheme", 7, "https", 5);
	else
		nv_put(&nv[1], ":scheme", 7, "http", 4);
	if (nv[3].valuelen == 0) {
		/* no Host: no :authority (RFC 9113 section 8.3.1) */
		memmove(&nv[3], &nv[4], (k - 4) * sizeof(*nv));
		k--;
	}
	if (st->f & S_GRPC)
		nv_put(&nv[k++], "te", 2, "trailers", 8);
	if (st->f & S_REQ_CHUNK)
		sl_h1_chunked_init(&st->ck, UP_HEAD_MAX);
	if (!body)
		st->f |= S_REQ_END;
	dp.source.ptr = st;
	dp.read_callback = data_read;
	id = nghttp2_submit_request(c->ng, NULL, nv, k, body ? &dp : NULL, st);
	if (nv != stack_nv)
		free(nv);
	if (id < 0) {
		/* stream ids ran out: the next request needs a new
		 * connection (the failure is class 1) */
		log_conn(c, "request not submitted", nghttp2_strerror(id));
		c->dead = 1;
		return -1;
	}
	/* pool.max_requests: a connection's lifetime in requests, as for
	 * HTTP/1.1 (it closes after its last stream) */
	if (++c->nsent >= c->ep->cluster->pool_max_requests &&
	    c->ep->cluster->pool_max_requests > 0)
		c->dead = 1;
	st->id = id;
	st->f |= S_HEAD_IN;
	st->f &= ~S_NG_CLOSED;
	return 0;
}

/* What a request field says of the stream: gRPC's content-type. */
static void
stream_field(struct h2up_stream *st, const char *n, size_t nl, const char *v,
	     size_t vl)
{
	if (nl == 12 && sl_h1_ieq(n, nl, "content-type") && vl >= 16 &&
	    sl_h1_ieq(v, 16, "application/grpc"))
		st->f |= S_GRPC;
}

/*
 * The exchange's request head as a head block (hblock.h, b its header):
 * its records are the pairs, :method and :path first and :authority where
 * Host stood, the body's framing from the header; no text is parsed.
 * Returns 0, or -1: the stream failed.
 */
static int
stream_submit_block(struct h2up_stream *st, const char *p,
		    const struct sl_hblk *b)
{
	nghttp2_nv stack_nv[48], *nv = stack_nv;
	size_t max = (size_t)b->nfields + 5, k = 4, nl, vl;
	struct sl_hblk_it it;
	const char *n, *v;
	int body = 0;

	if (max > sizeof(stack_nv) / sizeof(stack_nv[0]) &&
	    (nv = calloc(max, sizeof(*nv))) == NULL)
		return -1;
	nv_put(&nv[0], ":method", 7, "", 0);
	nv_put(&nv[2], ":path", 5, "", 0);
	nv_put(&nv[3], ":authority", 10, "", 0);
	sl_hblk_first(&it, p);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		if (nl > 0 && n[0] == ':') {
			int at = nl == 7 ? 0 : nl == 5 ? 2 : 3;
			nv_put(&nv[at], n, nl, v, vl);
			continue;
		}
		if (k + 1 >= max || req_field_dropped(n, nl))
			continue;
		stream_field(st, n, nl, v, vl);
		nv_put(&nv[k++], n, nl, v, vl);
	}
	if (nv[0].valuelen == 0 ||
	    sl_h1_ieq((const char *)nv[0].value, nv[0].valuelen, "connect")) {
		if (nv != stack_nv)
			free(nv);
		return -1; /* no tunnel over an HTTP/2 upstream (yet) */
	}
	if (sl_h1_ieq((const char *)nv[0].value, nv[0].valuelen, "head"))
		st->f |= S_NOBODY;
	if (b->body == SL_H1_BODY_CHUNKED) {
		st->f |= S_REQ_CHUNK;
		body = 1;
	} else if (b->body == SL_H1_BODY_LENGTH) {
		st->req_left = b->length;
		body = b->length > 0;
	}
	return stream_submit_nv(st, nv, k, stack_nv, body);
}

/*
 * The exchange's request head as HTTP/1.1 text, hl bytes at p (sluice wrote
 * it: a request line, "Name: value" lines, an empty line), as a route with
 * a split or a mirror sends it, submitted as HEADERS. Returns 0, or -1: the
 * stream failed.
 */
static int
stream_submit(struct h2up_stream *st, char *p, size_t hl)
{
	char *end = p + hl - 2, *line, *eol, *sp1, *sp2;
	size_t max = 6, k = 4;
	nghttp2_nv stack_nv[48], *nv = stack_nv; /* a head's fields, most
						    often on the stack */
	int body = 0;

	for (size_t i = 0; i < hl; i++)
		max += p[i] == '\n';
	if ((eol = memchr(p, '\r', hl)) == NULL ||
	    (sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return -1;
	if (sl_h1_ieq(p, (size_t)(sp1 - p), "connect"))
		return -1; /* no tunnel over an HTTP/2 upstream (yet) */
	if (max > sizeof(stack_nv) / sizeof(stack_nv[0]) &&
	    (nv = calloc(max, sizeof(*nv))) == NULL)
		return -1;
	if (sl_h1_ieq(p, (size_t)(sp1 - p), "head"))
		st->f |= S_NOBODY;
	nv_put(&nv[0], ":method", 7, p, (size_t)(sp1 - p));
	nv_put(&nv[2], ":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	nv_put(&nv[3], ":authority", 10, "", 0);
	for (line = eol + 2; line < end; line = eol + 2) {
		char *colon, *v, *ve;
		size_t nl;

		if ((eol = memchr(line, '\r', (size_t)(end - line + 1))) ==
			NULL ||
		    (colon = memchr(line, ':', (size_t)(eol - line))) == NULL) {
			if (nv != stack_nv)
				free(nv);
			return -1;
		}
		nl = (size_t)(colon - line);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		     ve--)
			;
		if (nl == 4 && sl_h1_ieq(line, nl, "host")) {
			nv_put(&nv[3], ":authority", 10, v, (size_t)(ve - v));
			continue;
		}
		if (nl == 17 && sl_h1_ieq(line, nl, "transfer-encoding")) {
			st->f |= S_REQ_CHUNK;
			body = 1;
		}
		if (req_field_dropped(line, nl))
			continue;
		if (nl == 14 && sl_h1_ieq(line, nl, "content-length")) {
			uint64_t n = 0;
			for (const char *d = v; d < ve; d++)
				n = n * 10 + (uint64_t)(*d - '0');
			st->req_left = n;
			body = n > 0;
		}
		stream_field(st, line, nl, v, (size_t)(ve - v));
		nv_put(&nv[k++], line, nl, v, (size_t)(ve - v));
	}
	return stream_submit_nv(st, nv, k, stack_nv, body);
}

/* Parses what the exchange wrote: the head, then the body into body. */
static int
stream_parse(struct h2up_stream *st)
{
	struct dbuf *r = &st->req;

	if (!(st->f & S_HEAD_IN) && dbuf_n(r) > 0 &&
	    r->p[r->off] == SL_HBLK_MARK) {
		/* a head block (hblock.h): whole once its length is in */
		struct sl_hblk b;

		if (dbuf_n(r) < sizeof(b))
			return 0;
		sl_hblk_head(r->p + r->off, &b);
		if (b.len < sizeof(b) || b.len > UP_HEAD_MAX)
			return -1;
		if (dbuf_n(r) < b.len)
			return 0;
		if (stream_submit_block(st, r->p + r->off, &b) == -1)
			return -1;
		r->off += b.len;
	} else if (!(st->f & S_HEAD_IN)) {
		char *p = r->p + r->off, *e;
		size_t n = dbuf_n(r), hl;

		for (e = p; (e = memchr(e, '\r', n - (size_t)(e - p))) != NULL;
		     e++)
			if ((size_t)(p + n - e) >= 4 &&
			    memcmp(e, "\r\n\r\n", 4) == 0)
				break;
		if (e == NULL)
			return n > UP_HEAD_MAX ? -1 : 0;
		hl = (size_t)(e - p) + 4;
		if (stream_submit(st, p, hl) == -1)
			return -1;
		r->off += hl;
	}
	while (dbuf_n(r) > 0 && !(st->f & S_REQ_END)) {
		char *p = r->p + r->off;
		size_t n = dbuf_n(r), used, data;

		if (st->f & S_REQ_CHUNK) {
			int rv = sl_h1_chunked_decode(&st->ck, p, n, 1, &used,
						      &data);
			if (rv < 0)
				return -1;
			if (data > 0 && dbuf_put(&st->body, p, data) == -1)
				return -1;
			r->off += used;
			if (rv == 1)
				st->f |= S_REQ_END;
			else if (used == 0)
				break;
		} else {
			data = (size_t)(n < st->req_left ? n : st->req_left);
			if (dbuf_put(&st->body, p, data) == -1)
				return -1;
			r->off += data;
			st->req_left -= data;
			if (st->req_left == 0)
				st->f |= S_REQ_END;
		}
	}
	if (st->f & S_REQ_END)
		r->off = r->len; /* nothing follows a request on a stream */
	if ((st->f & S_DEFERRED) &&
	    (dbuf_n(&st->body) > 0 || (st->f & S_REQ_END))) {
		st->f &= ~S_DEFERRED;
		(void)nghttp2_session_resume_data(st->c->ng, st->id);
	}
	return 0;
}

/* The exchange wrote, or closed its end. */
static void
stream_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct h2up_stream *st = arg;
	struct sl_h2up_conn *c = st->c;
	char buf[UP_READ];
	ssize_t n;

	(void)fd;
	(void)what;
	for (;;) {
		if ((st->f & S_HEAD_IN) && dbuf_n(&st->body) >= UP_BODY_MAX &&
		    !sl_xprt_mem_peer_closed(st->end))
			break; /* the server's window first */
		if ((st->f & S_HEAD_IN) && dbuf_n(&st->body) >= UP_BODY_MAX)
			n = 0; /* the exchange gave up */
		else
			n = sl_xprt_mem_read(st->end, buf, sizeof(buf));
		if (n > 0) {
			if ((st->f & (S_REQ_END | S_NG_CLOSED)) &&
			    (st->f & S_HEAD_IN))
				continue; /* nothing more goes */
			if (dbuf_put(&st->req, buf, (size_t)n) == -1 ||
			    stream_parse(st) == -1) {
				if (st->id > 0 && !(st->f & S_NG_CLOSED))
					nghttp2_submit_rst_stream(
					    c->ng, NGHTTP2_FLAG_NONE, st->id,
					    NGHTTP2_INTERNAL_ERROR);
				else
					st->f |= S_NG_CLOSED;
				stream_fail(st, st->id == 0);
				conn_schedule(c);
				stream_maybe_free(st);
				return;
			}
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			break;
		/* the exchange is done with the stream (it closed its end):
		 * a stream still open is cancelled */
		if (st->id > 0 && !(st->f & S_NG_CLOSED))
			nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE,
						  st->id, NGHTTP2_CANCEL);
		else
			st->f |= S_NG_CLOSED;
		end_close(st, 0);
		conn_schedule(c);
		stream_maybe_free(st);
		return;
	}
	conn_schedule(c);
}

/* nghttp2 asks for the request's payload. */
static ssize_t
data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
	  uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct h2up_stream *st = src->ptr;
	size_t n = dbuf_n(&st->body);

	(void)ng;
	(void)id;
	(void)ud;
	if (n > length)
		n = length;
	if (n > 0) {
		memcpy(buf, st->body.p + st->body.off, n);
		st->body.off += n;
	}
	if (dbuf_n(&st->body) == 0 && (st->f & S_REQ_END)) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		dbuf_free(&st->body);
	} else if (n == 0) {
		st->f |= S_DEFERRED;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (!(st->f & S_END_CLOSED) && dbuf_n(&st->body) < UP_BODY_MAX)
		/* read more of the request (level-triggered: the end
		 * says nothing until the exchange writes again) */
		event_active(&st->rev, EV_READ, 1);
	return (ssize_t)n;
}

/* ---- the response: nghttp2's callbacks ---------------------------------- */

static struct h2up_stream *
stream_of(nghttp2_session *ng, int32_t id)
{
	return nghttp2_session_get_stream_user_data(ng, id);
}

static int
on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
	  size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
	  void *ud)
{
	struct h2up_stream *st;

	(void)flags;
	(void)ud;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    (st = stream_of(ng, frame->hd.stream_id)) == NULL)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		int s = 0;
		for (size_t i = 0; i < valuelen; i++)
			s = s * 10 + (value[i] - '0');
		st->status = s;
		return 0;
	}
	if (namelen == 14 && memcmp(name, "content-length", 14) == 0 &&
	    !(st->f & S_RESP_HEAD)) {
		st->has_cl = 1;
		st->resp_cl = 0;
		for (size_t i = 0; i < valuelen; i++)
			st->resp_cl = st->resp_cl * 10 + (value[i] - '0');
	}
	if (namelen == 11 && (st->f & S_GRPC) && !(st->f & S_END_CLOSED) &&
	    memcmp(name, "grpc-status", 11) == 0) {
		/* for the exchange's metrics and log line: before the
		 * bytes that end the answer reach it */
		unsigned g = 0;
		for (size_t i = 0; i < valuelen && i < 4; i++)
			g = g * 10 +
			    (unsigned)(value[i] >= '0' && value[i] <= '9'
					   ? value[i] - '0'
					   : 99);
		sl_xprt_mem_set_note(st->end, (g > 16 ? 17 : g) + 1);
	}
	/* nghttp2 checked both (RFC 9113 section 8.2.1): a lower-case
	 * token, a value without CR, LF or NUL. A head's field is a record
	 * of its block (resp_headers), a trailer a line of the chunked
	 * body's trailer section (resp_end) */
	if (!(st->f & S_RESP_HEAD)) {
		char rec[SL_HBLK_REC];
		uint16_t nl = (uint16_t)namelen;
		uint32_t vl = (uint32_t)valuelen;
		if (st->nrec == UINT16_MAX)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		memcpy(rec, &nl, 2);
		memcpy(rec + 2, &vl, 4);
		if (dbuf_put(&st->hdr, rec, sizeof(rec)) == -1 ||
		    dbuf_put(&st->hdr, name, namelen) == -1 ||
		    dbuf_put(&st->hdr, value, valuelen) == -1)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		st->nrec++;
		return 0;
	}
	if (dbuf_put(&st->hdr, name, namelen) == -1 ||
	    dbuf_put(&st->hdr, ": ", 2) == -1 ||
	    dbuf_put(&st->hdr, value, valuelen) == -1 ||
	    dbuf_put(&st->hdr, "\r\n", 2) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* The response ended (END_STREAM): the chunked body's end, with the
 * trailers gathered in hdr. */
static int
resp_end(struct h2up_stream *st)
{
	if (st->f & S_RESP_CHUNK) {
		if (dbuf_str(&st->resp, "0\r\n") == -1 ||
		    dbuf_cat(&st->resp, &st->hdr) == -1 ||
		    dbuf_str(&st->resp, "\r\n") == -1)
			return -1;
	}
	dbuf_free(&st->hdr);
	st->f |= S_RESP_END;
	return 0;
}

/* A header block ended: the response's head, or its trailers. */
static int
resp_headers(struct h2up_stream *st, int end_stream)
{
	struct sl_hblk b;
	int nobody;

	if (st->f & S_RESP_HEAD)
		return end_stream ? resp_end(st) : 0;
	if (st->status < 200) {
		/* interim (100, 103): not passed on */
		st->hdr.off = st->hdr.len = 0;
		st->has_cl = 0;
		st->nrec = 0;
		return 0;
	}
	/* the head as a block (hblock.h) the exchange reads without
	 * parsing: nghttp2 checked :status is three digits */
	memset(&b, 0, sizeof(b));
	b.mark = SL_HBLK_MARK;
	b.status = (uint16_t)st->status;
	b.digits[0] = (char)('0' + st->status / 100 % 10);
	b.digits[1] = (char)('0' + st->status / 10 % 10);
	b.digits[2] = (char)('0' + st->status % 10);
	nobody = (st->f & S_NOBODY) || st->status == 204 || st->status == 304;
	if (nobody)
		b.body = SL_H1_BODY_NONE;
	else if (st->has_cl) {
		b.body = SL_H1_BODY_LENGTH;
		b.length = st->resp_cl;
	} else if (end_stream) {
		/* a head that ends the stream (gRPC's trailers-only answer):
		 * a length of 0, which the client's codec ends with its
		 * HEADERS */
		static const char zero[] = "content-length0";
		char rec[SL_HBLK_REC];
		uint16_t nl = 14;
		uint32_t vl = 1;
		memcpy(rec, &nl, 2);
		memcpy(rec + 2, &vl, 4);
		if (dbuf_put(&st->hdr, rec, sizeof(rec)) == -1 ||
		    dbuf_put(&st->hdr, zero, 15) == -1)
			return -1;
		st->nrec++;
		b.body = SL_H1_BODY_LENGTH;
	} else {
		/* DATA goes on as chunks, trailers as their trailer section */
		b.body = SL_H1_BODY_CHUNKED;
		st->f |= S_RESP_CHUNK;
	}
	b.nfields = st->nrec;
	b.len = (uint32_t)(sizeof(b) + dbuf_n(&st->hdr));
	if (dbuf_put(&st->resp, &b, sizeof(b)) == -1 ||
	    dbuf_cat(&st->resp, &st->hdr) == -1)
		return -1;
	st->hdr.off = st->hdr.len = 0;
	st->nrec = 0;
	st->f |= S_RESP_HEAD;
	if (end_stream)
		st->f |= S_RESP_END;
	return 0;
}

static int
on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct sl_h2up_conn *c = ud;
	struct h2up_stream *st;
	int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	switch (frame->hd.type) {
	case NGHTTP2_SETTINGS:
		if (frame->hd.flags & NGHTTP2_FLAG_ACK)
			break;
		{
			/* the server's limit (nghttp2: "none" when not
			 * said), under the cluster's cap; its every SETTINGS
			 * may change it */
			uint64_t m = nghttp2_session_get_remote_settings(
				     ng,
				     NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
				 cap = c->ep->cluster->max_concurrent_streams;
			if (cap > 0 && m > cap)
				m = cap;
			c->max_streams = m > 0 ? (uint32_t)m : 1;
		}
		if (c->ready)
			break;
		c->ready = 1;
		if (c->ep->cluster->ping_interval_ms > 0)
			ping_arm(c, c->ep->cluster->ping_interval_ms);
		TAILQ_FOREACH(st, &c->streams, link)
		if (st->f & S_HELD) {
			st->f &= ~S_HELD;
			sl_xprt_mem_accept(st->end);
		}
		break;
	case NGHTTP2_PING:
		if (frame->hd.flags & NGHTTP2_FLAG_ACK)
			c->ping_out = 0;
		break;
	case NGHTTP2_GOAWAY:
		/* streams above its last id are closed by nghttp2 with
		 * REFUSED_STREAM: never processed, retried as class 1 */
		c->dead = 1;
		{
			char d[64];
			snprintf(d, sizeof(d), "last stream %d, code %u",
				 frame->goaway.last_stream_id,
				 frame->goaway.error_code);
			log_conn(c, "GOAWAY", d);
		}
		break;
	case NGHTTP2_HEADERS:
		if ((st = stream_of(ng, frame->hd.stream_id)) == NULL)
			break;
		if (resp_headers(st, end) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		stream_flush(st);
		break;
	case NGHTTP2_DATA:
		if ((st = stream_of(ng, frame->hd.stream_id)) == NULL || !end)
			break;
		if (resp_end(st) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		stream_flush(st);
		break;
	default:
		break;
	}
	return 0;
}

static int
on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
	      const uint8_t *data, size_t len, void *ud)
{
	struct sl_h2up_conn *c = ud;
	struct h2up_stream *st = stream_of(ng, id);
	char sz[24];

	(void)flags;
	if (st == NULL || (st->f & S_END_CLOSED) || (st->f & S_NOBODY)) {
		/* nobody reads it: the window goes back at once */
		(void)nghttp2_session_consume(c->ng, id, len);
		return 0;
	}
	if (st->f & S_RESP_CHUNK) {
		if (dbuf_put(&st->resp, sz, sl_h1_chunk_size_line(sz, len)) ==
			-1 ||
		    dbuf_put(&st->resp, data, len) == -1 ||
		    dbuf_str(&st->resp, "\r\n") == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	} else if (dbuf_put(&st->resp, data, len) == -1) {
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	st->unconsumed += len;
	stream_flush(st);
	return 0;
}

static int
on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct sl_h2up_conn *c = ud;
	struct h2up_stream *st = stream_of(ng, id);

	if (st == NULL)
		return 0;
	st->f |= S_NG_CLOSED;
	if (!(st->f & S_RESP_END) && !(st->f & S_END_CLOSED)) {
		char d[64];
		snprintf(d, sizeof(d), "stream %d: %s", id,
			 nghttp2_http2_strerror(code));
		log_conn(c, "stream reset", d);
		/* a request the server refused, or one above a GOAWAY's
		 * last stream, was never processed */
		stream_fail(st, code == NGHTTP2_REFUSED_STREAM &&
				    !(st->f & S_RESP_HEAD));
	}
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	st->id = -st->id; /* no more of nghttp2's */
	if (st->f & S_END_CLOSED)
		stream_free(st);
	return 0;
}

/* ---- the shared connection ---------------------------------------------- */

/* Leaves a section where c must not be freed (nghttp2 is running on
 * it); a close asked for meanwhile happens now. Returns 1 when c is
 * gone. */
static int
conn_unbusy(struct sl_h2up_conn *c)
{
	if (--c->busy == 0 && c->gone) {
		conn_close(c, 0, NULL);
		return 1;
	}
	return c->gone;
}

/* The most of nghttp2's output gathered for one write. */
#define WBUF_MAX (64 * 1024)

/* Writes what nghttp2 has to send, its frames gathered in c->wbuf so
 * that a turn's streams go out in one write (nghttp2_session_mem_send
 * hands one frame a call); closes the connection when nghttp2 is done
 * with it. */
static void
conn_pump(struct sl_h2up_conn *c)
{
	int err = 0, done;
	const char *why = NULL;

	if (!c->connected || c->gone)
		return;
	c->busy++;
	for (;;) {
		struct iovec iov;
		ssize_t n;

		while (dbuf_n(&c->wbuf) < WBUF_MAX && !c->gone) {
			const uint8_t *p;
			n = nghttp2_session_mem_send(c->ng, &p);
			if (n < 0) {
				err = EPROTO;
				why = nghttp2_strerror((int)n);
				break;
			}
			if (n == 0)
				break;
			if (dbuf_put(&c->wbuf, p, (size_t)n) == -1) {
				err = ENOMEM;
				why = "out of memory";
				break;
			}
		}
		if (why != NULL || dbuf_n(&c->wbuf) == 0 || c->gone)
			break;
		iov.iov_base = c->wbuf.p + c->wbuf.off;
		iov.iov_len = dbuf_n(&c->wbuf);
		n = sl_upstream_writev(c->u, &iov, 1, 0);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			err = errno;
			why = "write failed";
			break;
		}
		if (n > 0)
			c->wbuf.off += (size_t)n;
		if (dbuf_n(&c->wbuf) > 0)
			break; /* the socket is full: on WRITABLE */
		c->wbuf.off = c->wbuf.len = 0;
	}
	if (why == NULL && !c->gone)
		sl_upstream_want_write(c->u, dbuf_n(&c->wbuf) > 0);
	done = why == NULL && dbuf_n(&c->wbuf) == 0 &&
	       !nghttp2_session_want_read(c->ng) &&
	       !nghttp2_session_want_write(c->ng);
	if (conn_unbusy(c))
		return;
	if (why != NULL)
		conn_close(c, err, why);
	else if (done)
		conn_close(c, 0, "session over");
}

static void
conn_on_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_pump(arg);
}

static void
conn_schedule(struct sl_h2up_conn *c)
{
	if (c != NULL && !c->gone)
		/* on the loop's next turn, not at once: what every stream
		 * hands over on this turn goes out in one write */
		if (!evtimer_pending(&c->run, NULL)) {
			static const struct timeval now = {0, 0};
			evtimer_add(&c->run, &now);
		}
}

static void
ping_arm(struct sl_h2up_conn *c, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	event_add(&c->ping, &tv);
}

/*
 * Liveness (doc/http2.md section 10): a connection the server has been
 * silent on for ping_interval gets a PING; one whose PING has no answer
 * within connect_timeout is closed, so that no request is put on a peer
 * that is gone (a crash or a lost route sends no FIN).
 */
static void
conn_on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct sl_h2up_conn *c = arg;
	const struct sl_conf_cluster *cc = c->ep->cluster;
	uint64_t now = sl_now_ms(), quiet = now - c->heard_ms;

	(void)fd;
	(void)what;
	if (c->ping_out) {
		if (quiet < cc->connect_timeout_ms) {
			/* something came, though not the answer yet */
			ping_arm(c, cc->connect_timeout_ms - quiet);
			return;
		}
		log_warnx("upstream conn=%llu %s: http2: no answer to a PING "
			  "within %llu ms: connection closed",
			  (unsigned long long)c->u->id, c->ep->conf->addr.text,
			  (unsigned long long)cc->connect_timeout_ms);
		c->dead = 1;
		conn_close(c, ETIMEDOUT, NULL);
		return;
	}
	if (quiet < cc->ping_interval_ms) {
		ping_arm(c, cc->ping_interval_ms - quiet);
		return;
	}
	if (nghttp2_submit_ping(c->ng, NGHTTP2_FLAG_NONE, NULL) != 0)
		return;
	c->ping_out = 1;
	c->heard_ms = now; /* the answer is due within connect_timeout */
	ping_arm(c, cc->connect_timeout_ms);
	conn_schedule(c);
}

static void
conn_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct sl_h2up_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->nstreams == 0)
		conn_close(c, 0, NULL);
}

/* Reads what the server sent into nghttp2. */
static void
conn_read(struct sl_h2up_conn *c)
{
	struct sl_upconn *u = c->u;
	const char *why = NULL;
	int err = 0;

	c->busy++;
	for (int i = 0; i < 16 && !c->gone; i++) {
		ssize_t n = sl_upstream_read(u, UP_READ, UP_READ), rv;

		if (n == SL_AGAIN)
			break;
		if (n <= 0) {
			err = n == 0 ? 0 : errno;
			why = n == 0 ? "closed by the server" : "read failed";
			break;
		}
		c->heard_ms = sl_now_ms();
		rv = nghttp2_session_mem_recv(
		    c->ng, (const uint8_t *)u->in.data + u->in.off,
		    sl_buf_pending(&u->in));
		if (rv < 0) {
			err = EPROTO;
			why = nghttp2_strerror((int)rv);
			break;
		}
		sl_upstream_consume(u, (size_t)rv);
	}
	if (conn_unbusy(c))
		return;
	if (why != NULL)
		conn_close(c, err, why);
	else
		conn_pump(c);
}

static void
conn_on_up(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	struct sl_h2up_conn *c = arg;

	switch (ev) {
	case SL_UP_EV_CONNECTED:
		if (u->xkind == SL_XPRT_TLS && !sl_tls_alpn_h2(u->ssl)) {
			/* h2 or nothing: a class 1 failure for its streams */
			c->err = EPROTO;
			log_warnx("upstream conn=%llu %s: the server chose no "
				  "h2 by ALPN (protocol: h2 needs it)",
				  (unsigned long long)u->id,
				  c->ep->conf->addr.text);
			conn_close(c, EPROTO, NULL);
			break;
		}
		c->connected = 1;
		conn_pump(c);
		break;
	case SL_UP_EV_FAILED:
		c->err = err;
		conn_close(c, err,
			   err == SL_UP_ERR_TLS ? sl_upstream_tls_why()
						: strerror(err));
		break;
	case SL_UP_EV_READABLE:
		conn_read(c);
		break;
	case SL_UP_EV_WRITABLE:
		conn_pump(c);
		break;
	}
}

/* Ends c: its streams fail (a stream whose response is whole is handed
 * to the exchange first), the connection closes. err/why: the reason, for
 * the log (0/NULL: an ordinary close). */
static void
conn_close(struct sl_h2up_conn *c, int err, const char *why)
{
	struct h2up_stream *st;

	if (c->gone && c->busy > 0)
		return;
	/* before the SETTINGS, the exchanges waiting say why they failed */
	if (why != NULL && c->ready && !c->gone)
		log_conn(c, "connection closed", why);
	c->gone = 1;
	c->dead = 1;
	if (!c->ready && c->err == 0)
		/* what the streams waiting for its SETTINGS fail with */
		c->err = err != 0 ? err : ECONNRESET;
	if (c->busy > 0)
		return; /* conn_read or conn_pump finishes it */
	while ((st = TAILQ_FIRST(&c->streams)) != NULL) {
		if ((st->f & S_RESP_END) && !(st->f & S_END_CLOSED)) {
			/* whole: the exchange gets all of it, then the
			 * end */
			sl_xprt_mem_set_window(st->their, SIZE_MAX);
			stream_flush(st);
			end_close(st, 0);
		} else {
			/* not processed unless its request went and no
			 * answer came... the server may have acted on a
			 * request it received: class 2 */
			stream_fail(st, !c->ready || st->id == 0);
		}
		st->f |= S_NG_CLOSED;
		st->unconsumed = 0;
		stream_free(st);
	}
	TAILQ_REMOVE(&c->ep->h2, c, link);
	event_del(&c->run);
	event_del(&c->idle);
	event_del(&c->ping);
	nghttp2_session_del(c->ng);
	dbuf_free(&c->wbuf);
	sl_upstream_put(c->u, 0);
	free(c);
}

/* nghttp2 found the server broke the protocol: said at info, with the
 * connection the reason ends (an operator's first question). */
static int
on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud)
{
	struct sl_h2up_conn *c = ud;

	(void)ng;
	(void)code;
	log_info("upstream conn=%llu %s: http2: %.*s",
		 (unsigned long long)c->u->id, c->ep->conf->addr.text,
		 (int)(len > 200 ? 200 : len), msg);
	return 0;
}

/* The shared connections' nghttp2 set-up (h2ng.h): a client's. */
static struct sl_h2ng h2up_ng = {
    .on_header = on_header,
    .on_frame_recv = on_frame_recv,
    .on_data_chunk_recv = on_data_chunk,
    .on_stream_close = on_stream_close,
    .on_error = on_error,
    /* the windows are given back as the exchange takes the bytes */
    .opts = SL_H2NG_O_WINDOW_BY_HAND | SL_H2NG_O_NO_CLOSED_STREAMS |
	    SL_H2NG_O_DEFLATE_TABLE | SL_H2NG_O_SEND_HEAD_MAX,
    .deflate_table = 4096,
    /* a request head within max_header_bytes (1 MiB at most) is sent,
     * as for a client's response (h2.c) */
    .send_head_max = 4u << 20,
};

/* A new shared connection to ep, or NULL with errno. */
static struct sl_h2up_conn *
conn_new(struct sl_wendpoint *ep)
{
	struct sl_worker *w = ep->w;
	struct sl_h2up_conn *c;
	/* after h2ng's SETTINGS_ENABLE_PUSH 0; the server opens no stream */
	const nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, UP_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, UP_RESP_HEAD_MAX},
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0},
	};

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->ep = ep;
	TAILQ_INIT(&c->streams);
	/* until the server's SETTINGS say (conn_room) */
	c->max_streams = 1;
	if ((c->ng = sl_h2ng_client(&h2up_ng, c, iv, sizeof(iv) / sizeof(iv[0]),
				    UP_CONN_WINDOW)) == NULL) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* a connection of its own (fresh: HTTP/2's are never pooled), over
	 * TCP or TLS */
	if ((c->u = sl_upstream_get(w, ep, 1, conn_on_up, c)) == NULL) {
		int saved = errno;
		nghttp2_session_del(c->ng);
		free(c);
		errno = saved;
		return NULL;
	}
	evtimer_assign(&c->run, w->base, conn_on_run, c);
	evtimer_assign(&c->idle, w->base, conn_on_idle, c);
	evtimer_assign(&c->ping, w->base, conn_on_ping, c);
	c->heard_ms = sl_now_ms();
	TAILQ_INSERT_TAIL(&ep->h2, c, link);
	/* the pool's drain and retirement reach the shared connections
	 * through it */
	ep->on_close_idle = h2up_on_close_idle;
	if (!sl_upstream_connecting(c->u)) {
		/* connected at once */
		c->connected = 1;
		conn_schedule(c);
	}
	return c;
}

/* Whether c takes one more stream: under its limit, or, before the
 * server's SETTINGS said the limit, any (up to the cluster's cap): a
 * second connection is made only once the first is known to be full;
 * what the server then refuses is retried as never sent. */
static int
conn_room(const struct sl_h2up_conn *c)
{
	uint64_t cap = c->ep->cluster->max_concurrent_streams;

	if (!c->ready)
		return cap == 0 || c->nstreams < cap;
	return c->nstreams < c->max_streams;
}

/*
 * A new stream of a shared connection to ep, made if none has room. *end
 * gets the exchange's memory end, whose connect completes once the
 * connection has the server's SETTINGS (at once when it has them), or
 * fails as the connection does. Returns 0, or -1 with errno (EBUSY: the
 * endpoint is at max_connections; ENOMEM).
 */
static int
stream_open(struct sl_wendpoint *ep, struct sl_xprt_mem **end)
{
	struct sl_h2up_conn *c;
	struct h2up_stream *st;
	struct sl_xprt_mem *theirs, *mine;

	TAILQ_FOREACH(c, &ep->h2, link)
	{
		uint64_t life = ep->cluster->pool_max_lifetime_ms;
		if (!c->dead && life > 0 &&
		    sl_now_ms() - c->u->born_ms >= life) {
			/* pool.max_lifetime: no new stream; it closes
			 * after its last (stream_free) */
			c->dead = 1;
			if (c->nstreams == 0)
				event_active(&c->idle, EV_TIMEOUT, 1);
		}
		if (!c->dead && conn_room(c))
			break;
	}
	if (c == NULL && (c = conn_new(ep)) == NULL)
		return -1;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    sl_xprt_mem_pair(&theirs, &mine) == -1) {
		free(st);
		if (c->nstreams == 0)
			conn_close(c, 0, NULL);
		errno = ENOMEM;
		return -1;
	}
	st->c = c;
	st->end = mine;
	st->their = theirs;
	st->f = S_NG_CLOSED; /* no nghttp2 stream yet */
	*end = theirs;
	/* what the exchange may hold unread, and what we hold of its
	 * request before it must wait */
	sl_xprt_mem_set_window(theirs, UP_END_WINDOW);
	sl_xprt_mem_set_window(mine, UP_BODY_MAX);
	event_assign(&st->rev, ep->w->base, -1, EV_READ | EV_PERSIST,
		     stream_on_read, st);
	event_assign(&st->wev, ep->w->base, -1, EV_WRITE | EV_PERSIST,
		     stream_on_write, st);
	if (!c->ready) {
		sl_xprt_mem_hold(mine);
		st->f |= S_HELD;
	}
	TAILQ_INSERT_TAIL(&c->streams, st, link);
	c->nstreams++;
	event_del(&c->idle);
	sl_xprt_mem_ops.watch(-1, mine, &st->rev, 1);
	return 0;
}

struct sl_upconn *
sl_h2up_get(struct sl_worker *w, struct sl_wendpoint *ep,
	    sl_up_handler *handler, void *arg)
{
	struct sl_upconn *u;
	struct sl_xprt_mem *end;

	if ((u = sl_upstream_stream(w, ep, handler, arg)) == NULL)
		return NULL;
	if (stream_open(ep, &end) == -1) {
		int saved = errno;
		sl_upstream_put(u, 0);
		errno = saved;
		return NULL;
	}
	/* the stream's connect is in progress, as a socket's, until the
	 * shared connection can take it */
	u->xc = end;
	sl_upstream_want_write(u, 1);
	return u;
}

int
sl_h2up_has_room(const struct sl_wendpoint *ep)
{
	const struct sl_h2up_conn *c;

	TAILQ_FOREACH(c, &ep->h2, link)
	if (!c->dead && conn_room(c))
		return 1;
	return 0;
}

/* The pool closes its idle connections (sl_up_pool_handler): the shared
 * connections with no stream close now; the others take no new stream
 * and close after their last (a reload retiring the endpoint, the worker
 * draining). */
static void
h2up_on_close_idle(struct sl_wendpoint *ep)
{
	struct sl_h2up_conn *c, *next;

	for (c = TAILQ_FIRST(&ep->h2); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		c->dead = 1;
		if (c->nstreams == 0) {
			conn_close(c, 0, NULL);
		} else if (c->ready) {
			/* a polite end: no new stream from us */
			(void)nghttp2_submit_goaway(
			    c->ng, NGHTTP2_FLAG_NONE,
			    nghttp2_session_get_last_proc_stream_id(c->ng),
			    NGHTTP2_NO_ERROR, NULL, 0);
			conn_schedule(c);
		}
	}
}

void
sl_h2up_worker_free(struct sl_worker *w)
{
	struct sl_wendpoint *ep, *next;
	struct sl_h2up_conn *c;

	for (ep = TAILQ_FIRST(&w->eps); ep != NULL; ep = next) {
		ep->refs++;
		while ((c = TAILQ_FIRST(&ep->h2)) != NULL) {
			c->busy = 0;
			conn_close(c, 0, NULL);
		}
		next = TAILQ_NEXT(ep, link);
		sl_upstream_endpoint_unref(ep);
	}
}
