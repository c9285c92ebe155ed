/* SPDX-License-Identifier: MIT */
/*
 * Content codings and Accept-Encoding (coding.h). The parser is lenient
 * member by member, as browsers and curl write the field in many ways: a
 * member it cannot read is skipped, never the whole field, so that one
 * odd token never turns compression off for the rest.
 */
#include "coding.h"

#include <string.h>
#include <strings.h>

static const char *const names[SL_CODING_N] = {"identity", "gzip", "br",
					       "zstd"};

const char *
sl_coding_name(enum sl_coding c)
{
	return (unsigned)c < SL_CODING_N ? names[c] : "identity";
}

enum sl_coding
sl_coding_by_name(const char *s, size_t len)
{
	for (int c = 0; c < SL_CODING_N; c++)
		if (strlen(names[c]) == len &&
		    strncasecmp(s, names[c], len) == 0)
			return (enum sl_coding)c;
	/* RFC 9110 section 8.4.1.3: x-gzip is gzip */
	if (len == 6 && strncasecmp(s, "x-gzip", 6) == 0)
		return SL_CODING_GZIP;
	return SL_CODING_N;
}

void
sl_accenc_init(struct sl_accenc *a)
{
	for (int c = 0; c < SL_CODING_N; c++)
		a->q[c] = SL_ACCENC_UNSET;
	a->star = SL_ACCENC_UNSET;
	a->bad = 0;
}

/* RFC 9110 section 5.6.2: tchar */
static int
is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') ||
	       (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int
is_ows(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 9110
 * section 12.4.2), p[0..n) exactly: thousandths, or -1.
 */
static int
qvalue(const char *p, size_t n)
{
	int q, scale = 100;

	if (n == 0 || (p[0] != '0' && p[0] != '1'))
		return -1;
	q = (p[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (p[1] != '.' || n > 5)
		return -1;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (p[i] < '0' || p[i] > '9' || (q == 1000 && p[i] != '0'))
			return -1;
		q += (p[i] - '0') * scale;
	}
	return q;
}

/* One member p[0..n) (no comma, OWS around it trimmed): 0, or -1 when it
 * is malformed. */
static int
member(struct sl_accenc *a, const char *p, size_t n)
{
	size_t i = 0, tok;
	int q = 1000, qs = 0;
	enum sl_coding c;

	/* a quoted value could hide a comma or a ';' (a member split in
	 * two would lose its weight), and no coding takes one */
	if (memchr(p, '"', n) != NULL)
		return -1;
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if ((tok = i) == 0)
		return -1;
	/* parameters: ";" OWS name "=" value; only q counts, the others
	 * (which RFC 9110 does not define here) are passed over */
	while (i < n) {
		size_t nm, ve;
		while (i < n && is_ows((unsigned char)p[i]))
			i++;
		if (i == n)
			break;
		if (p[i++] != ';')
			return -1;
		while (i < n && is_ows((unsigned char)p[i]))
			i++;
		nm = i;
		while (i < n && is_tchar((unsigned char)p[i]))
			i++;
		if (i == nm || i == n || p[i] != '=')
			return -1;
		ve = ++i;
		while (i < n && p[i] != ';' && !is_ows((unsigned char)p[i]))
			i++;
		/* one weight: a second one is not RFC 9110's, and must not
		 * undo a refusal */
		if (ve - nm == 2 && (p[nm] == 'q' || p[nm] == 'Q') &&
		    (qs++ > 0 || (q = qvalue(p + ve, i - ve)) < 0))
			return -1;
	}
	if (tok == 1 && p[0] == '*') {
		if (a->star == SL_ACCENC_UNSET)
			a->star = (uint16_t)q;
		return 0;
	}
	c = sl_coding_by_name(p, tok);
	if (c != SL_CODING_N && a->q[c] == SL_ACCENC_UNSET)
		a->q[c] = (uint16_t)q;
	return 0;
}

void
sl_accenc_parse(struct sl_accenc *a, const char *v, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;
		while (i < len && (is_ows((unsigned char)v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows((unsigned char)v[e - 1]))
			e--;
		if (e > s && member(a, v + s, e - s) == -1) {
			/* a coding named by a member that cannot be read is
			 * refused, not left to "*": what it said of it is
			 * unknown, and may have been q=0 */
			size_t t = 0;
			enum sl_coding c;
			while (s + t < e && is_tchar((unsigned char)v[s + t]))
				t++;
			c = sl_coding_by_name(v + s, t);
			if (t > 0 && c != SL_CODING_N &&
			    a->q[c] == SL_ACCENC_UNSET)
				a->q[c] = 0;
			if (a->bad < UINT16_MAX)
				a->bad++;
		}
	}
}

unsigned
sl_accenc_weight(const struct sl_accenc *a, enum sl_coding c)
{
	if (a->q[c] != SL_ACCENC_UNSET)
		return a->q[c];
	if (a->star != SL_ACCENC_UNSET)
		return a->star;
	return 0;
}

enum sl_coding
sl_accenc_pick(const struct sl_accenc *a, const uint8_t *offer, size_t n)
{
	enum sl_coding best = SL_CODING_IDENTITY;
	unsigned bq = 0;

	for (size_t i = 0; i < n; i++) {
		enum sl_coding c = (enum sl_coding)offer[i];
		unsigned q;
		if (c == SL_CODING_IDENTITY || c >= SL_CODING_N)
			continue;
		q = sl_accenc_weight(a, c);
		if (q > bq) {
			bq = q;
			best = c;
		}
	}
	/* the client prefers its body as it is (identity;q=1, gzip;q=0.1) */
	if (a->q[SL_CODING_IDENTITY] != SL_ACCENC_UNSET &&
	    a->q[SL_CODING_IDENTITY] > bq)
		return SL_CODING_IDENTITY;
	return best;
}

int
sl_coding_type_match(const char *pattern, const char *v, size_t len)
{
	const char *star = strchr(pattern, '*');
	size_t n = 0, pl;

	/* the media type: up to ';' or whitespace */
	while (n < len && v[n] != ';' && !is_ows((unsigned char)v[n]))
		n++;
	if (star == NULL)
		return strlen(pattern) == n && strncasecmp(pattern, v, n) == 0;
	/* "type/" before the star, a suffix ("+json") or nothing after */
	pl = (size_t)(star - pattern);
	if (n <= pl || strncasecmp(pattern, v, pl) != 0)
		return 0;
	if (star[1] == '\0')
		return 1;
	return n - pl > strlen(star + 1) &&
	       strncasecmp(v + n - strlen(star + 1), star + 1,
			   strlen(star + 1)) == 0;
}
