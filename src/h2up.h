/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams (doc/http2.md section 10): a cluster with
 * "protocol: h2c" shares a few HTTP/2 connections per endpoint per worker
 * among its exchanges. An exchange's upstream connection (upstream.h) is
 * then one stream of such a connection: a memory end (xprt.h) on which
 * the exchange writes its HTTP/1.1 request and reads an HTTP/1.1
 * response, as on a socket. h2up.c holds the other end and the shared
 * connections. Only upstream.c calls it.
 */
#ifndef SL_H2UP_H
#define SL_H2UP_H

struct sl_upconn;
struct sl_wendpoint;
struct sl_worker;

/*
 * Makes u (new, state not set yet, its endpoint's cluster speaking h2c)
 * one stream of a shared connection to its endpoint: u->xc gets the
 * exchange's memory end, whose connect completes once the connection has
 * the server's SETTINGS (at once when it has them), or fails as the
 * connection does. Returns -1 with errno EINPROGRESS (the connect is in
 * progress, as a socket's), or another errno: no connection can be made
 * (EBUSY: the endpoint is at max_connections; ENOMEM).
 */
int sl_h2up_open(struct sl_upconn *u);

/* 1 when a shared connection to ep can take one more stream now (at
 * max_connections a request still has room on one). */
int sl_h2up_has_room(const struct sl_wendpoint *ep);

/*
 * The endpoint's shared connections with no stream close now; the others
 * take no new stream and close after their last one (a reload retiring
 * the endpoint, the worker draining).
 */
void sl_h2up_close_idle(struct sl_wendpoint *ep);

/* Frees every shared connection of the worker and its streams (worker
 * teardown, after its clients are gone). */
void sl_h2up_worker_free(struct sl_worker *w);

#endif
