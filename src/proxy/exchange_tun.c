/* SPDX-License-Identifier: MIT */
/*
 * An HTTP/2 client's WebSocket tunnel (RFC 8441, doc/websocket.md section
 * 4.1): the exchange carries its bytes after the switch (the client's as
 * its request's body, the upstream's as its response's), and this is what
 * makes them a tunnel rather than a long response. Its budgets
 * (tunnel_idle_timeout, tunnel_lifetime, a reload's tunnel_drain_timeout,
 * a stop) end it as a tunnel over HTTP/1.1 ends (tunnel.c): a close frame
 * to each peer at a frame boundary of its byte stream, the stream's end to
 * the client and the FIN to the upstream after them, then up to
 * SL_WS_CLOSE_GRACE_MS for the upstream's answer; a side that cannot be
 * told in time is cut with the stream's reset. Called by the exchange's
 * core only (exchange.c), which it never calls: the core hands it the
 * bytes each direction reports as the tunnel's (SL_TXN_NEXT_TUNNEL_IN,
 * _OUT), and re-arms the exchange's timer when it says its deadlines moved
 * (SL_TXN_NEXT_SCHEDULE). Its state (t->ws) is made at the switch by the
 * response direction and freed with the exchange; the frames themselves
 * are ws.c's.
 */
#include "exchange.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "exchange_int.h"
#include "upstream.h"
#include "util.h"
#include "wloop.h"
#include "ws.h"
#include "xprt.h"

void
sl_exchange_xtun_in(struct sl_txn *t, const char *p, size_t n)
{
	sl_ws_track(&t->ws->in, (const unsigned char *)p, n);
}

void
sl_exchange_xtun_out(struct sl_txn *t, struct sl_upconn *u)
{
	if (t->ws->told & SL_XTUN_TOLD_CLIENT) {
		/* after sluice's close frame nothing more is the client's */
		sl_upstream_consume(u, u->in.len - u->in.off);
		u->ready = u->in.len;
		return;
	}
	sl_ws_track(&t->ws->out, (const unsigned char *)u->in.data + u->ready,
		    u->in.len - u->ready);
	u->ready = u->in.len;
}

uint64_t
sl_exchange_xtun_deadline(const struct sl_seam *s, const struct sl_txn *t)
{
	const struct sl_conf_limits *lim = &s->lconf->limits;
	uint64_t last =
	    SL_MAX(SL_MAX(t->clk.last_read_ms, t->clk.up_progress_ms),
		   t->clk.last_write_ms);
	uint64_t d = last + lim->tunnel_idle_timeout_ms;

	if (lim->tunnel_lifetime_ms > 0)
		d = SL_MIN(d, t->clk.start_ms + t->switch_ms +
				  lim->tunnel_lifetime_ms);
	if (t->ws == NULL)
		return d;
	if (t->ws->closing_ms != 0)
		return t->ws->closing_ms + SL_WS_CLOSE_GRACE_MS;
	if (t->ws->drain_at_ms != 0)
		d = SL_MIN(d, t->ws->drain_at_ms);
	return d;
}

/* Sends the upstream sluice's close frame and the FIN: when the client's
 * bytes stand at a frame boundary, all of them sent, and the socket takes
 * the frame whole. Then the request is over: what the client sends after
 * it stays unread. */
static void
tell_upstream(struct sl_seam *s, struct sl_txn *t, struct sl_upconn *u)
{
	struct sl_txn_ws *w = t->ws;
	unsigned char f[SL_WS_CLOSE_MAX];
	struct iovec iov;

	if (!sl_ws_at_boundary(&w->in) || s->in_ready != s->in.off ||
	    sl_buf_pending(&t->uphead) > 0 ||
	    sl_xprt(u->xkind)->send_room(u->fd, u->xc) < 64)
		return;
	/* the mask need not be secret for sluice's own two bytes */
	iov.iov_base = f;
	iov.iov_len = sl_ws_close_frame(
	    f, w->code, 1,
	    (uint32_t)(t->clk.start_ms * 2654435761u) ^ 0x5a17c3e1u);
	if (sl_upstream_writev(u, &iov, 1, 0) != (ssize_t)iov.iov_len)
		return;
	sl_upstream_shutdown(u);
	sl_upstream_want_write(u, 0);
	w->told |= SL_XTUN_TOLD_UP;
	t->send_ph = SL_TXN_SEND_DONE;
	t->req_ph = SL_TXN_REQ_DONE;
}

