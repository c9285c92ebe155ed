/* SPDX-License-Identifier: MIT */
/*
 * One proxied request/response exchange of a client connection, its core:
 * starting it (the request head checked, routed, a cluster chosen, the
 * mirror), local responses, pumping bytes between the two directions,
 * finishing it, the scheduling and deadlines of each state, and the
 * upstream's events. The request direction (its body, rate limits, writing
 * upstream) is exchange_req.c's, the response direction (head parsing,
 * interim responses, pacing, output) exchange_resp.c's, the access log
 * exchange_log.c's; what they share is exchange_int.h. Parsing and header
 * rewriting are delegated to h1_parse/h1_msg; the client socket itself is
 * client.c's.
 */
#include "exchange.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "attempt.h"
#include "balance.h"
#include "client_int.h"
#include "exchange_int.h"
#include "forwarded.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "mirror.h"
#include "policy.h"
#include "rate.h"
#include "retry.h"
#include "rlcheck.h"
#include "route.h"
#include "runtime.h"
#include "tls.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

static void exchange_on_timer(evutil_socket_t, short, void *);
static void txn_choose_cluster(struct sl_client *c,
			       const struct sl_h1_request *req);
static void txn_mirror(struct sl_client *c, const struct sl_h1_request *req);

/* ---- closing --------------------------------------------------------- */

void
sl_exchange_free(struct sl_client *c)
{
	struct sl_txn *t = c->txn;

	if (t == NULL)
		return;
	sl_client_want_write(c, 0);
	event_del(&t->tev);
	sl_buf_release(&c->w->bufs, &t->out);
	sl_rlcheck_cancel(&t->rl); /* a request waiting for a lease */
	sl_attempt_dequeue(t);
	sl_attempt_release(c, 0);
	sl_attempt_done(t);
	sl_buf_release(&c->w->bufs, &t->uphead);
	if (t->mirror != NULL) {
		/* the request never completed: no copy goes out */
		sl_mirror_abort(t->mirror);
		t->mirror = NULL;
	}
	t->next_free = c->w->free_txns;
	c->w->free_txns = t;
	c->txn = NULL;
}

/* ---- local responses ---------------------------------------------------*/

static struct sl_txn *
txn_new(struct sl_client *c)
{
	struct sl_worker *w = c->w;
	struct sl_txn *t = w->free_txns;

	if (t != NULL)
		w->free_txns = t->next_free;
	else if ((t = malloc(sizeof(*t))) == NULL)
		return NULL;
	memset(t, 0, offsetof(struct sl_txn, request_id));
	t->rl.wait.entry = NULL;
	t->request_id[0] = t->method[0] = t->path[0] = t->host[0] = '\0';
	t->referer[0] = t->user_agent[0] = '\0';
	/* an exchange starts with the first byte of its head */
	t->start_ms =
	    c->state == SL_CLIENT_ST_HEAD
		? c->tnode.deadline_ms - c->lconf->limits.header_timeout_ms
		: now_ms();
	t->client = c;
	/* the request's client, until something more is known of it */
	(void)sl_ip_from_sockaddr((const struct sockaddr *)&c->peer,
				  &t->client_addr);
	event_assign(&t->wev, w->base, c->fd, EV_WRITE | EV_PERSIST,
		     sl_client_on_write, c);
	evtimer_assign(&t->tev, w->base, exchange_on_timer, c);
	/* the exchange keeps its own deadlines */
	sl_timeq_del(w, &c->tnode);
	c->txn = t;
	return t;
}

static void
copy_slice(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (s == NULL)
		n = 0;
	if (n >= dstsz)
		n = dstsz - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Whether the target and Referer kept for the access log are masked: an
 * error-log line is masked whole when it is written (log.c), so without
 * an access log there is nothing to do here. Method, Host and User-Agent
 * are not scanned: a card number has no business there, and a browser's
 * User-Agent alone would cost more than the target and Referer together
 * (doc/performance.md, issue 22). */
static int
note_cards(void)
{
	return sl_access_enabled() && sl_log_cards();
}

/* Keeps what the logs show of the request: its target and Referer with
 * log.query applied (card numbers travel in query strings), and no card
 * number in either, whatever log.query says. */
static void
txn_note(struct sl_txn *t, const char *method, size_t method_len,
	 const char *target, size_t target_len, const char *host,
	 size_t host_len)
{
	copy_slice(t->method, sizeof(t->method), method, method_len);
	if (target != NULL)
		sl_log_target(t->path, sizeof(t->path), target, target_len,
			      sl_log_query(), note_cards());
	else
		t->path[0] = '\0';
	copy_slice(t->host, sizeof(t->host), host, host_len);
}

static void
txn_note_agent(struct sl_txn *t, const char *referer, size_t referer_len,
	       const char *ua, size_t ua_len)
{
	if (referer != NULL)
		sl_log_target(t->referer, sizeof(t->referer), referer,
			      referer_len, sl_log_query(), note_cards());
	copy_slice(t->user_agent, sizeof(t->user_agent), ua, ua_len);
}

/* Referer and User-Agent of a parsed request, for the access log. */
static void
txn_agent_from(struct sl_txn *t, const struct sl_h1_request *req)
{
	const char *ref = NULL, *ua = NULL;
	size_t rl = 0, ul = 0;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (ref == NULL && sl_h1_ieq(h->name, h->name_len, "referer")) {
			ref = h->value;
			rl = h->value_len;
		} else if (ua == NULL &&
			   sl_h1_ieq(h->name, h->name_len, "user-agent")) {
			ua = h->value;
			ul = h->value_len;
		}
	}
	txn_note_agent(t, ref, rl, ua, ul);
}

