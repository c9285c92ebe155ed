/* SPDX-License-Identifier: MIT */
/*
 * A route's Lua functions as a filter (doc/lua.md): the request function
 * at the request's head, after every other check of the route (it reads
 * what they verified), the response function at the upstream's response
 * head; the objects they are given (r, resp) and what crosses from Lua
 * into a head or an answer, checked there. A call runs in slices
 * (edge/luavm.c): one whose slice is over waits (SL_FILTER_WAIT) on the
 * worker's run queue, which the loop serves half a millisecond a turn
 * between its other events, so that a script that loops holds no other
 * request up for longer than a slice. The module (conf/conf_lua.c) holds
 * the keys and the script's text; each worker makes its state of the
 * script at its first request of the route.
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
#include "fieldcheck.h"
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
#include <lauxlib.h>
#include <lua.h>

extern struct sl_filter sl_filter_lua, sl_filter_lua_resp, sl_filter_lua_log;

/* The loop serves the run queue this long a turn. */
#define RUNQ_TURN_NS 500000
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
/* calls kept for reuse, per worker */
#define CACHE_MAX 64

/* The registry references a state keeps (struct sl_luavm's refs). */
enum { REF_CONSTS = 0, REF_OBJ };

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

/* ---- what crosses from Lua into a head ------------------------------- */

/* The call a method acts on: the one running now (raises outside any
 * call), in phase (-1: either; raises for the other). */
static _Thread_local struct lua_call *lua_running; /* call_run's */

/* The phases a method is for (callof's mask). */
#define P_REQ  (1u << SL_LUA_REQUEST)
#define P_RESP (1u << SL_LUA_RESPONSE)
#define P_LOG  (1u << SL_LUA_LOG)

static const char *const phase_names[SL_LUA_NPHASES] = {"request", "response",
							"log"};

static struct lua_call *
callof(lua_State *L, unsigned phases)
{
	struct lua_call *c = lua_running;

	if (c == NULL)
		luaL_error(L, "a request's object used outside a call");
	if (!(phases & (1u << c->phase)))
		luaL_error(L,
			   "not a method of the %s function's object "
			   "(doc/lua.md)",
			   phase_names[c->phase]);
	return c;
}

/* A field's name a script may set (http/fieldcheck.c): the name, or an
 * error raised that says why (the call fails: on_error). A short string
 * is one object for its text: a name checked good is remembered by its
 * address (a script's constant is checked once). */
static __attribute__((noinline, cold)) const char *
check_name_slow(lua_State *L, struct sl_luavm *vm, int i, const char *p,
		size_t n, const char *who)
{
	enum sl_fieldcheck e;

	if (p == NULL)
		luaL_error(L, "%s: a field's name is a string", who);
	if ((e = sl_fieldcheck_name(p, n)) != SL_FC_OK)
		luaL_error(L, "%s: \"%s\": %s", who,
			   e == SL_FC_NAME_LENGTH ? "(long)" : p,
			   sl_fieldcheck_str(e));
	if (n <= 40)
		sl_luavm_see(vm, 0, L, i, p);
	return p;
}

static SL_INLINE const char *
check_name(lua_State *L, struct sl_luavm *vm, int i, size_t *n, const char *who)
{
	const char *p = lua_tolstring(L, i, n);

	if (p != NULL && sl_luavm_seen(vm, 0, p))
		return p;
	return check_name_slow(L, vm, i, p, *n, who);
}

/* A field's value (http/fieldcheck.c), as check_name. */
static __attribute__((noinline, cold)) const char *
check_value_slow(lua_State *L, struct sl_luavm *vm, int i, const char *p,
		 size_t n, const char *who)
{
	enum sl_fieldcheck e;

	if (p == NULL)
		luaL_error(L, "%s: a value is a string or a number", who);
	if ((e = sl_fieldcheck_value(p, n)) != SL_FC_OK)
		luaL_error(L, "%s: %s", who, sl_fieldcheck_str(e));
	if (n <= 40)
		sl_luavm_see(vm, 1, L, i, p);
	return p;
}

static SL_INLINE const char *
check_value(lua_State *L, struct sl_luavm *vm, int i, size_t *n,
	    const char *who)
{
	const char *p = lua_tolstring(L, i, n);

	if (p != NULL && sl_luavm_seen(vm, 1, p))
		return p;
	return check_value_slow(L, vm, i, p, *n, who);
}

