/* SPDX-License-Identifier: MIT */
/* HPACK (RFC 7541): being written. */
#include "hpack.h"
#include "hpack_tab.h"

size_t
sl_hpack_huff_len(const char *s, size_t len)
{
	size_t b = 0;

	for (size_t i = 0; i < len; i++)
		b += sl_hpack_huff_bits[(unsigned char)s[i]];
	return (b + 7) / 8;
}
