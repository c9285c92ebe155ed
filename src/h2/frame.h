/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 frames after RFC 9113 sections 4 to 6: the frame header, a
 * resumable reader of a connection's bytes with every per-frame rule, the
 * stream states of section 5.1 as a pure function, flow-control arithmetic
 * and the writers of the frames sluice sends. Pure: no I/O, no malloc, no
 * global state; buffers are the caller's.
 */
#ifndef SL_H2_FRAME_H
#define SL_H2_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SL_H2F_HEADER_LEN     9
#define SL_H2F_PREFACE	      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define SL_H2F_PREFACE_LEN    24
#define SL_H2F_MAX_FRAME_MIN  16384	 /* SETTINGS_MAX_FRAME_SIZE's least */
#define SL_H2F_MAX_FRAME_MAX  16777215	 /* and its most (2^24-1) */
#define SL_H2F_MAX_WINDOW     2147483647 /* 2^31-1 */
#define SL_H2F_INITIAL_WINDOW 65535
#define SL_H2F_MAX_STREAM_ID  0x7fffffffu

/* Frame types (section 6). Others are extensions: ignored. */
enum sl_h2f_type {
	SL_H2F_DATA = 0,
	SL_H2F_HEADERS = 1,
	SL_H2F_PRIORITY = 2,
	SL_H2F_RST_STREAM = 3,
	SL_H2F_SETTINGS = 4,
	SL_H2F_PUSH_PROMISE = 5,
	SL_H2F_PING = 6,
	SL_H2F_GOAWAY = 7,
	SL_H2F_WINDOW_UPDATE = 8,
	SL_H2F_CONTINUATION = 9,
};

/* Flags, by the types they belong to. */
#define SL_H2F_F_END_STREAM  0x01 /* DATA, HEADERS */
#define SL_H2F_F_ACK	     0x01 /* SETTINGS, PING */
#define SL_H2F_F_END_HEADERS 0x04 /* HEADERS, PUSH_PROMISE, CONTINUATION */
#define SL_H2F_F_PADDED	     0x08 /* DATA, HEADERS, PUSH_PROMISE */
#define SL_H2F_F_PRIORITY    0x20 /* HEADERS */

/* Error codes (section 7). */
enum sl_h2f_err {
	SL_H2F_NO_ERROR = 0x0,
	SL_H2F_PROTOCOL_ERROR = 0x1,
	SL_H2F_INTERNAL_ERROR = 0x2,
	SL_H2F_FLOW_CONTROL_ERROR = 0x3,
	SL_H2F_SETTINGS_TIMEOUT = 0x4,
	SL_H2F_STREAM_CLOSED = 0x5,
	SL_H2F_FRAME_SIZE_ERROR = 0x6,
	SL_H2F_REFUSED_STREAM = 0x7,
	SL_H2F_CANCEL = 0x8,
	SL_H2F_COMPRESSION_ERROR = 0x9,
	SL_H2F_CONNECT_ERROR = 0xa,
	SL_H2F_ENHANCE_YOUR_CALM = 0xb,
	SL_H2F_INADEQUATE_SECURITY = 0xc,
	SL_H2F_HTTP_1_1_REQUIRED = 0xd,
};

/* SETTINGS identifiers (section 6.5.2; RFC 8441 section 3; RFC 9218
 * section 2.1). */
enum sl_h2f_setting_id {
	SL_H2F_SET_HEADER_TABLE_SIZE = 0x1,
	SL_H2F_SET_ENABLE_PUSH = 0x2,
	SL_H2F_SET_MAX_CONCURRENT_STREAMS = 0x3,
	SL_H2F_SET_INITIAL_WINDOW_SIZE = 0x4,
	SL_H2F_SET_MAX_FRAME_SIZE = 0x5,
	SL_H2F_SET_MAX_HEADER_LIST_SIZE = 0x6,
	SL_H2F_SET_ENABLE_CONNECT_PROTOCOL = 0x8,
	SL_H2F_SET_NO_RFC7540_PRIORITIES = 0x9,
};

