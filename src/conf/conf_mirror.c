/* SPDX-License-Identifier: MIT */
/*
 * A route's mirror: (doc/operations.md, "Mirroring"): the cluster its
 * copies go to and the share of its requests copied, and the module's
 * descriptor (its counters, /metrics family, /config text).
 */
#include <stdlib.h>

#include "conf_int.h"
#include "conf_mirror.h"
#include "util.h"

/* mirror: { cluster: NAME, percent: 0..100 } */
static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *map, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_yaml_node *c, *p;
	struct sl_conf_cluster *to;
	struct sl_conf_mirror *m;
	uint64_t pct = 100;

	if (sl_yaml_get_map(ld, "mirror", map) == -1)
		return;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_mirror.route_sec_id);
	/* a wrong percent does not hide what is wrong with the cluster */
	if ((p = sl_yaml_map_get(map, "percent", NULL)) != NULL)
		sl_yaml_get_uint(ld, "percent", p, 0, 100, &pct);
	if ((c = sl_yaml_map_get(map, "cluster", NULL)) == NULL) {
		sl_yaml_err_lacks(ld, map,
				  "%s: mirror: missing key \"cluster\"", lbl);
		return;
	}
	if ((to = sl_conf_find_cluster(ld, lbl, "cluster", c, conf)) == NULL)
		return;
	/* a copy sent where the request goes anyway doubles its effect */
	if (to == r->cluster) {
		sl_yaml_err_node(ld, c,
				 "%s: \"mirror\" to \"%s\", the route's own "
				 "cluster",
				 lbl, sl_yaml_qnode(ld, c));
		return;
	}
	for (size_t i = 0; i < r->nsplit; i++)
		if (r->split[i].cluster == to) {
			sl_yaml_err_node(ld, c,
					 "%s: \"mirror\" to \"%s\", a cluster "
					 "of the route's split",
					 lbl, sl_yaml_qnode(ld, c));
			return;
		}
	if ((m = *slot = calloc(1, sizeof(*m))) == NULL) {
		ld->oom = 1;
		return;
	}
	m->cluster = to;
	m->percent = (uint32_t)pct;
}

static void
route_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_mirror *m = slot;

	if (m == NULL) {
		o->printf(o->ctx, ",\"mirror\":null");
		return;
	}
	o->printf(o->ctx, ",\"mirror\":{\"cluster\":");
	o->str(o->ctx, m->cluster->name);
	o->printf(o->ctx, ",\"percent\":%u}", m->percent);
}

/* ---- the module --------------------------------------------------------- */

static const char *const keys[] = {"cluster", "percent", NULL};
static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,
    keys,
    NULL,
    "in mirror",
    "under \"mirror\"",
    "under a route's \"mirror\"",
    NULL};

static const char *const results[SL_MIRROR_NRESULTS] = {"sent", "dropped",
							"failed", "too_large"};

static const char *
cluster_of(const void *slot)
{
	return ((const struct sl_conf_mirror *)slot)->cluster->name;
}

static const struct sl_mfamily families[] = {
    {.name = "sluice_mirror_requests_total",
     .help = "Mirror copies of a route's requests by result: sent (and "
	     "answered), dropped (the worker's copies at their bound), failed, "
	     "too_large (body over buffer_bytes).",
     .kind = SL_MFAM_COUNTER,
     .scope = SL_MFAM_ROUTE,
     .n = SL_MIRROR_NRESULTS,
     .label = "result",
     .values = results,
     .slot_label = "cluster",
     .slot_value = cluster_of},
};

struct sl_module sl_module_mirror = {
    .name = "mirror",
    .key = "mirror",
    .route_parse = route_parse,
    .route_free = free,
    .route_print = route_print,
    .route_sec = &route_sec,
    .route_words = sizeof(struct sl_mirror_counts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .families_always = 1,
};
