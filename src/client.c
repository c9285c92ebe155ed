/* SPDX-License-Identifier: MIT */
/*
 * The client-side connection: its states, reading and scanning request
 * heads, the idle, header and linger deadlines, keep-alive, half-close,
 * lingering close and closing. The proxied exchange of each request is
 * exchange.c's; the structs both share are in client_int.h. The worker's
 * lists of connections, the structs and read events kept for reuse and
 * the parking of idle connections are client_pool.c's.
 */
#include "client.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"
#include "client_pool.h"
#include "exchange.h"
#include "h1_parse.h"
#include "listener.h"
#include "log.h"
#include "proxyproto.h"
#include "rate.h"
#include "runtime.h"
#include "wloop.h"
#include "xprt.h"

#define LINGER_MS 2000 /* reading and dropping input before a close */
/* how often a lingering connection with response bytes still unsent looks
 * whether the client has taken them */
#define LINGER_OUT_POLL_MS 200
/* ... of an idle connection a drain closes: what a client sent as the
 * drain began (one round trip) */
#define DRAIN_LINGER_MS 500
/* a drain leaves an idle keep-alive connection this long to send one more
 * request (answered with Connection: close) before it closes it */
#define DRAIN_IDLE_MS  1000
#define HEAD_BUF_START 4096 /* first buffer of a request head */

static void client_on_read(evutil_socket_t, short, void *);
static void client_adopt(struct sl_client *c);
static int client_proxy_scan(struct sl_client *c);

_Static_assert(SL_PP_NERRORS == SL_RUNTIME_PP_NERRORS,
	       "runtime.h's SL_RUNTIME_PP_NERRORS is proxyproto.h's "
	       "SL_PP_NERRORS");

static const char *
client_state_str(enum sl_client_state s)
{
	switch (s) {
	case SL_CLIENT_ST_HANDSHAKE:
		return "handshake";
	case SL_CLIENT_ST_PROXY:
		return "proxy";
	case SL_CLIENT_ST_IDLE:
		return "idle";
	case SL_CLIENT_ST_HEAD:
		return "head";
	case SL_CLIENT_ST_TXN:
		return "txn";
	case SL_CLIENT_ST_LINGER:
		return "linger";
	case SL_CLIENT_ST_CLOSED:
		return "closed";
	}
	return "?";
}

void
sl_client_set_state(struct sl_client *c, enum sl_client_state s)
{
	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("conn=%llu state %s -> %s", (unsigned long long)c->id,
			  client_state_str(c->state), client_state_str(s));
	c->state = s;
}

static size_t
in_cap(const struct sl_client *c)
{
	return SL_MAX(c->lconf->limits.buffer_bytes,
		      c->lconf->limits.max_header_bytes);
}

/* 1 when `in` can take more bytes (now, or after compaction or growth). */
static int
in_room(const struct sl_client *c)
{
	return c->in.data == NULL || sl_buf_space(&c->in) > 0 ||
	       c->in.off > 0 || c->in.cap < in_cap(c);
}

/* Gives a parked connection its event back, added. Returns -1 when c was
 * closed (no memory). */