/* "DATA", "HEADERS", ..., "UNKNOWN": for logs. */
const char *sl_h2f_type_str(unsigned type);
/* "PROTOCOL_ERROR", ..., "UNKNOWN": for logs. */
const char *sl_h2f_err_str(uint32_t code);

/* A frame header (section 4.1). */
struct sl_h2f_header {
	uint32_t length;    /* of the payload, bytes (24 bits) */
	uint8_t type;	    /* enum sl_h2f_type, or an extension's */
	uint8_t flags;	    /* SL_H2F_F_* */
	uint32_t stream_id; /* 31 bits, the reserved bit dropped */
};

/* Reads the 9 bytes at p into h. */
void sl_h2f_header_parse(struct sl_h2f_header *h, const uint8_t *p);

/*
 * Writes a frame header: length (< 2^24), type, flags, stream id (the
 * reserved bit written 0). Returns 9, or 0 when room < 9.
 */
size_t sl_h2f_write_header(uint8_t *out, size_t room, uint32_t length,
			   uint8_t type, uint8_t flags, uint32_t stream_id);

/* ---- the reader ----------------------------------------------------------*/

/*
 * The state of one connection's incoming bytes. Zero it or not; then
 * sl_h2f_reader_init. Only the fields marked "read" are the caller's to
 * look at.
 */
struct sl_h2f_reader {
	uint8_t *buf;		 /* borrowed: where a payload split across reads
				    is gathered, buf_len >= max_frame bytes */
	size_t buf_len;		 /* bytes */
	uint32_t max_frame;	 /* SETTINGS_MAX_FRAME_SIZE sluice announced */
	uint32_t need;		 /* bytes left of the current part */
	uint32_t got;		 /* bytes of it gathered in hdr[] or buf */
	uint32_t cont_sid;	 /* read: the stream of a header block waiting
				    for CONTINUATION, 0 when none */
	uint32_t ncont;		 /* read: CONTINUATIONs in that block so far */
	uint32_t pad;		 /* DATA: padding bytes left to skip */
	struct sl_h2f_header hd; /* the current frame's */
	uint32_t code;	       /* read: enum sl_h2f_err of a connection error */
	const char *why;       /* read: which rule it broke, for logs */
	uint8_t state;	       /* private */
	uint8_t first;	       /* DATA: no event yet for this frame */
	uint8_t is_server;     /* expects the client preface; refuses
				  PUSH_PROMISE (so does the client: sluice
				  never enables push) */
	uint8_t connect_proto; /* the peer announced
				  ENABLE_CONNECT_PROTOCOL 1 */
	uint8_t settings_seen; /* the peer's first SETTINGS came */
	uint8_t no7540;	       /* its SETTINGS_NO_RFC7540_PRIORITIES, fixed
				  by its first SETTINGS; 2 until then */
	uint8_t hdr[SL_H2F_HEADER_LEN];
};

/*
 * Prepares r for a new connection. is_server: the peer is a client, whose
 * bytes start with SL_H2F_PREFACE. buf (borrowed, buf_len bytes) holds a
 * payload that arrives in pieces; max_frame is the SETTINGS_MAX_FRAME_SIZE
 * sluice announces (16384 until it says otherwise). Returns 0, or -1 when
 * buf_len < max_frame or max_frame is out of 16384..16777215.
 */
int sl_h2f_reader_init(struct sl_h2f_reader *r, int is_server, uint8_t *buf,
		       size_t buf_len, uint32_t max_frame);

/*
 * Raises or lowers the frame size the reader allows (once the peer has
 * acknowledged sluice's SETTINGS that announced it). Returns 0, or -1
 * (nothing changed) when it is out of range or over buf_len.
 */
int sl_h2f_reader_set_max_frame(struct sl_h2f_reader *r, uint32_t max_frame);

/* Bytes of a payload split across reads that r holds in its buffer (0:
 * none, and the caller may lend it another buffer before the next
 * call). */
uint32_t sl_h2f_reader_held(const struct sl_h2f_reader *r);

