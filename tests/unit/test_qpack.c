/* SPDX-License-Identifier: MIT */
/*
 * QPACK with a dynamic table of capacity 0 (src/h3/qpack.c), libnghttp3
 * the oracle both ways: every static index, sections sluice encodes read
 * by nghttp3's decoder, sections nghttp3's encoder writes read by
 * sluice's, every way a section fails, the field checks and limits,
 * Huffman, and the checks of the peer's encoder and decoder streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qpack.h"
#include "qpack_oracle.h"
#include "qpack_tab.h"

/* ---- what sluice's decoder gave ------------------------------------------*/

static struct ofields got;
static unsigned got_flags[ORACLE_MAXF];
static int refuse_at; /* refuse the field of this number (from 1), or 0 */

static int
collect(void *arg, const char *name, size_t nlen, const char *value,
	size_t vlen, unsigned flags)
{
	(void)arg;
	if (refuse_at != 0 && got.n + 1 == refuse_at)
		return 1;
	got_flags[got.n < ORACLE_MAXF ? got.n : 0] = flags;
	ofields_add(&got, name, nlen, value, vlen,
		    (flags & SL_HPACK_F_NEVER) != 0);
	return 0;
}

static char scratch[SL_QPACK_SCRATCH_MIN];

static int
dec(const uint8_t *in, size_t len)
{
	got.n = got.over = 0;
	got.used = 0;
	return sl_qpack_decode(in, len, SIZE_MAX, scratch, sizeof(scratch),
			       collect, NULL);
}

/* Both decoders took the section and gave the same fields. */
static void
assert_same(const uint8_t *in, size_t len)
{
	static struct ofields o;

	assert_int_equal(oracle_decode(in, len, &o), ORACLE_OK);
	assert_int_equal(dec(in, len), SL_QPACK_OK);
	assert_int_equal(got.n, o.n);
	for (int i = 0; i < o.n; i++) {
		assert_int_equal(got.nlen[i], o.nlen[i]);
		assert_memory_equal(got.store + got.noff[i],
				    o.store + o.noff[i], o.nlen[i]);
		assert_int_equal(got.vlen[i], o.vlen[i]);
		assert_memory_equal(got.store + got.voff[i],
				    o.store + o.voff[i], o.vlen[i]);
		assert_int_equal(got.never[i], o.never[i]);
	}
}

/* Both decoders refused the section. */
static void
assert_both_fail(const uint8_t *in, size_t len)
{
	static struct ofields o;

	assert_int_equal(oracle_decode(in, len, &o), ORACLE_FAILED);
	assert_int_equal(dec(in, len), SL_QPACK_FAILED);
}

/* ---- the static table ----------------------------------------------------*/

static void
test_every_static_index(void **state)
{
	(void)state;
	for (unsigned i = 0; i <= 100; i++) {
		uint8_t in[16] = {0x00, 0x00};
		size_t n = 2;

		/* indexed: 1 T=1 Index(6+) */
		n += sl_hpack_int_encode(in + n, sizeof(in) - n, 0xc0, 6, i);
		if (i < SL_QPACK_NSTATIC)
			assert_same(in, n);
		else
			assert_both_fail(in, n);
		/* the name referred to, a literal value: 01 N T=1 (4+) */
		n = 2;
		n += sl_hpack_int_encode(in + n, sizeof(in) - n, 0x50, 4, i);
		in[n++] = 0x03;
		memcpy(in + n, "abc", 3);
		n += 3;
		if (i < SL_QPACK_NSTATIC)
			assert_same(in, n);
		else
			assert_both_fail(in, n);
	}
}

/* ---- sluice encodes, nghttp3 decodes --------------------------------------*/

struct fld {
	const char *n, *v;
	unsigned flags;
};

static const struct fld req[] = {
    {":method", "GET", 0},
    {":scheme", "https", 0},
    {":authority", "example.com", 0},
    {":path", "/index.html?q=1", 0},
    {"user-agent", "curl/7.88.1", 0},
    {"accept", "*/*", 0},
    {"cookie", "session=abcdef0123456789", SL_HPACK_F_NEVER},
    {"authorization", "Bearer x.y.z", SL_HPACK_F_NEVER},
    {"x-request-id", "0f3a9e2c-7d1b-4c8e-9a5f-1b2c3d4e5f60", 0},
    {"x-empty", "", 0},
    {"content-type", "application/json", 0},
    {"content-length", "0", SL_HPACK_F_NEVER}, /* indexed but for N */
    {"access-control-allow-credentials", "TRUE", 0},
    {"a-very-long-name-that-is-not-in-any-static-table-at-all", "v", 0},
};

