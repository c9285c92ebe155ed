/* SPDX-License-Identifier: MIT */
/*
 * The retry policy (retry.h): classes, retry.on, attempts, the budget, the
 * deadline and the backoff. Pure.
 */
#include "retry.h"

static unsigned
on_bit(const struct sl_retry_try *a)
{
	switch (a->kind) {
	case SL_RETRY_KIND_CONNECT:
		return SL_RETRY_ON_CONNECT;
	case SL_RETRY_KIND_RESET:
		return SL_RETRY_ON_RESET;
	case SL_RETRY_KIND_TIMEOUT:
		return SL_RETRY_ON_TIMEOUT;
	case SL_RETRY_KIND_STATUS:
		return a->status == 502	  ? SL_RETRY_ON_502
		       : a->status == 503 ? SL_RETRY_ON_503
		       : a->status == 504 ? SL_RETRY_ON_504
					  : 0;
	case SL_RETRY_KIND_BAD:
		break;
	}
	return 0;
}

uint32_t
sl_retry_budget(uint32_t budget_percent, uint32_t active)
{
	uint64_t b = (uint64_t)active * budget_percent / 100;

	return b < SL_RETRY_BUDGET_FLOOR ? SL_RETRY_BUDGET_FLOOR : (uint32_t)b;
}

enum sl_retry_verdict
sl_retry_decide(const struct sl_conf_retry *p, const struct sl_retry_try *a)
{
	/* what the request allows comes first: a payment is never sent
	 * twice, whatever the policy says */
	if (a->cls == SL_RETRY_CLASS_PARTIAL)
		return SL_RETRY_NOT_SAFE;
	if (a->cls == SL_RETRY_CLASS_SENT && !a->idempotent)
		return SL_RETRY_NOT_SAFE;
	if (!(p->on & on_bit(a)))
		return SL_RETRY_NOT_ON;
	if (!a->body_kept)
		return SL_RETRY_NO_BODY;
	if (a->attempts >= p->attempts)
		return SL_RETRY_NO_ATTEMPTS;
	if ((a->other_cluster ||
	     !(a->unseen && a->cls == SL_RETRY_CLASS_NOT_SENT)) &&
	    a->retrying >= sl_retry_budget(p->budget_percent, a->active))
		return SL_RETRY_NO_BUDGET;
	if (a->deadline_ms != 0 && a->now_ms + a->backoff_ms >= a->deadline_ms)
		return SL_RETRY_NO_TIME;
	return SL_RETRY_YES;
}

const char *
sl_retry_verdict_str(enum sl_retry_verdict v)
{
	static const char *const names[SL_RETRY_NVERDICTS] = {
	    "yes",	 "not_on",  "not_safe", "no_attempts", "body_too_large",
	    "no_budget", "no_time",
	};

	return (unsigned)v < SL_RETRY_NVERDICTS ? names[v] : "?";
}

uint64_t
sl_retry_backoff(uint32_t n, uint64_t r)
{
	uint64_t bound = SL_RETRY_BACKOFF_BASE_MS;

	for (uint32_t i = 1; i < n && bound < SL_RETRY_BACKOFF_MAX_MS; i++)
		bound *= 2;
	if (bound > SL_RETRY_BACKOFF_MAX_MS)
		bound = SL_RETRY_BACKOFF_MAX_MS;
	return r % bound;
}
