/* SPDX-License-Identifier: MIT */
/*
 * A traced exchange (doc/operations.md, "Tracing"): its trace context, the
 * traceparent its upstream gets, its attempts, and at its end its spans,
 * written to the worker's export queue (traceexp.c). Nothing here runs
 * for a route without tracing, whose exchanges have no trace slot: the
 * filter's operations run only for a route that uses it, and test its
 * slot's on (or a recorded exchange's sampled) first.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cidr.h"
#include "conf_trace.h"
#include "exchange_int.h"
#include "log.h"
#include "pan.h"
#include "retry.h"
#include "trace.h"
#include "traceexp.h"
#include "util.h"
#include "wloop.h"

/*
 * A traced exchange's spans (doc/operations.md, "Tracing"), kept in the
 * exchange until its end, when they are written to the worker's export
 * queue. The filter's slot (filter.h): only `on` is cleared when a
 * request is routed (trace_slot_begin), trace_begin sets the rest.
 */
#define SL_TRACE_TRIES 6    /* attempts recorded as spans, the first ones */
#define SL_TRY_OPEN    0x01 /* the attempt goes on */
#define SL_TRY_FAILED  0x02
#define SL_TRY_QUEUED  0x04 /* it waited in the cluster's queue */
#define SL_TRY_REUSED  0x08 /* on a pooled connection */
struct sl_trace_try {
	uint64_t start_ns, end_ns;
	uint64_t queue_ns;    /* it left the queue (SL_TRY_QUEUED) */
	uint64_t tcp_ns;      /* its connection was made (0: pooled) */
	uint64_t tls_ns;      /* ... and TLS's handshake done (0: none) */
	const char *upstream; /* its endpoint's address (borrowed from the
				 generation), NULL: none yet */
	const char *cluster;  /* its cluster's name (borrowed) */
	const char *why;      /* error code of a failure, static */
	uint8_t span_id[8];
	uint16_t status; /* of the answer, 0: none */
	uint8_t cls;	 /* enum sl_retry_class of a failure */
	uint8_t flags;	 /* SL_TRY_* */
	uint8_t grpc;	 /* a gRPC call's status in a trailers-only
			    answer, plus one (0: none seen) */
};
struct sl_txn_trace {
	uint8_t on;	    /* the exchange is traced (the rest is set) */
	uint8_t sampled;    /* its spans are recorded and exported */
	uint8_t has_parent; /* parent_id: a trusted caller's */
	uint8_t ntries;	    /* tries used */
	uint32_t tp_off;    /* uphead's bytes before the span id in the
			       traceparent sent upstream (0: none) */
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the server span's */
	uint8_t parent_id[8];
	uint8_t flags; /* trace flags sent upstream */
	uint64_t start_ns;
	uint8_t believed;   /* the caller's context is believed: its
			       tracestate goes on */
	uint16_t state_len; /* bytes of state */
	char *state;	    /* a believed caller's tracestate, the spans'
			       trace_state (a sampled exchange's; owned, freed
			       by sl_exchange_trace_end; NULL: none) */
	char parent[SL_TRACEPARENT_LEN]; /* the traceparent sent upstream */
	/* the ids in hex, for the log line (trace_log) */
	char trace_hex[33], span_hex[17];
	struct sl_trace_try tries[SL_TRACE_TRIES];
};

extern struct sl_filter sl_filter_trace;

static inline struct sl_txn_trace *
trc(const struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_trace);
}

/* A span's worst size: its strings are bounded by the exchange's (path
 * 256, twice for a gRPC call's service and method; host 128; the rest
 * short), and its trace_state by SL_TRACESTATE_MAX */
#define SPAN_MAX (2048 + 256 + SL_TRACESTATE_MAX)
/* and what the route's filters add to the server span (filter.h's
 * span_fields) */
#define SPAN_FILTERS_MAX SL_FILTER_SPAN_BYTES

/* CLOCK_REALTIME less CLOCK_MONOTONIC, read again each second: a span's
 * times are the loop's cached clock (refreshed by each event) plus it */
static _Thread_local int64_t rt_off;
static _Thread_local uint64_t rt_off_at;

