/* SPDX-License-Identifier: MIT */
/*
 * The request direction of an exchange: the route's rate limits (local and
 * fleet, doc/edge.md section 6), the request body as it is read (framing,
 * limits, the mirror's copy) and writing the request to the upstream.
 * Called by the exchange's core (exchange.c); calls back into it only to
 * answer locally (a refusal) or to forward a request a lease let through,
 * and into the response direction only to read an upstream that answers
 * before it has taken the whole request.
 */
#include "exchange.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "attempt.h"
#include "balance.h"
#include "client_int.h"
#include "exchange_int.h"
#include "forwarded.h"
#include "h1_msg.h"
#include "h1_parse.h"
#include "log.h"
#include "mirror.h"
#include "policy.h"
#include "rate.h"
#include "retry.h"
#include "rlcheck.h"
#include "route.h"
#include "runtime.h"
#include "tls.h"
#include "upstream.h"
#include "wloop.h"
#include "xprt.h"

/* ---- rate limits (doc/edge.md section 6) ------------------------------- */

/* Acts on what the route's limits said of the request. Returns 0 when it
 * goes on, 1 when it was answered (429, 503) or waits for a lease. */
static int
txn_rl_verdict(struct sl_client *c, int r, size_t head_len)
{
	struct sl_txn *t = c->txn;
	char fields[512];
	int status = r == SL_RLC_LIMITED ? 429 : 503;

	if (r == SL_RLC_PASS)
		return 0;
	if (r == SL_RLC_WAIT) {
		/* the head stays in `in` (a compaction keeps it at in.off),
		 * to be parsed again when the lease comes */
		t->rl.head_len = (uint32_t)head_len;
		c->in.off -= (uint32_t)head_len;
		return 1;
	}
	/* a body already here in full is read, so that the connection is
	 * kept: a bot's small POSTs do not cost a connection each */
	if (sl_exchange_req_advance(c) == -1)
		return 1; /* a malformed body: answered 400 */
	sl_exchange_answer(
	    c, status,
	    status == 429 ? "rate_limited" : "rate_limit_unavailable", 0,
	    sl_rlcheck_fields(&t->rl, status, t->route, fields,
			      sizeof(fields)) > 0
		? fields
		: "");
	return 1;
}

/* The lease a request waited for came, or failed: the request goes on
 * through its route's limits, and on to the upstream when they let it. */
static void
txn_rl_woken(struct sl_rl_wait *wt, int verdict, uint64_t wait_us)
{
	struct sl_txn *t =
	    (struct sl_txn *)((char *)wt - offsetof(struct sl_txn, rl.wait));
	struct sl_client *c = t->client;
	const struct sl_conf_limits *lim = &c->lconf->limits;
	struct sl_h1_limits hl = {lim->max_uri_bytes, lim->max_header_bytes,
				  lim->max_headers};
	size_t head_len = t->rl.head_len;
	struct sl_h1_request req;
	int r;

	sl_now_refresh();
	if (c->state != SL_CLIENT_ST_TXN || c->txn != t ||
	    (t->resp_ph == SL_TXN_RESP_LOCAL))
		return;
	/* the head as it was parsed before the wait */
	memset(&req, 0, sizeof(req));
	req.headers = c->w->hdrs;
	req.max_headers = SL_MIN(c->w->max_hdrs, lim->max_headers);
	if (sl_h1_parse_request(c->in.data + c->in.off, head_len, &req, &hl) !=
	    0) {
		sl_client_close(c, "out_of_memory");
		return;
	}
	c->in.off += (uint32_t)head_len;
	r = sl_rlcheck_resume(&t->rl, verdict, wait_us, c->w, c->gen->conf,
			      t->route, &req, &t->client_addr, c->id);
	if (txn_rl_verdict(c, r, head_len) == 0)
		sl_exchange_forward(c, &req);
	sl_client_process(c);
}

/* The route's rate limits, in order (a route without any costs its
 * caller one pointer test). Returns as txn_rl_verdict. */
int
sl_exchange_rate_limit(struct sl_client *c, struct sl_h1_request *req,
		       size_t head_len)
{
	struct sl_txn *t = c->txn;
	int r = sl_rlcheck_start(&t->rl, c->w, c->gen->conf, t->route, req,
				 &t->client_addr, c->id, txn_rl_woken);

	return r == SL_RLC_PASS ? 0 : txn_rl_verdict(c, r, head_len);
}

/* ---- request direction -------------------------------------------------*/

/* Body bytes (as framed) for the mirror copy; the copy goes once the
 * request is complete. */
static void
txn_mirror_body(struct sl_txn *t, const char *p, size_t n)
{
	if (n > 0 && sl_mirror_body(t->mirror, p, n) == -1) {
		t->mirror = NULL; /* too large: dropped and counted */
		return;
	}
	if (t->req_ph == SL_TXN_REQ_DONE) {
		sl_mirror_send(t->mirror);
		t->mirror = NULL;
	}
}

