/* SPDX-License-Identifier: MIT */
/*
 * What every connection of a worker uses from it: the worker struct, its
 * deadline lists, the deferred frees of closed connections, the wake-up of
 * requests waiting for an upstream connection, its counters and ids. It
 * knows no client, exchange or upstream: what to call when a deadline
 * passes, a connection is to be freed or waiters may try again are
 * handlers worker.c stores here. Worker thread only, except the counters
 * (read by the admin thread) and the fields the main thread sets with
 * atomics.
 */
#ifndef SL_WLOOP_H
#define SL_WLOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "hist.h"
#include "log.h"
#include "util.h"
#include "wpools.h"

struct event;
struct event_base;
struct sl_client;
struct sl_h1_header;
struct sl_lsock;
struct sl_wgen;
struct sl_wendpoint;
struct sl_reload_msg;
struct sl_txn;
struct sl_subreq;
struct sl_rlstore;
struct sl_tpool;
struct sl_adopt;

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

/* Why a tunnel ended (tunnel.c, sluice_tunnels_closed_total). */
enum sl_tun_end {
	SL_TUN_CLIENT_CLOSED = 0, /* the client closed first */
	SL_TUN_UPSTREAM_CLOSED,	  /* the upstream closed first */
	SL_TUN_IDLE_TIMEOUT,	  /* tunnel_idle_timeout */
	SL_TUN_LIFETIME,	  /* tunnel_lifetime */
	SL_TUN_SEND_TIMEOUT,	  /* the client stopped reading */
	SL_TUN_DRAIN,		  /* a stop, a removed listener or a reload's
				     tunnel_drain_timeout */
	SL_TUN_CLIENT_ERROR,	  /* a reset or error on the client's side */
	SL_TUN_UPSTREAM_ERROR,	  /* ... on the upstream's */
	SL_TUN_MIN_SEND_RATE,	  /* the client reads too slowly */
	SL_TUN_NENDS
};

/* Why sluice closed an upstream connection (sluice_upstream_closed_total). */
enum sl_up_close {
	SL_UP_CLOSE_DONE = 0,	  /* its owner was done and it could not be
				     pooled: an error, Connection: close, the
				     upstream's Keep-Alive max, a full pool */
	SL_UP_CLOSE_IDLE_TIMEOUT, /* idle in the pool past its deadline */
	SL_UP_CLOSE_PEER,	  /* the upstream closed it while pooled */
	SL_UP_CLOSE_UNEXPECTED,	  /* it sent bytes while pooled */
	SL_UP_CLOSE_CONNECT,	  /* the connect failed at once */
	SL_UP_CLOSE_SHED,	  /* idle, its slot wanted elsewhere; or
				     its endpoint left the configuration, or
				     the worker stopped */
	SL_UP_NCLOSE
};

/* The counts of two enums of layers above that size counters below, kept
 * here so this header needs none of theirs (admin_metrics.c checks that
 * they are the enums' counts). */
/* enum sl_h1_reason's SL_H1_R_NREASONS (h1_parse.h) */
#define SL_WSTAT_H1_REASONS 40
/* enum sl_h2_refusal's SL_H2_NREFUSALS (h2.h) */
#define SL_WSTAT_H2_REFUSALS 17
/* enum sl_h3_refusal's SL_H3_NREFUSALS, and enum sl_h3_event's
 * SL_H3_NEVENTS (h3.h) */
#define SL_WSTAT_H3_REFUSALS 9
#define SL_WSTAT_QUIC_EVENTS 8

/* The words of the modules' counters in a worker's stats (core/module.h,
 * conf/conf_mods.c). */
