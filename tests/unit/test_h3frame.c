/* SPDX-License-Identifier: MIT */
/*
 * HTTP/3's frames (src/h3/frame.c): QUIC's integers (RFC 9000 appendix
 * A.1's examples and the bounds of each length), the frame header read in
 * every cut, which frame may come on which stream (RFC 9114 section 7.2,
 * table 1), the order of a message's frames, SETTINGS read and written,
 * the frames of one integer, GOAWAY's ids and the unidirectional stream
 * types; and SETTINGS both ways with libnghttp3 (its control stream read
 * by sluice, sluice's SETTINGS read by an nghttp3 server).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp3/nghttp3.h>

#include "h3frame.h"

/* ---- integers ------------------------------------------------------------*/

static void
test_varint(void **state)
{
	static const struct {
		uint8_t in[8];
		size_t len;
		uint64_t v;
	} ex[] = {
	    /* RFC 9000 appendix A.1 */
	    {{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c},
	     8,
	     UINT64_C(151288809941952652)},
	    {{0x9d, 0x7f, 0x3e, 0x7d}, 4, 494878333},
	    {{0x7b, 0xbd}, 2, 15293},
	    {{0x25}, 1, 37},
	    {{0x40, 0x25}, 2, 37}, /* not the shortest: still read */
	};
	static const uint64_t bounds[] = {
	    0,	      63,
	    64,	      16383,
	    16384,    (UINT64_C(1) << 30) - 1,
	    1u << 30, SL_H3_VARINT_MAX,
	};
	uint8_t out[8];
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		assert_int_equal(sl_h3_varint_read(ex[i].in, ex[i].len, &v),
				 ex[i].len);
		assert_true(v == ex[i].v);
		/* one byte short: more is needed */
		assert_int_equal(sl_h3_varint_read(ex[i].in, ex[i].len - 1, &v),
				 0);
	}
	assert_int_equal(sl_h3_varint_write(out, 8, 37), 1);
	assert_int_equal(out[0], 0x25);
	assert_int_equal(sl_h3_varint_write(out, 8, 15293), 2);
	assert_memory_equal(out, ex[2].in, 2);
	assert_int_equal(sl_h3_varint_write(out, 8, 494878333), 4);
	assert_memory_equal(out, ex[1].in, 4);
	assert_int_equal(
	    sl_h3_varint_write(out, 8, UINT64_C(151288809941952652)), 8);
	assert_memory_equal(out, ex[0].in, 8);
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		size_t n = sl_h3_varint_size(bounds[i]);

		assert_int_equal(n, bounds[i] < 64	     ? 1
				    : bounds[i] < 16384	     ? 2
				    : bounds[i] < (1u << 30) ? 4
							     : 8);
		assert_int_equal(sl_h3_varint_write(out, n - 1, bounds[i]), 0);
		assert_int_equal(sl_h3_varint_write(out, n, bounds[i]), n);
		assert_int_equal(sl_h3_varint_read(out, n, &v), n);
		assert_true(v == bounds[i]);
	}
	assert_int_equal(sl_h3_varint_size(SL_H3_VARINT_MAX + 1), 0);
	assert_int_equal(sl_h3_varint_write(out, 8, SL_H3_VARINT_MAX + 1), 0);
	assert_int_equal(sl_h3_varint_read(out, 0, &v), 0);
}

/* ---- the frame header ----------------------------------------------------*/

