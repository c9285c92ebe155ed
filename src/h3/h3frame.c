/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3 frames (RFC 9114 section 7) on QUIC's variable-length integers
 * (RFC 9000 section 16): the rules a frame meets by its type and its
 * stream, and the readers and writers of the frames of the control
 * stream. No I/O, no allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "h3frame.h"

/* ---- integers ------------------------------------------------------------*/

size_t
sl_h3_varint_read(const uint8_t *p, size_t len, uint64_t *v)
{
	size_t n;
	uint64_t x;

	if (len == 0)
		return 0;
	n = SL_H3_VARINT_LEN(p[0]);
	if (len < n)
		return 0;
	x = p[0] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return n;
}

size_t
sl_h3_varint_size(uint64_t v)
{
	if (v < 64)
		return 1;
	if (v < 16384)
		return 2;
	if (v < (UINT64_C(1) << 30))
		return 4;
	return v <= SL_H3_VARINT_MAX ? 8 : 0;
}

size_t
sl_h3_varint_write(uint8_t *out, size_t room, uint64_t v)
{
	size_t n = sl_h3_varint_size(v);
	static const uint8_t prefix[9] = {
	    [1] = 0x00, [2] = 0x40, [4] = 0x80, [8] = 0xc0};

	if (n == 0 || room < n)
		return 0;
	for (size_t i = n; i-- > 0; v >>= 8)
		out[i] = (uint8_t)v;
	out[0] |= prefix[n];
	return n;
}

/* ---- names, for logs -----------------------------------------------------*/

const char *
sl_h3_err_str(uint64_t code)
{
	static const char *const h3[] = {
	    "H3_NO_ERROR",
	    "H3_GENERAL_PROTOCOL_ERROR",
	    "H3_INTERNAL_ERROR",
	    "H3_STREAM_CREATION_ERROR",
	    "H3_CLOSED_CRITICAL_STREAM",
	    "H3_FRAME_UNEXPECTED",
	    "H3_FRAME_ERROR",
	    "H3_EXCESSIVE_LOAD",
	    "H3_ID_ERROR",
	    "H3_SETTINGS_ERROR",
	    "H3_MISSING_SETTINGS",
	    "H3_REQUEST_REJECTED",
	    "H3_REQUEST_CANCELLED",
	    "H3_REQUEST_INCOMPLETE",
	    "H3_MESSAGE_ERROR",
	    "H3_CONNECT_ERROR",
	    "H3_VERSION_FALLBACK",
	};
	static const char *const qpack[] = {
	    "QPACK_DECOMPRESSION_FAILED",
	    "QPACK_ENCODER_STREAM_ERROR",
	    "QPACK_DECODER_STREAM_ERROR",
	};

	if (code >= SL_H3_NO_ERROR && code <= SL_H3_VERSION_FALLBACK)
		return h3[code - SL_H3_NO_ERROR];
	if (code >= SL_QPACK_DECOMPRESSION_FAILED &&
	    code <= SL_QPACK_DECODER_STREAM_ERROR)
		return qpack[code - SL_QPACK_DECOMPRESSION_FAILED];
	return "UNKNOWN";
}

const char *
sl_h3f_type_str(uint64_t type)
{
	switch (type) {
	case SL_H3F_DATA:
		return "DATA";
	case SL_H3F_HEADERS:
		return "HEADERS";
	case SL_H3F_CANCEL_PUSH:
		return "CANCEL_PUSH";
	case SL_H3F_SETTINGS:
		return "SETTINGS";
	case SL_H3F_PUSH_PROMISE:
		return "PUSH_PROMISE";
	case SL_H3F_GOAWAY:
		return "GOAWAY";
	case SL_H3F_MAX_PUSH_ID:
		return "MAX_PUSH_ID";
	default:
		return SL_H3_RESERVED(type) ? "RESERVED" : "UNKNOWN";
	}
}

/* ---- the frame header ----------------------------------------------------*/

size_t
sl_h3f_reader_feed(struct sl_h3f_reader *r, const uint8_t *in, size_t len)
{
	size_t taken = 0;

	while (r->part < 2 && taken < len) {
		size_t need, n;
		uint64_t v = 0;

		if (r->got == 0)
			r->buf[r->got++] = in[taken++];
		need = SL_H3_VARINT_LEN(r->buf[0]);
		n = need - r->got;
		if (n > len - taken)
			n = len - taken;
		memcpy(r->buf + r->got, in + taken, n);
		r->got = (uint8_t)(r->got + n);
		taken += n;
		if (r->got < need)
			break;
		(void)sl_h3_varint_read(r->buf, need, &v);
		if (r->part == 0)
			r->type = v;
		else
			r->length = v;
		r->part++;
		r->got = 0;
	}
	return taken;
}

