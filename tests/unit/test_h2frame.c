/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the HTTP/2 frame layer (src/h2/frame.c): every rule of RFC
 * 9113 sections 4 to 6 that h2spec checks, written from the RFC; the
 * reader fed at once, byte by byte and in uneven pieces (all must agree);
 * the stream states of section 5.1; windows; the writers read back. No
 * sockets, no I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

#define MAXREC 32

/* What the reader reported, DATA pieces joined per frame. */
struct rec {
	int rc; /* SL_H2F_EV_FRAME or SL_H2F_EV_STREAM_ERROR */
	struct sl_h2f_header hd;
	uint32_t code, value;
	uint8_t data[256];
	size_t len;
	int pieces; /* DATA: events, the first and last included */
	int last;   /* DATA: the last piece came */
};

struct log {
	struct rec r[MAXREC];
	size_t n;
	int error; /* a connection error came */
	uint32_t code;
	const char *why;
};

static uint8_t gbuf[SL_H2F_MAX_FRAME_MIN * 2];

/* Feeds in to a new reader in pieces of step bytes (0: at once). */
static void
run(struct log *lg, int is_server, const uint8_t *in, size_t len, size_t step)
{
	struct sl_h2f_reader r;
	struct sl_h2f_event ev;
	size_t off = 0, end, used;
	int rc;

	memset(lg, 0, sizeof(*lg));
	assert_int_equal(sl_h2f_reader_init(&r, is_server, gbuf, sizeof(gbuf),
					    SL_H2F_MAX_FRAME_MIN),
			 0);
	while (off < len || len == 0) {
		end = step == 0 || len - off < step ? len : off + step;
		while (off <= end) {
			rc = sl_h2f_read(&r, in + off, end - off, &used, &ev);
			assert_true(used <= end - off);
			off += used;
			if (rc == SL_H2F_EV_NONE) {
				assert_int_equal(off, end);
				break;
			}
			if (rc == SL_H2F_EV_CONN_ERROR) {
				lg->error = 1;
				lg->code = r.code;
				lg->why = r.why;
				assert_non_null(r.why);
				/* and it stays so */
				assert_int_equal(
				    sl_h2f_read(&r, in, len, &used, &ev),
				    SL_H2F_EV_CONN_ERROR);
				return;
			}
			if (rc == SL_H2F_EV_FRAME &&
			    ev.hd.type == SL_H2F_DATA && !ev.first) {
				struct rec *c = &lg->r[lg->n - 1];

				assert_false(c->last);
				assert_true(c->len + ev.len <= sizeof(c->data));
				if (ev.len > 0)
					memcpy(c->data + c->len, ev.data,
					       ev.len);
				c->len += ev.len;
				c->pieces++;
				c->last = ev.last;
				continue;
			}
			assert_true(lg->n < MAXREC);
			struct rec *c = &lg->r[lg->n++];
			c->rc = rc;
			c->hd = ev.hd;
			c->code = ev.code;
			c->value = ev.value;
			c->pieces = 1;
			c->last = ev.last;
			assert_true(ev.len <= sizeof(c->data));
			if (ev.len > 0)
				memcpy(c->data, ev.data, ev.len);
			c->len = ev.len;
		}
		if (len == 0)
			break;
	}
}

/* Every DATA frame reported must have had its last piece. */
static void
assert_data_whole(const struct log *lg)
{
	size_t i;

	for (i = 0; i < lg->n; i++)
		if (lg->r[i].rc == SL_H2F_EV_FRAME &&
		    lg->r[i].hd.type == SL_H2F_DATA)
			assert_true(lg->r[i].last);
}

static void
assert_same(const struct log *a, const struct log *b)
{
	size_t i;

	assert_int_equal(a->error, b->error);
	assert_int_equal(a->code, b->code);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->r[i].rc, b->r[i].rc);
		assert_memory_equal(&a->r[i].hd, &b->r[i].hd,
				    sizeof(a->r[i].hd));
		assert_int_equal(a->r[i].code, b->r[i].code);
		assert_int_equal(a->r[i].value, b->r[i].value);
		assert_int_equal(a->r[i].len, b->r[i].len);
		assert_memory_equal(a->r[i].data, b->r[i].data, a->r[i].len);
	}
}

/* The log of in, which must be the same at once, byte by byte and in
 * pieces of 2, 5 and 10 bytes. */
static void
read_all(struct log *lg, int is_server, const uint8_t *in, size_t len)
{
	static struct log other;
	static const size_t steps[] = {1, 2, 5, 10};
	size_t i;

	run(lg, is_server, in, len, 0);
	if (!lg->error)
		assert_data_whole(lg);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		run(&other, is_server, in, len, steps[i]);
		assert_same(lg, &other);
	}
}

/* ---- building input ------------------------------------------------------*/

struct wire {
	uint8_t b[4096];
	size_t n;
};

