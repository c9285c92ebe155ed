/* SPDX-License-Identifier: MIT */
/*
 * Lua 5.4's string patterns, written from the reference manual (6.4.1)
 * and checked against liblua5.4 (tests/unit/test_lpat.c, fuzz_lpat.c):
 * the same matches, captures and errors, but every loop takes a step from
 * the caller's budget and stops when it is gone. Pure: no Lua, no I/O, no
 * allocation; an error is carried back up the recursion in m->status
 * rather than by a long jump, so no frame is skipped.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lpat.h"

/* The escape character, as in Lua's patterns */
#define ESC '%'

/* Sets a pattern error; returns NULL so that callers can return it. */
static const char *
fail(struct sl_lpat *m, const char *why)
{
	if (m->status == 0) {
		m->status = SL_LPAT_E_PATTERN;
		m->err = why;
	}
	return NULL;
}

/* Takes n steps; returns 0, or -1 once the budget is gone (status set). */
static int
take(struct sl_lpat *m, uint64_t n)
{
	if (*m->steps < n) {
		*m->steps = 0;
		if (m->status == 0) {
			m->status = SL_LPAT_E_BUDGET;
			m->err = "pattern step budget exhausted";
		}
		return -1;
	}
	*m->steps -= n;
	return 0;
}

/* The pattern's byte at p, or 0 at its end: Lua reads the terminating NUL
 * there, and its rules are written with that in mind. */
static int
pat_at(const struct sl_lpat *m, const char *p)
{
	return p < m->pat_end ? (unsigned char)*p : 0;
}

/* The subject's byte at s, or 0 at its end, for the same reason (%f). */
static int
src_at(const struct sl_lpat *m, const char *s)
{
	return s < m->src_end ? (unsigned char)*s : 0;
}

/* Whether c is in the class named by letter cl (%a, %D, ...); any other
 * cl stands for itself, as an escaped punctuation character does. */
static int
in_class(int c, int cl)
{
	int r;

	switch (tolower(cl)) {
	case 'a':
		r = isalpha(c);
		break;
	case 'c':
		r = iscntrl(c);
		break;
	case 'd':
		r = isdigit(c);
		break;
	case 'g':
		r = isgraph(c);
		break;
	case 'l':
		r = islower(c);
		break;
	case 'p':
		r = ispunct(c);
		break;
	case 's':
		r = isspace(c);
		break;
	case 'u':
		r = isupper(c);
		break;
	case 'w':
		r = isalnum(c);
		break;
	case 'x':
		r = isxdigit(c);
		break;
	case 'z':
		/* not in the manual since 5.2, but Lua 5.4 still takes it */
		r = c == 0;
		break;
	default:
		return cl == c;
	}
	if (isupper(cl))
		r = !r;
	return r != 0;
}

/*
 * Whether c is in the set that opens with '[' at p and closes with the
 * ']' at close (both inside the pattern, as item_end found them).
 */
static int
in_set(int c, const char *p, const char *close)
{
	int yes = 1;

	if (p[1] == '^') {
		yes = 0;
		p++;
	}
	while (++p < close) {
		if (*p == ESC) {
			p++;
			if (in_class(c, (unsigned char)*p))
				return yes;
		} else if (p[1] == '-' && p + 2 < close) {
			if ((unsigned char)p[0] <= c &&
			    c <= (unsigned char)p[2])
				return yes;
			p += 2;
		} else if ((unsigned char)*p == c) {
			return yes;
		}
	}
	return !yes;
}

/*
 * Where the single-character item at p ends: past an escape's letter or a
 * set's ']'. A set's first character may be ']' itself, and "%]" inside
 * it does not close it. Returns NULL on a malformed item.
 */
