/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (doc/http2.md section 10). A cluster with
 * "protocol: h2c" keeps, per endpoint per worker, a list of shared HTTP/2
 * connections, each an ordinary upstream connection this file owns with
 * sluice's own connection state (src/h2, h2conn.h) used as a state machine
 * over its bytes. An
 * exchange's upstream connection is one stream: a transport of its own
 * (SL_XPRT_STREAM, xprt.h) whose reads and writes are this file's
 * operations on the stream's buffers, so that the exchange's retries,
 * limits, pacing and logs do not change, and nothing stands between the
 * two: no second end, no copy through it, no event of its own (until
 * issue 62 a pair of memory ends did, xprt_mem.c). The request's head (a
 * head block, or HTTP/1.1 text for a split or a mirror) becomes HEADERS,
 * its body (Content-Length or chunked) DATA under the stream's window;
 * the response's HEADERS become a head block, its DATA a body of pieces
 * (or of the length the server gave), its trailers a field block. The
 * translation of heads is h2up_head.c's. Nothing here runs inside the
 * exchange's handlers but the transport's operations, which never call the
 * exchange back: the stream wakes it through its own events, after the state's
 * handlers returned.
 *
 * Flow control: a stream's receive window is UP_STREAM_WINDOW, given back
 * (sl_h2c_consumed) as the exchange reads the bytes, so a client that
 * reads slowly holds the upstream's stream back as read interest does on
 * HTTP/1.1. The exchange's writes take the request while less than twice
 * UP_BODY_MAX of it waits for the server's window.
 */
#include "h2up.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf_types.h"
#include "evdel.h"
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
static void ping_arm(struct sl_h2up_conn *c, uint64_t ms);
static void h2up_on_close_idle(struct sl_wendpoint *ep);

/* HPACK's Huffman strings decode here (a worker's thread reads one
 * connection at a time): as long as the longest response head. */
static _Thread_local char h2up_scratch[UP_RESP_HEAD_MAX];

/* ---- streams: the exchange's transport --------------------------------- */

/* What a read by the exchange would not wait for: bytes, an end, a
 * reset, a refused connect. */
static int
st_readable(const struct h2up_stream *st)
{
	if (st->f & S_HELD)
		return 0;
	return dbuf_n(&st->resp) > 0 || st->err != 0 ||
	       (st->f & (S_RESP_END | S_FAILED | S_EOF)) || st->c == NULL;
}

/* What a write by the exchange takes now; a write that fails or is
 * dropped does not wait either. */
static size_t
st_room(const struct h2up_stream *st)
{
	size_t held = dbuf_n(&st->req) + dbuf_n(&st->body);

	if (st->f & S_HELD)
		return 0;
	if (st->err != 0 || (st->f & (S_FAILED | S_EOF | S_REQ_END)) ||
	    st->c == NULL)
		return SIZE_MAX;
	if (!(st->f & S_HEAD_IN))
		return held < UP_HEAD_MAX + UP_BODY_MAX
			   ? UP_HEAD_MAX + UP_BODY_MAX - held
			   : 0;
	return held < 2 * UP_BODY_MAX ? 2 * UP_BODY_MAX - held : 0;
}

/* Activates the exchange's read event when its wait is over. */
static void
st_wake_read(struct h2up_stream *st)
{
	if (st->xrev != NULL && st_readable(st))
		sl_event_active(st->xrev, EV_READ);
}

/* ... and its write event. */
static void
st_wake_write(struct h2up_stream *st)
{
	if (st->xwev != NULL && st_room(st) > 0)
		sl_event_active(st->xwev, EV_WRITE);
}

/* The stream failed before its response was whole: the exchange reads a
 * reset, after what it was given; unprocessed: the server never processed
 * the request (class 1, RFC 9113 section 8.7). */
