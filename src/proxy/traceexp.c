/* SPDX-License-Identifier: MIT */
/*
 * A worker's span export (traceexp.h). The queue is one buffer of span
 * entries (trace.h's sl_trace_put_span output, back to back); a batch
 * takes its first `batch` spans into a request body of its own, which is
 * kept until the collector took it or it is given up, so that a retry
 * sends the same bytes. The request goes through subreq.c, as a key set's
 * fetch does, on the cluster's pooled connections.
 */
#include "traceexp.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "conf_trace.h"
#include "log.h"
#include "subreq.h"
#include "trace.h"
#include "util.h"
#include "wgen.h"
#include "wloop.h"
#include "wproxy.h"

#define RESP_BODY_MAX 4096
#define HEAD_MAX      512
/* room before the spans of a queue buffer: the request's head and the
 * envelope's prefix (its strings are at most a few hundred bytes) are
 * written there when the buffer becomes a batch, so that the spans are
 * never copied */
#define FRONT		   1536
#define BACKOFF_FIRST_MS   1000
#define BACKOFF_MAX_MS	   30000
#define RETRY_AFTER_MAX_MS 60000

struct sl_traceexp {
	struct sl_worker *w;
	uint8_t *q; /* the queue: FRONT bytes, then span entries from qoff
		       on (those before went in batches) */
	size_t qoff, qlen, qcap; /* span bytes in it, and room for them */
	size_t qspans;
	uint64_t first_ms; /* the oldest queued span's time */
	uint8_t *body;	   /* the batch: a queue buffer, its request in
			      it from req_off (NULL: none) */
	size_t req_off, req_len;
	size_t bspans;
	unsigned tries;	      /* sends of the batch that failed */
	struct sl_subreq *sr; /* the batch's export in flight */
	struct event *ev;     /* flush by time, or the retry's backoff */
	int ev_on;
};

static void exp_on_timer(evutil_socket_t fd, short what, void *arg);

/* Where the worker's export is kept: the trace filter's per-worker state
 * (its placed hook notes it: sl_traceexp_place). */
static uint16_t ws_off;

void
sl_traceexp_place(uint16_t off)
{
	ws_off = off;
}

static struct sl_traceexp **
exp_slot(const struct sl_worker *w)
{
	return (struct sl_traceexp **)(void *)(sl_wproxy(w)->fws + ws_off);
}

static const struct sl_conf_tracing *
tracing(const struct sl_worker *w)
{
	return w->gen != NULL ? sl_trace_conf(w->gen->conf) : NULL;
}

static void
gauge(struct sl_traceexp *x)
{
	atomic_store_explicit(&sl_trace_wcounts(&x->w->stats)->queue,
			      x->qspans + x->bspans, memory_order_relaxed);
}

static struct sl_traceexp *
exp_get(struct sl_worker *w)
{
	struct sl_traceexp *x = *exp_slot(w);

	if (x != NULL)
		return x;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->w = w;
	if ((x->ev = evtimer_new(w->base, exp_on_timer, x)) == NULL) {
		free(x);
		return NULL;
	}
	*exp_slot(w) = x;
	return x;
}

static void
arm(struct sl_traceexp *x, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(x->ev, &tv);
	x->ev_on = 1;
}

static void
disarm(struct sl_traceexp *x)
{
	if (x->ev_on) {
		evtimer_del(x->ev);
		x->ev_on = 0;
	}
}

uint8_t *
sl_traceexp_room(struct sl_worker *w, size_t cap, size_t nspans)
{
	struct sl_traceexp *x = exp_get(w);
	const struct sl_conf_tracing *c = tracing(w);

	if (x == NULL || c == NULL ||
	    x->qspans + x->bspans + nspans > c->queue) {
		SL_STAT_ADD(
		    sl_trace_wcounts(&w->stats)->spans[SL_SPANS_DROPPED],
		    nspans);
		return NULL;
	}
	if (x->q != NULL && x->qoff + x->qlen + cap > x->qcap && x->qoff > 0) {
		/* what batches took leaves room at the front: moved once */
		memmove(x->q + FRONT, x->q + FRONT + x->qoff, x->qlen);
		x->qoff = 0;
	}
	if (x->q == NULL || x->qoff + x->qlen + cap > x->qcap) {
		size_t ncap = x->qcap ? x->qcap : 16384;
		uint8_t *nq;
		while (ncap < x->qlen + cap)
			ncap *= 2;
		if ((nq = realloc(x->q, FRONT + ncap)) == NULL) {
			SL_STAT_ADD(sl_trace_wcounts(&w->stats)
					->spans[SL_SPANS_DROPPED],
				    nspans);
			return NULL;
		}
		x->q = nq;
		x->qcap = ncap;
	}
	return x->q + FRONT + x->qoff + x->qlen;
}

