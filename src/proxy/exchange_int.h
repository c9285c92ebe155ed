/* SPDX-License-Identifier: MIT */
/*
 * Private to the exchange's files in src/proxy: exchange.c and every
 * exchange_*.c (its directions, answers and log, and the features it
 * runs: auth, rate limits, the WAF, idempotency, mirrors, compression,
 * traces), attempt.c, attempt_end.c and exchange_idem_int.h. It holds the
 * exchange's struct, its phases (one enum per side, a few sub-states) and
 * its handful of SL_TXN_F_ flags, what the core calls in its directions
 * and what they answer it (enum sl_txn_next), and the small helpers all
 * of them inline. No file outside src/proxy includes it but the unit
 * tests test_exchange.c and test_h2.c; the others' is exchange.h. That
 * some twenty files share one struct is the debt of features wired into
 * the exchange (a feature as one module is issue 79's). None of these
 * files calls client.c: the connection under an exchange is its stream
 * (seam.h).
 */
#ifndef SL_EXCHANGE_INT_H
#define SL_EXCHANGE_INT_H

#include <stddef.h>

#include <event2/event_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "exchange.h"
#include "filter.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "hdrrule.h"
#include "policy.h"
#include "rate.h"
#include "rlcheck.h"
#include "route.h"
#include "seam.h"
#include "tls.h"
#include "upstream.h"
#include "wgen.h"
#include "wloop.h"
#include "ws.h"

/*
 * Where an exchange stands (doc/design-notes.md, "The codec seam"): one
 * phase per side, each set where its side moves on, and the small
 * sub-states of a side (the request on its way upstream, the body kept for
 * a retry, the replay of a dead pooled connection, pacing). What is left
 * are facts that vary on their own: the SL_TXN_F_ flags below.
 * sl_exchange_schedule and the deadlines switch over these.
 */
/* The request, as read from the client. */
enum sl_txn_req_phase {
	SL_TXN_REQ_HEAD, /* not parsed yet: the exchange has just begun,
			    or answers a head refused or timed out */
	SL_TXN_REQ_BODY, /* its body is being read (or checked: none) */
	SL_TXN_REQ_DONE	 /* the whole request was read and checked */
};

/* The upstream side: waits between attempts, an attempt's progress, the
 * end. t->up is set exactly in CONNECTING to RECEIVING (and in DONE until
 * the exchange lets its connection go). */
enum sl_txn_up_phase {
	SL_TXN_UP_NONE,	      /* no attempt and no wait: none yet, between
				 two, or a local answer replaced them */
	SL_TXN_UP_QUEUED,     /* in the cluster's queue for a connection:
				 queue_deadline_ms */
	SL_TXN_UP_UNQUEUING,  /* leaving the queue to try again */
	SL_TXN_UP_BACKOFF,    /* waiting retry_at_ms to try again */
	SL_TXN_UP_CONNECTING, /* t->up connects (TCP, its PROXY header,
				 TLS): connect_deadline_ms */
	SL_TXN_UP_SENDING,    /* connected, the request goes out (send_ph
				 says how), no response head yet */
	SL_TXN_UP_WAITING,    /* the whole request went out: waiting for
				 the response head */
	SL_TXN_UP_RECEIVING,  /* the response head came (resp_ph UPSTREAM):
				 its body is read; the request may still
				 go out, when the upstream answered early */
	SL_TXN_UP_DONE	      /* the whole response was read from it */
};

/* The request on its way to the upstream, during an attempt (from
 * SL_TXN_UP_SENDING on; a new attempt starts it OPEN again). */
enum sl_txn_send_phase {
	SL_TXN_SEND_OPEN,    /* what is ready of it is written */
	SL_TXN_SEND_BLOCKED, /* a write would block: until the upstream is
				writable (the upstream's clock runs) */
	SL_TXN_SEND_DEAD,    /* the upstream stopped taking it (a write
				failed; its answer may be here already) */
	SL_TXN_SEND_DONE     /* all of it went out */
};

/* What the client is being sent. */
enum sl_txn_resp_phase {
	SL_TXN_RESP_NONE,     /* nothing yet */
	SL_TXN_RESP_UPSTREAM, /* the upstream's answer: its head is queued
				 (or held back), its body follows */
	SL_TXN_RESP_LOCAL     /* sluice's own answer */
};

/* The request body, for a retry (retry.h). */
enum sl_txn_body_phase {
	SL_TXN_BODY_STREAM, /* what goes upstream leaves `in`; nothing of
			       it was dropped yet */
	SL_TXN_BODY_KEPT,   /* it stays in `in` until the answer, so that a
			       retry can send it again (body_off) */
	SL_TXN_BODY_GONE    /* some of it went out and was dropped: the
			       request cannot be sent again */
};

/* The replay of a request whose pooled connection died before an answer:
 * once per exchange, on a fresh connection, whatever the retry policy. */
enum sl_txn_replay {
	SL_TXN_REPLAY_NONE,  /* not replayed */
	SL_TXN_REPLAY_FRESH, /* replaying: the next attempt opens a new
				connection */
	SL_TXN_REPLAY_DONE   /* replayed once: never again */
};

