/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams: a request's HEADERS on a new stream of its shared
 * connection (doc/http2.md section 10). The head the exchange wrote is
 * encoded (h2up_head.c) in place at the connection's write buffer's end,
 * after room for the frame's header, and framed there; a block that
 * needs CONTINUATIONs is copied out and framed by the connection state.
 * Out of h2up.c, which keeps the connections and the streams' ends, and
 * calls this file (never the other way: h2up_log_conn is here).
 */
#include <stdlib.h>
#include <string.h>

#include "conf_types.h"
#include "h1_parse.h"
#include "h2up_int.h"
#include "log.h"
#include "upstream.h"

/* h2up.c's lines too: here, so that the call graph goes one way. */
void
h2up_log_conn(const struct sl_h2up_conn *c, const char *what,
	      const char *detail)
{
	log_info("upstream conn=%llu %s: http2: %s%s%s",
		 (unsigned long long)c->u->id, c->ep->conf->addr.text, what,
		 detail ? ": " : "", detail ? detail : "");
}

/*
 * The request's HEADERS when its block needs CONTINUATIONs or passes
 * WBUF_CAP (rare): the block, blen bytes at c->wbuf's rel + the frame
 * header, taken out of the write buffer and framed by the connection
 * state. Returns 0, or -1 (no memory or no room).
 */
static int
submit_long(struct sl_h2up_conn *c, struct h2up_stream *st, size_t rel,
	    size_t blen, int end_stream)
{
	uint8_t *copy = malloc(blen > 0 ? blen : 1);
	int r;

	if (copy == NULL)
		return -1;
	memcpy(copy, c->wbuf.p + c->wbuf.off + rel + SL_H2F_HEADER_LEN, blen);
	c->wbuf.len = c->wbuf.off + rel;
	r = sl_h2c_send_headers(&c->h2c, &st->hs, copy, blen, end_stream);
	free(copy);
	return r;
}

/*
 * Sends the request head the exchange wrote (hl bytes at p) as HEADERS on
 * a new stream, END_STREAM when no body follows. The block is encoded in
 * place at the write buffer's end, after room for the frame's header: no
 * buffer of its own, no copy (an allocation, its growth and its free
 * were about 500 instructions a gRPC call). Returns 0, or -1: the stream
 * failed (nothing of it left in the write buffer).
 */
int
h2up_submit(struct h2up_stream *st, char *p, size_t hl)
{
	struct sl_h2up_conn *c = st->c;
	struct dbuf *w = &c->wbuf;
	size_t rel, blen;
	uint32_t id;
	int body, r;

	if (c->h2c.goaway_in || c->h2c.failed) {
		/* the server takes no new stream: never sent (class 1) */
		c->dead = 1;
		return -1;
	}
	id = c->h2c.last_local_id == 0 ? 1 : c->h2c.last_local_id + 2;
	if (id > SL_H2F_MAX_STREAM_ID) {
		/* stream ids ran out: the next request needs a new
		 * connection (the failure is class 1) */
		h2up_log_conn(c, "request not sent", "stream ids exhausted");
		c->dead = 1;
		return -1;
	}
	/* the frame's place, counted from w->off (which dbuf_room may move
	 * to 0 with the bytes) */
	rel = dbuf_n(w);
	if (dbuf_room(w, SL_H2F_HEADER_LEN) == NULL ||
	    h2up_head_request(st, p, hl,
			      c->ep->cluster->protocol == SL_UP_PROTO_H2, w,
			      &body) == -1) {
		w->len = w->off + rel;
		return -1;
	}
	if (!body)
		st->f |= S_REQ_END | S_REQ_SENT;
	blen = dbuf_n(w) - rel - SL_H2F_HEADER_LEN;
	st->hs.id = id;
	if (sl_h2c_stream_add(&c->h2c, &st->hs) == -1)
		r = 1;
	else if (blen <= c->h2c.peer_max_frame && dbuf_n(w) <= WBUF_CAP)
		r = sl_h2c_send_headers_placed(&c->h2c, &st->hs,
					       (uint8_t *)w->p + w->off + rel,
					       blen, !body) == -1;
	else
		r = submit_long(c, st, rel, blen, !body) == -1;
	if (r) {
		w->len = w->off + rel; /* nothing of the stream goes */
		sl_h2c_forget(&c->h2c, &st->hs);
		c->dead = 1;
		return -1;
	}
	/* pool.max_requests: a connection's lifetime in requests, as for
	 * HTTP/1.1 (it closes after its last stream) */
	if (++c->nsent >= c->ep->cluster->pool_max_requests &&
	    c->ep->cluster->pool_max_requests > 0)
		c->dead = 1;
	st->id = (int32_t)id;
	st->f |= S_HEAD_IN;
	st->f &= ~S_NG_CLOSED;
	return 0;
}
