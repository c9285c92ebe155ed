/* SPDX-License-Identifier: MIT */
/*
 * The upstream attempts of an exchange: choosing an endpoint (healthy, not
 * ejected, not tried yet), getting a connection or a place in the queue,
 * and what a failure leads to: another attempt when its retry class, the
 * route's policy, the cluster's retry budget and the route's deadline
 * allow (retry.h), else an error answer or, once the client has part of a
 * response, a reset; on a split, the move of a request no upstream saw to
 * another cluster of the split when its own has nothing left to try. Feeds
 * the passive outlier detector. Sets the upstream phases of the waits and
 * of an attempt's start (queued, unqueuing, backoff, connecting or
 * sending: exchange_int.h). The streaming of the request and the response
 * is the exchange's; attempt.c calls none of its files but the answers
 * (exchange_answer.c) and what ends an attempt (attempt_end.c), and hands
 * the upstream the event handler the exchange holds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"
#include "balance.h"
#include "exchange.h"
#include "exchange_int.h"
#include "h2up.h"
#include "log.h"
#include "proxyproto.h"
#include "retry.h"
#include "route.h"
#include "runtime.h"
#include "upstream.h"
#include "wgen.h"

/* connects of one exchange, at most: a loop guard (retry.attempts <= 10,
 * and one replay of a dead pooled connection) */
#define MAX_CONNECT_TRIES 16

static void attempt_connect(struct sl_seam *s);
static int split_failover(struct sl_seam *s, enum sl_retry_kind kind,
			  int attempted);

/* ---- endpoints -------------------------------------------------------- */

/* The endpoints an exchange tried: only the first 64 have a bit. */
static int
tried_has(const struct sl_txn *t, size_t i)
{
	return i < 64 && ((t->att.tried >> i) & 1);
}

static void
tried_set(struct sl_txn *t, size_t i, int on)
{
	if (i >= 64)
		return;
	if (on)
		t->att.tried |= (uint64_t)1 << i;
	else
		t->att.tried &= ~((uint64_t)1 << i);
}

/* Whether endpoint i may take new requests: healthy (health_check) and
 * not ejected (outlier). Reads shared state only when configured. */
static int
endpoint_up(const struct sl_conf_cluster *cc, size_t i, uint64_t now)
{
	const struct sl_epstate *st = cc->endpoints[i].state;

	if (cc->health.enabled &&
	    atomic_load_explicit(&st->unhealthy, memory_order_relaxed))
		return 0;
	if (cc->outlier.enabled &&
	    atomic_load_explicit(&st->ejected_until_ms, memory_order_relaxed) >
		now)
		return 0;
	return 1;
}

/* Why txn_pick found no endpoint. */
enum {
	PICK_TRIED = 0x1, /* some were passed over as tried already */
	PICK_FULL = 0x2,  /* some only for lack of room (max_connections) */
	PICK_DOWN = 0x4,  /* some as unhealthy or ejected */
};

/*
 * Picks an endpoint not tried yet, up, and with room for a connection (an
 * idle pooled one here, or below max_connections everywhere). Returns its
 * index, or SL_BALANCE_NONE with *why saying what was passed over.
 */
static inline size_t
txn_pick(struct sl_seam *s, int fresh, unsigned *why)
{
	struct sl_txn *t = s->txn;
	struct sl_wcluster *wc = t->wc;
	const struct sl_conf_cluster *cc = wc->conf;
	size_t n = cc->nendpoints, left = 0;
	unsigned char *skip = wc->skip;
	int checked = cc->health.enabled || cc->outlier.enabled;
	uint64_t now = now_ms();

	*why = 0;
	for (size_t i = 0; i < n; i++) {
		skip[i] = 0;
		if (tried_has(t, i)) {
			skip[i] = 1;
			*why |= PICK_TRIED;
		} else if (checked && !endpoint_up(cc, i, now)) {
			skip[i] = 1;
			*why |= PICK_DOWN;
		} else if (cc->max_connections > 0 &&
			   (fresh || wc->eps[i]->nidle == 0) &&
			   atomic_load_explicit(&cc->endpoints[i].state->conns,
						memory_order_relaxed) >=
			       cc->max_connections &&
			   !sl_h2up_has_room(wc->eps[i])) {
			skip[i] = 1;
			*why |= PICK_FULL;
		}
		left += !skip[i];
	}
	if (left == 0)
		return SL_BALANCE_NONE;
	switch (cc->balance) {
	case SL_BALANCE_LEAST_REQUEST:
		/* in-flight counts live with the endpoints, so a reload
		 * keeps them */
		for (size_t i = 0; i < n; i++)
			wc->active[i] = wc->eps[i]->active;
		return sl_balance_least(wc->active, wc->weights, n, skip,
					&wc->cursor);
	case SL_BALANCE_HASH:
		/* by the endpoints' addresses, not their positions: removing
		 * one moves only its own keys; without a key, in turn */
		if (t->flags & SL_TXN_F_HASH_KEY)
			return sl_balance_race(t->hash_key, wc->ids,
					       wc->weights, n, skip);
		return sl_balance_swrr(wc->swrr, wc->weights, n, skip);
	case SL_BALANCE_ROUND_ROBIN:
	default:
		return sl_balance_swrr(wc->swrr, wc->weights, n, skip);
	}
}

