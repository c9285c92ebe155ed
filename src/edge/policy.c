/* SPDX-License-Identifier: MIT */
/*
 * Allow and deny lists of a listener or a route, and its policy's
 * lifetime (see policy.h).
 */
#include "policy.h"

#include <stdlib.h>

void
sl_policy_free(struct sl_policy *p)
{
	if (p == NULL)
		return;
	free(p->allow.v);
	free(p->deny.v);
	for (size_t i = 0; p->deny_rules != NULL && i < p->deny.n; i++)
		free(p->deny_rules[i]);
	free(p->deny_rules);
	free(p->allow_rule);
	sl_hdr_rules_free(p->request);
	sl_hdr_rules_free(p->response);
	free(p);
}

const char *
sl_policy_refuses(const struct sl_policy *p, const struct sl_ip *ip)
{
	int i;

	if ((i = sl_cidr_set_find(&p->deny, ip)) >= 0)
		return p->deny_rules[i];
	if (p->allow.n > 0 && sl_cidr_set_find(&p->allow, ip) < 0)
		return p->allow_rule;
	return NULL;
}
