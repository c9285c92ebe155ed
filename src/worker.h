/* SPDX-License-Identifier: MIT */
/*
 * A worker: one thread, one event_base, its own listening sockets, client
 * connections, upstream pools and balancer state. Nothing here is shared
 * with other threads except through the notify descriptor and atomics.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "conf.h"
#include "h1_parse.h"
#include "log.h"
#include "util.h"

struct event;
struct event_base;
struct sl_client;
struct sl_upconn;
struct sl_lsock;
struct sl_txn;
struct sl_epstate;

/*
 * One upstream endpoint in one worker: its pool. Shared by every
 * generation that names the endpoint (same cluster name and address, hence
 * the same shared state), so a reload keeps pooled connections. Freed when
 * no generation names it and no connection uses it.
 */
struct sl_wendpoint {
	TAILQ_ENTRY(sl_wendpoint) link; /* in worker->eps */
	struct sl_worker *w;
	struct sl_epstate *key;		       /* identity (shared state) */
	struct sl_conf *gconf;		       /* reference: keeps conf alive */
	const struct sl_conf_endpoint *conf;   /* newest generation naming it */
	const struct sl_conf_cluster *cluster; /* same generation */
	TAILQ_HEAD(, sl_upconn) idle; /* pooled connections, newest first */
	uint32_t nidle;
	uint32_t active;   /* requests in flight (least_request) */
	int refs;	   /* generations naming it + its connections */
	int retired;	   /* not in the current generation: no pooling */
	uint64_t seen_gen; /* newest generation naming it */
};

/* One cluster of one generation in one worker. */
struct sl_wcluster {
	const struct sl_conf_cluster *conf; /* borrowed from its generation */
	TAILQ_HEAD(, sl_txn)
	waiters;		   /* requests waiting for a connection,
				      oldest first */
	struct sl_wendpoint **eps; /* owned array of references */
	int64_t *swrr;		   /* owned, smooth WRR counters */
	uint32_t *weights;	   /* owned */
	uint32_t *active;	   /* owned, scratch of least_request */
	unsigned char *skip;	   /* owned, scratch of txn_pick */
	size_t cursor;		   /* least_request tie breaker */
};

/*
 * A connection's place in a worker timer list: deadlines of one duration
 * expire in the order they were set, so a FIFO per duration replaces a
 * timer per connection (an idle keep-alive connection needs 32 bytes for
 * its timeout instead of a 128-byte event). Embedded in its owner.
 */
struct sl_tlist;
struct sl_tnode {
	TAILQ_ENTRY(sl_tnode) link; /* in tl->q, or in the reap list */
	struct sl_tlist *tl;	    /* NULL when not queued */
	uint64_t deadline_ms;
};

#define SL_TLISTS                                                              \
	8 /* distinct durations kept as FIFOs; more go sorted                  \
	     into the last list */
struct sl_tlist {
	uint64_t dur_ms; /* 0 = unused */
	TAILQ_HEAD(sl_tnode_q, sl_tnode) q;
};

/*
 * One configuration generation as a worker uses it. Referenced by the
 * worker while it is current and by every client connection that started
 * a request under it; freed with the last reference.
 */
struct sl_wgen {
	TAILQ_ENTRY(sl_wgen) link;    /* in worker->gens */
	struct sl_conf *conf;	      /* counted reference */
	struct sl_wcluster *clusters; /* owned, one per conf cluster */
	size_t nclusters;
	int refs;
};

/* A new generation handed from the main thread to one worker. */
struct sl_reload_msg {
	struct sl_conf *conf; /* a reference, taken over by the worker */
	int *fds;	      /* listening socket per conf listener: kept ones
				 are the worker's own, new ones taken over */
};

/* Why a client was cut for being slow or silent. */
enum sl_timeout_reason {
	SL_TO_HEADER = 0, /* header_timeout */
	SL_TO_BODY,	  /* body_timeout */
	SL_TO_SEND,	  /* send_timeout */
	SL_TO_IDLE,	  /* idle_timeout */
	SL_TO_BODY_RATE,  /* min_body_rate */
	SL_TO_SEND_RATE,  /* min_send_rate */
	SL_TO_NREASONS,
};

/*
 * Counters of one worker. Only the worker writes them; the admin thread
 * reads them at scrape time. Relaxed atomics: on x86-64 an increment is a
 * plain load and store, no locked instruction.
 */
struct sl_worker_stats {
	atomic_uint_fast64_t accepted;	   /* client connections */
	atomic_uint_fast64_t active;	   /* client connections open now */
	atomic_uint_fast64_t requests;	   /* exchanges finished */
	atomic_uint_fast64_t responses[6]; /* by status class, [0] = other */
	atomic_uint_fast64_t upstream_connects;
	atomic_uint_fast64_t upstream_reused;
	atomic_uint_fast64_t upstream_retries;
	atomic_uint_fast64_t upstream_failures;
	atomic_uint_fast64_t timeouts[SL_TO_NREASONS]; /* clients cut */
	/* requests refused as malformed or over a limit, by the rule they
	 * broke (enum sl_h1_reason) */
	atomic_uint_fast64_t rejected[SL_H1_R_NREASONS];
};

