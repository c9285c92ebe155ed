/* SPDX-License-Identifier: MIT */
/*
 * The WAF's checks on the event loop (wafcheck.h): a request's cookies,
 * arguments and JSON depth counted as the rules will see them.
 */
#include "wafcheck.h"

#include <string.h>

static int
is_hex(unsigned char b)
{
	return (b >= '0' && b <= '9') ||
	       ((b | 0x20) >= 'a' && (b | 0x20) <= 'f');
}

/* Bytes of p[0 .. n) once URL-decoded (%XX is one). */
static uint64_t
decoded_len(const char *p, size_t n)
{
	uint64_t k = n;
	const char *q = p, *e = p + n;

	while ((q = memchr(q, '%', (size_t)(e - q))) != NULL) {
		if (e - q >= 3 && is_hex((unsigned char)q[1]) &&
		    is_hex((unsigned char)q[2])) {
			k -= 2;
			q += 3;
		} else
			q++;
	}
	return k;
}

/* The next segment of p[0 .. n) from *i, up to sep or the end, into
 * [*s, *e); *i moves past it. Returns 0 once there is none. */
static int
next_seg(const char *p, size_t n, size_t *i, char sep, size_t *s, size_t *e)
{
	const char *at;

	if (*i >= n)
		return 0;
	at = memchr(p + *i, sep, n - *i);
	*s = *i;
	*e = at != NULL ? (size_t)(at - p) : n;
	*i = *e + 1;
	return 1;
}

void
sl_wafcheck_cookies(struct sl_wafcheck *c, const char *v, size_t n)
{
	size_t i = 0, s, e;

	/* a pair is what is left of a segment without its white space */
	while (next_seg(v, n, &i, ';', &s, &e))
		for (size_t j = s; j < e; j++)
			if (v[j] != ' ' && v[j] != '\t') {
				c->cookies++;
				break;
			}
}

void
sl_wafcheck_form(struct sl_wafcheck *c, const char *p, size_t n)
{
	size_t i = 0, s, e;

	while (next_seg(p, n, &i, '&', &s, &e))
		if (e > s) {
			const char *eq = memchr(p + s, '=', e - s);
			c->args++;
			/* the name and the value, without the '=' */
			c->args_bytes +=
			    decoded_len(p + s, e - s) - (eq != NULL);
		}
}

/* The end of the JSON string whose opening quote is at p[i] (the index
 * of its closing quote), or n when it does not end: the next quote not
 * escaped, found by memchr (a body is mostly strings: the scan costs what
 * memchr does, not a branch a byte). */
static size_t
string_end(const char *p, size_t n, size_t i)
{
	for (i++; i < n;) {
		const char *q = memchr(p + i, '"', n - i);
		size_t k, bs = 0;

		if (q == NULL)
			return n;
		k = (size_t)(q - p);
		/* escaped when an odd run of backslashes precedes it */
		while (k - bs > i && p[k - bs - 1] == '\\')
			bs++;
		if (bs % 2 == 0)
			return k;
		i = k + 1;
	}
	return n;
}

static int
json_ws(char b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

int
sl_wafcheck_json(struct sl_wafcheck *c, const char *p, size_t n)
{
	uint32_t depth = 0;
	size_t i = 0;

	while (i < n) {
		char b = p[i];

		if (json_ws(b) || b == ',' || b == ':') {
			i++;
		} else if (b == '{' || b == '[') {
			if (++depth > c->json_depth)
				c->json_depth = depth;
			i++;
		} else if (b == '}' || b == ']') {
			if (depth == 0)
				return -1;
			depth--;
			i++;
		} else if (b == '"') {
			size_t e = string_end(p, n, i), j;

			if (e == n)
				return -1;
			/* a key when a colon follows: its bytes count (the
			 * argument's name), not an argument */
			for (j = e + 1; j < n && json_ws(p[j]); j++)
				;
			if (j == n || p[j] != ':')
				c->args++;
			c->args_bytes += e - i - 1;
			i = e + 1;
		} else if (b == '-' || (b >= '0' && b <= '9') || b == 't' ||
			   b == 'f' || b == 'n') {
			size_t j = i;

			while (j < n && !json_ws(p[j]) && p[j] != ',' &&
			       p[j] != '}' && p[j] != ']' && p[j] != ':')
				j++;
			c->args++;
			c->args_bytes += j - i;
			i = j;
		} else
			return -1;
	}
	return 0;
}

enum sl_wafcheck_limit
sl_wafcheck_over(const struct sl_wafcheck *c, const struct sl_waf_limits *l,
		 uint64_t *found, uint64_t *max)
{
	const struct {
		enum sl_wafcheck_limit w;
		uint64_t found, max;
	} t[] = {
	    {SL_WAFCHECK_COOKIES, c->cookies, l->cookies},
	    {SL_WAFCHECK_ARGS, c->args, l->args},
	    {SL_WAFCHECK_ARGS_BYTES, c->args_bytes, l->args_bytes},
	    {SL_WAFCHECK_JSON_DEPTH, c->json_depth, l->json_depth},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].max > 0 && t[i].found > t[i].max) {
			*found = t[i].found;
			*max = t[i].max;
			return t[i].w;
		}
	*found = *max = 0;
	return SL_WAFCHECK_OK;
}

const char *
sl_wafcheck_name(enum sl_wafcheck_limit w)
{
	switch (w) {
	case SL_WAFCHECK_COOKIES:
		return "cookies";
	case SL_WAFCHECK_ARGS:
		return "args";
	case SL_WAFCHECK_ARGS_BYTES:
		return "args_bytes";
	case SL_WAFCHECK_JSON_DEPTH:
		return "json_depth";
	default:
		return "";
	}
}