static uint64_t
mono_ns(void)
{
	return (uint64_t)sl_now_ts.tv_sec * 1000000000u +
	       (uint64_t)sl_now_ts.tv_nsec;
}

static uint64_t
trace_now(void)
{
	uint64_t m = mono_ns();

	if (rt_off_at == 0 || m - rt_off_at > 1000000000u) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		rt_off = (int64_t)(sl_realtime_ns() -
				   ((uint64_t)ts.tv_sec * 1000000000u +
				    (uint64_t)ts.tv_nsec));
		rt_off_at = m;
	}
	return (uint64_t)((int64_t)m + rt_off);
}

enum trace_source {
	SRC_PARENT = 0, /* a trusted caller's traceparent */
	SRC_NEW,	/* none: a new trace */
	SRC_UNTRUSTED,	/* one from a caller not believed: replaced */
	SRC_MALFORMED,	/* a malformed one: replaced */
};

static void
rand_bytes(struct sl_worker *w, uint8_t *b, size_t n)
{
	while (n > 0) {
		uint64_t r = sl_rand_next(&w->rand);
		size_t k = n < 8 ? n : 8;
		memcpy(b, &r, k);
		b += k;
		n -= k;
	}
}

/* A span id: random, never all zeros. */
static void
new_id(struct sl_worker *w, uint8_t *b, size_t n)
{
	do
		rand_bytes(w, b, n);
	while (b[0] == 0 && memcmp(b, b + 1, n - 1) == 0);
}

/* Whether the caller's trace context is believed. */
static int
trusted(const struct sl_seam *s, const struct sl_txn *t)
{
	const struct sl_conf_listener *l = s->lconf;

	enum sl_trace_context ctx = sl_trace_listener_ctx(l);

	if (ctx == SL_TRACE_CTX_ALWAYS)
		return 1;
	if (ctx != SL_TRACE_CTX_TRUSTED || l->trusted_proxies.n == 0)
		return 0;
	/* a forwarded client came through a trusted peer; else client_addr
	 * is still the peer */
	return (t->flags & SL_TXN_F_FWD_CLIENT) ||
	       sl_cidr_set_find(&l->trusted_proxies, &t->client_addr) >= 0;
}

static void
trace_begin(struct sl_seam *s, const struct sl_h1_request *req)
{
	struct sl_txn *t = s->txn;
	struct sl_txn_trace *tr = trc(t);
	const struct sl_h1_header *tp = NULL;
	struct sl_tracectx ctx;
	enum trace_source src = SRC_NEW;
	int ntp = 0;

	if (tr->on) /* a head taken again (a lease's wait) */
		return;
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (h->name_len == 11 &&
		    strncasecmp(h->name, "traceparent", 11) == 0) {
			tp = h;
			ntp++;
		}
	}
	tr->on = 1;
	tr->has_parent = 0;
	tr->ntries = 0;
	tr->tp_off = 0;
	tr->believed = 0;
	tr->state = NULL;
	tr->state_len = 0;
	if (tp != NULL) {
		if (ntp != 1 ||
		    !sl_trace_parse_parent(tp->value, tp->value_len, &ctx))
			src = SRC_MALFORMED;
		else if (!trusted(s, t))
			src = SRC_UNTRUSTED;
		else
			src = SRC_PARENT;
	}
	if (src == SRC_PARENT) {
		memcpy(tr->trace_id, ctx.trace_id, 16);
		memcpy(tr->parent_id, ctx.parent_id, 8);
		tr->has_parent = 1;
		tr->sampled = ctx.flags & 1;
		/* its tracestate goes on with it (trace_fields) */
		tr->believed = 1;
	} else {
		uint32_t sample = sl_trace_route_sample(t->route) - 1;
		new_id(s->w, tr->trace_id, 16);
		tr->sampled = sample >= 1000000 ||
			      sl_rand_next(&s->w->rand) % 1000000 < sample;
	}
	tr->flags = tr->sampled;
	new_id(s->w, tr->span_id, 8);
	SL_STAT_INC(sl_trace_wcounts(&s->w->stats)->ctx[src]);
	/* the span began with the request: now, less the time since
	 * (start_ms is the loop's millisecond, at or before the start) */
	tr->start_ns =
	    trace_now() -
	    (mono_ns() - SL_MIN(mono_ns(), t->clk.start_ms * 1000000u));
	sl_trace_format_parent(tr->trace_id, tr->span_id, tr->flags,
			       tr->parent);
}

