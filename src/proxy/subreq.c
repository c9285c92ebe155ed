/* SPDX-License-Identifier: MIT */
/*
 * sluice's own requests to a cluster (subreq.h). The life of a mirror copy
 * (mirror.c) with the answer kept: connect (or a pooled connection), write
 * the request, read the head and the body to their end within one
 * deadline, hand both to the owner, and give the connection back to the
 * pool when the answer left it in sync. Healthy endpoints are preferred,
 * as for a request; one that fails to connect is the one failure tried
 * again, on another endpoint (a class-1 retry: nothing was sent).
 */
#include "subreq.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "h1_reader.h"
#include "h2up.h"
#include "hblock.h"
#include "log.h"
#include "runtime.h"
#include "upread.h"
#include "upstream.h"
#include "wgen.h"
#include "wproxy.h"

#define SUBREQ_READ_BUF (16 * 1024)
#define SUBREQ_HEAD_MAX (16 * 1024)

enum subreq_state {
	Q_CONNECTING, /* up != NULL, connecting */
	Q_SENDING,    /* up connected, the request being written */
	Q_READING,    /* written: reading the answer */
};

struct sl_subreq {
	TAILQ_ENTRY(sl_subreq) link; /* in sl_wproxy(w)->subreqs */
	struct sl_worker *w;
	struct sl_wgen *gen; /* a reference */
	struct sl_wcluster *wc;
	enum subreq_state state;
	char *req; /* owned, unless borrowed */
	uint8_t borrowed;
	size_t len, sent;
	struct sl_upconn *up; /* owned while set */
	size_t ep;	      /* its endpoint's index */
	int tries;
	int reused;	 /* up came from the pool */
	int head_method; /* the request is a HEAD: no body comes */
	struct event tev;
	/* inside sl_subreq_start: an end there is told by its NULL, never
	 * through done, and q is freed by it */
	int starting;
	const char *early; /* why it ended while starting */
	sl_subreq_done_fn done;
	void *arg;
	/* the answer */
	struct sl_h1_reader rd;
	int status;
	struct sl_h1_header *hdrs; /* owned, once read: the head's fields,
				      then its text (head) they point into */
	size_t nhdrs;
	char *head;
	size_t head_len;
	char *body; /* owned */
	size_t body_len, body_cap, body_max;
};

static void subreq_on_upstream(struct sl_upconn *, enum sl_up_event, int,
			       void *);
static void subreq_closed(struct sl_subreq *q, const char *why);

static void
subreq_free(struct sl_subreq *q, int reusable)
{
	if (q->up != NULL)
		sl_upstream_put(q->up, reusable);
	event_del(&q->tev);
	TAILQ_REMOVE(&sl_wproxy(q->w)->subreqs, q, link);
	sl_wgen_unref(q->w, q->gen);
	if (!q->borrowed)
		free(q->req);
	free(q->hdrs);
	free(q->body);
	free(q);
}

/* Tells the owner and ends q. */
static void
subreq_end(struct sl_subreq *q, const char *why, int reusable)
{
	struct sl_subreq_result r;

	if (q->starting) {
		/* sl_subreq_start frees q and says so to its caller */
		q->early = why != NULL ? why : "early";
		if (q->up != NULL) {
			sl_upstream_put(q->up, 0);
			q->up = NULL;
		}
		return;
	}
	r = (struct sl_subreq_result){
	    .status = q->status,
	    .closing = why != NULL && strcmp(why, "closing") == 0,
	    .grpc_status = q->up != NULL ? sl_upstream_grpc_status(q->up) : -1,
	    .why = why,
	    .head = q->head,
	    .head_len = q->head_len,
	    .headers = q->hdrs,
	    .nheaders = q->nhdrs,
	    .body = q->body != NULL ? q->body : "",
	    .body_len = q->body_len,
	};

	if (why != NULL && sl_log_enabled(SL_LOG_DEBUG))
		log_debug("subrequest cluster=%s: %s", q->wc->conf->name, why);
	q->done(&r, q->arg);
	subreq_free(q, reusable);
}

