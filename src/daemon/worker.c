/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: each runs its own event_base with its own listening
 * sockets, connections, pools and balancer state, and hears from the main
 * thread only through an eventfd and atomics. No lock on the request path.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "client_accept.h"
#include "client_h1.h"
#include "conf.h"
#include "exchange.h"
#include "filter.h"
#include "h2.h"
#include "h2up.h"
#ifdef HAVE_QUIC
#include "h3.h"
#endif
#include "handover.h"
#include "listener.h"
#include "mirror.h"
#include "rlstore.h"
#include "splice.h"
#include "subreq.h"
#include "tunnel.h"
#include "upstream.h"
#include "wgen.h"
#include "wproxy.h"
#include "xprt.h"

#define ACCESS_FLUSH_MS 200 /* also the idle-shedding and trim period */
/* free buffers a class keeps at least; it keeps more while its traffic uses
 * them, up to SL_BUF_FREE_BYTES (buf.c) */
#define BUF_FREE_PER_CLASS 64

static void worker_apply(struct sl_worker *, struct sl_reload_msg *);
static int worker_size_hdrs(struct sl_worker *, const struct sl_conf *);

/* A connection handed over by the process this one replaces, on its way
 * from the main thread to its worker (sl_worker_adopt); malloc'd. */
struct sl_adopt {
	struct sl_adopt *next;
	int fd;
};

static void
worker_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;

	if (w->alog->len > 0)
		sl_access_flush(w->alog);
	sl_upstream_shed_idle(w);
	sl_filters_worker_tick(w); /* a key set's refresh */
	sl_bufpool_tick(&w->bufs);
	sl_client_park_idle(w);
	atomic_store_explicit(&w->stats.buffer_bytes, w->bufs.allocated,
			      memory_order_relaxed);
}

static void
worker_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	struct sl_client *c;

	if (w->nclients > 0)
		log_warnx("worker %u: drain_timeout: closing %zu connections",
			  w->id, w->nclients);
	while ((c = sl_client_first(w)) != NULL)
		sl_client_abort(c);
#ifdef HAVE_QUIC
	sl_h3_abort(w);
#endif
	event_base_loopexit(w->base, NULL);
}

/*
 * An upgrade's drain, to a new process that takes idle connections: the
 * idle plain HTTP/1.1 ones go to it as they are, so that their clients
 * never see a close (doc/upgrade.md); the others drain here. Each is
 * unwatched before it is sent, and never read here again: a request that
 * comes meanwhile waits in the socket for the new process. When the
 * channel is full, the rest stay watched (held as in any upgrade's
 * drain) and are tried again once it has room.
 */
static void
worker_hand_over(struct sl_worker *w)
{
	struct sl_client *c, *next, *batch[SL_HANDOVER_CONNS_MAX];
	int fds[SL_HANDOVER_CONNS_MAX], r = 0;
	size_t n = 0, handed = 0;

	for (c = sl_client_first(w); c != NULL || n > 0; c = next) {
		/* (a parked connection that is prepared moves to the end of
		 * the unparked ones: next is taken first) */
		next = c != NULL ? sl_client_next(c) : NULL;
		if (c != NULL) {
			if ((fds[n] = sl_client_hand_prepare(c)) == -1)
				continue;
			batch[n++] = c;
			if (n < SL_NELEM(fds) && next != NULL)
				continue;
		}
		r = sl_handover_send_conns(w->hand_chan, fds, n);
		for (size_t i = 0; i < n; i++)
			sl_client_hand_done(batch[i], r == 0);
		handed += r == 0 ? n : 0;
		n = 0;
		if (r != 0)
			break;
	}
	if (handed > 0)
		log_info("upgrade: worker %u handed %zu idle keep-alive "
			 "connections to the new process",
			 w->id, handed);
	if (r == SL_AGAIN) {
		event_add(w->hand_ev, NULL);
	} else if (r == -1) {
		log_warn("upgrade: worker %u: handing idle connections to the "
			 "new process",
			 w->id);
		w->hand_chan = -1; /* the rest drain here */
	}
}

static void
worker_on_hand_room(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;

	sl_now_refresh();
	worker_hand_over(w);
}

