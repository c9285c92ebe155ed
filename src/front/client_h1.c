/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1 codec of a client connection: reading request heads and
 * bodies into the connection's `in` (and splicing a body), scanning heads,
 * starting each request's exchange and being the one stream it carries
 * (seam.h), writing its responses, keep-alive between requests, the idle
 * and header deadlines, the lingering close's reading, half-close, and
 * HTTP/2 by prior knowledge (the preface) or ALPN. A codec like the others
 * (client_codec.h): the connection calls it only through its table, which
 * the worker gives it (client.h, struct sl_client_codecs), and it calls
 * down into client.c for the connection's transport interest, states,
 * closing and lingering, never the other way. It starts the HTTP/2 codec
 * and a tunnel only through the worker's table, and knows no upstream:
 * the exchange (exchange.h) proxies each request.
 */
#include "client_h1.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "client.h"
#include "client_int.h"
#include "client_pool.h"
#include "exchange.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "hblock.h"
#include "log.h"
#include "runtime.h"
#include "splice.h"
#include "tls.h"
#include "wgen.h"
#include "wloop.h"
#include "xprt.h"

/*
 * At most this many bytes written to a connection, each write taken
 * whole, are on the wire already: a TCP stack's first window is larger
 * (Linux's smallest receive buffer, 2,304 bytes, advertises 1,152), and
 * so is the first congestion window (ten segments). Below it the close
 * does not ask the kernel what is unsent (an ioctl a connection).
 */
#define SURELY_SENT 1024u

/* a stop leaves an idle keep-alive connection this long to send one more
 * request (answered with Connection: close) before it closes it; the
 * drain of an upgrade leaves it until shortly before drain_timeout
 * (sl_client_drain) */
#define DRAIN_IDLE_MS  1000
#define HEAD_BUF_START 4096 /* first buffer of a request head */

/* c->out_bytes stops counting once past SURELY_SENT: it holds at most
 * SURELY_SENT + (SURELY_SENT + 1) bytes (client_write) */
_Static_assert(2 * SURELY_SENT + 1 <= UINT16_MAX, "out_bytes is 16 bits");

static void client_process(struct sl_client *c);
static int client_exchange(struct sl_client *c);

/* c's transport (xprt.h): TCP, TLS or a memory end. */
#define XPRT(c) sl_client_xprt(c)

/* The connection its stream is (the one stream an HTTP/1 connection
 * carries). */
#define CLIENT_OF_SEAM(st)                                                     \
	((struct sl_client *)((char *)(st)-offsetof(struct sl_client, s)))

/*
 * The head being read did not come whole: its scanner's state (on the
 * caller's stack) waits for the next read in c->scan, so that a
 * connection pays for it only between the pieces of a head, never while
 * idle. Returns -1 when c was closed (out of memory). Cold: out of the
 * way of client_process's path for a head that comes whole.
 */
static __attribute__((cold)) int
client_scan_keep(struct sl_client *c, const struct sl_h1_scan *scan)
{
	if ((c->scan = malloc(sizeof(*c->scan))) == NULL) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	*c->scan = *scan;
	return 0;
}

static size_t
in_cap(const struct sl_client *c)
{
	return SL_MAX(c->s.lconf->limits.buffer_bytes,
		      c->s.lconf->limits.max_header_bytes);
}

/* 1 when `in` can take more bytes (now, or after compaction or growth):
 * past in.len, and past the bytes held there after a decoded body
 * (dechunk_run), which a read does not overwrite. */
static int
in_room(const struct sl_client *c)
{
	uint32_t held = c->state == SL_CLIENT_ST_TXN && c->bodies != NULL &&
				c->bodies->decoding
			    ? c->bodies->tail
			    : 0;

	return c->s.in.data == NULL || sl_buf_space(&c->s.in) > held ||
	       c->s.in.off > 0 || c->s.in.cap < in_cap(c);
}

/* ---- client side I/O -------------------------------------------------- */

/* Writes our heads and the ready response bytes. Returns -1 when c was
 * closed. */
static int frame_out(struct sl_client *c, struct iovec *iov, int niov,
		     int hints, size_t *own);
static int frame_sent(struct sl_client *c, size_t n, size_t own);