static void
test_reader(void **state)
{
	static const uint64_t types[] = {
	    0x00, 0x04, 0x21, 0x3f, 0x40, 0x1f * 1000 + 0x21, SL_H3_VARINT_MAX};
	static const uint64_t lens[] = {0, 1, 63, 64, 16384, SL_H3_VARINT_MAX};

	(void)state;
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			uint8_t buf[32];
			size_t h = sl_h3f_write_header(buf, sizeof(buf),
						       types[t], lens[l]);

			assert_true(h >= 2 && h <= 16);
			assert_int_equal(
			    sl_h3f_write_header(buf, h - 1, types[t], lens[l]),
			    0);
			memcpy(buf + h, "PAYLOAD", 7);
			/* in pieces of every size: only the header taken */
			for (size_t piece = 1; piece <= h + 7; piece++) {
				struct sl_h3f_reader r;
				size_t at = 0;

				memset(&r, 0, sizeof(r));
				while (r.part < 2) {
					size_t n = h + 7 - at < piece
						       ? h + 7 - at
						       : piece;

					at +=
					    sl_h3f_reader_feed(&r, buf + at, n);
				}
				assert_int_equal(at, h);
				assert_true(r.type == types[t]);
				assert_true(r.length == lens[l]);
				/* done: takes nothing more */
				assert_int_equal(
				    sl_h3f_reader_feed(&r, buf + at, 7), 0);
			}
		}
	}
	assert_int_equal(sl_h3f_write_header(NULL, 0, 0, 0), 0);
	assert_int_equal(
	    sl_h3f_write_header((uint8_t[16]){0}, 16, SL_H3_VARINT_MAX + 1, 0),
	    0);
}

/* ---- which frame on which stream -----------------------------------------*/

static void
test_check(void **state)
{
	const int T = SL_H3F_TAKE, I = SL_H3F_IGNORE,
		  U = SL_H3_FRAME_UNEXPECTED;
	static const uint64_t types[] = {0x00, 0x01, 0x02, 0x03,	   0x04,
					 0x05, 0x06, 0x07, 0x08,	   0x09,
					 0x0d, 0x21, 0x40, 0x1f * 7 + 0x21};
	/* expected, by type: control from a client, control from a server,
	 * request from a client, request from a server, push (a server's) */
	const int want[][5] = {
	    {U, U, T, T, T}, /* DATA */
	    {U, U, T, T, T}, /* HEADERS */
	    {U, U, U, U, U}, /* HTTP/2's PRIORITY */
	    {T, T, U, U, U}, /* CANCEL_PUSH */
	    {U, U, U, U, U}, /* SETTINGS, after the first frame */
	    {U, U, U, T, U}, /* PUSH_PROMISE: a server's, on a request */
	    {U, U, U, U, U}, /* HTTP/2's PING */
	    {T, T, U, U, U}, /* GOAWAY */
	    {U, U, U, U, U}, /* HTTP/2's WINDOW_UPDATE */
	    {U, U, U, U, U}, /* HTTP/2's CONTINUATION */
	    {T, U, U, U, U}, /* MAX_PUSH_ID: a client's */
	    {I, I, I, I, I}, /* reserved */
	    {I, I, I, I, I}, /* unknown */
	    {I, I, I, I, I}, /* reserved */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint64_t t = types[i];

		print_message("type 0x%llx\n", (unsigned long long)t);
		assert_int_equal(sl_h3f_check(SL_H3_STREAM_CONTROL, t, 0, 1),
				 want[i][0]);
		assert_int_equal(sl_h3f_check(SL_H3_STREAM_CONTROL, t, 0, 0),
				 want[i][1]);
		assert_int_equal(sl_h3f_check(SL_H3_STREAM_REQUEST, t, 0, 1),
				 want[i][2]);
		assert_int_equal(sl_h3f_check(SL_H3_STREAM_REQUEST, t, 0, 0),
				 want[i][3]);
		assert_int_equal(sl_h3f_check(SL_H3_STREAM_PUSH, t, 0, 0),
				 want[i][4]);
		/* the control stream's first frame is SETTINGS, whatever
		 * else comes (a reserved type too) */
		assert_int_equal(sl_h3f_check(SL_H3_STREAM_CONTROL, t, 1, 1),
				 t == SL_H3F_SETTINGS ? T
						      : SL_H3_MISSING_SETTINGS);
	}
	assert_true(SL_H3_RESERVED(0x21) && SL_H3_RESERVED(0x40 + 0x1f * 0));
	assert_false(SL_H3_RESERVED(0x20) || SL_H3_RESERVED(0x22) ||
		     SL_H3_RESERVED(0x04));
	assert_true(SL_H3_RESERVED(UINT64_C(0x1f) * 123456789 + 0x21));
}

