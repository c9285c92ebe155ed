/* SPDX-License-Identifier: MIT */
/*
 * A route's Lua functions as filters (doc/lua.md): the request function
 * at the request's head, after every other check of the route (it reads
 * what they verified), the response function at the upstream's response
 * head, the log function once the exchange is over; each a filter of its
 * own, so that a route pays only for the functions it names. The objects
 * the functions are given, and what crosses from Lua into a head, are
 * exchange_lua_api.c's. A call runs in slices (edge/luavm.c): one whose
 * slice is over waits (SL_FILTER_WAIT) on the worker's run queue, which
 * the loop serves half a millisecond a turn between its other events, so
 * that a script that loops holds no other request up for longer than a
 * slice. The module (conf/conf_lua.c) holds the keys and the script's
 * text; each worker makes its state of the script at its first request
 * of the route.
 */
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "conf_lua.h"
#include "exchange_int.h"
#include "filter.h"
#include "log.h"
#include "pan.h"
#include "runtime.h"
#include "subreq.h"
#include "trace.h"
#include "util.h"
#include "wloop.h"
#include "wproxy.h"

#ifdef HAVE_LUA
#include "exchange_lua_int.h"

/* The loop serves the run queue this long a turn. */
#define RUNQ_TURN_NS 500000

/* calls kept for reuse, per worker */
#define CACHE_MAX 64

/* ---- states and calls -------------------------------------------------- */

static int
obj_newindex(lua_State *L)
{
	return luaL_error(L, "the request's object is sluice's: a script "
			     "does not write to it");
}

static int
consts_newindex(lua_State *L)
{
	return luaL_error(L, "the route's constants are read-only");
}

/* What the state of a route's script keeps besides the script: the
 * objects' metatables and the route's constants (read-only). */