/* Fills the logged fields of t from a refused head of len bytes, as far
 * as they can be read; nothing already known is replaced. */
static void
txn_salvage(struct sl_txn *t, const char *head, size_t len)
{
	struct sl_h1_salvage sv;

	sl_h1_salvage(head, len, &sv);
	if (t->method[0] == '\0' && t->path[0] == '\0')
		txn_note(t, sv.method, sv.method_len, sv.target, sv.target_len,
			 sv.host, sv.host_len);
	else if (t->host[0] == '\0')
		copy_slice(t->host, sizeof(t->host), sv.host, sv.host_len);
	if (sl_access_enabled())
		txn_note_agent(t, sv.referer, sv.referer_len, sv.user_agent,
			       sv.user_agent_len);
	if (t->minor == 0 && sv.minor == 1)
		t->minor = 1;
}

/* An exchange for a head that will not be parsed (refused by the scanner,
 * or timed out): what was read of it is logged, then dropped. */
static struct sl_txn *
txn_for_head(struct sl_client *c)
{
	struct sl_txn *t;

	if ((t = txn_new(c)) == NULL) {
		sl_client_close(c, "out_of_memory");
		return NULL;
	}
	if (c->in.data != NULL) {
		t->bytes_in = sl_buf_pending(&c->in);
		txn_salvage(t, c->in.data + c->in.off, sl_buf_pending(&c->in));
		c->in.off = c->in.len; /* the bad head is dropped */
	}
	t->flags |= T_CLOSE;
	sl_client_set_state(c, SL_CLIENT_ST_TXN);
	return t;
}

int
sl_exchange_out_reserve(struct sl_client *c, size_t n)
{
	if (sl_buf_alloc(&c->w->bufs, &c->txn->out, sl_exchange_head_cap(c)) ==
	    -1)
		return -1;
	if (c->txn->out.off == c->txn->out.len)
		c->txn->out.off = c->txn->out.len = 0;
	if (sl_buf_space(&c->txn->out) < n && c->txn->out.off > 0) {
		memmove(c->txn->out.data, c->txn->out.data + c->txn->out.off,
			sl_buf_pending(&c->txn->out));
		c->txn->out.len -= c->txn->out.off;
		c->txn->out.off = 0;
	}
	return sl_buf_space(&c->txn->out) >= n ? 0 : -1;
}

/*
 * Answers the current request (or the head being read) with a local error
 * and stops the exchange with the upstream. close forces the connection to
 * close after it; so does a request whose body was not read. fields, when
 * not NULL, are the answer's own (a rate limit's); they also keep it from
 * the info log (rlcheck.c says those).
 */