static const struct fld resp[] = {
    {":status", "200", 0},
    {"content-type", "text/html; charset=utf-8", 0},
    {"content-length", "12345", 0},
    {"cache-control", "no-cache", 0},
    {"server", "sluice", 0},
    {"date", "Sat, 28 Nov 2026 00:00:00 GMT", 0},
    {"set-cookie", "id=1; Secure; HttpOnly", SL_HPACK_F_NEVER},
    {"vary", "origin", 0},
    {"x-binary", "\x80\xff \x7e", 0},
};

static size_t
enc_list(uint8_t *out, size_t room, const struct fld *f, size_t n,
	 unsigned extra)
{
	size_t len = sl_qpack_enc_prefix(out, room);

	assert_int_equal(len, SL_QPACK_PREFIX_LEN);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(f[i].n), vl = strlen(f[i].v);
		size_t m = sl_qpack_enc_field(out + len, room - len, f[i].n, nl,
					      f[i].v, vl, f[i].flags | extra);

		uint8_t spare[4096];

		assert_true(m > 0 && m <= SL_QPACK_ENC_MAX(nl, vl));
		/* one byte short is refused, never overrun */
		assert_int_equal(sl_qpack_enc_field(spare, m - 1, f[i].n, nl,
						    f[i].v, vl,
						    f[i].flags | extra),
				 0);
		len += m;
	}
	return len;
}

static void
check_list(const struct fld *f, size_t n, unsigned extra)
{
	static struct ofields o;
	uint8_t out[4096];
	size_t len = enc_list(out, sizeof(out), f, n, extra);

	assert_int_equal(oracle_decode(out, len, &o), ORACLE_OK);
	assert_int_equal(o.n, (int)n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(o.nlen[i], strlen(f[i].n));
		assert_memory_equal(o.store + o.noff[i], f[i].n, o.nlen[i]);
		assert_int_equal(o.vlen[i], strlen(f[i].v));
		assert_memory_equal(o.store + o.voff[i], f[i].v, o.vlen[i]);
		assert_int_equal(o.never[i],
				 (f[i].flags & SL_HPACK_F_NEVER) != 0);
	}
	/* and sluice's decoder reads it back the same */
	assert_same(out, len);
}

static void
test_encode_oracle(void **state)
{
	(void)state;
	check_list(req, sizeof(req) / sizeof(req[0]), 0);
	check_list(req, sizeof(req) / sizeof(req[0]), SL_HPACK_F_RAW);
	check_list(resp, sizeof(resp) / sizeof(resp[0]), 0);
	check_list(resp, sizeof(resp) / sizeof(resp[0]), SL_HPACK_F_RAW);
}

static void
test_encode_forms(void **state)
{
	uint8_t out[256];
	size_t n;

	(void)state;
	/* name and value in the table: one byte, 1 T=1 Index */
	n = sl_qpack_enc_field(out, sizeof(out), ":method", 7, "GET", 3, 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0xc0 | 17);
	/* index 63 and up take a second byte */
	n = sl_qpack_enc_field(out, sizeof(out), ":status", 7, "100", 3, 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(out[1], 0);
	/* never indexed: a literal with the N bit, its name referred to
	 * (:method's first entry, 15, fills the 4 bits' prefix) */
	n = sl_qpack_enc_field(out, sizeof(out), ":method", 7, "GET", 3,
			       SL_HPACK_F_NEVER | SL_HPACK_F_RAW);
	assert_int_equal(n, 2 + 1 + 3);
	assert_int_equal(out[0], 0x7f);
	assert_int_equal(out[1], 15 - 15);
	/* a name in the table, another value: 01 0 1, then the value */
	n = sl_qpack_enc_field(out, sizeof(out), "server", 6, "abc", 3,
			       SL_HPACK_F_RAW);
	assert_int_equal(n, 2 + 1 + 3);
	assert_int_equal(out[0], 0x5f); /* 92 does not fit 4 bits */
	assert_int_equal(out[1], 92 - 15);
	assert_int_equal(out[2], 0x03);
}

static void
test_encode_status(void **state)
{
	static const int st[] = {100, 103, 200, 204, 206, 302, 304, 400, 403,
				 404, 421, 425, 500, 503, 201, 418, 999};
	static struct ofields o;
	uint8_t out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		char d[4];
		size_t n = sl_qpack_enc_prefix(out, sizeof(out));

		n += sl_qpack_enc_status(out + n, sizeof(out) - n, st[i]);
		assert_true(n <= SL_QPACK_PREFIX_LEN + 6);
		assert_int_equal(oracle_decode(out, n, &o), ORACLE_OK);
		snprintf(d, sizeof(d), "%d", st[i]);
		assert_int_equal(o.n, 1);
		assert_memory_equal(o.store + o.noff[0], ":status", 7);
		assert_memory_equal(o.store + o.voff[0], d, 3);
		/* the statuses of the table take at most two bytes */
		if (i < 14)
			assert_true(n - SL_QPACK_PREFIX_LEN <= 2);
	}
	assert_int_equal(sl_qpack_enc_status(out, 1, 201), 0);
}

