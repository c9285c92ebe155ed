/* SPDX-License-Identifier: MIT */
/*
 * Header rewriting between client and upstream, and the gateway's own
 * responses. Pure: no I/O, writes only into the buffers it is given.
 */
#include "h1_msg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hblock.h"
#include "util.h"

/* Bounded appender: once full it stays full and the result is -1. A
 * response head is written as HTTP/1.1 text, or as a head block
 * (hblock.h) for a codec that takes fields; the writers take which as a
 * parameter (blk), a constant in each of their two callers, so that the
 * text writers compile as they did before blocks. */
struct out {
	char *p;
	size_t cap;
	size_t len;
	int overflow;
	struct blk *b; /* a block's header fields; NULL for text */
};

/* What a block's header will say, known as it is written. */
struct blk {
	uint16_t nfields; /* records written */
	uint16_t status;
	uint8_t body;	 /* enum sl_h1_body of what follows the block */
	uint8_t flags;	 /* SL_HBLK_F_* */
	uint64_t length; /* SL_H1_BODY_LENGTH's bytes */
};

static SL_INLINE void
put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || o->cap - o->len < n) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* Inlined, so that a literal's length is the compiler's and its copy a
 * few moves. */
static SL_INLINE void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A field as a head block's record. */
static void
put_rec(struct out *o, const char *n, size_t nlen, const char *v, size_t vlen)
{
	if (o->overflow || nlen > UINT16_MAX || vlen > UINT32_MAX ||
	    o->b->nfields == UINT16_MAX ||
	    o->cap - o->len < SL_HBLK_REC_SIZE(nlen, vlen)) {
		o->overflow = 1;
		return;
	}
	o->len += sl_hblk_put(o->p + o->len, n, nlen, v, vlen);
	o->b->nfields++;
}

/* "Name: value" CRLF, with one test of the room. */
static void
put_header_text(struct out *o, const struct sl_h1_header *h)
{
	size_t n = h->name_len + h->value_len + 4;
	char *p;

	if (o->overflow || o->cap - o->len < n) {
		o->overflow = 1;
		return;
	}
	p = o->p + o->len;
	sl_copy_short(p, h->name, h->name_len);
	p += h->name_len;
	p[0] = ':';
	p[1] = ' ';
	sl_copy_short(p + 2, h->value, h->value_len);
	p += 2 + h->value_len;
	p[0] = '\r';
	p[1] = '\n';
	o->len += n;
}

/* A field as text or as a record: blk is a constant once the writer is
 * inlined into its caller. */
static SL_INLINE void
put_header(struct out *o, int blk, const struct sl_h1_header *h)
{
	if (blk)
		put_rec(o, h->name, h->name_len, h->value, h->value_len);
	else
		put_header_text(o, h);
}

/* The value between *v and *e without the white space around it (a rule's
 * value may end in a blank where a variable after it expanded empty): a
 * field line's is OWS, and RFC 9113 section 8.2.1 makes a value that
 * begins or ends in one malformed. */
