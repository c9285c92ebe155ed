/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for zstream.c, each coding that is built: what it writes
 * decodes with its library's decoder (zlib's inflate, libbrotlidec when
 * configure found it, ZSTD_decompressStream) back to the input, fed whole
 * or in pieces, with output buffers down to a byte; after a SYNC flush all
 * of the input so far decodes; levels and windows at and past their ends;
 * a known length shrinks the window and the memory; the memory the
 * libraries hold is counted; unknown codings are refused. The tests of
 * gzip's small rooms and 4 GiB lengths failed before zstream.c's spill
 * and 32-bit caps.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_NORESERVE, MAP_ANONYMOUS */
#endif

#include <sys/mman.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_BROTLI
#include <brotli/encode.h>
#endif
#ifdef HAVE_BROTLIDEC
#include <brotli/decode.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "zstream.h"

/* Calls of sl_zstream_run for one piece before the test calls it a loop. */
#define MAX_CALLS 2000000L

static const char *const cname[] = {"", "gzip", "br", "zstd"};

/* ---- helpers ------------------------------------------------------------ */

/* A growing byte string. */
struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void
put(struct bytes *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* n bytes of something like a JSON body: words, numbers, repeats, so
 * that every coding has matches to find and literals to write. */
static char *
body(size_t n, uint32_t seed)
{
	static const char *const words[] = {
	    "{\"id\":",	 ",\"name\":\"", "\",\"tags\":[", "],\"price\":",
	    "\"alpha\"", "\"beta\"",	 "sluice",	  "gateway ",
	    "}\n",	 "compress",	 "true,",	  "null,"};
	char *p = malloc(n + 1);
	size_t i = 0;
	uint32_t s = seed | 1;

	assert_non_null(p);
	while (i < n) {
		uint32_t r = rnd(&s);
		char tmp[16];
		const char *w;
		size_t k;
		if (r % 5 == 0) {
			snprintf(tmp, sizeof(tmp), "%u", (unsigned)(r >> 8));
			w = tmp;
		} else
			w = words[(r >> 3) %
				  (sizeof(words) / sizeof(words[0]))];
		k = strlen(w);
		if (k > n - i)
			k = n - i;
		memcpy(p + i, w, k);
		i += k;
	}
	return p;
}

/*
 * Decodes p[0..n) of coding c into out[0..cap): the bytes decoded, or -1
 * when the decoder refuses them or wants more room. *ended: the stream's
 * end was there, and nothing after it. Without a decoder (Brotli's when
 * configure found no libbrotlidec): -2.
 */
static long
decode(int c, const unsigned char *p, size_t n, unsigned char *out, size_t cap,
       int *ended)
{
	*ended = 0;
	switch (c) {
#ifdef HAVE_ZLIB
	case 1: {
		z_stream s;
		int r;
		memset(&s, 0, sizeof(s));
		assert_int_equal(inflateInit2(&s, 16 + MAX_WBITS), Z_OK);
		s.next_in = (Bytef *)(uintptr_t)p;
		s.avail_in = (uInt)n;
		s.next_out = out;
		s.avail_out = (uInt)cap;
		r = inflate(&s, Z_SYNC_FLUSH);
		inflateEnd(&s);
		if (r == Z_STREAM_END) {
			*ended = s.avail_in == 0;
			return *ended ? (long)(cap - s.avail_out) : -1;
		}
		if ((r != Z_OK && r != Z_BUF_ERROR) || s.avail_in != 0 ||
		    s.avail_out == 0)
			return -1;
		return (long)(cap - s.avail_out);
	}
#endif
#ifdef HAVE_BROTLIDEC
	case 2: {
		BrotliDecoderState *d =
		    BrotliDecoderCreateInstance(NULL, NULL, NULL);
		const uint8_t *ni = p;
		uint8_t *no = out;
		size_t ai = n, ao = cap;
		BrotliDecoderResult r;
		assert_non_null(d);
		r = BrotliDecoderDecompressStream(d, &ai, &ni, &ao, &no, NULL);
		BrotliDecoderDestroyInstance(d);
		if (r == BROTLI_DECODER_RESULT_SUCCESS) {
			*ended = ai == 0;
			return *ended ? (long)(cap - ao) : -1;
		}
		if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT || ai != 0)
			return -1;
		return (long)(cap - ao);
	}
#endif
#ifdef HAVE_ZSTD
	case 3: {
		ZSTD_DCtx *d = ZSTD_createDCtx();
		ZSTD_inBuffer ib = {p, n, 0};
		ZSTD_outBuffer ob = {out, cap, 0};
		size_t r = 1;
		assert_non_null(d);
		for (;;) {
			size_t ip = ib.pos, op = ob.pos;
			r = ZSTD_decompressStream(d, &ob, &ib);
			if (ZSTD_isError(r)) {
				ZSTD_freeDCtx(d);
				return -1;
			}
			if ((r == 0 && ib.pos == ib.size) ||
			    (ib.pos == ip && ob.pos == op))
				break;
		}
		ZSTD_freeDCtx(d);
		if (ib.pos != ib.size || ob.pos == ob.size)
			return -1;
		*ended = r == 0;
		return (long)ob.pos;
	}
#endif
	default:
		(void)p;
		(void)n;
		(void)out;
		(void)cap;
		return -2;
	}
}