/* ---- r: the request ---------------------------------------------------- */

static __attribute__((noreturn, noinline, cold)) void
room_full(lua_State *L)
{
	luaL_error(L, "r:set: no room left for fields (%d bytes a request)",
		   SL_FHEAD_ROOM);
	abort();
}

/* Copies n bytes into the head's room (it lasts until the head is
 * written). */
static SL_INLINE const char *
room_copy(lua_State *L, struct sl_fhead *h, const char *p, size_t n)
{
	char *d;

	if (h->room_used + n > sizeof(h->room))
		room_full(L);
	d = (char *)h->room + h->room_used;
	sl_copy_short(d, p, n);
	h->room_used += (uint32_t)n;
	return d;
}

static int
req_get(lua_State *L, struct lua_call *c)
{
	const struct sl_fwd_extra *x = c->h->extra;
	const struct sl_h1_request *req = c->h->req;
	size_t n;
	const char *name = luaL_checklstring(L, 2, &n);

	for (unsigned i = 0; x != NULL && i < x->nset; i++)
		if (x->set[i].nlen == n &&
		    strncasecmp(x->set[i].name, name, n) == 0) {
			lua_pushlstring(L, x->set[i].value, x->set[i].vlen);
			return 1;
		}
	for (unsigned i = 0; x != NULL && i < x->ndrop; i++)
		if (x->drop[i].len == n &&
		    strncasecmp(x->drop[i].name, name, n) == 0) {
			lua_pushnil(L);
			return 1;
		}
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name_len == n &&
		    strncasecmp(req->headers[i].name, name, n) == 0) {
			lua_pushlstring(L, req->headers[i].value,
					req->headers[i].value_len);
			return 1;
		}
	lua_pushnil(L);
	return 1;
}

/* Drops name from what goes up (the client's field of the name, and
 * what was set before): the name as the drop list holds it. */
static __attribute__((noreturn, noinline, cold)) void
too_many(lua_State *L)
{
	luaL_error(L, "r:set: at most %d fields a request", SL_FWD_EXTRA_MAX);
	abort();
}

static SL_INLINE const char *
req_drop(lua_State *L, struct lua_call *c, const char *name, size_t n)
{
	struct sl_fwd_extra *x = sl_fhead_extra(c->h);
	unsigned i, k;

	for (i = k = 0; i < x->nset; i++)
		if (!(x->set[i].nlen == n &&
		      strncasecmp(x->set[i].name, name, n) == 0))
			x->set[k++] = x->set[i];
	x->nset = k;
	for (i = 0; i < x->ndrop; i++)
		if (x->drop[i].len == n &&
		    strncasecmp(x->drop[i].name, name, n) == 0)
			return x->drop[i].name;
	if (x->ndrop >= SL_FWD_EXTRA_MAX)
		too_many(L);
	x->drop[x->ndrop].name = room_copy(L, c->h, name, n);
	x->drop[x->ndrop].len = n;
	x->drop_lens |= (uint64_t)1 << (n & 63);
	return x->drop[x->ndrop++].name;
}

static int
req_set(lua_State *L, struct lua_call *c)
{
	size_t n, vn;
	const char *name = check_name(L, c->run.vm, 2, &n, "r:set");
	const char *v = check_value(L, c->run.vm, 3, &vn, "r:set");
	const char *kept = req_drop(L, c, name, n);
	struct sl_fwd_extra *x = c->h->extra;

	if (x->nset >= SL_FWD_EXTRA_MAX)
		too_many(L);
	x->set[x->nset].name = kept;
	x->set[x->nset].nlen = n;
	x->set[x->nset].value = room_copy(L, c->h, v, vn);
	x->set[x->nset++].vlen = vn;
	return 0;
}

static int
req_del(lua_State *L, struct lua_call *c)
{
	size_t n;
	const char *name = check_name(L, c->run.vm, 2, &n, "r:del");

	req_drop(L, c, name, n);
	return 0;
}

/* The request's method and target: its head's in the request function,
 * as the access log shows them in the log function (log.query applied,
 * card numbers masked: doc/operations.md). */
