/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the JSON parser (src/edge/json.c). The input is the
 * text, parsed with room for 4096 tokens and 64 levels, then again with
 * the bounds just at and just under what it needed: at them it must give
 * the same tokens, under them SL_JSON_E_TOKENS or SL_JSON_E_DEPTH; a
 * refused text stays refused, no later. On success every token must lie
 * in the text and nest properly (sizes, ends, names before values, spans
 * on their quotes and brackets), every string decode within its span's
 * length, sl_json_str_eq agree with it, sl_json_get find every member by
 * its decoded name, and numbers agree with strtoll and strtod. Built with
 * FUZZ_JSON_JANSSON (fuzz.mk does when pkg-config finds jansson), the
 * verdict is compared with Debian's libjansson, but for the differences
 * listed at jansson_agrees.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

#ifdef FUZZ_JSON_JANSSON
#include <jansson.h>
#endif

#define MAXTOK	 4096
#define MAXDEPTH 64

static struct sl_json_tok tok[MAXTOK], tok2[MAXTOK];
static char buf[1 << 16], buf2[1 << 16];

/* Checks the subtree at t[i], inside d containers; returns how many
 * containers deep it goes (d for a scalar). */
static unsigned
check_tree(const char *text, size_t len, int n, int i, unsigned d)
{
	const struct sl_json_tok *t = &tok[i];
	unsigned deepest = d;
	uint32_t k, prev_end;

	CHECK(i >= 0 && i < n);
	CHECK(t->type >= SL_JSON_OBJECT && t->type <= SL_JSON_NULL);
	CHECK((size_t)t->start + t->len <= len);
	CHECK(t->end > (uint32_t)i && t->end <= (uint32_t)n);
	if (t->type == SL_JSON_STRING) {
		CHECK(t->start >= 1 && text[t->start - 1] == '"');
		CHECK(t->start + t->len < len &&
		      text[t->start + t->len] == '"');
	}
	if (t->type != SL_JSON_OBJECT && t->type != SL_JSON_ARRAY) {
		CHECK(t->end == (uint32_t)i + 1 && t->size == 0);
		CHECK(t->len >= 1 || t->type == SL_JSON_STRING);
		return deepest;
	}
	CHECK(d + 1 <= MAXDEPTH);
	deepest = d + 1;
	CHECK(t->len >= 2);
	CHECK(text[t->start] == (t->type == SL_JSON_OBJECT ? '{' : '['));
	CHECK(text[t->start + t->len - 1] ==
	      (t->type == SL_JSON_OBJECT ? '}' : ']'));
	k = (uint32_t)i + 1;
	prev_end = t->start + 1;
	for (uint32_t m = 0; m < t->size; m++) {
		unsigned dd;
		CHECK(k < t->end);
		if (t->type == SL_JSON_OBJECT) {
			CHECK(tok[k].type == SL_JSON_STRING);
			CHECK(tok[k].end == k + 1);
			CHECK(tok[k].start > prev_end);
			prev_end = tok[k].start + tok[k].len + 1;
			k++;
			CHECK(k < t->end);
		}
		CHECK(tok[k].start >= prev_end);
		dd = check_tree(text, len, n, (int)k, d + 1);
		if (dd > deepest)
			deepest = dd;
		prev_end = tok[k].start + tok[k].len;
		k = tok[k].end;
	}
	CHECK(k == t->end);
	CHECK(prev_end <= t->start + t->len - 1);
	return deepest;
}

/* Whether s is UTF-8 (RFC 3629): decoded code point by code point, each
 * in the shortest form, none a surrogate or past U+10FFFF. Written apart
 * from json.c's check, which goes by the ranges of the second byte. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], need, cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			need = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			need = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			need = 3, cp = c & 0x07;
		else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < (need == 1   ? 0x80u
			  : need == 2 ? 0x800u
				      : 0x10000u) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += need + 1;
	}
	return 1;
}

static void
check_string(const char *text, int i)
{
	const struct sl_json_tok *t = &tok[i];
	long n = sl_json_str(text, tok, i, buf, t->len);

	CHECK(n >= 0 && n <= (long)t->len);
	CHECK(sl_json_str_eq(text, tok, i, buf, (size_t)n));
	if (n > 0) {
		CHECK(sl_json_str(text, tok, i, buf2, (size_t)n - 1) == -1);
		CHECK(!sl_json_str_eq(text, tok, i, buf, (size_t)n - 1));
		buf[n - 1] ^= 1;
		CHECK(!sl_json_str_eq(text, tok, i, buf, (size_t)n));
		buf[n - 1] ^= 1;
	}
	buf[n] = 'x';
	CHECK(!sl_json_str_eq(text, tok, i, buf, (size_t)n + 1));
	CHECK(sl_json_int(text, tok, i, &(int64_t){0}) == -1);
	CHECK(utf8_ok((const unsigned char *)buf, (size_t)n));
}

static void
check_number(const char *text, int i)
{
	const struct sl_json_tok *t = &tok[i];
	char num[512], *e;
	int64_t v, s;
	int has_frac, has_exp;

	if (t->len >= sizeof(num))
		return;
	memcpy(num, text + t->start, t->len);
	num[t->len] = '\0';
	has_frac = strchr(num, '.') != NULL;
	has_exp = strpbrk(num, "eE") != NULL;
	if (sl_json_int(text, tok, i, &v) == 0) {
		CHECK(!has_exp);
		if (!has_frac) {
			errno = 0;
			CHECK(strtoll(num, &e, 10) == v && errno == 0);
		}
		if (v >= -((int64_t)1 << 62) && v <= (int64_t)1 << 62) {
			CHECK(sl_json_seconds(text, tok, i, &s) == 0);
			CHECK(s == v);
		}
	} else if (!has_frac && !has_exp) {
		errno = 0;
		(void)strtoll(num, &e, 10);
		CHECK(errno == ERANGE);
	}
	{
		double d = strtod(num, &e), lim = 4611686018427387904.0;
		CHECK(*e == '\0');
		if (sl_json_seconds(text, tok, i, &s) == 0) {
			/* trunc(d), within a double's rounding */
			double diff = fabs(trunc(d) - (double)s);
			CHECK(diff <= 1.0 + fabs(d) * 1e-15);
		} else
			CHECK(!(fabs(d) < lim * (1 - 1e-12)));
	}
}