static void
ows_trim(const char **v, const char **e)
{
	while (*v < *e && (**v == ' ' || **v == '\t'))
		(*v)++;
	while (*e > *v && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/*
 * The first of sluice's own field lines ("Name: value" CRLF) at s, n
 * bytes: *nl the name's length, *v and *vl the value without the white
 * space around it. Returns the line's length with its CRLF, or 0 when it
 * is not one (never: the lines are sluice's).
 */
static size_t
line_split(const char *s, size_t n, size_t *nl, const char **v, size_t *vl)
{
	const char *colon = memchr(s, ':', n), *eol = memchr(s, '\r', n);
	const char *ve;

	if (colon == NULL || eol == NULL || colon > eol ||
	    colon - s > UINT16_MAX)
		return 0;
	*v = colon + 1;
	ve = eol;
	ows_trim(v, &ve);
	*nl = (size_t)(colon - s);
	*vl = (size_t)(ve - *v);
	return (size_t)(eol - s) + 2;
}

/* Field lines of sluice's own ("Name: value" CRLF each, well formed) as
 * records. */
static void
put_lines_rec(struct out *o, const char *s, size_t len)
{
	const char *end = s + len, *v;

	while (s < end) {
		size_t nl, vl,
		    line = line_split(s, (size_t)(end - s), &nl, &v, &vl);
		if (line == 0) {
			o->overflow = 1;
			return;
		}
		put_rec(o, s, nl, v, vl);
		s += line;
	}
}

/* Field lines of sluice's own, as they are or as records. */
static SL_INLINE void
put_lines(struct out *o, int blk, const char *s)
{
	if (blk)
		put_lines_rec(o, s, strlen(s));
	else
		puts_(o, s);
}

/* The rules' fields as records: their text written far enough ahead
 * (2 bytes a field, what a record takes more than its line) that each
 * record, made in order, ends before its line's end. */
static void
put_rules_rec(struct out *o, const struct sl_hdr_apply *a,
	      const struct sl_hdr_vars *vars, int own)
{
	size_t ahead = 2 * a->nfields, at = o->len + ahead, room;
	char *text;
	long n;

	if (o->cap - o->len < ahead) {
		o->overflow = 1;
		return;
	}
	room = o->cap - at;
	text = o->p + at;
	if ((n = sl_hdr_write(text, room, a, vars, own)) < 0) {
		o->overflow = 1;
		return;
	}
	/* a record never overtakes the lines still to read: memmove */
	while (n > 0 && !o->overflow) {
		size_t nl, vl, line;
		const char *v;

		line = line_split(text, (size_t)n, &nl, &v, &vl);
		if (line == 0 || o->b->nfields == UINT16_MAX) {
			o->overflow = 1;
			return;
		}
		/* the line is g bytes ahead of its record (g >= 2): the name
		 * moves by 6 - g, the value by 4 - g. Ahead by less than 6,
		 * the name moves up: the value first, so that it is not
		 * written over; else the name first */
		if (text - (o->p + o->len) < SL_HBLK_REC) {
			memmove(o->p + o->len + SL_HBLK_REC + nl, v, vl);
			memmove(o->p + o->len + SL_HBLK_REC, text, nl);
		} else {
			memmove(o->p + o->len + SL_HBLK_REC, text, nl);
			memmove(o->p + o->len + SL_HBLK_REC + nl, v, vl);
		}
		/* last: the lengths' bytes may have held the line's */
		sl_hblk_rec_lens(o->p + o->len, nl, vl);
		o->len += SL_HBLK_REC_SIZE(nl, vl);
		o->b->nfields++;
		text += line;
		n -= (long)line;
	}
}

/* The fields header rules set or add (own: on sluice's own answer). */
static SL_INLINE void
put_rules(struct out *o, int blk, const struct sl_hdr_apply *a,
	  const struct sl_hdr_vars *vars, int own)
{
	long n;

	if (o->overflow)
		return;
	if (blk) {
		put_rules_rec(o, a, vars, own);
		return;
	}
	if ((n = sl_hdr_write(o->p + o->len, o->cap - o->len, a, vars, own)) <
	    0)
		o->overflow = 1;
	else
		o->len += (size_t)n;
}

/* A head block's header, its status known; finish() completes it. */
static void
blk_start(struct out *o, int status)
{
	o->b->status = (uint16_t)status;
	if (o->overflow || o->cap - o->len < sizeof(struct sl_hblk)) {
		o->overflow = 1;
		return;
	}
	o->len += sizeof(struct sl_hblk);
}

/* The block's header, at its start, once its fields are written. */
static long
blk_finish(struct out *o)
{
	struct sl_hblk h;

	if (o->overflow)
		return -1;
	sl_hblk_init(&h, o->b->status);
	h.len = (uint32_t)o->len;
	h.nfields = o->b->nfields;
	h.body = o->b->body;
	h.flags = o->b->flags;
	h.length = o->b->length;
	memcpy(o->p, &h, sizeof(h));
	return (long)o->len;
}

static SL_INLINE long
finish(struct out *o, int blk)
{
	if (blk)
		return blk_finish(o);
	return o->overflow ? -1 : (long)o->len;
}

/* 1 when the comma list v[0..n) names name (case-insensitive). */
static int
list_has(const char *v, size_t n, const char *name, size_t name_len)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == name_len) {
			size_t k;
			for (k = 0; k < name_len; k++) {
				unsigned char a = (unsigned char)v[start + k];
				unsigned char b = (unsigned char)name[k];
				if (a >= 'A' && a <= 'Z')
					a += 32;
				if (b >= 'A' && b <= 'Z')
					b += 32;
				if (a != b)
					break;
			}
			if (k == name_len)
				return 1;
		}
	}
	return 0;
}

static int
hop_by_hop(const struct sl_h1_header *h, enum sl_h1_hk k,
	   const struct sl_h1_header *hdrs, size_t n, unsigned flags)
{
	if (k == SL_HK_HOP || k == SL_HK_KEEP_ALIVE || k == SL_HK_CONNECTION)
		return 1;
	if (!(flags & SL_H1_F_CONN_OTHER))
		return 0;
	/* Connection may not take away the fields that frame the message
	 * or name its target: the gateway frames by them, so the next hop
	 * must see them too, or the two would disagree on where a message
	 * ends (request smuggling, response splitting) */
	if (k == SL_HK_CONTENT_LENGTH || k == SL_HK_TRANSFER_ENCODING ||
	    k == SL_HK_HOST)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (sl_h1_hkind(&hdrs[i]) == SL_HK_CONNECTION &&
		    list_has(hdrs[i].value, hdrs[i].value_len, h->name,
			     h->name_len))
			return 1;
	return 0;
}

int
sl_h1_is_hop_by_hop(const struct sl_h1_header *h,
		    const struct sl_h1_header *hdrs, size_t n, unsigned flags)
{
	return hop_by_hop(h, sl_h1_hkind(h), hdrs, n, flags);
}