static int
client_unpark(struct sl_client *c)
{
	if (sl_client_unpark(c) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	event_assign(c->rev, c->w->base, c->fd, EV_READ | EV_PERSIST,
		     client_on_read, c);
	if (event_add(c->rev, NULL) == 0)
		c->flags |= C_F_REV;
	return 0;
}

static void
client_want_read(struct sl_client *c, int on)
{
	if ((c->flags & C_F_PARKED) && client_unpark(c) == -1)
		return;
	if (on && !(c->flags & C_F_REV)) {
		if (event_add(c->rev, NULL) == 0)
			c->flags |= C_F_REV;
	} else if (!on && (c->flags & C_F_REV)) {
		event_del(c->rev);
		c->flags &= ~C_F_REV;
	}
	/* bytes TLS decrypted (or read) before reading stopped: epoll
	 * will not say so, the connection must look itself */
	if (on && sl_xprt_pending(c->ssl))
		event_active(c->rev, EV_READ, 1);
}

/*
 * What rev waits for: readability, or (TLS) writability when a read or
 * the handshake must write first. The interest is the transport's.
 */
static void
client_rev_wait(struct sl_client *c, int want)
{
	int w = want == SL_TLS_WANT_WRITE;
	int added = (c->flags & C_F_REV) != 0;

	if (w == ((c->flags & C_F_REV_W) != 0))
		return;
	if ((c->flags & C_F_PARKED) && client_unpark(c) == -1)
		return;
	added = (c->flags & C_F_REV) != 0;
	if (added)
		event_del(c->rev);
	event_assign(c->rev, c->w->base, c->fd,
		     (w ? EV_WRITE : EV_READ) | EV_PERSIST, client_on_read, c);
	c->flags = w ? c->flags | C_F_REV_W : c->flags & ~C_F_REV_W;
	if (added)
		event_add(c->rev, NULL);
}

void
sl_client_want_write(struct sl_client *c, int on)
{
	/* only an exchange writes to the client, so the event lives in
	 * the (pooled) exchange, not in every idle connection */
	if (on && !(c->flags & C_F_WEV) && c->txn != NULL) {
		if (event_add(&c->txn->wev, NULL) == 0)
			c->flags |= C_F_WEV;
	} else if (!on && (c->flags & C_F_WEV)) {
		event_del(&c->txn->wev);
		c->flags &= ~C_F_WEV;
	}
}

/* ---- closing --------------------------------------------------------- */

/*
 * Closes the connection now and frees c from a zero-delay event, so the
 * caller may still read c but must not act on it. reason is static.
 */
void
sl_client_close(struct sl_client *c, const char *reason)
{
	struct sl_worker *w = c->w;

	if (c->state == SL_CLIENT_ST_CLOSED)
		return;
	c->close_reason = reason;
	SL_STAT_INC(
	    c->lconf->state->counts[w->id].closed[sl_close_kind_of(reason)]);
	if (sl_log_enabled(SL_LOG_DEBUG)) {
		char peer[SL_PEER_MAX], st[256];
		log_debug("conn=%llu peer=%s close: %s%s%s",
			  (unsigned long long)c->id,
			  peer_str(c, peer, sizeof(peer)), reason,
			  c->txn != NULL ? "; exchange " : "",
			  c->txn != NULL
			      ? sl_exchange_state_str(c->txn, st, sizeof(st))
			      : "");
	}
	if (c->txn != NULL) {
		c->txn->error = c->txn->error ? c->txn->error : reason;
		if (c->txn->status == 0)
			c->txn->status = 499; /* client went away */
		sl_exchange_log(c, c->txn);
		sl_exchange_free(c);
	}
	/* unconditionally: rev may be active without being added (see the
	 * end of sl_client_process), and the struct is reused after reaping */
	if (c->rev != NULL)
		event_del(c->rev);
	c->flags &= ~C_F_REV;
	if (c->flags & C_F_PARKED)
		sl_client_park_leave(c);
	/* a held last response leaves with the FIN now, before close()
	 * could turn into a reset over unread input and drop it */
	if (c->flags & C_F_CORKED)
		sl_xprt_shutdown(c->fd, c->ssl);
	if (c->ssl != NULL) {
		/* close_notify: the end is an end, not a cut */
		if (c->state != SL_CLIENT_ST_HANDSHAKE)
			sl_tls_close_notify(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	free(c->tls_subject);
	c->tls_subject = NULL;
	free(c->pp);
	c->pp = NULL;
	close(c->fd);
	c->fd = -1;
	w->cpool.sndbuf_extra -= c->sndbuf_extra;
	c->sndbuf_extra = 0;
	sl_runtime_release(&c->lconf->state->conns);
	sl_runtime_ip_release(c->lconf->state, c->ip_slot);
	sl_buf_release(&w->bufs, &c->in);
	TAILQ_REMOVE(&w->cpool.clients, c, entry);
	w->nclients--;
	sl_wgen_unref(w, c->gen);
	c->gen = NULL;
	SL_STAT_ADD(w->stats.active, -1);
	sl_client_set_state(c, SL_CLIENT_ST_CLOSED);
	sl_worker_reap(w, &c->tnode);
}

void
sl_client_abort_reset(struct sl_client *c, const char *reason)
{
	struct linger lg = {1, 0};

	/* SO_LINGER 0: close() sends a reset, and drops what is queued */
	if (c->state != SL_CLIENT_ST_CLOSED)
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	/* and no close_notify: the peer must not take the part for all */
	if (c->ssl != NULL)
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN);
	c->flags &= ~C_F_CORKED;
	sl_client_close(c, reason);
}

/*
 * Ends a connection whose last response is written: with unread input
 * still coming, shut the write side and drop input for a while so the
 * client reads the response instead of a reset. Also when part of the
 * response is not even sent yet (the client's window is full): input
 * that comes before it is would make close() a reset that drops it. That
 * wait is the client's send_timeout, as the response's was.
 */
/*
 * A lingering connection whose response was not all sent when it began:
 * while bytes stay unsent and send_timeout has not passed, it looks again
 * in a while; once the client has taken them, the usual lingering follows
 * (reading and dropping what it sends, then the close), instead of holding
 * the connection until send_timeout for a client that keeps its socket
 * open. Returns 1 when the connection stays, 0 when it closes now.
 */
static int
client_linger_out(struct sl_client *c)
{
	uint64_t now = now_ms();
	int32_t left;

	if (sl_xprt_unsent(c->fd) == 0) {
		c->flags &= ~C_F_LINGER_OUT;
		sl_timeq_set(c->w, &c->tnode,
			     c->w->draining ? DRAIN_LINGER_MS : LINGER_MS, now);
		return 1;
	}
	/* compared in 32 bits, wrapping: send_timeout is at most a day */
	left = (int32_t)(c->linger_out_end - (uint32_t)now);
	if (left <= 0)
		return 0;
	sl_timeq_set(c->w, &c->tnode,
		     SL_MIN((uint64_t)left, LINGER_OUT_POLL_MS), now);
	return 1;
}

/* sl_client_finish with the lingering bounded by ms. */
static void
client_finish_ms(struct sl_client *c, const char *reason, int linger,
		 uint64_t ms)
{
	int shut = 0;

	if (!(c->flags & C_F_EOF)) {
		/* the held last bytes go with the FIN now; what the window
		 * keeps back after that is really unsent */
		if (c->flags & C_F_CORKED) {
			sl_xprt_shutdown(c->fd, c->ssl);
			c->flags &= ~C_F_CORKED;
			shut = 1;
		}
		if (sl_xprt_unsent(c->fd) > 0) {
			/* the response is not all out: wait while the client
			 * takes it, up to send_timeout, then linger as asked
			 * (client_linger_out) */
			linger = 1;
			c->flags |= C_F_LINGER_OUT;
			c->linger_out_end =
			    (uint32_t)(now_ms() +
				       SL_MAX(
					   ms,
					   c->lconf->limits.send_timeout_ms));
			ms = SL_MIN(ms, LINGER_OUT_POLL_MS);
		}
	}
	if (!linger || (c->flags & C_F_EOF)) {
		sl_client_close(c, reason);
		return;
	}
	if (!shut)
		sl_xprt_shutdown(c->fd, c->ssl);
	c->close_reason = reason;
	sl_client_set_state(c, SL_CLIENT_ST_LINGER);
	sl_timeq_set(c->w, &c->tnode, ms, now_ms());
	if (c->in.data != NULL)
		c->in.off = c->in.len = 0;
	sl_client_want_write(c, 0);
	client_want_read(c, 1);
}

void
sl_client_finish(struct sl_client *c, const char *reason, int linger)
{
	client_finish_ms(c, reason, linger, LINGER_MS);
}

/* ---- client side I/O -------------------------------------------------- */

/* Writes our heads and the ready response bytes. Returns -1 when c was
 * closed. */
int
sl_client_write(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct iovec iov[2];
	int niov, flags = 0, more = 0, want;
	ssize_t n;

	if (c->flags & C_F_WEV)
		return 0; /* wait for writability */
	if ((niov = sl_exchange_output(c, iov, &more)) == 0)
		return 0;
	if (more)
		flags = MSG_MORE;
	/* The last bytes before a close: held back (MSG_MORE) so that the
	 * FIN the close sends right after leaves in the same segment. */
	if ((t->flags & T_CLOSE) &&
	    (t->resp_ph == SL_TXN_RESP_LOCAL || t->up_ph == SL_TXN_UP_DONE) &&
	    !(c->flags & C_F_EOF)) {
		flags = MSG_MORE;
		c->flags |= C_F_CORKED;
	}
	n = sl_xprt_sendv(c->fd, c->ssl, iov, niov, flags, &want);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			/* send_timeout counts from the moment writing stalls */
			if (!(c->flags & C_F_WEV))
				t->last_write_ms = now_ms();
			if (want == SL_TLS_WANT_READ)
				/* TLS must read first: the read event
				 * carries on */
				client_want_read(c, 1);
			else
				sl_client_want_write(c, 1);
			return 0;
		}
		sl_client_close(c, "client_write_error");
		return -1;
	}
	t->last_write_ms = now_ms();
	SL_STAT_ADD(c->w->stats.client_bytes_out, (uint64_t)n);
	if (sl_exchange_sent(c, (size_t)n))
		sl_client_want_write(c, 1);
	return 0;
}

