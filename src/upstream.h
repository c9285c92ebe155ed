/* SPDX-License-Identifier: MIT */
/*
 * Upstream connections: connecting, the per-worker per-endpoint pools of
 * idle keep-alive connections, and their events. The request/response
 * exchange itself is driven by exchange.c for the client that owns an
 * active connection.
 */
#ifndef SL_UPSTREAM_H
#define SL_UPSTREAM_H

#include <event2/event_struct.h>
#include <sys/queue.h>

#include "buf.h"
#include "worker.h"

enum sl_upconn_state {
	SL_UP_ST_CONNECTING, /* connect() in progress; owner != NULL */
	SL_UP_ST_ACTIVE,     /* connected and owned by a client */
	SL_UP_ST_IDLE,	     /* in ep->idle; owner == NULL, in is empty */
};

/* Owned by its endpoint's pool when idle, by its client when not. */
struct sl_upconn {
	TAILQ_ENTRY(sl_upconn) entry; /* in ep->idle when IDLE */
	struct sl_worker *w;
	struct sl_wendpoint *ep; /* borrowed */
	struct sl_client *owner; /* borrowed, NULL when IDLE */
	enum sl_upconn_state state;
	int fd;
	int rev_on; /* rev is added */
	int wev_on; /* wev is added */
	struct event rev, wev;
	struct event tev;   /* idle timeout in the pool */
	struct sl_buf in;   /* response bytes */
	uint32_t ready;	    /* in: end of the bytes checked and ready to send */
	uint32_t nrequests; /* requests sent on this connection */
	uint64_t id;
};

/*
 * Gives owner a connection to ep: a pooled one (state ACTIVE) unless fresh
 * is set or none is idle, else a new one (state CONNECTING; the owner is
 * told when it is connected through sl_exchange_on_upstream). Returns NULL
 * with errno set when a socket cannot even be created.
 */
struct sl_upconn *sl_upstream_get(struct sl_worker *w, struct sl_wendpoint *ep,
				  struct sl_client *owner, int fresh);

/*
 * Ends the owner's use of u: back to its pool when reusable is set and the
 * pool has room, else closed. u must not be used afterwards.
 */
void sl_upstream_put(struct sl_upconn *u, int reusable);

/* Read/write interest of an active connection. */
void sl_upstream_want_read(struct sl_upconn *u, int on);
void sl_upstream_want_write(struct sl_upconn *u, int on);

/* Closes the idle connections of one endpoint (retired by a reload). */
void sl_upstream_close_idle_ep(struct sl_wendpoint *ep);

/* Closes idle connections that hold max_connections slots requests in
 * other workers wait for (called periodically). */
void sl_upstream_shed_idle(struct sl_worker *w);

/* Closes every idle connection of the worker (stop). */
void sl_upstream_close_idle(struct sl_worker *w);

#endif
