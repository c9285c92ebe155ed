/* SPDX-License-Identifier: MIT */
/*
 * The filters and their order (doc/design-notes.md, "Filters"): the one
 * place that names every feature of a request's way upstream. Each filter
 * lives in its feature's own file.
 */
#include "filter.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "conf_types.h"
#include "util.h"
#include "wgen.h"
#include "wproxy.h"

extern struct sl_filter sl_filter_trace;     /* exchange_trace.c */
extern struct sl_filter sl_filter_access;    /* exchange_access.c */
extern struct sl_filter sl_filter_ratelimit; /* exchange_rl.c */
extern struct sl_filter sl_filter_jwt;	     /* exchange_auth.c */
extern struct sl_filter sl_filter_waf;	     /* exchange_waf.c */
extern struct sl_filter sl_filter_extauth;   /* exchange_extauth.c */
extern struct sl_filter sl_filter_idem;	     /* exchange_idem.c */
extern struct sl_filter sl_filter_zip;	     /* exchange_zip.c */
extern struct sl_filter sl_filter_mirror;    /* exchange_mirror.c */
extern struct sl_filter sl_filter_guard;     /* exchange_guard.c */
extern struct sl_filter sl_filter_lua;	     /* exchange_lua.c */
extern struct sl_filter sl_filter_lua_resp;  /* exchange_lua.c */
extern struct sl_filter sl_filter_lua_log;   /* exchange_lua.c */

/*
 * The order is the contract of doc/auth.md and doc/operations.md. The
 * trace first: whatever answers the request, it is traced. Then the
 * route's allow and deny rules and its body limit, its rate limits (a
 * flood never costs a token's check); the token before the WAF (a forged
 * one never costs the rules a look), the WAF before the authorization
 * service (which never sees what the rules stop), a route's Lua request
 * function after every check (it reads what they verified; doc/lua.md;
 * its response and log functions filters of their own, so that a route
 * pays only for the functions it has), and the
 * Idempotency-Key store once every check let the request through (a refused
 * request never takes a key). Compression only notes what the client accepts;
 * on the way back the store keeps the answer before compression rewrites it.
 * The mirror copies the head as it is written for the upstream, last. The
 * canary guard only counts the exchange once it ended (its log), after
 * every other filter.
 */
static struct sl_filter *const sl_filters[] = {
    &sl_filter_trace, &sl_filter_access,   &sl_filter_ratelimit,
    &sl_filter_jwt,   &sl_filter_waf,	   &sl_filter_extauth,
    &sl_filter_lua,   &sl_filter_lua_resp, &sl_filter_lua_log,
    &sl_filter_idem,  &sl_filter_zip,	   &sl_filter_mirror,
    &sl_filter_guard,
};
#define SL_FID_N SL_NELEM(sl_filters)

static_assert(SL_FID_N <= SL_WROUTE_FILTERS,
	      "a route's list cannot hold every filter");
static_assert(SL_FID_N <= SL_FILTERS_MAX,
	      "a route's set of filters is 15 bits");

/* ---- the slots ----------------------------------------------------------- */

/* A slot's alignment: any state's (pointers, uint64_t, struct event). */
#define SLOT_ALIGN 16

static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

/* Each filter with state gets its place in the area, in the table's
 * order: fixed for the process, so an exchange kept on a worker's free
 * list fits any route of any generation. */
