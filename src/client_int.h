/* SPDX-License-Identifier: MIT */
/*
 * Private to client.c and exchange.c: the client connection and exchange
 * structs, their state and flag values, and what each file calls in the
 * other. No other module may include it; theirs is client.h/exchange.h.
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include <event2/event_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "cidr.h"
#include "conf.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "rate.h"
#include "rlcheck.h"
#include "upstream.h"
#include "util.h"
#include "wgen.h"
#include "wloop.h"

enum sl_client_state {
	SL_CLIENT_ST_HANDSHAKE, /* TLS: the handshake, under header_timeout;
				   nothing read yet */
	SL_CLIENT_ST_PROXY,	/* a proxy_protocol listener: the connection's
				   first bytes are read as a PROXY header (a
				   "from" source) or checked for one (any
				   other), under header_timeout (idle_timeout
				   for another source on plain HTTP) */
	SL_CLIENT_ST_IDLE,	/* between requests: txn == NULL, no byte of the
				   next head yet; deadline = idle timeout */
	SL_CLIENT_ST_HEAD,	/* part of a head is in `in`: txn == NULL;
				   deadline = header deadline */
	SL_CLIENT_ST_TXN,    /* txn != NULL: one exchange, proxied or local */
	SL_CLIENT_ST_LINGER, /* final response sent, write side shut down;
				input is dropped until EOF or deadline */
	SL_CLIENT_ST_CLOSED, /* fd closed, no events; freed by tev */
};

#define C_F_REV 0x01 /* rev is added */
#define C_F_WEV 0x02 /* txn->wev is added: a write would block */
#define C_F_EOF 0x04 /* the client shut its write side */
/* its listener left the configuration: close after the current exchange */
#define C_F_RETIRED    0x08
#define C_F_CORKED     0x10 /* the last response went out with MSG_MORE */
#define C_F_SNDBUF_MAX 0x20 /* SO_SNDBUF has grown as far as it may */
#define C_F_REV_W                                                              \
	0x40 /* TLS: rev waits for writability (a read                         \
		     needs a write to go first) */
/* idle for a while: in w->cpool.parked and its park_fd, rev given back */
#define C_F_PARKED 0x1000
/* LINGER with response bytes not yet sent: linger_out_end says until
 * when it waits for the client to take them */
#define C_F_LINGER_OUT 0x2000
/* PROXY state, a source not in proxy_protocol.from: its first bytes are
 * checked for a header it may not send (doc/edge.md section 2) */
#define C_F_PP_SNIFF 0x4000
/* the client took SL_RBUF_PROOF bytes since its last slow stall */
#define C_F_RBUF_PROVEN 0x80
/* the size class of the response buffer this client has earned: 8 KiB <<
 * class bytes, at most buffer_bytes (sl_client_rbuf_size) */
#define C_F_RBUF_SHIFT 8
#define C_F_RBUF_MASK  (0xfu << C_F_RBUF_SHIFT)

/*
 * Where an exchange stands, one phase per side, each set where its side
 * moves on (doc/design-notes.md, "The codec seam"); the facts that vary on
 * their own stay T_ flags.
 */
/* The request, once its head was read whole. */
enum sl_txn_req_phase {
	SL_TXN_REQ_BODY, /* its body is being read (or checked: none) */
	SL_TXN_REQ_DONE	 /* the whole request was read and checked */
};

/* The upstream side, between attempts and at the end (during an attempt,
 * t->up and its state say how far it got: connecting, sending, waiting,
 * receiving). */
enum sl_txn_up_phase {
	SL_TXN_UP_NONE,	     /* no wait: none yet, or an attempt under way */
	SL_TXN_UP_QUEUED,    /* in the cluster's queue for a connection */
	SL_TXN_UP_UNQUEUING, /* leaving the queue to try again */
	SL_TXN_UP_BACKOFF,   /* waiting retry_at_ms to try again */
	SL_TXN_UP_DONE	     /* the whole response was read from it */
};

/* What the client is being sent. */
enum sl_txn_resp_phase {
	SL_TXN_RESP_NONE,     /* nothing yet */
	SL_TXN_RESP_UPSTREAM, /* the upstream's answer: its head is queued
				 (or held back), its body follows */
	SL_TXN_RESP_LOCAL     /* sluice's own answer */
};

/* One request/response exchange. Owned by its client; free list per
 * worker. */