static void
test_message_order(void **state)
{
	uint8_t st = 0;

	(void)state;
	/* DATA before HEADERS */
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_DATA, 0),
			 SL_H3_FRAME_UNEXPECTED);
	/* 103, then the head, the body, the trailers */
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_HEADERS, 1), 0);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_DATA, 0),
			 SL_H3_FRAME_UNEXPECTED);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_HEADERS, 0), 0);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_DATA, 0), 0);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_DATA, 0), 0);
	assert_int_equal(sl_h3f_message_next(&st, 0x21, 0), 0);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_HEADERS, 0), 0);
	/* nothing of the message after its trailers */
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_DATA, 0),
			 SL_H3_FRAME_UNEXPECTED);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_HEADERS, 0),
			 SL_H3_FRAME_UNEXPECTED);
	assert_int_equal(sl_h3f_message_next(&st, SL_H3F_PUSH_PROMISE, 0), 0);
}

/* ---- SETTINGS ------------------------------------------------------------*/

static int
parse(const uint8_t *p, size_t len, struct sl_h3_settings *s)
{
	sl_h3_settings_init(s);
	return sl_h3_settings_parse(p, len, s);
}

static void
test_settings(void **state)
{
	static const uint8_t good[] = {
	    0x01, 0x00,		    /* QPACK_MAX_TABLE_CAPACITY 0 */
	    0x06, 0x44, 0x00,	    /* MAX_FIELD_SECTION_SIZE 1024 */
	    0x07, 0x00,		    /* QPACK_BLOCKED_STREAMS 0 */
	    0x08, 0x01,		    /* ENABLE_CONNECT_PROTOCOL 1 */
	    0x21, 0x05,		    /* reserved: ignored */
	    0x33, 0x01,		    /* H3_DATAGRAM: unknown here */
	    0x80, 0x00, 0x40, 0x00, /* a 4-byte id, unknown */
	    0x00,
	};
	static const struct {
		uint8_t in[8];
		size_t len;
		int rc;
	} bad[] = {
	    {{0x02, 0x00}, 2, SL_H3_SETTINGS_ERROR}, /* HTTP/2's ids */
	    {{0x03, 0x00}, 2, SL_H3_SETTINGS_ERROR},
	    {{0x04, 0x00}, 2, SL_H3_SETTINGS_ERROR},
	    {{0x05, 0x00}, 2, SL_H3_SETTINGS_ERROR},
	    {{0x06, 0x01, 0x06, 0x02}, 4, SL_H3_SETTINGS_ERROR}, /* twice */
	    {{0x01, 0x00, 0x01, 0x00}, 4, SL_H3_SETTINGS_ERROR},
	    {{0x08, 0x02}, 2, SL_H3_SETTINGS_ERROR}, /* not 0 or 1 */
	    {{0x06}, 1, SL_H3_FRAME_ERROR},	     /* no value */
	    {{0x06, 0x40}, 2, SL_H3_FRAME_ERROR},    /* a value cut */
	    {{0x80, 0x00}, 2, SL_H3_FRAME_ERROR},    /* an id cut */
	};
	struct sl_h3_settings s, back;
	uint8_t out[128];
	size_t n, h;
	uint64_t type, len;

	(void)state;
	assert_int_equal(parse(good, sizeof(good), &s), 0);
	assert_true(s.max_field_section_size == 1024);
	assert_true(s.qpack_max_table_capacity == 0);
	assert_true(s.qpack_blocked_streams == 0);
	assert_int_equal(s.enable_connect_protocol, 1);
	/* an empty SETTINGS: the defaults */
	assert_int_equal(parse(good, 0, &s), 0);
	assert_true(s.max_field_section_size == UINT64_MAX);
	/* unknown ids twice are not remembered */
	assert_int_equal(parse((const uint8_t *)"\x21\x00\x21\x00", 4, &s), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i].in, bad[i].len, &s), bad[i].rc);

	/* written and read back, with grease */
	sl_h3_settings_init(&s);
	s.max_field_section_size = 65536;
	s.enable_connect_protocol = 1;
	n = sl_h3_settings_write(out, sizeof(out), &s, 0x1f * 3 + 0x21);
	assert_true(n > 0);
	assert_int_equal(sl_h3_settings_write(out, n - 1, &s, 0x1f * 3 + 0x21),
			 0);
	h = sl_h3_varint_read(out, n, &type);
	h += sl_h3_varint_read(out + h, n - h, &len);
	assert_true(type == SL_H3F_SETTINGS && len == n - h);
	assert_int_equal(parse(out + h, n - h, &back), 0);
	assert_memory_equal(&back, &s, sizeof(s));
	/* what sluice announces: QPACK with no table is the default, so
	 * nothing of it is written */
	sl_h3_settings_init(&s);
	n = sl_h3_settings_write(out, sizeof(out), &s, 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], SL_H3F_SETTINGS);
	assert_int_equal(out[1], 0);
	s.qpack_max_table_capacity = 4096;
	s.qpack_blocked_streams = 100;
	n = sl_h3_settings_write(out, sizeof(out), &s, 0);
	assert_int_equal(parse(out + 2, n - 2, &back), 0);
	assert_memory_equal(&back, &s, sizeof(s));
}