int
sl_h1_request_id_ok(const char *v, size_t n)
{
	if (n == 0 || n > SL_REQUEST_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

int
sl_h1_client_request_id(const struct sl_h1_request *req, char *out)
{
	const struct sl_h1_header *found = NULL;

	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		if (sl_h1_hkind(h) != SL_HK_X_REQUEST_ID)
			continue;
		if (found != NULL)
			return 0; /* two ids: trust neither */
		found = h;
	}
	if (found == NULL ||
	    !sl_h1_request_id_ok(found->value, found->value_len))
		return 0;
	memcpy(out, found->value, found->value_len);
	out[found->value_len] = '\0';
	return 1;
}

/* A record whose value is written after it by put(): its header with
 * the name, then rec_close() once the value is whole. at is where the
 * record begins. */
static void
rec_open(struct out *o, const char *n, size_t nlen)
{
	if (o->overflow || o->b->nfields == UINT16_MAX ||
	    o->cap - o->len < SL_HBLK_REC + nlen) {
		o->overflow = 1;
		return;
	}
	sl_hblk_rec_lens(o->p + o->len, nlen, 0);
	memcpy(o->p + o->len + SL_HBLK_REC, n, nlen);
	o->len += SL_HBLK_REC + nlen;
	o->b->nfields++;
}

static void
rec_close(struct out *o, size_t at, size_t nlen)
{
	if (!o->overflow)
		sl_hblk_rec_lens(o->p + at, nlen,
				 o->len - at - SL_HBLK_REC - nlen);
}

/*
 * "X-Forwarded-For: " with the values of the request's X-Forwarded-For
 * fields from headers[first] on, as one list, then the client: all of
 * them (SL_FWD_APPEND), or those before the client's element
 * (SL_FWD_CUT: the trusted proxies right of it are dropped, the client
 * is not named twice). A line, or a record when blk.
 */
static SL_INLINE void
put_xff(struct out *o, int blk, const struct sl_h1_request *req, size_t first,
	const struct sl_fwd *fwd)
{
	size_t at = o->len;

	if (blk)
		rec_open(o, "X-Forwarded-For", 15);
	else
		puts_(o, "X-Forwarded-For: ");
	for (size_t j = first; j < req->nheaders; j++) {
		const struct sl_h1_header *x = &req->headers[j];
		size_t len = x->value_len;

		if (sl_h1_hkind(x) != SL_HK_X_FORWARDED_FOR)
			continue;
		if (fwd->xff == SL_FWD_CUT) {
			if (j > fwd->cut_hdr)
				break;
			if (j == fwd->cut_hdr) {
				/* up to the client's element, without the
				 * comma and spaces before it */
				len = fwd->cut_off;
				while (len > 0 && (x->value[len - 1] == ' ' ||
						   x->value[len - 1] == '\t' ||
						   x->value[len - 1] == ','))
					len--;
			}
		}
		if (len == 0)
			continue;
		put(o, x->value, len);
		puts_(o, ", ");
	}
	puts_(o, fwd->client_ip);
	if (blk)
		rec_close(o, at, 15);
	else
		puts_(o, "\r\n");
}

/* Whether the client's field h is one an edge check sets or removes. */
static int
extra_drops(const struct sl_fwd_extra *x, const struct sl_h1_header *h)
{
	for (unsigned i = 0; i < x->ndrop; i++)
		if (h->name_len == x->drop[i].len &&
		    strncasecmp(h->name, x->drop[i].name, h->name_len) == 0)
			return 1;
	return 0;
}

/* The fields an edge check sets, after sluice's own: as records (blk),
 * or as text lines each after a CRLF (the text's last line has none
 * yet). Out of line: most requests have none. */
static __attribute__((noinline)) void
put_extra(struct out *o, int blk, const struct sl_fwd *fwd)
{
	const struct sl_fwd_extra *x = fwd->extra;

	for (unsigned i = 0; i < x->nset; i++) {
		if (blk) {
			size_t at = o->len + SL_HBLK_REC + x->set[i].nlen;
			put_rec(o, x->set[i].name, x->set[i].nlen,
				x->set[i].value, x->set[i].vlen);
			if (x->set[i].value == fwd->mark && !o->overflow)
				*fwd->mark_at = (uint32_t)at;
			continue;
		}
		/* CRLF "Name: value", with one test of the room */
		size_t nl = x->set[i].nlen, vl = x->set[i].vlen;
		char *p;
		if (o->overflow || o->cap - o->len < nl + vl + 4) {
			o->overflow = 1;
			return;
		}
		p = o->p + o->len;
		p[0] = '\r';
		p[1] = '\n';
		sl_copy_short(p + 2, x->set[i].name, nl);
		p[2 + nl] = ':';
		p[3 + nl] = ' ';
		if (x->set[i].value == fwd->mark)
			*fwd->mark_at = (uint32_t)(o->len + nl + 4);
		sl_copy_short(p + 4 + nl, x->set[i].value, vl);
		o->len += nl + vl + 4;
	}
}

/* The request head for the upstream, as text or (blk) as a block: its
 * request line as :method and :path, Host as :authority, its body's
 * framing in the header (no Transfer-Encoding), nothing of an upgrade
 * (no HTTP/2 upstream tunnels). */
static SL_INLINE long
request_head(struct out *o, int blk, const struct sl_h1_request *req,
	     const struct sl_fwd *fwd)
{
	/* locals: the writes through out could alias fwd's fields */
	const struct sl_hdr_apply *rules = fwd->rules;
	/* the lengths of the names a rule or an edge check drops: one test
	 * a field when there are none */
	uint64_t drop_lens =
	    (rules != NULL ? rules->drop_lens : 0) | fwd->extra_lens;
	int xff_done = 0;

	if (blk) {
		blk_start(o, 0);
		put_rec(o, ":method", 7, req->method, req->method_len);
		put_rec(o, ":path", 5, req->path, req->path_len);
		if (req->flags & SL_H1_F_ABSOLUTE_FORM)
			put_rec(o, ":authority", 10, req->host, req->host_len);
		else if (req->host == NULL)
			put_rec(o, ":authority", 10, fwd->default_host,
				strlen(fwd->default_host));
	} else {
		put(o, req->method, req->method_len);
		put(o, " ", 1);
		put(o, req->path, req->path_len);
		puts_(o, " HTTP/1.1\r\n");
		if (req->flags & SL_H1_F_ABSOLUTE_FORM) {
			puts_(o, "Host: ");
			put(o, req->host, req->host_len);
			puts_(o, "\r\n");
		} else if (req->host == NULL) {
			/* an HTTP/1.0 request without Host: HTTP/1.1 to the
			 * upstream needs one (RFC 9112 section 3.2) */
			puts_(o, "Host: ");
			puts_(o, fwd->default_host);
			puts_(o, "\r\n");
		}
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sl_h1_header *h = &req->headers[i];
		enum sl_h1_hk k = sl_h1_hkind(h);

		if (hop_by_hop(h, k, req->headers, req->nheaders, req->flags))
			continue;
		if (k == SL_HK_EXPECT || k == SL_HK_X_REQUEST_ID ||
		    k == SL_HK_X_FORWARDED_PROTO)
			continue;
		/* trailers go on with a chunked body only (or one of
		 * pieces, which the text goes chunked for) */
		if (k == SL_HK_TRAILER && req->body != SL_H1_BODY_CHUNKED &&
		    req->body != SL_H1_BODY_STREAM)
			continue;
		if (fwd->subject_header != NULL &&
		    h->name_len == strlen(fwd->subject_header) &&
		    strncasecmp(h->name, fwd->subject_header, h->name_len) == 0)
			continue; /* only a verified certificate sets it */
		if ((req->flags & SL_H1_F_ABSOLUTE_FORM) && k == SL_HK_HOST)
			continue;
		/* removed or replaced by a rule (none names the fields
		 * above or below: refused at load), or set by an edge check
		 * alone (a verified token's claims) */
		if ((drop_lens & ((uint64_t)1 << (h->name_len & 63))) &&
		    ((rules != NULL &&
		      sl_hdr_drops(rules, h->name, h->name_len)) ||
		     (fwd->extra != NULL && extra_drops(fwd->extra, h))))
			continue;
		if (k == SL_HK_X_FORWARDED_FOR) {
			/* all X-Forwarded-For fields become one list, in
			 * order, with the client appended */
			if (xff_done || fwd->xff == SL_FWD_STRIP)
				continue;
			xff_done = 1;
			put_xff(o, blk, req, i, fwd);
			continue;
		}
		if (k == SL_HK_FORWARDED && fwd->xff == SL_FWD_STRIP)
			continue;
		if (blk && k == SL_HK_HOST) {
			put_rec(o, ":authority", 10, h->value, h->value_len);
			continue;
		}
		/* the block's framing, or the writer's (pieces go chunked:
		 * below) */
		if ((blk || req->body == SL_H1_BODY_STREAM) &&
		    k == SL_HK_TRANSFER_ENCODING)
			continue;
		put_header(o, blk, h);
	}
	if (blk) {
		if (!xff_done)
			put_rec(o, "X-Forwarded-For", 15, fwd->client_ip,
				strlen(fwd->client_ip));
		put_rec(o, "X-Forwarded-Proto", 17, fwd->proto,
			strlen(fwd->proto));
		put_rec(o, "X-Request-Id", 12, fwd->request_id,
			strlen(fwd->request_id));
		if (fwd->subject_header != NULL && fwd->subject != NULL)
			put_rec(o, fwd->subject_header,
				strlen(fwd->subject_header), fwd->subject,
				strlen(fwd->subject));
		if (fwd->extra != NULL)
			put_extra(o, 1, fwd);
		if (rules != NULL)
			put_rules(o, 1, rules, fwd->vars, 0);
		o->b->body = (uint8_t)req->body;
		o->b->length = req->content_length;
		return finish(o, 1);
	}
	/* a body of pieces (an HTTP/2 request of no length) goes chunked,
	 * its framing field where a client's would stand: the writer frames
	 * it (sl_h1_chunk_size_line, sl_h1_last_chunk) */
	if (req->body == SL_H1_BODY_STREAM)
		puts_(o, "Transfer-Encoding: chunked\r\n");
	if (!xff_done) {
		puts_(o, "X-Forwarded-For: ");
		puts_(o, fwd->client_ip);
		puts_(o, "\r\n");
	}
	puts_(o, "X-Forwarded-Proto: ");
	puts_(o, fwd->proto);
	puts_(o, "\r\nX-Request-Id: ");
	puts_(o, fwd->request_id);
	if (fwd->upgrade != NULL) {
		puts_(o, "\r\nConnection: upgrade\r\nUpgrade: ");
		puts_(o, fwd->upgrade);
	}
	if (fwd->subject_header != NULL && fwd->subject != NULL) {
		puts_(o, "\r\n");
		puts_(o, fwd->subject_header);
		puts_(o, ": ");
		puts_(o, fwd->subject);
	}
	if (fwd->extra != NULL)
		put_extra(o, 0, fwd);
	if (rules != NULL) {
		put(o, "\r\n", 2);
		put_rules(o, 0, rules, fwd->vars, 0);
		put(o, "\r\n", 2);
	} else
		put(o, "\r\n\r\n", 4);
	return finish(o, 0);
}

long
sl_h1_write_request_head(char *out, size_t cap, const struct sl_h1_request *req,
			 const struct sl_fwd *fwd)
{
	struct out o = {.p = out, .cap = cap};

	return request_head(&o, 0, req, fwd);
}

long
sl_h1_block_request_head(char *out, size_t cap, const struct sl_h1_request *req,
			 const struct sl_fwd *fwd)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	return request_head(&o, 1, req, fwd);
}

