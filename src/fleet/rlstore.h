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

/*
 * Another module's command to conf's store (the Idempotency-Key store,
 * exchange_idem.c): argc arguments (argv, argvlen: binary-safe), bounded
 * by the store's timeout as a lease is. done(arg, reply, result) is
 * called once: reply is the answer (valid during the call; an error
 * answer counts as SL_RLSTORE_ERROR, with reply NULL), or NULL with
 * SL_RLSTORE_ERROR or _TIMEOUT when none came. done may be called from
 * inside hiredis: it must not ask the store for anything itself. Returns
 * a handle, or NULL when the store cannot be asked now (no connection:
 * it is being made, or waits for its next try).
 */
struct sl_rlstore_cmd;
struct redisReply;
typedef void sl_rlstore_done(void *arg, const struct redisReply *reply,
			     int result);
struct sl_rlstore_cmd *sl_rlstore_command(struct sl_worker *w,
					  struct sl_conf *conf, int argc,
					  const char **argv,
					  const size_t *argvlen,
					  sl_rlstore_done *done, void *arg);
/* The command's asker goes away: done is never called. */
void sl_rlstore_cancel(struct sl_rlstore_cmd *cmd);

/* Closes w's connection (its pending leases fail). Worker thread, or the
 * main thread once the worker's loop ended. */
void sl_rlstore_worker_free(struct sl_worker *w);

/* The Lua script that grants a lease (exposed for tests and the docs). */
extern const char sl_rlstore_script[];

#endif
