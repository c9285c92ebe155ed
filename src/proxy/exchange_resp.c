/* SPDX-License-Identifier: MIT */
/*
 * The response direction of an exchange: reading the upstream, its head
 * (interim 1xx responses, the final head rewritten for the client), its
 * body framing (the upstream's receiving and done phases), pacing to what
 * the client takes (its pace sub-state), and the output the client
 * connection writes (sl_exchange_output, sl_exchange_sent). Called by the
 * exchange's core (exchange.c) and by the codecs through exchange.h; it
 * calls neither the core nor the request direction nor the tunnel. It
 * never schedules, switches or finishes the exchange itself: the core
 * does, from what this returns (enum sl_txn_next: a checked 101, an
 * HTTP/2 tunnel's bytes). A failed attempt it reports to attempt.c.
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
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "attempt.h"
#include "balance.h"
#include "exchange_int.h"
#include "forwarded.h"
#include "grpc.h"
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
#include "ws.h"
#include "xprt.h"

/* ---- response direction ----------------------------------------------- */

/* The whole response was read from the upstream: the upstream's last
 * phase. */
static inline void
resp_complete(struct sl_txn *t)
{
	t->up_ph = SL_TXN_UP_DONE;
}

/* The upstream's message ended (its codec's mark): a body of pieces is
 * whole, and its trailers go to the client's codec as fields before the
 * exchange may end. Returns 0, or -1 when the stream was reset (no
 * memory for them: an answer without them must not look whole). */
static int
resp_stream_end(struct sl_seam *s, struct sl_txn *t, struct sl_upconn *u)
{
	const char *tb = sl_upstream_trailers(u);

	/* a compressed body's are dropped (doc/operations.md section
	 * 16.1), as a chunked one's are */
	if (tb != NULL && s->ops->trailers != NULL && t->xf == NULL &&
	    s->ops->trailers(s, tb) == -1) {
		t->error = "out_of_memory";
		t->flags |= SL_TXN_F_UP_BROKEN;
		s->ops->reset(s, "out_of_memory");
		return -1;
	}
	resp_complete(t);
	return 0;
}

/*
 * A body framed by chunks or the close, or of pieces, before the filters
 * see its head: the chunked coding is HTTP/1.1's, so the upstream's codec
 * takes a chunked body's framing off (sl_upstream_dechunk) and the
 * exchange hands its client's codec the payload as pieces and the
 * trailers as a field block; a body of pieces goes to an HTTP/1.0 client
 * to the close. Returns 0, or -1 when the attempt failed (no memory).
 * (Apart from resp_advance: a body of a length, the most common, does not
 * carry it.)
 */
static __attribute__((noinline)) int
resp_framing(struct sl_seam *s, struct sl_txn *t, enum sl_h1_body body)
{
	if (body == SL_H1_BODY_CHUNKED) {
		if (sl_upstream_dechunk_start(
			t->up, s->lconf->limits.max_header_bytes,
			s->lconf->limits.max_headers,
			t->route->expose_cluster_header) == -1) {
			sl_attempt_failed(s, FAIL_RESET, "out_of_memory", NULL);
			return -1;
		}
		t->flags |= SL_TXN_F_DECHUNK;
	}
	if (body == SL_H1_BODY_CLOSE || t->minor == 0)
		t->flags |= SL_TXN_F_CLOSE;
	return 0;
}

/*
 * An interim (1xx) response from the upstream (RFC 9110 section 15.2): a
 * proxy passes on the ones it did not ask for, in order, before the final
 * response. Passed on to HTTP/1.1 clients only (HTTP/1.0 has no 1xx), and
 * never 100 Continue: the upstream never sees Expect, sluice answers the
 * client's expectation itself, so the client has had its 100 already. All
 * the interim heads of one request together stay within max_header_bytes.
 */
static int
resp_interim(struct sl_seam *s, const struct sl_h1_response *resp, size_t hlen)
{
	struct sl_txn *t = s->txn;
	size_t hl;
	long n;

	if (hlen > s->lconf->limits.max_header_bytes - t->rsp.interim_bytes) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "interim_responses");
		return -1;
	}
	t->rsp.interim_bytes += (uint32_t)hlen;
	if (resp->status == 100 || t->minor == 0)
		return 0;
	if (sl_exchange_out_reserve(s, hlen + sizeof(struct sl_hblk) +
					   3 * resp->nheaders) == -1 ||
	    (n = s->ops->write_head(
		 s, &(struct sl_h1_head){.kind = SL_H1_H_INTERIM, .resp = resp},
		 t->out.data + t->out.len, sl_buf_space(&t->out), &hl)) < 0) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "interim_responses");
		return -1;
	}
	s->txn->out.len += (uint32_t)n;
	t->head_out += (uint32_t)n;
	return 0;
}

