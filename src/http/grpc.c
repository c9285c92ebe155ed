/* SPDX-License-Identifier: MIT */
/*
 * gRPC's request deadline and sluice's own statuses (grpc.h, doc/grpc.md).
 */
#include "grpc.h"

#include <strings.h>

int
sl_grpc_content_type(const char *v, size_t n)
{
	if (n < 16 || strncasecmp(v, "application/grpc", 16) != 0)
		return 0;
	return n == 16 || v[16] == '+' || v[16] == ';';
}

int
sl_grpc_timeout_parse(const char *v, size_t n, uint32_t *ms)
{
	uint64_t x = 0, div, mul;
	size_t i;

	if (n < 2 || n > 9)
		return -1;
	for (i = 0; i + 1 < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	/* to milliseconds: x * mul / div, rounded up */
	switch (v[n - 1]) {
	case 'H':
		mul = 3600000, div = 1;
		break;
	case 'M':
		mul = 60000, div = 1;
		break;
	case 'S':
		mul = 1000, div = 1;
		break;
	case 'm':
		mul = 1, div = 1;
		break;
	case 'u':
		mul = 1, div = 1000;
		break;
	case 'n':
		mul = 1, div = 1000000;
		break;
	default:
		return -1;
	}
	/* 8 digits of hours fit easily in 64 bits */
	x = (x * mul + div - 1) / div;
	if (x == 0)
		x = 1; /* "0S": a deadline gone already, not none */
	*ms = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
	return 0;
}

int
sl_grpc_status_of(int http_status)
{
	switch (http_status) {
	case 400:
	case 500:
		return SL_GRPC_INTERNAL;
	case 401:
		return SL_GRPC_UNAUTHENTICATED;
	case 403:
		return SL_GRPC_PERMISSION_DENIED;
	case 404:
	case 405:
		return SL_GRPC_UNIMPLEMENTED;
	case 408:
	case 504:
		return SL_GRPC_DEADLINE_EXCEEDED;
	case 413:
	case 414:
	case 429:
	case 431:
		return SL_GRPC_RESOURCE_EXHAUSTED;
	case 421:
	case 502:
	case 503:
		return SL_GRPC_UNAVAILABLE;
	default:
		return SL_GRPC_UNKNOWN;
	}
}

size_t
sl_grpc_message_encode(char *dst, size_t dstsz, const char *msg, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (dstsz == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)msg[i];
		if (b >= 0x20 && b <= 0x7e && b != '%') {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = (char)b;
			continue;
		}
		if (o + 3 >= dstsz)
			break;
		dst[o++] = '%';
		dst[o++] = hex[b >> 4];
		dst[o++] = hex[b & 15];
	}
	dst[o] = '\0';
	return o;
}
