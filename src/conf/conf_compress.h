/* SPDX-License-Identifier: MIT */
/*
 * Compression as a module (core/module.h; doc/operations.md,
 * "Compression"): its configuration, in its slots of the generation
 * (conf_compress.c reads it), and its counters, in its blocks of a route's
 * counts and of a worker's stats. Included by conf_compress.c, by its
 * filter (proxy/exchange_zip.c) and by the module table (conf_mods.c).
 */
#ifndef SL_CONF_COMPRESS_H
#define SL_CONF_COMPRESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_types.h"
#include "module.h"

extern struct sl_module sl_module_compress;

/* The top-level compress: the compressors' budget (always set by a
 * loaded generation). */
struct sl_conf_compress {
	uint64_t memory; /* bytes per worker: states and their buffers */
};

/* A route's compress: the codings it offers (coding.h's numbers, in the
 * route's order of preference) and when a response is compressed. */
enum sl_compress_creds { SL_COMPRESS_CREDS_SKIP = 0, SL_COMPRESS_CREDS_ALLOW };
struct sl_conf_compress_route {
	uint8_t offer[3]; /* enum sl_coding */
	uint8_t noffer;
	uint64_t gzip_level, brotli_level, zstd_level;
	uint64_t window;      /* bytes: a power of two */
	uint64_t min_length;  /* a known length below it is sent as it is */
	uint32_t credentials; /* enum sl_compress_creds */
	char **types;	      /* media types and patterns (coding.h) */
	size_t ntypes;
	uint8_t wlog; /* log2(window) */
	unsigned line, col;
};

/* Why a response whose request accepted a coding went as it came
 * (sluice_compress_skipped_total's reason). */
enum sl_zip_skip {
	SL_ZIP_S_CREDENTIALS = 0, /* credentials a browser sends by itself */
	SL_ZIP_S_MEMORY,	  /* the worker's compression memory is full */
	SL_ZIP_NSKIP
};

/* Its block of a route's per-worker counts: responses compressed by
 * coding (coding.h's numbers; [0] unused), their body bytes before and
 * after, and the responses a request accepted a coding for that went as
 * they came for a reason the operator watches. */
struct sl_zip_counts {
	atomic_uint_fast64_t zip[4];
	atomic_uint_fast64_t in[4];
	atomic_uint_fast64_t out[4];
	atomic_uint_fast64_t skip[SL_ZIP_NSKIP];
};

/* Its block of a worker's stats: the bytes its compressors and their
 * buffers hold now, against compress.memory. */
struct sl_zip_wcounts {
	atomic_uint_fast64_t mem;
};

/* A route's compress, NULL: none. */
static inline const struct sl_conf_compress_route *
sl_compress_route(const struct sl_conf_route *r)
{
	return sl_route_mod(r, &sl_module_compress);
}

#endif
