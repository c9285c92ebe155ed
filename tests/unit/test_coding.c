/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for coding.c: coding names, Accept-Encoding as RFC 9110
 * section 12.5.3 writes it (qvalues of section 12.4.2, "*", identity,
 * x-gzip, case, duplicates, empty members, several field lines, what is
 * counted as malformed), the choice among a route's offer, and the media
 * type patterns of a route's types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coding.h"

#define UNSET SL_ACCENC_UNSET

/* One field line, parsed from a fresh state. */
static struct sl_accenc
ae(const char *v)
{
	struct sl_accenc a;

	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, strlen(v));
	return a;
}

/* The weight a single "gzip;q=<qv>" member leaves gzip, or -1 when the
 * member was counted as malformed (and gzip refused: weight 0). */
static int
gzip_q(const char *qv)
{
	char v[64];
	struct sl_accenc a;

	snprintf(v, sizeof(v), "gzip;q=%s", qv);
	a = ae(v);
	if (a.bad != 0) {
		assert_int_equal(a.bad, 1);
		assert_int_equal(a.q[SL_CODING_GZIP], 0); /* refused */
		return -1;
	}
	assert_int_not_equal(a.q[SL_CODING_GZIP], UNSET);
	return a.q[SL_CODING_GZIP];
}

static enum sl_coding
pick(const char *v, const uint8_t *offer, size_t n)
{
	struct sl_accenc a = ae(v);

	return sl_accenc_pick(&a, offer, n);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(sl_coding_name(SL_CODING_IDENTITY), "identity");
	assert_string_equal(sl_coding_name(SL_CODING_GZIP), "gzip");
	assert_string_equal(sl_coding_name(SL_CODING_BR), "br");
	assert_string_equal(sl_coding_name(SL_CODING_ZSTD), "zstd");
	/* out of range: identity, never a read past the table */
	assert_string_equal(sl_coding_name(SL_CODING_N), "identity");
	assert_string_equal(sl_coding_name((enum sl_coding)200), "identity");
	assert_string_equal(sl_coding_name((enum sl_coding) - 1), "identity");
}

static void
test_by_name(void **state)
{
	static const struct {
		const char *s;
		enum sl_coding c;
	} t[] = {
	    {"gzip", SL_CODING_GZIP},
	    {"GZIP", SL_CODING_GZIP},
	    {"gZiP", SL_CODING_GZIP},
	    {"x-gzip", SL_CODING_GZIP},
	    {"X-GZip", SL_CODING_GZIP},
	    {"br", SL_CODING_BR},
	    {"BR", SL_CODING_BR},
	    {"zstd", SL_CODING_ZSTD},
	    {"ZStd", SL_CODING_ZSTD},
	    {"identity", SL_CODING_IDENTITY},
	    {"IDENTITY", SL_CODING_IDENTITY},
	    {"deflate", SL_CODING_N},
	    {"compress", SL_CODING_N},
	    {"x-compress", SL_CODING_N},
	    {"brotli", SL_CODING_N},
	    {"gzip2", SL_CODING_N},
	    {"gzi", SL_CODING_N},
	    {"zst", SL_CODING_N},
	    {"b", SL_CODING_N},
	    {"", SL_CODING_N},
	    {"*", SL_CODING_N},
	    {"x-br", SL_CODING_N},
	    {"x-zstd", SL_CODING_N},
	    {"xgzip", SL_CODING_N},
	    {"x_gzip", SL_CODING_N},
	    {"identit", SL_CODING_N},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (sl_coding_by_name(t[i].s, strlen(t[i].s)) != t[i].c)
			fail_msg("sl_coding_by_name(\"%s\")", t[i].s);
	}
	/* the length counts, not a NUL */
	assert_int_equal(sl_coding_by_name("gzipped", 4), SL_CODING_GZIP);
	assert_int_equal(sl_coding_by_name("brx", 2), SL_CODING_BR);
	assert_int_equal(sl_coding_by_name("gzip", 3), SL_CODING_N);
	assert_int_equal(sl_coding_by_name("x-gzipx", 6), SL_CODING_GZIP);
	/* a NUL inside the length is a byte like another */
	assert_int_equal(sl_coding_by_name("br\0", 3), SL_CODING_N);
}

