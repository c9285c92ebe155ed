/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (doc/http2.md section 10). A cluster with
 * "protocol: h2c" keeps, per endpoint per worker, a list of shared HTTP/2
 * connections, each an ordinary upstream connection this file owns with
 * an nghttp2 client session used as a state machine over its bytes. An
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
 * nghttp2's callbacks returned.
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
#include "h2up_int.h"
#include "hblock.h"
#include "log.h"
#include "upstream.h"
#include "worker.h"
#include "xprt.h"

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

static ssize_t data_read(nghttp2_session *ng, int32_t id, uint8_t *buf,
			 size_t length, uint32_t *flags,
			 nghttp2_data_source *src, void *ud);

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
		h2up_nv_put(&nv[1], ":scheme", 7, "https", 5);
	else
		h2up_nv_put(&nv[1], ":scheme", 7, "http", 4);
	if (nv[3].valuelen == 0) {
		/* no Host: no :authority (RFC 9113 section 8.3.1) */
		memmove(&nv[3], &nv[4], (k - 4) * sizeof(*nv));
		k--;
	}
	if (st->f & S_GRPC)
		h2up_nv_put(&nv[k++], "te", 2, "trailers", 8);
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

/* Parses what the exchange wrote: the head, then the body into body. */
static int
stream_parse(struct h2up_stream *st)
{
	struct dbuf *r = &st->req;

	if (!(st->f & S_HEAD_IN)) {
		char *p = r->p + r->off, *e;
		size_t n = dbuf_n(r), hl;
		nghttp2_nv stack[48], *nv;
		int body;
		long k;

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
		if ((k = h2up_head_request(st, p, hl, stack,
					   sizeof(stack) / sizeof(stack[0]),
					   &nv, &body)) < 0 ||
		    stream_submit_nv(st, nv, (size_t)k, stack, body) == -1)
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
		if ((st = h2up_stream_of(ng, frame->hd.stream_id)) == NULL)
			break;
		if (h2up_resp_headers(st, end) == -1)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		stream_flush(st);
		break;
	case NGHTTP2_DATA:
		if ((st = h2up_stream_of(ng, frame->hd.stream_id)) == NULL ||
		    !end)
			break;
		if (h2up_resp_end(st) == -1)
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
	struct h2up_stream *st = h2up_stream_of(ng, id);
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
	struct h2up_stream *st = h2up_stream_of(ng, id);

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
    .on_header = h2up_on_header,
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
