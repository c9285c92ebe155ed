/* SPDX-License-Identifier: MIT */
/*
 * A route's Lua state with hard budgets (luavm.h; doc/lua.md, "Budgets").
 * Built only with HAVE_LUA.
 *
 * The budgets hold whatever the script does: the count hook fires every
 * SL_LUAVM_HOOK_EVERY instructions of every thread of the state (threads
 * inherit it), and once a budget ran out it fires at every instruction
 * and raises again, so a pcall, an error handler or a coroutine that
 * catches the error is cut at its next instruction. The C functions that
 * could work long without an instruction (the pattern functions) draw
 * steps from the same instruction budget (lua_pat.c), and every byte the
 * state holds goes through the allocator, which refuses past the cap.
 */
#include "luavm.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "lua_pat.h"
#include "util.h"

const char *const sl_luavm_fail_names[SL_LUAVM_NFAIL] = {
    "ok", "error", "instructions", "time", "memory"};

static struct sl_luavm *
vm_of(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}

/* ---- the budgets ---------------------------------------------------- */

static void hook(lua_State *L, lua_Debug *ar);

/* The state's allocator: every byte counted, none past the cap. Lua
 * never asks a shrink to fail, and a refusal is an error the running call
 * cannot outlive (the hook raises it again at the next instruction). */
static void *
vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct sl_luavm *vm = ud;
	size_t old = ptr != NULL ? osize : 0;
	void *p;

	if (nsize == 0) {
		vm->mem -= old;
		free(ptr);
		return NULL;
	}
	if (nsize > old && vm->mem - old + nsize > vm->mem_cap) {
		struct sl_luavm_run *run = vm->run;
		if (run != NULL && run->fail == SL_LUAVM_OK) {
			run->fail = SL_LUAVM_MEMORY;
			snprintf(run->why, sizeof(run->why),
				 "memory cap of %llu bytes reached",
				 (unsigned long long)vm->mem_cap);
			lua_sethook(run->co, hook, LUA_MASKCOUNT, 1);
		}
		return NULL;
	}
	if ((p = realloc(ptr, nsize)) == NULL)
		return NULL;
	vm->mem = vm->mem - old + nsize;
	return p;
}

/* The call ran out of what kind says: noted with where it stands, the
 * hook set to fire at every instruction, the error raised. */
static void
run_fail(lua_State *L, struct sl_luavm_run *run, lua_Debug *ar,
	 enum sl_luavm_fail kind, const char *what)
{
	run->fail = kind;
	if (ar != NULL && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
		snprintf(run->why, sizeof(run->why), "%s:%d: %s", ar->short_src,
			 ar->currentline, what);
	else
		snprintf(run->why, sizeof(run->why), "%s", what);
	lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	if (run->co != L)
		lua_sethook(run->co, hook, LUA_MASKCOUNT, 1);
	lua_pushstring(L, run->why);
	lua_error(L);
}

static void
hook(lua_State *L, lua_Debug *ar)
{
	struct sl_luavm *vm = vm_of(L);
	struct sl_luavm_run *run = vm->run;
	uint64_t now;

	if (run == NULL) {
		/* Lua outside a call (a to-be-closed variable of a thread
		 * dropped): it never runs */
		lua_pushliteral(L, "sluice: no call runs");
		lua_error(L);
		return;
	}
	if (run->fail != SL_LUAVM_OK) {
		if (run->fail == SL_LUAVM_MEMORY &&
		    strchr(run->why, ':') == NULL) {
			char what[sizeof(run->why)];
			memcpy(what, run->why, sizeof(what));
			run_fail(L, run, ar, SL_LUAVM_MEMORY, what);
		}
		lua_pushstring(L, run->why);
		lua_error(L);
		return;
	}
	if (lua_gethookcount(L) != SL_LUAVM_HOOK_EVERY)
		/* set to fire at once (the slice's timer, a new thread):
		 * from now on, every SL_LUAVM_HOOK_EVERY */
		lua_sethook(L, hook, LUA_MASKCOUNT, SL_LUAVM_HOOK_EVERY);
	if (run->insns_left <= SL_LUAVM_HOOK_EVERY) {
		run->insns_left = 0;
		run_fail(L, run, ar, SL_LUAVM_INSTRUCTIONS,
			 "instruction budget exhausted");
		return;
	}
	run->insns_left -= SL_LUAVM_HOOK_EVERY;
	now = sl_mono_ns();
	if (now >= run->stop_ns)
		run_fail(L, run, ar, SL_LUAVM_TIME, "time budget exhausted");
	else if (now >= run->yield_ns && L == run->co && lua_isyieldable(L))
		lua_yield(L, 0); /* the slice is over: back to the loop */
}

/*
 * A call's first slice runs without the hook: the count hook makes Lua
 * trace every instruction (a third of a short call's cost), so a call
 * that ends within its first slice, as nearly every call does, is
 * bounded by time alone. The worker's slice timer (a POSIX timer whose
 * signal goes to the worker's thread) fires when the slice ends; its
 * handler sets the hook on the running call's thread, as lua.c stops a
 * script at SIGINT (lua_sethook may be called from a signal handler),
 * and from the hook's first firing on the call runs as every other
 * slice does: counted, and yielding when its slice is over. A script's
 * own coroutines are hooked from the start (co_make), since the
 * handler knows only the call's thread. A budget of fewer than
 * SL_LUAVM_LAZY_MIN instructions is counted from the first one.
 */
static _Thread_local struct sl_luavm_run *volatile slice_run;
static _Thread_local volatile sig_atomic_t slice_armed;
static _Thread_local timer_t slice_timer;
static _Thread_local int slice_timer_made; /* 1 made, -1 cannot be */
static int slice_signo;
static pthread_once_t slice_once = PTHREAD_ONCE_INIT;
static pthread_key_t slice_key;
/* a whole slice; none */
static const struct itimerspec slice_whole = {{0, 0},
					      {0, SL_LUAVM_SLICE_US * 1000}};
static const struct itimerspec slice_off;

/* The slice timer's signal, on the worker's thread: the running call's
 * first slice is over (the timer is set for it alone, and disarmed when
 * it comes back), so the hook set on its thread fires at its next
 * instruction. */
static void
slice_sig(int signo)
{
	struct sl_luavm_run *run = slice_run;

	(void)signo;
	slice_armed = 0;
	if (run == NULL)
		return; /* it came back as the signal arrived */
	run->hooked = 1;
	lua_sethook(run->co, hook, LUA_MASKCOUNT, 1);
}

/* A thread's timer goes with it. */
static void
slice_timer_gone(void *p)
{
	timer_delete(*(timer_t *)p);
	free(p);
	slice_timer_made = 0;
	slice_armed = 0;
}

static void
slice_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = slice_sig;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	slice_signo = SIGRTMIN + 2;
	if (pthread_key_create(&slice_key, slice_timer_gone) != 0 ||
	    sigaction(slice_signo, &sa, NULL) == -1)
		slice_signo = 0;
}

