/* SPDX-License-Identifier: MIT */
/*
 * Protocol upgrades (doc/websocket.md): the checks of a request that asks
 * to switch protocols and of the upstream's 101 (RFC 9110 section 7.8,
 * RFC 6455 section 4 for WebSocket), and WebSocket frame boundaries on a
 * tunnel's bytes (RFC 6455 section 5.2). Pure: no I/O, no state but the
 * caller's.
 */
#ifndef SL_WS_H
#define SL_WS_H

#include <stddef.h>
#include <stdint.h>

#include "h1_parse.h"
#include "tls.h"

/*
 * A request against the protocols its route allows (lower-case tokens,
 * allowed[0..n)). Returns 0 when it asks for none of them with Connection:
 * upgrade (its Upgrade is then dropped as hop-by-hop), 1 when it asks for
 * allowed[*idx] and passes the checks (for "websocket", accept is the
 * Sec-WebSocket-Accept its 101 must carry), or -1 when it must be refused
 * with a 400: *code says why (static), *fields are the answer's own fields
 * (or NULL).
 */
int sl_ws_request(const struct sl_h1_request *req, char *const *allowed,
		  size_t n, size_t *idx, char accept[SL_WS_ACCEPT_LEN + 1],
		  const char **code, const char **fields);

/* An upstream's 101 for a request that asked for proto (accept: its
 * WebSocket Sec-WebSocket-Accept). NULL when it may pass, else why not
 * (static). */
const char *sl_ws_response(const struct sl_h1_response *resp, const char *proto,
			   const char *accept);

/* WebSocket frame boundaries on a byte stream: where a frame ends, a close
 * frame of sluice's own may go in. Zeroed to start. */
struct sl_ws_track {
	uint64_t left;	    /* payload bytes of the current frame to come */
	uint8_t hdr[14];    /* a frame header being read */
	uint8_t hlen;	    /* bytes of it so far */
	uint8_t need;	    /* its length, once its second byte is known */
	uint8_t close_seen; /* a close frame went by */
};

/* Follows n more bytes of the stream. */
void sl_ws_track(struct sl_ws_track *k, const unsigned char *p, size_t n);

static inline int
sl_ws_at_boundary(const struct sl_ws_track *k)
{
	return k->left == 0 && k->hlen == 0;
}

/* The status codes of sluice's own close frames (RFC 6455 section 7.4.1),
 * and how long a closing tunnel waits for its peers' answers. */
#define SL_WS_GOING_AWAY     1001
#define SL_WS_POLICY	     1008
#define SL_WS_CLOSE_GRACE_MS 2000
#define SL_WS_CLOSE_MAX	     8 /* bytes of a close frame, masked */

/* Writes a close frame with code into f (SL_WS_CLOSE_MAX bytes): masked
 * with key, as a client's frame must be (RFC 6455 section 5.3), or not, as
 * a server's. Returns its length. */
size_t sl_ws_close_frame(unsigned char *f, unsigned code, int masked,
			 uint32_t key);

#endif
