/* SPDX-License-Identifier: MIT */
/*
 * The client connection state machine (client.c: its transport, deadlines,
 * lingering and closing, its life from accept to reap) and, through the
 * codecs the worker gives it, reading and checking request heads and
 * keep-alive (HTTP/1, client_h1.c). The exchange each request drives with
 * an upstream is in exchange.h.
 */
#ifndef SL_CLIENT_H
#define SL_CLIENT_H

#include <sys/socket.h>

struct sl_worker;
struct sl_lsock;
struct sl_client;
struct sl_client_codec;
struct sl_seam_ops;
struct sl_upconn;

/*
 * The codecs a worker's connections may take on, given by whoever makes
 * the worker (worker.c knows every module; client.c names none of them):
 * HTTP/1's table and the operations of the one stream it carries
 * (client_h1.h), the table of the accept phase (a PROXY header, the TLS
 * handshake: client_accept.h), which a connection of such a listener
 * starts in, and the entry points of HTTP/2 (h2.h: by ALPN, or the
 * preface) and of a tunnel after a 101 (tunnel.h). Each start installs
 * the codec's table (client_codec.h) and returns 0, or -1: h2 when it
 * closed c, tunnel when it took nothing.
 */
struct sl_client_codecs {
	const struct sl_client_codec *h1; /* IDLE, HEAD, TXN, LINGER states */
	const struct sl_seam_ops *h1_stream;  /* c->s.ops: HTTP/1's stream */
	const struct sl_client_codec *accept; /* PROXY and HANDSHAKE states */
	const struct sl_client_codec *h2;     /* the H2 state */
	const struct sl_client_codec *tunnel; /* the TUNNEL state */
	int (*h2_start)(struct sl_client *c);
	int (*tunnel_start)(struct sl_client *c, struct sl_upconn *u, int ws);
};

/*
 * Takes over fd, a connection accepted on ls and already counted against
 * the listener's limits (ip_slot from sl_runtime_ip_take). Closes fd and
 * releases the counts on failure.
 */
void sl_client_new(struct sl_lsock *ls, int fd, const struct sockaddr *sa,
		   socklen_t salen, int ip_slot);

/* The worker starts draining (w->draining says why): busy connections
 * close after their current exchange; an idle one is held for one more
 * request (answered with Connection: close), a second on a stop, until
 * shortly before drain_timeout on an upgrade's drain, then closed. */
void sl_client_drain(struct sl_client *c);

/*
 * An upgrade's drain hands idle connections to the new process
 * (doc/upgrade.md). sl_client_hand_prepare: when c is an idle plain
 * HTTP/1.1 connection with no byte held either way (not TLS, not HTTP/2,
 * not a tunnel, no PROXY header's identity, nothing read and not parsed),
 * stops watching it, so that this process reads nothing more from it, and
 * returns its descriptor; else -1, c untouched. sl_client_hand_done, for
 * each prepared c: sent (the new process has the socket): c is closed
 * here without a byte read or written, which ends nothing (may free c);
 * else c is watched again and drains as any idle connection.
 */
int sl_client_hand_prepare(struct sl_client *c);
void sl_client_hand_done(struct sl_client *c, int sent);

/* A reload was applied: a client whose listener is gone closes when idle,
 * else after its current exchange. May close c. */
void sl_client_reloaded(struct sl_client *c);

/* The worker's first connection, and the one after c (unparked ones
 * first, then parked ones), or NULL. */
struct sl_client *sl_client_first(struct sl_worker *w);
struct sl_client *sl_client_next(struct sl_client *c);

/* Parks the connections idle for a while (called periodically). */
void sl_client_park_idle(struct sl_worker *w);

struct sl_tnode;
/* A connection's deadline in a worker timer list expired. */
void sl_client_on_deadline(struct sl_tnode *n);
/* Frees a closed connection (from the worker's reap event). */
void sl_client_reap(struct sl_tnode *n);
/* Sets up what w holds for its client connections (w->cpool), at worker
 * start; codecs (static) are the codecs they may take on. */
void sl_client_worker_init(struct sl_worker *w,
			   const struct sl_client_codecs *codecs);
/* Frees the worker's cached client structs (worker teardown). */
void sl_client_free_list(struct sl_worker *w);

/* Closes c at once (end of drain). */
void sl_client_abort(struct sl_client *c);

#endif