/* The thread's slice timer, made at its first lazy slice: 0, or -1 when
 * it cannot be (its calls are then counted from their start). */
static int
slice_timer_get(void)
{
	struct sigevent ev;
	timer_t *kept;

	if (slice_timer_made != 0)
		return slice_timer_made > 0 ? 0 : -1;
	(void)pthread_once(&slice_once, slice_install);
	slice_timer_made = -1;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = slice_signo;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (slice_signo == 0 || (kept = malloc(sizeof(*kept))) == NULL)
		return -1;
	if (timer_create(CLOCK_MONOTONIC, &ev, &slice_timer) == -1) {
		free(kept);
		return -1;
	}
	*kept = slice_timer;
	if (pthread_setspecific(slice_key, kept) != 0) {
		timer_delete(slice_timer);
		free(kept);
		return -1;
	}
	slice_timer_made = 1;
	return 0;
}

void
sl_luavm_charge(lua_State *L, uint64_t n)
{
	struct sl_luavm_run *run = vm_of(L)->run;
	lua_Debug ar;

	if (run == NULL)
		return;
	if (run->insns_left <= n) {
		run->insns_left = 0;
		run_fail(L, run, lua_getstack(L, 1, &ar) ? &ar : NULL,
			 SL_LUAVM_INSTRUCTIONS, "instruction budget exhausted");
	}
	run->insns_left -= n;
}

/* The pattern functions' steps: the running call's instructions. */
static uint64_t *
pat_steps(lua_State *L)
{
	static _Thread_local uint64_t none;
	struct sl_luavm_run *run = vm_of(L)->run;

	if (run != NULL)
		return &run->insns_left;
	none = 0;
	return &none;
}

/* A pattern function's steps before it gives the loop back: about a
 * tenth of a slice's time (7 ns a step), when the running call may yield
 * there (its own thread, not inside a C call); 0: the whole budget. */
static uint64_t
pat_slice(lua_State *L)
{
	struct sl_luavm_run *run = vm_of(L)->run;

	if (run == NULL || run->no_yield || L != run->co || !lua_isyieldable(L))
		return 0;
	return 4000;
}

/* ---- sluice's helpers ------------------------------------------------- */

static int
h_sha256(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	unsigned char md[SHA256_DIGEST_LENGTH];

	sl_luavm_charge(L, n / 16);
	SHA256((const unsigned char *)s, n, md);
	lua_pushlstring(L, (const char *)md, sizeof(md));
	return 1;
}

static int
h_hmac_sha256(lua_State *L)
{
	size_t kn, n;
	const char *k = luaL_checklstring(L, 1, &kn);
	const char *s = luaL_checklstring(L, 2, &n);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdn = 0;

	sl_luavm_charge(L, (n + kn) / 16);
	if (HMAC(EVP_sha256(), k, (int)kn, (const unsigned char *)s, n, md,
		 &mdn) == NULL)
		return luaL_error(L, "sluice.hmac_sha256: failed");
	lua_pushlstring(L, (const char *)md, mdn);
	return 1;
}

static int
h_hex(lua_State *L)
{
	static const char dig[] = "0123456789abcdef";
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *o;

	sl_luavm_charge(L, n / 4);
	o = luaL_buffinitsize(L, &b, 2 * n);
	for (size_t i = 0; i < n; i++) {
		o[2 * i] = dig[(unsigned char)s[i] >> 4];
		o[2 * i + 1] = dig[(unsigned char)s[i] & 15];
	}
	luaL_pushresultsize(&b, 2 * n);
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
h_unhex(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *o;

	if (n % 2 != 0) {
		lua_pushnil(L);
		return 1;
	}
	sl_luavm_charge(L, n / 4);
	o = luaL_buffinitsize(L, &b, n / 2);
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)s[i]);
		int lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0) {
			lua_pushnil(L);
			return 1;
		}
		o[i / 2] = (char)(hi << 4 | lo);
	}
	luaL_pushresultsize(&b, n / 2);
	return 1;
}

