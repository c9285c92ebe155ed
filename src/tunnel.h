/* SPDX-License-Identifier: MIT */
/*
 * The client layer's tunnel state (doc/websocket.md): after an upstream's
 * checked 101 the HTTP/1 connection stops parsing and moves bytes both
 * ways between its client and that upstream connection, with a bounded
 * buffer per direction, backpressure, half-closes passed on, and budgets
 * of its own (tunnel_idle_timeout, tunnel_lifetime, send_timeout, the
 * drain's grace). Like h2.c it reaches the connection through client_int.h
 * and ends it through client.c's functions; unlike a codec of exchanges it
 * owns the upstream connection, which never goes back to a pool. The
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
 * is NULL): the stream's tunnel operation, after which client.c sets the
 * state. ws: WebSocket, whose frames are followed so that a budget's end
 * can send close frames. The bytes move from the next loop turn. Returns
 * -1 when out of memory (nothing was taken). */
int sl_tunnel_start(struct sl_client *c, struct sl_upconn *u, int ws);

/* c's events and deadline, from client.c. */
void sl_tunnel_on_read(struct sl_client *c);
void sl_tunnel_on_write(struct sl_client *c);
void sl_tunnel_on_deadline(struct sl_client *c);

/* A stop, or c's listener removed: the tunnel ends now, with close frames
 * where the protocol and the bytes in flight allow (1001). */
void sl_tunnel_drain(struct sl_client *c);
/* A reload: the tunnel stays on its generation until it ends, or for
 * tunnel_drain_timeout at most. */
void sl_tunnel_reloaded(struct sl_client *c);

/* Frees the tunnel state as c closes (from client.c's close): the
 * exchange's log line, the upstream connection, the counts. */
void sl_tunnel_free(struct sl_client *c, const char *reason);

/* The reason's name for metrics and logs. */
const char *sl_tunnel_end_str(enum sl_tun_end e);

#endif
