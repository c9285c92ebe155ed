/* SPDX-License-Identifier: MIT */
/*
 * A route's allow and deny rules as a filter (doc/edge.md section 4), in
 * the first phase: a client they refuse never costs a lease, a token's
 * check or a WAF thread.
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

struct sl_filter sl_filter_access = {
    .name = "allow_deny",
    .phase = SL_FPHASE_ACCESS,
    .used = access_used,
    .req_head = access_head,
};
