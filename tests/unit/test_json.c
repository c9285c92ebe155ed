/* SPDX-License-Identifier: MIT */
/*
 * The JSON parser (src/edge/json.c): valid documents and their tokens,
 * every class of refusal with its error and offset, member lookup, string
 * decoding, integers and NumericDates, and the token, member and depth
 * bounds at and past their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.c"

#define NTOK 512

static struct sl_json_tok tk[NTOK];

/* Parses s (strlen) with room for NTOK tokens and 64 levels. */
static int
parse(const char *s)
{
	return sl_json_parse(s, strlen(s), tk, NTOK, 64, NULL);
}

/* Parses s (n bytes), expecting error err at offset at. */
static void
refuse_n(const char *s, size_t n, int err, size_t at)
{
	size_t where = (size_t)-1;
	int rc = sl_json_parse(s, n, tk, NTOK, 64, &where);

	if (rc != err || where != at)
		fail_msg("\"%.*s\": got %d at %zu, want %d at %zu", (int)n, s,
			 rc, where, err, at);
}

static void
refuse(const char *s, int err, size_t at)
{
	refuse_n(s, strlen(s), err, at);
}

/* The token's span as a string, for comparing. */
static const char *
span(const char *text, int i)
{
	static char b[256];

	snprintf(b, sizeof(b), "%.*s", (int)tk[i].len, text + tk[i].start);
	return b;
}

/* ---- valid documents ----------------------------------------------------*/

static void
test_scalars(void **state)
{
	(void)state;
	assert_int_equal(parse("0"), 1);
	assert_int_equal(tk[0].type, SL_JSON_NUMBER);
	assert_int_equal(parse(" \t\r\n-0.5e+10 \n"), 1);
	assert_string_equal(span(" \t\r\n-0.5e+10 \n", 0), "-0.5e+10");
	assert_int_equal(parse("true"), 1);
	assert_int_equal(tk[0].type, SL_JSON_TRUE);
	assert_int_equal(parse("false"), 1);
	assert_int_equal(tk[0].type, SL_JSON_FALSE);
	assert_int_equal(parse("null"), 1);
	assert_int_equal(tk[0].type, SL_JSON_NULL);
	assert_int_equal(parse("\"\""), 1);
	assert_int_equal(tk[0].type, SL_JSON_STRING);
	assert_int_equal(tk[0].start, 1);
	assert_int_equal(tk[0].len, 0);
	assert_int_equal(tk[0].end, 1);
	assert_int_equal(parse("[]"), 1);
	assert_int_equal(tk[0].size, 0);
	assert_int_equal(tk[0].len, 2);
	assert_int_equal(parse("{}"), 1);
	assert_int_equal(tk[0].type, SL_JSON_OBJECT);
	assert_int_equal(parse("1E5"), 1);
	assert_int_equal(parse("1e-5"), 1);
	assert_int_equal(parse("123456789012345678901234567890"), 1);
	assert_int_equal(parse("-1e99999999999999999999"), 1);
}

static void
test_nested(void **state)
{
	const char *s = "{\"a\":[1,{\"b\":null},[]],\"c\":{\"d\":[true,false]},"
			"\"e\":\"x\"}";

	(void)state;
	/* 0 { 1 "a" 2 [ 3 1 4 { 5 "b" 6 null 7 [ 8 "c" 9 { 10 "d" 11 [
	 * 12 true 13 false 14 "e" 15 "x" */
	assert_int_equal(parse(s), 16);
	assert_int_equal(tk[0].size, 3);
	assert_int_equal(tk[0].end, 16);
	assert_int_equal(tk[0].len, strlen(s));
	assert_int_equal(tk[2].type, SL_JSON_ARRAY);
	assert_int_equal(tk[2].size, 3);
	assert_int_equal(tk[2].end, 8);
	assert_string_equal(span(s, 2), "[1,{\"b\":null},[]]");
	assert_int_equal(tk[4].size, 1);
	assert_int_equal(tk[4].end, 7);
	assert_int_equal(tk[7].size, 0);
	assert_int_equal(tk[7].end, 8);
	assert_int_equal(tk[9].end, 14);
	assert_int_equal(tk[11].size, 2);
	assert_int_equal(tk[13].type, SL_JSON_FALSE);
	assert_int_equal(sl_json_get(s, tk, 0, "e", 1), 15);
	assert_int_equal(sl_json_get(s, tk, 9, "d", 1), 11);
	assert_int_equal(sl_json_get(s, tk, 4, "b", 1), 6);
}

