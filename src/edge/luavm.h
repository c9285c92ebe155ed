/* SPDX-License-Identifier: MIT */
/*
 * A Lua state for a route's script (doc/lua.md), with hard budgets: the
 * sandbox (Lua 5.4's base, string, table, math and utf8 libraries and
 * coroutines, without io, os, package, debug, load, dofile or bytecode;
 * the pattern functions bounded by lua_pat.c), a memory cap counted by the
 * state's allocator, and calls that run in slices under an instruction
 * budget and a running-time budget checked by a count hook, which neither
 * pcall, nor a coroutine, nor an error handler escapes. What a script
 * reads and does to a request is the filter's (proxy/exchange_lua.c);
 * sluice's helpers (sluice.sha256, .hmac_sha256, .base64, .hex, .equal,
 * .now) are here. One state is used by one thread at a time; no I/O but
 * the script's file's text, which the caller reads. Built only with
 * HAVE_LUA; the types are here for the others.
 */
#ifndef SL_LUAVM_H
#define SL_LUAVM_H

#include <stddef.h>
#include <stdint.h>

struct lua_State;

/* Why a call failed (the metrics' "kind" label). */
enum sl_luavm_fail {
	SL_LUAVM_OK = 0,
	SL_LUAVM_ERROR,	       /* an error the script raised or ran into */
	SL_LUAVM_INSTRUCTIONS, /* its instruction budget ran out */
	SL_LUAVM_TIME,	       /* its running time ran out */
	SL_LUAVM_MEMORY,       /* its state's memory cap */
	SL_LUAVM_NFAIL
};

/* "error", "instructions", "time", "memory". */
extern const char *const sl_luavm_fail_names[SL_LUAVM_NFAIL];

/* A call's budgets, and its state's memory. */
struct sl_luavm_budget {
	uint64_t instructions; /* VM instructions and pattern steps */
	uint64_t time_us;      /* running time, over all its slices */
	uint64_t memory;       /* the state's cap, bytes */
	uint64_t kv_entries;   /* the state's key-value table, entries */
};

/* A running time is spent in slices of this many microseconds: a call
 * that runs longer yields back to the loop (doc/lua.md, "Budgets"). */
#define SL_LUAVM_SLICE_US 200
/* The count hook fires every this many VM instructions. */
#define SL_LUAVM_HOOK_EVERY 100
/* A call's first slice runs without the count hook, its end set by the
 * worker's slice timer (luavm.c), unless its instruction budget is
 * below this: instructions are counted from the first slice's end. */
#define SL_LUAVM_LAZY_MIN 100000

struct sl_luavm;

/* One call of a function of the script, which may take several slices:
 * its thread and what is left of its budgets. */
struct sl_luavm_run {
	struct sl_luavm *vm;
	struct lua_State *co; /* the call's thread */
	int co_at;	      /* its place in the state's pool */
	int no_yield;	      /* it runs to its end in one go */
	uint64_t insns_left;
	uint64_t used_ns;  /* running time of the slices before */
	uint64_t slice_ns; /* the slice's start */
	uint64_t stop_ns;  /* when the time budget ends, this slice */
	uint64_t yield_ns; /* when the slice ends */
	int hooked;	   /* its slices run under the count hook */
	int done;	   /* it returned (its thread may serve another) */
	int nres;	   /* what it returned, on co */
	enum sl_luavm_fail fail;
	char why[200]; /* the failure, with the script's FILE:LINE */
};

/* What sl_luavm_resume says. */
enum sl_luavm_rc {
	SL_LUAVM_DONE = 0, /* the function returned: its results on run->co */
	SL_LUAVM_YIELD,	   /* its slice is over: resume it later */
	SL_LUAVM_FAILED,   /* run->fail and run->why say why */
};

/* The threads a state keeps for its calls, at most. */
#define SL_LUAVM_POOL 16

