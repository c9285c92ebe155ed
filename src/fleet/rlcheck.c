/* SPDX-License-Identifier: MIT */
/*
 * A request against its route's rate limits, in order: local limits take
 * from the table their workers share, fleet limits from the cells this
 * worker leased from the store (asking for more in the background, or
 * waiting for them). A refusal gives back what the limits before it
 * took. Counts per limit and worker; says refusals at debug, and at most
 * one line every few seconds per limit and worker at info.
 */
#include "rlcheck.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "rlstore.h"
#include "route.h"
#include "runtime.h"
#include "util.h"
#include "wloop.h"

#define RL_INFO_EVERY_MS 10000 /* refusals said at info at most this often */

/* The bytes rl counts the request by: 1 with *key and *len set, or 0 when
 * the request has no such key (it is not limited by rl). */
static inline int
rl_key(const struct sl_conf_rate_limit *rl, const struct sl_h1_request *req,
       const struct sl_ip *client, const void **key, size_t *len)
{
	switch (rl->key.source) {
	case SL_KEY_NONE:
		*key = "";
		*len = 0;
		return 1;
	case SL_KEY_CLIENT_IP:
		*key = client->a;
		*len = client->len;
		return client->len != 0;
	default:
		return sl_route_key(&rl->key, req, client, key, len);
	}
}

/* The hash of the key in the limit's table: seeded for a local one, the
 * same in every process for a fleet one. */
static inline uint64_t
rl_hash(const struct sl_conf_rate_limit *rl, const void *key, size_t len)
{
	if (rl->scope == SL_RL_SCOPE_LOCAL)
		return sl_rl_hash_seeded(rl->state->seed, key, len);
	return sl_hash64(key, len);
}

/* The request passed every limit: each that took from it counts it
 * admitted now, not as it took (a later refusal, or a wait for a lease
 * that ends in one, would make the counter go down). Returns
 * SL_RLC_PASS. */
static int
admitted(const struct sl_rlc *rc, struct sl_worker *w,
	 const struct sl_conf_route *r)
{
	const struct sl_rl_route *rr = sl_rl_route(r);
	unsigned took = rc->local | rc->cell | rc->first;

	for (unsigned i = 0; took != 0; i++, took >>= 1)
		if (took & 1)
			SL_STAT_INC(
			    rr->rate_limits[i].state->counts[w->id].admitted);
	return SL_RLC_PASS;
}

/* Gives back what the limits before the refusing one took. */
static void
give_back(struct sl_rlc *rc, struct sl_worker *w, const struct sl_conf_route *r,
	  const struct sl_h1_request *req, const struct sl_ip *client,
	  uint64_t now)
{
	const struct sl_rl_route *rr = sl_rl_route(r);
	unsigned took = rc->local | rc->cell | rc->first;

	for (unsigned i = 0; i < rc->next && took != 0; i++) {
		const struct sl_conf_rate_limit *rl = &rr->rate_limits[i];
		const void *key;
		size_t len;

		if (!(took & (1u << i)))
			continue;
		if (!((rc->local | rc->cell) & (1u << i)) ||
		    !rl_key(rl, req, client, &key, &len))
			continue;
		if (rc->local & (1u << i))
			sl_rl_give_back(rl->state->table, &rl->state->spec,
					rl_hash(rl, key, len), now);
		else
			sl_rl_lease_give_back(rl->state->ltabs[w->id],
					      rl_hash(rl, key, len), now);
	}
	rc->local = rc->cell = rc->first = 0;
}

/* Says a refusal: at debug each, at info the first and then one line
 * every RL_INFO_EVERY_MS with the count since. */
static void
say_refused(struct sl_worker *w, const struct sl_conf_route *r,
	    const struct sl_conf_rate_limit *rl, const struct sl_ip *client,
	    uint64_t conn, int status)
{
	struct sl_rlcounts *rc = &rl->state->counts[w->id];
	uint64_t now = sl_now_cached();
	char ip[64];

	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("conn=%llu peer=%s route=%s: %d %s: rate_limit=%s",
			  (unsigned long long)conn,
			  sl_ip_str(client, ip, sizeof(ip)), r->name, status,
			  status == 429 ? "rate_limited"
					: "rate_limit_unavailable",
			  rl->name);
	if (!sl_log_enabled(SL_LOG_INFO))
		return;
	if (rc->logged_ms != 0 && now - rc->logged_ms < RL_INFO_EVERY_MS) {
		rc->unlogged++;
		return;
	}
	if (rc->unlogged > 0)
		log_info("route=%s rate_limit=%s: %llu more requests refused "
			 "(%d) in the last %llu s; the latest from peer=%s",
			 r->name, rl->name,
			 (unsigned long long)rc->unlogged + 1, status,
			 (unsigned long long)(now - rc->logged_ms) / 1000,
			 sl_ip_str(client, ip, sizeof(ip)));
	else
		log_info("conn=%llu peer=%s route=%s: %d %s: rate_limit=%s "
			 "(more such refusals said at most every %d s)",
			 (unsigned long long)conn,
			 sl_ip_str(client, ip, sizeof(ip)), r->name, status,
			 status == 429 ? "rate_limited"
				       : "rate_limit_unavailable",
			 rl->name, RL_INFO_EVERY_MS / 1000);
	rc->logged_ms = now;
	rc->unlogged = 0;
}

