/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/2 codec of a client connection (doc/http2.md), on sluice's own
 * connection state (h2/h2conn.h: frames, stream rules, HPACK) used as a
 * state machine over bytes: the bytes the connection's transport reads go
 * to sl_h2c_input, the frames it makes go into the connection's write
 * buffer, and h2_out.c writes them with the same transport. Here, the
 * session: its set-up and the state's table of handlers with the
 * connection's own (a GOAWAY, a window), the reads fed to the state, the
 * run that pumps the streams and writes, its timer and the graceful end's
 * last step, the write event, and the connection's end. It calls the files
 * beside it, which never call it: h2_stream.c keeps the streams (their
 * life, the handlers of their frames, the pump, each one exchange through
 * the codec seam, seam.h, and their operations), h2_head.c translates the
 * heads, h2_out.c frames the output and keeps the windows, h2_budget.c
 * keeps the budgets against the HTTP/2 attacks and the deadlines
 * (h2_int.h). A codec of the client connection: the
 * connection calls it through its table (sl_h2_codec, client_codec.h), and it
 * uses the connection's struct and closes it through client.c. It knows
 * no upstream.
 */
#include "h2.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_codec.h"
#include "exchange.h"
#include "h2_int.h"
#include "log.h"
#include "runtime.h"
#include "wloop.h"
#include "xprt.h"

/* The read buffer starts small, as the write buffer does (h2_out.c), and
 * grows, while reads fill it, up to
 * buffer_bytes (64 KiB at most). Both go back when the connection is
 * idle. */
#define RBUF_MIN (4 * 1024)

/* reads of up to rbuf's size (64 KiB at most) one run makes before the
 * other connections' events: a client that sends fast cannot hold the
 * worker */
#define RUN_READS 4

/* The frame size sluice takes (SETTINGS_MAX_FRAME_SIZE): the default,
 * so a frame split across reads needs no more. */
#define MAX_FRAME 16384

static void h2_run(struct sl_h2conn *h, int flush);

/* ---- the connection state's handlers (the others: h2_stream.c, h2_head.c,
 * h2_out.c, h2_budget.c) ---------------------------------------------- */

/* The client's GOAWAY: no new stream comes; the connection ends once its
 * streams are done. */
static void
h2_on_goaway(void *arg, uint32_t last_id, uint32_t code)
{
	struct sl_h2conn *h = arg;

	(void)last_id;
	(void)code;
	h->f |= C2_PEER_GOAWAY | C2_AGAIN;
}

/* A window grew: the run frames what waited for it. */
static void
h2_on_window(void *arg, struct sl_h2c_stream *hs)
{
	struct sl_h2conn *h = arg;

	if (hs != NULL)
		h2_stream_dirty(STREAM_OF_HS(hs));
	h->f |= C2_AGAIN;
}

static const struct sl_h2c_ops h2_ops = {
    .stream_open = h2_on_stream_open,
    .field = h2_on_field,
    .headers = h2_on_headers,
    .data = h2_on_data,
    .reset = h2_on_reset,
    .goaway = h2_on_goaway,
    .window = h2_on_window,
    .frame = h2_on_frame,
    .out = h2_out_room,
};

/* The worker's buffers the connection being read borrows: a frame split
 * across reads, HPACK's Huffman strings (as long as a header list may
 * be). Returns 0, or -1 (no memory). */
static int
worker_bufs(struct sl_h2conn *h)
{
	struct h2_worker *hw = h2w(h->c->s.w);
	size_t need =
	    SL_MAX((size_t)SL_HPACK_SCRATCH_MIN,
		   (size_t)h->c->s.lconf->limits.max_header_list_bytes);

	if (hw == NULL)
		return -1;
	if (hw->gather == NULL && (hw->gather = malloc(MAX_FRAME)) == NULL)
		return -1;
	if (hw->scratch_len < need) {
		char *p = realloc(hw->scratch, need);
		if (p == NULL)
			return -1;
		hw->scratch = p;
		hw->scratch_len = need;
	}
	return 0;
}

/* Gives n bytes the client sent to the connection's state: the worker's
 * buffers lent for the call, a frame left split kept in the connection's
 * own. Returns 0, or -1 when the connection failed (h->dead set). */