/* An nghttp3 server's control stream, as sluice reads it (a server's:
 * only servers say ENABLE_CONNECT_PROTOCOL, RFC 9220 section 3). */
static void
test_settings_from_nghttp3(void **state)
{
	nghttp3_callbacks cb;
	nghttp3_settings ns;
	nghttp3_conn *conn;
	nghttp3_vec vec[8];
	struct sl_h3_uni_seen u;
	struct sl_h3f_reader r;
	struct sl_h3_settings s;
	uint8_t ctl[256];
	size_t len = 0, at;
	int64_t sid;
	int fin, found = 0;
	unsigned what;

	(void)state;
	memset(&cb, 0, sizeof(cb));
	nghttp3_settings_default(&ns);
	ns.max_field_section_size = 12345;
	ns.qpack_max_dtable_capacity = 4096;
	ns.qpack_blocked_streams = 7;
	ns.enable_connect_protocol = 1;
	assert_int_equal(nghttp3_conn_server_new(&conn, &cb, &ns,
						 nghttp3_mem_default(), NULL),
			 0);
	assert_int_equal(nghttp3_conn_bind_control_stream(conn, 3), 0);
	assert_int_equal(nghttp3_conn_bind_qpack_streams(conn, 7, 11), 0);
	for (;;) {
		nghttp3_ssize n =
		    nghttp3_conn_writev_stream(conn, &sid, &fin, vec, 8);
		size_t bytes = 0;

		assert_true(n >= 0);
		if (sid < 0)
			break;
		for (nghttp3_ssize i = 0; i < n; i++) {
			if (sid == 3) {
				assert_true(len + vec[i].len <= sizeof(ctl));
				memcpy(ctl + len, vec[i].base, vec[i].len);
				len += vec[i].len;
			}
			bytes += vec[i].len;
		}
		assert_int_equal(
		    nghttp3_conn_add_write_offset(conn, sid, bytes), 0);
		if (bytes == 0)
			break;
	}
	nghttp3_conn_del(conn);

	/* the stream's type, then SETTINGS first, then whatever follows */
	memset(&u, 0, sizeof(u));
	assert_true(len > 1);
	assert_int_equal(sl_h3_uni_open(&u, ctl[0], 0, &what), 0);
	assert_int_equal(what, SL_H3_UNI_CONTROL);
	for (at = 1; at < len;) {
		memset(&r, 0, sizeof(r));
		at += sl_h3f_reader_feed(&r, ctl + at, len - at);
		assert_int_equal(r.part, 2);
		assert_true(r.length <= len - at);
		if (!found) {
			assert_int_equal(
			    sl_h3f_check(SL_H3_STREAM_CONTROL, r.type, 1, 0),
			    SL_H3F_TAKE);
			sl_h3_settings_init(&s);
			assert_int_equal(sl_h3_settings_parse(
					     ctl + at, (size_t)r.length, &s),
					 0);
			found = 1;
		}
		at += (size_t)r.length;
	}
	assert_true(found);
	assert_true(s.max_field_section_size == 12345);
	assert_true(s.qpack_max_table_capacity == 4096);
	assert_true(s.qpack_blocked_streams == 7);
	assert_int_equal(s.enable_connect_protocol, 1);
}

