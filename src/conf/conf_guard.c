/* SPDX-License-Identifier: MIT */
/*
 * A route's canary guard: (doc/fleet.md section 4) as a module: its keys,
 * its state in the runtime's registry, its /config text, its /metrics
 * families and its fields on the status page (conf_guard.h). What it
 * judges and when is fleet/guard.c's.
 */
#include "conf_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "util.h"

const char *
sl_guard_verdict_str(enum sl_guard_verdict v)
{
	static const char *const s[] = {"pass", "few", "failures", "latency"};

	return v < SL_GUARD_NVERDICTS ? s[v] : "?";
}

void
sl_guard_view(const struct sl_conf_guard *g, size_t i, struct sl_guard_view *v)
{
	const struct sl_gstate *gs = g->state;

	memset(v, 0, sizeof(*v));
	if (gs == NULL || i >= gs->n)
		return;
	*v = gs->view[i];
	v->tripped = i < 64 && ((atomic_load(&gs->tripped) >> i) & 1);
}

/* ---- the keys ------------------------------------------------------------ */

#define GU(f) SL_CONF_FIELD(struct sl_conf_guard, f)

/* The keys of a route's guard: (doc/sluice.yaml.5), read in this order;
 * stable is read by route_parse(). */
static const struct sl_conf_keydef guard_table[] = {
    {"stable", .type = SL_CONF_CODE},
    {"window", SL_CONF_DURATION, 10000, 3600000, 60000, GU(window_ms)},
    {"min_requests", SL_CONF_UINT, 10, 1000000000, 50, GU(min_requests)},
    {"margin", SL_CONF_PERCENT, 0, 100, 1, GU(margin_percent)},
    {"latency", SL_CONF_DURATION, 0, 3600000, 0, GU(latency_ms)},
    {"percentile", SL_CONF_UINT, 50, 99, 99, GU(percentile)},
    {.name = NULL},
};
#undef GU

/*
 * guard: { stable, window, min_requests, margin, latency, percentile }
 * (doc/fleet.md section 4), on a route with a split of two clusters or
 * more. A message about the key itself points at it (ld->mod_key).
 */
static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_yaml_node *key = ld->mod_key, *v;
	struct sl_conf_guard *g;
	const char *s;

	(void)conf;
	if (sl_yaml_get_map(ld, "guard", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_guard.route_sec_id);
	if ((g = *slot = calloc(1, sizeof(*g))) == NULL) {
		ld->oom = 1;
		return;
	}
	sl_conf_table_defaults(guard_table, g);
	sl_conf_table_read(ld, lbl, map, guard_table, g, NULL);
	g->split = r->split;
	g->nsplit = r->nsplit;
	if (r->split == NULL) {
		if (r->cluster != NULL)
			sl_yaml_err_node(ld, key,
					 "%s: \"guard\" needs \"split\" (it "
					 "judges a split's clusters against "
					 "its stable one)",
					 lbl);
		return;
	}
	if (r->nsplit < 2)
		sl_yaml_err_node(ld, key,
				 "%s: \"guard\" needs a split of two "
				 "clusters or more",
				 lbl);
	if (r->nsplit > 64)
		sl_yaml_err_node(ld, key,
				 "%s: \"guard\" judges the first 64 clusters "
				 "of a split at most",
				 lbl);
	if ((v = sl_yaml_map_get(map, "stable", NULL)) == NULL ||
	    sl_yaml_get_str(ld, "stable", v, &s) == -1)
		return;
	for (size_t i = 0; i < r->nsplit; i++)
		if (r->split[i].cluster != NULL &&
		    strcmp(r->split[i].cluster->name, s) == 0) {
			g->stable = i;
			return;
		}
	sl_yaml_err_node(ld, v,
			 "%s: guard: \"stable\": \"%s\" is not a cluster of "
			 "the route's split",
			 lbl, sl_yaml_qnode(ld, v));
}

/* The whole file read: the guarded routes, for the main thread's second
 * (the top-level slot; none: no slot). */
static void
settle(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	struct sl_guard_routes *gr;
	size_t n = 0;

	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++)
			n += sl_guard_route(&conf->listeners[i].routes[j]) !=
			     NULL;
	if (n == 0 || conf->mod == NULL)
		return;
	if ((gr = calloc(1, sizeof(*gr) + n * sizeof(gr->at[0]))) == NULL) {
		ld->oom = 1;
		return;
	}
	for (size_t i = 0; i < conf->nlisteners; i++)
		for (size_t j = 0; j < conf->listeners[i].nroutes; j++)
			if (sl_guard_route(&conf->listeners[i].routes[j]) !=
			    NULL) {
				gr->at[gr->n].l = &conf->listeners[i];
				gr->at[gr->n++].r =
				    &conf->listeners[i].routes[j];
			}
	conf->mod[sl_module_guard.slot] = gr;
}