/* Pacing of the upstream to a client that has not shown it reads fast
 * (exchange_resp.c, resp_paced). */
enum sl_txn_pace {
	SL_TXN_PACE_NONE,   /* the upstream is read as the buffer allows */
	SL_TXN_PACE_PAUSED, /* the client's socket is full: the upstream is
			       not read until the client is writable */
	SL_TXN_PACE_WOKE    /* ...and the client has been writable since:
			       the next read goes, room or not */
};

/*
 * An HTTP/2 client's WebSocket tunnel (RFC 8441; doc/websocket.md section
 * 4.1), once its 200 went: the frame boundaries of its bytes both ways, so
 * that a budget's end can close it as a tunnel over HTTP/1.1 closes, with
 * a close frame to each peer. Allocated at the switch, for tunnels only.
 */
/* told: the client's close frame is queued, the stream's end after it (the
 * upstream's bytes are dropped from then on); the upstream's went, then
 * the FIN */
#define SL_XTUN_TOLD_CLIENT 1
#define SL_XTUN_TOLD_UP	    2
struct sl_txn_ws {
	struct sl_ws_track in;	/* the client's bytes, to the upstream */
	struct sl_ws_track out; /* the upstream's, to the client */
	uint64_t drain_at_ms;	/* a reload's tunnel_drain_timeout (or a
				   stop's now) runs out then; 0: none */
	uint64_t closing_ms;	/* close frames begun (0: not closing) */
	uint8_t end;		/* enum sl_tun_end, with closing_ms */
	uint8_t told;		/* SL_XTUN_TOLD_* */
	uint16_t code;		/* of the close frames */
};

/* The exchange's clocks and deadlines (the loop's milliseconds): when it
 * began, what its timer is armed for, the deadlines sl_exchange_schedule
 * weighs, and the last progress each side made. */
struct sl_txn_clock {
	uint64_t start_ms;	    /* the request's first byte */
	uint64_t armed_ms;	    /* deadline tev is armed for, 0 = none */
	uint64_t deadline_ms;	    /* the route's overall deadline, 0 until
				       the whole request is read */
	uint64_t try_timeout_ms;    /* per_try_timeout, or the route's */
	uint64_t retry_at_ms;	    /* in SL_TXN_UP_BACKOFF: when to try
				       again */
	uint64_t queue_deadline_ms; /* queue_timeout while
				       SL_TXN_UP_QUEUED */
	uint64_t connect_deadline_ms;
	uint64_t up_start_ms;	 /* the first attempt began (0: none) */
	uint64_t up_progress_ms; /* last progress with the upstream */
	uint64_t last_read_ms;	 /* last body bytes read */
	uint64_t last_write_ms;	 /* last write progress to the client */
};

/* The request's body as it is read from the client and written upstream
 * (exchange_req.c). */
struct sl_txn_reqbody {
	enum sl_h1_body body; /* its framing */
	uint64_t remaining;   /* Content-Length bytes not yet read */
	uint64_t bytes;	      /* payload bytes read */
	uint64_t sent;	      /* body bytes written upstream, this
				 attempt */
	/* a body of pieces (SL_H1_BODY_STREAM) under a head written as
	 * text: the upstream's writer frames it as chunks
	 * (sl_upstream_write_chunked); 0: the body goes as it is, which is
	 * most bodies */
	uint8_t framed;
};

/* The upstream's response as it is read (exchange_resp.c): its head's
 * scan, its body's framing and what is left of it. */
struct sl_txn_upresp {
	struct sl_h1_scan scan;
	enum sl_h1_body body;
	uint64_t remaining;
	int keepalive;		/* upstream allows reuse */
	uint32_t interim_bytes; /* 1xx head bytes read for this request */
};

/* What X-Forwarded-For upstream becomes (sl_forwarded_settle): kept here
 * because the head is taken again after a filter's wait. */
struct sl_txn_fwd {
	uint8_t xff;	  /* enum sl_fwd_xff */
	uint16_t cut_hdr; /* SL_FWD_CUT: index in the head's fields */
	uint32_t cut_off; /* ... and bytes of its value kept */
};

/* A gRPC call (SL_SEAM_F_GRPC, doc/grpc.md). */
struct sl_txn_grpc {
	uint64_t deadline_ms; /* the end of its grpc-timeout (0: none),
				 which the route's deadline never passes */
	uint8_t status;	      /* the gRPC status sluice answered it with
				 (0: none of sluice's) */
	uint8_t up;	      /* the upstream's, plus one (0: none seen; an
				 HTTP/2 upstream's) */
};

/* The attempts upstream and their retries (attempt.c, retry.h): what was
 * tried, what failed, for the next choice and for the log. fails is last
 * and not cleared by sl_exchange_new: nfail says what is set. */
