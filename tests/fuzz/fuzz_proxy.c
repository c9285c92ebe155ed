/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the PROXY protocol parser (proxyproto.c). The input
 * is the start of a connection. Parsed whole and fed byte by byte as a
 * network would, the answers must agree (the first one that is not "need
 * more" is the whole input's); a header must lie within the input and its
 * bounds, its addresses be of one of the two families, its authority in
 * the input; what detection says must match what parsing says; a header
 * written from the parsed addresses must parse back to them; and the
 * input's first bytes, taken as addresses, must round-trip too.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "proxyproto.h"

static const unsigned vsets[3] = {SL_PP_V1 | SL_PP_V2, SL_PP_V1, SL_PP_V2};

static void
round_trip(const struct sl_ip *src, uint16_t sport, const struct sl_ip *dst,
	   uint16_t dport)
{
	unsigned char b[SL_PP_V2_OUT_MAX];
	enum sl_pp_error why;
	struct sl_pp_hdr h;
	size_t n = sl_pp_write_v2(b, sizeof(b), src, sport, dst, dport);

	CHECK(n == 28 || n == 52);
	CHECK(sl_pp_parse(b, n, SL_PP_V2, &h, &why) == (long)n);
	CHECK(!h.local && h.version == 2);
	CHECK(sl_ip_eq(&h.src, src) && sl_ip_eq(&h.dst, dst));
	CHECK(h.sport == sport && h.dport == dport);
}

static void
one(const uint8_t *data, size_t size, unsigned versions)
{
	enum sl_pp_error why = SL_PP_NERRORS, why2;
	enum sl_pp_kind kind = sl_pp_detect(data, size);
	struct sl_pp_hdr h, h2;
	long r = sl_pp_parse(data, size, versions, &h, &why), r2 = 0;
	size_t k;

	/* byte by byte: "more" until the whole input's answer */
	for (k = 0; k <= size; k++) {
		r2 = sl_pp_parse(data, k, versions, &h2, &why2);
		if (r2 != 0)
			break;
	}
	if (r == 0)
		CHECK(k > size);
	else {
		CHECK(r2 == r);
		if (r < 0)
			CHECK(why2 == why);
		else
			/* complete exactly when its last byte came */
			CHECK((long)k == r);
	}
	if (kind == SL_PP_NONE)
		CHECK(r == -1 && why == SL_PP_E_MISSING);
	if (kind == SL_PP_AGAIN)
		CHECK(r == 0);
	if (r < 0) {
		CHECK(why == SL_PP_E_MISSING || why == SL_PP_E_VERSION ||
		      why == SL_PP_E_MALFORMED || why == SL_PP_E_TOO_LARGE);
		CHECK(why != SL_PP_E_MISSING || kind == SL_PP_NONE);
		return;
	}
	if (r == 0) {
		/* more is needed only while the bounds allow more */
		CHECK(size < SL_PP_MAX);
		return;
	}
	CHECK((size_t)r <= size && r <= SL_PP_MAX);
	CHECK(h.version == (kind == SL_PP_KIND_V1 ? 1 : 2));
	CHECK(h.version == 1 ? (versions & SL_PP_V1) != 0
			     : (versions & SL_PP_V2) != 0);
	if (h.version == 1)
		CHECK(r <= SL_PP_V1_MAX && data[r - 2] == '\r' &&
		      data[r - 1] == '\n');
	if (h.authority != NULL) {
		const uint8_t *a = (const uint8_t *)h.authority;
		CHECK(h.version == 2 && !h.cmd_local);
		CHECK(a >= data && a + h.authority_len <= data + r);
		CHECK(h.authority_len > 0 &&
		      h.authority_len <= SL_PP_AUTHORITY_MAX);
	}
	if (h.local) {
		CHECK(h.src.len == 0 && h.dst.len == 0);
		return;
	}
	CHECK(h.src.len == 4 || h.src.len == 16);
	CHECK(h.dst.len == 4 || h.dst.len == 16);
	round_trip(&h.src, h.sport, &h.dst, h.dport);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int i = 0; i < 3; i++)
		one(data, size, vsets[i]);
	/* the first bytes as addresses of either family */
	if (size >= 36) {
		struct sl_ip a, b;
		a.len = (data[0] & 1) ? 16 : 4;
		b.len = (data[0] & 2) ? 16 : 4;
		memcpy(a.a, data + 2, 16);
		memcpy(b.a, data + 18, 16);
		/* a mapped IPv4 address is read back as IPv4 */
		if (a.len == 16 &&
		    memcmp(a.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			a.len = 0;
		if (b.len == 16 &&
		    memcmp(b.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			b.len = 0;
		if (a.len != 0 && b.len != 0)
			round_trip(&a, (uint16_t)(data[34] << 8 | data[35]), &b,
				   (uint16_t)(data[1] << 8 | data[0]));
	}
	return 0;
}
