/* SPDX-License-Identifier: MIT */
/*
 * libnghttp3's QPACK as the oracle of sluice's (src/h3/qpack.c), for
 * tests/unit/test_qpack.c and tests/fuzz/fuzz_qpack.c: its decoder with
 * a dynamic table of capacity 0 on a field section and on an encoder
 * stream, its encoder on a decoder stream. Static functions, included
 * by both.
 */
#ifndef QPACK_ORACLE_H
#define QPACK_ORACLE_H

#include <nghttp3/nghttp3.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ORACLE_MAXF 256

/* The fields a decoder gave, copied. */
struct ofields {
	int n;
	int over; /* a field did not fit: the list stops there */
	size_t noff[ORACLE_MAXF], nlen[ORACLE_MAXF];
	size_t voff[ORACLE_MAXF], vlen[ORACLE_MAXF];
	unsigned never[ORACLE_MAXF];
	size_t used;
	char store[1 << 17];
};

static void
ofields_add(struct ofields *f, const void *n, size_t nlen, const void *v,
	    size_t vlen, unsigned never)
{
	if (f->over || f->n == ORACLE_MAXF ||
	    nlen + vlen > sizeof(f->store) - f->used) {
		f->over = 1;
		return;
	}
	f->noff[f->n] = f->used;
	f->nlen[f->n] = nlen;
	memcpy(f->store + f->used, n, nlen);
	f->used += nlen;
	f->voff[f->n] = f->used;
	f->vlen[f->n] = vlen;
	memcpy(f->store + f->used, v, vlen);
	f->used += vlen;
	f->never[f->n] = never;
	f->n++;
}

/* What nghttp3 made of a section. */
#define ORACLE_OK	 0
#define ORACLE_FAILED	 -1 /* QPACK_DECOMPRESSION_FAILED */
#define ORACLE_TOO_LARGE -2 /* its own limit on a field's size */

/* Decodes a whole field section with a fresh decoder of capacity 0. */
static int
oracle_decode(const uint8_t *in, size_t len, struct ofields *f)
{
	const nghttp3_mem *mem = nghttp3_mem_default();
	nghttp3_qpack_decoder *dec;
	nghttp3_qpack_stream_context *sctx;
	int rc = ORACLE_FAILED;

	f->n = f->over = 0;
	f->used = 0;
	if (nghttp3_qpack_decoder_new(&dec, 0, 0, mem) != 0)
		abort();
	if (nghttp3_qpack_stream_context_new(&sctx, 0, mem) != 0)
		abort();
	for (;;) {
		nghttp3_qpack_nv nv;
		uint8_t flags = 0;
		nghttp3_ssize rv = nghttp3_qpack_decoder_read_request(
		    dec, sctx, &nv, &flags, in, len, 1);

		if (rv < 0) {
			rc = rv == NGHTTP3_ERR_QPACK_HEADER_TOO_LARGE
				 ? ORACLE_TOO_LARGE
				 : ORACLE_FAILED;
			break;
		}
		in += rv;
		len -= (size_t)rv;
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
			nghttp3_vec n = nghttp3_rcbuf_get_buf(nv.name);
			nghttp3_vec v = nghttp3_rcbuf_get_buf(nv.value);

			ofields_add(f, n.base, n.len, v.base, v.len,
				    (nv.flags & NGHTTP3_NV_FLAG_NEVER_INDEX) !=
					0);
			nghttp3_rcbuf_decref(nv.name);
			nghttp3_rcbuf_decref(nv.value);
		}
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) {
			rc = ORACLE_OK;
			break;
		}
		if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED)
			break; /* cannot happen at capacity 0: a failure */
		if (rv == 0 && len == 0)
			break;
	}
	nghttp3_qpack_stream_context_del(sctx);
	nghttp3_qpack_decoder_del(dec);
	return rc;
}

/* Feeds the peer's encoder stream (decoder 0) to a decoder of capacity 0,
 * or its decoder stream (decoder 1) to an encoder that has sent nothing,
 * in pieces of `piece` bytes. Returns 0 when it takes it all, -1 on an
 * error. */
static int
oracle_stream(const uint8_t *in, size_t len, size_t piece, int decoder)
{
	const nghttp3_mem *mem = nghttp3_mem_default();
	nghttp3_qpack_decoder *dec = NULL;
	nghttp3_qpack_encoder *enc = NULL;
	int rc = 0;

	if (decoder ? nghttp3_qpack_encoder_new(&enc, 0, mem) != 0
		    : nghttp3_qpack_decoder_new(&dec, 0, 0, mem) != 0)
		abort();
	while (len > 0 && rc == 0) {
		size_t n = len < piece ? len : piece;
		nghttp3_ssize rv =
		    decoder ? nghttp3_qpack_encoder_read_decoder(enc, in, n)
			    : nghttp3_qpack_decoder_read_encoder(dec, in, n);

		if (rv < 0 || (size_t)rv != n)
			rc = -1;
		in += n;
		len -= n;
	}
	if (decoder)
		nghttp3_qpack_encoder_del(enc);
	else
		nghttp3_qpack_decoder_del(dec);
	return rc;
}

#endif
