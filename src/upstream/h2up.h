/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (doc/http2.md section 10): a cluster with
 * "protocol: h2c" shares a few HTTP/2 connections per endpoint per worker
 * among its exchanges. An exchange's upstream connection (upstream.h) is
 * then one stream of such a connection: its transport (SL_XPRT_STREAM,
 * xprt.h) is the stream, on which the exchange writes its request (a head
 * block or HTTP/1.1 text, then its body) and reads the response (a head
 * block, then its body as pieces, the trailers a field block, the end
 * the stream's mark), as on a socket. h2up.c implements that transport and
 * holds the shared connections. It sits above upstream.c, which knows
 * nothing of it: the
 * pool reaches the shared connections only through the handler h2up.c
 * sets on their endpoint (sl_up_pool_handler). Called by whoever picks an
 * upstream connection for a request (attempt.c, mirror.c) and by
 * worker.c.
 */
#ifndef SL_H2UP_H
#define SL_H2UP_H

#include "upstream.h"

struct sl_worker;

/*
 * Gives the caller a connection to ep (its cluster speaking h2c or h2)
 * that is one stream of a shared HTTP/2 connection, owned through
 * handler(arg) as sl_upstream_get's: state ACTIVE at once, as a pooled
 * connection, when the shared connection has the server's SETTINGS;
 * else state CONNECTING, its connect completing (CONNECTED) once it has
 * them, or failing (FAILED) as the connection does. The caller gives it
 * back with sl_upstream_put.
 * Returns NULL with errno when no connection can be made (EBUSY: the
 * endpoint is at max_connections; ENOMEM).
 */
struct sl_upconn *sl_h2up_get(struct sl_worker *w, struct sl_wendpoint *ep,
			      sl_up_handler *handler, void *arg);

/* 1 when a shared connection to ep can take one more stream now (at
 * max_connections a request still has room on one); 0 when ep has none
 * (an HTTP/1.1 cluster's endpoint, among others). */
int sl_h2up_has_room(const struct sl_wendpoint *ep);

/* Frees every shared connection of the worker and its streams (worker
 * teardown, after its clients are gone). */
void sl_h2up_worker_free(struct sl_worker *w);

/* Frees the upstream streams (and their sl_upconn structs) the calling
 * thread keeps for reuse: a worker's thread at its end, as the last
 * thing it does (a thread's keeping would be lost with the thread), and
 * the main thread after the workers' teardown (which frees streams on
 * it). */
void sl_h2up_thread_free(void);

#endif
