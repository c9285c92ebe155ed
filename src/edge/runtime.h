/* SPDX-License-Identifier: MIT */
/*
 * State shared by all workers that must outlive a configuration generation:
 * connection counts of listeners (and per client address), of upstream
 * endpoints, and the requests waiting per cluster. Kept in a registry by
 * identity (listener address, cluster name, cluster + endpoint address), so
 * a reload that keeps a listener or an endpoint keeps its counts. Updated
 * with atomics; the registry lock is taken only when a generation is bound
 * or freed, never on the request path.
 */
#ifndef SL_RUNTIME_H
#define SL_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"   /* SL_HIST_N, sl_hist_slot */
#include "module.h" /* struct sl_module: sl_counts_mod */

struct sl_conf;
struct sl_conf_listener;
struct sl_conf_route;

#define SL_PER_IP_SLOTS 65536

/*
 * Counters of one route or cluster in one worker: only that worker writes
 * its own (a plain relaxed load and store, see SL_STAT_INC), the admin
 * thread sums them. Kept in the registry by identity, so a reload keeps
 * them; on cache lines of their own.
 */
/* Why client connections end, in kinds (sluice_client_closed_total):
 * "close" after a response that closes, the client's own end, each
 * budget that cuts, a refused request, TLS, a drain, an upstream's
 * cut, sluice's own trouble. */
enum sl_close_kind {
	SL_CLOSE_CONNECTION_CLOSE = 0,
	SL_CLOSE_CLIENT_CLOSED,
	SL_CLOSE_IDLE_TIMEOUT,
	SL_CLOSE_REQUEST_TIMEOUT,
	SL_CLOSE_SEND_TIMEOUT,
	SL_CLOSE_MIN_SEND_RATE,
	SL_CLOSE_REFUSED,
	SL_CLOSE_TLS,
	SL_CLOSE_DRAINING,
	SL_CLOSE_UPSTREAM_CUT,
	SL_CLOSE_OUT_OF_MEMORY,
	SL_CLOSE_NKINDS
};
const char *sl_close_kind_str(enum sl_close_kind k);
/* The kind of a close reason (the strings a client connection is closed
 * with). */
enum sl_close_kind sl_close_kind_of(const char *reason);

/* The entries of a split whose shares a route counts (the status page) */
#define SL_SPLIT_SEEN 8

/* The words of the modules' blocks of a route's counts (core/module.h):
 * auth's 36, the WAF's 27, compression's 14, idempotency's 15, the
 * mirror's 4, Lua's 11. */
#define SL_COUNTS_MOD_WORDS 107

struct sl_counts {
	atomic_uint_fast64_t requests;	   /* exchanges finished */
	atomic_uint_fast64_t responses[6]; /* by status class, [0] = other */
	/* routes: request durations (first byte of the head to the end of
	 * the exchange); clusters: upstream response times (first attempt's
	 * start to the last byte). Each slot its own bucket, not cumulative;
	 * the sum in milliseconds */
	atomic_uint_fast64_t dur[SL_HIST_N];
	atomic_uint_fast64_t dur_sum_ms;
	atomic_uint_fast64_t idle; /* endpoints: pooled idle connections */
	/* endpoints: requests in flight now (the worker's ep->active) and
	 * connections opened (the status page, doc/dashboard.md) */
	atomic_uint_fast64_t inflight;
	atomic_uint_fast64_t connects;
	/* routes with a split: exchanges that ended on each of its first
	 * SL_SPLIT_SEEN entries, and of those the ones a sticky key sent */
	atomic_uint_fast64_t split[SL_SPLIT_SEEN];
	atomic_uint_fast64_t sticky[SL_SPLIT_SEEN];
	/* listeners: client connections closed, by kind (sl_close_kind) */
	atomic_uint_fast64_t closed[SL_CLOSE_NKINDS];
	/* routes: the modules' counters (core/module.h), each module's
	 * block from its route_at; SL_COUNTS_MOD_WORDS is the table's sum
	 * (conf_mods.c checks it) */
	atomic_uint_fast64_t mod[SL_COUNTS_MOD_WORDS];
} __attribute__((aligned(64)));

/* Module m's block of counts c. */
static inline atomic_uint_fast64_t *
sl_counts_mod(struct sl_counts *c, const struct sl_module *m)
{
	return &c->mod[m->route_at];
}

/* enum sl_tls_fail's SL_TLS_NFAIL (tls.h checks) */
#define SL_RUNTIME_TLS_NFAIL 7
/* enum sl_pp_error's SL_PP_NERRORS (client.c checks) */
#define SL_RUNTIME_PP_NERRORS 7

