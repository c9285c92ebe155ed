/* SPDX-License-Identifier: MIT */
/*
 * The client-side connection: its states, transport and read interest,
 * its deadlines in the worker's lists, its lingering close and closing, and
 * its life from the accept (or a test's memory end) through reloads, drains
 * and hand-overs to the reap. Whatever owns the connection's bytes is called
 * through its codec table (codec_of: the state says, client_codec.h): the
 * codecs the worker gives it (client.h: HTTP/1 of client_h1.c, the accept
 * phase of client_accept.c, HTTP/2, a tunnel), which this file never names;
 * they call down into it. It reads and parses no request: that is HTTP/1's
 * (client_h1.c), and the proxied exchange of each request is exchange.c's.
 * The worker's lists of connections, the structs and read events kept for
 * reuse and the parking of idle connections are client_pool.c's.
 */
#include "client.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"
#include "client_pool.h"
#include "exchange.h"
#include "listener.h"
#include "log.h"
#include "proxyproto.h"
#include "rate.h"
#include "runtime.h"
#include "tls.h"
#include "wgen.h"
#include "wloop.h"
#include "xprt.h"

#define LINGER_MS 2000 /* reading and dropping input before a close */
/* how often a lingering connection with response bytes still unsent looks
 * whether the client has taken them */
#define LINGER_OUT_POLL_MS 200

/* The close reason of a connection handed to a new process (an
 * upgrade's drain: sl_client_hand_done). */
static const char client_handed_over[] = "handed_over";

static void client_on_read(evutil_socket_t, short, void *);
static void client_adopt(struct sl_client *c);
static void client_close(struct sl_client *c, const char *reason);

/* Whose bytes a connection's are: its state says (a codec sets the state
 * it takes over in, and gives it back with IDLE or LINGER), so the
 * connection keeps no pointer for it (an idle one costs 8 bytes less). */
static inline const struct sl_client_codec *
codec_of(const struct sl_client *c)
{
	switch ((enum sl_client_state)c->state) {
	case SL_CLIENT_ST_HANDSHAKE:
	case SL_CLIENT_ST_PROXY:
		return c->s.w->cpool.codecs->accept;
	case SL_CLIENT_ST_H2:
		return c->s.w->cpool.codecs->h2;
	case SL_CLIENT_ST_TUNNEL:
		return c->s.w->cpool.codecs->tunnel;
	default:
		return c->s.w->cpool.codecs->h1;
	}
}

/* c's transport (xprt.h): TCP, TLS or a memory end. */
#define XPRT(c) sl_client_xprt(c)

/* Turns interest in an event of c on or off, through its transport. */
static int
client_watch(struct sl_client *c, struct event *ev, int on)
{
	return XPRT(c)->watch(c->fd, c->xc, ev, on);
}

/* "ADDR:PORT" of the connection's client, for its own log lines. */
static const char *
peer_str(const struct sl_client *c, char *buf, size_t n)
{
	return sl_seam_peer_str(&c->s, NULL, buf, n);
}

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
	case SL_CLIENT_ST_H2:
		return "h2";
	case SL_CLIENT_ST_TUNNEL:
		return "tunnel";
	case SL_CLIENT_ST_CLOSED:
		return "closed";
	}
	return "?";
}

static void
client_set_state(struct sl_client *c, enum sl_client_state s)
{
	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("conn=%llu state %s -> %s",
			  (unsigned long long)c->s.id,
			  client_state_str(c->state), client_state_str(s));
	/* a head's scanner kept between reads ends with the head, however
	 * it ends (an exchange, a close); tested first: most heads come
	 * whole, and free(NULL) would be a call a request */
	if (c->state == SL_CLIENT_ST_HEAD && c->scan != NULL) {
		free(c->scan);
		c->scan = NULL;
	}
	c->state = s;
}

/* Gives a parked connection its event back, added. Returns -1 when c was
 * closed (no memory). */