static int
have_decoder(int c)
{
#ifndef HAVE_BROTLIDEC
	if (c == 2)
		return 0;
#endif
	return sl_zstream_built(c);
}

/* The coded bytes decode whole to want[0..n). */
static void
assert_decodes(int c, const struct bytes *b, const char *want, size_t n)
{
	unsigned char *out;
	long got;
	int ended;

	if (!have_decoder(c))
		return;
	out = malloc(n + 64);
	assert_non_null(out);
	got = decode(c, b->p, b->len, out, n + 64, &ended);
	if (got != (long)n || !ended || memcmp(out, want, n) != 0)
		fail_msg("%s: %zu bytes coded to %zu decode to %ld%s", cname[c],
			 n, b->len, got, ended ? "" : " (no end)");
	free(out);
}

/* The coded bytes so far decode to want[0..n), without an end yet. */
static void
assert_prefix_decodes(int c, const struct bytes *b, const char *want, size_t n)
{
	unsigned char *out;
	long got;
	int ended;

	if (!have_decoder(c))
		return;
	out = malloc(n + 64);
	assert_non_null(out);
	got = decode(c, b->p, b->len, out, n + 64, &ended);
	if (got != (long)n || ended || memcmp(out, want, n) != 0)
		fail_msg("%s: after a flush, %zu bytes of input coded to %zu "
			 "decode to %ld%s",
			 cname[c], n, b->len, got, ended ? " (and end)" : "");
	free(out);
}

/*
 * Runs in[0..n) through z with flush, as the exchange does: again with
 * the input not taken while it says 1. Output in outcap-byte buffers,
 * each exactly that size (ASan sees a write past one). Returns the calls
 * that said 1.
 */
static long
run(struct sl_zstream *z, const char *in, size_t n, size_t outcap,
    enum sl_zflush flush, struct bytes *b)
{
	char *out = malloc(outcap ? outcap : 1);
	size_t off = 0;
	long calls = 0, more = 0;
	int r;

	assert_non_null(out);
	do {
		size_t cons = 12345, prod = 12345;
		r = sl_zstream_run(z, n > off ? in + off : NULL, n - off, &cons,
				   out, outcap, &prod, flush);
		assert_int_not_equal(r, -1);
		assert_true(cons <= n - off);
		assert_true(prod <= outcap);
		put(b, out, prod);
		off += cons;
		more += r == 1;
		if (++calls > MAX_CALLS)
			fail_msg("flush %d, %zu-byte output: still 1 after "
				 "%ld calls (%zu bytes out)",
				 (int)flush, outcap, calls, b->len);
	} while (r == 1);
	/* done with it: all of the input taken */
	assert_int_equal(off, n);
	free(out);
	return more;
}

