/* SPDX-License-Identifier: MIT */
/*
 * The response an upstream connection carries, read by the reader of
 * upstream responses (h1_reader.h) on the connection's buffer: for the
 * owners that read an answer whole for themselves (a mirror copy, a
 * subrequest, the Idempotency-Key store's orphan), not the exchange,
 * which passes its bytes on as they come (exchange_resp.c).
 */
#ifndef SL_UPREAD_H
#define SL_UPREAD_H

#include <stddef.h>

#include "h1_reader.h"

struct sl_upconn;

/*
 * The next event of u's response (h1_reader.h's contract), read by r from
 * u->in, from the connection as r needs more (bufsize: the buffer's size;
 * a head that fills it grows it up to r's max_header_bytes). The bytes of
 * an INTERIM, HEAD or DATA event stay in u->in for the caller to look at,
 * and go at the next call; every other event's go at once, so that u is
 * in sync after END. An HTTP/2 stream's head blocks and end mark are r's
 * input too (sl_upstream_ended); after END of a body of pieces
 * sl_upstream_trailers(u) has its trailers. Returns SL_H1_RD_MORE when
 * nothing more can be read now (wait for u's READABLE), SL_H1_RD_FAILED
 * when the read failed (ev->err). u->ready follows what was read: the
 * owner passes nothing on.
 */
enum sl_h1_rd_ev sl_upstream_read_response(struct sl_upconn *u,
					   struct sl_h1_reader *r,
					   size_t bufsize,
					   struct sl_h1_rd_event *ev);

#endif
