/* SPDX-License-Identifier: MIT */
/*
 * Upstream connections: the per-worker endpoints and their pools of idle
 * keep-alive connections, connecting, and every socket call made on an
 * upstream connection. A connection in use belongs to an owner (an
 * exchange today; a mirror copy or a health check tomorrow) that hears
 * from it only through the handler it gave: connected, failed, readable,
 * writable. Knows no HTTP and no client.
 */
#ifndef SL_UPSTREAM_H
#define SL_UPSTREAM_H

#include <event2/event_struct.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "buf.h"
#include "proxyproto.h"
#include "tls.h"
#include "wloop.h"

struct sl_h1_chunked;
struct sl_upchunker;
struct sl_updechunk;
struct sl_upconn;
struct sl_wendpoint;
struct sl_xprt_mem;

/*
 * For tests: makes a connection to ep on a memory end (xprt.h) instead of
 * a socket, where connect() would be called. Returns 0 with *end, the
 * connecting end of a pair whose other end the test keeps and serves (its
 * connect completes when that end lets it: at once, or as
 * sl_xprt_mem_accept or sl_xprt_mem_refuse say after sl_xprt_mem_hold),
 * or -1 with errno: the connect fails at once (ECONNREFUSED, ...). The
 * connection owns *end from then on.
 */
typedef int sl_up_connector(struct sl_wendpoint *ep, struct sl_xprt_mem **end);

/*
 * The pool's handler for the connections a module above shares out of an
 * endpoint (h2up.c's HTTP/2 connections, in ep->h2), which the pool
 * neither makes nor keeps: called when the pool closes its idle
 * connections (a worker draining or stopping, a reload retiring ep), so
 * that those with no stream close now and the others after their last.
 */
typedef void sl_up_pool_handler(struct sl_wendpoint *ep);

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
	uint32_t active; /* requests in flight (least_request) */
	/* the same for the admin thread (struct sl_counts' inflight of the
	 * endpoint's state in this worker): sl_upstream_active_add */
	atomic_uint_fast64_t *inflight;
	int refs;	   /* generations naming it + its connections */
	int retired;	   /* not in the current generation: no pooling */
	uint64_t seen_gen; /* newest generation naming it */
	struct sl_tls_slot tls_slot; /* the TLS session to resume */
	/* a test's (xprt_mem.c): its connections are made on memory ends;
	 * NULL in the daemon */
	sl_up_connector *connector;
	/* protocol: h2c (h2up.c): the shared HTTP/2 connections, and
	 * what closes the idle ones, set by h2up.c with the first (NULL:
	 * none was made) */
	TAILQ_HEAD(sl_h2up_list, sl_h2up_conn) h2;
	sl_up_pool_handler *on_close_idle;
};

/* An endpoint's requests in flight change by d: what its balancer reads,
 * and what the status page shows. */
static inline void
sl_upstream_active_add(struct sl_wendpoint *ep, int d)
{
	ep->active += (uint32_t)d;
	atomic_store_explicit(ep->inflight, ep->active, memory_order_relaxed);
}

enum sl_upconn_state {
	SL_UP_ST_CONNECTING, /* connect() in progress; handler != NULL */
	SL_UP_ST_HANDSHAKE,  /* TLS: connected, handshake in progress; to
				its owner still connecting */
	SL_UP_ST_ACTIVE,     /* connected and owned: handler != NULL */
	SL_UP_ST_IDLE,	     /* in ep->idle; handler == NULL, in is empty */
};

/* What a connection tells its owner. */
enum sl_up_event {
	SL_UP_EV_CONNECTED, /* connect() completed: now ACTIVE, read interest
			       on */
	SL_UP_EV_FAILED,    /* connect() failed; err is the errno, or
			       SL_UP_ERR_TLS: the TLS handshake failed
			       (sl_upstream_tls_why says why) */
	SL_UP_EV_READABLE,  /* read interest was on and bytes (or EOF) came */
	SL_UP_EV_WRITABLE,  /* write interest was on and a write can go */
};

#define SL_UP_ERR_TLS (-1)

/* Why the last TLS handshake of this thread failed ("certificate verify
 * failed: Hostname mismatch"): valid in the FAILED handler. */
const char *sl_upstream_tls_why(void);

struct sl_upconn;

/* An owner's handler: called from the connection's event callbacks, with
 * the argument the owner gave. It may put the connection back. */
typedef void sl_up_handler(struct sl_upconn *u, enum sl_up_event ev, int err,
			   void *arg);

