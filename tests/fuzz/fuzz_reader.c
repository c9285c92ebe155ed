/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer driver for the reader of upstream responses (h1_reader.c).
 * Input: a byte of settings (bit 0 a HEAD request, 1 interim heads as
 * events, 2 the body dropped, 3 a chunked body's payload alone, 4 the
 * input's end after the last byte, 5 a codec's bytes (head blocks), 6 the
 * codec's end mark after the last byte), a byte for the size of the
 * pieces, a byte for the head's bound, then the upstream's bytes. They are
 * fed whole and in pieces, as a connection's buffer holds them (each
 * event's bytes dropped before the next call): both must give the same
 * events and the same body; every event's slices stay in the buffer, a
 * status is in its range, a whole length-framed body is its length, and
 * an ended or failed reader says so again, taking nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "h1_reader.h"

#define MAX_IN	 16384
#define MAX_EVS	 64
#define MAX_HDRS 100

struct run {
	enum sl_h1_rd_ev ev[MAX_EVS]; /* but DATA and MORE; the first */
	int status[MAX_EVS];
	enum sl_h1_reason why[MAX_EVS];
	size_t nev;
	char *body; /* MAX_IN bytes */
	size_t body_len;
	int stalled; /* MORE at the input's end */
};

/* Appends the next piece of p (n bytes) to buf. */
static void
more(char *buf, size_t *len, const char *p, size_t n, size_t *fed, size_t piece)
{
	size_t k = n - *fed < piece ? n - *fed : piece;

	memcpy(buf + *len, p + *fed, k);
	*len += k;
	*fed += k;
}

/* Feeds the n bytes at p, piece bytes at a time (n: at once). */
static void
feed(const char *p, size_t n, size_t piece, unsigned flags, size_t max_head,
     unsigned last_in, struct run *out)
{
	static struct sl_h1_header hdrs[MAX_HDRS];
	struct sl_h1_limits lim = {max_head, max_head, MAX_HDRS};
	enum sl_h1_method m = (flags & 1) ? SL_M_HEAD : SL_M_GET;
	char *buf = malloc(n + 1);
	size_t len = 0, fed = 0;
	struct sl_h1_rd_event ev;
	struct sl_h1_reader r;
	enum sl_h1_rd_ev e;
	unsigned in;

	CHECK(buf != NULL);
	sl_h1_reader_init(&r, &lim, hdrs, MAX_HDRS, m, (flags >> 1) & 7);
	more(buf, &len, p, n, &fed, piece);
	for (;;) {
		in = (flags & 0x20) ? SL_H1_RD_IN_CODEC : 0;
		if (fed == n)
			in |= last_in;
		e = sl_h1_reader_next(&r, buf, len, in, &ev);
		CHECK(ev.used <= len);
		CHECK(ev.len == 0 ||
		      (ev.data >= buf && ev.data + ev.len <= buf + len));
		CHECK(ev.len == 0 || !(flags & 4));
		if (e == SL_H1_RD_HEAD || e == SL_H1_RD_INTERIM) {
			CHECK(ev.head >= buf &&
			      ev.head + ev.head_len <= buf + ev.used);
			CHECK(e == SL_H1_RD_INTERIM ? ev.resp->status < 200
						    : ev.resp->status >= 200);
			CHECK(ev.resp->status >= 100 && ev.resp->status <= 599);
		}
		if (e == SL_H1_RD_END)
			CHECK(!ev.reusable || !(in & SL_H1_RD_IN_EOF));
		if (ev.len > 0) {
			memcpy(out->body + out->body_len, ev.data, ev.len);
			out->body_len += ev.len;
		}
		memmove(buf, buf + ev.used, len - ev.used);
		len -= ev.used;
		if (e == SL_H1_RD_DATA)
			continue;
		if (e == SL_H1_RD_MORE) {
			CHECK(!(in & SL_H1_RD_IN_EOF));
			if (fed == n) {
				out->stalled = 1;
				break;
			}
			more(buf, &len, p, n, &fed, piece);
			continue;
		}
		CHECK(e != SL_H1_RD_FAILED); /* the connection's, not here */
		if (out->nev == MAX_EVS)
			break; /* interim heads all along: enough of them */
		out->ev[out->nev] = e;
		out->status[out->nev] = ev.resp->status;
		out->why[out->nev++] = ev.why;
		if (e == SL_H1_RD_END || e >= SL_H1_RD_BAD_HEAD) {
			/* a whole body of a length is that length */
			if (e == SL_H1_RD_END && r.body == SL_H1_BODY_LENGTH &&
			    !(flags & 4))
				CHECK(out->body_len == r.resp.content_length);
			CHECK(sl_h1_reader_next(&r, buf, len, in, &ev) == e &&
			      ev.used == 0 && ev.len == 0);
			break;
		}
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char body1[MAX_IN], body2[MAX_IN];
	struct run whole, part;
	unsigned flags, last_in = 0;
	size_t piece, max_head;

	if (size < 3 || size - 3 > MAX_IN)
		return 0;
	flags = data[0];
	piece = 1 + data[1] % 64;
	max_head = 64 + (size_t)data[2] * 64;
	if (flags & 0x10)
		last_in |= SL_H1_RD_IN_EOF;
	if (flags & 0x40)
		last_in |= SL_H1_RD_IN_ENDED;
	memset(&whole, 0, sizeof(whole));
	memset(&part, 0, sizeof(part));
	whole.body = body1;
	part.body = body2;
	feed((const char *)data + 3, size - 3, size - 3, flags, max_head,
	     last_in, &whole);
	feed((const char *)data + 3, size - 3, piece, flags, max_head, last_in,
	     &part);
	CHECK(whole.nev == part.nev && whole.stalled == part.stalled);
	for (size_t i = 0; i < whole.nev; i++) {
		CHECK(whole.ev[i] == part.ev[i]);
		CHECK(whole.status[i] == part.status[i]);
		CHECK(whole.why[i] == part.why[i]);
	}
	CHECK(whole.body_len == part.body_len);
	CHECK(memcmp(whole.body, part.body, whole.body_len) == 0);
	return 0;
}
