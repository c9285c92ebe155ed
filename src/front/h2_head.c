/* SPDX-License-Identifier: MIT */
/*
 * The translation of heads for the HTTP/2 codec (h2.c, doc/http2.md
 * section 3): a stream's request fields, checked against RFC 9113 section
 * 8, into a head block (hblock.h) at the start of the stream's `in`, which
 * the exchange takes without parsing (h2_op_head), its body as it came
 * (pieces, SL_H1_BODY_STREAM, when it has no length), its trailers as a
 * field block (h2_op_req_trailers); and the response head blocks (hblock.h)
 * and trailer sections the exchange writes, HPACK-encoded (hpack.h, no table).
 * Its entry for a header block's fields is the connection state's field
 * handler, which holds the header list to its limit. It performs no I/O and
 * sends no frame but a stream's reset, and calls nothing of h2.c or h2_out.c:
 * what it refuses it counts with h2_budget.c's refusals, or returns for the
 * session to decide (a 431, a reset).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exchange.h"
#include "fields.h"
#include "grpc.h"
#include "h1_parse.h"
#include "h2_int.h"
#include "hpack.h"
#include "runtime.h"
#include "tls.h"
#include "util.h"

/* ---- the request: HTTP/2 fields into a head block ---------------------- */

/* in_reserve when the buffer is short: taken, compacted or grown. */
static int
in_reserve_slow(struct sl_h2stream *st, size_t n, size_t cap)
{
	struct sl_buf *b = &st->s.in;
	struct sl_worker *w = st->s.w;
	size_t want;

	if (sl_buf_alloc(&w->bufs, b, SL_MAX(n, (size_t)4096)) == -1)
		return -1;
	if (sl_buf_space(b) >= n)
		return 0;
	if (b->off > 0) {
		uint32_t off = b->off;
		memmove(b->data, b->data + off, b->len - off);
		b->len -= off;
		st->s.in_ready =
		    st->s.in_ready >= off ? st->s.in_ready - off : 0;
		st->taken = st->taken >= off ? st->taken - off : 0;
		b->off = 0;
		if (sl_buf_space(b) >= n)
			return 0;
	}
	want = (size_t)b->len + n;
	if (want > cap)
		return -1;
	return sl_buf_grow(&w->bufs, b, SL_MAX(want, (size_t)b->cap * 2));
}

/* Room for n more bytes at the end of the stream's `in`, within its cap.
 * Returns 0, or -1 (no memory, or past the cap). Inline: a head's every
 * field asks, and all but the first find room. */
static inline int
in_reserve(struct sl_h2stream *st, size_t n, size_t cap)
{
	const struct sl_buf *b = &st->s.in;

	if (b->data != NULL && sl_buf_space(b) >= n)
		return 0;
	return in_reserve_slow(st, n, cap);
}

static int
in_put(struct sl_h2stream *st, const void *p, size_t n, size_t cap)
{
	if (in_reserve(st, n, cap) == -1)
		return -1;
	memcpy(st->s.in.data + st->s.in.len, p, n);
	st->s.in.len += (uint32_t)n;
	return 0;
}

/* A field of the request head: a record of the block at `in`'s start
 * (hblock.h), counted with the size its line would have as text
 * ("name: value" CRLF), which the head's limits hold. */
static int
in_hfield(struct sl_h2stream *st, const char *n, size_t nlen, const char *v,
	  size_t vlen, size_t cap)
{
	struct sl_h2conn *h = st->h;

	if (nlen > UINT16_MAX ||
	    in_reserve(st, SL_HBLK_REC_SIZE(nlen, vlen), cap) == -1)
		return -1;
	/* in_reserve may have moved `in`'s bytes, never the head's (in.off
	 * is 0 until the exchange starts) */
	st->s.in.len += (uint32_t)sl_hblk_put(st->s.in.data + st->s.in.len, n,
					      nlen, v, vlen);
	h->nrec++;
	h->text_len += (uint32_t)(nlen + vlen + 4);
	return 0;
}

/* A request head's bytes at most: the header list's limit, and room for
 * the request line and the framing fields. */
static size_t
head_cap(const struct sl_h2stream *st)
{
	const struct sl_conf_limits *l = &st->h->c->s.lconf->limits;

	return SL_MAX(l->max_header_list_bytes, l->max_header_bytes) + 1024;
}