static int
client_write(struct sl_client *c)
{
	struct iovec iov[SL_EXCHANGE_IOV + SL_H1_CHUNKER_IOV];
	int niov, flags = 0, hints = 0, want;
	size_t own = 0;
	ssize_t n;

	if (c->s.flags & C_F_WEV)
		return 0; /* wait for writability */
	niov = sl_exchange_output(&c->s, iov, &hints);
	/* a body of pieces: its chunked coding is this codec's */
	if (c->s.flags & SL_SEAM_F_FRAMING)
		niov = frame_out(c, iov, niov, hints, &own);
	if (niov == 0)
		return 0;
	if (hints & SL_EXCHANGE_OUT_MORE)
		flags = MSG_MORE;
	/* The last bytes before a close: held back (MSG_MORE) so that the
	 * FIN the close sends right after leaves in the same segment. */
	if ((hints & SL_EXCHANGE_OUT_LAST) && !(c->s.flags & C_F_EOF)) {
		flags = MSG_MORE;
		c->s.flags |= C_F_CORKED;
	}
	n = XPRT(c)->sendv(c->fd, c->xc, iov, niov, flags, &want);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			c->s.flags |= C_F_OUT_BACKLOG;
			/* send_timeout counts from the moment writing stalls */
			if (!(c->s.flags & C_F_WEV))
				sl_exchange_stalled(&c->s);
			if (want == SL_TLS_WANT_READ)
				/* TLS must read first: the read event
				 * carries on */
				sl_client_want_read(c, 1);
			else
				sl_client_want_write(c, 1);
			return 0;
		}
		sl_client_close(c, "client_write_error");
		return -1;
	}
	SL_STAT_ADD(c->s.w->stats.client_bytes_out, (uint64_t)n);
	if (!(c->s.flags & C_F_OUT_BACKLOG)) {
		size_t asked = 0;

		for (int i = 0; i < niov; i++)
			asked += iov[i].iov_len;

		c->out_bytes += (uint16_t)SL_MIN((size_t)n, SURELY_SENT + 1);
		if ((size_t)n < asked || c->out_bytes > SURELY_SENT)
			c->s.flags |= C_F_OUT_BACKLOG;
	}
	if ((c->s.flags & SL_SEAM_F_FRAMING)
		? frame_sent(c, (size_t)n, own)
		: sl_exchange_sent(&c->s, (size_t)n))
		sl_client_want_write(c, 1);
	return 0;
}

/*
 * Reads from the client into `in`. Returns bytes read, 0 at end of stream,
 * SL_AGAIN when nothing could be read now, or -1 when c was closed.
 * (Inlined: the accept phase's reads (sl_client_read) made the compiler
 * stop inlining it in HTTP/1's, 30 instructions a request.)
 */