static int
client_unpark(struct sl_client *c)
{
	if (sl_client_unpark(c) == -1) {
		client_close(c, "out_of_memory");
		return -1;
	}
	event_assign(c->rev, c->s.w->base, c->fd, EV_READ | EV_PERSIST,
		     client_on_read, c);
	if (client_watch(c, c->rev, 1) == 0)
		c->s.flags |= C_F_REV;
	return 0;
}

static void
client_want_read(struct sl_client *c, int on)
{
	if ((c->s.flags & C_F_PARKED) && client_unpark(c) == -1)
		return;
	if (on && !(c->s.flags & C_F_REV)) {
		if (client_watch(c, c->rev, 1) == 0)
			c->s.flags |= C_F_REV;
	} else if (!on && (c->s.flags & C_F_REV)) {
		client_watch(c, c->rev, 0);
		c->s.flags &= ~C_F_REV;
	}
	/* bytes TLS decrypted (or read) before reading stopped: epoll
	 * will not say so, the connection must look itself */
	if (on && sl_xprt_pending(c->s.flags >> C_F_XPRT_SHIFT, c->fd, c->xc))
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
	int added = (c->s.flags & C_F_REV) != 0;

	if (w == ((c->s.flags & C_F_REV_W) != 0))
		return;
	if ((c->s.flags & C_F_PARKED) && client_unpark(c) == -1)
		return;
	added = (c->s.flags & C_F_REV) != 0;
	if (added)
		client_watch(c, c->rev, 0);
	event_assign(c->rev, c->s.w->base, c->fd,
		     (w ? EV_WRITE : EV_READ) | EV_PERSIST, client_on_read, c);
	c->s.flags = w ? c->s.flags | C_F_REV_W : c->s.flags & ~C_F_REV_W;
	if (added)
		client_watch(c, c->rev, 1);
}

static void
client_want_write(struct sl_client *c, int on)
{
	/* only an exchange writes to the client, so the event lives in
	 * the (pooled) exchange, not in every idle connection
	 * (sl_exchange_codec_event) */
	if (on && !(c->s.flags & C_F_WEV) && c->s.txn != NULL) {
		if (client_watch(c, sl_exchange_codec_event(c->s.txn), 1) == 0)
			c->s.flags |= C_F_WEV;
	} else if (!on && (c->s.flags & C_F_WEV)) {
		client_watch(c, sl_exchange_codec_event(c->s.txn), 0);
		c->s.flags &= ~C_F_WEV;
	}
}

/* ---- closing --------------------------------------------------------- */

/*
 * Closes the connection now and frees c from a zero-delay event, so the
 * caller may still read c but must not act on it. reason is static.
 */
