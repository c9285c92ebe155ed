/* SPDX-License-Identifier: MIT */
/*
 * Features as filters on the exchange (doc/design-notes.md, "Filters").
 * A feature that looks at a request before it goes upstream (a rate
 * limit, a token, the WAF, an external check, the Idempotency-Key store,
 * compression's choice of coding) is a struct sl_filter: a table of the
 * operations it implements, any of them NULL. The exchange knows no
 * feature by name: it runs the filters its route uses, in the one order
 * filter.c writes down, and a route's list is made once per generation
 * (sl_filters_attach), so a route that uses none costs a request one
 * byte's test. Included by the exchange's files (through exchange_int.h),
 * filter.c and fslot.c, by daemon/worker.c, which makes each route's list
 * for a worker's generation (sl_filters_attach), and by
 * tests/unit/test_filter.c.
 */
#ifndef SL_FILTER_H
#define SL_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "h1_msg.h"

struct sl_conf;
struct sl_conf_route;
struct sl_h1_request;
struct sl_h1_response;
struct sl_pbw;
struct sl_seam;
struct sl_txn;
struct sl_upconn;
struct sl_wgen;
struct sl_worker;
struct sl_wroute;

/* What a filter's req_head says. */
enum sl_fverdict {
	SL_FILTER_ANSWERED = -1, /* it answered the request (or the stream
				    closed): nothing more runs */
	SL_FILTER_GO = 0,	 /* the request goes on, to the next filter */
	SL_FILTER_WAIT = 1,	 /* it waits: for body bytes it asked for
				    (sl_exchange_body_wait), or for something
				    of its own (a lease, a key set, a thread,
				    a service), after which it calls
				    sl_exchange_filters_woken, once. The
				    exchange keeps the head and the run's
				    struct sl_fhead meanwhile, and resumes
				    the run at this filter: its req_head is
				    called again (it knows from its own
				    state what it waited for), the filters
				    before it never are, and those after it
				    see what they put in the fhead */
	SL_FILTER_ANSWER = 2	 /* sluice answers it: what is here of its
				    body is read first (so that the
				    connection is kept), then the filter's
				    answer() gives the answer */
};

/* The room a run's head gives a filter for what it found that the
 * filters after it, and the head sent upstream, read (a token's claims,
 * which are values of extra's, and who the token speaks for): the largest
 * such filter's need, checked where it is used. */
#define SL_FHEAD_ROOM 2688

/* What the request-head filters of one run share: the request's head, and
 * what they found for the head sent upstream. On the run's stack until a
 * filter waits; then kept in the exchange (exchange_kept.c), where the
 * resumed run finds it as it was: a pointer into it (a value of extra's
 * in room) stays good, a value a filter adds that points elsewhere must
 * last until the head is written (its state, the configuration). */
struct sl_fhead {
	struct sl_h1_request *req;
	/* fields to set in, or drop from, the head sent upstream (a
	 * token's claims, an authorization's decision): NULL until a
	 * filter asks for them (sl_fhead_extra) */
	struct sl_fwd_extra *extra;
	/* who calls, as a filter before verified it (a token's issuer and
	 * subject), for a filter keyed on who calls: caller_len bytes;
	 * NULL: nobody verified */
	const char *caller;
	size_t caller_len;
	/* a value of extra's (set by req_fields) whose place in the head
	 * written upstream a filter is told (mark_at, by up_head: 0 when
	 * it was not written), to rewrite it for each attempt */
	const char *mark;
	uint32_t mark_at;
	uint32_t room_used; /* room's first bytes that are in use */
	/* the entry of the route's split a filter chose for the request,
	 * plus one (a script's r:cluster); 0: the split chooses */
	uint8_t split_pick;
	struct sl_fwd_extra xbuf;
	/* bytes, as a filter's slot (fslot) and per-worker area (fws) are:
	 * the filter that writes a struct there reads it back the same way,
	 * and the rest only copy the bytes (memcpy) or read chars
	 * (design-notes.md, "A module": the auth paragraph) */
	_Alignas(16) unsigned char room[SL_FHEAD_ROOM];
};

/* h's extra fields, made empty the first time. */
static inline struct sl_fwd_extra *
sl_fhead_extra(struct sl_fhead *h)
{
	if (h->extra == NULL) {
		h->xbuf.ndrop = h->xbuf.nset = 0;
		h->xbuf.drop_lens = 0;
		h->extra = &h->xbuf;
	}
	return h->extra;
}

/*
 * A filter that transforms the response's body (compression): once its
 * resp_head said so, the exchange's output to the client is the filter's,
 * made from what the upstream's body made ready.
 */