/* What sl_h2f_read found. Pointers are valid until the next call. */
struct sl_h2f_event {
	struct sl_h2f_header hd; /* the frame's header, as sent */
	const uint8_t *data;	 /* DATA: this piece of the data (padding
				    left out); HEADERS: the block fragment
				    (padding and priority left out);
				    CONTINUATION: the fragment; SETTINGS: the
				    payload (sl_h2f_setting_at); PING: the 8
				    bytes; GOAWAY: the debug data */
	size_t len;		 /* bytes at data */
	uint32_t code;		 /* RST_STREAM, GOAWAY: the peer's error code;
				    SL_H2F_EV_STREAM_ERROR: the code to reset
				    the stream with; HEADERS: 0, or the code to
				    reset it with once its block is decoded
				    (a stream depending on itself) */
	uint32_t value;		 /* WINDOW_UPDATE: the increment; GOAWAY: the
				    last stream id; PRIORITY: the stream it
				    depends on */
	uint8_t first;		 /* DATA: the frame's first piece (count
				    hd.length against the windows then) */
	uint8_t last;		 /* DATA: its last piece (END_STREAM, in
				    hd.flags, applies then) */
};

/* sl_h2f_read's results. */
#define SL_H2F_EV_NONE	0 /* all of the input used, more needed */
#define SL_H2F_EV_FRAME 1 /* a frame, or a piece of DATA */
#define SL_H2F_EV_STREAM_ERROR                                                 \
	2			/* a frame broke a rule of its stream's        \
				   (RST_STREAM ev->code); read on */
#define SL_H2F_EV_CONN_ERROR -1 /* GOAWAY r->code, r->why */

/*
 * Reads in[0 .. len), continuing where the last call stopped: any split of
 * a connection's bytes gives the same frames, errors and DATA bytes (DATA
 * comes in as many pieces as the input was cut into, each with what it
 * holds). *used is set to the bytes taken. Returns:
 *   SL_H2F_EV_NONE          *used == len: call again with more bytes
 *   SL_H2F_EV_FRAME         *ev is a frame (DATA: a piece of one) that
 *                           passed the checks of sections 4 to 6 that need
 *                           no stream state: its length against max_frame,
 *                           its stream id zero or not, its length for its
 *                           type, padding, SETTINGS values, a zero
 *                           WINDOW_UPDATE on stream 0, CONTINUATION in
 *                           order. The stream's state is the caller's to
 *                           check (sl_h2f_stream_recv). Frames of unknown
 *                           types are skipped without an event (section
 *                           5.5), except inside a header block.
 *   SL_H2F_EV_STREAM_ERROR  the frame on ev->hd.stream_id broke a rule
 *                           whose error is the stream's (a PRIORITY of a
 *                           length other than 5, a stream depending on
 *                           itself, a zero WINDOW_UPDATE on a stream):
 *                           reset it with ev->code, unless the stream's
 *                           state says more first (sl_h2f_stream_recv: a
 *                           WINDOW_UPDATE on an idle stream is a
 *                           connection error, one on a closed stream is
 *                           ignored)
 *   SL_H2F_EV_CONN_ERROR    a connection error: r->code and r->why say
 *                           which, ev->hd is the header of the frame
 *                           that broke the rule (zeros for the
 *                           preface); every later call returns it again
 * Call again with in + *used, len - *used after an event.
 */
int sl_h2f_read(struct sl_h2f_reader *r, const uint8_t *in, size_t len,
		size_t *used, struct sl_h2f_event *ev);

/* The i-th of the len / 6 settings of a SETTINGS payload p. */
void sl_h2f_setting_at(const uint8_t *p, size_t i, uint16_t *id,
		       uint32_t *value);

/* ---- stream states (section 5.1) -----------------------------------------*/

/*
 * A stream's state as the caller keeps it. The closed state of section 5.1
 * comes in four, because what a late frame means depends on how the stream
 * closed; a server never enters the reserved states (push is off).
 */