/* An incomplete response head fills the upstream buffer: it needs a
 * larger one, or (at buffer_bytes) it is too large. */
static int
head_fills_buffer(const struct sl_txn *t, const struct sl_upconn *u)
{
	return t->resp_ph != SL_TXN_RESP_UPSTREAM && u->in.data != NULL &&
	       sl_buf_pending(&u->in) >= u->in.cap;
}

/*
 * HTTP/2's tunnel (RFC 8441): the upstream's checked 101 becomes the
 * client's 200, and the exchange carries the tunnel's bytes itself, the
 * upstream's as a body to the upstream's end, the client's as its
 * request's body to the stream's end (SL_H1_BODY_CLOSE both ways), under
 * the tunnel's budgets (SL_TXN_F_TUNNEL, exchange.c). Returns 0, or -1
 * when the exchange failed.
 */
static int
resp_xconnect(struct sl_seam *s, const struct sl_h1_response *resp, size_t hlen,
	      const struct sl_hdr_apply *rules, const struct sl_hdr_vars *vp)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	struct sl_h1_response ok = *resp;
	long len;

	ok.status = 200;
	ok.reason = "OK";
	ok.reason_len = 2;
	ok.body = SL_H1_BODY_CLOSE; /* the tunnel's bytes, to the end */
	/* only an HTTP/2 codec (which takes fields) carries a tunnel in a
	 * stream */
	len = sl_h1_block_response_head(t->out.data + t->out.len,
					sl_buf_space(&t->out), &ok,
					t->request_id, NULL, rules, vp);
	if (len < 0) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "max_header_bytes");
		return -1;
	}
	t->out.len += (uint32_t)len;
	t->head_out += (uint32_t)len;
	u->in.off += (uint32_t)hlen;
	u->ready = u->in.off;
	sl_buf_release(&s->w->bufs, &t->uphead);
	/* answered: nothing of the request is sent again */
	if (t->body_ph == SL_TXN_BODY_KEPT)
		sl_exchange_req_unretain(s, SL_TXN_BODY_STREAM);
	t->status = 200;
	t->resp_ph = SL_TXN_RESP_UPSTREAM;
	t->up_ph = SL_TXN_UP_RECEIVING;
	t->rsp.body = SL_H1_BODY_CLOSE;
	t->rsp.remaining = 0;
	t->rsp.keepalive = 0;
	t->flags |= SL_TXN_F_UP_BROKEN | SL_TXN_F_TUNNEL;
	/* the tunnel's state (exchange_tun.c follows it; the exchange's
	 * end frees it) */
	if ((t->ws = calloc(1, sizeof(*t->ws))) == NULL) {
		sl_attempt_failed(s, FAIL_RESET, "out_of_memory", NULL);
		return -1;
	}
	t->ws->end = SL_TUN_NENDS;
	SL_STAT_INC(s->w->stats.tunnels_opened);
	SL_STAT_INC(s->w->stats.tunnels_open);
	return 0;
}

/*
 * The upstream switched to the protocol the request asked for (doc/
 * websocket.md): its 101 must name that protocol, with Connection:
 * upgrade, and for WebSocket the Sec-WebSocket-Accept of the request's
 * key; anything else is a 502. The client's 101 is the upstream's head
 * rewritten as any other, and the connection becomes a tunnel: returns
 * SL_TXN_NEXT_SWITCH or _SWITCH_WS for the core to hand it over, -1 when
 * the exchange failed, 0 when it carries an HTTP/2 tunnel itself.
 */
