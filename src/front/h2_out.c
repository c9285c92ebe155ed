/* SPDX-License-Identifier: MIT */
/*
 * The output of the HTTP/2 codec (h2.c, doc/http2.md section 4): a
 * stream's response as the exchange hands it over into HEADERS, DATA and
 * trailers (a chunked body's framing taken off), the write buffer that
 * nghttp2's send callbacks fill and that goes out through the connection's
 * transport, and flow control: the windows given back as the exchange
 * takes a request's bytes, the room a stream may send, a stream held by
 * its window (send_timeout); and what the frames sent mean (the response's
 * end, nghttp2's own refusals). It calls nothing of h2.c: a failure is
 * returned, or noted in h->dead for the run's end; of the other h2 files
 * it calls h2_head.c (the pairs of a head) and h2_budget.c (refusals).
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "client.h"
#include "exchange.h"
#include "h1_parse.h"
#include "h2_int.h"
#include "log.h"
#include "runtime.h"
#include "tls.h"
#include "xprt.h"

/* The write buffer: frames are put together in it and written at once.
 * It starts small (a few small answers fit) and grows up to WBUF_MAX as
 * the output needs; no frame is made once a whole DATA frame would no
 * longer fit a WBUF_MAX buffer (doc/http2.md section 4). */
#define WBUF_MIN       (4 * 1024)
#define WBUF_MAX       (64 * 1024)
#define DATA_FRAME_MAX (16384 + 9)
/* Request body bytes a stream answered before its request was whole
 * still reads and drops before its RST_STREAM(NO_ERROR) (RFC 9113
 * section 8.1): curl 7.88 (Debian 12) fails an upload reset at once
 * even with its whole answer in hand (doc/http2.md section 3). */
#define DISCARD_MAX (1024 * 1024)

/* Gives back to the windows the request bytes the exchange has taken
 * (written upstream, or dropped), so that the client sends more. */
void
h2_stream_give_back(struct sl_h2stream *st)
{
	struct sl_h2conn *h = st->h;
	uint32_t now_taken, n;

	if (st->unconsumed == 0)
		return;
	if (st->f & S_DISCARD) {
		n = st->unconsumed;
	} else {
		now_taken = st->s.in.off + sl_exchange_body_held(&st->s);
		if (now_taken <= st->taken)
			return;
		/* framed bytes: at least the payload they carry */
		n = SL_MIN(now_taken - st->taken, st->unconsumed);
		st->taken = now_taken;
	}
	st->unconsumed -= n;
	(void)nghttp2_session_consume(h->ng, st->id, n);
}

/* The stream operation send_room (seam.h): what the stream's window and
 * the connection's let it send now, 0 while the transport is blocked. */
size_t
h2_op_send_room(struct sl_seam *s)
{
	struct sl_h2stream *st = STREAM_OF(s);
	struct sl_h2conn *h = st->h;
	int32_t ws, wc;

	if (st->state == H2S_CLOSED || (h->f & C2_WBLOCKED))
		return 0;
	ws = nghttp2_session_get_stream_remote_window_size(h->ng, st->id);
	wc = nghttp2_session_get_remote_window_size(h->ng);
	ws = SL_MIN(ws, wc);
	return ws > 0 ? (size_t)ws : 0;
}

/* ---- the response: HEADERS, DATA and trailers ------------------------ */

static ssize_t h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf,
			    size_t length, uint32_t *dflags,
			    nghttp2_data_source *src, void *ud);

/*
 * Turns the head blocks (hblock.h) at the front of the exchange's output
 * into HEADERS: interim (1xx) ones, then the final one with its body's
 * framing. Returns 0, or -1 with *why set (static) when the stream must be
 * closed and reset (the caller's).
 */
