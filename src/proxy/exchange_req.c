/* SPDX-License-Identifier: MIT */
/*
 * The request direction of an exchange: the request body as it is read
 * (framing, limits, the mirror's copy) and writing the request to the
 * upstream (the send phase, the body kept for a retry, and the upstream's
 * move from sending to waiting). Called by the exchange's core
 * (exchange.c), and by the codecs through exchange.h (the body meter,
 * splicing); it calls neither the core nor the response direction nor the
 * tunnel, and returns the steps that are theirs to the core (enum
 * sl_txn_next): the client's bytes of an HTTP/2 tunnel, and a failed write
 * upstream, after which the core reads the upstream (its answer may be
 * there already) before it fails the attempt. It answers locally through
 * exchange_answer.c (a refusal).
 */
#include "exchange.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "balance.h"
#include "exchange_int.h"
#include "forwarded.h"
#include "h1_parse.h"
#include "log.h"
#include "mirror.h"
#include "policy.h"
#include "rate.h"
#include "retry.h"
#include "rlcheck.h"
#include "route.h"
#include "runtime.h"
#include "splice.h"
#include "tls.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

/* ---- request direction -------------------------------------------------*/

/* Most a spliced read asks for at once (the pipe takes 64 KiB by
 * default, and splice(2) moves what fits) */
#define SPLICE_MAX_READ (16u << 20)

/* Body bytes (as framed) to the filters that see them (a mirror's
 * copy). */
static void
req_tap(struct sl_seam *s, const char *p, size_t n)
{
	const struct sl_wroute *wr = &s->gen->routes[s->txn->route->index];

	for (unsigned i = 0; i < wr->nfilt; i++)
		if (wr->filt[i]->req_data != NULL)
			wr->filt[i]->req_data(s, p, n);
}

void
sl_exchange_body_read(struct sl_seam *s, size_t n)
{
	struct sl_txn *t = s->txn;

	t->clk.last_read_ms = now_ms();
	sl_rate_add(&t->body_rate, t->clk.last_read_ms, (uint64_t)n);
}

void
sl_exchange_body_framing(struct sl_seam *s, size_t n)
{
	s->txn->bytes_in += n;
}

uint32_t
sl_exchange_body_held(const struct sl_seam *s)
{
	return s->txn != NULL ? s->txn->body_off : 0;
}

void
sl_exchange_body_paused(struct sl_seam *s)
{
	sl_rate_excuse(&s->txn->body_rate, now_ms());
}

/* Checks newly read request body bytes (some came, and the body is not
 * complete). Returns -1 when the exchange was turned into an error
 * response, SL_TXN_NEXT_TUNNEL_IN when they are an HTTP/2 tunnel's (all
 * that were read: the core hands them to the tunnel), else 0. */
int
sl_exchange_req_read(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	uint32_t avail = s->in.len - s->in_ready;
	uint64_t k;

	if (t->req.body == SL_H1_BODY_CLOSE) {
		/* a tunnel's bytes (HTTP/2, RFC 8441): all of them go, to
		 * the stream's end */
		s->in_ready += avail;
		t->req.bytes += avail;
		t->bytes_in += avail;
		if (s->flags & SL_SEAM_F_EOF)
			sl_exchange_req_complete(t);
		return t->ws != NULL ? SL_TXN_NEXT_TUNNEL_IN : 0;
	}
	if (t->req.body == SL_H1_BODY_STREAM) {
		/* pieces: all of it is payload, to the stream's end */
		s->in_ready += avail;
		t->req.bytes += avail;
		t->bytes_in += avail;
		if (t->route->max_body_bytes &&
		    t->req.bytes > t->route->max_body_bytes) {
			sl_exchange_reject(s, 413, SL_H1_R_BODY_TOO_LARGE);
			return -1;
		}
		if (t->flags & SL_TXN_F_REQ_TAP)
			req_tap(s, s->in.data + s->in_ready - avail, avail);
		if ((s->flags & (SL_SEAM_F_EOF | SL_SEAM_F_BODY_END)) &&
		    s->in_ready == s->in.len)
			return sl_exchange_req_ended(s);
		return 0;
	}
	/* SL_H1_BODY_LENGTH: the codecs hand a chunked body over as pieces
	 * (seam.h, req_dechunk) */
	k = SL_MIN((uint64_t)avail, t->req.remaining);
	s->in_ready += (uint32_t)k;
	t->req.remaining -= k;
	t->req.bytes += k;
	t->bytes_in += k;
	if (t->req.remaining == 0)
		sl_exchange_req_complete(t);
	if (t->flags & SL_TXN_F_REQ_TAP)
		req_tap(s, s->in.data + s->in_ready - k, (size_t)k);
	return 0;
}