static void
client_close(struct sl_client *c, const char *reason)
{
	struct sl_worker *w = c->s.w;

	if (c->state == SL_CLIENT_ST_CLOSED)
		return;
	c->s.close_reason = reason;
	/* a connection handed to a new process is not closed: the new
	 * process counts its end (sluice_client_closed_total, carried) */
	if (reason != client_handed_over)
		SL_STAT_INC(c->s.lconf->counters->counts[w->id]
				.closed[sl_close_kind_of(reason)]);
	if (sl_log_enabled(SL_LOG_DEBUG)) {
		char peer[SL_PEER_MAX], st[256];
		log_debug("conn=%llu peer=%s close: %s%s%s",
			  (unsigned long long)c->s.id,
			  peer_str(c, peer, sizeof(peer)), reason,
			  c->s.txn != NULL ? "; exchange " : "",
			  c->s.txn != NULL
			      ? sl_exchange_state_str(c->s.txn, st, sizeof(st))
			      : "");
	}
	/* a codec's state first (a tunnel's: its exchange comes back for
	 * its log line), then the exchange */
	if (codec_of(c)->free != NULL)
		codec_of(c)->free(c, reason);
	if (c->s.txn != NULL)
		sl_exchange_closed(&c->s, reason);
	/* unconditionally: rev may be active without being added (see the
	 * end of client_process, client_h1.c), and the struct is reused after
	 * reaping */
	if (c->rev != NULL)
		event_del(c->rev);
	c->s.flags &= ~C_F_REV;
	if (c->s.flags & C_F_PARKED)
		sl_client_park_leave(c);
	/* a held last response leaves with the FIN now, before close()
	 * could turn into a reset over unread input and drop it */
	if (c->s.flags & C_F_CORKED)
		XPRT(c)->shutdown(c->fd, c->xc);
	/* TLS: close_notify, unless in the middle of the handshake */
	XPRT(c)->close(c->fd, c->xc, c->state != SL_CLIENT_ST_HANDSHAKE);
	c->xc = NULL;
	c->fd = -1;
	free(c->s.tls_subject);
	c->s.tls_subject = NULL;
	free(c->s.pp);
	c->s.pp = NULL;
	w->cpool.sndbuf_extra -= c->sndbuf_extra;
	c->sndbuf_extra = 0;
	sl_runtime_release(&c->s.lconf->state->conns);
	sl_runtime_ip_release(c->s.lconf->state, c->ip_slot);
	sl_buf_release(&w->bufs, &c->s.in);
	TAILQ_REMOVE(&w->cpool.clients, c, entry);
	w->nclients--;
	sl_wgen_unref(w, c->s.gen);
	c->s.gen = NULL;
	SL_STAT_ADD(w->stats.active, -1);
	client_set_state(c, SL_CLIENT_ST_CLOSED);
	sl_worker_reap(w, &c->tnode);
}

static void
client_abort_reset(struct sl_client *c, const char *reason)
{
	/* a reset, which drops what is queued, and on TLS no close_notify:
	 * the peer must not take the part for all */
	if (c->state != SL_CLIENT_ST_CLOSED)
		XPRT(c)->abort(c->fd, c->xc);
	c->s.flags &= ~C_F_CORKED;
	client_close(c, reason);
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
int
sl_client_linger_out(struct sl_client *c)
{
	uint64_t now = now_ms();
	int32_t left;

	if (XPRT(c)->unsent(c->fd, c->xc) == 0) {
		c->s.flags &= ~C_F_LINGER_OUT;
		sl_timeq_set(c->s.w, &c->tnode,
			     c->s.w->draining ? DRAIN_LINGER_MS : LINGER_MS,
			     now);
		return 1;
	}
	/* compared in 32 bits, wrapping: send_timeout is at most a day */
	left = (int32_t)(c->linger_out_end - (uint32_t)now);
	if (left <= 0)
		return 0;
	sl_timeq_set(c->s.w, &c->tnode,
		     SL_MIN((uint64_t)left, LINGER_OUT_POLL_MS), now);
	return 1;
}

/* client_finish with the lingering bounded by ms. */
static void
client_finish_ms(struct sl_client *c, const char *reason, int linger,
		 uint64_t ms)
{
	int shut = 0;

	if (!(c->s.flags & C_F_EOF)) {
		/* the held last bytes go with the FIN now; what the window
		 * keeps back after that is really unsent */
		if (c->s.flags & C_F_CORKED) {
			XPRT(c)->shutdown(c->fd, c->xc);
			c->s.flags &= ~C_F_CORKED;
			shut = 1;
		}
		if ((c->s.flags & C_F_OUT_BACKLOG) &&
		    XPRT(c)->unsent(c->fd, c->xc) > 0) {
			/* the response is not all out: wait while the client
			 * takes it, up to send_timeout, then linger as asked
			 * (client_linger_out) */
			linger = 1;
			c->s.flags |= C_F_LINGER_OUT;
			c->linger_out_end =
			    (uint32_t)(now_ms() +
				       SL_MAX(
					   ms,
					   c->s.lconf->limits.send_timeout_ms));
			ms = SL_MIN(ms, LINGER_OUT_POLL_MS);
		}
	}
	if (!linger || (c->s.flags & C_F_EOF)) {
		client_close(c, reason);
		return;
	}
	if (!shut)
		XPRT(c)->shutdown(c->fd, c->xc);
	c->s.close_reason = reason;
	/* lingering is the connection's own reading (another codec's part
	 * is over) */
	client_set_state(c, SL_CLIENT_ST_LINGER);
	sl_timeq_set(c->s.w, &c->tnode, ms, now_ms());
	if (c->s.in.data != NULL)
		c->s.in.off = c->s.in.len = 0;
	client_want_write(c, 0);
	client_want_read(c, 1);
}

static void
client_finish(struct sl_client *c, const char *reason, int linger)
{
	client_finish_ms(c, reason, linger, LINGER_MS);
}

/* A connection ended for what its client sent (an HTTP/2 error or
 * attack): the last bytes (a GOAWAY) and the FIN go, nothing more is read
 * (a flood stops at the kernel's buffer, the client's sends block), and
 * the close follows after DEAF_LINGER_MS, which gives the client time to
 * read them before the reset that unread input makes of the close. */
#define DEAF_LINGER_MS 1000

void
sl_client_finish_deaf(struct sl_client *c, const char *reason)
{
	if (c->s.flags & C_F_EOF) {
		client_close(c, reason);
		return;
	}
	XPRT(c)->shutdown(c->fd, c->xc);
	if (c->s.flags & C_F_TLS) {
		/* close_notify and the FIN went, nothing is read: TLS's
		 * state (tens of KiB) has no use left, and a storm of
		 * connections so ended would keep it for the linger */
		sl_tls_free(c->ssl, 0);
		c->ssl = NULL;
		c->s.flags &= ~C_F_TLS; /* plain TCP until the close */
	}
	c->s.close_reason = reason;
	client_set_state(c, SL_CLIENT_ST_LINGER);
	/* as if the client had ended: nothing turns reading on again */
	c->s.flags |= C_F_EOF;
	client_want_read(c, 0);
	sl_timeq_set(c->s.w, &c->tnode, DEAF_LINGER_MS, now_ms());
}

/* ---- events ------------------------------------------------------------*/

/* The read event: whoever owns the bytes reads them. */
static void
client_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client *c = arg;

	sl_now_refresh();
	codec_of(c)->on_read(c);
}