static void
w_bytes(struct wire *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
w_frame(struct wire *w, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid,
	const void *payload, size_t plen)
{
	uint8_t h[9];

	assert_int_equal(
	    sl_h2f_write_header(h, sizeof(h), len, type, flags, sid), 9);
	w_bytes(w, h, 9);
	if (plen > 0)
		w_bytes(w, payload, plen);
}

/* A frame whose length field says what its payload has. */
static void
w_f(struct wire *w, uint8_t type, uint8_t flags, uint32_t sid,
    const void *payload, size_t plen)
{
	w_frame(w, (uint32_t)plen, type, flags, sid, payload, plen);
}

/* The server side's start: the preface and an empty SETTINGS. */
static void
w_start(struct wire *w)
{
	w->n = 0;
	w_bytes(w, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
	w_f(w, SL_H2F_SETTINGS, 0, 0, NULL, 0);
}

/* The log's connection error after the start, at once and in pieces. */
static void
expect_conn(struct wire *w, uint32_t code)
{
	struct log lg;

	read_all(&lg, 1, w->b, w->n);
	assert_true(lg.error);
	assert_int_equal(lg.code, code);
}

/* A frame after the start must give a stream error of code on sid. */
static void
expect_stream(struct wire *w, uint32_t sid, uint32_t code)
{
	struct log lg;

	read_all(&lg, 1, w->b, w->n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 2);
	assert_int_equal(lg.r[1].rc, SL_H2F_EV_STREAM_ERROR);
	assert_int_equal(lg.r[1].hd.stream_id, sid);
	assert_int_equal(lg.r[1].code, code);
}

static const uint8_t block[] = {0x82, 0x86, 0x84, 0x41, 0x01, 'a'};

/* ---- section 4: frames ---------------------------------------------------*/

static void
test_header_roundtrip(void **state)
{
	uint8_t b[9];
	struct sl_h2f_header h;

	(void)state;
	assert_int_equal(sl_h2f_write_header(b, 8, 1, 0, 0, 1), 0);
	assert_int_equal(
	    sl_h2f_write_header(b, 9, 0xabcdef, 0xfe, 0x29, 0x12345678), 9);
	assert_int_equal(b[0], 0xab);
	assert_int_equal(b[3], 0xfe);
	sl_h2f_header_parse(&h, b);
	assert_int_equal(h.length, 0xabcdef);
	assert_int_equal(h.type, 0xfe);
	assert_int_equal(h.flags, 0x29);
	assert_int_equal(h.stream_id, 0x12345678);
	/* the reserved bit is ignored on receipt (section 4.1) */
	b[5] |= 0x80;
	sl_h2f_header_parse(&h, b);
	assert_int_equal(h.stream_id, 0x12345678);
	assert_string_equal(sl_h2f_type_str(SL_H2F_CONTINUATION),
			    "CONTINUATION");
	assert_string_equal(sl_h2f_type_str(10), "UNKNOWN");
	assert_string_equal(sl_h2f_err_str(SL_H2F_HTTP_1_1_REQUIRED),
			    "HTTP_1_1_REQUIRED");
	assert_string_equal(sl_h2f_err_str(14), "UNKNOWN");
	assert_string_equal(sl_h2f_st_str(SL_H2F_ST_GONE), "gone");
	assert_string_equal(sl_h2f_st_str((enum sl_h2f_st)99), "unknown");
}

static void
test_init_limits(void **state)
{
	struct sl_h2f_reader r;

	(void)state;
	assert_int_equal(sl_h2f_reader_init(&r, 1, gbuf, 100, 16384), -1);
	assert_int_equal(sl_h2f_reader_init(&r, 1, gbuf, sizeof(gbuf), 16383),
			 -1);
	assert_int_equal(sl_h2f_reader_init(&r, 1, gbuf, sizeof(gbuf), 16384),
			 0);
	assert_int_equal(sl_h2f_reader_set_max_frame(&r, sizeof(gbuf) + 1), -1);
	assert_int_equal(sl_h2f_reader_set_max_frame(&r, 16777216), -1);
	assert_int_equal(r.max_frame, 16384);
	assert_int_equal(sl_h2f_reader_set_max_frame(&r, sizeof(gbuf)), 0);
	assert_int_equal(r.max_frame, sizeof(gbuf));
}

/* Section 3.4: the client preface, then SETTINGS. */
static void
test_preface(void **state)
{
	struct wire w;
	struct log lg;

	(void)state;
	w_start(&w);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 1);
	assert_int_equal(lg.r[0].hd.type, SL_H2F_SETTINGS);
	/* nothing yet */
	read_all(&lg, 1, w.b, 0);
	assert_false(lg.error);
	assert_int_equal(lg.n, 0);
	/* a bad preface, at its 20th byte */
	w.b[20] = 'X';
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* the client side expects none: the server's SETTINGS comes first */
	read_all(&lg, 0, w.b + SL_H2F_PREFACE_LEN, 9);
	assert_false(lg.error);
	assert_int_equal(lg.n, 1);
	read_all(&lg, 0, w.b, w.n);
	assert_true(lg.error);
	assert_int_equal(lg.code, SL_H2F_PROTOCOL_ERROR);
}

static void
test_first_not_settings(void **state)
{
	struct wire w = {.n = 0};
	static const uint8_t ping[8];

	(void)state;
	w_bytes(&w, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
	w_f(&w, SL_H2F_PING, 0, 0, ping, 8);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* nor a SETTINGS ack */
	w.n = SL_H2F_PREFACE_LEN;
	w_f(&w, SL_H2F_SETTINGS, SL_H2F_F_ACK, 0, NULL, 0);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
}

/* Section 4.2: a frame over SETTINGS_MAX_FRAME_SIZE (h2spec 4.2/2, 4.2/3). */
static void
test_frame_size(void **state)
{
	struct wire w;
	struct sl_h2f_reader r;
	struct sl_h2f_event ev;
	size_t used;
	uint8_t big[9 + 16385];

	(void)state;
	w_start(&w);
	w_frame(&w, 16385, SL_H2F_DATA, 0, 1, NULL, 0);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
	w_start(&w);
	w_frame(&w, 16385, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS, 1, NULL, 0);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
	/* also an unknown type's */
	w_start(&w);
	w_frame(&w, 16385, 0x20, 0, 0, NULL, 0);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);

	/* a raised limit lets it through, gathered in the caller's buffer */
	assert_int_equal(
	    sl_h2f_reader_init(&r, 0, gbuf, sizeof(gbuf), sizeof(gbuf)), 0);
	sl_h2f_write_header(big, 9, 0, SL_H2F_SETTINGS, 0, 0);
	assert_int_equal(sl_h2f_read(&r, big, 9, &used, &ev), SL_H2F_EV_FRAME);
	/* a whole payload in the input is not copied */
	sl_h2f_write_header(big, 9, 3, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS, 1);
	memcpy(big + 9, "\x82\x86\x84", 3);
	assert_int_equal(sl_h2f_read(&r, big, 12, &used, &ev), SL_H2F_EV_FRAME);
	assert_ptr_equal(ev.data, big + 9);
	assert_int_equal(ev.len, 3);
	memset(big, 'x', sizeof(big));
	sl_h2f_write_header(big, 9, 16385, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS,
			    3);
	assert_int_equal(sl_h2f_read(&r, big, 1000, &used, &ev),
			 SL_H2F_EV_NONE);
	assert_int_equal(used, 1000);
	assert_int_equal(
	    sl_h2f_read(&r, big + 1000, sizeof(big) - 1000, &used, &ev),
	    SL_H2F_EV_FRAME);
	assert_int_equal(used, sizeof(big) - 1000);
	assert_int_equal(ev.len, 16385);
	assert_ptr_equal(ev.data, gbuf);
	assert_int_equal(gbuf[16384], 'x');
}

/* Sections 4.1, 5.5: frames of unknown types are ignored, but not inside
 * a header block (h2spec 5.5/1, 5.5/2). */
static void
test_unknown_type(void **state)
{
	struct wire w;
	struct log lg;
	static const uint8_t junk[5] = "abcde";
	static const uint8_t ping[8] = "12345678";

	(void)state;
	w_start(&w);
	w_f(&w, 0x0a, 0xff, 0, junk, 5);
	w_f(&w, 0xff, 0, 7, NULL, 0);
	w_f(&w, SL_H2F_PING, 0, 0, ping, 8);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 2);
	assert_int_equal(lg.r[1].hd.type, SL_H2F_PING);
	assert_memory_equal(lg.r[1].data, ping, 8);

	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, 0, 1, block, sizeof(block));
	w_f(&w, 0x0a, 0, 1, junk, 5);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
}

/* ---- section 6.1: DATA ---------------------------------------------------*/

static void
test_data(void **state)
{
	struct wire w;
	struct log lg;
	uint8_t p[64];

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_DATA, 0, 1, "hello", 5);
	/* padded: 3 bytes of padding */
	p[0] = 3;
	memcpy(p + 1, "world", 5);
	memset(p + 6, 0, 3);
	w_f(&w, SL_H2F_DATA, SL_H2F_F_PADDED | SL_H2F_F_END_STREAM, 1, p, 9);
	w_f(&w, SL_H2F_DATA, 0, 3, NULL, 0);
	/* padding only */
	p[0] = 4;
	w_f(&w, SL_H2F_DATA, SL_H2F_F_PADDED, 5, p, 5);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 5);
	assert_int_equal(lg.r[1].len, 5);
	assert_memory_equal(lg.r[1].data, "hello", 5);
	assert_int_equal(lg.r[2].hd.length, 9);
	assert_int_equal(lg.r[2].hd.flags,
			 SL_H2F_F_PADDED | SL_H2F_F_END_STREAM);
	assert_int_equal(lg.r[2].len, 5);
	assert_memory_equal(lg.r[2].data, "world", 5);
	assert_int_equal(lg.r[3].hd.stream_id, 3);
	assert_int_equal(lg.r[3].len, 0);
	assert_int_equal(lg.r[4].len, 0);
	assert_int_equal(lg.r[4].hd.length, 5);
	assert_true(lg.r[4].last);
}

