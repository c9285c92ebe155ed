/* SPDX-License-Identifier: MIT */
/*
 * Configuration generations as a worker uses them: each cluster's
 * endpoints (shared by identity with other generations, see upstream.c),
 * balancer state and waiting requests. Worker thread only; no locks; no
 * I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "runtime.h"
#include "upstream.h"
#include "wgen.h"

static void
wcluster_free(struct sl_wcluster *wc)
{
	if (wc->eps != NULL)
		for (size_t j = 0; j < wc->conf->nendpoints; j++)
			sl_upstream_endpoint_unref(wc->eps[j]);
	free(wc->eps);
	free(wc->swrr);
	free(wc->weights);
	free(wc->ids);
	free(wc->active);
	free(wc->skip);
}

static void
wroutes_free(struct sl_wgen *g)
{
	for (size_t i = 0; g->routes != NULL && i < g->nroutes; i++) {
		free(g->routes[i].swrr);
		free(g->routes[i].held_weights);
	}
	free(g->routes);
	g->routes = NULL;
	free(g->flists);
	g->flists = NULL;
}

/* Per-route state: split counters, mirror accumulators. Returns 0 or
 * -1. */
static int
wgen_routes(struct sl_wgen *g, struct sl_worker *w)
{
	const struct sl_conf *conf = g->conf;

	g->nroutes = conf->nroutes;
	if (g->nroutes == 0)
		return 0;
	if ((g->routes = calloc(g->nroutes, sizeof(*g->routes))) == NULL)
		return -1;
	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &conf->listeners[i].routes[j];
			struct sl_wroute *wr = &g->routes[r->index];
			if (r->nsplit > 0 &&
			    (wr->swrr = calloc(r->nsplit, sizeof(*wr->swrr))) ==
				NULL)
				return -1;
			if (r->split_held != NULL &&
			    (wr->held_weights = calloc(
				 r->nsplit, sizeof(*wr->held_weights))) == NULL)
				return -1;
			/* workers start their sequences at different points,
			 * as for endpoints */
			wr->facc = (uint32_t)(w->id * 37 % 100);
		}
	return 0;
}

struct sl_wgen *
sl_wgen_new(struct sl_worker *w, struct sl_conf *conf)
{
	struct sl_wgen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->conf = conf;
	g->refs = 1;
	g->nclusters = conf->nclusters;
	g->clusters = calloc(conf->nclusters, sizeof(*g->clusters));
	if (g->clusters == NULL)
		goto fail;
	for (size_t i = 0; i < conf->nclusters; i++) {
		struct sl_wcluster *wc = &g->clusters[i];
		const struct sl_conf_cluster *cc = &conf->clusters[i];
		size_t n = cc->nendpoints;

		wc->conf = cc;
		TAILQ_INIT(&wc->waiters);
		wc->eps = calloc(n ? n : 1, sizeof(*wc->eps));
		wc->swrr = calloc(n ? n : 1, sizeof(*wc->swrr));
		wc->weights = calloc(n ? n : 1, sizeof(*wc->weights));
		wc->ids = calloc(n ? n : 1, sizeof(*wc->ids));
		wc->active = calloc(n ? n : 1, sizeof(*wc->active));
		wc->skip = calloc(n ? n : 1, sizeof(*wc->skip));
		if (!wc->eps || !wc->swrr || !wc->weights || !wc->ids ||
		    !wc->active || !wc->skip)
			goto fail;
		for (size_t j = 0; j < n; j++) {
			wc->eps[j] = sl_upstream_endpoint(w, conf, cc,
							  &cc->endpoints[j]);
			if (wc->eps[j] == NULL)
				goto fail;
			wc->weights[j] = cc->endpoints[j].weight;
			wc->ids[j] = cc->endpoints[j].id;
		}
		/* workers start at different endpoints so that N workers
		 * do not send their first requests to the same one (a
		 * cluster whose names resolved to nothing has none) */
		wc->cursor = n > 0 ? w->id % n : 0;
	}
	if (wgen_routes(g, w) == -1)
		goto fail;
	TAILQ_INSERT_TAIL(&w->gens, g, link);
	return g;
fail:
	wroutes_free(g);
	for (size_t i = 0; g->clusters != NULL && i < g->nclusters; i++)
		if (g->clusters[i].conf != NULL)
			wcluster_free(&g->clusters[i]);
	free(g->clusters);
	free(g);
	return NULL; /* conf stays the caller's */
}

void
sl_wgen_ref(struct sl_wgen *g)
{
	g->refs++;
}

void
sl_wgen_unref(struct sl_worker *w, struct sl_wgen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	TAILQ_REMOVE(&w->gens, g, link);
	for (size_t i = 0; i < g->nclusters; i++)
		wcluster_free(&g->clusters[i]);
	free(g->clusters);
	wroutes_free(g);
	sl_conf_unref(g->conf);
	free(g);
}

void
sl_wcluster_wake(struct sl_wcluster *wc)
{
	struct sl_waiter *wt;

	while ((wt = TAILQ_FIRST(&wc->waiters)) != NULL)
		if (!wt->retry(wt))
			break;
}

void
sl_wgen_wake_all(struct sl_worker *w)
{
	struct sl_wgen *g, *next;

	for (g = TAILQ_FIRST(&w->gens); g != NULL; g = next) {
		/* waking may end the last request of an old generation */
		sl_wgen_ref(g);
		for (size_t i = 0; i < g->nclusters; i++)
			sl_wcluster_wake(&g->clusters[i]);
		next = TAILQ_NEXT(g, link);
		sl_wgen_unref(w, g);
	}
}