static void
test_escapes(void **state)
{
	const char *s =
	    "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u00E9\","
	    "\"\\ud83d\\ude00\", \"\\u0000x\", \"\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80\"]";
	char out[64];

	(void)state;
	assert_int_equal(parse(s), 6);
	assert_string_equal(span(s, 1), "a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t");
	assert_int_equal(sl_json_str(s, tk, 1, out, sizeof(out)), 12);
	assert_memory_equal(out, "a\"b\\c/d\b\f\n\r\t", 12);
	assert_int_equal(sl_json_str(s, tk, 2, out, sizeof(out)), 4);
	assert_memory_equal(out, "\xc3\xa9\xc3\xa9", 4);
	/* a surrogate pair: one 4-byte character */
	assert_int_equal(sl_json_str(s, tk, 3, out, sizeof(out)), 4);
	assert_memory_equal(out, "\xf0\x9f\x98\x80", 4);
	assert_true(sl_json_str_eq(s, tk, 3, "\xf0\x9f\x98\x80", 4));
	assert_int_equal(sl_json_str(s, tk, 4, out, sizeof(out)), 2);
	assert_memory_equal(out, "\0x", 2);
	assert_int_equal(sl_json_str(s, tk, 5, out, sizeof(out)), 9);
	assert_memory_equal(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	/* too small, and not a string */
	assert_int_equal(sl_json_str(s, tk, 5, out, 8), -1);
	assert_int_equal(sl_json_str(s, tk, 5, out, 9), 9);
	assert_int_equal(sl_json_str(s, tk, 0, out, sizeof(out)), -1);
	assert_false(sl_json_str_eq(s, tk, 0, "", 0));
	assert_false(sl_json_str_eq(s, tk, 3, "\xf0\x9f\x98", 3));
	assert_false(sl_json_str_eq(s, tk, 3, "\xf0\x9f\x98\x80!", 5));
	/* every code point at the edges of the UTF-8 lengths */
	assert_int_equal(parse("\"\\u007f\\u0080\\u07ff\\u0800\\uffff"
			       "\\udbff\\udfff\""),
			 1);
	assert_int_equal(parse("\"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf"
			       "\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
			       "\xf4\x8f\xbf\xbf\""),
			 1);
}

static const char jwks[] =
    "{\"keys\":[\n"
    " {\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS256\","
    "\"n\":\"q83vEjRWeJA\",\"e\":\"AQAB\"},\n"
    " {\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"AAEC\","
    "\"y\":\"AwQF\"},\n"
    " {\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"BgcI\","
    "\"key_ops\":[\"verify\"]}\n"
    "]}";

static void
test_jwks_layout(void **state)
{
	int keys, k;

	(void)state;
	/* 0 { 1 "keys" 2 [
	 * 3 { 4..15: six members (12 tokens)
	 * 16 { 17..26: five members (10 tokens)
	 * 27 { 28 "kty" 29 "OKP" 30 "crv" 31 32 "x" 33 34 "key_ops" 35 [
	 * 36 "verify" */
	assert_int_equal(parse(jwks), 37);
	assert_int_equal(tk[0].size, 1);
	assert_int_equal(tk[0].end, 37);
	assert_int_equal(tk[0].start, 0);
	assert_int_equal(tk[0].len, sizeof(jwks) - 1);
	assert_int_equal(tk[1].type, SL_JSON_STRING);
	assert_string_equal(span(jwks, 1), "keys");
	keys = sl_json_get(jwks, tk, 0, "keys", 4);
	assert_int_equal(keys, 2);
	assert_int_equal(tk[2].type, SL_JSON_ARRAY);
	assert_int_equal(tk[2].size, 3);
	assert_int_equal(tk[2].end, 37);
	assert_int_equal(tk[3].size, 6);
	assert_int_equal(tk[3].end, 16);
	assert_int_equal(tk[16].size, 5);
	assert_int_equal(tk[16].end, 27);
	assert_int_equal(tk[27].size, 4);
	assert_int_equal(tk[27].end, 37);
	assert_int_equal(tk[35].size, 1);
	assert_int_equal(tk[35].end, 37);
	assert_int_equal(tk[36].end, 37);
	/* the elements, walked by their ends */
	k = keys + 1;
	assert_int_equal(k, 3);
	k = tk[k].end;
	assert_int_equal(k, 16);
	k = tk[k].end;
	assert_int_equal(k, 27);
	assert_true(sl_json_str_eq(
	    jwks, tk, sl_json_get(jwks, tk, 16, "crv", 3), "P-256", 5));
	assert_true(sl_json_str_eq(jwks, tk, sl_json_get(jwks, tk, 3, "e", 1),
				   "AQAB", 4));
	assert_int_equal(sl_json_get(jwks, tk, 27, "kid", 3), -1);
	assert_string_equal(span(jwks, 3),
			    "{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\","
			    "\"alg\":\"RS256\",\"n\":\"q83vEjRWeJA\","
			    "\"e\":\"AQAB\"}");
}

static void
test_get(void **state)
{
	const char *s = "{\"a\":1,\"\\u0062\":2,\"c\\\"d\":3,\"\":4,"
			"\"\\ud83d\\ude00\":5,\"ab\":6}";

	(void)state;
	assert_int_equal(parse(s), 13);
	assert_int_equal(sl_json_get(s, tk, 0, "a", 1), 2);
	assert_int_equal(sl_json_get(s, tk, 0, "b", 1), 4);
	assert_int_equal(sl_json_get(s, tk, 0, "c\"d", 3), 6);
	assert_int_equal(sl_json_get(s, tk, 0, "", 0), 8);
	assert_int_equal(sl_json_get(s, tk, 0, "\xf0\x9f\x98\x80", 4), 10);
	assert_int_equal(sl_json_get(s, tk, 0, "ab", 2), 12);
	assert_int_equal(sl_json_get(s, tk, 0, "\\u0062", 6), -1);
	assert_int_equal(sl_json_get(s, tk, 0, "x", 1), -1);
	assert_int_equal(sl_json_get(s, tk, 0, "a\0", 2), -1);
	assert_int_equal(sl_json_get(s, tk, 0, "abc", 3), -1);
	/* not an object */
	assert_int_equal(sl_json_get(s, tk, 2, "a", 1), -1);
	assert_int_equal(sl_json_get(s, tk, -1, "a", 1), -1);
	assert_int_equal(parse("[\"a\",1]"), 3);
	assert_int_equal(sl_json_get("[\"a\",1]", tk, 0, "a", 1), -1);
}

/* ---- refusals ---------------------------------------------------------- */

static void
test_syntax(void **state)
{
	(void)state;
	refuse("", SL_JSON_E_SYNTAX, 0);
	refuse("  ", SL_JSON_E_SYNTAX, 2);
	refuse("1 2", SL_JSON_E_SYNTAX, 2);
	refuse("{} {}", SL_JSON_E_SYNTAX, 3);
	refuse("[1,]", SL_JSON_E_SYNTAX, 3);
	refuse("{\"a\":1,}", SL_JSON_E_SYNTAX, 7);
	refuse("[,1]", SL_JSON_E_SYNTAX, 1);
	refuse("[1 2]", SL_JSON_E_SYNTAX, 3);
	refuse("[1", SL_JSON_E_SYNTAX, 2);
	refuse("[1}", SL_JSON_E_SYNTAX, 2);
	refuse("{\"a\"]", SL_JSON_E_SYNTAX, 4);
	refuse("{\"a\" 1}", SL_JSON_E_SYNTAX, 5);
	refuse("{\"a\":}", SL_JSON_E_SYNTAX, 5);
	refuse("{a:1}", SL_JSON_E_SYNTAX, 1);
	refuse("{1:1}", SL_JSON_E_SYNTAX, 1);
	refuse("{'a':1}", SL_JSON_E_SYNTAX, 1);
	refuse("['a']", SL_JSON_E_SYNTAX, 1);
	refuse("/* c */ 1", SL_JSON_E_SYNTAX, 0);
	refuse("1 // c", SL_JSON_E_SYNTAX, 2);
	refuse("# c\n1", SL_JSON_E_SYNTAX, 0);
	/* numbers */
	refuse("01", SL_JSON_E_SYNTAX, 1);
	refuse("-01", SL_JSON_E_SYNTAX, 2);
	refuse("00", SL_JSON_E_SYNTAX, 1);
	refuse("-", SL_JSON_E_SYNTAX, 1);
	refuse("- 1", SL_JSON_E_SYNTAX, 1);
	refuse("1.", SL_JSON_E_SYNTAX, 2);
	refuse("[1.]", SL_JSON_E_SYNTAX, 3);
	refuse(".5", SL_JSON_E_SYNTAX, 0);
	refuse("1e", SL_JSON_E_SYNTAX, 2);
	refuse("1e+", SL_JSON_E_SYNTAX, 3);
	refuse("1.e5", SL_JSON_E_SYNTAX, 2);
	refuse("+1", SL_JSON_E_SYNTAX, 0);
	refuse("0x10", SL_JSON_E_SYNTAX, 1);
	refuse("NaN", SL_JSON_E_SYNTAX, 0);
	refuse("Infinity", SL_JSON_E_SYNTAX, 0);
	refuse("-Infinity", SL_JSON_E_SYNTAX, 1);
	/* literals */
	refuse("tru", SL_JSON_E_SYNTAX, 0);
	refuse("truex", SL_JSON_E_SYNTAX, 4);
	refuse("True", SL_JSON_E_SYNTAX, 0);
	refuse("nul", SL_JSON_E_SYNTAX, 0);
	refuse("[nulll]", SL_JSON_E_SYNTAX, 5);
	/* white space is four bytes only; no byte order mark */
	refuse("\f1", SL_JSON_E_SYNTAX, 0);
	refuse("\v1", SL_JSON_E_SYNTAX, 0);
	refuse("\xef\xbb\xbf"
	       "1",
	       SL_JSON_E_SYNTAX, 0);
	refuse_n("1\0", 2, SL_JSON_E_SYNTAX, 1);
	/* strings */
	refuse("\"abc", SL_JSON_E_SYNTAX, 4);
	refuse("\"a\tb\"", SL_JSON_E_SYNTAX, 2);
	refuse("\"a\nb\"", SL_JSON_E_SYNTAX, 2);
	refuse("\"\x1f\"", SL_JSON_E_SYNTAX, 1);
	refuse_n("\"\0\"", 3, SL_JSON_E_SYNTAX, 1);
	refuse("\"\\x41\"", SL_JSON_E_SYNTAX, 1);
	refuse("\"\\'\"", SL_JSON_E_SYNTAX, 1);
	refuse("\"\\U0041\"", SL_JSON_E_SYNTAX, 1);
	refuse("\"\\", SL_JSON_E_SYNTAX, 1);
	refuse("\"\\\"", SL_JSON_E_SYNTAX, 3);
	/* DEL is no control character in JSON */
	assert_int_equal(parse("\"\x7f\""), 1);
}

static void
test_utf8(void **state)
{
	(void)state;
	/* \u escapes */
	refuse("\"\\u12\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\u12G4\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\u", SL_JSON_E_UTF8, 1);
	refuse("\"ab\\ud800\"", SL_JSON_E_UTF8, 3);
	refuse("\"\\udc00\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\udfff\\ud800\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ude00\\ud83d\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ud83d\\ud83d\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ud83dx\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ud83d\\n\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ud83d\\u0041\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ud83d\\ude0\"", SL_JSON_E_UTF8, 1);
	refuse("\"\\ud83d", SL_JSON_E_UTF8, 1);
	/* raw bytes */
	refuse("\"\x80\"", SL_JSON_E_UTF8, 1);
	refuse("\"\xbf\"", SL_JSON_E_UTF8, 1);
	refuse("\"\xc0\xaf\"", SL_JSON_E_UTF8, 1);	   /* overlong / */
	refuse("\"\xc1\xbf\"", SL_JSON_E_UTF8, 1);	   /* overlong */
	refuse("\"\xe0\x80\xaf\"", SL_JSON_E_UTF8, 1);	   /* overlong */
	refuse("\"\xe0\x9f\xbf\"", SL_JSON_E_UTF8, 1);	   /* overlong */
	refuse("\"\xf0\x8f\xbf\xbf\"", SL_JSON_E_UTF8, 1); /* overlong */
	refuse("\"\xed\xa0\x80\"", SL_JSON_E_UTF8, 1);	   /* U+D800 */
	refuse("\"\xed\xbf\xbf\"", SL_JSON_E_UTF8, 1);	   /* U+DFFF */
	refuse("\"\xf4\x90\x80\x80\"", SL_JSON_E_UTF8, 1); /* U+110000 */
	refuse("\"\xf5\x80\x80\x80\"", SL_JSON_E_UTF8, 1);
	refuse("\"\xff\"", SL_JSON_E_UTF8, 1);
	refuse("\"a\xc3\"", SL_JSON_E_UTF8, 2);	       /* cut */
	refuse("\"\xe2\x82\"", SL_JSON_E_UTF8, 1);     /* cut */
	refuse("\"\xf0\x9f\x98\"", SL_JSON_E_UTF8, 1); /* cut */
	refuse("\"\xf0\x9f\x98", SL_JSON_E_UTF8, 1);   /* at the end */
	refuse("\"\xc3\xc3\xa9\"", SL_JSON_E_UTF8, 1);
	/* outside a string, any such byte is a syntax error */
	refuse("[\xc3\xa9]", SL_JSON_E_SYNTAX, 1);
}

static void
test_duplicates(void **state)
{
	(void)state;
	refuse("{\"a\":1,\"a\":2}", SL_JSON_E_DUP, 7);
	refuse("{\"a\":1,\"\\u0061\":2}", SL_JSON_E_DUP, 7);
	refuse("{\"\\u0061\":1,\"a\":2}", SL_JSON_E_DUP, 12);
	refuse("{\"\\/\":1,\"/\":2}", SL_JSON_E_DUP, 8);
	refuse("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", SL_JSON_E_DUP,
	       18);
	refuse("{\"\":1,\"\":2}", SL_JSON_E_DUP, 6);
	refuse("{\"alg\":\"none\",\"x\":{\"alg\":1},\"alg\":\"RS256\"}",
	       SL_JSON_E_DUP, 28);
	/* in different objects, or differing by a byte: no duplicate */
	assert_int_equal(parse("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},"
			       "{\"a\":2}]}"),
			 15);
	assert_int_equal(parse("{\"a\":1,\"A\":1,\"a \":1,\"\\u0000a\":1,"
			       "\"a\\u0000\":1}"),
			 11);
	assert_int_equal(parse("{\"\\u00e9\":1,\"\\u00e8\":1}"), 5);
}

/* ---- bounds ------------------------------------------------------------ */

static void
test_token_bound(void **state)
{
	const char *s = "{\"a\":[1,2],\"b\":true}";
	size_t where;

	(void)state;
	/* 0 { 1 "a" 2 [ 3 1 4 2 5 "b" 6 true: 7 tokens */
	assert_int_equal(sl_json_parse(s, strlen(s), tk, 7, 64, NULL), 7);
	assert_int_equal(sl_json_parse(s, strlen(s), tk, 6, 64, &where),
			 SL_JSON_E_TOKENS);
	assert_int_equal(where, 15);
	assert_int_equal(sl_json_parse(s, strlen(s), tk, 3, 64, &where),
			 SL_JSON_E_TOKENS);
	assert_int_equal(where, 6);
	assert_int_equal(sl_json_parse("1", 1, tk, 1, 0, NULL), 1);
	assert_int_equal(sl_json_parse("1", 1, tk, 0, 0, &where),
			 SL_JSON_E_TOKENS);
	assert_int_equal(where, 0);
	assert_int_equal(sl_json_parse("1", 1, NULL, 0, 0, NULL),
			 SL_JSON_E_TOKENS);
	/* a syntax error before the bound is reached is that */
	assert_int_equal(sl_json_parse("[1,,2]", 6, tk, 2, 64, &where),
			 SL_JSON_E_SYNTAX);
	assert_int_equal(where, 3);
	/* the text's length */
	assert_int_equal(
	    sl_json_parse("1", (size_t)UINT32_MAX, tk, 1, 0, &where),
	    SL_JSON_E_SIZE);
	assert_int_equal(where, 0);
}

static void
test_member_bound(void **state)
{
	static char s[8192];
	static struct sl_json_tok big[1024];
	size_t n = 0, where;
	int m;

	(void)state;
	for (m = 0; m <= JSON_MEMBERS_MAX; m++) {
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%c\"k%d\":%d",
				      m == 0 ? '{' : ',', m, m);
		if (m == JSON_MEMBERS_MAX - 1) {
			s[n] = '}';
			assert_int_equal(
			    sl_json_parse(s, n + 1, big, 1024, 64, NULL),
			    1 + 2 * JSON_MEMBERS_MAX);
			assert_int_equal(big[0].size, JSON_MEMBERS_MAX);
			assert_int_equal(sl_json_get(s, big, 0, "k255", 4),
					 2 * 255 + 2);
		}
	}
	s[n++] = '}';
	assert_int_equal(sl_json_parse(s, n, big, 1024, 64, &where),
			 SL_JSON_E_TOKENS);
	assert_int_equal(s[where - 1], ',');
	/* an array has no such bound */
	n = 0;
	for (m = 0; m < 600; m++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%c%d",
				      m == 0 ? '[' : ',', m);
	s[n++] = ']';
	assert_int_equal(sl_json_parse(s, n, big, 1024, 64, NULL), 601);
}