void
sl_exchange_answer(struct sl_client *c, int status, const char *code, int close,
		   const char *fields)
{
	struct sl_txn *t = c->txn;
	const struct sl_hdr_apply *rules;
	const struct sl_hdr_vars *vp = NULL;
	struct sl_hdr_vars vars;
	char ip[64];
	long n;

	if (t == NULL && (t = txn_for_head(c)) == NULL)
		return;
	if (t->request_id[0] == '\0')
		sl_worker_request_id(c->w, t->request_id);
	if ((t->resp_ph == SL_TXN_RESP_UPSTREAM) && t->bytes_out > 0) {
		/* part of the upstream response is out: it cannot be
		 * replaced, only cut */
		t->status = t->status ? t->status : status;
		t->error = code;
		sl_client_close(c, code);
		return;
	}
	if (t->resp_ph == SL_TXN_RESP_UPSTREAM) {
		/* a head held back for its body (sl_exchange_resp_held)
		 * never went out: this answer replaces it */
		t->resp_ph = SL_TXN_RESP_NONE;
		t->head_out -= sl_buf_pending(&t->out);
		t->out.off = t->out.len = 0;
	}
	sl_attempt_dequeue(t); /* a request answered here waits for nothing */
	sl_rlcheck_cancel(&t->rl);
	sl_attempt_release(c, 0);
	t->resp_ph = SL_TXN_RESP_LOCAL;
	t->status = status;
	t->error = code;
	if (close || t->req_ph != SL_TXN_REQ_DONE)
		t->flags |= T_CLOSE;
	if (sl_exchange_out_reserve(c, 512) == -1) {
		sl_client_close(c, "out_of_memory");
		return;
	}
	rules = sl_exchange_rules(c, 0, &vars, &vp, NULL, ip);
	n = sl_h1_write_error_fields(
	    c->txn->out.data + c->txn->out.len, sl_buf_space(&c->txn->out),
	    status, code, t->request_id, (t->flags & T_CLOSE) != 0,
	    (t->flags & T_HEAD_ONLY) != 0, t->minor, fields, rules, vp);
	if (n < 0 && rules != NULL)
		/* the answer goes out all the same, without the rules */
		n = sl_h1_write_error_fields(
		    c->txn->out.data + c->txn->out.len,
		    sl_buf_space(&c->txn->out), status, code, t->request_id,
		    (t->flags & T_CLOSE) != 0, (t->flags & T_HEAD_ONLY) != 0,
		    t->minor, fields, NULL, NULL);
	if (n < 0) {
		sl_client_close(c, code);
		return;
	}
	{
		/* the body follows the head's blank line (none after HEAD) */
		const char *h = c->txn->out.data + c->txn->out.len;
		const char *e = memmem(h, (size_t)n, "\r\n\r\n", 4);
		t->head_out += e != NULL ? (uint32_t)(e - h + 4) : (uint32_t)n;
	}
	c->txn->out.len += (uint32_t)n;
	if (sl_log_enabled(SL_LOG_INFO) && status != 404 && fields == NULL) {
		char peer[SL_PEER_MAX], m[64], p[1024], h[512];
		/* the rule a refused request broke: the response says only
		 * bad_request, the operator needs more */
		log_info(
		    "conn=%llu peer=%s request_id=%s route=%s: %d %s%s%s%s%s%s "
		    "method=%s target=\"%s\" host=\"%s\"",
		    (unsigned long long)c->id,
		    sl_client_peer_str(c, t, peer, sizeof(peer)), t->request_id,
		    t->route ? t->route->name : "-", status, code,
		    t->why != SL_H1_R_NONE ? " reason=" : "",
		    t->why != SL_H1_R_NONE ? sl_h1_reason_str(t->why) : "",
		    t->rule != NULL ? " rule=\"" : "",
		    t->rule != NULL ? t->rule : "", t->rule != NULL ? "\"" : "",
		    sl_escape(m, sizeof(m), t->method, strlen(t->method)),
		    sl_escape(p, sizeof(p), t->path, strlen(t->path)),
		    sl_escape(h, sizeof(h), t->host, strlen(t->host)));
	}
}

void
sl_exchange_local(struct sl_client *c, int status, const char *code, int close)
{
	sl_exchange_answer(c, status, code, close, NULL);
}

void
sl_exchange_reject(struct sl_client *c, int status, int why)
{
	struct sl_txn *t = c->txn;

	if (t == NULL && (t = txn_for_head(c)) == NULL)
		return;
	if (why <= SL_H1_R_NONE || why >= SL_H1_R_NREASONS)
		why = SL_H1_R_NONE;
	t->why = (enum sl_h1_reason)why;
	SL_STAT_INC(c->w->stats.rejected[why]);
	sl_exchange_local(c, status, sl_exchange_status_code_name(status), 1);
}

const char *
sl_exchange_status_code_name(int status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 405:
		return "method_not_allowed";
	case 408:
		return "request_timeout";
	case 413:
		return "payload_too_large";
	case 414:
		return "uri_too_long";
	case 417:
		return "expectation_failed";
	case 431:
		return "header_too_large";
	case 501:
		return "not_implemented";
	case 505:
		return "version_not_supported";
	default:
		return "bad_request";
	}
}

/* 417 may keep the connection (doc/contracts.md section 3.2); every
 * other request error closes it. */
static int
status_closes(int status)
{
	return status != 417;
}

/* Refuses the request by an allow or deny rule (doc/edge.md section 4):
 * 403, the connection kept as after a 404, counted and logged with the
 * rule. May close c. */
static void
txn_forbid(struct sl_client *c, const char *rule)
{
	struct sl_txn *t = c->txn;

	t->why = SL_H1_R_ACCESS_DENIED;
	t->rule = rule;
	SL_STAT_INC(c->w->stats.rejected[SL_H1_R_ACCESS_DENIED]);
	sl_exchange_local(c, 403, "forbidden", 0);
}

/* ---- starting an exchange --------------------------------------------- */

/* The connection ends after this request: the client asks for it (RFC
 * 9112 section 9.3), or the gateway does (the connection's last request
 * under max_requests, a draining worker, a listener a reload removed). */
static int
req_ends_connection(const struct sl_client *c, const struct sl_h1_request *req)
{
	const struct sl_conf_limits *lim = &c->lconf->limits;

	return !sl_h1_persists(req->minor, req->flags) ||
	       (lim->max_requests && c->nrequests + 1 >= lim->max_requests) ||
	       c->w->draining || (c->flags & C_F_RETIRED);
}

/* Whether the request carries a non-empty Idempotency-Key (the IETF
 * draft's field, what payment APIs ask their clients for). */
static int
has_idempotency_key(const struct sl_h1_request *req)
{
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (h->value_len > 0 &&
		    sl_h1_ieq(h->name, h->name_len, "idempotency-key"))
			return 1;
	}
	return 0;
}

/*
 * What the route's retry policy needs to know of the request: whether it
 * may be sent twice, the per-try timeout, whether its body is kept until
 * the answer (so that a retry can send it again: a body of up to
 * buffer_bytes, or a chunked one while it fits) and the overall deadline
 * once the request is complete.
 */
