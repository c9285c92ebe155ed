/* SPDX-License-Identifier: MIT */
/*
 * Mirror copies of requests (see mirror.h). A copy owns an upstream
 * connection through upstream.c's handler, like an exchange, but answers
 * to nobody: its response is read to its end (so the connection can go
 * back to the pool) and dropped. Nothing here touches a client.
 */
#include "mirror.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "conf_mirror.h"
#include "h1_reader.h"
#include "h2up.h"
#include "hblock.h"
#include "log.h"
#include "runtime.h"
#include "upread.h"
#include "upstream.h"
#include "wgen.h"
#include "wproxy.h"

#define MIRROR_READ_BUF (16 * 1024) /* response bytes read at a time */
#define MIRROR_HEAD_MAX (64 * 1024) /* a response head, at most */
#define MIRROR_FIELD	"X-Sluice-Mirror: 1\r\n"

enum mirror_state {
	M_FILLING,    /* the request is being read: no connection yet */
	M_CONNECTING, /* up != NULL, connecting */
	M_SENDING,    /* up connected, the copy being written */
	M_READING,    /* written; reading the response to its end */
};

/* Owned by its worker's list from sl_mirror_new to its end. */
struct sl_mirror {
	TAILQ_ENTRY(sl_mirror) link; /* in mws(w)->all */
	struct sl_worker *w;
	struct sl_wgen *gen;		   /* a reference */
	const struct sl_conf_route *route; /* borrowed from gen */
	struct sl_wcluster *wc;		   /* borrowed from gen: the mirror */
	enum mirror_state state;
	char *req;		/* owned: the head, then the body */
	size_t len, cap, sent;	/* bytes */
	size_t head_len;	/* of req's head */
	int pieces;		/* the body is pieces (sl_mirror_new) */
	char *trl;		/* owned: their trailers (hblock.h), or NULL */
	size_t body, body_max;	/* body bytes copied, and the bound */
	int head_method;	/* the request's: HEAD has no body */
	struct sl_upconn *up;	/* owned while set */
	struct event tev;	/* the copy's deadline */
	struct sl_h1_reader rd; /* the response, dropped as it comes */
	/* identity: a PROXY header for the connection, 0: none */
	size_t pp_len;
	unsigned char pp[SL_PP_V2_OUT_MAX];
};

static void mirror_on_upstream(struct sl_upconn *, enum sl_up_event, int,
			       void *);

size_t sl_mirror_ws_off;

static struct sl_mirror_ws *
mws(const struct sl_worker *w)
{
	return (struct sl_mirror_ws *)(void *)(sl_wproxy(w)->fws +
					       sl_mirror_ws_off);
}

static struct sl_counts *
route_counts(const struct sl_mirror *m)
{
	return &m->route->state->counts[m->w->id];
}

/* Unlinks and frees m; closes its connection (reusable when told). */
static void
mirror_free(struct sl_mirror *m, int reusable)
{
	struct sl_worker *w = m->w;

	if (m->up != NULL)
		sl_upstream_put(m->up, reusable);
	event_del(&m->tev);
	TAILQ_REMOVE(&mws(w)->all, m, link);
	mws(w)->n--;
	sl_wgen_unref(w, m->gen);
	free(m->req);
	free(m->trl);
	free(m);
}

/* The copy ended, as result says (a status class when it got an
 * answer). */
static void
mirror_end(struct sl_mirror *m, enum sl_mirror_result result, int status,
	   int reusable)
{
	struct sl_counts *cc = &m->wc->conf->state->counts[m->w->id];
	int cls = status >= 100 && status < 600 ? status / 100 : 0;

	SL_STAT_INC(sl_mirror_counts(route_counts(m))->res[result]);
	if (m->state != M_FILLING) {
		/* it reached the mirror cluster, or tried to */
		SL_STAT_INC(cc->requests);
		SL_STAT_INC(cc->responses[cls]);
	}
	mirror_free(m, reusable);
}

/* The copy failed: why is what failed ("mirror_" names it in the log). */
static void
mirror_fail(struct sl_mirror *m, const char *why, const char *detail)
{
	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("mirror route=%s cluster=%s: mirror_%s%s%s%s",
			  m->route->name, m->wc->conf->name, why,
			  detail ? " (" : "", detail ? detail : "",
			  detail ? ")" : "");
	mirror_end(m, SL_MIRROR_FAILED, 0, 0);
}

int
sl_mirror_due(struct sl_wgen *gen, const struct sl_conf_route *r)
{
	struct sl_wroute *wr = &gen->routes[r->index];

	/* exact shares, in turn: every time the accumulated percent passes
	 * 100, a request is copied */
	wr->facc += sl_mirror_route(r)->percent;
	if (wr->facc < 100)
		return 0;
	wr->facc -= 100;
	return 1;
}

