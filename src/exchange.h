/* SPDX-License-Identifier: MIT */
/*
 * One proxied request/response exchange of a client connection (struct
 * sl_txn): routing, getting an upstream connection, streaming both bodies,
 * its deadlines, local error responses and the access log.
 */
#ifndef SL_EXCHANGE_H
#define SL_EXCHANGE_H

#include <stddef.h>
#include <sys/uio.h>

struct sl_client;
struct sl_upconn;
struct sl_txn;

/* ---- for client.c ---------------------------------------------------- */

/* Counts the exchange and writes its access log line; called once for
 * every exchange, finished or cut. */
void sl_exchange_log(struct sl_client *c, struct sl_txn *t);

/* The exchange's phases and flags in words, for debug logs ("req=done
 * up=none resp=upstream flags=req_sent,idempotent"), into buf (size bytes,
 * cut when too small). Returns buf. */
const char *sl_exchange_state_str(const struct sl_txn *t, char *buf,
				  size_t size);

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

/* What to write to the client now: the exchange's own heads, then the
 * response bytes that are ready. Fills iov (2 entries) and returns how
 * many; *more is set when more response bytes already wait upstream (a
 * MSG_MORE hint). */
int sl_exchange_output(struct sl_client *c, struct iovec *iov, int *more);

/* n bytes of that output were written. Returns 1 when some of it is still
 * to be written. */
int sl_exchange_sent(struct sl_client *c, size_t n);

/* Arms the exchange's nearest deadline, and its upstream's read interest
 * when there is room again. */
void sl_exchange_schedule(struct sl_client *c);

/* Moves bytes as far as they can go now. Returns -1 when c was closed or
 * the exchange ended, 0 when it waits for an event. */
int sl_exchange_pump(struct sl_client *c);

#endif
