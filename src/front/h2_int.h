/* SPDX-License-Identifier: MIT */
/*
 * Private to h2*.c, the client connection's HTTP/2 codec (doc/http2.md):
 * the connection's and the streams' structs and flags, and the functions
 * its files share. h2.c (the session: set-up, the table of handlers of
 * sluice's own connection state, h2conn.h, the reads, the run, the timer,
 * the end, the codec's table) calls h2_stream.c (the streams' life, the
 * handlers of their frames, pumping, their operations), h2_head.c (the
 * translation of heads), h2_out.c (output framing, flow control, the write
 * buffer) and h2_budget.c (the budgets, refusals and deadlines); those
 * never call h2.c: h2_stream.c calls h2_head.c, h2_out.c and h2_budget.c,
 * h2_out.c calls h2_head.c and h2_budget.c, h2_head.c calls h2_budget.c,
 * and h2_budget.c calls none. No other file includes this one but
 * tests/unit/test_h2.c: the rest of sluice sees h2.h.
 */
#ifndef SL_H2_INT_H
#define SL_H2_INT_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "client_codec.h"
#include "h1_parse.h"
#include "h2.h"
#include "h2conn.h"
#include "hblock.h"
#include "log.h"
#include "runtime.h"

/* The budget of frames that carry no request (section 5): a burst, then
 * so many a second; a stream that finishes gives back two (a PRIORITY
 * and an RST_STREAM of its own). */
#define CALM_BURST 400
#define CALM_RATE  200
/* Flow control is not a flood: each DATA frame sluice sends pays for the
 * frames a careful client sends back for it, a WINDOW_UPDATE on the
 * stream and one on the connection, and a PING (gRPC's bandwidth probe),
 * before the calm budget is touched; FLOW_MAX bounds what a client can
 * bank by downloading (3 for every frame of many MiB in flight). */
#define FLOW_PER_DATA 3
#define FLOW_MAX      16384

/* ---- states -------------------------------------------------------------*/

/* A stream's place in its life. */
enum h2s_state {
	H2S_HEAD,  /* its header block is being read; no exchange */
	H2S_READY, /* the head is whole; its exchange starts once the read
		      that completed it is processed (a stream reset in the
		      same read never reaches an upstream) */
	H2S_BUSY,  /* s.txn != NULL: its exchange runs */
	H2S_DONE,  /* the exchange is over (s.txn == NULL): the end of the
		      response and the stream's close follow */
	H2S_CLOSED /* closed: freed at the end of the run */
};

/* The response body as the exchange hands it over (never chunked: the
 * exchange takes that framing off for a codec of fields). */
enum h2s_body {
	H2B_NONE,     /* none (HEAD, 204, 304, Content-Length: 0) */
	H2B_LENGTH,   /* Content-Length: resp_left bytes */
	H2B_UNTIL_END /* pieces: until the exchange's end */
};

/* A stream's facts (st->f). */
#define S_AUTHORITY 0x0001 /* :authority came: a Host must match it */
#define S_CL	    0x0002 /* the request has a Content-Length */
#define S_PIECES    0x0004 /* its body, of no length, goes as pieces */
#define S_IN_END    0x0008 /* END_STREAM received: the request is whole */
#define S_HEAD_OUT  0x0010 /* the final response head was submitted */
#define S_MALFORMED                                                            \
	0x0020		    /* the request broke RFC 9113 section 8:           \
				a stream PROTOCOL_ERROR */
#define S_DIRTY	     0x0040 /* in h->dirty */
#define S_TOO_LARGE  0x0080 /* header list over the limit: a 431 */
#define S_BAD_HOST   0x0100 /* Host differs from :authority */
#define S_RESET	     0x0200 /* sluice reset it (RST_STREAM submitted) */
#define S_WANT_WRITE 0x0400 /* the exchange waits for room (pacing) */
#define S_REQLINE    0x0800 /* the request line is written */
#define S_MISDIRECT                                                            \
	0x1000		  /* an authority the certificate does not             \
			     cover: a 421 */
