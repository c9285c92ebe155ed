/* SPDX-License-Identifier: MIT */
/*
 * A route's Lua functions (doc/lua.md), between the filter
 * (exchange_lua.c: the calls, their slices, the three filters) and the
 * objects the functions are given (exchange_lua_api.c: r's and resp's
 * methods, what crosses from Lua into a head). Only with HAVE_LUA.
 */
#ifndef SL_EXCHANGE_LUA_INT_H
#define SL_EXCHANGE_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "conf_lua.h"
#include "exchange_int.h"
#include "filter.h"
#include "luavm.h"
#include "wproxy.h"

extern struct sl_filter sl_filter_lua, sl_filter_lua_resp, sl_filter_lua_log;

/* What a script may put in an answer's body. */
#define BODY_MAX (1u << 20)
/* r:span: the attributes a request, their names' and values' bytes, and
 * the room of a call's for them ("name\0value\0" each) */
#define SPAN_MAX       8
#define SPAN_NAME_MAX  48
#define SPAN_VALUE_MAX 256
#define SPAN_ROOM      1024
_Static_assert(SPAN_MAX *(4 + SPAN_NAME_MAX + SPAN_VALUE_MAX + 8) <=
		   SL_FILTER_SPAN_BYTES,
	       "r:span's attributes fit in the span's room for them");

/* One call of a route's function: on the worker's cache, or the
 * request's while it runs or waits (its slot points at it). */
struct lua_call {
	struct sl_luavm_run run;
	TAILQ_ENTRY(lua_call) q;      /* the run queue */
	struct lua_call *next_free;   /* the worker's cache */
	struct sl_lua_counts *counts; /* its route's, in its worker */
	struct sl_seam *s;
	struct sl_txn *t;
	struct sl_fhead *h;	     /* the request's (it may move at a wait) */
	struct sl_h1_response *resp; /* the response function's */
	char *scratch;		     /* its room for values */
	size_t scratch_used;
	const struct sl_conf_lua *conf;
	uint8_t phase; /* enum sl_lua_phase */
	uint8_t queued;
	uint8_t running; /* a call begun and not ended */
	uint8_t started; /* its function was resumed once */
	/* r:http: the subrequest in flight (NULL: none), and what came
	 * back, for the call's continuation (owned until it takes it) */
	struct sl_subreq *sub;
	uint8_t http; /* enum http_state */
	struct lua_http {
		int status;
		const char *why; /* static; NULL: an answer */
		char *body;	 /* owned */
		size_t blen;
		char *fields; /* owned: "name\0value\0" pairs */
		size_t flen;
	} res;
	/* the access log's lua field (r:log), "": none */
	char logword[65];
	/* the server span's attributes (r:span): nspans pairs in span */
	uint8_t nspans;
	uint16_t span_used;
	char span[SPAN_ROOM];
	/* what it answers (r:answer), or its failure's on_error */
	int status;
	char *body, *fields; /* owned */
	size_t blen;
};

struct lua_ws {
	struct sl_worker *w;
	TAILQ_HEAD(, lua_call) runq;
	struct lua_call *free; /* calls kept for reuse, a stack */
	unsigned nfree;
	/* the first slices run at once (when the request's head is read):
	 * the time they took in the millisecond from win_ns (RUNQ_TURN_NS
	 * at most; then a new call waits its turn in the run queue) */
	uint64_t win_ns, win_used_ns;
	/* the log function's word for the line being written */
	char logword[65];
	struct event *ev;
};

static inline struct lua_ws *
lws(const struct sl_worker *w)
{
	return (
	    struct lua_ws *)(void *)(sl_wproxy(w)->fws +
				     sl_filter_wstate_off[sl_filter_lua.id]);
}

static inline struct lua_call **
lslot(const struct sl_txn *t)
{
	return sl_fctx(t, &sl_filter_lua);
}

static inline struct sl_lua_counts *
lcounts(struct sl_seam *s)
{
	return (struct sl_lua_counts *)(void *)sl_counts_mod(
	    &s->txn->route->state->counts[s->w->id], &sl_module_lua);
}

/* r:http's state of a call. */
enum http_state { HTTP_NONE = 0, HTTP_WAITING, HTTP_DONE };

/* What r:http takes back of an answer: its body's bytes at most, and
 * its head's fields. */
#define HTTP_BODY_MAX (256u << 10)
#define HTTP_HEAD_MAX 16384

/* The call running now on this thread (NULL: none): what a method acts
 * on (exchange_lua.c's call_run sets it). */
extern _Thread_local struct lua_call *sl_lua_running;

/* "request", "response", "log". */
extern const char *const sl_lua_phase_names[SL_LUA_NPHASES];

/* The objects' methods (one table of the state's holds them all), and
 * how many. */
extern const luaL_Reg sl_lua_methods[];
extern const size_t sl_lua_nmethods;

/* What r:http brought back of an answer goes. */
void sl_lua_http_res_free(struct lua_call *c);

#endif
