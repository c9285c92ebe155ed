/* SPDX-License-Identifier: MIT */
/*
 * The reader of an upstream's response (h1_reader.h): the head through
 * sl_h1_scan_head and sl_h1_parse_response (or sl_h1_block_response for a
 * codec's head block), the body through its framing.
 */
#include "h1_reader.h"

#include <string.h>

#include "h1_msg.h"
#include "hblock.h"

void
sl_h1_reader_init(struct sl_h1_reader *r, const struct sl_h1_limits *lim,
		  struct sl_h1_header *hdrs, size_t max_hdrs,
		  enum sl_h1_method method, unsigned flags)
{
	memset(r, 0, sizeof(*r));
	r->lim = *lim;
	r->hdrs = hdrs;
	r->max_hdrs = max_hdrs;
	r->method = method;
	r->flags = flags;
	r->state = SL_H1_RD_ST_HEAD;
	sl_h1_scan_init(&r->scan);
}

void
sl_h1_reader_resume(struct sl_h1_reader *r, enum sl_h1_body body,
		    uint64_t remaining, const struct sl_h1_chunked *c)
{
	r->state = SL_H1_RD_ST_BODY;
	r->body = body;
	r->remaining = remaining;
	r->persists = 0;
	if (c != NULL)
		r->chunked = *c;
}

const char *
sl_h1_rd_failure(enum sl_h1_rd_ev e)
{
	switch (e) {
	case SL_H1_RD_BAD_HEAD:
		return "bad_response";
	case SL_H1_RD_BAD_BODY:
		return "bad_chunk";
	case SL_H1_RD_CLOSED:
		return "closed";
	case SL_H1_RD_TRUNCATED:
		return "truncated";
	case SL_H1_RD_FAILED:
		return "read";
	default:
		return NULL;
	}
}

/* The reader fails with e (why: its rule), after used bytes. */
static enum sl_h1_rd_ev
rd_fail(struct sl_h1_reader *r, struct sl_h1_rd_event *ev, enum sl_h1_rd_ev e,
	enum sl_h1_reason why, size_t used)
{
	r->state = SL_H1_RD_ST_FAILED;
	r->failed = e;
	r->why = why;
	ev->used = used;
	ev->why = why;
	return e;
}

/* The final head was read: the body's framing from it. */
static void
rd_final(struct sl_h1_reader *r, int block)
{
	const struct sl_h1_response *resp = &r->resp;

	r->state = SL_H1_RD_ST_BODY;
	r->body = resp->body;
	r->remaining = resp->content_length;
	/* a codec's stream serves one request */
	r->persists = !block && resp->body != SL_H1_BODY_CLOSE &&
		      sl_h1_persists(resp->minor, resp->flags);
	if (resp->body == SL_H1_BODY_CHUNKED) {
		sl_h1_chunked_init(&r->chunked, r->lim.max_header_bytes);
		if (r->max_trailers > 0)
			r->chunked.max_trailers = r->max_trailers;
	}
}

/* Heads: interim ones skipped (or reported), then the final one. */
static enum sl_h1_rd_ev
rd_head(struct sl_h1_reader *r, char *buf, size_t len, unsigned in,
	struct sl_h1_rd_event *ev)
{
	size_t off = 0; /* interim heads skipped in this call */
	long hlen;
	int block;

