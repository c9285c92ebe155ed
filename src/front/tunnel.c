/* SPDX-License-Identifier: MIT */
/*
 * Tunnels after a 101 (tunnel.h, doc/websocket.md). Bytes go both ways
 * through one buffer per direction: the client's `in` (to the upstream)
 * and the upstream connection's `in` (to the client), each at most
 * tunnel_buffer_bytes and given back to the worker's pool whenever it is
 * empty, so an idle tunnel holds no buffer. A full buffer stops reading
 * its side: the slower peer paces the faster, as a slow reader does on
 * HTTP/1.1. A FIN is passed on once what came before it is written.
 *
 * Deadlines are one timer per tunnel, set to the earliest of the tunnel's
 * budgets only when one begins (the start, a stalled write, a drain, a
 * close; and each second for min_send_rate's meter, when it is on):
 * traffic does not move it, the timer looks at the time of the last byte
 * when it fires. (Not the worker's deadline lists: those keep
 * a few fixed durations in arrival order, and a tunnel's are all
 * different.)
 */
#include "tunnel.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#include "client_codec.h"
#include "exchange.h"
#include "log.h"
#include "rate.h"
#include "runtime.h"
#include "upstream.h"
#include "util.h"
#include "wloop.h"
#include "xprt.h"

#define XPRT(c) sl_client_xprt(c)

static void tunnel_on_deadline(struct sl_client *c);

struct sl_tunnel {
	struct sl_client *c;
	struct sl_upconn *u;
	struct sl_txn *txn;  /* its exchange, for the log line */
	struct sl_buf *head; /* the 101 head still to send (the exchange's) */
	struct event *wev;   /* the client's write event (the exchange's) */
	struct event tev;    /* the earliest budget's end */
	/* the pump again from the loop's next turn: an event of its own,
	 * never the connection's read event (an event made active while it
	 * is not added cannot be added until it has run: libevent's
	 * event_add skips an active event, which would leave reading off
	 * for good) */
	struct event run_ev;
	uint64_t start_ms;
	uint64_t last_ms;     /* the last byte either way */
	uint64_t wblock_ms;   /* a write to the client stalled since; 0 */
	uint64_t drain_at_ms; /* a reload's grace ends; 0 none */
	uint64_t closing_ms;  /* close frames sent at; 0 none */
	uint64_t bytes_in;    /* from the client */
	uint64_t bytes_out;   /* to the client, the head included */
	/* min_send_rate: what the client took (written less the kernel's
	 * queue), sampled once a second */
	struct sl_rate send_rate;
	uint64_t taken_mark;
	struct sl_ws_track down; /* upstream to client */
	struct sl_ws_track up;	 /* client to upstream */
	enum sl_tun_end end;	 /* SL_TUN_NENDS until one is chosen */
	enum sl_tun_end first;	 /* who closed first */
	uint16_t code;		 /* closing: the close frames' code */
	unsigned ws : 1;	 /* WebSocket: close frames */
	unsigned c_eof : 1;	 /* the client sent its FIN */
	unsigned u_eof : 1;	 /* the upstream sent its FIN */
	unsigned c_shut : 1;	 /* the client was sent ours */
	unsigned u_shut : 1;	 /* the upstream was sent ours */
	unsigned wev_on : 1;
	/* within one run of the pump: a side read to its end (nothing more
	 * waits, or its event was not what woke the pump), not read again:
	 * each read that finds nothing is a system call per message */
	unsigned c_dry : 1;
	unsigned u_dry : 1;
};

static const char *const end_names[SL_TUN_NENDS] = {
    [SL_TUN_CLIENT_CLOSED] = "client_closed",
    [SL_TUN_UPSTREAM_CLOSED] = "upstream_closed",
    [SL_TUN_IDLE_TIMEOUT] = "tunnel_idle_timeout",
    [SL_TUN_LIFETIME] = "tunnel_lifetime",
    [SL_TUN_SEND_TIMEOUT] = "send_timeout",
    [SL_TUN_DRAIN] = "draining",
    [SL_TUN_CLIENT_ERROR] = "client_error",
    [SL_TUN_UPSTREAM_ERROR] = "upstream_error",
    [SL_TUN_MIN_SEND_RATE] = "min_send_rate",
};

