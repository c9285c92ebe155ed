/* SPDX-License-Identifier: MIT */
/*
 * The streams of the HTTP/2 codec (h2.c, doc/http2.md): their table and
 * life (opened, adopted into the newest generation, closed, reaped, kept
 * for reuse), what the connection state's handlers hand them (a request's
 * head and trailers, its DATA, a reset, its end; a malformed request
 * reset), the pump that starts each stream's exchange and feeds it, and
 * the operations that exchange calls (seam.h). It never runs the session:
 * what needs a run it asks for (h2_kick: the worker's run queue, which
 * h2.c serves) or notes on the connection (h->dead, C2_AGAIN, the dirty
 * list) for h2.c's run to act on, and it calls nothing of h2.c; of the
 * files below it calls h2_head.c, h2_out.c and h2_budget.c (h2_int.h).
 */
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "client_codec.h"
#include "exchange.h"
#include "h1_parse.h"
#include "h2_int.h"
#include "log.h"
#include "runtime.h"
#include "tls.h"
#include "wgen.h"
#include "wloop.h"

/* Stream ids this close to the end get a GOAWAY: the client reconnects. */
#define STREAM_ID_SLACK (1u << 20)
#define STREAMS_KEPT	256 /* freed streams a worker keeps for reuse */

static const struct sl_seam_ops h2_stream_ops;

/* ---- streams ---------------------------------------------------------- */

static struct sl_h2stream *
stream_new(struct sl_h2conn *h, int32_t id)
{
	struct sl_client *c = h->c;
	struct h2_worker *hw = h2w(c->s.w);
	struct sl_worker *w = c->s.w;
	struct sl_h2stream *st;

	if (hw == NULL)
		return NULL;
	if ((st = hw->free) != NULL) {
		hw->free = st->next;
		hw->nfree--;
	} else if ((st = malloc(sizeof(*st))) == NULL)
		return NULL;
	/* trl_inline, last, is written before it is read */
	memset(st, 0, offsetof(struct sl_h2stream, trl_inline));
	st->h = h;
	st->id = id;
	st->start_ms = now_ms();
	st->s.ops = &h2_stream_ops;
	st->s.w = w;
	st->s.id = c->s.id;
	st->s.stream_id = (uint32_t)id;
	h2_stream_set_state(st, H2S_HEAD);
	st->s.tls_subject = c->s.tls_subject; /* borrowed */
	st->s.pp = c->s.pp;		      /* borrowed */
	memcpy(&st->s.peer, &c->s.peer, sizeof(st->s.peer));
	st->s.flags = c->s.flags & (SL_SEAM_F_TLS | SL_SEAM_F_PEER_CERT);
	TAILQ_INSERT_TAIL(&h->streams, st, link);
	if (h->nopen++ == 0)
		h2_idle_off(h);
	SL_STAT_INC(w->stats.h2_streams);
	return st;
}

/* The stream's generation and listener: the connection's, made the
 * newest one's first (a new stream runs under the newest generation). */
/* The first GOAWAY of a graceful end (RFC 9113 section 6.8): the largest
 * id, so that no stream in flight is lost. */
static void
goaway_notice(struct sl_h2conn *h)
{
	uint8_t *p;

	if (h->h2c.failed ||
	    (p = h2_out_room(h, SL_H2F_HEADER_LEN + 8)) == NULL)
		return;
	(void)sl_h2f_write_goaway(p, SL_H2F_HEADER_LEN + 8,
				  SL_H2F_MAX_STREAM_ID, SL_H2F_NO_ERROR, NULL,
				  0);
}

static void
stream_adopt(struct sl_h2stream *st)
{
	struct sl_h2conn *h = st->h;
	struct sl_client *c = h->c;

	if (sl_client_adopt(c) == -1 && !(h->f & C2_SHUTDOWN)) {
		/* its listener is gone: this stream is served, no more */
		h->f |= C2_SHUTDOWN;
		goaway_notice(h);
	}
	st->s.gen = c->s.gen;
	sl_wgen_ref(st->s.gen);
	st->s.lconf = c->s.lconf;
}

