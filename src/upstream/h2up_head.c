/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams: the translation of heads between the exchange's end
 * of a stream and HPACK (doc/http2.md section 10). A request head, a head
 * block or HTTP/1.1 text, HPACK-encoded for HEADERS (no table); a
 * response's fields, checked against RFC 9113 section 8 as the decoder
 * hands them over, into a head block for the exchange, and its trailers
 * into the chunked body's trailer section. Sends nothing and calls
 * nothing of h2up.c: the connection (h2up.c) sends the block and feeds
 * the fields.
 */
#include <stdlib.h>
#include <string.h>

#include "h2up_int.h"
#include "hblock.h"
#include "hpack.h"

/* The first byte of a name, lower-cased: the cases below compare it
 * before calling sl_h1_ieq_n, so that the usual fields (user-agent,
 * content-length, x-forwarded-proto, ...) make no call. */
#define FIRST(n) ((unsigned char)(n)[0] | 0x20)

/* Whether a request field stays out of HEADERS: HTTP/1.1's connection
 * fields (RFC 9113 section 8.2.2), Host (as :authority) and TE (added
 * back as "trailers" for gRPC). */
static int
req_field_dropped(const char *n, size_t len)
{
	switch (len) {
	case 2:
		return FIRST(n) == 't' && sl_h1_ieq(n, len, "te");
	case 4:
		return FIRST(n) == 'h' && sl_h1_ieq(n, len, "host");
	case 7:
		return FIRST(n) == 'u' && sl_h1_ieq(n, len, "upgrade");
	case 10:
		return (FIRST(n) == 'c' && sl_h1_ieq(n, len, "connection")) ||
		       (FIRST(n) == 'k' && sl_h1_ieq(n, len, "keep-alive"));
	case 14:
		return FIRST(n) == 'h' && sl_h1_ieq(n, len, "http2-settings");
	case 16:
		return FIRST(n) == 'p' && sl_h1_ieq(n, len, "proxy-connection");
	case 17:
		return FIRST(n) == 't' &&
		       sl_h1_ieq(n, len, "transfer-encoding");
	default:
		return 0;
	}
}

/* What a request field says of the stream: gRPC's content-type. */
static void
stream_field(struct h2up_stream *st, const char *n, size_t nl, const char *v,
	     size_t vl)
{
	if (nl == 12 && FIRST(n) == 'c' && sl_h1_ieq(n, nl, "content-type") &&
	    vl >= 16 && sl_h1_ieq(v, 16, "application/grpc"))
		st->f |= S_GRPC;
}

/* The names the thread's upstream streams sent before (hpack.h). */
static _Thread_local struct sl_hpack_memo names;

/* enc_field of a name past the memo's: lowered into a copy of its own. */
static int __attribute__((noinline))
enc_field_long(struct dbuf *blk, const char *n, size_t nl, const char *v,
	       size_t vl)
{
	char stack[128], *ln = stack;
	size_t max = SL_HPACK_ENC_MAX(nl, vl), k;
	uint8_t *p;

	if (nl > sizeof(stack) && (ln = malloc(nl)) == NULL)
		return -1;
	sl_hpack_lower(ln, n, nl);
	if ((p = dbuf_room(blk, max)) == NULL) {
		if (ln != stack)
			free(ln);
		return -1;
	}
	/* no Huffman coding: a few hundred bytes on the upstream's link
	 * save less than the CPU it costs (5,000 instructions a gRPC
	 * call, session 28's count) */
	k = sl_hpack_enc_field(p, max, ln, nl, v, vl, SL_HPACK_F_RAW);
	blk->len -= max - k;
	if (ln != stack)
		free(ln);
	return 0;
}

/* One field HPACK-encoded at blk's end, its name lower-cased (RFC 9113
 * section 8.2.1: the exchange's names keep the client's case): through
 * the memo, with room for its copies without a call. Returns 0, or -1
 * (no memory). */
static int
enc_field(struct dbuf *blk, const char *n, size_t nl, const char *v, size_t vl)
{
	size_t max = SL_HPACK_ENC_MAX(nl, vl);
	uint8_t *p;

	if (nl - 1 >= SL_HPACK_MEMO_NAME) /* 0 too */
		return enc_field_long(blk, n, nl, v, vl);
	if (max < SL_HPACK_MEMO_ROOM)
		max = SL_HPACK_MEMO_ROOM;
	if ((p = dbuf_room(blk, max)) == NULL)
		return -1;
	blk->len -= max - sl_hpack_enc_field_memo(&names, p, max, n, nl, v, vl,
						  SL_HPACK_F_RAW);
	return 0;
}

/* One pseudo-field at blk's end, its name by static index, without a
 * search (sl_hpack_enc_pseudo: :method POST and :scheme http are a byte
 * each). Returns 0, or -1 (no memory). */
