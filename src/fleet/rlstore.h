/* SPDX-License-Identifier: MIT */
/*
 * The fleet-wide store of rate limits (Redis, through hiredis's libevent
 * adapter): one asynchronous connection per worker, on the worker's own
 * event loop, opened when a fleet limit first needs it. It asks for
 * leases of cells (one Lua script, doc/edge.md section 6), bounds every
 * command by rate_limit_store.timeout, and reconnects with backoff. A
 * request never waits on a blocking call: a lease it needs either comes
 * within the timeout or fails. Worker thread only.
 */
#ifndef SL_RLSTORE_H
#define SL_RLSTORE_H

#include <stdint.h>

#include "conf_types.h"
#include "ratelimit.h"

struct sl_worker;
struct sl_rlstate;

/* How a store command ended (sluice_rate_limit_store_requests_total). */
enum {
	SL_RLSTORE_OK = 0,
	SL_RLSTORE_ERROR,   /* an error answer, or the connection went */
	SL_RLSTORE_TIMEOUT, /* no answer within rate_limit_store.timeout */
	SL_RLSTORE_NRESULTS
};

/*
 * Asks the store of conf for up to want cells of the limit of st (one of
 * conf's) for the key whose stable hash is h, counting debt cells already
 * used; e is the key's entry in w's lease table, marked with
 * sl_rl_lease_sent. The reply resolves e (sl_rl_lease_granted or
 * sl_rl_lease_failed) and tells its waiting requests. Returns 0, or -1
 * when the store cannot be asked now (no connection: it is being made or
 * waits for its next try): e is unchanged.
 */
int sl_rlstore_lease(struct sl_worker *w, struct sl_conf *conf,
		     struct sl_rlstate *st, struct sl_rl_lentry *e, uint64_t h,
		     uint32_t want, uint32_t debt);

/* Closes w's connection (its pending leases fail). Worker thread, or the
 * main thread once the worker's loop ended. */
void sl_rlstore_worker_free(struct sl_worker *w);

/* The Lua script that grants a lease (exposed for tests and the docs). */
extern const char sl_rlstore_script[];

#endif