struct sl_lstate {
	struct sl_lstate *next;	    /* registry */
	char *key;		    /* listener address as written */
	int refs;		    /* generations using it (registry lock) */
	uint64_t born_ms;	    /* made (monotonic; the status page) */
	atomic_uint_fast64_t conns; /* open client connections */
	_Atomic(atomic_uint *) per_ip; /* SL_PER_IP_SLOTS, lazily */
	/* tunnels open on the listener (max_tunnels) */
	atomic_uint_fast64_t tunnels;
	/* tunnels per client address (max_tunnels_per_ip), as per_ip */
	_Atomic(atomic_uint *) tun_per_ip;
};

/*
 * A listener's counters, by its name: a counter is known by its labels,
 * so a listener moved to another address, or two that swap addresses,
 * keep their own (issue 41). What belongs to the address (the
 * connections open, the per-address slots) stays in struct sl_lstate.
 */
struct sl_lcstate {
	struct sl_lcstate *next; /* registry */
	char *key;		 /* listener name */
	int refs;		 /* generations using it (registry lock) */
	uint64_t born_ms;	 /* made (monotonic; the status page) */
	atomic_uint_fast64_t rejected_max;    /* past max_connections */
	atomic_uint_fast64_t rejected_per_ip; /* past max_connections_per_ip */
	/* TLS handshakes done, of which resumed, and failed by reason
	 * (enum sl_tls_fail): one atomic add per handshake */
	atomic_uint_fast64_t tls_handshakes, tls_resumed;
	atomic_uint_fast64_t tls_failures[SL_RUNTIME_TLS_NFAIL];
	struct sl_counts *counts; /* one per worker: requests, responses */
	/* identity: PROXY protocol headers accepted, by command ([0] named
	 * a client, [1] kept the TCP peer: LOCAL, UNKNOWN), and connections
	 * refused by reason (enum sl_pp_error); one atomic add each */
	atomic_uint_fast64_t pp_accepted[2];
	atomic_uint_fast64_t pp_errors[SL_RUNTIME_PP_NERRORS];
	/* upgrades refused for the listener's tunnel limits */
	atomic_uint_fast64_t rejected_tunnels;
	atomic_uint_fast64_t rejected_tunnels_per_ip;
};

struct sl_epstate {
	struct sl_epstate *next;
	char *key; /* "cluster address" */
	int refs;
	uint64_t born_ms;	    /* made (monotonic; the status page) */
	atomic_uint_fast64_t conns; /* open upstream connections, all workers */
	/* health, written by the main thread's checker, read by workers */
	struct sl_counts *counts;	    /* one per worker: idle */
	atomic_int unhealthy;		    /* 1: no new requests */
	atomic_uint_fast64_t checks_ok;	    /* health checks passed */
	atomic_uint_fast64_t checks_failed; /* and failed */
	atomic_int check_status;	    /* of the last check, 0 = none */
	atomic_int check_error;		    /* enum sl_health_error */
	/* outlier ejection, written by any worker on errors (rare) */
	atomic_uint consecutive_errors;	       /* since the last success */
	atomic_uint_fast64_t ejected_until_ms; /* monotonic; 0 = never */
	atomic_uint_fast64_t ejected_since_ms; /* start of the ejection */
	atomic_uint eject_streak;	       /* ejections in a row, for the
						  growing ejection time */
	atomic_uint_fast64_t ejections;	       /* in all */
	/* when the checks last changed the verdict (monotonic; 0: never) */
	atomic_uint_fast64_t health_since_ms;
	/* the cluster's TLS identity (sl_tls_client.fp, 0 plain) the
	 * outlier state above was earned under; main thread only
	 * (sl_health_apply), tls_seen 0 until the first generation */
	uint64_t tls_fp;
	int tls_seen;
};

struct sl_clstate {
	struct sl_clstate *next;
	char *key; /* cluster name */
	int refs;
	uint64_t born_ms;		 /* made (monotonic; the status page) */
	atomic_uint_fast64_t pending;	 /* requests waiting for a connection */
	atomic_uint_fast64_t overloaded; /* 503 upstream_overloaded answered */
	struct sl_counts *counts;	 /* one per worker */
	/* failures that were retried, by retry class (1, 2; 0 unused) */
	atomic_uint_fast64_t retries[3];
	/* failures not retried, by verdict (enum sl_retry_verdict) */
	atomic_uint_fast64_t not_retried[8];
	atomic_uint_fast64_t no_healthy; /* 503 no_healthy_upstream */
};

/* A route's counters, by its labels on /metrics: its listener's name and
 * its own. Not by the listener's address: a listener that moves keeps its
 * routes' counters (nothing but counters lives here). */
struct sl_users; /* users.h */