static void
subreq_on_timer(evutil_socket_t fd, short what, void *arg)
{
	subreq_end(arg, "timeout", 0);
}

/* Takes an endpoint and a connection to it. Returns 0, or -1 when none
 * could be had (q not ended). */
static int
subreq_connect(struct sl_subreq *q)
{
	struct sl_wcluster *wc = q->wc;
	const struct sl_conf_cluster *cc = wc->conf;
	size_t n = cc->nendpoints, left = 0, i;
	int checked = cc->health.enabled;

	for (i = 0; i < n; i++) {
		/* down endpoints, and the one that just failed, last */
		wc->skip[i] =
		    (checked &&
		     atomic_load_explicit(&cc->endpoints[i].state->unhealthy,
					  memory_order_relaxed)) ||
		    (q->tries > 0 && i == q->ep);
		left += !wc->skip[i];
	}
	i = sl_balance_swrr(wc->swrr, wc->weights, n, left ? wc->skip : NULL);
	if (i == SL_BALANCE_NONE) {
		errno = EHOSTUNREACH;
		return -1;
	}
	q->ep = i;
	q->tries++;
	q->state = Q_CONNECTING;
	if (cc->protocol != SL_UP_PROTO_HTTP1)
		/* a stream of a shared HTTP/2 connection: h2up.c writes the
		 * request's text as frames, and the answer back as text */
		q->up = sl_h2up_get(q->w, wc->eps[i], subreq_on_upstream, q);
	else
		q->up =
		    sl_upstream_get(q->w, wc->eps[i], 0, subreq_on_upstream, q);
	if (q->up == NULL)
		return -1;
	q->reused = cc->protocol == SL_UP_PROTO_HTTP1 && q->up->nrequests > 0;
	return 0;
}

static void
subreq_write(struct sl_subreq *q)
{
	static const struct sl_h1_limits hl = {SUBREQ_HEAD_MAX, SUBREQ_HEAD_MAX,
					       100};
	struct iovec iov = {q->req + q->sent, q->len - q->sent};
	ssize_t n;

	n = sl_upstream_writev(q->up, &iov, 1, 0);

	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		sl_upstream_want_write(q->up, 1);
		return;
	}
	if (n == -1) {
		subreq_closed(q, "write");
		return;
	}
	q->sent += (size_t)n;
	if (q->sent < q->len) {
		sl_upstream_want_write(q->up, 1);
		return;
	}
	sl_upstream_want_write(q->up, 0);
	q->up->nrequests++;
	q->state = Q_READING;
	sl_h1_reader_init(&q->rd, &hl, q->w->hdrs, q->w->max_hdrs,
			  q->head_method ? SL_M_HEAD : SL_M_GET,
			  SL_H1_RD_F_PAYLOAD);
	sl_upstream_want_read(q->up, 1);
}

static struct sl_subreq *
subreq_start(struct sl_worker *w, struct sl_wgen *gen, struct sl_wcluster *wc,
	     char *req, size_t len, size_t body_max, uint64_t timeout_ms,
	     sl_subreq_done_fn done, void *arg, int borrowed)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
			     (suseconds_t)(timeout_ms % 1000) * 1000};
	struct sl_subreq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		if (!borrowed)
			free(req);
		return NULL;
	}
	q->borrowed = (uint8_t)borrowed;
	q->w = w;
	q->gen = gen;
	q->wc = wc;
	q->req = req;
	q->len = len;
	q->body_max = body_max;
	q->head_method = len >= 5 && memcmp(req, "HEAD ", 5) == 0;
	q->done = done;
	q->arg = arg;
	sl_wgen_ref(gen);
	evtimer_assign(&q->tev, w->base, subreq_on_timer, q);
	TAILQ_INSERT_TAIL(&sl_wproxy(w)->subreqs, q, link);
	if (subreq_connect(q) == -1) {
		subreq_free(q, 0);
		return NULL;
	}
	event_add(&q->tev, &tv);
	if (q->up->state == SL_UP_ST_ACTIVE) {
		/* a pooled connection: written now. A write that fails and
		 * a new connection that cannot be had end q here: its owner
		 * hears it from the NULL, never from done under this call */
		q->starting = 1;
		q->state = Q_SENDING;
		subreq_write(q);
		q->starting = 0;
		if (q->early != NULL) {
			subreq_free(q, 0);
			return NULL;
		}
	}
	return q;
}