int
h2_resp_heads(struct sl_h2stream *st, const char **why)
{
	struct sl_h2conn *h = st->h;
	struct sl_seam *s = &st->s;

	while (!(st->f & S_HEAD_OUT) && s->txn != NULL) {
		struct iovec iov[2];
		nghttp2_data_provider prd;
		struct sl_hblk b;
		nghttp2_nv *nv;
		int hints, r;
		long k;

		if (sl_exchange_output(s, iov, &hints) == 0)
			return 0;
		/* blocks are written whole, in the exchange's head buffer */
		if (iov[0].iov_len < sizeof(b)) {
			*why = "http2_bad_response_head";
			return -1;
		}
		sl_hblk_head(iov[0].iov_base, &b);
		if (b.len < sizeof(b) || b.len > iov[0].iov_len ||
		    (k = h2_resp_head_nv(st, iov[0].iov_base, &b, &nv)) < 0) {
			*why = "http2_bad_response_head";
			return -1;
		}
		if (b.status < 200) {
			r = nghttp2_submit_headers(h->ng, NGHTTP2_FLAG_NONE,
						   st->id, NULL, nv, (size_t)k,
						   NULL);
		} else {
			if ((st->f & S_HEAD_REQ) || b.status == 204 ||
			    b.status == 304 || b.body == SL_H1_BODY_NONE ||
			    (b.body == SL_H1_BODY_LENGTH && b.length == 0))
				st->body = H2B_NONE;
			else if (b.body == SL_H1_BODY_CHUNKED) {
				st->body = H2B_CHUNKED;
				sl_h1_chunked_init(
				    &st->ch, s->lconf->limits.max_header_bytes);
			} else if (b.body == SL_H1_BODY_LENGTH) {
				st->body = H2B_LENGTH;
				st->resp_left = b.length;
			} else
				st->body = H2B_UNTIL_END;
			prd.source.ptr = st;
			prd.read_callback = h2_data_read;
			r = nghttp2_submit_response(
			    h->ng, st->id, nv, (size_t)k,
			    st->body != H2B_NONE ? &prd : NULL);
			st->f |= S_HEAD_OUT;
		}
		if (r != 0) {
			*why = "http2_submit_failed";
			return -1;
		}
		(void)sl_exchange_sent(s, b.len);
	}
	return 0;
}

/* The trailer section gathered: its fields as a last HEADERS. Returns 1
 * when one was submitted. */
static int
resp_trailers(struct sl_h2stream *st)
{
	nghttp2_nv *nv;
	long n;

	if (st->trailers.data == NULL || st->trailers.len <= 2)
		return 0;
	n = h2_trailer_nv(st->s.w, st->trailers.data, st->trailers.len, &nv);
	if (n <= 0)
		return 0;
	return nghttp2_submit_trailer(st->h->ng, st->id, nv, (size_t)n) == 0;
}

static int
trailers_put(struct sl_h2stream *st, const char *p, size_t n)
{
	struct sl_buf *b = &st->trailers;
	struct sl_worker *w = st->s.w;

	if (sl_buf_alloc(&w->bufs, b, 4096) == -1)
		return -1;
	if (sl_buf_space(b) < n &&
	    sl_buf_grow(&w->bufs, b,
			SL_MAX((size_t)b->len + n, (size_t)b->cap * 2)) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

/*
 * How many payload bytes of the response can go in a DATA frame now (at
 * most max), at the front of the exchange's output; a chunked body's
 * framing before them is taken off first (its trailer section kept).
 * *end is set when the body ends with them. Returns -1 on bad framing.
 */
static long
resp_avail(struct sl_h2stream *st, size_t max, int *end)
{
	struct sl_seam *s = &st->s;
	struct iovec iov[2];
	int hints, niov;

	*end = 0;
	if (s->txn == NULL) {
		*end = 1;
		return 0;
	}
	for (int guard = 0; guard < 64; guard++) {
		size_t data, tr, avail;
		long fr;

		niov = sl_exchange_output(s, iov, &hints);
		avail = niov > 0 ? iov[0].iov_len : 0;
		switch ((enum h2s_body)st->body) {
		case H2B_NONE:
			*end = 1;
			return 0;
		case H2B_LENGTH:
			avail = (size_t)SL_MIN((uint64_t)avail, st->resp_left);
			avail = SL_MIN(avail, max);
			*end = avail == st->resp_left;
			return (long)avail;
		case H2B_UNTIL_END:
			if (niov == 2)
				avail += iov[1].iov_len;
			if (avail <= max && sl_exchange_output_done(s))
				*end = 1;
			return (long)SL_MIN(avail, max);
		case H2B_CHUNKED:
			break;
		}
		if (st->ch.done) {
			*end = 1;
			return 0;
		}
		if (niov == 0)
			return 0;
		fr = sl_h1_chunked_frame(&st->ch, iov[0].iov_base,
					 iov[0].iov_len, &data, &tr);
		if (fr < 0)
			return -1;
		if ((size_t)fr > tr &&
		    trailers_put(st, (char *)iov[0].iov_base + tr,
				 (size_t)fr - tr) == -1)
			return -1;
		if (fr > 0) {
			(void)sl_exchange_sent(s, (size_t)fr);
			if (s->txn == NULL)
				return 0;
			continue;
		}
		if (st->ch.done) {
			*end = 1;
			return 0;
		}
		return (long)SL_MIN(data, max);
	}
	return 0;
}

static ssize_t
h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
	     uint32_t *dflags, nghttp2_data_source *src, void *ud)
{
	struct sl_h2stream *st = src->ptr;
	int end;
	long n;

	if (st->state == H2S_CLOSED)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = resp_avail(st, length, &end);
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (end) {
		*dflags |= NGHTTP2_DATA_FLAG_EOF;
		if (resp_trailers(st))
			*dflags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	} else if (n == 0) {
		st->f |= S_DEFERRED;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n > 0)
		*dflags |= NGHTTP2_DATA_FLAG_NO_COPY;
	return n;
}

/* Room for n more bytes in the write buffer, grown as far as WBUF_MAX.
 * Returns 0, or -1 when they do not fit (or no memory). */
static int
wbuf_room(struct sl_h2conn *h, size_t n)
{
	struct sl_buf *b = &h->wbuf;
	size_t want;

	if (sl_buf_space(b) >= n)
		return 0;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, sl_buf_pending(b));
		b->len -= b->off;
		b->off = 0;
		if (sl_buf_space(b) >= n)
			return 0;
	}
	want = (size_t)b->len + n;
	if (want > WBUF_MAX)
		return -1;
	return sl_buf_grow(&h->c->s.w->bufs, b, want);
}