static int
p_setup(lua_State *L)
{
	const struct sl_conf_lua *c = lua_touserdata(L, 1);
	struct sl_luavm *vm;

	lua_getallocf(L, (void **)&vm);
	/* the object every call is given (r, resp): one table of the
	 * state's with the methods in it (a method is a table's hit, not a
	 * metatable's), which the script cannot write to; a method finds
	 * the call running now, so nothing is made for a call */
	lua_createtable(L, 0, (int)sl_lua_nmethods);
	luaL_setfuncs(L, sl_lua_methods, 0);
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, obj_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	vm->obj_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_createtable(L, 0, (int)c->nconsts);
	for (size_t i = 0; i < c->nconsts; i++) {
		lua_pushstring(L, c->consts[i].value);
		lua_setfield(L, -2, c->consts[i].name);
	}
	/* a proxy: the script reads them, never writes them */
	lua_createtable(L, 0, 0);
	lua_createtable(L, 0, 2);
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, consts_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_setmetatable(L, -2);
	vm->consts_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* The worker's state of route conf's script, made at its first request
 * (NULL: it cannot be: out of memory, or the script fails as it loads,
 * said once). */
static __attribute__((noinline)) struct sl_luavm *
vm_make(struct sl_seam *s, const struct sl_conf_lua *c)
{
	struct sl_luavm *vm;
	char err[512];

	if (c->vms[s->w->id] != NULL)
		return NULL; /* broken */
	if ((vm = sl_luavm_new(&c->budget)) == NULL) {
		/* tried again at the next request; said once a second */
		static _Thread_local uint64_t said_ms;
		if (now_ms() - said_ms >= 1000) {
			said_ms = now_ms();
			log_warnx("worker %u: route %s: lua: no memory for the "
				  "script's state",
				  s->w->id, s->txn->route->name);
		}
		return NULL;
	}
	c->vms[s->w->id] = vm;
	if (sl_luavm_pcall(vm, p_setup, (void *)c) == -1 ||
	    sl_luavm_load(vm, c->file, c->text, c->text_len, err,
			  sizeof(err)) == -1 ||
	    (c->fn[SL_LUA_REQUEST] != NULL &&
	     (vm->fn[SL_LUA_REQUEST] = sl_luavm_function(
		  vm, c->fn[SL_LUA_REQUEST], err, sizeof(err))) == -1) ||
	    (c->fn[SL_LUA_RESPONSE] != NULL &&
	     (vm->fn[SL_LUA_RESPONSE] = sl_luavm_function(
		  vm, c->fn[SL_LUA_RESPONSE], err, sizeof(err))) == -1) ||
	    (c->fn[SL_LUA_LOG] != NULL &&
	     (vm->fn[SL_LUA_LOG] = sl_luavm_function(vm, c->fn[SL_LUA_LOG], err,
						     sizeof(err))) == -1)) {
		vm->broken = 1;
		log_warnx("worker %u: route %s: lua: %s: cannot be used: %s",
			  s->w->id, s->txn->route->name, c->file, err);
		return NULL;
	}
	return vm;
}

static SL_INLINE struct sl_luavm *
vm_get(struct sl_seam *s, const struct sl_conf_lua *c)
{
	struct sl_luavm *vm = c->vms[s->w->id];

	return vm != NULL && !vm->broken ? vm : vm_make(s, c);
}

static struct lua_call *
call_take(struct lua_ws *ws)
{
	struct lua_call *c = ws->free;

	if (c != NULL) {
		/* call_end left it off every list, holding nothing */
		ws->free = c->next_free;
		ws->nfree--;
	} else if ((c = malloc(sizeof(*c))) != NULL) {
		c->queued = c->running = 0;
		c->sub = NULL;
		c->res.body = c->res.fields = NULL;
		c->body = c->fields = NULL;
	} else
		return NULL;
	c->started = 0;
	c->http = HTTP_NONE;
	c->logword[0] = '\0';
	c->nspans = 0;
	c->span_used = 0;
	c->status = 0;
	c->blen = 0;
	return c;
}

/* The call is over, whatever its way: its thread goes back, its object
 * stops working, what it holds goes. */
static void
call_end(struct lua_ws *ws, struct lua_call *c)
{
	if (c->queued) {
		TAILQ_REMOVE(&ws->runq, c, q);
		c->queued = 0;
	}
	if (c->sub != NULL) {
		sl_subreq_cancel(c->sub);
		c->sub = NULL;
	}
	if (c->res.body != NULL || c->res.fields != NULL)
		sl_lua_http_res_free(c);
	if (c->running) {
		sl_luavm_end(&c->run);
		c->running = 0;
	}
	if (c->body != NULL || c->fields != NULL) {
		free(c->body);
		free(c->fields);
		c->body = c->fields = NULL;
	}
	if (ws->nfree < CACHE_MAX) {
		c->next_free = ws->free;
		ws->free = c;
		ws->nfree++;
	} else
		free(c);
}

/* A call that failed: counted, and said at most once a second for the
 * route's state in this worker. */
static void
call_failed(struct sl_seam *s, struct lua_call *c)
{
	struct sl_txn *t = s->txn;
	uint64_t skipped;

	SL_STAT_INC(c->counts->failures[c->run.fail]);
	if (sl_luavm_warn_ok(c->run.vm, now_ms(), &skipped))
		log_warnx("conn=%llu request_id=%s route=%s: lua: %s "
			  "function %s failed (%s): %s%s",
			  (unsigned long long)s->id, t->request_id,
			  t->route->name, sl_lua_phase_names[c->phase],
			  c->conf->fn[c->phase],
			  sl_luavm_fail_names[c->run.fail], c->run.why,
			  skipped > 0 ? " (and earlier failures not logged "
					"in the last second)"
				      : "");
}

/* Runs c for a slice (nargs: 2 the first time: the object and the constants).
 */
static enum sl_luavm_rc
call_run(struct lua_call *c, int nargs)
{
	uint64_t before = c->run.used_ns;
	enum sl_luavm_rc rc;

	sl_lua_running = c;
	/* from the event's time (the loop's clock, read as it began) */
	rc = sl_luavm_resume(&c->run, nargs,
			     (uint64_t)sl_now_ts.tv_sec * 1000000000u +
				 (uint64_t)sl_now_ts.tv_nsec);
	sl_lua_running = NULL;
	SL_STAT_ADD(c->counts->us, (c->run.used_ns - before) / 1000);
	return rc;
}

/* Starts phase's call of route's function: NULL when it could not start
 * (counted as a failure, and said; the caller answers on_error). */
static struct lua_call *
call_start(struct sl_seam *s, int phase, int no_yield)
{
	struct lua_ws *ws = lws(s->w);
	const struct sl_conf_lua *conf = sl_lua_route(s->txn->route);
	struct sl_luavm *vm = vm_get(s, conf);
	struct lua_call *c;
	lua_State *co;

	if (vm == NULL || (c = call_take(ws)) == NULL) {
		/* no state (vm_make said why, once), no memory */
		SL_STAT_INC(lcounts(s)->failures[SL_LUAVM_MEMORY]);
		return NULL;
	}
	c->s = s;
	c->t = s->txn;
	c->conf = conf;
	c->counts = lcounts(s);
	c->phase = (uint8_t)phase;
	if ((co = sl_luavm_begin(vm, &c->run, no_yield)) == NULL) {
		call_failed(s, c);
		call_end(ws, c);
		return NULL;
	}
	c->running = 1;
	SL_STAT_INC(c->counts->calls[phase]);
	/* the function, the object and the route's constants: nothing
	 * allocated (a thread has room for them) */
	lua_rawgeti(co, LUA_REGISTRYINDEX, vm->fn[phase]);
	lua_rawgeti(co, LUA_REGISTRYINDEX, vm->obj_ref);
	lua_rawgeti(co, LUA_REGISTRYINDEX, vm->consts_ref);
	return c;
}

/* ---- the run queue ------------------------------------------------------ */

static const struct timeval zero_tv;

static void
runq_arm(struct lua_ws *ws)
{
	if (!TAILQ_EMPTY(&ws->runq) && !evtimer_pending(ws->ev, NULL))
		evtimer_add(ws->ev, &zero_tv);
}

/* A turn of the loop: the calls waiting for a slice get one each, in
 * order, for half a millisecond at most; the rest wait for the next
 * turn, after the loop's other events. */
static void
lua_on_runq(evutil_socket_t fd, short what, void *arg)
{
	struct lua_ws *ws = arg;
	uint64_t until = sl_mono_ns() + RUNQ_TURN_NS;
	struct lua_call *c;

	(void)fd;
	(void)what;
	sl_now_refresh();
	while ((c = TAILQ_FIRST(&ws->runq)) != NULL) {
		TAILQ_REMOVE(&ws->runq, c, q);
		c->queued = 0;
		sl_now_refresh(); /* each slice starts now */
		sl_exchange_filters_woken(c->t);
		if (sl_mono_ns() >= until)
			break;
	}
	runq_arm(ws);
}

/* ---- the filter ---------------------------------------------------------- */

/* The request's filter, for a route with a request function; the
 * response's (sl_filter_lua_resp), for one with a response function:
 * neither costs a route what it does not use. */
static int
lua_used(const struct sl_conf_route *r)
{
	const struct sl_conf_lua *c = sl_lua_route(r);

	return c != NULL && c->fn[SL_LUA_REQUEST] != NULL;
}

static int
lua_log_used(const struct sl_conf_route *r)
{
	const struct sl_conf_lua *c = sl_lua_route(r);

	return c != NULL && c->fn[SL_LUA_LOG] != NULL;
}

static int
lua_resp_used(const struct sl_conf_route *r)
{
	const struct sl_conf_lua *c = sl_lua_route(r);

	return c != NULL && c->fn[SL_LUA_RESPONSE] != NULL;
}

/* Whether a new call may run its first slice now: its worker's first
 * slices took less than RUNQ_TURN_NS in the millisecond (the event's
 * time), as the run queue's turns do. */
static int
inline_ok(struct lua_ws *ws)
{
	uint64_t now = (uint64_t)sl_now_ts.tv_sec * 1000000000u +
		       (uint64_t)sl_now_ts.tv_nsec;

	if (now - ws->win_ns >= 1000000) {
		ws->win_ns = now;
		ws->win_used_ns = 0;
	}
	return ws->win_used_ns < RUNQ_TURN_NS;
}

/* The first lua.body bytes of the request's body are here (or all of
 * it): SL_FILTER_GO; SL_FILTER_WAIT for them; or answered: a body larger
 * than lua.body is 413, one its codec refused as the codec says
 * (SL_FILTER_ANSWERED). */
static int
body_here(struct sl_seam *s, const struct sl_h1_request *req,
	  const struct sl_conf_lua *conf)
{
	struct sl_txn *t = s->txn;
	size_t want, n;
	const char *p;
	int whole;

	if (req->body == SL_H1_BODY_NONE)
		return SL_FILTER_GO;
	if (req->body == SL_H1_BODY_LENGTH && req->content_length > conf->body)
		goto too_large;
	/* a body without a length: one byte more says it is over */
	want = req->body == SL_H1_BODY_LENGTH ? (size_t)req->content_length
					      : (size_t)conf->body + 1;
	if ((req->flags & SL_H1_F_EXPECT_CONTINUE) && req->minor >= 1 &&
	    sl_buf_pending(&s->in) == 0)
		sl_exchange_continue(s);
	if (!sl_exchange_body_wait(s, want))
		return SL_FILTER_WAIT;
	n = sl_exchange_body_take(t, s->in.data + s->in.off,
				  s->in.len - s->in.off, want, &p, &whole);
	if (whole < 0)
		return sl_exchange_body_refuse(s);
	if (n > conf->body || (!whole && n < want))
		goto too_large;
	return SL_FILTER_GO;
too_large:
	log_info("conn=%llu request_id=%s route=%s: 413 lua_body_too_large: "
		 "the body is larger than the route's lua.body (%llu bytes)",
		 (unsigned long long)s->id, t->request_id, t->route->name,
		 (unsigned long long)conf->body);
	sl_exchange_answer(s, 413, "lua_body_too_large", 1, NULL);
	return SL_FILTER_ANSWERED;
}

static int
lua_req_head(struct sl_seam *s, struct sl_fhead *h)
{
	struct sl_txn *t = s->txn;
	struct lua_call **slot = lslot(t), *c = *slot;
	struct lua_ws *ws = lws(s->w);
	enum sl_luavm_rc rc;

	if (c == NULL) { /* its first run, or its body came */
		const struct sl_conf_lua *conf = sl_lua_route(t->route);
		int b;
		if (conf->body > 0 &&
		    (b = body_here(s, h->req, conf)) != SL_FILTER_GO) {
			t->flags |= SL_TXN_F_FEND;
			return b;
		}
		if ((c = call_start(s, SL_LUA_REQUEST, 0)) == NULL) {
			/* answered with on_error (lua_answer) */
			t->flags |= SL_TXN_F_FEND;
			return SL_FILTER_ANSWER;
		}
		/* the slot holds it; the exchange's end frees it only if
		 * it outlives this function (SL_TXN_F_FEND below) */
		*slot = c;
		c->h = h;
		if (!inline_ok(ws)) {
			/* the first slices of this millisecond are spent (a
			 * burst of calls): this one waits its turn */
			rc = SL_LUAVM_YIELD;
		} else {
			c->started = 1;
			rc = call_run(c, 2);
			ws->win_used_ns += c->run.used_ns;
		}
	} else {
		c->h = h; /* kept while it waited: it may have moved */
		c->s = s;
		if (c->started && c->http != HTTP_DONE)
			SL_STAT_INC(c->counts->slices);
		rc = call_run(c, c->started ? 0 : 2);
		c->started = 1;
	}
	switch (rc) {
	case SL_LUAVM_YIELD:
		t->flags |= SL_TXN_F_FEND;
		if (c->http == HTTP_WAITING)
			return SL_FILTER_WAIT; /* its answer wakes it */
		TAILQ_INSERT_TAIL(&ws->runq, c, q);
		c->queued = 1;
		runq_arm(ws);
		return SL_FILTER_WAIT;
	case SL_LUAVM_FAILED:
		t->flags |= SL_TXN_F_FEND;
		call_failed(s, c);
		c->status = 0;
		return SL_FILTER_ANSWER;
	default:
		if (c->status != 0) {
			t->flags |= SL_TXN_F_FEND;
			return SL_FILTER_ANSWER;
		}
		if (c->logword[0] != '\0' || c->nspans > 0) {
			t->flags |= SL_TXN_F_FEND;
			/* its thread goes back; what it logs stays till the
			 * line is written (lua_end frees it) */
			sl_luavm_end(&c->run);
			c->running = 0;
			return SL_FILTER_GO;
		}
		/* the fields it set are in the head's room: the call goes */
		call_end(ws, c);
		*slot = NULL;
		return SL_FILTER_GO;
	}
}

/* The script's answer, or on_error for a call that failed (or could not
 * start: no slot). */
static void
lua_answer(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct lua_call *c = *lslot(t);

	if (c != NULL && c->status != 0) {
		SL_STAT_INC(c->counts->answers);
		sl_exchange_answer_body(s, c->status, "lua_answer",
					c->fields != NULL ? c->fields : "",
					c->body != NULL ? c->body : "",
					c->blen);
		return;
	}
	sl_exchange_answer(s, (int)sl_lua_route(t->route)->on_error,
			   "lua_failed", 0, NULL);
}

/* The request is answered while its call waits for a slice or an
 * answer of r:http's: it stops. */
static void
lua_stop(struct sl_txn *t)
{
	struct lua_call *c = *lslot(t);

	if (c != NULL && c->sub != NULL) {
		sl_subreq_cancel(c->sub);
		c->sub = NULL;
	}
	if (c != NULL && c->queued) {
		TAILQ_REMOVE(&lws(t->s->w)->runq, c, q);
		c->queued = 0;
	}
}

static void
lua_end(struct sl_seam *s)
{
	struct lua_call **slot = lslot(s->txn);

	if (*slot != NULL)
		call_end(lws(s->w), *slot);
	*slot = NULL;
}

/* The response function: in one go (a response head does not wait). A
 * call that fails, or cannot run, answers the route's on_error in the
 * head's place (lua_resp_answer): what it changed never goes out,
 * counted and said. */
static int
lua_resp_head(struct sl_seam *s, struct sl_h1_response *resp, char *scratch)
{
	struct lua_call *c;
	int r = 0;

	if ((c = call_start(s, SL_LUA_RESPONSE, 1)) == NULL)
		return SL_FILTER_R_ANSWER; /* counted */
	c->resp = resp;
	c->scratch = scratch;
	c->scratch_used = 0;
	if (call_run(c, 2) == SL_LUAVM_FAILED) {
		call_failed(s, c);
		r = SL_FILTER_R_ANSWER;
	}
	call_end(lws(s->w), c);
	return r;
}

static void
lua_resp_answer(struct sl_seam *s)
{
	sl_exchange_answer(s, (int)sl_lua_route(s->txn->route)->on_error,
			   "lua_failed", 0, NULL);
}

static int
lua_worker_init(struct sl_worker *w, void *p, const struct sl_conf *conf)
{
	struct lua_ws *ws = p;

	(void)conf;
	ws->w = w;
	TAILQ_INIT(&ws->runq);
	if ((ws->ev = evtimer_new(w->base, lua_on_runq, ws)) == NULL)
		return -1;
	return 0;
}

static void
lua_worker_stop(struct sl_worker *w, void *p)
{
	struct lua_ws *ws = p;

	(void)w;
	if (ws->ev != NULL)
		evtimer_del(ws->ev);
}

static void
lua_worker_free(struct sl_worker *w, void *p)
{
	struct lua_ws *ws = p;
	struct lua_call *c;

	(void)w;
	while ((c = ws->free) != NULL) {
		ws->free = c->next_free;
		free(c);
	}
	if (ws->ev != NULL)
		event_free(ws->ev);
	ws->ev = NULL;
}

/* The access log's "lua" field: the word a request function logged. */
static void
lua_log_fields(struct sl_txn *t, struct sl_flog *l)
{
	struct lua_call *c = *lslot(t);

	if (c != NULL && c->logword[0] != '\0')
		sl_flog_add(l, 25, "lua", c->logword);
}

/* The server span's attributes the request function set (r:span): each
 * lua.NAME, its value masked as the span's others are. */
static void
lua_span_fields(struct sl_txn *t, struct sl_pbw *w)
{
	struct lua_call *c = *lslot(t);
	char key[4 + SPAN_NAME_MAX], v[SPAN_VALUE_MAX + 1];
	size_t at = 0, n, vn;

	if (c == NULL)
		return;
	memcpy(key, "lua.", 4);
	for (unsigned i = 0; i < c->nspans; i++) {
		n = strlen(c->span + at);
		memcpy(key + 4, c->span + at, n);
		at += n + 1;
		vn = strlen(c->span + at);
		memcpy(v, c->span + at, vn + 1);
		at += vn + 1;
		if (sl_log_cards())
			(void)sl_pan_mask(v, vn, 0);
		sl_span_str(w, key, 4 + n, v, vn);
	}
}

struct sl_filter sl_filter_lua = {
    .name = "lua",
    .phase = SL_FPHASE_CHECK,
    .span_fields = lua_span_fields,
    .log_fields = lua_log_fields,
    .ctx_size = sizeof(struct lua_call *), /* no begin: starts at zero */
    .wsize = sizeof(struct lua_ws),
    .worker_init = lua_worker_init,
    .worker_stop = lua_worker_stop,
    .worker_free = lua_worker_free,
    .used = lua_used,
    .req_head = lua_req_head,
    .answer = lua_answer,
    .stop = lua_stop,
    .end = lua_end,
};

/* The log function: in one go, once the exchange is over, as its line is
 * written (its answer went: a failure is counted and said, nothing
 * more). A word it logs is the line's "lua" field, in place of the
 * request function's; the worker keeps it until the line is written. */
static void
lua_log_run(struct sl_seam *s, struct sl_txn *t, struct sl_flog *l)
{
	struct lua_ws *ws = lws(s->w);
	struct lua_call *c;

	if (s->txn != t || (c = call_start(s, SL_LUA_LOG, 1)) == NULL)
		return;
	if (call_run(c, 2) == SL_LUAVM_FAILED)
		call_failed(s, c);
	else if (c->logword[0] != '\0') {
		unsigned i;
		memcpy(ws->logword, c->logword, sizeof(ws->logword));
		for (i = 0; i < l->n && strcmp(l->f[i].name, "lua") != 0; i++)
			;
		if (i < l->n)
			l->f[i].value = ws->logword;
		else
			sl_flog_add(l, 25, "lua", ws->logword);
	}
	call_end(ws, c);
}

/* The response function's filter: its call begins and ends in its
 * resp_head, on the worker's calls of sl_filter_lua's state. */
struct sl_filter sl_filter_lua_resp = {
    .name = "lua_resp",
    .phase = SL_FPHASE_CHECK,
    .used = lua_resp_used,
    .resp_head = lua_resp_head,
    .answer = lua_resp_answer,
};

struct sl_filter sl_filter_lua_log = {
    .name = "lua_log",
    .phase = SL_FPHASE_CHECK,
    .used = lua_log_used,
    .log = lua_log_run,
};

#else /* !HAVE_LUA: -t refuses a route's lua:, so no route uses it */

static int
lua_used(const struct sl_conf_route *r)
{
	(void)r;
	return 0;
}

struct sl_filter sl_filter_lua = {
    .name = "lua",
    .used = lua_used,
};
struct sl_filter sl_filter_lua_resp = {
    .name = "lua_resp",
    .used = lua_used,
};
struct sl_filter sl_filter_lua_log = {
    .name = "lua_log",
    .used = lua_used,
};
#endif