long
sl_h1_status_line(char *out, size_t cap, int status, const char *reason,
		  size_t reason_len)
{
	struct out o = {.p = out, .cap = cap};
	char line[14] = "HTTP/1.1 000 ";

	line[9] = (char)('0' + status / 100 % 10);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	put(&o, line, 13);
	put(&o, reason, reason_len);
	puts_(&o, "\r\n");
	return finish(&o, 0);
}

size_t
sl_h1_chunk_size_line(char *out, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t k = 0, i = 0;

	do {
		tmp[k++] = hex[n & 15];
		n >>= 4;
	} while (n > 0);
	while (k > 0)
		out[i++] = tmp[--k];
	out[i++] = '\r';
	out[i++] = '\n';
	return i;
}

size_t
sl_h1_last_chunk_len(const char *trailers)
{
	struct sl_hblk_it it;
	const char *n, *v;
	size_t nl, vl, len = 5; /* "0" CRLF, the section's CRLF */

	if (trailers == NULL)
		return len;
	sl_hblk_first(&it, trailers);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl))
		len += nl + 2 + vl + 2;
	return len;
}

size_t
sl_h1_last_chunk(char *out, const char *trailers)
{
	struct sl_hblk_it it;
	const char *n, *v;
	size_t nl, vl, i = 3;

	memcpy(out, "0\r\n", 3);
	if (trailers != NULL) {
		sl_hblk_first(&it, trailers);
		while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
			memcpy(out + i, n, nl);
			memcpy(out + i + nl, ": ", 2);
			memcpy(out + i + nl + 2, v, vl);
			memcpy(out + i + nl + 2 + vl, "\r\n", 2);
			i += nl + 2 + vl + 2;
		}
	}
	memcpy(out + i, "\r\n", 2);
	return i + 2;
}

