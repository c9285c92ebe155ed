/* SPDX-License-Identifier: MIT */
/*
 * One proxied request/response exchange of a client connection (struct
 * sl_txn): routing, getting an upstream connection, streaming both bodies,
 * its deadlines, local error responses and the access log.
 */
#ifndef SL_EXCHANGE_H
#define SL_EXCHANGE_H

#include <stddef.h>

struct sl_client;
struct sl_upconn;
struct sl_txn;

/* A request waiting for an upstream connection tries again. Returns 1 when
 * it left the queue (connected, connecting or answered), 0 when it must
 * keep waiting. */
int sl_exchange_retry(struct sl_txn *t);

/* Event on u, owned by c: what is EV_READ or EV_WRITE (readiness), or
 * EV_WRITE when a connect finished (see u->state). */
void sl_exchange_on_upstream(struct sl_client *c, struct sl_upconn *u,
			     short what);

/* ---- for client.c ---------------------------------------------------- */

/* Counts the exchange and writes its access log line; called once for
 * every exchange, finished or cut. */
void sl_exchange_log(struct sl_client *c, struct sl_txn *t);

/* Frees c's exchange, if any: its events, buffers, queue place and
 * upstream connection (not reused). */
void sl_exchange_free(struct sl_client *c);

/* A complete head of head_len bytes is at c's in.off: parses it, routes it
 * and starts the exchange (c goes to state TXN). May close c. */
void sl_exchange_start(struct sl_client *c, size_t head_len);

/* Answers c's current request (or the head being read) with a local error
 * status/code; close forces the connection to close after it. May close
 * c. */
void sl_exchange_local(struct sl_client *c, int status, const char *code,
		       int close);

/* Refuses c's request (or the head being read, which is then dropped)
 * with status, for breaking rule why (enum sl_h1_reason): logged and
 * counted by rule; the connection closes after the answer. May close
 * c. */
void sl_exchange_reject(struct sl_client *c, int status, int why);

/* The error code (static) a local response to a bad request with this
 * status carries. */
const char *sl_exchange_status_code_name(int status);

/* 1 when a response head is held back waiting for its body's first
 * bytes. */
int sl_exchange_resp_head_held(const struct sl_txn *t,
			       const struct sl_upconn *u);

/* Moves bytes as far as they can go now. Returns -1 when c was closed or
 * the exchange ended, 0 when it waits for an event. */
int sl_exchange_pump(struct sl_client *c);

#endif