static int
h_base64(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	char *o;
	int w;

	if (n > (size_t)1 << 28)
		return luaL_error(L, "sluice.base64: too long");
	sl_luavm_charge(L, n / 4);
	o = luaL_buffinitsize(L, &b, 4 * ((n + 2) / 3) + 1);
	w = EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)s,
			    (int)n);
	luaL_pushresultsize(&b, (size_t)w);
	return 1;
}

/* Standard base64, padded or not; nil when it is not. */
static int
h_unbase64(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	unsigned char *o, tail[4];
	size_t full, rest, pad = 0;
	int w = 0;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || n > (size_t)1 << 28) {
		lua_pushnil(L);
		return 1;
	}
	sl_luavm_charge(L, n / 4);
	full = n / 4 * 4;
	rest = n - full;
	o = (unsigned char *)luaL_buffinitsize(L, &b, full / 4 * 3 + 3);
	if (full > 0 &&
	    (w = EVP_DecodeBlock(o, (const unsigned char *)s, (int)full)) < 0) {
		lua_pushnil(L);
		return 1;
	}
	if (rest > 0) {
		char q[4] = {'=', '=', '=', '='};
		memcpy(q, s + full, rest);
		if (EVP_DecodeBlock(tail, (const unsigned char *)q, 4) < 0) {
			lua_pushnil(L);
			return 1;
		}
		memcpy(o + w, tail, rest - 1);
		w += (int)rest - 1;
	}
	luaL_pushresultsize(&b, (size_t)w);
	return 1;
}

/* Whether two strings are equal, in a time that does not depend on
 * where they differ. */
static int
h_equal(lua_State *L)
{
	size_t an, bn;
	const char *a = luaL_checklstring(L, 1, &an);
	const char *b = luaL_checklstring(L, 2, &bn);

	lua_pushboolean(L, an == bn && CRYPTO_memcmp(a, b, an) == 0);
	return 1;
}

/* The wall clock, in seconds (a float, to the microsecond). */
static int
h_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/* ---- JSON, through sluice's strict parser (json.c) -------------------- */

/* The JSON null in what sluice.json_decode gives and json_encode takes
 * (sluice.null): a light userdata no other value is. */
static char json_null_mark;

/* Pushes the value of tokens t[i] (its subtree) of text. Returns the index
 * after it. Raises. */
static int
json_push(lua_State *L, const char *text, const struct sl_json_tok *t, int i)
{
	const struct sl_json_tok *k = &t[i];

	luaL_checkstack(L, 3, "sluice.json_decode: too deep");
	switch (k->type) {
	case SL_JSON_OBJECT: {
		int j = i + 1;
		lua_createtable(L, 0, (int)k->size);
		for (uint32_t m = 0; m < k->size; m++) {
			j = json_push(L, text, t, j); /* the name */
			j = json_push(L, text, t, j); /* its value */
			if (lua_touserdata(L, -1) == &json_null_mark)
				lua_pop(L, 2); /* an absent member */
			else
				lua_rawset(L, -3);
		}
		return j;
	}
	case SL_JSON_ARRAY: {
		int j = i + 1;
		lua_createtable(L, (int)k->size, 0);
		for (uint32_t m = 0; m < k->size; m++) {
			j = json_push(L, text, t, j);
			lua_rawseti(L, -2, (lua_Integer)m + 1);
		}
		return j;
	}
	case SL_JSON_STRING: {
		luaL_Buffer b;
		char *o = luaL_buffinitsize(L, &b, k->len + 1);
		long n = sl_json_str(text, t, i, o, k->len + 1);
		if (n < 0)
			luaL_error(L, "sluice.json_decode: a bad string");
		luaL_pushresultsize(&b, (size_t)n);
		return i + 1;
	}
	case SL_JSON_NUMBER: {
		char num[64];
		if (k->len >= sizeof(num))
			luaL_error(L,
				   "sluice.json_decode: a number of %d "
				   "digits",
				   (int)k->len);
		memcpy(num, text + k->start, k->len);
		num[k->len] = '\0';
		if (lua_stringtonumber(L, num) == 0)
			luaL_error(L, "sluice.json_decode: a bad number");
		return i + 1;
	}
	case SL_JSON_TRUE:
	case SL_JSON_FALSE:
		lua_pushboolean(L, k->type == SL_JSON_TRUE);
		return i + 1;
	default:
		lua_pushlightuserdata(L, &json_null_mark);
		return i + 1;
	}
}

/* sluice.json_decode(s): the value, or nil and why. Strict JSON (json.c):
 * no duplicate names, at most 256 members an object, 32 levels; null is
 * sluice.null in an array, an absent member in an object. */