struct sl_luavm {
	struct lua_State *L;
	uint64_t mem, mem_cap;
	struct sl_luavm_run *run; /* the call running now, NULL: none */
	struct sl_luavm_budget budget;
	int hook_all; /* every slice of a call under the hook (else its
			 first runs without it: SL_LUAVM_LAZY_MIN) */
	/* the script's functions (registry references; LUA_NOREF: none)
	 * that the caller resolved by name (enum sl_lua_phase's order), and
	 * what else it keeps there: the functions' object and constants */
	int fn[3];
	int obj_ref, consts_ref;
	/* idle threads for calls: pool[0 .. npool) */
	struct lua_State *pool[SL_LUAVM_POOL];
	int pool_ref[SL_LUAVM_POOL];
	unsigned npool;
	/* sluice.kv_*'s table: its values and their ends (registry
	 * references), and how many it holds */
	int kv_ref, kv_exp_ref;
	uint64_t kv_n;
	/* strings a caller checked and found good, by kind (their text's
	 * address), each held in the registry so that the address is never
	 * another string's while it is here (sl_luavm_seen) */
	struct {
		const char *p[4];
		int ref[4];
		unsigned next;
	} seen[2];
	/* the warnings of this state: at most one a second, with the count
	 * of those left out (sl_luavm_warn_ok) */
	uint64_t warned_ms;
	uint64_t warn_skipped;
	int broken; /* it could not be made: every call fails */
};

/* A new state (budget: its calls' and its memory cap), its sandbox open;
 * NULL when out of memory. */
struct sl_luavm *sl_luavm_new(const struct sl_luavm_budget *budget);
void sl_luavm_free(struct sl_luavm *vm);

/* Loads and runs the script's text (name: its file, for FILE:LINE), then
 * makes its globals read-only, under a load's budget (the calls', but at
 * least 10 million instructions and 1 s). Returns 0, or -1 with the error
 * in err. */
int sl_luavm_load(struct sl_luavm *vm, const char *name, const char *text,
		  size_t len, char *err, size_t errsz);

/* Global name of the script, as a registry reference: > 0, or -1 when it
 * is not a function (err says so). */
int sl_luavm_function(struct sl_luavm *vm, const char *name, char *err,
		      size_t errsz);

/* Begins a call on run (no_yield: in one slice): its thread, on which the
 * caller pushes what is called and its arguments, without allocating
 * (outside a call a refusal would end the process): a C function and a
 * light userdata, the C function calling the script's with lua_callk.
 * NULL when out of memory (run->fail set). */
struct lua_State *sl_luavm_begin(struct sl_luavm *vm, struct sl_luavm_run *run,
				 int no_yield);
/* Runs the call (nargs: what the caller pushed after the function, the
 * first time; 0 to resume) for a slice from start_ns (CLOCK_MONOTONIC;
 * 0: now; an earlier time only shortens the slice and the budget). */
enum sl_luavm_rc sl_luavm_resume(struct sl_luavm_run *run, int nargs,
				 uint64_t start_ns);
/* The call is over (done, failed or dropped): its thread goes back. */
void sl_luavm_end(struct sl_luavm_run *run);

/* f(L) on vm's main thread in protected mode, with ud as its one
 * argument (a light userdata): 0, its results left on the stack; or -1,
 * the error there. For what the caller sets up in the state. */
int sl_luavm_pcall(struct sl_luavm *vm, int (*f)(struct lua_State *L),
		   void *ud);

/* Whether the string at p (the text of the Lua string at L's index i)
 * was found good for kind (0 or 1) by a check of the caller's: 1, or 0
 * (sl_luavm_see notes it once checked). A short string is one object
 * for its text, so a constant of the script is checked once. */
static inline int
sl_luavm_seen(const struct sl_luavm *vm, unsigned kind, const char *p)
{
	return vm->seen[kind].p[0] == p || vm->seen[kind].p[1] == p ||
	       vm->seen[kind].p[2] == p || vm->seen[kind].p[3] == p;
}
void sl_luavm_see(struct sl_luavm *vm, unsigned kind, struct lua_State *L,
		  int i, const char *p);

/* Whether a warning of vm may be written now (at most one a second):
 * 1 and *skipped (those left out since the last), or 0. */
int sl_luavm_warn_ok(struct sl_luavm *vm, uint64_t now_ms, uint64_t *skipped);

/* The running call's budget is checked now (a C function of the API that
 * works in proportion to n bytes draws n of its instructions): raises
 * the error when it ran out. */
void sl_luavm_charge(struct lua_State *L, uint64_t n);

#endif
