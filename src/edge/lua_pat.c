/* SPDX-License-Identifier: MIT */
/*
 * string.find, string.match, string.gmatch and string.gsub for the Lua
 * filters, on lpat.c's bounded matcher: the arguments, results and errors
 * of Lua 5.4's, but each call draws on the running script's step budget
 * and raises "pattern step budget exhausted" when it is gone. gsub builds
 * its result in a luaL_Buffer, so its memory is the state's allocator's.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lpat.h"
#include "lua_pat.h"

#define BUDGET_MSG "pattern step budget exhausted"

/* What every replaced function carries as its first upvalue (a full
 * userdata: a function pointer does not fit a light one portably). */
struct luapat_cfg {
	sl_luapat_steps_fn steps;
	sl_luapat_slice_fn slice;
};

/* gmatch's iterator state, a userdata kept by the iterator's closure
 * along with the subject and the pattern its pointers are into. */
struct luapat_gmatch {
	struct sl_lpat m;
	size_t pos;	       /* where the next try starts, bytes */
	const char *lastmatch; /* end of the last match, or NULL */
};

/* The budget of the running call; raises when there is none. */
static uint64_t *
budget(lua_State *L)
{
	const struct luapat_cfg *cfg = lua_touserdata(L, lua_upvalueindex(1));
	uint64_t *steps = cfg->steps(L);

	if (steps == NULL)
		luaL_error(L, BUDGET_MSG);
	return steps;
}

/* Takes n steps outside the matcher (gsub's replacements); raises when
 * the budget is gone. */
static void
charge(lua_State *L, uint64_t *steps, uint64_t n)
{
	if (*steps < n) {
		*steps = 0;
		luaL_error(L, BUDGET_MSG);
	}
	*steps -= n;
}

/* Raises the matcher's error as Lua's own functions would. */
static int
throw_err(lua_State *L, const struct sl_lpat *m)
{
	if (m->status == SL_LPAT_E_BUDGET)
		return luaL_error(L, BUDGET_MSG);
	return luaL_error(L, "%s", m->err);
}

/* Lua's reading of a start position: negative from the end, 0 as 1, and
 * before the start as 1; 1-based. */