static int
enc_pseudo_field(struct dbuf *blk, enum sl_hpack_pseudo name, const char *v,
		 size_t vl)
{
	size_t max = SL_HPACK_ENC_MAX(0, vl);
	uint8_t *p;

	if ((p = dbuf_room(blk, max)) == NULL)
		return -1;
	blk->len -=
	    max - sl_hpack_enc_pseudo(p, max, name, v, vl, SL_HPACK_F_RAW);
	return 0;
}

/* The pseudo-fields, in their order (RFC 9113 section 8.3.1): no
 * :authority when there is no Host. */
static int
enc_pseudo(struct dbuf *blk, const char *m, size_t ml, int tls,
	   const char *path, size_t pl, const char *auth, size_t al)
{
	if (enc_pseudo_field(blk, SL_HPACK_METHOD, m, ml) == -1 ||
	    enc_pseudo_field(blk, SL_HPACK_SCHEME, tls ? "https" : "http",
			     tls ? 5 : 4) == -1 ||
	    enc_pseudo_field(blk, SL_HPACK_PATH, path, pl) == -1)
		return -1;
	return al > 0 ? enc_pseudo_field(blk, SL_HPACK_AUTHORITY, auth, al) : 0;
}

/*
 * The exchange's request head as a head block (hblock.h, b its header):
 * its records are the fields, :method and :path first and :authority where
 * Host stood, the body's framing from the header; no text is parsed.
 */
static int
head_block(struct h2up_stream *st, const char *p, const struct sl_hblk *b,
	   int tls, struct dbuf *blk, int *body)
{
	const char *n, *v, *m = "", *path = "", *auth = "";
	size_t nl, vl, ml = 0, pl = 0, al = 0;
	struct sl_hblk_it it;

	*body = 0;
	/* the pseudo-fields first, wherever their records are */
	sl_hblk_first(&it, p);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		if (nl == 0 || n[0] != ':')
			continue;
		if (nl == 7)
			m = v, ml = vl;
		else if (nl == 5)
			path = v, pl = vl;
		else
			auth = v, al = vl;
	}
	if (ml == 0 || sl_h1_ieq(m, ml, "connect"))
		return -1; /* no tunnel over an HTTP/2 upstream (yet) */
	if (sl_h1_ieq(m, ml, "head"))
		st->f |= S_NOBODY;
	if (enc_pseudo(blk, m, ml, tls, path, pl, auth, al) == -1)
		return -1;
	sl_hblk_first(&it, p);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		if ((nl > 0 && n[0] == ':') || req_field_dropped(n, nl))
			continue;
		stream_field(st, n, nl, v, vl);
		if (enc_field(blk, n, nl, v, vl) == -1)
			return -1;
	}
	if (b->body == SL_H1_BODY_LENGTH) {
		st->req_left = b->length;
		*body = b->length > 0;
	} else if (b->body == SL_H1_BODY_STREAM) {
		/* pieces, to the exchange's end mark (sl_upstream_end_request)
		 */
		st->req_left = UINT64_MAX;
		*body = 1;
	}
	return 0;
}

/* The next "Name: value" line of a head's text at *line (before end): its
 * name and value (white space around it off). Returns 1, 0 at the end,
 * -1 for a line without a colon. */
