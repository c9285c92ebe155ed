/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer driver for one HTTP/2 connection's state
 * (src/h2/h2conn.c, server side, its frame reader and HPACK decoder
 * included) against an nghttp2 server session, the oracle (issue 43).
 *
 * An input is a set-up byte (bits 0-1: SETTINGS_MAX_CONCURRENT_STREAMS
 * 100, 1, 2 or 4; bit 2: each stream's window 65,535 or 2^20; bit 3: the
 * client acknowledges the server's SETTINGS at once (always so with the
 * bigger window, which nghttp2 applies only then); bit 4: the
 * connection's window 65,535 or 2^20), then records as fuzz_h2frame's (op,
 * flags, a stream id from a table, two parameters) that become frames with
 * well-formed headers and fuzzed fields, or server actions (a response
 * with END_STREAM, a RST_STREAM CANCEL). A header block is made when a
 * HEADERS frame is, from the input: raw HPACK bytes, or fields (request
 * pseudo-fields, names and values from tables or from the input, some
 * never indexed) encoded by nghttp2's deflater, one for the whole run, so
 * that both decoders see the same blocks with real dynamic-table use; it
 * is split across HEADERS and CONTINUATION as the records say. Both sides
 * announce the same SETTINGS; nghttp2 runs with no HTTP messaging checks,
 * no automatic WINDOW_UPDATE and its flood limits out of reach.
 *
 * After the client preface and an empty SETTINGS, each frame goes to
 * sl_h2c_input and to nghttp2_session_mem_recv, and what each writes is
 * parsed. They must agree, frame by frame, on whether the connection ends
 * and with which code (GOAWAY; sluice's c->failed and c->err must say the
 * same as its GOAWAY), on every RST_STREAM, on the streams opened
 * (stream_open / on_begin_headers), on the DATA bytes handed over, and on
 * each header block: its stream, END_STREAM, and its fields in order
 * with their values and never-indexed flag. With no HTTP messaging
 * nghttp2 1.52 checks no field at all (inflate_header_block calls
 * nghttp2_http_on_header only when messaging is enforced), so it hands
 * over every field; sluice's decoder checks each (RFC 9113 8.2.1) and
 * ends a block it finds malformed with SL_HPACK_MALFORMED after handing
 * over the fields before the bad one. So for a malformed block sluice's
 * fields must be nghttp2's up to the first field that
 * nghttp2_check_header_name, nghttp2_check_header_value_rfc9113 or the
 * pseudo-fields-first rule refuse (what nghttp2's session would refuse
 * with messaging on), and for a good block all of them with none refused.
 * The owner then resets a malformed stream with PROTOCOL_ERROR (RFC 9113
 * 8.1.1) on both sides, and the run goes on.
 *
 * Known, reasoned differences: a run stops comparing at the first (what
 * follows may differ for good). From fuzz_h2frame (its comment has the
 * details):
 *  1. A stream depending on itself (5.3.1): a stream error for sluice, a
 *     connection PROTOCOL_ERROR for nghttp2.
 *  2. PRIORITY of a length other than 5 (6.3): a stream FRAME_SIZE_ERROR
 *     for sluice, a connection FRAME_SIZE_ERROR for nghttp2.
 *  3. DATA or HEADERS on a half-closed (remote) stream (5.1): a stream
 *     error STREAM_CLOSED for sluice, a connection error for nghttp2.
 *  4. Frames on a stream the peer reset (5.1: a stream error
 *     STREAM_CLOSED): nghttp2 ignores them or ends the connection.
 *  5. DATA or HEADERS on a stream sluice reset, after the peer's
 *     END_STREAM: sluice ignores them (5.1, "MUST ignore frames ... after
 *     it has sent a RST_STREAM"), nghttp2 ends the connection.
 *  6. DATA or HEADERS on an id below the highest the client opened that
 *     is closed and forgotten or was never opened (5.1.1): sluice's
 *     verdicts are those of RFC 9113, nghttp2 ignores them.
 *  7. DATA whose padding is bad on a stream it may not be on: sluice's
 *     reader checks the padding first, nghttp2 the stream; PUSH_PROMISE
 *     (8.4) refused at its header by sluice, after its lengths by nghttp2.
 *  8. SETTINGS_INITIAL_WINDOW_SIZE pushing a window past 2^31-1: a
 *     connection FLOW_CONTROL_ERROR for sluice (6.9.2), RST_STREAM of the
 *     streams for nghttp2.
 *  9. A WINDOW_UPDATE of 0 on a stream (6.9): a stream PROTOCOL_ERROR for
 *     sluice, a connection PROTOCOL_ERROR for nghttp2.
 * 10. A CONTINUATION longer than SETTINGS_MAX_FRAME_SIZE (4.2): a
 *     connection FRAME_SIZE_ERROR for sluice, unchecked by nghttp2.
 * 11. A known setting repeated in one SETTINGS frame: nghttp2 checks only
 *     the last value, sluice each in order (6.5.3).
 * 12. After the client's GOAWAY, once no stream is active, nghttp2 reads
 *     nothing more: the run ends there.
 * New with the whole connection (fuzz_h2frame's caller made the first
 * two nghttp2's way; h2conn leaves them to the owner, as RFC 9113 does):
 * 13. A SETTINGS ack with none outstanding: a connection PROTOCOL_ERROR for
 *     nghttp2, ignored by sluice (6.5.3 asks no error).
 * 14. A GOAWAY whose last stream id grows or names a client's stream: a
 *     connection PROTOCOL_ERROR for nghttp2, taken by sluice (6.8: the
 *     sender MUST NOT increase it, but no error is asked of the receiver).
 * 15. A client's HEADERS on an open stream without END_STREAM (trailers
 *     that do not end it): a stream PROTOCOL_ERROR for sluice (8.1: a
 *     request's trailers end the stream; h2conn keeps this one rule of
 *     message framing), taken by nghttp2 without HTTP messaging.
 * 16. A new stream past SETTINGS_MAX_CONCURRENT_STREAMS once the client
 *     acknowledged it: RST_STREAM REFUSED_STREAM for sluice, a connection
 *     PROTOCOL_ERROR for nghttp2 (5.1.2 asks a stream error, PROTOCOL_ERROR
 *     or REFUSED_STREAM; before the ack both refuse the stream).
 * 17. A block that cannot be decoded (COMPRESSION_ERROR) in a HEADERS
 *     without END_HEADERS: nghttp2 decodes each fragment as it comes and
 *     ends the connection at once, sluice decodes the block once it is
 *     whole (4.3 asks only that a block be processed as one unit; the
 *     error comes with its last CONTINUATION).
 * 18. DATA past a stream's window (6.9.1): both reset the stream with
 *     FLOW_CONTROL_ERROR, but nghttp2 hands the frame's bytes over first
 *     and sluice does not (the frame broke the rule). Only the DATA
 *     bytes handed over differ; the run goes on.
 * 19. DATA or HEADERS on a stream closed both ways (END_STREAM each way):
 *     a connection STREAM_CLOSED for sluice (5.1, "closed": MAY), for
 *     nghttp2 only while it keeps the closed stream (as many as its
 *     concurrent stream limit leaves room for), else ignored.
 * FUZZ_H2DIFF_TRACE=1 prints each frame and both verdicts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "fuzz.h"
#include "h2conn.h"

/* The stream ids the records pick from: mostly the client's. */
static const uint32_t sids[16] = {
    1, 1, 3, 3, 5, 5, 7, 9, 0, 0, 2, 4, 11, 13, 0x7fffffff, 0x7ffffffd,
};

/* SETTINGS values and WINDOW_UPDATE increments, near every limit. */
static const uint32_t values[16] = {
    0,		1,	  2,	      16383,	  16384,      16385,
    65535,	65536,	  0x40000000, 0x7fff0000, 0x7fffffff, 0x80000000,
    0x80000001, 16777215, 16777216,   0xffffffff,
};

/* Field names and values the deflated blocks pick from: good ones, and
 * the shapes RFC 9113 8.2.1 refuses. */
static const struct {
	const char *s;
	size_t len;
} names[15] =
    {
	{":method", 7},	    {":path", 5}, {":scheme", 7}, {":authority", 10},
	{"user-agent", 10}, {"x-a", 3},	  {"cookie", 6},  {"content-type", 12},
	{"X-Up", 4},	    {"x y", 3},	  {"", 0},	  {":", 1},
	{":status", 7},	    {"te", 2},	  {"x\0z", 3},
},
  vals[8] = {
      {"GET", 3},     {"/", 1},	       {"a\r\nb", 4}, {" lead", 5},
      {"trail\t", 6}, {"in\tside", 7}, {"n\0l", 3},   {"", 0},
};

enum {
	KD_NONE = 0,
	KD_SELF_DEP,
	KD_PRIO_LEN,
	KD_HALF_CLOSED,
	KD_RESET_RECV,
	KD_RESET_SENT,
	KD_GONE,
	KD_ORDER,
	KD_IWS,
	KD_WU_ZERO,
	KD_CONT_SIZE,
	KD_DUP,
	KD_ACK,
	KD_GOAWAY_ID,
	KD_TRAILERS,
	KD_MAX_STREAMS,
	KD_EARLY_HPACK,
	KD_CLOSED,
};

#define MAXB  4	  /* header blocks in one frame's outcome */
#define MAXF  256 /* fields kept in one frame's outcome */
#define MAXR  16  /* RST_STREAMs */
#define STORE 16384

/* A header block as one side handed it over. */
struct block {
	uint32_t sid;
	int opened; /* a new stream (else trailers) */
	int done;   /* the block ended (headers handler, HEADERS received) */
	int end_stream;
	int rc;	   /* sluice's enum sl_hpack_rc */
	int first; /* its first field in the outcome's list */
	int n;	   /* its fields */
};

/* What one frame did, on either side. */
struct outcome {
	int conn;	    /* the connection ends */
	uint32_t conn_code; /* with this GOAWAY code */
	int nrst;
	uint32_t rst_sid[MAXR], rst_code[MAXR];
	size_t data; /* DATA bytes handed over */
	int nb;
	struct block b[MAXB];
	int nf;
	const uint8_t *name[MAXF], *value[MAXF];
	size_t nlen[MAXF], vlen[MAXF];
	unsigned never[MAXF];
	uint8_t store[STORE];
	size_t used;
	int over; /* more than is kept: blocks are not compared */
};

static struct outcome so, no;

/* The block being handed over to o for sid (made when none is). */
static struct block *
cur_block(struct outcome *o, uint32_t sid, int opened)
{
	struct block *b = o->nb > 0 ? &o->b[o->nb - 1] : NULL;

	if (b != NULL && !b->done && b->sid == sid)
		return b;
	if (o->nb == MAXB) {
		o->over = 1;
		return NULL;
	}
	b = &o->b[o->nb++];
	memset(b, 0, sizeof(*b));
	b->sid = sid;
	b->opened = opened;
	b->first = o->nf;
	return b;
}

static void
add_field(struct outcome *o, uint32_t sid, const uint8_t *n, size_t nlen,
	  const uint8_t *v, size_t vlen, unsigned never)
{
	struct block *b = cur_block(o, sid, 0);

	if (b == NULL)
		return;
	if (o->nf == MAXF || o->used + nlen + vlen > STORE) {
		o->over = 1;
		return;
	}
	memcpy(o->store + o->used, n, nlen);
	o->name[o->nf] = o->store + o->used;
	o->used += nlen;
	memcpy(o->store + o->used, v, vlen);
	o->value[o->nf] = o->store + o->used;
	o->used += vlen;
	o->nlen[o->nf] = nlen;
	o->vlen[o->nf] = vlen;
	o->never[o->nf] = never;
	o->nf++;
	b->n++;
}

/* ---- sluice's side -------------------------------------------------------*/

static struct sl_h2c c;
static uint8_t rbuf[SL_H2F_MAX_FRAME_MIN];
static char scratch[8192];
static uint8_t sout[1 << 17];
static size_t nsout;
static struct sl_h2c_stream streams[64];
static int malformed; /* sluice's owner reset a malformed block's stream */

static struct sl_h2c_stream *
f_open(void *arg, uint32_t id)
{
	(void)arg;
	for (size_t i = 0; i < 64; i++) {
		struct sl_h2c_stream *s = &streams[i];

		if (s->id == 0 || sl_h2c_stream(&c, s->id) != s) {
			memset(s, 0, sizeof(*s));
			(void)cur_block(&so, id, 1);
			return s;
		}
	}
	return NULL;
}

static int
f_field(void *arg, struct sl_h2c_stream *s, const char *name, size_t nlen,
	const char *value, size_t vlen, unsigned flags)
{
	(void)arg;
	add_field(&so, s->id, (const uint8_t *)name, nlen,
		  (const uint8_t *)value, vlen,
		  (flags & SL_HPACK_F_NEVER) != 0);
	return 0;
}

static void
f_headers(void *arg, struct sl_h2c_stream *s, int rc, int end_stream)
{
	struct block *b = cur_block(&so, s->id, 0);

	(void)arg;
	if (b != NULL) {
		b->done = 1;
		b->rc = rc;
		b->end_stream = end_stream;
	}
	CHECK(rc == SL_HPACK_OK || rc == SL_HPACK_MALFORMED);
	if (rc == SL_HPACK_MALFORMED) {
		/* the owner: a malformed request is a stream error (8.1.1) */
		malformed = 1;
		(void)sl_h2c_reset(&c, s, SL_H2F_PROTOCOL_ERROR);
	}
}

static void
f_data(void *arg, struct sl_h2c_stream *s, const uint8_t *p, size_t len,
       int end_stream)
{
	(void)arg;
	(void)s;
	(void)end_stream;
	CHECK(p != NULL);
	so.data += len;
}

static void
f_reset(void *arg, struct sl_h2c_stream *s, uint32_t code, int sent)
{
	(void)arg;
	(void)s;
	(void)code;
	(void)sent;
}

static void
f_goaway(void *arg, uint32_t last, uint32_t code)
{
	(void)arg;
	(void)last;
	(void)code;
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
	(void)arg;
	(void)hd;
	return 0;
}

static uint8_t *
f_out(void *arg, size_t n)
{
	uint8_t *p;

	(void)arg;
	if (nsout + n > sizeof(sout))
		return NULL;
	p = sout + nsout;
	nsout += n;
	return p;
}

static const struct sl_h2c_ops ops = {
    f_open,   f_field,	f_headers, f_data, f_reset,
    f_goaway, f_window, f_frame,   f_out,
};

/* The state sluice holds for id (as h2conn.c's state_of). */
static enum sl_h2f_st
state_of(uint32_t id)
{
	struct sl_h2c_stream *s = sl_h2c_stream(&c, id);

	if (s != NULL)
		return (enum sl_h2f_st)s->st;
	for (size_t i = 0; i < SL_H2C_CLOSED_KEPT; i++)
		if (c.closed_id[i] == id && id != 0)
			return (enum sl_h2f_st)c.closed_st[i];
	return sl_h2f_stream_unknown(id, 1, c.last_peer_id, c.last_local_id);
}

/* ---- nghttp2's side ------------------------------------------------------*/

static uint8_t nout[1 << 17];
static size_t nnout;

static ssize_t
ng_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
	void *user)
{
	(void)s;
	(void)flags;
	(void)user;
	CHECK(nnout + len <= sizeof(nout));
	memcpy(nout + nnout, data, len);
	nnout += len;
	return (ssize_t)len;
}