/* Checks newly read request body bytes (some came, and the body is not
 * complete); returns -1 when the exchange was turned into an error
 * response. */
int
sl_exchange_req_read(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	uint32_t avail = c->in.len - c->in_ready;
	size_t consumed, data;
	int r;

	if (t->req_body == SL_H1_BODY_LENGTH) {
		uint64_t k = SL_MIN((uint64_t)avail, t->req_remaining);
		c->in_ready += (uint32_t)k;
		t->req_remaining -= k;
		t->req_body_bytes += k;
		t->bytes_in += k;
		if (t->req_remaining == 0)
			sl_exchange_req_complete(t);
		if (t->mirror != NULL)
			txn_mirror_body(t, c->in.data + c->in_ready - k,
					(size_t)k);
		return 0;
	}
	r = sl_h1_chunked_decode(&t->req_chunked, c->in.data + c->in_ready,
				 avail, 0, &consumed, &data);
	c->in_ready += (uint32_t)consumed;
	t->req_body_bytes += data;
	t->bytes_in += consumed;
	if (r < 0) {
		sl_exchange_reject(c, 400, t->req_chunked.why);
		return -1;
	}
	/* the announced chunk size counts at once: a client must not hold
	 * the connection for bytes it could never be allowed to send. The
	 * route's limit (a body is read for a routed request only). */
	if (t->route->max_body_bytes &&
	    t->req_body_bytes + t->req_chunked.remaining >
		t->route->max_body_bytes) {
		sl_exchange_reject(c, 413, SL_H1_R_BODY_TOO_LARGE);
		return -1;
	}
	if (r == 1)
		sl_exchange_req_complete(t);
	if (t->mirror != NULL)
		txn_mirror_body(t, c->in.data + c->in_ready - consumed,
				consumed);
	return 0;
}

/* Writes what is ready of the request upstream. Returns -1 when the
 * exchange failed (already handled). */
int
sl_exchange_up_write(struct sl_client *c)
{
	struct sl_txn *t = c->txn;
	struct sl_upconn *u = t->up;
	struct iovec iov[2];
	int niov = 0;
	ssize_t n;
	size_t hp;
	uint32_t from;
	int werr;

	if (u == NULL || u->state != SL_UP_ST_ACTIVE ||
	    (t->flags & (T_REQ_SENT | T_UP_WBLOCK | T_UP_WDEAD)))
		return 0;
	hp = sl_buf_pending(&t->uphead);
	if (hp > 0)
		iov[niov++] =
		    (struct iovec){t->uphead.data + t->uphead.off, hp};
	/* a kept body is sent from past what this attempt sent already */
	from = c->in.off + t->body_off;
	if (c->in_ready > from)
		iov[niov++] =
		    (struct iovec){c->in.data + from, c->in_ready - from};
	if (niov > 0) {
		n = sl_upstream_writev(u, iov, niov, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				t->flags |= T_UP_WBLOCK;
				sl_upstream_want_write(u, 1);
				return 0;
			}
			/* an upstream may answer early (413) and close: its
			 * answer, already here, wins over the write error */
			werr = errno;
			t->flags |= T_UP_WDEAD | T_UP_BROKEN;
			sl_upstream_want_write(u, 0);
			if (t->resp_ph == SL_TXN_RESP_UPSTREAM)
				return 0;
			if (sl_exchange_up_read(c) == -1)
				return -1;
			if (t->resp_ph == SL_TXN_RESP_UPSTREAM)
				return 0;
			sl_attempt_failed(c, FAIL_RESET, "upstream_write",
					  strerror(werr));
			return -1;
		}
		t->up_progress_ms = now_ms();
		if ((size_t)n >= hp) {
			uint32_t body = (uint32_t)(n - (ssize_t)hp);
			t->uphead.off += (uint32_t)hp;
			t->req_body_sent += body;
			if (t->flags & T_RETAIN) {
				t->body_off += body;
			} else if (body > 0) {
				c->in.off += body;
				t->flags |= T_BODY_GONE;
			}
		} else
			t->uphead.off += (uint32_t)n;
		/* a chunked body that outgrew the buffer: what went out is
		 * dropped, so that the rest can be read */
		if ((t->flags & T_RETAIN) && t->req_ph != SL_TXN_REQ_DONE &&
		    c->in_ready - c->in.off >= c->lconf->limits.buffer_bytes) {
			sl_exchange_req_unretain(c);
			t->flags |= T_BODY_GONE;
		}
		if (sl_buf_pending(&t->uphead) > 0 ||
		    c->in_ready > c->in.off + t->body_off) {
			t->flags |= T_UP_WBLOCK;
			sl_upstream_want_write(u, 1);
			return 0;
		}
	}
	sl_upstream_want_write(u, 0);
	if (t->req_ph == SL_TXN_REQ_DONE) {
		t->flags |= T_REQ_SENT;
		t->up_progress_ms = now_ms();
	}
	return 0;
}