/* The write event an exchange lent the connection. */
void
sl_client_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client *c = arg;

	sl_now_refresh();
	codec_of(c)->on_write(c);
}

#define CLIENT_OF(n)                                                           \
	((struct sl_client *)((char *)(n)-offsetof(struct sl_client, tnode)))

void
sl_client_on_deadline(struct sl_tnode *n)
{
	struct sl_client *c = CLIENT_OF(n);

	if (codec_of(c)->on_deadline != NULL)
		codec_of(c)->on_deadline(c);
}

/* A parked connection became readable (pool.on_wake): the read runs from
 * the loop, as for any event. */
static void
client_on_wake(struct sl_client *c)
{
	if (client_unpark(c) == 0)
		event_active(c->rev, EV_READ, 1);
}

/* Whether an idle connection may park (pool.parkable): its codec says. */
static int
client_parkable(const struct sl_client *c)
{
	const struct sl_client_codec *k = codec_of(c);

	return k->parkable != NULL && k->parkable(c);
}

void
sl_client_worker_init(struct sl_worker *w,
		      const struct sl_client_codecs *codecs)
{
	sl_client_pool_init(&w->cpool, client_on_wake, client_parkable);
	w->cpool.codecs = codecs;
}

void
sl_client_reap(struct sl_tnode *n)
{
	struct sl_client *c = CLIENT_OF(n);

	sl_client_pool_put(&c->s.w->cpool, c);
}

/* ---- lifecycle ---------------------------------------------------------*/

