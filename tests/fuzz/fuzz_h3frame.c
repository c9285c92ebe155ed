/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3's frame rules (src/h3/frame.c) against an nghttp3 server
 * connection, libnghttp3 the oracle. An input is a set-up byte (its low 3
 * bits: the size of the pieces the stream is fed in, 1 to 7 or whole;
 * bit 3: a request stream, made as request() says, with the frame rules
 * of a request and the order of a message's frames) and a client's
 * unidirectional stream: its type (a variable-length integer, so
 * control, push, QPACK or reserved) and its bytes. The
 * driver reads it as sluice's HTTP/3 codec will, on frame.c and qpack.c
 * alone: the stream type (sl_h3_uni_open), then on the control stream
 * each frame header (sl_h3f_reader_feed), its verdict (sl_h3f_check),
 * and the payload of SETTINGS, GOAWAY, MAX_PUSH_ID and CANCEL_PUSH; on
 * the QPACK streams their checks. nghttp3_conn_read_stream gets the same
 * pieces. Both must end the connection at the same piece with the same
 * code, or neither, but for the differences listed in expect().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp3/nghttp3.h>

#include "fuzz.h"
#include "h3frame.h"
#include "qpack.h"

/* The payload sluice gathers for a frame of the control stream: SETTINGS
 * longer than this is refused (H3_EXCESSIVE_LOAD), as a codec bounds
 * what it buffers. */
#define PAYLOAD_MAX 4096

/* sluice's side: one client unidirectional stream, as a server reads it */
struct side {
	uint8_t tbuf[8], tgot; /* the stream type, so far */
	unsigned what;	       /* SL_H3_UNI_*, once known */
	int typed;
	struct sl_h3_uni_seen seen;
	struct sl_h3f_reader r;
	int frames; /* frames read on the stream */
	int take;   /* the current frame's payload is gathered */
	uint64_t left;
	uint8_t payload[PAYLOAD_MAX];
	size_t plen;
	uint64_t goaway, max_push; /* the last of each, or UINT64_MAX */
	struct sl_qpack_dstream qd;
	int quirk; /* a frame nghttp3 0.8 reads otherwise (see expect) */
	enum sl_h3_stream_kind kind; /* control, or a request (no type) */
	uint8_t msg;		     /* sl_h3f_message_next's state */
};

/* A whole payload of the control stream's frame type. Returns 0 or an
 * error code. */
static int
control_frame(struct side *s, uint64_t type)
{
	struct sl_h3_settings set;
	uint64_t id;
	int rc;

	if (type == SL_H3F_SETTINGS) {
		sl_h3_settings_init(&set);
		return sl_h3_settings_parse(s->payload, s->plen, &set);
	}
	if ((rc = sl_h3f_id_parse(s->payload, s->plen, &id)) != 0)
		return rc;
	switch (type) {
	case SL_H3F_GOAWAY:
		if (id % 4 != 0)
			s->quirk = 1;
		if ((rc = sl_h3f_goaway_check(s->goaway, id, 1)) != 0)
			return rc;
		s->goaway = id;
		return 0;
	case SL_H3F_MAX_PUSH_ID:
		if ((rc = sl_h3f_max_push_check(s->max_push, id)) != 0) {
			s->quirk = 1; /* nghttp3: H3_FRAME_ERROR */
			return rc;
		}
		s->max_push = id;
		return 0;
	default: /* CANCEL_PUSH: sluice promises nothing (section 7.2.3) */
		return SL_H3_ID_ERROR;
	}
}

static int
no_field(void *arg, const char *name, size_t nlen, const char *value,
	 size_t vlen, unsigned flags)
{
	(void)arg, (void)name, (void)nlen, (void)value, (void)vlen, (void)flags;
	return 0;
}

/* A whole HEADERS payload of a request stream: 0 or an error code. */
static int
request_headers(struct side *s)
{
	static char scratch[SL_QPACK_SCRATCH_MIN];
	int rc = sl_qpack_decode(s->payload, s->plen, SIZE_MAX, scratch,
				 sizeof(scratch), no_field, NULL);

	if (rc == SL_QPACK_FAILED)
		return SL_QPACK_DECOMPRESSION_FAILED;
	return rc == SL_QPACK_OK ? 0 : SL_H3_MESSAGE_ERROR;
}

/* The verdict on a frame whose header is whole: 0 or an error code;
 * s->take says whether its payload is gathered. */
static int
frame_start(struct side *s)
{
	int rc = sl_h3f_check(s->kind, s->r.type, s->frames++ == 0, 1);

	if (rc != SL_H3F_TAKE && rc != SL_H3F_IGNORE)
		return rc;
	s->take = rc == SL_H3F_TAKE;
	if (s->kind == SL_H3_STREAM_REQUEST && s->take) {
		if ((rc = sl_h3f_message_next(&s->msg, s->r.type, 0)) != 0)
			return rc;
		s->take = s->r.type == SL_H3F_HEADERS; /* DATA is skipped */
	}
	return 0;
}

/* The stream's frames, its next bytes. Returns 0 or an error code. */
static int
frames(struct side *s, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n;
		int rc;

		if (s->r.part < 2) {
			n = sl_h3f_reader_feed(&s->r, p, len);
			p += n;
			len -= n;
			if (s->kind == SL_H3_STREAM_CONTROL && s->r.part >= 1 &&
			    s->r.type == SL_H3F_CANCEL_PUSH && s->frames > 0)
				s->quirk = 1;
			if (s->r.part < 2)
				return 0;
			if ((rc = frame_start(s)) != 0)
				return rc;
			s->left = s->r.length;
			s->plen = 0;
			if ((s->r.type == SL_H3F_GOAWAY ||
			     s->r.type == SL_H3F_MAX_PUSH_ID) &&
			    s->left > 8)
				s->quirk = 1; /* bytes after the integer */
			if (s->take && s->left > PAYLOAD_MAX)
				return s->r.type == SL_H3F_SETTINGS
					   ? SL_H3_EXCESSIVE_LOAD
					   : SL_H3_FRAME_ERROR;
		}
		n = s->left < len ? (size_t)s->left : len;
		if (s->take)
			memcpy(s->payload + s->plen, p, n);
		s->plen += n;
		s->left -= n;
		if ((s->r.type == SL_H3F_GOAWAY ||
		     s->r.type == SL_H3F_MAX_PUSH_ID) &&
		    s->take && s->plen > 0 &&
		    SL_H3_VARINT_LEN(s->payload[0]) != s->r.length)
			s->quirk = 1; /* bytes after the integer */
		p += n;
		len -= n;
		if (s->left > 0)
			return 0;
		if (s->take && (rc = s->kind == SL_H3_STREAM_CONTROL
					 ? control_frame(s, s->r.type)
					 : request_headers(s)) != 0)
			return rc;
		memset(&s->r, 0, sizeof(s->r));
	}
	return 0;
}