static void
trace_fields(struct sl_txn *t, const struct sl_h1_request *req,
	     struct sl_fwd_extra *x)
{
	struct sl_txn_trace *tr = trc(t);
	const struct sl_h1_header *ts = NULL;
	int nts = 0;

	/* room kept for these two beyond the checks' (h1_msg.h) */
	x->drop[x->ndrop].name = "traceparent";
	x->drop[x->ndrop++].len = 11;
	x->drop[x->ndrop].name = "tracestate";
	x->drop[x->ndrop++].len = 10;
	x->drop_lens |= 1ull << 11 | 1ull << 10;
	x->set[x->nset].name = "traceparent";
	x->set[x->nset].nlen = 11;
	x->set[x->nset].value = tr->parent;
	x->set[x->nset++].vlen = SL_TRACEPARENT_LEN;
	if (!tr->believed)
		return;
	/* a believed caller's tracestate, from the head being forwarded
	 * (taken again after a wait, maybe moved: never a pointer kept
	 * from before) */
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (h->name_len == 10 &&
		    strncasecmp(h->name, "tracestate", 10) == 0) {
			ts = h;
			nts++;
		}
	}
	if (ts != NULL && nts == 1 && ts->value_len > 0 &&
	    sl_trace_state_ok(ts->value, ts->value_len)) {
		x->set[x->nset].name = "tracestate";
		x->set[x->nset].nlen = 10;
		x->set[x->nset].value = ts->value;
		x->set[x->nset++].vlen = ts->value_len;
		/* and is the spans' trace_state: kept (the head is not) */
		if (tr->sampled) {
			free(tr->state); /* a head taken again */
			tr->state_len = 0;
			if ((tr->state = malloc(ts->value_len)) != NULL) {
				t->flags |= SL_TXN_F_FEND;
				memcpy(tr->state, ts->value, ts->value_len);
				tr->state_len = (uint16_t)ts->value_len;
			}
		}
	}
}

static void
trace_head(struct sl_txn *t, uint32_t at)
{
	/* at: where the traceparent's value was written (h1_msg.c), 0:
	 * nowhere; its span id follows "00-", the trace id and "-" */
	trc(t)->tp_off = at != 0 ? at + 36 : 0;
}

/* The attempt going on, or NULL. */
static struct sl_trace_try *
open_try(struct sl_txn_trace *tr)
{
	struct sl_trace_try *y;

	if (tr->ntries == 0)
		return NULL;
	y = &tr->tries[tr->ntries - 1];
	return (y->flags & SL_TRY_OPEN) ? y : NULL;
}

/* A new attempt's record, or NULL when SL_TRACE_TRIES are taken (later
 * attempts are counted in the server span, not recorded). */
static SL_INLINE struct sl_trace_try *
new_try(struct sl_worker *w, struct sl_txn *t)
{
	struct sl_txn_trace *tr = trc(t);
	struct sl_trace_try *y;

	if (tr->ntries == SL_TRACE_TRIES)
		return NULL;
	y = &tr->tries[tr->ntries++];
	memset(y, 0, sizeof(*y));
	y->flags = SL_TRY_OPEN;
	y->start_ns = trace_now();
	new_id(w, y->span_id, 8);
	return y;
}

static void
trace_queued(struct sl_txn *t)
{
	struct sl_txn_trace *tr = trc(t);
	struct sl_trace_try *y = open_try(tr);

	if (!tr->sampled || (y == NULL && (y = new_try(t->s->w, t)) == NULL))
		return;
	y->flags |= SL_TRY_QUEUED;
}