static void
req_line(lua_State *L, const char **m, size_t *ml, const char **p, size_t *pl)
{
	struct lua_call *c = callof(L, P_REQ | P_LOG);

	if (c->phase == SL_LUA_LOG) {
		*m = c->t->note.method;
		*ml = strlen(*m);
		*p = sl_exchange_note_path(c->t);
		*pl = strlen(*p);
		return;
	}
	*m = c->h->req->method;
	*ml = c->h->req->method_len;
	*p = c->h->req->path;
	*pl = c->h->req->path_len;
}

static int
req_method(lua_State *L)
{
	const char *m, *p;
	size_t ml, pl;

	req_line(L, &m, &ml, &p, &pl);
	lua_pushlstring(L, m, ml);
	return 1;
}

static int
req_target(lua_State *L)
{
	const char *m, *p;
	size_t ml, pl;

	req_line(L, &m, &ml, &p, &pl);
	lua_pushlstring(L, p, pl);
	return 1;
}

/* The path without its query, and the query (nil: none). */
static int
req_path(lua_State *L)
{
	const char *m, *p, *q;
	size_t ml, pl;

	req_line(L, &m, &ml, &p, &pl);
	q = memchr(p, '?', pl);
	lua_pushlstring(L, p, q != NULL ? (size_t)(q - p) : pl);
	return 1;
}

static int
req_query(lua_State *L)
{
	const char *m, *p, *q;
	size_t ml, pl;

	req_line(L, &m, &ml, &p, &pl);
	if ((q = memchr(p, '?', pl)) == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, q + 1, pl - (size_t)(q + 1 - p));
	return 1;
}

static int
req_host(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ | P_LOG);

	if (c->phase == SL_LUA_LOG) {
		if (c->t->note.host[0] == '\0')
			lua_pushnil(L);
		else
			lua_pushstring(L, c->t->note.host);
	} else if (c->h->req->host == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, c->h->req->host, c->h->req->host_len);
	return 1;
}

static int
req_client(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ | P_LOG);
	char ip[64];

	lua_pushstring(L, sl_ip_str(&c->t->client_addr, ip, sizeof(ip)));
	return 1;
}

/* Who a filter before verified the request comes from (a token's
 * issuer and subject), nil: nobody. */
static int
req_caller(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);

	if (c->h->caller == NULL)
		lua_pushnil(L);
	else
		lua_pushlstring(L, c->h->caller, c->h->caller_len);
	return 1;
}

/* The verified client certificate's subject, nil: none. */
static int
req_tls_subject(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);

	if (c->s->tls_subject == NULL)
		lua_pushnil(L);
	else
		lua_pushstring(L, c->s->tls_subject);
	return 1;
}

/* r:answer(status [, body [, fields]]): sluice answers the request with
 * them once the function returns; nothing goes upstream. */
static int
req_answer(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);
	lua_Integer st = luaL_checkinteger(L, 2);
	size_t blen = 0, fl = 0, fcap = 0;
	const char *body = luaL_optlstring(L, 3, NULL, &blen);
	char *nf = NULL, *nb = NULL;

	if (st < 200 || st > 599)
		return luaL_error(L, "r:answer: a status from 200 to 599");
	if (blen > BODY_MAX)
		return luaL_error(L, "r:answer: a body is at most %d bytes",
				  (int)BODY_MAX);
	if (!lua_isnoneornil(L, 4))
		luaL_checktype(L, 4, LUA_TTABLE);
	lua_settop(L, 4);
	/* checked first, in Lua's own loop (an error leaves nothing to
	 * free), then copied */
	for (int pass = 0; pass < 2 && !lua_isnil(L, 4); pass++) {
		lua_pushnil(L);
		while (lua_next(L, 4) != 0) {
			size_t n, vn;
			const char *name, *v;
			if (lua_type(L, -2) != LUA_TSTRING ||
			    lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "r:answer: fields are "
						     "name = \"value\"");
			name = check_name(L, c->run.vm, -2, &n, "r:answer");
			v = check_value(L, c->run.vm, -1, &vn, "r:answer");
			if (pass == 0) {
				sl_luavm_charge(L, n + vn);
				fcap += n + vn + 4;
			} else {
				memcpy(nf + fl, name, n);
				memcpy(nf + fl + n, ": ", 2);
				memcpy(nf + fl + n + 2, v, vn);
				memcpy(nf + fl + n + 2 + vn, "\r\n", 2);
				fl += n + vn + 4;
			}
			lua_pop(L, 1);
		}
		if (pass == 0 && (nf = malloc(fcap + 1)) == NULL)
			return luaL_error(L, "r:answer: out of memory");
	}
	if (nf == NULL && (nf = malloc(1)) == NULL)
		return luaL_error(L, "r:answer: out of memory");
	nf[fl] = '\0';
	if (blen > 0 && (nb = malloc(blen)) == NULL) {
		free(nf);
		return luaL_error(L, "r:answer: out of memory");
	}
	if (blen > 0)
		memcpy(nb, body, blen);
	free(c->body);
	free(c->fields);
	c->body = nb;
	c->blen = blen;
	c->fields = nf;
	c->status = (int)st;
	return 0;
}