/* sluice's SETTINGS, with grease, read by an nghttp3 server. */
static void
test_settings_to_nghttp3(void **state)
{
	nghttp3_callbacks cb;
	nghttp3_settings ns;
	nghttp3_conn *conn;
	struct sl_h3_settings s;
	uint8_t ctl[128];
	size_t n;

	(void)state;
	sl_h3_settings_init(&s);
	s.max_field_section_size = 65536;
	s.enable_connect_protocol = 1;
	ctl[0] = SL_H3_UNI_CONTROL;
	n = 1 + sl_h3_settings_write(ctl + 1, sizeof(ctl) - 1, &s,
				     UINT64_C(0x1f) * 1000000 + 0x21);
	/* and a GOAWAY, to see the frame after it read */
	n += sl_h3f_id_write(ctl + n, sizeof(ctl) - n, SL_H3F_GOAWAY, 8);
	memset(&cb, 0, sizeof(cb));
	nghttp3_settings_default(&ns);
	assert_int_equal(nghttp3_conn_server_new(&conn, &cb, &ns,
						 nghttp3_mem_default(), NULL),
			 0);
	assert_int_equal(nghttp3_conn_read_stream(conn, 2, ctl, n, 0),
			 (nghttp3_ssize)n);
	/* a later GOAWAY naming a higher id: nghttp3 saw the first */
	n = sl_h3f_id_write(ctl, sizeof(ctl), SL_H3F_GOAWAY, 12);
	assert_int_equal(nghttp3_conn_read_stream(conn, 2, ctl, n, 0),
			 NGHTTP3_ERR_H3_ID_ERROR);
	nghttp3_conn_del(conn);
}

/* ---- frames of one integer -----------------------------------------------*/

static void
test_id_frames(void **state)
{
	uint8_t out[32];
	uint64_t id;
	size_t n;

	(void)state;
	n = sl_h3f_id_write(out, sizeof(out), SL_H3F_GOAWAY, 16384);
	assert_int_equal(n, 1 + 1 + 4);
	assert_int_equal(out[0], SL_H3F_GOAWAY);
	assert_int_equal(out[1], 4);
	assert_int_equal(sl_h3f_id_parse(out + 2, 4, &id), 0);
	assert_true(id == 16384);
	assert_int_equal(sl_h3f_id_write(out, n - 1, SL_H3F_GOAWAY, 16384), 0);
	assert_int_equal(sl_h3f_id_write(out, sizeof(out), SL_H3F_MAX_PUSH_ID,
					 SL_H3_VARINT_MAX + 1),
			 0);
	/* exactly one integer (RFC 9114 section 7.1) */
	assert_int_equal(sl_h3f_id_parse(out + 2, 3, &id), SL_H3_FRAME_ERROR);
	assert_int_equal(sl_h3f_id_parse((const uint8_t *)"\x00\x00", 2, &id),
			 SL_H3_FRAME_ERROR);
	assert_int_equal(sl_h3f_id_parse(out, 0, &id), SL_H3_FRAME_ERROR);

	/* a server's GOAWAY names a client's bidirectional stream, and
	 * never a later one than before; a client's, a push id */
	assert_int_equal(sl_h3f_goaway_check(UINT64_MAX, 8, 0), 0);
	assert_int_equal(sl_h3f_goaway_check(UINT64_MAX, 9, 0), SL_H3_ID_ERROR);
	assert_int_equal(sl_h3f_goaway_check(8, 4, 0), 0);
	assert_int_equal(sl_h3f_goaway_check(8, 8, 0), 0);
	assert_int_equal(sl_h3f_goaway_check(8, 12, 0), SL_H3_ID_ERROR);
	assert_int_equal(sl_h3f_goaway_check(UINT64_MAX, 7, 1), 0);
	assert_int_equal(sl_h3f_goaway_check(7, 8, 1), SL_H3_ID_ERROR);
	/* MAX_PUSH_ID never shrinks */
	assert_int_equal(sl_h3f_max_push_check(UINT64_MAX, 0), 0);
	assert_int_equal(sl_h3f_max_push_check(4, 4), 0);
	assert_int_equal(sl_h3f_max_push_check(4, 9), 0);
	assert_int_equal(sl_h3f_max_push_check(4, 3), SL_H3_ID_ERROR);
}

