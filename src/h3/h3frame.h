/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3 frames after RFC 9114 section 7, on QUIC's variable-length
 * integers (RFC 9000 section 16): the integers, a frame header reader that
 * takes bytes in pieces, SETTINGS, GOAWAY, MAX_PUSH_ID and CANCEL_PUSH,
 * which frame may come on which stream, the unidirectional stream types,
 * and the error codes of HTTP/3 and QPACK. Pure: no I/O, no malloc, no
 * global state; buffers are the caller's. Streams themselves are QUIC's
 * (src/quic): here a stream is only its kind.
 */
#ifndef SL_H3_FRAME_H
#define SL_H3_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* ---- QUIC's variable-length integers (RFC 9000 section 16) ---------------*/

#define SL_H3_VARINT_MAX ((UINT64_C(1) << 62) - 1)

/* Bytes of the integer whose first byte is b: 1, 2, 4 or 8. */
#define SL_H3_VARINT_LEN(b) ((size_t)1 << ((b) >> 6))

/* Reads an integer at p (len bytes there). Returns its bytes, or 0 when
 * len is too short for it. */
size_t sl_h3_varint_read(const uint8_t *p, size_t len, uint64_t *v);

/* Bytes v takes in its shortest form, or 0 when v > SL_H3_VARINT_MAX. */
size_t sl_h3_varint_size(uint64_t v);

/* Writes v in its shortest form. Returns the bytes written, or 0 when
 * room is too small or v > SL_H3_VARINT_MAX. */
size_t sl_h3_varint_write(uint8_t *out, size_t room, uint64_t v);

/* ---- error codes (RFC 9114 section 8.1, RFC 9204 section 6) --------------*/

enum sl_h3_err {
	SL_H3_NO_ERROR = 0x100,
	SL_H3_GENERAL_PROTOCOL_ERROR = 0x101,
	SL_H3_INTERNAL_ERROR = 0x102,
	SL_H3_STREAM_CREATION_ERROR = 0x103,
	SL_H3_CLOSED_CRITICAL_STREAM = 0x104,
	SL_H3_FRAME_UNEXPECTED = 0x105,
	SL_H3_FRAME_ERROR = 0x106,
	SL_H3_EXCESSIVE_LOAD = 0x107,
	SL_H3_ID_ERROR = 0x108,
	SL_H3_SETTINGS_ERROR = 0x109,
	SL_H3_MISSING_SETTINGS = 0x10a,
	SL_H3_REQUEST_REJECTED = 0x10b,
	SL_H3_REQUEST_CANCELLED = 0x10c,
	SL_H3_REQUEST_INCOMPLETE = 0x10d,
	SL_H3_MESSAGE_ERROR = 0x10e,
	SL_H3_CONNECT_ERROR = 0x10f,
	SL_H3_VERSION_FALLBACK = 0x110,
	SL_QPACK_DECOMPRESSION_FAILED = 0x200,
	SL_QPACK_ENCODER_STREAM_ERROR = 0x201,
	SL_QPACK_DECODER_STREAM_ERROR = 0x202,
};

/* "H3_FRAME_UNEXPECTED", ..., "UNKNOWN": for logs. */
const char *sl_h3_err_str(uint64_t code);

/* ---- frame types (RFC 9114 section 7.2) ----------------------------------*/

enum sl_h3f_type {
	SL_H3F_DATA = 0x00,
	SL_H3F_HEADERS = 0x01,
	SL_H3F_CANCEL_PUSH = 0x03,
	SL_H3F_SETTINGS = 0x04,
	SL_H3F_PUSH_PROMISE = 0x05,
	SL_H3F_GOAWAY = 0x07,
	SL_H3F_MAX_PUSH_ID = 0x0d,
};

/* Whether type is reserved for greasing (0x1f * N + 0x21, section 7.2.8;
 * the same form names reserved settings, stream types and error codes). */
#define SL_H3_RESERVED(type)                                                   \
	((type) >= 0x21 && ((uint64_t)(type)-0x21) % 0x1f == 0)

/* "DATA", "HEADERS", ..., "UNKNOWN": for logs. */
const char *sl_h3f_type_str(uint64_t type);