/* ---- r:http: a request of the script's to a cluster ------------------ */

enum http_state { HTTP_NONE = 0, HTTP_WAITING, HTTP_DONE };

/* What r:http takes back of an answer: its body's bytes at most, and
 * its head's fields. */
#define HTTP_BODY_MAX (256u << 10)
#define HTTP_HEAD_MAX 16384

static void
http_res_free(struct lua_call *c)
{
	if (c->res.body != NULL || c->res.fields != NULL) {
		free(c->res.body);
		free(c->res.fields);
		c->res.body = c->res.fields = NULL;
	}
}

/* The subrequest ended: what came back is kept for the call, which the
 * request's filters resume. */
static void
http_done(const struct sl_subreq_result *r, void *arg)
{
	struct lua_call *c = arg;
	size_t o = 0;

	c->sub = NULL;
	c->http = HTTP_DONE;
	c->res.status = r->status;
	c->res.why =
	    r->why != NULL ? r->why : (r->status == 0 ? "no_answer" : NULL);
	if (r->closing)
		return; /* the worker stops: the request goes with it */
	if (c->res.why == NULL && r->body_len > 0 &&
	    (c->res.body = malloc(r->body_len)) != NULL) {
		memcpy(c->res.body, r->body, r->body_len);
		c->res.blen = r->body_len;
	}
	for (size_t i = 0; c->res.why == NULL && i < r->nheaders; i++)
		o += r->headers[i].name_len + r->headers[i].value_len + 2;
	if (o > 0 && o <= HTTP_HEAD_MAX &&
	    (c->res.fields = malloc(o)) != NULL) {
		char *p = c->res.fields;
		for (size_t i = 0; i < r->nheaders; i++) {
			const struct sl_h1_header *h = &r->headers[i];
			for (size_t k = 0; k < h->name_len; k++)
				*p++ = (char)(h->name[k] >= 'A' &&
						      h->name[k] <= 'Z'
						  ? h->name[k] + 32
						  : h->name[k]);
			*p++ = '\0';
			memcpy(p, h->value, h->value_len);
			p += h->value_len;
			*p++ = '\0';
		}
		c->res.flen = o;
	}
	sl_exchange_filters_woken(c->t);
}

/* r:http's results, on the call's thread once it is resumed: a table
 * {status, body, headers} or nil and why. */
static int
http_k(lua_State *L, int st, lua_KContext k)
{
	struct lua_call *c = (struct lua_call *)(uintptr_t)k;

	(void)st;
	c->http = HTTP_NONE;
	if (c->res.why != NULL) {
		http_res_free(c);
		lua_pushnil(L);
		lua_pushstring(L, c->res.why);
		return 2;
	}
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, c->res.status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, c->res.body != NULL ? c->res.body : "", c->res.blen);
	lua_setfield(L, -2, "body");
	lua_createtable(L, 0, 8);
	for (size_t o = 0; o < c->res.flen;) {
		const char *n = c->res.fields + o, *v = n + strlen(n) + 1;
		o = (size_t)(v - c->res.fields) + strlen(v) + 1;
		lua_pushstring(L, v);
		lua_setfield(L, -2, n);
	}
	lua_setfield(L, -2, "headers");
	http_res_free(c);
	return 1;
}

