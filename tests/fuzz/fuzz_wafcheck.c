/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the WAF's loop-side checks (src/edge/wafcheck.c).
 * The first byte picks what the rest is: a JSON body (0), a query or form
 * body (1), or a Cookie field's value (2). Checked: no count past what
 * the bytes can hold; for any text, JSON or not, the same result and
 * counts as ref_json, the scan as first written (a token at a time, a
 * memchr a string): a faster scan counts what it counted and stops where
 * it stopped on a text that is not JSON; and, for a text the strict JSON
 * parser of the edge (json.c) accepts, the same arguments (its scalar
 * values, member names apart), the same bytes (names and values as their
 * spans) and the same depth as the parser's tokens say: the parser is
 * the oracle; and for such a text and a start of it, the bounds
 * (sl_wafcheck_json_bound) at least the counts. Built with
 * -DSL_WAFCHECK_SCALAR (wafcheck.c without SSE2), the same checks hold
 * the portable scan to the reference.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "wafcheck.h"

#define MAXTOK 4096

static struct sl_json_tok tok[MAXTOK];

/* The reference, as wafcheck.c had it before (commit 7c4f937): a token
 * at a time, a string's end by memchr and the backslashes before each
 * quote. */
static size_t
ref_string_end(const char *p, size_t n, size_t i)
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
ref_ws(char b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static int
ref_json(struct sl_wafcheck *c, const char *p, size_t n)
{
	uint32_t depth = 0;
	size_t i = 0;

	while (i < n) {
		char b = p[i];

		if (ref_ws(b) || b == ',' || b == ':') {
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
			size_t e = ref_string_end(p, n, i), j;

			if (e == n)
				return -1;
			for (j = e + 1; j < n && ref_ws(p[j]); j++)
				;
			if (j == n || p[j] != ':')
				c->args++;
			c->args_bytes += e - i - 1;
			i = e + 1;
		} else if (b == '-' || (b >= '0' && b <= '9') || b == 't' ||
			   b == 'f' || b == 'n') {
			size_t j = i;

			while (j < n && !ref_ws(p[j]) && p[j] != ',' &&
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

/* What the tokens of t[i]'s subtree hold: scalar values, the bytes of
 * names and scalars, its depth. Returns the index after it. */
static int
walk(int i, uint64_t *args, uint64_t *bytes, uint32_t *depth, uint32_t d)
{
	const struct sl_json_tok *t = &tok[i];
	int j;

	if (t->type != SL_JSON_OBJECT && t->type != SL_JSON_ARRAY) {
		(*args)++;
		*bytes += t->len;
		return i + 1;
	}
	if (d + 1 > *depth)
		*depth = d + 1;
	for (j = i + 1; j < (int)t->end;) {
		if (t->type == SL_JSON_OBJECT) {
			*bytes += tok[j].len; /* the member's name */
			j++;
		}
		j = walk(j, args, bytes, depth, d + 1);
	}
	return (int)t->end;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_wafcheck c = {0};
	const char *p = (const char *)data + 1;
	size_t n, seps = 0;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0] % 3) {
	case 0: {
		int r = sl_wafcheck_json(&c, p, n), nt;
		uint64_t args = 0, bytes = 0;
		uint32_t depth = 0;
		struct sl_wafcheck ref = {0};

		CHECK(c.args <= n && c.args_bytes <= n && c.json_depth <= n);
		CHECK(c.cookies == 0);
		CHECK(ref_json(&ref, p, n) == r);
		CHECK(c.args == ref.args && c.args_bytes == ref.args_bytes &&
		      c.json_depth == ref.json_depth);
		nt = sl_json_parse(p, n, tok, MAXTOK, 64, NULL);
		if (nt < 1)
			break;
		CHECK(r == 0);
		/* the bounds, of the text and of a start of it (a body cut
		 * at body_limit) */
		for (size_t k = n;; k = n - 1 - data[n] % n) {
			struct sl_wafcheck cut = {0};
			uint64_t ba, bd;
			(void)sl_wafcheck_json(&cut, p, k);
			sl_wafcheck_json_bound(p, k, &ba, &bd);
			CHECK(cut.args <= ba && cut.json_depth <= bd);
			if (k != n)
				break;
		}
		CHECK(walk(0, &args, &bytes, &depth, 0) == nt);
		CHECK(c.args == args);
		CHECK(c.args_bytes == bytes);
		CHECK(c.json_depth == depth);
		break;
	}
	case 1:
		sl_wafcheck_form(&c, p, n);
		for (size_t i = 0; i < n; i++)
			seps += p[i] == '&';
		CHECK(c.args <= seps + 1 && c.args_bytes <= n);
		CHECK(c.cookies == 0 && c.json_depth == 0);
		break;
	default:
		sl_wafcheck_cookies(&c, p, n);
		for (size_t i = 0; i < n; i++)
			seps += p[i] == ';';
		CHECK(c.cookies <= seps + 1);
		CHECK(c.args == 0 && c.args_bytes == 0);
		break;
	}
	return 0;
}
