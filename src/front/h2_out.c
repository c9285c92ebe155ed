/* SPDX-License-Identifier: MIT */
/*
 * The output of the HTTP/2 codec (h2.c, doc/http2.md section 4): a
 * stream's response as the exchange hands it over into HEADERS, DATA and
 * trailers (a body of a length, or of pieces as they come, its trailers a
 * field block; the heads HPACK-encoded by h2_head.c), framed by sluice's own
 * connection state (h2conn.h) into the write buffer, which goes out through the
 * connection's transport; the streams take turns, a frame each, while a whole
 * DATA frame fits. And flow control: the windows given back as the exchange
 * takes a request's bytes, the room a stream may send, a stream held by its
 * window (send_timeout). It calls nothing of h2.c: a failure is returned, or
 * noted in h->dead for the run's end; of the other h2 files it calls
 * h2_head.c (the heads' encoding) and h2_budget.c (refusals).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
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
 * the responses need; no DATA frame is made once a whole one would no
 * longer fit a WBUF_MAX buffer (doc/http2.md section 4). The frames the
 * connection's state answers with (SETTINGS and PING acknowledgements,
 * WINDOW_UPDATE, RST_STREAM, GOAWAY) and large heads may take it past
 * WBUF_MAX, up to OUT_MAX; reading stops while it cannot be written. */
#define WBUF_MIN       (4 * 1024)
#define WBUF_MAX       (64 * 1024)
#define OUT_MAX	       (8 * 1024 * 1024)
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
	(void)sl_h2c_consumed(&h->h2c, &st->hs, n);
}

int32_t
h2_send_window(const struct sl_h2stream *st)
{
	const struct sl_h2c *c = &st->h->h2c;

	if (st->f & (S_NG_CLOSED | S_OUT_END))
		return 0;
	return SL_MIN(c->send_win, st->hs.send_win);
}

/* The stream operation send_room (seam.h): what the stream's window and
 * the connection's let it send now, 0 while the transport is blocked. */
size_t
h2_op_send_room(struct sl_seam *s)
{
	struct sl_h2stream *st = STREAM_OF(s);
	struct sl_h2conn *h = st->h;
	int32_t ws;

	if (st->state == H2S_CLOSED || (h->f & C2_WBLOCKED))
		return 0;
	ws = h2_send_window(st);
	return ws > 0 ? (size_t)ws : 0;
}

/* ---- the response: HEADERS, DATA and trailers ------------------------ */

/*
 * A response head block (or the trailers, a block of status 0) as
 * HEADERS, END_STREAM with end. One that fits a frame is HPACK-encoded
 * straight into the write buffer behind its frame's header, and the room
 * it did not use given back: no copy from the worker's block (about 110
 * instructions an answer, doc/performance.md "Issue 79, session 51");
 * a larger one goes through the worker's block and CONTINUATIONs.
 * Returns 0, or -1 (no memory, or the connection failed).
 */
static int
send_head_block(struct sl_h2stream *st, const char *block,
		const struct sl_hblk *b, int end)
{
	struct sl_h2conn *h = st->h;
	size_t max = h2_resp_head_max(b), k;
	uint8_t *frame;
	long n;

	if (h->h2c.failed)
		return -1;
	/* no room: the way of the worker's block, whose frame then finds
	 * none either and fails the connection (h2conn.c's out) */
	if (max > h->h2c.peer_max_frame ||
	    (frame = h2_out_room(h, SL_H2F_HEADER_LEN + max)) == NULL) {
		if ((n = h2_resp_head_enc(st, block, b)) < 0)
			return -1;
		return sl_h2c_send_headers(&h->h2c, &st->hs, h2w(st->s.w)->enc,
					   (size_t)n, end);
	}
	k = h2_resp_head_enc_at(st, frame + SL_H2F_HEADER_LEN, block, b);
	/* the room is the write buffer's last bytes: the rest goes back */
	h->wbuf.len -= (uint32_t)(max - k);
	return sl_h2c_send_headers_placed(&h->h2c, &st->hs, frame, k, end);
}

/*
 * Turns the head blocks (hblock.h) at the front of the exchange's output
 * into HEADERS: interim (1xx) ones, then the final one with its body's
 * framing. Returns 0, or -1 with *why set (static) when the stream must be
 * closed and reset (the caller's).
 */