static int
text_line(char **line, char *end, char **n, size_t *nl, char **v, size_t *vl)
{
	char *eol, *colon, *ve;

	if (*line >= end)
		return 0;
	if ((eol = memchr(*line, '\r', (size_t)(end - *line + 1))) == NULL ||
	    (colon = memchr(*line, ':', (size_t)(eol - *line))) == NULL)
		return -1;
	*n = *line;
	*nl = (size_t)(colon - *line);
	for (*v = colon + 1; *v < eol && (**v == ' ' || **v == '\t'); (*v)++)
		;
	for (ve = eol; ve > *v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
		;
	*vl = (size_t)(ve - *v);
	*line = eol + 2;
	return 1;
}

/*
 * The exchange's request head as HTTP/1.1 text, hl bytes at p (sluice wrote
 * it: a request line, "Name: value" lines, an empty line), as a split's or
 * a mirror's head comes.
 */
static int
head_text(struct h2up_stream *st, char *p, size_t hl, int tls, struct dbuf *blk,
	  int *body)
{
	char *end = p + hl - 2, *eol, *sp1, *sp2, *line, *n, *v;
	const char *auth = "";
	size_t nl, vl, al = 0;
	int r;

	*body = 0;
	if ((eol = memchr(p, '\r', hl)) == NULL ||
	    (sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return -1;
	if (sl_h1_ieq(p, (size_t)(sp1 - p), "connect"))
		return -1; /* no tunnel over an HTTP/2 upstream (yet) */
	if (sl_h1_ieq(p, (size_t)(sp1 - p), "head"))
		st->f |= S_NOBODY;
	/* Host, as :authority, goes with the pseudo-fields */
	for (line = eol + 2; (r = text_line(&line, end, &n, &nl, &v, &vl)) > 0;)
		if (nl == 4 && sl_h1_ieq(n, nl, "host"))
			auth = v, al = vl;
	if (r < 0 || enc_pseudo(blk, p, (size_t)(sp1 - p), tls, sp1 + 1,
				(size_t)(sp2 - sp1 - 1), auth, al) == -1)
		return -1;
	for (line = eol + 2;
	     (r = text_line(&line, end, &n, &nl, &v, &vl)) > 0;) {
		if (nl == 17 && sl_h1_ieq(n, nl, "transfer-encoding")) {
			/* the exchange's writer says chunked for a body of
			 * pieces, which it hands over as they are, the end a
			 * mark (sl_upstream_write_chunked) */
			st->req_left = UINT64_MAX;
			*body = 1;
		}
		if (req_field_dropped(n, nl))
			continue;
		if (nl == 14 && sl_h1_ieq(n, nl, "content-length")) {
			uint64_t x = 0;
			for (const char *d = v; d < v + vl; d++)
				x = x * 10 + (uint64_t)(*d - '0');
			st->req_left = x;
			*body = x > 0;
		}
		stream_field(st, n, nl, v, vl);
		if (enc_field(blk, n, nl, v, vl) == -1)
			return -1;
	}
	return r < 0 ? -1 : 0;
}

int
h2up_head_request(struct h2up_stream *st, char *p, size_t hl, int tls,
		  struct dbuf *blk, int *body)
{
	struct sl_hblk b;
	int r;

	if (hl > 0 && p[0] == SL_HBLK_MARK) {
		sl_hblk_head(p, &b);
		r = head_block(st, p, &b, tls, blk, body);
	} else
		r = head_text(st, p, hl, tls, blk, body);
	if (r == 0 && (st->f & S_GRPC))
		r = enc_field(blk, "te", 2, "trailers", 8);
	return r;
}

int
h2up_head_trailers(const char *block, struct dbuf *blk)
{
	const char *n, *v;
	size_t nl, vl;
	struct sl_hblk_it it;

	sl_hblk_first(&it, block);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl))
		if (!req_field_dropped(n, nl) &&
		    enc_field(blk, n, nl, v, vl) == -1)
			return -1;
	return 0;
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

/* The response is malformed (RFC 9113 section 8.1.1): the stream is
 * reset once its block is read. Returns 1 (the rest refused). */
static int
bad(struct h2up_stream *st, const char *why)
{
	st->f |= S_BAD;
	if (st->bad == NULL)
		st->bad = why;
	return 1;
}

/* A response field that RFC 9113 section 8.2.2 forbids. */
static int
resp_forbidden(const char *n, size_t nl, const char *v, size_t vl)
{
	if (nl == 2 && memcmp(n, "te", 2) == 0)
		return !(vl == 8 && memcmp(v, "trailers", 8) == 0);
	return (nl == 7 && memcmp(n, "upgrade", 7) == 0) ||
	       (nl == 10 && (memcmp(n, "connection", 10) == 0 ||
			     memcmp(n, "keep-alive", 10) == 0)) ||
	       (nl == 16 && memcmp(n, "proxy-connection", 16) == 0) ||
	       (nl == 17 && memcmp(n, "transfer-encoding", 17) == 0);
}

int
h2up_on_field(void *arg, struct sl_h2c_stream *hs, const char *name,
	      size_t namelen, const char *value, size_t valuelen,
	      unsigned flags)
{
	struct h2up_stream *st = H2UP_STREAM_OF(hs);

	(void)arg;
	(void)flags;
	if (st->f & S_BAD)
		return 1;
	if (namelen > 0 && name[0] == ':') {
		int s = 0;
		/* one :status of three digits, in a head (the decoder put
		 * pseudo-fields first) */
		if ((st->f & S_RESP_HEAD) || namelen != 7 ||
		    memcmp(name, ":status", 7) != 0 || st->status != 0)
			return bad(st, "a pseudo-field a response may not "
				       "carry");
		if (valuelen != 3)
			return bad(st, "a :status of other than 3 digits");
		for (size_t i = 0; i < 3; i++) {
			if (value[i] < '0' || value[i] > '9')
				return bad(st, "a :status of other than 3 "
					       "digits");
			s = s * 10 + (value[i] - '0');
		}
		if (s < 100)
			return bad(st, "a :status under 100");
		st->status = s;
		return 0;
	}
	if (!(st->f & S_RESP_HEAD) && st->status == 0)
		return bad(st, "no :status");
	if (resp_forbidden(name, namelen, value, valuelen))
		return bad(st, "a connection-specific field");
	if (namelen == 14 && memcmp(name, "content-length", 14) == 0 &&
	    !(st->f & S_RESP_HEAD)) {
		uint64_t x = 0;
		if (st->has_cl || valuelen == 0 || valuelen > 19)
			return bad(st, "a bad content-length");
		for (size_t i = 0; i < valuelen; i++) {
			if (value[i] < '0' || value[i] > '9')
				return bad(st, "a bad content-length");
			x = x * 10 + (uint64_t)(value[i] - '0');
		}
		st->has_cl = 1;
		st->resp_cl = x;
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
		st->note = (uint8_t)((g > 16 ? 17 : g) + 1);
	}
	/* the decoder checked both (RFC 9113 section 8.2.1): a lower-case
	 * token, a value without CR, LF or NUL. A head's field is a record
	 * of its block (resp_headers); a trailer a record of the trailers'
	 * block (its header reserved before the first, filled at
	 * resp_end) */
	if (!(st->f & S_RESP_HEAD))
		return head_rec(st, name, namelen, value, valuelen) == -1
			   ? bad(st, "no memory for the head")
			   : 0;
	if (dbuf_n(&st->hdr) == 0 &&
	    dbuf_room(&st->hdr, sizeof(struct sl_hblk)) == NULL)
		return bad(st, "no memory for the trailers");
	return head_rec(st, name, namelen, value, valuelen) == -1
		   ? bad(st, "no memory for the trailers")
		   : 0;
}

/* The response ended (END_STREAM): its trailers gathered in hdr, a
 * field block kept for the exchange. */
int
h2up_resp_end(struct h2up_stream *st)
{
	if (dbuf_n(&st->hdr) > 0) {
		/* the trailers' block, kept for the exchange
		 * (sl_upstream_trailers) */
		struct sl_hblk b;
		sl_hblk_init(&b, 0);
		b.nfields = st->nrec;
		b.len = (uint32_t)dbuf_n(&st->hdr);
		b.flags = SL_HBLK_F_ENDED;
		memcpy(st->hdr.p + st->hdr.off, &b, sizeof(b));
		st->f |= S_RESP_END;
		return 0;
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

	nobody = (st->f & S_NOBODY) || st->status == 204 || st->status == 304;
	if (st->f & S_RESP_HEAD) {
		/* trailers: the body's end, whose length must be the one
		 * its head said (RFC 9113 section 8.1.1) */
		if (end_stream && st->has_cl && !nobody &&
		    st->resp_in != st->resp_cl) {
			bad(st, "a body other than its content-length");
			return -1;
		}
		return end_stream ? h2up_resp_end(st) : 0;
	}
	if (st->status == 0) {
		bad(st, "no :status");
		return -1;
	}
	/* RFC 9110 sections 8.6 and 15.2: a 1xx or 204 has no body to
	 * frame (the HTTP/1.1 reader refuses the same head) */
	if ((st->status < 200 || st->status == 204) && st->has_cl &&
	    st->resp_cl != 0) {
		bad(st, "a content-length on a 1xx or 204");
		return -1;
	}
	if (st->status < 200) {
		/* an interim head does not end a stream (RFC 9113 section
		 * 8.1): the final one would never come */
		if (end_stream) {
			bad(st, "an interim head that ends the stream");
			return -1;
		}
		/* interim (100, 103): not passed on */
		st->hdr.off = st->hdr.len = 0;
		st->has_cl = 0;
		st->nrec = 0;
		st->status = 0; /* the final head's comes */
		return 0;
	}
	/* a head that ends the stream ends its body: none, where its
	 * content-length says some (RFC 9113 section 8.1.1) */
	if (end_stream && st->has_cl && !nobody && st->resp_cl != 0) {
		bad(st, "a body other than its content-length");
		return -1;
	}
	/* the head as a block (hblock.h) the exchange reads without
	 * parsing: :status is three digits (h2up_on_field) */
	sl_hblk_init(&b, st->status);
	if (nobody)
		b.body = SL_H1_BODY_NONE;
	else if (st->has_cl) {
		b.body = SL_H1_BODY_LENGTH;
		b.length = st->resp_cl;
	} else if (end_stream) {
		/* a head that ends the stream (gRPC's trailers-only answer):
		 * a length of 0, which an HTTP/2 client's codec ends with its
		 * HEADERS; no field for it, which the answer passes without
		 * (an HTTP/1.1 client's text gets one: SL_HBLK_F_ENDED) */
		b.body = SL_H1_BODY_LENGTH;
		b.flags |= SL_HBLK_F_ENDED;
	} else {
		/* DATA goes on as it came, the stream's end is the body's,
		 * trailers a block of their own: the chunked coding is the
		 * HTTP/1.1 writer's, for a client of text */
		b.body = SL_H1_BODY_STREAM;
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