struct sl_ftransform {
	/* The bytes ready for the client (transforming what the upstream
	 * made ready, when the last ones went): their start, and their
	 * length (0: none now). May end the stream. */
	size_t (*out)(struct sl_seam *s, char **p);
	/* n of them were sent. */
	void (*sent)(struct sl_seam *s, size_t n);
	/* More is to come: bytes ready, bytes the upstream made ready that
	 * wait for it, or its end not written. */
	int (*pending)(const struct sl_txn *t);
	/* Its end is in the bytes out gave last: nothing follows them (a
	 * codec that frames the body ends it with them). */
	int (*ended)(const struct sl_txn *t);
	/* Why it cannot go on (the exchange is to be cut), or NULL. */
	const char *(*failed)(const struct sl_txn *t);
	/* Does it take the upstream's body whole (reads take the whole
	 * buffer_bytes)? */
	int (*whole)(const struct sl_txn *t);
};

/* What happened to an attempt of the request (a filter's attempt op;
 * doc/operations.md, "Tracing", has their spans). */
enum sl_fattempt_ev {
	SL_FA_QUEUED, /* it waits in its cluster's queue */
	SL_FA_TRY,    /* it has its endpoint: it begins, or leaves the queue */
	SL_FA_CONN,   /* its connection: u, made now (connected) or pooled */
	SL_FA_END,    /* it failed (cls, why) or was answered (status) */
	SL_FA_GRPC,   /* a gRPC call's status in an answer's head (status; <
			 0: none there) */
};
struct sl_fattempt {
	enum sl_fattempt_ev ev;
	int status;
	int cls; /* enum sl_retry_class, with why */
	int connected;
	const char *why;
	const struct sl_upconn *u;
};

/* What a filter's resp_head says (bits). */
#define SL_FILTER_R_TRANSFORM 1 /* it transforms the body (its xf) */
#define SL_FILTER_R_TAP	      2 /* it is to see the body (resp_data) */
/* it answers in the head's place, by its answer op: nothing of the
 * upstream's answer goes out, its connection goes, and the filters after
 * it do not see the head (a Lua response function that failed) */
#define SL_FILTER_R_ANSWER 4

/* Room for the values a filter's resp_head rewrites, until the head is
 * written. */
#define SL_FILTER_SCRATCH 1024

/* Where a filter runs among a request's checks. */
enum sl_fphase {
	SL_FPHASE_CHECK = 0, /* after the route's own limit on the body's
				length (max_body_bytes: a body it will not
				take never costs a check) */
	SL_FPHASE_ACCESS,    /* before it: who may send at all (a trace,
				allow and deny) */
};

/* The filters filter.c's table may hold: a route's set of them is a bit
 * each of 15. */
#define SL_FILTERS_MAX 15

/*
 * What the filters of a route tell the access log (log, log_fields):
 * fields of their own (sl_flog_add: a trace's ids, the WAF's result), each
 * a name, a value (a word of sluice's own, written as it is in the text
 * format) and its place among the line's optional fields: the line
 * writes them by place, whatever the filters' order (doc/operations.md
 * documents each field, and so their order). Fields of one name (of one
 * place) are one field of the line, their values joined by commas in the
 * filters' order: auth's "jwt,external".
 */
#define SL_FLOG_FIELDS 8
/* The places below are the early fields: the JSON line writes them after
 * the status, the others after the request id; the text line writes
 * every field at its end. */
#define SL_FLOG_EARLY 1
struct sl_flog {
	struct sl_flog_field {
		const char *name, *value;
		uint8_t pos;
	} f[SL_FLOG_FIELDS];
	uint8_t n;
};

/* Field name=value at place pos of l's line (value NULL: none). */
static inline void
sl_flog_add(struct sl_flog *l, uint8_t pos, const char *name, const char *value)
{
	unsigned i;

	if (value == NULL || l->n == SL_FLOG_FIELDS)
		return;
	/* kept in place order: a line's few go in by insertion */
	for (i = l->n; i > 0 && l->f[i - 1].pos > pos; i--)
		l->f[i] = l->f[i - 1];
	l->f[i].name = name;
	l->f[i].value = value;
	l->f[i].pos = pos;
	l->n++;
}