/* The stream's next piece. Returns 0 or an error code. */
static int
side_feed(struct side *s, const uint8_t *p, size_t len)
{
	int rc;

	if (s->kind == SL_H3_STREAM_REQUEST)
		return frames(s, p, len);
	while (!s->typed && len > 0) {
		uint64_t type;

		s->tbuf[s->tgot++] = *p++;
		len--;
		if (s->tgot < SL_H3_VARINT_LEN(s->tbuf[0]))
			continue;
		(void)sl_h3_varint_read(s->tbuf, s->tgot, &type);
		if ((rc = sl_h3_uni_open(&s->seen, type, 1, &s->what)) != 0)
			return rc;
		s->typed = 1;
	}
	if (!s->typed)
		return 0;
	switch (s->what) {
	case SL_H3_UNI_CONTROL:
		return frames(s, p, len);
	case SL_H3_UNI_QPACK_ENCODER:
		return sl_qpack_estream_feed(p, len) == 0
			   ? 0
			   : SL_QPACK_ENCODER_STREAM_ERROR;
	case SL_H3_UNI_QPACK_DECODER:
		return sl_qpack_dstream_feed(&s->qd, p, len) == 0
			   ? 0
			   : SL_QPACK_DECODER_STREAM_ERROR;
	default:
		return 0; /* ignored */
	}
}

static struct side side;

/* A request stream's bytes, made from the input's records (request()). */
static uint8_t reqbuf[1 << 16];

/* Appends a frame of type with payload p (n bytes; NULL: zeros). */
static size_t
put_frame(size_t at, uint64_t type, const uint8_t *p, size_t n)
{
	size_t h =
	    sl_h3f_write_header(reqbuf + at, sizeof(reqbuf) - at, type, n);

	if (h == 0 || sizeof(reqbuf) - at - h < n)
		return at;
	if (p != NULL)
		memcpy(reqbuf + at + h, p, n);
	else
		memset(reqbuf + at + h, 0, n);
	return at + h + n;
}

/* A HEADERS frame of sluice's encoder's fields (a request's head, or
 * trailers). */
