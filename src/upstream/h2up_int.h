/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 to upstreams, inside: what h2up.c (the shared connections and
 * the streams' ends), h2up_head.c (the translation of heads between
 * the exchange's end and HPACK) and h2up_submit.c (a request's HEADERS on
 * a new stream) share. Private to those three files and
 * tests/unit/test_h2up.c.
 */
#ifndef SL_H2UP_INT_H
#define SL_H2UP_INT_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "h1_parse.h"
#include "h2conn.h"
#include "upstream.h"
#include "xprt.h"

#define UP_STREAM_WINDOW (256 * 1024)
#define UP_CONN_WINDOW	 (16 * 1024 * 1024)
/* request bytes held before the exchange's write waits: twice this */
#define UP_BODY_MAX	 (64 * 1024)
#define UP_HEAD_MAX	 (64 * 1024) /* a request head from the exchange */
#define UP_RESP_HEAD_MAX (64 * 1024) /* a response's fields (SETTINGS) */
#define UP_READ		 16384
#define UP_FRAME	 16384 /* SETTINGS_MAX_FRAME_SIZE announced */

/* A growable byte queue: [off, len) of p. */
struct dbuf {
	char *p;
	size_t off, len, cap;
};

static inline size_t
dbuf_n(const struct dbuf *b)
{
	return b->len - b->off;
}

/* Room for n more bytes at b's end, taken at once (the caller fills
 * them), or NULL (no memory). */
static inline uint8_t *
dbuf_room(struct dbuf *b, size_t n)
{
	uint8_t *p;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 512;
		char *q;
		while (cap < b->len + n)
			cap *= 2;
		if ((q = realloc(b->p, cap)) == NULL)
			return NULL;
		b->p = q;
		b->cap = cap;
	}
	p = (uint8_t *)b->p + b->len;
	b->len += n;
	return p;
}

static inline int
dbuf_put(struct dbuf *b, const void *p, size_t n)
{
	uint8_t *q;

	if (n == 0)
		return 0;
	if ((q = dbuf_room(b, n)) == NULL)
		return -1;
	memcpy(q, p, n);
	return 0;
}

static inline int
dbuf_str(struct dbuf *b, const char *s)
{
	return dbuf_put(b, s, strlen(s));
}

/* Appends what src holds to dst. */
static inline int
dbuf_cat(struct dbuf *dst, const struct dbuf *src)
{
	return dbuf_n(src) == 0 ? 0
				: dbuf_put(dst, src->p + src->off, dbuf_n(src));
}