struct sl_filter {
	const char *name;
	uint8_t id;    /* its place in filter.c's table, which is the
			  filters' order, set there once for the process
			  (the first sl_filters_attach): it names its slot
			  (sl_fctx) */
	uint8_t phase; /* enum sl_fphase; the table's order keeps every
			  ACCESS filter before the others */
	/* The bytes of the filter's state for one request: its slot in the
	 * exchange (sl_fctx), 0: none. A slot is the filter's alone, and
	 * made for a request only when its route uses the filter. */
	uint16_t ctx_size;
	/* 1: it copies the head written for the upstream as HTTP/1.1 text
	 * (a mirror's copy), so the head is written as text even for an
	 * HTTP/2 upstream, which would take a block */
	uint8_t text_head;
	/* The request was routed to a route that uses the filter: its
	 * slot's state made (ctx: the slot), as the filter wants it. Only
	 * what the filter reads before it writes needs setting: nothing
	 * else clears a slot between requests. NULL with ctx_size: the
	 * exchange zeroes the slot (a few bytes: pointers, a result). */
	void (*begin)(struct sl_txn *t, void *ctx);
	/* Once for the process, when filter.c's table gave each filter its
	 * id, its slot (sl_filter_slot_off[id]) and its per-worker state
	 * (sl_filter_wstate_off[id]): a filter whose files reach them
	 * without naming the filter notes where they are (the idempotency
	 * store's). NULL: nothing to note. */
	void (*placed)(const struct sl_filter *f);
	/* Per worker: wsize bytes of the worker's proxy state (wproxy.h,
	 * sl_fwstate), the filter's alone, zeroed and then made by
	 * worker_init (0, or -1 when out of memory) as the worker starts
	 * with generation conf;
	 * worker_stop when its loop ended, in the table's reverse order,
	 * before the exchange's own requests close: what the filter has in
	 * flight goes; worker_free after them, in the table's order. */
	uint16_t wsize;
	int (*worker_init)(struct sl_worker *w, void *ws,
			   const struct sl_conf *conf);
	void (*worker_stop)(struct sl_worker *w, void *ws);
	void (*worker_free)(struct sl_worker *w, void *ws);
	/* Whether the filter still has work of its own in the background
	 * (a span export) that keeps a drained worker from ending; it may
	 * start it now. NULL: never. */
	int (*busy)(struct sl_worker *w, void *ws);
	/* The worker's tick (every 200 ms, daemon/worker.c): what the
	 * filter does now and then (a key set's refresh). NULL: nothing. */
	void (*worker_tick)(struct sl_worker *w, void *ws);
	/* The main thread's second, with the generation it serves (the
	 * canary guard judges its windows). NULL: none. */
	void (*main_tick)(struct sl_conf *conf, uint64_t now_ms);
	/* What the filter keeps per thread for reuse (a spare state, a
	 * cache), freed: a worker's last step, and after its teardown on
	 * the main thread (sl_filters_thread_free). NULL: none. */
	void (*thread_free)(void);
	/* Whether route r uses the filter (at sl_filters_attach). */
	int (*used)(const struct sl_conf_route *r);
	/* The request's head, once it is routed (the listener's allow and
	 * deny let it through; a route's are a filter of its own), in the
	 * filters' order, once each; again for the filter that waited, at
	 * its wake (SL_FILTER_WAIT): an enum sl_fverdict. */
	int (*req_head)(struct sl_seam *s, struct sl_fhead *h);
	/* Gives the answer req_head decided (it said SL_FILTER_ANSWER). */
	void (*answer)(struct sl_seam *s);
	/* Every req_head let the request on: fields for the head sent
	 * upstream (sl_fhead_extra), and a mark in them. */
	void (*req_fields)(struct sl_seam *s, struct sl_fhead *h);
	/* The head for the upstream is written (t->uphead; h->mark_at):
	 * a filter may note where its mark went, or copy the head (a
	 * mirror), after which it may set SL_TXN_F_REQ_TAP to see the
	 * body. */
	void (*up_head)(struct sl_seam *s, struct sl_fhead *h);
	/* n more bytes of the request's body, as framed, as they are read
	 * (SL_TXN_F_REQ_TAP); t->req_ph says whether it is whole. */
	void (*req_data)(struct sl_seam *s, const char *p, size_t n);
	/* An attempt's event, to a filter that set SL_TXN_F_WATCH. */
	void (*attempt)(struct sl_txn *t, const struct sl_fattempt *a);
	/* sluice answers the request itself while a filter may wait: any
	 * wait of this filter stops (what it holds stays for end). */
	void (*stop)(struct sl_txn *t);
	/* The upstream's final response head (resp: its fields, with room
	 * for resp->max_headers; scratch: SL_FILTER_SCRATCH bytes that
	 * hold rewritten values until it is written), after the retry
	 * decision, in the filters' order: a filter may keep a copy of it,
	 * or rewrite it (resp->body then says the framing of what it
	 * makes). Returns SL_FILTER_R_* bits, 0: nothing more to do. */
	int (*resp_head)(struct sl_seam *s, struct sl_h1_response *resp,
			 char *scratch);
	/* n more bytes of the upstream's body, as its framing made them
	 * ready (a filter that said SL_FILTER_R_TAP). */
	void (*resp_data)(struct sl_seam *s, const char *p, size_t n);
	/* sluice answers in place of the upstream's response head the
	 * filter saw (it was held back, not sent): what the filter made of
	 * it goes. */
	void (*resp_drop)(struct sl_seam *s);
	/* The transformation, for a filter whose resp_head may say
	 * SL_FILTER_R_TRANSFORM. */
	const struct sl_ftransform *xf;
	/* The exchange's log line is being written: the filter's own
	 * record of it goes out (a trace's spans), and its fields of the
	 * line to l (struct sl_flog). */
	void (*log)(struct sl_seam *s, struct sl_txn *t, struct sl_flog *l);
	/* For a filter without a record of its own: only its fields of the
	 * line, called when a filter of the exchange said it has some
	 * (SL_TXN_F_LOGF), so that a request it had nothing to say of
	 * costs the line nothing. */
	void (*log_fields)(struct sl_txn *t, struct sl_flog *l);
	/* A traced request's server span is written (exchange_trace.c):
	 * the filter's own attributes of it, after sluice's, to w, at
	 * most SL_FILTER_SPAN_BYTES of them all the route's filters. */
	void (*span_fields)(struct sl_txn *t, struct sl_pbw *w);
	/* The exchange ends, whatever its way: what the filter holds for
	 * it goes. The ends run only for an exchange that a filter marked
	 * as holding something (SL_TXN_F_FEND: it made a state, it waits),
	 * and each must then know whether it holds anything itself. */
	void (*end)(struct sl_seam *s);
};

