/* SPDX-License-Identifier: MIT */
/*
 * One connection's state (src/h2/h2conn.c) against libnghttp2 as the
 * peer: nghttp2's client session sends requests to sluice's server side,
 * nghttp2's server session answers sluice's client side, and each must
 * read what the other wrote without an error. Then the rules of RFC 9113
 * section 5 on raw frames, where today's nghttp2-based codec answers
 * nothing (h2spec 5.1/8 to 5.1/12, 5.3.1/2, 6.3/1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "h2conn.h"

/* ---- sluice's side: a connection and what its handlers saw -------------*/

struct st { /* a stream of the test's */
	struct sl_h2c_stream h;
	char fields[2048];
	size_t flen;
	int heads, hrc, ended, reset, sent_reset;
	uint32_t code;
	size_t body;
};

struct side {
	struct sl_h2c c;
	uint8_t out[1 << 20];
	size_t olen;
	uint8_t rbuf[16384];
	struct st streams[64];
	int nst;
	int goaways, windows, frames;
	uint32_t goaway_code;
	int refuse;	   /* stream_open says no */
	int refuse_frames; /* the budget says no */
	int out_full;	   /* the output buffer says no */
	int reset_in_data; /* the data handler resets its stream */
	int keep_body;	   /* consume DATA as it comes */
};

static char scratch[8192];

static struct sl_h2c_stream *
t_open(void *arg, uint32_t id)
{
	struct side *x = arg;
	struct st *s;

	if (x->refuse || x->nst == 64)
		return NULL;
	s = &x->streams[x->nst++];
	memset(s, 0, sizeof(*s));
	(void)id;
	return &s->h;
}

static int
t_field(void *arg, struct sl_h2c_stream *h, const char *n, size_t nlen,
	const char *v, size_t vlen, unsigned flags)
{
	struct st *s = (struct st *)h;

	(void)arg;
	(void)flags;
	s->flen +=
	    (size_t)snprintf(s->fields + s->flen, sizeof(s->fields) - s->flen,
			     "%.*s: %.*s\n", (int)nlen, n, (int)vlen, v);
	return 0;
}

static void
t_headers(void *arg, struct sl_h2c_stream *h, int rc, int end)
{
	struct st *s = (struct st *)h;

	(void)arg;
	s->heads++;
	s->hrc = rc;
	s->ended |= end;
}

static void
t_data(void *arg, struct sl_h2c_stream *h, const uint8_t *p, size_t len,
       int end)
{
	struct side *x = arg;
	struct st *s = (struct st *)h;

	(void)p;
	s->body += len;
	s->ended |= end;
	if (x->keep_body)
		assert_int_equal(sl_h2c_consumed(&x->c, h, len), 0);
	if (x->reset_in_data) {
		assert_int_equal(sl_h2c_consumed(&x->c, h, len), 0);
		assert_int_equal(sl_h2c_reset(&x->c, h, SL_H2F_CANCEL), 0);
	}
}

static void
t_reset(void *arg, struct sl_h2c_stream *h, uint32_t code, int sent)
{
	struct st *s = (struct st *)h;

	(void)arg;
	s->reset++;
	s->sent_reset = sent;
	s->code = code;
}

static void
t_goaway(void *arg, uint32_t last, uint32_t code)
{
	struct side *x = arg;

	(void)last;
	x->goaways++;
	x->goaway_code = code;
}

static void
t_window(void *arg, struct sl_h2c_stream *h)
{
	struct side *x = arg;

	(void)h;
	x->windows++;
}

static int
t_frame(void *arg, const struct sl_h2f_header *hd)
{
	struct side *x = arg;

	(void)hd;
	x->frames++;
	return x->refuse_frames;
}

static uint8_t *
t_out(void *arg, size_t n)
{
	struct side *x = arg;
	uint8_t *p;

	if (x->out_full || x->olen + n > sizeof(x->out))
		return NULL;
	p = x->out + x->olen;
	x->olen += n;
	return p;
}

static const struct sl_h2c_ops ops = {
    t_open,   t_field,	t_headers, t_data, t_reset,
    t_goaway, t_window, t_frame,   t_out,
};

static void
side_init(struct side *x, int is_server, uint32_t max_streams)
{
	struct sl_h2c_settings set = {
	    .header_table = 4096,
	    .max_streams = max_streams,
	    .window = 65535,
	    .conn_window = 1 << 20,
	    .max_frame = 16384,
	};

	memset(x, 0, sizeof(*x));
	x->keep_body = 1;
	assert_int_equal(sl_h2c_init(&x->c, is_server, &set, x->rbuf,
				     sizeof(x->rbuf), scratch, sizeof(scratch),
				     65536, &ops, x),
			 0);
}

/* ---- nghttp2's side ------------------------------------------------------*/

struct peer {
	nghttp2_session *ng;
	int responses, data_bytes, closed, rst, goaway, trailers;
	uint32_t rst_code, goaway_code;
	char last_status[8];
	const uint8_t *body; /* what the peer sends as a body */
	size_t body_len, body_off;
	int trailer; /* a server: grpc-status trailers after the body */
};

static int
p_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n,
	 size_t nlen, const uint8_t *v, size_t vlen, uint8_t flags, void *arg)
{
	struct peer *p = arg;

	(void)ng;
	(void)f;
	(void)flags;
	if (nlen == 7 && memcmp(n, ":status", 7) == 0 && vlen < 8) {
		memcpy(p->last_status, v, vlen);
		p->last_status[vlen] = '\0';
	}
	if (nlen == 11 && memcmp(n, "grpc-status", 11) == 0)
		p->trailers++;
	return 0;
}

