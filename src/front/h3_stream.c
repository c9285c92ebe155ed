/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3's request streams (RFC 9114 section 4; doc/http3.md): a client's
 * bidirectional stream's frames read (HEADERS gathered whole and decoded
 * by sluice's QPACK, DATA handed to the exchange as it came), its head
 * built as a block at the stream's `in` (hblock.h) as HTTP/2's is, its
 * exchange run through the codec seam with HTTP/2's head operation
 * (sl_h2_block_head), and the exchange's answer written back as HEADERS
 * (QPACK, no dynamic table), DATA and trailing HEADERS on the stream.
 * QUIC carries the bytes: a stream's response is queued on libngtcp2's
 * stream (qconn.c keeps it until acknowledged), at most H3_STREAM_OUT_MAX
 * not yet acknowledged, and its request body is credited back to the
 * client only as the exchange takes it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exchange.h"
#include "fields.h"
#include "grpc.h"
#include "h1_parse.h"
#include "h2.h"
#include "h3_int.h"
#include "hblock.h"
#include "log.h"
#include "qconn.h"
#include "tls.h"
#include "wgen.h"
#include "wloop.h"

#define PS_METHOD    0x01
#define PS_SCHEME    0x02
#define PS_PATH	     0x04
#define PS_AUTHORITY 0x08

static const struct sl_seam_ops h3_stream_ops;

#define STREAM_OF(s_) ((struct sl_h3stream *)(s_))

/* ---- the connection, as its streams ask -----------------------------------*/

void
h3_conn_kick(struct sl_h3conn *h)
{
	struct sl_h3ep *e = h->ep;

	if (h->f & H3C_ON_LIST)
		return;
	h->f |= H3C_ON_LIST;
	h->run_next = e->run;
	if (e->run == NULL)
		event_active(&e->run_ev, EV_TIMEOUT, 1);
	e->run = h;
}

/* ---- the stream's life --------------------------------------------------*/

static void
stream_dirty(struct sl_h3stream *st)
{
	if (st->f & T_DIRTY)
		return;
	st->f |= T_DIRTY;
	st->next = st->h->dirty;
	st->h->dirty = st;
}

static struct sl_h3stream *
stream_find(struct sl_h3conn *h, int64_t id)
{
	struct sl_h3stream *st;

	TAILQ_FOREACH(st, &h->streams, link)
	if (st->id == id)
		return st;
	return NULL;
}

static struct sl_h3stream *
stream_new(struct sl_h3conn *h, int64_t id)
{
	struct sl_h3stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->h = h;
	st->id = id;
	st->s.ops = &h3_stream_ops;
	st->s.w = h->ep->w;
	st->s.flags = SL_SEAM_F_TLS | SL_SEAM_F_H3 |
		      (h->peer_cert ? SL_SEAM_F_PEER_CERT : 0);
	st->s.tls_subject = h->tls_subject; /* borrowed */
	st->s.id = h->id;
	st->s.peer = h->peer;
	st->s.stream_id = (uint32_t)id;
	st->s.lconf = h->lconf;
	st->start_ms = now_ms();
	TAILQ_INSERT_TAIL(&h->streams, st, link);
	h->nopen++;
	if (id > h->max_seen)
		h->max_seen = id;
	return st;
}

static void
stream_set_state(struct sl_h3stream *st, enum h3s_state to)
{
	if (st->state < H3S_DONE && to >= H3S_DONE && st->h->nopen > 0)
		st->h->nopen--;
	st->state = (uint8_t)to;
}

/* The stream ends: its exchange, if any, is logged as cut by reason; the
 * struct is freed at the end of the run. */
static void
stream_close(struct sl_h3stream *st, const char *reason)
{
	if (st->state == H3S_CLOSED)
		return;
	if (st->s.txn != NULL) {
		st->s.close_reason = reason;
		sl_exchange_closed(&st->s, reason);
	}
	stream_set_state(st, H3S_CLOSED);
	stream_dirty(st);
}

/* Both ways ended with code (RESET_STREAM and STOP_SENDING). */
static void
stream_reset(struct sl_h3stream *st, uint64_t code)
{
	if (!(st->f & T_RESET) && st->h->qc != NULL)
		(void)sl_qconn_shutdown(st->h->qc, st->id, code);
	st->f |= T_RESET;
}

static void
stream_free(struct sl_h3stream *st)
{
	struct sl_worker *w = st->s.w;

	sl_buf_release(&w->bufs, &st->s.in);
	sl_buf_release(&w->bufs, &st->sec);
	sl_buf_release(&w->bufs, &st->scratch);
	if (st->s.gen != NULL)
		sl_wgen_unref(w, st->s.gen);
	free(st->rtrl);
	free(st->trl_block);
	free(st);
}

void
h3_streams_reap(struct sl_h3conn *h)
{
	struct sl_h3stream *st;

	while ((st = h->reap) != NULL) {
		h->reap = st->next;
		TAILQ_REMOVE(&h->streams, st, link);
		stream_free(st);
	}
}

void
h3_streams_free(struct sl_h3conn *h)
{
	struct sl_h3stream *st;

	h3_streams_end(h, "connection_closed");
	while ((st = TAILQ_FIRST(&h->streams)) != NULL) {
		TAILQ_REMOVE(&h->streams, st, link);
		stream_free(st);
	}
	h->dirty = h->reap = NULL;
}

void
h3_streams_end(struct sl_h3conn *h, const char *reason)
{
	struct sl_h3stream *st;

	TAILQ_FOREACH(st, &h->streams, link)
	if (st->state != H3S_CLOSED)
		stream_close(st, reason);
}