/* ---- passive outlier detection ---------------------------------------- */

/* How many endpoints of cc are ejected now. */
static size_t
ejected_now(const struct sl_conf_cluster *cc, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < cc->nendpoints; i++)
		n += atomic_load(&cc->endpoints[i].state->ejected_until_ms) >
		     now;
	return n;
}

/*
 * An attempt on endpoint i ended: ok, or an error that counts (a 5xx, a
 * reset, a connect failure). consecutive_errors errors in a row eject it
 * for ejection_time, times the number of ejections in a row (at most 10),
 * unless max_ejected_percent of the cluster is out already. Shared by
 * every worker through the endpoint's state; errors are rare, so the
 * atomics cost nothing on the successful path but one load.
 */
static void
outlier_note(struct sl_seam *s, size_t i, int ok)
{
	const struct sl_conf_cluster *cc = s->txn->wc->conf;
	const struct sl_conf_outlier *o = &cc->outlier;
	struct sl_epstate *st;
	uint64_t now, until, max;
	unsigned n, streak;

	if (!o->enabled || i >= cc->nendpoints)
		return;
	st = cc->endpoints[i].state;
	if (ok) {
		if (atomic_load_explicit(&st->consecutive_errors,
					 memory_order_relaxed) != 0)
			atomic_store(&st->consecutive_errors, 0);
		return;
	}
	n = atomic_fetch_add(&st->consecutive_errors, 1) + 1;
	if (n < o->consecutive_errors)
		return;
	now = sl_now_ms();
	if (atomic_load(&st->ejected_until_ms) > now)
		return; /* another worker did it */
	/* never all of them, and at least one may go */
	max = (uint64_t)cc->nendpoints * o->max_ejected_percent / 100;
	if (max < 1)
		max = 1;
	if (max > cc->nendpoints - 1)
		max = cc->nendpoints - 1;
	if (ejected_now(cc, now) >= max)
		return;
	/* a repeat offender stays out longer: the streak ends once it has
	 * been back as long as its last ejection lasted ten times over */
	streak = atomic_load(&st->eject_streak);
	if (streak > 0 && now - atomic_load(&st->ejected_until_ms) >
			      10 * o->ejection_time_ms * streak)
		streak = 0;
	if (streak < 10)
		streak++;
	atomic_store(&st->eject_streak, streak);
	until = now + o->ejection_time_ms * streak;
	atomic_store(&st->ejected_since_ms, now);
	atomic_store(&st->ejected_until_ms, until);
	atomic_store(&st->consecutive_errors, 0);
	atomic_fetch_add(&st->ejections, 1);
	log_warnx("outlier: cluster %s endpoint %s ejected for %llu ms after "
		  "%u errors in a row (ejection %u in a row)",
		  cc->name, cc->endpoints[i].addr.text,
		  (unsigned long long)(until - now), n, streak);
}

/* ---- connecting and queueing ------------------------------------------ */

/* No endpoint could be tried: the last failure's answer, or 503 when none
 * was up at all. */
static void
txn_no_endpoint(struct sl_seam *s, unsigned why)
{
	struct sl_txn *t = s->txn;

	if (t->wc->conf->nendpoints == 0) {
		/* its names resolved to nothing (doc/fleet.md section 2):
		 * nothing was sent, so a split may send it elsewhere */
		if (split_failover(s, SL_RETRY_KIND_CONNECT, 0) > 0)
			return;
		sl_exchange_local(s, 503, "no_upstream_address", 0);
		return;
	}
	/* not one endpoint of the cluster is up (none was passed over for
	 * another reason): a split may send the request elsewhere */
	if (why == PICK_DOWN && split_failover(s, SL_RETRY_KIND_CONNECT, 0) > 0)
		return;
	if (t->att.tries == 0 && (why & PICK_DOWN)) {
		atomic_fetch_add(&t->wc->conf->state->no_healthy, 1);
		sl_exchange_local(s, 503, "no_healthy_upstream", 0);
	} else if (t->att.last_fail == FAIL_CONNECT_TIMEOUT)
		sl_exchange_local(s, 504, "upstream_connect_timeout", 0);
	else if (t->att.last_fail == FAIL_TLS)
		sl_exchange_local(s, 502, "upstream_tls", 0);
	else
		sl_exchange_local(s, 502, "upstream_connect_failed", 0);
}