static int
h_json_decode(lua_State *L)
{
	size_t n, max;
	const char *s = luaL_checklstring(L, 1, &n);
	struct sl_json_tok *t;
	int r;

	sl_luavm_charge(L, n);
	max = n / 2 + 2; /* a token takes two bytes at least ("1,") */
	if (max > (1u << 20))
		max = 1u << 20;
	t = lua_newuserdatauv(L, max * sizeof(*t), 0);
	if ((r = sl_json_parse(s, n, t, max, 32, NULL)) < 0) {
		static const char *const why[] = {"",
						  "not strict JSON",
						  "too many members or tokens",
						  "nested too deep",
						  "a name twice in an object",
						  "bad UTF-8",
						  "too long"};
		lua_pushnil(L);
		lua_pushstring(L, -r < 7 ? why[-r] : "not JSON");
		return 2;
	}
	json_push(L, s, t, 0);
	return 1;
}

/* What json_encode writes into: a userdata at stack index slot (so that
 * its memory is the state's, counted and collected whatever error cuts
 * the encoding), made twice as large when full. */
struct jbuf {
	char *p;
	size_t n, cap;
	int slot;
};

static void
jb_add(lua_State *L, struct jbuf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n) {
		size_t cap = b->cap * 2 > b->n + n ? b->cap * 2 : b->n + n;
		char *p = lua_newuserdatauv(L, cap, 0);
		memcpy(p, b->p, b->n);
		lua_replace(L, b->slot);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

#define JB_LIT(L, b, s) jb_add(L, b, s, sizeof(s) - 1)

static void json_put(lua_State *L, struct jbuf *b, int i, int depth);

/* A string, quoted and escaped. */
static void
json_str(lua_State *L, struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	JB_LIT(L, b, "\"");
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		jb_add(L, b, s + run, k - run);
		run = k + 1;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			jb_add(L, b, e, 2);
		} else {
			char e[6] = {'\\', 'u',		'0',
				     '0',  hex[c >> 4], hex[c & 15]};
			jb_add(L, b, e, 6);
		}
	}
	jb_add(L, b, s + run, n - run);
	JB_LIT(L, b, "\"");
}

/* The table at i: an array when its keys are 1..n (n > 0), else an
 * object of string keys (an empty table: an empty object). */
static void
json_table(lua_State *L, struct jbuf *b, int i, int depth)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, i);
	int first = 1;

	if (n > 0) {
		JB_LIT(L, b, "[");
		for (lua_Integer k = 1; k <= n; k++) {
			if (k > 1)
				JB_LIT(L, b, ",");
			lua_rawgeti(L, i, k);
			json_put(L, b, lua_gettop(L), depth + 1);
			lua_pop(L, 1);
		}
		JB_LIT(L, b, "]");
		return;
	}
	JB_LIT(L, b, "{");
	lua_pushnil(L);
	while (lua_next(L, i) != 0) {
		size_t kn;
		const char *k;
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "sluice.json_encode: a key that is not "
				      "a string");
		k = lua_tolstring(L, -2, &kn);
		if (!first)
			JB_LIT(L, b, ",");
		first = 0;
		json_str(L, b, k, kn);
		JB_LIT(L, b, ":");
		json_put(L, b, lua_gettop(L), depth + 1);
		lua_pop(L, 1);
	}
	JB_LIT(L, b, "}");
}

static void
json_put(lua_State *L, struct jbuf *b, int i, int depth)
{
	char num[64];
	size_t n;
	const char *s;

	if (depth > 32)
		luaL_error(L, "sluice.json_encode: nested too deep");
	luaL_checkstack(L, 4, "sluice.json_encode: too deep");
	sl_luavm_charge(L, 8);
	switch (lua_type(L, i)) {
	case LUA_TNIL:
		JB_LIT(L, b, "null");
		return;
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, i) == &json_null_mark) {
			JB_LIT(L, b, "null");
			return;
		}
		break;
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, i))
			JB_LIT(L, b, "true");
		else
			JB_LIT(L, b, "false");
		return;
	case LUA_TNUMBER:
		if (lua_isinteger(L, i))
			snprintf(num, sizeof(num), "%lld",
				 (long long)lua_tointeger(L, i));
		else {
			lua_Number v = lua_tonumber(L, i);
			if (v != v || v - v != 0)
				luaL_error(L, "sluice.json_encode: %s",
					   v != v ? "NaN" : "an infinity");
			snprintf(num, sizeof(num), "%.17g", (double)v);
		}
		jb_add(L, b, num, strlen(num));
		return;
	case LUA_TSTRING:
		s = lua_tolstring(L, i, &n);
		sl_luavm_charge(L, n / 4);
		json_str(L, b, s, n);
		return;
	case LUA_TTABLE:
		json_table(L, b, i, depth);
		return;
	default:
		break;
	}
	luaL_error(L, "sluice.json_encode: a %s", luaL_typename(L, i));
}

/* sluice.json_encode(v): JSON text. */
static int
h_json_encode(lua_State *L)
{
	struct jbuf b = {NULL, 0, 256, 2};

	luaL_checkany(L, 1);
	lua_settop(L, 1);
	b.p = lua_newuserdatauv(L, b.cap, 0); /* at b.slot */
	json_put(L, &b, 1, 0);
	lua_pushlstring(L, b.p, b.n);
	return 1;
}

/* ---- sluice.kv_*: the state's key-value table with expiry ------------ */

/* Its two tables on the stack (values, ends): the state's. */
static struct sl_luavm *
kv_tables(lua_State *L)
{
	struct sl_luavm *vm = vm_of(L);

	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->kv_ref);
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->kv_exp_ref);
	return vm;
}