#define S_HEAD_REQ 0x2000 /* a HEAD request: no response body */
#define S_CONNECT  0x4000 /* a CONNECT request */
#define S_RST_AFTER                                                            \
	0x8000		     /* answered before the request was read           \
				whole: RST_STREAM(NO_ERROR) once the           \
				response's end is sent and DISCARD_MAX         \
				more bytes came (h2_rst_after) */
#define S_CLIENT_RST 0x10000 /* the client reset it */
#define S_DISCARD    0x20000 /* its request body is no longer wanted */
#define S_XCONNECT                                                             \
	0x200000 /* extended CONNECT for WebSocket (RFC                        \
			  8441): a tunnel on the stream */
#define S_NG_CLOSED                                                            \
	0x100000	   /* the protocol closed it (h2conn forgot it):       \
			      only the exchange's end is awaited */
#define S_OUT_END 0x400000 /* the response's END_STREAM is sent */
#define S_TRAILER_IN                                                           \
	0x800000 /* the header block being read is the request's               \
		    trailer section */

struct sl_h2conn;

/* The bytes of a response's trailers block a stream keeps in itself: a
 * malloc and a free a gRPC call (about 420 instructions) less. */
#define H2_TRL_INLINE 96

/* One stream. Owned by its connection (h->streams); its struct goes back
 * to the worker's list (w->h2) at the end of the run that closed it,
 * so that no caller holding it sees it freed. */
struct sl_h2stream {
	struct sl_seam s;	 /* what its exchange sees (first member) */
	struct sl_h2c_stream hs; /* what the connection's state keeps */
	struct sl_h2conn *h;
	TAILQ_ENTRY(sl_h2stream) link; /* in h->streams */
	struct sl_h2stream *next;      /* in h->dirty or h->reap */
	int32_t id;
	uint8_t state;	     /* enum h2s_state */
	uint8_t body;	     /* enum h2s_body */
	uint32_t f;	     /* S_* */
	uint32_t hdr_list;   /* header list bytes so far (RFC 9113 section
				6.5.2: name, value and 32 a field) */
	uint32_t head_len;   /* the request head's bytes at in's start */
	uint32_t unconsumed; /* DATA bytes not yet given back to the
				windows */
	uint32_t taken;	     /* in.off + held at the last give-back */
	uint32_t discarded;  /* body bytes dropped after the answer */
	uint64_t start_ms;   /* its HEADERS began */
	uint64_t resp_left;  /* H2B_LENGTH: body bytes still to frame */
	uint64_t req_cl;     /* S_CL: the request's Content-Length */
	uint64_t req_in;     /* the request's DATA bytes so far */
	char *rtrl; /* the request's trailers, a field block (S_PIECES) */
	/* ... or its trailers as a field block, after a body of pieces
	 * (h2_op_trailers): in trl_inline when it fits (gRPC's grpc-status
	 * and grpc-message: 40 to 80 bytes), else malloc'd to its size */
	char *trl_block;
	char trl_inline[H2_TRL_INLINE];
};

TAILQ_HEAD(sl_h2stream_q, sl_h2stream);

/* The connection's codec state (c->h2). */
#define C2_RUNNING  0x0001 /* h2_run is on the stack */
#define C2_AGAIN    0x0002 /* something changed during the run */
#define C2_READABLE 0x0004 /* the read event fired */
#define C2_WBLOCKED 0x0008 /* the transport took no more: write event */
#define C2_PREFACE  0x0010 /* the client's preface and SETTINGS came */
#define C2_GOAWAY1  0x0020 /* the drain's first GOAWAY went */
#define C2_GOAWAY2  0x0040 /* the last GOAWAY went: no new stream */
#define C2_SHUTDOWN 0x0080 /* ending: close once the streams are done */
#define C2_RUN_EV   0x0100 /* on the worker's run queue */
#define C2_WEV	    0x0200 /* wev is watched (h2.c arms it for a block) */
#define C2_W_READ   0x0400 /* TLS: the blocked write waits for a read */
#define C2_RFULL    0x0800 /* the last read filled the read buffer */
#define C2_EOF                                                                 \
	0x2000 /* the client shut its write side: nothing                      \
		   more is read; open streams finish */