/* ---- the frame header reader ---------------------------------------------*/

/*
 * A frame header, type and length (section 7.1), read from a stream's
 * bytes as they come: zero it before a frame, feed it until it says
 * done, then the payload (length bytes) is the caller's to read; zero it
 * again for the next frame.
 */
struct sl_h3f_reader {
	uint64_t type;	 /* read: the frame's type, when done */
	uint64_t length; /* read: its payload's bytes, when done */
	uint8_t buf[8];	 /* the integer being read, so far */
	uint8_t got;	 /* bytes of it in buf */
	uint8_t part;	 /* 0: the type; 1: the length; 2: done */
};

/* Feeds bytes: takes at most what the header still needs. Returns the
 * bytes taken (the rest of in is the payload's, or the next frame's);
 * r->part == 2 once the header is whole. */
size_t sl_h3f_reader_feed(struct sl_h3f_reader *r, const uint8_t *in,
			  size_t len);

/* Writes a frame header. Returns its bytes (2 to 16), or 0 when room is
 * too small or a value too large. */
size_t sl_h3f_write_header(uint8_t *out, size_t room, uint64_t type,
			   uint64_t length);

/* ---- which frame on which stream (section 7.2, table 1) -----------------*/

/* The kinds of stream frames come on. */
enum sl_h3_stream_kind {
	SL_H3_STREAM_REQUEST, /* a bidirectional stream */
	SL_H3_STREAM_CONTROL,
	SL_H3_STREAM_PUSH,
};

/* What sl_h3f_check says of a frame when it breaks no rule. */
#define SL_H3F_TAKE   0 /* a frame to read */
#define SL_H3F_IGNORE 1 /* an unknown or reserved type: skip its payload */

/*
 * Whether a frame of type may come on a stream of kind from the peer:
 * first says it is the stream's first frame; peer_is_client that the
 * peer is a client (sluice as a server) or not. On the control stream
 * the first frame must be SETTINGS (else H3_MISSING_SETTINGS, whatever
 * the type) and never comes again; DATA, HEADERS and PUSH_PROMISE never
 * come there; MAX_PUSH_ID only from a client. On a request or push
 * stream only DATA and HEADERS, and PUSH_PROMISE on a request stream from
 * a server. HTTP/2's types with no HTTP/3 meaning (0x02, 0x06, 0x08,
 * 0x09) are errors everywhere. Returns SL_H3F_TAKE, SL_H3F_IGNORE, or
 * the error code of a connection error (H3_FRAME_UNEXPECTED,
 * H3_MISSING_SETTINGS).
 */
int sl_h3f_check(enum sl_h3_stream_kind kind, uint64_t type, int first,
		 int peer_is_client);

/*
 * The order of a message's frames on a request or push stream (section
 * 4.1): HEADERS, DATA frames, then trailing HEADERS, then nothing that
 * sl_h3f_check takes. state starts at 0; interim says that a HEADERS
 * frame held an informational (1xx) response, so another HEADERS may
 * follow it. Returns 0 and advances *state, or H3_FRAME_UNEXPECTED.
 */
int sl_h3f_message_next(uint8_t *state, uint64_t type, int interim);

/* ---- SETTINGS (section 7.2.4, RFC 9204 section 5) ------------------------*/

enum sl_h3_setting_id {
	SL_H3_SET_QPACK_MAX_TABLE_CAPACITY = 0x01,
	SL_H3_SET_MAX_FIELD_SECTION_SIZE = 0x06,
	SL_H3_SET_QPACK_BLOCKED_STREAMS = 0x07,
	SL_H3_SET_ENABLE_CONNECT_PROTOCOL = 0x08, /* RFC 9220 */
};

/* What a peer's SETTINGS said, or the defaults where it said nothing. */
struct sl_h3_settings {
	uint64_t max_field_section_size;   /* UINT64_MAX: no limit */
	uint64_t qpack_max_table_capacity; /* 0 */
	uint64_t qpack_blocked_streams;	   /* 0 */
	uint8_t enable_connect_protocol;   /* 0 */
};

