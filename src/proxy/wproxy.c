/* SPDX-License-Identifier: MIT */
/*
 * The proxy layer's per-worker state (wproxy.h): made with the worker,
 * stopped and freed with it, the features' teardown in one place.
 */
#include "wproxy.h"

#include <event2/event.h>
#include <stdlib.h>

#include "conf.h"
#include "filter.h"
#include "subreq.h"

int
sl_wproxy_init(struct sl_worker *w, const struct sl_conf *conf)
{
	struct sl_wproxy *p = calloc(1, sizeof(*p) + sl_filters_wstate_size());

	if (p == NULL)
		return -1;
	TAILQ_INIT(&p->subreqs);
	w->proxy = p;
	if (sl_filters_worker_init(w, p->fws, conf) == -1) {
		w->proxy = NULL;
		free(p);
		return -1;
	}
	/* what a filter does in the background (a span export) keeps a
	 * drained worker alive until it is done */
	w->bg_busy = sl_filters_busy;
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
}

void
sl_wproxy_free(struct sl_worker *w)
{
	struct sl_wproxy *p = w->proxy;

	if (p == NULL)
		return;
	free(p);
	w->proxy = NULL;
}