struct sl_rstate {
	struct sl_rstate *next;
	char *key; /* "listener route" */
	int refs;
	uint64_t born_ms; /* made (monotonic; the status page) */
	/* one per worker, made at the route's first request
	 * (sl_runtime_route_counts), so that a route configured and never
	 * asked costs none of them (issue 78); NULL until then, never
	 * changed after: readers sum NULL as zeros */
	_Atomic(struct sl_counts *) counts;
	/* a split route with a sticky key: the keys each entry got (the
	 * status page; users.h), all workers'; NULL: none yet */
	_Atomic(struct sl_users *) users;
};

/* The modules whose route_bind and route_unbind sl_runtime_bind and
 * sl_runtime_unbind call for each route that uses them (slot m->slot of
 * its slots): conf/conf_mods.c gives its table once, before the first
 * generation is bound, so that this layer names none of them. */
void sl_runtime_set_modules(struct sl_module *const *mods, size_t n);

/* Workers there will be (fixed at start): the per-worker counters are
 * sized by it. Call before the first sl_runtime_bind. */
void sl_runtime_set_workers(unsigned n);
/* The workers' number sl_runtime_set_workers set (1 before). */
unsigned sl_runtime_nworkers(void);

/*
 * One kind of state of the registry: its entries by key in a hash table,
 * chained through each entry's next field. A generation of 100,000 routes
 * binds and lets go of its states in time linear in the file (issue 78);
 * a list searched by name made that quadratic. Registry lock. Zero: empty.
 */
struct sl_runtime_reg {
	void **b;  /* buckets (nb, a power of two); NULL while nb is 0 */
	size_t nb; /* buckets */
	size_t n;  /* entries */
};

/* What every entry of a registry starts with. */
struct sl_runtime_entry {
	void *next;	  /* in its bucket */
	char *key;	  /* in the same allocation */
	int refs;	  /* generations using it (registry lock) */
	uint64_t born_ms; /* made (monotonic; the status page) */
};

/* From a module's route_bind and route_unbind (core/module.h; the
 * registry's lock held), on a registry of its own: the entry of
 * key k in r, of size bytes (its struct, starting with a struct
 * sl_runtime_entry), found or made zeroed (born now), with a reference
 * taken; NULL when out of memory. And a reference dropped: the last one
 * takes e out of r and frees it (what it points to is the caller's to
 * free before); e NULL: nothing. */
void *sl_runtime_entry_get(struct sl_runtime_reg *r, const char *k,
			   size_t size);
void sl_runtime_entry_put(struct sl_runtime_reg *r, void *e);

/*
 * Attaches the shared state of every listener, cluster and endpoint of
 * conf, creating what is new. Main thread, before conf is published.
 * Returns 0 or -1 (out of memory; conf is left unbound).
 */
int sl_runtime_bind(struct sl_conf *conf);
/* Drops conf's references; state nobody uses any more is freed. Any
 * thread. */
void sl_runtime_unbind(struct sl_conf *conf);

struct sl_counts *sl_runtime_route_counts_make(struct sl_rstate *rs);

/*
 * The per-worker counters of a route's state, made at its first request
 * (by whichever worker comes first; the others take those): what a worker
 * calls once a request has its route, before it counts anything on it.
 * One load and a test after the first. Returns NULL when out of memory
 * (nothing made: the request cannot be counted). Any thread.
 */
static inline struct sl_counts *
sl_runtime_route_counts(struct sl_rstate *rs)
{
	struct sl_counts *c =
	    atomic_load_explicit(&rs->counts, memory_order_acquire);

	return __builtin_expect(c != NULL, 1)
		   ? c
		   : sl_runtime_route_counts_make(rs);
}

#define SL_RUNTIME_IP_UNCOUNTED (-2)
/* A connection from a PROXY protocol source (listener.c to client.c): not
 * counted at accept, where its address is the balancer's, but once its
 * header names the client. */
#define SL_RUNTIME_IP_PROXIED (-3)

/*
 * Counts a connection from sa against the per-address table of ls.
 * Returns the slot to release later, SL_RUNTIME_IP_UNCOUNTED when there is
 * no limit, or -1 when max is reached.
 */
int sl_runtime_ip_take(struct sl_lstate *ls, const struct sockaddr *sa,
		       uint64_t max);
void sl_runtime_ip_release(struct sl_lstate *ls, int slot);
/* The same for tunnels from one address (max_tunnels_per_ip). */
int sl_runtime_tunnel_ip_take(struct sl_lstate *ls, const struct sockaddr *sa,
			      uint64_t max);
void sl_runtime_tunnel_ip_release(struct sl_lstate *ls, int slot);

/* Takes one unit of counter unless it is at max (0 = no limit). Returns 1
 * when taken. */
int sl_runtime_take(atomic_uint_fast64_t *counter, uint64_t max);
void sl_runtime_release(atomic_uint_fast64_t *counter);

#endif
