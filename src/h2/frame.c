/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 frames after RFC 9113 sections 4 to 6: the resumable reader and
 * its per-frame checks, the stream states of section 5.1, flow-control
 * arithmetic and the frame writers. Performs no I/O and allocates nothing:
 * a payload split across reads is gathered in the caller's buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "frame.h"

/* The reader's states (r->state). */
enum {
	RS_PREFACE = 0, /* matching the client preface; need: bytes left */
	RS_HEAD,	/* gathering a frame header in hdr[]; need, got */
	RS_PAYLOAD,	/* gathering a payload in buf; need, got */
	RS_PADLEN,	/* DATA: its pad length byte is next */
	RS_DATA,	/* DATA: need data bytes, then pad padding bytes */
	RS_SKIP,	/* skipping need bytes of an ignored payload */
	RS_ERROR,	/* a connection error: code, why */
};

static const char *const type_names[] = {
    "DATA",	    "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
    "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION",
};

static const char *const err_names[] = {
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
};

static const char *const st_names[] = {
    "idle",
    "idle_local",
    "reserved_local",
    "reserved_remote",
    "open",
    "half_closed_local",
    "half_closed_remote",
    "closed",
    "closed_reset_recv",
    "closed_reset_sent",
    "gone",
};

const char *
sl_h2f_type_str(unsigned type)
{
	return type < sizeof(type_names) / sizeof(type_names[0])
		   ? type_names[type]
		   : "UNKNOWN";
}

const char *
sl_h2f_err_str(uint32_t code)
{
	return code < sizeof(err_names) / sizeof(err_names[0]) ? err_names[code]
							       : "UNKNOWN";
}

const char *
sl_h2f_st_str(enum sl_h2f_st st)
{
	return (unsigned)st < sizeof(st_names) / sizeof(st_names[0])
		   ? st_names[st]
		   : "unknown";
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
sl_h2f_header_parse(struct sl_h2f_header *h, const uint8_t *p)
{
	h->length = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	h->type = p[3];
	h->flags = p[4];
	h->stream_id = get32(p + 5) & SL_H2F_MAX_STREAM_ID;
}

size_t
sl_h2f_write_header(uint8_t *out, size_t room, uint32_t length, uint8_t type,
		    uint8_t flags, uint32_t stream_id)
{
	if (room < SL_H2F_HEADER_LEN)
		return 0;
	out[0] = (uint8_t)(length >> 16);
	out[1] = (uint8_t)(length >> 8);
	out[2] = (uint8_t)length;
	out[3] = type;
	out[4] = flags;
	put32(out + 5, stream_id & SL_H2F_MAX_STREAM_ID);
	return SL_H2F_HEADER_LEN;
}

/* ---- the reader ----------------------------------------------------------*/

int
sl_h2f_reader_init(struct sl_h2f_reader *r, int is_server, uint8_t *buf,
		   size_t buf_len, uint32_t max_frame)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->buf_len = buf_len;
	r->max_frame = SL_H2F_MAX_FRAME_MIN;
	r->is_server = is_server != 0;
	r->no7540 = 2;
	if (is_server) {
		r->state = RS_PREFACE;
		r->need = SL_H2F_PREFACE_LEN;
	} else {
		r->state = RS_HEAD;
		r->need = SL_H2F_HEADER_LEN;
	}
	return sl_h2f_reader_set_max_frame(r, max_frame);
}

uint32_t
sl_h2f_reader_held(const struct sl_h2f_reader *r)
{
	return r->state == RS_PAYLOAD ? r->got : 0;
}

int
sl_h2f_reader_set_max_frame(struct sl_h2f_reader *r, uint32_t max_frame)
{
	if (max_frame < SL_H2F_MAX_FRAME_MIN ||
	    max_frame > SL_H2F_MAX_FRAME_MAX || r->buf_len < max_frame)
		return -1;
	r->max_frame = max_frame;
	return 0;
}

static int
conn_error(struct sl_h2f_reader *r, uint32_t code, const char *why)
{
	r->state = RS_ERROR;
	r->code = code;
	r->why = why;
	return SL_H2F_EV_CONN_ERROR;
}

/* After a header: the next state is to gather or skip its payload. */
static void
expect(struct sl_h2f_reader *r, int state, uint32_t need)
{
	r->state = (uint8_t)state;
	r->need = need;
	r->got = 0;
}