/*
 * Reads from the client into `in`. Returns bytes read, 0 at end of stream,
 * SL_AGAIN when nothing could be read now, or -1 when c was closed.
 */
static ssize_t
client_read(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	size_t cap = in_cap(c);
	ssize_t n;
	int want;

	/* a head starts in a small buffer that grows only when the head
	 * needs it, so a slow or idle client costs little; a body gets the
	 * whole budget at once */
	if (sl_buf_alloc(&c->w->bufs, &c->in, SL_MIN(HEAD_BUF_START, cap)) ==
	    -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	if (c->in.off == c->in.len) {
		c->in.off = c->in.len = 0;
		c->in_ready = 0;
	}
	if (c->in.cap < cap && t != NULL && t->req_ph != SL_TXN_REQ_DONE &&
	    sl_buf_grow(&c->w->bufs, &c->in, cap) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	if (sl_buf_space(&c->in) == 0 && c->in.off > 0) {
		uint32_t off = c->in.off;
		memmove(c->in.data, c->in.data + off, c->in.len - off);
		c->in.len -= off;
		c->in_ready = c->in_ready >= off ? c->in_ready - off : 0;
		c->in.off = 0;
	}
	if (sl_buf_space(&c->in) == 0 && c->in.cap < cap &&
	    sl_buf_grow(&c->w->bufs, &c->in,
			SL_MIN((size_t)c->in.cap * 2, cap)) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	if (sl_buf_space(&c->in) == 0) {
		client_want_read(c, 0); /* backpressure */
		if (t != NULL)
			sl_rate_excuse(&t->body_rate, now_ms());
		return SL_AGAIN;
	}
	n = sl_xprt_recv(c->fd, c->ssl, c->in.data + c->in.len,
			 sl_buf_space(&c->in), &want);
	if (c->ssl != NULL)
		/* a TLS read may have to write first */
		client_rev_wait(c, n == -1 && errno == EAGAIN ? want
				   : want == SL_TLS_WANT_WRITE
				       ? SL_TLS_WANT_WRITE
				       : SL_TLS_WANT_READ);
	if (n > 0) {
		c->in.len += (uint32_t)n;
		SL_STAT_ADD(c->w->stats.client_bytes_in, (uint64_t)n);
		return n;
	}
	if (n == 0)
		return 0;
	if (errno == EAGAIN || errno == EINTR)
		return SL_AGAIN;
	sl_client_close(c, errno == EPROTO ? "client_tls_error"
					   : "client_read_error");
	return -1;
}

/* ---- the state machine ------------------------------------------------ */

/* Recomputes read interest and the deadline after any change. */
static void
client_schedule(struct sl_client *c)
{
	switch (c->state) {
	case SL_CLIENT_ST_HANDSHAKE:
		return; /* the handshake sets its own interest */
	case SL_CLIENT_ST_PROXY:
	case SL_CLIENT_ST_IDLE:
	case SL_CLIENT_ST_HEAD:
	case SL_CLIENT_ST_LINGER:
		/* the deadline is in a worker list (set on entering the
		 * state) */
		if (!(c->flags & C_F_EOF))
			client_want_read(c, in_room(c));
		return;
	case SL_CLIENT_ST_TXN:
		if (!(c->flags & C_F_EOF))
			client_want_read(c, in_room(c));
		/* the exchange's deadlines, and its upstream's interest */
		sl_exchange_schedule(c);
		return;
	case SL_CLIENT_ST_CLOSED:
		return;
	}
}

/* Works on c until it must wait for an event. May close c. */
void
sl_client_process(struct sl_client *c)
{
	for (int guard = 0; guard < 1024; guard++) {
		long r;

		switch (c->state) {
		case SL_CLIENT_ST_IDLE:
		case SL_CLIENT_ST_HEAD: {
			struct sl_h1_limits hl = {
			    c->lconf->limits.max_uri_bytes,
			    c->lconf->limits.max_header_bytes,
			    c->lconf->limits.max_headers};
			if (c->in.data == NULL || sl_buf_pending(&c->in) == 0) {
				if (c->in.data != NULL &&
				    c->state == SL_CLIENT_ST_IDLE)
					sl_buf_release(&c->w->bufs, &c->in);
				goto out;
			}
			if (c->state == SL_CLIENT_ST_IDLE) {
				/* empty lines before a request are ignored
				 * (RFC 9112 section 2.2) */
				while (sl_buf_pending(&c->in) >= 2 &&
				       c->in.data[c->in.off] == '\r' &&
				       c->in.data[c->in.off + 1] == '\n')
					c->in.off += 2;
				if (sl_buf_pending(&c->in) == 0 ||
				    (sl_buf_pending(&c->in) == 1 &&
				     c->in.data[c->in.off] == '\r')) {
					if (c->flags & C_F_EOF) {
						sl_client_close(
						    c, "client_closed");
						return;
					}
					goto out;
				}
				/* draining: a request that was on its way
				 * when the drain began is answered, with
				 * Connection: close (req_ends_connection) */
				client_adopt(c);
				sl_client_set_state(c, SL_CLIENT_ST_HEAD);
				sl_h1_scan_init(&c->scan);
				sl_timeq_set(c->w, &c->tnode,
					     c->lconf->limits.header_timeout_ms,
					     now_ms());
			}
			r = sl_h1_scan_head(&c->scan, c->in.data + c->in.off,
					    sl_buf_pending(&c->in), &hl, 1);
			/* a head that fills the largest buffer never ends
			 * (buffer_bytes == max_header_bytes, CR last) */
			if (r == 0 && sl_buf_pending(&c->in) >= in_cap(c)) {
				r = -431;
				c->scan.why = SL_H1_R_HEAD_TOO_LARGE;
			}
			if (r < 0) {
				sl_exchange_reject(c, (int)-r, c->scan.why);
				continue;
			}
			if (r == 0 && (c->flags & C_F_EOF)) {
				/* the rest of this head will never come */
				sl_client_close(c, "client_closed_in_head");
				return;
			}
			if (r == 0)
				goto out;
			sl_exchange_start(c, (size_t)r);
			continue;
		}
		case SL_CLIENT_ST_TXN:
			if (sl_exchange_pump(c) == -1)
				continue;
			goto out;
		case SL_CLIENT_ST_LINGER:
			if (c->in.data != NULL)
				c->in.off = c->in.len = 0;
			goto out;
		case SL_CLIENT_ST_PROXY:
			/* TLS reads its header itself (client_proxy_tls) */
			if (c->lconf->tls.ctx != NULL ||
			    (r = client_proxy_scan(c)) == 0)
				goto out;
			if (r == -1)
				return;
			continue;
		case SL_CLIENT_ST_HANDSHAKE:
			goto out;
		case SL_CLIENT_ST_CLOSED:
			return;
		}
	}
	/* many pipelined requests answered in one go: let other
	 * connections run, and carry on from the next loop turn (the write
	 * callback only processes) */
	event_active(c->rev, EV_READ, 1);
out:
	client_schedule(c);
}

/* ---- TLS handshake -------------------------------------------------------*/

/* A failed handshake: counted by reason, said at info, closed. */
static void
client_tls_failed(struct sl_client *c, enum sl_tls_fail f, const char *why)
{
	atomic_fetch_add(&c->lconf->state->tls_failures[f], 1);
	if (sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s listener=%s: TLS handshake "
			 "failed: %s (%s)",
			 (unsigned long long)c->id,
			 peer_str(c, peer, sizeof(peer)), c->lconf->name,
			 sl_tls_fail_str(f), why);
	}
}

/*
 * An HTTP request on a TLS port: a 400 in clear text, then a lingering
 * close, so that the client reads it instead of waiting for a handshake.
 */
static void
client_plain_http(struct sl_client *c, int head)
{
	char rid[SL_REQUEST_ID_MAX + 1], body[160], hdr[320];
	struct iovec iov[2];
	int nb, nh;

	client_tls_failed(c, SL_TLS_F_PLAIN_HTTP,
			  "an HTTP request on a TLS listener");
	/* an error response like any other (contracts.md 3.1) */
	sl_worker_request_id(c->w, rid);
	nb = snprintf(body, sizeof(body),
		      "{\"error\":\"plain_http_on_tls_port\",\"status\":400,"
		      "\"request_id\":\"%s\"}\n",
		      rid);
	nh = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.1 400 Bad Request\r\nContent-Type: "
		      "application/json\r\nContent-Length: %d\r\n"
		      "X-Request-Id: %s\r\nConnection: close\r\n\r\n",
		      nb, rid);
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)nh;
	iov[1].iov_base = body;
	iov[1].iov_len = head ? 0 : (size_t)nb;
	/* small enough for any socket buffer; a short write is a client
	 * that is gone already */
	(void)sl_sendv(c->fd, iov, 2, 0);
	/* a refused request like the others: counted as a request and as
	 * a response, of the worker and of the listener */
	SL_STAT_INC(c->w->stats.requests);
	SL_STAT_INC(c->w->stats.responses[4]);
	{
		struct sl_counts *lc = &c->lconf->state->counts[c->w->id];
		SL_STAT_INC(lc->requests);
		SL_STAT_INC(lc->responses[4]);
	}
	sl_client_finish(c, "plain_http_on_tls_port", 1);
}