/* Queues the body's end at *where: last, or the chunker's own "0" CRLF
 * CRLF at at. */
static void
chunker_last(struct sl_h1_chunker *ck, char *at, const char *last,
	     size_t last_len, const char **where, uint32_t *len)
{
	if (last == NULL) {
		memcpy(at, "0\r\n\r\n", 5);
		last = at;
		last_len = 5;
	}
	*where = last;
	*len = (uint32_t)last_len;
	ck->last_queued = 1;
}

int
sl_h1_chunker_iov(struct sl_h1_chunker *ck, const char *p, size_t n, int end,
		  const char *last, size_t last_len, struct iovec *iov)
{
	int niov = 0;
	size_t b;

	if (!sl_h1_chunker_open(ck) && n > 0) {
		ck->left = n;
		ck->tail = 2;
		ck->fx_len = (uint32_t)sl_h1_chunk_size_line(ck->line, n);
		ck->fx = ck->line;
	} else if (!sl_h1_chunker_open(ck) && end && !ck->last_queued)
		chunker_last(ck, ck->line, last, last_len, &ck->fx,
			     &ck->fx_len);
	b = (size_t)SL_MIN((uint64_t)n, ck->left);
	/* the last chunk right after the rest of the open one, when that
	 * is all the payload (its size line is 18 bytes at most) */
	if (end && !ck->last_queued && (ck->left > 0 || ck->tail > 0) &&
	    n == ck->left)
		chunker_last(ck, ck->line + 18, last, last_len, &ck->lx,
			     &ck->lx_len);
	ck->offered = b;
	if (ck->fx_len > 0)
		iov[niov++] = (struct iovec){(char *)ck->fx, ck->fx_len};
	if (b > 0)
		iov[niov++] = (struct iovec){(char *)p, b};
	/* the CRLF only after the whole of the chunk's payload */
	if (ck->tail > 0 && b == ck->left)
		iov[niov++] =
		    (struct iovec){(char *)"\r\n" + 2 - ck->tail, ck->tail};
	if (ck->lx_len > 0 && b == ck->left)
		iov[niov++] = (struct iovec){(char *)ck->lx, ck->lx_len};
	return niov;
}

size_t
sl_h1_chunker_sent(struct sl_h1_chunker *ck, size_t w, int *ended)
{
	size_t k, took;

	*ended = 0;
	/* fx and lx are NULL until framing is queued there: no offset to
	 * them then (undefined even when 0) */
	if ((k = SL_MIN(w, (size_t)ck->fx_len)) > 0) {
		ck->fx += k;
		ck->fx_len -= (uint32_t)k;
		w -= k;
	}
	took = (size_t)SL_MIN((uint64_t)w, ck->offered);
	ck->left -= took;
	ck->offered = 0;
	w -= took;
	k = SL_MIN(w, (size_t)ck->tail);
	ck->tail -= (uint8_t)k;
	w -= k;
	if ((k = SL_MIN(w, (size_t)ck->lx_len)) > 0) {
		ck->lx += k;
		ck->lx_len -= (uint32_t)k;
	}
	if (ck->last_queued && !sl_h1_chunker_open(ck)) {
		/* all of it went: the next body starts afresh */
		memset(ck, 0, sizeof(*ck));
		*ended = 1;
	}
	return took;
}

/* "HTTP/1.1 NNN reason" CRLF: sluice speaks HTTP/1.1 to every client (the
 * parser guarantees three digits); a block's header. */
static SL_INLINE void
put_status_line(struct out *o, int blk, const struct sl_h1_response *resp)
{
	long n;

	if (blk) {
		blk_start(o, resp->status);
		return;
	}
	n = sl_h1_status_line(o->p + o->len, o->overflow ? 0 : o->cap - o->len,
			      resp->status, resp->reason, resp->reason_len);
	if (n < 0)
		o->overflow = 1;
	else
		o->len += (size_t)n;
}

/* The response head for the client, as text or (blk) as a block. In a
 * block the body's framing is the header's, so Transfer-Encoding and the
 * connection's fields are not written. */
