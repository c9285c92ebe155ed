/* SPDX-License-Identifier: MIT */
/*
 * HPACK (src/h2/hpack.c): the examples of RFC 7541 appendix C, the
 * decoder's errors and checks, its table's life, and the encoder's
 * output read back by the decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hpack.c"

/* ---- what a decoder emitted ----------------------------------------------*/

struct got {
	int n;
	char name[32][128];
	char value[32][128];
	unsigned flags[32];
	int refuse_at; /* refuse the field of this number (from 1), or 0 */
};

static int
collect(void *arg, const char *name, size_t nlen, const char *value,
	size_t vlen, unsigned flags)
{
	struct got *g = arg;

	assert_true(g->n < 32 && nlen < 128 && vlen < 128);
	memcpy(g->name[g->n], name, nlen);
	g->name[g->n][nlen] = '\0';
	memcpy(g->value[g->n], value, vlen);
	g->value[g->n][vlen] = '\0';
	g->flags[g->n] = flags;
	g->n++;
	return g->refuse_at == g->n;
}

static char scratch[8192];

/* hex digits (spaces ignored) into out; returns the bytes */
static size_t
unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (const char *p = hex; *p != '\0';) {
		unsigned v;

		if (*p == ' ') {
			p++;
			continue;
		}
		assert_int_equal(sscanf(p, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

static int
decode_hex(struct sl_hpack_dec *d, const char *hex, struct got *g)
{
	uint8_t in[1024];
	size_t n = unhex(hex, in);

	memset(g, 0, sizeof(*g));
	return sl_hpack_decode(d, in, n, scratch, sizeof(scratch), collect, g);
}

static void
expect(const struct got *g, int i, const char *name, const char *value)
{
	assert_true(i < g->n);
	assert_string_equal(g->name[i], name);
	assert_string_equal(g->value[i], value);
}

/* the dynamic entry i (1: newest) */
static void
expect_entry(const struct sl_hpack_dec *d, uint32_t i, const char *name,
	     const char *value)
{
	struct str n, v;

	assert_int_equal(entry(d, SL_HPACK_NSTATIC + i, &n, &v), 0);
	assert_int_equal(n.len, strlen(name));
	assert_memory_equal(n.p, name, n.len);
	assert_int_equal(v.len, strlen(value));
	assert_memory_equal(v.p, value, v.len);
}

static uint32_t
entries(const struct sl_hpack_dec *d)
{
	return d->dyn != NULL ? d->dyn->n : 0;
}

/* ---- RFC 7541 appendix C -------------------------------------------------*/

static void
test_integers(void **state)
{
	const uint8_t *p;
	uint8_t buf[8];
	uint32_t v;

	(void)state;
	/* C.1.1: 10 with a 5-bit prefix */
	assert_int_equal(int_encode(buf, 8, 0, 5, 10), 1);
	assert_int_equal(buf[0], 0x0a);
	/* C.1.2: 1337 with a 5-bit prefix */
	assert_int_equal(int_encode(buf, 8, 0, 5, 1337), 3);
	assert_memory_equal(buf, "\x1f\x9a\x0a", 3);
	p = buf;
	assert_int_equal(int_decode(&p, buf + 3, 5, &v), 0);
	assert_int_equal(v, 1337);
	assert_ptr_equal(p, buf + 3);
	/* C.1.3: 42 at an octet boundary */
	assert_int_equal(int_encode(buf, 8, 0, 8, 42), 1);
	assert_int_equal(buf[0], 42);
	/* the largest that fits, and one past it */
	assert_int_equal(int_encode(buf, 8, 0, 5, UINT32_MAX), 6);
	p = buf;
	assert_int_equal(int_decode(&p, buf + 6, 5, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	memcpy(buf, "\x1f\xe1\xff\xff\xff\x0f", 6);
	p = buf;
	assert_int_equal(int_decode(&p, buf + 6, 5, &v), -1);
	/* continuation bytes that never end, and a block that does */
	memcpy(buf, "\x1f\x80\x80\x80\x80\x80\x80\x01", 8);
	p = buf;
	assert_int_equal(int_decode(&p, buf + 8, 5, &v), -1);
	p = buf;
	assert_int_equal(int_decode(&p, buf + 2, 5, &v), -1);
	/* no room */
	assert_int_equal(int_encode(buf, 2, 0, 5, 1337), 0);
}

static void
test_literals_c2(void **state)
{
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	/* C.2.1: with indexing */
	assert_int_equal(decode_hex(&d,
				    "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 "
				    "746f 6d2d 6865 6164 6572",
				    &g),
			 SL_HPACK_OK);
	assert_int_equal(g.n, 1);
	expect(&g, 0, "custom-key", "custom-header");
	assert_int_equal(d.size, 55);
	expect_entry(&d, 1, "custom-key", "custom-header");
	sl_hpack_dec_free(&d);

	/* C.2.2: without indexing */
	sl_hpack_dec_init(&d, 4096);
	assert_int_equal(
	    decode_hex(&d, "040c 2f73 616d 706c 652f 7061 7468", &g),
	    SL_HPACK_OK);
	expect(&g, 0, ":path", "/sample/path");
	assert_int_equal(g.flags[0], SL_HPACK_F_PSEUDO);
	assert_int_equal(d.size, 0);
	assert_null(d.dyn);

	/* C.2.3: never indexed, and the flag says so */
	assert_int_equal(
	    decode_hex(&d, "1008 7061 7373 776f 7264 0673 6563 7265 74", &g),
	    SL_HPACK_OK);
	expect(&g, 0, "password", "secret");
	assert_int_equal(g.flags[0], SL_HPACK_F_NEVER);
	assert_null(d.dyn);

	/* C.2.4: indexed */
	assert_int_equal(decode_hex(&d, "82", &g), SL_HPACK_OK);
	expect(&g, 0, ":method", "GET");
	sl_hpack_dec_free(&d);
}

/* C.3 and C.4: the same three requests, without and with Huffman */
static void
requests(const char *const hex[3])
{
	struct sl_hpack_dec d;
	struct got g;

	sl_hpack_dec_init(&d, 4096);
	assert_int_equal(decode_hex(&d, hex[0], &g), SL_HPACK_OK);
	assert_int_equal(g.n, 4);
	expect(&g, 0, ":method", "GET");
	expect(&g, 1, ":scheme", "http");
	expect(&g, 2, ":path", "/");
	expect(&g, 3, ":authority", "www.example.com");
	assert_int_equal(d.size, 57);

	assert_int_equal(decode_hex(&d, hex[1], &g), SL_HPACK_OK);
	assert_int_equal(g.n, 5);
	expect(&g, 3, ":authority", "www.example.com");
	expect(&g, 4, "cache-control", "no-cache");
	assert_int_equal(d.size, 110);
	expect_entry(&d, 1, "cache-control", "no-cache");
	expect_entry(&d, 2, ":authority", "www.example.com");

	assert_int_equal(decode_hex(&d, hex[2], &g), SL_HPACK_OK);
	assert_int_equal(g.n, 5);
	expect(&g, 1, ":scheme", "https");
	expect(&g, 2, ":path", "/index.html");
	expect(&g, 3, ":authority", "www.example.com");
	expect(&g, 4, "custom-key", "custom-value");
	assert_int_equal(d.size, 164);
	assert_int_equal(entries(&d), 3);
	expect_entry(&d, 1, "custom-key", "custom-value");
	expect_entry(&d, 3, ":authority", "www.example.com");
	sl_hpack_dec_free(&d);
}

static void
test_requests_c3(void **state)
{
	static const char *const hex[3] = {
	    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
	    "8286 84be 5808 6e6f 2d63 6163 6865",
	    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d "
	    "7661 6c75 65",
	};

	(void)state;
	requests(hex);
}

static void
test_requests_c4_huffman(void **state)
{
	static const char *const hex[3] = {
	    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
	    "8286 84be 5886 a8eb 1064 9cbf",
	    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
	};

	(void)state;
	requests(hex);
}

/* C.5 and C.6: three responses into a table of 256 bytes, which evicts */
static void
responses(const char *const hex[3])
{
	struct sl_hpack_dec d;
	struct got g;

	sl_hpack_dec_init(&d, 256);
	assert_int_equal(decode_hex(&d, hex[0], &g), SL_HPACK_OK);
	assert_int_equal(g.n, 4);
	expect(&g, 0, ":status", "302");
	expect(&g, 1, "cache-control", "private");
	expect(&g, 2, "date", "Mon, 21 Oct 2013 20:13:21 GMT");
	expect(&g, 3, "location", "https://www.example.com");
	assert_int_equal(d.size, 222);
	assert_int_equal(entries(&d), 4);

	assert_int_equal(decode_hex(&d, hex[1], &g), SL_HPACK_OK);
	expect(&g, 0, ":status", "307");
	expect(&g, 3, "location", "https://www.example.com");
	assert_int_equal(d.size, 222);
	assert_int_equal(entries(&d), 4);
	expect_entry(&d, 1, ":status", "307");
	expect_entry(&d, 4, "cache-control", "private");

	assert_int_equal(decode_hex(&d, hex[2], &g), SL_HPACK_OK);
	assert_int_equal(g.n, 6);
	expect(&g, 0, ":status", "200");
	expect(&g, 2, "date", "Mon, 21 Oct 2013 20:13:22 GMT");
	expect(&g, 4, "content-encoding", "gzip");
	expect(&g, 5, "set-cookie",
	       "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1");
	assert_int_equal(d.size, 215);
	assert_int_equal(entries(&d), 3);
	expect_entry(&d, 1, "set-cookie",
		     "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; "
		     "version=1");
	expect_entry(&d, 2, "content-encoding", "gzip");
	expect_entry(&d, 3, "date", "Mon, 21 Oct 2013 20:13:22 GMT");
	sl_hpack_dec_free(&d);
}

static void
test_responses_c5(void **state)
{
	static const char *const hex[3] = {
	    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 "
	    "4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 "
	    "7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
	    "4803 3330 37c1 c0bf",
	    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a "
	    "3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 "
	    "444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 "
	    "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e "
	    "3d31",
	};

	(void)state;
	responses(hex);
}

static void
test_responses_c6_huffman(void **state)
{
	static const char *const hex[3] = {
	    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 "
	    "9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 "
	    "e9ae 82ae 43d3",
	    "4883 640e ffc1 c0bf",
	    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d "
	    "1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b "
	    "3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed "
	    "4ee5 b106 3d50 07",
	};

	(void)state;
	responses(hex);
}

/* ---- Huffman -------------------------------------------------------------*/

static void
huff_is(const char *s, const char *hex)
{
	uint8_t want[64], got[64];
	char back[64];
	size_t n = unhex(hex, want);

	assert_int_equal(sl_hpack_huff_len(s, strlen(s)), n);
	sl_hpack_huff_encode(got, s, strlen(s));
	assert_memory_equal(got, want, n);
	assert_int_equal(sl_hpack_huff_decode(back, sizeof(back), got, n),
			 (long)strlen(s));
	assert_memory_equal(back, s, strlen(s));
}

static void
test_huffman(void **state)
{
	uint8_t in[8], all[1024];
	char out[512];
	char bytes[256];

	(void)state;
	huff_is("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff");
	huff_is("no-cache", "a8eb 1064 9cbf");
	huff_is("custom-key", "25a8 49e9 5ba9 7d7f");
	huff_is("custom-value", "25a8 49e9 5bb8 e8b4 bf");
	huff_is("302", "6402");
	huff_is("", "");
	/* every octet, in one string */
	for (int i = 0; i < 256; i++)
		bytes[i] = (char)i;
	assert_true(sl_hpack_huff_len(bytes, 256) <= sizeof(all));
	sl_hpack_huff_encode(all, bytes, 256);
	assert_int_equal(sl_hpack_huff_decode(out, sizeof(out), all,
					      sl_hpack_huff_len(bytes, 256)),
			 256);
	assert_memory_equal(out, bytes, 256);
	/* too long for the room */
	assert_int_equal(
	    sl_hpack_huff_decode(out, 255, all, sl_hpack_huff_len(bytes, 256)),
	    -1);
	/* EOS (30 one bits) in the string */
	memset(in, 0xff, 4);
	assert_int_equal(sl_hpack_huff_decode(out, 8, in, 4), -1);
	/* padding of 8 bits or more: "a" (00011) then 11 one bits */
	in[0] = 0x1f;
	in[1] = 0xff;
	assert_int_equal(sl_hpack_huff_decode(out, 8, in, 2), -1);
	assert_int_equal(sl_hpack_huff_decode(out, 8, in, 1), 1);
	assert_int_equal(out[0], 'a');
	/* padding that is not the start of EOS */
	in[0] = 0x18;
	assert_int_equal(sl_hpack_huff_decode(out, 8, in, 1), -1);
	/* the same errors when the room is tight (checked symbol by
	 * symbol): EOS in the first and in the second half of an octet */
	memset(in, 0xff, 4);
	assert_int_equal(sl_hpack_huff_decode(out, 1, in, 4), -1);
	in[3] = 0xfc; /* 30 one bits end in the second half */
	assert_int_equal(sl_hpack_huff_decode(out, 1, in, 4), -1);
	in[0] = 0x18;
	assert_int_equal(sl_hpack_huff_decode(out, 1, in, 1), -1);
	/* "aa": room for one */
	in[0] = 0x18;
	in[1] = 0xff;
	assert_int_equal(sl_hpack_huff_decode(out, 1, in, 2), -1);
}

/* ---- the decoder's errors and checks -------------------------------------*/

static void
test_compression_errors(void **state)
{
	static const char *const bad[] = {
	    "80",		   /* index 0 */
	    "be",		   /* past the static table, none dynamic */
	    "ff80 8080 8080 01",   /* an index that overflows */
	    "40",		   /* a literal with no name */
	    "400a 6375 73",	   /* a name past the block's end */
	    "0085 f1e3 c2e5",	   /* a Huffman value past the end */
	    "0001 6184 ffff ffff", /* a Huffman value with EOS */
	    "3fe2 1f",		   /* a size update over 4096 */
	    "82 3f e1 1f",	   /* a size update after a field */
	    "7e 0161",		   /* a literal naming entry 62, none */
	    "0f2f 0161",	   /* the same, without indexing */
	    "7f",		   /* an index cut short */
	};
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sl_hpack_dec_init(&d, 4096);
		if (decode_hex(&d, bad[i], &g) != SL_HPACK_COMPRESSION)
			fail_msg("block %zu (%s) was not refused", i, bad[i]);
		sl_hpack_dec_free(&d);
	}
	/* the caller's scratch must hold the largest entry */
	sl_hpack_dec_init(&d, 4096);
	memset(&g, 0, sizeof(g));
	assert_int_equal(sl_hpack_decode(&d, (const uint8_t *)"\x82", 1,
					 scratch, 100, collect, &g),
			 SL_HPACK_COMPRESSION);
}

static void
test_malformed_fields_keep_the_table(void **state)
{
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	/* an upper-case name, indexed; then a good field: refused as a
	 * whole, but both entries are in the table */
	assert_int_equal(decode_hex(&d,
				    "4003 466f 6f01 61 "
				    "4003 666f 6f01 62",
				    &g),
			 SL_HPACK_MALFORMED);
	assert_int_equal(g.n, 0);
	assert_int_equal(entries(&d), 2);
	expect_entry(&d, 1, "foo", "b");
	expect_entry(&d, 2, "Foo", "a");
	/* h2o's fault: a CR LF in a literal whose name is indexed */
	assert_int_equal(decode_hex(&d, "4f 0361 0d0a", &g),
			 SL_HPACK_MALFORMED);
	/* and the entry, indexed later, is refused again */
	assert_int_equal(decode_hex(&d, "be", &g), SL_HPACK_MALFORMED);
	/* a NUL, a control, white space at either end, an empty name, a
	 * lone colon, a space in a name */
	static const char *const bad[] = {
	    "0003 666f 6f01 00",   "0003 666f 6f01 7f", "0003 666f 6f02 2061",
	    "0003 666f 6f02 6109", "0000 0161",		"0001 3a01 61",
	    "0003 6620 6f01 61",   "0003 6f66 3a01 61",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (decode_hex(&d, bad[i], &g) != SL_HPACK_MALFORMED)
			fail_msg("field %zu (%s) was not refused", i, bad[i]);
	/* an empty name whose next byte is a colon (here the value's length,
	 * 58): the fuzzer found it taken for a pseudo-field's colon */
	{
		char hex[256] = "0000 3a";

		for (int i = 0; i < 58; i++)
			strcat(hex, "61");
		assert_int_equal(decode_hex(&d, hex, &g), SL_HPACK_MALFORMED);
		assert_int_equal(g.n, 0);
	}
	/* a value's inside white space and obs-text are fields */
	assert_int_equal(decode_hex(&d, "0003 666f 6f03 6109 ff", &g),
			 SL_HPACK_OK);
	/* a pseudo-field after a field */
	assert_int_equal(decode_hex(&d, "0003 666f 6f01 61 82", &g),
			 SL_HPACK_MALFORMED);
	assert_int_equal(g.n, 1);
	sl_hpack_dec_free(&d);
}

static void
test_refused_keeps_the_table(void **state)
{
	struct sl_hpack_dec d;
	uint8_t in[9000];
	struct got g;
	size_t n = 0;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	/* emit refuses the first field: nothing more is emitted, the second
	 * is indexed all the same */
	memset(&g, 0, sizeof(g));
	g.refuse_at = 1;
	n = unhex("82 4003 666f 6f01 61", in);
	assert_int_equal(
	    sl_hpack_decode(&d, in, n, scratch, sizeof(scratch), collect, &g),
	    SL_HPACK_REFUSED);
	assert_int_equal(g.n, 1);
	expect_entry(&d, 1, "foo", "a");
	/* a Huffman value longer than the scratch: refused, it empties the
	 * table (it is larger than it) */
	n = 0;
	in[n++] = 0x40; /* with indexing, a new name */
	in[n++] = 0x01;
	in[n++] = 'x';
	n += int_encode(in + n, 8, 0x80, 7, 2600); /* Huffman, 2600 bytes */
	{
		char as[4160]; /* "a" is 5 bits: 4160 of them in 2600 bytes */

		memset(as, 'a', sizeof(as));
		assert_int_equal(sl_hpack_huff_len(as, sizeof(as)), 2600);
		sl_hpack_huff_encode(in + n, as, sizeof(as));
	}
	n += 2600;
	memset(&g, 0, sizeof(g));
	assert_int_equal(sl_hpack_decode(&d, in, n, scratch, 4096, collect, &g),
			 SL_HPACK_REFUSED);
	assert_null(d.dyn);
	assert_int_equal(d.size, 0);
	sl_hpack_dec_free(&d);
}

/* ---- the table's life ----------------------------------------------------*/

static void
test_table_allocated_and_freed(void **state)
{
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	assert_int_equal(sl_hpack_dec_mem(&d), 0);
	assert_int_equal(decode_hex(&d, "4003 666f 6f01 61", &g), SL_HPACK_OK);
	assert_true(sl_hpack_dec_mem(&d) > 0);
	assert_true(sl_hpack_dec_mem(&d) < 512); /* sized to what is used */
	/* a size update to 0 empties and frees it, then back to 4096 */
	assert_int_equal(decode_hex(&d, "20 3fe1 1f 82", &g), SL_HPACK_OK);
	assert_int_equal(sl_hpack_dec_mem(&d), 0);
	assert_int_equal(d.limit, 4096);
	/* sluice lowers its setting: the next block must open with an
	 * update within it */
	sl_hpack_dec_set_max(&d, 100);
	assert_int_equal(decode_hex(&d, "82", &g), SL_HPACK_COMPRESSION);
	sl_hpack_dec_init(&d, 4096);
	sl_hpack_dec_set_max(&d, 100);
	assert_int_equal(decode_hex(&d, "", &g), SL_HPACK_COMPRESSION);
	sl_hpack_dec_init(&d, 4096);
	sl_hpack_dec_set_max(&d, 100);
	assert_int_equal(decode_hex(&d, "3f 45 82", &g), SL_HPACK_OK);
	assert_int_equal(d.limit, 100);
	assert_int_equal(decode_hex(&d, "3f 46", &g), SL_HPACK_COMPRESSION);
	sl_hpack_dec_free(&d);
}

/* RFC 7541 section 4.4: a new entry may name an entry its insertion
 * evicts. */
static void
test_name_of_an_evicted_entry(void **state)
{
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	/* a table of 70 bytes holds one entry of "abcdefghij: 0123" (46) */
	assert_int_equal(decode_hex(&d, "3f 27", &g), SL_HPACK_OK);
	assert_int_equal(
	    decode_hex(&d, "400a 6162 6364 6566 6768 696a 0430 3132 33", &g),
	    SL_HPACK_OK);
	/* its name, indexed (62), with a new value: the old entry goes */
	assert_int_equal(decode_hex(&d, "7e 0478 7978 7a", &g), SL_HPACK_OK);
	expect(&g, 0, "abcdefghij", "xyxz");
	assert_int_equal(entries(&d), 1);
	expect_entry(&d, 1, "abcdefghij", "xyxz");
	sl_hpack_dec_free(&d);
}

/* An entry of no bytes (an empty name and value: malformed, but indexed
 * all the same), then a field: the fuzzer found the second refused as a
 * compression error, the ring taking an empty table for a full one. */
static void
test_empty_entry_then_a_field(void **state)
{
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	assert_int_equal(decode_hex(&d, "4000 00", &g), SL_HPACK_MALFORMED);
	assert_int_equal(decode_hex(&d, "4003 666f 6f01 61", &g), SL_HPACK_OK);
	assert_int_equal(entries(&d), 2);
	expect_entry(&d, 1, "foo", "a");
	expect_entry(&d, 2, "", "");
	assert_int_equal(d.size, 32 + 32 + 4);
	sl_hpack_dec_free(&d);
}

/* The table against a plain model through many insertions, sizes and
 * evictions: the ring's wrap and growth never lose a byte. */
static void
test_table_against_a_model(void **state)
{
	struct model {
		char name[40], value[200];
	} m[200];
	int mn = 0;
	uint32_t msize = 0, limit = 4096;
	struct sl_hpack_dec d;
	unsigned seed = 12345;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	for (int round = 0; round < 20000; round++) {
		char name[40], value[200];
		size_t nl, vl;

		seed = seed * 1103515245 + 12345;
		if ((seed >> 16) % 97 == 0) {
			limit = (seed >> 8) % 4097;
			d.limit = limit;
			dyn_evict(&d, limit);
			while (msize > limit) {
				msize -= (uint32_t)(strlen(m[0].name) +
						    strlen(m[0].value) + 32);
				memmove(m, m + 1, sizeof(m[0]) * (size_t)--mn);
			}
			continue;
		}
		nl = (seed >> 16) % 31; /* empty ones too (the fuzzer's find) */
		vl = (seed >> 4) % ((seed & 0x100) ? 190 : 12);
		for (size_t i = 0; i < nl; i++)
			name[i] = (char)('a' + (round + i) % 26);
		name[nl] = '\0';
		for (size_t i = 0; i < vl; i++)
			value[i] = (char)('0' + (round * 7 + i) % 10);
		value[vl] = '\0';
		assert_int_equal(
		    dyn_insert(&d, name, (uint32_t)nl, value, (uint32_t)vl, 1),
		    0);
		/* the model */
		while (mn > 0 && msize + nl + vl + 32 > limit) {
			msize -= (uint32_t)(strlen(m[0].name) +
					    strlen(m[0].value) + 32);
			memmove(m, m + 1, sizeof(m[0]) * (size_t)--mn);
		}
		if (nl + vl + 32 <= limit) {
			assert_true(mn < 200);
			strcpy(m[mn].name, name);
			strcpy(m[mn].value, value);
			mn++;
			msize += (uint32_t)(nl + vl + 32);
		}
		assert_int_equal(d.size, msize);
		assert_int_equal(entries(&d), (uint32_t)mn);
		for (int i = 0; i < mn; i++)
			expect_entry(&d, (uint32_t)(mn - i), m[i].name,
				     m[i].value);
		if (d.dyn != NULL)
			assert_true(d.dyn->cap <= 2 * 4096 + 64);
	}
	sl_hpack_dec_free(&d);
}

/* ---- the encoder ---------------------------------------------------------*/

/*
 * The name memo writes what sl_hpack_enc_field writes for the name
 * lower-cased: every static name in three cases, with a value the table
 * holds, another one and an empty one, literal names, names that share a
 * slot and evict each other, with and without Huffman coding and never
 * indexed; and the same again once the memo is warm.
 */
static char longv[201]; /* past a 7-bit length */

static void
test_encoder_memo(void **state)
{
	static const char *const extra[] = {
	    "X-Request-Id",
	    "x-request-id",
	    "Grpc-Status",
	    "grpc-message",
	    "A",
	    "Content-Type-X",
	    "abcdefghijklmnopqrstuvwx",
	};
	static const char *const values[] = {
	    "GET",
	    "200",
	    "gzip, deflate",
	    "text/plain",
	    "",
	    "x",
	    "0123456789abcdef",			 /* the longest short value */
	    "0123456789abcdef0123456789abcdef",	 /* the longest memoised */
	    "0123456789abcdef0123456789abcdef0", /* one past it */
	    longv};
	static const unsigned flagsets[] = {0, SL_HPACK_F_RAW, SL_HPACK_F_NEVER,
					    SL_HPACK_F_NEVER | SL_HPACK_F_RAW};
	struct sl_hpack_memo *m = calloc(1, sizeof(*m));
	uint8_t a[512], b[512];
	char name[32], lower[32];

	(void)state;
	assert_non_null(m);
	memset(longv, 'v', sizeof(longv) - 1);
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < SL_HPACK_NSTATIC + 1 + 7 * 3; k++) {
			const char *base =
			    k < SL_HPACK_NSTATIC ? sl_hpack_static[k + 1].name
			    : k == SL_HPACK_NSTATIC
				? "aaaaaaaaaaaaaaaaaaaaaaaaa" /* too long */
				: extra[(k - SL_HPACK_NSTATIC - 1) % 7];
			size_t nl = strlen(base);

			for (size_t i = 0; i < nl; i++) {
				/* three cases: as it is, upper, alternate */
				int c = (int)(k % 3);
				char ch = base[i];
				name[i] =
				    c == 1 && ch >= 'a' && ch <= 'z' ? ch - 32
				    : c == 2 && i % 2 && ch >= 'a' && ch <= 'z'
					? ch - 32
					: ch;
				lower[i] =
				    ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
			}
			for (size_t v = 0;
			     v < sizeof(values) / sizeof(values[0]); v++)
				for (size_t f = 0; f < 4; f++) {
					size_t vl = strlen(values[v]);
					size_t na = sl_hpack_enc_field_memo(
					    m, a, sizeof(a), name, nl,
					    values[v], vl, flagsets[f]);
					size_t nb = sl_hpack_enc_field(
					    b, sizeof(b), lower, nl, values[v],
					    vl, flagsets[f]);

					if (nl > SL_HPACK_MEMO_NAME) {
						assert_int_equal(na, 0);
						continue;
					}
					assert_int_equal(na, nb);
					assert_memory_equal(a, b, na);
					/* again: the value from the memo */
					memset(a, 0, sizeof(a));
					assert_int_equal(
					    sl_hpack_enc_field_memo(
						m, a, sizeof(a), name, nl,
						values[v], vl, flagsets[f]),
					    nb);
					assert_memory_equal(a, b, nb);
					/* room one byte short: 0, as the
					 * encoder says */
					assert_int_equal(
					    sl_hpack_enc_field_memo(
						m, a, nb - 1, name, nl,
						values[v], vl, flagsets[f]),
					    0);
					/* room of about the field's bytes
					 * (under SL_HPACK_MEMO_ROOM: kept
					 * bytes copied exactly; a byte more,
					 * as str_encode wants a Huffman string
					 * shorter than its room), and of
					 * SL_HPACK_MEMO_ROOM and more (copied
					 * whole): the same bytes, nothing
					 * written past room */
					for (size_t r = 0; r < 2; r++) {
						size_t room =
						    r == 0
							? nb + 1
							: nb +
							      SL_HPACK_MEMO_ROOM;
						memset(a, 0xaa, sizeof(a));
						assert_int_equal(
						    sl_hpack_enc_field_memo(
							m, a, room, name, nl,
							values[v], vl,
							flagsets[f]),
						    nb);
						assert_memory_equal(a, b, nb);
						for (size_t i = room;
						     i < sizeof(a); i++)
							assert_int_equal(a[i],
									 0xaa);
					}
				}
		}
	free(m);
}

/* The entry of m for name (as written), or NULL. */
static const struct sl_hpack_memo_ent *
memo_ent(const struct sl_hpack_memo *m, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < sizeof(m->e) / sizeof(m->e[0]); i++)
		if (m->e[i].nlen == nl && memcmp(m->e[i].name, name, nl) == 0)
			return &m->e[i];
	return NULL;
}

/*
 * Long values (17 to 32 bytes): a Date's is kept and written from the
 * memo while it repeats, and a new second's replaces it; a request id,
 * new every time, is written right every time but replaces the kept one
 * only now and then (1 in 16), so a name whose values never repeat does
 * not copy each into the memo. The bytes are always sl_hpack_enc_field's.
 */
static void
test_encoder_memo_long_values(void **state)
{
	static const char *const dates[] = {"Fri, 27 Nov 2026 07:56:47 GMT",
					    "Fri, 27 Nov 2026 07:56:48 GMT"};
	struct sl_hpack_memo *m = calloc(1, sizeof(*m));
	const struct sl_hpack_memo_ent *e;
	uint8_t a[96], b[96];
	char id[33];
	size_t n;
	int kept = 0;

	(void)state;
	assert_non_null(m);
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < 3; i++) {
			n = sl_hpack_enc_field_memo(m, a, sizeof(a), "Date", 4,
						    dates[d], 29, 0);
			assert_int_equal(
			    n, sl_hpack_enc_field(b, sizeof(b), "date", 4,
						  dates[d], 29, 0));
			assert_memory_equal(a, b, n);
			e = memo_ent(m, "Date");
			assert_non_null(e);
			assert_int_equal(e->vlen, 29);
			assert_memory_equal(e->value, dates[d], 29);
		}
	for (int i = 0; i < 64; i++) {
		snprintf(id, sizeof(id), "%08x%08x%08x%08x", i * 7919u,
			 i * 104729u, i * 31u, i + 1u);
		n = sl_hpack_enc_field_memo(m, a, sizeof(a), "x-request-id", 12,
					    id, 32, 0);
		assert_int_equal(n, sl_hpack_enc_field(b, sizeof(b),
						       "x-request-id", 12, id,
						       32, 0));
		assert_memory_equal(a, b, n);
		e = memo_ent(m, "x-request-id");
		assert_non_null(e);
		kept += e->vlen == 32 && memcmp(e->value, id, 32) == 0;
	}
	/* the first, then one in 16 */
	assert_true(kept >= 2 && kept <= 6);
	free(m);
}

/* Whether m holds name (as written). */
static int
memo_holds(const struct sl_hpack_memo *m, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < sizeof(m->e) / sizeof(m->e[0]); i++)
		if (m->e[i].nlen == nl && memcmp(m->e[i].name, name, nl) == 0)
			return 1;
	return 0;
}

/* Two names of one head whose hash is the same (content-type and te,
 * x-forwarded-for and x-request-id) both stay: a direct-mapped memo
 * refilled one of them at every head (session 30). A third name of the
 * set takes the place of the one used less recently. */
static void
test_encoder_memo_two_ways(void **state)
{
	struct sl_hpack_memo *m = calloc(1, sizeof(*m));
	uint8_t a[64], b[64];
	size_t n;

	(void)state;
	assert_non_null(m);
	for (int round = 0; round < 3; round++) {
		n = sl_hpack_enc_field_memo(m, a, sizeof(a), "Content-Type", 12,
					    "application/grpc", 16, 0);
		assert_int_equal(
		    n, sl_hpack_enc_field(b, sizeof(b), "content-type", 12,
					  "application/grpc", 16, 0));
		assert_memory_equal(a, b, n);
		n = sl_hpack_enc_field_memo(m, a, sizeof(a), "te", 2,
					    "trailers", 8, 0);
		assert_int_equal(n, sl_hpack_enc_field(b, sizeof(b), "te", 2,
						       "trailers", 8, 0));
		assert_memory_equal(a, b, n);
		assert_true(memo_holds(m, "Content-Type"));
		assert_true(memo_holds(m, "te"));
	}
	for (int round = 0; round < 3; round++) {
		(void)sl_hpack_enc_field_memo(
		    m, a, sizeof(a), "x-forwarded-for", 15, "1.2.3.4", 7, 0);
		(void)sl_hpack_enc_field_memo(m, a, sizeof(a), "x-request-id",
					      12, "abc", 3, 0);
		assert_true(memo_holds(m, "x-forwarded-for"));
		assert_true(memo_holds(m, "x-request-id"));
	}
	/* the set's ways hold te (used last) and Content-Type: a third name
	 * that hashes alike takes Content-Type's place, te stays */
	{
		static const char *const cands[] = {
		    "a",  "b",	"c",  "d",  "e",  "f",	"g",  "h",  "i",  "j",
		    "k",  "l",	"m",  "n",  "o",  "p",	"q",  "r",  "s",  "t",
		    "u",  "v",	"w",  "x",  "y",  "z",	"aa", "ab", "ac", "ad",
		    "ae", "af", "ag", "ah", "ai", "aj", "ak", "al", "am", "an",
		    "ao", "ap", "aq", "ar", "as", "at", "au", "av", "aw", "ax",
		    "ay", "az", "ba", "bb", "bc", "bd"};
		unsigned set = memo_slot("te", 2);
		const char *third = NULL;

		for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
			if (memo_slot(cands[i], strlen(cands[i])) == set) {
				third = cands[i];
				break;
			}
		assert_non_null(third);
		(void)sl_hpack_enc_field_memo(m, a, sizeof(a), "Content-Type",
					      12, "x", 1, 0);
		(void)sl_hpack_enc_field_memo(m, a, sizeof(a), "te", 2,
					      "trailers", 8, 0);
		(void)sl_hpack_enc_field_memo(m, a, sizeof(a), third,
					      strlen(third), "v", 1, 0);
		assert_true(memo_holds(m, third));
		assert_true(memo_holds(m, "te"));
		assert_false(memo_holds(m, "Content-Type"));
	}
	free(m);
}

/*
 * A request's pseudo-fields by their names' static indexes: what
 * sl_hpack_enc_field writes for the name, every value the static table
 * holds with it and values near them (case, a byte more or less, empty,
 * past a 7-bit length), with every flag; a byte short of room writes
 * nothing; the decoder reads the field back.
 */
static void
test_encoder_pseudo(void **state)
{
	static const struct {
		enum sl_hpack_pseudo idx;
		const char *name;
	} names[] = {{SL_HPACK_AUTHORITY, ":authority"},
		     {SL_HPACK_METHOD, ":method"},
		     {SL_HPACK_PATH, ":path"},
		     {SL_HPACK_SCHEME, ":scheme"}};
	static const char *values[] = {"",
				       "GET",
				       "POST",
				       "get",
				       "Post",
				       "GETS",
				       "GE",
				       "PUT",
				       "/",
				       "//",
				       "/index.html",
				       "/index.htm",
				       "/Index.html",
				       "http",
				       "https",
				       "HTTP",
				       "httpx",
				       "a.test:8080",
				       longv};
	static const unsigned flagsets[] = {0, SL_HPACK_F_RAW, SL_HPACK_F_NEVER,
					    SL_HPACK_F_NEVER | SL_HPACK_F_RAW};
	uint8_t a[256], b[256];
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	memset(longv, 'v', sizeof(longv) - 1);
	sl_hpack_dec_init(&d, 4096);
	for (size_t i = 0; i < 4; i++)
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
			for (size_t f = 0; f < 4; f++) {
				size_t vl = strlen(values[v]);
				size_t na = sl_hpack_enc_pseudo(
				    a, sizeof(a), names[i].idx, values[v], vl,
				    flagsets[f]);
				size_t nb = sl_hpack_enc_field(
				    b, sizeof(b), names[i].name,
				    strlen(names[i].name), values[v], vl,
				    flagsets[f]);

				assert_true(nb > 0);
				assert_int_equal(na, nb);
				assert_memory_equal(a, b, nb);
				assert_true(na <= SL_HPACK_ENC_MAX(0, vl));
				assert_int_equal(
				    sl_hpack_enc_pseudo(a, na - 1, names[i].idx,
							values[v], vl,
							flagsets[f]),
				    0);
				if (vl >= 128)
					continue; /* past what collect holds */
				memset(&g, 0, sizeof(g));
				assert_int_equal(
				    sl_hpack_decode(&d, b, nb, scratch,
						    sizeof(scratch), collect,
						    &g),
				    SL_HPACK_OK);
				expect(&g, 0, names[i].name, values[v]);
			}
	/* the one-byte fields */
	assert_int_equal(
	    sl_hpack_enc_pseudo(a, 1, SL_HPACK_METHOD, "POST", 4, 0), 1);
	assert_int_equal(a[0], 0x83);
	assert_int_equal(
	    sl_hpack_enc_pseudo(a, 1, SL_HPACK_SCHEME, "http", 4, 0), 1);
	assert_int_equal(a[0], 0x86);
	/* no other index is a pseudo-field's */
	assert_int_equal(sl_hpack_enc_pseudo(
			     a, sizeof(a), (enum sl_hpack_pseudo)3, "x", 1, 0),
			 0);
	assert_null(d.dyn);
}

static void
test_encoder(void **state)
{
	static const struct {
		const char *name, *value;
		unsigned flags;
		const char
		    *hex; /* what it writes, or NULL: only read it back */
	} f[] = {
	    {":status", "200", 0, "88"},
	    {":method", "GET", 0, "82"},
	    {"content-type", "application/grpc", 0, NULL},
	    {"te", "trailers", 0, NULL},
	    {"grpc-status", "0", 0, NULL},
	    {"authorization", "Bearer abc", SL_HPACK_F_NEVER, NULL},
	    {":method", "GET", SL_HPACK_F_NEVER, NULL},
	    {"x-empty", "", 0, NULL},
	    {"custom-key", "custom-value", 0,
	     "0088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"},
	    {":path", "/sample/path", 0, NULL},
	};
	uint8_t out[256], want[64];
	struct sl_hpack_dec d;
	struct got g;

	(void)state;
	sl_hpack_dec_init(&d, 4096);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		size_t n = sl_hpack_enc_field(out, sizeof(out), f[i].name,
					      strlen(f[i].name), f[i].value,
					      strlen(f[i].value), f[i].flags);

		assert_true(n > 0);
		assert_true(n <= SL_HPACK_ENC_MAX(strlen(f[i].name),
						  strlen(f[i].value)));
		if (f[i].hex != NULL) {
			assert_int_equal(n, unhex(f[i].hex, want));
			assert_memory_equal(out, want, n);
		}
		memset(&g, 0, sizeof(g));
		assert_int_equal(sl_hpack_decode(&d, out, n, scratch,
						 sizeof(scratch), collect, &g),
				 SL_HPACK_OK);
		expect(&g, 0, f[i].name, f[i].value);
		assert_int_equal(g.flags[0] & SL_HPACK_F_NEVER,
				 f[i].flags & SL_HPACK_F_NEVER);
		/* a byte short of room writes nothing */
		assert_int_equal(
		    sl_hpack_enc_field(out, n - 1, f[i].name, strlen(f[i].name),
				       f[i].value, strlen(f[i].value),
				       f[i].flags),
		    0);
	}
	assert_null(d.dyn); /* nothing the encoder writes is indexed */
	/* the pre-encoded fields are what the encoder writes */
	assert_int_equal(sl_hpack_enc_field(out, sizeof(out), "content-type",
					    12, "application/grpc", 16, 0),
			 sizeof(sl_hpack_pre_grpc_ct));
	assert_memory_equal(out, sl_hpack_pre_grpc_ct,
			    sizeof(sl_hpack_pre_grpc_ct));
	assert_int_equal(
	    sl_hpack_enc_field(out, sizeof(out), "te", 2, "trailers", 8, 0),
	    sizeof(sl_hpack_pre_te_trailers));
	assert_memory_equal(out, sl_hpack_pre_te_trailers,
			    sizeof(sl_hpack_pre_te_trailers));
	assert_int_equal(
	    sl_hpack_enc_field(out, sizeof(out), "grpc-status", 11, "0", 1, 0),
	    sizeof(sl_hpack_pre_grpc_status0));
	assert_memory_equal(out, sl_hpack_pre_grpc_status0,
			    sizeof(sl_hpack_pre_grpc_status0));
	/* statuses */
	assert_int_equal(sl_hpack_enc_status(out, 200), 1);
	assert_int_equal(out[0], 0x88);
	assert_int_equal(sl_hpack_enc_status(out, 404), 1);
	assert_int_equal(out[0], 0x8d);
	for (int s = 100; s <= 999; s++) {
		size_t n = sl_hpack_enc_status(out, s);
		char digits[4];

		assert_true(n > 0 && n <= 5);
		memset(&g, 0, sizeof(g));
		assert_int_equal(sl_hpack_decode(&d, out, n, scratch,
						 sizeof(scratch), collect, &g),
				 SL_HPACK_OK);
		snprintf(digits, sizeof(digits), "%d", s);
		expect(&g, 0, ":status", digits);
	}
	/* a value of 150 octets Huffman-coded in 94: the length's prefix
	 * shrinks from 2 bytes to 1 */
	{
		char as[150];
		size_t n;

		memset(as, 'a', sizeof(as));
		n = sl_hpack_enc_field(out, sizeof(out), "x", 1, as, sizeof(as),
				       0);
		assert_int_equal(n, 1 + 2 + 1 + 94);
		assert_int_equal(out[3], 0x80 | 94);
		/* room for the prefix but not the text, either way */
		assert_int_equal(
		    sl_hpack_enc_field(out, 10, "x", 1, as, sizeof(as), 0), 0);
		assert_int_equal(
		    sl_hpack_enc_field(out, 4, "x", 1, "\x01\x02", 2, 0), 0);
	}
	/* SL_HPACK_F_RAW (to upstreams): 120 octets as they are, the name
	 * too, and the field decodes the same */
	{
		char as[120];
		size_t n;

		memset(as, 'a', sizeof(as));
		n = sl_hpack_enc_field(out, sizeof(out), "x-raw", 5, as,
				       sizeof(as), SL_HPACK_F_RAW);
		assert_int_equal(n, 1 + 1 + 5 + 1 + 120);
		assert_int_equal(out[1], 5); /* no Huffman bit */
		assert_memory_equal(out + 2, "x-raw", 5);
		assert_int_equal(out[7], 120);
		memset(&g, 0, sizeof(g));
		assert_int_equal(sl_hpack_decode(&d, out, n, scratch,
						 sizeof(scratch), collect, &g),
				 SL_HPACK_OK);
		assert_int_equal(g.n, 1);
		assert_string_equal(g.name[0], "x-raw");
		assert_int_equal(g.value[0][0], 'a');
		/* a static name stays indexed */
		n = sl_hpack_enc_field(out, sizeof(out), "content-type", 12,
				       "application/grpc", 16, SL_HPACK_F_RAW);
		assert_int_equal(n, 1 + 1 + 1 + 16);
		assert_int_equal(out[0], 0x0f); /* literal, name index 31 */
		assert_int_equal(out[1], 16);
		assert_int_equal(out[2], 16);
		assert_memory_equal(out + 3, "application/grpc", 16);
	}
	/* a size update of 0, as sluice sends upstreams */
	assert_int_equal(sl_hpack_enc_size_update(out, 0), 1);
	assert_int_equal(out[0], 0x20);
	assert_int_equal(sl_hpack_enc_size_update(out, 4096), 3);
	assert_memory_equal(out, "\x3f\xe1\x1f", 3);
	sl_hpack_dec_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_literals_c2),
	    cmocka_unit_test(test_requests_c3),
	    cmocka_unit_test(test_requests_c4_huffman),
	    cmocka_unit_test(test_responses_c5),
	    cmocka_unit_test(test_responses_c6_huffman),
	    cmocka_unit_test(test_huffman),
	    cmocka_unit_test(test_compression_errors),
	    cmocka_unit_test(test_malformed_fields_keep_the_table),
	    cmocka_unit_test(test_refused_keeps_the_table),
	    cmocka_unit_test(test_table_allocated_and_freed),
	    cmocka_unit_test(test_name_of_an_evicted_entry),
	    cmocka_unit_test(test_empty_entry_then_a_field),
	    cmocka_unit_test(test_table_against_a_model),
	    cmocka_unit_test(test_encoder_pseudo),
	    cmocka_unit_test(test_encoder),
	    cmocka_unit_test(test_encoder_memo),
	    cmocka_unit_test(test_encoder_memo_two_ways),
	    cmocka_unit_test(test_encoder_memo_long_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
