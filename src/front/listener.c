/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets and accept. Each worker has its own SO_REUSEPORT socket
 * per listener, so the kernel spreads connections and no lock is taken.
 */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "util.h"
#include "wloop.h"

/* Accepts per readiness event, at most. The event is level-triggered, so
 * connections left pending are reported again by the next epoll_wait;
 * the bound keeps a connection flood from holding up the connections
 * already established for more than 16 accepts per loop turn. One per
 * event (nginx's default) made new connections wait in the accept queue
 * behind every other event: Connection: close p99 3.6 -> 2.6 ms, with 5%
 * more requests per second, on the bench (doc/performance.md). */
#define ACCEPT_BATCH	16
#define EMFILE_PAUSE_MS 100  /* accept pause when out of descriptors */
#define EMFILE_LOG_MS	1000 /* at most one log line per interval */
#define REJECT_LOG_MS	1000

/* What every listening socket of l gets: the options accepted sockets
 * inherit. */
static void
listener_options(int fd, const struct sl_conf_listener *l)
{
	int on = 1, defer_s = 1, sndbuf;

	/* accepted sockets inherit TCP_NODELAY (one setsockopt per
	 * listener instead of one per connection); TCP_DEFER_ACCEPT hands
	 * over a connection once its first bytes are there, so the request
	 * is read right after accept, without another epoll round, and a
	 * connection that never speaks costs no accept at all */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_s,
			 sizeof(defer_s));
	/* buffer_bytes bounds the kernel's send buffer of every accepted
	 * socket too (inherited, no syscall per connection): left to
	 * autotuning, a slow reader would pin up to 4 MiB of kernel memory
	 * each, outside any budget */
	sndbuf = l->limits.buffer_bytes > INT_MAX ? INT_MAX
						  : (int)l->limits.buffer_bytes;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

/* After listen(): accepted sockets start with delayed ACKs (inherited;
 * set after listen(), which resets the ACK state): a request is
 * acknowledged by its response instead of by a packet of its own, as a
 * new connection otherwise starts in quick-ACK mode. */
static void
listener_options_listening(int fd)
{
	int off = 0;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off));
}

int
sl_listener_open(const struct sl_conf_listener *l)
{
	int fd, on = 1;

	fd = socket(l->addr.ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (l->addr.ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				 sizeof(on));
	listener_options(fd, l);
	if (bind(fd, (const struct sockaddr *)&l->addr.ss, l->addr.sslen) == -1)
		goto fail;
	if (listen(fd, 4096) == -1)
		goto fail;
	listener_options_listening(fd);
	return fd;
fail : {
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
}

int
sl_listener_adopt(int fd, const struct sl_conf_listener *l)
{
	int v = 0, fl;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == -1 ||
	    v != SOCK_STREAM) {
		errno = ENOTSOCK;
		return -1;
	}
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 || !v) {
		errno = EINVAL;
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	listener_options(fd, l);
	listener_options_listening(fd);
	return 0;
}

static void
listener_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct sl_lsock *ls = arg;

	if (ls->fd != -1 && !ls->active && event_add(&ls->ev, NULL) == 0)
		ls->active = 1;
}

static void
listener_pause(struct sl_lsock *ls)
{
	struct timeval tv = {0, EMFILE_PAUSE_MS * 1000};
	uint64_t now = sl_now_ms();

	/* out of descriptors: stop polling the socket for a moment instead of
	 * spinning on a readiness that accept cannot consume */
	if (now - ls->last_emfile_log_ms >= EMFILE_LOG_MS) {
		log_warn("listener %s: accept paused for %d ms", ls->conf->name,
			 EMFILE_PAUSE_MS);
		ls->last_emfile_log_ms = now;
	}
	if (ls->active) {
		event_del(&ls->ev);
		ls->active = 0;
	}
	event_add(&ls->pause_ev, &tv);
}

static void
listener_reject_log(struct sl_lsock *ls, const char *what, uint64_t limit)
{
	uint64_t now = sl_now_ms();

	if (now - ls->last_reject_log_ms >= REJECT_LOG_MS) {
		log_warnx("listener %s: %s (%llu) reached: closing new "
			  "connections",
			  ls->conf->name, what, (unsigned long long)limit);
		ls->last_reject_log_ms = now;
	}
}

/* Whether sa is one of the listener's proxy_protocol sources. */
static int
listener_pp_source(const struct sl_conf_listener *l, const struct sockaddr *sa)
{
	struct sl_ip ip;

	return sl_ip_from_sockaddr(sa, &ip) == 0 &&
	       sl_cidr_set_find(&l->proxy_protocol.from, &ip) >= 0;
}