/* ---- its state (the runtime's registry) ---------------------------------- */

/* The guards' states by key (the registry's lock held). */
static struct sl_runtime_reg gstates;

/* A reference of gs (NULL: none) dropped: with the last, what it holds
 * goes, then gs. */
static void
gstate_release(struct sl_gstate *gs)
{
	if (gs == NULL)
		return;
	if (gs->e.refs > 1) {
		sl_runtime_entry_put(&gstates, gs);
		return;
	}
	for (unsigned w = 0; gs->counts != NULL && w < gs->nworkers; w++)
		free(gs->counts[w]);
	free(gs->counts);
	free(gs->ring);
	free(gs->view);
	sl_runtime_entry_put(&gstates, gs);
}

/* The guard state of route r of listener l, found by its split or made. */
static int
route_bind(void *slot, const struct sl_conf_listener *l,
	   struct sl_conf_route *r, unsigned nworkers)
{
	struct sl_conf_guard *g = slot;
	struct sl_gstate *gs;
	struct sl_gcounts **counts;
	char key[2048];
	size_t n;

	n = (size_t)snprintf(key, sizeof(key), "%s %s", l->addr.text, r->name);
	for (size_t i = 0; i < r->nsplit && n < sizeof(key); i++)
		n += (size_t)snprintf(key + n, sizeof(key) - n, "%s%s=%u",
				      i ? "," : " ", r->split[i].cluster->name,
				      r->split[i].weight);
	gs = sl_runtime_entry_get(&gstates, key, sizeof(*gs));
	if (gs == NULL)
		return -1;
	g->state = gs;
	r->split_held = &gs->tripped;
	if (gs->counts != NULL)
		return 0;
	gs->n = r->nsplit;
	gs->nworkers = nworkers;
	if ((gs->view = calloc(r->nsplit, sizeof(*gs->view))) == NULL ||
	    (counts = calloc(nworkers, sizeof(*counts))) == NULL)
		return -1;
	for (unsigned w = 0; w < nworkers; w++) {
		size_t sz =
		    (r->nsplit * sizeof(struct sl_gcounts) + 63) / 64 * 64;
		if ((counts[w] = aligned_alloc(64, sz)) == NULL) {
			while (w-- > 0)
				free(counts[w]);
			free(counts);
			return -1;
		}
		memset(counts[w], 0, sz);
	}
	gs->counts = counts; /* complete: a later lookup uses it as it is */
	return 0;
}

static void
route_unbind(void *slot, struct sl_conf_route *r)
{
	struct sl_conf_guard *g = slot;

	gstate_release(g->state);
	g->state = NULL;
	r->split_held = NULL;
}

/* ---- /config and the status page ----------------------------------------- */

/* ,"window":{...} and, when tripped, ,"reason","tripped_s_ago","p" of
 * split entry k: what /config and the status page show of it. Returns
 * whether it is tripped. */
static int
entry_print(const struct sl_jout *o, const struct sl_conf_guard *g, size_t k)
{
	struct sl_guard_view gv;
	uint64_t now = sl_now_ms();

	sl_guard_view(g, k, &gv);
	o->printf(o->ctx,
		  ",\"window\":{\"requests\":%llu,\"failures\":%llu,"
		  "\"slow\":%llu}",
		  (unsigned long long)gv.window.requests,
		  (unsigned long long)gv.window.failures,
		  (unsigned long long)gv.window.slow);
	if (gv.tripped) {
		o->printf(o->ctx, ",\"reason\":");
		o->str(o->ctx, sl_guard_verdict_str(gv.why));
		o->printf(
		    o->ctx, ",\"tripped_s_ago\":%llu",
		    (unsigned long long)((now - SL_MIN(now, gv.tripped_ms)) /
					 1000));
		o->printf(o->ctx, ",\"p\":%.3g", gv.p);
	}
	return gv.tripped;
}

/* ,"guard":{"stable":...,"window_ms":...,"min_requests":...,
 * "margin_percent":...,"latency_ms":... left open: 1; or ,"guard":null
 * (no guard, or no split): 0. /config's and the status page's start. */