static void
stream_fail(struct h2up_stream *st, int unprocessed)
{
	if (st->f & (S_END_CLOSED | S_FAILED))
		return;
	if (st->f & S_HELD) {
		/* its connect never completed */
		st->f &= ~S_HELD;
		st->f |= S_UNPROC | S_FAILED;
		st->err = st->c != NULL && st->c->err != 0 ? st->c->err
							   : ECONNREFUSED;
	} else {
		st->f |= S_FAILED;
		if (unprocessed)
			st->f |= S_UNPROC;
	}
	st_wake_read(st);
	st_wake_write(st);
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

/* Takes st off its connection, which has no more business with it (it
 * stays the exchange's until the exchange closes it). The DATA bytes the
 * exchange has not read give their connection window back. */
static void
stream_detach(struct h2up_stream *st)
{
	struct sl_h2up_conn *c = st->c;

	if (c == NULL)
		return;
	if (st->unconsumed > 0 && !c->gone)
		(void)sl_h2c_consumed(&c->h2c, NULL, st->unconsumed);
	st->unconsumed = 0;
	if (st->id > 0)
		sl_h2c_forget(&c->h2c, &st->hs);
	TAILQ_REMOVE(&c->streams, st, link);
	c->nstreams--;
	st->c = NULL;
	st->f |= S_NG_CLOSED;
	/* room for a request waiting at max_connections */
	sl_worker_capacity(c->ep->w);
	if (c->nstreams == 0 && !c->gone) {
		if (c->dead) {
			conn_close(c, 0, NULL);
		} else {
			const struct sl_conf_cluster *cc = c->ep->cluster;
			struct timeval tv = {
			    (time_t)(cc->pool_idle_timeout_ms / 1000),
			    (suseconds_t)(cc->pool_idle_timeout_ms % 1000) *
				1000};
			event_add(&c->idle, &tv);
		}
	}
}

/* Frees st, which the exchange closed. */
static void
stream_free(struct h2up_stream *st)
{
	stream_detach(st);
	stream_put(st);
}

/* Gives back the windows of the DATA bytes the exchange took (n bytes
 * read: at most as many as wait). */
static void
stream_consume(struct h2up_stream *st, size_t n)
{
	struct sl_h2up_conn *c = st->c;
	size_t queued;

	if (n > st->unconsumed)
		n = st->unconsumed;
	if (n == 0 || c == NULL)
		return;
	st->unconsumed -= n;
	queued = dbuf_n(&c->wbuf);
	(void)sl_h2c_consumed(
	    &c->h2c, st->id > 0 && !(st->f & S_NG_CLOSED) ? &st->hs : NULL, n);
	if (dbuf_n(&c->wbuf) != queued)
		conn_schedule(c); /* a WINDOW_UPDATE to send */
}

/* Resets st (code) and forgets it. */
static void
stream_reset(struct h2up_stream *st, uint32_t code)
{
	struct sl_h2up_conn *c = st->c;

	if (c != NULL && st->id > 0 && !(st->f & S_NG_CLOSED) &&
	    sl_h2c_stream(&c->h2c, (uint32_t)st->id) == &st->hs)
		(void)sl_h2c_reset(&c->h2c, &st->hs, code);
	st->f |= S_NG_CLOSED;
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
		if (h2up_submit(st, p, hl) == -1)
			return -1;
		r->off += hl;
	}
	while (dbuf_n(r) > 0 && !(st->f & S_REQ_END)) {
		char *p = r->p + r->off;
		size_t n = dbuf_n(r),
		       data = (size_t)(n < st->req_left ? n : st->req_left);

		if (dbuf_put(&st->body, p, data) == -1)
			return -1;
		r->off += data;
		st->req_left -= data;
		if (st->req_left == 0)
			st->f |= S_REQ_END;
	}
	/* nothing follows a request on a stream (req holds the trailers'
	 * HPACK block once S_REQ_TRL is set) */
	if ((st->f & (S_REQ_END | S_REQ_TRL)) == S_REQ_END)
		r->off = r->len;
	return 0;
}