/* Huffman when it is shorter, the raw string when it is not. */
static void
test_encode_huffman(void **state)
{
	uint8_t out[256];
	size_t n;

	(void)state;
	/* a literal name: 001 N H NameLen(3+) */
	n = sl_qpack_enc_field(out, sizeof(out), "x-aaaa", 6, "aaaa", 4, 0);
	assert_true(n > 0);
	assert_int_equal(out[0] & 0xe8, 0x28); /* H set */
	n = sl_qpack_enc_field(out, sizeof(out), "x-aaaa", 6, "aaaa", 4,
			       SL_HPACK_F_RAW);
	assert_int_equal(out[0], 0x20 | 6);
	assert_int_equal(n, 1 + 6 + 1 + 4);
	/* octets whose codes are long: the raw string is shorter */
	n = sl_qpack_enc_field(out, sizeof(out), "x", 1, "\xff\xfe\xfd", 3, 0);
	assert_int_equal(n, 1 + 1 + 1 + 3);
	assert_int_equal(out[2], 0x03); /* no H */
}

/* ---- nghttp3 encodes, sluice decodes --------------------------------------*/

static void
oracle_encode_list(const struct fld *f, size_t n)
{
	const nghttp3_mem *mem = nghttp3_mem_default();
	nghttp3_qpack_encoder *enc;
	nghttp3_nv nva[32];
	nghttp3_buf pbuf, rbuf, ebuf;
	uint8_t sec[4096];
	size_t plen, rlen;

	assert_true(n <= 32);
	for (size_t i = 0; i < n; i++) {
		nva[i].name = (uint8_t *)(uintptr_t)f[i].n;
		nva[i].namelen = strlen(f[i].n);
		nva[i].value = (uint8_t *)(uintptr_t)f[i].v;
		nva[i].valuelen = strlen(f[i].v);
		nva[i].flags = (f[i].flags & SL_HPACK_F_NEVER)
				   ? NGHTTP3_NV_FLAG_NEVER_INDEX
				   : NGHTTP3_NV_FLAG_NONE;
	}
	assert_int_equal(nghttp3_qpack_encoder_new(&enc, 0, mem), 0);
	nghttp3_buf_init(&pbuf);
	nghttp3_buf_init(&rbuf);
	nghttp3_buf_init(&ebuf);
	assert_int_equal(
	    nghttp3_qpack_encoder_encode(enc, &pbuf, &rbuf, &ebuf, 0, nva, n),
	    0);
	plen = (size_t)(pbuf.last - pbuf.pos);
	rlen = (size_t)(rbuf.last - rbuf.pos);
	assert_true(plen + rlen <= sizeof(sec));
	memcpy(sec, pbuf.pos, plen);
	memcpy(sec + plen, rbuf.pos, rlen);
	/* nothing for the encoder stream at capacity 0 */
	assert_int_equal(
	    sl_qpack_estream_feed(ebuf.pos, (size_t)(ebuf.last - ebuf.pos)), 0);
	assert_same(sec, plen + rlen);
	nghttp3_buf_free(&pbuf, mem);
	nghttp3_buf_free(&rbuf, mem);
	nghttp3_buf_free(&ebuf, mem);
	nghttp3_qpack_encoder_del(enc);
}

static void
test_decode_oracle(void **state)
{
	(void)state;
	oracle_encode_list(req, sizeof(req) / sizeof(req[0]));
	oracle_encode_list(resp, sizeof(resp) / sizeof(resp[0]));
	assert_int_equal(got_flags[0], SL_HPACK_F_PSEUDO);
	assert_int_equal(got_flags[1], 0);
	assert_int_equal(got_flags[6], SL_HPACK_F_NEVER);
}

/* ---- failures ------------------------------------------------------------*/

