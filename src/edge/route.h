/* SPDX-License-Identifier: MIT */
/*
 * Route matching (the first route of a listener whose match holds for a
 * request), the keys of sticky splits and hash balancing, a split's
 * failover choice, and the weights of a split whose entries a module
 * holds back. Pure: no I/O, no allocation.
 */
#ifndef SL_ROUTE_H
#define SL_ROUTE_H

#include "cidr.h"
#include "conf_types.h"
#include "h1_parse.h"

/* The first of routes[0 .. n) that matches req, walked in order: what a
 * listener without an index does (sl_route_match, route_index.h), and the
 * index's oracle in tests. */
const struct sl_conf_route *
sl_route_match_walk(const struct sl_conf_route *routes, size_t n,
		    const struct sl_h1_request *req);

/* Whether r matches every request: it has no match part. */
int sl_route_any(const struct sl_conf_route *r);

/* Whether r's methods and fields (the parts no index keys) match req. */
int sl_route_rest_match(const struct sl_conf_route *r,
			const struct sl_h1_request *req);

/*
 * The key of req under k (a sticky split's, a hash balancer's): the first
 * non-empty value of a header, the value of a cookie, or the request's
 * client address (its 4 bytes for IPv4, IPv4-mapped IPv6 included, else
 * 16). Returns 1 with *key and *len set (pointing into the request or into
 * client), or 0 when the request carries no such key. req may be NULL for
 * a client_ip key.
 */
int sl_route_key(const struct sl_conf_key *k, const struct sl_h1_request *req,
		 const struct sl_ip *client, const void **key, size_t *len);

/*
 * The cluster of r's split that a request moves to when its own cannot
 * take it (split_failover): among the entries of weights (r's, or what a
 * module left of them: sl_route_split_weights) above 0 whose bit
 * is clear in left (bit i: entry i, the first 64; later entries never
 * take a failover), the sticky key's next choice in the race when key is
 * not NULL (the cluster the user would have if the ones left were removed
 * from the split), else in turn by weight over swrr (the route's counters,
 * shared with first choices: a move over the rest keeps them balanced).
 * Returns an index into r->split, or SL_BALANCE_NONE.
 */
size_t sl_route_failover(const struct sl_conf_route *r, const uint32_t *weights,
			 uint64_t left, const uint64_t *key, int64_t *swrr);

/*
 * The value of cookie name (exact, case-sensitive) in one Cookie field
 * value ("a=1; b=2"), without surrounding quotes' removal: the bytes
 * between "=" and ";" (blanks around it dropped). Returns 1 with *val and
 * *vlen set, or 0. Exposed for tests.
 */
int sl_route_cookie(const char *v, size_t vlen, const char *name, size_t nlen,
		    const char **val, size_t *vallen);

/* Exposed for tests: the host part of a Host value without its port, and
 * whether pattern (lower-case; ".suffix" when wildcard) matches it. */
size_t sl_route_host_len(const char *host, size_t len);
int sl_route_host_match(const struct sl_conf_route *r, const char *host,
			size_t len);

/* Whether entry k of r's split is held back (weight 0 on this gateway:
 * r->split_held's bit k, the first 64). */
static inline int
sl_route_split_held(const struct sl_conf_route *r, size_t k)
{
	return r->split_held != NULL && k < 64 &&
	       ((atomic_load_explicit(r->split_held, memory_order_relaxed) >>
		 k) &
		1);
}

/*
 * The weights r's split chooses by now: r->split_weights with the entries
 * a module holds back (r->split_held: the canary guard's trips) at 0.
 * cache (r->nsplit entries) and *mask are the worker's own copy,
 * recomputed when the held set changed (and swrr, the split's
 * round-robin counters, reset then). Returns r->split_weights while
 * nothing is held.
 */
const uint32_t *sl_route_split_weights(const struct sl_conf_route *r,
				       uint32_t *cache, uint64_t *mask,
				       int64_t *swrr);

#endif