static int
p_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	struct peer *p = arg;

	(void)ng;
	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_RESPONSE)
		p->responses++;
	if (f->hd.type == NGHTTP2_RST_STREAM) {
		p->rst++;
		p->rst_code = f->rst_stream.error_code;
	}
	if (f->hd.type == NGHTTP2_GOAWAY) {
		p->goaway++;
		p->goaway_code = f->goaway.error_code;
	}
	return 0;
}

static int
p_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d,
       size_t len, void *arg)
{
	struct peer *p = arg;

	(void)ng;
	(void)flags;
	(void)id;
	(void)d;
	p->data_bytes += (int)len;
	return 0;
}

static int
p_close(nghttp2_session *ng, int32_t id, uint32_t code, void *arg)
{
	struct peer *p = arg;

	(void)ng;
	(void)id;
	(void)code;
	p->closed++;
	return 0;
}

static ssize_t
p_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
	    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct peer *p = arg;
	size_t n = p->body_len - p->body_off;

	(void)src;
	if (n > len)
		n = len;
	memcpy(buf, p->body + p->body_off, n);
	p->body_off += n;
	if (p->body_off == p->body_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (p->trailer) { /* as nghttp2 documents it: from here */
			nghttp2_nv t[] = {
			    {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1,
			     0},
			};

			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			assert_int_equal(nghttp2_submit_trailer(ng, id, t, 1),
					 0);
		}
	}
	return (ssize_t)n;
}