static int
resp_upgrade(struct sl_seam *s, const struct sl_h1_response *resp, size_t hlen)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	const char *proto = t->route->upgrade[t->upgrade - 1];
	const struct sl_hdr_apply *rules;
	const struct sl_hdr_vars *vp = NULL;
	struct sl_hdr_vars vars;
	const char *why = sl_ws_response(resp, proto, t->ws_accept);
	int ws = strcmp(proto, "websocket") == 0, n;
	size_t room;
	char ip[64];
	long len;

	/* a switch before the whole request went out would put tunnel
	 * bytes after a cut request */
	if (why == NULL && sl_buf_pending(&t->uphead) > 0)
		why = "101_before_the_request_was_sent";
	if (why != NULL) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_bad_upgrade", why);
		return -1;
	}
	if (sl_exchange_out_reserve(
		s, hlen + 512 +
		       ((s->flags & SL_SEAM_F_XCONNECT)
			    ? 3 * resp->nheaders + sizeof(struct sl_hblk)
			    : 0)) == -1) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "max_header_bytes");
		return -1;
	}
	rules = sl_exchange_rules(s, 0, &vars, &vp, NULL, ip);
	t->switch_ms = (uint32_t)SL_MIN(now_ms() - t->clk.start_ms, UINT32_MAX);
	if (s->flags & SL_SEAM_F_XCONNECT)
		return resp_xconnect(s, resp, hlen, rules, vp);
	len = sl_h1_write_response_head(t->out.data + t->out.len,
					sl_buf_space(&t->out), resp, 1, 0, 0,
					t->request_id, NULL, rules, vp);
	room = len < 0 ? 0 : sl_buf_space(&t->out) - (size_t)len;
	if (len < 0 || room < 40 + strlen(proto)) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "max_header_bytes");
		return -1;
	}
	/* the head's last CRLF gives way to the two hop-by-hop fields the
	 * switch needs */
	n = snprintf(t->out.data + t->out.len + len - 2, room + 2,
		     "Connection: upgrade\r\nUpgrade: %s\r\n\r\n", proto);
	len += n - 2;
	t->out.len += (uint32_t)len;
	t->head_out += (uint32_t)len;
	u->in.off += (uint32_t)hlen;
	u->ready = u->in.off;
	t->status = 101;
	t->resp_ph = SL_TXN_RESP_UPSTREAM;
	t->up_ph = SL_TXN_UP_DONE;
	t->send_ph = SL_TXN_SEND_DONE;
	/* the request went out whole: its head's buffer (up to
	 * max_header_bytes, 64 KiB by default) is not the kept exchange's to
	 * hold for the tunnel's life */
	sl_buf_release(&s->w->bufs, &t->uphead);
	return ws ? SL_TXN_NEXT_SWITCH_WS : SL_TXN_NEXT_SWITCH;
}

/*
 * An HTTP/2 upstream's response head as a head block (hblock.h: h2up.c
 * wrote it from the fields nghttp2 checked against RFC 9113 section 8):
 * resp filled from its records as sl_h1_parse_response fills it from text,
 * under the same limits (max_header_bytes counted as the text would be,
 * the worker's max_hdrs), a chunked body given its Transfer-Encoding for
 * the HTTP/1.1 writer. Returns the block's length, 0 while it is not all
 * in, or -1 when the attempt failed (handled).
 */
static long
resp_block(struct sl_seam *s, struct sl_upconn *u, struct sl_h1_response *resp)
{
	struct sl_txn *t = s->txn;
	long n =
	    sl_h1_block_response(u->in.data + u->in.off, sl_buf_pending(&u->in),
				 s->lconf->limits.max_header_bytes, resp);

	if (n == 0 && head_fills_buffer(t, u) &&
	    u->in.cap >= s->lconf->limits.buffer_bytes) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "buffer_bytes");
		return -1;
	}
	if (n < 0)
		sl_attempt_failed(s, FAIL_BAD, "upstream_bad_response",
				  sl_h1_reason_str(resp->why));
	return n;
}

/* The route's filters see the final response head (filter.h). Returns 1
 * when one transforms the body (t->xf, its output the client's), else 0;
 * one that is to see the body sets SL_TXN_F_TAP; -1 when one answered in
 * the head's place. */
static int
resp_filters(struct sl_seam *s, struct sl_h1_response *resp, char *scratch)
{
	struct sl_txn *t = s->txn;
	const struct sl_wroute *wr = &s->gen->routes[t->route->index];

	t->xf = NULL;
	for (unsigned i = 0; i < wr->nfilt; i++) {
		const struct sl_filter *f = wr->filt[i];
		int r;

		if (f->resp_head == NULL ||
		    (r = f->resp_head(s, resp, scratch)) == 0)
			continue;
		if (r & SL_FILTER_R_ANSWER) {
			t->xf = NULL;
			t->flags &= ~SL_TXN_F_TAP;
			f->answer(s);
			return -1;
		}
		if (r & SL_FILTER_R_TAP)
			t->flags |= SL_TXN_F_TAP;
		if (r & SL_FILTER_R_TRANSFORM)
			t->xf = f->xf;
	}
	return t->xf != NULL;
}

/* n more bytes of the upstream's body to the filters that see it. */
static void
resp_tap(struct sl_seam *s, const char *p, size_t n)
{
	const struct sl_wroute *wr = &s->gen->routes[s->txn->route->index];

	for (unsigned i = 0; i < wr->nfilt; i++)
		if (wr->filt[i]->resp_data != NULL)
			wr->filt[i]->resp_data(s, p, n);
}

/* The head of the upstream's answer at u->in.off into *resp, its bytes
 * in *hlen. Returns 1 when it is parsed, 0 when more bytes must come,
 * -1 when the exchange failed (already handled). */
static SL_INLINE int
resp_head_parse(struct sl_seam *s, struct sl_upconn *u,
		struct sl_h1_response *resp, long *hlen)
{
	struct sl_txn *t = s->txn;
	struct sl_worker *w = s->w;
	struct sl_h1_limits hl = {s->lconf->limits.max_header_bytes,
				  s->lconf->limits.max_header_bytes,
				  w->max_hdrs};
	long n;