static void
worker_drain(struct sl_worker *w, enum sl_drain how)
{
	struct sl_client *c, *next;
	struct timeval tv;
	uint64_t ms = w->gen->conf->drain_timeout_ms;

	if (w->draining)
		return;
	w->draining = how;
	for (size_t i = 0; i < w->nlsocks; i++)
		sl_listener_close(w->lsocks[i]);
	for (size_t i = 0; i < w->nxlsocks; i++)
		sl_listener_close(w->xlsocks[i]);
#ifdef HAVE_QUIC
	sl_h3_drain(w, how == SL_DRAIN_HANDOVER);
#endif
	sl_upstream_close_idle(w);
	if (how == SL_DRAIN_HANDOVER && w->hand_chan != -1) {
		w->hand_ev = event_new(w->base, w->hand_chan, EV_WRITE,
				       worker_on_hand_room, w);
		if (w->hand_ev != NULL)
			worker_hand_over(w);
	}
	for (c = sl_client_first(w); c != NULL; c = next) {
		next = sl_client_next(c);
		sl_client_drain(c);
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(w->drain_ev, &tv);
	sl_worker_maybe_done(w);
}

/* The listener socket of w that local, a connection's local address, is
 * on (the same address first, else a wildcard one), or NULL. */
static struct sl_lsock *
worker_lsock_of(struct sl_worker *w, const struct sockaddr *local)
{
	struct sl_lsock *ls = NULL;
	int best = 0;

	for (size_t i = 0; i < w->nlsocks; i++) {
		int k;
		if (w->lsocks[i] == NULL) /* out of memory at a reload */
			continue;
		k = sl_listener_owns(w->lsocks[i]->conf, local);
		if (k > best) {
			best = k;
			ls = w->lsocks[i];
		}
	}
	return ls;
}

/*
 * Serves fd, an idle connection the process this one replaces handed
 * over, as the listener its local address is on would an accepted one:
 * it is read at once (a request may have come while it was on its way).
 * With no such listener (the new file removed it, or gave it TLS or the
 * PROXY protocol) or while draining, it is closed, as an idle timeout
 * would close it.
 */
static void
worker_take(struct sl_worker *w, int fd)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	struct sl_lsock *ls = NULL;

	if (!w->draining &&
	    getsockname(fd, (struct sockaddr *)&local, &llen) == 0 &&
	    getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
		ls = worker_lsock_of(w, (struct sockaddr *)&local);
	if (ls == NULL) {
		log_debug("upgrade: worker %u: a connection handed over has "
			  "no listener here: closed",
			  w->id);
		close(fd);
		return;
	}
	sl_now_refresh();
	sl_listener_take(ls, fd, (struct sockaddr *)&peer, plen);
}

/* The connections main passed on (sl_worker_adopt), in their order. */
static void
worker_take_adopted(struct sl_worker *w)
{
	struct sl_adopt *a = atomic_exchange(&w->adopt, NULL), *rev = NULL;

	while (a != NULL) {
		struct sl_adopt *next = a->next;
		a->next = rev;
		rev = a;
		a = next;
	}
	while ((a = rev) != NULL) {
		rev = a->next;
		worker_take(w, a->fd);
		free(a);
	}
}

static void
worker_on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	struct sl_reload_msg *msg;
	uint64_t v;
	int how;

	(void)!read(w->notify_fd, &v, sizeof(v));
	if ((msg = atomic_exchange(&w->mailbox, NULL)) != NULL)
		worker_apply(w, msg);
	if (atomic_load(&w->adopt) != NULL)
		worker_take_adopted(w);
	if ((how = atomic_load(&w->cmd_stop)) != 0)
		worker_drain(w, (enum sl_drain)how);
}

/* Opens the listener sockets of the current generation from fds (taken
 * over). Returns 0 or -1. */
static int
lsocks_init(struct sl_worker *w, const int *fds)
{
	struct sl_conf *conf = w->gen->conf;

	w->nlsocks = conf->nlisteners;
	w->lsocks = calloc(w->nlsocks, sizeof(*w->lsocks));
	if (w->lsocks == NULL)
		return -1;
	for (size_t i = 0; i < w->nlsocks; i++) {
		if ((w->lsocks[i] = calloc(1, sizeof(**w->lsocks))) == NULL)
			return -1;
		w->lsocks[i]->w = w;
		w->lsocks[i]->conf = &conf->listeners[i];
		w->lsocks[i]->fd = fds[i];
	}
	return 0;
}

/* A worker's view of conf (sl_wgen_new), with each route's filters
 * attached. */