static int
h2_feed(struct sl_h2conn *h, const uint8_t *p, size_t n)
{
	struct sl_worker *w = h->c->s.w;
	struct sl_h2f_reader *rd = &h->h2c.rd;
	struct h2_worker *hw;
	uint32_t held;
	int rv;

	if (worker_bufs(h) == -1) {
		h->dead = "out_of_memory";
		return -1;
	}
	hw = w->h2;
	rd->buf =
	    h->gather.data != NULL ? (uint8_t *)h->gather.data : hw->gather;
	h->h2c.scratch = hw->scratch;
	h->h2c.scratch_len = hw->scratch_len;
	rv = sl_h2c_input(&h->h2c, p, n);
	held = sl_h2f_reader_held(rd);
	if (held > 0 && rd->buf == hw->gather) {
		if (sl_buf_alloc(&w->bufs, &h->gather, MAX_FRAME) == -1) {
			h->dead = "out_of_memory";
			return -1;
		}
		memcpy(h->gather.data, hw->gather, held);
		rd->buf = (uint8_t *)h->gather.data;
	} else if (held == 0 && h->gather.data != NULL) {
		sl_buf_release(&w->bufs, &h->gather);
		rd->buf = hw->gather;
	}
	if (rv == -1 && h->dead == NULL)
		h2_conn_failed(h);
	return h->dead != NULL ? -1 : 0;
}

/* ---- the connection's reads -------------------------------------------- */

/* Gives back the buffers an idle connection does not need: its read and
 * write buffers and the header block scratch. Busy, it keeps them from
 * one run to the next (two pool operations each, per run, saved). */
static void
h2_trim(struct sl_h2conn *h)
{
	struct sl_bufpool *p = &h->c->s.w->bufs;

	if (h->nopen > 0)
		return;
	sl_buf_release(p, &h->rbuf);
	if (sl_buf_pending(&h->wbuf) == 0)
		sl_buf_release(p, &h->wbuf);
	if (h->hs == NULL)
		sl_buf_release(p, &h->scratch);
}

/* Reads what the connection has and gives it to the connection's state. */
static void
h2_input(struct sl_h2conn *h)
{
	struct sl_client *c = h->c;
	struct sl_worker *w = c->s.w;
	size_t max =
	    SL_MAX((size_t)RBUF_MIN, SL_MIN(c->s.lconf->limits.buffer_bytes,
					    (uint64_t)64 * 1024));
	ssize_t n;
	int want = 0;

	h->f &= ~C2_READABLE;
	if (sl_buf_alloc(&w->bufs, &h->rbuf, RBUF_MIN) == -1) {
		h->dead = "out_of_memory";
		return;
	}
	/* the last read filled it: a larger one (an upload's DATA) */
	if ((h->f & C2_RFULL) && h->rbuf.cap < max) {
		sl_buf_release(&w->bufs, &h->rbuf);
		if (sl_buf_alloc(&w->bufs, &h->rbuf,
				 SL_MIN(max, (size_t)h->rbuf_cap * 2)) == -1) {
			h->dead = "out_of_memory";
			return;
		}
	}
	h->f &= ~C2_RFULL;
	h->rbuf_cap = h->rbuf.cap;
	n = XPRT(c)->recv(c->fd, c->xc, h->rbuf.data, h->rbuf.cap, &want);
	if ((want == SL_TLS_WANT_WRITE) != ((c->s.flags & C_F_REV_W) != 0))
		sl_client_rev_wait(c, want == SL_TLS_WANT_WRITE
					  ? SL_TLS_WANT_WRITE
					  : SL_TLS_WANT_READ);
	if (n == 0) {
		/* a half-close: the streams it began are answered (as an
		 * HTTP/1.1 client that shut its side gets its answer), and the
		 * connection ends when the last one is done */
		struct sl_h2stream *st, *nx;

		h->f |= C2_EOF;
		/* but a request not yet whole never will be: its stream is
		 * cut (its upstream, if any, sees no end to its body) */
		for (st = TAILQ_FIRST(&h->streams); st != NULL; st = nx) {
			nx = TAILQ_NEXT(st, link);
			if (!(st->f & S_IN_END) && st->state != H2S_DONE) {
				h2_stream_reset(st, SL_H2F_CANCEL);
				h2_stream_close(st, "client_closed");
			}
		}
		if (h->nopen == 0)
			h->dead = "client_closed";
		return;
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		h->dead =
		    errno == EPROTO ? "client_tls_error" : "client_read_error";
		h->dead_abort = 1;
		return;
	}
	if (n < 0)
		return;
	SL_STAT_ADD(w->stats.client_bytes_in, (uint64_t)n);
	if (h2_feed(h, (const uint8_t *)h->rbuf.data, (size_t)n) == -1)
		return;
	/* a full read: there may be more (level-triggered epoll will say
	 * so too, but TLS may hold it where epoll cannot see) */
	if ((size_t)n == h->rbuf.cap)
		h->f |= C2_READABLE | C2_RFULL;
	else if (sl_xprt_pending(c->s.flags >> C_F_XPRT_SHIFT, c->fd, c->xc))
		h->f |= C2_READABLE;
}