static int
reserve(struct sl_mirror *m, size_t more)
{
	size_t cap = m->cap ? m->cap : 1024;
	char *p;

	if (m->len + more <= m->cap)
		return 0;
	while (cap < m->len + more)
		cap *= 2;
	if ((p = realloc(m->req, cap)) == NULL)
		return -1;
	m->req = p;
	m->cap = cap;
	return 0;
}

static void
mirror_on_timer(evutil_socket_t fd, short what, void *arg)
{
	mirror_fail(arg, "timeout", NULL);
}

struct sl_mirror *
sl_mirror_new(struct sl_worker *w, struct sl_wgen *gen,
	      const struct sl_conf_route *r, const char *head, size_t head_len,
	      size_t body_max, int pieces)
{
	struct sl_counts *rc = &r->state->counts[w->id];
	const size_t fl = sizeof(MIRROR_FIELD) - 1;
	struct sl_mirror *m;

	/* a bound of its own: copies never pile up behind a slow mirror */
	if (mws(w)->n >= SL_MIRROR_MAX || head_len < 4 ||
	    (m = calloc(1, sizeof(*m))) == NULL) {
		SL_STAT_INC(sl_mirror_counts(rc)->res[SL_MIRROR_DROPPED]);
		return NULL;
	}
	m->w = w;
	m->route = r;
	m->wc = &gen->clusters[sl_mirror_route(r)->cluster->index];
	m->body_max = body_max;
	m->head_method = head_len >= 5 && memcmp(head, "HEAD ", 5) == 0;
	if (reserve(m, head_len + fl) == -1) {
		free(m);
		SL_STAT_INC(sl_mirror_counts(rc)->res[SL_MIRROR_DROPPED]);
		return NULL;
	}
	/* the head as the primary upstream got it, and a field saying it is
	 * a copy (a shadow service may want to skip its side effects) */
	memcpy(m->req, head, head_len - 2);
	memcpy(m->req + head_len - 2, MIRROR_FIELD, fl);
	memcpy(m->req + head_len - 2 + fl, "\r\n", 2);
	m->len = m->head_len = head_len + fl;
	m->pieces = pieces;
	m->gen = gen;
	sl_wgen_ref(gen);
	evtimer_assign(&m->tev, w->base, mirror_on_timer, m);
	TAILQ_INSERT_TAIL(&mws(w)->all, m, link);
	mws(w)->n++;
	return m;
}

void
sl_mirror_set_proxy_header(struct sl_mirror *m, const void *pp, size_t len)
{
	if (len <= sizeof(m->pp)) {
		memcpy(m->pp, pp, len);
		m->pp_len = len;
	}
}

int
sl_mirror_body(struct sl_mirror *m, const char *p, size_t n)
{
	if (m->body + n > m->body_max || reserve(m, n) == -1) {
		/* too large to keep: a partial copy must never go out */
		mirror_end(m, SL_MIRROR_TOO_LARGE, 0, 0);
		return -1;
	}
	memcpy(m->req + m->len, p, n);
	m->len += n;
	m->body += n;
	return 0;
}

int
sl_mirror_trailers(struct sl_mirror *m, const char *block)
{
	struct sl_hblk b;

	if (block == NULL)
		return 0;
	sl_hblk_head(block, &b);
	if ((m->trl = malloc(b.len)) == NULL) {
		mirror_end(m, SL_MIRROR_DROPPED, 0, 0);
		return -1;
	}
	memcpy(m->trl, block, b.len);
	return 0;
}

void
sl_mirror_abort(struct sl_mirror *m)
{
	mirror_free(m, 0);
}

/* Writes what is left of a copy whose body is pieces, through the
 * upstream's writer (chunks to a peer of text, DATA and an end mark to an
 * HTTP/2 stream). Returns 1 when all of it went, else -1 with errno
 * (EAGAIN: it waits for room). */
static int
mirror_write_pieces(struct sl_mirror *m)
{
	for (;;) {
		size_t hs = m->sent < m->head_len ? m->head_len - m->sent : 0;
		size_t bs = m->sent > m->head_len ? m->sent - m->head_len : 0;
		const char *body = m->req + m->head_len + bs;
		size_t took;
		int ended;
		ssize_t n = sl_upstream_write_chunked(
		    m->up, m->req + m->sent, hs, body,
		    (size_t)(m->req + m->len - body), 1, m->trl, &took, &ended);

		if (n == -1)
			return -1;
		m->sent += SL_MIN((size_t)n, hs) + took;
		if (ended && m->up->h2s)
			sl_upstream_end_request(m->up, m->trl);
		if (ended)
			return 1;
		if (n == 0 || m->sent < m->head_len ||
		    sl_upstream_chunked_open(m->up)) {
			errno = EAGAIN;
			return -1;
		}
	}
}

