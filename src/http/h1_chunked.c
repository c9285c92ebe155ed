/* SPDX-License-Identifier: MIT */
/*
 * The chunked transfer coding of HTTP/1.1 (RFC 9112 section 7.1): an
 * incremental decoder (chunk sizes, extensions, data, the trailer section
 * and the fields it may not hold), the same taking the framing off for a
 * codec of fields (the payload compacted, the trailer section found and
 * made a field block), and the checks of trailers that came as a block.
 * Declared in h1_parse.h. Pure: no I/O, no mutable global state, no locale;
 * byte classes from h1_parse_int.h; no malloc but the trailer section's
 * gathering across reads (sl_h1_trailers_take), which grows its caller's
 * buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h1_parse.h"
#include "h1_parse_int.h"
#include "hblock.h"

/* Longest chunk-size line, extensions included, CRLF excluded. */
#define SL_H1_CHUNK_LINE_MAX 4096

/* struct sl_h1_chunked.state: where the next byte falls. */
enum {
	CH_SIZE = 0,	  /* in the hex digits of a chunk-size */
	CH_SIZE_WS,	  /* BWS after the size: only ";" may follow */
	CH_EXT_PRE_NAME,  /* after ";": BWS, then a name */
	CH_EXT_NAME,	  /* in an extension name */
	CH_EXT_POST_NAME, /* BWS after a name: "=" or ";" */
	CH_EXT_PRE_VAL,	  /* after "=": BWS, then token or quoted-string */
	CH_EXT_TOKEN,	  /* in a token value */
	CH_EXT_QSTR,	  /* in a quoted-string value */
	CH_EXT_QPAIR,	  /* after a backslash in a quoted-string */
	CH_EXT_POST_QSTR, /* right after the closing DQUOTE */
	CH_EXT_POST_VAL,  /* BWS after a value: only ";" may follow */
	CH_SIZE_LF,	  /* CR of the size line seen */
	CH_DATA,	  /* remaining data bytes follow */
	CH_DATA_CR,	  /* chunk data done, CR expected */
	CH_DATA_LF,	  /* CR after data seen */
	CH_TR_START,	  /* start of a trailer field line or the final CRLF */
	CH_TR_NAME,	  /* in a trailer field name */
	CH_TR_VALUE,	  /* after the colon of a trailer field */
	CH_TR_LF,	  /* CR of a trailer field line seen */
	CH_FINAL_LF,	  /* CR of the final empty line seen */
	CH_DONE,	  /* message complete; done == 1 */
	CH_ERROR,	  /* malformed; every later call fails */
};

void
sl_h1_chunked_init(struct sl_h1_chunked *c, size_t max_trailer_bytes)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
	c->max_trailer_bytes = max_trailer_bytes;
	c->max_trailers = SIZE_MAX;
}

