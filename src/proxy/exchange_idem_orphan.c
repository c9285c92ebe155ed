/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store's orphans (exchange_idem.c): the answer of a
 * request whose client went while it was at the upstream, read on the
 * upstream connection taken from the exchange and kept for the key as if
 * the client had stayed.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf.h"
#include "exchange.h"
#include "exchange_idem_int.h"
#include "exchange_int.h"
#include "idem.h"
#include "log.h"
#include "runtime.h"
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
	TAILQ_ENTRY(sl_idem_orphan) link; /* in sl_wproxy(w)->idem_orphans */
	struct sl_worker *w;
	struct sl_upconn *u;
	struct sl_txidem *ip;
	struct sl_conf *conf; /* a reference: keeps the route */
	const struct sl_conf_route *route;
	struct sl_h1_scan scan;
	struct sl_h1_chunked chunked;
	enum sl_h1_body rbody;
	uint64_t remaining;
	int head_done;
	int dechunk; /* a chunked body not kept framed: its payload is */
	enum sl_h1_method method;
	struct event tev; /* the lease's end; the first read */
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
	TAILQ_REMOVE(&sl_wproxy(o->w)->idem_orphans, o, link);
	free(o->ip->a);
	free(o->ip);
	sl_conf_unref(o->conf);
	free(o);
}

/* The head, when it is not read yet. Returns 1 when it is, 0 to wait, -1
 * when it is bad. */
static int
orphan_head(struct sl_idem_orphan *o)
{
	struct sl_upconn *u = o->u;
	struct sl_h1_limits hl = {o->ip->hdr_max, o->ip->hdr_max,
				  o->w->max_hdrs};
	struct sl_h1_response resp;
	long hlen;

	for (;;) {
		memset(&resp, 0, sizeof(resp));
		resp.headers = o->w->hdrs;
		resp.max_headers = o->w->max_hdrs;
		if (sl_buf_pending(&u->in) > 0 &&
		    u->in.data[u->in.off] == SL_HBLK_MARK) {
			/* an HTTP/2 upstream's head, as fields */
			hlen = sl_h1_block_response(u->in.data + u->in.off,
						    sl_buf_pending(&u->in),
						    o->ip->hdr_max, &resp);
			if (hlen <= 0)
				return hlen == 0 ? 0 : -1;
		} else {
			hlen = sl_h1_scan_head(&o->scan, u->in.data + u->in.off,
					       sl_buf_pending(&u->in), &hl, 0);
			if (hlen <= 0)
				return hlen == 0 ? 0 : -1;
			if (sl_h1_parse_response(u->in.data + u->in.off,
						 (size_t)hlen, &resp,
						 o->method) < 0)
				return -1;
		}
		if (resp.status >= 200) {
			sl_exchange_idem_keep_head(
			    o->ip, &resp, resp.body == SL_H1_BODY_CHUNKED);
			sl_upstream_consume(u, (size_t)hlen);
			break;
		}
		sl_upstream_consume(u, (size_t)hlen);
		sl_h1_scan_init(&o->scan); /* an interim response */
	}
	o->head_done = 1;
	o->rbody = resp.body;
	o->remaining = resp.content_length;
	if (resp.body == SL_H1_BODY_CHUNKED) {
		sl_h1_chunked_init(&o->chunked, o->ip->hdr_max);
		o->chunked.max_trailers = o->ip->nhdr_max;
	}
	return 1;
}

/* The body bytes there are, kept. Returns 1 when the answer is whole, 0
 * to wait, -1 when its framing is bad. */
static int
orphan_body(struct sl_idem_orphan *o, struct sl_counts *rc, int eof)
{
	struct sl_upconn *u = o->u;
	size_t avail = sl_buf_pending(&u->in), consumed, data, k = 0;
	const char *p = u->in.data + u->in.off;
	int r = 0;

	switch (o->rbody) {
	case SL_H1_BODY_NONE:
		r = 1;
		break;
	case SL_H1_BODY_LENGTH:
		k = avail < o->remaining ? avail : (size_t)o->remaining;
		o->remaining -= k;
		r = o->remaining == 0;
		(void)sl_exchange_idem_keep(o->ip, rc, p, k, r);
		sl_upstream_consume(u, k);
		return r;
	case SL_H1_BODY_CHUNKED:
		r = sl_h1_chunked_decode(&o->chunked, u->in.data + u->in.off,
					 avail, o->dechunk, &consumed, &data);
		if (r < 0)
			return -1;
		(void)sl_exchange_idem_keep(
		    o->ip, rc, p, o->dechunk ? data : consumed, r == 1);
		sl_upstream_consume(u, consumed);
		return r;
	case SL_H1_BODY_CLOSE:
	case SL_H1_BODY_STREAM: /* never: its requests are text */
		(void)sl_exchange_idem_keep(o->ip, rc, p, avail, eof);
		sl_upstream_consume(u, avail);
		return eof;
	}
	(void)sl_exchange_idem_keep(o->ip, rc, p, 0, 1);
	return r;
}

static void
orphan_read(struct sl_idem_orphan *o)
{
	struct sl_counts *rc = &o->route->state->counts[o->w->id];
	ssize_t n = 1;
	int r;

	for (;;) {
		if (o->head_done || sl_buf_pending(&o->u->in) == 0) {
			n = sl_upstream_read(o->u, ORPHAN_READ_BUF, SIZE_MAX);
			if (n == SL_AGAIN) {
				sl_upstream_want_read(o->u, 1);
				return;
			}
			if (n == -1) {
				orphan_free(o, "upstream_read");
				return;
			}
		}
		o->u->ready = o->u->in.len; /* nobody passes these on */
		if (!o->head_done && (r = orphan_head(o)) != 1) {
			if (r == -1 || n == 0)
				orphan_free(o, r == -1 ? "upstream_bad_response"
						       : "upstream_closed");
			else if (sl_buf_pending(&o->u->in) > 0)
				continue; /* read more of the head */
			return;
		}
		if ((r = orphan_body(o, rc, n == 0)) != 0 || n == 0) {
			orphan_free(o, r == -1 ? "upstream_bad_chunk"
					       : "upstream_truncated");
			return;
		}
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
	o->method = t->method_id;
	o->ip->t = NULL;
	if (t->up_ph == SL_TXN_UP_RECEIVING) {
		/* the head is read; what the exchange made ready of the body
		 * is kept already, the rest follows its framing */
		o->head_done = 1;
		o->rbody = t->rsp.body;
		o->remaining = t->rsp.remaining;
		o->chunked = t->rsp.chunked;
		o->dechunk =
		    t->rsp.body == SL_H1_BODY_CHUNKED && !o->ip->chunked;
		sl_upstream_consume(u, u->ready - u->in.off);
	} else
		sl_h1_scan_init(&o->scan);
	/* the connection is the orphan's: out of the exchange's count */
	t->wc->eps[t->ep_index]->active--;
	t->up = NULL;
	t->up_ph = SL_TXN_UP_NONE;
	sl_idem_slot(t)->ip = NULL;
	o->u = u;
	u->handler = orphan_on_upstream;
	u->arg = o;
	sl_upstream_want_write(u, 0);
	sl_upstream_want_read(u, 1);
	TAILQ_INSERT_TAIL(&sl_wproxy(o->w)->idem_orphans, o, link);
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

	while ((o = TAILQ_FIRST(&sl_wproxy(w)->idem_orphans)) != NULL)
		orphan_free(o, "stopping");
}