#define SL_WSTAT_MOD_WORDS 38

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
	/* bytes read from and written to sockets (TLS: plain text) */
	atomic_uint_fast64_t client_bytes_in, client_bytes_out;
	atomic_uint_fast64_t upstream_bytes_in, upstream_bytes_out;
	/* request body bytes spliced from client to upstream (counted in
	 * the four above too), and bodies that could have been spliced but
	 * went through the buffer for want of a pipe */
	atomic_uint_fast64_t spliced_bytes, splice_no_pipe;
	/* upstream connections closed, by reason (enum sl_up_close) */
	atomic_uint_fast64_t upstream_closed[SL_UP_NCLOSE];
	atomic_uint_fast64_t timeouts[SL_TO_NREASONS]; /* clients cut */
	/* requests refused as malformed or over a limit, by the rule they
	 * broke (enum sl_h1_reason) */
	atomic_uint_fast64_t rejected[SL_WSTAT_H1_REASONS];
	/* I/O buffer bytes held by connections (the pool's `allocated`,
	 * copied at every flush tick) */
	atomic_uint_fast64_t buffer_bytes;
	atomic_uint_fast64_t parked; /* idle connections parked now */
	/* by protocol ([0] HTTP/1.x, [1] HTTP/2): exchanges finished, their
	 * responses by status class, their durations (SL_HIST buckets, the
	 * sum in ms) */
	atomic_uint_fast64_t proto_requests[3];
	atomic_uint_fast64_t proto_responses[3][6];
	atomic_uint_fast64_t proto_dur[3][SL_HIST_N];
	atomic_uint_fast64_t proto_dur_sum_ms[3];
	/* HTTP/2 (h2.c): connections and streams open now, and what the
	 * codec refused, by reason (enum sl_h2_refusal) */
	atomic_uint_fast64_t h2_conns;
	atomic_uint_fast64_t h2_streams;
	atomic_uint_fast64_t h2_refused[SL_WSTAT_H2_REFUSALS];
	/* HTTP/3 (h3.c): QUIC connections open now, the endpoints' events
	 * (enum sl_h3_event) and what the codec refused (enum
	 * sl_h3_refusal) */
	atomic_uint_fast64_t quic_conns;
	atomic_uint_fast64_t quic_events[SL_WSTAT_QUIC_EVENTS];
	atomic_uint_fast64_t h3_refused[SL_WSTAT_H3_REFUSALS];
	/* tunnels (tunnel.c): open now, opened, closed by reason (enum
	 * sl_tun_end), bytes from the client and to it */
	atomic_uint_fast64_t tunnels_open;
	/* the modules' counters of a worker (core/module.h), each module's
	 * from its worker_at; SL_WSTAT_MOD_WORDS is the table's sum
	 * (conf/conf_mods.c checks it): the WAF's 4, compression's 1,
	 * tracing's 11 */
	atomic_uint_fast64_t mod[SL_WSTAT_MOD_WORDS];
	atomic_uint_fast64_t tunnels_opened;
	atomic_uint_fast64_t tunnels_closed[SL_TUN_NENDS];
	atomic_uint_fast64_t tunnel_bytes_in, tunnel_bytes_out;
	/* gRPC calls sluice answered itself, by gRPC status (0..16,
	 * grpc.h; doc/grpc.md) */
	atomic_uint_fast64_t grpc_local[17];
	/* ... and the statuses of the calls the upstreams answered (h2up.c
	 * sees them), 17: one outside 0..16 */
	atomic_uint_fast64_t grpc_upstream[18];
};

#define SL_STAT_ADD(field, n)                                                  \
	atomic_store_explicit(                                                 \
	    &(field),                                                          \
	    atomic_load_explicit(&(field), memory_order_relaxed) + (n),        \
	    memory_order_relaxed)
#define SL_STAT_INC(field) SL_STAT_ADD(field, 1)
#define SL_STAT_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* Why a worker drains (w->draining, which is 0 while it serves). */
enum sl_drain {
	SL_DRAIN_STOP = 1, /* the process stops: no one serves after it */
	SL_DRAIN_HANDOVER, /* an upgrade: a new process serves the same
			      listening sockets already */
};