void
sl_traceexp_commit(struct sl_worker *w, size_t len, size_t nspans,
		   size_t dropped)
{
	struct sl_traceexp *x = *exp_slot(w);
	const struct sl_conf_tracing *c = tracing(w);

	if (dropped > 0)
		SL_STAT_ADD(
		    sl_trace_wcounts(&w->stats)->spans[SL_SPANS_DROPPED],
		    dropped);
	if (nspans == 0)
		return;
	if (x->qspans == 0)
		x->first_ms = sl_now_cached();
	x->qlen += len;
	x->qspans += nspans;
	gauge(x);
	if (x->body != NULL)
		return; /* the batch's end (or retry) flushes the rest */
	if (x->qspans >= c->batch)
		arm(x, 0); /* from the loop, not this request's path */
	else if (!x->ev_on)
		arm(x, c->interval_ms);
}

/* Spans of the batch counted with result r, and the batch let go. */
static void
batch_end(struct sl_traceexp *x, enum sl_trace_spans r, size_t n)
{
	struct sl_worker *w = x->w;

	SL_STAT_ADD(sl_trace_wcounts(&w->stats)->spans[r], n);
	free(x->body);
	x->body = NULL;
	x->bspans = 0;
	x->req_len = 0;
	x->tries = 0;
	gauge(x);
}

/* The first `batch` spans of the queue make the batch. When they are
 * all it holds, the batch is the queue's buffer itself, its request's head
 * and envelope written in the room before the spans; else they are copied
 * out (a backlog: the queue's front moves past them). */
static int
batch_take(struct sl_traceexp *x, const struct sl_conf_tracing *c)
{
	static _Thread_local char host[64];
	struct sl_span_attr ra[2] = {
	    {.key = "service.name", .type = SL_ATTR_STR},
	    {.key = "host.name", .type = SL_ATTR_STR},
	};
	uint8_t *spans = x->q + FRONT + x->qoff, *b;
	size_t bytes, n, pre;
	char head[HEAD_MAX];
	int hl;

	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "-");
	ra[0].str = c->service_name;
	ra[0].len = strlen(c->service_name);
	ra[1].str = host;
	ra[1].len = strlen(host);
	n = sl_trace_spans_take(spans, x->qlen, c->batch, &bytes);
	pre = sl_trace_request_prefix_len(ra, 2, "sluice", PACKAGE_VERSION,
					  bytes);
	hl = snprintf(head, sizeof(head),
		      "POST %s HTTP/1.1\r\nHost: %s\r\n"
		      "Content-Type: application/x-protobuf\r\n"
		      "User-Agent: sluice/" PACKAGE_VERSION "\r\n"
		      "Content-Length: %zu\r\n\r\n",
		      c->path, c->cluster->name, pre + bytes);
	if (hl <= 0 || (size_t)hl + pre > FRONT)
		return -1;
	if (n < x->qspans) {
		if ((b = malloc(FRONT + bytes)) == NULL)
			return -1;
		memcpy(b + FRONT, spans, bytes);
		x->qoff += bytes;
		x->qlen -= bytes;
		x->qspans -= n;
		spans = b + FRONT;
	} else {
		b = x->q;
		x->q = NULL;
		x->qoff = x->qcap = x->qlen = x->qspans = 0;
	}
	sl_trace_request_prefix(spans - pre, ra, 2, "sluice", PACKAGE_VERSION,
				bytes);
	memcpy(spans - pre - hl, head, (size_t)hl);
	x->body = b;
	x->req_off = (size_t)(spans - b) - pre - (size_t)hl;
	x->req_len = (size_t)hl + pre + bytes;
	x->bspans = n;
	x->tries = 0;
	x->first_ms = sl_now_cached();
	return 0;
}

/* The seconds of a Retry-After field in the head (delta-seconds only),
 * in ms; 0: none. */
static uint64_t
retry_after_ms(const char *head, size_t len)
{
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e != NULL ? (size_t)(e - p) : (size_t)(end - p);
		if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
			unsigned long v = strtoul(p + 12, NULL, 10);
			return v * 1000 > RETRY_AFTER_MAX_MS
				   ? RETRY_AFTER_MAX_MS
				   : (uint64_t)v * 1000;
		}
		p += n + 1;
	}
	return 0;
}

static void exp_send(struct sl_traceexp *x);

/* What comes after a batch: the next one, or a wait for the queue to
 * fill or age. */
static void
exp_next(struct sl_traceexp *x)
{
	const struct sl_conf_tracing *c = tracing(x->w);
	uint64_t age;

	if (c == NULL && x->qspans > 0) {
		/* a reload took tracing away: exp_send drops what is left */
		arm(x, 0);
		return;
	}
	if (x->qspans == 0 || c == NULL) {
		if (x->w->draining)
			sl_worker_maybe_done(x->w);
		return;
	}
	age = sl_now_cached() - x->first_ms;
	if (x->qspans >= c->batch || x->w->draining || age >= c->interval_ms)
		arm(x, 0);
	else
		arm(x, c->interval_ms - age);
}