/*
 * A new connection of listener l on w, on fd or a memory end (xflags
 * C_F_MEM, xc the end; fd -1), from sa. Its place among l's connections
 * and its client's (ip_slot) were taken. Returns the connection, which
 * may be closed already, or NULL when it could not be made (the transport
 * and the places were given back).
 */
static struct sl_client *
client_start(struct sl_worker *w, const struct sl_conf_listener *l, int fd,
	     unsigned xflags, void *xc, const struct sockaddr *sa,
	     socklen_t salen, int ip_slot)
{
	struct sl_client *c;

	c = w->draining ? NULL : sl_client_pool_take(&w->cpool);
	if (c == NULL) {
		sl_xprt(xflags >> C_F_XPRT_SHIFT)->close(fd, xc, 0);
		sl_runtime_release(&l->state->conns);
		sl_runtime_ip_release(l->state, ip_slot);
		return NULL;
	}
	sl_now_refresh();
	c->s.ops = w->cpool.codecs->h1_stream;
	c->s.flags = xflags;
	c->xc = xc;
	c->ip_slot = ip_slot;
	c->s.gen = w->gen;
	sl_wgen_ref(c->s.gen);
	c->s.w = w;
	c->s.lconf = l;
	c->fd = fd;
	c->s.id = sl_conn_id();
	memcpy(&c->s.peer, sa, SL_MIN((size_t)salen, sizeof(c->s.peer)));
	event_assign(c->rev, w->base, fd, EV_READ | EV_PERSIST, client_on_read,
		     c);
	TAILQ_INSERT_TAIL(&w->cpool.clients, c, entry);
	w->nclients++;
	SL_STAT_INC(w->stats.active);
	if (c->s.lconf->proxy_protocol.enabled) {
		/* the accept phase reads the first bytes (client.h) */
		/* identity: the first bytes are a PROXY header's (a balancer:
		 * counted per address once the header names the client), or
		 * must not be one (anyone else) */
		if (ip_slot == SL_RUNTIME_IP_PROXIED)
			c->ip_slot = SL_RUNTIME_IP_UNCOUNTED;
		else
			c->s.flags |= C_F_PP_SNIFF;
		c->state = SL_CLIENT_ST_PROXY;
		sl_timeq_set(w, &c->tnode,
			     (c->s.flags & C_F_PP_SNIFF) &&
				     c->s.lconf->tls.ctx == NULL
				 ? c->s.lconf->limits.idle_timeout_ms
				 : c->s.lconf->limits.header_timeout_ms,
			     now_ms());
		client_want_read(c, 1);
	} else if (c->s.lconf->tls.ctx != NULL) {
		/* the handshake counts against header_timeout */
		c->state = SL_CLIENT_ST_HANDSHAKE;
		sl_timeq_set(w, &c->tnode, c->s.lconf->limits.header_timeout_ms,
			     now_ms());
		client_want_read(c, 1);
	} else {
		c->state = SL_CLIENT_ST_IDLE;
		sl_timeq_set(w, &c->tnode, c->s.lconf->limits.idle_timeout_ms,
			     now_ms());
	}
	/* with TCP_DEFER_ACCEPT the request is usually here already */
	client_on_read(fd, EV_READ, c);
	return c;
}

void
sl_client_new(struct sl_lsock *ls, int fd, const struct sockaddr *sa,
	      socklen_t salen, int ip_slot)
{
	(void)client_start(ls->w, ls->conf, fd, 0, NULL, sa, salen, ip_slot);
}

struct sl_client *
sl_client_new_mem(struct sl_worker *w, const struct sl_conf_listener *l,
		  struct sl_xprt_mem *end, const struct sockaddr *sa,
		  socklen_t salen)
{
	if (!sl_runtime_take(&l->state->conns, l->limits.max_connections)) {
		sl_xprt(SL_XPRT_MEM)->close(-1, end, 0);
		return NULL;
	}
	SL_STAT_INC(w->stats.accepted);
	return client_start(w, l, -1, C_F_MEM, end, sa, salen,
			    SL_RUNTIME_IP_UNCOUNTED);
}