#define C2_CLOSING                                                             \
	0x4000 /* dead, its streams gone: the last frames                      \
		   still go out (h2_end), under send_timeout */
#define C2_BOMB                                                                \
	0x8000		       /* a header block past twice the list limit:    \
				   the read fails, a GOAWAY */
#define C2_PEER_GOAWAY 0x10000 /* the client's GOAWAY came */

struct sl_h2conn {
	struct sl_client *c;  /* borrowed: the connection */
	struct sl_h2c h2c;    /* the protocol's state (h2conn.h) */
	struct sl_buf gather; /* a frame split across reads, while one is
				 (the worker's is lent otherwise) */
	struct event *wev;    /* writability, while C2_WBLOCKED: made at
				 the first block (most connections never
				 block, and an idle one pays for no event
				 it does not use) */
	/* on the worker's run queue, with C2_RUN_EV */
	TAILQ_ENTRY(sl_h2conn) run_entry;
	/* the connection's nearest deadline but the idle one, made when
	 * one is armed and freed when it fires; the idle deadline is the
	 * client's place in the worker's lists (c->tnode, a FIFO per
	 * duration): an idle connection keeps no event for it */
	struct event *tev;
	struct sl_buf rbuf, wbuf;
	uint32_t rbuf_cap;	      /* the read buffer's size at the last
					 read (its growth) */
	struct sl_h2stream_q streams; /* every stream not freed */
	struct sl_h2stream *dirty;    /* streams to pump */
	struct sl_h2stream *reap;     /* closed, to free at the run's end */
	unsigned nopen;		      /* streams in HEAD to DONE */
	unsigned nwant;		      /* streams with S_WANT_WRITE */
	uint32_t f;		      /* C2_* */
	const char *dead;	      /* close at the end of the run, for
					 this reason (static) */
	int dead_abort;		      /* ... with a reset, nothing flushed */
	int dead_now;		      /* ... once the GOAWAY is written, not
					 reading the rest (an error) */
	uint64_t armed_ms;	      /* tev's deadline, 0 = none */
	uint64_t start_ms;	      /* HTTP/2 began: the preface's clock */
	uint64_t idle_ms;	      /* no stream open since */
	uint64_t wblock_ms;	      /* the transport stopped taking bytes */
	uint64_t zwin_ms;	      /* the connection's window shut with
					 bytes to send, 0 = not */
	uint64_t goaway_ms;	      /* the first GOAWAY went */
	uint64_t closing_ms;	      /* C2_CLOSING since */
	/* the header block being read (one at a time on a connection) */
	struct sl_h2stream *hs;
	uint64_t hdr_block_ms; /* it began: header_timeout */
	struct sl_buf scratch; /* its pseudo-header values, cookie crumbs */
	uint32_t m_off, m_len, p_off, p_len, a_off, a_len, ck_off, ck_len;
	uint32_t pr_off, pr_len; /* :protocol (RFC 8441) */
	/* its head block at the start of the stream's `in`: the records so
	 * far, and its size as HTTP/1.1 text (what max_header_bytes
	 * counts). Here, not in the worker: a block's HEADERS opens its
	 * stream, its fields come when its last CONTINUATION is read, and a
	 * block of another connection on the worker may be read between */
	uint32_t nrec;
	uint32_t text_len;
	uint8_t pseudo;	       /* the pseudo-fields seen (PS_*) */
	uint8_t connect_proto; /* extended CONNECT was offered */
	const char *bad;       /* why the block's request is malformed */
	uint8_t ncont;	       /* CONTINUATIONs of the block being read */
	/* the budgets of section 5 */
	int64_t calm;	     /* frames that carry no request left */
	int32_t flow;	     /* WINDOW_UPDATEs and PINGs paid for by the
				DATA frames sent (FLOW_PER_DATA) */
	uint64_t calm_ms;    /* last refill */
	uint32_t resets;     /* streams reset early, less finished ones */
	uint32_t nstreams;   /* streams begun */
	uint32_t win_stream; /* the windows sluice gives: per stream */
	uint32_t win_conn;   /* ... and the connection's */
};