	if (sl_buf_pending(&u->in) == 0)
		return 0;
	/* sl_h1_parse_response (or resp_block) clears the rest */
	resp->headers = w->hdrs;
	resp->max_headers = w->max_hdrs;
	/* an HTTP/2 upstream's head, as fields, which its codec checked;
	 * from an HTTP/1.1 upstream a NUL is only a bad head (the scan's
	 * nul_byte), never a block whose values no one checked */
	if (u->h2s && u->in.data[u->in.off] == SL_HBLK_MARK) {
		if ((n = resp_block(s, u, resp)) <= 0)
			return (int)n;
		*hlen = n;
		return 1;
	}
	n = sl_h1_scan_head(&t->rsp.scan, u->in.data + u->in.off,
			    sl_buf_pending(&u->in), &hl, 0);
	if (n == 0 && head_fills_buffer(t, u) &&
	    u->in.cap >= s->lconf->limits.buffer_bytes) {
		/* a head that does not fit the whole budget never will (a
		 * smaller buffer grows: sl_exchange_up_read) */
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "buffer_bytes");
		return -1;
	}
	if (n == 0)
		return 0;
	if (n < 0) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_bad_response",
				  sl_h1_reason_str(t->rsp.scan.why));
		return -1;
	}
	if (sl_h1_parse_response(u->in.data + u->in.off, (size_t)n, resp,
				 t->method_id) < 0) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_bad_response",
				  sl_h1_reason_str(resp->why));
		return -1;
	}
	*hlen = n;
	return 1;
}

/* The final answer's head (resp, hlen bytes at u->in.off): the attempt
 * answered, the filters shown it, its head written for the client, the
 * exchange on to the body. Returns 0, or -1 when the exchange failed
 * (already handled). */
static SL_INLINE int
resp_head_final(struct sl_seam *s, struct sl_upconn *u,
		struct sl_h1_response *resp, long hlen)
{
	struct sl_txn *t = s->txn;
	struct sl_worker *w = s->w;
	struct sl_h1_header expose;
	const struct sl_hdr_apply *rules;
	const struct sl_hdr_vars *vp = NULL;
	struct sl_hdr_vars vars;
	char ip[64], zscratch[SL_FILTER_SCRATCH];
	size_t hl;
	long n;
	int rstatus;

