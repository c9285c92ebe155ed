/* SPDX-License-Identifier: MIT */
/*
 * A route's Lua state and its budgets (src/edge/luavm.c): the sandbox
 * (no io, os, load or string.dump; no __gc), a loop, an allocation without
 * end, a loop that pcall or a coroutine catches, each cut by its budget
 * with its FILE:LINE; a call that runs in slices and ends; the helpers
 * (SHA-256, HMAC, hex, base64, the constant-time comparison).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "luavm.h"

static struct sl_luavm *
vm_with(const char *src, uint64_t insns, uint64_t time_us, uint64_t mem)
{
	struct sl_luavm_budget b = {insns, time_us, mem, 4};
	struct sl_luavm *vm = sl_luavm_new(&b);
	char err[256];

	assert_non_null(vm);
	if (sl_luavm_load(vm, "t.lua", src, strlen(src), err, sizeof(err)))
		fail_msg("load: %s", err);
	return vm;
}

static int
entry_k(lua_State *L, int st, lua_KContext k)
{
	(void)L;
	(void)st;
	(void)k;
	return 0;
}

/* As the filter calls: through a C function whose call of the script's
 * may yield (a continuation). */
static int
entry(lua_State *L)
{
	int fn = (int)(intptr_t)lua_touserdata(L, 1);

	lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
	lua_callk(L, 0, 0, 0, entry_k);
	return 0;
}

/* Calls global f of vm to its end, slice after slice: its result, its
 * slices in *slices. */
static enum sl_luavm_rc
call(struct sl_luavm *vm, const char *f, int no_yield, struct sl_luavm_run *run,
     int *slices)
{
	char err[256];
	int fn = sl_luavm_function(vm, f, err, sizeof(err));
	lua_State *co;
	enum sl_luavm_rc rc;
	int n = 0;

	assert_true(fn > 0);
	co = sl_luavm_begin(vm, run, no_yield);
	assert_non_null(co);
	lua_pushcfunction(co, entry);
	lua_pushlightuserdata(co, (void *)(intptr_t)fn);
	rc = sl_luavm_resume(run, 1, 0);
	while (rc == SL_LUAVM_YIELD && n < 100000) {
		n++;
		rc = sl_luavm_resume(run, 0, 0);
	}
	if (slices != NULL)
		*slices = n;
	sl_luavm_end(run);
	return rc;
}

static void
test_the_sandbox_holds_no_io(void **state)
{
	(void)state;
	struct sl_luavm *vm = vm_with(
	    "function f()\n"
	    "  assert(io == nil and os == nil and package == nil)\n"
	    "  assert(debug == nil and load == nil and dofile == nil)\n"
	    "  assert(loadfile == nil and require == nil)\n"
	    "  assert(string.dump == nil and collectgarbage == nil)\n"
	    "  assert(not pcall(setmetatable, {}, {__gc = function() end}))\n"
	    "  assert(setmetatable({}, {__index = {a = 1}}).a == 1)\n"
	    "end\n",
	    1000000, 1000000, 1 << 20);
	struct sl_luavm_run run;

	assert_int_equal(call(vm, "f", 1, &run, NULL), SL_LUAVM_DONE);
	sl_luavm_free(vm);
}

/* Each case, cut by the budget it names, its line said. */
static void
cut(const char *src, enum sl_luavm_fail kind, const char *line)
{
	/* time enough for any of them to meet its own budget first, on a
	 * sanitizer's build too (an allocation of 4 MiB took over 50 ms) */
	struct sl_luavm *vm = vm_with(src, 2000000, 10000000, 4 << 20);
	struct sl_luavm_run run;

	assert_int_equal(call(vm, "f", 0, &run, NULL), SL_LUAVM_FAILED);
	assert_int_equal(run.fail, kind);
	if (strstr(run.why, line) == NULL)
		fail_msg("%s: %s", line, run.why);
	/* the state is still good for the next call, and the budgets
	 * still hold there: the same call is cut again (a thread cut once
	 * keeps hooks off: used again, it looped for ever) */
	assert_int_equal(call(vm, "ok", 0, &run, NULL), SL_LUAVM_DONE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(call(vm, "f", 0, &run, NULL), SL_LUAVM_FAILED);
		assert_int_equal(run.fail, kind);
	}
	sl_luavm_free(vm);
}

static void
test_a_loop_is_cut(void **state)
{
	(void)state;
	cut("function ok() end\n"
	    "function f()\n"
	    "  while true do end\n"
	    "end\n",
	    SL_LUAVM_INSTRUCTIONS, "t.lua:3:");
}