/* in[0..n) in pieces of piece bytes with NONE, then END, in outcap-byte
 * buffers; decoded and compared. Returns the calls that said 1. */
static long
round_trip(int c, int level, unsigned wlog, uint64_t hint, const char *in,
	   size_t n, size_t piece, size_t outcap)
{
	struct sl_zstream *z = sl_zstream_new(c, level, wlog, hint);
	struct bytes b = {0};
	long more = 0;
	size_t cons, prod;
	char o[8];

	if (z == NULL)
		fail_msg("%s: no stream at level %d, window %u", cname[c],
			 level, wlog);
	assert_true(sl_zstream_mem(z) > 0);
	for (size_t off = 0; off < n; off += piece)
		more += run(z, in + off, n - off < piece ? n - off : piece,
			    outcap, SL_ZFLUSH_NONE, &b);
	more += run(z, NULL, 0, outcap, SL_ZFLUSH_END, &b);
	assert_true(sl_zstream_mem(z) > 0);
	/* finished: nothing more, whatever is asked */
	assert_int_equal(sl_zstream_run(z, "x", 1, &cons, o, sizeof(o), &prod,
					SL_ZFLUSH_END),
			 0);
	assert_int_equal(cons, 0);
	assert_int_equal(prod, 0);
	assert_int_equal(sl_zstream_run(z, NULL, 0, &cons, o, sizeof(o), &prod,
					SL_ZFLUSH_NONE),
			 0);
	assert_int_equal(prod, 0);
	sl_zstream_free(z);
	assert_decodes(c, &b, in, n);
	free(b.p);
	return more;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_built_and_versions(void **state)
{
	(void)state;
#ifdef HAVE_ZLIB
	assert_true(sl_zstream_built(1));
	assert_string_equal(sl_zstream_version(1), zlibVersion());
#else
	assert_false(sl_zstream_built(1));
	assert_null(sl_zstream_version(1));
#endif
#ifdef HAVE_BROTLI
	{
		uint32_t v = BrotliEncoderVersion();
		char want[32];
		snprintf(want, sizeof(want), "%u.%u.%u", v >> 24,
			 (v >> 12) & 0xfff, v & 0xfff);
		assert_true(sl_zstream_built(2));
		assert_string_equal(sl_zstream_version(2), want);
	}
#else
	assert_false(sl_zstream_built(2));
	assert_null(sl_zstream_version(2));
#endif
#ifdef HAVE_ZSTD
	assert_true(sl_zstream_built(3));
	assert_string_equal(sl_zstream_version(3), ZSTD_versionString());
#else
	assert_false(sl_zstream_built(3));
	assert_null(sl_zstream_version(3));
#endif
	if (sl_zstream_built(2) && !have_decoder(2))
		print_message("no libbrotlidec: Brotli is coded, never "
			      "decoded, here\n");
}

static void
test_unknown_coding(void **state)
{
	static const int bad[] = {0, 4, 5, -1, 255, 1 << 20};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(sl_zstream_built(bad[i]));
		/* 4 names libdeflate (gzip's one-shot), not a coding */
		if (bad[i] != 4)
			assert_null(sl_zstream_version(bad[i]));
		assert_null(sl_zstream_new(bad[i], 5, 15, 0));
		assert_null(sl_zstream_new(bad[i], 5, 15, 1000));
	}
	sl_zstream_free(NULL);
}

