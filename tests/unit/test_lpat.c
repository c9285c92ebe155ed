/* SPDX-License-Identifier: MIT */
/*
 * The bounded Lua pattern matcher (src/edge/lpat.c): every kind of item,
 * captures, anchors, malformed patterns, the depth and capture limits and
 * the step budget. With Lua (HAVE_LUA), the bindings (src/edge/lua_pat.c)
 * against liblua5.4's own string library: a table of cases and a few
 * thousand pseudo-random ones must give the same results and errors from
 * find, match, gmatch and gsub in both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lpat.h"

#ifdef HAVE_LUA
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_pat.h"
#endif

/* ---- the matcher alone ----------------------------------------------- */

/*
 * What sl_lpat_find says of pattern p in s from init (0-based), as text:
 * "nil", "error: MSG", "budget", or "START-END" (1-based, as Lua's find)
 * then each capture, 'text' or @position.
 */
static const char *
desc_n(const char *s, size_t sl, const char *p, size_t pl, size_t init,
       uint64_t budget)
{
	static char out[1024];
	uint64_t steps = budget;
	struct sl_lpat m;
	size_t st, en, n;
	const char *c;
	ptrdiff_t len;
	int rc;

	sl_lpat_init(&m, s, sl, p, pl, &steps);
	rc = sl_lpat_find(&m, init, &st, &en);
	if (rc == SL_LPAT_E_BUDGET) {
		assert_int_equal(steps, 0);
		return "budget";
	}
	if (rc < 0) {
		snprintf(out, sizeof(out), "error: %s", m.err);
		return out;
	}
	if (rc == 0)
		return "nil";
	n = (size_t)snprintf(out, sizeof(out), "%zu-%zu", st + 1, en);
	for (int i = 0; i < m.level && n < sizeof(out); i++) {
		len = sl_lpat_capture(&m, i, s + st, s + en, &c);
		if (len == SL_LPAT_CAP_POSITION)
			n += (size_t)snprintf(out + n, sizeof(out) - n, " @%td",
					      c - s + 1);
		else if (len < 0)
			n += (size_t)snprintf(out + n, sizeof(out) - n,
					      " error: %s", m.err);
		else
			n += (size_t)snprintf(out + n, sizeof(out) - n,
					      " '%.*s'", (int)len, c);
	}
	return out;
}

static const char *
desc(const char *s, const char *p)
{
	return desc_n(s, strlen(s), p, strlen(p), 0, 1000000);
}

#define EXPECT(s, p, want) assert_string_equal(desc(s, p), want)

static void
test_literals_and_any(void **state)
{
	(void)state;
	EXPECT("hello world", "o w", "5-7");
	EXPECT("hello", "l+", "3-4");
	EXPECT("hello", "x", "nil");
	EXPECT("hello", "", "1-0");
	EXPECT("", "", "1-0");
	EXPECT("abc", "b.", "2-3");
	EXPECT("abc", "c.", "nil");
	EXPECT("a.c", "%.", "2-2");
	/* an embedded NUL is an ordinary byte on both sides */
	assert_string_equal(desc_n("a\0b", 3, "\0b", 2, 0, 1000), "2-3");
	/* %z, a NUL byte: left out of the manual, kept by Lua 5.4 */
	assert_string_equal(desc_n("a\0b", 3, "%z", 2, 0, 1000), "2-2");
	assert_string_equal(desc_n("a\0b", 3, "%Z+", 3, 0, 1000), "1-1");
}

