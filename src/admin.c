/* SPDX-License-Identifier: MIT */
/*
 * Admin HTTP endpoint on the main thread. Requests are tiny and answered
 * whole, then the connection closes: simplicity over speed, since only
 * operators and scrapers call it.
 */
#include "admin.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/crypto.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "h1_parse.h"
#include "health.h"
#include "log.h"
#include "policy.h"
#include "proxyproto.h"
#include "retry.h"
#include "runtime.h"
#include "tls.h"
#include "util.h"
#include "wloop.h"

#define ADMIN_HEAD_MAX	4096
#define ADMIN_TIMEOUT_S 5
#define ADMIN_MAX_CONNS 64

struct admin_conn {
	struct sl_admin *a;
	int fd;
	struct event *ev;
	char in[ADMIN_HEAD_MAX];
	size_t inlen;
	char *out; /* owned */
	size_t outlen, outoff;
	struct admin_conn *next;
};

struct sl_admin {
	const struct sl_admin_view *view; /* borrowed */
	struct event_base *base;
	int fd;
	struct event *ev;
	struct admin_conn *conns;
	unsigned nconns;
};

/* A growing string; on allocation failure it stays short and failed. */
struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->failed)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap + (size_t)n + 1) * 2;
		char *np = realloc(b->p, ncap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static void
conn_free(struct admin_conn *ac)
{
	struct sl_admin *a = ac->a;
	struct admin_conn **pp;

	for (pp = &a->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ac) {
			*pp = ac->next;
			break;
		}
	a->nconns--;
	event_free(ac->ev);
	close(ac->fd);
	free(ac->out);
	free(ac);
}

static uint64_t
sum(const struct sl_admin_view *v, size_t offset)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < v->nworkers; i++) {
		atomic_uint_fast64_t *f =
		    (atomic_uint_fast64_t *)((char *)&v->workers[i]->stats +
					     offset);
		total += SL_STAT_GET(*f);
	}
	return total;
}

static uint64_t
load(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

/* A per-worker counter of a listener, route, cluster or endpoint, summed.
 * off is the counter's offset in struct sl_counts. */
static uint64_t
counts_sum(const struct sl_admin_view *v, const struct sl_counts *c, size_t off)
{
	uint64_t total = 0;

	for (unsigned i = 0; c != NULL && i < v->nworkers; i++)
		total +=
		    SL_STAT_GET(*(atomic_uint_fast64_t *)((char *)&c[i] + off));
	return total;
}

#define COUNT_OFF(field) offsetof(struct sl_counts, field)

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
				&c->listeners[i].state->tls_handshakes));
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
				      &c->listeners[i].state->tls_resumed));
	sb_printf(b, "# HELP sluice_tls_handshake_failures_total TLS "
		     "handshakes with clients that failed, by reason.\n# "
		     "TYPE sluice_tls_handshake_failures_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		if (c->listeners[i].tls.ctx == NULL)
			continue;
		for (int f = 0; f < SL_TLS_NFAIL; f++)
			sb_printf(b,
				  "sluice_tls_handshake_failures_total{"
				  "listener=\"%s\",reason=\"%s\"} %llu\n",
				  c->listeners[i].name, sl_tls_fail_str(f),
				  (unsigned long long)load(
				      &c->listeners[i].state->tls_failures[f]));
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
				      &l->state->pp_accepted[k]));
	}
	sb_printf(b, "# HELP sluice_proxy_protocol_errors_total Connections "
		     "closed for their PROXY protocol header, by reason.\n"
		     "# TYPE sluice_proxy_protocol_errors_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct sl_conf_listener *l = &c->listeners[i];
		if (!l->proxy_protocol.enabled)
			continue;
		for (int e = 0; e < SL_PP_NERRORS; e++)
			sb_printf(
			    b,
			    "sluice_proxy_protocol_errors_total{"
			    "listener=\"%s\",reason=\"%s\"} %llu\n",
			    l->name, sl_pp_error_str((enum sl_pp_error)e),
			    (unsigned long long)load(&l->state->pp_errors[e]));
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
		sb_printf(
		    b,
		    "sluice_listener_requests_total{listener=\"%s\"} "
		    "%llu\n",
		    c->listeners[i].name,
		    (unsigned long long)counts_sum(
			v, c->listeners[i].state->counts, COUNT_OFF(requests)));
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
				      v, c->listeners[i].state->counts,
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
				v, c->listeners[i].state->counts,
				COUNT_OFF(closed) +
				    (size_t)k * sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_connections_rejected_total Connections "
		     "closed at accept by a listener limit.\n# TYPE "
		     "sluice_connections_rejected_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++) {
		struct sl_lstate *st = c->listeners[i].state;
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
}

/* One histogram's samples from per-worker counts: cumulative buckets
 * from one reading of each, so that +Inf and _count agree. */
static void
histogram(struct sbuf *b, const struct sl_admin_view *v, const char *name,
	  const char *labels, const struct sl_counts *counts)
{
	static const double bounds[SL_HIST_N - 1] = SL_HIST_BOUNDS;
	uint64_t cum = 0;

	for (int i = 0; i < SL_HIST_N; i++) {
		cum += counts_sum(v, counts,
				  COUNT_OFF(dur) +
				      (size_t)i * sizeof(atomic_uint_fast64_t));
		if (i < SL_HIST_N - 1)
			sb_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name,
				  labels, bounds[i] / 1000.0,
				  (unsigned long long)cum);
		else
			sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name,
				  labels, (unsigned long long)cum);
	}
	sb_printf(b, "%s_sum{%s} %.3f\n%s_count{%s} %llu\n", name, labels,
		  (double)counts_sum(v, counts, COUNT_OFF(dur_sum_ms)) / 1000.0,
		  name, labels, (unsigned long long)cum);
}

