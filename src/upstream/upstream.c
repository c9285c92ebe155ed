/* SPDX-License-Identifier: MIT */
/*
 * Upstream endpoints, their pools and connections. A pooled connection
 * keeps its read event armed, so an upstream that closes it (or says
 * anything while idle) is noticed and the connection dropped before a
 * request can use it. Every socket call on an upstream connection is here;
 * owners hear of events only through their handler. A test may make an
 * endpoint's connections on memory ends (ep->connector); from then on
 * they go through the same transport operations as sockets.
 */
#include "upstream.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conf.h"
#include "evdel.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "hblock.h"
#include "log.h"
#include "runtime.h"
#include "splice.h"
#include "util.h"
#include "xprt.h"

/* Kernel receive buffer of an upstream connection (the kernel doubles
 * it for its bookkeeping). */
#define UPSTREAM_RCVBUF (256 * 1024)

static void upstream_on_read(evutil_socket_t, short, void *);
static void upstream_on_write(evutil_socket_t, short, void *);
static void upstream_on_idle_timeout(evutil_socket_t, short, void *);
static void upstream_handshake(struct sl_upconn *u);

static __thread char tls_why[200];

/* u's transport (xprt.h): TCP, TLS once it has its SSL, or a test's
 * memory end. */
#define XKIND(u) ((u)->xkind)
#define XPRT(u)	 sl_xprt(XKIND(u))

/* Turns interest in one of u's events on or off through its transport,
 * which a memory end needs to wake it. Returns event_add's or
 * event_del's result. */
static inline int
up_watch(struct sl_upconn *u, struct event *ev, int on)
{
	return XPRT(u)->watch(u->fd, u->xc, ev, on);
}

const char *
sl_upstream_tls_why(void)
{
	return tls_why;
}

/* The TLS settings a connection to ep must have been made with. */
static uint64_t
ep_tls_fp(const struct sl_wendpoint *ep)
{
	const struct sl_tls_client *cl = ep->cluster->tls.ctx;

	return cl != NULL ? cl->fp : 0;
}

/* ---- endpoints -------------------------------------------------------- */

struct sl_wendpoint *
sl_upstream_endpoint(struct sl_worker *w, struct sl_conf *conf,
		     const struct sl_conf_cluster *cc,
		     const struct sl_conf_endpoint *ce)
{
	struct sl_wendpoint *ep;

	TAILQ_FOREACH(ep, &w->eps, link)
	if (ep->key == ce->state)
		break;
	if (ep == NULL) {
		if ((ep = calloc(1, sizeof(*ep))) == NULL)
			return NULL;
		ep->key = ce->state;
		ep->w = w;
		ep->inflight = &ce->state->counts[w->id].inflight;
		TAILQ_INIT(&ep->idle);
		TAILQ_INIT(&ep->h2);
		TAILQ_INSERT_TAIL(&w->eps, ep, link);
	}
	if (ep->gconf != conf) {
		/* settings (weight, pool, limits) follow the newest
		 * generation; the reference keeps them valid for
		 * connections that outlive older ones */
		struct sl_conf *old = ep->gconf;
		ep->gconf = sl_conf_ref(conf);
		sl_conf_unref(old);
	}
	ep->conf = ce;
	ep->cluster = cc;
	ep->seen_gen = conf->generation;
	ep->retired = 0;
	ep->refs++;
	return ep;
}

void
sl_upstream_endpoint_unref(struct sl_wendpoint *ep)
{
	if (ep == NULL || --ep->refs > 0)
		return;
	/* no generation names it and no connection uses it, so its pool
	 * is empty */
	TAILQ_REMOVE(&ep->w->eps, ep, link);
	sl_tls_slot_clear(&ep->tls_slot);
	sl_conf_unref(ep->gconf);
	free(ep);
}

static void close_idle_ep(struct sl_wendpoint *ep);

/* The connections a module above shares out of ep: their idle ones close
 * through the handler it set (sl_up_pool_handler). */
static void
close_idle_shared(struct sl_wendpoint *ep)
{
	if (ep->on_close_idle != NULL)
		ep->on_close_idle(ep);
}

void
sl_upstream_retire_endpoints(struct sl_worker *w, uint64_t generation)
{
	struct sl_wendpoint *ep, *next;

	for (ep = TAILQ_FIRST(&w->eps); ep != NULL; ep = next) {
		next = TAILQ_NEXT(ep, link);
		if (ep->seen_gen == generation || ep->retired)
			continue;
		/* gone from the configuration: idle connections close now,
		 * busy ones when their owner is done */
		ep->retired = 1;
		ep->refs++; /* closing may drop the last reference */
		close_idle_ep(ep);
		close_idle_shared(ep);
		next = TAILQ_NEXT(ep, link);
		sl_upstream_endpoint_unref(ep);
	}
}