/*
 * The checks a frame's header allows (its payload not read yet). Returns
 * 0, or an event (a stream error, a connection error) to report now.
 */
static int
on_header(struct sl_h2f_reader *r, struct sl_h2f_event *ev)
{
	const struct sl_h2f_header *h = &r->hd;

	/* section 3.4: the preface's SETTINGS comes first */
	if (!r->settings_seen) {
		if (h->type != SL_H2F_SETTINGS || (h->flags & SL_H2F_F_ACK))
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "first frame not SETTINGS");
		r->settings_seen = 1;
	}
	/* section 6.10: nothing may come between a header block's frames */
	if (r->cont_sid != 0 &&
	    (h->type != SL_H2F_CONTINUATION || h->stream_id != r->cont_sid))
		return conn_error(r, SL_H2F_PROTOCOL_ERROR,
				  "CONTINUATION expected");
	if (h->length > r->max_frame)
		return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
				  "frame over SETTINGS_MAX_FRAME_SIZE");
	expect(r, RS_PAYLOAD, h->length);
	switch (h->type) {
	case SL_H2F_DATA:
		if (h->stream_id == 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "DATA on stream 0");
		r->first = 1;
		r->pad = 0;
		if (h->flags & SL_H2F_F_PADDED) {
			/* no room for the pad length: padding as long as
			 * the payload (section 6.1), as nghttp2 says */
			if (h->length == 0)
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "DATA too short for padding");
			expect(r, RS_PADLEN, 0);
		} else
			expect(r, RS_DATA, h->length);
		break;
	case SL_H2F_HEADERS:
		if (h->stream_id == 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "HEADERS on stream 0");
		break;
	case SL_H2F_PRIORITY:
		if (h->stream_id == 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "PRIORITY on stream 0");
		if (h->length != 5) {
			expect(r, RS_SKIP, h->length);
			ev->code = SL_H2F_FRAME_SIZE_ERROR;
			return SL_H2F_EV_STREAM_ERROR;
		}
		break;
	case SL_H2F_RST_STREAM:
		if (h->length != 4)
			return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
					  "RST_STREAM length not 4");
		if (h->stream_id == 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "RST_STREAM on stream 0");
		break;
	case SL_H2F_SETTINGS:
		if (h->length % 6 != 0 ||
		    ((h->flags & SL_H2F_F_ACK) && h->length != 0))
			return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
					  "SETTINGS length");
		if (h->stream_id != 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "SETTINGS on a stream");
		break;
	case SL_H2F_PUSH_PROMISE:
		/* a client may not push; sluice never enables push */
		return conn_error(r, SL_H2F_PROTOCOL_ERROR, "PUSH_PROMISE");
	case SL_H2F_PING:
		if (h->length != 8)
			return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
					  "PING length not 8");
		if (h->stream_id != 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "PING on a stream");
		break;
	case SL_H2F_GOAWAY:
		if (h->length < 8)
			return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
					  "GOAWAY shorter than 8");
		if (h->stream_id != 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "GOAWAY on a stream");
		break;
	case SL_H2F_WINDOW_UPDATE:
		if (h->length != 4)
			return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
					  "WINDOW_UPDATE length not 4");
		break;
	case SL_H2F_CONTINUATION:
		if (r->cont_sid == 0)
			return conn_error(r, SL_H2F_PROTOCOL_ERROR,
					  "CONTINUATION without HEADERS");
		break;
	default:
		/* section 5.5: an extension's frame is ignored */
		expect(r, RS_SKIP, h->length);
		break;
	}
	return 0;
}