/* One framing byte of a chunk-size line. Returns the next state. */
static int
chunk_size_byte(struct sl_h1_chunked *c, unsigned char b)
{
	unsigned d;

	if (b != '\r' && ++c->line_len > SL_H1_CHUNK_LINE_MAX)
		return CH_ERROR;
	switch (c->state) {
	case CH_SIZE:
		if (IS(b, C_HEX)) {
			d = IS(b, C_DIGIT) ? (unsigned)(b - '0')
					   : (unsigned)(lower(b) - 'a' + 10);
			if (++c->ndigits > 16 ||
			    c->remaining > (SL_H1_SIZE_MAX >> 4))
				return CH_ERROR;
			c->remaining = (c->remaining << 4) | d;
			return CH_SIZE;
		}
		if (c->ndigits == 0)
			return CH_ERROR;
		if (b == '\r')
			return CH_SIZE_LF;
		if (b == ';')
			return CH_EXT_PRE_NAME;
		return IS(b, C_WS) ? CH_SIZE_WS : CH_ERROR;
	case CH_SIZE_WS:
	case CH_EXT_POST_VAL:
		if (b == ';')
			return CH_EXT_PRE_NAME;
		return IS(b, C_WS) ? c->state : CH_ERROR;
	case CH_EXT_PRE_NAME:
		if (IS(b, C_TCHAR))
			return CH_EXT_NAME;
		return IS(b, C_WS) ? CH_EXT_PRE_NAME : CH_ERROR;
	case CH_EXT_NAME:
	case CH_EXT_TOKEN:
		if (IS(b, C_TCHAR))
			return c->state;
		if (b == '\r')
			return CH_SIZE_LF;
		if (b == ';')
			return CH_EXT_PRE_NAME;
		if (b == '=' && c->state == CH_EXT_NAME)
			return CH_EXT_PRE_VAL;
		if (IS(b, C_WS))
			return c->state == CH_EXT_NAME ? CH_EXT_POST_NAME
						       : CH_EXT_POST_VAL;
		return CH_ERROR;
	case CH_EXT_POST_NAME:
		if (b == '=')
			return CH_EXT_PRE_VAL;
		if (b == ';')
			return CH_EXT_PRE_NAME;
		return IS(b, C_WS) ? CH_EXT_POST_NAME : CH_ERROR;
	case CH_EXT_PRE_VAL:
		if (IS(b, C_TCHAR))
			return CH_EXT_TOKEN;
		if (b == '"')
			return CH_EXT_QSTR;
		return IS(b, C_WS) ? CH_EXT_PRE_VAL : CH_ERROR;
	case CH_EXT_QSTR:
		if (b == '"')
			return CH_EXT_POST_QSTR;
		if (b == '\\')
			return CH_EXT_QPAIR;
		return IS(b, C_QDTEXT) ? CH_EXT_QSTR : CH_ERROR;
	case CH_EXT_QPAIR:
		return IS(b, C_FVCHAR | C_WS) ? CH_EXT_QSTR : CH_ERROR;
	case CH_EXT_POST_QSTR:
		if (b == '\r')
			return CH_SIZE_LF;
		if (b == ';')
			return CH_EXT_PRE_NAME;
		return IS(b, C_WS) ? CH_EXT_POST_VAL : CH_ERROR;
	}
	return CH_ERROR;
}

int
sl_h1_trailer_forbidden(const char *name, size_t len, const char *own)
{
	/* by length: a trailer is compared with the one or two names of
	 * its length, not with all thirteen (a gRPC call's two trailers
	 * are walked twice on their way through, and a name at a time
	 * cost 290 instructions a field) */
	const char *a = NULL, *b = NULL;

	switch (len) {
	case 2:
		a = "te";
		break;
	case 4:
		a = "host";
		break;
	case 6:
		a = "expect";
		break;
	case 7:
		a = "trailer", b = "upgrade";
		break;
	case 10:
		a = "connection", b = "keep-alive";
		break;
	case 12:
		a = "x-request-id";
		break;
	case 14:
		a = "content-length";
		break;
	case 15:
		a = "x-forwarded-for";
		break;
	case 16:
		a = "proxy-connection";
		break;
	case 17:
		a = "transfer-encoding", b = "x-forwarded-proto";
		break;
	default:
		break;
	}
	if ((a != NULL && sl_h1_ieq_n(name, a, len)) ||
	    (b != NULL && sl_h1_ieq_n(name, b, len)))
		return 1;
	return own != NULL && strlen(own) == len &&
	       strncasecmp(name, own, len) == 0;
}

enum sl_h1_reason
sl_h1_trailers_check(const char *trailers, size_t max_bytes, size_t max_fields,
		     const char *own)
{
	struct sl_hblk_it it;
	const char *n, *v;
	size_t nl, vl, bytes = 0, count = 0;

	sl_hblk_first(&it, trailers);
	while (sl_hblk_next(&it, &n, &nl, &v, &vl)) {
		/* the bytes a trailer section of text would take, as the
		 * decoder counts them */
		bytes += nl + 2 + vl + 2;
		if (++count > max_fields || bytes > max_bytes)
			return SL_H1_R_TRAILER_TOO_LARGE;
		if (nl == 0)
			return SL_H1_R_BAD_TRAILER;
		for (size_t i = 0; i < nl; i++)
			if (!IS((unsigned char)n[i], C_TCHAR))
				return SL_H1_R_BAD_TRAILER;
		for (size_t i = 0; i < vl; i++)
			if (!IS((unsigned char)v[i], C_FVCHAR | C_WS))
				return SL_H1_R_BAD_TRAILER;
		if (sl_h1_trailer_forbidden(n, nl, own))
			return SL_H1_R_FORBIDDEN_TRAILER;
	}
	return SL_H1_R_NONE;
}