int
h2_resp_heads(struct sl_h2stream *st, const char **why)
{
	struct sl_seam *s = &st->s;

	while (!(st->f & S_HEAD_OUT) && s->txn != NULL) {
		struct iovec iov[SL_EXCHANGE_IOV];
		struct sl_hblk b;
		int hints, end = 0;

		if (sl_exchange_output(s, iov, &hints) == 0)
			return 0;
		/* blocks are written whole, in the exchange's head buffer */
		if (iov[0].iov_len < sizeof(b)) {
			*why = "http2_bad_response_head";
			return -1;
		}
		sl_hblk_head(iov[0].iov_base, &b);
		if (b.len < sizeof(b) || b.len > iov[0].iov_len) {
			*why = "http2_bad_response_head";
			return -1;
		}
		if (b.status >= 200) {
			if ((st->f & S_HEAD_REQ) || b.status == 204 ||
			    b.status == 304 || b.body == SL_H1_BODY_NONE ||
			    (b.body == SL_H1_BODY_LENGTH && b.length == 0))
				st->body = H2B_NONE;
			else if (b.body == SL_H1_BODY_CHUNKED) {
				/* the chunked coding is HTTP/1.1's: the
				 * exchange hands pieces to a codec of fields */
				*why = "http2_bad_response_head";
				return -1;
			} else if (b.body == SL_H1_BODY_LENGTH) {
				st->body = H2B_LENGTH;
				st->resp_left = b.length;
			} else
				st->body = H2B_UNTIL_END;
			end = st->body == H2B_NONE;
			st->f |= S_HEAD_OUT;
		}
		if ((st->f & (S_NG_CLOSED | S_OUT_END)) ||
		    send_head_block(st, iov[0].iov_base, &b, end) != 0) {
			*why = "http2_submit_failed";
			return -1;
		}
		if (end)
			h2_out_ended(st);
		(void)sl_exchange_sent(s, b.len);
	}
	return 0;
}

/* The trailers, a field block (h2_op_trailers), as a last HEADERS with
 * END_STREAM. Returns 1 when one was sent, 0 when there is none, -1 when
 * it could not be. */
static int
resp_trailers(struct sl_h2stream *st)
{
	struct sl_hblk b;

	if (st->trl_block == NULL)
		return 0;
	sl_hblk_head(st->trl_block, &b);
	/* a section of no field: none (an empty DATA ends the stream) */
	if (b.nfields == 0)
		return 0;
	return send_head_block(st, st->trl_block, &b, 1) == 0 ? 1 : -1;
}

/* The stream operation trailers (seam.h): the response's trailers as a
 * field block, after a body of pieces, kept for the stream's end. */
int
h2_op_trailers(struct sl_seam *s, const char *block)
{
	struct sl_h2stream *st = STREAM_OF(s);
	struct sl_hblk b;

	sl_hblk_head(block, &b);
	if (b.nfields == 0 || st->trl_block != NULL)
		return 0;
	if (b.len <= sizeof(st->trl_inline))
		st->trl_block = st->trl_inline;
	else if ((st->trl_block = malloc(b.len)) == NULL)
		return -1;
	memcpy(st->trl_block, block, b.len);
	return 0;
}

/*
 * How many payload bytes of the response can go in a DATA frame now (at
 * most max), at the front of the exchange's output, from *base. *end is
 * set when the body ends with them.
 */
static size_t
resp_avail(struct sl_h2stream *st, size_t max, int *end, const void **base)
{
	struct sl_seam *s = &st->s;
	struct iovec iov[SL_EXCHANGE_IOV];
	int hints, niov;
	size_t avail;

	*end = 0;
	*base = "";
	if (s->txn == NULL) {
		*end = 1;
		return 0;
	}
	niov = sl_exchange_output(s, iov, &hints);
	avail = niov > 0 ? iov[0].iov_len : 0;
	if (niov > 0)
		*base = iov[0].iov_base;
	switch ((enum h2s_body)st->body) {
	case H2B_NONE:
		*end = 1;
		return 0;
	case H2B_LENGTH:
		avail = (size_t)SL_MIN((uint64_t)avail, st->resp_left);
		avail = SL_MIN(avail, max);
		*end = avail == st->resp_left;
		return avail;
	case H2B_UNTIL_END:
		break;
	}
	/* a frame from the first piece (the exchange's output wraps around
	 * its buffer) */
	if (niov < 2 && avail <= max && sl_exchange_output_done(s))
		*end = 1;
	return SL_MIN(avail, max);
}

