/* SPDX-License-Identifier: MIT */
/*
 * Route matching (the first route of a listener whose match holds for a
 * request) and the keys of sticky splits and hash balancing. Pure: no
 * I/O, no allocation.
 */
#ifndef SL_ROUTE_H
#define SL_ROUTE_H

#include "conf.h"
#include "h1_parse.h"

/* Returns the first matching route of l (borrowed from the generation), or
 * NULL when none matches (404). */
const struct sl_conf_route *sl_route_match(const struct sl_conf_listener *l,
					   const struct sl_h1_request *req);

/*
 * The key of req under k (a sticky split's, a hash balancer's): the first
 * non-empty value of a header, the value of a cookie, or the client
 * address peer (its 4 bytes for IPv4 and IPv4-mapped IPv6, else 16,
 * copied into ip). Returns 1 with *key and *len set (pointing into the
 * request or into ip), or 0 when the request carries no such key.
 */
int sl_route_key(const struct sl_conf_key *k, const struct sl_h1_request *req,
		 const struct sockaddr *peer, unsigned char ip[16],
		 const void **key, size_t *len);

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

#endif