static int
rules(const struct sl_jout *o, const struct sl_conf_guard *g)
{
	if (g == NULL || g->split == NULL) {
		o->printf(o->ctx, ",\"guard\":null");
		return 0;
	}
	o->printf(o->ctx, ",\"guard\":{\"stable\":");
	o->str(o->ctx, g->split[g->stable].cluster->name);
	o->printf(o->ctx,
		  ",\"window_ms\":%llu,\"min_requests\":%llu,"
		  "\"margin_percent\":%llu,\"latency_ms\":%llu",
		  (unsigned long long)g->window_ms,
		  (unsigned long long)g->min_requests,
		  (unsigned long long)g->margin_percent,
		  (unsigned long long)g->latency_ms);
	return 1;
}

/* /config: its keys, and for each cluster of the split its last window
 * and whether it tripped. */
static void
route_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_guard *g = slot;

	if (!rules(o, g))
		return;
	o->printf(o->ctx, ",\"percentile\":%llu,\"clusters\":[",
		  (unsigned long long)g->percentile);
	for (size_t k = 0; k < g->nsplit; k++) {
		o->printf(o->ctx, "%s{\"cluster\":", k ? "," : "");
		o->str(o->ctx, g->split[k].cluster->name);
		o->printf(o->ctx, ",\"tripped\":%s",
			  entry_print(o, g, k) ? "true" : "false");
		o->printf(o->ctx, "}");
	}
	o->printf(o->ctx, "]}");
}

/* The status page: split entry k's role and state. */
static void
split_status(const struct sl_jout *o, const void *slot, size_t k)
{
	const struct sl_conf_guard *g = slot;
	struct sl_guard_view gv;

	if (g == NULL) {
		o->printf(o->ctx, ",\"guard\":null");
		return;
	}
	sl_guard_view(g, k, &gv);
	o->printf(o->ctx, ",\"guard\":{\"role\":\"%s\"",
		  k == g->stable ? "stable" : "judged");
	o->printf(o->ctx, ",\"state\":\"%s\"",
		  gv.tripped ? "tripped" : "watching");
	(void)entry_print(o, g, k);
	o->printf(o->ctx, "}");
}

/* The status page: the route's guard's rules. */
static void
route_status(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_guard *g = slot;

	if (rules(o, g))
		o->printf(o->ctx, "}");
}

/* ---- /metrics --------------------------------------------------------------
 */

static uint64_t
entry_tripped(const void *slot, size_t k)
{
	struct sl_guard_view gv;

	sl_guard_view(slot, k, &gv);
	return (uint64_t)gv.tripped;
}

static uint64_t
entry_requests(const void *slot, size_t k)
{
	struct sl_guard_view gv;

	sl_guard_view(slot, k, &gv);
	return gv.window.requests;
}

static uint64_t
entry_failures(const void *slot, size_t k)
{
	struct sl_guard_view gv;

	sl_guard_view(slot, k, &gv);
	return gv.window.failures;
}

static uint64_t
entry_slow(const void *slot, size_t k)
{
	struct sl_guard_view gv;

	sl_guard_view(slot, k, &gv);
	return gv.window.slow;
}

static const struct sl_mfamily families[] = {
    {.name = "sluice_route_guard_tripped",
     .help = "1 when a route's canary guard set this cluster of its split to "
	     "weight 0 on this gateway (until a reload changes the split).",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_SPLIT,
     .entry = entry_tripped},
    {.name = "sluice_route_guard_window_requests",
     .help = "Requests of a guarded split's cluster in the guard's window.",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_SPLIT,
     .entry = entry_requests},
    {.name = "sluice_route_guard_window_failures",
     .help = "Of which the upstream failed (5xx, resets, timeouts).",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_SPLIT,
     .entry = entry_failures},
    {.name = "sluice_route_guard_window_slow",
     .help = "Of which slower than the guard's latency bound.",
     .kind = SL_MFAM_GAUGE,
     .scope = SL_MFAM_SPLIT,
     .entry = entry_slow},
};

/* ---- the module ------------------------------------------------------------
 */

static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,
    NULL,
    guard_table,
    "in guard",
    "under \"guard\"",
    "under a route's \"guard\"",
    NULL};

struct sl_module sl_module_guard = {
    .name = "guard",
    .key = "guard",
    .route_parse = route_parse,
    .route_free = free,
    .settle = settle,
    .top_free = free,
    .route_print = route_print,
    .split_status = split_status,
    .route_status = route_status,
    .route_sec = &route_sec,
    .route_bind = route_bind,
    .route_unbind = route_unbind,
    .families = families,
    .nfamilies = SL_NELEM(families),
};