/* Drops the entry of the key at index k from the tables at vi (values)
 * and ei (ends). */
static void
kv_drop(lua_State *L, struct sl_luavm *vm, int k, int vi, int ei)
{
	lua_pushvalue(L, k);
	lua_pushnil(L);
	lua_rawset(L, vi);
	lua_pushvalue(L, k);
	lua_pushnil(L);
	lua_rawset(L, ei);
	vm->kv_n--;
}

static const char *
kv_key(lua_State *L)
{
	size_t n;
	const char *k = luaL_checklstring(L, 1, &n);

	if (n == 0 || n > 256)
		luaL_error(L, "sluice.kv: a key of 1 to 256 bytes");
	return k;
}

/* sluice.kv_get(key): its value, or nil (none, or past its end). */
static int
h_kv_get(lua_State *L)
{
	struct sl_luavm *vm;
	double now = (double)sl_mono_ns() / 1e9;

	kv_key(L);
	lua_settop(L, 1);
	vm = kv_tables(L); /* 2: values, 3: ends */
	lua_pushvalue(L, 1);
	if (lua_rawget(L, 3) == LUA_TNIL)
		return 1;
	if (lua_tonumber(L, -1) < now) {
		kv_drop(L, vm, 1, 2, 3);
		lua_pushnil(L);
		return 1;
	}
	lua_pushvalue(L, 1);
	lua_rawget(L, 2);
	return 1;
}

/* Drops the entries past their end (values at vi, ends at ei); charged
 * to the call. */
static void
kv_sweep(lua_State *L, struct sl_luavm *vm, double now, int vi, int ei)
{
	sl_luavm_charge(L, vm->kv_n * 4);
	lua_pushnil(L);
	while (lua_next(L, ei) != 0) {
		int gone = lua_tonumber(L, -1) < now;
		lua_pop(L, 1);
		if (gone) /* clearing a field keeps next going */
			kv_drop(L, vm, lua_gettop(L), vi, ei);
	}
}

/* sluice.kv_set(key, value, ttl): true, or false and "full" when the
 * table holds lua.kv_entries live entries. value: a string, a number or
 * a boolean; ttl: seconds, to a day. */
static int
h_kv_set(lua_State *L)
{
	struct sl_luavm *vm;
	double now = (double)sl_mono_ns() / 1e9, ttl;
	int t;

	kv_key(L);
	t = lua_type(L, 2);
	if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
		return luaL_error(L, "sluice.kv_set: a value is a string, a "
				     "number or a boolean");
	ttl = luaL_checknumber(L, 3);
	if (!(ttl > 0 && ttl <= 86400))
		return luaL_error(L, "sluice.kv_set: a ttl of 0 to 86400 "
				     "seconds");
	lua_settop(L, 3);
	vm = kv_tables(L); /* 4: values, 5: ends */
	lua_pushvalue(L, 1);
	if (lua_rawget(L, 5) == LUA_TNIL) {
		if (vm->kv_n >= vm->budget.kv_entries)
			kv_sweep(L, vm, now, 4, 5);
		if (vm->kv_n >= vm->budget.kv_entries) {
			lua_pushboolean(L, 0);
			lua_pushliteral(L, "full");
			return 2;
		}
		vm->kv_n++;
	}
	lua_pop(L, 1);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_rawset(L, 4);
	lua_pushvalue(L, 1);
	lua_pushnumber(L, now + ttl);
	lua_rawset(L, 5);
	lua_pushboolean(L, 1);
	return 1;
}

/* sluice.kv_del(key). */
static int
h_kv_del(lua_State *L)
{
	struct sl_luavm *vm;

	kv_key(L);
	lua_settop(L, 1);
	vm = kv_tables(L);
	lua_pushvalue(L, 1);
	if (lua_rawget(L, 3) != LUA_TNIL)
		kv_drop(L, vm, 1, 2, 3);
	return 0;
}

/* setmetatable, without __gc: a finalizer would run outside any call's
 * budget (at a collection, or when the state closes). */
static int
safe_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE &&
	    lua_getfield(L, 2, "__gc") != LUA_TNIL)
		return luaL_error(L, "setmetatable: __gc is not allowed "
				     "(doc/lua.md)");
	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, 2, 1);
	return 1;
}

static const luaL_Reg helpers[] = {{"sha256", h_sha256},
				   {"hmac_sha256", h_hmac_sha256},
				   {"hex", h_hex},
				   {"unhex", h_unhex},
				   {"base64", h_base64},
				   {"unbase64", h_unbase64},
				   {"equal", h_equal},
				   {"now", h_now},
				   {"json_decode", h_json_decode},
				   {"json_encode", h_json_encode},
				   {"kv_get", h_kv_get},
				   {"kv_set", h_kv_set},
				   {"kv_del", h_kv_del},
				   {NULL, NULL}};

static const char xpcall_src[] =
    "local pcall, table = ...\n"
    "return function(f, msgh, ...)\n"
    "  local r = table.pack(pcall(f, ...))\n"
    "  if r[1] then return table.unpack(r, 1, r.n) end\n"
    "  return false, msgh(r[2])\n"
    "end\n";

/* coroutine.create and coroutine.wrap (the upvalue): the thread they
 * make runs under the count hook from its start, since the slice timer
 * sets the hook on the call's own thread alone (sl_luavm_resume). */
