/* SPDX-License-Identifier: MIT */
/*
 * What ends an exchange's upstream attempt (attempt.h): its place in the
 * cluster's queue, its upstream connection (pooled or closed), its counts
 * in the endpoint and the cluster; the upstream phase goes back to none
 * when its connection goes. Below the local answers (exchange_answer.c),
 * which end the attempt they replace; calls nothing of the exchange.
 */
#include "attempt.h"
#include "exchange_int.h"
#include "runtime.h"
#include "upstream.h"
#include "wgen.h"
#include "wloop.h"

void
sl_attempt_dequeue(struct sl_txn *t)
{
	if (t->up_ph != SL_TXN_UP_QUEUED)
		return;
	TAILQ_REMOVE(&t->wc->waiters, &t->wait, link);
	sl_runtime_release(&t->wc->conf->state->pending);
	sl_worker_waiting(t->s->w, -1);
	t->up_ph = SL_TXN_UP_NONE;
}

void
sl_attempt_release(struct sl_seam *s, int reusable)
{
	struct sl_txn *t = s->txn;

	if (t->up == NULL)
		return;
	/* a connection is counted in its endpoint's active while it is the
	 * exchange's (attempt.c, attempt_connect) */
	sl_upstream_active_add(t->wc->eps[t->ep_index], -1);
	if (t->up->h2s) {
		/* the gRPC status in the stream's answer, if any */
		int g = sl_upstream_grpc_status(t->up);
		if (g >= 0)
			t->grpc.up = (uint8_t)(SL_MIN(g, 17) + 1);
	}
	sl_upstream_put(t->up, reusable);
	t->up = NULL;
	/* the attempt is over; a whole response stays read */
	if (t->up_ph != SL_TXN_UP_DONE)
		t->up_ph = SL_TXN_UP_NONE;
}

void
sl_attempt_done(struct sl_txn *t)
{
	if (t->flags & SL_TXN_F_IN_CLUSTER)
		t->wc->active_reqs--;
	if (t->flags & SL_TXN_F_IN_BUDGET)
		t->wc->retrying--;
	t->flags &= ~(SL_TXN_F_IN_CLUSTER | SL_TXN_F_IN_BUDGET);
}