static void
wbuf_put(struct sl_h2conn *h, const void *p, size_t n)
{
	memcpy(h->wbuf.data + h->wbuf.len, p, n);
	h->wbuf.len += (uint32_t)n;
}

/* No frame more now: a whole DATA frame would not fit behind what waits. */
static int
wbuf_full(const struct sl_h2conn *h)
{
	return sl_buf_pending(&h->wbuf) > WBUF_MAX - DATA_FRAME_MAX;
}

/* A DATA frame: its header, then the payload copied from the exchange's
 * output, which it then counts as sent. */
int
h2_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
	     size_t length, nghttp2_data_source *src, void *ud)
{
	struct sl_h2conn *h = H2_OF_SESSION(ud);
	struct sl_h2stream *st = src->ptr;
	struct sl_seam *s = &st->s;
	size_t left = length;

	/* h2_output makes frames only while a whole DATA frame fits */
	if (wbuf_room(h, 9 + length) == -1)
		return NGHTTP2_ERR_WOULDBLOCK;
	wbuf_put(h, framehd, 9);
	if (length > 0 && s->txn != NULL) {
		struct iovec iov[2];
		int hints, niov = sl_exchange_output(s, iov, &hints);
		for (int i = 0; i < niov && left > 0; i++) {
			size_t k = SL_MIN(left, iov[i].iov_len);
			wbuf_put(h, iov[i].iov_base, k);
			if (st->body == H2B_CHUNKED) {
				size_t consumed, dl;
				(void)sl_h1_chunked_decode(&st->ch,
							   iov[i].iov_base, k,
							   0, &consumed, &dl);
			}
			left -= k;
		}
		if (st->body == H2B_LENGTH)
			st->resp_left -= length - left;
		(void)sl_exchange_sent(s, length - left);
		if (s->flags & SL_SEAM_F_WBLOCK) {
			s->flags &= ~SL_SEAM_F_WBLOCK;
			if (s->txn != NULL)
				(void)sl_exchange_writable(s);
		}
	}
	if (left > 0) {
		/* the exchange has fewer bytes than it said: never, but
		 * a short frame would break the connection */
		memset(h->wbuf.data + h->wbuf.len, 0, left);
		h->wbuf.len += (uint32_t)left;
	}
	h2_stream_dirty(st);
	return wbuf_full(h) ? NGHTTP2_ERR_PAUSE : 0;
}

/* Other frames: into the write buffer while a DATA frame's room stays
 * free behind them in a buffer of WBUF_MAX. */
ssize_t
h2_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags,
	void *ud)
{
	struct sl_h2conn *h = H2_OF_SESSION(ud);
	size_t room = WBUF_MAX - DATA_FRAME_MAX - sl_buf_pending(&h->wbuf);

	if (sl_buf_pending(&h->wbuf) >= WBUF_MAX - DATA_FRAME_MAX)
		return NGHTTP2_ERR_WOULDBLOCK;
	len = SL_MIN(len, room);
	if (wbuf_room(h, len) == -1)
		return NGHTTP2_ERR_WOULDBLOCK;
	wbuf_put(h, data, len);
	return (ssize_t)len;
}

/* ---- the write buffer's way out -------------------------------------- */

/* Writes what the write buffer holds. Returns -1 when the connection
 * failed (h->dead set). */
int
h2_wbuf_flush(struct sl_h2conn *h)
{
	struct sl_client *c = h->c;
	struct iovec iov;
	ssize_t n;
	int want = 0;

	while (sl_buf_pending(&h->wbuf) > 0 && !(h->f & C2_WBLOCKED)) {
		iov.iov_base = h->wbuf.data + h->wbuf.off;
		iov.iov_len = sl_buf_pending(&h->wbuf);
		/* its close always asks what is unsent (client_finish) */
		c->s.flags |= C_F_OUT_BACKLOG;
		n = XPRT(c)->sendv(c->fd, c->xc, &iov, 1, 0, &want);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				h->dead = "client_write_error";
				h->dead_abort = 1;
				return -1;
			}
			h->f |= C2_WBLOCKED;
			if (h->wblock_ms == 0)
				h->wblock_ms = now_ms();
			if (want == SL_TLS_WANT_READ)
				h->f |= C2_W_READ;
			else
				(void)XPRT(c)->watch(c->fd, c->xc, &h->wev, 1);
			break;
		}
		SL_STAT_ADD(c->s.w->stats.client_bytes_out, (uint64_t)n);
		h->wbuf.off += (uint32_t)n;
		h->wblock_ms = 0;
	}
	return 0;
}

