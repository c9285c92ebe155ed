/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for coding.c: Accept-Encoding and media type patterns.
 * The input up to its first NUL is Accept-Encoding, one field line per
 * '\n'; after the NUL, a pattern line, then lines of Content-Type values
 * (without a NUL, the field lines are the values too).
 *
 * Each field line is fed to sl_accenc_parse, copied to exactly its length
 * (ASan sees a read past it). The state must be what a reference parser
 * written here from coding.h's words finds (every weight, the star, the
 * malformed count); every weight at most 1000 or unset; the lines joined
 * with commas give the same state as line by line; a later line never
 * changes a weight an earlier one set. sl_accenc_weight is the coding's
 * own, else the star's, else 0; for every order of the three codings,
 * their subsets and an offer from the input's bytes, sl_accenc_pick
 * gives identity or an offered coding of weight above 0, none offered
 * weighs more, none offered before it weighs as much, and identity only
 * when no offered coding weighs anything. sl_coding_type_match must agree
 * with a reference on the input's pattern and the route defaults', for
 * the value as it is, in other case, and with parameters after it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coding.h"
#include "fuzz.h"

/* ---- the reference parser --------------------------------------------- */

static int
ref_tchar(unsigned char c)
{
	return isalnum(c) ? c < 0x80 : c != 0 && strchr("!#$%&'*+-.^_`|~", c);
}

static int
ref_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 section 12.4.2: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ],
 * in thousandths; -1 if v[0..n) is none. */
static int
ref_qvalue(const char *v, size_t n)
{
	char d[3] = {'0', '0', '0'};

	if (n < 1 || n > 5 || (v[0] != '0' && v[0] != '1'))
		return -1;
	if (n > 1 && v[1] != '.')
		return -1;
	for (size_t i = 2; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || (v[0] == '1' && v[i] != '0'))
			return -1;
		d[i - 2] = v[i];
	}
	return (v[0] - '0') * 1000 + (d[0] - '0') * 100 + (d[1] - '0') * 10 +
	       (d[2] - '0');
}

/* One member m[0..n), OWS trimmed at both ends: its coding's name in
 * tok[0..*tl) and its weight, or -1 when malformed. Parameters: ';' with
 * OWS about it, a token, '=', a value up to ';' or OWS; only q counts,
 * once; a quote anywhere makes the member malformed (a quoted value may
 * hide a comma or a ';', and no coding needs one). */
static int
ref_member(const char *m, size_t n, size_t *tl)
{
	size_t i = 0;
	int q = 1000, qs = 0;

	while (i < n && ref_tchar((unsigned char)m[i]))
		i++;
	if ((*tl = i) == 0 || memchr(m, '"', n) != NULL)
		return -1;
	for (;;) {
		size_t name, nl, val;
		while (i < n && ref_ows((unsigned char)m[i]))
			i++;
		if (i == n)
			return q;
		if (m[i] != ';')
			return -1;
		i++;
		while (i < n && ref_ows((unsigned char)m[i]))
			i++;
		for (name = i; i < n && ref_tchar((unsigned char)m[i]); i++)
			;
		nl = i - name;
		if (nl == 0 || i == n || m[i] != '=')
			return -1;
		for (val = ++i;
		     i < n && m[i] != ';' && !ref_ows((unsigned char)m[i]); i++)
			;
		if (nl == 1 && tolower((unsigned char)m[name]) == 'q' &&
		    (qs++ > 0 || (q = ref_qvalue(m + val, i - val)) < 0))
			return -1;
	}
}

static int
ref_name(const char *t, size_t n)
{
	static const char *const names[] = {"identity", "gzip", "br", "zstd"};

	if (n == 6 && strncasecmp(t, "x-gzip", 6) == 0)
		return SL_CODING_GZIP;
	for (int c = 0; c < SL_CODING_N; c++)
		if (strlen(names[c]) == n && strncasecmp(t, names[c], n) == 0)
			return c;
	return -1;
}