static int
co_make(lua_State *L)
{
	int n = lua_gettop(L);
	lua_State *co;

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, 1);
	if ((co = lua_tothread(L, -1)) == NULL &&
	    lua_getupvalue(L, -1, 1) != NULL) {
		co = lua_tothread(L, -1); /* wrap's function holds it */
		lua_pop(L, 1);
	}
	if (co == NULL)
		return luaL_error(L, "coroutine: no thread made");
	lua_sethook(co, hook, LUA_MASKCOUNT, SL_LUAVM_HOOK_EVERY);
	return 1;
}

/* The sandbox, on a state made now. */
static int
vm_open(lua_State *L)
{
	static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
					{LUA_COLIBNAME, luaopen_coroutine},
					{LUA_TABLIBNAME, luaopen_table},
					{LUA_STRLIBNAME, luaopen_string},
					{LUA_MATHLIBNAME, luaopen_math},
					{LUA_UTF8LIBNAME, luaopen_utf8},
					{NULL, NULL}};
	static const char *const gone[] = {"dofile", "loadfile",       "load",
					   "rawset", "collectgarbage", "print",
					   NULL};

	for (const luaL_Reg *l = libs; l->name != NULL; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	for (size_t i = 0; gone[i] != NULL; i++) {
		lua_pushnil(L);
		lua_setglobal(L, gone[i]);
	}
	lua_getglobal(L, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	lua_getglobal(L, "coroutine");
	lua_getfield(L, -1, "create");
	lua_pushcclosure(L, co_make, 1);
	lua_setfield(L, -2, "create");
	lua_getfield(L, -1, "wrap");
	lua_pushcclosure(L, co_make, 1);
	lua_setfield(L, -2, "wrap");
	lua_pop(L, 1);
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, safe_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
	/* xpcall's handler runs after the error unwound, as a pcall's
	 * caller would run it: Lua calls a message handler from inside the
	 * hook that raised the error, where no hook fires, so a handler
	 * that loops would escape every budget */
	if (luaL_loadstring(L, xpcall_src) != LUA_OK)
		return lua_error(L);
	lua_getglobal(L, "pcall");
	lua_getglobal(L, "table");
	lua_call(L, 2, 1);
	lua_setglobal(L, "xpcall");
	sl_luapat_open(L, pat_steps, pat_slice);
	lua_newtable(L);
	vm_of(L)->kv_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	vm_of(L)->kv_exp_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	luaL_newlib(L, helpers);
	lua_pushlightuserdata(L, &json_null_mark);
	lua_setfield(L, -2, "null");
	lua_setglobal(L, "sluice");
	return 0;
}

/* ---- states and calls ------------------------------------------------ */

struct sl_luavm *
sl_luavm_new(const struct sl_luavm_budget *budget)
{
	struct sl_luavm *vm = calloc(1, sizeof(*vm));

	if (vm == NULL)
		return NULL;
	vm->budget = *budget;
	vm->mem_cap = budget->memory;
	vm->hook_all = budget->instructions < SL_LUAVM_LAZY_MIN;
	vm->fn[0] = vm->fn[1] = vm->fn[2] = LUA_NOREF;
	vm->obj_ref = vm->consts_ref = LUA_NOREF;
	if ((vm->L = lua_newstate(vm_alloc, vm)) == NULL) {
		free(vm);
		return NULL;
	}
	/* every thread made from now on inherits it */
	lua_sethook(vm->L, hook, LUA_MASKCOUNT, SL_LUAVM_HOOK_EVERY);
	lua_pushcfunction(vm->L, vm_open);
	if (lua_pcall(vm->L, 0, 0, 0) != LUA_OK) {
		sl_luavm_free(vm);
		return NULL;
	}
	return vm;
}

void
sl_luavm_free(struct sl_luavm *vm)
{
	if (vm == NULL)
		return;
	vm->run = NULL;
	lua_close(vm->L);
	free(vm);
}

/* A thread for calls, anchored in the registry: its address and its
 * reference. */
static int
new_thread(lua_State *L)
{
	lua_State *co = lua_newthread(L);
	int ref = luaL_ref(L, LUA_REGISTRYINDEX);

	lua_pushlightuserdata(L, co);
	lua_pushinteger(L, ref);
	return 2;
}

lua_State *
sl_luavm_begin(struct sl_luavm *vm, struct sl_luavm_run *run, int no_yield)
{
	run->vm = vm;
	run->co = NULL;
	run->done = 0;
	run->used_ns = 0;
	run->fail = SL_LUAVM_OK;
	run->why[0] = '\0';
	run->no_yield = no_yield;
	run->insns_left = vm->budget.instructions;
	/* the first slice without the hook (the slice timer ends it) */
	run->hooked = no_yield | vm->hook_all;
	if (vm->npool > 0) {
		vm->npool--;
		run->co = vm->pool[vm->npool];
		run->co_at = vm->pool_ref[vm->npool];
	} else {
		/* made in protected mode: a refusal of the cap is no
		 * script's, and must not end the process */
		lua_pushcfunction(vm->L, new_thread);
		if (lua_pcall(vm->L, 0, 2, 0) != LUA_OK) {
			lua_pop(vm->L, 1);
			run->fail = SL_LUAVM_MEMORY;
			snprintf(run->why, sizeof(run->why),
				 "memory cap of %llu bytes reached",
				 (unsigned long long)vm->mem_cap);
			return NULL;
		}
		run->co = lua_touserdata(vm->L, -2);
		run->co_at = (int)lua_tointeger(vm->L, -1);
		lua_pop(vm->L, 2);
	}
	return run->co;
}

enum sl_luavm_rc
sl_luavm_resume(struct sl_luavm_run *run, int nargs, uint64_t start_ns)
{
	struct sl_luavm *vm = run->vm;
	uint64_t budget_ns = vm->budget.time_us * 1000;
	int nres = 0, st;

	run->slice_ns = start_ns != 0 ? start_ns : sl_mono_ns();
	run->stop_ns =
	    run->slice_ns +
	    (budget_ns > run->used_ns ? budget_ns - run->used_ns : 0);
	run->yield_ns = run->no_yield
			    ? UINT64_MAX
			    : run->slice_ns + SL_LUAVM_SLICE_US * 1000;
	if (!run->hooked && !slice_armed && slice_timer_get() == -1)
		run->hooked = 1; /* no timer: counted from the start */
	if (run->hooked) {
		if (lua_gethookmask(run->co) == 0)
			lua_sethook(run->co, hook, LUA_MASKCOUNT,
				    SL_LUAVM_HOOK_EVERY);
		vm->run = run;
		st = lua_resume(run->co, vm->L, nargs, &nres);
	} else {
		if (lua_gethookmask(run->co) != 0)
			lua_sethook(run->co, NULL, 0, 0);
		vm->run = run;
		slice_run = run;
		if (!slice_armed) {
			/* a whole slice: a call's time budget is at least a
			 * millisecond ("time"'s least) */
			slice_armed = timer_settime(slice_timer, 0,
						    &slice_whole, NULL) == 0;
			if (!slice_armed) {
				/* no timer (or it fired already): the
				 * hook bounds the slice */
				run->hooked = 1;
				lua_sethook(run->co, hook, LUA_MASKCOUNT,
					    SL_LUAVM_HOOK_EVERY);
			}
		}
		st = lua_resume(run->co, vm->L, nargs, &nres);
		slice_run = NULL;
		/* not left to fire once the loop waits: a signal then cuts
		 * the loop's wait short for nothing */
		if (slice_armed) {
			(void)timer_settime(slice_timer, 0, &slice_off, NULL);
			slice_armed = 0;
		}
		/* a call that comes back runs its later slices counted */
		run->hooked = 1;
	}
	vm->run = NULL;
	run->used_ns += sl_mono_ns() - run->slice_ns;
	if (st == LUA_OK) {
		run->done = 1;
		run->nres = nres;
		return SL_LUAVM_DONE;
	}
	if (st == LUA_YIELD && run->fail == SL_LUAVM_OK) {
		lua_pop(run->co, nres);
		if (nres == 0 && !run->no_yield)
			return SL_LUAVM_YIELD;
		run->fail = SL_LUAVM_ERROR;
		snprintf(run->why, sizeof(run->why),
			 "a call yielded outside a coroutine of its own");
		return SL_LUAVM_FAILED;
	}
	if (run->fail == SL_LUAVM_OK) {
		const char *m = lua_tostring(run->co, -1);
		run->fail = st == LUA_ERRMEM	   ? SL_LUAVM_MEMORY
			    : run->insns_left == 0 ? SL_LUAVM_INSTRUCTIONS
						   : SL_LUAVM_ERROR;
		snprintf(run->why, sizeof(run->why), "%s",
			 m != NULL ? m : "an error that is not a string");
	}
	return SL_LUAVM_FAILED;
}

void
sl_luavm_end(struct sl_luavm_run *run)
{
	struct sl_luavm *vm = run->vm;
	lua_State *co = run->co;

	if (co == NULL)
		return;
	run->co = NULL;
	/* a thread is used again only after a call that ended well: one
	 * cut by an error keeps hooks off (Lua turns them off while a hook
	 * runs, and an error raised there never turns them back on outside
	 * a pcall), so it goes, closed by the collector; nor is one that
	 * did not return (its status is not LUA_OK) */
	if (run->done && run->fail == SL_LUAVM_OK &&
	    vm->npool < SL_LUAVM_POOL) {
		if (run->nres != 0) /* what it returned: all it holds */
			lua_settop(co, 0);
		vm->pool[vm->npool] = co;
		vm->pool_ref[vm->npool++] = run->co_at;
	} else {
		lua_settop(co, 0);
		luaL_unref(vm->L, LUA_REGISTRYINDEX, run->co_at);
	}
}

/* Run once the script's top level has: its globals, and the tables
 * they hold, become read-only (doc/lua.md, "The standard library"), so
 * that a call keeps nothing for the next but in sluice.kv (a global a
 * call sets, the usual slip of a forgotten "local", is an error there,
 * with its FILE:LINE). */
static const char seal_src[] =
    "local G, setmetatable, next, type, error, rawlen, tostring =\n"
    "  _G, setmetatable, next, type, error, rawlen, tostring\n"
    "local seen = {}\n"
    "local function ro(t)\n"
    "  local p = seen[t]\n"
    "  if p then return p end\n"
    "  p = {}\n"
    "  seen[t] = p\n"
    "  for k, v in next, t do\n"
    "    if type(v) == 'table' then t[k] = ro(v) end\n"
    "  end\n"
    "  return setmetatable(p, {__index = t, __len = function()\n"
    "    return rawlen(t) end, __pairs = function() return next, t, nil end,\n"
    "    __newindex = function() error('a table of the script\\'s ' ..\n"
    "      'globals is read-only in a call (doc/lua.md)', 2) end,\n"
    "    __metatable = false})\n"
    "end\n"
    "local kept, names = {}, {}\n"
    "for k, v in next, G do\n"
    "  names[#names + 1] = k\n"
    "  kept[k] = (type(v) == 'table' and v ~= G) and ro(v) or v\n"
    "end\n"
    "for i = 1, #names do G[names[i]] = nil end\n"
    "kept._G = G\n"
    "setmetatable(G, {__index = kept, __newindex = function(_, k)\n"
    "  error('a global (' .. tostring(k) .. ') set in a call: a local, ' ..\n"
    "    'or sluice.kv (doc/lua.md)', 2) end, __metatable = false})\n";

/* Loads and runs chunk text (name for messages) as a call of its own,
 * in one go. Returns 0, or -1 with the error in err. */
static int
run_chunk(struct sl_luavm *vm, const char *name, const char *text, size_t len,
	  char *err, size_t errsz)
{
	struct sl_luavm_run run;
	lua_State *co;
	int rc = 0;

	if ((co = sl_luavm_begin(vm, &run, 1)) == NULL) {
		snprintf(err, errsz, "%s", run.why);
		return -1;
	}
	vm->run = &run;
	if (luaL_loadbufferx(co, text, len, name, "t") != LUA_OK) {
		const char *m = lua_tostring(co, -1);
		snprintf(err, errsz, "%s", m != NULL ? m : "cannot load");
		run.fail = SL_LUAVM_ERROR;
		rc = -1;
	}
	vm->run = NULL;
	if (rc == 0 && sl_luavm_resume(&run, 0, 0) != SL_LUAVM_DONE) {
		snprintf(err, errsz, "%s", run.why);
		rc = -1;
	}
	sl_luavm_end(&run);
	return rc;
}

int
sl_luavm_load(struct sl_luavm *vm, const char *name, const char *text,
	      size_t len, char *err, size_t errsz)
{
	char chunk[512];

	struct sl_luavm_budget calls = vm->budget;
	int rc;

	/* the top level and the seal run once, at a load: a budget of their
	 * own, at least 10 million instructions and a second (a slow machine,
	 * a sanitizer's build, must not refuse a file a call's 5 ms would) */
	if (vm->budget.instructions < 10000000)
		vm->budget.instructions = 10000000;
	if (vm->budget.time_us < 1000000)
		vm->budget.time_us = 1000000;
	snprintf(chunk, sizeof(chunk), "@%s", name);
	rc = run_chunk(vm, chunk, text, len, err, errsz);
	if (rc == 0)
		rc = run_chunk(vm, "=sluice", seal_src, sizeof(seal_src) - 1,
			       err, errsz);
	vm->budget = calls;
	return rc;
}

/* The global function named by the light userdata, as a reference (nil
 * when it is none). */
static int
p_function(lua_State *L)
{
	if (lua_getglobal(L, lua_touserdata(L, 1)) != LUA_TFUNCTION) {
		lua_pushstring(L, luaL_typename(L, -1));
		return 1;
	}
	lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
	return 1;
}

int
sl_luavm_function(struct sl_luavm *vm, const char *name, char *err,
		  size_t errsz)
{
	lua_State *L = vm->L;
	int ref = -1;

	if (sl_luavm_pcall(vm, p_function, (void *)name) == -1)
		snprintf(err, errsz, "out of memory");
	else if (lua_isinteger(L, -1))
		ref = (int)lua_tointeger(L, -1);
	else
		snprintf(err, errsz,
			 "the script defines no function \"%s\" (it is %s)",
			 name, lua_tostring(L, -1));
	lua_settop(L, 0);
	return ref;
}

int
sl_luavm_pcall(struct sl_luavm *vm, int (*f)(struct lua_State *L), void *ud)
{
	lua_settop(vm->L, 0);
	lua_pushcfunction(vm->L, f);
	lua_pushlightuserdata(vm->L, ud);
	return lua_pcall(vm->L, 1, LUA_MULTRET, 0) == LUA_OK ? 0 : -1;
}

void
sl_luavm_see(struct sl_luavm *vm, unsigned kind, lua_State *L, int i,
	     const char *p)
{
	unsigned k = vm->seen[kind].next++ & 3;

	if (vm->seen[kind].p[k] != NULL)
		luaL_unref(L, LUA_REGISTRYINDEX, vm->seen[kind].ref[k]);
	vm->seen[kind].p[k] = NULL;
	lua_pushvalue(L, i);
	vm->seen[kind].ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
	vm->seen[kind].p[k] = p;
}

int
sl_luavm_warn_ok(struct sl_luavm *vm, uint64_t now_ms, uint64_t *skipped)
{
	if (vm->warned_ms != 0 && now_ms - vm->warned_ms < 1000) {
		vm->warn_skipped++;
		return 0;
	}
	vm->warned_ms = now_ms;
	*skipped = vm->warn_skipped;
	vm->warn_skipped = 0;
	return 1;
}