struct sl_txn_attempts {
	unsigned tries;	      /* connect attempts */
	uint64_t tried;	      /* endpoints tried (first 64) */
	int last_fail;	      /* FAIL_* of the last connect failure */
	uint32_t attempts;    /* requests tried upstream (retry.attempts) */
	uint8_t nretries;     /* attempts after the first, replays included
				 (> 0: the exchange was retried) */
	uint8_t nfail;	      /* failures recorded in fails */
	uint8_t split_first;  /* a guarded split's entry first chosen (the
				 guard counts a move away from it as its
				 failure); 0xff: none */
	uint64_t split_tried; /* clusters of the split left (first 64) */
	struct {
		uint8_t cls;	      /* enum sl_retry_class */
		const char *upstream; /* its address (borrowed from the
					 generation), NULL: none */
		const char *why;      /* error code, static */
	} fails[4]; /* the attempts that failed, for the log */
};

/* The request as the logs show it (sl_exchange_note), NUL-terminated; not
 * cleared but for their first bytes. */
struct sl_txn_note {
	char method[16];
	char path[256]; /* target as logged (log.query applied), or as it
			   came when raw: sl_exchange_note_path */
	char host[128];
	char referer[256];    /* as logged; only with an access log */
	char user_agent[256]; /* only with an access log */
	uint8_t raw;	      /* path is the target as it came */
};

/* A filter's wait (filter.h: SL_FILTER_WAIT): not cleared, read only
 * under the flags each names. */
struct sl_txn_fwait {
	/* wakes the route's filters once the body bytes one waits for are
	 * here (SL_TXN_F_FEV: assigned) */
	struct event ev;
	uint32_t head_len;  /* HELD, BODY_WAIT: the head, kept at in.off
			       while a filter waits */
	uint32_t body_want; /* BODY_WAIT: the body's bytes it waits for */
	uint8_t at;	    /* FWAIT: the waiting filter's place in its
			       route's list, where the run resumes */
	/* the head as parsed before the wait, and what the filters before
	 * the waiting one put in the run's struct sl_fhead, which the
	 * resumed run takes in place (exchange_kept.c); kept from one
	 * request to the next on the free list, NULL until a first wait */
	struct sl_txn_kept *kept;
	/* the head's text as it was kept, NULL: nothing kept for this
	 * request (cleared as an exchange is made) */
	const char *kept_base;
};

/* One request/response exchange. Owned by its stream's codec; free list
 * per worker. What belongs to one feature is its filter's, in the
 * filters' slots at the end (filter.h). */
struct sl_txn {
	struct sl_txn *next_free;
	struct sl_seam *s; /* its stream (seam.h): the codec under it */
	/* its upstream connection's event handler (sl_exchange_on_upstream,
	 * set by the core: attempt.c hands it on without naming the core) */
	void (*on_upstream)(struct sl_upconn *u, enum sl_up_event ev, int err,
			    void *arg);
	struct sl_txn_clock clk;
	struct sl_buf out;	  /* our heads and local responses to the
				     client (only an exchange writes) */
	struct sl_waiter wait;	  /* in wc->waiters when SL_TXN_UP_QUEUED */
	struct sl_rate body_rate; /* min_body_rate meter */
	struct sl_rate send_rate; /* min_send_rate meter */
	uint64_t send_written;	  /* response bytes handed to the kernel */
	uint64_t send_delivered;  /* ... of which the client took, at the
				     last check */
	const struct sl_conf_route *route; /* borrowed, NULL for local */
	struct sl_wcluster *wc;		   /* borrowed */
	size_t ep_index;
	struct sl_upconn *up; /* owned while set */
	struct sl_pipe *pipe; /* owned while set: the body goes by
				 splice(2) (exchange_req.c) */
	struct sl_buf uphead; /* request head for the upstream, kept until
				 the response head arrives (replay) */
	struct sl_txn_ws *ws; /* owned: an HTTP/2 WebSocket tunnel's
				 (SL_TXN_F_TUNNEL), else NULL */
	unsigned flags;	      /* SL_TXN_F_* */
	uint8_t req_ph;	      /* enum sl_txn_req_phase */
	uint8_t up_ph;	      /* enum sl_txn_up_phase */
	uint8_t resp_ph;      /* enum sl_txn_resp_phase */
	uint8_t send_ph;      /* enum sl_txn_send_phase */
	uint8_t body_ph;      /* enum sl_txn_body_phase */
	uint8_t replay;	      /* enum sl_txn_replay */
	uint8_t pace;	      /* enum sl_txn_pace */
	uint8_t upgrade;      /* 1 + the index in route->upgrade of the
				 protocol the request switches to (a 101
				 is expected); 0: none */
	struct sl_txn_reqbody req;
	uint32_t body_off; /* SL_TXN_BODY_KEPT: body bytes past in.off
			      written to this attempt (in.off stays at
			      the body's start until the answer) */
	/* its route's filters' operations (sl_wroute.fops), once routed:
	 * each place they act at costs a request one test */
	uint16_t fops;
	/* the filter that transforms the response's body (filter.h;
	 * compression), NULL: the body goes as the upstream sent it */
	const struct sl_ftransform *xf;
	struct sl_txn_upresp rsp;
	struct sl_txn_fwd fwd;
	uint32_t head_out; /* bytes of heads queued to the client
			      (1xx, the response's): bytes_out less
			      these is body */
	int status;
	const char *error;     /* error code of a local response */
	enum sl_h1_reason why; /* rule a refused request broke, for logs */
	const char *rule;      /* the allow or deny rule that refused it
				  (borrowed from the generation), NULL */
	enum sl_h1_method method_id;
	int minor;
	uint64_t hash_key;   /* with SL_TXN_F_HASH_KEY: the hash
				balancer's key */
	uint64_t sticky_key; /* with SL_TXN_F_STICKY_KEY: the split's
				sticky key */
	uint32_t connect_ms; /* upstream connects (TLS included), all
				attempts */
	uint64_t bytes_in, bytes_out;
	struct sl_ip client_addr; /* the request's client (doc/edge.md
				     section 1): the connection's, or the one
				     a trusted proxy forwarded it for
				     (SL_TXN_F_FWD_CLIENT) */
	uint64_t rbuf_mark;	  /* send_written at the last slow stall: the
				     bytes since are the client's proof that it
				     reads (sl_seam_rbuf_size) */
	struct sl_txn_grpc grpc;
	/* last of what sl_exchange_new clears (up to att.fails) */
	struct sl_txn_attempts att;
	char request_id[SL_REQUEST_ID_MAX + 1];
	/* with upgrade "websocket": the Sec-WebSocket-Accept the 101 must
	 * carry (not cleared, as the strings) */
	char ws_accept[SL_WS_ACCEPT_LEN + 1];
	int tun_ip_slot; /* with SL_TXN_F_TUN_SLOT: max_tunnels_per_ip's */
	/* status 101: the time from the head's first byte to the switch,
	 * what the latency histograms take of a tunnel (its log line has
	 * its whole life) */
	uint32_t switch_ms;
	struct sl_txn_note note;
	/* events, assigned before use (not cleared by txn_new: 128 bytes
	 * each): */
	/* lent to the codec for the time of the exchange
	 * (sl_exchange_codec_event): the exchange never touches it */
	struct event codec_ev;
	struct event tev; /* the exchange's nearest deadline */
	struct sl_txn_fwait fw;
	/* the filters' slots (filter.h, sl_fctx): each filter's state for
	 * the request, made only when its route uses it; sized
	 * sl_filter_slot_bytes at the exchange's malloc */
	_Alignas(16) unsigned char fslot[];
};