static void
page_routes(const struct sl_admin_view *v, struct sbuf *b)
{
	static const char *const results[SL_MIRROR_NRESULTS] = {
	    "sent", "dropped", "failed", "too_large"};
	const struct sl_conf *c = v->conf;

	sb_printf(b, "# HELP sluice_route_requests_total Requests a route "
		     "matched, answered or cut.\n# TYPE "
		     "sluice_route_requests_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
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
	sb_printf(b, "# HELP sluice_route_responses_total Responses of a "
		     "route's requests by status class.\n# TYPE "
		     "sluice_route_responses_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
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
	sb_printf(b, "# HELP sluice_mirror_requests_total Mirror copies of a "
		     "route's requests by result: sent (and answered), "
		     "dropped (the worker's copies at their bound), failed, "
		     "too_large (body over buffer_bytes).\n# TYPE "
		     "sluice_mirror_requests_total counter\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			if (r->mirror == NULL)
				continue;
			for (int k = 0; k < SL_MIRROR_NRESULTS; k++)
				sb_printf(
				    b,
				    "sluice_mirror_requests_total{listener="
				    "\"%s\",route=\"%s\",cluster=\"%s\","
				    "result=\"%s\"} %llu\n",
				    c->listeners[i].name, r->name,
				    r->mirror->name, results[k],
				    (unsigned long long)counts_sum(
					v, r->state->counts,
					COUNT_OFF(mirror) +
					    (size_t)k *
						sizeof(atomic_uint_fast64_t)));
		}
	sb_printf(b, "# HELP sluice_request_duration_seconds Time from the "
		     "first byte of a request's head to the end of its "
		     "exchange, by route.\n# TYPE "
		     "sluice_request_duration_seconds histogram\n");
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			char labels[160];
			snprintf(labels, sizeof(labels),
				 "listener=\"%s\",route=\"%s\"",
				 c->listeners[i].name, r->name);
			histogram(b, v, "sluice_request_duration_seconds",
				  labels, r->state->counts);
		}
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

/* ---- rate limits (doc/edge.md section 6) -------------------------------- */

/* A per-worker counter of a rate limit, summed. */
static uint64_t
rl_sum(const struct sl_admin_view *v, const struct sl_rlcounts *c, size_t off)
{
	uint64_t total = 0;

	for (unsigned i = 0; c != NULL && i < v->nworkers; i++)
		total +=
		    SL_STAT_GET(*(atomic_uint_fast64_t *)((char *)&c[i] + off));
	return total;
}

/* Live keys pushed out of a limit's table(s). */
static uint64_t
rl_evictions(const struct sl_admin_view *v, const struct sl_rlstate *st)
{
	uint64_t total = 0;

	if (st->table != NULL)
		return atomic_load_explicit(&st->table->evictions,
					    memory_order_relaxed);
	for (unsigned i = 0; st->ltabs != NULL && i < v->nworkers; i++)
		total += atomic_load_explicit(&st->ltabs[i]->evictions,
					      memory_order_relaxed);
	return total;
}

/* One family of per-limit samples; fleet only when fleet is set. */
static void
rl_family(const struct sl_admin_view *v, struct sbuf *b, const char *name,
	  const char *help, size_t off, int fleet)
{
	const struct sl_conf *c = v->conf;

	sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < c->nlisteners; i++)
		for (size_t j = 0; j < c->listeners[i].nroutes; j++) {
			const struct sl_conf_route *r =
			    &c->listeners[i].routes[j];
			for (size_t k = 0; k < r->nrate_limits; k++) {
				const struct sl_conf_rate_limit *rl =
				    &r->rate_limits[k];
				if (fleet && rl->scope != SL_RL_SCOPE_FLEET)
					continue;
				sb_printf(
				    b,
				    "%s{listener=\"%s\",route=\"%s\","
				    "limit=\"%s\"} %llu\n",
				    name, c->listeners[i].name, r->name,
				    rl->name,
				    (unsigned long long)(off == (size_t)-1
							     ? rl_evictions(
								   v, rl->state)
							     : rl_sum(
								   v,
								   rl->state
								       ->counts,
								   off)));
			}
		}
}

static void
page_rate_limits(const struct sl_admin_view *v, struct sbuf *b)
{
	static const double bounds[SL_HIST_N - 1] = SL_HIST_BOUNDS;
	static const char *const results[] = {"ok", "error", "timeout"};
	const struct sl_conf *c = v->conf;
	size_t w = offsetof(struct sl_worker_stats, rl_store);
	uint64_t cum = 0;

	rl_family(v, b, "sluice_rate_limited_total",
		  "Requests a rate limit refused (429), by route and limit.",
		  offsetof(struct sl_rlcounts, limited), 0);
	rl_family(v, b, "sluice_rate_limit_admitted_total",
		  "Requests a rate limit let through (requests without its "
		  "key are not counted), by route and limit.",
		  offsetof(struct sl_rlcounts, admitted), 0);
	rl_family(v, b, "sluice_rate_limit_evictions_total",
		  "Live keys pushed out of a rate limit's table (max_keys too "
		  "small for the keys in use): each starts over.",
		  (size_t)-1, 0);
	if (!c->rl_store.set)
		return;
	rl_family(v, b, "sluice_rate_limit_store_allowed_total",
		  "Requests a fleet limit let through because its store did "
		  "not answer (on_store_error: allow).",
		  offsetof(struct sl_rlcounts, store_allowed), 1);
	rl_family(v, b, "sluice_rate_limit_store_denied_total",
		  "Requests a fleet limit answered 503 because its store did "
		  "not answer (on_store_error: deny).",
		  offsetof(struct sl_rlcounts, store_denied), 1);
	sb_printf(b, "# HELP sluice_rate_limit_store_requests_total Lease "
		     "requests to the rate limit store, by result.\n# TYPE "
		     "sluice_rate_limit_store_requests_total counter\n");
	for (size_t i = 0; i < SL_NELEM(results); i++)
		sb_printf(b,
			  "sluice_rate_limit_store_requests_total{result="
			  "\"%s\"} %llu\n",
			  results[i],
			  (unsigned long long)sum(
			      v, w + i * sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_rate_limit_store_seconds Time from a "
		     "lease request to its answer.\n# TYPE "
		     "sluice_rate_limit_store_seconds histogram\n");
	w = offsetof(struct sl_worker_stats, rl_store_dur);
	for (int i = 0; i < SL_HIST_N; i++) {
		cum += sum(v, w + (size_t)i * sizeof(atomic_uint_fast64_t));
		if (i < SL_HIST_N - 1)
			sb_printf(b,
				  "sluice_rate_limit_store_seconds_bucket{le="
				  "\"%g\"} %llu\n",
				  bounds[i] / 1000.0, (unsigned long long)cum);
		else
			sb_printf(b,
				  "sluice_rate_limit_store_seconds_bucket{le="
				  "\"+Inf\"} %llu\n",
				  (unsigned long long)cum);
	}
	sb_printf(b,
		  "sluice_rate_limit_store_seconds_sum %.3f\n"
		  "sluice_rate_limit_store_seconds_count %llu\n",
		  (double)sum(v, offsetof(struct sl_worker_stats,
					  rl_store_dur_sum_ms)) /
		      1000.0,
		  (unsigned long long)cum);
	w = offsetof(struct sl_worker_stats, rl_store_connects);
	sb_printf(b,
		  "# HELP sluice_rate_limit_store_connects_total Connections "
		  "to the rate limit store, by result (failed ones are "
		  "retried after 100 ms, doubling to 5 s).\n# TYPE "
		  "sluice_rate_limit_store_connects_total counter\n"
		  "sluice_rate_limit_store_connects_total{result=\"ok\"} %llu\n"
		  "sluice_rate_limit_store_connects_total{result=\"failed\"} "
		  "%llu\n",
		  (unsigned long long)sum(v, w),
		  (unsigned long long)sum(v, w + sizeof(atomic_uint_fast64_t)));
	sb_printf(
	    b,
	    "# HELP sluice_rate_limit_store_disconnects_total Connections "
	    "to the rate limit store lost, or dropped by sluice after a "
	    "command timed out.\n# TYPE "
	    "sluice_rate_limit_store_disconnects_total counter\n"
	    "sluice_rate_limit_store_disconnects_total %llu\n",
	    (unsigned long long)sum(
		v, offsetof(struct sl_worker_stats, rl_store_lost)));
	sb_printf(b,
		  "# HELP sluice_rate_limit_store_connected Workers connected "
		  "to the rate limit store now.\n# TYPE "
		  "sluice_rate_limit_store_connected gauge\n"
		  "sluice_rate_limit_store_connected %llu\n",
		  (unsigned long long)sum(
		      v, offsetof(struct sl_worker_stats, rl_store_up)));
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

static void
page_metrics(const struct sl_admin_view *v, struct sbuf *b)
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
			  (unsigned long long)sum(v, m[i].off));
	sb_printf(b, "# HELP sluice_responses_total Responses by status "
		     "class.\n# TYPE sluice_responses_total counter\n");
	for (int cls = 1; cls <= 5; cls++)
		sb_printf(
		    b, "sluice_responses_total{class=\"%dxx\"} %llu\n", cls,
		    (unsigned long long)sum(
			v, offsetof(struct sl_worker_stats, responses) +
			       (size_t)cls * sizeof(atomic_uint_fast64_t)));
	sb_printf(b, "# HELP sluice_client_timeouts_total Client connections "
		     "cut for being slow or silent, by reason.\n# TYPE "
		     "sluice_client_timeouts_total counter\n");
	for (int r = 0; r < SL_TO_NREASONS; r++)
		sb_printf(b,
			  "sluice_client_timeouts_total{reason=\"%s\"} %llu\n",
			  sl_timeout_reason_str((enum sl_timeout_reason)r),
			  (unsigned long long)sum(
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
				  (unsigned long long)sum(
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
	for (int r = SL_H1_R_NONE + 1; r <= SL_H1_R_ACCESS_DENIED; r++)
		sb_printf(b,
			  "sluice_requests_rejected_total{reason=\"%s\"} "
			  "%llu\n",
			  sl_h1_reason_str((enum sl_h1_reason)r),
			  (unsigned long long)sum(
			      v, offsetof(struct sl_worker_stats, rejected) +
				     (size_t)r * sizeof(atomic_uint_fast64_t)));
	page_listeners(v, b);
	page_routes(v, b);
	page_rate_limits(v, b);
	page_clusters(v, b);
	sb_printf(b,
		  "# HELP sluice_config_generation Generation of the "
		  "running configuration.\n# TYPE sluice_config_generation "
		  "gauge\nsluice_config_generation %llu\n",
		  (unsigned long long)v->conf->generation);
	sb_printf(b,
		  "# HELP sluice_reloads_total Configuration reloads by "
		  "result.\n# TYPE sluice_reloads_total counter\n"
		  "sluice_reloads_total{result=\"ok\"} %llu\n"
		  "sluice_reloads_total{result=\"failed\"} %llu\n",
		  (unsigned long long)v->reloads_ok,
		  (unsigned long long)v->reloads_failed);
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

	page_metrics(v, &b);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- /config ------------------------------------------------------------
 *
 * The running generation, every key with its default filled in, in the
 * file's names: a duration as KEY_ms (milliseconds), a rate as
 * KEY_bytes_per_s, a percentage as KEY_percent, sizes in bytes (their
 * keys end in _bytes already); a part that is not set is null. Key files
 * are never named. workers, admin and log.access are what runs (they
 * change at a restart only).
 */

/* The body of a JSON string of s (quotes not added). Strings of the file
 * are UTF-8 (libyaml checks it), passed on as they are; a byte that does
 * not start a valid sequence (the -c path may hold anything) becomes
 * U+FFFD. Nothing is cut short. */
static void
jesc(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	for (run = p; *p != '\0';) {
		unsigned char c = *p;
		size_t n = 1;
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f &&
		    c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0x80) {
			/* RFC 3629: the second byte's range depends on
			 * the first (no overlongs, no surrogates) */
			unsigned char lo = 0x80, hi = 0xbf;
			if (c >= 0xc2 && c <= 0xdf)
				n = 2;
			else if (c >= 0xe0 && c <= 0xef) {
				n = 3;
				lo = c == 0xe0 ? 0xa0 : 0x80;
				hi = c == 0xed ? 0x9f : 0xbf;
			} else if (c >= 0xf0 && c <= 0xf4) {
				n = 4;
				lo = c == 0xf0 ? 0x90 : 0x80;
				hi = c == 0xf4 ? 0x8f : 0xbf;
			} else
				n = 0;
			for (size_t i = 1; n > 0 && i < n; i++)
				if (p[i] < (i == 1 ? lo : 0x80) ||
				    p[i] > (i == 1 ? hi : 0xbf))
					n = 0;
			if (n > 0) {
				p += n;
				continue;
			}
		}
		sb_printf(b, "%.*s", (int)(p - run), (const char *)run);
		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x80)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "\\ufffd");
		run = ++p;
	}
	sb_printf(b, "%.*s", (int)(p - run), (const char *)run);
}

/* A JSON string of prefix and s, or null when s is NULL. */
static void
jstr2(struct sbuf *b, const char *prefix, const char *s)
{
	if (s == NULL) {
		sb_printf(b, "null");
		return;
	}
	sb_printf(b, "\"%s", prefix);
	jesc(b, s);
	sb_printf(b, "\"");
}

/* A JSON string of s, or null. */
static void
jstr(struct sbuf *b, const char *s)
{
	jstr2(b, "", s);
}

/* ,"key":"s" (or null) */
static void
jkv_str(struct sbuf *b, const char *key, const char *s)
{
	sb_printf(b, ",\"%s\":", key);
	jstr(b, s);
}

/* ,"key":N */
static void
jkv_u64(struct sbuf *b, const char *key, uint64_t v)
{
	sb_printf(b, ",\"%s\":%llu", key, (unsigned long long)v);
}

/* ,"key":true|false */
static void
jkv_bool(struct sbuf *b, const char *key, int v)
{
	sb_printf(b, ",\"%s\":%s", key, v ? "true" : "false");
}

static const char *
tls_version_str(int v)
{
	return v == 13 ? "TLSv1.3" : "TLSv1.2";
}

/* A sticky: or hash_key: as written ("header:x-user-id", with the
 * header's name lower-cased as it is matched), or null. */
static void
config_key(struct sbuf *b, const char *name, const struct sl_conf_key *k)
{
	sb_printf(b, ",\"%s\":", name);
	if (k->source == SL_KEY_NONE)
		sb_printf(b, "null");
	else if (k->source == SL_KEY_CLIENT_IP)
		sb_printf(b, "\"client_ip\"");
	else
		jstr2(b, k->source == SL_KEY_HEADER ? "header:" : "cookie:",
		      k->name != NULL ? k->name : "");
}

/* A listener's limits (doc/contracts.md 1.3). */
static void
config_limits(struct sbuf *b, const struct sl_conf_limits *l)
{
	sb_printf(b, ",\"limits\":{\"header_timeout_ms\":%llu",
		  (unsigned long long)l->header_timeout_ms);
	jkv_u64(b, "body_timeout_ms", l->body_timeout_ms);
	jkv_u64(b, "send_timeout_ms", l->send_timeout_ms);
	jkv_u64(b, "idle_timeout_ms", l->idle_timeout_ms);
	jkv_u64(b, "max_uri_bytes", l->max_uri_bytes);
	jkv_u64(b, "max_header_bytes", l->max_header_bytes);
	jkv_u64(b, "max_headers", l->max_headers);
	jkv_u64(b, "max_body_bytes", l->max_body_bytes);
	jkv_u64(b, "buffer_bytes", l->buffer_bytes);
	jkv_u64(b, "max_requests", l->max_requests);
	jkv_u64(b, "min_body_rate_bytes_per_s", l->min_body_rate_bps);
	jkv_u64(b, "min_send_rate_bytes_per_s", l->min_send_rate_bps);
	jkv_u64(b, "max_connections", l->max_connections);
	jkv_u64(b, "max_connections_per_ip", l->max_connections_per_ip);
	sb_printf(b, "}");
}

/* A listener's tls: the certificate files and the choices, never a key;
 * null for plain HTTP. */
static void
config_tls_server(struct sbuf *b, const struct sl_conf_tls_server *t)
{
	if (t->ncerts == 0) {
		sb_printf(b, ",\"tls\":null");
		return;
	}
	sb_printf(b, ",\"tls\":{\"certificates\":[");
	for (size_t i = 0; i < t->ncerts; i++) {
		sb_printf(b, "%s{\"cert\":", i ? "," : "");
		jstr(b, t->certs[i].cert.path);
		sb_printf(b, "}");
	}
	sb_printf(b, "],\"min_version\":\"%s\"",
		  tls_version_str(t->min_version));
	/* null: sluice's own list (doc/tls.md), OpenSSL's suites */
	jkv_str(b, "ciphers", t->ciphers);
	jkv_str(b, "ciphersuites", t->ciphersuites);
	jkv_bool(b, "session_tickets", t->session_tickets);
	jkv_u64(b, "session_cache", t->session_cache);
	jkv_str(b, "client_ca", t->client_ca.path);
	jkv_str(b, "client_verify",
		t->client_ca.path == NULL   ? NULL
		: t->client_verify_optional ? "optional"
					    : "required");
	jkv_str(b, "client_subject_header", t->client_subject_header);
	sb_printf(b, "}");
}

/* ,"key":[...] of a list of ranges as JSON strings ("10.0.0.0/8");
 * an empty list is [] or, with empty_null, null (a list that is off). */
static void
config_cidrs(struct sbuf *b, const char *key, const struct sl_cidr_set *set,
	     int empty_null)
{
	char buf[64];

	if (set->n == 0 && empty_null) {
		sb_printf(b, ",\"%s\":null", key);
		return;
	}
	sb_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < set->n; i++)
		sb_printf(b, "%s\"%s\"", i ? "," : "",
			  sl_cidr_str(&set->v[i], buf, sizeof(buf)));
	sb_printf(b, "]");
}

/* identity: a listener's proxy_protocol (null when off), trusted_proxies,
 * client_address_header and untrusted_forwarded. */
static void
config_identity(struct sbuf *b, const struct sl_conf_listener *l)
{
	const struct sl_conf_proxy_protocol *pp = &l->proxy_protocol;

	if (!pp->enabled)
		sb_printf(b, ",\"proxy_protocol\":null");
	else {
		sb_printf(b, ",\"proxy_protocol\":{\"versions\":[%s%s%s]",
			  pp->versions & SL_PP_V1 ? "1" : "",
			  (pp->versions & SL_PP_V1) && (pp->versions & SL_PP_V2)
			      ? ","
			      : "",
			  pp->versions & SL_PP_V2 ? "2" : "");
		config_cidrs(b, "from", &pp->from, 0);
		sb_printf(b, "}");
	}
	config_cidrs(b, "trusted_proxies", &l->trusted_proxies, 0);
	jkv_str(b, "client_address_header",
		l->client_address_header == SL_CLIENT_HEADER_FORWARDED
		    ? "forwarded"
		    : "x-forwarded-for");
	jkv_str(b, "untrusted_forwarded",
		l->untrusted_forwarded == SL_UNTRUSTED_STRIP ? "strip"
							     : "append");
}

/* A route's match: every part, null where any value matches. */
static void
config_match(struct sbuf *b, const struct sl_conf_route *r)
{
	sb_printf(b, ",\"match\":{\"host\":");
	/* a wildcard's host holds its suffix, ".example.com" */
	jstr2(b, r->host_wildcard ? "*" : "", r->host);
	jkv_str(b, "path", r->path_prefix ? NULL : r->path);
	jkv_str(b, "path_prefix", r->path_prefix ? r->path : NULL);
	if (r->methods == NULL)
		sb_printf(b, ",\"methods\":null");
	else {
		sb_printf(b, ",\"methods\":[");
		for (size_t k = 0; k < r->nmethods; k++) {
			sb_printf(b, "%s", k ? "," : "");
			jstr(b, r->methods[k]);
		}
		sb_printf(b, "]");
	}
	if (r->headers == NULL)
		sb_printf(b, ",\"headers\":null}");
	else {
		sb_printf(b, ",\"headers\":{");
		for (size_t k = 0; k < r->nheaders; k++) {
			sb_printf(b, "%s", k ? "," : "");
			jstr(b, r->headers[k].name);
			sb_printf(b, ":");
			jstr(b, r->headers[k].value);
		}
		sb_printf(b, "}}");
	}
}

/* A route's timeout and retry policy. */
static void
config_retry(struct sbuf *b, const struct sl_conf_route *r)
{
	static const char *const on[] = {
	    "connect-failure", "reset", "timeout", "502", "503", "504"};
	const struct sl_conf_retry *p = &r->retry;
	int first = 1;

	sb_printf(b, ",\"timeout_ms\":%llu,\"retry\":{\"attempts\":%u,\"on\":[",
		  (unsigned long long)r->timeout_ms, p->attempts);
	for (size_t k = 0; k < SL_NELEM(on); k++)
		if (p->on & (1u << k)) {
			sb_printf(b, "%s\"%s\"", first ? "" : ",", on[k]);
			first = 0;
		}
	sb_printf(b,
		  "],\"idempotency_key\":%s,\"per_try_timeout_ms\":%llu,"
		  "\"budget_percent\":%u}",
		  p->idempotency_key ? "true" : "false",
		  (unsigned long long)(p->per_try_timeout_ms
					   ? p->per_try_timeout_ms
					   : r->timeout_ms),
		  p->budget_percent);
}

/* One direction's header rules, values as written; null without any. */
static void
config_hdr_rules(struct sbuf *b, const char *key, const struct sl_hdr_rules *r)
{
	if (r == NULL) {
		sb_printf(b, ",\"%s\":null", key);
		return;
	}
	sb_printf(b, ",\"%s\":{", key);
	for (int add = 0; add < 2; add++) {
		int first = 1;
		sb_printf(b, "%s\"%s\":{", add ? "," : "", add ? "add" : "set");
		for (size_t i = 0; i < r->nfields; i++) {
			if (r->fields[i].add != add)
				continue;
			sb_printf(b, "%s", first ? "" : ",");
			jstr(b, r->fields[i].name);
			sb_printf(b, ":");
			jstr(b, r->fields[i].text);
			first = 0;
		}
		sb_printf(b, "}");
	}
	sb_printf(b, ",\"remove\":[");
	for (size_t i = 0; i < r->nremove; i++) {
		sb_printf(b, "%s", i ? "," : "");
		jstr(b, r->remove[i].name);
	}
	sb_printf(b, "]}");
}

/* A listener's or a route's allow, deny and header rules. */
static void
config_policy(struct sbuf *b, const struct sl_policy *p)
{
	static const struct sl_cidr_set none;

	config_cidrs(b, "allow", p != NULL ? &p->allow : &none, 1);
	config_cidrs(b, "deny", p != NULL ? &p->deny : &none, 1);
	config_hdr_rules(b, "request_headers", p != NULL ? p->request : NULL);
	config_hdr_rules(b, "response_headers", p != NULL ? p->response : NULL);
}

/* A route's rate limits, in the file's form ("10/s"), or null. */
static void
config_rate_limits(struct sbuf *b, const struct sl_conf_route *r)
{
	if (r->nrate_limits == 0) {
		sb_printf(b, ",\"rate_limit\":null");
		return;
	}
	sb_printf(b, ",\"rate_limit\":[");
	for (size_t k = 0; k < r->nrate_limits; k++) {
		const struct sl_conf_rate_limit *rl = &r->rate_limits[k];
		sb_printf(b, "%s{\"name\":", k ? "," : "");
		jstr(b, rl->name);
		if (rl->key.source == SL_KEY_NONE)
			sb_printf(b, ",\"key\":\"route\"");
		else
			config_key(b, "key", &rl->key);
		sb_printf(b, ",\"rate\":\"%llu/%s\",\"burst\":%llu",
			  (unsigned long long)rl->rate,
			  rl->unit_s == 1    ? "s"
			  : rl->unit_s == 60 ? "m"
					     : "h",
			  (unsigned long long)rl->burst);
		sb_printf(b, ",\"scope\":\"%s\"",
			  rl->scope == SL_RL_SCOPE_FLEET ? "fleet" : "local");
		jkv_u64(b, "max_keys", rl->max_keys);
		jkv_str(b, "on_store_error",
			rl->scope != SL_RL_SCOPE_FLEET ? NULL
			: rl->store_error_deny	       ? "deny"
						       : "allow");
		sb_printf(b, "}");
	}
	sb_printf(b, "]");
}

static void
config_route(struct sbuf *b, const struct sl_conf_route *r)
{
	sb_printf(b, "{\"name\":");
	jstr(b, r->name);
	config_match(b, r);
	jkv_str(b, "cluster", r->cluster != NULL ? r->cluster->name : NULL);
	if (r->split == NULL)
		sb_printf(b, ",\"split\":null");
	else {
		sb_printf(b, ",\"split\":[");
		for (size_t k = 0; k < r->nsplit; k++) {
			sb_printf(b, "%s{\"cluster\":", k ? "," : "");
			jstr(b, r->split[k].cluster->name);
			sb_printf(b, ",\"weight\":%u}", r->split[k].weight);
		}
		sb_printf(b, "]");
	}
	config_key(b, "sticky", &r->sticky);
	jkv_bool(b, "split_failover", r->split_failover);
	if (r->mirror == NULL)
		sb_printf(b, ",\"mirror\":null");
	else {
		sb_printf(b, ",\"mirror\":{\"cluster\":");
		jstr(b, r->mirror->name);
		sb_printf(b, ",\"percent\":%u}", r->mirror_percent);
	}
	jkv_str(b, "expose_cluster_header", r->expose_cluster_header);
	config_retry(b, r);
	config_policy(b, r->policy);
	jkv_u64(b, "max_body_bytes", r->max_body_bytes);
	config_rate_limits(b, r);
	sb_printf(b, "}");
}

/* A cluster's health_check, outlier and tls, each null when not set. */
static void
config_checks(struct sbuf *b, const struct sl_conf_cluster *cl)
{
	const struct sl_conf_health *h = &cl->health;
	const struct sl_conf_outlier *o = &cl->outlier;
	const struct sl_conf_tls_client *t = &cl->tls;

	if (h->enabled) {
		int first = 1;
		sb_printf(b, ",\"health_check\":{\"path\":");
		jstr(b, h->path);
		sb_printf(b,
			  ",\"interval_ms\":%llu,\"timeout_ms\":%llu,"
			  "\"healthy\":%u,\"unhealthy\":%u,"
			  "\"expect_status\":[",
			  (unsigned long long)h->interval_ms,
			  (unsigned long long)h->timeout_ms, h->healthy,
			  h->unhealthy);
		/* as written: a whole class as "2xx", else each status
		 */
		for (int cls = 1; cls <= 5; cls++) {
			int all = 1;
			for (int st = cls * 100; st < cls * 100 + 100; st++)
				all &= sl_health_expected(h->expect, st);
			if (all) {
				sb_printf(b, "%s\"%dxx\"", first ? "" : ",",
					  cls);
				first = 0;
				continue;
			}
			for (int st = cls * 100; st < cls * 100 + 100; st++)
				if (sl_health_expected(h->expect, st)) {
					sb_printf(b, "%s%d", first ? "" : ",",
						  st);
					first = 0;
				}
		}
		sb_printf(b, "]}");
	} else
		sb_printf(b, ",\"health_check\":null");
	if (o->enabled)
		sb_printf(b,
			  ",\"outlier\":{\"consecutive_errors\":%u,"
			  "\"ejection_time_ms\":%llu,"
			  "\"max_ejected_percent\":%u}",
			  o->consecutive_errors,
			  (unsigned long long)o->ejection_time_ms,
			  o->max_ejected_percent);
	else
		sb_printf(b, ",\"outlier\":null");
	if (!t->enabled) {
		sb_printf(b, ",\"tls\":null");
		return;
	}
	sb_printf(b, ",\"tls\":{\"sni\":");
	jstr(b, t->sni);
	/* the client certificate's file, never its key's */
	jkv_str(b, "ca", t->ca.path != NULL ? t->ca.path : "system");
	jkv_bool(b, "verify", t->verify);
	jkv_str(b, "client_cert", t->cert.path);
	sb_printf(b, ",\"min_version\":\"%s\"}",
		  tls_version_str(t->min_version));
}

/* What health checks and outlier detection say of an endpoint now. */
static void
config_endpoint_state(struct sbuf *b, const struct sl_conf_cluster *cl,
		      const struct sl_conf_endpoint *e)
{
	struct sl_epstate *st = e->state;

	if (cl->health.enabled)
		sb_printf(
		    b,
		    ",\"healthy\":%s,\"checks_ok\":%llu,"
		    "\"checks_failed\":%llu,"
		    "\"last_check\":{\"status\":%d,\"result\":\"%s\"}",
		    atomic_load(&st->unhealthy) ? "false" : "true",
		    (unsigned long long)load(&st->checks_ok),
		    (unsigned long long)load(&st->checks_failed),
		    atomic_load(&st->check_status),
		    load(&st->checks_ok) + load(&st->checks_failed) == 0
			? "none"
			: sl_health_error_str((enum sl_health_error)atomic_load(
			      &st->check_error)));
	if (cl->outlier.enabled) {
		uint64_t until = load(&st->ejected_until_ms), now = sl_now_ms();
		sb_printf(b,
			  ",\"ejected\":%s,\"ejected_ms_left\":%llu,"
			  "\"ejections\":%llu",
			  until > now ? "true" : "false",
			  (unsigned long long)(until > now ? until - now : 0),
			  (unsigned long long)load(&st->ejections));
	}
}

static void
config_cluster(struct sbuf *b, const struct sl_conf_cluster *cl)
{
	static const char *const balance[] = {"round_robin", "least_request",
					      "hash"};

	sb_printf(b, "{\"name\":");
	jstr(b, cl->name);
	sb_printf(b, ",\"balance\":\"%s\"",
		  (unsigned)cl->balance < SL_NELEM(balance)
		      ? balance[cl->balance]
		      : "?");
	if (cl->balance == SL_BALANCE_HASH)
		config_key(b, "hash_key", &cl->hash_key);
	else
		jkv_str(b, "hash_key", NULL);
	jkv_u64(b, "connect_timeout_ms", cl->connect_timeout_ms);
	sb_printf(b, ",\"pool\":{\"max_idle\":%llu",
		  (unsigned long long)cl->pool_max_idle);
	jkv_u64(b, "idle_timeout_ms", cl->pool_idle_timeout_ms);
	jkv_u64(b, "max_requests", cl->pool_max_requests);
	sb_printf(b, "}");
	jkv_u64(b, "max_connections", cl->max_connections);
	jkv_u64(b, "max_pending", cl->max_pending);
	jkv_u64(b, "queue_timeout_ms", cl->queue_timeout_ms);
	config_checks(b, cl);
	jkv_str(b, "proxy_protocol", cl->proxy_protocol ? "v2" : "off");
	sb_printf(b, ",\"endpoints\":[");
	for (size_t j = 0; j < cl->nendpoints; j++) {
		sb_printf(b, "%s{\"address\":", j ? "," : "");
		jstr(b, cl->endpoints[j].addr.text);
		sb_printf(b, ",\"weight\":%u", cl->endpoints[j].weight);
		config_endpoint_state(b, cl, &cl->endpoints[j]);
		sb_printf(b, "}");
	}
	sb_printf(b, "]}");
}

static void
page_config(const struct sl_admin_view *v, struct sbuf *b)
{
	static const char *const level[] = {"error", "warn", "info", "debug"};
	static const char *const query[] = {"names", "full", "off"};
	const struct sl_conf *c = v->conf;
	char when[32] = "";
	struct tm tm;

	sb_printf(b, "{\"generation\":%llu,\"path\":",
		  (unsigned long long)c->generation);
	jstr(b, c->path ? c->path : "");
	if (c->loaded_at != 0 && gmtime_r(&c->loaded_at, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sb_printf(b, ",\"sha256\":\"%s\",\"loaded_at\":\"%s\"", c->sha256,
		  when);
	sb_printf(b, ",\"workers\":%u", v->nworkers);
	if (v->run_admin != NULL) {
		sb_printf(b, ",\"admin\":{\"address\":");
		jstr(b, v->run_admin);
		sb_printf(b, "}");
	} else
		sb_printf(b, ",\"admin\":null");
	sb_printf(b, ",\"log\":{\"level\":\"%s\"",
		  (unsigned)c->log_level < SL_NELEM(level) ? level[c->log_level]
							   : "?");
	jkv_str(b, "access",
		v->run_access != NULL ? v->run_access : c->access_log);
	sb_printf(b, ",\"access_format\":\"%s\"",
		  c->access_format == SL_ACCESS_COMBINED ? "combined" : "json");
	sb_printf(b, ",\"query\":\"%s\"",
		  (unsigned)c->log_query < SL_NELEM(query) ? query[c->log_query]
							   : "?");
	jkv_bool(b, "mask_card_numbers", c->log_cards);
	sb_printf(b, "}");
	jkv_u64(b, "drain_timeout_ms", c->drain_timeout_ms);
	if (c->rl_store.set) {
		sb_printf(b, ",\"rate_limit_store\":{\"address\":");
		jstr(b, c->rl_store.addr.text);
		jkv_u64(b, "timeout_ms", c->rl_store.timeout_ms);
		jkv_str(b, "prefix", c->rl_store.prefix);
		jkv_str(b, "username", c->rl_store.username);
		/* the file's name and whether a password was read from
		 * it: never the password */
		jkv_str(b, "password_file", c->rl_store.password_file.path);
		jkv_bool(b, "password_set", c->rl_store.password != NULL);
		sb_printf(b, "}");
	} else
		sb_printf(b, ",\"rate_limit_store\":null");
	sb_printf(b, ",\"listeners\":[");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct sl_conf_listener *l = &c->listeners[i];
		sb_printf(b, "%s{\"name\":", i ? "," : "");
		jstr(b, l->name);
		jkv_str(b, "address", l->addr.text);
		config_limits(b, &l->limits);
		config_tls_server(b, &l->tls);
		config_policy(b, l->policy);
		config_identity(b, l);
		sb_printf(b, ",\"routes\":[");
		for (size_t j = 0; j < l->nroutes; j++) {
			sb_printf(b, "%s", j ? "," : "");
			config_route(b, &l->routes[j]);
		}
		sb_printf(b, "]}");
	}
	sb_printf(b, "],\"clusters\":[");
	for (size_t i = 0; i < c->nclusters; i++) {
		sb_printf(b, "%s", i ? "," : "");
		config_cluster(b, &c->clusters[i]);
	}
	sb_printf(b, "]}\n");
}

/* Builds the whole response for the request head in ac->in. */
static void
respond(struct admin_conn *ac, size_t head_len)
{
	const struct sl_admin_view *v = ac->a->view;
	struct sl_h1_header hdrs[64];
	struct sl_h1_request req;
	struct sl_h1_limits lim = {1024, ADMIN_HEAD_MAX, 64};
	struct sbuf body = {0}, out = {0};
	const char *ctype = "application/json";
	int status = 200;

	memset(&req, 0, sizeof(req));
	req.headers = hdrs;
	req.max_headers = 64;
	if (sl_h1_parse_request(ac->in, head_len, &req, &lim) != 0) {
		status = 400;
		sb_printf(&body, "{\"error\":\"bad_request\"}\n");
	} else if (req.method_id != SL_M_GET && req.method_id != SL_M_HEAD) {
		status = 405;
		sb_printf(&body, "{\"error\":\"method_not_allowed\"}\n");
	} else if (sl_h1_ieq(req.path, req.path_len, "/healthz")) {
		sb_printf(&body, "{\"status\":\"ok\"}\n");
	} else if (sl_h1_ieq(req.path, req.path_len, "/readyz")) {
		if (v->draining) {
			status = 503;
			sb_printf(&body, "{\"status\":\"draining\"}\n");
		} else
			sb_printf(&body, "{\"status\":\"ready\"}\n");
	} else if (sl_h1_ieq(req.path, req.path_len, "/config")) {
		page_config(v, &body);
	} else if (sl_h1_ieq(req.path, req.path_len, "/metrics")) {
		ctype = "text/plain; version=0.0.4";
		page_metrics(v, &body);
	} else {
		status = 404;
		sb_printf(&body, "{\"error\":\"not_found\"}\n");
	}
	if (body.failed) {
		status = 500;
		body.len = 0;
	}
	sb_printf(&out,
		  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
		  "%zu\r\n"
		  "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
		  status,
		  status == 200	  ? "OK"
		  : status == 404 ? "Not Found"
		  : status == 405 ? "Method Not Allowed"
		  : status == 503 ? "Service Unavailable"
		  : status == 400 ? "Bad Request"
				  : "Internal Server Error",
		  ctype, body.len);
	if (req.method_id != SL_M_HEAD && body.len > 0)
		sb_printf(&out, "%.*s", (int)body.len, body.p);
	free(body.p);
	ac->out = out.p;
	ac->outlen = out.failed ? 0 : out.len;
	ac->outoff = 0;
}

static void
admin_on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *ac = arg;
	struct sl_h1_scan scan;
	struct sl_h1_limits lim = {1024, ADMIN_HEAD_MAX, 64};
	struct timeval tv = {ADMIN_TIMEOUT_S, 0};
	ssize_t n;
	long r;

	if (what & EV_TIMEOUT) {
		conn_free(ac);
		return;
	}
	if (ac->out == NULL) {
		n = read(ac->fd, ac->in + ac->inlen,
			 sizeof(ac->in) - ac->inlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_free(ac);
			return;
		}
		ac->inlen += (size_t)n;
		sl_h1_scan_init(&scan);
		r = sl_h1_scan_head(&scan, ac->in, ac->inlen, &lim, 1);
		if (r == 0 && ac->inlen < sizeof(ac->in))
			return;
		if (r <= 0) {
			conn_free(ac);
			return;
		}
		respond(ac, (size_t)r);
		event_del(ac->ev);
		event_assign(ac->ev, ac->a->base, ac->fd, EV_WRITE | EV_PERSIST,
			     admin_on_conn, ac);
		event_add(ac->ev, &tv);
		return;
	}
	n = write(ac->fd, ac->out + ac->outoff, ac->outlen - ac->outoff);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (ac->outoff += (size_t)n) == ac->outlen)
		conn_free(ac);
}