/* A string field of the table at 2, or def. */
static const char *
opt_field(lua_State *L, const char *k, const char *def, size_t *n)
{
	const char *v;

	lua_getfield(L, 2, k);
	v = luaL_optlstring(L, -1, def, n);
	lua_pop(L, 1);
	return v;
}

/*
 * r:http{cluster=, method=, path=, headers=, body=, timeout=}: a request
 * to a cluster the route's lua.calls names, sent on the worker's pooled
 * connections (proxy/subreq.c); the call waits for the answer holding
 * nothing of the loop (its running time does not count the wait), then
 * gets {status=, body=, headers=} (names in lower case) or nil and why
 * ("timeout", "connect", ...).
 */
static int
req_http(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);
	const struct sl_conf_lua *conf = c->conf;
	struct sl_seam *s = c->s;
	const struct sl_conf_cluster *cl = NULL;
	size_t n, mn, pn, bn = 0, o;
	const char *name, *method, *path, *body;
	double timeout;
	char *rq;

	luaL_checktype(L, 2, LUA_TTABLE);
	if (L != c->run.co || !lua_isyieldable(L))
		return luaL_error(L, "r:http: from the request function itself "
				     "(not a coroutine of its own, a "
				     "metamethod or a callback)");
	name = opt_field(L, "cluster", NULL, &n);
	for (size_t i = 0; name != NULL && i < conf->ncalls; i++)
		if (strcmp(conf->calls[i]->name, name) == 0)
			cl = conf->calls[i];
	if (cl == NULL)
		return luaL_error(L,
				  "r:http: %s is no cluster of the route's "
				  "lua.calls",
				  name != NULL ? name : "nil");
	method = opt_field(L, "method", "GET", &mn);
	path = opt_field(L, "path", "/", &pn);
	body = opt_field(L, "body", NULL, &bn);
	lua_getfield(L, 2, "timeout");
	timeout = luaL_optnumber(L, -1, 1.0);
	lua_pop(L, 1);
	if (!(timeout > 0 && timeout <= 60))
		return luaL_error(L, "r:http: a timeout of 0 to 60 seconds");
	for (size_t k = 0; k < mn; k++)
		if (sl_fieldcheck_name(method + k, 1) == SL_FC_NAME_TOKEN)
			return luaL_error(L, "r:http: a bad method");
	if (pn == 0 || path[0] != '/')
		return luaL_error(L, "r:http: a path begins with /");
	for (size_t k = 0; k < pn; k++)
		if ((unsigned char)path[k] <= ' ' || path[k] == 0x7f)
			return luaL_error(L, "r:http: a bad byte in the path");
	if (bn > BODY_MAX)
		return luaL_error(L, "r:http: a body is at most %d bytes",
				  (int)BODY_MAX);
	/* the head: checked fields of the script's, then sluice's */
	lua_getfield(L, 2, "headers");
	o = mn + pn + strlen(cl->name) + 128;
	if (!lua_isnil(L, -1)) {
		luaL_checktype(L, -1, LUA_TTABLE);
		lua_pushnil(L);
		while (lua_next(L, -2) != 0) {
			size_t hn, hv;
			if (lua_type(L, -2) != LUA_TSTRING ||
			    lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "r:http: headers are "
						     "name = \"value\"");
			check_name(L, c->run.vm, -2, &hn, "r:http");
			check_value(L, c->run.vm, -1, &hv, "r:http");
			o += hn + hv + 4;
			lua_pop(L, 1);
		}
	}
	if (o > HTTP_HEAD_MAX)
		return luaL_error(L, "r:http: a head of at most %d bytes",
				  HTTP_HEAD_MAX);
	if ((rq = malloc(o + bn)) == NULL)
		return luaL_error(L, "r:http: out of memory");
	n = (size_t)snprintf(rq, o,
			     "%.*s %.*s HTTP/1.1\r\nHost: %s\r\n"
			     "X-Request-Id: %s\r\nContent-Length: %zu\r\n",
			     (int)mn, method, (int)pn, path, cl->name,
			     c->t->request_id, bn);
	if (!lua_isnil(L, -1)) {
		lua_pushnil(L);
		while (lua_next(L, -2) != 0) {
			size_t hn, hv;
			const char *h = lua_tolstring(L, -2, &hn);
			const char *v = lua_tolstring(L, -1, &hv);
			memcpy(rq + n, h, hn);
			memcpy(rq + n + hn, ": ", 2);
			memcpy(rq + n + hn + 2, v, hv);
			memcpy(rq + n + hn + 2 + hv, "\r\n", 2);
			n += hn + hv + 4;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	memcpy(rq + n, "\r\n", 2);
	n += 2;
	if (bn > 0)
		memcpy(rq + n, body, bn);
	n += bn;
	c->res.body = c->res.fields = NULL;
	c->res.blen = c->res.flen = 0;
	c->sub = sl_subreq_start(s->w, s->gen, &s->gen->clusters[cl->index], rq,
				 n, HTTP_BODY_MAX, (uint64_t)(timeout * 1000),
				 http_done, c);
	if (c->sub == NULL) {
		lua_pushnil(L);
		lua_pushstring(L, "connect");
		return 2;
	}
	c->http = HTTP_WAITING;
	return lua_yieldk(L, 0, (lua_KContext)(uintptr_t)c, http_k);
}

/* ---- resp: the response ------------------------------------------------ */

static int
resp_status(lua_State *L)
{
	struct lua_call *c = callof(L, P_RESP | P_LOG);

	lua_pushinteger(L, c->phase == SL_LUA_LOG
			       ? (lua_Integer)c->t->status
			       : (lua_Integer)c->resp->status);
	return 1;
}

static int
resp_get(lua_State *L, struct lua_call *c)
{
	const struct sl_h1_response *resp = c->resp;
	size_t n;
	const char *name = luaL_checklstring(L, 2, &n);

	for (size_t i = 0; i < resp->nheaders; i++)
		if (resp->headers[i].name_len == n &&
		    strncasecmp(resp->headers[i].name, name, n) == 0) {
			lua_pushlstring(L, resp->headers[i].value,
					resp->headers[i].value_len);
			return 1;
		}
	lua_pushnil(L);
	return 1;
}

static void
resp_drop(struct sl_h1_response *resp, const char *name, size_t n)
{
	size_t i, k;

	for (i = k = 0; i < resp->nheaders; i++)
		if (!(resp->headers[i].name_len == n &&
		      strncasecmp(resp->headers[i].name, name, n) == 0))
			resp->headers[k++] = resp->headers[i];
	resp->nheaders = k;
}

static int
resp_set(lua_State *L, struct lua_call *c)
{
	struct sl_h1_response *resp = c->resp;
	size_t n, vn;
	const char *name = check_name(L, c->run.vm, 2, &n, "resp:set");
	const char *v = check_value(L, c->run.vm, 3, &vn, "resp:set");
	struct sl_h1_header *f;

	resp_drop(resp, name, n);
	if (resp->nheaders >= resp->max_headers)
		return luaL_error(L, "resp:set: no room for another field");
	if (c->scratch_used + n + vn > SL_FILTER_SCRATCH)
		return luaL_error(L, "resp:set: at most %d bytes of fields set",
				  SL_FILTER_SCRATCH);
	f = &resp->headers[resp->nheaders++];
	memcpy(c->scratch + c->scratch_used, name, n);
	f->name = c->scratch + c->scratch_used;
	f->name_len = n;
	memcpy(c->scratch + c->scratch_used + n, v, vn);
	f->value = c->scratch + c->scratch_used + n;
	f->value_len = vn;
	f->kind = SL_HK_OTHER;
	c->scratch_used += n + vn;
	return 0;
}

static int
resp_del(lua_State *L, struct lua_call *c)
{
	size_t n;
	const char *name = check_name(L, c->run.vm, 2, &n, "resp:del");

	resp_drop(c->resp, name, n);
	return 0;
}

/* The methods both objects have, by the call's phase. */
static int
m_get(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ | P_RESP);

	return c->phase == SL_LUA_REQUEST ? req_get(L, c) : resp_get(L, c);
}

