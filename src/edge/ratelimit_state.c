/* SPDX-License-Identifier: MIT */
/*
 * Rate limits' state in the runtime's registry (ratelimit_state.h): each
 * limit of a generation bound to its buckets, found by what it counts (a
 * reload that keeps the limit keeps its buckets) and to its counters,
 * found by its labels (kept across any reload). The module's route_bind
 * and route_unbind (conf/conf_rl.c) call it, sl_runtime_bind under the
 * registry's lock, and it calls nothing above edge/.
 */
#include "ratelimit_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

static struct sl_runtime_reg rlstates;
static struct sl_runtime_reg rlcstates;

/*
 * Cells asked of the store at once: what the limit grants in 20 ms, at
 * least one, at most its burst. Two processes then hold a limit within
 * a few percent of its rate (doc/edge.md section 6 has the figures).
 */
#define RL_LEASE_MS 20

static uint32_t
rl_lease_size(const struct sl_conf_rate_limit *rl)
{
	uint64_t n = (rl->rate * RL_LEASE_MS + rl->unit_s * 1000 - 1) /
		     (rl->unit_s * 1000);

	n = SL_MAX(n, 1);
	return (uint32_t)SL_MIN(n, rl->burst);
}

/* What a limit counts, as the registry's key and the store's name. */
static void
rl_spec_str(const struct sl_conf_rate_limit *rl, char *out, size_t sz)
{
	const char *src = rl->key.source == SL_KEY_CLIENT_IP ? "client_ip"
			  : rl->key.source == SL_KEY_HEADER  ? "header:"
			  : rl->key.source == SL_KEY_COOKIE  ? "cookie:"
							     : "route";

	snprintf(out, sz, "key=%s%s rate=%llu/%llus burst=%llu", src,
		 rl->key.name != NULL ? rl->key.name : "",
		 (unsigned long long)rl->rate, (unsigned long long)rl->unit_s,
		 (unsigned long long)rl->burst);
}

/* The counters of limit rl of route r of listener l, found by its labels
 * or made. Returns NULL when out of memory. */
static struct sl_rlcstate *
rl_counts_bind(const struct sl_conf_listener *l, const struct sl_conf_route *r,
	       const struct sl_conf_rate_limit *rl)
{
	struct sl_rlcstate *cs;
	char key[512];

	snprintf(key, sizeof(key), "%s %s %s", l->name, r->name, rl->name);
	if ((cs = sl_runtime_entry_get(&rlcstates, key, sizeof(*cs))) == NULL)
		return NULL;
	if (cs->counts == NULL &&
	    (cs->counts = aligned_alloc(64, sl_runtime_nworkers() *
						sizeof(*cs->counts))) != NULL)
		memset(cs->counts, 0,
		       sl_runtime_nworkers() * sizeof(*cs->counts));
	return cs;
}

static void
rl_counts_release(struct sl_rlcstate *cs)
{
	if (cs != NULL && cs->e.refs == 1)
		free(cs->counts);
	sl_runtime_entry_put(&rlcstates, cs);
}

/* The state of a limit that has none yet: its table(s), and its counters
 * (its labels', perhaps a state's before it). Returns 0 or -1. */
static int
rl_state_init(struct sl_rlstate *st, const struct sl_conf_listener *l,
	      const struct sl_conf_route *r,
	      const struct sl_conf_rate_limit *rl)
{
	char spec[256], id[512];

	if (st->counts != NULL)
		return 0;
	if (st->cstate == NULL &&
	    (st->cstate = rl_counts_bind(l, r, rl)) == NULL)
		return -1;
	if (st->cstate->counts == NULL)
		return -1;
	sl_rl_spec_init(&st->spec, rl->rate, rl->unit_s, rl->burst);
	st->lease = rl_lease_size(rl);
	if (getrandom(&st->seed, sizeof(st->seed), 0) != sizeof(st->seed))
		st->seed = sl_mix64((uint64_t)(uintptr_t)st ^ sl_now_ms());
	if (rl->scope == SL_RL_SCOPE_LOCAL) {
		if ((st->table = sl_rl_table_new(rl->max_keys)) == NULL)
			return -1;
	} else {
		if ((st->ltabs = calloc(sl_runtime_nworkers(),
					sizeof(*st->ltabs))) == NULL)
			return -1;
		for (unsigned i = 0; i < sl_runtime_nworkers(); i++)
			if ((st->ltabs[i] = sl_rl_ltab_new(rl->max_keys)) ==
			    NULL)
				return -1;
		/* the same in every process of the fleet: names, and a
		 * digest of what it counts (a changed limit starts anew) */
		rl_spec_str(rl, spec, sizeof(spec));
		snprintf(id, sizeof(id), "rl:%s/%s/%s/%08llx", l->name, r->name,
			 rl->name,
			 (unsigned long long)(sl_hash64(spec, strlen(spec)) &
					      0xffffffffULL));
		if ((st->fleet_id = strdup(id)) == NULL)
			return -1;
	}
	st->counts = st->cstate->counts; /* complete */
	return 0;
}

static void
rl_state_release(struct sl_rlstate *st)
{
	if (st != NULL && st->e.refs == 1) {
		sl_rl_table_free(st->table);
		for (unsigned i = 0;
		     st->ltabs != NULL && i < sl_runtime_nworkers(); i++)
			sl_rl_ltab_free(st->ltabs[i]);
		free(st->ltabs);
		free(st->fleet_id);
		rl_counts_release(st->cstate);
	}
	sl_runtime_entry_put(&rlstates, st);
}

int
sl_rl_state_bind(const struct sl_conf_listener *l, struct sl_conf_route *r)
{
	char spec[256], key[768];

	for (size_t k = 0; k < sl_rl_nlimits(r); k++) {
		struct sl_conf_rate_limit *rl = &sl_rl_route(r)->rate_limits[k];
		rl_spec_str(rl, spec, sizeof(spec));
		snprintf(key, sizeof(key),
			 "%s %s %s %s %s scope=%s max_keys=%llu", l->addr.text,
			 l->name, r->name, rl->name, spec,
			 rl->scope == SL_RL_SCOPE_FLEET ? "fleet" : "local",
			 (unsigned long long)rl->max_keys);
		rl->state =
		    sl_runtime_entry_get(&rlstates, key, sizeof(*rl->state));
		if (rl->state == NULL ||
		    rl_state_init(rl->state, l, r, rl) == -1)
			return -1;
	}
	return 0;
}

void
sl_rl_state_unbind(struct sl_conf_route *r)
{
	for (size_t k = 0; k < sl_rl_nlimits(r); k++) {
		rl_state_release(sl_rl_route(r)->rate_limits[k].state);
		sl_rl_route(r)->rate_limits[k].state = NULL;
	}
}