struct sl_txn {
	struct sl_txn *next_free;
	struct sl_client *client;   /* owner */
	struct event wev;	    /* the client is writable (C_F_WEV) */
	struct event tev;	    /* the exchange's nearest deadline */
	uint64_t armed_ms;	    /* deadline tev is armed for, 0 = none */
	struct sl_buf out;	    /* our heads and local responses to the
				       client (only an exchange writes) */
	uint64_t last_read_ms;	    /* last body bytes read */
	uint64_t last_write_ms;	    /* last write progress to the client */
	struct sl_waiter wait;	    /* in wc->waiters when SL_TXN_UP_QUEUED */
	uint64_t queue_deadline_ms; /* queue_timeout while SL_TXN_UP_QUEUED */
	struct sl_rate body_rate;   /* min_body_rate meter */
	struct sl_rate send_rate;   /* min_send_rate meter */
	uint64_t send_written;	    /* response bytes handed to the kernel */
	uint64_t send_delivered;    /* ... of which the client took, at the
				       last check */
	const struct sl_conf_route *route; /* borrowed, NULL for local */
	struct sl_wcluster *wc;		   /* borrowed */
	size_t ep_index;
	struct sl_upconn *up;	  /* owned while set */
	struct sl_mirror *mirror; /* owned while set: the copy being filled */
	struct sl_buf uphead;	  /* request head for the upstream, kept until
				     the response head arrives (replay) */
	unsigned flags;
	uint8_t req_ph;	 /* enum sl_txn_req_phase */
	uint8_t up_ph;	 /* enum sl_txn_up_phase */
	uint8_t resp_ph; /* enum sl_txn_resp_phase */
	enum sl_h1_body req_body;
	uint64_t req_remaining;	 /* Content-Length bytes not yet read */
	uint64_t req_body_bytes; /* payload bytes read */
	uint64_t req_body_sent;	 /* body bytes written upstream, this
				    attempt */
	uint32_t body_off;	 /* with T_RETAIN: body bytes past in.off
				    written to this attempt (in.off stays
				    at the body's start until the answer) */
	struct sl_h1_chunked req_chunked;
	struct sl_h1_scan resp_scan;
	enum sl_h1_body resp_body;
	uint64_t resp_remaining;
	struct sl_h1_chunked resp_chunked;
	int resp_keepalive;	/* upstream allows reuse */
	uint32_t interim_bytes; /* 1xx head bytes read for this request */
	/* what X-Forwarded-For upstream becomes (sl_forwarded_settle): kept
	 * here because the head may be parsed again (a rate limit's wait) */
	uint8_t fwd_xff;      /* enum sl_fwd_xff */
	uint16_t fwd_cut_hdr; /* SL_FWD_CUT: index in the head's fields */
	uint32_t fwd_cut_off; /* ... and bytes of its value kept */
	uint32_t head_out;    /* bytes of heads queued to the client
				 (1xx, the response's): bytes_out less
				 these is body */
	int status;
	const char *error;     /* error code of a local response */
	enum sl_h1_reason why; /* rule a refused request broke, for logs */
	const char *rule;      /* the allow or deny rule that refused it
				  (borrowed from the generation), NULL */
	enum sl_h1_method method_id;
	int minor;
	uint64_t hash_key;    /* with T_HASH_KEY: the hash balancer's key */
	uint64_t sticky_key;  /* with T_STICKY_KEY: the split's sticky key */
	uint64_t split_tried; /* clusters of the split left (first 64) */
	unsigned tries;	      /* connect attempts */
	uint64_t tried;	      /* endpoints tried (first 64) */
	int last_fail;	      /* FAIL_* of the last connect failure */
	uint32_t attempts;    /* requests tried upstream (retry.attempts) */
	uint8_t nretries;     /* attempts after the first, replays included */
	uint8_t nfail;	      /* failures recorded in fails */
	uint64_t deadline_ms; /* the route's overall deadline, 0 until the
				 whole request is read */
	uint64_t retry_at_ms; /* in SL_TXN_UP_BACKOFF: when to try again */
	uint64_t try_timeout_ms; /* per_try_timeout, or the route's */
	uint64_t start_ms;
	uint64_t up_start_ms; /* the first attempt began (0: none) */
	uint32_t connect_ms;  /* upstream connects (TLS included), all
				 attempts */
	uint64_t connect_deadline_ms;
	uint64_t up_progress_ms; /* last progress with the upstream */
	uint64_t bytes_in, bytes_out;
	struct sl_ip client_addr; /* the request's client (doc/edge.md
				     section 1): the connection's, or the one
				     a trusted proxy forwarded it for
				     (T_FWD_CLIENT) */
	uint64_t rbuf_mark;	  /* send_written at the last slow stall: the
				     bytes since are the client's proof that it
				     reads (sl_client_rbuf_size) */
	char request_id[SL_REQUEST_ID_MAX + 1];
	char method[16];
	char path[256]; /* target as logged (log.query applied) */
	char host[128];
	char referer[256];    /* as logged; only with an access log */
	char user_agent[256]; /* only with an access log */
	/* not cleared by txn_new, like the strings: nfail says what is set */
	struct {
		uint8_t cls;	      /* enum sl_retry_class */
		const char *upstream; /* its address (borrowed from the
					 generation), NULL: none */
		const char *why;      /* error code, static */
	} fails[4]; /* the attempts that failed, for the log */
	/* rate limits (doc/edge.md section 6): the request's way through
	 * its route's limits, and its wait for a lease. Not cleared by
	 * txn_new either: it sets rl.wait.entry (nothing waits), and
	 * sl_rlcheck_start the rest when the route has limits */
	struct sl_rlc rl;
};