static void
test_init_and_weight(void **state)
{
	struct sl_accenc a;

	(void)state;
	memset(&a, 0x5a, sizeof(a));
	sl_accenc_init(&a);
	for (int c = 0; c < SL_CODING_N; c++) {
		assert_int_equal(a.q[c], UNSET);
		assert_int_equal(sl_accenc_weight(&a, (enum sl_coding)c), 0);
	}
	assert_int_equal(a.star, UNSET);
	assert_int_equal(a.bad, 0);
	/* its own weight, else the star's, else 0 */
	a.q[SL_CODING_GZIP] = 300;
	a.star = 700;
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_GZIP), 300);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_BR), 700);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_IDENTITY), 700);
	a.q[SL_CODING_BR] = 0;
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_BR), 0);
}

static void
test_plain_lists(void **state)
{
	struct sl_accenc a;

	(void)state;
	/* Chrome, Firefox (2024) */
	a = ae("gzip, deflate, br, zstd");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.q[SL_CODING_ZSTD], 1000);
	assert_int_equal(a.q[SL_CODING_IDENTITY], UNSET);
	assert_int_equal(a.star, UNSET);
	assert_int_equal(a.bad, 0);
	/* curl --compressed: no spaces, another order */
	a = ae("deflate,gzip,br,zstd");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.q[SL_CODING_ZSTD], 1000);
	assert_int_equal(a.bad, 0);
	/* codings sluice does not know are no error */
	a = ae("compress, deflate, sdch, lzma, exi, pack200-gzip, aes128gcm");
	for (int c = 0; c < SL_CODING_N; c++)
		assert_int_equal(a.q[c], UNSET);
	assert_int_equal(a.star, UNSET);
	assert_int_equal(a.bad, 0);
	/* one member, OWS about it */
	a = ae(" \tbr\t ");
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.bad, 0);
}

static void
test_qvalues(void **state)
{
	static const struct {
		const char *v;
		int q; /* -1: malformed */
	} t[] = {
	    {"0", 0},
	    {"1", 1000},
	    {"0.", 0},
	    {"1.", 1000},
	    {"0.0", 0},
	    {"0.000", 0},
	    {"0.5", 500},
	    {"0.05", 50},
	    {"0.001", 1},
	    {"0.01", 10},
	    {"0.1", 100},
	    {"0.123", 123},
	    {"0.999", 999},
	    {"1.0", 1000},
	    {"1.00", 1000},
	    {"1.000", 1000},
	    {"0.50", 500},
	    {"0.500", 500},
	    /* not a qvalue */
	    {"", -1},
	    {"1.5", -1},
	    {"1.001", -1},
	    {"1.0000", -1},
	    {"0.1234", -1},
	    {"0.0000", -1},
	    {"2", -1},
	    {"10", -1},
	    {"00", -1},
	    {"01", -1},
	    {"00.5", -1},
	    {".5", -1},
	    {"-0", -1},
	    {"+1", -1},
	    {"-0.5", -1},
	    {"0.a", -1},
	    {"0.5x", -1},
	    {"0x1", -1},
	    {"1e0", -1},
	    {"0..5", -1},
	    {"0.5.", -1},
	    {"0,5", -1},
	    {"\"0.5\"", -1},
	    {"0.-1", -1},
	    {"1.9", -1},
	    {"9", -1},
	    {"q", -1},
	    {"0.\xb5", -1},
	    {"1.\x30\x30\x31", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int q;
		/* "0,5" splits into "gzip;q=0" and "5": not the case here */
		if (strchr(t[i].v, ',') != NULL) {
			struct sl_accenc a = ae("gzip;q=0,5");
			assert_int_equal(a.q[SL_CODING_GZIP], 0);
			assert_int_equal(a.bad, 0); /* "5" is a token */
			continue;
		}
		q = gzip_q(t[i].v);
		if (q != t[i].q)
			fail_msg("q=\"%s\": %d, expected %d", t[i].v, q,
				 t[i].q);
	}
}

static void
test_q_parameter_syntax(void **state)
{
	struct sl_accenc a;

	(void)state;
	/* parameter names are case-insensitive (RFC 9110 section 5.6.6) */
	a = ae("gzip;Q=0.5");
	assert_int_equal(a.q[SL_CODING_GZIP], 500);
	/* OWS around ";" (the weight rule: OWS ";" OWS "q=" qvalue) */
	a = ae("gzip ; q=0.5, br\t;\tq=0.25, zstd ;q=0.125");
	assert_int_equal(a.q[SL_CODING_GZIP], 500);
	assert_int_equal(a.q[SL_CODING_BR], 250);
	assert_int_equal(a.q[SL_CODING_ZSTD], 125);
	assert_int_equal(a.bad, 0);
	/* RFC 9110's own example, "identity; q=0.5" */
	a = ae("gzip;q=1.0, identity; q=0.5, *;q=0");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.q[SL_CODING_IDENTITY], 500);
	assert_int_equal(a.star, 0);
	assert_int_equal(a.bad, 0);
	/* but none around "=": no such weight, the member is malformed */
	assert_int_equal(gzip_q(" 0.5"), -1);
	a = ae("gzip;q =0.5");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.bad, 1);
	a = ae("gzip;q = 0.5, br");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.bad, 1);
	/* a weight without a value, without "=", an empty parameter */
	a = ae("gzip;q=, br;q, zstd;, identity;;q=1");
	for (int c = 0; c < SL_CODING_N; c++)
		assert_int_equal(a.q[c], 0);
	assert_int_equal(a.bad, 4);
	/* no ";" before the weight */
	a = ae("gzip q=0.5");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.bad, 1);
	/* OWS after the weight, before the next parameter */
	a = ae("gzip;q=0.5 ;level=9");
	assert_int_equal(a.q[SL_CODING_GZIP], 500);
	assert_int_equal(a.bad, 0);
}

