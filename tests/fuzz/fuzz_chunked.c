/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the chunked decoder: decodes the input whole (in
 * place and compacting), byte by byte and in uneven pieces, and checks all
 * of them agree on the result, the bytes consumed and the payload. The
 * HTTP/1.1 codec's way too (client_h1.c, dechunk_run): unframing in pieces,
 * the trailer section gathered from each piece's tail, which must be the
 * input's bytes from the section's start to the end, and make a field
 * block (sl_h1_trailers_block) once the message is whole. And the way
 * back: the payload and that block framed again by the chunk writer
 * (h1_msg.c, sl_h1_chunker_iov), its payload arriving and its writes cut
 * at sizes the input picks, decode to the same payload and block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "hblock.h"

#define MAX_TRAILER 128

struct result {
	int ret;
	size_t consumed;
	size_t data_len;
};

/*
 * Decodes a copy of in[0 .. size) in pieces: piece 0 = all at once, 1 = byte
 * by byte, larger = uneven pieces of at most that many bytes. With compact,
 * the payload is gathered into out; without, the copy must stay unchanged.
 */
static struct result
decode(const uint8_t *in, size_t size, size_t piece, int compact, char *work,
       char *out)
{
	struct sl_h1_chunked c;
	struct result res = {0, 0, 0};
	size_t off = 0, n, consumed, dl, k = 0;
	int r = 0;

	memcpy(work, in, size);
	sl_h1_chunked_init(&c, MAX_TRAILER);
	do {
		n = size - off;
		if (piece == 1)
			n = n > 0 ? 1 : 0;
		else if (piece > 1 && n > 1 + (k * 7 + off) % piece)
			n = 1 + (k * 7 + off) % piece; /* uneven pieces */
		k++;
		r = sl_h1_chunked_decode(&c, work + off, n, compact, &consumed,
					 &dl);
		CHECK(r == 0 || r == 1 || r == -400);
		CHECK(r != -400 ||
		      (c.why > SL_H1_R_NONE && c.why < SL_H1_R_NREASONS));
		CHECK(consumed <= n && dl <= consumed);
		if (r == 0)
			CHECK(consumed == n);
		if (compact)
			memcpy(out + res.data_len, work + off, dl);
		else
			CHECK(memcmp(work + off, in + off, n) == 0);
		res.data_len += dl;
		off += consumed;
	} while (r == 0 && off < size);
	CHECK(c.done == (r == 1));
	CHECK(c.trailer_bytes <= MAX_TRAILER);
	res.ret = r;
	res.consumed = off;
	return res;
}

/*
 * Unframes a copy of in in uneven pieces of at most piece bytes, as the
 * HTTP/1.1 codec does: the payload gathered into out, the trailer
 * section's text into trl (*trl_len bytes), which must be the input's
 * last bytes of what was consumed.
 */
static struct result
unframe(const uint8_t *in, size_t size, size_t piece, char *work, char *out,
	char *trl, size_t *trl_len)
{
	struct sl_h1_chunked c;
	struct result res = {0, 0, 0};
	size_t off = 0, n, consumed, dl, at, k = 0;
	int r = 0;

	*trl_len = 0;
	memcpy(work, in, size);
	sl_h1_chunked_init(&c, MAX_TRAILER);
	do {
		n = size - off;
		if (n > 1 + (k * 5 + off) % piece)
			n = 1 + (k * 5 + off) % piece;
		k++;
		r = sl_h1_chunked_unframe(&c, work + off, n, &consumed, &dl,
					  &at);
		CHECK(r == 0 || r == 1 || r == -400);
		CHECK(consumed <= n && dl <= at && at <= consumed);
		memcpy(out + res.data_len, work + off, dl);
		res.data_len += dl;
		/* a section's bytes, as they came: once it began, all of a
		 * piece's are */
		CHECK(*trl_len == 0 || at == 0 || r < 0);
		memcpy(trl + *trl_len, work + off + at, consumed - at);
		*trl_len += consumed - at;
		off += consumed;
	} while (r == 0 && off < size);
	CHECK(*trl_len <= off);
	if (r >= 0)
		CHECK(memcmp(trl, in + off - *trl_len, *trl_len) == 0);
	res.ret = r;
	res.consumed = off;
	return res;
}

/*
 * The payload (n bytes) and the trailers' block framed by the chunk
 * writer: the payload comes in runs and the writes stop at sizes taken
 * from the input (cuts), as a writer's socket would. What went must
 * decode whole to the same payload, and its trailer section to the same
 * block.
 */