static void
test_classes(void **state)
{
	(void)state;
	EXPECT("ab12 \t!Z", "%d+", "3-4");
	EXPECT("ab12 \t!Z", "%s+", "5-6");
	EXPECT("ab12 \t!Z", "%p", "7-7");
	EXPECT("ab12 \t!Z", "%u", "8-8");
	EXPECT("ab12 \t!Z", "%l+", "1-2");
	EXPECT("ab12 \t!Z", "%w+", "1-4");
	EXPECT("ab12 \t!Z", "%a%a", "1-2");
	EXPECT("ab12 \t!Z", "%A+", "3-7");
	EXPECT("ab12 \t!Z", "%D+", "1-2");
	EXPECT("ab12 \t!Z", "%S+", "1-4");
	EXPECT("xyzfF0", "%x+", "4-6");
	EXPECT("a\x01", "%c", "2-2");
	EXPECT(" a", "%g", "2-2");
	EXPECT("a\xe9", "%a+", "1-1");
	EXPECT("a%b", "%%", "2-2");
}

static void
test_sets(void **state)
{
	(void)state;
	EXPECT("hello", "[lo]+", "3-5");
	EXPECT("hello", "[^h]+", "2-5");
	EXPECT("x-y", "[a-]", "2-2");
	EXPECT("b", "[a-c]", "1-1");
	EXPECT("]", "[]]", "1-1");
	EXPECT("a]", "[^]]", "1-1");
	EXPECT("a1_", "[%d_]+", "2-3");
	EXPECT("a]b", "[%]]", "2-2");
	EXPECT("^", "[x^]", "1-1");
	EXPECT("-", "[-a]", "1-1");
	EXPECT("z", "[%a-z]", "1-1");
	EXPECT("A", "[^%l]", "1-1");
}

static void
test_quantifiers(void **state)
{
	(void)state;
	EXPECT("aaab", "a*", "1-3");
	EXPECT("baaa", "a*", "1-0");
	EXPECT("aaab", "a-b", "1-4");
	EXPECT("aaab", "a-", "1-0");
	EXPECT("aaab", "a+b", "1-4");
	EXPECT("b", "a+b", "nil");
	EXPECT("ab", "a?b", "1-2");
	EXPECT("b", "a?b", "1-1");
	EXPECT("<a><b>", "<.->", "1-3");
	EXPECT("<a><b>", "<.*>", "1-6");
	EXPECT("a+", "a%+", "1-2");
}

static void
test_anchors(void **state)
{
	(void)state;
	EXPECT("hello", "^h", "1-1");
	EXPECT("hello", "^e", "nil");
	EXPECT("hello", "o$", "5-5");
	EXPECT("hello", "l$", "nil");
	EXPECT("a$b", "$b", "2-3");
	EXPECT("^a", "a^", "nil");
	EXPECT("x^", "x^", "1-2");
	EXPECT("", "^$", "1-0");
	assert_string_equal(desc_n("hello", 5, "^l", 2, 2, 1000), "3-3");
	assert_string_equal(desc_n("hello", 5, "^l", 2, 1, 1000), "nil");
	assert_string_equal(desc_n("hello", 5, "", 0, 5, 1000), "6-5");
}

static void
test_captures(void **state)
{
	(void)state;
	EXPECT("key = value", "(%w+)%s*=%s*(%w+)", "1-11 'key' 'value'");
	EXPECT("hello", "()ll()", "3-4 @3 @5");
	EXPECT("hello", "(h(e)(l+))", "1-4 'hell' 'e' 'll'");
	EXPECT("abab", "(ab)%1", "1-4 'ab'");
	EXPECT("abac", "(ab)%1", "nil");
	EXPECT("xyx", "(.).%1", "1-3 'x'");
	/* a back-reference to a position capture never matches */
	EXPECT("aa", "()a%1", "nil");
	/* an unfinished capture matches, and fails only when read */
	EXPECT("ab", "(a", "1-1 error: unfinished capture");
	EXPECT("ab", "a()", "1-1 @2");
}

static void
test_balance_frontier(void **state)
{
	(void)state;
	EXPECT("f(a(b)c) d", "%b()", "2-8");
	EXPECT("f(a(b c", "%b()", "nil");
	EXPECT("x\"a\"b", "%b\"\"", "2-4");
	EXPECT("THE (quick) fox", "%f[%a]%a+", "1-3");
	EXPECT("THE (quick) fox", "%f[%l]%a+", "6-10");
	EXPECT("hello", "%f[%z]", "6-5");
	EXPECT("hello", "o%f[%z]", "5-5");
	EXPECT("hello", "%f[^%a]", "6-5");
	EXPECT("ab", "%f[a]", "1-0");
	EXPECT("ab", "%f[b]", "2-1");
	EXPECT("bb", "%f[b]b%f[b]", "nil");
}