static void
txn_retry_setup(struct sl_client *c, const struct sl_h1_request *req)
{
	struct sl_txn *t = c->txn;
	const struct sl_conf_retry *p = &t->route->retry;

	if (sl_retry_idempotent(req->method_id) ||
	    (p->idempotency_key && has_idempotency_key(req)))
		t->flags |= T_IDEMPOTENT;
	t->try_timeout_ms = p->per_try_timeout_ms ? p->per_try_timeout_ms
						  : t->route->timeout_ms;
	if (p->attempts > 1 &&
	    (req->body == SL_H1_BODY_CHUNKED ||
	     (req->body == SL_H1_BODY_LENGTH &&
	      req->content_length <= c->lconf->limits.buffer_bytes)))
		t->flags |= T_RETAIN;
	if (t->req_ph == SL_TXN_REQ_DONE)
		t->deadline_ms = now_ms() + t->route->timeout_ms;
}

/*
 * A complete head of head_len bytes is at in.off: parse it, route it,
 * prepare the upstream head and get an upstream connection.
 */
void
sl_exchange_start(struct sl_client *c, size_t head_len)
{
	struct sl_worker *w = c->w;
	const struct sl_conf_limits *lim = &c->lconf->limits;
	struct sl_h1_limits hl = {lim->max_uri_bytes, lim->max_header_bytes,
				  lim->max_headers};
	struct sl_h1_request req;
	struct sl_txn *t;
	const char *rule;
	int r;

	if ((t = txn_new(c)) == NULL) {
		sl_client_close(c, "out_of_memory");
		return;
	}
	sl_client_set_state(c, SL_CLIENT_ST_TXN);
	memset(&req, 0, sizeof(req));
	req.headers = w->hdrs;
	req.max_headers = SL_MIN(w->max_hdrs, lim->max_headers);
	r = sl_h1_parse_request(c->in.data + c->in.off, head_len, &req, &hl);
	t->bytes_in = head_len;
	if (r == 0 || req.method != NULL) {
		/* known from the request line on: even an error answer must
		 * be framed for it (no body after HEAD, the client's version)
		 */
		t->method_id = req.method_id;
		t->minor = req.minor;
		if (req.method_id == SL_M_HEAD)
			t->flags |= T_HEAD_ONLY;
	}
	if (r == 0) {
		txn_note(t, req.method, req.method_len, req.path, req.path_len,
			 req.host, req.host_len);
		if (sl_access_enabled())
			txn_agent_from(t, &req);
	}
	if (r < 0) {
		/* what the logs need of a refused head, read leniently */
		txn_salvage(t, c->in.data + c->in.off, head_len);
		c->in.off += (uint32_t)head_len;
		c->in_ready = c->in.off;
		/* a 417 without a body leaves the connection in sync */
		if (r == -417 && req.body == SL_H1_BODY_NONE)
			t->req_ph = SL_TXN_REQ_DONE;
		sl_worker_request_id(w, t->request_id);
		t->why = req.why;
		SL_STAT_INC(w->stats.rejected[req.why]);
		sl_exchange_local(c, -r, sl_exchange_status_code_name(-r),
				  status_closes(-r) ||
				      req_ends_connection(c, &req));
		return;
	}
	/* identity: who the client is, before anything keyed on it (a
	 * trusted proxy's forwarded fields, doc/edge.md section 3) */
	if (c->lconf->trusted_proxies.n > 0 || c->lconf->untrusted_forwarded) {
		struct sl_fwd fwd = {.xff = SL_FWD_APPEND};
		if (sl_forwarded_settle(c->lconf, &req, &t->client_addr, &fwd))
			t->flags |= T_FWD_CLIENT;
		t->fwd_xff = (uint8_t)fwd.xff;
		t->fwd_cut_hdr = (uint16_t)fwd.cut_hdr;
		t->fwd_cut_off = (uint32_t)fwd.cut_off;
	}
	if (!sl_h1_client_request_id(&req, t->request_id))
		sl_worker_request_id(w, t->request_id);
	if (req_ends_connection(c, &req))
		t->flags |= T_CLOSE;
	t->req_body = req.body;
	t->req_remaining = req.content_length;
	if (req.body == SL_H1_BODY_CHUNKED) {
		sl_h1_chunked_init(&t->req_chunked, lim->max_header_bytes);
		t->req_chunked.max_trailers = lim->max_headers;
		t->req_chunked.own = c->lconf->tls.client_subject_header;
	}
	c->in.off += (uint32_t)head_len;
	c->in_ready = c->in.off;
	if (req.body == SL_H1_BODY_NONE)
		t->req_ph = SL_TXN_REQ_DONE;

	if ((rule = sl_policy_check(c->lconf->policy, &t->client_addr)) !=
	    NULL) {
		txn_forbid(c, rule);
		return;
	}
	t->route = sl_route_match(c->lconf, &req);
	if (t->route == NULL) {
		sl_exchange_local(c, 404, "no_route", 0);
		return;
	}
	if ((rule = sl_policy_check(t->route->policy, &t->client_addr)) !=
	    NULL) {
		txn_forbid(c, rule);
		return;
	}
	/* the route's limit: its own max_body_bytes, or the listener's */
	if (req.body == SL_H1_BODY_LENGTH && t->route->max_body_bytes &&
	    req.content_length > t->route->max_body_bytes) {
		sl_exchange_reject(c, 413, SL_H1_R_BODY_TOO_LARGE);
		return;
	}
	if (t->route->rate_limits != NULL &&
	    sl_exchange_rate_limit(c, &req, head_len) != 0)
		return;
	sl_exchange_forward(c, &req);
}