/* ---- unidirectional streams ----------------------------------------------*/

static void
test_uni(void **state)
{
	struct sl_h3_uni_seen u;
	unsigned what;

	(void)state;
	memset(&u, 0, sizeof(u));
	for (uint64_t t = 0; t <= 3; t++) {
		if (t == SL_H3_UNI_PUSH) {
			/* only servers push */
			assert_int_equal(sl_h3_uni_open(&u, t, 1, &what),
					 SL_H3_STREAM_CREATION_ERROR);
			assert_int_equal(sl_h3_uni_open(&u, t, 0, &what), 0);
			assert_int_equal(what, SL_H3_UNI_PUSH);
			assert_int_equal(sl_h3_uni_open(&u, t, 0, &what), 0);
			continue;
		}
		assert_int_equal(sl_h3_uni_open(&u, t, 1, &what), 0);
		assert_int_equal(what, t);
		/* one of each */
		assert_int_equal(sl_h3_uni_open(&u, t, 1, &what),
				 SL_H3_STREAM_CREATION_ERROR);
	}
	assert_int_equal(sl_h3_uni_open(&u, 0x21, 1, &what), 0);
	assert_int_equal(what, SL_H3_UNI_IGNORE);
	assert_int_equal(sl_h3_uni_open(&u, 0x04, 1, &what), 0);
	assert_int_equal(what, SL_H3_UNI_IGNORE);
	assert_int_equal(sl_h3_uni_open(&u, SL_H3_VARINT_MAX, 1, &what), 0);
	assert_int_equal(what, SL_H3_UNI_IGNORE);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(sl_h3_err_str(SL_H3_NO_ERROR), "H3_NO_ERROR");
	assert_string_equal(sl_h3_err_str(SL_H3_MISSING_SETTINGS),
			    "H3_MISSING_SETTINGS");
	assert_string_equal(sl_h3_err_str(SL_H3_VERSION_FALLBACK),
			    "H3_VERSION_FALLBACK");
	assert_string_equal(sl_h3_err_str(SL_QPACK_DECODER_STREAM_ERROR),
			    "QPACK_DECODER_STREAM_ERROR");
	assert_string_equal(sl_h3_err_str(0x111), "UNKNOWN");
	assert_string_equal(sl_h3_err_str(0), "UNKNOWN");
	assert_string_equal(sl_h3f_type_str(SL_H3F_MAX_PUSH_ID), "MAX_PUSH_ID");
	assert_string_equal(sl_h3f_type_str(0x21), "RESERVED");
	assert_string_equal(sl_h3f_type_str(0x02), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_varint),
	    cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_message_order),
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_settings_from_nghttp3),
	    cmocka_unit_test(test_settings_to_nghttp3),
	    cmocka_unit_test(test_id_frames),
	    cmocka_unit_test(test_uni),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