static void
test_pcall_does_not_escape(void **state)
{
	(void)state;
	cut("function ok() end\n"
	    "function f()\n"
	    "  while true do pcall(function() while true do end end) end\n"
	    "end\n",
	    SL_LUAVM_INSTRUCTIONS, "t.lua:3:");
	cut("function ok() end\n"
	    "function f()\n"
	    "  while true do\n"
	    "    xpcall(function() while true do end end,\n"
	    "           function() while true do end end)\n"
	    "  end\n"
	    "end\n",
	    SL_LUAVM_INSTRUCTIONS, "t.lua:");
}

static void
test_a_coroutine_does_not_escape(void **state)
{
	(void)state;
	cut("function ok() end\n"
	    "function f()\n"
	    "  while true do\n"
	    "    local co = coroutine.wrap(function() while true do end end)\n"
	    "    pcall(co)\n"
	    "  end\n"
	    "end\n",
	    SL_LUAVM_INSTRUCTIONS, "t.lua:");
}

static void
test_an_allocation_is_cut(void **state)
{
	(void)state;
	cut("function ok() end\n"
	    "function f()\n"
	    "  local t = {}\n"
	    "  while true do\n"
	    "    t[#t + 1] = string.rep('x', 1000) .. #t\n"
	    "  end\n"
	    "end\n",
	    SL_LUAVM_MEMORY, "memory cap");
	cut("function ok() end\n"
	    "function f()\n"
	    "  local t = {}\n"
	    "  while true do\n"
	    "    pcall(function() t[#t + 1] = string.rep('x', 1e5) end)\n"
	    "  end\n"
	    "end\n",
	    SL_LUAVM_MEMORY, "memory cap");
}

static void
test_time_is_cut(void **state)
{
	(void)state;
	/* a budget of instructions far beyond the time's */
	struct sl_luavm_budget b = {(uint64_t)1 << 40, 50000, 1 << 20, 4};
	struct sl_luavm *vm = sl_luavm_new(&b);
	struct sl_luavm_run run;
	const char *src = "function f() while true do end end\n";
	char err[128];
	int slices;

	assert_int_equal(
	    sl_luavm_load(vm, "t.lua", src, strlen(src), err, sizeof(err)), 0);
	assert_int_equal(call(vm, "f", 0, &run, &slices), SL_LUAVM_FAILED);
	assert_int_equal(run.fail, SL_LUAVM_TIME);
	/* 50 ms in slices of 0.2 ms: about 250 of them, and more than one
	 * however often a loaded machine takes the CPU away (a slice's
	 * time is the clock's, not the thread's) */
	assert_true(slices >= 2);
	assert_true(run.used_ns >= 50000000);
	sl_luavm_free(vm);
}

/* A call's first slice runs without the count hook (the slice timer
 * sets it): a loop in a coroutine the call made must still be cut, as
 * must one on the call's own thread, by time alone. */
