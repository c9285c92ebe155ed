/* SPDX-License-Identifier: MIT */
/*
 * The route's rate limits as a filter (doc/edge.md section 6): the
 * request's way through them (rlcheck.c) and a wait for a fleet limit's
 * lease, told in the exchange's terms.
 */
#include <stddef.h>

#include "exchange_int.h"
#include "filter.h"
#include "rlcheck.h"

/* Where a request stands (its slot's rl.st; RL_NEW with a new exchange). */
enum {
	RL_NEW = 0,	/* not checked yet */
	RL_WAITING,	/* its lease is asked for */
	RL_WOKEN,	/* its lease came (or failed): woke_* say */
	RL_LIMITED,	/* refused: 429 */
	RL_UNAVAILABLE, /* a store is out, on_store_error deny: 503 */
};

/* The filter's slot (filter.h): the request's way through its route's
 * limits and its wait for a lease (rlcheck.h), and its exchange, which
 * the wait's end wakes. */
struct rl_slot {
	struct sl_rlc rl;
	struct sl_txn *t;
};

extern struct sl_filter sl_filter_ratelimit;

static inline struct sl_rlc *
rlc(struct sl_txn *t)
{
	return &((struct rl_slot *)sl_fctx(t, &sl_filter_ratelimit))->rl;
}

/* Only what is read first is set: nothing waits, nothing checked yet
 * (sl_rlcheck_start sets the rest). */
static void
rl_begin(struct sl_txn *t, void *ctx)
{
	struct rl_slot *rs = ctx;

	rs->rl.wait.entry = NULL;
	rs->rl.st = RL_NEW;
	rs->t = t;
}

static int
rl_used(const struct sl_conf_route *r)
{
	return sl_rl_route(r) != NULL;
}

/* The lease a request waited for came, or failed: its route's filters go
 * on, this one from where it stopped. */
static void
rl_woken(struct sl_rl_wait *wt, int verdict, uint64_t wait_us)
{
	struct sl_txn *t =
	    ((struct rl_slot *)((char *)wt - offsetof(struct rl_slot, rl.wait)))
		->t;

	rlc(t)->st = RL_WOKEN;
	rlc(t)->woke_verdict = (uint8_t)verdict;
	rlc(t)->woke_us = wait_us;
	sl_exchange_filters_woken(t);
}

static int
rl_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct sl_txn *t = s->txn;
	int r;

	switch (rlc(t)->st) {
	case RL_WOKEN:
		r = sl_rlcheck_resume(rlc(t), rlc(t)->woke_verdict,
				      rlc(t)->woke_us, s->w, s->gen->conf,
				      t->route, h->req, &t->client_addr, s->id);
		break;
	default:
		r = sl_rlcheck_start(rlc(t), s->w, s->gen->conf, t->route,
				     h->req, &t->client_addr, s->id, rl_woken);
	}
	switch (r) {
	case SL_RLC_PASS:
		return SL_FILTER_GO;
	case SL_RLC_WAIT:
		rlc(t)->st = RL_WAITING;
		t->flags |= SL_TXN_F_FEND;
		return SL_FILTER_WAIT;
	default:
		/* a body already here in full is read first, so that the
		 * connection is kept: a bot's small POSTs do not cost a
		 * connection each */
		rlc(t)->st = r == SL_RLC_LIMITED ? RL_LIMITED : RL_UNAVAILABLE;
		return SL_FILTER_ANSWER;
	}
}

static void
rl_answer(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	char fields[512];
	int status = rlc(t)->st == RL_LIMITED ? 429 : 503;

	sl_exchange_answer(
	    s, status,
	    status == 429 ? "rate_limited" : "rate_limit_unavailable", 0,
	    sl_rlcheck_fields(rlc(t), status, t->route, fields,
			      sizeof(fields)) > 0
		? fields
		: "");
}

/* A request waiting for a lease goes, or is answered: it stops waiting. */
static void
rl_stop(struct sl_txn *t)
{
	sl_rlcheck_cancel(rlc(t));
}

static void
rl_end(struct sl_seam *s)
{
	sl_rlcheck_cancel(rlc(s->txn));
}

struct sl_filter sl_filter_ratelimit = {
    .name = "rate_limits",
    .ctx_size = sizeof(struct rl_slot),
    .begin = rl_begin,
    .used = rl_used,
    .req_head = rl_head,
    .answer = rl_answer,
    .stop = rl_stop,
    .end = rl_end,
};