/* A malformed request (RFC 9114 section 4.1.2): a stream error. */
static void
stream_malformed(struct sl_h3stream *st, const char *why)
{
	h3_refused(st->h->ep, &st->h->peer, SL_H3_R_MESSAGE, st->id, why);
	stream_reset(st, SL_H3_MESSAGE_ERROR);
	stream_close(st, "http3_message_error");
}

/* ---- the request's head: fields into a block at `in` ---------------------*/

static size_t
head_cap(const struct sl_h3stream *st)
{
	const struct sl_conf_limits *l = &st->h->lconf->limits;

	return SL_MAX(l->max_header_list_bytes, l->max_header_bytes) + 1024;
}

/* A head, a body kept for a retry, and the stream's window in flight. */
static size_t
body_cap(const struct sl_h3stream *st)
{
	return head_cap(st) + 2 * st->h->lconf->limits.buffer_bytes +
	       2 * 256 * 1024;
}

/* Room for n more bytes at the end of b, within cap. Returns 0, or
 * -1. */
static int
buf_room(struct sl_worker *w, struct sl_buf *b, size_t n, size_t cap)
{
	size_t want;

	if (sl_buf_alloc(&w->bufs, b, SL_MAX(n, (size_t)4096)) == -1)
		return -1;
	if (sl_buf_space(b) >= n)
		return 0;
	want = (size_t)b->len + n;
	if (want > cap)
		return -1;
	return sl_buf_grow(&w->bufs, b, SL_MAX(want, (size_t)b->cap * 2));
}