/* Writes what is left of the copy. */
static void
mirror_write(struct sl_mirror *m)
{
	static const struct sl_h1_limits hl = {MIRROR_HEAD_MAX, MIRROR_HEAD_MAX,
					       1000};
	struct iovec iov = {m->req + m->sent, m->len - m->sent};
	ssize_t n;

	n = m->pieces ? mirror_write_pieces(m)
		      : sl_upstream_writev(m->up, &iov, 1, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		sl_upstream_want_write(m->up, 1);
		return;
	}
	if (n == -1) {
		mirror_fail(m, "write", strerror(errno));
		return;
	}
	if (!m->pieces)
		m->sent += (size_t)n;
	if (m->sent < m->len) {
		sl_upstream_want_write(m->up, 1);
		return;
	}
	sl_upstream_want_write(m->up, 0);
	/* written: only the response matters now, and only its end */
	free(m->req);
	m->req = NULL;
	m->len = m->cap = m->sent = 0;
	m->state = M_READING;
	sl_h1_reader_init(&m->rd, &hl, m->w->hdrs, m->w->max_hdrs,
			  m->head_method ? SL_M_HEAD : SL_M_GET,
			  SL_H1_RD_F_DROP);
	sl_upstream_want_read(m->up, 1);
}

void
sl_mirror_send(struct sl_mirror *m)
{
	struct sl_wcluster *wc = m->wc;
	const struct sl_conf_cluster *cc = wc->conf;
	uint64_t ms = m->route->timeout_ms + cc->connect_timeout_ms;
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};
	size_t i;

	i = sl_balance_swrr(wc->swrr, wc->weights, cc->nendpoints, NULL);
	if (i == SL_BALANCE_NONE) {
		/* a cluster whose names resolved to nothing */
		mirror_fail(m, "connect", "no upstream address");
		return;
	}
	m->state = M_CONNECTING;
	if (m->pp_len > 0)
		m->up = sl_upstream_get_proxied(
		    m->w, wc->eps[i], m->pp, m->pp_len, mirror_on_upstream, m);
	else if (wc->eps[i]->cluster->protocol != SL_UP_PROTO_HTTP1)
		/* a stream of a shared HTTP/2 connection */
		m->up = sl_h2up_get(m->w, wc->eps[i], mirror_on_upstream, m);
	else
		m->up =
		    sl_upstream_get(m->w, wc->eps[i], 0, mirror_on_upstream, m);
	if (m->up == NULL) {
		mirror_fail(m, "connect", strerror(errno));
		return;
	}
	/* one deadline for the whole copy: connect, send and answer */
	event_add(&m->tev, &tv);
	if (m->up->state == SL_UP_ST_ACTIVE) {
		m->state = M_SENDING;
		mirror_write(m);
	}
}

/* Reads the response to its end, dropping it. */
static void
mirror_read(struct sl_mirror *m)
{
	struct sl_h1_rd_event ev;
	enum sl_h1_rd_ev e;

	for (;;) {
		e = sl_upstream_read_response(m->up, &m->rd, MIRROR_READ_BUF,
					      &ev);
		if (e == SL_H1_RD_MORE)
			return;
		if (e == SL_H1_RD_END) {
			/* answered: the connection goes back to the pool if
			 * nothing follows the response */
			mirror_end(m, SL_MIRROR_SENT, ev.resp->status,
				   ev.reusable);
			return;
		}
		if (e >= SL_H1_RD_BAD_HEAD) {
			mirror_fail(m, sl_h1_rd_failure(e),
				    e == SL_H1_RD_FAILED ? strerror(ev.err)
				    : ev.why != SL_H1_R_NONE
					? sl_h1_reason_str(ev.why)
					: NULL);
			return;
		}
	}
}

static void
mirror_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err, void *arg)
{
	struct sl_mirror *m = arg;

	switch (ev) {
	case SL_UP_EV_FAILED:
		mirror_fail(m, "connect",
			    err == SL_UP_ERR_TLS ? sl_upstream_tls_why()
						 : strerror(err));
		return;
	case SL_UP_EV_CONNECTED:
		m->state = M_SENDING;
		mirror_write(m);
		return;
	case SL_UP_EV_WRITABLE:
		if (m->state == M_SENDING)
			mirror_write(m);
		else
			sl_upstream_want_write(u, 0);
		return;
	case SL_UP_EV_READABLE:
		if (m->state == M_READING)
			mirror_read(m);
		else {
			/* an answer before the whole copy went out */
			mirror_fail(m, "early_response", NULL);
		}
		return;
	}
}

void
sl_mirror_close_all(struct sl_worker *w)
{
	struct sl_mirror *m;

	while ((m = TAILQ_FIRST(&mws(w)->all)) != NULL)
		mirror_free(m, 0);
}