enum sl_h2f_st {
	SL_H2F_ST_IDLE = 0,   /* not opened; the peer may open it */
	SL_H2F_ST_IDLE_LOCAL, /* not opened, of sluice's parity: the
				 peer may not open it */
	SL_H2F_ST_RESERVED_LOCAL,
	SL_H2F_ST_RESERVED_REMOTE,
	SL_H2F_ST_OPEN,
	SL_H2F_ST_HALF_CLOSED_LOCAL,  /* sluice sent END_STREAM */
	SL_H2F_ST_HALF_CLOSED_REMOTE, /* the peer sent END_STREAM */
	SL_H2F_ST_CLOSED,	      /* both sent END_STREAM */
	SL_H2F_ST_CLOSED_RESET_RECV,  /* the peer sent RST_STREAM */
	SL_H2F_ST_CLOSED_RESET_SENT,  /* sluice sent RST_STREAM */
	SL_H2F_ST_GONE,		      /* closed and forgotten: an id at or
					 below the highest the caller knew */
};

/* "idle", "open", "half_closed_remote", ...: for logs. */
const char *sl_h2f_st_str(enum sl_h2f_st st);

/*
 * The state of a stream id the caller keeps no record of: idle when above
 * the highest id its initiator has opened (last_peer_id for the peer's
 * parity, last_local_id for sluice's), else gone. is_server: sluice is the
 * server (the peer opens odd ids). Stream 0 is not a stream: gone.
 */
enum sl_h2f_st sl_h2f_stream_unknown(uint32_t id, int is_server,
				     uint32_t last_peer_id,
				     uint32_t last_local_id);

/* sl_h2f_stream_recv's verdicts. */
#define SL_H2F_ACCEPT 0 /* process the frame; *next is the state */
#define SL_H2F_IGNORE                                                          \
	1 /* drop it (a HEADERS block is still                                 \
	     decoded, DATA still counted against the                           \
	     connection's window) */
#define SL_H2F_STREAM_ERROR                                                    \
	2		    /* RST_STREAM *code (the same duties as            \
			       IGNORE for the frame) */
#define SL_H2F_CONN_ERROR 3 /* GOAWAY *code */

/*
 * What receiving a frame of type with flags on a stream in state st does
 * (sections 5.1, 5.1.1, 6.1, 6.2): returns a verdict, sets *next to the
 * stream's state after it and, for an error, *code. type is a frame that
 * sl_h2f_read passed (DATA once, on its first piece; CONTINUATION needs no
 * verdict of its own: its HEADERS had it). Among the rules:
 *   idle: HEADERS opens it (half-closed remote with END_STREAM); PRIORITY
 *     is accepted; anything else is a connection PROTOCOL_ERROR, so is
 *     HEADERS on an id of sluice's parity
 *   half-closed (remote): DATA, HEADERS: stream STREAM_CLOSED
 *   closed after both END_STREAMs: DATA, HEADERS: connection STREAM_CLOSED;
 *     WINDOW_UPDATE, RST_STREAM ignored
 *   closed by the peer's RST_STREAM: all but PRIORITY and RST_STREAM:
 *     stream STREAM_CLOSED
 *   closed by sluice's RST_STREAM: ignored
 *   gone: DATA: stream STREAM_CLOSED (section 6.1), HEADERS: connection
 *     PROTOCOL_ERROR (an id below the highest opened, section 5.1.1);
 *     WINDOW_UPDATE, RST_STREAM ignored
 * PRIORITY is accepted in every state. A caller that keeps the streams it
 * closed for a while (as nghttp2 and h2o do) tells a HEADERS on a stream
 * that ended (connection STREAM_CLOSED, h2spec 5.1/12) from one reusing
 * an id (PROTOCOL_ERROR, h2spec 5.1.1/2); one that forgets them at once
 * gives PROTOCOL_ERROR for both.
 */
int sl_h2f_stream_recv(enum sl_h2f_st st, unsigned type, unsigned flags,
		       enum sl_h2f_st *next, uint32_t *code);