/*
 * The request passed its route's checks: its cluster, its upstream head,
 * a mirror copy, and the first upstream attempt.
 */
void
sl_exchange_forward(struct sl_client *c, struct sl_h1_request *req)
{
	struct sl_worker *w = c->w;
	const struct sl_conf_limits *lim = &c->lconf->limits;
	struct sl_txn *t = c->txn;
	char ip[64];
	struct sl_fwd fwd;
	struct sl_hdr_vars vars;
	long n;

	txn_choose_cluster(c, req);
	txn_retry_setup(c, req);

	if (sl_buf_alloc(&w->bufs, &t->uphead, sl_exchange_head_cap(c)) == -1) {
		sl_exchange_local(c, 503, "out_of_memory", 0);
		return;
	}
	fwd.client_ip = sl_ip_str(&t->client_addr, ip, sizeof(ip));
	fwd.proto = c->ssl != NULL ? "https" : "http";
	fwd.subject_header = c->lconf->tls.client_subject_header;
	fwd.subject = c->tls_subject;
	fwd.request_id = t->request_id;
	fwd.default_host = c->lconf->addr.text;
	fwd.xff = (enum sl_fwd_xff)t->fwd_xff;
	fwd.cut_hdr = t->fwd_cut_hdr;
	fwd.cut_off = t->fwd_cut_off;
	fwd.vars = NULL;
	fwd.rules =
	    sl_exchange_rules(c, 1, &vars, &fwd.vars, fwd.client_ip, ip);
	n = sl_h1_write_request_head(t->uphead.data, t->uphead.cap, req, &fwd);
	if (n < 0) {
		/* the head with the fields sluice adds does not fit */
		sl_exchange_reject(c, 431, SL_H1_R_HEAD_TOO_LARGE);
		return;
	}
	t->uphead.len = (uint32_t)n;
	if (t->route->mirror != NULL && sl_mirror_due(c->gen, t->route))
		txn_mirror(c, req);
	/* a request without a body is all in uphead now: an empty head
	 * buffer goes back to the pool while the exchange lasts (req's
	 * strings are not used past this point) */
	if (req->body == SL_H1_BODY_NONE && sl_buf_pending(&c->in) == 0 &&
	    c->in_ready == c->in.len) {
		sl_buf_release(&w->bufs, &c->in);
		c->in_ready = 0;
	}

	/* 100-continue: we ask for the body ourselves, once we are about to
	 * read it; the upstream never sees Expect */
	if ((req->flags & SL_H1_F_EXPECT_CONTINUE) && req->minor >= 1 &&
	    req->body != SL_H1_BODY_NONE && sl_buf_pending(&c->in) == 0) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (sl_exchange_out_reserve(c, sizeof(cont) - 1) == 0) {
			memcpy(c->txn->out.data + c->txn->out.len, cont,
			       sizeof(cont) - 1);
			c->txn->out.len += sizeof(cont) - 1;
			t->head_out += sizeof(cont) - 1;
		}
	}
	c->txn->last_read_ms = now_ms();
	if (req->body != SL_H1_BODY_NONE && lim->min_body_rate_bps > 0)
		sl_rate_start(&t->body_rate, c->txn->last_read_ms);
	sl_attempt_start(c);
}

/*
 * The cluster of the route that takes this request: its cluster, or one of
 * its split, by the sticky key's race when the request has the key, else
 * in turn by weight (smooth weighted round robin, per worker). With a hash
 * balancer, its key is hashed now, while the request's fields are here.
 */
static void
txn_choose_cluster(struct sl_client *c, const struct sl_h1_request *req)
{
	struct sl_txn *t = c->txn;
	const struct sl_conf_route *r = t->route;
	const struct sl_conf_cluster *cc = r->cluster;
	const void *key;
	size_t len;

	if (cc == NULL) {
		size_t i;
		if (r->sticky.source != SL_KEY_NONE &&
		    sl_route_key(&r->sticky, req, &t->client_addr, &key,
				 &len)) {
			/* kept: a failover takes the key's next choice */
			t->sticky_key = sl_hash64(key, len);
			t->flags |= T_STICKY_KEY;
			i = sl_balance_race(t->sticky_key, r->split_ids,
					    r->split_weights, r->nsplit, NULL);
		} else
			i = sl_balance_swrr(c->gen->routes[r->index].swrr,
					    r->split_weights, r->nsplit, NULL);
		cc = r->split[i].cluster;
	}
	t->wc = &c->gen->clusters[cc->index];
	if (cc->balance == SL_BALANCE_HASH &&
	    sl_route_key(&cc->hash_key, req, &t->client_addr, &key, &len)) {
		t->hash_key = sl_hash64(key, len);
		t->flags |= T_HASH_KEY;
	}
}