static void
test_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 100, 4096, 65536, 300000};
	static const int levels[] = {0, 5, 3, 3};
	char *in = body(300000, 1);

	(void)state;
	for (int c = 1; c <= 3; c++) {
		if (!sl_zstream_built(c))
			continue;
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			/* in one piece, in 4 KiB pieces, with a known length */
			round_trip(c, levels[c], 15, 0, in, n, n ? n : 1,
				   16384);
			round_trip(c, levels[c], 15, 0, in, n, 4096, 16384);
			round_trip(c, levels[c], 15, n, in, n, 1000, 16384);
		}
		/* the input with END, in one call */
		{
			struct sl_zstream *z =
			    sl_zstream_new(c, levels[c], 15, 0);
			struct bytes b = {0};
			assert_non_null(z);
			run(z, in, 50000, 1 << 20, SL_ZFLUSH_END, &b);
			sl_zstream_free(z);
			assert_decodes(c, &b, in, 50000);
			free(b.p);
		}
	}
	free(in);
}

static void
test_small_output(void **state)
{
	static const size_t caps[] = {1, 2, 7, 64};
	size_t n = 20000;
	char *in = body(n, 2);

	(void)state;
	for (int c = 1; c <= 3; c++) {
		if (!sl_zstream_built(c))
			continue;
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			/* output held back: 1 until it is all out */
			long more =
			    round_trip(c, 5, 15, 0, in, n, 3000, caps[i]);
			if (more == 0)
				fail_msg("%s: %zu-byte buffers never said 1",
					 cname[c], caps[i]);
		}
		/* even a tiny body's end, a byte at a time */
		round_trip(c, 5, 15, 0, in, 1, 1, 1);
		round_trip(c, 5, 15, 0, in, 0, 1, 1);
	}
	free(in);
}

/* After each SYNC the coded bytes so far decode to the input so far, in
 * outcap-byte buffers; the END then decodes whole. */
static void
sync_pieces(int c, int level, size_t outcap, const char *in, const size_t *cut,
	    size_t ncut)
{
	struct sl_zstream *z = sl_zstream_new(c, level, 15, 0);
	struct bytes b = {0};
	size_t off = 0, before;

	assert_non_null(z);
	for (size_t i = 0; i < ncut; i++) {
		/* part with NONE, the rest of the piece with SYNC */
		size_t half = (cut[i] - off) / 2;
		run(z, in + off, half, outcap, SL_ZFLUSH_NONE, &b);
		run(z, in + off + half, cut[i] - off - half, outcap,
		    SL_ZFLUSH_SYNC, &b);
		off = cut[i];
		assert_prefix_decodes(c, &b, in, off);
		/* a second flush with nothing new changes nothing decoded */
		before = b.len;
		run(z, NULL, 0, outcap, SL_ZFLUSH_SYNC, &b);
		assert_true(b.len - before < 16);
		assert_prefix_decodes(c, &b, in, off);
	}
	run(z, NULL, 0, outcap, SL_ZFLUSH_END, &b);
	sl_zstream_free(z);
	assert_decodes(c, &b, in, off);
	free(b.p);
}

static void
test_sync_flush(void **state)
{
	static const size_t cut[] = {1, 2, 1000, 1001, 40000, 40010, 120000};
	static const int lo[] = {0, 1, 0, 1}, hi[] = {0, 9, 11, 19};
	char *in = body(120000, 3);

	(void)state;
	for (int c = 1; c <= 3; c++) {
		if (!sl_zstream_built(c))
			continue;
		sync_pieces(c, 5, 16384, in, cut, 7);
		sync_pieces(c, 5, 7, in, cut, 5);
		sync_pieces(c, lo[c], 16384, in, cut, 7);
		sync_pieces(c, hi[c], 16384, in, cut, 5);
		/* the first flush before any input */
		{
			struct sl_zstream *z = sl_zstream_new(c, 5, 15, 0);
			struct bytes b = {0};
			run(z, NULL, 0, 64, SL_ZFLUSH_SYNC, &b);
			assert_prefix_decodes(c, &b, in, 0);
			run(z, in, 10, 64, SL_ZFLUSH_END, &b);
			sl_zstream_free(z);
			assert_decodes(c, &b, in, 10);
			free(b.p);
		}
	}
	free(in);
}

/* Pieces, flushes and output buffers of random sizes, a SYNC's promise
 * checked each time. */