static inline void
dbuf_free(struct dbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Stream flags. */
#define S_HELD	  0x0001 /* its connect waits for the SETTINGS */
#define S_HEAD_IN 0x0002 /* the request's head is submitted */
/* 0x0004: free (was a chunked request body, unframed here until session
 * 54) */
#define S_REQ_END   0x0008 /* the request's body is all in body */
#define S_REQ_SENT  0x0010 /* the request's END_STREAM went */
#define S_RESP_HEAD 0x0020 /* the final response head is in resp */
#define S_RESP_END  0x0080 /* the response is all in resp */
#define S_NG_CLOSED                                                            \
	0x0100		    /* the protocol closed the stream (or it never     \
			       had one) */
#define S_END_CLOSED 0x0200 /* the exchange closed its connection */
#define S_NOBODY     0x0400 /* HEAD: no response body */
#define S_GRPC	     0x0800 /* content-type application/grpc* */
#define S_TRAILERS   0x1000 /* the response's trailers are coming */
#define S_BAD	     0x2000 /* the response broke RFC 9113 section 8 */
/* the exchange reads a reset, after the bytes it was given */
#define S_FAILED 0x4000
/* ... and the server never processed the request (class 1, RFC 9113
 * section 8.7) */
#define S_UNPROC 0x8000
/* the exchange shut its side: it reads an end after the bytes it was
 * given */
#define S_EOF 0x10000
/* the request's trailers, HPACK-encoded in req, go as its last HEADERS
 * (a body of pieces that ended with trailers) */
#define S_REQ_TRL 0x40000

struct sl_h2up_conn;

struct h2up_stream {
	struct sl_h2c_stream hs;       /* what the connection's state keeps */
	TAILQ_ENTRY(h2up_stream) link; /* in c->streams */
	struct sl_h2up_conn *c;
	/* the exchange's events while it watches them (the transport's
	 * watch): activated when what they wait for is here, as epoll's
	 * level-triggered readiness would */
	struct event *xrev, *xwev;
	int32_t id; /* 0: not submitted */
	unsigned f; /* S_* */
	int status;
	int err;	   /* a held connect refused: what it failed with */
	uint8_t note;	   /* the response's grpc-status plus one (0: none) */
	uint64_t req_left; /* Content-Length's bytes still to come */
	struct dbuf req;   /* bytes from the exchange not parsed yet; with
			      S_REQ_TRL, the trailers' HPACK block */
	struct dbuf body;  /* the request's payload for DATA */
	struct dbuf resp;  /* the response for the exchange to read: its
			      head block, then its body */
	struct dbuf hdr;   /* the response's fields, or its trailers (a
			      field block: its header, then records) */
	size_t unconsumed; /* DATA payload in resp, window not given back
			      (given as the exchange reads) */
	int has_cl;	   /* the response has a Content-Length */
	uint64_t resp_cl;  /* its value */
	uint64_t resp_in;  /* the response's DATA bytes so far */
	const char *bad;   /* S_BAD: the rule, for the log */
	uint16_t nrec;	   /* records of the response's head in hdr */
};

struct sl_h2up_conn {
	TAILQ_ENTRY(sl_h2up_conn) link; /* in ep->h2 */
	struct sl_wendpoint *ep;	/* borrowed: u holds a reference */
	struct sl_upconn *u;		/* the connection underneath */
	struct sl_h2c h2c;		/* the protocol's state (h2conn.h) */
	uint8_t *gather;		/* a frame split across reads */
	TAILQ_HEAD(, h2up_stream) streams;
	uint32_t nstreams; /* streams attached */
	uint64_t nsent;	   /* streams submitted, all told */
	uint32_t max_streams;
	int connected;	  /* u connected: the preface may go */
	int ready;	  /* the server's SETTINGS came */
	int dead;	  /* takes no new stream (GOAWAY, drain, retired) */
	int busy;	  /* in conn_pump or a read: no free */
	int gone;	  /* to be freed when busy drops */
	int err;	  /* why it failed before its SETTINGS: what the streams
			     waiting for it fail with (SL_UP_ERR_TLS: the TLS
			     handshake) */
	struct dbuf wbuf; /* frames not written yet */
	struct event run; /* deferred: frame and write what waits */
	struct event idle; /* no stream for the pool's idle_timeout */
	struct event ping; /* liveness: the cluster's ping_interval */
	uint64_t heard_ms; /* when the server last sent anything */
	int ping_out;	   /* a PING waits for its answer */
};

/* The stream of a connection state's stream (its member hs). */
#define H2UP_STREAM_OF(hs_) ((struct h2up_stream *)(void *)(hs_))

/* The most the write buffer holds (on_out): a server that floods PINGs
 * and never reads fails its connection. */
#define WBUF_CAP (8u * 1024 * 1024)

/* An info line about connection c: what happened, and a detail or NULL. */
void h2up_log_conn(const struct sl_h2up_conn *c, const char *what,
		   const char *detail);

/* ---- h2up_submit.c: a request's HEADERS --------------------------------- */

/*
 * Sends the request head the exchange wrote (hl bytes at p) as HEADERS on
 * a new stream of st's connection, END_STREAM when no body follows.
 * Returns 0, or -1: the stream failed (nothing of it left in the write
 * buffer).
 */
int h2up_submit(struct h2up_stream *st, char *p, size_t hl);

/* ---- h2up_head.c: the translation of heads ------------------------------ */

/*
 * The request head the exchange wrote, at p: a head block (hblock.h) when
 * its first byte is SL_HBLK_MARK, else hl bytes of HTTP/1.1 text (a
 * split's or a mirror's). HPACK-encoded (no table) into blk: :method,
 * :scheme (https when tls), :path, :authority from Host (none without
 * one), the fields but the connection's, te: trailers for gRPC. Sets st's
 * S_NOBODY and S_GRPC and req_left (UINT64_MAX: a body of pieces, to the
 * exchange's end mark; a head of text says so by Transfer-Encoding), and *body
 * when DATA follows. Returns 0, or -1: the stream fails.
 */
int h2up_head_request(struct h2up_stream *st, char *p, size_t hl, int tls,
		      struct dbuf *blk, int *body);

/* A request's trailers (a field block, hblock.h) HPACK-encoded at blk's
 * end, the connection's fields left out. Returns 0, or -1 (no memory). */
int h2up_head_trailers(const char *block, struct dbuf *blk);

/* The connection state's field handler: a response field, checked (RFC
 * 9113 section 8), into the head's block or the trailers' section.
 * Non-zero refuses the rest of the block (S_BAD, or no memory). */
int h2up_on_field(void *arg, struct sl_h2c_stream *hs, const char *name,
		  size_t nlen, const char *value, size_t vlen, unsigned flags);

/* A response's HEADERS ended: the final head as a head block into resp
 * (an interim one dropped), or, after it, the trailers and the end.
 * Returns 0, or -1 (no memory, or a head without :status: S_BAD). */
int h2up_resp_headers(struct h2up_stream *st, int end_stream);

/* The response ended: the chunked body's last chunk and trailer section.
 * Returns 0, or -1 (no memory). */
int h2up_resp_end(struct h2up_stream *st);

#endif