/* A 16 KiB DATA frame needs no buffer: pieces point into the input. */
static void
test_data_streamed(void **state)
{
	static uint8_t in[9 + 16384];
	struct sl_h2f_reader r;
	struct sl_h2f_event ev;
	size_t used;
	uint8_t h[9];

	(void)state;
	assert_int_equal(sl_h2f_reader_init(&r, 0, gbuf, sizeof(gbuf), 16384),
			 0);
	sl_h2f_write_header(h, 9, 0, SL_H2F_SETTINGS, 0, 0);
	assert_int_equal(sl_h2f_read(&r, h, 9, &used, &ev), SL_H2F_EV_FRAME);
	sl_h2f_write_data_header(in, 9, 1, 16384, 1);
	memset(in + 9, 'd', 16384);
	memset(gbuf, 0, sizeof(gbuf));
	assert_int_equal(sl_h2f_read(&r, in, 100, &used, &ev), SL_H2F_EV_FRAME);
	assert_int_equal(used, 100);
	assert_true(ev.first);
	assert_false(ev.last);
	assert_ptr_equal(ev.data, in + 9);
	assert_int_equal(ev.len, 91);
	assert_int_equal(ev.hd.length, 16384);
	assert_int_equal(
	    sl_h2f_read(&r, in + 100, sizeof(in) - 100, &used, &ev),
	    SL_H2F_EV_FRAME);
	assert_false(ev.first);
	assert_true(ev.last);
	assert_ptr_equal(ev.data, in + 100);
	assert_int_equal(ev.len, 16384 - 91);
	assert_true(ev.hd.flags & SL_H2F_F_END_STREAM);
	assert_int_equal(gbuf[0], 0);

	/* a padded one, its header alone first, then nothing, then the rest */
	sl_h2f_write_header(in, 9, 4, SL_H2F_DATA, SL_H2F_F_PADDED, 3);
	memcpy(in + 9, "\x01xy\x00", 4);
	assert_int_equal(sl_h2f_read(&r, in, 9, &used, &ev), SL_H2F_EV_NONE);
	assert_int_equal(used, 9);
	assert_int_equal(sl_h2f_read(&r, in + 9, 0, &used, &ev),
			 SL_H2F_EV_NONE);
	assert_int_equal(used, 0);
	assert_int_equal(sl_h2f_read(&r, in + 9, 4, &used, &ev),
			 SL_H2F_EV_FRAME);
	assert_int_equal(used, 4);
	assert_true(ev.first && ev.last);
	assert_int_equal(ev.len, 2);
	assert_memory_equal(ev.data, "xy", 2);
}

static void
test_data_errors(void **state)
{
	struct wire w;
	uint8_t p[8] = {5, 'a', 'b', 'c', 'd', 0, 0, 0};

	(void)state;
	/* h2spec 6.1/1: DATA on stream 0 */
	w_start(&w);
	w_f(&w, SL_H2F_DATA, 0, 0, "x", 1);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.1/3: padding as long as the payload */
	w_start(&w);
	w_f(&w, SL_H2F_DATA, SL_H2F_F_PADDED, 1, p, 5);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* one shorter is fine: no data, 5 - 1 bytes of padding */
	w_start(&w);
	p[0] = 4;
	w_f(&w, SL_H2F_DATA, SL_H2F_F_PADDED, 1, p, 5);
	struct log lg;
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	/* no room for the pad length */
	w_start(&w);
	w_f(&w, SL_H2F_DATA, SL_H2F_F_PADDED, 1, NULL, 0);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
}

/* ---- section 6.2: HEADERS, 6.10: CONTINUATION ----------------------------*/

static void
test_headers(void **state)
{
	struct wire w;
	struct log lg;
	uint8_t p[64];

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS | SL_H2F_F_END_STREAM, 1,
	    block, sizeof(block));
	/* padded and with priority: both stripped */
	p[0] = 2;
	memcpy(p + 1, "\x80\x00\x00\x01\x10", 5); /* exclusive, on 1 */
	memcpy(p + 6, block, sizeof(block));
	p[6 + sizeof(block)] = 0;
	p[7 + sizeof(block)] = 0;
	w_f(&w, SL_H2F_HEADERS,
	    SL_H2F_F_END_HEADERS | SL_H2F_F_PADDED | SL_H2F_F_PRIORITY, 3, p,
	    8 + sizeof(block));
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 3);
	assert_int_equal(lg.r[1].len, sizeof(block));
	assert_memory_equal(lg.r[1].data, block, sizeof(block));
	assert_int_equal(lg.r[1].code, 0);
	assert_int_equal(lg.r[2].len, sizeof(block));
	assert_memory_equal(lg.r[2].data, block, sizeof(block));
	assert_int_equal(lg.r[2].value, 1);
	assert_int_equal(lg.r[2].code, 0);
}

static void
test_headers_errors(void **state)
{
	struct wire w;
	struct log lg;
	uint8_t p[64];

	(void)state;
	/* h2spec 6.2/2: HEADERS on stream 0 */
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS, 0, block, sizeof(block));
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.2/4: padding longer than what is left */
	w_start(&w);
	p[0] = sizeof(block) + 1;
	memcpy(p + 1, block, sizeof(block));
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS | SL_H2F_F_PADDED, 1, p,
	    1 + sizeof(block));
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* with priority, the padding is checked against what follows it */
	w_start(&w);
	p[0] = 2;
	memcpy(p + 1, "\x00\x00\x00\x00\x10\x00", 6);
	w_f(&w, SL_H2F_HEADERS,
	    SL_H2F_F_END_HEADERS | SL_H2F_F_PADDED | SL_H2F_F_PRIORITY, 1, p,
	    7);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* too short for the pad length (padding as long as the payload),
	 * or for the priority */
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS | SL_H2F_F_PADDED, 1, NULL,
	    0);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS | SL_H2F_F_PRIORITY, 1,
	    "\0\0\0\0", 4);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
	/* h2spec 5.3.1/1: depending on itself: a stream error once the
	 * block is decoded */
	w_start(&w);
	memcpy(p, "\x00\x00\x00\x03\x10", 5);
	memcpy(p + 5, block, sizeof(block));
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS | SL_H2F_F_PRIORITY, 3, p,
	    5 + sizeof(block));
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.r[1].rc, SL_H2F_EV_FRAME);
	assert_int_equal(lg.r[1].code, SL_H2F_PROTOCOL_ERROR);
	assert_int_equal(lg.r[1].len, sizeof(block));
}

