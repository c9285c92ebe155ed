/* SPDX-License-Identifier: MIT */
/*
 * A route's canary guard as a filter (doc/fleet.md section 4): each
 * exchange of a guarded split counted on the entry it ended on, as its
 * line is written (log), and the main thread's second (tick), which
 * judges the windows. fleet/guard.c counts and judges; the module
 * (conf/conf_guard.c) holds its keys and state.
 */
#include <stdint.h>
#include <string.h>

#include "conf_guard.h"
#include "exchange_int.h"
#include "filter.h"
#include "guard.h"

/*
 * Whether the exchange failed by its upstream's fault, as a canary guard
 * counts (doc/fleet.md section 4): sluice's answers for an upstream that
 * failed (upstream_*, no_healthy_upstream, no_upstream_address), a
 * response cut by the upstream, a 5xx of the upstream's, a gRPC status
 * of a server's failure (UNKNOWN, DEADLINE_EXCEEDED, INTERNAL,
 * UNAVAILABLE, DATA_LOSS). Never a 4xx, the client's own end, a limit of
 * sluice's or the caller's grpc-timeout.
 */
static int
upstream_failed(const struct sl_txn *t)
{
	const char *e = t->error;

	if (e != NULL)
		return strncmp(e, "upstream_", 9) == 0 ||
		       strcmp(e, "no_healthy_upstream") == 0 ||
		       strcmp(e, "no_upstream_address") == 0;
	if (t->resp_ph != SL_TXN_RESP_UPSTREAM)
		return 0;
	if (t->status >= 500)
		return 1;
	switch (t->grpc.up) { /* the status, plus one */
	case 2 + 1:
	case 4 + 1:
	case 13 + 1:
	case 14 + 1:
	case 15 + 1:
		return 1;
	default:
		return 0;
	}
}

static int
guard_used(const struct sl_conf_route *r)
{
	return sl_guard_route(r) != NULL;
}

/* The exchange, which went to a cluster of the split, counted on the
 * entry it ended on (its cluster's place; nsplit when none matches). A
 * tunnel's life is no request's latency: not counted. */
static void
guard_log(struct sl_seam *s, struct sl_txn *t, struct sl_flog *l)
{
	const struct sl_conf_route *r = t->route;
	size_t i;

	(void)l;
	if (r->split == NULL || t->wc == NULL || t->status == 101)
		return;
	for (i = 0; i < r->nsplit && r->split[i].cluster != t->wc->conf; i++)
		;
	sl_guard_note(
	    r, s->w->id, i,
	    t->att.split_first != 0xff ? t->att.split_first : SIZE_MAX,
	    upstream_failed(t),
	    t->clk.up_start_ms != 0 ? now_ms() - t->clk.up_start_ms : 0);
}

struct sl_filter sl_filter_guard = {
    .name = "guard",
    .phase = SL_FPHASE_CHECK,
    .used = guard_used,
    .log = guard_log,
    .main_tick = sl_guard_tick,
};