static size_t
put_headers(size_t at, int trailers)
{
	static const char *const head[][2] = {{":method", "POST"},
					      {":scheme", "https"},
					      {":authority", "example.com"},
					      {":path", "/upload"}};
	uint8_t sec[256];
	size_t n = sl_qpack_enc_prefix(sec, sizeof(sec));

	if (trailers)
		n += sl_qpack_enc_field(sec + n, sizeof(sec) - n, "x-sum", 5,
					"42", 2, 0);
	else
		for (size_t i = 0; i < 4; i++)
			n += sl_qpack_enc_field(sec + n, sizeof(sec) - n,
						head[i][0], strlen(head[i][0]),
						head[i][1], strlen(head[i][1]),
						0);
	return put_frame(at, SL_H3F_HEADERS, sec, n);
}

/*
 * A client's request stream from records: an op byte (modulo 3) and a
 * length byte, then for op 2 a type byte and the payload's bytes. Op 0:
 * HEADERS with a request's head, the first time, trailers after it; 1:
 * DATA of that length; 2: a frame of that type (but HEADERS, whose
 * payload would be QPACK that fuzz_qpack covers). Returns the stream's
 * length.
 */
static size_t
request(const uint8_t *in, size_t len)
{
	size_t at = 0;
	int headed = 0;

	while (len >= 2) {
		uint8_t op = in[0] % 3;
		size_t n = in[1];
		uint64_t type;

		in += 2;
		len -= 2;
		if (op == 0) {
			/* the head first, then trailers: a head in trailers
			 * or trailers as the head is malformed, a stream
			 * error nghttp3 keeps to itself */
			at = put_headers(at, headed);
			headed = 1;
		} else if (op == 1) {
			at = put_frame(at, SL_H3F_DATA, NULL, n);
		} else if (len >= 1) {
			type = in[0] == SL_H3F_HEADERS ? 0x21 : in[0];
			in++;
			len--;
			if (n > len)
				n = len;
			at = put_frame(at, type, in, n);
			in += n;
			len -= n;
		}
	}
	return at;
}

/* What the settings of a SETTINGS payload sluice has in part say, the
 * last one cut short left out: 0 or an error code. */
static int
settings_so_far(void)
{
	struct sl_h3_settings set;
	size_t whole = 0;

	for (;;) {
		uint64_t v;
		size_t n = sl_h3_varint_read(side.payload + whole,
					     side.plen - whole, &v),
		       m;

		if (n == 0 ||
		    (m = sl_h3_varint_read(side.payload + whole + n,
					   side.plen - whole - n, &v)) == 0)
			break;
		whole += n + m;
	}
	sl_h3_settings_init(&set);
	return sl_h3_settings_parse(side.payload, whole, &set);
}

/* Whether the SETTINGS payload sluice has holds an identifier it knows
 * twice, before any other error. */
static int
duplicate_setting(void)
{
	uint64_t ids[PAYLOAD_MAX / 2];
	size_t k = 0, at = 0;

	for (;;) {
		uint64_t id, v;
		size_t n = sl_h3_varint_read(side.payload + at, side.plen - at,
					     &id),
		       m;

		if (n == 0 ||
		    (m = sl_h3_varint_read(side.payload + at + n,
					   side.plen - at - n, &v)) == 0)
			return 0;
		at += n + m;
		if (id >= 0x02 && id <= 0x05)
			return 0; /* HTTP/2's: an error of both */
		if (id > SL_H3_SET_ENABLE_CONNECT_PROTOCOL)
			continue;
		for (size_t i = 0; i < k; i++)
			if (ids[i] == id)
				return 1;
		ids[k++] = id;
	}
}

/*
 * Both verdicts, and the pieces they came at (0: none), must agree but
 * for these differences:
 *  - on a QPACK stream sluice refuses an insertion or an acknowledgment
 *    at its first byte, nghttp3 once it has it whole (or never, when the
 *    input ends inside it, or with another code for what it made of
 *    the rest): sluice's code comes first or alone;
 *  - nghttp3 reads a SETTINGS frame setting by setting, sluice once it
 *    has the whole payload: nghttp3's code may come sooner, or alone
 *    when the input ends inside the frame (then the settings sluice has
 *    so far must say the same);
 *  - sluice refuses a setting it knows given twice (H3_SETTINGS_ERROR,
 *    which section 7.2.4 allows); nghttp3 takes the last;
 *  - sluice refuses a SETTINGS frame longer than PAYLOAD_MAX
 *    (H3_EXCESSIVE_LOAD) rather than hold it; nghttp3 reads on;
 *  - from a frame where nghttp3 0.8 strays from RFC 9114 on, nothing is
 *    compared (side.quirk, from the piece it came in): a CANCEL_PUSH from
 *    a client, which nghttp3's server refuses at its type
 *    (H3_FRAME_UNEXPECTED) where the RFC says H3_ID_ERROR for a push
 *    never promised (section 7.2.3); a GOAWAY or MAX_PUSH_ID with bytes
 *    after its integer, which nghttp3 reads as the next frame where the
 *    RFC says H3_FRAME_ERROR (section 7.1); a client's GOAWAY whose push
 *    id is no multiple of 4, which nghttp3 takes for a stream id
 *    (H3_ID_ERROR); a MAX_PUSH_ID that shrinks, H3_FRAME_ERROR in
 *    nghttp3 and H3_ID_ERROR in the RFC (section 7.2.7). The unit tests
 *    hold these to the RFC.
 */