static void
test_continuation(void **state)
{
	struct wire w;
	struct log lg;
	static const uint8_t ping[8];
	struct sl_h2f_reader r;
	struct sl_h2f_event ev;
	size_t used, off;
	int rc;

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_STREAM, 1, block, 2);
	w_f(&w, SL_H2F_CONTINUATION, 0, 1, block + 2, 2);
	w_f(&w, SL_H2F_CONTINUATION, 0, 1, NULL, 0);
	w_f(&w, SL_H2F_CONTINUATION, SL_H2F_F_END_HEADERS, 1, block + 4, 2);
	w_f(&w, SL_H2F_PING, 0, 0, ping, 8);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 6);
	assert_int_equal(lg.r[2].hd.type, SL_H2F_CONTINUATION);
	assert_memory_equal(lg.r[2].data, block + 2, 2);
	assert_int_equal(lg.r[3].len, 0);
	assert_memory_equal(lg.r[4].data, block + 4, 2);

	/* the reader says whose block is open and how long it runs */
	assert_int_equal(sl_h2f_reader_init(&r, 1, gbuf, sizeof(gbuf), 16384),
			 0);
	for (off = 0; (rc = sl_h2f_read(&r, w.b + off, w.n - off, &used,
					&ev)) != SL_H2F_EV_NONE;
	     off += used) {
		assert_int_equal(rc, SL_H2F_EV_FRAME);
		if (ev.hd.type == SL_H2F_CONTINUATION &&
		    !(ev.hd.flags & SL_H2F_F_END_HEADERS))
			assert_int_equal(r.cont_sid, 1);
		if (ev.hd.type == SL_H2F_CONTINUATION && ev.len == 0)
			assert_int_equal(r.ncont, 2);
	}
	assert_int_equal(r.cont_sid, 0);

	/* h2spec 6.10/2: another frame between */
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, 0, 1, block, 2);
	w_f(&w, SL_H2F_DATA, 0, 1, "x", 1);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, 0, 1, block, 2);
	w_f(&w, SL_H2F_PING, 0, 0, ping, 8);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.10/3: CONTINUATION of another stream */
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, 0, 1, block, 2);
	w_f(&w, SL_H2F_CONTINUATION, SL_H2F_F_END_HEADERS, 3, block, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.10/4, 6.10/5: after END_HEADERS, or with none before */
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_END_HEADERS, 1, block, 2);
	w_f(&w, SL_H2F_CONTINUATION, SL_H2F_F_END_HEADERS, 1, block, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	w_start(&w);
	w_f(&w, SL_H2F_CONTINUATION, SL_H2F_F_END_HEADERS, 1, block, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.10/6: CONTINUATION on stream 0 */
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, 0, 1, block, 2);
	w_f(&w, SL_H2F_CONTINUATION, SL_H2F_F_END_HEADERS, 0, block, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
}

/* ---- 6.3 PRIORITY, 6.4 RST_STREAM ----------------------------------------*/

static void
test_priority(void **state)
{
	struct wire w;
	struct log lg;

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_PRIORITY, 0, 9, "\x00\x00\x00\x01\xff", 5);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.r[1].rc, SL_H2F_EV_FRAME);
	assert_int_equal(lg.r[1].value, 1);
	/* h2spec 6.3/1: on stream 0 */
	w_start(&w);
	w_f(&w, SL_H2F_PRIORITY, 0, 0, "\x00\x00\x00\x01\xff", 5);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.3/2: length not 5, a stream error */
	w_start(&w);
	w_f(&w, SL_H2F_PRIORITY, 0, 1, "\x00\x00\x00\x03", 4);
	expect_stream(&w, 1, SL_H2F_FRAME_SIZE_ERROR);
	w_start(&w);
	w_f(&w, SL_H2F_PRIORITY, 0, 1, "\x00\x00\x00\x03\x01\x02", 6);
	expect_stream(&w, 1, SL_H2F_FRAME_SIZE_ERROR);
	/* h2spec 5.3.1/2: depending on itself (the exclusive bit aside) */
	w_start(&w);
	w_f(&w, SL_H2F_PRIORITY, 0, 5, "\x80\x00\x00\x05\x10", 5);
	expect_stream(&w, 5, SL_H2F_PROTOCOL_ERROR);
}

static void
test_rst_stream(void **state)
{
	struct wire w;
	struct log lg;

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_RST_STREAM, 0, 1, "\x00\x00\x00\x08", 4);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.r[1].code, SL_H2F_CANCEL);
	/* h2spec 6.4/1: on stream 0 */
	w_start(&w);
	w_f(&w, SL_H2F_RST_STREAM, 0, 0, "\x00\x00\x00\x08", 4);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.4/3: length not 4 */
	w_start(&w);
	w_f(&w, SL_H2F_RST_STREAM, 0, 1, "\x00\x00\x08", 3);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
}

/* ---- 6.5 SETTINGS
 * ----------------------------------------------------------*/

static void
settings_one(struct wire *w, uint16_t id, uint32_t v)
{
	struct sl_h2f_setting s = {id, v};
	uint8_t b[15];

	w_start(w);
	assert_int_equal(sl_h2f_write_settings(b, sizeof(b), &s, 1), 15);
	w_bytes(w, b, 15);
}

static void
test_settings(void **state)
{
	struct wire w;
	struct log lg;
	uint16_t id;
	uint32_t v;

	(void)state;
	/* values at their limits, an unknown id: accepted */
	w_start(&w);
	w_f(&w, SL_H2F_SETTINGS, 0, 0,
	    "\x00\x02\x00\x00\x00\x01"
	    "\x00\x04\x7f\xff\xff\xff"
	    "\x00\x05\x00\xff\xff\xff"
	    "\x00\x05\x00\x00\x40\x00"
	    "\x00\x08\x00\x00\x00\x01"
	    "\xff\x99\xff\xff\xff\xff",
	    36);
	w_f(&w, SL_H2F_SETTINGS, SL_H2F_F_ACK, 0, NULL, 0);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 3);
	assert_int_equal(lg.r[1].len, 36);
	sl_h2f_setting_at(lg.r[1].data, 5, &id, &v);
	assert_int_equal(id, 0xff99);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(lg.r[2].hd.flags, SL_H2F_F_ACK);

	/* h2spec 6.5/1: ACK with a payload */
	w_start(&w);
	w_f(&w, SL_H2F_SETTINGS, SL_H2F_F_ACK, 0, "\x00\x02\x00\x00\x00\x00",
	    6);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
	/* h2spec 6.5/2: on a stream */
	w_start(&w);
	w_f(&w, SL_H2F_SETTINGS, 0, 1, "\x00\x02\x00\x00\x00\x00", 6);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.5/3: length not a multiple of 6 */
	w_start(&w);
	w_f(&w, SL_H2F_SETTINGS, 0, 0, "\x00\x02\x00\x00\x00", 5);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
	/* h2spec 6.5.3/..., 6.5.2/1-4: values */
	settings_one(&w, SL_H2F_SET_ENABLE_PUSH, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	settings_one(&w, SL_H2F_SET_INITIAL_WINDOW_SIZE, 0x80000000u);
	expect_conn(&w, SL_H2F_FLOW_CONTROL_ERROR);
	settings_one(&w, SL_H2F_SET_MAX_FRAME_SIZE, 16383);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	settings_one(&w, SL_H2F_SET_MAX_FRAME_SIZE, 16777216);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	settings_one(&w, SL_H2F_SET_ENABLE_CONNECT_PROTOCOL, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* RFC 9218: SETTINGS_NO_RFC7540_PRIORITIES is 0 or 1, and the first
	 * SETTINGS fixes it (0 when it does not say) */
	settings_one(&w, SL_H2F_SET_NO_RFC7540_PRIORITIES, 2);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	settings_one(&w, SL_H2F_SET_NO_RFC7540_PRIORITIES, 1);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	settings_one(&w, SL_H2F_SET_NO_RFC7540_PRIORITIES, 0);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	w.n = SL_H2F_PREFACE_LEN;
	w_f(&w, SL_H2F_SETTINGS, 0, 0,
	    "\x00\x09\x00\x00\x00\x01\x00\x09\x00\x00\x00\x01", 12);
	w_f(&w, SL_H2F_SETTINGS, 0, 0, "\x00\x09\x00\x00\x00\x01", 6);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	w_f(&w, SL_H2F_SETTINGS, 0, 0, "\x00\x09\x00\x00\x00\x00", 6);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* RFC 8441: a server may not take ENABLE_CONNECT_PROTOCOL back; a
	 * client's 0 after 1 means nothing */
	settings_one(&w, SL_H2F_SET_ENABLE_CONNECT_PROTOCOL, 1);
	w_f(&w, SL_H2F_SETTINGS, 0, 0, "\x00\x08\x00\x00\x00\x00", 6);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	read_all(&lg, 0, w.b + SL_H2F_PREFACE_LEN, w.n - SL_H2F_PREFACE_LEN);
	assert_true(lg.error);
	assert_int_equal(lg.code, SL_H2F_PROTOCOL_ERROR);
}

/* ---- 6.6 PUSH_PROMISE, 6.7 PING, 6.8 GOAWAY, 6.9 WINDOW_UPDATE
 * -------------*/

static void
test_push_promise(void **state)
{
	struct wire w;
	uint8_t p[16] = {0, 0, 0, 2};

	(void)state;
	memcpy(p + 4, block, sizeof(block));
	w_start(&w);
	w_f(&w, SL_H2F_PUSH_PROMISE, SL_H2F_F_END_HEADERS, 1, p,
	    4 + sizeof(block));
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
}

static void
test_ping(void **state)
{
	struct wire w;
	struct log lg;

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_PING, SL_H2F_F_ACK, 0, "abcdefgh", 8);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_memory_equal(lg.r[1].data, "abcdefgh", 8);
	assert_int_equal(lg.r[1].hd.flags, SL_H2F_F_ACK);
	/* h2spec 6.7/3: on a stream */
	w_start(&w);
	w_f(&w, SL_H2F_PING, 0, 1, "abcdefgh", 8);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.7/4: length not 8 */
	w_start(&w);
	w_f(&w, SL_H2F_PING, 0, 0, "abcdefg", 7);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
	w_start(&w);
	w_f(&w, SL_H2F_PING, 0, 0, "abcdefghi", 9);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
}

