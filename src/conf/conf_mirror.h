/* SPDX-License-Identifier: MIT */
/*
 * The mirror as a module (core/module.h; doc/operations.md): a route's
 * mirror: (the cluster its copies go to, and the share copied), in its
 * slot of the generation (conf_mirror.c reads it), and its counters, in
 * its block of a route's counts. Included by conf_mirror.c, its filter's
 * files (proxy/exchange_mirror.c, proxy/mirror.c) and the module table
 * (conf_mods.c).
 */
#ifndef SL_CONF_MIRROR_H
#define SL_CONF_MIRROR_H

#include <stdatomic.h>
#include <stdint.h>

#include "conf_types.h"
#include "module.h"
#include "runtime.h" /* sl_counts_mod */

extern struct sl_module sl_module_mirror;

/* A route's mirror. */
struct sl_conf_mirror {
	struct sl_conf_cluster *cluster; /* borrowed */
	uint32_t percent;		 /* 0..100 of the requests */
};

/* What became of a mirror copy (its route's counters). */
enum sl_mirror_result {
	SL_MIRROR_SENT = 0,  /* sent, and its response read */
	SL_MIRROR_DROPPED,   /* the worker's copies were at their bound */
	SL_MIRROR_FAILED,    /* connect, write, timeout or bad response */
	SL_MIRROR_TOO_LARGE, /* a body larger than buffer_bytes: not copied */
	SL_MIRROR_NRESULTS,
};

/* Its block of a route's per-worker counts: copies by result. */
struct sl_mirror_counts {
	atomic_uint_fast64_t res[SL_MIRROR_NRESULTS];
};

/* A route's mirror, NULL: none. */
static inline const struct sl_conf_mirror *
sl_mirror_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_mirror);
}

/* Its counters in counts c (a route's, of one worker). */
static inline struct sl_mirror_counts *
sl_mirror_counts(struct sl_counts *c)
{
	return (struct sl_mirror_counts *)sl_counts_mod(c, &sl_module_mirror);
}

#endif