static void
trace_try(struct sl_txn *t)
{
	struct sl_txn_trace *tr = trc(t);
	struct sl_trace_try *y = NULL;

	if (tr->sampled) {
		if ((y = open_try(tr)) != NULL && (y->flags & SL_TRY_QUEUED) &&
		    y->queue_ns == 0)
			y->queue_ns = trace_now();
		else if (y == NULL)
			y = new_try(t->s->w, t);
		if (y != NULL) {
			y->upstream =
			    t->wc->conf->endpoints[t->ep_index].addr.text;
			y->cluster = t->wc->conf->name;
		}
	}
	/* the upstream's parent is this attempt's span when it is
	 * recorded, else the server span */
	if (tr->tp_off != 0 && tr->tp_off + 16 <= t->uphead.len)
		sl_trace_hex(y != NULL ? y->span_id : tr->span_id, 8,
			     t->uphead.data + tr->tp_off);
}

static void
trace_conn(struct sl_txn *t, const struct sl_upconn *u, int connected)
{
	struct sl_trace_try *y = open_try(trc(t));

	if (y == NULL)
		return;
	if (!connected) {
		if (u->nrequests > 1)
			y->flags |= SL_TRY_REUSED;
		return;
	}
	y->tls_ns = trace_now();
	y->tcp_ns = u->tcp_ns != 0 ? u->tcp_ns : y->tls_ns;
	if (u->tcp_ns == 0)
		y->tls_ns = 0;
}

static void
trace_try_end(struct sl_txn *t, int status, int cls, const char *why)
{
	struct sl_trace_try *y = open_try(trc(t));

	if (y == NULL)
		return;
	if (status != 0)
		y->status = (uint16_t)status;
	if (why != NULL) {
		y->why = why;
		y->cls = (uint8_t)cls;
		y->flags = (uint8_t)((y->flags & ~SL_TRY_OPEN) | SL_TRY_FAILED);
		y->end_ns = trace_now();
	}
}

static void
trace_grpc(struct sl_txn *t, int grpc_status)
{
	struct sl_trace_try *y = open_try(trc(t));

	if (y != NULL && grpc_status >= 0)
		y->grpc = (uint8_t)(SL_MIN(grpc_status, 17) + 1);
}

/* ---- the spans ---------------------------------------------------------- */

/*
 * A gRPC call's fields (OpenTelemetry's semantic conventions for gRPC):
 * rpc.system, rpc.service and rpc.method from its path
 * ("/package.Service/Method"), and rpc.grpc.status_code when a status was
 * seen (grpc: the status plus one, 0: none).
 */
static void
put_rpc(struct sl_pbw *w, const char *path, unsigned grpc)
{
	size_t n = strcspn(path, "?");
	const char *slash = n > 1 ? memrchr(path + 1, '/', n - 1) : NULL;

	sl_span_str(w, SL_KEY("rpc.system"), SL_KEY("grpc"));
	if (path[0] == '/' && slash != NULL && slash > path + 1 &&
	    (size_t)(slash - path) + 1 < n) {
		sl_span_str(w, SL_KEY("rpc.service"), path + 1,
			    (size_t)(slash - path) - 1);
		sl_span_str(w, SL_KEY("rpc.method"), slash + 1,
			    n - (size_t)(slash - path) - 1);
	}
	if (grpc != 0)
		sl_span_int(w, SL_KEY("rpc.grpc.status_code"), grpc - 1);
}

/* Is a server span with this gRPC status (plus one) an error? The
 * conventions' table: the statuses that say the server failed, not the
 * ones that say the call was refused (a 4xx's). */
static int
grpc_server_error(unsigned grpc)
{
	switch (grpc == 0 ? -1 : (int)grpc - 1) {
	case 2:	 /* UNKNOWN */
	case 4:	 /* DEADLINE_EXCEEDED */
	case 12: /* UNIMPLEMENTED */
	case 13: /* INTERNAL */
	case 14: /* UNAVAILABLE */
	case 15: /* DATA_LOSS */
		return 1;
	default:
		return 0;
	}
}

/* "HOST:PORT" or "[V6]:PORT" at text: the host in *h (*hl bytes), the
 * port returned (-1: none). */
