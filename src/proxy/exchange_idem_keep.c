/* SPDX-License-Identifier: MIT */
/*
 * The Idempotency-Key store's kept answer (exchange_idem.c): the final
 * answer of a reserved key gathered as the upstream sends it (its status,
 * end-to-end fields and body, within the route's bounds), then kept in
 * the route's store, or the key let go when it is not to be kept. Calls
 * only the stores (idem.c's table, exchange_idem_store.c's Redis).
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_idem.h"
#include "exchange.h"
#include "exchange_idem_int.h"
#include "exchange_int.h"
#include "idem.h"
#include "log.h"
#include "runtime.h"
#include "util.h"
#include "wloop.h"

/* ---- the answer --------------------------------------------------------- */

/* The answer is not kept: the key goes (at the exchange's end, or the
 * orphan's). */
static void
ip_drop_answer(struct sl_txidem *ip, enum sl_idem_rel why)
{
	ip->rel = (uint8_t)(1 + why);
	ip->phase = IP_HELD;
	free(ip->a);
	ip->a = NULL;
	ip->alen = ip->acap = 0;
}

static int
ip_add(struct sl_txidem *ip, const void *p, size_t n, size_t bound)
{
	if (ip->alen + n > bound) {
		ip_drop_answer(ip, SL_IDEM_R_TOO_LARGE);
		return -1;
	}
	if (ip->alen + n > ip->acap) {
		size_t cap = ip->acap != 0 ? ip->acap : 1024;
		unsigned char *a;
		while (cap < ip->alen + n)
			cap *= 2;
		if (cap > bound)
			cap = bound;
		if ((a = realloc(ip->a, cap)) == NULL) {
			ip_drop_answer(ip, SL_IDEM_R_MEMORY);
			return -1;
		}
		ip->a = a;
		ip->acap = cap;
	}
	memcpy(ip->a + ip->alen, p, n);
	ip->alen += n;
	return 0;
}

/* The final head: its status, its end-to-end fields (the body comes as
 * payload: a chunked one's framing is its reader's). */
void
sl_exchange_idem_keep_head(struct sl_txidem *ip,
			   const struct sl_h1_response *resp)
{
	const struct sl_conf_idem_route *ic = ip->ic;
	unsigned char head[SL_IDEM_RESP_HEAD] = {0};
	size_t bound;

	if (ip->phase != IP_HELD || ip->rel != 0)
		return;
	if (resp->status >= SL_IDEM_STATUS_MAX ||
	    (ic->release[resp->status / 64] >> (resp->status % 64)) & 1) {
		ip->rel = 1 + SL_IDEM_R_STATUS;
		return;
	}
	/* the fields may take what max_header_bytes allows them; the body
	 * is bounded by max_response_bytes */
	bound = SL_IDEM_RESP_HEAD + ip->hdr_max + ic->max_response_bytes;
	ip->phase = IP_KEEPING;
	if (ip_add(ip, head, sizeof(head), bound) != 0)
		return;
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct sl_h1_header *h = &resp->headers[i];
		/* hop-by-hop fields, the framing, and the request id (the
		 * replay has its own) stay behind */
		if (sl_h1_hkind(h) != SL_HK_OTHER)
			continue;
		if (ip_add(ip, h->name, h->name_len, bound) != 0 ||
		    ip_add(ip, ": ", 2, bound) != 0 ||
		    ip_add(ip, h->value, h->value_len, bound) != 0 ||
		    ip_add(ip, "\r\n", 2, bound) != 0)
			return;
	}
	ip->flen = (uint32_t)(ip->alen - SL_IDEM_RESP_HEAD);
	ip->status = resp->status;
}

/* The store took the answer, or will not at once: its last bytes go. */
static void
keep_on_kept(evutil_socket_t fd, short what, void *arg)
{
	struct sl_txidem *ip = arg;
	struct sl_txn *t = ip->t;

	(void)fd;
	(void)what;
	sl_now_refresh();
	t->flags &= ~SL_TXN_F_END_HELD;
	t->s->ops->resume(t->s);
}

/*
 * Keeps the whole answer in Redis. A client that has its whole answer
 * must find it kept when it retries at once, through this gateway or
 * another: what the exchange has not sent of the answer (its last bytes
 * at least, the whole of a small one) waits for the store's first word on
 * it, one round trip (SL_TXN_F_END_HELD holds the output). An orphan's
 * has no client to wait. A store that fails that first try lets the
 * answer go and is tried again, within the lease. Returns 1, or -3 (no
 * memory).
 */