/* ---- the timer and the graceful end (deadlines: h2_budget.c) ----------- */

static void h2_on_timer(evutil_socket_t fd, short what, void *arg);

/* The last GOAWAY of a graceful end: the streams the client began so
 * far are served, no later one. */
static void
h2_goaway_final(struct sl_h2conn *h)
{
	h->f |= C2_GOAWAY2 | C2_SHUTDOWN;
	(void)sl_h2c_goaway(&h->h2c, SL_H2F_NO_ERROR);
	h->f |= C2_AGAIN;
}

static void
h2_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_h2conn *h = arg;
	const struct sl_conf_limits *l = &h->c->s.lconf->limits;
	uint64_t now = sl_now_refresh();

	/* a fired timer is pending no more: freed, made again when a
	 * deadline is armed (an idle connection keeps none) */
	free(h->tev);
	h->tev = NULL;
	h->armed_ms = 0;
	if (h->f & C2_CLOSING) {
		/* the last frames did not go within send_timeout: a reset */
		if (now >= h->closing_ms + l->send_timeout_ms) {
			SL_STAT_INC(h->c->s.w->stats.timeouts[SL_TO_SEND]);
			h->dead_abort = 1;
		}
		h2_run(h, 1);
		return;
	}
	switch (h2_deadline(h, now)) {
	case H2_DL_GOAWAY:
		h2_goaway_final(h);
		break;
	default:
		break;
	}
	h2_run(h, 1);
}

/* ---- the run ---------------------------------------------------------- */

/* Takes h off its worker's run queue. */
static void
run_dequeue(struct sl_h2conn *h)
{
	struct h2_worker *hw = h->c->s.w->h2;

	if (h->f & C2_RUN_EV) {
		TAILQ_REMOVE(&hw->runq, h, run_entry);
		h->f &= ~C2_RUN_EV;
	}
}

/* The worker's deferred runs, in the order they were asked for; a run
 * that asks for another (of its own connection or another one) has it
 * made in the same turn, as an event activated from an event would.
 * The event is made active by the turn's first h2_kick, so libevent puts
 * it behind every event the turn's poll found (its active queue is run
 * to its end, the events activated meanwhile included): these runs come
 * after the turn's reads, of clients and of upstreams, and each writes
 * what its connection has ready, in one write (doc/http2.md section 4,
 * "One write a turn"). */
static void
h2_worker_on_run(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	struct h2_worker *hw = w->h2;
	struct sl_h2conn *h;

	(void)fd;
	(void)what;
	sl_now_refresh();

	while (hw != NULL && (h = TAILQ_FIRST(&hw->runq)) != NULL) {
		run_dequeue(h);
		h2_run(h, 1);
	}
}

static void
h2_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sl_h2conn *h = arg;
	struct sl_client *c = h->c;

	sl_now_refresh();
	(void)XPRT(c)->watch(c->fd, c->xc, h->wev, 0);
	h->f &= ~(C2_WBLOCKED | C2_WEV);
	h2_run(h, 1);
}

/*
 * Arms the connection's timer for its nearest deadline (h2_budget.c's
 * h2_next_deadline; the idle one is in the worker's lists). The timer is
 * made when one is armed and freed when it fires (h2_on_timer): an idle
 * connection keeps none.
 */