void
sl_attempt_overloaded(struct sl_seam *s)
{
	atomic_fetch_add(&s->txn->wc->conf->state->overloaded, 1);
	sl_exchange_local(s, 503, "upstream_overloaded", 0);
}

/* A request waiting for a connection tries again (the waiter's retry
 * handler). Returns 1 when it left the queue, 0 when it must keep
 * waiting. */
static int
attempt_unqueue(struct sl_waiter *wt)
{
	struct sl_txn *t =
	    (struct sl_txn *)((char *)wt - offsetof(struct sl_txn, wait));
	struct sl_seam *s = t->s;
	struct sl_wcluster *wc = t->wc;

	sl_now_refresh();
	TAILQ_REMOVE(&wc->waiters, &t->wait, link);
	sl_worker_waiting(s->w, -1);
	t->up_ph = SL_TXN_UP_UNQUEUING;
	attempt_connect(s);
	if (t->up_ph == SL_TXN_UP_UNQUEUING)
		t->up_ph = SL_TXN_UP_NONE;
	/* a request that moved to another cluster of its split gave its
	 * place here back as it left (txn_move) */
	if (t->wc == wc) {
		if (t->up_ph == SL_TXN_UP_QUEUED)
			return 0;
		sl_runtime_release(&wc->conf->state->pending);
	}
	s->ops->resume(s);
	return 1;
}

/*
 * Every endpoint with room is taken: wait, in order, for at most
 * queue_timeout, unless max_pending requests of the cluster already wait.
 */
static void
txn_queue(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_cluster *cc = t->wc->conf;

	if (t->up_ph == SL_TXN_UP_UNQUEUING) {
		/* a retry that found no room: first in line again, with the
		 * pending count it still holds */
		TAILQ_INSERT_HEAD(&t->wc->waiters, &t->wait, link);
	} else {
		if (cc->max_pending == 0 ||
		    !sl_runtime_take(&cc->state->pending, cc->max_pending)) {
			sl_attempt_overloaded(s);
			return;
		}
		t->clk.queue_deadline_ms = now_ms() + cc->queue_timeout_ms;
		TAILQ_INSERT_TAIL(&t->wc->waiters, &t->wait, link);
	}
	t->wait.retry = attempt_unqueue;
	t->up_ph = SL_TXN_UP_QUEUED;
	if (t->flags & SL_TXN_F_WATCH)
		sl_exchange_watch(t, &(struct sl_fattempt){.ev = SL_FA_QUEUED});
	sl_worker_waiting(s->w, 1);
}

/* The port of an AF_INET or AF_INET6 socket address. */
static uint16_t
sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

size_t
sl_attempt_pp_header(const struct sl_seam *s, void *out)
{
	const struct sl_txn *t = s->txn;
	const struct sockaddr *la = (const struct sockaddr *)&s->lconf->addr.ss;
	struct sl_ip dst;

	/* the client's port when the connection names it (its own, or its
	 * PROXY header's); a forwarded field's client has none */
	if (sl_ip_from_sockaddr(la, &dst) == -1)
		dst.len = 0;
	return sl_pp_write_v2(out, SL_PP_V2_OUT_MAX, &t->client_addr,
			      (t->flags & SL_TXN_F_FWD_CLIENT)
				  ? 0
				  : sa_port((const struct sockaddr *)&s->peer),
			      &dst, sa_port(la));
}

/* Gets an upstream connection for the exchange's current attempt: pooled,
 * or new, or a place in the queue. */