const char *
sl_tunnel_end_str(enum sl_tun_end e)
{
	return e < SL_TUN_NENDS ? end_names[e] : "?";
}

/* ---- ending ------------------------------------------------------------ */

/* Ends the tunnel: c closes (tunnel_free does the rest); abort: with a
 * reset, for an error where a clean end would lie. */
static void
tun_end(struct sl_tunnel *k, enum sl_tun_end e, int abort)
{
	if (k->end == SL_TUN_NENDS)
		k->end = e;
	if (abort)
		sl_client_abort_reset(k->c, sl_tunnel_end_str(k->end));
	else
		sl_client_close(k->c, sl_tunnel_end_str(k->end));
}

/* Frees the tunnel state as c closes (the connection's close): the
 * exchange's log line, the upstream connection, the counts. */
static void
tunnel_free(struct sl_client *c, const char *reason)
{
	struct sl_tunnel *k = c->tun;
	struct sl_worker *w = c->s.w;

	if (k == NULL)
		return;
	if (k->end == SL_TUN_NENDS)
		/* closed from outside: a stop's drain_timeout, or out of
		 * memory */
		k->end = strcmp(reason, "drain_timeout") == 0
			     ? SL_TUN_DRAIN
			     : SL_TUN_CLIENT_ERROR;
	if (k->wev_on)
		XPRT(c)->watch(c->fd, c->xc, k->wev, 0);
	k->wev_on = 0;
	event_del(k->wev);
	event_del(&k->tev);
	event_del(&k->run_ev);
	/* an end the upstream must not take for a clean one */
	if (k->end == SL_TUN_CLIENT_ERROR || k->end == SL_TUN_SEND_TIMEOUT ||
	    k->end == SL_TUN_MIN_SEND_RATE)
		sl_xprt(k->u->xkind)->abort(k->u->fd, k->u->xc);
	sl_upstream_put(k->u, 0);
	SL_STAT_ADD(w->stats.tunnels_open, -1);
	SL_STAT_INC(w->stats.tunnels_closed[k->end]);
	if (sl_log_enabled(SL_LOG_INFO) && k->end != SL_TUN_CLIENT_CLOSED &&
	    k->end != SL_TUN_UPSTREAM_CLOSED) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s tunnel ended: %s after %llu ms, "
			 "%llu bytes in, %llu out",
			 (unsigned long long)c->s.id,
			 sl_seam_peer_str(&c->s, NULL, peer, sizeof(peer)),
			 sl_tunnel_end_str(k->end),
			 (unsigned long long)(now_ms() - k->start_ms),
			 (unsigned long long)k->bytes_in,
			 (unsigned long long)k->bytes_out);
	}
	/* the exchange's line, with the tunnel's bytes and duration */
	c->s.txn = k->txn;
	sl_exchange_tunnel_end(&c->s, k->bytes_in, k->bytes_out);
	c->tun = NULL;
	free(k);
}

/* ---- deadlines --------------------------------------------------------- */

/* The earliest deadline of the tunnel's budgets, set in the worker's
 * lists. */
static void
tun_arm(struct sl_tunnel *k)
{
	const struct sl_conf_limits *lim = &k->c->s.lconf->limits;
	uint64_t now = now_ms(), d;

	if (k->closing_ms != 0) {
		d = k->closing_ms + SL_WS_CLOSE_GRACE_MS;
	} else {
		d = k->last_ms + lim->tunnel_idle_timeout_ms;
		if (lim->tunnel_lifetime_ms > 0)
			d = SL_MIN(d, k->start_ms + lim->tunnel_lifetime_ms);
		if (k->drain_at_ms != 0)
			d = SL_MIN(d, k->drain_at_ms);
	}
	if (k->wblock_ms != 0)
		d = SL_MIN(d, k->wblock_ms + lim->send_timeout_ms);
	if (k->send_rate.start_ms != 0)
		d = SL_MIN(d, k->send_rate.next_ms);
	d = d > now ? d - now : 0;
	{
		struct timeval tv = {(time_t)(d / 1000),
				     (suseconds_t)(d % 1000) * 1000};
		evtimer_add(&k->tev, &tv);
	}
}