static const char *
item_end(struct sl_lpat *m, const char *p)
{
	const char *open = p;
	int c = (unsigned char)*p++;

	if (c == ESC) {
		if (p >= m->pat_end)
			return fail(m, "malformed pattern (ends with '%')");
		return p + 1;
	}
	if (c != '[')
		return p;
	if (pat_at(m, p) == '^')
		p++;
	do {
		if (p >= m->pat_end)
			return fail(m, "malformed pattern (missing ']')");
		if (*p++ == ESC && p < m->pat_end)
			p++;
	} while (pat_at(m, p) != ']');
	/* A long set costs in proportion to its length, each time. */
	if (take(m, 1 + (uint64_t)(p - open) / 16) < 0)
		return NULL;
	return p + 1;
}

/* Whether the subject byte at s matches the item [p, ep). */
static int
item_match(struct sl_lpat *m, const char *s, const char *p, const char *ep)
{
	int c;

	if (s >= m->src_end)
		return 0;
	c = (unsigned char)*s;
	switch (*p) {
	case '.':
		return 1;
	case ESC:
		return in_class(c, (unsigned char)p[1]);
	case '[':
		return in_set(c, p, ep - 1);
	default:
		return (unsigned char)*p == c;
	}
}

static const char *match(struct sl_lpat *m, const char *s, const char *p);

/* "%bxy" at s, p at x: the shortest balanced run from an x to its y. */
static const char *
balance(struct sl_lpat *m, const char *s, const char *p)
{
	int open, close, depth = 1;

	if (p + 1 >= m->pat_end)
		return fail(m, "malformed pattern (missing arguments to '%b')");
	if (s >= m->src_end || *s != *p)
		return NULL;
	open = *p;
	close = p[1];
	while (++s < m->src_end) {
		if (take(m, 1) < 0)
			return NULL;
		if (*s == close) {
			if (--depth == 0)
				return s + 1;
		} else if (*s == open) {
			depth++;
		}
	}
	return NULL;
}

/* A back-reference %1-%9 (digit d) at s: the same bytes as the capture. */
static const char *
backref(struct sl_lpat *m, const char *s, int d)
{
	int i = d - '1';
	size_t len;

	if (i < 0 || i >= m->level || m->cap[i].len == SL_LPAT_CAP_UNFINISHED) {
		snprintf(m->errbuf, sizeof(m->errbuf),
			 "invalid capture index %%%d", i + 1);
		return fail(m, m->errbuf);
	}
	/* A position capture has no bytes to repeat: it never matches. */
	if (m->cap[i].len < 0)
		return NULL;
	len = (size_t)m->cap[i].len;
	if (take(m, 1 + len / 16) < 0)
		return NULL;
	if ((size_t)(m->src_end - s) >= len &&
	    memcmp(m->cap[i].init, s, len) == 0)
		return s + len;
	return NULL;
}

/* Opens a capture at s (len SL_LPAT_CAP_*) and matches the rest from p. */
static const char *
cap_open(struct sl_lpat *m, const char *s, const char *p, ptrdiff_t len)
{
	const char *r;

	if (m->level >= SL_LPAT_MAXCAP)
		return fail(m, "too many captures");
	m->cap[m->level].init = s;
	m->cap[m->level].len = len;
	m->level++;
	if ((r = match(m, s, p)) == NULL)
		m->level--;
	return r;
}

/* Closes the innermost open capture at s and matches the rest from p. */
static const char *
cap_close(struct sl_lpat *m, const char *s, const char *p)
{
	const char *r;
	int i;

	for (i = m->level - 1; i >= 0; i--)
		if (m->cap[i].len == SL_LPAT_CAP_UNFINISHED)
			break;
	if (i < 0)
		return fail(m, "invalid pattern capture");
	m->cap[i].len = s - m->cap[i].init;
	if ((r = match(m, s, p)) == NULL)
		m->cap[i].len = SL_LPAT_CAP_UNFINISHED;
	return r;
}

/* Item [p, ep) repeated greedily from s ('*', and '+' after its first),
 * then given back one at a time until the rest after ep matches. */