static int
m_set(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ | P_RESP);

	return c->phase == SL_LUA_REQUEST ? req_set(L, c) : resp_set(L, c);
}

static int
m_del(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ | P_RESP);

	return c->phase == SL_LUA_REQUEST ? req_del(L, c) : resp_del(L, c);
}

static int
m_route(lua_State *L)
{
	lua_pushstring(L, callof(L, P_REQ | P_RESP | P_LOG)->t->route->name);
	return 1;
}

/* The objects' methods: r's, resp's (status), and both's. */
/* r:log(word): the access log's field "lua" for the request (1 to 64
 * bytes of [A-Za-z0-9._:-]: a word of the script's, written as it is in
 * either format). */
static int
req_log(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ | P_LOG);
	size_t n;
	const char *w = luaL_checklstring(L, 2, &n);

	if (n == 0 || n > 64)
		return luaL_error(L, "r:log: a word of 1 to 64 bytes");
	for (size_t k = 0; k < n; k++) {
		char ch = w[k];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == ':' || ch == '-'))
			return luaL_error(L, "r:log: a word of letters, "
					     "digits and . _ : -");
	}
	memcpy(c->logword, w, n);
	c->logword[n] = '\0';
	if (c->phase == SL_LUA_REQUEST)
		c->t->flags |= SL_TXN_F_LOGF;
	return 0;
}

