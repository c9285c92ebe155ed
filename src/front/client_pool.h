/* SPDX-License-Identifier: MIT */
/*
 * What a worker holds for its client connections, owned by the client
 * layer (client.c, client_pool.c): their lists, the client structs kept for
 * reuse, the slab their read events come from, the epoll set of parked idle
 * ones and the SO_SNDBUF budget. struct sl_worker embeds it, so its layout
 * is core's (wpools.h); nothing outside the client layer reads its fields
 * or calls the functions below.
 */
#ifndef SL_CLIENT_POOL_H
#define SL_CLIENT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "wpools.h" /* struct sl_client_pool */

struct sl_client;

/* ---- client_pool.c, for client.c -------------------------------------
 * (sl_client_park_idle, sl_client_free_list, sl_client_first and
 * sl_client_next, client_pool.c's too, are in client.h) */

/* Sets up an empty pool whose parked connections go to on_wake when they
 * become readable; parkable says which idle ones may park. */
void sl_client_pool_init(struct sl_client_pool *p,
			 void (*on_wake)(struct sl_client *c),
			 int (*parkable)(const struct sl_client *c));

/* A zeroed client struct for a new connection, a kept one or a new one,
 * with a read event from the slab in its rev (not assigned). Returns NULL
 * when out of memory. */
struct sl_client *sl_client_pool_take(struct sl_client_pool *p);

/* Takes back the struct of a closed client (freed, or kept for the next
 * connection with its event). */
void sl_client_pool_put(struct sl_client_pool *p, struct sl_client *c);

/* Takes parked c out of the park set and back among the unparked
 * connections; c has no event then. */
void sl_client_park_leave(struct sl_client *c);

/* The same, and gives c a read event from the slab in c->rev, which the
 * caller assigns and adds. Returns -1 when out of memory: c is unparked
 * with no event (c->rev NULL), and the caller closes it. */
int sl_client_unpark(struct sl_client *c);

/* A write to c that stalled could go on after stalled_ms: a fast reader
 * (within SL_RBUF_FAST_MS) gets its SO_SNDBUF doubled, within bounds per
 * connection and per worker (client_pool.c says which). */
void sl_client_sndbuf_grow(struct sl_client *c, uint64_t stalled_ms);

#endif