static long
split_addr(const char *text, const char **h, size_t *hl)
{
	size_t n = strlen(text);
	const char *c = memrchr(text, ':', n);
	long port = 0;

	*h = text;
	*hl = n;
	if (text[0] == '[') {
		const char *e = memchr(text, ']', n);
		if (e == NULL)
			return -1;
		*h = text + 1;
		*hl = (size_t)(e - text - 1);
		c = e[1] == ':' ? e + 1 : NULL;
	} else if (c != NULL && memchr(text, ':', n) != c)
		return -1; /* a bare IPv6 address */
	if (c == NULL)
		return -1;
	if (text[0] != '[')
		*hl = (size_t)(c - text);
	for (const char *d = c + 1; *d >= '0' && *d <= '9' && port < 65536; d++)
		port = port * 10 + (*d - '0');
	return port;
}

static const char *const retry_class_names[] = {"", "not_sent", "sent",
						"partial"};

/* "METHOD NAME" at out (size n): its length. */
static size_t
span_name(char *out, size_t n, const char *method, const char *name)
{
	size_t ml = strlen(method), nl = strlen(name);

	if (ml + 1 + nl > n) {
		ml = SL_MIN(ml, n / 2);
		nl = n - ml - 1;
	}
	memcpy(out, method, ml);
	out[ml] = ' ';
	memcpy(out + ml + 1, name, nl);
	return ml + 1 + nl;
}

/* The attempt y's span (the index'th) at w; grpc: a gRPC call's status
 * in its answer, plus one (0: none, or not a call). */
static void
put_try(struct sl_pbw *w, const struct sl_txn *t, const struct sl_trace_try *y,
	unsigned index, uint64_t end_ns, unsigned grpc)
{
	struct sl_span sp = {0};
	struct sl_span_event e;
	char name[96];
	const char *h;
	size_t hl;
	long port;
	const struct sl_txn_trace *tr = trc(t);

	sp.trace_id = tr->trace_id;
	sp.span_id = y->span_id;
	sp.parent_id = tr->span_id;
	sp.trace_state = tr->state;
	sp.trace_state_len = tr->state_len;
	sp.name = name;
	sp.name_len = span_name(name, sizeof(name), t->note.method,
				y->cluster != NULL ? y->cluster : "");
	sp.kind = SL_SPAN_CLIENT;
	sp.start_ns = y->start_ns;
	sp.end_ns = (y->flags & SL_TRY_OPEN) ? end_ns : y->end_ns;
	sl_span_open(w, &sp);
	sl_span_str(w, SL_KEY("http.request.method"), t->note.method,
		    strlen(t->note.method));
	if (y->upstream != NULL) {
		port = split_addr(y->upstream, &h, &hl);
		sl_span_str(w, SL_KEY("server.address"), h, hl);
		if (port >= 0)
			sl_span_int(w, SL_KEY("server.port"), port);
	}
	if (y->cluster != NULL)
		sl_span_str(w, SL_KEY("sluice.cluster"), y->cluster,
			    strlen(y->cluster));
	if (y->status != 0)
		sl_span_int(w, SL_KEY("http.response.status_code"), y->status);
	if (index > 0)
		sl_span_int(w, SL_KEY("http.request.resend_count"), index);
	if (y->flags & SL_TRY_FAILED) {
		sl_span_str(w, SL_KEY("error.type"), y->why, strlen(y->why));
		if (y->cls < SL_NELEM(retry_class_names))
			sl_span_str(w, SL_KEY("sluice.retry_class"),
				    retry_class_names[y->cls],
				    strlen(retry_class_names[y->cls]));
	}
	sl_span_bool(w, SL_KEY("sluice.connection.reused"),
		     (y->flags & SL_TRY_REUSED) != 0);
	if (t->s->flags & SL_SEAM_F_GRPC)
		put_rpc(w, t->note.path, grpc);
	e.key = "sluice.duration_us";
	if (y->queue_ns != 0) {
		e.time_ns = y->queue_ns;
		e.name = "queue_wait";
		e.value = y->queue_ns > y->start_ns
			      ? (int64_t)(y->queue_ns - y->start_ns) / 1000
			      : 0;
		sl_span_event(w, &e);
	}
	if (y->tcp_ns != 0) {
		uint64_t from = y->queue_ns != 0 ? y->queue_ns : y->start_ns;
		e.time_ns = y->tcp_ns;
		e.name = "connect";
		e.value =
		    y->tcp_ns > from ? (int64_t)(y->tcp_ns - from) / 1000 : 0;
		sl_span_event(w, &e);
	}
	if (y->tls_ns != 0) {
		e.time_ns = y->tls_ns;
		e.name = "tls_handshake";
		e.value = y->tls_ns > y->tcp_ns
			      ? (int64_t)(y->tls_ns - y->tcp_ns) / 1000
			      : 0;
		sl_span_event(w, &e);
	}
	/* a client span: any gRPC status but OK is an error */
	(void)sl_span_close(w, (y->flags & SL_TRY_FAILED) || y->status >= 500 ||
				   grpc > 1);
}