/* The state of filter id (enum sl_filter_id) for t's request: its slot
 * (filter.h). Only the filter itself asks for it, and only for a route
 * that uses it. */
static inline void *
sl_fslot(const struct sl_txn *t, unsigned id)
{
	return (void *)(t->fslot + sl_filter_slot_off[id]);
}

/* The same, by the filter's own struct. */
static inline void *
sl_fctx(const struct sl_txn *t, const struct sl_filter *f)
{
	return sl_fslot(t, f->id);
}

/*
 * The facts of an exchange that vary on their own, apart from its phases.
 * Derived, not kept: a HEAD request is method_id, a retried one nretries,
 * the connection counted in its endpoint's active is t->up, a pooled one
 * t->up->nrequests.
 */
#define SL_TXN_F_CLOSE	    0x001 /* close the client after this exchange */
#define SL_TXN_F_IDEMPOTENT 0x002 /* safe to send twice (method or key) */
#define SL_TXN_F_DECHUNK                                                       \
	0x004 /* chunked response to an HTTP/1.0                               \
		 client */
#define SL_TXN_F_UP_BROKEN                                                     \
	0x008			/* the attempt's upstream connection must      \
				   not be reused */
#define SL_TXN_F_HASH_KEY 0x010 /* hash_key holds the request's key */
#define SL_TXN_F_STICKY_KEY                                                    \
	0x020 /* sticky_key holds the request's sticky                         \
		 key (a split's) */
#define SL_TXN_F_FWD_CLIENT                                                    \
	0x040			  /* identity: client_addr came from a         \
				     trusted proxy's forwarded field */
#define SL_TXN_F_IN_CLUSTER 0x080 /* counted in the cluster's active */
#define SL_TXN_F_IN_BUDGET  0x100 /* counted in the cluster's retrying */
#define SL_TXN_F_TUNNEL                                                        \
	0x400 /* HTTP/2's tunnel (RFC 8441): after the                         \
		 upstream's 101, the exchange carries                          \
		 the bytes; its budgets are the                                \
		 tunnel's (exchange.c) */
#define SL_TXN_F_TUN_SLOT                                                      \
	0x200 /* holds one of its listener's                                   \
		 max_tunnels (and tun_ip_slot) for the                         \
		 tunnel it asks, until it is freed */
#define SL_TXN_F_SPLICE_TRIED                                                  \
	0x800 /* whether its body may be spliced was                           \
		 decided (once an exchange) */
/* a filter keeps the request (filter.h: a lease, a key set, a WAF
 * thread, a service; whead_len): the body's clock stops, as it does for a
 * body held back by the upstream */
#define SL_TXN_F_HELD 0x8000
/* a filter waits for the body's first body_want bytes (the head kept as
 * for HELD, the body's clock running) */