/*
 * Drives the handshake of a TLS client. Returns 1 when it is done (c is
 * IDLE and may read), 0 when it waits (interest set), -1 when c was
 * closed.
 */
static int
client_handshake(struct sl_client *c)
{
	struct sl_lstate *st = c->lconf->state;
	char why[256];
	int want = 0, r;

	if (c->ssl == NULL) {
		unsigned char p[5];
		ssize_t n = recv(c->fd, p, sizeof(p), MSG_PEEK);
		unsigned char b = p[0];

		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			client_tls_failed(c, SL_TLS_F_CLOSED,
					  n == 0 ? "closed by the client"
						 : strerror(errno));
			sl_client_close(c, "client_closed_in_handshake");
			return -1;
		}
		if (n == -1)
			return 0; /* read interest is on */
		/* a TLS handshake record starts with 22; a request with a
		 * letter of its method */
		if (b != 22) {
			if (b >= 'A' && b <= 'Z') {
				client_plain_http(
				    c, n == 5 && memcmp(p, "HEAD ", 5) == 0);
				return -1;
			}
			client_tls_failed(c, SL_TLS_F_PROTOCOL,
					  "not a TLS handshake");
			sl_client_close(c, "tls_handshake_failed");
			return -1;
		}
		if ((c->ssl = sl_tls_accept(&c->lconf->tls, c->fd, c)) ==
		    NULL) {
			sl_client_close(c, "out_of_memory");
			return -1;
		}
	}
	r = sl_tls_handshake(c->ssl, &want);
	if (r == 0) {
		client_rev_wait(c, want);
		client_want_read(c, 1);
		return 0;
	}
	if (r == -1) {
		enum sl_tls_fail f =
		    sl_tls_why_failed(c->ssl, why, sizeof(why));
		client_tls_failed(c, f, why);
		sl_client_close(c, f == SL_TLS_F_CLOSED
				       ? "client_closed_in_handshake"
				       : "tls_handshake_failed");
		return -1;
	}
	atomic_fetch_add(&st->tls_handshakes, 1);
	if (sl_tls_resumed(c->ssl))
		atomic_fetch_add(&st->tls_resumed, 1);
	/* for the listener's client_subject_header and the header rules'
	 * ${tls_client_subject} */
	if (c->lconf->tls.client_subject_header != NULL ||
	    c->lconf->wants_subject)
		c->tls_subject = sl_tls_peer_subject(c->ssl);
	client_rev_wait(c, SL_TLS_WANT_READ);
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	sl_timeq_set(c->w, &c->tnode, c->lconf->limits.idle_timeout_ms,
		     now_ms());
	return 1;
}