/* The pseudo-fields of a request head (h->pseudo). */
#define PS_METHOD    0x01
#define PS_SCHEME    0x02
#define PS_PATH	     0x04
#define PS_AUTHORITY 0x08
#define PS_PROTOCOL  0x10
#define PS_HOST	     0x20 /* not a pseudo-field: a Host came */
#define PS_HTTP	     0x40 /* :scheme is http or https */

/* What a worker keeps for its HTTP/2 connections (w->h2), made at the
 * first one. */
struct h2_worker {
	struct sl_h2stream *free; /* streams kept for reuse */
	unsigned nfree;
	/* runs deferred to the loop (h2_kick): the connections in the
	 * order they asked, one event for all of them, active while the
	 * queue is not empty */
	TAILQ_HEAD(, sl_h2conn) runq;
	struct event run_ev;
	/* lent to the connection being read: a frame's payload split across
	 * reads (copied to the connection's own buffer when one is left
	 * split), HPACK's Huffman strings (RFC 7541) */
	uint8_t *gather;
	char *scratch;
	size_t scratch_len;
	/* a header block being written, and a field name lower-cased */
	uint8_t *enc;
	size_t enc_cap;
	char lname[256];
	struct sl_hpack_memo names; /* the response names it encoded */
	/* refusals said at info: REFUSAL_LINES a second, the rest counted */
	uint64_t ref_sec;
	unsigned ref_lines;
	unsigned long long ref_quiet;
};

#define XPRT(c)	       sl_client_xprt(c)
#define STREAM_OF(st_) ((struct sl_h2stream *)(st_))
/* The stream of a connection state's stream (its member hs). */
#define STREAM_OF_HS(hs_)                                                      \
	((struct sl_h2stream *)(void *)((char *)(hs_)-offsetof(                \
	    struct sl_h2stream, hs)))

/* The worker's HTTP/2 state, made at its first use (NULL: no memory). */
/* (its run event is assigned by sl_h2_start, h2.c: the files below h2.c
 * call nothing in it, doc/design-notes.md "Layers") */
static inline struct h2_worker *
h2w(struct sl_worker *w)
{
	struct h2_worker *hw;

	if (w->h2 == NULL && (hw = calloc(1, sizeof(*hw))) != NULL) {
		TAILQ_INIT(&hw->runq);
		w->h2 = hw;
	}
	return w->h2;
}

/* The idle deadline from h->idle_ms (no stream open since), in the
 * worker's lists; h2_idle_off takes it out (a stream opened). */
void h2_idle_on(struct sl_h2conn *h);
void h2_idle_off(struct sl_h2conn *h);

/* Puts st on the list of streams to pump in this run (h2_stream.c's
 * h2_pump). Inline here: h2_out.c marks a stream whose DATA went out, and
 * h2.c one whose window grew, without a call into h2_stream.c. */
static inline void
h2_stream_dirty(struct sl_h2stream *st)
{
	struct sl_h2conn *h = st->h;

	if (st->f & S_DIRTY || st->state == H2S_CLOSED)
		return;
	st->f |= S_DIRTY;
	st->next = h->dirty;
	h->dirty = st;
	h->f |= C2_AGAIN;
}

/* A stream's state's name, for the debug log. */
static inline const char *
h2_state_str(unsigned st)
{
	static const char *const n[] = {"head", "ready", "busy", "done",
					"closed"};
	return st < SL_NELEM(n) ? n[st] : "?";
}

/* The only writer of a stream's state. Inline here: h2_head.c ends a
 * stream whose trailers do not fit. */
static inline void
h2_stream_set_state(struct sl_h2stream *st, enum h2s_state to)
{
	if (sl_log_enabled(SL_LOG_DEBUG))
		log_debug("conn=%llu stream=%d state %s -> %s",
			  (unsigned long long)st->s.id, (int)st->id,
			  h2_state_str(st->state), h2_state_str(to));
	st->state = (uint8_t)to;
}