static void
test_other_parameters(void **state)
{
	struct sl_accenc a;

	(void)state;
	/* parameters other than q are passed over, before or after it */
	a = ae("gzip;level=9, br;foo=bar;q=0.3, zstd;q=0.7;foo=bar");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.q[SL_CODING_BR], 300);
	assert_int_equal(a.q[SL_CODING_ZSTD], 700);
	assert_int_equal(a.bad, 0);
	/* a name that only starts with q is another parameter */
	a = ae("gzip;qq=0.5, br;quality=0.2, zstd;x-q=0");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.q[SL_CODING_ZSTD], 1000);
	assert_int_equal(a.bad, 0);
	/* an unknown parameter's value is not read as a qvalue */
	a = ae("gzip;v=7.25");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.bad, 0);
	/* a parameter without "=" is malformed, wherever it is */
	a = ae("gzip;q=0.5;foo, br;foo;q=0.5");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.q[SL_CODING_BR], 0);
	assert_int_equal(a.bad, 2);
	/* a good weight does not save a member with a bad parameter */
	a = ae("gzip;q=0.5;=x");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.bad, 1);
}

static void
test_star(void **state)
{
	struct sl_accenc a;

	(void)state;
	a = ae("*");
	assert_int_equal(a.star, 1000);
	for (int c = 0; c < SL_CODING_N; c++) {
		assert_int_equal(a.q[c], UNSET);
		assert_int_equal(sl_accenc_weight(&a, (enum sl_coding)c), 1000);
	}
	/* the star stands for the codings not named, only */
	a = ae("br;q=0.8, *;q=0.2");
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_BR), 800);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_GZIP), 200);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_ZSTD), 200);
	/* named after the star: the same */
	a = ae("*;q=0, gzip");
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_GZIP), 1000);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_BR), 0);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_ZSTD), 0);
	/* a refused coding stays refused under a star */
	a = ae("*, br;q=0");
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_BR), 0);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_GZIP), 1000);
	/* the first star counts */
	a = ae("*;q=0.5, *;q=1, *;q=0");
	assert_int_equal(a.star, 500);
	/* a malformed star is no star */
	a = ae("*;q=2, gzip");
	assert_int_equal(a.star, UNSET);
	assert_int_equal(a.bad, 1);
	/* "**" and "x*" are tokens, just none of sluice's codings */
	a = ae("**, x*");
	assert_int_equal(a.star, UNSET);
	assert_int_equal(a.bad, 0);
	a = ae("*/*");
	assert_int_equal(a.star, UNSET);
	assert_int_equal(a.bad, 1); /* a media range: "/" is no tchar */
}

