/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams: the translation of heads between the exchange's end
 * of a stream and nghttp2 (doc/http2.md section 10). A request head, a
 * head block or HTTP/1.1 text, into name-value pairs for HEADERS; a
 * response's fields, as nghttp2 hands them over, into a head block for the
 * exchange, and its trailers into the chunked body's trailer section.
 * Submits nothing and calls nothing of h2up.c: the connection (h2up.c)
 * submits the pairs and feeds the callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "h2up_int.h"
#include "hblock.h"

/* Whether a request field stays out of HEADERS: HTTP/1.1's connection
 * fields (RFC 9113 section 8.2.2), Host (as :authority) and TE (added
 * back as "trailers" for gRPC). */
static int
req_field_dropped(const char *n, size_t len)
{
	switch (len) {
	case 2:
		return sl_h1_ieq(n, len, "te");
	case 4:
		return sl_h1_ieq(n, len, "host");
	case 7:
		return sl_h1_ieq(n, len, "upgrade");
	case 10:
		return sl_h1_ieq(n, len, "connection") ||
		       sl_h1_ieq(n, len, "keep-alive");
	case 13:
		return sl_h1_ieq(n, len, "http2-settings");
	case 16:
		return sl_h1_ieq(n, len, "proxy-connection");
	case 17:
		return sl_h1_ieq(n, len, "transfer-encoding");
	default:
		return 0;
	}
}

/* What a request field says of the stream: gRPC's content-type. */
static void
stream_field(struct h2up_stream *st, const char *n, size_t nl, const char *v,
	     size_t vl)
{
	if (nl == 12 && sl_h1_ieq(n, nl, "content-type") && vl >= 16 &&
	    sl_h1_ieq(v, 16, "application/grpc"))
		st->f |= S_GRPC;
}

/*
 * The exchange's request head as a head block (hblock.h, b its header):
 * its records are the pairs, :method and :path first and :authority where
 * Host stood, the body's framing from the header; no text is parsed.
 * Returns the pairs as h2up_head_request does.
 */
static long
head_block(struct h2up_stream *st, const char *p, const struct sl_hblk *b,
	   nghttp2_nv *stack_nv, size_t nstack, nghttp2_nv **nvp, int *body)
{
	nghttp2_nv *nv = stack_nv;
	size_t max = (size_t)b->nfields + 5, k = 4, nl, vl;
	struct sl_hblk_it it;
	const char *n, *v;
	*body = 0;
	if (max > nstack && (nv = calloc(max, sizeof(*nv))) == NULL)
		return -1;
	h2up_nv_put(&nv[0], ":method", 7, "", 0);
	h2up_nv_put(&nv[2], ":path", 5, "", 0);
	h2up_nv_put(&nv[3], ":authority", 10, "", 0);
	sl_hblk_first(&it, p);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		if (nl > 0 && n[0] == ':') {
			int at = nl == 7 ? 0 : nl == 5 ? 2 : 3;
			h2up_nv_put(&nv[at], n, nl, v, vl);
			continue;
		}
		if (k + 1 >= max || req_field_dropped(n, nl))
			continue;
		stream_field(st, n, nl, v, vl);
		h2up_nv_put(&nv[k++], n, nl, v, vl);
	}
	if (nv[0].valuelen == 0 ||
	    sl_h1_ieq((const char *)nv[0].value, nv[0].valuelen, "connect")) {
		if (nv != stack_nv)
			free(nv);
		return -1; /* no tunnel over an HTTP/2 upstream (yet) */
	}
	if (sl_h1_ieq((const char *)nv[0].value, nv[0].valuelen, "head"))
		st->f |= S_NOBODY;
	if (b->body == SL_H1_BODY_CHUNKED) {
		st->f |= S_REQ_CHUNK;
		*body = 1;
	} else if (b->body == SL_H1_BODY_LENGTH) {
		st->req_left = b->length;
		*body = b->length > 0;
	}
	*nvp = nv;
	return (long)k;
}

/*
 * The exchange's request head as HTTP/1.1 text, hl bytes at p (sluice wrote
 * it: a request line, "Name: value" lines, an empty line), as a split's or
 * a mirror's head comes. Returns the pairs as h2up_head_request does.
 */