/* The stream's request bytes were all taken: its buffer goes back. */
static void
stream_in_release(struct sl_h2stream *st)
{
	if (st->s.in.data != NULL && st->s.in.off == st->s.in.len) {
		sl_buf_release(&st->s.w->bufs, &st->s.in);
		st->s.in_ready = 0;
		st->taken = 0;
	}
}

/* The stream leaves its connection: its exchange, if still running, is
 * logged as cut by reason and freed; the struct waits on h->reap. */
void
h2_stream_close(struct sl_h2stream *st, const char *reason)
{
	struct sl_h2conn *h = st->h;

	if (st->state == H2S_CLOSED)
		return;
	if (st->s.txn != NULL) {
		st->s.close_reason = reason;
		sl_exchange_closed(&st->s, reason);
	}
	if (h->hs == st)
		h->hs = NULL;
	if (st->f & S_WANT_WRITE) {
		st->f &= ~S_WANT_WRITE;
		h->nwant--;
	}
	/* the protocol forgets it too (an end of sluice's: a reset, or
	 * nothing once the connection ends) */
	if (!(st->f & S_NG_CLOSED)) {
		st->f |= S_NG_CLOSED;
		if (h->h2c.failed)
			sl_h2c_forget(&h->h2c, &st->hs);
		else if (sl_h2c_stream(&h->h2c, (uint32_t)st->id) == &st->hs)
			(void)sl_h2c_reset(&h->h2c, &st->hs, SL_H2F_CANCEL);
	}
	if (st->unconsumed > 0) {
		/* what the connection's window lent it comes back */
		(void)sl_h2c_consumed(&h->h2c, NULL, st->unconsumed);
		st->unconsumed = 0;
	}
	h2_stream_set_state(st, H2S_CLOSED);
	h->nopen--;
	SL_STAT_ADD(st->s.w->stats.h2_streams, -1);
	if (h->nopen == 0) {
		h->idle_ms = now_ms();
		if (!h->h2c.failed)
			h2_idle_on(h);
	}
	TAILQ_REMOVE(&h->streams, st, link);
	/* off the dirty list at the run's end (it may be walked now) */
	if (!(st->f & S_DIRTY)) {
		st->next = h->reap;
		h->reap = st;
	}
	st->f |= S_DISCARD;
}

static void
stream_free(struct sl_h2stream *st)
{
	struct sl_worker *w = st->s.w;

	struct h2_worker *hw = w->h2; /* made with the stream */

	sl_buf_release(&w->bufs, &st->s.in);
	if (st->trl_block != st->trl_inline)
		free(st->trl_block);
	st->trl_block = NULL;
	free(st->rtrl);
	st->rtrl = NULL;
	if (st->s.gen != NULL)
		sl_wgen_unref(w, st->s.gen);
	if (hw->nfree >= STREAMS_KEPT) {
		free(st);
		return;
	}
	st->next = hw->free;
	hw->free = st;
	hw->nfree++;
}

void
sl_h2_worker_free(struct sl_worker *w)
{
	struct h2_worker *hw = w->h2;
	struct sl_h2stream *st;

	if (hw == NULL)
		return;
	if (event_initialized(&hw->run_ev))
		event_del(&hw->run_ev);
	while ((st = hw->free) != NULL) {
		hw->free = st->next;
		free(st);
	}
	free(hw->gather);
	free(hw->scratch);
	free(hw->enc);
	free(hw);
	w->h2 = NULL;
}
/* ---- the connection state's handlers for the streams (h2.c's h2_ops;
 * the connection's own are h2.c's) ------------------------------------ */

/* A stream the client opens (HEADERS on a new id): its struct, or NULL to
 * refuse it (REFUSED_STREAM). */