/*
 * Starts a mirror copy of the request: its head now, its body as it is
 * read (sl_exchange_req_advance), sent when the request is complete. A body
 * larger than buffer_bytes is not copied.
 */
static void
txn_mirror(struct sl_client *c, const struct sl_h1_request *req)
{
	struct sl_txn *t = c->txn;
	uint64_t max = c->lconf->limits.buffer_bytes;

	if (req->body == SL_H1_BODY_LENGTH && req->content_length > max) {
		SL_STAT_INC(t->route->state->counts[c->w->id]
				.mirror[SL_MIRROR_TOO_LARGE]);
		return;
	}
	t->mirror = sl_mirror_new(c->w, c->gen, t->route, t->uphead.data,
				  t->uphead.len, max);
	if (t->mirror != NULL && t->route->mirror->proxy_protocol) {
		/* identity: the copy carries the client too (edge.md) */
		unsigned char pp[SL_PP_V2_OUT_MAX];
		sl_mirror_set_proxy_header(t->mirror, pp,
					   sl_attempt_pp_header(c, pp));
	}
	if (t->mirror != NULL && (t->req_ph == SL_TXN_REQ_DONE)) {
		sl_mirror_send(t->mirror);
		t->mirror = NULL;
	}
}

void
sl_exchange_schedule(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	uint64_t x = UINT64_MAX, d;

	if (!(c->flags & C_F_REV) && t->body_rate.start_ms != 0)
		/* not reading is the gateway's doing, not the client's */
		sl_rate_excuse(&t->body_rate, now_ms());
	if (t->up_ph == SL_TXN_UP_QUEUED)
		x = SL_MIN(x, t->queue_deadline_ms);
	if (t->up_ph == SL_TXN_UP_BACKOFF)
		x = SL_MIN(x, t->retry_at_ms);
	/* the route's deadline holds until a response head came */
	if (t->deadline_ms != 0 && t->resp_ph == SL_TXN_RESP_NONE)
		x = SL_MIN(x, t->deadline_ms);
	if (t->body_rate.start_ms != 0 &&
	    (t->resp_ph != SL_TXN_RESP_LOCAL && t->req_ph != SL_TXN_REQ_DONE))
		x = SL_MIN(x, t->body_rate.next_ms);
	if (t->send_rate.start_ms != 0 && t->resp_ph != SL_TXN_RESP_LOCAL)
		x = SL_MIN(x, t->send_rate.next_ms);
	if ((t->resp_ph != SL_TXN_RESP_LOCAL && t->req_ph != SL_TXN_REQ_DONE) &&
	    (c->flags & C_F_REV))
		x = SL_MIN(x,
			   t->last_read_ms + c->lconf->limits.body_timeout_ms);
	if (u != NULL && sl_upstream_connecting(u))
		x = SL_MIN(x, t->connect_deadline_ms);
	else if (u != NULL && t->up_ph != SL_TXN_UP_DONE) {
		/* resume reading the upstream once there is room (paced:
		 * once the client's socket has room) */
		if (!u->rev_on && !(t->flags & T_PACED) &&
		    (u->in.data == NULL || sl_buf_space(&u->in) > 0 ||
		     u->in.off > 0))
			sl_upstream_want_read(u, 1);
		/* the upstream is on the clock only while we wait for it,
		 * not while it waits for a slow client */
		if (((t->flags & T_REQ_SENT) && u->rev_on) ||
		    (t->flags & T_UP_WBLOCK))
			x = SL_MIN(x, t->up_progress_ms + t->try_timeout_ms);
	}
	if (c->flags & C_F_WEV)
		x = SL_MIN(x,
			   t->last_write_ms + c->lconf->limits.send_timeout_ms);
	d = x == UINT64_MAX ? 0 : x;
	if (d == t->armed_ms)
		return;
	if (d == 0) {
		event_del(&t->tev);
	} else {
		uint64_t now = now_ms();
		uint64_t ms = d > now ? d - now : 0;
		struct timeval tv = {(time_t)(ms / 1000),
				     (suseconds_t)(ms % 1000) * 1000};
		event_add(&t->tev, &tv);
	}
	t->armed_ms = d;
}

/* ---- the exchange ----------------------------------------------------- */

/* The exchange is over: give the upstream connection back, log, and go on
 * with the next request or close. */