static void
test_malformed(void **state)
{
	(void)state;
	EXPECT("a", "%", "error: malformed pattern (ends with '%')");
	EXPECT("a", "[a", "error: malformed pattern (missing ']')");
	EXPECT("a", "[a%]", "error: malformed pattern (missing ']')");
	EXPECT("a", "[", "error: malformed pattern (missing ']')");
	EXPECT("a", "[^", "error: malformed pattern (missing ']')");
	EXPECT("a", "%b",
	       "error: malformed pattern (missing arguments to "
	       "'%b')");
	EXPECT("a", "%bx",
	       "error: malformed pattern (missing arguments to "
	       "'%b')");
	EXPECT("a", "%f", "error: missing '[' after '%f' in pattern");
	EXPECT("a", "%fx", "error: missing '[' after '%f' in pattern");
	EXPECT("a", "a)", "error: invalid pattern capture");
	EXPECT("a", "%1", "error: invalid capture index %1");
	EXPECT("a", "%0", "error: invalid capture index %0");
	EXPECT("a", "(a%1)", "error: invalid capture index %1");
	EXPECT("aa", "(a)%2", "error: invalid capture index %2");
	/* found only when the matcher gets there, as in Lua */
	EXPECT("b", "a%", "nil");
	EXPECT("b", "a[", "nil");
}

static void
test_limits(void **state)
{
	char p[512], s[512];
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		memcpy(p + 2 * i, "()", 2);
	p[64] = '\0';
	assert_int_equal(strncmp(desc("x", p), "1-0 @1 @1", 9), 0);
	strcat(p, "()");
	EXPECT("x", p, "error: too many captures");
	/* each "a?" that matches nests one call: 200 are allowed */
	for (i = 0; i < 200; i++)
		memcpy(s + 2 * i, "a?", 2);
	s[400] = '\0';
	memset(p, 'a', 100);
	p[100] = '\0';
	assert_string_equal(desc(p, s), "1-100");
	memset(p, 'a', 120);
	p[120] = '\0';
	assert_string_equal(desc_n(p, 120, s, 400, 0, 1000000), "1-120");
	for (i = 0; i < 201; i++)
		memcpy(s + 2 * i, "a?", 2);
	s[402] = '\0';
	memset(p, 'a', 201);
	assert_string_equal(desc_n(p, 201, s, 402, 0, 1000000),
			    "error: pattern too complex");
}

/* The budget stops the classic catastrophic pattern early, and a budget
 * that suffices gives the same answer as a huge one. */