/* ---- the transport's operations (xprt.h), which the exchange's
 * upstream connection calls: they act on the stream's buffers and never
 * call the exchange back --------------------------------------------- */

static ssize_t
st_recv(int fd, void *x, void *buf, size_t len, int *want)
{
	struct h2up_stream *st = x;
	size_t n;

	(void)fd;
	*want = SL_TLS_WANT_READ;
	if (st->f & S_HELD) {
		errno = EAGAIN;
		return -1;
	}
	if (st->err != 0) {
		errno = st->err;
		return -1;
	}
	/* bytes already here are read before an end or a reset */
	if ((n = SL_MIN(len, dbuf_n(&st->resp))) > 0) {
		memcpy(buf, st->resp.p + st->resp.off, n);
		st->resp.off += n;
		if (st->resp.off == st->resp.len)
			st->resp.off = st->resp.len = 0;
		stream_consume(st, n);
		return (ssize_t)n;
	}
	if (st->f & S_FAILED) {
		errno = ECONNRESET;
		return -1;
	}
	if ((st->f & (S_RESP_END | S_EOF)) || st->c == NULL)
		return 0;
	errno = EAGAIN;
	return -1;
}

/* Takes the request's bytes: the head into req until it is whole, the
 * body into body. Returns 0, or -1: the stream failed. */
static int
st_take(struct h2up_stream *st, const char *p, size_t n)
{
	if ((st->f & S_HEAD_IN) && dbuf_n(&st->req) == 0) {
		/* the body (of a length, or pieces): straight to DATA's
		 * buffer */
		size_t k = (size_t)SL_MIN((uint64_t)n, st->req_left);
		if (dbuf_put(&st->body, p, k) == -1)
			return -1;
		st->req_left -= k;
		if (st->req_left == 0)
			st->f |= S_REQ_END;
		return 0;
	}
	if (dbuf_put(&st->req, p, n) == -1)
		return -1;
	return stream_parse(st);
}

static ssize_t
st_sendv(int fd, void *x, struct iovec *iov, int niov, int flags, int *want)
{
	struct h2up_stream *st = x;
	struct sl_h2up_conn *c = st->c;
	size_t total = 0, room, n = 0;

	(void)fd;
	(void)flags;
	*want = SL_TLS_WANT_WRITE;
	if (st->f & S_HELD) {
		errno = EAGAIN;
		return -1;
	}
	if (st->err != 0 || (st->f & S_FAILED)) {
		errno = st->err != 0 ? st->err : ECONNRESET;
		return -1;
	}
	if ((st->f & S_EOF) || c == NULL) {
		errno = EPIPE;
		return -1;
	}
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if ((st->f & S_HEAD_IN) && (st->f & (S_REQ_END | S_NG_CLOSED)))
		return (ssize_t)total; /* nothing more goes: dropped */
	if ((room = st_room(st)) == 0) {
		errno = EAGAIN;
		return -1;
	}
	total = SL_MIN(total, room);
	for (int i = 0; i < niov && n < total; i++) {
		size_t k = SL_MIN(iov[i].iov_len, total - n);
		if (st->f & (S_REQ_END | S_FAILED))
			break; /* the rest is dropped */
		if (k > 0 && st_take(st, iov[i].iov_base, k) == -1) {
			/* the exchange reads the reset */
			stream_reset(st, SL_H2F_INTERNAL_ERROR);
			stream_fail(st, st->id == 0);
			break;
		}
		n += k;
	}
	if ((st->f & (S_REQ_END | S_REQ_TRL)) == S_REQ_END)
		st->req.off = st->req.len = 0; /* nothing follows a request */
	conn_schedule(c);
	return (ssize_t)total;
}

/* The exchange ends its side: a stream still open is cancelled, and the
 * exchange reads the rest of what it was given, then an end. */
