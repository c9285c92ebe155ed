/* SPDX-License-Identifier: MIT */
/*
 * A small strict JSON parser (json.h): one pass over the text, no
 * recursion and no malloc (the open containers sit on a stack of at most
 * JSON_DEPTH_MAX entries on the C stack), no I/O, no global state.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

/* The deepest nesting any caller may ask for: the stack of open
 * containers lives on the C stack, so it has a fixed size. */
#define JSON_DEPTH_MAX 64
/* An object with more members than this is refused (SL_JSON_E_TOKENS):
 * names are compared pairwise for duplicates, and this keeps that within
 * 256 compares of each name, so linear in the text. JWKS and JWT claim
 * sets have a few dozen at most. */
#define JSON_MEMBERS_MAX 256
/* sl_json_seconds: an exponent is saturated at this bound, more than
 * twice the digits a text can hold (under 2^32), so that a saturated one
 * still puts a nonzero value out of range or below 1. */
#define JSON_EXP_CAP 10000000000LL

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits at p (room bytes left), or -1. */
static long
hex4(const unsigned char *p, size_t room)
{
	long v = 0;

	if (room < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(p[k]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * The length of the valid UTF-8 sequence at p (n bytes left, p[0] >=
 * 0x80), or 0. The second byte's range is what rules out overlong forms,
 * surrogates and code points past U+10FFFF (RFC 3629 section 4).
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need;
}

/*
 * Checks the string whose opening quote is at *i; on success *i is just
 * past its closing quote. Returns 0 or an SL_JSON_E_* with *i at the
 * offending byte.
 */
static int
scan_string(const unsigned char *s, size_t len, size_t *i)
{
	size_t p = *i + 1;

	for (;;) {
		unsigned char c;

		if (p >= len) {
			*i = p;
			return SL_JSON_E_SYNTAX;
		}
		c = s[p];
		if (c == '"') {
			*i = p + 1;
			return 0;
		}
		if (c < 0x20) {
			*i = p;
			return SL_JSON_E_SYNTAX;
		}
		if (c >= 0x80) {
			size_t n = utf8_len(s + p, len - p);
			if (n == 0) {
				*i = p;
				return SL_JSON_E_UTF8;
			}
			p += n;
			continue;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		if (p + 1 >= len) {
			*i = p;
			return SL_JSON_E_SYNTAX;
		}
		switch (s[p + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			*i = p;
			return SL_JSON_E_SYNTAX;
		}
		{
			long u = hex4(s + p + 2, len - p - 2), lo;

			if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) {
				*i = p;
				return SL_JSON_E_UTF8;
			}
			if (u < 0xd800 || u > 0xdbff) {
				p += 6;
				continue;
			}
			/* a high surrogate: a low one must follow at once */
			if (p + 7 >= len || s[p + 6] != '\\' ||
			    s[p + 7] != 'u') {
				*i = p;
				return SL_JSON_E_UTF8;
			}
			lo = hex4(s + p + 8, len - p - 8);
			if (lo < 0xdc00 || lo > 0xdfff) {
				*i = p;
				return SL_JSON_E_UTF8;
			}
			p += 12;
		}
	}
}

/* Checks the number at *i (RFC 8259 section 6); *i ends just past it, or
 * at the offending byte. */
static int
scan_number(const unsigned char *s, size_t len, size_t *i)
{
	size_t p = *i;

	if (p < len && s[p] == '-')
		p++;
	if (p >= len || !is_digit(s[p]))
		goto bad;
	if (s[p] == '0')
		p++; /* a following digit is refused after the value */
	else
		while (p < len && is_digit(s[p]))
			p++;
	if (p < len && s[p] == '.') {
		p++;
		if (p >= len || !is_digit(s[p]))
			goto bad;
		while (p < len && is_digit(s[p]))
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= len || !is_digit(s[p]))
			goto bad;
		while (p < len && is_digit(s[p]))
			p++;
	}
	*i = p;
	return 0;
bad:
	*i = p;
	return SL_JSON_E_SYNTAX;
}

/* ---- decoding a string's escapes, a byte at a time ------------------- */

struct dec {
	const unsigned char *p, *e; /* what is left of the span */
	unsigned char b[4];	    /* the bytes of an escape's code point */
	unsigned n, k;		    /* b's length, the next byte of b */
};

static void
dec_init(struct dec *d, const char *text, const struct sl_json_tok *t)
{
	d->p = (const unsigned char *)text + t->start;
	d->e = d->p + t->len;
	d->n = d->k = 0;
}

/* The next decoded byte, or -1 at the end. The span was checked by
 * sl_json_parse; the bounds are checked again all the same. */
static int
dec_next(struct dec *d)
{
	long u;

	if (d->k < d->n)
		return d->b[d->k++];
	if (d->p >= d->e)
		return -1;
	if (*d->p != '\\' || d->e - d->p < 2)
		return *d->p++;
	d->p += 2;
	switch (d->p[-1]) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default:
		return d->p[-1]; /* " \ / */
	}
	u = hex4(d->p, (size_t)(d->e - d->p));
	if (u < 0)
		return -1;
	d->p += 4;
	if (u >= 0xd800 && u <= 0xdbff && d->e - d->p >= 6 && d->p[0] == '\\' &&
	    d->p[1] == 'u') {
		long lo = hex4(d->p + 2, 4);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			d->p += 6;
		}
	}
	if (u < 0x80) {
		d->b[0] = (unsigned char)u;
		d->n = 1;
	} else if (u < 0x800) {
		d->b[0] = (unsigned char)(0xc0 | u >> 6);
		d->b[1] = (unsigned char)(0x80 | (u & 0x3f));
		d->n = 2;
	} else if (u < 0x10000) {
		d->b[0] = (unsigned char)(0xe0 | u >> 12);
		d->b[1] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
		d->b[2] = (unsigned char)(0x80 | (u & 0x3f));
		d->n = 3;
	} else {
		d->b[0] = (unsigned char)(0xf0 | u >> 18);
		d->b[1] = (unsigned char)(0x80 | (u >> 12 & 0x3f));
		d->b[2] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
		d->b[3] = (unsigned char)(0x80 | (u & 0x3f));
		d->n = 4;
	}
	d->k = 1;
	return d->b[0];
}

