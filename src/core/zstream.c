/* SPDX-License-Identifier: MIT */
/*
 * Compressor streams (zstream.h). Each library gets an allocator of
 * sluice's that counts what it holds; the counts are what the exchange
 * charges to the worker's compression budget.
 */
#include "zstream.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_ZMIN(a, b) ((a) < (b) ? (a) : (b))

#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_BROTLI
#include <brotli/encode.h>
#endif
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif
#ifdef HAVE_ZSTD
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCCtx_advanced: counted */
#include <zstd.h>
#endif

/* zlib's flush needs more than 6 bytes of room (zlib.h: with less it
 * starts another flush marker at each call): a call with less room
 * deflates into the spill, and the next calls take it out first */
#define SPILL 64

struct sl_zstream {
	int c;
	int done;
	size_t mem; /* bytes the library holds */
	unsigned char spill[SPILL];
	uint8_t soff, slen; /* spill[soff..slen) waits for the caller */
	uint8_t ended;	    /* zlib's end is in the spill */
	union {
#ifdef HAVE_ZLIB
		z_stream gz;
#endif
#ifdef HAVE_BROTLI
		BrotliEncoderState *br;
#endif
#ifdef HAVE_ZSTD
		ZSTD_CCtx *zs;
#endif
		int none;
	} u;
};

#if defined(HAVE_ZLIB) || defined(HAVE_BROTLI) || defined(HAVE_ZSTD)
/* Every block handed out carries its size before it, for the count. */
#define HDR 16

static void *
counted_alloc(struct sl_zstream *z, size_t n)
{
	unsigned char *p = malloc(n + HDR);

	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	z->mem += n + HDR;
	return p + HDR;
}

static void
counted_free(struct sl_zstream *z, void *q)
{
	unsigned char *p = q;
	size_t n;

	if (p == NULL)
		return;
	p -= HDR;
	memcpy(&n, p, sizeof(n));
	z->mem -= n + HDR;
	free(p);
}
#endif

int
sl_zstream_built(int c)
{
	switch (c) {
#ifdef HAVE_ZLIB
	case 1:
		return 1;
#endif
#ifdef HAVE_BROTLI
	case 2:
		return 1;
#endif
#ifdef HAVE_ZSTD
	case 3:
		return 1;
#endif
	default:
		return 0;
	}
}

const char *
sl_zstream_version(int c)
{
#ifdef HAVE_BROTLI
	static char brv[16];
#endif
	switch (c) {
#ifdef HAVE_ZLIB
	case 1:
		return zlibVersion();
#endif
#ifdef HAVE_BROTLI
	case 2: {
		uint32_t v = BrotliEncoderVersion();
		snprintf(brv, sizeof(brv), "%u.%u.%u", v >> 24,
			 (v >> 12) & 0xfff, v & 0xfff);
		return brv;
	}
#endif
#ifdef HAVE_ZSTD
	case 3:
		return ZSTD_versionString();
#endif
#ifdef HAVE_LIBDEFLATE
	case 4: /* not a coding: gzip's one-shot compressor */
		return LIBDEFLATE_VERSION_STRING " (the headers built with)";
#endif
	default:
		return NULL;
	}
}

/* The smallest window log of at least lo that holds n bytes, at most
 * wlog. */
static unsigned
fit_window(unsigned wlog, unsigned lo, uint64_t n)
{
	if (n == 0)
		return wlog;
	while (wlog > lo && n <= ((uint64_t)1 << (wlog - 1)))
		wlog--;
	return wlog;
}

/* A coding's window bounds (log2): gzip 9..15, Brotli 10..24, zstd
 * 10..27. */
static const uint8_t wlo[4] = {0, 9, 10, 10}, whi[4] = {0, 15, 24, 27};

/* The window of coding c (1..3) for wlog, within the coding's bounds,
 * shrunk to fit a body of n bytes (0: unknown). */
static unsigned
window_for(int c, unsigned wlog, uint64_t n)
{
	unsigned w = wlog > whi[c] ? whi[c] : wlog < wlo[c] ? wlo[c] : wlog;

	return fit_window(w, wlo[c], n);
}

#ifdef HAVE_ZLIB
static voidpf
gz_alloc(voidpf opaque, uInt items, uInt size)
{
	return counted_alloc(opaque, (size_t)items * size);
}

static void
gz_free(voidpf opaque, voidpf p)
{
	counted_free(opaque, p);
}
#endif

#ifdef HAVE_BROTLI
static void *
br_alloc(void *opaque, size_t n)
{
	return counted_alloc(opaque, n);
}

static void
br_free(void *opaque, void *p)
{
	counted_free(opaque, p);
}
#endif