static SL_INLINE ssize_t
client_read(struct sl_client *c)
{
	struct sl_txn *t = c->s.txn;
	size_t cap = in_cap(c);
	ssize_t n;
	int want;

	/* a head starts in a small buffer that grows only when the head
	 * needs it, so a slow or idle client costs little; a body gets the
	 * whole budget at once */
	if (sl_buf_alloc(&c->s.w->bufs, &c->s.in,
			 SL_MIN(HEAD_BUF_START, cap)) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	if (c->s.in.off == c->s.in.len) {
		c->s.in.off = c->s.in.len = 0;
		c->s.in_ready = 0;
	}
	if (c->s.in.cap < cap && t != NULL && sl_exchange_reading(&c->s) &&
	    sl_buf_grow(&c->s.w->bufs, &c->s.in, cap) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	if (sl_buf_space(&c->s.in) == 0 && c->s.in.off > 0) {
		uint32_t off = c->s.in.off;
		memmove(c->s.in.data, c->s.in.data + off, c->s.in.len - off);
		c->s.in.len -= off;
		c->s.in_ready = c->s.in_ready >= off ? c->s.in_ready - off : 0;
		c->s.in.off = 0;
	}
	if (sl_buf_space(&c->s.in) == 0 && c->s.in.cap < cap &&
	    sl_buf_grow(&c->s.w->bufs, &c->s.in,
			SL_MIN((size_t)c->s.in.cap * 2, cap)) == -1) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	if (sl_buf_space(&c->s.in) == 0) {
		sl_client_want_read(c, 0); /* backpressure */
		if (t != NULL)
			sl_exchange_body_paused(&c->s);
		return SL_AGAIN;
	}
	n = XPRT(c)->recv(c->fd, c->xc, c->s.in.data + c->s.in.len,
			  sl_buf_space(&c->s.in), &want);
	/* a TLS read may have to write first (or may not any more) */
	if ((want == SL_TLS_WANT_WRITE) != ((c->s.flags & C_F_REV_W) != 0))
		sl_client_rev_wait(c, want == SL_TLS_WANT_WRITE
					  ? SL_TLS_WANT_WRITE
					  : SL_TLS_WANT_READ);
	if (n > 0) {
		c->s.in.len += (uint32_t)n;
		SL_STAT_ADD(c->s.w->stats.client_bytes_in, (uint64_t)n);
		return n;
	}
	if (n == 0)
		return 0;
	if (errno == EAGAIN || errno == EINTR)
		return SL_AGAIN;
	sl_client_close(c, errno == EPROTO ? "client_tls_error"
					   : "client_read_error");
	return -1;
}

/* Pipefuls of a spliced body moved in one read event, at most */
#define SPLICE_ROUNDS 16

/*
 * client_on_read's while the request body is spliced (SL_SEAM_F_SPLICE,
 * exchange_req.c): the body goes on while the upstream takes each pipeful
 * at once, as far as SPLICE_ROUNDS of them an event (a fast client would
 * otherwise wait a loop turn for every 64 KiB). The client is in its body
 * all along (the exchange reads), so its end is an end in the body.
 * Returns 1 when the event is handled, 0 when splicing stopped and the
 * bytes are to be read as any others (client_read): splice(2) failed, or
 * stopped at TCP urgent data (a byte sent with MSG_OOB), where it moves
 * nothing more while the socket stays readable (a worker would spin);
 * recv() passes the mark.
 */
static int
client_splice_body(struct sl_client *c)
{
	for (int k = 0; k < SPLICE_ROUNDS; k++) {
		ssize_t n = sl_exchange_splice_read(&c->s, c->fd);
		int e;

		if (n == 0) {
			c->s.flags |= C_F_EOF;
			sl_client_want_read(c, 0);
			sl_client_close(c, "client_closed_in_body");
			return 1;
		}
		if (n < 0) {
			e = errno;
			/* the pipe still holds bytes for the upstream: not a
			 * read, nothing to say of the socket */
			if (!sl_exchange_splice_room(&c->s) ||
			    (e == EAGAIN && k > 0))
				return 1;
			if (e == EAGAIN && !sl_splice_stuck(c->fd)) {
				client_process(c); /* woken for nothing */
				return 1;
			}
			if (sl_log_enabled(SL_LOG_DEBUG))
				log_debug("conn=%llu: splicing stops, the rest "
					  "of the body is read: %s",
					  (unsigned long long)c->s.id,
					  e == EAGAIN ? "urgent data (MSG_OOB)"
						      : strerror(e));
			sl_exchange_splice_end(&c->s);
			return 0;
		}
		sl_exchange_body_read(&c->s, (size_t)n);
		client_process(c);
		if (c->state != SL_CLIENT_ST_TXN ||
		    !(c->s.flags & SL_SEAM_F_SPLICE) ||
		    !sl_exchange_splice_room(&c->s))
			return 1;
	}
	return 1;
}

/* ---- the state machine ------------------------------------------------ */

/* Recomputes read interest and the deadline after any change. */
static void
client_schedule(struct sl_client *c)
{
	switch (c->state) {
	case SL_CLIENT_ST_HANDSHAKE:
	case SL_CLIENT_ST_H2:
	case SL_CLIENT_ST_TUNNEL:
		return; /* the handshake, HTTP/2 and a tunnel set their own
			   interest */
	case SL_CLIENT_ST_PROXY:
	case SL_CLIENT_ST_IDLE:
	case SL_CLIENT_ST_HEAD:
	case SL_CLIENT_ST_LINGER:
		/* the deadline is in a worker list (set on entering the
		 * state) */
		if (!(c->s.flags & C_F_EOF))
			sl_client_want_read(c, in_room(c));
		return;
	case SL_CLIENT_ST_TXN:
		if (!(c->s.flags & C_F_EOF))
			sl_client_want_read(c,
					    (c->s.flags & SL_SEAM_F_SPLICE)
						? sl_exchange_splice_room(&c->s)
						: in_room(c));
		/* the exchange's deadlines, and its upstream's interest */
		sl_exchange_schedule(&c->s);
		return;
	case SL_CLIENT_ST_CLOSED:
		return;
	}
}

/* The HTTP/2 connection preface (RFC 9113 section 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/*
 * The first bytes of a plain connection on a listener that speaks h2:
 * 1 when they are the preface (or the listener speaks HTTP/2 only), -1
 * when they may still be (wait for more), 0 when they are HTTP/1.
 */
static int
client_h2c(struct sl_client *c)
{
	size_t n =
	    SL_MIN((size_t)sl_buf_pending(&c->s.in), sizeof(h2_preface) - 1);

	if (!(c->s.lconf->protocols & SL_PROTO_HTTP1))
		return 1;
	/* "PRI" begins no HTTP/1.1 request that could be served: the
	 * codec checks the rest of the preface, under header_timeout. Only
	 * those 3 bytes decide, however many came: a bad preface read in
	 * one piece went to HTTP/1.1 (a 505) and the same bytes one at a
	 * time to HTTP/2 (test_h2_conformance.py, invalid_preface). */
	if (memcmp(c->s.in.data + c->s.in.off, h2_preface, SL_MIN(n, 3)) != 0)
		return 0;
	if (n >= 3)
		return 1;
	if (c->s.flags & C_F_EOF) {
		sl_client_close(c, "client_closed_in_head");
		return -1;
	}
	/* a head has begun: its deadline */
	sl_timeq_set(c->s.w, &c->tnode, c->s.lconf->limits.header_timeout_ms,
		     now_ms());
	/* client_schedule's for an idle connection (not called: one caller
	 * more made the compiler stop inlining it, 28 instructions a
	 * request) */
	sl_client_want_read(c, in_room(c));
	return -1;
}

/* Works on c until it must wait for an event. May close c. */
static void
client_process(struct sl_client *c)
{
	for (int guard = 0; guard < 1024; guard++) {
		long r;

		switch (c->state) {
		case SL_CLIENT_ST_IDLE:
		case SL_CLIENT_ST_HEAD: {
			struct sl_h1_limits hl = {
			    c->s.lconf->limits.max_uri_bytes,
			    c->s.lconf->limits.max_header_bytes,
			    c->s.lconf->limits.max_headers};
			/* a head's scanner: a new one here, or the one an
			 * earlier read kept (c->scan) */
			struct sl_h1_scan fresh, *scan = &fresh;
			if (c->s.in.data == NULL ||
			    sl_buf_pending(&c->s.in) == 0) {
				if (c->s.in.data != NULL &&
				    c->state == SL_CLIENT_ST_IDLE)
					sl_buf_release(&c->s.w->bufs, &c->s.in);
				goto out;
			}
			if (c->state == SL_CLIENT_ST_IDLE) {
				/* empty lines before a request are ignored
				 * (RFC 9112 section 2.2) */
				while (sl_buf_pending(&c->s.in) >= 2 &&
				       c->s.in.data[c->s.in.off] == '\r' &&
				       c->s.in.data[c->s.in.off + 1] == '\n')
					c->s.in.off += 2;
				if (sl_buf_pending(&c->s.in) == 0 ||
				    (sl_buf_pending(&c->s.in) == 1 &&
				     c->s.in.data[c->s.in.off] == '\r')) {
					if (c->s.flags & C_F_EOF) {
						sl_client_close(
						    c, "client_closed");
						return;
					}
					goto out;
				}
				/* HTTP/2 with prior knowledge: the preface
				 * (doc/http2.md section 2) */
				if ((c->s.lconf->protocols & SL_PROTO_H2) &&
				    c->s.nrequests == 0 &&
				    !(c->s.flags & C_F_TLS) &&
				    (r = client_h2c(c)) != 0) {
					if (r == 1)
						(void)c->s.w->cpool.codecs
						    ->h2_start(c);
					return;
				}
				/* draining: a request that was on its way
				 * when the drain began is answered, with
				 * Connection: close (req_ends_connection) */
				/* (the test here: the adoption is client.c's,
				 * which HTTP/2 calls too) */
				if (c->s.gen != c->s.w->gen)
					(void)sl_client_adopt(c);
				sl_client_set_state(c, SL_CLIENT_ST_HEAD);
				c->scan = NULL;
				sl_h1_scan_init(&fresh);
				sl_timeq_set(
				    c->s.w, &c->tnode,
				    c->s.lconf->limits.header_timeout_ms,
				    now_ms());
			} else
				scan = c->scan;
			r = sl_h1_scan_head(scan, c->s.in.data + c->s.in.off,
					    sl_buf_pending(&c->s.in), &hl, 1);
			/* a head that fills the largest buffer never ends
			 * (buffer_bytes == max_header_bytes, CR last) */
			if (r == 0 && sl_buf_pending(&c->s.in) >= in_cap(c)) {
				r = -431;
				scan->why = SL_H1_R_HEAD_TOO_LARGE;
			}
			if (r < 0) {
				/* read before the exchange takes c out of
				 * HEAD, which frees a kept scanner */
				int why = scan->why;

				if (client_exchange(c) == 0)
					sl_exchange_reject(&c->s, (int)-r, why);
				continue;
			}
			if (r == 0 && (c->s.flags & C_F_EOF)) {
				/* the rest of this head will never come */
				sl_client_close(c, "client_closed_in_head");
				return;
			}
			if (r == 0) {
				if (scan == &fresh &&
				    client_scan_keep(c, &fresh) == -1)
					return;
				goto out;
			}
			if (client_exchange(c) == 0)
				sl_exchange_start(&c->s, (size_t)r);
			continue;
		}
		case SL_CLIENT_ST_TXN:
			if (sl_exchange_pump(&c->s) == -1)
				continue;
			goto out;
		case SL_CLIENT_ST_LINGER:
			if (c->s.in.data != NULL)
				c->s.in.off = c->s.in.len = 0;
			goto out;
		case SL_CLIENT_ST_PROXY: /* the accept phase's (codec_of) */
		case SL_CLIENT_ST_HANDSHAKE:
			goto out;
		case SL_CLIENT_ST_H2:
		case SL_CLIENT_ST_TUNNEL:
		case SL_CLIENT_ST_CLOSED:
			return;
		}
	}
	/* many pipelined requests answered in one go: let other
	 * connections run, and carry on from the next loop turn (the write
	 * callback only processes) */
	event_active(c->rev, EV_READ, 1);
out:
	client_schedule(c);
}

/* ---- a chunked request body, decoded (seam.h, req_dechunk) ----------- */

/* The exchange ends: the bytes held after a decoded body become `in`'s
 * again (the next request's head), and the bodies' state goes. */
static void
bodies_end(struct sl_client *c)
{
	struct sl_h1_bodies *d = c->bodies;

	if (d->decoding) {
		c->s.in.len += d->tail;
		sl_h1_trailers_reset(&d->trl);
	}
	if (d->rlast != d->rshort)
		free(d->rlast);
	c->s.flags &= ~(unsigned)(SL_SEAM_F_BODY_END | SL_SEAM_F_BODY_BAD |
				  SL_SEAM_F_FRAMING);
	/* kept for the next (a malloc and a free were about 350
	 * instructions a request) */
	if (c->s.w->cpool.bodies_spare == NULL)
		c->s.w->cpool.bodies_spare = d;
	else
		sl_h1_bodies_free(d);
	c->bodies = NULL;
}

/* The bodies' state, made at its first need, with neither part on. NULL:
 * no memory. */
static struct sl_h1_bodies *
bodies_get(struct sl_client *c)
{
	struct sl_h1_bodies *d = c->bodies;

	if (d != NULL)
		return d;
	if ((d = c->s.w->cpool.bodies_spare) != NULL)
		c->s.w->cpool.bodies_spare = NULL;
	else if ((d = malloc(sizeof(*d))) == NULL)
		return NULL;
	else
		memset(&d->trl, 0, sizeof(d->trl));
	d->decoding = 0;
	d->rlast = NULL;
	c->bodies = d;
	return d;
}

/* The body is refused: the exchange answers status (seam.h,
 * req_refusal). */
static void
dechunk_refuse(struct sl_client *c, int status, enum sl_h1_reason why)
{
	c->bodies->bad = (uint16_t)status;
	c->bodies->why = (uint8_t)why;
	c->s.flags |= SL_SEAM_F_BODY_END | SL_SEAM_F_BODY_BAD;
}

/*
 * Decodes the bytes of `in` from `from` to in.len (what a read added, or
 * what came with the head): the payload moves up over the framing, which
 * goes, and in.len ends it; bytes after the body's end wait past in.len
 * (d->tail). The end, or a refusal, sets SL_SEAM_F_BODY_END; nothing more
 * is read for the exchange after it.
 */
static void
dechunk_run(struct sl_client *c, uint32_t from)
{
	struct sl_h1_bodies *d = c->bodies;
	char *p;
	size_t n, used, data, tr_at;
	int r;

	if (c->s.in.len == from || (c->s.flags & SL_SEAM_F_BODY_END))
		return;
	p = c->s.in.data + from;
	n = c->s.in.len - from;
	r = sl_h1_chunked_unframe(&d->ck, p, n, &used, &data, &tr_at);
	if (r < 0) {
		sl_exchange_body_framing(&c->s, used - data);
		c->s.in.len = from + (uint32_t)data;
		dechunk_refuse(c, 400, d->ck.why);
		return;
	}
	if (tr_at < used && sl_h1_trailers_take(&d->trl, p + tr_at,
						used - tr_at, r == 1) == -1) {
		c->s.in.len = from + (uint32_t)data;
		dechunk_refuse(c, 503, SL_H1_R_NONE);
		return;
	}
	d->bytes += data;
	sl_exchange_body_framing(&c->s, used - data);
	if (r == 1) {
		d->tail = (uint32_t)(n - used);
		memmove(p + data, p + used, d->tail);
		c->s.flags |= SL_SEAM_F_BODY_END;
	}
	c->s.in.len = from + (uint32_t)data;
	/* the announced chunk size counts at once: a client must not hold
	 * the connection for bytes it could never be allowed to send */
	if (d->max_body > 0 && d->bytes + d->ck.remaining > d->max_body)
		dechunk_refuse(c, 413, SL_H1_R_BODY_TOO_LARGE);
}

/*
 * client_read's once a decoded body ended: what comes goes after the
 * bytes held past in.len (d->tail), which stay held. The read may move
 * `in`'s bytes down (compaction): the body's end moves with them.
 */
static ssize_t
client_read_held(struct sl_client *c)
{
	struct sl_h1_bodies *d = c->bodies;
	uint32_t body = c->s.in.len - c->s.in.off; /* to the body's end */
	ssize_t n;

	c->s.in.len += d->tail;
	d->tail = 0;
	n = client_read(c);
	if (n == -1)
		return -1; /* closed */
	d->tail = c->s.in.len - (c->s.in.off + body);
	c->s.in.len = c->s.in.off + body;
	return n;
}

/* The stream operation req_dechunk (seam.h). */
static int
stream_req_dechunk(struct sl_seam *st, const struct sl_seam_dechunk *l)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);
	struct sl_h1_bodies *d = bodies_get(c);

	if (d == NULL)
		return -1;
	sl_h1_trailers_reset(&d->trl);
	memset(&d->bad, 0,
	       offsetof(struct sl_h1_bodies, ck) -
		   offsetof(struct sl_h1_bodies, bad));
	sl_h1_chunked_init(&d->ck, l->max_trailer_bytes);
	d->ck.max_trailers = l->max_trailers;
	d->ck.own = l->own;
	d->max_body = l->max_body;
	d->decoding = 1;
	dechunk_run(c, c->s.in_ready);
	return 0;
}