static void
tun_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_tunnel *k = arg;

	(void)fd;
	(void)what;
	sl_now_refresh();
	tunnel_on_deadline(k->c);
}

/*
 * While a WebSocket tunnel closes: a close frame with k->code to each peer
 * not told yet whose byte stream stands at a frame boundary with nothing
 * of its own unsent, then the FIN. A frame goes whole or not at all (a
 * part of one would corrupt the stream), so only where the socket takes it
 * at once; a side in the middle of a frame is told when the frame ends.
 */
static void
tun_tell(struct sl_tunnel *k)
{
	struct sl_client *c = k->c;
	unsigned code = k->code;
	int want;

	if (!k->c_shut && sl_buf_pending(k->head) == 0 &&
	    (k->u->in.data == NULL || sl_buf_pending(&k->u->in) == 0) &&
	    sl_ws_at_boundary(&k->down) && !k->down.close_seen &&
	    XPRT(c)->send_room(c->fd, c->xc) >= 64) {
		unsigned char f[SL_WS_CLOSE_MAX];
		struct iovec iov = {f, sl_ws_close_frame(f, code, 0, 0)};
		c->s.flags |= C_F_OUT_BACKLOG; /* client_finish asks */
		if (XPRT(c)->sendv(c->fd, c->xc, &iov, 1, 0, &want) ==
		    (ssize_t)iov.iov_len) {
			k->bytes_out += iov.iov_len;
			XPRT(c)->shutdown(c->fd, c->xc);
			k->c_shut = 1;
			k->wblock_ms = 0;
		}
	}
	if (!k->u_shut &&
	    (c->s.in.data == NULL || sl_buf_pending(&c->s.in) == 0) &&
	    sl_ws_at_boundary(&k->up) && !k->up.close_seen &&
	    sl_xprt(k->u->xkind)->send_room(k->u->fd, k->u->xc) >= 64) {
		/* the mask need not be secret for sluice's own two bytes */
		unsigned char f[SL_WS_CLOSE_MAX];
		struct iovec iov = {
		    f, sl_ws_close_frame(f, code, 1,
					 (uint32_t)(k->start_ms * 2654435761u) ^
					     0x5a17c3e1u)};
		if (sl_upstream_writev(k->u, &iov, 1, 0) ==
		    (ssize_t)iov.iov_len) {
			sl_upstream_shutdown(k->u);
			k->u_shut = 1;
		}
	}
}

/*
 * Ends the tunnel for a budget (e): a WebSocket tunnel tells both peers
 * (tun_tell) and gives them SL_WS_CLOSE_GRACE_MS to answer with their own
 * close and FIN; another protocol's tunnel closes now.
 */
static void
tun_goaway(struct sl_tunnel *k, enum sl_tun_end e, unsigned code)
{
	if (k->closing_ms != 0)
		return;
	k->end = e;
	if (!k->ws) {
		tun_end(k, e, 0);
		return;
	}
	k->code = (uint16_t)code;
	k->closing_ms = now_ms();
	tun_tell(k);
	tun_arm(k);
	/* what the peers send back moves from the loop */
	event_active(&k->run_ev, EV_TIMEOUT, 1);
}