/* Checks a SETTINGS payload's values (section 6.5.2). */
static int
check_settings(struct sl_h2f_reader *r, const uint8_t *p, size_t len)
{
	size_t i;
	uint16_t id;
	uint32_t v;

	for (i = 0; i < len / 6; i++) {
		sl_h2f_setting_at(p, i, &id, &v);
		switch (id) {
		case SL_H2F_SET_ENABLE_PUSH:
			if (v > 1)
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "SETTINGS_ENABLE_PUSH");
			break;
		case SL_H2F_SET_INITIAL_WINDOW_SIZE:
			if (v > SL_H2F_MAX_WINDOW)
				return conn_error(
				    r, SL_H2F_FLOW_CONTROL_ERROR,
				    "SETTINGS_INITIAL_WINDOW_SIZE");
			break;
		case SL_H2F_SET_MAX_FRAME_SIZE:
			if (v < SL_H2F_MAX_FRAME_MIN ||
			    v > SL_H2F_MAX_FRAME_MAX)
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "SETTINGS_MAX_FRAME_SIZE");
			break;
		case SL_H2F_SET_ENABLE_CONNECT_PROTOCOL:
			/* RFC 8441 section 3: 0 or 1, and a server may not
			 * take back a 1 */
			if (v > 1 ||
			    (!r->is_server && r->connect_proto && v == 0))
				return conn_error(
				    r, SL_H2F_PROTOCOL_ERROR,
				    "SETTINGS_ENABLE_CONNECT_PROTOCOL");
			if (!r->is_server && v == 1)
				r->connect_proto = 1;
			break;
		case SL_H2F_SET_NO_RFC7540_PRIORITIES:
			/* RFC 9218 section 2.1: 0 or 1, and not changed
			 * after the first SETTINGS */
			if (v > 1 || (r->no7540 != 2 && r->no7540 != v))
				return conn_error(
				    r, SL_H2F_PROTOCOL_ERROR,
				    "SETTINGS_NO_RFC7540_PRIORITIES");
			r->no7540 = (uint8_t)v;
			break;
		default:
			/* section 6.5.2: unknown settings are ignored */
			break;
		}
	}
	if (r->no7540 == 2)
		r->no7540 = 0;
	return 0;
}

/*
 * The checks of a whole payload p (hd.length bytes) of a frame that is not
 * DATA; fills ev. Returns an event.
 */
static int
on_payload(struct sl_h2f_reader *r, const uint8_t *p, struct sl_h2f_event *ev)
{
	const struct sl_h2f_header *h = &r->hd;
	uint32_t off = 0, end = h->length, pad = 0, pri, v;
	int rc;

	ev->data = p;
	ev->len = h->length;
	switch (h->type) {
	case SL_H2F_HEADERS:
		pri = (h->flags & SL_H2F_F_PRIORITY) ? 5 : 0;
		if (h->flags & SL_H2F_F_PADDED) {
			/* section 6.2: padding that exceeds what is left for
			 * the priority fields and the fragment */
			if (end < 1 || p[0] + pri > end - 1)
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "HEADERS padding too long");
			pad = p[0];
			off = 1;
		}
		if (pri != 0) {
			if (end - off < pri)
				return conn_error(r, SL_H2F_FRAME_SIZE_ERROR,
						  "HEADERS too short for "
						  "priority");
			ev->value = get32(p + off) & SL_H2F_MAX_STREAM_ID;
			off += pri;
			/* section 5.3.1: a stream cannot depend on itself */
			if (ev->value == h->stream_id)
				ev->code = SL_H2F_PROTOCOL_ERROR;
		}
		ev->data = p + off;
		ev->len = end - off - pad;
		if (!(h->flags & SL_H2F_F_END_HEADERS)) {
			r->cont_sid = h->stream_id;
			r->ncont = 0;
		}
		break;
	case SL_H2F_CONTINUATION:
		r->ncont++;
		if (h->flags & SL_H2F_F_END_HEADERS)
			r->cont_sid = 0;
		break;
	case SL_H2F_PRIORITY:
		ev->value = get32(p) & SL_H2F_MAX_STREAM_ID;
		if (ev->value == h->stream_id) {
			ev->code = SL_H2F_PROTOCOL_ERROR;
			return SL_H2F_EV_STREAM_ERROR;
		}
		break;
	case SL_H2F_RST_STREAM:
		ev->code = get32(p);
		break;
	case SL_H2F_SETTINGS:
		if ((rc = check_settings(r, p, h->length)) != 0)
			return rc;
		break;
	case SL_H2F_GOAWAY:
		ev->value = get32(p) & SL_H2F_MAX_STREAM_ID;
		ev->code = get32(p + 4);
		ev->data = p + 8;
		ev->len = h->length - 8;
		break;
	case SL_H2F_WINDOW_UPDATE:
		v = get32(p) & SL_H2F_MAX_WINDOW;
		ev->value = v;
		if (v == 0) {
			if (h->stream_id == 0)
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "WINDOW_UPDATE of 0");
			ev->code = SL_H2F_PROTOCOL_ERROR;
			return SL_H2F_EV_STREAM_ERROR;
		}
		break;
	default: /* PING */
		break;
	}
	return SL_H2F_EV_FRAME;
}