static void
test_identity(void **state)
{
	struct sl_accenc a;
	static const uint8_t offer[] = {SL_CODING_IDENTITY, SL_CODING_GZIP};

	(void)state;
	a = ae("identity");
	assert_int_equal(a.q[SL_CODING_IDENTITY], 1000);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_GZIP), 0);
	assert_int_equal(sl_accenc_pick(&a, offer + 1, 1), SL_CODING_IDENTITY);
	a = ae("identity;q=0, *;q=0");
	assert_int_equal(a.q[SL_CODING_IDENTITY], 0);
	/* nothing acceptable: identity all the same (the caller's body as it
	 * is, never a 406) */
	assert_int_equal(sl_accenc_pick(&a, offer + 1, 1), SL_CODING_IDENTITY);
	/* identity weighed higher than every coding: the body as it is */
	a = ae("identity, gzip;q=0.1");
	assert_int_equal(sl_accenc_pick(&a, offer, 2), SL_CODING_IDENTITY);
	assert_int_equal(sl_accenc_pick(&a, offer, 1), SL_CODING_IDENTITY);
	/* a tie goes to the coding; identity in an offer is passed over: it
	 * is what "none" means */
	a = ae("identity;q=0.5, gzip;q=0.5");
	assert_int_equal(sl_accenc_pick(&a, offer, 2), SL_CODING_GZIP);
	a = ae("identity;q=0.2, gzip;q=0.5");
	assert_int_equal(sl_accenc_pick(&a, offer, 2), SL_CODING_GZIP);
}

static void
test_x_gzip_and_case(void **state)
{
	struct sl_accenc a;

	(void)state;
	a = ae("x-gzip;q=0.7");
	assert_int_equal(a.q[SL_CODING_GZIP], 700);
	/* gzip and x-gzip are one coding: the first named counts */
	a = ae("x-gzip;q=0.2, gzip");
	assert_int_equal(a.q[SL_CODING_GZIP], 200);
	a = ae("gzip;q=0.3, x-gzip");
	assert_int_equal(a.q[SL_CODING_GZIP], 300);
	a = ae("GZip;Q=0.4, BR, ZSTD;q=0.6, X-Gzip;q=1, IdEnTiTy;q=0");
	assert_int_equal(a.q[SL_CODING_GZIP], 400);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.q[SL_CODING_ZSTD], 600);
	assert_int_equal(a.q[SL_CODING_IDENTITY], 0);
	assert_int_equal(a.bad, 0);
}

static void
test_duplicates(void **state)
{
	struct sl_accenc a;

	(void)state;
	/* the first weight wins, a refusal too */
	a = ae("gzip;q=0, gzip");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	a = ae("br, br;q=0");
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	a = ae("zstd;q=0.1, zstd;q=0.9, zstd");
	assert_int_equal(a.q[SL_CODING_ZSTD], 100);
	a = ae("identity;q=0.5, identity;q=0");
	assert_int_equal(a.q[SL_CODING_IDENTITY], 500);
	/* a malformed first one refuses its coding (it may have been a
	 * q=0), and the first word wins */
	a = ae("gzip;q=bad, gzip;q=0.4");
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.bad, 1);
}

static void
test_empty_members(void **state)
{
	static const char *const empty[] = {
	    "", " ", "\t", ",", ",,,", " , ,\t, ", "\t,\t",
	};
	struct sl_accenc a;

	(void)state;
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		a = ae(empty[i]);
		for (int c = 0; c < SL_CODING_N; c++)
			assert_int_equal(a.q[c], UNSET);
		assert_int_equal(a.star, UNSET);
		if (a.bad != 0)
			fail_msg("\"%s\": %u malformed", empty[i], a.bad);
	}
	/* RFC 9110 section 5.6.1: empty list elements are ignored */
	a = ae(",gzip,,  ,br ,\t, zstd;q=0.5,");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.q[SL_CODING_ZSTD], 500);
	assert_int_equal(a.bad, 0);
	/* but a member of only a parameter is malformed */
	a = ae(";q=1, gzip");
	assert_int_equal(a.q[SL_CODING_GZIP], 1000);
	assert_int_equal(a.bad, 1);
}