/* The earliest budget's end (the tunnel's timer). */
static void
tunnel_on_deadline(struct sl_client *c)
{
	struct sl_tunnel *k = c->tun;
	const struct sl_conf_limits *lim = &c->s.lconf->limits;
	uint64_t now = now_ms();

	if (k->wblock_ms != 0 && now - k->wblock_ms >= lim->send_timeout_ms) {
		/* a client that does not read hears nothing more */
		SL_STAT_INC(c->s.w->stats.timeouts[SL_TO_SEND]);
		tun_end(k, SL_TUN_SEND_TIMEOUT, 1);
		return;
	}
	if (k->send_rate.start_ms != 0 && now >= k->send_rate.next_ms) {
		/* what the client took since the last look: a client that
		 * had nothing to take is not judged */
		int q = XPRT(c)->outq(c->fd, c->xc);
		uint64_t taken = k->bytes_out - (uint64_t)(q > 0 ? q : 0);
		sl_rate_add_completed(
		    &k->send_rate, now,
		    taken > k->taken_mark ? taken - k->taken_mark : 0);
		if (taken > k->taken_mark)
			k->taken_mark = taken;
		if (q <= 0 && sl_buf_pending(k->head) == 0 &&
		    (k->u->in.data == NULL || sl_buf_pending(&k->u->in) == 0))
			sl_rate_excuse(&k->send_rate, now);
		if (sl_rate_check(&k->send_rate, now, lim->min_send_rate_bps)) {
			SL_STAT_INC(c->s.w->stats.timeouts[SL_TO_SEND_RATE]);
			tun_end(k, SL_TUN_MIN_SEND_RATE, 1);
			return;
		}
	}
	if (k->closing_ms != 0) {
		if (now - k->closing_ms >= SL_WS_CLOSE_GRACE_MS) {
			tun_end(k, k->end, 0);
			return;
		}
	} else if (k->drain_at_ms != 0 && now >= k->drain_at_ms) {
		tun_goaway(k, SL_TUN_DRAIN, SL_WS_GOING_AWAY);
		return;
	} else if (lim->tunnel_lifetime_ms > 0 &&
		   now - k->start_ms >= lim->tunnel_lifetime_ms) {
		tun_goaway(k, SL_TUN_LIFETIME, SL_WS_POLICY);
		return;
	} else if (now - k->last_ms >= lim->tunnel_idle_timeout_ms) {
		tun_goaway(k, SL_TUN_IDLE_TIMEOUT, SL_WS_GOING_AWAY);
		return;
	}
	tun_arm(k);
}

/* A stop, or c's listener removed: the tunnel ends now, with close frames
 * where the protocol and the bytes in flight allow (1001). */
static void
tunnel_drain(struct sl_client *c)
{
	sl_now_refresh();
	tun_goaway(c->tun, SL_TUN_DRAIN, SL_WS_GOING_AWAY);
}

/* A reload: the tunnel stays on its generation until it ends, or for
 * tunnel_drain_timeout at most. */
static void
tunnel_reloaded(struct sl_client *c)
{
	struct sl_tunnel *k = c->tun;

	if (k->drain_at_ms != 0 || k->closing_ms != 0)
		return;
	k->drain_at_ms = now_ms() + c->s.lconf->limits.tunnel_drain_timeout_ms;
	tun_arm(k);
}

/* ---- moving bytes ------------------------------------------------------ */

/* Turns the client's write event on or off. */
static void
tun_want_write(struct sl_tunnel *k, int on)
{
	struct sl_client *c = k->c;

	if (on == (int)k->wev_on)
		return;
	if (XPRT(c)->watch(c->fd, c->xc, k->wev, on) == 0 || !on)
		k->wev_on = (unsigned)on;
}

/* Upstream to client. Returns 1 when bytes moved, 0 when none could, -1
 * when the tunnel ended. */
