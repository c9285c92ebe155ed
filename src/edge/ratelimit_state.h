/* SPDX-License-Identifier: MIT */
/*
 * A rate limit's state across workers and generations: its buckets (a
 * local limit's table, a fleet limit's leases per worker) and its
 * counters, kept in the runtime's registry (runtime.h) by what the limit
 * counts and by its labels. ratelimit_state.c binds them to a generation's
 * limits from the module's route_bind (conf/conf_rl.c); the checks
 * (fleet/rlcheck.c) and the store (fleet/rlstore.c) use them.
 */
#ifndef SL_RATELIMIT_STATE_H
#define SL_RATELIMIT_STATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "ratelimit.h"
#include "ratelimit_conf.h"
#include "runtime.h"

/* A rate limit's counters in one worker (only it writes them). */
struct sl_rlcounts {
	atomic_uint_fast64_t admitted;	    /* requests it let through */
	atomic_uint_fast64_t limited;	    /* answered 429 */
	atomic_uint_fast64_t store_allowed; /* fleet: passed, store down */
	atomic_uint_fast64_t store_denied;  /* fleet: 503, store down */
	atomic_uint_fast64_t evictions;	    /* live keys its tables pushed
					       out (sl_rl_result.evicted) */
	uint64_t logged_ms;		    /* last refusal said at info */
	uint64_t unlogged;		    /* refusals since, not said */
} __attribute__((aligned(64)));

/*
 * A rate limit's counters, by its labels on /metrics (listener name,
 * route, limit name), and nothing else: every state (sl_rlstate) of the
 * limit shares them, so a reload that changes what the limit counts gives
 * it fresh buckets and keeps its counters. Referenced by those states.
 */
struct sl_rlcstate {
	struct sl_runtime_entry e;  /* refs: sl_rlstates using it */
	struct sl_rlcounts *counts; /* one per worker */
};

/*
 * A rate limit's buckets (doc/edge.md section 6), by its listener
 * (address and name), route, name and what it counts (key, rate, burst,
 * scope, max_keys): a reload that keeps the limit keeps its buckets; one
 * that changes it starts with fresh ones. Its counters are its labels'
 * (sl_rlcstate), kept either way.
 */
struct sl_rlstate {
	struct sl_runtime_entry e;
	struct sl_rl_spec spec;
	uint64_t seed;		    /* local: keys' hashes (per table) */
	struct sl_rl_table *table;  /* local: shared by the workers */
	struct sl_rl_ltab **ltabs;  /* fleet: one per worker, its own */
	char *fleet_id;		    /* fleet: names it in the store's keys,
				       the same in every process */
	uint32_t lease;		    /* fleet: cells asked for at once */
	struct sl_rlcstate *cstate; /* its counters (one reference) */
	struct sl_rlcounts *counts; /* cstate's, one per worker; set once
				       the state is complete */
};

/* Route r's limits' states (of listener l), found or made: the module's
 * route_bind (conf/conf_rl.c; the registry's lock held). Returns 0, or -1
 * (out of memory). And let go of: its route_unbind. */
int sl_rl_state_bind(const struct sl_conf_listener *l, struct sl_conf_route *r);
void sl_rl_state_unbind(struct sl_conf_route *r);

#endif
