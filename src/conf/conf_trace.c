/* SPDX-License-Identifier: MIT */
/*
 * Tracing's module (conf_trace.h; doc/operations.md, "Tracing"): the
 * top-level tracing:, a route's tracing: and a listener's trace_context:,
 * and the module's descriptor (its /metrics families, /config text).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "conf_trace.h"
#include "hdrrule.h"
#include "policy.h"
#include "util.h"

/* A route's slot as its key leaves it, until settle: tracing: true (the
 * top level's ratio), tracing: false; else 1 + its own ratio's
 * millionths (none written: NULL, as true). Past any final value. */
#define ROUTE_TRACE_DEFAULT ((uintptr_t)UINT32_MAX - 1)
#define ROUTE_TRACE_OFF	    ((uintptr_t)UINT32_MAX)

/*
 * A ratio: "25%", "12.5%", "0.25", 1, 0, in [0, 1]: its millionths in
 * *ppm. Returns 0, or -1 with the error reported.
 */
static int
get_ratio(struct sl_yaml_loader *ld, const char *key,
	  const struct sl_yaml_node *v, uint32_t *ppm)
{
	const char *s;
	char *end;
	double d;

	if (sl_yaml_get_str(ld, key, v, &s) == -1)
		return -1;
	d = strtod(s, &end);
	if (end != s && *end == '%' && end[1] == '\0') {
		d /= 100;
		end++;
	}
	if (end == s || *end != '\0' || !(d >= 0 && d <= 1)) {
		sl_yaml_err_node(ld, v,
				 "\"%s\": expected a ratio from 0 to 1, or a "
				 "percentage (\"25%%\"), got %s",
				 key, sl_yaml_qnode(ld, v));
		return -1;
	}
	*ppm = (uint32_t)lround(d * 1e6);
	return 0;
}

static int
read_sample(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *v, void *base)
{
	(void)lbl;
	return get_ratio(ld, "sample", v,
			 &((struct sl_conf_tracing *)base)->sample);
}

/* path: an absolute path, no spaces */
static int
read_path(struct sl_yaml_loader *ld, const char *lbl,
	  const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_tracing *t = base;
	const char *s;

	(void)lbl;
	if (sl_yaml_get_str(ld, "path", v, &s) == -1)
		return -1;
	if (s[0] != '/' || strlen(s) > 256 || strpbrk(s, " \t\r\n") != NULL) {
		sl_yaml_err_node(ld, v,
				 "\"path\": %s must begin with \"/\", without "
				 "spaces, in at most 256 bytes",
				 sl_yaml_qnode(ld, v));
		return -1;
	}
	free(t->path);
	t->path = sl_yaml_strdup(ld, s);
	return 0;
}

static int
read_service(struct sl_yaml_loader *ld, const char *lbl,
	     const struct sl_yaml_node *v, void *base)
{
	struct sl_conf_tracing *t = base;
	const char *s;

	(void)lbl;
	if (sl_yaml_get_str(ld, "service_name", v, &s) == -1)
		return -1;
	if (s[0] == '\0' || strlen(s) > 128) {
		sl_yaml_err_node(ld, v,
				 "\"service_name\": must be 1 to 128 bytes");
		return -1;
	}
	free(t->service_name);
	t->service_name = sl_yaml_strdup(ld, s);
	return 0;
}

#define TR(f) SL_CONF_FIELD(struct sl_conf_tracing, f)
/* The keys of tracing: (doc/sluice.yaml.5), read in this order. */
static const struct sl_conf_keydef top_table[] = {
    {"cluster", .type = SL_CONF_CODE},
    {"path", SL_CONF_SET, .set = read_path},
    {"service_name", SL_CONF_SET, .set = read_service},
    {"sample", SL_CONF_SET, .set = read_sample},
    {"batch", SL_CONF_UINT, 1, 8192, 512, TR(batch)},
    {"queue", SL_CONF_UINT, 1, 1000000, 4096, TR(queue)},
    {"interval", SL_CONF_DURATION, 200, 60000, 1000, TR(interval_ms)},
    {"timeout", SL_CONF_DURATION, 100, 60000, 5000, TR(timeout_ms)},
    {"max_retries", SL_CONF_UINT, 0, 20, 5, TR(retries)},
    {.name = NULL},
};
#undef TR

/* The top-level tracing: (after the clusters, before the listeners);
 * not written, no slot: nothing is traced. */
