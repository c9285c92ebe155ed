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

struct sl_conf;

#define SL_PER_IP_SLOTS 65536

struct sl_lstate {
	struct sl_lstate *next;	    /* registry */
	char *key;		    /* listener address as written */
	int refs;		    /* generations using it (registry lock) */
	atomic_uint_fast64_t conns; /* open client connections */
	atomic_uint_fast64_t rejected_max;    /* past max_connections */
	atomic_uint_fast64_t rejected_per_ip; /* past max_connections_per_ip */
	_Atomic(atomic_uint *) per_ip;	      /* SL_PER_IP_SLOTS, lazily */
};

struct sl_epstate {
	struct sl_epstate *next;
	char *key; /* "cluster address" */
	int refs;
	atomic_uint_fast64_t conns; /* open upstream connections, all workers */
};

struct sl_clstate {
	struct sl_clstate *next;
	char *key; /* cluster name */
	int refs;
	atomic_uint_fast64_t pending;	 /* requests waiting for a connection */
	atomic_uint_fast64_t overloaded; /* 503 upstream_overloaded answered */
};

/*
 * Attaches the shared state of every listener, cluster and endpoint of
 * conf, creating what is new. Main thread, before conf is published.
 * Returns 0 or -1 (out of memory; conf is left unbound).
 */
int sl_runtime_bind(struct sl_conf *conf);
/* Drops conf's references; state nobody uses any more is freed. Any
 * thread. */
void sl_runtime_unbind(struct sl_conf *conf);

#define SL_RUNTIME_IP_UNCOUNTED (-2)

/*
 * Counts a connection from sa against the per-address table of ls.
 * Returns the slot to release later, SL_RUNTIME_IP_UNCOUNTED when there is
 * no limit, or -1 when max is reached.
 */
int sl_runtime_ip_take(struct sl_lstate *ls, const struct sockaddr *sa,
		       uint64_t max);
void sl_runtime_ip_release(struct sl_lstate *ls, int slot);

/* Takes one unit of counter unless it is at max (0 = no limit). Returns 1
 * when taken. */
int sl_runtime_take(atomic_uint_fast64_t *counter, uint64_t max);
void sl_runtime_release(atomic_uint_fast64_t *counter);

#endif