	for (;;) {
		const char *p = buf + off;
		size_t n = len - off;

		r->resp.headers = r->hdrs;
		r->resp.max_headers = r->max_hdrs;
		block =
		    n > 0 && p[0] == SL_HBLK_MARK && (in & SL_H1_RD_IN_CODEC);
		if (block) {
			hlen = sl_h1_block_response(
			    p, n, r->lim.max_header_bytes, &r->resp);
			if (hlen < 0)
				return rd_fail(r, ev, SL_H1_RD_BAD_HEAD,
					       r->resp.why, off);
		} else {
			/* the bytes a head may have, and no more: what
			 * comes after them never decides, so the verdict
			 * is the same whatever pieces they came in */
			size_t w = n < r->lim.max_header_bytes
				       ? n
				       : r->lim.max_header_bytes;

			hlen = sl_h1_scan_head(&r->scan, p, w, &r->lim, 0);
			if (hlen < 0)
				return rd_fail(r, ev, SL_H1_RD_BAD_HEAD,
					       (enum sl_h1_reason)r->scan.why,
					       off);
			/* as many bytes as a head may have, and no end:
			 * it would be larger (a buffer of that size, full,
			 * never gets one) */
			if (hlen == 0 && n >= r->lim.max_header_bytes)
				return rd_fail(r, ev, SL_H1_RD_BAD_HEAD,
					       SL_H1_R_HEAD_TOO_LARGE, off);
			if (hlen > 0 &&
			    sl_h1_parse_response(p, (size_t)hlen, &r->resp,
						 r->method) < 0)
				return rd_fail(r, ev, SL_H1_RD_BAD_HEAD,
					       r->resp.why, off);
		}
		if (hlen == 0) {
			if (in & SL_H1_RD_IN_EOF)
				return rd_fail(r, ev, SL_H1_RD_CLOSED,
					       SL_H1_R_NONE, off);
			ev->used = off;
			return SL_H1_RD_MORE;
		}
		ev->head = p;
		ev->head_len = (size_t)hlen;
		ev->used = off + (size_t)hlen;
		if (r->resp.status >= 200) {
			rd_final(r, block);
			return SL_H1_RD_HEAD;
		}
		sl_h1_scan_init(&r->scan); /* an interim head */
		if (r->flags & SL_H1_RD_F_INTERIM)
			return SL_H1_RD_INTERIM;
		off += (size_t)hlen;
	}
}

/* The body's bytes in buf, as its framing says. */
static enum sl_h1_rd_ev
rd_body(struct sl_h1_reader *r, char *buf, size_t len, unsigned in,
	struct sl_h1_rd_event *ev)
{
	size_t used = 0, data = 0, consumed;
	int whole = 0, rc = 0;

	switch (r->body) {
	case SL_H1_BODY_NONE:
		whole = 1;
		break;
	case SL_H1_BODY_LENGTH:
		used = data = len < r->remaining ? len : (size_t)r->remaining;
		r->remaining -= used;
		whole = r->remaining == 0;
		break;
	case SL_H1_BODY_CHUNKED:
		rc = sl_h1_chunked_decode(&r->chunked, buf, len,
					  (r->flags & SL_H1_RD_F_PAYLOAD) != 0,
					  &consumed, &data);
		used = consumed;
		if (!(r->flags & SL_H1_RD_F_PAYLOAD))
			data = consumed; /* framed, as it came */
		whole = rc == 1;
		break;
	case SL_H1_BODY_CLOSE:
	case SL_H1_BODY_STREAM:
		/* every byte is the body's; the connection's end ends it,
		 * and a stream's its codec's mark (or the transport's end,
		 * which is the same to an HTTP/2 stream) */
		used = data = len;
		whole =
		    (in & SL_H1_RD_IN_EOF) ||
		    (r->body == SL_H1_BODY_STREAM && (in & SL_H1_RD_IN_ENDED));
		break;
	}
	ev->used = used;
	if (!(r->flags & SL_H1_RD_F_DROP) && data > 0) {
		ev->data = buf;
		ev->len = data;
	}
	if (whole) {
		r->state = SL_H1_RD_ST_DONE;
		ev->reusable =
		    r->persists && used == len && !(in & SL_H1_RD_IN_EOF);
		return SL_H1_RD_END;
	}
	/* the bytes that came go before the failure or the end that cut
	 * them: the same events whatever pieces the bytes came in */
	if (rc < 0)
		rd_fail(r, ev, SL_H1_RD_BAD_BODY, r->chunked.why, used);
	else if (ev->len == 0 && (in & SL_H1_RD_IN_EOF))
		return rd_fail(r, ev, SL_H1_RD_TRUNCATED, SL_H1_R_NONE, used);
	if (ev->len > 0)
		return SL_H1_RD_DATA;
	return rc < 0 ? SL_H1_RD_BAD_BODY : SL_H1_RD_MORE;
}

enum sl_h1_rd_ev
sl_h1_reader_next(struct sl_h1_reader *r, char *buf, size_t len, unsigned in,
		  struct sl_h1_rd_event *ev)
{
	static char none[1]; /* never written: nothing to compact */

	if (buf == NULL)
		buf = none; /* an empty buffer not allocated yet */
	memset(ev, 0, sizeof(*ev));
	ev->resp = &r->resp;
	switch (r->state) {
	case SL_H1_RD_ST_HEAD:
		return rd_head(r, buf, len, in, ev);
	case SL_H1_RD_ST_BODY:
		return rd_body(r, buf, len, in, ev);
	case SL_H1_RD_ST_DONE:
		return SL_H1_RD_END;
	default:
		ev->why = r->why;
		return r->failed;
	}
}