/*
 * Takes n bytes of the part being read (a frame's header or payload): a
 * part whole in the input is read where it lies, one that comes in
 * pieces is gathered at dst. Returns the part's bytes once it is whole,
 * or NULL while more are needed.
 */
static const uint8_t *
take_part(struct sl_h2f_reader *r, uint8_t *dst, const uint8_t *in, size_t n)
{
	const uint8_t *p = dst;

	if (r->got == 0 && n == r->need) {
		if (n > 0)
			p = in;
	} else {
		memcpy(dst + r->got, in, n);
	}
	r->got += (uint32_t)n;
	r->need -= (uint32_t)n;
	return r->need > 0 ? NULL : p;
}

int
sl_h2f_read(struct sl_h2f_reader *r, const uint8_t *in, size_t len,
	    size_t *used, struct sl_h2f_event *ev)
{
	static const uint8_t preface[] = SL_H2F_PREFACE;
	const uint8_t *p;
	size_t off = 0, n, k;
	int rc;

	memset(ev, 0, sizeof(*ev));
	/* a connection error's frame, when it had a header */
	ev->hd = r->hd;
	for (;;) {
		n = len - off < r->need ? len - off : r->need;
		switch (r->state) {
		case RS_PREFACE:
			if (memcmp(in + off, preface + r->got, n) != 0) {
				*used = off;
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "bad client preface");
			}
			off += n;
			r->got += (uint32_t)n;
			r->need -= (uint32_t)n;
			if (r->need > 0)
				goto more;
			expect(r, RS_HEAD, SL_H2F_HEADER_LEN);
			break;
		case RS_HEAD:
			p = take_part(r, r->hdr, in + off, n);
			off += n;
			if (p == NULL)
				goto more;
			sl_h2f_header_parse(&r->hd, p);
			ev->hd = r->hd;
			if ((rc = on_header(r, ev)) != 0) {
				*used = off;
				return rc;
			}
			break;
		case RS_PAYLOAD:
			p = take_part(r, r->buf, in + off, n);
			off += n;
			if (p == NULL)
				goto more;
			expect(r, RS_HEAD, SL_H2F_HEADER_LEN);
			ev->hd = r->hd;
			*used = off;
			return on_payload(r, p, ev);
		case RS_PADLEN:
			if (off == len)
				goto more;
			r->pad = in[off++];
			/* section 6.1: padding as long as the payload or
			 * longer */
			if (r->pad >= r->hd.length) {
				*used = off;
				return conn_error(r, SL_H2F_PROTOCOL_ERROR,
						  "DATA padding too long");
			}
			expect(r, RS_DATA, r->hd.length - 1 - r->pad);
			break;
		case RS_DATA:
			ev->hd = r->hd;
			ev->data = n > 0 ? in + off : NULL;
			ev->len = n;
			off += n;
			r->need -= (uint32_t)n;
			if (r->need == 0) {
				k = len - off < r->pad ? len - off : r->pad;
				off += k;
				r->pad -= (uint32_t)k;
			}
			ev->first = r->first;
			ev->last = r->need == 0 && r->pad == 0;
			if (n == 0 && !ev->first && !ev->last) {
				memset(ev, 0, sizeof(*ev));
				goto more;
			}
			r->first = 0;
			if (ev->last)
				expect(r, RS_HEAD, SL_H2F_HEADER_LEN);
			*used = off;
			return SL_H2F_EV_FRAME;
		case RS_SKIP:
			off += n;
			r->need -= (uint32_t)n;
			if (r->need > 0)
				goto more;
			expect(r, RS_HEAD, SL_H2F_HEADER_LEN);
			break;
		default: /* RS_ERROR */
			*used = off;
			return SL_H2F_EV_CONN_ERROR;
		}
		if (off == len && r->state != RS_PAYLOAD &&
		    !(r->state == RS_DATA && r->first))
			goto more;
	}
more:
	*used = off;
	return SL_H2F_EV_NONE;
}

void
sl_h2f_setting_at(const uint8_t *p, size_t i, uint16_t *id, uint32_t *value)
{
	p += i * 6;
	*id = (uint16_t)(p[0] << 8 | p[1]);
	*value = get32(p + 2);
}