static void
peer_init(struct peer *p, int server)
{
	nghttp2_session_callbacks *cb;

	memset(p, 0, sizeof(*p));
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_header_callback(cb, p_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, p_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, p_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, p_close);
	if (server)
		assert_int_equal(nghttp2_session_server_new(&p->ng, cb, p), 0);
	else
		assert_int_equal(nghttp2_session_client_new(&p->ng, cb, p), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(
	    nghttp2_submit_settings(p->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

/* Moves bytes both ways until neither has anything to say. Returns
 * sluice's last sl_h2c_input result. */
static int
pump(struct side *x, struct peer *p)
{
	int rv = 0;

	for (int round = 0; round < 1000; round++) {
		const uint8_t *d;
		ssize_t n = nghttp2_session_mem_send(p->ng, &d);
		size_t olen = x->olen;

		assert_true(n >= 0);
		if (n > 0 && !x->c.failed)
			rv = sl_h2c_input(&x->c, d, (size_t)n);
		if (olen == 0 && n == 0 && x->olen == 0)
			return rv;
		if (x->olen > 0) {
			assert_int_equal(
			    nghttp2_session_mem_recv(p->ng, x->out, x->olen),
			    (ssize_t)x->olen);
			x->olen = 0;
		}
	}
	fail_msg("the two sides never went quiet");
	return -1;
}

/* A response from sluice on s: a status and a few fields, then len bytes
 * of body as the windows allow (pumping while they are shut). */
static void
respond(struct side *x, struct peer *p, struct st *s, size_t len)
{
	uint8_t block[256], body[16384];
	size_t n = sl_hpack_enc_status(block, 200);

	n += sl_hpack_enc_field(block + n, sizeof(block) - n, "content-type",
				12, "text/plain", 10, 0);
	assert_int_equal(sl_h2c_send_headers(&x->c, &s->h, block, n, len == 0),
			 0);
	memset(body, 'b', sizeof(body));
	while (len > 0) {
		size_t room = sl_h2c_send_room(&x->c, &s->h);

		if (room == 0) {
			pump(x, p);
			assert_true(sl_h2c_send_room(&x->c, &s->h) > 0);
			continue;
		}
		if (room > len)
			room = len;
		assert_int_equal(
		    sl_h2c_send_data(&x->c, &s->h, body, room, room == len), 0);
		len -= room;
	}
}

/* ---- nghttp2's client against sluice's server side -----------------------*/

static void
test_requests_from_nghttp2(void **state)
{
	static uint8_t upload[200000];
	nghttp2_nv get[] = {
	    {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
	    {(uint8_t *)":path", (uint8_t *)"/a?b=c", 5, 6, 0},
	    {(uint8_t *)":authority", (uint8_t *)"pay.example.com", 10, 15, 0},
	    {(uint8_t *)"user-agent", (uint8_t *)"test", 10, 4, 0},
	};
	nghttp2_nv post[] = {
	    {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
	    {(uint8_t *)":path", (uint8_t *)"/upload", 5, 7, 0},
	    {(uint8_t *)":authority", (uint8_t *)"pay.example.com", 10, 15, 0},
	    {(uint8_t *)"authorization", (uint8_t *)"Bearer s3cret", 13, 13,
	     NGHTTP2_NV_FLAG_NO_INDEX},
	};
	nghttp2_data_provider dp = {.read_callback = p_read_body};
	static struct side x;
	struct peer p;
	int32_t a, b;

	(void)state;
	side_init(&x, 1, 100);
	peer_init(&p, 0);
	p.body = upload;
	p.body_len = sizeof(upload);
	a = nghttp2_submit_request(p.ng, NULL, get, 5, NULL, NULL);
	b = nghttp2_submit_request(p.ng, NULL, post, 5, &dp, NULL);
	assert_int_equal(a, 1);
	assert_int_equal(b, 3);
	assert_int_equal(pump(&x, &p), 0);
	/* both heads, every field, the upload whole through the windows
	 * (200,000 bytes past a 65,535-byte stream window: given back as
	 * consumed) */
	assert_int_equal(x.nst, 2);
	assert_int_equal(x.streams[0].h.id, 1);
	assert_string_equal(x.streams[0].fields,
			    ":method: GET\n:scheme: https\n:path: /a?b=c\n"
			    ":authority: pay.example.com\nuser-agent: test\n");
	assert_int_equal(x.streams[0].hrc, SL_HPACK_OK);
	assert_true(x.streams[0].ended);
	assert_int_equal(x.streams[1].h.id, 3);
	assert_non_null(
	    strstr(x.streams[1].fields, "authorization: Bearer s3cret\n"));
	assert_int_equal(x.streams[1].body, sizeof(upload));
	assert_true(x.streams[1].ended);
	assert_int_equal(x.c.nstreams, 2);
	/* answers: a small one and one past the client's windows */
	respond(&x, &p, &x.streams[0], 0);
	respond(&x, &p, &x.streams[1], 150000);
	assert_int_equal(pump(&x, &p), 0);
	assert_int_equal(p.responses, 2);
	assert_string_equal(p.last_status, "200");
	assert_int_equal(p.data_bytes, 150000);
	assert_int_equal(p.closed, 2);
	/* both streams closed both ways: forgotten, the map freed */
	assert_int_equal(x.c.nstreams, 0);
	assert_null(x.c.map);
	/* a PING is answered, the client's GOAWAY heard */
	assert_int_equal(nghttp2_submit_ping(p.ng, 0, NULL), 0);
	assert_int_equal(nghttp2_submit_goaway(p.ng, 0, 0, 0, NULL, 0), 0);
	assert_int_equal(pump(&x, &p), 0);
	assert_int_equal(x.goaways, 1);
	assert_false(x.c.failed);
	assert_int_equal(p.goaway, 0);
	sl_h2c_free(&x.c);
	nghttp2_session_del(p.ng);
}

/* A body nobody consumes holds the client to its windows; a refused
 * stream is REFUSED_STREAM, and its block still keeps HPACK in step. */
static void
test_windows_held_and_streams_refused(void **state)
{
	static uint8_t upload[100000];
	nghttp2_nv post[] = {
	    {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
	    {(uint8_t *)":path", (uint8_t *)"/p", 5, 2, 0},
	    {(uint8_t *)":authority", (uint8_t *)"a.example", 10, 9, 0},
	    {(uint8_t *)"x-custom", (uint8_t *)"indexed-once", 8, 12, 0},
	};
	nghttp2_data_provider dp = {.read_callback = p_read_body};
	static struct side x;
	struct peer p;

	(void)state;
	side_init(&x, 1, 100);
	x.keep_body = 0;
	peer_init(&p, 0);
	p.body = upload;
	p.body_len = sizeof(upload);
	assert_int_equal(nghttp2_submit_request(p.ng, NULL, post, 5, &dp, NULL),
			 1);
	assert_int_equal(pump(&x, &p), 0);
	/* 65,535 bytes: the stream's window, never given back */
	assert_int_equal(x.streams[0].body, 65535);
	assert_false(x.streams[0].ended);
	/* a second stream the caller will not take: refused */
	x.refuse = 1;
	assert_int_equal(
	    nghttp2_submit_request(p.ng, NULL, post, 5, NULL, NULL), 3);
	assert_int_equal(pump(&x, &p), 0);
	assert_int_equal(p.rst, 1);
	assert_int_equal(p.rst_code, NGHTTP2_REFUSED_STREAM);
	assert_int_equal(x.nst, 1);
	/* consuming opens the window again */
	assert_int_equal(sl_h2c_consumed(&x.c, &x.streams[0].h, 65535), 0);
	p.body_off = 65535;
	assert_int_equal(nghttp2_session_resume_data(p.ng, 1), 0);
	x.keep_body = 1;
	assert_int_equal(pump(&x, &p), 0);
	assert_int_equal(x.streams[0].body, sizeof(upload));
	assert_true(x.streams[0].ended);
	/* the dynamic table is in step: a third request indexes what the
	 * refused one added */
	x.refuse = 0;
	assert_int_equal(
	    nghttp2_submit_request(p.ng, NULL, post, 5, NULL, NULL), 5);
	assert_int_equal(pump(&x, &p), 0);
	assert_int_equal(x.nst, 2);
	assert_non_null(
	    strstr(x.streams[1].fields, "x-custom: indexed-once\n"));
	assert_false(x.c.failed);
	sl_h2c_free(&x.c);
	nghttp2_session_del(p.ng);
}

/* ---- sluice's client side against nghttp2's server -----------------------*/

static int
s_begin(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	(void)ng;
	(void)f;
	(void)arg;
	return 0;
}

static int
s_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	struct peer *p = arg;
	nghttp2_nv resp[] = {
	    {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
	    {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16,
	     0},
	};
	nghttp2_data_provider dp = {.read_callback = p_read_body};

	/* the request is whole: answer it */
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		p->responses++;
		assert_int_equal(
		    nghttp2_submit_response(ng, f->hd.stream_id, resp, 2, &dp),
		    0);
	}
	if (f->hd.type == NGHTTP2_GOAWAY) {
		p->goaway++;
		p->goaway_code = f->goaway.error_code;
	}
	return 0;
}

static void
test_calls_to_an_nghttp2_server(void **state)
{
	static struct side x;
	static uint8_t answer[40000];
	nghttp2_session_callbacks *cb;
	struct st *s;
	struct peer p;
	uint8_t block[256];
	size_t n;

	(void)state;
	side_init(&x, 0, 100);
	memset(&p, 0, sizeof(p));
	p.body = answer;
	p.trailer = 1;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, s_begin);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, s_frame_recv);
	assert_int_equal(nghttp2_session_server_new(&p.ng, cb, &p), 0);
	nghttp2_session_callbacks_del(cb);
	assert_int_equal(nghttp2_submit_settings(p.ng, 0, NULL, 0), 0);
	for (int call = 0; call < 3; call++) {
		s = &x.streams[x.nst++];
		memset(s, 0, sizeof(*s));
		s->h.id = 1 + 2 * (uint32_t)call;
		assert_int_equal(sl_h2c_stream_add(&x.c, &s->h), 0);
		n = 0;
		n += sl_hpack_enc_field(block + n, sizeof(block) - n, ":method",
					7, "POST", 4, 0);
		n += sl_hpack_enc_field(block + n, sizeof(block) - n, ":scheme",
					7, "http", 4, 0);
		n += sl_hpack_enc_field(block + n, sizeof(block) - n, ":path",
					5, "/pkg.Svc/Call", 13, 0);
		n += sl_hpack_enc_field(block + n, sizeof(block) - n,
					":authority", 10, "up", 2, 0);
		n += sl_hpack_enc_field(block + n, sizeof(block) - n,
					"content-type", 12, "application/grpc",
					16, 0);
		n += sl_hpack_enc_field(block + n, sizeof(block) - n, "te", 2,
					"trailers", 8, 0);
		if (call != 1) {
			assert_int_equal(
			    sl_h2c_send_headers(&x.c, &s->h, block, n, 0), 0);
		} else {
			/* the block encoded in place after the frame's
			 * header (h2up.c's requests): the bytes
			 * sl_h2c_send_headers writes; none for a block
			 * past the peer's frame size */
			uint8_t want[9 + sizeof(block)], *f;
			size_t at = x.olen;

			assert_int_equal(sl_h2c_send_headers_placed(
					     &x.c, &s->h, block, 16385, 0),
					 -1);
			assert_int_equal(x.olen, at);
			f = t_out(&x, 9 + n);
			assert_non_null(f);
			memcpy(f + 9, block, n);
			assert_int_equal(
			    sl_h2c_send_headers_placed(&x.c, &s->h, f, n, 0),
			    0);
			assert_int_equal(
			    sl_h2f_write_headers(want, sizeof(want), s->h.id,
						 block, n, 16384, 0),
			    9 + n);
			assert_memory_equal(f, want, 9 + n);
		}
		assert_int_equal(sl_h2c_send_data(&x.c, &s->h,
						  (const uint8_t *)"\0\0\0\0\0",
						  5, 1),
				 0);
		p.body_len = sizeof(answer);
		p.body_off = 0;
		assert_int_equal(pump(&x, &p), 0);
		assert_int_equal(p.responses, call + 1);
		/* the response head, its body, its trailers, the stream done
		 * and forgotten */
		assert_int_equal(s->heads, 2);
		assert_non_null(strstr(s->fields, ":status: 200\n"));
		assert_non_null(strstr(s->fields, "grpc-status: 0\n"));
		assert_int_equal(s->body, sizeof(answer));
		assert_true(s->ended);
		assert_null(sl_h2c_stream(&x.c, s->h.id));
	}
	assert_false(x.c.failed);
	assert_int_equal(sl_h2c_mem(&x.c) - sl_hpack_dec_mem(&x.c.dec), 0);
	sl_h2c_free(&x.c);
	nghttp2_session_del(p.ng);
}

/* ---- section 5 on raw frames ---------------------------------------------*/

static size_t
raw_headers(uint8_t *out, uint32_t id, uint8_t flags)
{
	/* :method GET, :scheme http, :path /, :authority a */
	static const uint8_t block[] = {0x82, 0x86, 0x84, 0x41, 0x01, 'a'};

	(void)sl_h2f_write_header(out, 9, sizeof(block), SL_H2F_HEADERS,
				  flags | SL_H2F_F_END_HEADERS, id);
	memcpy(out + 9, block, sizeof(block));
	return 9 + sizeof(block);
}

/* A server side past the preface and SETTINGS, its output dropped. */
static void
opened(struct side *x, uint32_t max_streams)
{
	uint8_t b[64];
	size_t n = 0;

	side_init(x, 1, max_streams);
	memcpy(b, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
	n = SL_H2F_PREFACE_LEN;
	n += sl_h2f_write_settings(b + n, sizeof(b) - n, NULL, 0);
	assert_int_equal(sl_h2c_input(&x->c, b, n), 0);
	x->olen = 0;
}

/* The last frame sluice wrote: its type and (RST_STREAM, GOAWAY) code. */
static void
last_frame(const struct side *x, uint8_t *type, uint32_t *code)
{
	struct sl_h2f_header h;
	size_t at = 0, last = 0;

	assert_true(x->olen >= 9);
	while (at + 9 <= x->olen) {
		sl_h2f_header_parse(&h, x->out + at);
		last = at;
		at += 9 + h.length;
	}
	sl_h2f_header_parse(&h, x->out + last);
	*type = h.type;
	*code = 0;
	if (h.type == SL_H2F_RST_STREAM)
		*code = (uint32_t)x->out[last + 9] << 24 |
			(uint32_t)x->out[last + 10] << 16 |
			(uint32_t)x->out[last + 11] << 8 | x->out[last + 12];
	if (h.type == SL_H2F_GOAWAY)
		*code = (uint32_t)x->out[last + 13] << 24 |
			(uint32_t)x->out[last + 14] << 16 |
			(uint32_t)x->out[last + 15] << 8 | x->out[last + 16];
}

static void
expect_out(struct side *x, const uint8_t *in, size_t n, int rv, uint8_t type,
	   uint32_t code, const char *what)
{
	uint8_t t;
	uint32_t c;

	x->olen = 0;
	if (sl_h2c_input(&x->c, in, n) != rv)
		fail_msg("%s: sl_h2c_input did not return %d", what, rv);
	last_frame(x, &t, &c);
	if (t != type || c != code)
		fail_msg("%s: wrote %s %s, not %s %s", what, sl_h2f_type_str(t),
			 sl_h2f_err_str(c), sl_h2f_type_str(type),
			 sl_h2f_err_str(code));
}

static void
test_section_5_on_raw_frames(void **state)
{
	static struct side x;
	uint8_t b[256];
	size_t n;

	(void)state;
	/* h2spec 5.1/12: HEADERS on a stream closed both ways */
	opened(&x, 100);
	n = raw_headers(b, 1, SL_H2F_F_END_STREAM);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	respond(&x, NULL, &x.streams[0], 0);
	assert_null(sl_h2c_stream(&x.c, 1));
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_STREAM_CLOSED,
		   "HEADERS on a closed stream");
	sl_h2c_free(&x.c);

	/* 5.1/11: DATA there */
	opened(&x, 100);
	n = raw_headers(b, 1, SL_H2F_F_END_STREAM);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	respond(&x, NULL, &x.streams[0], 0);
	n = sl_h2f_write_data_header(b, 9, 1, 1, 0);
	b[n++] = 'x';
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_STREAM_CLOSED,
		   "DATA on a closed stream");
	sl_h2c_free(&x.c);

	/* 5.1/8: DATA after the client's RST_STREAM: STREAM_CLOSED */
	opened(&x, 100);
	n = raw_headers(b, 1, 0);
	n += sl_h2f_write_rst_stream(b + n, 13, 1, SL_H2F_CANCEL);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	assert_int_equal(x.streams[0].reset, 1);
	assert_int_equal(x.streams[0].sent_reset, 0);
	n = sl_h2f_write_data_header(b, 9, 1, 1, 0);
	b[n++] = 'x';
	expect_out(&x, b, n, 0, SL_H2F_RST_STREAM, SL_H2F_STREAM_CLOSED,
		   "DATA after the client's reset");
	/* 5.1/9: HEADERS there */
	n = raw_headers(b, 1, 0);
	x.olen = 0;
	assert_true(sl_h2c_input(&x.c, b, n) <= 0);
	assert_true(x.olen > 0);
	sl_h2c_free(&x.c);

	/* 5.3.1/2: a stream depending on itself: a stream error */
	opened(&x, 100);
	n = sl_h2f_write_header(b, 9, 5, SL_H2F_PRIORITY, 0, 3);
	memcpy(b + n, "\0\0\0\3\20", 5);
	n += 5;
	expect_out(&x, b, n, 0, SL_H2F_RST_STREAM, SL_H2F_PROTOCOL_ERROR,
		   "PRIORITY on itself");
	/* 6.3/1: PRIORITY on stream 0: a connection error */
	n = sl_h2f_write_header(b, 9, 5, SL_H2F_PRIORITY, 0, 0);
	memcpy(b + n, "\0\0\0\1\20", 5);
	n += 5;
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_PROTOCOL_ERROR,
		   "PRIORITY on stream 0");
	sl_h2c_free(&x.c);

	/* an HPACK index past the tables: COMPRESSION_ERROR */
	opened(&x, 100);
	n = sl_h2f_write_header(b, 9, 1, SL_H2F_HEADERS,
				SL_H2F_F_END_HEADERS | SL_H2F_F_END_STREAM, 1);
	b[n++] = 0xff;
	b[n - 1] = 0xbf;
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_COMPRESSION_ERROR,
		   "an index past the tables");
	sl_h2c_free(&x.c);

	/* a header block joined across CONTINUATION; trailers without
	 * END_STREAM from a client are a stream PROTOCOL_ERROR */
	opened(&x, 100);
	{
		static const uint8_t block[] = {0x82, 0x86, 0x84,
						0x41, 0x01, 'a'};

		n = sl_h2f_write_header(b, 9, 3, SL_H2F_HEADERS, 0, 1);
		memcpy(b + n, block, 3);
		n += 3;
		n += sl_h2f_write_header(b + n, 9, 3, SL_H2F_CONTINUATION,
					 SL_H2F_F_END_HEADERS, 1);
		memcpy(b + n, block + 3, 3);
		n += 3;
		assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
		assert_string_equal(x.streams[0].fields,
				    ":method: GET\n:scheme: http\n:path: /\n"
				    ":authority: a\n");
		assert_null(x.c.block);
		/* trailers that go on, a field indexed in them */
		n = sl_h2f_write_header(b, 9, 6, SL_H2F_HEADERS,
					SL_H2F_F_END_HEADERS, 1);
		memcpy(b + n, "\x40\x01\x74\x01\x31\xbe", 6);
		n += 6;
		expect_out(&x, b, n, 0, SL_H2F_RST_STREAM,
			   SL_H2F_PROTOCOL_ERROR, "trailers that go on");
		assert_int_equal(x.streams[0].reset, 1);
		/* their block was decoded all the same: the table is in
		 * step, and "t: 1" is its newest entry */
		n = sl_h2f_write_header(
		    b, 9, 7, SL_H2F_HEADERS,
		    SL_H2F_F_END_HEADERS | SL_H2F_F_END_STREAM, 3);
		memcpy(b + n, "\x82\x86\x84\x41\x01\x61\xbf", 7);
		n += 7;
		assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
		assert_string_equal(x.streams[1].fields,
				    ":method: GET\n:scheme: http\n:path: /\n"
				    ":authority: a\nt: 1\n");
	}
	/* over max_streams: REFUSED_STREAM */
	sl_h2c_free(&x.c);
	opened(&x, 1);
	n = raw_headers(b, 1, 0);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	n = raw_headers(b, 3, 0);
	expect_out(&x, b, n, 0, SL_H2F_RST_STREAM, SL_H2F_REFUSED_STREAM,
		   "a stream over max_streams");
	assert_int_equal(x.nst, 1);
	/* a WINDOW_UPDATE past 2^31-1 on the connection */
	n = sl_h2f_write_window_update(b, 13, 0, 0x7fffffff);
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_FLOW_CONTROL_ERROR,
		   "the connection's window past 2^31-1");
	sl_h2c_free(&x.c);

	/* the budget's say: a frame it refuses ends the connection */
	opened(&x, 100);
	x.refuse_frames = 1;
	n = sl_h2f_write_ping(b, 17, (const uint8_t *)"12345678", 0);
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_ENHANCE_YOUR_CALM,
		   "a frame the budget refuses");
	sl_h2c_free(&x.c);
}

