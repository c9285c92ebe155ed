/* SPDX-License-Identifier: MIT */
/*
 * The proxy layer's per-worker state (wproxy.h): made with the worker,
 * stopped and freed with it, the features' teardown in one place.
 */
#include "wproxy.h"

#include <event2/event.h>
#include <stdlib.h>
#include <sys/random.h>

#include "conf.h"
#include "exchange.h"
#include "filter.h"
#include "subreq.h"
#include "traceexp.h"

int
sl_wproxy_init(struct sl_worker *w, const struct sl_conf *conf)
{
	struct sl_wproxy *p = calloc(1, sizeof(*p) + sl_filters_wstate_size());

	if (p == NULL)
		return -1;
	TAILQ_INIT(&p->subreqs);
	TAILQ_INIT(&p->auth_waits);
	p->waf_threads = (unsigned)conf->waf.threads;
	p->waf_queue = (unsigned)conf->waf.queue;
	p->waf_budget_ms = conf->waf.client_budget_ms;
	p->waf_burst_ms = conf->waf.client_burst_ms;
	p->waf_key = conf->waf.client_key;
	p->waf_prio = conf->waf.priority;
	p->waf_guard_ms = conf->waf.guard_ms;
	/* before the first request's key is made */
	if (getrandom(&p->waf_seed, sizeof(p->waf_seed), GRND_NONBLOCK) !=
	    sizeof(p->waf_seed))
		p->waf_seed = (uint64_t)(uintptr_t)p ^ sl_now_ms();
	w->proxy = p;
	if (sl_filters_worker_init(w, p->fws) == -1) {
		w->proxy = NULL;
		free(p);
		return -1;
	}
	/* a span export keeps a drained worker alive until it is sent */
	w->bg_busy = sl_traceexp_busy;
	return 0;
}

void
sl_wproxy_stop(struct sl_worker *w)
{
	if (w->proxy == NULL)
		return;
	/* the filters' work in flight (the mirror's copies, then the
	 * idempotency store's), then sluice's own requests, then what the
	 * filters keep past them */
	sl_filters_worker_stop(w, sl_wproxy(w)->fws);
	sl_subreq_close_all(w);
	sl_filters_worker_free(w, sl_wproxy(w)->fws);
	sl_traceexp_free(w);		/* after its export's end */
	sl_exchange_waf_worker_free(w); /* after its requests */
}

void
sl_wproxy_free(struct sl_worker *w)
{
	struct sl_wproxy *p = w->proxy;

	if (p == NULL)
		return;
	if (p->auth_ev != NULL)
		event_free(p->auth_ev);
	free(p);
	w->proxy = NULL;
}