/* ---- stream states -------------------------------------------------------*/

enum sl_h2f_st
sl_h2f_stream_unknown(uint32_t id, int is_server, uint32_t last_peer_id,
		      uint32_t last_local_id)
{
	int peers = (id & 1) == (is_server ? 1u : 0u);

	if (id == 0)
		return SL_H2F_ST_GONE;
	if (peers)
		return id > last_peer_id ? SL_H2F_ST_IDLE : SL_H2F_ST_GONE;
	return id > last_local_id ? SL_H2F_ST_IDLE_LOCAL : SL_H2F_ST_GONE;
}

static int
verdict(int v, enum sl_h2f_st *next, enum sl_h2f_st st, uint32_t *code,
	uint32_t c)
{
	*next = st;
	*code = c;
	return v;
}

int
sl_h2f_stream_recv(enum sl_h2f_st st, unsigned type, unsigned flags,
		   enum sl_h2f_st *next, uint32_t *code)
{
	int end = (flags & SL_H2F_F_END_STREAM) != 0;

	*code = 0;
	*next = st;
	if (type == SL_H2F_PRIORITY)
		return SL_H2F_ACCEPT;
	switch (st) {
	case SL_H2F_ST_IDLE:
		if (type == SL_H2F_HEADERS) {
			*next =
			    end ? SL_H2F_ST_HALF_CLOSED_REMOTE : SL_H2F_ST_OPEN;
			return SL_H2F_ACCEPT;
		}
		return verdict(SL_H2F_CONN_ERROR, next, st, code,
			       SL_H2F_PROTOCOL_ERROR);
	case SL_H2F_ST_IDLE_LOCAL:
		/* section 5.1.1: the peer opens streams of its parity only */
		return verdict(SL_H2F_CONN_ERROR, next, st, code,
			       SL_H2F_PROTOCOL_ERROR);
	case SL_H2F_ST_RESERVED_LOCAL:
		if (type == SL_H2F_RST_STREAM)
			*next = SL_H2F_ST_CLOSED_RESET_RECV;
		else if (type != SL_H2F_WINDOW_UPDATE)
			return verdict(SL_H2F_CONN_ERROR, next, st, code,
				       SL_H2F_PROTOCOL_ERROR);
		return SL_H2F_ACCEPT;
	case SL_H2F_ST_RESERVED_REMOTE:
		if (type == SL_H2F_HEADERS)
			*next = end ? SL_H2F_ST_CLOSED
				    : SL_H2F_ST_HALF_CLOSED_LOCAL;
		else if (type == SL_H2F_RST_STREAM)
			*next = SL_H2F_ST_CLOSED_RESET_RECV;
		else
			return verdict(SL_H2F_CONN_ERROR, next, st, code,
				       SL_H2F_PROTOCOL_ERROR);
		return SL_H2F_ACCEPT;
	case SL_H2F_ST_OPEN:
	case SL_H2F_ST_HALF_CLOSED_LOCAL:
		if (type == SL_H2F_RST_STREAM)
			*next = SL_H2F_ST_CLOSED_RESET_RECV;
		else if ((type == SL_H2F_DATA || type == SL_H2F_HEADERS) && end)
			*next = st == SL_H2F_ST_OPEN
				    ? SL_H2F_ST_HALF_CLOSED_REMOTE
				    : SL_H2F_ST_CLOSED;
		return SL_H2F_ACCEPT;
	case SL_H2F_ST_HALF_CLOSED_REMOTE:
		if (type == SL_H2F_RST_STREAM)
			*next = SL_H2F_ST_CLOSED_RESET_RECV;
		else if (type == SL_H2F_DATA || type == SL_H2F_HEADERS ||
			 type == SL_H2F_CONTINUATION)
			return verdict(SL_H2F_STREAM_ERROR, next, st, code,
				       SL_H2F_STREAM_CLOSED);
		return SL_H2F_ACCEPT;
	case SL_H2F_ST_CLOSED:
		/* section 5.1: frames after END_STREAM */
		if (type == SL_H2F_WINDOW_UPDATE || type == SL_H2F_RST_STREAM)
			return SL_H2F_IGNORE;
		return verdict(SL_H2F_CONN_ERROR, next, st, code,
			       SL_H2F_STREAM_CLOSED);
	case SL_H2F_ST_CLOSED_RESET_RECV:
		/* section 5.1: never answer a RST_STREAM with one */
		if (type == SL_H2F_RST_STREAM)
			return SL_H2F_IGNORE;
		return verdict(SL_H2F_STREAM_ERROR, next, st, code,
			       SL_H2F_STREAM_CLOSED);
	case SL_H2F_ST_CLOSED_RESET_SENT:
		return SL_H2F_IGNORE;
	default: /* SL_H2F_ST_GONE */
		if (type == SL_H2F_DATA)
			return verdict(SL_H2F_STREAM_ERROR, next, st, code,
				       SL_H2F_STREAM_CLOSED);
		/* section 5.1.1: an id below the highest opened cannot
		 * open a stream */
		if (type == SL_H2F_HEADERS || type == SL_H2F_CONTINUATION)
			return verdict(SL_H2F_CONN_ERROR, next, st, code,
				       SL_H2F_PROTOCOL_ERROR);
		return SL_H2F_IGNORE;
	}
}