static void
exp_done(const struct sl_subreq_result *r, void *arg)
{
	struct sl_traceexp *x = arg;
	struct sl_worker *w = x->w;
	const struct sl_conf_tracing *c = tracing(w);
	int retryable;
	uint64_t delay;

	x->sr = NULL;
	if (r->closing) {
		batch_end(x, SL_SPANS_FAILED, x->bspans);
		return;
	}
	if (r->status >= 200 && r->status < 300) {
		int64_t rej = sl_trace_response_rejected(
		    (const uint8_t *)r->body, r->body_len);
		size_t n = x->bspans;
		SL_STAT_INC(
		    sl_trace_wcounts(&w->stats)->exports[SL_EXPORTS_OK]);
		if (rej > 0) {
			size_t k = (size_t)rej < n ? (size_t)rej : n;
			log_warnx("tracing: the collector rejected %zu of %zu "
				  "spans",
				  k, n);
			SL_STAT_ADD(
			    sl_trace_wcounts(&w->stats)->spans[SL_SPANS_FAILED],
			    k);
			n -= k;
		}
		batch_end(x, SL_SPANS_EXPORTED, n);
		exp_next(x);
		return;
	}
	/* no answer, or a status OTLP says to retry; an answer whose body
	 * then failed was taken (its status came) */
	retryable = (r->why != NULL && r->status == 0) || r->status == 429 ||
		    r->status == 502 || r->status == 503 || r->status == 504;
	x->tries++;
	if (!retryable || c == NULL || x->tries > c->retries || w->draining) {
		if (r->why != NULL)
			log_warnx("tracing: export of %zu spans failed: no "
				  "answer (%s)%s",
				  x->bspans, r->why,
				  retryable && !w->draining ? " (given up)"
							    : "");
		else
			log_warnx("tracing: export of %zu spans failed: "
				  "status %d%s",
				  x->bspans, r->status,
				  retryable && !w->draining ? " (given up)"
							    : "");
		SL_STAT_INC(
		    sl_trace_wcounts(&w->stats)->exports[SL_EXPORTS_FAILED]);
		batch_end(x, SL_SPANS_FAILED, x->bspans);
		exp_next(x);
		return;
	}
	SL_STAT_INC(sl_trace_wcounts(&w->stats)->exports[SL_EXPORTS_RETRY]);
	delay = r->why == NULL ? retry_after_ms(r->head, r->head_len) : 0;
	if (delay == 0) {
		delay = (uint64_t)BACKOFF_FIRST_MS << (x->tries - 1);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	/* "connect 0" read as a status: say which it is */
	if (r->why != NULL)
		log_info("tracing: export of %zu spans: no answer (%s), again "
			 "in %llu ms",
			 x->bspans, r->why, (unsigned long long)delay);
	else
		log_info("tracing: export of %zu spans: status %d, again in "
			 "%llu ms",
			 x->bspans, r->status, (unsigned long long)delay);
	arm(x, delay);
}

/* Sends the batch (made from the queue first when there is none). */
static void
exp_send(struct sl_traceexp *x)
{
	struct sl_worker *w = x->w;
	const struct sl_conf_tracing *c = tracing(w);

	if (x->sr != NULL)
		return;
	if (c == NULL) {
		/* a reload took tracing away: what is left goes */
		if (x->body != NULL)
			batch_end(x, SL_SPANS_DROPPED, x->bspans);
		SL_STAT_ADD(
		    sl_trace_wcounts(&w->stats)->spans[SL_SPANS_DROPPED],
		    x->qspans);
		x->qspans = x->qlen = x->qoff = 0;
		gauge(x);
		if (w->draining)
			sl_worker_maybe_done(w);
		return;
	}
	if (x->body == NULL) {
		if (x->qspans == 0)
			return;
		if (batch_take(x, c) == -1) {
			arm(x, BACKOFF_FIRST_MS);
			return;
		}
	}
	x->sr = sl_subreq_start_borrowed(
	    w, w->gen, &w->gen->clusters[c->cluster->index],
	    (const char *)x->body + x->req_off, x->req_len, RESP_BODY_MAX,
	    c->timeout_ms, exp_done, x);
	if (x->sr == NULL) {
		struct sl_subreq_result r = {.status = 0, .why = "connect"};
		exp_done(&r, x);
	}
}

static void
exp_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_traceexp *x = arg;

	(void)fd;
	(void)what;
	sl_now_refresh();
	x->ev_on = 0;
	exp_send(x);
}

int
sl_traceexp_busy(struct sl_worker *w)
{
	struct sl_traceexp *x = *exp_slot(w);

	if (x == NULL || (x->qspans == 0 && x->body == NULL && x->sr == NULL))
		return 0;
	if (x->sr == NULL) {
		/* flushed now: no wait for the time or a backoff */
		disarm(x);
		exp_send(x);
	}
	return x->qspans > 0 || x->body != NULL || x->sr != NULL;
}

void
sl_traceexp_free(struct sl_worker *w)
{
	struct sl_traceexp *x = *exp_slot(w);

	if (x == NULL)
		return;
	if (x->sr != NULL)
		sl_subreq_cancel(x->sr);
	SL_STAT_ADD(sl_trace_wcounts(&w->stats)->spans[SL_SPANS_DROPPED],
		    x->qspans + x->bspans);
	event_free(x->ev);
	free(x->body);
	free(x->q);
	free(x);
	*exp_slot(w) = NULL;
}