/* Resets the stream (a stream error, or sluice ends it). Inline here: the
 * stream's life is h2_stream.c's, and h2_out.c resets a stream whose request is
 * not wanted (h2_rst_after). */
static inline void
h2_stream_reset(struct sl_h2stream *st, uint32_t code)
{
	struct sl_h2conn *h = st->h;

	if (st->f & (S_RESET | S_CLIENT_RST) || st->state == H2S_CLOSED)
		return;
	st->f |= S_RESET | S_DISCARD;
	if (!(st->f & S_NG_CLOSED) &&
	    sl_h2c_stream(&h->h2c, (uint32_t)st->id) == &st->hs)
		(void)sl_h2c_reset(&h->h2c, &st->hs, code);
	/* the stream's close comes at its next pump */
	st->f |= S_NG_CLOSED;
	h2_stream_dirty(st);
	h->f |= C2_AGAIN;
}

/* ---- h2_stream.c: the streams ------------------------------------------ */

/* The connection state's handlers for the streams (h2conn.h, struct
 * sl_h2c_ops): a stream opened (its struct, or NULL: refused), a header
 * block's end (a request's head or its trailers), DATA, a reset. */
struct sl_h2c_stream *h2_on_stream_open(void *arg, uint32_t uid);
void h2_on_headers(void *arg, struct sl_h2c_stream *hs, int rc, int end);
void h2_on_data(void *arg, struct sl_h2c_stream *hs, const uint8_t *data,
		size_t len, int end);
void h2_on_reset(void *arg, struct sl_h2c_stream *hs, uint32_t code, int sent);
/* The stream leaves its connection (reason static): its exchange, if still
 * running, is logged as cut by reason and freed; the struct waits on
 * h->reap, which h2_reap frees (the end of a run). */
void h2_stream_close(struct sl_h2stream *st, const char *reason);
void h2_reap(struct sl_h2conn *h);
/* A run's work on the streams: the dirty ones pumped (exchanges started,
 * fed, closed when over), then those waiting for room told of it. */
void h2_pump(struct sl_h2conn *h);
void h2_writable(struct sl_h2conn *h);
/* A run from the worker's run queue (h2.c serves it), or C2_AGAIN for
 * the one on the stack. */
void h2_kick(struct sl_h2conn *h);
/* The first step of a graceful end: a PING and a GOAWAY with the largest
 * id (the last one follows from h2.c's run or timer). */
void h2_goaway_begin(struct sl_h2conn *h);

/* ---- h2_budget.c: the budgets, the refusals, the deadlines ------------- */

/* Counts a refusal and logs it (at a bounded rate); id 0: the
 * connection's. */
void h2_refused(struct sl_h2conn *h, enum sl_h2_refusal r, int32_t id,
		const char *what);
/* Ends the connection with a GOAWAY of code, then the close once it is
 * written (h->dead, for the run's end). */
void h2_fail(struct sl_h2conn *h, uint32_t code, const char *reason);
/* The connection's state failed what the client sent (sl_h2c_input
 * returned -1, its GOAWAY written, no failure noted yet): the refusal it
 * is. */
void h2_conn_failed(struct sl_h2conn *h);
/* The calm budget: n tokens for frames that carry no request (past it,
 * h2_fail); the handler every frame is shown to first, which charges it
 * (non-zero: the connection fails); a stream the client reset before its
 * answer (rapid reset). */
void h2_calm_spend(struct sl_h2conn *h, enum sl_h2_refusal why, int64_t n);
int h2_on_frame(void *arg, const struct sl_h2f_header *hd);
void h2_rapid_reset(struct sl_h2conn *h, int32_t id);
/* A stream that finished gives back n tokens. */
static inline void
h2_calm_earn(struct sl_h2conn *h, int64_t n)
{
	h->calm = SL_MIN(h->calm + n, (int64_t)CALM_BURST);
}
/* The connection's timer, armed for its nearest deadline; what the one
 * due at now means for the caller (H2_DL_*). */
