/* SPDX-License-Identifier: MIT */
/*
 * The admin's /metrics page (Prometheus text format): the workers'
 * counters summed, the running generation's listeners, routes, rate
 * limits and clusters, the process's own figures, and the counters an
 * upgrade carried over from the process this one took over from. Main
 * thread; it only reads counters (atomics) and the generation, performs
 * no network I/O and never touches a worker's connections or calls
 * admin.c, whose listener serves the page.
 */
#include "admin.h"

#include <dirent.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin_int.h"
#include "grpc.h"
#include "h1_parse.h"
#include "h2.h"
#include "proxyproto.h"
#include "resolve.h"
#include "retry.h"
#include "runtime.h"
#include "tls.h"
#include "tunnel.h"
#include "util.h"
#include "wloop.h"

/* The worker's counters are sized by core's copies of these counts. */
_Static_assert(SL_H1_R_NREASONS == SL_WSTAT_H1_REASONS,
	       "wloop.h's SL_WSTAT_H1_REASONS is h1_parse.h's "
	       "SL_H1_R_NREASONS");
_Static_assert(SL_H2_NREFUSALS == SL_WSTAT_H2_REFUSALS,
	       "wloop.h's SL_WSTAT_H2_REFUSALS is h2.h's SL_H2_NREFUSALS");