/* ---- connections ------------------------------------------------------- */

/* The chunked coding of a request body of pieces (sl_upstream_write_chunked):
 * the writer's state, and the room it is lent for a last chunk with
 * trailers. */
struct sl_upchunker {
	struct sl_h1_chunker ck;
	char *last;	 /* the last chunk with trailers (malloc'd) */
	size_t last_len; /* its bytes */
};

/* The chunked coding of a response body taken off (sl_upstream_dechunk):
 * its decoder, the trailer section's text while it spans reads, and its
 * block once whole. */
struct sl_updechunk {
	struct sl_h1_chunked ck;
	struct sl_h1_trailers trl;
};

/*
 * The structs of HTTP/2 upstream streams (one a gRPC call), kept for reuse
 * by the thread that freed them, zeroed: a calloc and a free a call less.
 * Linked through their first bytes.
 */
#define STREAM_CONNS_KEPT 256
static _Thread_local struct sl_upconn *stream_conns;
static _Thread_local unsigned nstream_conns;

static void
stream_conn_put(struct sl_upconn *u)
{
	if (nstream_conns >= STREAM_CONNS_KEPT) {
		free(u);
		return;
	}
	/* zeroed but for its events: deleted (upstream_free), they stay
	 * assigned to the thread's loop, with u as their argument, for the
	 * next stream (sl_upstream_stream): three event_assign a call less */
	memset(u, 0, offsetof(struct sl_upconn, rev));
	memset(&u->tev + 1, 0,
	       sizeof(*u) - (offsetof(struct sl_upconn, tev) + sizeof(u->tev)));
	memcpy(u, &stream_conns, sizeof(void *));
	stream_conns = u;
	nstream_conns++;
}

static struct sl_upconn *
stream_conn_take(void)
{
	struct sl_upconn *u = stream_conns;

	if (u == NULL)
		return calloc(1, sizeof(*u));
	memcpy(&stream_conns, u, sizeof(void *));
	/* the link's bytes (the rest is zero, the events assigned) */
	memset(u, 0, sizeof(void *));
	nstream_conns--;
	return u;
}

void
sl_upstream_streams_free(void)
{
	struct sl_upconn *u;

	while ((u = stream_conns) != NULL) {
		memcpy(&stream_conns, u, sizeof(void *));
		free(u);
	}
	nstream_conns = 0;
}

static void
upstream_free(struct sl_upconn *u, enum sl_up_close why)
{
	struct sl_worker *w = u->w;
	struct sl_wendpoint *ep = u->ep;
	int stream = u->h2s;

	if (!stream)
		SL_STAT_INC(w->stats.upstream_closed[why]);
	if (u->rev_on)
		up_watch(u, &u->rev, 0);
	if (u->wev_on)
		up_watch(u, &u->wev, 0);
	sl_event_del(&u->tev);
	if (u->ck != NULL) {
		free(u->ck->last);
		free(u->ck);
		u->ck = NULL;
	}
	if (u->dk != NULL) {
		sl_h1_trailers_free(&u->dk->trl);
		free(u->dk);
		u->dk = NULL;
	}
	/* TLS: close_notify, unless in the middle of the handshake */
	XPRT(u)->close(u->fd, u->xc, u->state != SL_UP_ST_HANDSHAKE);
	sl_buf_release(&w->bufs, &u->in);
	if (stream)
		stream_conn_put(u);
	else
		free(u);
	/* The max_connections slot goes back only once the socket is closed:
	 * another worker may use it at once, and the upstream must not see
	 * one more connection than the limit. */
	if (!stream)
		sl_runtime_release(&ep->conf->state->conns);
	sl_worker_capacity(w);
	sl_upstream_endpoint_unref(ep);
}

struct sl_upconn *
sl_upstream_stream(struct sl_worker *w, struct sl_wendpoint *ep,
		   sl_up_handler *handler, void *arg)
{
	struct sl_upconn *u;

	if ((u = stream_conn_take()) == NULL)
		return NULL;
	u->w = w;
	u->ep = ep;
	u->handler = handler;
	u->arg = arg;
	u->id = sl_conn_id();
	u->fd = -1;
	u->xkind = SL_XPRT_STREAM;
	u->h2s = 1;
	ep->refs++;			   /* dropped by upstream_free */
	if (!event_initialized(&u->rev)) { /* a new struct: a kept one's are */
		event_assign(&u->rev, w->base, -1, EV_READ | EV_PERSIST,
			     upstream_on_read, u);
		event_assign(&u->wev, w->base, -1, EV_WRITE | EV_PERSIST,
			     upstream_on_write, u);
		evtimer_assign(&u->tev, w->base, upstream_on_idle_timeout, u);
	}
	/* its end comes from the caller, which turns write interest on */
	u->state = SL_UP_ST_CONNECTING;
	return u;
}

