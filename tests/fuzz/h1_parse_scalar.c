/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1 parser's files (src/http/h1_parse.c, src/http/h1_chunked.c,
 * src/http/h1_salvage.c) once more, in one unit, built with SL_H1_SCALAR (their
 * byte-by-byte loops alone, the reference for the SSE2 paths) and every
 * external name prefixed with "scalar_", so that one program holds both
 * builds (fuzz_h1simd.c compares them). The renames also reach the inline
 * functions of h1_parse.h (sl_h1_ieq, sl_h1_hkind), which this file includes
 * through h1_parse.c after them. A name missed here would be defined twice,
 * here and in the SSE2 build, and the link would fail: "nm --defined-only"
 * on h1_parse.o, h1_chunked.o and h1_salvage.o lists the names to keep in
 * step. A file split from the parser is included below, and its static names
 * must differ from the others'.
 */
#define SL_H1_SCALAR 1

#define sl_h1_chunked_decode	scalar_sl_h1_chunked_decode
#define sl_h1_chunked_init	scalar_sl_h1_chunked_init
#define sl_h1_chunked_unframe	scalar_sl_h1_chunked_unframe
#define sl_h1_classify		scalar_sl_h1_classify
#define sl_h1_ieq_n		scalar_sl_h1_ieq_n
#define sl_h1_is_token		scalar_sl_h1_is_token
#define sl_h1_keep_alive	scalar_sl_h1_keep_alive
#define sl_h1_parse_request	scalar_sl_h1_parse_request
#define sl_h1_parse_response	scalar_sl_h1_parse_response
#define sl_h1_reason_str	scalar_sl_h1_reason_str
#define sl_h1_request_check	scalar_sl_h1_request_check
#define sl_h1_scan_head		scalar_sl_h1_scan_head
#define sl_h1_scan_init		scalar_sl_h1_scan_init
#define sl_h1_trailer_forbidden scalar_sl_h1_trailer_forbidden
#define sl_h1_trailers_block	scalar_sl_h1_trailers_block
#define sl_h1_trailers_check	scalar_sl_h1_trailers_check
#define sl_h1_trailers_free	scalar_sl_h1_trailers_free
#define sl_h1_trailers_reset	scalar_sl_h1_trailers_reset
#define sl_h1_trailers_take	scalar_sl_h1_trailers_take
/* The function only: struct sl_h1_salvage, a tag of the same name, stays
 * the type the driver passes. */
#define sl_h1_salvage(...) scalar_sl_h1_salvage(__VA_ARGS__)

#include "../../src/http/h1_chunked.c"
#include "../../src/http/h1_parse.c"
#include "../../src/http/h1_salvage.c"

/* Last: its prototypes must agree with what was just compiled. */
#include "h1_parse_scalar.h"

#ifdef SL_H1_SSE2
#error "h1_parse_scalar.c: the SSE2 paths were compiled in"
#endif