static void
ref_parse(struct sl_accenc *a, const char *v, size_t len)
{
	size_t s = 0;

	while (s <= len) {
		const char *comma = memchr(v + s, ',', len - s);
		size_t e = comma != NULL ? (size_t)(comma - v) : len, b = s,
		       z = e, tl;
		int q, c;
		while (b < z && ref_ows((unsigned char)v[b]))
			b++;
		while (z > b && ref_ows((unsigned char)v[z - 1]))
			z--;
		if (z > b) {
			if ((q = ref_member(v + b, z - b, &tl)) < 0) {
				/* the coding a malformed member names is
				 * refused */
				if (tl > 0 && !(tl == 1 && v[b] == '*') &&
				    (c = ref_name(v + b, tl)) >= 0 &&
				    a->q[c] == SL_ACCENC_UNSET)
					a->q[c] = 0;
				if (a->bad < UINT16_MAX)
					a->bad++;
			} else if (tl == 1 && v[b] == '*') {
				if (a->star == SL_ACCENC_UNSET)
					a->star = (uint16_t)q;
			} else if ((c = ref_name(v + b, tl)) >= 0 &&
				   a->q[c] == SL_ACCENC_UNSET)
				a->q[c] = (uint16_t)q;
		}
		if (comma == NULL)
			break;
		s = e + 1;
	}
}

static int
same(const struct sl_accenc *a, const struct sl_accenc *b)
{
	for (int c = 0; c < SL_CODING_N; c++)
		if (a->q[c] != b->q[c])
			return 0;
	return a->star == b->star && a->bad == b->bad;
}

/* ---- the reference type match ------------------------------------------ */

static int
ref_type_match(const char *pattern, const char *v, size_t len)
{
	size_t n = 0, pl = strlen(pattern);
	const char *star = strchr(pattern, '*');

	while (n < len && v[n] != ';' && v[n] != ' ' && v[n] != '\t')
		n++;
	if (star == NULL)
		return n == pl && strncasecmp(v, pattern, n) == 0;
	{
		size_t pre = (size_t)(star - pattern), suf = pl - pre - 1;
		/* the prefix, at least one byte of subtype, the suffix */
		return n > pre + suf && strncasecmp(v, pattern, pre) == 0 &&
		       strncasecmp(v + n - suf, star + 1, suf) == 0;
	}
}

static void
check_type(const char *pattern, const char *v, size_t len)
{
	/* exact copies, so that ASan sees a read past them */
	char *c = malloc(len ? len : 1), *w = malloc(len + 8);
	size_t n = 0;
	int m;

	if (c == NULL || w == NULL) {
		free(c);
		free(w);
		return;
	}
	memcpy(c, v, len);
	m = sl_coding_type_match(pattern, c, len);
	CHECK(m == 0 || m == 1);
	CHECK(m == ref_type_match(pattern, c, len));
	/* in other case */
	for (size_t i = 0; i < len; i++)
		c[i] = (char)(isupper((unsigned char)v[i])
				  ? tolower((unsigned char)v[i])
				  : toupper((unsigned char)v[i]));
	CHECK(sl_coding_type_match(pattern, c, len) == m);
	/* the media type alone, then with a parameter after it */
	while (n < len && v[n] != ';' && v[n] != ' ' && v[n] != '\t')
		n++;
	memcpy(w, v, n);
	CHECK(sl_coding_type_match(pattern, w, n) == m);
	memcpy(w + n, "; q=x", 5);
	CHECK(sl_coding_type_match(pattern, w, n + 5) == m);
	free(c);
	free(w);
}

/* ---- the driver ---------------------------------------------------------- */