/* Whether strings a and b decode to the same bytes. */
static int
names_eq(const char *text, const struct sl_json_tok *a,
	 const struct sl_json_tok *b)
{
	struct dec da, db;
	int ca, cb;

	dec_init(&da, text, a);
	dec_init(&db, text, b);
	do {
		ca = dec_next(&da);
		cb = dec_next(&db);
		if (ca != cb)
			return 0;
	} while (ca >= 0);
	return 1;
}

/* ---- the parser -------------------------------------------------------- */

enum {
	ST_VALUE,     /* a value must come */
	ST_ARR_FIRST, /* after '[': a value or ']' */
	ST_OBJ_FIRST, /* after '{': a name or '}' */
	ST_NAME,      /* after ',' in an object: a name */
	ST_COLON,     /* after a name */
	ST_AFTER,     /* after a value: ',' or the container's end */
	ST_DONE,      /* after the top value: white space only */
};

/* Whether the name just parsed, t[name], repeats one of object t[obj]'s
 * earlier names (each of those has its value's subtree complete). */
static int
dup_name(const char *text, const struct sl_json_tok *t, uint32_t obj,
	 uint32_t name)
{
	for (uint32_t k = obj + 1; k < name; k = t[k + 1].end)
		if (names_eq(text, &t[k], &t[name]))
			return 1;
	return 0;
}

