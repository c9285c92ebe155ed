/* SPDX-License-Identifier: MIT */
/*
 * Configuration generations as a worker uses them, and the worker's
 * endpoints (pools) that generations share by identity. Worker thread only;
 * no locks. Owns reference counting of both; does no I/O except closing
 * idle pooled connections of retired endpoints.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "upstream.h"
#include "worker.h"

/* The endpoint named (cluster, address) in this worker, created if new,
 * with one more reference. Points it at the newest generation. */
static struct sl_wendpoint *
wendpoint_get(struct sl_worker *w, struct sl_conf *conf,
	      const struct sl_conf_cluster *cc,
	      const struct sl_conf_endpoint *ce)
{
	struct sl_wendpoint *ep;

	TAILQ_FOREACH(ep, &w->eps, link)
	if (ep->key == ce->state)
		break;
	if (ep == NULL) {
		if ((ep = calloc(1, sizeof(*ep))) == NULL)
			return NULL;
		ep->key = ce->state;
		ep->w = w;
		TAILQ_INIT(&ep->idle);
		TAILQ_INSERT_TAIL(&w->eps, ep, link);
	}
	if (ep->gconf != conf) {
		/* settings (weight, pool, limits) follow the newest
		 * generation; the reference keeps them valid for
		 * connections that outlive older ones */
		struct sl_conf *old = ep->gconf;
		ep->gconf = sl_conf_ref(conf);
		sl_conf_unref(old);
	}
	ep->conf = ce;
	ep->cluster = cc;
	ep->seen_gen = conf->generation;
	ep->retired = 0;
	ep->refs++;
	return ep;
}

void
sl_wendpoint_unref(struct sl_wendpoint *ep)
{
	if (ep == NULL || --ep->refs > 0)
		return;
	/* no generation names it and no connection uses it, so its pool
	 * is empty */
	TAILQ_REMOVE(&ep->w->eps, ep, link);
	sl_conf_unref(ep->gconf);
	free(ep);
}

static void
wcluster_free(struct sl_wcluster *wc)
{
	if (wc->eps != NULL)
		for (size_t j = 0; j < wc->conf->nendpoints; j++)
			sl_wendpoint_unref(wc->eps[j]);
	free(wc->eps);
	free(wc->swrr);
	free(wc->weights);
	free(wc->active);
	free(wc->skip);
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
		wc->eps = calloc(n, sizeof(*wc->eps));
		wc->swrr = calloc(n, sizeof(*wc->swrr));
		wc->weights = calloc(n, sizeof(*wc->weights));
		wc->active = calloc(n, sizeof(*wc->active));
		wc->skip = calloc(n, sizeof(*wc->skip));
		if (!wc->eps || !wc->swrr || !wc->weights || !wc->active ||
		    !wc->skip)
			goto fail;
		for (size_t j = 0; j < n; j++) {
			wc->eps[j] =
			    wendpoint_get(w, conf, cc, &cc->endpoints[j]);
			if (wc->eps[j] == NULL)
				goto fail;
			wc->weights[j] = cc->endpoints[j].weight;
		}
		/* workers start at different endpoints so that N workers
		 * do not send their first requests to the same one */
		wc->cursor = w->id % n;
	}
	TAILQ_INSERT_TAIL(&w->gens, g, link);
	return g;
fail:
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
	sl_conf_unref(g->conf);
	free(g);
}

void
sl_wgen_retire_endpoints(struct sl_worker *w)
{
	struct sl_wendpoint *ep, *next;
	uint64_t cur = w->gen->conf->generation;

	for (ep = TAILQ_FIRST(&w->eps); ep != NULL; ep = next) {
		next = TAILQ_NEXT(ep, link);
		if (ep->seen_gen == cur || ep->retired)
			continue;
		/* gone from the configuration: idle connections close now,
		 * busy ones when their exchange ends */
		ep->retired = 1;
		ep->refs++; /* closing may drop the last reference */
		sl_upstream_close_idle_ep(ep);
		sl_wendpoint_unref(ep);
	}
}