long
sl_h1_trailers_block(const char *text, size_t len, char *out, size_t cap)
{
	struct sl_hblk h;
	size_t at = sizeof(h);

	if (cap < sizeof(h))
		return -1;
	sl_hblk_init(&h, 0);
	for (size_t i = 0; i < len;) {
		const char *line = text + i, *eol = memchr(line, '\n', len - i),
			   *colon, *v, *e;
		size_t ll, nl;

		if (eol == NULL)
			break;
		i = (size_t)(eol - text) + 1;
		ll = (size_t)(eol - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0 || (colon = memchr(line, ':', ll)) == NULL)
			continue;
		nl = (size_t)(colon - line);
		v = colon + 1;
		e = line + ll;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (nl == 0 || nl > UINT16_MAX || h.nfields == UINT16_MAX ||
		    cap - at < SL_HBLK_REC_SIZE(nl, (size_t)(e - v)))
			return -1;
		at += sl_hblk_put(out + at, line, nl, v, (size_t)(e - v));
		h.nfields++;
	}
	h.len = (uint32_t)at;
	memcpy(out, &h, sizeof(h));
	return (long)at;
}

/* One byte of the trailer section. Returns the next state. */
static int
chunk_trailer_byte(struct sl_h1_chunked *c, unsigned char b)
{
	if (c->state == CH_TR_START && b == '\r')
		return CH_FINAL_LF;
	if (c->trailer_bytes >= c->max_trailer_bytes)
		return CH_ERROR;
	c->trailer_bytes++;
	switch (c->state) {
	case CH_TR_START: /* SP or HTAB here would be obs-fold */
		if (!IS(b, C_TCHAR))
			return CH_ERROR;
		if (c->ntrailers >= c->max_trailers) {
			c->why = SL_H1_R_TRAILER_TOO_LARGE;
			return CH_ERROR;
		}
		c->name[0] = (char)b;
		c->name_len = 1;
		return CH_TR_NAME;
	case CH_TR_NAME:
		if (b == ':') {
			/* a name longer than the buffer is none of the
			 * forbidden ones */
			if (c->name_len <= sizeof(c->name) &&
			    sl_h1_trailer_forbidden(c->name, c->name_len,
						    c->own)) {
				c->why = SL_H1_R_FORBIDDEN_TRAILER;
				return CH_ERROR;
			}
			return CH_TR_VALUE;
		}
		if (!IS(b, C_TCHAR))
			return CH_ERROR;
		if (c->name_len < sizeof(c->name))
			c->name[c->name_len] = (char)b;
		if (c->name_len <= sizeof(c->name))
			c->name_len++;
		return CH_TR_NAME;
	case CH_TR_VALUE:
		if (b == '\r')
			return CH_TR_LF;
		return IS(b, C_FVCHAR | C_WS) ? CH_TR_VALUE : CH_ERROR;
	case CH_TR_LF:
		if (b != '\n')
			return CH_ERROR;
		c->ntrailers++;
		return CH_TR_START;
	}
	return CH_ERROR;
}

/* Why the decoder failed in state st (the state before CH_ERROR). */
static enum sl_h1_reason
chunk_reason(const struct sl_h1_chunked *c, int st, unsigned char b)
{
	switch (st) {
	case CH_SIZE:
		if (c->line_len > SL_H1_CHUNK_LINE_MAX)
			return SL_H1_R_BAD_CHUNK_EXT;
		return b == '\n' ? SL_H1_R_BARE_LF : SL_H1_R_BAD_CHUNK_SIZE;
	case CH_SIZE_LF:
	case CH_FINAL_LF:
	case CH_TR_LF:
		return SL_H1_R_BARE_CR;
	case CH_DATA_CR:
	case CH_DATA_LF:
		return SL_H1_R_BAD_CHUNK_END;
	case CH_TR_START:
	case CH_TR_NAME:
	case CH_TR_VALUE:
		if (c->why != SL_H1_R_NONE) /* said by chunk_trailer_byte */
			return c->why;
		if (c->trailer_bytes >= c->max_trailer_bytes)
			return SL_H1_R_TRAILER_TOO_LARGE;
		return b == '\n' ? SL_H1_R_BARE_LF : SL_H1_R_BAD_TRAILER;
	default: /* the extension states and CH_SIZE_WS */
		return b == '\n' ? SL_H1_R_BARE_LF : SL_H1_R_BAD_CHUNK_EXT;
	}
}

