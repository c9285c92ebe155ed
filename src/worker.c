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
#include <unistd.h>

#include "client.h"
#include "listener.h"
#include "upstream.h"

#define ACCESS_FLUSH_MS 200
#define BUF_FREE_PER_CLASS 64
#define QUEUE_POLL_MS 10

static void worker_on_queue_poll(evutil_socket_t, short, void *);

static void
worker_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;

	if (w->alog->len > 0)
		sl_access_flush(w->alog);
}

void
sl_worker_maybe_done(struct sl_worker *w)
{
	if (w->draining && w->nclients == 0)
		event_base_loopexit(w->base, NULL);
}

static void
worker_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	struct sl_client *c;

	if (w->nclients > 0)
		log_warnx("worker %u: drain_timeout: closing %zu connections",
			  w->id, w->nclients);
	while ((c = TAILQ_FIRST(&w->clients)) != NULL)
		sl_client_abort(c);
	event_base_loopexit(w->base, NULL);
}

static void
worker_drain(struct sl_worker *w)
{
	struct sl_client *c, *next;
	struct timeval tv;
	uint64_t ms = w->conf->drain_timeout_ms;

	if (w->draining)
		return;
	w->draining = 1;
	for (size_t i = 0; i < w->nlsocks; i++)
		sl_listener_close(&w->lsocks[i]);
	sl_upstream_close_idle(w);
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = sl_client_next(c);
		sl_client_drain(c);
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(w->drain_ev, &tv);
	sl_worker_maybe_done(w);
}

static void
worker_on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	uint64_t v;

	(void)!read(w->notify_fd, &v, sizeof(v));
	if (atomic_load(&w->cmd_stop))
		worker_drain(w);
}

void
sl_worker_wake(struct sl_worker *w, struct sl_wcluster *wc)
{
	struct sl_txn *t;

	while ((t = TAILQ_FIRST(&wc->waiters)) != NULL)
		if (!sl_txn_retry(t))
			break;
}

static void
worker_on_queue_poll(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;

	/* capacity freed by another worker is seen here; this worker's own
	 * releases wake waiters at once */
	for (size_t i = 0; i < w->nclusters; i++)
		sl_worker_wake(w, &w->clusters[i]);
}

void
sl_worker_waiting(struct sl_worker *w, int delta)
{
	struct timeval tv = {0, QUEUE_POLL_MS * 1000};

	if (delta > 0 && w->nwaiting++ == 0)
		event_add(w->queue_ev, &tv);
	else if (delta < 0 && --w->nwaiting == 0)
		event_del(w->queue_ev);
}

const char *
sl_timeout_reason_str(enum sl_timeout_reason r)
{
	static const char *names[SL_TO_NREASONS] = {
	    "header_timeout", "body_timeout",  "send_timeout",
	    "idle_timeout",   "min_body_rate", "min_send_rate",
	};
	return r < SL_TO_NREASONS ? names[r] : "?";
}

static int
clusters_init(struct sl_worker *w)
{
	struct sl_conf *conf = w->conf;

	w->nclusters = conf->nclusters;
	w->clusters = calloc(conf->nclusters, sizeof(*w->clusters));
	if (w->clusters == NULL)
		return -1;
	for (size_t i = 0; i < conf->nclusters; i++) {
		struct sl_wcluster *wc = &w->clusters[i];
		const struct sl_conf_cluster *cc = &conf->clusters[i];
		size_t n = cc->nendpoints;

		wc->conf = cc;
		TAILQ_INIT(&wc->waiters);
		wc->eps = calloc(n, sizeof(*wc->eps));
		wc->swrr = calloc(n, sizeof(*wc->swrr));
		wc->weights = calloc(n, sizeof(*wc->weights));
		wc->active = calloc(n, sizeof(*wc->active));
		wc->skip = calloc(n, sizeof(*wc->skip));
		if (!wc->eps || !wc->swrr || !wc->weights || !wc->active ||
		    !wc->skip)
			return -1;
		for (size_t j = 0; j < n; j++) {
			wc->eps[j].conf = &cc->endpoints[j];
			wc->eps[j].cluster = cc;
			TAILQ_INIT(&wc->eps[j].idle);
			wc->weights[j] = cc->endpoints[j].weight;
		}
		/* workers start at different endpoints so that N workers
		 * do not send their first requests to the same one */
		wc->cursor = w->id % n;
	}
	return 0;
}

static void
clusters_free(struct sl_worker *w)
{
	for (size_t i = 0; i < w->nclusters && w->clusters; i++) {
		free(w->clusters[i].eps);
		free(w->clusters[i].swrr);
		free(w->clusters[i].weights);
		free(w->clusters[i].active);
		free(w->clusters[i].skip);
	}
	free(w->clusters);
}