static struct sl_wgen *
worker_gen(struct sl_worker *w, struct sl_conf *conf)
{
	struct sl_wgen *g = sl_wgen_new(w, conf);

	if (g != NULL && sl_filters_attach(g) == -1) {
		/* its unref drops a reference to conf, which stays the
		 * caller's */
		sl_conf_ref(conf);
		sl_wgen_unref(w, g);
		g = NULL;
	}
	return g;
}

/*
 * Switches the worker to msg's generation: listener sockets whose address
 * stays keep accepting without a pause, removed ones close, new ones open;
 * endpoints keep their pools by identity; requests in flight finish under
 * the generation they started with.
 */
static void
worker_apply(struct sl_worker *w, struct sl_reload_msg *msg)
{
	struct sl_conf *conf = msg->conf;
	struct sl_wgen *g = NULL, *old;
	struct sl_lsock **ls = NULL;
	struct sl_client *c, *next;

	if (w->draining || worker_size_hdrs(w, conf) == -1 ||
	    (g = worker_gen(w, conf)) == NULL ||
	    (ls = calloc(conf->nlisteners, sizeof(*ls))) == NULL) {
		/* keep the running generation; close only sockets that
		 * were opened for this one */
		if (w->draining || g != NULL)
			log_warnx("worker %u: generation %llu not applied",
				  w->id, (unsigned long long)conf->generation);
		for (size_t j = 0; j < conf->nlisteners; j++) {
			int mine = 0;
			for (size_t i = 0; i < w->nlsocks; i++)
				mine |= w->lsocks[i]->fd == msg->fds[j];
			if (!mine)
				close(msg->fds[j]);
		}
		if (g != NULL) {
			sl_conf_ref(conf);
			sl_wgen_unref(w, g);
		}
		sl_conf_unref(conf);
		free(msg->fds);
		free(msg);
		atomic_store(&w->applied_gen, conf->generation);
		return;
	}
	for (size_t j = 0; j < conf->nlisteners; j++) {
		for (size_t i = 0; i < w->nlsocks; i++)
			if (w->lsocks[i] != NULL &&
			    w->lsocks[i]->fd == msg->fds[j]) {
				ls[j] = w->lsocks[i];
				w->lsocks[i] = NULL;
				break;
			}
		if (ls[j] == NULL &&
		    (ls[j] = calloc(1, sizeof(**ls))) != NULL) {
			ls[j]->w = w;
			ls[j]->fd = msg->fds[j];
			ls[j]->conf = &conf->listeners[j];
			if (sl_listener_start(ls[j], sl_client_new) == -1)
				log_warn("listener %s: cannot start",
					 conf->listeners[j].name);
		} else if (ls[j] == NULL) {
			close(msg->fds[j]);
			log_warnx("listener %s: out of memory",
				  conf->listeners[j].name);
			continue;
		}
		ls[j]->conf = &conf->listeners[j];
	}
	for (size_t i = 0; i < w->nlsocks; i++)
		if (w->lsocks[i] != NULL) {
			/* removed from the configuration */
			sl_listener_close(w->lsocks[i]);
			free(w->lsocks[i]);
		}
	free(w->lsocks);
	w->lsocks = ls;
	w->nlsocks = conf->nlisteners;
	/* an extra socket follows its address, or closes with it */
	for (size_t i = 0; i < w->nxlsocks; i++) {
		struct sl_lsock *x = w->xlsocks[i];
		const struct sl_conf_listener *to = NULL;
		for (size_t j = 0; j < conf->nlisteners && to == NULL; j++)
			if (strcmp(conf->listeners[j].addr.text,
				   x->conf->addr.text) == 0)
				to = &conf->listeners[j];
		if (to != NULL) {
			x->conf = to;
			continue;
		}
		sl_listener_close(x);
		free(x);
		w->xlsocks[i--] = w->xlsocks[--w->nxlsocks];
	}
	old = w->gen;
	w->gen = g;
	sl_upstream_retire_endpoints(w, conf->generation);
	/* idle connections of a removed listener close now; busy ones
	 * after their exchange (see client_adopt in client.c) */
	for (c = sl_client_first(w); c != NULL; c = next) {
		next = sl_client_next(c);
		sl_client_reloaded(c);
	}
#ifdef HAVE_QUIC
	sl_h3_reloaded(w);
#endif
	sl_wgen_unref(w, old);
	free(msg->fds);
	free(msg);
	atomic_store(&w->applied_gen, conf->generation);
}