/* The stream's `in` at most: a head, a body kept for a retry, and the
 * window's bytes in flight with their framing. */
static size_t
body_cap(const struct sl_h2stream *st)
{
	const struct sl_conf_limits *l = &st->h->c->s.lconf->limits;

	return head_cap(st) + 2 * l->buffer_bytes + 2 * st->h->win_stream;
}

/* scratch_put when the scratch buffer is missing or short: taken or
 * grown. Returns 0, or -1 (no memory). */
static int
scratch_reserve_slow(struct sl_h2conn *h, size_t n)
{
	struct sl_buf *b = &h->scratch;
	struct sl_worker *w = h->c->s.w;

	if (sl_buf_alloc(&w->bufs, b, SL_MAX(n, (size_t)4096)) == -1)
		return -1;
	if (sl_buf_space(b) < n &&
	    sl_buf_grow(&w->bufs, b,
			SL_MAX((size_t)b->len + n, (size_t)b->cap * 2)) == -1)
		return -1;
	return 0;
}

/* A pseudo-field's value (or a cookie crumb) kept in the block's scratch
 * until the request line is written; *off is where. Inline, a short
 * value copied without a call: each of a request's pseudo-fields went
 * through a call to the buffer pool and one to memcpy (doc/performance.md,
 * "Issue 79, session 51"). */
static inline int
scratch_put(struct sl_h2conn *h, const void *p, size_t n, uint32_t *off)
{
	struct sl_buf *b = &h->scratch;

	if ((b->data == NULL || sl_buf_space(b) < n) &&
	    scratch_reserve_slow(h, n) == -1)
		return -1;
	*off = b->len;
	sl_copy_short(b->data + b->len, p, n); /* pseudo-fields are short */
	b->len += (uint32_t)n;
	return 0;
}

/* The request line and Host, once the pseudo-header fields are known
 * (RFC 9113 section 8.3.1). */
static int
head_reqline(struct sl_h2stream *st)
{
	struct sl_h2conn *h = st->h;
	/* no pseudo-header field came: the block's end refuses the
	 * stream (h2_head_check), whatever is written here */
	const char *sb = h->scratch.data != NULL ? h->scratch.data : "";
	size_t cap = head_cap(st);
	const char *target = sb + h->p_off, *method = sb + h->m_off;
	size_t tlen = h->p_len, mlen = h->m_len;

	st->f |= S_REQLINE;
	/* WebSocket by extended CONNECT (RFC 8441): the HTTP/1.1 handshake
	 * an upstream expects, a GET of :path asking for the switch with a
	 * key of sluice's own (doc/websocket.md section 4) */
	if ((st->f & S_CONNECT) && h->pr_len == 9 &&
	    strncasecmp(sb + h->pr_off, "websocket", 9) == 0) {
		st->f |= S_XCONNECT;
		st->s.flags |= SL_SEAM_F_XCONNECT;
		method = "GET";
		mlen = 3;
	} else if (st->f & S_CONNECT) {
		/* CONNECT has no :path: its authority is the target */
		target = sb + h->a_off;
		tlen = h->a_len;
	}
	/* the block's header first (h2_head_end fills it), then the request
	 * line's two parts as the pseudo-fields a request block begins with
	 * (h2up_head.c reads the same) */
	if (in_reserve(st, sizeof(struct sl_hblk), cap) == -1)
		return -1;
	memset(st->s.in.data + st->s.in.len, 0, sizeof(struct sl_hblk));
	st->s.in.len += (uint32_t)sizeof(struct sl_hblk);
	if (in_hfield(st, ":method", 7, method, mlen, cap) == -1 ||
	    in_hfield(st, ":path", 5, target, tlen, cap) == -1)
		return -1;
	/* as text, "METHOD SP target SP HTTP/1.1 CRLF": mlen + tlen + 12,
	 * where the two records counted (7 + 4) + (5 + 4) around them */
	h->text_len -= 8;
	if ((st->f & S_AUTHORITY) &&
	    in_hfield(st, "Host", 4, sb + h->a_off, h->a_len, cap) == -1)
		return -1;
	if (st->f & S_XCONNECT) {
		char key[SL_WS_KEY_LEN + 1];
		if (sl_tls_ws_key(key) == -1 ||
		    in_hfield(st, "Connection", 10, "upgrade", 7, cap) == -1 ||
		    in_hfield(st, "Upgrade", 7, "websocket", 9, cap) == -1 ||
		    in_hfield(st, "Sec-WebSocket-Version", 21, "13", 2, cap) ==
			-1 ||
		    in_hfield(st, "Sec-WebSocket-Key", 17, key, SL_WS_KEY_LEN,
			      cap) == -1)
			return -1;
	}
	return 0;
}