/* The defaults (section 7.2.4.2: no limit, QPACK with no table). */
void sl_h3_settings_init(struct sl_h3_settings *s);

/*
 * Reads a SETTINGS frame's payload into s (from sl_h3_settings_init):
 * identifiers it does not know are ignored, reserved ones included.
 * Returns 0, H3_FRAME_ERROR for a payload that ends inside an integer,
 * or H3_SETTINGS_ERROR for HTTP/2's identifiers 0x02 to 0x05, for an
 * identifier it knows given twice (unknown ones are not remembered;
 * section 7.2.4 lets a receiver treat duplicates as an error, not
 * obliges it), or for ENABLE_CONNECT_PROTOCOL above 1.
 */
int sl_h3_settings_parse(const uint8_t *p, size_t len,
			 struct sl_h3_settings *s);

/*
 * Writes a whole SETTINGS frame (header and payload) saying s: each
 * setting that differs from its default, and the reserved setting
 * grease (0x1f * N + 0x21 for some N, any value) when it is not 0, so
 * that peers keep ignoring identifiers they do not know. Returns the
 * bytes written, or 0 when room is too small.
 */
size_t sl_h3_settings_write(uint8_t *out, size_t room,
			    const struct sl_h3_settings *s, uint64_t grease);

/* ---- frames of one integer: GOAWAY, MAX_PUSH_ID, CANCEL_PUSH -------------*/

/* Reads the payload of a GOAWAY, MAX_PUSH_ID or CANCEL_PUSH frame: one
 * integer, filling it exactly. Returns 0, or H3_FRAME_ERROR. */
int sl_h3f_id_parse(const uint8_t *p, size_t len, uint64_t *id);

/* Writes a whole frame of type whose payload is id. Returns the bytes
 * written, or 0 when room is too small or id too large. */
size_t sl_h3f_id_write(uint8_t *out, size_t room, uint64_t type, uint64_t id);

/*
 * A GOAWAY from the peer, after the last one it sent (prev; UINT64_MAX
 * before the first): a server's names a client-initiated bidirectional
 * stream (a multiple of 4), a client's a push id; neither may grow
 * (section 5.2). Returns 0, or H3_ID_ERROR.
 */
int sl_h3f_goaway_check(uint64_t prev, uint64_t id, int peer_is_client);

/* A MAX_PUSH_ID from a client, after the last one (prev; UINT64_MAX
 * before the first): it may not shrink (section 7.2.7). Returns 0, or
 * H3_ID_ERROR. A CANCEL_PUSH from a client names a push the server
 * promised; sluice promises none, so every one is H3_ID_ERROR (section
 * 7.2.3): the codec's to say, after sl_h3f_id_parse. */
int sl_h3f_max_push_check(uint64_t prev, uint64_t id);

/* ---- unidirectional streams (section 6.2) --------------------------------*/

enum sl_h3_uni_type {
	SL_H3_UNI_CONTROL = 0x00,
	SL_H3_UNI_PUSH = 0x01,
	SL_H3_UNI_QPACK_ENCODER = 0x02, /* RFC 9204 section 4.2 */
	SL_H3_UNI_QPACK_DECODER = 0x03,
};

/* The peer's unidirectional streams so far: zero it per connection. */
struct sl_h3_uni_seen {
	uint8_t mask; /* 1 << type of each critical stream opened */
};

/* What to do with a new unidirectional stream from the peer. */
#define SL_H3_UNI_IGNORE                                                       \
	0xff /* a reserved or unknown type: the stream                         \
		is read and dropped (or stopped, with                          \
		H3_STREAM_CREATION_ERROR) */

/*
 * A new unidirectional stream of type from the peer. Returns 0 and sets
 * *what to the type (SL_H3_UNI_*) or SL_H3_UNI_IGNORE; or
 * H3_STREAM_CREATION_ERROR for a second control, encoder or decoder
 * stream, or a push stream from a client (only servers push).
 */
int sl_h3_uni_open(struct sl_h3_uni_seen *u, uint64_t type, int peer_is_client,
		   unsigned *what);

#endif