/* ---- PROXY protocol ------------------------------------------------------*/

const char *
sl_client_via(const struct sl_client *c, const struct sl_txn *t, char *buf,
	      size_t n)
{
	const struct sockaddr *via;
	struct sl_ip tcp;

	if (c->pp == NULL && !(t->flags & T_FWD_CLIENT))
		return NULL;
	via = (const struct sockaddr *)(c->pp != NULL ? &c->pp->via : &c->peer);
	if (sl_ip_from_sockaddr(via, &tcp) == -1 ||
	    sl_ip_eq(&tcp, &t->client_addr))
		return NULL;
	return sl_ip_str(&tcp, buf, n);
}

const char *
sl_client_peer_str(const struct sl_client *c, const struct sl_txn *t, char *buf,
		   size_t n)
{
	const struct sockaddr *via = NULL;
	size_t len;

	if (t != NULL && (t->flags & T_FWD_CLIENT)) {
		/* a trusted proxy named the request's client: its address
		 * (no port), and the connection's own peer */
		struct sl_ip tcp;
		via = (const struct sockaddr *)(c->pp != NULL ? &c->pp->via
							      : &c->peer);
		sl_ip_str(&t->client_addr, buf, n);
		if (sl_ip_from_sockaddr(via, &tcp) == 0 &&
		    sl_ip_eq(&tcp, &t->client_addr))
			via = NULL;
	} else {
		sl_addr_str((const struct sockaddr *)&c->peer, buf, n);
		if (c->pp != NULL && c->pp->via_shown)
			via = (const struct sockaddr *)&c->pp->via;
	}
	len = strlen(buf);
	if (via != NULL && len + 6 < n) {
		memcpy(buf + len, " via=", 5);
		sl_addr_str(via, buf + len + 5, n - len - 5);
	}
	return buf;
}

/* Close reasons, by enum sl_pp_error (static strings, as close needs). */
static const char *const pp_close_reason[SL_PP_NERRORS] = {
    "proxy_protocol_missing",	"proxy_protocol_untrusted",
    "proxy_protocol_version",	"proxy_protocol_malformed",
    "proxy_protocol_too_large", "proxy_protocol_truncated",
    "proxy_protocol_timeout",
};

/* A connection refused for its PROXY header (or the lack of one): counted
 * by reason, said at info like a failed TLS handshake, closed without a
 * word (nothing is known of its protocol). */
static void
client_pp_refuse(struct sl_client *c, enum sl_pp_error why)
{
	atomic_fetch_add(&c->lconf->state->pp_errors[why], 1);
	if (sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s listener=%s: PROXY protocol: %s, "
			 "connection closed",
			 (unsigned long long)c->id,
			 peer_str(c, peer, sizeof(peer)), c->lconf->name,
			 sl_pp_error_str(why));
	}
	sl_client_close(c, pp_close_reason[why]);
}

/*
 * A header was read: the client it names becomes the connection's for
 * everything (doc/edge.md section 1), counted against
 * max_connections_per_ip as the balancer's connection was not. Returns 0,
 * or -1 when c was closed (out of memory, past the per-address limit).
 */
static int
client_pp_accept(struct sl_client *c, const struct sl_pp_hdr *h)
{
	struct sl_lstate *st = c->lconf->state;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sl_ip tcp;

	atomic_fetch_add(&st->pp_accepted[h->local], 1);
	if (!h->local) {
		size_t alen = h->authority != NULL ? h->authority_len : 0;
		if ((c->pp = malloc(sizeof(*c->pp) + alen + 1)) == NULL) {
			sl_client_close(c, "out_of_memory");
			return -1;
		}
		memcpy(&c->pp->via, &c->peer, sizeof(c->pp->via));
		c->pp->authority_len = alen;
		memcpy(c->pp->authority,
		       h->authority != NULL ? h->authority : "", alen);
		c->pp->authority[alen] = '\0';
		(void)sl_ip_from_sockaddr((const struct sockaddr *)&c->peer,
					  &tcp);
		c->pp->via_shown = !sl_ip_eq(&tcp, &h->src);
		sl_ip_to_sockaddr(&h->src, h->sport, &ss, &sslen);
		memset(&c->peer, 0, sizeof(c->peer));
		memcpy(&c->peer, &ss, SL_MIN((size_t)sslen, sizeof(c->peer)));
	}
	c->ip_slot =
	    sl_runtime_ip_take(st, (const struct sockaddr *)&c->peer,
			       c->lconf->limits.max_connections_per_ip);
	if (c->ip_slot == -1) {
		c->ip_slot = SL_RUNTIME_IP_UNCOUNTED;
		atomic_fetch_add(&st->rejected_per_ip, 1);
		if (sl_log_enabled(SL_LOG_INFO)) {
			char peer[SL_PEER_MAX];
			log_info("conn=%llu peer=%s listener=%s: "
				 "max_connections_per_ip (%llu) reached: "
				 "connection closed",
				 (unsigned long long)c->id,
				 peer_str(c, peer, sizeof(peer)),
				 c->lconf->name,
				 (unsigned long long)
				     c->lconf->limits.max_connections_per_ip);
		}
		sl_client_close(c, "max_connections_per_ip");
		return -1;
	}
	return 0;
}

/*
 * A TLS listener: OpenSSL reads the socket itself once the handshake
 * starts, so not one byte past the header may be taken. What is there is
 * looked at (MSG_PEEK) and only the header's bytes are read; while the
 * header is incomplete everything there is part of it and is read (no
 * level-triggered loop on bytes left in the socket). A source not in
 * "from" has its first bytes looked at the same way: what is not a PROXY
 * header is left for the handshake. Returns 1 when the connection goes on
 * to its handshake, 0 when it waits, -1 when it was closed.
 */