static int
keep_in_redis(struct sl_txidem *ip, struct sl_counts *rc)
{
	struct sl_txn *t = ip->t;

	if (t != NULL) {
		event_assign(&ip->hev, ip->w->base, -1, 0, keep_on_kept, ip);
		t->flags |= SL_TXN_F_END_HELD;
	}
	if (sl_exchange_idem_store_commit(ip, rc, t != NULL) == 0)
		return 1;
	if (t != NULL)
		t->flags &= ~SL_TXN_F_END_HELD;
	return -3;
}

/* n more body bytes at p; done: the answer is whole. Returns 1 when it
 * was kept (counted), 0 when more is to come or it is not kept, -1 when
 * it could not be kept for want of room or of its reservation (the key
 * let go, counted). */
int
sl_exchange_idem_keep(struct sl_txidem *ip, struct sl_counts *rc, const char *p,
		      size_t n, int done)
{
	const struct sl_conf_idem_route *ic = ip->ic;
	size_t bound;
	int r;

	if (ip->phase != IP_KEEPING)
		return 0;
	bound = SL_IDEM_RESP_HEAD + ip->flen + ic->max_response_bytes;
	if (n > 0 && ip_add(ip, p, n, bound) != 0)
		return 0;
	if (!done)
		return 0;
	if (ip->alen - SL_IDEM_RESP_HEAD - ip->flen > ic->max_response_bytes) {
		ip_drop_answer(ip, SL_IDEM_R_TOO_LARGE);
		return 0;
	}
	sl_idem_resp_head(ip->a, ip->status, ip->flen,
			  (uint32_t)(ip->alen - SL_IDEM_RESP_HEAD - ip->flen));
	r = ip->redis ? keep_in_redis(ip, rc)
		      : sl_idem_local_commit(ip->id, ip->token, ip->a, ip->alen,
					     now_ms(), ic->ttl_ms, ip->memory);
	free(ip->a);
	ip->a = NULL;
	ip->alen = ip->acap = 0;
	ip->phase = IP_DONE;
	if (r == 1)
		return 1; /* on its way to the store: counted there */
	if (r == 0) {
		SL_STAT_INC(sl_idem_counts(rc)->stored);
		return 1;
	}
	if (r == -3) {
		/* the key stays in flight in the store until its lease */
		SL_STAT_INC(sl_idem_counts(rc)->rel[SL_IDEM_R_MEMORY]);
		log_warnx("request_id=%s route=%s: idempotency: the answer is "
			  "not kept: out of memory; the key is let go at its "
			  "lease's end",
			  ip->request_id, ip->route);
		return -1;
	}
	SL_STAT_INC(sl_idem_counts(rc)->rel[SL_IDEM_R_MEMORY]);
	log_warnx("request_id=%s route=%s: idempotency: the answer is not "
		  "kept: %s; the key is let go",
		  ip->request_id, ip->route,
		  r == -2 ? "the store is full (idempotency.memory)"
			  : "its reservation ran out (the route's timeout)");
	return -1;
}

int
sl_exchange_idem_resp_head(struct sl_seam *s, struct sl_h1_response *resp,
			   char *scratch)
{
	struct sl_txn *t = s->txn;

	(void)scratch;
	if (sl_idem_slot(t)->ip == NULL)
		return 0;
	sl_exchange_idem_keep_head(sl_idem_slot(t)->ip, resp);
	return SL_FILTER_R_TAP;
}

void
sl_exchange_idem_resp_data(struct sl_seam *s, const char *p, size_t n)
{
	struct sl_txn *t = s->txn;

	if (sl_idem_slot(t)->ip != NULL)
		(void)sl_exchange_idem_keep(sl_idem_slot(t)->ip,
					    &t->route->state->counts[s->w->id],
					    p, n, t->up_ph == SL_TXN_UP_DONE);
}

/* The key goes without its answer kept: counted (why: 1 + enum
 * sl_idem_rel, 0 for FAILED) and said. */
void
sl_exchange_idem_release(struct sl_txidem *ip, struct sl_counts *rc,
			 const char *cut)
{
	enum sl_idem_rel why =
	    ip->rel != 0 ? (enum sl_idem_rel)(ip->rel - 1) : SL_IDEM_R_FAILED;

	if (ip->redis)
		sl_exchange_idem_store_release(ip, rc);
	else
		sl_idem_local_release(ip->id, ip->token);
	ip->phase = IP_DONE;
	SL_STAT_INC(sl_idem_counts(rc)->rel[why]);
	if (why == SL_IDEM_R_TOO_LARGE)
		log_warnx("request_id=%s route=%s: idempotency: the answer is "
			  "longer than max_response_bytes: not kept, the key "
			  "is let go",
			  ip->request_id, ip->route);
	else if (why == SL_IDEM_R_FAILED && sl_log_enabled(SL_LOG_INFO))
		log_info("request_id=%s route=%s: idempotency: no whole "
			 "answer (%s): the key is let go",
			 ip->request_id, ip->route, cut);
}