#ifdef FUZZ_JSON_JANSSON
/*
 * Whether jansson's verdict on the text agrees with ours (rc). Known
 * differences, skipped: jansson refuses numbers past its int64 or double
 * (sluice keeps them as text), and names holding \u0000 (sluice leaves
 * that to its callers); it takes a NUL byte after the value for the end
 * of the text; its depth bound is 2048 and it has no member bound, so
 * SL_JSON_E_DEPTH and SL_JSON_E_TOKENS are not compared.
 */
static int
jansson_agrees(const uint8_t *data, size_t size, int rc, size_t where)
{
	json_error_t err;
	json_t *j;
	int ok;

	if (rc == SL_JSON_E_DEPTH || rc == SL_JSON_E_TOKENS)
		return 1;
	j = json_loadb(
	    (const char *)data, size,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	ok = j != NULL;
	json_decref(j);
	if (ok == (rc > 0))
		return 1;
	if (ok && rc == SL_JSON_E_SYNTAX && where < size && data[where] == 0)
		return 1;
	if (!ok && (json_error_code(&err) == json_error_numeric_overflow ||
		    json_error_code(&err) == json_error_null_byte_in_key))
		return 1;
	if (getenv("FUZZ_JSON_TRACE") != NULL)
		fprintf(stderr, "sluice %d, jansson %s (%s at %d)\n", rc,
			ok ? "accepts" : "refuses", ok ? "" : err.text,
			ok ? 0 : err.position);
	return 0;
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t where = 0, where2 = 0;
	unsigned deepest;
	int n, n2;

	if (size > sizeof(buf))
		return 0;
	n = sl_json_parse(text, size, tok, MAXTOK, MAXDEPTH, &where);
#ifdef FUZZ_JSON_JANSSON
	CHECK(jansson_agrees(data, size, n, where));
#endif
	if (n < 0) {
		CHECK(n >= SL_JSON_E_UTF8 && n != SL_JSON_E_SIZE);
		CHECK(where <= size);
		/* tighter bounds refuse no later */
		n2 = sl_json_parse(text, size, tok2, 8, 3, &where2);
		CHECK(n2 < 0 && where2 <= where);
		CHECK(n2 == n || n2 == SL_JSON_E_TOKENS ||
		      n2 == SL_JSON_E_DEPTH);
		return 0;
	}
	CHECK(n >= 1 && n <= MAXTOK && where == size);
	CHECK(tok[0].end == (uint32_t)n);
	deepest = check_tree(text, size, n, 0, 0);
	CHECK(deepest <= MAXDEPTH);

	/* the same with the bounds at what it needed, then just under */
	n2 = sl_json_parse(text, size, tok2, (size_t)n, deepest, NULL);
	CHECK(n2 == n && memcmp(tok, tok2, sizeof(tok[0]) * (size_t)n) == 0);
	n2 = sl_json_parse(text, size, tok2, (size_t)n - 1, deepest, NULL);
	CHECK(n2 == SL_JSON_E_TOKENS);
	if (deepest > 0) {
		n2 = sl_json_parse(text, size, tok2, (size_t)n, deepest - 1,
				   NULL);
		CHECK(n2 == SL_JSON_E_DEPTH);
	}

	for (int i = 0; i < n; i++) {
		switch (tok[i].type) {
		case SL_JSON_STRING:
			check_string(text, i);
			break;
		case SL_JSON_NUMBER:
			check_number(text, i);
			break;
		case SL_JSON_OBJECT: {
			uint32_t k = (uint32_t)i + 1;
			for (uint32_t m = 0; m < tok[i].size; m++) {
				long l = sl_json_str(text, tok, (int)k, buf,
						     sizeof(buf));
				CHECK(l >= 0);
				CHECK(sl_json_get(text, tok, i, buf,
						  (size_t)l) == (int)k + 1);
				k = tok[k + 1].end;
			}
			/* a name no member has: longer than any */
			CHECK(sl_json_get(text, tok, i, buf, tok[i].len) == -1);
			break;
		}
		default:
			CHECK(sl_json_get(text, tok, i, "", 0) == -1);
			break;
		}
	}
	return 0;
}