	/* a status the route retries is dropped here, unseen; the
	 * outlier detector hears of every answer. A gRPC call's
	 * UNAVAILABLE known with the head (a trailers-only answer
	 * from an HTTP/2 upstream, doc/grpc.md) counts as a 503 */
	rstatus = resp->status;
	if (s->flags & SL_SEAM_F_GRPC) {
		if (!u->h2s) {
			/* an HTTP/1.1 upstream's empty answer is the
			 * call's trailers-only answer: the
			 * Content-Length that framed its text is no
			 * field of it (doc/grpc.md section 3a) */
			if (resp->body == SL_H1_BODY_NONE &&
			    resp->content_length == 0)
				resp->flags |= SL_H1_F_CL_FRAMING;
		} else if (rstatus == 200 &&
			   sl_upstream_grpc_status(u) == SL_GRPC_UNAVAILABLE)
			rstatus = 503;
	}
	if (t->flags & SL_TXN_F_WATCH) {
		sl_exchange_watch(t, &(struct sl_fattempt){
					 .ev = SL_FA_END,
					 .status = resp->status,
				     });
		if (u->h2s && (s->flags & SL_SEAM_F_GRPC))
			sl_exchange_watch(
			    t, &(struct sl_fattempt){
				   .ev = SL_FA_GRPC,
				   .status = sl_upstream_grpc_status(u),
			       });
	}
	if ((rstatus >= 500 || t->wc->conf->outlier.enabled) &&
	    sl_attempt_answered(s, rstatus))
		return -1;
	if (resp->ka_timeout > 0 || resp->ka_max > 0)
		sl_upstream_keepalive(u, resp->ka_timeout, resp->ka_max);
	/* answered: the request is not sent again, its kept body
	 * goes */
	if (t->body_ph == SL_TXN_BODY_KEPT)
		sl_exchange_req_unretain(s, SL_TXN_BODY_STREAM);
	t->status = resp->status;
	t->rsp.body = resp->body;
	t->rsp.remaining = resp->content_length;
	t->rsp.keepalive = sl_h1_persists(resp->minor, resp->flags);
	if (resp->body >= SL_H1_BODY_CHUNKED &&
	    resp_framing(s, t, resp->body) == -1)
		return -1;
	/* the route's filters see it (filter.h): the Idempotency-Key
	 * store keeps it as the upstream sent it, compression
	 * rewrites its fields and makes its body pieces */
	if ((t->fops & SL_FOP_RESP_HEAD) &&
	    resp_filters(s, resp, zscratch) == -1)
		return -1; /* answered in its place */
	/* the codec gets a chunked body's payload as pieces, and frames
	 * them itself; an HTTP/1.0 client's run to the close */
	if (resp->body == SL_H1_BODY_CHUNKED)
		resp->body = SL_H1_BODY_STREAM;
	if ((resp->body == SL_H1_BODY_STREAM && t->minor == 0) ||
	    t->req_ph != SL_TXN_REQ_DONE)
		t->flags |= SL_TXN_F_CLOSE;
	/* a block takes up to 3 bytes a field more than text */
	if (sl_exchange_out_reserve(s, (size_t)hlen + 512 + 3 * resp->nheaders +
					   sizeof(struct sl_hblk)) == -1) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "max_header_bytes");
		return -1;
	}
	if (t->route->expose_cluster_header != NULL) {
		/* which cluster served it (a split's, say) */
		expose.name = t->route->expose_cluster_header;
		expose.name_len = strlen(expose.name);
		expose.value = t->wc->conf->name;
		expose.value_len = strlen(expose.value);
		expose.kind = SL_HK_UNSET;
	}
	rules = sl_exchange_rules(s, 0, &vars, &vp, NULL, ip);
	n = s->ops->write_head(
	    s,
	    &(struct sl_h1_head){
		.kind = SL_H1_H_FINAL,
		.minor = (uint8_t)t->minor,
		.close = (t->flags & SL_TXN_F_CLOSE) != 0,
		.resp = resp,
		.request_id = t->request_id,
		.extra =
		    t->route->expose_cluster_header != NULL ? &expose : NULL,
		.rules = rules,
		.vars = vp},
	    t->out.data + t->out.len, sl_buf_space(&t->out), &hl);
	if (n < 0) {
		sl_attempt_failed(s, FAIL_BAD, "upstream_head_too_large",
				  "max_header_bytes");
		return -1;
	}
	s->txn->out.len += (uint32_t)n;
	t->head_out += (uint32_t)n;
	u->in.off += (uint32_t)hlen;
	u->ready = u->in.off;
	t->resp_ph = SL_TXN_RESP_UPSTREAM;
	t->up_ph = SL_TXN_UP_RECEIVING;
	if (s->lconf->limits.min_send_rate_bps > 0)
		sl_rate_start(&t->send_rate, now_ms());
	/* an answer before the whole request went out: the upstream
	 * connection cannot carry another exchange */
	if (t->send_ph != SL_TXN_SEND_DONE)
		t->flags |= SL_TXN_F_UP_BROKEN;
	/* the request cannot be replayed any more; a head still
	 * being written is kept until it is out */
	if (sl_buf_pending(&t->uphead) == 0)
		sl_buf_release(&w->bufs, &t->uphead);
	if (resp->body == SL_H1_BODY_NONE)
		resp_complete(t);
	return 0;
}

/* The body's bytes past u->ready checked by its framing and made ready
 * (resp_advance's second half). Returns as resp_advance. */
static SL_INLINE int
resp_body(struct sl_seam *s, struct sl_upconn *u)
{
	struct sl_txn *t = s->txn;
	uint32_t from;

	from = u->ready;
	if (t->up_ph != SL_TXN_UP_DONE && u->in.len > u->ready) {
		uint32_t avail = u->in.len - u->ready;
		int r, why;

		switch (t->rsp.body) {
		case SL_H1_BODY_LENGTH: {
			uint64_t k = SL_MIN((uint64_t)avail, t->rsp.remaining);
			u->ready += (uint32_t)k;
			t->rsp.remaining -= k;
			if (t->rsp.remaining == 0)
				resp_complete(t);
			break;
		}
		case SL_H1_BODY_CHUNKED:
			/* the upstream's codec takes the framing off: payload
			 * to u->ready, the trailers a block at the end */
			r = sl_upstream_dechunk(u, &why);
			if (r == -2) {
				t->error = "out_of_memory";
				t->flags |= SL_TXN_F_UP_BROKEN;
				s->ops->reset(s, "out_of_memory");
				return -1;
			}
			if (r < 0 && t->bytes_out == 0) {
				/* nothing of it went out yet: the client
				 * gets a whole 502 instead */
				t->flags |= SL_TXN_F_UP_BROKEN;
				sl_attempt_failed(s, FAIL_BAD,
						  "upstream_bad_chunk",
						  sl_h1_reason_str(why));
				return -1;
			}
			if (r < 0) {
				char peer[SL_PEER_MAX];
				/* part of the body is out: only a close tells
				 * the client the rest will not come */
				log_warnx(
				    "conn=%llu peer=%s request_id=%s "
				    "route=%s upstream=%s: "
				    "upstream_bad_chunk (%s)",
				    (unsigned long long)s->id,
				    sl_exchange_peer_str(s, t, peer,
							 sizeof(peer)),
				    t->request_id, t->route->name,
				    t->wc->eps[t->ep_index]->conf->addr.text,
				    sl_h1_reason_str(why));
				t->error = "upstream_bad_chunk";
				t->flags |= SL_TXN_F_UP_BROKEN;
				s->ops->close(s, "upstream_bad_chunk");
				return -1;
			}
			/* its end, as a body of pieces' (its trailers to the
			 * client's codec) */
			if (r == 1 && resp_stream_end(s, t, u) == -1)
				return -1;
			break;
		case SL_H1_BODY_CLOSE:
			/* an HTTP/2 tunnel's: the core hands them to the
			 * tunnel, which makes them ready */
			if (t->ws != NULL)
				return SL_TXN_NEXT_TUNNEL_OUT;
			u->ready = u->in.len;
			break;
		case SL_H1_BODY_STREAM:
			u->ready = u->in.len;
			break;
		case SL_H1_BODY_NONE:
			break;
		}
	}
	/* pieces: whole at the stream's end, which its codec marks once
	 * every byte was read (no second wake-up for the end) */
	if (t->rsp.body == SL_H1_BODY_STREAM &&
	    t->up_ph == SL_TXN_UP_RECEIVING && u->ready == u->in.len &&
	    sl_upstream_ended(u) && resp_stream_end(s, t, u) == -1)
		return -1;
	/* the body as it came, to the filters that see it (an
	 * Idempotency-Key's answer, kept once it is whole) */
	if (t->flags & SL_TXN_F_TAP)
		resp_tap(s, u->in.data + from, u->ready - from);
	if ((t->up_ph == SL_TXN_UP_DONE) && u->in.len > u->ready)
		t->flags |= SL_TXN_F_UP_BROKEN; /* bytes after the response */
	return 0;
}