/* The head is whole (END_HEADERS): the cookie, the body's framing and the
 * empty line. Returns -1 when out of memory or past the cap. */
int
h2_head_end(struct sl_h2stream *st, int end_stream)
{
	struct sl_h2conn *h = st->h;
	struct sl_client *c = h->c;
	size_t cap = head_cap(st);
	struct sl_hblk b;

	if (!(st->f & S_REQLINE) && head_reqline(st) == -1)
		return -1;
	if (h->ck_len > 0 &&
	    in_hfield(st, "Cookie", 6, h->scratch.data + h->ck_off, h->ck_len,
		      cap) == -1)
		return -1;
	/* a body without a length goes as pieces, as its DATA came, its
	 * end the stream's (SL_SEAM_F_EOF), its trailers a field block */
	if (!end_stream && !(st->f & (S_CL | S_XCONNECT)))
		st->f |= S_PIECES;
	/* the block's header, at `in`'s start (head_reqline): what the
	 * exchange takes the head from (h2_op_head) */
	sl_hblk_init(&b, 0);
	b.nfields = (uint16_t)SL_MIN(h->nrec, (uint32_t)UINT16_MAX);
	b.len = st->s.in.len;
	b.text_len = h->text_len + 2; /* and the empty line */
	b.body = (uint8_t)(st->f & S_PIECES ? SL_H1_BODY_STREAM
			   : st->f & S_CL   ? SL_H1_BODY_LENGTH
					    : SL_H1_BODY_NONE);
	b.length = st->f & S_CL ? st->req_cl : 0;
	memcpy(st->s.in.data, &b, sizeof(b));
	st->head_len = st->s.in.len;
	/* what follows is the body: the windows' count starts there */
	st->taken = st->head_len;
	/* coalescing never crosses the certificate's names (section 7) */
	if ((c->s.flags & C_F_TLS) && (st->f & S_AUTHORITY)) {
		const char *host;
		size_t len;
		sl_fields_host(h->scratch.data + h->a_off, h->a_len, &host,
			       &len);
		if (!sl_tls_name_covered(c->ssl, &c->s.lconf->tls, host, len))
			st->f |= S_MISDIRECT;
	}
	return 0;
}

/* A pseudo-field of a request (RFC 9113 section 8.3.1): its bit, or 0
 * for one a request may not carry. */
static unsigned
pseudo_bit(const char *n, size_t nlen)
{
	switch (nlen) {
	case 5:
		return memcmp(n, ":path", 5) == 0 ? PS_PATH : 0;
	case 7:
		return memcmp(n, ":method", 7) == 0   ? PS_METHOD
		       : memcmp(n, ":scheme", 7) == 0 ? PS_SCHEME
						      : 0;
	case 9:
		return memcmp(n, ":protocol", 9) == 0 ? PS_PROTOCOL : 0;
	case 10:
		return memcmp(n, ":authority", 10) == 0 ? PS_AUTHORITY : 0;
	default:
		return 0;
	}
}

/* The request is malformed (RFC 9113 section 8.1.1): the stream is reset
 * with PROTOCOL_ERROR at the block's end. Returns 1 (the rest of the block
 * is refused). */
static int
malformed(struct sl_h2stream *st, const char *why)
{
	st->f |= S_MALFORMED;
	if (st->h->bad == NULL)
		st->h->bad = why;
	return 1;
}

/* A request field (pseudo-header or not) of the header block being read
 * into the stream's head (the decoder checked its name and value against
 * RFC 9113 section 8.2.1, and that pseudo-fields come first). Returns 0;
 * 1 when the request is malformed (the rest of the block refused); -1 when
 * it does not fit (no memory, or past the head's cap): the caller answers
 * 431. */
