/* SPDX-License-Identifier: MIT */
/* Unit tests for proxyproto.c: telling, parsing and writing PROXY protocol
 * headers, versions 1 and 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxyproto.h"

#define BOTH (SL_PP_V1 | SL_PP_V2)

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static char *
ipstr(const struct sl_ip *ip)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) % 4;
	return (char *)sl_ip_str(ip, buf[i], sizeof(buf[i]));
}

/* Parses s whole, and checks that every shorter prefix asks for more
 * (or, for an error, gives the same error as soon as it is known). */
static long
parse(const void *p, size_t n, unsigned versions, struct sl_pp_hdr *h,
      enum sl_pp_error *why)
{
	long r = sl_pp_parse(p, n, versions, h, why);

	for (size_t k = 0; k < n; k++) {
		struct sl_pp_hdr h2;
		enum sl_pp_error w2 = SL_PP_NERRORS;
		long r2 = sl_pp_parse(p, k, versions, &h2, &w2);
		if (r > 0)
			assert_int_equal(r2, (long)k < r ? 0 : r);
		else if (r2 != 0) {
			assert_int_equal(r2, -1);
			assert_int_equal(w2, *why);
		}
	}
	return r;
}

static long
v1(const char *s, struct sl_pp_hdr *h, enum sl_pp_error *why)
{
	return parse(s, strlen(s), BOTH, h, why);
}

static enum sl_pp_error
v1_bad(const char *s)
{
	struct sl_pp_hdr h;
	enum sl_pp_error why = SL_PP_NERRORS;

	assert_int_equal(v1(s, &h, &why), -1);
	return why;
}

/* A version 2 header: command, family byte, the block after the fixed
 * part (len bytes); returns its length. */
static size_t
v2(unsigned char *out, int cmd, unsigned fam, const void *block, size_t len)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)(0x20 | cmd);
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	memcpy(out + 16, block, len);
	return 16 + len;
}

static const unsigned char ipv4_block[12] = {192, 0, 2,	   7,	 10,   0,
					     0,	  5, 0x12, 0x67, 0x01, 0xbb};

static void
test_detect(void **state)
{
	(void)state;
	assert_int_equal(sl_pp_detect("", 0), SL_PP_AGAIN);
	assert_int_equal(sl_pp_detect("P", 1), SL_PP_AGAIN);
	assert_int_equal(sl_pp_detect("PROXY", 5), SL_PP_AGAIN);
	assert_int_equal(sl_pp_detect("PROXY ", 6), SL_PP_KIND_V1);
	assert_int_equal(sl_pp_detect("PROXY TCP4", 10), SL_PP_KIND_V1);
	assert_int_equal(sl_pp_detect("PROXZ", 5), SL_PP_NONE);
	assert_int_equal(sl_pp_detect("POST / HTTP/1.1", 15), SL_PP_NONE);
	assert_int_equal(sl_pp_detect("GET /", 5), SL_PP_NONE);
	assert_int_equal(sl_pp_detect("\x16\x03\x01", 3), SL_PP_NONE);
	assert_int_equal(sl_pp_detect(sig, 1), SL_PP_AGAIN);
	assert_int_equal(sl_pp_detect(sig, 11), SL_PP_AGAIN);
	assert_int_equal(sl_pp_detect(sig, 12), SL_PP_KIND_V2);
	/* empty lines before a request: not the signature */
	assert_int_equal(sl_pp_detect("\r\n\r\nGET", 7), SL_PP_NONE);
	assert_int_equal(sl_pp_detect("\r\n\r\n", 4), SL_PP_AGAIN);
}

static void
test_v1(void **state)
{
	struct sl_pp_hdr h;
	enum sl_pp_error why;
	const char *s;

	(void)state;
	s = "PROXY TCP4 192.0.2.7 10.0.0.5 4711 443\r\nGET / HTTP/1.1\r\n";
	assert_int_equal(v1(s, &h, &why), 40);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.local, 0);
	assert_string_equal(ipstr(&h.src), "192.0.2.7");
	assert_string_equal(ipstr(&h.dst), "10.0.0.5");
	assert_int_equal(h.sport, 4711);
	assert_int_equal(h.dport, 443);
	assert_null(h.authority);

	s = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
	assert_int_equal(v1(s, &h, &why), (long)strlen(s));
	assert_string_equal(ipstr(&h.src), "2001:db8::1");
	assert_int_equal(h.src.len, 16);
	assert_int_equal(h.sport, 65535);
	assert_int_equal(h.dport, 0);
	/* a mapped IPv4 address is the IPv4 address */
	s = "PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n";
	assert_int_equal(v1(s, &h, &why), (long)strlen(s));
	assert_int_equal(h.src.len, 4);
	assert_string_equal(ipstr(&h.src), "192.0.2.9");

	/* UNKNOWN: the rest of the line is ignored, the peer stands */
	assert_int_equal(v1("PROXY UNKNOWN\r\n", &h, &why), 15);
	assert_int_equal(h.local, 1);
	s = "PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n";
	assert_int_equal(v1(s, &h, &why), (long)strlen(s));
	assert_int_equal(h.local, 1);
	assert_int_equal(v1_bad("PROXY UNKNOWNX\r\n"), SL_PP_E_MALFORMED);

	/* the longest line the spec allows: 107 bytes with its CRLF */
	{
		char line[200];
		memcpy(line, "PROXY UNKNOWN ", 14);
		memset(line + 14, 'x', 91);
		memcpy(line + 105, "\r\n", 3);
		assert_int_equal(v1(line, &h, &why), 107);
		memset(line + 14, 'x', 92);
		memcpy(line + 106, "\r\n", 3);
		assert_int_equal(v1_bad(line), SL_PP_E_TOO_LARGE);
		memset(line + 14, 'x', 150);
		line[164] = '\0';
		assert_int_equal(v1_bad(line), SL_PP_E_TOO_LARGE);
	}
}