static void
h2_schedule(struct sl_h2conn *h)
{
	uint64_t d = h2_next_deadline(h), now, ms;
	struct timeval tv;

	/* a timer armed for earlier stays: it fires, finds nothing due and
	 * arms again (a connection's deadlines move at every stream; this
	 * saves an event_del and an event_add each time) */
	if (d == h->armed_ms ||
	    (h->armed_ms != 0 && (d == 0 || d > h->armed_ms)))
		return;
	if (h->tev == NULL) {
		if ((h->tev = malloc(sizeof(*h->tev))) == NULL) {
			/* no memory for a timer: the connection cannot keep
			 * its deadlines, and ends */
			if (h->dead == NULL)
				h->dead = "out_of_memory";
			return;
		}
		evtimer_assign(h->tev, h->c->s.w->base, h2_on_timer, h);
	}
	h->armed_ms = d;
	now = now_ms();
	ms = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_add(h->tev, &tv);
}

/* The idle deadline (h2_idle_on) passed, or a stream opened since and
 * it is stale: h2_deadline says. */
static void
conn_on_deadline(struct sl_client *c)
{
	struct sl_h2conn *h = c->h2;
	uint64_t now = sl_now_refresh();

	if (h->f & C2_CLOSING)
		return; /* its own deadline (h->tev) ends it */
	if (h2_deadline(h, now) == H2_DL_GOAWAY)
		h2_goaway_final(h);
	h2_run(h, 1);
}

/* A write the transport stopped taking (h2_out.c set C2_WBLOCKED): the
 * write event watches for room, made at the connection's first block
 * (most never block). A TLS write that waits for a read waits on the
 * read event instead (C2_W_READ). */
static void
wev_arm(struct sl_h2conn *h)
{
	struct sl_client *c = h->c;

	if (!(h->f & C2_WBLOCKED) || (h->f & (C2_W_READ | C2_WEV)))
		return;
	if (h->wev == NULL) {
		if ((h->wev = malloc(sizeof(*h->wev))) == NULL) {
			h->dead = "out_of_memory";
			h->dead_abort = 1;
			return;
		}
		event_assign(h->wev, c->s.w->base, c->fd, EV_WRITE | EV_PERSIST,
			     h2_on_write, h);
	}
	(void)XPRT(c)->watch(c->fd, c->xc, h->wev, 1);
	h->f |= C2_WEV;
}

/* Frees the codec's state (the connection is closing). */
static void
h2_destroy(struct sl_h2conn *h, const char *reason)
{
	struct sl_client *c = h->c;
	struct sl_worker *w = c->s.w;
	struct sl_h2stream *st;

	h->h2c.failed = 1; /* no frame more: its streams are forgotten */
	/* the dirty list's closed streams to h->reap, the others off it */
	while ((st = h->dirty) != NULL) {
		h->dirty = st->next;
		st->f &= ~S_DIRTY;
		if (st->state == H2S_CLOSED) {
			st->next = h->reap;
			h->reap = st;
		}
	}
	while ((st = TAILQ_FIRST(&h->streams)) != NULL)
		h2_stream_close(st, reason);
	h2_reap(h);
	sl_h2c_free(&h->h2c);
	if (h->wev != NULL) {
		event_del(h->wev);
		free(h->wev);
	}
	run_dequeue(h);
	if (h->tev != NULL) {
		event_del(h->tev);
		free(h->tev);
	}
	sl_timeq_del(w, &c->tnode);
	sl_buf_release(&w->bufs, &h->rbuf);
	sl_buf_release(&w->bufs, &h->wbuf);
	sl_buf_release(&w->bufs, &h->scratch);
	sl_buf_release(&w->bufs, &h->gather);
	SL_STAT_ADD(w->stats.h2_conns, -1);
	free(h);
}

/* The run's end for a connection that ends. Its streams go at once (their
 * exchanges are logged, cut); the frames already made (a GOAWAY, the last
 * answers) still go out, under send_timeout (C2_CLOSING), before the
 * codec and then the connection go: with a FIN after a lingering close,
 * or without reading (an error), or with a reset when they cannot all go
 * (a client that stopped reading must not take a cut frame and a clean
 * end for a whole connection). Returns 1 when the connection was closed,
 * 0 while its last frames wait for the client. */