/* r:span(name, value): an attribute lua.NAME of the request's server span
 * when it is traced (doc/lua.md): a name of 1 to 48 bytes of a-z 0-9 _ .,
 * a value of at most 256 printable ASCII bytes; at most 8 a request, a
 * name set again replaced. */
static int
req_span(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);
	size_t n, vn, at = 0;
	const char *name = luaL_checklstring(L, 2, &n);
	const char *v = lua_tolstring(L, 3, &vn);
	unsigned i;

	if (n == 0 || n > SPAN_NAME_MAX)
		return luaL_error(L, "r:span: a name of 1 to %d bytes",
				  SPAN_NAME_MAX);
	for (size_t k = 0; k < n; k++)
		if (!((name[k] >= 'a' && name[k] <= 'z') ||
		      (name[k] >= '0' && name[k] <= '9') || name[k] == '_' ||
		      name[k] == '.'))
			return luaL_error(L, "r:span: a name of a-z 0-9 _ .");
	if (v == NULL)
		return luaL_error(L, "r:span: a value is a string or a number");
	if (vn > SPAN_VALUE_MAX)
		return luaL_error(L, "r:span: a value of at most %d bytes",
				  SPAN_VALUE_MAX);
	for (size_t k = 0; k < vn; k++)
		if ((unsigned char)v[k] < 0x20 || (unsigned char)v[k] > 0x7e)
			return luaL_error(L, "r:span: a value of printable "
					     "ASCII");
	/* a name set again: its pair goes, the rest moves up */
	for (i = 0; i < c->nspans; i++) {
		size_t nl = strlen(c->span + at), pl = nl + 1;
		pl += strlen(c->span + at + pl) + 1;
		if (nl == n && memcmp(c->span + at, name, n) == 0) {
			memmove(c->span + at, c->span + at + pl,
				c->span_used - at - pl);
			c->span_used = (uint16_t)(c->span_used - pl);
			c->nspans--;
			break;
		}
		at += pl;
	}
	if (c->nspans >= SPAN_MAX)
		return luaL_error(L, "r:span: at most %d attributes a request",
				  SPAN_MAX);
	if (c->span_used + n + vn + 2 > SPAN_ROOM)
		return luaL_error(L, "r:span: at most %d bytes a request",
				  SPAN_ROOM);
	memcpy(c->span + c->span_used, name, n);
	c->span[c->span_used + n] = '\0';
	memcpy(c->span + c->span_used + n + 1, v, vn);
	c->span[c->span_used + n + 1 + vn] = '\0';
	c->span_used = (uint16_t)(c->span_used + n + vn + 2);
	c->nspans++;
	return 0;
}

/* r:cluster(name): the request goes to that cluster of the route's
 * split (or the route's own cluster, which it goes to anyway). Raises
 * when the route has no such cluster. */
static int
req_cluster(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);
	const struct sl_conf_route *r = c->t->route;
	const char *name = luaL_checkstring(L, 2);

	if (r->cluster != NULL) {
		if (strcmp(r->cluster->name, name) != 0)
			return luaL_error(L,
					  "r:cluster: the route's cluster is "
					  "\"%s\", not \"%s\"",
					  r->cluster->name, name);
		return 0;
	}
	for (size_t i = 0; i < r->nsplit && i < 255; i++)
		if (strcmp(r->split[i].cluster->name, name) == 0) {
			c->h->split_pick = (uint8_t)(i + 1);
			return 0;
		}
	return luaL_error(L,
			  "r:cluster: \"%s\" is no cluster of the route's "
			  "split",
			  name);
}