static void
attempt_connect(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	unsigned why;
	size_t i;
	int fresh = t->replay == SL_TXN_REPLAY_FRESH;

	if (t->att.tries >= MAX_CONNECT_TRIES) {
		txn_no_endpoint(s, 0);
		return;
	}
	i = txn_pick(s, fresh, &why);
	if (i == SL_BALANCE_NONE && (why & PICK_TRIED) && t->att.attempts > 0) {
		/* a retry with every endpoint tried: any but the last one
		 * that failed, or that one when it is the only one */
		t->att.tried = 0;
		if (t->wc->conf->nendpoints > 1)
			tried_set(t, t->ep_index, 1);
		i = txn_pick(s, fresh, &why);
	}
	if (i == SL_BALANCE_NONE) {
		if (why & PICK_FULL)
			txn_queue(s);
		else
			txn_no_endpoint(s, why);
		return;
	}
	t->ep_index = i;
	if (t->flags & SL_TXN_F_WATCH)
		sl_exchange_watch(t, &(struct sl_fattempt){.ev = SL_FA_TRY});
	if (fresh) /* this is the replay */
		t->replay = SL_TXN_REPLAY_DONE;
	if (t->wc->conf->proxy_protocol) {
		/* identity: a connection of the client's own (edge.md) */
		unsigned char pp[SL_PP_V2_OUT_MAX];
		t->up = sl_upstream_get_proxied(s->w, t->wc->eps[i], pp,
						sl_attempt_pp_header(s, pp),
						t->on_upstream, s);
	} else if (t->wc->eps[i]->cluster->protocol != SL_UP_PROTO_HTTP1)
		/* a stream of a shared HTTP/2 connection (never a pooled
		 * one: fresh changes nothing) */
		t->up = sl_h2up_get(s->w, t->wc->eps[i], t->on_upstream, s);
	else
		t->up = sl_upstream_get(s->w, t->wc->eps[i], fresh,
					t->on_upstream, s);
	if (t->up == NULL) {
		if (errno == EBUSY) {
			/* another worker took the last connection */
			txn_queue(s);
			return;
		}
		t->att.tries++;
		tried_set(t, i, 1);
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == ENOBUFS) {
			log_warn("conn=%llu request_id=%s route=%s: upstream "
				 "socket",
				 (unsigned long long)s->id, t->request_id,
				 t->route->name);
			sl_exchange_local(s, 503, "no_endpoint", 0);
			return;
		}
		/* refused at once (loopback): a failed attempt like any */
		t->att.attempts++;
		sl_attempt_failed(s, FAIL_REFUSED, "upstream_connect_failed",
				  strerror(errno));
		return;
	}
	t->att.tries++;
	t->att.attempts++;
	tried_set(t, i, 1);
	/* counted while t->up is set (sl_attempt_release) */
	sl_upstream_active_add(t->wc->eps[i], 1);
	/* > 1 from now on: a pooled connection (sl_attempt_failed) */
	t->up->nrequests++;
	/* a new attempt starts the request over on this connection */
	t->flags &= ~SL_TXN_F_UP_BROKEN;
	t->send_ph = SL_TXN_SEND_OPEN;
	sl_h1_scan_init(&t->rsp.scan);
	t->uphead.off = 0;
	t->body_off = 0;
	t->req.sent = 0;
	t->clk.up_progress_ms = now_ms();
	if (sl_upstream_connecting(t->up)) {
		t->up_ph = SL_TXN_UP_CONNECTING;
		t->clk.connect_deadline_ms =
		    now_ms() + t->wc->conf->connect_timeout_ms;
	} else { /* pooled, or connected at once */
		t->up_ph = SL_TXN_UP_SENDING;
		/* a new stream of a ready HTTP/2 connection is made now, as
		 * its CONNECTED said before it came at once (sl_h2up_get) */
		if (t->flags & SL_TXN_F_WATCH)
			sl_exchange_watch(t, &(struct sl_fattempt){
						 .ev = SL_FA_CONN,
						 .u = t->up,
						 .connected = t->up->h2s,
					     });
	}
}

void
sl_attempt_start(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;

	t->wc->active_reqs++;
	t->flags |= SL_TXN_F_IN_CLUSTER;
	t->clk.up_start_ms = now_ms(); /* the upstream's time starts */
	attempt_connect(s);
}

void
sl_attempt_resume(struct sl_seam *s)
{
	if (s->txn->up_ph == SL_TXN_UP_BACKOFF)
		s->txn->up_ph = SL_TXN_UP_NONE;
	attempt_connect(s);
}

/* ---- failures and retries --------------------------------------------- */

/* A failure, on the exchange's endpoint when ep is 1, on none (a cluster
 * passed over) when it is 0. */
static void
note_failure_at(struct sl_txn *t, enum sl_retry_class cls, const char *why,
		int ep)
{
	if (t->att.nfail < SL_NELEM(t->att.fails)) {
		t->att.fails[t->att.nfail].cls = (uint8_t)cls;
		/* the address itself, borrowed from the exchange's
		 * generation: the cluster may change (a split's failover) */
		t->att.fails[t->att.nfail].upstream =
		    ep ? t->wc->conf->endpoints[t->ep_index].addr.text : NULL;
		t->att.fails[t->att.nfail].why = why;
	}
	t->att.nfail++;
	if ((t->flags & SL_TXN_F_WATCH) && ep)
		sl_exchange_watch(t, &(struct sl_fattempt){
					 .ev = SL_FA_END,
					 .cls = (int)cls,
					 .why = why,
				     });
}