/* Limit i refused the request (429). */
static int
refuse(struct sl_rlc *rc, unsigned i, uint64_t wait_us, struct sl_worker *w,
       const struct sl_conf_route *r, const struct sl_h1_request *req,
       const struct sl_ip *client, uint64_t conn, uint64_t now)
{
	const struct sl_conf_rate_limit *rl = &sl_rl_route(r)->rate_limits[i];

	rc->next = (uint8_t)i;
	give_back(rc, w, r, req, client, now);
	rc->refused = (uint8_t)i;
	rc->wait_us = wait_us;
	SL_STAT_INC(rl->state->counts[w->id].limited);
	say_refused(w, r, rl, client, conn, 429);
	return SL_RLC_LIMITED;
}

/* The store of fleet limit i could not answer: on_store_error. Returns
 * SL_RLC_PASS (allow: go on) or SL_RLC_UNAVAILABLE. */
static int
store_error(struct sl_rlc *rc, unsigned i, struct sl_worker *w,
	    const struct sl_conf_route *r, const struct sl_h1_request *req,
	    const struct sl_ip *client, uint64_t conn, uint64_t now)
{
	const struct sl_conf_rate_limit *rl = &sl_rl_route(r)->rate_limits[i];

	if (!rl->store_error_deny) {
		SL_STAT_INC(rl->state->counts[w->id].store_allowed);
		return SL_RLC_PASS;
	}
	rc->next = (uint8_t)i;
	give_back(rc, w, r, req, client, now);
	rc->refused = (uint8_t)i;
	rc->wait_us = 1000000;
	SL_STAT_INC(rl->state->counts[w->id].store_denied);
	say_refused(w, r, rl, client, conn, 503);
	return SL_RLC_UNAVAILABLE;
}

/* A fleet limit's lease request could not be sent: e's waiters (none
 * but, perhaps, requests of this very worker turn) hear of it. */
static void
lease_unsent(struct sl_rl_lentry *e)
{
	struct sl_rl_wait *failed = NULL;

	sl_rl_lease_failed(e, &failed);
	sl_rl_wait_run(failed, SL_RL_STORE_ERROR, 0);
}

/* A local limit i of the request's key (hash h) at now: 1 when it
 * passes, else 0 with the refusal made. */
static SL_INLINE int
take_local(struct sl_rlc *rc, unsigned i, uint64_t h, struct sl_worker *w,
	   const struct sl_conf_route *r, const struct sl_h1_request *req,
	   const struct sl_ip *client, uint64_t conn, uint64_t now)
{
	struct sl_rlstate *st = sl_rl_route(r)->rate_limits[i].state;
	struct sl_rl_result res;

	if (!sl_rl_take(st->table, &st->spec, h, now, &res)) {
		(void)refuse(rc, i, res.wait_us, w, r, req, client, conn, now);
		return 0;
	}
	rc->local |= 1u << i;
	if (res.evicted)
		SL_STAT_INC(st->counts[w->id].evictions);
	return 1;
}

/* The limits from rc->next on. */
static int
check_from(struct sl_rlc *rc, struct sl_worker *w, struct sl_conf *conf,
	   const struct sl_conf_route *r, const struct sl_h1_request *req,
	   const struct sl_ip *client, uint64_t conn, uint64_t now)
{
	const struct sl_rl_route *rr = sl_rl_route(r);

	for (unsigned i = rc->next; i < rr->nrate_limits; i++) {
		const struct sl_conf_rate_limit *rl = &rr->rate_limits[i];
		struct sl_rlstate *st = rl->state;
		struct sl_rl_result res;
		struct sl_rl_lentry *e;
		const void *key;
		uint64_t h;
		size_t len;
		int pf, v;

		/* a request without the key is not this limit's */
		if (!rl_key(rl, req, client, &key, &len))
			continue;
		h = rl_hash(rl, key, len);
		rc->next = (uint8_t)i;
		if (rl->scope == SL_RL_SCOPE_LOCAL) {
			if (!take_local(rc, i, h, w, r, req, client, conn, now))
				return SL_RLC_LIMITED;
			continue;
		}
		v = sl_rl_lease_take(st->ltabs[w->id], h, now, st->lease / 2,
				     &e, &pf, &res);
		if (res.evicted)
			SL_STAT_INC(st->counts[w->id].evictions);
		switch (v) {
		case SL_RL_CELL:
			rc->cell |= 1u << i;
			/* the next lease, before the cells run out */
			if (pf && sl_rlstore_lease(w, conf, st, e, h, st->lease,
						   0) == -1)
				lease_unsent(e);
			continue;
		case SL_RL_FIRST:
			/* through at once; counted in the lease asked now */
			if (sl_rlstore_lease(w, conf, st, e, h, st->lease, 1) ==
			    -1) {
				lease_unsent(e);
				if (store_error(rc, i, w, r, req, client, conn,
						now) != SL_RLC_PASS)
					return SL_RLC_UNAVAILABLE;
				continue;
			}
			rc->first |= 1u << i;
			continue;
		case SL_RL_ASK:
			if (sl_rlstore_lease(w, conf, st, e, h, st->lease, 0) ==
			    -1) {
				lease_unsent(e);
				if (store_error(rc, i, w, r, req, client, conn,
						now) != SL_RLC_PASS)
					return SL_RLC_UNAVAILABLE;
				continue;
			}
			/* FALLTHROUGH */
		case SL_RL_WAIT:
			sl_rl_lease_wait(e, &rc->wait);
			return SL_RLC_WAIT;
		case SL_RL_REFUSED:
			return refuse(rc, i, res.wait_us, w, r, req, client,
				      conn, now);
		default: /* SL_RL_FULL */
			if (store_error(rc, i, w, r, req, client, conn, now) !=
			    SL_RLC_PASS)
				return SL_RLC_UNAVAILABLE;
			continue;
		}
	}
	rc->next = (uint8_t)rr->nrate_limits;
	return admitted(rc, w, r);
}