/* How chunked_run treats payload: compact it, or step over it. */
enum { RUN_COMPACT, RUN_WALK };

/*
 * A chunk-size line of hex digits alone and its CRLF at p (n bytes): its
 * bytes, the size in *size; 0 when the line is anything else, or not all
 * here (chunk_size_byte takes it then, byte by byte: the same verdict,
 * the same limits, an error included).
 */
static size_t
size_line(const char *p, size_t n, uint64_t *size)
{
	uint64_t v = 0;
	size_t j = 0;

	for (; j < n && j < 16; j++) {
		unsigned char b = (unsigned char)p[j];

		if (!IS(b, C_HEX))
			break;
		if (v > (SL_H1_SIZE_MAX >> 4))
			return 0;
		/* the digit's value as chunk_size_byte takes it */
		v = (v << 4) |
		    (IS(b, C_DIGIT) ? (unsigned)(b - '0')
				    : (unsigned)(lower(b) - 'a' + 10));
	}
	if (j == 0 || n - j < 2 || p[j] != '\r' || p[j + 1] != '\n')
		return 0;
	*size = v;
	return j + 2;
}

/*
 * The decoder's loop. With trailer_at, *trailer_at is set to where the
 * trailer section begins among the bytes consumed (left alone when none
 * is).
 */
static int
chunked_run(struct sl_h1_chunked *c, char *buf, size_t len, int mode,
	    size_t *consumed, size_t *data_len, size_t *trailer_at)
{
	size_t i = 0, dl = 0, n;
	unsigned char b;
	int ret = 0, st;

	while (i < len && ret == 0) {
		if (trailer_at != NULL && c->state >= CH_TR_START &&
		    *trailer_at == len)
			*trailer_at = i;
		/* the common framing at once: a size line of hex digits and
		 * CRLF, the CRLF after a chunk's data; anything else (an
		 * extension, white space, a line cut by the read, an error)
		 * goes byte by byte below, from the same place */
		if (c->state == CH_SIZE && c->line_len == 0 &&
		    (n = size_line(buf + i, len - i, &c->remaining)) != 0) {
			c->ndigits = (int)(n - 2);
			c->line_len = n - 2;
			c->state = c->remaining > 0 ? CH_DATA : CH_TR_START;
			i += n;
			continue;
		}
		if (c->state == CH_DATA_CR && len - i >= 2 && buf[i] == '\r' &&
		    buf[i + 1] == '\n') {
			c->state = CH_SIZE;
			c->remaining = 0;
			c->ndigits = 0;
			c->line_len = 0;
			i += 2;
			continue;
		}
		switch (c->state) {
		case CH_DATA:
			n = len - i;
			if ((uint64_t)n > c->remaining)
				n = (size_t)c->remaining;
			if (mode == RUN_COMPACT && dl != i)
				memmove(buf + dl, buf + i, n);
			dl += n;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		case CH_DONE:
			ret = 1;
			continue;
		case CH_ERROR:
			ret = -400;
			continue;
		}
		if (c->state == CH_TR_VALUE || c->state == CH_TR_NAME) {
			/* a trailer's value, or its name after the first
			 * byte: its bytes in one tight loop, as many as the
			 * section's budget lets through (the byte after them,
			 * a CR, a colon or one that is not allowed, is the
			 * switch's below, as each byte was) */
			size_t j = i, end = len - i;

			if (end > c->max_trailer_bytes - c->trailer_bytes)
				end = c->max_trailer_bytes - c->trailer_bytes;
			end += i;
			if (c->state == CH_TR_VALUE) {
				while (j < end && IS((unsigned char)buf[j],
						     C_FVCHAR | C_WS))
					j++;
			} else {
				for (; j < end &&
				       IS((unsigned char)buf[j], C_TCHAR);
				     j++) {
					if (c->name_len < sizeof(c->name))
						c->name[c->name_len] = buf[j];
					if (c->name_len <= sizeof(c->name))
						c->name_len++;
				}
			}
			c->trailer_bytes += j - i;
			i = j;
			if (i == len)
				continue;
		}
		b = (unsigned char)buf[i];
		st = c->state;
		switch (c->state) {
		case CH_SIZE_LF:
			if (b != '\n') {
				c->state = CH_ERROR;
			} else if (c->remaining > 0) {
				c->state = CH_DATA;
			} else {
				c->state = CH_TR_START;
			}
			break;
		case CH_DATA_CR:
			c->state = b == '\r' ? CH_DATA_LF : CH_ERROR;
			break;
		case CH_DATA_LF:
			if (b != '\n') {
				c->state = CH_ERROR;
				break;
			}
			c->state = CH_SIZE;
			c->remaining = 0;
			c->ndigits = 0;
			c->line_len = 0;
			break;
		case CH_TR_START:
		case CH_TR_NAME:
		case CH_TR_VALUE:
		case CH_TR_LF:
			c->state = chunk_trailer_byte(c, b);
			break;
		case CH_FINAL_LF:
			if (b != '\n') {
				c->state = CH_ERROR;
				break;
			}
			c->state = CH_DONE;
			c->done = 1;
			ret = 1;
			break;
		default:
			c->state = chunk_size_byte(c, b);
			break;
		}
		if (c->state == CH_ERROR) {
			c->why = chunk_reason(c, st, b);
			ret = -400;
		} else
			i++;
	}
	if (ret == 0 && c->state == CH_DONE)
		ret = 1;
	else if (ret == 0 && c->state == CH_ERROR)
		ret = -400;
	*consumed = i;
	*data_len = dl;
	return ret;
}