static void
st_shutdown(int fd, void *x)
{
	struct h2up_stream *st = x;

	(void)fd;
	stream_reset(st, SL_H2F_CANCEL);
	st->f |= S_EOF;
	if (st->c != NULL)
		conn_schedule(st->c);
	st_wake_read(st);
}

static int
st_connect_error(int fd, void *x)
{
	const struct h2up_stream *st = x;

	(void)fd;
	return (st->f & S_HELD) ? EINPROGRESS : st->err;
}

static int
st_pending(int fd, void *x)
{
	(void)fd;
	return st_readable(x);
}

static int
st_more_waiting(int fd, void *x)
{
	(void)fd;
	return dbuf_n(&((const struct h2up_stream *)x)->resp) > 0;
}

/* The request's bytes not yet sent to the server. */
static int
st_outq(int fd, void *x)
{
	const struct h2up_stream *st = x;

	(void)fd;
	return (int)SL_MIN(dbuf_n(&st->req) + dbuf_n(&st->body),
			   (size_t)INT32_MAX);
}

/* What the stream cannot take yet is refused (EAGAIN): nothing is taken
 * and left unsent. */
static int
st_unsent(int fd, void *x)
{
	(void)fd;
	(void)x;
	return 0;
}

static size_t
st_send_room(int fd, void *x)
{
	(void)fd;
	return st_room(x);
}

/* Keeps ev while watched, and activates it when its wait is over; never
 * added to libevent (descriptor -1, nothing to poll). */
static int
st_watch(int fd, void *x, struct event *ev, int on)
{
	struct h2up_stream *st = x;
	int write = (event_get_events(ev) & EV_WRITE) != 0;
	struct event **slot = write ? &st->xwev : &st->xrev;

	(void)fd;
	if (!on) {
		if (*slot == ev)
			*slot = NULL;
		/* an activation not yet run is cancelled */
		return sl_event_del(ev);
	}
	*slot = ev;
	if (write)
		st_wake_write(st);
	else
		st_wake_read(st);
	return 0;
}

/* The close that follows cancels the stream anyway (st_close). */
static void
st_abort(int fd, void *x)
{
	(void)fd;
	(void)x;
}

/* The exchange is done with the stream: a stream still open is
 * cancelled, and st is freed once the protocol is done with it (at once:
 * the cancel forgets it). */
static void
st_close(int fd, void *x, int notify)
{
	struct h2up_stream *st = x;

	(void)fd;
	(void)notify;
	if (st == NULL || (st->f & S_END_CLOSED))
		return;
	st->f |= S_END_CLOSED;
	st->f &= ~S_HELD;
	st->xrev = st->xwev = NULL;
	stream_reset(st, SL_H2F_CANCEL);
	if (st->c != NULL)
		conn_schedule(st->c); /* the RST_STREAM */
	stream_maybe_free(st);
}

static const struct sl_xprt_ops h2up_xprt_ops = {
    .name = "h2-stream",
    .recv = st_recv,
    .sendv = st_sendv,
    .shutdown = st_shutdown,
    .connect_error = st_connect_error,
    .pending = st_pending,
    .more_waiting = st_more_waiting,
    .outq = st_outq,
    .unsent = st_unsent,
    .send_room = st_send_room,
    .watch = st_watch,
    .abort = st_abort,
    .close = st_close,
};

/* The net layer's table gets the stream's operations once for the
 * process: every worker would store the same pointer at each stream,
 * which is a data race all the same. */
static pthread_once_t xprt_once = PTHREAD_ONCE_INIT;

static void
xprt_register(void)
{
	sl_xprt_set_stream(&h2up_xprt_ops);
}

int
sl_upstream_unprocessed(const struct sl_upconn *u)
{
	return u->h2s && (((const struct h2up_stream *)u->xc)->f & S_UNPROC);
}

const char *
sl_upstream_trailers(const struct sl_upconn *u)
{
	const struct h2up_stream *st = u->xc;

	if (!u->h2s)
		return sl_upstream_h1_trailers(u);
	if (st == NULL || !(st->f & S_RESP_END) ||
	    dbuf_n(&st->hdr) < sizeof(struct sl_hblk))
		return NULL;
	return st->hdr.p + st->hdr.off;
}