static void
txn_finish(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	unsigned flags;
	const char *why;
	int linger = 0;

	if (u != NULL) {
		const struct sl_conf_cluster *cc = t->wc->conf;
		int reusable = (t->flags & T_REQ_SENT) &&
			       (t->up_ph == SL_TXN_UP_DONE) &&
			       !(t->flags & T_UP_BROKEN) && t->resp_keepalive &&
			       (cc->pool_max_requests == 0 ||
				u->nrequests < cc->pool_max_requests);
		sl_attempt_release(c, reusable);
	}
	if (t->req_ph == SL_TXN_REQ_DONE) {
		c->in.off = c->in_ready; /* body the upstream did not take */
	} else {
		t->flags |= T_CLOSE;
		linger = 1;
	}
	if ((t->resp_ph == SL_TXN_RESP_LOCAL) && (t->flags & T_CLOSE))
		linger = 1;
	sl_exchange_log(c, t);
	c->nrequests++;
	flags = t->flags;
	/* a refusal or a cut that closes, closes for its own reason */
	why = (flags & T_CLOSE) && t->resp_ph == SL_TXN_RESP_LOCAL &&
		      t->error != NULL
		  ? t->error
	      : (flags & T_CLOSE) ? "close"
				  : "eof";
	sl_exchange_free(c);
	/* a client that shut its write side after pipelining still gets
	 * every complete request it sent answered */
	if ((flags & T_CLOSE) || c->w->draining ||
	    ((c->flags & C_F_EOF) && sl_buf_pending(&c->in) == 0)) {
		sl_client_finish(c, why, linger);
		return;
	}
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	sl_timeq_set(c->w, &c->tnode, c->lconf->limits.idle_timeout_ms,
		     now_ms());
	sl_buf_release_if_empty(&c->w->bufs, &c->in);
}

/* Moves bytes as far as they can go now. Returns -1 when c was closed or
 * the exchange ended, 0 when it waits for an event. */
int
sl_exchange_pump(struct sl_client *c)
{
	struct sl_txn *t;

	for (int guard = 0; guard < 8; guard++) {
		t = c->txn;
		if (c->state != SL_CLIENT_ST_TXN || t == NULL)
			return -1;
		if (t->resp_ph != SL_TXN_RESP_LOCAL) {
			if (sl_exchange_req_advance(c) == -1)
				continue; /* now a local response */
			if ((c->flags & C_F_EOF) &&
			    t->req_ph != SL_TXN_REQ_DONE &&
			    c->in_ready == c->in.len) {
				/* half-closed before this (pipelined) body was
				 * complete: the rest will never come */
				sl_client_close(c, "client_closed_in_body");
				return -1;
			}
			if (sl_exchange_up_write(c) == -1)
				continue;
			if (c->state != SL_CLIENT_ST_TXN)
				return -1;
		}
		if (sl_client_write(c) == -1)
			return -1;
		t = c->txn;
		if (sl_buf_pending(&c->txn->out) > 0 || (c->flags & C_F_WEV))
			return 0;
		if (t->resp_ph == SL_TXN_RESP_LOCAL) {
			txn_finish(c);
			return -1;
		}
		if ((t->up_ph == SL_TXN_UP_DONE) &&
		    (t->up == NULL || t->up->ready == t->up->in.off)) {
			txn_finish(c);
			return -1;
		}
		return 0;
	}
	return 0;
}

/* ---- events ------------------------------------------------------------*/

/*
 * Feeds the send-rate meter with the bytes the client actually took since
 * the last check: written minus what still waits in the kernel's send
 * queue. Counting writes would be wrong both ways: a multi-megabyte send
 * buffer swallows a response at once and then lets a steady reader look
 * idle for seconds. One ioctl per check (once a second), not per write.
 * Returns the bytes still queued in the kernel.
 */
static int
client_send_progress(struct sl_client *c, uint64_t now)
{
	struct sl_txn *t = c->txn;
	int outq = 0;
	uint64_t delivered;

	outq = sl_xprt_outq(c->fd, c->ssl);
	delivered = t->send_written > (uint64_t)outq
			? t->send_written - (uint64_t)outq
			: 0;
	if (delivered > t->send_delivered) {
		sl_rate_add_completed(&t->send_rate, now,
				      delivered - t->send_delivered);
		t->send_delivered = delivered;
	}
	return outq;
}

/*
 * The exchange's timer fired: acts on whichever of its deadlines passed.
 * Returns -1 when c was closed, 0 when it should be processed.
 */