static void
note_failure(struct sl_txn *t, enum sl_retry_class cls, const char *why)
{
	note_failure_at(t, cls, why, 1);
}

/* The error answer of a failure nobody retries. */
static void
answer_failure(struct sl_seam *s, int fail)
{
	switch (fail) {
	case FAIL_REFUSED:
		sl_exchange_local(s, 502, "upstream_connect_failed", 0);
		return;
	case FAIL_CONNECT_TIMEOUT:
		sl_exchange_local(s, 504, "upstream_connect_timeout", 0);
		return;
	case FAIL_TLS:
		sl_exchange_local(s, 502, "upstream_tls", 0);
		return;
	case FAIL_RESET:
		sl_exchange_local(s, 502, "upstream_reset", 0);
		return;
	case FAIL_BAD:
		sl_exchange_local(s, 502, "upstream_bad_response", 0);
		return;
	case FAIL_TIMEOUT:
	default:
		sl_exchange_local(s, 504, "upstream_timeout", 0);
		return;
	}
}

/*
 * What the policy says of a failed attempt; *backoff is the wait before
 * the next one when it says yes. to is the cluster of the split the next
 * attempt would move to (its budget then), NULL for the same cluster.
 * Counts a refusal by its verdict, on the cluster that failed.
 */
static enum sl_retry_verdict
retry_verdict(struct sl_seam *s, enum sl_retry_class cls,
	      enum sl_retry_kind kind, int status, int unseen,
	      struct sl_wcluster *to, uint64_t *backoff)
{
	struct sl_txn *t = s->txn;
	struct sl_clstate *cs = t->wc->conf->state;
	struct sl_retry_try a;
	enum sl_retry_verdict v;

	memset(&a, 0, sizeof(a));
	a.cls = cls;
	a.kind = kind;
	a.status = status;
	a.idempotent = (t->flags & SL_TXN_F_IDEMPOTENT) != 0;
	a.body_kept = t->body_ph != SL_TXN_BODY_GONE;
	a.unseen = unseen;
	a.attempts = t->att.attempts;
	if (to != NULL) {
		/* as it would be there: one more request, not yet in a
		 * retry */
		a.other_cluster = 1;
		a.active = to->active_reqs + 1;
		a.retrying = to->retrying;
	} else {
		a.active = t->wc->active_reqs;
		/* a request already in a retry holds its place in the
		 * budget */
		a.retrying =
		    t->wc->retrying - ((t->flags & SL_TXN_F_IN_BUDGET) != 0);
	}
	a.now_ms = now_ms();
	a.deadline_ms = t->clk.deadline_ms;
	/* nothing reached the upstream and another endpoint is there: no
	 * reason to wait; otherwise a jittered, growing wait */
	if (cls != SL_RETRY_CLASS_NOT_SENT)
		a.backoff_ms = sl_retry_backoff(t->att.attempts,
						sl_rand_next(&s->w->rand));
	v = sl_retry_decide(&t->route->retry, &a);
	*backoff = a.backoff_ms;
	if (v == SL_RETRY_YES)
		return v;
	if ((size_t)v < SL_NELEM(cs->not_retried))
		atomic_fetch_add(&cs->not_retried[v], 1);
	if (v != SL_RETRY_NOT_ON && v != SL_RETRY_NOT_SAFE &&
	    sl_log_enabled(SL_LOG_INFO)) {
		if (to != NULL)
			log_info("conn=%llu request_id=%s route=%s: not moved "
				 "from cluster %s to %s (%s)",
				 (unsigned long long)s->id, t->request_id,
				 t->route->name, t->wc->conf->name,
				 to->conf->name, sl_retry_verdict_str(v));
		else
			log_info("conn=%llu request_id=%s route=%s: not "
				 "retried (%s)",
				 (unsigned long long)s->id, t->request_id,
				 t->route->name, sl_retry_verdict_str(v));
	}
	return v;
}

/* The next attempt, now or after backoff milliseconds; an unseen one
 * (retry.h) takes no place in the budget. */
static void
retry_go(struct sl_seam *s, enum sl_retry_class cls, int unseen,
	 uint64_t backoff)
{
	struct sl_txn *t = s->txn;

	atomic_fetch_add(&t->wc->conf->state
			      ->retries[cls == SL_RETRY_CLASS_NOT_SENT ? 1 : 2],
			 1);
	SL_STAT_INC(s->w->stats.upstream_retries);
	t->att.nretries++;
	if (!unseen && !(t->flags & SL_TXN_F_IN_BUDGET)) {
		t->flags |= SL_TXN_F_IN_BUDGET;
		t->wc->retrying++;
	}
	if (backoff > 0) {
		t->up_ph = SL_TXN_UP_BACKOFF;
		t->clk.retry_at_ms = now_ms() + backoff;
	} else
		attempt_connect(s);
}