/* The stream operation req_refusal (seam.h). */
static int
stream_req_refusal(struct sl_seam *st, int *why)
{
	struct sl_h1_bodies *d = CLIENT_OF_SEAM(st)->bodies;

	*why = d->why;
	return d->bad;
}

/* The stream operation req_trailers (seam.h). */
static const char *
stream_req_trailers(struct sl_seam *st)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	return c->bodies != NULL && c->bodies->decoding && c->bodies->trl.on
		   ? c->bodies->trl.blk
		   : NULL;
}

/* ---- a response body of pieces, chunked (seam.h, write_head) -------- */

/*
 * The exchange's output (niov iovecs in iov, its own bytes first when
 * hints say so, then one run of payload) framed as chunks in place: the
 * chunker frames the run and, once the exchange's output is done, the
 * last chunk with the trailers. *own gets the exchange's own bytes.
 * Returns the iovecs' count.
 */
static int
frame_out(struct sl_client *c, struct iovec *iov, int niov, int hints,
	  size_t *own)
{
	struct sl_h1_bodies *d = c->bodies;
	int k = (hints & SL_EXCHANGE_OUT_OWN) != 0;
	const char *p = niov > k ? iov[k].iov_base : NULL;
	size_t n = niov > k ? iov[k].iov_len : 0;

	*own = k ? iov[0].iov_len : 0;
	return k + sl_h1_chunker_iov(&d->rck, p, n,
				     niov - k <= 1 &&
					 sl_exchange_output_done(&c->s),
				     d->rlast, d->rlast_len, iov + k);
}

