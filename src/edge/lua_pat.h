/* SPDX-License-Identifier: MIT */
/*
 * Lua's string.find, string.match, string.gmatch and string.gsub on the
 * bounded matcher (lpat.c), for the Lua filters of issue 80: a pattern
 * call takes steps from the running script's budget and raises a Lua
 * error when it is gone. Built only with Lua (HAVE_LUA).
 */
#ifndef SL_LUA_PAT_H
#define SL_LUA_PAT_H

#include <stdint.h>

#include <lua.h>

/*
 * Where the pattern functions find their budget: the steps left to the
 * running call, found through the caller's lua_State (a coroutine's own
 * where the call runs in one). Returning NULL counts as no steps left.
 */
typedef uint64_t *(*sl_luapat_steps_fn)(lua_State *L);

/*
 * How many steps a try of find, match or a gmatch iterator may take before
 * it gives the loop back (it yields, and is tried again with twice as
 * many when resumed: the budget is charged for every try), or 0 when the
 * running call cannot yield there (it then has the whole budget). NULL:
 * never.
 */
typedef uint64_t (*sl_luapat_slice_fn)(lua_State *L);

/*
 * Replaces string.find, string.match, string.gmatch and string.gsub in
 * L's string library (package.loaded.string, and the strings' metatable
 * __index when it is another table) by bounded ones that draw steps from
 * steps(L). They return what Lua 5.4's do and raise the same errors for a
 * malformed pattern; when the budget runs out they raise "pattern step
 * budget exhausted". The string library must be open in L.
 */
void sl_luapat_open(lua_State *L, sl_luapat_steps_fn steps,
		    sl_luapat_slice_fn slice);

#endif