/* The exchange's spans, written to the worker's export queue. */
static void
put_spans(struct sl_seam *s, struct sl_txn *t)
{
	struct sl_txn_trace *tr = trc(t);
	struct sl_span sp = {0};
	struct sl_pbw w;
	char name[160], ip[64], peer[64];
	const char *q, *err, *h;
	size_t hl, nspans = 1 + tr->ntries, cap;
	uint64_t end = trace_now();
	long port;
	int grpc = (s->flags & SL_SEAM_F_GRPC) != 0, error;
	/* the call's status, as the access log says it: sluice's own
	 * answer's, else the upstream's */
	unsigned gs = !grpc		    ? 0
		      : t->grpc.status != 0 ? t->grpc.status + 1u
					    : t->grpc.up;

	cap = nspans * SPAN_MAX +
	      ((t->fops & SL_FOP_SPAN) ? SPAN_FILTERS_MAX : 0);
	if ((w.p = sl_traceexp_room(s->w, cap, nspans)) == NULL)
		return; /* the queue is full: dropped, counted */
	w.end = w.p + cap;
	/* every value the client chose as the access log has it: card
	 * numbers masked (here, when no access log masked them at the
	 * exchange's note); a gRPC call's attempts name its path too. The
	 * exchange is over: what went upstream and back went as sent. */
	(void)sl_exchange_note_path(t);
	if (sl_log_cards()) {
		if (!sl_access_enabled()) {
			char m[sizeof(t->note.path)];
			sl_log_target(m, sizeof(m), t->note.path,
				      strlen(t->note.path), SL_LOG_QUERY_FULL,
				      1);
			memcpy(t->note.path, m, sizeof(m));
			(void)sl_pan_mask(t->note.method,
					  strlen(t->note.method),
					  strlen(t->note.method) ==
					      sizeof(t->note.method) - 1);
			(void)sl_pan_mask(t->note.host, strlen(t->note.host),
					  strlen(t->note.host) ==
					      sizeof(t->note.host) - 1);
		}
		if (t->flags & SL_TXN_F_CLIENT_RID)
			(void)sl_pan_mask(t->request_id, strlen(t->request_id),
					  0);
	}
	for (unsigned i = 0; i < tr->ntries; i++) {
		const struct sl_trace_try *y = &tr->tries[i];
		/* the answered attempt's status came in its trailers (read
		 * when its stream ended) when not with its head */
		unsigned yg = !grpc			 ? 0
			      : y->grpc != 0		 ? y->grpc
			      : (y->flags & SL_TRY_OPEN) ? t->grpc.up
							 : 0;
		put_try(&w, t, y, i, end, yg);
	}
	err = t->why != SL_H1_R_NONE ? sl_h1_reason_str(t->why)
	      : t->error != NULL     ? t->error
				     : "";
	sp.trace_id = tr->trace_id;
	sp.span_id = tr->span_id;
	sp.parent_id = tr->has_parent ? tr->parent_id : NULL;
	sp.trace_state = tr->state;
	sp.trace_state_len = tr->state_len;
	sp.name = name;
	sp.name_len = span_name(name, sizeof(name), t->note.method,
				t->route != NULL ? t->route->name : "-");
	sp.kind = SL_SPAN_SERVER;
	sp.start_ns = tr->start_ns;
	sp.end_ns = end;
	sl_span_open(&w, &sp);
	sl_span_str(&w, SL_KEY("http.request.method"), t->note.method,
		    strlen(t->note.method));
	q = strchr(t->note.path, '?');
	sl_span_str(&w, SL_KEY("url.path"), t->note.path,
		    q != NULL ? (size_t)(q - t->note.path)
			      : strlen(t->note.path));
	if (q != NULL)
		sl_span_str(&w, SL_KEY("url.query"), q + 1, strlen(q + 1));
	if (s->flags & SL_SEAM_F_TLS)
		sl_span_str(&w, SL_KEY("url.scheme"), SL_KEY("https"));
	else
		sl_span_str(&w, SL_KEY("url.scheme"), SL_KEY("http"));
	if (t->route != NULL)
		sl_span_str(&w, SL_KEY("http.route"), t->route->name,
			    strlen(t->route->name));
	if (t->status > 0)
		sl_span_int(&w, SL_KEY("http.response.status_code"), t->status);
	if (SL_SEAM_PROTO(s) == 2)
		sl_span_str(&w, SL_KEY("network.protocol.version"),
			    SL_KEY("3"));
	else if (s->stream_id != 0)
		sl_span_str(&w, SL_KEY("network.protocol.version"),
			    SL_KEY("2"));
	else if (t->minor == 0)
		sl_span_str(&w, SL_KEY("network.protocol.version"),
			    SL_KEY("1.0"));
	else
		sl_span_str(&w, SL_KEY("network.protocol.version"),
			    SL_KEY("1.1"));
	if (t->note.host[0] != '\0') {
		/* Host: its name, and its port when it has one */
		port = split_addr(t->note.host, &h, &hl);
		sl_span_str(&w, SL_KEY("server.address"), h, hl);
		if (port > 0)
			sl_span_int(&w, SL_KEY("server.port"), port);
	}
	sl_ip_str(&t->client_addr, ip, sizeof(ip));
	sl_span_str(&w, SL_KEY("client.address"), ip, strlen(ip));
	/* the TCP peer: the client, unless a trusted proxy named another */
	if (t->flags & SL_TXN_F_FWD_CLIENT) {
		struct sl_ip pip;
		(void)sl_ip_from_sockaddr((const struct sockaddr *)&s->peer,
					  &pip);
		sl_ip_str(&pip, peer, sizeof(peer));
		sl_span_str(&w, SL_KEY("network.peer.address"), peer,
			    strlen(peer));
	} else
		sl_span_str(&w, SL_KEY("network.peer.address"), ip, strlen(ip));
	sl_span_int(&w, SL_KEY("network.peer.port"), ntohs(s->peer.sin6_port));
	sl_span_str(&w, SL_KEY("sluice.request_id"), t->request_id,
		    strlen(t->request_id));
	sl_span_str(&w, SL_KEY("sluice.listener"), s->lconf->name,
		    strlen(s->lconf->name));
	if (t->att.nretries > 0)
		sl_span_int(&w, SL_KEY("sluice.retries"), t->att.nretries);
	if (err[0] != '\0')
		sl_span_str(&w, SL_KEY("error.type"), err, strlen(err));
	if (grpc)
		put_rpc(&w, t->note.path, gs);
	if ((t->fops & SL_FOP_SPAN) && t->route != NULL) {
		/* the attributes the route's filters add (a script's) */
		const struct sl_wroute *wr = &s->gen->routes[t->route->index];
		for (unsigned i = 0; i < wr->nfilt; i++)
			if (wr->filt[i]->span_fields != NULL)
				wr->filt[i]->span_fields(t, &w);
	}
	/* a 5xx, no answer, or an answer cut; a gRPC call whose status is
	 * known: by the conventions' table for a server span instead */
	error = t->status >= 500 || t->status < 100;
	if (grpc && gs != 0)
		error = error || grpc_server_error(gs);
	else
		error = error || (err[0] != '\0' && t->status < 400);
	if (sl_span_close(&w, error) == 0) {
		sl_traceexp_commit(s->w, 0, 0, nspans);
		return;
	}
	sl_traceexp_commit(s->w, (size_t)(w.p - (w.end - cap)), nspans, 0);
}