/*
 * A chunked request body (HTTP/1.1) is its codec's to decode: the
 * exchange sees pieces and an end, as from HTTP/2 (doc/design-notes.md,
 * "HTTP/1.1 as a codec of fields"), with the route's bound on the body
 * and the listener's on trailers. Returns -1 when it was answered.
 */
int
sl_exchange_req_dechunk(struct sl_seam *s, struct sl_h1_request *req)
{
	const struct sl_conf_limits *lim = &s->lconf->limits;
	struct sl_seam_dechunk l = {
	    .max_body = s->txn->route->max_body_bytes,
	    .max_trailer_bytes = lim->max_header_bytes,
	    .max_trailers = lim->max_headers,
	    .own = s->lconf->tls.client_subject_header,
	};

	if (s->ops->req_dechunk == NULL) {
		sl_exchange_reject(s, 501,
				   SL_H1_R_UNSUPPORTED_TRANSFER_ENCODING);
		return -1;
	}
	if (s->ops->req_dechunk(s, &l) == -1) {
		sl_exchange_local(s, 503, "out_of_memory", 0);
		return -1;
	}
	req->body = SL_H1_BODY_STREAM;
	s->txn->req.body = SL_H1_BODY_STREAM;
	return 0;
}

int
sl_exchange_body_refuse(struct sl_seam *s)
{
	int why, status = s->ops->req_refusal(s, &why);

	if (status == 503)
		sl_exchange_local(s, 503, "out_of_memory", 1);
	else
		sl_exchange_reject(s, status, why);
	return -1;
}

int
sl_exchange_req_ended(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_limits *lim = &s->lconf->limits;
	const char *trl;
	enum sl_h1_reason why;

	/* a body its codec decodes, refused (malformed framing, too large) */
	if (s->flags & SL_SEAM_F_BODY_BAD)
		return sl_exchange_body_refuse(s);
	if (t->req.body == SL_H1_BODY_STREAM &&
	    (trl = sl_exchange_req_trailers(s)) != NULL &&
	    (why = sl_h1_trailers_check(
		 trl, lim->max_header_bytes, lim->max_headers,
		 s->lconf->tls.client_subject_header)) != SL_H1_R_NONE) {
		sl_exchange_reject(s, 400, why);
		return -1;
	}
	sl_exchange_req_complete(t);
	/* the filters that copy the body learn of its end (a mirror's copy
	 * goes) */
	if (t->flags & SL_TXN_F_REQ_TAP)
		req_tap(s, s->in.data + s->in_ready, 0);
	return 0;
}

/* The request cannot go on now: the upstream's writability is awaited
 * (SL_UP_EV_WRITABLE opens it again). */
static void
send_blocked(struct sl_txn *t, struct sl_upconn *u)
{
	t->send_ph = SL_TXN_SEND_BLOCKED;
	sl_upstream_want_write(u, 1);
}

/* A write to the upstream came back -1 with errno werr: EAGAIN (or
 * EINTR) waits for room; anything else ends the attempt. Returns 0 when
 * it goes on: it waits, or the upstream's answer, already here, goes on;
 * else SL_TXN_NEXT_READ_UP with errno werr: an upstream may answer early
 * (413) and close, and its answer, if the core's read finds it, wins over
 * the write error. */
static int
send_error(struct sl_txn *t, struct sl_upconn *u, int werr)
{
	if (werr == EAGAIN || werr == EINTR) {
		send_blocked(t, u);
		return 0;
	}
	t->send_ph = SL_TXN_SEND_DEAD;
	t->flags |= SL_TXN_F_UP_BROKEN;
	sl_upstream_want_write(u, 0);
	if (t->resp_ph == SL_TXN_RESP_UPSTREAM)
		return 0;
	errno = werr;
	return SL_TXN_NEXT_READ_UP;
}