static void
test_field_lines(void **state)
{
	struct sl_accenc a;

	(void)state;
	/* a request may send the field more than once: one list */
	sl_accenc_init(&a);
	sl_accenc_parse(&a, "gzip;q=0.2", 10);
	sl_accenc_parse(&a, "br, gzip", 8);
	assert_int_equal(a.q[SL_CODING_GZIP], 200);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.q[SL_CODING_ZSTD], UNSET);
	sl_accenc_init(&a);
	sl_accenc_parse(&a, "*;q=0", 5);
	sl_accenc_parse(&a, "", 0);
	sl_accenc_parse(&a, "zstd", 4);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_ZSTD), 1000);
	assert_int_equal(sl_accenc_weight(&a, SL_CODING_GZIP), 0);
	/* the malformed members add up across lines */
	sl_accenc_init(&a);
	sl_accenc_parse(&a, "gzip;q=2", 8);
	sl_accenc_parse(&a, "br;q=3, @", 9);
	assert_int_equal(a.bad, 3);
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.q[SL_CODING_BR], 0);
	/* a member never runs on into the next line */
	sl_accenc_init(&a);
	sl_accenc_parse(&a, "gz", 2);
	sl_accenc_parse(&a, "ip", 2);
	assert_int_equal(a.q[SL_CODING_GZIP], UNSET);
	assert_int_equal(a.bad, 0);
}

static void
test_malformed_counting(void **state)
{
	struct sl_accenc a;
	char *v;
	size_t n = 70000;

	(void)state;
	/* bad weights, a non-tchar token, a parameter alone, after them
	 * good members still count */
	a = ae("gzip;q=2, br;q=x, zstd, @, ;q=1, deflate, identity;q=0.5");
	assert_int_equal(a.bad, 4);
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.q[SL_CODING_BR], 0);
	assert_int_equal(a.q[SL_CODING_ZSTD], 1000);
	assert_int_equal(a.q[SL_CODING_IDENTITY], 500);
	/* bytes no token holds: quotes, slashes, non-ASCII, controls */
	a = ae("\"gzip\", br/1, gz\xc3\xadp, zs\x01td, ident\rity, zstd");
	assert_int_equal(a.bad, 5);
	assert_int_equal(a.q[SL_CODING_ZSTD], 1000);
	assert_int_equal(a.q[SL_CODING_GZIP], UNSET);
	assert_int_equal(a.q[SL_CODING_BR], 0);
	/* a NUL inside the value is a byte, not an end */
	sl_accenc_init(&a);
	sl_accenc_parse(&a, "gzip\0, br", 9);
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	assert_int_equal(a.bad, 1);
	/* a token, OWS inside it */
	a = ae("gz ip, b r");
	assert_int_equal(a.bad, 2);
	assert_int_equal(a.q[SL_CODING_GZIP], UNSET);
	assert_int_equal(a.q[SL_CODING_BR], UNSET);
	/* the count stops at its largest */
	v = malloc(2 * n);
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[2 * i] = '@';
		v[2 * i + 1] = ',';
	}
	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, 2 * n);
	assert_int_equal(a.bad, UINT16_MAX);
	sl_accenc_parse(&a, v, 2);
	assert_int_equal(a.bad, UINT16_MAX);
	free(v);
}

static void
test_length_respected(void **state)
{
	/* not NUL-terminated: no byte past len is read */
	static const char v[] = {'g', 'z', 'i', 'p', ';', 'q', '=',
				 '0', '.', '5', ',', 'b', 'r'};
	struct sl_accenc a;

	(void)state;
	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, 6); /* "gzip;q" */
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	assert_int_equal(a.bad, 1);
	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, 9); /* "gzip;q=0." */
	assert_int_equal(a.q[SL_CODING_GZIP], 0);
	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, 12); /* "gzip;q=0.5,b" */
	assert_int_equal(a.q[SL_CODING_GZIP], 500);
	assert_int_equal(a.q[SL_CODING_BR], UNSET);
	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, sizeof(v));
	assert_int_equal(a.q[SL_CODING_BR], 1000);
	sl_accenc_init(&a);
	sl_accenc_parse(&a, v, 0);
	assert_int_equal(a.q[SL_CODING_GZIP], UNSET);
	assert_int_equal(a.bad, 0);
}