size_t
sl_h3f_write_header(uint8_t *out, size_t room, uint64_t type, uint64_t length)
{
	size_t n = sl_h3_varint_write(out, room, type), m;

	if (n == 0)
		return 0;
	m = sl_h3_varint_write(out + n, room - n, length);
	return m == 0 ? 0 : n + m;
}

/* ---- which frame on which stream -----------------------------------------*/

/* HTTP/2's frame types that HTTP/3 reserves without a meaning (section
 * 7.2.8): PRIORITY, PING, WINDOW_UPDATE, CONTINUATION. */
static int
h2_only(uint64_t type)
{
	return type == 0x02 || type == 0x06 || type == 0x08 || type == 0x09;
}

int
sl_h3f_check(enum sl_h3_stream_kind kind, uint64_t type, int first,
	     int peer_is_client)
{
	if (kind == SL_H3_STREAM_CONTROL) {
		/* SETTINGS first, whatever comes (section 6.2.1) */
		if (first)
			return type == SL_H3F_SETTINGS ? SL_H3F_TAKE
						       : SL_H3_MISSING_SETTINGS;
		switch (type) {
		case SL_H3F_CANCEL_PUSH:
		case SL_H3F_GOAWAY:
			return SL_H3F_TAKE;
		case SL_H3F_MAX_PUSH_ID: /* a client's, to its server */
			return peer_is_client ? SL_H3F_TAKE
					      : SL_H3_FRAME_UNEXPECTED;
		case SL_H3F_DATA:
		case SL_H3F_HEADERS:
		case SL_H3F_SETTINGS:
		case SL_H3F_PUSH_PROMISE:
			return SL_H3_FRAME_UNEXPECTED;
		}
	} else {
		switch (type) {
		case SL_H3F_DATA:
		case SL_H3F_HEADERS:
			return SL_H3F_TAKE;
		case SL_H3F_PUSH_PROMISE: /* a server's, on a request */
			return kind == SL_H3_STREAM_REQUEST && !peer_is_client
				   ? SL_H3F_TAKE
				   : SL_H3_FRAME_UNEXPECTED;
		case SL_H3F_CANCEL_PUSH:
		case SL_H3F_SETTINGS:
		case SL_H3F_GOAWAY:
		case SL_H3F_MAX_PUSH_ID:
			return SL_H3_FRAME_UNEXPECTED;
		}
	}
	return h2_only(type) ? SL_H3_FRAME_UNEXPECTED : SL_H3F_IGNORE;
}

/* The message's states: before its head (or after an interim one), in
 * its body, after its trailers. */
enum { MSG_HEAD = 0, MSG_BODY = 1, MSG_DONE = 2 };

int
sl_h3f_message_next(uint8_t *state, uint64_t type, int interim)
{
	switch (type) {
	case SL_H3F_HEADERS:
		if (*state == MSG_DONE)
			return SL_H3_FRAME_UNEXPECTED;
		if (*state == MSG_HEAD)
			*state = interim ? MSG_HEAD : MSG_BODY;
		else
			*state = MSG_DONE; /* trailers */
		return 0;
	case SL_H3F_DATA:
		return *state == MSG_BODY ? 0 : SL_H3_FRAME_UNEXPECTED;
	default: /* PUSH_PROMISE, and what is ignored: anywhere */
		return 0;
	}
}

/* ---- SETTINGS ------------------------------------------------------------*/

void
sl_h3_settings_init(struct sl_h3_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->max_field_section_size = UINT64_MAX;
}

int
sl_h3_settings_parse(const uint8_t *p, size_t len, struct sl_h3_settings *s)
{
	unsigned seen = 0;

	while (len > 0) {
		uint64_t id, v;
		size_t n = sl_h3_varint_read(p, len, &id), m;

		if (n == 0 || (m = sl_h3_varint_read(p + n, len - n, &v)) == 0)
			return SL_H3_FRAME_ERROR;
		p += n + m;
		len -= n + m;
		if (id >= 0x02 && id <= 0x05) /* HTTP/2's (section 7.2.4.1) */
			return SL_H3_SETTINGS_ERROR;
		if (id > SL_H3_SET_ENABLE_CONNECT_PROTOCOL)
			continue;
		if (seen & (1u << id))
			return SL_H3_SETTINGS_ERROR;
		seen |= 1u << id;
		switch (id) {
		case SL_H3_SET_QPACK_MAX_TABLE_CAPACITY:
			s->qpack_max_table_capacity = v;
			break;
		case SL_H3_SET_MAX_FIELD_SECTION_SIZE:
			s->max_field_section_size = v;
			break;
		case SL_H3_SET_QPACK_BLOCKED_STREAMS:
			s->qpack_blocked_streams = v;
			break;
		case SL_H3_SET_ENABLE_CONNECT_PROTOCOL:
			if (v > 1) /* RFC 9220 section 3 */
				return SL_H3_SETTINGS_ERROR;
			s->enable_connect_protocol = (uint8_t)v;
			break;
		}
	}
	return 0;
}