static void
test_a_first_slice_without_the_hook_is_cut(void **state)
{
	(void)state;
	struct sl_luavm_budget b = {(uint64_t)1 << 40, 20000, 1 << 20, 4};
	struct sl_luavm *vm = sl_luavm_new(&b);
	struct sl_luavm_run run;
	const char *src =
	    "function f() while true do end end\n"
	    "function g() coroutine.wrap(function() while true do end end)() "
	    "end\n"
	    "function h() local co = coroutine.create(function() while true "
	    "do end end) coroutine.resume(co) end\n";
	const char *fs[] = {"f", "g", "h"};
	char err[128];
	int slices;

	assert_true(b.instructions >= SL_LUAVM_LAZY_MIN);
	assert_int_equal(
	    sl_luavm_load(vm, "t.lua", src, strlen(src), err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(call(vm, fs[i], 0, &run, &slices),
				 SL_LUAVM_FAILED);
		assert_int_equal(run.fail, SL_LUAVM_TIME);
		assert_true(run.used_ns >= 20000000);
		if (strstr(run.why, "t.lua:") == NULL)
			fail_msg("%s", run.why);
	}
	sl_luavm_free(vm);
}

static void
test_an_error_says_where(void **state)
{
	(void)state;
	cut("function ok() end\n"
	    "function f()\n"
	    "  error('boom')\n"
	    "end\n",
	    SL_LUAVM_ERROR, "t.lua:3: boom");
}

static void
test_a_syntax_error_says_where(void **state)
{
	(void)state;
	struct sl_luavm_budget b = {1000000, 100000, 1 << 20, 4};
	struct sl_luavm *vm = sl_luavm_new(&b);
	const char *src = "function f()\n  x = = 1\nend\n";
	char err[256];

	assert_int_equal(
	    sl_luavm_load(vm, "/etc/s.lua", src, strlen(src), err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "/etc/s.lua:2:"));
	/* a binary chunk is never loaded */
	assert_int_equal(
	    sl_luavm_load(vm, "b.lua", "\x1bLua", 4, err, sizeof(err)), -1);
	assert_int_equal(sl_luavm_function(vm, "g", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no function \"g\""));
	sl_luavm_free(vm);
}

static void
test_helpers(void **state)
{
	(void)state;
	struct sl_luavm *vm = vm_with(
	    "function f()\n"
	    "  local h = sluice.hex(sluice.sha256('abc'))\n"
	    "  assert(h == 'ba7816bf8f01cfea414140de5dae2223'"
	    "           .. 'b00361a396177a9cb410ff61f20015ad', h)\n"
	    "  local m = sluice.hex(sluice.hmac_sha256('key',\n"
	    "    'The quick brown fox jumps over the lazy dog'))\n"
	    "  assert(m == 'f7bc83f430538424b13298e6aa6fb143'"
	    "           .. 'ef4d59a14946175997479dbc2d1a3cd8', m)\n"
	    "  assert(sluice.unhex('4a4B') == 'JK' and not "
	    "sluice.unhex('4g'))\n"
	    "  for _, s in ipairs({'', 'f', 'fo', 'foo', 'foob', 'fooba'}) do\n"
	    "    local e = sluice.base64(s)\n"
	    "    assert(sluice.unbase64(e) == s, e)\n"
	    "    assert(sluice.unbase64((e:gsub('=', ''))) == s, e)\n"
	    "  end\n"
	    "  assert(sluice.base64('foob') == 'Zm9vYg==')\n"
	    "  assert(sluice.unbase64('Zm9v!') == nil)\n"
	    "  assert(sluice.equal('abc', 'abc') and not sluice.equal('abc', "
	    "'abd'))\n"
	    "  assert(not sluice.equal('abc', 'ab'))\n"
	    "  assert(sluice.now() > 1.7e9)\n"
	    "end\n",
	    1000000, 1000000, 1 << 20);
	struct sl_luavm_run run;

	if (call(vm, "f", 1, &run, NULL) != SL_LUAVM_DONE)
		fail_msg("%s", run.why);
	sl_luavm_free(vm);
}

static void
test_json(void **state)
{
	(void)state;
	struct sl_luavm *vm = vm_with(
	    "function f()\n"
	    "  local d = sluice.json_decode('{\"a\":[1,2.5,\"x\\\\u00e9\",true,"
	    "null],\"b\":{\"c\":null},\"n\":-7}')\n"
	    "  assert(d.a[1] == 1 and math.type(d.a[1]) == 'integer')\n"
	    "  assert(d.a[2] == 2.5 and d.a[3] == 'x\\u{e9}' and d.a[4])\n"
	    "  assert(d.a[5] == sluice.null and d.b.c == nil and d.n == -7)\n"
	    "  for _, bad in ipairs({'{\"a\":1,\"a\":2}', '[1,]', "
	    "'\"\\xff\"',\n"
	    "                        '01', '', ('['):rep(40) .. "
	    "(']'):rep(40)}) do\n"
	    "    local v, why = sluice.json_decode(bad)\n"
	    "    assert(v == nil and type(why) == 'string', bad)\n"
	    "  end\n"
	    "  local e = sluice.json_encode({id = 'evt \"1\"\\n', n = 3, ok = "
	    "true,\n"
	    "                               list = {1, 2, sluice.null}, f = "
	    "0.5})\n"
	    "  local back = sluice.json_decode(e)\n"
	    "  assert(back.id == 'evt \"1\"\\n' and back.n == 3 and back.ok, "
	    "e)\n"
	    "  assert(#back.list == 3 and back.list[3] == sluice.null, e)\n"
	    "  assert(back.f == 0.5, e)\n"
	    "  assert(sluice.json_encode({}) == '{}')\n"
	    "  assert(not pcall(sluice.json_encode, {[{}] = 1}))\n"
	    "  assert(not pcall(sluice.json_encode, 0/0))\n"
	    "  local deep = {} local t = deep\n"
	    "  for i = 1, 40 do t[1] = {} t = t[1] end\n"
	    "  assert(not pcall(sluice.json_encode, deep))\n"
	    "  local big = {} for i = 1, 1000 do big[i] = ('%d'):format(i) "
	    "end\n"
	    "  assert(#sluice.json_encode(big) > 4000)\n"
	    "end\n",
	    10000000, 1000000, 4 << 20);
	struct sl_luavm_run run;

	if (call(vm, "f", 1, &run, NULL) != SL_LUAVM_DONE)
		fail_msg("%s", run.why);
	sl_luavm_free(vm);
}

/* The key-value table: a value till its end, four entries at most (the
 * budget's), a full table swept of the ended ones before it refuses. */
static void
test_kv(void **state)
{
	(void)state;
	struct sl_luavm *vm = vm_with(
	    "function f()\n"
	    "  assert(sluice.kv_get('a') == nil)\n"
	    "  assert(sluice.kv_set('a', 'one', 60))\n"
	    "  assert(sluice.kv_get('a') == 'one')\n"
	    "  assert(sluice.kv_set('a', 2, 60) and sluice.kv_get('a') == 2)\n"
	    "  assert(sluice.kv_set('b', true, 60))\n"
	    "  assert(sluice.kv_set('c', 'x', 0.001))\n"
	    "  assert(sluice.kv_set('d', 'y', 60))\n"
	    "  local ok, why = sluice.kv_set('e', 'z', 60)\n"
	    "  assert(ok == false and why == 'full', why)\n"
	    "  local t0 = sluice.now()\n"
	    "  while sluice.now() - t0 < 0.01 do end\n"
	    "  assert(sluice.kv_get('c') == nil)\n"
	    "  assert(sluice.kv_set('e', 'z', 60))\n"
	    "  sluice.kv_del('b')\n"
	    "  assert(sluice.kv_set('c2', 'w', 0.001))\n"
	    "  t0 = sluice.now()\n"
	    "  while sluice.now() - t0 < 0.01 do end\n"
	    "  assert(sluice.kv_set('f', 'v', 60))\n"
	    "  sluice.kv_del('a')\n"
	    "  assert(sluice.kv_get('a') == nil and sluice.kv_set('g', 1, "
	    "60))\n"
	    "  assert(not pcall(sluice.kv_set, 'h', {}, 60))\n"
	    "  assert(not pcall(sluice.kv_set, 'h', 1, 0))\n"
	    "  assert(not pcall(sluice.kv_set, '', 1, 1))\n"
	    "end\n",
	    100000000, 1000000, 4 << 20);
	struct sl_luavm_run run;

	if (call(vm, "f", 1, &run, NULL) != SL_LUAVM_DONE)
		fail_msg("%s", run.why);
	sl_luavm_free(vm);
}

/* What a call keeps for the next is sluice.kv's: globals and the tables
 * they hold are read-only once the script has loaded (a global a call
 * sets, an existing one, a field of a global table: errors), while
 * reading them (a field, #, pairs, ipairs) works. */
static void
test_globals_are_sealed(void **state)
{
	(void)state;
	struct sl_luavm *vm = vm_with(
	    "count = 0\n"
	    "limits = {a = 1, list = {10, 20, 30}}\n"
	    "function f()\n"
	    "  assert(count == 0 and limits.a == 1 and #limits.list == 3)\n"
	    "  local n = 0\n"
	    "  for k, v in pairs(limits) do n = n + 1 end\n"
	    "  for i, v in ipairs(limits.list) do n = n + v end\n"
	    "  assert(n == 62, n)\n"
	    "  assert(not pcall(function() count = count + 1 end))\n"
	    "  assert(not pcall(function() fresh = 1 end))\n"
	    "  assert(not pcall(function() limits.a = 2 end))\n"
	    "  assert(not pcall(function() limits.list[4] = 40 end))\n"
	    "  assert(not pcall(function() string.x = 1 end))\n"
	    "  assert(not pcall(setmetatable, _G, nil))\n"
	    "  assert(rawset == nil)\n"
	    "  assert(('x'):rep(2) == 'xx' and string.rep('y', 2) == 'yy')\n"
	    "  local ok, why = pcall(function() leak = 1 end)\n"
	    "  assert(tostring(why):find('t.lua:17:', 1, true), why)\n"
	    "end\n",
	    1000000, 1000000, 1 << 20);
	struct sl_luavm_run run;

	if (call(vm, "f", 1, &run, NULL) != SL_LUAVM_DONE)
		fail_msg("%s", run.why);
	sl_luavm_free(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_sandbox_holds_no_io),
	    cmocka_unit_test(test_a_loop_is_cut),
	    cmocka_unit_test(test_pcall_does_not_escape),
	    cmocka_unit_test(test_a_coroutine_does_not_escape),
	    cmocka_unit_test(test_an_allocation_is_cut),
	    cmocka_unit_test(test_time_is_cut),
	    cmocka_unit_test(test_a_first_slice_without_the_hook_is_cut),
	    cmocka_unit_test(test_an_error_says_where),
	    cmocka_unit_test(test_a_syntax_error_says_where),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_kv),
	    cmocka_unit_test(test_globals_are_sealed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
