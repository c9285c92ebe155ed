/* SPDX-License-Identifier: MIT */
/*
 * The tables of HPACK (RFC 7541) that hpack.c uses, in hpack_tab.c, which
 * hpack_gen.c writes at build time from Debian's libnghttp2 (no copy of
 * them is kept in the repository). Data only.
 */
#ifndef SL_HPACK_TAB_H
#define SL_HPACK_TAB_H

#include <stdint.h>

/* A table entry: the static table's, index 1 to 61. */
struct sl_hpack_entry {
	const char *name;
	const char *value;
	uint32_t nlen, vlen;
};

#define SL_HPACK_NSTATIC 61
/* The longest name of the static table (www-authenticate, ...): longer
 * names are never looked up in it. */
#define SL_HPACK_NAME_MAX 27

/* One step of the Huffman decoder: 4 bits in a state. */
struct sl_hpack_huff_step {
	uint8_t next;  /* the next state (0: the root) */
	uint8_t flags; /* SL_GEN_* */
	uint8_t sym;   /* the symbol found (SL_GEN_SYM) */
	uint8_t pad;   /* (a step is 4 bytes: an index is a shift) */
};

#define SL_GEN_SYM  1 /* a symbol was found in these 4 bits */
#define SL_GEN_FAIL 2 /* EOS was found: a decoding error */
#define SL_GEN_ACCEPT                                                          \
	4 /* the string may end here: what was read since                      \
	     the last symbol is 7 or fewer 1 bits (padding) */

extern const struct sl_hpack_entry sl_hpack_static[SL_HPACK_NSTATIC + 1];
extern const uint8_t sl_hpack_by_len[SL_HPACK_NAME_MAX + 1][8];
extern const uint32_t sl_hpack_huff_code[257];
extern const uint8_t sl_hpack_huff_bits[257];
extern const struct sl_hpack_huff_step sl_hpack_huff_dec[256][16];

/* content-type: application/grpc, te: trailers, grpc-status: 0 */
extern const uint8_t sl_hpack_pre_grpc_ct[14];
extern const uint8_t sl_hpack_pre_te_trailers[11];
extern const uint8_t sl_hpack_pre_grpc_status0[12];

#endif