static void
test_pick(void **state)
{
	static const uint8_t gbz[] = {SL_CODING_GZIP, SL_CODING_BR,
				      SL_CODING_ZSTD};
	static const uint8_t zbg[] = {SL_CODING_ZSTD, SL_CODING_BR,
				      SL_CODING_GZIP};
	static const uint8_t bg[] = {SL_CODING_BR, SL_CODING_GZIP};
	static const uint8_t junk[] = {SL_CODING_N, 200, SL_CODING_IDENTITY,
				       SL_CODING_BR, 255};
	static const uint8_t dup[] = {SL_CODING_GZIP, SL_CODING_GZIP,
				      SL_CODING_BR};
	struct sl_accenc a;

	(void)state;
	/* equal weights: the route's order */
	assert_int_equal(pick("gzip, br, zstd", gbz, 3), SL_CODING_GZIP);
	assert_int_equal(pick("gzip, br, zstd", zbg, 3), SL_CODING_ZSTD);
	assert_int_equal(pick("gzip, deflate, br", zbg, 3), SL_CODING_BR);
	assert_int_equal(pick("*", bg, 2), SL_CODING_BR);
	/* the client's weights first */
	assert_int_equal(pick("gzip;q=0.5, br;q=0.9", gbz, 3), SL_CODING_BR);
	assert_int_equal(pick("gzip, br;q=0.999", bg, 2), SL_CODING_GZIP);
	assert_int_equal(pick("br;q=0.5, *", bg, 2), SL_CODING_GZIP);
	assert_int_equal(pick("zstd;q=0.001", gbz, 3), SL_CODING_ZSTD);
	assert_int_equal(pick("gzip;q=0.001, br;q=0.002", gbz, 3),
			 SL_CODING_BR);
	assert_int_equal(pick("gzip;q=0.5, br;q=0.5, zstd;q=0.5", zbg, 3),
			 SL_CODING_ZSTD);
	/* weight 0 is "not acceptable" */
	assert_int_equal(pick("gzip;q=0", gbz, 3), SL_CODING_IDENTITY);
	assert_int_equal(pick("*;q=0", gbz, 3), SL_CODING_IDENTITY);
	assert_int_equal(pick("*;q=0, br;q=0.1", gbz, 3), SL_CODING_BR);
	assert_int_equal(pick("gzip;q=0, *", gbz, 3), SL_CODING_BR);
	/* nothing offered, nothing named, only unknown codings */
	assert_int_equal(pick("gzip", gbz, 0), SL_CODING_IDENTITY);
	assert_int_equal(pick("gzip", NULL, 0), SL_CODING_IDENTITY);
	assert_int_equal(pick("", gbz, 3), SL_CODING_IDENTITY);
	assert_int_equal(pick("deflate, compress", gbz, 3), SL_CODING_IDENTITY);
	/* only offer[0..n) */
	assert_int_equal(pick("br", bg + 1, 1), SL_CODING_IDENTITY);
	assert_int_equal(pick("zstd, br", gbz, 2), SL_CODING_BR);
	/* values that are no coding are passed over */
	assert_int_equal(pick("*", junk, sizeof(junk)), SL_CODING_BR);
	assert_int_equal(pick("gzip", dup, 3), SL_CODING_GZIP);
	/* a malformed member is no weight */
	assert_int_equal(pick("br;q=1.5, gzip;q=0.1", bg, 2), SL_CODING_GZIP);
	/* several field lines */
	sl_accenc_init(&a);
	sl_accenc_parse(&a, "gzip;q=0.3", 10);
	sl_accenc_parse(&a, "br;q=0.4", 8);
	assert_int_equal(sl_accenc_pick(&a, gbz, 3), SL_CODING_BR);
	/* browsers as they are, against a route offering all three */
	assert_int_equal(pick("gzip, deflate, br, zstd", zbg, 3),
			 SL_CODING_ZSTD);
	assert_int_equal(pick("gzip, deflate, br", zbg, 3), SL_CODING_BR);
	assert_int_equal(pick("gzip, deflate", zbg, 3), SL_CODING_GZIP);
	assert_int_equal(pick("identity", zbg, 3), SL_CODING_IDENTITY);
	assert_int_equal(pick("compress, gzip", zbg, 3), SL_CODING_GZIP);
	assert_int_equal(pick("compress;q=0.5, gzip;q=1.0", zbg, 3),
			 SL_CODING_GZIP);
	assert_int_equal(pick("gzip;q=1.0, identity; q=0.5, *;q=0", zbg, 3),
			 SL_CODING_GZIP);
}

