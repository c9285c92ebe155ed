/* SPDX-License-Identifier: MIT */
/*
 * One proxied request/response exchange (struct sl_txn) on a stream of a
 * client connection: routing, getting an upstream connection, streaming
 * both bodies, its deadlines, local error responses and the access log.
 */
#ifndef SL_EXCHANGE_H
#define SL_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct event;
struct sl_seam;
struct sl_txn;

/*
 * For the codec under the exchange (client.c's HTTP/1; seam.h): what it
 * hands an exchange, and what it asks of one. An exchange calls its codec
 * back only through its stream's operations.
 */

/* A new exchange on stream s (s->txn), its first byte read at start_ms.
 * Returns NULL when out of memory. */
struct sl_txn *sl_exchange_new(struct sl_seam *s, uint64_t start_ms);

/* Room for one event the codec may use for the time of exchange t (an
 * HTTP/1 connection's write event: held only while an exchange runs, so
 * that an idle connection stays small). The exchange never touches it. */
struct event *sl_exchange_codec_event(struct sl_txn *t);

/*
 * A tunnel's exchange (seam.h's tunnel operation, doc/websocket.md): the
 * buffer of its response head still to be sent (the codec sends it before
 * the tunnel's bytes and may release it), and its end: s->txn set to it
 * again, its access log line with the tunnel's bytes each way and its whole
 * duration, then freed (s->txn is NULL).
 */
struct sl_buf *sl_exchange_tunnel_head(struct sl_txn *t);
void sl_exchange_tunnel_end(struct sl_seam *s, uint64_t bytes_in,
			    uint64_t bytes_out);

/* A reload (sl_exchange_tunnel_reloaded: the stream's tunnel has
 * tunnel_drain_timeout left) or a stop (sl_exchange_tunnel_drain: it
 * closes now, with close frames) seen by an HTTP/2 stream; nothing for an
 * exchange that is not a tunnel. */
void sl_exchange_tunnel_reloaded(struct sl_seam *s);
void sl_exchange_tunnel_drain(struct sl_seam *s);

/* The exchange's phases and flags in words, for debug logs ("req=done
 * up=receiving send=done resp=upstream body=stream replay=none pace=paused
 * flags=idempotent,in_cluster"), into buf (size bytes, cut when too
 * small). Returns buf. */
const char *sl_exchange_state_str(const struct sl_txn *t, char *buf,
				  size_t size);

/* A complete head of head_len bytes is at s's in.off: parses it, routes it
 * and starts the exchange. May end the stream. */
void sl_exchange_start(struct sl_seam *s, size_t head_len);

/* Refuses the head being read (dropped, its parts logged as far as they
 * can be read) or the request, with status, for breaking rule why (enum
 * sl_h1_reason): logged and counted by rule; the connection closes after
 * the answer. May end the stream. */
void sl_exchange_reject(struct sl_seam *s, int status, int why);

/* The head being read (or the request's body) did not come in time: a
 * 408 that closes the connection, logged with error (static:
 * "header_timeout", ...). May end the stream. */
void sl_exchange_timed_out(struct sl_seam *s, const char *error);

/* The stream closes under its exchange (reason, static): the exchange is
 * logged (a 499 when nothing was answered yet) and freed. */
void sl_exchange_closed(struct sl_seam *s, const char *reason);

/* The connection is to end after this exchange (a drain, a listener a
 * reload removed): it answers with Connection: close. */
void sl_exchange_last(struct sl_seam *s);

/* 1 while the request (its body) is still being read. */
int sl_exchange_reading(const struct sl_seam *s);

/* n request bytes were read for the exchange (its body's meter). */
void sl_exchange_body_read(struct sl_seam *s, size_t n);

/* n bytes of the body's framing were read and dropped by the codec (a
 * chunked body's: seam.h, req_dechunk): the client sent them (the access
 * log's bytes_in). */
void sl_exchange_body_framing(struct sl_seam *s, size_t n);

/*
 * With SL_SEAM_F_SPLICE (the body goes by splice(2), exchange_req.c):
 * the codec's socket fd is readable. Moves request body bytes from it to
 * the exchange's pipe, never past the body's end. Returns the bytes moved
 * (the codec counts them as read: sl_exchange_body_read), 0 at the end of
 * the stream, or -1 with errno (EAGAIN: nothing there, or the pipe still
 * holds what the upstream has not taken: reading waits, see
 * sl_exchange_splice_room).
 */
ssize_t sl_exchange_splice_read(struct sl_seam *s, int fd);
/* Splicing ends (the body done, the exchange ending, or the codec
 * giving up on splice(2): the rest of the body is then read into `in`):
 * the pipe goes back to the worker, closed if it still holds bytes. */
void sl_exchange_splice_end(struct sl_seam *s);
/* With SL_SEAM_F_SPLICE: 1 when the pipe can take more (read interest
 * on), 0 while it holds bytes for the upstream. */
int sl_exchange_splice_room(const struct sl_seam *s);

/* Reading stopped because the request bytes fill their buffer: the
 * gateway's doing, not the client's (min_body_rate excuses it). */
void sl_exchange_body_paused(struct sl_seam *s);

/* What to write to the client now: the exchange's own heads, then the
 * response bytes that are ready (to a codec of text, a body of pieces
 * framed as chunks). Fills iov (SL_EXCHANGE_IOV entries at most; 2 for a
 * codec of fields) and returns how many; *hints gets SL_EXCHANGE_OUT_*
 * (seam.h). */
#define SL_EXCHANGE_IOV 4
int sl_exchange_output(struct sl_seam *s, struct iovec *iov, int *hints);

/* 1 when nothing will follow what sl_exchange_output hands over now: a
 * local answer, or an upstream response read whole (a codec that frames
 * the body itself ends it with those bytes: HTTP/2's END_STREAM). */
int sl_exchange_output_done(const struct sl_seam *s);

/* Request body bytes at in.off that went upstream but stay in `in` for a
 * retry (retry.h): the codec's view of what the exchange has taken is
 * in.off plus these. 0 without an exchange. */
uint32_t sl_exchange_body_held(const struct sl_seam *s);

/* n bytes of that output were written. Returns 1 when some of it is still
 * to be written. */
int sl_exchange_sent(struct sl_seam *s, size_t n);

/* n bytes of framing the codec wrote around that output (HTTP/1.1's
 * chunked coding): counted as the response's bytes. */
void sl_exchange_sent_framing(struct sl_seam *s, size_t n);

/* Writing stalled (it waits for room): send_timeout counts from now. */
void sl_exchange_stalled(struct sl_seam *s);

/* There is room to write again. Returns how long writing was stalled,
 * which says how fast the client drains (the response buffer's size
 * follows it: seam.h). */
uint64_t sl_exchange_writable(struct sl_seam *s);

/* Arms the exchange's nearest deadline, and its upstream's read interest
 * when there is room again. */
void sl_exchange_schedule(struct sl_seam *s);

/* Moves bytes as far as they can go now. Returns -1 when the stream was
 * closed or the exchange ended, 0 when it waits for an event. */
int sl_exchange_pump(struct sl_seam *s);

/* The error code (static) a local response to a bad request with this
 * status carries. */
const char *sl_exchange_status_code_name(int status);

/* The client's "ADDR:PORT" for exchange t's log lines (sl_seam_peer_str:
 * the one a trusted proxy named, when it did). */
const char *sl_exchange_peer_str(const struct sl_seam *s,
				 const struct sl_txn *t, char *buf, size_t n);

struct sl_worker;
/* The worker's free exchanges, and what each keeps for the next (at its
 * end). */
void sl_exchange_txns_free(struct sl_worker *w);

#endif