static void
test_decode_failures(void **state)
{
	static const struct {
		const char *why;
		uint8_t in[16];
		size_t len;
	} bad[] = {
	    {"empty", {0}, 0},
	    {"no Delta Base", {0x00}, 1},
	    {"Required Insert Count 1", {0x01, 0x00}, 2},
	    {"Required Insert Count 255", {0xff, 0x80, 0x01, 0x00}, 4},
	    {"S=1, Delta Base 0", {0x00, 0x80}, 2},
	    {"S=1, Delta Base 5", {0x00, 0x85, 0xd1}, 3},
	    {"indexed, dynamic", {0x00, 0x00, 0x80}, 3},
	    {"indexed, static 99", {0x00, 0x00, 0xff, 0x24}, 4},
	    {"indexed post-base", {0x00, 0x00, 0x10}, 3},
	    {"literal, dynamic name", {0x00, 0x00, 0x40, 0x00}, 4},
	    {"literal, post-base name", {0x00, 0x00, 0x00, 0x00}, 4},
	    {"literal, static name 99", {0x00, 0x00, 0x5f, 0x54, 0x00}, 5},
	    {"value cut", {0x00, 0x00, 0x51, 0x03, 'a', 'b'}, 6},
	    {"name length cut", {0x00, 0x00, 0x27}, 3},
	    {"name cut", {0x00, 0x00, 0x23, 'a', 'b'}, 5},
	    {"no value", {0x00, 0x00, 0x21, 'a'}, 4},
	    {"index overflows",
	     {0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	      0xff, 0x01},
	     13},
	    {"length overflows",
	     {0x00, 0x00, 0x51, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	      0xff, 0xff, 0x01},
	     14},
	    {"Huffman EOS",
	     {0x00, 0x00, 0x51, 0x84, 0xff, 0xff, 0xff, 0xff},
	     8},
	    {"Huffman padding of 0 bits", {0x00, 0x00, 0x51, 0x81, 0x00}, 5},
	    {"Huffman padding of 8 bits",
	     {0x00, 0x00, 0x51, 0x82, 0x1f, 0xff},
	     6},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i].why);
		assert_both_fail(bad[i].in, bad[i].len);
	}
}

/* Every cut of a good section short of its end fails in both, or is a
 * good section of fewer fields in both. */
static void
test_decode_cuts(void **state)
{
	static struct ofields o;
	uint8_t out[4096];
	size_t len =
	    enc_list(out, sizeof(out), req, sizeof(req) / sizeof(req[0]), 0);

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		int orc = oracle_decode(out, cut, &o), rc = dec(out, cut);

		if (orc == ORACLE_OK) {
			assert_int_equal(rc, SL_QPACK_OK);
			assert_int_equal(got.n, o.n);
		} else {
			assert_int_equal(rc, SL_QPACK_FAILED);
		}
	}
}

/* ---- the field checks and limits ------------------------------------------*/

static void
test_decode_checks(void **state)
{
	/* an upper-case name (literal name "A", value "b") */
	static const uint8_t upper[] = {0x00, 0x00, 0x21, 'A', 0x01, 'b'};
	/* a regular field, then a pseudo-field (:path /) */
	static const uint8_t late[] = {0x00, 0x00, 0xc2, 0xc1};
	/* a CR in a value, then a bad line: the failure wins */
	static const uint8_t cr_then_bad[] = {0x00, 0x00, 0x51,
					      0x01, '\r', 0x80};
	/* :path /, age 0, :method GET */
	static const uint8_t three[] = {0x00, 0x00, 0xc1, 0xc2, 0xd1};
	uint8_t big[64];
	size_t n = 2;

	(void)state;
	assert_int_equal(dec(upper, sizeof(upper)), SL_QPACK_MALFORMED);
	assert_int_equal(got.n, 0);
	assert_int_equal(dec(late, sizeof(late)), SL_QPACK_MALFORMED);
	assert_int_equal(got.n, 1);
	assert_int_equal(dec(cr_then_bad, sizeof(cr_then_bad)),
			 SL_QPACK_FAILED);
	/* emit refuses the second field: nothing after it */
	refuse_at = 2;
	assert_int_equal(dec(three, 4), SL_QPACK_REFUSED);
	assert_int_equal(got.n, 1);
	refuse_at = 0;
	/* the size limit: :path / is 5 + 1 + 32 bytes */
	got.n = got.over = 0;
	got.used = 0;
	assert_int_equal(sl_qpack_decode(three, 3, 38, scratch, sizeof(scratch),
					 collect, NULL),
			 SL_QPACK_OK);
	got.n = 0;
	got.used = 0;
	assert_int_equal(sl_qpack_decode(three, 4, 38 + 35, scratch,
					 sizeof(scratch), collect, NULL),
			 SL_QPACK_REFUSED);
	assert_int_equal(got.n, 1);
	/* a scratch too small is the caller's mistake */
	assert_int_equal(
	    sl_qpack_decode(three, 3, SIZE_MAX, scratch, 100, collect, NULL),
	    SL_QPACK_FAILED);
	/* a Huffman value longer than the scratch: refused, and a bad line
	 * after it still fails the section */
	memcpy(big, "\x00\x00\x51", 3);
	n = 3;
	n += sl_hpack_int_encode(big + n, sizeof(big) - n, 0x80, 7, 3000);
	{
		static uint8_t sec[3100];
		size_t m = n;

		memcpy(sec, big, n);
		memset(sec + m, 0x00, 3000); /* '0' is 5 bits of 0s */
		m += 3000;
		/* 4800 symbols, less what the last byte's bits leave */
		assert_int_equal(dec(sec, m), SL_QPACK_REFUSED);
		sec[m++] = 0x80;
		assert_int_equal(dec(sec, m), SL_QPACK_FAILED);
	}
}

