/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer driver for the HTTP/2 frame layer (src/h2/frame.c)
 * against an nghttp2 server session, the oracle. The input is a list of
 * records (an op byte, a flags byte, a stream id picked from a table, two
 * parameter bytes) that become frames with well-formed headers and fuzzed
 * fields (types, flags, ids, lengths wrong for their type, padding,
 * priority, settings, increments), or server actions (a response with
 * END_STREAM, a RST_STREAM of its own). Header blocks are always the same
 * few indexed and literal-without-indexing request fields, split across
 * HEADERS and CONTINUATION, so that HPACK is never what differs. After the
 * client preface each frame goes, whole or in two pieces, to sluice's
 * reader with a small caller (the stream table, windows, the stream rules
 * of sl_h2f_stream_recv) and to nghttp2_session_mem_recv; what nghttp2
 * sends is parsed. Both must agree, frame by frame, on whether the
 * connection ends and with which code (GOAWAY), and on each RST_STREAM.
 * nghttp2 runs with no HTTP messaging checks (those are the HTTP/2 head
 * code's, above the frame layer), no automatic WINDOW_UPDATE, and its
 * flood limits (settings entries, CONTINUATIONs, resets) out of reach.
 *
 * Known, reasoned differences: a run stops comparing at the first (what
 * follows may differ for good), after checking what nghttp2 did where it
 * is certain:
 *  1. A stream depending on itself (PRIORITY, HEADERS; RFC 9113 5.3.1,
 *     h2spec 5.3.1): a stream error for sluice, a connection
 *     PROTOCOL_ERROR for nghttp2.
 *  2. PRIORITY of a length other than 5 (6.3): a stream FRAME_SIZE_ERROR
 *     for sluice (a connection PROTOCOL_ERROR on stream 0), a connection
 *     FRAME_SIZE_ERROR for nghttp2.
 *  3. DATA or HEADERS on a half-closed (remote) stream (5.1): a stream
 *     error STREAM_CLOSED for sluice, a connection error STREAM_CLOSED for
 *     nghttp2 ("we go further"). Same code.
 *  4. Frames on a stream the peer reset (5.1: all but PRIORITY are a
 *     stream error STREAM_CLOSED): nghttp2 ignores them, or makes them a
 *     connection STREAM_CLOSED when the peer had sent END_STREAM before.
 *  5. Frames on a stream sluice reset, after the peer's END_STREAM: sluice
 *     ignores them (5.1, "MUST ignore frames ... after it has sent a
 *     RST_STREAM"), nghttp2 makes DATA or HEADERS a connection error
 *     STREAM_CLOSED.
 *  6. HEADERS on an id below the highest the client opened that was never
 *     opened (5.1.1): a connection PROTOCOL_ERROR for sluice, ignored by
 *     nghttp2; DATA there: a stream STREAM_CLOSED (6.1), ignored.
 *  7. A frame that breaks a framing rule and its stream's state: DATA's
 *     padding is checked by sluice's reader before the caller judges the
 *     stream; nghttp2 judges DATA's stream first and skips the padding of
 *     DATA it ignores. PUSH_PROMISE (never allowed, 8.4) is refused at
 *     its header by sluice, after its lengths by nghttp2.
 *  8. SETTINGS_INITIAL_WINDOW_SIZE pushing a window past 2^31-1: a
 *     connection FLOW_CONTROL_ERROR for sluice (6.9.2), RST_STREAM
 *     FLOW_CONTROL_ERROR of each such stream for nghttp2 (idle and closed
 *     ones included).
 *  9. A WINDOW_UPDATE of 0 on an open stream (6.9): a stream
 *     PROTOCOL_ERROR for sluice, a connection PROTOCOL_ERROR for nghttp2.
 * 10. A CONTINUATION longer than SETTINGS_MAX_FRAME_SIZE: a connection
 *     FRAME_SIZE_ERROR for sluice (4.2), none for nghttp2 (it does not
 *     check a CONTINUATION's length).
 * 11. A known setting repeated in one SETTINGS frame: nghttp2 keeps the
 *     last value and checks only it; sluice processes each in order
 *     (6.5.3), so an earlier bad value (or a window overflow on the way)
 *     is an error. Outcomes may differ only for such a frame.
 * 12. After the client's GOAWAY, once no stream is active, nghttp2 reads
 *     nothing more: the run ends there.
 * The caller here, as sluice's own will, also refuses (as nghttp2 does)
 * a SETTINGS ack with no SETTINGS outstanding and a GOAWAY whose last
 * stream id grows or is not one sluice could have opened (odd): policies
 * above the frame layer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "frame.h"
#include "fuzz.h"

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

/* The request's header block: :method GET, :scheme http, :path /,
 * :authority "a" (a literal without indexing: no table changes). */
static const uint8_t req_block[] = {0x82, 0x86, 0x84, 0x01, 0x01, 'a'};

/* Known differences (the list above). */
enum {
	KD_NONE = 0,
	KD_SELF_DEP,
	KD_PRIO_LEN,
	KD_HALF_CLOSED,
	KD_RESET_RECV,
	KD_RESET_SENT,
	KD_GONE,
	KD_IWS,
	KD_WU_ZERO,
	KD_ORDER,
	KD_PUSH,
	KD_CONT_SIZE,
};

/* A stream the caller knows. */
struct strm {
	uint32_t id;
	enum sl_h2f_st st;
	int32_t send_win; /* nghttp2's remote window, bytes */
	int32_t recv_win; /* its local one */
	uint8_t peer_end; /* the client sent END_STREAM */
};

/* What one frame did, on either side. */
struct outcome {
	int conn;	    /* the connection ends */
	uint32_t conn_code; /* with this GOAWAY code */
	int nrst;
	uint32_t rst_sid[8], rst_code[8];
	int known; /* KD_*: a known difference */
};

static struct {
	struct strm s[32];
	int ns;
	uint32_t last_peer;
	int32_t conn_send, conn_recv;
	uint32_t init_win;    /* the client's SETTINGS_INITIAL_WINDOW_SIZE */
	int settings_out;     /* SETTINGS sent, not acknowledged */
	uint32_t goaway_last; /* the client's last GOAWAY's last id */
	int goaway_iws;	      /* this frame set INITIAL_WINDOW_SIZE */
	int goaway_recv;      /* the client sent GOAWAY */
} m;

static uint8_t rbuf[SL_H2F_MAX_FRAME_MIN];
static struct sl_h2f_reader rd;

/* What nghttp2 sent, not parsed yet. */
static uint8_t sent[1 << 16];
static size_t nsent;

static ssize_t
ng_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
	void *user)
{
	(void)s;
	(void)flags;
	(void)user;
	CHECK(nsent + len <= sizeof(sent));
	memcpy(sent + nsent, data, len);
	nsent += len;
	return (ssize_t)len;
}

/* nghttp2's frames since the last call: its GOAWAY and RST_STREAMs. */
static void
ng_outcome(struct outcome *o)
{
	struct sl_h2f_header h;
	size_t off = 0;

	while (off + 9 <= nsent) {
		sl_h2f_header_parse(&h, sent + off);
		CHECK(off + 9 + h.length <= nsent);
		if (h.type == SL_H2F_GOAWAY) {
			CHECK(h.length >= 8);
			o->conn = 1;
			o->conn_code = (uint32_t)sent[off + 13] << 24 |
				       (uint32_t)sent[off + 14] << 16 |
				       (uint32_t)sent[off + 15] << 8 |
				       sent[off + 16];
		} else if (h.type == SL_H2F_RST_STREAM && o->nrst < 8) {
			o->rst_sid[o->nrst] = h.stream_id;
			o->rst_code[o->nrst++] =
			    (uint32_t)sent[off + 9] << 24 |
			    (uint32_t)sent[off + 10] << 16 |
			    (uint32_t)sent[off + 11] << 8 | sent[off + 12];
		}
		off += 9 + h.length;
	}
	CHECK(off == nsent);
	nsent = 0;
}

static struct strm *
find(uint32_t id)
{
	int i;

	for (i = 0; i < m.ns; i++)
		if (m.s[i].id == id)
			return &m.s[i];
	return NULL;
}

/* The stream's record, made for an idle one. */
static struct strm *
get(uint32_t id)
{
	struct strm *s = find(id);

	if (s != NULL)
		return s;
	CHECK(m.ns < 32);
	s = &m.s[m.ns++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->st = sl_h2f_stream_unknown(id, 1, m.last_peer, 0);
	s->send_win = (int32_t)m.init_win;
	s->recv_win = SL_H2F_INITIAL_WINDOW;
	return s;
}

/* Whether a stream is active (nghttp2 reads on while one is, after a
 * GOAWAY). */
static int
any_active(void)
{
	int i;

	for (i = 0; i < m.ns; i++)
		if (m.s[i].st == SL_H2F_ST_OPEN ||
		    m.s[i].st == SL_H2F_ST_HALF_CLOSED_LOCAL ||
		    m.s[i].st == SL_H2F_ST_HALF_CLOSED_REMOTE)
			return 1;
	return 0;
}

static enum sl_h2f_st
state_of(uint32_t id)
{
	struct strm *s = find(id);

	return s != NULL && s->st != SL_H2F_ST_IDLE
		   ? s->st
		   : sl_h2f_stream_unknown(id, 1, m.last_peer, 0);
}

static void
conn_err(struct outcome *o, uint32_t code)
{
	if (!o->conn) {
		o->conn = 1;
		o->conn_code = code;
	}
}

static void
reset(struct outcome *o, struct strm *s, uint32_t code)
{
	CHECK(o->nrst < 8);
	o->rst_sid[o->nrst] = s->id;
	o->rst_code[o->nrst++] = code;
	s->st = sl_h2f_stream_send(s->st, SL_H2F_RST_STREAM, 0);
}

/* The known difference a stream error or ignored frame in state st is,
 * if any (list items 3 to 6). */
static int
known_of(const struct strm *s, enum sl_h2f_st st, int v, unsigned type)
{
	if (v == SL_H2F_STREAM_ERROR && st == SL_H2F_ST_HALF_CLOSED_REMOTE)
		return KD_HALF_CLOSED;
	if (v == SL_H2F_STREAM_ERROR && st == SL_H2F_ST_CLOSED_RESET_RECV)
		return KD_RESET_RECV;
	if (v == SL_H2F_IGNORE && st == SL_H2F_ST_CLOSED_RESET_SENT &&
	    s->peer_end && (type == SL_H2F_DATA || type == SL_H2F_HEADERS))
		return KD_RESET_SENT;
	if (st == SL_H2F_ST_GONE &&
	    (type == SL_H2F_DATA || type == SL_H2F_HEADERS))
		return KD_GONE;
	return KD_NONE;
}

/* Whether a SETTINGS frame f repeats an id nghttp2 knows (1 to 9 but 7). */
static int
settings_dup(const uint8_t *f)
{
	struct sl_h2f_header h;
	uint16_t a, b;
	uint32_t v;
	size_t i, j;

	sl_h2f_header_parse(&h, f);
	if (h.type != SL_H2F_SETTINGS || h.length % 6 != 0)
		return 0;
	for (i = 0; i < h.length / 6; i++) {
		sl_h2f_setting_at(f + 9, i, &a, &v);
		for (j = i + 1; j < h.length / 6; j++) {
			sl_h2f_setting_at(f + 9, j, &b, &v);
			if (a == b && a >= 1 && a <= 9 && a != 7)
				return 1;
		}
	}
	return 0;
}

/* The caller: what sluice's gateway does with one event. */
static void
on_event(struct outcome *o, int rc, const struct sl_h2f_event *ev)
{
	const struct sl_h2f_header *h = &ev->hd;
	struct strm *s;
	enum sl_h2f_st st, next;
	uint32_t code, i, id, v32;
	uint16_t sid16;
	int v;

	if (rc == SL_H2F_EV_CONN_ERROR) {
		/* nghttp2 checks a PRIORITY's length before its id */
		if (h->type == SL_H2F_PRIORITY && h->length != 5)
			o->known = KD_PRIO_LEN;
		if (h->type == SL_H2F_PUSH_PROMISE)
			o->known = KD_PUSH;
		if (h->type == SL_H2F_CONTINUATION &&
		    rd.code == SL_H2F_FRAME_SIZE_ERROR)
			o->known = KD_CONT_SIZE;
		/* DATA's padding: nghttp2 judges its stream first */
		if (h->type == SL_H2F_DATA && h->stream_id != 0 &&
		    h->length <= SL_H2F_MAX_FRAME_MIN &&
		    sl_h2f_stream_recv(state_of(h->stream_id), h->type,
				       h->flags, &next, &code) != SL_H2F_ACCEPT)
			o->known = KD_ORDER;
		conn_err(o, rd.code);
		return;
	}
	if (rc == SL_H2F_EV_STREAM_ERROR) {
		if (h->type == SL_H2F_PRIORITY) {
			o->known = ev->code == SL_H2F_PROTOCOL_ERROR
				       ? KD_SELF_DEP
				       : KD_PRIO_LEN;
			return;
		}
		/* a zero WINDOW_UPDATE: the stream's state decides first */
		CHECK(h->type == SL_H2F_WINDOW_UPDATE);
		s = get(h->stream_id);
		st = state_of(h->stream_id);
		v = sl_h2f_stream_recv(st, h->type, h->flags, &next, &code);
		if (v == SL_H2F_CONN_ERROR)
			conn_err(o, code);
		else if (v == SL_H2F_STREAM_ERROR)
			o->known = known_of(s, st, v, h->type);
		else if (v == SL_H2F_ACCEPT) {
			reset(o, s, ev->code);
			o->known = KD_WU_ZERO;
		}
		return;
	}
	switch (h->type) {
	case SL_H2F_DATA:
		if (!ev->first)
			return;
		if (sl_h2f_window_consume(&m.conn_recv, h->length) != 0) {
			conn_err(o, SL_H2F_FLOW_CONTROL_ERROR);
			return;
		}
		/* fall through */
	case SL_H2F_HEADERS:
	case SL_H2F_RST_STREAM:
		s = get(h->stream_id);
		st = state_of(h->stream_id);
		v = sl_h2f_stream_recv(st, h->type, h->flags, &next, &code);
		if (v == SL_H2F_CONN_ERROR) {
			if (st == SL_H2F_ST_GONE && h->type == SL_H2F_HEADERS)
				o->known = KD_GONE;
			conn_err(o, code);
			return;
		}
		if (h->type == SL_H2F_HEADERS && ev->code != 0) {
			o->known = KD_SELF_DEP;
			return;
		}
		if ((o->known = known_of(s, st, v, h->type)) != KD_NONE)
			return;
		if (v == SL_H2F_STREAM_ERROR) {
			reset(o, s, code);
			return;
		}
		if (v == SL_H2F_IGNORE)
			return;
		if (st == SL_H2F_ST_IDLE && h->type == SL_H2F_HEADERS)
			m.last_peer = h->stream_id;
		s->st = next;
		if (h->flags & SL_H2F_F_END_STREAM &&
		    h->type != SL_H2F_RST_STREAM)
			s->peer_end = 1;
		if (h->type == SL_H2F_DATA &&
		    sl_h2f_window_consume(&s->recv_win, h->length) != 0)
			reset(o, s, SL_H2F_FLOW_CONTROL_ERROR);
		return;
	case SL_H2F_SETTINGS:
		if (h->flags & SL_H2F_F_ACK) {
			if (m.settings_out == 0)
				conn_err(o, SL_H2F_PROTOCOL_ERROR);
			else
				m.settings_out--;
			return;
		}
		for (i = 0; i < ev->len / 6; i++) {
			sl_h2f_setting_at(ev->data, i, &sid16, &v32);
			if (sid16 != SL_H2F_SET_INITIAL_WINDOW_SIZE)
				continue;
			m.goaway_iws = 1;
			/* nghttp2 resizes every stream it holds; what
			 * counts for sluice is an open one's */
			for (v = 0; v < m.ns; v++) {
				s = &m.s[v];
				if (sl_h2f_window_resize(
					&s->send_win, m.init_win, v32) != 0 &&
				    (s->st == SL_H2F_ST_OPEN ||
				     s->st == SL_H2F_ST_HALF_CLOSED_LOCAL ||
				     s->st == SL_H2F_ST_HALF_CLOSED_REMOTE))
					o->known = KD_IWS;
			}
			m.init_win = v32;
		}
		return;
	case SL_H2F_GOAWAY:
		/* the last id names a stream sluice opened: even, or 0 */
		if (ev->value > m.goaway_last || (ev->value & 1))
			conn_err(o, SL_H2F_PROTOCOL_ERROR);
		m.goaway_last = ev->value;
		m.goaway_recv = 1;
		return;
	case SL_H2F_WINDOW_UPDATE:
		if (h->stream_id == 0) {
			if (sl_h2f_window_add(&m.conn_send, ev->value) != 0)
				conn_err(o, SL_H2F_FLOW_CONTROL_ERROR);
			return;
		}
		id = h->stream_id;
		s = get(id);
		st = state_of(id);
		v = sl_h2f_stream_recv(st, h->type, h->flags, &next, &code);
		if (v == SL_H2F_CONN_ERROR)
			conn_err(o, code);
		else if (v == SL_H2F_STREAM_ERROR)
			o->known = known_of(s, st, v, h->type);
		else if (v == SL_H2F_ACCEPT &&
			 sl_h2f_window_add(&s->send_win, ev->value) != 0)
			reset(o, s, SL_H2F_FLOW_CONTROL_ERROR);
		return;
	default: /* PING, CONTINUATION */
		return;
	}
}

/* Reads bytes from the fuzz input. */
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

/* A frame being built. */
static uint8_t fr[SL_H2F_HEADER_LEN + 512];

/* The header block fragments: what is left of the block being sent. */
static size_t block_off;

static size_t
put_block(uint8_t *p, int end_headers, unsigned k)
{
	size_t n = sizeof(req_block) - block_off;

	if (!end_headers && k < n)
		n = k;
	memcpy(p, req_block + block_off, n);
	block_off += n;
	if (end_headers || block_off == sizeof(req_block))
		block_off = 0;
	return n;
}

/* Padding: the pad length byte, then the payload, then the padding (as
 * long as the byte says, or a few bytes, to make it too long). */
static size_t
pad_open(uint8_t *p, uint8_t b, size_t *npad)
{
	p[0] = b & 0x3f;
	*npad = (b & 0x40) ? (b & 0x07) : (b & 0x3f);
	return 1;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Builds the next frame from the input at fr (its length), or 0 with
 * *action set for a server action, or 0 at the end.
 */
static size_t
build(struct in *in, int *action, uint32_t *asid, unsigned *split)
{
	uint8_t op = take(in), flags = take(in), a, b;
	uint32_t sid = sids[take(in) & 15];
	uint8_t *p = fr + SL_H2F_HEADER_LEN;
	size_t n = 0, npad = 0, i;
	unsigned type = op & 15, bad;

	a = take(in);
	b = take(in);
	*split = op >> 4;
	*action = 0;
	bad = (a & 0xc0) == 0xc0; /* a length wrong for the type */
	switch (type) {
	case 0:
	case 15:
		type = SL_H2F_DATA;
		if (flags & SL_H2F_F_PADDED)
			n += pad_open(p, b, &npad);
		memset(p + n, 'd', a & 31);
		n += a & 31;
		break;
	case 1:
	case 14:
		type = SL_H2F_HEADERS;
		if (flags & SL_H2F_F_PADDED)
			n += pad_open(p, b, &npad);
		if (flags & SL_H2F_F_PRIORITY) {
			put32(p + n, sids[a >> 4] | (a & 8 ? 0x80000000u : 0));
			p[n + 4] = b;
			n += 5;
		}
		if (block_off != 0 && (flags & SL_H2F_F_END_HEADERS))
			block_off = 0;
		n += put_block(p + n, flags & SL_H2F_F_END_HEADERS, a & 7);
		break;
	case 2:
		type = SL_H2F_PRIORITY;
		put32(p, sids[a & 15] | (a & 16 ? 0x80000000u : 0));
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
			uint8_t c = take(in);

			p[i] = 0;
			p[i + 1] = c % 10;
			put32(p + i + 2, values[c >> 4]);
		}
		if (bad)
			n = a & 7;
		break;
	case 5:
		type = SL_H2F_PUSH_PROMISE;
		put32(p, 2);
		n = 4 + put_block(p + 4, 1, 0);
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
		n = put_block(p, flags & SL_H2F_F_END_HEADERS, a & 7);
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

/* Feeds bytes to sluice's reader, the caller acting on each event. */
static void
sl_feed(struct outcome *o, const uint8_t *p, size_t n)
{
	struct sl_h2f_event ev;
	size_t used;
	int rc;

	for (;;) {
		rc = sl_h2f_read(&rd, p, n, &used, &ev);
		CHECK(used <= n);
		p += used;
		n -= used;
		if (rc == SL_H2F_EV_NONE) {
			CHECK(n == 0);
			return;
		}
		on_event(o, rc, &ev);
		if (rc == SL_H2F_EV_CONN_ERROR)
			return;
	}
}

/* FUZZ_H2FRAME_TRACE=1: each frame and what both sides made of it. */
static void
trace(const uint8_t *f, const struct outcome *so, const struct outcome *no)
{
	static int on = -1;
	struct sl_h2f_header h;

	if (on < 0)
		on = getenv("FUZZ_H2FRAME_TRACE") != NULL;
	if (!on)
		return;
	sl_h2f_header_parse(&h, f);
	fprintf(stderr,
		"%s len=%u flags=0x%02x sid=%u | sluice conn=%d/%s rst=%d"
		"(%u:%s) known=%d | nghttp2 conn=%d/%s rst=%d(%u:%s)\n",
		sl_h2f_type_str(h.type), h.length, h.flags, h.stream_id,
		so->conn, sl_h2f_err_str(so->conn_code), so->nrst,
		so->rst_sid[0], sl_h2f_err_str(so->rst_code[0]), so->known,
		no->conn, sl_h2f_err_str(no->conn_code), no->nrst,
		no->rst_sid[0], sl_h2f_err_str(no->rst_code[0]));
}

static int
same(const struct outcome *a, const struct outcome *b)
{
	int i;

	if (a->conn != b->conn)
		return 0;
	if (a->conn)
		return a->conn_code == b->conn_code;
	if (a->nrst != b->nrst)
		return 0;
	for (i = 0; i < a->nrst; i++)
		if (a->rst_sid[i] != b->rst_sid[i] ||
		    a->rst_code[i] != b->rst_code[i])
			return 0;
	return 1;
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
	CHECK(nghttp2_option_new(&opt) == 0);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_http_messaging(opt, 1);
	nghttp2_option_set_max_settings(opt, 1 << 20);
	nghttp2_option_set_max_continuations(opt, 1 << 20);
	nghttp2_option_set_stream_reset_rate_limit(opt, 1 << 30, 1 << 30);
	nghttp2_option_set_max_outbound_ack(opt, 1 << 20);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const nghttp2_nv resp[] = {
	    {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
	};
	struct in in = {data, size};
	struct outcome so, no;
	nghttp2_session *ng;
	size_t n, cut;
	unsigned split;
	int action, stop = 0;
	uint32_t asid;
	struct strm *s;

	setup();
	memset(&m, 0, sizeof(m));
	m.conn_send = m.conn_recv = SL_H2F_INITIAL_WINDOW;
	m.init_win = SL_H2F_INITIAL_WINDOW;
	m.goaway_last = SL_H2F_MAX_STREAM_ID;
	m.settings_out = 1;
	block_off = 0;
	nsent = 0;
	CHECK(sl_h2f_reader_init(&rd, 1, rbuf, sizeof(rbuf),
				 SL_H2F_MAX_FRAME_MIN) == 0);
	CHECK(nghttp2_session_server_new2(&ng, cbs, NULL, opt) == 0);
	CHECK(nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, NULL, 0) == 0);
	CHECK(nghttp2_session_send(ng) == 0);
	nsent = 0;

	/* the preface and a first SETTINGS */
	memset(&so, 0, sizeof(so));
	memcpy(fr, SL_H2F_PREFACE, SL_H2F_PREFACE_LEN);
	sl_h2f_write_header(fr + SL_H2F_PREFACE_LEN, 9, 0, SL_H2F_SETTINGS, 0,
			    0);
	sl_feed(&so, fr, SL_H2F_PREFACE_LEN + 9);
	CHECK(nghttp2_session_mem_recv(ng, fr, SL_H2F_PREFACE_LEN + 9) ==
	      SL_H2F_PREFACE_LEN + 9);
	CHECK(nghttp2_session_send(ng) == 0);
	memset(&no, 0, sizeof(no));
	ng_outcome(&no);
	CHECK(!so.conn && !no.conn);

	while (!stop && in.n > 0) {
		/* a GOAWAY with no stream active: nghttp2 reads no more */
		if (m.goaway_recv && !any_active())
			break;
		memset(&so, 0, sizeof(so));
		memset(&no, 0, sizeof(no));
		m.goaway_iws = 0;
		n = build(&in, &action, &asid, &split);
		if (n == 0 && action == 0)
			break;
		if (action != 0) {
			/* the server answers or resets a stream it has */
			s = find(asid);
			if (s == NULL ||
			    (s->st != SL_H2F_ST_OPEN &&
			     s->st != SL_H2F_ST_HALF_CLOSED_REMOTE))
				continue;
			if (action == 11) {
				CHECK(nghttp2_submit_response(ng, asid, resp, 1,
							      NULL) == 0);
				s->st = sl_h2f_stream_send(
				    s->st, SL_H2F_HEADERS, SL_H2F_F_END_STREAM);
			} else {
				CHECK(nghttp2_submit_rst_stream(
					  ng, NGHTTP2_FLAG_NONE, asid,
					  NGHTTP2_CANCEL) == 0);
				s->st = sl_h2f_stream_send(
				    s->st, SL_H2F_RST_STREAM, 0);
			}
			CHECK(nghttp2_session_send(ng) == 0);
			nsent = 0;
			continue;
		}
		cut = split != 0 ? (split * 7u) % n : 0;
		if (cut > 0)
			sl_feed(&so, fr, cut);
		if (!so.conn)
			sl_feed(&so, fr + cut, n - cut);
		CHECK(nghttp2_session_mem_recv(ng, fr, n) == (ssize_t)n);
		CHECK(nghttp2_session_send(ng) == 0);
		ng_outcome(&no);
		trace(fr, &so, &no);
		if (so.known == KD_NONE && m.goaway_iws && !no.conn &&
		    no.nrst > 0 && no.rst_code[0] == SL_H2F_FLOW_CONTROL_ERROR)
			so.known = KD_IWS;
		switch (so.known) {
		case KD_NONE:
			if (!same(&so, &no)) {
				CHECK(settings_dup(fr));
				stop = 1;
			}
			stop |= so.conn;
			break;
		case KD_HALF_CLOSED:
			CHECK(no.conn && no.conn_code == SL_H2F_STREAM_CLOSED);
			stop = 1;
			break;
		case KD_WU_ZERO:
			CHECK(no.conn && no.conn_code == SL_H2F_PROTOCOL_ERROR);
			stop = 1;
			break;
		case KD_SELF_DEP:
			/* nghttp2 checks it for PRIORITY and new streams */
			CHECK(no.conn || fr[3] == SL_H2F_HEADERS);
			stop = 1;
			break;
		case KD_PRIO_LEN:
			CHECK(no.conn);
			stop = 1;
			break;
		default:
			stop = 1;
			break;
		}
	}
	nghttp2_session_del(ng);
	return 0;
}