#define T_CLOSE	    0x0002  /* close the client after this exchange */
#define T_REQ_SENT  0x0008  /* the whole request was written upstream */
#define T_UP_BROKEN 0x0040  /* upstream connection must not be reused */
#define T_UP_REUSED 0x0080  /* upstream connection came from the pool */
#define T_RETRIED   0x0100  /* replayed once on a fresh connection */
#define T_DECHUNK   0x0200  /* chunked response to an HTTP/1.0 client */
#define T_HEAD_ONLY 0x0400  /* HEAD request */
#define T_UP_WBLOCK 0x0800  /* an upstream write would block */
#define T_COUNTED   0x1000  /* counted in the endpoint's active */
#define T_UP_WDEAD  0x8000  /* the upstream stopped taking the request */
#define T_HASH_KEY  0x10000 /* hash_key holds the request's key */
#define T_RETAIN                                                               \
	0x20000 /* the body stays in `in` until the answer,                    \
		   so that a retry can send it again */
#define T_BODY_GONE                                                            \
	0x40000		      /* body bytes went out and were dropped:         \
				 the request cannot be sent again */
#define T_IDEMPOTENT 0x80000  /* safe to send twice (method or key) */
#define T_IN_BUDGET  0x200000 /* counted in the cluster's retrying */
#define T_IN_CLUSTER 0x400000 /* counted in the cluster's active */
#define T_POOL_REPLAYED                                                        \
	0x800000	  /* replayed once after a dead pooled                 \
			     connection */
#define T_FRESH 0x1000000 /* the next attempt opens a new connection */
/* the client's socket is full: the upstream is not read until the client
 * is writable (resp_paced) */
#define T_PACED	    0x2000000
#define T_PACE_WOKE 0x4000000 /* ...and the client has been writable since */
/* sticky_key holds the request's sticky key (a split's) */
#define T_STICKY_KEY 0x8000000
/* identity: client_addr came from a trusted proxy's forwarded field */
#define T_FWD_CLIENT 0x40000000

/* Owned by its worker's list; freed after sl_client_close by tev. */
struct sl_client {
	TAILQ_ENTRY(sl_client) entry;
	struct sl_worker *w;
	struct sl_wgen *gen; /* generation of the current or last request
				(one reference) */
	const struct sl_conf_listener *lconf; /* borrowed from gen; its
						 limits are the budgets */
	struct sl_txn *txn;
	enum sl_client_state state;
	unsigned flags;
	int fd;
	uint32_t in_ready; /* in: end of checked request bytes (TXN) */
	struct sl_buf in;  /* request bytes */

	union {
		struct sl_h1_scan scan; /* HEAD: the head being read */
		/* LINGER with C_F_LINGER_OUT: when waiting for the client to
		 * take the response ends, the low 32 bits of a now_ms() time
		 * (the scanner is done with by then) */
		uint32_t linger_out_end;
	};
	uint32_t sndbuf_extra; /* SO_SNDBUF granted above the inherited
				  one (w->cpool.sndbuf_extra) */
	uint64_t id;
	struct sl_tnode tnode; /* IDLE, HEAD, LINGER deadline (worker list);
				  the reap list once CLOSED */
	uint32_t nrequests;
	int ip_slot; /* per-address count to release, or
			SL_RUNTIME_IP_UNCOUNTED */
	const char *close_reason;
	SSL *ssl;		  /* TLS (xprt.h), or NULL */
	char *tls_subject;	  /* the verified client certificate's subject,
				     when the listener forwards it */
	struct event *rev;	  /* the only event of an idle connection; NULL
				     while parked (C_F_PARKED) */
	struct sockaddr_in6 peer; /* the client: the TCP peer, or the source
				     a PROXY header named; large enough for
				     AF_INET too */
	/* identity: what a PROXY header said, when it named a client
	 * (owned, NULL otherwise) */
	struct sl_client_pp *pp;
};

/* A PROXY header that named the client (doc/edge.md section 2). */
struct sl_client_pp {
	struct sockaddr_in6 via; /* the TCP peer: the balancer */
	int via_shown;		 /* via's address is not the client's: the
				    logs show it */
	size_t authority_len;	 /* bytes of authority; 0: none */
	char authority[];	 /* TLV 0x02 as sent, NUL-terminated */
};

/* The time of the event being handled (see sl_now_refresh). */
static inline uint64_t
now_ms(void)
{
	return sl_now_cached();
}