struct sl_h2c_stream *
h2_on_stream_open(void *arg, uint32_t uid)
{
	struct sl_h2conn *h = arg;
	struct sl_h2stream *st;
	int32_t id = (int32_t)uid;

	/* after the last GOAWAY: the client retries it elsewhere */
	if (h->f & C2_GOAWAY2)
		return NULL;
	h->hdr_block_ms = now_ms();
	h->nrec = 0;
	h->text_len = 0;
	h->scratch.len = h->scratch.off = 0;
	h->m_len = h->p_len = h->a_len = h->ck_len = h->pr_len = 0;
	h->m_off = h->p_off = h->a_off = h->ck_off = h->pr_off = 0;
	h->pseudo = 0;
	h->bad = NULL;
	if ((st = stream_new(h, id)) == NULL) {
		h->hs = NULL;
		return NULL;
	}
	h->hs = st;
	h->nstreams++;
	/* ids near their end: this one is served, then a GOAWAY, and the
	 * client opens a new connection (section 5) */
	if ((uint32_t)id > 0x7fffffffu - STREAM_ID_SLACK &&
	    !(h->f & C2_SHUTDOWN)) {
		h->f |= C2_SHUTDOWN;
		h2_refused(h, SL_H2_R_STREAM_IDS, id,
			   "stream ids near their "
			   "end: GOAWAY");
		goaway_notice(h);
	}
	return &st->hs;
}

/* The request broke RFC 9113 section 8 (a malformed request, section
 * 8.1.1): the stream is reset with PROTOCOL_ERROR, its exchange cut. */
static void
stream_malformed(struct sl_h2stream *st, const char *why)
{
	h2_refused(st->h, SL_H2_R_PROTOCOL, st->id, why);
	if (st->s.txn != NULL) {
		st->s.close_reason = "http2_protocol_error";
		sl_exchange_closed(&st->s, "http2_protocol_error");
	}
	h2_stream_reset(st, SL_H2F_PROTOCOL_ERROR);
	if (st->state != H2S_CLOSED)
		h2_stream_set_state(st, H2S_DONE);
}

/* The request's END_STREAM came (DATA or trailers): the end of a body
 * without framing (a tunnel's, or pieces) is the stream's. */
static void
request_end(struct sl_h2stream *st)
{
	if (st->f & S_OUT_END)
		st->f |= S_NG_CLOSED; /* closed both ways */
	if (st->f & S_DISCARD) {
		h2_stream_dirty(st);
		return;
	}
	if ((st->f & S_CL) && st->req_in != st->req_cl) {
		stream_malformed(st, "a body short of its content-length");
		return;
	}
	st->f |= S_IN_END;
	if (st->f & (S_XCONNECT | S_PIECES))
		st->s.flags |= SL_SEAM_F_EOF;
	h2_stream_dirty(st);
}

/* A header block ended: a request's head, or its trailers. */
void
h2_on_headers(void *arg, struct sl_h2c_stream *hs, int rc, int end)
{
	struct sl_h2conn *h = arg;
	struct sl_h2stream *st = STREAM_OF_HS(hs);
	const char *why;

	if (st->state == H2S_CLOSED)
		return;
	if (h->f & C2_BOMB) {
		h2_refused(h, SL_H2_R_HPACK_BOMB, st->id,
			   "a header block decoding past twice "
			   "max_header_list_bytes");
		h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM, "http2_enhance_your_calm");
		return;
	}
	if (rc == SL_HPACK_MALFORMED && !(st->f & S_MALFORMED)) {
		st->f |= S_MALFORMED;
		h->bad = "a field RFC 9113 section 8.2.1 forbids";
	}
	if (st->state != H2S_HEAD) {
		/* trailers (the connection's state saw END_STREAM) */
		if (st->f & S_MALFORMED) {
			stream_malformed(st, h->bad);
			return;
		}
		if (rc == SL_HPACK_REFUSED && !(st->f & S_DISCARD)) {
			/* a field too long to decode: not passed on whole */
			h2_refused(h, SL_H2_R_HEADER_LIST, st->id,
				   "trailer fields past the limits");
			stream_malformed(st, "trailer fields past the limits");
			return;
		}
		if (end)
			request_end(st);
		return;
	}
	h->hs = NULL;
	h->hdr_block_ms = 0;
	if (rc == SL_HPACK_REFUSED && !(st->f & (S_MALFORMED | S_TOO_LARGE))) {
		/* a field past the decoder's room: as a list too large */
		st->f |= S_TOO_LARGE;
		h2_refused(h, SL_H2_R_HEADER_LIST, st->id,
			   "a field past the decoder's room");
	}
	if ((st->f & S_MALFORMED) ||
	    (!(st->f & S_TOO_LARGE) && h2_head_check(st, &why) == -1)) {
		stream_malformed(st, (st->f & S_MALFORMED) ? h->bad : why);
		return;
	}
	if (st->f & S_BAD_HOST) {
		stream_malformed(st, "Host differs from :authority");
		return;
	}
	if (end && (st->f & S_CL) && st->req_cl != 0 &&
	    !(st->f & S_TOO_LARGE)) {
		stream_malformed(st, "a body short of its content-length");
		return;
	}
	if (!(st->f & S_TOO_LARGE) && h2_head_end(st, end) == -1) {
		st->f |= S_TOO_LARGE;
		h2_refused(h, SL_H2_R_HEADER_LIST, st->id,
			   "head past the buffer");
	}
	h->scratch.len = 0; /* kept while streams are open */
	if (end) {
		st->f |= S_IN_END;
		if (st->f & S_XCONNECT)
			st->s.flags |= SL_SEAM_F_EOF;
	}
	h2_stream_set_state(st, H2S_READY);
	h2_stream_dirty(st);
}

