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
 * A Lua script of another module (the Idempotency-Key store,
 * exchange_idem.c): its text, and the SHA-1 Redis names it by, which
 * sl_rlstore_script_init fills (once, before the script is first sent;
 * not thread-safe: the caller runs it once, under pthread_once). A script
 * without its SHA-1 (the digest failed) is sent whole every time.
 */
struct sl_rlstore_script {
	const char *text;
	char sha[41];
};
void sl_rlstore_script_init(struct sl_rlstore_script *sc);

/* The most arguments (KEYS and ARGV together) of a script's command. */
#define SL_RLSTORE_MAX_ARGS 8

/*
 * Runs script sc in conf's store: nkeys of the nargs arguments are KEYS,
 * the rest ARGV (argv, argvlen: binary-safe; copied, so that the caller's
 * may go at once). Sent as EVALSHA: a NOSCRIPT (Redis restarted, or was
 * flushed) sends it again, once, as EVAL, which teaches Redis the script
 * for the next ones. Bounded by the store's timeout as a lease is, and
 * counted with the leases in sluice_rate_limit_store_requests_total (the
 * connection's health). done(arg, reply, result) is called once: reply is
 * the answer (valid during the call; an error answer counts as
 * SL_RLSTORE_ERROR, with reply NULL), or NULL with SL_RLSTORE_ERROR or
 * _TIMEOUT when none came. done may be called from inside hiredis: it
 * must not ask the store for anything itself. Returns a handle, or NULL
 * when the store cannot be asked now (no connection: it is being made,
 * or waits for its next try; or no memory).
 */
struct sl_rlstore_cmd;
struct redisReply;
typedef void sl_rlstore_done(void *arg, const struct redisReply *reply,
			     int result);
struct sl_rlstore_cmd *sl_rlstore_eval(struct sl_worker *w,
				       struct sl_conf *conf,
				       const struct sl_rlstore_script *sc,
				       int nkeys, int nargs, const char **argv,
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