/* Bytes of a buffer for peer_str and sl_client_peer_str. */
#define SL_PEER_MAX 128

/*
 * "ADDR:PORT" of the client for log lines ("peer="): of exchange t when it
 * is not NULL (its client_addr when a trusted proxy named it), else of
 * the connection; " via=ADDR:PORT" follows with the TCP peer when that is
 * another address (a PROXY header or a trusted proxy named the client).
 * Returns buf.
 */
const char *sl_client_peer_str(const struct sl_client *c,
			       const struct sl_txn *t, char *buf, size_t n);

/* The TCP peer's address (no port) for exchange t's log line when it is
 * not the client's (a PROXY header or a trusted proxy named the client),
 * in buf (46 bytes do); NULL when it is the client. */
const char *sl_client_via(const struct sl_client *c, const struct sl_txn *t,
			  char *buf, size_t n);

static inline const char *
peer_str(const struct sl_client *c, char *buf, size_t n)
{
	return sl_client_peer_str(c, NULL, buf, n);
}

/*
 * The response buffer earns its size, as the kernel's send buffer does
 * (client.c, client_sndbuf_grow). Upstream bytes wait in user space only
 * until the client takes them, so the buffer only needs to be as large as
 * what the client drains between two of sluice's turns. It starts at
 * 8 KiB, which holds a head and a small body, and doubles up to
 * buffer_bytes each time the client shows it drains fast: a stalled write
 * that could go on within SNDBUF_FAST_MS, or a read that filled the buffer
 * once the client took SL_RBUF_PROOF bytes without a slow stall (more than
 * the kernel buffers of a client that does not read can hold:
 * C_F_RBUF_PROVEN). A slow stall sends it back to 8 KiB: a slow reader
 * holds that much, not buffer_bytes. The size changes when the buffer is
 * empty (or full, to grow); the class is the connection's, so a keep-alive
 * client keeps what it earned.
 */
#define SL_RBUF_MIN_SHIFT 13 /* 8 KiB */
#define SL_RBUF_PROOF	  ((uint64_t)256 << 10)

static inline unsigned
sl_client_rbuf_class(const struct sl_client *c)
{
	return (c->flags & C_F_RBUF_MASK) >> C_F_RBUF_SHIFT;
}

static inline size_t
sl_client_rbuf_size(const struct sl_client *c)
{
	uint64_t size = (uint64_t)1
			<< (SL_RBUF_MIN_SHIFT + sl_client_rbuf_class(c));

	return (size_t)SL_MIN(size, c->lconf->limits.buffer_bytes);
}

/* One class up (as far as buffer_bytes), or back to the first. */
static inline void
sl_client_rbuf_set(struct sl_client *c, int up)
{
	unsigned cls = sl_client_rbuf_class(c);

	if (!up) {
		cls = 0;
		c->flags &= ~C_F_RBUF_PROVEN;
	} else if (((uint64_t)1 << (SL_RBUF_MIN_SHIFT + cls)) <
		       c->lconf->limits.buffer_bytes &&
		   cls < (C_F_RBUF_MASK >> C_F_RBUF_SHIFT))
		cls++;
	c->flags = (c->flags & ~C_F_RBUF_MASK) | (cls << C_F_RBUF_SHIFT);
}

/* ---- client.c, for exchange.c ---------------------------------------- */

/* Moves c to state s (logged at debug). */
void sl_client_set_state(struct sl_client *c, enum sl_client_state s);

/* Turns write interest on the client (the exchange's wev) on or off. */
void sl_client_want_write(struct sl_client *c, int on);

/* Closes c now and frees it from a zero-delay event: the caller may still
 * read c but must not act on it. reason is static. */
void sl_client_close(struct sl_client *c, const char *reason);

/* Ends c after its last response: closes it, or with linger set shuts the
 * write side and drops input for a while. May close c. */
void sl_client_finish(struct sl_client *c, const char *reason, int linger);

/* Writes the exchange's heads and the ready response bytes to the client.
 * Returns -1 when c was closed. */
int sl_client_write(struct sl_client *c);

/* Works on c until it must wait for an event. May close c. */
void sl_client_process(struct sl_client *c);

/* libevent callback of the exchange's wev: the client is writable. */
void sl_client_on_write(evutil_socket_t fd, short what, void *arg);

/* Counts a client cut for being slow or silent (logged at info for the
 * send timeouts). */
void sl_client_count_timeout(struct sl_client *c, enum sl_timeout_reason r);

/* Closes c with a reset (not a FIN): a response cut in the middle must
 * not look complete to the client, even a close-delimited one. */
void sl_client_abort_reset(struct sl_client *c, const char *reason);

/* The handler of an exchange's upstream connection (arg: the client). */
void sl_exchange_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err,
			     void *arg);

#endif
