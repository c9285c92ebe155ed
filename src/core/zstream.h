/* SPDX-License-Identifier: MIT */
/*
 * Compressor streams (doc/operations.md, "Compression"): gzip through
 * zlib, Brotli through libbrotlienc, zstd through libzstd, each built only
 * when configure found its library. Every byte a stream's library
 * allocates is counted in the stream (sl_zstream_mem), so that the caller
 * can hold the workers' compressors to a memory budget. Codings are
 * numbered as coding.h's enum sl_coding: 1 gzip, 2 br, 3 zstd.
 */
#ifndef SL_ZSTREAM_H
#define SL_ZSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct sl_zstream;

/* What a call of sl_zstream_run asks besides compressing the input. */
enum sl_zflush {
	SL_ZFLUSH_NONE = 0, /* the library may keep what it has */
	SL_ZFLUSH_SYNC,	    /* all of the input so far decodable now */
	SL_ZFLUSH_END,	    /* the input is whole: the coding's end */
};

/* Is coding c (1 gzip, 2 br, 3 zstd) built in? 1 or 0. */
int sl_zstream_built(int c);

/* The library's version behind coding c, for sluice -V ("1.2.13"), or
 * NULL when it is not built; c 4 is libdeflate's (gzip's one-shot). */
const char *sl_zstream_version(int c);

/*
 * A stream of coding c at level, with a window of 2^wlog bytes (gzip: 9 to
 * 15, Brotli: 10 to 24, zstd: 10 to 27; clamped). When the whole input's
 * length is known (len_hint > 0) and smaller, the window shrinks to fit
 * it, and with it the memory. NULL when the coding is not built or memory
 * ran out.
 */
struct sl_zstream *sl_zstream_new(int c, int level, unsigned wlog,
				  uint64_t len_hint);

/* What a stream of sl_zstream_new's parameters may come to hold (its
 * libraries allocate as they go): an estimate from the measured sizes
 * (doc/operations.md, section 16.4), for admitting it to a budget. */
size_t sl_zstream_estimate(int c, int level, unsigned wlog, uint64_t len_hint);

/*
 * Compresses in[0..inlen) into out[0..outcap), with flush: *consumed and
 * *produced say how much was taken and written. Returns 1 when the
 * library has more output for what was asked (call again with more room,
 * and with the input it did not take), 0 when it is done with it, -1 on a
 * library error. After SL_ZFLUSH_END returned 0 the stream is finished.
 */
int sl_zstream_run(struct sl_zstream *z, const char *in, size_t inlen,
		   size_t *consumed, char *out, size_t outcap, size_t *produced,
		   enum sl_zflush flush);

/*
 * A whole body at once, faster than a stream: gzip through libdeflate
 * (when it is built, HAVE_LIBDEFLATE), Brotli's and zstd's one-shot calls.
 * The worker's thread keeps libdeflate's compressors (one per level) and
 * one zstd context for its life; Brotli's one-shot allocates within the
 * call. sl_zstream_oneshot_bound is the room the output needs for n bytes
 * (0: no one-shot for coding c); sl_zstream_oneshot compresses with the
 * stream's level and window and returns the bytes written, or 0 when it
 * could not.
 */
size_t sl_zstream_oneshot_bound(int c, int level, size_t n);
size_t sl_zstream_oneshot(int c, int level, unsigned wlog, const char *in,
			  size_t n, char *out, size_t cap);

/* Frees what this thread keeps for one-shots (at its end). */
void sl_zstream_thread_free(void);

/* The bytes the stream's library holds now. */
size_t sl_zstream_mem(const struct sl_zstream *z);

void sl_zstream_free(struct sl_zstream *z);

#endif