/* ---- failing over to another cluster of a split ----------------------- */

/* Whether the exchange's cluster has an endpoint that is up and that the
 * request has not tried: a class 1 failure is retried there before the
 * request leaves the cluster. */
static int
cluster_has_untried(const struct sl_txn *t)
{
	const struct sl_conf_cluster *cc = t->wc->conf;
	uint64_t now = now_ms();

	for (size_t i = 0; i < cc->nendpoints; i++)
		if (!tried_has(t, i) && endpoint_up(cc, i, now))
			return 1;
	return 0;
}

/* Whether two hash balancers read the same key from a request. */
static int
same_key(const struct sl_conf_key *a, const struct sl_conf_key *b)
{
	return a->source == b->source && a->name_len == b->name_len &&
	       (a->name_len == 0 || memcmp(a->name, b->name, a->name_len) == 0);
}

/*
 * Moves the exchange to the cluster to of its split: out of its cluster's
 * counts (and queue), into to's, where it is in a retry until it ends (the
 * budget). None of to's endpoints was tried. The hash balancer's key
 * follows when to's reads the same one, or is made again when it is the
 * client's address; any other key is gone with the request's head, and
 * to balances the request in turn, as one without the key.
 */
static void
txn_move(struct sl_seam *s, struct sl_wcluster *to)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_cluster *from = t->wc->conf, *cc = to->conf;
	const void *key;
	size_t len;

	if (t->up_ph == SL_TXN_UP_UNQUEUING) {
		/* it is leaving from's queue (attempt_unqueue): its place
		 * there goes; to's queue, if it comes to that, takes it as
		 * a new waiter */
		sl_runtime_release(&from->state->pending);
		t->up_ph = SL_TXN_UP_NONE;
	}
	sl_attempt_done(t);
	t->wc = to;
	to->active_reqs++;
	to->retrying++;
	t->flags |= SL_TXN_F_IN_CLUSTER | SL_TXN_F_IN_BUDGET;
	/* a replay's fresh connection was about a pool of the other
	 * cluster */
	if (t->replay == SL_TXN_REPLAY_FRESH)
		t->replay = SL_TXN_REPLAY_DONE;
	t->att.tried = 0;
	t->ep_index = 0;
	if (cc->balance == SL_BALANCE_HASH && (t->flags & SL_TXN_F_HASH_KEY) &&
	    same_key(&from->hash_key, &cc->hash_key))
		return;
	t->flags &= ~SL_TXN_F_HASH_KEY;
	/* the address is the connection's, not the head's: no request
	 * needed */
	if (cc->balance == SL_BALANCE_HASH &&
	    cc->hash_key.source == SL_KEY_CLIENT_IP &&
	    sl_route_key(&cc->hash_key, NULL, &t->client_addr, &key, &len)) {
		t->hash_key = sl_hash64(key, len);
		t->flags |= SL_TXN_F_HASH_KEY;
	}
}

/*
 * The exchange's cluster cannot take its request: a class 1 failure (of
 * kind) left no endpoint there that is up and not tried (attempted), or
 * not one is up (no attempt was made there). On a route whose split allows
 * it, the request moves to another cluster of the split (sl_route_failover
 * chooses), as a retry under the policy and that cluster's budget, and its
 * next attempt starts. Returns 1 when it moved, 0 when there is no
 * cluster to move to (the caller carries on as on a plain route), -1 when
 * the policy refused (counted and logged; the caller answers).
 */
static int
split_failover(struct sl_seam *s, enum sl_retry_kind kind, int attempted)
{
	struct sl_txn *t = s->txn;
	const struct sl_conf_route *r = t->route;
	struct sl_clstate *cs = t->wc->conf->state;
	struct sl_wcluster *to;
	uint64_t backoff;
	size_t i;

	if (r->cluster != NULL || !r->split_failover)
		return 0;
	for (i = 0; i < r->nsplit && r->split[i].cluster != t->wc->conf; i++)
		;
	if (i < 64)
		t->att.split_tried |= (uint64_t)1 << i;
	i = sl_route_failover(
	    r, sl_exchange_split_weights(s, r), t->att.split_tried,
	    (t->flags & SL_TXN_F_STICKY_KEY) ? &t->sticky_key : NULL,
	    s->gen->routes[r->index].swrr);
	if (i == SL_BALANCE_NONE)
		return 0;
	to = &s->gen->clusters[r->split[i].cluster->index];
	if (retry_verdict(s, SL_RETRY_CLASS_NOT_SENT, kind, 0, 1, to,
			  &backoff) != SL_RETRY_YES)
		return -1;
	if (attempted) {
		/* a retry of the attempt that failed, counted where it
		 * failed */
		atomic_fetch_add(&cs->retries[1], 1);
		SL_STAT_INC(s->w->stats.upstream_retries);
		t->att.nretries++;
	} else {
		/* the cluster was passed over: no attempt, no retry */
		atomic_fetch_add(&cs->no_healthy, 1);
		note_failure_at(t, SL_RETRY_CLASS_NOT_SENT,
				"no_healthy_upstream", 0);
	}
	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("conn=%llu request_id=%s route=%s: cluster %s -> %s",
			  (unsigned long long)s->id, t->request_id, r->name,
			  t->wc->conf->name, to->conf->name);
	txn_move(s, to);
	attempt_connect(s);
	return 1;
}