static SL_INLINE long
response_head(struct out *o, int blk, const struct sl_h1_response *resp,
	      int client_minor, int close, int dechunk, const char *request_id,
	      const struct sl_h1_header *extra,
	      const struct sl_hdr_apply *rules, const struct sl_hdr_vars *vars)
{
	uint64_t drop_lens = rules != NULL ? rules->drop_lens : 0;
	int cl_done = 0;

	put_status_line(o, blk, resp);
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct sl_h1_header *h = &resp->headers[i];
		enum sl_h1_hk k = sl_h1_hkind(h);

		if (hop_by_hop(h, k, resp->headers, resp->nheaders,
			       resp->flags))
			continue;
		if (k == SL_HK_X_REQUEST_ID)
			continue;
		/* a body of pieces (a chunked one's payload) is framed
		 * by its writer */
		if ((dechunk || blk || resp->body == SL_H1_BODY_STREAM) &&
		    k == SL_HK_TRANSFER_ENCODING)
			continue;
		/* Trailer announces trailer fields: it goes on when they do
		 * (a chunked body passed on as it is, or as pieces and a
		 * field block), not when they are dropped (dechunked for
		 * HTTP/1.0) or cannot exist */
		if (k == SL_HK_TRAILER &&
		    (dechunk || (resp->body != SL_H1_BODY_CHUNKED &&
				 resp->body != SL_H1_BODY_STREAM)))
			continue;
		/* the parser lets equal duplicates through (RFC 9110
		 * section 8.6); the client gets one, not a list. A block
		 * whose body runs to its end (an HTTP/2 tunnel's 200, made
		 * from a 101) has none (RFC 9110 section 8.6: none in a 2xx
		 * to CONNECT) */
		if (k == SL_HK_CONTENT_LENGTH &&
		    (cl_done++ ||
		     (blk && (resp->body == SL_H1_BODY_CLOSE ||
			      (resp->flags & SL_H1_F_CL_FRAMING)))))
			continue;
		if (extra != NULL && h->name_len == extra->name_len &&
		    strncasecmp(h->name, extra->name, h->name_len) == 0)
			continue;
		if (rules != NULL &&
		    (drop_lens & ((uint64_t)1 << (h->name_len & 63))) &&
		    sl_hdr_drops(rules, h->name, h->name_len))
			continue;
		put_header(o, blk, h);
	}
	if (blk)
		put_rec(o, "X-Request-Id", 12, request_id, strlen(request_id));
	else {
		puts_(o, "X-Request-Id: ");
		puts_(o, request_id);
		puts_(o, "\r\n");
	}
	if (extra != NULL)
		put_header(o, blk, extra);
	if (rules != NULL)
		put_rules(o, blk, rules, vars, 0);
	/* a body of pieces: the chunked coding is this writer's (none for
	 * an HTTP/1.0 client, whose body runs to the close) */
	if (!blk && !dechunk && resp->body == SL_H1_BODY_STREAM)
		puts_(o, "Transfer-Encoding: chunked\r\n");
	if (blk) {
		o->b->body = (uint8_t)resp->body;
		o->b->length = resp->content_length;
		return finish(o, 1);
	}
	if (close)
		puts_(o, "Connection: close\r\n");
	else if (client_minor == 0)
		puts_(o, "Connection: keep-alive\r\n");
	puts_(o, "\r\n");
	return finish(o, 0);
}

long
sl_h1_write_response_head(char *out, size_t cap,
			  const struct sl_h1_response *resp, int client_minor,
			  int close, int dechunk, const char *request_id,
			  const struct sl_h1_header *extra,
			  const struct sl_hdr_apply *rules,
			  const struct sl_hdr_vars *vars)
{
	struct out o = {.p = out, .cap = cap};

	return response_head(&o, 0, resp, client_minor, close, dechunk,
			     request_id, extra, rules, vars);
}

long
sl_h1_block_response_head(char *out, size_t cap,
			  const struct sl_h1_response *resp,
			  const char *request_id,
			  const struct sl_h1_header *extra,
			  const struct sl_hdr_apply *rules,
			  const struct sl_hdr_vars *vars)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	return response_head(&o, 1, resp, 1, 0, 0, request_id, extra, rules,
			     vars);
}

static SL_INLINE long
interim_head(struct out *o, int blk, const struct sl_h1_response *resp)
{
	put_status_line(o, blk, resp);
	for (size_t i = 0; i < resp->nheaders; i++) {
		const struct sl_h1_header *h = &resp->headers[i];
		enum sl_h1_hk k = sl_h1_hkind(h);

		/* a block has no framing field (a 1xx has no body) */
		if (!hop_by_hop(h, k, resp->headers, resp->nheaders,
				resp->flags) &&
		    !(blk && k == SL_HK_TRANSFER_ENCODING))
			put_header(o, blk, h);
	}
	if (!blk)
		puts_(o, "\r\n");
	return finish(o, blk);
}

long
sl_h1_write_interim_head(char *out, size_t cap,
			 const struct sl_h1_response *resp)
{
	struct out o = {.p = out, .cap = cap};

	return interim_head(&o, 0, resp);
}

long
sl_h1_block_interim_head(char *out, size_t cap,
			 const struct sl_h1_response *resp)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	return interim_head(&o, 1, resp);
}

long
sl_h1_block_status(char *out, size_t cap, int status)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	blk_start(&o, status);
	return finish(&o, 1);
}

const char *
sl_h1_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 412:
		return "Precondition Failed";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 421:
		return "Misdirected Request";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "";
	}
}

long
sl_h1_write_error(char *out, size_t cap, int status, const char *code,
		  const char *request_id, int close, int head_only,
		  int client_minor, const struct sl_hdr_apply *rules,
		  const struct sl_hdr_vars *vars)
{
	return sl_h1_write_error_fields(out, cap, status, code, request_id,
					close, head_only, client_minor, NULL,
					rules, vars);
}

