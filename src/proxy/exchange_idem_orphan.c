/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store's orphans (exchange_idem.c): the answer of a
 * request whose client went while it was at the upstream, read on the
 * upstream connection taken from the exchange and kept for the key as if
 * the client had stayed.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf.h"
#include "conf_idem.h"
#include "exchange.h"
#include "exchange_idem_int.h"
#include "exchange_int.h"
#include "h1_reader.h"
#include "idem.h"
#include "log.h"
#include "runtime.h"
#include "upread.h"
#include "upstream.h"
#include "util.h"
#include "wloop.h"
#include "wproxy.h"

/* ---- the orphan: an answer read after its client went ------------------
 *
 * A client that goes while its request is at the upstream leaves an
 * answer its retry will ask for: the upstream connection is taken from
 * the exchange and read to the answer's end (or the reservation's lease),
 * and the answer kept as if the client had stayed. HTTP/1 upstreams (an
 * HTTP/2 upstream's stream ends with its exchange: the key goes).
 */
#define ORPHAN_READ_BUF (16 * 1024)

struct sl_idem_orphan {
	TAILQ_ENTRY(sl_idem_orphan) link; /* in sl_idem_ws(w)->orphans */
	struct sl_worker *w;
	struct sl_upconn *u;
	struct sl_txidem *ip;
	struct sl_conf *conf; /* a reference: keeps the route */
	const struct sl_conf_route *route;
	struct sl_h1_reader rd; /* the answer, kept as it comes */
	struct event tev;	/* the lease's end; the first read */
};

static void orphan_on_upstream(struct sl_upconn *, enum sl_up_event, int,
			       void *);

static void
orphan_free(struct sl_idem_orphan *o, const char *cut)
{
	struct sl_counts *rc = &o->route->state->counts[o->w->id];

	if (o->ip->phase == IP_HELD || o->ip->phase == IP_KEEPING)
		sl_exchange_idem_release(o->ip, rc, cut);
	if (o->u != NULL)
		sl_upstream_put(o->u, 0);
	event_del(&o->tev);
	TAILQ_REMOVE(&sl_idem_ws(o->w)->orphans, o, link);
	free(o->ip->a);
	free(o->ip);
	sl_conf_unref(o->conf);
	free(o);
}

/* Reads the answer on and keeps it: its head when it is not read yet, its
 * body as it comes, framed as the key keeps it. */
static void
orphan_read(struct sl_idem_orphan *o)
{
	struct sl_counts *rc = &o->route->state->counts[o->w->id];
	struct sl_h1_rd_event ev;
	enum sl_h1_rd_ev e;
	char cut[32];

	for (;;) {
		e = sl_upstream_read_response(o->u, &o->rd, ORPHAN_READ_BUF,
					      &ev);
		if (e == SL_H1_RD_MORE) {
			sl_upstream_want_read(o->u, 1);
			return;
		}
		if (e == SL_H1_RD_HEAD)
			sl_exchange_idem_keep_head(o->ip, ev.resp);
		else if (e == SL_H1_RD_DATA || e == SL_H1_RD_END)
			(void)sl_exchange_idem_keep(o->ip, rc, ev.data, ev.len,
						    e == SL_H1_RD_END);
		if (e < SL_H1_RD_END)
			continue;
		/* ended: a whole answer is kept by now, and whatever the
		 * key has left goes with the cut */
		snprintf(cut, sizeof(cut), "upstream_%s",
			 e == SL_H1_RD_END ? "truncated" : sl_h1_rd_failure(e));
		orphan_free(o, cut);
		return;
	}
}

static void
orphan_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	struct sl_idem_orphan *o = arg;

	(void)u;
	(void)err;
	sl_now_refresh();
	if (ev == SL_UP_EV_READABLE)
		orphan_read(o);
	else if (ev == SL_UP_EV_WRITABLE)
		sl_upstream_want_write(o->u, 0);
	else
		orphan_free(o, "upstream_failed");
}

