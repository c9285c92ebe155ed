/* SPDX-License-Identifier: MIT */
/*
 * The WAF's checks on the event loop (wafcheck.h): a request's cookies,
 * arguments and JSON depth counted as the rules will see them.
 */
#include "wafcheck.h"

#include <string.h>

#define SL_WAFCHECK_MIN(a, b) ((a) < (b) ? (a) : (b))

/* SSE2 is in every x86-64 CPU: no check at run time. Elsewhere, or with
 * -DSL_WAFCHECK_SCALAR, the JSON scan finds a string's end by memchr. */
#if defined(__SSE2__) && !defined(SL_WAFCHECK_SCALAR)
#include <emmintrin.h>
#define SL_WAFCHECK_SSE2 1
#endif

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

/*
 * The JSON scan. A body is mostly strings (the bench's 2 KiB payment: 127
 * of them, 113 under 16 bytes, 1,792 of its 2,048 bytes with their
 * quotes), so a string's end is looked for 16 bytes at a time (SSE2: a
 * compare and a mask, in line; not a memchr call a string, nor a branch a
 * byte), and a quote is escaped when an odd run of backslashes precedes
 * it, which the byte before it tells but in the rare case of a backslash
 * there. The ':' or ',' after a string is tested in the same step; other
 * bytes between strings go through a switch on their class (jcls). What
 * it counts, and where it stops on a text that is not JSON, is what the
 * scan a token at a time before it counted (fuzz_wafcheck.c holds it to
 * that one): on the payment, 3.1 instructions a byte where that one took
 * 7.6, memchr's included (doc/performance.md).
 */

/* The classes of a byte outside a string (the low 3 bits, a switch of 8
 * cases and no range check) and J_END on what ends a scalar: white space,
 * ',' ':' '}' ']' (a quote or a bracket does not: "1"x" is one token). */
enum {
	J_BAD = 0,
	J_SKIP = 1,   /* ',' ':' */
	J_CLOSE = 2,  /* '}' ']' */
	J_OPEN = 3,   /* '{' '[' */
	J_SCALAR = 4, /* what a number, true, false or null starts with */
	J_WS = 5,
	J_CLASS = 7,
	J_END = 8,
};

static const uint8_t jcls[256] = {
    ['\t'] = J_WS | J_END,   [' '] = J_WS | J_END,    ['\n'] = J_WS | J_END,
    ['\r'] = J_WS | J_END,   [','] = J_SKIP | J_END,  [':'] = J_SKIP | J_END,
    ['}'] = J_CLOSE | J_END, [']'] = J_CLOSE | J_END, ['{'] = J_OPEN,
    ['['] = J_OPEN,	     ['-'] = J_SCALAR,	      ['0'] = J_SCALAR,
    ['1'] = J_SCALAR,	     ['2'] = J_SCALAR,	      ['3'] = J_SCALAR,
    ['4'] = J_SCALAR,	     ['5'] = J_SCALAR,	      ['6'] = J_SCALAR,
    ['7'] = J_SCALAR,	     ['8'] = J_SCALAR,	      ['9'] = J_SCALAR,
    ['t'] = J_SCALAR,	     ['f'] = J_SCALAR,	      ['n'] = J_SCALAR,
};

#ifdef SL_WAFCHECK_SSE2
/* The quotes of p[0 .. 16) as bits, bit k for p[k]. */
static inline unsigned
quotes16(const char *p)
{
	return (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
			   _mm_set1_epi8('"')));
}
#endif

/* The first quote of p[k .. n) (k <= n), or n. */
static size_t
quote_from(const char *p, size_t n, size_t k)
{
	const char *at;

#ifdef SL_WAFCHECK_SSE2
	if (n >= 16) {
		unsigned m;

		for (size_t last = n - 16; k <= last; k += 16)
			if ((m = quotes16(p + k)) != 0)
				return k + (unsigned)__builtin_ctz(m);
		if (k == n)
			return n;
		/* the 16 bytes that end the body, those before k shifted
		 * out */
		m = quotes16(p + n - 16) >> (16 - (n - k));
		return m != 0 ? k + (unsigned)__builtin_ctz(m) : n;
	}
#endif
	at = memchr(p + k, '"', n - k);
	return at != NULL ? (size_t)(at - p) : n;
}

/* Whether the quote at p[e] is escaped in the string opened at p[o]: an
 * odd run of backslashes before it. */
static int
escaped(const char *p, size_t o, size_t e)
{
	size_t k = e;

	while (k - 1 > o && p[k - 1] == '\\')
		k--;
	return (e - k) % 2 == 1;
}

/* The closing quote of the string opened at p[o], or n when it does not
 * end. */
static size_t
string_end(const char *p, size_t n, size_t o)
{
	size_t e = o;

	do
		e = quote_from(p, n, e + 1);
	while (e < n && p[e - 1] == '\\' && escaped(p, o, e));
	return e;
}

