/* SPDX-License-Identifier: MIT */
/*
 * A route's mirror as a filter (doc/weighted-routes.md, "Mirroring"): a
 * copy of the head written for the upstream, then of the body as it is
 * read, sent (mirror.c) once the request is complete. A body larger than
 * buffer_bytes is not copied.
 */
#include <stdlib.h>

#include "attempt.h"
#include "conf_mirror.h"
#include "exchange_int.h"
#include "filter.h"
#include "mirror.h"
#include "proxyproto.h"
#include "runtime.h"

static void mirror_req_data(struct sl_seam *s, const char *p, size_t n);

extern struct sl_filter sl_filter_mirror;

/* The filter's slot (filter.h): the copy being filled, owned while set
 * (NULL: zeroed by the exchange when a request is routed). */
static inline struct sl_mirror **
mslot(struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_mirror);
}

static int
mirror_used(const struct sl_conf_route *r)
{
	return sl_mirror_route(r) != NULL;
}

/* The request as it goes upstream: its head copied now, when the route's
 * share says a copy is due (never a switch's, whose bytes are a
 * tunnel's). */
static void
mirror_up_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct sl_txn *t = s->txn;
	const struct sl_h1_request *req = h->req;
	uint64_t max = s->lconf->limits.buffer_bytes;

	if (t->upgrade != 0 || !sl_mirror_due(s->gen, t->route))
		return;
	if (req->body == SL_H1_BODY_LENGTH && req->content_length > max) {
		SL_STAT_INC(sl_mirror_counts(&t->route->state->counts[s->w->id])
				->res[SL_MIRROR_TOO_LARGE]);
		return;
	}
	*mslot(t) =
	    sl_mirror_new(s->w, s->gen, t->route, t->uphead.data, t->uphead.len,
			  max, req->body == SL_H1_BODY_STREAM);
	if (*mslot(t) == NULL)
		return;
	t->flags |= SL_TXN_F_FEND;
	if (sl_mirror_route(t->route)->cluster->proxy_protocol) {
		/* identity: the copy carries the client too (edge.md) */
		unsigned char pp[SL_PP_V2_OUT_MAX];
		sl_mirror_set_proxy_header(*mslot(t), pp,
					   sl_attempt_pp_header(s, pp));
	}
	/* the body read while a filter held the head (a check, a lease)
	 * is the copy's too: never a head without the body it announces */
	t->flags |= SL_TXN_F_REQ_TAP;
	mirror_req_data(s, s->in.data + s->in.off, s->in_ready - s->in.off);
}

/* Body bytes (payload: a body of pieces' framing is the copy's writer's,
 * its trailers given at its end) for the copy; it goes once the request
 * is complete. */
static void
mirror_req_data(struct sl_seam *s, const char *p, size_t n)
{
	struct sl_txn *t = s->txn;

	if (*mslot(t) == NULL)
		return;
	if ((n > 0 && sl_mirror_body(*mslot(t), p, n) == -1) ||
	    (t->req_ph == SL_TXN_REQ_DONE && t->req.body == SL_H1_BODY_STREAM &&
	     sl_mirror_trailers(*mslot(t), sl_exchange_req_trailers(s)) == -1))
		*mslot(t) = NULL; /* too large, or no memory: dropped and
				     counted */
	else if (t->req_ph == SL_TXN_REQ_DONE) {
		sl_mirror_send(*mslot(t));
		*mslot(t) = NULL;
	}
	if (*mslot(t) == NULL)
		t->flags &= ~SL_TXN_F_REQ_TAP; /* a body may be spliced */
}

/* The request never completed: no copy goes out. */
static void
mirror_end(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;

	if (*mslot(t) != NULL) {
		sl_mirror_abort(*mslot(t));
		*mslot(t) = NULL;
	}
}

static void
mirror_placed(const struct sl_filter *f)
{
	sl_mirror_ws_off = sl_filter_wstate_off[f->id];
}

static int
mirror_worker_init(struct sl_worker *w, void *ws, const struct sl_conf *conf)
{
	struct sl_mirror_ws *x = ws;

	(void)w;
	(void)conf;
	TAILQ_INIT(&x->all);
	return 0;
}

/* The worker stopped: its copies in flight go (first of the filters'). */
static void
mirror_worker_stop(struct sl_worker *w, void *ws)
{
	(void)ws;
	sl_mirror_close_all(w);
}

struct sl_filter sl_filter_mirror = {
    .name = "mirror",
    .text_head = 1,
    .placed = mirror_placed,
    .wsize = sizeof(struct sl_mirror_ws),
    .worker_init = mirror_worker_init,
    .worker_stop = mirror_worker_stop,
    .ctx_size = sizeof(struct sl_mirror *),
    .used = mirror_used,
    .up_head = mirror_up_head,
    .req_data = mirror_req_data,
    .end = mirror_end,
};
