/* SPDX-License-Identifier: MIT */
/*
 * A route's own checks of who may send what, as filters: its allow and
 * deny rules (doc/edge.md section 4) and its max_body_bytes. They are the
 * first a route runs: a client the rules refuse, or a body the route will
 * not take, never costs a lease, a token's check or a WAF thread.
 */
#include "exchange_int.h"
#include "filter.h"
#include "policy.h"

static int
access_used(const struct sl_conf_route *r)
{
	const struct sl_policy *p = r->policy;

	return p != NULL && (p->allow.n > 0 || p->deny.n > 0);
}

/* 403 by the rule that refuses the client, which the log names. */
static int
access_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct sl_txn *t = s->txn;
	const char *rule = sl_policy_refuses(t->route->policy, &t->client_addr);

	(void)h;
	if (rule == NULL)
		return SL_FILTER_GO;
	sl_exchange_forbid(s, rule);
	return SL_FILTER_ANSWERED;
}

const struct sl_filter sl_filter_access = {
    .name = "allow_deny",
    .used = access_used,
    .req_head = access_head,
};

static int
body_limit_used(const struct sl_conf_route *r)
{
	return r->max_body_bytes != 0;
}

/* 413 for a body whose length is past the route's own max_body_bytes (the
 * listener's applies to every route, before routing; a chunked body is
 * counted as it is read). */
static int
body_limit_head(struct sl_seam *s, struct sl_fhead *h)
{
	const struct sl_h1_request *req = h->req;

	if (req->body != SL_H1_BODY_LENGTH ||
	    req->content_length <= s->txn->route->max_body_bytes)
		return SL_FILTER_GO;
	sl_exchange_reject(s, 413, SL_H1_R_BODY_TOO_LARGE);
	return SL_FILTER_ANSWERED;
}

const struct sl_filter sl_filter_body_limit = {
    .name = "max_body_bytes",
    .used = body_limit_used,
    .req_head = body_limit_head,
};