int
sl_json_parse(const char *text, size_t len, struct sl_json_tok *t, size_t max,
	      unsigned depth_max, size_t *where)
{
	const unsigned char *s = (const unsigned char *)text;
	uint32_t stack[JSON_DEPTH_MAX]; /* the open containers' tokens */
	unsigned depth = 0;
	uint32_t ntok = 0;
	size_t i = 0;
	int st = ST_VALUE, err = 0;

	if (len >= UINT32_MAX) {
		err = SL_JSON_E_SIZE;
		goto fail;
	}
	if (max > INT_MAX)
		max = INT_MAX; /* the count is returned as an int */
	if (depth_max > JSON_DEPTH_MAX)
		depth_max = JSON_DEPTH_MAX;

	for (;;) {
		unsigned char c;
		struct sl_json_tok *tok;
		size_t q;
		int type = 0;

		while (i < len && is_ws(s[i]))
			i++;
		if (i >= len) {
			if (st == ST_DONE) {
				if (where != NULL)
					*where = i;
				return (int)ntok;
			}
			err = SL_JSON_E_SYNTAX;
			goto fail;
		}
		c = s[i];
		switch (st) {
		case ST_DONE:
			err = SL_JSON_E_SYNTAX;
			goto fail;
		case ST_COLON:
			if (c != ':') {
				err = SL_JSON_E_SYNTAX;
				goto fail;
			}
			i++;
			st = ST_VALUE;
			continue;
		case ST_AFTER: {
			struct sl_json_tok *top = &t[stack[depth - 1]];
			char last = top->type == SL_JSON_OBJECT ? '}' : ']';

			if (c == ',') {
				i++;
				st = top->type == SL_JSON_OBJECT ? ST_NAME
								 : ST_VALUE;
				continue;
			}
			if (c != last) {
				err = SL_JSON_E_SYNTAX;
				goto fail;
			}
			goto close_top;
		}
		case ST_ARR_FIRST:
			if (c == ']')
				goto close_top;
			st = ST_VALUE;
			break;
		case ST_OBJ_FIRST:
			if (c == '}')
				goto close_top;
			st = ST_NAME;
			break;
		default:
			break;
		}

		/* a name (ST_NAME) or a value (ST_VALUE) starts at i: its
		 * syntax first, so that a bound is what refuses only a text
		 * that would otherwise go on */
		if (st == ST_NAME && c != '"') {
			err = SL_JSON_E_SYNTAX;
			goto fail;
		}
		q = i;
		if (c == '{' || c == '[') {
			type = c == '{' ? SL_JSON_OBJECT : SL_JSON_ARRAY;
			q++;
		} else if (c == '"') {
			type = SL_JSON_STRING;
			err = scan_string(s, len, &q);
		} else if (c == '-' || is_digit(c)) {
			type = SL_JSON_NUMBER;
			err = scan_number(s, len, &q);
		} else if (len - i >= 4 && memcmp(s + i, "true", 4) == 0) {
			type = SL_JSON_TRUE;
			q += 4;
		} else if (len - i >= 5 && memcmp(s + i, "false", 5) == 0) {
			type = SL_JSON_FALSE;
			q += 5;
		} else if (len - i >= 4 && memcmp(s + i, "null", 4) == 0) {
			type = SL_JSON_NULL;
			q += 4;
		} else
			err = SL_JSON_E_SYNTAX;
		if (err != 0) {
			i = q;
			goto fail;
		}
		/* "01", "truex": the byte after a scalar is checked as what
		 * follows it */
		if (ntok >= max) {
			err = SL_JSON_E_TOKENS;
			goto fail;
		}
		if (depth > 0) {
			struct sl_json_tok *top = &t[stack[depth - 1]];
			/* an object counts its names, an array its values */
			if (st == ST_NAME || top->type == SL_JSON_ARRAY) {
				if (top->type == SL_JSON_OBJECT &&
				    top->size >= JSON_MEMBERS_MAX) {
					err = SL_JSON_E_TOKENS;
					goto fail;
				}
				top->size++;
			}
		}
		if (type == SL_JSON_OBJECT || type == SL_JSON_ARRAY) {
			if (depth >= depth_max) {
				err = SL_JSON_E_DEPTH;
				goto fail;
			}
			stack[depth++] = ntok;
		}
		tok = &t[ntok];
		tok->type = (uint8_t)type;
		tok->start = (uint32_t)i;
		tok->len = (uint32_t)(q - i); /* a container's: at its end */
		tok->size = 0;
		tok->end = ntok + 1;
		if (type == SL_JSON_STRING) {
			tok->start++;
			tok->len -= 2;
		}
		if (st == ST_NAME &&
		    dup_name(text, t, stack[depth - 1], ntok)) {
			err = SL_JSON_E_DUP;
			goto fail;
		}
		ntok++;
		i = q;
		if (type == SL_JSON_OBJECT)
			st = ST_OBJ_FIRST;
		else if (type == SL_JSON_ARRAY)
			st = ST_ARR_FIRST;
		else if (st == ST_NAME)
			st = ST_COLON;
		else
			st = depth > 0 ? ST_AFTER : ST_DONE;
		continue;

	close_top:
		t[stack[depth - 1]].len =
		    (uint32_t)(i + 1 - t[stack[depth - 1]].start);
		t[stack[depth - 1]].end = ntok;
		depth--;
		i++;
		st = depth > 0 ? ST_AFTER : ST_DONE;
	}

fail:
	if (where != NULL)
		*where = i;
	return err;
}

int
sl_json_get(const char *text, const struct sl_json_tok *t, int obj,
	    const char *name, size_t nlen)
{
	uint32_t k;

	if (obj < 0 || t[obj].type != SL_JSON_OBJECT)
		return -1;
	k = (uint32_t)obj + 1;
	for (uint32_t m = 0; m < t[obj].size; m++, k = t[k + 1].end)
		if (sl_json_str_eq(text, t, (int)k, name, nlen))
			return (int)k + 1;
	return -1;
}

long
sl_json_str(const char *text, const struct sl_json_tok *t, int i, char *out,
	    size_t room)
{
	struct dec d;
	size_t n = 0;
	int c;

	if (i < 0 || t[i].type != SL_JSON_STRING)
		return -1;
	dec_init(&d, text, &t[i]);
	while ((c = dec_next(&d)) >= 0) {
		if (n >= room)
			return -1;
		out[n++] = (char)c;
	}
	return (long)n;
}