/* DATA bytes of a stream's request, in pieces as they come. */
void
h2_on_data(void *arg, struct sl_h2c_stream *hs, const uint8_t *data, size_t len,
	   int end)
{
	struct sl_h2conn *h = arg;
	struct sl_h2stream *st = STREAM_OF_HS(hs);

	if ((st->f & S_DISCARD) || st->state == H2S_CLOSED) {
		(void)sl_h2c_consumed(&h->h2c, hs, len);
		h2_rst_after(st, len);
		if (end)
			request_end(st);
		return;
	}
	if (len == 0) {
		/* an empty DATA frame: nothing for the body (an empty chunk
		 * would be the last one, the end of the body upstream) */
		if (end)
			request_end(st);
		return;
	}
	st->req_in += len;
	if ((st->f & S_CL) && st->req_in > st->req_cl) {
		(void)sl_h2c_consumed(&h->h2c, hs, len);
		stream_malformed(st, "a body past its content-length");
		return;
	}
	st->unconsumed += (uint32_t)len;
	if (h2_body_put(st, data, len) == -1)
		goto overflow;
	if (st->s.txn != NULL)
		sl_exchange_body_read(&st->s, len);
	h2_stream_dirty(st);
	if (end)
		request_end(st);
	return;
overflow:
	/* the buffer's cap holds a head, a body kept for a retry and two
	 * windows, and the body crosses as its DATA came (no framing): past
	 * it only when no memory is left */
	h2_refused(h, SL_H2_R_BODY_OVERFLOW, st->id,
		   "request body past the stream's buffer");
	if (st->s.txn != NULL) {
		st->s.close_reason = "http2_body_overflow";
		sl_exchange_closed(&st->s, "http2_body_overflow");
	}
	h2_stream_reset(st, SL_H2F_ENHANCE_YOUR_CALM);
	h2_stream_set_state(st, H2S_DONE);
}

/* A stream closed by a reset: the client's, or the connection state's for
 * a stream error (its RST_STREAM sent). */
void
h2_on_reset(void *arg, struct sl_h2c_stream *hs, uint32_t code, int sent)
{
	struct sl_h2conn *h = arg;
	struct sl_h2stream *st = STREAM_OF_HS(hs);

	if (st->state == H2S_CLOSED)
		return;
	st->f |= S_NG_CLOSED;
	if (sent) {
		st->f |= S_RESET | S_DISCARD;
		/* answered whole before its request was: a client that
		 * ends its upload short then has broken no rule that
		 * matters */
		if (!(st->f & S_OUT_END) || (st->f & S_IN_END))
			h2_refused(h, SL_H2_R_PROTOCOL, st->id,
				   sl_h2f_err_str(code));
		h2_stream_close(st, "stream_closed");
		return;
	}
	st->f |= S_CLIENT_RST;
	/* reset by the client before its answer was whole: rapid reset
	 * counts these against the streams that finish */
	if (st->state != H2S_DONE)
		h2_rapid_reset(h, st->id);
	h2_stream_close(st, "client_reset");
}

