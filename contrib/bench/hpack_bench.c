/* SPDX-License-Identifier: MIT */
/*
 * The work of contrib/bench/hpack.sh: decodes or encodes one kind of
 * header block N times, with sluice's HPACK (src/h2/hpack.c) or
 * nghttp2's, so that callgrind can count the instructions of one block
 * (the difference of two runs over N). The request blocks are what
 * h2load sends (contrib/bench/icount.sh --h2, grpc.sh): made once by
 * nghttp2's deflater, as a client's, the first block filling the dynamic
 * table and the one measured (the second) indexing it. The response
 * blocks are what sluice writes to a client: a 200 with its fields (a
 * request id of its own each time), and gRPC's trailers. nghttp2's
 * decoder is followed by the checks its session makes of each field
 * (nghttp2_check_header_name, nghttp2_check_header_value_rfc9113), as
 * sluice's decoder makes them.
 *	hpack_bench {sl|ng} {dec-get|dec-grpc|enc-resp|enc-trailers} N
 */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpack.h"

#define NV(n, v)                                                               \
	{                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,  \
		    NGHTTP2_NV_FLAG_NONE                                       \
	}

static nghttp2_nv get_req[] = {
    NV(":method", "GET"),
    NV(":path", "/"),
    NV(":scheme", "http"),
    NV(":authority", "127.0.0.1:19400"),
    NV("accept-encoding", "gzip, deflate"),
    NV("user-agent", "h2load nghttp2/1.52.0"),
};
static nghttp2_nv grpc_req[] = {
    NV(":method", "POST"),
    NV(":path", "/bench.Svc/Call"),
    NV(":scheme", "http"),
    NV(":authority", "127.0.0.1:19400"),
    NV("content-type", "application/grpc"),
    NV("te", "trailers"),
    NV("user-agent", "h2load nghttp2/1.52.0"),
};
static char request_id[] = "5b0f0c2d6a7e4f1a9c3b8d2e1f0a7b6c";
static nghttp2_nv resp[] = {
    NV(":status", "200"),
    NV("content-type", "text/plain"),
    NV("content-length", "100"),
    NV("x-request-id", "5b0f0c2d6a7e4f1a9c3b8d2e1f0a7b6c"),
};

/* each response has a request id of its own, as sluice's do */
static void
next_id(long i)
{
	static const char hex[] = "0123456789abcdef";

	for (int k = 0; k < 8; k++)
		request_id[k] = hex[(i >> (4 * k)) & 15];
	resp[3].value = (uint8_t *)request_id;
}
static nghttp2_nv trailers[] = {
    NV("grpc-status", "0"),
    NV("grpc-message", ""),
};

static uint8_t blocks[2][512];
static size_t blens[2];
static char scratch[8192];
static volatile size_t sink;

static void
deflate2(nghttp2_nv *nv, size_t n)
{
	nghttp2_hd_deflater *def;

	if (nghttp2_hd_deflate_new(&def, 4096) != 0)
		exit(1);
	for (int i = 0; i < 2; i++) {
		ssize_t r = nghttp2_hd_deflate_hd(def, blocks[i],
						  sizeof(blocks[i]), nv, n);
		if (r < 0)
			exit(1);
		blens[i] = (size_t)r;
	}
	nghttp2_hd_deflate_del(def);
}

static int
on_field(void *arg, const char *name, size_t nlen, const char *value,
	 size_t vlen, unsigned flags)
{
	(void)arg;
	(void)name;
	(void)value;
	(void)flags;
	sink += nlen + vlen;
	return 0;
}

static void
sl_dec(long n)
{
	struct sl_hpack_dec d;

	sl_hpack_dec_init(&d, 4096);
	if (sl_hpack_decode(&d, blocks[0], blens[0], scratch, sizeof(scratch),
			    on_field, NULL) != SL_HPACK_OK)
		exit(2);
	for (long i = 0; i < n; i++)
		if (sl_hpack_decode(&d, blocks[1], blens[1], scratch,
				    sizeof(scratch), on_field,
				    NULL) != SL_HPACK_OK)
			exit(2);
	sl_hpack_dec_free(&d);
}

static void
ng_block(nghttp2_hd_inflater *inf, const uint8_t *in, size_t len)
{
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r =
		    nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, len, 1);

		if (r < 0)
			exit(2);
		in += r;
		len -= (size_t)r;
		/* the checks nghttp2's session makes of every field, as
		 * sluice's decoder does */
		if ((flags & NGHTTP2_HD_INFLATE_EMIT) &&
		    nghttp2_check_header_name(nv.name, nv.namelen) &&
		    nghttp2_check_header_value_rfc9113(nv.value, nv.valuelen))
			sink += nv.namelen + nv.valuelen;
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
	}
	nghttp2_hd_inflate_end_headers(inf);
}

static void
ng_dec(long n)
{
	nghttp2_hd_inflater *inf;

	if (nghttp2_hd_inflate_new(&inf) != 0)
		exit(1);
	ng_block(inf, blocks[0], blens[0]);
	for (long i = 0; i < n; i++)
		ng_block(inf, blocks[1], blens[1]);
	nghttp2_hd_inflate_del(inf);
}

static void
sl_enc(nghttp2_nv *nv, size_t nnv, long n)
{
	uint8_t out[512];

	for (long i = 0; i < n; i++) {
		size_t w = 0;

		if (nv == resp)
			next_id(i);
		for (size_t j = 0; j < nnv; j++)
			w += sl_hpack_enc_field(
			    out + w, sizeof(out) - w, (const char *)nv[j].name,
			    nv[j].namelen, (const char *)nv[j].value,
			    nv[j].valuelen, 0);
		sink += w;
	}
}

/* nghttp2's deflater as sluice's client sessions have it today: no
 * dynamic table (nghttp2_option_set_max_deflate_dynamic_table_size 0,
 * src/front/h2.c) */
static void
ng_enc(nghttp2_nv *nv, size_t nnv, long n)
{
	nghttp2_hd_deflater *def;
	uint8_t out[512];

	if (nghttp2_hd_deflate_new(&def, 0) != 0)
		exit(1);
	for (long i = 0; i < n; i++) {
		ssize_t r;

		if (nv == resp)
			next_id(i);
		r = nghttp2_hd_deflate_hd(def, out, sizeof(out), nv, nnv);
		if (r < 0)
			exit(2);
		sink += (size_t)r;
	}
	nghttp2_hd_deflate_del(def);
}

int
main(int argc, char **argv)
{
	long n;
	int sl;

	if (argc != 4) {
		fprintf(stderr, "usage: hpack_bench {sl|ng} "
				"{dec-get|dec-grpc|enc-resp|enc-trailers} N\n");
		return 2;
	}
	sl = strcmp(argv[1], "sl") == 0;
	n = strtol(argv[3], NULL, 10);
	if (strcmp(argv[2], "dec-get") == 0) {
		deflate2(get_req, sizeof(get_req) / sizeof(get_req[0]));
		sl ? sl_dec(n) : ng_dec(n);
	} else if (strcmp(argv[2], "dec-grpc") == 0) {
		deflate2(grpc_req, sizeof(grpc_req) / sizeof(grpc_req[0]));
		sl ? sl_dec(n) : ng_dec(n);
	} else if (strcmp(argv[2], "enc-resp") == 0) {
		sl ? sl_enc(resp, 4, n) : ng_enc(resp, 4, n);
	} else if (strcmp(argv[2], "enc-trailers") == 0) {
		sl ? sl_enc(trailers, 2, n) : ng_enc(trailers, 2, n);
	} else {
		return 2;
	}
	return 0;
}