static void
top_parse(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
	  void **slot, struct sl_conf *conf)
{
	struct sl_conf_tracing *t;
	const struct sl_yaml_node *c;

	if (map == NULL || sl_yaml_get_map(ld, "tracing", map) == -1)
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		ld->oom = 1;
		return;
	}
	*slot = t;
	sl_conf_check_keys(ld, map,
			   (enum sl_conf_section)sl_module_trace.top_sec_id);
	sl_conf_table_defaults(top_table, t);
	t->sample = 1000000;
	sl_conf_table_read(ld, NULL, map, top_table, t, NULL);
	if (t->path == NULL)
		t->path = sl_yaml_strdup(ld, "/v1/traces");
	if (t->service_name == NULL)
		t->service_name = sl_yaml_strdup(ld, "sluice");
	if (t->batch > t->queue) {
		sl_yaml_err_node(ld, map,
				 "tracing: \"batch\" (%llu) must not be more "
				 "than \"queue\" (%llu)",
				 (unsigned long long)t->batch,
				 (unsigned long long)t->queue);
	}
	if ((c = sl_yaml_map_get(map, "cluster", NULL)) == NULL) {
		sl_yaml_err_lacks(ld, map,
				  "tracing: missing key \"cluster\" (the "
				  "OpenTelemetry collector's cluster)");
		return;
	}
	t->cluster = sl_conf_find_cluster(ld, "tracing", "cluster", c, conf);
	if (t->cluster != NULL && t->cluster->proxy_protocol)
		sl_yaml_err_node(ld, c,
				 "tracing: cluster \"%s\" has proxy_protocol: "
				 "spans are sluice's own requests, of no "
				 "client",
				 t->cluster->name);
}

static void
top_free(void *slot)
{
	struct sl_conf_tracing *t = slot;

	free(t->path);
	free(t->service_name);
	free(t);
}

/* A route's tracing: false, true or { sample }. */
static void
route_parse(struct sl_yaml_loader *ld, const char *lbl,
	    const struct sl_yaml_node *v, void **slot,
	    const struct sl_conf_route *r, struct sl_conf *conf)
{
	const struct sl_yaml_node *s;
	int on;

	(void)r;
	if (sl_trace_conf(conf) == NULL) {
		sl_yaml_err_node(ld, v,
				 "%s: \"tracing\" needs the top-level "
				 "\"tracing\" (where spans go)",
				 lbl);
		return;
	}
	if (v->type != SL_YAML_NODE_MAP) {
		if (sl_conf_get_bool(ld, "tracing", v, &on) == 0)
			*slot = (void *)(on ? ROUTE_TRACE_DEFAULT
					    : ROUTE_TRACE_OFF);
		return;
	}
	sl_conf_check_keys(ld, v,
			   (enum sl_conf_section)sl_module_trace.route_sec_id);
	*slot = (void *)ROUTE_TRACE_DEFAULT;
	if ((s = sl_yaml_map_get(v, "sample", NULL)) != NULL) {
		uint32_t ppm;
		if (get_ratio(ld, "sample", s, &ppm) == 0)
			*slot = (void *)(uintptr_t)(1 + ppm);
	}
}

static const char *const trace_context_names[] = {"trusted", "always", "never",
						  "off", NULL};

/* A listener's trace_context: its value + 1 in the slot. */
static void
listener_parse(struct sl_yaml_loader *ld, const char *lbl,
	       const struct sl_yaml_node *v, void **slot,
	       const struct sl_conf_listener *l, struct sl_conf *conf)
{
	int e;

	(void)lbl;
	(void)l;
	(void)conf;
	if ((e = sl_yaml_get_enum(ld, "trace_context", v, trace_context_names,
				  "trusted, always, never or off")) >= 0)
		*slot = (void *)(uintptr_t)(e + 1);
}

/* A traced route's request rules must not write the fields tracing
 * writes: the upstream would get two traceparents. */
static void
check_rules(struct sl_yaml_loader *ld, const struct sl_conf_route *r)
{
	const struct sl_hdr_apply *a =
	    r->policy != NULL ? r->policy->rules[0] : NULL;

	for (int k = 0; a != NULL && k < 2; k++) {
		const struct sl_hdr_rules *rs = a->r[k];
		for (size_t f = 0; rs != NULL && f < rs->nfields; f++) {
			const char *n = rs->fields[f].lname;
			if (strcmp(n, "traceparent") == 0 ||
			    strcmp(n, "tracestate") == 0)
				sl_yaml_err_at(
				    ld, rs->fields[f].line, rs->fields[f].col,
				    "route \"%s\" is traced: sluice writes "
				    "%s itself (doc/operations.md section 14); "
				    "a header rule may not",
				    r->name, rs->fields[f].name);
		}
	}
}

/* A route's share, final: 0 (not traced: its slot NULL) or 1 +
 * millionths. */
static void
route_settle(struct sl_yaml_loader *ld, void **slot,
	     const struct sl_conf_route *r, const struct sl_conf_listener *l,
	     const struct sl_conf *conf)
{
	const struct sl_conf_tracing *top = sl_trace_conf(conf);
	uintptr_t v = (uintptr_t)*slot;

	if (top == NULL || sl_trace_listener_ctx(l) == SL_TRACE_CTX_OFF ||
	    v == ROUTE_TRACE_OFF)
		v = 0;
	else if (v == 0 || v == ROUTE_TRACE_DEFAULT)
		v = 1 + top->sample;
	*slot = (void *)v;
	if (v != 0)
		check_rules(ld, r);
}