static int
client_proxy_tls(struct sl_client *c)
{
	size_t have, total;
	enum sl_pp_error why;
	struct sl_pp_hdr h;
	ssize_t n;
	long r;

	if (sl_buf_alloc(&c->w->bufs, &c->in, SL_PP_MAX) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	have = c->in.len;
	n = recv(c->fd, c->in.data + have, SL_PP_MAX - have, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		if (c->flags & C_F_PP_SNIFF) {
			/* what the handshake would have said */
			client_tls_failed(c, SL_TLS_F_CLOSED,
					  n == 0 ? "closed by the client"
						 : strerror(errno));
			sl_client_close(c, "client_closed_in_handshake");
		} else if (n == 0 && have > 0)
			client_pp_refuse(c, SL_PP_E_TRUNCATED);
		else
			/* connected and gone: a balancer's TCP check */
			sl_client_close(c, n == 0 ? "client_closed"
						  : "client_read_error");
		return -1;
	}
	total = have + (size_t)n;
	if (c->flags & C_F_PP_SNIFF) {
		switch (sl_pp_detect(c->in.data, total)) {
		case SL_PP_AGAIN:
			break; /* read below: a PROXY prefix is no TLS */
		case SL_PP_NONE:
			if (have == 0) {
				c->flags &= ~C_F_PP_SNIFF;
				sl_buf_release(&c->w->bufs, &c->in);
				sl_client_set_state(c, SL_CLIENT_ST_HANDSHAKE);
				return 1;
			}
			/* the bytes read were not a TLS record either */
			if (c->in.data[0] >= 'A' && c->in.data[0] <= 'Z') {
				client_plain_http(c, 0);
				return -1;
			}
			client_tls_failed(c, SL_TLS_F_PROTOCOL,
					  "not a TLS handshake");
			sl_client_close(c, "tls_handshake_failed");
			return -1;
		default:
			client_pp_refuse(c, SL_PP_E_UNTRUSTED);
			return -1;
		}
		r = 0;
	} else if ((r = sl_pp_parse(c->in.data, total,
				    c->lconf->proxy_protocol.versions, &h,
				    &why)) < 0) {
		client_pp_refuse(c, why);
		return -1;
	}
	/* the header's bytes (they were seen: the read takes them all),
	 * or all there is of an incomplete one */
	n = r > 0 ? r - (long)have : n;
	if (recv(c->fd, c->in.data + have, (size_t)n, 0) != n) {
		sl_client_close(c, "client_read_error");
		return -1;
	}
	SL_STAT_ADD(c->w->stats.client_bytes_in, (uint64_t)n);
	c->in.len = (uint32_t)(have + (size_t)n);
	if (r == 0)
		return 0;
	if (client_pp_accept(c, &h) == -1)
		return -1;
	sl_buf_release(&c->w->bufs, &c->in);
	/* the handshake goes on under the same deadline */
	sl_client_set_state(c, SL_CLIENT_ST_HANDSHAKE);
	return 1;
}

/*
 * The PROXY state of a plain HTTP listener (sl_client_process): the bytes
 * read into `in`, like a request head, are a "from" source's header, or
 * are checked for one that another source may not send; the request that
 * follows in the same read is parsed from the same buffer. Returns 1 when
 * the connection went on (IDLE, bytes left in `in`), 0 when it waits for
 * more, -1 when it was closed.
 */
static int
client_proxy_scan(struct sl_client *c)
{
	enum sl_pp_error why;
	struct sl_pp_hdr h;
	const char *p;
	long r;

	if (c->in.data == NULL || sl_buf_pending(&c->in) == 0)
		return 0;
	p = c->in.data + c->in.off;
	if (c->flags & C_F_PP_SNIFF) {
		switch (sl_pp_detect(p, sl_buf_pending(&c->in))) {
		case SL_PP_AGAIN:
			return 0;
		case SL_PP_NONE:
			/* a request: on as without proxy_protocol, under the
			 * idle deadline set at accept */
			c->flags &= ~C_F_PP_SNIFF;
			sl_client_set_state(c, SL_CLIENT_ST_IDLE);
			return 1;
		default:
			client_pp_refuse(c, SL_PP_E_UNTRUSTED);
			return -1;
		}
	}
	r = sl_pp_parse(p, sl_buf_pending(&c->in),
			c->lconf->proxy_protocol.versions, &h, &why);
	if (r == 0)
		return 0;
	if (r < 0) {
		client_pp_refuse(c, why);
		return -1;
	}
	if (client_pp_accept(c, &h) == -1)
		return -1;
	c->in.off += (uint32_t)r;
	/* a new connection from here on: its first request, or idle */
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	sl_timeq_set(c->w, &c->tnode, c->lconf->limits.idle_timeout_ms,
		     now_ms());
	return 1;
}

/* The end of the stream in the PROXY state (plain HTTP): inside a header,
 * or before one byte came (a balancer's TCP check: not an error). */
static void
client_proxy_eof(struct sl_client *c)
{
	int some = c->in.data != NULL && sl_buf_pending(&c->in) > 0;

	if (some && !(c->flags & C_F_PP_SNIFF))
		client_pp_refuse(c, SL_PP_E_TRUNCATED);
	else
		sl_client_close(c, some ? "client_closed_in_head"
					: "client_closed");
}

/* ---- events ------------------------------------------------------------*/

static void
client_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client *c = arg;
	ssize_t n;

	sl_now_refresh();
	/* TLS: the PROXY header is read here, not one byte past it */
	if (c->state == SL_CLIENT_ST_PROXY && c->lconf->tls.ctx != NULL &&
	    client_proxy_tls(c) != 1)
		return;
	if (c->state == SL_CLIENT_ST_HANDSHAKE && client_handshake(c) != 1)
		return;
	if (c->flags & C_F_EOF) {
		/* woken to carry on (see sl_client_process), not to read */
		sl_client_process(c);
		return;
	}
	n = client_read(c);
	if (n == -1)
		return;
	if (n == 0) {
		c->flags |= C_F_EOF;
		client_want_read(c, 0);
		switch (c->state) {
		case SL_CLIENT_ST_PROXY:
			client_proxy_eof(c);
			return;
		case SL_CLIENT_ST_HANDSHAKE:
		case SL_CLIENT_ST_IDLE:
			sl_client_close(c, "client_closed");
			return;
		case SL_CLIENT_ST_HEAD:
			sl_client_close(c, "client_closed_in_head");
			return;
		case SL_CLIENT_ST_LINGER:
			sl_client_close(c, c->close_reason);
			return;
		case SL_CLIENT_ST_TXN:
			/* a half-closed client still gets its response; one
			 * that stopped in the middle of its body does not */
			if (c->txn->req_ph != SL_TXN_REQ_DONE) {
				sl_client_close(c, "client_closed_in_body");
				return;
			}
			break;
		case SL_CLIENT_ST_CLOSED:
			return;
		}
	} else if (n > 0 && c->state == SL_CLIENT_ST_TXN) {
		c->txn->last_read_ms = now_ms();
		sl_rate_add(&c->txn->body_rate, c->txn->last_read_ms,
			    (uint64_t)n);
	}
	sl_client_process(c);
}