/* Checks new response bytes: head, then body framing. Returns -1 when
 * the exchange failed (already handled), SL_TXN_NEXT_SWITCH or
 * _SWITCH_WS on a checked 101, SL_TXN_NEXT_TUNNEL_OUT when bytes past
 * u->ready are an HTTP/2 tunnel's (left to the core), else 0. */
static int
resp_advance(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	int next;

	while (t->resp_ph != SL_TXN_RESP_UPSTREAM) {
		struct sl_h1_response resp;
		long hlen = 0;

		if ((next = resp_head_parse(s, u, &resp, &hlen)) != 1)
			return next;
		if (resp.status == 101 && t->upgrade != 0) {
			/* a tunnel: the connection's (the core switches),
			 * or this exchange's own over HTTP/2, its body from
			 * here */
			if ((next = resp_upgrade(s, &resp, (size_t)hlen)) != 0)
				return next;
			continue;
		}
		if (resp.status == 101) {
			sl_attempt_failed(s, FAIL_BAD, "upstream_bad_response",
					  "unrequested_101");
			return -1;
		}
		if (resp.status < 200) {
			if (resp_interim(s, &resp, (size_t)hlen) == -1)
				return -1;
			u->in.off += (uint32_t)hlen;
			u->ready = u->in.off;
			sl_h1_scan_init(&t->rsp.scan);
			continue;
		}
		if (resp_head_final(s, u, &resp, hlen) == -1)
			return -1;
	}
	return resp_body(s, u);
}

/*
 * Is the response body paced to what the client's socket takes? A client
 * that has not shown it reads fast (the first response buffer class, not
 * proven: sl_seam_rbuf_size) gets, after its first buffer_bytes, only
 * as much read from the upstream as its socket takes at once. What it has
 * not taken yet then waits in the upstream socket, not in a buffer of
 * ours: a thousand clients that stop reading hold no response buffer at
 * all, where they held one each (and under TLS, OpenSSL no record it
 * could not write).
 */
static int
resp_paced(const struct sl_seam *s, const struct sl_txn *t)
{
	return (t->resp_ph == SL_TXN_RESP_UPSTREAM) &&
	       !(s->flags & (SL_SEAM_F_RBUF_PROVEN | SL_SEAM_F_RBUF_MASK)) &&
	       t->send_written >= s->lconf->limits.buffer_bytes;
}

/* Reads from the upstream. Returns -1 when the exchange failed,
 * SL_TXN_NEXT_SWITCH or _SWITCH_WS on a checked 101 (nothing more of the
 * exchange is this file's), SL_TXN_NEXT_TUNNEL_OUT when an HTTP/2 tunnel's
 * bytes came (the core hands them on), else 0. */