uint64_t h2_next_deadline(const struct sl_h2conn *h);
enum { H2_DL_NONE, H2_DL_GOAWAY };
int h2_deadline(struct sl_h2conn *h, uint64_t now);

/* ---- h2_head.c: the translation of heads ------------------------------- */

/* The connection state's field handler: the request's fields into the
 * stream's `in` (the header block being read is the connection's:
 * h->scratch, h->m_off...), checked against RFC 9113 section 8, its
 * trailers into the chunked body's trailer section. Non-zero refuses the
 * rest of the block. The functions below return 0, or -1 when out of
 * memory or past the stream's cap. */
int h2_on_field(void *arg, struct sl_h2c_stream *hs, const char *name,
		size_t nlen, const char *value, size_t vlen, unsigned flags);
/* The head's pseudo-fields are what RFC 9113 section 8.3.1 asks (the
 * block is whole): 0, or -1 with *why. */
int h2_head_check(struct sl_h2stream *st, const char **why);
/* END_HEADERS: the head's end and the notes op_head reads. */
int h2_head_end(struct sl_h2stream *st, int end_stream);
/* The request body: DATA into `in` as it came (pieces when it has no
 * length: no framing is added). */
int h2_body_put(struct sl_h2stream *st, const uint8_t *data, size_t len);
/* The stream operation req_trailers (seam.h): a body of pieces'
 * trailers, a field block. */
const char *h2_op_req_trailers(struct sl_seam *s);
/* The stream operation head (seam.h): the head h2_head_end left. */
int h2_op_head(struct sl_seam *s, struct sl_h1_request *req,
	       const struct sl_h1_limits *lim, size_t *text_len);
/* A response head block (hblock.h) HPACK-encoded with its :status
 * (into the worker's hw->enc: valid until the next call). Returns its
 * bytes, or -1 (no memory). */
long h2_resp_head_enc(struct sl_h2stream *st, const char *block,
		      const struct sl_hblk *b);
/* The same at out, which has room for h2_resp_head_max(b) bytes (the
 * write buffer, behind its frame's header): the block's bytes. */
size_t h2_resp_head_max(const struct sl_hblk *b);
size_t h2_resp_head_enc_at(struct sl_h2stream *st, uint8_t *out,
			   const char *block, const struct sl_hblk *b);

/* ---- h2_out.c: output framing, the write buffer, flow control ---------- */

/* The response heads at the front of the exchange's output as HEADERS;
 * 0, or -1 with *why (static) when the stream must be closed and reset. */
int h2_resp_heads(struct sl_h2stream *st, const char **why);
/* The connection state's output handler: room for n bytes at the write
 * buffer's end (NULL: no memory). */
uint8_t *h2_out_room(void *arg, size_t n);
/* Frames the streams' responses (DATA, trailers) into the write buffer,
 * and writes it when it is full or flush is set (the run at the end of
 * the loop's turn); writes what the write buffer holds (-1: the
 * connection failed, h->dead set). */
void h2_output(struct sl_h2conn *h, int flush);
void h2_out_frame_now(struct sl_h2stream *st);
int h2_wbuf_flush(struct sl_h2conn *h);
/* The response's END_STREAM went (h2_out.c, h2.c's head without body). */
void h2_out_ended(struct sl_h2stream *st);
/* Flow control: the windows given back for the bytes the exchange took;
 * a stream held by a window (send_timeout runs); the stream operation
 * send_room (seam.h). */
void h2_stream_give_back(struct sl_h2stream *st);
size_t h2_op_send_room(struct sl_seam *s);
/* The stream operation trailers (seam.h). */
int h2_op_trailers(struct sl_seam *s, const char *block);
/* What the stream and the connection's windows let it send now. */
int32_t h2_send_window(const struct sl_h2stream *st);
/* A stream answered before its request was whole drops n more bytes of
 * it (RST_STREAM past DISCARD_MAX). */
void h2_rst_after(struct sl_h2stream *st, size_t n);

#endif