/* A local answer's head and JSON body, as text or (blk) as a block. */
static SL_INLINE long
error_fields(struct out *o, int blk, int status, const char *code,
	     const char *request_id, int close, int head_only, int client_minor,
	     const char *fields, const struct sl_hdr_apply *rules,
	     const struct sl_hdr_vars *vars, const char *cbody, size_t cblen)
{
	char jbody[192];
	const char *body = jbody;
	char line[256];
	int blen;

	if (cbody != NULL) {
		/* another's body: its Content-Type is among the fields */
		body = cbody;
		blen = (int)cblen;
	} else {
		blen = snprintf(
		    jbody, sizeof(jbody),
		    "{\"error\":\"%s\",\"status\":%d,\"request_id\":\"%s\"}\n",
		    code, status, request_id);
		if (blen < 0 || (size_t)blen >= sizeof(jbody))
			return -1;
	}
	if (blk) {
		int n = snprintf(line, sizeof(line), "%d", blen);
		blk_start(o, status);
		if (cbody == NULL)
			put_rec(o, "Content-Type", 12, "application/json", 16);
		put_rec(o, "Content-Length", 14, line, (size_t)n);
		put_rec(o, "X-Request-Id", 12, request_id, strlen(request_id));
	} else {
		snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n%s", status,
			 sl_h1_reason(status),
			 cbody == NULL ? "Content-Type: application/json\r\n"
				       : "");
		puts_(o, line);
		snprintf(line, sizeof(line),
			 "Content-Length: %d\r\nX-Request-Id: %s\r\n", blen,
			 request_id);
		puts_(o, line);
	}
	if (status == 405)
		put_lines(
		    o, blk,
		    "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n");
	if (fields != NULL)
		put_lines(o, blk, fields);
	else if (status == 503)
		put_lines(o, blk, "Retry-After: 1\r\n");
	if (rules != NULL)
		put_rules(o, blk, rules, vars, 1);
	if (blk) {
		o->b->body = head_only ? SL_H1_BODY_NONE : SL_H1_BODY_LENGTH;
		o->b->length = (uint64_t)blen;
		/* the body after the block, as after the text's blank line */
		if (finish(o, 1) < 0)
			return -1;
	} else {
		if (close)
			puts_(o, "Connection: close\r\n");
		else if (client_minor == 0)
			puts_(o, "Connection: keep-alive\r\n");
		puts_(o, "\r\n");
	}
	if (!head_only)
		put(o, body, (size_t)blen);
	return o->overflow ? -1 : (long)o->len;
}

long
sl_h1_write_error_fields(char *out, size_t cap, int status, const char *code,
			 const char *request_id, int close, int head_only,
			 int client_minor, const char *fields,
			 const struct sl_hdr_apply *rules,
			 const struct sl_hdr_vars *vars)
{
	struct out o = {.p = out, .cap = cap};

	return error_fields(&o, 0, status, code, request_id, close, head_only,
			    client_minor, fields, rules, vars, NULL, 0);
}

long
sl_h1_write_answer(char *out, size_t cap, int status, const char *request_id,
		   int close, int head_only, int client_minor,
		   const char *fields, const char *body, size_t blen,
		   const struct sl_hdr_apply *rules,
		   const struct sl_hdr_vars *vars)
{
	struct out o = {.p = out, .cap = cap};

	return error_fields(&o, 0, status, "", request_id, close, head_only,
			    client_minor, fields, rules, vars, body, blen);
}

long
sl_h1_block_answer(char *out, size_t cap, int status, const char *request_id,
		   int head_only, const char *fields, const char *body,
		   size_t blen, const struct sl_hdr_apply *rules,
		   const struct sl_hdr_vars *vars)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	return error_fields(&o, 1, status, "", request_id, 0, head_only, 1,
			    fields, rules, vars, body, blen);
}

long
sl_h1_block_error_fields(char *out, size_t cap, int status, const char *code,
			 const char *request_id, int head_only,
			 const char *fields, const struct sl_hdr_apply *rules,
			 const struct sl_hdr_vars *vars)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	return error_fields(&o, 1, status, code, request_id, 0, head_only, 1,
			    fields, rules, vars, NULL, 0);
}

static SL_INLINE long
grpc_error(struct out *o, int blk, int grpc_status, const char *message,
	   const char *request_id, const char *fields,
	   const struct sl_hdr_apply *rules, const struct sl_hdr_vars *vars)
{
	char line[160];

	if (blk) {
		int n = snprintf(line, sizeof(line), "%d", grpc_status);
		blk_start(o, 200);
		put_rec(o, "Content-Type", 12, "application/grpc", 16);
		put_rec(o, "Grpc-Status", 11, line, (size_t)n);
		put_rec(o, "Grpc-Message", 12, message, strlen(message));
		put_rec(o, "X-Request-Id", 12, request_id, strlen(request_id));
		/* a trailers-only answer: HEADERS end the stream, no
		 * content-length (doc/grpc.md section 2) */
	} else {
		snprintf(line, sizeof(line),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\n"
			 "Grpc-Status: %d\r\nGrpc-Message: ",
			 grpc_status);
		puts_(o, line);
		puts_(o, message);
		puts_(o, "\r\nX-Request-Id: ");
		puts_(o, request_id);
		puts_(o, "\r\nContent-Length: 0\r\n");
	}
	if (fields != NULL)
		put_lines(o, blk, fields);
	if (rules != NULL)
		put_rules(o, blk, rules, vars, 1);
	if (blk) {
		o->b->body = SL_H1_BODY_LENGTH;
		o->b->length = 0;
	} else
		puts_(o, "\r\n");
	return finish(o, blk);
}

long
sl_h1_write_grpc_error(char *out, size_t cap, int grpc_status,
		       const char *message, const char *request_id,
		       const char *fields, const struct sl_hdr_apply *rules,
		       const struct sl_hdr_vars *vars)
{
	struct out o = {.p = out, .cap = cap};

	return grpc_error(&o, 0, grpc_status, message, request_id, fields,
			  rules, vars);
}

long
sl_h1_block_grpc_error(char *out, size_t cap, int grpc_status,
		       const char *message, const char *request_id,
		       const char *fields, const struct sl_hdr_apply *rules,
		       const struct sl_hdr_vars *vars)
{
	struct blk b = {0};
	struct out o = {.p = out, .cap = cap, .b = &b};

	return grpc_error(&o, 1, grpc_status, message, request_id, fields,
			  rules, vars);
}

int
sl_h1_list_has(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < len) {
		size_t b, e;
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		b = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - b == tl && strncasecmp(v + b, tok, tl) == 0)
			return 1;
	}
	return 0;
}