/* Makes the header scratch large enough for conf. Returns 0 or -1. */
static int
worker_size_hdrs(struct sl_worker *w, const struct sl_conf *conf)
{
	size_t maxh = 256;
	struct sl_h1_header *h;

	for (size_t i = 0; i < conf->nlisteners; i++)
		maxh = SL_MAX(maxh, conf->listeners[i].limits.max_headers);
	if (maxh <= w->max_hdrs)
		return 0;
	if ((h = realloc(w->hdrs, maxh * sizeof(*h))) == NULL)
		return -1;
	w->hdrs = h;
	w->max_hdrs = maxh;
	return 0;
}

/* The codecs a client connection may take on: client.c calls them only
 * through its connections' tables (client_codec.h). */
static const struct sl_client_codecs worker_client_codecs = {
    .h1 = &sl_client_h1_codec,
    .h1_stream = &sl_client_h1_stream_ops,
    .accept = &sl_client_accept_codec,
    .h2 = &sl_h2_codec,
    .tunnel = &sl_tunnel_codec,
    .h2_start = sl_h2_start,
    .tunnel_start = sl_tunnel_start,
};

struct sl_worker *
sl_worker_new(unsigned id, struct sl_conf *conf, const int *fds)
{
	struct sl_worker *w;
	struct event_config *cfg;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto fail;
	w->id = id;
	w->notify_fd = -1;
	w->hand_chan = -1;
	sl_client_worker_init(w, &worker_client_codecs);
	TAILQ_INIT(&w->gens);
	TAILQ_INIT(&w->eps);
	/* what the layers below call, by handler, when their events come */
	w->on_deadline = sl_client_on_deadline;
	w->on_reap = sl_client_reap;
	w->on_queue_poll = sl_wgen_wake_all;
	sl_bufpool_init(&w->bufs, BUF_FREE_PER_CLASS);
	sl_pipes_init(&w->pipes);
	sl_rand_seed(&w->rand);
	atomic_store(&w->applied_gen, conf->generation);

	if ((cfg = event_config_new()) == NULL)
		goto fail;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (w->base == NULL)
		goto fail;
	w->alog = calloc(1, sizeof(*w->alog));
	/* the features' state (the WAF's threads sized as the worker
	 * starts: a reload keeps them) */
	if (w->alog == NULL || worker_size_hdrs(w, conf) == -1 ||
	    sl_wproxy_init(w, conf) == -1)
		goto fail;
	if ((w->gen = worker_gen(w, sl_conf_ref(conf))) == NULL) {
		sl_conf_unref(conf);
		goto fail;
	}
	if (lsocks_init(w, fds) == -1)
		goto fail;
	fds = NULL; /* taken over */

	w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->notify_fd == -1)
		goto fail;
	w->notify_ev = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST,
				 worker_on_notify, w);
	w->flush_ev = event_new(w->base, -1, EV_PERSIST, worker_on_flush, w);
	w->drain_ev = evtimer_new(w->base, worker_on_drain_timeout, w);
	if (!w->notify_ev || !w->flush_ev || !w->drain_ev ||
	    sl_wloop_init(w) == -1)
		goto fail;
	return w;
fail:
	if (fds != NULL)
		for (size_t i = 0; i < conf->nlisteners; i++)
			close(fds[i]);
	sl_worker_join_free(w);
	return NULL;
}

int
sl_worker_add_socket(struct sl_worker *w, size_t listener, int fd)
{
	struct sl_lsock **v, *x;

	if (listener >= w->nlsocks ||
	    (v = realloc(w->xlsocks, (w->nxlsocks + 1) * sizeof(*v))) == NULL)
		return -1;
	w->xlsocks = v;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	x->w = w;
	x->fd = fd;
	x->conf = w->lsocks[listener]->conf;
	w->xlsocks[w->nxlsocks++] = x;
	return 0;
}

static void *
worker_main(void *arg)
{
	struct sl_worker *w = arg;

	event_base_dispatch(w->base);
	/* run the deferred frees of connections closed on the way out */
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	sl_access_flush(w->alog);
	/* what this thread keeps for reuse goes with it: the teardown
	 * (sl_worker_join_free) runs on the main thread */
	sl_h2up_thread_free();
	sl_xprt_thread_free();
	sl_filters_thread_free();
	atomic_store(&w->done, 1);
	return NULL;
}