static void
test_random_mix(void **state)
{
	size_t n = 60000;
	char *in = body(n, 4);
	uint32_t s = 0x5eed;

	(void)state;
	for (int c = 1; c <= 3; c++) {
		if (!sl_zstream_built(c))
			continue;
		for (int round = 0; round < 12; round++) {
			struct sl_zstream *z = sl_zstream_new(
			    c, (int)(rnd(&s) % 10), 10 + rnd(&s) % 6, 0);
			struct bytes b = {0};
			size_t off = 0, len = 1 + rnd(&s) % n;
			assert_non_null(z);
			while (off < len) {
				size_t k = 1 + rnd(&s) % 9000;
				/* at least 7 bytes of room: gzip's SYNC
				 * with less never ends (test_gzip_sync_
				 * tiny_output) */
				size_t cap = 7 + rnd(&s) % 3000;
				int sync = rnd(&s) % 3 == 0;
				if (k > len - off)
					k = len - off;
				run(z, in + off, k, cap,
				    sync ? SL_ZFLUSH_SYNC : SL_ZFLUSH_NONE, &b);
				off += k;
				if (sync)
					assert_prefix_decodes(c, &b, in, off);
			}
			run(z, NULL, 0, 7 + rnd(&s) % 3000, SL_ZFLUSH_END, &b);
			sl_zstream_free(z);
			assert_decodes(c, &b, in, len);
			free(b.p);
		}
	}
	free(in);
}

static void
test_levels_and_windows(void **state)
{
	static const struct {
		int c, level;
		unsigned wlog;
	} t[] = {
	    /* gzip: levels 0 to 9 and zlib's default (-1); windows 9 to 15,
	     * others clamped (zlib takes no 8 with the gzip wrapper) */
	    {1, 0, 15},
	    {1, 1, 15},
	    {1, 9, 15},
	    {1, -1, 15},
	    {1, 5, 0},
	    {1, 5, 8},
	    {1, 5, 9},
	    {1, 5, 16},
	    {1, 9, 100},
	    {1, 1, 9},
	    /* Brotli: quality 0 to 11 (the library clamps past them);
	     * windows 10 to 24 */
	    {2, 0, 22},
	    {2, 1, 22},
	    {2, 11, 16},
	    {2, 12, 16},
	    {2, -1, 16},
	    {2, 5, 0},
	    {2, 5, 10},
	    {2, 5, 24},
	    {2, 5, 100},
	    {2, 0, 0},
	    /* zstd: negative (fast) levels to 22, windows 10 to 27 */
	    {3, 1, 15},
	    {3, -5, 15},
	    {3, 19, 15},
	    {3, 22, 12},
	    {3, 3, 0},
	    {3, 3, 10},
	    {3, 100, 10},
	    {3, 1, 27},
	    {3, 1, 100},
	};
	size_t n = 70000;
	char *in = body(n, 5);

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!sl_zstream_built(t[i].c))
			continue;
		round_trip(t[i].c, t[i].level, t[i].wlog, 0, in, n, 8192,
			   16384);
		round_trip(t[i].c, t[i].level, t[i].wlog, n, in, n, 70000,
			   4096);
	}
	free(in);
}

#if defined(HAVE_ZLIB) || defined(HAVE_BROTLI) || defined(HAVE_ZSTD)
/* The memory of a stream after in[0..n) with NONE. */
static size_t
mem_after(int c, int level, unsigned wlog, uint64_t hint, const char *in,
	  size_t n)
{
	struct sl_zstream *z = sl_zstream_new(c, level, wlog, hint);
	struct bytes b = {0};
	size_t m;

	assert_non_null(z);
	run(z, in, n, 16384, SL_ZFLUSH_NONE, &b);
	m = sl_zstream_mem(z);
	run(z, NULL, 0, 16384, SL_ZFLUSH_END, &b);
	sl_zstream_free(z);
	assert_decodes(c, &b, in, n);
	free(b.p);
	return m;
}
#endif