/* n bytes of frame_out's went: the exchange's own and its payload are
 * the exchange's, the framing the chunker's. Returns 1 when some of it
 * is still to be written. */
static int
frame_sent(struct sl_client *c, size_t n, size_t own)
{
	struct sl_h1_bodies *d = c->bodies;
	size_t k = SL_MIN(n, own), took;
	int ended;

	took = sl_h1_chunker_sent(&d->rck, n - k, &ended);
	sl_exchange_sent_framing(&c->s, n - k - took);
	if (ended) {
		/* the last chunk went: the exchange may end */
		c->s.flags &= ~(unsigned)SL_SEAM_F_FRAMING;
	}
	return sl_exchange_sent(&c->s, k + took) || sl_h1_chunker_open(&d->rck);
}

/*
 * The stream operation write_head (seam.h): HTTP/1.1 text, and a final
 * head whose body comes as pieces to an HTTP/1.1 client (the text says
 * Transfer-Encoding: chunked) turns the chunked coding on; any other final
 * head or local answer turns it off.
 */
static long
stream_write_head(struct sl_seam *st, const struct sl_h1_head *h, char *out,
		  size_t cap, size_t *head_len)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);
	struct sl_h1_bodies *d;
	long n;

	if (h->kind == SL_H1_H_FINAL) {
		/* (the hot path, called as the writer's own: an HTTP/1.0
		 * client's body of pieces runs to the close) */
		n = sl_h1_write_response_head(
		    out, cap, h->resp, h->minor, h->close, h->minor == 0,
		    h->request_id, h->extra, h->rules, h->vars);
		*head_len = (size_t)n;
	} else
		n = sl_h1_write_head(out, cap, h, head_len);
	if (n < 0 || h->kind == SL_H1_H_INTERIM || h->kind == SL_H1_H_CONTINUE)
		return n;
	if (h->kind != SL_H1_H_FINAL || h->resp->body != SL_H1_BODY_STREAM ||
	    h->minor == 0) {
		/* a body of a length or none, or run to the close */
		c->s.flags &= ~(unsigned)SL_SEAM_F_FRAMING;
		return n;
	}
	/* (no memory for it: the answer cannot go, as a head that does not
	 * fit) */
	if ((d = bodies_get(c)) == NULL)
		return -1;
	if (d->rlast != d->rshort)
		free(d->rlast);
	d->rlast = NULL;
	memset(&d->rck, 0, sizeof(d->rck));
	c->s.flags |= SL_SEAM_F_FRAMING;
	return n;
}