static int
head_field(struct sl_h2stream *st, const char *n, size_t namelen, const char *v,
	   size_t valuelen)
{
	struct sl_h2conn *h = st->h;
	size_t cap = head_cap(st);
	const char *bad;

	if (namelen > 0 && n[0] == ':') {
		unsigned bit = pseudo_bit(n, namelen);
		uint32_t off;

		if (bit == 0)
			return malformed(st, "a pseudo-field a request may "
					     "not carry");
		if (h->pseudo & bit)
			return malformed(st, "a pseudo-field twice");
		h->pseudo |= (uint8_t)bit;
		if (bit == PS_PATH && valuelen == 0)
			return malformed(st, "an empty :path");
		/* sl_h1_request_check trusts the codec for the method's
		 * characters (SL_H1_CHECKED_FIELDS); the decoder holds
		 * values only to field-vchars */
		if (bit == PS_METHOD && !sl_h1_is_token(v, valuelen))
			return malformed(st, "a :method that is not a token");
		if (bit == PS_PROTOCOL && !h->connect_proto)
			return malformed(st, ":protocol without extended "
					     "CONNECT");
		if (bit == PS_SCHEME) {
			/* the connection says http or https; nothing reads
			 * its value again: no copy */
			if ((valuelen == 4 && memcmp(v, "http", 4) == 0) ||
			    (valuelen == 5 && memcmp(v, "https", 5) == 0))
				h->pseudo |= PS_HTTP;
			return 0;
		}
		if (scratch_put(h, v, valuelen, &off) == -1)
			return -1;
		switch (bit) {
		case PS_METHOD:
			h->m_off = off;
			h->m_len = (uint32_t)valuelen;
			if (valuelen == 4 && memcmp(v, "HEAD", 4) == 0)
				st->f |= S_HEAD_REQ;
			if (valuelen == 7 && memcmp(v, "CONNECT", 7) == 0)
				st->f |= S_CONNECT;
			break;
		case PS_PATH:
			h->p_off = off;
			h->p_len = (uint32_t)valuelen;
			break;
		case PS_AUTHORITY:
			h->a_off = off;
			h->a_len = (uint32_t)valuelen;
			st->f |= S_AUTHORITY;
			break;
		default: /* PS_PROTOCOL */
			h->pr_off = off;
			h->pr_len = (uint32_t)valuelen;
			break;
		}
		return 0;
	}
	if ((bad = sl_fields_forbidden(n, namelen, v, valuelen)) != NULL)
		return malformed(st, bad);
	if (!(st->f & S_REQLINE) && head_reqline(st) == -1)
		return -1;
	if (namelen == 4 && memcmp(n, "host", 4) == 0)
		h->pseudo |= PS_HOST;
	if (namelen == 4 && memcmp(n, "host", 4) == 0 &&
	    (st->f & S_AUTHORITY)) {
		/* :authority wins; a Host that names another is a
		 * malformed request (RFC 9113 section 8.3.1) */
		if (valuelen != h->a_len ||
		    strncasecmp(v, h->scratch.data + h->a_off, valuelen) != 0)
			st->f |= S_BAD_HOST;
		return 0;
	}
	if (namelen == 6 && memcmp(n, "cookie", 6) == 0) {
		/* crumbs joined with "; " (RFC 9113 section 8.2.3) */
		uint32_t off;
		if (h->ck_len > 0 && scratch_put(h, "; ", 2, &off) == -1)
			return -1;
		if (scratch_put(h, v, valuelen, &off) == -1)
			return -1;
		if (h->ck_len == 0)
			h->ck_off = off;
		h->ck_len = h->scratch.len - h->ck_off;
		return 0;
	}
	if (namelen == 14 && memcmp(n, "content-length", 14) == 0) {
		/* one, of digits: DATA is held to it (h2.c) */
		if ((st->f & S_CL) ||
		    sl_fields_cl(v, valuelen, &st->req_cl) == -1)
			return malformed(st, "a bad content-length");
		st->f |= S_CL;
	}
	/* gRPC (doc/grpc.md): both names are 12 bytes long */
	if (namelen == 12) {
		if (memcmp(n, "content-type", 12) == 0 &&
		    sl_grpc_content_type(v, valuelen))
			st->s.flags |= SL_SEAM_F_GRPC;
		else if (memcmp(n, "grpc-timeout", 12) == 0 &&
			 sl_grpc_timeout_parse(v, valuelen,
					       &st->s.grpc_timeout_ms) == -1)
			st->s.grpc_timeout_ms = 0; /* malformed: none */
	}
	/* the HTTP/1.1 handshake's own fields are sluice's to write
	 * (head_reqline): a client's would be a second one */
	if ((st->f & S_XCONNECT) &&
	    ((namelen == 17 && memcmp(n, "sec-websocket-key", 17) == 0) ||
	     (namelen == 21 && memcmp(n, "sec-websocket-version", 21) == 0)))
		return 0;
	return in_hfield(st, n, namelen, v, valuelen, cap);
}