int
sl_h1_chunked_decode(struct sl_h1_chunked *c, char *buf, size_t len,
		     int compact, size_t *consumed, size_t *data_len)
{
	return chunked_run(c, buf, len, compact ? RUN_COMPACT : RUN_WALK,
			   consumed, data_len, NULL);
}

int
sl_h1_chunked_unframe(struct sl_h1_chunked *c, char *buf, size_t len,
		      size_t *consumed, size_t *data_len, size_t *trailer_at)
{
	int r;

	*trailer_at = len;
	r = chunked_run(c, buf, len, RUN_COMPACT, consumed, data_len,
			trailer_at);
	if (*trailer_at > *consumed)
		*trailer_at = *consumed;
	return r;
}

int
sl_h1_trailers_take(struct sl_h1_trailers *t, const char *p, size_t n, int last)
{
	size_t cap;
	char *q;

	if (t->text != NULL || !last) {
		/* a section spanning reads (at most the decoder's bound) */
		if ((q = realloc(t->text, t->text_len + n)) == NULL)
			return -1;
		memcpy(q + t->text_len, p, n);
		t->text = q;
		t->text_len += n;
		if (!last)
			return 0;
		p = t->text;
		n = t->text_len;
	}
	if (n <= 2) /* the final CRLF alone */
		return 0;
	/* a block is at most its header and twice the text */
	cap = sizeof(struct sl_hblk) + 2 * n;
	if (cap > t->blk_cap) {
		if ((q = realloc(t->blk, cap)) == NULL)
			return -1;
		t->blk = q;
		t->blk_cap = cap;
	}
	if (sl_h1_trailers_block(p, n, t->blk, t->blk_cap) < 0)
		return -1; /* (its room is its bound: not seen) */
	t->on = 1;
	return 0;
}

void
sl_h1_trailers_reset(struct sl_h1_trailers *t)
{
	free(t->text);
	t->text = NULL;
	t->text_len = 0;
	t->on = 0;
}

void
sl_h1_trailers_free(struct sl_h1_trailers *t)
{
	sl_h1_trailers_reset(t);
	free(t->blk);
	t->blk = NULL;
	t->blk_cap = 0;
}
