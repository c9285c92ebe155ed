/* SPDX-License-Identifier: MIT */
/*
 * What the proxy layer keeps per worker: its features' state, out of the
 * loop's struct sl_worker (core/wloop.h), which holds only an opaque
 * pointer to it, as it does for the HTTP/2 codec's. Worker thread only;
 * made and freed by daemon/worker.c.
 */
#ifndef SL_WPROXY_H
#define SL_WPROXY_H

#include <sys/queue.h>

#include "wloop.h"

struct event;
struct sl_conf;
struct sl_subreq;

struct sl_wproxy {
	/* sluice's own requests (a key set's fetch, an external check) in
	 * flight (subreq.c) */
	TAILQ_HEAD(, sl_subreq) subreqs;
	/* the filters' per-worker states (filter.h: each filter's wsize
	 * bytes at its sl_filter_wstate_off) */
	_Alignas(16) unsigned char fws[];
};

static inline struct sl_wproxy *
sl_wproxy(const struct sl_worker *w)
{
	return (struct sl_wproxy *)w->proxy;
}

/* Makes w's (conf: the generation it starts with, for the filters'
 * per-worker sizes).
 * Returns 0, or -1 (no memory). */
int sl_wproxy_init(struct sl_worker *w, const struct sl_conf *conf);

/* The worker stopped (its loop ended): what the features still have in
 * flight goes, in the order they depend on each other. */
void sl_wproxy_stop(struct sl_worker *w);

/* Frees what sl_wproxy_init made (after the loop's last run). */
void sl_wproxy_free(struct sl_worker *w);

#endif