void
sl_attempt_failed(struct sl_seam *s, int fail, const char *why,
		  const char *detail)
{
	struct sl_txn *t = s->txn;
	/* or an HTTP/2 stream the upstream says it did not process */
	int nothing_sent = (t->uphead.off == 0 && t->req.sent == 0) ||
			   (t->up != NULL && sl_upstream_unprocessed(t->up));
	/* the attempt's connection came from the pool (attempt_connect) */
	int pooled = t->up != NULL && t->up->nrequests > 1;
	enum sl_retry_class cls;
	enum sl_retry_kind kind;
	uint64_t backoff;
	int unseen;
	char peer[SL_PEER_MAX];

	/* detail says what the OS or the parser said: refused, no route
	 * to host, the connect_timeout, the rule a response broke */
	log_warnx("conn=%llu peer=%s request_id=%s route=%s upstream=%s: "
		  "%s%s%s%s",
		  (unsigned long long)s->id,
		  sl_exchange_peer_str(s, t, peer, sizeof(peer)), t->request_id,
		  t->route->name, t->wc->eps[t->ep_index]->conf->addr.text, why,
		  detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	SL_STAT_INC(s->w->stats.upstream_failures);
	if (fail != FAIL_TIMEOUT || t->resp_ph != SL_TXN_RESP_UPSTREAM)
		outlier_note(s, t->ep_index, 0);
	sl_attempt_release(s, 0);
	if (t->resp_ph == SL_TXN_RESP_UPSTREAM) {
		note_failure(t, SL_RETRY_CLASS_PARTIAL, why);
		if (t->bytes_out > 0) {
			/* class 3: the client has part of the response; a
			 * reset says the rest will not come (a FIN could
			 * look like its end) */
			t->error = why;
			s->ops->reset(s, why);
			return;
		}
		/* a head still held back: the error response replaces it;
		 * the upstream answered, so the request is not replayed */
		if (fail == FAIL_TIMEOUT)
			sl_exchange_local(s, 504, "upstream_timeout", 0);
		else if (fail == FAIL_BAD)
			sl_exchange_local(s, 502, "upstream_bad_response", 0);
		else
			sl_exchange_local(s, 502, "upstream_reset", 0);
		t = s->txn;
		if (t != NULL)
			t->error = why;
		return;
	}
	/* class 1: nothing of this attempt reached the upstream (a connect
	 * failure, or a pooled connection found closed before a byte went) */
	cls = fail == FAIL_REFUSED || fail == FAIL_CONNECT_TIMEOUT ||
		      fail == FAIL_TLS || (fail == FAIL_RESET && nothing_sent)
		  ? SL_RETRY_CLASS_NOT_SENT
		  : SL_RETRY_CLASS_SENT;
	note_failure(t, cls, why);
	if (fail == FAIL_REFUSED || fail == FAIL_CONNECT_TIMEOUT ||
	    fail == FAIL_TLS)
		t->att.last_fail = fail;
	/* a pooled connection that died before any answer is most likely
	 * one the upstream closed as idle while the request was on its way:
	 * the pool's failure, not the upstream's. A request that may be sent
	 * twice (nothing of it went, or it is idempotent) is replayed once on
	 * a fresh connection to the same endpoint, whatever the policy */
	if (fail == FAIL_RESET && pooled &&
	    (nothing_sent || (t->flags & SL_TXN_F_IDEMPOTENT)) &&
	    t->replay == SL_TXN_REPLAY_NONE && t->body_ph != SL_TXN_BODY_GONE) {
		t->replay = SL_TXN_REPLAY_FRESH;
		t->att.attempts--; /* this one never left sluice */
		t->att.nretries++;
		SL_STAT_INC(s->w->stats.upstream_retries);
		atomic_fetch_add(
		    &t->wc->conf->state
			 ->retries[cls == SL_RETRY_CLASS_NOT_SENT ? 1 : 2],
		    1);
		tried_set(t, t->ep_index, 0);
		attempt_connect(s);
		return;
	}
	kind = fail == FAIL_REFUSED || fail == FAIL_CONNECT_TIMEOUT ||
		       fail == FAIL_TLS
		   ? SL_RETRY_KIND_CONNECT
	       : fail == FAIL_RESET   ? SL_RETRY_KIND_RESET
	       : fail == FAIL_TIMEOUT ? SL_RETRY_KIND_TIMEOUT
				      : SL_RETRY_KIND_BAD;
	/* refused, or found closed before a byte went: no upstream saw
	 * it, whatever the endpoint's state */
	unseen = fail == FAIL_REFUSED || (fail == FAIL_RESET && nothing_sent);
	/* the cluster has nothing left to try for a request no upstream
	 * saw: another cluster of the split, when the route has one */
	if (cls == SL_RETRY_CLASS_NOT_SENT && t->route->cluster == NULL &&
	    t->route->split_failover && !cluster_has_untried(t)) {
		int moved = split_failover(s, kind, 1);
		if (moved > 0)
			return;
		if (moved < 0) {
			answer_failure(s, fail);
			t = s->txn;
			if (t != NULL)
				t->error = why;
			return;
		}
	}
	if (retry_verdict(s, cls, kind, 0, unseen, NULL, &backoff) ==
	    SL_RETRY_YES) {
		retry_go(s, cls, unseen, backoff);
		return;
	}
	answer_failure(s, fail);
	t = s->txn;
	if (t != NULL)
		t->error = why;
}

int
sl_attempt_answered(struct sl_seam *s, int status)
{
	struct sl_txn *t = s->txn;
	unsigned bit = status == 502   ? SL_RETRY_ON_502
		       : status == 503 ? SL_RETRY_ON_503
		       : status == 504 ? SL_RETRY_ON_504
				       : 0;
	uint64_t backoff;

	outlier_note(s, t->ep_index, status < 500);
	if (bit == 0 || !(t->route->retry.on & bit))
		return 0;
	/* heard, but nothing of it went to the client: class 2 */
	if (retry_verdict(s, SL_RETRY_CLASS_SENT, SL_RETRY_KIND_STATUS, status,
			  0, NULL, &backoff) != SL_RETRY_YES)
		return 0;
	note_failure(t, SL_RETRY_CLASS_SENT,
		     status == 502   ? "upstream_502"
		     : status == 503 ? "upstream_503"
				     : "upstream_504");
	/* the rest of that answer is not read: its connection goes */
	sl_attempt_release(s, 0);
	retry_go(s, SL_RETRY_CLASS_SENT, 0, backoff);
	return 1;
}

void
sl_attempt_deadline(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	char peer[SL_PEER_MAX];

	if (t->grpc.deadline_ms != 0 &&
	    t->clk.deadline_ms == t->grpc.deadline_ms) {
		/* a gRPC call's own deadline (its grpc-timeout): the
		 * client's budget ran out, not the route's, and no endpoint
		 * is blamed for it */
		if (sl_log_enabled(SL_LOG_INFO))
			log_info("conn=%llu peer=%s request_id=%s route=%s: "
				 "deadline_exceeded (the call's grpc-timeout, "
				 "%u ms, ran out; %u attempt%s)",
				 (unsigned long long)s->id,
				 sl_exchange_peer_str(s, t, peer, sizeof(peer)),
				 t->request_id, t->route->name,
				 s->grpc_timeout_ms, t->att.attempts,
				 t->att.attempts == 1 ? "" : "s");
		sl_exchange_local(s, 504, "deadline_exceeded", 0);
		return;
	}
	log_warnx("conn=%llu peer=%s request_id=%s route=%s upstream=%s: "
		  "upstream_timeout (no answer within the route's timeout "
		  "%llu ms; %u attempt%s)",
		  (unsigned long long)s->id,
		  sl_exchange_peer_str(s, t, peer, sizeof(peer)), t->request_id,
		  t->route->name,
		  t->up != NULL ? t->wc->eps[t->ep_index]->conf->addr.text
				: "-",
		  (unsigned long long)t->route->timeout_ms, t->att.attempts,
		  t->att.attempts == 1 ? "" : "s");
	if (t->up != NULL) {
		/* the attempt in flight is cut: an error of its endpoint */
		SL_STAT_INC(s->w->stats.upstream_failures);
		note_failure(t,
			     t->uphead.off == 0 && t->req.sent == 0
				 ? SL_RETRY_CLASS_NOT_SENT
				 : SL_RETRY_CLASS_SENT,
			     "upstream_timeout");
		outlier_note(s, t->ep_index, 0);
	}
	sl_exchange_local(s, 504, "upstream_timeout", 0);
}