/* The listener of the current generation that is c's listener (same
 * address), or NULL when a reload removed it. */
static const struct sl_conf_listener *
client_listener_now(struct sl_client *c)
{
	const struct sl_conf *conf = c->s.w->gen->conf;

	for (size_t i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].state == c->s.lconf->state)
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

	if (c->s.gen == c->s.w->gen)
		return;
	if ((l = client_listener_now(c)) == NULL) {
		c->s.flags |= C_F_RETIRED;
		return;
	}
	sl_wgen_unref(c->s.w, c->s.gen);
	c->s.gen = c->s.w->gen;
	sl_wgen_ref(c->s.gen);
	c->s.lconf = l;
}

void
sl_client_reloaded(struct sl_client *c)
{
	sl_now_refresh();
	if (c->state == SL_CLIENT_ST_CLOSED)
		return;
	if (client_listener_now(c) != NULL) {
		if (codec_of(c)->reloaded != NULL)
			codec_of(c)->reloaded(c);
		return;
	}
	/* its listener is gone: the codec ends c, now or after its
	 * exchange */
	c->s.flags |= C_F_RETIRED;
	codec_of(c)->retire(c);
}

void
sl_client_drain(struct sl_client *c)
{
	sl_now_refresh();
	codec_of(c)->drain(c);
}

int
sl_client_hand_prepare(struct sl_client *c)
{
	/* what the new process could not rebuild from the socket alone:
	 * TLS state, a PROXY header's client, bytes read and not parsed
	 * (the kernel keeps those not read yet: they go with the socket) */
	if (c->state != SL_CLIENT_ST_IDLE ||
	    (c->s.flags & (C_F_TLS | C_F_MEM | C_F_EOF | C_F_RETIRED |
			   C_F_REV_W | C_F_CORKED)) ||
	    c->s.lconf->proxy_protocol.enabled || c->s.pp != NULL ||
	    (c->s.in.data != NULL && sl_buf_pending(&c->s.in) > 0))
		return -1;
	/* a parked one gets its event back first, so that a hand-over that
	 * fails finds it as any other (closed when out of memory) */
	if ((c->s.flags & C_F_PARKED) && client_unpark(c) == -1)
		return -1;
	client_want_read(c, 0);
	return c->fd;
}

void
sl_client_hand_done(struct sl_client *c, int sent)
{
	if (!sent) {
		client_want_read(c, 1);
		return;
	}
	/* close() of this descriptor: the socket lives on in the new
	 * process (no FIN, nothing queued is dropped) */
	client_close(c, client_handed_over);
}

void
sl_client_abort(struct sl_client *c)
{
	sl_now_refresh();
	client_close(c, "drain_timeout");
}

/* ---- for the codecs (client_codec.h) ------------------------------------*/

void
sl_client_set_state(struct sl_client *c, enum sl_client_state s)
{
	client_set_state(c, s);
}

void
sl_client_close(struct sl_client *c, const char *reason)
{
	client_close(c, reason);
}

void
sl_client_abort_reset(struct sl_client *c, const char *reason)
{
	client_abort_reset(c, reason);
}

void
sl_client_finish(struct sl_client *c, const char *reason, int linger)
{
	client_finish(c, reason, linger);
}

void
sl_client_want_read(struct sl_client *c, int on)
{
	client_want_read(c, on);
}

void
sl_client_want_write(struct sl_client *c, int on)
{
	client_want_write(c, on);
}

void
sl_client_finish_ms(struct sl_client *c, const char *reason, int linger,
		    uint64_t ms)
{
	client_finish_ms(c, reason, linger, ms);
}

void
sl_client_rev_wait(struct sl_client *c, int want)
{
	client_rev_wait(c, want);
}

int
sl_client_adopt(struct sl_client *c)
{
	client_adopt(c);
	return (c->s.flags & C_F_RETIRED) ? -1 : 0;
}