static void
test_goaway(void **state)
{
	struct wire w;
	struct log lg;

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_GOAWAY, 0, 0,
	    "\x80\x00\x00\x07\x00\x00\x00\x0b"
	    "dbg",
	    11);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.r[1].value, 7);
	assert_int_equal(lg.r[1].code, SL_H2F_ENHANCE_YOUR_CALM);
	assert_int_equal(lg.r[1].len, 3);
	assert_memory_equal(lg.r[1].data, "dbg", 3);
	/* h2spec 6.8/1: on a stream */
	w_start(&w);
	w_f(&w, SL_H2F_GOAWAY, 0, 1, "\0\0\0\0\0\0\0\0", 8);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	w_start(&w);
	w_f(&w, SL_H2F_GOAWAY, 0, 0, "\0\0\0\0\0\0\0", 7);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
}

static void
test_window_update(void **state)
{
	struct wire w;
	struct log lg;

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_WINDOW_UPDATE, 0, 0, "\xff\xff\xff\xff", 4);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.r[1].value, SL_H2F_MAX_WINDOW);
	/* h2spec 6.9/1: 0 on the connection */
	w_start(&w);
	w_f(&w, SL_H2F_WINDOW_UPDATE, 0, 0, "\x80\0\0\0", 4);
	expect_conn(&w, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.9/2: 0 on a stream */
	w_start(&w);
	w_f(&w, SL_H2F_WINDOW_UPDATE, 0, 1, "\0\0\0\0", 4);
	expect_stream(&w, 1, SL_H2F_PROTOCOL_ERROR);
	/* h2spec 6.9/3: length not 4 */
	w_start(&w);
	w_f(&w, SL_H2F_WINDOW_UPDATE, 0, 0, "\0\0\0\1\0", 5);
	expect_conn(&w, SL_H2F_FRAME_SIZE_ERROR);
}

/* ---- 6.9.1, 6.9.2: windows
 * -------------------------------------------------*/

static void
test_windows(void **state)
{
	int32_t win = SL_H2F_INITIAL_WINDOW;

	(void)state;
	/* h2spec 6.9.1/2, 6.9.1/3: past 2^31-1 */
	assert_int_equal(sl_h2f_window_add(&win, SL_H2F_MAX_WINDOW - 65535), 0);
	assert_int_equal(win, SL_H2F_MAX_WINDOW);
	assert_int_equal(sl_h2f_window_add(&win, 1), SL_H2F_FLOW_CONTROL_ERROR);
	assert_int_equal(win, SL_H2F_MAX_WINDOW);
	win = -100;
	assert_int_equal(sl_h2f_window_add(&win, SL_H2F_MAX_WINDOW), 0);
	assert_int_equal(win, SL_H2F_MAX_WINDOW - 100);

	/* h2spec 6.9.2/1-3: the initial size changes under open streams */
	win = 100;
	assert_int_equal(sl_h2f_window_resize(&win, 65535, 0), 0);
	assert_int_equal(win, 100 - 65535);
	assert_int_equal(sl_h2f_window_resize(&win, 0, 65535), 0);
	assert_int_equal(win, 100);
	assert_int_equal(sl_h2f_window_resize(&win, 65535, SL_H2F_MAX_WINDOW),
			 0);
	assert_int_equal(win, SL_H2F_MAX_WINDOW - 65435);
	assert_int_equal(sl_h2f_window_resize(&win, 0, SL_H2F_MAX_WINDOW),
			 SL_H2F_FLOW_CONTROL_ERROR);
	assert_int_equal(win, SL_H2F_MAX_WINDOW - 65435);
	win = -SL_H2F_MAX_WINDOW;
	assert_int_equal(sl_h2f_window_resize(&win, 2, 0),
			 SL_H2F_FLOW_CONTROL_ERROR);

	/* receiving: more than the window allowed */
	win = 10;
	assert_int_equal(sl_h2f_window_consume(&win, 10), 0);
	assert_int_equal(win, 0);
	assert_int_equal(sl_h2f_window_consume(&win, 1),
			 SL_H2F_FLOW_CONTROL_ERROR);
	win = -1;
	assert_int_equal(sl_h2f_window_consume(&win, 0),
			 SL_H2F_FLOW_CONTROL_ERROR);
}

/* ---- 5.1 stream states ---------------------------------------------------*/

struct st_case {
	enum sl_h2f_st st;
	uint8_t type, flags;
	int verdict;
	enum sl_h2f_st next;
	uint32_t code;
};

