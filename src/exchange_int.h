/* SPDX-License-Identifier: MIT */
/*
 * Private to the exchange's files (exchange.c, exchange_req.c,
 * exchange_resp.c, exchange_log.c): what one direction calls in the core or
 * the other, and the small helpers all of them inline. No other module may
 * include it; theirs is exchange.h.
 */
#ifndef SL_EXCHANGE_INT_H
#define SL_EXCHANGE_INT_H

#include <stddef.h>

#include "client_int.h"
#include "exchange.h"
#include "h1_parse.h"
#include "hdrrule.h"
#include "policy.h"
#include "route.h"
#include "tls.h"
#include "wloop.h"

/* ---- exchange.c: the core --------------------------------------------- */

/* Room for n more bytes in the exchange's output buffer (made, or moved
 * to the front). Returns 0, or -1 when they do not fit. */
int sl_exchange_out_reserve(struct sl_client *c, size_t n);

/*
 * Answers the current request (or the head being read) with a local error
 * and stops the exchange with the upstream. close forces the connection to
 * close after it; so does a request whose body was not read. fields, when
 * not NULL, are the answer's own (a rate limit's); they also keep it from
 * the info log (rlcheck.c says those).
 */
void sl_exchange_answer(struct sl_client *c, int status, const char *code,
			int close, const char *fields);

/* The request passed its route's checks: its cluster, its upstream head,
 * a mirror copy, and the first upstream attempt. */
void sl_exchange_forward(struct sl_client *c, struct sl_h1_request *req);

/* ---- exchange_req.c: the request direction ------------------------------ */

/* The route's rate limits, in order (a route without any costs its caller
 * one pointer test). Returns 0 when the request goes on, 1 when it was
 * answered (429, 503) or waits for a lease. */
int sl_exchange_rate_limit(struct sl_client *c, struct sl_h1_request *req,
			   size_t head_len);

/* Checks newly read request body bytes (some came, and the body is not
 * complete); returns -1 when the exchange was turned into an error
 * response. */
int sl_exchange_req_read(struct sl_client *c);

/* Writes what is ready of the request upstream. Returns -1 when the
 * exchange failed (already handled). */
int sl_exchange_up_write(struct sl_client *c);

/* ---- exchange_resp.c: the response direction ---------------------------- */

/* Reads from the upstream. Returns -1 when the exchange failed. */
int sl_exchange_up_read(struct sl_client *c);

/* ---- inline helpers ---------------------------------------------------- */

static inline size_t
sl_exchange_head_cap(const struct sl_client *c)
{
	/* a rewritten head is the original plus a few fields we add */
	return c->lconf->limits.max_header_bytes + 1024;
}

/* The values of the variables a's rules use (ip: the client address's
 * text when it is made already, else NULL). The cheap ones are filled
 * whether used or not: a test per variable costs more than a store. */
static inline const struct sl_hdr_vars *
sl_exchange_rules_vars(struct sl_client *c, const struct sl_hdr_apply *a,
		       struct sl_hdr_vars *vars, const char *ip, char ipbuf[64])
{
	const struct sl_txn *t = c->txn;

	if (a->vars_used & (1u << SL_HDR_V_CLIENT_IP))
		vars->v[SL_HDR_V_CLIENT_IP] =
		    ip != NULL ? ip : sl_ip_str(&t->client_addr, ipbuf, 64);
	vars->v[SL_HDR_V_REQUEST_ID] = t->request_id;
	vars->v[SL_HDR_V_ROUTE] = t->route != NULL ? t->route->name : "";
	vars->v[SL_HDR_V_CLUSTER] = t->wc != NULL ? t->wc->conf->name : "";
	if (a->vars_used & (1u << SL_HDR_V_TLS_VERSION))
		vars->v[SL_HDR_V_TLS_VERSION] =
		    c->ssl != NULL ? sl_tls_version(c->ssl) : "";
	vars->v[SL_HDR_V_TLS_CLIENT_SUBJECT] =
	    c->tls_subject != NULL ? c->tls_subject : "";
	return vars;
}

/*
 * The header rules for the request (request 1) or the response of c's
 * exchange: its route's with its listener's, or the listener's before
 * routing (put together at load); NULL when none apply, which costs a
 * pointer test or two. The values of the variables they use go to vars
 * (*varsp); ip is the client address's text when the caller has it
 * (else NULL: made in ipbuf if a rule needs it).
 */
static inline const struct sl_hdr_apply *
sl_exchange_rules(struct sl_client *c, int request, struct sl_hdr_vars *vars,
		  const struct sl_hdr_vars **varsp, const char *ip,
		  char ipbuf[64])
{
	const struct sl_txn *t = c->txn;
	const struct sl_policy *p =
	    t->route != NULL ? t->route->policy : c->lconf->policy;
	const struct sl_hdr_apply *a;

	if (p == NULL || (a = p->rules[request ? 0 : 1]) == NULL)
		return NULL;
	*varsp = a->vars_used != 0
		     ? sl_exchange_rules_vars(c, a, vars, ip, ipbuf)
		     : vars;
	return a;
}

/* The whole request was read: the route's deadline starts. */
static inline void
sl_exchange_req_complete(struct sl_txn *t)
{
	t->req_ph = SL_TXN_REQ_DONE;
	if (t->route != NULL)
		t->deadline_ms = now_ms() + t->route->timeout_ms;
}

/* The body kept for a retry is let go: after an answer, or when it no
 * longer fits the buffer (it cannot be sent again then). */
static inline void
sl_exchange_req_unretain(struct sl_client *c)
{
	struct sl_txn *t = c->txn;

	c->in.off += t->body_off;
	t->body_off = 0;
	t->flags &= ~T_RETAIN;
}

/* The request body bytes that came, checked and counted (sl_exchange_req_read);
 * one test when there are none (most requests have no body). */
static inline int
sl_exchange_req_advance(struct sl_client *c)
{
	if ((c->txn->req_ph == SL_TXN_REQ_DONE) || c->in.len == c->in_ready)
		return 0;
	return sl_exchange_req_read(c);
}

/*
 * Whether a response head waits for the first bytes of its body. Upstreams
 * commonly write the head and a Content-Length body with two calls (nginx:
 * writev, then sendfile); forwarding each as it comes costs the client a
 * second segment, a second read and an ACK. The head alone is held, and only
 * while the upstream is being read for a body of known length: body bytes
 * are never delayed, and chunked or close-delimited responses (event
 * streams) get their head at once. A stalled upstream is on its response
 * timeout as before.
 */
static inline int
sl_exchange_resp_held(const struct sl_txn *t, const struct sl_upconn *u)
{
	return u != NULL && t->resp_ph == SL_TXN_RESP_UPSTREAM &&
	       t->up_ph != SL_TXN_UP_DONE &&
	       t->resp_body == SL_H1_BODY_LENGTH && t->bytes_out == 0 &&
	       u->ready == u->in.off && u->rev_on;
}

#endif