/* 1 when u is past its cluster's pool.max_lifetime. */
static int
upstream_aged(const struct sl_upconn *u)
{
	uint64_t life = u->ep->cluster->pool_max_lifetime_ms;

	return life > 0 && sl_now_ms() - u->born_ms >= life;
}

static void
pool_remove(struct sl_upconn *u)
{
	TAILQ_REMOVE(&u->ep->idle, u, entry);
	u->ep->nidle--;
	SL_STAT_ADD(u->ep->key->counts[u->w->id].idle, (uint64_t)-1);
}

/* Sends the connection's PROXY header, right after connect and before a
 * TLS handshake (the transport is still TCP or memory): the buffer is
 * empty, so it takes the few bytes whole. Returns 0 or -1 with errno
 * set. */
static int
upstream_send_pp(struct sl_upconn *u)
{
	struct iovec iov = {u->pp, u->pp_len};
	int want;
	ssize_t n = XPRT(u)->sendv(u->fd, u->xc, &iov, 1, 0, &want);

	if (n == (ssize_t)u->pp_len) {
		SL_STAT_ADD(u->w->stats.upstream_bytes_out, (uint64_t)n);
		return 0;
	}
	if (n >= 0)
		errno = EPROTO; /* a short write on a new connection */
	return -1;
}

static struct sl_upconn *upstream_connect(struct sl_worker *w,
					  struct sl_wendpoint *ep,
					  const void *pp, size_t pplen,
					  sl_up_handler *handler, void *arg);

struct sl_upconn *
sl_upstream_get(struct sl_worker *w, struct sl_wendpoint *ep, int fresh,
		sl_up_handler *handler, void *arg)
{
	struct sl_upconn *u;

	while (!fresh && (u = TAILQ_FIRST(&ep->idle)) != NULL) {
		if (sl_now_cached() >= u->idle_until_ms) {
			/* its idle timer is late: never reused past it */
			pool_remove(u);
			upstream_free(u, SL_UP_CLOSE_IDLE_TIMEOUT);
		} else if (u->tls_fp != ep_tls_fp(ep) || upstream_aged(u)) {
			/* made before a reload changed the cluster's TLS,
			 * or past pool.max_lifetime */
			pool_remove(u);
			upstream_free(u, SL_UP_CLOSE_SHED);
		} else
			break;
	}
	if (!fresh && u != NULL) {
		/* its idle timer stays: when it fires, the connection is
		 * busy or idle again since, and it waits for that */
		pool_remove(u);
		u->state = SL_UP_ST_ACTIVE;
		u->handler = handler;
		u->arg = arg;
		SL_STAT_INC(w->stats.upstream_reused);
		return u;
	}
	return upstream_connect(w, ep, NULL, 0, handler, arg);
}

struct sl_upconn *
sl_upstream_get_proxied(struct sl_worker *w, struct sl_wendpoint *ep,
			const void *pp, size_t pplen, sl_up_handler *handler,
			void *arg)
{
	if (pplen == 0 || pplen > SL_PP_V2_OUT_MAX) {
		errno = EINVAL;
		return NULL;
	}
	return upstream_connect(w, ep, pp, pplen, handler, arg);
}

/* A test's connect (ep->connector): the connector makes u's memory end,
 * whose connect is in progress at first, as a socket's is on loopback,
 * and ends as the test's end says (xprt_mem.c). Returns -1 with errno:
 * EINPROGRESS, or the connector's. */
static int
upstream_connect_mem(struct sl_upconn *u)
{
	struct sl_xprt_mem *end;

	if (u->ep->connector(u->ep, &end) == -1)
		return -1;
	u->xc = end;
	errno = EINPROGRESS;
	return -1;
}

/* A new connection to ep, starting with pp[0..pplen) when pplen > 0 (see
 * sl_upstream_get). */