/* The operations a route's filters have between them (sl_wroute.fops). */
#define SL_FOP_REQ_HEAD	  0x01 /* req_head or req_fields */
#define SL_FOP_UP_HEAD	  0x02
#define SL_FOP_RESP_HEAD  0x04
#define SL_FOP_RESP_DROP  0x08
#define SL_FOP_STOP	  0x10
#define SL_FOP_LOG	  0x20
#define SL_FOP_END	  0x40
#define SL_FOP_REQ_FIELDS 0x80
#define SL_FOP_BEGIN	  0x100 /* a filter with state (ctx_size) */
#define SL_FOP_TEXT_HEAD                                                       \
	0x200		  /* a filter copies the upstream head as              \
			     text (text_head) */
#define SL_FOP_SPAN 0x400 /* span_fields */

/* The bytes a request's filters may add to its server span between
 * them (span_fields). */
#define SL_FILTER_SPAN_BYTES 3072

/* Each route of g gets the filters it uses, in the order they run
 * (g->routes[i].filt): one list per distinct set of filters, shared by
 * the routes that use it (a platform's 100,000 plain routes share one
 * empty list). Called once per generation and worker, when it is made
 * (daemon/worker.c): the exchange reads the lists, and so never names a
 * filter, nor the table that names them all. Returns 0, or -1 when out
 * of memory (g is then not to be used). */
int sl_filters_attach(struct sl_wgen *g);

/* Every filter's thread_free, for the calling thread (daemon/worker.c):
 * the worker names none of them. */
void sl_filters_thread_free(void);

/* Every filter's tick: the main thread's second (daemon/main.c), with
 * the generation it serves, which names none of them. */
void sl_filters_main_tick(struct sl_conf *conf, uint64_t now_ms);

/* The filters' per-worker states (wproxy.c): their bytes (setting the
 * slots if no generation did yet), worker_init of each (0, or -1: those
 * made are stopped and freed), worker_stop in the table's reverse order,
 * worker_free in its order. ws: the area. */
size_t sl_filters_wstate_size(void);
int sl_filters_worker_init(struct sl_worker *w, unsigned char *ws,
			   const struct sl_conf *conf);
void sl_filters_worker_stop(struct sl_worker *w, unsigned char *ws);
void sl_filters_worker_free(struct sl_worker *w, unsigned char *ws);
/* Whether a filter of the worker is busy in the background (its busy):
 * the worker's bg_busy. */
int sl_filters_busy(struct sl_worker *w);
/* The worker's tick: each filter's tick. */
void sl_filters_worker_tick(struct sl_worker *w);

/*
 * The filters' slots: each filter with state (ctx_size) has one place in
 * the area every exchange ends with (struct sl_txn's fslot), the same for
 * every route and generation, so that an exchange of the worker's free
 * list serves any route; a route's filters' slots never overlap, and a
 * route without filters with state has none (sl_filters_slot). Set once
 * for the process, by the first sl_filters_attach (before any exchange:
 * an exchange has a route), kept in fslot.c.
 */
extern uint16_t sl_filter_slot_off[SL_FILTERS_MAX];
/* Where each filter's per-worker state is in the worker's proxy state
 * (wproxy.h), and those states' size: set with the slots. */
extern uint16_t sl_filter_wstate_off[SL_FILTERS_MAX];
extern size_t sl_filter_wstate_bytes;
/* The area's size: every slot's. */
extern size_t sl_filter_slot_bytes;
/* The slot of wr's i-th filter: its offset, and its size in *len (0: the
 * filter has none). */
size_t sl_filters_slot(const struct sl_wroute *wr, unsigned i, size_t *len);

#endif