/* ---- the peer's QPACK streams --------------------------------------------*/

static int
dstream(const uint8_t *in, size_t len, size_t piece)
{
	struct sl_qpack_dstream s;
	int rc = 0;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < len; i += piece)
		rc = sl_qpack_dstream_feed(&s, in + i,
					   len - i < piece ? len - i : piece);
	return rc;
}

static int
estream(const uint8_t *in, size_t len, size_t piece)
{
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i += piece)
		rc = sl_qpack_estream_feed(in + i,
					   len - i < piece ? len - i : piece);
	return rc;
}

/* A stream's bytes and whether they are allowed, fed in pieces of every
 * size to sluice's check and to nghttp3. */
struct stream_case {
	uint8_t in[16];
	size_t len;
	int ok;
};

static const struct stream_case es[] = {
    {{0x20}, 1, 1},
    {{0x20, 0x20, 0x20}, 3, 1},
    {{0x21}, 1, 0},		    /* capacity 1 */
    {{0x3f, 0x00}, 2, 0},	    /* capacity 31 */
    {{0x3f, 0x80, 0x00}, 3, 0},	    /* 31, written long */
    {{0xc1, 0x01, 'a'}, 3, 0},	    /* insert, static name */
    {{0x81, 0x01, 'a'}, 3, 0},	    /* insert, dynamic name */
    {{0x41, 'a', 0x01, 'b'}, 4, 0}, /* insert, literal name */
    {{0x00}, 1, 0},		    /* duplicate */
    {{0x20, 0x20, 0x01}, 3, 0},
};

static const struct stream_case ds[] = {
    {{0x40}, 1, 1},			    /* cancel stream 0 */
    {{0x44, 0x48}, 2, 1},		    /* streams 4 and 8 */
    {{0x7f, 0x80, 0x80, 0x01, 0x40}, 5, 1}, /* 63 + 16384, then 0 */
    /* 2^62 - 1, the largest, then 2^62 */
    {{0x7f, 0xc0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f}, 10, 1},
    {{0x7f, 0xc1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f}, 10, 0},
    {{0x80}, 1, 0}, /* Section Acknowledgment of stream 0 */
    {{0x84}, 1, 0}, /* of stream 4 */
    {{0x01}, 1, 0}, /* Insert Count Increment 1 */
    {{0x00}, 1, 0}, /* ... 0 */
    {{0x44, 0x01}, 2, 0},
};

static void
check_cases(const struct stream_case *c, size_t n, int decoder)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t piece = 1; piece <= c[i].len; piece++) {
			int want = c[i].ok ? 0 : -1;

			assert_int_equal(
			    decoder ? dstream(c[i].in, c[i].len, piece)
				    : estream(c[i].in, c[i].len, piece),
			    want);
			assert_int_equal(
			    oracle_stream(c[i].in, c[i].len, piece, decoder),
			    want);
		}
	}
}

static void
test_streams(void **state)
{
	struct sl_qpack_dstream s;

	(void)state;
	check_cases(es, sizeof(es) / sizeof(es[0]), 0);
	check_cases(ds, sizeof(ds) / sizeof(ds[0]), 1);
	/* an error stays */
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_qpack_dstream_feed(&s, (const uint8_t *)"\x80", 1),
			 -1);
	assert_int_equal(sl_qpack_dstream_feed(&s, (const uint8_t *)"\x40", 1),
			 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_static_index),
	    cmocka_unit_test(test_encode_oracle),
	    cmocka_unit_test(test_encode_forms),
	    cmocka_unit_test(test_encode_status),
	    cmocka_unit_test(test_encode_huffman),
	    cmocka_unit_test(test_decode_oracle),
	    cmocka_unit_test(test_decode_failures),
	    cmocka_unit_test(test_decode_cuts),
	    cmocka_unit_test(test_decode_checks),
	    cmocka_unit_test(test_streams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