static void
test_stream_states(void **state)
{
#define ES SL_H2F_F_END_STREAM
	static const struct st_case cases[] = {
	    /* idle (h2spec 5.1/1-4) */
	    {SL_H2F_ST_IDLE, SL_H2F_HEADERS, 0, SL_H2F_ACCEPT, SL_H2F_ST_OPEN,
	     0},
	    {SL_H2F_ST_IDLE, SL_H2F_HEADERS, ES, SL_H2F_ACCEPT,
	     SL_H2F_ST_HALF_CLOSED_REMOTE, 0},
	    {SL_H2F_ST_IDLE, SL_H2F_PRIORITY, 0, SL_H2F_ACCEPT, SL_H2F_ST_IDLE,
	     0},
	    {SL_H2F_ST_IDLE, SL_H2F_DATA, 0, SL_H2F_CONN_ERROR, SL_H2F_ST_IDLE,
	     SL_H2F_PROTOCOL_ERROR},
	    {SL_H2F_ST_IDLE, SL_H2F_RST_STREAM, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_IDLE, SL_H2F_PROTOCOL_ERROR},
	    {SL_H2F_ST_IDLE, SL_H2F_WINDOW_UPDATE, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_IDLE, SL_H2F_PROTOCOL_ERROR},
	    {SL_H2F_ST_IDLE, SL_H2F_CONTINUATION, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_IDLE, SL_H2F_PROTOCOL_ERROR},
	    /* h2spec 5.1.1/1: an even id from a client */
	    {SL_H2F_ST_IDLE_LOCAL, SL_H2F_HEADERS, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_IDLE_LOCAL, SL_H2F_PROTOCOL_ERROR},
	    /* reserved (a client of a pushing server) */
	    {SL_H2F_ST_RESERVED_REMOTE, SL_H2F_HEADERS, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_HALF_CLOSED_LOCAL, 0},
	    {SL_H2F_ST_RESERVED_REMOTE, SL_H2F_HEADERS, ES, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED, 0},
	    {SL_H2F_ST_RESERVED_REMOTE, SL_H2F_RST_STREAM, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED_RESET_RECV, 0},
	    {SL_H2F_ST_RESERVED_REMOTE, SL_H2F_DATA, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_RESERVED_REMOTE, SL_H2F_PROTOCOL_ERROR},
	    {SL_H2F_ST_RESERVED_LOCAL, SL_H2F_WINDOW_UPDATE, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_RESERVED_LOCAL, 0},
	    {SL_H2F_ST_RESERVED_LOCAL, SL_H2F_RST_STREAM, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED_RESET_RECV, 0},
	    {SL_H2F_ST_RESERVED_LOCAL, SL_H2F_HEADERS, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_RESERVED_LOCAL, SL_H2F_PROTOCOL_ERROR},
	    /* open */
	    {SL_H2F_ST_OPEN, SL_H2F_DATA, 0, SL_H2F_ACCEPT, SL_H2F_ST_OPEN, 0},
	    {SL_H2F_ST_OPEN, SL_H2F_DATA, ES, SL_H2F_ACCEPT,
	     SL_H2F_ST_HALF_CLOSED_REMOTE, 0},
	    {SL_H2F_ST_OPEN, SL_H2F_HEADERS, ES, SL_H2F_ACCEPT,
	     SL_H2F_ST_HALF_CLOSED_REMOTE, 0},
	    {SL_H2F_ST_OPEN, SL_H2F_WINDOW_UPDATE, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_OPEN, 0},
	    {SL_H2F_ST_OPEN, SL_H2F_RST_STREAM, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED_RESET_RECV, 0},
	    /* half-closed (local) */
	    {SL_H2F_ST_HALF_CLOSED_LOCAL, SL_H2F_DATA, ES, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED, 0},
	    {SL_H2F_ST_HALF_CLOSED_LOCAL, SL_H2F_DATA, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_HALF_CLOSED_LOCAL, 0},
	    /* half-closed (remote) (h2spec 5.1/5-7, 5.1/9) */
	    {SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_DATA, 0, SL_H2F_STREAM_ERROR,
	     SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_HEADERS, ES,
	     SL_H2F_STREAM_ERROR, SL_H2F_ST_HALF_CLOSED_REMOTE,
	     SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_CONTINUATION, 0,
	     SL_H2F_STREAM_ERROR, SL_H2F_ST_HALF_CLOSED_REMOTE,
	     SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_WINDOW_UPDATE, 0,
	     SL_H2F_ACCEPT, SL_H2F_ST_HALF_CLOSED_REMOTE, 0},
	    {SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_PRIORITY, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_HALF_CLOSED_REMOTE, 0},
	    {SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_RST_STREAM, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED_RESET_RECV, 0},
	    /* closed after END_STREAM (h2spec 5.1/11-13): a connection
	     * error STREAM_CLOSED */
	    {SL_H2F_ST_CLOSED, SL_H2F_DATA, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_CLOSED, SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_CLOSED, SL_H2F_HEADERS, ES, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_CLOSED, SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_CLOSED, SL_H2F_PRIORITY, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED, 0},
	    {SL_H2F_ST_CLOSED, SL_H2F_WINDOW_UPDATE, 0, SL_H2F_IGNORE,
	     SL_H2F_ST_CLOSED, 0},
	    {SL_H2F_ST_CLOSED, SL_H2F_RST_STREAM, 0, SL_H2F_IGNORE,
	     SL_H2F_ST_CLOSED, 0},
	    /* closed by the peer's RST_STREAM (h2spec 5.1/8-10) */
	    {SL_H2F_ST_CLOSED_RESET_RECV, SL_H2F_DATA, 0, SL_H2F_STREAM_ERROR,
	     SL_H2F_ST_CLOSED_RESET_RECV, SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_CLOSED_RESET_RECV, SL_H2F_HEADERS, 0,
	     SL_H2F_STREAM_ERROR, SL_H2F_ST_CLOSED_RESET_RECV,
	     SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_CLOSED_RESET_RECV, SL_H2F_RST_STREAM, 0, SL_H2F_IGNORE,
	     SL_H2F_ST_CLOSED_RESET_RECV, 0},
	    {SL_H2F_ST_CLOSED_RESET_RECV, SL_H2F_PRIORITY, 0, SL_H2F_ACCEPT,
	     SL_H2F_ST_CLOSED_RESET_RECV, 0},
	    /* closed by sluice's RST_STREAM: late frames are dropped */
	    {SL_H2F_ST_CLOSED_RESET_SENT, SL_H2F_DATA, ES, SL_H2F_IGNORE,
	     SL_H2F_ST_CLOSED_RESET_SENT, 0},
	    {SL_H2F_ST_CLOSED_RESET_SENT, SL_H2F_HEADERS, 0, SL_H2F_IGNORE,
	     SL_H2F_ST_CLOSED_RESET_SENT, 0},
	    /* gone (h2spec 5.1.1/2: an id below the highest) */
	    {SL_H2F_ST_GONE, SL_H2F_HEADERS, 0, SL_H2F_CONN_ERROR,
	     SL_H2F_ST_GONE, SL_H2F_PROTOCOL_ERROR},
	    {SL_H2F_ST_GONE, SL_H2F_DATA, 0, SL_H2F_STREAM_ERROR,
	     SL_H2F_ST_GONE, SL_H2F_STREAM_CLOSED},
	    {SL_H2F_ST_GONE, SL_H2F_WINDOW_UPDATE, 0, SL_H2F_IGNORE,
	     SL_H2F_ST_GONE, 0},
	    {SL_H2F_ST_GONE, SL_H2F_PRIORITY, 0, SL_H2F_ACCEPT, SL_H2F_ST_GONE,
	     0},
	};
#undef ES
	size_t i;
	enum sl_h2f_st next;
	uint32_t code;
	int v;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		code = 99;
		v = sl_h2f_stream_recv(cases[i].st, cases[i].type,
				       cases[i].flags, &next, &code);
		if (v != cases[i].verdict || next != cases[i].next ||
		    code != cases[i].code)
			fail_msg("case %zu: %s %s: %d %s %u", i,
				 sl_h2f_st_str(cases[i].st),
				 sl_h2f_type_str(cases[i].type), v,
				 sl_h2f_st_str(next), code);
	}
}