static struct sl_upconn *
upstream_connect(struct sl_worker *w, struct sl_wendpoint *ep, const void *pp,
		 size_t pplen, sl_up_handler *handler, void *arg)
{
	const struct sl_conf_endpoint *ce = ep->conf;
	struct sl_upconn *u;
	int on = 1, rcvbuf = UPSTREAM_RCVBUF;

	/* every connection, idle ones included, counts against the
	 * endpoint's max_connections across all workers */
	if (!sl_runtime_take(&ce->state->conns, ep->cluster->max_connections)) {
		errno = EBUSY;
		return NULL;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		sl_runtime_release(&ce->state->conns);
		return NULL;
	}
	u->w = w;
	u->ep = ep;
	u->handler = handler;
	u->arg = arg;
	u->id = sl_conn_id();
	u->born_ms = sl_now_ms();
	if (pplen > 0) {
		memcpy(u->pp, pp, pplen);
		u->pp_len = (uint8_t)pplen;
	}
	if (ep->connector != NULL) {
		/* a test's: a memory end instead of a socket */
		u->fd = -1;
		u->xkind = SL_XPRT_MEM;
	} else if ((u->fd = socket(ce->addr.ss.ss_family,
				   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				   0)) == -1) {
		int saved = errno;
		sl_runtime_release(&ce->state->conns);
		free(u);
		errno = saved;
		return NULL;
	}
	ep->refs++; /* dropped by upstream_free */
	if (u->fd != -1) {
		(void)setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &on,
				 sizeof(on));
		/* bounded, as the client side: what a slow client holds
		 * back waits in the upstream's buffers, not in ours (set
		 * before connect, so the window scale fits) */
		(void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				 sizeof(rcvbuf));
	}
	event_assign(&u->rev, w->base, u->fd, EV_READ | EV_PERSIST,
		     upstream_on_read, u);
	event_assign(&u->wev, w->base, u->fd, EV_WRITE | EV_PERSIST,
		     upstream_on_write, u);
	evtimer_assign(&u->tev, w->base, upstream_on_idle_timeout, u);
	SL_STAT_INC(w->stats.upstream_connects);
	SL_STAT_INC(ep->key->counts[w->id].connects);
	u->tls_fp = ep_tls_fp(ep);
	if ((u->xkind == SL_XPRT_MEM
		 ? upstream_connect_mem(u)
		 : connect(u->fd, (const struct sockaddr *)&ce->addr.ss,
			   ce->addr.sslen)) == 0) {
		if (u->pp_len > 0 && upstream_send_pp(u) == -1) {
			int saved = errno;
			upstream_free(u, SL_UP_CLOSE_CONNECT);
			errno = saved;
			return NULL;
		}
		u->state = SL_UP_ST_ACTIVE;
		if (u->tls_fp != 0) {
			/* the handshake starts from the write event, so
			 * that the owner hears of it from a callback */
			u->state = SL_UP_ST_HANDSHAKE;
			u->tcp_ns = sl_realtime_ns();
			sl_upstream_want_write(u, 1);
			return u;
		}
	} else if (errno == EINPROGRESS) {
		u->state = SL_UP_ST_CONNECTING;
		sl_upstream_want_write(u, 1);
		return u;
	} else {
		int saved = errno;
		/* closes the socket, releases the count */
		upstream_free(u, SL_UP_CLOSE_CONNECT);
		errno = saved;
		return NULL;
	}
	sl_upstream_want_read(u, 1);
	return u;
}

void
sl_upstream_keepalive(struct sl_upconn *u, uint32_t timeout_s, uint32_t max)
{
	if (timeout_s > 0) {
		uint64_t ms = (uint64_t)timeout_s * 1000, margin = ms / 4;
		if (margin < SL_UP_KA_MARGIN_MIN_MS)
			margin = SL_UP_KA_MARGIN_MIN_MS;
		if (margin > SL_UP_KA_MARGIN_MAX_MS)
			margin = SL_UP_KA_MARGIN_MAX_MS;
		/* timeout_s >= 1, so ms > margin */
		u->ka_idle_ms = (uint32_t)SL_MIN(ms - margin, UINT32_MAX);
	}
	if (max > 0)
		/* max counts the requests still to come, this one included */
		u->ka_max = u->nrequests - 1 + max;
}

void
sl_upstream_want_read(struct sl_upconn *u, int on)
{
	if (on && !u->rev_on) {
		if (up_watch(u, &u->rev, 1) == 0)
			u->rev_on = 1;
		/* decrypted bytes left when reading stopped: epoll will
		 * not say so */
		if (sl_xprt_pending(XKIND(u), u->fd, u->xc))
			event_active(&u->rev, EV_READ, 1);
	} else if (!on && u->rev_on) {
		up_watch(u, &u->rev, 0);
		u->rev_on = 0;
	}
}

