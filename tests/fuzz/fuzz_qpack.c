/* SPDX-License-Identifier: MIT */
/*
 * QPACK with a dynamic table of capacity 0 (src/h3/qpack.c) against
 * libnghttp3's, which is the oracle. The first byte picks what the rest
 * is (its low 2 bits) and a piece size (its next 3 bits):
 *   0  a field section: nghttp3's decoder (capacity 0) and sluice's must
 *      both refuse it or both take it; taken, sluice's fields are
 *      nghttp3's, up to the first one sluice's checks stop at, and that
 *      one is malformed (RFC 9114 section 4.2) or too long for the
 *      scratch
 *   1  the peer's encoder stream, in pieces: what sluice takes,
 *      nghttp3's decoder takes, and what it refuses sluice refuses
 *      (sluice may refuse an instruction nghttp3 has not seen whole)
 *   2  the peer's decoder stream, in pieces, the same way against
 *      nghttp3's encoder, which has sent nothing
 *   3  fields to encode (a byte of flags, a name's length and a value's,
 *      then their bytes, again and again): what sluice's encoder writes,
 *      nghttp3 and sluice decode to the same fields
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/qpack_oracle.h"
#include "fuzz.h"
#include "qpack.h"

static struct ofields ng, sl;
static char scratch[SL_QPACK_SCRATCH_MIN];

static int
on_field(void *arg, const char *name, size_t nlen, const char *value,
	 size_t vlen, unsigned flags)
{
	struct ofields *f = arg;

	/* a pseudo-field is one whose name starts with ':' */
	CHECK(((flags & SL_HPACK_F_PSEUDO) != 0) == (name[0] == ':'));
	CHECK(sl_hpack_field_ok(name, nlen, value, vlen) == 0);
	ofields_add(f, name, nlen, value, vlen,
		    (flags & SL_HPACK_F_NEVER) != 0);
	return 0;
}

static int
sl_decode(const uint8_t *in, size_t len)
{
	sl.n = sl.over = 0;
	sl.used = 0;
	return sl_qpack_decode(in, len, SIZE_MAX, scratch, sizeof(scratch),
			       on_field, &sl);
}

static int
same_field(int i)
{
	return sl.nlen[i] == ng.nlen[i] && sl.vlen[i] == ng.vlen[i] &&
	       sl.never[i] == ng.never[i] &&
	       memcmp(sl.store + sl.noff[i], ng.store + ng.noff[i],
		      ng.nlen[i]) == 0 &&
	       memcmp(sl.store + sl.voff[i], ng.store + ng.voff[i],
		      ng.vlen[i]) == 0;
}

/* Whether field k of nghttp3's list is one sluice's checks stop at. */
static int
stops_at(int k)
{
	const char *n = ng.store + ng.noff[k], *v = ng.store + ng.voff[k];
	int regular = 0;

	if (sl_hpack_field_ok(n, ng.nlen[k], v, ng.vlen[k]) != 0)
		return 1;
	for (int i = 0; i < k; i++)
		regular |= ng.nlen[i] == 0 || ng.store[ng.noff[i]] != ':';
	return regular && n[0] == ':';
}

static void
section(const uint8_t *in, size_t len)
{
	int orc = oracle_decode(in, len, &ng), rc = sl_decode(in, len);

	if (orc == ORACLE_TOO_LARGE || ng.over || sl.over)
		return; /* nghttp3's own limit, or more than is kept */
	if (orc == ORACLE_FAILED) {
		CHECK(rc == SL_QPACK_FAILED);
		return;
	}
	CHECK(rc != SL_QPACK_FAILED);
	CHECK(sl.n <= ng.n);
	for (int i = 0; i < sl.n; i++)
		CHECK(same_field(i));
	if (rc == SL_QPACK_OK) {
		CHECK(sl.n == ng.n);
	} else if (rc == SL_QPACK_MALFORMED) {
		CHECK(sl.n < ng.n && stops_at(sl.n));
	} else {
		CHECK(rc == SL_QPACK_REFUSED && sl.n < ng.n);
		/* emit takes all and there is no max_size: only a field
		 * whose Huffman strings pass the scratch is refused */
		CHECK(ng.nlen[sl.n] + ng.vlen[sl.n] > sizeof(scratch));
	}
}

static void
streams(const uint8_t *in, size_t len, size_t piece, int decoder)
{
	struct sl_qpack_dstream d;
	int rc = 0, orc;

	memset(&d, 0, sizeof(d));
	for (size_t i = 0; i < len && rc == 0; i += piece) {
		size_t n = len - i < piece ? len - i : piece;

		rc = decoder ? sl_qpack_dstream_feed(&d, in + i, n)
			     : sl_qpack_estream_feed(in + i, n);
	}
	orc = oracle_stream(in, len, piece, decoder);
	/* what sluice takes nghttp3 takes, and what nghttp3 refuses sluice
	 * refuses; sluice may refuse sooner: an insertion or an
	 * acknowledgment is an error from its first byte, where nghttp3
	 * waits for the whole instruction */
	CHECK(rc == orc || (rc == -1 && orc == 0));
}

static void
encode(const uint8_t *in, size_t len)
{
	static uint8_t out[1 << 16];
	size_t o = sl_qpack_enc_prefix(out, sizeof(out)), want = 0;
	const uint8_t *p = in, *end = in + len;
	int orc;

	CHECK(o == SL_QPACK_PREFIX_LEN);
	while (end - p >= 3) {
		unsigned flags = p[0] & (SL_HPACK_F_NEVER | SL_HPACK_F_RAW);
		size_t nl = p[1], vl = p[2], m;

		p += 3;
		if (nl + vl > (size_t)(end - p))
			break;
		m = sl_qpack_enc_field(out + o, sizeof(out) - o,
				       (const char *)p, nl,
				       (const char *)p + nl, vl, flags);
		CHECK(m > 0 && m <= SL_QPACK_ENC_MAX(nl, vl));
		o += m;
		p += nl + vl;
		want++;
	}
	orc = oracle_decode(out, o, &ng);
	CHECK(orc == ORACLE_OK && (ng.over || (size_t)ng.n == want));
	/* read back by sluice: the same, up to what its checks stop */
	section(out, o);
	p = in;
	for (int i = 0; i < ng.n; i++) {
		size_t nl = p[1], vl = p[2];

		CHECK(ng.nlen[i] == nl && ng.vlen[i] == vl);
		CHECK(memcmp(ng.store + ng.noff[i], p + 3, nl) == 0);
		CHECK(memcmp(ng.store + ng.voff[i], p + 3 + nl, vl) == 0);
		CHECK(ng.never[i] == ((p[0] & SL_HPACK_F_NEVER) != 0));
		p += 3 + nl + vl;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece;

	if (size < 1)
		return 0;
	piece = (size_t)((data[0] >> 2) & 7) + 1;
	switch (data[0] & 3) {
	case 0:
		section(data + 1, size - 1);
		break;
	case 1:
		streams(data + 1, size - 1, piece, 0);
		break;
	case 2:
		streams(data + 1, size - 1, piece, 1);
		break;
	default:
		encode(data + 1, size - 1);
		break;
	}
	return 0;
}
