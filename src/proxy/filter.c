/* SPDX-License-Identifier: MIT */
/*
 * The filters and their order (doc/design-notes.md, "Filters"): the one
 * place that names every feature of a request's way upstream. Each filter
 * lives in its feature's own file.
 */
#include "filter.h"

#include <assert.h>
#include <pthread.h>

#include "conf_types.h"
#include "wgen.h"

extern const struct sl_filter sl_filter_trace;	   /* exchange_trace.c */
extern const struct sl_filter sl_filter_access;	   /* exchange_access.c */
extern const struct sl_filter sl_filter_ratelimit; /* exchange_rl.c */
extern const struct sl_filter sl_filter_jwt;	   /* exchange_auth.c */
extern const struct sl_filter sl_filter_waf;	   /* exchange_waf.c */
extern const struct sl_filter sl_filter_extauth;   /* exchange_extauth.c */
extern const struct sl_filter sl_filter_idem;	   /* exchange_idem.c */
extern const struct sl_filter sl_filter_zip;	   /* exchange_zip.c */
extern const struct sl_filter sl_filter_mirror;	   /* exchange_mirror.c */

/*
 * The order is the contract of doc/auth.md and doc/operations.md. The
 * trace first: whatever answers the request, it is traced. Then the
 * route's allow and deny rules and its body limit, its rate limits (a
 * flood never costs a token's check); the token before the WAF (a forged
 * one never costs the rules a look), the WAF before the authorization
 * service (which never sees what the rules stop), and the Idempotency-Key
 * store once every check let the request through (a refused request never
 * takes a key). Compression only notes what the client accepts; on the way
 * back the store keeps the answer before compression rewrites it. The
 * mirror copies the head as it is written for the upstream, last.
 */
static const struct sl_filter *const sl_filters[SL_FID_N] = {
    [SL_FID_TRACE] = &sl_filter_trace,
    [SL_FID_ACCESS] = &sl_filter_access,
    [SL_FID_RATELIMIT] = &sl_filter_ratelimit,
    [SL_FID_JWT] = &sl_filter_jwt,
    [SL_FID_WAF] = &sl_filter_waf,
    [SL_FID_EXTAUTH] = &sl_filter_extauth,
    [SL_FID_IDEM] = &sl_filter_idem,
    [SL_FID_ZIP] = &sl_filter_zip,
    [SL_FID_MIRROR] = &sl_filter_mirror,
};

static_assert(SL_FID_N <= SL_WROUTE_FILTERS,
	      "a route's list cannot hold every filter");

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
		const struct sl_filter *f = sl_filters[k];
		assert(f->id == k);
		sl_filter_slot_off[k] = (uint16_t)off;
		off +=
		    (f->ctx_size + SLOT_ALIGN - 1) & ~(size_t)(SLOT_ALIGN - 1);
	}
	assert(off <= UINT16_MAX);
	sl_filter_slot_bytes = off;
}

size_t
sl_filters_slot(const struct sl_wroute *wr, unsigned i, size_t *len)
{
	const struct sl_filter *f = wr->filt[i];

	pthread_once(&slots_once, slots_init);
	*len = f->ctx_size;
	return f->ctx_size != 0 ? sl_filter_slot_off[f->id] : 0;
}

static void
add(struct sl_wroute *wr, const struct sl_filter *f)
{
	wr->filt[wr->nfilt++] = f;
	if (f->req_head != NULL || f->req_fields != NULL)
		wr->fops |= SL_FOP_REQ_HEAD;
	if (f->req_fields != NULL)
		wr->fops |= SL_FOP_REQ_FIELDS;
	if (f->up_head != NULL)
		wr->fops |= SL_FOP_UP_HEAD;
	if (f->resp_head != NULL)
		wr->fops |= SL_FOP_RESP_HEAD;
	if (f->resp_drop != NULL)
		wr->fops |= SL_FOP_RESP_DROP;
	if (f->stop != NULL)
		wr->fops |= SL_FOP_STOP;
	if (f->log != NULL)
		wr->fops |= SL_FOP_LOG;
	if (f->end != NULL)
		wr->fops |= SL_FOP_END;
	if (f->ctx_size != 0)
		wr->fops |= SL_FOP_BEGIN;
}

void
sl_filters_attach(struct sl_wgen *g)
{
	const struct sl_conf *conf = g->conf;

	pthread_once(&slots_once, slots_init);
	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &conf->listeners[i].routes[j];
			struct sl_wroute *wr = &g->routes[r->index];

			wr->nfilt = 0;
			wr->fops = 0;
			for (size_t k = 0; k < SL_FID_N; k++)
				if (sl_filters[k]->used(r))
					add(wr, sl_filters[k]);
		}
}