int
sl_exchange_up_read(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	size_t size, max = SIZE_MAX;
	ssize_t n;
	int rerr, next;

	if (resp_paced(s, t)) {
		/* the bytes still here go first */
		size_t room = s->ops->send_room(s);
		size_t held = u->in.data != NULL ? sl_buf_pending(&u->in) : 0;
		max = room > held ? room - held : 0;
	}
	if (max == 0) {
		if (t->pace != SL_TXN_PACE_WOKE) {
			/* the client's socket is full: the rest waits
			 * upstream until the client is writable
			 * (sl_exchange_writable) */
			t->pace = SL_TXN_PACE_PAUSED;
			sl_upstream_want_read(u, 0);
			s->ops->want_write(s, 1);
			return 0;
		}
		/* writable, yet no room: a kernel that counts otherwise.
		 * One read as without pacing, not a wake-up loop. */
		max = SIZE_MAX;
	}
	if (t->pace == SL_TXN_PACE_WOKE)
		t->pace = SL_TXN_PACE_NONE;

	/* the buffer the client has earned (sl_seam_rbuf_size), or the
	 * whole budget for a head that does not fit it; with no room left
	 * the read interest goes off: the client is slower than the
	 * upstream */
again:
	size = head_fills_buffer(t, u) || (t->xf != NULL && t->xf->whole(t))
		   ? s->lconf->limits.buffer_bytes
		   : sl_seam_rbuf_size(s);
	n = sl_upstream_read(u, size, max);
	if (n > 0) {
		t->clk.up_progress_ms = now_ms();
		if (u->in.len == u->in.cap &&
		    (s->flags & SL_SEAM_F_RBUF_PROVEN))
			sl_seam_rbuf_set(s, 1);
		/* a switch, a tunnel's bytes: the core's (a head is whole
		 * then: no larger buffer is needed) */
		if ((next = resp_advance(s)) != 0)
			return next;
		/* a head that filled a buffer smaller than the budget: read
		 * on now, into a larger one. Waiting for the next event is not
		 * enough: the full buffer turned reading off, the rest may be
		 * inside TLS where epoll cannot see it, and an upstream that
		 * answered early and closed gets one call to be read. */
		if (head_fills_buffer(t, u) &&
		    u->in.cap < s->lconf->limits.buffer_bytes) {
			sl_upstream_want_read(u, 1);
			goto again;
		}
		return 0;
	}
	if (n == SL_AGAIN)
		return 0;
	if (n == -1 && errno == ENOMEM) {
		sl_attempt_failed(s, FAIL_RESET, "out_of_memory", NULL);
		return -1;
	}
	/* end of stream or error */
	rerr = errno;
	sl_upstream_want_read(u, 0);
	/* a switch ends this direction's part as a failure does; a tunnel's
	 * bytes go to the core after its end is noted here */
	next = resp_advance(s);
	if (next == -1 || next == SL_TXN_NEXT_SWITCH ||
	    next == SL_TXN_NEXT_SWITCH_WS)
		return next;
	if (t->resp_ph != SL_TXN_RESP_UPSTREAM) {
		sl_attempt_failed(s, FAIL_RESET,
				  n == 0 ? "upstream_closed" : "upstream_reset",
				  n == 0 ? NULL : strerror(rerr));
		return -1;
	}
	if (t->rsp.body == SL_H1_BODY_CLOSE && n == 0) {
		resp_complete(t);
		t->flags |= SL_TXN_F_UP_BROKEN;
		return next;
	}
	if (t->rsp.body == SL_H1_BODY_STREAM && n == 0 &&
	    t->up_ph != SL_TXN_UP_DONE) {
		/* an end with nothing after the last read */
		if (resp_stream_end(s, t, u) == -1)
			return -1;
		return next;
	}
	if (t->up_ph != SL_TXN_UP_DONE) {
		sl_attempt_failed(s, FAIL_RESET, "upstream_truncated",
				  n == 0 ? "closed" : strerror(rerr));
		return -1;
	}
	t->flags |= SL_TXN_F_UP_BROKEN;
	return next;
}

/*
 * Is this a bulk write of a Content-Length body whose next bytes already
 * wait on the upstream socket? Then it goes with MSG_MORE: the kernel
 * keeps the last partial segment for the next write, and a 64 KiB write
 * does not leave as a full segment plus a 53-byte one (loopback's MSS is
 * 65483). Only then: bytes held with nothing to follow would wait up to
 * 200 ms in the kernel. Costs one FIONREAD per bulk write; small writes,
 * and the last one of a body, go out at once.
 */
#define SEND_MORE_MIN (16 * 1024)

static int
body_more_ready(const struct sl_txn *t, const struct sl_upconn *u)
{
	if (t->rsp.body != SL_H1_BODY_LENGTH || (t->up_ph == SL_TXN_UP_DONE) ||
	    u->ready - u->in.off < SEND_MORE_MIN)
		return 0;
	return sl_upstream_more_waiting(u);
}

