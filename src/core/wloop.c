/* SPDX-License-Identifier: MIT */
/*
 * The services of a worker's event loop that every connection uses:
 * deadline lists (one timer for all), deferred frees, the wake-up of
 * requests waiting for an upstream connection, connection and request
 * ids. What to do when one fires is a handler worker.c stored in the
 * worker; nothing here names a connection type. See wloop.h.
 */
#include "wloop.h"

#include <event2/event.h>
#include <stdlib.h>

#define QUEUE_POLL_MS 10

static void
timeq_arm(struct sl_worker *w)
{
	uint64_t first = 0, now;
	struct timeval tv;

	for (int i = 0; i < SL_TLISTS; i++) {
		struct sl_tnode *n = TAILQ_FIRST(&w->tlists[i].q);
		if (n != NULL && (first == 0 || n->deadline_ms < first))
			first = n->deadline_ms;
	}
	if (first == w->tq_armed_ms)
		return;
	w->tq_armed_ms = first;
	if (first == 0) {
		event_del(w->tq_ev);
		return;
	}
	now = sl_now_cached();
	first = first > now ? first - now : 0;
	tv.tv_sec = (time_t)(first / 1000);
	tv.tv_usec = (suseconds_t)(first % 1000) * 1000;
	event_add(w->tq_ev, &tv);
}

void
sl_timeq_del(struct sl_worker *w, struct sl_tnode *n)
{
	if (n->tl == NULL)
		return;
	TAILQ_REMOVE(&n->tl->q, n, link);
	n->tl = NULL;
	/* the worker timer is left as it is: firing early finds nothing
	 * due and re-arms for the new head */
}

void
sl_timeq_set(struct sl_worker *w, struct sl_tnode *n, uint64_t dur_ms,
	     uint64_t now)
{
	struct sl_tlist *tl = NULL;
	struct sl_tnode *after;

	sl_timeq_del(w, n);
	for (int i = 0; i < SL_TLISTS && tl == NULL; i++)
		if (w->tlists[i].dur_ms == dur_ms)
			tl = &w->tlists[i];
	for (int i = 0; i < SL_TLISTS - 1 && tl == NULL; i++)
		if (TAILQ_EMPTY(&w->tlists[i].q)) {
			tl = &w->tlists[i];
			tl->dur_ms = dur_ms;
		}
	n->deadline_ms = now + dur_ms;
	if (tl != NULL) {
		n->tl = tl;
		TAILQ_INSERT_TAIL(&tl->q, n, link);
	} else {
		/* more durations than lists (many listeners with different
		 * timeouts): kept sorted in the last one */
		tl = n->tl = &w->tlists[SL_TLISTS - 1];
		tl->dur_ms = UINT64_MAX;
		after = TAILQ_LAST(&tl->q, sl_tnode_q);
		while (after != NULL && after->deadline_ms > n->deadline_ms)
			after = TAILQ_PREV(after, sl_tnode_q, link);
		if (after == NULL)
			TAILQ_INSERT_HEAD(&tl->q, n, link);
		else
			TAILQ_INSERT_AFTER(&tl->q, after, n, link);
	}
	if (w->tq_armed_ms == 0 || n->deadline_ms < w->tq_armed_ms)
		timeq_arm(w);
}

static void
worker_on_timeq(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	uint64_t now = sl_now_refresh();

	w->tq_armed_ms = 0;
	for (int i = 0; i < SL_TLISTS; i++) {
		struct sl_tnode *n;
		while ((n = TAILQ_FIRST(&w->tlists[i].q)) != NULL &&
		       n->deadline_ms <= now) {
			sl_timeq_del(w, n);
			w->on_deadline(n);
		}
	}
	timeq_arm(w);
}

void
sl_worker_reap(struct sl_worker *w, struct sl_tnode *n)
{
	sl_timeq_del(w, n);
	TAILQ_INSERT_TAIL(&w->reap, n, link);
	event_active(w->reap_ev, EV_TIMEOUT, 1);
}

static void
worker_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;
	struct sl_tnode *n;

	while ((n = TAILQ_FIRST(&w->reap)) != NULL) {
		TAILQ_REMOVE(&w->reap, n, link);
		w->on_reap(n);
	}
	sl_worker_maybe_done(w);
}

void
sl_worker_maybe_done(struct sl_worker *w)
{
	if (w->draining && w->nclients == 0 &&
	    (w->bg_busy == NULL || !w->bg_busy(w)))
		event_base_loopexit(w->base, NULL);
}

static void
wloop_on_queue_poll(evutil_socket_t fd, short what, void *arg)
{
	struct sl_worker *w = arg;

	/* capacity freed by another worker is seen here; this worker's own
	 * releases wake waiters from the next loop turn */
	w->on_queue_poll(w);
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

void
sl_worker_capacity(struct sl_worker *w)
{
	/* from the next loop turn, never from inside the caller's stack */
	if (w->nwaiting > 0)
		event_active(w->queue_ev, EV_TIMEOUT, 1);
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

int
sl_wloop_init(struct sl_worker *w)
{
	for (int i = 0; i < SL_TLISTS; i++)
		TAILQ_INIT(&w->tlists[i].q);
	TAILQ_INIT(&w->reap);
	w->queue_ev =
	    event_new(w->base, -1, EV_PERSIST, wloop_on_queue_poll, w);
	w->tq_ev = evtimer_new(w->base, worker_on_timeq, w);
	w->reap_ev = event_new(w->base, -1, 0, worker_on_reap, w);
	return w->queue_ev && w->tq_ev && w->reap_ev ? 0 : -1;
}

void
sl_wloop_free(struct sl_worker *w)
{
	if (w->queue_ev)
		event_free(w->queue_ev);
	if (w->tq_ev)
		event_free(w->tq_ev);
	if (w->reap_ev)
		event_free(w->reap_ev);
	w->queue_ev = w->tq_ev = w->reap_ev = NULL;
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
	uint64_t a = sl_rand_next(&w->rand), b = sl_rand_next(&w->rand);

	sl_request_id_format(a, b, out);
}
