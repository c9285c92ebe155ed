/* SPDX-License-Identifier: MIT */
/*
 * Lua filters as a module (core/module.h; doc/lua.md): a route's lua: (its
 * script's file, read and compiled when the file is loaded, the functions
 * it runs, its constants and its budgets) in its slot of the generation,
 * with each worker's state of the script, made by the filter
 * (proxy/exchange_lua.c) at the worker's first request of the route, and
 * the counters /metrics and the status page show. Included by
 * conf_lua.c, the filter and the module table (conf_mods.c), which names
 * only its descriptor.
 */
#ifndef SL_CONF_LUA_H
#define SL_CONF_LUA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "luavm.h"
#include "module.h"

extern struct sl_module sl_module_lua;

/* The functions a route's script may run. */
enum sl_lua_phase {
	SL_LUA_REQUEST = 0, /* at the request's head */
	SL_LUA_RESPONSE,    /* at the upstream's response head */
	SL_LUA_LOG,	    /* once the exchange is over, at its log line */
	SL_LUA_NPHASES
};

struct sl_conf_lua {
	char *file; /* as written */
	char *text; /* the script, as read when the file loaded */
	size_t text_len;
	char *fn[SL_LUA_NPHASES]; /* the functions' names; NULL: none */
	struct sl_lua_const {
		char *name, *value;
	} * consts; /* the route's constants (the functions' second
		       argument) */
	size_t nconsts;
	struct sl_luavm_budget budget;
	uint64_t time_ms;  /* budget.time_us, as written */
	uint32_t on_error; /* 500 or 503: a call that failed */
	/* the clusters r:http may call (borrowed from the generation) */
	const struct sl_conf_cluster **calls;
	size_t ncalls;
	uint64_t body; /* the request body's bytes the request function
			  may read (r:body), 0: none; a larger body is
			  answered 413 */
	/* each worker's state of the script ([worker id], nworkers of
	 * them, made by route_bind; each written by its worker only, at
	 * its first request of the route; freed with the slot) */
	struct sl_luavm **vms;
	unsigned nworkers;
};

/* Its block of a route's counts (doc/lua.md, "Metrics"). */
struct sl_lua_counts {
	atomic_uint_fast64_t calls[SL_LUA_NPHASES];
	atomic_uint_fast64_t failures[SL_LUAVM_NFAIL]; /* [0]: unused */
	atomic_uint_fast64_t answers; /* requests a script answered */
	atomic_uint_fast64_t slices;  /* slices after a call's first */
	atomic_uint_fast64_t us;      /* running time, microseconds */
};

/* Route r's lua:, NULL: none. */
static inline struct sl_conf_lua *
sl_lua_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_lua);
}

#endif