static int
buf_put(struct sl_worker *w, struct sl_buf *b, const void *p, size_t n,
	size_t cap)
{
	if (buf_room(w, b, n, cap) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

/* Room for n more bytes at the end of `in` (its front compacted once
 * the exchange took bytes from it, then grown within cap). Returns 0, or
 * -1. */
static int
in_room(struct sl_h3stream *st, size_t n, size_t cap)
{
	struct sl_buf *b = &st->s.in;

	if (b->data != NULL && sl_buf_space(b) >= n)
		return 0;
	if (b->data != NULL && b->off > 0) {
		uint32_t off = b->off;
		memmove(b->data, b->data + off, b->len - off);
		b->len -= off;
		st->s.in_ready =
		    st->s.in_ready >= off ? st->s.in_ready - off : 0;
		st->taken = st->taken >= off ? st->taken - off : 0;
		b->off = 0;
	}
	return buf_room(st->s.w, b, n, cap);
}

static int
in_put(struct sl_h3stream *st, const void *p, size_t n, size_t cap)
{
	if (in_room(st, n, cap) == -1)
		return -1;
	memcpy(st->s.in.data + st->s.in.len, p, n);
	st->s.in.len += (uint32_t)n;
	return 0;
}

static int
in_field(struct sl_h3stream *st, const char *n, size_t nl, const char *v,
	 size_t vl)
{
	struct sl_buf *b = &st->s.in;
	size_t need = SL_HBLK_REC_SIZE(nl, vl);

	if (nl > UINT16_MAX)
		return -1;
	/* room for the whole record, then one write of it */
	if (in_room(st, need, head_cap(st)) == -1)
		return -1;
	b->len += (uint32_t)sl_hblk_put(b->data + b->len, n, nl, v, vl);
	st->nrec++;
	st->text_len += (uint32_t)(nl + vl + 4);
	return 0;
}

/* The request line's two records and Host, once the pseudo-fields are
 * known: what a request block begins with (hblock.h). */
static int
head_reqline(struct sl_h3stream *st)
{
	const char *sb = st->scratch.data != NULL ? st->scratch.data : "";
	char hdr[sizeof(struct sl_hblk)];

	memset(hdr, 0, sizeof(hdr));
	if (in_put(st, hdr, sizeof(hdr), head_cap(st)) == -1 ||
	    in_field(st, ":method", 7, sb + st->m_off, st->m_len) == -1 ||
	    in_field(st, ":path", 5, sb + st->p_off, st->p_len) == -1)
		return -1;
	st->text_len -= 8; /* "METHOD SP target SP HTTP/1.1 CRLF" */
	if ((st->f & T_AUTHORITY) &&
	    in_field(st, "Host", 4, sb + st->a_off, st->a_len) == -1)
		return -1;
	return 0;
}

/* QPACK's emit for a request's head (RFC 9114 section 4.3.1). */
static int
head_field(void *arg, const char *n, size_t nl, const char *v, size_t vl,
	   unsigned flags)
{
	struct sl_h3stream *st = arg;
	struct sl_worker *w = st->s.w;
	const char *bad;
	uint32_t off;

	(void)flags;
	if (st->bad != NULL)
		return 0;
	if (nl > 0 && n[0] == ':') {
		unsigned bit =
		    nl == 7 && memcmp(n, ":method", 7) == 0   ? PS_METHOD
		    : nl == 7 && memcmp(n, ":scheme", 7) == 0 ? PS_SCHEME
		    : nl == 5 && memcmp(n, ":path", 5) == 0   ? PS_PATH
		    : nl == 10 && memcmp(n, ":authority", 10) == 0
			? PS_AUTHORITY
			: 0;
		if (bit == 0) {
			st->bad = "a pseudo-field a request may not carry";
			return 0;
		}
		if (st->pseudo & bit) {
			st->bad = "a pseudo-field twice";
			return 0;
		}
		st->pseudo |= (uint8_t)bit;
		if (bit == PS_METHOD && !sl_h1_is_token(v, vl)) {
			st->bad = "a :method that is not a token";
			return 0;
		}
		if (bit == PS_PATH && vl == 0) {
			st->bad = "an empty :path";
			return 0;
		}
		off = st->scratch.len;
		if (buf_put(w, &st->scratch, v, vl, head_cap(st)) == -1)
			return -1;
		if (bit == PS_METHOD) {
			st->m_off = off;
			st->m_len = (uint32_t)vl;
			if (vl == 4 && memcmp(v, "HEAD", 4) == 0)
				st->f |= T_HEAD_REQ;
			if (vl == 7 && memcmp(v, "CONNECT", 7) == 0)
				st->bad = "CONNECT (no tunnel over HTTP/3)";
		} else if (bit == PS_PATH) {
			st->p_off = off;
			st->p_len = (uint32_t)vl;
		} else if (bit == PS_AUTHORITY) {
			st->a_off = off;
			st->a_len = (uint32_t)vl;
			st->f |= T_AUTHORITY;
		} else if (!(vl == 5 && memcmp(v, "https", 5) == 0))
			st->bad = "a :scheme other than https";
		return 0;
	}
	if ((bad = sl_fields_forbidden(n, nl, v, vl)) != NULL) {
		st->bad = bad;
		return 0;
	}
	if (st->nrec == 0) {
		if ((st->pseudo & (PS_METHOD | PS_SCHEME | PS_PATH)) !=
		    (PS_METHOD | PS_SCHEME | PS_PATH)) {
			st->bad = "a pseudo-field missing";
			return 0;
		}
		if (head_reqline(st) == -1)
			return -1;
	}
	if (nl == 4 && memcmp(n, "host", 4) == 0 && (st->f & T_AUTHORITY)) {
		if (vl != st->a_len ||
		    strncasecmp(v, st->scratch.data + st->a_off, vl) != 0)
			st->bad = "a host other than :authority";
		return 0;
	}
	if (nl == 6 && memcmp(n, "cookie", 6) == 0) {
		/* crumbs joined with "; " (RFC 9114 section 4.2.1) */
		if (st->ck_len > 0 &&
		    buf_put(w, &st->scratch, "; ", 2, head_cap(st)) == -1)
			return -1;
		off = st->scratch.len;
		if (buf_put(w, &st->scratch, v, vl, head_cap(st)) == -1)
			return -1;
		if (st->ck_len == 0)
			st->ck_off = off;
		st->ck_len = st->scratch.len - st->ck_off;
		return 0;
	}
	if (nl == 14 && memcmp(n, "content-length", 14) == 0) {
		if ((st->f & T_CL) || sl_fields_cl(v, vl, &st->req_cl) == -1) {
			st->bad = "a bad content-length";
			return 0;
		}
		st->f |= T_CL;
	}
	if (nl == 12 && memcmp(n, "content-type", 12) == 0 &&
	    sl_grpc_content_type(v, vl))
		st->s.flags |= SL_SEAM_F_GRPC;
	else if (nl == 12 && memcmp(n, "grpc-timeout", 12) == 0 &&
		 sl_grpc_timeout_parse(v, vl, &st->s.grpc_timeout_ms) == -1)
		st->s.grpc_timeout_ms = 0;
	return in_field(st, n, nl, v, vl);
}

/* The HEADERS frame's section, whole: the head built, the stream READY.
 * Returns -1 after a connection error. */
static int
head_end(struct sl_h3stream *st, int fin)
{
	struct sl_h3conn *h = st->h;
	const struct sl_conf_limits *l = &h->lconf->limits;
	char scratch[SL_QPACK_SCRATCH_MIN * 2];
	struct sl_hblk b;
	int r;

	r = sl_qpack_decode((const uint8_t *)st->sec.data, st->sec.len,
			    l->max_header_list_bytes, scratch, sizeof(scratch),
			    head_field, st);
	sl_buf_release(&st->s.w->bufs, &st->sec);
	if (r == SL_QPACK_FAILED) {
		h3_conn_error(h, SL_QPACK_DECOMPRESSION_FAILED,
			      SL_H3_R_PROTOCOL,
			      "a field section that cannot be decoded");
		return -1;
	}
	if (r == SL_QPACK_MALFORMED || st->bad != NULL) {
		stream_malformed(st, st->bad != NULL ? st->bad
						     : "a malformed field");
		return 0;
	}
	if (r == SL_QPACK_REFUSED) {
		/* past max_header_list_bytes: a 431 of the exchange's */
		h3_refused(h->ep, &h->peer, SL_H3_R_HEADER_LIST, st->id,
			   "a field section past max_header_list_bytes");
		st->f |= T_TOO_LARGE;
		sl_buf_release(&st->s.w->bufs, &st->s.in);
		st->nrec = 0;
	}
	if (!(st->f & T_TOO_LARGE)) {
		if (st->nrec == 0) {
			if ((st->pseudo & (PS_METHOD | PS_SCHEME | PS_PATH)) !=
			    (PS_METHOD | PS_SCHEME | PS_PATH)) {
				stream_malformed(st, "a pseudo-field missing");
				return 0;
			}
			if (head_reqline(st) == -1)
				goto oom;
		}
		if (st->ck_len > 0 &&
		    in_field(st, "Cookie", 6, st->scratch.data + st->ck_off,
			     st->ck_len) == -1)
			goto oom;
	} else if (head_reqline(st) == -1)
		goto oom;
	if (!fin && !(st->f & T_CL))
		st->f |= T_PIECES;
	sl_hblk_init(&b, 0);
	b.nfields = (uint16_t)SL_MIN(st->nrec, (uint32_t)UINT16_MAX);
	b.len = st->s.in.len;
	b.text_len = st->text_len + 2;
	b.body = (uint8_t)(st->f & T_PIECES ? SL_H1_BODY_STREAM
			   : st->f & T_CL   ? SL_H1_BODY_LENGTH
					    : SL_H1_BODY_NONE);
	b.length = st->f & T_CL ? st->req_cl : 0;
	memcpy(st->s.in.data, &b, sizeof(b));
	st->head_len = st->s.in.len;
	st->taken = st->head_len;
	if (st->f & T_AUTHORITY) {
		const char *host;
		size_t len;
		SSL *ssl = sl_qconn_ssl(h->qc);
		sl_fields_host(st->scratch.data + st->a_off, st->a_len, &host,
			       &len);
		if (!sl_tls_name_covered(ssl, &h->lconf->tls, host, len)) {
			h3_refused(h->ep, &h->peer, SL_H3_R_MISDIRECTED, st->id,
				   "authority not covered by the certificate");
			st->f |= T_MISDIRECT;
		}
	}
	sl_buf_release(&st->s.w->bufs, &st->scratch);
	stream_set_state(st, H3S_READY);
	stream_dirty(st);
	return 0;
oom:
	stream_reset(st, SL_H3_INTERNAL_ERROR);
	stream_close(st, "out_of_memory");
	return 0;
}

/* QPACK's emit for the request's trailers: a field block of their own. */
struct trl_build {
	struct sl_h3stream *st;
	struct sl_buf b;
	uint16_t n;
	int bad;
};

static int
trailer_field(void *arg, const char *n, size_t nl, const char *v, size_t vl,
	      unsigned flags)
{
	struct trl_build *t = arg;
	char rec[SL_HBLK_REC];

	if (flags & SL_HPACK_F_PSEUDO) {
		t->bad = 1;
		return 0;
	}
	sl_hblk_rec_lens(rec, nl, vl);
	if (nl > UINT16_MAX ||
	    buf_put(t->st->s.w, &t->b, rec, sizeof(rec), 1 << 20) == -1 ||
	    buf_put(t->st->s.w, &t->b, n, nl, 1 << 20) == -1 ||
	    buf_put(t->st->s.w, &t->b, v, vl, 1 << 20) == -1)
		return -1;
	t->n++;
	return 0;
}

static int
trailers_end(struct sl_h3stream *st)
{
	char scratch[SL_QPACK_SCRATCH_MIN * 2], hdr[sizeof(struct sl_hblk)];
	struct trl_build t = {st, {0}, 0, 0};
	struct sl_hblk b;
	int r;

	memset(hdr, 0, sizeof(hdr));
	if (buf_put(st->s.w, &t.b, hdr, sizeof(hdr), 1 << 20) == -1) {
		sl_buf_release(&st->s.w->bufs, &st->sec);
		return 0;
	}
	r = sl_qpack_decode((const uint8_t *)st->sec.data, st->sec.len,
			    st->h->lconf->limits.max_header_list_bytes, scratch,
			    sizeof(scratch), trailer_field, &t);
	sl_buf_release(&st->s.w->bufs, &st->sec);
	if (r == SL_QPACK_FAILED) {
		sl_buf_release(&st->s.w->bufs, &t.b);
		h3_conn_error(st->h, SL_QPACK_DECOMPRESSION_FAILED,
			      SL_H3_R_PROTOCOL,
			      "a field section that cannot be decoded");
		return -1;
	}
	if (r != SL_QPACK_OK || t.bad || !(st->f & T_PIECES)) {
		sl_buf_release(&st->s.w->bufs, &t.b);
		/* trailers after a body of a known length are dropped, as
		 * HTTP/2's (the upstream is given the body's length) */
		if (r != SL_QPACK_OK || t.bad)
			stream_malformed(st, "malformed trailers");
		return 0;
	}
	sl_hblk_init(&b, 0);
	b.nfields = t.n;
	b.len = t.b.len;
	memcpy(t.b.data, &b, sizeof(b));
	free(st->rtrl);
	if ((st->rtrl = malloc(t.b.len)) != NULL)
		memcpy(st->rtrl, t.b.data, t.b.len);
	sl_buf_release(&st->s.w->bufs, &t.b);
	return 0;
}

/* ---- the request's frames ------------------------------------------------*/

/* The request is whole (its FIN). */
static void
request_end(struct sl_h3stream *st)
{
	if (st->state == H3S_HEAD) {
		/* a FIN before a whole HEADERS: H3_REQUEST_INCOMPLETE */
		stream_reset(st, SL_H3_REQUEST_INCOMPLETE);
		stream_close(st, "http3_request_incomplete");
		return;
	}
	if (st->f & T_DISCARD) {
		st->f |= T_IN_END;
		stream_dirty(st);
		return;
	}
	if ((st->f & T_CL) && st->req_in != st->req_cl) {
		stream_malformed(st, "a body short of its content-length");
		return;
	}
	st->f |= T_IN_END;
	if (st->f & T_PIECES)
		st->s.flags |= SL_SEAM_F_EOF;
	stream_dirty(st);
}

/* Body bytes of a DATA frame. */
static void
body_data(struct sl_h3stream *st, const uint8_t *d, size_t n)
{
	if ((st->f & T_DISCARD) || st->state >= H3S_DONE) {
		sl_qconn_consumed(st->h->qc, st->id, n);
		return;
	}
	st->req_in += n;
	if ((st->f & T_CL) && st->req_in > st->req_cl) {
		sl_qconn_consumed(st->h->qc, st->id, n);
		stream_malformed(st, "a body past its content-length");
		return;
	}
	st->unconsumed += (uint32_t)n;
	if (in_put(st, d, n, body_cap(st)) == -1) {
		h3_refused(st->h->ep, &st->h->peer, SL_H3_R_BODY_OVERFLOW,
			   st->id, "request body past the stream's buffer");
		stream_reset(st, SL_H3_EXCESSIVE_LOAD);
		stream_close(st, "http3_body_overflow");
		return;
	}
	if (st->s.txn != NULL)
		sl_exchange_body_read(&st->s, n);
	stream_dirty(st);
}

int
h3_stream_recv(struct sl_h3conn *h, int64_t id, const uint8_t *d, size_t n,
	       int fin)
{
	struct sl_h3stream *st = stream_find(h, id);
	const struct sl_conf_limits *l = &h->lconf->limits;

	if (st == NULL) {
		/* QUIC hands over only streams it holds open, and the codec
		 * keeps each until QUIC closed it (T_QCLOSED): an id not
		 * known is a new stream, whatever order they come in */
		if ((h->f & H3C_GOAWAY) || h->ep->l == NULL) {
			/* after our GOAWAY: refused, never begun */
			sl_qconn_consumed(h->qc, id, n);
			(void)sl_qconn_shutdown(h->qc, id,
						SL_H3_REQUEST_REJECTED);
			if (id > h->max_seen)
				h->max_seen = id;
			return 0;
		}
		if ((st = stream_new(h, id)) == NULL) {
			(void)sl_qconn_shutdown(h->qc, id,
						SL_H3_INTERNAL_ERROR);
			return 0;
		}
	}
	if (st->state == H3S_CLOSED) {
		/* done with: what the client still sends is dropped */
		sl_qconn_consumed(h->qc, id, n);
		return 0;
	}
	while (n > 0 && st->state != H3S_CLOSED) {
		size_t k;

		if (st->left == 0 && st->rd.part != 2) {
			int c;
			k = sl_h3f_reader_feed(&st->rd, d, n);
			d += k;
			n -= k;
			if (st->rd.part != 2)
				break;
			c = sl_h3f_check(SL_H3_STREAM_REQUEST, st->rd.type,
					 st->msg == 0, 1);
			if (c != SL_H3F_TAKE && c != SL_H3F_IGNORE) {
				h3_conn_error(h, (uint64_t)c, SL_H3_R_PROTOCOL,
					      "a frame a request stream may "
					      "not carry");
				return -1;
			}
			st->f &= ~T_SKIP;
			/* a frame that carries nothing of the request, or an
			 * empty DATA, spends the budget */
			if ((c == SL_H3F_IGNORE ||
			     (st->rd.type == SL_H3F_DATA &&
			      st->rd.length == 0)) &&
			    h3_calm_spend(h, "frames that carry no request") !=
				0)
				return -1;
			if (c == SL_H3F_IGNORE)
				st->f |= T_SKIP;
			else if (sl_h3f_message_next(&st->msg, st->rd.type,
						     0) != 0) {
				h3_conn_error(h, SL_H3_FRAME_UNEXPECTED,
					      SL_H3_R_PROTOCOL,
					      "frames out of order");
				return -1;
			}
			st->left = st->rd.length;
			if (st->rd.type == SL_H3F_HEADERS &&
			    !(st->f & T_SKIP) &&
			    st->rd.length >
				(uint64_t)l->max_header_list_bytes * 2 + 1024) {
				h3_conn_error(h, SL_H3_EXCESSIVE_LOAD,
					      SL_H3_R_HEADER_LIST,
					      "a HEADERS frame past twice the "
					      "header list's limit");
				return -1;
			}
		}
		k = (size_t)SL_MIN((uint64_t)n, st->left);
		if (st->f & T_SKIP)
			sl_qconn_consumed(h->qc, id, k);
		else if (st->rd.type == SL_H3F_DATA) {
			if (st->state == H3S_HEAD) {
				h3_conn_error(h, SL_H3_FRAME_UNEXPECTED,
					      SL_H3_R_PROTOCOL,
					      "DATA before HEADERS");
				return -1;
			}
			body_data(st, d, k);
		} else {
			sl_qconn_consumed(h->qc, id, k);
			if (buf_put(st->s.w, &st->sec, d, k, 1u << 24) == -1) {
				stream_reset(st, SL_H3_INTERNAL_ERROR);
				stream_close(st, "out_of_memory");
				return 0;
			}
		}
		d += k;
		n -= k;
		st->left -= k;
		if (st->left == 0) {
			int headers =
			    st->rd.type == SL_H3F_HEADERS && !(st->f & T_SKIP);
			memset(&st->rd, 0, sizeof(st->rd));
			if (headers &&
			    (st->state == H3S_HEAD ? head_end(st, fin && n == 0)
						   : trailers_end(st)) == -1)
				return -1;
		}
	}
	if (fin && st->state != H3S_CLOSED) {
		if (st->left > 0 || st->rd.part != 0) {
			stream_malformed(st, "a frame cut by the stream's end");
			return 0;
		}
		request_end(st);
	}
	return 0;
}

/* The client ended a stream whose answer was not done (a reset, or QUIC
 * closed it under the exchange): counted against those finished. */
static void
stream_cancelled(struct sl_h3stream *st)
{
	st->f |= T_RESET;
	if (st->state < H3S_DONE)
		(void)h3_rapid_reset(st->h);
	stream_close(st, "client_reset");
}

void
h3_stream_closed(struct sl_h3conn *h, int64_t id)
{
	struct sl_h3stream *st = stream_find(h, id);

	if (st == NULL)
		return;
	st->f |= T_QCLOSED;
	if (st->state != H3S_CLOSED)
		stream_cancelled(st);
	stream_dirty(st);
}

void
h3_stream_reset(struct sl_h3conn *h, int64_t id, uint64_t code)
{
	struct sl_h3stream *st = stream_find(h, id);

	(void)code;
	if (st == NULL || st->state == H3S_CLOSED)
		return;
	stream_cancelled(st);
}

/* ---- the response --------------------------------------------------------*/

static int
send_bytes(struct sl_h3stream *st, const void *p, size_t n, int fin)
{
	if (st->h->qc == NULL ||
	    sl_qconn_send(st->h->qc, st->id, p, n, fin) != 0)
		return -1;
	if (fin)
		st->f |= T_OUT_END;
	st->h->f |= H3C_FLUSH;
	return 0;
}

/* A frame's header and payload. */
static int
send_frame(struct sl_h3stream *st, uint64_t type, const void *p, size_t n,
	   int fin)
{
	uint8_t hdr[16];
	size_t k = sl_h3f_write_header(hdr, sizeof(hdr), type, n);

	if (k == 0 || send_bytes(st, hdr, k, fin && n == 0) != 0)
		return -1;
	return n > 0 ? send_bytes(st, p, n, fin) : 0;
}

/* A head block's fields QPACK-encoded (the status first, when it has
 * one), as a HEADERS frame. */
static int
send_block(struct sl_h3stream *st, const char *block, const struct sl_hblk *b,
	   int fin)
{
	size_t cap = (size_t)b->len + 12 * ((size_t)b->nfields + 1) + 16, at;
	/* most heads fit on the stack: a malloc and a free a response less */
	uint8_t small[2048], *out = cap <= sizeof(small) ? small : malloc(cap);
	char lname[256];
	struct sl_hblk_it it;
	const char *n, *v;
	size_t nl, vl, k = 0;
	int r;

	if (out == NULL)
		return -1;
	at = sl_qpack_enc_prefix(out, cap);
	if (b->status != 0)
		at += sl_qpack_enc_status(out + at, cap - at, b->status);
	sl_hblk_first(&it, block);
	while (k++ < b->nfields && sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		const char *ln = lname;
		size_t w;
		if (nl <= sizeof(lname))
			sl_hpack_lower(lname, n, nl);
		else {
			sl_hpack_lower((char *)(uintptr_t)n, n, nl);
			ln = n;
		}
		/* values go without Huffman coding, as HAProxy sends them:
		 * with no dynamic table every response codes them again, at
		 * about 600 instructions a response for some 20 bytes
		 * (callgrind, doc/http3.md); names are the static table's or
		 * short */
		w = sl_qpack_enc_field(out + at, cap - at, ln, nl, v, vl,
				       SL_HPACK_F_RAW);
		if (w == 0) {
			if (out != small)
				free(out);
			return -1;
		}
		at += w;
	}
	r = send_frame(st, SL_H3F_HEADERS, out, at, fin);
	if (out != small)
		free(out);
	return r;
}

/* The head blocks at the front of the exchange's output (interim ones,
 * then the final one). Returns -1 when the stream must be reset. */
static int
resp_heads(struct sl_h3stream *st)
{
	struct sl_seam *s = &st->s;

	while (!(st->f & T_HEAD_OUT) && s->txn != NULL) {
		struct iovec iov[SL_EXCHANGE_IOV];
		struct sl_hblk b;
		int hints, end = 0;

		if (sl_exchange_output(s, iov, &hints) == 0)
			return 0;
		if (iov[0].iov_len < sizeof(b))
			return -1;
		sl_hblk_head(iov[0].iov_base, &b);
		if (b.len < sizeof(b) || b.len > iov[0].iov_len ||
		    b.body == SL_H1_BODY_CHUNKED)
			return -1;
		if (b.status >= 200) {
			if ((st->f & T_HEAD_REQ) || b.status == 204 ||
			    b.status == 304 || b.body == SL_H1_BODY_NONE ||
			    (b.body == SL_H1_BODY_LENGTH && b.length == 0))
				st->body = H3B_NONE;
			else if (b.body == SL_H1_BODY_LENGTH) {
				st->body = H3B_LENGTH;
				st->resp_left = b.length;
			} else
				st->body = H3B_UNTIL_END;
			end = st->body == H3B_NONE;
			st->f |= T_HEAD_OUT;
		}
		if (send_block(st, iov[0].iov_base, &b, end) != 0)
			return -1;
		(void)sl_exchange_sent(s, b.len);
	}
	return 0;
}

static size_t
out_room(const struct sl_h3stream *st)
{
	size_t q;

	if (st->h->qc == NULL || (st->f & (T_OUT_END | T_RESET)))
		return 0;
	q = sl_qconn_unacked(st->h->qc, st->id);
	return q < H3_STREAM_OUT_MAX ? H3_STREAM_OUT_MAX - q : 0;
}

/* DATA frames of the response, as far as the stream's room allows, and
 * its end (trailers, or the FIN). Returns -1 when the stream must be
 * reset. */
static int
resp_body(struct sl_h3stream *st)
{
	struct sl_seam *s = &st->s;

	while (s->txn != NULL && (st->f & T_HEAD_OUT) && !(st->f & T_OUT_END)) {
		struct iovec iov[SL_EXCHANGE_IOV];
		size_t room = out_room(st), avail;
		int hints, niov, end = 0, tr;

		if (room == 0)
			return 0;
		niov = sl_exchange_output(s, iov, &hints);
		avail = niov > 0 ? iov[0].iov_len : 0;
		if (st->body == H3B_NONE) {
			avail = 0;
			end = 1;
		} else if (st->body == H3B_LENGTH) {
			avail = (size_t)SL_MIN((uint64_t)avail, st->resp_left);
			avail = SL_MIN(avail, room);
			end = avail == st->resp_left;
		} else {
			if (niov < 2 && avail <= room &&
			    sl_exchange_output_done(s))
				end = 1;
			avail = SL_MIN(avail, room);
		}
		if (avail == 0 && !end)
			return 0;
		tr = end && st->trl_block != NULL;
		if ((avail > 0 || (end && !tr)) &&
		    send_frame(st, SL_H3F_DATA,
			       avail > 0 ? iov[0].iov_base : "", avail,
			       end && !tr) != 0)
			return -1;
		if (tr) {
			struct sl_hblk b;
			sl_hblk_head(st->trl_block, &b);
			if (send_block(st, st->trl_block, &b, 1) != 0)
				return -1;
		}
		if (st->body == H3B_LENGTH)
			st->resp_left -= avail;
		if (avail > 0)
			(void)sl_exchange_sent(s, avail);
		if (end)
			return 0;
	}
	return 0;
}

/* After the exchange's end: what is left of the response's end. */
static void
resp_finish(struct sl_h3stream *st)
{
	if ((st->f & (T_OUT_END | T_RESET)) || st->h->qc == NULL)
		return;
	if (!(st->f & T_HEAD_OUT)) {
		stream_reset(st, SL_H3_INTERNAL_ERROR);
		return;
	}
	if (st->trl_block != NULL) {
		struct sl_hblk b;
		sl_hblk_head(st->trl_block, &b);
		if (send_block(st, st->trl_block, &b, 1) == 0)
			return;
	} else if (send_bytes(st, "", 0, 1) == 0)
		return;
	stream_reset(st, SL_H3_INTERNAL_ERROR);
}

/* Gives back to the client's windows the body bytes the exchange took. */
static void
give_back(struct sl_h3stream *st)
{
	uint32_t now_taken, n;

	if (st->unconsumed == 0 || st->h->qc == NULL)
		return;
	if (st->f & T_DISCARD)
		n = st->unconsumed;
	else {
		now_taken = st->s.in.off + sl_exchange_body_held(&st->s);
		if (now_taken <= st->taken)
			return;
		n = SL_MIN(now_taken - st->taken, st->unconsumed);
		st->taken = now_taken;
	}
	st->unconsumed -= n;
	sl_qconn_consumed(st->h->qc, st->id, n);
}

/* ---- pumping -----------------------------------------------------------*/

static void
stream_start(struct sl_h3stream *st)
{
	struct sl_seam *s = &st->s;
	struct sl_h3conn *h = st->h;

	stream_set_state(st, H3S_BUSY);
	s->gen = h->gen;
	sl_wgen_ref(s->gen);
	s->lconf = h->lconf;
	if (sl_exchange_new(s, st->start_ms) == NULL) {
		stream_reset(st, SL_H3_INTERNAL_ERROR);
		stream_close(st, "out_of_memory");
		return;
	}
	s->flags |= SL_SEAM_F_READING;
	if (st->f & T_TOO_LARGE) {
		s->in.off = 0;
		sl_exchange_reject(s, 431, SL_H1_R_HEAD_TOO_LARGE);
		return;
	}
	if (st->f & T_MISDIRECT) {
		sl_exchange_reject(s, 421, SL_H1_R_MISDIRECTED);
		return;
	}
	sl_exchange_start(s, st->head_len);
}

static void
stream_settle(struct sl_h3stream *st)
{
	struct sl_seam *s = &st->s;

	if (st->state == H3S_CLOSED)
		return;
	if (st->f & T_IN_END)
		s->flags &= ~SL_SEAM_F_READING;
	else
		s->flags |= SL_SEAM_F_READING;
	give_back(st);
	if (s->in.data != NULL && s->in.off == s->in.len &&
	    st->state != H3S_HEAD) {
		sl_buf_release(&s->w->bufs, &s->in);
		s->in_ready = 0;
		st->taken = 0;
	}
	if (s->txn != NULL)
		sl_exchange_schedule(s);
}

void
h3_streams_pump(struct sl_h3conn *h)
{
	struct sl_h3stream *st;

	while ((st = h->dirty) != NULL) {
		h->dirty = st->next;
		st->f &= ~T_DIRTY;
		if (st->state == H3S_CLOSED) {
			/* freed once QUIC is done with it too */
			if ((st->f & T_QCLOSED) || h->qc == NULL) {
				st->next = h->reap;
				h->reap = st;
			} else if (!(st->f & (T_OUT_END | T_RESET)))
				stream_reset(st, SL_H3_REQUEST_CANCELLED);
			continue;
		}
		if (st->state == H3S_READY)
			stream_start(st);
		if (st->s.txn != NULL && st->state == H3S_BUSY)
			(void)sl_exchange_pump(&st->s);
		if (st->state == H3S_CLOSED)
			continue; /* on the dirty list again */
		if (st->state == H3S_DONE) {
			resp_finish(st);
			/* answered, and the request whole or not wanted: the
			 * stream is done with */
			if ((st->f & (T_OUT_END | T_RESET)) &&
			    ((st->f & T_IN_END) || (st->f & T_DISCARD))) {
				give_back(st);
				stream_close(st, "done");
				continue;
			}
		}
		if (st->s.txn != NULL && (st->f & T_HEAD_OUT) &&
		    out_room(st) == 0 && !(st->s.flags & SL_SEAM_F_WBLOCK)) {
			struct iovec iov[SL_EXCHANGE_IOV];
			int hints;
			if (sl_exchange_output(&st->s, iov, &hints) > 0) {
				st->s.flags |= SL_SEAM_F_WBLOCK;
				sl_exchange_stalled(&st->s);
			}
		}
		stream_settle(st);
	}
}

uint64_t
h3_streams_heads(struct sl_h3conn *h, uint64_t now)
{
	uint64_t next = UINT64_MAX, lim = h->lconf->limits.header_timeout_ms;
	struct sl_h3stream *st;

	TAILQ_FOREACH(st, &h->streams, link)
	{
		if (st->state != H3S_HEAD)
			continue;
		if (st->start_ms + lim > now) {
			next = SL_MIN(next, st->start_ms + lim);
			continue;
		}
		/* never begun: the client may send it again (RFC 9114
		 * section 8.1, H3_REQUEST_REJECTED) */
		h3_refused(h->ep, &h->peer, SL_H3_R_HEADER_TIMEOUT, st->id,
			   "HEADERS not whole within header_timeout");
		stream_reset(st, SL_H3_REQUEST_REJECTED);
		stream_close(st, "header_timeout");
	}
	return next;
}

void
h3_streams_writable(struct sl_h3conn *h)
{
	struct sl_h3stream *st;

	TAILQ_FOREACH(st, &h->streams, link)
	{
		if (st->s.txn == NULL || out_room(st) == 0)
			continue;
		if (st->s.flags & SL_SEAM_F_WBLOCK) {
			st->s.flags &= ~SL_SEAM_F_WBLOCK;
			(void)sl_exchange_writable(&st->s);
			stream_dirty(st);
		}
		if (st->f & T_WANT) {
			st->f &= ~T_WANT;
			(void)sl_exchange_writable(&st->s);
			stream_dirty(st);
		}
	}
}

/* ---- the stream's operations (seam.h) ----------------------------------*/

static int
op_flush(struct sl_seam *s)
{
	struct sl_h3stream *st = STREAM_OF(s);

	if (st->state == H3S_CLOSED || s->txn == NULL)
		return -1;
	if (resp_heads(st) != 0 || resp_body(st) != 0) {
		stream_reset(st, SL_H3_INTERNAL_ERROR);
		stream_close(st, "http3_bad_response");
		h3_conn_kick(st->h);
		return -1;
	}
	h3_conn_kick(st->h);
	return 0;
}

static void
op_want_write(struct sl_seam *s, int on)
{
	struct sl_h3stream *st = STREAM_OF(s);

	if (on)
		st->f |= T_WANT;
	else
		st->f &= ~T_WANT;
}

static void
op_resume(struct sl_seam *s)
{
	struct sl_h3stream *st = STREAM_OF(s);

	if (st->state == H3S_CLOSED)
		return;
	stream_dirty(st);
	h3_conn_kick(st->h);
}

static void
op_close(struct sl_seam *s, const char *reason)
{
	struct sl_h3stream *st = STREAM_OF(s);

	if (st->state == H3S_CLOSED)
		return;
	stream_reset(st, SL_H3_INTERNAL_ERROR);
	stream_close(st, reason);
	h3_conn_kick(st->h);
}

static void
op_done(struct sl_seam *s, const char *why, int close, int linger)
{
	struct sl_h3stream *st = STREAM_OF(s);
	struct sl_h3conn *h = st->h;

	(void)why;
	(void)close;
	(void)linger;
	if (st->state == H3S_CLOSED)
		return;
	stream_set_state(st, H3S_DONE);
	if (h->resets > 0)
		h->resets--;
	h3_calm_earn(h, 2);
	/* answered before its request was whole: the rest is not wanted */
	if (!(st->f & T_IN_END) && h->qc != NULL) {
		sl_qconn_stop(h->qc, st->id, SL_H3_NO_ERROR);
		st->f |= T_IN_END;
	}
	st->f |= T_DISCARD;
	st->f &= ~T_WANT;
	give_back(st);
	sl_buf_release(&s->w->bufs, &s->in);
	s->in_ready = 0;
	st->taken = 0;
	stream_dirty(st);
	h3_conn_kick(h);
}

static int
op_unacked(struct sl_seam *s)
{
	(void)s;
	return 0;
}

static size_t
op_send_room(struct sl_seam *s)
{
	return out_room(STREAM_OF(s));
}

static const char *
op_tls_version(struct sl_seam *s)
{
	(void)s;
	return "TLSv1.3";
}

static int
op_trailers(struct sl_seam *s, const char *block)
{
	struct sl_h3stream *st = STREAM_OF(s);
	struct sl_hblk b;

	sl_hblk_head(block, &b);
	if (b.nfields == 0 || st->trl_block != NULL)
		return 0;
	if ((st->trl_block = malloc(b.len)) == NULL)
		return -1;
	memcpy(st->trl_block, block, b.len);
	return 0;
}

static const char *
op_req_trailers(struct sl_seam *s)
{
	return STREAM_OF(s)->rtrl;
}

static const struct sl_seam_ops h3_stream_ops = {
    .flush = op_flush,
    .want_write = op_want_write,
    .resume = op_resume,
    .close = op_close,
    .reset = op_close,
    .done = op_done,
    .unacked = op_unacked,
    .send_room = op_send_room,
    .tls_version = op_tls_version,
    .head = sl_h2_block_head,
    .write_head = sl_seam_block_head,
    .trailers = op_trailers,
    .req_trailers = op_req_trailers,
};