static int
ng_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	(void)s;
	(void)user;
	if (f->hd.type == NGHTTP2_HEADERS)
		(void)cur_block(&no, (uint32_t)f->hd.stream_id,
				f->headers.cat == NGHTTP2_HCAT_REQUEST);
	return 0;
}

static int
ng_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
	  size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
	  void *user)
{
	(void)s;
	(void)user;
	add_field(&no, (uint32_t)f->hd.stream_id, name, nlen, value, vlen,
		  (flags & NGHTTP2_NV_FLAG_NO_INDEX) != 0);
	return 0;
}

static int
ng_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct block *b;

	(void)s;
	(void)user;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	b = cur_block(&no, (uint32_t)f->hd.stream_id, 0);
	if (b != NULL) {
		b->done = 1;
		b->end_stream = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	}
	return 0;
}

static int
ng_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *p,
	size_t len, void *user)
{
	(void)s;
	(void)flags;
	(void)sid;
	(void)p;
	(void)user;
	no.data += len;
	return 0;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The GOAWAY and RST_STREAMs among the frames at buf (len bytes). */
static void
parse_out(struct outcome *o, const uint8_t *buf, size_t len)
{
	struct sl_h2f_header h;
	size_t off = 0;

	while (off + 9 <= len) {
		sl_h2f_header_parse(&h, buf + off);
		CHECK(off + 9 + h.length <= len);
		if (h.type == SL_H2F_GOAWAY) {
			CHECK(h.length >= 8 && !o->conn);
			o->conn = 1;
			o->conn_code = get32(buf + off + 13);
		} else if (h.type == SL_H2F_RST_STREAM) {
			CHECK(h.length == 4 && o->nrst < MAXR);
			o->rst_sid[o->nrst] = h.stream_id;
			o->rst_code[o->nrst++] = get32(buf + off + 9);
		}
		off += 9 + h.length;
	}
	CHECK(off == len);
}

/* ---- the frames ----------------------------------------------------------*/

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t
take(struct in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static nghttp2_hd_deflater *defl;
static uint8_t blk[4096]; /* the header block being sent */
static size_t blen, boff;

/* A new header block from the input: raw HPACK, or fields deflated. */
static void
new_block(struct in *in)
{
	static const nghttp2_nv req[4] = {
	    {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
	    {(uint8_t *)":path", (uint8_t *)"/", 5, 1, 0},
	    {(uint8_t *)":authority", (uint8_t *)"example.com", 10, 11, 0},
	};
	static uint8_t lit[8][2][32]; /* literal names and values */
	uint8_t k = take(in);
	nghttp2_nv nv[12];
	size_t n = 0, i, j, len;
	ssize_t rv;

	boff = 0;
	if (k & 0x80) {
		len = k & 0x3f;
		for (blen = 0; blen < len && in->n > 0; blen++)
			blk[blen] = take(in);
		return;
	}
	if (k & 0x40)
		for (n = 0; n < 4; n++)
			nv[n] = req[n];
	for (i = 0; i < (k & 7u); i++, n++) {
		uint8_t f = take(in);

		if ((f & 15) == 15) {
			len = take(in) & 31;
			for (j = 0; j < len; j++)
				lit[i][0][j] = take(in);
			nv[n].name = lit[i][0];
			nv[n].namelen = len;
		} else {
			nv[n].name = (uint8_t *)names[f & 15].s;
			nv[n].namelen = names[f & 15].len;
		}
		if (f & 0x10) {
			len = take(in) & 31;
			for (j = 0; j < len; j++)
				lit[i][1][j] = take(in);
			nv[n].value = lit[i][1];
			nv[n].valuelen = len;
		} else {
			nv[n].value = (uint8_t *)vals[(f >> 5) & 7].s;
			nv[n].valuelen = vals[(f >> 5) & 7].len;
		}
		nv[n].flags = (f & 0x80) ? NGHTTP2_NV_FLAG_NO_INDEX
					 : NGHTTP2_NV_FLAG_NONE;
	}
	rv = nghttp2_hd_deflate_hd(defl, blk, sizeof(blk), nv, n);
	CHECK(rv >= 0);
	blen = (size_t)rv;
}

/* The next fragment of the block: all that is left, or up to k bytes. */
static size_t
put_block(uint8_t *p, int end_headers, size_t k)
{
	size_t n = blen - boff;

	if (!end_headers && k < n)
		n = k;
	memcpy(p, blk + boff, n);
	boff += n;
	return n;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t
pad_open(uint8_t *p, uint8_t b, size_t *npad)
{
	p[0] = b & 0x3f;
	*npad = (b & 0x40) ? (b & 0x07) : (b & 0x3f);
	return 1;
}

static uint8_t fr[SL_H2F_HEADER_LEN + SL_H2F_MAX_FRAME_MIN + 64];
static int self_dep; /* the frame built makes its stream depend on itself */

/* The next frame at fr (its length), or 0 with *action set for a server
 * action, or 0 at the end. */
static size_t
build(struct in *in, int *action, uint32_t *asid)
{
	uint8_t op = take(in), flags = take(in), a, b;
	uint32_t sid = sids[take(in) & 15], dep;
	uint8_t *p = fr + SL_H2F_HEADER_LEN;
	size_t n = 0, npad = 0, i;
	unsigned type = op & 15, bad;

	a = take(in);
	b = take(in);
	*action = 0;
	self_dep = 0;
	bad = (a & 0xc0) == 0xc0;
	switch (type) {
	case 0:
	case 15:
		type = SL_H2F_DATA;
		if (flags & SL_H2F_F_PADDED)
			n += pad_open(p, b, &npad);
		i = (a & 0x20) ? 8192 + (size_t)(a & 31) * 256 : (a & 31);
		memset(p + n, 'd', i);
		n += i;
		break;
	case 1:
	case 14:
		type = SL_H2F_HEADERS;
		if (flags & SL_H2F_F_PADDED)
			n += pad_open(p, b, &npad);
		if (flags & SL_H2F_F_PRIORITY) {
			dep = sids[a >> 4];
			self_dep = dep == sid;
			put32(p + n, dep | (a & 8 ? 0x80000000u : 0));
			p[n + 4] = b;
			n += 5;
		}
		new_block(in);
		n += put_block(p + n, flags & SL_H2F_F_END_HEADERS,
			       (size_t)(op >> 4) * 3);
		break;
	case 2:
		type = SL_H2F_PRIORITY;
		dep = sids[a & 15];
		self_dep = dep == sid;
		put32(p, dep | (a & 16 ? 0x80000000u : 0));
		p[4] = b;
		n = bad ? a & 7 : 5;
		break;
	case 3:
		type = SL_H2F_RST_STREAM;
		put32(p, b % 16);
		n = bad ? a & 7 : 4;
		break;
	case 4:
		type = SL_H2F_SETTINGS;
		n = (flags & SL_H2F_F_ACK) ? 0 : 6 * (a & 3);
		for (i = 0; i < n; i += 6) {
			uint8_t v = take(in);

			p[i] = 0;
			p[i + 1] = v % 10;
			put32(p + i + 2, values[v >> 4]);
		}
		if (bad)
			n = a & 7;
		break;
	case 5:
		type = SL_H2F_PUSH_PROMISE;
		put32(p, 2);
		n = 4;
		break;
	case 6:
		type = SL_H2F_PING;
		memset(p, b, 8);
		n = bad ? a & 15 : 8;
		break;
	case 7:
		type = SL_H2F_GOAWAY;
		put32(p, sids[b & 15]);
		put32(p + 4, b >> 4);
		memset(p + 8, 'g', a & 3);
		n = bad ? a & 7 : 8 + (a & 3);
		break;
	case 8:
		type = SL_H2F_WINDOW_UPDATE;
		put32(p, values[b & 15] & (b & 16 ? 0x7fffffffu : 0xffffffffu));
		n = bad ? a & 7 : 4;
		break;
	case 9:
		type = SL_H2F_CONTINUATION;
		n = put_block(p, flags & SL_H2F_F_END_HEADERS, a & 15);
		break;
	case 10:
		type = 10 + a % 240;
		memset(p, 'u', b & 15);
		n = b & 15;
		break;
	case 11:
	case 12:
		*action = (int)type;
		*asid = sid;
		return 0;
	default: /* 13: too long, with no payload: the last frame */
		sl_h2f_write_header(fr, 9, SL_H2F_MAX_FRAME_MIN + 1 + b, a % 12,
				    flags, sid);
		in->n = 0;
		return SL_H2F_HEADER_LEN;
	}
	memset(p + n, 0, npad);
	n += npad;
	sl_h2f_write_header(fr, 9, (uint32_t)n, (uint8_t)type, flags, sid);
	return SL_H2F_HEADER_LEN + n;
}

/* ---- the run -------------------------------------------------------------*/

static struct {
	uint32_t ended[64]; /* ids the client sent END_STREAM on, accepted */
	int nended;
	int settings_out;     /* sluice's SETTINGS not acknowledged */
	uint32_t goaway_last; /* the client's last GOAWAY's last id */
	int goaway;	      /* the client sent GOAWAY */
} m;

static int
peer_ended(uint32_t id)
{
	for (int i = 0; i < m.nended; i++)
		if (m.ended[i] == id)
			return 1;
	return 0;
}

/* Whether a SETTINGS frame f repeats an id nghttp2 knows (1 to 9 but 7). */
static int
settings_dup(const uint8_t *f, int *iws)
{
	struct sl_h2f_header h;
	uint16_t a, b;
	uint32_t v;
	int dup = 0;

	sl_h2f_header_parse(&h, f);
	*iws = 0;
	if (h.type != SL_H2F_SETTINGS || h.length % 6 != 0 ||
	    h.length > SL_H2F_MAX_FRAME_MIN)
		return 0;
	for (size_t i = 0; i < h.length / 6; i++) {
		sl_h2f_setting_at(f + 9, i, &a, &v);
		*iws |= a == SL_H2F_SET_INITIAL_WINDOW_SIZE;
		for (size_t j = i + 1; j < h.length / 6; j++) {
			sl_h2f_setting_at(f + 9, j, &b, &v);
			if (a == b && a >= 1 && a <= 9 && a != 7)
				dup = 1;
		}
	}
	return dup;
}

static int same_errors(void);

/* The known difference the frame at fr may be, from sluice's state before
 * it (st, v: its stream's state and verdict) and what both did. */
static int
known(const struct sl_h2f_header *h, enum sl_h2f_st st, int v, int acked,
      uint32_t nstreams, uint32_t max_streams)
{
	int data_or_headers =
	    h->type == SL_H2F_DATA || h->type == SL_H2F_HEADERS;
	int iws, dup = settings_dup(fr, &iws);
	uint32_t last;

	if (self_dep)
		return KD_SELF_DEP;
	if (no.conn && no.conn_code == SL_H2F_COMPRESSION_ERROR && !so.conn &&
	    c.block != NULL)
		return KD_EARLY_HPACK;
	if (h->type == SL_H2F_PRIORITY && h->length != 5)
		return KD_PRIO_LEN;
	if (h->type == SL_H2F_PUSH_PROMISE)
		return KD_ORDER;
	if (h->type == SL_H2F_CONTINUATION && h->length > SL_H2F_MAX_FRAME_MIN)
		return KD_CONT_SIZE;
	if (dup)
		return KD_DUP;
	if (iws &&
	    (so.conn_code == SL_H2F_FLOW_CONTROL_ERROR ||
	     (no.nrst > 0 && no.rst_code[0] == SL_H2F_FLOW_CONTROL_ERROR)))
		return KD_IWS;
	if (h->type == SL_H2F_SETTINGS && (h->flags & SL_H2F_F_ACK) &&
	    m.settings_out == 0)
		return KD_ACK;
	if (h->type == SL_H2F_GOAWAY && h->length >= 8) {
		last = get32(fr + 9) & 0x7fffffffu;
		if (last > m.goaway_last || (last & 1))
			return KD_GOAWAY_ID;
	}
	if (h->type == SL_H2F_WINDOW_UPDATE && h->stream_id != 0 &&
	    h->length == 4 && (get32(fr + 9) & 0x7fffffffu) == 0)
		return KD_WU_ZERO;
	if (h->stream_id == 0)
		return KD_NONE;
	if (h->type == SL_H2F_DATA && so.conn && h->length <= 16384 &&
	    v != SL_H2F_ACCEPT)
		return KD_ORDER;
	if (v == SL_H2F_STREAM_ERROR && st == SL_H2F_ST_HALF_CLOSED_REMOTE &&
	    data_or_headers)
		return KD_HALF_CLOSED;
	if (v == SL_H2F_STREAM_ERROR && st == SL_H2F_ST_CLOSED_RESET_RECV)
		return KD_RESET_RECV;
	if (st == SL_H2F_ST_CLOSED_RESET_SENT && data_or_headers &&
	    peer_ended(h->stream_id))
		return KD_RESET_SENT;
	if (st == SL_H2F_ST_GONE && data_or_headers)
		return KD_GONE;
	if (st == SL_H2F_ST_CLOSED && data_or_headers && !same_errors())
		return KD_CLOSED;
	if (h->type == SL_H2F_HEADERS && v == SL_H2F_ACCEPT &&
	    st != SL_H2F_ST_IDLE && !(h->flags & SL_H2F_F_END_STREAM))
		return KD_TRAILERS;
	if (h->type == SL_H2F_HEADERS && v == SL_H2F_ACCEPT &&
	    st == SL_H2F_ST_IDLE && acked && nstreams >= max_streams)
		return KD_MAX_STREAMS;
	return KD_NONE;
}

/* The first field nghttp2's session would refuse with messaging on
 * (nghttp2_http_on_header's checks), of n from first; n when none. */
static int
first_bad(const struct outcome *o, int first, int n)
{
	int regular = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *nm = o->name[first + i];
		size_t nl = o->nlen[first + i];
		int ok = nghttp2_check_header_name(nm, nl) &&
			 nghttp2_check_header_value_rfc9113(o->value[first + i],
							    o->vlen[first + i]);

		if (ok && nl > 0 && nm[0] == ':')
			ok = !regular;
		else
			regular = 1;
		if (!ok)
			return i;
	}
	return n;
}

static int
same_field(int i, int j)
{
	return so.nlen[i] == no.nlen[j] && so.vlen[i] == no.vlen[j] &&
	       so.never[i] == no.never[j] &&
	       memcmp(so.name[i], no.name[j], so.nlen[i]) == 0 &&
	       memcmp(so.value[i], no.value[j], so.vlen[i]) == 0;
}

/* 1 when the two sides handed over the same header blocks, 0 when not,
 * -1 when more came than is kept; *bad_sid: a malformed block's stream
 * sluice's owner reset (nghttp2's owner must do the same), else 0. */

static int
same_blocks(uint32_t *bad_sid)
{
	*bad_sid = 0;
	if (so.over || no.over)
		return -1;
	if (so.nb != no.nb)
		return 0;
	for (int k = 0; k < so.nb; k++) {
		const struct block *x = &so.b[k], *y = &no.b[k];
		int bad = first_bad(&no, y->first, y->n);

		if (x->sid != y->sid || x->opened != y->opened ||
		    x->done != y->done || x->end_stream != y->end_stream)
			return 0;
		if (x->rc == SL_HPACK_OK && (x->n != y->n || bad != y->n))
			return 0;
		if (x->rc == SL_HPACK_MALFORMED) {
			if (bad != x->n || bad >= y->n)
				return 0;
			*bad_sid = x->sid;
		}
		for (int i = 0; i < x->n; i++)
			if (!same_field(x->first + i, y->first + i))
				return 0;
	}
	return 1;
}

/* Whether both end the connection with the same code, or reset the same
 * streams with the same codes. */
static int
same_errors(void)
{
	if (so.conn != no.conn)
		return 0;
	if (so.conn)
		return so.conn_code == no.conn_code;
	/* 18: nghttp2 hands over DATA past a stream's window, then
	 * resets it */
	if (!(so.nrst == 1 && so.rst_code[0] == SL_H2F_FLOW_CONTROL_ERROR &&
	      so.data == 0) &&
	    so.data != no.data)
		return 0;
	if (so.nrst != no.nrst)
		return 0;
	for (int i = 0; i < so.nrst; i++)
		if (so.rst_sid[i] != no.rst_sid[i] ||
		    so.rst_code[i] != no.rst_code[i])
			return 0;
	return 1;
}

/* FUZZ_H2DIFF_TRACE=1: each frame and what both sides made of it. */
static void
trace(const struct sl_h2f_header *h, int kd)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_H2DIFF_TRACE") != NULL;
	if (!on)
		return;
	fprintf(stderr,
		"%s len=%u flags=0x%02x sid=%u known=%d | sluice conn=%d/%s "
		"rst=%d(%u:%s) blocks=%d fields=%d data=%zu | nghttp2 "
		"conn=%d/%s rst=%d(%u:%s) blocks=%d fields=%d data=%zu\n",
		sl_h2f_type_str(h->type), h->length, h->flags, h->stream_id, kd,
		so.conn, sl_h2f_err_str(so.conn_code), so.nrst, so.rst_sid[0],
		sl_h2f_err_str(so.rst_code[0]), so.nb, so.nf, so.data, no.conn,
		sl_h2f_err_str(no.conn_code), no.nrst, no.rst_sid[0],
		sl_h2f_err_str(no.rst_code[0]), no.nb, no.nf, no.data);
	for (int i = 0; i < so.nf || i < no.nf; i++)
		fprintf(stderr,
			"  [%d] sluice %.*s: %.*s | nghttp2 %.*s: %.*s\n", i,
			i < so.nf ? (int)so.nlen[i] : 0,
			i < so.nf ? (const char *)so.name[i] : "",
			i < so.nf ? (int)so.vlen[i] : 0,
			i < so.nf ? (const char *)so.value[i] : "",
			i < no.nf ? (int)no.nlen[i] : 0,
			i < no.nf ? (const char *)no.name[i] : "",
			i < no.nf ? (int)no.vlen[i] : 0,
			i < no.nf ? (const char *)no.value[i] : "");
}

static nghttp2_session_callbacks *cbs;
static nghttp2_option *opt;

static void
setup(void)
{
	if (cbs != NULL)
		return;
	CHECK(nghttp2_session_callbacks_new(&cbs) == 0);
	nghttp2_session_callbacks_set_send_callback(cbs, ng_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(
	    cbs, ng_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, ng_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
							     ng_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, ng_data);
	CHECK(nghttp2_option_new(&opt) == 0);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_http_messaging(opt, 1);
	nghttp2_option_set_max_settings(opt, 1 << 20);
	nghttp2_option_set_max_continuations(opt, 1 << 20);
	nghttp2_option_set_stream_reset_rate_limit(opt, 1 << 30, 1 << 30);
	nghttp2_option_set_max_outbound_ack(opt, 1 << 20);
}

static void
clear(void)
{
	so.conn = no.conn = 0;
	so.conn_code = no.conn_code = 0;
	so.nrst = no.nrst = 0;
	so.data = no.data = 0;
	nsout = nnout = 0;
	malformed = 0;
}

/* Forgets the header blocks handed over: done once sluice has a block
 * whole (nghttp2 hands fields over frame by frame, sluice when the block
 * is). */
static void
clear_blocks(void)
{
	so.nb = no.nb = so.nf = no.nf = 0;
	so.used = no.used = 0;
	so.over = no.over = 0;
}

/* Both sides' outputs since clear(), parsed; sluice's failure must be
 * what its GOAWAY says. */
static void
outcomes(nghttp2_session *ng)
{
	CHECK(nghttp2_session_send(ng) == 0);
	parse_out(&so, sout, nsout);
	parse_out(&no, nout, nnout);
	CHECK(so.conn == c.failed);
	CHECK(!so.conn || so.conn_code == c.err);
}

/* A server action on both sides: an answer with END_STREAM, or a reset. */
static void
act(nghttp2_session *ng, int action, uint32_t sid)
{
	static const nghttp2_nv resp[] = {
	    {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
	};
	struct sl_h2c_stream *s = sl_h2c_stream(&c, sid);
	nghttp2_stream *ns = nghttp2_session_find_stream(ng, (int32_t)sid);
	nghttp2_stream_proto_state nst = ns != NULL
					     ? nghttp2_stream_get_state(ns)
					     : NGHTTP2_STREAM_STATE_CLOSED;
	int sl_ok = s != NULL && (s->st == SL_H2F_ST_OPEN ||
				  s->st == SL_H2F_ST_HALF_CLOSED_REMOTE);
	int ng_ok = nst == NGHTTP2_STREAM_STATE_OPEN ||
		    nst == NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE;
	uint8_t block[8];
	size_t n;

	if (c.block != NULL)
		return; /* a header block is being read */
	CHECK(sl_ok == ng_ok);
	if (!sl_ok)
		return;
	clear();
	if (action == 11) {
		n = sl_hpack_enc_status(block, 200);
		CHECK(sl_h2c_send_headers(&c, s, block, n, 1) == 0);
		CHECK(nghttp2_submit_response(ng, (int32_t)sid, resp, 1,
					      NULL) == 0);
	} else {
		CHECK(sl_h2c_reset(&c, s, SL_H2F_CANCEL) == 0);
		CHECK(nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE,
						(int32_t)sid,
						NGHTTP2_CANCEL) == 0);
	}
	CHECK(nghttp2_session_send(ng) == 0);
	clear();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxs[4] = {100, 1, 2, 4};
	struct in in = {data, size};
	struct sl_h2c_settings set = {
	    .header_table = 4096,
	    .max_frame = SL_H2F_MAX_FRAME_MIN,
	};
	nghttp2_settings_entry iv[2];
	nghttp2_session *ng;
	struct sl_h2f_header h;
	enum sl_h2f_st st, next;
	uint32_t asid, code, bad_sid, nstreams;
	uint8_t setup_byte;
	size_t n, off;
	int action, kd, v, sb, acked;

	if (size < 1)
		return 0;
	setup();
	setup_byte = take(&in);
	set.max_streams = maxs[setup_byte & 3];
	set.window = (setup_byte & 4) ? 1u << 20 : 65535;
	set.conn_window = (setup_byte & 16) ? 1u << 20 : 65535;
	acked = (setup_byte & 4) || (setup_byte & 8);
	memset(&m, 0, sizeof(m));
	m.goaway_last = SL_H2F_MAX_STREAM_ID;
	memset(streams, 0, sizeof(streams));
	blen = boff = 0;
	clear();
	clear_blocks();

	CHECK(sl_h2c_init(&c, 1, &set, rbuf, sizeof(rbuf), scratch,
			  sizeof(scratch), 65536, &ops, NULL) == 0);
	CHECK(nghttp2_hd_deflate_new(&defl, 4096) == 0);
	CHECK(nghttp2_session_server_new2(&ng, cbs, NULL, opt) == 0);
	iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
	iv[0].value = set.max_streams;
	iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
	iv[1].value = set.window;
	CHECK(nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, iv, 2) == 0);
	if (set.conn_window > 65535)
		CHECK(nghttp2_session_set_local_window_size(
			  ng, NGHTTP2_FLAG_NONE, 0, (int32_t)set.conn_window) ==
		      0);
	CHECK(nghttp2_session_send(ng) == 0);
	m.settings_out = 1;

	/* the preface, a first SETTINGS and maybe its ack */
	memcpy(fr, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
	n = SL_H2F_PREFACE_LEN;
	n += sl_h2f_write_header(fr + n, 9, 0, SL_H2F_SETTINGS, 0, 0);
	if (acked) {
		n += sl_h2f_write_header(fr + n, 9, 0, SL_H2F_SETTINGS,
					 SL_H2F_F_ACK, 0);
		m.settings_out = 0;
	}
	CHECK(sl_h2c_input(&c, fr, n) == 0);
	CHECK(nghttp2_session_mem_recv(ng, fr, n) == (ssize_t)n);
	CHECK(nghttp2_session_send(ng) == 0);
	clear();

	while (in.n > 0) {
		/* after a GOAWAY with no stream active nghttp2 reads no
		 * more (12) */
		if (m.goaway && !nghttp2_session_want_read(ng))
			break;
		n = build(&in, &action, &asid);
		if (n == 0 && action == 0)
			break;
		if (action != 0) {
			act(ng, action, asid);
			continue;
		}
		sl_h2f_header_parse(&h, fr);
		st = state_of(h.stream_id);
		code = 0;
		v = h.stream_id != 0
			? sl_h2f_stream_recv(st, h.type, h.flags, &next, &code)
			: SL_H2F_ACCEPT;
		nstreams = c.nstreams;
		clear();
		(void)sl_h2c_input(&c, fr, n);
		CHECK(nghttp2_session_mem_recv(ng, fr, n) == (ssize_t)n);
		outcomes(ng);
		kd = known(&h, st, v, m.settings_out == 0, nstreams,
			   set.max_streams);
		if (kd == KD_NONE && !so.conn && !no.conn && c.block == NULL) {
			/* the owner resets a malformed request's stream:
			 * sluice's did in its handler, nghttp2's now */
			if ((sb = same_blocks(&bad_sid)) < 0)
				break; /* more than is kept */
			CHECK(sb);
			if (bad_sid != 0) {
				off = nnout;
				CHECK(nghttp2_submit_rst_stream(
					  ng, NGHTTP2_FLAG_NONE,
					  (int32_t)bad_sid,
					  NGHTTP2_PROTOCOL_ERROR) == 0);
				CHECK(nghttp2_session_send(ng) == 0);
				parse_out(&no, nout + off, nnout - off);
			}
			clear_blocks();
		}
		trace(&h, kd);
		if (kd != KD_NONE)
			break;
		CHECK(same_errors());
		if (so.conn)
			break;
		/* the bookkeeping of the known differences */
		if ((h.type == SL_H2F_DATA || h.type == SL_H2F_HEADERS) &&
		    (h.flags & SL_H2F_F_END_STREAM) && v == SL_H2F_ACCEPT &&
		    m.nended < 64)
			m.ended[m.nended++] = h.stream_id;
		if (h.type == SL_H2F_SETTINGS && (h.flags & SL_H2F_F_ACK) &&
		    m.settings_out > 0)
			m.settings_out--;
		if (h.type == SL_H2F_GOAWAY && h.length >= 8) {
			m.goaway = 1;
			m.goaway_last = get32(fr + 9) & 0x7fffffffu;
		}
	}
	nghttp2_session_del(ng);
	nghttp2_hd_deflate_del(defl);
	sl_h2c_free(&c);
	return 0;
}