static void
trace_end(struct sl_seam *s, struct sl_txn *t)
{
	struct sl_txn_trace *tr = trc(t);

	if (tr->sampled)
		put_spans(s, t);
	free(tr->state);
	tr->state = NULL;
	tr->state_len = 0;
}

/* ---- the filter (filter.h) ---------------------------------------------- */

static int
trace_used(const struct sl_conf_route *r)
{
	return sl_trace_route_sample(r) != 0;
}

/* First of a route's filters: an answer any other gives is traced. */
static int
trace_req_head(struct sl_seam *s, struct sl_fhead *h)
{
	trace_begin(s, h->req);
	s->txn->flags |= SL_TXN_F_WATCH;
	return SL_FILTER_GO;
}

/* sluice's traceparent replaces the caller's; its place in the head is
 * where each attempt's span id goes. */
static void
trace_req_fields(struct sl_seam *s, struct sl_fhead *h)
{
	trace_fields(s->txn, h->req, sl_fhead_extra(h));
	h->mark = trc(s->txn)->parent;
}

static void
trace_up_head(struct sl_seam *s, struct sl_fhead *h)
{
	trace_head(s->txn, h->mark_at);
}

static void
trace_attempt(struct sl_txn *t, const struct sl_fattempt *a)
{
	switch (a->ev) {
	case SL_FA_QUEUED:
		trace_queued(t);
		break;
	case SL_FA_TRY:
		trace_try(t);
		break;
	case SL_FA_CONN:
		trace_conn(t, a->u, a->connected);
		break;
	case SL_FA_END:
		trace_try_end(t, a->status, a->cls, a->why);
		break;
	case SL_FA_GRPC:
		trace_grpc(t, a->status);
		break;
	}
}

