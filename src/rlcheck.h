/* SPDX-License-Identifier: MIT */
/*
 * A request's way through its route's rate limits (doc/edge.md section
 * 6): each limit's key, the table its workers share, the cells given back
 * when a later limit refuses, the counters, the log lines and the fields
 * of the answer. It knows no exchange: the exchange embeds a struct
 * sl_rlc.
 */
#ifndef SL_RLCHECK_H
#define SL_RLCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "conf.h"
#include "h1_parse.h"
#include "ratelimit.h"

struct sl_worker;

/* What the limits say of a request. */
enum {
	SL_RLC_PASS = 0, /* every limit lets it through */
	SL_RLC_LIMITED,	 /* 429: rc->refused said no */
};

/* One request's progress through its route's limits, embedded in the
 * exchange. */
struct sl_rlc {
	uint8_t next;	  /* the limit being checked */
	uint8_t local;	  /* bit i: limit i took from the shared table */
	uint8_t refused;  /* LIMITED: the limit's index */
	uint64_t wait_us; /* LIMITED: until one more may pass */
};

/*
 * Checks the request against r's limits (r->nrate_limits > 0) in order,
 * for a worker w. conn names the connection in the log lines.
 */
int sl_rlcheck_start(struct sl_rlc *rc, struct sl_worker *w,
		     const struct sl_conf_route *r,
		     const struct sl_h1_request *req,
		     const struct sl_ip *client, uint64_t conn);

/*
 * The fields of a 429 (LIMITED) into out (cap bytes): Retry-After and the
 * refusing limit's RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers), each line ending in CRLF.
 * Returns the length, or 0 when it does not fit.
 */
size_t sl_rlcheck_fields(const struct sl_rlc *rc, const struct sl_conf_route *r,
			 char *out, size_t cap);

/* Microseconds of CLOCK_MONOTONIC since the process's rate limit epoch
 * (at least 1 s after it): the time of the tables. */
uint64_t sl_rlcheck_now_us(void);

#endif