#define SL_TXN_F_BODY_WAIT 0x10000
#define SL_TXN_F_FEV	   0x20000 /* fev is assigned */
/* a filter sees the upstream's body (filter.h: SL_FILTER_R_TAP) */
#define SL_TXN_F_TAP 0x40000
/* a filter watches the attempts (filter.h: attempt; a trace) */
#define SL_TXN_F_WATCH 0x80000
/* a filter sees the request's body (filter.h: req_data; a mirror) */
#define SL_TXN_F_REQ_TAP 0x400000
/* a filter holds something its end must let go (a state it made, a
 * wait): the filters' ends run at the exchange's (filter.h) */
#define SL_TXN_F_FEND 0x800000
/* a filter holds the answer's end: its last bytes wait until the filter
 * lets them go (the Idempotency-Key store keeping it,
 * exchange_idem_keep.c) */
#define SL_TXN_F_END_HELD 0x100000
#define SL_TXN_F_CLIENT_RID                                                    \
	0x200000 /* request_id is the client's own X-Request-Id (the logs      \
		    mask it as any value a client chose) */
/* a filter has fields for the access log line (filter.h: log_fields) */
#define SL_TXN_F_LOGF 0x1000000
/* a filter waits (HELD or BODY_WAIT, or the bytes it waited for came and
 * its wake is due): the route's filters resume at fw.at, once, at its
 * wake (sl_exchange_filters_woken) */
#define SL_TXN_F_FWAIT 0x2000000

/*
 * What the core does next, as the request direction (exchange_req.c), the
 * response direction (exchange_resp.c) or the tunnel (exchange_tun.c)
 * returns it: they call neither the core nor each other (doc/
 * design-notes.md, "Layers"), so a step that is another file's is the
 * core's to take. Their functions return an int: -1 (as every int
 * return: failed, already handled), 0 (nothing to do) or one of the
 * values their comments name.
 */
enum sl_txn_next {
	SL_TXN_NEXT_FAILED = -1, /* the exchange failed (answered, retried
				    or cut already), or the stream was
				    closed */
	SL_TXN_NEXT_NONE = 0,	 /* it goes on: nothing more to do */
	SL_TXN_NEXT_READ_UP,	 /* a write upstream failed (errno kept):
				    read the upstream, whose answer may be
				    here already; without one the attempt
				    failed (upstream_write) */
	SL_TXN_NEXT_TUNNEL_IN,	 /* the client's bytes just made ready are
				    an HTTP/2 tunnel's: it follows them
				    (sl_exchange_xtun_in) */
	SL_TXN_NEXT_TUNNEL_OUT,	 /* the upstream's bytes past u->ready are
				    an HTTP/2 tunnel's: it follows (or
				    drops) them and makes them ready
				    (sl_exchange_xtun_out) */
	SL_TXN_NEXT_SWITCH,	 /* a checked 101: the client's is in out,
				    the upstream's bytes after it in t->up's
				    buffer; the codec takes both sides as a
				    tunnel */
	SL_TXN_NEXT_SWITCH_WS,	 /* ... and the protocol is WebSocket */
	SL_TXN_NEXT_SCHEDULE	 /* the tunnel's deadlines moved: the
				    exchange's timer is armed again
				    (sl_exchange_schedule) */
};

/* The weights r's split chooses by in s's worker: its own, or what a
 * module that holds entries back (the canary guard) left of them
 * (route.h). */
static inline const uint32_t *
sl_exchange_split_weights(struct sl_seam *s, const struct sl_conf_route *r)
{
	struct sl_wroute *wr;

	if (r->split_held == NULL)
		return r->split_weights;
	wr = &s->gen->routes[r->index];
	return sl_route_split_weights(r, wr->held_weights, &wr->held_mask,
				      wr->swrr);
}

/* ---- exchange.c: the core --------------------------------------------- */

/* t is routed to wr's route: each of its filters that keeps a state gets
 * it made in its slot, once (fslot.c; after a wait the run resumes, and
 * the states stand). */
void sl_filters_begin(struct sl_txn *t, const struct sl_wroute *wr);

/* A filter that waited (it said SL_FILTER_WAIT) may go on: the request's
 * head and the filters' struct sl_fhead are taken back as they were kept,
 * the route's filters resume at the one that waited (those before it do
 * not run again), then the request goes as they say. Once a wait: a wake
 * of an exchange no filter keeps (SL_TXN_F_FWAIT) does nothing. */
void sl_exchange_filters_woken(struct sl_txn *t);

/* A filter wants the body's first want bytes before it decides: 1 when
 * they are here (or all there will be), 0 when it is to wait for them (it
 * says SL_FILTER_WAIT; the run resumes at it once they are here). */
int sl_exchange_body_wait(struct sl_seam *s, size_t want);

/* Frees s's exchange, if any: its events, buffers, queue place and
 * upstream connection (not reused); s->txn is NULL then. */
void sl_exchange_free(struct sl_seam *s);

/* A filter's wait (exchange.c, txn_filters): keeps h for the wake, its
 * request (whose head is at in.off) and what the filters before the
 * waiting one put in it (fields, a mark, a verified token); a run resumed
 * from what was kept keeps it in place. Returns 0, or -1 when there is no
 * memory for it (the request is then to be answered). */