static void
test_stream_ids(void **state)
{
	(void)state;
	/* a server: the client opens odd ids */
	assert_int_equal(sl_h2f_stream_unknown(0, 1, 0, 0), SL_H2F_ST_GONE);
	assert_int_equal(sl_h2f_stream_unknown(1, 1, 0, 0), SL_H2F_ST_IDLE);
	assert_int_equal(sl_h2f_stream_unknown(5, 1, 5, 0), SL_H2F_ST_GONE);
	assert_int_equal(sl_h2f_stream_unknown(3, 1, 5, 0), SL_H2F_ST_GONE);
	assert_int_equal(sl_h2f_stream_unknown(7, 1, 5, 0), SL_H2F_ST_IDLE);
	assert_int_equal(sl_h2f_stream_unknown(2, 1, 5, 0),
			 SL_H2F_ST_IDLE_LOCAL);
	assert_int_equal(sl_h2f_stream_unknown(2, 1, 5, 2), SL_H2F_ST_GONE);
	/* a client: the server would open even ids */
	assert_int_equal(sl_h2f_stream_unknown(2, 0, 0, 3), SL_H2F_ST_IDLE);
	assert_int_equal(sl_h2f_stream_unknown(3, 0, 0, 3), SL_H2F_ST_GONE);
	assert_int_equal(sl_h2f_stream_unknown(5, 0, 0, 3),
			 SL_H2F_ST_IDLE_LOCAL);
}

static void
test_stream_send(void **state)
{
	(void)state;
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_IDLE, SL_H2F_HEADERS, 0),
			 SL_H2F_ST_OPEN);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_IDLE_LOCAL,
					    SL_H2F_HEADERS,
					    SL_H2F_F_END_STREAM),
			 SL_H2F_ST_HALF_CLOSED_LOCAL);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_IDLE, SL_H2F_DATA, 0),
			 SL_H2F_ST_IDLE);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_OPEN, SL_H2F_DATA, 0),
			 SL_H2F_ST_OPEN);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_OPEN, SL_H2F_DATA,
					    SL_H2F_F_END_STREAM),
			 SL_H2F_ST_HALF_CLOSED_LOCAL);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_HALF_CLOSED_REMOTE,
					    SL_H2F_HEADERS,
					    SL_H2F_F_END_STREAM),
			 SL_H2F_ST_CLOSED);
	assert_int_equal(
	    sl_h2f_stream_send(SL_H2F_ST_HALF_CLOSED_REMOTE, SL_H2F_DATA, 0),
	    SL_H2F_ST_HALF_CLOSED_REMOTE);
	assert_int_equal(
	    sl_h2f_stream_send(SL_H2F_ST_RESERVED_LOCAL, SL_H2F_HEADERS, 0),
	    SL_H2F_ST_HALF_CLOSED_REMOTE);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_RESERVED_LOCAL,
					    SL_H2F_HEADERS,
					    SL_H2F_F_END_STREAM),
			 SL_H2F_ST_CLOSED);
	assert_int_equal(
	    sl_h2f_stream_send(SL_H2F_ST_RESERVED_LOCAL, SL_H2F_DATA, 0),
	    SL_H2F_ST_RESERVED_LOCAL);
	assert_int_equal(
	    sl_h2f_stream_send(SL_H2F_ST_OPEN, SL_H2F_RST_STREAM, 0),
	    SL_H2F_ST_CLOSED_RESET_SENT);
	assert_int_equal(
	    sl_h2f_stream_send(SL_H2F_ST_IDLE, SL_H2F_RST_STREAM, 0),
	    SL_H2F_ST_IDLE);
	assert_int_equal(
	    sl_h2f_stream_send(SL_H2F_ST_OPEN, SL_H2F_WINDOW_UPDATE, 0),
	    SL_H2F_ST_OPEN);
	assert_int_equal(sl_h2f_stream_send(SL_H2F_ST_CLOSED, SL_H2F_DATA,
					    SL_H2F_F_END_STREAM),
			 SL_H2F_ST_CLOSED);
}

/* ---- writers, read back --------------------------------------------------*/