/*
 * Drives the TLS handshake of a new upstream connection: ACTIVE and
 * CONNECTED when done, FAILED (SL_UP_ERR_TLS) when it fails.
 */
static void
upstream_handshake(struct sl_upconn *u)
{
	int want = 0, r;

	if (XKIND(u) == SL_XPRT_MEM) {
		/* a test's memory end: TLS over it is not built (xprt.h) */
		snprintf(tls_why, sizeof(tls_why), "no TLS on a memory end");
		u->handler(u, SL_UP_EV_FAILED, SL_UP_ERR_TLS, u->arg);
		return;
	}
	if (u->ssl == NULL) {
		const struct sl_conf_addr *a = &u->ep->conf->addr;
		char ip[INET6_ADDRSTRLEN];
		sl_addr_ip((const struct sockaddr *)&a->ss, ip, sizeof(ip));
		if (u->ep->cluster->tls.ctx == NULL ||
		    (u->ssl = sl_tls_connect(u->ep->cluster->tls.ctx, u->fd, ip,
					     &u->ep->tls_slot)) == NULL) {
			u->handler(u, SL_UP_EV_FAILED, ENOMEM, u->arg);
			return;
		}
		u->xkind = SL_XPRT_TLS;
	}
	r = sl_tls_handshake(u->ssl, &want);
	if (r == 0) {
		sl_upstream_want_read(u, want == SL_TLS_WANT_READ);
		sl_upstream_want_write(u, want == SL_TLS_WANT_WRITE);
		return;
	}
	if (r == -1) {
		sl_tls_why(u->ssl, tls_why, sizeof(tls_why));
		u->handler(u, SL_UP_EV_FAILED, SL_UP_ERR_TLS, u->arg);
		return;
	}
	u->state = SL_UP_ST_ACTIVE;
	sl_upstream_want_write(u, 0);
	sl_upstream_want_read(u, 1);
	u->handler(u, SL_UP_EV_CONNECTED, 0, u->arg);
}

void
sl_upstream_want_write(struct sl_upconn *u, int on)
{
	if (on && !u->wev_on) {
		if (up_watch(u, &u->wev, 1) == 0)
			u->wev_on = 1;
	} else if (!on && u->wev_on) {
		up_watch(u, &u->wev, 0);
		u->wev_on = 0;
	}
}

/*
 * 1 when requests of cc wait for a connection in other workers while this
 * one has none waiting: an idle connection kept here would hold a slot of
 * max_connections they need.
 */
static int
others_wait(struct sl_worker *w, const struct sl_conf_cluster *cc)
{
	return cc->max_connections > 0 && w->nwaiting == 0 &&
	       atomic_load_explicit(&cc->state->pending, memory_order_relaxed) >
		   0;
}

/* Closes the idle connections of every endpoint of w, or, with
 * only_contended, of those whose cluster has requests waiting elsewhere. */
static void
close_idle(struct sl_worker *w, int only_contended)
{
	struct sl_wendpoint *ep, *next;

	for (ep = TAILQ_FIRST(&w->eps); ep != NULL; ep = next) {
		if ((ep->nidle == 0 &&
		     (only_contended || TAILQ_EMPTY(&ep->h2))) ||
		    (only_contended && !others_wait(w, ep->cluster))) {
			next = TAILQ_NEXT(ep, link);
			continue;
		}
		/* a reference keeps ep while its last connections close */
		ep->refs++;
		close_idle_ep(ep);
		if (!only_contended)
			close_idle_shared(ep);
		next = TAILQ_NEXT(ep, link);
		sl_upstream_endpoint_unref(ep);
	}
}

void
sl_upstream_shed_idle(struct sl_worker *w)
{
	close_idle(w, 1);
}

