/* SPDX-License-Identifier: MIT */
/*
 * Tracing as a module (core/module.h; doc/operations.md, "Tracing"): the
 * top-level tracing: (where spans go, how they are batched), a route's
 * share of new traces recorded and a listener's trace_context:, in its
 * slots of the generation (conf_trace.c reads them); its counters, in its
 * block of a worker's stats. Included by conf_trace.c, its filter's files
 * (proxy/exchange_trace.c, proxy/traceexp.c) and test_conf_tables.c; the
 * module table (conf_mods.c) names only its descriptor.
 */
#ifndef SL_CONF_TRACE_H
#define SL_CONF_TRACE_H

#include <stdatomic.h>
#include <stdint.h>

#include "conf_types.h"
#include "module.h"
#include "wloop.h" /* struct sl_worker_stats */

extern struct sl_module sl_module_trace;

/* Whose traceparent a listener believes (trace_context:). */
enum sl_trace_context {
	SL_TRACE_CTX_TRUSTED = 0, /* its trusted_proxies' */
	SL_TRACE_CTX_ALWAYS,	  /* anyone's */
	SL_TRACE_CTX_NEVER,	  /* no one's: every trace starts here */
	SL_TRACE_CTX_OFF	  /* its requests are not traced */
};

/* tracing: where spans go and how they are batched. */
struct sl_conf_tracing {
	struct sl_conf_cluster *cluster; /* borrowed: the collector */
	char *path;			 /* "/v1/traces" */
	char *service_name;		 /* "sluice" */
	uint32_t sample;		 /* millionths of new traces recorded */
	uint64_t batch;			 /* spans an export takes at most */
	uint64_t queue;			 /* spans a worker holds at most */
	uint64_t interval_ms;		 /* a span waits at most this */
	uint64_t timeout_ms;		 /* an export's deadline */
	uint64_t retries;		 /* of one batch, then dropped */
};

/* Its block of a worker's stats: traced requests by source, spans and
 * exports by result, spans queued now. Kept across reloads, as the
 * queues are. */
struct sl_trace_wcounts {
	atomic_uint_fast64_t ctx[4];	 /* exchange_trace.c's sources */
	atomic_uint_fast64_t spans[3];	 /* traceexp.h's sl_trace_spans */
	atomic_uint_fast64_t exports[3]; /* and sl_trace_exports */
	atomic_uint_fast64_t queue;
};

/* The top-level tracing of generation c, NULL: none (nothing traced). */
static inline const struct sl_conf_tracing *
sl_trace_conf(const struct sl_conf *c)
{
	return sl_conf_mod(c, &sl_module_trace);
}

/* A route's share of new traces recorded, in millionths, + 1; 0: the
 * route is not traced (no top-level tracing:, its listener's
 * trace_context off, or tracing: false). The slot holds the value, not
 * a pointer (the module's route_free is NULL): a traced route costs no
 * allocation of its own. */
static inline uint32_t
sl_trace_route_sample(const struct sl_conf_route *r)
{
	return (uint32_t)(uintptr_t)sl_route_mod(r, &sl_module_trace);
}

/* A listener's trace_context (a value in its slot, + 1; none: the
 * default, trusted). */
static inline enum sl_trace_context
sl_trace_listener_ctx(const struct sl_conf_listener *l)
{
	uintptr_t v = (uintptr_t)sl_listener_mod(l, &sl_module_trace);

	return v == 0 ? SL_TRACE_CTX_TRUSTED : (enum sl_trace_context)(v - 1);
}

/* Its counters in a worker's stats. */
static inline struct sl_trace_wcounts *
sl_trace_wcounts(struct sl_worker_stats *s)
{
	return (struct sl_trace_wcounts *)&s->mod[sl_module_trace.worker_at];
}

#endif