void
sl_upstream_end_request(struct sl_upconn *u, const char *trailers)
{
	struct h2up_stream *st = u->xc;

	if (!u->h2s || st == NULL || (st->f & (S_REQ_END | S_FAILED)))
		return;
	/* the trailers' HPACK block in req, which the request's parse no
	 * longer needs; none when every field was the connection's */
	if (trailers != NULL) {
		st->req.off = st->req.len = 0;
		if (h2up_head_trailers(trailers, &st->req) == -1) {
			/* the exchange reads the reset */
			stream_reset(st, SL_H2F_INTERNAL_ERROR);
			stream_fail(st, st->id == 0);
			return;
		}
		if (dbuf_n(&st->req) > 0)
			st->f |= S_REQ_TRL;
	}
	st->f |= S_REQ_END;
	if (st->c != NULL)
		conn_schedule(st->c);
}

int
sl_upstream_ended(const struct sl_upconn *u)
{
	const struct h2up_stream *st = u->xc;

	return u->h2s && st != NULL && (st->f & S_RESP_END) &&
	       !(st->f & S_FAILED) && dbuf_n(&st->resp) == 0;
}

int
sl_upstream_grpc_status(const struct sl_upconn *u)
{
	return u->h2s ? (int)((const struct h2up_stream *)u->xc)->note - 1 : -1;
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
	/* the trailers end the stream after the last DATA */
	if ((n > 0 || !(st->f & S_REQ_TRL)) &&
	    sl_h2c_send_data(&c->h2c, &st->hs,
			     n > 0 ? (const uint8_t *)st->body.p + st->body.off
				   : (const uint8_t *)"",
			     n, end && !(st->f & S_REQ_TRL)) == -1)
		return 0;
	st->body.off += n;
	if (end && (st->f & S_REQ_TRL)) {
		if (sl_h2c_send_headers(&c->h2c, &st->hs,
					(const uint8_t *)st->req.p +
					    st->req.off,
					dbuf_n(&st->req), 1) == -1)
			return 0;
		st->f &= ~(unsigned)S_REQ_TRL;
		st->req.off = st->req.len = 0;
	}
	if (end) {
		st->f |= S_REQ_SENT;
		/* kept for the stream's next use (stream_put) unless large:
		 * a gRPC call's body reallocated and freed was about 250
		 * instructions a call */
		if (st->body.cap > STREAM_BUF_KEPT)
			dbuf_free(&st->body);
		else
			st->body.off = st->body.len = 0;
		if (st->hs.in_end) /* the response had ended first */
			st->f |= S_NG_CLOSED;
	}
	if (!(st->f & S_END_CLOSED) && !end)
		/* room for more of the request */
		st_wake_write(st);
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
	h2up_log_conn(c, "stream reset", d);
	stream_reset(st, SL_H2F_PROTOCOL_ERROR);
	stream_fail(st, 0);
	stream_maybe_free(st);
}

/* The response ended (END_STREAM), in a handler: its trailers kept, then
 * the stream is closed both ways if the request's end went. */
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
	st_wake_read(st);
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
		st_wake_read(st);
		if (st->f & S_REQ_SENT) {
			stream_closed_both(st);
			stream_maybe_free(st);
		}
		return;
	}
	st_wake_read(st);
}