void
sl_upstream_put(struct sl_upconn *u, int reusable)
{
	struct sl_wendpoint *ep = u->ep;
	const struct sl_conf_cluster *cc = ep->cluster;
	struct timeval tv;
	uint64_t idle;

	u->handler = NULL;
	u->arg = NULL;
	if (u->ka_max > 0 && u->nrequests >= u->ka_max)
		reusable = 0; /* the upstream would close it */
	if (u->pp_len > 0 || u->h2s || upstream_aged(u))
		reusable = 0; /* its PROXY header named one client; a
				 stream serves one request; old enough */
	if (!reusable || u->state != SL_UP_ST_ACTIVE || ep->retired ||
	    others_wait(u->w, cc) || sl_buf_pending(&u->in) != 0 ||
	    sl_xprt_pending(XKIND(u), u->fd, u->xc) || u->tls_rww ||
	    ep->nidle >= cc->pool_max_idle || u->w->draining) {
		upstream_free(u, SL_UP_CLOSE_DONE);
		return;
	}
	sl_buf_release(&u->w->bufs, &u->in);
	u->ready = 0;
	u->state = SL_UP_ST_IDLE;
	sl_upstream_want_write(u, 0);
	sl_upstream_want_read(u, 1);
	idle = cc->pool_idle_timeout_ms;
	if (u->ka_idle_ms > 0 && u->ka_idle_ms < idle)
		idle = u->ka_idle_ms;
	u->idle_until_ms = sl_now_cached() + idle;
	if (!u->tev_on) {
		/* armed once: a timer that fires before idle_until_ms
		 * moves itself on (upstream_on_idle_timeout), which saves
		 * a timer's removal and insertion per request */
		tv.tv_sec = (time_t)(idle / 1000);
		tv.tv_usec = (suseconds_t)(idle % 1000) * 1000;
		event_add(&u->tev, &tv);
		u->tev_on = 1;
	}
	TAILQ_INSERT_HEAD(&ep->idle, u, entry);
	ep->nidle++;
	SL_STAT_INC(ep->key->counts[u->w->id].idle);
	sl_worker_capacity(u->w);
}

static void
upstream_on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sl_upconn *u = arg;
	uint64_t now = sl_now_refresh();

	(void)fd;
	(void)what;
	u->tev_on = 0;
	if (u->state != SL_UP_ST_IDLE)
		return; /* in use: sl_upstream_put arms it again */
	if (now < u->idle_until_ms) {
		/* idle again since it was armed: the rest of its time */
		uint64_t left = u->idle_until_ms - now;
		struct timeval tv = {(time_t)(left / 1000),
				     (suseconds_t)(left % 1000) * 1000};

		event_add(&u->tev, &tv);
		u->tev_on = 1;
		return;
	}
	pool_remove(u);
	upstream_free(u, SL_UP_CLOSE_IDLE_TIMEOUT);
}

static void
upstream_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sl_upconn *u = arg;
	char tmp[64];
	ssize_t n;
	int want;
	enum sl_up_close why = SL_UP_CLOSE_PEER;

	if (u->state == SL_UP_ST_HANDSHAKE) {
		upstream_handshake(u);
		return;
	}
	if (u->state != SL_UP_ST_IDLE) {
		u->handler(u, SL_UP_EV_READABLE, 0, u->arg);
		return;
	}
	/* idle: a close, an error, or bytes nobody asked for all end it;
	 * through the transport: a TLS 1.3 session ticket is none of them */
	n = XPRT(u)->recv(u->fd, u->xc, tmp, sizeof(tmp), &want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR) &&
	    want != SL_TLS_WANT_WRITE)
		return;
	if (n > 0) {
		char esc[128];
		why = SL_UP_CLOSE_UNEXPECTED;
		log_warnx("upstream conn=%llu: %zd unexpected bytes on an "
			  "idle connection: \"%s\"",
			  (unsigned long long)u->id, n,
			  sl_escape(esc, sizeof(esc), tmp, (size_t)n));
	}
	pool_remove(u);
	upstream_free(u, why);
}

static void
upstream_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct sl_upconn *u = arg;
	int err;

	switch (u->state) {
	case SL_UP_ST_IDLE:
		sl_upstream_want_write(u, 0);
		return;
	case SL_UP_ST_CONNECTING:
		/* a non-blocking connect completed, one way or the other */
		err = XPRT(u)->connect_error(u->fd, u->xc);
		if (err == EINPROGRESS)
			return;
		if (err != 0) {
			u->handler(u, SL_UP_EV_FAILED, err, u->arg);
			return;
		}
		/* the PROXY header goes first, before a TLS handshake */
		if (u->pp_len > 0 && upstream_send_pp(u) == -1) {
			u->handler(u, SL_UP_EV_FAILED, errno, u->arg);
			return;
		}
		if (u->tls_fp != 0) {
			u->state = SL_UP_ST_HANDSHAKE;
			u->tcp_ns = sl_realtime_ns();
			upstream_handshake(u);
			return;
		}
		u->state = SL_UP_ST_ACTIVE;
		sl_upstream_want_write(u, 0);
		sl_upstream_want_read(u, 1);
		u->handler(u, SL_UP_EV_CONNECTED, 0, u->arg);
		return;
	case SL_UP_ST_HANDSHAKE:
		upstream_handshake(u);
		return;
	case SL_UP_ST_ACTIVE:
		if (u->tls_rww) {
			/* a TLS read could not go on until now */
			u->tls_rww = 0;
			sl_upstream_want_write(u, 0);
			u->handler(u, SL_UP_EV_READABLE, 0, u->arg);
			return;
		}
		u->handler(u, SL_UP_EV_WRITABLE, 0, u->arg);
		return;
	}
}