/* No frame more now: a whole DATA frame would not fit behind what waits. */
static int
wbuf_full(const struct sl_h2conn *h)
{
	return sl_buf_pending(&h->wbuf) > WBUF_MAX - DATA_FRAME_MAX;
}

uint8_t *
h2_out_room(void *arg, size_t n)
{
	struct sl_h2conn *h = arg;
	struct sl_buf *b = &h->wbuf;
	uint8_t *p;

	if (sl_buf_alloc(&h->c->s.w->bufs, b, WBUF_MIN) == -1)
		return NULL;
	if (sl_buf_pending(b) == 0)
		b->off = b->len = 0;
	if (sl_buf_space(b) < n) {
		if (b->off > 0) {
			memmove(b->data, b->data + b->off, sl_buf_pending(b));
			b->len -= b->off;
			b->off = 0;
		}
		if (sl_buf_space(b) < n &&
		    ((size_t)b->len + n > OUT_MAX ||
		     sl_buf_grow(&h->c->s.w->bufs, b,
				 SL_MAX((size_t)b->len + n,
					SL_MIN((size_t)b->cap * 2,
					       (size_t)WBUF_MAX))) == -1))
			return NULL;
	}
	p = (uint8_t *)b->data + b->len;
	b->len += (uint32_t)n;
	return p;
}

/* The response's END_STREAM went: the stream is closed both ways once
 * the request's came too (the connection's state forgot it). */
void
h2_out_ended(struct sl_h2stream *st)
{
	st->f |= S_OUT_END;
	if (st->hs.in_end)
		st->f |= S_NG_CLOSED;
	/* with the request not read whole (op_done came first), the
	 * client may stop sending it (RFC 9113 section 8.1) */
	h2_rst_after(st, 0);
	h2_stream_dirty(st);
}

/* The response's bytes could not be framed (bad chunked framing, no
 * memory): the stream's exchange is cut, the stream reset. */
static void
frame_failed(struct sl_h2stream *st, const char *why)
{
	if (st->s.txn != NULL) {
		st->s.close_reason = why;
		sl_exchange_closed(&st->s, why);
	}
	h2_stream_reset(st, SL_H2F_INTERNAL_ERROR);
	if (st->state != H2S_CLOSED)
		h2_stream_set_state(st, H2S_DONE);
}

/* One DATA frame of st's response (and its trailers or END_STREAM when
 * the body ends), as much as its windows, the peer's frame size and the
 * write buffer allow. Returns 1 when a frame went, 0 when none could. */
static int
frame_stream(struct sl_h2stream *st)
{
	struct sl_h2conn *h = st->h;
	struct sl_seam *s = &st->s;
	int32_t win = h2_send_window(st);
	size_t room = win > 0 ? (size_t)win : 0;
	int end, tr = 0;
	const void *base;
	size_t n;

	room = SL_MIN(room, (size_t)h->h2c.peer_max_frame);
	n = resp_avail(st, room, &end, &base);
	if (st->state == H2S_CLOSED || (st->f & S_NG_CLOSED))
		return 0;
	if (n == 0 && !end)
		return 0;
	/* trailers end the stream after the DATA, else the last DATA
	 * carries END_STREAM */
	tr = end && st->trl_block != NULL;
	if (n > 0 || (end && !tr)) {
		/* base: the bytes resp_avail counted, at the output's front */
		if (sl_h2c_send_data(&h->h2c, &st->hs, n > 0 ? base : "", n,
				     end && !tr) != 0) {
			h->dead = "out_of_memory";
			return 0;
		}
		if (st->body == H2B_LENGTH)
			st->resp_left -= (uint64_t)n;
		if (n > 0 && h->flow < FLOW_MAX)
			h->flow += FLOW_PER_DATA;
	}
	if (tr) {
		int r = resp_trailers(st);

		if (r < 0) {
			frame_failed(st, "http2_bad_response_trailers");
			return 0;
		}
		/* a section of no field: an empty DATA ends it */
		if (r == 0 &&
		    sl_h2c_send_data(&h->h2c, &st->hs, (const uint8_t *)"", 0,
				     1) != 0) {
			h->dead = "out_of_memory";
			return 0;
		}
	}
	if (end)
		h2_out_ended(st);
	if (n > 0) {
		(void)sl_exchange_sent(s, n);
		if ((s->flags & SL_SEAM_F_WBLOCK) && s->txn != NULL) {
			s->flags &= ~SL_SEAM_F_WBLOCK;
			(void)sl_exchange_writable(s);
		}
	}
	h2_stream_dirty(st);
	return 1;
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
			/* TLS may need a read first; else h2.c watches for
			 * writability at the run's end (wev_arm) */
			if (want == SL_TLS_WANT_READ)
				h->f |= C2_W_READ;
			break;
		}
		SL_STAT_ADD(c->s.w->stats.client_bytes_out, (uint64_t)n);
		h->wbuf.off += (uint32_t)n;
		h->wblock_ms = 0;
	}
	return 0;
}

