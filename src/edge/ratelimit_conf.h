/* SPDX-License-Identifier: MIT */
/*
 * Rate limits as the file says them (issue 23, doc/edge.md section 6): a
 * route's rate_limit: list, kept in the rate limits' module slot
 * (conf/conf_rl.c reads it; core/module.h). Here in edge/, below conf/,
 * so that the limits' state (ratelimit_state.c), the checks (fleet/rlcheck.c)
 * and the admin read a route's limits without naming the module's
 * descriptor: the module tells this file its place (sl_rl_module).
 */
#ifndef SL_RATELIMIT_CONF_H
#define SL_RATELIMIT_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "hist.h"
#include "module.h"
#include "wloop.h" /* struct sl_worker_stats */

struct sl_rlstate;

/*
 * One of a route's rate_limit: list. A request passes when every limit of
 * its route lets it, in order.
 */
enum sl_conf_rl_scope {
	SL_RL_SCOPE_LOCAL = 0, /* this process: exact across its workers */
	SL_RL_SCOPE_FLEET,     /* every process sharing rate_limit_store */
};

struct sl_conf_rate_limit {
	char *name;		/* unique in the route */
	struct sl_conf_key key; /* SL_KEY_NONE: the route, one bucket */
	uint64_t rate;		/* requests per unit_s, >= 1 */
	uint64_t unit_s;	/* 1, 60 or 3600 */
	uint64_t burst;		/* at once; default rate */
	enum sl_conf_rl_scope scope;
	uint64_t max_keys;    /* local: slots of the shared table; fleet:
				 keys each worker holds leases for */
	int store_error_deny; /* fleet: on_store_error: deny */
	struct sl_conf_pos scope_pos; /* of scope: fleet, for the check
					 that rate_limit_store is set */
	struct sl_rlstate *state;     /* set by sl_runtime_bind */
};

/* A route's rate limits: the module's route slot (NULL: none). */
struct sl_rl_route {
	struct sl_conf_rate_limit *rate_limits; /* owned, nrate_limits */
	size_t nrate_limits;			/* 1 to 8 */
};

/* The rate limits' module (conf/conf_rl.c), set by its placed hook when
 * the module table gives it its slot; NULL before (no route has limits
 * then). Defined in ratelimit.c. */
extern const struct sl_module *sl_rl_module;

/* Route r's rate limits, NULL: none. */
static inline struct sl_rl_route *
sl_rl_route(const struct sl_conf_route *r)
{
	return sl_rl_module != NULL ? sl_route_mod(r, sl_rl_module) : NULL;
}

/* How many limits r has (0: none). */
static inline size_t
sl_rl_nlimits(const struct sl_conf_route *r)
{
	const struct sl_rl_route *rr = sl_rl_route(r);

	return rr != NULL ? rr->nrate_limits : 0;
}

/* Its words in a worker's stats (the module's worker_words): the fleet's
 * store's connection of the worker (fleet/rlstore.c), which the
 * idempotency store's redis commands go through too. */
struct sl_rl_wcounts {
	/* lease commands and idempotency scripts by result (ok, error,
	 * timeout), their latency (SL_HIST buckets, each its own; the sum
	 * in ms) */
	atomic_uint_fast64_t store[3];
	atomic_uint_fast64_t store_dur[SL_HIST_N];
	atomic_uint_fast64_t store_dur_sum_ms;
	atomic_uint_fast64_t store_connects[2]; /* ok, failed */
	atomic_uint_fast64_t store_lost; /* connections lost or dropped */
	atomic_uint_fast64_t store_up;	 /* 1 while connected */
};

/* Its words in worker stats s. */
static inline struct sl_rl_wcounts *
sl_rl_wcounts(struct sl_worker_stats *s)
{
	return (struct sl_rl_wcounts *)&s->mod[sl_rl_module->worker_at];
}

#endif