enum sl_h2f_st
sl_h2f_stream_send(enum sl_h2f_st st, unsigned type, unsigned flags)
{
	int end = (flags & SL_H2F_F_END_STREAM) != 0;

	if (type == SL_H2F_RST_STREAM)
		return st == SL_H2F_ST_IDLE || st == SL_H2F_ST_IDLE_LOCAL
			   ? st
			   : SL_H2F_ST_CLOSED_RESET_SENT;
	if (type != SL_H2F_HEADERS && type != SL_H2F_DATA)
		return st;
	switch (st) {
	case SL_H2F_ST_IDLE:
	case SL_H2F_ST_IDLE_LOCAL:
		if (type == SL_H2F_HEADERS)
			return end ? SL_H2F_ST_HALF_CLOSED_LOCAL
				   : SL_H2F_ST_OPEN;
		return st;
	case SL_H2F_ST_RESERVED_LOCAL:
		if (type == SL_H2F_HEADERS)
			return end ? SL_H2F_ST_CLOSED
				   : SL_H2F_ST_HALF_CLOSED_REMOTE;
		return st;
	case SL_H2F_ST_OPEN:
		return end ? SL_H2F_ST_HALF_CLOSED_LOCAL : st;
	case SL_H2F_ST_HALF_CLOSED_REMOTE:
		return end ? SL_H2F_ST_CLOSED : st;
	default:
		return st;
	}
}

/* ---- flow control --------------------------------------------------------*/

uint32_t
sl_h2f_window_add(int32_t *window, uint32_t increment)
{
	int64_t w = (int64_t)*window + increment;

	if (w > SL_H2F_MAX_WINDOW)
		return SL_H2F_FLOW_CONTROL_ERROR;
	*window = (int32_t)w;
	return 0;
}

uint32_t
sl_h2f_window_resize(int32_t *window, uint32_t old_init, uint32_t new_init)
{
	int64_t w = (int64_t)*window + (int64_t)new_init - (int64_t)old_init;

	/* a window may go below zero (section 6.9.2), not below -2^31 */
	if (w > SL_H2F_MAX_WINDOW || w < -(int64_t)SL_H2F_MAX_WINDOW - 1)
		return SL_H2F_FLOW_CONTROL_ERROR;
	*window = (int32_t)w;
	return 0;
}

uint32_t
sl_h2f_window_consume(int32_t *window, uint32_t length)
{
	if (*window < 0 || length > (uint32_t)*window)
		return SL_H2F_FLOW_CONTROL_ERROR;
	*window -= (int32_t)length;
	return 0;
}

/* ---- writers -------------------------------------------------------------*/

size_t
sl_h2f_write_settings(uint8_t *out, size_t room, const struct sl_h2f_setting *s,
		      size_t n)
{
	size_t len = SL_H2F_HEADER_LEN + 6 * n, i;
	uint8_t *p;

	if (room < len || 6 * n > SL_H2F_MAX_FRAME_MIN)
		return 0;
	sl_h2f_write_header(out, room, (uint32_t)(6 * n), SL_H2F_SETTINGS, 0,
			    0);
	for (i = 0, p = out + SL_H2F_HEADER_LEN; i < n; i++, p += 6) {
		p[0] = (uint8_t)(s[i].id >> 8);
		p[1] = (uint8_t)s[i].id;
		put32(p + 2, s[i].value);
	}
	return len;
}