/* Streams by the dozen, the peer's SETTINGS and WINDOW_UPDATEs, blocks
 * too big, windows overrun, a stream reset in the middle of its DATA, and
 * no room for output. */
static void
test_more_rules(void **state)
{
	static struct side x;
	uint8_t b[512];
	size_t n;
	struct sl_h2f_setting set[4] = {
	    {SL_H2F_SET_HEADER_TABLE_SIZE, 0},
	    {SL_H2F_SET_MAX_CONCURRENT_STREAMS, 10},
	    {SL_H2F_SET_INITIAL_WINDOW_SIZE, 100000},
	    {SL_H2F_SET_MAX_FRAME_SIZE, 32768},
	};

	(void)state;
	/* 40 streams grow the map twice; resetting them all frees it */
	opened(&x, 100);
	for (uint32_t id = 1; id < 80; id += 2) {
		n = raw_headers(b, id, 0);
		assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	}
	assert_int_equal(x.c.nstreams, 40);
	assert_true(x.c.map_cap >= 40);
	for (uint32_t id = 1; id < 80; id += 2)
		assert_non_null(sl_h2c_stream(&x.c, id));
	/* the peer's SETTINGS: applied to open streams, acknowledged */
	n = sl_h2f_write_settings(b, sizeof(b), set, 4);
	expect_out(&x, b, n, 0, SL_H2F_SETTINGS, 0, "the peer's SETTINGS");
	assert_int_equal(x.c.peer_window, 100000);
	assert_int_equal(x.c.peer_max_frame, 32768);
	assert_int_equal(x.c.peer_max_streams, 10);
	assert_int_equal(sl_h2c_stream(&x.c, 1)->send_win, 100000);
	assert_true(x.windows > 0);
	/* a stream's WINDOW_UPDATE, then one past 2^31-1 */
	n = sl_h2f_write_window_update(b, 13, 1, 1000);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	assert_int_equal(sl_h2c_stream(&x.c, 1)->send_win, 101000);
	n = sl_h2f_write_window_update(b, 13, 1, 0x7fffffff);
	expect_out(&x, b, n, 0, SL_H2F_RST_STREAM, SL_H2F_FLOW_CONTROL_ERROR,
		   "a stream's window past 2^31-1");
	for (uint32_t id = 3; id < 80; id += 2) {
		n = sl_h2f_write_rst_stream(b, 13, id, SL_H2F_CANCEL);
		assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	}
	assert_null(x.c.map);
	/* a WINDOW_UPDATE on an idle stream */
	n = sl_h2f_write_window_update(b, 13, 99, 1);
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_PROTOCOL_ERROR,
		   "WINDOW_UPDATE on an idle stream");
	sl_h2c_free(&x.c);

	/* SETTINGS_INITIAL_WINDOW_SIZE pushing an open stream's window past
	 * 2^31-1: a connection error */
	opened(&x, 100);
	n = raw_headers(b, 1, 0);
	n += sl_h2f_write_window_update(b + n, 13, 1, 0x7fffffff - 65535);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	set[0].id = SL_H2F_SET_INITIAL_WINDOW_SIZE;
	set[0].value = 65536;
	n = sl_h2f_write_settings(b, sizeof(b), set, 1);
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_FLOW_CONTROL_ERROR,
		   "INITIAL_WINDOW_SIZE past 2^31-1");
	sl_h2c_free(&x.c);

	/* a header block over block_max, in one frame and joined */
	opened(&x, 100);
	x.c.block_max = 4;
	n = sl_h2f_write_header(b, 9, 6, SL_H2F_HEADERS, 0, 1);
	memcpy(b + n, "\x82\x86\x84\x41\x01\x61", 6);
	n += 6;
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_ENHANCE_YOUR_CALM,
		   "a block over its limit");
	sl_h2c_free(&x.c);
	opened(&x, 100);
	x.c.block_max = 8;
	n = sl_h2f_write_header(b, 9, 6, SL_H2F_HEADERS, 0, 1);
	memcpy(b + n, "\x82\x86\x84\x41\x01\x61", 6);
	n += 6;
	n += sl_h2f_write_header(b + n, 9, 6, SL_H2F_CONTINUATION,
				 SL_H2F_F_END_HEADERS, 1);
	memcpy(b + n, "\x82\x86\x84\x41\x01\x61", 6);
	n += 6;
	expect_out(&x, b, n, -1, SL_H2F_GOAWAY, SL_H2F_ENHANCE_YOUR_CALM,
		   "a joined block over its limit");
	sl_h2c_free(&x.c);

	/* a HEADERS depending on its own stream: decoded, then reset */
	opened(&x, 100);
	n = sl_h2f_write_header(b, 9, 11, SL_H2F_HEADERS,
				SL_H2F_F_END_HEADERS | SL_H2F_F_PRIORITY, 1);
	memcpy(b + n, "\0\0\0\1\20\x82\x86\x84\x41\x01\x61", 11);
	n += 11;
	expect_out(&x, b, n, 0, SL_H2F_RST_STREAM, SL_H2F_PROTOCOL_ERROR,
		   "HEADERS depending on itself");
	assert_int_equal(x.streams[0].reset, 1);
	assert_int_equal(x.streams[0].heads, 0);
	/* the same with its block continued */
	n = sl_h2f_write_header(b, 9, 8, SL_H2F_HEADERS, SL_H2F_F_PRIORITY, 3);
	memcpy(b + n, "\0\0\0\3\20\x82\x86\x84", 8);
	n += 8;
	n += sl_h2f_write_header(b + n, 9, 3, SL_H2F_CONTINUATION,
				 SL_H2F_F_END_HEADERS, 3);
	memcpy(b + n, "\x41\x01\x61", 3);
	n += 3;
	expect_out(&x, b, n, 0, SL_H2F_RST_STREAM, SL_H2F_PROTOCOL_ERROR,
		   "HEADERS and CONTINUATION depending on itself");
	assert_int_equal(x.streams[1].reset, 1);
	assert_int_equal(x.streams[1].heads, 0);
	sl_h2c_free(&x.c);

	/* DATA past a stream's window, then past the connection's */
	opened(&x, 100);
	x.keep_body = 0;
	n = raw_headers(b, 1, 0);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	for (int i = 0; i < 3; i++) { /* 49,152 of 65,535 */
		static uint8_t data[9 + 16384];

		n = sl_h2f_write_data_header(data, 9, 1, 16384, 0);
		assert_int_equal(sl_h2c_input(&x.c, data, n + 16384), 0);
	}
	{
		static uint8_t data[9 + 16384];

		n = sl_h2f_write_data_header(data, 9, 1, 16384, 0);
		expect_out(&x, data, n + 16384, 0, SL_H2F_RST_STREAM,
			   SL_H2F_FLOW_CONTROL_ERROR,
			   "DATA past the stream's window");
	}
	sl_h2c_free(&x.c);

	/* a stream its caller resets in the middle of a DATA frame: the
	 * rest of the frame is dropped, and given back */
	opened(&x, 100);
	n = raw_headers(b, 1, 0);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	x.keep_body = 0;
	x.reset_in_data = 1;
	n = sl_h2f_write_data_header(b, 9, 1, 100, 0);
	memset(b + n, 'd', 100);
	assert_int_equal(sl_h2c_input(&x.c, b, n + 40), 0);
	assert_int_equal(sl_h2c_input(&x.c, b + n + 40, 60), 0);
	assert_int_equal(x.streams[0].body, 40);
	assert_null(sl_h2c_stream(&x.c, 1));
	assert_int_equal(x.c.recv_win + (int32_t)x.c.consumed, 1 << 20);
	/* bytes of a reset stream consumed late: the connection's window
	 * only, no WINDOW_UPDATE on the stream sluice reset */
	x.olen = 0;
	assert_int_equal(sl_h2c_consumed(&x.c, &x.streams[0].h, 40000), 0);
	assert_int_equal(x.olen, 0);
	assert_int_equal(sl_h2c_consumed(&x.c, &x.streams[0].h, 500000), 0);
	assert_int_equal(x.olen, 13);
	assert_int_equal(x.out[3], SL_H2F_WINDOW_UPDATE);
	assert_int_equal(x.out[8], 0); /* on stream 0 */
	sl_h2c_free(&x.c);

	/* a stream reset by its caller between two reads of one DATA frame */
	opened(&x, 100);
	n = raw_headers(b, 1, 0);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	n = sl_h2f_write_data_header(b, 9, 1, 100, 0);
	memset(b + n, 'd', 100);
	assert_int_equal(sl_h2c_input(&x.c, b, n + 40), 0);
	assert_int_equal(sl_h2c_reset(&x.c, &x.streams[0].h, SL_H2F_CANCEL), 0);
	assert_int_equal(sl_h2c_input(&x.c, b + n + 40, 60), 0);
	assert_int_equal(x.streams[0].body, 40);
	/* GOAWAY from sluice names the last stream the peer opened */
	x.olen = 0;
	assert_int_equal(sl_h2c_goaway(&x.c, SL_H2F_NO_ERROR), 0);
	assert_int_equal(x.out[3], SL_H2F_GOAWAY);
	assert_int_equal(x.out[12], 1);
	sl_h2c_free(&x.c);

	/* DATA past the connection's window: 17 streams, none consumed */
	opened(&x, 100);
	x.keep_body = 0;
	{
		static uint8_t data[9 + 16384];
		int rv = 0;

		for (uint32_t id = 1; id <= 33 && rv == 0; id += 2) {
			n = raw_headers(b, id, 0);
			assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
			for (int i = 0; i < 4 && rv == 0; i++) {
				n = sl_h2f_write_data_header(
				    data, 9, id, i < 3 ? 16384 : 16383, 0);
				rv = sl_h2c_input(&x.c, data,
						  n + (i < 3 ? 16384 : 16383));
			}
		}
		assert_int_equal(rv, -1);
		assert_int_equal(x.c.err, SL_H2F_FLOW_CONTROL_ERROR);
	}
	sl_h2c_free(&x.c);

	/* no room for output: the connection fails, INTERNAL_ERROR, and
	 * so does every write after */
	opened(&x, 100);
	x.out_full = 1;
	n = sl_h2f_write_ping(b, 17, (const uint8_t *)"12345678", 0);
	assert_int_equal(sl_h2c_input(&x.c, b, n), -1);
	assert_int_equal(x.c.err, SL_H2F_INTERNAL_ERROR);
	assert_int_equal(sl_h2c_input(&x.c, b, n), -1);
	assert_int_equal(sl_h2c_goaway(&x.c, 0), -1);
	sl_h2c_free(&x.c);
	{
		/* each kind of frame it would write */
		static const struct {
			int kind;
			const char *what;
		} k[] = {{0, "SETTINGS ACK"},	{1, "REFUSED_STREAM"},
			 {2, "a stream error"}, {3, "send_headers"},
			 {4, "send_data"},	{5, "reset"},
			 {6, "consumed"}};

		for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
			int rv = 0;

			opened(&x, 1);
			n = raw_headers(b, 1, 0);
			assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
			x.out_full = 1;
			switch (k[i].kind) {
			case 0:
				n = sl_h2f_write_settings(b, 9, NULL, 0);
				rv = sl_h2c_input(&x.c, b, n);
				break;
			case 1:
				n = raw_headers(b, 3, 0);
				rv = sl_h2c_input(&x.c, b, n);
				break;
			case 2:
				n = sl_h2f_write_window_update(b, 13, 1, 0);
				rv = sl_h2c_input(&x.c, b, n);
				break;
			case 3:
				rv = sl_h2c_send_headers(
				    &x.c, &x.streams[0].h,
				    (const uint8_t *)"\x88", 1, 0);
				break;
			case 4:
				rv = sl_h2c_send_data(&x.c, &x.streams[0].h,
						      (const uint8_t *)"x", 1,
						      0);
				break;
			case 5:
				rv = sl_h2c_reset(&x.c, &x.streams[0].h,
						  SL_H2F_CANCEL);
				break;
			case 6:
				rv = sl_h2c_consumed(&x.c, NULL, 1 << 20);
				break;
			}
			if (rv != -1)
				fail_msg("%s with no room did not fail",
					 k[i].what);
			sl_h2c_free(&x.c);
		}
	}
	/* settings out of range, and no room for the first SETTINGS */
	{
		struct sl_h2c_settings ls = {.header_table = 4096,
					     .max_streams = 1,
					     .window = 100,
					     .conn_window = 1 << 20,
					     .max_frame = 16384};

		memset(&x, 0, sizeof(x));
		assert_int_equal(sl_h2c_init(&x.c, 1, &ls, x.rbuf,
					     sizeof(x.rbuf), scratch,
					     sizeof(scratch), 65536, &ops, &x),
				 -1);
		ls.window = 65535;
		x.out_full = 1;
		assert_int_equal(sl_h2c_init(&x.c, 1, &ls, x.rbuf,
					     sizeof(x.rbuf), scratch,
					     sizeof(scratch), 65536, &ops, &x),
				 -1);
	}
	/* what a client side announces, every setting away from its
	 * default: read back */
	{
		struct sl_h2c_settings ls = {.header_table = 0,
					     .max_streams = 10,
					     .window = 1 << 20,
					     .conn_window = 1 << 24,
					     .max_frame = 16384 * 2,
					     .max_header_list = 65536,
					     .connect_proto = 1};
		static uint8_t rb[32768];
		struct sl_h2f_reader rd;
		struct sl_h2f_event ev;
		size_t used;

		memset(&x, 0, sizeof(x));
		assert_int_equal(sl_h2c_init(&x.c, 0, &ls, rb, sizeof(rb),
					     scratch, sizeof(scratch), 65536,
					     &ops, &x),
				 0);
		assert_memory_equal(x.out, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
		assert_int_equal(
		    sl_h2f_reader_init(&rd, 0, rb, sizeof(rb), 16384), 0);
		assert_int_equal(sl_h2f_read(&rd, x.out + SL_H2F_PREFACE_LEN,
					     x.olen - SL_H2F_PREFACE_LEN, &used,
					     &ev),
				 SL_H2F_EV_FRAME);
		assert_int_equal(ev.hd.type, SL_H2F_SETTINGS);
		assert_int_equal(ev.len, 6 * 6); /* push, table, streams,
						    window, frame, list */
		assert_int_equal(x.c.recv_win, 1 << 24);
		sl_h2c_free(&x.c);
	}
}