int
sl_exchange_xtun_tell(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txn_ws *w = t->ws;
	struct sl_upconn *u = t->up;
	int queued = 0;

	if (u == NULL || t->up_ph == SL_TXN_UP_DONE)
		return 0; /* the upstream ended it: its end goes on */
	if (!(w->told & SL_XTUN_TOLD_UP)) {
		/* a client that ended its side, or is closing itself, is
		 * told nothing more */
		if (t->send_ph == SL_TXN_SEND_DONE || w->in.close_seen)
			w->told |= SL_XTUN_TOLD_UP;
		else if (t->send_ph != SL_TXN_SEND_DEAD)
			tell_upstream(s, t, u);
	}
	if (!(w->told & SL_XTUN_TOLD_CLIENT) && sl_ws_at_boundary(&w->out) &&
	    u->ready == u->in.off && !w->out.close_seen &&
	    sl_exchange_out_reserve(s, SL_WS_CLOSE_MAX) == 0) {
		t->out.len += (uint32_t)sl_ws_close_frame(
		    (unsigned char *)t->out.data + t->out.len, w->code, 0, 0);
		w->told |= SL_XTUN_TOLD_CLIENT;
		queued = 1;
	}
	return queued;
}

/* Begins the close: the budget that ended the tunnel (e, its code), the
 * grace's clock, and the close frames that can go now. Returns
 * SL_TXN_NEXT_SCHEDULE: the grace is the tunnel's deadline now. */
static int
xtun_close(struct sl_seam *s, struct sl_txn *t, enum sl_tun_end e,
	   unsigned code, const char *why)
{
	struct sl_txn_ws *w = t->ws;

	t->error = why;
	w->end = (uint8_t)e;
	w->code = (uint16_t)code;
	w->closing_ms = now_ms();
	(void)sl_exchange_xtun_tell(s);
	return SL_TXN_NEXT_SCHEDULE;
}

int
sl_exchange_xtun_expired(struct sl_seam *s, struct sl_txn *t, uint64_t now)
{
	const struct sl_conf_limits *lim = &s->lconf->limits;
	struct sl_txn_ws *w = t->ws;
	int lifetime;

	if (now < sl_exchange_xtun_deadline(s, t))
		return 0;
	lifetime =
	    lim->tunnel_lifetime_ms > 0 &&
	    now >= t->clk.start_ms + t->switch_ms + lim->tunnel_lifetime_ms;
	if (w == NULL || w->closing_ms != 0) {
		/* no frames to follow, or a peer that did not answer in
		 * time: the stream's reset */
		if (t->error == NULL)
			t->error = lifetime ? "tunnel_lifetime"
					    : "tunnel_idle_timeout";
		s->ops->reset(s, t->error);
		return -1;
	}
	if (w->drain_at_ms != 0 && now >= w->drain_at_ms)
		return xtun_close(s, t, SL_TUN_DRAIN, SL_WS_GOING_AWAY,
				  "draining");
	if (lifetime)
		return xtun_close(s, t, SL_TUN_LIFETIME, SL_WS_POLICY,
				  "tunnel_lifetime");
	return xtun_close(s, t, SL_TUN_IDLE_TIMEOUT, SL_WS_GOING_AWAY,
			  "tunnel_idle_timeout");
}

int
sl_exchange_xtun_reloaded(struct sl_seam *s, struct sl_txn *t)
{
	if (t->ws == NULL || t->ws->drain_at_ms != 0 || t->ws->closing_ms != 0)
		return 0;
	t->ws->drain_at_ms =
	    now_ms() + s->lconf->limits.tunnel_drain_timeout_ms;
	return SL_TXN_NEXT_SCHEDULE;
}

int
sl_exchange_xtun_stop(struct sl_txn *t)
{
	if (t->ws == NULL || t->ws->closing_ms != 0)
		return 0;
	/* from the loop, through the exchange's timer: the caller walks
	 * its connection's streams */
	t->ws->drain_at_ms = now_ms();
	return SL_TXN_NEXT_SCHEDULE;
}