static void
test_v1_refused(void **state)
{
	(void)state;
	/* heading zeros (octal?), wrong families, bad ports */
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.07 10.0.0.5 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 01 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 65536 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 -1 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 2001:db8::1 ::1 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP6 192.0.2.7 10.0.0.5 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP5 192.0.2.7 10.0.0.5 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY UDP4 192.0.2.7 10.0.0.5 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	/* spaces: exactly one between fields, none at the end */
	assert_int_equal(v1_bad("PROXY TCP4  192.0.2.7 10.0.0.5 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 1 2 \r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 1\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 1 2 3\r\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY \r\n"), SL_PP_E_MALFORMED);
	/* the line ends with CRLF, nothing else */
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 1 2\n"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7 10.0.0.5 1 2\rX"),
			 SL_PP_E_MALFORMED);
	assert_int_equal(v1_bad("PROXY TCP4 192.0.2.7\t10.0.0.5 1 2\r\n"),
			 SL_PP_E_MALFORMED);
	/* not a header at all, or one of a version not accepted */
	assert_int_equal(v1_bad("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"),
			 SL_PP_E_MISSING);
	assert_int_equal(v1_bad("GET / HTTP/1.1\r\n"), SL_PP_E_MISSING);
	{
		struct sl_pp_hdr h;
		enum sl_pp_error why;
		const char *s = "PROXY TCP4 192.0.2.7 10.0.0.5 1 2\r\n";
		assert_int_equal(sl_pp_parse(s, strlen(s), SL_PP_V2, &h, &why),
				 -1);
		assert_int_equal(why, SL_PP_E_VERSION);
		/* as soon as "PROXY " says which */
		assert_int_equal(sl_pp_parse(s, 5, SL_PP_V2, &h, &why), 0);
		assert_int_equal(sl_pp_parse(s, 6, SL_PP_V2, &h, &why), -1);
	}
}

static void
test_v2(void **state)
{
	unsigned char b[600], blk[300];
	struct sl_pp_hdr h;
	enum sl_pp_error why;
	size_t n;

	(void)state;
	/* TCP over IPv4, a request after it */
	n = v2(b, 1, 0x11, ipv4_block, 12);
	memcpy(b + n, "GET /", 5);
	assert_int_equal(parse(b, n + 5, BOTH, &h, &why), 28);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 0);
	assert_string_equal(ipstr(&h.src), "192.0.2.7");
	assert_string_equal(ipstr(&h.dst), "10.0.0.5");
	assert_int_equal(h.sport, 0x1267);
	assert_int_equal(h.dport, 443);

	/* TCP over IPv6; a mapped address is IPv4 */
	memset(blk, 0, 36);
	blk[0] = 0x20;
	blk[1] = 0x01;
	blk[2] = 0x0d;
	blk[3] = 0xb8;
	blk[15] = 1;
	blk[26] = blk[27] = 0xff;
	blk[28] = 10;
	blk[31] = 9;
	blk[32] = 0;
	blk[33] = 80;
	n = v2(b, 1, 0x21, blk, 36);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 52);
	assert_string_equal(ipstr(&h.src), "2001:db8::1");
	assert_string_equal(ipstr(&h.dst), "10.0.0.9");
	assert_int_equal(h.sport, 80);

	/* LOCAL: whatever the block holds, the peer stands */
	n = v2(b, 0, 0x11, ipv4_block, 12);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 28);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.cmd_local, 1);
	assert_int_equal(h.src.len, 0);
	n = v2(b, 0, 0x00, "", 0);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 16);
	assert_int_equal(h.cmd_local, 1);
	/* LOCAL skips its block without reading it, whatever its family */
	n = v2(b, 0, 0x31, "xyz", 3);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 19);

	/* PROXY with UNSPEC, UNIX or UDP: the spec's fallback, the peer */
	n = v2(b, 1, 0x00, "", 0);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 16);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.cmd_local, 0);
	memset(blk, 'u', 216);
	n = v2(b, 1, 0x31, blk, 216);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 232);
	assert_int_equal(h.local, 1);
	n = v2(b, 1, 0x12, ipv4_block, 12);
	assert_int_equal(parse(b, n, BOTH, &h, &why), 28);
	assert_int_equal(h.local, 1);
}