/* r:body(): the request's body, its first lua.body bytes (the route
 * waited for them before the call began); "" without a body. */
static int
req_body(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);
	struct sl_seam *s = c->s;
	const char *p = "";
	size_t n = 0;
	int whole;

	if (c->conf->body == 0)
		return luaL_error(L, "r:body: the route's lua has no body: "
				     "(doc/lua.md)");
	if (c->h->req->body != SL_H1_BODY_NONE)
		n = sl_exchange_body_take(c->t, s->in.data + s->in.off,
					  s->in.len - s->in.off, c->conf->body,
					  &p, &whole);
	if (n == (size_t)-1)
		n = 0;
	sl_luavm_charge(L, n / 16);
	lua_pushlstring(L, p, n);
	return 1;
}

/* The log function's: the error the access line names (nil: none), and
 * the exchange's time so far, in milliseconds. */
static int
req_error(lua_State *L)
{
	struct lua_call *c = callof(L, P_LOG);
	const char *e = c->t->why != SL_H1_R_NONE ? sl_h1_reason_str(c->t->why)
						  : c->t->error;

	if (e == NULL || e[0] == '\0')
		lua_pushnil(L);
	else
		lua_pushstring(L, e);
	return 1;
}

static int
req_duration_ms(lua_State *L)
{
	struct lua_call *c = callof(L, P_LOG);

	lua_pushinteger(L, (lua_Integer)(now_ms() - c->t->clk.start_ms));
	return 1;
}

static const luaL_Reg methods[] = {
    {"get", m_get},	      {"set", m_set},
    {"del", m_del},	      {"route", m_route},
    {"method", req_method},   {"target", req_target},
    {"path", req_path},	      {"query", req_query},
    {"host", req_host},	      {"client", req_client},
    {"caller", req_caller},   {"tls_subject", req_tls_subject},
    {"answer", req_answer},   {"body", req_body},
    {"cluster", req_cluster}, {"http", req_http},
    {"log", req_log},	      {"span", req_span},
    {"error", req_error},     {"duration_ms", req_duration_ms},
    {"status", resp_status},  {NULL, NULL}};

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
	lua_createtable(L, 0, (int)SL_NELEM(methods));
	luaL_setfuncs(L, methods, 0);
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, obj_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	vm->refs[REF_OBJ] = luaL_ref(L, LUA_REGISTRYINDEX);
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
	vm->refs[REF_CONSTS] = luaL_ref(L, LUA_REGISTRYINDEX);
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
	http_res_free(c);
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
			  t->route->name, phase_names[c->phase],
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

	lua_running = c;
	/* from the event's time (the loop's clock, read as it began) */
	rc = sl_luavm_resume(&c->run, nargs,
			     (uint64_t)sl_now_ts.tv_sec * 1000000000u +
				 (uint64_t)sl_now_ts.tv_nsec);
	lua_running = NULL;
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
	lua_rawgeti(co, LUA_REGISTRYINDEX, vm->refs[REF_OBJ]);
	lua_rawgeti(co, LUA_REGISTRYINDEX, vm->refs[REF_CONSTS]);
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

/* The slot of a request whose function waits for the body's bytes
 * before it begins (no call yet). */
static struct lua_call body_waiting;

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

	if (c == NULL || c == &body_waiting) {
		const struct sl_conf_lua *conf = sl_lua_route(t->route);
		int b;
		if (conf->body > 0 &&
		    (b = body_here(s, h->req, conf)) != SL_FILTER_GO) {
			*slot = b == SL_FILTER_WAIT ? &body_waiting : NULL;
			t->flags |= SL_TXN_F_FEND;
			return b;
		}
		*slot = NULL;
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

	if (c == &body_waiting)
		c = NULL;
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

	if (c == &body_waiting)
		return;
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

	if (*slot != NULL && *slot != &body_waiting)
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

	if (c != NULL && c != &body_waiting && c->logword[0] != '\0')
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

	if (c == NULL || c == &body_waiting)
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