static size_t
start_pos(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0)
		return 1;
	if (pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

/* Pushes capture i of the match [s, e); raises on a bad one. */
static void
push_one(lua_State *L, struct sl_lpat *m, int i, const char *s, const char *e)
{
	const char *cap;
	ptrdiff_t len = sl_lpat_capture(m, i, s, e, &cap);

	if (len == SL_LPAT_E_PATTERN)
		throw_err(L, m);
	else if (len == SL_LPAT_CAP_POSITION)
		lua_pushinteger(L, (cap - m->src) + 1);
	else
		lua_pushlstring(L, cap, (size_t)len);
}

/* Pushes the captures, or the whole match when there are none and s is
 * not NULL (find passes NULL: it has already given the bounds). */
static int
push_captures(lua_State *L, struct sl_lpat *m, const char *s, const char *e)
{
	int n = (m->level == 0 && s != NULL) ? 1 : m->level;

	luaL_checkstack(L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_one(L, m, i, s, e);
	return n;
}

/* The steps a try may take: its allowance (0: the slice's, from the
 * config), within the budget; 0 with *yields 0: the whole budget. */
static uint64_t
try_steps(lua_State *L, uint64_t allow, const uint64_t *steps, int *yields)
{
	const struct luapat_cfg *cfg = lua_touserdata(L, lua_upvalueindex(1));

	if (allow == 0 && cfg->slice != NULL)
		allow = cfg->slice(L);
	*yields = allow > 0 && allow < *steps;
	return *yields ? allow : *steps;
}

static int find_k(lua_State *L, int st, lua_KContext k);

/* A try after one that ran out: twice its steps, up to TRY_MAX (about
 * 1.8 ms at 7 ns a step: the longest the loop is held by a pattern). */
#define TRY_MAX ((uint64_t)1 << 18)
static uint64_t
next_try(uint64_t tried)
{
	return tried * 2 < TRY_MAX ? tried * 2 : TRY_MAX;
}

/* string.find (find 1) and string.match (find 0), a try of allow steps
 * (0: a slice's): when they run out before the budget does, the call
 * yields and the try starts again with twice as many, up to TRY_MAX (the
 * budget pays for each try, so a pattern that needs S steps costs at
 * most about 2S, or S plus a try for every TRY_MAX past it). */
static int
find_aux(lua_State *L, int find, uint64_t allow)
{
	size_t ls, lp, st, en;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
	uint64_t *steps, tried, left;
	struct sl_lpat m;
	ptrdiff_t at;
	int rc, yields;

	if (init > ls) {
		luaL_pushfail(L);
		return 1;
	}
	steps = budget(L);
	tried = left = try_steps(L, allow, steps, &yields);
	if (find && (lua_toboolean(L, 4) || sl_lpat_is_plain(p, lp))) {
		/* linear in the subject: the whole budget */
		at = sl_lpat_memfind(s + init, ls - init, p, lp, steps);
		if (at == SL_LPAT_E_BUDGET)
			return luaL_error(L, BUDGET_MSG);
		if (at >= 0) {
			lua_pushinteger(L,
					(lua_Integer)(init + (size_t)at) + 1);
			lua_pushinteger(L,
					(lua_Integer)(init + (size_t)at + lp));
			return 2;
		}
		luaL_pushfail(L);
		return 1;
	}
	sl_lpat_init(&m, s, ls, p, lp, &left);
	rc = sl_lpat_find(&m, init, &st, &en);
	*steps -= tried - left;
	if (rc == SL_LPAT_E_BUDGET && yields && *steps > 0)
		return lua_yieldk(
		    L, 0, (lua_KContext)(next_try(tried) << 1 | (unsigned)find),
		    find_k);
	if (rc < 0)
		return throw_err(L, &m);
	if (rc == 0) {
		luaL_pushfail(L);
		return 1;
	}
	if (find) {
		lua_pushinteger(L, (lua_Integer)st + 1);
		lua_pushinteger(L, (lua_Integer)en);
		return push_captures(L, &m, NULL, NULL) + 2;
	}
	return push_captures(L, &m, s + st, s + en);
}

/* find_aux resumed: its arguments are as they were. */
static int
find_k(lua_State *L, int st, lua_KContext k)
{
	(void)st;
	return find_aux(L, (int)(k & 1), (uint64_t)k >> 1);
}

static int
luapat_find(lua_State *L)
{
	return find_aux(L, 1, 0);
}

static int
luapat_match(lua_State *L)
{
	return find_aux(L, 0, 0);
}

static int gmatch_k(lua_State *L, int st, lua_KContext k);

/* gmatch's iterator: the next match from where the last one ended, never
 * an empty match where the last one ended (Lua 5.4's rule); a try of
 * allow steps, as find_aux's (the positions it passed stay passed). */
static int
gmatch_next(lua_State *L, uint64_t allow)
{
	struct luapat_gmatch *gm = lua_touserdata(L, lua_upvalueindex(4));
	struct sl_lpat *m = &gm->m;
	size_t len = (size_t)(m->src_end - m->src);
	const char *s, *e;
	uint64_t *steps, tried, left;
	int yields;

	/* The budget is the caller's now, perhaps another coroutine's. */
	steps = budget(L);
	tried = left = try_steps(L, allow, steps, &yields);
	m->steps = &left;
	for (; gm->pos <= len; gm->pos++) {
		s = m->src + gm->pos;
		e = sl_lpat_match(m, s, m->pat);
		if (e == NULL && m->status != 0) {
			*steps -= tried - left;
			if (m->status == SL_LPAT_E_BUDGET && yields &&
			    *steps > 0)
				return lua_yieldk(L, 0,
						  (lua_KContext)next_try(tried),
						  gmatch_k);
			return throw_err(L, m);
		}
		if (e != NULL && e != gm->lastmatch) {
			*steps -= tried - left;
			gm->pos = (size_t)(e - m->src);
			gm->lastmatch = e;
			return push_captures(L, m, s, e);
		}
	}
	*steps -= tried - left;
	return 0;
}

static int
gmatch_k(lua_State *L, int st, lua_KContext k)
{
	(void)st;
	return gmatch_next(L, (uint64_t)k);
}

static int
luapat_gmatch_next(lua_State *L)
{
	return gmatch_next(L, 0);
}

/* string.gmatch (s, pattern [, init]): '^' is an ordinary character here,
 * as in Lua, since an anchor would stop the iteration. */
static int
luapat_gmatch(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_pos(luaL_optinteger(L, 3, 1), ls) - 1;
	struct luapat_gmatch *gm;

	/* the strings stay alive as the closure's upvalues */
	lua_settop(L, 2);
	gm = lua_newuserdatauv(L, sizeof(*gm), 0);
	sl_lpat_init(&gm->m, s, ls, p, lp, NULL);
	gm->pos = init > ls ? ls + 1 : init;
	gm->lastmatch = NULL;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_rotate(L, 1, 1);
	lua_pushcclosure(L, luapat_gmatch_next, 4);
	return 1;
}

/* Appends gsub's string replacement (argument 3) for the match [s, e):
 * %0 the match, %1-%9 its captures, %% a '%'. */
static void
add_string(lua_State *L, struct sl_lpat *m, luaL_Buffer *b, const char *s,
	   const char *e)
{
	size_t l;
	const char *news = lua_tolstring(L, 3, &l), *p, *cap;
	ptrdiff_t len;

	charge(L, m->steps, 1 + l / 16);
	while ((p = memchr(news, '%', l)) != NULL) {
		luaL_addlstring(b, news, (size_t)(p - news));
		/* the string's terminating NUL makes p[1] readable */
		p++;
		if (*p == '%') {
			luaL_addchar(b, '%');
		} else if (*p == '0') {
			luaL_addlstring(b, s, (size_t)(e - s));
		} else if (isdigit((unsigned char)*p)) {
			len = sl_lpat_capture(m, *p - '1', s, e, &cap);
			if (len == SL_LPAT_E_PATTERN) {
				throw_err(L, m);
			} else if (len == SL_LPAT_CAP_POSITION) {
				lua_pushinteger(L, (cap - m->src) + 1);
				luaL_addvalue(b);
			} else {
				luaL_addlstring(b, cap, (size_t)len);
			}
		} else {
			luaL_error(L,
				   "invalid use of '%c' in replacement string",
				   '%');
		}
		l -= (size_t)(p + 1 - news);
		news = p + 1;
	}
	luaL_addlstring(b, news, l);
}

/* Appends the replacement of type tr for the match [s, e); returns
 * whether it changed anything (false or nil keeps the match). */
static int
add_value(lua_State *L, struct sl_lpat *m, luaL_Buffer *b, const char *s,
	  const char *e, int tr)
{
	int n;

	switch (tr) {
	case LUA_TFUNCTION:
		lua_pushvalue(L, 3);
		n = push_captures(L, m, s, e);
		lua_call(L, n, 1);
		break;
	case LUA_TTABLE:
		push_one(L, m, 0, s, e);
		lua_gettable(L, 3);
		break;
	default:
		add_string(L, m, b, s, e);
		return 1;
	}
	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
		return 0;
	}
	if (!lua_isstring(L, -1))
		return luaL_error(L, "invalid replacement value (a %s)",
				  luaL_typename(L, -1));
	luaL_addvalue(b);
	return 1;
}

/* string.gsub (s, pattern, repl [, n]) */
static int
luapat_gsub(lua_State *L)
{
	size_t srcl, lp;
	const char *src = luaL_checklstring(L, 1, &srcl);
	const char *p = luaL_checklstring(L, 2, &lp);
	const char *lastmatch = NULL, *e;
	int tr = lua_type(L, 3);
	lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
	int anchor = lp > 0 && *p == '^';
	lua_Integer n = 0;
	int changed = 0;
	struct sl_lpat m;
	luaL_Buffer b;

	luaL_argexpected(L,
			 tr == LUA_TNUMBER || tr == LUA_TSTRING ||
			     tr == LUA_TFUNCTION || tr == LUA_TTABLE,
			 3, "string/function/table");
	luaL_buffinit(L, &b);
	if (anchor) {
		p++;
		lp--;
	}
	sl_lpat_init(&m, src, srcl, p, lp, budget(L));
	while (n < max_s) {
		e = sl_lpat_match(&m, src, p);
		if (e == NULL && m.status != 0)
			return throw_err(L, &m);
		if (e != NULL && e != lastmatch) {
			n++;
			changed = add_value(L, &m, &b, src, e, tr) | changed;
			src = lastmatch = e;
		} else if (src < m.src_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, src, (size_t)(m.src_end - src));
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

/* Sets the four functions in the table at index t, the config userdata
 * at index cfg as their upvalue. */
static void
set_funcs(lua_State *L, int t, int cfg)
{
	static const luaL_Reg funcs[] = {
	    {"find", luapat_find},
	    {"match", luapat_match},
	    {"gmatch", luapat_gmatch},
	    {"gsub", luapat_gsub},
	};

	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		lua_pushvalue(L, cfg);
		lua_pushcclosure(L, funcs[i].func, 1);
		lua_setfield(L, t, funcs[i].name);
	}
}

void
sl_luapat_open(lua_State *L, sl_luapat_steps_fn steps, sl_luapat_slice_fn slice)
{
	struct luapat_cfg *cfg;
	int top = lua_gettop(L), c, t;

	cfg = lua_newuserdatauv(L, sizeof(*cfg), 0);
	cfg->steps = steps;
	cfg->slice = slice;
	c = lua_gettop(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	if (lua_getfield(L, -1, "string") == LUA_TTABLE) {
		t = lua_gettop(L);
		set_funcs(L, t, c);
		/* s:find() goes through the strings' metatable */
		lua_pushliteral(L, "");
		if (lua_getmetatable(L, -1)) {
			if (lua_getfield(L, -1, "__index") == LUA_TTABLE &&
			    !lua_rawequal(L, -1, t))
				set_funcs(L, lua_gettop(L), c);
		}
	}
	lua_settop(L, top);
}