static void
slots_init(void)
{
	size_t off = 0;

	for (size_t k = 0; k < SL_FID_N; k++) {
		struct sl_filter *f = sl_filters[k];
		f->id = (uint8_t)k;
		sl_filter_slot_off[k] = (uint16_t)off;
		off +=
		    (f->ctx_size + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
	}
	assert(off <= UINT16_MAX);
	sl_filter_slot_bytes = off;
	off = 0;
	for (size_t k = 0; k < SL_FID_N; k++) {
		sl_filter_wstate_off[k] = (uint16_t)off;
		off += (sl_filters[k]->wsize + SLOT_ALIGN - 1) &
		       ~(size_t)(SLOT_ALIGN - 1);
	}
	assert(off <= UINT16_MAX);
	sl_filter_wstate_bytes = off;
	for (size_t k = 0; k < SL_FID_N; k++)
		if (sl_filters[k]->placed != NULL)
			sl_filters[k]->placed(sl_filters[k]);
}

size_t
sl_filters_slot(const struct sl_wroute *wr, unsigned i, size_t *len)
{
	const struct sl_filter *f = wr->filt[i];

	pthread_once(&slots_once, slots_init);
	*len = f->ctx_size;
	return f->ctx_size != 0 ? sl_filter_slot_off[f->id] : 0;
}

/* One distinct list: the filters of a set, in the table's order, and
 * the operations they have. */
struct flist {
	const struct sl_filter *f[SL_WROUTE_FILTERS];
	uint16_t fops;
	uint8_t n;
};

static void
add(struct flist *l, const struct sl_filter *f)
{
	l->f[l->n++] = f;
	if (f->req_head != NULL || f->req_fields != NULL)
		l->fops |= SL_FOP_REQ_HEAD;
	if (f->req_fields != NULL)
		l->fops |= SL_FOP_REQ_FIELDS;
	if (f->up_head != NULL)
		l->fops |= SL_FOP_UP_HEAD;
	if (f->resp_head != NULL)
		l->fops |= SL_FOP_RESP_HEAD;
	if (f->resp_drop != NULL)
		l->fops |= SL_FOP_RESP_DROP;
	if (f->stop != NULL)
		l->fops |= SL_FOP_STOP;
	if (f->log != NULL)
		l->fops |= SL_FOP_LOG;
	if (f->end != NULL)
		l->fops |= SL_FOP_END;
	if (f->ctx_size != 0)
		l->fops |= SL_FOP_BEGIN;
	if (f->text_head)
		l->fops |= SL_FOP_TEXT_HEAD;
	if (f->span_fields != NULL)
		l->fops |= SL_FOP_SPAN;
}

int
sl_filters_attach(struct sl_wgen *g)
{
	const struct sl_conf *conf = g->conf;
	uint16_t *set = NULL, *at = NULL;
	struct flist *lists = NULL;
	size_t nlists = 0;

	pthread_once(&slots_once, slots_init);
	/* each route's set of filters (a bit per filter), and which sets
	 * there are: at[set] is 1 + its list's place */
	if ((set = calloc(g->nroutes ? g->nroutes : 1, sizeof(*set))) == NULL ||
	    (at = calloc((size_t)1 << SL_FID_N, sizeof(*at))) == NULL)
		goto fail;
	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &conf->listeners[i].routes[j];
			uint16_t m = 0;

			for (size_t k = 0; k < SL_FID_N; k++)
				if (sl_filters[k]->used(r))
					m |= (uint16_t)(1u << k);
			set[r->index] = m;
			if (at[m] == 0)
				at[m] = (uint16_t)++nlists;
		}
	if ((lists = calloc(nlists ? nlists : 1, sizeof(*lists))) == NULL)
		goto fail;
	for (size_t m = 0; m < ((size_t)1 << SL_FID_N); m++)
		if (at[m] != 0)
			for (size_t k = 0; k < SL_FID_N; k++)
				if (m & (1u << k))
					add(&lists[at[m] - 1], sl_filters[k]);
	for (size_t i = 0; i < g->nroutes; i++) {
		const struct flist *l;
		struct sl_wroute *wr = &g->routes[i];

		if (at[set[i]] == 0) /* (every index is a route's) */
			continue;
		l = &lists[at[set[i]] - 1];
		wr->filt = l->f;
		wr->nfilt = l->n;
		wr->fops = l->fops;
	}
	free(g->flists);
	g->flists = lists;
	free(set);
	free(at);
	return 0;
fail:
	free(set);
	free(at);
	free(lists);
	return -1;
}

void
sl_filters_main_tick(struct sl_conf *conf, uint64_t now_ms)
{
	for (size_t k = 0; k < SL_FID_N; k++)
		if (sl_filters[k]->main_tick != NULL)
			sl_filters[k]->main_tick(conf, now_ms);
}

void
sl_filters_thread_free(void)
{
	for (size_t k = 0; k < SL_FID_N; k++)
		if (sl_filters[k]->thread_free != NULL)
			sl_filters[k]->thread_free();
}

/* ---- the per-worker states ------------------------------------------------
 */

size_t
sl_filters_wstate_size(void)
{
	pthread_once(&slots_once, slots_init);
	return sl_filter_wstate_bytes;
}

int
sl_filters_worker_init(struct sl_worker *w, unsigned char *ws,
		       const struct sl_conf *conf)
{
	pthread_once(&slots_once, slots_init);
	for (size_t k = 0; k < SL_FID_N; k++) {
		const struct sl_filter *f = sl_filters[k];
		if (f->worker_init == NULL ||
		    f->worker_init(w, ws + sl_filter_wstate_off[k], conf) == 0)
			continue;
		/* the ones made go (a stop and a free know what they hold) */
		while (k-- > 0) {
			f = sl_filters[k];
			if (f->worker_stop != NULL)
				f->worker_stop(w, ws + sl_filter_wstate_off[k]);
			if (f->worker_free != NULL)
				f->worker_free(w, ws + sl_filter_wstate_off[k]);
		}
		return -1;
	}
	return 0;
}

void
sl_filters_worker_stop(struct sl_worker *w, unsigned char *ws)
{
	for (size_t k = SL_FID_N; k-- > 0;)
		if (sl_filters[k]->worker_stop != NULL)
			sl_filters[k]->worker_stop(
			    w, ws + sl_filter_wstate_off[k]);
}

int
sl_filters_busy(struct sl_worker *w)
{
	unsigned char *ws = sl_wproxy(w)->fws;
	int busy = 0;

	/* each asked: a busy one may start its work now */
	for (size_t k = 0; k < SL_FID_N; k++)
		if (sl_filters[k]->busy != NULL &&
		    sl_filters[k]->busy(w, ws + sl_filter_wstate_off[k]))
			busy = 1;
	return busy;
}

void
sl_filters_worker_tick(struct sl_worker *w)
{
	unsigned char *ws;

	if (w->proxy == NULL)
		return; /* not made yet, or freed */
	ws = sl_wproxy(w)->fws;
	for (size_t k = 0; k < SL_FID_N; k++)
		if (sl_filters[k]->worker_tick != NULL)
			sl_filters[k]->worker_tick(
			    w, ws + sl_filter_wstate_off[k]);
}

void
sl_filters_worker_free(struct sl_worker *w, unsigned char *ws)
{
	for (size_t k = 0; k < SL_FID_N; k++)
		if (sl_filters[k]->worker_free != NULL)
			sl_filters[k]->worker_free(
			    w, ws + sl_filter_wstate_off[k]);
}
