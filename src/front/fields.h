/* SPDX-License-Identifier: MIT */
/*
 * What the codecs of fields (HTTP/2: h2_head.c; HTTP/3: h3_stream.c) both
 * check of a request's fields as they build its head block, written once:
 * a Content-Length's digits, the connection-specific fields RFC 9113
 * section 8.2.2 and RFC 9114 section 4.2 forbid, and the host of an
 * :authority. Inline: each field of a head passes here.
 */
#ifndef SL_FIELDS_H
#define SL_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* A Content-Length value: digits only. Returns 0, or -1. */
static inline int
sl_fields_cl(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* A field RFC 9113 section 8.2.2 (and RFC 9114 section 4.2) forbids:
 * HTTP/1.1's connection management, and TE but for "trailers". Returns
 * why, or NULL. */
static inline const char *
sl_fields_forbidden(const char *n, size_t nlen, const char *v, size_t vlen)
{
	switch (nlen) {
	case 2:
		if (memcmp(n, "te", 2) == 0 &&
		    !(vlen == 8 && strncasecmp(v, "trailers", 8) == 0))
			return "te other than trailers";
		return NULL;
	case 7:
		return memcmp(n, "upgrade", 7) == 0
			   ? "a connection-specific field"
			   : NULL;
	case 10:
		return memcmp(n, "connection", 10) == 0 ||
			       memcmp(n, "keep-alive", 10) == 0
			   ? "a connection-specific field"
			   : NULL;
	case 16:
		return memcmp(n, "proxy-connection", 16) == 0
			   ? "a connection-specific field"
			   : NULL;
	case 17:
		return memcmp(n, "transfer-encoding", 17) == 0
			   ? "a connection-specific field"
			   : NULL;
	default:
		return NULL;
	}
}

/* The authority's host, without a port or an IPv6 literal's brackets. */
static inline void
sl_fields_host(const char *a, size_t n, const char **host, size_t *len)
{
	if (n > 0 && a[0] == '[') {
		const char *e = memchr(a, ']', n);
		*host = a + 1;
		*len = e != NULL ? (size_t)(e - a - 1) : n - 1;
		return;
	}
	*host = a;
	for (*len = 0; *len < n && a[*len] != ':'; (*len)++)
		;
}

#endif