static const char *
expand_max(struct sl_lpat *m, const char *s, const char *p, const char *ep)
{
	ptrdiff_t n = 0;
	const char *r;

	while (item_match(m, s + n, p, ep)) {
		if (take(m, 1) < 0)
			return NULL;
		n++;
	}
	for (; n >= 0; n--) {
		if (take(m, 1) < 0)
			return NULL;
		if ((r = match(m, s + n, ep + 1)) != NULL || m->status != 0)
			return r;
	}
	return NULL;
}

/* Item [p, ep) repeated lazily ('-'): the rest is tried first, then one
 * more repetition, until the rest matches or the item does not. */
static const char *
expand_min(struct sl_lpat *m, const char *s, const char *p, const char *ep)
{
	const char *r;

	for (;;) {
		if (take(m, 1) < 0)
			return NULL;
		if ((r = match(m, s, ep + 1)) != NULL || m->status != 0)
			return r;
		if (!item_match(m, s, p, ep))
			return NULL;
		s++;
	}
}

/* "%f[set]" at s, p past the 'f': the boundary where the byte before s
 * (0 at the start) is not in the set and the byte at s (0 at the end) is.
 * Returns where the pattern goes on, or NULL. */
static const char *
frontier(struct sl_lpat *m, const char *s, const char *p)
{
	const char *ep;
	int before;

	if (pat_at(m, p) != '[')
		return fail(m, "missing '[' after '%f' in pattern");
	if ((ep = item_end(m, p)) == NULL)
		return NULL;
	before = s == m->src ? 0 : (unsigned char)s[-1];
	if (!in_set(before, p, ep - 1) && in_set(src_at(m, s), p, ep - 1))
		return ep;
	return NULL;
}

/*
 * A single item at p with what follows it: ep is where the item ends and
 * a quantifier may stand. Sets *s and *p to go on with and returns 1, or
 * returns 0 with the result (a match's end or NULL) in *s.
 */
static int
single(struct sl_lpat *m, const char **s, const char **p, const char *ep)
{
	const char *r;
	int q = pat_at(m, ep);

	if (!item_match(m, *s, *p, ep)) {
		if (q == '*' || q == '?' || q == '-') {
			*p = ep + 1;
			return 1;
		}
		*s = NULL;
		return 0;
	}
	switch (q) {
	case '?':
		if ((r = match(m, *s + 1, ep + 1)) != NULL || m->status != 0) {
			*s = r;
			return 0;
		}
		*p = ep + 1;
		return 1;
	case '+':
		*s = expand_max(m, *s + 1, *p, ep);
		return 0;
	case '*':
		*s = expand_max(m, *s, *p, ep);
		return 0;
	case '-':
		*s = expand_min(m, *s, *p, ep);
		return 0;
	default:
		(*s)++;
		*p = ep;
		return 1;
	}
}

/*
 * Matches pattern p onwards at subject s; returns the match's end or NULL
 * (m->status tells an error from no match). Items that cannot backtrack
 * loop here; those that can recurse, at most SL_LPAT_MAXDEPTH deep.
 */
static const char *
match(struct sl_lpat *m, const char *s, const char *p)
{
	const char *ep;

	if (m->depth-- == 0) {
		m->depth++;
		return fail(m, "pattern too complex");
	}
	while (s != NULL && p < m->pat_end) {
		if (take(m, 1) < 0) {
			s = NULL;
			break;
		}
		switch (*p) {
		case '(':
			if (pat_at(m, p + 1) == ')')
				s = cap_open(m, s, p + 2, SL_LPAT_CAP_POSITION);
			else
				s = cap_open(m, s, p + 1,
					     SL_LPAT_CAP_UNFINISHED);
			goto out;
		case ')':
			s = cap_close(m, s, p + 1);
			goto out;
		case '$':
			if (p + 1 == m->pat_end) {
				s = s == m->src_end ? s : NULL;
				goto out;
			}
			break;
		case ESC:
			switch (pat_at(m, p + 1)) {
			case 'b':
				if ((s = balance(m, s, p + 2)) != NULL)
					p += 4;
				continue;
			case 'f':
				if ((p = frontier(m, s, p + 2)) == NULL)
					s = NULL;
				continue;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
			case '8':
			case '9':
				if ((s = backref(m, s, pat_at(m, p + 1))) !=
				    NULL)
					p += 2;
				continue;
			default:
				break;
			}
			break;
		default:
			break;
		}
		if ((ep = item_end(m, p)) == NULL) {
			s = NULL;
			break;
		}
		if (!single(m, &s, &p, ep))
			break;
	}
out:
	m->depth++;
	return m->status != 0 ? NULL : s;
}

