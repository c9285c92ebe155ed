/* SPDX-License-Identifier: MIT */
/*
 * The objects a route's Lua functions are given (doc/lua.md, "The API"):
 * r, the request's (its head's fields, method and target, the caller a
 * filter verified, an answer of the script's, a cluster of the split, a
 * call to a cluster, the access line's word and the span's attributes,
 * and in the log function the exchange as its line shows it) and resp,
 * the response's. Whatever crosses from Lua into a head or an answer is
 * checked here (http/fieldcheck.c): a call that breaks a rule fails. A
 * method acts on the call running now (exchange_lua.c). Built only
 * with HAVE_LUA.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exchange_lua_int.h"
#include "fieldcheck.h"
#include "log.h"
#include "pan.h"
#include "subreq.h"
#include "util.h"

/* ---- what crosses from Lua into a head ------------------------------- */

_Thread_local struct lua_call *sl_lua_running; /* call_run's */

/* The phases a method is for (callof's mask). */
#define P_REQ  (1u << SL_LUA_REQUEST)
#define P_RESP (1u << SL_LUA_RESPONSE)
#define P_LOG  (1u << SL_LUA_LOG)

const char *const sl_lua_phase_names[SL_LUA_NPHASES] = {"request", "response",
							"log"};

/* The call a method acts on: the one running now (raises outside any
 * call), if it is of one of phases (raises otherwise). */
static struct lua_call *
callof(lua_State *L, unsigned phases)
{
	struct lua_call *c = sl_lua_running;

	if (c == NULL)
		luaL_error(L, "a request's object used outside a call");
	if (!(phases & (1u << c->phase)))
		luaL_error(L,
			   "not a method of the %s function's object "
			   "(doc/lua.md)",
			   sl_lua_phase_names[c->phase]);
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

/* Who a filter before verified the request comes from: a token's issuer
 * and subject (two values), nil: nobody. */
static int
req_caller(lua_State *L)
{
	struct lua_call *c = callof(L, P_REQ);
	const char *p = c->h->caller, *nl;

	if (p == NULL) {
		lua_pushnil(L);
		return 1;
	}
	/* a token's: "issuer\nsubject", two values */
	if ((nl = memchr(p, '\n', c->h->caller_len)) == NULL) {
		lua_pushlstring(L, p, c->h->caller_len);
		return 1;
	}
	lua_pushlstring(L, p, (size_t)(nl - p));
	lua_pushlstring(L, nl + 1, c->h->caller_len - (size_t)(nl + 1 - p));
	return 2;
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

void
sl_lua_http_res_free(struct lua_call *c)
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
		sl_lua_http_res_free(c);
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
	sl_lua_http_res_free(c);
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

const luaL_Reg sl_lua_methods[] = {
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

const size_t sl_lua_nmethods = SL_NELEM(sl_lua_methods) - 1;