struct sl_subreq *
sl_subreq_start(struct sl_worker *w, struct sl_wgen *gen,
		struct sl_wcluster *wc, char *req, size_t len, size_t body_max,
		uint64_t timeout_ms, sl_subreq_done_fn done, void *arg)
{
	return subreq_start(w, gen, wc, req, len, body_max, timeout_ms, done,
			    arg, 0);
}

struct sl_subreq *
sl_subreq_start_borrowed(struct sl_worker *w, struct sl_wgen *gen,
			 struct sl_wcluster *wc, const char *req, size_t len,
			 size_t body_max, uint64_t timeout_ms,
			 sl_subreq_done_fn done, void *arg)
{
	return subreq_start(w, gen, wc, (char *)req, len, body_max, timeout_ms,
			    done, arg, 1);
}

void
sl_subreq_cancel(struct sl_subreq *q)
{
	subreq_free(q, 0);
}

void
sl_subreq_close_all(struct sl_worker *w)
{
	struct sl_subreq *q;

	while ((q = TAILQ_FIRST(&sl_wproxy(w)->subreqs)) != NULL)
		subreq_end(q, "closing", 0);
}

/* The final head, kept for the owner as text (an HTTP/2 upstream's head
 * block written as text), with its fields pointing into it. Returns 0, or
 * -1 when q ended. */
static int
subreq_keep_head(struct sl_subreq *q, const struct sl_h1_rd_event *ev)
{
	const struct sl_h1_response *resp = ev->resp;
	int block = ev->head[0] == SL_HBLK_MARK;
	size_t nh = resp->nheaders, need = ev->head_len, o, i;
	struct sl_h1_header *h;

	if (block)
		for (i = 0, need = 32; i < nh; i++)
			need += resp->headers[i].name_len +
				resp->headers[i].value_len + 4;
	if ((q->hdrs = malloc(nh * sizeof(*h) + need)) == NULL) {
		subreq_end(q, "out_of_memory", 0);
		return -1;
	}
	h = q->hdrs;
	q->nhdrs = nh;
	q->head = (char *)(h + nh);
	memcpy(h, resp->headers, nh * sizeof(*h));
	if (block) {
		o = (size_t)snprintf(q->head, need, "HTTP/1.1 %03u -\r\n",
				     (unsigned)resp->status);
		for (i = 0; i < nh; i++) {
			h[i].name =
			    memcpy(q->head + o, h[i].name, h[i].name_len);
			o += h[i].name_len;
			memcpy(q->head + o, ": ", 2);
			h[i].value =
			    memcpy(q->head + o + 2, h[i].value, h[i].value_len);
			memcpy(q->head + o + 2 + h[i].value_len, "\r\n", 2);
			o += h[i].value_len + 4;
		}
		memcpy(q->head + o, "\r\n", 2);
		q->head_len = o + 2;
	} else {
		memcpy(q->head, ev->head, ev->head_len);
		q->head_len = ev->head_len;
		for (i = 0; i < nh; i++) {
			h[i].name = q->head + (h[i].name - ev->head);
			h[i].value = q->head + (h[i].value - ev->head);
		}
	}
	q->status = resp->status;
	if (resp->body == SL_H1_BODY_LENGTH &&
	    resp->content_length > q->body_max) {
		subreq_end(q, "too_large", 0);
		return -1;
	}
	return 0;
}