int sl_exchange_keep(struct sl_seam *s, struct sl_txn *t, struct sl_fhead *h);
/* The wake of s's exchange t: the run's struct sl_fhead as it was kept, in
 * t (or fresh, in *fresh, when the filters before the waiting one put
 * nothing in it), its request's pointers where the text of head_len bytes
 * at in.off now is, and in.off past it. Valid until the next request's
 * wait. NULL when t was answered meanwhile (or nothing was kept: s is
 * closed). */
struct sl_fhead *sl_exchange_unkeep(struct sl_seam *s, struct sl_txn *t,
				    size_t head_len, struct sl_fhead *fresh);
/* The resumed request went on: a block grown by a head of many fields is
 * not kept for the next request. */
void sl_exchange_kept_done(struct sl_txn *t);
/* What t keeps from one request to the next, at its free (worker's end).
 */
void sl_exchange_keep_free(struct sl_txn *t);

/* The handler of an exchange's upstream connection (arg: its stream).
 * attempt.c hands the upstream the one in the exchange (t->on_upstream),
 * which the core set: it does not name the core. */
void sl_exchange_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err,
			     void *arg);

/* ---- exchange_req.c: the request direction (the core calls it) -------- */

/* Checks newly read request body bytes (some came, and the body is not
 * complete). Returns -1 when the exchange was turned into an error
 * response, SL_TXN_NEXT_TUNNEL_IN when the bytes it made ready (all that
 * were read) are an HTTP/2 tunnel's, else 0. */
int sl_exchange_req_read(struct sl_seam *s);

/* A body of pieces (SL_H1_BODY_STREAM) reached its end mark (the
 * stream's end, SL_SEAM_F_EOF) with all of `in` read: its trailers are
 * checked (a 400 when the decoder of text would refuse them) and the
 * request is complete. Returns -1 when the exchange was turned into an
 * error response, else 0. A tunnel's body (SL_H1_BODY_CLOSE) just
 * completes. */
int sl_exchange_req_ended(struct sl_seam *s);

/* The request's trailers as a field block, once a body of pieces ended
 * (seam.h, req_trailers); NULL: none, or a codec that has none. */
static inline const char *
sl_exchange_req_trailers(struct sl_seam *s)
{
	return s->ops->req_trailers != NULL ? s->ops->req_trailers(s) : NULL;
}

/* A chunked request body (HTTP/1.1, req's head) goes to its codec to
 * decode (seam.h, req_dechunk): the exchange reads it as pieces
 * (SL_H1_BODY_STREAM, req's body too). Returns -1 when it was answered
 * (no memory, or a codec that cannot). */
int sl_exchange_req_dechunk(struct sl_seam *s, struct sl_h1_request *req);

/* A body its codec refused (SL_SEAM_F_BODY_BAD; sl_exchange_body_take's
 * -1): answered as its codec says (seam.h, req_refusal: 400 for malformed
 * framing, 413 past max_body_bytes, 503 out of memory). Returns -1. */
int sl_exchange_body_refuse(struct sl_seam *s);

/* Writes what is ready of the request upstream. Returns
 * SL_TXN_NEXT_READ_UP when a write failed (errno kept) before an answer
 * was read, else 0. */
int sl_exchange_up_write(struct sl_seam *s);

/*
 * The first bytes of the request body at p (avail bytes of the buffer),
 * as a filter sees them: payload, as the codecs hand it over (a chunked
 * body's framing is its codec's: seam.h, req_dechunk). Returns how many
 * there are (at most want), *whole 1 when they are the whole body, -1
 * when its codec refused it (none taken: sl_exchange_body_refuse answers
 * it).
 */
size_t sl_exchange_body_take(struct sl_txn *t, const char *p, size_t avail,
			     size_t want, const char **out, int *whole);

/* Whether the body's first want bytes, from start in `in`, are there (or
 * all there will be: the request read, the stream ended, or the client's
 * buffer full at its largest), for a filter that waits for them. */
int sl_exchange_body_ready(struct sl_seam *s, size_t start, size_t want);

/* ---- exchange_resp.c: the response direction (the core calls it) ------- */

/* Reads from the upstream. Returns -1 when the exchange failed,
 * SL_TXN_NEXT_SWITCH or _SWITCH_WS on a checked 101 (nothing more of the
 * exchange is this file's), SL_TXN_NEXT_TUNNEL_OUT when an HTTP/2 tunnel's
 * bytes came, else 0. */
int sl_exchange_up_read(struct sl_seam *s);

/* ---- exchange_tun.c: an HTTP/2 client's WebSocket tunnel (the core) ---- */

/* Follows n bytes of the client's at p (to the upstream). */
void sl_exchange_xtun_in(struct sl_txn *t, const char *p, size_t n);

/* Follows the upstream's bytes read past u->ready (to the client), or drops
 * them once the client was told; they are ready (or gone) then. */
void sl_exchange_xtun_out(struct sl_txn *t, struct sl_upconn *u);

/* The earliest of the tunnel's deadlines: its idle timeout, its lifetime,
 * a drain, the grace of its close. */