/*
 * The state after sluice sends a frame of type with flags on a stream in
 * state st (HEADERS, DATA with END_STREAM; RST_STREAM). A frame that
 * changes nothing leaves st.
 */
enum sl_h2f_st sl_h2f_stream_send(enum sl_h2f_st st, unsigned type,
				  unsigned flags);

/* ---- flow control (sections 6.9, 6.9.2) ----------------------------------*/

/*
 * Adds a WINDOW_UPDATE's increment to *window (sluice's send window, which
 * may be negative). Returns 0, or SL_H2F_FLOW_CONTROL_ERROR (window
 * unchanged) when it would pass 2^31-1: a stream error on a stream, a
 * connection error on stream 0.
 */
uint32_t sl_h2f_window_add(int32_t *window, uint32_t increment);

/*
 * Applies a change of SETTINGS_INITIAL_WINDOW_SIZE from old_init to
 * new_init (both <= 2^31-1) to an open stream's send window. Returns 0,
 * or SL_H2F_FLOW_CONTROL_ERROR (window unchanged) when it would pass
 * 2^31-1: a connection error (section 6.9.2).
 */
uint32_t sl_h2f_window_resize(int32_t *window, uint32_t old_init,
			      uint32_t new_init);

/*
 * Takes length bytes of a received DATA frame off *window (sluice's
 * receive window). Returns 0, or SL_H2F_FLOW_CONTROL_ERROR (window
 * unchanged) when the peer sent more than the window allowed.
 */
uint32_t sl_h2f_window_consume(int32_t *window, uint32_t length);

/* ---- writers -------------------------------------------------------------*/

/*
 * Each writes one frame (or a header block's frames) at out, at most room
 * bytes, and returns the bytes written, or 0 (nothing meaningful written)
 * when room is short.
 */

struct sl_h2f_setting {
	uint16_t id; /* enum sl_h2f_setting_id */
	uint32_t value;
};

/* SETTINGS with n settings (9 + 6 * n bytes). */
size_t sl_h2f_write_settings(uint8_t *out, size_t room,
			     const struct sl_h2f_setting *s, size_t n);

/* SETTINGS with ACK (9 bytes). */
size_t sl_h2f_write_settings_ack(uint8_t *out, size_t room);

/* PING with the 8 bytes of opaque data; ack: the answer to one (17 bytes). */
size_t sl_h2f_write_ping(uint8_t *out, size_t room, const uint8_t *opaque,
			 int ack);

/* WINDOW_UPDATE of increment (1..2^31-1) on stream_id (13 bytes). */
size_t sl_h2f_write_window_update(uint8_t *out, size_t room, uint32_t stream_id,
				  uint32_t increment);

/* RST_STREAM with code on stream_id (13 bytes). */
size_t sl_h2f_write_rst_stream(uint8_t *out, size_t room, uint32_t stream_id,
			       uint32_t code);

/* GOAWAY: last_id, code, debug_len bytes of debug data (NULL when 0). */
size_t sl_h2f_write_goaway(uint8_t *out, size_t room, uint32_t last_id,
			   uint32_t code, const uint8_t *debug,
			   size_t debug_len);

/* The header of a DATA frame of length bytes (no padding; the caller puts
 * the data after it), END_STREAM when end_stream. */
size_t sl_h2f_write_data_header(uint8_t *out, size_t room, uint32_t stream_id,
				uint32_t length, int end_stream);

/* The bytes sl_h2f_write_headers writes for a block of block_len bytes. */
size_t sl_h2f_headers_size(size_t block_len, uint32_t max_frame);

/*
 * A header block of block_len bytes as HEADERS (END_STREAM when
 * end_stream) and as many CONTINUATIONs as the peer's max_frame (its
 * SETTINGS_MAX_FRAME_SIZE, >= 16384) needs, END_HEADERS on the last.
 */
size_t sl_h2f_write_headers(uint8_t *out, size_t room, uint32_t stream_id,
			    const uint8_t *block, size_t block_len,
			    uint32_t max_frame, int end_stream);

#endif
