/* SPDX-License-Identifier: MIT */
/*
 * /metrics' families of the routes' requests, responses and durations
 * (admin.route_metrics, doc/operations.md "A platform's size"): a series
 * per route, or their sums per listener with route="*", and the line the
 * log says which with. Reads counters; writes text only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

int
sl_admin_route_series(const struct sl_conf *c)
{
	switch (c->route_metrics) {
	case SL_ROUTE_METRICS_ON:
		return 1;
	case SL_ROUTE_METRICS_OFF:
		return 0;
	default:
		return c->nroutes <= SL_ROUTE_METRICS_AUTO_MAX;
	}
}

void
sl_admin_route_series_note(const struct sl_conf *c,
			   struct sl_admin_rm_seen *seen)
{
	static const char *const mode[] = {"auto", "on", "off"};
	int each = sl_admin_route_series(c);

	if (seen->said && seen->loaded_at == (long long)c->loaded_at &&
	    seen->nroutes == c->nroutes && strcmp(seen->sha256, c->sha256) == 0)
		return;
	seen->said = 1;
	seen->loaded_at = (long long)c->loaded_at;
	seen->nroutes = c->nroutes;
	snprintf(seen->sha256, sizeof(seen->sha256), "%s", c->sha256);
	if (c->route_metrics != SL_ROUTE_METRICS_AUTO)
		log_info("admin: /metrics: %s per route (admin.route_metrics: "
			 "%s, %zu routes)",
			 each ? "a series"
			      : "route=\"*\" per listener, no series",
			 mode[c->route_metrics], c->nroutes);
	else
		log_info("admin: /metrics: %s per route (admin.route_metrics: "
			 "auto, %zu routes, %s %d)",
			 each ? "a series"
			      : "route=\"*\" per listener, no series",
			 c->nroutes, each ? "at most" : "more than",
			 SL_ROUTE_METRICS_AUTO_MAX);
}

/* A listener's routes' counters added up: what /metrics writes with
 * route="*" when it writes no per-route series. */
struct route_sums {
	uint64_t requests, responses[6], dur[SL_HIST_N], dur_sum_ms;
};

static void
route_sums(const struct sl_admin_view *v, const struct sl_conf_listener *l,
	   struct route_sums *s)
{
	const size_t u = sizeof(atomic_uint_fast64_t);

	memset(s, 0, sizeof(*s));
	for (size_t j = 0; j < l->nroutes; j++) {
		const struct sl_counts *rc = l->routes[j].state->counts;
		s->requests += counts_sum(v, rc, COUNT_OFF(requests));
		for (size_t k = 1; k < 6; k++)
			s->responses[k] +=
			    counts_sum(v, rc, COUNT_OFF(responses) + k * u);
		for (size_t k = 0; k < SL_HIST_N; k++)
			s->dur[k] += counts_sum(v, rc, COUNT_OFF(dur) + k * u);
		s->dur_sum_ms += counts_sum(v, rc, COUNT_OFF(dur_sum_ms));
	}
}

/* How many names each route's hosts_file held at the running
 * generation's load, per route whatever route_metrics says (such routes
 * are few): a generator's output that lost half its merchants shows. No
 * family without such a route. */
static void
hosts_files(const struct sl_conf *c, struct sbuf *b)
{
	int head = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			if (r->hosts == NULL)
				continue;
			if (!head++)
				sb_printf(
				    b, "# HELP sluice_route_hosts_file_names "
				       "Names a route's hosts_file held at "
				       "the running generation's load.\n"
				       "# TYPE sluice_route_hosts_file_names "
				       "gauge\n");
			sb_printf(
			    b,
			    "sluice_route_hosts_file_names{listener=\"%s\","
			    "route=\"%s\"} %zu\n",
			    c->listeners[i].name, r->name, r->hosts->n);
		}
}

/*
 * The routes' requests, responses and durations: a series per route, or,
 * when sl_admin_route_series says not, one per listener with route="*",
 * the sum of its routes (doc/operations.md "A platform's size"): the
 * same names and labels, so that a query that sums by listener reads the
 * same either way.
 */
void
sl_admin_metrics_routes(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;
	int each = sl_admin_route_series(c);
	struct route_sums *sums = NULL;

	if (!each) {
		if ((sums = calloc(c->nlisteners + 1, sizeof(*sums))) == NULL) {
			b->failed = 1;
			return;
		}
		for (size_t i = 0; i < c->nlisteners; i++)
			route_sums(v, &c->listeners[i], &sums[i]);
	}
	sb_printf(b, "# HELP sluice_route_requests_total Requests a route "
		     "matched, answered or cut.\n# TYPE "
		     "sluice_route_requests_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		if (!each) {
			sb_printf(b,
				  "sluice_route_requests_total{listener=\"%s\","
				  "route=\"*\"} %llu\n",
				  c->listeners[i].name,
				  (unsigned long long)sums[i].requests);
			continue;
		}
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			sb_printf(
			    b,
			    "sluice_route_requests_total{listener=\"%s\","
			    "route=\"%s\"} %llu\n",
			    c->listeners[i].name, r->name,
			    (unsigned long long)counts_sum(
				v, r->state->counts, COUNT_OFF(requests)));
		}
	}
	sb_printf(b, "# HELP sluice_route_responses_total Responses of a "
		     "route's requests by status class.\n# TYPE "
		     "sluice_route_responses_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		if (!each) {
			for (int cls = 1; cls <= 5; cls++)
				sb_printf(
				    b,
				    "sluice_route_responses_total{"
				    "listener=\"%s\",route=\"*\","
				    "class=\"%dxx\"} %llu\n",
				    c->listeners[i].name, cls,
				    (unsigned long long)sums[i].responses[cls]);
			continue;
		}
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			for (int cls = 1; cls <= 5; cls++)
				sb_printf(
				    b,
				    "sluice_route_responses_total{listener="
				    "\"%s\",route=\"%s\",class=\"%dxx\"} "
				    "%llu\n",
				    c->listeners[i].name, r->name, cls,
				    (unsigned long long)counts_sum(
					v, r->state->counts,
					COUNT_OFF(responses) +
					    (size_t)cls *
						sizeof(atomic_uint_fast64_t)));
		}
	}
	sb_printf(b, "# HELP sluice_request_duration_seconds Time from the "
		     "first byte of a request's head to the end of its "
		     "exchange, by route.\n# TYPE "
		     "sluice_request_duration_seconds histogram\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		char labels[160];
		if (!each) {
			snprintf(labels, sizeof(labels),
				 "listener=\"%s\",route=\"*\"",
				 c->listeners[i].name);
			sl_admin_histogram_of(
			    b, "sluice_request_duration_seconds", labels,
			    sums[i].dur, sums[i].dur_sum_ms, 1000.0);
			continue;
		}
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			snprintf(labels, sizeof(labels),
				 "listener=\"%s\",route=\"%s\"",
				 c->listeners[i].name, r->name);
			sl_admin_histogram(
			    b, v, "sluice_request_duration_seconds", labels,
			    r->state->counts, COUNT_OFF(dur),
			    COUNT_OFF(dur_sum_ms), 1000.0);
		}
	}
	free(sums);
	hosts_files(c, b);
}