static int
tun_down(struct sl_tunnel *k)
{
	struct sl_client *c = k->c;
	struct sl_upconn *u = k->u;
	struct sl_worker *w = c->s.w;
	size_t bufsz = c->s.lconf->limits.tunnel_buffer_bytes;
	struct iovec iov[2];
	int niov = 0, moved = 0, want;
	size_t hp;
	ssize_t n;

	if (!k->u_eof && !k->u_dry) {
		size_t room = u->in.data == NULL
				  ? bufsz
				  : sl_buf_space(&u->in) + u->in.off;
		n = sl_upstream_read(u, bufsz, bufsz);
		/* short on TCP: the socket is empty (TLS gives a record at
		 * a time; only "nothing" says so there) */
		if (n == SL_AGAIN ||
		    (n > 0 && (size_t)n < room && u->xkind != SL_XPRT_TLS))
			k->u_dry = 1;
		if (n > 0) {
			if (k->ws)
				sl_ws_track(&k->down,
					    (const unsigned char *)u->in.data +
						u->in.len - n,
					    (size_t)n);
			k->last_ms = now_ms();
			moved = 1;
		} else if (n == 0) {
			k->u_eof = 1;
			if (!k->c_eof)
				k->first = SL_TUN_UPSTREAM_CLOSED;
			moved = 1;
		} else if (n == -1) {
			tun_end(k, SL_TUN_UPSTREAM_ERROR, 1);
			return -1;
		}
	}
	if (k->closing_ms != 0 && k->c_shut) {
		/* the client was told: what comes is dropped */
		if (u->in.data != NULL)
			sl_upstream_consume(u, sl_buf_pending(&u->in));
		sl_buf_release_if_empty(&w->bufs, &u->in);
		return moved;
	}
	if (k->wev_on)
		return moved; /* waits for room */
	if ((hp = sl_buf_pending(k->head)) > 0)
		iov[niov++] = (struct iovec){k->head->data + k->head->off, hp};
	if (u->in.data != NULL && sl_buf_pending(&u->in) > 0)
		iov[niov++] = (struct iovec){u->in.data + u->in.off,
					     sl_buf_pending(&u->in)};
	if (niov > 0) {
		c->s.flags |= C_F_OUT_BACKLOG; /* client_finish asks */
		n = XPRT(c)->sendv(c->fd, c->xc, iov, niov, 0, &want);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				tun_end(k, SL_TUN_CLIENT_ERROR, 1);
				return -1;
			}
			if (k->wblock_ms == 0) {
				k->wblock_ms = now_ms();
				tun_arm(k);
			}
			/* TLS that must read first goes on from the read
			 * event, which is on while the client can send */
			if (want != SL_TLS_WANT_READ)
				tun_want_write(k, 1);
			return moved;
		}
		SL_STAT_ADD(w->stats.client_bytes_out, (uint64_t)n);
		k->bytes_out += (uint64_t)n;
		k->last_ms = now_ms();
		k->wblock_ms = 0;
		if ((size_t)n >= hp) {
			k->head->off += (uint32_t)hp;
			if (hp > 0)
				sl_buf_release(&w->bufs, k->head);
			SL_STAT_ADD(w->stats.tunnel_bytes_out,
				    (uint64_t)n - hp);
			sl_upstream_consume(u, (size_t)n - hp);
		} else {
			k->head->off += (uint32_t)n;
		}
		moved = 1;
	}
	if (u->in.data != NULL && sl_buf_pending(&u->in) == 0) {
		/* an idle tunnel holds no buffer */
		sl_buf_release(&w->bufs, &u->in);
		u->ready = 0;
	}
	if (k->u_eof && !k->c_shut && sl_buf_pending(k->head) == 0 &&
	    (u->in.data == NULL || sl_buf_pending(&u->in) == 0)) {
		/* the upstream's FIN, passed on after its last byte */
		XPRT(c)->shutdown(c->fd, c->xc);
		k->c_shut = 1;
	}
	return moved;
}