/* send_done's for a body with no framing: a tunnel's client ended its
 * side, so does the upstream's (a half-close passed on); a body of pieces
 * to an HTTP/2 upstream's stream gets its end mark, and its trailers as
 * fields. Out of line: most requests have neither. */
static void __attribute__((noinline))
send_end_mark(struct sl_txn *t, struct sl_upconn *u)
{
	if (t->req.body == SL_H1_BODY_CLOSE)
		sl_upstream_shutdown(u);
	else if (!t->req.framed || u->h2s)
		sl_upstream_end_request(u, sl_exchange_req_trailers(t->s));
}

/* All of the request is out: the upstream's answer is awaited, unless it
 * came already (it answered early). */
static SL_INLINE void
send_done(struct sl_txn *t, struct sl_upconn *u)
{
	t->send_ph = SL_TXN_SEND_DONE;
	if (t->req.body == SL_H1_BODY_CLOSE || t->req.body == SL_H1_BODY_STREAM)
		send_end_mark(t, u);
	if (t->up_ph == SL_TXN_UP_SENDING)
		t->up_ph = SL_TXN_UP_WAITING;
	t->clk.up_progress_ms = now_ms();
}

/* ---- spliced bodies (doc/design-notes.md, "Spliced request bodies") --- */

/* Ends splicing: the pipe goes back to the worker (closed when it still
 * holds bytes: the exchange ended before they could go). */
void
sl_exchange_splice_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;

	sl_pipe_put(&s->w->pipes, t->pipe);
	t->pipe = NULL;
	s->flags &= ~(unsigned)SL_SEAM_F_SPLICE;
}

/*
 * Everything `in` held of the body is out: whether the rest goes by
 * splice(2), and if so, takes a pipe. The fixed conditions are looked at
 * once an exchange (SL_TXN_F_SPLICE_TRIED): a body of Content-Length of at
 * least splice_min_bytes, no mirror copy to fill, a codec and an upstream
 * connection on plain TCP. The others wait for their moment: some of the
 * body went out already and nothing of it is kept for a retry (it could
 * not be sent again anyway), and `in` holds nothing more.
 */
static void
txn_splice_begin(struct sl_seam *s, struct sl_txn *t, struct sl_upconn *u)
{
	uint64_t min = s->lconf->limits.splice_min_bytes;

	if (t->body_ph != SL_TXN_BODY_GONE || s->in.len != s->in_ready)
		return;
	t->flags |= SL_TXN_F_SPLICE_TRIED;
	if (min == 0 || t->req.body != SL_H1_BODY_LENGTH ||
	    t->req.bytes + t->req.remaining < min ||
	    (t->flags & SL_TXN_F_REQ_TAP) || s->ops->splice_fd == NULL ||
	    s->ops->splice_fd(s) < 0 || !sl_upstream_splice_ok(u))
		return;
	if ((t->pipe = sl_pipe_get(&s->w->pipes)) == NULL) {
		SL_STAT_INC(s->w->stats.splice_no_pipe);
		if (sl_log_enabled(SL_LOG_DEBUG))
			log_debug("conn=%llu request_id=%s: body not spliced: "
				  "%s",
				  (unsigned long long)s->id, t->request_id,
				  errno == EBUSY ? "every pipe in use"
						 : strerror(errno));
		return;
	}
	s->flags |= SL_SEAM_F_SPLICE;
	/* `in` is empty, and stays so while the body is spliced: its
	 * memory goes back (a connection that stops splicing reads into a
	 * new one) */
	sl_buf_release(&s->w->bufs, &s->in);
	s->in_ready = 0;
}

