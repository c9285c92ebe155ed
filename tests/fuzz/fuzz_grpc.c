/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for gRPC's fields (grpc.c): the input is a grpc-timeout
 * value, a content-type value and a grpc-message, each up to a NUL. A
 * timeout it accepts is 2 to 9 bytes of digits and a unit, at least 1 ms,
 * and no smaller than the value read as whole units of its own (sub-millisecond
 * units round up, never down to nothing); the encoded message holds only
 * printable bytes, fits its buffer, and decodes to a prefix of the input. ASan
 * sees any read past a buffer.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "grpc.h"

static const uint8_t *
piece(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *s = *p, *z = memchr(s, 0, (size_t)(end - s));

	*len = z != NULL ? (size_t)(z - s) : (size_t)(end - s);
	*p = z != NULL ? z + 1 : end;
	return s;
}

static int
unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'A' + 10;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *v;
	size_t n, o, k = 0;
	uint32_t ms = 0;
	char enc[64];

	v = piece(&p, end, &n);
	if (sl_grpc_timeout_parse((const char *)v, n, &ms) == 0) {
		uint64_t x = 0;
		CHECK(n >= 2 && n <= 9 && ms >= 1);
		for (size_t i = 0; i + 1 < n; i++) {
			CHECK(v[i] >= '0' && v[i] <= '9');
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		CHECK(v[n - 1] != 0 && strchr("HMSmun", v[n - 1]) != NULL);
		/* milliseconds are taken as they are (0 is 1 ms); a coarser
		 * unit never rounds down */
		if (v[n - 1] == 'm')
			CHECK(ms == (x == 0 ? 1 : x));
		if (v[n - 1] == 'S')
			CHECK(ms == (x == 0		     ? 1
				     : x * 1000 > UINT32_MAX ? UINT32_MAX
							     : x * 1000));
	}
	v = piece(&p, end, &n);
	if (sl_grpc_content_type((const char *)v, n))
		CHECK(n >= 16);
	v = piece(&p, end, &n);
	o = sl_grpc_message_encode(enc, sizeof(enc), (const char *)v, n);
	CHECK(o < sizeof(enc) && enc[o] == '\0');
	for (size_t i = 0; i < o; i++) {
		unsigned char b = (unsigned char)enc[i];
		CHECK(b >= 0x20 && b <= 0x7e);
		if (b == '%') {
			CHECK(i + 2 < o);
			CHECK(k < n && (unsigned)(unhex(enc[i + 1]) * 16 +
						  unhex(enc[i + 2])) == v[k]);
			i += 2;
		} else
			CHECK(k < n && b == v[k]);
		k++;
	}
	return 0;
}