/* Client to upstream; as tun_down. */
static int
tun_up(struct sl_tunnel *k)
{
	struct sl_client *c = k->c;
	struct sl_worker *w = c->s.w;
	struct sl_buf *in = &c->s.in;
	size_t bufsz = c->s.lconf->limits.tunnel_buffer_bytes;
	int moved = 0, want;
	ssize_t n;

	if (!k->c_eof) {
		if (in->data == NULL &&
		    sl_buf_alloc(&w->bufs, in, bufsz) == -1) {
			tun_end(k, SL_TUN_CLIENT_ERROR, 1);
			return -1;
		}
		if (in->off == in->len)
			in->off = in->len = 0;
		if (sl_buf_space(in) == 0 && in->off > 0) {
			memmove(in->data, in->data + in->off,
				in->len - in->off);
			in->len -= in->off;
			in->off = 0;
		}
		n = 0;
		if (sl_buf_space(in) > 0 && !k->c_dry) {
			size_t room = sl_buf_space(in);
			n = XPRT(c)->recv(c->fd, c->xc, in->data + in->len,
					  room, &want);
			if ((n == -1 && errno == EAGAIN) ||
			    (n > 0 && (size_t)n < room &&
			     !(c->s.flags & C_F_TLS)))
				k->c_dry = 1;
			if ((want == SL_TLS_WANT_WRITE) !=
			    ((c->s.flags & C_F_REV_W) != 0))
				sl_client_rev_wait(c, want);
			if (n > 0) {
				if (k->ws)
					sl_ws_track(
					    &k->up,
					    (const unsigned char *)in->data +
						in->len,
					    (size_t)n);
				in->len += (uint32_t)n;
				SL_STAT_ADD(w->stats.client_bytes_in,
					    (uint64_t)n);
				k->last_ms = now_ms();
				moved = 1;
			} else if (n == 0) {
				k->c_eof = 1;
				if (!k->u_eof)
					k->first = SL_TUN_CLIENT_CLOSED;
				sl_client_want_read(c, 0);
				moved = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				tun_end(k, SL_TUN_CLIENT_ERROR, 1);
				return -1;
			}
		}
	}
	if (k->closing_ms != 0 && k->u_shut) {
		in->off = in->len = 0; /* the upstream was told */
	} else if (sl_buf_pending(in) > 0 && !k->u_shut) {
		struct iovec iov = {in->data + in->off, sl_buf_pending(in)};
		n = sl_upstream_writev(k->u, &iov, 1, 0);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				tun_end(k, SL_TUN_UPSTREAM_ERROR, 1);
				return -1;
			}
			sl_upstream_want_write(k->u, 1);
		} else {
			in->off += (uint32_t)n;
			k->bytes_in += (uint64_t)n;
			SL_STAT_ADD(w->stats.tunnel_bytes_in, (uint64_t)n);
			k->last_ms = now_ms();
			moved = 1;
		}
	}
	if (in->data != NULL && sl_buf_pending(in) == 0)
		sl_buf_release(&w->bufs, in);
	if (k->c_eof && !k->u_shut && sl_buf_pending(in) == 0) {
		sl_upstream_shutdown(k->u);
		k->u_shut = 1;
	}
	return moved;
}

/* Moves what can move, then sets interest; ends the tunnel once both
 * sides closed and everything went through. */
/* Moves what can move; rc, ru: read the client, the upstream (the side
 * whose event woke it; both when unknown). */
static void
tun_pump(struct sl_tunnel *k, int rc, int ru)
{
	struct sl_client *c = k->c;
	struct sl_upconn *u = k->u;
	int r, any = 0;

	k->c_dry = !rc;
	k->u_dry = !ru;
	for (int guard = 0; guard < 8; guard++) {
		if (k->closing_ms != 0)
			tun_tell(k);
		if ((r = tun_down(k)) == -1)
			return;
		any = r;
		if ((r = tun_up(k)) == -1)
			return;
		any |= r;
		if (k->c_eof && k->u_eof && k->c_shut && k->u_shut) {
			tun_end(k, k->closing_ms != 0 ? k->end : k->first, 0);
			return;
		}
		if (!any)
			break;
	}
	/* still moving after its turns: the rest goes from the next loop
	 * turn (a part written short has no event of its own to wait for),
	 * and other connections run first */
	if (any)
		event_active(&k->run_ev, EV_TIMEOUT, 1);
	/* read a side while its buffer has room */
	sl_client_want_read(c, !k->c_eof && (c->s.in.data == NULL ||
					     sl_buf_space(&c->s.in) > 0 ||
					     c->s.in.off > 0));
	sl_upstream_want_read(u, !k->u_eof && (u->in.data == NULL ||
					       sl_buf_space(&u->in) > 0 ||
					       u->in.off > 0));
}