static void
test_depth_bound(void **state)
{
	char s[300];
	size_t where;
	int d;

	(void)state;
	/* d arrays around a 1 */
	for (d = 0; d <= 66; d++) {
		int expect_ok = d <= 64;
		memset(s, '[', (size_t)d);
		s[d] = '1';
		memset(s + d + 1, ']', (size_t)d);
		/* at the bound, then past it */
		assert_int_equal(sl_json_parse(s, 2 * (size_t)d + 1, tk, NTOK,
					       (unsigned)d, NULL),
				 expect_ok ? d + 1 : SL_JSON_E_DEPTH);
		if (d > 0) {
			assert_int_equal(sl_json_parse(s, 2 * (size_t)d + 1, tk,
						       NTOK, (unsigned)d - 1,
						       &where),
					 SL_JSON_E_DEPTH);
			/* the bracket one past it (past 64: the 65th) */
			assert_int_equal(where,
					 (size_t)(d - 1 < 64 ? d - 1 : 64));
		}
	}
	/* more than 64 counts as 64 */
	memset(s, '[', 65);
	s[65] = '1';
	memset(s + 66, ']', 65);
	assert_int_equal(sl_json_parse(s, 131, tk, NTOK, 1000, &where),
			 SL_JSON_E_DEPTH);
	assert_int_equal(where, 64);
	assert_int_equal(sl_json_parse(s + 1, 129, tk, NTOK, 1000, NULL), 65);
	/* objects count as arrays do; a scalar needs no level */
	assert_int_equal(sl_json_parse("{\"a\":{}}", 8, tk, NTOK, 2, NULL), 3);
	assert_int_equal(sl_json_parse("{\"a\":{}}", 8, tk, NTOK, 1, &where),
			 SL_JSON_E_DEPTH);
	assert_int_equal(where, 5);
	assert_int_equal(sl_json_parse("\"x\"", 3, tk, NTOK, 0, NULL), 1);
	assert_int_equal(sl_json_parse("[]", 2, tk, NTOK, 0, NULL),
			 SL_JSON_E_DEPTH);
}

