/* SPDX-License-Identifier: MIT */
/*
 * QPACK's static table (RFC 9204 appendix A), in qpack_tab.c, which
 * qpack_gen.c writes at build time from Debian's libnghttp3 (no copy of it
 * is kept in the repository). Data only. The Huffman code is HPACK's
 * (src/h2/hpack_tab.h): QPACK uses RFC 7541's.
 */
#ifndef SL_QPACK_TAB_H
#define SL_QPACK_TAB_H

#include <stdint.h>

#include "hpack_tab.h" /* struct sl_hpack_entry: an entry is the same */

#define SL_QPACK_NSTATIC 99
/* The longest name of the static table (access-control-allow-
 * credentials, ...): longer names are never looked up in it. */
#define SL_QPACK_NAME_MAX 32
/* The most names of one length the encoder's lookup holds, and the 0xff
 * that ends them. */
#define SL_QPACK_BY_LEN 12

/* Index 0 to SL_QPACK_NSTATIC - 1. */
extern const struct sl_hpack_entry sl_qpack_static[SL_QPACK_NSTATIC];
/* For a name of length L, the first static index of each name of that
 * length, then 0xff. */
extern const uint8_t sl_qpack_by_len[SL_QPACK_NAME_MAX + 1][SL_QPACK_BY_LEN];
/* For each index, the next index with the same name, or 0xff (the entries
 * of one name do not stand together in QPACK's table: :status is at 24
 * to 28 and 63 to 71). */
extern const uint8_t sl_qpack_next[SL_QPACK_NSTATIC];

#endif
