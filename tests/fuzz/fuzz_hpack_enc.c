/* SPDX-License-Identifier: MIT */
/*
 * sluice's HPACK encoder (sl_hpack_enc_field, sl_hpack_enc_status) read
 * back by nghttp2's decoder: the same fields come out, in order, with the
 * never-indexed flag where it was asked for, and nghttp2's dynamic table
 * stays empty (the encoder keeps no table and indexes nothing). An input
 * is a list of fields: a flags byte (bit 0 never indexed, bit 1 a status
 * from the next two bytes instead of a field, bit 2 through the name memo,
 * which lower-cases the name and outlives the input, bit 3 no Huffman
 * coding, bit 4 a request's pseudo-field by its name's static index, the
 * name's length modulo 4 choosing which), the name's length, the value's length
 * (2 bytes), the name, the value. Each field's size stays within
 * SL_HPACK_ENC_MAX, and a byte less of room writes nothing.
 */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "hpack.h"

static uint8_t block[1 << 17], spare[1 << 17];
static struct sl_hpack_memo memo; /* warm from one input to the next */
static char lowered[512][SL_HPACK_MEMO_NAME];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *names[512], *values[512];
	size_t nlens[512], vlens[512], n = 0, nf = 0;
	char digits[512][4];
	unsigned never[512];
	nghttp2_hd_inflater *inf;
	const uint8_t *in;

	while (size >= 4 && nf < 512) {
		unsigned flags = data[0];
		size_t nlen = data[1], vlen = (size_t)data[2] << 8 | data[3], w;
		unsigned ef;

		data += 4;
		size -= 4;
		if (flags & 2) {
			int status =
			    100 + (int)(nlen << 8 | (vlen & 0xff)) % 900;

			snprintf(digits[nf], sizeof(digits[nf]), "%d", status);
			w = sl_hpack_enc_status(block + n, status);
			CHECK(w > 0 && w <= 5);
			names[nf] = (const uint8_t *)":status";
			nlens[nf] = 7;
			values[nf] = (const uint8_t *)digits[nf];
			vlens[nf] = 3;
			never[nf++] = 0;
			n += w;
			continue;
		}
		if (nlen + vlen > size)
			break;
		ef = (flags & 1 ? SL_HPACK_F_NEVER : 0) |
		     (flags & 8 ? SL_HPACK_F_RAW : 0);
		if ((flags & 4) && nlen >= 1 && nlen <= SL_HPACK_MEMO_NAME) {
			w = sl_hpack_enc_field_memo(
			    &memo, block + n, sizeof(block) - n,
			    (const char *)data, nlen, (const char *)data + nlen,
			    vlen, ef);
			CHECK(w > 0 && w <= SL_HPACK_ENC_MAX(nlen, vlen));
			CHECK(sl_hpack_enc_field_memo(
				  &memo, spare, w - 1, (const char *)data, nlen,
				  (const char *)data + nlen, vlen, ef) == 0);
			for (size_t k = 0; k < nlen; k++)
				lowered[nf][k] =
				    (char)(data[k] >= 'A' && data[k] <= 'Z'
					       ? data[k] | 0x20
					       : data[k]);
			/* the general encoder's bytes, exactly */
			CHECK(sl_hpack_enc_field(
				  spare, sizeof(spare), lowered[nf], nlen,
				  (const char *)data + nlen, vlen, ef) == w &&
			      memcmp(spare, block + n, w) == 0);
			names[nf] = (const uint8_t *)lowered[nf];
			nlens[nf] = nlen;
			values[nf] = data + nlen;
			vlens[nf] = vlen;
			never[nf++] = flags & 1;
			n += w;
			data += nlen + vlen;
			size -= nlen + vlen;
			continue;
		}
		if (flags & 16) {
			/* a request's pseudo-field by its name's static
			 * index (nlen's bytes unused): the general encoder's
			 * bytes for the name */
			static const char *const pn[] = {
			    ":authority", ":method", ":path", ":scheme"};
			static const enum sl_hpack_pseudo pi[] = {
			    SL_HPACK_AUTHORITY, SL_HPACK_METHOD, SL_HPACK_PATH,
			    SL_HPACK_SCHEME};
			const char *v = (const char *)data + nlen;

			w = sl_hpack_enc_pseudo(block + n, sizeof(block) - n,
						pi[nlen % 4], v, vlen, ef);
			CHECK(w > 0 && w <= SL_HPACK_ENC_MAX(0, vlen));
			CHECK(sl_hpack_enc_pseudo(spare, w - 1, pi[nlen % 4], v,
						  vlen, ef) == 0);
			CHECK(sl_hpack_enc_field(
				  spare, sizeof(spare), pn[nlen % 4],
				  strlen(pn[nlen % 4]), v, vlen, ef) == w &&
			      memcmp(spare, block + n, w) == 0);
			names[nf] = (const uint8_t *)pn[nlen % 4];
			nlens[nf] = strlen(pn[nlen % 4]);
			values[nf] = (const uint8_t *)v;
			vlens[nf] = vlen;
			never[nf++] = flags & 1;
			n += w;
			data += nlen + vlen;
			size -= nlen + vlen;
			continue;
		}
		w = sl_hpack_enc_field(block + n, sizeof(block) - n,
				       (const char *)data, nlen,
				       (const char *)data + nlen, vlen, ef);
		CHECK(w > 0 && w <= SL_HPACK_ENC_MAX(nlen, vlen));
		/* (elsewhere: a refused write may leave bytes behind) */
		CHECK(sl_hpack_enc_field(spare, w - 1, (const char *)data, nlen,
					 (const char *)data + nlen, vlen,
					 ef) == 0);
		names[nf] = data;
		nlens[nf] = nlen;
		values[nf] = data + nlen;
		vlens[nf] = vlen;
		never[nf++] = flags & 1;
		n += w;
		data += nlen + vlen;
		size -= nlen + vlen;
	}
	CHECK(nghttp2_hd_inflate_new(&inf) == 0);
	in = block;
	for (size_t i = 0;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t rv = nghttp2_hd_inflate_hd2(
		    inf, &nv, &flags, in, n - (size_t)(in - block), 1);

		CHECK(rv >= 0);
		in += rv;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			CHECK(i < nf);
			CHECK(nv.namelen == nlens[i] &&
			      memcmp(nv.name, names[i], nlens[i]) == 0);
			CHECK(nv.valuelen == vlens[i] &&
			      memcmp(nv.value, values[i], vlens[i]) == 0);
			/* a never-indexed field stays so; an indexed one
			 * (":status: 200") is never marked */
			CHECK(!!(nv.flags & NGHTTP2_NV_FLAG_NO_INDEX) ==
			      !!never[i]);
			i++;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			CHECK(i == nf);
			break;
		}
	}
	CHECK(nghttp2_hd_inflate_get_dynamic_table_size(inf) == 0);
	nghttp2_hd_inflate_del(inf);
	return 0;
}