/* ---- /config ------------------------------------------------------------ */

static void
top_print(const struct sl_jout *o, const void *slot)
{
	const struct sl_conf_tracing *t = slot;

	if (t == NULL) {
		o->printf(o->ctx, ",\"tracing\":null");
		return;
	}
	o->printf(o->ctx, ",\"tracing\":{\"cluster\":");
	o->str(o->ctx, t->cluster != NULL ? t->cluster->name : "");
	o->printf(o->ctx, ",\"path\":");
	o->str(o->ctx, t->path);
	o->printf(o->ctx, ",\"service_name\":");
	o->str(o->ctx, t->service_name);
	o->printf(
	    o->ctx,
	    ",\"sample\":%g,\"batch\":%llu,\"queue\":%llu,"
	    "\"interval_ms\":%llu,\"timeout_ms\":%llu,"
	    "\"max_retries\":%llu}",
	    (double)t->sample / 1e6, (unsigned long long)t->batch,
	    (unsigned long long)t->queue, (unsigned long long)t->interval_ms,
	    (unsigned long long)t->timeout_ms, (unsigned long long)t->retries);
}

/* null: not traced; else the ratio of new traces recorded */
static void
route_print(const struct sl_jout *o, const void *slot)
{
	uintptr_t v = (uintptr_t)slot;

	if (v == 0)
		o->printf(o->ctx, ",\"tracing\":null");
	else
		o->printf(o->ctx, ",\"tracing\":{\"sample\":%g}",
			  (double)(v - 1) / 1e6);
}

static void
listener_print(const struct sl_jout *o, const void *slot)
{
	uintptr_t v = (uintptr_t)slot;

	o->printf(o->ctx, ",\"trace_context\":\"%s\"",
		  trace_context_names[v == 0 ? 0 : v - 1]);
}

/* ---- the module --------------------------------------------------------- */

static const char *const route_tracing_keys[] = {"sample", NULL};

static const struct sl_conf_section_def top_sec = {
    SL_CONF_SEC_TOP,
    NULL,
    top_table,
    "in tracing",
    "under \"tracing\"",
    "under the top-level \"tracing\"",
    NULL};
static const struct sl_conf_section_def route_sec = {
    SL_CONF_SEC_ROUTE,
    route_tracing_keys,
    NULL,
    "in tracing",
    "under \"tracing\"",
    "under a route's \"tracing\"",
    NULL};

static const char *const sources[] = {"parent", "new", "untrusted",
				      "malformed"};
static const char *const spans[] = {"exported", "dropped", "failed"};
static const char *const exports[] = {"ok", "retry", "failed"};

#define WW(f)                                                                  \
	((uint16_t)(offsetof(struct sl_trace_wcounts, f) / sizeof(uint64_t)))
#define FAM(nm, hp, kd, of)                                                    \
	.name = nm, .help = hp, .kind = kd, .scope = SL_MFAM_WORKERS, .off = of

/* Workers' counters: kept across reloads, as the queues are; rendered
 * whether or not anything is traced. */
static const struct sl_mfamily families[] = {
    {FAM("sluice_trace_context_total",
	 "Traced requests by where their trace context came from.",
	 SL_MFAM_COUNTER, WW(ctx)),
     .n = 4, .label = "source", .values = sources},
    {FAM("sluice_trace_spans_total",
	 "Spans exported, dropped (queue full) and failed (export given up "
	 "or rejected).",
	 SL_MFAM_COUNTER, WW(spans)),
     .n = 3, .label = "result", .values = spans},
    {FAM("sluice_trace_exports_total",
	 "Exports to the collector: taken, to be retried, failed.",
	 SL_MFAM_COUNTER, WW(exports)),
     .n = 3, .label = "result", .values = exports},
    {FAM("sluice_trace_queue_spans",
	 "Spans waiting for export, queued or in flight.", SL_MFAM_GAUGE,
	 WW(queue))},
};
#undef FAM

struct sl_module sl_module_trace = {
    .name = "trace",
    .key = "tracing",
    .listener_key = "trace_context",
    .top_parse = top_parse,
    .top_free = top_free,
    .route_parse = route_parse,
    .listener_parse = listener_parse,
    .route_settle = route_settle,
    .top_print = top_print,
    .route_print = route_print,
    .listener_print = listener_print,
    .top_sec = &top_sec,
    .route_sec = &route_sec,
    .worker_words = sizeof(struct sl_trace_wcounts) / sizeof(uint64_t),
    .families = families,
    .nfamilies = SL_NELEM(families),
    .families_always = 1,
};