ssize_t
sl_upstream_read(struct sl_upconn *u, size_t bufsize, size_t max)
{
	ssize_t n;
	int want;

	/* an empty buffer of another size is exchanged for one of this
	 * size (bufsize is rounded up to a power of two) */
	if (u->in.data != NULL && u->in.off == u->in.len &&
	    (u->in.cap < bufsize || u->in.cap / 2 >= bufsize))
		sl_buf_release(&u->w->bufs, &u->in);
	if (sl_buf_alloc(&u->w->bufs, &u->in, bufsize) == -1) {
		errno = ENOMEM;
		return -1;
	}
	if (u->in.off == u->in.len)
		u->in.off = u->in.len = u->ready = 0;
	if (u->in.len == u->in.cap && u->in.off > 0) {
		memmove(u->in.data, u->in.data + u->in.off,
			u->in.len - u->in.off);
		u->in.len -= u->in.off;
		u->ready -= u->in.off;
		u->in.off = 0;
	}
	/* a full buffer smaller than bufsize grows (its bytes move) */
	if (sl_buf_space(&u->in) == 0 && u->in.cap < bufsize &&
	    sl_buf_grow(&u->w->bufs, &u->in, bufsize) == -1) {
		errno = ENOMEM;
		return -1;
	}
	if (sl_buf_space(&u->in) == 0) {
		/* the owner is slower than the upstream: stop reading */
		sl_upstream_want_read(u, 0);
		return SL_AGAIN;
	}
	n = XPRT(u)->recv(u->fd, u->xc, u->in.data + u->in.len,
			  SL_MIN(sl_buf_space(&u->in), max), &want);
	if (want == SL_TLS_WANT_WRITE) {
		/* a TLS read must write first: the write event says when */
		u->tls_rww = 1;
		sl_upstream_want_write(u, 1);
	}
	if (n > 0) {
		u->in.len += (uint32_t)n;
		/* a stream's bytes are counted as frames, on its connection */
		if (!u->h2s)
			SL_STAT_ADD(u->w->stats.upstream_bytes_in, (uint64_t)n);
		if (sl_xprt_pending(XKIND(u), u->fd, u->xc)) {
			/* more inside TLS, where epoll cannot see it: with
			 * the buffer full, reading stops until the owner
			 * makes room (and turns it on, which looks); else
			 * (a close_notify after the data) come back */
			if (sl_buf_space(&u->in) == 0)
				sl_upstream_want_read(u, 0);
			else if (u->rev_on)
				event_active(&u->rev, EV_READ, 1);
		}
		return n;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return SL_AGAIN;
	return n;
}

ssize_t
sl_upstream_writev(struct sl_upconn *u, struct iovec *iov, int niov, int flags)
{
	int want;
	ssize_t n = XPRT(u)->sendv(u->fd, u->xc, iov, niov, flags, &want);

	if (n > 0 && !u->h2s)
		SL_STAT_ADD(u->w->stats.upstream_bytes_out, (uint64_t)n);
	return n;
}

/* ---- the chunked coding of a request body (sl_upstream_write_chunked) -- */

ssize_t
sl_upstream_write_chunked(struct sl_upconn *u, const char *head, size_t hp,
			  const char *body, size_t n, int end,
			  const char *trailers, size_t *took, int *ended)
{
	struct sl_upchunker *uc = u->ck;
	struct iovec iov[1 + SL_H1_CHUNKER_IOV];
	int niov = 0;
	size_t k;
	ssize_t r;

	*took = 0;
	*ended = 0;
	if (u->h2s) {
		/* an HTTP/2 stream takes pieces as they are (its head says
		 * chunked where a client's framing field stood: h2up_head.c
		 * reads that as a body of pieces), and the end as a mark,
		 * the caller's (sl_upstream_end_request, h2up.c) */
		if (hp > 0)
			iov[niov++] = (struct iovec){(char *)head, hp};
		if (n > 0)
			iov[niov++] = (struct iovec){(char *)body, n};
		if (niov > 0 && (r = sl_upstream_writev(u, iov, niov, 0)) == -1)
			return -1;
		if (niov > 0) {
			*took = (size_t)r > hp ? (size_t)r - hp : 0;
		} else
			r = 0;
		*ended = end && *took == n && (size_t)r >= hp;
		return r;
	}
	if (uc == NULL && (uc = u->ck = calloc(1, sizeof(*uc))) == NULL)
		return -1;
	/* the last chunk with trailers as text, kept until it went */
	if (end && trailers != NULL && uc->last == NULL) {
		if ((uc->last = malloc(sl_h1_last_chunk_len(trailers))) == NULL)
			return -1;
		uc->last_len = sl_h1_last_chunk(uc->last, trailers);
	}
	if (hp > 0)
		iov[niov++] = (struct iovec){(char *)head, hp};
	niov += sl_h1_chunker_iov(&uc->ck, body, n, end, uc->last, uc->last_len,
				  iov + niov);
	if (niov == 0)
		return 0;
	if ((r = sl_upstream_writev(u, iov, niov, 0)) == -1)
		return -1;
	k = SL_MIN((size_t)r, hp);
	*took = sl_h1_chunker_sent(&uc->ck, (size_t)r - k, ended);
	if (*ended) {
		/* all of it went: the connection's next request starts
		 * afresh */
		free(uc->last);
		uc->last = NULL;
	}
	return r;
}

int
sl_upstream_chunked_open(const struct sl_upconn *u)
{
	return u->ck != NULL && sl_h1_chunker_open(&u->ck->ck);
}

/* ---- the chunked coding of a response body (sl_upstream_dechunk) ----- */

int
sl_upstream_dechunk_start(struct sl_upconn *u, size_t max_trailer_bytes,
			  size_t max_trailers, const char *own)
{
	struct sl_updechunk *dk = u->dk;

	if (dk == NULL && (dk = u->dk = calloc(1, sizeof(*dk))) == NULL)
		return -1;
	sl_h1_trailers_reset(&dk->trl);
	sl_h1_chunked_init(&dk->ck, max_trailer_bytes);
	dk->ck.max_trailers = max_trailers;
	dk->ck.own = own;
	return 0;
}

int
sl_upstream_dechunk(struct sl_upconn *u, int *why)
{
	struct sl_updechunk *dk = u->dk;
	char *p = u->in.data + u->ready;
	size_t avail = u->in.len - u->ready, used, data, tr_at;
	int r;

	r = sl_h1_chunked_unframe(&dk->ck, p, avail, &used, &data, &tr_at);
	if (r >= 0 && tr_at < used &&
	    sl_h1_trailers_take(&dk->trl, p + tr_at, used - tr_at, r == 1) ==
		-1)
		return -2;
	/* the payload moved to the front; the gap the framing left
	 * closes */
	memmove(p + data, p + used, avail - used);
	u->in.len -= (uint32_t)(used - data);
	u->ready += (uint32_t)data;
	*why = dk->ck.why;
	return r;
}

const struct sl_h1_chunked *
sl_upstream_dechunk_state(const struct sl_upconn *u)
{
	return u->dk != NULL ? &u->dk->ck : NULL;
}

const char *
sl_upstream_h1_trailers(const struct sl_upconn *u)
{
	return u->dk != NULL && u->dk->trl.on ? u->dk->trl.blk : NULL;
}

ssize_t
sl_upstream_splice(struct sl_upconn *u, struct sl_pipe *p)
{
	ssize_t n = sl_splice_out(p, u->fd);

	if (n > 0)
		SL_STAT_ADD(u->w->stats.upstream_bytes_out, (uint64_t)n);
	return n;
}

int
sl_upstream_splice_ok(const struct sl_upconn *u)
{
	return XKIND(u) == SL_XPRT_TCP && !u->h2s && u->fd >= 0;
}

void
sl_upstream_shutdown(struct sl_upconn *u)
{
	XPRT(u)->shutdown(u->fd, u->xc);
}

void
sl_upstream_consume(struct sl_upconn *u, size_t n)
{
	u->in.off += (uint32_t)n;
	if (u->in.off == u->in.len)
		u->in.off = u->in.len = u->ready = 0;
}

int
sl_upstream_more_waiting(const struct sl_upconn *u)
{
	return XPRT(u)->more_waiting(u->fd, u->xc);
}

static void
close_idle_ep(struct sl_wendpoint *ep)
{
	struct sl_upconn *u;

	while ((u = TAILQ_FIRST(&ep->idle)) != NULL) {
		pool_remove(u);
		upstream_free(u, SL_UP_CLOSE_SHED);
	}
}

void
sl_upstream_close_idle(struct sl_worker *w)
{
	close_idle(w, 0);
}