int
h2_head_check(struct sl_h2stream *st, const char **why)
{
	struct sl_h2conn *h = st->h;
	unsigned ps = h->pseudo;

	if (st->f & S_MALFORMED) {
		*why = h->bad != NULL ? h->bad : "a malformed request";
		return -1;
	}
	if (!(ps & PS_METHOD)) {
		*why = "no :method";
		return -1;
	}
	if ((st->f & S_CONNECT) && !(ps & PS_PROTOCOL)) {
		/* CONNECT: its authority is the target (section 8.5) */
		if ((ps & (PS_SCHEME | PS_PATH)) || !(ps & PS_AUTHORITY)) {
			*why = "CONNECT with :scheme or :path, or no "
			       ":authority";
			return -1;
		}
		return 0;
	}
	if ((ps & PS_PROTOCOL) && !(st->f & S_CONNECT)) {
		*why = ":protocol without CONNECT";
		return -1;
	}
	if ((ps & (PS_SCHEME | PS_PATH)) != (PS_SCHEME | PS_PATH)) {
		*why = "no :scheme or no :path";
		return -1;
	}
	if (ps & PS_HTTP) {
		/* http and https: an origin (section 8.3.1), '*' for
		 * OPTIONS only, and a host to send it to */
		const char *p = h->scratch.data + h->p_off;
		int options =
		    h->m_len == 7 &&
		    memcmp(h->scratch.data + h->m_off, "OPTIONS", 7) == 0;
		if (p[0] != '/' && !(h->p_len == 1 && p[0] == '*' && options)) {
			*why = "a :path neither absolute nor OPTIONS '*'";
			return -1;
		}
		if (!(ps & (PS_AUTHORITY | PS_HOST))) {
			*why = "no :authority and no Host";
			return -1;
		}
	}
	return 0;
}

/* A trailer field of a request body of pieces (S_PIECES): a record of
 * the request's trailers block (st->rtrl, made at the first), which the
 * exchange takes at the body's end (h2_op_req_trailers); the header
 * list's limit holds its size. Returns 0, or -1 (no memory). */
static int
trailer_rec(struct sl_h2stream *st, const char *n, size_t nl, const char *v,
	    size_t vl)
{
	struct sl_hblk b;
	char *p;

	if (st->rtrl != NULL)
		sl_hblk_head(st->rtrl, &b);
	else {
		sl_hblk_init(&b, 0);
		b.len = sizeof(b);
	}
	if (nl > UINT16_MAX || b.nfields == UINT16_MAX ||
	    (p = realloc(st->rtrl, b.len + SL_HBLK_REC_SIZE(nl, vl))) == NULL)
		return -1;
	st->rtrl = p;
	b.len += (uint32_t)sl_hblk_put(p + b.len, n, nl, v, vl);
	b.nfields++;
	memcpy(p, &b, sizeof(b));
	return 0;
}

/* A DATA frame's payload into the stream's `in`, as it came. Returns 0,
 * or -1 past the stream's buffer (or no memory). */
int
h2_body_put(struct sl_h2stream *st, const uint8_t *data, size_t len)
{
	return in_put(st, data, len, body_cap(st));
}

/* The connection state's field handler (h2conn.h): a request field, or
 * a trailer field, held to the header list's limit and translated. */