/* The stream operation trailers (seam.h): the last chunk with them as
 * text, made now; an HTTP/1.0 client's body, which runs to the close,
 * has none. */
static int
stream_trailers(struct sl_seam *st, const char *block)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);
	struct sl_h1_bodies *d = c->bodies;
	size_t len;

	if (!(c->s.flags & SL_SEAM_F_FRAMING) || d->rlast != NULL)
		return 0;
	len = sl_h1_last_chunk_len(block);
	if (len <= sizeof(d->rshort))
		d->rlast = d->rshort;
	else if ((d->rlast = malloc(len)) == NULL)
		return -1;
	d->rlast_len = (uint32_t)sl_h1_last_chunk(d->rlast, block);
	return 0;
}

/* ---- the stream under an exchange (seam.h) ------------------------- */

/*
 * A head begins an exchange (complete, refused, or timed out): the
 * connection carries it from now on (state TXN), and lends it its write
 * event. The exchange starts with the head's first byte. Returns -1 when c
 * was closed (out of memory).
 */
static int
client_exchange(struct sl_client *c)
{
	uint64_t start =
	    c->state == SL_CLIENT_ST_HEAD
		? c->tnode.deadline_ms - c->s.lconf->limits.header_timeout_ms
		: now_ms();
	struct sl_txn *t = sl_exchange_new(&c->s, start);

	if (t == NULL) {
		sl_client_close(c, "out_of_memory");
		return -1;
	}
	event_assign(sl_exchange_codec_event(t), c->s.w->base, c->fd,
		     EV_WRITE | EV_PERSIST, sl_client_on_write, c);
	/* the exchange keeps its own deadlines */
	sl_timeq_del(c->s.w, &c->tnode);
	sl_client_set_state(c, SL_CLIENT_ST_TXN);
	c->bodies = NULL;
	return 0;
}

static int
stream_flush(struct sl_seam *st)
{
	return client_write(CLIENT_OF_SEAM(st));
}

static void
stream_want_write(struct sl_seam *st, int on)
{
	sl_client_want_write(CLIENT_OF_SEAM(st), on);
}

static void
stream_resume(struct sl_seam *st)
{
	client_process(CLIENT_OF_SEAM(st));
}

static void
stream_close(struct sl_seam *st, const char *reason)
{
	sl_client_close(CLIENT_OF_SEAM(st), reason);
}

static void
stream_reset(struct sl_seam *st, const char *reason)
{
	sl_client_abort_reset(CLIENT_OF_SEAM(st), reason);
}

/* The exchange is over: the next request, or the end of the connection. */
static void
stream_done(struct sl_seam *st, const char *why, int close, int linger)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	if (c->bodies != NULL)
		bodies_end(c);
	c->s.nrequests++;
	/* a client that shut its write side after pipelining still gets
	 * every complete request it sent answered */
	if (close || c->s.w->draining ||
	    ((c->s.flags & C_F_EOF) && sl_buf_pending(&c->s.in) == 0)) {
		sl_client_finish(c, why, linger);
		return;
	}
	sl_client_set_state(c, SL_CLIENT_ST_IDLE);
	sl_timeq_set(c->s.w, &c->tnode, c->s.lconf->limits.idle_timeout_ms,
		     now_ms());
	sl_buf_release_if_empty(&c->s.w->bufs, &c->s.in);
}

