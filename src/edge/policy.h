/* SPDX-License-Identifier: MIT */
/*
 * The policy of a listener or a route (doc/edge.md sections 4 and 5):
 * allow and deny lists checked against the request's one client address,
 * and header rules for each direction. Built by conf_edge.c, immutable once
 * loaded, owned by the generation. Pure: no I/O.
 */
#ifndef SL_POLICY_H
#define SL_POLICY_H

#include <stddef.h>

#include "cidr.h"
#include "hdrrule.h"

struct sl_policy {
	struct sl_cidr_set allow; /* n == 0: no allow list */
	struct sl_cidr_set deny;
	/* what the log says refused a request, each "deny RANGE
	 * (FILE:LINE)", one for each deny range; and "not in allow
	 * (FILE:LINE)" */
	char **deny_rules;
	char *allow_rule;
	struct sl_hdr_rules *request;  /* request_headers:, NULL: none */
	struct sl_hdr_rules *response; /* response_headers:, NULL: none */
	/*
	 * The header rules that apply to requests ([0]) and responses
	 * ([1]): a route's with its listener's (a route whose listener has
	 * rules always has a policy), a listener's own for the answers
	 * given before routing; NULL: none. Made by conf_edge.c at load.
	 */
	const struct sl_hdr_apply *rules[2];
	struct sl_hdr_apply apply[2];
};

/* Frees p and what it holds; takes NULL. */
void sl_policy_free(struct sl_policy *p);

/* The rule of p that refuses a request from ip (deny wins over allow),
 * or NULL when p lets it through. */
const char *sl_policy_refuses(const struct sl_policy *p,
			      const struct sl_ip *ip);

/* The same, for a policy that may be absent (NULL): one pointer test
 * where none is configured. */
static inline const char *
sl_policy_check(const struct sl_policy *p, const struct sl_ip *ip)
{
	return p != NULL && (p->allow.n > 0 || p->deny.n > 0)
		   ? sl_policy_refuses(p, ip)
		   : NULL;
}

/* Whether the rules of p (NULL: none) use variable v. */
static inline int
sl_policy_uses(const struct sl_policy *p, enum sl_hdr_var v)
{
	return p != NULL && (((p->request != NULL ? p->request->vars : 0) |
			      (p->response != NULL ? p->response->vars : 0)) &
			     (1u << v)) != 0;
}

#endif
