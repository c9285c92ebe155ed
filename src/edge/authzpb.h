/* SPDX-License-Identifier: MIT */
/*
 * The messages of Envoy's external authorization service
 * (envoy.service.auth.v3.Authorization/Check, doc/auth.md), written and
 * read by hand: the few fields sluice sends in a CheckRequest and takes
 * from a CheckResponse, by their numbers in Envoy's published protos
 * (external_auth.proto, attribute_context.proto, base.proto,
 * address.proto, google/rpc/status.proto). No generated code and no
 * protobuf library: what is read is bounded, and anything else in a
 * message is skipped as protobuf allows. Pure: no I/O, no malloc.
 */
#ifndef SL_AUTHZPB_H
#define SL_AUTHZPB_H

#include <stddef.h>
#include <stdint.h>

struct sl_authzpb_str {
	const char *p;
	size_t len;
};

struct sl_authzpb_field {
	struct sl_authzpb_str name, value;
};

/* What a CheckRequest says of the request. headers: one entry a name,
 * lower case, its values already joined (the proto's map). */
struct sl_authzpb_req {
	struct sl_authzpb_str id, method, path, host, scheme, protocol;
	struct sl_authzpb_str src_addr, dst_addr; /* IP addresses as text */
	uint32_t src_port, dst_port;
	struct sl_authzpb_str principal; /* the TLS client certificate's
					    subject; len 0: none */
	const struct sl_authzpb_field *headers;
	size_t nheaders;
	int64_t size;	/* the body's, -1 when unknown */
	int64_t time_s; /* when the request came (0: not sent) */
	int32_t time_ns;
	struct sl_authzpb_str body; /* len 0: none sent */
};

/*
 * Writes the CheckRequest for r into out (cap bytes), after a gRPC
 * message prefix (5 bytes: not compressed, the length). Returns the whole
 * length, or -1 when it does not fit.
 */
long sl_authzpb_check_request(uint8_t *out, size_t cap,
			      const struct sl_authzpb_req *r);

#define SL_AUTHZPB_FIELDS_MAX 32 /* fields taken from a response */

/* What a CheckResponse says. Strings point into the message. */
struct sl_authzpb_resp {
	int32_t code;	     /* status.code: 0 allows */
	int has_status;	     /* the status was there */
	int32_t http_status; /* denied_response.status.code; 0: none */
	/* ok_response.headers, or denied_response.headers */
	struct sl_authzpb_field fields[SL_AUTHZPB_FIELDS_MAX];
	uint8_t append[SL_AUTHZPB_FIELDS_MAX]; /* the option's append */
	size_t nfields;
	/* ok_response.headers_to_remove */
	struct sl_authzpb_str remove[SL_AUTHZPB_FIELDS_MAX];
	size_t nremove;
	struct sl_authzpb_str body; /* denied_response.body */
};

/*
 * Reads a CheckResponse from one gRPC message (5-byte prefix and the
 * message, len bytes in all, nothing after it). Returns 0, or -1 when it
 * is malformed, compressed, or has more fields than taken.
 */
int sl_authzpb_check_response(const uint8_t *p, size_t len,
			      struct sl_authzpb_resp *out);

#endif
