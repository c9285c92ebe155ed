/* SPDX-License-Identifier: MIT */
/*
 * Configuration generations as a worker uses them: per cluster, its
 * endpoints (shared by identity between generations, upstream.h), its
 * balancer state and the requests waiting for a connection. Worker thread
 * only; no I/O.
 */
#ifndef SL_WGEN_H
#define SL_WGEN_H

#include <stdint.h>
#include <sys/queue.h>

#include "conf_types.h"
#include "wloop.h"

struct sl_wendpoint;
struct sl_filter;

/* A request waiting for an upstream connection, embedded in its owner. */
struct sl_waiter {
	TAILQ_ENTRY(sl_waiter) link; /* in wc->waiters */
	/* tries again; returns 1 when it left the queue (connected,
	 * connecting or answered), 0 when it must keep waiting */
	int (*retry)(struct sl_waiter *wt);
};

/* One cluster of one generation in one worker. */
struct sl_wcluster {
	const struct sl_conf_cluster *conf; /* borrowed from its generation */
	TAILQ_HEAD(, sl_waiter)
	waiters;		   /* requests waiting for a connection,
				      oldest first */
	struct sl_wendpoint **eps; /* owned array of references */
	int64_t *swrr;		   /* owned, smooth WRR counters */
	uint32_t *weights;	   /* owned */
	uint64_t *ids;		   /* owned, endpoint ids (hash balancer) */
	uint32_t *active;	   /* owned, scratch of least_request */
	unsigned char *skip;	   /* owned, scratch of txn_pick */
	size_t cursor;		   /* least_request tie breaker */
	uint32_t active_reqs;	   /* requests of this cluster in flight */
	uint32_t retrying;	   /* of which in a retry (the budget) */
};

/* Filters a route may use at most (proxy/filter.h). */
#define SL_WROUTE_FILTERS 16

/* One route of one generation in one worker: what its choices need, and
 * its filters. */
struct sl_wroute {
	int64_t *swrr; /* owned, smooth WRR counters of a split's
			  clusters (requests without a sticky key) */
	/* a word the route's filters keep in this worker (the mirror's
	 * share: the percent accumulated, a copy going out each time it
	 * passes 100), from the worker's own phase */
	uint32_t facc;
	/* a split whose entries a module may hold back (its split_held):
	 * its weights with the held entries at 0, for the held set
	 * held_mask (owned; NULL: none held back;
	 * sl_route_split_weights) */
	uint32_t *held_weights;
	uint64_t held_mask;
	/* the filters the route uses, in the order they run (the
	 * exchange's, proxy/filter.h; set by sl_filters_attach): one of its
	 * generation's lists (sl_wgen.flists), shared by every route that
	 * uses the same filters */
	const struct sl_filter *const *filt;
	uint8_t nfilt;
	uint16_t fops; /* the operations they have (SL_FOP_*): a place no
			  filter of the route acts at costs one test */
};

/*
 * One configuration generation as a worker uses it. Referenced by the
 * worker while it is current and by every client connection that started
 * a request under it; freed with the last reference.
 */
struct sl_wgen {
	TAILQ_ENTRY(sl_wgen) link;    /* in worker->gens */
	struct sl_conf *conf;	      /* counted reference */
	struct sl_wcluster *clusters; /* owned, one per conf cluster */
	size_t nclusters;
	struct sl_wroute *routes; /* owned, one per route (route->index) */
	size_t nroutes;
	void *flists; /* owned, one allocation: the distinct filter lists
			 its routes' filt point into (proxy/filter.c) */
	int refs;
};

/*
 * A worker's view of conf (one reference of conf is taken over on
 * success), with endpoints found or created by identity. Returns NULL when
 * out of memory.
 */
struct sl_wgen *sl_wgen_new(struct sl_worker *w, struct sl_conf *conf);
/* Takes and drops a reference on a generation (worker thread). */
void sl_wgen_ref(struct sl_wgen *g);
void sl_wgen_unref(struct sl_worker *w, struct sl_wgen *g);

/* Capacity may have freed up in wc: lets waiting requests try again, in
 * order, until one has to keep waiting. */
void sl_wcluster_wake(struct sl_wcluster *wc);
/* The same for every cluster of every live generation of w. */
void sl_wgen_wake_all(struct sl_worker *w);

#endif