int
sl_exchange_output(struct sl_seam *s, struct iovec *iov, int *more)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	size_t op;
	int niov = 0;

	*more = 0;
	if (sl_exchange_resp_held(t, u))
		return 0; /* wait for the body's first bytes */
	/* the exchange's own bytes (heads, a local answer) first */
	if ((op = sl_buf_pending(&t->out)) > 0) {
		iov[niov++] = (struct iovec){t->out.data + t->out.off, op};
		*more = SL_EXCHANGE_OUT_OWN;
	}
	if (t->xf != NULL && t->resp_ph == SL_TXN_RESP_UPSTREAM) {
		/* transformed (compressed): the filter's output, not the
		 * upstream's */
		char *zp;
		size_t zn = t->xf->out(s, &zp);
		if (s->txn != t)
			return 0;
		if (zn > 0)
			iov[niov++] = (struct iovec){zp, zn};
	} else if (u != NULL && (t->resp_ph == SL_TXN_RESP_UPSTREAM) &&
		   u->ready > u->in.off) {
		iov[niov++] = (struct iovec){u->in.data + u->in.off,
					     u->ready - u->in.off};
		if (body_more_ready(t, u))
			*more |= SL_EXCHANGE_OUT_MORE;
	}
	/* the last bytes, and the connection closes after them */
	if ((t->flags & SL_TXN_F_CLOSE) &&
	    (t->resp_ph == SL_TXN_RESP_LOCAL || t->up_ph == SL_TXN_UP_DONE))
		*more |= SL_EXCHANGE_OUT_LAST;
	return niov;
}

int
sl_exchange_output_done(const struct sl_seam *s)
{
	const struct sl_txn *t = s->txn;

	if (t->flags & SL_TXN_F_END_HELD)
		return 0; /* its end waits for the filter holding it */
	/* transformed: the filter's end, which may be in the bytes it
	 * gave last (HTTP/2's last DATA frame carries END_STREAM) */
	if (t->xf != NULL && t->resp_ph != SL_TXN_RESP_LOCAL)
		return t->up_ph == SL_TXN_UP_DONE && t->xf->ended(t);
	/* an HTTP/2 tunnel's end follows sluice's close frame */
	return t->resp_ph == SL_TXN_RESP_LOCAL || t->up_ph == SL_TXN_UP_DONE ||
	       (t->ws != NULL && (t->ws->told & SL_XTUN_TOLD_CLIENT));
}

void
sl_exchange_sent_framing(struct sl_seam *s, size_t n)
{
	s->txn->bytes_out += (uint64_t)n;
	s->txn->send_written += (uint64_t)n;
}

void
sl_exchange_stalled(struct sl_seam *s)
{
	s->txn->clk.last_write_ms = now_ms();
}

uint64_t
sl_exchange_writable(struct sl_seam *s)
{
	struct sl_txn *t = s->txn;
	uint64_t stalled_ms = now_ms() - t->clk.last_write_ms;

	/* the response buffer follows the verdict of the stall (seam.h) */
	sl_seam_rbuf_set(s, stalled_ms <= SL_RBUF_FAST_MS);
	if (stalled_ms > SL_RBUF_FAST_MS)
		t->rbuf_mark = t->send_written;
	if (t->pace == SL_TXN_PACE_PAUSED) /* read the upstream on */
		t->pace = SL_TXN_PACE_WOKE;
	return stalled_ms;
}

int
sl_exchange_sent(struct sl_seam *s, size_t n)
{
	struct sl_txn *t = s->txn;
	struct sl_upconn *u = t->up;
	size_t op = sl_buf_pending(&t->out);

	t->clk.last_write_ms = now_ms();
	t->bytes_out += (uint64_t)n;
	t->send_written += (uint64_t)n;
	if (t->send_written - t->rbuf_mark >= SL_RBUF_PROOF)
		s->flags |= SL_SEAM_F_RBUF_PROVEN; /* sl_seam_rbuf_size */
	if (n >= op) {
		t->out.off += (uint32_t)op;
		if (t->xf != NULL && t->resp_ph == SL_TXN_RESP_UPSTREAM &&
		    n > op)
			t->xf->sent(s, n - op);
		else if (u != NULL && n > op)
			sl_upstream_consume(u, n - op);
	} else
		t->out.off += (uint32_t)n;
	if (sl_buf_pending(&t->out) == 0)
		sl_buf_release(&s->w->bufs, &t->out);
	/* paced: what the client has not taken waits upstream, not here */
	if (u != NULL && u->in.data != NULL && sl_buf_pending(&u->in) == 0 &&
	    resp_paced(s, t))
		sl_buf_release(&s->w->bufs, &u->in);
	if (t->xf != NULL && t->resp_ph == SL_TXN_RESP_UPSTREAM)
		return sl_buf_pending(&t->out) > 0 || t->xf->pending(t);
	return sl_buf_pending(&t->out) > 0 ||
	       (t->resp_ph == SL_TXN_RESP_UPSTREAM &&
		sl_exchange_resp_pending(u));
}