/* Owned by its endpoint's pool when idle, by its owner when not. */
struct sl_upconn {
	TAILQ_ENTRY(sl_upconn) entry; /* in ep->idle when IDLE */
	struct sl_worker *w;
	struct sl_wendpoint *ep; /* holds a reference */
	sl_up_handler *handler;	 /* the owner's; NULL when IDLE */
	void *arg;		 /* the handler's argument, borrowed */
	enum sl_upconn_state state;
	int fd; /* the socket; -1 on a memory end or a stream */
	union {
		void *xc; /* the transport's context (xprt.h): NULL on TCP,
			     the end on memory, the stream (h2up.c's) on
			     SL_XPRT_STREAM */
		SSL *ssl; /* on TLS */
	};
	uint64_t tls_fp; /* the TLS settings it was made with (0: plain) */
	int tls_rww;	 /* a TLS read waits for writability */
	int rev_on;	 /* rev is added */
	int wev_on;	 /* wev is added */
	uint8_t xkind;	 /* its transport's kind (xprt.h): TCP, TLS once its
			    SSL is made, or MEM */
	uint8_t h2s;	 /* one stream of a shared HTTP/2 connection
			    (h2up.c), its transport SL_XPRT_STREAM: never
			    pooled, and no max_connections slot of its
			    own */
	struct event rev, wev;
	struct event tev;	/* idle timeout in the pool, armed lazily:
				   once, then moved on when it fires early */
	uint64_t idle_until_ms; /* in the pool: closed from then on */
	uint8_t tev_on;		/* tev is added */
	struct sl_buf in;	/* response bytes (sl_upstream_read fills it) */
	uint32_t ready;	     /* in: end of the bytes the owner checked and may
				pass on; kept right when in is compacted */
	uint32_t nrequests;  /* requests sent on this connection */
	uint64_t born_ms;    /* when it was made (pool.max_lifetime) */
	uint64_t tcp_ns;     /* TLS: when TCP connected and the handshake
				began (CLOCK_REALTIME ns), for a trace */
	uint32_t ka_idle_ms; /* the upstream's Keep-Alive timeout less a
				margin: retired from the pool by then (0 =
				pool.idle_timeout alone) */
	uint32_t ka_max;     /* the upstream takes no more requests than
				this on it (0 = no limit) */
	uint64_t id;
	/* identity: a PROXY header starts the connection (sent once it
	 * connects); it names one client, so the connection is never
	 * pooled. 0: none */
	uint8_t pp_len;
	unsigned char pp[SL_PP_V2_OUT_MAX];
	/* the chunked coding of a request body of pieces written as text
	 * (sl_upstream_write_chunked): made at the first, kept for the
	 * connection's next; NULL until then */
	struct sl_upchunker *ck;
	/* the chunked coding of a response body taken off
	 * (sl_upstream_dechunk): made at the first, kept as ck */
	struct sl_updechunk *dk;
};

/*
 * Gives the caller a connection to ep, owned through handler(arg): a
 * pooled one (state ACTIVE) unless fresh is set or none is idle, else a
 * new one (state CONNECTING; the handler hears CONNECTED or FAILED).
 * Returns NULL with errno set when a socket cannot even be created or the
 * connect fails at once (EBUSY: the endpoint is at max_connections).
 * Whatever the cluster's protocol, the connection carries its bytes as
 * they are: to a cluster speaking HTTP/2, an exchange's request goes on a
 * stream (h2up.h), and this is what the shared connections stand on.
 */
struct sl_upconn *sl_upstream_get(struct sl_worker *w, struct sl_wendpoint *ep,
				  int fresh, sl_up_handler *handler, void *arg);

/*
 * The same for a cluster with proxy_protocol: v2: always a new connection,
 * whose first bytes are pp[0..pplen) (a PROXY header, at most
 * SL_PP_V2_OUT_MAX bytes), written on the socket as soon as it connects,
 * before a TLS handshake. It names one client: sl_upstream_put closes it,
 * never pools it.
 */
struct sl_upconn *sl_upstream_get_proxied(struct sl_worker *w,
					  struct sl_wendpoint *ep,
					  const void *pp, size_t pplen,
					  sl_up_handler *handler, void *arg);

/*
 * A connection of ep that is one stream of a shared connection a module
 * above keeps (h2up.c, for a cluster speaking HTTP/2): no socket, no
 * max_connections slot of its own, never pooled; state CONNECTING, owned
 * through handler(arg) as sl_upstream_get's. Its transport is
 * SL_XPRT_STREAM: the caller sets u->xc, its stream, then turns write
 * interest on (sl_upstream_want_write): the connect completes as the
 * stream lets it. sl_upstream_put frees it, stream or none (the
 * transport's close gets NULL). Returns NULL when out of memory.
 */
