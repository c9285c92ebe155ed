/* SPDX-License-Identifier: MIT */
/*
 * gRPC over HTTP/2 as a gateway sees it (doc/grpc.md): the request's
 * grpc-timeout, and the gRPC status sluice answers with in place of an
 * HTTP error of its own (a trailers-only response: grpc-status and a
 * percent-encoded grpc-message in the HEADERS that end the stream). Pure:
 * no I/O, no state.
 */
#ifndef SL_GRPC_H
#define SL_GRPC_H

#include <stddef.h>
#include <stdint.h>

/* gRPC status codes (grpc/doc/statuscodes.md) sluice answers with */
#define SL_GRPC_UNKNOWN		   2
#define SL_GRPC_DEADLINE_EXCEEDED  4
#define SL_GRPC_PERMISSION_DENIED  7
#define SL_GRPC_RESOURCE_EXHAUSTED 8
#define SL_GRPC_UNIMPLEMENTED	   12
#define SL_GRPC_INTERNAL	   13
#define SL_GRPC_UNAVAILABLE	   14
#define SL_GRPC_UNAUTHENTICATED	   16
#define SL_GRPC_NSTATUS		   17 /* 0..16 */

/* 1 when a content-type value is gRPC's: "application/grpc", alone or
 * followed by "+" (a codec: +proto, +json) or ";" (parameters), any case.
 * gRPC-Web ("application/grpc-web...") is not: it is plain HTTP to a
 * gateway. */
int sl_grpc_content_type(const char *v, size_t n);

/*
 * A grpc-timeout value (PROTOCOL-HTTP2.md: 1 to 8 ASCII digits, then one
 * unit of H, M, S, m, u or n) in milliseconds, rounded up (a deadline is
 * never made later than the client's by rounding, and never 0 for a
 * positive one; a zero one is 1 ms, a deadline gone already); at most
 * UINT32_MAX. Returns 0 with *ms, or -1 when the
 * value is malformed.
 */
int sl_grpc_timeout_parse(const char *v, size_t n, uint32_t *ms);

/* The gRPC status for an HTTP status sluice would have answered with, and
 * its error code (a 504 that was the client's deadline is
 * DEADLINE_EXCEEDED, as the route's timeout: a 504 of any kind). */
int sl_grpc_status_of(int http_status);

/*
 * grpc-message's encoding (percent-encoding of every byte outside
 * 0x20..0x7e and of '%'), of n bytes of msg into dst (NUL-terminated,
 * cut before an escape that does not fit). Returns the length written.
 */
size_t sl_grpc_message_encode(char *dst, size_t dstsz, const char *msg,
			      size_t n);

#endif