const struct sl_h1_header *
sl_h1_find(const struct sl_h1_header *h, size_t n, const char *name, int *count)
{
	const struct sl_h1_header *found = NULL;
	size_t nl = strlen(name);

	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == nl &&
		    strncasecmp(h[i].name, name, nl) == 0) {
			if (found == NULL)
				found = &h[i];
			(*count)++;
		}
	return found;
}

long
sl_h1_block_response(const char *p, size_t avail, size_t max_header_bytes,
		     struct sl_h1_response *resp)
{
	size_t text, n = 0, nl, vl;
	struct sl_h1_header *h = resp->headers;
	size_t max = resp->max_headers;
	struct sl_hblk_it it;
	const char *nm, *v;
	struct sl_hblk b;

	if (avail < sizeof(b))
		return 0;
	sl_hblk_head(p, &b);
	if (b.len > avail)
		return 0;
	memset(resp, 0, sizeof(*resp));
	resp->headers = h;
	resp->max_headers = max;
	resp->reason = sl_h1_reason(b.status);
	resp->reason_len = strlen(resp->reason);
	/* the head's size as the text h2up.c wrote before blocks: status
	 * line, fields, Transfer-Encoding of a chunked body, blank line */
	text =
	    15 + resp->reason_len + 2 + (b.body == SL_H1_BODY_CHUNKED ? 28 : 0);
	sl_hblk_first(&it, p);
	while (sl_hblk_next(&it, &nm, &nl, &v, &vl)) {
		if (n + 1 >= max) {
			resp->why = SL_H1_R_TOO_MANY_HEADERS;
			break;
		}
		h[n++] = (struct sl_h1_header){nm, nl, v, vl, SL_HK_UNSET};
		text += nl + vl + 4;
	}
	if (text > max_header_bytes)
		resp->why = SL_H1_R_HEAD_TOO_LARGE;
	if (b.status < 100 || b.status > 599)
		resp->why = SL_H1_R_BAD_STATUS;
	if (resp->why != SL_H1_R_NONE)
		return -1;
	resp->nheaders = n;
	resp->status = b.status;
	resp->minor = 1;
	resp->body = (enum sl_h1_body)b.body;
	resp->content_length = b.length;
	/* as the parser reads Content-Length: 0, no body to wait for */
	if (resp->body == SL_H1_BODY_LENGTH && b.length == 0) {
		resp->body = SL_H1_BODY_NONE;
		if (b.flags & SL_HBLK_F_ENDED) {
			/* a head that ended its stream: HTTP/1.1 text needs
			 * the length the stream's end said, a block does
			 * not (room: the loop keeps one) */
			h[n] = (struct sl_h1_header){"content-length", 14, "0",
						     1, SL_HK_CONTENT_LENGTH};
			resp->nheaders = n + 1;
			resp->flags |= SL_H1_F_CL_FRAMING;
		}
	}
	return (long)b.len;
}

long
sl_h1_write_head(char *out, size_t cap, const struct sl_h1_head *h,
		 size_t *head_len)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *e;
	long n;

	switch ((enum sl_h1_hkind)h->kind) {
	case SL_H1_H_FINAL:
		n = sl_h1_write_response_head(
		    out, cap, h->resp, h->minor, h->close, h->minor == 0,
		    h->request_id, h->extra, h->rules, h->vars);
		*head_len = (size_t)n;
		return n;
	case SL_H1_H_INTERIM:
		n = sl_h1_write_interim_head(out, cap, h->resp);
		*head_len = (size_t)n;
		return n;
	case SL_H1_H_CONTINUE:
		if (cap < sizeof(cont) - 1)
			return -1;
		memcpy(out, cont, sizeof(cont) - 1);
		*head_len = sizeof(cont) - 1;
		return sizeof(cont) - 1;
	case SL_H1_H_ERROR:
		n = sl_h1_write_error_fields(
		    out, cap, h->status, h->code, h->request_id, h->close,
		    h->head_only, h->minor, h->fields, h->rules, h->vars);
		break;
	default:
		n = sl_h1_write_answer(
		    out, cap, h->status, h->request_id, h->close, h->head_only,
		    h->minor, h->fields, h->body, h->blen, h->rules, h->vars);
		break;
	}
	if (n < 0)
		return -1;
	/* a local answer's body follows the head's blank line */
	e = memmem(out, (size_t)n, "\r\n\r\n", 4);
	*head_len = e != NULL ? (size_t)(e - out + 4) : (size_t)n;
	return n;
}

long
sl_h1_block_head(char *out, size_t cap, const struct sl_h1_head *h,
		 size_t *head_len)
{
	struct sl_hblk b;
	long n;

	switch ((enum sl_h1_hkind)h->kind) {
	case SL_H1_H_FINAL:
		n = sl_h1_block_response_head(out, cap, h->resp, h->request_id,
					      h->extra, h->rules, h->vars);
		break;
	case SL_H1_H_INTERIM:
		n = sl_h1_block_interim_head(out, cap, h->resp);
		break;
	case SL_H1_H_CONTINUE:
		n = sl_h1_block_status(out, cap, 100);
		break;
	case SL_H1_H_ERROR:
		n = sl_h1_block_error_fields(out, cap, h->status, h->code,
					     h->request_id, h->head_only,
					     h->fields, h->rules, h->vars);
		break;
	default:
		n = sl_h1_block_answer(out, cap, h->status, h->request_id,
				       h->head_only, h->fields, h->body,
				       h->blen, h->rules, h->vars);
		break;
	}
	if (n < 0)
		return -1;
	/* a local answer's body follows its block */
	sl_hblk_head(out, &b);
	*head_len = b.len;
	return n;
}