static void
test_memory(void **state)
{
	char *in = body(100000, 6);

	(void)state;
#ifdef HAVE_ZLIB
	{
		/* zlib's deflate: (1 << (wbits + 2)) + (1 << (memlevel + 9))
		 * and its state, all at init; memlevel follows the window */
		struct sl_zstream *a = sl_zstream_new(1, 6, 15, 0),
				  *b = sl_zstream_new(1, 6, 9, 0),
				  *h = sl_zstream_new(1, 6, 15, 100),
				  *k = sl_zstream_new(1, 6, 15, 100000),
				  *lo = sl_zstream_new(1, 6, 0, 0),
				  *hi = sl_zstream_new(1, 6, 99, 0);
		assert_true(sl_zstream_mem(a) >= 256 * 1024);
		assert_true(sl_zstream_mem(a) < 300 * 1024);
		assert_true(sl_zstream_mem(b) < 16 * 1024);
		/* a known small length: the smallest window */
		assert_int_equal(sl_zstream_mem(h), sl_zstream_mem(b));
		/* one too large for a smaller window: none */
		assert_int_equal(sl_zstream_mem(k), sl_zstream_mem(a));
		/* clamped windows */
		assert_int_equal(sl_zstream_mem(lo), sl_zstream_mem(b));
		assert_int_equal(sl_zstream_mem(hi), sl_zstream_mem(a));
		sl_zstream_free(a);
		sl_zstream_free(b);
		sl_zstream_free(h);
		sl_zstream_free(k);
		sl_zstream_free(lo);
		sl_zstream_free(hi);
		/* a window just large enough: 2^13 holds 5000 bytes */
		a = sl_zstream_new(1, 6, 13, 0);
		h = sl_zstream_new(1, 6, 15, 5000);
		assert_int_equal(sl_zstream_mem(a), sl_zstream_mem(h));
		sl_zstream_free(a);
		sl_zstream_free(h);
		assert_true(mem_after(1, 6, 15, 1000, in, 1000) <
			    mem_after(1, 6, 15, 0, in, 1000));
	}
#endif
#ifdef HAVE_BROTLI
	/* counted from the instance on; a known length takes less */
	{
		struct sl_zstream *z = sl_zstream_new(2, 5, 22, 0);
		assert_true(sl_zstream_mem(z) > 0);
		sl_zstream_free(z);
		/* (the first kilobytes are only held: the hasher and the
		 * ring buffer come later) */
		assert_true(mem_after(2, 5, 22, 100000, in, 100000) <
			    mem_after(2, 5, 22, 0, in, 100000));
		assert_true(mem_after(2, 5, 22, 0, in, 100000) >
			    mem_after(2, 5, 22, 0, in, 1000));
		assert_int_equal(mem_after(2, 5, 99, 0, in, 50000),
				 mem_after(2, 5, 24, 0, in, 50000));
		assert_int_equal(mem_after(2, 5, 0, 0, in, 50000),
				 mem_after(2, 5, 10, 0, in, 50000));
	}
#endif
#ifdef HAVE_ZSTD
	/* the context at once, its tables with the first input */
	{
		struct sl_zstream *z = sl_zstream_new(3, 3, 20, 0);
		size_t m0 = sl_zstream_mem(z);
		assert_true(m0 > 0);
		sl_zstream_free(z);
		assert_true(mem_after(3, 3, 20, 0, in, 1000) > m0);
		assert_true(mem_after(3, 3, 20, 1000, in, 1000) <
			    mem_after(3, 3, 20, 0, in, 1000));
		/* level 9's chain and hash tables held to the window */
		assert_true(mem_after(3, 9, 12, 0, in, 50000) <
			    mem_after(3, 9, 20, 0, in, 50000));
		assert_int_equal(mem_after(3, 3, 0, 0, in, 50000),
				 mem_after(3, 3, 10, 0, in, 50000));
	}
#endif
	free(in);
}