#ifdef HAVE_ZSTD
static void *
zs_alloc(void *opaque, size_t n)
{
	return counted_alloc(opaque, n);
}

static void
zs_free(void *opaque, void *p)
{
	counted_free(opaque, p);
}
#endif

size_t
sl_zstream_estimate(int c, int level, unsigned wlog, uint64_t len_hint)
{
	unsigned w;

	switch (c) {
	case 1: /* zlib: window and prev (4 windows), hash and pending */
		w = window_for(1, wlog, len_hint);
		return ((size_t)1 << (w + 2)) + ((size_t)1 << (w + 2)) +
		       8 * 1024;
	case 2: /* Brotli: its hasher, by level, whatever the window; a
		   small body's is small */
		w = window_for(2, wlog, 0);
		if (len_hint > 0 && len_hint <= ((uint64_t)1 << w))
			return 64 * 1024;
		return level <= 1   ? 144 * 1024
		       : level <= 3 ? 704 * 1024
		       : level <= 8 ? 1856 * 1024
				    : 2432 * 1024;
	case 3: /* zstd: its tables, capped to the window, and buffers */
		w = window_for(3, wlog, len_hint);
		return ((size_t)16 << w) + 16 * 1024;
	default:
		return 0;
	}
}

struct sl_zstream *
sl_zstream_new(int c, int level, unsigned wlog, uint64_t len_hint)
{
	struct sl_zstream *z;

	if (!sl_zstream_built(c) || (z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	z->c = c;
	switch (c) {
#ifdef HAVE_ZLIB
	case 1: {
		/* as nginx does: a smaller window and hash for a body known
		 * to be small; gzip's window is 2^9 to 2^15 */
		unsigned w = window_for(1, wlog, len_hint);
		int memlevel = (int)w - 7 < 1 ? 1 : (int)w - 7;
		z->u.gz.zalloc = gz_alloc;
		z->u.gz.zfree = gz_free;
		z->u.gz.opaque = z;
		/* windowBits + 16: the gzip wrapper; zlib does not take 8
		 * with it, 9 is its least */
		if (deflateInit2(&z->u.gz, level, Z_DEFLATED, (int)w + 16,
				 memlevel, Z_DEFAULT_STRATEGY) != Z_OK) {
			free(z);
			return NULL;
		}
		return z;
	}
#endif
#ifdef HAVE_BROTLI
	case 2: {
		unsigned w = window_for(2, wlog, len_hint);
		z->u.br = BrotliEncoderCreateInstance(br_alloc, br_free, z);
		if (z->u.br == NULL) {
			free(z);
			return NULL;
		}
		(void)BrotliEncoderSetParameter(z->u.br, BROTLI_PARAM_QUALITY,
						(uint32_t)level);
		(void)BrotliEncoderSetParameter(z->u.br, BROTLI_PARAM_LGWIN, w);
		/* a hint only for a body within the window: a larger one
		 * makes Brotli take its large hash tables (5 MiB at level 4
		 * for a 1 MiB body) */
		if (len_hint > 0 && len_hint <= ((uint64_t)1 << w))
			(void)BrotliEncoderSetParameter(z->u.br,
							BROTLI_PARAM_SIZE_HINT,
							(uint32_t)len_hint);
		return z;
	}
#endif
#ifdef HAVE_ZSTD
	case 3: {
		unsigned w = window_for(3, wlog, len_hint);
		ZSTD_customMem cm = {zs_alloc, zs_free, z};
		if ((z->u.zs = ZSTD_createCCtx_advanced(cm)) == NULL) {
			free(z);
			return NULL;
		}
		(void)ZSTD_CCtx_setParameter(z->u.zs, ZSTD_c_compressionLevel,
					     level);
		(void)ZSTD_CCtx_setParameter(z->u.zs, ZSTD_c_windowLog, (int)w);
		/* the level's hash and chain tables, which hold most of its
		 * memory (1 MiB at level 3, 13 MiB at 9), no larger than the
		 * window needs */
		ZSTD_compressionParameters cp =
		    ZSTD_getCParams(level, len_hint, 0);
		if (cp.hashLog > w)
			(void)ZSTD_CCtx_setParameter(z->u.zs, ZSTD_c_hashLog,
						     (int)w);
		if (cp.chainLog > w)
			(void)ZSTD_CCtx_setParameter(z->u.zs, ZSTD_c_chainLog,
						     (int)w);
		if (len_hint > 0)
			(void)ZSTD_CCtx_setPledgedSrcSize(z->u.zs, len_hint);
		return z;
	}
#endif
	default:
		(void)level;
		(void)wlog;
		(void)len_hint;
		(void)fit_window;
		free(z);
		return NULL;
	}
}

int
sl_zstream_run(struct sl_zstream *z, const char *in, size_t inlen,
	       size_t *consumed, char *out, size_t outcap, size_t *produced,
	       enum sl_zflush flush)
{
	*consumed = *produced = 0;
	if (z->done)
		return 0;
	switch (z->c) {
#ifdef HAVE_ZLIB
	case 1: {
		z_stream *s = &z->u.gz;
		int f = flush == SL_ZFLUSH_END	  ? Z_FINISH
			: flush == SL_ZFLUSH_SYNC ? Z_SYNC_FLUSH
						  : Z_NO_FLUSH,
		    r, small;
		/* zlib counts in 32 bits: a longer call takes what fits */
		size_t ni = inlen > UINT_MAX ? UINT_MAX : inlen, no, got;
		if (z->soff < z->slen) { /* a small call's leftover first */
			size_t k = SL_ZMIN((size_t)(z->slen - z->soff), outcap);
			memcpy(out, z->spill + z->soff, k);
			z->soff += (uint8_t)k;
			*produced = k;
			if (z->soff < z->slen)
				return 1;
			if (z->ended) {
				z->done = 1;
				return 0;
			}
			out += k;
			outcap -= k;
		}
		small = outcap < 16;
		no = small ? SPILL : outcap > UINT_MAX ? UINT_MAX : outcap;
		s->next_in = (Bytef *)(uintptr_t)in;
		s->avail_in = (uInt)ni;
		s->next_out = small ? z->spill : (Bytef *)out;
		s->avail_out = (uInt)no;
		r = deflate(s, f);
		*consumed = ni - s->avail_in;
		got = no - s->avail_out;
		if (small) {
			size_t k = SL_ZMIN(got, outcap);
			memcpy(out, z->spill, k);
			z->soff = (uint8_t)k;
			z->slen = (uint8_t)got;
			*produced += k;
		} else
			*produced += got;
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
			return -1;
		if (r == Z_STREAM_END) {
			if (z->soff < z->slen) {
				z->ended = 1;
				return 1;
			}
			z->done = 1;
			return 0;
		}
		/* room used up, or bytes waiting in the spill: more to come */
		if (s->avail_out == 0 || z->soff < z->slen || *consumed < inlen)
			return 1;
		return f == Z_FINISH ? 1 : 0;
	}
#endif
#ifdef HAVE_BROTLI
	case 2: {
		const uint8_t *ni = (const uint8_t *)in;
		uint8_t *no = (uint8_t *)out;
		size_t ai = inlen, ao = outcap;
		BrotliEncoderOperation op =
		    flush == SL_ZFLUSH_END    ? BROTLI_OPERATION_FINISH
		    : flush == SL_ZFLUSH_SYNC ? BROTLI_OPERATION_FLUSH
					      : BROTLI_OPERATION_PROCESS;
		if (!BrotliEncoderCompressStream(z->u.br, op, &ai, &ni, &ao,
						 &no, NULL))
			return -1;
		*consumed = inlen - ai;
		*produced = outcap - ao;
		if (flush == SL_ZFLUSH_END &&
		    BrotliEncoderIsFinished(z->u.br)) {
			z->done = 1;
			return 0;
		}
		/* input left, output held back, or an end not reached */
		return BrotliEncoderHasMoreOutput(z->u.br) || ai > 0 ||
			       flush == SL_ZFLUSH_END
			   ? 1
			   : 0;
	}
#endif
#ifdef HAVE_ZSTD
	case 3: {
		ZSTD_inBuffer ib = {in, inlen, 0};
		ZSTD_outBuffer ob = {out, outcap, 0};
		ZSTD_EndDirective d = flush == SL_ZFLUSH_END ? ZSTD_e_end
				      : flush == SL_ZFLUSH_SYNC
					  ? ZSTD_e_flush
					  : ZSTD_e_continue;
		size_t r = ZSTD_compressStream2(z->u.zs, &ob, &ib, d);
		if (ZSTD_isError(r))
			return -1;
		*consumed = ib.pos;
		*produced = ob.pos;
		if (d == ZSTD_e_end && r == 0) {
			z->done = 1;
			return 0;
		}
		if (d == ZSTD_e_continue)
			return ib.pos < inlen ? 1 : 0;
		return r != 0 || ib.pos < inlen ? 1 : 0;
	}
#endif
	default:
		(void)in;
		(void)inlen;
		(void)out;
		(void)outcap;
		(void)flush;
		return -1;
	}
}

/* ---- one-shot: a whole body at once ------------------------------------ */

#if defined(HAVE_LIBDEFLATE) && defined(HAVE_ZLIB)
/* The thread's one-shot gzip compressors, by level (1..9), made at their
 * first use and kept: a worker's thread makes at most nine. */
static _Thread_local struct libdeflate_compressor *oneshot_gz[10];

static struct libdeflate_compressor *
oneshot_get(int level)
{
	if (level < 1 || level > 9)
		return NULL;
	if (oneshot_gz[level] == NULL)
		oneshot_gz[level] = libdeflate_alloc_compressor(level);
	return oneshot_gz[level];
}
#endif

#ifdef HAVE_ZSTD
/* The thread's one zstd context for whole bodies, kept: its tables are
 * those of the largest body it compressed, within the window's caps. */
static _Thread_local ZSTD_CCtx *oneshot_zs;
#endif

void
sl_zstream_thread_free(void)
{
#if defined(HAVE_LIBDEFLATE) && defined(HAVE_ZLIB)
	for (int i = 0; i < 10; i++) {
		libdeflate_free_compressor(oneshot_gz[i]);
		oneshot_gz[i] = NULL;
	}
#endif
#ifdef HAVE_ZSTD
	ZSTD_freeCCtx(oneshot_zs);
	oneshot_zs = NULL;
#endif
}

size_t
sl_zstream_oneshot_bound(int c, int level, size_t n)
{
	(void)level;
	switch (c) {
#if defined(HAVE_LIBDEFLATE) && defined(HAVE_ZLIB)
	case 1: {
		struct libdeflate_compressor *d = oneshot_get(level);
		return d != NULL ? libdeflate_gzip_compress_bound(d, n) : 0;
	}
#endif
#ifdef HAVE_BROTLI
	case 2:
		return BrotliEncoderMaxCompressedSize(n);
#endif
#ifdef HAVE_ZSTD
	case 3:
		return ZSTD_compressBound(n);
#endif
	default:
		(void)n;
		return 0;
	}
}

size_t
sl_zstream_oneshot(int c, int level, unsigned wlog, const char *in, size_t n,
		   char *out, size_t cap)
{
	switch (c) {
#if defined(HAVE_LIBDEFLATE) && defined(HAVE_ZLIB)
	case 1: {
		struct libdeflate_compressor *d = oneshot_get(level);
		(void)wlog;
		return d != NULL ? libdeflate_gzip_compress(d, in, n, out, cap)
				 : 0;
	}
#endif
#ifdef HAVE_BROTLI
	case 2: {
		size_t o = cap;
		unsigned w = window_for(2, wlog, n);
		if (!BrotliEncoderCompress(level, (int)w, BROTLI_MODE_GENERIC,
					   n, (const uint8_t *)in, &o,
					   (uint8_t *)out))
			return 0;
		return o;
	}
#endif
#ifdef HAVE_ZSTD
	case 3: {
		unsigned w = window_for(3, wlog, n);
		ZSTD_compressionParameters cp = ZSTD_getCParams(level, n, 0);
		size_t r;
		if (oneshot_zs == NULL &&
		    (oneshot_zs = ZSTD_createCCtx()) == NULL)
			return 0;
		(void)ZSTD_CCtx_reset(oneshot_zs,
				      ZSTD_reset_session_and_parameters);
		(void)ZSTD_CCtx_setParameter(oneshot_zs,
					     ZSTD_c_compressionLevel, level);
		(void)ZSTD_CCtx_setParameter(oneshot_zs, ZSTD_c_windowLog,
					     (int)w);
		if (cp.hashLog > w)
			(void)ZSTD_CCtx_setParameter(oneshot_zs, ZSTD_c_hashLog,
						     (int)w);
		if (cp.chainLog > w)
			(void)ZSTD_CCtx_setParameter(oneshot_zs,
						     ZSTD_c_chainLog, (int)w);
		r = ZSTD_compress2(oneshot_zs, out, cap, in, n);
		return ZSTD_isError(r) ? 0 : r;
	}
#endif
	default:
		(void)level;
		(void)wlog;
		(void)in;
		(void)n;
		(void)out;
		(void)cap;
		return 0;
	}
}

size_t
sl_zstream_mem(const struct sl_zstream *z)
{
	return z->mem;
}

void
sl_zstream_free(struct sl_zstream *z)
{
	if (z == NULL)
		return;
	switch (z->c) {
#ifdef HAVE_ZLIB
	case 1:
		(void)deflateEnd(&z->u.gz);
		break;
#endif
#ifdef HAVE_BROTLI
	case 2:
		BrotliEncoderDestroyInstance(z->u.br);
		break;
#endif
#ifdef HAVE_ZSTD
	case 3:
		ZSTD_freeCCtx(z->u.zs);
		break;
#endif
	default:
		break;
	}
	free(z);
}
