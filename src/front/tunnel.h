/* SPDX-License-Identifier: MIT */
/*
 * The client layer's tunnel state (doc/websocket.md): after an upstream's
 * checked 101 the HTTP/1 connection stops parsing and moves bytes both
 * ways between its client and that upstream connection, with a bounded
 * buffer per direction, backpressure, half-closes passed on, and budgets
 * of its own (tunnel_idle_timeout, tunnel_lifetime, send_timeout, the
 * drain's grace). A codec of the connection like h2.c: the connection
 * calls it through its table (client_codec.h), and it ends the connection
 * through client.c's functions; unlike a codec of exchanges it owns the
 * upstream connection, which never goes back to a pool. The
 * exchange that asked for the tunnel is kept, without phases or events,
 * for its access log line, written when the tunnel ends.
 */
#ifndef SL_TUNNEL_H
#define SL_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "wloop.h"
#include "ws.h"

struct sl_client;
struct sl_upconn;

/* c becomes a tunnel to u (c's exchange is kept for the log, and c->s.txn
 * is NULL): the stream's tunnel operation, after which HTTP/1 (client_h1.c)
 * sets the state. ws: WebSocket, whose frames are followed so that a budget's
 * end can send close frames. The bytes move from the next loop turn, and the
 * connection calls the tunnel through its table (client_codec.h: its
 * events, a drain or a removed listener, which end it with close frames
 * where the protocol and the bytes in flight allow (1001), a reload,
 * which leaves it tunnel_drain_timeout at most, and the close, which
 * frees it and writes the exchange's log line). Returns -1 when out of
 * memory (nothing was taken). The worker gives it to its connections
 * (client.h, struct sl_client_codecs): client.c does not name it. */
int sl_tunnel_start(struct sl_client *c, struct sl_upconn *u, int ws);

/* The tunnel's table for a connection in the TUNNEL state
 * (client_codec.h): the worker hands it to client.c. */
struct sl_client_codec;
extern const struct sl_client_codec sl_tunnel_codec;

/* The reason's name for metrics and logs. */
const char *sl_tunnel_end_str(enum sl_tun_end e);

#endif