int
sl_rlcheck_start(struct sl_rlc *rc, struct sl_worker *w, struct sl_conf *conf,
		 const struct sl_conf_route *r, const struct sl_h1_request *req,
		 const struct sl_ip *client, uint64_t conn,
		 void (*done)(struct sl_rl_wait *, int, uint64_t))
{
	const struct sl_rl_route *rr = sl_rl_route(r);
	size_t n = rr != NULL ? rr->nrate_limits : 0;
	uint64_t now = sl_ratelimit_now_us();
	unsigned i;

	rc->wait.done = done;
	rc->local = rc->cell = rc->first = 0;
	/* local limits here, without a call a limit (the usual route has
	 * one or two, all local); from the first fleet one, check_from */
	for (i = 0; i < n; i++) {
		const struct sl_conf_rate_limit *rl = &rr->rate_limits[i];
		const void *key;
		size_t len;

		if (rl->scope != SL_RL_SCOPE_LOCAL) {
			rc->next = (uint8_t)i;
			return check_from(rc, w, conf, r, req, client, conn,
					  now);
		}
		if (!rl_key(rl, req, client, &key, &len))
			continue;
		if (!take_local(rc, i,
				sl_rl_hash_seeded(rl->state->seed, key, len), w,
				r, req, client, conn, now))
			return SL_RLC_LIMITED;
	}
	rc->next = (uint8_t)i;
	return admitted(rc, w, r);
}

int
sl_rlcheck_resume(struct sl_rlc *rc, int verdict, uint64_t wait_us,
		  struct sl_worker *w, struct sl_conf *conf,
		  const struct sl_conf_route *r,
		  const struct sl_h1_request *req, const struct sl_ip *client,
		  uint64_t conn)
{
	unsigned i = rc->next;
	uint64_t now = sl_ratelimit_now_us();

	switch (verdict) {
	case SL_RL_CELL:
		rc->cell |= 1u << i;
		break;
	case SL_RL_REFUSED:
		return refuse(rc, i, wait_us, w, r, req, client, conn, now);
	default:
		if (store_error(rc, i, w, r, req, client, conn, now) !=
		    SL_RLC_PASS)
			return SL_RLC_UNAVAILABLE;
		break;
	}
	rc->next = (uint8_t)(i + 1);
	return check_from(rc, w, conf, r, req, client, conn, now);
}

size_t
sl_rlcheck_fields(const struct sl_rlc *rc, int status,
		  const struct sl_conf_route *r, char *out, size_t cap)
{
	const struct sl_conf_rate_limit *rl =
	    &sl_rl_route(r)->rate_limits[rc->refused];
	/* whole seconds, rounded up, at least 1 */
	uint64_t secs = (rc->wait_us + 999999) / 1000000;
	int n;

	if (secs == 0)
		secs = 1;
	if (status != 429)
		n = snprintf(out, cap, "Retry-After: 1\r\n");
	else
		/* draft-ietf-httpapi-ratelimit-headers-11: the policy (its
		 * quota q per window w seconds) and the service limit: none
		 * left, for t seconds */
		n = snprintf(out, cap,
			     "Retry-After: %llu\r\n"
			     "RateLimit-Policy: \"%s\";q=%llu;w=%llu\r\n"
			     "RateLimit: \"%s\";r=0;t=%llu\r\n",
			     (unsigned long long)secs, rl->name,
			     (unsigned long long)rl->rate,
			     (unsigned long long)rl->unit_s, rl->name,
			     (unsigned long long)secs);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