static long
head_text(struct h2up_stream *st, char *p, size_t hl, nghttp2_nv *stack_nv,
	  size_t nstack, nghttp2_nv **nvp, int *body)
{
	char *end = p + hl - 2, *line, *eol, *sp1, *sp2;
	size_t max = 6, k = 4;
	nghttp2_nv *nv = stack_nv; /* a head's fields, most often on the
				      stack */

	*body = 0;
	for (size_t i = 0; i < hl; i++)
		max += p[i] == '\n';
	if ((eol = memchr(p, '\r', hl)) == NULL ||
	    (sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return -1;
	if (sl_h1_ieq(p, (size_t)(sp1 - p), "connect"))
		return -1; /* no tunnel over an HTTP/2 upstream (yet) */
	if (max > nstack && (nv = calloc(max, sizeof(*nv))) == NULL)
		return -1;
	if (sl_h1_ieq(p, (size_t)(sp1 - p), "head"))
		st->f |= S_NOBODY;
	h2up_nv_put(&nv[0], ":method", 7, p, (size_t)(sp1 - p));
	h2up_nv_put(&nv[2], ":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	h2up_nv_put(&nv[3], ":authority", 10, "", 0);
	for (line = eol + 2; line < end; line = eol + 2) {
		char *colon, *v, *ve;
		size_t nl;

		if ((eol = memchr(line, '\r', (size_t)(end - line + 1))) ==
			NULL ||
		    (colon = memchr(line, ':', (size_t)(eol - line))) == NULL) {
			if (nv != stack_nv)
				free(nv);
			return -1;
		}
		nl = (size_t)(colon - line);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');
		     ve--)
			;
		if (nl == 4 && sl_h1_ieq(line, nl, "host")) {
			h2up_nv_put(&nv[3], ":authority", 10, v,
				    (size_t)(ve - v));
			continue;
		}
		if (nl == 17 && sl_h1_ieq(line, nl, "transfer-encoding")) {
			st->f |= S_REQ_CHUNK;
			*body = 1;
		}
		if (req_field_dropped(line, nl))
			continue;
		if (nl == 14 && sl_h1_ieq(line, nl, "content-length")) {
			uint64_t n = 0;
			for (const char *d = v; d < ve; d++)
				n = n * 10 + (uint64_t)(*d - '0');
			st->req_left = n;
			*body = n > 0;
		}
		stream_field(st, line, nl, v, (size_t)(ve - v));
		h2up_nv_put(&nv[k++], line, nl, v, (size_t)(ve - v));
	}
	*nvp = nv;
	return (long)k;
}

long
h2up_head_request(struct h2up_stream *st, char *p, size_t hl, nghttp2_nv *stack,
		  size_t nstack, nghttp2_nv **nvp, int *body)
{
	struct sl_hblk b;

	if (hl > 0 && p[0] == SL_HBLK_MARK) {
		sl_hblk_head(p, &b);
		return head_block(st, p, &b, stack, nstack, nvp, body);
	}
	return head_text(st, p, hl, stack, nstack, nvp, body);
}

/* A field of the response's head as a record of its block, in hdr.
 * Returns 0, or -1 (no memory, or the 65,536th field). */
static int
head_rec(struct h2up_stream *st, const char *n, size_t nl, const char *v,
	 size_t vl)
{
	char lens[SL_HBLK_REC];

	if (st->nrec == UINT16_MAX)
		return -1;
	sl_hblk_rec_lens(lens, nl, vl);
	if (dbuf_put(&st->hdr, lens, sizeof(lens)) == -1 ||
	    dbuf_put(&st->hdr, n, nl) == -1 || dbuf_put(&st->hdr, v, vl) == -1)
		return -1;
	st->nrec++;
	return 0;
}

int
h2up_on_header(nghttp2_session *ng, const nghttp2_frame *frame,
	       const uint8_t *name, size_t namelen, const uint8_t *value,
	       size_t valuelen, uint8_t flags, void *ud)
{
	struct h2up_stream *st;

	(void)flags;
	(void)ud;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    (st = h2up_stream_of(ng, frame->hd.stream_id)) == NULL)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		int s = 0;
		for (size_t i = 0; i < valuelen; i++)
			s = s * 10 + (value[i] - '0');
		st->status = s;
		return 0;
	}
	if (namelen == 14 && memcmp(name, "content-length", 14) == 0 &&
	    !(st->f & S_RESP_HEAD)) {
		st->has_cl = 1;
		st->resp_cl = 0;
		for (size_t i = 0; i < valuelen; i++)
			st->resp_cl = st->resp_cl * 10 + (value[i] - '0');
	}
	if (namelen == 11 && (st->f & S_GRPC) && !(st->f & S_END_CLOSED) &&
	    memcmp(name, "grpc-status", 11) == 0) {
		/* for the exchange's metrics and log line: before the
		 * bytes that end the answer reach it */
		unsigned g = 0;
		for (size_t i = 0; i < valuelen && i < 4; i++)
			g = g * 10 +
			    (unsigned)(value[i] >= '0' && value[i] <= '9'
					   ? value[i] - '0'
					   : 99);
		sl_xprt_mem_set_note(st->end, (g > 16 ? 17 : g) + 1);
	}
	/* nghttp2 checked both (RFC 9113 section 8.2.1): a lower-case
	 * token, a value without CR, LF or NUL. A head's field is a record
	 * of its block (resp_headers), a trailer a line of the chunked
	 * body's trailer section (resp_end) */
	if (!(st->f & S_RESP_HEAD))
		return head_rec(st, (const char *)name, namelen,
				(const char *)value, valuelen) == -1
			   ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
			   : 0;
	if (dbuf_put(&st->hdr, name, namelen) == -1 ||
	    dbuf_put(&st->hdr, ": ", 2) == -1 ||
	    dbuf_put(&st->hdr, value, valuelen) == -1 ||
	    dbuf_put(&st->hdr, "\r\n", 2) == -1)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

/* The response ended (END_STREAM): the chunked body's end, with the
 * trailers gathered in hdr. */
int
h2up_resp_end(struct h2up_stream *st)
{
	if (st->f & S_RESP_CHUNK) {
		if (dbuf_str(&st->resp, "0\r\n") == -1 ||
		    dbuf_cat(&st->resp, &st->hdr) == -1 ||
		    dbuf_str(&st->resp, "\r\n") == -1)
			return -1;
	}
	dbuf_free(&st->hdr);
	st->f |= S_RESP_END;
	return 0;
}

/* A header block ended: the response's head, or its trailers. */
int
h2up_resp_headers(struct h2up_stream *st, int end_stream)
{
	struct sl_hblk b;
	int nobody;

	if (st->f & S_RESP_HEAD)
		return end_stream ? h2up_resp_end(st) : 0;
	if (st->status < 200) {
		/* interim (100, 103): not passed on */
		st->hdr.off = st->hdr.len = 0;
		st->has_cl = 0;
		st->nrec = 0;
		return 0;
	}
	/* the head as a block (hblock.h) the exchange reads without
	 * parsing: nghttp2 checked :status is three digits */
	sl_hblk_init(&b, st->status);
	nobody = (st->f & S_NOBODY) || st->status == 204 || st->status == 304;
	if (nobody)
		b.body = SL_H1_BODY_NONE;
	else if (st->has_cl) {
		b.body = SL_H1_BODY_LENGTH;
		b.length = st->resp_cl;
	} else if (end_stream) {
		/* a head that ends the stream (gRPC's trailers-only answer):
		 * a length of 0, which the client's codec ends with its
		 * HEADERS */
		if (head_rec(st, "content-length", 14, "0", 1) == -1)
			return -1;
		b.body = SL_H1_BODY_LENGTH;
	} else {
		/* DATA goes on as chunks, trailers as their trailer section */
		b.body = SL_H1_BODY_CHUNKED;
		st->f |= S_RESP_CHUNK;
	}
	b.nfields = st->nrec;
	b.len = (uint32_t)(sizeof(b) + dbuf_n(&st->hdr));
	if (dbuf_put(&st->resp, &b, sizeof(b)) == -1 ||
	    dbuf_cat(&st->resp, &st->hdr) == -1)
		return -1;
	st->hdr.off = st->hdr.len = 0;
	st->nrec = 0;
	st->f |= S_RESP_HEAD;
	if (end_stream)
		st->f |= S_RESP_END;
	return 0;
}