static long
v2_bad(const unsigned char *b, size_t n)
{
	struct sl_pp_hdr h;
	enum sl_pp_error why = SL_PP_NERRORS;

	assert_int_equal(parse(b, n, BOTH, &h, &why), -1);
	return why;
}

static void
test_v2_refused(void **state)
{
	unsigned char b[SL_PP_MAX + 64], blk[SL_PP_V2_MAX_LEN + 8];
	struct sl_pp_hdr h;
	enum sl_pp_error why;
	size_t n;

	(void)state;
	n = v2(b, 1, 0x11, ipv4_block, 12);
	b[12] = 0x11; /* version 1 in a version 2 header */
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	b[12] = 0x22; /* command 2 */
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	b[12] = 0x21;
	b[13] = 0x41; /* family 4 */
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	b[13] = 0x13; /* transport 3 */
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	/* an address block shorter than its family's */
	n = v2(b, 1, 0x11, ipv4_block, 11);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	n = v2(b, 1, 0x21, ipv4_block, 12);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	/* a length past the bound is refused from the fixed part on */
	memset(blk, 0, sizeof(blk));
	memcpy(blk, ipv4_block, 12);
	n = v2(b, 1, 0x11, blk, SL_PP_V2_MAX_LEN + 1);
	assert_int_equal(v2_bad(b, n), SL_PP_E_TOO_LARGE);
	assert_int_equal(sl_pp_parse(b, 16, BOTH, &h, &why), -1);
	assert_int_equal(why, SL_PP_E_TOO_LARGE);
	/* the bound itself: NOOP TLVs fill it */
	blk[12] = 0x04;
	blk[13] = (unsigned char)((SL_PP_V2_MAX_LEN - 15) >> 8);
	blk[14] = (unsigned char)(SL_PP_V2_MAX_LEN - 15);
	n = v2(b, 1, 0x11, blk, SL_PP_V2_MAX_LEN);
	assert_int_equal(sl_pp_parse(b, n, BOTH, &h, &why), SL_PP_MAX);
	/* version 2 not accepted: known from the signature on */
	n = v2(b, 1, 0x11, ipv4_block, 12);
	assert_int_equal(sl_pp_parse(b, 12, SL_PP_V1, &h, &why), -1);
	assert_int_equal(why, SL_PP_E_VERSION);
	assert_int_equal(sl_pp_parse(b, 11, SL_PP_V1, &h, &why), 0);
}

/* A PROXY header over IPv4 with the TLVs tlv[0..tlen). */
static size_t
with_tlvs(unsigned char *b, const void *tlv, size_t tlen)
{
	unsigned char blk[1024];

	memcpy(blk, ipv4_block, 12);
	memcpy(blk + 12, tlv, tlen);
	return v2(b, 1, 0x11, blk, 12 + tlen);
}

static void
test_v2_tlvs(void **state)
{
	unsigned char b[2048], t[600];
	struct sl_pp_hdr h;
	enum sl_pp_error why;
	size_t n;

	(void)state;
	/* ALPN, AUTHORITY, a vendor's, a second AUTHORITY (ignored) */
	memcpy(t,
	       "\x01\x00\x02h2"
	       "\x02\x00\x0fpay.example.com"
	       "\xea\x00\x03"
	       "abc"
	       "\x02\x00\x05other",
	       5 + 18 + 6 + 8);
	n = with_tlvs(b, t, 37);
	assert_int_equal(parse(b, n, BOTH, &h, &why), (long)n);
	assert_int_equal(h.authority_len, 15);
	assert_memory_equal(h.authority, "pay.example.com", 15);
	assert_int_equal(h.crc_checked, 0);
	/* a TLV that runs past the header; a stray byte or two */
	n = with_tlvs(b, "\x02\x00\x10pay.example.com", 18);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	n = with_tlvs(b, "\x04\x00", 2);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	n = with_tlvs(b, "\x04", 1);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	/* an empty NOOP is fine */
	n = with_tlvs(b, "\x04\x00\x00", 3);
	assert_int_equal(parse(b, n, BOTH, &h, &why), (long)n);
	/* an authority longer than a host name */
	t[0] = 0x02;
	t[1] = 1;
	t[2] = 0;
	memset(t + 3, 'a', 256);
	n = with_tlvs(b, t, 259);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	t[2] = 255;
	t[1] = 0;
	n = with_tlvs(b, t, 258);
	assert_int_equal(parse(b, n, BOTH, &h, &why), (long)n);
	assert_int_equal(h.authority_len, 255);
}