static void
check_pick(const struct sl_accenc *a, const uint8_t *offer, size_t n)
{
	enum sl_coding p = sl_accenc_pick(a, offer, n);
	unsigned wp = 0;
	size_t first = n;

	CHECK(p >= SL_CODING_IDENTITY && p < SL_CODING_N);
	if (p != SL_CODING_IDENTITY) {
		for (size_t i = 0; i < n && first == n; i++)
			if (offer[i] == p)
				first = i;
		CHECK(first < n); /* offered */
		wp = sl_accenc_weight(a, p);
		CHECK(wp > 0);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned w;
		if (offer[i] == SL_CODING_IDENTITY || offer[i] >= SL_CODING_N)
			continue;
		w = sl_accenc_weight(a, (enum sl_coding)offer[i]);
		/* none weighs more; identity over a coding only for its own
		 * weight, named and higher */
		CHECK(w <= wp || (p == SL_CODING_IDENTITY &&
				  a->q[SL_CODING_IDENTITY] != SL_ACCENC_UNSET &&
				  a->q[SL_CODING_IDENTITY] > w));
		/* none offered before it weighs as much */
		CHECK(p == SL_CODING_IDENTITY || i >= first || w < wp);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const defaults[] = {"application/json",
					       "application/*+json",
					       "text/*",
					       "application/xml",
					       "application/*+xml",
					       "image/svg+xml",
					       "text/event-stream",
					       "*",
					       "a/*",
					       "*/*"};
	static const uint8_t perms[6][3] = {{1, 2, 3}, {1, 3, 2}, {2, 1, 3},
					    {2, 3, 1}, {3, 1, 2}, {3, 2, 1}};
	const char *in = (const char *)data;
	const char *nul = memchr(in, 0, size);
	size_t aelen = nul != NULL ? (size_t)(nul - in) : size;
	struct sl_accenc a, ref, joined;
	char *buf, *all;
	size_t off = 0, alen = 0;
	uint8_t offer[8];

	if (size > 65536)
		return 0;
	if ((all = malloc(aelen + 1)) == NULL)
		return 0;
	sl_accenc_init(&a);
	sl_accenc_init(&ref);
	/* the field lines, one by one */
	for (;;) {
		const char *nl = memchr(in + off, '\n', aelen - off);
		size_t e = nl != NULL ? (size_t)(nl - in) : aelen;
		struct sl_accenc before = a;
		if ((buf = malloc(e - off ? e - off : 1)) == NULL)
			break;
		memcpy(buf, in + off, e - off);
		sl_accenc_parse(&a, buf, e - off);
		ref_parse(&ref, in + off, e - off);
		CHECK(same(&a, &ref));
		/* first weights win: nothing set before changes */
		for (int c = 0; c < SL_CODING_N; c++)
			CHECK(before.q[c] == SL_ACCENC_UNSET ||
			      before.q[c] == a.q[c]);
		CHECK(before.star == SL_ACCENC_UNSET || before.star == a.star);
		CHECK(a.bad >= before.bad);
		free(buf);
		/* the lines joined with commas: one list */
		if (alen > 0)
			all[alen++] = ',';
		memcpy(all + alen, in + off, e - off);
		alen += e - off;
		if (nl == NULL)
			break;
		off = e + 1;
	}
	sl_accenc_init(&joined);
	sl_accenc_parse(&joined, all, alen);
	CHECK(same(&joined, &a));
	free(all);

	for (int c = 0; c < SL_CODING_N; c++) {
		unsigned w = sl_accenc_weight(&a, (enum sl_coding)c);
		CHECK(a.q[c] <= 1000 || a.q[c] == SL_ACCENC_UNSET);
		CHECK(w <= 1000);
		CHECK(w == (a.q[c] != SL_ACCENC_UNSET	? a.q[c]
			    : a.star != SL_ACCENC_UNSET ? a.star
							: 0u));
	}
	CHECK(a.star <= 1000 || a.star == SL_ACCENC_UNSET);

	/* every order of the three, every prefix of it; then an offer of the
	 * input's first bytes, out-of-range codings and repeats included */
	for (int p = 0; p < 6; p++)
		for (size_t n = 0; n <= 3; n++)
			check_pick(&a, perms[p], n);
	for (size_t i = 0; i < sizeof(offer); i++)
		offer[i] = i < size ? (uint8_t)(data[i] % 6) : 0;
	check_pick(&a, offer, sizeof(offer));

	/* media types: the input's pattern (its line after the NUL) and the
	 * defaults against each value line */
	if (nul != NULL) {
		const char *t = nul + 1, *end = in + size;
		const char *pe = memchr(t, '\n', (size_t)(end - t));
		size_t pl = pe != NULL ? (size_t)(pe - t) : (size_t)(end - t);
		char *pattern = malloc(pl + 1);
		if (pattern == NULL)
			return 0;
		memcpy(pattern, t, pl);
		pattern[pl] = '\0'; /* cut at a NUL inside, as a C string */
		t = pe != NULL ? pe + 1 : end;
		while (t < end) {
			const char *ve = memchr(t, '\n', (size_t)(end - t));
			size_t vl =
			    ve != NULL ? (size_t)(ve - t) : (size_t)(end - t);
			check_type(pattern, t, vl);
			for (size_t i = 0;
			     i < sizeof(defaults) / sizeof(defaults[0]); i++)
				check_type(defaults[i], t, vl);
			t += vl + 1;
		}
		free(pattern);
	} else {
		for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]);
		     i++)
			check_type(defaults[i], in, size);
	}
	return 0;
}
