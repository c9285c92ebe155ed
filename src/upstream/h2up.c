/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (doc/http2.md section 10). A cluster with
 * "protocol: h2c" keeps, per endpoint per worker, a list of shared HTTP/2
 * connections, each an ordinary upstream connection this file owns with
 * sluice's own connection state (src/h2, h2conn.h) used as a state machine
 * over its bytes. An
 * exchange's upstream connection is one stream: a memory end (xprt.h) on
 * which the exchange writes its request and reads its response as on a
 * socket, so that its retries, limits, pacing and logs do not change. Here
 * is the other end of each pair: the request's head (a head block, or
 * HTTP/1.1 text for a split or a mirror) becomes HEADERS, its body
 * (Content-Length or chunked) DATA under the stream's window; the
 * response's HEADERS become a head block, its DATA a body (chunked unless
 * the server gave a length), its trailers the chunked body's trailer
 * section. The translation of heads is h2up_head.c's. Nothing here runs
 * inside the exchange: the memory ends wake it through events, after
 * the state's handlers returned.
 *
 * Flow control: a stream's receive window is UP_STREAM_WINDOW, given back
 * (sl_h2c_consumed) once the exchange's end has taken the bytes,
 * and that end holds at most UP_END_WINDOW, so a client that reads slowly
 * holds the upstream's stream back as read interest does on HTTP/1.1.
 * The request's body is read from the exchange's end only while less
 * than UP_BODY_MAX of it waits for the server's window.
 */
#include "h2up.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf_types.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "h2up_int.h"
#include "hblock.h"
#include "hpack.h"
#include "log.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

static void stream_free(struct h2up_stream *st);
static void conn_schedule(struct sl_h2up_conn *c);
static void conn_close(struct sl_h2up_conn *c, int err, const char *why);
static void stream_flush(struct h2up_stream *st);
static void ping_arm(struct sl_h2up_conn *c, uint64_t ms);
static void h2up_on_close_idle(struct sl_wendpoint *ep);

/* HPACK's Huffman strings decode here (a worker's thread reads one
 * connection at a time): as long as the longest response head. */
static _Thread_local char h2up_scratch[UP_RESP_HEAD_MAX];

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

/* Frees st once both the protocol and the exchange are done with it. */
static void
stream_maybe_free(struct h2up_stream *st)
{
	if ((st->f & (S_NG_CLOSED | S_END_CLOSED)) ==
	    (S_NG_CLOSED | S_END_CLOSED))
		stream_free(st);
}

/*
 * Streams kept for reuse by the thread that freed them (a worker makes
 * and ends its streams itself), with their buffers when these are no
 * larger than STREAM_BUF_KEPT: a gRPC call makes one, and its calloc,
 * its four buffers' first reallocs and their frees were about 2,500
 * instructions a call. Linked through c. Bounded as the memory pairs are
 * (xprt_mem.c): STREAMS_KEPT structs, STREAM_BYTES_KEPT of buffers.
 */
#define STREAMS_KEPT	  256
#define STREAM_BUF_KEPT	  4096
#define STREAM_BYTES_KEPT (512 * 1024) /* the kept streams' buffers */
static _Thread_local struct h2up_stream *streams_kept;
static _Thread_local unsigned nstreams_kept;
static _Thread_local size_t stream_bytes_kept;

/* A dbuf emptied for the next stream, or freed when it grew large or the
 * kept buffers are at their bound. */
static void
dbuf_keep(struct dbuf *b)
{
	if (b->cap > STREAM_BUF_KEPT ||
	    stream_bytes_kept + b->cap > STREAM_BYTES_KEPT) {
		dbuf_free(b);
		return;
	}
	stream_bytes_kept += b->cap;
	b->off = b->len = 0;
}

/* A stream's memory back to malloc: its buffers and its struct. */
static void
stream_dispose(struct h2up_stream *st)
{
	dbuf_free(&st->req);
	dbuf_free(&st->body);
	dbuf_free(&st->resp);
	dbuf_free(&st->hdr);
	free(st);
}