/* ---- pumping the streams ----------------------------------------------- */

/* Starts the exchange of a stream whose head is whole. */
static void
stream_start(struct sl_h2stream *st)
{
	struct sl_seam *s = &st->s;
	struct sl_h2conn *h = st->h;

	h2_stream_set_state(st, H2S_BUSY);
	stream_adopt(st);
	if (sl_exchange_new(s, st->start_ms) == NULL) {
		h2_stream_reset(st, SL_H2F_INTERNAL_ERROR);
		h2_stream_set_state(st, H2S_DONE);
		return;
	}
	s->flags |= SL_SEAM_F_READING;
	if (st->f & S_TOO_LARGE) {
		s->in.off = 0;
		sl_exchange_reject(s, 431, SL_H1_R_HEAD_TOO_LARGE);
		return;
	}
	if (st->f & S_MISDIRECT) {
		h2_refused(h, SL_H2_R_MISDIRECTED, st->id,
			   "authority not covered by the certificate");
		sl_exchange_reject(s, 421, SL_H1_R_MISDIRECTED);
		return;
	}
	sl_exchange_start(s, st->head_len);
}

/* After a pump: the stream's reading flag, its buffer, the windows. */
static void
stream_settle(struct sl_h2stream *st)
{
	struct sl_seam *s = &st->s;

	if (st->state == H2S_CLOSED)
		return;
	if ((st->f & S_IN_END) || st->unconsumed >= st->h->win_stream)
		s->flags &= ~SL_SEAM_F_READING;
	else
		s->flags |= SL_SEAM_F_READING;
	h2_stream_give_back(st);
	stream_in_release(st);
	if (s->txn != NULL)
		sl_exchange_schedule(s);
}

/* Whether the stream has response bytes that its window (or the
 * connection's) keeps back: send_timeout runs. */
static void
stream_check_blocked(struct sl_h2stream *st)
{
	struct sl_h2conn *h = st->h;
	struct sl_seam *s = &st->s;
	struct iovec iov[SL_EXCHANGE_IOV];
	int hints;

	/* the window first: asking the exchange for its output is a call
	 * across the seam, and an open window answers without it */
	if (s->txn == NULL || !(st->f & S_HEAD_OUT) ||
	    (s->flags & SL_SEAM_F_WBLOCK) || h2_send_window(st) > 0 ||
	    sl_exchange_output(s, iov, &hints) == 0)
		return;
	s->flags |= SL_SEAM_F_WBLOCK;
	sl_exchange_stalled(s);
	if (h->h2c.send_win <= 0 && h->zwin_ms == 0)
		h->zwin_ms = now_ms();
}

void
h2_pump(struct sl_h2conn *h)
{
	struct sl_h2stream *st;

	while ((st = h->dirty) != NULL) {
		h->dirty = st->next;
		st->f &= ~S_DIRTY;
		if (st->state == H2S_CLOSED) {
			st->next = h->reap;
			h->reap = st;
			continue;
		}
		/* closed by the protocol: a reset ends it at once, both
		 * ends' END_STREAM once its exchange is over */
		if ((st->f & S_NG_CLOSED) &&
		    (st->state != H2S_BUSY ||
		     (st->f & (S_RESET | S_CLIENT_RST)))) {
			h2_stream_close(st, (st->f & S_CLIENT_RST)
						? "client_reset"
						: "stream_closed");
			continue;
		}
		if (st->state == H2S_READY)
			stream_start(st);
		/* as HTTP/1 does after a start: the request goes upstream at
		 * once on a pooled connection */
		if (st->s.txn != NULL && st->state == H2S_BUSY)
			(void)sl_exchange_pump(&st->s);
		if (st->state == H2S_CLOSED)
			continue; /* on h->reap or on the dirty list again */
		/* blocked first: the schedule arms send_timeout for it */
		stream_check_blocked(st);
		stream_settle(st);
		if (h->dead != NULL)
			return;
	}
}