/*
 * A coding the client refuses (q=0) must never be picked. Two members
 * RFC 9110's grammar does not allow (a weight is the only parameter of
 * Accept-Encoding, once) are read so that the refusal is lost and the
 * coding weighs 1000: a quoted parameter value holding a comma, which
 * sl_accenc_parse splits the member at (the first half, "gzip;x=\"a",
 * passes with no weight, the second, "b\";q=0", is malformed), and a
 * second weight, which overwrites the first. Either should leave the
 * coding refused, or the member malformed (the coding unnamed).
 */
static void
test_refusal_kept(void **state)
{
	static const uint8_t g[] = {SL_CODING_GZIP};
	static const char *const v[] = {
	    "gzip;x=\"a,b\";q=0",
	    "gzip;q=0;q=1",
	    "gzip;x=\"a;q=1\";q=0",
	    /* with "*": the malformed member's coding is refused, not left
	     * to the star */
	    "gzip;q=0;q=1, *",
	    "gzip;x=\"a,b\";q=0, *",
	    "gzip;q=0.0000, *",
	    "gzip;q=0 ;, *",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sl_accenc a = ae(v[i]);
		if (sl_accenc_weight(&a, SL_CODING_GZIP) != 0 ||
		    sl_accenc_pick(&a, g, 1) != SL_CODING_IDENTITY)
			fail_msg("\"%s\": gzip weighs %u", v[i],
				 sl_accenc_weight(&a, SL_CODING_GZIP));
	}
}

static int
tm(const char *pattern, const char *v)
{
	return sl_coding_type_match(pattern, v, strlen(v));
}

static void
test_type_exact(void **state)
{
	(void)state;
	assert_true(tm("application/json", "application/json"));
	assert_true(tm("application/json", "Application/JSON"));
	assert_true(tm("APPLICATION/JSON", "application/json"));
	/* parameters and what follows the type are not looked at */
	assert_true(tm("application/json", "application/json; charset=utf-8"));
	assert_true(tm("application/json", "application/json;charset=utf-8"));
	assert_true(tm("application/json", "application/json ;charset=x"));
	assert_true(tm("application/json", "application/json\t; a=b"));
	assert_true(tm("application/json", "application/json;"));
	assert_true(tm("application/json", "application/json junk"));
	/* near misses */
	assert_false(tm("application/json", "application/jsonx"));
	assert_false(tm("application/json", "application/jso"));
	assert_false(tm("application/json", "application/json+x"));
	assert_false(tm("application/json", "application/ld+json"));
	assert_false(tm("application/json", "xapplication/json"));
	assert_false(tm("application/json", "application"));
	assert_false(tm("application/json", "application/"));
	assert_false(tm("application/json", ""));
	assert_false(tm("application/json", ";application/json"));
	/* leading OWS is the caller's to trim: not a type */
	assert_false(tm("application/json", " application/json"));
	assert_false(tm("text/html", "text/htm"));
	assert_false(tm("text/html", "text/html5"));
	assert_false(tm("text/html", "text"));
	assert_true(tm("text/event-stream", "text/event-stream;charset=utf-8"));
	assert_false(tm("text/event-stream", "text/event-streams"));
}