int
h2_on_field(void *arg, struct sl_h2c_stream *hs, const char *n, size_t namelen,
	    const char *v, size_t valuelen, unsigned flags)
{
	struct sl_h2conn *h = arg;
	struct sl_h2stream *st = STREAM_OF_HS(hs);
	const struct sl_conf_limits *lim;
	int trailer = st->state != H2S_HEAD, r;

	(void)flags;
	if (st->state == H2S_CLOSED)
		return 1;
	lim = &h->c->s.lconf->limits;
	/* the decoded list is bounded however well it compresses: a list
	 * over the limit costs its sender the stream (a 431), the fields
	 * past the limit dropped as they are decoded; one past twice the
	 * limit is an HPACK bomb (RFC 7541 section 7.3): the connection
	 * ends */
	st->hdr_list = (uint32_t)SL_MIN(
	    (uint64_t)st->hdr_list + namelen + valuelen + 32, UINT32_MAX);
	if (st->hdr_list > 2 * (uint64_t)lim->max_header_list_bytes) {
		h->f |= C2_BOMB;
		return 1;
	}
	if (st->hdr_list > lim->max_header_list_bytes) {
		if (trailer)
			goto trailer_fail;
		if (!(st->f & S_TOO_LARGE)) {
			st->f |= S_TOO_LARGE;
			h2_refused(h, SL_H2_R_HEADER_LIST, st->id,
				   "header list over max_header_list_bytes");
		}
		return 0;
	}
	if (st->f & (S_TOO_LARGE | S_DISCARD | S_MALFORMED))
		return 0;
	if (trailer) {
		const char *bad =
		    namelen > 0 && n[0] == ':'
			? "a pseudo-field in trailers"
			: sl_fields_forbidden(n, namelen, v, valuelen);
		if (bad != NULL)
			return malformed(st, bad);
		/* a trailer: only a body of pieces carries one on; after
		 * a Content-Length body it is dropped (RFC 9110 section
		 * 6.5.1 lets a recipient discard trailers) */
		if (!(st->f & S_PIECES))
			return 0;
		if (trailer_rec(st, n, namelen, v, valuelen) == -1)
			goto trailer_fail;
		return 0;
	}
	if ((r = head_field(st, n, namelen, v, valuelen)) == -1)
		goto fail;
	return r;
trailer_fail:
	/* the request cannot be passed on whole: its exchange is cut */
	if (!(st->f & S_DISCARD)) {
		h2_refused(h, SL_H2_R_HEADER_LIST, st->id,
			   "trailer fields past the limits");
		if (st->s.txn != NULL) {
			st->s.close_reason = "http2_trailers_too_large";
			sl_exchange_closed(&st->s, "http2_trailers_too_large");
		}
		h2_stream_reset(st, SL_H2F_ENHANCE_YOUR_CALM);
		if (st->state != H2S_CLOSED)
			h2_stream_set_state(st, H2S_DONE);
	}
	return 0;
fail:
	/* no memory for it, or past the cap: a 431 like a head too large */
	if (!(st->f & S_TOO_LARGE)) {
		st->f |= S_TOO_LARGE;
		h2_refused(h, SL_H2_R_HEADER_LIST, st->id,
			   "head past the buffer");
	}
	return 0;
}

/* The request head as h2_head_end left it, a head block: its records walked
 * into the head, no byte scanned, and held to the checks a request's text
 * gets. */
int
h2_op_head(struct sl_seam *s, struct sl_h1_request *req,
	   const struct sl_h1_limits *lim, size_t *text_len)
{
	const char *base = s->in.data + s->in.off, *n, *v;
	struct sl_h1_header *hd = req->headers;
	size_t nl, vl, i = 0;
	struct sl_hblk_it it;
	struct sl_hblk b;
	int r;

	sl_hblk_head(base, &b);
	*text_len = b.text_len;
	sl_hblk_first(&it, base);
	/* :method and :path first (head_reqline) */
	if (sl_hblk_next(&it, &n, &nl, &req->method, &req->method_len) == 0 ||
	    sl_hblk_next(&it, &n, &nl, &req->target, &req->target_len) == 0)
		return -1;
	/* the array holds max_headers; the check refuses a field past it
	 * (431) before it would read it */
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		if (i < req->max_headers) {
			hd[i].name = n;
			hd[i].name_len = nl;
			hd[i].value = v;
			hd[i].value_len = vl;
			hd[i].kind = SL_HK_UNSET;
		}
		i++;
	}
	req->nheaders = i;
	/* the decoder held the method, names and values to RFC 9113
	 * section 8.2.1 (and sluice's own fields are well-formed) */
	r = sl_h1_request_check(req, b.text_len, lim, SL_H1_CHECKED_FIELDS);
	/* a body of no length has no field that says so: the block's
	 * framing does */
	if (b.body == SL_H1_BODY_STREAM && req->body == SL_H1_BODY_NONE)
		req->body = SL_H1_BODY_STREAM;
	if (req->nheaders > req->max_headers)
		req->nheaders = req->max_headers;
	return r;
}