struct sl_upconn *sl_upstream_stream(struct sl_worker *w,
				     struct sl_wendpoint *ep,
				     sl_up_handler *handler, void *arg);

/*
 * 1 when u is an HTTP/2 stream the upstream did not process (RFC 9113
 * section 8.7: refused with REFUSED_STREAM, above a GOAWAY's last stream,
 * or its connection failed before the request went): its failure is
 * class 1 although its bytes were written.
 */
int sl_upstream_unprocessed(const struct sl_upconn *u);

/* The grpc-status an HTTP/2 stream's answer carried (in its head or its
 * trailers), or -1: none, or not a stream. This and the three next to it
 * are h2up.c's, which owns a stream's transport. */
int sl_upstream_grpc_status(const struct sl_upconn *u);

/* The trailers of a response whose body came as pieces (an HTTP/2
 * stream's, SL_H1_BODY_STREAM) or was chunked (sl_upstream_dechunk), as a
 * field block (hblock.h, status 0) that lasts as long as u (an HTTP/1.1
 * connection's: until its next response), once the body ended; NULL:
 * none. */
const char *sl_upstream_trailers(const struct sl_upconn *u);

/*
 * An HTTP/1.1 upstream's chunked response body as pieces: the chunked
 * coding is this connection's codec's, taken off as it is written
 * (sl_upstream_write_chunked). sl_upstream_dechunk_start arms it for a
 * response with its bounds (the trailer section's bytes and fields, a
 * field name sluice sets, refused there; NULL: none); returns 0, or -1
 * (no memory). sl_upstream_dechunk then takes the framing off the bytes
 * from u->ready to u->in.len in place: the payload moves up, u->ready
 * goes past it, u->in.len loses the framing; the trailer section is
 * gathered across reads and made a block (sl_upstream_trailers) once
 * whole. Returns 1 at the body's end, 0 while more is to come, -1 when
 * the framing is malformed (*why: enum sl_h1_reason), -2 (no memory).
 */
int sl_upstream_dechunk_start(struct sl_upconn *u, size_t max_trailer_bytes,
			      size_t max_trailers, const char *own);
int sl_upstream_dechunk(struct sl_upconn *u, int *why);

/* The decoder's state, for a reader that goes on with the body from
 * u->ready (h1_reader.h, sl_h1_reader_resume); NULL when not armed. */
const struct sl_h1_chunked *
sl_upstream_dechunk_state(const struct sl_upconn *u);

/* sl_upstream_trailers's for an HTTP/1.1 connection (upstream.c). */
const char *sl_upstream_h1_trailers(const struct sl_upconn *u);

/*
 * Writes what is ready of a request whose body of pieces
 * (SL_H1_BODY_STREAM) goes to u as HTTP/1.1 text: the chunked coding is
 * this writer's (doc/design-notes.md, "HTTP/1.1 as a codec of fields").
 * The head's rest (hp bytes at head) goes first, then the payload at body
 * (n bytes, from where the last call's took stopped) as chunks: a size
 * line before each run, CRLF after; once end is set (no more payload
 * comes) and all of it went, the last chunk with trailers (a field block,
 * hblock.h; NULL: none) as text, in the same write as the last run. What
 * a short write cut (a size line, a chunk's CRLF) is finished at the next
 * call. To an HTTP/2 stream (u->h2s) the payload goes as it is, and the
 * end mark with the trailers is the caller's to give once *ended is set
 * (sl_upstream_end_request). Returns the bytes written, 0 when nothing
 * was left to write, -1 with errno; *took gets the payload bytes among
 * them, *ended is set once the last chunk is all out (or, on a stream, the
 * last payload) and u is ready for another request.
 */
ssize_t sl_upstream_write_chunked(struct sl_upconn *u, const char *head,
				  size_t hp, const char *body, size_t n,
				  int end, const char *trailers, size_t *took,
				  int *ended);

/* Whether what sl_upstream_write_chunked last wrote was cut short: a
 * size line, a chunk's payload or CRLF, the last chunk still to go. */
int sl_upstream_chunked_open(const struct sl_upconn *u);

/* The end mark of a request body of pieces (SL_H1_BODY_STREAM) written
 * to an HTTP/2 stream u, with its trailers (a field block, hblock.h, that
 * need not outlast the call; NULL: none): END_STREAM goes after the last
 * DATA, or on the trailers' HEADERS. Failing (no memory), the stream is
 * reset, and the exchange reads the reset. Nothing for another u. */
void sl_upstream_end_request(struct sl_upconn *u, const char *trailers);