static void
test_v2_crc32c(void **state)
{
	unsigned char b[256];
	struct sl_pp_hdr h;
	enum sl_pp_error why;
	uint32_t crc;
	size_t n;

	(void)state;
	/* RFC 3720's check value */
	assert_int_equal(sl_pp_crc32c("123456789", 9), 0xe3069283u);
	n = with_tlvs(b, "\x03\x00\x04\0\0\0\0\x02\x00\x01x", 11);
	crc = sl_pp_crc32c(b, n);
	b[31] = (unsigned char)(crc >> 24);
	b[32] = (unsigned char)(crc >> 16);
	b[33] = (unsigned char)(crc >> 8);
	b[34] = (unsigned char)crc;
	assert_int_equal(parse(b, n, BOTH, &h, &why), (long)n);
	assert_int_equal(h.crc_checked, 1);
	assert_int_equal(h.authority_len, 1);
	/* one bit off anywhere, the checksum included (but in its type:
	 * without it, nothing is checked) */
	for (size_t i = 16; i < n; i++) {
		if (i == 28)
			continue;
		b[i] ^= 0x10;
		if (sl_pp_parse(b, n, BOTH, &h, &why) > 0)
			/* a flip that keeps the header valid and the
			 * checksum right cannot be */
			fail_msg("byte %zu flipped, still accepted", i);
		b[i] ^= 0x10;
	}
	/* a checksum of another length; two of them */
	n = with_tlvs(b, "\x03\x00\x03\0\0\0", 6);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
	n = with_tlvs(b, "\x03\x00\x04\0\0\0\0\x03\x00\x04\0\0\0\0", 14);
	assert_int_equal(v2_bad(b, n), SL_PP_E_MALFORMED);
}

static void
test_write(void **state)
{
	unsigned char b[SL_PP_V2_OUT_MAX];
	struct sl_pp_hdr h;
	enum sl_pp_error why;
	struct sl_ip src, dst, none = {0, {0}};
	size_t n;

	(void)state;
	/* LOCAL */
	n = sl_pp_write_v2(b, sizeof(b), NULL, 0, NULL, 0);
	assert_int_equal(n, 16);
	assert_int_equal(sl_pp_parse(b, n, SL_PP_V2, &h, &why), 16);
	assert_int_equal(h.cmd_local, 1);
	assert_int_equal(sl_pp_write_v2(b, sizeof(b), &none, 1, &none, 2), 16);
	/* IPv4 to IPv4 */
	assert_int_equal(sl_ip_parse("203.0.113.9", 11, &src), 0);
	assert_int_equal(sl_ip_parse("10.1.2.3", 8, &dst), 0);
	n = sl_pp_write_v2(b, sizeof(b), &src, 40000, &dst, 8443);
	assert_int_equal(n, 28);
	assert_int_equal(sl_pp_parse(b, n, SL_PP_V2, &h, &why), 28);
	assert_int_equal(h.local, 0);
	assert_true(sl_ip_eq(&h.src, &src));
	assert_true(sl_ip_eq(&h.dst, &dst));
	assert_int_equal(h.sport, 40000);
	assert_int_equal(h.dport, 8443);
	/* IPv6 client, IPv4 listener: both written as IPv6, read back */
	assert_int_equal(sl_ip_parse("2001:db8::7", 11, &src), 0);
	n = sl_pp_write_v2(b, sizeof(b), &src, 1, &dst, 2);
	assert_int_equal(n, 52);
	assert_int_equal(b[13], 0x21);
	assert_int_equal(sl_pp_parse(b, n, SL_PP_V2, &h, &why), 52);
	assert_true(sl_ip_eq(&h.src, &src));
	assert_true(sl_ip_eq(&h.dst, &dst));
	/* no destination: the zero address of the client's family */
	n = sl_pp_write_v2(b, sizeof(b), &dst, 1, &none, 0);
	assert_int_equal(n, 28);
	/* too small a buffer */
	assert_int_equal(sl_pp_write_v2(b, 27, &dst, 1, &dst, 2), 0);
	assert_int_equal(sl_pp_write_v2(b, 15, NULL, 0, NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect),     cmocka_unit_test(test_v1),
	    cmocka_unit_test(test_v1_refused), cmocka_unit_test(test_v2),
	    cmocka_unit_test(test_v2_refused), cmocka_unit_test(test_v2_tlvs),
	    cmocka_unit_test(test_v2_crc32c),  cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