/*
 * Counts a new connection against the listener's limits. Returns the
 * per-address slot to release at close (or SL_RUNTIME_IP_UNCOUNTED, or
 * SL_RUNTIME_IP_PROXIED for a PROXY protocol source), or -1 when a limit
 * is reached (nothing stays counted).
 */
static int
listener_admit(struct sl_lsock *ls, const struct sockaddr *sa)
{
	const struct sl_conf_limits *lim = &ls->conf->limits;
	struct sl_lstate *st = ls->conf->state;
	int slot;

	if (!sl_runtime_take(&st->conns, lim->max_connections)) {
		atomic_fetch_add(&ls->conf->counters->rejected_max, 1);
		listener_reject_log(ls, "max_connections",
				    lim->max_connections);
		return -1;
	}
	/* identity: a balancer's connection counts against the client its
	 * PROXY header names, once it is read (client.c) */
	if (ls->conf->proxy_protocol.enabled &&
	    listener_pp_source(ls->conf, sa))
		return SL_RUNTIME_IP_PROXIED;
	slot = sl_runtime_ip_take(st, sa, lim->max_connections_per_ip);
	if (slot == -1) {
		sl_runtime_release(&st->conns);
		atomic_fetch_add(&ls->conf->counters->rejected_per_ip, 1);
		listener_reject_log(ls, "max_connections_per_ip",
				    lim->max_connections_per_ip);
		return -1;
	}
	return slot;
}

static void
listener_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sl_lsock *ls = arg;

	for (int i = 0; i < ACCEPT_BATCH && ls->fd != -1; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd, slot;

		fd = accept4(ls->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				listener_pause(ls);
			else if (errno != EAGAIN && errno != EINTR &&
				 errno != ECONNABORTED)
				log_warn("listener %s: accept", ls->conf->name);
			return;
		}
		SL_STAT_INC(ls->w->stats.accepted);
		if ((slot = listener_admit(ls, (struct sockaddr *)&ss)) == -1) {
			/* past a limit: closed before any byte is read,
			 * the cheapest answer there is */
			close(fd);
			continue;
		}
		ls->on_accept(ls, fd, (struct sockaddr *)&ss, len, slot);
	}
}

int
sl_listener_owns(const struct sl_conf_listener *l, const struct sockaddr *local)
{
	const struct sockaddr *la = (const struct sockaddr *)&l->addr.ss;

	if (l->tls.ctx != NULL || l->proxy_protocol.enabled ||
	    !(l->protocols & SL_PROTO_HTTP1) ||
	    la->sa_family != local->sa_family)
		return 0;
	if (la->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)la,
					 *y = (const void *)local;
		if (x->sin_port != y->sin_port)
			return 0;
		if (x->sin_addr.s_addr == y->sin_addr.s_addr)
			return 2;
		return x->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	if (la->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)la,
					  *y = (const void *)local;
		if (x->sin6_port != y->sin6_port)
			return 0;
		if (memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0)
			return 2;
		return IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr);
	}
	return 0;
}

void
sl_listener_take(struct sl_lsock *ls, int fd, const struct sockaddr *peer,
		 socklen_t peerlen)
{
	const struct sl_conf_limits *lim = &ls->conf->limits;
	struct sl_lstate *st = ls->conf->state;
	int slot, sndbuf;

	(void)sl_runtime_take(&st->conns, 0);
	slot = sl_runtime_ip_take(st, peer, lim->max_connections_per_ip);
	if (slot == -1)
		slot = SL_RUNTIME_IP_UNCOUNTED;
	/* what an accepted socket inherits from this listener: the old
	 * process's may have been another buffer_bytes, or grown (client
	 * connections' SO_SNDBUF budget, client_pool.c) */
	sndbuf = lim->buffer_bytes > INT_MAX ? INT_MAX : (int)lim->buffer_bytes;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	ls->on_accept(ls, fd, peer, peerlen, slot);
}

int
sl_listener_start(struct sl_lsock *ls, sl_accept_handler *on_accept)
{
	ls->on_accept = on_accept;
	event_assign(&ls->ev, ls->w->base, ls->fd, EV_READ | EV_PERSIST,
		     listener_on_accept, ls);
	evtimer_assign(&ls->pause_ev, ls->w->base, listener_on_resume, ls);
	if (event_add(&ls->ev, NULL) == -1)
		return -1;
	ls->active = 1;
	return 0;
}

void
sl_listener_close(struct sl_lsock *ls)
{
	if (ls->fd == -1)
		return;
	if (ls->active)
		event_del(&ls->ev);
	event_del(&ls->pause_ev);
	ls->active = 0;
	close(ls->fd);
	ls->fd = -1;
}