static void
test_type_wildcard(void **state)
{
	(void)state;
	assert_true(tm("text/*", "text/html"));
	assert_true(tm("text/*", "text/plain; charset=utf-8"));
	assert_true(tm("text/*", "TEXT/CSS"));
	assert_true(tm("TEXT/*", "text/css"));
	assert_true(tm("text/*", "text/x"));
	/* no subtype, no slash, another type */
	assert_false(tm("text/*", "text/"));
	assert_false(tm("text/*", "text/;charset=utf-8"));
	assert_false(tm("text/*", "text/ html"));
	assert_false(tm("text/*", "text"));
	assert_false(tm("text/*", "tex"));
	assert_false(tm("text/*", "texts/html"));
	assert_false(tm("text/*", "textx/html"));
	assert_false(tm("text/*", "application/text"));
	assert_false(tm("text/*", "image/svg+xml"));
	assert_false(tm("text/*", ""));
}

static void
test_type_suffix(void **state)
{
	(void)state;
	assert_true(tm("application/*+json", "application/ld+json"));
	assert_true(tm("application/*+json", "application/vnd.api+json"));
	assert_true(tm("application/*+json",
		       "application/problem+json; charset=utf-8"));
	assert_true(tm("application/*+json", "APPLICATION/HAL+JSON"));
	assert_true(tm("application/*+json", "application/a+json"));
	assert_true(tm("application/*+json", "application/a+b+json"));
	assert_true(tm("application/*+xml", "application/atom+xml"));
	/* an empty subtype before the suffix, no suffix, another one */
	assert_false(tm("application/*+json", "application/+json"));
	assert_false(tm("application/*+json", "application/json"));
	assert_false(tm("application/*+json", "application/jsonx"));
	assert_false(tm("application/*+json", "application/ld+jsonx"));
	assert_false(tm("application/*+json", "application/ld+jso"));
	assert_false(tm("application/*+json", "application/ld+json5"));
	assert_false(tm("application/*+json", "application/ldjson"));
	assert_false(tm("application/*+json", "application/ld+xml"));
	assert_false(tm("application/*+json", "text/ld+json"));
	assert_false(tm("application/*+json", "application"));
	assert_false(tm("application/*+json", "application/"));
	assert_false(tm("application/*+json", "+json"));
	assert_false(tm("application/*+json", ""));
	/* the suffix is the type's, not a parameter's */
	assert_false(tm("application/*+json", "application/x; a=b+json"));
	assert_false(tm("application/*+json", "application/x;+json"));
}

static void
test_type_length_respected(void **state)
{
	static const char v[] = {'t', 'e', 'x', 't', '/', 'h', 't', 'm', 'l'};
	static const char w[] = {'a', '/', 'b', '+', 'j', 's', 'o', 'n'};

	(void)state;
	assert_true(sl_coding_type_match("text/html", v, sizeof(v)));
	assert_false(sl_coding_type_match("text/html", v, sizeof(v) - 1));
	assert_true(sl_coding_type_match("text/*", v, 6));
	assert_false(sl_coding_type_match("text/*", v, 5));
	assert_false(sl_coding_type_match("text/*", v, 0));
	assert_true(sl_coding_type_match("a/*+json", w, sizeof(w)));
	assert_false(sl_coding_type_match("a/*+json", w, sizeof(w) - 1));
	assert_true(sl_coding_type_match("a/*+js", w, 6));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_by_name),
	    cmocka_unit_test(test_init_and_weight),
	    cmocka_unit_test(test_plain_lists),
	    cmocka_unit_test(test_qvalues),
	    cmocka_unit_test(test_q_parameter_syntax),
	    cmocka_unit_test(test_other_parameters),
	    cmocka_unit_test(test_star),
	    cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_x_gzip_and_case),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_empty_members),
	    cmocka_unit_test(test_field_lines),
	    cmocka_unit_test(test_malformed_counting),
	    cmocka_unit_test(test_length_respected),
	    cmocka_unit_test(test_pick),
	    cmocka_unit_test(test_refusal_kept),
	    cmocka_unit_test(test_type_exact),
	    cmocka_unit_test(test_type_wildcard),
	    cmocka_unit_test(test_type_suffix),
	    cmocka_unit_test(test_type_length_respected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