uint64_t sl_exchange_xtun_deadline(const struct sl_seam *s,
				   const struct sl_txn *t);

/* The tunnel's deadline passed (or not: 0): it begins to close, or its
 * grace ran out (reset). Returns -1 when the stream was closed,
 * SL_TXN_NEXT_SCHEDULE when the close began, else 0. */
int sl_exchange_xtun_expired(struct sl_seam *s, struct sl_txn *t, uint64_t now);

/* While the tunnel closes: the close frames that can go now. Returns 1
 * when the client's was queued in t->out (to be flushed), else 0. */
int sl_exchange_xtun_tell(struct sl_seam *s);

/* A reload: t's tunnel, if it has one that neither drains nor closes
 * yet, has tunnel_drain_timeout left. Returns SL_TXN_NEXT_SCHEDULE when
 * its deadline moved, else 0. */
int sl_exchange_xtun_reloaded(struct sl_seam *s, struct sl_txn *t);

/* A stop: t's tunnel, if it has one that does not close yet, drains now.
 * Returns as sl_exchange_xtun_reloaded. */
int sl_exchange_xtun_stop(struct sl_txn *t);

/* ---- exchange_log.c --------------------------------------------------- */

/* Counts the exchange and writes its access log line; called once for
 * every exchange, finished or cut. */
void sl_exchange_log(struct sl_seam *s, struct sl_txn *t);

/* ---- exchange_answer.c: the exchange's own answers, below the rest ---- */

/* Room for n more bytes in the exchange's output buffer (made, or moved
 * to the front). Returns 0, or -1 when they do not fit. */
int sl_exchange_out_reserve(struct sl_seam *s, size_t n);

/*
 * Answers the current request (or the head being read) with a local error
 * and stops the exchange with the upstream. close forces the connection to
 * close after it; so does a request whose body was not read. fields, when
 * not NULL, are the answer's own (a rate limit's); they also keep it from
 * the info log (rlcheck.c says those).
 */
void sl_exchange_answer(struct sl_seam *s, int status, const char *code,
			int close, const char *fields);

/* Refuses the request by an allow or deny rule (doc/edge.md section 4):
 * 403, the connection kept as after a 404, counted and logged with the
 * rule (borrowed from the generation). May end the stream. */
void sl_exchange_forbid(struct sl_seam *s, const char *rule);

/* sl_exchange_answer, with what the access log calls it (error: a static
 * string) apart from the answer's code. */
void sl_exchange_answer_as(struct sl_seam *s, int status, const char *code,
			   const char *error, int close, const char *fields);

/* ---- exchange_auth.c: a route's auth: (doc/auth.md) ------------------ */

struct sl_fwd_extra;
struct sl_h1_request;

/* The thread's digest context, set up for SHA-256 (the algorithm
 * fetched once for the process), or NULL: a token's cache and an external
 * decision's key use it. */
struct evp_md_ctx_st *sl_exchange_sha256(void);

/* ---- what a filter answers with (exchange_answer.c) ------------------- */

/* Sends "100 Continue" to a client that asked for it (once: the caller
 * knows it is due). */
void sl_exchange_continue(struct sl_seam *s);

/* Answers with status, fields (CRLF-ended lines, with the body's
 * Content-Type) and body (blen bytes): an authorization service's denial
 * passed on; error is what the logs call it. A gRPC call gets the status's
 * gRPC code instead. */
void sl_exchange_answer_body(struct sl_seam *s, int status, const char *error,
			     const char *fields, const char *body, size_t blen);

/* ACME's http-01 (doc/tls.md, "ACME"): on a listener where the CA's
 * validation arrives (lconf->acme_http), GET
 * /.well-known/acme-challenge/TOKEN for a token of a challenge under way
 * is answered with its key authorization before any route; another token
 * goes on to the routes (a client of the operator's own behind sluice).
 * 1 answered, 0 not. */
int sl_exchange_acme(struct sl_seam *s, const struct sl_h1_request *req);

/* Answers the request with a local error status/code; close forces the
 * connection to close after it. May end the stream. */
void sl_exchange_local(struct sl_seam *s, int status, const char *code,
		       int close);

/* Keeps what the logs show of the request (method, target with log.query
 * applied and no card number, Host), its Referer and User-Agent. */
void sl_exchange_note(struct sl_txn *t, const char *method, size_t method_len,
		      const char *target, size_t target_len, const char *host,
		      size_t host_len);
void sl_exchange_note_agent(struct sl_txn *t, const struct sl_h1_request *req);
const char *sl_exchange_note_path(struct sl_txn *t);

/* Fills the logged fields of t from a refused head of len bytes, as far
 * as they can be read; nothing already known is replaced. */
void sl_exchange_salvage(struct sl_txn *t, const char *head, size_t len);

/* ---- inline helpers ---------------------------------------------------- */

/* An attempt's event to the filters that watch (SL_TXN_F_WATCH): inline,
 * as attempt.c and the core both tell them. */