int
sl_json_str_eq(const char *text, const struct sl_json_tok *t, int i,
	       const char *s, size_t n)
{
	struct dec d;
	size_t k = 0;
	int c;

	if (i < 0 || t[i].type != SL_JSON_STRING)
		return 0;
	/* a decoded string is never longer than its span */
	if (n > t[i].len)
		return 0;
	dec_init(&d, text, &t[i]);
	while ((c = dec_next(&d)) >= 0) {
		if (k >= n || (unsigned char)s[k] != c)
			return 0;
		k++;
	}
	return k == n;
}

/* ---- numbers ---------------------------------------------------------- */

/* A number's parts, read from a span sl_json_parse checked. */
struct num {
	int neg;
	const unsigned char *dig; /* its integer digits, */
	size_t ndig;
	const unsigned char *frac; /* its fraction's (may be empty), */
	size_t nfrac;
	int has_exp;
	long long exp; /* and its exponent, saturated at JSON_EXP_CAP */
};

static int
num_split(const char *text, const struct sl_json_tok *t, int i, struct num *n)
{
	const unsigned char *p, *e;

	if (i < 0 || t[i].type != SL_JSON_NUMBER)
		return -1;
	p = (const unsigned char *)text + t[i].start;
	e = p + t[i].len;
	memset(n, 0, sizeof(*n));
	if (p < e && *p == '-') {
		n->neg = 1;
		p++;
	}
	n->dig = p;
	while (p < e && is_digit(*p))
		p++;
	n->ndig = (size_t)(p - n->dig);
	if (n->ndig == 0)
		return -1;
	n->frac = p;
	if (p < e && *p == '.') {
		n->frac = ++p;
		while (p < e && is_digit(*p))
			p++;
		n->nfrac = (size_t)(p - n->frac);
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		int eneg = 0;
		n->has_exp = 1;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		for (; p < e && is_digit(*p); p++)
			if (n->exp < JSON_EXP_CAP)
				n->exp = n->exp * 10 + (*p - '0');
		if (eneg)
			n->exp = -n->exp;
	}
	return p == e ? 0 : -1;
}

int
sl_json_int(const char *text, const struct sl_json_tok *t, int i, int64_t *v)
{
	struct num n;
	uint64_t m = 0;
	uint64_t lim = (uint64_t)INT64_MAX;

	if (num_split(text, t, i, &n) != 0 || n.has_exp)
		return -1;
	for (size_t k = 0; k < n.nfrac; k++)
		if (n.frac[k] != '0')
			return -1;
	if (n.neg)
		lim++; /* -2^63 */
	for (size_t k = 0; k < n.ndig; k++) {
		unsigned d = n.dig[k] - '0';
		if (m > (lim - d) / 10)
			return -1;
		m = m * 10 + d;
	}
	if (n.neg)
		*v = m == 0 ? 0 : -(int64_t)(m - 1) - 1;
	else
		*v = (int64_t)m;
	return 0;
}

/*
 * The value is the digits of integer and fraction, D, times 10^(exp -
 * nfrac); its integer part is D's first (ndig + nfrac - lead + exp -
 * nfrac) significant digits, padded with zeros, where lead counts D's
 * leading zeros. Exact: no floating point, no locale.
 */
int
sl_json_seconds(const char *text, const struct sl_json_tok *t, int i,
		int64_t *v)
{
	const uint64_t lim = (uint64_t)1 << 62;
	struct num n;
	size_t nd, lead = 0;
	long long intdig;
	uint64_t m = 0;
	int frac = 0;

	if (num_split(text, t, i, &n) != 0)
		return -1;
	nd = n.ndig + n.nfrac;
#define DIGIT(k) ((k) < n.ndig ? n.dig[k] : n.frac[(k)-n.ndig])
	while (lead < nd && DIGIT(lead) == '0')
		lead++;
	if (lead == nd) {
		*v = 0; /* zero, whatever its exponent */
		return 0;
	}
	intdig = (long long)(nd - lead) + n.exp - (long long)n.nfrac;
	if (intdig > 19)
		return -1; /* at least 10^19, past 2^62 */
	for (long long k = 0; k < intdig; k++) {
		size_t at = lead + (size_t)k;
		unsigned d = at < nd ? (unsigned)(DIGIT(at) - '0') : 0;
		if (m > (lim - d) / 10)
			return -1;
		m = m * 10 + d;
	}
	for (size_t at = lead + (size_t)(intdig > 0 ? intdig : 0); at < nd;
	     at++)
		if (DIGIT(at) != '0') {
			frac = 1;
			break;
		}
#undef DIGIT
	if (m == lim && frac)
		return -1; /* past 2^62 by its fraction */
	/* the fraction dropped: toward zero, for negative values too */
	*v = n.neg ? -(int64_t)m : (int64_t)m;
	return 0;
}