static void
tun_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	struct sl_tunnel *k = arg;

	(void)err;
	sl_now_refresh();
	if (ev == SL_UP_EV_WRITABLE)
		sl_upstream_want_write(u, 0);
	/* writable: the client's bytes go on; readable: the upstream's */
	tun_pump(k, 0, ev == SL_UP_EV_READABLE);
}

static void
tun_on_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sl_now_refresh();
	tun_pump(arg, 1, 1);
}

/* c's events (the connection's read event, the write event the exchange
 * left the tunnel). */
static void
tunnel_on_read(struct sl_client *c)
{
	tun_pump(c->tun, 1, 0);
}

static void
tunnel_on_write(struct sl_client *c)
{
	tun_want_write(c->tun, 0);
	tun_pump(c->tun, 0, 0);
}

/* What the connection calls while it is a tunnel (client_codec.h). A
 * removed listener ends it as a drain does. */
const struct sl_client_codec sl_tunnel_codec = {
    .on_read = tunnel_on_read,
    .on_write = tunnel_on_write,
    .on_deadline = tunnel_on_deadline,
    .drain = tunnel_drain,
    .reloaded = tunnel_reloaded,
    .retire = tunnel_drain,
    .free = tunnel_free,
};

/* ---- start ------------------------------------------------------------- */

int
sl_tunnel_start(struct sl_client *c, struct sl_upconn *u, int ws)
{
	struct sl_tunnel *k = calloc(1, sizeof(*k));
	struct sl_worker *w = c->s.w;

	if (k == NULL)
		return -1;
	k->c = c;
	k->u = u;
	k->txn = c->s.txn;
	k->head = sl_exchange_tunnel_head(k->txn);
	k->wev = sl_exchange_codec_event(k->txn);
	k->ws = ws != 0;
	k->end = SL_TUN_NENDS;
	k->first = SL_TUN_CLIENT_CLOSED;
	k->start_ms = k->last_ms = now_ms();
	k->c_eof = (c->s.flags & C_F_EOF) != 0;
	/* the write event the exchange may have armed is the tunnel's now */
	if (c->s.flags & C_F_WEV) {
		c->s.flags &= ~C_F_WEV;
		k->wev_on = 1;
		k->wblock_ms = k->start_ms; /* send_timeout counts */
	}
	/* bytes the client sent after its head are the tunnel's */
	if (k->ws && c->s.in.data != NULL)
		sl_ws_track(&k->up,
			    (const unsigned char *)c->s.in.data + c->s.in.off,
			    sl_buf_pending(&c->s.in));
	if (k->ws && u->in.data != NULL)
		sl_ws_track(&k->down,
			    (const unsigned char *)u->in.data + u->in.off,
			    sl_buf_pending(&u->in));
	u->handler = tun_on_upstream;
	u->arg = k;
	c->s.txn = NULL;
	c->tun = k;
	SL_STAT_INC(w->stats.tunnels_opened);
	SL_STAT_INC(w->stats.tunnels_open);
	evtimer_assign(&k->tev, w->base, tun_on_timer, k);
	if (c->s.lconf->limits.min_send_rate_bps > 0)
		sl_rate_start(&k->send_rate, k->start_ms);
	event_assign(&k->run_ev, w->base, -1, 0, tun_on_run, k);
	/* a stop or a reload that came while the 101 was on its way: the
	 * tunnel is drained as if it had been open then (at once for a stop
	 * or a removed listener, after the reload's grace otherwise) */
	if (w->draining || (c->s.flags & C_F_RETIRED))
		k->drain_at_ms = k->start_ms;
	else if (c->s.gen != w->gen)
		k->drain_at_ms =
		    k->start_ms + c->s.lconf->limits.tunnel_drain_timeout_ms;
	tun_arm(k);
	/* the bytes already here move from the loop, not from under the
	 * exchange's call */
	event_active(&k->run_ev, EV_TIMEOUT, 1);
	return 0;
}