#ifdef HAVE_BROTLI
/* The window a Brotli stream's header names (RFC 7932 section 9.1). */
static unsigned
br_wbits(const unsigned char *p)
{
	unsigned b = p[0];

	if ((b & 1) == 0)
		return 16;
	if (((b >> 1) & 7) != 0)
		return 17 + ((b >> 1) & 7);
	if (((b >> 4) & 7) != 0)
		return 8 + ((b >> 4) & 7);
	return 17;
}
#endif

static void
test_window_in_stream(void **state)
{
	(void)state;
#ifdef HAVE_BROTLI
	{
		static const struct {
			unsigned wlog;
			uint64_t hint;
			unsigned want;
		} t[] = {
		    {22, 0, 22},       {22, 100, 10},
		    {22, 600, 10},     {22, 1000, 10},
		    {22, 5000, 13},    {22, 1 << 21, 21},
		    {22, 1 << 22, 22}, {22, (1 << 21) + 1, 22},
		    {16, 1 << 20, 16}, {0, 0, 10},
		    {99, 0, 24},
		};
		char *in = body(1000, 7);
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct sl_zstream *z =
			    sl_zstream_new(2, 5, t[i].wlog, t[i].hint);
			struct bytes b = {0};
			size_t n =
			    t[i].hint && t[i].hint < 1000 ? t[i].hint : 1000;
			run(z, in, n, 4096, SL_ZFLUSH_END, &b);
			sl_zstream_free(z);
			assert_true(b.len > 0);
			if (br_wbits(b.p) != t[i].want)
				fail_msg("br window %u, hint %llu: %u, "
					 "expected %u",
					 t[i].wlog,
					 (unsigned long long)t[i].hint,
					 br_wbits(b.p), t[i].want);
			free(b.p);
		}
		free(in);
	}
#endif
}

/* A length given and the body not that long: gzip and Brotli take it as
 * the hint it is. (zstd pledges it to the frame: the exchange gives only
 * a Content-Length, which the body then has.) */
static void
test_hint_is_a_hint(void **state)
{
	char *in = body(50000, 8);

	(void)state;
	for (int c = 1; c <= 2; c++) {
		if (!sl_zstream_built(c))
			continue;
		round_trip(c, 5, 15, 100, in, 50000, 4096, 16384);
		round_trip(c, 5, 15, 1000000, in, 50000, 4096, 16384);
	}
	free(in);
}

/*
 * gzip's SYNC flush with less than 6 bytes of room never ends: zlib's
 * deflate, returning with avail_out 0, must be called again, and when
 * its pending bytes run out exactly at the end of the room it starts
 * another flush marker (zlib.h: "make sure that avail_out is greater
 * than six to avoid repeated flush markers due to avail_out == 0 on
 * return"); sl_zstream_run says 1 for ever, a new empty stored block
 * every few calls. Brotli and zstd end.
 */
static void
test_gzip_sync_tiny_output(void **state)
{
	char *in = body(2000, 9);

	(void)state;
	for (int c = 2; c <= 3; c++) {
		if (!sl_zstream_built(c))
			continue;
		for (size_t cap = 1; cap <= 6; cap++) {
			static const size_t cut[] = {100, 2000};
			sync_pieces(c, 5, cap, in, cut, 2);
		}
	}
	if (sl_zstream_built(1)) {
		for (size_t cap = 1; cap <= 6; cap++) {
			struct sl_zstream *z = sl_zstream_new(1, 5, 15, 0);
			struct bytes b = {0};
			size_t cons, prod;
			char out[8];
			long calls = 0;
			int r;
			do {
				r = sl_zstream_run(z, calls ? NULL : in,
						   calls ? 0 : 2000, &cons, out,
						   cap, &prod, SL_ZFLUSH_SYNC);
				put(&b, out, prod);
			} while (r == 1 && ++calls < 100000);
			sl_zstream_free(z);
			if (r != 0)
				fail_msg("gzip SYNC into %zu bytes: still 1 "
					 "after %ld calls, %zu bytes out",
					 cap, calls, b.len);
			assert_prefix_decodes(1, &b, in, 2000);
			free(b.p);
		}
	}
	free(in);
}

