/* SPDX-License-Identifier: MIT */
/*
 * A request's way through its route's rate limits (doc/edge.md section
 * 6): each limit's key, the shared table of a local limit, the leased
 * cells of a fleet limit (and the wait for a lease), the cells given back
 * when a later limit refuses, the counters, the log lines and the fields
 * of the answer. It knows no exchange: the exchange embeds a struct
 * sl_rlc and is told through its wait's done.
 */
#ifndef SL_RLCHECK_H
#define SL_RLCHECK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "conf_types.h"
#include "h1_parse.h"
#include "ratelimit.h"
#include "ratelimit_conf.h"
#include "ratelimit_state.h"
#include "util.h"

struct sl_worker;

/* What the limits say of a request. */
enum {
	SL_RLC_PASS = 0,    /* every limit lets it through */
	SL_RLC_WAIT,	    /* it waits for a lease (the wait's done comes) */
	SL_RLC_LIMITED,	    /* 429: rc->refused said no */
	SL_RLC_UNAVAILABLE, /* 503: rc->refused's store is out, and its
			       on_store_error is deny */
};

/* One request's progress through its route's limits, embedded in the
 * exchange (zeroed with it). */
struct sl_rlc {
	struct sl_rl_wait wait; /* while waiting for a lease */
	/* the exchange's filter (exchange_rl.c): where the request stands
	 * (cleared with the exchange), and the verdict of the lease it
	 * waited for */
	uint8_t st;
	uint8_t woke_verdict;
	uint64_t woke_us;
	uint8_t next;	  /* the limit being checked */
	uint8_t local;	  /* bit i: limit i took from the shared table */
	uint8_t cell;	  /* bit i: limit i took a leased cell */
	uint8_t first;	  /* bit i: limit i passed a key's first
			     request (counted by the store: not given
			     back) */
	uint8_t refused;  /* LIMITED, UNAVAILABLE: the limit's index */
	uint64_t wait_us; /* LIMITED: until one more may pass */
};

/*
 * Checks the request against r's limits (sl_rl_nlimits(r) > 0) in order,
 * for a worker w and a generation conf (the request's). On SL_RLC_WAIT,
 * done is called later with the lease's verdict; the caller then calls
 * sl_rlcheck_resume with the request again. conn names the connection in
 * the log lines.
 */
int sl_rlcheck_start(struct sl_rlc *rc, struct sl_worker *w,
		     struct sl_conf *conf, const struct sl_conf_route *r,
		     const struct sl_h1_request *req,
		     const struct sl_ip *client, uint64_t conn,
		     void (*done)(struct sl_rl_wait *, int, uint64_t));

/* Goes on after a wait: verdict and wait_us are done's. */
int sl_rlcheck_resume(struct sl_rlc *rc, int verdict, uint64_t wait_us,
		      struct sl_worker *w, struct sl_conf *conf,
		      const struct sl_conf_route *r,
		      const struct sl_h1_request *req,
		      const struct sl_ip *client, uint64_t conn);

/* The request goes away: it stops waiting (no-op when it does not). */
static inline void
sl_rlcheck_cancel(struct sl_rlc *rc)
{
	if (rc->wait.entry != NULL)
		sl_rl_lease_cancel(&rc->wait);
}

/*
 * The fields of a 429 (LIMITED) or 503 (UNAVAILABLE) answer into out
 * (cap bytes): Retry-After and, for a 429, the refusing limit's
 * RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers),
 * each line ending in CRLF. Returns the length, or 0 when it does not fit.
 */
size_t sl_rlcheck_fields(const struct sl_rlc *rc, int status,
			 const struct sl_conf_route *r, char *out, size_t cap);

#endif