static void
admin_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sl_admin *a = arg;
	struct timeval tv = {ADMIN_TIMEOUT_S, 0};
	struct admin_conn *ac;
	int fd;

	fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	if (a->nconns >= ADMIN_MAX_CONNS ||
	    (ac = calloc(1, sizeof(*ac))) == NULL) {
		close(fd);
		return;
	}
	ac->a = a;
	ac->fd = fd;
	ac->ev =
	    event_new(a->base, fd, EV_READ | EV_PERSIST, admin_on_conn, ac);
	if (ac->ev == NULL) {
		close(fd);
		free(ac);
		return;
	}
	ac->next = a->conns;
	a->conns = ac;
	a->nconns++;
	event_add(ac->ev, &tv);
}

struct sl_admin *
sl_admin_start(struct event_base *base, const struct sl_admin_view *view,
	       int fd)
{
	const struct sl_conf_addr *addr = &view->conf->admin_addr;
	struct sl_admin *a;
	int on = 1;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->view = view;
	a->base = base;
	if (fd != -1) {
		/* given: listening already */
		a->fd = fd;
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
			goto fail;
	} else {
		a->fd = socket(addr->ss.ss_family,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (a->fd == -1)
			goto fail;
		(void)setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on,
				 sizeof(on));
		if (bind(a->fd, (const struct sockaddr *)&addr->ss,
			 addr->sslen) == -1 ||
		    listen(a->fd, 64) == -1)
			goto fail;
	}
	a->ev =
	    event_new(base, a->fd, EV_READ | EV_PERSIST, admin_on_accept, a);
	if (a->ev == NULL || event_add(a->ev, NULL) == -1)
		goto fail;
	return a;
fail : {
	int saved = errno;
	if (a->ev)
		event_free(a->ev);
	if (a->fd != -1)
		close(a->fd);
	free(a);
	errno = saved;
	return NULL;
}
}

int
sl_admin_fd(const struct sl_admin *a)
{
	return a->fd;
}

void
sl_admin_free(struct sl_admin *a)
{
	if (a == NULL)
		return;
	while (a->conns != NULL)
		conn_free(a->conns);
	event_free(a->ev);
	close(a->fd);
	free(a);
}