ssize_t
sl_exchange_splice_read(struct sl_seam *s, int fd)
{
	struct sl_txn *t = s->txn;
	ssize_t n;

	/* one pipe's worth at a time: the next once the upstream took it */
	if (t->pipe->held > 0) {
		errno = EAGAIN;
		return -1;
	}
	n = sl_splice_in(t->pipe, fd,
			 (size_t)SL_MIN(t->req.remaining, SPLICE_MAX_READ));
	if (n <= 0)
		return n;
	t->req.remaining -= (uint64_t)n;
	t->req.bytes += (uint64_t)n;
	t->bytes_in += (uint64_t)n;
	SL_STAT_ADD(s->w->stats.client_bytes_in, (uint64_t)n);
	if (t->req.remaining == 0)
		sl_exchange_req_complete(t);
	return n;
}

int
sl_exchange_splice_room(const struct sl_seam *s)
{
	return s->txn->pipe->held == 0;
}

/* sl_exchange_up_write's while splicing: what the pipe holds goes on. */
static int
txn_splice_write(struct sl_seam *s, struct sl_txn *t, struct sl_upconn *u)
{
	ssize_t n;

	if (t->pipe->held > 0) {
		n = sl_upstream_splice(u, t->pipe);
		if (n == -1)
			return send_error(t, u, errno);
		t->clk.up_progress_ms = now_ms();
		t->req.sent += (uint64_t)n;
		SL_STAT_ADD(s->w->stats.spliced_bytes, (uint64_t)n);
		if (t->pipe->held > 0) {
			send_blocked(t, u);
			return 0;
		}
	}
	sl_upstream_want_write(u, 0);
	if (t->req_ph == SL_TXN_REQ_DONE) {
		sl_exchange_splice_end(s);
		send_done(t, u);
	}
	return 0;
}

/*
 * sl_exchange_up_write's for a body of pieces (SL_H1_BODY_STREAM: an
 * HTTP/2 request of no length, an HTTP/1.1 one its codec decoded) under a
 * head written as text: the chunked coding is the upstream writer's
 * (sl_upstream_write_chunked). Each run of payload `in` holds goes as a
 * chunk, in one write with the head still unsent; once the body is
 * whole, the last chunk and the trailers.
 */
static int
up_write_framed(struct sl_seam *s, struct sl_txn *t, struct sl_upconn *u)
{
	for (;;) {
		uint32_t from = s->in.off + t->body_off;
		size_t hp = sl_buf_pending(&t->uphead), k, body,
		       avail = s->in_ready - from;
		int ended;
		/* (no offset to a buffer that may not be there: an empty
		 * body's `in`, a head all sent) */
		ssize_t n = sl_upstream_write_chunked(
		    u, hp > 0 ? t->uphead.data + t->uphead.off : NULL, hp,
		    avail > 0 ? s->in.data + from : NULL, avail,
		    t->req_ph == SL_TXN_REQ_DONE, sl_exchange_req_trailers(s),
		    &body, &ended);

		if (n == -1)
			return send_error(t, u, errno);
		if (n > 0) {
			t->clk.up_progress_ms = now_ms();
			k = SL_MIN((size_t)n, hp);
			t->uphead.off += (uint32_t)k;
			t->req.sent += body;
			if (t->body_ph == SL_TXN_BODY_KEPT) {
				t->body_off += (uint32_t)body;
			} else if (body > 0) {
				s->in.off += (uint32_t)body;
				t->body_ph = SL_TXN_BODY_GONE;
			}
		}
		if (ended) {
			sl_upstream_want_write(u, 0);
			send_done(t, u);
			return 0;
		}
		if (n == 0)
			break;
		/* a body that outgrew the buffer: what went out is dropped,
		 * so that the rest can be read */
		if (t->body_ph == SL_TXN_BODY_KEPT &&
		    t->req_ph != SL_TXN_REQ_DONE &&
		    s->in_ready - s->in.off >= s->lconf->limits.buffer_bytes)
			sl_exchange_req_unretain(s, SL_TXN_BODY_GONE);
		/* a short write: the rest when u takes more */
		if (sl_buf_pending(&t->uphead) > 0 ||
		    sl_upstream_chunked_open(u)) {
			send_blocked(t, u);
			return 0;
		}
	}
	sl_upstream_want_write(u, 0);
	return 0;
}

/* Writes what is ready of the request upstream, while the attempt is
 * connected and its send phase open. Returns 0, or SL_TXN_NEXT_READ_UP
 * when a write failed (errno kept; send_error). */