int
sl_worker_start(struct sl_worker *w)
{
	struct timeval tv = {0, ACCESS_FLUSH_MS * 1000};

	for (size_t i = 0; i < w->nlsocks; i++)
		if (sl_listener_start(w->lsocks[i], sl_client_new) == -1)
			return -1;
	for (size_t i = 0; i < w->nxlsocks; i++)
		if (sl_listener_start(w->xlsocks[i], sl_client_new) == -1)
			return -1;
	if (event_add(w->notify_ev, NULL) == -1 ||
	    event_add(w->flush_ev, &tv) == -1)
		return -1;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	return 0;
}

#ifdef HAVE_QUIC
int
sl_worker_add_h3(struct sl_worker *w, size_t listener, int fd, unsigned slot)
{
	return sl_h3_start(w, &w->gen->conf->listeners[listener], fd, slot);
}
#endif

void
sl_worker_stop(struct sl_worker *w, enum sl_drain how, int chan)
{
	uint64_t one = 1;

	/* read by the worker after it sees cmd_stop */
	w->hand_chan = how == SL_DRAIN_HANDOVER ? chan : -1;
	atomic_store(&w->cmd_stop, (int)how);
	(void)!write(w->notify_fd, &one, sizeof(one));
}

void
sl_worker_adopt(struct sl_worker *w, int fd)
{
	struct sl_adopt *a = malloc(sizeof(*a));
	uint64_t one = 1;

	if (a == NULL) {
		close(fd);
		return;
	}
	a->fd = fd;
	a->next = atomic_load(&w->adopt);
	/* the worker only ever takes the whole list: no ABA */
	while (!atomic_compare_exchange_weak(&w->adopt, &a->next, a))
		;
	(void)!write(w->notify_fd, &one, sizeof(one));
}

void
sl_worker_reload(struct sl_worker *w, struct sl_reload_msg *msg)
{
	uint64_t one = 1;

	atomic_store(&w->mailbox, msg);
	(void)!write(w->notify_fd, &one, sizeof(one));
}

void
sl_worker_join_free(struct sl_worker *w)
{
	struct sl_reload_msg *msg;

	if (w == NULL)
		return;
	if (w->thread)
		pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->nlsocks && w->lsocks != NULL; i++) {
		if (w->lsocks[i] == NULL)
			continue;
		sl_listener_close(w->lsocks[i]);
		free(w->lsocks[i]);
	}
	free(w->lsocks);
	for (size_t i = 0; i < w->nxlsocks; i++) {
		sl_listener_close(w->xlsocks[i]);
		free(w->xlsocks[i]);
	}
	free(w->xlsocks);
	if ((msg = atomic_exchange(&w->mailbox, NULL)) != NULL) {
		/* a reload that arrived as the worker stopped */
		for (size_t j = 0; j < msg->conf->nlisteners; j++)
			close(msg->fds[j]);
		sl_conf_unref(msg->conf);
		free(msg->fds);
		free(msg);
	}
#ifdef HAVE_QUIC
	/* its exchanges cut while the features they log to still are */
	sl_h3_worker_free(w);
#endif
	sl_wproxy_stop(w); /* the features' work in flight */
	sl_upstream_close_idle(w);
	sl_rlstore_worker_free(w); /* rate limits' store connection */
	if (w->base != NULL)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	sl_wgen_unref(w, w->gen);
	if (w->notify_ev)
		event_free(w->notify_ev);
	if (w->flush_ev)
		event_free(w->flush_ev);
	if (w->drain_ev)
		event_free(w->drain_ev);
	sl_wproxy_free(w);
	if (w->hand_ev)
		event_free(w->hand_ev);
	{
		/* handed over as the worker stopped: not served */
		struct sl_adopt *a = atomic_exchange(&w->adopt, NULL);
		while (a != NULL) {
			struct sl_adopt *next = a->next;
			close(a->fd);
			free(a);
			a = next;
		}
	}
	sl_wloop_free(w);
	sl_client_free_list(w);
	sl_h2_worker_free(w);
	sl_h2up_worker_free(w); /* after the exchanges: none has a stream */
	/* what the teardown freed on this (the main) thread and kept */
	sl_h2up_thread_free();
	sl_xprt_thread_free(); /* a test's memory pairs (after the streams') */
	sl_filters_thread_free();
	if (w->notify_fd != -1)
		close(w->notify_fd);
	sl_exchange_txns_free(w);
	free(w->hdrs);
	free(w->alog);
	sl_bufpool_drain(&w->bufs);
	sl_pipes_drain(&w->pipes);
	if (w->base != NULL)
		event_base_free(w->base);
	free(w);
}