#define SL_STAT_ADD(field, n)                                                  \
	atomic_store_explicit(                                                 \
	    &(field),                                                          \
	    atomic_load_explicit(&(field), memory_order_relaxed) + (n),        \
	    memory_order_relaxed)
#define SL_STAT_INC(field) SL_STAT_ADD(field, 1)
#define SL_STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

struct sl_worker {
	unsigned id; /* 0.. */
	pthread_t thread;
	struct event_base *base;
	struct sl_wgen *gen;		/* current generation (one reference) */
	TAILQ_HEAD(, sl_wgen) gens;	/* every live generation */
	TAILQ_HEAD(, sl_wendpoint) eps; /* every live endpoint (pools) */
	struct sl_lsock **lsocks;	/* owned, one per listener of gen */
	size_t nlsocks;
	struct sl_bufpool bufs;
	TAILQ_HEAD(, sl_client) clients;
	size_t nclients;
	struct sl_txn *free_txns; /* free list */
	int notify_fd;		  /* eventfd: the main thread's commands */
	struct event *notify_ev;
	struct event *flush_ev; /* access log flush timer */
	struct event *drain_ev; /* end of drain */
	struct event *queue_ev; /* polls for upstream capacity while requests
				   wait (freed by other workers) */
	size_t nwaiting;	/* requests waiting, all clusters */
	struct sl_tlist tlists[SL_TLISTS]; /* connection deadlines */
	struct event *tq_ev;		   /* fires at the earliest of them */
	uint64_t tq_armed_ms;		   /* 0 = not armed */
	struct sl_tnode_q reap;		   /* closed connections to free */
	struct event *reap_ev;
	void *free_clients;  /* free list of client structs */
	size_t sndbuf_extra; /* SO_SNDBUF granted to fast readers, above
				buffer_bytes, over all connections */
	unsigned nfree_clients;
	atomic_int cmd_stop; /* set by main: stop accepting and drain */
	_Atomic(struct sl_reload_msg *) mailbox; /* set by main */
	atomic_uint_fast64_t applied_gen;	 /* generation in use */
	atomic_int done; /* set by the worker when its loop ended */
	int draining;
	struct sl_rand rand;
	struct sl_access_buf *alog; /* owned */
	struct sl_h1_header *hdrs;  /* scratch for one parse */
	size_t max_hdrs;
	struct sl_worker_stats stats;
};

/*
 * Creates a worker for conf (takes a reference) with the listening sockets
 * fds[0..nlisteners) (taken over). Returns NULL on failure.
 */
struct sl_worker *sl_worker_new(unsigned id, struct sl_conf *conf,
				const int *fds);
int sl_worker_start(struct sl_worker *w);
/*
 * Hands msg (a new generation) to the worker; thread-safe. The caller
 * waits until applied_gen shows it before sending another.
 */
void sl_worker_reload(struct sl_worker *w, struct sl_reload_msg *msg);
/* Asks the worker to stop accepting and drain; thread-safe. */
void sl_worker_stop(struct sl_worker *w);
/* Joins the thread and frees the worker. */
void sl_worker_join_free(struct sl_worker *w);

/* Called by connection code when a client goes away while draining. */
void sl_worker_maybe_done(struct sl_worker *w);

/*
 * A worker's view of conf (one reference of conf is taken over on
 * success), with endpoints found or created by identity. Returns NULL when
 * out of memory.
 */
struct sl_wgen *sl_wgen_new(struct sl_worker *w, struct sl_conf *conf);
/* Takes and drops a reference on a generation (worker thread). */
void sl_wgen_ref(struct sl_wgen *g);
void sl_wgen_unref(struct sl_worker *w, struct sl_wgen *g);

/*
 * Sets n to expire dur_ms after now (replacing any earlier deadline); at
 * expiry sl_client_on_deadline(n) is called. sl_timeq_del unqueues.
 */
void sl_timeq_set(struct sl_worker *w, struct sl_tnode *n, uint64_t dur_ms,
		  uint64_t now);
void sl_timeq_del(struct sl_worker *w, struct sl_tnode *n);
/* Frees n's connection from the next loop turn (see sl_client_reap). */
void sl_worker_reap(struct sl_worker *w, struct sl_tnode *n);

/* A request starts or stops waiting for an upstream connection. */
void sl_worker_waiting(struct sl_worker *w, int delta);
/* Capacity may have freed up in wc: lets waiting requests try again, in
 * order, until one has to keep waiting. */
void sl_worker_wake(struct sl_worker *w, struct sl_wcluster *wc);

/* Name of a timeout reason, for logs and metrics. */
const char *sl_timeout_reason_str(enum sl_timeout_reason r);

/* A new connection id, unique in the process (client and upstream). */
uint64_t sl_conn_id(void);

/* A request id: 32 hex characters into out (>= 33 bytes). */
void sl_worker_request_id(struct sl_worker *w, char *out);

#endif