static int
h2_end(struct sl_h2conn *h)
{
	struct sl_client *c = h->c;
	const char *reason = h->dead;
	int abort_ = h->dead_abort, now = h->dead_now;
	struct sl_h2stream *st;

	/* the streams end now; nothing more is read or framed */
	h->h2c.failed = 1;
	while ((st = TAILQ_FIRST(&h->streams)) != NULL)
		h2_stream_close(st, reason);
	h2_reap(h);
	if (!abort_ && sl_buf_pending(&h->wbuf) > 0) {
		if (!(h->f & C2_CLOSING)) {
			h->f |= C2_CLOSING;
			h->closing_ms = now_ms();
		}
		h->f &= ~C2_WBLOCKED;
		if (h2_wbuf_flush(h) == 0 && sl_buf_pending(&h->wbuf) > 0 &&
		    (wev_arm(h), !h->dead_abort)) {
			sl_client_want_read(c, 0);
			h2_schedule(h);
			return 0; /* the write event carries on */
		}
		if (h->dead_abort) /* the write failed */
			abort_ = 1;
	}
	c->h2 = NULL;
	h2_destroy(h, reason);
	c->state = SL_CLIENT_ST_IDLE; /* client.c's from here on */
	if (abort_)
		sl_client_abort_reset(c, reason);
	else if (now)
		sl_client_finish_deaf(c, reason);
	else
		sl_client_finish(c, reason, 1);
	return 1;
}

/*
 * The run: reads, pumps the streams, frames what is ready and writes it,
 * again while something changed. A run of the client's read (flush not
 * set) leaves what it framed in the write buffer and asks for a run from
 * the worker's queue, which comes later in the same turn, after the
 * turn's upstream reads: their answers and its own (a local answer, an
 * acknowledgement) go in one write (doc/http2.md section 4, "One write a
 * turn"). It writes at once only a buffer that is full, or what its last
 * read made before it reads again, and the connection's end (h2_end)
 * always. May close the connection (and free h).
 */
static void
h2_run(struct sl_h2conn *h, int flush)
{
	struct sl_client *c = h->c;

	if (h->f & C2_RUNNING) {
		h->f |= C2_AGAIN;
		return;
	}
	/* a run the loop was to make: this one does its work */
	run_dequeue(h);
	if (h->f & C2_CLOSING) {
		/* only the last frames are left to write */
		(void)h2_end(h);
		return;
	}
	h->f |= C2_RUNNING;
	for (int guard = 0, reads = 0; guard < 16; guard++) {
		h->f &= ~C2_AGAIN;
		/* reading waits while the output cannot go: a client that
		 * does not read cannot make sluice queue its answers (a
		 * read's answers that wait for the turn's write are written
		 * before the run reads again) */
		if (reads > 0 && (h->f & C2_READABLE) &&
		    !(h->f & (C2_WBLOCKED | C2_EOF)) && h->dead == NULL &&
		    sl_buf_pending(&h->wbuf) > 0)
			(void)h2_wbuf_flush(h);
		if ((h->f & C2_READABLE) && !(h->f & (C2_WBLOCKED | C2_EOF)) &&
		    h->dead == NULL) {
			if (reads++ < RUN_READS) {
				h2_input(h);
			} else if (!sl_xprt_pending(c->s.flags >>
							C_F_XPRT_SHIFT,
						    c->fd, c->xc)) {
				/* the others' turn: the kernel still holds
				 * the rest, and (level-triggered) the read
				 * event says so after them */
				h->f &= ~C2_READABLE;
			}
		}
		if (h->dead == NULL)
			h2_pump(h);
		if (h->dead == NULL || !h->dead_abort)
			h2_output(h, flush);
		if (h->dead == NULL)
			h2_writable(h);
		if (h->dead == NULL && (h->f & C2_SHUTDOWN) && h->nopen == 0 &&
		    !(h->f & C2_GOAWAY1) && !(h->f & C2_GOAWAY2)) {
			/* ending with no stream left: the GOAWAY now */
			h2_goaway_final(h);
			continue;
		}
		if (h->dead == NULL && (h->f & C2_GOAWAY1) &&
		    !(h->f & C2_GOAWAY2) && h->goaway_ms == 1) {
			h2_goaway_final(h);
			continue;
		}
		if (h->dead == NULL && (h->f & C2_EOF) && h->nopen == 0)
			h->dead = "client_closed";
		if (h->dead == NULL && h->nopen == 0 &&
		    (h->f & (C2_GOAWAY2 | C2_PEER_GOAWAY)) &&
		    sl_buf_pending(&h->wbuf) == 0)
			/* both sides said GOAWAY and no stream is left */
			h->dead = (h->f & C2_SHUTDOWN)
				      ? c->s.w->draining ? "draining" : "close"
				      : "http2_goaway";
		if (h->dead != NULL)
			break;
		if (!(h->f & C2_AGAIN) && h->dirty == NULL &&
		    (!(h->f & C2_READABLE) || reads > RUN_READS))
			break;
		if ((h->f & C2_READABLE) && (h->f & C2_WBLOCKED) &&
		    !(h->f & C2_AGAIN) && h->dirty == NULL)
			break;
	}
	h->f &= ~C2_RUNNING;
	h2_reap(h);
	if (h->dead != NULL) {
		(void)h2_end(h);
		return;
	}
	/* what it framed and did not write: the queue's run writes it */
	if ((h->f & C2_AGAIN) || h->dirty != NULL ||
	    ((h->f & C2_READABLE) && !(h->f & (C2_WBLOCKED | C2_EOF))) ||
	    (sl_buf_pending(&h->wbuf) > 0 && !(h->f & C2_WBLOCKED)))
		h2_kick(h);
	if (h->h2c.send_win > 0)
		h->zwin_ms = 0;
	wev_arm(h);
	if (h->dead != NULL) { /* no memory for the write event */
		(void)h2_end(h);
		return;
	}
	h2_trim(h);
	/* read interest: off while the output is blocked (unless TLS must
	 * read for the write to go on) */
	sl_client_want_read(c, !(h->f & (C2_WBLOCKED | C2_EOF)) ||
				   (h->f & C2_W_READ));
	h2_schedule(h);
}