/* ---- numbers ----------------------------------------------------------- */

/* sl_json_int on s alone; returns its result, *v set when 0. */
static int
int_of(const char *s, int64_t *v)
{
	assert_int_equal(parse(s), 1);
	return sl_json_int(s, tk, 0, v);
}

static int
secs_of(const char *s, int64_t *v)
{
	assert_int_equal(parse(s), 1);
	return sl_json_seconds(s, tk, 0, v);
}

static void
test_int(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(int_of("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(int_of("-0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(int_of("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(int_of("-42", &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(int_of("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(int_of("-9223372036854775808", &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(int_of("9223372036854775808", &v), -1);
	assert_int_equal(int_of("-9223372036854775809", &v), -1);
	assert_int_equal(int_of("18446744073709551616", &v), -1);
	assert_int_equal(int_of("99999999999999999999999", &v), -1);
	assert_int_equal(int_of("1.0", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(int_of("1.00", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(int_of("-7.000", &v), 0);
	assert_int_equal(v, -7);
	assert_int_equal(int_of("9223372036854775807.0", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(int_of("1.5", &v), -1);
	assert_int_equal(int_of("1.01", &v), -1);
	assert_int_equal(int_of("1e0", &v), -1);
	assert_int_equal(int_of("1E2", &v), -1);
	assert_int_equal(int_of("0e0", &v), -1);
	/* not a number */
	assert_int_equal(parse("\"1\""), 1);
	assert_int_equal(sl_json_int("\"1\"", tk, 0, &v), -1);
	assert_int_equal(parse("true"), 1);
	assert_int_equal(sl_json_int("true", tk, 0, &v), -1);
}

static void
test_seconds(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(secs_of("1700000000", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("1.7e9", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("1.7E+9", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("17e8", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("1700000000.999", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("1.7000000009e9", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("17000000000e-1", &v), 0);
	assert_true(v == 1700000000);
	assert_int_equal(secs_of("0.5", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(secs_of("1e-99999999999999999999", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(secs_of("0e99999999999999999999", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(secs_of("0.000e5", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(secs_of("0.19e1", &v), 0);
	assert_int_equal(v, 1);
	/* negative: toward zero */
	assert_int_equal(secs_of("-1.5", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(secs_of("-0.5", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(secs_of("-17e8", &v), 0);
	assert_true(v == -1700000000);
	/* the range, [-2^62, 2^62] */
	assert_int_equal(secs_of("4611686018427387904", &v), 0);
	assert_true(v == (int64_t)1 << 62);
	assert_int_equal(secs_of("-4611686018427387904", &v), 0);
	assert_true(v == -((int64_t)1 << 62));
	assert_int_equal(secs_of("4611686018427387904.0", &v), 0);
	assert_int_equal(secs_of("4611686018427387904.1", &v), -1);
	assert_int_equal(secs_of("-4611686018427387904.1", &v), -1);
	assert_int_equal(secs_of("4611686018427387905", &v), -1);
	assert_int_equal(secs_of("4611686018427387903.9", &v), 0);
	assert_true(v == ((int64_t)1 << 62) - 1);
	assert_int_equal(secs_of("9223372036854775807", &v), -1);
	assert_int_equal(secs_of("1e19", &v), -1);
	assert_int_equal(secs_of("1e18", &v), 0);
	assert_true(v == 1000000000000000000);
	assert_int_equal(secs_of("1e99999999999999999999", &v), -1);
	assert_int_equal(secs_of("0.00000000000000000000000000001e40", &v), 0);
	assert_true(v == 100000000000);
	assert_int_equal(secs_of("123456789012345678901234567890e-20", &v), 0);
	assert_true(v == 1234567890);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_jwks_layout),
	    cmocka_unit_test(test_get),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_token_bound),
	    cmocka_unit_test(test_member_bound),
	    cmocka_unit_test(test_depth_bound),
	    cmocka_unit_test(test_int),
	    cmocka_unit_test(test_seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