/* TLS listeners: handshakes, resumptions, failures by reason. */
static void
metrics_tls(struct sbuf *b, const struct sl_conf *c)
{
	int any = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		any |= c->listeners[i].tls.ctx != NULL;
	if (!any)
		return;
	sb_printf(b, "# HELP sluice_tls_handshakes_total TLS handshakes "
		     "completed with clients.\n# TYPE "
		     "sluice_tls_handshakes_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls.ctx != NULL)
			sb_printf(
			    b,
			    "sluice_tls_handshakes_total{listener=\"%s\"} "
			    "%llu\n",
			    c->listeners[i].name,
			    (unsigned long long)load(
				&c->listeners[i].counters->tls_handshakes));
	sb_printf(b, "# HELP sluice_tls_resumed_total TLS handshakes that "
		     "resumed a session (ticket or cache).\n# TYPE "
		     "sluice_tls_resumed_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls.ctx != NULL)
			sb_printf(b,
				  "sluice_tls_resumed_total{listener=\"%s\"} "
				  "%llu\n",
				  c->listeners[i].name,
				  (unsigned long long)load(
				      &c->listeners[i].counters->tls_resumed));
	sb_printf(b, "# HELP sluice_tls_handshake_failures_total TLS "
		     "handshakes with clients that failed, by reason.\n# "
		     "TYPE sluice_tls_handshake_failures_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		if (c->listeners[i].tls.ctx == NULL)
			continue;
		for (int f = 0; f < SL_TLS_NFAIL; f++)
			sb_printf(
			    b,
			    "sluice_tls_handshake_failures_total{"
			    "listener=\"%s\",reason=\"%s\"} %llu\n",
			    c->listeners[i].name, sl_tls_fail_str(f),
			    (unsigned long long)load(
				&c->listeners[i].counters->tls_failures[f]));
	}
}

/* identity: PROXY protocol listeners, headers accepted and connections
 * refused by reason (doc/edge.md section 2). */
static void
metrics_proxy_protocol(struct sbuf *b, const struct sl_conf *c)
{
	static const char *const cmd[2] = {"proxy", "local"};
	int any = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		any |= c->listeners[i].proxy_protocol.enabled;
	if (!any)
		return;
	sb_printf(b, "# HELP sluice_proxy_protocol_total PROXY protocol "
		     "headers accepted, by command (proxy: it named the "
		     "client; local: the connection's own peer stands).\n"
		     "# TYPE sluice_proxy_protocol_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct sl_conf_listener *l = &c->listeners[i];
		if (!l->proxy_protocol.enabled)
			continue;
		for (int k = 0; k < 2; k++)
			sb_printf(b,
				  "sluice_proxy_protocol_total{listener=\"%s\","
				  "command=\"%s\"} %llu\n",
				  l->name, cmd[k],
				  (unsigned long long)load(
				      &l->counters->pp_accepted[k]));
	}
	sb_printf(b, "# HELP sluice_proxy_protocol_errors_total Connections "
		     "closed for their PROXY protocol header, by reason.\n"
		     "# TYPE sluice_proxy_protocol_errors_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct sl_conf_listener *l = &c->listeners[i];
		if (!l->proxy_protocol.enabled)
			continue;
		for (int e = 0; e < SL_PP_NERRORS; e++)
			sb_printf(b,
				  "sluice_proxy_protocol_errors_total{"
				  "listener=\"%s\",reason=\"%s\"} %llu\n",
				  l->name, sl_pp_error_str((enum sl_pp_error)e),
				  (unsigned long long)load(
				      &l->counters->pp_errors[e]));
	}
}

static void
page_listeners(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;

	sb_printf(b, "# HELP sluice_listener_connections Client connections "
		     "open on a listener.\n# TYPE sluice_listener_connections "
		     "gauge\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		sb_printf(
		    b,
		    "sluice_listener_connections{listener=\"%s\"} "
		    "%llu\n",
		    c->listeners[i].name,
		    (unsigned long long)load(&c->listeners[i].state->conns));
	sb_printf(b, "# HELP sluice_listener_requests_total Requests a "
		     "listener answered or cut.\n# TYPE "
		     "sluice_listener_requests_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		sb_printf(b,
			  "sluice_listener_requests_total{listener=\"%s\"} "
			  "%llu\n",
			  c->listeners[i].name,
			  (unsigned long long)counts_sum(
			      v, c->listeners[i].counters->counts,
			      COUNT_OFF(requests)));
	sb_printf(b, "# HELP sluice_listener_responses_total Responses of a "
		     "listener by status class (local errors included).\n"
		     "# TYPE sluice_listener_responses_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (int cls = 1; cls <= 5; cls++)
			sb_printf(b,
				  "sluice_listener_responses_total{listener="
				  "\"%s\",class=\"%dxx\"} %llu\n",
				  c->listeners[i].name, cls,
				  (unsigned long long)counts_sum(
				      v, c->listeners[i].counters->counts,
				      COUNT_OFF(responses) +
					  (size_t)cls *
					      sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_client_closed_total Client connections "
		     "closed, by listener and kind of reason.\n# TYPE "
		     "sluice_client_closed_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (int k = 0; k < SL_CLOSE_NKINDS; k++)
			sb_printf(
			    b,
			    "sluice_client_closed_total{listener=\"%s\","
			    "reason=\"%s\"} %llu\n",
			    c->listeners[i].name,
			    sl_close_kind_str((enum sl_close_kind)k),
			    (unsigned long long)counts_sum(
				v, c->listeners[i].counters->counts,
				COUNT_OFF(closed) +
				    (size_t)k * sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_connections_rejected_total Connections "
		     "closed at accept by a listener limit.\n# TYPE "
		     "sluice_connections_rejected_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		struct sl_lcstate *st = c->listeners[i].counters;
		sb_printf(b,
			  "sluice_connections_rejected_total{listener=\"%s\","
			  "reason=\"max_connections\"} %llu\n"
			  "sluice_connections_rejected_total{listener=\"%s\","
			  "reason=\"max_connections_per_ip\"} %llu\n",
			  c->listeners[i].name,
			  (unsigned long long)load(&st->rejected_max),
			  c->listeners[i].name,
			  (unsigned long long)load(&st->rejected_per_ip));
	}
	sb_printf(b, "# HELP sluice_tunnels_rejected_total Upgrades refused "
		     "with 503 by a listener's max_tunnels or "
		     "max_tunnels_per_ip.\n# TYPE "
		     "sluice_tunnels_rejected_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		sb_printf(
		    b,
		    "sluice_tunnels_rejected_total{listener=\"%s\","
		    "reason=\"max_tunnels\"} %llu\n"
		    "sluice_tunnels_rejected_total{listener=\"%s\","
		    "reason=\"max_tunnels_per_ip\"} %llu\n",
		    c->listeners[i].name,
		    (unsigned long long)load(
			&c->listeners[i].counters->rejected_tunnels),
		    c->listeners[i].name,
		    (unsigned long long)load(
			&c->listeners[i].counters->rejected_tunnels_per_ip));
	metrics_tls(b, c);
	metrics_proxy_protocol(b, c);
}

/* 1 when endpoint e is ejected now. */
static int
ejected(const struct sl_conf_cluster *cl, const struct sl_conf_endpoint *e)
{
	return cl->outlier.enabled &&
	       load(&e->state->ejected_until_ms) > sl_now_ms();
}

/* Retries, their refusals, health and ejections (doc/reliability.md). */
static void
page_reliability(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;

	sb_printf(b, "# HELP sluice_cluster_retries_total Failed attempts "
		     "tried again, by retry class (1: nothing was sent, 2: "
		     "sent, no answer seen).\n# TYPE "
		     "sluice_cluster_retries_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (int k = 1; k <= 2; k++)
			sb_printf(b,
				  "sluice_cluster_retries_total{cluster=\"%s\","
				  "class=\"%d\"} %llu\n",
				  c->clusters[i].name, k,
				  (unsigned long long)load(
				      &c->clusters[i].state->retries[k]));
	sb_printf(b, "# HELP sluice_cluster_not_retried_total Failed "
		     "attempts not tried again, by reason (not_on, not_safe, "
		     "no_attempts, body_too_large, no_budget, no_time).\n"
		     "# TYPE sluice_cluster_not_retried_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (int k = SL_RETRY_NOT_ON; k < SL_RETRY_NVERDICTS; k++)
			sb_printf(
			    b,
			    "sluice_cluster_not_retried_total{cluster=\"%s\","
			    "reason=\"%s\"} %llu\n",
			    c->clusters[i].name,
			    sl_retry_verdict_str((enum sl_retry_verdict)k),
			    (unsigned long long)load(
				&c->clusters[i].state->not_retried[k]));
	sb_printf(b, "# HELP sluice_cluster_no_healthy_total Requests "
		     "answered 503 no_healthy_upstream: every endpoint "
		     "unhealthy or ejected.\n# TYPE "
		     "sluice_cluster_no_healthy_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		sb_printf(b,
			  "sluice_cluster_no_healthy_total{cluster=\"%s\"} "
			  "%llu\n",
			  c->clusters[i].name,
			  (unsigned long long)load(
			      &c->clusters[i].state->no_healthy));
	sb_printf(b, "# HELP sluice_endpoint_healthy 1 when an endpoint may "
		     "take requests by its health checks (always 1 without "
		     "health_check).\n# TYPE sluice_endpoint_healthy gauge\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (size_t j = 0; j < c->clusters[i].nendpoints; j++) {
			const struct sl_conf_endpoint *e =
			    &c->clusters[i].endpoints[j];
			sb_printf(b,
				  "sluice_endpoint_healthy{cluster=\"%s\","
				  "endpoint=\"%s\"} %d\n",
				  c->clusters[i].name, e->addr.text,
				  !(c->clusters[i].health.enabled &&
				    atomic_load(&e->state->unhealthy)));
		}
	sb_printf(b, "# HELP sluice_endpoint_ejected 1 while an endpoint is "
		     "ejected by outlier detection.\n# TYPE "
		     "sluice_endpoint_ejected gauge\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (size_t j = 0; j < c->clusters[i].nendpoints; j++)
			sb_printf(b,
				  "sluice_endpoint_ejected{cluster=\"%s\","
				  "endpoint=\"%s\"} %d\n",
				  c->clusters[i].name,
				  c->clusters[i].endpoints[j].addr.text,
				  ejected(&c->clusters[i],
					  &c->clusters[i].endpoints[j]));
	sb_printf(b, "# HELP sluice_endpoint_ejections_total Times an "
		     "endpoint was ejected.\n# TYPE "
		     "sluice_endpoint_ejections_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (size_t j = 0; j < c->clusters[i].nendpoints; j++)
			sb_printf(
			    b,
			    "sluice_endpoint_ejections_total{cluster="
			    "\"%s\",endpoint=\"%s\"} %llu\n",
			    c->clusters[i].name,
			    c->clusters[i].endpoints[j].addr.text,
			    (unsigned long long)load(
				&c->clusters[i].endpoints[j].state->ejections));
	sb_printf(b, "# HELP sluice_health_checks_total Active health checks "
		     "by result (clusters with health_check).\n# TYPE "
		     "sluice_health_checks_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++) {
		if (!c->clusters[i].health.enabled)
			continue;
		for (size_t j = 0; j < c->clusters[i].nendpoints; j++) {
			const struct sl_conf_endpoint *e =
			    &c->clusters[i].endpoints[j];
			sb_printf(
			    b,
			    "sluice_health_checks_total{cluster=\"%s\","
			    "endpoint=\"%s\",result=\"ok\"} %llu\n"
			    "sluice_health_checks_total{cluster=\"%s\","
			    "endpoint=\"%s\",result=\"failed\"} %llu\n",
			    c->clusters[i].name, e->addr.text,
			    (unsigned long long)load(&e->state->checks_ok),
			    c->clusters[i].name, e->addr.text,
			    (unsigned long long)load(&e->state->checks_failed));
		}
	}
}

/* Endpoints by name (doc/fleet.md section 2): every cluster's endpoints,
 * and for each name its lookups, addresses and the age of its answer. */
static void
metrics_dns(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;
	uint64_t now = sl_now_ms();
	int any = 0;

	sb_printf(b, "# HELP sluice_cluster_endpoints Endpoints of a cluster "
		     "in the running generation (written ones and what its "
		     "names resolve to).\n# TYPE sluice_cluster_endpoints "
		     "gauge\n");
	for (size_t i = 0; i < c->nclusters; i++) {
		sb_printf(b, "sluice_cluster_endpoints{cluster=\"%s\"} %zu\n",
			  c->clusters[i].name, c->clusters[i].nendpoints);
		any |= c->clusters[i].nnames > 0;
	}
	sb_printf(b,
		  "# HELP sluice_dns_updates_total Generations made "
		  "because a name's answer changed.\n# TYPE "
		  "sluice_dns_updates_total counter\n"
		  "sluice_dns_updates_total %llu\n",
		  (unsigned long long)v->dns_updates);
	if (!any)
		return;
	sb_printf(b, "# HELP sluice_dns_lookups_total Lookups of a cluster's "
		     "name by result.\n# TYPE sluice_dns_lookups_total "
		     "counter\n");
	for (size_t i = 0; i < c->nclusters; i++) {
		const struct sl_conf_cluster *cl = &c->clusters[i];
		for (size_t k = 0; k < cl->nnames; k++) {
			struct sl_resolver_state st;
			if (sl_resolver_state(v->resolver, cl->name,
					      cl->names[k].text, &st) == -1)
				continue;
			for (int r = 0; r < SL_DNS_NRESULTS; r++)
				sb_printf(
				    b,
				    "sluice_dns_lookups_total{cluster="
				    "\"%s\",name=\"%s\",result=\"%s\"} "
				    "%llu\n",
				    cl->name, cl->names[k].text,
				    sl_dns_result_str((enum sl_dns_result)r),
				    (unsigned long long)st.lookups[r]);
		}
	}
	sb_printf(b, "# HELP sluice_dns_addresses Addresses a name's answer "
		     "in use holds.\n# TYPE sluice_dns_addresses gauge\n");
	for (size_t i = 0; i < c->nclusters; i++) {
		const struct sl_conf_cluster *cl = &c->clusters[i];
		for (size_t k = 0; k < cl->nnames; k++) {
			struct sl_resolver_state st;
			if (sl_resolver_state(v->resolver, cl->name,
					      cl->names[k].text, &st) == 0)
				sb_printf(b,
					  "sluice_dns_addresses{cluster=\"%s\","
					  "name=\"%s\"} %zu\n",
					  cl->name, cl->names[k].text,
					  st.have ? st.naddrs : 0);
		}
	}
	sb_printf(b, "# HELP sluice_dns_answer_age_seconds Time since a "
		     "name's last good answer (none: never answered).\n"
		     "# TYPE sluice_dns_answer_age_seconds gauge\n");
	for (size_t i = 0; i < c->nclusters; i++) {
		const struct sl_conf_cluster *cl = &c->clusters[i];
		for (size_t k = 0; k < cl->nnames; k++) {
			struct sl_resolver_state st;
			if (sl_resolver_state(v->resolver, cl->name,
					      cl->names[k].text, &st) == 0 &&
			    st.good_ms != 0)
				sb_printf(b,
					  "sluice_dns_answer_age_seconds{"
					  "cluster=\"%s\",name=\"%s\"} "
					  "%.3f\n",
					  cl->name, cl->names[k].text,
					  (double)(now - st.good_ms) / 1000);
		}
	}
}

static void
page_clusters(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;

	sb_printf(b, "# HELP sluice_upstream_connections Open upstream "
		     "connections per endpoint, idle ones included.\n# TYPE "
		     "sluice_upstream_connections gauge\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (size_t j = 0; j < c->clusters[i].nendpoints; j++)
			sb_printf(
			    b,
			    "sluice_upstream_connections{cluster=\"%s\","
			    "endpoint=\"%s\"} %llu\n",
			    c->clusters[i].name,
			    c->clusters[i].endpoints[j].addr.text,
			    (unsigned long long)load(
				&c->clusters[i].endpoints[j].state->conns));
	sb_printf(b, "# HELP sluice_upstream_idle_connections Pooled idle "
		     "upstream connections per endpoint (the rest of "
		     "sluice_upstream_connections are busy or connecting).\n"
		     "# TYPE sluice_upstream_idle_connections gauge\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (size_t j = 0; j < c->clusters[i].nendpoints; j++)
			sb_printf(b,
				  "sluice_upstream_idle_connections{cluster="
				  "\"%s\",endpoint=\"%s\"} %llu\n",
				  c->clusters[i].name,
				  c->clusters[i].endpoints[j].addr.text,
				  (unsigned long long)counts_sum(
				      v,
				      c->clusters[i].endpoints[j].state->counts,
				      COUNT_OFF(idle)));
	sb_printf(b, "# HELP sluice_upstream_pending Requests waiting for an "
		     "upstream connection.\n# TYPE sluice_upstream_pending "
		     "gauge\n");
	for (size_t i = 0; i < c->nclusters; i++)
		sb_printf(
		    b, "sluice_upstream_pending{cluster=\"%s\"} %llu\n",
		    c->clusters[i].name,
		    (unsigned long long)load(&c->clusters[i].state->pending));
	sb_printf(b, "# HELP sluice_upstream_overloaded_total Requests "
		     "answered 503 because no upstream connection could be "
		     "had in time.\n# TYPE sluice_upstream_overloaded_total "
		     "counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		sb_printf(b,
			  "sluice_upstream_overloaded_total{cluster=\"%s\"} "
			  "%llu\n",
			  c->clusters[i].name,
			  (unsigned long long)load(
			      &c->clusters[i].state->overloaded));
	page_reliability(v, b);
	metrics_dns(v, b);
}

/* A duration histogram of struct sl_counts' dur, its sum in ms. */
static void
histogram(struct sbuf *b, const struct sl_admin_view *v, const char *name,
	  const char *labels, const struct sl_counts *counts)
{
	sl_admin_histogram(b, v, name, labels, counts, COUNT_OFF(dur),
			   COUNT_OFF(dur_sum_ms), 1000.0);
}

static void
page_routes(const struct sl_admin_view *v, struct sbuf *b)
{
	const struct sl_conf *c = v->conf;

	sl_admin_metrics_routes(v, b);
	sl_admin_metrics_h3(v, b);
	sl_admin_metrics_modules(v, b);
	sb_printf(b, "# HELP sluice_cluster_requests_total Requests sent to a "
		     "cluster (mirror copies included), answered or cut.\n"
		     "# TYPE sluice_cluster_requests_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		sb_printf(
		    b,
		    "sluice_cluster_requests_total{cluster=\"%s\"} "
		    "%llu\n",
		    c->clusters[i].name,
		    (unsigned long long)counts_sum(
			v, c->clusters[i].state->counts, COUNT_OFF(requests)));
	sb_printf(b, "# HELP sluice_cluster_responses_total Responses of a "
		     "cluster's requests by status class (local errors such "
		     "as 502 and 504 included).\n# TYPE "
		     "sluice_cluster_responses_total counter\n");
	for (size_t i = 0; i < c->nclusters; i++)
		for (int cls = 1; cls <= 5; cls++)
			sb_printf(
			    b,
			    "sluice_cluster_responses_total{cluster=\"%s\","
			    "class=\"%dxx\"} %llu\n",
			    c->clusters[i].name, cls,
			    (unsigned long long)counts_sum(
				v, c->clusters[i].state->counts,
				COUNT_OFF(responses) +
				    (size_t)cls *
					sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_upstream_response_seconds Time from a "
		     "request's first upstream attempt to the last byte of "
		     "its answer (retries included), by cluster.\n# TYPE "
		     "sluice_upstream_response_seconds histogram\n");
	for (size_t i = 0; i < c->nclusters; i++) {
		char labels[96];
		snprintf(labels, sizeof(labels), "cluster=\"%s\"",
			 c->clusters[i].name);
		histogram(b, v, "sluice_upstream_response_seconds", labels,
			  c->clusters[i].state->counts);
	}
}

/* By protocol, and HTTP/2's own (doc/http2.md section 8). */
static void
metrics_protocols(const struct sl_admin_view *v, struct sbuf *b)
{
	static const char *const proto[3] = {"http/1.1", "h2", "h3"};
	static const double bounds[SL_HIST_N - 1] = SL_HIST_BOUNDS;
	const size_t u = sizeof(atomic_uint_fast64_t);

	sb_printf(b, "# HELP sluice_protocol_requests_total Requests "
		     "answered or cut, by the client's protocol (http/1.1 "
		     "counts HTTP/1.0 too).\n# TYPE "
		     "sluice_protocol_requests_total counter\n");
	/* HTTP/2's and HTTP/3's are counted; HTTP/1.x's are the rest
	 * (exchange_log.c): by request, then by class */
	for (int cls = 0; cls <= 5; cls++) {
		size_t at =
		    cls == 0
			? offsetof(struct sl_worker_stats, proto_requests)
			: offsetof(struct sl_worker_stats, proto_responses) +
			      (size_t)cls * u;
		uint64_t n[3], step = cls == 0 ? u : 6 * u;
		n[0] = wsum(
		    v, cls == 0 ? offsetof(struct sl_worker_stats, requests)
				: offsetof(struct sl_worker_stats, responses) +
				      (size_t)cls * u);
		for (int p = 1; p < 3; p++)
			n[0] -= (n[p] = wsum(v, at + (size_t)p * step));
		if (cls == 1)
			sb_printf(b, "# HELP sluice_protocol_responses_total "
				     "Responses by the client's protocol and "
				     "status class.\n# TYPE "
				     "sluice_protocol_responses_total "
				     "counter\n");
		for (int p = 0; p < 3; p++)
			if (cls == 0)
				sb_printf(b,
					  "sluice_protocol_requests_total{"
					  "protocol=\"%s\"} %llu\n",
					  proto[p], (unsigned long long)n[p]);
			else
				sb_printf(b,
					  "sluice_protocol_responses_total{"
					  "protocol=\"%s\",class=\"%dxx\"} "
					  "%llu\n",
					  proto[p], cls,
					  (unsigned long long)n[p]);
	}
	sb_printf(b, "# HELP sluice_protocol_request_duration_seconds Time "
		     "from the first byte of a request's head to the end of "
		     "its exchange, by the client's protocol.\n# TYPE "
		     "sluice_protocol_request_duration_seconds histogram\n");
	for (int p = 0; p < 3; p++) {
		uint64_t cum = 0;
		size_t base = offsetof(struct sl_worker_stats, proto_dur) +
			      (size_t)p * SL_HIST_N * u;
		for (int i = 0; i < SL_HIST_N; i++) {
			cum += wsum(v, base + (size_t)i * u);
			if (i < SL_HIST_N - 1)
				sb_printf(b,
					  "sluice_protocol_request_duration_"
					  "seconds_bucket{protocol=\"%s\","
					  "le=\"%g\"} %llu\n",
					  proto[p], bounds[i] / 1000.0,
					  (unsigned long long)cum);
			else
				sb_printf(b,
					  "sluice_protocol_request_duration_"
					  "seconds_bucket{protocol=\"%s\","
					  "le=\"+Inf\"} %llu\n",
					  proto[p], (unsigned long long)cum);
		}
		sb_printf(
		    b,
		    "sluice_protocol_request_duration_seconds_sum{protocol="
		    "\"%s\"} %.3f\n"
		    "sluice_protocol_request_duration_seconds_count{protocol="
		    "\"%s\"} %llu\n",
		    proto[p],
		    (double)wsum(
			v, offsetof(struct sl_worker_stats, proto_dur_sum_ms) +
			       (size_t)p * u) /
			1000.0,
		    proto[p], (unsigned long long)cum);
	}
	sb_printf(b,
		  "# HELP sluice_http2_connections HTTP/2 client connections "
		  "open now.\n# TYPE sluice_http2_connections gauge\n"
		  "sluice_http2_connections %llu\n"
		  "# HELP sluice_http2_streams HTTP/2 streams open now (a "
		  "request being read, answered, or its end being sent).\n"
		  "# TYPE sluice_http2_streams gauge\nsluice_http2_streams "
		  "%llu\n",
		  (unsigned long long)wsum(
		      v, offsetof(struct sl_worker_stats, h2_conns)),
		  (unsigned long long)wsum(
		      v, offsetof(struct sl_worker_stats, h2_streams)));
	sb_printf(b, "# HELP sluice_http2_refused_total HTTP/2 frames, "
		     "streams and connections refused, by reason "
		     "(doc/http2.md section 5).\n# TYPE "
		     "sluice_http2_refused_total counter\n");
	for (int r = 0; r < SL_H2_NREFUSALS; r++)
		sb_printf(b, "sluice_http2_refused_total{reason=\"%s\"} %llu\n",
			  sl_h2_refusal_str((enum sl_h2_refusal)r),
			  (unsigned long long)wsum(
			      v, offsetof(struct sl_worker_stats, h2_refused) +
				     (size_t)r * u));
	/* tunnels (doc/websocket.md) */
	sb_printf(
	    b,
	    "# HELP sluice_tunnels Tunnels (WebSocket and other "
	    "upgrades) open now.\n# TYPE sluice_tunnels gauge\n"
	    "sluice_tunnels %llu\n"
	    "# HELP sluice_tunnels_opened_total Tunnels opened (an "
	    "upstream's checked 101).\n# TYPE sluice_tunnels_opened_total "
	    "counter\nsluice_tunnels_opened_total %llu\n"
	    "# HELP sluice_tunnel_bytes_total Bytes through tunnels, "
	    "from the client (in) and to it (out).\n# TYPE "
	    "sluice_tunnel_bytes_total counter\n"
	    "sluice_tunnel_bytes_total{direction=\"in\"} %llu\n"
	    "sluice_tunnel_bytes_total{direction=\"out\"} %llu\n"
	    "# HELP sluice_tunnels_closed_total Tunnels ended, by "
	    "reason.\n# TYPE sluice_tunnels_closed_total counter\n",
	    (unsigned long long)wsum(
		v, offsetof(struct sl_worker_stats, tunnels_open)),
	    (unsigned long long)wsum(
		v, offsetof(struct sl_worker_stats, tunnels_opened)),
	    (unsigned long long)wsum(
		v, offsetof(struct sl_worker_stats, tunnel_bytes_in)),
	    (unsigned long long)wsum(
		v, offsetof(struct sl_worker_stats, tunnel_bytes_out)));
	for (int r = 0; r < SL_TUN_NENDS; r++)
		sb_printf(
		    b, "sluice_tunnels_closed_total{reason=\"%s\"} %llu\n",
		    sl_tunnel_end_str((enum sl_tun_end)r),
		    (unsigned long long)wsum(
			v, offsetof(struct sl_worker_stats, tunnels_closed) +
			       (size_t)r * u));
	/* gRPC (doc/grpc.md): the statuses sluice answers with */
	sb_printf(b, "# HELP sluice_grpc_responses_total gRPC calls "
		     "answered, by who answered and gRPC status (sluice: "
		     "its own trailers-only answers).\n# TYPE "
		     "sluice_grpc_responses_total counter\n");
	{
		static const int st[] = {
		    SL_GRPC_UNKNOWN,	       SL_GRPC_DEADLINE_EXCEEDED,
		    SL_GRPC_PERMISSION_DENIED, SL_GRPC_RESOURCE_EXHAUSTED,
		    SL_GRPC_UNIMPLEMENTED,     SL_GRPC_INTERNAL,
		    SL_GRPC_UNAVAILABLE,       SL_GRPC_UNAUTHENTICATED};
		for (size_t i = 0; i < SL_NELEM(st); i++)
			sb_printf(b,
				  "sluice_grpc_responses_total{source="
				  "\"sluice\",grpc_status=\"%d\"} %llu\n",
				  st[i],
				  (unsigned long long)wsum(
				      v, offsetof(struct sl_worker_stats,
						  grpc_local) +
					     (size_t)st[i] * u));
		/* the upstreams' (HTTP/2 clusters), every status; slot 17
		 * counts those outside 0..16, "other" (sluice(8)) */
		for (int g = 0; g <= 17; g++) {
			char name[8];
			if (g == 17)
				snprintf(name, sizeof(name), "other");
			else
				snprintf(name, sizeof(name), "%d", g);
			sb_printf(b,
				  "sluice_grpc_responses_total{source="
				  "\"upstream\",grpc_status=\"%s\"} %llu\n",
				  name,
				  (unsigned long long)wsum(
				      v, offsetof(struct sl_worker_stats,
						  grpc_upstream) +
					     (size_t)g * u));
		}
	}
}

/* What the Prometheus clients call process_*, and the build. Read from
 * /proc at scrape time: nothing on the request path. */
static void
metrics_process(const struct sl_admin_view *v, struct sbuf *b)
{
	static time_t start;
	long pages = 0, page = sysconf(_SC_PAGESIZE);
	unsigned long long utime = 0, stime = 0;
	long ticks = sysconf(_SC_CLK_TCK);
	unsigned fds = 0;
	char line[1024];
	struct dirent *de;
	FILE *f;
	DIR *d;

	if (start == 0)
		start =
		    time(NULL) - (time_t)((sl_now_ms() - v->start_ms) / 1000);
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%*s %ld", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	if ((f = fopen("/proc/self/stat", "r")) != NULL) {
		/* after the command's closing parenthesis: fields 3.. */
		if (fgets(line, sizeof(line), f) != NULL) {
			const char *p = strrchr(line, ')');
			if (p == NULL ||
			    sscanf(p + 2,
				   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				   "%*u %llu %llu",
				   &utime, &stime) != 2)
				utime = stime = 0;
		}
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			fds += de->d_name[0] != '.';
		closedir(d);
		fds--; /* the directory's own */
	}
	sb_printf(b,
		  "# HELP process_start_time_seconds Start time of the "
		  "process since the Unix epoch in seconds.\n# TYPE "
		  "process_start_time_seconds gauge\n"
		  "process_start_time_seconds %lld\n"
		  "# HELP process_cpu_seconds_total User and system CPU time "
		  "spent in seconds.\n# TYPE process_cpu_seconds_total "
		  "counter\nprocess_cpu_seconds_total %.2f\n"
		  "# HELP process_open_fds Number of open file descriptors.\n"
		  "# TYPE process_open_fds gauge\nprocess_open_fds %u\n"
		  "# HELP process_resident_memory_bytes Resident memory size "
		  "in bytes.\n# TYPE process_resident_memory_bytes gauge\n"
		  "process_resident_memory_bytes %lld\n"
		  "# HELP sluice_build_info The running build; always 1.\n"
		  "# TYPE sluice_build_info gauge\n"
		  "sluice_build_info{version=\"%s\",openssl=\"%s\"} 1\n",
		  (long long)start,
		  ticks > 0 ? (double)(utime + stime) / (double)ticks : 0.0,
		  fds, (long long)pages * page, PACKAGE_VERSION,
		  OpenSSL_version(OPENSSL_VERSION_STRING));
}

static void carry_counters(struct sbuf *page, const char *carried_text);

void
sl_admin_page_metrics(const struct sl_admin_view *v, struct sbuf *b)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
	    {"sluice_connections_accepted_total", "counter",
	     "Client connections accepted.",
	     offsetof(struct sl_worker_stats, accepted)},
	    {"sluice_connections_active", "gauge",
	     "Client connections open now.",
	     offsetof(struct sl_worker_stats, active)},
	    {"sluice_requests_total", "counter",
	     "Requests answered or cut, local responses included.",
	     offsetof(struct sl_worker_stats, requests)},
	    {"sluice_upstream_connects_total", "counter",
	     "New upstream connections opened.",
	     offsetof(struct sl_worker_stats, upstream_connects)},
	    {"sluice_upstream_reused_total", "counter",
	     "Requests sent on a pooled upstream connection.",
	     offsetof(struct sl_worker_stats, upstream_reused)},
	    {"sluice_upstream_retries_total", "counter",
	     "Upstream attempts after a failed one: retries by the "
	     "route's policy and replays after a dead pooled connection.",
	     offsetof(struct sl_worker_stats, upstream_retries)},
	    {"sluice_upstream_failures_total", "counter",
	     "Upstream connect failures, resets, timeouts and bad responses.",
	     offsetof(struct sl_worker_stats, upstream_failures)},
	    {"sluice_client_received_bytes_total", "counter",
	     "Bytes read from clients (plain text under TLS).",
	     offsetof(struct sl_worker_stats, client_bytes_in)},
	    {"sluice_client_sent_bytes_total", "counter",
	     "Bytes written to clients (plain text under TLS).",
	     offsetof(struct sl_worker_stats, client_bytes_out)},
	    {"sluice_upstream_received_bytes_total", "counter",
	     "Bytes read from upstreams, mirror copies' answers included.",
	     offsetof(struct sl_worker_stats, upstream_bytes_in)},
	    {"sluice_upstream_sent_bytes_total", "counter",
	     "Bytes written to upstreams, mirror copies included.",
	     offsetof(struct sl_worker_stats, upstream_bytes_out)},
	    {"sluice_spliced_bytes_total", "counter",
	     "Request body bytes moved from client to upstream sockets by "
	     "splice(2), never copied through sluice (also counted as "
	     "received and sent).",
	     offsetof(struct sl_worker_stats, spliced_bytes)},
	    {"sluice_splice_no_pipe_total", "counter",
	     "Request bodies that could have been spliced but went through "
	     "the buffer: every pipe of the worker was in use, or none could "
	     "be made.",
	     offsetof(struct sl_worker_stats, splice_no_pipe)},
	    {"sluice_connections_parked", "gauge",
	     "Of the open client connections, those idle long enough to be "
	     "parked (their read event given back).",
	     offsetof(struct sl_worker_stats, parked)},
	    {"sluice_buffer_bytes", "gauge",
	     "Bytes of I/O buffers held by connections now (sampled every "
	     "200 ms; the workers' free lists are not included).",
	     offsetof(struct sl_worker_stats, buffer_bytes)},
	};

	for (size_t i = 0; i < SL_NELEM(m); i++)
		sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", m[i].name,
			  m[i].help, m[i].name, m[i].type, m[i].name,
			  (unsigned long long)wsum(v, m[i].off));
	sb_printf(b, "# HELP sluice_responses_total Responses by status "
		     "class.\n# TYPE sluice_responses_total counter\n");
	for (int cls = 1; cls <= 5; cls++)
		sb_printf(
		    b, "sluice_responses_total{class=\"%dxx\"} %llu\n", cls,
		    (unsigned long long)wsum(
			v, offsetof(struct sl_worker_stats, responses) +
			       (size_t)cls * sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_client_timeouts_total Client connections "
		     "cut for being slow or silent, by reason.\n# TYPE "
		     "sluice_client_timeouts_total counter\n");
	for (int r = 0; r < SL_TO_NREASONS; r++)
		sb_printf(b,
			  "sluice_client_timeouts_total{reason=\"%s\"} %llu\n",
			  sl_timeout_reason_str((enum sl_timeout_reason)r),
			  (unsigned long long)wsum(
			      v, offsetof(struct sl_worker_stats, timeouts) +
				     (size_t)r * sizeof(atomic_uint_fast64_t)));
	{
		static const char *const why[SL_UP_NCLOSE] = {
		    "done",
		    "idle_timeout",
		    "closed_by_upstream",
		    "unexpected_bytes",
		    "connect_failed",
		    "shed",
		};
		sb_printf(b, "# HELP sluice_upstream_closed_total Upstream "
			     "connections sluice closed, by reason.\n# TYPE "
			     "sluice_upstream_closed_total counter\n");
		for (int r = 0; r < SL_UP_NCLOSE; r++)
			sb_printf(b,
				  "sluice_upstream_closed_total{reason=\"%s\"} "
				  "%llu\n",
				  why[r],
				  (unsigned long long)wsum(
				      v, offsetof(struct sl_worker_stats,
						  upstream_closed) +
					     (size_t)r *
						 sizeof(atomic_uint_fast64_t)));
	}
	sb_printf(b, "# HELP sluice_requests_rejected_total Requests refused "
		     "as malformed, over a limit or by an address rule (4xx, "
		     "501, 505), by the rule they broke.\n# TYPE "
		     "sluice_requests_rejected_total counter\n");
	/* the rules a request can break; the last few are responses' */
	for (int r = SL_H1_R_NONE + 1; r <= SL_H1_R_MISDIRECTED; r++)
		sb_printf(b,
			  "sluice_requests_rejected_total{reason=\"%s\"} "
			  "%llu\n",
			  sl_h1_reason_str((enum sl_h1_reason)r),
			  (unsigned long long)wsum(
			      v, offsetof(struct sl_worker_stats, rejected) +
				     (size_t)r * sizeof(atomic_uint_fast64_t)));
	metrics_protocols(v, b);
	page_listeners(v, b);
	page_routes(v, b);
	page_clusters(v, b);
	sb_printf(b,
		  "# HELP sluice_config_generation Generation of the "
		  "running configuration.\n# TYPE sluice_config_generation "
		  "gauge\nsluice_config_generation %llu\n",
		  (unsigned long long)v->conf->generation);
	{
		/* what every worker serves: a reload has taken once this
		 * equals sluice_config_generation (the workers take a new
		 * generation in their own loops, a moment after it is
		 * counted) */
		uint64_t applied = v->conf->generation;

		for (unsigned i = 0; i < v->nworkers; i++)
			applied = SL_MIN(
			    applied,
			    (uint64_t)atomic_load(&v->workers[i]->applied_gen));
		sb_printf(b,
			  "# HELP sluice_config_generation_applied The "
			  "generation every worker serves.\n# TYPE "
			  "sluice_config_generation_applied gauge\n"
			  "sluice_config_generation_applied %llu\n",
			  (unsigned long long)applied);
	}
	sb_printf(b,
		  "# HELP sluice_reloads_total Configuration reloads by "
		  "result.\n# TYPE sluice_reloads_total counter\n"
		  "sluice_reloads_total{result=\"ok\"} %llu\n"
		  "sluice_reloads_total{result=\"failed\"} %llu\n",
		  (unsigned long long)v->reloads_ok,
		  (unsigned long long)v->reloads_failed);
	sb_printf(b,
		  "# HELP sluice_config_watch_reloads_total Reloads the "
		  "watch started: the file or one it names changed (counted "
		  "in sluice_reloads_total too).\n# TYPE "
		  "sluice_config_watch_reloads_total counter\n"
		  "sluice_config_watch_reloads_total %llu\n",
		  (unsigned long long)v->watch_reloads);
	sb_printf(b,
		  "# HELP sluice_workers Worker threads.\n# TYPE "
		  "sluice_workers gauge\nsluice_workers %u\n",
		  v->nworkers);
	sb_printf(b,
		  "# HELP sluice_uptime_seconds Seconds since start.\n"
		  "# TYPE sluice_uptime_seconds gauge\n"
		  "sluice_uptime_seconds %llu\n",
		  (unsigned long long)((sl_now_ms() - v->start_ms) / 1000));
	sb_printf(b,
		  "# HELP sluice_upgrades_total Binary upgrades (hand-overs "
		  "to a new process) by result.\n"
		  "# TYPE sluice_upgrades_total counter\n"
		  "sluice_upgrades_total{result=\"ok\"} %llu\n"
		  "sluice_upgrades_total{result=\"failed\"} %llu\n",
		  (unsigned long long)v->upgrades_ok,
		  (unsigned long long)v->upgrades_failed);
	metrics_process(v, b);
	if (v->carried != NULL)
		carry_counters(b, v->carried);
}

/* ---- counters carried over an upgrade ----------------------------------
 *
 * A process that took over from another (doc/upgrade.md) shows the old
 * one's counters added to its own: every sample of a counter or a
 * histogram family, by its name and labels, but the process_* families,
 * which describe one process. The old process's page is the text it sent
 * (with what it carried itself, so a chain of upgrades adds up).
 */

struct carried {
	char *key; /* "name{labels}", in the page's text */
	double v;
};

static int
carried_cmp(const void *a, const void *b)
{
	return strcmp(((const struct carried *)a)->key,
		      ((const struct carried *)b)->key);
}

/* The family of a sample name that counts up, given the page's TYPE
 * lines in types (a "\n"-separated list of "name type"). */
static int
counts_up(const char *types, const char *name, size_t n)
{
	static const char *const suffix[] = {"_bucket", "_sum", "_count"};

	if (n >= 8 && strncmp(name, "process_", 8) == 0)
		return 0;
	for (int pass = 0; pass < 4; pass++) {
		size_t k = n;
		const char *p = types;
		if (pass > 0) {
			size_t sl = strlen(suffix[pass - 1]);
			if (n <= sl ||
			    strncmp(name + n - sl, suffix[pass - 1], sl) != 0)
				continue;
			k = n - sl;
		}
		/* each line of types: "family type" */
		for (; *p != '\0'; p = strchr(p, '\n') + 1) {
			const char *t = p + k + 1;
			if (strncmp(p, name, k) != 0 || p[k] != ' ')
				continue;
			if (pass == 0 && strncmp(t, "counter\n", 8) == 0)
				return 1;
			if (strncmp(t, "histogram\n", 10) == 0 ||
			    strncmp(t, "summary\n", 8) == 0)
				return 1;
		}
	}
	return 0;
}

/* "name type\n" of each "# TYPE name type" line of text. Returns a
 * malloc'd string or NULL. */
static char *
type_lines(const char *text)
{
	struct sbuf t = {0};
	const char *p = text;

	sb_printf(&t, "%s", "");
	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > 7 && strncmp(p, "# TYPE ", 7) == 0)
			sb_printf(&t, "%.*s\n", (int)(n - 7), p + 7);
		p = nl ? nl + 1 : NULL;
	}
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* The samples of carried text that count up, sorted by key. */
static struct carried *
carried_parse(const char *text, size_t *np)
{
	char *types = type_lines(text);
	struct carried *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = text;

	*np = 0;
	if (types == NULL)
		return NULL;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n'), *sp, *brace;
		size_t len = nl ? (size_t)(nl - p) : strlen(p), nlen;
		char *end;
		double d;

		if (len == 0 || p[0] == '#')
			goto next;
		sp = memrchr(p, ' ', len);
		if (sp == NULL)
			goto next;
		brace = memchr(p, '{', (size_t)(sp - p));
		nlen = (size_t)((brace ? brace : sp) - p);
		if (!counts_up(types, p, nlen))
			goto next;
		d = strtod(sp + 1, &end);
		if (end == sp + 1)
			goto next;
		if (n == cap) {
			struct carried *nv;
			cap = cap ? cap * 2 : 256;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[n].key = strndup(p, (size_t)(sp - p))) == NULL)
			break;
		v[n++].v = d;
	next:
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	free(types);
	if (v != NULL)
		qsort(v, n, sizeof(*v), carried_cmp);
	*np = n;
	return v;
}

/* Rewrites page (its own samples) with carried's counts added. */
static void
carry_counters(struct sbuf *page, const char *carried_text)
{
	size_t n, len = page->len;
	struct carried *c = carried_parse(carried_text, &n);
	char *types = NULL, *text = page->p;
	struct sbuf out = {0};
	const char *p = text;

	if (c == NULL || page->failed || (types = type_lines(text)) == NULL)
		goto done;
	sb_printf(&out, "%s", "");
	while (p < text + len) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		const char *sp = p[0] != '#' ? memrchr(p, ' ', l) : NULL;
		struct carried key, *hit = NULL;
		char kbuf[1024];

		if (sp != NULL && (size_t)(sp - p) < sizeof(kbuf)) {
			const char *brace = memchr(p, '{', (size_t)(sp - p));
			size_t nlen = (size_t)((brace ? brace : sp) - p);
			memcpy(kbuf, p, (size_t)(sp - p));
			kbuf[sp - p] = '\0';
			key.key = kbuf;
			if (counts_up(types, p, nlen))
				hit = bsearch(&key, c, n, sizeof(*c),
					      carried_cmp);
		}
		if (hit != NULL) {
			double d = strtod(sp + 1, NULL) + hit->v;
			if (memchr(sp + 1, '.', l - (size_t)(sp + 1 - p)) ==
				NULL &&
			    d == (double)(unsigned long long)d)
				sb_printf(&out, "%.*s %.0f\n", (int)(sp - p), p,
					  d);
			else
				sb_printf(&out, "%.*s %.3f\n", (int)(sp - p), p,
					  d);
		} else
			sb_printf(&out, "%.*s\n", (int)l, p);
		p += l + 1;
	}
	if (!out.failed) {
		free(page->p);
		*page = out;
		out.p = NULL;
	}
done:
	free(out.p);
	free(types);
	for (size_t i = 0; i < n; i++)
		free(c[i].key);
	free(c);
}

char *
sl_admin_metrics(const struct sl_admin_view *v)
{
	struct sbuf b = {0};

	sl_admin_page_metrics(v, &b);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}