static int
stream_unacked(struct sl_seam *st)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	return XPRT(c)->outq(c->fd, c->xc);
}

static size_t
stream_send_room(struct sl_seam *st)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	return XPRT(c)->send_room(c->fd, c->xc);
}

/* After a checked 101: the connection becomes a tunnel (the worker's
 * tunnel codec, client.h). */
static int
stream_tunnel(struct sl_seam *st, struct sl_upconn *u, int ws)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	/* the tunnel takes the union's place */
	if (c->bodies != NULL)
		bodies_end(c);
	if (c->s.w->cpool.codecs->tunnel_start(c, u, ws) == -1)
		return -1;
	sl_client_set_state(c, SL_CLIENT_ST_TUNNEL);
	return 0;
}

static const char *
stream_tls_version(struct sl_seam *st)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	return (c->s.flags & C_F_TLS) ? sl_tls_version(c->ssl) : "";
}

/* Plain TCP only: TLS and memory ends pass their bytes through sluice. */
static int
stream_splice_fd(struct sl_seam *st)
{
	struct sl_client *c = CLIENT_OF_SEAM(st);

	return (c->s.flags & (C_F_TLS | C_F_MEM)) ? -1 : c->fd;
}

/* HTTP/1: the connection is the one stream it carries (client.c gives a
 * new connection these, through the worker's table: client.h). */
const struct sl_seam_ops sl_client_h1_stream_ops = {
    .flush = stream_flush,
    .want_write = stream_want_write,
    .resume = stream_resume,
    .close = stream_close,
    .reset = stream_reset,
    .done = stream_done,
    .write_head = stream_write_head,
    .trailers = stream_trailers,
    .req_trailers = stream_req_trailers,
    .req_dechunk = stream_req_dechunk,
    .req_refusal = stream_req_refusal,
    .unacked = stream_unacked,
    .send_room = stream_send_room,
    .tls_version = stream_tls_version,
    .tunnel = stream_tunnel,
    .splice_fd = stream_splice_fd,
};

/* HTTP/1 reads a head, a body, or (LINGER) input to drop. */
static void
h1_on_read(struct sl_client *c)
{
	ssize_t n;

	/* (one test for the two: most reads are neither) */
	if (c->s.flags & (C_F_EOF | SL_SEAM_F_SPLICE)) {
		if (c->s.flags & C_F_EOF) {
			/* woken to carry on (see client_process), not to
			 * read */
			client_process(c);
			return;
		}
		if (client_splice_body(c))
			return;
	}
	n = c->bodies != NULL && (c->s.flags & SL_SEAM_F_BODY_END)
		? client_read_held(c)
		: client_read(c);
	if (n == -1)
		return;
	if (n == 0) {
		c->s.flags |= C_F_EOF;
		sl_client_want_read(c, 0);
		switch (c->state) {
		case SL_CLIENT_ST_IDLE:
			sl_client_close(c, "client_closed");
			return;
		case SL_CLIENT_ST_HEAD:
			sl_client_close(c, "client_closed_in_head");
			return;
		case SL_CLIENT_ST_LINGER:
			sl_client_close(c, c->s.close_reason);
			return;
		case SL_CLIENT_ST_HANDSHAKE: /* read by another codec */
		case SL_CLIENT_ST_PROXY:
		case SL_CLIENT_ST_H2:
		case SL_CLIENT_ST_TUNNEL:
			return;
		case SL_CLIENT_ST_TXN:
			/* a half-closed client still gets its response; one
			 * that stopped in the middle of its body does not */
			if (sl_exchange_reading(&c->s)) {
				sl_client_close(c, "client_closed_in_body");
				return;
			}
			break;
		case SL_CLIENT_ST_CLOSED:
			return;
		}
	} else if (n > 0 && c->state == SL_CLIENT_ST_TXN) {
		sl_exchange_body_read(&c->s, (size_t)n);
		/* (after the body's end, the bytes read are held past
		 * in.len: client_read_held) */
		if (c->bodies != NULL && c->bodies->decoding &&
		    !(c->s.flags & SL_SEAM_F_BODY_END))
			dechunk_run(c, c->s.in.len - (uint32_t)n);
	}
	client_process(c);
}

/* The exchange's write event: its response goes on. */
static void
h1_on_write(struct sl_client *c)
{
	sl_client_want_write(c, 0);
	/* the exchange says how long writing was stalled; the response
	 * buffer follows the same verdict (sl_exchange_writable) */
	if (c->s.txn != NULL)
		sl_client_sndbuf_grow(c, sl_exchange_writable(&c->s));
	client_process(c);
}

/* Counts a client cut for being silent (idle, or in its head). */
static void
client_count_timeout(struct sl_client *c, enum sl_timeout_reason r)
{
	SL_STAT_INC(c->s.w->stats.timeouts[r]);
}