/* 1 when u is an HTTP/2 stream whose response ended and was all read:
 * a body of pieces is whole (the message's end mark). */
int sl_upstream_ended(const struct sl_upconn *u);

/*
 * Ends the owner's use of u: back to its pool when reusable is set and the
 * pool has room, else closed. u must not be used afterwards.
 */
void sl_upstream_put(struct sl_upconn *u, int reusable);

/*
 * What the upstream said of the connection's future in a Keep-Alive
 * field (sl_h1_keep_alive): it closes the connection after timeout_s
 * idle seconds, it takes max more requests on it (0: not said). The pool
 * retires it before then, by a margin of a quarter of the timeout (at
 * least 200 ms, at most 2 s) for the time its close takes to reach us,
 * so that a request is never written into a connection being closed.
 */
#define SL_UP_KA_MARGIN_MIN_MS 200
#define SL_UP_KA_MARGIN_MAX_MS 2000
void sl_upstream_keepalive(struct sl_upconn *u, uint32_t timeout_s,
			   uint32_t max);

/* Connecting, TLS handshake included: what the owner waits for. */
static inline int
sl_upstream_connecting(const struct sl_upconn *u)
{
	return u->state == SL_UP_ST_CONNECTING ||
	       u->state == SL_UP_ST_HANDSHAKE;
}

/* Read/write interest of an owned connection. */
void sl_upstream_want_read(struct sl_upconn *u, int on);
void sl_upstream_want_write(struct sl_upconn *u, int on);

/*
 * Reads what the socket has, at most max bytes, into u->in, a buffer of
 * bufsize bytes from the worker's pool (compacted first when full; ready
 * moves with the bytes).
 * The buffer takes a new bufsize when it is empty, or grows to it when it
 * is full; it never shrinks while holding bytes.
 * Returns bytes read, 0 at end of stream, SL_AGAIN when nothing came or
 * there is no room (read interest is then turned off: backpressure until
 * the owner turns it on), or -1 with errno (ENOMEM: no buffer).
 */
ssize_t sl_upstream_read(struct sl_upconn *u, size_t bufsize, size_t max);

/* Frees the stream structs the calling thread keeps for reuse
 * (sl_h2up_thread_free calls it). */
void sl_upstream_streams_free(void);

/* Sends iov[0..niov) (send flags such as MSG_MORE). Returns bytes sent, or
 * -1 with errno (EAGAIN: try on WRITABLE). */
ssize_t sl_upstream_writev(struct sl_upconn *u, struct iovec *iov, int niov,
			   int flags);

/* Moves what pipe p holds to u (a spliced request body, splice.h), as
 * sl_upstream_writev: bytes sent or -1 with errno. Only on a connection
 * sl_upstream_splice_ok says yes to. */
struct sl_pipe;
ssize_t sl_upstream_splice(struct sl_upconn *u, struct sl_pipe *p);
/* 1 when u is plain TCP to an HTTP/1 upstream, whose bytes a pipe may
 * feed. */
int sl_upstream_splice_ok(const struct sl_upconn *u);

/* Ends the write side of u (a tunnel passing on a half-close): TLS's
 * close_notify, then the FIN. */
void sl_upstream_shutdown(struct sl_upconn *u);

/* Drops the first n bytes of u->in (passed on by the owner). */
void sl_upstream_consume(struct sl_upconn *u, size_t n);

/* 1 when more bytes from the upstream wait: in the kernel (one FIONREAD)
 * or decrypted in TLS. */
int sl_upstream_more_waiting(const struct sl_upconn *u);

/*
 * The endpoint (cluster, address) of this worker, created if new, with one
 * more reference; it takes its settings from conf (the newest generation
 * naming it), of which it keeps a reference. Returns NULL when out of
 * memory.
 */
struct sl_wendpoint *sl_upstream_endpoint(struct sl_worker *w,
					  struct sl_conf *conf,
					  const struct sl_conf_cluster *cc,
					  const struct sl_conf_endpoint *ce);
/* Drops a reference on an endpoint; frees it with the last one. */
void sl_upstream_endpoint_unref(struct sl_wendpoint *ep);
/* Endpoints no generation since `generation` names: idle connections
 * close now, busy ones when their owner puts them back. */
void sl_upstream_retire_endpoints(struct sl_worker *w, uint64_t generation);

/* Closes idle connections that hold max_connections slots requests in
 * other workers wait for (called periodically). */
void sl_upstream_shed_idle(struct sl_worker *w);

/* Closes every idle connection of the worker (stop). */
void sl_upstream_close_idle(struct sl_worker *w);

#endif