/* ---- memory --------------------------------------------------------------*/

static void
test_idle_connection_holds_nothing(void **state)
{
	static struct side x;
	uint8_t b[64];
	size_t n;

	(void)state;
	opened(&x, 100);
	assert_int_equal(sl_h2c_mem(&x.c), 0);
	n = raw_headers(b, 1, 0);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	assert_true(sl_h2c_mem(&x.c) > 0); /* the map and the table */
	n = sl_h2f_write_rst_stream(b, 13, 1, SL_H2F_CANCEL);
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	assert_null(x.c.map);
	/* the :authority literal indexed one entry; a size update of 0
	 * frees the table */
	assert_true(sl_hpack_dec_mem(&x.c.dec) > 0);
	n = sl_h2f_write_header(b, 9, 7, SL_H2F_HEADERS,
				SL_H2F_F_END_HEADERS | SL_H2F_F_END_STREAM, 3);
	memcpy(b + n, "\x20\x82\x86\x84\x01\x01\x61", 7);
	n += 7;
	assert_int_equal(sl_h2c_input(&x.c, b, n), 0);
	assert_int_equal(sl_hpack_dec_mem(&x.c.dec), 0);
	x.olen = 0;
	assert_int_equal(sl_h2c_reset(&x.c, &x.streams[1].h, SL_H2F_CANCEL), 0);
	assert_int_equal(sl_h2c_mem(&x.c), 0);
	sl_h2c_free(&x.c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests_from_nghttp2),
	    cmocka_unit_test(test_windows_held_and_streams_refused),
	    cmocka_unit_test(test_calls_to_an_nghttp2_server),
	    cmocka_unit_test(test_section_5_on_raw_frames),
	    cmocka_unit_test(test_more_rules),
	    cmocka_unit_test(test_idle_connection_holds_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
