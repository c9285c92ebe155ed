/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the bounded Lua pattern matcher (src/edge/lpat.c).
 * The input's first byte is find's start (a signed byte, Lua's reading of
 * negative ones), the second the subject's length (modulo what is left),
 * then the subject and the pattern. With a budget of 100,000 steps:
 * a match lies in the subject from the start on, its captures too; the
 * same steps it used suffice again for the same answer, one fewer runs
 * out. With Lua (HAVE_LUA; fuzz.mk sets it when pkg-config finds lua5.4)
 * the bindings (lua_pat.c) run find, match, gmatch and gsub in one state
 * and liblua5.4's own in another: the same results and errors, but where
 * the bounded call ran out of steps, whose input the real one is never
 * given, since it could run for minutes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lpat.h"

#ifdef HAVE_LUA
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_pat.h"
#endif

#define BUDGET 100000
#define MAXLEN 512

/* Runs find on the subject and pattern with budget steps; returns rc and
 * the steps used in *used. */
static int
find(struct sl_lpat *m, const char *s, size_t sl, const char *p, size_t pl,
     size_t init, uint64_t budget, size_t *st, size_t *en, uint64_t *used)
{
	uint64_t steps = budget;
	int rc;

	sl_lpat_init(m, s, sl, p, pl, &steps);
	rc = sl_lpat_find(m, init, st, en);
	*used = budget - steps;
	CHECK(rc != SL_LPAT_E_BUDGET || steps == 0);
	CHECK(rc != SL_LPAT_E_PATTERN || m->err != NULL);
	return rc;
}

/* The matcher alone: bounds and the budget's exactness. */
static int
check_core(const char *s, size_t sl, const char *p, size_t pl, size_t init)
{
	struct sl_lpat m, m2;
	size_t st, en, st2, en2;
	uint64_t used, used2;
	const char *c;
	ptrdiff_t len;
	int rc, rc2;

	rc = find(&m, s, sl, p, pl, init, BUDGET, &st, &en, &used);
	if (rc == 1) {
		CHECK(init <= st && st <= en && en <= sl);
		for (int i = 0; i < m.level; i++) {
			len = sl_lpat_capture(&m, i, s + st, s + en, &c);
			if (len == SL_LPAT_E_PATTERN)
				continue;
			CHECK(c >= s && c <= s + sl);
			if (len >= 0)
				CHECK(c + len <= s + sl);
		}
	}
	if (rc == SL_LPAT_E_BUDGET)
		return rc;
	rc2 = find(&m2, s, sl, p, pl, init, used, &st2, &en2, &used2);
	CHECK(rc2 == rc && used2 == used);
	if (rc == 1)
		CHECK(st2 == st && en2 == en && m2.level == m.level);
	if (used > 0) {
		rc2 =
		    find(&m2, s, sl, p, pl, init, used - 1, &st2, &en2, &used2);
		CHECK(rc2 == SL_LPAT_E_BUDGET);
	}
	return rc;
}

#ifdef HAVE_LUA
static uint64_t lua_steps;

static uint64_t *
fuzz_steps(lua_State *L)
{
	(void)L;
	return &lua_steps;
}

/* T(k, s, p, init) describes one call's results or its error, the same
 * text in both states when they agree. */
static const char chunk[] =
    "local function ser(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[i] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local kinds = {\n"
    "  function(s, p, i) return string.find(s, p, i) end,\n"
    "  function(s, p, i) return string.match(s, p, i) end,\n"
    "  function(s, p, i)\n"
    "    local out, it = {}, string.gmatch(s, p, i)\n"
    "    while #out < 64 do\n"
    "      local r = table.pack(it())\n"
    "      if r[1] == nil then break end\n"
    "      out[#out + 1] = ser(table.unpack(r, 1, r.n))\n"
    "    end\n"
    "    return table.concat(out, ';')\n"
    "  end,\n"
    "  function(s, p, i) return string.gsub(s, p, '<%0|%1>', i) end,\n"
    "  function(s, p) return string.gsub(s, p, function(...)\n"
    "    return (select('#', ...) % 2 == 0) and ser(...) or nil end) end,\n"
    "}\n"
    "NKINDS = #kinds\n"
    "function T(k, s, p, i)\n"
    "  local r = table.pack(pcall(kinds[k], s, p, i))\n"
    "  if r[1] then return 'ok ' .. ser(table.unpack(r, 2, r.n)) end\n"
    "  return 'err ' .. tostring(r[2])\n"
    "end\n";

static lua_State *ref, *ours;
static int nkinds;

static lua_State *
new_state(int bounded)
{
	lua_State *L = luaL_newstate();

	CHECK(L != NULL);
	luaL_openlibs(L);
	if (bounded)
		sl_luapat_open(L, fuzz_steps, NULL);
	CHECK(luaL_dostring(L, chunk) == LUA_OK);
	return L;
}

/* T(k, ...) in L, its text copied into out (cut to fit). */
static void
run(lua_State *L, int k, const char *s, size_t sl, const char *p, size_t pl,
    lua_Integer init, char *out, size_t outlen)
{
	lua_getglobal(L, "T");
	lua_pushinteger(L, k);
	lua_pushlstring(L, s, sl);
	lua_pushlstring(L, p, pl);
	lua_pushinteger(L, init);
	CHECK(lua_pcall(L, 4, 1, 0) == LUA_OK);
	snprintf(out, outlen, "%s", lua_tostring(L, -1));
	lua_settop(L, 0);
}

static void
check_lua(const char *s, size_t sl, const char *p, size_t pl, lua_Integer init)
{
	static char a[1 << 16], b[1 << 16];

	if (ref == NULL) {
		ref = new_state(0);
		ours = new_state(1);
		lua_getglobal(ref, "NKINDS");
		nkinds = (int)lua_tointeger(ref, -1);
		lua_settop(ref, 0);
	}
	for (int k = 1; k <= nkinds; k++) {
		lua_steps = BUDGET;
		run(ours, k, s, sl, p, pl, init, b, sizeof(b));
		/* only what the bounded one finished is safe to give Lua */
		if (strstr(b, "pattern step budget exhausted") != NULL)
			continue;
		run(ref, k, s, sl, p, pl, init, a, sizeof(a));
		if (strcmp(a, b) != 0) {
			fprintf(stderr,
				"fuzz_lpat: kind %d differs\n  lua:  %s\n"
				"  ours: %s\n",
				k, a, b);
			abort();
		}
	}
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s, *p;
	size_t sl, pl, init;
	int8_t pos;

	if (size < 2 || size > MAXLEN)
		return 0;
	pos = (int8_t)data[0];
	sl = data[1] % (size - 1);
	s = (const char *)data + 2;
	p = s + sl;
	pl = size - 2 - sl;
	/* Lua's reading of init: negative from the end, 0 or before as 1 */
	if (pos > 0)
		init = (size_t)pos - 1;
	else if (pos == 0 || (size_t)-pos > sl)
		init = 0;
	else
		init = sl - (size_t)-pos;
	if (init <= sl)
		check_core(s, sl, p, pl, init);
#ifdef HAVE_LUA
	check_lua(s, sl, p, pl, pos);
#endif
	return 0;
}