int
sl_wafcheck_json(struct sl_wafcheck *c, const char *p, size_t n)
{
	/* the counts in registers, to the caller's once at the end */
	uint64_t args = 0, bytes = 0;
	uint32_t depth = 0, maxdepth = c->json_depth;
	const char *s = p, *end = p + n, *e;
	size_t k;
	unsigned char b;
	int r = 0;
#ifdef SL_WAFCHECK_SSE2
	/* the last place where the fast path's 16-byte loads may start:
	 * the 16 bytes, and the one after a quote found at the 16th, in
	 * the body */
	const char *fast = n > 17 ? end - 17 : p;
#endif

	while (s < end) {
		b = (unsigned char)*s;
		/* a string, and the ':' or ',' after it */
		if (b == '"') {
#ifdef SL_WAFCHECK_SSE2
			/* most end within 16 bytes, their quote not after
			 * a backslash, a ':' or a ',' after it: that much
			 * in a load or two and a few branches; the rest,
			 * and a string near the end, by string_end */
			const char *q = s + 1;
			unsigned m = 0;

			if (s + 1 <= fast)
				while ((m = quotes16(q)) == 0 && q + 16 <= fast)
					q += 16;
			if (m != 0 && (e = q + __builtin_ctz(m))[-1] != '\\') {
				bytes += (size_t)(e - s - 1);
				b = (unsigned char)e[1];
				if (b == ':') {
					s = e + 2;
					continue;
				}
				if (b == ',') {
					args++;
					s = e + 2;
					continue;
				}
				if ((jcls[b] & J_CLASS) != J_WS) {
					/* '}' ']' or not JSON, the switch's */
					args++;
					s = e + 1;
					continue;
				}
			} else
#endif
			{
				k = string_end(p, n, (size_t)(s - p));
				if (k == n) {
					r = -1;
					goto out;
				}
				e = p + k;
				bytes += (size_t)(e - s - 1);
			}
			/* a key when a colon follows (white space apart):
			 * its bytes count (the argument's name), not an
			 * argument */
			for (s = e + 1; s < end && (jcls[(unsigned char)*s] &
						    J_CLASS) == J_WS;
			     s++)
				;
			if (s < end && *s == ':')
				s++;
			else
				args++;
			continue;
		}
		switch (jcls[b] & J_CLASS) {
		case J_SKIP:
		case J_WS:
			s++;
			break;
		case J_OPEN:
			if (++depth > maxdepth)
				maxdepth = depth;
			s++;
			break;
		case J_CLOSE:
			if (depth == 0) {
				r = -1;
				goto out;
			}
			depth--;
			/* and the ',' after the value */
			s += 1 + (s + 1 < end && s[1] == ',');
			break;
		case J_SCALAR:
			e = s;
			while (++e < end && !(jcls[(unsigned char)*e] & J_END))
				;
			args++;
			bytes += (size_t)(e - s);
			/* and the ',' after it */
			s = e + (e < end && *e == ',');
			break;
		default: /* J_BAD, and 6 and 7, none's */
			r = -1;
			goto out;
		}
	}
out:
	c->args += args;
	c->args_bytes += bytes;
	c->json_depth = maxdepth;
	return r;
}

#ifdef SL_WAFCHECK_SSE2
/* The sum of a's byte lanes. */
static inline uint64_t
lanes_sum(__m128i a)
{
	__m128i s = _mm_sad_epu8(a, _mm_setzero_si128());

	/* each half's sum is at most 8 x 255: 32 bits (and on i386 too,
	 * which has no 64-bit move) */
	return (uint64_t)(uint32_t)_mm_cvtsi128_si32(s) +
	       (uint64_t)(uint32_t)_mm_cvtsi128_si32(_mm_unpackhi_epi64(s, s));
}
#endif

void
sl_wafcheck_json_bound(const char *p, size_t n, uint64_t *args, uint64_t *depth)
{
	uint64_t c = 0, o = 0;
	size_t i = 0;

#ifdef SL_WAFCHECK_SSE2
	/* the byte with 0x20 set: '{' and '[' are then one value (and ','
	 * matches a form feed too, which only raises a bound). A compare's
	 * lanes are 0 or -1, so each step subtracts them from byte
	 * counters, two a lane a step of 32 bytes, summed every 127 steps
	 * before one could wrap: 19 instructions a step. */
	const __m128i comma = _mm_set1_epi8(','), open = _mm_set1_epi8('{'),
		      bit = _mm_set1_epi8(0x20);

	while (n - i >= 32) {
		size_t m = SL_WAFCHECK_MIN((n - i) / 32, (size_t)127);
		__m128i cc = _mm_setzero_si128(), co = _mm_setzero_si128();

		for (size_t k = 0; k < m; k++, i += 32) {
			const __m128i *q =
			    (const __m128i *)(const void *)(p + i);
			__m128i x = _mm_or_si128(_mm_loadu_si128(q), bit),
				y = _mm_or_si128(_mm_loadu_si128(q + 1), bit);

			cc = _mm_sub_epi8(cc, _mm_cmpeq_epi8(x, comma));
			co = _mm_sub_epi8(co, _mm_cmpeq_epi8(x, open));
			cc = _mm_sub_epi8(cc, _mm_cmpeq_epi8(y, comma));
			co = _mm_sub_epi8(co, _mm_cmpeq_epi8(y, open));
		}
		c += lanes_sum(cc);
		o += lanes_sum(co);
	}
#endif
	for (; i < n; i++) {
		unsigned char b = (unsigned char)p[i] | 0x20;
		c += b == ',';
		o += b == '{';
	}
	*args = c + o + 1;
	*depth = o;
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