/* ---- the connection ----------------------------------------------------*/

/* 1 when a route of the listener allows WebSocket: its connections offer
 * extended CONNECT (RFC 8441). */
static int
listener_has_websocket(const struct sl_conf_listener *l)
{
	for (size_t i = 0; i < l->nroutes; i++)
		for (size_t k = 0; k < l->routes[i].nupgrade; k++)
			if (strcmp(l->routes[i].upgrade[k], "websocket") == 0)
				return 1;
	return 0;
}

int
sl_h2_start(struct sl_client *c)
{
	const struct sl_conf_limits *l = &c->s.lconf->limits;
	struct sl_worker *w = c->s.w;
	struct sl_h2c_settings set;
	struct sl_h2conn *h;
	uint32_t win;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	h->c = c;
	TAILQ_INIT(&h->streams);
	/* a stream may carry a body kept for a retry (buffer_bytes) and a
	 * window's worth more; the connection's window bounds what all of
	 * them hold that no upstream took yet (doc/http2.md section 4). At
	 * least the protocol's default: sluice's windows apply at once,
	 * before the client has its SETTINGS */
	win = (uint32_t)SL_MIN(
	    SL_MAX(l->buffer_bytes, (uint64_t)SL_H2F_INITIAL_WINDOW),
	    (uint64_t)SL_H2F_MAX_WINDOW);
	h->win_stream = win;
	h->win_conn =
	    (uint32_t)SL_MIN((uint64_t)win * 2, (uint64_t)SL_H2F_MAX_WINDOW);
	set = (struct sl_h2c_settings){
	    .header_table = 4096,
	    .max_streams = (uint32_t)l->max_concurrent_streams,
	    .window = h->win_stream,
	    .conn_window = h->win_conn,
	    .max_frame = MAX_FRAME,
	    .max_header_list = (uint32_t)l->max_header_list_bytes,
	    /* WebSocket by extended CONNECT where a route allows it (RFC
	     * 8441) */
	    .connect_proto = (uint8_t)listener_has_websocket(c->s.lconf),
	};
	h->connect_proto = set.connect_proto;
	/* a header block (compressed) as large as twice the list it may
	 * decode to, and a frame more */
	if (worker_bufs(h) == -1 ||
	    sl_h2c_init(&h->h2c, 1, &set, h2w(w)->gather, MAX_FRAME,
			h2w(w)->scratch, h2w(w)->scratch_len,
			2 * (size_t)l->max_header_list_bytes + MAX_FRAME,
			&h2_ops, h) == -1) {
		sl_buf_release(&w->bufs, &h->wbuf);
		free(h);
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	h->start_ms = h->idle_ms = h->calm_ms = now_ms();
	h->calm = CALM_BURST;
	if (!event_initialized(&h2w(w)->run_ev)) /* the worker's first */
		event_assign(&h2w(w)->run_ev, w->base, -1, 0, h2_worker_on_run,
			     w);
	/* the connection's deadlines are the codec's from now on: its idle
	 * one in the same place (c->tnode), the others on h->tev */
	c->h2 = h;
	c->state = SL_CLIENT_ST_H2;
	h2_idle_on(h);
	SL_STAT_INC(w->stats.h2_conns);
	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("conn=%llu state -> h2", (unsigned long long)c->s.id);
	/* the bytes read before the codec came (the preface, or more) */
	if (c->s.in.data != NULL && sl_buf_pending(&c->s.in) > 0)
		(void)h2_feed(h, (const uint8_t *)c->s.in.data + c->s.in.off,
			      sl_buf_pending(&c->s.in));
	sl_buf_release(&w->bufs, &c->s.in);
	c->s.in_ready = 0;
	h->f |= C2_READABLE;
	h2_run(h, 1);
	return 0;
}

/* ---- the connection's codec (client_codec.h) ---------------------------- */

/* c's read event fired. May close c. */
static void
conn_on_read(struct sl_client *c)
{
	struct sl_h2conn *h = c->h2;

	h->f |= C2_READABLE;
	/* TLS: a write that waited for a read can go now too */
	if (h->f & C2_W_READ)
		h->f &= ~(C2_WBLOCKED | C2_W_READ);
	h2_run(h, 0);
}

/* The worker drains: a GOAWAY in two steps (RFC 9113 section 6.8), the
 * open streams finish, then the close. May close c. */
static void
conn_drain(struct sl_client *c)
{
	struct sl_h2conn *h = c->h2;
	struct sl_h2stream *st;

	h2_goaway_begin(h);
	/* its WebSocket tunnels close now, with close frames, as an
	 * HTTP/1.1 connection's do (from their timers) */
	for (st = TAILQ_FIRST(&h->streams); st != NULL;
	     st = TAILQ_NEXT(st, link))
		if (st->s.txn != NULL)
			sl_exchange_tunnel_drain(&st->s);
	h2_run(h, 1);
}

/* A reload that kept the connection's listener: its WebSocket tunnels
 * have tunnel_drain_timeout left (doc/websocket.md section 6). */
static void
conn_reloaded(struct sl_client *c)
{
	struct sl_h2stream *st;

	for (st = TAILQ_FIRST(&c->h2->streams); st != NULL;
	     st = TAILQ_NEXT(st, link))
		if (st->s.txn != NULL)
			sl_exchange_tunnel_reloaded(&st->s);
}

/* c's listener left the configuration: as a drain, for c alone. */
static void
conn_retire(struct sl_client *c)
{
	conn_drain(c);
}

/* The connection closes under the codec (reason static): every exchange
 * still running is logged and freed, and the codec's state with them
 * (gone already when the codec ended the connection: h2_end). */
static void
conn_free(struct sl_client *c, const char *reason)
{
	struct sl_h2conn *h = c->h2;

	if (h == NULL)
		return;
	c->h2 = NULL;
	h2_destroy(h, reason);
}

/* No stream open, nothing to write or to finish, no header block half
 * read, no run pending: its idle deadline is in c->tnode, and its next
 * bytes (or its timer) find it again through client.c, which gives it its
 * read event back before anything reads (sl_client_want_read). */
static int
conn_parkable(const struct sl_client *c)
{
	const struct sl_h2conn *h = c->h2;

	return h->nopen == 0 && h->hs == NULL && h->dead == NULL &&
	       !(h->f & (C2_WBLOCKED | C2_W_READ | C2_RUN_EV | C2_RUNNING |
			 C2_CLOSING | C2_READABLE | C2_EOF)) &&
	       sl_buf_pending(&h->wbuf) == 0 && h->rbuf.data == NULL;
}

/* HTTP/2 writes from an event of its own (h->wev): no on_write. Its idle
 * deadline is in the worker's lists (on_deadline), the others on a timer
 * of its own (h->tev). */
const struct sl_client_codec sl_h2_codec = {
    .on_read = conn_on_read,
    .on_deadline = conn_on_deadline,
    .parkable = conn_parkable,
    .drain = conn_drain,
    .reloaded = conn_reloaded,
    .retire = conn_retire,
    .free = conn_free,
};