/*
 * Every client socket starts with SO_SNDBUF = buffer_bytes (inherited
 * from its listening socket), so that a slow reader pins little kernel
 * memory. The kernel wakes a blocked writer once a third of the (doubled)
 * buffer is free: when that comes within SNDBUF_FAST_MS of the stall, the
 * client's side took 2/3 of the buffer that fast, and the buffer, not the
 * client, holds the transfer back (a distant client gets one buffer per
 * round trip). Such a client gets SO_SNDBUF doubled, up to
 * SNDBUF_MAX_FACTOR x buffer_bytes. What this measures is the client's TCP
 * (its receive window included), not its application: a slow application
 * behind a large window may earn a doubling before the window fills. So
 * the extra kernel memory is also bounded per worker (SNDBUF_EXTRA_MAX,
 * given back when the connection closes): clients that read fast and then
 * stop cannot pin more than that together, until send_timeout or
 * min_send_rate cuts them.
 */
#define SNDBUF_FAST_MS	  100
#define SNDBUF_MAX_FACTOR 8
#define SNDBUF_EXTRA_MAX  ((size_t)64 << 20)

static void
client_sndbuf_grow(struct sl_client *c, uint64_t stalled_ms)
{
	struct sl_worker *w = c->w;
	uint64_t max = SNDBUF_MAX_FACTOR * c->lconf->limits.buffer_bytes;
	uint64_t want;
	socklen_t len;
	int cur = 0, v;

	if (stalled_ms > SNDBUF_FAST_MS || (c->flags & C_F_SNDBUF_MAX))
		return;
	/* asked, not remembered: a reload may have changed buffer_bytes
	 * since the listening socket gave this one its size */
	len = sizeof(cur);
	if (getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &cur, &len) == -1 ||
	    cur <= 1)
		return;
	cur /= 2; /* the kernel reports twice what was set */
	want = SL_MIN((uint64_t)cur * 2, SL_MIN(max, (uint64_t)INT_MAX / 2));
	if (want <= (uint64_t)cur) {
		c->flags |= C_F_SNDBUF_MAX;
		return;
	}
	if (w->cpool.sndbuf_extra + (want - (uint64_t)cur) > SNDBUF_EXTRA_MAX)
		return; /* others hold the budget: maybe later */
	v = (int)want;
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) == -1)
		return;
	/* what the kernel granted: it caps the size at net.core.wmem_max */
	len = sizeof(v);
	if (getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, &len) == -1)
		v = (int)want * 2;
	v /= 2;
	if (v <= cur) {
		c->flags |= C_F_SNDBUF_MAX;
		return;
	}
	c->sndbuf_extra += (uint32_t)(v - cur);
	w->cpool.sndbuf_extra += (size_t)(v - cur);
}

void
sl_client_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client *c = arg;

	sl_now_refresh();
	sl_client_want_write(c, 0);
	/* while writing is stalled, last_write_ms is when it stalled */
	if (c->txn != NULL) {
		uint64_t stalled_ms = now_ms() - c->txn->last_write_ms;

		client_sndbuf_grow(c, stalled_ms);
		/* the response buffer follows the same verdict */
		sl_client_rbuf_set(c, stalled_ms <= SNDBUF_FAST_MS);
		if (stalled_ms > SNDBUF_FAST_MS)
			c->txn->rbuf_mark = c->txn->send_written;
		if (c->txn->flags & T_PACED) /* read the upstream on */
			c->txn->flags =
			    (c->txn->flags & ~T_PACED) | T_PACE_WOKE;
	}
	sl_client_process(c);
}

/* Counts a client cut for being slow or silent, and says so at info. */
void
sl_client_count_timeout(struct sl_client *c, enum sl_timeout_reason r)
{
	SL_STAT_INC(c->w->stats.timeouts[r]);
	/* the others are logged with the 408 they answer */
	if ((r == SL_TO_SEND || r == SL_TO_SEND_RATE) &&
	    sl_log_enabled(SL_LOG_INFO)) {
		char peer[SL_PEER_MAX];
		log_info("conn=%llu peer=%s request_id=%s: %s",
			 (unsigned long long)c->id,
			 sl_client_peer_str(c, c->txn, peer, sizeof(peer)),
			 c->txn != NULL ? c->txn->request_id : "-",
			 sl_timeout_reason_str(r));
	}
}

#define CLIENT_OF(n)                                                           \
	((struct sl_client *)((char *)(n)-offsetof(struct sl_client, tnode)))

void
sl_client_on_deadline(struct sl_tnode *n)
{
	struct sl_client *c = CLIENT_OF(n);

	switch (c->state) {
	case SL_CLIENT_ST_PROXY:
		if (!(c->flags & C_F_PP_SNIFF)) {
			client_pp_refuse(c, SL_PP_E_TIMEOUT);
			return;
		}
		/* another source: the deadline is the one it would have had
		 * without proxy_protocol */
		if (c->lconf->tls.ctx == NULL) {
			sl_client_count_timeout(c, SL_TO_IDLE);
			sl_client_close(c, "idle_timeout");
			return;
		}
		/* FALLTHROUGH */
	case SL_CLIENT_ST_HANDSHAKE:
		/* header_timeout: a handshake is part of getting a head */
		client_tls_failed(c, SL_TLS_F_TIMEOUT,
				  "not done within header_timeout");
		sl_client_close(c, "tls_handshake_timeout");
		return;
	case SL_CLIENT_ST_IDLE:
		if (c->w->draining) {
			/* its grace is over (sl_client_drain) */
			client_finish_ms(c, "draining", 1, DRAIN_LINGER_MS);
			return;
		}
		sl_client_count_timeout(c, SL_TO_IDLE);
		sl_client_close(c, "idle_timeout");
		return;
	case SL_CLIENT_ST_HEAD:
		/* a deadline for the whole head, however many bytes
		 * trickled in */
		sl_client_count_timeout(c, SL_TO_HEADER);
		sl_exchange_local(c, 408, "request_timeout", 1);
		if (c->txn != NULL)
			c->txn->error = "header_timeout";
		sl_client_process(c);
		return;
	case SL_CLIENT_ST_LINGER:
		if ((c->flags & C_F_LINGER_OUT) && client_linger_out(c))
			return;
		sl_client_close(c, c->close_reason);
		return;
	case SL_CLIENT_ST_TXN:
	case SL_CLIENT_ST_CLOSED:
		return;
	}
}