static inline void
sl_exchange_watch(struct sl_txn *t, const struct sl_fattempt *a)
{
	const struct sl_wroute *wr = &t->s->gen->routes[t->route->index];

	for (unsigned i = 0; i < wr->nfilt; i++)
		if (wr->filt[i]->attempt != NULL)
			wr->filt[i]->attempt(t, a);
}

static inline size_t
sl_exchange_head_cap(const struct sl_seam *s)
{
	/* a rewritten head is the original plus a few fields we add */
	return s->lconf->limits.max_header_bytes + 1024;
}

/* The values of the variables a's rules use (ip: the client address's
 * text when it is made already, else NULL). The cheap ones are filled
 * whether used or not: a test per variable costs more than a store. */
static inline const struct sl_hdr_vars *
sl_exchange_rules_vars(struct sl_seam *s, const struct sl_hdr_apply *a,
		       struct sl_hdr_vars *vars, const char *ip, char ipbuf[64])
{
	const struct sl_txn *t = s->txn;

	if (a->vars_used & (1u << SL_HDR_V_CLIENT_IP))
		vars->v[SL_HDR_V_CLIENT_IP] =
		    ip != NULL ? ip : sl_ip_str(&t->client_addr, ipbuf, 64);
	vars->v[SL_HDR_V_REQUEST_ID] = t->request_id;
	vars->v[SL_HDR_V_ROUTE] = t->route != NULL ? t->route->name : "";
	vars->v[SL_HDR_V_CLUSTER] = t->wc != NULL ? t->wc->conf->name : "";
	if (a->vars_used & (1u << SL_HDR_V_TLS_VERSION))
		vars->v[SL_HDR_V_TLS_VERSION] = s->ops->tls_version(s);
	vars->v[SL_HDR_V_TLS_CLIENT_SUBJECT] =
	    s->tls_subject != NULL ? s->tls_subject : "";
	return vars;
}

/*
 * The header rules for the request (request 1) or the response of s's
 * exchange: its route's with its listener's, or the listener's before
 * routing (put together at load); NULL when none apply, which costs a
 * pointer test or two. The values of the variables they use go to vars
 * (*varsp); ip is the client address's text when the caller has it
 * (else NULL: made in ipbuf if a rule needs it).
 */
static inline const struct sl_hdr_apply *
sl_exchange_rules(struct sl_seam *s, int request, struct sl_hdr_vars *vars,
		  const struct sl_hdr_vars **varsp, const char *ip,
		  char ipbuf[64])
{
	const struct sl_txn *t = s->txn;
	const struct sl_policy *p =
	    t->route != NULL ? t->route->policy : s->lconf->policy;
	const struct sl_hdr_apply *a;

	if (p == NULL || (a = p->rules[request ? 0 : 1]) == NULL)
		return NULL;
	*varsp = a->vars_used != 0
		     ? sl_exchange_rules_vars(s, a, vars, ip, ipbuf)
		     : vars;
	return a;
}

/* The whole request was read: the route's deadline starts. */
static inline void
sl_exchange_req_complete(struct sl_txn *t)
{
	t->req_ph = SL_TXN_REQ_DONE;
	if (t->route != NULL) {
		t->clk.deadline_ms = now_ms() + t->route->timeout_ms;
		if (t->grpc.deadline_ms != 0 &&
		    t->grpc.deadline_ms < t->clk.deadline_ms)
			t->clk.deadline_ms = t->grpc.deadline_ms;
	}
}

/* The body kept for a retry is let go: after an answer (next
 * SL_TXN_BODY_STREAM), or when it no longer fits the buffer (it cannot be
 * sent again then: SL_TXN_BODY_GONE). */
static inline void
sl_exchange_req_unretain(struct sl_seam *s, enum sl_txn_body_phase next)
{
	struct sl_txn *t = s->txn;

	s->in.off += t->body_off;
	t->body_off = 0;
	t->body_ph = (uint8_t)next;
}

/*
 * Whether a response head waits for the first bytes of its body. Upstreams
 * commonly write the head and a Content-Length body with two calls (nginx:
 * writev, then sendfile); forwarding each as it comes costs the client a
 * second segment, a second read and an ACK. The head alone is held, and only
 * while the upstream is being read for a body of known length: body bytes
 * are never delayed, and chunked or close-delimited responses (event
 * streams) get their head at once. A stalled upstream is on its response
 * timeout as before. An answer a filter holds (SL_TXN_F_END_HELD: one
 * kept for an Idempotency-Key in Redis, while the store takes it) is
 * held whole.
 */
static inline int
sl_exchange_resp_held(const struct sl_txn *t, const struct sl_upconn *u)
{
	/* RECEIVING: u is t->up, and the head came (resp_ph UPSTREAM) */
	return (t->up_ph == SL_TXN_UP_RECEIVING &&
		t->rsp.body == SL_H1_BODY_LENGTH && t->bytes_out == 0 &&
		u->ready == u->in.off && u->rev_on) ||
	       (t->flags & SL_TXN_F_END_HELD);
}

/* Whether the upstream's side of the response has bytes the client did
 * not take yet: its body's ready bytes. */
static inline int
sl_exchange_resp_pending(const struct sl_upconn *u)
{
	return u != NULL && u->ready > u->in.off;
}

#endif