static void
reframe(const char *payload, size_t n, const char *blk, const uint8_t *cuts,
	size_t ncuts)
{
	struct sl_h1_chunker ck;
	struct sl_h1_chunked c;
	size_t ll = sl_h1_last_chunk_len(blk), cap, have = 0, taken = 0;
	size_t wlen = 0, k = 0, used, dl, at;
	char *last = malloc(ll), *wire, *blk2;
	struct sl_hblk b;
	int ended = 0;

	/* a chunk a byte of payload at worst: 18 + 2 + 2 bytes of framing */
	cap = n * 23 + ll + 32;
	wire = malloc(cap);
	CHECK(last != NULL && wire != NULL);
	CHECK(sl_h1_last_chunk(last, blk) == ll);
	memset(&ck, 0, sizeof(ck));
	while (!ended) {
		struct iovec iov[SL_H1_CHUNKER_IOV];
		size_t w = ncuts > 0 ? 1 + cuts[k % ncuts] % 32 : 7, room;
		size_t more = ncuts > 0 ? cuts[(k + 1) % ncuts] % 64 : 50;
		int niov;

		CHECK(k++ < 4 * cap);
		have = have + more < n ? have + more : n;
		niov = sl_h1_chunker_iov(&ck, payload + taken, have - taken,
					 have == n, last, ll, iov);
		CHECK(niov >= 0 && niov <= SL_H1_CHUNKER_IOV);
		room = w;
		for (int i = 0; i < niov && w > 0; i++) {
			size_t m = w < iov[i].iov_len ? w : iov[i].iov_len;
			CHECK(wlen + m <= cap);
			memcpy(wire + wlen, iov[i].iov_base, m);
			wlen += m;
			w -= m;
		}
		taken += sl_h1_chunker_sent(&ck, room - w, &ended);
		CHECK(taken <= have);
	}
	CHECK(taken == n && !sl_h1_chunker_open(&ck));
	sl_h1_chunked_init(&c, 1 << 20);
	CHECK(sl_h1_chunked_unframe(&c, wire, wlen, &used, &dl, &at) == 1);
	CHECK(used == wlen && dl == n && memcmp(wire, payload, n) == 0);
	blk2 = malloc(sizeof(struct sl_hblk) + 2 * (used - at));
	CHECK(blk2 != NULL);
	CHECK(sl_h1_trailers_block(wire + at, used - at, blk2,
				   sizeof(struct sl_hblk) + 2 * (used - at)) >=
	      0);
	sl_hblk_head(blk, &b);
	CHECK(memcmp(blk, blk2, b.len) == 0);
	free(blk2);
	free(wire);
	free(last);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole, inplace, bytes, pieces;
	char *work, *out1, *out2;

	if (size > 65536)
		return 0;
	work = malloc(size + 1);
	out1 = malloc(size + 1);
	out2 = malloc(size + 1);
	CHECK(work != NULL && out1 != NULL && out2 != NULL);

	whole = decode(data, size, 0, 1, work, out1);
	inplace = decode(data, size, 0, 0, work, out2);
	CHECK(whole.ret == inplace.ret && whole.consumed == inplace.consumed &&
	      whole.data_len == inplace.data_len);

	bytes = decode(data, size, 1, 1, work, out2);
	CHECK(whole.ret == bytes.ret && whole.consumed == bytes.consumed &&
	      whole.data_len == bytes.data_len);
	CHECK(memcmp(out1, out2, whole.data_len) == 0);

	pieces = decode(data, size, 13, 1, work, out2);
	CHECK(whole.ret == pieces.ret && whole.consumed == pieces.consumed &&
	      whole.data_len == pieces.data_len);
	CHECK(memcmp(out1, out2, whole.data_len) == 0);

	if (whole.ret == 1)
		CHECK(whole.consumed >= 5 && data[whole.consumed - 1] == '\n');

	for (size_t piece = 1; piece <= 29; piece += 14) {
		char *trl = malloc(size + 1), *blk;
		size_t tl;

		CHECK(trl != NULL);
		pieces = unframe(data, size, piece, work, out2, trl, &tl);
		CHECK(whole.ret == pieces.ret &&
		      whole.consumed == pieces.consumed &&
		      whole.data_len == pieces.data_len);
		CHECK(memcmp(out1, out2, whole.data_len) == 0);
		if (whole.ret == 1) {
			/* the whole section, its final CRLF last */
			CHECK(tl >= 2 && memcmp(trl + tl - 2, "\r\n", 2) == 0);
			blk = malloc(sizeof(struct sl_hblk) + 2 * tl);
			CHECK(blk != NULL);
			CHECK(sl_h1_trailers_block(trl, tl, blk,
						   sizeof(struct sl_hblk) +
						       2 * tl) >= 0);
			if (piece == 1)
				reframe(out1, whole.data_len, blk, data,
					size < 16 ? size : 16);
			free(blk);
		}
		free(trl);
	}
	free(work);
	free(out1);
	free(out2);
	return 0;
}