static void
test_budget(void **state)
{
	static char a[10000];
	struct timespec t0, t1;
	double ms;

	(void)state;
	memset(a, 'a', sizeof(a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_string_equal(desc_n(a, sizeof(a), ".-.-.-.-b$", 10, 0, 1000000),
			    "budget");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* generous: a million steps take a few ms, even under ASan */
	assert_true(ms < 2000);
	assert_string_equal(desc_n(a, sizeof(a), "a-b", 3, 0, 1000000),
			    "budget");
	assert_string_equal(desc_n(a, 100, "a-b", 3, 0, 1000000), "nil");
	assert_string_equal(desc_n("ab", 2, "b", 1, 0, 0), "budget");
	assert_string_equal(desc_n("ab", 2, "", 0, 0, 1), "1-0");
	assert_string_equal(desc_n("ab", 2, "x", 1, 0, 100), "nil");
	/* %b takes a step per byte it scans */
	assert_string_equal(desc_n(a, sizeof(a), "%bab", 4, 0, 5000), "budget");
}

static void
test_memfind(void **state)
{
	static char a[100000];
	uint64_t steps;

	(void)state;
	memset(a, 'a', sizeof(a));
	a[sizeof(a) - 1] = 'b';
	steps = 1000000;
	assert_int_equal(sl_lpat_memfind(a, sizeof(a), "ab", 2, &steps),
			 sizeof(a) - 2);
	/* linear in the subject: under twice its length */
	assert_true(1000000 - steps < 2 * sizeof(a));
	steps = 1000;
	assert_int_equal(sl_lpat_memfind(a, sizeof(a), "ab", 2, &steps),
			 SL_LPAT_E_BUDGET);
	assert_int_equal(steps, 0);
	steps = 10;
	assert_int_equal(sl_lpat_memfind("abc", 3, "", 0, &steps), 0);
	assert_int_equal(sl_lpat_memfind("abc", 3, "abcd", 4, &steps), -1);
	assert_int_equal(sl_lpat_memfind("abc", 3, "c", 1, &steps), 2);
	/* a needle longer than a window */
	steps = 1000000;
	assert_int_equal(
	    sl_lpat_memfind(a, sizeof(a), a + 50001, 49999, &steps), 50001);
	assert_true(sl_lpat_is_plain("abc def", 7));
	assert_true(sl_lpat_is_plain("a\0b", 3));
	assert_false(sl_lpat_is_plain("a.b", 3));
	assert_false(sl_lpat_is_plain("a\0%", 3));
}

#ifdef HAVE_LUA
/* ---- the bindings, against liblua5.4 ---------------------------------- */

static uint64_t lua_steps;
static int lua_no_budget;

static uint64_t *
test_steps(lua_State *L)
{
	(void)L;
	return lua_no_budget ? NULL : &lua_steps;
}

/* The same chunk in both states: T(kind, s, p, init) runs one call and
 * describes its results (types and values) or its error. The library's
 * functions are looked up at each call, so the bounded ones are met. */
static const char chunk[] =
    "local function ser(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[i] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return select('#', ...) .. '[' .. table.concat(t, ',') .. ']'\n"
    "end\n"
    "local tab = {a = 'A', b = false, ['('] = 7, [1] = 'one', [3] = {}}\n"
    "local function fn(...)\n"
    "  local a = ...\n"
    "  if a == 'b' then return false end\n"
    "  if a == 'c' then return {} end\n"
    "  return '<' .. ser(...) .. '>'\n"
    "end\n"
    "local kinds = {\n"
    "  function(s, p, i) return string.find(s, p, i) end,\n"
    "  function(s, p, i) return string.match(s, p, i) end,\n"
    "  function(s, p, i)\n"
    "    local out, it = {}, string.gmatch(s, p, i)\n"
    "    while #out < 100 do\n"
    "      local r = table.pack(it())\n"
    "      if r[1] == nil then break end\n"
    "      out[#out + 1] = ser(table.unpack(r, 1, r.n))\n"
    "    end\n"
    "    return table.concat(out, ';')\n"
    "  end,\n"
    "  function(s, p) return string.gsub(s, p, '<%1>') end,\n"
    "  function(s, p, i) return string.gsub(s, p, '[%0%%]', i) end,\n"
    "  function(s, p) return string.gsub(s, p, fn) end,\n"
    "  function(s, p) return string.gsub(s, p, tab) end,\n"
    "  function(s, p, i) return string.find(s, p, i, true) end,\n"
    "  function(s, p, i) return s:match(p, i) end,\n"
    "  function(s, p) return string.gsub(s, p, '%2') end,\n"
    "  function(s, p) return string.gsub(s, p, 'x%') end,\n"
    "  function(s, p) return string.gsub(s, p, '%x') end,\n"
    "  function(s, p, i) return string.gsub(s, p, 7, i) end,\n"
    "  function(s, p) return string.gsub(s, p) end,\n"
    "  function(s, p) return string.gsub(s, p, {}, 'x') end,\n"
    "  function(s, p, i) return string.find(s, p, i, false) end,\n"
    "}\n"
    "NKINDS = #kinds\n"
    "function T(k, s, p, i)\n"
    "  local r = table.pack(pcall(kinds[k], s, p, i))\n"
    "  if r[1] then return 'ok ' .. ser(table.unpack(r, 2, r.n)) end\n"
    "  return 'err ' .. tostring(r[2])\n"
    "end\n";

static lua_State *
new_state(int bounded)
{
	lua_State *L = luaL_newstate();

	assert_non_null(L);
	luaL_openlibs(L);
	if (bounded)
		sl_luapat_open(L, test_steps, NULL);
	if (luaL_dostring(L, chunk) != LUA_OK)
		fail_msg("chunk: %s", lua_tostring(L, -1));
	return L;
}

/* T(k, s, p, init) in L; init INT64_MIN for none. Returns a copy. */
static char *
run(lua_State *L, int k, const char *s, size_t sl, const char *p, size_t pl,
    int64_t init)
{
	char *r;

	lua_getglobal(L, "T");
	lua_pushinteger(L, k);
	lua_pushlstring(L, s, sl);
	lua_pushlstring(L, p, pl);
	if (init == INT64_MIN)
		lua_pushnil(L);
	else
		lua_pushinteger(L, init);
	if (lua_pcall(L, 4, 1, 0) != LUA_OK)
		fail_msg("T: %s", lua_tostring(L, -1));
	r = strdup(lua_tostring(L, -1));
	lua_pop(L, 1);
	return r;
}

struct diff {
	lua_State *ref, *ours;
	int nkinds;
	long cases, differ;
};

/* Runs every kind on (s, p, init) in both states; counts differences. */
static void
compare(struct diff *d, const char *s, size_t sl, const char *p, size_t pl,
	int64_t init)
{
	for (int k = 1; k <= d->nkinds; k++) {
		char *a = run(d->ref, k, s, sl, p, pl, init);
		char *b;

		lua_steps = UINT64_MAX / 2;
		b = run(d->ours, k, s, sl, p, pl, init);
		d->cases++;
		if (strcmp(a, b) != 0) {
			if (d->differ++ < 20)
				print_message("differ: kind %d s=\"%.*s\" "
					      "p=\"%.*s\" init=%lld\n"
					      "  lua:  %s\n  ours: %s\n",
					      k, (int)sl, s, (int)pl, p,
					      (long long)init, a, b);
		}
		free(a);
		free(b);
	}
}

static const struct {
	const char *s, *p;
	int64_t init;
} fixed[] = {
    {"hello world", "o", INT64_MIN},
    {"hello world", "o", 6},
    {"hello world", "o", -3},
    {"hello world", "o", -100},
    {"hello world", "o", 0},
    {"hello world", "o", 12},
    {"hello world", "o", 13},
    {"hello world", "", 12},
    {"hello world", "", 13},
    {"hello world", "^h", 1},
    {"hello world", "^o", 5},
    {"hello world", "(o)(r?)", INT64_MIN},
    {"hello world", "()o()", INT64_MIN},
    {"hello world", "%w+", INT64_MIN},
    {"hello world", "%w*", INT64_MIN},
    {"hello world", "", INT64_MIN},
    {"hello world", "x*", INT64_MIN},
    {"hello world", "l-", INT64_MIN},
    {"hello world", "^", INT64_MIN},
    {"hello world", "$", INT64_MIN},
    {"hello world", "^hello$", INT64_MIN},
    {"abc", "^(a)(b)(c)$", INT64_MIN},
    {"a,b,,c", "([^,]*)", INT64_MIN},
    {"a,b,,c", "[^,]*", 3},
    {"abc", "()", INT64_MIN},
    {"abc", "(", INT64_MIN},
    {"abc", "(()", INT64_MIN},
    {"abc", ")", INT64_MIN},
    {"abc", "%", INT64_MIN},
    {"abc", "[a", INT64_MIN},
    {"abc", "%b", INT64_MIN},
    {"abc", "%f", INT64_MIN},
    {"abc", "%1", INT64_MIN},
    {"abc", "(a)%2", INT64_MIN},
    {"f(a(b)c) (d)", "%b()", INT64_MIN},
    {"THE (quick) fox", "%f[%a]%a+", INT64_MIN},
    {"THE (quick) fox", "%f[%a]()", INT64_MIN},
    {"a b c", "%a", INT64_MIN},
    {"a b c", "b", INT64_MIN},
    {"a b c", "c", INT64_MIN},
    {"a.b", ".", INT64_MIN},
    {"a.b", "a.b", INT64_MIN},
    {"abab", "(ab)%1", INT64_MIN},
    {"x = 1, y = 22", "(%w+) = (%w+)", INT64_MIN},
    {"$100", "%$(%d+)", INT64_MIN},
    {"a+b", "a+b", INT64_MIN},
    {"a+b", "a%+b", INT64_MIN},
    {"[x]", "[]]", INT64_MIN},
    {"[x]", "[^]]+", INT64_MIN},
    {"", "", INT64_MIN},
    {"", "a*", INT64_MIN},
    {"", "()", 2},
    {"aaa", "a-", INT64_MIN},
    {"aaa", "a-$", INT64_MIN},
    {"abc", "%%", INT64_MIN},
    {"a%c", "%%", INT64_MIN},
    {"abc", "b", -1},
    {"abc", "(b)(c)()", -2},
    {"abc", "b", INT64_MIN + 1},
    {"abc", "b", INT64_MAX},
    {"abc", "", 4},
    {"abc", "^", 4},
    {"", "^$", 1},
    {"aaa", "^a", INT64_MIN},
    {"aaa", "^a*", INT64_MIN},
    {"hello world", "^(%w+)", INT64_MIN},
    {"hello world", "(o)", 2},
    {"hello world", "()", 3},
    {"abc", "%f[%a]", INT64_MIN},
    {"a.b", ".", 1},
};

static void
test_lua_budget(void **state)
{
	lua_State *L = new_state(1);
	int rc;

	(void)state;
	lua_steps = 1000000;
	rc = luaL_dostring(L, "return (('a'):rep(1e4):find('.-.-.-.-b$'))");
	assert_int_not_equal(rc, LUA_OK);
	assert_non_null(
	    strstr(lua_tostring(L, -1), "pattern step budget exhausted"));
	assert_int_equal(lua_steps, 0);
	lua_settop(L, 0);
	/* a plain search counts its bytes */
	lua_steps = 10000;
	rc = luaL_dostring(L, "return string.find(('a'):rep(1e5), 'b', 1, "
			      "true)");
	assert_int_not_equal(rc, LUA_OK);
	lua_settop(L, 0);
	lua_steps = 1000000;
	rc = luaL_dostring(L, "return string.find(('a'):rep(1e5), 'b')");
	assert_int_equal(rc, LUA_OK);
	assert_true(lua_isnil(L, -1));
	assert_true(lua_steps < 1000000 && lua_steps > 1000000 - 300000);
	lua_settop(L, 0);
	/* gsub and gmatch draw on it too, and so do the methods */
	lua_steps = 1000;
	assert_int_not_equal(luaL_dostring(L, "return ('a'):rep(1e4):gsub("
					      "'a', 'b')"),
			     LUA_OK);
	lua_settop(L, 0);
	lua_steps = 1000;
	assert_int_not_equal(
	    luaL_dostring(L, "for _ in ('a'):rep(1e4):gmatch('a') do end"),
	    LUA_OK);
	lua_settop(L, 0);
	/* no budget is no steps */
	lua_no_budget = 1;
	assert_int_not_equal(luaL_dostring(L, "return ('a'):find('a')"),
			     LUA_OK);
	lua_no_budget = 0;
	lua_settop(L, 0);
	lua_steps = 100000;
	assert_int_equal(luaL_dostring(L, "return ('a'):rep(10):gsub('a', "
					  "'%0%0')"),
			 LUA_OK);
	assert_string_equal(lua_tostring(L, -2), "aaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(lua_tointeger(L, -1), 10);
	lua_close(L);
}

/* A small generator, fixed seed: the same cases on every run. */
static uint32_t rng = 2463534242u;

static uint32_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void
test_lua_differential(void **state)
{
	static const char subj_chars[] = "aab()%[]^$.-*+?1 B\0";
	static const char *const items[] = {
	    "a",     "b",    "(",     ")",    "()",    "%",   "[",    "]",
	    "^",     "$",    ".",     "-",    "*",     "+",   "?",    "%a",
	    "%d",    "%s",   "%w",    "%p",   "%A",    "%S",  "%%",   "%(",
	    "[ab]",  "[^a]", "[a-c]", "[%a]", "[%]]",  "[]]", "%b()", "%f[%w]",
	    "%f[a]", "%1",   "%2",    "%0",   "[^%s]", "%.",  "%b",   "%f",
	    "(a)",   "(a*)", "(.-)",  "[$^]", ".-",    "a*",  "%x",   "%u",
	    "%z",    "%Z",   "[%z]",
	};
	static const int64_t inits[] = {INT64_MIN, 1,  2,  3, 0,
					-1,	   -2, -5, 9, 20};
	struct diff d = {0};
	char s[16], p[64];
	size_t sl, pl;

	(void)state;
	d.ref = new_state(0);
	d.ours = new_state(1);
	lua_getglobal(d.ref, "NKINDS");
	d.nkinds = (int)lua_tointeger(d.ref, -1);
	lua_pop(d.ref, 1);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		compare(&d, fixed[i].s, strlen(fixed[i].s), fixed[i].p,
			strlen(fixed[i].p), fixed[i].init);
	for (int n = 0; n < 8000; n++) {
		sl = next_rand() % 9;
		for (size_t i = 0; i < sl; i++)
			s[i] =
			    subj_chars[next_rand() % (sizeof(subj_chars) - 1)];
		pl = 0;
		for (int k = (int)(next_rand() % 6); k >= 0; k--) {
			const char *it =
			    items[next_rand() %
				  (sizeof(items) / sizeof(items[0]))];
			memcpy(p + pl, it, strlen(it));
			pl += strlen(it);
		}
		compare(
		    &d, s, sl, p, pl,
		    inits[next_rand() % (sizeof(inits) / sizeof(inits[0]))]);
	}
	print_message("lpat differential: %ld calls, %ld differ\n", d.cases,
		      d.differ);
	assert_int_equal(d.differ, 0);
	lua_close(d.ref);
	lua_close(d.ours);
}

/* The nesting and capture limits raise Lua's own errors. */
static void
test_lua_limits(void **state)
{
	struct diff d = {0};
	char s[512], p[512];

	(void)state;
	d.ref = new_state(0);
	d.ours = new_state(1);
	d.nkinds = 3;
	for (int i = 0; i < 201; i++)
		memcpy(p + 2 * i, "a?", 2);
	memset(s, 'a', 201);
	compare(&d, s, 201, p, 400, INT64_MIN);
	compare(&d, s, 201, p, 402, INT64_MIN);
	for (int i = 0; i < 33; i++)
		memcpy(p + 2 * i, "()", 2);
	compare(&d, "x", 1, p, 64, INT64_MIN);
	compare(&d, "x", 1, p, 66, INT64_MIN);
	assert_int_equal(d.differ, 0);
	lua_close(d.ref);
	lua_close(d.ours);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_literals_and_any),
	    cmocka_unit_test(test_classes),
	    cmocka_unit_test(test_sets),
	    cmocka_unit_test(test_quantifiers),
	    cmocka_unit_test(test_anchors),
	    cmocka_unit_test(test_captures),
	    cmocka_unit_test(test_balance_frontier),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_memfind),
#ifdef HAVE_LUA
	    cmocka_unit_test(test_lua_budget),
	    cmocka_unit_test(test_lua_differential),
	    cmocka_unit_test(test_lua_limits),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