size_t
sl_h2f_write_settings_ack(uint8_t *out, size_t room)
{
	return sl_h2f_write_header(out, room, 0, SL_H2F_SETTINGS, SL_H2F_F_ACK,
				   0);
}

size_t
sl_h2f_write_ping(uint8_t *out, size_t room, const uint8_t *opaque, int ack)
{
	if (room < SL_H2F_HEADER_LEN + 8)
		return 0;
	sl_h2f_write_header(out, room, 8, SL_H2F_PING, ack ? SL_H2F_F_ACK : 0,
			    0);
	memcpy(out + SL_H2F_HEADER_LEN, opaque, 8);
	return SL_H2F_HEADER_LEN + 8;
}

/* A frame of a 4-byte payload v. */
static size_t
write_u32_frame(uint8_t *out, size_t room, uint8_t type, uint32_t stream_id,
		uint32_t v)
{
	if (room < SL_H2F_HEADER_LEN + 4)
		return 0;
	sl_h2f_write_header(out, room, 4, type, 0, stream_id);
	put32(out + SL_H2F_HEADER_LEN, v);
	return SL_H2F_HEADER_LEN + 4;
}

size_t
sl_h2f_write_window_update(uint8_t *out, size_t room, uint32_t stream_id,
			   uint32_t increment)
{
	return write_u32_frame(out, room, SL_H2F_WINDOW_UPDATE, stream_id,
			       increment & SL_H2F_MAX_WINDOW);
}

size_t
sl_h2f_write_rst_stream(uint8_t *out, size_t room, uint32_t stream_id,
			uint32_t code)
{
	return write_u32_frame(out, room, SL_H2F_RST_STREAM, stream_id, code);
}

size_t
sl_h2f_write_goaway(uint8_t *out, size_t room, uint32_t last_id, uint32_t code,
		    const uint8_t *debug, size_t debug_len)
{
	size_t len = SL_H2F_HEADER_LEN + 8 + debug_len;

	if (room < len || 8 + debug_len > SL_H2F_MAX_FRAME_MIN)
		return 0;
	sl_h2f_write_header(out, room, (uint32_t)(8 + debug_len), SL_H2F_GOAWAY,
			    0, 0);
	put32(out + SL_H2F_HEADER_LEN, last_id & SL_H2F_MAX_STREAM_ID);
	put32(out + SL_H2F_HEADER_LEN + 4, code);
	if (debug_len > 0)
		memcpy(out + SL_H2F_HEADER_LEN + 8, debug, debug_len);
	return len;
}

size_t
sl_h2f_write_data_header(uint8_t *out, size_t room, uint32_t stream_id,
			 uint32_t length, int end_stream)
{
	if (length > SL_H2F_MAX_FRAME_MAX)
		return 0;
	return sl_h2f_write_header(out, room, length, SL_H2F_DATA,
				   end_stream ? SL_H2F_F_END_STREAM : 0,
				   stream_id);
}

size_t
sl_h2f_headers_size(size_t block_len, uint32_t max_frame)
{
	size_t nframes =
	    block_len == 0 ? 1 : (block_len + max_frame - 1) / max_frame;

	return nframes * SL_H2F_HEADER_LEN + block_len;
}

size_t
sl_h2f_write_headers(uint8_t *out, size_t room, uint32_t stream_id,
		     const uint8_t *block, size_t block_len, uint32_t max_frame,
		     int end_stream)
{
	size_t total, off = 0, n, w = 0;
	uint8_t type = SL_H2F_HEADERS, flags;

	if (max_frame < SL_H2F_MAX_FRAME_MIN ||
	    max_frame > SL_H2F_MAX_FRAME_MAX)
		return 0;
	total = sl_h2f_headers_size(block_len, max_frame);
	if (room < total)
		return 0;
	flags = end_stream ? SL_H2F_F_END_STREAM : 0;
	do {
		n = block_len - off < max_frame ? block_len - off : max_frame;
		if (off + n == block_len)
			flags |= SL_H2F_F_END_HEADERS;
		w += sl_h2f_write_header(out + w, room - w, (uint32_t)n, type,
					 flags, stream_id);
		if (n > 0)
			memcpy(out + w, block + off, n);
		w += n;
		off += n;
		type = SL_H2F_CONTINUATION;
		flags = 0;
	} while (off < block_len);
	return w;
}
