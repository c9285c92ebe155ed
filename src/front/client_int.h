/* SPDX-License-Identifier: MIT */
/*
 * Private to the connection itself (client.c, client_pool.c), its own
 * HTTP/1 codec (client_h1.c) and the unit tests and fuzzers that play a
 * client (tests/unit/harness.h and test_client.c, test_h2.c, test_h2up.c,
 * test_tunnel.c, test_upstream_cut.c; tests/fuzz/fuzz_h2.c, fuzz_h2up.c):
 * what goes beyond the codecs' view of it (client_codec.h). No other codec
 * and no other module may include it.
 */
#ifndef SL_CLIENT_INT_H
#define SL_CLIENT_INT_H

#include <event2/util.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "client_codec.h"
#include "h1_msg.h"
#include "h1_parse.h"

/*
 * c->bodies: what HTTP/1 keeps for an exchange's bodies beside the
 * connection, made at the first need and gone with the exchange
 * (doc/design-notes.md, "HTTP/1.1 as a codec of fields"):
 * - a chunked request body's decoder (decoding): the codec decodes it as it
 *   reads it, so that its exchange sees payload and an end, as from
 *   HTTP/2. The payload stays in `in` where it was read, the framing
 *   between its pieces squeezed out; in.len ends what is decoded.
 * - a response body of pieces' chunk writer (SL_SEAM_F_FRAMING on c->s):
 *   the exchange hands the codec payload, an end and trailers, and the
 *   codec writes the chunked coding around them (client_write).
 */
struct sl_h1_bodies {
	uint8_t decoding; /* the request body is decoded */
	/* the response's chunked coding */
	uint32_t rlast_len;
	char *rlast; /* its last chunk with trailers as text (the trailers
			op): rshort, or malloc'd; NULL: none */
	struct sl_h1_chunker rck;
	char rshort[64];
	/* the request's trailers (their block's room kept with the struct) */
	struct sl_h1_trailers trl;
	/* the request's chunked body, from here on zeroed for each */
	uint16_t bad;	   /* SL_SEAM_F_BODY_BAD: the status (req_refusal) */
	uint8_t why;	   /* and its reason (enum sl_h1_reason) */
	uint32_t tail;	   /* bytes after the body's end (the next
			      request's), held past in.len until the
			      exchange ends */
	uint64_t max_body; /* the route's bound (0: none) */
	uint64_t bytes;	   /* payload decoded */
	struct sl_h1_chunked ck; /* (last: what is before it is zeroed for
				    each body, ck is initialised) */
};

/* A struct sl_h1_bodies no exchange will take again, freed with the room
 * it keeps. */
static inline void
sl_h1_bodies_free(struct sl_h1_bodies *d)
{
	sl_h1_trailers_free(&d->trl);
	free(d);
}

/* The lingering of an idle connection a drain closes: what a client sent
 * as the drain began (one round trip). */
#define DRAIN_LINGER_MS 500

/*
 * What HTTP/1 (client_h1.c) needs of the connection beyond what every
 * codec does. sl_client_want_write: interest in the write event an
 * exchange lent c (its own, sl_exchange_codec_event), on or off.
 * sl_client_finish_ms: sl_client_finish with the lingering bounded by ms.
 * sl_client_linger_out: a lingering connection whose response was not all
 * sent when it began (C_F_LINGER_OUT) looks again; returns 1 when c stays,
 * 0 when it is to close now. sl_client_on_write: the callback of that
 * write event (the codec that owns c's bytes writes). Each may close c but
 * sl_client_linger_out.
 */
void sl_client_want_write(struct sl_client *c, int on);
void sl_client_finish_ms(struct sl_client *c, const char *reason, int linger,
			 uint64_t ms);
int sl_client_linger_out(struct sl_client *c);
void sl_client_on_write(evutil_socket_t fd, short what, void *arg);

/*
 * A connection of listener l on w over a memory end (xprt.h), for tests:
 * what sl_client_new makes of an accepted socket, the client at sa. It
 * takes its place among l's connections (not counted per address) and
 * owns end from then on (closed with the connection). Returns the
 * connection (closed already when it ended on its first read), or NULL
 * when it could not be made (l's max_connections, no memory; end closed).
 * A closed connection's struct goes back to the worker's pool (client.h,
 * sl_client_reap), where it is kept for the next connection.
 */
struct sl_client *sl_client_new_mem(struct sl_worker *w,
				    const struct sl_conf_listener *l,
				    struct sl_xprt_mem *end,
				    const struct sockaddr *sa, socklen_t salen);

#endif