/* HTTP/1's deadlines: idle, the head's, the lingering close's. */
static void
h1_on_deadline(struct sl_client *c)
{
	switch (c->state) {
	case SL_CLIENT_ST_IDLE:
		if (c->s.w->draining) {
			/* its grace is over (sl_client_drain) */
			sl_client_finish_ms(c, "draining", 1, DRAIN_LINGER_MS);
			return;
		}
		client_count_timeout(c, SL_TO_IDLE);
		sl_client_close(c, "idle_timeout");
		return;
	case SL_CLIENT_ST_HEAD:
		/* a deadline for the whole head, however many bytes
		 * trickled in */
		client_count_timeout(c, SL_TO_HEADER);
		if (client_exchange(c) == 0)
			sl_exchange_timed_out(&c->s, "header_timeout");
		client_process(c);
		return;
	case SL_CLIENT_ST_LINGER:
		if ((c->s.flags & C_F_LINGER_OUT) && sl_client_linger_out(c))
			return;
		sl_client_close(c, c->s.close_reason);
		return;
	case SL_CLIENT_ST_HANDSHAKE: /* another codec's */
	case SL_CLIENT_ST_PROXY:
	case SL_CLIENT_ST_H2:
	case SL_CLIENT_ST_TUNNEL:
	case SL_CLIENT_ST_TXN:
	case SL_CLIENT_ST_CLOSED:
		return;
	}
}

/* HTTP/1, its listener gone: an idle connection closes now, a busy one
 * after its exchange. */
static void
h1_retire(struct sl_client *c)
{
	if (c->state == SL_CLIENT_ST_IDLE &&
	    (c->s.in.data == NULL || sl_buf_pending(&c->s.in) == 0))
		sl_client_close(c, "listener_removed");
	else if (c->s.txn != NULL)
		sl_exchange_last(&c->s);
}

/* HTTP/1 drains: a busy connection closes after its exchange, an idle one
 * is given a grace. */
static void
h1_drain(struct sl_client *c)
{
	if (c->state == SL_CLIENT_ST_IDLE) {
		/* a busy client's next request is on its way, or already in
		 * the socket: it is answered (with Connection: close) if its
		 * head begins within the grace (the head then has its own
		 * deadline); then the FIN, and what comes is read and dropped
		 * for a while: a request that crossed the FIN gets an end of
		 * stream, which tells a client it may send it again
		 * elsewhere (RFC 9112 section 9.3.1), not a reset. Bytes
		 * that begin no request (a lone CR) do not hold it open.
		 * A stop's grace is short: no process serves after it, the
		 * client must go elsewhere anyway. An upgrade's lasts until
		 * the FIN and its lingering end just before drain_timeout:
		 * a client that paces its requests sends the next one
		 * seconds later, and a POST that met the FIN would be lost
		 * (most clients do not send one again). */
		uint64_t now = now_ms(), grace = DRAIN_IDLE_MS;
		uint64_t d = c->s.w->gen->conf->drain_timeout_ms;
		if (c->s.w->draining == SL_DRAIN_HANDOVER &&
		    d > DRAIN_IDLE_MS + 2 * DRAIN_LINGER_MS)
			grace = d - 2 * DRAIN_LINGER_MS;
		if (c->tnode.deadline_ms > now + grace)
			sl_timeq_set(c->s.w, &c->tnode, grace, now);
	} else if (c->s.txn != NULL)
		sl_exchange_last(&c->s);
}

/* HTTP/1, and the connection's own lingering close: its exchange's end
 * is the close's (sl_exchange_closed), a reload that keeps its listener
 * changes nothing before its next request (client_adopt). */
/* HTTP/1's keep-alive wait parks (client_pool.c checks the rest). */
static int
h1_parkable(const struct sl_client *c)
{
	return c->state == SL_CLIENT_ST_IDLE;
}

/* HTTP/1 closes: a chunked body's decoder goes. */
static void
h1_free(struct sl_client *c, const char *reason)
{
	(void)reason;
	if (c->state == SL_CLIENT_ST_TXN && c->bodies != NULL)
		bodies_end(c);
}

const struct sl_client_codec sl_client_h1_codec = {
    .on_read = h1_on_read,
    .free = h1_free,
    .on_write = h1_on_write,
    .on_deadline = h1_on_deadline,
    .drain = h1_drain,
    .retire = h1_retire,
    .parkable = h1_parkable,
};

/* ---- for the accept phase (client_codec.h) ----------------------------- */

ssize_t
sl_client_read(struct sl_client *c)
{
	return client_read(c);
}

void
sl_client_read_more(struct sl_client *c)
{
	/* client_schedule's for the states before a request */
	if (!(c->s.flags & C_F_EOF))
		sl_client_want_read(c, in_room(c));
}

void
sl_client_accepted(struct sl_client *c)
{
	if (!(c->s.flags & C_F_TLS)) {
		/* after a PROXY header: what came with it */
		client_process(c);
		return;
	}
	/* HTTP/2 by ALPN, or a listener that speaks nothing else */
	if ((c->s.lconf->protocols & SL_PROTO_H2) &&
	    (sl_tls_alpn_h2(c->ssl) ||
	     !(c->s.lconf->protocols & SL_PROTO_HTTP1))) {
		(void)c->s.w->cpool.codecs->h2_start(c);
		return;
	}
	sl_timeq_set(c->s.w, &c->tnode, c->s.lconf->limits.idle_timeout_ms,
		     now_ms());
	/* the first request may be here already */
	h1_on_read(c);
}