static void
stream_put(struct h2up_stream *st)
{
	struct dbuf d[4];

	if (nstreams_kept >= STREAMS_KEPT) {
		stream_dispose(st);
		return;
	}
	d[0] = st->req;
	d[1] = st->body;
	d[2] = st->resp;
	d[3] = st->hdr;
	for (int i = 0; i < 4; i++)
		dbuf_keep(&d[i]);
	memset(st, 0, sizeof(*st));
	st->req = d[0];
	st->body = d[1];
	st->resp = d[2];
	st->hdr = d[3];
	st->c = (struct sl_h2up_conn *)(void *)streams_kept;
	streams_kept = st;
	nstreams_kept++;
}

/* A zeroed stream (its buffers empty), kept or new; NULL: no memory. */
static struct h2up_stream *
stream_take(void)
{
	struct h2up_stream *st = streams_kept;

	if (st == NULL)
		return calloc(1, sizeof(*st));
	streams_kept = (struct h2up_stream *)(void *)st->c;
	nstreams_kept--;
	stream_bytes_kept -=
	    st->req.cap + st->body.cap + st->resp.cap + st->hdr.cap;
	st->c = NULL;
	return st;
}

static void
stream_free(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;

	if (!(st->f & S_END_CLOSED))
		end_close(st, 1);
	if (c != NULL) {
		if (st->id > 0)
			sl_h2c_forget(&c->h2c, &st->hs);
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
	stream_put(st);
}

/* Gives the windows of the DATA bytes the exchange's end took back. */
static void
stream_consume(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;

	if (st->unconsumed == 0 || c == NULL)
		return;
	(void)sl_h2c_consumed(
	    &c->h2c, st->id > 0 && !(st->f & S_NG_CLOSED) ? &st->hs : NULL,
	    st->unconsumed);
	st->unconsumed = 0;
	conn_schedule(c);
}

/* Resets st (code) and forgets it. */
static void
stream_reset(struct h2up_stream *st, uint32_t code)
{
	struct sl_h2up_conn *c = st->c;

	if (st->id > 0 && !(st->f & S_NG_CLOSED) &&
	    sl_h2c_stream(&c->h2c, (uint32_t)st->id) == &st->hs)
		(void)sl_h2c_reset(&c->h2c, &st->hs, code);
	st->f |= S_NG_CLOSED;
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

/*
 * Sends the request head the exchange wrote (hl bytes at p) as HEADERS on
 * a new stream, END_STREAM when no body follows. Returns 0, or -1: the
 * stream failed.
 */
static int
stream_submit(struct h2up_stream *st, char *p, size_t hl)
{
	struct sl_h2up_conn *c = st->c;
	struct dbuf blk = {0};
	uint32_t id;
	int body, r;

	if (c->h2c.goaway_in || c->h2c.failed) {
		/* the server takes no new stream: never sent (class 1) */
		c->dead = 1;
		return -1;
	}
	if (h2up_head_request(st, p, hl,
			      c->ep->cluster->protocol == SL_UP_PROTO_H2, &blk,
			      &body) == -1) {
		dbuf_free(&blk);
		return -1;
	}
	if (st->f & S_REQ_CHUNK)
		sl_h1_chunked_init(&st->ck, UP_HEAD_MAX);
	if (!body)
		st->f |= S_REQ_END | S_REQ_SENT;
	id = c->h2c.last_local_id == 0 ? 1 : c->h2c.last_local_id + 2;
	if (id > SL_H2F_MAX_STREAM_ID) {
		/* stream ids ran out: the next request needs a new
		 * connection (the failure is class 1) */
		log_conn(c, "request not sent", "stream ids exhausted");
		c->dead = 1;
		dbuf_free(&blk);
		return -1;
	}
	st->hs.id = id;
	r = sl_h2c_stream_add(&c->h2c, &st->hs) == -1 ||
	    sl_h2c_send_headers(&c->h2c, &st->hs, (const uint8_t *)blk.p,
				blk.len, !body) == -1;
	dbuf_free(&blk);
	if (r) {
		sl_h2c_forget(&c->h2c, &st->hs);
		c->dead = 1;
		return -1;
	}
	/* pool.max_requests: a connection's lifetime in requests, as for
	 * HTTP/1.1 (it closes after its last stream) */
	if (++c->nsent >= c->ep->cluster->pool_max_requests &&
	    c->ep->cluster->pool_max_requests > 0)
		c->dead = 1;
	st->id = (int32_t)id;
	st->f |= S_HEAD_IN;
	st->f &= ~S_NG_CLOSED;
	return 0;
}

/* Parses what the exchange wrote: the head, then the body into body. */
static int
stream_parse(struct h2up_stream *st)
{
	struct dbuf *r = &st->req;

	if (!(st->f & S_HEAD_IN)) {
		char *p = r->p + r->off, *e;
		size_t n = dbuf_n(r), hl;

		if (n > 0 && p[0] == SL_HBLK_MARK) {
			/* a head block (hblock.h): whole once its length is
			 * in */
			struct sl_hblk b;
			if (n < sizeof(b))
				return 0;
			sl_hblk_head(p, &b);
			if (b.len < sizeof(b) || b.len > UP_HEAD_MAX)
				return -1;
			if (n < b.len)
				return 0;
			hl = b.len;
		} else {
			for (e = p;
			     (e = memchr(e, '\r', n - (size_t)(e - p))) != NULL;
			     e++)
				if ((size_t)(p + n - e) >= 4 &&
				    memcmp(e, "\r\n\r\n", 4) == 0)
					break;
			if (e == NULL)
				return n > UP_HEAD_MAX ? -1 : 0;
			hl = (size_t)(e - p) + 4;
		}
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
				stream_reset(st, SL_H2F_INTERNAL_ERROR);
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
		stream_reset(st, SL_H2F_CANCEL);
		end_close(st, 0);
		conn_schedule(c);
		stream_maybe_free(st);
		return;
	}
	conn_schedule(c);
}

/* Both ends of st sent END_STREAM: the protocol forgot it (called from a
 * handler: the state then leaves it alone). */
static void
stream_closed_both(struct h2up_stream *st)
{
	sl_h2c_forget(&st->c->h2c, &st->hs);
	st->f |= S_NG_CLOSED;
}

/* One DATA frame of st's request, as its windows allow; END_STREAM with
 * its last bytes. Returns 1 when a frame went. */
static int
frame_request(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;
	size_t n = dbuf_n(&st->body), room;
	int end;

	if ((st->f & (S_HEAD_IN | S_REQ_SENT | S_NG_CLOSED)) != S_HEAD_IN)
		return 0;
	room = sl_h2c_send_room(&c->h2c, &st->hs);
	if (n > room)
		n = room;
	end = (st->f & S_REQ_END) && n == dbuf_n(&st->body);
	if (n == 0 && !end)
		return 0;
	if (sl_h2c_send_data(&c->h2c, &st->hs,
			     n > 0 ? (const uint8_t *)st->body.p + st->body.off
				   : (const uint8_t *)"",
			     n, end) == -1)
		return 0;
	st->body.off += n;
	if (end) {
		st->f |= S_REQ_SENT;
		dbuf_free(&st->body);
		if (st->hs.in_end) /* the response had ended first */
			st->f |= S_NG_CLOSED;
	}
	if (!(st->f & S_END_CLOSED) && dbuf_n(&st->body) < UP_BODY_MAX && !end)
		/* read more of the request (level-triggered: the end
		 * says nothing until the exchange writes again) */
		event_active(&st->rev, EV_READ, 1);
	return 1;
}

/* ---- the response: the connection state's handlers -------------------- */

/* The server opens no stream (push is off): refused. */
static struct sl_h2c_stream *
on_stream_open(void *arg, uint32_t id)
{
	(void)arg;
	(void)id;
	return NULL;
}

/* The response broke RFC 9113 section 8: the stream is reset
 * (PROTOCOL_ERROR) and fails; the server saw the request (class 2). */
static void
stream_malformed(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;
	char d[160];

	snprintf(d, sizeof(d), "stream %d: a malformed response: %s", st->id,
		 st->bad != NULL ? st->bad : "-");
	log_conn(c, "stream reset", d);
	stream_reset(st, SL_H2F_PROTOCOL_ERROR);
	stream_fail(st, 0);
	stream_maybe_free(st);
}

/* The response ended (END_STREAM), in a handler: the chunked body's end,
 * then the stream is closed both ways if the request's end went. */
static void
response_end(struct h2up_stream *st)
{
	if (st->has_cl && !(st->f & S_NOBODY) && st->status != 204 &&
	    st->status != 304 && st->resp_in != st->resp_cl) {
		st->bad = "a body other than its content-length";
		stream_malformed(st);
		return;
	}
	if (h2up_resp_end(st) == -1) {
		stream_reset(st, SL_H2F_INTERNAL_ERROR);
		stream_fail(st, 0);
		stream_maybe_free(st);
		return;
	}
	stream_flush(st);
	if (st->f & S_REQ_SENT) {
		stream_closed_both(st);
		stream_maybe_free(st);
	}
}

static void
on_headers(void *arg, struct sl_h2c_stream *hs, int rc, int end)
{
	struct h2up_stream *st = H2UP_STREAM_OF(hs);

	(void)arg;
	if (rc != SL_HPACK_OK && !(st->f & S_BAD)) {
		st->f |= S_BAD;
		st->bad = rc == SL_HPACK_MALFORMED
			      ? "a field RFC 9113 section 8.2.1 forbids"
			      : "a field past the decoder's room";
	}
	if ((st->f & S_BAD) || h2up_resp_headers(st, end) == -1) {
		if (!(st->f & S_BAD))
			st->bad = "no memory for the head";
		stream_malformed(st);
		return;
	}
	if (end && (st->f & S_RESP_END)) {
		/* a head or trailers that end the stream */
		stream_flush(st);
		if (st->f & S_REQ_SENT) {
			stream_closed_both(st);
			stream_maybe_free(st);
		}
		return;
	}
	stream_flush(st);
}

static void
on_data(void *arg, struct sl_h2c_stream *hs, const uint8_t *data, size_t len,
	int end)
{
	struct sl_h2up_conn *c = arg;
	struct h2up_stream *st = H2UP_STREAM_OF(hs);
	char sz[24];

	if (!(st->f & S_RESP_HEAD)) {
		(void)sl_h2c_consumed(&c->h2c, hs, len);
		st->bad = "DATA before the response's head";
		stream_malformed(st);
		return;
	}
	st->resp_in += len;
	if (st->has_cl && !(st->f & S_NOBODY) && st->resp_in > st->resp_cl) {
		(void)sl_h2c_consumed(&c->h2c, hs, len);
		st->bad = "a body past its content-length";
		stream_malformed(st);
		return;
	}
	if ((st->f & S_END_CLOSED) || (st->f & S_NOBODY)) {
		/* nobody reads it: the window goes back at once */
		(void)sl_h2c_consumed(&c->h2c, hs, len);
	} else if (len > 0) {
		if ((st->f & S_RESP_CHUNK)
			? dbuf_put(&st->resp, sz,
				   sl_h1_chunk_size_line(sz, len)) == -1 ||
			      dbuf_put(&st->resp, data, len) == -1 ||
			      dbuf_str(&st->resp, "\r\n") == -1
			: dbuf_put(&st->resp, data, len) == -1) {
			(void)sl_h2c_consumed(&c->h2c, hs, len);
			stream_reset(st, SL_H2F_INTERNAL_ERROR);
			stream_fail(st, 0);
			stream_maybe_free(st);
			return;
		}
		st->unconsumed += len;
		stream_flush(st);
	}
	if (end)
		response_end(st);
}

/* The server reset the stream, or the connection's state did (a stream
 * error of the server's). */
static void
on_reset(void *arg, struct sl_h2c_stream *hs, uint32_t code, int sent)
{
	struct sl_h2up_conn *c = arg;
	struct h2up_stream *st = H2UP_STREAM_OF(hs);

	st->f |= S_NG_CLOSED;
	if (!(st->f & S_RESP_END) && !(st->f & S_END_CLOSED)) {
		char d[64];
		snprintf(d, sizeof(d), "stream %d: %s%s", st->id,
			 sent ? "sluice's " : "", sl_h2f_err_str(code));
		log_conn(c, "stream reset", d);
		/* a request the server refused was never processed */
		stream_fail(st, !sent && code == SL_H2F_REFUSED_STREAM &&
				    !(st->f & S_RESP_HEAD));
	}
	if (st->f & S_END_CLOSED)
		stream_free(st);
}

/* The server's GOAWAY: no new stream; the ones above its last id were
 * never processed (class 1, retried). */
static void
on_goaway(void *arg, uint32_t last_id, uint32_t code)
{
	struct sl_h2up_conn *c = arg;
	struct h2up_stream *st, *nx;
	char d[64];

	c->dead = 1;
	snprintf(d, sizeof(d), "last stream %u, code %u", last_id, code);
	log_conn(c, "GOAWAY", d);
	for (st = TAILQ_FIRST(&c->streams); st != NULL; st = nx) {
		nx = TAILQ_NEXT(st, link);
		if (st->id <= 0 || (uint32_t)st->id <= last_id ||
		    (st->f & S_NG_CLOSED))
			continue;
		sl_h2c_forget(&c->h2c, &st->hs);
		on_reset(c, &st->hs, SL_H2F_REFUSED_STREAM, 0);
	}
}

static void
on_window(void *arg, struct sl_h2c_stream *hs)
{
	(void)hs;
	conn_schedule(arg);
}

/* Every frame from the server first: its PING's answer. */
static int
on_frame(void *arg, const struct sl_h2f_header *hd)
{
	struct sl_h2up_conn *c = arg;

	if (hd->type == SL_H2F_PING && (hd->flags & SL_H2F_F_ACK))
		c->ping_out = 0;
	return 0;
}

/* Frames sluice sends go to the write buffer (8 MiB at most: a server
 * that floods PINGs and never reads fails its connection). */
static uint8_t *
on_out(void *arg, size_t n)
{
	struct sl_h2up_conn *c = arg;

	if (dbuf_n(&c->wbuf) + n > 8u * 1024 * 1024)
		return NULL;
	return dbuf_room(&c->wbuf, n);
}

static const struct sl_h2c_ops h2up_ops = {
    .stream_open = on_stream_open,
    .field = h2up_on_field,
    .headers = on_headers,
    .data = on_data,
    .reset = on_reset,
    .goaway = on_goaway,
    .window = on_window,
    .frame = on_frame,
    .out = on_out,
};

/* After the server's bytes: its SETTINGS' limit on streams (its every
 * SETTINGS may change it), under the cluster's cap; at its first, the
 * streams waiting for them may go. */
static void
conn_settings(struct sl_h2up_conn *c)
{
	struct h2up_stream *st;
	uint64_t m = c->h2c.peer_max_streams,
		 cap = c->ep->cluster->max_concurrent_streams;

	if (!c->h2c.rd.settings_seen)
		return;
	if (cap > 0 && m > cap)
		m = cap;
	c->max_streams = m > 0 ? (uint32_t)SL_MIN(m, (uint64_t)UINT32_MAX) : 1;
	if (c->ready)
		return;
	c->ready = 1;
	if (c->ep->cluster->ping_interval_ms > 0)
		ping_arm(c, c->ep->cluster->ping_interval_ms);
	TAILQ_FOREACH(st, &c->streams, link)
	if (st->f & S_HELD) {
		st->f &= ~S_HELD;
		sl_xprt_mem_accept(st->end);
	}
}

/* ---- the shared connection ---------------------------------------------- */

/* Leaves a section where c must not be freed (its state is running on
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

/* The most output gathered for one write. */
#define WBUF_MAX (64 * 1024)

/* Frames the requests' bodies (a DATA frame a stream in turns) and writes
 * what the connection has to send, gathered in c->wbuf so that a turn's
 * streams go out in one write; closes the connection when it is over. */
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
			struct h2up_stream *st, *nx;
			int sent = 0;

			for (st = TAILQ_FIRST(&c->streams); st != NULL;
			     st = nx) {
				nx = TAILQ_NEXT(st, link);
				if (dbuf_n(&c->wbuf) >= WBUF_MAX)
					break;
				sent |= frame_request(st);
			}
			if (c->h2c.failed) {
				err = ENOMEM;
				why = "out of memory";
				break;
			}
			if (!sent)
				break;
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
	done = why == NULL && dbuf_n(&c->wbuf) == 0 && c->h2c.goaway_in &&
	       c->h2c.nstreams == 0;
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
	{
		static const uint8_t opaque[8] = {0};
		uint8_t *p = on_out(c, SL_H2F_HEADER_LEN + 8);

		if (p == NULL)
			return;
		(void)sl_h2f_write_ping(p, SL_H2F_HEADER_LEN + 8, opaque, 0);
	}
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

/* Reads what the server sent into the connection's state. */
static void
conn_read(struct sl_h2up_conn *c)
{
	struct sl_upconn *u = c->u;
	const char *why = NULL;
	int err = 0;

	c->busy++;
	for (int i = 0; i < 16 && !c->gone; i++) {
		ssize_t n = sl_upstream_read(u, UP_READ, UP_READ);

		if (n == SL_AGAIN)
			break;
		if (n <= 0) {
			err = n == 0 ? 0 : errno;
			why = n == 0 ? "closed by the server" : "read failed";
			break;
		}
		c->heard_ms = sl_now_ms();
		if (sl_h2c_input(&c->h2c,
				 (const uint8_t *)u->in.data + u->in.off,
				 sl_buf_pending(&u->in)) == -1) {
			err = EPROTO;
			why = c->h2c.why != NULL ? c->h2c.why
						 : "a protocol error";
			break;
		}
		sl_upstream_consume(u, sl_buf_pending(&u->in));
		conn_settings(c);
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
	c->h2c.failed = 1;
	sl_h2c_free(&c->h2c);
	free(c->gather);
	dbuf_free(&c->wbuf);
	sl_upstream_put(c->u, 0);
	free(c);
}

/* A new shared connection to ep, or NULL with errno. */
static struct sl_h2up_conn *
conn_new(struct sl_wendpoint *ep)
{
	struct sl_worker *w = ep->w;
	struct sl_h2up_conn *c;
	/* SETTINGS_ENABLE_PUSH 0 first (h2conn.c); the server opens no
	 * stream */
	const struct sl_h2c_settings set = {
	    .header_table = 4096,
	    .max_streams = 0,
	    .window = UP_STREAM_WINDOW,
	    .conn_window = UP_CONN_WINDOW,
	    .max_frame = UP_FRAME,
	    .max_header_list = UP_RESP_HEAD_MAX,
	};

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->ep = ep;
	TAILQ_INIT(&c->streams);
	/* until the server's SETTINGS say (conn_room) */
	c->max_streams = 1;
	/* a frame split across reads, and HPACK's Huffman strings (a
	 * worker's, shared by its connections: one is read at a time) */
	if ((c->gather = malloc(UP_FRAME)) == NULL ||
	    sl_h2c_init(&c->h2c, 0, &set, c->gather, UP_FRAME, h2up_scratch,
			sizeof(h2up_scratch), 2 * UP_RESP_HEAD_MAX + UP_FRAME,
			&h2up_ops, c) == -1) {
		free(c->gather);
		dbuf_free(&c->wbuf);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	/* a connection of its own (fresh: HTTP/2's are never pooled), over
	 * TCP or TLS */
	if ((c->u = sl_upstream_get(w, ep, 1, conn_on_up, c)) == NULL) {
		int saved = errno;
		sl_h2c_free(&c->h2c);
		free(c->gather);
		dbuf_free(&c->wbuf);
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
	if ((st = stream_take()) == NULL ||
	    sl_xprt_mem_pair(&theirs, &mine) == -1) {
		if (st != NULL)
			stream_put(st);
		if (c->nstreams == 0)
			conn_close(c, 0, NULL);
		errno = ENOMEM;
		return -1;
	}
	st->c = c;
	st->end = mine;
	st->their = theirs;
	st->f = S_NG_CLOSED; /* no protocol stream yet */
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
			(void)sl_h2c_goaway(&c->h2c, SL_H2F_NO_ERROR);
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

void
sl_h2up_thread_free(void)
{
	struct h2up_stream *st;

	while ((st = streams_kept) != NULL) {
		streams_kept = (struct h2up_stream *)(void *)st->c;
		stream_dispose(st);
	}
	nstreams_kept = 0;
	stream_bytes_kept = 0;
	sl_upstream_streams_free();
}
