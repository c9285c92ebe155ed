/* SPDX-License-Identifier: MIT */
/*
 * The canary guard of a split (a route's guard:, doc/fleet.md section 4):
 * each worker counts, for every cluster of a guarded split, its requests,
 * those that failed by the upstream's fault and those slower than the
 * guard's latency bound; once a second the main thread sums the counts
 * over a sliding window and judges each cluster other than the stable one
 * against it. A cluster judged worse is tripped: its weight is 0 on this
 * gateway from then on (the workers read one atomic word), until a reload
 * changes the split. No shared state between gateways: each trips on
 * what it sees. The judgement (sl_guard_judge) is pure; the rest touches
 * only the guard's own state (conf_guard.h). Its filter
 * (proxy/exchange_guard.c) calls the counts and the second.
 */
#ifndef SL_GUARD_H
#define SL_GUARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_guard.h" /* the guard's keys, state and what it shows */

struct sl_conf;
struct sl_conf_route;

/* The significance a difference must reach: the chance that a canary as
 * good as the stable cluster shows it in one window (doc/fleet.md gives
 * the false-alarm rate this makes). */
#define SL_GUARD_ALPHA 1e-8

/*
 * P[X >= k] for X binomial with n draws of probability q (0 < q < 1):
 * exact while it matters, and 1 when k is not above the mean n * q (the
 * one-sided test never needs more).
 */
double sl_guard_binom_tail(uint64_t n, uint64_t k, double q);

/*
 * Judges canary c against stable s over one window by g's rules: both
 * need g->min_requests requests; failures are worse when the canary's
 * share exceeds the stable's by more than g->margin_percent points and
 * the split of all failures between the two is that unlikely under equal
 * shares (a one-sided exact binomial test at SL_GUARD_ALPHA); latency,
 * when g->latency_ms is set, when more than (100 - g->percentile) % of
 * the canary's requests were slower and not of the stable's, by the same
 * test. *p, when not NULL, is set to the test's probability (1 when not
 * tested). Pure.
 */
enum sl_guard_verdict sl_guard_judge(const struct sl_conf_guard *g,
				     const struct sl_guard_obs *c,
				     const struct sl_guard_obs *s, double *p);

/*
 * The request path. Counts one exchange of a guarded route r that ended
 * on split entry i in worker w (failed: the upstream's fault; up_ms: its
 * time upstream). first: the entry first chosen for it, when the request
 * moved to i (a split failover): that entry gets a failed request too;
 * SIZE_MAX when it did not move.
 */
void sl_guard_note(const struct sl_conf_route *r, unsigned w, size_t i,
		   size_t first, int failed, uint64_t up_ms);

/*
 * Main thread, once a second: adds the workers' counts of every guarded
 * route of conf to its window and judges it, tripping (and logging) what
 * is worse. now_ms: the monotonic clock.
 */
void sl_guard_tick(struct sl_conf *conf, uint64_t now_ms);

#endif