/* Writes one setting at *n of out; returns -1 when room is short. */
static int
put_setting(uint8_t *out, size_t room, size_t *n, uint64_t id, uint64_t v)
{
	size_t a = sl_h3_varint_write(out + *n, room - *n, id), b;

	if (a == 0)
		return -1;
	b = sl_h3_varint_write(out + *n + a, room - *n - a, v);
	if (b == 0)
		return -1;
	*n += a + b;
	return 0;
}

size_t
sl_h3_settings_write(uint8_t *out, size_t room, const struct sl_h3_settings *s,
		     uint64_t grease)
{
	uint8_t pl[64]; /* five settings, 9 bytes each at most */
	size_t n = 0, h;
	int bad = 0;

	if (s->qpack_max_table_capacity != 0)
		bad |= put_setting(pl, sizeof(pl), &n,
				   SL_H3_SET_QPACK_MAX_TABLE_CAPACITY,
				   s->qpack_max_table_capacity);
	if (s->max_field_section_size != UINT64_MAX)
		bad |= put_setting(pl, sizeof(pl), &n,
				   SL_H3_SET_MAX_FIELD_SECTION_SIZE,
				   s->max_field_section_size);
	if (s->qpack_blocked_streams != 0)
		bad |= put_setting(pl, sizeof(pl), &n,
				   SL_H3_SET_QPACK_BLOCKED_STREAMS,
				   s->qpack_blocked_streams);
	if (s->enable_connect_protocol)
		bad |= put_setting(pl, sizeof(pl), &n,
				   SL_H3_SET_ENABLE_CONNECT_PROTOCOL, 1);
	if (grease != 0)
		bad |= put_setting(pl, sizeof(pl), &n, grease, 0);
	if (bad)
		return 0;
	h = sl_h3f_write_header(out, room, SL_H3F_SETTINGS, n);
	if (h == 0 || room - h < n)
		return 0;
	memcpy(out + h, pl, n);
	return h + n;
}

/* ---- frames of one integer -----------------------------------------------*/

int
sl_h3f_id_parse(const uint8_t *p, size_t len, uint64_t *id)
{
	size_t n = sl_h3_varint_read(p, len, id);

	return n != 0 && n == len ? 0 : SL_H3_FRAME_ERROR;
}

size_t
sl_h3f_id_write(uint8_t *out, size_t room, uint64_t type, uint64_t id)
{
	size_t len = sl_h3_varint_size(id), h;

	if (len == 0)
		return 0;
	h = sl_h3f_write_header(out, room, type, len);
	if (h == 0 || sl_h3_varint_write(out + h, room - h, id) == 0)
		return 0;
	return h + len;
}

int
sl_h3f_goaway_check(uint64_t prev, uint64_t id, int peer_is_client)
{
	if (!peer_is_client && id % 4 != 0)
		return SL_H3_ID_ERROR;
	return prev != UINT64_MAX && id > prev ? SL_H3_ID_ERROR : 0;
}

int
sl_h3f_max_push_check(uint64_t prev, uint64_t id)
{
	return prev != UINT64_MAX && id < prev ? SL_H3_ID_ERROR : 0;
}

/* ---- unidirectional streams ----------------------------------------------*/

int
sl_h3_uni_open(struct sl_h3_uni_seen *u, uint64_t type, int peer_is_client,
	       unsigned *what)
{
	switch (type) {
	case SL_H3_UNI_PUSH:
		if (peer_is_client)
			return SL_H3_STREAM_CREATION_ERROR;
		*what = SL_H3_UNI_PUSH;
		return 0;
	case SL_H3_UNI_CONTROL:
	case SL_H3_UNI_QPACK_ENCODER:
	case SL_H3_UNI_QPACK_DECODER:
		/* one of each (RFC 9114 section 6.2.1, RFC 9204 4.2) */
		if (u->mask & (1u << type))
			return SL_H3_STREAM_CREATION_ERROR;
		u->mask |= (uint8_t)(1u << type);
		*what = (unsigned)type;
		return 0;
	default:
		*what = SL_H3_UNI_IGNORE;
		return 0;
	}
}