/* Streams whose exchange waits for room (pacing) hear of it. */
void
h2_writable(struct sl_h2conn *h)
{
	struct sl_h2stream *st;

	if (h->nwant == 0)
		return;
	TAILQ_FOREACH(st, &h->streams, link)
	{
		if (!(st->f & S_WANT_WRITE) || st->s.txn == NULL ||
		    st->s.ops->send_room(&st->s) == 0)
			continue;
		st->f &= ~S_WANT_WRITE;
		h->nwant--;
		(void)sl_exchange_writable(&st->s);
		h2_stream_dirty(st);
	}
}

/* ---- asked of the session: the graceful end's first step, a run, the
 * reaping of closed streams ------------------------------------------- */

/* A graceful end in two steps (RFC 9113 section 6.8): a GOAWAY with the
 * largest id and a PING now, the real last id one round trip later. */
void
h2_goaway_begin(struct sl_h2conn *h)
{
	static const uint8_t ping[8] = {'s', 'l', 'u', 'i', 'c', 'e', 'g', 'a'};
	uint8_t *p;

	if (h->f & (C2_GOAWAY1 | C2_GOAWAY2))
		return;
	h->f |= C2_GOAWAY1 | C2_SHUTDOWN;
	h->goaway_ms = now_ms();
	/* the PING first: a client may take no frame after a GOAWAY
	 * (python-h2 does not) */
	if (!h->h2c.failed &&
	    (p = h2_out_room(h, SL_H2F_HEADER_LEN + 8)) != NULL)
		(void)sl_h2f_write_ping(p, SL_H2F_HEADER_LEN + 8, ping, 0);
	goaway_notice(h);
	h->f |= C2_AGAIN;
}

/* Something changed outside a run (an exchange's operation): a run from
 * the loop's active queue, after the other events of this turn, unless
 * one is on the stack. */
void
h2_kick(struct sl_h2conn *h)
{
	struct h2_worker *hw = h->c->s.w->h2; /* made with the connection */

	if (h->f & C2_RUNNING) {
		h->f |= C2_AGAIN;
		return;
	}
	if (!(h->f & C2_RUN_EV)) {
		if (TAILQ_EMPTY(&hw->runq))
			event_active(&hw->run_ev, EV_TIMEOUT, 1);
		h->f |= C2_RUN_EV;
		TAILQ_INSERT_TAIL(&hw->runq, h, run_entry);
	}
}

void
h2_reap(struct sl_h2conn *h)
{
	struct sl_h2stream *st;

	while ((st = h->reap) != NULL) {
		h->reap = st->next;
		stream_free(st);
	}
}

/* ---- the stream's operations (seam.h) -------------------------------- */

static int
op_flush(struct sl_seam *s)
{
	struct sl_h2stream *st = STREAM_OF(s);
	struct sl_h2conn *h = st->h;
	const char *why;

	if (st->state == H2S_CLOSED || s->txn == NULL)
		return -1;
	if (!(st->f & S_HEAD_OUT) && h2_resp_heads(st, &why) == -1) {
		h2_stream_reset(st, SL_H2F_INTERNAL_ERROR);
		h2_stream_close(st, why);
		return -1;
	}
	h2_out_frame_now(st);
	h2_kick(h); /* the run's output frames the rest, and writes */
	return 0;
}

static void
op_want_write(struct sl_seam *s, int on)
{
	struct sl_h2stream *st = STREAM_OF(s);

	if (on && !(st->f & S_WANT_WRITE)) {
		st->f |= S_WANT_WRITE;
		st->h->nwant++;
		h2_kick(st->h);
	} else if (!on && (st->f & S_WANT_WRITE)) {
		st->f &= ~S_WANT_WRITE;
		st->h->nwant--;
	}
}

static void
op_resume(struct sl_seam *s)
{
	struct sl_h2stream *st = STREAM_OF(s);

	if (st->state == H2S_CLOSED)
		return;
	h2_stream_dirty(st);
	/* from the loop's active queue, after the other events of this turn:
	 * the answers of several upstreams that came together go to the
	 * client in one write */
	h2_kick(st->h);
}