int
sl_exchange_up_write(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	struct iovec iov[2];
	int niov = 0;
	ssize_t n;
	size_t hp;
	uint32_t from;

	if (t->send_ph != SL_TXN_SEND_OPEN || u == NULL ||
	    u->state != SL_UP_ST_ACTIVE)
		return 0;
	if (t->pipe != NULL)
		return txn_splice_write(s, t, u);
	if (t->req.framed)
		return up_write_framed(s, t, u);
	hp = sl_buf_pending(&t->uphead);
	if (hp > 0)
		iov[niov++] =
		    (struct iovec){t->uphead.data + t->uphead.off, hp};
	/* a kept body is sent from past what this attempt sent already */
	from = s->in.off + t->body_off;
	if (s->in_ready > from)
		iov[niov++] =
		    (struct iovec){s->in.data + from, s->in_ready - from};
	if (niov > 0) {
		n = sl_upstream_writev(u, iov, niov, 0);
		if (n == -1)
			return send_error(t, u, errno);
		t->clk.up_progress_ms = now_ms();
		if ((size_t)n >= hp) {
			uint32_t body = (uint32_t)(n - (ssize_t)hp);
			t->uphead.off += (uint32_t)hp;
			t->req.sent += body;
			if (t->body_ph == SL_TXN_BODY_KEPT) {
				t->body_off += body;
			} else if (body > 0) {
				s->in.off += body;
				t->body_ph = SL_TXN_BODY_GONE;
			}
		} else
			t->uphead.off += (uint32_t)n;
		/* a chunked body that outgrew the buffer: what went out is
		 * dropped, so that the rest can be read */
		if (t->body_ph == SL_TXN_BODY_KEPT &&
		    t->req_ph != SL_TXN_REQ_DONE &&
		    s->in_ready - s->in.off >= s->lconf->limits.buffer_bytes)
			sl_exchange_req_unretain(s, SL_TXN_BODY_GONE);
		if (sl_buf_pending(&t->uphead) > 0 ||
		    s->in_ready > s->in.off + t->body_off) {
			send_blocked(t, u);
			return 0;
		}
	}
	sl_upstream_want_write(u, 0);
	if (t->req_ph == SL_TXN_REQ_DONE)
		send_done(t, u);
	else if (!(t->flags & SL_TXN_F_SPLICE_TRIED))
		txn_splice_begin(s, t, u);
	return 0;
}

/* ---- the body's first bytes ------------------------------------------ */

/* Whether the client's buffer is full and cannot grow: no more of the
 * body comes until it is taken. */
static int
in_full(const struct sl_seam *s)
{
	const struct sl_conf_limits *l = &s->lconf->limits;

	/* a buffer at its size now may still grow: a head starts in a
	 * small one (client.c), which the body's bytes fill at once */
	return s->in.len >= s->in.cap &&
	       s->in.cap >= SL_MAX(l->buffer_bytes, l->max_header_bytes);
}

size_t
sl_exchange_body_take(struct sl_txn *t, const char *p, size_t avail,
		      size_t want, const char **out, int *whole)
{
	size_t n = avail < want ? avail : want;

	*out = p;
	if (t->req.body == SL_H1_BODY_LENGTH) {
		*whole = t->req.bytes + t->req.remaining == n;
		return n;
	}
	/* pieces: the payload as it is, whole at its end; a body its codec
	 * refused (malformed framing) is answered 400 */
	if (t->s->flags & SL_SEAM_F_BODY_BAD) {
		*whole = -1;
		return 0;
	}
	*whole =
	    (t->s->flags & (SL_SEAM_F_EOF | SL_SEAM_F_BODY_END)) && n == avail;
	return n;
}

int
sl_exchange_body_ready(struct sl_seam *s, size_t start, size_t want)
{
	struct sl_txn *t = s->txn;
	const char *b;
	size_t n;
	int whole;

	if (t->req_ph == SL_TXN_REQ_DONE || in_full(s) ||
	    (s->flags & (SL_SEAM_F_EOF | SL_SEAM_F_BODY_END)))
		return 1;
	n = sl_exchange_body_take(t, s->in.data + start, s->in.len - start,
				  want, &b, &whole);
	return n >= want || whole;
}