/* A parked connection became readable (pool.on_wake): the read runs from
 * the loop, as for any event. */
static void
client_on_wake(struct sl_client *c)
{
	if (client_unpark(c) == 0)
		event_active(c->rev, EV_READ, 1);
}

void
sl_client_worker_init(struct sl_worker *w)
{
	sl_client_pool_init(&w->cpool, client_on_wake);
}

void
sl_client_reap(struct sl_tnode *n)
{
	struct sl_client *c = CLIENT_OF(n);

	sl_client_pool_put(&c->w->cpool, c);
}

/* ---- lifecycle ---------------------------------------------------------*/

void
sl_client_new(struct sl_lsock *ls, int fd, const struct sockaddr *sa,
	      socklen_t salen, int ip_slot)
{
	struct sl_worker *w = ls->w;
	struct sl_client *c;

	c = w->draining ? NULL : sl_client_pool_take(&w->cpool);
	if (c == NULL) {
		close(fd);
		sl_runtime_release(&ls->conf->state->conns);
		sl_runtime_ip_release(ls->conf->state, ip_slot);
		return;
	}
	sl_now_refresh();
	c->ip_slot = ip_slot;
	c->gen = w->gen;
	sl_wgen_ref(c->gen);
	c->w = w;
	c->lconf = ls->conf;
	c->fd = fd;
	c->id = sl_conn_id();
	memcpy(&c->peer, sa, SL_MIN((size_t)salen, sizeof(c->peer)));
	event_assign(c->rev, w->base, fd, EV_READ | EV_PERSIST, client_on_read,
		     c);
	TAILQ_INSERT_TAIL(&w->cpool.clients, c, entry);
	w->nclients++;
	SL_STAT_INC(w->stats.active);
	if (c->lconf->proxy_protocol.enabled) {
		/* identity: the first bytes are a PROXY header's (a balancer:
		 * counted per address once the header names the client), or
		 * must not be one (anyone else) */
		if (ip_slot == SL_RUNTIME_IP_PROXIED)
			c->ip_slot = SL_RUNTIME_IP_UNCOUNTED;
		else
			c->flags |= C_F_PP_SNIFF;
		c->state = SL_CLIENT_ST_PROXY;
		sl_timeq_set(w, &c->tnode,
			     (c->flags & C_F_PP_SNIFF) &&
				     c->lconf->tls.ctx == NULL
				 ? c->lconf->limits.idle_timeout_ms
				 : c->lconf->limits.header_timeout_ms,
			     now_ms());
		client_want_read(c, 1);
	} else if (c->lconf->tls.ctx != NULL) {
		/* the handshake counts against header_timeout */
		c->state = SL_CLIENT_ST_HANDSHAKE;
		sl_timeq_set(w, &c->tnode, c->lconf->limits.header_timeout_ms,
			     now_ms());
		client_want_read(c, 1);
	} else {
		c->state = SL_CLIENT_ST_IDLE;
		sl_timeq_set(w, &c->tnode, c->lconf->limits.idle_timeout_ms,
			     now_ms());
	}
	/* with TCP_DEFER_ACCEPT the request is usually here already */
	client_on_read(fd, EV_READ, c);
}

/* The listener of the current generation that is c's listener (same
 * address), or NULL when a reload removed it. */
static const struct sl_conf_listener *
client_listener_now(struct sl_client *c)
{
	const struct sl_conf *conf = c->w->gen->conf;

	for (size_t i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].state == c->lconf->state)
			return &conf->listeners[i];
	return NULL;
}

/*
 * A new request starts: it runs under the newest generation (routes,
 * clusters, limits), whatever the connection's previous requests used.
 */
static void
client_adopt(struct sl_client *c)
{
	const struct sl_conf_listener *l;

	if (c->gen == c->w->gen)
		return;
	if ((l = client_listener_now(c)) == NULL) {
		c->flags |= C_F_RETIRED;
		return;
	}
	sl_wgen_unref(c->w, c->gen);
	c->gen = c->w->gen;
	sl_wgen_ref(c->gen);
	c->lconf = l;
}

void
sl_client_reloaded(struct sl_client *c)
{
	sl_now_refresh();
	if (c->state == SL_CLIENT_ST_CLOSED || client_listener_now(c) != NULL)
		return;
	/* its listener is gone: idle connections close now, the others
	 * after their exchange */
	c->flags |= C_F_RETIRED;
	if (c->state == SL_CLIENT_ST_HANDSHAKE ||
	    c->state == SL_CLIENT_ST_PROXY ||
	    (c->state == SL_CLIENT_ST_IDLE &&
	     (c->in.data == NULL || sl_buf_pending(&c->in) == 0)))
		sl_client_close(c, "listener_removed");
	else if (c->txn != NULL)
		c->txn->flags |= T_CLOSE;
}

void
sl_client_drain(struct sl_client *c)
{
	sl_now_refresh();
	/* no request can have begun: a TLS handshake or a PROXY header
	 * under way */
	if (c->state == SL_CLIENT_ST_HANDSHAKE ||
	    c->state == SL_CLIENT_ST_PROXY)
		sl_client_close(c, "draining");
	else if (c->state == SL_CLIENT_ST_IDLE) {
		/* a busy client's next request is on its way, or already in
		 * the socket: it is answered (with Connection: close) if its
		 * head begins within DRAIN_IDLE_MS (the head then has its own
		 * deadline); then the FIN, and what comes is read and dropped
		 * for a while: a request that crossed the FIN gets an end of
		 * stream, which tells a client it may send it again
		 * elsewhere (RFC 9112 section 9.3.1), not a reset. Bytes
		 * that begin no request (a lone CR) do not hold it open. */
		uint64_t now = now_ms();
		if (c->tnode.deadline_ms > now + DRAIN_IDLE_MS)
			sl_timeq_set(c->w, &c->tnode, DRAIN_IDLE_MS, now);
	} else if (c->txn != NULL)
		c->txn->flags |= T_CLOSE;
}

void
sl_client_abort(struct sl_client *c)
{
	sl_now_refresh();
	sl_client_close(c, "drain_timeout");
}