/* The log line's time: the spans go to the worker's export queue, and
 * the ids to the line (a log line and its trace find each other). */
static void
trace_log(struct sl_seam *s, struct sl_txn *t, struct sl_flog *l)
{
	struct sl_txn_trace *tr = trc(t);

	if (tr->on) {
		trace_end(s, t);
		sl_trace_hex(tr->trace_id, 16, tr->trace_hex);
		tr->trace_hex[32] = '\0';
		sl_trace_hex(tr->span_id, 8, tr->span_hex);
		tr->span_hex[16] = '\0';
		/* the line's first optional fields */
		sl_flog_add(l, 1, "trace_id", tr->trace_hex);
		sl_flog_add(l, 2, "span_id", tr->span_hex);
	}
}

/* Not traced until trace_begin says (the rest is set there). */
static void
trace_slot_begin(struct sl_txn *t, void *ctx)
{
	(void)t;
	((struct sl_txn_trace *)ctx)->on = 0;
}

/* A caller's tracestate, when no log line took it (the log's end frees
 * it first on every path today). */
static void
trace_free(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_txn_trace *tr = trc(t);

	if (tr->on) {
		free(tr->state);
		tr->state = NULL;
		tr->state_len = 0;
	}
}

/* The worker's span export (traceexp.c) is kept in the filter's
 * per-worker state: traceexp.c is told where. */
static void
trace_placed(const struct sl_filter *f)
{
	sl_traceexp_place(sl_filter_wstate_off[f->id]);
}

/* After sluice's own requests: its export's end. */
static void
trace_worker_free(struct sl_worker *w, void *ws)
{
	(void)ws;
	sl_traceexp_free(w);
}

/* A span export keeps a drained worker alive until it is sent. */
static int
trace_busy(struct sl_worker *w, void *ws)
{
	(void)ws;
	return sl_traceexp_busy(w);
}

struct sl_filter sl_filter_trace = {
    .name = "trace",
    .ctx_size = sizeof(struct sl_txn_trace),
    .begin = trace_slot_begin,
    .phase = SL_FPHASE_ACCESS,
    .used = trace_used,
    .req_head = trace_req_head,
    .req_fields = trace_req_fields,
    .up_head = trace_up_head,
    .attempt = trace_attempt,
    .log = trace_log,
    .end = trace_free,
    .placed = trace_placed,
    .wsize = sizeof(struct sl_traceexp *),
    .worker_free = trace_worker_free,
    .busy = trace_busy,
};