void
sl_lpat_init(struct sl_lpat *m, const char *s, size_t slen, const char *p,
	     size_t plen, uint64_t *steps)
{
	m->src = s;
	m->src_end = s + slen;
	m->pat = p;
	m->pat_end = p + plen;
	m->steps = steps;
	m->level = 0;
	m->status = 0;
	m->err = NULL;
	m->depth = SL_LPAT_MAXDEPTH;
	m->errbuf[0] = '\0';
}

const char *
sl_lpat_match(struct sl_lpat *m, const char *s, const char *p)
{
	m->level = 0;
	m->depth = SL_LPAT_MAXDEPTH;
	/* A start costs a step even where the pattern is empty. */
	if (take(m, 1) < 0)
		return NULL;
	return match(m, s, p);
}

int
sl_lpat_find(struct sl_lpat *m, size_t init, size_t *start, size_t *end)
{
	const char *s = m->src + init, *p = m->pat, *e;
	int anchor = 0;

	if (p < m->pat_end && *p == '^') {
		anchor = 1;
		p++;
	}
	do {
		if ((e = sl_lpat_match(m, s, p)) != NULL) {
			*start = (size_t)(s - m->src);
			*end = (size_t)(e - m->src);
			return 1;
		}
		if (m->status != 0)
			return m->status;
	} while (s++ < m->src_end && !anchor);
	return 0;
}

ptrdiff_t
sl_lpat_capture(struct sl_lpat *m, int i, const char *s, const char *e,
		const char **cap)
{
	if (i >= m->level) {
		if (i != 0) {
			snprintf(m->errbuf, sizeof(m->errbuf),
				 "invalid capture index %%%d", i + 1);
			fail(m, m->errbuf);
			return SL_LPAT_E_PATTERN;
		}
		*cap = s;
		return e - s;
	}
	*cap = m->cap[i].init;
	if (m->cap[i].len == SL_LPAT_CAP_UNFINISHED) {
		fail(m, "unfinished capture");
		return SL_LPAT_E_PATTERN;
	}
	return m->cap[i].len;
}

int
sl_lpat_is_plain(const char *p, size_t plen)
{
	static const char specials[] = "^$*+?.([%-";

	for (size_t i = 0; i < plen; i++)
		if (p[i] != '\0' && strchr(specials, p[i]) != NULL)
			return 0;
	return 1;
}

/* The bytes one memmem call may search: large enough that the calls cost
 * little, small enough that a budget is checked often. */
#define MEMFIND_CHUNK 4096

ptrdiff_t
sl_lpat_memfind(const char *s, size_t slen, const char *p, size_t plen,
		uint64_t *steps)
{
	size_t chunk = plen > MEMFIND_CHUNK ? plen : MEMFIND_CHUNK;
	size_t at, win;
	const char *r;

	if (plen == 0)
		return 0;
	if (plen > slen)
		return -1;
	/*
	 * Each window holds every start in [at, at + chunk) with room for a
	 * whole occurrence, so the first hit of the first window that has
	 * one is the first of all; windows overlap by plen - 1 < chunk
	 * bytes, so the bytes searched stay under twice the subject.
	 */
	for (at = 0; at + plen <= slen; at += chunk) {
		win = slen - at;
		if (win > chunk + plen - 1)
			win = chunk + plen - 1;
		if (*steps < win) {
			*steps = 0;
			return SL_LPAT_E_BUDGET;
		}
		*steps -= win;
		if ((r = memmem(s + at, win, p, plen)) != NULL)
			return r - s;
	}
	return -1;
}
