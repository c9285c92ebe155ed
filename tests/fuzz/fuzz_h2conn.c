/* SPDX-License-Identifier: MIT */
/*
 * One connection's state (src/h2/h2conn.c), server side, over a client's
 * bytes: the input's first byte is set-up (bits 0-2: the size of the
 * pieces the rest is fed in, 1 to 8, or whole; bit 3: the caller
 * consumes DATA as it comes; bit 4: it answers each new stream with a
 * head and a body as its windows allow; bit 5: it resets a stream in the
 * middle of its DATA), the rest follows the client preface. The same
 * input is run whole and in pieces: the handlers' calls and every byte
 * written must be the same (no state may depend on where reads end).
 * What sluice writes must read back, frame by frame, through the frame
 * reader on the client's side with no error, SETTINGS first and nothing
 * after a GOAWAY; a stream's receive window never goes below zero and
 * the connection's open streams stay within what sluice announced. ASan
 * and UBSan do the rest.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "h2conn.h"

struct run {
	struct sl_h2c c;
	uint8_t out[1 << 18];
	size_t olen;
	uint8_t rbuf[16384];
	struct {
		struct sl_h2c_stream h;
		int answered;
		size_t got; /* DATA bytes handed over */
	} st[32];
	unsigned nst;
	char log[1 << 16]; /* what the handlers saw */
	size_t llen;
	unsigned flags;
};

static char scratch[8192];

static void
note(struct run *r, const char *what, unsigned a, unsigned b)
{
	if (r->llen < sizeof(r->log) - 64)
		r->llen +=
		    (size_t)snprintf(r->log + r->llen, sizeof(r->log) - r->llen,
				     "%s %u %u\n", what, a, b);
}

static struct sl_h2c_stream *
f_open(void *arg, uint32_t id)
{
	struct run *r = arg;

	note(r, "open", id, 0);
	if (r->nst == 32)
		return NULL;
	memset(&r->st[r->nst], 0, sizeof(r->st[0]));
	return &r->st[r->nst++].h;
}

static int
f_field(void *arg, struct sl_h2c_stream *s, const char *n, size_t nlen,
	const char *v, size_t vlen, unsigned flags)
{
	struct run *r = arg;

	(void)n;
	(void)v;
	note(r, "field", s->id, (unsigned)(nlen + vlen) + flags);
	return 0;
}

static void
answer(struct run *r, struct sl_h2c_stream *s)
{
	static const uint8_t body[3000];
	uint8_t block[64];
	size_t n = sl_hpack_enc_status(block, 200), room;

	for (unsigned i = 0; i < r->nst; i++) {
		if (&r->st[i].h != s || r->st[i].answered)
			continue;
		r->st[i].answered = 1;
		if (sl_h2c_send_headers(&r->c, s, block, n, 0) != 0)
			return;
		room = sl_h2c_send_room(&r->c, s);
		if (room > sizeof(body))
			room = sizeof(body);
		(void)sl_h2c_send_data(&r->c, s, body, room, 1);
	}
}

static void
f_headers(void *arg, struct sl_h2c_stream *s, int rc, int end)
{
	struct run *r = arg;

	note(r, "headers", s->id, (unsigned)(rc * 2 + end));
	if ((r->flags & 0x10) && rc == SL_HPACK_OK)
		answer(r, s);
}

static void
f_data(void *arg, struct sl_h2c_stream *s, const uint8_t *p, size_t len,
       int end)
{
	struct run *r = arg;
	size_t dummy = 0, *got = &dummy;

	CHECK(p != NULL); /* an empty piece too: owners memcpy it */
	for (unsigned i = 0; i < r->nst; i++)
		if (&r->st[i].h == s)
			got = &r->st[i].got;
	*got += len;
	CHECK(s->recv_win >= 0);
	/* pieces depend on where reads end: the log has the sum at the
	 * end, and the body is consumed then (consuming piece by piece
	 * gives back the same bytes in other WINDOW_UPDATEs) */
	if (end && !(r->flags & 0x20)) { /* (a reset cuts pieces short) */
		note(r, "end", s->id, (unsigned)*got);
		if (r->flags & 0x08)
			CHECK(sl_h2c_consumed(&r->c, s, *got) == 0 ||
			      r->c.failed);
	}
	if ((r->flags & 0x20) && len > 0 && s->id % 4 == 1) {
		(void)sl_h2c_consumed(&r->c, s, len);
		(void)sl_h2c_reset(&r->c, s, SL_H2F_CANCEL);
	}
}