struct sl_worker *
sl_worker_new(unsigned id, struct sl_conf *conf, const int *fds)
{
	struct sl_worker *w;
	struct event_config *cfg;
	size_t maxh = 256;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->id = id;
	w->conf = sl_conf_ref(conf);
	w->notify_fd = -1;
	TAILQ_INIT(&w->clients);
	sl_bufpool_init(&w->bufs, BUF_FREE_PER_CLASS);
	sl_rand_seed(&w->rand);

	if ((cfg = event_config_new()) == NULL)
		goto fail;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (w->base == NULL)
		goto fail;

	for (size_t i = 0; i < conf->nlisteners; i++)
		maxh = SL_MAX(maxh, conf->listeners[i].limits.max_headers);
	w->max_hdrs = maxh;
	w->hdrs = calloc(maxh, sizeof(*w->hdrs));
	w->alog = calloc(1, sizeof(*w->alog));
	if (w->hdrs == NULL || w->alog == NULL)
		goto fail;
	if (clusters_init(w) == -1)
		goto fail;

	w->nlsocks = conf->nlisteners;
	w->lsocks = calloc(w->nlsocks, sizeof(*w->lsocks));
	if (w->lsocks == NULL)
		goto fail;
	for (size_t i = 0; i < w->nlsocks; i++) {
		w->lsocks[i].w = w;
		w->lsocks[i].conf = &conf->listeners[i];
		w->lsocks[i].fd = fds[i];
	}

	w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->notify_fd == -1)
		goto fail;
	w->notify_ev = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST,
				 worker_on_notify, w);
	w->flush_ev = event_new(w->base, -1, EV_PERSIST, worker_on_flush, w);
	w->drain_ev = evtimer_new(w->base, worker_on_drain_timeout, w);
	w->queue_ev = event_new(w->base, -1, EV_PERSIST, worker_on_queue_poll,
				w);
	if (!w->notify_ev || !w->flush_ev || !w->drain_ev || !w->queue_ev)
		goto fail;
	return w;
fail:
	/* the caller closes nothing: fds were taken over */
	if (w->lsocks == NULL)
		for (size_t i = 0; i < conf->nlisteners; i++)
			close(fds[i]);
	sl_worker_join_free(w);
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct sl_worker *w = arg;

	event_base_dispatch(w->base);
	/* run the deferred frees of connections closed on the way out */
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	sl_access_flush(w->alog);
	atomic_store(&w->done, 1);
	return NULL;
}

int
sl_worker_start(struct sl_worker *w)
{
	struct timeval tv = {0, ACCESS_FLUSH_MS * 1000};

	for (size_t i = 0; i < w->nlsocks; i++)
		if (sl_listener_start(&w->lsocks[i]) == -1)
			return -1;
	if (event_add(w->notify_ev, NULL) == -1 ||
	    event_add(w->flush_ev, &tv) == -1)
		return -1;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -1;
	return 0;
}

void
sl_worker_stop(struct sl_worker *w)
{
	uint64_t one = 1;

	atomic_store(&w->cmd_stop, 1);
	(void)!write(w->notify_fd, &one, sizeof(one));
}

void
sl_worker_join_free(struct sl_worker *w)
{
	if (w == NULL)
		return;
	if (w->thread)
		pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->nlsocks; i++)
		sl_listener_close(&w->lsocks[i]);
	if (w->clusters != NULL)
		sl_upstream_close_idle(w);
	if (w->base != NULL)
		event_base_loop(w->base, EVLOOP_NONBLOCK);
	if (w->notify_ev)
		event_free(w->notify_ev);
	if (w->flush_ev)
		event_free(w->flush_ev);
	if (w->drain_ev)
		event_free(w->drain_ev);
	if (w->queue_ev)
		event_free(w->queue_ev);
	if (w->notify_fd != -1)
		close(w->notify_fd);
	while (w->free_txns != NULL) {
		struct sl_txn *t = w->free_txns;
		w->free_txns = *(struct sl_txn **)t;
		free(t);
	}
	clusters_free(w);
	free(w->lsocks);
	free(w->hdrs);
	free(w->alog);
	sl_bufpool_drain(&w->bufs);
	if (w->base != NULL)
		event_base_free(w->base);
	sl_conf_unref(w->conf);
	free(w);
}

static atomic_uint_fast64_t conn_ids;

uint64_t
sl_conn_id(void)
{
	/* one atomic add per connection, none per request */
	return atomic_fetch_add_explicit(&conn_ids, 1, memory_order_relaxed) +
	       1;
}

void
sl_worker_request_id(struct sl_worker *w, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t a = sl_rand_next(&w->rand), b = sl_rand_next(&w->rand);

	for (int i = 0; i < 16; i++) {
		out[i] = hex[(a >> (i * 4)) & 15];
		out[16 + i] = hex[(b >> (i * 4)) & 15];
	}
	out[32] = '\0';
}