/* Has nghttp2 frame what is ready, and writes it. */
void
h2_output(struct sl_h2conn *h)
{
	struct sl_worker *w = h->c->s.w;

	/* what an earlier run framed and the transport would not take goes
	 * first: the run of a write event may have nothing new to frame,
	 * and a download's last frames must not wait for another event */
	if (sl_buf_pending(&h->wbuf) > 0 && !(h->f & C2_WBLOCKED) &&
	    h2_wbuf_flush(h) == -1)
		return;
	for (int guard = 0; guard < 32 && !(h->f & C2_WBLOCKED); guard++) {
		uint32_t before;
		int rv;

		if (!nghttp2_session_want_write(h->ng))
			break;
		if (sl_buf_alloc(&w->bufs, &h->wbuf, WBUF_MIN) == -1) {
			h->dead = "out_of_memory";
			return;
		}
		if (sl_buf_pending(&h->wbuf) == 0)
			h->wbuf.off = h->wbuf.len = 0;
		before = h->wbuf.len;
		if (!wbuf_full(h) && (rv = nghttp2_session_send(h->ng)) != 0) {
			if (h->dead == NULL) {
				h->dead = "http2_protocol_error";
				h->dead_now = 1;
			}
			(void)h2_wbuf_flush(h);
			return;
		}
		/* nothing framed: what nghttp2 holds waits for a window */
		if (h->wbuf.len == before && sl_buf_pending(&h->wbuf) == 0)
			break;
		if (h2_wbuf_flush(h) == -1)
			return;
	}
}

/* ---- the frames sent ---------------------------------------------------- */

/* A stream answered before its request was whole (S_RST_AFTER) drops
 * n more bytes of it; once its answer's end is sent and DISCARD_MAX
 * bytes were dropped, the client is asked to stop. */
void
h2_rst_after(struct sl_h2stream *st, size_t n)
{
	if (!(st->f & S_RST_AFTER))
		return;
	st->discarded =
	    (uint32_t)SL_MIN((size_t)st->discarded + n, (size_t)DISCARD_MAX);
	if ((st->f & S_OUT_END) && st->discarded >= DISCARD_MAX)
		h2_stream_reset(st, NGHTTP2_NO_ERROR);
}

/* nghttp2's on_frame_send callback, for what sluice sent: DATA pays into
 * the flow budget, a response's end may reset a request not read whole,
 * and resets and GOAWAYs that nghttp2 made itself are its protocol checks
 * (and its refusal of streams over the limit): refusals. */
int
h2_on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct sl_h2conn *h = H2_OF_SESSION(ud);
	struct sl_h2stream *st;

	switch (frame->hd.type) {
	case NGHTTP2_DATA:
		if (frame->hd.length > 0 && h->flow < FLOW_MAX)
			h->flow += FLOW_PER_DATA;
		/* fall through */
	case NGHTTP2_HEADERS:
		/* the response's end; with the request not read whole
		 * (op_done came first), the client may stop sending it
		 * (RFC 9113 section 8.1) */
		if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
		    (st = nghttp2_session_get_stream_user_data(
			 ng, frame->hd.stream_id)) != NULL) {
			st->f |= S_OUT_END;
			h2_rst_after(st, 0);
		}
		return 0;
	case NGHTTP2_RST_STREAM:
		st = nghttp2_session_get_stream_user_data(ng,
							  frame->hd.stream_id);
		if (st != NULL && (st->f & S_RESET))
			return 0;
		/* answered whole before its request was: a client that
		 * ends its upload short then (curl sends an empty DATA
		 * with END_STREAM, which nghttp2 finds short of the
		 * Content-Length) has broken no rule that matters */
		if (st != NULL && (st->f & S_OUT_END) && !(st->f & S_IN_END)) {
			if (sl_log_enabled(SL_LOG_DEBUG))
				log_debug("conn=%llu stream=%d: request body "
					  "ended short after its answer",
					  (unsigned long long)h->c->s.id,
					  frame->hd.stream_id);
			return 0;
		}
		h2_refused_sent(h, frame);
		return 0;
	case NGHTTP2_GOAWAY:
		h2_refused_sent(h, frame);
		return 0;
	default:
		return 0;
	}
}
