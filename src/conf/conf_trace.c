/* SPDX-License-Identifier: MIT */
/*
 * tracing: at the top level, a route's tracing: and a listener's
 * trace_context: (doc/operations.md, "Tracing").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "hdrrule.h"
#include "policy.h"

#define ROUTE_TRACE_DEFAULT SL_CONF_TRACE_DEFAULT

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
const struct sl_conf_keydef sl_conf_tracing_table[] = {
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

void
sl_conf_parse_tracing(struct sl_yaml_loader *ld, const struct sl_yaml_node *map,
		      struct sl_conf *conf)
{
	struct sl_conf_tracing *t;
	const struct sl_yaml_node *c;

	if (sl_yaml_get_map(ld, "tracing", map) == -1)
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		ld->oom = 1;
		return;
	}
	conf->tracing = t;
	sl_conf_check_keys(ld, map, SL_CONF_SEC_TRACING);
	sl_conf_table_defaults(sl_conf_tracing_table, t);
	t->sample = 1000000;
	sl_conf_table_read(ld, NULL, map, sl_conf_tracing_table, t, NULL);
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

void
sl_conf_free_tracing(struct sl_conf_tracing *t)
{
	if (t == NULL)
		return;
	free(t->path);
	free(t->service_name);
	free(t);
}

void
sl_conf_parse_route_tracing(struct sl_yaml_loader *ld, const char *lbl,
			    const struct sl_yaml_node *v,
			    struct sl_conf_route *r, const struct sl_conf *conf)
{
	const struct sl_yaml_node *s;
	int on;

	if (conf->tracing == NULL) {
		sl_yaml_err_node(ld, v,
				 "%s: \"tracing\" needs the top-level "
				 "\"tracing\" (where spans go)",
				 lbl);
		return;
	}
	if (v->type != SL_YAML_NODE_MAP) {
		if (sl_conf_get_bool(ld, "tracing", v, &on) == 0)
			r->trace_sample = on ? ROUTE_TRACE_DEFAULT : 0;
		return;
	}
	sl_conf_check_keys(ld, v, SL_CONF_SEC_ROUTE_TRACING);
	if ((s = sl_yaml_map_get(v, "sample", NULL)) != NULL) {
		uint32_t ppm;
		if (get_ratio(ld, "sample", s, &ppm) == 0)
			r->trace_sample = 1 + ppm;
	}
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

void
sl_conf_settle_tracing(struct sl_yaml_loader *ld, struct sl_conf *conf)
{
	for (size_t i = 0; i < conf->nlisteners; i++) {
		struct sl_conf_listener *l = &conf->listeners[i];
		for (size_t j = 0; j < l->nroutes; j++) {
			struct sl_conf_route *r = &l->routes[j];
			if (conf->tracing == NULL ||
			    l->trace_context == SL_TRACE_CTX_OFF)
				r->trace_sample = 0;
			else if (r->trace_sample == ROUTE_TRACE_DEFAULT)
				r->trace_sample = 1 + conf->tracing->sample;
			if (r->trace_sample != 0)
				check_rules(ld, r);
		}
	}
}
