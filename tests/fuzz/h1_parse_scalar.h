/* SPDX-License-Identifier: MIT */
/*
 * The byte-by-byte build of the HTTP/1 parser (src/http/h1_parse.c,
 * src/http/h1_chunked.c, src/http/h1_salvage.c; SL_H1_SCALAR) under names of
 * its own, for fuzz_h1simd.c to run beside the SSE2 build that libsluice.a and
 * the other drivers link. Every external function of those files is here with
 * the prefix "scalar_"; h1_parse_scalar.c compiles the parser with those
 * names and includes this header after it, so the compiler checks that these
 * prototypes match the definitions.
 */
#ifndef SL_H1_PARSE_SCALAR_H
#define SL_H1_PARSE_SCALAR_H

#include <stddef.h>
#include <stdint.h>

#include "h1_parse.h"

const char *scalar_sl_h1_reason_str(enum sl_h1_reason r);
void scalar_sl_h1_scan_init(struct sl_h1_scan *s);
long scalar_sl_h1_scan_head(struct sl_h1_scan *s, const char *buf, size_t len,
			    const struct sl_h1_limits *lim, int is_request);
enum sl_h1_hk scalar_sl_h1_classify(const char *name, size_t len);
int scalar_sl_h1_parse_request(const char *buf, size_t len,
			       struct sl_h1_request *req,
			       const struct sl_h1_limits *lim);
void scalar_sl_h1_keep_alive(const char *v, size_t n, uint32_t *timeout,
			     uint32_t *max);
int scalar_sl_h1_parse_response(const char *buf, size_t len,
				struct sl_h1_response *resp,
				enum sl_h1_method method_id);
void scalar_sl_h1_chunked_init(struct sl_h1_chunked *c,
			       size_t max_trailer_bytes);
int scalar_sl_h1_trailer_forbidden(const char *name, size_t len,
				   const char *own);
enum sl_h1_reason scalar_sl_h1_trailers_check(const char *trailers,
					      size_t max_bytes,
					      size_t max_fields,
					      const char *own);
int scalar_sl_h1_chunked_decode(struct sl_h1_chunked *c, char *buf, size_t len,
				int compact, size_t *consumed,
				size_t *data_len);
int scalar_sl_h1_chunked_unframe(struct sl_h1_chunked *c, char *buf, size_t len,
				 size_t *consumed, size_t *data_len,
				 size_t *trailer_at);
long scalar_sl_h1_trailers_block(const char *text, size_t len, char *out,
				 size_t cap);
void scalar_sl_h1_salvage(const char *buf, size_t len,
			  struct sl_h1_salvage *out);
int scalar_sl_h1_ieq_n(const char *s, const char *lower, size_t n);

#endif
