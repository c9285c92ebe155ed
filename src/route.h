/* SPDX-License-Identifier: MIT */
/*
 * Route matching: the first route of a listener whose match holds for a
 * request. Pure: no I/O, no allocation.
 */
#ifndef SL_ROUTE_H
#define SL_ROUTE_H

#include "conf.h"
#include "h1_parse.h"

/* Returns the first matching route of l (borrowed from the generation), or
 * NULL when none matches (404). */
const struct sl_conf_route *sl_route_match(const struct sl_conf_listener *l,
					   const struct sl_h1_request *req);

/* Exposed for tests: the host part of a Host value without its port, and
 * whether pattern (lower-case; ".suffix" when wildcard) matches it. */
size_t sl_route_host_len(const char *host, size_t len);
int sl_route_host_match(const struct sl_conf_route *r, const char *host,
			size_t len);

#endif