/* Whether st has a response to frame: its head went, its END_STREAM did
 * not, and the protocol still holds it. */
static int
stream_sends(const struct sl_h2stream *st)
{
	return (st->f & (S_HEAD_OUT | S_OUT_END | S_NG_CLOSED | S_RESET |
			 S_CLIENT_RST)) == S_HEAD_OUT &&
	       st->state != H2S_CLOSED;
}

/*
 * Frames the streams' responses, a DATA frame each in turn while a whole
 * one fits in the write buffer, behind what the buffer already holds (the
 * heads the exchanges' flush put there since the last write, the frames
 * the connection's state answered with). The buffer is written when no
 * more frames fit, and at the end when flush is set; the run of a
 * client's read leaves it to the connection's run at the end of the
 * loop's turn, which writes what the whole turn made ready in one write
 * (doc/http2.md section 4, "One write a turn").
 */
void
h2_output(struct sl_h2conn *h, int flush)
{
	for (int guard = 0; guard < 32 && !(h->f & C2_WBLOCKED); guard++) {
		struct sl_h2stream *st, *nx, *last;
		int sent = 0;

		if (h->dead != NULL || h->h2c.failed)
			break;
		/* no whole frame fits behind what waits: that goes first (a
		 * download's next frames, or a write event's run that has
		 * nothing new to frame) */
		if (wbuf_full(h) &&
		    (h2_wbuf_flush(h) == -1 || (h->f & C2_WBLOCKED)))
			return;
		/* one pass: each stream a frame, the ones that sent moved
		 * to the end (the next pass, and run, starts with the
		 * others) */
		last = TAILQ_LAST(&h->streams, sl_h2stream_q);
		for (st = TAILQ_FIRST(&h->streams); st != NULL; st = nx) {
			int done = st == last;

			nx = TAILQ_NEXT(st, link);
			if (wbuf_full(h))
				break;
			if (stream_sends(st) && frame_stream(st)) {
				sent = 1;
				if (st->state != H2S_CLOSED && nx != NULL) {
					TAILQ_REMOVE(&h->streams, st, link);
					TAILQ_INSERT_TAIL(&h->streams, st,
							  link);
				}
			}
			if (done || h->dead != NULL)
				break;
		}
		if (!sent || h->dead != NULL)
			break;
	}
	if (sl_buf_pending(&h->wbuf) > 0 && !(h->f & C2_WBLOCKED) &&
	    (flush || wbuf_full(h)))
		(void)h2_wbuf_flush(h);
}

/*
 * The stream's first DATA frame framed at once, from its exchange's flush
 * (op_flush), when the stream may send and a whole frame fits: the
 * exchange then sees its answer taken in the same pump and ends there,
 * where a frame left to the run's output needed one more pump of the
 * stream (doc/http2.md section 4). The frame waits in the write buffer
 * for the run's write as any other: one write a turn still. Not while
 * the stream is blocked: its writable call would enter the exchange
 * again.
 */
void
h2_out_frame_now(struct sl_h2stream *st)
{
	if (stream_sends(st) && !wbuf_full(st->h) &&
	    !(st->s.flags & SL_SEAM_F_WBLOCK) && st->h->dead == NULL &&
	    !st->h->h2c.failed)
		(void)frame_stream(st);
}

/* ---- a request not read whole ---------------------------------------- */

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
		h2_stream_reset(st, SL_H2F_NO_ERROR);
}
