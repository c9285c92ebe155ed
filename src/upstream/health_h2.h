/* SPDX-License-Identifier: MIT */
/*
 * A health check over HTTP/2 (health.c, for clusters with protocol h2c or
 * h2; doc/http2.md section 10): one request on a connection of its own,
 * a GET of the check's path, or the gRPC health protocol's
 * grpc.health.v1.Health/Check for a service name. The check's bytes are
 * made at once (the connection preface, SETTINGS, the request); what the
 * server sends is fed in until the answer is whole. Knows no socket.
 */
#ifndef SL_HEALTH_H2_H
#define SL_HEALTH_H2_H

#include <stddef.h>

struct sl_hc_h2;

/* What came of a check (sl_hc_h2_input). */
struct sl_hc_h2_result {
	int status;	 /* :status */
	int grpc_status; /* grpc-status, -1: none came */
	int serving;	 /* gRPC: HealthCheckResponse.status (1 SERVING, 2
			    NOT_SERVING, 3 SERVICE_UNKNOWN), -1: none */
};

/*
 * A check of path on authority (scheme https when tls), or, when
 * grpc_service is not NULL, a gRPC health check of that service ("": the
 * server as a whole). *out and *outlen get the bytes to send (owned by
 * the check). Returns NULL when out of memory.
 */
struct sl_hc_h2 *sl_hc_h2_new(const char *authority, const char *path, int tls,
			      const char *grpc_service, const char **out,
			      size_t *outlen);

/*
 * Feeds len bytes the server sent. Returns 0 while the answer is not
 * whole, 1 when it is (*res filled), -1 when the exchange failed (*why:
 * a reset, a GOAWAY, a protocol error, a malformed gRPC answer).
 */
int sl_hc_h2_input(struct sl_hc_h2 *x, const void *buf, size_t len,
		   struct sl_hc_h2_result *res, const char **why);

void sl_hc_h2_free(struct sl_hc_h2 *x);

/*
 * The gRPC health answer's message (a gRPC frame holding a
 * grpc.health.v1.HealthCheckResponse) at p, n bytes: its status field,
 * 0 when absent, or -1 when the bytes are not such a message.
 */
int sl_hc_grpc_serving(const unsigned char *p, size_t n);

#endif
