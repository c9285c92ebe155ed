/* SPDX-License-Identifier: MIT */
/*
 * Lua 5.4's string patterns (reference manual, 6.4.1) matched with a step
 * budget, so that a Lua filter's string.find and friends cannot run for
 * minutes inside one C call where Lua's count hook never fires. Pure: no
 * Lua, no I/O, no allocation; recursion is bounded by SL_LPAT_MAXDEPTH.
 */
#ifndef SL_LPAT_H
#define SL_LPAT_H

#include <stddef.h>
#include <stdint.h>

#define SL_LPAT_MAXCAP	 32  /* captures in one pattern, Lua's default */
#define SL_LPAT_MAXDEPTH 200 /* nested matcher calls, Lua's MAXCCALLS */

/* A capture's len while it is open, and for a position capture "()" */
#define SL_LPAT_CAP_UNFINISHED (-1)
#define SL_LPAT_CAP_POSITION   (-2)

/* Results besides 0 and 1: a malformed pattern (m->err says why), or the
 * budget ran out (*m->steps is 0). */
#define SL_LPAT_E_PATTERN (-1)
#define SL_LPAT_E_BUDGET  (-2)

/* One match's state, on the caller's stack; the subject and the pattern
 * are borrowed and must outlive it. */
struct sl_lpat {
	const char *src, *src_end; /* the subject */
	const char *pat, *pat_end; /* the whole pattern, '^' included */
	uint64_t *steps;	   /* budget: taken per step, borrowed */
	int level;		   /* captures opened so far */
	struct {
		const char *init; /* where it starts in the subject */
		ptrdiff_t len;	  /* bytes, or SL_LPAT_CAP_* */
	} cap[SL_LPAT_MAXCAP];
	int status;	 /* 0, SL_LPAT_E_PATTERN or SL_LPAT_E_BUDGET */
	const char *err; /* why, once status is not 0 */
	int depth;	 /* nested calls left before "too complex" */
	char errbuf[48]; /* room for a message naming a capture */
};

/*
 * Sets m up for subject s (slen bytes) and pattern p (plen bytes), drawing
 * steps from *steps, which the caller keeps and may share between calls.
 */
void sl_lpat_init(struct sl_lpat *m, const char *s, size_t slen, const char *p,
		  size_t plen, uint64_t *steps);

/*
 * Matches the pattern from p (inside m's pattern, an anchor '^' already
 * skipped by the caller) at subject position s, captures reset first;
 * each call takes a step, so a caller's loop over starts is bounded too.
 * Returns where the match ends, or NULL: no match when m->status is 0,
 * else a malformed pattern or the budget run out.
 */
const char *sl_lpat_match(struct sl_lpat *m, const char *s, const char *p);

/*
 * Lua's find loop: tries every start from init (0-based, at most slen;
 * Lua's negative init is resolved by the caller) to the subject's end,
 * only init when the pattern starts with '^'. Returns 1 with the match in
 * [*start, *end) and its captures in m, 0 when nothing matches, or
 * SL_LPAT_E_PATTERN / SL_LPAT_E_BUDGET.
 */
int sl_lpat_find(struct sl_lpat *m, size_t init, size_t *start, size_t *end);

/*
 * Capture i (0-based) of the match [s, e) as Lua hands it out: with no
 * captures, capture 0 is the whole match. Returns the length and sets
 * *cap, or SL_LPAT_CAP_POSITION (the position is *cap - m->src + 1), or
 * SL_LPAT_E_PATTERN for a capture that does not exist or is unfinished.
 */
ptrdiff_t sl_lpat_capture(struct sl_lpat *m, int i, const char *s,
			  const char *e, const char **cap);

/* Whether p (plen bytes) holds none of the characters that make a pattern
 * more than a plain string: Lua then searches for it as bytes. */
int sl_lpat_is_plain(const char *p, size_t plen);

/*
 * The first occurrence of p (plen bytes) in s (slen bytes), linear time,
 * with steps taken in proportion to the bytes searched. Returns its
 * offset in s, -1 when absent, or SL_LPAT_E_BUDGET (then *steps is 0).
 */
ptrdiff_t sl_lpat_memfind(const char *s, size_t slen, const char *p,
			  size_t plen, uint64_t *steps);

#endif