/* Keeps n payload bytes at p. Returns 0, or -1 when q ended. */
static int
keep(struct sl_subreq *q, const char *p, size_t n)
{
	size_t cap = q->body_cap ? q->body_cap : 4096;
	char *b;

	if (n == 0)
		return 0; /* memcpy's NULL with nothing to copy is undefined */
	if (q->body_len + n > q->body_max) {
		subreq_end(q, "too_large", 0);
		return -1;
	}
	if (q->body_len + n > q->body_cap) {
		while (cap < q->body_len + n)
			cap *= 2;
		if ((b = realloc(q->body, cap)) == NULL) {
			subreq_end(q, "out_of_memory", 0);
			return -1;
		}
		q->body = b;
		q->body_cap = cap;
	}
	memcpy(q->body + q->body_len, p, n);
	q->body_len += n;
	return 0;
}

/* The connection closed before an answer. A pooled one may have been
 * closed by the upstream as the request went: the request is a GET, sent
 * once more on a new connection. */
static void
subreq_closed(struct sl_subreq *q, const char *why)
{
	if (q->reused && q->tries < 2 && sl_buf_pending(&q->up->in) == 0) {
		sl_upstream_put(q->up, 0);
		q->up = NULL;
		q->sent = 0;
		q->state = Q_CONNECTING;
		q->tries++;
		q->reused = 0;
		if ((q->up = sl_upstream_get(q->w, q->wc->eps[q->ep], 1,
					     subreq_on_upstream, q)) != NULL) {
			if (q->up->state == SL_UP_ST_ACTIVE) {
				q->state = Q_SENDING;
				subreq_write(q);
			}
			return;
		}
	}
	subreq_end(q, why, 0);
}

/* Reads the answer: its head, its payload, to its end. */
static void
subreq_read(struct sl_subreq *q)
{
	struct sl_h1_rd_event ev;
	enum sl_h1_rd_ev e;

	for (;;) {
		e = sl_upstream_read_response(q->up, &q->rd, SUBREQ_READ_BUF,
					      &ev);
		switch (e) {
		case SL_H1_RD_MORE:
			return;
		case SL_H1_RD_INTERIM: /* never: they are skipped */
			break;
		case SL_H1_RD_HEAD:
			if (subreq_keep_head(q, &ev) == -1)
				return;
			break;
		case SL_H1_RD_DATA:
			if (keep(q, ev.data, ev.len) == -1)
				return;
			break;
		case SL_H1_RD_END:
			if (keep(q, ev.data, ev.len) == 0)
				subreq_end(q, NULL, ev.reusable);
			return;
		case SL_H1_RD_CLOSED:
			subreq_closed(q, "closed");
			return;
		default:
			subreq_end(q, sl_h1_rd_failure(e), 0);
			return;
		}
	}
}

static void
subreq_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	struct sl_subreq *q = arg;

	switch (ev) {
	case SL_UP_EV_FAILED:
		sl_upstream_put(q->up, 0);
		q->up = NULL;
		/* nothing went out: one more endpoint is tried */
		if (q->state == Q_CONNECTING && q->tries < 2 &&
		    q->wc->conf->nendpoints > 1 && subreq_connect(q) == 0) {
			if (q->up->state == SL_UP_ST_ACTIVE) {
				q->state = Q_SENDING;
				subreq_write(q);
			}
			return;
		}
		subreq_end(q, err == SL_UP_ERR_TLS ? "tls" : "connect", 0);
		return;
	case SL_UP_EV_CONNECTED:
		q->state = Q_SENDING;
		subreq_write(q);
		return;
	case SL_UP_EV_WRITABLE:
		if (q->state == Q_SENDING)
			subreq_write(q);
		else
			sl_upstream_want_write(u, 0);
		return;
	case SL_UP_EV_READABLE:
		if (q->state == Q_READING)
			subreq_read(q);
		else
			subreq_end(q, "early_response", 0);
		return;
	}
}