static void
expect(uint64_t sl_code, size_t sl_at, uint64_t ng_code, size_t ng_at,
       size_t quirk_at)
{
	int in_settings = side.typed && side.what == SL_H3_UNI_CONTROL &&
			  side.r.part == 2 && side.r.type == SL_H3F_SETTINGS;

	if (getenv("FUZZ_H3FRAME_TRACE") != NULL)
		fprintf(stderr, "sluice: %s at piece %zu; nghttp3: %s at %zu\n",
			sl_h3_err_str(sl_code), sl_at, sl_h3_err_str(ng_code),
			ng_at);
	if (quirk_at != 0 && (sl_at == 0 || sl_at >= quirk_at) &&
	    (ng_at == 0 || ng_at >= quirk_at))
		return;
	if ((sl_code == SL_QPACK_ENCODER_STREAM_ERROR ||
	     sl_code == SL_QPACK_DECODER_STREAM_ERROR) &&
	    (ng_code == 0 || ng_at >= sl_at))
		return;
	if (sl_code == SL_H3_EXCESSIVE_LOAD && side.r.length > PAYLOAD_MAX &&
	    (ng_code == 0 || ng_at >= sl_at))
		return;
	if (sl_code == SL_H3_SETTINGS_ERROR && side.r.part == 2 &&
	    side.r.type == SL_H3F_SETTINGS && duplicate_setting() &&
	    (ng_code == 0 || ng_at >= sl_at))
		return;
	if (in_settings && sl_code == 0 && ng_code != 0) {
		CHECK((uint64_t)settings_so_far() == ng_code);
		return;
	}
	if (in_settings && sl_code == ng_code && ng_at <= sl_at)
		return;
	CHECK(sl_code == ng_code);
	CHECK(sl_at == ng_at);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nghttp3_callbacks cb;
	nghttp3_settings set;
	nghttp3_conn *conn;
	size_t piece;
	uint8_t setup;
	uint64_t sl_code = 0, ng_code = 0;
	size_t sl_at = 0, ng_at = 0, quirk_at = 0;

	if (size < 1)
		return 0;
	setup = data[0];
	memset(&side, 0, sizeof(side));
	side.goaway = side.max_push = UINT64_MAX;
	side.kind = SL_H3_STREAM_CONTROL;
	if (setup & 8) {
		side.kind = SL_H3_STREAM_REQUEST;
		size = request(data + 1, size - 1);
		data = reqbuf;
	} else {
		data++;
		size--;
	}
	piece = setup & 7 ? (size_t)(setup & 7) : size;

	memset(&cb, 0, sizeof(cb));
	nghttp3_settings_default(&set);
	if (nghttp3_conn_server_new(&conn, &cb, &set, nghttp3_mem_default(),
				    NULL) != 0)
		abort();
	for (size_t i = 0, k = 1; i < size; i += piece, k++) {
		size_t n = size - i < piece ? size - i : piece;

		if (sl_code == 0) {
			int rc = side_feed(&side, data + i, n);

			if (rc != 0) {
				sl_code = (uint64_t)rc;
				sl_at = k;
			}
			if (side.quirk && quirk_at == 0)
				quirk_at = k;
		}
		if (ng_code == 0) {
			nghttp3_ssize rv = nghttp3_conn_read_stream(
			    conn, side.kind == SL_H3_STREAM_REQUEST ? 0 : 2,
			    data + i, n, 0);

			if (rv < 0) {
				ng_code = nghttp3_err_infer_quic_app_error_code(
				    (int)rv);
				ng_at = k;
			}
		}
	}
	nghttp3_conn_del(conn);
	expect(sl_code, sl_at, ng_code, ng_at, quirk_at);
	return 0;
}