static int
txn_on_deadline(struct sl_client *c, struct sl_txn *t, uint64_t now)
{
	struct sl_upconn *u = t->up;
	int pending_out;

	if ((c->flags & C_F_WEV) &&
	    now >= c->txn->last_write_ms + c->lconf->limits.send_timeout_ms) {
		sl_client_count_timeout(c, SL_TO_SEND);
		t->error = "send_timeout";
		sl_client_close(c, "send_timeout");
		return -1;
	}
	/* a held head is the upstream's delay, not the client's */
	pending_out = !sl_exchange_resp_held(t, u) &&
		      (sl_buf_pending(&c->txn->out) > 0 ||
		       (u != NULL && (t->resp_ph == SL_TXN_RESP_UPSTREAM) &&
			u->ready > u->in.off));
	if (t->send_rate.start_ms != 0 && now >= t->send_rate.next_ms) {
		/* the client took everything there was: waiting for
		 * the upstream is not its fault */
		if (client_send_progress(c, now) == 0 && !pending_out)
			sl_rate_excuse(&t->send_rate, now);
		if (sl_rate_check(&t->send_rate, now,
				  c->lconf->limits.min_send_rate_bps)) {
			sl_client_count_timeout(c, SL_TO_SEND_RATE);
			t->error = "min_send_rate";
			sl_client_close(c, "min_send_rate");
			return -1;
		}
	}
	if (t->deadline_ms != 0 && t->resp_ph == SL_TXN_RESP_NONE &&
	    now >= t->deadline_ms) {
		sl_attempt_deadline(c);
		return 0;
	}
	if ((t->up_ph == SL_TXN_UP_BACKOFF) && now >= t->retry_at_ms) {
		sl_attempt_resume(c);
		return 0;
	}
	if ((t->up_ph == SL_TXN_UP_QUEUED) && now >= t->queue_deadline_ms) {
		sl_attempt_dequeue(t);
		sl_attempt_overloaded(c);
		return 0;
	}
	if (u != NULL && sl_upstream_connecting(u) &&
	    now >= t->connect_deadline_ms) {
		char d[64];
		snprintf(d, sizeof(d),
			 "no answer within connect_timeout %llu ms",
			 (unsigned long long)t->wc->conf->connect_timeout_ms);
		sl_attempt_failed(c, FAIL_CONNECT_TIMEOUT,
				  "upstream_connect_timeout", d);
		return 0;
	}
	if (u != NULL && u->state == SL_UP_ST_ACTIVE &&
	    t->up_ph != SL_TXN_UP_DONE &&
	    (((t->flags & T_REQ_SENT) && u->rev_on) ||
	     (t->flags & T_UP_WBLOCK)) &&
	    now >= t->up_progress_ms + t->try_timeout_ms) {
		char d[64];
		snprintf(d, sizeof(d), "silent for %llu ms (per-try timeout)",
			 (unsigned long long)t->try_timeout_ms);
		sl_attempt_failed(c, FAIL_TIMEOUT, "upstream_timeout", d);
		return 0;
	}
	if (t->resp_ph == SL_TXN_RESP_LOCAL || t->req_ph == SL_TXN_REQ_DONE)
		return 0;
	if ((c->flags & C_F_REV) &&
	    now >= c->txn->last_read_ms + c->lconf->limits.body_timeout_ms) {
		sl_client_count_timeout(c, SL_TO_BODY);
		sl_exchange_local(c, 408, "request_timeout", 1);
		if (c->txn != NULL && c->state == SL_CLIENT_ST_TXN)
			c->txn->error = "body_timeout";
		return 0;
	}
	if (t->body_rate.start_ms != 0 && now >= t->body_rate.next_ms &&
	    !(c->flags & C_F_REV))
		/* reading is off: the upstream holds the body back */
		sl_rate_excuse(&t->body_rate, now);
	if (t->body_rate.start_ms != 0 && now >= t->body_rate.next_ms &&
	    sl_rate_check(&t->body_rate, now,
			  c->lconf->limits.min_body_rate_bps)) {
		sl_client_count_timeout(c, SL_TO_BODY_RATE);
		sl_exchange_local(c, 408, "request_timeout", 1);
		if (c->txn != NULL && c->state == SL_CLIENT_ST_TXN)
			c->txn->error = "min_body_rate";
		return 0;
	}
	return 0;
}

static void
exchange_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sl_client *c = arg;
	struct sl_txn *t = c->txn;
	uint64_t now = sl_now_refresh();

	/* only an exchange arms this timer; other states use the worker's
	 * lists (sl_client_on_deadline) */
	if (c->state != SL_CLIENT_ST_TXN || t == NULL)
		return;
	t->armed_ms = 0;
	if (txn_on_deadline(c, t, now) == -1)
		return;
	sl_client_process(c);
}

/* The handler of the exchange's upstream connection (arg: its client). */
void
sl_exchange_on_upstream(struct sl_upconn *u, enum sl_up_event ev, int err,
			void *arg)
{
	struct sl_client *c = arg;
	struct sl_txn *t = c->txn;

	sl_now_refresh();
	if (c->state != SL_CLIENT_ST_TXN || t == NULL || t->up != u)
		return;
	switch (ev) {
	case SL_UP_EV_FAILED:
		/* the OS's reason: refused, no route to host, its own SYN
		 * timeout */
		if (err == SL_UP_ERR_TLS)
			sl_attempt_failed(c, FAIL_TLS, "upstream_tls",
					  sl_upstream_tls_why());
		else
			sl_attempt_failed(c, FAIL_REFUSED,
					  "upstream_connect_failed",
					  strerror(err));
		break;
	case SL_UP_EV_CONNECTED:
		/* the attempt started connecting at its last progress */
		t->connect_ms +=
		    (uint32_t)SL_MIN(now_ms() - t->up_progress_ms, UINT32_MAX);
		t->up_progress_ms = now_ms();
		break;
	case SL_UP_EV_WRITABLE:
		t->flags &= ~T_UP_WBLOCK;
		sl_upstream_want_write(u, 0);
		break;
	case SL_UP_EV_READABLE:
		/* on failure the exchange is now a local answer or a close,
		 * and processing carries on from there all the same */
		(void)sl_exchange_up_read(c);
		break;
	}
	sl_client_process(c);
}
