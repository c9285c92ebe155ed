/* SPDX-License-Identifier: MIT */
/*
 * A listener's routes indexed by host and path (route_index.c): the first
 * matching route in list order, found among a few candidates. Built once
 * per generation by the loader; a lookup is pure.
 */
#ifndef SL_ROUTE_INDEX_H
#define SL_ROUTE_INDEX_H

#include <stddef.h>

struct sl_conf_listener;
struct sl_conf_route;
struct sl_h1_request;

/* A listener with fewer routes is walked: the walk costs less. */
#define SL_ROUTE_INDEX_MIN 8

struct sl_route_index;

/* Returns the first matching route of l (borrowed from the generation), or
 * NULL when none matches (404): through l's index when it has one, else
 * walked. */
const struct sl_conf_route *sl_route_match(const struct sl_conf_listener *l,
					   const struct sl_h1_request *req);

/* The index of routes[0 .. n) (borrowed: they must outlive it), or NULL
 * when out of memory. */
struct sl_route_index *sl_route_index_build(const struct sl_conf_route *routes,
					    size_t n);
void sl_route_index_free(struct sl_route_index *idx);

/* The first route of routes (those the index was built on) that matches
 * req, or NULL: always sl_route_match_walk's answer. */
const struct sl_conf_route *
sl_route_index_match(const struct sl_route_index *idx,
		     const struct sl_conf_route *routes,
		     const struct sl_h1_request *req);

#endif