static void
orphan_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_idem_orphan *o = arg;

	uint64_t now = sl_now_refresh();
	struct timeval tv;

	(void)fd;
	(void)what;
	if (now >= o->ip->lease_end_ms) {
		orphan_free(o, "lease");
		return;
	}
	/* the first look, from the loop; the lease's end stays armed */
	if (!evtimer_pending(&o->tev, NULL)) {
		now = o->ip->lease_end_ms - now;
		tv.tv_sec = (time_t)(now / 1000);
		tv.tv_usec = (suseconds_t)(now % 1000) * 1000;
		evtimer_add(&o->tev, &tv);
	}
	orphan_read(o);
}

/* Whether t's answer is to be read without its client: its request went
 * out whole to an HTTP/1 upstream that has not answered it whole. */
int
sl_exchange_idem_orphan_due(const struct sl_txn *t)
{
	const struct sl_txidem *ip = sl_idem_slot(t)->ip;

	return (ip->phase == IP_KEEPING ||
		(ip->phase == IP_HELD && ip->rel == 0)) &&
	       t->up != NULL && t->resp_ph != SL_TXN_RESP_LOCAL &&
	       t->send_ph == SL_TXN_SEND_DONE &&
	       (t->up_ph == SL_TXN_UP_WAITING ||
		t->up_ph == SL_TXN_UP_RECEIVING);
}

/* Takes t's upstream connection and its key: the answer is read to its
 * end without the client. Returns 0, or -1 (no memory: the key goes). */
int
sl_exchange_idem_orphan_start(struct sl_seam *s, struct sl_txn *t)
{
	struct sl_idem_orphan *o = calloc(1, sizeof(*o));
	struct sl_upconn *u = t->up;

	if (o == NULL)
		return -1;
	o->w = s->w;
	o->ip = sl_idem_slot(t)->ip;
	o->conf = sl_conf_ref(s->gen->conf);
	o->route = t->route;
	o->ip->t = NULL;
	/* a chunked body's payload, as the exchange hands it on */
	sl_h1_reader_init(&o->rd,
			  &(struct sl_h1_limits){o->ip->hdr_max, o->ip->hdr_max,
						 s->w->max_hdrs},
			  s->w->hdrs, s->w->max_hdrs, t->method_id,
			  SL_H1_RD_F_PAYLOAD);
	o->rd.max_trailers = o->ip->nhdr_max;
	if (t->up_ph == SL_TXN_UP_RECEIVING) {
		/* the head is read; what the exchange made ready of the body
		 * is kept already, the rest follows its framing */
		sl_h1_reader_resume(&o->rd, t->rsp.body, t->rsp.remaining,
				    sl_upstream_dechunk_state(u));
		sl_upstream_consume(u, u->ready - u->in.off);
	}
	/* the connection is the orphan's: out of the exchange's count */
	sl_upstream_active_add(t->wc->eps[t->ep_index], -1);
	t->up = NULL;
	t->up_ph = SL_TXN_UP_NONE;
	sl_idem_slot(t)->ip = NULL;
	o->u = u;
	u->handler = orphan_on_upstream;
	u->arg = o;
	sl_upstream_want_write(u, 0);
	sl_upstream_want_read(u, 1);
	TAILQ_INSERT_TAIL(&sl_idem_ws(o->w)->orphans, o, link);
	evtimer_assign(&o->tev, o->w->base, orphan_on_timer, o);
	/* read from the loop first (bytes may wait in the buffer); the
	 * lease's end is armed then */
	event_active(&o->tev, EV_TIMEOUT, 1);
	if (sl_log_enabled(SL_LOG_INFO))
		log_info("conn=%llu request_id=%s route=%s: idempotency: the "
			 "client went before the answer: it is read for the "
			 "key",
			 (unsigned long long)s->id, t->request_id,
			 t->route->name);
	return 0;
}

void
sl_exchange_idem_orphans_free(struct sl_worker *w)
{
	struct sl_idem_orphan *o;

	while ((o = TAILQ_FIRST(&sl_idem_ws(w)->orphans)) != NULL)
		orphan_free(o, "stopping");
}