/*
 * Lengths past 4 GiB: sl_zstream_run takes size_t, zlib's avail_in and
 * avail_out are uInt (32 bits) and zstream.c casts them down, so gzip
 * sees inlen and outcap modulo 2^32 and reports the difference from the
 * full size_t: more input taken than it read, more output written than it
 * wrote. The memory is mapped, never touched but for the bytes coded
 * (MAP_NORESERVE).
 */
static void
huge_lengths(int c, const char *zeros, char *wide)
{
	struct sl_zstream *z;
	struct bytes b = {0};
	size_t cons, prod;
	char out[4096];
	int r;

	/* a wide output buffer: what was written, no more */
	z = sl_zstream_new(c, 5, 15, 0);
	r = sl_zstream_run(z, "hello", 5, &cons, wide, ((size_t)1 << 32) + 100,
			   &prod, SL_ZFLUSH_END);
	sl_zstream_free(z);
	assert_int_equal(r, 0);
	assert_int_equal(cons, 5);
	if (prod > 100)
		fail_msg("%s: %zu bytes produced for 5 in", cname[c], prod);
	put(&b, wide, prod);
	assert_decodes(c, &b, "hello", 5);
	b.len = 0;
	/* a long input: what is said taken is what decodes */
	z = sl_zstream_new(c, 1, 15, 0);
	r = sl_zstream_run(z, zeros, ((size_t)1 << 32) + 10, &cons, out,
			   sizeof(out), &prod, SL_ZFLUSH_NONE);
	assert_int_not_equal(r, -1);
	put(&b, out, prod);
	if (cons > ((size_t)1 << 32) - 1)
		fail_msg("%s: %zu bytes taken in one call, %zu out", cname[c],
			 cons, prod);
	run(z, NULL, 0, sizeof(out), SL_ZFLUSH_END, &b);
	sl_zstream_free(z);
	if (have_decoder(c)) {
		unsigned char *dec = malloc(cons + 64);
		int ended;
		long got;
		assert_non_null(dec);
		got = decode(c, b.p, b.len, dec, cons + 64, &ended);
		assert_true(ended);
		assert_int_equal(got, (long)cons);
		for (size_t i = 0; i < cons; i++)
			if (dec[i] != 0)
				fail_msg("%s: byte %zu is %d", cname[c], i,
					 dec[i]);
		free(dec);
	}
	free(b.p);
}

static void
test_huge_lengths(void **state)
{
	size_t big = ((size_t)1 << 32) + 4096;
	char *zeros, *wide;

	(void)state;
	if (sizeof(size_t) < 8)
		skip();
	zeros = mmap(NULL, big, PROT_READ,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	wide = mmap(NULL, big, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (zeros == MAP_FAILED || wide == MAP_FAILED) {
		if (zeros != MAP_FAILED)
			munmap(zeros, big);
		if (wide != MAP_FAILED)
			munmap(wide, big);
		skip();
	}
	for (int c = 2; c <= 3; c++)
		if (sl_zstream_built(c))
			huge_lengths(c, zeros, wide);
	if (sl_zstream_built(1))
		huge_lengths(1, zeros, wide);
	munmap(zeros, big);
	munmap(wide, big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_built_and_versions),
	    cmocka_unit_test(test_unknown_coding),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_small_output),
	    cmocka_unit_test(test_sync_flush),
	    cmocka_unit_test(test_random_mix),
	    cmocka_unit_test(test_levels_and_windows),
	    cmocka_unit_test(test_memory),
	    cmocka_unit_test(test_window_in_stream),
	    cmocka_unit_test(test_hint_is_a_hint),
	    cmocka_unit_test(test_gzip_sync_tiny_output),
	    cmocka_unit_test(test_huge_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
