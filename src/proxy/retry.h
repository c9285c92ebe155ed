/* SPDX-License-Identifier: MIT */
/*
 * When a failed upstream attempt may be tried again: the retry classes of
 * a payment gateway, the route's policy, the retry budget and the backoff.
 * Pure: no I/O, no clock, no allocation; the exchange asks, this answers.
 */
#ifndef SL_RETRY_H
#define SL_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "h1_parse.h"

/*
 * The retry classes (doc/reliability.md):
 *   1  not sent: no byte of the request reached the upstream (connect
 *      refused or timed out, a pooled connection found closed before
 *      anything was written): always safe to send again;
 *   2  sent, and the client has seen nothing of an answer (reset or
 *      per-try timeout after writing, or a status the route retries):
 *      safe only for an idempotent request (GET, HEAD, OPTIONS, PUT,
 *      DELETE, TRACE) or one with an Idempotency-Key on a route that
 *      allows it;
 *   3  partial response: bytes of the answer went to the client: never.
 */
enum sl_retry_class {
	SL_RETRY_CLASS_NOT_SENT = 1,
	SL_RETRY_CLASS_SENT = 2,
	SL_RETRY_CLASS_PARTIAL = 3,
};

/* What failed, as retry.on names it. */
enum sl_retry_kind {
	SL_RETRY_KIND_CONNECT = 0, /* refused, unreachable, connect_timeout */
	SL_RETRY_KIND_RESET,	   /* reset or closed, write error */
	SL_RETRY_KIND_TIMEOUT,	   /* per_try_timeout */
	SL_RETRY_KIND_STATUS,	   /* a 502, 503 or 504 answer */
	SL_RETRY_KIND_BAD,	   /* a malformed answer: never retried */
};

/* The answer, and why not. */
enum sl_retry_verdict {
	SL_RETRY_YES = 0,
	SL_RETRY_NOT_ON,      /* retry.on does not name this failure */
	SL_RETRY_NOT_SAFE,    /* class 2 and not idempotent, or class 3 */
	SL_RETRY_NO_ATTEMPTS, /* retry.attempts used up */
	SL_RETRY_NO_BODY,     /* the body is gone (larger than buffer_bytes
				 and already sent): it cannot be replayed */
	SL_RETRY_NO_BUDGET,   /* retries in flight at the cluster's budget */
	SL_RETRY_NO_TIME,     /* the route's deadline comes first */
	SL_RETRY_NVERDICTS,
};

/* A failed attempt, as the exchange sees it. */
struct sl_retry_try {
	enum sl_retry_class cls;
	enum sl_retry_kind kind;
	int status;	      /* with SL_RETRY_KIND_STATUS */
	int idempotent;	      /* by method, or by key where allowed */
	int body_kept;	      /* the request can be sent again whole */
	int unseen;	      /* class 1 and no upstream can have seen it:
				 refused, or a pooled connection found
				 closed; outside the budget */
	int other_cluster;    /* the retry moves to another cluster of a
				 split: under that cluster's budget, even
				 when unseen (active and retrying are that
				 cluster's) */
	uint32_t attempts;    /* made so far, the failed one included */
	uint32_t active;      /* requests of the cluster in this worker */
	uint32_t retrying;    /* of which in a retry now */
	uint64_t now_ms;      /* any clock, the same as deadline_ms's */
	uint64_t deadline_ms; /* the route's overall deadline, 0 = none */
	uint64_t backoff_ms;  /* the wait before the next attempt */
};

/* Whether p lets the attempt a be tried again. */
enum sl_retry_verdict sl_retry_decide(const struct sl_conf_retry *p,
				      const struct sl_retry_try *a);

/* "not_on", "not_safe", ...: for logs and metrics. */
const char *sl_retry_verdict_str(enum sl_retry_verdict v);

/* Retries a cluster may have in flight in a worker with active requests:
 * budget percent of them, and at least SL_RETRY_BUDGET_FLOOR. A retry of
 * an unseen attempt (a refused connect, a pooled connection found closed)
 * within its cluster is not counted and not refused: it adds no request to
 * any upstream, only moves the one request to another endpoint. A move to
 * another cluster of a split is always counted there: that cluster was
 * not sized for the other's share, and a dead cluster must not double its
 * load. */
#define SL_RETRY_BUDGET_FLOOR 3
uint32_t sl_retry_budget(uint32_t budget_percent, uint32_t active);

/*
 * The wait before retry number n (1 for the first retry): full jitter
 * over an exponential bound, r uniform in [0, 2^64): a random value in
 * [0, min(SL_RETRY_BACKOFF_MAX_MS, SL_RETRY_BACKOFF_BASE_MS * 2^(n-1))).
 */
#define SL_RETRY_BACKOFF_BASE_MS 25
#define SL_RETRY_BACKOFF_MAX_MS	 250
uint64_t sl_retry_backoff(uint32_t n, uint64_t r);

/* Whether a method is idempotent (RFC 9110 section 9.2.2): GET, HEAD,
 * OPTIONS, PUT, DELETE, TRACE. */
static inline int
sl_retry_idempotent(enum sl_h1_method m)
{
	return ((1u << SL_M_GET | 1u << SL_M_HEAD | 1u << SL_M_PUT |
		 1u << SL_M_DELETE | 1u << SL_M_OPTIONS | 1u << SL_M_TRACE) >>
		m) &
	       1;
}

#endif