static void
f_reset(void *arg, struct sl_h2c_stream *s, uint32_t code, int sent)
{
	struct run *r = arg;

	note(r, "reset", s->id, code * 2 + (unsigned)sent);
}

static void
f_goaway(void *arg, uint32_t last, uint32_t code)
{
	note(arg, "goaway", last, code);
}

static void
f_window(void *arg, struct sl_h2c_stream *s)
{
	(void)arg;
	(void)s;
}

static int
f_frame(void *arg, const struct sl_h2f_header *hd)
{
	note(arg, "frame", hd->type, hd->stream_id);
	return 0;
}

static uint8_t *
f_out(void *arg, size_t n)
{
	struct run *r = arg;
	uint8_t *p;

	if (r->olen + n > sizeof(r->out))
		return NULL;
	p = r->out + r->olen;
	r->olen += n;
	return p;
}

static const struct sl_h2c_ops ops = {
    f_open,   f_field,	f_headers, f_data, f_reset,
    f_goaway, f_window, f_frame,   f_out,
};

static void
run(struct run *r, const uint8_t *data, size_t size, size_t piece)
{
	struct sl_h2c_settings set = {
	    .header_table = 4096,
	    .max_streams = 16,
	    .window = 65535,
	    .conn_window = 1 << 20,
	    .max_frame = 16384,
	};
	size_t at = 0;

	memset(r, 0, offsetof(struct run, out));
	r->olen = r->llen = 0;
	r->nst = 0;
	r->flags = data[0];
	CHECK(sl_h2c_init(&r->c, 1, &set, r->rbuf, sizeof(r->rbuf), scratch,
			  sizeof(scratch), 32768, &ops, r) == 0);
	CHECK(sl_h2c_input(&r->c, (const uint8_t *)SL_H2F_PREFACE,
			   SL_H2F_PREFACE_LEN) == 0);
	data++;
	size--;
	while (at < size) {
		size_t n = size - at < piece ? size - at : piece;

		if (sl_h2c_input(&r->c, data + at, n) != 0)
			break;
		CHECK(r->c.nstreams <= 16);
		at += n;
	}
	note(r, "end of input", r->c.failed, r->c.err);
}

/* sluice's bytes read back as a client reads them */
static void
read_back(const struct run *r)
{
	static uint8_t buf[16384];
	struct sl_h2f_reader rd;
	const uint8_t *p = r->out;
	size_t left = r->olen;
	int goaway = 0;

	CHECK(sl_h2f_reader_init(&rd, 0, buf, sizeof(buf), 16384) == 0);
	while (left > 0) {
		struct sl_h2f_event ev;
		size_t used = 0;
		int rv = sl_h2f_read(&rd, p, left, &used, &ev);

		CHECK(rv != SL_H2F_EV_CONN_ERROR);
		CHECK(rv != SL_H2F_EV_STREAM_ERROR);
		p += used;
		left -= used;
		if (rv == SL_H2F_EV_NONE)
			break;
		CHECK(!goaway);
		if (ev.hd.type == SL_H2F_GOAWAY)
			goaway = 1;
	}
	CHECK(left == 0);
}

static struct run whole, cut;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece;

	if (size < 1)
		return 0;
	piece = (data[0] & 7) + 1;
	run(&whole, data, size, size);
	run(&cut, data, size, (data[0] & 7) == 7 ? size : piece);
	CHECK(whole.llen == cut.llen &&
	      memcmp(whole.log, cut.log, whole.llen) == 0);
	/* a stream reset in the middle of its DATA gives back its window
	 * in other pieces: only the handlers' calls must agree then */
	if (!(data[0] & 0x20))
		CHECK(whole.olen == cut.olen &&
		      memcmp(whole.out, cut.out, whole.olen) == 0);
	read_back(&whole);
	sl_h2c_free(&whole.c);
	sl_h2c_free(&cut.c);
	return 0;
}