int
sl_h2_block_head(struct sl_seam *s, struct sl_h1_request *req,
		 const struct sl_h1_limits *lim, size_t *text_len)
{
	return h2_op_head(s, req, lim, text_len);
}

/* The stream operation req_trailers (seam.h): the request's trailers as
 * a field block, once its body of pieces ended; NULL: none came. */
const char *
h2_op_req_trailers(struct sl_seam *s)
{
	return STREAM_OF(s)->rtrl;
}

/* ---- the response: the exchange's heads and trailers into pairs ------ */

/* Room for n bytes in the worker's block being encoded. */
static uint8_t *
enc_room(struct sl_worker *w, size_t n)
{
	struct h2_worker *hw = w->h2; /* made with the first stream */

	if (n > hw->enc_cap) {
		size_t cap = SL_MAX(n, (size_t)4096);
		uint8_t *p = realloc(hw->enc, cap);
		if (p == NULL)
			return NULL;
		hw->enc = p;
		hw->enc_cap = cap;
	}
	return hw->enc;
}

/* One field, its name lower-cased (RFC 9113 section 8.2.1: the upstream
 * may have written it in any case), at out (room bytes). Returns the
 * bytes written. */
static size_t
enc_field(struct h2_worker *hw, uint8_t *out, size_t room, const char *n,
	  size_t nl, const char *v, size_t vl)
{
	char *ln = hw->lname;

	/* sluice's own X-Request-Id goes without Huffman coding: new every
	 * response, its 32 hex digits would take 20 bytes coded for about
	 * 600 instructions of coding a request (callgrind, a gRPC call);
	 * HAProxy never Huffman-codes, nginx does */
	if (nl == 12 && memcmp(n, "X-Request-Id", 12) == 0)
		return sl_hpack_enc_field_memo(&hw->names, out, room, n, nl, v,
					       vl, SL_HPACK_F_RAW);
	if (nl > 0 && nl <= SL_HPACK_MEMO_NAME)
		return sl_hpack_enc_field_memo(&hw->names, out, room, n, nl, v,
					       vl, 0);
	if (nl > sizeof(hw->lname)) {
		/* a long name: lower-cased where it lies (the block is the
		 * exchange's, written once) */
		ln = (char *)(uintptr_t)n;
	}
	sl_hpack_lower(ln, n, nl);
	return sl_hpack_enc_field(out, room, ln, nl, v, vl, 0);
}

/* The most a head block's HPACK takes: its bytes bound its fields', and
 * each field's encoding adds at most 12 (SL_HPACK_ENC_MAX). */
size_t
h2_resp_head_max(const struct sl_hblk *b)
{
	return (size_t)b->len + 12 * ((size_t)b->nfields + 1) + 16;
}

/*
 * A head block's fields (hblock.h) after its :status, HPACK-encoded at out
 * (h2_resp_head_max(b) bytes); a block of status 0 (trailers) has none.
 * The exchange (or h2up.c's checks, for trailers) left out the
 * connection's fields already. Returns the block's bytes.
 */
size_t
h2_resp_head_enc_at(struct sl_h2stream *st, uint8_t *out, const char *block,
		    const struct sl_hblk *b)
{
	struct h2_worker *hw = st->s.w->h2;
	size_t room = h2_resp_head_max(b);
	struct sl_hblk_it it;
	const char *n, *v;
	size_t nl, vl, at, k = 0;

	at = b->status != 0 ? sl_hpack_enc_status(out, b->status) : 0;
	sl_hblk_first(&it, block);
	while (k++ < b->nfields && sl_hblk_next(&it, &n, &nl, &v, &vl))
		at += enc_field(hw, out + at, room - at, n, nl, v, vl);
	return at;
}

/* h2_resp_head_enc_at into the worker's block (for a block that needs
 * CONTINUATIONs). Returns the block's bytes, or -1 (no memory). */
long
h2_resp_head_enc(struct sl_h2stream *st, const char *block,
		 const struct sl_hblk *b)
{
	uint8_t *out;

	if ((out = enc_room(st->s.w, h2_resp_head_max(b))) == NULL)
		return -1;
	return (long)h2_resp_head_enc_at(st, out, block, b);
}