struct sl_worker {
	unsigned id; /* 0.. */
	pthread_t thread;
	struct event_base *base;
	struct sl_wgen *gen;		/* current generation (one reference) */
	TAILQ_HEAD(, sl_wgen) gens;	/* every live generation */
	TAILQ_HEAD(, sl_wendpoint) eps; /* every live endpoint (pools) */
	struct sl_lsock **lsocks;	/* owned, one per listener of gen */
	size_t nlsocks;
	/* more sockets of gen's listeners, from an upgrade by a sluice that
	 * had more workers: each has a queue of its own that must be
	 * served (sl_worker_add_socket); owned */
	struct sl_lsock **xlsocks;
	size_t nxlsocks;
	struct sl_bufpool bufs;
	struct sl_pipes pipes;	     /* spliced request bodies' (splice.h) */
	struct sl_client_pool cpool; /* the client layer's (client_pool.h) */
	size_t nclients;	     /* open client connections */
	struct sl_txn *free_txns;    /* free list */
	void *h2; /* what the HTTP/2 codec keeps per worker: streams for
		     reuse, scratch (h2.c's; freed by sl_h2_worker_free) */
	void *h3; /* the HTTP/3 codec's: its endpoints (h3.c's; freed by
		     sl_h3_worker_free) */
	/* the proxy layer's per-worker state: its features' (mirror copies,
	 * answers kept for Idempotency-Keys, sluice's own requests, waits
	 * for key sets, the span export, the WAF's threads; proxy/wproxy.h,
	 * made and freed by daemon/worker.c) */
	void *proxy;
	int notify_fd; /* eventfd: the main thread's commands */
	struct event *notify_ev;
	struct event *flush_ev; /* access log flush timer */
	struct event *drain_ev; /* end of drain */
	struct event *queue_ev; /* polls for upstream capacity while requests
				   wait (freed by other workers) */
	size_t nwaiting;	/* requests waiting, all clusters */
	struct sl_tlist tlists[SL_TLISTS]; /* connection deadlines */
	/* handlers stored by worker.c: this layer knows no connection */
	void (*on_deadline)(struct sl_tnode *n); /* a deadline passed */
	void (*on_reap)(struct sl_tnode *n);	 /* free a closed connection */
	void (*on_queue_poll)(struct sl_worker *w); /* let waiting requests
						       try again */
	struct event *tq_ev;	/* fires at the earliest of them */
	uint64_t tq_armed_ms;	/* 0 = not armed */
	struct sl_tnode_q reap; /* closed connections to free */
	struct event *reap_ev;
	/* set by main: stop accepting and drain (an enum sl_drain) */
	atomic_int cmd_stop;
	/* an upgrade's drain: the channel its idle connections go to
	 * (handover.h), or -1; written by main before cmd_stop */
	int hand_chan;
	struct event *hand_ev; /* hand_chan has room again */
	/* connections the process this one replaces handed over, for this
	 * worker to serve (sl_worker_adopt): pushed by main, taken whole by
	 * the worker */
	_Atomic(struct sl_adopt *) adopt;
	_Atomic(struct sl_reload_msg *) mailbox; /* set by main */
	atomic_uint_fast64_t applied_gen;	 /* generation in use */
	atomic_int done; /* set by the worker when its loop ended */
	int draining;	 /* enum sl_drain: 0 while serving */
	struct sl_rand rand;
	struct sl_access_buf *alog; /* owned */
	struct sl_h1_header *hdrs;  /* scratch for one parse */
	size_t max_hdrs;
	struct sl_worker_stats stats;
	/* rate limits: this worker's connection to rate_limit_store
	 * (rlstore.c), made when a fleet limit first needs it */
	struct sl_rlstore *rlstore;
	/* set by worker.c: 1 while work of the worker's own (a span
	 * export) keeps a drained worker from ending; it may start it */
	int (*bg_busy)(struct sl_worker *w);
};

/*
 * Sets n to expire dur_ms after now (replacing any earlier deadline); at
 * expiry w->on_deadline(n) is called. sl_timeq_del unqueues.
 */
void sl_timeq_set(struct sl_worker *w, struct sl_tnode *n, uint64_t dur_ms,
		  uint64_t now);
void sl_timeq_del(struct sl_worker *w, struct sl_tnode *n);
/* Frees n's connection from the next loop turn (w->on_reap). */
void sl_worker_reap(struct sl_worker *w, struct sl_tnode *n);

/* Called by connection code when a client goes away while draining. */
void sl_worker_maybe_done(struct sl_worker *w);

/* A request starts or stops waiting for an upstream connection; while any
 * waits, w->on_queue_poll runs every few milliseconds (capacity freed by
 * other workers), and sl_worker_capacity() runs it from the next loop turn
 * (capacity freed here). */
void sl_worker_waiting(struct sl_worker *w, int delta);
void sl_worker_capacity(struct sl_worker *w);

/* Name of a timeout reason, for logs and metrics. */
const char *sl_timeout_reason_str(enum sl_timeout_reason r);

/* A new connection id, unique in the process (client and upstream). */
uint64_t sl_conn_id(void);

/* A request id: 32 hex characters into out (>= 33 bytes). */
void sl_worker_request_id(struct sl_worker *w, char *out);

/* Creates the loop's own events on w->base (w->base set). Returns 0 or
 * -1. */
int sl_wloop_init(struct sl_worker *w);
/* Frees them. */
void sl_wloop_free(struct sl_worker *w);

#endif