static void
on_data(void *arg, struct sl_h2c_stream *hs, const uint8_t *data, size_t len,
	int end)
{
	struct sl_h2up_conn *c = arg;
	struct h2up_stream *st = H2UP_STREAM_OF(hs);

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
		if (dbuf_put(&st->resp, data, len) == -1) {
			(void)sl_h2c_consumed(&c->h2c, hs, len);
			stream_reset(st, SL_H2F_INTERNAL_ERROR);
			stream_fail(st, 0);
			stream_maybe_free(st);
			return;
		}
		st->unconsumed += len;
		st_wake_read(st);
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
		h2up_log_conn(c, "stream reset", d);
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
	h2up_log_conn(c, "GOAWAY", d);
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

/* Frames sluice sends go to the write buffer (WBUF_CAP at most). */
static uint8_t *
on_out(void *arg, size_t n)
{
	struct sl_h2up_conn *c = arg;

	if (dbuf_n(&c->wbuf) + n > WBUF_CAP)
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
		/* its connect completes */
		st->f &= ~S_HELD;
		st_wake_write(st);
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
		if (!sl_evtimer_pending(&c->run)) {
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
	/* a read that filled the buffer while the transport held more (TLS,
	 * a test's memory end) turned reading off until its owner makes
	 * room: the room is made, reading goes on (on the next turn when
	 * the 16 reads are up) */
	if (why == NULL && !c->gone)
		sl_upstream_want_read(u, 1);
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
		h2up_log_conn(c, "connection closed", why);
	c->gone = 1;
	c->dead = 1;
	if (!c->ready && c->err == 0)
		/* what the streams waiting for its SETTINGS fail with */
		c->err = err != 0 ? err : ECONNRESET;
	if (c->busy > 0)
		return; /* conn_read or conn_pump finishes it */
	while ((st = TAILQ_FIRST(&c->streams)) != NULL) {
		/* a whole response: the exchange reads all of it, then the
		 * end (st_recv: no connection); else the stream fails, not
		 * processed unless its request went and no answer came...
		 * the server may have acted on a request it received:
		 * class 2 */
		if (!(st->f & S_RESP_END))
			stream_fail(st, !c->ready || st->id == 0);
		st->unconsumed = 0;
		if (st->f & S_END_CLOSED) {
			stream_free(st);
		} else {
			stream_detach(st);
			st_wake_read(st);
		}
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
 * A new stream of a shared connection to ep, made if none has room: the
 * transport of the exchange's connection, whose connect completes once
 * the connection has the server's SETTINGS (at once when it has them), or
 * fails as the connection does. Returns it, or NULL with errno (EBUSY:
 * the endpoint is at max_connections; ENOMEM).
 */
static struct h2up_stream *
stream_open(struct sl_wendpoint *ep)
{
	struct sl_h2up_conn *c;
	struct h2up_stream *st;

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
		return NULL;
	if ((st = stream_take()) == NULL) {
		if (c->nstreams == 0)
			conn_close(c, 0, NULL);
		errno = ENOMEM;
		return NULL;
	}
	st->c = c;
	st->f = S_NG_CLOSED; /* no protocol stream yet */
	if (!c->ready)
		st->f |= S_HELD;
	TAILQ_INSERT_TAIL(&c->streams, st, link);
	c->nstreams++;
	sl_event_del(&c->idle);
	return st;
}

struct sl_upconn *
sl_h2up_get(struct sl_worker *w, struct sl_wendpoint *ep,
	    sl_up_handler *handler, void *arg)
{
	struct sl_upconn *u;
	struct h2up_stream *st;

	if ((u = sl_upstream_stream(w, ep, handler, arg)) == NULL)
		return NULL;
	(void)pthread_once(&xprt_once, xprt_register);
	if ((st = stream_open(ep)) == NULL) {
		int saved = errno;
		sl_upstream_put(u, 0);
		errno = saved;
		return NULL;
	}
	u->xc = st;
	if (!(st->f & S_HELD)) {
		/* the shared connection has the server's SETTINGS: connected
		 * at once, as a pooled connection is (no CONNECTED event, a
		 * loop's turn and a wake of the caller spared) */
		u->state = SL_UP_ST_ACTIVE;
		sl_upstream_want_read(u, 1);
		return u;
	}
	/* the stream's connect is in progress, as a socket's, until the
	 * shared connection can take it */
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
