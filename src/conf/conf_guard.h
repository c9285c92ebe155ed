/* SPDX-License-Identifier: MIT */
/*
 * The canary guard as a module (core/module.h; doc/fleet.md section 4):
 * a route's guard: (the split's stable cluster and the rules it judges
 * the others by), in its slot of the generation (conf_guard.c reads it,
 * prints it, and shows its state on /metrics and the status page); its
 * state, which the runtime's registry keeps across generations (a reload
 * that keeps the split keeps its window and what tripped); and the
 * guarded routes of a generation, in its top-level slot. The judgement,
 * the counts and the main thread's window are fleet/guard.c's; its
 * filter (proxy/exchange_guard.c) counts the exchanges and ticks it.
 * Included by conf_guard.c, fleet/guard.h, the filter and the module
 * table (conf_mods.c), which names only its descriptor.
 */
#ifndef SL_CONF_GUARD_H
#define SL_CONF_GUARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "module.h"
#include "runtime.h" /* struct sl_runtime_entry */

extern struct sl_module sl_module_guard;

struct sl_gstate;

/*
 * A split's canary guard (guard:, doc/fleet.md section 4): every cluster
 * of the split but the stable one is judged against it over a sliding
 * window, and set to weight 0 on this gateway when it is worse.
 */
struct sl_conf_guard {
	size_t stable;		 /* index in the route's split; default 0 */
	uint64_t window_ms;	 /* sliding window, whole seconds; 60s */
	uint64_t min_requests;	 /* each side, in the window, before a
				    judgement; 50 */
	uint32_t margin_percent; /* the canary's failure share must pass the
				    stable's by more points than this; 1 */
	uint64_t latency_ms;	 /* 0: latency not judged */
	uint32_t percentile;	 /* of latency_ms; 99 */
	/* the route's split (borrowed), for the pages */
	const struct sl_conf_split *split;
	size_t nsplit;
	struct sl_gstate *state; /* set by the module's route_bind */
};

/* What one cluster of a split did over a window. */
struct sl_guard_obs {
	uint64_t requests; /* exchanges that ended on it */
	uint64_t failures; /* ... that the upstream failed (doc/fleet.md) */
	uint64_t slow;	   /* ... slower than the guard's latency bound */
};

enum sl_guard_verdict {
	SL_GUARD_PASS = 0, /* judged, and not worse */
	SL_GUARD_FEW,	   /* not judged: too few requests on either side */
	SL_GUARD_FAILURES, /* worse: more failures */
	SL_GUARD_LATENCY,  /* worse: slower */
	SL_GUARD_NVERDICTS,
};

/* What the admin pages show of a split's entry (sl_guard_view): its last
 * window, whether it is tripped, and when (0: never) and why. */
struct sl_guard_view {
	struct sl_guard_obs window;
	int tripped;
	uint64_t tripped_ms;	   /* monotonic */
	enum sl_guard_verdict why; /* of the trip */
	double p;		   /* the test's probability at the trip */
};

/* A guarded split's counts in one worker (only it writes them), one per
 * cluster of the split (doc/fleet.md section 4). */
struct sl_gcounts {
	atomic_uint_fast64_t requests, failures, slow;
};

/*
 * A route's canary guard's state, in the runtime's registry by its
 * listener's address, its name and its split (clusters and weights): a
 * reload that keeps the split keeps its window and what tripped; one
 * that changes the split starts afresh, untripped.
 */
struct sl_gstate {
	struct sl_runtime_entry e;    /* the registry's */
	size_t n;		      /* clusters of the split */
	unsigned nworkers;	      /* of counts */
	atomic_uint_fast64_t tripped; /* bit i: cluster i (the first 64);
					 the route's split_held */
	struct sl_gcounts **counts;   /* [worker][cluster], each worker's on
					 cache lines of its own */
	/* the main thread's (sl_guard_tick) */
	uint64_t window_s; /* of the ring */
	uint64_t *ring;	   /* ring_len snapshots of the sums,
			      [slot][cluster][3] */
	size_t ring_len, ring_at, ring_fill;
	uint64_t last_tick_ms;
	struct sl_guard_view *view; /* [cluster]: the last window, trips */
};

/* The guarded routes of a generation (its top-level slot, made once the
 * file is read; NULL: none), for the main thread's second: a platform's
 * 100,000 routes without a guard are not walked (issue 78). */
struct sl_guard_routes {
	size_t n;
	struct sl_guard_at {
		const struct sl_conf_listener *l;
		const struct sl_conf_route *r;
	} at[];
};

/* Route r's guard, NULL: none. */
static inline const struct sl_conf_guard *
sl_guard_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_guard);
}

/* The guarded routes of c, NULL: none. */
static inline const struct sl_guard_routes *
sl_guard_routes(const struct sl_conf *c)
{
	return sl_conf_mod(c, &sl_module_guard);
}

/* "pass", "few", "failures", "latency". */
const char *sl_guard_verdict_str(enum sl_guard_verdict v);

/* What the admin pages show of split entry i of guard g: its last
 * window, whether it is tripped, and when (0: never) and why. */
void sl_guard_view(const struct sl_conf_guard *g, size_t i,
		   struct sl_guard_view *v);

#endif
