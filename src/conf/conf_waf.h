/* SPDX-License-Identifier: MIT */
/*
 * The WAF as a module (core/module.h; doc/operations.md, "A WAF for PCI
 * DSS 6.4.2"): a route's waf: (its rules, mode, body limit, deadline) and
 * the top-level waf: (the workers' threads, the clients' budgets, the WAF
 * log), in its slots of the generation (conf_waf.c reads them and loads
 * the rule sets); its counters, in its blocks of a route's counts and a
 * worker's stats; and its log of its own. Included by conf_waf.c, its
 * filter (proxy/exchange_waf.c) and test_conf_tables.c; the module table
 * (conf_mods.c) names only its descriptor.
 */
#ifndef SL_CONF_WAF_H
#define SL_CONF_WAF_H

#include <stdatomic.h>
#include <stdint.h>

#include "conf_types.h"
#include "hist.h"
#include "log.h" /* struct sl_sidelog */
#include "module.h"
#include "runtime.h"  /* sl_counts_mod */
#include "wafcheck.h" /* struct sl_waf_limits */
#include "wloop.h"    /* struct sl_worker_stats */

extern struct sl_module sl_module_waf;

/* A route's waf: what its requests go through, and what is done with the
 * rules' answer. */
enum sl_waf_mode { SL_WAF_BLOCK = 0, SL_WAF_DETECT };
enum sl_waf_over { SL_WAF_OVER_REJECT = 0, SL_WAF_OVER_PARTIAL };
enum sl_waf_fail { SL_WAF_FAIL_DENY = 0, SL_WAF_FAIL_ALLOW };
struct sl_waf_rules;
struct sl_conf_waf_route {
	struct sl_waf_rules *rules; /* one reference; routes with the same
				       files and exclusions share the set */
	char **files;		    /* as expanded (globs), in order */
	size_t nfiles;
	char *after;	     /* the exclusions, as directives; NULL: none */
	char *key;	     /* files and exclusions: the set's identity */
	size_t keylen;	     /* its bytes, NULs included */
	uint32_t body_limit; /* body bytes inspected; 0: none */
	uint32_t timeout_ms; /* the verdict's deadline, queue included */
	uint8_t mode;	     /* enum sl_waf_mode */
	uint8_t over;	     /* enum sl_waf_over: a body past body_limit */
	uint8_t on_failure;  /* enum sl_waf_fail: no verdict in time */
	uint8_t audit;	     /* run the logging phase (the audit log) */
	uint8_t untyped;     /* enum sl_waf_untyped: a body without a type */
	int failure_status;  /* 503 or 403 */
	unsigned line, col;  /* of its rules: where a rule file's error is
				reported too */
	struct sl_waf_limits limits; /* checked on the loop (wafcheck.h) */
};

/* Whose budget a WAF request spends (waf: client_key:). */
enum sl_waf_client_key {
	SL_WAF_KEY_ADDRESS = 0, /* the client's address (IPv6: its /64) */
	SL_WAF_KEY_CALLER,	/* the verified token's issuer and subject,
				   else the address */
};

/* The WAF threads' class (waf: priority:). */
enum sl_waf_priority {
	SL_WAF_PRIO_IDLE = 0, /* SCHED_IDLE, with the guard */
	SL_WAF_PRIO_LOW,      /* nice +10 */
};

/* The top-level waf: the workers' WAF threads and the WAF log; always
 * in its slot, its defaults when the key is not written. */
struct sl_conf_waf {
	uint64_t threads; /* per worker */
	uint64_t queue;	  /* requests waiting for them, per worker */
	/* a client's budget of thread time (issue 63): ms it may spend a
	 * second, per worker (0: none), and at once; whose it is */
	uint64_t client_budget_ms, client_burst_ms;
	int client_key;	   /* enum sl_waf_client_key */
	int priority;	   /* enum sl_waf_priority */
	uint64_t guard_ms; /* the idle class's guard: a wait that raises */
	char *log;	   /* "access" (the access log's), "off", "stdout",
			      "stderr" or a path */
	struct sl_conf_pos log_pos; /* of its value, for the start's checks */
};

/* What became of a request a route's WAF looked at
 * (sluice_waf_requests_total's result). */
enum sl_waf_res {
	SL_WAF_R_PASS = 0,   /* inspected: nothing to stop */
	SL_WAF_R_BLOCKED,    /* stopped (mode block) */
	SL_WAF_R_DETECTED,   /* would have been stopped (mode detect) */
	SL_WAF_R_OVER_LIMIT, /* its body past body_limit: refused (413) */
	SL_WAF_R_FAIL_DENY,  /* no verdict (deadline, queue full): refused */
	SL_WAF_R_FAIL_ALLOW, /* no verdict: let through (on_failure) */
	SL_WAF_R_LIMITED,    /* past the route's waf.limits, on the loop:
				refused (400, 413), or let through
				uninspected in detect mode */
	SL_WAF_R_BUDGET,     /* its client past its budget of thread time:
				refused (429) before the threads, or let
				through uninspected in detect mode */
	SL_WAF_R_SHED,	     /* the queue full, its client holding the most
				of it: refused (429) */
	SL_WAF_NRESULTS
};

/* Its block of a route's per-worker counts. */
struct sl_waf_counts {
	atomic_uint_fast64_t res[SL_WAF_NRESULTS];
	/* the rules' time on a thread (hist.h), and its sum */
	atomic_uint_fast64_t dur[SL_HIST_N];
	atomic_uint_fast64_t dur_sum_us;
	/* requests that found every thread busy, and their waits' sum */
	atomic_uint_fast64_t waits;
	atomic_uint_fast64_t wait_sum_us;
	/* the threads' CPU time on the route's requests */
	atomic_uint_fast64_t cpu_sum_us;
};

/* Its block of a worker's stats: its thread pool (tpool.h). */
struct sl_waf_wcounts {
	/* threads running a job now, written by them (sl_tpool_gauge) */
	atomic_uint_fast64_t busy;
	/* jobs waiting for a thread now (sl_tpool_gauge) */
	atomic_uint_fast64_t queued;
	/* the guard of its idle class (sl_tpool_idle): times it raised the
	 * threads back, and whether the class is idle (1) or could not be
	 * (0: the process may not raise them; the loop's, written once) */
	atomic_uint_fast64_t raises;
	atomic_uint_fast64_t idle;
};

/* The WAF's log (doc/operations.md, "A WAF for PCI DSS 6.4.2"): opened
 * by the module's start (conf_waf.c), written by its filter. */
extern struct sl_sidelog sl_waf_log;

/* A route's waf, NULL: none. */
static inline const struct sl_conf_waf_route *
sl_waf_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_waf);
}

/* The top-level waf of generation c (always set once c is loaded). */
static inline const struct sl_conf_waf *
sl_waf_conf(const struct sl_conf *c)
{
	return sl_conf_mod(c, &sl_module_waf);
}

/* Its counters in counts c (a route's, of one worker). */
static inline struct sl_waf_counts *
sl_waf_counts(struct sl_counts *c)
{
	return (struct sl_waf_counts *)sl_counts_mod(c, &sl_module_waf);
}

/* Its counters in a worker's stats. */
static inline struct sl_waf_wcounts *
sl_waf_wcounts(struct sl_worker_stats *s)
{
	return (struct sl_waf_wcounts *)&s->mod[sl_module_waf.worker_at];
}

#endif