static void
test_writers(void **state)
{
	static const struct sl_h2f_setting set[] = {
	    {SL_H2F_SET_ENABLE_PUSH, 0},
	    {SL_H2F_SET_MAX_CONCURRENT_STREAMS, 100},
	    {SL_H2F_SET_INITIAL_WINDOW_SIZE, 1 << 20},
	};
	struct wire w;
	struct log lg;
	size_t n;
	uint16_t id;
	uint32_t v;

	(void)state;
	w.n = 0;
	w_bytes(&w, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
	assert_int_equal(sl_h2f_write_settings(w.b + w.n, 26, set, 3), 0);
	n = sl_h2f_write_settings(w.b + w.n, 27, set, 3);
	assert_int_equal(n, 27);
	w.n += n;
	assert_int_equal(sl_h2f_write_settings_ack(w.b + w.n, 8), 0);
	w.n += sl_h2f_write_settings_ack(w.b + w.n, 9);
	assert_int_equal(
	    sl_h2f_write_ping(w.b + w.n, 16, (const uint8_t *)"pingpong", 1),
	    0);
	w.n += sl_h2f_write_ping(w.b + w.n, 17, (const uint8_t *)"pingpong", 1);
	assert_int_equal(sl_h2f_write_window_update(w.b + w.n, 12, 0, 1), 0);
	w.n += sl_h2f_write_window_update(w.b + w.n, 13, 0, 1 << 30);
	w.n += sl_h2f_write_rst_stream(w.b + w.n, 13, 3, SL_H2F_CANCEL);
	w.n += sl_h2f_write_data_header(w.b + w.n, 9, 1, 4, 1);
	w_bytes(&w, "body", 4);
	assert_int_equal(sl_h2f_write_data_header(w.b, 9, 1, 1 << 24, 0), 0);
	assert_int_equal(sl_h2f_write_goaway(w.b + w.n, 19, 5, SL_H2F_NO_ERROR,
					     (const uint8_t *)"bye", 3),
			 0);
	w.n += sl_h2f_write_goaway(w.b + w.n, 20, 5, SL_H2F_NO_ERROR,
				   (const uint8_t *)"bye", 3);
	w.n += sl_h2f_write_goaway(w.b + w.n, 17, 0x80000007u,
				   SL_H2F_PROTOCOL_ERROR, NULL, 0);
	read_all(&lg, 1, w.b, w.n);
	assert_false(lg.error);
	assert_int_equal(lg.n, 8);
	assert_int_equal(lg.r[0].len, 18);
	sl_h2f_setting_at(lg.r[0].data, 2, &id, &v);
	assert_int_equal(id, SL_H2F_SET_INITIAL_WINDOW_SIZE);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(lg.r[1].hd.flags, SL_H2F_F_ACK);
	assert_int_equal(lg.r[2].hd.type, SL_H2F_PING);
	assert_int_equal(lg.r[2].hd.flags, SL_H2F_F_ACK);
	assert_memory_equal(lg.r[2].data, "pingpong", 8);
	assert_int_equal(lg.r[3].value, 1 << 30);
	assert_int_equal(lg.r[4].hd.type, SL_H2F_RST_STREAM);
	assert_int_equal(lg.r[4].hd.stream_id, 3);
	assert_int_equal(lg.r[4].code, SL_H2F_CANCEL);
	assert_int_equal(lg.r[5].hd.flags, SL_H2F_F_END_STREAM);
	assert_memory_equal(lg.r[5].data, "body", 4);
	assert_int_equal(lg.r[6].value, 5);
	assert_memory_equal(lg.r[6].data, "bye", 3);
	assert_int_equal(lg.r[7].value, 7);
	assert_int_equal(lg.r[7].code, SL_H2F_PROTOCOL_ERROR);
	assert_int_equal(lg.r[7].len, 0);
	/* too long to be sent */
	assert_int_equal(sl_h2f_write_settings(w.b, sizeof(w.b), set, 3000), 0);
	assert_int_equal(sl_h2f_write_goaway(w.b, 1 << 20, 0, 0, w.b, 16380),
			 0);
}

/* A header block split to the peer's frame size, read back whole. */
static void
test_write_headers(void **state)
{
	static uint8_t blk[40000], out[40100];
	struct sl_h2f_reader r;
	struct sl_h2f_event ev;
	struct sl_h2f_header h;
	size_t n, off, used, got = 0;
	uint8_t b[9];
	int rc, frames = 0;

	(void)state;
	for (n = 0; n < sizeof(blk); n++)
		blk[n] = (uint8_t)(n * 7);
	assert_int_equal(sl_h2f_headers_size(0, 16384), 9);
	assert_int_equal(sl_h2f_headers_size(16384, 16384), 9 + 16384);
	assert_int_equal(sl_h2f_headers_size(16385, 16384), 18 + 16385);
	assert_int_equal(sl_h2f_headers_size(40000, 16384), 27 + 40000);
	assert_int_equal(
	    sl_h2f_write_headers(out, 40026, 1, blk, 40000, 16384, 1), 0);
	assert_int_equal(
	    sl_h2f_write_headers(out, sizeof(out), 1, blk, 40000, 16383, 1), 0);
	n = sl_h2f_write_headers(out, sizeof(out), 1, blk, 40000, 16384, 1);
	assert_int_equal(n, 40027);
	sl_h2f_header_parse(&h, out);
	assert_int_equal(h.type, SL_H2F_HEADERS);
	assert_int_equal(h.flags, SL_H2F_F_END_STREAM);
	assert_int_equal(h.length, 16384);

	assert_int_equal(sl_h2f_reader_init(&r, 0, gbuf, sizeof(gbuf), 16384),
			 0);
	sl_h2f_write_header(b, 9, 0, SL_H2F_SETTINGS, 0, 0);
	assert_int_equal(sl_h2f_read(&r, b, 9, &used, &ev), SL_H2F_EV_FRAME);
	for (off = 0; off < n; off += used) {
		rc = sl_h2f_read(&r, out + off, n - off < 1000 ? n - off : 1000,
				 &used, &ev);
		if (rc == SL_H2F_EV_NONE)
			continue;
		assert_int_equal(rc, SL_H2F_EV_FRAME);
		assert_int_equal(ev.hd.type, frames == 0 ? SL_H2F_HEADERS
							 : SL_H2F_CONTINUATION);
		assert_int_equal(ev.hd.flags & SL_H2F_F_END_HEADERS,
				 frames == 2 ? SL_H2F_F_END_HEADERS : 0);
		assert_memory_equal(ev.data, blk + got, ev.len);
		got += ev.len;
		frames++;
	}
	assert_int_equal(frames, 3);
	assert_int_equal(got, 40000);
	assert_int_equal(r.cont_sid, 0);

	/* an empty block: one HEADERS with END_HEADERS */
	n = sl_h2f_write_headers(out, 9, 3, NULL, 0, 16384, 0);
	assert_int_equal(n, 9);
	sl_h2f_header_parse(&h, out);
	assert_int_equal(h.flags, SL_H2F_F_END_HEADERS);
	assert_int_equal(h.length, 0);
	assert_int_equal(h.stream_id, 3);
}

/* Many frames of every kind, at once and in every piece size. */
static void
test_split_everything(void **state)
{
	struct wire w;
	struct log a, b;
	size_t step;
	uint8_t p[32];

	(void)state;
	w_start(&w);
	w_f(&w, SL_H2F_HEADERS, SL_H2F_F_PADDED, 1, "\x01\x82\x86\x00", 4);
	w_f(&w, SL_H2F_CONTINUATION, SL_H2F_F_END_HEADERS, 1, block, 6);
	p[0] = 2;
	memcpy(p + 1, "0123456789\0\0", 12);
	w_f(&w, SL_H2F_DATA, SL_H2F_F_PADDED, 1, p, 13);
	w_f(&w, 0x42, 0, 1, "ext", 3);
	w_f(&w, SL_H2F_PRIORITY, 0, 3, "\0\0\0\1\1\1", 6);
	w_f(&w, SL_H2F_DATA, SL_H2F_F_END_STREAM, 1, "abcdefghijklm", 13);
	w_f(&w, SL_H2F_WINDOW_UPDATE, 0, 1, "\0\0\0\0", 4);
	w_f(&w, SL_H2F_SETTINGS, 0, 0, "\0\4\0\0\0\0", 6);
	w_f(&w, SL_H2F_RST_STREAM, 0, 1, "\0\0\0\0", 4);
	w_f(&w, SL_H2F_PING, 0, 0, "pingpong", 8);
	w_f(&w, SL_H2F_DATA, 0, 3, NULL, 0);
	w_f(&w, SL_H2F_GOAWAY, 0, 0, "\0\0\0\1\0\0\0\0", 8);
	w_f(&w, SL_H2F_SETTINGS, 0, 1, NULL, 0);
	run(&a, 1, w.b, w.n, 0);
	assert_true(a.error);
	assert_int_equal(a.code, SL_H2F_PROTOCOL_ERROR);
	assert_int_equal(a.n, 12);
	assert_int_equal(a.r[4].rc, SL_H2F_EV_STREAM_ERROR);
	assert_int_equal(a.r[6].rc, SL_H2F_EV_STREAM_ERROR);
	assert_memory_equal(a.r[3].data, "0123456789", 10);
	for (step = 1; step < w.n; step++) {
		run(&b, 1, w.b, w.n, step);
		assert_same(&a, &b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_roundtrip),
	    cmocka_unit_test(test_init_limits),
	    cmocka_unit_test(test_preface),
	    cmocka_unit_test(test_first_not_settings),
	    cmocka_unit_test(test_frame_size),
	    cmocka_unit_test(test_unknown_type),
	    cmocka_unit_test(test_data),
	    cmocka_unit_test(test_data_streamed),
	    cmocka_unit_test(test_data_errors),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_headers_errors),
	    cmocka_unit_test(test_continuation),
	    cmocka_unit_test(test_priority),
	    cmocka_unit_test(test_rst_stream),
	    cmocka_unit_test(test_settings),
	    cmocka_unit_test(test_push_promise),
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_goaway),
	    cmocka_unit_test(test_window_update),
	    cmocka_unit_test(test_windows),
	    cmocka_unit_test(test_stream_states),
	    cmocka_unit_test(test_stream_ids),
	    cmocka_unit_test(test_stream_send),
	    cmocka_unit_test(test_writers),
	    cmocka_unit_test(test_write_headers),
	    cmocka_unit_test(test_split_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