/* The exchange cuts its stream (send_timeout, a response cut in the
 * middle, ...): the exchange is logged and freed, the stream reset. */
static void
op_close(struct sl_seam *s, const char *reason)
{
	struct sl_h2stream *st = STREAM_OF(s);
	struct sl_h2conn *h = st->h;

	if (st->state == H2S_CLOSED)
		return;
	if (s->txn != NULL) {
		s->close_reason = reason;
		sl_exchange_closed(s, reason);
	}
	/* a client that keeps the connection's window shut holds every
	 * stream: the connection goes, not each stream in turn */
	if ((strcmp(reason, "send_timeout") == 0 ||
	     strcmp(reason, "min_send_rate") == 0) &&
	    h->h2c.send_win <= 0) {
		h2_refused(h, SL_H2_R_ZERO_WINDOW, st->id,
			   "connection window shut past send_timeout");
		h2_fail(h, SL_H2F_ENHANCE_YOUR_CALM, reason);
	} else if (strcmp(reason, "send_timeout") == 0)
		h2_refused(h, SL_H2_R_ZERO_WINDOW, st->id,
			   "stream window shut past send_timeout");
	h2_stream_reset(st, SL_H2F_INTERNAL_ERROR);
	if (st->state != H2S_CLOSED)
		h2_stream_set_state(st, H2S_DONE);
	h2_kick(h);
}

static void
op_reset(struct sl_seam *s, const char *reason)
{
	op_close(s, reason);
}

/* The exchange is over and freed: the response's end follows what was
 * written (END_STREAM), and the stream is done with. */
static void
op_done(struct sl_seam *s, const char *why, int close, int linger)
{
	struct sl_h2stream *st = STREAM_OF(s);
	struct sl_h2conn *h = st->h;
	struct sl_client *c = h->c;
	const struct sl_conf_limits *l = &c->s.lconf->limits;

	(void)why;
	(void)close;
	(void)linger;
	if (st->state == H2S_CLOSED)
		return;
	h2_stream_set_state(st, H2S_DONE);
	c->s.nrequests++;
	if (h->resets > 0)
		h->resets--;
	h2_calm_earn(h, 2);
	/* answered before its request was whole: the rest is not wanted
	 * (RST_STREAM(NO_ERROR) once the response's end is sent and
	 * DISCARD_MAX more bytes came) */
	if (!(st->f & S_IN_END)) {
		st->f |= S_RST_AFTER;
		h2_rst_after(st, 0);
	}
	st->f |= S_DISCARD;
	h2_stream_give_back(st);
	/* its END_STREAM (or trailers) goes at the run's output */
	if (st->f & S_WANT_WRITE) {
		st->f &= ~S_WANT_WRITE;
		h->nwant--;
	}
	sl_buf_release(&s->w->bufs, &s->in);
	s->in_ready = 0;
	st->taken = 0;
	/* a connection's last request under max_requests */
	if (l->max_requests && c->s.nrequests >= l->max_requests)
		h2_goaway_begin(h);
	if (st->f & S_NG_CLOSED)
		h2_stream_close(st, "stream_closed");
	h2_kick(h);
}

static int
op_unacked(struct sl_seam *s)
{
	/* what the kernel holds is the connection's, not a stream's: the
	 * stream's rate is what its window lets out */
	(void)s;
	return 0;
}

static const char *
op_tls_version(struct sl_seam *s)
{
	struct sl_client *c = STREAM_OF(s)->h->c;

	return (c->s.flags & C_F_TLS) ? sl_tls_version(c->ssl) : "";
}

static const struct sl_seam_ops h2_stream_ops = {
    .flush = op_flush,
    .want_write = op_want_write,
    .resume = op_resume,
    .close = op_close,
    .reset = op_reset,
    .done = op_done,
    .unacked = op_unacked,
    .send_room = h2_op_send_room,
    .tls_version = op_tls_version,
    .head = h2_op_head,
    .write_head = sl_seam_block_head,
    .trailers = h2_op_trailers,
    .req_trailers = h2_op_req_trailers,
};
